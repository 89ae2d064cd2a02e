/* Applying, finishing and reverting a plan, and reading where it stands. Each operation
 * is a list of named steps over one locked root and its journal (journal.c); each step
 * that changes the root is counted, so that NEURON_FAULT_AFTER can stop right after it,
 * as a crash would. See plan.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/internal.h"
#include "plan/plan_internal.h"

/* ------------------------------------------------------------------ one operation -- */

struct op {
	const struct nr_ctx *ctx;
	const struct nr_plan_opts *opts;
	struct nr_plan_result *res, local_res;
	struct nr_error *err;
	struct nr_root r;
	struct places p;
	struct journal j;
	int fault_after, steps;
};

static void emit(struct op *o, enum nr_plan_event ev, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void emit(struct op *o, enum nr_plan_event ev, const char *fmt, ...)
{
	char *s;
	va_list ap;

	if (!o->opts->output)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) >= 0) {
		o->opts->output(o->opts->userdata, ev, s);
		free(s);
	}
	va_end(ap);
}

/* One journal step done. With the fault hook, stop right here, as a crash would:
 * nothing is cleaned up, the journal says where it stood. */
static int step(struct op *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int step(struct op *o, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	o->steps++;
	if (s && o->opts->output)
		o->opts->output(o->opts->userdata, NR_PLAN_EV_STEP, s);
	if (o->fault_after > 0 && o->steps >= o->fault_after) {
		nr_error_set(o->err, -NR_E_FAULT, "stopped by NEURON_FAULT_AFTER=%d after step %d (%s)",
			     o->fault_after, o->steps, s ? s : "");
		free(s);
		return -NR_E_FAULT;
	}
	free(s);
	return 0;
}

static void op_close(struct op *o)
{
	nr_journal_done(&o->j);
	nr_places_done(&o->p);
	nr_root_close(&o->r);
}

/* One change at a time per root: an advisory lock on the root directory itself (no file
 * is made for it, so a revert leaves the root as it was), taken before anything is read
 * or said. Released when the root is closed. */
static int lock_root(struct op *o)
{
	if (flock(o->r.fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	return nr_error_set(o->err, -NR_E_BUSY, "another neuronctl is changing %s right now: wait for it "
			    "and try again", o->r.path);
}

/* Names a run stopped before its journal left: always neuron's, removed. */
static int remove_leftovers(struct op *o)
{
	char **found = NULL;
	size_t n = 0;
	int rc = nr_journal_leftovers(&o->r, &o->p, &found, &n);

	for (size_t i = 0; i < n && rc == 0; i++) {
		emit(o, NR_PLAN_EV_NOTE, "removed %s/%s, left by a run that stopped before its journal",
		     o->r.path, found[i]);
		if ((rc = nr_root_remove_tree(&o->r, found[i], o->err)) == 0)
			o->res->leftovers_removed++;
	}
	nr_strv_free(found, n);
	return rc == -NR_E_NOMEM ? nr_error_set(o->err, rc, NULL) : rc;
}

/* Open and lock the root, find the plan's places, clean what a stopped run left, read the
 * journal. */
static int op_open(struct op *o, const struct nr_ctx *ctx, const char *name,
		   const struct nr_plan_opts *opts, struct nr_plan_result *res, struct nr_error *err)
{
	static const struct nr_plan_opts none;
	const char *env;
	int rc;

	memset(o, 0, sizeof(*o));
	o->r.fd = -1;
	o->ctx = ctx;
	o->opts = opts ? opts : &none;
	o->res = res ? res : &o->local_res;
	o->err = err;
	memset(o->res, 0, sizeof(*o->res));
	o->res->failed_command = -1;
	o->fault_after = o->opts->fault_after;
	if (o->fault_after <= 0 && (env = getenv("NEURON_FAULT_AFTER")) && *env)
		o->fault_after = atoi(env);
	if ((rc = nr_root_open(&o->r, nr_ctx_get(ctx, "root"), err)) < 0)
		return rc;
	if ((rc = lock_root(o)) < 0 ||
	    (rc = nr_places_get(ctx, &o->r, name, &o->p, err)) < 0 ||
	    (rc = remove_leftovers(o)) < 0 ||
	    (rc = nr_journal_read(&o->r, &o->p, &o->j, err)) < 0)
		return rc;
	return 0;
}

static int record(struct op *o)
{
	return nr_journal_write(&o->r, &o->p, &o->j, o->err);
}

/* ------------------------------------------------------------------ writing files -- */

/* The original of a file the apply replaces or removes, kept once (the first one stays). */
static int keep_original(struct op *o, const struct jfile *f)
{
	char *brel = nr_backup_rel(&o->p, f->rel), *orig = NULL;
	size_t olen = 0;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	int rc;

	if (!brel)
		return nr_error_set(o->err, -NR_E_NOMEM, NULL);
	if (nr_root_exists(&o->r, brel)) {
		free(brel);
		return 0;
	}
	rc = nr_root_read(&o->r, f->rel, NR_PLAN_MAX_TEXT, &orig, &olen, &mode, &uid, &gid, o->err);
	if (rc == -NR_E_NOTFOUND) {
		nr_error_clear(o->err);
		free(brel);
		return 0;
	}
	if (rc == 0) {
		char **made = NULL;
		size_t n_made = 0;
		rc = nr_root_stage(&o->r, brel, orig, olen, mode, uid, gid, &made, &n_made, o->err);
		nr_strv_free(made, n_made);
	}
	if (rc == 0 && (rc = nr_root_commit(&o->r, brel, o->err)) < 0)
		nr_root_drop_stage(&o->r, brel);
	free(orig);
	free(brel);
	return rc == 0 ? step(o, "kept the original of /%s", f->rel) : rc;
}

/* Bring one journaled file to its planned content: original kept, then written
 * atomically (or removed). */
static int put_file(struct op *o, const struct jfile *f)
{
	char **made = NULL;
	size_t n_made = 0;
	mode_t mode = 0644;
	uid_t uid = geteuid();
	gid_t gid = getegid();
	struct stat st;
	int rc;

	if (f->kind != 'C' && (rc = keep_original(o, f)) < 0)
		return rc;
	if (!f->text) {
		if ((rc = nr_root_unlink(&o->r, f->rel, o->err)) < 0)
			return rc;
		o->res->files_changed++;
		return step(o, "removed /%s", f->rel);
	}
	if (nr_root_stat(&o->r, f->rel, &st, NULL) == 0) {
		mode = st.st_mode & 07777;
		uid = st.st_uid;
		gid = st.st_gid;
	}
	rc = nr_root_stage(&o->r, f->rel, f->text, f->len, mode, uid, gid, &made, &n_made, o->err);
	nr_strv_free(made, n_made);
	if (rc == 0)
		rc = step(o, "staged /%s", f->rel);
	if (rc == 0 && (rc = nr_root_commit(&o->r, f->rel, o->err)) < 0)
		nr_root_drop_stage(&o->r, f->rel);
	if (rc == 0) {
		o->res->files_changed++;
		rc = step(o, "wrote /%s", f->rel);
	}
	return rc;
}

/* Whether a journaled file already has its planned content. */
static bool in_place(struct op *o, const struct jfile *f)
{
	char *cur = NULL;
	size_t len = 0;
	bool yes;

	if (nr_root_read(&o->r, f->rel, NR_PLAN_MAX_TEXT, &cur, &len, NULL, NULL, NULL, NULL) < 0)
		return !f->text && !nr_root_exists(&o->r, f->rel);
	yes = f->text && len == f->len && memcmp(cur, f->text, len) == 0;
	free(cur);
	return yes;
}

static int run_action(struct op *o, const struct nr_action *a, bool undo)
{
	char *done = NULL;
	int rc = (undo ? a->type->revert : a->type->apply)(o->ctx, &o->r, a, &done, o->err);

	if (rc == 0 && done) {
		o->res->files_changed++;
		rc = step(o, "%s", done);
	}
	free(done);
	return rc;
}

/* ------------------------------------------------------------------ commands -- */

static int run_commands(struct op *o)
{
	for (size_t i = 0; i < o->j.n_cmds; i++) {
		char **argv = o->j.cmds[i];
		char *line = nr_plan_command_line((const char *const *)argv);
		int status = -1, rc;

		emit(o, NR_PLAN_EV_COMMAND, "%s", line ? line : argv[0]);
		rc = nr_plan_run(o->ctx, (const char *const *)argv, o->opts->output, o->opts->userdata,
				 &status, o->err);
		if (rc == 0 && status != 0) {
			o->res->failed_command = (int)i;
			o->res->failed_status = status;
			rc = nr_error_set(o->err, -NR_E_COMMAND, "'%s' failed (exit status %d)",
					  line ? line : argv[0], status);
		}
		if (rc == 0) {
			o->res->commands_run++;
			rc = step(o, "ran %s", line ? line : argv[0]);
		}
		free(line);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The commands the journal says have not completed, then the journal says they did. */
static int run_pending(struct op *o)
{
	int rc;

	if (!o->j.pending)
		return 0;
	if (o->j.n_cmds == 0) {
		o->j.pending = false;
		return record(o);
	}
	if (o->opts->no_commands) {
		emit(o, NR_PLAN_EV_NOTE, "commands not run (--no-regenerate): they stay pending");
		return 0;
	}
	if ((rc = run_commands(o)) < 0)
		return rc;
	o->j.pending = false;
	if ((rc = record(o)) < 0)
		return rc;
	return step(o, "journal: commands done");
}

/* ------------------------------------------------------------------ reverting -- */

static bool is_ancestor(const char *dir, const char *path)
{
	size_t n = strlen(dir);

	return strncmp(dir, path, n) == 0 && path[n] == '/';
}

/* Before anything changes: every original the revert needs is there. A missing one is
 * normal only for an apply that stopped before it kept it (and then the file still has
 * its original content); otherwise the revert would report success and leave the file
 * as the apply made it. */
static int check_backups(struct op *o)
{
	bool applying = o->j.state == NR_PLAN_STATE_APPLYING ||
		(o->j.state == NR_PLAN_STATE_REVERTING && o->j.origin == NR_PLAN_STATE_APPLYING);

	if (o->j.cleanup)
		return 0;
	for (size_t i = 0; i < o->j.n_files; i++) {
		const struct jfile *f = &o->j.files[i];
		char *brel;
		struct stat st;

		if (f->kind == 'C')
			continue;
		if (!(brel = nr_backup_rel(&o->p, f->rel)))
			return nr_error_set(o->err, -NR_E_NOMEM, NULL);
		int rc = nr_root_stat(&o->r, brel, &st, o->err);
		/* an apply that stopped wrote a file only after keeping its original */
		bool written = rc < 0 && applying && f->known && f->text && in_place(o, f);
		if (rc < 0 && rc != -NR_E_NOTFOUND) {
			/* not missing but unreachable (a symbolic link on the way): said as it is */
			nr_error_prefix(o->err, "cannot revert (nothing was changed; the journal and the "
					"backups are kept): ");
		} else if (rc == 0 && !S_ISREG(st.st_mode)) {
			rc = nr_error_set(o->err, -NR_E_REFUSED, "cannot revert: the backup of /%s (%s/%s) is %s: "
					  "nothing was changed, and the journal and the backups are kept; put "
					  "the original file there, then revert again", f->rel, o->r.path, brel,
					  nr_file_type_name(st.st_mode));
		} else if (rc < 0 && (!applying || written)) {
			rc = nr_error_set(o->err, -NR_E_REFUSED,
					  "cannot revert: the original of /%s is missing (it was kept as %s/%s): "
					  "nothing was changed, and the journal (%s/%s) and the other backups are "
					  "kept. Put the original back there (from your own backup, or from the "
					  "package that ships the file) and revert again; or restore /%s by hand, "
					  "then remove the journal and %s/%s", f->rel, o->r.path, brel, o->r.path,
					  nr_journal_file(&o->p, &o->j), f->rel, o->r.path, o->p.backup);
		} else {
			nr_error_clear(o->err);
			rc = 0;
		}
		free(brel);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Rename the journal: NAME.journal -> NAME.revert -> NAME.done. A rename needs no free
 * space, so a revert can start on a full file system. */
static int mark(struct op *o, bool cleanup)
{
	const char *from = nr_journal_file(&o->p, &o->j);
	const char *to = cleanup ? o->p.done : o->p.reverting;
	int rc = nr_root_rename(&o->r, from, to, o->err);

	if (rc < 0)
		return rc;
	if (o->j.state != NR_PLAN_STATE_REVERTING)
		o->j.origin = o->j.state;
	o->j.state = NR_PLAN_STATE_REVERTING;
	o->j.cleanup = cleanup;
	return 0;
}

/* One original back: a hard link to the backup when it can (no space needed), else a
 * copy. */
static int restore_one(struct op *o, const struct jfile *f)
{
	char *brel = nr_backup_rel(&o->p, f->rel), *orig = NULL, *cur = NULL;
	size_t olen = 0, clen = 0;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	int rc;

	if (!brel)
		return nr_error_set(o->err, -NR_E_NOMEM, NULL);
	rc = nr_root_read(&o->r, brel, NR_PLAN_MAX_TEXT, &orig, &olen, &mode, &uid, &gid, o->err);
	if (rc == -NR_E_NOTFOUND) {
		/* check_backups allowed it: the apply stopped before it kept this original */
		nr_error_clear(o->err);
		free(brel);
		return 0;
	}
	if (rc < 0) {
		free(brel);
		return rc;
	}
	bool same = nr_root_read(&o->r, f->rel, NR_PLAN_MAX_TEXT, &cur, &clen, NULL, NULL, NULL, NULL) == 0 &&
		clen == olen && memcmp(cur, orig, olen) == 0;
	free(cur);
	if (!same) {
		rc = nr_root_stage_link(&o->r, brel, f->rel, o->err);
		if (rc == 1)
			rc = nr_root_stage(&o->r, f->rel, orig, olen, mode, uid, gid, NULL, NULL, o->err);
		if (rc == 0)
			rc = step(o, "staged the original of /%s", f->rel);
		if (rc == 0 && (rc = nr_root_commit(&o->r, f->rel, o->err)) < 0)
			nr_root_drop_stage(&o->r, f->rel);
		if (rc == 0) {
			o->res->files_changed++;
			rc = step(o, "restored /%s", f->rel);
		}
	}
	free(orig);
	free(brel);
	return rc;
}

/* Originals back, created files removed, actions undone (newest first). */
static int restore_all(struct op *o)
{
	int rc;

	if (o->j.cleanup)
		return 0;
	if (o->j.state != NR_PLAN_STATE_REVERTING) {
		if ((rc = mark(o, false)) < 0)
			return rc;
		if ((rc = step(o, "journal: reverting %zu file(s)", o->j.n_files)) < 0)
			return rc;
	}
	for (size_t k = o->j.n_files; k-- > 0;) {
		const struct jfile *f = &o->j.files[k];

		nr_root_drop_stage(&o->r, f->rel);
		if (f->kind == 'C') {
			if (!nr_root_exists(&o->r, f->rel))
				continue;
			if ((rc = nr_root_unlink(&o->r, f->rel, o->err)) < 0)
				return rc;
			o->res->files_changed++;
			if ((rc = step(o, "removed /%s", f->rel)) < 0)
				return rc;
			continue;
		}
		if ((rc = restore_one(o, f)) < 0)
			return rc;
	}
	for (size_t k = o->j.n_actions; k-- > 0;)
		if ((rc = run_action(o, &o->j.actions[k], true)) < 0)
			return rc;
	return 0;
}

/* The last steps of a revert: backups, the directories the applies made, the journal.
 * The outermost directory made for the journal goes in one rename when it holds nothing
 * else, so that a crash leaves no empty directory that no record names. */
static int clean_up(struct op *o)
{
	const char *journal = o->p.done;
	const char *top = NULL;
	int rc;

	if (!o->j.cleanup && (rc = mark(o, true)) < 0)
		return rc;
	if ((rc = nr_root_remove_tree(&o->r, o->p.backup, o->err)) < 0)
		return rc;
	for (size_t k = o->j.n_dirs; k-- > 0;) {
		if (!is_ancestor(o->j.dirs[k], journal))
			nr_root_rmdir(&o->r, o->j.dirs[k]);
		else if (!top || strlen(o->j.dirs[k]) < strlen(top))
			top = o->j.dirs[k];     /* the outermost */
	}
	if (top && nr_root_holds_only(&o->r, top, journal)) {
		if ((rc = nr_root_remove_tree(&o->r, top, o->err)) < 0)
			return rc;
	} else {
		if ((rc = nr_root_unlink(&o->r, journal, o->err)) < 0)
			return rc;
		for (size_t k = o->j.n_dirs; k-- > 0;)
			if (is_ancestor(o->j.dirs[k], journal))
				nr_root_rmdir(&o->r, o->j.dirs[k]);
	}
	return step(o, "journal: removed, originals restored");
}

/* The whole revert, for an operation holding a journal. */
static int revert_recorded(struct op *o, bool with_commands)
{
	int rc;

	if ((rc = nr_root_check_writable(&o->r, o->p.journal, o->err)) < 0)
		return rc;
	for (size_t i = 0; i < o->j.n_files; i++)
		if ((rc = nr_root_check_writable(&o->r, o->j.files[i].rel, o->err)) < 0)
			return rc;
	if ((rc = check_backups(o)) < 0 || (rc = restore_all(o)) < 0)
		return rc;
	/* The commands run before the journal goes: when one fails (or the run stops), the
	 * journal still says "reverting" and the next revert runs them again. */
	if (with_commands && o->j.n_cmds > 0 && !o->j.cleanup) {
		if (o->opts->no_commands)
			emit(o, NR_PLAN_EV_NOTE, "commands not run (--no-regenerate): run them by hand");
		else if ((rc = run_commands(o)) < 0)
			return rc;
	}
	return clean_up(o);
}

/* ------------------------------------------------------------------ applying -- */

/* Every file of the plan and the journal sits on a writable file system. */
static int check_writable(struct op *o, const struct nr_plan *plan)
{
	int rc;

	if ((rc = nr_root_check_writable(&o->r, o->p.journal, o->err)) < 0)
		return rc;
	for (size_t i = 0; plan && i < plan->n_edits; i++)
		if ((rc = nr_root_check_writable(&o->r, plan->edits[i].rel, o->err)) < 0)
			return rc;
	for (size_t i = 0; i < o->j.n_files; i++)
		if ((rc = nr_root_check_writable(&o->r, o->j.files[i].rel, o->err)) < 0)
			return rc;
	return 0;
}

/* An apply that stopped: the rest of what it recorded, exactly (files, then actions),
 * then the journal says applied. Files whose planned content a version 1 journal did not
 * keep are left to the plan being applied. */
static int complete_recorded(struct op *o)
{
	int rc;

	emit(o, NR_PLAN_EV_NOTE, "finishing an interrupted apply, as it was recorded");
	for (size_t i = 0; i < o->j.n_notes; i++)
		emit(o, NR_PLAN_EV_NOTE, "%s", o->j.notes[i]);
	for (size_t i = 0; i < o->j.n_files; i++) {
		const struct jfile *f = &o->j.files[i];
		nr_root_drop_stage(&o->r, f->rel);
		if (!f->known || in_place(o, f))
			continue;
		if ((rc = put_file(o, f)) < 0)
			return rc;
	}
	for (size_t i = 0; i < o->j.n_actions; i++)
		if ((rc = run_action(o, &o->j.actions[i], false)) < 0)
			return rc;
	o->j.state = NR_PLAN_STATE_APPLIED;
	if ((rc = record(o)) < 0)
		return rc;
	o->res->finished_interrupted = true;
	return step(o, "journal: applied");
}

/* What an earlier run left half-way comes first: a revert is rolled back to its end, an
 * apply is completed as recorded. *changed says the root moved since the plan was made. */
static int finish_interrupted(struct op *o, bool *changed)
{
	int rc;

	*changed = false;
	if (o->j.exists && o->j.state == NR_PLAN_STATE_REVERTING) {
		emit(o, NR_PLAN_EV_NOTE, "an interrupted revert is finished first");
		if ((rc = revert_recorded(o, false)) < 0)
			return rc;
		nr_journal_done(&o->j);
		o->res->finished_interrupted = true;
		*changed = true;
	} else if (o->j.exists && o->j.state == NR_PLAN_STATE_APPLYING) {
		if ((rc = complete_recorded(o)) < 0)
			return rc;
		*changed = true;
	}
	return 0;
}

/* Re-read every edit's current content. strict: a change since the plan is an error;
 * otherwise the plan's view is brought up to date. */
static int refresh_edits(struct op *o, struct nr_plan *plan, bool strict)
{
	for (size_t i = 0; i < plan->n_edits; i++) {
		struct edit *e = &plan->edits[i];
		char *cur = NULL;
		size_t len = 0;
		int rc = nr_root_read(&o->r, e->rel, NR_PLAN_MAX_TEXT, &cur, &len, NULL, NULL, NULL, o->err);

		if (rc == -NR_E_NOTFOUND) {
			nr_error_clear(o->err);
			cur = NULL;
		} else if (rc < 0) {
			return rc;
		}
		bool same = (!cur && !e->old_text) ||
			(cur && e->old_text && len == e->pub.old_len && memcmp(cur, e->old_text, len) == 0);
		if (!same && strict) {
			free(cur);
			return nr_error_set(o->err, -NR_E_STALE, "%s changed since the plan was made: plan again",
					    e->path);
		}
		if (!same) {
			free(e->old_text);
			e->old_text = cur;
			e->pub.old_len = len;
			cur = NULL;
			nr_plan_edit_sync(e);
		}
		free(cur);
	}
	return 0;
}

static size_t count_changes(const struct nr_plan *plan)
{
	size_t n = 0;

	for (size_t i = 0; i < plan->n_edits; i++)
		n += plan->edits[i].pub.changes;
	return n;
}

/* The journal says "applying" before the first write. The first journal is staged with
 * the directories it needs, then renamed into place (a stop in between is a step of its
 * own: it leaves only staged names, which the next apply or revert removes). */
static int record_applying(struct op *o, size_t n_change)
{
	bool first = !o->j.exists;
	char *top = NULL;
	int rc;

	o->j.exists = true;
	o->j.state = NR_PLAN_STATE_APPLYING;
	if (o->j.n_cmds > 0)
		o->j.pending = true;
	if (first) {
		if ((rc = nr_journal_create_stage(&o->r, &o->p, &o->j, &top, o->err)) == 0 &&
		    (rc = step(o, "journal: staged")) == 0)
			rc = nr_journal_create_commit(&o->r, &o->p, top, o->err);
		free(top);
	} else {
		rc = record(o);
	}
	if (rc < 0) {
		if (rc == -NR_E_NOSPACE)
			nr_error_prefix(o->err, "nothing was changed: ");
		return rc;
	}
	return step(o, "journal: applying %zu file(s)", n_change);
}

static int write_planned(struct op *o, const struct nr_plan *plan)
{
	int rc;

	for (size_t i = 0; i < plan->n_edits; i++) {
		const struct edit *e = &plan->edits[i];
		const struct jfile *f = e->pub.changes ? nr_journal_find(&o->j, e->rel) : NULL;
		if (f && (rc = put_file(o, f)) < 0)
			return rc;
	}
	for (size_t i = 0; i < plan->n_actions; i++)
		if ((rc = run_action(o, &plan->actions[i].a, false)) < 0)
			return rc;
	return 0;
}

static int record_applied(struct op *o)
{
	int rc;

	o->j.state = NR_PLAN_STATE_APPLIED;
	if ((rc = record(o)) < 0)
		return rc;
	return step(o, "journal: applied");
}

int nr_plan_apply(struct nr_plan *plan, const struct nr_plan_opts *opts,
		  struct nr_plan_result *result, struct nr_error *err)
{
	struct op o;
	bool moved = false;
	size_t n_change;
	int rc;

	if ((rc = op_open(&o, plan->ctx, plan->name, opts, result, err)) < 0 ||
	    (rc = check_writable(&o, plan)) < 0 ||
	    (rc = finish_interrupted(&o, &moved)) < 0 ||
	    (rc = refresh_edits(&o, plan, !moved)) < 0)
		goto out;
	n_change = count_changes(plan);
	o.res->files_unchanged = (unsigned)(plan->n_edits - n_change);
	if (n_change == 0 && plan->n_actions == 0) {
		if (!o.j.exists || !o.j.pending)
			emit(&o, NR_PLAN_EV_NOTE, "nothing to change: every file already has its planned content");
		rc = o.j.exists ? run_pending(&o) : 0;
		goto out;
	}
	if ((rc = nr_journal_merge(&o.j, plan, &o.r, &o.p, err)) < 0 ||
	    (rc = record_applying(&o, n_change)) < 0)
		goto out;
	if ((rc = write_planned(&o, plan)) < 0 || (rc = record_applied(&o)) < 0) {
		if (rc == -NR_E_NOSPACE)
			nr_error_prefix(err, "the apply stopped part-way (its journal says where): ");
		goto out;
	}
	rc = run_pending(&o);
out:
	op_close(&o);
	return rc;
}

/* Complete what the journal records: the rest of a revert, or of an apply (then its
 * pending commands). */
static int finish_recorded(struct op *o)
{
	int rc;

	if ((rc = check_writable(o, NULL)) < 0)
		return rc;
	if (o->j.state == NR_PLAN_STATE_REVERTING) {
		o->res->finished_interrupted = true;
		return revert_recorded(o, true);
	}
	if (o->j.state == NR_PLAN_STATE_APPLYING) {
		for (size_t i = 0; i < o->j.n_files; i++)
			if (!o->j.files[i].known)
				return nr_error_set(o->err, -NR_E_REFUSED, "the interrupted apply was recorded by an "
						    "older neuronctl, without its planned contents: revert it, then "
						    "apply again");
		if ((rc = complete_recorded(o)) < 0)
			return rc;
	} else if (!o->j.pending) {
		emit(o, NR_PLAN_EV_NOTE, "nothing to finish: the recorded change is complete");
	}
	return run_pending(o);
}

static int revert_all(struct op *o)
{
	o->res->finished_interrupted = o->j.state != NR_PLAN_STATE_APPLIED;
	return revert_recorded(o, true);
}

/* Run fn on what the journal of name records. Without a journal: what a stopped run left
 * was removed (all there was to do), or there is nothing to verb. */
static int on_recorded(const struct nr_ctx *ctx, const char *name, const struct nr_plan_opts *opts,
		       struct nr_plan_result *result, struct nr_error *err, const char *verb,
		       int (*fn)(struct op *o))
{
	struct op o;
	int rc;

	if ((rc = op_open(&o, ctx, name, opts, result, err)) == 0) {
		if (o.j.exists)
			rc = fn(&o);
		else if (!o.res->leftovers_removed)
			rc = nr_error_set(err, -NR_E_NOTFOUND, "nothing to %s: no '%s' change is recorded "
					  "under %s", verb, name, o.r.path);
	}
	op_close(&o);
	return rc;
}

int nr_plan_finish(const struct nr_ctx *ctx, const char *name, const struct nr_plan_opts *opts,
		   struct nr_plan_result *result, struct nr_error *err)
{
	return on_recorded(ctx, name, opts, result, err, "finish", finish_recorded);
}

int nr_plan_revert(const struct nr_ctx *ctx, const char *name, const struct nr_plan_opts *opts,
		   struct nr_plan_result *result, struct nr_error *err)
{
	return on_recorded(ctx, name, opts, result, err, "revert", revert_all);
}

/* ------------------------------------------------------------------ status -- */

int nr_plan_status_read(const struct nr_ctx *ctx, const char *name, struct nr_plan_status *st,
			struct nr_error *err)
{
	struct nr_root r = { NULL, -1 };
	struct places p = { 0 };
	struct journal j = { 0 };
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = nr_root_open(&r, nr_ctx_get(ctx, "root"), err)) < 0)
		return rc;
	if ((rc = nr_places_get(ctx, &r, name, &p, err)) < 0)
		goto out;
	if ((rc = nr_journal_leftovers(&r, &p, &st->leftovers, &st->n_leftovers)) < 0) {
		rc = nr_error_set(err, rc, NULL);
		goto out;
	}
	for (size_t i = 0; i < st->n_leftovers; i++) {
		char *full;
		if (asprintf(&full, "%s/%s", r.path, st->leftovers[i]) < 0) {
			rc = nr_error_set(err, -NR_E_NOMEM, NULL);
			goto out;
		}
		free(st->leftovers[i]);
		st->leftovers[i] = full;
	}
	if ((rc = nr_journal_read(&r, &p, &j, err)) < 0)
		goto out;
	if (asprintf(&st->journal_path, "%s/%s", r.path, nr_journal_file(&p, &j)) < 0) {
		st->journal_path = NULL;
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto out;
	}
	if (!j.exists)
		goto out;
	st->state = j.state;
	st->commands_pending = j.pending && j.n_cmds > 0;
	st->complete = true;
	st->files = calloc(j.n_files + 1, sizeof(*st->files));
	st->commands = calloc(j.n_cmds + 1, sizeof(*st->commands));
	st->meta_keys = calloc(j.n_meta + 1, sizeof(char *));
	st->meta_values = calloc(j.n_meta + 1, sizeof(char *));
	st->actions = calloc(j.n_actions + 1, sizeof(char *));
	st->notes = j.notes;
	st->n_notes = j.n_notes;
	j.notes = NULL;
	j.n_notes = 0;
	if (!st->files || !st->commands || !st->meta_keys || !st->meta_values || !st->actions) {
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto out;
	}
	for (size_t i = 0; i < j.n_files; i++) {
		struct nr_plan_status_file *f = &st->files[st->n_files];
		const struct jfile *jf = &j.files[i];
		char *brel = nr_backup_rel(&p, jf->rel), *cur = NULL;
		size_t len = 0;

		if (!brel || asprintf(&f->path, "/%s", jf->rel) < 0) {
			free(brel);
			rc = nr_error_set(err, -NR_E_NOMEM, NULL);
			goto out;
		}
		st->n_files++;
		st->complete &= jf->known;
		f->created = jf->kind == 'C';
		f->removed = jf->kind == 'D';
		f->backed_up = nr_root_exists(&r, brel);
		free(brel);
		if (j.state == NR_PLAN_STATE_APPLIED && jf->text) {
			if (nr_root_read(&r, jf->rel, NR_PLAN_MAX_TEXT, &cur, &len, NULL, NULL, NULL, NULL) == 0)
				f->modified = nr_journal_hash(cur, len) != jf->hash;
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
	for (size_t i = 0; i < j.n_actions; i++) {
		if (!(st->actions[i] = j.actions[i].type->describe(&j.actions[i]))) {
			rc = nr_error_set(err, -NR_E_NOMEM, NULL);
			goto out;
		}
		st->n_actions++;
	}
	for (size_t i = 0; i < j.n_meta; i++) {
		st->meta_keys[i] = j.mkeys[i];
		st->meta_values[i] = j.mvals[i];
		j.mkeys[i] = j.mvals[i] = NULL;
		st->n_meta++;
	}
out:
	nr_journal_done(&j);
	nr_places_done(&p);
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
	nr_strv_free(st->actions, st->n_actions);
	nr_strv_free(st->notes, st->n_notes);
	nr_strv_free(st->leftovers, st->n_leftovers);
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
