/* The guest's apps on the host (neuron/apps.h): host files into guest paths through the
 * shared folders. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "neuron/apps.h"
#include "neuron/clock.h"
#include "neuron/lg.h"
#include "neuron/plan.h"
#include "neuron/util.h"
#include "neuron/vm.h"

void nr_app_shares_done(struct nr_app_shares *s)
{
	for (size_t i = 0; s && i < s->n; i++) {
		free(s->v[i].name);
		free(s->v[i].host_dir);
		free(s->v[i].host_real);
		free(s->v[i].guest_path);
	}
	if (s) {
		free(s->v);
		memset(s, 0, sizeof(*s));
	}
}

static bool is_drive(const char *p)
{
	return ((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z')) && p[1] == ':';
}

/* A guest path the host may build on: /... or X: / X:\..., no ".." part, no control
 * character (the guest is untrusted). */
static bool guest_path_ok(const char *p)
{
	const char *part;

	if (!p || !(p[0] == '/' || (is_drive(p) && (p[2] == '\0' || p[2] == '\\'))))
		return false;
	for (const unsigned char *c = (const unsigned char *)p; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return false;
	for (part = p; *part;) {
		size_t len = strcspn(part, "/\\");
		if (len == 2 && part[0] == '.' && part[1] == '.')
			return false;
		part += len;
		if (*part)
			part++;
	}
	return true;
}

int nr_app_shares_pair(const struct nr_domain_info *info, const struct nr_agent_shares *guest,
		       struct nr_app_shares *out, struct nr_error *err)
{
	memset(out, 0, sizeof(*out));
	if (!info->n_shares)
		return 0;
	if (!(out->v = calloc(info->n_shares, sizeof(*out->v))))
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	for (size_t i = 0; i < info->n_shares; i++) {
		struct nr_app_share *s = &out->v[out->n++];
		s->name = strdup(info->share_tags[i]);
		s->host_dir = strdup(info->share_dirs[i]);
		if (!s->name || !s->host_dir)
			goto oom;
		s->host_real = realpath(s->host_dir, NULL);
		for (size_t k = 0; guest && k < guest->n; k++)
			if (strcmp(guest->v[k].name, s->name) == 0 && guest_path_ok(guest->v[k].path)) {
				if (!(s->guest_path = strdup(guest->v[k].path)))
					goto oom;
				break;
			}
	}
	return 0;
oom:
	nr_app_shares_done(out);
	return nr_error_set(err, -NR_E_NOMEM, NULL);
}

int nr_app_shares_of(const struct nr_ctx *ctx, const char *vm, struct nr_agent *agent, struct nr_app_shares *out,
		     struct nr_error *err)
{
	struct nr_agent_shares reported = { 0 };
	struct nr_virt *virt = NULL;
	struct nr_vm *v = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = nr_virt_open(ctx, &virt, err)) == 0 && (rc = nr_vm_get(virt, vm, &v, err)) == 0 && agent &&
	    (rc = nr_agent_shares(agent, &reported, err)) == -NR_E_UNSUPPORTED) {
		nr_error_clear(err);
		rc = 0;
	}
	if (rc == 0)
		rc = nr_app_shares_pair(v->info, &reported, out, err);
	nr_agent_shares_done(&reported);
	nr_vm_free(v);
	nr_virt_close(virt);
	return rc;
}

/* "Documents (/home/ann/Documents), music (/srv/music, not mounted in the guest)" */
static void list_shares(struct nr_buf *b, const struct nr_app_shares *s)
{
	for (size_t i = 0; i < s->n; i++) {
		char name[64], dir[512];
		nr_text_sanitize(name, sizeof(name), s->v[i].name, false);
		nr_text_sanitize(dir, sizeof(dir), s->v[i].host_dir, false);
		nr_buf_printf(b, "%s%s (%s%s)", i ? ", " : "", name, dir,
			      s->v[i].guest_path ? "" : ", not mounted in the guest");
	}
}

int nr_app_translate(const struct nr_app_shares *shares, const char *vm, const char *host_file, char **guest,
		     struct nr_error *err)
{
	char *real = realpath(host_file, NULL), clean[512];
	const struct nr_app_share *hit = NULL;
	const char *rel = NULL;
	struct nr_buf b;
	int rc;

