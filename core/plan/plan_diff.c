/* Unified diffs between two texts, line by line (LCS), 3 lines of context. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "neuron/plan.h"
#include "neuron/util.h"

#define CONTEXT 3
/* Above this many cells the LCS table is not built: the diff becomes one hunk
 * that removes every old line and adds every new one (still a correct diff). */
#define MAX_CELLS (4u * 1024 * 1024)

struct line {
	const char *s;
	size_t len;             /* without the newline */
	bool nl;                /* ends with a newline */
};

static struct line *split_lines(const char *t, size_t len, size_t *n_out)
{
	size_t n = 0, cap = 16, i = 0;
	struct line *v = malloc(cap * sizeof(*v));

	if (!v)
		return NULL;
	while (t && i < len) {
		const char *nl = memchr(t + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - t) : len;

		if (n == cap) {
			struct line *nv = realloc(v, (cap *= 2) * sizeof(*v));
			if (!nv) {
				free(v);
				return NULL;
			}
			v = nv;
		}
		v[n].s = t + i;
		v[n].len = end - i;
		v[n].nl = nl != NULL;
		n++;
		i = nl ? end + 1 : len;
	}
	*n_out = n;
	return v;
}

static bool line_eq(const struct line *a, const struct line *b)
{
	return a->len == b->len && a->nl == b->nl && memcmp(a->s, b->s, a->len) == 0;
}

/* The edit script: ' ' kept, '-' old only, '+' new only, with the line indices. */
struct op {
	char kind;
	size_t ai, bi;
};

static struct op *edit_script(const struct line *a, size_t na, const struct line *b, size_t nb,
			      size_t *n_ops)
{
	struct op *ops = malloc((na + nb + 1) * sizeof(*ops));
	size_t n = 0, pre = 0, suf = 0;

	if (!ops)
		return NULL;
	/* Common prefix and suffix keep the table small for typical config edits. */
	while (pre < na && pre < nb && line_eq(&a[pre], &b[pre]))
		pre++;
	while (suf < na - pre && suf < nb - pre && line_eq(&a[na - 1 - suf], &b[nb - 1 - suf]))
		suf++;
	for (size_t k = 0; k < pre; k++)
		ops[n++] = (struct op){ ' ', k, k };

	size_t ma = na - pre - suf, mb = nb - pre - suf;
	uint32_t *t = NULL;
	if (ma && mb && (uint64_t)(ma + 1) * (mb + 1) <= MAX_CELLS)
		t = calloc((ma + 1) * (mb + 1), sizeof(*t));
	if (t) {
		/* t[i][j] = LCS length of a[pre+i..] and b[pre+j..] */
		for (size_t i = ma; i-- > 0;)
			for (size_t j = mb; j-- > 0;)
				t[i * (mb + 1) + j] = line_eq(&a[pre + i], &b[pre + j]) ?
					t[(i + 1) * (mb + 1) + j + 1] + 1 :
					(t[(i + 1) * (mb + 1) + j] >= t[i * (mb + 1) + j + 1] ?
					 t[(i + 1) * (mb + 1) + j] : t[i * (mb + 1) + j + 1]);
		size_t i = 0, j = 0;
		while (i < ma || j < mb) {
			if (i < ma && j < mb && line_eq(&a[pre + i], &b[pre + j])) {
				ops[n++] = (struct op){ ' ', pre + i, pre + j };
				i++, j++;
			} else if (j < mb && (i == ma || t[i * (mb + 1) + j + 1] >= t[(i + 1) * (mb + 1) + j])) {
				ops[n++] = (struct op){ '+', pre + i, pre + j };
				j++;
			} else {
				ops[n++] = (struct op){ '-', pre + i, pre + j };
				i++;
			}
		}
		/* Show removals before additions inside each changed run, as diff(1) does. */
		for (size_t k = 0; k < n;) {
			size_t e = k;
			while (e < n && ops[e].kind != ' ')
				e++;
			if (e > k) {
				/* stable partition: every '-' of the run, then every '+' */
				size_t w = k;
				for (size_t q = k; q < e; q++)
					if (ops[q].kind == '-') {
						struct op m = ops[q];
						memmove(&ops[w + 1], &ops[w], (q - w) * sizeof(*ops));
						ops[w++] = m;
					}
				k = e;
			} else {
				k++;
			}
		}
		free(t);
	} else {
		for (size_t i = 0; i < ma; i++)
			ops[n++] = (struct op){ '-', pre + i, pre };
		for (size_t j = 0; j < mb; j++)
			ops[n++] = (struct op){ '+', pre + ma, pre + j };
	}
	for (size_t k = 0; k < suf; k++)
		ops[n++] = (struct op){ ' ', na - suf + k, nb - suf + k };
	*n_ops = n;
	return ops;
}

