/* The command tree: one dispatcher, one option parser, one help layout, one table check. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define PATH_MAX_LEN 256

static bool is_leaf(const struct cli_cmd *c)
{
	return !c->subs;
}

static size_t n_subs(const struct cli_cmd *c)
{
	size_t n = 0;

	while (c->subs && c->subs[n])
		n++;
	return n;
}

static const struct cli_opt *find_opt(const struct cli_cmd *c, const char *name, size_t len)
{
	for (const struct cli_opt *o = c->opts; o && o->name; o++)
		if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

/* ---- help ---------------------------------------------------------------------------------- */

static size_t opt_width(const struct cli_opt *o)
{
	return 2 + strlen(o->name) + (o->metavar ? 1 + strlen(o->metavar) : 0);
}

/* A help text whose later lines ("\n") line up under its first. */
static void put_indented(FILE *f, const char *text, int indent)
{
	while (*text) {
		size_t n = strcspn(text, "\n");
		fprintf(f, "%.*s\n", (int)n, text);
		text += n;
		if (*text) {
			text++;
			fprintf(f, "%*s", indent, "");
		}
	}
}

void cli_help(struct cli *cli, const struct cli_cmd *node, const char *path, FILE *f)
{
	bool top = !path || !path[0];
	size_t w = 0;

	fprintf(f, "usage: %s %s\n\n%s\n", cli->prog, node->usage, node->help);
	for (const struct cli_opt *o = node->opts; o && o->name; o++)
		if (opt_width(o) + 2 > w)
			w = opt_width(o) + 2;   /* two blanks before the help */
	if (w) {
		fprintf(f, "\n%s:\n", top ? "Global options" : "Options");
		for (const struct cli_opt *o = node->opts; o && o->name; o++) {
			char left[128];
			snprintf(left, sizeof(left), "--%s%s%s", o->name, o->metavar ? " " : "",
				 o->metavar ? o->metavar : "");
			fprintf(f, "  %-*s", (int)w, left);
			put_indented(f, o->help, (int)w + 2);
		}
	}
	if (node->subs) {
		w = 0;
		for (size_t i = 0; node->subs[i]; i++)
			if (strlen(node->subs[i]->name) + 2 > w)
				w = strlen(node->subs[i]->name) + 2;
		fprintf(f, "\n%s:\n", top ? "Commands" : "Subcommands");
		for (size_t i = 0; node->subs[i]; i++) {
			fprintf(f, "  %-*s", (int)w, node->subs[i]->name);
			put_indented(f, node->subs[i]->help, (int)w + 2);
		}
	}
	if (node->more)
		fprintf(f, "\n%s", node->more);
}

/* ---- options ------------------------------------------------------------------------------- */

/* Store one option's value into the options struct (or cli). Returns 0, or an exit status. */
static int set_opt(struct cli *cli, const struct cli_opt *o, void *opts, const char *value)
{
	char *field = (char *)opts + o->offset;

	switch (o->kind) {
	case CLI_OPT_JSON:
		cli->json = true;
		break;
	case CLI_OPT_BOOL:
		*(bool *)field = true;
		break;
	case CLI_OPT_VALUE:
		*(const char **)field = value;
		break;
	case CLI_OPT_LIST: {
		const char **list = *(const char ***)field;
		size_t k = 0;
		while (list && list[k])
			k++;
		list = realloc(list, (k + 2) * sizeof(*list));
		if (!list)
			abort();
		list[k] = value;
		list[k + 1] = NULL;
		*(const char ***)field = list;
		break;
	}
	case CLI_OPT_PARAM: {
		struct nr_error err = { 0 };
		if (nr_ctx_set_option(cli->ctx, o->name, value, &err) < 0)
			return cli_usage_error(cli, "%s", err.msg);
		break;
	}
	}
	return -1;
}

/* One option word at argv[*i] ("--name", "--name=value", "--name value"). Returns -1 when
 * it was taken, else an exit status (help, or a usage error). */
