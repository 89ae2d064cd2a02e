/* The plan engine on temporary roots: diffs, apply, idempotence, byte-identical revert,
 * symlink escapes, every crash point of apply and revert, the command runner. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "neuron/clock.h"
#include "neuron/plan.h"
#include "neuron/util.h"
#include "unit.h"

/* ---- helpers ---- */

static void put(const char *root, const char *rel, const char *text, mode_t mode)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	unit_put(path, text, mode);
}

static char *get(const char *root, const char *rel)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return unit_slurp(path);
}

/* A snapshot of a whole tree: every entry with its type, mode and content, by path. */
static char **snap_ent;
static size_t snap_n, snap_prefix;

static int snap_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	struct nr_buf b;

	if (strlen(path) == snap_prefix)
		return 0;
	nr_buf_init(&b);
	nr_buf_printf(&b, "%s %c %o\n", path + snap_prefix,
		      S_ISDIR(st->st_mode) ? 'd' : S_ISLNK(st->st_mode) ? 'l' : 'f', st->st_mode & 07777);
	if (S_ISREG(st->st_mode)) {
		FILE *f = fopen(path, "r");
		int c;
		while (f && (c = fgetc(f)) != EOF) {
			char ch = (char)c;
			nr_buf_append(&b, &ch, 1);
		}
		if (f)
			fclose(f);
		nr_buf_puts(&b, "<eof>\n");
	}
	if (S_ISLNK(st->st_mode)) {
		char t[4096];
		ssize_t n = readlink(path, t, sizeof(t) - 1);
		t[n > 0 ? n : 0] = '\0';
		nr_buf_printf(&b, "-> %s\n", t);
	}
	snap_ent = realloc(snap_ent, (snap_n + 1) * sizeof(*snap_ent));
	snap_ent[snap_n++] = nr_buf_steal(&b);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *snapshot(const char *root)
{
	struct nr_buf b;

	snap_ent = NULL;
	snap_n = 0;
	snap_prefix = strlen(root);
	assert_int_equal(nftw(root, snap_one, 16, FTW_PHYS), 0);
	qsort(snap_ent, snap_n, sizeof(*snap_ent), cmp_str);
	nr_buf_init(&b);
	nr_buf_append(&b, "", 0);
	for (size_t i = 0; i < snap_n; i++) {
		nr_buf_puts(&b, snap_ent[i]);
		free(snap_ent[i]);
	}
	free(snap_ent);
	return nr_buf_steal(&b);
}

static struct nr_ctx *ctx_for(const char *root)
{
	struct nr_ctx *ctx = nr_ctx_new();

	assert_non_null(ctx);
	assert_int_equal(nr_ctx_set(ctx, "root", root, NULL), 0);
	return ctx;
}

/* The standard test root: a file to replace (mode 0600), one to remove, none to create. */
static void seed(const char *root)
{
	put(root, "etc/a.conf", "one\ntwo\nthree\n", 0600);
	put(root, "etc/old.conf", "going away\n", 0644);
	put(root, "etc/keep.conf", "untouched\n", 0644);
}

static struct nr_plan *standard_plan(struct nr_ctx *ctx, const char *standins)
{
	struct nr_plan *plan = nr_plan_new(ctx, "test");
	struct nr_error err = { 0 };
	static const char *const cmd[] = { "regen", "--all", NULL };

	assert_non_null(plan);
	assert_int_equal(nr_plan_set_file(plan, "/etc/a.conf", "one\nTWO\nthree\n", 14, "change a", &err), 0);
	assert_int_equal(nr_plan_set_file(plan, "/etc/new.d/b.conf", "bee\n", 4, "create b", &err), 0);
	assert_int_equal(nr_plan_remove_file(plan, "/etc/old.conf", "drop old", &err), 0);
	if (standins)
		assert_int_equal(nr_plan_add_command(plan, cmd, "regenerate", &err), 0);
	nr_plan_set_meta(plan, "gpus", "0000:01:00.0");
	return plan;
}

/* A stand-in command that records its arguments and root, and exits with $REGEN_RC. */
static char *make_standins(void)
{
	char *dir = unit_tmpdir("plan", true);
	char path[4200];
	snprintf(path, sizeof(path), "%s/regen", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\necho \"regen $* in $NEURON_ROOT\" >> %s/log\n"
		   "echo \"building images\"\necho \"warning: on stderr\" >&2\n"
		   "exit ${REGEN_RC:-0}\n", dir);
	fclose(f);
	chmod(path, 0755);
	return dir;
}

/* ---- tests ---- */

static void test_diff_unified(void **state)
{
	const char *a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";
	const char *b = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\neleven";
	char *d = nr_diff_unified("a/x", a, strlen(a), "b/x", b, strlen(b));

	assert_string_equal(d,
		"--- a/x\n+++ b/x\n"
		"@@ -2,9 +2,10 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n 9\n 10\n+eleven\n"
		"\\ No newline at end of file\n");
	free(d);
	d = nr_diff_unified("a/x", a, strlen(a), "b/x", a, strlen(a));
	assert_string_equal(d, "");
	free(d);
	/* two far-apart changes make two hunks */
	const char *c = "one\n2\n3\n4\n5\n6\n7\n8\n9\nten\n";
	d = nr_diff_unified("a/x", a, strlen(a), "b/x", c, strlen(c));
	assert_string_equal(d, "--- a/x\n+++ b/x\n@@ -1,4 +1,4 @@\n-1\n+one\n 2\n 3\n 4\n"
			       "@@ -7,4 +7,4 @@\n 7\n 8\n 9\n-10\n+ten\n");
	free(d);
	/* a new file */
	d = nr_diff_unified("/dev/null", "", 0, "b/y", "x\n", 2);
	assert_string_equal(d, "--- /dev/null\n+++ b/y\n@@ -0,0 +1 @@\n+x\n");
	free(d);
}

