/* neuronctl internals shared by the command files.
 *
 * The commands form one tree of struct cli_cmd rows (after virsh's command tables and git's
 * parse-options): a node has a name, a usage line that starts with its full path, a help
 * line, its options as struct cli_opt rows (each with its own help), and either a handler
 * or children. Each cli/cmd_X.c ends in its table; cli/neuronctl.c holds the root. One
 * dispatcher (cli/tree.c) walks the tree, parses the options of the node it reaches wherever
 * they stand among the operands, prints --help from the rows, and checks the operand count;
 * the handler gets its options filled in and its operands alone. */
#ifndef NEURON_CLI_H
#define NEURON_CLI_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "neuron/ctx.h"
#include "neuron/error.h"
#include "neuron/plan.h"

/* Exit statuses, documented in neuronctl(1). */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct cli_cmd;

/* One run of the program: what every handler and every printer needs. */
struct cli {
	struct nr_ctx *ctx;
	const char *prog;               /* "neuronctl" */
	const char *path;               /* the command words: "vm stop"; NULL at the top */
	const struct cli_cmd *cmd;      /* the node being run */
	bool json;                      /* --json was given: results and errors as JSON */
	bool json_printed;              /* a JSON document went to stdout already */
};

/* ---- options ------------------------------------------------------------------------------ */

enum cli_opt_kind {
	CLI_OPT_BOOL,   /* --name; a bool field */
	CLI_OPT_VALUE,  /* --name VALUE or --name=VALUE; a const char * field, the last one given */
	CLI_OPT_LIST,   /* the same, repeatable; a const char ** field, NULL-terminated (freed after the run) */
	CLI_OPT_JSON,   /* --json: sets cli->json (results and errors as JSON) */
	CLI_OPT_PARAM,  /* a global option (NR_CTX_OPTIONS): sets parameters of cli->ctx at once */
};

struct cli_opt {
	const char *name;       /* "gpu", given as --gpu */
	const char *metavar;    /* "ADDR" for an option that takes a value, NULL for a flag */
	const char *help;       /* one line; more lines after "\n" are indented under it */
	enum cli_opt_kind kind;
	size_t offset;          /* of its field in the command's options struct */
};

/* Rows of an options table; the field's type is checked at compile time. */
#define CLI_BOOL(name, type, field, help) \
	{ name, NULL, help, CLI_OPT_BOOL, _Generic(((type *)0)->field, bool: offsetof(type, field)) }
#define CLI_VALUE(name, metavar, type, field, help) \
	{ name, metavar, help, CLI_OPT_VALUE, \
	  _Generic(((type *)0)->field, const char *: offsetof(type, field)) }
#define CLI_LIST(name, metavar, type, field, help) \
	{ name, metavar, help, CLI_OPT_LIST, \
	  _Generic(((type *)0)->field, const char **: offsetof(type, field)) }
#define CLI_JSON(help) { "json", NULL, help, CLI_OPT_JSON, 0 }
#define CLI_OPT_END { NULL, NULL, NULL, CLI_OPT_BOOL, 0 }

/* ---- commands ------------------------------------------------------------------------------ */

struct cli_cmd {
	const char *name;
	const char *usage;      /* the full path first: "vm stop NAME [--timeout SECONDS] [--force]" */
	const char *help;       /* one line */
	/* A leaf's handler: opts is the struct the option rows wrote into (NULL without
	 * options); argv[0..argc-1] are the operands, argv[argc] is NULL. */
	int (*run)(struct cli *cli, void *opts, int argc, char **argv);
	const struct cli_opt *opts;             /* ends with CLI_OPT_END; NULL for none */
	const struct cli_cmd *const *subs;      /* a group's children, NULL-terminated */
	size_t opts_size;       /* sizeof the options struct */
	int min_args, max_args; /* operands; max_args -1: no limit */
	const char *missing;    /* the usage error when operands are missing ("which VM?") */
	int rest_after;         /* after this many operands the rest is taken verbatim, options
	                         * or not (agent launch VM PROGRAM ARGS...); 0: only after "--" */
	const char *more;       /* paragraphs printed after the options and subcommands */
};

