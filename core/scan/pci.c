/* PCI devices from SYSROOT/sys/bus/pci/devices: what lspci shows, read with the fewest system
 * calls (config once, the driver link, driver_override). Names: pci_names.c. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/internal.h"
#include "scan/scan_internal.h"

const char *nr_pci_short_addr(const struct nr_pci_dev *d)
{
	return d->domain == 0 ? d->addr + 5 : d->addr;
}

/* Read 1..maxlen hex digits; returns the position after them or NULL. */
static const char *hex_field(const char *p, size_t maxlen, unsigned *out)
{
	size_t n = 0;
	unsigned v = 0;

	while (n < maxlen && isxdigit((unsigned char)p[n])) {
		char c = (char)tolower((unsigned char)p[n]);
		v = v * 16 + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
		n++;
	}
	if (n == 0)
		return NULL;
	*out = v;
	return p + n;
}

int nr_pci_parse_addr(const char *in, char out[NR_ADDR_LEN])
{
	unsigned f[4] = { 0 }, dom = 0, bus, dev, fn;
	const char *p = in;
	int nf = 0;

	/* [dddd:]bb:dd.f, strictly: nothing before or after */
	while (nf < 3) {
		p = hex_field(p, 4, &f[nf]);
		if (!p)
			return -NR_E_INVAL;
		nf++;
		if (*p != ':')
			break;
		p++;
	}
	if (*p != '.' || nf < 2)
		return -NR_E_INVAL;
	p = hex_field(p + 1, 1, &fn);
	if (!p || *p)
		return -NR_E_INVAL;
	if (nf == 3)
		dom = f[0];
	bus = f[nf - 2];
	dev = f[nf - 1];
	if (bus > 0xff || dev > 0x1f || fn > 7)
		return -NR_E_INVAL;
	snprintf(out, NR_ADDR_LEN, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
	return 0;
}

static int dev_cmp(const void *a, const void *b)
{
	const struct nr_pci_dev *x = a, *y = b;

	if (x->domain != y->domain)
		return x->domain < y->domain ? -1 : 1;
	if (x->bus != y->bus)
		return x->bus < y->bus ? -1 : 1;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->func != y->func)
		return x->func < y->func ? -1 : 1;
	return 0;
}

/* A hex attribute ("0x10de\n"); -1 when unreadable. */
static long read_hex(char *path, size_t dirlen, const char *attr)
{
	char line[64], *end;
	unsigned long v;

	snprintf(path + dirlen, 4096 - dirlen, "/%s", attr);
	if (nr_read_line(path, line, sizeof(line)) < 0)
		return -1;
	errno = 0;
	v = strtoul(line, &end, 16);
	if (errno || end == line || v > 0xffffff)
		return -1;
	return (long)v;
}

/* Read a small attribute of the device whose directory is path[0..dirlen). */
static int read_attr(char *path, size_t dirlen, const char *attr, char *buf, size_t size)
{
	snprintf(path + dirlen, 4096 - dirlen, "/%s", attr);
	return nr_read_line(path, buf, size);
}

/* The basename of a symlink in the device's directory ("driver" -> "nvidia"). */
static int read_link(char *path, size_t dirlen, const char *link, char *buf, size_t size)
{
	snprintf(path + dirlen, 4096 - dirlen, "/%s", link);
	return nr_read_link_base(path, buf, size);
}

/* The first 64 bytes of config space (all an unprivileged reader gets); its length, or -1. */
static ssize_t read_config(char *path, size_t dirlen, unsigned char *cfg, size_t size)
{
	ssize_t n;
	int fd;

	snprintf(path + dirlen, 4096 - dirlen, "/config");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	do
		n = read(fd, cfg, size);
	while (n < 0 && errno == EINTR);
	close(fd);
	return n;
}

/* The ids. config has them all in one read where the kernel gives it (for a bridge the
 * subsystem ids live in a capability past the first 64 bytes); the attribute files, which
 * libpci reads, stand in where config is missing or short, or reads 0xffff (an SR-IOV
 * virtual function's config has no vendor or device id: the kernel's files have them). */
static int read_ids(char *path, size_t dirlen, struct nr_pci_dev *d)
{
	unsigned char cfg[64];
	ssize_t n = read_config(path, dirlen, cfg, sizeof(cfg));
	long vendor, device, cls, rev, sv, sd;

	if (n >= 0x30 && (cfg[0] | cfg[1] << 8) != 0xffff && (cfg[2] | cfg[3] << 8) != 0xffff) {
		d->vendor = (uint16_t)(cfg[0] | cfg[1] << 8);
		d->device = (uint16_t)(cfg[2] | cfg[3] << 8);
		d->revision = cfg[8];
		d->prog_if = cfg[9];
		d->class_id = (uint16_t)(cfg[10] | cfg[11] << 8);
		if ((cfg[14] & 0x7f) == 0) {
			d->subsys_vendor = (uint16_t)(cfg[0x2c] | cfg[0x2d] << 8);
			d->subsys_device = (uint16_t)(cfg[0x2e] | cfg[0x2f] << 8);
			return 0;
		}
	} else {
		vendor = read_hex(path, dirlen, "vendor");
		device = read_hex(path, dirlen, "device");
		cls = read_hex(path, dirlen, "class");
		if (vendor < 0 || device < 0 || cls < 0)
			return -NR_E_PCI;
		rev = read_hex(path, dirlen, "revision");
		if (rev < 0 && n >= 9)
			rev = cfg[8];
		d->vendor = (uint16_t)vendor;
		d->device = (uint16_t)device;
		d->class_id = (uint16_t)(cls >> 8);
		d->prog_if = (uint8_t)cls;
		d->revision = rev < 0 ? 0 : (uint8_t)rev;
	}
	sv = read_hex(path, dirlen, "subsystem_vendor");
	sd = read_hex(path, dirlen, "subsystem_device");
	d->subsys_vendor = sv < 0 ? 0 : (uint16_t)sv;
	d->subsys_device = sd < 0 ? 0 : (uint16_t)sd;
	return 0;
}

