/* The clipboard sync's status file (what the TUI's Agents panel reads) and its --cap sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "neuron/ctx.h"
#include "neuron/sync.h"
#include "unit.h"

static void test_parse_size(void **state)
{
	static const struct {
		const char *text;
		size_t bytes; /* 0: refused */
	} rows[] = {
		{ "16M", 16u << 20 }, { "16MiB", 16u << 20 }, { "512K", 512u << 10 }, { "512k", 512u << 10 },
		{ "64M", 64u << 20 }, { "1K", 1024 },
		{ "65M", 0 },   /* over one agent transfer's 64 MiB */
		{ "1G", 0 }, { "0K", 0 }, { "-1M", 0 }, { "", 0 }, { "M", 0 }, { "12Q", 0 }, { "3 M", 0 },
		{ "1048576", 0 }, /* no unit: nr_parse_size asks for one */
		{ "2MB", 0 }, { "99999999999999999999M", 0 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t got = 0;
		struct nr_error err = { 0 };
		int rc = nr_sync_parse_size(rows[i].text, &got, &err);
		print_message("'%s'\n", rows[i].text);
		if (rows[i].bytes) {
			assert_int_equal(rc, 0);
			assert_int_equal(got, rows[i].bytes);
		} else {
			assert_int_equal(rc, -NR_E_INVAL);
			assert_true(err.msg[0] != '\0');
		}
	}
}

static void test_status_parse(void **state)
{
	struct nr_sync_status st;
	struct nr_error err = { 0 };

	assert_int_equal(nr_sync_status_parse("{\"vm\":\"w\",\"pid\":42,\"state\":\"paused\",\"why\":\"Looking Glass\","
					      "\"agent_connected\":true,\"started\":1700000000,\"transfers\":7,"
					      "\"last\":{\"direction\":\"to-host\",\"at\":1700000100,"
					      "\"mime\":\"image/png\",\"size\":1234}}",
					      &st, &err),
			 0);
	assert_int_equal(st.pid, 42);
	assert_string_equal(st.state, "paused");
	assert_string_equal(st.why, "Looking Glass");
	assert_true(st.agent_connected);
	assert_int_equal(st.transfers, 7);
	assert_int_equal(st.last_dir, NR_SYNC_TO_HOST);
	assert_int_equal(st.last_at, 1700000100);
	assert_string_equal(st.last_mime, "image/png");
	assert_int_equal(st.last_size, 1234);
	assert_false(st.running); /* only nr_sync_status_read looks at the pid */
	/* no transfer yet */
	assert_int_equal(nr_sync_status_parse("{\"pid\":1,\"state\":\"waiting\"}", &st, &err), 0);
	assert_int_equal(st.last_at, 0);
	assert_int_equal(st.last_dir, NR_SYNC_NONE);
	/* not a status */
	assert_int_equal(nr_sync_status_parse("{\"state\":\"syncing\"}", &st, &err), -NR_E_PARSE);
	assert_int_equal(nr_sync_status_parse("garbage", &st, &err), -NR_E_PARSE);
	assert_int_equal(nr_sync_status_parse("[1]", &st, &err), -NR_E_PARSE);
}

static void write_status(const char *dir, const char *vm, long long pid)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/sync", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/sync/%s.json", dir, vm);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "{\"pid\":%lld,\"state\":\"syncing\",\"transfers\":3}\n", pid);
	fclose(f);
}

/* A sync that died without a word leaves its file: its pid says it is not running. */
static void test_status_read(void **state)
{
	char *dir = unit_tmpdir("sync", false);
	struct nr_ctx *ctx = nr_ctx_new();
	struct nr_sync_status st;
	struct nr_error err = { 0 };
	pid_t dead = fork();

	if (dead == 0)
		_exit(0);
	assert_true(dead > 0);
	waitpid(dead, NULL, 0);
	assert_int_equal(nr_ctx_set(ctx, "runtime_dir", dir, NULL), 0);
	assert_int_equal(nr_sync_status_read(ctx, "none", &st, &err), -NR_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "no clipboard sync ran for none"));
	write_status(dir, "alive", getpid());
	assert_int_equal(nr_sync_status_read(ctx, "alive", &st, &err), 0);
	assert_true(st.running);
	assert_int_equal(st.transfers, 3);
	write_status(dir, "dead", dead);
	assert_int_equal(nr_sync_status_read(ctx, "dead", &st, &err), 0);
	assert_false(st.running);
	assert_string_equal(st.state, "syncing");
	/* a VM name is never a path out of the directory */
	assert_int_equal(nr_sync_status_read(ctx, "../alive", &st, &err), -NR_E_INVAL);
	assert_int_equal(nr_sync_status_read(ctx, "..", &st, &err), -NR_E_INVAL);
	nr_ctx_free(ctx);
	unit_rmtree_free(&dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_status_parse),
		cmocka_unit_test(test_status_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