	*guest = NULL;
	nr_text_sanitize(clean, sizeof(clean), host_file, false);
	if (!real)
		return nr_error_set(err, errno == ENOMEM ? -NR_E_NOMEM : -NR_E_NOTFOUND, "%s: %s", clean,
				    strerror(errno));
	for (size_t i = 0; i < shares->n && !hit; i++) {
		const char *dir = shares->v[i].host_real;
		size_t len = dir ? strlen(dir) : 0;
		if (!dir)
			continue;
		if (strcmp(dir, "/") == 0)
			len = 0;
		if (strncmp(real, dir, len) == 0 && (real[len] == '/' || real[len] == '\0')) {
			hit = &shares->v[i];
			rel = real[len] == '/' ? real + len + 1 : real + len;
		}
	}
	if (!hit) {
		nr_buf_init(&b);
		if (!shares->n)
			nr_buf_printf(&b, "%s is a host file, and %s shares no folder with the host: add one to its "
				      "profile (shares: [{name: Documents, path: ~/Documents}]) and recreate the VM",
				      clean, vm);
		else {
			nr_buf_printf(&b, "%s is outside the folders %s shares with the host: ", clean, vm);
			list_shares(&b, shares);
			nr_buf_puts(&b, "; put the file in one of them (it is never copied)");
		}
		rc = nr_error_set(err, -NR_E_REFUSED, "%s", b.data ? b.data : "out of memory");
		nr_buf_done(&b);
		free(real);
		return rc;
	}
	if (!hit->guest_path) {
		char name[64];
		nr_text_sanitize(name, sizeof(name), hit->name, false);
		free(real);
		return nr_error_set(err, -NR_E_UNSUPPORTED, "%s is in the share %s, which the guest of %s has not mounted "
				    "(its agent does not report it: see the guest-tools media's setup)", clean, name, vm);
	}
	nr_buf_init(&b);
	nr_buf_puts(&b, hit->guest_path);
	if (*rel) {
		bool windows = is_drive(hit->guest_path);
		char sep = windows ? '\\' : '/';
		if (b.len && b.data[b.len - 1] != sep)
			nr_buf_append(&b, &sep, 1);
		for (const char *c = rel; *c; c++)
			nr_buf_append(&b, windows && *c == '/' ? "\\" : c, 1);
	}
	free(real);
	if (b.oom) {
		nr_buf_done(&b);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	*guest = nr_buf_steal(&b);
	return 0;
}

/* ---- app run ------------------------------------------------------------------------------ */

#define WAIT_DEFAULT_MS 180000
#define RAISE_MS 3000

static void say(const struct nr_app_run_opts *o, enum nr_app_step step, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(const struct nr_app_run_opts *o, enum nr_app_step step, const char *fmt, ...)
{
	char line[600];
	va_list ap;

	if (!o->progress)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	o->progress(o->userdata, step, line);
}

/* A FILE operand that names a guest file already: guest:PATH, or a Windows path. */
static const char *guest_file(const char *file)
{
	if (strncmp(file, "guest:", 6) == 0 && file[6])
		return file + 6;
	if (is_drive(file) && (file[2] == '\\' || file[2] == '/'))
		return file;
	return NULL;
}

/* The first FILE operand that is a host file. */
static size_t i_host(const struct nr_app_run_opts *o)
{
	size_t i = 0;

	while (i < o->n_files && guest_file(o->files[i]))
		i++;
	return i;
}

static int open_agent(const struct nr_ctx *ctx, const struct nr_app_run_opts *o, struct nr_agent **a,
		      struct nr_error *err)
{
	*a = NULL;
	return o->open_agent ? o->open_agent(o->userdata, a, err) : nr_agent_open(ctx, o->vm, a, err);
}

/* Start or find the VM's Looking Glass client; never fails the run. */
static void run_lg(const struct nr_ctx *ctx, const struct nr_app_run_opts *o, const struct nr_domain_info *info,
		   struct nr_app_run_result *res)
{
	struct nr_lg_client_opts lo = { 0 };
	struct nr_lg_sup_info sup = { 0 };
	struct nr_error err = { 0 };
	const char *shm;
	char *path = NULL, *binary = NULL;
	unsigned mib;
	long pid;

	if (o->no_lg) {
		res->lg = NR_APP_LG_SKIPPED;
		snprintf(res->lg_note, sizeof(res->lg_note), "Looking Glass left alone (asked)");
		return;
	}
	if (!info || nr_lg_shm_of(info, &shm, &mib, &err) < 0) {
		res->lg = NR_APP_LG_NO_DEVICE;
		snprintf(res->lg_note, sizeof(res->lg_note), "no Looking Glass client: the VM has no Looking Glass device");
		return;
	}
	if (nr_lg_client_info(ctx, o->vm, &sup, NULL) == 0 && (sup.state == NR_LG_SUP_RUNNING || sup.state == NR_LG_SUP_BACKOFF)) {
		/* raised on X11 through the window manager (EWMH, wmctrl); Wayland lets no
		 * program raise another's window */
		const char *raise[] = { "wmctrl", "-x", "-a", "looking-glass-client", NULL };
		const char *display = getenv("DISPLAY");
		int status = -1;
		if (display && display[0])
			nr_plan_run_host(raise, RAISE_MS, NULL, NULL, &status, &err);
		res->lg = NR_APP_LG_RUNNING;
		snprintf(res->lg_note, sizeof(res->lg_note), "the Looking Glass client of the VM runs (pid %ld)%s",
			 sup.client_pid, status == 0 ? ", raised" :
			 display && display[0] ? "; not raised (wmctrl found no window of it)" :
			 "; not raised (no X11 display: bring its window up yourself)");
		nr_lg_sup_info_done(&sup);
		return;
	}
	nr_lg_sup_info_done(&sup);
	if (nr_lg_graphical_session(&err) == 0 && (path = nr_ctx_sys_path(ctx, shm)) &&
	    nr_lg_shm_check_access(path, &err) == 0 && nr_lg_client_find(ctx, NULL, &binary, &err) == 0) {
		nr_lg_client_opts_defaults(ctx, &lo);
		lo.vm = o->vm;
		lo.shm_path = path;
		lo.client = binary;
		if (nr_lg_client_start(ctx, &lo, &pid, &err) == 0) {
			res->lg = NR_APP_LG_STARTED;
			snprintf(res->lg_note, sizeof(res->lg_note), "started the Looking Glass client (pid %ld)", pid);
		}
	}
	if (res->lg != NR_APP_LG_STARTED) {
		res->lg = NR_APP_LG_FAILED;
		snprintf(res->lg_note, sizeof(res->lg_note), "no Looking Glass client: %.400s",
			 err.msg[0] ? err.msg : "out of memory");
	}
	free(path);
	free(binary);
}

int nr_app_run(const struct nr_ctx *ctx, const struct nr_app_run_opts *o, struct nr_app_run_result *res,
	       struct nr_error *err)
{
	struct nr_virt *virt = NULL;
	struct nr_vm *vm = NULL;
	struct nr_agent *agent = NULL;
	struct nr_app_shares shares = { 0 };
	struct nr_agent_shares reported = { 0 };
	struct nr_agent_apps apps = { 0 };
	const struct nr_agent_app *app = NULL;
	char **guest = NULL, no_virt[420] = "";
	bool host_files = false;
	int rc;

	memset(res, 0, sizeof(*res));
	if (o->n_files > sizeof(res->pids) / sizeof(res->pids[0]))
		return nr_error_set(err, -NR_E_INVAL, "at most %zu files at once", sizeof(res->pids) / sizeof(res->pids[0]));
	if (!(guest = calloc(o->n_files + 1, sizeof(*guest))))
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	if ((rc = nr_virt_open(ctx, &virt, err)) == 0)
		rc = nr_vm_get(virt, o->vm, &vm, err);
	if (rc < 0) {
		if (!o->direct)
			goto out;
		/* a direct channel: the app runs without libvirt, which only the VM's start, its
		 * shares and Looking Glass need */
		snprintf(no_virt, sizeof(no_virt), "%.400s", err->msg);
		nr_error_clear(err);
		rc = 0;
		nr_virt_close(virt);
		virt = NULL;
	}
	/* a host file outside every share is refused before the VM is started */
	for (size_t i = 0; i < o->n_files; i++)
		host_files |= !guest_file(o->files[i]);
	if (host_files && !vm) {
		char clean[512];
		nr_text_sanitize(clean, sizeof(clean), o->files[i_host(o)], false);
		rc = nr_error_set(err, -NR_E_UNSUPPORTED, "%s is a host file: its place in the guest comes from "
				  "the VM's shares, which libvirt did not give (%s)", clean, no_virt);
		goto out;
	}
	if (host_files && vm->state != NR_VM_RUNNING) {
		if ((rc = nr_app_shares_pair(vm->info, NULL, &shares, err)) < 0)
			goto out;
		for (size_t i = 0; i < o->n_files; i++) {
			char *g = NULL;
			if (guest_file(o->files[i]))
				continue;
			rc = nr_app_translate(&shares, o->vm, o->files[i], &g, err);
			free(g);
			if (rc < 0 && rc != -NR_E_UNSUPPORTED) /* not mounted yet: asked again below */
				goto out;
			nr_error_clear(err);
			rc = 0;
		}
		nr_app_shares_done(&shares);
	}
	if (!vm) {
		/* without libvirt: the agent answers, or the run fails below */
	} else if (vm->state == NR_VM_OFF || vm->state == NR_VM_CRASHED) {
		say(o, NR_APP_STEP_START, "starting VM %s", o->vm);
		if ((rc = nr_vm_start(virt, o->vm, err)) < 0)
			goto out;
		res->vm_started = true;
		nr_vm_free(vm);
		vm = NULL;
		if ((rc = nr_vm_get(virt, o->vm, &vm, err)) < 0) /* the live XML: the channel's socket */
			goto out;
	} else if (vm->state != NR_VM_RUNNING) {
		rc = nr_error_set(err, -NR_E_BUSY, "VM %s is %s: resume it first (neuronctl vm start %s)", o->vm,
				  nr_vm_state_name(vm->state), o->vm);
		goto out;
	}
	/* the agent: right away when the VM ran, else within wait_ms of the start */
	{
		long long start = nr_now_ms(), deadline = start + (res->vm_started ? (o->wait_ms ? o->wait_ms : WAIT_DEFAULT_MS) : 0);
		for (;;) {
			if ((rc = open_agent(ctx, o, &agent, err)) == 0 && (rc = nr_agent_connect(agent, err)) == 0)
				break;
			nr_agent_free(agent);
			agent = NULL;
			if (nr_now_ms() >= deadline) {
				if (res->vm_started)
					nr_error_prefix(err, "VM %s started, but its agent did not answer within %d s: ", o->vm,
							(int)((deadline - start) / 1000));
				goto out;
			}
			say(o, NR_APP_STEP_WAIT, "waiting for the agent of VM %s (%lld s)", o->vm,
			    (nr_now_ms() - start) / 1000);
			nr_error_clear(err);
			nr_sleep_ms(1000);
		}
	}
	if ((rc = nr_agent_apps(agent, &apps, err)) < 0)
		goto out;
	for (size_t i = 0; i < apps.n && !app; i++)
		if (strcmp(apps.v[i].id, o->app) == 0)
			app = &apps.v[i];
	if (!app) {
		char clean[256];
		nr_text_sanitize(clean, sizeof(clean), o->app, false);
		rc = nr_error_set(err, -NR_E_NOTFOUND, "%s has no app %s (neuronctl app list %s)", o->vm, clean, o->vm);
		goto out;
	}
	snprintf(res->app_name, sizeof(res->app_name), "%s", app->name);
	if (host_files) {
		rc = nr_agent_shares(agent, &reported, err);
		if (rc == -NR_E_UNSUPPORTED) { /* an agent without shares: none mounted */
			nr_error_clear(err);
			rc = 0;
		}
		if (rc < 0 || (rc = nr_app_shares_pair(vm->info, &reported, &shares, err)) < 0)
			goto out;
	}
	for (size_t i = 0; i < o->n_files; i++) {
		const char *g = guest_file(o->files[i]);
		if (g ? !(guest[i] = strdup(g)) : (rc = nr_app_translate(&shares, o->vm, o->files[i], &guest[i], err)) < 0) {
			if (g)
				rc = nr_error_set(err, -NR_E_NOMEM, NULL);
			goto out;
		}
	}
	if (!o->n_files) {
		say(o, NR_APP_STEP_LAUNCH, "starting %s", app->name);
		if ((rc = nr_agent_launch(agent, app->program, (const char *const *)app->args, &res->pids[0], err)) < 0)
			goto out;
		res->n_pids = 1;
	}
	for (size_t i = 0; i < o->n_files; i++) {
		say(o, NR_APP_STEP_LAUNCH, "opening %s with %s", guest[i], app->name);
		if ((rc = nr_agent_open_path(agent, guest[i], app->id, &res->pids[i], err)) < 0)
			goto out;
		res->n_pids = i + 1;
	}
	/* the channel and libvirt are let go first: the client's supervisor is a fork of this
	 * process and would hold them open (the agent serves one host at a time) */
	nr_agent_free(agent);
	agent = NULL;
	nr_virt_close(virt);
	virt = NULL;
	if (vm) {
		run_lg(ctx, o, vm->info, res);
	} else {
		res->lg = NR_APP_LG_SKIPPED;
		snprintf(res->lg_note, sizeof(res->lg_note), "Looking Glass left alone: %s", no_virt);
	}
	say(o, NR_APP_STEP_LG, "%s", res->lg_note);
	rc = 0;
out:
	nr_strv_free(guest, o->n_files);
	nr_agent_apps_done(&apps);
	nr_agent_shares_done(&reported);
	nr_app_shares_done(&shares);
	nr_agent_free(agent);
	nr_vm_free(vm);
	nr_virt_close(virt);
	return rc;
}
