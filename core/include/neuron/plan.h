/* Changing a target root safely: a plan of file edits and the commands that follow.
 *
 * A plan is built, shown, then applied (DESIGN.md "Changing a system safely"):
 *   - each edit names a path under the ctx's "root" and the whole new content (or a
 *     removal); the engine reads the current content itself, so the diff it renders is
 *     against what is on disk, and an edit that is already in place changes nothing;
 *   - apply keeps every original under ROOT/STATE_DIR/backup/NAME/, records a journal
 *     (ROOT/STATE_DIR/plans/NAME) before the first write, writes each file atomically
 *     (temp file, fsync, rename, fsync of the directory) and then runs the commands;
 *   - revert restores the originals byte for byte, removes the files and directories the
 *     apply created, then runs the commands again;
 *   - the journal holds what apply writes (each file's planned content, each action with
 *     its arguments): an interrupted apply (a crash, a power cut, NEURON_FAULT_AFTER) is
 *     seen by nr_plan_status_read(); nr_plan_finish() completes exactly what it started,
 *     reverting rolls it back;
 *   - besides file edits a plan holds actions (Looking Glass's file in /dev/shm now):
 *     typed steps with their own apply and revert, journaled with their arguments.
 * Every path is resolved inside root, as the target itself sees it (an absolute symbolic
 * link is read from the root); every open, read or write, walks inside it. Files that are
 * not text, or bigger than a configuration file can be, are refused. The state the engine
 * keeps (journal, backups) is made all at once: a run stopped before its journal was
 * written leaves only names that the next apply or revert removes.
 * Plans are named ("vfio", "lg"): each name has its own journal and backups, and a
 * second apply under the same name keeps the first originals.
 *
 * The engine never prints: progress and command output go to a callback. */
#ifndef NEURON_PLAN_H
#define NEURON_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "neuron/ctx.h"
#include "neuron/error.h"

struct nr_plan;

enum nr_plan_edit_kind {
	NR_PLAN_CREATE,         /* the file does not exist yet */
	NR_PLAN_REPLACE,        /* the file exists and gets a new content */
	NR_PLAN_REMOVE,         /* the file exists and goes away */
};

/* One file edit, as planned (borrowed from the plan). */
struct nr_plan_edit {
	const char *path;       /* absolute inside root: "/etc/modprobe.d/vfio.conf" */
	const char *why;        /* one line for the user ("bind the GPU to vfio-pci at boot") */
	enum nr_plan_edit_kind kind;
	const char *old_text;   /* current content, NULL when the file does not exist */
	size_t old_len;
	const char *new_text;   /* content after apply, NULL for a removal */
	size_t new_len;
	bool changes;           /* false when the file already has the new content */
};

/* An action other than a file edit (borrowed from the plan). */
struct nr_plan_action {
	const char *type;       /* "shm-file" */
	const char *text;       /* what apply does, one line ("create /dev/shm/looking-glass now ...") */
};

/* A command that follows the edits, run inside root (argv[0] looked up in root's PATH). */
struct nr_plan_command {
	const char *const *argv;        /* NULL-terminated */
	const char *why;
};

/* --- building ------------------------------------------------------------------- */

/* Where plan name keeps the originals, as a path in the target root (state_dir/backup/NAME:
 * "/var/lib/neuron/backup/vfio"); name NULL: the directory of every plan's. malloc'd. */
char *nr_plan_backup_dir(const struct nr_ctx *ctx, const char *name);
/* An empty plan named name ("vfio") on the ctx's root and state_dir. NULL on OOM. */
struct nr_plan *nr_plan_new(const struct nr_ctx *ctx, const char *name);
void nr_plan_free(struct nr_plan *plan);

/* Read a file under root (the path resolved inside root). -NR_E_NOTFOUND when absent,
 * -NR_E_ESCAPE when a symlink leads outside root, -NR_E_NOTFILE for a FIFO or a device,
 * -NR_E_NOTTEXT for a file with a NUL byte or bigger than 1 MiB. Builders read through this. */
int nr_plan_read(const struct nr_plan *plan, const char *path, char **text, size_t *len,
		 struct nr_error *err);
/* True when path exists under root (resolved inside root, any file type). */
bool nr_plan_exists(const struct nr_plan *plan, const char *path);

/* Plan that path holds text (created with mode 0644 when absent; an existing file
 * keeps its mode and owner). The current content is read now for the diff (and passes
 * the same text check as nr_plan_read). */
int nr_plan_set_file(struct nr_plan *plan, const char *path, const char *text, size_t len,
		     const char *why, struct nr_error *err);
