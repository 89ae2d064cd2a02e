/* The devices the host cannot lose: the controllers of its root and boot file systems,
 * its only network interface, its keyboard's USB controller. Read from the sysroot (the
 * running machine: proc/mounts, the kernel command line's root=, sys/class/block,
 * sys/class/net, proc/bus/input/devices) and from the target root's etc/fstab, and
 * decided here once for the VFIO plan. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/internal.h"
#include "neuron/vfio.h"
#include "root/root.h"

/* The mount points whose file systems the next boot needs. */
static const char *const boot_mounts[] = { "/", "/boot", "/boot/efi", "/efi", "/usr", NULL };

struct needs {
	struct nr_host_need *v;
	size_t n;
	int groups;
	bool oom;
};

static void add(struct needs *nd, const char *addr, int group, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void add(struct needs *nd, const char *addr, int group, const char *fmt, ...)
{
	struct nr_host_need *nv;
	va_list ap;

	for (size_t i = 0; i < nd->n; i++)
		if (strcmp(nd->v[i].addr, addr) == 0 && nd->v[i].need == group)
			return;
	nv = realloc(nd->v, (nd->n + 1) * sizeof(*nv));
	if (!nv) {
		nd->oom = true;
		return;
	}
	nd->v = nv;
	memset(&nv[nd->n], 0, sizeof(nv[0]));
	snprintf(nv[nd->n].addr, sizeof(nv[0].addr), "%s", addr);
	nv[nd->n].need = group;
	va_start(ap, fmt);
	vsnprintf(nv[nd->n].why, sizeof(nv[0].why), fmt, ap);
	va_end(ap);
	nd->n++;
}

/* The last PCI address ("0000:03:00.1") among the components of a sysfs path: the
 * device nearest to what the path names. */
static bool pci_in_path(const char *path, char out[NR_ADDR_LEN])
{
	bool found = false;

	for (const char *p = path; *p;) {
		size_t n = strcspn(p, "/");
		unsigned dom, bus, dev, fn;
		char tail;
		if (n == 12 && p[4] == ':' && p[7] == ':' && p[10] == '.' &&
		    sscanf(p, "%4x:%2x:%2x.%1x%c", &dom, &bus, &dev, &fn, &tail) >= 4) {
			snprintf(out, NR_ADDR_LEN, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
			found = true;
		}
		p += n;
		if (*p)
			p++;
	}
	return found;
}

static char *link_of(const struct nr_ctx *ctx, const char *rel)
{
	char *path = nr_ctx_sys_path(ctx, rel), buf[4096];
	ssize_t n = path ? readlink(path, buf, sizeof(buf) - 1) : -1;

	free(path);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return strdup(buf);
}

/* The PCI devices under a block device (a partition, a disk, a device-mapper or md
 * device through its slaves). */
static void block_pci(const struct nr_ctx *ctx, const char *name, int depth, char ***addrs, size_t *n)
{
	char rel[512], addr[NR_ADDR_LEN], *target;

	if (depth > 8 || strchr(name, '/') || name[0] == '.')
		return;
	snprintf(rel, sizeof(rel), "sys/class/block/%s", name);
	target = link_of(ctx, rel);
	if (target && pci_in_path(target, addr)) {
		nr_strv_add_unique(addrs, n, addr);
		free(target);
		return;
	}
	free(target);
	snprintf(rel, sizeof(rel), "sys/class/block/%s/slaves", name);
	char *dir = nr_ctx_sys_path(ctx, rel);
	DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *de;
	free(dir);
	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			block_pci(ctx, de->d_name, depth + 1, addrs, n);
	closedir(d);
}

/* "/dev/sda2", "UUID=...", "LABEL=...", "PARTUUID=..." -> the block device's name, read
 * through the sysroot's /dev links. NULL when it cannot be told. */
static char *spec_block(const struct nr_ctx *ctx, const char *spec)
{
	static const struct { const char *prefix, *dir; } by[] = {
		{ "UUID=", "dev/disk/by-uuid/" }, { "LABEL=", "dev/disk/by-label/" },
		{ "PARTUUID=", "dev/disk/by-partuuid/" }, { "PARTLABEL=", "dev/disk/by-partlabel/" },
	};
	char rel[512], *target, *base;

	rel[0] = '\0';
	for (size_t i = 0; i < sizeof(by) / sizeof(by[0]); i++)
		if (strncmp(spec, by[i].prefix, strlen(by[i].prefix)) == 0)
			snprintf(rel, sizeof(rel), "%s%s", by[i].dir, spec + strlen(by[i].prefix));
	if (!rel[0] && strncmp(spec, "/dev/", 5) == 0)
		snprintf(rel, sizeof(rel), "dev/%s", spec + 5);
	if (!rel[0] || strstr(rel, ".."))
		return NULL;
	/* /dev/mapper/root -> ../dm-0, /dev/disk/by-uuid/X -> ../../sda2; /dev/sda2 itself */
	target = link_of(ctx, rel);
	base = strrchr(target ? target : rel, '/');
	base = strdup(base ? base + 1 : target ? target : rel);
	free(target);
	return base;
}

static void need_fs(const struct nr_ctx *ctx, struct needs *nd, const char *spec, const char *mount,
		    const char *whence)
{
	char *name = spec_block(ctx, spec), **addrs = NULL;
	size_t n = 0;

	if (!name)
		return;
	block_pci(ctx, name, 0, &addrs, &n);
	for (size_t i = 0; i < n; i++)
		add(nd, addrs[i], nd->groups++, "holds %s (%s, %s)",
		    strcmp(mount, "/") == 0 ? "the root file system" : mount, spec, whence);
	nr_strv_free(addrs, n);
	free(name);
}

static const char *mount_of_interest(const char *mp, const char *root)
{
	size_t rl = strlen(root);

	for (size_t i = 0; boot_mounts[i]; i++) {
		if (strcmp(mp, boot_mounts[i]) == 0)
			return boot_mounts[i];
		/* the target mounted somewhere (a live system's /mnt) */
		if (strcmp(root, "/") != 0 && strncmp(mp, root, rl) == 0 &&
		    strcmp(mp[rl] ? mp + rl : "/", boot_mounts[i]) == 0)
			return boot_mounts[i];
	}
	return NULL;
}

/* Split a line of whitespace-separated fields (fstab, mounts); octal escapes kept. */
static size_t fields(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *t = strtok_r(line, " \t\n", &save); t && n < max; t = strtok_r(NULL, " \t\n", &save))
		f[n++] = t;
	return n;
}

static void file_systems(const struct nr_ctx *ctx, const char *root_path, struct nr_root *r,
			 const struct nr_scan *scan, struct needs *nd)
{
	char *path = nr_ctx_sys_path(ctx, "proc/mounts"), *text = NULL, *save = NULL;

	if (path && nr_read_file(path, &text, NULL, NULL) == 0) {
		for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			char *f[4];
			const char *m;
			if (fields(l, f, 4) >= 2 && (m = mount_of_interest(f[1], root_path)))
				need_fs(ctx, nd, f[0], m, "mounted now");
		}
	}
	free(text);
	free(path);
	text = NULL;
	save = NULL;
	char *root_spec = nr_cmdline_get(scan->host.cmdline, "root");
	if (root_spec)
		need_fs(ctx, nd, root_spec, "/", "root= on the kernel command line");
	free(root_spec);
	if (r && nr_root_read(r, "etc/fstab", 1 << 20, &text, NULL, NULL, NULL, NULL, NULL) == 0) {
		for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			char *f[4];
			const char *m;
			if (l[strspn(l, " \t")] == '#')
				continue;
			if (fields(l, f, 4) >= 2 && (m = mount_of_interest(f[1], "/")))
				need_fs(ctx, nd, f[0], m, "the target's /etc/fstab");
		}
	}
	free(text);
}

