/* Checks of a kvmfr set-up, each with its fix, for `check` and `lg setup status`:
 * the device on the sysroot, and the configuration on the target root that the set-up
 * plan (lg_setup.c) writes. One row per check; each reads what it judges once. */
#include <ctype.h>
#include <stdarg.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/internal.h"
#include "root/root.h"
#include "neuron/check.h"
#include "neuron/lg.h"

#define CONF_MAX (1024 * 1024)
#define QEMU_CONF "/etc/libvirt/qemu.conf"
#define APPARMOR_LOCAL "/etc/apparmor.d/local/abstractions/libvirt-qemu"

struct kvmfr_env {
	const struct nr_ctx *ctx;
	struct nr_root root;
	bool have_root;
	const char *device;         /* "/dev/kvmfr0" */
	unsigned index;             /* 0 for kvmfr0 */
	unsigned want_mib;          /* the domain's size; 0: unknown */
};

static void say(struct nr_lg_finding *f, enum nr_lg_finding_status st, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void say(struct nr_lg_finding *f, enum nr_lg_finding_status st, const char *fix, const char *fmt, ...)
{
	va_list ap;

	f->status = st;
	va_start(ap, fmt);
	vsnprintf(f->detail, sizeof(f->detail), fmt, ap);
	va_end(ap);
	snprintf(f->fix, sizeof(f->fix), "%s", fix ? fix : "");
}

/* A file of the target root, NUL-terminated; NULL when absent or unreadable. */
static char *root_text(const struct kvmfr_env *e, const char *path)
{
	char *rel = NULL, *text = NULL;
	size_t len;

	if (!e->have_root || nr_root_resolve(&e->root, path, &rel, NULL) < 0)
		return NULL;
	if (nr_root_read(&e->root, rel, CONF_MAX, &text, &len, NULL, NULL, NULL, NULL) < 0)
		text = NULL;
	free(rel);
	return text;
}

/* Call fn on each "*.suffix" file of dir in the target root, in name order. Stops when fn
 * returns true; returns that. */
static bool each_file(const struct kvmfr_env *e, const char *dir, const char *suffix,
		      bool (*fn)(const char *path, const char *text, void *arg), void *arg)
{
	char *rel = NULL;
	struct dirent **names = NULL;
	char *full;
	int n, fd;
	bool hit = false;

	if (!e->have_root || nr_root_resolve(&e->root, dir, &rel, NULL) < 0)
		return false;
	fd = nr_root_open_dir(&e->root, rel, false, NULL, NULL, NULL);
	free(rel);
	if (fd < 0)
		return false;
	full = nr_path_join(e->root.path, dir);
	close(fd);
	n = full ? scandir(full, &names, NULL, alphasort) : -1;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(names[i]->d_name), sl = strlen(suffix);

		if (!hit && l > sl && strcmp(names[i]->d_name + l - sl, suffix) == 0) {
			char path[4096], *text;

			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			text = root_text(e, path);
			if (text && fn(path, text, arg))
				hit = true;
			free(text);
		}
		free(names[i]);
	}
	free(names);
	free(full);
	return hit;
}

/* ---- the device ---------------------------------------------------------------------- */

static void check_device(const struct kvmfr_env *e, struct nr_lg_finding *f)
{
	char *path = nr_ctx_sys_path(e->ctx, e->device);
	struct stat st;
	char fix[384];

	if (!path || stat(path, &st) < 0) {
		snprintf(fix, sizeof(fix), "load the module: modprobe kvmfr static_size_mb=%u (neuronctl lg "
			 "setup --mode kvmfr makes it load at boot)", e->want_mib ? e->want_mib : 32);
		say(f, NR_LG_FINDING_FAIL, fix, "%s does not exist: the kvmfr module is not loaded", e->device);
	} else if (S_ISCHR(st.st_mode)) {
		say(f, NR_LG_FINDING_PASS, NULL, "%s is the kvmfr character device", e->device);
	} else if (S_ISREG(st.st_mode)) {
		snprintf(fix, sizeof(fix), "stop the VM, remove the file (rm %s), load the module (modprobe "
			 "kvmfr) and start the VM again", e->device);
		say(f, NR_LG_FINDING_FAIL, fix, "%s is a regular file, not the device: a VM started before the "
		    "kvmfr module was loaded made it, and the client reads stale memory", e->device);
	} else {
		say(f, NR_LG_FINDING_FAIL, "remove it and load the module (modprobe kvmfr)",
		    "%s is neither the kvmfr device nor a file", e->device);
	}
	free(path);
}

