/* neuronctl lg: Looking Glass shared memory size, set-up, the supervised client, and
 * whether the guest's host application runs. */
#include <json-c/json.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "plan_show.h"
#include "neuron/lg.h"
#include "neuron/plan.h"
#include "neuron/util.h"
#include "neuron/virt.h"

struct lg_sub {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
	const char *usage;
	const char *help;
};

static const int json_flags = JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			      JSON_C_TO_STRING_NOSLASHESCAPE;

static void print_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o, json_flags));
}

/* Let flags follow operands ("lg size 4k --hdr", "lg status win11 --json"): move every
 * "--flag" (with its value when the table says it takes one) before the operands,
 * keeping their order. Stops at "--"; argv[0] stays. */
static void flags_first(int argc, char **argv, const struct cli_flag *flags)
{
	char **ops = calloc((size_t)argc + 1, sizeof(*ops));
	int w = 1, n = 0, i;

	if (!ops)
		abort();
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (argv[i][0] == '-' && argv[i][1] != '\0') {
			argv[w++] = argv[i];
			for (const struct cli_flag *f = flags; f && f->name; f++) {
				size_t len = strcspn(f->name, "=");
				if (f->name[len] == '=' && strncmp(argv[i] + 2, f->name, len) == 0 &&
				    argv[i][2 + len] == '\0' && i + 1 < argc) {
					argv[w++] = argv[++i];
					break;
				}
			}
		} else {
			ops[n++] = argv[i];
		}
	}
	for (int k = 0; k < n; k++)
		argv[w++] = ops[k];
	free(ops);
}

/* Log lines from a file we wrote, but with the client's output in them: clean each. */
static void put_lines_indent(FILE *f, const char *text, const char *indent)
{
	const char *p = text;

	while (p && *p) {
		size_t n = strcspn(p, "\n");
		char *line = strndup(p, n);
		fputs(indent, f);
		cli_put_clean(f, line);
		fputc('\n', f);
		free(line);
		p += n;
		if (*p)
			p++;
	}
}

static void put_lines(FILE *f, const char *text)
{
	put_lines_indent(f, text, "  ");
}

/* ---- lg size ---------------------------------------------------------------------- */

static int lg_size(struct cli *cli, int argc, char **argv)
{
	bool hdr = false, json = false;
	const struct cli_flag flags[] = {
		{ "hdr", &hdr, NULL, NULL },
		{ "json", &json, NULL, NULL },
		{ NULL, NULL, NULL, NULL },
	};
	unsigned w, h, mib;
	int argi, rc;

	flags_first(argc, argv, flags);
	if (cli_parse_flags(cli, argc, argv, flags,
			    "  --hdr    10-bit HDR frames (twice the size)\n"
			    "  --json   print {width, height, hdr, size_mib}\n", &argi, &rc))
		return rc;
	if (argi + 1 != argc)
		return cli_usage_error(cli, argi < argc ? "one resolution, please" : "a resolution is needed");
	if (nr_lg_parse_resolution(argv[argi], &w, &h) < 0)
		return cli_usage_error(cli, "'%s' is not a resolution (WIDTHxHEIGHT, 1080p, 1440p, 2160p, 4k)",
				       argv[argi]);
	mib = nr_lg_shm_size_mib(w, h, hdr);
	if (json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "width", json_object_new_int((int)w));
		json_object_object_add(o, "height", json_object_new_int((int)h));
		json_object_object_add(o, "hdr", json_object_new_boolean(hdr));
		json_object_object_add(o, "size_mib", json_object_new_int((int)mib));
		print_json(o);
		json_object_put(o);
	} else {
		printf("%u\n", mib);
	}
	return EXIT_OK;
}

/* ---- finding a VM's shared memory ----------------------------------------------------- */

/* The VM's shm path as seen under the sysroot (malloc'd). */
static int vm_shm_path(struct cli *cli, const char *vm, char **out, struct nr_error *err)
{
	struct nr_virt *virt;
	char *path;
	unsigned mib;
	int rc;

	*out = NULL;
	rc = nr_virt_open(cli->ctx, &virt, err);
	if (rc < 0)
		return rc;
	rc = nr_lg_vm_shm(virt, vm, &path, &mib, err);
	nr_virt_close(virt);
	if (rc < 0)
		return rc;
	*out = nr_ctx_sys_path(cli->ctx, path);
	free(path);
	return *out ? 0 : nr_error_set(err, -NR_E_NOMEM, NULL);
}