/* A need met by any of several devices (names[i] on addrs[i]): said as the only one
 * when a single device meets it. Frees both lists. */
static void add_group(struct needs *nd, char **names, size_t n_names, char **addrs, size_t n_addrs,
		      const char *only, const char *one_of)
{
	int group = nd->groups++;
	size_t distinct = 0, n = n_names < n_addrs ? n_names : n_addrs;

	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		for (size_t k = 0; k < i; k++)
			seen |= strcmp(addrs[k], addrs[i]) == 0;
		distinct += !seen;
	}
	for (size_t i = 0; i < n; i++)
		add(nd, addrs[i], group, distinct == 1 ? only : one_of, names[i]);
	nr_strv_free(names, n_names);
	nr_strv_free(addrs, n_addrs);
}

static void network(const struct nr_ctx *ctx, struct needs *nd)
{
	char *dir = nr_ctx_sys_path(ctx, "sys/class/net");
	DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *de;
	char **names = NULL, **addrs = NULL;
	size_t n_names = 0, n_addrs = 0;

	free(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char rel[512], addr[NR_ADDR_LEN], *target;
		if (de->d_name[0] == '.')
			continue;
		snprintf(rel, sizeof(rel), "sys/class/net/%s", de->d_name);
		target = link_of(ctx, rel);
		if (target && !strstr(target, "/virtual/") && pci_in_path(target, addr)) {
			nr_strv_add(&names, &n_names, de->d_name);
			nr_strv_add(&addrs, &n_addrs, addr);
		}
		free(target);
	}
	closedir(d);
	add_group(nd, names, n_names, addrs, n_addrs, "is the host's only network interface (%s)",
		  "has the network interface %s (the host loses its network when all of them leave)");
}

