/* neuronctl agent: the guest agent from the command line (docs/PROTOCOL.md). */
#include <errno.h>
#include <signal.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "neuron/agent.h"
#include "neuron/certs.h"
#include "neuron/media.h"
#include "neuron/clock.h"
#include "neuron/desktop.h"
#include "neuron/domain.h"
#include "neuron/lg.h"
#include "neuron/sync.h"
#include "neuron/virt.h"

struct agent_opts {
	const char *socket, *certs, *timeout, *mime, *set, *set_file, *output, *bundle, *count, *for_ms;
	const char *cap, *lg_shm;
	bool reboot, force;
};

int cli_agent_open(struct cli *cli, const char *socket, const char *certs, const char *timeout, const char *vm,
		   struct nr_agent **a)
{
	struct nr_error err = { 0 };
	char *dir = NULL;
	int rc;

	if ((socket || certs) && nr_sync_check_free(cli->ctx, vm, &err) < 0)
		return cli_fail(cli, &err);
	if (socket) {
		if (!certs && (rc = nr_certs_dir(cli->ctx, vm, &dir, &err)) < 0)
			return cli_fail(cli, &err);
		rc = nr_agent_open_socket(socket, certs ? certs : dir, a, &err);
		free(dir);
	} else if (certs) {
		char *path = NULL;
		rc = nr_agent_channel_path(cli->ctx, vm, &path, &err);
		if (rc == 0)
			rc = nr_agent_open_socket(path, certs, a, &err);
		free(path);
	} else {
		rc = nr_agent_open(cli->ctx, vm, a, &err);
	}
	if (rc < 0)
		return cli_fail(cli, &err);
	if (timeout) {
		char *end;
		long ms = strtol(timeout, &end, 10);
		if (*end || ms < 1 || ms > 3600000) {
			nr_agent_free(*a);
			return cli_usage_error(cli, "--timeout takes milliseconds, 1 to 3600000");
		}
		nr_agent_set_timeout(*a, (int)ms, (int)ms);
	}
	return EXIT_OK;
}

static int open_agent(struct cli *cli, const struct agent_opts *o, const char *vm, struct nr_agent **a)
{
	return cli_agent_open(cli, o->socket, o->certs, o->timeout, vm, a);
}

static int sub_ping(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct agent_opts *o = opts;
	struct nr_error err = { 0 };
	struct nr_agent_status st;
	struct nr_agent *a;
	double rtt;
	int rc;

	if ((rc = open_agent(cli, o, argv[0], &a)) != EXIT_OK)
		return rc;
	rc = nr_agent_ping(a, &rtt, &err);
	nr_agent_get_status(a, &st);
	nr_agent_free(a);
	if (rc < 0)
		return cli_fail(cli, &err);
	if (cli->json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "rtt_ms", json_object_new_double(rtt));
		json_object_object_add(j, "agent", json_object_new_string(st.agent_version));
		json_object_object_add(j, "fingerprint", json_object_new_string(st.fingerprint));
		cli_json_print(cli, j);
	} else {
		printf("pong in %.3f ms from ", rtt);
		cli_put_clean(stdout, st.agent_version);
		printf(" (guest certificate %s)\n", st.fingerprint);
	}
	return EXIT_OK;
}