static void test_apply_revert_roundtrip(void **state)
{
	char *root = unit_tmpdir("plan", true);
	seed(root);
	char *before = snapshot(root);
	struct nr_ctx *ctx = ctx_for(root);
	struct nr_plan *plan = standard_plan(ctx, NULL);
	struct nr_plan_result res;
	struct nr_error err = { 0 };
	struct nr_plan_opts opts = { .fault_after = -1 };
	struct stat st;

	assert_int_equal(nr_plan_n_edits(plan), 3);
	assert_int_equal(nr_plan_edit(plan, 0)->kind, NR_PLAN_REPLACE);
	assert_int_equal(nr_plan_edit(plan, 1)->kind, NR_PLAN_CREATE);
	assert_int_equal(nr_plan_edit(plan, 2)->kind, NR_PLAN_REMOVE);
	char *diff = nr_plan_diff(plan);
	assert_string_equal(diff,
		"--- a/etc/a.conf\n+++ b/etc/a.conf\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n"
		"--- /dev/null\n+++ b/etc/new.d/b.conf\n@@ -0,0 +1 @@\n+bee\n"
		"--- a/etc/old.conf\n+++ /dev/null\n@@ -1 +0,0 @@\n-going away\n");
	free(diff);
	/* planning writes nothing */
	char *planned = snapshot(root);
	assert_string_equal(before, planned);
	free(planned);

	assert_int_equal(nr_plan_apply(plan, &opts, &res, &err), 0);
	assert_int_equal(res.files_changed, 3);
	char *t = get(root, "etc/a.conf");
	assert_string_equal(t, "one\nTWO\nthree\n");
	free(t);
	assert_int_equal(stat(root, &st), 0);
	char p[4200];
	snprintf(p, sizeof(p), "%s/etc/a.conf", root);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);      /* the mode is kept */
	t = get(root, "var/lib/neuron/backup/test/etc/a.conf");
	assert_string_equal(t, "one\ntwo\nthree\n");
	free(t);
	t = get(root, "etc/old.conf");
	assert_null(t);

	struct nr_plan_status st1;
	assert_int_equal(nr_plan_status_read(ctx, "test", &st1, &err), 0);
	assert_int_equal(st1.state, NR_PLAN_STATE_APPLIED);
	assert_int_equal(st1.n_files, 3);
	assert_string_equal(nr_plan_status_meta(&st1, "gpus"), "0000:01:00.0");
	for (size_t i = 0; i < st1.n_files; i++)
		assert_false(st1.files[i].modified);
	nr_plan_status_done(&st1);
	char *applied = snapshot(root);

	/* the same plan again changes nothing */
	nr_plan_free(plan);
	plan = standard_plan(ctx, NULL);
	assert_true(nr_plan_is_noop(plan));
	assert_int_equal(nr_plan_apply(plan, &opts, &res, &err), 0);
	assert_int_equal(res.files_changed, 0);
	char *again = snapshot(root);
	assert_string_equal(applied, again);
	free(again);

	/* a user edit after apply shows in status */
	put(root, "etc/new.d/b.conf", "bee, edited\n", 0644);
	assert_int_equal(nr_plan_status_read(ctx, "test", &st1, &err), 0);
	bool any_modified = false;
	for (size_t i = 0; i < st1.n_files; i++)
		any_modified |= st1.files[i].modified;
	assert_true(any_modified);
	nr_plan_status_done(&st1);

	/* revert: byte for byte, created files and directories gone, no state left */
	assert_int_equal(nr_plan_revert(ctx, "test", &opts, &res, &err), 0);
	char *after = snapshot(root);
	assert_string_equal(before, after);
	assert_int_equal(nr_plan_status_read(ctx, "test", &st1, &err), 0);
	assert_int_equal(st1.state, NR_PLAN_STATE_NONE);
	nr_plan_status_done(&st1);
	assert_int_equal(nr_plan_revert(ctx, "test", &opts, &res, &err), -NR_E_NOTFOUND);

	free(before);
	free(after);
	free(applied);
	nr_plan_free(plan);
	nr_ctx_free(ctx);
	unit_rmtree(root);
	free(root);
}

