/* neuronctl app: the guest's apps on the host (issue 17): list them, run one (with guest
 * files), put launchers for them in the host's menu (freedesktop desktop entries and
 * hicolor icons under XDG_DATA_HOME) and take them out again, and the guest's windows. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "neuron/agent.h"
#include "neuron/apps.h"
#include "neuron/certs.h"
#include "neuron/util.h"

struct app_opts {
	const char *socket, *certs, *timeout, *category, *wait;
	bool no_lg;
};

static int open_agent(struct cli *cli, const struct app_opts *o, const char *vm, struct nr_agent **a)
{
	return cli_agent_open(cli, o->socket, o->certs, o->timeout, vm, a);
}

/* ---- list */

static void put_list(const char *const *v, const char *sep)
{
	for (size_t i = 0; v && v[i]; i++) {
		if (i)
			fputs(sep, stdout);
		cli_put_clean(stdout, v[i]);
	}
}

static int sub_list(struct cli *cli, void *opts, int argc, char **argv)
{
	struct nr_error err = { 0 };
	struct nr_agent_apps apps;
	struct nr_agent *a;
	int rc;

	if ((rc = open_agent(cli, opts, argv[0], &a)) != EXIT_OK)
		return rc;
	rc = nr_agent_apps(a, &apps, &err);
	nr_agent_free(a);
	if (rc < 0)
		return cli_fail(cli, &err);
	if (cli->json) {
		json_object *j = json_object_new_object(), *arr = json_object_new_array();
		for (size_t i = 0; i < apps.n; i++) {
			const struct nr_agent_app *app = &apps.v[i];
			json_object *o = json_object_new_object(), *icons = json_object_new_array();
			size_t n;
			json_object_object_add(o, "id", json_object_new_string(app->id));
			json_object_object_add(o, "name", json_object_new_string(app->name));
			json_object_object_add(o, "program", json_object_new_string(app->program));
			for (n = 0; app->args[n]; n++) {}
			json_object_object_add(o, "args", cli_json_strv(app->args, n));
			for (n = 0; app->extensions[n]; n++) {}
			json_object_object_add(o, "extensions", cli_json_strv(app->extensions, n));
			for (n = 0; app->mimes[n]; n++) {}
			json_object_object_add(o, "mimes", cli_json_strv(app->mimes, n));
			if (app->icon48)
				json_object_array_add(icons, json_object_new_int(48));
			if (app->icon256)
				json_object_array_add(icons, json_object_new_int(256));
			json_object_object_add(o, "icons", icons);
			json_object_array_add(arr, o);
		}
		json_object_object_add(j, "apps", arr);
		json_object_object_add(j, "truncated", json_object_new_boolean(apps.truncated));
		cli_json_print(cli, j);
	} else {
		for (size_t i = 0; i < apps.n; i++) {
			const struct nr_agent_app *app = &apps.v[i];
			cli_put_clean(stdout, app->id);
			fputs("\t", stdout);
			cli_put_clean(stdout, app->name);
			fputs("\t", stdout);
			put_list((const char *const *)app->extensions, " ");
			if (app->extensions[0] && app->mimes[0])
				fputs(" ", stdout);
			put_list((const char *const *)app->mimes, " ");
			putchar('\n');
		}
		if (apps.truncated)
			cli_note(cli, "the guest has more apps than one reply holds (%zu shown)", apps.n);
	}
	nr_agent_apps_done(&apps);
	return EXIT_OK;
}

/* ---- run */

struct run_ctx {
	struct cli *cli;
	const struct app_opts *o;
	const char *vm;
	int timeout_ms;
};

static int run_open_agent(void *userdata, struct nr_agent **a, struct nr_error *err)
{
	struct run_ctx *c = userdata;
	char *path = NULL;
	int rc;

	/* as cli_agent_open, quietly: app run tries again while the VM boots */
	if (c->o->socket && !c->o->certs) {
		if ((rc = nr_certs_dir(c->cli->ctx, c->vm, &path, err)) < 0)
			return rc;
		rc = nr_agent_open_socket(c->o->socket, path, a, err);
	} else if (c->o->socket) {
		rc = nr_agent_open_socket(c->o->socket, c->o->certs, a, err);
	} else if (c->o->certs) {
		if ((rc = nr_agent_channel_path(c->cli->ctx, c->vm, &path, err)) == 0)
			rc = nr_agent_open_socket(path, c->o->certs, a, err);
	} else {
		rc = nr_agent_open(c->cli->ctx, c->vm, a, err);
	}
	free(path);
	if (rc == 0 && c->timeout_ms)
		nr_agent_set_timeout(*a, c->timeout_ms, c->timeout_ms);
	return rc;
}

/* Progress on stderr: stdout keeps the result; none under --json (a script's output stays
 * one JSON object even with stderr joined to it). */