static int sub_info(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct agent_opts *o = opts;
	struct nr_error err = { 0 };
	struct nr_agent_info info;
	struct nr_agent_status st;
	struct nr_agent *a;
	int rc;

	if ((rc = open_agent(cli, o, argv[0], &a)) != EXIT_OK)
		return rc;
	rc = nr_agent_info(a, &info, &err);
	nr_agent_get_status(a, &st);
	nr_agent_free(a);
	if (rc < 0)
		return cli_fail(cli, &err);
	if (cli->json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "os", json_object_new_string(info.os));
		json_object_object_add(j, "hostname", json_object_new_string(info.hostname));
		json_object_object_add(j, "agent_version", json_object_new_string(info.agent_version));
		json_object_object_add(j, "uptime_s", json_object_new_int64(info.uptime_s));
		json_object_object_add(j, "width", json_object_new_int(info.width));
		json_object_object_add(j, "height", json_object_new_int(info.height));
		json_object_object_add(j, "fingerprint", json_object_new_string(st.fingerprint));
		cli_json_print(cli, j);
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

static int sub_launch(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct agent_opts *o = opts;
	struct nr_error err = { 0 };
	struct nr_agent *a;
	long long pid = 0;
	int rc;

	if ((rc = open_agent(cli, o, argv[0], &a)) != EXIT_OK)
		return rc;
	rc = nr_agent_launch(a, argv[1], (const char *const *)argv + 2, &pid, &err);
	nr_agent_free(a);
	if (rc < 0)
		return cli_fail(cli, &err);
	if (cli->json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "pid", json_object_new_int64(pid));
		cli_json_print(cli, j);
	} else {
		printf("started ");
		cli_put_clean(stdout, argv[1]);
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

static int sub_clipboard(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct agent_opts *o = opts;
	struct nr_error err = { 0 };
	struct nr_agent *a;
	unsigned char *data = NULL;
	char *input = NULL;
	size_t len = 0;
	const char *mime;
	int rc;

	mime = o->mime ? o->mime : "text/plain";
	if (strcmp(mime, "text/plain") != 0 && strcmp(mime, "image/png") != 0)
		return cli_usage_error(cli, "--mime is text/plain or image/png");
	if (o->set && o->set_file)
		return cli_usage_error(cli, "--set and --set-file exclude each other");
	if (!o->set && !o->set_file && !o->output && strcmp(mime, "text/plain") != 0)
		return cli_usage_error(cli, "an image needs --output FILE");
	if (o->set_file && read_input(o->set_file, &input, &len) < 0) {
		nr_error_set(&err, -NR_E_IO, "cannot read %s: %s", o->set_file, strerror(errno));
		return cli_fail(cli, &err);
	}
	if ((rc = open_agent(cli, o, argv[0], &a)) != EXIT_OK) {
		free(input);
		return rc;
	}
	if (o->set || o->set_file)
		rc = nr_agent_clipboard_set(a, mime, o->set ? o->set : input, o->set ? strlen(o->set) : len, &err);
	else
		rc = nr_agent_clipboard_get(a, mime, &data, &len, &err);
	nr_agent_free(a);
	free(input);
	if (rc < 0)
		return cli_fail(cli, &err);
	if (data && o->output) {
		FILE *f = fopen(o->output, "wb");
		if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
			nr_error_set(&err, -NR_E_IO, "cannot write %s: %s", o->output, strerror(errno));
			free(data);
			return cli_fail(cli, &err);
		}
	} else if (data) {
		if (cli->json) {
			json_object *j = json_object_new_object();
			json_object_object_add(j, "mime", json_object_new_string(mime));
			json_object_object_add(j, "text", json_object_new_string_len((char *)data, (int)len));
			cli_json_print(cli, j);
		} else {
			cli_put_clean(stdout, (char *)data);
			putchar('\n');
		}
	}
	free(data);
	return EXIT_OK;
}

static int sub_resolution(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct agent_opts *o = opts;
	struct nr_error err = { 0 };
	struct nr_agent *a;
	int rc, w = 0, h = 0;
	char x;

	if (argc > 1 && (sscanf(argv[1], "%d%c%d", &w, &x, &h) != 3 || (x != 'x' && x != 'X') ||
			    w < 1 || h < 1))
		return cli_usage_error(cli, "'%s' is not WIDTHxHEIGHT", argv[1]);
	if ((rc = open_agent(cli, o, argv[0], &a)) != EXIT_OK)
		return rc;
	if (w)
		rc = nr_agent_resolution_set(a, w, h, &err);
	if (rc == 0)
		rc = nr_agent_resolution_get(a, &w, &h, &err);
	nr_agent_free(a);
	if (rc < 0)
		return cli_fail(cli, &err);
	if (cli->json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "width", json_object_new_int(w));
		json_object_object_add(j, "height", json_object_new_int(h));
		cli_json_print(cli, j);
	} else {
		printf("%dx%d\n", w, h);
	}
	return EXIT_OK;
}

static int sub_shutdown(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct agent_opts *o = opts;
	struct nr_error err = { 0 };
	struct nr_agent *a;
	int rc;

	if ((rc = open_agent(cli, o, argv[0], &a)) != EXIT_OK)
		return rc;
	rc = nr_agent_shutdown(a, o->reboot ? "reboot" : "poweroff", &err);
	nr_agent_free(a);
	if (rc < 0)
		return cli_fail(cli, &err);
	if (!cli->json)
		printf("the guest is going to %s\n", o->reboot ? "reboot" : "power off");
	return EXIT_OK;
}

