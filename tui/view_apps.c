/* The app list of a VM (issue 17), opened with Enter on a VM whose agent is connected in
 * the Agents panel: the guest's apps with their file types and whether a launcher of
 * theirs is in the host's menu. Enter starts the selected app the way `neuronctl app run`
 * does (nr_app_run: then the VM's Looking Glass client), i puts its launcher in the host's
 * menu (nr_app_install), x takes it out again. The agent is asked in jobs, so a slow
 * guest never freezes the screen. */
#include <stdlib.h>
#include <string.h>

#include "tui.h"
#include "neuron/agent.h"
#include "neuron/apps.h"
#include "neuron/certs.h"

#define APPS_TIMEOUT_MS 5000

struct apps_priv {
	char vm[256], socket[512];
	struct nr_agent_apps apps;      /* the list shown (main thread) */
	struct nr_agent_apps fetched;   /* what the load job got */
	bool *installed;                /* per app: a launcher is in the menu */
	bool loading;
	struct nr_error err;            /* why there is no list */
};

/* What Enter on the Agents panel asked for: read by the view's first reload. */
static char want_vm[256], want_socket[512];

void tui_apps_open(struct tui *t, const char *vm, const char *socket)
{
	snprintf(want_vm, sizeof(want_vm), "%s", vm);
	snprintf(want_socket, sizeof(want_socket), "%s", socket);
	tui_open_overlay(t, &tui_view_apps_ops);
}

/* ---- the agent, from a job's thread */

struct apps_job {
	struct tui *t;
	struct apps_priv *p;
	char vm[256], socket[512], app[256];
};

static int open_agent(struct tui *t, const char *vm, const char *socket, struct nr_agent **a, struct nr_error *err)
{
	char *dir = NULL;
	int rc = nr_certs_dir(t->ctx, vm, &dir, err);

	*a = NULL;
	if (rc == 0)
		rc = nr_agent_open_socket(socket, dir, a, err);
	free(dir);
	if (rc == 0)
		nr_agent_set_timeout(*a, APPS_TIMEOUT_MS, APPS_TIMEOUT_MS);
	return rc;
}

static int run_open_agent(void *userdata, struct nr_agent **a, struct nr_error *err)
{
	struct apps_job *j = userdata;

	return open_agent(j->t, j->vm, j->socket, a, err);
}

static int load_job(struct tui_job *job, void *arg, struct nr_error *err)
{
	struct apps_job *j = arg;
	struct nr_agent *a;
	int rc = open_agent(j->t, j->vm, j->socket, &a, err);

	if (rc == 0)
		rc = nr_agent_apps(a, &j->p->fetched, err);
	nr_agent_free(a);
	if (rc == 0)
		tui_job_log(job, "%zu apps in VM %s", j->p->fetched.n, j->vm);
	return rc;
}

static void mark_installed(struct apps_priv *p)
{
	free(p->installed);
	p->installed = tui_xcalloc(p->apps.n + 1, sizeof(*p->installed));
	for (size_t i = 0; i < p->apps.n; i++)
		p->installed[i] = nr_app_installed(p->vm, p->apps.v[i].id);
}

static void load_done(struct tui *t, int rc, const struct nr_error *err, void *arg)
{
	struct apps_job *j = arg;
	struct apps_priv *p = j->p;

	p->loading = false;
	nr_agent_apps_done(&p->apps);
	p->apps = p->fetched;
	memset(&p->fetched, 0, sizeof(p->fetched));
	if (rc < 0)
		p->err = *err;
	mark_installed(p);
	for (size_t i = 0; i < t->n_overlays; i++)
		if (t->overlays[i].priv == p)
			t->overlays[i].n_rows = p->apps.n;
	free(j);
}

static int run_job(struct tui_job *job, void *arg, struct nr_error *err)
{
	struct apps_job *j = arg;
	struct nr_app_run_opts o = {
		.vm = j->vm, .app = j->app, .open_agent = run_open_agent, .userdata = j,
	};
	struct nr_app_run_result res;
	int rc = nr_app_run(j->t->ctx, &o, &res, err);

	if (rc == 0) {
		tui_job_log(job, "started %s in VM %s (pid %lld)", res.app_name, j->vm, res.n_pids ? res.pids[0] : 0);
		tui_job_log(job, "%s", res.lg_note);
	}
	return rc;
}

