/* neuronctl agent: the guest agent from the command line (docs/PROTOCOL.md). */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "neuron/agent.h"
#include "neuron/certs.h"

struct agent_opts {
	const char *socket, *certs, *timeout, *mime, *set, *set_file, *output, *bundle, *count, *for_ms;
	bool json, reboot, force;
};

#define COMMON_FLAGS(o) \
	{ "socket=", NULL, &(o)->socket, NULL }, { "certs=", NULL, &(o)->certs, NULL }, \
	{ "timeout=", NULL, &(o)->timeout, NULL }, { "json", &(o)->json, NULL, NULL }

#define COMMON_HELP \
	"  --socket PATH   talk to this unix socket or pty instead of the VM's channel from libvirt\n" \
	"  --certs DIR     host credentials (default STATE/agent/VM from neuronctl agent certs)\n" \
	"  --timeout MS    per-request timeout (default 5000)\n" \
	"  --json          print the result as JSON\n"

/* cli_fail, with the error's name so that scripts can tell a timeout from a refusal. */
static int agent_fail(struct cli *cli, const struct nr_error *err)
{
	struct nr_error e = *err;

	if (!e.msg[0])
		snprintf(e.msg, sizeof(e.msg), "%s", nr_strerror(e.code));
	size_t n = strlen(e.msg);
	snprintf(e.msg + n, sizeof(e.msg) - n, " [%s]", nr_errname(e.code));
	return cli_fail(cli, &e);
}

static int open_agent(struct cli *cli, const struct agent_opts *o, const char *vm, struct nr_agent **a)
{
	struct nr_error err = { 0 };
	char *dir = NULL;
	int rc;

	if (o->socket) {
		if (!o->certs && (rc = nr_certs_dir(cli->ctx, vm, &dir, &err)) < 0)
			return cli_fail(cli, &err);
		rc = nr_agent_open_socket(o->socket, o->certs ? o->certs : dir, a, &err);
		free(dir);
	} else if (o->certs) {
		char *path = NULL;
		rc = nr_agent_channel_path(cli->ctx, vm, &path, &err);
		if (rc == 0)
			rc = nr_agent_open_socket(path, o->certs, a, &err);
		free(path);
	} else {
		rc = nr_agent_open(cli->ctx, vm, a, &err);
	}
	if (rc < 0)
		return agent_fail(cli, &err);
	if (o->timeout) {
		char *end;
		long ms = strtol(o->timeout, &end, 10);
		if (*end || ms < 1 || ms > 3600000) {
			nr_agent_free(*a);
			return cli_usage_error(cli, "--timeout takes milliseconds, 1 to 3600000");
		}
		nr_agent_set_timeout(*a, (int)ms, (int)ms);
	}
	return EXIT_OK;
}

/* Parse flags (before or after the VM), then expect the VM and min..max more operands.
 * Returns -1 to go on, else an exit status. */
static int parse(struct cli *cli, int argc, char **argv, const struct cli_flag *flags, const char *help,
		 struct agent_opts *o, const char **vm, int *argi, int min, int max)
{
	int rc, more;

	(void)o;
	if (cli_parse_flags(cli, argc, argv, flags, help, argi, &rc))
		return rc;
	if (*argi >= argc)
		return cli_usage_error(cli, "which VM?");
	*vm = argv[(*argi)++];
	if (*argi < argc && argv[*argi][0] == '-' && argv[*argi][1]) {
		if (cli_parse_flags(cli, argc - *argi + 1, argv + *argi - 1, flags, help, &more, &rc))
			return rc;
		*argi += more - 1;
	}
	if (argc - *argi < min)
		return cli_usage_error(cli, "missing argument");
	if (max >= 0 && argc - *argi > max)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[*argi + max]);
	return -1;
}

