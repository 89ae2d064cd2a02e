/* What neuronctl's commands print in common: errors (text and --json), clean text, the
 * JSON printer, the yes/no question, apply progress. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "neuron/media.h"
#include "neuron/util.h"

/* ---- errors ---------------------------------------------------------------------------------
 * Text: "neuronctl: PATH: message [NAME]" for a failure (exit 1), "neuronctl: PATH: message"
 * and the usage line for a usage error (exit 2). --json: the same on stderr, and on stdout
 * one object {"error": NAME, "message": text}; NAME is the NR_E_* name (core/include/neuron/
 * error.h), USAGE for a usage error. A command that prints its own result document (vfio
 * apply) carries the same two fields in it instead. */

/* "neuronctl: vm stop: " and the message, made harmless, on stderr. */
static void vsay(const struct cli *cli, const char *what, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "%s: %s%s%s", cli->prog, cli->path ? cli->path : "", cli->path ? ": " : "", what);
	cli_put_clean(stderr, msg);
}

static void say(const struct cli *cli, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(const struct cli *cli, const char *what, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(cli, what, fmt, ap);
	va_end(ap);
}

static void json_error(struct cli *cli, const char *name, const char *message)
{
	json_object *o;

	if (!cli->json || cli->json_printed)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(name));
	json_object_object_add(o, "message", json_object_new_string(message));
	cli_json_print(cli, o);
}

int cli_fail(struct cli *cli, const struct nr_error *err)
{
	int code = err && err->code ? err->code : -NR_E_INVAL;
	const char *msg = err && err->msg[0] ? err->msg : nr_strerror(code);

	say(cli, "", "%s", msg);
	fprintf(stderr, " [%s]\n", nr_errname(code));
	json_error(cli, nr_errname(code), msg);
	return EXIT_FAIL;
}

int cli_usage_error(struct cli *cli, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	say(cli, "", "%s", msg);
	if (cli->cmd)
		fprintf(stderr, "\nusage: %s %s\n", cli->prog, cli->cmd->usage);
	else
		fputc('\n', stderr);
	json_error(cli, nr_errname(-NR_E_USAGE), msg);
	return EXIT_USAGE;
}

void cli_note(struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(cli, "note: ", fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- text from outside ---------------------------------------------------------------------- */

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
		abort();
	nr_text_sanitize(big, len + 1, s, false);
	fputs(big, f);
	free(big);
}

void cli_put_text(FILE *f, const char *p)
{
	while (p && *p) {
		size_t n = strcspn(p, "\n\t");
		char *part = strndup(p, n);
		if (!part)
			abort();
		cli_put_clean(f, part);
		free(part);
		p += n;
		if (*p)
			fputc(*p++, f);
	}
}

/* ---- JSON ---------------------------------------------------------------------------------- */

void cli_json_print(struct cli *cli, json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(o);
	cli->json_printed = true;
}

void cli_json_print_line(struct cli *cli, json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(o);
	cli->json_printed = true;
}

json_object *cli_json_str(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

json_object *cli_json_strv(char *const *v, size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

void cli_json_add_error(json_object *o, const struct nr_error *err)
{
	bool failed = err && err->code;

	json_object_object_add(o, "error", failed ? json_object_new_string(nr_errname(err->code)) : NULL);
	json_object_object_add(o, "message", failed ? json_object_new_string(err->msg[0] ? err->msg :
									      nr_strerror(err->code)) : NULL);
}

/* ---- asking ---------------------------------------------------------------------------------- */

bool cli_confirm(struct cli *cli, bool yes, const char *question, const char *what)
{
	FILE *f = cli->json ? stderr : stdout;
	char answer[32];
	bool ok;

	if (yes)
		return true;
	fprintf(f, "%s [y/N] ", question);
	fflush(f);
	if (!fgets(answer, sizeof(answer), stdin)) {
		fputc('\n', f);         /* nobody answered: end of input */
		ok = false;
	} else {
		ok = answer[0] == 'y' || answer[0] == 'Y';
	}
	if (!ok) {
		say(cli, "", "%s (answer y, or pass --yes)", what);
		fputc('\n', stderr);
	}
	return ok;
}

/* ---- apply progress ----------------------------------------------------------------------- */

FILE *cli_progress_file(const struct cli *cli)
{
	return cli->json ? stderr : stdout;
}

void cli_plan_progress(void *userdata, enum nr_plan_event ev, const char *text)
{
	FILE *f = userdata ? userdata : stdout;

	switch (ev) {
	case NR_PLAN_EV_STEP:
		fprintf(f, "  - ");
		cli_put_clean(f, text);
		fputc('\n', f);
		break;
	case NR_PLAN_EV_COMMAND:
		fprintf(f, "$ ");
		cli_put_clean(f, text);
		fputc('\n', f);
		break;
	case NR_PLAN_EV_OUTPUT:
		cli_put_text(f, text);
		break;
	case NR_PLAN_EV_NOTE:
		fprintf(f, "note: ");
		cli_put_clean(f, text);
		fputc('\n', f);
		break;
	}
	fflush(f);
}

/* ---- the guest-tools media ------------------------------------------------------------------ */

void cli_media_report(struct cli *cli, const struct nr_media_info *info)
{
	printf("guest tools ");
	cli_put_clean(stdout, info->path);
	printf(" (CD-ROM %s, mode 0600", NR_MEDIA_LABEL);
	if (info->owner[0]) {
		printf(", owner ");
		cli_put_clean(stdout, info->owner);
	}
	printf(")\n");
	if (info->certs_made)
		printf("  agent credentials made for this VM (neuronctl agent certs)\n");
	printf("  in the guest: Windows: D:\\setup.cmd as an administrator; Linux: sudo sh setup.sh USER\n");
	for (size_t i = 0; i < sizeof(info->missing) / sizeof(info->missing[0]); i++)
		if (info->missing[i][0])
			cli_note(cli, "%s", info->missing[i]);
}
