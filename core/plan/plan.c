/* The plan engine: build a list of file edits, show them, apply them with backups and
 * a journal, revert them, and say where an interrupted run stopped. See plan.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/internal.h"
#include "neuron/plan.h"
#include "root/root.h"

#define JOURNAL_MAGIC "neuron-plan 1"

struct edit {
	struct nr_plan_edit pub;
	char *path, *why, *rel;
	char *old_text, *new_text;
	bool remove;            /* planned removal (new_text is NULL) */
};

struct command {
	struct nr_plan_command pub;
	char **argv;
	char *why;
};

struct nr_plan {
	const struct nr_ctx *ctx;
	char *name;
	struct edit *edits;
	size_t n_edits;
	struct command *cmds;
	size_t n_cmds;
	char **notes;
	size_t n_notes;
	char **meta_keys, **meta_values;
	size_t n_meta;
	struct nr_error build_err;      /* the first failure while building, kept for apply */
};

/* ------------------------------------------------------------------ building -- */

static bool name_ok(const char *name)
{
	if (!name || !name[0] || strlen(name) > 64)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return false;
	return true;
}

struct nr_plan *nr_plan_new(const struct nr_ctx *ctx, const char *name)
{
	struct nr_plan *plan;

	if (!ctx || !name_ok(name))
		return NULL;
	plan = calloc(1, sizeof(*plan));
	if (!plan)
		return NULL;
	plan->ctx = ctx;
	plan->name = strdup(name);
	if (!plan->name) {
		free(plan);
		return NULL;
	}
	return plan;
}

static void edit_done(struct edit *e)
{
	free(e->path);
	free(e->why);
	free(e->rel);
	free(e->old_text);
	free(e->new_text);
}

static char **argv_dup(const char *const *argv)
{
	size_t n = 0;
	char **v;

	while (argv[n])
		n++;
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!(v[i] = strdup(argv[i]))) {
			nr_strv_free(v, i);
			return NULL;
		}
	return v;
}

static void argv_free(char **v)
{
	if (!v)
		return;
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

void nr_plan_free(struct nr_plan *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < plan->n_edits; i++)
		edit_done(&plan->edits[i]);
	free(plan->edits);
	for (size_t i = 0; i < plan->n_cmds; i++) {
		argv_free(plan->cmds[i].argv);
		free(plan->cmds[i].why);
	}
	free(plan->cmds);
	nr_strv_free(plan->notes, plan->n_notes);
	nr_strv_free(plan->meta_keys, plan->n_meta);
	nr_strv_free(plan->meta_values, plan->n_meta);
	free(plan->name);
	free(plan);
}

static int root_of(const struct nr_ctx *ctx, struct nr_root *r, struct nr_error *err)
{
	return nr_root_open(r, nr_ctx_get(ctx, "root"), err);
}

/* One change at a time per root: an advisory lock on the root directory itself (no file
 * is made for it, so a revert leaves the root as it was). Released when r is closed. */