/* ---- lg start / stop / restart ----------------------------------------------------------- */

static const char start_options[] =
	"  --fullscreen     start full screen (config: lg.fullscreen)\n"
	"  --escape KEY     the client's escape key, e.g. KEY_RIGHTCTRL (config: lg.escape)\n"
	"  --no-spice       no SPICE channel (config: lg.spice=no)\n"
	"  --spice          use SPICE even when the config says no\n"
	"  --client PATH    the looking-glass-client binary (config: lg.client; default: PATH)\n"
	"  --foreground     supervise in this process instead of in the background\n"
	"  -- ARGS          more arguments for the client\n";

static int do_start(struct cli *cli, int argc, char **argv, bool restart)
{
	bool fullscreen = false, no_spice = false, spice = false, foreground = false;
	const char *escape = NULL, *client = NULL;
	const struct cli_flag flags[] = {
		{ "fullscreen", &fullscreen, NULL, NULL },
		{ "escape=", NULL, &escape, NULL },
		{ "no-spice", &no_spice, NULL, NULL },
		{ "spice", &spice, NULL, NULL },
		{ "client=", NULL, &client, NULL },
		{ "foreground", &foreground, NULL, NULL },
		{ NULL, NULL, NULL, NULL },
	};
	struct nr_lg_client_opts opts = { 0 };
	struct nr_error err = { 0 };
	char *shm = NULL, *binary = NULL;
	const char *vm;
	long pid;
	int argi, rc;

	if (cli_parse_flags(cli, argc, argv, flags, start_options, &argi, &rc))
		return rc;
	if (argi >= argc)
		return cli_usage_error(cli, "which VM?");
	vm = argv[argi++];
	if (argi < argc && strcmp(argv[argi], "--") == 0)
		argi++;
	if (argi < argc && argv[argi][0] == '-' && strcmp(argv[argi - 1], "--") != 0)
		return cli_usage_error(cli, "options go before the VM name; client arguments after '--'");

	if (nr_lg_graphical_session(&err) < 0)
		return cli_fail(cli, &err);
	if (vm_shm_path(cli, vm, &shm, &err) < 0)
		return cli_fail(cli, &err);
	if (nr_lg_shm_check_access(shm, &err) < 0 ||
	    nr_lg_client_find(cli->ctx, client, &binary, &err) < 0) {
		free(shm);
		return cli_fail(cli, &err);
	}
	nr_lg_client_opts_defaults(cli->ctx, &opts);
	opts.vm = vm;
	opts.shm_path = shm;
	opts.client = binary;
	if (fullscreen)
		opts.fullscreen = true;
	if (escape)
		opts.escape_key = escape;
	if (no_spice)
		opts.no_spice = true;
	if (spice)
		opts.no_spice = false;
	opts.extra = (const char *const *)(argv + argi);

	if (restart) {
		rc = nr_lg_client_stop(cli->ctx, vm, &err);
		if (rc < 0 && rc != -NR_E_NOTFOUND)
			goto fail;
		nr_error_clear(&err);
	}
	if (foreground) {
		printf("supervising %s for VM ", binary);
		cli_put_clean(stdout, vm);
		printf(" in the foreground (Ctrl-C stops it)\n");
		fflush(stdout);
		rc = nr_lg_supervise(cli->ctx, &opts, &err);
	} else {
		rc = nr_lg_client_start(cli->ctx, &opts, &pid, &err);
		if (rc == 0) {
			char *dir = nr_lg_runtime_dir(cli->ctx);
			printf("%s looking-glass-client for VM ", restart ? "restarted" : "started");
			cli_put_clean(stdout, vm);
			printf(" (pid %ld, supervised); shared memory ", pid);
			cli_put_clean(stdout, shm);
			printf("; log in ");
			cli_put_clean(stdout, dir ? dir : "the runtime directory");
			printf("\n");
			free(dir);
		}
	}
	if (rc == -NR_E_LG_GAVEUP) {
		struct nr_lg_sup_info info;
		cli_fail(cli, &err);
		if (nr_lg_client_info(cli->ctx, vm, &info, NULL) == 0 && info.last_lines) {
			fprintf(stderr, "last lines of the log:\n");
			put_lines(stderr, info.last_lines);
		}
		nr_lg_sup_info_done(&info);
		rc = EXIT_FAIL;
		goto out;
	}
fail:
	rc = rc < 0 ? cli_fail(cli, &err) : EXIT_OK;
out:
	free(shm);
	free(binary);
	return rc;
}