static void test_second_apply_keeps_first_original(void **state)
{
	char *root = unit_tmpdir("plan", true);
	seed(root);
	char *before = snapshot(root);
	struct nr_ctx *ctx = ctx_for(root);
	struct nr_error err = { 0 };
	struct nr_plan_opts opts = { .fault_after = -1 };
	struct nr_plan *plan = nr_plan_new(ctx, "test");

	assert_int_equal(nr_plan_set_file(plan, "/etc/a.conf", "first\n", 6, NULL, &err), 0);
	assert_int_equal(nr_plan_apply(plan, &opts, NULL, &err), 0);
	nr_plan_free(plan);
	plan = nr_plan_new(ctx, "test");
	assert_int_equal(nr_plan_set_file(plan, "/etc/a.conf", "second\n", 7, NULL, &err), 0);
	assert_int_equal(nr_plan_apply(plan, &opts, NULL, &err), 0);
	char *t = get(root, "var/lib/neuron/backup/test/etc/a.conf");
	assert_string_equal(t, "one\ntwo\nthree\n");
	free(t);
	assert_int_equal(nr_plan_revert(ctx, "test", &opts, NULL, &err), 0);
	char *after = snapshot(root);
	assert_string_equal(before, after);
	free(before);
	free(after);
	nr_plan_free(plan);
	nr_ctx_free(ctx);
	unit_rmtree(root);
	free(root);
}

static void test_stale_plan_refused(void **state)
{
	char *root = unit_tmpdir("plan", true);
	seed(root);
	struct nr_ctx *ctx = ctx_for(root);
	struct nr_error err = { 0 };
	struct nr_plan *plan = standard_plan(ctx, NULL);

	put(root, "etc/a.conf", "someone else\n", 0600);
	assert_int_equal(nr_plan_apply(plan, NULL, NULL, &err), -NR_E_STALE);
	assert_non_null(strstr(err.msg, "/etc/a.conf"));
	char *t = get(root, "etc/a.conf");
	assert_string_equal(t, "someone else\n");
	free(t);
	assert_null(get(root, "var/lib/neuron/plans/test.journal"));
	nr_plan_free(plan);
	nr_ctx_free(ctx);
	unit_rmtree(root);
	free(root);
}

static void test_symlink_escape_refused(void **state)
{
	char *root = unit_tmpdir("plan", true), *outside = unit_tmpdir("plan", true);
	char link[4200], target[4200];
	struct nr_ctx *ctx = ctx_for(root);
	struct nr_error err = { 0 };
	struct nr_plan *plan = nr_plan_new(ctx, "test");

	/* /mnt/etc -> /etc in a rescue session: here etc -> a directory outside root */
	put(outside, "modprobe.d/keep.conf", "live system\n", 0644);
	char *outside_before = snapshot(outside);
	snprintf(link, sizeof(link), "%s/etc", root);
	assert_int_equal(symlink(outside, link), 0);
	assert_int_equal(nr_plan_set_file(plan, "/etc/modprobe.d/vfio.conf", "x\n", 2, NULL, &err),
			 -NR_E_ESCAPE);
	assert_non_null(strstr(err.msg, "outside the target root"));
	char *text = NULL;
	assert_int_equal(nr_plan_read(plan, "/etc/modprobe.d/keep.conf", &text, NULL, &err), -NR_E_ESCAPE);
	assert_int_equal(nr_plan_remove_file(plan, "/etc/modprobe.d/keep.conf", NULL, &err), -NR_E_ESCAPE);

	/* a relative link that climbs out */
	unlink(link);
	mkdir(link, 0755);
	snprintf(link, sizeof(link), "%s/etc/default", root);
	snprintf(target, sizeof(target), "../../../../../../../../..%s", outside);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(nr_plan_set_file(plan, "/etc/default/grub", "x\n", 2, NULL, &err), -NR_E_ESCAPE);
	/* ".." in the path itself */
	assert_int_equal(nr_plan_set_file(plan, "/../../etc/passwd", "x\n", 2, NULL, &err), -NR_E_ESCAPE);
	/* a loop */
	snprintf(link, sizeof(link), "%s/etc/loop", root);
	assert_int_equal(symlink("loop", link), 0);
	assert_int_equal(nr_plan_set_file(plan, "/etc/loop/x", "x\n", 2, NULL, &err), -NR_E_ESCAPE);
	assert_int_equal(nr_plan_n_edits(plan), 0);
	char *outside_after = snapshot(outside);
	assert_string_equal(outside_before, outside_after);

	/* links that stay inside root are followed: relative, and absolute under root */
	put(root, "boot/grub-real/grub.cfg", "cfg\n", 0644);
	snprintf(link, sizeof(link), "%s/boot/grub", root);
	assert_int_equal(symlink("grub-real", link), 0);
	snprintf(link, sizeof(link), "%s/boot/abs", root);
	snprintf(target, sizeof(target), "%s/boot/grub-real", root);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(nr_plan_set_file(plan, "/boot/grub/grub.cfg", "new\n", 4, NULL, &err), 0);
	assert_int_equal(nr_plan_set_file(plan, "/boot/abs/grub.cfg", "newer\n", 6, NULL, &err), 0);
	assert_int_equal(nr_plan_n_edits(plan), 1);     /* the same file, seen twice */
	assert_int_equal(nr_plan_apply(plan, NULL, NULL, &err), 0);
	char *t = get(root, "boot/grub-real/grub.cfg");
	assert_string_equal(t, "newer\n");
	free(t);
	struct stat st;
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));               /* the link itself is kept */

	free(outside_before);
	free(outside_after);
	nr_plan_free(plan);
	nr_ctx_free(ctx);
	unit_rmtree(root);
	unit_rmtree(outside);
	free(root);
	free(outside);
}

