/* VMs through the real libvirt API on test:///default (one connection per test: that
 * driver starts afresh for every connection): create with the disk, list, start, stop,
 * destroy, delete, and the messages for what cannot be done. */
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

#include "neuron/domain.h"
#include "neuron/profile.h"
#include "neuron/scan.h"
#include "neuron/vm.h"
#include "unit.h"

struct env {
	struct nr_ctx *ctx;
	struct nr_scan *scan;
	struct nr_virt *virt;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct nr_error err = { 0 };

	e->ctx = unit_machine_ctx("intel-nvidia");
	assert_int_equal(nr_ctx_set(e->ctx, "templates", "templates", &err), 0);
	assert_int_equal(nr_ctx_set(e->ctx, "connect", "test:///default", &err), 0);
	e->scan = unit_scan_ctx(e->ctx);
	if (nr_virt_open(e->ctx, &e->virt, &err) < 0)
		fail_msg("connect: %s", err.msg);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	nr_virt_close(e->virt);
	nr_scan_free(e->scan);
	nr_ctx_free(e->ctx);
	free(e);
	return 0;
}

static int create(struct env *e, const char *yaml, struct nr_vm_created *made, struct nr_error *err)
{
	struct nr_profile *p = unit_profile(yaml);
	char *xml = NULL;
	int rc;

	memset(err, 0, sizeof(*err));
	if (nr_domain_build(p, e->ctx, e->scan, &xml, err) < 0)
		fail_msg("build: %s", err->msg);
	rc = nr_vm_create(e->virt, p, xml, made, err);
	free(xml);
	nr_profile_free(p);
	return rc;
}

static const struct nr_vm *find(const struct nr_vm_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->vms[i].name, name) == 0)
			return &l->vms[i];
	return NULL;
}

/* Every example profile defines and starts (the Done-when of the issue). */
static void test_examples_define_and_start(void **state)
{
	struct env *e = *state;
	static const char *files[] = { "config/profiles/windows11.yaml", "config/profiles/windows10.yaml",
				       "config/profiles/linux.yaml" };
	struct nr_error err = { 0 };

	for (size_t i = 0; i < 3; i++) {
		struct nr_profile *p = NULL;
		char *xml = NULL;
		if (nr_profile_load(files[i], &p, &err) < 0)
			fail_msg("%s: %s", files[i], err.msg);
		if (nr_domain_build(p, e->ctx, e->scan, &xml, &err) < 0)
			fail_msg("%s: %s", files[i], err.msg);
		/* define the XML (the disks live on this host, not in the test driver's pool) */
		if (nr_vm_define(e->virt, xml, &err) < 0)
			fail_msg("%s: define: %s", files[i], err.msg);
		if (nr_vm_start(e->virt, p->name, &err) < 0)
			fail_msg("%s: start: %s", files[i], err.msg);
		struct nr_vm *vm = NULL;
		assert_int_equal(nr_vm_get(e->virt, p->name, &vm, &err), 0);
		assert_int_equal(vm->state, NR_VM_RUNNING);
		assert_true(vm->persistent);
		assert_true(vm->info->agent);
		nr_vm_free(vm);
		free(xml);
		nr_profile_free(p);
	}
}

