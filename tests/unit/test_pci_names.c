/* Device names (core/scan/pci_names.c): the same names libpci gives, read from pci.ids only
 * when a name is asked for. libpci itself is the oracle: every vendor, device and class of
 * the system's pci.ids, and a hand-made pci.ids with the corners of the format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pci/pci.h>
#include <zlib.h>

#include "neuron/ctx.h"
#include "neuron/scan.h"
#include "scan/scan_internal.h"
#include "unit.h"

struct id { unsigned vendor, device, cls; };

static void __attribute__((noreturn)) oracle_error(char *msg, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, msg);
	vsnprintf(buf, sizeof(buf), msg, ap);
	va_end(ap);
	fail_msg("libpci failed on the test's pci.ids: %s", buf);
	abort();
}

static void oracle_quiet(char *msg, ...)
{
	(void)msg;
}

/* libpci with the whole list loaded, as neuron read names before. */
static struct pci_access *oracle(const char *ids)
{
	struct pci_access *pa = pci_alloc();

	pa->error = oracle_error;
	pa->warning = oracle_quiet;
	pa->debug = oracle_quiet;
	pa->id_lookup_mode = 0;
	if (ids)
		pci_set_name_list_path(pa, (char *)ids, 0);
	return pa;
}

static const char *ask(struct pci_access *pa, char *buf, int flags, int a, int b)
{
	return pci_lookup_name(pa, buf, 256, flags | PCI_LOOKUP_NO_HWDB | PCI_LOOKUP_NO_NUMBERS, a, b);
}

/* What neuron showed before, from libpci: the same rules as the old fill_names(). */
static void expect(struct pci_access *pa, const struct id *id, char *vendor, char *device, char *cls,
		   bool *vknown, bool *dknown)
{
	char buf[256], suffix[16];
	const char *v = ask(pa, buf, PCI_LOOKUP_VENDOR, id->vendor, 0);

	*vknown = v != NULL;
	if (v)
		snprintf(vendor, 256, "%s", v);
	else
		snprintf(vendor, 256, "Vendor %04x", id->vendor);
	v = ask(pa, buf, PCI_LOOKUP_DEVICE, id->vendor, id->device);
	*dknown = v != NULL;
	if (v)
		snprintf(device, 256, "%s", v);
	else
		snprintf(device, 256, "Device %04x", id->device);
	v = ask(pa, buf, PCI_LOOKUP_CLASS, id->cls, 0);
	if (!v) {
		snprintf(cls, 256, "Class %04x", id->cls);
		return;
	}
	snprintf(cls, 256, "%s", v);
	snprintf(suffix, sizeof(suffix), " [%04x]", id->cls);
	if (strlen(cls) > strlen(suffix) && strcmp(cls + strlen(cls) - strlen(suffix), suffix) == 0)
		cls[strlen(cls) - strlen(suffix)] = '\0';
}

/* Names of ids through a names database on pci.ids file ids (NULL: libpci's default),
 * each compared with libpci's. */
static void compare(const char *ids, const struct id *list, size_t n)
{
	struct nr_ctx *ctx = nr_ctx_new();
	struct nr_error err = { 0 };
	struct nr_pci_dev *devs = calloc(n, sizeof(*devs));
	struct nr_pci_names *db = NULL;
	struct pci_access *pa = oracle(ids);

	assert_non_null(ctx);
	assert_non_null(devs);
	/* a fake sysroot: pci.ids alone, never the host's hwdb */
	assert_int_equal(nr_ctx_set(ctx, "sysroot", "/nonexistent-sysroot", &err), 0);
	if (ids)
		assert_int_equal(nr_ctx_set(ctx, "pci.ids", ids, &err), 0);
	for (size_t i = 0; i < n; i++) {
		devs[i].vendor = (uint16_t)list[i].vendor;
		devs[i].device = (uint16_t)list[i].device;
		devs[i].class_id = (uint16_t)list[i].cls;
	}
	assert_int_equal(nr_pci_names_new(ctx, devs, n, &db), 0);
	for (size_t i = 0; i < n; i++) {
		char v[256], d[256], c[256], name[520];
		bool vk, dk;
		expect(pa, &list[i], v, d, c, &vk, &dk);
		snprintf(name, sizeof(name), "%s %s", v, d);
		if (strcmp(nr_pci_name(&devs[i]), name) != 0 || strcmp(nr_pci_class_name(&devs[i]), c) != 0 ||
		    strcmp(nr_pci_vendor_name(&devs[i]), v) != 0 || strcmp(nr_pci_device_name(&devs[i]), d) != 0 ||
		    nr_pci_vendor_known(&devs[i]) != vk || nr_pci_device_known(&devs[i]) != dk)
			fail_msg("%04x:%04x class %04x: got '%s' / '%s' (known %d %d), libpci gives '%s' / '%s' (%d %d)",
				 list[i].vendor, list[i].device, list[i].cls, nr_pci_name(&devs[i]),
				 nr_pci_class_name(&devs[i]), nr_pci_vendor_known(&devs[i]),
				 nr_pci_device_known(&devs[i]), name, c, vk, dk);
	}
	nr_pci_names_free(db);
	pci_cleanup(pa);
	free(devs);
	nr_ctx_free(ctx);
}