static int sub_watch(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct agent_opts *o = opts;
	struct nr_error err = { 0 };
	struct nr_agent_event ev;
	struct nr_agent *a;
	long count = 0, for_ms = 0, seen = 0;
	int rc;

	if ((o->count && (count = strtol(o->count, NULL, 10)) < 1) ||
	    (o->for_ms && (for_ms = strtol(o->for_ms, NULL, 10)) < 1))
		return cli_usage_error(cli, "--count and --for take positive numbers");
	if ((rc = open_agent(cli, o, argv[0], &a)) != EXIT_OK)
		return rc;
	if ((rc = nr_agent_connect(a, &err)) < 0) {
		nr_agent_free(a);
		return cli_fail(cli, &err);
	}
	long long t0 = nr_now_ms();
	while (!count || seen < count) {
		long wait = 1000;
		if (for_ms) {
			long left = for_ms - (long)(nr_now_ms() - t0);
			if (left <= 0)
				break;
			wait = left < wait ? left : wait;
		}
		rc = nr_agent_wait_event(a, (int)wait, &ev, &err);
		if (rc < 0) {
			nr_agent_free(a);
			return cli_fail(cli, &err);
		}
		if (rc == 0)
			continue;
		seen++;
		if (cli->json) {
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
			cli_json_print_line(cli, j);
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

static int sub_certs(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct agent_opts *o = opts;
	struct nr_error err = { 0 };
	struct nr_certs_info info;
	char *bundle = NULL;
	int rc;


	if (!o->bundle) {
		char *dir;
		if (nr_certs_dir(cli->ctx, argv[0], &dir, &err) < 0)
			return cli_fail(cli, &err);
		if (asprintf(&bundle, "%s/bundle", dir) < 0)
			bundle = NULL;
		free(dir);
		if (!bundle)
			return cli_fail(cli, &(struct nr_error){ .code = -NR_E_NOMEM });
	}
	rc = nr_certs_generate(cli->ctx, argv[0], o->bundle ? o->bundle : bundle, o->force, &info, &err);
	free(bundle);
	if (rc < 0)
		return cli_fail(cli, &err);
	if (cli->json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "host_dir", json_object_new_string(info.host_dir));
		json_object_object_add(j, "bundle_dir", json_object_new_string(info.bundle_dir));
		json_object_object_add(j, "ca", json_object_new_string(info.ca_fingerprint));
		json_object_object_add(j, "host", json_object_new_string(info.host_fingerprint));
		json_object_object_add(j, "guest", json_object_new_string(info.guest_fingerprint));
		cli_json_print(cli, j);
		return EXIT_OK;
	}
	printf("host credentials: %s\n", info.host_dir);
	printf("guest bundle:     %s\n", info.bundle_dir);
	printf("CA:               %s\n", info.ca_fingerprint);
	printf("host:             %s\n", info.host_fingerprint);
	printf("guest:            %s\n", info.guest_fingerprint);
	printf("Give the guest this bundle (neuronctl agent media VM puts the default one on its CD-ROM).\n");
	return EXIT_OK;
}

static int sub_media(struct cli *cli, void *opts, int argc, char **argv)
{
	struct nr_error err = { 0 };
	struct nr_media_info info;

	(void)opts;
	if (nr_media_make(cli->ctx, argv[0], &info, &err) < 0)
		return cli_fail(cli, &err);
	if (cli->json) {
		json_object *j = json_object_new_object(), *missing = json_object_new_array();
		json_object_object_add(j, "path", json_object_new_string(info.path));
		json_object_object_add(j, "label", json_object_new_string(NR_MEDIA_LABEL));
		json_object_object_add(j, "owner", cli_json_str(info.owner[0] ? info.owner : NULL));
		json_object_object_add(j, "certs_made", json_object_new_boolean(info.certs_made));
		json_object_object_add(j, "windows_agent", json_object_new_boolean(info.has_msi));
		json_object_object_add(j, "linux_agent", json_object_new_boolean(info.has_linux));
		for (size_t i = 0; i < sizeof(info.missing) / sizeof(info.missing[0]); i++)
			if (info.missing[i][0])
				json_object_array_add(missing, json_object_new_string(info.missing[i]));
		json_object_object_add(j, "missing", missing);
		cli_json_print(cli, j);
		return EXIT_OK;
	}
	cli_media_report(cli, &info);
	printf("A running VM sees the new media after it is ejected and inserted again, or at its next start.\n");
	return EXIT_OK;
}

/* ---- agent sync */

static volatile sig_atomic_t sync_stop;

static void on_stop(int sig)
{
	(void)sig;
	sync_stop = 1;
}

static void sync_report(void *userdata, const struct nr_sync_report *r)
{
	static const char *const kinds[] = {
		[NR_SYNC_WATCHING] = "watching", [NR_SYNC_CONNECTED] = "connected",
		[NR_SYNC_DISCONNECTED] = "waiting", [NR_SYNC_PAUSED] = "paused", [NR_SYNC_RESUMED] = "resumed",
		[NR_SYNC_TRANSFER] = "transfer", [NR_SYNC_REFUSED] = "refused", [NR_SYNC_FAILED] = "failed",
	};
	struct cli *cli = userdata;

	if (cli->json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "event", json_object_new_string(kinds[r->kind]));
		if (r->dir != NR_SYNC_NONE)
			json_object_object_add(j, "direction", json_object_new_string(r->dir == NR_SYNC_TO_GUEST
										  ? "to-guest" : "to-host"));
		if (r->mime)
			json_object_object_add(j, "mime", json_object_new_string(r->mime));
		if (r->kind == NR_SYNC_TRANSFER || r->kind == NR_SYNC_REFUSED)
			json_object_object_add(j, "size", json_object_new_int64((long long)r->size));
		if (r->text)
			json_object_object_add(j, "message", json_object_new_string(r->text));
		cli_json_print_line(cli, j);
		fflush(stdout);
		return;
	}
	switch (r->kind) {
	case NR_SYNC_WATCHING:
		printf("host clipboard: %s\n", r->text);
		break;
	case NR_SYNC_CONNECTED:
		printf("connected to the agent: the clipboards are in sync\n");
		break;
	case NR_SYNC_DISCONNECTED:
		printf("waiting for the agent (retrying): ");
		cli_put_clean(stdout, r->text);
		putchar('\n');
		break;
	case NR_SYNC_PAUSED:
		printf("paused: %s; sync stands back until it goes away\n", r->text);
		break;
	case NR_SYNC_RESUMED:
		printf("resumed: %s\n", r->text);
		break;
	case NR_SYNC_TRANSFER:
		printf("%s: %s, %zu bytes\n", nr_sync_dir_name(r->dir), r->mime, r->size);
		break;
	case NR_SYNC_REFUSED:
		printf("refused: %s\n", r->text);
		break;
	case NR_SYNC_FAILED:
		printf("failed %s (%s, %zu bytes): ", nr_sync_dir_name(r->dir), r->mime, r->size);
		cli_put_clean(stdout, r->text);
		putchar('\n');
		break;
	}
	fflush(stdout);
}

/* The VM's Looking Glass memory (as seen under the sysroot) and whether its client may carry
 * the clipboard over SPICE, from its domain (the one reader). */
static void sync_lg_of(struct cli *cli, const char *vm, char **shm, bool *spice)
{
	struct nr_domain_info *info = NULL;
	struct nr_virt *virt = NULL;
	const char *path;
	char *xml = NULL;
	unsigned mib;

	if (nr_virt_open(cli->ctx, &virt, NULL) == 0 && nr_virt_domain_xml(virt, vm, &xml, NULL) == 0 &&
	    nr_domain_inspect(xml, &info, NULL) == 0) {
		*spice = nr_lg_spice_clipboard(cli->ctx, info);
		if (nr_lg_shm_of(info, &path, &mib, NULL) == 0)
			*shm = nr_ctx_sys_path(cli->ctx, path);
	}
	nr_domain_info_free(info);
	free(xml);
	nr_virt_close(virt);
}

static int sub_sync(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct agent_opts *o = opts;
	struct nr_error err = { 0 };
	struct sigaction sa = { .sa_handler = on_stop };
	struct nr_sync_opts so = { .vm = argv[0], .stop = &sync_stop, .report = sync_report, .userdata = cli };
	struct nr_agent *a;
	char *shm = NULL;
	int rc;

	if (o->cap && nr_sync_parse_size(o->cap, &so.cap, &err) < 0)
		return cli_usage_error(cli, "--cap: %s", err.msg);
	/* no desktop session: say so before anything else */
	struct nr_desktop *desk = nr_desktop_new();
	rc = desk ? nr_desktop_check(desk, &err) : nr_error_set(&err, -NR_E_NOMEM, NULL);
	nr_desktop_free(desk);
	if (rc < 0)
		return cli_fail(cli, &err);
	if ((rc = open_agent(cli, o, argv[0], &a)) != EXIT_OK)
		return rc;
	if (o->lg_shm)
		shm = strdup(o->lg_shm);
	else
		sync_lg_of(cli, argv[0], &shm, &so.spice);
	so.lg_shm = shm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	rc = nr_sync_run(cli->ctx, a, &so, &err);
	nr_agent_free(a);
	free(shm);
	if (rc < 0)
		return cli_fail(cli, &err);
	return EXIT_OK;
}

/* ---- the table ------------------------------------------------------------------------- */

#define COMMON_OPTS \
	CLI_VALUE("socket", "PATH", struct agent_opts, socket, \
		  "talk to this unix socket or pty instead of the VM's channel from libvirt"), \
	CLI_VALUE("certs", "DIR", struct agent_opts, certs, \
		  "host credentials (default STATE/agent/VM from neuronctl agent certs)"), \
	CLI_VALUE("timeout", "MS", struct agent_opts, timeout, "per-request timeout (default 5000)"), \
	CLI_JSON("print the result as JSON")

static const struct cli_opt common_options[] = { COMMON_OPTS, CLI_OPT_END };

#define AGENT_SUB(sub, fn, usage_, help_, options, min, max, ...) \
	static const struct cli_cmd agent_##sub##_cmd = { \
		.name = #sub, .usage = usage_, .help = help_, .run = fn, .opts = options, \
		.opts_size = sizeof(struct agent_opts), .min_args = min, .max_args = max, \
		.missing = min > 1 ? "which VM, and which program?" : "which VM?", __VA_ARGS__ \
	}

