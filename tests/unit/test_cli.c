/* The command tree of neuronctl (cli/tree.c): the table check rejects broken tables, and the
 * dispatcher parses options before and after operands, "--", pass-through and counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../cli/cli.h"

/* ---- the table check ---------------------------------------------------------------------- */

struct opts {
	bool force;
	const char *gpu, **sets;
};

static int run_nothing(struct cli *cli, void *o, int argc, char **argv)
{
	return EXIT_OK;
}

/* The problems cli_tree_check reports for root, as one string. */
static char *problems(const struct cli_cmd *root, int *n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*n = cli_tree_check(root, f, NULL, NULL);
	fclose(f);
	return buf;
}

static const struct cli_opt good_opts[] = {
	CLI_BOOL("force", struct opts, force, "do it anyway"),
	CLI_VALUE("gpu", "ADDR", struct opts, gpu, "the GPU"),
	CLI_JSON("print JSON"),
	CLI_OPT_END,
};

static const struct cli_cmd good_leaf = {
	.name = "bind", .usage = "gpu bind ADDR [--force] [--gpu ADDR] [--json]", .help = "bind a GPU",
	.run = run_nothing, .opts = good_opts, .opts_size = sizeof(struct opts), .min_args = 1, .max_args = 1,
};
static const struct cli_cmd good_group = {
	.name = "gpu", .usage = "gpu bind ...", .help = "GPUs",
	.subs = (const struct cli_cmd *const[]){ &good_leaf, NULL },
};
static const struct cli_cmd good_root = {
	.name = "prog", .usage = "COMMAND", .help = "a program",
	.subs = (const struct cli_cmd *const[]){ &good_group, NULL },
};

static void check_good_tree(void **state)
{
	size_t nodes = 0;
	int bad = cli_tree_check(&good_root, stderr, NULL, &nodes);

	assert_int_equal(bad, 0);
	assert_int_equal(nodes, 2);
}

/* Every kind of mistake, one each, in one tree: each is reported. */
static const struct cli_opt bad_opts[] = {
	CLI_BOOL("force", struct opts, force, ""),                      /* no help */
	CLI_VALUE("gpu", "ADDR", struct opts, gpu, "the GPU"),
	CLI_VALUE("gpu", "ADDR", struct opts, gpu, "the GPU again"),    /* twice */
	{ "sets", NULL, "a list without a value name", CLI_OPT_LIST, offsetof(struct opts, sets) },
	CLI_OPT_END,
};
static const struct cli_cmd bad_leaf = {
	.name = "bind", .usage = "bind ADDR [--force] [--gpu ADDR] [--sets X] [--dry-run]", .help = "",
	.run = run_nothing, .opts = bad_opts, .opts_size = sizeof(bool),
};
static const struct cli_cmd twin_a = { .name = "list", .usage = "gpu list", .help = "list", .run = run_nothing };
static const struct cli_cmd twin_b = { .name = "list", .usage = "gpu list", .help = "list", .run = run_nothing };
static const struct cli_cmd no_run = { .name = "noop", .usage = "gpu noop", .help = "nothing to run" };
static const struct cli_cmd bad_group = {
	.name = "gpu", .usage = "gpu ...", .help = "GPUs",
	.subs = (const struct cli_cmd *const[]){ &bad_leaf, &twin_a, &twin_b, &no_run, NULL },
};
static const struct cli_cmd bad_root = {
	.name = "prog", .usage = "COMMAND", .help = "a program",
	.subs = (const struct cli_cmd *const[]){ &bad_group, NULL },
};

static void check_bad_tree(void **state)
{
	int n;
	char *out = problems(&bad_root, &n);

	assert_non_null(strstr(out, "gpu bind: no help"));
	assert_non_null(strstr(out, "gpu bind: the usage line 'bind ADDR"));
	assert_non_null(strstr(out, "gpu bind: option --force has no help"));
	assert_non_null(strstr(out, "gpu bind: option --gpu appears twice"));
	assert_non_null(strstr(out, "gpu bind: option --sets takes a value but names none"));
	assert_non_null(strstr(out, "gpu bind: option --gpu writes past its options struct"));
	assert_non_null(strstr(out, "gpu bind: the usage line names --dry-run, which is not an option"));
	assert_non_null(strstr(out, "gpu: the subcommand 'list' appears twice"));
	assert_non_null(strstr(out, "gpu noop: neither a handler nor subcommands"));
	assert_true(n >= 9);
	free(out);
}