static int add(struct id **list, size_t *n, size_t *cap, unsigned v, unsigned d, unsigned c)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 1024;
		*list = realloc(*list, *cap * sizeof(**list));
		assert_non_null(*list);
	}
	(*list)[(*n)++] = (struct id){ v, d, c };
	return 0;
}

/* Every vendor and device of the system's pci.ids (the one the goldens' names come from),
 * every class and subclass, and ids it does not have. */
static void test_system_pci_ids_match_libpci(void **state)
{
	struct pci_access *pa = pci_alloc();
	char path[4096], line[1024];
	struct id *list = NULL;
	size_t n = 0, cap = 0;
	unsigned vendor = 0, cls = 0, k = 0;
	bool in_class = false;
	gzFile f;

	snprintf(path, sizeof(path), "%s", pa->id_file_name);
	pci_cleanup(pa);
	f = gzopen(path, "rb");
	if (!f && strlen(path) > 3 && strcmp(path + strlen(path) - 3, ".gz") == 0) {
		path[strlen(path) - 3] = '\0';
		f = gzopen(path, "rb");
	}
	if (!f)
		skip();     /* no pci.ids on this system: the file test below still runs */
	while (gzgets(f, line, sizeof(line))) {
		unsigned a, b;
		if (line[0] == 'C' && sscanf(line, "C %2x", &a) == 1) {
			in_class = true;
			cls = a;
			add(&list, &n, &cap, 0x10de, 0x1b80, cls << 8 | 0x7f); /* an unknown subclass */
		} else if (line[0] != '\t' && line[0] != '#' && sscanf(line, "%4x", &a) == 1) {
			in_class = false;
			vendor = a;
			add(&list, &n, &cap, vendor, 0xfffe, 0x0300);
		} else if (line[0] == '\t' && line[1] != '\t' && sscanf(line + 1, in_class ? "%2x" : "%4x", &b) == 1) {
			/* every device would take long under ASan: every third, and every subclass */
			if (in_class)
				add(&list, &n, &cap, 0x8086, 0x1901, cls << 8 | b);
			else if (k++ % 3 == 0)
				add(&list, &n, &cap, vendor, b, 0x0c03);
		}
	}
	gzclose(f);
	assert_true(n > 1000);
	add(&list, &n, &cap, 0x1234, 0x5678, 0xff00);  /* ids nobody has */
	add(&list, &n, &cap, 0xfffe, 0x0001, 0xfe12);
	compare(NULL, list, n);
	free(list);
}

/* The corners of the format, each as libpci reads it: comments and blank lines inside
 * blocks, CRLF, a trailing blank, tabs in names, unknown top-level blocks (with nested
 * lines that look like devices), a generic subsystem block, subsystems and prog-ifs
 * (nesting level 2), upper-case hex, a class whose subclass is unknown. And compressed. */
static const char corner_ids[] =
	"# a comment\n"
	"\n"
	"0001  Plain Vendor\n"
	"\t0002  Its device\n"
	"\t\t0001 0002  A subsystem that must not be taken for a device\n"
	"# a comment inside the block\n"
	"\n"
	"\t0003  Device with trailing blank \n"
	"\t00aB  Mixed\tcase\thex\n"
	"10DE  Upper Case Vendor\r\n"
	"\t1B80  CRLF device\r\n"
	"\t1b81\t\tTabbed device\n"
	"2000  Vendor without devices\n"
	"X 1234  Unknown block\n"
	"\t0002  Not a device of anyone\n"
	"S 0001\n"
	"\t0004  Generic\n"
	"C 03  Display controller\n"
	"\t00  VGA compatible controller\n"
	"\t\t00  VGA controller\n"
	"\t02  3D controller\n"
	"C 0c  Serial bus controller\n"
	"\t03  USB controller\n";