AGENT_SUB(ping, sub_ping, "agent ping [OPTIONS] VM", "check that the guest agent answers; print the round trip",
	  common_options, 1, 1);
AGENT_SUB(info, sub_info, "agent info [OPTIONS] VM", "the guest's OS, hostname, agent version, uptime, resolution",
	  common_options, 1, 1);
AGENT_SUB(launch, sub_launch, "agent launch [OPTIONS] VM PROGRAM [ARG...]",
	  "start PROGRAM in the guest user's session", common_options, 2, -1,
	  .rest_after = 2);
AGENT_SUB(clipboard, sub_clipboard, "agent clipboard [OPTIONS] VM",
	  "print the guest's clipboard, or set it with --set / --set-file",
	  ((const struct cli_opt[]){
		COMMON_OPTS,
		CLI_VALUE("mime", "TYPE", struct agent_opts, mime, "text/plain (default) or image/png"),
		CLI_VALUE("set", "TEXT", struct agent_opts, set, "put TEXT on the guest's clipboard"),
		CLI_VALUE("set-file", "FILE", struct agent_opts, set_file, "put the contents of FILE (- for stdin) on it"),
		CLI_VALUE("output", "FILE", struct agent_opts, output,
			  "write what the clipboard holds to FILE (needed for images)"),
		CLI_OPT_END,
	  }), 1, 1);
