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

static const struct nr_agent_app *find_app(const struct nr_agent_apps *apps, const char *id)
{
	for (size_t i = 0; i < apps->n; i++)
		if (strcmp(apps->v[i].id, id) == 0)
			return &apps->v[i];
	return NULL;
}

static int no_app(struct cli *cli, const char *vm, const char *id)
{
	struct nr_error err = { 0 };
	char clean[256];

	nr_text_sanitize(clean, sizeof(clean), id, false);
	nr_error_set(&err, -NR_E_NOTFOUND, "%s has no app %s (neuronctl app list %s)", vm, clean, vm);
	return cli_fail(cli, &err);
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

/* Progress on stderr: stdout keeps the result (and JSON). */
static void run_progress(void *userdata, enum nr_app_step step, const char *what)
{
	if (step == NR_APP_STEP_LG)
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
		.no_lg = o->no_lg, .open_agent = run_open_agent, .userdata = &ctx, .progress = run_progress,
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

/* ---- install, uninstall
 *
 * What install writes, under XDG_DATA_HOME (~/.local/share):
 *   applications/neuron-VM-APP.desktop
 *   icons/hicolor/48x48/apps/neuron-VM-APP.png, icons/hicolor/256x256/apps/neuron-VM-APP.png
 *   neuron/apps-VM.list: what it wrote and which directories it made (uninstall's list)
 * VM and APP in those names keep [A-Za-z0-9_.-] and turn every other byte into "_". */

#define MANIFEST_MAX (4u << 20)

static const char *data_home(char *out, size_t size)
{
	const char *x = getenv("XDG_DATA_HOME"), *home = getenv("HOME");

	if (x && x[0] == '/')
		snprintf(out, size, "%s", x);
	else if (home && home[0] == '/')
		snprintf(out, size, "%s/.local/share", home);
	else
		return NULL;
	return out;
}

static void file_name_part(char *out, size_t size, const char *s)
{
	size_t n = 0;

	for (; *s && n + 1 < size; s++, n++) {
		char c = *s;
		bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
			    c == '-' || (c == '.' && n > 0);
		out[n] = keep ? c : '_';
	}
	out[n] = '\0';
}

struct manifest {
	char path[4200];
	char **lines; /* "f APP\tPATH" (a file of APP), "d \tPATH" (a directory made) */
	size_t n;
};

static int manifest_add(struct manifest *m, char kind, const char *app, const char *path)
{
	char **v = realloc(m->lines, (m->n + 1) * sizeof(*v));
	size_t len = strlen(app) + strlen(path) + 4;

	if (!v)
		return -1;
	m->lines = v;
	if (!(v[m->n] = malloc(len)))
		return -1;
	snprintf(v[m->n++], len, "%c %s\t%s", kind, app, path);
	return 0;
}

static bool manifest_has(const struct manifest *m, char kind, const char *path)
{
	for (size_t i = 0; i < m->n; i++) {
		const char *tab = strchr(m->lines[i], '\t');
		if (m->lines[i][0] == kind && tab && strcmp(tab + 1, path) == 0)
			return true;
	}
	return false;
}

static void manifest_free(struct manifest *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->lines[i]);
	free(m->lines);
	m->lines = NULL;
	m->n = 0;
}

static int manifest_read(struct manifest *m, struct nr_error *err)
{
	FILE *f = fopen(m->path, "r");
	char line[8500];

	if (!f)
		return errno == ENOENT ? 0 : nr_error_set(err, -NR_E_IO, "cannot read %s: %s", m->path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *tab = strchr(line, '\t');
		line[strcspn(line, "\n")] = '\0';
		if (!tab || (line[0] != 'f' && line[0] != 'd') || line[1] != ' ')
			continue;
		*tab = '\0';
		if (manifest_add(m, line[0], line + 2, tab + 1) < 0) {
			fclose(f);
			return nr_error_set(err, -NR_E_NOMEM, NULL);
		}
	}
	fclose(f);
	return 0;
}

/* Write path whole (a temporary file renamed into place). */
static int write_file(const char *path, const void *data, size_t len, struct nr_error *err)
{
	char tmp[4300];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!(f = fopen(tmp, "wb")))
		return nr_error_set(err, -NR_E_IO, "cannot write %s: %s", tmp, strerror(errno));
	if (fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		unlink(tmp);
		return nr_error_set(err, -NR_E_IO, "cannot write %s", tmp);
	}
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return nr_error_set(err, -NR_E_IO, "cannot write %s: %s", path, strerror(errno));
	}
	return 0;
}

