/* The journal of a plan: where it lives, its format, reading, writing, and merging a new
 * plan into it. One text file, one record a line, every word %-escaped:
 *
 *   neuron-plan 2
 *   state applying|applied
 *   pending 0|1                       the commands have not completed
 *   meta KEY VALUE
 *   dir REL                           made by the applies (outermost first)
 *   file C|R|D HASH REL [TEXT]        what the first apply found (C absent, R present,
 *                                     D present and removed), the planned content's hash
 *                                     and the planned content itself (none: planned absent)
 *   action TYPE KEY=VALUE...          a plan action and its arguments
 *   cmd ARG...                        a command that follows
 *   note TEXT                         what the latest plan said the user must know
 *
 * Version 1 journals (no planned contents, no actions) are still read. Every REL is
 * checked: one that leaves the root refuses the whole journal. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/internal.h"
#include "plan/plan_internal.h"

#define JOURNAL_MAGIC_1 "neuron-plan 1"
#define JOURNAL_MAGIC "neuron-plan 2"

/* ------------------------------------------------------------------- places -- */

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

void nr_places_done(struct places *p)
{
	free(p->state);
	free(p->journal);
	free(p->reverting);
	free(p->done);
	free(p->backup);
	memset(p, 0, sizeof(*p));
}

int nr_places_get(const struct nr_ctx *ctx, const struct nr_root *r, const char *name,
		  struct places *p, struct nr_error *err)
{
	int rc;

	memset(p, 0, sizeof(*p));
	if (!nr_plan_name_ok(name))
		return nr_error_set(err, -NR_E_INVAL, "bad plan name '%s'", name ? name : "");
	if ((rc = nr_root_resolve(r, nr_ctx_get(ctx, "state_dir"), &p->state, err)) < 0)
		return rc;
	if (!p->state[0]) {
		nr_places_done(p);
		return nr_error_set(err, -NR_E_INVAL, "the state directory cannot be the target root itself");
	}
	if (asprintf(&p->journal, "%s/plans/%s.journal", p->state, name) < 0)
		p->journal = NULL;
	if (asprintf(&p->reverting, "%s/plans/%s.revert", p->state, name) < 0)
		p->reverting = NULL;
	if (asprintf(&p->done, "%s/plans/%s.done", p->state, name) < 0)
		p->done = NULL;
	if (asprintf(&p->backup, "%s/" BACKUP_DIR "/%s", p->state, name) < 0)
		p->backup = NULL;
	if (!p->journal || !p->reverting || !p->done || !p->backup) {
		nr_places_done(p);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	return 0;
}

char *nr_backup_rel(const struct places *p, const char *rel)
{
	char *s;

	return asprintf(&s, "%s/%s", p->backup, rel) < 0 ? NULL : s;
}

const char *nr_journal_file(const struct places *p, const struct journal *j)
{
	if (j->state == NR_PLAN_STATE_REVERTING)
		return j->cleanup ? p->done : p->reverting;
	return p->journal;
}

/* ------------------------------------------------------------------- format -- */

uint64_t nr_journal_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void put_escaped(struct nr_buf *b, const char *s, size_t n)
{
	if (n == 0) {
		nr_buf_puts(b, "%");    /* the empty string */
		return;
	}
	nr_buf_reserve(b, n + n / 8);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c == '%' || c == '=' || c >= 0x7f)
			nr_buf_printf(b, "%%%02x", c);
		else
			nr_buf_append(b, s + i, 1);
	}
}

static void put_word(struct nr_buf *b, const char *s)
{
	nr_buf_puts(b, " ");
	put_escaped(b, s, strlen(s));
}

/* The inverse of put_escaped: %XX to its byte, a lone "%" to "". *len (may be NULL) gets
 * the length (the text may hold any byte but NUL: file contents pass the text check). */
