/* Verdict rules (DESIGN.md) on the fixture machines, read from their sysroots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "neuron/check.h"
#include "neuron/ctx.h"
#include "neuron/scan.h"
#include "neuron/util.h"
#include "unit.h"

static void assert_addrs(const struct nr_scan *s, const size_t *v, size_t n, const char *want)
{
	struct nr_buf b;

	nr_buf_init(&b);
	for (size_t i = 0; i < n; i++)
		nr_buf_printf(&b, "%s%s", i ? " " : "", s->devices[v[i]].addr);
	assert_string_equal(b.data ? b.data : "", want);
	nr_buf_done(&b);
}

static void assert_ids(const struct nr_gpu *g, const char *want)
{
	char buf[256] = "", id[10];

	for (size_t i = 0; i < g->n_vfio_ids; i++) {
		if (i)
			strcat(buf, " ");
		strcat(buf, nr_vfio_id_str(g->vfio_ids[i], id));
	}
	assert_string_equal(buf, want);
}

/* The root port in the GPU's group is a bridge: it stays, gets no vfio id, blocks nothing. */
static void test_bridge_in_group_stays(void **state)
{
	struct nr_scan *s = unit_scan("intel-nvidia");
	const struct nr_gpu *g = nr_scan_gpu(s, "01:00.0");

	assert_non_null(g);
	assert_true(g->isolated);
	assert_false(g->boot_vga);
	assert_addrs(s, g->functions, g->n_functions, "0000:01:00.0 0000:01:00.1");
	assert_addrs(s, g->set, g->n_set, "0000:00:01.0 0000:01:00.0 0000:01:00.1");
	assert_int_equal(g->n_blockers, 0);
	assert_ids(g, "10de:1b80 10de:10f0");
	assert_ptr_equal(nr_scan_best_gpu(s), g);
	/* the iGPU is the boot GPU */
	assert_true(nr_scan_gpu(s, "0000:00:02.0")->boot_vga);
	nr_scan_free(s);
}

static void test_chipset_group_blocks(void **state)
{
	struct nr_scan *s = unit_scan("shared-group");
	const struct nr_gpu *g = nr_scan_gpu(s, "1f:00.0");

	assert_false(g->isolated);
	assert_addrs(s, g->blockers, g->n_blockers, "0000:03:00.0 0000:03:00.1 0000:22:00.0");
	/* bridges of the group (03:00.2, 1d:00.0, 1d:04.0, 00:01.3) get no vfio id */
	assert_ids(g, "1022:43d5 1022:43c8 10de:1c82 10de:0fb9 10ec:8168");
	assert_null(nr_scan_best_gpu(s));
	nr_scan_free(s);
}

static void test_turing_four_functions(void **state)
{
	struct nr_scan *s = unit_scan("nvidia-turing-4fn");
	const struct nr_gpu *g = nr_scan_gpu(s, "01:00.0");

	assert_true(g->isolated);
	assert_int_equal(g->n_functions, 4);
	assert_ids(g, "10de:1f02 10de:10f9 10de:1ada 10de:1adb");
	nr_scan_free(s);
}

/* Navi: audio in a group of its own; the passthrough set is the union of both groups. */
static void test_split_audio_union(void **state)
{
	struct nr_scan *s = unit_scan("amd-navi-split-audio");
	const struct nr_gpu *g = nr_scan_gpu(s, "0c:00.0");

	assert_true(g->isolated);
	assert_int_equal(g->n_groups, 2);
	assert_int_equal(g->groups[0], 20);
	assert_int_equal(g->groups[1], 21);
	assert_addrs(s, g->set, g->n_set, "0000:0c:00.0 0000:0c:00.1");
	assert_ids(g, "1002:73bf 1002:ab28");
	nr_scan_free(s);
}

static void test_identical_cards_collide(void **state)
{
	struct nr_scan *s = unit_scan("two-identical");
	const struct nr_gpu *g = nr_scan_gpu(s, "02:00.0");

	assert_true(g->isolated);
	assert_true(g->bind_by_address);
	assert_addrs(s, g->collisions, g->n_collisions, "0000:01:00.0 0000:01:00.1");
	assert_ptr_equal(nr_scan_best_gpu(s), g);
	nr_scan_free(s);
}

static void test_shared_audio_id_collides(void **state)
{
	struct nr_scan *s = unit_scan("shared-audio-id");
	const struct nr_gpu *g = nr_scan_gpu(s, "0c:00.0");

	assert_true(g->bind_by_address);
	assert_addrs(s, g->collisions, g->n_collisions, "0000:0f:00.1");
	nr_scan_free(s);
}

static void test_3d_controller_is_gpu(void **state)
{
	struct nr_scan *s = unit_scan("laptop-3d");
	const struct nr_gpu *g = nr_scan_gpu(s, "01:00.0");

	assert_non_null(g);
	assert_int_equal(s->devices[g->dev].class_id, 0x0302);
	assert_true(g->isolated);
	/* no boot_vga key: the onboard VGA is the default boot GPU */
	assert_true(nr_scan_gpu(s, "00:02.0")->boot_vga);
	nr_scan_free(s);
}