static void put_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static int sub_ping(struct cli *cli, int argc, char **argv)
{
	struct agent_opts o = { 0 };
	const struct cli_flag flags[] = { COMMON_FLAGS(&o), { NULL, NULL, NULL, NULL } };
	struct nr_error err = { 0 };
	struct nr_agent_status st;
	struct nr_agent *a;
	const char *vm;
	double rtt;
	int argi, rc;

	if ((rc = parse(cli, argc, argv, flags, COMMON_HELP, &o, &vm, &argi, 0, 0)) >= 0)
		return rc;
	if ((rc = open_agent(cli, &o, vm, &a)) != EXIT_OK)
		return rc;
	rc = nr_agent_ping(a, &rtt, &err);
	nr_agent_get_status(a, &st);
	nr_agent_free(a);
	if (rc < 0)
		return agent_fail(cli, &err);
	if (o.json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "rtt_ms", json_object_new_double(rtt));
		json_object_object_add(j, "agent", json_object_new_string(st.agent_version));
		json_object_object_add(j, "fingerprint", json_object_new_string(st.fingerprint));
		put_json(j);
	} else {
		printf("pong in %.3f ms from ", rtt);
		cli_put_clean(stdout, st.agent_version);
		printf(" (guest certificate %s)\n", st.fingerprint);
	}
	return EXIT_OK;
}

static int sub_info(struct cli *cli, int argc, char **argv)
{
	struct agent_opts o = { 0 };
	const struct cli_flag flags[] = { COMMON_FLAGS(&o), { NULL, NULL, NULL, NULL } };
	struct nr_error err = { 0 };
	struct nr_agent_info info;
	struct nr_agent_status st;
	struct nr_agent *a;
	const char *vm;
	int argi, rc;

	if ((rc = parse(cli, argc, argv, flags, COMMON_HELP, &o, &vm, &argi, 0, 0)) >= 0)
		return rc;
	if ((rc = open_agent(cli, &o, vm, &a)) != EXIT_OK)
		return rc;
	rc = nr_agent_info(a, &info, &err);
	nr_agent_get_status(a, &st);
	nr_agent_free(a);
	if (rc < 0)
		return agent_fail(cli, &err);
	if (o.json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "os", json_object_new_string(info.os));
		json_object_object_add(j, "hostname", json_object_new_string(info.hostname));
		json_object_object_add(j, "agent_version", json_object_new_string(info.agent_version));
		json_object_object_add(j, "uptime_s", json_object_new_int64(info.uptime_s));
		json_object_object_add(j, "width", json_object_new_int(info.width));
		json_object_object_add(j, "height", json_object_new_int(info.height));
		json_object_object_add(j, "fingerprint", json_object_new_string(st.fingerprint));
		put_json(j);
		return EXIT_OK;
	}
	printf("os:           "); cli_put_clean(stdout, info.os); putchar('\n');
	printf("hostname:     "); cli_put_clean(stdout, info.hostname); putchar('\n');
	printf("agent:        "); cli_put_clean(stdout, info.agent_version); putchar('\n');
	printf("uptime:       %lld s\n", info.uptime_s);
	if (info.width)
		printf("resolution:   %dx%d\n", info.width, info.height);
	else
		printf("resolution:   unknown\n");
	printf("certificate:  %s\n", st.fingerprint);
	return EXIT_OK;
}

static int sub_launch(struct cli *cli, int argc, char **argv)
{
	struct agent_opts o = { 0 };
	const struct cli_flag flags[] = { COMMON_FLAGS(&o), { NULL, NULL, NULL, NULL } };
	struct nr_error err = { 0 };
	struct nr_agent *a;
	const char *vm;
	long long pid = 0;
	int argi, rc;

	if ((rc = parse(cli, argc, argv, flags, COMMON_HELP, &o, &vm, &argi, 1, -1)) >= 0)
		return rc;
	if ((rc = open_agent(cli, &o, vm, &a)) != EXIT_OK)
		return rc;
	rc = nr_agent_launch(a, argv[argi], (const char *const *)argv + argi + 1, &pid, &err);
	nr_agent_free(a);
	if (rc < 0)
		return agent_fail(cli, &err);
	if (o.json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "pid", json_object_new_int64(pid));
		put_json(j);
	} else {
		printf("started ");
		cli_put_clean(stdout, argv[argi]);
		printf(" in the guest, pid %lld\n", pid);
	}
	return EXIT_OK;
}

static int read_input(const char *path, char **data, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t cap = 65536, n = 0;
	char *buf;

	if (!f)
		return -1;
	buf = malloc(cap);
	while (buf) {
		size_t k = fread(buf + n, 1, cap - n, f);
		n += k;
		if (k == 0)
			break;
		if (n == cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				buf = NULL;
			} else {
				buf = nb;
			}
		}
	}
	if (f != stdin)
		fclose(f);
	if (!buf)
		return -1;
	*data = buf;
	*len = n;
	return 0;
}