static int parse_opt(struct cli *cli, const struct cli_cmd *node, const char *path, void *opts,
		     int argc, char **argv, int *i)
{
	const char *a = argv[*i], *value = NULL;
	const struct cli_opt *o;
	size_t n;

	if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
		cli_help(cli, node, path, stdout);
		return EXIT_OK;
	}
	if (a[1] != '-')
		return cli_usage_error(cli, "unknown option '%s'", a);
	a += 2;
	n = strcspn(a, "=");
	o = find_opt(node, a, n);
	if (!o)
		return cli_usage_error(cli, "unknown option '--%.*s'", (int)n, a);
	if (o->metavar) {
		if (a[n] == '=')
			value = a + n + 1;
		else if (*i + 1 < argc)
			value = argv[++*i];
		else
			return cli_usage_error(cli, "option '--%.*s' needs a value", (int)n, a);
	} else if (a[n] == '=') {
		return cli_usage_error(cli, "option '--%.*s' takes no value", (int)n, a);
	}
	return set_opt(cli, o, opts, value);
}

static bool is_option(const char *a)
{
	return a[0] == '-' && a[1] != '\0';
}

static void free_lists(const struct cli_cmd *node, void *opts)
{
	for (const struct cli_opt *o = node->opts; opts && o && o->name; o++)
		if (o->kind == CLI_OPT_LIST)
			free(*(const char ***)((char *)opts + o->offset));
}

/* --json among a node's options makes even a usage error JSON, also where the command has
 * no --json (then that is the error): the script asked for JSON. Words taken verbatim ("--",
 * rest_after) are not options, nor an option's value. */
static void spot_json(struct cli *cli, const struct cli_cmd *node, int argc, char **argv)
{
	int operands = 0;

	for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (!is_option(argv[i])) {
			/* a group's options end at its subcommand, which looks for itself */
			if (!is_leaf(node) || (node->rest_after && ++operands == node->rest_after))
				return;
			continue;
		}
		if (strcmp(argv[i], "--json") == 0)
			cli->json = true;
		const struct cli_opt *o = argv[i][1] == '-' && !strchr(argv[i], '=') ?
			find_opt(node, argv[i] + 2, strlen(argv[i] + 2)) : NULL;
		if (o && o->metavar)
			i++;            /* its value, whatever it looks like */
	}
}

/* ---- the dispatcher ------------------------------------------------------------------------ */

static int run_node(struct cli *cli, const struct cli_cmd *node, char *path, int argc, char **argv);

static int run_leaf(struct cli *cli, const struct cli_cmd *node, const char *path, int argc, char **argv)
{
	void *opts = node->opts_size ? calloc(1, node->opts_size) : NULL;
	char **ops = calloc((size_t)argc + 1, sizeof(*ops));
	bool verbatim = false;
	int n = 0, rc = -1;

	if ((node->opts_size && !opts) || !ops)
		abort();
	for (int i = 0; i < argc && rc < 0; i++) {
		if (!verbatim && strcmp(argv[i], "--") == 0) {
			verbatim = true;
			continue;
		}
		if (!verbatim && is_option(argv[i])) {
			rc = parse_opt(cli, node, path, opts, argc, argv, &i);
			continue;
		}
		ops[n++] = argv[i];
		if (node->rest_after && n == node->rest_after)
			verbatim = true;
	}
	if (rc < 0 && n < node->min_args)
		rc = cli_usage_error(cli, "%s", node->missing ? node->missing : "missing argument");
	if (rc < 0 && node->max_args >= 0 && n > node->max_args)
		rc = cli_usage_error(cli, "unexpected argument '%s'", ops[node->max_args]);
	if (rc < 0)
		rc = node->run(cli, opts, n, ops);
	free_lists(node, opts);
	free(opts);
	free(ops);
	return rc;
}