/* ---- static_size_mb ------------------------------------------------------------------ */

struct size_seen {
	unsigned index;
	long mib;                   /* -1: not set */
	char where[256];
};

static bool find_size(const char *path, const char *text, void *arg)
{
	struct size_seen *s = arg;

	for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		const char *p = line, *v;
		unsigned k = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "options", 7) != 0 || !isspace((unsigned char)p[7]))
			continue;
		p += 7;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "kvmfr", 5) != 0 || !isspace((unsigned char)p[5]))
			continue;
		v = strstr(p, "static_size_mb=");
		if (!v || v > p + strcspn(p, "\n"))
			continue;
		v += strlen("static_size_mb=");
		/* a list, one size per device: kvmfr0,kvmfr1,... */
		for (;;) {
			char *end;
			long mib = strtol(v, &end, 10);

			if (end == v)
				break;
			if (k == s->index) {
				s->mib = mib;
				snprintf(s->where, sizeof(s->where), "%s", path);
			}
			if (*end != ',')
				break;
			v = end + 1;
			k++;
		}
	}
	return false; /* the last file wins, as modprobe reads them */
}

static void check_size(const struct kvmfr_env *e, struct nr_lg_finding *f)
{
	struct size_seen s = { .index = e->index, .mib = -1 };
	char fix[384];

	each_file(e, "/etc/modprobe.d", ".conf", find_size, &s);
	each_file(e, "/usr/lib/modprobe.d", ".conf", find_size, &s);
	snprintf(fix, sizeof(fix), "set 'options kvmfr static_size_mb=%u' in /etc/modprobe.d/kvmfr.conf "
		 "(neuronctl lg setup --mode kvmfr --size %u), then reload the module or reboot",
		 e->want_mib ? e->want_mib : 32, e->want_mib ? e->want_mib : 32);
	if (s.mib < 0)
		say(f, NR_LG_FINDING_FAIL, fix, "no 'options kvmfr static_size_mb=' for %s in modprobe.d: "
		    "the module makes no device", e->device);
	else if (e->want_mib && (unsigned long)s.mib != e->want_mib)
		say(f, NR_LG_FINDING_FAIL, fix, "static_size_mb=%ld (%s) but the VM's IVSHMEM is %u MiB: "
		    "QEMU refuses to start", s.mib, s.where, e->want_mib);
	else
		say(f, NR_LG_FINDING_PASS, NULL, "static_size_mb=%ld (%s)%s", s.mib, s.where,
		    e->want_mib ? ", as the VM's IVSHMEM" : "");
}

/* ---- the udev rule --------------------------------------------------------------------- */

struct udev_seen {
	bool rule, group_rw, uaccess;
	char where[256];
};

/* MODE="0660": the group digit has read and write. */
static bool group_rw(const char *line)
{
	const char *m = strstr(line, "MODE=\"");
	unsigned long mode;

	if (!m)
		return false;
	mode = strtoul(m + 6, NULL, 8);
	return (mode & 060) == 060;
}

static bool find_udev(const char *path, const char *text, void *arg)
{
	struct udev_seen *u = arg;

	for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		size_t n = strcspn(line, "\n");
		char *l = strndup(line, n);

		if (l && l[strspn(l, " \t")] != '#' && strstr(l, "SUBSYSTEM==\"kvmfr\"")) {
			u->rule = true;
			snprintf(u->where, sizeof(u->where), "%s", path);
			if (strstr(l, "GROUP=\"") && group_rw(l))
				u->group_rw = true;
			if (strstr(l, "TAG+=\"uaccess\""))
				u->uaccess = true;
		}
		free(l);
	}
	return false;
}

