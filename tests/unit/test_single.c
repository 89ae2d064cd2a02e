/* The single-GPU hand-off on a copy of the single-gpu fixture machine, with a fake kernel
 * behind every sysfs write (it records them and moves the driver links as the kernel would)
 * and a systemctl stand-in whose units are files under the root: the exact writes and
 * commands, the state after the hand-off, the release back to the same bytes, a stop at
 * every step (hand-off and release) followed by recovery, and what still holds the GPU. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/input.h>

#include "base/internal.h"
#include "neuron/check.h"
#include "neuron/domain.h"
#include "neuron/plan.h"
#include "neuron/single.h"
#include "neuron/util.h"
#include "unit.h"

struct env {
	char *dir;
	char sys[256], root[256], log[300];
	struct nr_ctx *ctx;
	struct nr_buf writes;       /* "REL VALUE" lines the fake kernel saw */
};

/* ------------------------------------------------------------------ the fake kernel -- */

static bool is_link(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0 && S_ISLNK(st.st_mode);
}

static int link_base(const char *p, char *buf, size_t size)
{
	char t[120];
	ssize_t n = readlink(p, t, sizeof(t) - 1);
	const char *b;

	if (n <= 0)
		return -1;
	t[n] = '\0';
	b = strrchr(t, '/');
	snprintf(buf, size, "%s", b ? b + 1 : t);
	return 0;
}

/* Take a link away as unbinding does: the machine's own (not vfio-pci's, which the fake
 * kernel made) kept beside it the first time, so that binding the same driver again puts
 * back the very same link. */
static void unlink_keep(const char *dir, const char *name)
{
	char p[900], stash[900], base[128] = "";
	size_t n = strlen(dir);

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	snprintf(stash, sizeof(stash), "%s/.stash-%s", dir, name);
	link_base(p, base, sizeof(base));
	if (is_link(stash) || strcmp(base, "vfio-pci") == 0 || (n > 9 && strcmp(dir + n - 9, "/vfio-pci") == 0))
		assert_int_equal(unlink(p), 0);
	else
		assert_int_equal(rename(p, stash), 0);
}