static void run_done(struct tui *t, int rc, const struct nr_error *err, void *arg)
{
	struct apps_job *j = arg;

	if (rc < 0)
		tui_dialog_error(t, "App not started", err);
	else
		tui_set_status(t, "started %s in VM %s (the log, F4, says more)", j->app, j->vm);
	free(j);
}

static int install_job(struct tui_job *job, void *arg, struct nr_error *err)
{
	struct apps_job *j = arg;
	struct nr_agent_apps apps = { 0 };
	const char *ids[] = { j->app };
	struct nr_agent *a;
	int rc = open_agent(j->t, j->vm, j->socket, &a, err);

	if (rc == 0 && (rc = nr_agent_apps(a, &apps, err)) == 0)
		rc = nr_app_install(j->vm, a, &apps, ids, 1, NULL, NULL, NULL, err);
	nr_agent_apps_done(&apps);
	nr_agent_free(a);
	if (rc == 0)
		tui_job_log(job, "a launcher of %s is in the menu", j->app);
	return rc;
}

static void install_done(struct tui *t, int rc, const struct nr_error *err, void *arg)
{
	struct apps_job *j = arg;

	if (rc < 0)
		tui_dialog_error(t, "Launcher not installed", err);
	else
		tui_set_status(t, "launcher of %s installed in the host's menu", j->app);
	mark_installed(j->p);
	free(j);
}

static struct apps_job *job_for(struct tui *t, struct apps_priv *p, const char *app)
{
	struct apps_job *j = tui_xcalloc(1, sizeof(*j));

	j->t = t;
	j->p = p;
	snprintf(j->vm, sizeof(j->vm), "%s", p->vm);
	snprintf(j->socket, sizeof(j->socket), "%s", p->socket);
	snprintf(j->app, sizeof(j->app), "%s", app ? app : "");
	return j;
}

/* ---- the view */

static void apps_reload(struct tui *t, struct tui_view *v)
{
	struct apps_priv *p = v->priv;
	struct apps_job *j;

	if (p)
		return; /* the list stays what the guest said when it was opened */
	p = v->priv = tui_xcalloc(1, sizeof(*p));
	snprintf(p->vm, sizeof(p->vm), "%s", want_vm);
	snprintf(p->socket, sizeof(p->socket), "%s", want_socket);
	j = job_for(t, p, NULL);
	p->loading = true;
	if (tui_job_start(t, "list the apps of the VM", load_job, load_done, j) < 0) {
		p->loading = false;
		nr_error_set(&p->err, -NR_E_BUSY, "another operation runs: open the list again when it is done");
		free(j);
	}
}

static void apps_done(struct tui *t, struct tui_view *v)
{
	struct apps_priv *p = v->priv;

	if (!p)
		return;
	/* a job of this view finishes before its state goes */
	if (tui_job_running(t))
		tui_job_reap(t, true);
	nr_agent_apps_done(&p->apps);
	nr_agent_apps_done(&p->fetched);
	free(p->installed);
	free(p);
	v->priv = NULL;
}

static const char *apps_header(struct tui *t, struct tui_view *v)
{
	(void)t;
	(void)v;
	return " App                        File types                               Menu";
}

static void join(char *out, size_t size, char *const *list, const char *sep)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; list && list[i] && n + 1 < size; i++)
		n += (size_t)snprintf(out + n, size - n, "%s%s", i ? sep : "", list[i]);
}

static void apps_row(struct tui *t, struct tui_view *v, size_t i, int y, int x, int w, bool sel)
{
	struct apps_priv *p = v->priv;
	const struct nr_agent_app *a = &p->apps.v[i];
	enum tui_color base = sel ? TUI_C_SELECTED : TUI_C_NORMAL;
	char name[128], types[512], clean[512];

	tui_clean(t, name, sizeof(name), a->name);
	join(types, sizeof(types), a->extensions, " ");
	tui_clean(t, clean, sizeof(clean), types);
	tui_putf(t, y, x, w, base, " %-26.26s %-40.40s %s", name, clean, p->installed && p->installed[i] ? "yes" : "-");
}

