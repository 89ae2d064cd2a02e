/* gpu bind / unbind on a copy of a fixture sysroot: the exact sysfs writes, in order,
 * what lands in the files, the remembered drivers, and every refusal. */
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

#include "neuron/bind.h"
#include "neuron/scan.h"
#include "neuron/util.h"
#include "unit.h"

struct env {
	char dir[64];               /* the copy: DIR/root is the sysroot, DIR/run the runtime folder */
	char root[128];
	struct nr_ctx *ctx;
	struct nr_scan *scan;
};

static void rescan(struct env *e)
{
	nr_scan_free(e->scan);
	e->scan = unit_scan_ctx(e->ctx);
}

/* A copy of the machine with the files the kernel has and the generator leaves out:
 * drivers_probe, each driver's bind/unbind, and (vfio) the vfio-pci driver. */
static void env_init(struct env *e, const char *machine, bool vfio)
{
	struct nr_ctx *fixture = unit_machine_ctx(machine);
	struct nr_error err = { 0 };
	char run[160], *dir = unit_tmpdir("bind", false);

	snprintf(e->dir, sizeof(e->dir), "%s", dir);
	free(dir);
	snprintf(e->root, sizeof(e->root), "%s/root", e->dir);
	unit_sh("cp -a '%s' '%s'", nr_ctx_get(fixture, "sysroot"), e->root);
	nr_ctx_free(fixture);
	if (vfio)
		unit_sh("mkdir -p '%s/sys/bus/pci/drivers/vfio-pci'", e->root);
	unit_sh("cd '%s/sys/bus/pci' && : > drivers_probe && for d in drivers/*; do : > $d/bind; : > $d/unbind; done",
	   e->root);
	e->ctx = nr_ctx_new();
	snprintf(run, sizeof(run), "%s/run", e->dir);
	assert_int_equal(nr_ctx_set(e->ctx, "sysroot", e->root, &err), 0);
	assert_int_equal(nr_ctx_set(e->ctx, "runtime_dir", run, &err), 0);
	e->scan = NULL;
	rescan(e);
}

static void env_done(struct env *e)
{
	nr_scan_free(e->scan);
	nr_ctx_free(e->ctx);
	unit_rmtree(e->dir);
}

/* The plan's writes as "VALUE > PATH" lines, the sysroot shown as "S". */
static char *writes(const struct env *e, const struct nr_bind_plan *plan)
{
	struct nr_buf b;
	size_t lr = strlen(e->root);

	nr_buf_init(&b);
	nr_buf_append(&b, "", 0);
	for (size_t i = 0; i < plan->n_writes; i++) {
		const char *p = plan->writes[i].path;
		assert_memory_equal(p, e->root, lr);
		nr_buf_printf(&b, "%s > S%s\n", strcmp(plan->writes[i].value, "\n") ? plan->writes[i].value : "\\n",
			      p + lr);
	}
	return nr_buf_steal(&b);
}

static char *slurp(const struct env *e, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", e->root, rel);
	return unit_slurp(path);
}

static void assert_file(const struct env *e, const char *rel, const char *want)
{
	char *got = slurp(e, rel);

	if (!got)
		fail_msg("%s is missing", rel);
	if (strcmp(got, want) != 0)
		fail_msg("%s holds '%s', want '%s'", rel, got, want);
	free(got);
}

/* What the kernel would do after the writes: point the driver links elsewhere. */
static void kernel_moves(struct env *e, const char *addr, const char *driver)
{
	unit_sh("cd '%s/sys/bus/pci/devices/%s' && rm -f driver && ln -s ../../../bus/pci/drivers/%s driver", e->root,
	   addr, driver);
}