/* proc/bus/input/devices: blocks of "N: Name=", "S: Sysfs=", "H: Handlers=", "B: EV=". A
 * keyboard has the kbd handler and key repeat (EV_REP), which a power button has not. */
static void keyboards(const struct nr_ctx *ctx, struct needs *nd)
{
	char *path = nr_ctx_sys_path(ctx, "proc/bus/input/devices"), *text = NULL;
	char **names = NULL, **addrs = NULL;
	size_t n_names = 0, n_addrs = 0;

	if (!path || nr_read_file(path, &text, NULL, NULL) < 0) {
		free(path);
		return;
	}
	free(path);
	char name[200] = "", sysfs[1024] = "";
	bool kbd = false;
	unsigned long ev = 0;
	for (char *l = text;; ) {
		char *nl = strchr(l, '\n');
		if (nl)
			*nl = '\0';
		if (!*l || !nl) {
			char addr[NR_ADDR_LEN];
			if (kbd && (ev & (1ul << 20)) && pci_in_path(sysfs, addr)) {
				nr_strv_add(&names, &n_names, name);
				nr_strv_add(&addrs, &n_addrs, addr);
			}
			name[0] = sysfs[0] = '\0';
			kbd = false;
			ev = 0;
		} else if (strncmp(l, "N: Name=", 8) == 0) {
			const char *nm = l + 8 + (l[8] == '"');
			snprintf(name, sizeof(name), "%.*s", (int)strcspn(nm, "\""), nm);
		} else if (strncmp(l, "S: Sysfs=", 9) == 0) {
			snprintf(sysfs, sizeof(sysfs), "%s", l + 9);
		} else if (strncmp(l, "H: Handlers=", 12) == 0) {
			kbd = strstr(l, "kbd") != NULL;
		} else if (strncmp(l, "B: EV=", 6) == 0) {
			ev = strtoul(l + 6, NULL, 16);
		}
		if (!nl)
			break;
		l = nl + 1;
	}
	free(text);
	add_group(nd, names, n_names, addrs, n_addrs, "has the host's only keyboard (%s)",
		  "has the keyboard %s (the host loses its keyboards when all of them leave)");
}

int nr_vfio_host_needs(const struct nr_ctx *ctx, const struct nr_scan *scan, struct nr_host_need **out,
		       size_t *n, struct nr_error *err)
{
	struct needs nd = { NULL, 0, 0, false };
	struct nr_root r;
	bool have_root = nr_root_open(&r, nr_ctx_get(ctx, "root"), NULL) == 0;

	*out = NULL;
	*n = 0;
	file_systems(ctx, have_root ? r.path : "/", have_root ? &r : NULL, scan, &nd);
	network(ctx, &nd);
	keyboards(ctx, &nd);
	if (have_root)
		nr_root_close(&r);
	if (nd.oom) {
		free(nd.v);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	*out = nd.v;
	*n = nd.n;
	return 0;
}
