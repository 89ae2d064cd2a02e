/* Strings and buffers: portable C (the guest agent's Windows build uses this file);
 * reading files is POSIX, in core/base/util_fs.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"

int nr_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *nr_path_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb;
	char *p;

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	lb = strlen(b);
	p = malloc(la + 1 + lb + 1);
	if (!p)
		return NULL;
	memcpy(p, a, la);
	if (lb) {
		if (!(la == 1 && a[0] == '/'))
			p[la++] = '/';
		memcpy(p + la, b, lb);
	}
	p[la + lb] = '\0';
	return p;
}

void nr_buf_init(struct nr_buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->oom = false;
}

void nr_buf_done(struct nr_buf *b)
{
	free(b->data);
	nr_buf_init(b);
}

bool nr_buf_reserve(struct nr_buf *b, size_t extra)
{
	size_t want = b->len + extra + 1, cap;
	char *p;

	if (b->oom)
		return false;
	if (want <= b->cap)
		return true;
	cap = b->cap ? b->cap : 64;
	while (cap < want)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void nr_buf_append(struct nr_buf *b, const char *s, size_t n)
{
	if (!nr_buf_reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void nr_buf_puts(struct nr_buf *b, const char *s)
{
	nr_buf_append(b, s, strlen(s));
}

void nr_buf_vprintf(struct nr_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	if (b->oom)
		return;
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || !nr_buf_reserve(b, (size_t)n))
		return;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void nr_buf_printf(struct nr_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	nr_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

char *nr_buf_steal(struct nr_buf *b)
{
	char *s;

	if (b->oom) {
		nr_buf_done(b);
		return NULL;
	}
	if (!b->data)
		return strdup("");
	s = b->data;
	nr_buf_init(b);
	return s;
}

/* Length of a valid UTF-8 sequence starting at s (1..4), or 0 if invalid;
 * *control is set for a C1 control character (U+0080..U+009F). */
static size_t utf8_seq(const unsigned char *s, bool *control)
{
	size_t n, i;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	/* C1 controls (U+0080..U+009F) are as dangerous as C0 ones on a terminal. */
	*control = cp >= 0x80 && cp <= 0x9f;
	return n;
}

void nr_text_sanitize(char *out, size_t size, const char *in, bool ascii_only)
{
	const unsigned char *s = (const unsigned char *)(in ? in : "");
	size_t o = 0, n;

	if (size == 0)
		return;
	while (*s && o + 1 < size) {
		bool control = false;

		n = utf8_seq(s, &control);
		if (n == 1) {
			out[o++] = (*s < 0x20 || *s == 0x7f) ? '?' : (char)*s;
			s++;
		} else if (n == 0 || ascii_only || control) {
			out[o++] = '?';
			s += n ? n : 1;
		} else {
			if (o + n >= size)
				break;
			memcpy(out + o, s, n);
			o += n;
			s += n;
		}
	}
	out[o] = '\0';
}

void nr_strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void nr_strv_free_null(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

int nr_strv_take(char ***v, size_t *n, char *s)
{
	char **nv = s ? realloc(*v, (*n + 2) * sizeof(*nv)) : NULL;

	if (nv)
		*v = nv;
	if (!nv) {
		free(s);
		return -NR_E_NOMEM;
	}
	nv[(*n)++] = s;
	nv[*n] = NULL;
	return 0;
}

int nr_strv_add(char ***v, size_t *n, const char *s)
{
	return nr_strv_take(v, n, strdup(s));
}

int nr_strv_add_unique(char ***v, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0)
			return 0;
	return nr_strv_add(v, n, s);
}