static void link_back(const char *dir, const char *name, const char *target_driver, const char *fallback)
{
	char p[900], stash[900], base[128];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	snprintf(stash, sizeof(stash), "%s/.stash-%s", dir, name);
	if (is_link(stash) && link_base(stash, base, sizeof(base)) == 0 &&
	    (strcmp(base, target_driver) == 0 || strcmp(base, name) == 0))
		assert_int_equal(rename(stash, p), 0);
	else
		assert_int_equal(symlink(fallback, p), 0);
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int pci_bind(struct env *e, const char *addr, const char *drv)
{
	char ddir[600], drvdir[600], fallback[300];
	struct stat st;

	snprintf(drvdir, sizeof(drvdir), "%s/sys/bus/pci/drivers/%s", e->sys, drv);
	snprintf(ddir, sizeof(ddir), "%s/sys/bus/pci/devices/%s", e->sys, addr);
	if (stat(drvdir, &st) < 0)
		return ENODEV;
	snprintf(fallback, sizeof(fallback), "../../../bus/pci/drivers/%s", drv);
	link_back(ddir, "driver", drv, fallback);
	snprintf(fallback, sizeof(fallback), "../../../../devices/%s", addr);
	link_back(drvdir, addr, addr, fallback);
	return 0;
}

static int fake_kernel(void *data, const char *path, const char *value)
{
	struct env *e = data;
	size_t n = strlen(e->sys);
	const char *rel = path + n + 1;
	char buf[900], drv[128], addr[64];

	assert_true(strncmp(path, e->sys, n) == 0 && path[n] == '/');
	nr_buf_printf(&e->writes, "%s %s\n", rel, strcmp(value, "\n") ? value : "\\n");
	if (sscanf(rel, "sys/bus/pci/devices/%63[^/]/driver_overrid%1[e]", addr, drv) == 2) {
		snprintf(buf, sizeof(buf), "%s\n", strcmp(value, "\n") ? value : "(null)");
		put(path, buf);
		return 0;
	}
	if (sscanf(rel, "sys/class/vtconsole/vtcon%*d/bin%1[d]", drv) == 1) {
		snprintf(buf, sizeof(buf), "%s\n", value);
		put(path, buf);
		return 0;
	}
	if (sscanf(rel, "sys/bus/pci/drivers/%127[^/]/unbin%1[d]", drv, addr) == 2) {
		char cur[128];
		snprintf(buf, sizeof(buf), "%s/sys/bus/pci/devices/%s/driver", e->sys, value);
		if (link_base(buf, cur, sizeof(cur)) < 0 || strcmp(cur, drv) != 0)
			return ENODEV;
		snprintf(buf, sizeof(buf), "%s/sys/bus/pci/devices/%s", e->sys, value);
		unlink_keep(buf, "driver");
		snprintf(buf, sizeof(buf), "%s/sys/bus/pci/drivers/%s", e->sys, drv);
		unlink_keep(buf, value);
		return 0;
	}
	if (sscanf(rel, "sys/bus/pci/drivers/%127[^/]/bin%1[d]", drv, addr) == 2)
		return pci_bind(e, value, drv);
	if (strcmp(rel, "sys/bus/pci/drivers_probe") == 0) {
		char ovr[128] = "", cur[128];
		snprintf(buf, sizeof(buf), "%s/sys/bus/pci/devices/%s/driver", e->sys, value);
		if (link_base(buf, cur, sizeof(cur)) == 0)
			return 0;
		snprintf(buf, sizeof(buf), "%s/sys/bus/pci/devices/%s/driver_override", e->sys, value);
		nr_read_line(buf, ovr, sizeof(ovr));
		if (strcmp(ovr, "(null)") != 0)
			return pci_bind(e, value, ovr);
		snprintf(buf, sizeof(buf), "%s/sys/bus/pci/devices/%s/.stash-driver", e->sys, value);
		return link_base(buf, cur, sizeof(cur)) == 0 ? pci_bind(e, value, cur) : ENODEV;
	}
	if (sscanf(rel, "sys/bus/platform/drivers/%127[^/]/unbin%1[d]", drv, addr) == 2) {
		snprintf(buf, sizeof(buf), "%s/sys/bus/platform/drivers/%s", e->sys, drv);
		unlink_keep(buf, value);
		return 0;
	}
	if (sscanf(rel, "sys/bus/platform/drivers/%127[^/]/bin%1[d]", drv, addr) == 2) {
		snprintf(buf, sizeof(buf), "%s/sys/bus/platform/drivers/%s", e->sys, drv);
		link_back(buf, value, value, "../../../../devices/platform/x");
		return 0;
	}
	fail_msg("unexpected sysfs write: %s <- %s", rel, value);
	return EINVAL;
}

/* ------------------------------------------------------------------ the machine -- */

static const char systemctl_standin[] =
	"#!/bin/sh\n"
	"echo \"systemctl $*\" >> \"$NEURON_ROOT/../commands.log\"\n"
	"user=\n"
	"if [ \"$1\" = --user ]; then user=\"${3%@}/\"; shift 3; fi\n"
	"verb=$1 unit=$2 f=\"$NEURON_ROOT/run/units/$user$2\"\n"
	"[ -e \"$NEURON_ROOT/../fail-$verb\" ] && { echo \"Job for $unit failed.\"; exit 1; }\n"
	"case $verb in\n"
	"is-active) [ \"$(cat \"$f\" 2>/dev/null)\" = active ] || { echo inactive; exit 3; }; echo active ;;\n"
	"stop) [ -e \"$f\" ] && echo inactive > \"$f\"\n"
	"  [ \"$unit\" = gdm.service ] && [ -d \"$FAKE_SYSROOT/proc/4321\" ] && mv \"$FAKE_SYSROOT/proc/4321\" \"$FAKE_SYSROOT/proc/.gone-4321\"\n"
	"  exit 0 ;;\n"
	"start) [ -e \"$f\" ] || { echo \"Unit $unit not found.\"; exit 5; }; echo active > \"$f\"\n"
	"  [ \"$unit\" = gdm.service ] && [ -d \"$FAKE_SYSROOT/proc/.gone-4321\" ] && mv \"$FAKE_SYSROOT/proc/.gone-4321\" \"$FAKE_SYSROOT/proc/4321\"\n"
	"  exit 0 ;;\n"
	"esac\n";

static void env_init(struct env *e)
{
	struct nr_ctx *fixture = unit_machine_ctx("single-gpu");
	struct nr_error err = { 0 };
	char standins[300];

	memset(e, 0, sizeof(*e));
	e->dir = unit_tmpdir("single", true);
	snprintf(e->sys, sizeof(e->sys), "%s/sys", e->dir);
	snprintf(e->root, sizeof(e->root), "%s/root", e->dir);
	snprintf(e->log, sizeof(e->log), "%s/commands.log", e->dir);
	unit_sh("cp -a '%s' '%s'", nr_ctx_get(fixture, "sysroot"), e->sys);
	nr_ctx_free(fixture);
	/* what the generator leaves out: vfio-pci, the consoles, efifb, a session and Xorg on the GPU */
	unit_sh("cd '%s' && mkdir -p sys/bus/pci/drivers/vfio-pci sys/class/vtconsole/vtcon0 sys/class/vtconsole/vtcon1 "
		"sys/bus/platform/drivers/efi-framebuffer sys/devices/platform/efi-framebuffer.0 sys/class/drm "
		"proc/4321/fd proc/1/fd run/user/1000 && : > sys/bus/pci/drivers_probe && "
		"for d in sys/bus/pci/drivers/*; do : > $d/bind; : > $d/unbind; done && "
		": > sys/bus/platform/drivers/efi-framebuffer/bind && : > sys/bus/platform/drivers/efi-framebuffer/unbind && "
		"ln -s ../../../../devices/platform/efi-framebuffer.0 sys/bus/platform/drivers/efi-framebuffer/efi-framebuffer.0 && "
		"echo 1 > sys/class/vtconsole/vtcon0/bind && echo '(S) dummy device' > sys/class/vtconsole/vtcon0/name && "
		"echo 1 > sys/class/vtconsole/vtcon1/bind && echo '(M) frame buffer device' > sys/class/vtconsole/vtcon1/name && "
		"mkdir -p sys/devices/drm/card0 && ln -s ../../../bus/pci/devices/0000:09:00.0 sys/devices/drm/card0/device && "
		"ln -s ../../devices/drm/card0 sys/class/drm/card0 && "
		"echo Xorg > proc/4321/comm && ln -s /dev/dri/card0 proc/4321/fd/7 && "
		"echo systemd > proc/1/comm && ln -s /dev/null proc/1/fd/0", e->sys);
	unit_sh("mkdir -p '%s/etc/systemd/system' '%s/usr/lib/systemd/system' '%s/run/units/alice' && "
		": > '%s/usr/lib/systemd/system/gdm.service' && "
		"ln -s /usr/lib/systemd/system/gdm.service '%s/etc/systemd/system/display-manager.service' && "
		"echo 'root:x:0:0::/root:/bin/sh' > '%s/etc/passwd' && echo 'alice:x:1000:1000::/home/alice:/bin/sh' >> '%s/etc/passwd' && "
		"echo active > '%s/run/units/gdm.service' && echo active > '%s/run/units/nvidia-persistenced.service' && "
		"echo active > '%s/run/units/alice/org.gnome.Shell@wayland.service'",
		e->root, e->root, e->root, e->root, e->root, e->root, e->root, e->root, e->root, e->root);
	snprintf(standins, sizeof(standins), "%s/standins", e->dir);
	unit_put(unit_path(standins, "systemctl"), systemctl_standin, 0755);
	setenv("FAKE_SYSROOT", e->sys, 1);
	e->ctx = nr_ctx_new();
	assert_int_equal(nr_ctx_set(e->ctx, "sysroot", e->sys, &err), 0);
	assert_int_equal(nr_ctx_set(e->ctx, "root", e->root, &err), 0);
	assert_int_equal(nr_ctx_set(e->ctx, "run.standins", standins, &err), 0);
	nr_buf_init(&e->writes);
	nr_sysfs_set_writer(fake_kernel, e);
}

static void env_done(struct env *e)
{
	nr_sysfs_set_writer(NULL, NULL);
	nr_buf_done(&e->writes);
	nr_ctx_free(e->ctx);
	unit_rmtree_free(&e->dir);
}

/* ------------------------------------------------------------------ the host's state -- */

static struct nr_buf *snap_buf;
static const char *snap_top;

static int snap_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	char line[1400], t[512];
	ssize_t n;

	if (type == FTW_SL) {
		n = readlink(path, t, sizeof(t) - 1);
		t[n > 0 ? n : 0] = '\0';
		snprintf(line, sizeof(line), "%s -> %s", path + strlen(snap_top), t);
	} else if (type == FTW_F) {
		char *text = unit_slurp(path);
		snprintf(line, sizeof(line), "%s %o [%s]", path + strlen(snap_top), (unsigned)(st->st_mode & 07777),
			 text ? text : "?");
		free(text);
	} else {
		snprintf(line, sizeof(line), "%s/ %o", path + strlen(snap_top), (unsigned)(st->st_mode & 07777));
	}
	nr_buf_printf(snap_buf, "%s\n", line);
	return 0;
}