AGENT_SUB(resolution, sub_resolution, "agent resolution [OPTIONS] VM [WIDTHxHEIGHT]",
	  "print the guest's resolution, or set it", common_options, 1, 2);
AGENT_SUB(watch, sub_watch, "agent watch [OPTIONS] [--count N] [--for MS] VM",
	  "print the guest's events (clipboard and resolution changes) as they come",
	  ((const struct cli_opt[]){
		COMMON_OPTS,
		CLI_VALUE("count", "N", struct agent_opts, count, "stop after N events"),
		CLI_VALUE("for", "MS", struct agent_opts, for_ms, "stop after MS milliseconds (exit 1 when no event came)"),
		CLI_OPT_END,
	  }), 1, 1);
AGENT_SUB(sync, sub_sync, "agent sync [OPTIONS] [--cap SIZE] [--lg-shm PATH] VM",
	  "keep the host desktop's clipboard and the guest's in sync, both ways, until stopped",
	  ((const struct cli_opt[]){
		COMMON_OPTS,
		CLI_VALUE("cap", "SIZE", struct agent_opts, cap,
			  "the largest content copied: 16M (the default), 512K; at most 64M"),
		CLI_VALUE("lg-shm", "PATH", struct agent_opts, lg_shm,
			  "the VM's Looking Glass memory to watch (default: the one in its domain)"),
		CLI_OPT_END,
	  }), 1, 1,
	  .more = "Text and PNG images go from the host desktop (Wayland through wl-clipboard, X11 through\n"
		  "xclip; changes come from XFixes events or wl-paste --watch) to the guest on every change,\n"
		  "and from the guest on every clipboard-changed event. What sync gave a side is never sent\n"
		  "back. When the agent goes away (the VM reboots) sync waits for it, then resyncs once.\n"
		  "While Looking Glass carries the clipboard itself (a host that announces the clipboard\n"
		  "feature, or the B7 host with SPICE) sync pauses and says so. Stop it with SIGINT or\n"
		  "SIGTERM; the neuron-sync@VM.service user unit runs it in the graphical session.\n");