static int lg_start(struct cli *cli, int argc, char **argv)
{
	return do_start(cli, argc, argv, false);
}

static int lg_restart(struct cli *cli, int argc, char **argv)
{
	return do_start(cli, argc, argv, true);
}

static int lg_stop(struct cli *cli, int argc, char **argv)
{
	struct nr_error err = { 0 };
	int argi, rc;

	if (cli_parse_flags(cli, argc, argv, NULL, "", &argi, &rc))
		return rc;
	if (argi + 1 != argc)
		return cli_usage_error(cli, "one VM name, please");
	if (nr_lg_client_stop(cli->ctx, argv[argi], &err) < 0)
		return cli_fail(cli, &err);
	printf("stopped the Looking Glass client of VM ");
	cli_put_clean(stdout, argv[argi]);
	putchar('\n');
	return EXIT_OK;
}

/* ---- lg status ------------------------------------------------------------------------------ */

static void layout_text(const struct nr_lg_snapshot *s, char *buf, size_t size)
{
	switch (s->kind) {
	case NR_LG_SHM_HEADER:
		snprintf(buf, size, "%s (LGMP header at offset %llu, protocol version %u)", s->layout,
			 (unsigned long long)s->header_offset, s->version);
		break;
	case NR_LG_SHM_UNKNOWN:
		if (s->have_version)
			snprintf(buf, size, "unknown (LGMP protocol version %u at offset %llu: %s)", s->version,
				 (unsigned long long)s->header_offset, s->detail);
		else
			snprintf(buf, size, "unknown (%s)", s->detail);
		break;
	default:
		snprintf(buf, size, "%s (%s)", nr_lg_shm_kind_name(s->kind), s->detail);
	}
}

struct session_note {
	bool had_previous;
	uint32_t previous;
};

static json_object *shm_json(const char *path, const struct nr_lg_status *st, const struct session_note *sn)
{
	const struct nr_lg_snapshot *s = &st->last;
	json_object *o = json_object_new_object();
	char *sentence = nr_lg_status_sentence(st);

	json_object_object_add(o, "path", json_object_new_string(path));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)s->size));
	json_object_object_add(o, "kind", json_object_new_string(nr_lg_shm_kind_name(s->kind)));
	json_object_object_add(o, "layout", s->layout ? json_object_new_string(s->layout) : NULL);
	json_object_object_add(o, "detail", s->detail ? json_object_new_string(s->detail) : NULL);
	json_object_object_add(o, "header_offset", s->kind == NR_LG_SHM_HEADER || s->have_version ?
			       json_object_new_int64((int64_t)s->header_offset) : NULL);
	json_object_object_add(o, "version", s->have_version ? json_object_new_int64(s->version) : NULL);
	if (s->kind == NR_LG_SHM_HEADER) {
		json_object_object_add(o, "session_id", json_object_new_int64(s->session_id));
		json_object_object_add(o, "timestamp_ms", json_object_new_int64((int64_t)s->timestamp_ms));
	} else {
		json_object_object_add(o, "session_id", NULL);
		json_object_object_add(o, "timestamp_ms", NULL);
	}
	if (s->kvmfr) {
		json_object *k = json_object_new_object();
		json_object_object_add(k, "version", json_object_new_int64(s->kvmfr_version));
		json_object_object_add(k, "host_version", json_object_new_string(s->host_version));
		json_object_object_add(o, "kvmfr", k);
	} else {
		json_object_object_add(o, "kvmfr", NULL);
	}
	json_object_object_add(o, "host", json_object_new_string(nr_lg_host_state_name(st->host)));
	json_object_object_add(o, "session_changed", json_object_new_boolean(st->session_changed));
	json_object_object_add(o, "previous_session_id", sn->had_previous && s->kind == NR_LG_SHM_HEADER ?
			       json_object_new_int64(sn->previous) : NULL);
	json_object_object_add(o, "restarted_since_last_status", json_object_new_boolean(
			       sn->had_previous && s->kind == NR_LG_SHM_HEADER && sn->previous != s->session_id));
	json_object_object_add(o, "watched_ms", json_object_new_int((int)st->watched_ms));
	json_object_object_add(o, "message", json_object_new_string(sentence ? sentence : ""));
	free(sentence);
	return o;
}