static void run_progress(void *userdata, enum nr_app_step step, const char *what)
{
	struct run_ctx *c = userdata;

	if (step == NR_APP_STEP_LG || c->cli->json)
		return; /* said with the result */
	fputs("neuronctl: ", stderr);
	cli_put_clean(stderr, what);
	fputc('\n', stderr);
}

static int sub_run(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct app_opts *o = opts;
	struct run_ctx ctx = { .cli = cli, .o = o, .vm = argv[0] };
	struct nr_app_run_opts ro = {
		.vm = argv[0], .app = argv[1], .files = (const char *const *)argv + 2, .n_files = (size_t)(argc - 2),
		.no_lg = o->no_lg, .direct = o->socket != NULL, .open_agent = run_open_agent, .userdata = &ctx,
		.progress = run_progress,
	};
	struct nr_app_run_result res;
	struct nr_error err = { 0 };

	if (o->timeout) {
		char *end;
		long ms = strtol(o->timeout, &end, 10);
		if (*end || ms < 1 || ms > 3600000)
			return cli_usage_error(cli, "--timeout takes milliseconds, 1 to 3600000");
		ctx.timeout_ms = (int)ms;
	}
	if (o->wait) {
		char *end;
		long s = strtol(o->wait, &end, 10);
		if (*end || s < 1 || s > 3600)
			return cli_usage_error(cli, "--wait takes seconds, 1 to 3600");
		ro.wait_ms = (int)s * 1000;
	}
	if (nr_app_run(cli->ctx, &ro, &res, &err) < 0)
		return cli_fail(cli, &err);
	if (cli->json) {
		static const char *const lg_names[] = { "skipped", "no-device", "started", "running", "failed" };
		json_object *j = json_object_new_object(), *pids = json_object_new_array();
		for (size_t i = 0; i < res.n_pids; i++)
			json_object_array_add(pids, json_object_new_int64(res.pids[i]));
		json_object_object_add(j, "app", json_object_new_string(argv[1]));
		json_object_object_add(j, "pids", pids);
		json_object_object_add(j, "vm_started", json_object_new_boolean(res.vm_started));
		json_object_object_add(j, "looking_glass", json_object_new_string(lg_names[res.lg]));
		json_object_object_add(j, "looking_glass_note", json_object_new_string(res.lg_note));
		cli_json_print(cli, j);
		return EXIT_OK;
	}
	fputs("started ", stdout);
	cli_put_clean(stdout, res.app_name);
	for (size_t i = 0; i < res.n_pids; i++)
		printf("%s%lld", i ? ", " : " (pid ", res.pids[i]);
	puts(res.n_pids ? ")" : "");
	cli_put_clean(stdout, res.lg_note);
	putchar('\n');
	return EXIT_OK;
}

/* ---- shares */

static int sub_shares(struct cli *cli, void *opts, int argc, char **argv)
{
	struct nr_app_shares shares;
	struct nr_error err = { 0 };
	struct nr_agent *a;
	int rc;

	if ((rc = open_agent(cli, opts, argv[0], &a)) != EXIT_OK)
		return rc;
	rc = nr_app_shares_of(cli->ctx, argv[0], a, &shares, &err);
	nr_agent_free(a);
	if (rc < 0)
		return cli_fail(cli, &err);
	if (cli->json) {
		json_object *j = json_object_new_object(), *arr = json_object_new_array();
		for (size_t i = 0; i < shares.n; i++) {
			json_object *o = json_object_new_object();
			json_object_object_add(o, "name", json_object_new_string(shares.v[i].name));
			json_object_object_add(o, "host", json_object_new_string(shares.v[i].host_dir));
			json_object_object_add(o, "guest", shares.v[i].guest_path ?
					       json_object_new_string(shares.v[i].guest_path) : NULL);
			json_object_array_add(arr, o);
		}
		json_object_object_add(j, "shares", arr);
		cli_json_print(cli, j);
	} else {
		for (size_t i = 0; i < shares.n; i++) {
			cli_put_clean(stdout, shares.v[i].name);
			putchar('\t');
			cli_put_clean(stdout, shares.v[i].host_dir);
			putchar('\t');
			cli_put_clean(stdout, shares.v[i].guest_path ? shares.v[i].guest_path : "(not mounted in the guest)");
			putchar('\n');
		}
		if (!shares.n) {
			fputs("VM ", stdout);
			cli_put_clean(stdout, argv[0]);
			puts(" shares no folder (profile key shares)");
		}
	}
	nr_app_shares_done(&shares);
	return EXIT_OK;
}

/* ---- install, uninstall (the launchers themselves: core/guest/launchers.c) */

struct launch_out {
	struct cli *cli;
	json_object *done;
};