static int sub_clipboard(struct cli *cli, int argc, char **argv)
{
	struct agent_opts o = { 0 };
	const struct cli_flag flags[] = {
		COMMON_FLAGS(&o), { "mime=", NULL, &o.mime, NULL }, { "set=", NULL, &o.set, NULL },
		{ "set-file=", NULL, &o.set_file, NULL }, { "output=", NULL, &o.output, NULL },
		{ NULL, NULL, NULL, NULL },
	};
	struct nr_error err = { 0 };
	struct nr_agent *a;
	unsigned char *data = NULL;
	char *input = NULL;
	size_t len = 0;
	const char *vm, *mime;
	int argi, rc;

	if ((rc = parse(cli, argc, argv, flags,
			COMMON_HELP
			"  --mime TYPE     text/plain (default) or image/png\n"
			"  --set TEXT      put TEXT on the guest's clipboard\n"
			"  --set-file FILE put the contents of FILE (- for stdin) on it\n"
			"  --output FILE   write what the clipboard holds to FILE (needed for images)\n",
			&o, &vm, &argi, 0, 0)) >= 0)
		return rc;
	mime = o.mime ? o.mime : "text/plain";
	if (strcmp(mime, "text/plain") != 0 && strcmp(mime, "image/png") != 0)
		return cli_usage_error(cli, "--mime is text/plain or image/png");
	if (o.set && o.set_file)
		return cli_usage_error(cli, "--set and --set-file exclude each other");
	if (!o.set && !o.set_file && !o.output && strcmp(mime, "text/plain") != 0)
		return cli_usage_error(cli, "an image needs --output FILE");
	if (o.set_file && read_input(o.set_file, &input, &len) < 0) {
		nr_error_set(&err, -NR_E_IO, "cannot read %s: %s", o.set_file, strerror(errno));
		return agent_fail(cli, &err);
	}
	if ((rc = open_agent(cli, &o, vm, &a)) != EXIT_OK) {
		free(input);
		return rc;
	}
	if (o.set || o.set_file)
		rc = nr_agent_clipboard_set(a, mime, o.set ? o.set : input, o.set ? strlen(o.set) : len, &err);
	else
		rc = nr_agent_clipboard_get(a, mime, &data, &len, &err);
	nr_agent_free(a);
	free(input);
	if (rc < 0)
		return agent_fail(cli, &err);
	if (data && o.output) {
		FILE *f = fopen(o.output, "wb");
		if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
			nr_error_set(&err, -NR_E_IO, "cannot write %s: %s", o.output, strerror(errno));
			free(data);
			return agent_fail(cli, &err);
		}
	} else if (data) {
		if (o.json) {
			json_object *j = json_object_new_object();
			json_object_object_add(j, "mime", json_object_new_string(mime));
			json_object_object_add(j, "text", json_object_new_string_len((char *)data, (int)len));
			put_json(j);
		} else {
			cli_put_clean(stdout, (char *)data);
			putchar('\n');
		}
	}
	free(data);
	return EXIT_OK;
}

static int sub_resolution(struct cli *cli, int argc, char **argv)
{
	struct agent_opts o = { 0 };
	const struct cli_flag flags[] = { COMMON_FLAGS(&o), { NULL, NULL, NULL, NULL } };
	struct nr_error err = { 0 };
	struct nr_agent *a;
	const char *vm;
	int argi, rc, w = 0, h = 0;
	char x;

	if ((rc = parse(cli, argc, argv, flags, COMMON_HELP, &o, &vm, &argi, 0, 1)) >= 0)
		return rc;
	if (argi < argc && (sscanf(argv[argi], "%d%c%d", &w, &x, &h) != 3 || (x != 'x' && x != 'X') ||
			    w < 1 || h < 1))
		return cli_usage_error(cli, "'%s' is not WIDTHxHEIGHT", argv[argi]);
	if ((rc = open_agent(cli, &o, vm, &a)) != EXIT_OK)
		return rc;
	if (w)
		rc = nr_agent_resolution_set(a, w, h, &err);
	if (rc == 0)
		rc = nr_agent_resolution_get(a, &w, &h, &err);
	nr_agent_free(a);
	if (rc < 0)
		return agent_fail(cli, &err);
	if (o.json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "width", json_object_new_int(w));
		json_object_object_add(j, "height", json_object_new_int(h));
		put_json(j);
	} else {
		printf("%dx%d\n", w, h);
	}
	return EXIT_OK;
}

