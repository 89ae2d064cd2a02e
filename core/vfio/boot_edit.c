/* Text edits of boot configuration files (see boot.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfio/boot.h"
#include "base/internal.h"
#include "neuron/host.h"
#include "neuron/util.h"

static char *steal_or_null(struct nr_buf *b)
{
	if (b->oom) {
		nr_buf_done(b);
		return NULL;
	}
	return nr_buf_steal(b);
}

/* ------------------------------------------------------------------ params -- */

bool nr_boot_param_satisfied(const char *cmdline, const char *param)
{
	const char *eq = strchr(param, '=');
	char key[128];
	char *have;
	bool ok;

	if (!eq)
		return nr_cmdline_has(cmdline, param);
	if ((size_t)(eq - param) >= sizeof(key))
		return false;
	memcpy(key, param, (size_t)(eq - param));
	key[eq - param] = '\0';
	have = nr_cmdline_get(cmdline, key);
	if (!have)
		return false;
	if (strcmp(key, "intel_iommu") == 0 || strcmp(key, "amd_iommu") == 0) {
		/* a comma list: "on,igfx_off" */
		char *save = NULL, *tok;
		ok = false;
		for (tok = strtok_r(have, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			if (strcmp(tok, eq + 1) == 0)
				ok = true;
	} else {
		ok = strcmp(have, eq + 1) == 0;
	}
	free(have);
	return ok;
}

char *nr_boot_missing_params(const char *cmdline, const char *const *want)
{
	struct nr_buf b;

	nr_buf_init(&b);
	nr_buf_append(&b, "", 0);
	for (size_t i = 0; want[i]; i++) {
		if (nr_boot_param_satisfied(cmdline, want[i]))
			continue;
		if (b.len)
			nr_buf_puts(&b, " ");
		nr_buf_puts(&b, want[i]);
	}
	return steal_or_null(&b);
}

/* -------------------------------------------------------------------- grub -- */

struct grub_vars {
	char *def;      /* GRUB_CMDLINE_LINUX_DEFAULT */
	char *lin;      /* GRUB_CMDLINE_LINUX */
};

/* Where a parsed shell word ended and how its last segment was quoted. */
struct word_end {
	const char *end;        /* first byte after the word */
	char last_quote;        /* '"', '\'' or 0 (unquoted or empty) */
	const char *close;      /* the closing quote of the last segment */
};

static void expand_var(const char **pp, struct nr_buf *out, const struct grub_vars *v)
{
	const char *p = *pp + 1;        /* after '$' */
	bool brace = *p == '{';
	const char *name, *val = "";
	size_t n = 0;

	if (brace)
		p++;
	name = p;
	while (isalnum((unsigned char)p[n]) || p[n] == '_')
		n++;
	if (n == 0) {
		nr_buf_append(out, "$", 1);
		*pp += 1;
		return;
	}
	if (n == strlen("GRUB_CMDLINE_LINUX_DEFAULT") && strncmp(name, "GRUB_CMDLINE_LINUX_DEFAULT", n) == 0)
		val = v->def ? v->def : "";
	else if (n == strlen("GRUB_CMDLINE_LINUX") && strncmp(name, "GRUB_CMDLINE_LINUX", n) == 0)
		val = v->lin ? v->lin : "";
	p += n;
	if (brace) {
		/* ${VAR} only; other forms (${VAR:-x}) are kept unevaluated */
		const char *close = strchr(p, '}');
		p = close ? close + 1 : p;
	}
	nr_buf_puts(out, val);
	*pp = p;
}

/* Parse one shell word starting at p (the value of an assignment). */
static void sh_word(const char *p, struct nr_buf *out, const struct grub_vars *v, struct word_end *we)
{
	we->last_quote = 0;
	we->close = NULL;
	for (;;) {
		char c = *p;
		if (c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|')
			break;
		if (c == '\'') {
			const char *close = strchr(p + 1, '\'');
			if (!close)
				close = p + strlen(p);
			nr_buf_append(out, p + 1, (size_t)(close - p - 1));
			we->last_quote = '\'';
			we->close = close;
			p = *close ? close + 1 : close;
			continue;
		}
		if (c == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1] && strchr("$`\"\\\n", p[1])) {
					if (p[1] != '\n')
						nr_buf_append(out, p + 1, 1);
					p += 2;
				} else if (*p == '$') {
					expand_var(&p, out, v);
				} else {
					nr_buf_append(out, p, 1);
					p++;
				}
			}
			we->last_quote = '"';
			we->close = p;
			p = *p ? p + 1 : p;
			continue;
		}
		we->last_quote = 0;
		if (c == '\\' && p[1]) {
			if (p[1] != '\n')
				nr_buf_append(out, p + 1, 1);
			p += 2;
			continue;
		}
		if (c == '$') {
			expand_var(&p, out, v);
			continue;
		}
		nr_buf_append(out, p, 1);
		p++;
	}
	we->end = p;
}

