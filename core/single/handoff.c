/* The single-GPU hand-off as plan actions: what each step does and undoes, and the planner
 * that reads from the machine which steps this one needs. See neuron/single.h. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/internal.h"
#include "neuron/bind.h"
#include "neuron/single.h"
#include "plan/action.h"
#include "root/root.h"

/* Display managers this program knows (their unit names); another one still gets stopped
 * through its alias, and check says it is unknown. */
static const char *const known_dms[] = {
	"gdm.service", "gdm3.service", "sddm.service", "lightdm.service", "lxdm.service", "greetd.service",
	"ly.service", "xdm.service", "slim.service", "cosmic-greeter.service", "plasmalogin.service", NULL,
};

/* Firmware framebuffers, one row each: the platform driver and its devices' prefix. */
static const char *const firmware_fbs[] = { "efi-framebuffer", "simple-framebuffer", "vesa-framebuffer", NULL };

/* User units a Wayland session keeps holding the GPU after the display manager stops. */
static const char *const wayland_user_units[] = {
	"org.gnome.Shell@wayland.service", "plasma-kwin_wayland.service", "sway-session.target", NULL,
};

/* ------------------------------------------------------------------ small readers -- */

/* Text from the machine (a command's output, a process name) made one plain line. */
static void clean(char *s)
{
	size_t n = strlen(s) + 1;
	char *copy = malloc(n);

	if (!copy)
		return;
	nr_text_sanitize(copy, n, s, true);
	memcpy(s, copy, n);
	free(copy);
	for (size_t len = strlen(s); len > 0 && s[len - 1] == ' '; len--)
		s[len - 1] = '\0';
}