/* One device: its ids, driver, driver_override and (a GPU's) boot_vga. Its IOMMU group
 * comes from the group listing (scan.c), its names when asked for (pci_names.c). */
static int fill_device(struct nr_pci_dev *d, const char *devices_dir)
{
	char path[4096], line[256];
	size_t dirlen;
	int rc;

	d->iommu_group = -1;
	dirlen = (size_t)snprintf(path, sizeof(path), "%s/%s", devices_dir, d->addr);
	if (dirlen >= sizeof(path) - 32)
		return -NR_E_INVAL;
	rc = read_ids(path, dirlen, d);
	if (rc < 0)
		return rc;
	if (read_link(path, dirlen, "driver", line, sizeof(line)) == 0) {
		d->driver = strdup(line);
		if (!d->driver)
			return -NR_E_NOMEM;
	}
	/* boot_vga exists only for VGA-class devices. */
	if (nr_pci_is_gpu(d) && read_attr(path, dirlen, "boot_vga", line, sizeof(line)) == 0)
		d->boot_vga = strcmp(line, "1") == 0;
	if (read_attr(path, dirlen, "driver_override", line, sizeof(line)) == 0 &&
	    line[0] && strcmp(line, "(null)") != 0) {
		d->driver_override = strdup(line);
		if (!d->driver_override)
			return -NR_E_NOMEM;
	}
	return 0;
}

void nr_pci_dev_done(struct nr_pci_dev *d)
{
	free(d->driver);
	free(d->driver_override);
}

/* The devices the kernel lists in sys/bus/pci/devices, by the names of their links. */
static int list_devices(DIR *dir, struct nr_scan *scan)
{
	size_t cap = 0;
	struct dirent *e;

	while ((e = readdir(dir))) {
		struct nr_pci_dev *d;
		char addr[NR_ADDR_LEN];
		if (e->d_name[0] == '.' || nr_pci_parse_addr(e->d_name, addr) < 0)
			continue;
		if (scan->n_devices == cap) {
			struct nr_pci_dev *p = realloc(scan->devices, (cap = cap ? cap * 2 : 64) * sizeof(*p));
			if (!p)
				return -NR_E_NOMEM;
			scan->devices = p;
		}
		d = &scan->devices[scan->n_devices++];
		memset(d, 0, sizeof(*d));
		memcpy(d->addr, addr, sizeof(addr));
		sscanf(addr, "%x:%x:%x.%x", &d->domain, &d->bus, &d->dev, &d->func);
		d->iommu_group = -1;
	}
	return 0;
}

int nr_pci_read(const struct nr_ctx *ctx, struct nr_scan *scan, struct nr_error *err)
{
	char *devices_dir = nr_ctx_sys_path(ctx, "sys/bus/pci/devices");
	DIR *dir;
	int rc;

	if (!devices_dir)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	dir = opendir(devices_dir);
	if (!dir) {
		rc = nr_error_set(err, -NR_E_NOSYSFS,
				  "no PCI devices: %s is missing (is --sysroot %s a Linux system with /sys mounted?)",
				  devices_dir, nr_ctx_get(ctx, "sysroot"));
		free(devices_dir);
		return rc;
	}
	rc = list_devices(dir, scan);
	closedir(dir);
	if (rc < 0) {
		free(devices_dir);
		return nr_error_set(err, rc, NULL);
	}
	if (scan->n_devices == 0) {
		rc = nr_error_set(err, -NR_E_NOSYSFS, "no PCI devices under %s", devices_dir);
		free(devices_dir);
		return rc;
	}
	qsort(scan->devices, scan->n_devices, sizeof(*scan->devices), dev_cmp);
	for (size_t i = 0; i < scan->n_devices; i++) {
		rc = fill_device(&scan->devices[i], devices_dir);
		if (rc < 0) {
			if (rc == -NR_E_PCI)
				nr_error_set(err, rc, "reading PCI device %s: neither %s/%s/config nor its vendor, "
					     "device and class files can be read", scan->devices[i].addr, devices_dir,
					     scan->devices[i].addr);
			else
				nr_error_set(err, rc, "reading PCI device %s: %s", scan->devices[i].addr, nr_strerror(rc));
			free(devices_dir);
			return rc;
		}
	}
	free(devices_dir);
	rc = nr_pci_names_new(ctx, scan->devices, scan->n_devices, &scan->names);
	return rc < 0 ? nr_error_set(err, rc, NULL) : 0;
}