/* Plan that path goes away (an edit that changes nothing when it is already absent). */
int nr_plan_remove_file(struct nr_plan *plan, const char *path, const char *why,
			struct nr_error *err);
/* A command to run after the edits (and again after a revert). argv is copied. */
int nr_plan_add_command(struct nr_plan *plan, const char *const *argv, const char *why,
			struct nr_error *err);
/* A line the user must read (what the plan could not do, what to do by hand). */
int nr_plan_add_note(struct nr_plan *plan, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Free-form key/value recorded in the journal at apply and returned by status
 * ("gpus" -> "0000:01:00.0"). Setting a key again replaces its value. */
int nr_plan_set_meta(struct nr_plan *plan, const char *key, const char *value);

/* --- reading -------------------------------------------------------------------- */

const char *nr_plan_name(const struct nr_plan *plan);
size_t nr_plan_n_edits(const struct nr_plan *plan);
const struct nr_plan_edit *nr_plan_edit(const struct nr_plan *plan, size_t i);
size_t nr_plan_n_commands(const struct nr_plan *plan);
const struct nr_plan_command *nr_plan_command(const struct nr_plan *plan, size_t i);
size_t nr_plan_n_notes(const struct nr_plan *plan);
const char *nr_plan_note(const struct nr_plan *plan, size_t i);
const char *nr_plan_meta(const struct nr_plan *plan, const char *key);
size_t nr_plan_n_actions(const struct nr_plan *plan);
const struct nr_plan_action *nr_plan_action(const struct nr_plan *plan, size_t i);
/* True when no edit changes anything and there is no action. */
bool nr_plan_is_noop(const struct nr_plan *plan);

/* The unified diff of edit i ("--- a/etc/x\n+++ b/etc/x\n@@ ...", 3 lines of context),
 * "" when it changes nothing. malloc'd, NULL on OOM. */
char *nr_plan_edit_diff(const struct nr_plan *plan, size_t i);
/* Every changing edit's diff, one after the other. malloc'd, NULL on OOM. */
char *nr_plan_diff(const struct nr_plan *plan);
/* The unified diff between two texts under the given labels (for any caller). */
char *nr_diff_unified(const char *label_a, const char *a, size_t alen,
		      const char *label_b, const char *b, size_t blen);
/* A command line for display, each argument shell-quoted when needed. malloc'd. */
char *nr_plan_command_line(const char *const *argv);

/* --- running ---------------------------------------------------------------------- */

enum nr_plan_event {
	NR_PLAN_EV_STEP,        /* a journal step done: text says which ("wrote /etc/x") */
	NR_PLAN_EV_COMMAND,     /* a command starts: text is its display line */
	NR_PLAN_EV_OUTPUT,      /* a chunk of the command's output (stdout and stderr), raw */
	NR_PLAN_EV_NOTE,        /* something the user should know ("nothing to change") */
};

/* Progress and output; text is raw (sanitise before showing). */
typedef void (*nr_plan_output_fn)(void *userdata, enum nr_plan_event ev, const char *text);

struct nr_plan_opts {
	bool no_commands;       /* --no-regenerate: write files, run nothing */
	nr_plan_output_fn output;       /* may be NULL */
	void *userdata;
	int fault_after;        /* > 0: stop after that many journal steps (-NR_E_FAULT);
				   0: read NEURON_FAULT_AFTER from the environment */
};

struct nr_plan_result {
	unsigned files_changed;         /* files written, restored or removed */
	unsigned files_unchanged;       /* edits already in place */
	unsigned commands_run;
	bool finished_interrupted;      /* an interrupted apply or revert was completed first */
	unsigned leftovers_removed;     /* names a run stopped before its journal left, removed */
	int failed_command;             /* index of the command that failed, -1 when none */
	int failed_status;              /* its exit status (or 128 + signal) */
};

/* Apply: journal, backups, atomic writes, the actions, then the commands. When the files
 * are already in place and no command is pending, nothing is written or run (result
 * says so). An interrupted apply under the same name is completed first, as recorded,
 * and an interrupted revert is finished first. A failed command returns -NR_E_COMMAND
 * with the files applied and recorded; the commands stay pending in the journal and the
 * next apply runs them. A full file system returns -NR_E_NOSPACE: the journal says where
 * the apply stopped (apply again once there is space, or revert). */
int nr_plan_apply(struct nr_plan *plan, const struct nr_plan_opts *opts,
		  struct nr_plan_result *result, struct nr_error *err);

/* Complete what the journal named name records, and nothing else: an interrupted apply
 * gets the rest of its planned contents and actions, then its commands; an interrupted
 * revert is rolled back to the end; pending commands run. -NR_E_NOTFOUND when nothing is
 * recorded. Needs no plan: what an apply started is finished even when planning again
 * would decide something else. */
int nr_plan_finish(const struct nr_ctx *ctx, const char *name, const struct nr_plan_opts *opts,
		   struct nr_plan_result *result, struct nr_error *err);

/* Revert what the journal named name records (applied or interrupted): originals back
 * byte for byte, created files removed, the actions undone, then the recorded commands,
 * then the journal, the backups and the directories the apply created. Every backup is
 * checked before anything changes: one that is missing (outside an apply that stopped
 * before keeping it) refuses the revert with -NR_E_REFUSED, the journal and backups
 * kept. Starting needs no free space. A failed command returns -NR_E_COMMAND with the
 * originals back and the journal kept ("reverting"): the next revert runs the commands
 * again. With no journal, what a run stopped before its journal left is removed (0);
 * -NR_E_NOTFOUND when there is nothing at all. */
int nr_plan_revert(const struct nr_ctx *ctx, const char *name, const struct nr_plan_opts *opts,
		   struct nr_plan_result *result, struct nr_error *err);

enum nr_plan_state {
	NR_PLAN_STATE_NONE,             /* no journal: nothing applied under this name */
	NR_PLAN_STATE_APPLIED,          /* applied (commands may still be pending) */
	NR_PLAN_STATE_APPLYING,         /* an apply was interrupted */
	NR_PLAN_STATE_REVERTING,        /* a revert was interrupted */
};

struct nr_plan_status_file {
	char *path;
	bool created;           /* the apply created it (revert removes it) */
	bool removed;           /* the apply removed it (revert puts it back) */
	bool backed_up;         /* its original is in the backup directory */
	bool modified;          /* applied, and changed by someone since */
};

struct nr_plan_status {
	enum nr_plan_state state;
	bool commands_pending;          /* the commands did not complete after the last change */
	struct nr_plan_status_file *files;
	size_t n_files;
	char **commands;                /* display lines of the recorded commands */
	size_t n_commands;
	char **meta_keys, **meta_values;
	size_t n_meta;
	char **actions;                 /* what the recorded actions do, one line each */
	size_t n_actions;
	char **notes;                   /* what the latest recorded plan said the user must know */
	size_t n_notes;
	char **leftovers;               /* what a run stopped before its journal left (full paths):
					   a revert removes them */
	size_t n_leftovers;
	bool complete;                  /* the journal holds every planned content (finishable) */
	char *journal_path;             /* where the journal lives (on the real filesystem) */
};

/* Read the journal of plan name. Never writes. A journal that names a path outside the
 * root is refused (-NR_E_ESCAPE). */
int nr_plan_status_read(const struct nr_ctx *ctx, const char *name, struct nr_plan_status *st,
			struct nr_error *err);
void nr_plan_status_done(struct nr_plan_status *st);
const char *nr_plan_status_meta(const struct nr_plan_status *st, const char *key);
const char *nr_plan_state_name(enum nr_plan_state s);   /* "none", "applied", ... */

/* --- the command runner --------------------------------------------------------- */

/* Run argv inside the ctx's root and stream its output (stdout and stderr merged)
 * through output as NR_PLAN_EV_OUTPUT chunks. When root is not "/", the command runs
 * chrooted into root in a private mount namespace with /proc, /sys and /dev bound
 * (onto the mount points the root has; none is created).
 * When the ctx parameter "run.standins" names a directory, argv[0]'s basename is run
 * from there instead, not chrooted, with NEURON_ROOT=<root> in its environment
 * (tests point it at recording stand-ins). *status gets the exit status (128 + signal
 * when killed). Returns 0 when the command ran (whatever its status), or an error
 * when it could not be started. */
int nr_plan_run(const struct nr_ctx *ctx, const char *const *argv, nr_plan_output_fn output,
		void *userdata, int *status, struct nr_error *err);
/* The same runner for a tool of this machine (xorriso making a VM's guest-tools media):
 * never chrooted, no stand-ins, the same PATH, locale and output handling, and bounded:
 * still running after timeout_ms, it is killed with its process group (-NR_E_TIMEOUT).
 * A program that cannot be started exits 127 with the reason in its output. */
int nr_plan_run_host(const char *const *argv, unsigned timeout_ms, nr_plan_output_fn output, void *userdata,
		     int *status, struct nr_error *err);

#endif