static void put_line(struct nr_buf *b, char kind, const struct line *l)
{
	nr_buf_append(b, &kind, 1);
	nr_buf_append(b, l->s, l->len);
	nr_buf_puts(b, "\n");
	if (!l->nl)
		nr_buf_puts(b, "\\ No newline at end of file\n");
}

static void range(struct nr_buf *b, size_t start, size_t count)
{
	/* diff(1): an empty range names the line before it */
	if (count == 0)
		nr_buf_printf(b, "%zu,0", start);
	else if (count == 1)
		nr_buf_printf(b, "%zu", start + 1);
	else
		nr_buf_printf(b, "%zu,%zu", start + 1, count);
}

char *nr_diff_unified(const char *label_a, const char *a, size_t alen,
		      const char *label_b, const char *b, size_t blen)
{
	struct line *la = NULL, *lb = NULL;
	struct op *ops = NULL;
	size_t na = 0, nb = 0, n = 0;
	struct nr_buf out;

	nr_buf_init(&out);
	nr_buf_append(&out, "", 0);
	if (alen == blen && (alen == 0 || memcmp(a, b, alen) == 0))
		return nr_buf_steal(&out);
	la = split_lines(a, alen, &na);
	lb = split_lines(b, blen, &nb);
	if (!la || !lb)
		goto oom;
	ops = edit_script(la, na, lb, nb, &n);
	if (!ops)
		goto oom;
	nr_buf_printf(&out, "--- %s\n+++ %s\n", label_a, label_b);
	for (size_t k = 0; k < n;) {
		/* find the next change */
		while (k < n && ops[k].kind == ' ')
			k++;
		if (k >= n)
			break;
		size_t start = k >= CONTEXT ? k - CONTEXT : 0, end = k;
		/* extend while changes are within 2*CONTEXT of each other */
		for (;;) {
			while (end < n && ops[end].kind != ' ')
				end++;
			size_t gap = end;
			while (gap < n && ops[gap].kind == ' ' && gap - end < 2 * CONTEXT + 1)
				gap++;
			if (gap < n && ops[gap].kind != ' ' && gap - end <= 2 * CONTEXT) {
				end = gap;
				continue;
			}
			break;
		}
		size_t stop = end + CONTEXT < n ? end + CONTEXT : n;
		while (stop > end && ops[stop - 1].kind != ' ')
			stop--;
		size_t a0 = 0, b0 = 0, ac = 0, bc = 0;
		for (size_t q = 0; q < start; q++) {
			if (ops[q].kind != '+')
				a0++;
			if (ops[q].kind != '-')
				b0++;
		}
		for (size_t q = start; q < stop; q++) {
			if (ops[q].kind != '+')
				ac++;
			if (ops[q].kind != '-')
				bc++;
		}
		nr_buf_puts(&out, "@@ -");
		range(&out, a0, ac);
		nr_buf_puts(&out, " +");
		range(&out, b0, bc);
		nr_buf_puts(&out, " @@\n");
		for (size_t q = start; q < stop; q++)
			put_line(&out, ops[q].kind, ops[q].kind == '+' ? &lb[ops[q].bi] : &la[ops[q].ai]);
		k = stop;
	}
	free(la);
	free(lb);
	free(ops);
	if (out.oom) {
		nr_buf_done(&out);
		return NULL;
	}
	return nr_buf_steal(&out);
oom:
	free(la);
	free(lb);
	free(ops);
	nr_buf_done(&out);
	return NULL;
}