/* The last assignment of GRUB_CMDLINE_LINUX_DEFAULT, for the edit. */
struct grub_scan {
	struct grub_vars vars;
	const char *def_value;          /* start of the last DEFAULT value (after '=') */
	struct word_end def_end;
	char *def_word;                 /* that word's own value */
};

static void grub_scan(const char *text, struct grub_scan *gs)
{
	const char *p = text;

	memset(gs, 0, sizeof(*gs));
	while (*p) {
		const char *q = p, *name;
		size_t n = 0;

		while (*q == ' ' || *q == '\t')
			q++;
		if (strncmp(q, "export", 6) == 0 && (q[6] == ' ' || q[6] == '\t')) {
			q += 6;
			while (*q == ' ' || *q == '\t')
				q++;
		}
		name = q;
		while (isalnum((unsigned char)q[n]) || q[n] == '_')
			n++;
		if (n > 0 && !isdigit((unsigned char)name[0]) && q[n] == '=') {
			struct nr_buf val;
			struct word_end we;
			nr_buf_init(&val);
			nr_buf_append(&val, "", 0);
			sh_word(q + n + 1, &val, &gs->vars, &we);
			char *s = steal_or_null(&val);
			bool is_def = n == 26 && strncmp(name, "GRUB_CMDLINE_LINUX_DEFAULT", 26) == 0;
			bool is_lin = n == 18 && strncmp(name, "GRUB_CMDLINE_LINUX", 18) == 0;
			if (is_def) {
				/* the word's own value: evaluated with the previous value */
				free(gs->vars.def);
				gs->vars.def = s;
				gs->def_value = q + n + 1;
				gs->def_end = we;
			} else if (is_lin) {
				free(gs->vars.lin);
				gs->vars.lin = s;
			} else {
				free(s);
			}
			p = we.end;
		}
		/* to the end of the line */
		while (*p && *p != '\n')
			p++;
		if (*p == '\n')
			p++;
	}
}

static void grub_scan_done(struct grub_scan *gs)
{
	free(gs->vars.def);
	free(gs->vars.lin);
	free(gs->def_word);
}

char *nr_grub_cmdline(const char *text)
{
	struct grub_scan gs;
	char *s;

	grub_scan(text, &gs);
	if (asprintf(&s, "%s%s%s", gs.vars.lin ? gs.vars.lin : "",
		     gs.vars.lin && gs.vars.lin[0] && gs.vars.def && gs.vars.def[0] ? " " : "",
		     gs.vars.def ? gs.vars.def : "") < 0)
		s = NULL;
	grub_scan_done(&gs);
	return s;
}

bool nr_grub_assigns_default(const char *text)
{
	struct grub_scan gs;
	bool yes;

	grub_scan(text, &gs);
	yes = gs.def_value != NULL;
	grub_scan_done(&gs);
	return yes;
}