static char *unescape(const char *s, size_t n, size_t *len)
{
	char *out = malloc(n + 1), *o = out;

	if (!out)
		return NULL;
	if (!(n == 1 && s[0] == '%')) {
		for (size_t i = 0; i < n; i++) {
			if (s[i] == '%' && i + 2 < n && nr_hex_digit(s[i + 1]) >= 0 && nr_hex_digit(s[i + 2]) >= 0) {
				*o++ = (char)(nr_hex_digit(s[i + 1]) * 16 + nr_hex_digit(s[i + 2]));
				i += 2;
				continue;
			}
			*o++ = s[i];
		}
	}
	*o = '\0';
	if (len)
		*len = (size_t)(o - out);
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
	/* a renamed journal keeps the state it began from */
	enum nr_plan_state st = j->state == NR_PLAN_STATE_REVERTING ? j->origin : j->state;

	nr_buf_init(&b);
	nr_buf_printf(&b, "%s\nstate %s\npending %d\n", JOURNAL_MAGIC, state_word(st), j->pending);
	for (size_t i = 0; i < j->n_meta; i++) {
		nr_buf_puts(&b, "meta");
		put_word(&b, j->mkeys[i]);
		put_word(&b, j->mvals[i]);
		nr_buf_puts(&b, "\n");
	}
	for (size_t i = 0; i < j->n_dirs; i++) {
		nr_buf_puts(&b, "dir");
		put_word(&b, j->dirs[i]);
		nr_buf_puts(&b, "\n");
	}
	for (size_t i = 0; i < j->n_files; i++) {
		const struct jfile *f = &j->files[i];
		nr_buf_printf(&b, "file %c %016llx", f->kind, (unsigned long long)f->hash);
		put_word(&b, f->rel);
		if (f->text) {
			nr_buf_puts(&b, " ");
			put_escaped(&b, f->text, f->len);
		}
		nr_buf_puts(&b, "\n");
	}
	for (size_t i = 0; i < j->n_actions; i++) {
		const struct nr_action *a = &j->actions[i];
		nr_buf_puts(&b, "action");
		put_word(&b, a->type->name);
		for (size_t k = 0; k < a->n; k++) {
			nr_buf_puts(&b, " ");
			put_escaped(&b, a->keys[k], strlen(a->keys[k]));
			nr_buf_puts(&b, "=");
			put_escaped(&b, a->vals[k], strlen(a->vals[k]));
		}
		nr_buf_puts(&b, "\n");
	}
	for (size_t i = 0; i < j->n_cmds; i++) {
		nr_buf_puts(&b, "cmd");
		for (size_t k = 0; j->cmds[i][k]; k++)
			put_word(&b, j->cmds[i][k]);
		nr_buf_puts(&b, "\n");
	}
	for (size_t i = 0; i < j->n_notes; i++) {
		nr_buf_puts(&b, "note");
		put_word(&b, j->notes[i]);
		nr_buf_puts(&b, "\n");
	}
	if (b.oom) {
		nr_buf_done(&b);
		return NULL;
	}
	return nr_buf_steal(&b);
}

/* Split a line on single spaces into its raw (still escaped) words. */
struct word {
	const char *s;
	size_t n;
};

static size_t split(const char *line, struct word *w, size_t max)
{
	size_t n = 0;

	while (*line && n < max) {
		size_t len = strcspn(line, " ");
		w[n].s = line;
		w[n].n = len;
		n++;
		line += len;
		if (*line == ' ')
			line++;
	}
	return *line ? max + 1 : n;
}

static bool word_is(const struct word *w, const char *s)
{
	return w->n == strlen(s) && memcmp(w->s, s, w->n) == 0;
}

void nr_journal_done(struct journal *j)
{
	for (size_t i = 0; i < j->n_files; i++) {
		free(j->files[i].rel);
		free(j->files[i].text);
	}
	free(j->files);
	nr_strv_free(j->dirs, j->n_dirs);
	for (size_t i = 0; i < j->n_cmds; i++)
		nr_argv_free(j->cmds[i]);
	free(j->cmds);
	nr_strv_free(j->mkeys, j->n_meta);
	nr_strv_free(j->mvals, j->n_meta);
	for (size_t i = 0; i < j->n_actions; i++)
		nr_action_done(&j->actions[i]);
	free(j->actions);
	nr_strv_free(j->notes, j->n_notes);
	memset(j, 0, sizeof(*j));
}

#define MAX_WORDS 256