static void shm_text(const char *path, const struct nr_lg_status *st, const struct session_note *sn)
{
	const struct nr_lg_snapshot *s = &st->last;
	char line[512];
	char *sentence = nr_lg_status_sentence(st);

	printf("shared memory  ");
	cli_put_clean(stdout, path);
	printf(" (%llu bytes)\n", (unsigned long long)s->size);
	layout_text(s, line, sizeof(line));
	printf("layout         %s\n", line);
	if (s->kind == NR_LG_SHM_HEADER) {
		printf("session        %u", s->session_id);
		if (st->session_changed)
			printf(" (changed while watching: the host app restarted)");
		else if (sn->had_previous && sn->previous != s->session_id)
			printf(" (was %u at the last status: the host app restarted since)", sn->previous);
		putchar('\n');
		if (s->kvmfr)
			printf("KVMFR          version %u, host %s\n", s->kvmfr_version,
			       s->host_version[0] ? s->host_version : "(no version string)");
		else
			printf("KVMFR          not found (the host application has not written it yet)\n");
	}
	printf("host app       %s: %s\n", nr_lg_host_state_name(st->host), sentence ? sentence : "");
	free(sentence);
}

static const char *sup_sentence(const struct nr_lg_sup_info *i)
{
	switch (i->state) {
	case NR_LG_SUP_NOT_RUNNING: return "no client is supervised";
	case NR_LG_SUP_RUNNING: return "the client runs under its supervisor";
	case NR_LG_SUP_BACKOFF: return "the client crashed; a restart is pending";
	case NR_LG_SUP_GAVE_UP: return "the client kept crashing and was given up";
	case NR_LG_SUP_STALE: return "a stale pid file was found (its supervisor is gone) and removed";
	}
	return "";
}