struct captured {
	struct nr_buf out;
	int steps, commands;
};

static void capture(void *ud, enum nr_plan_event ev, const char *text)
{
	struct captured *c = ud;

	if (ev == NR_PLAN_EV_STEP)
		c->steps++;
	if (ev == NR_PLAN_EV_COMMAND)
		c->commands++;
	if (ev == NR_PLAN_EV_OUTPUT)
		nr_buf_puts(&c->out, text);
}

static void test_runner_and_failed_command(void **state)
{
	char *root = unit_tmpdir("plan", true), *standins = make_standins();
	seed(root);
	struct nr_ctx *ctx = ctx_for(root);
	struct nr_error err = { 0 };
	struct captured cap = { 0 };
	struct nr_plan_opts opts = { .output = capture, .userdata = &cap, .fault_after = -1 };
	struct nr_plan_result res;
	int status;

	nr_buf_init(&cap.out);
	nr_buf_append(&cap.out, "", 0);
	assert_int_equal(nr_ctx_set(ctx, "run.standins", standins, NULL), 0);
	static const char *const argv[] = { "/usr/bin/regen", "-k", "all", NULL };
	assert_int_equal(nr_plan_run(ctx, argv, capture, &cap, &status, &err), 0);
	assert_int_equal(status, 0);
	assert_non_null(strstr(cap.out.data, "building images\n"));
	assert_non_null(strstr(cap.out.data, "warning: on stderr\n"));
	char *log = get(standins, "log");
	char *real_root = realpath(root, NULL);
	char want[4200];
	snprintf(want, sizeof(want), "regen -k all in %s\n", real_root);
	assert_string_equal(log, want);
	free(log);

	/* a failing regeneration: files applied and recorded, the command stays pending */
	setenv("REGEN_RC", "3", 1);
	struct nr_plan *plan = standard_plan(ctx, standins);
	assert_int_equal(nr_plan_apply(plan, &opts, &res, &err), -NR_E_COMMAND);
	assert_int_equal(res.failed_command, 0);
	assert_int_equal(res.failed_status, 3);
	assert_non_null(strstr(err.msg, "regen --all"));
	struct nr_plan_status st;
	assert_int_equal(nr_plan_status_read(ctx, "test", &st, &err), 0);
	assert_int_equal(st.state, NR_PLAN_STATE_APPLIED);
	assert_true(st.commands_pending);
	assert_int_equal(st.n_commands, 1);
	assert_string_equal(st.commands[0], "regen --all");
	nr_plan_status_done(&st);

	/* the next apply has no file to change but runs the pending command */
	unsetenv("REGEN_RC");
	nr_plan_free(plan);
	plan = standard_plan(ctx, standins);
	assert_true(nr_plan_is_noop(plan));
	assert_int_equal(nr_plan_apply(plan, &opts, &res, &err), 0);
	assert_int_equal(res.commands_run, 1);
	assert_int_equal(nr_plan_status_read(ctx, "test", &st, &err), 0);
	assert_false(st.commands_pending);
	nr_plan_status_done(&st);
	/* and then nothing at all */
	assert_int_equal(nr_plan_apply(plan, &opts, &res, &err), 0);
	assert_int_equal(res.commands_run, 0);

	/* a failing command during revert: the originals are back, the journal stays
	 * (reverting) so that the next revert runs the commands again */
	setenv("REGEN_RC", "4", 1);
	assert_int_equal(nr_plan_revert(ctx, "test", &opts, &res, &err), -NR_E_COMMAND);
	unsetenv("REGEN_RC");
	char *t = get(root, "etc/a.conf");
	assert_string_equal(t, "one\ntwo\nthree\n");
	free(t);
	assert_int_equal(nr_plan_status_read(ctx, "test", &st, &err), 0);
	assert_int_equal(st.state, NR_PLAN_STATE_REVERTING);
	nr_plan_status_done(&st);
	/* --no-regenerate on revert: nothing run, the revert completes */
	struct nr_plan_opts quiet = { .no_commands = true, .fault_after = -1 };
	assert_int_equal(nr_plan_revert(ctx, "test", &quiet, &res, &err), 0);
	assert_int_equal(res.commands_run, 0);
	assert_int_equal(nr_plan_status_read(ctx, "test", &st, &err), 0);
	assert_int_equal(st.state, NR_PLAN_STATE_NONE);
	nr_plan_status_done(&st);

	/* a command that cannot start */
	static const char *const missing[] = { "no-such-tool", NULL };
	assert_int_equal(nr_plan_run(ctx, missing, capture, &cap, &status, &err), 0);
	assert_int_equal(status, 127);
	assert_non_null(strstr(cap.out.data, "cannot run"));

	free(real_root);
	nr_buf_done(&cap.out);
	nr_plan_free(plan);
	nr_ctx_free(ctx);
	unit_rmtree(root);
	unit_rmtree(standins);
	free(root);
	free(standins);
}

/* Stop apply after each of its steps in turn; after every one, status reports the
 * interruption, and both apply and revert bring the root to all-new or all-original. */