/* One line (NUL-terminated, without its newline). */
static int parse_line(struct journal *j, char *line, const char *where, int lineno, struct nr_error *err)
{
	struct word w[MAX_WORDS];
	size_t n = split(line, w, MAX_WORDS);
	char *a = NULL, *b = NULL;

	if (n == 0 || n > MAX_WORDS)
		goto bad;
	if (n == 2 && word_is(&w[0], "state")) {
		if (word_is(&w[1], "applied"))
			j->state = NR_PLAN_STATE_APPLIED;
		else if (word_is(&w[1], "applying"))
			j->state = NR_PLAN_STATE_APPLYING;
		else
			goto bad;
		return 0;
	}
	if (n == 2 && word_is(&w[0], "pending")) {
		j->pending = !word_is(&w[1], "0");
		return 0;
	}
	if (n == 3 && word_is(&w[0], "meta")) {
		a = unescape(w[1].s, w[1].n, NULL);
		b = unescape(w[2].s, w[2].n, NULL);
		size_t k = j->n_meta;
		if (!a || !b || nr_strv_add(&j->mkeys, &k, a) < 0)
			goto oom;
		k = j->n_meta;
		if (nr_strv_add(&j->mvals, &k, b) < 0) {
			free(j->mkeys[j->n_meta]);
			goto oom;
		}
		j->n_meta++;
		free(a);
		free(b);
		return 0;
	}
	if (n == 2 && word_is(&w[0], "note")) {
		if (!(a = unescape(w[1].s, w[1].n, NULL)) || nr_strv_add(&j->notes, &j->n_notes, a) < 0)
			goto oom;
		free(a);
		return 0;
	}
	if (n == 2 && word_is(&w[0], "dir")) {
		if (!(a = unescape(w[1].s, w[1].n, NULL)))
			goto oom;
		if (!nr_root_rel_ok(a))
			goto escape;
		if (nr_strv_add(&j->dirs, &j->n_dirs, a) < 0)
			goto oom;
		free(a);
		return 0;
	}
	if ((n == 4 || n == 5) && word_is(&w[0], "file") && w[1].n == 1 && strchr("CRD", w[1].s[0])) {
		struct jfile *nf = realloc(j->files, (j->n_files + 1) * sizeof(*nf)), *f;
		if (!nf)
			goto oom;
		j->files = nf;
		f = &nf[j->n_files];
		memset(f, 0, sizeof(*f));
		char hash[17];
		snprintf(hash, sizeof(hash), "%.*s", (int)(w[2].n < 16 ? w[2].n : 16), w[2].s);
		f->kind = w[1].s[0];
		f->hash = strtoull(hash, NULL, 16);
		if (!(f->rel = unescape(w[3].s, w[3].n, NULL)))
			goto oom;
		if (!nr_root_rel_ok(f->rel)) {
			a = f->rel;
			f->rel = NULL;
			goto escape;
		}
		if (n == 5 && !(f->text = unescape(w[4].s, w[4].n, &f->len))) {
			free(f->rel);
			goto oom;
		}
		j->n_files++;
		return 0;
	}
	if (n >= 2 && word_is(&w[0], "action")) {
		struct nr_action *na = realloc(j->actions, (j->n_actions + 1) * sizeof(*na)), *act;
		if (!na)
			goto oom;
		j->actions = na;
		act = &na[j->n_actions];
		memset(act, 0, sizeof(*act));
		if (!(a = unescape(w[1].s, w[1].n, NULL)))
			goto oom;
		if (!(act->type = nr_action_type_find(a))) {
			nr_error_set(err, -NR_E_PARSE, "%s line %d names an action this neuronctl does not know "
				     "('%s'): use the neuronctl that applied it", where, lineno, a);
			free(a);
			return -NR_E_PARSE;
		}
		free(a);
		a = NULL;
		for (size_t k = 2; k < n; k++) {
			const char *eq = memchr(w[k].s, '=', w[k].n);
			if (!eq) {
				nr_action_done(act);
				goto bad;
			}
			a = unescape(w[k].s, (size_t)(eq - w[k].s), NULL);
			b = unescape(eq + 1, w[k].n - (size_t)(eq + 1 - w[k].s), NULL);
			if (!a || !b || nr_action_set(act, a, b) < 0) {
				nr_action_done(act);
				goto oom;
			}
			free(a);
			free(b);
			a = b = NULL;
		}
		j->n_actions++;
		return 0;
	}
	if (n >= 2 && word_is(&w[0], "cmd")) {
		char **argv = calloc(n, sizeof(*argv));
		char ***c = argv ? realloc(j->cmds, (j->n_cmds + 1) * sizeof(*c)) : NULL;
		if (!c) {
			free(argv);
			goto oom;
		}
		j->cmds = c;
		for (size_t k = 1; k < n; k++)
			if (!(argv[k - 1] = unescape(w[k].s, w[k].n, NULL))) {
				nr_argv_free(argv);
				goto oom;
			}
		c[j->n_cmds++] = argv;
		return 0;
	}
bad:
	return nr_error_set(err, -NR_E_PARSE, "%s line %d is damaged: '%.80s'", where, lineno, line);
escape:
	nr_error_set(err, -NR_E_ESCAPE, "%s line %d names '%s', which is not a path inside the target root: "
		     "the journal is damaged or was not written by neuronctl, and nothing it records is "
		     "touched; it is kept as it is, with the backups: check them, put the files back by "
		     "hand, then remove the journal", where, lineno, a);
	free(a);
	return -NR_E_ESCAPE;
oom:
	free(a);
	free(b);
	return nr_error_set(err, -NR_E_NOMEM, NULL);
}