/* Run the tree from root with argv (argv[0] the program): options of each node, then the
 * subcommand or the handler. Returns the exit status. */
int cli_main(struct cli *cli, const struct cli_cmd *root, int argc, char **argv);
/* Print NODE's help in the common layout (usage, help, options, subcommands, more). */
void cli_help(struct cli *cli, const struct cli_cmd *node, const char *path, FILE *f);
/* virsh's command-table check over the whole tree: every node has help, a usage line that
 * starts with its full path, no two siblings share a name, every option has help and no
 * two options of a node share a name, a leaf's usage names its options and nothing else.
 * Problems go to report, one a line; with list, every node's path goes to it (one a
 * line: "vm stop"). Returns the number of problems. */
int cli_tree_check(const struct cli_cmd *root, FILE *report, FILE *list, size_t *nodes);

/* ---- what commands print in common (cli/output.c) -------------------------------------- */

/* A failure: "neuronctl: vm stop: <message> [NAME]" on stderr, NAME from the NR_E_* table;
 * with --json also {"error": NAME, "message": ...} on stdout (unless the command printed
 * its own document, which then carries the same two fields). Returns EXIT_FAIL. */
int cli_fail(struct cli *cli, const struct nr_error *err);
/* A usage error: "neuronctl: vm stop: <message>" and the usage line on stderr; with --json
 * also {"error": "USAGE", ...} on stdout. Returns EXIT_USAGE. */
int cli_usage_error(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "neuronctl: vm stop: note: <message>" on stderr: something the user should know, no failure. */
void cli_note(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print text from outside (names, guest strings) with control characters made harmless. */
void cli_put_clean(FILE *f, const char *s);
/* The same for text of many lines (diffs, tool output): newlines and tabs kept. */
void cli_put_text(FILE *f, const char *s);

/* JSON: the one printer. Prints o (pretty, the same flags everywhere) on stdout, one
 * document per run, and releases it. */
void cli_json_print(struct cli *cli, json_object *o);
/* One event of a stream (agent watch): o on one line, released. */
void cli_json_print_line(struct cli *cli, json_object *o);
/* A string, or null for NULL. */
json_object *cli_json_str(const char *s);
/* An array of n strings. */
json_object *cli_json_strv(char *const *v, size_t n);
/* The error fields of a result ("error": NAME or null, "message": text or null). */
void cli_json_add_error(json_object *o, const struct nr_error *err);

/* Ask QUESTION (a yes/no question) unless yes; the answer is one line of stdin, whatever
 * stdin is (a pipe answers too); end of input is no. On no, "neuronctl: PATH: WHAT (answer
 * y, or pass --yes)" goes to stderr. The question goes to stderr under --json. */
bool cli_confirm(struct cli *cli, bool yes, const char *question, const char *what);

/* Progress of a plan being applied or reverted (nr_plan_opts.output; userdata: a FILE *):
 * "  - step", "$ command", the command's output as it comes, "note: ...". */
void cli_plan_progress(void *userdata, enum nr_plan_event ev, const char *text);
/* Where apply progress goes: stdout, or stderr when stdout carries JSON. */
FILE *cli_progress_file(const struct cli *cli);

/* A VM's guest-tools media just made (vm create, agent media): where it is, what to run in
 * the guest, and a note on stderr for each agent that is not on it. */
struct nr_media_info;
void cli_media_report(struct cli *cli, const struct nr_media_info *info);

/* Plans shown as diffs (vfio plan, lg setup plan) have their common printer in
 * cli/plan_show.h. */

/* A client for vm's guest agent as `agent` and `app` take it: --socket PATH, --certs DIR,
 * --timeout MS (each NULL when not given). EXIT_OK with *a, or what cli_fail or
 * cli_usage_error returned. */
struct nr_agent;
int cli_agent_open(struct cli *cli, const char *socket, const char *certs, const char *timeout, const char *vm,
		   struct nr_agent **a);

/* ---- the commands, one file each, each ending in its table ----------------------------- */
extern const struct cli_cmd cli_cmd_scan, cli_cmd_check, cli_cmd_vfio, cli_cmd_gpu, cli_cmd_vm,
	cli_cmd_lg, cli_cmd_agent, cli_cmd_app;

#endif