static int lock_root(const struct nr_root *r, struct nr_error *err)
{
	if (flock(r->fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	return nr_error_set(err, -NR_E_BUSY, "another neuronctl is changing %s right now: wait for it "
			    "and try again", r->path);
}

int nr_plan_read(const struct nr_plan *plan, const char *path, char **text, size_t *len,
		 struct nr_error *err)
{
	struct nr_root r;
	char *rel = NULL;
	int rc;

	*text = NULL;
	if ((rc = root_of(plan->ctx, &r, err)) < 0)
		return rc;
	if ((rc = nr_root_resolve(&r, path, &rel, err)) == 0)
		rc = nr_root_read(&r, rel, text, len, NULL, NULL, NULL, err);
	free(rel);
	nr_root_close(&r);
	return rc;
}

bool nr_plan_exists(const struct nr_plan *plan, const char *path)
{
	struct nr_root r;
	char *rel = NULL;
	bool yes = false;
	struct stat st;

	if (root_of(plan->ctx, &r, NULL) < 0)
		return false;
	if (nr_root_resolve(&r, path, &rel, NULL) == 0)
		yes = fstatat(r.fd, rel[0] ? rel : ".", &st, AT_SYMLINK_NOFOLLOW) == 0;
	free(rel);
	nr_root_close(&r);
	return yes;
}

static struct edit *find_edit(struct nr_plan *plan, const char *rel)
{
	for (size_t i = 0; i < plan->n_edits; i++)
		if (strcmp(plan->edits[i].rel, rel) == 0)
			return &plan->edits[i];
	return NULL;
}

static void edit_sync_pub(struct edit *e)
{
	e->pub.path = e->path;
	e->pub.why = e->why ? e->why : "";
	e->pub.old_text = e->old_text;
	e->pub.new_text = e->new_text;
	if (e->remove)
		e->pub.kind = NR_PLAN_REMOVE;
	else
		e->pub.kind = e->old_text ? NR_PLAN_REPLACE : NR_PLAN_CREATE;
	if (!e->old_text && !e->new_text)
		e->pub.changes = false;
	else if (!e->old_text || !e->new_text)
		e->pub.changes = true;
	else
		e->pub.changes = e->pub.old_len != e->pub.new_len ||
			memcmp(e->old_text, e->new_text, e->pub.old_len) != 0;
}

static int plan_edit(struct nr_plan *plan, const char *path, const char *text, size_t len,
		     bool remove, const char *why, struct nr_error *err)
{
	struct nr_root r;
	char *rel = NULL, *old = NULL, *copy = NULL;
	size_t old_len = 0;
	struct edit *e;
	int rc;

	if (!path || path[0] != '/')
		return nr_error_set(err, -NR_E_INVAL, "plan paths are absolute inside the root, not '%s'",
				    path ? path : "(null)");
	if ((rc = root_of(plan->ctx, &r, err)) < 0)
		return rc;
	if ((rc = nr_root_resolve(&r, path, &rel, err)) < 0)
		goto out;
	if (rel[0] == '\0') {
		rc = nr_error_set(err, -NR_E_INVAL, "cannot plan an edit of the root itself");
		goto out;
	}
	rc = nr_root_read(&r, rel, &old, &old_len, NULL, NULL, NULL, err);
	if (rc == -NR_E_NOTFOUND) {
		nr_error_clear(err);
		rc = 0;
	} else if (rc < 0) {
		goto out;
	}
	if (!remove) {
		copy = malloc(len + 1);
		if (!copy) {
			rc = nr_error_set(err, -NR_E_NOMEM, NULL);
			goto out;
		}
		memcpy(copy, text, len);
		copy[len] = '\0';
	}
	e = find_edit(plan, rel);
	if (!e) {
		struct edit *nv = realloc(plan->edits, (plan->n_edits + 1) * sizeof(*nv));
		if (!nv) {
			rc = nr_error_set(err, -NR_E_NOMEM, NULL);
			goto out;
		}
		plan->edits = nv;
		e = &plan->edits[plan->n_edits++];
		memset(e, 0, sizeof(*e));
		e->rel = rel;
		rel = NULL;
		if (!(e->path = strdup(path))) {
			rc = nr_error_set(err, -NR_E_NOMEM, NULL);
			goto out;
		}
		e->old_text = old;
		e->pub.old_len = old_len;
		old = NULL;
	}
	free(e->new_text);
	e->new_text = copy;
	e->remove = remove;
	e->pub.new_len = remove ? 0 : len;
	copy = NULL;
	free(e->why);
	e->why = why ? strdup(why) : NULL;
	edit_sync_pub(e);
	/* pointers into a realloc'd array: refresh every edit's public view */
	for (size_t i = 0; i < plan->n_edits; i++)
		edit_sync_pub(&plan->edits[i]);
out:
	free(rel);
	free(old);
	free(copy);
	nr_root_close(&r);
	return rc;
}

int nr_plan_set_file(struct nr_plan *plan, const char *path, const char *text, size_t len,
		     const char *why, struct nr_error *err)
{
	return plan_edit(plan, path, text ? text : "", text ? len : 0, false, why, err);
}

int nr_plan_remove_file(struct nr_plan *plan, const char *path, const char *why,
			struct nr_error *err)
{
	/* recorded even when the file is absent: an apply that finishes an interrupted
	 * revert sees it come back */
	return plan_edit(plan, path, NULL, 0, true, why, err);
}

int nr_plan_add_command(struct nr_plan *plan, const char *const *argv, const char *why,
			struct nr_error *err)
{
	struct command *nv;
	char **copy;

	if (!argv || !argv[0])
		return nr_error_set(err, -NR_E_INVAL, "empty command");
	copy = argv_dup(argv);
	nv = copy ? realloc(plan->cmds, (plan->n_cmds + 1) * sizeof(*nv)) : NULL;
	if (!nv) {
		argv_free(copy);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	plan->cmds = nv;
	nv[plan->n_cmds].argv = copy;
	nv[plan->n_cmds].why = why ? strdup(why) : NULL;
	plan->n_cmds++;
	for (size_t i = 0; i < plan->n_cmds; i++) {
		plan->cmds[i].pub.argv = (const char *const *)plan->cmds[i].argv;
		plan->cmds[i].pub.why = plan->cmds[i].why ? plan->cmds[i].why : "";
	}
	return 0;
}

int nr_plan_add_note(struct nr_plan *plan, const char *fmt, ...)
{
	char **nv;
	char *s;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -NR_E_NOMEM;
	nv = realloc(plan->notes, (plan->n_notes + 1) * sizeof(*nv));
	if (!nv) {
		free(s);
		return -NR_E_NOMEM;
	}
	plan->notes = nv;
	nv[plan->n_notes++] = s;
	return 0;
}

int nr_plan_set_meta(struct nr_plan *plan, const char *key, const char *value)
{
	char *v = strdup(value ? value : "");

	if (!v)
		return -NR_E_NOMEM;
	for (size_t i = 0; i < plan->n_meta; i++)
		if (strcmp(plan->meta_keys[i], key) == 0) {
			free(plan->meta_values[i]);
			plan->meta_values[i] = v;
			return 0;
		}
	char **k = realloc(plan->meta_keys, (plan->n_meta + 1) * sizeof(*k));
	if (k)
		plan->meta_keys = k;
	char **vv = k ? realloc(plan->meta_values, (plan->n_meta + 1) * sizeof(*vv)) : NULL;
	if (vv)
		plan->meta_values = vv;
	char *kc = vv ? strdup(key) : NULL;
	if (!kc) {
		free(v);
		return -NR_E_NOMEM;
	}
	plan->meta_keys[plan->n_meta] = kc;
	plan->meta_values[plan->n_meta] = v;
	plan->n_meta++;
	return 0;
}

/* ------------------------------------------------------------------- reading -- */

const char *nr_plan_name(const struct nr_plan *plan) { return plan->name; }
size_t nr_plan_n_edits(const struct nr_plan *plan) { return plan->n_edits; }
size_t nr_plan_n_commands(const struct nr_plan *plan) { return plan->n_cmds; }
size_t nr_plan_n_notes(const struct nr_plan *plan) { return plan->n_notes; }

const struct nr_plan_edit *nr_plan_edit(const struct nr_plan *plan, size_t i)
{
	return i < plan->n_edits ? &plan->edits[i].pub : NULL;
}

const struct nr_plan_command *nr_plan_command(const struct nr_plan *plan, size_t i)
{
	return i < plan->n_cmds ? &plan->cmds[i].pub : NULL;
}

const char *nr_plan_note(const struct nr_plan *plan, size_t i)
{
	return i < plan->n_notes ? plan->notes[i] : NULL;
}

const char *nr_plan_meta(const struct nr_plan *plan, const char *key)
{
	for (size_t i = 0; i < plan->n_meta; i++)
		if (strcmp(plan->meta_keys[i], key) == 0)
			return plan->meta_values[i];
	return NULL;
}

bool nr_plan_is_noop(const struct nr_plan *plan)
{
	for (size_t i = 0; i < plan->n_edits; i++)
		if (plan->edits[i].pub.changes)
			return false;
	return true;
}

char *nr_plan_edit_diff(const struct nr_plan *plan, size_t i)
{
	const struct edit *e;
	char *la = NULL, *lb = NULL, *d;

	if (i >= plan->n_edits)
		return NULL;
	e = &plan->edits[i];
	if (!e->pub.changes)
		return strdup("");
	if (asprintf(&la, "%s%s", e->old_text ? "a" : "", e->old_text ? e->path : "/dev/null") < 0)
		return NULL;
	if (asprintf(&lb, "%s%s", e->new_text ? "b" : "", e->new_text ? e->path : "/dev/null") < 0) {
		free(la);
		return NULL;
	}
	d = nr_diff_unified(la, e->old_text ? e->old_text : "", e->pub.old_len,
			    lb, e->new_text ? e->new_text : "", e->pub.new_len);
	free(la);
	free(lb);
	return d;
}

char *nr_plan_diff(const struct nr_plan *plan)
{
	struct nr_buf b;

	nr_buf_init(&b);
	nr_buf_append(&b, "", 0);
	for (size_t i = 0; i < plan->n_edits; i++) {
		char *d = nr_plan_edit_diff(plan, i);
		if (!d) {
			nr_buf_done(&b);
			return NULL;
		}
		nr_buf_puts(&b, d);
		free(d);
	}
	if (b.oom) {
		nr_buf_done(&b);
		return NULL;
	}
	return nr_buf_steal(&b);
}

char *nr_plan_command_line(const char *const *argv)
{
	struct nr_buf b;

	nr_buf_init(&b);
	nr_buf_append(&b, "", 0);
	for (size_t i = 0; argv && argv[i]; i++) {
		const char *a = argv[i];
		if (i)
			nr_buf_puts(&b, " ");
		if (a[0] && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				      "0123456789-_./=:,+@%") == strlen(a)) {
			nr_buf_puts(&b, a);
			continue;
		}
		nr_buf_puts(&b, "'");
		for (; *a; a++) {
			if (*a == '\'')
				nr_buf_puts(&b, "'\\''");
			else
				nr_buf_append(&b, a, 1);
		}
		nr_buf_puts(&b, "'");
	}
	if (b.oom) {
		nr_buf_done(&b);
		return NULL;
	}
	return nr_buf_steal(&b);
}

/* ------------------------------------------------------------------- journal -- */

struct jfile {
	char kind;              /* 'C' created, 'R' replaced, 'D' removed */
	char *rel;
	uint64_t hash;          /* of the content written (C, R) */
};

struct journal {
	bool exists;
	enum nr_plan_state state;
	bool pending;
	struct jfile *files;
	size_t n_files;
	char **dirs;            /* created by the apply, outermost first */
	size_t n_dirs;
	char ***cmds;
	size_t n_cmds;
	char **mkeys, **mvals;
	size_t n_meta;
};

static void journal_done(struct journal *j)
{
	for (size_t i = 0; i < j->n_files; i++)
		free(j->files[i].rel);
	free(j->files);
	nr_strv_free(j->dirs, j->n_dirs);
	for (size_t i = 0; i < j->n_cmds; i++)
		argv_free(j->cmds[i]);
	free(j->cmds);
	nr_strv_free(j->mkeys, j->n_meta);
	nr_strv_free(j->mvals, j->n_meta);
	memset(j, 0, sizeof(*j));
}

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void put_escaped(struct nr_buf *b, const char *s)
{
	if (!s[0]) {
		nr_buf_puts(b, "%");    /* the empty string */
		return;
	}
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c == '%' || c >= 0x7f)
			nr_buf_printf(b, "%%%02x", c);
		else
			nr_buf_append(b, s, 1);
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The inverse of put_escaped: %XX to its byte, a lone "%" to "". */
static char *unescape(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;

	if (!out)
		return NULL;
	if (n == 1 && s[0] == '%') {
		*o = '\0';
		return out;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n + 1 && i + 2 <= n - 1 && hexval(s[i + 1]) >= 0 &&
		    hexval(s[i + 2]) >= 0) {
			*o++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
			continue;
		}
		*o++ = s[i];
	}
	*o = '\0';
	return out;
}

static const char *state_word(enum nr_plan_state s)
{
	switch (s) {
	case NR_PLAN_STATE_APPLIED: return "applied";
	case NR_PLAN_STATE_APPLYING: return "applying";
	case NR_PLAN_STATE_REVERTING: return "reverting";
	default: return "none";
	}
}

const char *nr_plan_state_name(enum nr_plan_state s)
{
	return state_word(s);
}

static char *journal_text(const struct journal *j)
{
	struct nr_buf b;

	nr_buf_init(&b);
	nr_buf_printf(&b, "%s\nstate %s\npending %d\n", JOURNAL_MAGIC, state_word(j->state), j->pending);
	for (size_t i = 0; i < j->n_meta; i++) {
		nr_buf_puts(&b, "meta ");
		put_escaped(&b, j->mkeys[i]);
		nr_buf_puts(&b, " ");
		put_escaped(&b, j->mvals[i]);
		nr_buf_puts(&b, "\n");
	}
	for (size_t i = 0; i < j->n_dirs; i++) {
		nr_buf_puts(&b, "dir ");
		put_escaped(&b, j->dirs[i]);
		nr_buf_puts(&b, "\n");
	}
	for (size_t i = 0; i < j->n_files; i++) {
		nr_buf_printf(&b, "file %c %016llx ", j->files[i].kind, (unsigned long long)j->files[i].hash);
		put_escaped(&b, j->files[i].rel);
		nr_buf_puts(&b, "\n");
	}
	for (size_t i = 0; i < j->n_cmds; i++) {
		nr_buf_puts(&b, "cmd");
		for (size_t k = 0; j->cmds[i][k]; k++) {
			nr_buf_puts(&b, " ");
			put_escaped(&b, j->cmds[i][k]);
		}
		nr_buf_puts(&b, "\n");
	}
	if (b.oom) {
		nr_buf_done(&b);
		return NULL;
	}
	return nr_buf_steal(&b);
}

/* Split a line on single spaces into unescaped words. */
static char **words(const char *line, size_t *n)
{
	char **v = NULL;
	*n = 0;

	while (*line) {
		size_t len = strcspn(line, " ");
		if (nr_strv_take(&v, n, unescape(line, len)) < 0) {
			nr_strv_free(v, *n);
			return NULL;
		}
		line += len;
		if (*line == ' ')
			line++;
	}
	if (!v)
		v = calloc(1, sizeof(*v));
	return v;
}

static int journal_parse(struct journal *j, char *text, const char *where, struct nr_error *err)
{
	char *save = NULL, *line;
	int lineno = 0;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t n;
		char **w;

		if (++lineno == 1) {
			if (strcmp(line, JOURNAL_MAGIC) != 0)
				return nr_error_set(err, -NR_E_PARSE, "%s is not a neuron journal", where);
			continue;
		}
		w = words(line, &n);
		if (!w)
			return nr_error_set(err, -NR_E_NOMEM, NULL);
		int bad = 0;
		if (n == 2 && strcmp(w[0], "state") == 0) {
			if (strcmp(w[1], "applied") == 0)
				j->state = NR_PLAN_STATE_APPLIED;
			else if (strcmp(w[1], "applying") == 0)
				j->state = NR_PLAN_STATE_APPLYING;
			else if (strcmp(w[1], "reverting") == 0)
				j->state = NR_PLAN_STATE_REVERTING;
			else
				bad = 1;
		} else if (n == 2 && strcmp(w[0], "pending") == 0) {
			j->pending = strcmp(w[1], "0") != 0;
		} else if (n == 3 && strcmp(w[0], "meta") == 0) {
			char **k = realloc(j->mkeys, (j->n_meta + 1) * sizeof(*k));
			if (k)
				j->mkeys = k;
			char **v = k ? realloc(j->mvals, (j->n_meta + 1) * sizeof(*v)) : NULL;
			if (v)
				j->mvals = v;
			if (!v) {
				nr_strv_free(w, n);
				return nr_error_set(err, -NR_E_NOMEM, NULL);
			}
			j->mkeys[j->n_meta] = w[1];
			j->mvals[j->n_meta] = w[2];
			j->n_meta++;
			w[1] = w[2] = NULL;
		} else if (n == 2 && strcmp(w[0], "dir") == 0) {
			char **d = realloc(j->dirs, (j->n_dirs + 1) * sizeof(*d));
			if (!d) {
				nr_strv_free(w, n);
				return nr_error_set(err, -NR_E_NOMEM, NULL);
			}
			j->dirs = d;
			d[j->n_dirs++] = w[1];
			w[1] = NULL;
		} else if (n == 4 && strcmp(w[0], "file") == 0 && strlen(w[1]) == 1 && strchr("CRD", w[1][0])) {
			struct jfile *f = realloc(j->files, (j->n_files + 1) * sizeof(*f));
			if (!f) {
				nr_strv_free(w, n);
				return nr_error_set(err, -NR_E_NOMEM, NULL);
			}
			j->files = f;
			f[j->n_files].kind = w[1][0];
			f[j->n_files].hash = strtoull(w[2], NULL, 16);
			f[j->n_files].rel = w[3];
			j->n_files++;
			w[3] = NULL;
		} else if (n >= 2 && strcmp(w[0], "cmd") == 0) {
			char ***c = realloc(j->cmds, (j->n_cmds + 1) * sizeof(*c));
			char **argv = calloc(n, sizeof(*argv));
			if (!c || !argv) {
				if (c)
					j->cmds = c;
				free(argv);
				nr_strv_free(w, n);
				return nr_error_set(err, -NR_E_NOMEM, NULL);
			}
			j->cmds = c;
			for (size_t k = 1; k < n; k++) {
				argv[k - 1] = w[k];
				w[k] = NULL;
			}
			c[j->n_cmds++] = argv;
		} else {
			bad = 1;
		}
		nr_strv_free(w, n);
		if (bad)
			return nr_error_set(err, -NR_E_PARSE, "%s line %d is damaged: '%s'", where, lineno, line);
	}
	if (lineno == 0 || j->state == NR_PLAN_STATE_NONE)
		return nr_error_set(err, -NR_E_PARSE, "%s is incomplete", where);
	return 0;
}