/* An option the usage line does not name, a group without children, an option named help. */
static const struct cli_cmd quiet_leaf = {
	.name = "bind", .usage = "gpu bind ADDR", .help = "bind", .run = run_nothing,
	.opts = (const struct cli_opt[]){
		CLI_BOOL("force", struct opts, force, "do it anyway"),
		CLI_BOOL("help", struct opts, force, "a second --help"),
		CLI_OPT_END,
	},
	.opts_size = sizeof(struct opts),
};
static const struct cli_cmd empty_group = {
	.name = "vm", .usage = "vm ...", .help = "VMs", .subs = (const struct cli_cmd *const[]){ NULL },
};
static const struct cli_cmd other_root = {
	.name = "prog", .usage = "COMMAND", .help = "a program",
	.subs = (const struct cli_cmd *const[]){ &quiet_leaf, &empty_group, NULL },
};

static void check_more_mistakes(void **state)
{
	int n;
	char *out = problems(&other_root, &n);

	/* quiet_leaf sits at the top here, so its usage line does not start with "bind" */
	assert_non_null(strstr(out, "bind: the usage line 'gpu bind ADDR' does not start with 'bind'"));
	assert_non_null(strstr(out, "bind: option --force is not in the usage line"));
	assert_non_null(strstr(out, "bind: an option is named 'help'"));
	assert_non_null(strstr(out, "vm: an empty list of subcommands"));
	free(out);
}

/* ---- the dispatcher ----------------------------------------------------------------------- */

static struct {
	int calls, argc;
	char *argv[8];
	struct opts o;
	bool json;
} seen;

static int record(struct cli *cli, void *o, int argc, char **argv)
{
	seen.calls++;
	seen.argc = argc;
	for (int i = 0; i < argc && i < 8; i++)
		seen.argv[i] = argv[i];
	seen.o = *(struct opts *)o;
	if (seen.o.sets) {
		/* the list is freed after the run: keep its first item only */
		seen.o.gpu = seen.o.sets[0];
		seen.o.sets = NULL;
	}
	seen.json = cli->json;
	return EXIT_OK;
}

static const struct cli_opt run_opts[] = {
	CLI_BOOL("force", struct opts, force, "do it anyway"),
	CLI_VALUE("gpu", "ADDR", struct opts, gpu, "the GPU"),
	CLI_LIST("set", "KEY=VALUE", struct opts, sets, "a setting"),
	CLI_JSON("print JSON"),
	CLI_OPT_END,
};
static const struct cli_cmd run_leaf = {
	.name = "go", .usage = "go VM [ARG...] [--force] [--gpu ADDR] [--set KEY=VALUE] [--json]", .help = "go",
	.run = record, .opts = run_opts, .opts_size = sizeof(struct opts), .min_args = 1, .max_args = 3,
};
static const struct cli_cmd pass_leaf = {
	.name = "launch", .usage = "launch VM PROGRAM [ARG...] [--force]", .help = "launch",
	.run = record, .opts = run_opts, .opts_size = sizeof(struct opts), .min_args = 2, .max_args = -1,
	.rest_after = 2,
};
static const struct cli_cmd run_root = {
	.name = "prog", .usage = "COMMAND", .help = "a program",
	.subs = (const struct cli_cmd *const[]){ &run_leaf, &pass_leaf, NULL },
};

static int dispatch(int argc, const char **argv)
{
	struct cli cli = { .prog = "prog", .ctx = nr_ctx_new() };
	int rc;

	memset(&seen, 0, sizeof(seen));
	rc = cli_main(&cli, &run_root, argc, (char **)argv);
	nr_ctx_free(cli.ctx);
	return rc;
}