static void test_bind_then_unbind(void **state)
{
	struct env e;
	struct nr_error err = { 0 };
	struct nr_bind_plan *plan = NULL;
	char *w, state_file[256], *text = NULL;
	FILE *f;

	env_init(&e, "intel-nvidia", true);
	assert_int_equal(nr_bind_plan_new(e.ctx, e.scan, "01:00.0", true, 0, NULL, &plan, &err), 0);
	w = writes(&e, plan);
	assert_string_equal(w,
		"vfio-pci > S/sys/bus/pci/devices/0000:01:00.0/driver_override\n"
		"0000:01:00.0 > S/sys/bus/pci/drivers/nvidia/unbind\n"
		"0000:01:00.0 > S/sys/bus/pci/drivers_probe\n"
		"vfio-pci > S/sys/bus/pci/devices/0000:01:00.1/driver_override\n"
		"0000:01:00.1 > S/sys/bus/pci/drivers/snd_hda_intel/unbind\n"
		"0000:01:00.1 > S/sys/bus/pci/drivers_probe\n");
	free(w);
	/* the root port in the group stays with the host: not a device of the plan */
	assert_int_equal(plan->n_devices, 2);
	assert_int_equal(nr_bind_apply(e.ctx, plan, &err), 0);
	assert_file(&e, "sys/bus/pci/devices/0000:01:00.0/driver_override", "vfio-pci");
	assert_file(&e, "sys/bus/pci/devices/0000:01:00.1/driver_override", "vfio-pci");
	assert_file(&e, "sys/bus/pci/drivers/nvidia/unbind", "0000:01:00.0");
	assert_file(&e, "sys/bus/pci/drivers/snd_hda_intel/unbind", "0000:01:00.1");
	assert_file(&e, "sys/bus/pci/drivers_probe", "0000:01:00.1");
	assert_file(&e, "sys/bus/pci/drivers/vfio-pci/bind", "");
	snprintf(state_file, sizeof(state_file), "%s/run/gpu-bind/0000:01:00.0", e.dir);
	assert_string_equal(plan->state_file, state_file);
	f = fopen(state_file, "r");
	assert_non_null(f);
	text = calloc(1, 256);
	assert_true(fread(text, 1, 255, f) > 0);
	fclose(f);
	assert_string_equal(text, "0000:01:00.0 nvidia\n0000:01:00.1 snd_hda_intel\n");
	free(text);
	nr_bind_plan_free(plan);

	/* the kernel moved them; a second bind has nothing to do and keeps the record */
	kernel_moves(&e, "0000:01:00.0", "vfio-pci");
	kernel_moves(&e, "0000:01:00.1", "vfio-pci");
	unit_sh("cd '%s/sys/bus/pci' && : > drivers_probe && for d in drivers/*; do : > $d/bind; : > $d/unbind; done", e.root);
	rescan(&e);
	assert_int_equal(nr_bind_plan_new(e.ctx, e.scan, "0000:01:00.0", true, 0, NULL, &plan, &err), 0);
	assert_int_equal(plan->n_writes, 0);
	nr_bind_plan_free(plan);

	/* give back: each device to the driver it had */
	assert_int_equal(nr_bind_plan_new(e.ctx, e.scan, "0000:01:00.0", false, 0, NULL, &plan, &err), 0);
	w = writes(&e, plan);
	assert_string_equal(w,
		"\\n > S/sys/bus/pci/devices/0000:01:00.0/driver_override\n"
		"0000:01:00.0 > S/sys/bus/pci/drivers/vfio-pci/unbind\n"
		"0000:01:00.0 > S/sys/bus/pci/drivers/nvidia/bind\n"
		"\\n > S/sys/bus/pci/devices/0000:01:00.1/driver_override\n"
		"0000:01:00.1 > S/sys/bus/pci/drivers/vfio-pci/unbind\n"
		"0000:01:00.1 > S/sys/bus/pci/drivers/snd_hda_intel/bind\n");
	free(w);
	assert_string_equal(plan->devices[0].target, "nvidia");
	assert_int_equal(nr_bind_apply(e.ctx, plan, &err), 0);
	assert_file(&e, "sys/bus/pci/devices/0000:01:00.0/driver_override", "\n");
	assert_file(&e, "sys/bus/pci/drivers/vfio-pci/unbind", "0000:01:00.1");
	assert_file(&e, "sys/bus/pci/drivers/nvidia/bind", "0000:01:00.0");
	assert_file(&e, "sys/bus/pci/drivers/snd_hda_intel/bind", "0000:01:00.1");
	assert_int_equal(access(state_file, F_OK), -1);
	nr_bind_plan_free(plan);
	env_done(&e);
}

/* A machine booted with the card on vfio-pci: nothing remembered, so the kernel picks. */
static void test_unbind_without_record(void **state)
{
	struct env e;
	struct nr_error err = { 0 };
	struct nr_bind_plan *plan = NULL;
	char *w;

	env_init(&e, "vfio-bound", false);
	assert_int_equal(nr_bind_plan_new(e.ctx, e.scan, "01:00.0", true, 0, NULL, &plan, &err), 0);
	assert_int_equal(plan->n_writes, 0);
	nr_bind_plan_free(plan);
	assert_int_equal(nr_bind_plan_new(e.ctx, e.scan, "01:00.0", false, 0, NULL, &plan, &err), 0);
	w = writes(&e, plan);
	assert_string_equal(w,
		"\\n > S/sys/bus/pci/devices/0000:01:00.0/driver_override\n"
		"0000:01:00.0 > S/sys/bus/pci/drivers/vfio-pci/unbind\n"
		"0000:01:00.0 > S/sys/bus/pci/drivers_probe\n"
		"\\n > S/sys/bus/pci/devices/0000:01:00.1/driver_override\n"
		"0000:01:00.1 > S/sys/bus/pci/drivers/vfio-pci/unbind\n"
		"0000:01:00.1 > S/sys/bus/pci/drivers_probe\n");
	free(w);
	assert_null(plan->devices[0].target);
	assert_int_equal(nr_bind_apply(e.ctx, plan, &err), 0);
	assert_file(&e, "sys/bus/pci/drivers/vfio-pci/unbind", "0000:01:00.1");
	nr_bind_plan_free(plan);
	env_done(&e);
}