/* Paths of the plan's own state, relative to root. */
struct places {
	char *state;            /* "var/lib/neuron" */
	char *journal;          /* "var/lib/neuron/plans/vfio.journal" */
	char *backup;           /* "var/lib/neuron/backup/vfio" */
};

/* Where the originals go, under state_dir: BACKUP_DIR/NAME/ */
#define BACKUP_DIR "backup"

char *nr_plan_backup_dir(const struct nr_ctx *ctx, const char *name)
{
	char *dir = nr_path_join(nr_ctx_get(ctx, "state_dir"), BACKUP_DIR), *full;

	if (!dir || !name)
		return dir;
	full = nr_path_join(dir, name);
	free(dir);
	return full;
}

static void places_done(struct places *p)
{
	free(p->state);
	free(p->journal);
	free(p->backup);
}

static int places_get(const struct nr_ctx *ctx, const struct nr_root *r, const char *name,
		      struct places *p, struct nr_error *err)
{
	int rc;

	memset(p, 0, sizeof(*p));
	if (!name_ok(name))
		return nr_error_set(err, -NR_E_INVAL, "bad plan name '%s'", name ? name : "");
	if ((rc = nr_root_resolve(r, nr_ctx_get(ctx, "state_dir"), &p->state, err)) < 0)
		return rc;
	if (asprintf(&p->journal, "%s%splans/%s.journal", p->state, p->state[0] ? "/" : "", name) < 0)
		p->journal = NULL;
	if (asprintf(&p->backup, "%s%s" BACKUP_DIR "/%s", p->state, p->state[0] ? "/" : "", name) < 0)
		p->backup = NULL;
	if (!p->journal || !p->backup) {
		places_done(p);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	return 0;
}

static char *backup_rel(const struct places *p, const char *rel)
{
	char *s;

	return asprintf(&s, "%s/%s", p->backup, rel) < 0 ? NULL : s;
}

static int journal_read(const struct nr_root *r, const struct places *p, struct journal *j,
			struct nr_error *err)
{
	char *text = NULL;
	int rc;