static int manifest_write(struct manifest *m, struct nr_error *err)
{
	struct nr_buf text;
	int rc;

	nr_buf_init(&text);
	for (size_t i = 0; i < m->n; i++) {
		const char *tab = strchr(m->lines[i], '\t');
		nr_buf_printf(&text, "%.*s\t%s\n", (int)(tab - m->lines[i]), m->lines[i], tab + 1);
	}
	rc = text.oom ? nr_error_set(err, -NR_E_NOMEM, NULL) : write_file(m->path, text.data ? text.data : "", text.len, err);
	nr_buf_done(&text);
	return rc;
}

/* mkdir -p dir, each directory it makes recorded in m (uninstall removes them again). */
static int make_dirs(struct manifest *m, const char *dir, struct nr_error *err)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s", dir);
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p)
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0755) == 0) {
			if (manifest_add(m, 'd', "", path) < 0)
				return nr_error_set(err, -NR_E_NOMEM, NULL);
		} else if (errno != EEXIST)
			return nr_error_set(err, -NR_E_IO, "cannot make %s: %s", path, strerror(errno));
		*p = c;
		if (!c)
			return 0;
	}
}

/* A desktop entry's string value: control characters made "?", "\" doubled. */
static void put_value(struct nr_buf *b, const char *s)
{
	char clean[1024];

	nr_text_sanitize(clean, sizeof(clean), s, false);
	for (const char *p = clean; *p; p++)
		nr_buf_append(b, *p == '\\' ? "\\\\" : p, 1 + (*p == '\\'));
}

/* One argument of Exec, quoted as the Desktop Entry Specification says ("..." with \" \`
 * \$ \\ escaped, "%" doubled), then escaped as a string value ("\" doubled). */
static void put_exec_arg(struct nr_buf *b, const char *s)
{
	nr_buf_puts(b, "\"");
	for (const char *p = s; *p; p++) {
		if (*p == '"' || *p == '`' || *p == '$')
			nr_buf_printf(b, "\\\\%c", *p);
		else if (*p == '\\')
			nr_buf_puts(b, "\\\\\\\\");
		else if (*p == '%')
			nr_buf_puts(b, "%%");
		else
			nr_buf_append(b, p, 1);
	}
	nr_buf_puts(b, "\"");
}

/* Whether a MIME type is one a desktop entry may list: type/subtype of the usual characters. */
static bool mime_ok(const char *m)
{
	const char *slash = strchr(m, '/');

	if (!slash || slash == m || !slash[1] || strlen(m) > 127)
		return false;
	for (const char *p = m; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("/.+-_", *p)) || (*p == '/' && p != slash))
			return false;
	return true;
}

