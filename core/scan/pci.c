/* PCI devices through the real libpci, with sysfs.path moved under the sysroot. */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pci/pci.h>

#include "base/internal.h"
#include "scan/scan_internal.h"

/* libpci's error hook must not return: jump back to the caller with the text. */
static __thread jmp_buf *pci_jump;
static __thread char pci_errmsg[512];

static void __attribute__((noreturn)) pci_error_hook(char *msg, ...)
{
	va_list ap;

	va_start(ap, msg);
	vsnprintf(pci_errmsg, sizeof(pci_errmsg), msg, ap);
	va_end(ap);
	if (pci_jump)
		longjmp(*pci_jump, 1);
	abort(); /* unreachable: every libpci call below runs under a jump buffer */
}

static void pci_quiet_hook(char *msg, ...)
{
	(void)msg;
}

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

/* A name from pci.ids, or NULL when the database does not know it. */
static const char *lookup(struct pci_access *pa, char *buf, size_t size, int flags, int a, int b)
{
	return pci_lookup_name(pa, buf, (int)size, flags | PCI_LOOKUP_NO_HWDB | PCI_LOOKUP_NO_NUMBERS, a, b);
}

/* Names as lspci shows them: "NVIDIA Corporation", "GP104 [GeForce GTX 1080]", and
 * "Device 1b80" where pci.ids has no entry. */
static int fill_names(struct pci_access *pa, struct nr_pci_dev *d)
{
	char vbuf[256], dbuf[256], cbuf[256], tmp[64];
	const char *v, *dv, *c;

	v = lookup(pa, vbuf, sizeof(vbuf), PCI_LOOKUP_VENDOR, d->vendor, 0);
	dv = lookup(pa, dbuf, sizeof(dbuf), PCI_LOOKUP_DEVICE, d->vendor, d->device);
	c = lookup(pa, cbuf, sizeof(cbuf), PCI_LOOKUP_CLASS, d->class_id, 0);
	if (!c) {
		/* An unknown subclass: the class's own name, else "Class ffff". */
		c = lookup(pa, cbuf, sizeof(cbuf), PCI_LOOKUP_CLASS, d->class_id & 0xff00, 0);
		if (!c) {
			snprintf(cbuf, sizeof(cbuf), "Class %04x", d->class_id);
			c = cbuf;
		}
	}
	/* libpci answers a known class with an unknown subclass as "Name [ffff]". */
	{
		char suffix[16];
		size_t lc = strlen(c), ls;
		snprintf(suffix, sizeof(suffix), " [%04x]", d->class_id);
		ls = strlen(suffix);
		if (lc > ls && strcmp(c + lc - ls, suffix) == 0) {
			if (c != cbuf) {
				snprintf(cbuf, sizeof(cbuf), "%s", c);
				c = cbuf;
			}
			cbuf[lc - ls] = '\0';
		}
	}
	d->vendor_known = v != NULL;
	d->device_known = dv != NULL;
	if (!v) {
		snprintf(vbuf, sizeof(vbuf), "Vendor %04x", d->vendor);
		v = vbuf;
	}
	if (!dv) {
		snprintf(tmp, sizeof(tmp), "Device %04x", d->device);
		dv = tmp;
	}
	d->vendor_name = strdup(v);
	d->device_name = strdup(dv);
	d->class_name = strdup(c);
	if (asprintf(&d->name, "%s %s", v, dv) < 0)
		d->name = NULL;
	if (!d->vendor_name || !d->device_name || !d->class_name || !d->name)
		return -NR_E_NOMEM;
	return 0;
}

/* Read a small attribute of the device whose directory is path[0..dirlen). */
static int read_attr(const char *devdir, size_t dirlen, char *path, const char *attr,
		     char *buf, size_t size)
{
	snprintf(path + dirlen, 4096 - dirlen, "/%s", attr);
	(void)devdir;
	return nr_read_line(path, buf, size);
}

/* The basename of a symlink in the device's directory ("driver" -> "nvidia"). */
static int read_link(char *path, size_t dirlen, const char *link, char *buf, size_t size)
{
	snprintf(path + dirlen, 4096 - dirlen, "/%s", link);
	return nr_read_link_base(path, buf, size);
}