	memset(j, 0, sizeof(*j));
	rc = nr_root_read(r, p->journal, &text, NULL, NULL, NULL, NULL, err);
	if (rc == -NR_E_NOTFOUND) {
		nr_error_clear(err);
		return 0;
	}
	if (rc < 0)
		return rc;
	j->exists = true;
	char where[4200];
	snprintf(where, sizeof(where), "%s/%s", r->path, p->journal);
	rc = journal_parse(j, text, where, err);
	free(text);
	if (rc < 0)
		journal_done(j);
	return rc;
}

/* ------------------------------------------------------------------- running -- */

struct run {
	const struct nr_plan_opts *opts;
	int fault_after;
	int steps;
};

static void run_init(struct run *run, const struct nr_plan_opts *opts)
{
	static const struct nr_plan_opts none;
	const char *env;

	run->opts = opts ? opts : &none;
	run->steps = 0;
	run->fault_after = run->opts->fault_after;
	if (run->fault_after <= 0 && (env = getenv("NEURON_FAULT_AFTER")) && *env)
		run->fault_after = atoi(env);
}

static void emit(struct run *run, enum nr_plan_event ev, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void emit(struct run *run, enum nr_plan_event ev, const char *fmt, ...)
{
	char *s;
	va_list ap;

	if (!run->opts->output)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) >= 0) {
		run->opts->output(run->opts->userdata, ev, s);
		free(s);
	}
	va_end(ap);
}