static void test_fault_after_every_apply_step(void **state)
{
	char *standins = make_standins();
	char *original = NULL, *applied = NULL;
	struct nr_error err = { 0 };
	int total = 0;

	/* the reference run, counting the steps */
	{
		char *root = unit_tmpdir("plan", true);
		seed(root);
		original = snapshot(root);
		struct nr_ctx *ctx = ctx_for(root);
		nr_ctx_set(ctx, "run.standins", standins, NULL);
		struct captured cap = { 0 };
		nr_buf_init(&cap.out);
		struct nr_plan_opts opts = { .output = capture, .userdata = &cap, .fault_after = -1 };
		struct nr_plan *plan = standard_plan(ctx, standins);
		assert_int_equal(nr_plan_apply(plan, &opts, NULL, &err), 0);
		total = cap.steps;
		applied = snapshot(root);
		nr_buf_done(&cap.out);
		nr_plan_free(plan);
		nr_ctx_free(ctx);
		unit_rmtree(root);
		free(root);
	}
	/* journal staged, journal applying, backup a, stage+write a, stage+write b, backup
	 * old, remove old, journal applied, the command, journal commands done */
	assert_int_equal(total, 12);

	for (int n = 1; n < total; n++) {
		for (int finish = 0; finish < 2; finish++) {
			char *root = unit_tmpdir("plan", true);
			seed(root);
			struct nr_ctx *ctx = ctx_for(root);
			nr_ctx_set(ctx, "run.standins", standins, NULL);
			struct nr_plan_opts crash = { .fault_after = n };
			struct nr_plan_opts opts = { .fault_after = -1 };
			struct nr_plan *plan = standard_plan(ctx, standins);
			struct nr_plan_status st;
			struct nr_plan_result res;

			assert_int_equal(nr_plan_apply(plan, &crash, NULL, &err), -NR_E_FAULT);
			nr_plan_free(plan);
			assert_int_equal(nr_plan_status_read(ctx, "test", &st, &err), 0);
			if (n == 1) {
				/* stopped before its journal was in place: only staged names, nothing
				 * recorded, nothing changed; apply and revert both remove them */
				assert_int_equal(st.state, NR_PLAN_STATE_NONE);
				assert_int_equal(st.n_leftovers, 1);
			} else {
				assert_int_equal(st.n_leftovers, 0);
				if (n < total - 2)
					assert_int_equal(st.state, NR_PLAN_STATE_APPLYING);
				else
					assert_int_equal(st.state, NR_PLAN_STATE_APPLIED);
				assert_true(st.commands_pending);
			}
			nr_plan_status_done(&st);

			if (finish) {
				plan = standard_plan(ctx, standins);
				assert_int_equal(nr_plan_apply(plan, &opts, &res, &err), 0);
				nr_plan_free(plan);
				char *now = snapshot(root);
				if (strcmp(now, applied) != 0)
					fail_msg("after a stop at step %d, apply did not finish:\n%s\n--- want\n%s",
						 n, now, applied);
				free(now);
			} else {
				assert_int_equal(nr_plan_revert(ctx, "test", &opts, &res, &err), 0);
				char *now = snapshot(root);
				if (strcmp(now, original) != 0)
					fail_msg("after a stop at step %d, revert did not restore:\n%s\n--- want\n%s",
						 n, now, original);
				free(now);
			}
			nr_ctx_free(ctx);
			unit_rmtree(root);
			free(root);
		}
	}
	free(original);
	free(applied);
	unit_rmtree(standins);
	free(standins);
}

/* Stop revert after each of its steps; revert again finishes it, apply re-applies. */
static void test_fault_after_every_revert_step(void **state)
{
	struct nr_error err = { 0 };
	char *original = NULL, *applied = NULL;

	for (int n = 1; n < 64; n++) {
		char *root = unit_tmpdir("plan", true);
		seed(root);
		if (!original)
			original = snapshot(root);
		struct nr_ctx *ctx = ctx_for(root);
		struct nr_plan_opts opts = { .fault_after = -1 };
		struct nr_plan_opts crash = { .fault_after = n };
		struct nr_plan *plan = standard_plan(ctx, NULL);
		struct nr_plan_status st;

		assert_int_equal(nr_plan_apply(plan, &opts, NULL, &err), 0);
		nr_plan_free(plan);
		if (!applied)
			applied = snapshot(root);
		int rc = nr_plan_revert(ctx, "test", &crash, NULL, &err);
		if (rc == 0) {
			char *now = snapshot(root);
			assert_string_equal(now, original);
			free(now);
			nr_ctx_free(ctx);
			unit_rmtree(root);
			free(root);
			assert_true(n > 3);
			break;
		}
		assert_int_equal(rc, -NR_E_FAULT);
		assert_int_equal(nr_plan_status_read(ctx, "test", &st, &err), 0);
		/* the last step removes the journal: then the root is already all original */
		enum nr_plan_state st_state = st.state;
		nr_plan_status_done(&st);
		if (st_state == NR_PLAN_STATE_NONE) {
			char *now = snapshot(root);
			assert_string_equal(now, original);
			free(now);
		} else {
			assert_int_equal(st_state, NR_PLAN_STATE_REVERTING);
		}
		if (st_state == NR_PLAN_STATE_NONE) {
			/* nothing to finish */
		} else if (n % 2) {
			assert_int_equal(nr_plan_revert(ctx, "test", &opts, NULL, &err), 0);
			char *now = snapshot(root);
			if (strcmp(now, original) != 0)
				fail_msg("revert stopped at %d, revert again:\n%s\n--- want\n%s", n, now, original);
			free(now);
		} else {
			plan = standard_plan(ctx, NULL);
			assert_int_equal(nr_plan_apply(plan, &opts, NULL, &err), 0);
			nr_plan_free(plan);
			char *now = snapshot(root);
			if (strcmp(now, applied) != 0)
				fail_msg("revert stopped at %d, apply again:\n%s\n--- want\n%s", n, now, applied);
			free(now);
		}
		nr_ctx_free(ctx);
		unit_rmtree(root);
		free(root);
	}
	free(original);
	free(applied);
}


