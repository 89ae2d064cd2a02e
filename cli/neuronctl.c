/* neuronctl: the scriptable front end. Global options, then one command from commands.def. */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "neuron/util.h"

#ifndef NEURON_VERSION
#define NEURON_VERSION "0.1.0"
#endif

static const struct command {
	const char *name;
	int (*handler)(struct cli *cli, int argc, char **argv);
	const char *usage;
	const char *help;
} commands[] = {
#define CMD(name, usage, help) { #name, cmd_##name, usage, help },
#include "commands.def"
#undef CMD
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: neuronctl [--sysroot DIR] [--root DIR] [--connect URI] COMMAND [ARGS]\n\n"
		   "Global options:\n"
		   "  --sysroot DIR    observe the machine under DIR (sys/, proc/) instead of /\n"
		   "  --root DIR       plan and apply configuration on the system under DIR\n"
		   "  --connect URI    libvirt connection (default qemu:///system)\n"
		   "  --param NAME=VALUE  set a named parameter (neuronctl(1) lists them)\n"
		   "  --version        print the version and exit\n"
		   "  -h, --help       this help; COMMAND --help for a command's own\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nExit status: 0 success, 1 failure, 2 usage error.\n");
}

/* A self-check of the command table, run by the tests: every command has help,
 * a usage line that starts with its name, and no name appears twice. */
static int self_test(void)
{
	int bad = 0;

	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (!commands[i].help || !commands[i].help[0]) {
			fprintf(stderr, "command '%s' has no help\n", commands[i].name);
			bad = 1;
		}
		if (strncmp(commands[i].usage, commands[i].name, strlen(commands[i].name)) != 0) {
			fprintf(stderr, "command '%s': usage does not start with its name\n", commands[i].name);
			bad = 1;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(commands[i].name, commands[j].name) == 0) {
				fprintf(stderr, "command '%s' appears twice\n", commands[i].name);
				bad = 1;
			}
	}
	if (!bad)
		printf("%zu commands checked\n", NCOMMANDS);
	return bad ? EXIT_FAIL : EXIT_OK;
}

int cli_fail(struct cli *cli, const struct nr_error *err)
{
	fprintf(stderr, "%s: %s%s", cli->prog, cli->cmd ? cli->cmd : "", cli->cmd ? ": " : "");
	cli_put_clean(stderr, err && err->msg[0] ? err->msg : nr_strerror(err ? err->code : -NR_E_INVAL));
	fputc('\n', stderr);
	return EXIT_FAIL;
}

int cli_usage_error(struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s%s", cli->prog, cli->cmd ? cli->cmd : "", cli->cmd ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cli->usage)
		fprintf(stderr, "\nusage: %s %s\n", cli->prog, cli->usage);
	else
		fputc('\n', stderr);
	return EXIT_USAGE;
}

int cli_command_help(struct cli *cli, const char *options)
{
	printf("usage: %s %s\n\n%s\n", cli->prog, cli->usage, cli->help);
	if (options && options[0])
		printf("\nOptions:\n%s", options);
	return EXIT_OK;
}

void cli_put_clean(FILE *f, const char *s)
{
	char buf[4096];
	size_t len;

	if (!s)
		return;
	len = strlen(s);
	if (len < sizeof(buf)) {
		nr_text_sanitize(buf, sizeof(buf), s, false);
		fputs(buf, f);
		return;
	}
	char *big = malloc(len + 1);
	if (!big)
		return;
	nr_text_sanitize(big, len + 1, s, false);
	fputs(big, f);
	free(big);
}

static const struct cli_flag *find_flag(const struct cli_flag *flags, const char *arg, size_t n)
{
	for (; flags && flags->name; flags++) {
		size_t fl = strcspn(flags->name, "=");
		if (fl == n && strncmp(flags->name, arg, n) == 0)
			return flags;
	}
	return NULL;
}