static int run_group(struct cli *cli, const struct cli_cmd *node, char *path, int argc, char **argv)
{
	void *opts = node->opts_size ? calloc(1, node->opts_size) : NULL;
	const struct cli_cmd *sub = NULL;
	int i = 0, rc = -1;

	if (node->opts_size && !opts)
		abort();
	/* the group's own options come before the subcommand */
	for (; i < argc && rc < 0 && is_option(argv[i]); i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		rc = parse_opt(cli, node, path, opts, argc, argv, &i);
	}
	/* a group's handler, when it has one, acts on its options first (--version) */
	if (rc < 0 && node->run)
		rc = node->run(cli, opts, argc - i, argv + i);
	if (rc < 0 && i >= argc) {
		cli_help(cli, node, path, stderr);
		rc = EXIT_USAGE;
	}
	for (size_t k = 0; rc < 0 && node->subs[k]; k++)
		if (strcmp(node->subs[k]->name, argv[i]) == 0)
			sub = node->subs[k];
	if (rc < 0 && !sub) {
		char names[512] = "";
		size_t len = 0;
		for (size_t k = 0; node->subs[k] && len < sizeof(names); k++)
			len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", k ? ", " : "",
						node->subs[k]->name);
		rc = cli_usage_error(cli, "unknown %s '%s' (%s)", path[0] ? "subcommand" : "command", argv[i],
				     names);
	}
	free_lists(node, opts);
	free(opts);
	if (rc >= 0)
		return rc;

	size_t len = strlen(path);
	snprintf(path + len, PATH_MAX_LEN - len, "%s%s", len ? " " : "", sub->name);
	return run_node(cli, sub, path, argc - i - 1, argv + i + 1);
}

static int run_node(struct cli *cli, const struct cli_cmd *node, char *path, int argc, char **argv)
{
	cli->cmd = node;
	cli->path = path[0] ? path : NULL;
	spot_json(cli, node, argc, argv);
	return is_leaf(node) ? run_leaf(cli, node, path, argc, argv) : run_group(cli, node, path, argc, argv);
}

int cli_main(struct cli *cli, const struct cli_cmd *root, int argc, char **argv)
{
	char path[PATH_MAX_LEN] = "";

	return run_node(cli, root, path, argc - 1, argv + 1);
}

/* ---- the table check (neuronctl --self-test) ----------------------------------------------- */

/* Is "--name" in the usage line as a word of its own ("--name", "[--name]", "--name=")? */
static bool usage_names(const char *usage, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = strstr(usage, "--"); p; p = strstr(p + 2, "--"))
		if (strncmp(p + 2, name, n) == 0 && !strchr("abcdefghijklmnopqrstuvwxyz0123456789-", p[2 + n]))
			return true;
	return false;
}

static size_t field_size(enum cli_opt_kind k)
{
	return k == CLI_OPT_BOOL ? sizeof(bool) : k == CLI_OPT_VALUE ? sizeof(const char *) :
	       k == CLI_OPT_LIST ? sizeof(const char **) : 0;
}