/* ---- promises of issue 14 ---- */

/* An absolute link inside the target is followed from the root (as the target sees it),
 * never outside; a link in the middle of a path to nowhere is refused. */
static void test_links_as_the_target_sees_them(void **state)
{
	char *root = unit_tmpdir("plan", true);
	char link[4200];
	struct nr_ctx *ctx = ctx_for(root);
	struct nr_error err = { 0 };
	struct nr_plan *plan = nr_plan_new(ctx, "test");
	char *text = NULL;

	put(root, "etc/default/grub.real", "GRUB_TIMEOUT=5\n", 0644);
	snprintf(link, sizeof(link), "%s/etc/default/grub", root);
	assert_int_equal(symlink("/etc/default/grub.real", link), 0);
	assert_int_equal(nr_plan_read(plan, "/etc/default/grub", &text, NULL, &err), 0);
	assert_string_equal(text, "GRUB_TIMEOUT=5\n");
	free(text);
	assert_int_equal(nr_plan_set_file(plan, "/etc/default/grub", "GRUB_TIMEOUT=1\n", 15, NULL, &err), 0);
	assert_string_equal(nr_plan_edit(plan, 0)->old_text, "GRUB_TIMEOUT=5\n");
	assert_int_equal(nr_plan_apply(plan, NULL, NULL, &err), 0);
	char *t = get(root, "etc/default/grub.real");
	assert_string_equal(t, "GRUB_TIMEOUT=1\n");
	free(t);
	struct stat st;
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	nr_plan_free(plan);

	/* a directory link to a place the target does not have */
	plan = nr_plan_new(ctx, "other");
	snprintf(link, sizeof(link), "%s/etc/modprobe.d", root);
	assert_int_equal(symlink("/usr/lib/nowhere", link), 0);
	assert_int_equal(nr_plan_set_file(plan, "/etc/modprobe.d/vfio.conf", "x\n", 2, NULL, &err), -NR_E_ESCAPE);
	assert_non_null(strstr(err.msg, "which the target root does not have"));
	nr_plan_free(plan);
	nr_ctx_free(ctx);
	unit_rmtree(root);
	free(root);
}

/* FIFOs are refused at once; files with a NUL byte or too big are not text to edit. */
static void test_fifo_nul_and_huge_refused(void **state)
{
	char *root = unit_tmpdir("plan", true);
	char path[4200];
	struct nr_ctx *ctx = ctx_for(root);
	struct nr_error err = { 0 };
	struct nr_plan *plan = nr_plan_new(ctx, "test");
	char *text = NULL;

	put(root, "etc/x", "", 0644);
	snprintf(path, sizeof(path), "%s/etc/fifo", root);
	assert_int_equal(mkfifo(path, 0644), 0);
	assert_int_equal(nr_plan_read(plan, "/etc/fifo", &text, NULL, &err), -NR_E_NOTFILE);
	assert_non_null(strstr(err.msg, "is a FIFO (named pipe)"));
	assert_int_equal(nr_plan_set_file(plan, "/etc/fifo", "x\n", 2, NULL, &err), -NR_E_NOTFILE);

	snprintf(path, sizeof(path), "%s/etc/nul", root);
	FILE *f = fopen(path, "w");
	fwrite("one\ntwo\0three\n", 1, 14, f);
	fclose(f);
	assert_int_equal(nr_plan_read(plan, "/etc/nul", &text, NULL, &err), -NR_E_NOTTEXT);
	assert_non_null(strstr(err.msg, "/etc/nul:2 has a NUL byte"));

	snprintf(path, sizeof(path), "%s/etc/huge", root);
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_int_equal(ftruncate(fd, (off_t)2 << 30), 0);
	close(fd);
	assert_int_equal(nr_plan_set_file(plan, "/etc/huge", "x\n", 2, NULL, &err), -NR_E_NOTTEXT);
	assert_non_null(strstr(err.msg, "2147483648 bytes"));
	assert_int_equal(nr_plan_n_edits(plan), 0);
	nr_plan_free(plan);
	nr_ctx_free(ctx);
	unit_rmtree(root);
	free(root);
}