char *nr_grub_add_params_in(const char *before, const char *text, const char *after,
			    const char *const *want)
{
	struct grub_scan gs;
	struct nr_buf b, all;
	char *cmdline, *missing;
	size_t off = strlen(before), tlen = strlen(text);

	/* what grub-mkconfig sources, in order: the effective values come from all of it */
	nr_buf_init(&all);
	nr_buf_puts(&all, before);
	nr_buf_puts(&all, text);
	if (tlen && text[tlen - 1] != '\n')
		nr_buf_puts(&all, "\n");
	nr_buf_puts(&all, after);
	if (all.oom) {
		nr_buf_done(&all);
		return NULL;
	}
	cmdline = nr_grub_cmdline(all.data);
	missing = cmdline ? nr_boot_missing_params(cmdline, want) : NULL;
	free(cmdline);
	if (!missing || !missing[0]) {
		nr_buf_done(&all);
		free(missing);
		return missing ? strdup(text) : NULL;
	}
	/* the edit goes to the last assignment, which must be in text */
	all.data[off + tlen] = '\0';
	grub_scan(all.data, &gs);
	const char *base = all.data + off;
	nr_buf_init(&b);
	nr_buf_append(&b, "", 0);
	if (!gs.def_value || gs.def_value < base) {
		nr_buf_puts(&b, text);
		if (tlen && text[tlen - 1] != '\n')
			nr_buf_puts(&b, "\n");
		nr_buf_printf(&b, "GRUB_CMDLINE_LINUX_DEFAULT=\"%s%s\"\n",
			      gs.def_value ? "$GRUB_CMDLINE_LINUX_DEFAULT " : "", missing);
	} else {
		const char *v = gs.vars.def ? gs.vars.def : "";
		size_t vl = strlen(v);
		bool space = vl > 0 && v[vl - 1] != ' ' && v[vl - 1] != '\t';
		const struct word_end *we = &gs.def_end;
		if (we->last_quote && we->close && we->close + 1 == we->end && *we->close) {
			/* inside the closing quote of the last segment */
			nr_buf_append(&b, base, (size_t)(we->close - base));
			nr_buf_printf(&b, "%s%s", space ? " " : "", missing);
			nr_buf_append(&b, we->close, tlen - (size_t)(we->close - base));
		} else if (we->end == gs.def_value) {
			/* GRUB_CMDLINE_LINUX_DEFAULT= (empty) */
			nr_buf_append(&b, base, (size_t)(we->end - base));
			nr_buf_printf(&b, "\"%s\"", missing);
			nr_buf_append(&b, we->end, tlen - (size_t)(we->end - base));
		} else {
			/* unquoted last segment: add a quoted one right after it */
			nr_buf_append(&b, base, (size_t)(we->end - base));
			nr_buf_printf(&b, "\"%s%s\"", space ? " " : "", missing);
			nr_buf_append(&b, we->end, tlen - (size_t)(we->end - base));
		}
	}
	free(missing);
	grub_scan_done(&gs);
	nr_buf_done(&all);
	return steal_or_null(&b);
}

char *nr_grub_add_params(const char *text, const char *const *want)
{
	return nr_grub_add_params_in("", text, "", want);
}

/* ---------------------------------------------------------------- sd-boot -- */

/* Each line: the key (first word) and where its value starts and ends. */
struct kv_line {
	const char *start, *end;        /* the line, without its newline */
	const char *key;
	size_t key_len;
	const char *value;              /* after the blanks following the key */
};

static bool next_line(const char **p, struct kv_line *l)
{
	const char *s = *p;

	if (!*s)
		return false;
	l->start = s;
	l->end = strchr(s, '\n');
	if (!l->end)
		l->end = s + strlen(s);
	*p = *l->end ? l->end + 1 : l->end;
	while (s < l->end && (*s == ' ' || *s == '\t'))
		s++;
	l->key = s;
	while (s < l->end && *s != ' ' && *s != '\t')
		s++;
	l->key_len = (size_t)(s - l->key);
	while (s < l->end && (*s == ' ' || *s == '\t'))
		s++;
	l->value = s;
	return true;
}

static bool key_is(const struct kv_line *l, const char *key)
{
	return l->key_len == strlen(key) && strncmp(l->key, key, l->key_len) == 0;
}