static int fill_device(struct pci_access *pa, struct pci_dev *pd, struct nr_pci_dev *d,
		       const char *devices_dir)
{
	char path[4096], line[256];
	size_t dirlen;

	/* Driver and IOMMU group come from two readlink()s of our own: libpci
	 * resolves those links with realpath(), about 30 system calls each. */
	pci_fill_info(pd, PCI_FILL_IDENT | PCI_FILL_CLASS | PCI_FILL_CLASS_EXT | PCI_FILL_SUBSYS);
	d->domain = (unsigned)pd->domain;
	d->bus = pd->bus;
	d->dev = pd->dev;
	d->func = pd->func;
	snprintf(d->addr, sizeof(d->addr), "%04x:%02x:%02x.%x", d->domain, d->bus, d->dev, d->func);
	d->vendor = pd->vendor_id;
	d->device = pd->device_id;
	d->class_id = pd->device_class;
	d->prog_if = pd->prog_if;
	d->revision = pd->rev_id;
	d->subsys_vendor = pd->subsys_vendor_id;
	d->subsys_device = pd->subsys_id;
	d->iommu_group = -1;

	dirlen = (size_t)snprintf(path, sizeof(path), "%s/%s", devices_dir, d->addr);
	if (dirlen >= sizeof(path) - 32)
		return -NR_E_INVAL;
	if (read_link(path, dirlen, "iommu_group", line, sizeof(line)) == 0 && isdigit((unsigned char)line[0]))
		d->iommu_group = atoi(line);
	if (read_link(path, dirlen, "driver", line, sizeof(line)) == 0) {
		d->driver = strdup(line);
		if (!d->driver)
			return -NR_E_NOMEM;
	}
	if (fill_names(pa, d) < 0)
		return -NR_E_NOMEM;

	/* boot_vga exists only for VGA-class devices. */
	if (nr_pci_is_gpu(d) && read_attr(devices_dir, dirlen, path, "boot_vga", line, sizeof(line)) == 0)
		d->boot_vga = strcmp(line, "1") == 0;
	if (read_attr(devices_dir, dirlen, path, "driver_override", line, sizeof(line)) == 0 &&
	    line[0] && strcmp(line, "(null)") != 0) {
		d->driver_override = strdup(line);
		if (!d->driver_override)
			return -NR_E_NOMEM;
	}
	return 0;
}

void nr_pci_dev_done(struct nr_pci_dev *d)
{
	free(d->vendor_name);
	free(d->device_name);
	free(d->class_name);
	free(d->name);
	free(d->driver);
	free(d->driver_override);
}

int nr_pci_read(const struct nr_ctx *ctx, struct nr_scan *scan, struct nr_error *err)
{
	struct pci_access *volatile pa = NULL;
	char *volatile bus_dir = NULL;
	char *devices_dir = NULL;
	const char *ids = nr_ctx_get(ctx, "pci.ids");
	jmp_buf jb;
	struct pci_dev *pd;
	struct stat st;
	size_t n = 0, i;
	int rc = 0;

	bus_dir = nr_ctx_sys_path(ctx, "sys/bus/pci");
	if (!bus_dir)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	devices_dir = nr_path_join(bus_dir, "devices");
	if (!devices_dir) {
		free(bus_dir);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	if (stat(devices_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		rc = nr_error_set(err, -NR_E_NOSYSFS,
				  "no PCI devices: %s is missing (is --sysroot %s a Linux system with /sys mounted?)",
				  devices_dir, nr_ctx_get(ctx, "sysroot"));
		goto out;
	}

	pci_jump = &jb;
	if (setjmp(jb)) {
		rc = nr_error_set(err, -NR_E_PCI, "reading PCI devices under %s: %s", bus_dir, pci_errmsg);
		goto out;
	}
	pa = pci_alloc();
	pa->error = pci_error_hook;
	pa->warning = pci_quiet_hook;
	pa->debug = pci_quiet_hook;
	pa->method = PCI_ACCESS_SYS_BUS_PCI;
	pci_set_param(pa, "sysfs.path", bus_dir);
	if (ids && ids[0])
		pci_set_name_list_path(pa, (char *)ids, 0);
	pci_init(pa);
	pci_scan_bus(pa);

	for (pd = pa->devices; pd; pd = pd->next)
		n++;
	scan->devices = calloc(n ? n : 1, sizeof(*scan->devices));
	if (!scan->devices) {
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto out;
	}
	for (pd = pa->devices, i = 0; pd; pd = pd->next, i++) {
		scan->n_devices = i + 1;
		rc = fill_device(pa, pd, &scan->devices[i], devices_dir);
		if (rc < 0) {
			nr_error_set(err, rc, "reading PCI device %04x:%02x:%02x.%x: %s",
				     pd->domain, pd->bus, pd->dev, pd->func, nr_strerror(rc));
			goto out;
		}
	}
	if (scan->n_devices)
		qsort(scan->devices, scan->n_devices, sizeof(*scan->devices), dev_cmp);
	if (scan->n_devices == 0)
		rc = nr_error_set(err, -NR_E_NOSYSFS, "no PCI devices under %s", devices_dir);
out:
	pci_jump = NULL;
	if (pa)
		pci_cleanup(pa);
	free(bus_dir);
	free(devices_dir);
	return rc;
}