int cli_parse_flags(struct cli *cli, int argc, char **argv, const struct cli_flag *flags,
		    const char *options_help, int *argi, int *rc)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const struct cli_flag *f;
		const char *value = NULL;
		size_t n;

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			*rc = cli_command_help(cli, options_help);
			return 1;
		}
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			if (a[0] == '-' && a[1] != '\0') {
				*rc = cli_usage_error(cli, "unknown option '%s'", a);
				return 1;
			}
			break;
		}
		a += 2;
		n = strcspn(a, "=");
		f = find_flag(flags, a, n);
		if (!f) {
			*rc = cli_usage_error(cli, "unknown option '--%.*s'", (int)n, a);
			return 1;
		}
		if (strchr(f->name, '=')) {
			if (a[n] == '=')
				value = a + n + 1;
			else if (i + 1 < argc)
				value = argv[++i];
			else {
				*rc = cli_usage_error(cli, "option '--%.*s' needs a value", (int)n, a);
				return 1;
			}
			if (f->value)
				*f->value = value;
			if (f->values) {
				size_t k = 0;
				const char **list = *f->values;
				while (list && list[k])
					k++;
				list = realloc(list, (k + 2) * sizeof(*list));
				if (!list)
					abort();
				list[k] = value;
				list[k + 1] = NULL;
				*f->values = list;
			}
		} else if (a[n] == '=') {
			*rc = cli_usage_error(cli, "option '--%.*s' takes no value", (int)n, a);
			return 1;
		}
		if (f->set)
			*f->set = true;
	}
	*argi = i;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sysroot", required_argument, NULL, 's' },
		{ "root", required_argument, NULL, 'r' },
		{ "connect", required_argument, NULL, 'c' },
		{ "param", required_argument, NULL, 'p' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "self-test", no_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli = { .prog = "neuronctl" };
	struct nr_error err = { 0 };
	int c, rc;

	cli.ctx = nr_ctx_new();
	if (!cli.ctx) {
		fprintf(stderr, "neuronctl: out of memory\n");
		return EXIT_FAIL;
	}
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		const char *name = NULL;
		char *eq;

		switch (c) {
		case 's': name = "sysroot"; break;
		case 'r': name = "root"; break;
		case 'c': name = "connect"; break;
		case 'p':
			eq = strchr(optarg, '=');
			if (!eq) {
				fprintf(stderr, "neuronctl: --param takes NAME=VALUE\n");
				rc = EXIT_USAGE;
				goto out;
			}
			*eq = '\0';
			if (nr_ctx_set(cli.ctx, optarg, eq + 1, &err) < 0) {
				cli_fail(&cli, &err);
				rc = EXIT_USAGE;
				goto out;
			}
			continue;
		case 'V':
			printf("neuronctl %s\n", NEURON_VERSION);
			rc = EXIT_OK;
			goto out;
		case 'h':
			usage(stdout);
			rc = EXIT_OK;
			goto out;
		case 'T':
			rc = self_test();
			goto out;
		default:
			usage(stderr);
			rc = EXIT_USAGE;
			goto out;
		}
		if (nr_ctx_set(cli.ctx, name, optarg, &err) < 0) {
			rc = cli_fail(&cli, &err);
			goto out;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		rc = EXIT_USAGE;
		goto out;
	}
	if (strcmp(argv[optind], "help") == 0) {
		usage(stdout);
		rc = EXIT_OK;
		goto out;
	}
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (strcmp(commands[i].name, argv[optind]) == 0) {
			cli.cmd = commands[i].name;
			cli.usage = commands[i].usage;
			cli.help = commands[i].help;
			rc = commands[i].handler(&cli, argc - optind, argv + optind);
			goto out;
		}
	}
	fprintf(stderr, "neuronctl: unknown command '%s' (see neuronctl --help)\n", argv[optind]);
	rc = EXIT_USAGE;
out:
	nr_ctx_free(cli.ctx);
	return rc;
}