AGENT_SUB(shutdown, sub_shutdown, "agent shutdown [OPTIONS] VM", "power the guest off (or --reboot)",
	  ((const struct cli_opt[]){
		COMMON_OPTS,
		CLI_BOOL("reboot", struct agent_opts, reboot, "reboot instead of powering off"),
		CLI_OPT_END,
	  }), 1, 1);
AGENT_SUB(certs, sub_certs, "agent certs [--bundle DIR] [--force] [--json] VM",
	  "make the VM's CA, host and guest certificates (ECDSA P-256) and the guest's bundle",
	  ((const struct cli_opt[]){
		CLI_VALUE("bundle", "DIR", struct agent_opts, bundle,
			  "where the guest's bundle goes (default STATE/agent/VM/bundle)"),
		CLI_BOOL("force", struct agent_opts, force,
			 "replace existing credentials (the guest then needs the new bundle)"),
		CLI_JSON("print paths and fingerprints as JSON"),
		CLI_OPT_END,
	  }), 1, 1);

AGENT_SUB(media, sub_media, "agent media [--json] VM",
	  "make the VM's guest-tools CD-ROM again: the agents, its credentials, setup.cmd, setup.sh",
	  ((const struct cli_opt[]){
		CLI_JSON("print the media's path and contents as JSON"),
		CLI_OPT_END,
	  }), 1, 1,
	  .more = "The media is STATE/vm/VM/guest-tools.iso (ISO 9660, Joliet, Rock Ridge, label NEURON_TOOLS),\n"
		  "made by xorriso; vm create makes it and attaches it as a read-only SATA CD-ROM. It holds\n"
		  "the guest's half of the credentials only (made first when the VM has none), the Windows\n"
		  "agent's MSI and the Linux agent with its systemd user unit when they were built.\n");

const struct cli_cmd cli_cmd_agent = {
	.name = "agent",
	.usage = "agent ping|info|launch|clipboard|resolution|watch|sync|shutdown|certs|media ... VM",
	.help = "talk to a VM's guest agent over TLS, or make its certificates and guest-tools media",
	.subs = (const struct cli_cmd *const[]){
		&agent_ping_cmd, &agent_info_cmd, &agent_launch_cmd, &agent_clipboard_cmd, &agent_resolution_cmd,
		&agent_watch_cmd, &agent_sync_cmd, &agent_shutdown_cmd, &agent_certs_cmd, &agent_media_cmd, NULL,
	},
	.more = "Failures end with the error's name: TIMEOUT, AGENT_CLOSED, AGENT_CERT, AGENT_TLS,\n"
		"AGENT_PROTO, AGENT_REMOTE, AGENT_NOCHANNEL, AGENT_NOCERTS (docs/PROTOCOL.md 7).\n",
};