static int lg_status(struct cli *cli, int argc, char **argv)
{
	bool json = false;
	const char *shm_flag = NULL;
	const struct cli_flag flags[] = {
		{ "json", &json, NULL, NULL },
		{ "shm=", NULL, &shm_flag, NULL },
		{ NULL, NULL, NULL, NULL },
	};
	struct nr_error err = { 0 };
	struct nr_lg_sup_info info = { 0 };
	struct nr_lg_status st;
	struct session_note sn = { false, 0 };
	const char *vm = NULL;
	char *shm = NULL;
	bool have_info = false, probed = false;
	int argi, rc, probe_rc = 0;
	json_object *root = NULL;

	flags_first(argc, argv, flags);
	if (cli_parse_flags(cli, argc, argv, flags,
			    "  --shm PATH   read this shared memory file or device (default: the VM's,\n"
			    "               or lg.shm under the sysroot: /dev/shm/looking-glass)\n"
			    "  --json       print one JSON object\n"
			    "Exit status: 0 when the guest's host application is alive, else 1.\n",
			    &argi, &rc))
		return rc;
	if (argi < argc)
		vm = argv[argi++];
	if (argi < argc)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[argi]);

	if (vm) {
		if (nr_lg_client_info(cli->ctx, vm, &info, &err) < 0)
			return cli_fail(cli, &err);
		have_info = true;
	}
	if (shm_flag) {
		shm = strdup(shm_flag);
	} else if (vm) {
		probe_rc = vm_shm_path(cli, vm, &shm, &err);
	} else {
		shm = nr_ctx_sys_path(cli->ctx, nr_ctx_get(cli->ctx, "lg.shm"));
	}
	if (probe_rc == 0 && !shm)
		probe_rc = nr_error_set(&err, -NR_E_NOMEM, NULL);
	if (probe_rc == 0) {
		struct nr_lg_watch watch = {
			.interval_ms = (unsigned)strtoul(nr_ctx_get(cli->ctx, "lg.watch_ms"), NULL, 10),
			.stale_ms = (unsigned)strtoul(nr_ctx_get(cli->ctx, "lg.stale_ms"), NULL, 10),
		};
		probe_rc = nr_lg_status_read(shm, &watch, &st, &err);
		probed = probe_rc == 0;
		if (probed && st.last.kind == NR_LG_SHM_HEADER)
			nr_lg_session_remember(cli->ctx, shm, st.last.session_id, &sn.previous, &sn.had_previous);
	}

	if (json) {
		root = json_object_new_object();
		if (vm)
			json_object_object_add(root, "vm", json_object_new_string(vm));
		if (have_info) {
			json_object *c = json_object_new_object();
			json_object_object_add(c, "state", json_object_new_string(nr_lg_sup_state_name(info.state)));
			json_object_object_add(c, "supervisor_pid", info.supervisor_pid ?
					       json_object_new_int64(info.supervisor_pid) : NULL);
			json_object_object_add(c, "client_pid", info.client_pid && (info.state == NR_LG_SUP_RUNNING) ?
					       json_object_new_int64(info.client_pid) : NULL);
			json_object_object_add(c, "restarts", json_object_new_int((int)info.restarts));
			json_object_object_add(c, "last_exit", info.last_exit[0] ?
					       json_object_new_string(info.last_exit) : NULL);
			json_object_object_add(c, "log", json_object_new_string(info.log_path));
			json_object_object_add(c, "last_lines", info.last_lines ?
					       json_object_new_string(info.last_lines) : NULL);
			json_object_object_add(root, "client", c);
		}
		if (probed) {
			json_object_object_add(root, "shm", shm_json(shm, &st, &sn));
		} else {
			json_object *e = json_object_new_object();
			json_object_object_add(e, "error", json_object_new_string(nr_errname(err.code)));
			json_object_object_add(e, "message", json_object_new_string(err.msg));
			json_object_object_add(root, "shm", e);
		}
		print_json(root);
		json_object_put(root);
	} else {
		if (have_info) {
			printf("client         %s: %s", nr_lg_sup_state_name(info.state), sup_sentence(&info));
			if (info.state == NR_LG_SUP_RUNNING || info.state == NR_LG_SUP_BACKOFF) {
				printf(" (supervisor pid %ld", info.supervisor_pid);
				if (info.state == NR_LG_SUP_RUNNING && info.client_pid)
					printf(", client pid %ld", info.client_pid);
				printf(", %u restart%s)", info.restarts, info.restarts == 1 ? "" : "s");
			}
			putchar('\n');
			if (info.last_exit[0])
				printf("last exit      %s\n", info.last_exit);
			if (info.state != NR_LG_SUP_NOT_RUNNING) {
				printf("log            ");
				cli_put_clean(stdout, info.log_path);
				putchar('\n');
			}
			if (info.last_lines) {
				printf("last lines of the log:\n");
				put_lines(stdout, info.last_lines);
			}
		}
		if (probed)
			shm_text(shm, &st, &sn);
		else
			cli_fail(cli, &err);
	}
	rc = probed && st.host == NR_LG_HOST_ALIVE ? EXIT_OK : EXIT_FAIL;
	nr_lg_sup_info_done(&info);
	free(shm);
	return rc;
}


/* ---- lg setup plan|apply|revert|status ------------------------------------------------------ */

static const char setup_options[] =
	"  --mode shm|kvmfr     /dev/shm/looking-glass (default) or the kvmfr module's /dev/kvmfr0\n"
	"  --user NAME          who runs the client (default: $SUDO_USER, else you)\n"
	"  --group NAME         the group of the file or device (default: kvm)\n"
	"  --size MIB           IVSHMEM size, a power of two (default: from --resolution)\n"
	"  --resolution WxH     size for this resolution (default 1920x1080), with --hdr for HDR\n"
	"  --hdr                HDR frames (twice the size)\n"
	"  --yes                apply or revert without asking\n"
	"  --json               (plan, status) print JSON\n";

struct setup_args {
	bool hdr, yes, json;
	const char *mode, *user, *group, *size, *resolution;
	enum nr_lg_mode m;
	bool mode_given;
	struct nr_lg_setup s;
	char user_buf[64];
};