static void test_iommu_off(void **state)
{
	struct nr_scan *s = unit_scan("iommu-off");
	struct nr_check c;

	assert_false(s->iommu);
	assert_int_equal(s->n_groups, 0);
	for (size_t i = 0; i < s->n_devices; i++)
		assert_int_equal(s->devices[i].iommu_group, -1);
	for (size_t i = 0; i < s->n_gpus; i++)
		assert_false(s->gpus[i].isolated);
	nr_check_run(s, NULL, &c);
	assert_true(c.blocked);
	assert_int_equal(c.items[NR_CHECK_iommu_groups].status, NR_CHECK_FAIL);
	assert_non_null(strstr(c.items[NR_CHECK_iommu_groups].hint, "intel_iommu=on"));
	nr_scan_free(s);
}

/* The only GPU is the boot GPU: single-GPU mode (issue 18), with a warning that says what
 * it costs and the other ways; binding it at boot stays refused. */
static void test_single_gpu_says_what_it_needs(void **state)
{
	struct nr_scan *s = unit_scan("single-gpu");
	struct nr_check c;

	assert_null(nr_scan_best_gpu(s));
	nr_check_run(s, NULL, &c);
	assert_false(c.blocked);
	assert_int_equal(c.items[NR_CHECK_guest_gpu].status, NR_CHECK_WARN);
	assert_non_null(strstr(c.items[NR_CHECK_guest_gpu].hint, "single-GPU mode"));
	assert_non_null(strstr(c.items[NR_CHECK_guest_gpu].hint, "screen goes dark"));
	assert_non_null(strstr(c.items[NR_CHECK_guest_gpu].hint, "second GPU"));
	assert_int_equal(c.items[NR_CHECK_boot_vga].status, NR_CHECK_WARN);
	/* and core's one rule says why the GPU cannot be chosen */
	struct nr_error err = { 0 };
	assert_int_equal(nr_gpu_choosable(s, c.guest_gpu, false, false, &err), -NR_E_BOOTGPU);
	assert_non_null(strstr(err.msg, "single-GPU mode"));
	assert_int_equal(nr_gpu_choosable(s, c.guest_gpu, true, false, &err), 0);
	nr_scan_free(s);
}

static void test_bmc_only_fails(void **state)
{
	struct nr_scan *s = unit_scan("server-bmc");
	struct nr_check c;

	nr_check_run(s, NULL, &c);
	assert_true(c.blocked);
	assert_int_equal(c.items[NR_CHECK_guest_gpu].status, NR_CHECK_FAIL);
	assert_null(c.guest_gpu);
	nr_scan_free(s);
}

static void test_acs_override_warns(void **state)
{
	struct nr_scan *s = unit_scan("acs-override");
	struct nr_check c;

	nr_check_run(s, NULL, &c);
	assert_int_equal(c.items[NR_CHECK_acs_override].status, NR_CHECK_WARN);
	assert_int_equal(c.items[NR_CHECK_isolation].status, NR_CHECK_PASS);
	nr_scan_free(s);
}

static void test_drivers_and_names(void **state)
{
	struct nr_scan *s = unit_scan("vfio-bound");
	const struct nr_pci_dev *d = nr_scan_device(s, "0000:01:00.0");

	assert_string_equal(d->driver, "vfio-pci");
	assert_string_equal(nr_pci_name(d), "NVIDIA Corporation GP104 [GeForce GTX 1080]");
	assert_string_equal(nr_pci_class_name(d), "VGA compatible controller");
	assert_int_equal(d->revision, 0xa1);
	assert_null(nr_scan_device(s, "0000:09:00.0"));
	assert_null(nr_scan_device(s, "not an address"));
	nr_scan_free(s);
}

static void test_missing_sysroot_is_explained(void **state)
{
	struct nr_ctx *ctx = nr_ctx_new();
	struct nr_error err = { 0 };
	struct nr_scan *scan = NULL;

	nr_ctx_set(ctx, "sysroot", "/nonexistent/neuron-sysroot", &err);
	assert_int_equal(nr_scan_new(ctx, &scan, &err), -NR_E_NOSYSFS);
	assert_null(scan);
	assert_non_null(strstr(err.msg, "/nonexistent/neuron-sysroot/sys/bus/pci/devices"));
	nr_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bridge_in_group_stays),
		cmocka_unit_test(test_chipset_group_blocks),
		cmocka_unit_test(test_turing_four_functions),
		cmocka_unit_test(test_split_audio_union),
		cmocka_unit_test(test_identical_cards_collide),
		cmocka_unit_test(test_shared_audio_id_collides),
		cmocka_unit_test(test_3d_controller_is_gpu),
		cmocka_unit_test(test_iommu_off),
		cmocka_unit_test(test_single_gpu_says_what_it_needs),
		cmocka_unit_test(test_bmc_only_fails),
		cmocka_unit_test(test_acs_override_warns),
		cmocka_unit_test(test_drivers_and_names),
		cmocka_unit_test(test_missing_sysroot_is_explained),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
