/* The plan engine's own parts: the plan being built (plan.c), its journal (journal.c),
 * applying and reverting it (plan_apply.c), and the actions other than file edits
 * (action.c, plan/action.h). Private to core/plan/ (and its unit tests). */
#ifndef NEURON_PLAN_INTERNAL_H
#define NEURON_PLAN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "neuron/plan.h"
#include "plan/action.h"
#include "root/root.h"

/* The largest file a plan reads or edits: configuration files are a few KiB; anything
 * bigger (a 2 GiB sparse file where /etc/default/grub should be) is refused unread. */
#define NR_PLAN_MAX_TEXT (1024 * 1024)
/* The largest journal: the planned contents of every file, escaped. */
#define NR_PLAN_MAX_JOURNAL (64 * 1024 * 1024)

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

struct plan_action {
	struct nr_plan_action pub;
	struct nr_action a;
	char *text;             /* what it does, from its type's describe() */
};

struct nr_plan {
	const struct nr_ctx *ctx;
	char *name;
	struct edit *edits;
	size_t n_edits;
	struct command *cmds;
	size_t n_cmds;
	struct plan_action *actions;
	size_t n_actions;
	char **notes;
	size_t n_notes;
	char **meta_keys, **meta_values;
	size_t n_meta;
};

/* Bring an edit's public view (kind, changes, pointers) up to date. */
void nr_plan_edit_sync(struct edit *e);

/* argv copies (NULL-terminated). */
char **nr_argv_dup(const char *const *argv);
void nr_argv_free(char **argv);
bool nr_argv_eq(char *const *a, char *const *b);

/* The one check every file a plan edits passes: text (no NUL byte), not too big. path is
 * shown in the message. */
int nr_plan_check_text(const char *path, const char *text, size_t len, struct nr_error *err);

/* ------------------------------------------------------------------ journal.c -- */

/* One file the journal covers. */
struct jfile {
	char kind;              /* what the first apply found: 'C' absent (it creates the file),
				   'R' present (it replaces it), 'D' present (it removes it) */
	char *rel;
	uint64_t hash;          /* of the planned content (0 when planned absent) */
	char *text;             /* the planned content; NULL when planned absent or unknown */
	size_t len;
	bool known;             /* the planned content is recorded (journals from version 2 on) */
};

/* A journal as read. Its state lives in its file name and its first lines:
 *   plans/NAME.journal   "state applying" or "state applied"
 *   plans/NAME.revert    a revert began (renamed, so that a full disk cannot stop it);
 *                        its "state" line says what it began from
 *   plans/NAME.done      every original is back, only the clean-up is left */
struct journal {
	bool exists;
	enum nr_plan_state state;       /* APPLYING, APPLIED or REVERTING */
	enum nr_plan_state origin;      /* REVERTING: what the revert began from */
	bool cleanup;                   /* NAME.done */
	bool pending;
	struct jfile *files;
	size_t n_files;
	char **dirs;                    /* made by the applies, outermost first */
	size_t n_dirs;
	char ***cmds;
	size_t n_cmds;
	char **mkeys, **mvals;
	size_t n_meta;
	struct nr_action *actions;
	size_t n_actions;
	char **notes;                   /* what the latest plan said the user must know */
	size_t n_notes;
};

/* Paths of a plan's own state, relative to root. */
struct places {
	char *state;            /* "var/lib/neuron" */
	char *journal;          /* "var/lib/neuron/plans/vfio.journal" */
	char *reverting;        /* "var/lib/neuron/plans/vfio.revert" */
	char *done;             /* "var/lib/neuron/plans/vfio.done" */
	char *backup;           /* "var/lib/neuron/backup/vfio" */
};

bool nr_plan_name_ok(const char *name);
int nr_places_get(const struct nr_ctx *ctx, const struct nr_root *r, const char *name,
		  struct places *p, struct nr_error *err);
void nr_places_done(struct places *p);
/* "var/lib/neuron/backup/vfio/REL"; NULL on OOM. */
char *nr_backup_rel(const struct places *p, const char *rel);
/* The file the journal is in now (journal, reverting or done). */
const char *nr_journal_file(const struct places *p, const struct journal *j);

uint64_t nr_journal_hash(const char *s, size_t n);
int nr_journal_read(const struct nr_root *r, const struct places *p, struct journal *j,
		    struct nr_error *err);
/* The first write of a journal, in two steps: the state directories it needs are staged
 * with it (their names added to j->dirs first), then renamed into place at once; *top
 * (malloc'd, NULL when none was missing) is what the commit renames. A stop between the
 * two leaves only staged names (nr_journal_leftovers). */
int nr_journal_create_stage(const struct nr_root *r, const struct places *p, struct journal *j,
			    char **top, struct nr_error *err);
int nr_journal_create_commit(const struct nr_root *r, const struct places *p, const char *top,
			     struct nr_error *err);
/* Write the journal as NAME.journal (the first time through the two steps above). */
int nr_journal_write(const struct nr_root *r, const struct places *p, struct journal *j,
		     struct nr_error *err);
void nr_journal_done(struct journal *j);
struct jfile *nr_journal_find(struct journal *j, const char *rel);
/* Merge a plan into the journal: its changing edits (a path already recorded keeps its
 * first original), the directories they and the backups will need, its meta, commands
 * and actions. */
int nr_journal_merge(struct journal *j, const struct nr_plan *plan, const struct nr_root *r,
		     const struct places *p, struct nr_error *err);
/* What a run that stopped before its journal was written left behind (staged names of
 * the state directories, journal and backups), appended to *found as rels. */
int nr_journal_leftovers(const struct nr_root *r, const struct places *p, char ***found, size_t *n);

#endif