static int by_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every file, link and folder of the sysroot and the root, with contents, sorted. */
static char *snapshot(struct env *e)
{
	struct nr_buf b, out;
	char **lines = NULL, *save = NULL, *l;
	size_t n = 0;

	nr_buf_init(&b);
	snap_buf = &b;
	snap_top = e->dir;
	assert_int_equal(nftw(e->sys, snap_entry, 16, FTW_PHYS), 0);
	assert_int_equal(nftw(e->root, snap_entry, 16, FTW_PHYS), 0);
	for (l = strtok_r(b.data, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		assert_int_equal(nr_strv_add(&lines, &n, l), 0);
	qsort(lines, n, sizeof(*lines), by_line);
	nr_buf_init(&out);
	for (size_t i = 0; i < n; i++)
		nr_buf_printf(&out, "%s\n", lines[i]);
	nr_strv_free(lines, n);
	nr_buf_done(&b);
	return nr_buf_steal(&out);
}

/* Equal, or fail showing the difference. */
static void assert_same_state(const char *before, const char *after)
{
	char *dir;

	if (strcmp(before, after) == 0)
		return;
	dir = unit_tmpdir("single-diff", false);
	unit_put(unit_path(dir, "before"), before, 0644);
	unit_put(unit_path(dir, "after"), after, 0644);
	unit_sh("diff -u '%s/before' '%s/after' >&2 || :", dir, dir);
	unit_rmtree_free(&dir);
	fail_msg("the host's state differs from what it was (diff above)");
}

static struct nr_plan *plan_of(struct env *e)
{
	struct nr_error err = { 0 };
	struct nr_scan *scan = unit_scan_ctx(e->ctx);
	struct nr_plan *plan = NULL;

	if (nr_single_plan(e->ctx, scan, "0000:09:00.0", &plan, &err) < 0)
		fail_msg("plan: %s", err.msg);
	nr_scan_free(scan);
	return plan;
}

static char *file(struct env *e, const char *top, const char *rel)
{
	char *t = unit_slurp(unit_path(top, rel));
	assert_non_null(t);
	(void)e;
	return t;
}

static void assert_file(struct env *e, const char *top, const char *rel, const char *want)
{
	char *t = file(e, top, rel);
	assert_string_equal(t, want);
	free(t);
}

static void assert_link_base(const char *top, const char *rel, const char *want)
{
	char b[128];

	if (!want) {
		assert_false(is_link(unit_path(top, rel)));
		return;
	}
	assert_int_equal(link_base(unit_path(top, rel), b, sizeof(b)), 0);
	assert_string_equal(b, want);
}

/* ------------------------------------------------------------------ the tests -- */

static void test_plan_steps(void **state)
{
	struct env e;
	struct nr_plan *plan;
	static const char *const want[] = {
		"unit-stop", "unit-stop", "unit-stop", "vtcon-unbind", "fb-release", "gpu-holders", "pci-driver", "pci-driver",
	};

	env_init(&e);
	plan = plan_of(&e);
	assert_int_equal(nr_plan_n_actions(plan), sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < nr_plan_n_actions(plan); i++)
		assert_string_equal(nr_plan_action(plan, i)->type, want[i]);
	assert_string_equal(nr_plan_action(plan, 0)->text, "stop gdm.service (started again on release)");
	assert_string_equal(nr_plan_action(plan, 2)->text,
			    "stop org.gnome.Shell@wayland.service of user alice (started again on release)");
	assert_string_equal(nr_plan_action(plan, 3)->text,
			    "unbind the virtual console vtcon1 from the GPU (bound again on release)");
	assert_string_equal(nr_plan_action(plan, 6)->text,
			    "move 0000:09:00.0 from nvidia to vfio-pci (back to nvidia on release)");
	nr_plan_free(plan);
	env_done(&e);
}

static void test_handoff_and_release(void **state)
{
	struct env e;
	struct nr_error err = { 0 };
	struct nr_plan *plan;
	char *before, *after, *log, *gpu;

	env_init(&e);
	before = snapshot(&e);
	plan = plan_of(&e);
	unlink(e.log);
	e.writes.len = 0;
	if (nr_single_handoff(e.ctx, plan, NULL, &err) < 0)
		fail_msg("hand-off: %s", err.msg);
	nr_plan_free(plan);
	assert_string_equal(e.writes.data,
		"sys/class/vtconsole/vtcon1/bind 0\n"
		"sys/bus/platform/drivers/efi-framebuffer/unbind efi-framebuffer.0\n"
		"sys/bus/pci/devices/0000:09:00.0/driver_override vfio-pci\n"
		"sys/bus/pci/drivers/nvidia/unbind 0000:09:00.0\n"
		"sys/bus/pci/drivers_probe 0000:09:00.0\n"
		"sys/bus/pci/devices/0000:09:00.1/driver_override vfio-pci\n"
		"sys/bus/pci/drivers/snd_hda_intel/unbind 0000:09:00.1\n"
		"sys/bus/pci/drivers_probe 0000:09:00.1\n");
	log = unit_slurp(e.log);
	assert_string_equal(log,
		"systemctl is-active gdm.service\nsystemctl stop gdm.service\n"
		"systemctl is-active nvidia-persistenced.service\nsystemctl stop nvidia-persistenced.service\n"
		"systemctl --user -M alice@ is-active org.gnome.Shell@wayland.service\n"
		"systemctl --user -M alice@ stop org.gnome.Shell@wayland.service\n");
	free(log);
	/* the state handed off */
	assert_file(&e, e.root, "run/units/gdm.service", "inactive\n");
	assert_file(&e, e.sys, "sys/class/vtconsole/vtcon1/bind", "0\n");
	assert_file(&e, e.sys, "sys/class/vtconsole/vtcon0/bind", "1\n");
	assert_link_base(e.sys, "sys/bus/platform/drivers/efi-framebuffer/efi-framebuffer.0", NULL);
	assert_link_base(e.sys, "sys/bus/pci/devices/0000:09:00.0/driver", "vfio-pci");
	assert_link_base(e.sys, "sys/bus/pci/devices/0000:09:00.1/driver", "vfio-pci");
	assert_string_equal(gpu = nr_single_recorded(e.ctx), "0000:09:00.0");
	free(gpu);
	/* one at a time: a second hand-off is refused while this one is recorded */
	plan = plan_of(&e);
	e.writes.len = 0;
	assert_int_equal(nr_single_handoff(e.ctx, plan, NULL, &err), -NR_E_BUSY);
	assert_non_null(strstr(err.msg, "gpu restore"));
	assert_int_equal(e.writes.len, 0);
	nr_plan_free(plan);
	/* and back: the reverse, each step checked, to the same bytes */
	unlink(e.log);
	e.writes.len = 0;
	if (nr_single_release(e.ctx, NULL, &err) < 0)
		fail_msg("release: %s", err.msg);
	assert_string_equal(e.writes.data,
		"sys/bus/pci/devices/0000:09:00.1/driver_override \\n\n"
		"sys/bus/pci/drivers/vfio-pci/unbind 0000:09:00.1\n"
		"sys/bus/pci/drivers/snd_hda_intel/bind 0000:09:00.1\n"
		"sys/bus/pci/devices/0000:09:00.0/driver_override \\n\n"
		"sys/bus/pci/drivers/vfio-pci/unbind 0000:09:00.0\n"
		"sys/bus/pci/drivers/nvidia/bind 0000:09:00.0\n"
		"sys/bus/platform/drivers/efi-framebuffer/bind efi-framebuffer.0\n"
		"sys/class/vtconsole/vtcon1/bind 1\n");
	log = unit_slurp(e.log);
	assert_string_equal(log,
		"systemctl --user -M alice@ is-active org.gnome.Shell@wayland.service\n"
		"systemctl --user -M alice@ start org.gnome.Shell@wayland.service\n"
		"systemctl --user -M alice@ is-active org.gnome.Shell@wayland.service\n"
		"systemctl is-active nvidia-persistenced.service\nsystemctl start nvidia-persistenced.service\n"
		"systemctl is-active nvidia-persistenced.service\n"
		"systemctl is-active gdm.service\nsystemctl start gdm.service\nsystemctl is-active gdm.service\n");
	free(log);
	unlink(e.log);
	after = snapshot(&e);
	assert_same_state(before, after);
	assert_null(nr_single_recorded(e.ctx));
	/* nothing left to release */
	assert_int_equal(nr_single_release(e.ctx, NULL, &err), -NR_E_NOTFOUND);
	free(before);
	free(after);
	env_done(&e);
}

/* A stop (a crash) after every step of the hand-off, then the release from the journal. */
static void test_fault_every_handoff_step(void **state)
{
	struct env e;
	struct nr_error err = { 0 };
	char *before;
	int k, rc;

	env_init(&e);
	before = snapshot(&e);
	for (k = 1;; k++) {
		struct nr_plan *plan = plan_of(&e);
		struct nr_plan_opts o = { .fault_after = k };
		char *after;

		rc = nr_single_handoff(e.ctx, plan, &o, &err);
		nr_plan_free(plan);
		if (rc == 0)
			break;
		assert_int_equal(rc, -NR_E_FAULT);
		if (nr_single_release(e.ctx, NULL, &err) < 0)
			fail_msg("release after a stop at step %d: %s", k, err.msg);
		unlink(e.log);
		after = snapshot(&e);
		assert_same_state(before, after);
		free(after);
	}
	/* a stop came at least after the journal, each of the 3 units, the console, the
	 * framebuffer, the 2 functions and the journal's last word */
	assert_true(k > 1 + 3 + 1 + 1 + 2 + 1);
	assert_int_equal(nr_single_release(e.ctx, NULL, &err), 0);
	free(before);
	env_done(&e);
}

/* A stop after every step of the release, then the release again. */
static void test_fault_every_release_step(void **state)
{
	struct env e;
	struct nr_error err = { 0 };
	char *before;
	int k, rc;

	env_init(&e);
	before = snapshot(&e);
	for (k = 1;; k++) {
		struct nr_plan *plan = plan_of(&e);
		struct nr_plan_opts o = { .fault_after = k };
		char *after;

		if (nr_single_handoff(e.ctx, plan, NULL, &err) < 0)
			fail_msg("hand-off: %s", err.msg);
		nr_plan_free(plan);
		rc = nr_single_release(e.ctx, &o, &err);
		if (rc == 0)
			break;
		assert_int_equal(rc, -NR_E_FAULT);
		/* again; a stop after the very last step left nothing to do */
		if ((rc = nr_single_release(e.ctx, NULL, &err)) < 0 && rc != -NR_E_NOTFOUND)
			fail_msg("release after a stop at step %d: %s", k, err.msg);
		unlink(e.log);
		after = snapshot(&e);
		assert_same_state(before, after);
		free(after);
	}
	assert_true(k > 2 + 3 + 1 + 1 + 2);
	free(before);
	env_done(&e);
}

/* Something the display manager does not own keeps the GPU: the hand-off stops there,
 * names it, and gives everything back on its own. */
static void test_holder_stops_handoff(void **state)
{
	struct env e;
	struct nr_error err = { 0 };
	struct nr_plan *plan;
	char *before, *after;

	env_init(&e);
	unit_sh("cd '%s' && mkdir -p proc/777/fd && echo steam > proc/777/comm && ln -s /dev/nvidia0 proc/777/fd/31",
		e.sys);
	before = snapshot(&e);
	plan = plan_of(&e);
	assert_int_equal(nr_single_handoff(e.ctx, plan, NULL, &err), -NR_E_BUSY);
	nr_plan_free(plan);
	assert_non_null(strstr(err.msg, "777 (steam) /dev/nvidia0"));
	assert_null(strstr(err.msg, "Xorg"));   /* gone with the display manager */
	assert_non_null(strstr(err.msg, "the screen is back"));
	unlink(e.log);
	after = snapshot(&e);
	assert_same_state(before, after);
	assert_null(nr_single_recorded(e.ctx));
	free(before);
	free(after);
	env_done(&e);
}

/* A display manager that does not come back is an error that says so, and the journal
 * stays for another try. */
static void test_release_checks_display_manager(void **state)
{
	struct env e;
	struct nr_error err = { 0 };
	struct nr_plan *plan;
	char *gpu;

	env_init(&e);
	plan = plan_of(&e);
	assert_int_equal(nr_single_handoff(e.ctx, plan, NULL, &err), 0);
	nr_plan_free(plan);
	unit_put(unit_path(e.dir, "fail-start"), "", 0644);
	assert_int_equal(nr_single_release(e.ctx, NULL, &err), -NR_E_COMMAND);
	assert_non_null(strstr(err.msg, "is not active again"));
	assert_non_null(gpu = nr_single_recorded(e.ctx));
	free(gpu);
	unlink(unit_path(e.dir, "fail-start"));
	assert_int_equal(nr_single_release(e.ctx, NULL, &err), 0);
	assert_file(&e, e.root, "run/units/gdm.service", "active\n");
	env_done(&e);
}

static void test_display_manager_reader(void **state)
{
	struct env e;
	struct nr_error err = { 0 };
	char *unit = NULL;
	bool known;

	env_init(&e);
	assert_int_equal(nr_single_display_manager(e.ctx, &unit, &known, &err), 0);
	assert_string_equal(unit, "gdm.service");
	assert_true(known);
	free(unit);
	unit_sh("cd '%s' && rm etc/systemd/system/display-manager.service && : > usr/lib/systemd/system/mydm.service && "
		"ln -s ../../../usr/lib/systemd/system/mydm.service etc/systemd/system/display-manager.service", e.root);
	assert_int_equal(nr_single_display_manager(e.ctx, &unit, &known, &err), 0);
	assert_string_equal(unit, "mydm.service");
	assert_false(known);
	free(unit);
	unit_sh("rm '%s/etc/systemd/system/display-manager.service'", e.root);
	assert_int_equal(nr_single_display_manager(e.ctx, &unit, &known, &err), -NR_E_NOTFOUND);
	assert_null(unit);
	env_done(&e);
}

/* ------------------------------------------------------------------ the watchdog -- */

struct fake_vm {
	int polls;
	int runs_from, runs_until;  /* running for polls in [from, until); -1: never */
	int destroyed;
};

static int fake_running(void *data, struct nr_error *err)
{
	struct fake_vm *v = data;
	int p = v->polls++;

	if (v->destroyed)
		return 0;
	return v->runs_from >= 0 && p >= v->runs_from && p < v->runs_until;
}

static int fake_destroy(void *data, struct nr_error *err)
{
	((struct fake_vm *)data)->destroyed++;
	return 0;
}

struct fake_clock {
	long long now;
	int sleeps;
};

static long long fake_now(void *data)
{
	return ((struct fake_clock *)data)->now;
}

static void fake_sleep(void *data, long ms)
{
	struct fake_clock *c = data;
	c->now += ms;
	c->sleeps++;
}

static void handed_off(struct env *e)
{
	struct nr_error err = { 0 };
	struct nr_plan *plan = plan_of(e);

	if (nr_single_handoff(e->ctx, plan, NULL, &err) < 0)
		fail_msg("hand-off: %s", err.msg);
	nr_plan_free(plan);
}

static void after_watch(struct env *e, const char *before)
{
	char *after;

	unlink(e->log);
	after = snapshot(e);
	assert_same_state(before, after);
	assert_null(nr_single_recorded(e->ctx));
	free(after);
}

/* A VM that never starts, with a limit of 0: the release runs at once. */
static void test_watch_vm_never_starts(void **state)
{
	struct env e;
	struct nr_error err = { 0 };
	struct fake_vm v = { .runs_from = -1 };
	struct nr_single_vm vm = { fake_running, fake_destroy, &v };
	enum nr_single_end end = NR_SINGLE_STOPPED;
	char *before;

	env_init(&e);
	before = snapshot(&e);
	handed_off(&e);
	assert_int_equal(nr_ctx_set(e.ctx, "single.start_s", "0", &err), 0);
	if (nr_single_watch(e.ctx, &vm, NULL, NULL, &end, &err) < 0)
		fail_msg("watch: %s", err.msg);
	assert_int_equal(end, NR_SINGLE_NEVER_RAN);
	assert_int_equal(v.polls, 1);
	assert_int_equal(v.destroyed, 0);
	after_watch(&e, before);
	free(before);
	env_done(&e);
}

/* On a clock the test moves: waited for until the limit, not a poll more. */
static void test_watch_limit_on_clock(void **state)
{
	struct env e;
	struct nr_error err = { 0 };
	struct fake_vm v = { .runs_from = -1 };
	struct nr_single_vm vm = { fake_running, fake_destroy, &v };
	struct fake_clock c = { .now = 1000 };
	struct nr_single_clock clock = { fake_now, fake_sleep, &c };
	enum nr_single_end end = NR_SINGLE_STOPPED;
	char *before;

	env_init(&e);
	before = snapshot(&e);
	handed_off(&e);
	assert_int_equal(nr_ctx_set(e.ctx, "single.start_s", "5", &err), 0);
	assert_int_equal(nr_ctx_set(e.ctx, "single.poll_ms", "500", &err), 0);
	assert_int_equal(nr_single_watch(e.ctx, &vm, &clock, NULL, &end, &err), 0);
	assert_int_equal(end, NR_SINGLE_NEVER_RAN);
	assert_int_equal(c.sleeps, 10);         /* 5 s in 500 ms polls */
	assert_int_equal(v.polls, 11);
	after_watch(&e, before);
	free(before);
	env_done(&e);
}

/* A VM that comes up, runs, then shuts down (or crashes): released when it is gone. */
static void test_watch_vm_stops(void **state)
{
	struct env e;
	struct nr_error err = { 0 };
	struct fake_vm v = { .runs_from = 3, .runs_until = 40 };
	struct nr_single_vm vm = { fake_running, fake_destroy, &v };
	struct fake_clock c = { 0 };
	struct nr_single_clock clock = { fake_now, fake_sleep, &c };
	enum nr_single_end end = NR_SINGLE_NEVER_RAN;
	char *before;

	env_init(&e);
	before = snapshot(&e);
	handed_off(&e);
	assert_int_equal(nr_single_watch(e.ctx, &vm, &clock, NULL, &end, &err), 0);
	assert_int_equal(end, NR_SINGLE_STOPPED);
	assert_int_equal(v.polls, 41);          /* the first poll that saw it gone */
	assert_int_equal(v.destroyed, 0);
	after_watch(&e, before);
	free(before);
	env_done(&e);
}

static void put_keys(struct env *e, const char *name, const unsigned short *codes, const int *values, size_t n)
{
	char dir[400], path[500];
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/dev/input", e->sys);
	assert_int_equal(nr_mkdir_p(dir, 0755, NULL), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "ab"));
	for (size_t i = 0; i < n; i++) {
		struct input_event ev = { .type = EV_KEY, .code = codes[i], .value = values[i] };
		struct input_event syn = { .type = EV_SYN };
		assert_int_equal(fwrite(&ev, sizeof(ev), 1, f), 1);
		assert_int_equal(fwrite(&syn, sizeof(syn), 1, f), 1);
	}
	fclose(f);
}

/* The escape chord on a host keyboard: the VM is destroyed and the screen given back. */
static void test_watch_escape_chord(void **state)
{
	static const unsigned short codes[] = { KEY_LEFTCTRL, KEY_LEFTALT, KEY_F12 };
	static const int down[] = { 1, 1, 1 };
	struct env e;
	struct nr_error err = { 0 };
	struct fake_vm v = { .runs_from = 0, .runs_until = 1000 };
	struct nr_single_vm vm = { fake_running, fake_destroy, &v };
	struct fake_clock c = { 0 };
	struct nr_single_clock clock = { fake_now, fake_sleep, &c };
	enum nr_single_end end = NR_SINGLE_NEVER_RAN;

	env_init(&e);
	handed_off(&e);
	/* a mouse and a keyboard; the chord on the keyboard */
	put_keys(&e, "event1", (const unsigned short[]){ BTN_LEFT }, (const int[]){ 1 }, 1);
	put_keys(&e, "event3", codes, down, 3);
	assert_int_equal(nr_single_watch(e.ctx, &vm, &clock, NULL, &end, &err), 0);
	assert_int_equal(end, NR_SINGLE_CHORD);
	assert_int_equal(v.destroyed, 1);
	assert_int_equal(v.polls, 1);
	assert_null(nr_single_recorded(e.ctx));
	assert_file(&e, e.sys, "sys/class/vtconsole/vtcon1/bind", "1\n");
	assert_link_base(e.sys, "sys/bus/pci/devices/0000:09:00.0/driver", "nvidia");
	assert_file(&e, e.root, "run/units/gdm.service", "active\n");
	env_done(&e);
}

/* Keys that were down, but never all at once, are no chord; a configured chord is read. */
static void test_chord_keys(void **state)
{
	struct env e;
	struct nr_error err = { 0 };
	struct nr_single_chord chord;
	struct nr_single_keys *keys = NULL;

	env_init(&e);
	assert_int_equal(nr_single_chord_parse("LeftCtrl+KEY_RIGHTALT+end", &chord, &err), 0);
	assert_int_equal(chord.n, 3);
	assert_int_equal(chord.keys[0], KEY_LEFTCTRL);
	assert_int_equal(chord.keys[1], KEY_RIGHTALT);
	assert_int_equal(chord.keys[2], KEY_END);
	assert_int_equal(nr_single_chord_parse("leftctrl+hyper", &chord, &err), -NR_E_INVAL);
	assert_non_null(strstr(err.msg, "'hyper'"));
	assert_int_equal(nr_single_chord_parse("end", &chord, &err), -NR_E_INVAL);
	assert_int_equal(nr_single_chord_parse("leftctrl+rightctrl+end", &chord, &err), 0);
	put_keys(&e, "event0", (const unsigned short[]){ KEY_LEFTCTRL, KEY_RIGHTCTRL, KEY_LEFTCTRL, KEY_END },
		 (const int[]){ 1, 1, 0, 1 }, 4);
	assert_int_equal(nr_single_keys_open(e.ctx, &keys, &err), 0);
	assert_int_equal(nr_single_keys_count(keys), 1);
	assert_false(nr_single_keys_chord(keys, &chord));
	/* more comes on the same device: held keys count */
	put_keys(&e, "event0", (const unsigned short[]){ KEY_LEFTCTRL }, (const int[]){ 2 }, 1);
	assert_true(nr_single_keys_chord(keys, &chord));
	nr_single_keys_free(keys);
	env_done(&e);
}

/* ------------------------------------------------------------------ pre-flight -- */

static const struct nr_check_item *item_of(const struct nr_check *c, enum nr_check_id id)
{
	for (size_t i = 0; i < c->n_items; i++)
		if (c->items[i].id == id)
			return &c->items[i];
	fail_msg("no check item %d", (int)id);
	return NULL;
}

static void preflight(struct env *e, struct nr_check *c)
{
	struct nr_scan *scan = unit_scan_ctx(e->ctx);

	nr_check_run(scan, NULL, c);
	nr_single_check_add(e->ctx, scan, c);
	nr_scan_free(scan);
}

static void test_preflight_single(void **state)
{
	struct env e;
	struct nr_check c;
	const struct nr_check_item *it;

	env_init(&e);
	preflight(&e, &c);
	it = item_of(&c, NR_CHECK_single_recovery);
	assert_int_equal(it->status, NR_CHECK_WARN);
	assert_non_null(strstr(it->hint, "SSH server"));
	assert_non_null(strstr(it->hint, "console=ttyS0"));
	it = item_of(&c, NR_CHECK_single_display);
	assert_int_equal(it->status, NR_CHECK_PASS);
	assert_string_equal(it->detail, "gdm.service, framebuffer efi-framebuffer.0");
	assert_int_equal(item_of(&c, NR_CHECK_rebar)->status, NR_CHECK_PASS);
	assert_int_equal(item_of(&c, NR_CHECK_gpu_reset)->status, NR_CHECK_PASS);
	assert_false(c.blocked);

	/* an SSH server enabled under the root; a display manager it does not know; ReBAR on */
	unit_sh("cd '%s' && mkdir -p etc/systemd/system/multi-user.target.wants && "
		"ln -s /usr/lib/systemd/system/sshd.service etc/systemd/system/multi-user.target.wants/sshd.service && "
		": > usr/lib/systemd/system/sshd.service && : > usr/lib/systemd/system/mydm.service && "
		"ln -sf /usr/lib/systemd/system/mydm.service etc/systemd/system/display-manager.service", e.root);
	unit_sh("cd '%s/sys/bus/pci/devices/0000:09:00.0' && echo 0000000000003f00 > resource1_resize && "
		"printf '0x00000000fb000000 0x00000000fbffffff 0x0000000000040200\n"
		"0x0000007800000000 0x0000007bffffffff 0x000000000014220c\n' > resource", e.sys);
	preflight(&e, &c);
	it = item_of(&c, NR_CHECK_single_recovery);
	assert_int_equal(it->status, NR_CHECK_PASS);
	assert_string_equal(it->detail, "sshd.service");
	it = item_of(&c, NR_CHECK_single_display);
	assert_int_equal(it->status, NR_CHECK_WARN);
	assert_string_equal(it->detail, "mydm.service (unknown), framebuffer efi-framebuffer.0");
	it = item_of(&c, NR_CHECK_rebar);
	assert_int_equal(it->status, NR_CHECK_WARN);
	assert_string_equal(it->detail, "on: BAR 1 of 09:00.0 is 16384 MiB");
	assert_non_null(strstr(it->hint, "Resizable BAR off"));
	env_done(&e);
}

/* A machine with another GPU for the host: no single-GPU rows; an AMD guest GPU is told
 * about vendor-reset until its reset method is device_specific. */
static void test_preflight_amd_reset(void **state)
{
	struct nr_ctx *ctx = unit_machine_ctx("amd-navi-split-audio");
	struct nr_scan *scan = unit_scan_ctx(ctx);
	struct nr_check c;
	const struct nr_check_item *it = NULL;
	char *dir = unit_tmpdir("single-amd", false);
	struct nr_error err = { 0 };

	nr_check_run(scan, NULL, &c);
	assert_non_null(c.guest_gpu);
	nr_single_check_add(ctx, scan, &c);
	for (size_t i = 0; i < c.n_items; i++) {
		assert_true(c.items[i].id != NR_CHECK_single_recovery && c.items[i].id != NR_CHECK_single_display);
		if (c.items[i].id == NR_CHECK_gpu_reset)
			it = &c.items[i];
	}
	assert_non_null(it);
	assert_int_equal(it->status, NR_CHECK_WARN);
	assert_non_null(strstr(it->hint, "vendor-reset"));
	assert_non_null(strstr(it->hint, "device_specific > /sys/bus/pci/devices/"));
	/* the same machine with vendor-reset's method in place */
	unit_sh("cp -a '%s' '%s/m'", nr_ctx_get(ctx, "sysroot"), dir);
	unit_sh("echo device_specific > '%s/m/sys/bus/pci/devices/%s/reset_method'", dir,
		scan->devices[c.guest_gpu->dev].addr);
	assert_int_equal(nr_ctx_set(ctx, "sysroot", unit_path(dir, "m"), &err), 0);
	nr_check_run(scan, NULL, &c);
	nr_single_check_add(ctx, scan, &c);
	for (size_t i = 0; i < c.n_items; i++)
		if (c.items[i].id == NR_CHECK_gpu_reset)
			assert_int_equal(c.items[i].status, NR_CHECK_PASS);
	nr_scan_free(scan);
	nr_ctx_free(ctx);
	unit_rmtree_free(&dir);
}

/* Which VM starts through the hand-off: the domain's GPU and its gpu_mode (metadata). */
static const char *gpu_of_on(const char *machine, bool on_vfio, const char *addr, const char *mode)
{
	static char got[32];
	struct nr_ctx *ctx = unit_machine_ctx(machine);
	struct nr_scan *scan;
	struct nr_domain_info *info = NULL;
	struct nr_error err = { 0 };
	char xml[1024], *dir = NULL;
	const char *gpu;
	unsigned b, d, f;

	if (on_vfio) {
		/* the same machine with vfio-pci holding addr (bound at boot, a dedicated GPU) */
		dir = unit_tmpdir("single-gpu-of", false);
		unit_sh("cp -a '%s' '%s/m' && mkdir -p '%s/m/sys/bus/pci/drivers/vfio-pci' && "
			"ln -sfn ../../../bus/pci/drivers/vfio-pci '%s/m/sys/bus/pci/devices/%s/driver'",
			nr_ctx_get(ctx, "sysroot"), dir, dir, dir, addr);
		assert_int_equal(nr_ctx_set(ctx, "sysroot", unit_path(dir, "m"), &err), 0);
	}
	scan = unit_scan_ctx(ctx);

	assert_int_equal(sscanf(addr, "0000:%x:%x.%x", &b, &d, &f), 3);
	snprintf(xml, sizeof(xml),
		 "<domain type='kvm'><name>v</name>%s%s%s<devices><hostdev mode='subsystem' type='pci' "
		 "managed='yes'><source><address domain='0x0000' bus='0x%02x' slot='0x%02x' function='0x%x'/>"
		 "</source></hostdev></devices></domain>",
		 mode ? "<metadata><neuron:vm xmlns:neuron='" NR_DOMAIN_NS "'><neuron:gpu_mode>" : "",
		 mode ? mode : "", mode ? "</neuron:gpu_mode></neuron:vm></metadata>" : "", b, d, f);
	assert_int_equal(nr_domain_inspect(xml, &info, &err), 0);
	gpu = nr_single_gpu_of(scan, info);
	snprintf(got, sizeof(got), "%s", gpu ? gpu : "-");
	nr_domain_info_free(info);
	nr_scan_free(scan);
	nr_ctx_free(ctx);
	if (dir)
		unit_rmtree_free(&dir);
	return got;
}

static const char *gpu_of(const char *machine, const char *addr, const char *mode)
{
	return gpu_of_on(machine, false, addr, mode);
}

static void test_gpu_of(void **state)
{
	/* auto: the boot GPU the host shows on */
	assert_string_equal(gpu_of("single-gpu", "0000:09:00.0", NULL), "0000:09:00.0");
	assert_string_equal(gpu_of("amd-two-dgpu", "0000:0b:00.0", NULL), "0000:0b:00.0");
	/* auto: a GPU the host does not show on, or one vfio-pci holds, starts as it is */
	assert_string_equal(gpu_of("intel-nvidia", "0000:01:00.0", NULL), "-");
	assert_string_equal(gpu_of("vfio-bound", "0000:01:00.0", NULL), "-");
	assert_string_equal(gpu_of_on("single-gpu", true, "0000:09:00.0", NULL), "-");
	assert_string_equal(gpu_of_on("single-gpu", true, "0000:09:00.0", "single"), "0000:09:00.0");
	/* single: the host shows on that GPU though it is not the boot GPU */
	assert_string_equal(gpu_of("intel-nvidia", "0000:01:00.0", "single"), "0000:01:00.0");
	/* dedicated: never, the boot GPU either; an unknown word is auto */
	assert_string_equal(gpu_of("single-gpu", "0000:09:00.0", "dedicated"), "-");
	assert_string_equal(gpu_of("single-gpu", "0000:09:00.0", "sometimes"), "0000:09:00.0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_steps),
		cmocka_unit_test(test_handoff_and_release),
		cmocka_unit_test(test_fault_every_handoff_step),
		cmocka_unit_test(test_fault_every_release_step),
		cmocka_unit_test(test_holder_stops_handoff),
		cmocka_unit_test(test_release_checks_display_manager),
		cmocka_unit_test(test_display_manager_reader),
		cmocka_unit_test(test_watch_vm_never_starts),
		cmocka_unit_test(test_watch_limit_on_clock),
		cmocka_unit_test(test_watch_vm_stops),
		cmocka_unit_test(test_watch_escape_chord),
		cmocka_unit_test(test_chord_keys),
		cmocka_unit_test(test_preflight_single),
		cmocka_unit_test(test_preflight_amd_reset),
		cmocka_unit_test(test_gpu_of),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