static void test_refusals(void **state)
{
	struct env e;
	struct nr_error err = { 0 };
	struct nr_bind_plan *plan = NULL;
	char *addrs[] = { "0000:01:00.1" }, *owners[] = { "win11" };
	struct nr_bind_busy busy = { addrs, owners, 1 };
	char *w;

	env_init(&e, "intel-nvidia", true);
	assert_int_equal(nr_bind_plan_new(e.ctx, e.scan, "00:02.0", true, 0, NULL, &plan, &err), -NR_E_REFUSED);
	assert_null(plan);
	assert_string_equal(err.msg, "0000:00:02.0 is the boot GPU: it drives the host's console, which goes dark "
			    "without it; use --force for the single-GPU path");
	/* --force: the single-GPU path */
	assert_int_equal(nr_bind_plan_new(e.ctx, e.scan, "00:02.0", true, NR_BIND_FORCE, NULL, &plan, &err), 0);
	w = writes(&e, plan);
	assert_string_equal(w, "vfio-pci > S/sys/bus/pci/devices/0000:00:02.0/driver_override\n"
			       "0000:00:02.0 > S/sys/bus/pci/drivers/i915/unbind\n"
			       "0000:00:02.0 > S/sys/bus/pci/drivers_probe\n");
	free(w);
	nr_bind_plan_free(plan);
	plan = NULL;
	assert_int_equal(nr_bind_plan_new(e.ctx, e.scan, "01:00.0", true, 0, &busy, &plan, &err), -NR_E_BUSY);
	assert_string_equal(err.msg, "0000:01:00.1 is in use by the running VM win11: stop the VM first "
			    "(neuronctl vm stop 'win11')");
	assert_int_equal(nr_bind_plan_new(e.ctx, e.scan, "01:00.0", false, 0, &busy, &plan, &err), -NR_E_BUSY);
	assert_int_equal(nr_bind_plan_new(e.ctx, e.scan, "02:00.0", true, 0, NULL, &plan, &err), -NR_E_NODEVICE);
	assert_string_equal(err.msg, "0000:02:00.0 is not a GPU (class 0108); name the GPU's own function");
	assert_int_equal(nr_bind_plan_new(e.ctx, e.scan, "09:00.0", true, 0, NULL, &plan, &err), -NR_E_NODEVICE);
	assert_string_equal(err.msg, "there is no PCI device 09:00.0 (see 'neuronctl scan')");
	/* nothing was written by any of it */
	assert_file(&e, "sys/bus/pci/devices/0000:01:00.0/driver_override", "(null)\n");
	assert_file(&e, "sys/bus/pci/drivers_probe", "");
	env_done(&e);

	env_init(&e, "intel-nvidia", false);
	assert_int_equal(nr_bind_plan_new(e.ctx, e.scan, "01:00.0", true, 0, NULL, &plan, &err), -NR_E_NOTFOUND);
	assert_string_equal(err.msg, "the vfio-pci driver is not loaded: modprobe vfio-pci");
	env_done(&e);

	env_init(&e, "shared-group", true);
	assert_int_equal(nr_bind_plan_new(e.ctx, e.scan, "1f:00.0", true, 0, NULL, &plan, &err), -NR_E_REFUSED);
	assert_string_equal(err.msg, "0000:1f:00.0 is not isolated: its IOMMU group also holds 0000:03:00.0, "
			    "0000:03:00.1, 0000:22:00.0, which would go to vfio-pci too; see 'neuronctl check'");
	env_done(&e);

	env_init(&e, "iommu-off", true);
	for (size_t i = 0; i < e.scan->n_gpus; i++) {
		const char *a = e.scan->devices[e.scan->gpus[i].dev].addr;
		assert_int_equal(nr_bind_plan_new(e.ctx, e.scan, a, true, NR_BIND_FORCE, NULL, &plan, &err),
				 -NR_E_NOIOMMU);
		assert_non_null(strstr(err.msg, "the IOMMU is off, so vfio-pci cannot take "));
	}
	env_done(&e);
}

/* A write the kernel refuses stops the apply and says which. */
static void test_apply_failure(void **state)
{
	struct env e;
	struct nr_error err = { 0 };
	struct nr_bind_plan *plan = NULL;

	env_init(&e, "intel-nvidia", true);
	unit_sh("rm '%s/sys/bus/pci/drivers/nvidia/unbind'", e.root);
	assert_int_equal(nr_bind_plan_new(e.ctx, e.scan, "01:00.0", true, 0, NULL, &plan, &err), 0);
	assert_true(nr_bind_apply(e.ctx, plan, &err) < 0);
	assert_non_null(strstr(err.msg, "/sys/bus/pci/drivers/nvidia/unbind: No such file or directory"));
	/* the first write happened, the later ones did not */
	assert_file(&e, "sys/bus/pci/devices/0000:01:00.0/driver_override", "vfio-pci");
	assert_file(&e, "sys/bus/pci/devices/0000:01:00.1/driver_override", "(null)\n");
	nr_bind_plan_free(plan);
	env_done(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bind_then_unbind),
		cmocka_unit_test(test_unbind_without_record),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_apply_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