static void options_before_and_after_operands(void **state)
{
	const char *before[] = { "prog", "go", "--force", "--gpu", "01:00.0", "win11", NULL };
	const char *after[] = { "prog", "go", "win11", "--gpu=01:00.0", "--force", "--json", NULL };

	assert_int_equal(dispatch(6, before), EXIT_OK);
	assert_int_equal(seen.argc, 1);
	assert_string_equal(seen.argv[0], "win11");
	assert_true(seen.o.force);
	assert_string_equal(seen.o.gpu, "01:00.0");
	assert_false(seen.json);
	assert_int_equal(dispatch(6, after), EXIT_OK);
	assert_int_equal(seen.argc, 1);
	assert_string_equal(seen.argv[0], "win11");
	assert_true(seen.o.force);
	assert_string_equal(seen.o.gpu, "01:00.0");
	assert_true(seen.json);
}

static void double_dash_and_pass_through(void **state)
{
	const char *dashes[] = { "prog", "go", "win11", "--", "--force", NULL };
	const char *rest[] = { "prog", "launch", "--force", "win11", "notepad", "--gpu", "x", NULL };
	const char *rest_json[] = { "prog", "launch", "win11", "notepad", "--json", NULL };
	const char *value_json[] = { "prog", "go", "win11", "--gpu", "--json", NULL };

	/* after "--" an option is an operand */
	assert_int_equal(dispatch(5, dashes), EXIT_OK);
	assert_int_equal(seen.argc, 2);
	assert_string_equal(seen.argv[1], "--force");
	assert_false(seen.o.force);
	/* after VM PROGRAM everything is the program's */
	assert_int_equal(dispatch(7, rest), EXIT_OK);
	assert_true(seen.o.force);
	assert_null(seen.o.gpu);
	assert_int_equal(seen.argc, 4);
	assert_string_equal(seen.argv[2], "--gpu");
	assert_string_equal(seen.argv[3], "x");
	/* the program's --json is not ours; an option's value is not an option */
	assert_int_equal(dispatch(5, rest_json), EXIT_OK);
	assert_false(seen.json);
	assert_string_equal(seen.argv[2], "--json");
	assert_int_equal(dispatch(5, value_json), EXIT_OK);
	assert_false(seen.json);
	assert_string_equal(seen.o.gpu, "--json");
}

static void lists_and_usage_errors(void **state)
{
	const char *list[] = { "prog", "go", "--set", "a=1", "vm", "--set=b=2", NULL };
	const char *missing[] = { "prog", "go", NULL };
	const char *extra[] = { "prog", "go", "a", "b", "c", "d", NULL };
	const char *unknown[] = { "prog", "go", "vm", "--frob", NULL };
	const char *novalue[] = { "prog", "go", "vm", "--gpu", NULL };
	const char *flagvalue[] = { "prog", "go", "vm", "--force=yes", NULL };
	const char *nosub[] = { "prog", "nosuch", NULL };
	const char *help[] = { "prog", "go", "--help", NULL };

	assert_int_equal(dispatch(6, list), EXIT_OK);
	assert_string_equal(seen.o.gpu, "a=1");      /* record() keeps the list's first item there */
	assert_int_equal(dispatch(2, missing), EXIT_USAGE);
	assert_int_equal(dispatch(6, extra), EXIT_USAGE);
	assert_int_equal(dispatch(4, unknown), EXIT_USAGE);
	assert_int_equal(dispatch(4, novalue), EXIT_USAGE);
	assert_int_equal(dispatch(4, flagvalue), EXIT_USAGE);
	assert_int_equal(dispatch(2, nosub), EXIT_USAGE);
	assert_int_equal(seen.calls, 0);
	assert_int_equal(dispatch(3, help), EXIT_OK);
	assert_int_equal(seen.calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(check_good_tree),
		cmocka_unit_test(check_bad_tree),
		cmocka_unit_test(check_more_mistakes),
		cmocka_unit_test(options_before_and_after_operands),
		cmocka_unit_test(double_dash_and_pass_through),
		cmocka_unit_test(lists_and_usage_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