/* A missing backup outside an interrupted apply: revert refuses before changing anything. */
static void test_revert_refuses_a_missing_backup(void **state)
{
	char *root = unit_tmpdir("plan", true);
	struct nr_ctx *ctx = ctx_for(root);
	struct nr_error err = { 0 };
	struct nr_plan_opts opts = { .fault_after = -1 };
	struct nr_plan *plan;
	char path[4200];

	seed(root);
	plan = standard_plan(ctx, NULL);
	assert_int_equal(nr_plan_apply(plan, &opts, NULL, &err), 0);
	nr_plan_free(plan);
	snprintf(path, sizeof(path), "%s/var/lib/neuron/backup/test/etc/a.conf", root);
	assert_int_equal(unlink(path), 0);
	char *before = snapshot(root);
	assert_int_equal(nr_plan_revert(ctx, "test", &opts, NULL, &err), -NR_E_REFUSED);
	assert_non_null(strstr(err.msg, "the original of /etc/a.conf is missing"));
	char *after = snapshot(root);
	assert_string_equal(before, after);
	free(before);
	free(after);
	nr_ctx_free(ctx);
	unit_rmtree(root);
	free(root);
}

/* A journal that names a path outside the root is refused whole. */
static void test_journal_leaving_the_root(void **state)
{
	char *root = unit_tmpdir("plan", true), *outside = unit_tmpdir("plan", true);
	struct nr_ctx *ctx = ctx_for(root);
	struct nr_error err = { 0 };
	struct nr_plan_opts opts = { .fault_after = -1 };
	struct nr_plan_status st;
	struct nr_plan *plan;
	char path[4200];

	seed(root);
	put(outside, "secret", "outside\n", 0644);
	plan = standard_plan(ctx, NULL);
	assert_int_equal(nr_plan_apply(plan, &opts, NULL, &err), 0);
	nr_plan_free(plan);
	snprintf(path, sizeof(path), "%s/var/lib/neuron/plans/test.journal", root);
	FILE *f = fopen(path, "a");
	fprintf(f, "file R 0000000000000000 ../../../../../../..%s/secret\n", outside);
	fclose(f);
	assert_int_equal(nr_plan_status_read(ctx, "test", &st, &err), -NR_E_ESCAPE);
	assert_non_null(strstr(err.msg, "not a path inside the target root"));
	assert_int_equal(nr_plan_revert(ctx, "test", &opts, NULL, &err), -NR_E_ESCAPE);
	char *t = get(outside, "secret");
	assert_string_equal(t, "outside\n");
	free(t);
	nr_ctx_free(ctx);
	unit_rmtree(root);
	unit_rmtree(outside);
	free(root);
	free(outside);
}

/* The host runner (the guest-tools media's xorriso): output through the callback, the
 * status, and a bound that kills the command and what it started (its process group). */
static void test_run_host_bounded(void **state)
{
	struct captured cap = { 0 };
	struct nr_error err = { 0 };
	int status = 0;
	long long t0;

	(void)state;
	nr_buf_init(&cap.out);
	static const char *const say[] = { "sh", "-c", "echo out; echo err >&2; exit 4", NULL };
	assert_int_equal(nr_plan_run_host(say, 10000, capture, &cap, &status, &err), 0);
	assert_int_equal(status, 4);
	assert_non_null(strstr(cap.out.data, "out\n"));
	assert_non_null(strstr(cap.out.data, "err\n"));
	/* a child that holds the pipe open is killed too: the call returns at the bound */
	static const char *const hang[] = { "sh", "-c", "sleep 30 & sleep 30", NULL };
	t0 = nr_now_ms();
	assert_int_equal(nr_plan_run_host(hang, 300, capture, &cap, &status, &err), -NR_E_TIMEOUT);
	assert_true(nr_now_ms() - t0 < 5000);
	assert_non_null(strstr(err.msg, "did not finish"));
	static const char *const missing[] = { "no-such-tool", NULL };
	assert_int_equal(nr_plan_run_host(missing, 1000, capture, &cap, &status, &err), 0);
	assert_int_equal(status, 127);
	nr_buf_done(&cap.out);
}

static void capture_notes(void *ud, enum nr_plan_event ev, const char *text)
{
	if (ev == NR_PLAN_EV_NOTE) {
		nr_buf_puts(ud, text);
		nr_buf_puts(ud, "\n");
	}
}