static bool id_ok(const char *id)
{
	for (const char *p = id; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

struct install {
	struct cli *cli;
	const struct app_opts *o;
	const char *vm;
	char home[2048], vm_part[128];
	struct manifest m;
	struct nr_agent *agent;
};

static int install_one(struct install *in, const struct nr_agent_app *app, struct nr_error *err)
{
	char part[128], name[300], path[2800], dir[2400];
	static const int sizes[] = { 48, 256 };
	bool icon = false;
	struct nr_buf e;
	int rc;

	file_name_part(part, sizeof(part), app->id);
	snprintf(name, sizeof(name), "neuron-%s-%s", in->vm_part, part);
	for (size_t i = 0; i < 2; i++) {
		unsigned char *png;
		size_t len;
		if (!(sizes[i] == 48 ? app->icon48 : app->icon256))
			continue;
		if (nr_agent_app_icon(in->agent, app->id, sizes[i], &png, &len, err) < 0) {
			cli_note(in->cli, "%s: no %dx%d icon: %s", name, sizes[i], sizes[i], err->msg);
			continue;
		}
		snprintf(dir, sizeof(dir), "%s/icons/hicolor/%dx%d/apps", in->home, sizes[i], sizes[i]);
		snprintf(path, sizeof(path), "%s/%s.png", dir, name);
		rc = make_dirs(&in->m, dir, err);
		if (rc == 0 && !manifest_has(&in->m, 'f', path) && manifest_add(&in->m, 'f', app->id, path) < 0)
			rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		if (rc == 0)
			rc = write_file(path, png, len, err);
		free(png);
		if (rc < 0)
			return rc;
		icon = true;
	}
	nr_buf_init(&e);
	nr_buf_puts(&e, "[Desktop Entry]\nType=Application\nVersion=1.4\nName=");
	put_value(&e, app->name);
	nr_buf_puts(&e, " (");
	put_value(&e, in->vm);
	nr_buf_puts(&e, ")\nComment=");
	put_value(&e, app->name);
	nr_buf_puts(&e, " in the VM ");
	put_value(&e, in->vm);
	nr_buf_puts(&e, " (NeuronOS)\n");
	if (icon)
		nr_buf_printf(&e, "Icon=%s\n", name);
	nr_buf_puts(&e, "Exec=neuronctl app run ");
	put_exec_arg(&e, in->vm);
	nr_buf_puts(&e, " ");
	put_exec_arg(&e, app->id);
	nr_buf_puts(&e, " %F\n");
	bool any = false;
	for (size_t i = 0; app->mimes[i]; i++)
		if (mime_ok(app->mimes[i])) {
			nr_buf_printf(&e, "%s%s;", any ? "" : "MimeType=", app->mimes[i]);
			any = true;
		}
	if (any)
		nr_buf_puts(&e, "\n");
	nr_buf_printf(&e, "Categories=%s;\nTerminal=false\nX-NeuronOS-VM=", in->o->category ? in->o->category : "Utility");
	put_value(&e, in->vm);
	nr_buf_puts(&e, "\nX-NeuronOS-App=");
	put_value(&e, app->id);
	nr_buf_puts(&e, "\n");
	snprintf(dir, sizeof(dir), "%s/applications", in->home);
	snprintf(path, sizeof(path), "%s/%s.desktop", dir, name);
	rc = e.oom ? nr_error_set(err, -NR_E_NOMEM, NULL) : make_dirs(&in->m, dir, err);
	if (rc == 0 && !manifest_has(&in->m, 'f', path) && manifest_add(&in->m, 'f', app->id, path) < 0)
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
	if (rc == 0)
		rc = write_file(path, e.data, e.len, err);
	nr_buf_done(&e);
	if (rc == 0 && !in->cli->json) {
		fputs("installed ", stdout);
		cli_put_clean(stdout, path);
		putchar('\n');
	}
	return rc;
}

static int manifest_open(struct cli *cli, const char *vm, struct install *in, struct nr_error *err)
{
	if (!data_home(in->home, sizeof(in->home)))
		return nr_error_set(err, -NR_E_NOTFOUND, "neither XDG_DATA_HOME nor HOME is set");
	file_name_part(in->vm_part, sizeof(in->vm_part), vm);
	snprintf(in->m.path, sizeof(in->m.path), "%s/neuron/apps-%s.list", in->home, in->vm_part);
	return manifest_read(&in->m, err);
}

static int sub_install(struct cli *cli, void *opts, int argc, char **argv)
{
	struct install in = { .cli = cli, .o = opts, .vm = argv[0] };
	struct nr_error err = { 0 };
	struct nr_agent_apps apps = { 0 };
	json_object *done = json_object_new_array();
	char dir[4200];
	int rc;

	if ((rc = manifest_open(cli, argv[0], &in, &err)) < 0)
		goto fail;
	if ((rc = open_agent(cli, opts, argv[0], &in.agent)) != EXIT_OK) {
		json_object_put(done);
		manifest_free(&in.m);
		return rc;
	}
	if ((rc = nr_agent_apps(in.agent, &apps, &err)) < 0)
		goto fail;
	for (int i = 1; i < argc; i++)
		if (!find_app(&apps, argv[i])) {
			rc = no_app(cli, argv[0], argv[i]);
			goto out;
		}
	snprintf(dir, sizeof(dir), "%s/neuron", in.home);
	if ((rc = make_dirs(&in.m, dir, &err)) < 0)
		goto fail;
	for (size_t i = 0; i < apps.n && rc == 0; i++) {
		const struct nr_agent_app *app = &apps.v[i];
		bool wanted = argc == 1;
		for (int k = 1; k < argc; k++)
			wanted |= strcmp(argv[k], app->id) == 0;
		if (!wanted)
			continue;
		if (!id_ok(app->id)) {
			cli_note(cli, "left out an app whose id has control characters");
			continue;
		}
		if ((rc = install_one(&in, app, &err)) == 0)
			json_object_array_add(done, json_object_new_string(app->id));
	}
	/* the list is written even after a failure: uninstall then removes what was written */
	if (manifest_write(&in.m, rc < 0 ? NULL : &err) < 0 && rc == 0)
		rc = -1;
	if (rc < 0)
		goto fail;
	if (cli->json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "installed", done);
		done = NULL;
		cli_json_print(cli, j);
	}
	rc = EXIT_OK;
	goto out;
fail:
	rc = cli_fail(cli, &err);
out:
	json_object_put(done);
	nr_agent_apps_done(&apps);
	nr_agent_free(in.agent);
	manifest_free(&in.m);
	return rc;
}

static int sub_uninstall(struct cli *cli, void *opts, int argc, char **argv)
{
	struct install in = { .cli = cli, .o = opts, .vm = argv[0] };
	struct nr_error err = { 0 };
	struct manifest keep = { 0 };
	json_object *removed = json_object_new_array();
	bool files_left = false;
	int rc;

	if ((rc = manifest_open(cli, argv[0], &in, &err)) < 0)
		goto fail;
	if (in.m.n == 0) {
		nr_error_set(&err, -NR_E_NOTFOUND, "no launchers of %s are installed", argv[0]);
		goto fail;
	}
	snprintf(keep.path, sizeof(keep.path), "%s", in.m.path);
	for (size_t i = 0; i < in.m.n; i++) {
		char *line = in.m.lines[i], *tab = strchr(line, '\t');
		bool wanted = argc == 1;
		*tab = '\0';
		for (int k = 1; k < argc; k++)
			wanted |= strcmp(argv[k], line + 2) == 0;
		if (line[0] == 'f' && wanted) {
			if (unlink(tab + 1) < 0 && errno != ENOENT) {
				nr_error_set(&err, -NR_E_IO, "cannot remove %s: %s", tab + 1, strerror(errno));
				*tab = '\t';
				goto fail;
			}
			json_object_array_add(removed, json_object_new_string(tab + 1));
			if (!cli->json) {
				fputs("removed ", stdout);
				cli_put_clean(stdout, tab + 1);
				putchar('\n');
			}
		} else {
			files_left |= line[0] == 'f';
			manifest_add(&keep, line[0], line + 2, tab + 1);
		}
		*tab = '\t';
	}
	if (files_left) {
		if (manifest_write(&keep, &err) < 0)
			goto fail;
	} else {
		/* nothing of this VM is left: the list goes, and the directories install made
		 * (deepest first) when they are empty */
		unlink(in.m.path);
		for (size_t i = keep.n; i-- > 0;) {
			const char *tab = strchr(keep.lines[i], '\t');
			if (keep.lines[i][0] == 'd')
				rmdir(tab + 1);
		}
	}
	if (cli->json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "removed", removed);
		removed = NULL;
		cli_json_print(cli, j);
	}
	rc = EXIT_OK;
	goto out;
fail:
	rc = cli_fail(cli, &err);
out:
	json_object_put(removed);
	manifest_free(&keep);
	manifest_free(&in.m);
	return rc;
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