static const struct id corner_list[] = {
	{ 0x0001, 0x0002, 0x0300 }, { 0x0001, 0x0003, 0x0302 }, { 0x0001, 0x00ab, 0x0c03 },
	{ 0x0001, 0x0004, 0x0380 }, { 0x0001, 0x0001, 0x0c80 }, { 0x10de, 0x1b80, 0x0300 },
	{ 0x10de, 0x1b81, 0x0d00 }, { 0x2000, 0x0002, 0x0300 }, { 0x1234, 0x0002, 0x0000 },
	{ 0x0002, 0x0002, 0x0c03 }, { 0xffff, 0xffff, 0xffff },
};

static void test_format_corners_match_libpci(void **state)
{
	const char *dir = *state;
	const char *plain = strdup(unit_path(dir, "pci.ids"));
	const char *gzpath = strdup(unit_path(dir, "packed.ids.gz"));
	gzFile gz;

	unit_put(plain, corner_ids, 0644);
	compare(plain, corner_list, sizeof(corner_list) / sizeof(corner_list[0]));
	gz = gzopen(gzpath, "wb");
	assert_non_null(gz);
	assert_int_equal(gzwrite(gz, corner_ids, sizeof(corner_ids) - 1), (int)sizeof(corner_ids) - 1);
	gzclose(gz);
	compare(gzpath, corner_list, sizeof(corner_list) / sizeof(corner_list[0]));
	free((char *)plain);
	free((char *)gzpath);
}

/* Nothing is read until a name is asked for: a scan whose pci.ids does not exist yet names
 * its devices from the file written after the scan. */
static void test_names_are_read_when_asked(void **state)
{
	const char *dir = *state;
	const char *ids = strdup(unit_path(dir, "late.ids"));
	struct nr_ctx *ctx = unit_machine_ctx("vfio-bound");
	struct nr_error err = { 0 };
	struct nr_scan *s;
	const struct nr_pci_dev *d;

	assert_int_equal(nr_ctx_set(ctx, "pci.ids", ids, &err), 0);
	s = unit_scan_ctx(ctx);
	d = nr_scan_device(s, "01:00.0");
	assert_non_null(d);
	unit_put(ids, "10de  Late Vendor\n\t1b80  Late Device\nC 03  Display\n\t00  VGA\n", 0644);
	assert_string_equal(nr_pci_name(d), "Late Vendor Late Device");
	assert_string_equal(nr_pci_class_name(d), "VGA");
	/* a device of no scan has no names */
	{
		struct nr_pci_dev bare = { .vendor = 0x10de, .device = 0x1b80 };
		assert_string_equal(nr_pci_name(&bare), "?");
		assert_false(nr_pci_vendor_known(&bare));
	}
	nr_scan_free(s);
	nr_ctx_free(ctx);
	free((char *)ids);
}

/* Where config is missing (or short) the attribute files give the same ids: a sysroot
 * without any config file scans like the fixture. */
static void test_ids_without_config_from_files(void **state)
{
	const char *dir = *state;
	char cmd[8192];
	struct nr_ctx *ctx = unit_machine_ctx("intel-nvidia");
	struct nr_error err = { 0 };
	struct nr_scan *want = unit_scan_ctx(ctx), *got;

	snprintf(cmd, sizeof(cmd), "cp -a '%s/.' '%s/' && find '%s/sys/devices' -name config -delete",
		 nr_ctx_get(ctx, "sysroot"), dir, dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(nr_ctx_set(ctx, "sysroot", dir, &err), 0);
	got = unit_scan_ctx(ctx);
	assert_int_equal(got->n_devices, want->n_devices);
	for (size_t i = 0; i < got->n_devices; i++) {
		const struct nr_pci_dev *a = &got->devices[i], *b = &want->devices[i];
		assert_string_equal(a->addr, b->addr);
		assert_int_equal(a->vendor, b->vendor);
		assert_int_equal(a->device, b->device);
		assert_int_equal(a->class_id, b->class_id);
		assert_int_equal(a->prog_if, b->prog_if);
		assert_int_equal(a->revision, b->revision);
		assert_int_equal(a->subsys_vendor, b->subsys_vendor);
		assert_int_equal(a->subsys_device, b->subsys_device);
		assert_int_equal(a->iommu_group, b->iommu_group);
		assert_string_equal(nr_pci_name(a), nr_pci_name(b));
	}
	nr_scan_free(got);
	nr_scan_free(want);
	nr_ctx_free(ctx);
}

/* A scratch directory per test, removed by the teardown (also when the test failed). */
static int scratch_setup(void **state)
{
	*state = unit_tmpdir("pci-names", false);
	return 0;
}

static int scratch_teardown(void **state)
{
	char *dir = *state;

	unit_rmtree_free(&dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_system_pci_ids_match_libpci),
		cmocka_unit_test_setup_teardown(test_format_corners_match_libpci, scratch_setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_names_are_read_when_asked, scratch_setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_ids_without_config_from_files, scratch_setup, scratch_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