static int setup_parse(struct cli *cli, int argc, char **argv, struct setup_args *a, int *rc)
{
	const struct cli_flag flags[] = {
		{ "mode=", NULL, &a->mode, NULL },
		{ "user=", NULL, &a->user, NULL },
		{ "group=", NULL, &a->group, NULL },
		{ "size=", NULL, &a->size, NULL },
		{ "resolution=", NULL, &a->resolution, NULL },
		{ "hdr", &a->hdr, NULL, NULL },
		{ "yes", &a->yes, NULL, NULL },
		{ "json", &a->json, NULL, NULL },
		{ NULL, NULL, NULL, NULL },
	};
	unsigned w = 1920, h = 1080;
	int argi;

	flags_first(argc, argv, flags);
	if (cli_parse_flags(cli, argc, argv, flags, setup_options, &argi, rc))
		return 1;
	if (argi < argc) {
		*rc = cli_usage_error(cli, "unexpected argument '%s'", argv[argi]);
		return 1;
	}
	a->m = NR_LG_MODE_SHM;
	a->mode_given = a->mode != NULL;
	if (a->mode && nr_lg_mode_parse(a->mode, &a->m) < 0) {
		*rc = cli_usage_error(cli, "--mode is shm or kvmfr, not '%s'", a->mode);
		return 1;
	}
	if (a->resolution && nr_lg_parse_resolution(a->resolution, &w, &h) < 0) {
		*rc = cli_usage_error(cli, "'%s' is not a resolution (WIDTHxHEIGHT, 1080p, 1440p, 4k)",
				      a->resolution);
		return 1;
	}
	a->s.size_mib = nr_lg_shm_size_mib(w, h, a->hdr);
	if (a->size) {
		char *end;
		unsigned long v = strtoul(a->size, &end, 10);
		if (*end || end == a->size || v > 65536) {
			*rc = cli_usage_error(cli, "--size takes a number of MiB, not '%s'", a->size);
			return 1;
		}
		a->s.size_mib = (unsigned)v;
	}
	if (!a->user) {
		const char *sudo = getenv("SUDO_USER");
		if (sudo && *sudo) {
			a->user = sudo;
		} else if (getuid() != 0) {
			struct passwd *pw = getpwuid(getuid());
			if (pw) {
				snprintf(a->user_buf, sizeof(a->user_buf), "%s", pw->pw_name);
				a->user = a->user_buf;
			}
		}
	}
	a->s.mode = a->m;
	a->s.user = a->user;
	a->s.group = a->group;
	return 0;
}

static void show_plan(struct cli *cli, const struct nr_plan *plan, const struct setup_args *a)
{
	printf("Looking Glass set-up, %s mode, %u MiB, for user ", nr_lg_mode_name(a->m), a->s.size_mib);
	cli_put_clean(stdout, a->s.user);
	printf(", on ");
	cli_put_clean(stdout, nr_ctx_get(cli->ctx, "root"));
	printf(" (plan %s)\n", nr_plan_name(plan));
	cli_plan_print(stdout, plan);
}

static json_object *plan_json(const struct nr_plan *plan, const struct setup_args *a)
{
	json_object *o = json_object_new_object();
	char *now = nr_lg_setup_now(plan);

	json_object_object_add(o, "plan", json_object_new_string(nr_plan_name(plan)));
	json_object_object_add(o, "mode", json_object_new_string(nr_lg_mode_name(a->m)));
	json_object_object_add(o, "user", json_object_new_string(a->s.user));
	json_object_object_add(o, "size_mib", json_object_new_int((int)a->s.size_mib));
	cli_plan_json(o, plan);
	json_object_object_add(o, "now", now ? json_object_new_string(now) : NULL);
	free(now);
	return o;
}