static char *sys_path(const struct nr_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *sys_path(const struct nr_ctx *ctx, const char *fmt, ...)
{
	char rel[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	return nr_ctx_sys_path(ctx, rel);
}

/* The first line of a sysfs file under the sysroot; "" when unreadable. */
static void sys_line(const struct nr_ctx *ctx, const char *rel, char *buf, size_t size)
{
	char *p = nr_ctx_sys_path(ctx, rel);

	if (!p || nr_read_line(p, buf, size) < 0)
		buf[0] = '\0';
	free(p);
}

/* The driver bound to a PCI function now ("" when none). */
static void pci_driver_now(const struct nr_ctx *ctx, const char *addr, char *buf, size_t size)
{
	char *p = sys_path(ctx, "sys/bus/pci/devices/%s/driver", addr);

	if (!p || nr_read_link_base(p, buf, size) < 0)
		buf[0] = '\0';
	free(p);
}

static bool sys_exists(const struct nr_ctx *ctx, const char *rel)
{
	char *p = nr_ctx_sys_path(ctx, rel);
	struct stat st;
	bool yes = p && lstat(p, &st) == 0;

	free(p);
	return yes;
}

/* ------------------------------------------------------------------ systemctl -- */

struct output {
	struct nr_buf b;
};

static void collect(void *data, enum nr_plan_event ev, const char *text)
{
	struct output *o = data;

	if (ev == NR_PLAN_EV_OUTPUT && o->b.len < 2000)
		nr_buf_printf(&o->b, "%s", text);
}

/* systemctl [--user -M USER@] VERB UNIT through the plan runner: its exit status, or a
 * negative NR_E_* when it could not run. what (may be NULL) gets its output, cleaned. */
static int systemctl(const struct nr_ctx *ctx, const char *user, const char *verb, const char *unit, char **what,
		     struct nr_error *err)
{
	char machine[160];
	const char *argv[8];
	struct output o;
	int n = 0, status = -1, rc;

	argv[n++] = "systemctl";
	if (user && *user) {
		snprintf(machine, sizeof(machine), "%s@", user);
		argv[n++] = "--user";
		argv[n++] = "-M";
		argv[n++] = machine;
	}
	argv[n++] = verb;
	argv[n++] = unit;
	argv[n] = NULL;
	nr_buf_init(&o.b);
	rc = nr_plan_run(ctx, argv, collect, &o, &status, err);
	if (what) {
		*what = o.b.data ? nr_buf_steal(&o.b) : strdup("");
		if (*what)
			clean(*what);
	}
	nr_buf_done(&o.b);
	return rc < 0 ? rc : status;
}

static bool unit_active(const struct nr_ctx *ctx, const char *user, const char *unit)
{
	return systemctl(ctx, user, "is-active", unit, NULL, NULL) == 0;
}

/* ------------------------------------------------------------------ unit-stop -- */

static const char *user_of(const struct nr_action *a)
{
	const char *u = nr_action_get(a, "user");
	return u && *u ? u : NULL;
}

char *nr_action_unit_stop_describe(const struct nr_action *a)
{
	const char *unit = nr_action_get(a, "unit"), *user = user_of(a);
	char *out = NULL;

	if (asprintf(&out, "stop %s%s%s (started again on release)", unit ? unit : "?", user ? " of user " : "",
		     user ? user : "") < 0)
		out = NULL;
	return out;
}

int nr_action_unit_stop_apply(const struct nr_ctx *ctx, const struct nr_root *r, const struct nr_action *a,
			      char **done, struct nr_error *err)
{
	const char *unit = nr_action_get(a, "unit"), *user = user_of(a);
	char *what = NULL;
	int st;

	*done = NULL;
	if (!unit)
		return nr_error_set(err, -NR_E_PARSE, "the unit-stop action has no unit");
	if (!unit_active(ctx, user, unit))
		return 0;
	if ((st = systemctl(ctx, user, "stop", unit, &what, err)) != 0) {
		if (st > 0)
			nr_error_set(err, -NR_E_COMMAND, "systemctl stop %s failed (exit status %d): %s", unit, st,
				     what ? what : "");
		free(what);
		return st < 0 ? st : -NR_E_COMMAND;
	}
	free(what);
	if (asprintf(done, "stopped %s", unit) < 0)
		*done = NULL;
	return 0;
}

int nr_action_unit_stop_revert(const struct nr_ctx *ctx, const struct nr_root *r, const struct nr_action *a,
			       char **done, struct nr_error *err)
{
	const char *unit = nr_action_get(a, "unit"), *user = user_of(a);
	char *what = NULL;
	int st;

	*done = NULL;
	if (!unit)
		return nr_error_set(err, -NR_E_PARSE, "the unit-stop action has no unit");
	if (unit_active(ctx, user, unit))
		return 0;
	st = systemctl(ctx, user, "start", unit, &what, err);
	if (st < 0) {
		free(what);
		return st;
	}
	if (st != 0 || !unit_active(ctx, user, unit)) {
		nr_error_set(err, -NR_E_COMMAND, "%s is not active again (systemctl start: exit status %d%s%s): "
			     "start it by hand (systemctl start %s)", unit, st, what && *what ? ", " : "",
			     what ? what : "", unit);
		free(what);
		return -NR_E_COMMAND;
	}
	free(what);
	if (asprintf(done, "started %s", unit) < 0)
		*done = NULL;
	return 0;
}

/* ------------------------------------------------------------------ vtcon-unbind -- */

char *nr_action_vtcon_unbind_describe(const struct nr_action *a)
{
	const char *con = nr_action_get(a, "console");
	char *out = NULL;

	if (asprintf(&out, "unbind the virtual console %s from the GPU (bound again on release)", con ? con : "?") < 0)
		out = NULL;
	return out;
}

static int vtcon_set(const struct nr_ctx *ctx, const struct nr_action *a, const char *want, char **done,
		     struct nr_error *err)
{
	const char *con = nr_action_get(a, "console");
	char rel[160], now[16];
	int rc;

	*done = NULL;
	if (!con || strchr(con, '/') || !*con)
		return nr_error_set(err, -NR_E_PARSE, "the vtcon-unbind action has no console");
	snprintf(rel, sizeof(rel), "sys/class/vtconsole/%s/bind", con);
	sys_line(ctx, rel, now, sizeof(now));
	if (strcmp(now, want) == 0)
		return 0;
	if ((rc = nr_sysfs_write(ctx, rel, want, err)) < 0)
		return rc;
	sys_line(ctx, rel, now, sizeof(now));
	if (strcmp(now, want) != 0)
		return nr_error_set(err, -NR_E_IO, "the virtual console %s is still %s", con,
				    strcmp(want, "1") == 0 ? "unbound" : "bound");
	if (asprintf(done, "%s the virtual console %s", strcmp(want, "1") == 0 ? "bound" : "unbound", con) < 0)
		*done = NULL;
	return 0;
}

int nr_action_vtcon_unbind_apply(const struct nr_ctx *ctx, const struct nr_root *r, const struct nr_action *a,
				 char **done, struct nr_error *err)
{
	return vtcon_set(ctx, a, "0", done, err);
}

int nr_action_vtcon_unbind_revert(const struct nr_ctx *ctx, const struct nr_root *r, const struct nr_action *a,
				  char **done, struct nr_error *err)
{
	return vtcon_set(ctx, a, "1", done, err);
}

/* ------------------------------------------------------------------ fb-release -- */

char *nr_action_fb_release_describe(const struct nr_action *a)
{
	const char *drv = nr_action_get(a, "driver"), *dev = nr_action_get(a, "device");
	char *out = NULL;

	if (asprintf(&out, "release the firmware framebuffer %s from %s (bound again on release)", dev ? dev : "?",
		     drv ? drv : "?") < 0)
		out = NULL;
	return out;
}

static int fb_args(const struct nr_action *a, const char **drv, const char **dev, struct nr_error *err)
{
	*drv = nr_action_get(a, "driver");
	*dev = nr_action_get(a, "device");
	if (!*drv || !*dev || !**drv || !**dev || strchr(*drv, '/') || strchr(*dev, '/'))
		return nr_error_set(err, -NR_E_PARSE, "the fb-release action has no driver or device");
	return 0;
}

static int fb_set(const struct nr_ctx *ctx, const struct nr_action *a, bool bound, char **done,
		  struct nr_error *err)
{
	const char *drv, *dev;
	char link[256], ctl[256];
	int rc;

	*done = NULL;
	if ((rc = fb_args(a, &drv, &dev, err)) < 0)
		return rc;
	snprintf(link, sizeof(link), "sys/bus/platform/drivers/%s/%s", drv, dev);
	if (sys_exists(ctx, link) == bound)
		return 0;
	snprintf(ctl, sizeof(ctl), "sys/bus/platform/drivers/%s/%s", drv, bound ? "bind" : "unbind");
	if ((rc = nr_sysfs_write(ctx, ctl, dev, err)) < 0)
		return rc;
	if (sys_exists(ctx, link) != bound)
		return nr_error_set(err, -NR_E_IO, bound ? "the framebuffer %s did not come back to %s: the GPU's own "
				    "driver gives the console its framebuffer once it holds the GPU again" :
				    "the framebuffer %s is still bound to %s", dev, drv);
	if (asprintf(done, "%s %s %s %s", bound ? "bound" : "released", dev, bound ? "to" : "from", drv) < 0)
		*done = NULL;
	return 0;
}

int nr_action_fb_release_apply(const struct nr_ctx *ctx, const struct nr_root *r, const struct nr_action *a,
			       char **done, struct nr_error *err)
{
	return fb_set(ctx, a, false, done, err);
}

int nr_action_fb_release_revert(const struct nr_ctx *ctx, const struct nr_root *r, const struct nr_action *a,
				char **done, struct nr_error *err)
{
	return fb_set(ctx, a, true, done, err);
}

/* ------------------------------------------------------------------ gpu-holders -- */

static bool is_pid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* Whether the device node target (/dev/dri/card0) belongs to the set. */
static bool node_of_set(const struct nr_ctx *ctx, const char *target, const char *const *addrs, size_t n_addrs,
			bool nvidia)
{
	char base[64], *p;

	if (strncmp(target, "/dev/nvidia", 11) == 0)
		return nvidia;
	if (strncmp(target, "/dev/dri/", 9) != 0 || strchr(target + 9, '/'))
		return false;
	p = sys_path(ctx, "sys/class/drm/%s/device", target + 9);
	if (!p || nr_read_link_base(p, base, sizeof(base)) < 0) {
		free(p);
		return true;    /* cannot tell which GPU: count it */
	}
	free(p);
	for (size_t i = 0; i < n_addrs; i++)
		if (strcmp(base, addrs[i]) == 0)
			return true;
	return false;
}

int nr_single_holders(const struct nr_ctx *ctx, const char *const *addrs, size_t n_addrs, bool nvidia,
		      char ***lines, size_t *n, struct nr_error *err)
{
	char *proc = nr_ctx_sys_path(ctx, "proc");
	DIR *d = proc ? opendir(proc) : NULL;
	struct dirent *e;
	int rc = 0;

	if (!proc)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	while (d && rc == 0 && (e = readdir(d))) {
		char fddir[4096], comm[64] = "?";
		DIR *fds;
		struct dirent *f;

		if (!is_pid(e->d_name))
			continue;
		snprintf(fddir, sizeof(fddir), "%s/%s/comm", proc, e->d_name);
		if (nr_read_line(fddir, comm, sizeof(comm)) < 0)
			snprintf(comm, sizeof(comm), "?");
		clean(comm);
		snprintf(fddir, sizeof(fddir), "%s/%s/fd", proc, e->d_name);
		if (!(fds = opendir(fddir)))
			continue;       /* gone, or not ours to see */
		while (rc == 0 && (f = readdir(fds))) {
			char link[4400], target[256];
			ssize_t len;

			if (!is_pid(f->d_name))
				continue;
			snprintf(link, sizeof(link), "%s/%s", fddir, f->d_name);
			if ((len = readlink(link, target, sizeof(target) - 1)) <= 0)
				continue;
			target[len] = '\0';
			if (node_of_set(ctx, target, addrs, n_addrs, nvidia)) {
				char *line = NULL;
				clean(target);
				if (asprintf(&line, "%s (%s) %s", e->d_name, comm, target) < 0)
					line = NULL;
				if (nr_strv_take(lines, n, line) < 0)
					rc = nr_error_set(err, -NR_E_NOMEM, NULL);
				break;  /* one line per process */
			}
		}
		closedir(fds);
	}
	if (d)
		closedir(d);
	free(proc);
	return rc;
}

static int holders_args(const struct nr_action *a, char ***addrs, size_t *n, bool *nvidia)
{
	const char *s = nr_action_get(a, "addrs"), *nv = nr_action_get(a, "nvidia");
	char *copy, *tok, *save = NULL;

	*addrs = NULL;
	*n = 0;
	*nvidia = nv && strcmp(nv, "yes") == 0;
	if (!s || !(copy = strdup(s)))
		return s ? -NR_E_NOMEM : -NR_E_PARSE;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (nr_strv_add(addrs, n, tok) < 0) {
			free(copy);
			return -NR_E_NOMEM;
		}
	free(copy);
	return 0;
}

char *nr_action_gpu_holders_describe(const struct nr_action *a)
{
	const char *s = nr_action_get(a, "addrs");
	char *out = NULL;

	if (asprintf(&out, "check that nothing holds %s any more (/dev/dri, /dev/nvidia*)", s ? s : "?") < 0)
		out = NULL;
	return out;
}

int nr_action_gpu_holders_apply(const struct nr_ctx *ctx, const struct nr_root *r, const struct nr_action *a,
				char **done, struct nr_error *err)
{
	char **addrs = NULL, **lines = NULL;
	size_t n_addrs = 0, n = 0;
	bool nvidia;
	int rc;

	*done = NULL;
	if ((rc = holders_args(a, &addrs, &n_addrs, &nvidia)) < 0) {
		nr_strv_free(addrs, n_addrs);
		return nr_error_set(err, rc, rc == -NR_E_PARSE ? "the gpu-holders action has no addrs" : NULL);
	}
	rc = nr_single_holders(ctx, (const char *const *)addrs, n_addrs, nvidia, &lines, &n, err);
	if (rc == 0 && n > 0) {
		struct nr_buf b;
		nr_buf_init(&b);
		for (size_t i = 0; i < n; i++)
			nr_buf_printf(&b, "%s%s", i ? "; " : "", lines[i]);
		rc = nr_error_set(err, -NR_E_BUSY, "the GPU is still held by %s: stop these first (or their "
				  "service), then start again", b.data ? b.data : "processes");
		nr_buf_done(&b);
	}
	nr_strv_free(lines, n);
	nr_strv_free(addrs, n_addrs);
	return rc;
}

int nr_action_gpu_holders_revert(const struct nr_ctx *ctx, const struct nr_root *r, const struct nr_action *a,
				 char **done, struct nr_error *err)
{
	*done = NULL;   /* a check: nothing to undo */
	return 0;
}

/* ------------------------------------------------------------------ pci-driver -- */

char *nr_action_pci_driver_describe(const struct nr_action *a)
{
	const char *addr = nr_action_get(a, "addr"), *before = nr_action_get(a, "before");
	char *out = NULL;

	if (asprintf(&out, "move %s from %s to vfio-pci (back to %s on release)", addr ? addr : "?",
		     before && strcmp(before, "-") ? before : "no driver",
		     before && strcmp(before, "-") ? before : "the kernel's choice") < 0)
		out = NULL;
	return out;
}

static int pci_args(const struct nr_action *a, const char **addr, const char **before, struct nr_error *err)
{
	char check[NR_ADDR_LEN];

	*addr = nr_action_get(a, "addr");
	*before = nr_action_get(a, "before");
	if (!*addr || !*before || nr_pci_parse_addr(*addr, check) < 0 || strcmp(check, *addr) != 0 ||
	    strchr(*before, '/') || !**before)
		return nr_error_set(err, -NR_E_PARSE, "the pci-driver action has no valid addr or before");
	return 0;
}

int nr_action_pci_driver_apply(const struct nr_ctx *ctx, const struct nr_root *r, const struct nr_action *a,
			       char **done, struct nr_error *err)
{
	const char *addr, *before;
	char now[128], rel[256];
	int rc;

	*done = NULL;
	if ((rc = pci_args(a, &addr, &before, err)) < 0)
		return rc;
	pci_driver_now(ctx, addr, now, sizeof(now));
	if (strcmp(now, NR_VFIO_DRIVER) == 0)
		return 0;
	/* override first, so that nothing but vfio-pci can claim it once unbound */
	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/driver_override", addr);
	if ((rc = nr_sysfs_write(ctx, rel, NR_VFIO_DRIVER, err)) < 0)
		return rc;
	if (now[0]) {
		snprintf(rel, sizeof(rel), "sys/bus/pci/drivers/%s/unbind", now);
		if ((rc = nr_sysfs_write(ctx, rel, addr, err)) < 0)
			return rc;
	}
	/* the kernel answers a probe that found no driver with an error: the check below says */
	nr_sysfs_write(ctx, "sys/bus/pci/drivers_probe", addr, NULL);
	pci_driver_now(ctx, addr, now, sizeof(now));
	if (strcmp(now, NR_VFIO_DRIVER) != 0)
		return nr_error_set(err, -NR_E_IO, "%s did not go to vfio-pci (%s): is vfio-pci loaded?", addr,
				    now[0] ? now : "no driver");
	if (asprintf(done, "moved %s to vfio-pci", addr) < 0)
		*done = NULL;
	return 0;
}

int nr_action_pci_driver_revert(const struct nr_ctx *ctx, const struct nr_root *r, const struct nr_action *a,
				char **done, struct nr_error *err)
{
	const char *addr, *before;
	char now[128], override[128], rel[256];
	bool want_none;
	int rc;

	*done = NULL;
	if ((rc = pci_args(a, &addr, &before, err)) < 0)
		return rc;
	want_none = strcmp(before, "-") == 0;
	pci_driver_now(ctx, addr, now, sizeof(now));
	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/driver_override", addr);
	sys_line(ctx, rel, override, sizeof(override));
	if ((want_none ? !now[0] : strcmp(now, before) == 0) && (!override[0] || strcmp(override, "(null)") == 0))
		return 0;
	if ((rc = nr_sysfs_write(ctx, rel, "\n", err)) < 0)
		return rc;
	if (now[0] && (want_none || strcmp(now, before) != 0)) {
		snprintf(rel, sizeof(rel), "sys/bus/pci/drivers/%s/unbind", now);
		if ((rc = nr_sysfs_write(ctx, rel, addr, err)) < 0)
			return rc;
	}
	if (!want_none) {
		pci_driver_now(ctx, addr, now, sizeof(now));
		if (strcmp(now, before) != 0) {
			snprintf(rel, sizeof(rel), "sys/bus/pci/drivers/%s/bind", before);
			if ((rc = nr_sysfs_write(ctx, rel, addr, err)) < 0)
				return rc;
		}
		pci_driver_now(ctx, addr, now, sizeof(now));
		if (strcmp(now, before) != 0)
			return nr_error_set(err, -NR_E_IO, "%s is not back on %s (%s): try 'modprobe %s', then "
					    "'neuronctl gpu restore' again", addr, before, now[0] ? now : "no driver",
					    before);
	}
	if (asprintf(done, "gave %s back to %s", addr, want_none ? "no driver" : before) < 0)
		*done = NULL;
	return 0;
}

/* ------------------------------------------------------------------ the planner -- */

int nr_single_display_manager(const struct nr_ctx *ctx, char **unit, bool *known, struct nr_error *err)
{
	struct nr_root r = { .fd = -1 };
	char *rel = NULL;
	const char *base;
	int rc;

	*unit = NULL;
	*known = false;
	if ((rc = nr_root_open(&r, nr_ctx_get(ctx, "root"), err)) < 0)
		return rc;
	rc = nr_root_resolve(&r, "/etc/systemd/system/display-manager.service", &rel, err);
	if (rc == 0 && (strcmp(rel, "etc/systemd/system/display-manager.service") == 0 || !nr_root_exists(&r, rel)))
		rc = nr_error_set(err, -NR_E_NOTFOUND, "%s/etc/systemd/system/display-manager.service is not a link "
				  "to a display manager's unit", r.path);
	if (rc == 0) {
		base = strrchr(rel, '/');
		base = base ? base + 1 : rel;
		if (!(*unit = strdup(base)))
			rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		for (size_t i = 0; rc == 0 && known_dms[i]; i++)
			if (strcmp(known_dms[i], base) == 0)
				*known = true;
	}
	free(rel);
	nr_root_close(&r);
	return rc;
}

static int add(struct nr_plan *plan, const char *type, const char *const *kv, struct nr_error *err)
{
	return nr_plan_add_action(plan, type, kv, err);
}

static int plan_unit(const struct nr_ctx *ctx, struct nr_plan *plan, const char *user, const char *unit,
		     struct nr_error *err)
{
	char path[256];

	if (!unit_active(ctx, user, unit))
		return 0;
	snprintf(path, sizeof(path), "unit:%s:%s", user ? user : "", unit);
	return add(plan, "unit-stop", (const char *const[]){ "path", path, "unit", unit, "user", user ? user : "",
		   NULL }, err);
}

/* The root's passwd, read inside the root; NULL when it has none. */
static char *root_passwd(const struct nr_ctx *ctx)
{
	struct nr_root r = { .fd = -1 };
	char *text = NULL;

	if (nr_root_open(&r, nr_ctx_get(ctx, "root"), NULL) == 0 &&
	    nr_root_read(&r, "etc/passwd", 1 << 20, &text, NULL, NULL, NULL, NULL, NULL) < 0)
		text = NULL;
	nr_root_close(&r);
	return text;
}

/* The users with a session (run/user/UID under the sysroot), by name from the root's passwd. */
static int session_users(const struct nr_ctx *ctx, char ***names, size_t *n)
{
	char *dir = nr_ctx_sys_path(ctx, "run/user"), *passwd = NULL;
	DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *e;
	int rc = 0;

	if (d)
		passwd = root_passwd(ctx);
	while (d && passwd && rc == 0 && (e = readdir(d))) {
		char *line, *save = NULL, *copy;
		if (!is_pid(e->d_name) || !(copy = strdup(passwd)))
			continue;
		for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *f[4] = { 0 }, *s2 = NULL, *t = strtok_r(line, ":", &s2);
			for (int i = 0; i < 3 && t; i++, t = strtok_r(NULL, ":", &s2))
				f[i] = t;
			if (f[0] && f[2] && strcmp(f[2], e->d_name) == 0) {
				rc = nr_strv_add(names, n, f[0]);
				break;
			}
		}
		free(copy);
	}
	if (d)
		closedir(d);
	free(dir);
	free(passwd);
	return rc;
}

static int plan_units(const struct nr_ctx *ctx, struct nr_plan *plan, const struct nr_pci_dev *gpu,
		      struct nr_error *err)
{
	char *dm = NULL, **users = NULL;
	size_t n_users = 0;
	bool known;
	int rc = nr_single_display_manager(ctx, &dm, &known, NULL);

	if (rc == 0) {
		if (!known)
			nr_plan_add_note(plan, "%s is a display manager this program does not know: it is stopped "
					 "and started like the others", dm);
		rc = plan_unit(ctx, plan, NULL, dm, err);
	} else {
		nr_plan_add_note(plan, "no display manager found (etc/systemd/system/display-manager.service): "
				 "a desktop started by hand must be ended first");
		rc = 0;
	}
	free(dm);
	if (rc == 0 && gpu->vendor == 0x10de)
		rc = plan_unit(ctx, plan, NULL, "nvidia-persistenced.service", err);
	if (rc == 0 && (rc = session_users(ctx, &users, &n_users)) < 0)
		rc = nr_error_set(err, rc, NULL);
	for (size_t i = 0; rc == 0 && i < n_users; i++)
		for (size_t k = 0; rc == 0 && wayland_user_units[k]; k++)
			rc = plan_unit(ctx, plan, users[i], wayland_user_units[k], err);
	nr_strv_free(users, n_users);
	return rc;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Virtual consoles bound now, other than the dummy one (which holds nothing). */
static int plan_consoles(const struct nr_ctx *ctx, struct nr_plan *plan, struct nr_error *err)
{
	char *dir = nr_ctx_sys_path(ctx, "sys/class/vtconsole");
	struct dirent **list = NULL;
	int n = dir ? scandir(dir, &list, NULL, by_name) : -1, rc = 0;

	for (int i = 0; i < n; i++) {
		char rel[300], bind[16], name[128], path[300];
		const char *con = list[i]->d_name;
		if (rc == 0 && strncmp(con, "vtcon", 5) == 0 && is_pid(con + 5)) {
			snprintf(rel, sizeof(rel), "sys/class/vtconsole/%s/bind", con);
			sys_line(ctx, rel, bind, sizeof(bind));
			snprintf(rel, sizeof(rel), "sys/class/vtconsole/%s/name", con);
			sys_line(ctx, rel, name, sizeof(name));
			if (strcmp(bind, "1") == 0 && !strstr(name, "dummy")) {
				snprintf(path, sizeof(path), "/sys/class/vtconsole/%s", con);
				rc = add(plan, "vtcon-unbind", (const char *const[]){ "path", path, "console", con, NULL },
					 err);
			}
		}
		free(list[i]);
	}
	free(list);
	free(dir);
	return rc;
}

static int plan_framebuffers(const struct nr_ctx *ctx, struct nr_plan *plan, struct nr_error *err)
{
	int rc = 0;

	for (size_t k = 0; rc == 0 && firmware_fbs[k]; k++) {
		char *dir = sys_path(ctx, "sys/bus/platform/drivers/%s", firmware_fbs[k]);
		struct dirent **list = NULL;
		size_t plen = strlen(firmware_fbs[k]);
		int n = dir ? scandir(dir, &list, NULL, by_name) : -1;

		for (int i = 0; i < n; i++) {
			const char *dev = list[i]->d_name;
			char path[300];
			if (rc == 0 && strncmp(dev, firmware_fbs[k], plen) == 0 && dev[plen] == '.') {
				snprintf(path, sizeof(path), "/sys/bus/platform/drivers/%s/%s", firmware_fbs[k], dev);
				rc = add(plan, "fb-release", (const char *const[]){ "path", path, "driver", firmware_fbs[k],
					 "device", dev, NULL }, err);
			}
			free(list[i]);
		}
		free(list);
		free(dir);
	}
	return rc;
}

int nr_single_plan(const struct nr_ctx *ctx, const struct nr_scan *scan, const char *gpu_addr,
		   struct nr_plan **out, struct nr_error *err)
{
	const struct nr_pci_dev *dev = nr_scan_device(scan, gpu_addr);
	const struct nr_gpu *g = nr_scan_gpu(scan, gpu_addr);
	struct nr_plan *plan;
	struct nr_buf addrs;
	char *vfio;
	struct stat st;
	int rc;

	*out = NULL;
	if (!dev)
		return nr_error_set(err, -NR_E_NODEVICE, "there is no PCI device %s (see 'neuronctl scan')", gpu_addr);
	if (!g)
		return nr_error_set(err, -NR_E_NODEVICE, "%s is not a GPU (class %04x); name the GPU's own function",
				    dev->addr, dev->class_id);
	if (!scan->iommu)
		return nr_error_set(err, -NR_E_NOIOMMU, "the IOMMU is off, so vfio-pci cannot take %s: "
				    "run 'neuronctl check' for the kernel options", dev->addr);
	if (!g->isolated)
		return nr_error_set(err, -NR_E_GROUP, "%s is not isolated in its IOMMU group: see 'neuronctl check'",
				    dev->addr);
	vfio = sys_path(ctx, "sys/bus/pci/drivers/%s", NR_VFIO_DRIVER);
	rc = vfio && stat(vfio, &st) == 0 && S_ISDIR(st.st_mode);
	free(vfio);
	if (!rc)
		return nr_error_set(err, -NR_E_NOTFOUND, "the vfio-pci driver is not loaded: modprobe vfio-pci");
	if (!(plan = nr_plan_new(ctx, NR_SINGLE_PLAN)))
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	nr_buf_init(&addrs);
	for (size_t i = 0; i < g->n_set; i++)
		if (!nr_pci_is_bridge(&scan->devices[g->set[i]]))
			nr_buf_printf(&addrs, "%s%s", addrs.len ? "," : "", scan->devices[g->set[i]].addr);
	rc = addrs.oom || nr_plan_set_meta(plan, "gpu", dev->addr) < 0 ? nr_error_set(err, -NR_E_NOMEM, NULL) : 0;
	if (rc == 0)
		rc = plan_units(ctx, plan, dev, err);
	if (rc == 0)
		rc = plan_consoles(ctx, plan, err);
	if (rc == 0)
		rc = plan_framebuffers(ctx, plan, err);
	if (rc == 0) {
		char path[64];
		snprintf(path, sizeof(path), "holders:%s", dev->addr);
		rc = add(plan, "gpu-holders", (const char *const[]){ "path", path, "addrs", addrs.data ? addrs.data : "",
			 "nvidia", dev->vendor == 0x10de ? "yes" : "no", NULL }, err);
	}
	for (size_t i = 0; rc == 0 && i < g->n_set; i++) {
		const struct nr_pci_dev *d = &scan->devices[g->set[i]];
		char path[64];
		if (nr_pci_is_bridge(d))
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", d->addr);
		rc = add(plan, "pci-driver", (const char *const[]){ "path", path, "addr", d->addr,
			 "before", d->driver && strcmp(d->driver, NR_VFIO_DRIVER) ? d->driver : "-", NULL }, err);
	}
	nr_buf_done(&addrs);
	if (rc < 0) {
		nr_plan_free(plan);
		return rc;
	}
	*out = plan;
	return 0;
}

const char *nr_single_gpu_of(const struct nr_scan *scan, const struct nr_domain_info *info)
{
	if (info->gpu_mode == NR_GPU_MODE_DEDICATED)
		return NULL;
	for (size_t i = 0; i < info->n_pci; i++) {
		const struct nr_gpu *g = nr_scan_gpu(scan, info->pci[i]);
		const struct nr_pci_dev *d = g ? &scan->devices[g->dev] : NULL;
		if (!g)
			continue;
		if (info->gpu_mode == NR_GPU_MODE_SINGLE)
			return d->addr;
		/* auto: the boot GPU, unless vfio-pci has it already (a dedicated one: the host
		 * shows on another GPU, and stopping its desktop would only lose the user's work) */
		if (g->boot_vga && !(d->driver && strcmp(d->driver, NR_VFIO_DRIVER) == 0))
			return d->addr;
	}
	return NULL;
}

const struct nr_gpu *nr_single_gpu_offer(const struct nr_scan *scan)
{
	const struct nr_gpu *boot = NULL;

	if (!scan->iommu)
		return NULL;
	for (size_t i = 0; i < scan->n_gpus; i++) {
		const struct nr_gpu *g = &scan->gpus[i];
		if (g->boot_vga && !boot)
			boot = g;
		else if (nr_gpu_choosable(scan, g, false, false, NULL) == 0)
			return NULL;    /* another GPU can go to the guest: no need to lend the screen's */
	}
	return boot && boot->isolated && boot->n_groups ? boot : NULL;
}

/* ------------------------------------------------------------------ run it -- */

int nr_single_release(const struct nr_ctx *ctx, const struct nr_plan_opts *opts, struct nr_error *err)
{
	return nr_plan_revert(ctx, NR_SINGLE_PLAN, opts, NULL, err);
}

int nr_single_handoff(const struct nr_ctx *ctx, struct nr_plan *plan, const struct nr_plan_opts *opts,
		      struct nr_error *err)
{
	struct nr_plan_opts release = { 0 };
	struct nr_error why = { 0 }, rerr = { 0 };
	char *recorded = nr_single_recorded(ctx);
	int rc;

	if (recorded) {
		rc = nr_error_set(err, -NR_E_BUSY, "a hand-off of %s is recorded already (a VM has it, or a "
				  "crash left it): give it back first with 'neuronctl gpu restore'", recorded);
		free(recorded);
		return rc;
	}
	rc = nr_plan_apply(plan, opts, NULL, &why);

	if (rc == 0 || rc == -NR_E_FAULT) {     /* a fault is a crash: the journal waits for restore */
		if (err)
			*err = why;
		return rc;
	}
	if (opts) {
		release.output = opts->output;
		release.userdata = opts->userdata;
	}
	if (nr_single_release(ctx, &release, &rerr) < 0)
		nr_error_set(err, rc, "%s; the release failed too: %s", why.msg, rerr.msg);
	else
		nr_error_set(err, rc, "%s (the hand-off was undone: the screen is back)", why.msg);
	return rc;
}

char *nr_single_recorded(const struct nr_ctx *ctx)
{
	struct nr_plan_status st;
	char *gpu = NULL;

	if (nr_plan_status_read(ctx, NR_SINGLE_PLAN, &st, NULL) < 0)
		return NULL;
	if (st.state != NR_PLAN_STATE_NONE) {
		const char *g = nr_plan_status_meta(&st, "gpu");
		gpu = strdup(g ? g : "?");
	}
	nr_plan_status_done(&st);
	return gpu;
}