static void apps_details(struct tui *t, struct tui_view *v, size_t i, int y, int x, int h, int w)
{
	struct apps_priv *p = v->priv;
	const struct nr_agent_app *a = &p->apps.v[i];
	char buf[600], list[512];
	int line = 0;

	tui_clean(t, buf, sizeof(buf), a->id);
	tui_putf(t, y + line++, x, w, TUI_C_INFO, "App %s in VM %s", buf, p->vm);
	tui_clean(t, buf, sizeof(buf), a->program);
	tui_putf(t, y + line++, x, w, TUI_C_NORMAL, "Program: %s", buf);
	join(list, sizeof(list), a->mimes, ", ");
	tui_clean(t, buf, sizeof(buf), list[0] ? list : "-");
	tui_putf(t, y + line++, x, w, TUI_C_NORMAL, "Opens: %s", buf);
	tui_putf(t, y + line++, x, w, TUI_C_NORMAL, "Launcher in the host's menu: %s",
		 p->installed && p->installed[i] ? "yes (x removes it)" : "no (i puts it there)");
	if (line < h)
		tui_wrap(t, y + line, x, h - line, w, TUI_C_DIM,
			 "Enter starts the app in the guest, then the VM's Looking Glass client; from a "
			 "shell: neuronctl app run VM APP FILE opens a host file in a shared folder.");
}

static void apps_draw(struct tui *t, struct tui_view *v, int y0, int x0, int h, int w)
{
	struct apps_priv *p = v->priv;
	char why[600];

	tui_list_draw(t, v, y0, x0, h, w);
	if (p->apps.n)
		return;
	if (p->loading)
		snprintf(why, sizeof(why), "Asking the agent of VM %s for its apps ...", p->vm);
	else if (p->err.msg[0])
		tui_clean(t, why, sizeof(why), p->err.msg);
	else
		snprintf(why, sizeof(why), "The guest of VM %s lists no apps.", p->vm);
	tui_wrap(t, y0 + 1, x0 + 1, 3, w - 2, p->err.msg[0] ? TUI_C_WARN : TUI_C_DIM, why);
}

static int apps_action(struct tui *t, struct tui_view *v, enum tui_action a)
{
	struct apps_priv *p = v->priv;
	const struct nr_agent_app *app = v->sel < p->apps.n ? &p->apps.v[v->sel] : NULL;
	struct apps_job *j;

	switch (a) {
	case TUI_ACT_APP_CLOSE:
		return TUI_CLOSE;
	case TUI_ACT_APP_LAUNCH:
	case TUI_ACT_APP_INSTALL:
		if (!app)
			return TUI_HANDLED;
		j = job_for(t, p, app->id);
		if (tui_job_start(t, a == TUI_ACT_APP_LAUNCH ? "start an app in the VM" : "install an app's launcher",
				  a == TUI_ACT_APP_LAUNCH ? run_job : install_job,
				  a == TUI_ACT_APP_LAUNCH ? run_done : install_done, j) < 0)
			free(j);
		return TUI_HANDLED;
	case TUI_ACT_APP_UNINSTALL: {
		struct nr_error err = { 0 };
		const char *ids[1];
		if (!app)
			return TUI_HANDLED;
		ids[0] = app->id;
		if (nr_app_uninstall(p->vm, ids, 1, NULL, NULL, &err) < 0)
			tui_dialog_error(t, "Launcher not removed", &err);
		else
			tui_set_status(t, "launcher of %s removed from the host's menu", app->id);
		mark_installed(p);
		return TUI_HANDLED;
	}
	default:
		return TUI_IGNORED;
	}
}

static void apps_status(struct tui *t, struct tui_view *v, char *buf, size_t size)
{
	struct apps_priv *p = v->priv;

	(void)t;
	snprintf(buf, size, "%zu apps in VM %s. Enter start, i/x launcher in/out of the menu, Esc back",
		 p->apps.n, p->vm);
}

const struct tui_view_ops tui_view_apps_ops = {
	.name = "apps",
	.title = "Apps",
	.scope = TUI_SCOPE_APPS,
	.reload = apps_reload,
	.draw = apps_draw,
	.header = apps_header,
	.draw_row = apps_row,
	.details = apps_details,
	.action = apps_action,
	.status = apps_status,
	.done = apps_done,
};