static int sub_shutdown(struct cli *cli, int argc, char **argv)
{
	struct agent_opts o = { 0 };
	const struct cli_flag flags[] = { COMMON_FLAGS(&o), { "reboot", &o.reboot, NULL, NULL },
					  { NULL, NULL, NULL, NULL } };
	struct nr_error err = { 0 };
	struct nr_agent *a;
	const char *vm;
	int argi, rc;

	if ((rc = parse(cli, argc, argv, flags, COMMON_HELP "  --reboot        reboot instead of powering off\n",
			&o, &vm, &argi, 0, 0)) >= 0)
		return rc;
	if ((rc = open_agent(cli, &o, vm, &a)) != EXIT_OK)
		return rc;
	rc = nr_agent_shutdown(a, o.reboot ? "reboot" : "poweroff", &err);
	nr_agent_free(a);
	if (rc < 0)
		return agent_fail(cli, &err);
	if (!o.json)
		printf("the guest is going to %s\n", o.reboot ? "reboot" : "power off");
	return EXIT_OK;
}

static int sub_watch(struct cli *cli, int argc, char **argv)
{
	struct agent_opts o = { 0 };
	const struct cli_flag flags[] = { COMMON_FLAGS(&o), { "count=", NULL, &o.count, NULL },
					  { "for=", NULL, &o.for_ms, NULL }, { NULL, NULL, NULL, NULL } };
	struct nr_error err = { 0 };
	struct nr_agent_event ev;
	struct nr_agent *a;
	const char *vm;
	long count = 0, for_ms = 0, seen = 0;
	int argi, rc;

	if ((rc = parse(cli, argc, argv, flags,
			COMMON_HELP
			"  --count N       stop after N events\n"
			"  --for MS        stop after MS milliseconds (exit 1 when no event came)\n",
			&o, &vm, &argi, 0, 0)) >= 0)
		return rc;
	if ((o.count && (count = strtol(o.count, NULL, 10)) < 1) ||
	    (o.for_ms && (for_ms = strtol(o.for_ms, NULL, 10)) < 1))
		return cli_usage_error(cli, "--count and --for take positive numbers");
	if ((rc = open_agent(cli, &o, vm, &a)) != EXIT_OK)
		return rc;
	if ((rc = nr_agent_connect(a, &err)) < 0) {
		nr_agent_free(a);
		return agent_fail(cli, &err);
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!count || seen < count) {
		long wait = 1000;
		if (for_ms) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			long left = for_ms - ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
			if (left <= 0)
				break;
			wait = left < wait ? left : wait;
		}
		rc = nr_agent_wait_event(a, (int)wait, &ev, &err);
		if (rc < 0) {
			nr_agent_free(a);
			return agent_fail(cli, &err);
		}
		if (rc == 0)
			continue;
		seen++;
		if (o.json) {
			json_object *j = json_object_new_object();
			if (ev.type == NR_AGENT_EVENT_CLIPBOARD) {
				json_object_object_add(j, "event", json_object_new_string("clipboard-changed"));
				json_object_object_add(j, "mime", json_object_new_string(ev.mime));
				json_object_object_add(j, "size", json_object_new_int64(ev.size));
			} else {
				json_object_object_add(j, "event", json_object_new_string("resolution-changed"));
				json_object_object_add(j, "width", json_object_new_int(ev.width));
				json_object_object_add(j, "height", json_object_new_int(ev.height));
			}
			puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(j);
		} else if (ev.type == NR_AGENT_EVENT_CLIPBOARD) {
			printf("clipboard-changed ");
			cli_put_clean(stdout, ev.mime[0] ? ev.mime : "?");
			printf(" %lld bytes\n", ev.size);
		} else {
			printf("resolution-changed %dx%d\n", ev.width, ev.height);
		}
		fflush(stdout);
	}
	nr_agent_free(a);
	return seen || !for_ms ? EXIT_OK : EXIT_FAIL;
}

