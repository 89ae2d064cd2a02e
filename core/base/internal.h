/* Private helpers shared by core/ modules. Not installed, not used by tui/ or cli/. */
#ifndef NEURON_INTERNAL_H
#define NEURON_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "neuron/clock.h"
#include "neuron/error.h"
#include "neuron/util.h"

/* "a" + "/" + "b" without doubled slashes; "/" + "sys" -> "/sys". malloc'd. */
char *nr_path_join(const char *a, const char *b);

struct stat;

/* What nr_open_kind accepts. */
enum { NR_OPEN_FILE = 1, NR_OPEN_DEVICE = 2 };
/* Open path (relative to dirfd, or absolute) without ever blocking: a FIFO, a socket or a
 * device where a file is expected is refused with its type named, never waited on. flags
 * are open(2)'s (O_CLOEXEC and O_NOCTTY are added); kinds says what may be opened (a
 * regular file, a character device). shown names the file in the message; st (may be NULL)
 * gets its fstat. The fd returned is in blocking mode again. */
int nr_open_kind(int dirfd, const char *path, int flags, unsigned kinds, const char *shown,
		 struct stat *st, struct nr_error *err);
/* "a FIFO (named pipe)", "a directory", ... for a st_mode. */
const char *nr_file_type_name(unsigned mode);

/* Read a whole file (NUL-terminated; *len excludes the NUL). Returns 0, or a
 * negative NR_E_* with errno kept, filling err with the path and the reason. */
int nr_read_file(const char *path, char **out, size_t *len, struct nr_error *err);
/* The same, refusing a file of more than max bytes (-NR_E_TOOBIG) before reading further. */
int nr_read_file_max(const char *path, size_t max, char **out, size_t *len, struct nr_error *err);
/* Read the first line of a small sysfs-like file into buf, newline stripped.
 * Returns 0 or -1 (errno set); never fills an nr_error (callers decide). */
int nr_read_line(const char *path, char *buf, size_t size);
/* Read the basename of a symlink's target ("../../bus/pci/drivers/nvidia" -> "nvidia"). */
int nr_read_link_base(const char *path, char *buf, size_t size);

/* The string list: an array *v of *n malloc'd strings, always followed by a NULL (so
 * that it is also an argv), grown as items come. */
/* Append a copy of s. 0, or -NR_E_NOMEM with *v and *n unchanged. */
int nr_strv_add(char ***v, size_t *n, const char *s);
/* Append s itself (malloc'd; the list owns it now). NULL s (a failed strdup) or no
 * memory: s is freed, -NR_E_NOMEM, *v and *n unchanged. */
int nr_strv_take(char ***v, size_t *n, char *s);
/* The same, unless an equal string is already there (then 0, nothing added). */
int nr_strv_add_unique(char ***v, size_t *n, const char *s);
/* Free the n strings of v and v itself; NULL is a no-op. */
void nr_strv_free(char **v, size_t n);
/* The same for a NULL-terminated list whose count is not at hand. */
void nr_strv_free_null(char **v);

/* --- sysfs.c: writes to the live machine's sysfs ---------------------------------------- */
struct nr_ctx;
/* Write value to the sysfs file rel under the ctx's sysroot ("sys/class/vtconsole/vtcon1/bind"),
 * as the shell's "echo -n VALUE > FILE" does. Every runtime write to sysfs goes through here. */
int nr_sysfs_write(const struct nr_ctx *ctx, const char *rel, const char *value, struct nr_error *err);
/* The same for a path already under the sysroot (gpu bind's planned writes). */
int nr_sysfs_write_path(const char *path, const char *value, struct nr_error *err);
/* The unit tests' fake kernel: every nr_sysfs_write calls fn(data, path, value) instead of
 * writing (path under the sysroot; fn returns 0 or an errno). NULL puts the real writer back. */
typedef int (*nr_sysfs_writer_fn)(void *data, const char *path, const char *value);
void nr_sysfs_set_writer(nr_sysfs_writer_fn fn, void *data);

#endif