static void test_lifecycle(void **state)
{
	struct env *e = *state;
	struct nr_vm_created made;
	struct nr_error err;
	struct nr_vm_list *l = NULL;
	const struct nr_vm *vm;
	bool destroyed = true;
	size_t removed = 9;

	assert_int_equal(create(e, "name: win11\ntemplate: windows11\nmemory: 2G\ndisk:\n  path: /default-pool/win11.qcow2\n"
				   "  size: 20G\n", &made, &err), 0);
	assert_int_equal(made.disk, NR_VM_DISK_POOL);
	assert_string_equal(made.pool, "default-pool");

	/* the same name again: refused before anything is made */
	assert_int_equal(create(e, "name: win11\ntemplate: windows11\n", &made, &err), -NR_E_EXISTS);
	assert_string_equal(err.msg, "VM win11 already exists: pick another name, or remove it first "
			    "(neuronctl vm delete 'win11')");
	/* the disk is there now: a second VM on it keeps it */
	assert_int_equal(create(e, "name: other\ntemplate: linux\ndisk:\n  path: /default-pool/win11.qcow2\n",
				&made, &err), 0);
	assert_int_equal(made.disk, NR_VM_DISK_EXISTS);

	assert_int_equal(nr_vm_list(e->virt, &l, &err), 0);
	vm = find(l, "win11");
	assert_non_null(vm);
	assert_int_equal(vm->state, NR_VM_OFF);
	assert_int_equal(vm->info->n_pci, 2);
	assert_string_equal(vm->info->pci[0], "0000:01:00.0");
	assert_string_equal(vm->info->pci[1], "0000:01:00.1");
	assert_true(vm->info->lg);
	assert_int_equal(vm->info->lg_size_mib, 32);
	assert_true(vm->info->tpm);
	assert_true(vm->info->agent);
	/* sorted by name: other, test (the driver's own), win11 */
	assert_string_equal(l->vms[0].name, "other");
	nr_vm_list_free(l);

	assert_int_equal(nr_vm_stop(e->virt, "win11", 5, false, &destroyed, &err), -NR_E_INVAL);
	assert_string_equal(err.msg, "VM win11 is not running");
	assert_int_equal(nr_vm_start(e->virt, "win11", &err), 0);
	assert_int_equal(nr_vm_start(e->virt, "win11", &err), -NR_E_BUSY);
	assert_string_equal(err.msg, "VM win11 is already running");

	/* running: its devices are busy */
	char **addrs, **owners;
	size_t n;
	assert_int_equal(nr_vm_busy_pci(e->virt, &addrs, &owners, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(addrs[0], "0000:01:00.0");
	assert_string_equal(owners[0], "win11");
	nr_vm_busy_free(addrs, owners, n);

	assert_int_equal(nr_vm_delete(e->virt, "win11", false, &removed, &err), -NR_E_BUSY);
	assert_string_equal(err.msg, "VM win11 is running: stop it first (neuronctl vm stop 'win11')");
	assert_int_equal(nr_vm_stop(e->virt, "win11", 5, false, &destroyed, &err), 0);
	assert_false(destroyed);
	assert_int_equal(nr_vm_destroy(e->virt, "win11", &err), -NR_E_INVAL);
	assert_int_equal(nr_vm_start(e->virt, "win11", &err), 0);
	assert_int_equal(nr_vm_destroy(e->virt, "win11", &err), 0);
	struct nr_vm *one = NULL;
	assert_int_equal(nr_vm_get(e->virt, "win11", &one, &err), 0);
	assert_int_equal(one->state, NR_VM_OFF);
	nr_vm_free(one);

	/* delete keeps the disk unless asked */
	assert_int_equal(nr_vm_delete(e->virt, "other", false, &removed, &err), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(nr_vm_delete(e->virt, "win11", true, &removed, &err), 0);
	assert_int_equal(removed, 1);
	assert_int_equal(nr_vm_get(e->virt, "win11", &one, &err), -NR_E_NOVM);
	assert_string_equal(err.msg, "no VM named 'win11' on test:///default (see 'neuronctl vm list')");
	/* the volume is gone from the pool: creating again makes it anew */
	assert_int_equal(create(e, "name: again\ntemplate: linux\ndisk:\n  path: /default-pool/win11.qcow2\n  size: 1G\n",
				&made, &err), 0);
	assert_int_equal(made.disk, NR_VM_DISK_POOL);
	assert_int_equal(nr_vm_start(e->virt, "nope", &err), -NR_E_NOVM);
}

/* No pool holds the folder: qemu-img makes the image. */
static void test_disk_with_qemu_img(void **state)
{
	struct env *e = *state;
	char dir[] = "/tmp/neuron-test-vm-XXXXXX", path[256], yaml[512];
	struct nr_vm_created made;
	struct nr_error err;
	struct stat st;
	char *text = NULL;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/d.qcow2", dir);
	snprintf(yaml, sizeof(yaml), "name: q\ntemplate: linux\ndisk:\n  path: %s\n  size: 64M\n", path);
	assert_int_equal(create(e, yaml, &made, &err), 0);
	assert_int_equal(made.disk, NR_VM_DISK_QEMU_IMG);
	f = fopen(path, "rb");
	assert_non_null(f);
	text = calloc(1, 8);
	assert_int_equal(fread(text, 1, 4, f), 4);
	fclose(f);
	assert_memory_equal(text, "QFI\xfb", 4);  /* a qcow2 header */
	free(text);
	assert_int_equal(nr_vm_delete(e->virt, "q", true, NULL, &err), 0);
	assert_int_equal(stat(path, &st), -1);

	/* raw */
	snprintf(path, sizeof(path), "%s/d.img", dir);
	snprintf(yaml, sizeof(yaml), "name: r\ntemplate: linux\ndisk:\n  path: %s\n  size: 8M\n  format: raw\n", path);
	assert_int_equal(create(e, yaml, &made, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 8 << 20);
	unlink(path);

	/* a folder that does not exist */
	snprintf(yaml, sizeof(yaml), "name: s\ntemplate: linux\ndisk:\n  path: %s/no/such/d.qcow2\n", dir);
	assert_int_equal(create(e, yaml, &made, &err), -NR_E_NOTFOUND);
	snprintf(yaml, sizeof(yaml), "cannot create %s/no/such/d.qcow2: the folder %s/no/such does not exist", dir, dir);
	assert_string_equal(err.msg, yaml);
	rmdir(dir);
}

static void test_define_rejected(void **state)
{
	struct env *e = *state;
	struct nr_error err = { 0 };
	struct nr_profile *p = unit_profile("name: bad\ntemplate: linux\ndisk:\n  path: /default-pool/bad.qcow2\n  size: 1G\n");
	struct nr_vm_created made;

	/* libvirt refuses the domain: the disk made for it goes again */
	assert_true(nr_vm_create(e->virt, p, "<domain type='test'><name>bad</name></domain>", &made, &err) < 0);
	assert_int_equal(made.disk, NR_VM_DISK_NONE);
	assert_int_equal(create(e, "name: good\ntemplate: linux\ndisk:\n  path: /default-pool/bad.qcow2\n  size: 1G\n",
				&made, &err), 0);
	assert_int_equal(made.disk, NR_VM_DISK_POOL); /* made anew, so it was gone */
	nr_profile_free(p);

	assert_int_equal(nr_vm_define(e->virt, "<domain type='test'><name>x</name></domain>", &err), -NR_E_VIRT);
	assert_non_null(strstr(err.msg, "VM x: libvirt refused the domain: "));
	assert_int_equal(nr_vm_define(e->virt, "<domain type='test'></domain>", &err), -NR_E_PARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_examples_define_and_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_with_qemu_img, setup, teardown),
		cmocka_unit_test_setup_teardown(test_define_rejected, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