static int journal_parse(struct journal *j, char *text, const char *where, struct nr_error *err)
{
	char *save = NULL, *line;
	int lineno = 0, rc;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (++lineno == 1) {
			if (strcmp(line, JOURNAL_MAGIC) != 0 && strcmp(line, JOURNAL_MAGIC_1) != 0)
				return nr_error_set(err, -NR_E_PARSE, "%s is not a neuron journal", where);
			continue;
		}
		if ((rc = parse_line(j, line, where, lineno, err)) < 0)
			return rc;
	}
	if (lineno == 0 || j->state == NR_PLAN_STATE_NONE)
		return nr_error_set(err, -NR_E_PARSE, "%s is incomplete", where);
	return 0;
}

int nr_journal_read(const struct nr_root *r, const struct places *p, struct journal *j,
		    struct nr_error *err)
{
	/* the name says the state: checked from the latest a revert can leave */
	const char *names[] = { p->done, p->reverting, p->journal };
	char *text = NULL, where[4200];
	int rc = -NR_E_NOTFOUND;
	size_t which;

	memset(j, 0, sizeof(*j));
	for (which = 0; which < 3; which++) {
		rc = nr_root_read(r, names[which], NR_PLAN_MAX_JOURNAL, &text, NULL, NULL, NULL, NULL, err);
		if (rc != -NR_E_NOTFOUND)
			break;
		nr_error_clear(err);
	}
	if (rc == -NR_E_NOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	j->exists = true;
	snprintf(where, sizeof(where), "%s/%s", r->path, names[which]);
	/* version 1 journals carry no planned contents */
	bool v2 = strncmp(text, JOURNAL_MAGIC "\n", strlen(JOURNAL_MAGIC) + 1) == 0;
	rc = journal_parse(j, text, where, err);
	free(text);
	if (rc < 0) {
		nr_journal_done(j);
		return rc;
	}
	for (size_t i = 0; i < j->n_files; i++)
		j->files[i].known = v2;
	if (which < 2) {
		j->origin = j->state;
		j->state = NR_PLAN_STATE_REVERTING;
		j->cleanup = which == 0;
	}
	return 0;
}

int nr_journal_create_stage(const struct nr_root *r, const struct places *p, struct journal *j,
			    char **top, struct nr_error *err)
{
	char **made = NULL, *text;
	size_t n_made = 0;
	int rc;

	*top = NULL;
	/* the state directories come with the journal, at once, and it records them */
	if ((rc = nr_root_missing_dirs(r, p->journal, &made, &n_made, err)) < 0)
		return rc;
	for (size_t i = 0; i < n_made && rc == 0; i++)
		rc = nr_strv_add_unique(&j->dirs, &j->n_dirs, made[i]);
	if (rc == 0 && n_made && !(*top = strdup(made[0])))
		rc = -NR_E_NOMEM;
	nr_strv_free(made, n_made);
	if (rc < 0)
		return nr_error_set(err, rc, NULL);
	if (!(text = journal_text(j))) {
		free(*top);
		*top = NULL;
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	rc = nr_root_create_stage(r, p->journal, text, strlen(text), 0644, NULL, NULL, err);
	free(text);
	if (rc < 0) {
		free(*top);
		*top = NULL;
	}
	return rc;
}

int nr_journal_create_commit(const struct nr_root *r, const struct places *p, const char *top,
			     struct nr_error *err)
{
	return nr_root_create_commit(r, p->journal, top, err);
}

int nr_journal_write(const struct nr_root *r, const struct places *p, struct journal *j,
		     struct nr_error *err)
{
	char *text, *top = NULL;
	int rc;

	if (!nr_root_exists(r, p->journal)) {
		if ((rc = nr_journal_create_stage(r, p, j, &top, err)) == 0)
			rc = nr_journal_create_commit(r, p, top, err);
		free(top);
		return rc;
	}
	if (!(text = journal_text(j)))
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	rc = nr_root_stage(r, p->journal, text, strlen(text), 0644, geteuid(), getegid(), NULL, NULL, err);
	if (rc == 0)
		rc = nr_root_commit(r, p->journal, err);
	if (rc < 0)
		nr_root_drop_stage(r, p->journal);
	free(text);
	return rc;
}

struct jfile *nr_journal_find(struct journal *j, const char *rel)
{
	for (size_t i = 0; i < j->n_files; i++)
		if (strcmp(j->files[i].rel, rel) == 0)
			return &j->files[i];
	return NULL;
}

/* ------------------------------------------------------------------- merging -- */

static int merge_edit(struct journal *j, const struct edit *e, const struct nr_root *r)
{
	struct jfile *f = nr_journal_find(j, e->rel);
	char *text = NULL;
	int rc;

	if (e->new_text && !(text = malloc(e->pub.new_len + 1)))
		return -NR_E_NOMEM;
	if (text) {
		memcpy(text, e->new_text, e->pub.new_len);
		text[e->pub.new_len] = '\0';
	}
	if (!f) {
		struct jfile *nf = realloc(j->files, (j->n_files + 1) * sizeof(*nf));
		if (!nf) {
			free(text);
			return -NR_E_NOMEM;
		}
		j->files = nf;
		f = &nf[j->n_files];
		memset(f, 0, sizeof(*f));
		f->kind = !e->old_text ? 'C' : e->new_text ? 'R' : 'D';
		if (!(f->rel = strdup(e->rel))) {
			free(text);
			return -NR_E_NOMEM;
		}
		j->n_files++;
		if (f->kind == 'C') {
			char **dirs = NULL;
			size_t n_dirs = 0;
			if ((rc = nr_root_missing_dirs(r, e->rel, &dirs, &n_dirs, NULL)) < 0) {
				free(text);
				return rc;
			}
			for (size_t k = 0; k < n_dirs && rc == 0; k++)
				rc = nr_strv_add_unique(&j->dirs, &j->n_dirs, dirs[k]);
			nr_strv_free(dirs, n_dirs);
			if (rc < 0) {
				free(text);
				return rc;
			}
		}
	}
	free(f->text);
	f->text = text;
	f->len = text ? e->pub.new_len : 0;
	f->hash = text ? nr_journal_hash(text, f->len) : 0;
	f->known = true;
	return 0;
}

static int merge_action(struct journal *j, const struct nr_action *a)
{
	for (size_t i = 0; i < j->n_actions; i++) {
		struct nr_action *old = &j->actions[i];
		if (!nr_action_same(old, a))
			continue;
		/* the new arguments, but what the target had before stays from the first */
		for (size_t k = 0; k < a->n; k++) {
			bool before = strcmp(a->keys[k], "before") == 0 || strncmp(a->keys[k], "before_", 7) == 0;
			if (before && nr_action_get(old, a->keys[k]))
				continue;
			if (nr_action_set(old, a->keys[k], a->vals[k]) < 0)
				return -NR_E_NOMEM;
		}
		return 0;
	}
	struct nr_action *na = realloc(j->actions, (j->n_actions + 1) * sizeof(*na));
	if (!na)
		return -NR_E_NOMEM;
	j->actions = na;
	if (nr_action_copy(&na[j->n_actions], a) < 0)
		return -NR_E_NOMEM;
	j->n_actions++;
	return 0;
}

int nr_journal_merge(struct journal *j, const struct nr_plan *plan, const struct nr_root *r,
		     const struct places *p, struct nr_error *err)
{
	int rc = 0;

	for (size_t i = 0; i < plan->n_edits && rc == 0; i++)
		if (plan->edits[i].pub.changes)
			rc = merge_edit(j, &plan->edits[i], r);
	/* the backups' parents, when this apply makes them (the backup tree itself goes
	 * whole with the revert) */
	char *probe = rc == 0 ? nr_backup_rel(p, "x") : NULL;
	char **dirs = NULL;
	size_t n_dirs = 0;
	if (rc == 0)
		rc = probe ? nr_root_missing_dirs(r, probe, &dirs, &n_dirs, NULL) : -NR_E_NOMEM;
	for (size_t k = 0; k < n_dirs && rc == 0; k++)
		if (strcmp(dirs[k], p->backup) != 0)
			rc = nr_strv_add_unique(&j->dirs, &j->n_dirs, dirs[k]);
	nr_strv_free(dirs, n_dirs);
	free(probe);
	for (size_t i = 0; i < plan->n_meta && rc == 0; i++) {
		size_t k;
		for (k = 0; k < j->n_meta; k++)
			if (strcmp(j->mkeys[k], plan->meta_keys[i]) == 0)
				break;
		if (k == j->n_meta) {
			size_t n = j->n_meta;
			if (nr_strv_add(&j->mkeys, &n, plan->meta_keys[i]) < 0) {
				rc = -NR_E_NOMEM;
				break;
			}
			n = j->n_meta;
			if (nr_strv_add(&j->mvals, &n, plan->meta_values[i]) < 0) {
				free(j->mkeys[j->n_meta]);
				rc = -NR_E_NOMEM;
				break;
			}
			j->n_meta++;
			continue;
		}
		char *v = strdup(plan->meta_values[i]);
		if (!v) {
			rc = -NR_E_NOMEM;
			break;
		}
		free(j->mvals[k]);
		j->mvals[k] = v;
	}
	for (size_t i = 0; i < plan->n_cmds && rc == 0; i++) {
		bool have = false;
		for (size_t k = 0; k < j->n_cmds && !have; k++)
			have = nr_argv_eq(j->cmds[k], plan->cmds[i].argv);
		if (have)
			continue;
		char ***nc = realloc(j->cmds, (j->n_cmds + 1) * sizeof(*nc));
		char **copy = nc ? nr_argv_dup((const char *const *)plan->cmds[i].argv) : NULL;
		if (nc)
			j->cmds = nc;
		if (!copy) {
			rc = -NR_E_NOMEM;
			break;
		}
		j->cmds[j->n_cmds++] = copy;
	}
	for (size_t i = 0; i < plan->n_actions && rc == 0; i++)
		rc = merge_action(j, &plan->actions[i].a);
	/* the notes are the latest plan's: what an interrupted apply of it must say again */
	if (rc == 0) {
		nr_strv_free(j->notes, j->n_notes);
		j->notes = NULL;
		j->n_notes = 0;
	}
	for (size_t i = 0; i < plan->n_notes && rc == 0; i++)
		rc = nr_strv_add_unique(&j->notes, &j->n_notes, plan->notes[i]);
	return rc < 0 ? nr_error_set(err, rc, NULL) : 0;
}

int nr_journal_leftovers(const struct nr_root *r, const struct places *p, char ***found, size_t *n)
{
	int rc = nr_root_stale_stages(r, p->journal, found, n);

	if (rc == 0)
		rc = nr_root_stale_stages(r, p->backup, found, n);
	return rc;
}