static void launcher_event(void *userdata, enum nr_app_event ev, const char *app_id, const char *text)
{
	struct launch_out *lo = userdata;

	if (ev == NR_APP_NOTE) {
		cli_note(lo->cli, "%s", text);
		return;
	}
	json_object_array_add(lo->done, json_object_new_string(ev == NR_APP_INSTALLED ? app_id : text));
	if (!lo->cli->json) {
		fputs(ev == NR_APP_INSTALLED ? "installed " : "removed ", stdout);
		cli_put_clean(stdout, text);
		putchar('\n');
	}
}

static int sub_install(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct app_opts *o = opts;
	struct launch_out lo = { .cli = cli, .done = json_object_new_array() };
	struct nr_error err = { 0 };
	struct nr_agent_apps apps = { 0 };
	struct nr_agent *a;
	char home[2048];
	int rc;

	if (!nr_app_data_home(home, sizeof(home))) {
		json_object_put(lo.done);
		nr_error_set(&err, -NR_E_NOTFOUND, "neither XDG_DATA_HOME nor HOME is set");
		return cli_fail(cli, &err);
	}
	if ((rc = open_agent(cli, opts, argv[0], &a)) != EXIT_OK) {
		json_object_put(lo.done);
		return rc;
	}
	if ((rc = nr_agent_apps(a, &apps, &err)) == 0)
		rc = nr_app_install(argv[0], a, &apps, (const char *const *)argv + 1, (size_t)(argc - 1), o->category,
				    launcher_event, &lo, &err);
	nr_agent_apps_done(&apps);
	nr_agent_free(a);
	if (rc < 0) {
		json_object_put(lo.done);
		return cli_fail(cli, &err);
	}
	if (cli->json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "installed", lo.done);
		cli_json_print(cli, j);
	} else {
		json_object_put(lo.done);
	}
	return EXIT_OK;
}

static int sub_uninstall(struct cli *cli, void *opts, int argc, char **argv)
{
	struct launch_out lo = { .cli = cli, .done = json_object_new_array() };
	struct nr_error err = { 0 };

	if (nr_app_uninstall(argv[0], (const char *const *)argv + 1, (size_t)(argc - 1), launcher_event, &lo, &err) < 0) {
		json_object_put(lo.done);
		return cli_fail(cli, &err);
	}
	if (cli->json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "removed", lo.done);
		cli_json_print(cli, j);
	} else {
		json_object_put(lo.done);
	}
	return EXIT_OK;
}

/* ---- windows */

static int sub_windows(struct cli *cli, void *opts, int argc, char **argv)
{
	struct nr_error err = { 0 };
	struct nr_agent_windows wins;
	struct nr_agent *a;
	int rc;

	if ((rc = open_agent(cli, opts, argv[0], &a)) != EXIT_OK)
		return rc;
	rc = nr_agent_windows(a, &wins, &err);
	nr_agent_free(a);
	if (rc < 0)
		return cli_fail(cli, &err);
	if (cli->json) {
		json_object *j = json_object_new_object(), *arr = json_object_new_array();
		for (size_t i = 0; i < wins.n; i++) {
			json_object *o = json_object_new_object();
			json_object_object_add(o, "id", json_object_new_string(wins.v[i].id));
			json_object_object_add(o, "title", json_object_new_string(wins.v[i].title));
			json_object_object_add(o, "app", json_object_new_string(wins.v[i].app));
			json_object_object_add(o, "pid", json_object_new_int64(wins.v[i].pid));
			json_object_array_add(arr, o);
		}
		json_object_object_add(j, "windows", arr);
		cli_json_print(cli, j);
	} else {
		for (size_t i = 0; i < wins.n; i++) {
			cli_put_clean(stdout, wins.v[i].id);
			printf("\t%lld\t", wins.v[i].pid);
			cli_put_clean(stdout, wins.v[i].app);
			putchar('\t');
			cli_put_clean(stdout, wins.v[i].title);
			putchar('\n');
		}
	}
	nr_agent_windows_done(&wins);
	return EXIT_OK;
}

static int window_cmd(struct cli *cli, void *opts, char **argv, bool closing)
{
	struct nr_error err = { 0 };
	struct nr_agent *a;
	int rc;

	if ((rc = open_agent(cli, opts, argv[0], &a)) != EXIT_OK)
		return rc;
	rc = closing ? nr_agent_window_close(a, argv[1], &err) : nr_agent_window_focus(a, argv[1], &err);
	nr_agent_free(a);
	if (rc < 0)
		return cli_fail(cli, &err);
	if (cli->json)
		cli_json_print(cli, json_object_new_object());
	return EXIT_OK;
}

static int sub_focus(struct cli *cli, void *opts, int argc, char **argv)
{
	return window_cmd(cli, opts, argv, false);
}