static void check_udev(const struct kvmfr_env *e, struct nr_lg_finding *f)
{
	struct udev_seen u = { 0 };
	static const char fix[] = "write a rule like SUBSYSTEM==\"kvmfr\", GROUP=\"kvm\", MODE=\"0660\", "
				  "TAG+=\"uaccess\" in /etc/udev/rules.d/99-kvmfr.rules (neuronctl lg setup "
				  "--mode kvmfr), then udevadm trigger";

	each_file(e, "/usr/lib/udev/rules.d", ".rules", find_udev, &u);
	each_file(e, "/etc/udev/rules.d", ".rules", find_udev, &u);
	if (!u.rule)
		say(f, NR_LG_FINDING_FAIL, fix, "no udev rule for the kvmfr subsystem: %s stays root's",
		    e->device);
	else if (!u.group_rw)
		say(f, NR_LG_FINDING_FAIL, fix, "the rule in %s gives no group read and write (GROUP= and "
		    "MODE=\"0660\")", u.where);
	else if (!u.uaccess)
		say(f, NR_LG_FINDING_WARN, fix, "the rule in %s gives the group access but no TAG+=\"uaccess\": "
		    "the desktop user must be in that group", u.where);
	else
		say(f, NR_LG_FINDING_PASS, NULL, "group access and uaccess (%s)", u.where);
}

/* ---- libvirt's cgroup_device_acl ------------------------------------------------------- */

static void check_acl(const struct kvmfr_env *e, struct nr_lg_finding *f)
{
	char *text = root_text(e, QEMU_CONF), *edited = NULL;
	char fix[384];
	int rc;

	snprintf(fix, sizeof(fix), "add \"%s\" to cgroup_device_acl in " QEMU_CONF " (neuronctl lg setup "
		 "--mode kvmfr), then restart libvirtd", e->device);
	if (!text) {
		say(f, NR_LG_FINDING_WARN, "install libvirt, then check again",
		    "no " QEMU_CONF " on the target: libvirt is not installed");
		return;
	}
	rc = nr_lg_qemu_conf_acl(text, e->device, &edited);
	if (rc == 0 && !edited)
		say(f, NR_LG_FINDING_PASS, NULL, "cgroup_device_acl lists %s", e->device);
	else if (rc == -NR_E_PARSE)
		say(f, NR_LG_FINDING_FAIL, fix, "cgroup_device_acl in " QEMU_CONF " has no closing ']'");
	else
		say(f, NR_LG_FINDING_FAIL, fix, "cgroup_device_acl does not list %s: QEMU may not open it",
		    e->device);
	free(text);
	free(edited);
}

/* ---- AppArmor ------------------------------------------------------------------------------ */

bool nr_lg_apparmor_on(const struct nr_ctx *ctx)
{
	char *path = nr_ctx_sys_path(ctx, "/sys/module/apparmor/parameters/enabled");
	char buf[8] = "";
	FILE *fp = path ? fopen(path, "re") : NULL;

	if (fp) {
		if (!fgets(buf, sizeof(buf), fp))
			buf[0] = '\0';
		fclose(fp);
	}
	free(path);
	return buf[0] == 'Y';
}

static void check_apparmor(const struct kvmfr_env *e, struct nr_lg_finding *f)
{
	char *text, fix[384], rule[128];

	if (!nr_lg_apparmor_on(e->ctx)) {
		say(f, NR_LG_FINDING_PASS, NULL, "AppArmor is off: no profile to allow %s in", e->device);
		return;
	}
	snprintf(rule, sizeof(rule), "%s rw,", e->device);
	snprintf(fix, sizeof(fix), "add '%s' to " APPARMOR_LOCAL " (neuronctl lg setup --mode kvmfr), then "
		 "systemctl reload apparmor", rule);
	text = root_text(e, APPARMOR_LOCAL);
	if (text && strstr(text, rule))
		say(f, NR_LG_FINDING_PASS, NULL, "AppArmor is on and " APPARMOR_LOCAL " allows %s", e->device);
	else
		say(f, NR_LG_FINDING_FAIL, fix, "AppArmor is on and %s does not allow %s: QEMU is denied it",
		    text ? APPARMOR_LOCAL : "no " APPARMOR_LOCAL, e->device);
	free(text);
}