static int check_opts(const struct cli_cmd *c, const char *path, FILE *report)
{
	const char *where = path[0] ? path : "(top)";
	int bad = 0;

	for (const struct cli_opt *o = c->opts; o && o->name; o++) {
		if (!o->name[0] || strcmp(o->name, "help") == 0) {
			fprintf(report, "%s: an option is named '%s' (empty, or --help, which every command has)\n",
				where, o->name);
			bad++;
		}
		if (!o->help || !o->help[0]) {
			fprintf(report, "%s: option --%s has no help\n", where, o->name);
			bad++;
		}
		bool takes = o->kind == CLI_OPT_VALUE || o->kind == CLI_OPT_LIST || o->kind == CLI_OPT_PARAM;
		if (takes != (o->metavar != NULL)) {
			fprintf(report, "%s: option --%s %s\n", where, o->name,
				takes ? "takes a value but names none (metavar)" : "is a flag but names a value");
			bad++;
		}
		if (field_size(o->kind) && o->offset + field_size(o->kind) > c->opts_size) {
			fprintf(report, "%s: option --%s writes past its options struct (opts_size %zu)\n", where,
				o->name, c->opts_size);
			bad++;
		}
		for (const struct cli_opt *p = c->opts; p != o; p++)
			if (strcmp(p->name, o->name) == 0) {
				fprintf(report, "%s: option --%s appears twice\n", where, o->name);
				bad++;
			}
		if (is_leaf(c) && !strstr(c->usage, "[OPTIONS]") && !usage_names(c->usage, o->name)) {
			fprintf(report, "%s: option --%s is not in the usage line '%s'\n", where, o->name, c->usage);
			bad++;
		}
	}
	/* and the usage line of a leaf names no option it does not have */
	for (const char *p = strstr(c->usage, "--"); is_leaf(c) && p; p = strstr(p + 2, "--")) {
		size_t n = strspn(p + 2, "abcdefghijklmnopqrstuvwxyz0123456789-");
		if (n && !find_opt(c, p + 2, n)) {
			fprintf(report, "%s: the usage line names --%.*s, which is not an option\n", where, (int)n, p + 2);
			bad++;
		}
	}
	return bad;
}

static int check_node(const struct cli_cmd *c, char *path, FILE *report, FILE *list, size_t *nodes)
{
	const char *where = path[0] ? path : "(top)";
	size_t len = strlen(path);
	int bad = 0;

	(*nodes)++;
	if (list && path[0])
		fprintf(list, "%s\n", path);
	if (!c->name || !c->name[0] || strchr(c->name, ' ')) {
		fprintf(report, "%s: a command without a name, or with a blank in it\n", where);
		bad++;
	}
	if (!c->help || !c->help[0]) {
		fprintf(report, "%s: no help\n", where);
		bad++;
	}
	if (!c->usage || (len && (strncmp(c->usage, path, len) != 0 ||
				  (c->usage[len] != ' ' && c->usage[len] != '\0')))) {
		fprintf(report, "%s: the usage line '%s' does not start with '%s'\n", where,
			c->usage ? c->usage : "", path);
		bad++;
	}
	if (is_leaf(c) && !c->run) {
		fprintf(report, "%s: neither a handler nor subcommands\n", where);
		bad++;
	}
	if (!is_leaf(c) && n_subs(c) == 0) {
		fprintf(report, "%s: an empty list of subcommands\n", where);
		bad++;
	}
	if (is_leaf(c) && (c->min_args < 0 || (c->max_args >= 0 && c->max_args < c->min_args) ||
			   c->rest_after < 0)) {
		fprintf(report, "%s: operand counts %d..%d do not make sense\n", where, c->min_args, c->max_args);
		bad++;
	}
	if (c->usage)
		bad += check_opts(c, path, report);
	for (size_t i = 0; c->subs && c->subs[i]; i++) {
		const struct cli_cmd *s = c->subs[i];
		for (size_t j = 0; j < i; j++)
			if (s->name && c->subs[j]->name && strcmp(s->name, c->subs[j]->name) == 0) {
				fprintf(report, "%s: the subcommand '%s' appears twice\n", where, s->name);
				bad++;
			}
		if (!s->name || len + 1 + strlen(s->name) >= PATH_MAX_LEN)
			continue;
		snprintf(path + len, PATH_MAX_LEN - len, "%s%s", len ? " " : "", s->name);
		bad += check_node(s, path, report, list, nodes);
		path[len] = '\0';
	}
	return bad;
}

int cli_tree_check(const struct cli_cmd *root, FILE *report, FILE *list, size_t *nodes)
{
	char path[PATH_MAX_LEN] = "";
	size_t n = 0;
	int bad = check_node(root, path, report, list, &n);

	if (nodes)
		*nodes = n - 1;         /* the commands, not the top */
	return bad;
}