/* Finishing completes what was recorded, not what another plan would say now. */
static void test_finish_as_recorded(void **state)
{
	char *root = unit_tmpdir("plan", true);
	struct nr_ctx *ctx = ctx_for(root);
	struct nr_error err = { 0 };
	struct nr_plan_opts crash = { .fault_after = 3 }, opts = { .fault_after = -1 };
	struct nr_plan_result res;
	struct nr_plan *plan = nr_plan_new(ctx, "test");

	put(root, "etc/a.conf", "a\n", 0644);
	put(root, "etc/b.conf", "b\n", 0644);
	assert_int_equal(nr_plan_set_file(plan, "/etc/a.conf", "A for both\n", 11, NULL, &err), 0);
	assert_int_equal(nr_plan_set_file(plan, "/etc/b.conf", "B for both\n", 11, NULL, &err), 0);
	nr_plan_add_note(plan, "a note that must not be lost");
	assert_int_equal(nr_plan_apply(plan, &crash, NULL, &err), -NR_E_FAULT);
	nr_plan_free(plan);
	struct nr_plan_status st;
	assert_int_equal(nr_plan_status_read(ctx, "test", &st, &err), 0);
	assert_int_equal(st.state, NR_PLAN_STATE_APPLYING);
	assert_true(st.complete);
	assert_int_equal(st.n_notes, 1);
	nr_plan_status_done(&st);

	struct nr_buf notes;
	nr_buf_init(&notes);
	nr_buf_append(&notes, "", 0);
	opts.output = capture_notes;
	opts.userdata = &notes;
	assert_int_equal(nr_plan_finish(ctx, "test", &opts, &res, &err), 0);
	assert_true(res.finished_interrupted);
	assert_non_null(strstr(notes.data, "a note that must not be lost"));
	nr_buf_done(&notes);
	char *a = get(root, "etc/a.conf"), *b = get(root, "etc/b.conf");
	assert_string_equal(a, "A for both\n");
	assert_string_equal(b, "B for both\n");
	free(a);
	free(b);
	assert_int_equal(nr_plan_revert(ctx, "test", NULL, NULL, &err), 0);
	a = get(root, "etc/a.conf");
	assert_string_equal(a, "a\n");
	free(a);
	nr_ctx_free(ctx);
	unit_rmtree(root);
	free(root);
}

/* The directories apply makes are 0755 whatever the umask. */
static void test_dirs_ignore_umask(void **state)
{
	char *root = unit_tmpdir("plan", true);
	struct nr_ctx *ctx = ctx_for(root);
	struct nr_error err = { 0 };
	struct nr_plan *plan = nr_plan_new(ctx, "test");
	char path[4200];
	struct stat st;
	mode_t old = umask(077);

	assert_int_equal(nr_plan_set_file(plan, "/etc/new.d/x.conf", "x\n", 2, NULL, &err), 0);
	assert_int_equal(nr_plan_apply(plan, NULL, NULL, &err), 0);
	umask(old);
	static const char *const dirs[] = { "etc", "etc/new.d", "var", "var/lib/neuron", "var/lib/neuron/plans" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
		assert_int_equal(stat(path, &st), 0);
		if ((st.st_mode & 07777) != 0755)
			fail_msg("%s is %o under umask 077", dirs[i], st.st_mode & 07777);
	}
	snprintf(path, sizeof(path), "%s/etc/new.d/x.conf", root);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	nr_plan_free(plan);
	nr_ctx_free(ctx);
	unit_rmtree(root);
	free(root);
}

/* Two changes to one root at once: the second waits its turn (refused, nothing written). */
static void test_one_change_at_a_time(void **state)
{
	char *root = unit_tmpdir("plan", true);
	seed(root);
	char *before = snapshot(root);
	struct nr_ctx *ctx = ctx_for(root);
	struct nr_error err = { 0 };
	struct nr_plan *plan = standard_plan(ctx, NULL);
	int fd = open(root, O_RDONLY | O_DIRECTORY);

	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);        /* as another neuronctl would */
	assert_int_equal(nr_plan_apply(plan, NULL, NULL, &err), -NR_E_BUSY);
	assert_non_null(strstr(err.msg, "another neuronctl"));
	char *now = snapshot(root);
	assert_string_equal(now, before);
	free(now);
	close(fd);
	assert_int_equal(nr_plan_apply(plan, NULL, NULL, &err), 0);
	fd = open(root, O_RDONLY | O_DIRECTORY);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(nr_plan_revert(ctx, "test", NULL, NULL, &err), -NR_E_BUSY);
	close(fd);
	assert_int_equal(nr_plan_revert(ctx, "test", NULL, NULL, &err), 0);
	free(before);
	nr_plan_free(plan);
	nr_ctx_free(ctx);
	unit_rmtree(root);
	free(root);
}

static void test_command_line_quoting(void **state)
{
	static const char *const argv[] = { "grub-mkconfig", "-o", "/boot/grub/grub.cfg", "it's", "a b", NULL };
	char *s = nr_plan_command_line(argv);

	assert_string_equal(s, "grub-mkconfig -o /boot/grub/grub.cfg 'it'\\''s' 'a b'");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diff_unified),
		cmocka_unit_test(test_apply_revert_roundtrip),
		cmocka_unit_test(test_second_apply_keeps_first_original),
		cmocka_unit_test(test_stale_plan_refused),
		cmocka_unit_test(test_symlink_escape_refused),
		cmocka_unit_test(test_runner_and_failed_command),
		cmocka_unit_test(test_fault_after_every_apply_step),
		cmocka_unit_test(test_fault_after_every_revert_step),
		cmocka_unit_test(test_one_change_at_a_time),
		cmocka_unit_test(test_command_line_quoting),
		cmocka_unit_test(test_links_as_the_target_sees_them),
		cmocka_unit_test(test_fifo_nul_and_huge_refused),
		cmocka_unit_test(test_revert_refuses_a_missing_backup),
		cmocka_unit_test(test_journal_leaving_the_root),
		cmocka_unit_test(test_finish_as_recorded),
		cmocka_unit_test(test_dirs_ignore_umask),
		cmocka_unit_test(test_run_host_bounded),
	};

	unsetenv("NEURON_FAULT_AFTER");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
