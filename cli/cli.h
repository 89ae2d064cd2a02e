/* neuronctl internals shared by the command files. */
#ifndef NEURON_CLI_H
#define NEURON_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "neuron/ctx.h"
#include "neuron/error.h"

/* Exit statuses, documented in neuronctl(1). */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct cli {
	struct nr_ctx *ctx;
	const char *prog;       /* "neuronctl" */
	const char *cmd;        /* the command being run */
	const char *usage;      /* its usage line */
	const char *help;       /* its help line */
};

#define CMD(name, usage, help) int cmd_##name(struct cli *cli, int argc, char **argv);
#include "commands.def"
#undef CMD

/* "neuronctl: scan: <message>" on stderr; returns EXIT_FAIL. */
int cli_fail(struct cli *cli, const struct nr_error *err);
/* Print a formatted error and the command's usage on stderr; returns EXIT_USAGE. */
int cli_usage_error(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print the command's help (usage, help, options text) on stdout; returns EXIT_OK. */
int cli_command_help(struct cli *cli, const char *options);

/* Parse a command's flags. Each flag is "--name" (bool) or "--name=" (takes a
 * value, also given as "--name VALUE"); set[i] / val[i] receive the result.
 * --help/-h prints help and returns 1 with *rc = EXIT_OK; an unknown flag
 * returns 1 with *rc = EXIT_USAGE; else 0 and *argi is the first operand. */
struct cli_flag {
	const char *name;       /* "json", "gpu=" */
	bool *set;
	const char **value;     /* last value given */
	const char ***values;   /* all values given (NULL-terminated, malloc'd), for repeatable flags */
};
int cli_parse_flags(struct cli *cli, int argc, char **argv, const struct cli_flag *flags,
		    const char *options_help, int *argi, int *rc);

/* Print text from outside (names, guest strings) with control characters made harmless. */
void cli_put_clean(FILE *f, const char *s);

#endif
