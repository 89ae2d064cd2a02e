/* neuronctl: the scriptable front end. The top of the command tree: global options, then one
 * command (each in cli/cmd_X.c, ending in its table). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#ifndef NEURON_VERSION
#define NEURON_VERSION "0.1.0"
#endif

/* The commands, in the order --help lists them. Sections per area keep additions apart. */
static const struct cli_cmd *const commands[] = {
	&cli_cmd_scan,
	&cli_cmd_check,
	/* vfio */
	&cli_cmd_vfio,
	/* gpu */
	&cli_cmd_gpu,
	/* vm */
	&cli_cmd_vm,
	/* lg */
	&cli_cmd_lg,
	/* agent */
	&cli_cmd_agent,
	&cli_cmd_app,
	NULL,
};

struct top_opts {
	bool version, self_test;
};

/* virsh's command-table check over the whole tree: the command paths on stdout, one a line,
 * every problem on stderr. */
static int self_test(const struct cli_cmd *root)
{
	size_t n = 0;
	int bad = cli_tree_check(root, stderr, stdout, &n);

	if (bad) {
		fprintf(stderr, "%d problem%s in the command tree\n", bad, bad == 1 ? "" : "s");
		return EXIT_FAIL;
	}
	printf("%zu commands checked\n", n);
	return EXIT_OK;
}

/* After the global options: --version, --self-test and "help" end the run here. */
static int top(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct top_opts *o = opts;

	if (o->version) {
		printf("neuronctl %s\n", NEURON_VERSION);
		return EXIT_OK;
	}
	if (o->self_test)
		return self_test(cli->cmd);
	if (argc > 0 && strcmp(argv[0], "help") == 0) {
		cli_help(cli, cli->cmd, NULL, stdout);
		return EXIT_OK;
	}
	return -1;
}

static const struct cli_opt top_options[] = {
#define NR_OPTION_ROW(name, metavar, help) { name, metavar, help, CLI_OPT_PARAM, 0 },
	NR_CTX_OPTIONS(NR_OPTION_ROW)
#undef NR_OPTION_ROW
	CLI_BOOL("version", struct top_opts, version, "print the version and exit"),
	CLI_BOOL("self-test", struct top_opts, self_test,
		 "check the command tree (help, usage lines, names, options) and list it"),
	CLI_OPT_END,
};

static const struct cli_cmd root = {
	.name = "neuronctl",
	.usage = "[--sysroot DIR] [--root DIR] [--connect URI] [--param NAME=VALUE]... COMMAND [ARGS]",
	.help = "Set up and run GPU passthrough: IOMMU groups and GPUs, VFIO, VMs, Looking Glass, the guest agent.",
	.run = top,
	.opts = top_options,
	.opts_size = sizeof(struct top_opts),
	.subs = commands,
	.more = "Every command and subcommand answers --help; with --json, results and errors are JSON.\n"
		"Exit status: 0 success, 1 failure, 2 usage error.\n",
};

int main(int argc, char **argv)
{
	struct cli cli = { .prog = "neuronctl" };
	int rc;

	cli.ctx = nr_ctx_new();
	if (!cli.ctx) {
		fprintf(stderr, "neuronctl: out of memory\n");
		return EXIT_FAIL;
	}
	rc = cli_main(&cli, &root, argc, argv);
	nr_ctx_free(cli.ctx);
	return rc;
}
