/* File access confined to a target root (--root): every open, read or write, walks the path
 * inside the root. Private to core/ (the plan engine, vfio's boot detection, lg set-up). */
#ifndef NEURON_ROOT_H
#define NEURON_ROOT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "neuron/error.h"

/* A root opened for resolving paths inside it. */
struct nr_root {
	char *path;             /* realpath of the root */
	int fd;                 /* O_DIRECTORY fd on it */
};

int nr_root_open(struct nr_root *r, const char *root, struct nr_error *err);
void nr_root_close(struct nr_root *r);

/* Resolve path (absolute inside root, or relative to it) to a canonical relative path
 * with no symlink among its existing components ("" for the root itself). Symlinks are
 * followed as the kernel would on the real filesystem; one that leads outside root is
 * refused with -NR_E_ESCAPE. Components that do not exist are kept as they are. */
int nr_root_resolve(const struct nr_root *r, const char *path, char **rel, struct nr_error *err);

/* Open the directory holding rel (O_RDONLY|O_DIRECTORY), walking with O_NOFOLLOW.
 * With created != NULL, missing directories are made (0755) and their relative paths
 * appended to *created (n_created updated). *base points into rel. */
int nr_root_open_parent(const struct nr_root *r, const char *rel, const char **base,
			char ***created, size_t *n_created, struct nr_error *err);
/* The missing directories on the way to rel's parent, outermost first. */
int nr_root_missing_dirs(const struct nr_root *r, const char *rel, char ***dirs, size_t *n,
			 struct nr_error *err);

/* Read rel: -NR_E_NOTFOUND when absent. mode/uid/gid may be NULL. */
int nr_root_read(const struct nr_root *r, const char *rel, char **text, size_t *len,
		 mode_t *mode, uid_t *uid, gid_t *gid, struct nr_error *err);
/* Write a temp file beside rel with text, mode and owner, fsynced (the "stage" step). */
int nr_root_stage(const struct nr_root *r, const char *rel, const char *text, size_t len,
		  mode_t mode, uid_t uid, gid_t gid, char ***created, size_t *n_created,
		  struct nr_error *err);
/* Rename the staged temp over rel and fsync the directory (the "commit" step). */
int nr_root_commit(const struct nr_root *r, const char *rel, struct nr_error *err);
/* Remove a stale temp beside rel, if any. */
void nr_root_drop_stage(const struct nr_root *r, const char *rel);
/* Unlink rel (absent is fine), fsync the directory. */
int nr_root_unlink(const struct nr_root *r, const char *rel, struct nr_error *err);
/* rmdir rel when it exists and is empty; other cases are left alone. */
void nr_root_rmdir(const struct nr_root *r, const char *rel);
/* Remove a directory tree under root (for backups). */
int nr_root_remove_tree(const struct nr_root *r, const char *rel, struct nr_error *err);

#endif