static const struct {
	const char *name, *title;
	void (*run)(const struct kvmfr_env *e, struct nr_lg_finding *f);
} kvmfr_checks[NR_LG_KVMFR_CHECKS] = {
	{ "kvmfr_device", "kvmfr device", check_device },
	{ "kvmfr_size", "kvmfr static_size_mb", check_size },
	{ "kvmfr_udev", "kvmfr udev rule", check_udev },
	{ "kvmfr_acl", "kvmfr in libvirt's cgroup_device_acl", check_acl },
	{ "kvmfr_apparmor", "kvmfr allowed by AppArmor", check_apparmor },
};

bool nr_lg_kvmfr_in_use(const struct nr_ctx *ctx)
{
	char *dev = nr_ctx_sys_path(ctx, "/dev/kvmfr0");
	struct kvmfr_env e = { .ctx = ctx };
	struct size_seen s = { .index = 0, .mib = -1 };
	bool used = dev && access(dev, F_OK) == 0;

	free(dev);
	if (!used && nr_root_open(&e.root, nr_ctx_get(ctx, "root"), NULL) == 0) {
		e.have_root = true;
		each_file(&e, "/etc/modprobe.d", ".conf", find_size, &s);
		used = s.mib >= 0;
		nr_root_close(&e.root);
	}
	return used;
}

size_t nr_lg_kvmfr_check(const struct nr_ctx *ctx, const char *device, unsigned want_mib,
			 struct nr_lg_finding *out)
{
	struct kvmfr_env e = { .ctx = ctx, .device = device && *device ? device : "/dev/kvmfr0",
			       .want_mib = want_mib };
	const char *digits = e.device + strcspn(e.device, "0123456789");

	e.index = (unsigned)strtoul(digits, NULL, 10);
	e.have_root = nr_root_open(&e.root, nr_ctx_get(ctx, "root"), NULL) == 0;
	for (size_t i = 0; i < NR_LG_KVMFR_CHECKS; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].name = kvmfr_checks[i].name;
		out[i].title = kvmfr_checks[i].title;
		kvmfr_checks[i].run(&e, &out[i]);
	}
	if (e.have_root)
		nr_root_close(&e.root);
	return NR_LG_KVMFR_CHECKS;
}

const char *nr_lg_finding_status_name(enum nr_lg_finding_status s)
{
	return s == NR_LG_FINDING_PASS ? "PASS" : s == NR_LG_FINDING_WARN ? "WARN" : "FAIL";
}

void nr_lg_check_add(const struct nr_ctx *ctx, const char *shm_path, unsigned want_mib, struct nr_check *c)
{
	const char *path = shm_path && *shm_path ? shm_path : nr_ctx_get(ctx, "lg.shm");
	char client[NR_LG_HOSTVER_MAX];

	/* versions: only when both sides are known, a header under the sysroot and a client */
	if (nr_lg_client_version(ctx, client, sizeof(client), NULL) == 0) {
		char *sys = path ? nr_ctx_sys_path(ctx, path) : NULL;
		struct nr_lg_snapshot snap;

		if (sys && nr_lg_read(sys, &snap, NULL) == 0 && snap.kvmfr && snap.host_version[0]) {
			char *warn = nr_lg_version_mismatch(client, snap.host_version);

			if (warn)
				nr_check_add(c, NR_CHECK_lg_versions, NR_CHECK_WARN, warn, "client %s, host %s",
					     client, snap.host_version);
			else
				nr_check_add(c, NR_CHECK_lg_versions, NR_CHECK_PASS, NULL, "client and host %s",
					     client);
			free(warn);
		}
		free(sys);
	}
	if (nr_lg_kvmfr_in_use(ctx) || (path && strncmp(path, "/dev/kvmfr", 10) == 0)) {
		struct nr_lg_finding f[NR_LG_KVMFR_CHECKS];
		const char *dev = path && strncmp(path, "/dev/kvmfr", 10) == 0 ? path : "/dev/kvmfr0";

		nr_lg_kvmfr_check(ctx, dev, want_mib, f);
		for (size_t i = 0; i < NR_LG_KVMFR_CHECKS; i++)
			nr_check_add(c, nr_check_id_of(f[i].name), f[i].status == NR_LG_FINDING_PASS ? NR_CHECK_PASS :
				     f[i].status == NR_LG_FINDING_WARN ? NR_CHECK_WARN : NR_CHECK_FAIL, f[i].fix,
				     "%s", f[i].detail);
	}
}
