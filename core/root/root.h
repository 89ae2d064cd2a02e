/* File access confined to a target root (--root): every open, read or write, walks the path
 * inside the root, one component at a time, never following a symbolic link the walk did
 * not resolve itself. Private to core/ (the plan engine, vfio's boot detection, lg set-up).
 *
 * Paths come in two forms: "absolute inside the root" ("/etc/default/grub"), which
 * nr_root_resolve turns into a canonical relative path with no symbolic link among its
 * existing components ("etc/default/grub"), and such relative paths ("rel"), which every
 * other function takes. A rel never starts with '/', never has an empty, "." or ".."
 * component (nr_root_rel_ok); "" is the root itself. */
#ifndef NEURON_ROOT_H
#define NEURON_ROOT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "neuron/error.h"

/* Beside a file or directory being made: ".NAME.neuron-new". Only neuron makes such
 * names, so one left behind by a crash is always safe to remove. */
#define NR_ROOT_STAGE_SUFFIX ".neuron-new"

/* A root opened for resolving paths inside it. */
struct nr_root {
	char *path;             /* realpath of the root */
	int fd;                 /* O_DIRECTORY fd on it */
};

int nr_root_open(struct nr_root *r, const char *root, struct nr_error *err);
void nr_root_close(struct nr_root *r);

/* A well-formed rel (see above; "" is not one: it names no file). */
bool nr_root_rel_ok(const char *rel);

/* The NR_E_* code for an errno from a file operation under the root. */
int nr_root_errcode(int e);

/* Resolve path (absolute inside root, or relative to it) to a canonical rel with no
 * symlink among its existing components ("" for the root itself). Symlinks are followed
 * as the target itself sees them: an absolute link is resolved from the root (a link
 * that spells out the root's own path is read from there too), never outside it. A link
 * that climbs above the root, a loop, and a link in the middle of the path whose
 * destination does not exist are refused with -NR_E_ESCAPE. Components that do not
 * exist are kept as they are. */
int nr_root_resolve(const struct nr_root *r, const char *path, char **rel, struct nr_error *err);

/* Open the directory rel ("" for the root), walking with O_NOFOLLOW. With create, missing
 * directories are made (mode 0755 whatever the umask) and their rels appended to
 * *created (when not NULL). Returns the fd or a negative NR_E_*. */
int nr_root_open_dir(const struct nr_root *r, const char *rel, bool create, char ***created,
		     size_t *n_created, struct nr_error *err);
/* The directory holding rel, as nr_root_open_dir (created != NULL: create). *base
 * points into rel. */
int nr_root_open_parent(const struct nr_root *r, const char *rel, const char **base,
			char ***created, size_t *n_created, struct nr_error *err);
/* The missing directories on the way to rel's parent, outermost first (appended). */
int nr_root_missing_dirs(const struct nr_root *r, const char *rel, char ***dirs, size_t *n,
			 struct nr_error *err);

/* lstat of rel through the walk: -NR_E_NOTFOUND when it (or a directory on the way) is
 * absent. */
int nr_root_stat(const struct nr_root *r, const char *rel, struct stat *st, struct nr_error *err);
bool nr_root_exists(const struct nr_root *r, const char *rel);

/* Read the regular file rel (never blocking on a FIFO or a device: those are refused):
 * -NR_E_NOTFOUND when absent, -NR_E_NOTTEXT when it is larger than max bytes (checked
 * before reading). mode/uid/gid may be NULL. */
int nr_root_read(const struct nr_root *r, const char *rel, size_t max, char **text, size_t *len,
		 mode_t *mode, uid_t *uid, gid_t *gid, struct nr_error *err);

/* Write a temp file beside rel with text, mode and owner, fsynced (the "stage" step);
 * missing directories are made and listed in *created (when created is not NULL). */
int nr_root_stage(const struct nr_root *r, const char *rel, const char *text, size_t len,
		  mode_t mode, uid_t uid, gid_t gid, char ***created, size_t *n_created,
		  struct nr_error *err);
/* Stage rel as a hard link to the file from (same owner, mode and bytes, and no space
 * needed): 0, 1 when a link cannot be made there (another file system: stage a copy
 * instead), or a negative NR_E_*. */
int nr_root_stage_link(const struct nr_root *r, const char *from, const char *rel,
		       struct nr_error *err);
/* Rename the staged temp over rel and fsync the directory (the "commit" step). */
int nr_root_commit(const struct nr_root *r, const char *rel, struct nr_error *err);
/* Remove a stale temp beside rel, if any. */
void nr_root_drop_stage(const struct nr_root *r, const char *rel);
/* Make the file rel with text when it and maybe some of its directories do not exist,
 * all at once, in two steps. Stage: the missing directories are built under a staged name
 * beside the first of them (".TOP.neuron-new"), with the file inside, or the file alone is
 * staged beside rel when its directory exists; the directories that will appear are
 * appended to *created (outermost first, the first one is TOP). Commit: one rename puts
 * it all in place (top: the first directory created, NULL when there was none). A crash
 * between the two leaves only the staged name; a failure removes it. */
int nr_root_create_stage(const struct nr_root *r, const char *rel, const char *text, size_t len,
			 mode_t mode, char ***created, size_t *n_created, struct nr_error *err);
int nr_root_create_commit(const struct nr_root *r, const char *rel, const char *top, struct nr_error *err);
/* Rename rel from one name to another in the same directory tree (atomic). */
int nr_root_rename(const struct nr_root *r, const char *from, const char *to, struct nr_error *err);
/* Unlink rel (absent is fine), fsync the directory. */
int nr_root_unlink(const struct nr_root *r, const char *rel, struct nr_error *err);
/* rmdir rel when it exists and is empty; other cases are left alone. */
void nr_root_rmdir(const struct nr_root *r, const char *rel);
/* Remove a directory tree under root: renamed to its staged name first, so that a crash
 * half-way leaves only a ".NAME.neuron-new" behind. */
int nr_root_remove_tree(const struct nr_root *r, const char *rel, struct nr_error *err);

/* True when the directory tree dir holds nothing but file and the directories on the way
 * to it (so that removing dir removes no one else's file). */
bool nr_root_holds_only(const struct nr_root *r, const char *dir, const char *file);

/* The staged names (".C.neuron-new") left beside each component of rel, and beside rel
 * itself, by a run that stopped before it could rename them into place (appended). */
int nr_root_stale_stages(const struct nr_root *r, const char *rel, char ***found, size_t *n);

/* Whether the nearest existing directory of rel can be written: -NR_E_READONLY naming
 * the read-only mount ("ROOT/boot") and the command that makes it writable, or
 * -NR_E_PERM. */
int nr_root_check_writable(const struct nr_root *r, const char *rel, struct nr_error *err);

#endif