static bool confirm(const char *question)
{
	char line[32];

	printf("%s [y/N] ", question);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

static int setup_plan(struct cli *cli, int argc, char **argv)
{
	struct setup_args a = { 0 };
	struct nr_error err = { 0 };
	struct nr_plan *plan;
	int rc;

	if (setup_parse(cli, argc, argv, &a, &rc))
		return rc;
	if (nr_lg_setup_plan(cli->ctx, &a.s, &plan, &err) < 0)
		return cli_fail(cli, &err);
	if (a.json) {
		json_object *o = plan_json(plan, &a);
		print_json(o);
		json_object_put(o);
	} else {
		char *now = nr_lg_setup_now(plan);
		show_plan(cli, plan, &a);
		if (nr_plan_is_noop(plan) && !now)
			printf("\nNothing to change: the set-up is in place.\n");
		else
			printf("\nNothing was written. Apply it with: neuronctl lg setup apply --mode %s\n",
			       nr_lg_mode_name(a.m));
		free(now);
	}
	nr_plan_free(plan);
	return EXIT_OK;
}

static int setup_apply(struct cli *cli, int argc, char **argv)
{
	struct setup_args a = { 0 };
	struct nr_error err = { 0 };
	struct nr_plan_opts opts = { .output = cli_plan_progress };
	struct nr_plan_result res = { 0 };
	struct nr_plan *plan;
	char *now;
	int rc;

	if (setup_parse(cli, argc, argv, &a, &rc))
		return rc;
	if (nr_lg_setup_plan(cli->ctx, &a.s, &plan, &err) < 0)
		return cli_fail(cli, &err);
	now = nr_lg_setup_now(plan);
	show_plan(cli, plan, &a);
	putchar('\n');
	if (!a.yes && !(nr_plan_is_noop(plan) && !now) && !confirm("Apply this plan?")) {
		printf("Nothing was written.\n");
		free(now);
		nr_plan_free(plan);
		return EXIT_FAIL;
	}
	free(now);
	rc = nr_lg_setup_apply(cli->ctx, plan, &opts, &res, &err);
	nr_plan_free(plan);
	if (rc < 0)
		return cli_fail(cli, &err);
	if (res.files_changed == 0)
		printf("Nothing changed: the set-up was already in place.\n");
	else
		printf("Applied: %u file%s changed, %u already in place. Undo with: neuronctl lg setup "
		       "revert --mode %s\n", res.files_changed, res.files_changed == 1 ? "" : "s",
		       res.files_unchanged, nr_lg_mode_name(a.m));
	return EXIT_OK;
}

static int setup_revert(struct cli *cli, int argc, char **argv)
{
	struct setup_args a = { 0 };
	struct nr_plan_opts opts = { .output = cli_plan_progress };
	int rc, reverted = 0, failed = 0;

	if (setup_parse(cli, argc, argv, &a, &rc))
		return rc;
	for (int m = NR_LG_MODE_SHM; m <= NR_LG_MODE_KVMFR; m++) {
		struct nr_plan_status st;
		struct nr_plan_result res = { 0 };
		struct nr_error err = { 0 };

		if (a.mode_given && (enum nr_lg_mode)m != a.m)
			continue;
		if (nr_plan_status_read(cli->ctx, nr_lg_setup_plan_name(m), &st, &err) < 0) {
			failed++;
			cli_fail(cli, &err);
			continue;
		}
		if (st.state == NR_PLAN_STATE_NONE) {
			nr_plan_status_done(&st);
			continue;
		}
		printf("Reverting the Looking Glass %s set-up (%s):\n", nr_lg_mode_name(m),
		       nr_plan_state_name(st.state));
		for (size_t i = 0; i < st.n_files; i++) {
			printf("  %s ", st.files[i].created ? "remove" : "restore");
			cli_put_clean(stdout, st.files[i].path);
			putchar('\n');
		}
		nr_plan_status_done(&st);
		if (!a.yes && !confirm("Revert?")) {
			printf("Nothing was changed.\n");
			return EXIT_FAIL;
		}
		if (nr_lg_setup_revert(cli->ctx, m, &opts, &res, &err) < 0) {
			failed++;
			cli_fail(cli, &err);
			continue;
		}
		reverted++;
		printf("Reverted: %u file%s restored or removed.\n", res.files_changed,
		       res.files_changed == 1 ? "" : "s");
	}
	if (failed)
		return EXIT_FAIL;
	if (!reverted) {
		fprintf(stderr, "%s: lg: nothing to revert: no Looking Glass set-up is recorded on %s\n",
			cli->prog, nr_ctx_get(cli->ctx, "root"));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int setup_status(struct cli *cli, int argc, char **argv)
{
	struct setup_args a = { 0 };
	json_object *root = NULL;
	int rc;

	if (setup_parse(cli, argc, argv, &a, &rc))
		return rc;
	if (a.json)
		root = json_object_new_object();
	for (int m = NR_LG_MODE_SHM; m <= NR_LG_MODE_KVMFR; m++) {
		struct nr_plan_status st;
		struct nr_error err = { 0 };

		if (a.mode_given && (enum nr_lg_mode)m != a.m)
			continue;
		if (nr_plan_status_read(cli->ctx, nr_lg_setup_plan_name(m), &st, &err) < 0) {
			json_object_put(root);
			return cli_fail(cli, &err);
		}
		if (root) {
			json_object *o = json_object_new_object(), *files = json_object_new_array();
			json_object_object_add(o, "state", json_object_new_string(nr_plan_state_name(st.state)));
			for (size_t i = 0; i < st.n_files; i++) {
				json_object *f = json_object_new_object();
				json_object_object_add(f, "path", json_object_new_string(st.files[i].path));
				json_object_object_add(f, "created", json_object_new_boolean(st.files[i].created));
				json_object_object_add(f, "modified", json_object_new_boolean(st.files[i].modified));
				json_object_array_add(files, f);
			}
			json_object_object_add(o, "files", files);
			json_object_object_add(root, nr_lg_mode_name(m), o);
		} else {
			printf("%-6s %s", nr_lg_mode_name(m), nr_plan_state_name(st.state));
			if (st.state == NR_PLAN_STATE_APPLYING)
				printf(": an apply was interrupted; run 'lg setup apply' to finish it or "
				       "'lg setup revert' to roll it back");
			else if (st.state == NR_PLAN_STATE_REVERTING)
				printf(": a revert was interrupted; run 'lg setup revert' to finish it");
			putchar('\n');
			for (size_t i = 0; i < st.n_files; i++) {
				printf("       ");
				cli_put_clean(stdout, st.files[i].path);
				printf("%s%s\n", st.files[i].created ? " (created)" : "",
				       st.files[i].modified ? " (changed since by someone else)" : "");
			}
		}
		nr_plan_status_done(&st);
	}
	if (root) {
		print_json(root);
		json_object_put(root);
	}
	return EXIT_OK;
}

static const struct lg_sub setup_subs[] = {
	{ "plan", setup_plan, "lg setup plan [OPTIONS]",
	  "show the set-up as diffs (tmpfiles.d rule, or modprobe.d, modules-load.d, udev, qemu.conf); "
	  "writes nothing" },
	{ "apply", setup_apply, "lg setup apply [OPTIONS] [--yes]",
	  "apply the set-up with backups and a journal (and create the shm file now)" },
	{ "revert", setup_revert, "lg setup revert [--mode shm|kvmfr] [--yes]",
	  "restore every file the set-up changed, byte for byte, and remove what it created" },
	{ "status", setup_status, "lg setup status [--mode shm|kvmfr] [--json]",
	  "which set-up is applied, or interrupted" },
};

static int run_table(struct cli *cli, int argc, char **argv, const struct lg_sub *table, size_t n);

static int lg_setup(struct cli *cli, int argc, char **argv)
{
	return run_table(cli, argc, argv, setup_subs, sizeof(setup_subs) / sizeof(setup_subs[0]));
}

/* ---- the table ------------------------------------------------------------------------- */

static const struct lg_sub subs[] = {
	{ "size", lg_size, "lg size WIDTHxHEIGHT [--hdr] [--json]",
	  "print the IVSHMEM size in MiB for a resolution (1080p 32, 1440p 64, 2160p 128; HDR doubles)" },
	{ "setup", lg_setup, "lg setup plan|apply|revert|status [OPTIONS]",
	  "set up the shared memory on the target root (shm file or kvmfr), as a plan" },
	{ "start", lg_start, "lg start [OPTIONS] VM [-- CLIENT-ARGS]",
	  "run looking-glass-client on the VM's shared memory, supervised (restarted after a crash)" },
	{ "stop", lg_stop, "lg stop VM",
	  "stop the supervised client of a VM (SIGTERM, then SIGKILL when it ignores it)" },
	{ "restart", lg_restart, "lg restart [OPTIONS] VM [-- CLIENT-ARGS]",
	  "stop the VM's client if one runs, then start it again" },
	{ "status", lg_status, "lg status [VM] [--shm PATH] [--json]",
	  "is the guest's host application running (read from the shared memory), and the client's state" },
};
#define NSUBS (sizeof(subs) / sizeof(subs[0]))

static int run_table(struct cli *cli, int argc, char **argv, const struct lg_sub *table, size_t n)
{
	const char *usage = cli->usage, *help = cli->help;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		FILE *f = argc < 2 ? stderr : stdout;
		fprintf(f, "usage: %s %s\n\n%s\n\nSubcommands:\n", cli->prog, usage, help);
		for (size_t i = 0; i < n; i++)
			fprintf(f, "  %-8s %s\n", table[i].name, table[i].help);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(argv[1], table[i].name) == 0) {
			int rc;
			cli->usage = table[i].usage;
			cli->help = table[i].help;
			rc = table[i].run(cli, argc - 1, argv + 1);
			cli->usage = usage;
			cli->help = help;
			return rc;
		}
	}
	return cli_usage_error(cli, "unknown subcommand '%s'", argv[1]);
}

int cmd_lg(struct cli *cli, int argc, char **argv)
{
	return run_table(cli, argc, argv, subs, NSUBS);
}