static int sub_close(struct cli *cli, void *opts, int argc, char **argv)
{
	return window_cmd(cli, opts, argv, true);
}

/* ---- the table ------------------------------------------------------------------------- */

#define APP_AGENT_OPTS \
	CLI_VALUE("socket", "PATH", struct app_opts, socket, \
		  "talk to this unix socket or pty instead of the VM's channel from libvirt"), \
	CLI_VALUE("certs", "DIR", struct app_opts, certs, \
		  "host credentials (default STATE/agent/VM from neuronctl agent certs)"), \
	CLI_VALUE("timeout", "MS", struct app_opts, timeout, "per-request timeout (default 5000)")

static const struct cli_opt app_options[] = { APP_AGENT_OPTS, CLI_JSON("print the result as JSON"), CLI_OPT_END };

#define APP_SUB(sub, fn, usage_, help_, options, min, max, missing_) \
	static const struct cli_cmd app_##sub##_cmd = { \
		.name = #sub, .usage = usage_, .help = help_, .run = fn, .opts = options, \
		.opts_size = sizeof(struct app_opts), .min_args = min, .max_args = max, .missing = missing_, \
	}

APP_SUB(list, sub_list, "app list [OPTIONS] VM", "the guest's installed apps: id, name, file types",
	app_options, 1, 1, "which VM?");
APP_SUB(run, sub_run, "app run [OPTIONS] [--wait S] [--no-lg] VM APP [FILE...]",
	"start APP in the guest (the VM too when it is off), or open files with it", 
	((const struct cli_opt[]){
		APP_AGENT_OPTS,
		CLI_VALUE("wait", "S", struct app_opts, wait,
			  "after starting the VM, how long its agent may take to answer (default 180)"),
		CLI_BOOL("no-lg", struct app_opts, no_lg, "do not start the VM's Looking Glass client"),
		CLI_JSON("print the result as JSON"),
		CLI_OPT_END,
	}), 2, -1, "which VM, and which app?");
APP_SUB(install, sub_install, "app install [OPTIONS] [--category NAME] VM [APP...]",
	"put launchers for the guest's apps (all, or those named) in the host's menu",
	((const struct cli_opt[]){
		APP_AGENT_OPTS,
		CLI_VALUE("category", "NAME", struct app_opts, category,
			  "the menu category of the launchers (default Utility)"),
		CLI_JSON("print what was installed as JSON"),
		CLI_OPT_END,
	}), 1, -1, "which VM?");
APP_SUB(uninstall, sub_uninstall, "app uninstall [--json] VM [APP...]",
	"remove the launchers app install wrote for VM (all, or those of the apps named)",
	((const struct cli_opt[]){ CLI_JSON("print what was removed as JSON"), CLI_OPT_END }), 1, -1,
	"which VM?");
APP_SUB(shares, sub_shares, "app shares [OPTIONS] VM",
	"the folders VM shares with the host: name, host folder, where the guest has it", app_options, 1, 1,
	"which VM?");
APP_SUB(windows, sub_windows, "app windows [OPTIONS] VM", "the guest's top-level windows: id, pid, app, title",
	app_options, 1, 1, "which VM?");
APP_SUB(focus, sub_focus, "app focus [OPTIONS] VM WINDOW", "bring a guest window (an id from app windows) to the front",
	app_options, 2, 2, "which VM, and which window?");
APP_SUB(close, sub_close, "app close [OPTIONS] VM WINDOW", "ask a guest window (an id from app windows) to close",
	app_options, 2, 2, "which VM, and which window?");

const struct cli_cmd cli_cmd_app = {
	.name = "app",
	.usage = "app list|run|install|uninstall|shares|windows|focus|close ... VM",
	.help = "the guest's apps on the host: list, run, menu launchers, windows",
	.subs = (const struct cli_cmd *const[]){
		&app_list_cmd, &app_run_cmd, &app_install_cmd, &app_uninstall_cmd, &app_shares_cmd, &app_windows_cmd,
		&app_focus_cmd, &app_close_cmd, NULL,
	},
	.more = "app run starts the VM when it is off and waits for its guest agent; the other\n"
		"commands need the VM running with its agent reachable (neuronctl agent ping VM).\n"
		"app run opens host files under a folder the VM shares (profile key shares), as the\n"
		"guest sees them there; a file outside every share is refused, never copied. Files\n"
		"in the guest are named guest:PATH (or C:\\PATH). With a Looking Glass device, app\n"
		"run then starts the VM's Looking Glass client when none runs. app install writes\n"
		"under XDG_DATA_HOME (~/.local/share): applications/neuron-VM-APP.desktop, the icons\n"
		"in icons/hicolor/48x48 and 256x256, and neuron/apps-VM.list, the list app uninstall\n"
		"removes again.\n",
};
