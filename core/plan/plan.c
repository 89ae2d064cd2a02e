/* The plan engine, building and reading a plan: file edits (each read from the target
 * now, for the diff), actions, commands, notes, meta. Its journal is journal.c; applying
 * and reverting it, plan_apply.c. See plan.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/internal.h"
#include "plan/plan_internal.h"

/* ------------------------------------------------------------------ building -- */

bool nr_plan_name_ok(const char *name)
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

	if (!ctx || !nr_plan_name_ok(name))
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

char **nr_argv_dup(const char *const *argv)
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

void nr_argv_free(char **v)
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
		nr_argv_free(plan->cmds[i].argv);
		free(plan->cmds[i].why);
	}
	free(plan->cmds);
	for (size_t i = 0; i < plan->n_actions; i++) {
		nr_action_done(&plan->actions[i].a);
		free(plan->actions[i].text);
	}
	free(plan->actions);
	nr_strv_free(plan->notes, plan->n_notes);
	nr_strv_free(plan->meta_keys, plan->n_meta);
	nr_strv_free(plan->meta_values, plan->n_meta);
	free(plan->name);
	free(plan);
}

bool nr_argv_eq(char *const *a, char *const *b)
{
	size_t i;

	for (i = 0; a[i] && b[i]; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return !a[i] && !b[i];
}

static int root_of(const struct nr_ctx *ctx, struct nr_root *r, struct nr_error *err)
{
	return nr_root_open(r, nr_ctx_get(ctx, "root"), err);
}

int nr_plan_check_text(const char *path, const char *text, size_t len, struct nr_error *err)
{
	const char *nul = memchr(text, '\0', len);

	if (len > NR_PLAN_MAX_TEXT)
		return nr_error_set(err, -NR_E_NOTTEXT, "%s is %zu bytes, more than the %d a configuration "
				    "file neuron edits may have: it is left alone; check what it is",
				    path, len, NR_PLAN_MAX_TEXT);
	if (nul) {
		size_t line = 1;
		for (const char *p = text; p < nul; p++)
			line += *p == '\n';
		return nr_error_set(err, -NR_E_NOTTEXT, "%s:%zu has a NUL byte: it is not a text file, and an "
				    "edit would lose what follows it; fix the file (or restore it from a "
				    "backup), then plan again", path, line);
	}
	return 0;
}

/* Read path under root and check that it is text a plan may edit. */
static int read_text(const struct nr_root *r, const char *path, char **rel, char **text, size_t *len,
		     struct nr_error *err)
{
	size_t n = 0;
	int rc;

	*text = NULL;
	if ((rc = nr_root_resolve(r, path, rel, err)) < 0)
		return rc;
	if (!(*rel)[0])
		return nr_error_set(err, -NR_E_INVAL, "cannot plan an edit of the root itself");
	if ((rc = nr_root_read(r, *rel, NR_PLAN_MAX_TEXT, text, &n, NULL, NULL, NULL, err)) < 0)
		return rc;
	char shown[4200];
	snprintf(shown, sizeof(shown), "%s/%s", r->path, *rel);
	if ((rc = nr_plan_check_text(shown, *text, n, err)) < 0) {
		free(*text);
		*text = NULL;
		return rc;
	}
	if (len)
		*len = n;
	return 0;
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
	rc = read_text(&r, path, &rel, text, len, err);
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
		yes = nr_root_stat(&r, rel, &st, NULL) == 0;
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

void nr_plan_edit_sync(struct edit *e)
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
	rc = read_text(&r, path, &rel, &old, &old_len, err);
	if (rc == -NR_E_NOTFOUND) {
		nr_error_clear(err);
		rc = 0;
	} else if (rc < 0) {
		goto out;
	}
	if (!remove) {
		if ((rc = nr_plan_check_text(path, text, len, err)) < 0)
			goto out;
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
	nr_plan_edit_sync(e);
	/* pointers into a realloc'd array: refresh every edit's public view */
	for (size_t i = 0; i < plan->n_edits; i++)
		nr_plan_edit_sync(&plan->edits[i]);
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
	copy = nr_argv_dup(argv);
	nv = copy ? realloc(plan->cmds, (plan->n_cmds + 1) * sizeof(*nv)) : NULL;
	if (!nv) {
		nr_argv_free(copy);
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

int nr_plan_add_action(struct nr_plan *plan, const char *type, const char *const *kv,
		       struct nr_error *err)
{
	const struct nr_action_type *t = nr_action_type_find(type);
	struct plan_action *nv, *pa;

	if (!t)
		return nr_error_set(err, -NR_E_INVAL, "no plan action '%s'", type);
	nv = realloc(plan->actions, (plan->n_actions + 1) * sizeof(*nv));
	if (!nv)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	plan->actions = nv;
	pa = &nv[plan->n_actions];
	memset(pa, 0, sizeof(*pa));
	pa->a.type = t;
	for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2)
		if (nr_action_set(&pa->a, kv[i], kv[i + 1]) < 0) {
			nr_action_done(&pa->a);
			return nr_error_set(err, -NR_E_NOMEM, NULL);
		}
	if (!(pa->text = t->describe(&pa->a))) {
		nr_action_done(&pa->a);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	plan->n_actions++;
	for (size_t i = 0; i < plan->n_actions; i++) {
		plan->actions[i].pub.type = plan->actions[i].a.type->name;
		plan->actions[i].pub.text = plan->actions[i].text;
	}
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

size_t nr_plan_n_actions(const struct nr_plan *plan) { return plan->n_actions; }

const struct nr_plan_action *nr_plan_action(const struct nr_plan *plan, size_t i)
{
	return i < plan->n_actions ? &plan->actions[i].pub : NULL;
}

bool nr_plan_is_noop(const struct nr_plan *plan)
{
	if (plan->n_actions)
		return false;
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

