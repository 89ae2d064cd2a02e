/* What the unit tests share: the fixture machines, scratch directories, whole files.
 * Include after <cmocka.h>. Every helper fails the test (cmocka) when it cannot do its job. */
#ifndef NEURON_TEST_UNIT_H
#define NEURON_TEST_UNIT_H

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "neuron/ctx.h"
#include "neuron/error.h"
#include "neuron/profile.h"
#include "neuron/scan.h"
#include "neuron/util.h"

#define UNIT_HELPER static __attribute__((unused))

/* A context whose sysroot is the fixture machine (tests/fixtures/machines/MACHINE.yaml
 * as make builds it under $SYSROOTS). */
UNIT_HELPER struct nr_ctx *unit_machine_ctx(const char *machine)
{
	const char *dir = getenv("SYSROOTS");
	struct nr_error err = { 0 };
	struct nr_ctx *ctx = nr_ctx_new();
	char path[4096];

	if (!dir)
		fail_msg("SYSROOTS is not set: run the unit tests through make check");
	assert_non_null(ctx);
	snprintf(path, sizeof(path), "%s/%s", dir, machine);
	assert_int_equal(nr_ctx_set(ctx, "sysroot", path, &err), 0);
	return ctx;
}

/* The scan of a fixture machine with ctx's sysroot. */
UNIT_HELPER struct nr_scan *unit_scan_ctx(struct nr_ctx *ctx)
{
	struct nr_error err = { 0 };
	struct nr_scan *scan = NULL;

	if (nr_scan_new(ctx, &scan, &err) < 0)
		fail_msg("scan of %s failed: %s", nr_ctx_get(ctx, "sysroot"), err.msg);
	return scan;
}

/* The scan of a fixture machine. */
UNIT_HELPER struct nr_scan *unit_scan(const char *machine)
{
	struct nr_ctx *ctx = unit_machine_ctx(machine);
	struct nr_scan *scan = unit_scan_ctx(ctx);

	nr_ctx_free(ctx);
	return scan;
}

/* A new scratch directory /tmp/neuron-test-TAG-XXXXXX (on /dev/shm when there is one and
 * on_shm: what fsyncs every file runs faster there); malloc'd. unit_rmtree removes it. */
UNIT_HELPER char *unit_tmpdir(const char *tag, bool on_shm)
{
	char *d = NULL;

	assert_true(asprintf(&d, "%s/neuron-test-%s-XXXXXX",
			     on_shm && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", tag) > 0);
	assert_non_null(mkdtemp(d));
	return d;
}

UNIT_HELPER int unit_rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

/* Remove a directory and everything under it (symlinks are not followed). */
UNIT_HELPER void unit_rmtree(const char *dir)
{
	if (dir && dir[0])
		nftw(dir, unit_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* unit_rmtree, then free the name and forget it (a cmocka teardown's work). */
UNIT_HELPER void unit_rmtree_free(char **dir)
{
	unit_rmtree(*dir);
	free(*dir);
	*dir = NULL;
}

/* A path under dir (one of four rotating buffers: a few may be in use at once). */
UNIT_HELPER const char *unit_path(const char *dir, const char *rel)
{
	static char buf[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s%s%s", dir, rel[0] == '/' ? "" : "/", rel);
	return buf[i];
}

/* A profile from YAML text, which must parse. */
UNIT_HELPER struct nr_profile *unit_profile(const char *yaml)
{
	struct nr_error err = { 0 };
	struct nr_profile *p = NULL;

	if (nr_profile_parse(yaml, strlen(yaml), "t.yaml", &p, &err) < 0)
		fail_msg("parse failed: %s", err.msg);
	return p;
}

/* Write text to path (its folders made first) with mode. */
UNIT_HELPER void unit_put(const char *path, const char *text, mode_t mode)
{
	char *dir = strdup(path), *slash;
	FILE *f;

	assert_non_null(dir);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		assert_int_equal(nr_mkdir_p(dir, 0755, NULL), 0);
	}
	free(dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* A whole file (NUL-terminated, malloc'd), or NULL when it cannot be read. */
UNIT_HELPER char *unit_slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct nr_buf b;
	char chunk[4096];
	size_t n;

	if (!f)
		return NULL;
	nr_buf_init(&b);
	nr_buf_append(&b, "", 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		nr_buf_append(&b, chunk, n);
	fclose(f);
	assert_false(b.oom);
	return nr_buf_steal(&b);
}

/* Run a shell command (formatted); it must succeed. */
UNIT_HELPER void unit_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
UNIT_HELPER void unit_sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("failed: %s", cmd);
}

#endif