static int sub_certs(struct cli *cli, int argc, char **argv)
{
	struct agent_opts o = { 0 };
	const struct cli_flag flags[] = {
		{ "bundle=", NULL, &o.bundle, NULL }, { "force", &o.force, NULL, NULL },
		{ "json", &o.json, NULL, NULL }, { NULL, NULL, NULL, NULL },
	};
	struct nr_error err = { 0 };
	struct nr_certs_info info;
	char *bundle = NULL;
	int argi, rc;

	const char *vm;

	if ((rc = parse(cli, argc, argv, flags,
			"  --bundle DIR    where the guest's bundle goes (default STATE/agent/VM/bundle)\n"
			"  --force         replace existing credentials (the guest then needs the new bundle)\n"
			"  --json          print paths and fingerprints as JSON\n",
			&o, &vm, &argi, 0, 0)) >= 0)
		return rc;
	if (!o.bundle) {
		char *dir;
		if (nr_certs_dir(cli->ctx, vm, &dir, &err) < 0)
			return agent_fail(cli, &err);
		if (asprintf(&bundle, "%s/bundle", dir) < 0)
			bundle = NULL;
		free(dir);
		if (!bundle)
			return cli_fail(cli, &(struct nr_error){ .code = -NR_E_NOMEM });
	}
	rc = nr_certs_generate(cli->ctx, vm, o.bundle ? o.bundle : bundle, o.force, &info, &err);
	free(bundle);
	if (rc < 0)
		return agent_fail(cli, &err);
	if (o.json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "host_dir", json_object_new_string(info.host_dir));
		json_object_object_add(j, "bundle_dir", json_object_new_string(info.bundle_dir));
		json_object_object_add(j, "ca", json_object_new_string(info.ca_fingerprint));
		json_object_object_add(j, "host", json_object_new_string(info.host_fingerprint));
		json_object_object_add(j, "guest", json_object_new_string(info.guest_fingerprint));
		put_json(j);
		return EXIT_OK;
	}
	printf("host credentials: %s\n", info.host_dir);
	printf("guest bundle:     %s\n", info.bundle_dir);
	printf("CA:               %s\n", info.ca_fingerprint);
	printf("host:             %s\n", info.host_fingerprint);
	printf("guest:            %s\n", info.guest_fingerprint);
	printf("Copy the bundle to /etc/neuron-agent/ in the guest (guest.key stays mode 0600).\n");
	return EXIT_OK;
}

static const struct {
	const char *name;
	int (*fn)(struct cli *cli, int argc, char **argv);
	const char *usage, *help;
} subs[] = {
	{ "ping", sub_ping, "agent ping [OPTIONS] VM", "check that the guest agent answers; print the round trip" },
	{ "info", sub_info, "agent info [OPTIONS] VM", "the guest's OS, hostname, agent version, uptime, resolution" },
	{ "launch", sub_launch, "agent launch [OPTIONS] VM PROGRAM [ARG...]",
	  "start PROGRAM in the guest user's session" },
	{ "clipboard", sub_clipboard, "agent clipboard [OPTIONS] VM",
	  "print the guest's clipboard, or set it with --set / --set-file" },
	{ "resolution", sub_resolution, "agent resolution [OPTIONS] VM [WIDTHxHEIGHT]",
	  "print the guest's resolution, or set it" },
	{ "watch", sub_watch, "agent watch [OPTIONS] [--count N] [--for MS] VM",
	  "print the guest's events (clipboard and resolution changes) as they come" },
	{ "shutdown", sub_shutdown, "agent shutdown [OPTIONS] VM", "power the guest off (or --reboot)" },
	{ "certs", sub_certs, "agent certs [--bundle DIR] [--force] [--json] VM",
	  "make the VM's CA, host and guest certificates (ECDSA P-256) and the guest's bundle" },
};

int cmd_agent(struct cli *cli, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		FILE *f = argc < 2 ? stderr : stdout;
		fprintf(f, "usage: %s %s\n\n%s\n\nSubcommands:\n", cli->prog, cli->usage, cli->help);
		for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
			fprintf(f, "  %-11s %s\n", subs[i].name, subs[i].help);
		fprintf(f, "\nErrors name their cause: TIMEOUT, AGENT_CLOSED, AGENT_CERT, AGENT_TLS,\n"
			   "AGENT_PROTO, AGENT_REMOTE, AGENT_NOCHANNEL, AGENT_NOCERTS (docs/PROTOCOL.md 7).\n");
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (strcmp(argv[1], subs[i].name) == 0) {
			cli->usage = subs[i].usage;
			cli->help = subs[i].help;
			return subs[i].fn(cli, argc - 1, argv + 1);
		}
	}
	return cli_usage_error(cli, "unknown subcommand '%s'", argv[1]);
}