char *nr_sdboot_cmdline(const char *text)
{
	struct nr_buf b;
	struct kv_line l;
	const char *p = text;

	nr_buf_init(&b);
	nr_buf_append(&b, "", 0);
	while (next_line(&p, &l)) {
		if (!key_is(&l, "options"))
			continue;
		const char *e = l.end;
		while (e > l.value && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		if (b.len && e > l.value)
			nr_buf_puts(&b, " ");
		nr_buf_append(&b, l.value, (size_t)(e - l.value));
	}
	return steal_or_null(&b);
}

bool nr_sdboot_is_linux(const char *text)
{
	struct kv_line l;
	const char *p = text;

	while (next_line(&p, &l))
		if (key_is(&l, "linux"))
			return true;
	return false;
}

char *nr_sdboot_add_params(const char *text, const char *const *want)
{
	char *cmdline = nr_sdboot_cmdline(text), *missing;
	const char *p = text, *last_end = NULL;
	struct kv_line l;
	struct nr_buf b;

	if (!cmdline)
		return NULL;
	missing = nr_boot_missing_params(cmdline, want);
	free(cmdline);
	if (!missing)
		return NULL;
	if (!missing[0]) {
		free(missing);
		return strdup(text);
	}
	bool last_empty = false;
	while (next_line(&p, &l))
		if (key_is(&l, "options")) {
			const char *e = l.end;
			while (e > l.value && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
				e--;
			last_end = e;
			last_empty = e == l.value;
		}
	nr_buf_init(&b);
	nr_buf_append(&b, "", 0);
	if (last_end) {
		nr_buf_append(&b, text, (size_t)(last_end - text));
		/* "options" alone on its line has no blank after the key yet */
		bool need_blank = !last_empty || (last_end > text && last_end[-1] != ' ' && last_end[-1] != '\t');
		nr_buf_printf(&b, "%s%s", need_blank ? " " : "", missing);
		nr_buf_puts(&b, last_end);
	} else {
		size_t len = strlen(text);
		nr_buf_puts(&b, text);
		if (len && text[len - 1] != '\n')
			nr_buf_puts(&b, "\n");
		nr_buf_printf(&b, "options %s\n", missing);
	}
	free(missing);
	return steal_or_null(&b);
}

/* ---------------------------------------------------------- kernel/cmdline -- */

char *nr_kernel_cmdline_add_params(const char *text, const char *const *want)
{
	char *flat = strdup(text), *missing;
	struct nr_buf b;

	if (!flat)
		return NULL;
	for (char *c = flat; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	missing = nr_boot_missing_params(flat, want);
	free(flat);
	if (!missing)
		return NULL;
	if (!missing[0]) {
		free(missing);
		return strdup(text);
	}
	size_t len = strlen(text), e = len;
	while (e > 0 && isspace((unsigned char)text[e - 1]))
		e--;
	nr_buf_init(&b);
	nr_buf_append(&b, text, e);
	nr_buf_printf(&b, "%s%s", e ? " " : "", missing);
	if (e < len)
		nr_buf_puts(&b, text + e);
	else
		nr_buf_puts(&b, "\n");
	free(missing);
	return steal_or_null(&b);
}

/* -------------------------------------------------------------- mkinitcpio -- */

/* The last uncommented assignment NAME=( or NAME=" at a line start. */
struct array_at {
	const char *open;       /* the '(' or '"' */
	const char *close;      /* the matching ')' or '"' */
	bool paren;
};

static bool find_array(const char *text, const char *name, struct array_at *at)
{
	const char *p = text;
	size_t n = strlen(name);
	bool found = false;

	while (*p) {
		const char *q = p;
		while (*q == ' ' || *q == '\t')
			q++;
		if (strncmp(q, name, n) == 0 && q[n] == '=' && (q[n + 1] == '(' || q[n + 1] == '"')) {
			const char *open = q + n + 1;
			char want = *open == '(' ? ')' : '"';
			const char *c = open + 1;
			while (*c && *c != want) {
				if (*c == '#' && want == ')') {         /* a comment inside the array */
					while (*c && *c != '\n')
						c++;
					continue;
				}
				c++;
			}
			if (*c) {
				at->open = open;
				at->close = c;
				at->paren = want == ')';
				found = true;
				p = c;
			}
		}
		while (*p && *p != '\n')
			p++;
		if (*p == '\n')
			p++;
	}
	return found;
}

char **nr_mkinitcpio_array(const char *text, const char *name, size_t *n)
{
	struct array_at at;
	char **v = NULL;

	*n = 0;
	if (!find_array(text, name, &at))
		return calloc(1, sizeof(char *));
	const char *p = at.open + 1;
	while (p < at.close) {
		while (p < at.close && isspace((unsigned char)*p))
			p++;
		if (p >= at.close)
			break;
		if (*p == '#') {
			while (p < at.close && *p != '\n')
				p++;
			continue;
		}
		const char *s = p;
		while (p < at.close && !isspace((unsigned char)*p))
			p++;
		size_t len = (size_t)(p - s);
		/* strip quotes around an item */
		if (len >= 2 && (s[0] == '"' || s[0] == '\'') && s[len - 1] == s[0]) {
			s++;
			len -= 2;
		}
		if (nr_strv_take(&v, n, strndup(s, len)) < 0) {
			nr_strv_free(v, *n);
			*n = 0;
			return NULL;
		}
	}
	if (!v)
		v = calloc(1, sizeof(char *));
	return v;
}

static bool module_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;
		if (x != y)
			return false;
	}
	/* "vfio_virqfd?" (optional) is the same module as "vfio_virqfd" */
	return (*a == '\0' || (*a == '?' && a[1] == '\0')) && (*b == '\0' || (*b == '?' && b[1] == '\0'));
}

char *nr_mkinitcpio_prepend(const char *text, const char *name, const char *const *items)
{
	size_t n = 0;
	char **have = nr_mkinitcpio_array(text, name, &n);
	struct array_at at;
	struct nr_buf add, b;

	if (!have)
		return NULL;
	nr_buf_init(&add);
	nr_buf_append(&add, "", 0);
	for (size_t i = 0; items[i]; i++) {
		bool present = false;
		for (size_t k = 0; k < n && !present; k++)
			present = strcmp(name, "MODULES") == 0 ? module_eq(have[k], items[i]) :
				strcmp(have[k], items[i]) == 0;
		if (present)
			continue;
		if (add.len)
			nr_buf_puts(&add, " ");
		nr_buf_puts(&add, items[i]);
	}
	nr_strv_free_null(have);
	if (add.oom) {
		nr_buf_done(&add);
		return NULL;
	}
	if (!add.len) {
		nr_buf_done(&add);
		return strdup(text);
	}
	nr_buf_init(&b);
	nr_buf_append(&b, "", 0);
	if (find_array(text, name, &at)) {
		const char *p = at.open + 1;
		bool empty = true;
		for (const char *c = p; c < at.close; c++)
			if (!isspace((unsigned char)*c))
				empty = false;
		nr_buf_append(&b, text, (size_t)(p - text));
		nr_buf_puts(&b, add.data);
		if (!empty && !isspace((unsigned char)*p))
			nr_buf_puts(&b, " ");
		nr_buf_puts(&b, p);
	} else {
		size_t len = strlen(text);
		nr_buf_puts(&b, text);
		if (len && text[len - 1] != '\n')
			nr_buf_puts(&b, "\n");
		nr_buf_printf(&b, "%s=(%s)\n", name, add.data);
	}
	nr_buf_done(&add);
	return steal_or_null(&b);
}

/* ---------------------------------------------------------- initramfs-tools -- */

char *nr_initramfs_tools_add_modules(const char *text, const char *const *modules)
{
	struct nr_buf b;
	const char *p;
	struct kv_line l;
	bool any = false;

	nr_buf_init(&b);
	nr_buf_puts(&b, text);
	if (b.len && text[b.len - 1] != '\n')
		nr_buf_puts(&b, "\n");
	for (size_t i = 0; modules[i]; i++) {
		bool present = false;
		for (p = text; !present && next_line(&p, &l);)
			if (l.key_len && l.key[0] != '#') {
				char *k = strndup(l.key, l.key_len);
				present = k && module_eq(k, modules[i]);
				free(k);
			}
		if (present)
			continue;
		if (!any)
			nr_buf_puts(&b, "# vfio-pci before the GPU drivers (neuronctl vfio)\n");
		any = true;
		nr_buf_printf(&b, "%s\n", modules[i]);
	}
	if (!any) {
		nr_buf_done(&b);
		return strdup(text);
	}
	return steal_or_null(&b);
}

int nr_kernel_version_code(const char *release)
{
	char *end;
	long major = strtol(release, &end, 10), minor;

	if (end == release || *end != '.')
		return -1;
	release = end + 1;
	minor = strtol(release, &end, 10);
	if (end == release || major < 0 || minor < 0 || minor > 99 || major > 1000)
		return -1;
	return (int)(major * 100 + minor);
}