/* One journal step done. With the fault hook, stop right here, as a crash would:
 * nothing is cleaned up, the journal says where it stood. */
static int step(struct run *run, struct nr_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int step(struct run *run, struct nr_error *err, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	run->steps++;
	if (s && run->opts->output)
		run->opts->output(run->opts->userdata, NR_PLAN_EV_STEP, s);
	if (run->fault_after > 0 && run->steps >= run->fault_after) {
		nr_error_set(err, -NR_E_FAULT, "stopped by NEURON_FAULT_AFTER=%d after step %d (%s)",
			     run->fault_after, run->steps, s ? s : "");
		free(s);
		return -NR_E_FAULT;
	}
	free(s);
	return 0;
}

static int journal_write(const struct nr_root *r, const struct places *p, const struct journal *j,
			 struct nr_error *err)
{
	char *text = journal_text(j);
	char **made = NULL;
	size_t n_made = 0;
	int rc;

	if (!text)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	rc = nr_root_stage(r, p->journal, text, strlen(text), 0644, geteuid(), getegid(), &made, &n_made, err);
	if (rc == 0)
		rc = nr_root_commit(r, p->journal, err);
	nr_strv_free(made, n_made);
	free(text);
	return rc;
}

/* The nearest existing directory of rel must sit on a writable file system. */
static int check_writable(const struct nr_root *r, const char *rel, struct nr_error *err)
{
	char *dir = strdup(rel);
	struct statvfs vfs;
	int rc = 0;

	if (!dir)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	for (;;) {
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		else
			dir[0] = '\0';
		struct stat st;
		const char *d = dir[0] ? dir : ".";
		if (fstatat(r->fd, d, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
			char full[4200];
			snprintf(full, sizeof(full), "%s/%s", r->path, dir);
			if ((statvfs(full, &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) || access(full, W_OK) < 0)
				rc = nr_error_set(err, -NR_E_READONLY,
						  "%s is not writable: run as root, and if the target is mounted "
						  "read-only, mount it read-write (mount -o remount,rw %s), then "
						  "try again", full, r->path);
			break;
		}
		if (!dir[0])
			break;
	}
	free(dir);
	return rc;
}

static struct jfile *journal_find(struct journal *j, const char *rel)
{
	for (size_t i = 0; i < j->n_files; i++)
		if (strcmp(j->files[i].rel, rel) == 0)
			return &j->files[i];
	return NULL;
}

static bool argv_eq(char *const *a, char *const *b)
{
	size_t i;

	for (i = 0; a[i] && b[i]; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return !a[i] && !b[i];
}

static bool exists_rel(const struct nr_root *r, const char *rel)
{
	struct stat st;

	return fstatat(r->fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Put the originals back, remove what the apply created, drop journal and backups. */
static int revert_files(const struct nr_ctx *ctx, const struct nr_root *r, const struct places *p,
			struct journal *j, struct run *run, struct nr_plan_result *res,
			struct nr_error *err)
{
	int rc;

	if (j->state != NR_PLAN_STATE_REVERTING) {
		j->state = NR_PLAN_STATE_REVERTING;
		if ((rc = journal_write(r, p, j, err)) < 0)
			return rc;
		if ((rc = step(run, err, "journal: reverting %zu file(s)", j->n_files)) < 0)
			return rc;
	}
	for (size_t k = j->n_files; k-- > 0;) {
		struct jfile *f = &j->files[k];
		char *brel;

		nr_root_drop_stage(r, f->rel);
		if (f->kind == 'C') {
			if (!exists_rel(r, f->rel))
				continue;
			if ((rc = nr_root_unlink(r, f->rel, err)) < 0)
				return rc;
			res->files_changed++;
			if ((rc = step(run, err, "removed /%s", f->rel)) < 0)
				return rc;
			continue;
		}
		if (!(brel = backup_rel(p, f->rel)))
			return nr_error_set(err, -NR_E_NOMEM, NULL);
		char *orig = NULL, *cur = NULL;
		size_t olen = 0, clen = 0;
		mode_t mode;
		uid_t uid;
		gid_t gid;
		rc = nr_root_read(r, brel, &orig, &olen, &mode, &uid, &gid, err);
		free(brel);
		if (rc == -NR_E_NOTFOUND) {
			/* the apply stopped before it kept this original: the file was not touched */
			nr_error_clear(err);
			continue;
		}
		if (rc < 0)
			return rc;
		bool same = nr_root_read(r, f->rel, &cur, &clen, NULL, NULL, NULL, NULL) == 0 &&
			clen == olen && memcmp(cur, orig, olen) == 0;
		free(cur);
		if (!same) {
			rc = nr_root_stage(r, f->rel, orig, olen, mode, uid, gid, NULL, NULL, err);
			if (rc == 0)
				rc = step(run, err, "staged the original of /%s", f->rel);
			if (rc == 0)
				rc = nr_root_commit(r, f->rel, err);
			if (rc == 0) {
				res->files_changed++;
				rc = step(run, err, "restored /%s", f->rel);
			}
		}
		free(orig);
		if (rc < 0)
			return rc;
	}
	(void)ctx;
	return 0;
}

/* The last step of a revert: backups, journal and the directories the apply made go. */
static int revert_cleanup(const struct nr_root *r, const struct places *p, struct journal *j,
			  struct run *run, struct nr_error *err)
{
	int rc;

	if ((rc = nr_root_remove_tree(r, p->backup, err)) < 0)
		return rc;
	if ((rc = nr_root_unlink(r, p->journal, err)) < 0)
		return rc;
	for (size_t k = j->n_dirs; k-- > 0;)
		nr_root_rmdir(r, j->dirs[k]);
	return step(run, err, "journal: removed, originals restored");
}

static int run_commands(const struct nr_ctx *ctx, char ***cmds, size_t n, struct run *run,
			struct nr_plan_result *res, struct nr_error *err)
{
	for (size_t i = 0; i < n; i++) {
		char *line = nr_plan_command_line((const char *const *)cmds[i]);
		int status = -1, rc;

		emit(run, NR_PLAN_EV_COMMAND, "%s", line ? line : cmds[i][0]);
		rc = nr_plan_run(ctx, (const char *const *)cmds[i], run->opts->output, run->opts->userdata,
				 &status, err);
		if (rc == 0 && status != 0) {
			res->failed_command = (int)i;
			res->failed_status = status;
			rc = nr_error_set(err, -NR_E_COMMAND, "'%s' failed (exit status %d)",
					  line ? line : cmds[i][0], status);
		}
		if (rc == 0) {
			res->commands_run++;
			rc = step(run, err, "ran %s", line ? line : cmds[i][0]);
		}
		free(line);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void result_init(struct nr_plan_result *res)
{
	memset(res, 0, sizeof(*res));
	res->failed_command = -1;
}

/* Re-read every edit's current content. strict: a change since the plan is an error;
 * otherwise the plan's view is brought up to date. */
static int refresh_edits(struct nr_plan *plan, const struct nr_root *r, bool strict,
			 struct nr_error *err)
{
	for (size_t i = 0; i < plan->n_edits; i++) {
		struct edit *e = &plan->edits[i];
		char *cur = NULL;
		size_t len = 0;
		int rc = nr_root_read(r, e->rel, &cur, &len, NULL, NULL, NULL, err);

		if (rc == -NR_E_NOTFOUND) {
			nr_error_clear(err);
			cur = NULL;
		} else if (rc < 0) {
			return rc;
		}
		bool same = (!cur && !e->old_text) ||
			(cur && e->old_text && len == e->pub.old_len && memcmp(cur, e->old_text, len) == 0);
		if (!same && strict) {
			free(cur);
			return nr_error_set(err, -NR_E_STALE, "%s changed since the plan was made: plan again",
					    e->path);
		}
		if (!same) {
			free(e->old_text);
			e->old_text = cur;
			e->pub.old_len = len;
			cur = NULL;
		}
		free(cur);
		edit_sync_pub(e);
	}
	return 0;
}

int nr_plan_apply(struct nr_plan *plan, const struct nr_plan_opts *opts,
		  struct nr_plan_result *result, struct nr_error *err)
{
	struct nr_plan_result local;
	struct nr_plan_result *res = result ? result : &local;
	struct nr_root r = { NULL, -1 };
	struct places p = { 0 };
	struct journal j = { 0 };
	struct run run;
	size_t n_change = 0;
	int rc;

	result_init(res);
	run_init(&run, opts);
	if ((rc = root_of(plan->ctx, &r, err)) < 0)
		return rc;
	if ((rc = lock_root(&r, err)) < 0)
		goto out;
	if ((rc = places_get(plan->ctx, &r, plan->name, &p, err)) < 0)
		goto out;
	if ((rc = check_writable(&r, p.journal, err)) < 0)
		goto out;
	for (size_t i = 0; i < plan->n_edits; i++)
		if ((rc = check_writable(&r, plan->edits[i].rel, err)) < 0)
			goto out;
	if ((rc = journal_read(&r, &p, &j, err)) < 0)
		goto out;
	bool refresh = false;
	if (j.exists && j.state == NR_PLAN_STATE_REVERTING) {
		emit(&run, NR_PLAN_EV_NOTE, "an interrupted revert is finished first");
		if ((rc = revert_files(plan->ctx, &r, &p, &j, &run, res, err)) < 0 ||
		    (rc = revert_cleanup(&r, &p, &j, &run, err)) < 0)
			goto out;
		journal_done(&j);
		res->finished_interrupted = true;
		refresh = true;
	}
	bool was_applying = j.exists && j.state == NR_PLAN_STATE_APPLYING;
	if ((rc = refresh_edits(plan, &r, !refresh, err)) < 0)
		goto out;
	for (size_t i = 0; i < j.n_files; i++)
		nr_root_drop_stage(&r, j.files[i].rel);
	for (size_t i = 0; i < plan->n_edits; i++) {
		if (plan->edits[i].pub.changes)
			n_change++;
		else
			res->files_unchanged++;
	}

	if (n_change == 0 && !was_applying && (!j.exists || !j.pending)) {
		emit(&run, NR_PLAN_EV_NOTE, "nothing to change: every file already has its planned content");
		rc = 0;
		goto out;
	}

	/* Merge the plan into the journal: paths already recorded keep their first original. */
	for (size_t i = 0; i < plan->n_edits; i++) {
		struct edit *e = &plan->edits[i];
		struct jfile *f;

		if (!e->pub.changes)
			continue;
		f = journal_find(&j, e->rel);
		if (!f) {
			struct jfile *nf = realloc(j.files, (j.n_files + 1) * sizeof(*nf));
			if (!nf) {
				rc = nr_error_set(err, -NR_E_NOMEM, NULL);
				goto out;
			}
			j.files = nf;
			f = &nf[j.n_files++];
			f->kind = !e->old_text ? 'C' : e->new_text ? 'R' : 'D';
			if (!(f->rel = strdup(e->rel))) {
				j.n_files--;
				rc = nr_error_set(err, -NR_E_NOMEM, NULL);
				goto out;
			}
			if (f->kind == 'C') {
				char **dirs = NULL;
				size_t n_dirs = 0;
				if ((rc = nr_root_missing_dirs(&r, e->rel, &dirs, &n_dirs, err)) < 0)
					goto out;
				for (size_t k = 0; k < n_dirs && rc == 0; k++)
					rc = nr_strv_add_unique(&j.dirs, &j.n_dirs, dirs[k]);
				nr_strv_free(dirs, n_dirs);
				if (rc < 0) {
					rc = nr_error_set(err, rc, NULL);
					goto out;
				}
			}
		}
		f->hash = e->new_text ? fnv1a(e->new_text, e->pub.new_len) : 0;
	}
	/* the plan's own state directories, when this apply makes them */
	{
		char *probe = backup_rel(&p, "x");
		char **dirs = NULL;
		size_t n_dirs = 0;
		rc = probe ? nr_root_missing_dirs(&r, p.journal, &dirs, &n_dirs, err) : -NR_E_NOMEM;
		if (rc == 0)
			rc = nr_root_missing_dirs(&r, probe, &dirs, &n_dirs, err);
		/* the backup tree itself goes with remove_tree; its parents are recorded */
		for (size_t k = 0; k < n_dirs && rc == 0; k++)
			if (strcmp(dirs[k], p.backup) != 0)
				rc = nr_strv_add_unique(&j.dirs, &j.n_dirs, dirs[k]);
		nr_strv_free(dirs, n_dirs);
		free(probe);
		if (rc < 0) {
			rc = nr_error_set(err, rc, NULL);
			goto out;
		}
	}
	for (size_t i = 0; i < plan->n_meta; i++) {
		size_t k;
		for (k = 0; k < j.n_meta; k++)
			if (strcmp(j.mkeys[k], plan->meta_keys[i]) == 0)
				break;
		if (k == j.n_meta) {
			char **nk = realloc(j.mkeys, (j.n_meta + 1) * sizeof(*nk));
			if (nk)
				j.mkeys = nk;
			char **nv = nk ? realloc(j.mvals, (j.n_meta + 1) * sizeof(*nv)) : NULL;
			if (nv)
				j.mvals = nv;
			if (!nv || !(j.mkeys[k] = strdup(plan->meta_keys[i]))) {
				rc = nr_error_set(err, -NR_E_NOMEM, NULL);
				goto out;
			}
			j.mvals[k] = NULL;
			j.n_meta++;
		}
		free(j.mvals[k]);
		if (!(j.mvals[k] = strdup(plan->meta_values[i]))) {
			rc = nr_error_set(err, -NR_E_NOMEM, NULL);
			goto out;
		}
	}
	for (size_t i = 0; i < plan->n_cmds; i++) {
		bool have = false;
		for (size_t k = 0; k < j.n_cmds && !have; k++)
			have = argv_eq(j.cmds[k], plan->cmds[i].argv);
		if (have)
			continue;
		char ***nc = realloc(j.cmds, (j.n_cmds + 1) * sizeof(*nc));
		char **copy = nc ? argv_dup((const char *const *)plan->cmds[i].argv) : NULL;
		if (nc)
			j.cmds = nc;
		if (!copy) {
			rc = nr_error_set(err, -NR_E_NOMEM, NULL);
			goto out;
		}
		j.cmds[j.n_cmds++] = copy;
	}

	if (n_change > 0 || was_applying) {
		j.exists = true;
		j.state = NR_PLAN_STATE_APPLYING;
		if (n_change > 0 && j.n_cmds > 0)
			j.pending = true;
		if ((rc = journal_write(&r, &p, &j, err)) < 0)
			goto out;
		if ((rc = step(&run, err, "journal: applying %zu file(s)", n_change)) < 0)
			goto out;
		if (was_applying)
			emit(&run, NR_PLAN_EV_NOTE, "finishing an interrupted apply");

		for (size_t i = 0; i < plan->n_edits; i++) {
			struct edit *e = &plan->edits[i];
			struct jfile *f = journal_find(&j, e->rel);
			char *brel;

			if (!e->pub.changes || !f)
				continue;
			if (f->kind != 'C' && e->old_text) {
				if (!(brel = backup_rel(&p, e->rel))) {
					rc = nr_error_set(err, -NR_E_NOMEM, NULL);
					goto out;
				}
				if (!exists_rel(&r, brel)) {
					mode_t mode;
					uid_t uid;
					gid_t gid;
					char *orig = NULL;
					size_t olen;
					rc = nr_root_read(&r, e->rel, &orig, &olen, &mode, &uid, &gid, err);
					if (rc == 0) {
						char **made = NULL;
						size_t n_made = 0;
						rc = nr_root_stage(&r, brel, orig, olen, mode, uid, gid, &made, &n_made, err);
						nr_strv_free(made, n_made);
					}
					if (rc == 0)
						rc = nr_root_commit(&r, brel, err);
					free(orig);
					if (rc == 0)
						rc = step(&run, err, "kept the original of %s", e->path);
				}
				free(brel);
				if (rc < 0)
					goto out;
			}
			if (!e->new_text) {
				if ((rc = nr_root_unlink(&r, e->rel, err)) < 0)
					goto out;
				res->files_changed++;
				if ((rc = step(&run, err, "removed %s", e->path)) < 0)
					goto out;
				continue;
			}
			mode_t mode = 0644;
			uid_t uid = geteuid();
			gid_t gid = getegid();
			char *cur = NULL;
			if (nr_root_read(&r, e->rel, &cur, NULL, &mode, &uid, &gid, NULL) == 0)
				free(cur);
			char **made = NULL;
			size_t n_made = 0;
			rc = nr_root_stage(&r, e->rel, e->new_text, e->pub.new_len, mode, uid, gid,
					   &made, &n_made, err);
			nr_strv_free(made, n_made);
			if (rc == 0)
				rc = step(&run, err, "staged %s", e->path);
			if (rc == 0)
				rc = nr_root_commit(&r, e->rel, err);
			if (rc == 0) {
				res->files_changed++;
				rc = step(&run, err, "wrote %s", e->path);
			}
			if (rc < 0)
				goto out;
		}
		j.state = NR_PLAN_STATE_APPLIED;
		if ((rc = journal_write(&r, &p, &j, err)) < 0)
			goto out;
		if ((rc = step(&run, err, "journal: applied")) < 0)
			goto out;
		if (was_applying)
			res->finished_interrupted = true;
	}

	if (j.pending && j.n_cmds > 0) {
		if (run.opts->no_commands) {
			emit(&run, NR_PLAN_EV_NOTE, "commands not run (--no-regenerate): they stay pending");
		} else {
			if ((rc = run_commands(plan->ctx, j.cmds, j.n_cmds, &run, res, err)) < 0)
				goto out;
			j.pending = false;
			if ((rc = journal_write(&r, &p, &j, err)) < 0)
				goto out;
			rc = step(&run, err, "journal: commands done");
		}
	} else if (j.pending) {
		j.pending = false;
		if ((rc = journal_write(&r, &p, &j, err)) < 0)
			goto out;
	}
out:
	journal_done(&j);
	places_done(&p);
	nr_root_close(&r);
	return rc;
}

int nr_plan_revert(const struct nr_ctx *ctx, const char *name, const struct nr_plan_opts *opts,
		   struct nr_plan_result *result, struct nr_error *err)
{
	struct nr_plan_result local;
	struct nr_plan_result *res = result ? result : &local;
	struct nr_root r = { NULL, -1 };
	struct places p = { 0 };
	struct journal j = { 0 };
	struct run run;
	int rc;

	result_init(res);
	run_init(&run, opts);
	if ((rc = root_of(ctx, &r, err)) < 0)
		return rc;
	if ((rc = lock_root(&r, err)) < 0)
		goto out;
	if ((rc = places_get(ctx, &r, name, &p, err)) < 0)
		goto out;
	if ((rc = journal_read(&r, &p, &j, err)) < 0)
		goto out;
	if (!j.exists) {
		rc = nr_error_set(err, -NR_E_NOTFOUND, "nothing to revert: no '%s' change is recorded under %s",
				  name, r.path);
		goto out;
	}
	if ((rc = check_writable(&r, p.journal, err)) < 0)
		goto out;
	for (size_t i = 0; i < j.n_files; i++)
		if ((rc = check_writable(&r, j.files[i].rel, err)) < 0)
			goto out;
	res->finished_interrupted = j.state != NR_PLAN_STATE_APPLIED;
	if ((rc = revert_files(ctx, &r, &p, &j, &run, res, err)) < 0)
		goto out;
	/* The commands run before the journal goes: when one fails (or the run stops), the
	 * journal still says "reverting" and the next revert runs them again. */
	if (j.n_cmds > 0) {
		if (run.opts->no_commands)
			emit(&run, NR_PLAN_EV_NOTE, "commands not run (--no-regenerate): run them by hand");
		else if ((rc = run_commands(ctx, j.cmds, j.n_cmds, &run, res, err)) < 0)
			goto out;
	}
	rc = revert_cleanup(&r, &p, &j, &run, err);
out:
	journal_done(&j);
	places_done(&p);
	nr_root_close(&r);
	return rc;
}

int nr_plan_status_read(const struct nr_ctx *ctx, const char *name, struct nr_plan_status *st,
			struct nr_error *err)
{
	struct nr_root r = { NULL, -1 };
	struct places p = { 0 };
	struct journal j = { 0 };
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = root_of(ctx, &r, err)) < 0)
		return rc;
	if ((rc = places_get(ctx, &r, name, &p, err)) < 0)
		goto out;
	if (asprintf(&st->journal_path, "%s/%s", r.path, p.journal) < 0) {
		st->journal_path = NULL;
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto out;
	}
	if ((rc = journal_read(&r, &p, &j, err)) < 0 || !j.exists)
		goto out;
	st->state = j.state;
	st->commands_pending = j.pending && j.n_cmds > 0;
	st->files = calloc(j.n_files + 1, sizeof(*st->files));
	st->commands = calloc(j.n_cmds + 1, sizeof(*st->commands));
	st->meta_keys = calloc(j.n_meta + 1, sizeof(char *));
	st->meta_values = calloc(j.n_meta + 1, sizeof(char *));
	if (!st->files || !st->commands || !st->meta_keys || !st->meta_values) {
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto out;
	}
	for (size_t i = 0; i < j.n_files; i++) {
		struct nr_plan_status_file *f = &st->files[st->n_files];
		char *brel = backup_rel(&p, j.files[i].rel), *cur = NULL;
		size_t len = 0;

		if (!brel || asprintf(&f->path, "/%s", j.files[i].rel) < 0) {
			free(brel);
			rc = nr_error_set(err, -NR_E_NOMEM, NULL);
			goto out;
		}
		st->n_files++;
		f->created = j.files[i].kind == 'C';
		f->removed = j.files[i].kind == 'D';
		f->backed_up = exists_rel(&r, brel);
		free(brel);
		if (j.state == NR_PLAN_STATE_APPLIED && j.files[i].kind != 'D') {
			if (nr_root_read(&r, j.files[i].rel, &cur, &len, NULL, NULL, NULL, NULL) == 0)
				f->modified = fnv1a(cur, len) != j.files[i].hash;
			else
				f->modified = true;
			free(cur);
		}
	}
	for (size_t i = 0; i < j.n_cmds; i++) {
		if (!(st->commands[i] = nr_plan_command_line((const char *const *)j.cmds[i]))) {
			rc = nr_error_set(err, -NR_E_NOMEM, NULL);
			goto out;
		}
		st->n_commands++;
	}
	for (size_t i = 0; i < j.n_meta; i++) {
		st->meta_keys[i] = j.mkeys[i];
		st->meta_values[i] = j.mvals[i];
		j.mkeys[i] = j.mvals[i] = NULL;
		st->n_meta++;
	}
out:
	journal_done(&j);
	places_done(&p);
	nr_root_close(&r);
	if (rc < 0)
		nr_plan_status_done(st);
	return rc;
}

void nr_plan_status_done(struct nr_plan_status *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n_files; i++)
		free(st->files[i].path);
	free(st->files);
	nr_strv_free(st->commands, st->n_commands);
	nr_strv_free(st->meta_keys, st->n_meta);
	nr_strv_free(st->meta_values, st->n_meta);
	free(st->journal_path);
	memset(st, 0, sizeof(*st));
}

const char *nr_plan_status_meta(const struct nr_plan_status *st, const char *key)
{
	for (size_t i = 0; i < st->n_meta; i++)
		if (strcmp(st->meta_keys[i], key) == 0)
			return st->meta_values[i];
	return NULL;
}
