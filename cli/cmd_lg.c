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

struct size_opts {
	bool hdr;
	const char *stack;
};

/* --stack b7|idd|auto: auto (or none given) is the installed client's stack. */
static int stack_option(struct cli *cli, const char *given, enum nr_lg_stack *stack, bool *followed)
{
	*followed = false;
	if (given && nr_lg_stack_parse(given, stack) < 0)
		return cli_usage_error(cli, "--stack is b7, idd or auto, not '%s'", given);
	if (!given || *stack == NR_LG_STACK_AUTO) {
		*stack = nr_lg_stack_default(cli->ctx);
		*followed = true;
	}
	return -1;
}

static int lg_size(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct size_opts *so = opts;
	enum nr_lg_stack stack;
	bool followed;
	unsigned w, h, mib;
	int rc;

	if (nr_lg_parse_resolution(argv[0], &w, &h) < 0)
		return cli_usage_error(cli, "'%s' is not a resolution (WIDTHxHEIGHT, 720p, 1080p, 1440p, 2160p, "
				       "4k, 5k)", argv[0]);
	rc = stack_option(cli, so->stack, &stack, &followed);
	if (rc >= 0)
		return rc;
	mib = nr_lg_shm_size_mib(stack, w, h, so->hdr);
	if (cli->json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "width", json_object_new_int((int)w));
		json_object_object_add(o, "height", json_object_new_int((int)h));
		json_object_object_add(o, "hdr", json_object_new_boolean(so->hdr));
		json_object_object_add(o, "stack", json_object_new_string(nr_lg_stack_name(stack)));
		json_object_object_add(o, "stack_from_client", json_object_new_boolean(followed));
		json_object_object_add(o, "size_mib", json_object_new_int((int)mib));
		cli_json_print(cli, o);
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

struct start_opts {
	bool fullscreen, no_spice, spice, foreground;
	const char *escape, *client;
};

/* argv: the VM, then arguments for the client */
static int do_start(struct cli *cli, const struct start_opts *so, int argc, char **argv, bool restart)
{
	struct nr_lg_client_opts opts = { 0 };
	struct nr_error err = { 0 };
	char *shm = NULL, *binary = NULL;
	const char *vm = argv[0], *client = so->client;
	long pid;
	int rc;

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
	if (so->fullscreen)
		opts.fullscreen = true;
	if (so->escape)
		opts.escape_key = so->escape;
	if (so->no_spice)
		opts.no_spice = true;
	if (so->spice)
		opts.no_spice = false;
	opts.extra = (const char *const *)(argv + 1);

	if (restart) {
		rc = nr_lg_client_stop(cli->ctx, vm, &err);
		if (rc < 0 && rc != -NR_E_NOTFOUND)
			goto fail;
		nr_error_clear(&err);
	}
	if (so->foreground) {
		printf("supervising %s for VM ", binary);
		cli_put_clean(stdout, vm);
		printf(" in the foreground (Ctrl-C stops it)\n");
		fflush(stdout);
		rc = nr_lg_supervise(cli->ctx, &opts, &err);
	} else {
		rc = nr_lg_client_start(cli->ctx, &opts, &pid, &err);
		if (rc == 0) {
			char *dir = nr_ctx_runtime_dir(cli->ctx);
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

static int lg_start(struct cli *cli, void *opts, int argc, char **argv)
{
	return do_start(cli, opts, argc, argv, false);
}

static int lg_restart(struct cli *cli, void *opts, int argc, char **argv)
{
	return do_start(cli, opts, argc, argv, true);
}

static int lg_stop(struct cli *cli, void *opts, int argc, char **argv)
{
	struct nr_error err = { 0 };

	if (nr_lg_client_stop(cli->ctx, argv[0], &err) < 0)
		return cli_fail(cli, &err);
	printf("stopped the Looking Glass client of VM ");
	cli_put_clean(stdout, argv[0]);
	putchar('\n');
	return EXIT_OK;
}

/* ---- lg status ------------------------------------------------------------------------------ */

static void layout_text(const struct nr_lg_snapshot *s, char *buf, size_t size)
{
	switch (s->kind) {
	case NR_LG_SHM_HEADER:
		snprintf(buf, size, "%s (LGMP protocol %u, magic at offset %llu, %u queues)", s->layout,
			 s->version, (unsigned long long)s->header_offset, s->num_queues);
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
	char client_version[NR_LG_HOSTVER_MAX]; /* "" when unknown */
	char client_why[256];                   /* why it is unknown */
};

/* The installed client's version beside the host's: a mismatch is a warning saying what
 * to install (malloc'd), NULL when they match or one is unknown. */
static char *version_warning(const struct nr_lg_snapshot *s, const struct session_note *sn)
{
	return s->kvmfr ? nr_lg_version_mismatch(sn->client_version, s->host_version) : NULL;
}

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
		json_object_object_add(o, "queues", json_object_new_int64(s->num_queues));
		json_object_object_add(o, "udata_offset", json_object_new_int64((int64_t)s->udata_offset));
		json_object_object_add(o, "udata_size", json_object_new_int64(s->udata_size));
	} else {
		json_object_object_add(o, "session_id", NULL);
		json_object_object_add(o, "timestamp_ms", NULL);
		json_object_object_add(o, "queues", NULL);
		json_object_object_add(o, "udata_offset", NULL);
		json_object_object_add(o, "udata_size", NULL);
	}
	if (s->kvmfr) {
		static const struct {
			const char *key;
			uint32_t bit;
		} feats[] = {
			{ "clipboard", NR_LG_FEATURE_CLIPBOARD }, { "window_size", NR_LG_FEATURE_WINDOWSIZE },
			{ "input", NR_LG_FEATURE_INPUT }, { "frame_schedule", NR_LG_FEATURE_FRAME_SCHEDULE },
			{ "cursor_position", NR_LG_FEATURE_SETCURSORPOS },
		};
		json_object *k = json_object_new_object(), *f = json_object_new_object();
		json_object_object_add(k, "version", json_object_new_int64(s->kvmfr_version));
		json_object_object_add(k, "host_version", json_object_new_string(s->host_version));
		json_object_object_add(k, "feature_flags", json_object_new_int64(s->features));
		for (size_t i = 0; i < sizeof(feats) / sizeof(feats[0]); i++)
			json_object_object_add(f, feats[i].key, json_object_new_boolean(s->features & feats[i].bit));
		json_object_object_add(k, "features", f);
		json_object_object_add(o, "kvmfr", k);
		json_object_object_add(o, "kvmfr_detail", NULL);
	} else {
		json_object_object_add(o, "kvmfr", NULL);
		json_object_object_add(o, "kvmfr_detail", s->kvmfr_detail ?
				       json_object_new_string(s->kvmfr_detail) : NULL);
	}
	json_object_object_add(o, "host", json_object_new_string(nr_lg_host_state_name(st->host)));
	json_object_object_add(o, "session_changed", json_object_new_boolean(st->session_changed));
	json_object_object_add(o, "previous_session_id", sn->had_previous && s->kind == NR_LG_SHM_HEADER ?
			       json_object_new_int64(sn->previous) : NULL);
	json_object_object_add(o, "restarted_since_last_status", json_object_new_boolean(
			       sn->had_previous && s->kind == NR_LG_SHM_HEADER && sn->previous != s->session_id));
	json_object_object_add(o, "watched_ms", json_object_new_int((int)st->watched_ms));
	json_object_object_add(o, "client_version", sn->client_version[0] ?
			       json_object_new_string(sn->client_version) : NULL);
	{
		char *warn = version_warning(s, sn);
		json_object_object_add(o, "version_mismatch", warn ? json_object_new_string(warn) : NULL);
		free(warn);
	}
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
		printf("user data      %u bytes at offset %llu\n", s->udata_size,
		       (unsigned long long)s->udata_offset);
		if (s->kvmfr) {
			char feats[128];

			nr_lg_features_text(s->features, feats, sizeof(feats));
			printf("KVMFR          version %u, host %s\n", s->kvmfr_version,
			       s->host_version[0] ? s->host_version : "(no version string)");
			printf("features       %s\n", feats);
		} else {
			printf("KVMFR          not found: %s\n", s->kvmfr_detail ? s->kvmfr_detail : "");
		}
	}
	printf("host app       %s: %s\n", nr_lg_host_state_name(st->host), sentence ? sentence : "");
	free(sentence);
	printf("versions       client ");
	if (sn->client_version[0])
		cli_put_clean(stdout, sn->client_version);
	else
		printf("unknown (%s)", sn->client_why);
	if (s->kvmfr && s->host_version[0]) {
		char *warn = version_warning(s, sn);

		printf(", host %s: %s\n", s->host_version, warn ? "MISMATCH" : sn->client_version[0] ?
		       "the same" : "cannot compare");
		if (warn) {
			printf("warning        ");
			cli_put_clean(stdout, warn);
			putchar('\n');
		}
		free(warn);
	} else {
		putchar('\n');
	}
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

struct status_opts {
	const char *shm;
};

static int lg_status(struct cli *cli, void *opts, int argc, char **argv)
{
	const char *shm_flag = ((const struct status_opts *)opts)->shm;
	struct nr_error err = { 0 };
	struct nr_lg_sup_info info = { 0 };
	struct nr_lg_status st;
	struct session_note sn = { 0 };
	const char *vm = argc ? argv[0] : NULL;
	char *shm = NULL;
	bool have_info = false, probed = false;
	int rc, probe_rc = 0;
	json_object *root = NULL;

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
		if (probed) {
			struct nr_error verr = { 0 };

			if (nr_lg_client_version(cli->ctx, sn.client_version, sizeof(sn.client_version), &verr) < 0)
				snprintf(sn.client_why, sizeof(sn.client_why), "%.200s", verr.msg);
		}
	}

	if (cli->json) {
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
			cli_json_add_error(e, &err);
			json_object_object_add(root, "shm", e);
		}
		cli_json_print(cli, root);
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

struct setup_args {
	bool hdr, yes;
	const char *mode, *user, *group, *size, *resolution, *stack;
	enum nr_lg_mode m;
	bool mode_given;
	struct nr_lg_setup s;
	char user_buf[64];
};

/* What the options say: the mode, the size, the user. Returns -1 to go on, else an exit status. */
static int setup_prepare(struct cli *cli, struct setup_args *a)
{
	unsigned w = 1920, h = 1080;

	a->m = NR_LG_MODE_SHM;
	a->mode_given = a->mode != NULL;
	if (a->mode && nr_lg_mode_parse(a->mode, &a->m) < 0)
		return cli_usage_error(cli, "--mode is shm or kvmfr, not '%s'", a->mode);
	if (a->resolution && nr_lg_parse_resolution(a->resolution, &w, &h) < 0)
		return cli_usage_error(cli, "'%s' is not a resolution (WIDTHxHEIGHT, 1080p, 1440p, 4k)",
				      a->resolution);
	if (!a->size) {
		enum nr_lg_stack stack;
		bool followed;
		int rc = stack_option(cli, a->stack, &stack, &followed);

		if (rc >= 0)
			return rc;
		a->s.size_mib = nr_lg_shm_size_mib(stack, w, h, a->hdr);
	} else {
		char *end;
		unsigned long v = strtoul(a->size, &end, 10);
		if (*end || end == a->size || v > 65536)
			return cli_usage_error(cli, "--size takes a number of MiB, not '%s'", a->size);
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
	return -1;
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

static int setup_plan(struct cli *cli, void *opts, int argc, char **argv)
{
	struct setup_args *a = opts;
	struct nr_error err = { 0 };
	struct nr_plan *plan;
	int rc;

	if ((rc = setup_prepare(cli, a)) >= 0)
		return rc;
	if (nr_lg_setup_plan(cli->ctx, &a->s, &plan, &err) < 0)
		return cli_fail(cli, &err);
	if (cli->json) {
		cli_json_print(cli, plan_json(plan, a));
	} else {
		char *now = nr_lg_setup_now(plan);
		show_plan(cli, plan, a);
		if (nr_plan_is_noop(plan) && !now)
			printf("\nNothing to change: the set-up is in place.\n");
		else
			printf("\nNothing was written. Apply it with: neuronctl lg setup apply --mode %s\n",
			       nr_lg_mode_name(a->m));
		free(now);
	}
	nr_plan_free(plan);
	return EXIT_OK;
}

static int setup_apply(struct cli *cli, void *opts, int argc, char **argv)
{
	struct setup_args *a = opts;
	struct nr_error err = { 0 };
	struct nr_plan_opts popts = { .output = cli_plan_progress, .userdata = cli_progress_file(cli) };
	struct nr_plan_result res = { 0 };
	struct nr_plan *plan;
	char *now;
	int rc;

	if ((rc = setup_prepare(cli, a)) >= 0)
		return rc;
	if (nr_lg_setup_plan(cli->ctx, &a->s, &plan, &err) < 0)
		return cli_fail(cli, &err);
	now = nr_lg_setup_now(plan);
	show_plan(cli, plan, a);
	putchar('\n');
	if (!cli_confirm(cli, a->yes || (nr_plan_is_noop(plan) && !now), "Apply this plan?", "nothing was written")) {
		free(now);
		nr_plan_free(plan);
		return EXIT_FAIL;
	}
	free(now);
	rc = nr_lg_setup_apply(cli->ctx, plan, &popts, &res, &err);
	nr_plan_free(plan);
	if (rc < 0)
		return cli_fail(cli, &err);
	if (res.files_changed == 0)
		printf("Nothing changed: the set-up was already in place.\n");
	else
		printf("Applied: %u file%s changed, %u already in place. Undo with: neuronctl lg setup "
		       "revert --mode %s\n", res.files_changed, res.files_changed == 1 ? "" : "s",
		       res.files_unchanged, nr_lg_mode_name(a->m));
	return EXIT_OK;
}

static int setup_revert(struct cli *cli, void *opts, int argc, char **argv)
{
	struct setup_args *a = opts;
	struct nr_plan_opts popts = { .output = cli_plan_progress, .userdata = cli_progress_file(cli) };
	int rc, reverted = 0, failed = 0;

	if ((rc = setup_prepare(cli, a)) >= 0)
		return rc;
	for (int m = NR_LG_MODE_SHM; m <= NR_LG_MODE_KVMFR; m++) {
		struct nr_plan_status st;
		struct nr_plan_result res = { 0 };
		struct nr_error err = { 0 };

		if (a->mode_given && (enum nr_lg_mode)m != a->m)
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
		if (!cli_confirm(cli, a->yes, "Revert?", "nothing was changed"))
			return EXIT_FAIL;
		if (nr_lg_setup_revert(cli->ctx, m, &popts, &res, &err) < 0) {
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
		struct nr_error err = { 0 };
		nr_error_set(&err, -NR_E_NOTFOUND, "nothing to revert: no Looking Glass set-up is recorded on %s",
			     nr_ctx_get(cli->ctx, "root"));
		return cli_fail(cli, &err);
	}
	return EXIT_OK;
}

/* The kvmfr set-up as the device and the target root show it, each finding with its fix;
 * want_mib 0: the size is not compared. */
static void kvmfr_findings(struct cli *cli, json_object *root, unsigned want_mib)
{
	struct nr_lg_finding f[NR_LG_KVMFR_CHECKS];
	size_t n = nr_lg_kvmfr_check(cli->ctx, "/dev/kvmfr0", want_mib, f);
	json_object *arr = root ? json_object_new_array() : NULL;

	for (size_t i = 0; i < n; i++) {
		if (arr) {
			json_object *o = json_object_new_object();
			json_object_object_add(o, "id", json_object_new_string(f[i].name));
			json_object_object_add(o, "status", json_object_new_string(nr_lg_finding_status_name(f[i].status)));
			json_object_object_add(o, "detail", json_object_new_string(f[i].detail));
			json_object_object_add(o, "fix", json_object_new_string(f[i].fix));
			json_object_array_add(arr, o);
			continue;
		}
		printf("  %s  %-36s ", nr_lg_finding_status_name(f[i].status), f[i].title);
		cli_put_clean(stdout, f[i].detail);
		putchar('\n');
		if (f[i].fix[0] && f[i].status != NR_LG_FINDING_PASS) {
			printf("        -> ");
			cli_put_clean(stdout, f[i].fix);
			putchar('\n');
		}
	}
	if (arr) {
		json_object *k = NULL;

		if (json_object_object_get_ex(root, "kvmfr", &k))
			json_object_object_add(k, "checks", arr);
		else
			json_object_put(arr);
	}
}

static int setup_status(struct cli *cli, void *opts, int argc, char **argv)
{
	struct setup_args *a = opts;
	json_object *root = NULL;
	int rc;

	if ((rc = setup_prepare(cli, a)) >= 0)
		return rc;
	if (cli->json)
		root = json_object_new_object();
	for (int m = NR_LG_MODE_SHM; m <= NR_LG_MODE_KVMFR; m++) {
		struct nr_plan_status st;
		struct nr_error err = { 0 };

		if (a->mode_given && (enum nr_lg_mode)m != a->m)
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
		if ((enum nr_lg_mode)m == NR_LG_MODE_KVMFR && (a->mode_given || nr_lg_kvmfr_in_use(cli->ctx)))
			kvmfr_findings(cli, root, a->size || a->resolution ? a->s.size_mib : 0);
	}
	if (root)
		cli_json_print(cli, root);
	return EXIT_OK;
}

/* ---- the table ------------------------------------------------------------------------- */

/* The four set-up subcommands take the same options (a mode, a user ... each uses what it needs). */
static const struct cli_opt setup_options[] = {
	CLI_VALUE("mode", "shm|kvmfr", struct setup_args, mode,
		  "/dev/shm/looking-glass (default) or the kvmfr module's /dev/kvmfr0"),
	CLI_VALUE("user", "NAME", struct setup_args, user, "who runs the client (default: $SUDO_USER, else you)"),
	CLI_VALUE("group", "NAME", struct setup_args, group, "the group of the file or device (default: kvm)"),
	CLI_VALUE("size", "MIB", struct setup_args, size, "IVSHMEM size, a power of two (default: from --resolution)"),
	CLI_VALUE("resolution", "WxH", struct setup_args, resolution,
		  "size for this resolution (default 1920x1080), with --hdr for HDR"),
	CLI_BOOL("hdr", struct setup_args, hdr, "HDR frames (B7: twice the size)"),
	CLI_VALUE("stack", "b7|idd|auto", struct setup_args, stack,
		  "size for the B7 host app or the IDD (default: the installed client's)"),
	CLI_BOOL("yes", struct setup_args, yes, "apply or revert without asking"),
	CLI_JSON("(plan, status) print JSON"),
	CLI_OPT_END,
};

#define SETUP_SUB(sub, fn, usage_, help_) \
	static const struct cli_cmd setup_##sub##_cmd = { \
		.name = #sub, .usage = usage_, .help = help_, .run = fn, \
		.opts = setup_options, .opts_size = sizeof(struct setup_args), \
	}
SETUP_SUB(plan, setup_plan, "lg setup plan [OPTIONS]",
	  "show the set-up as diffs (tmpfiles.d rule, or modprobe.d, modules-load.d, udev, qemu.conf); "
	  "writes nothing");
SETUP_SUB(apply, setup_apply, "lg setup apply [OPTIONS] [--yes]",
	  "apply the set-up with backups and a journal (and create the shm file now)");
SETUP_SUB(revert, setup_revert, "lg setup revert [--mode shm|kvmfr] [--yes] [OPTIONS]",
	  "restore every file the set-up changed, byte for byte, and remove what it created");
SETUP_SUB(status, setup_status, "lg setup status [--mode shm|kvmfr] [--json] [OPTIONS]",
	  "which set-up is applied, or interrupted");

static const struct cli_cmd lg_setup_cmd = {
	.name = "setup",
	.usage = "lg setup plan|apply|revert|status [OPTIONS]",
	.help = "set up the shared memory on the target root (shm file or kvmfr), as a plan",
	.subs = (const struct cli_cmd *const[]){
		&setup_plan_cmd, &setup_apply_cmd, &setup_revert_cmd, &setup_status_cmd, NULL,
	},
};

static const struct cli_opt start_options[] = {
	CLI_BOOL("fullscreen", struct start_opts, fullscreen, "start full screen (config: lg.fullscreen)"),
	CLI_VALUE("escape", "KEY", struct start_opts, escape,
		  "the client's escape key, e.g. KEY_RIGHTCTRL (config: lg.escape)"),
	CLI_BOOL("no-spice", struct start_opts, no_spice, "no SPICE channel (config: lg.spice=no)"),
	CLI_BOOL("spice", struct start_opts, spice, "use SPICE even when the config says no"),
	CLI_VALUE("client", "PATH", struct start_opts, client,
		  "the looking-glass-client binary (config: lg.client; default: PATH)"),
	CLI_BOOL("foreground", struct start_opts, foreground, "supervise in this process instead of in the background"),
	CLI_OPT_END,
};

#define START_MORE "Arguments after '--' go to the client.\n"

static const struct cli_cmd lg_size_cmd = {
	.name = "size",
	.usage = "lg size WIDTHxHEIGHT [--hdr] [--stack b7|idd|auto] [--json]",
	.help = "print the IVSHMEM size in MiB for a resolution (1080p 32, 1440p 64, 2160p 128)",
	.run = lg_size,
	.opts = (const struct cli_opt[]){
		CLI_BOOL("hdr", struct size_opts, hdr, "10-bit HDR frames (B7: twice the size; IDD: the same)"),
		CLI_VALUE("stack", "b7|idd|auto", struct size_opts, stack,
			  "the guest side: the B7 host app or the IDD after it (default: the installed client's)"),
		CLI_JSON("print {width, height, hdr, stack, stack_from_client, size_mib}"),
		CLI_OPT_END,
	},
	.opts_size = sizeof(struct size_opts),
	.min_args = 1, .max_args = 1, .missing = "a resolution is needed",
};

static const struct cli_cmd lg_start_cmd = {
	.name = "start",
	.usage = "lg start [OPTIONS] VM [-- CLIENT-ARGS]",
	.help = "run looking-glass-client on the VM's shared memory, supervised (restarted after a crash)",
	.run = lg_start,
	.opts = start_options,
	.opts_size = sizeof(struct start_opts),
	.min_args = 1, .max_args = -1, .missing = "which VM?",
	.more = START_MORE,
};

static const struct cli_cmd lg_stop_cmd = {
	.name = "stop",
	.usage = "lg stop VM",
	.help = "stop the supervised client of a VM (SIGTERM, then SIGKILL when it ignores it)",
	.run = lg_stop,
	.min_args = 1, .max_args = 1, .missing = "which VM?",
};

static const struct cli_cmd lg_restart_cmd = {
	.name = "restart",
	.usage = "lg restart [OPTIONS] VM [-- CLIENT-ARGS]",
	.help = "stop the VM's client if one runs, then start it again",
	.run = lg_restart,
	.opts = start_options,
	.opts_size = sizeof(struct start_opts),
	.min_args = 1, .max_args = -1, .missing = "which VM?",
	.more = START_MORE,
};

static const struct cli_cmd lg_status_cmd = {
	.name = "status",
	.usage = "lg status [VM] [--shm PATH] [--json]",
	.help = "is the guest's host application running (read from the shared memory), and the client's state",
	.run = lg_status,
	.opts = (const struct cli_opt[]){
		CLI_VALUE("shm", "PATH", struct status_opts, shm,
			  "read this shared memory file or device (default: the VM's,\n"
			  "or lg.shm under the sysroot: /dev/shm/looking-glass)"),
		CLI_JSON("print one JSON object"),
		CLI_OPT_END,
	},
	.opts_size = sizeof(struct status_opts),
	.max_args = 1,
	.more = "Exit status: 0 when the guest's host application is alive, else 1.\n",
};

const struct cli_cmd cli_cmd_lg = {
	.name = "lg",
	.usage = "lg size|setup|start|stop|restart|status ...",
	.help = "Looking Glass: shared memory set-up, the client, host app status",
	.subs = (const struct cli_cmd *const[]){
		&lg_size_cmd, &lg_setup_cmd, &lg_start_cmd, &lg_stop_cmd, &lg_restart_cmd, &lg_status_cmd, NULL,
	},
};
