/* Looking Glass set-up in core: the qemu.conf cgroup_device_acl edit, and the set-up
 * plans on a small target root (the file edits, the shm file now, apply and revert). */
#include <errno.h>
#include <fcntl.h>
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

#include "neuron/ctx.h"
#include "neuron/error.h"
#include "neuron/lg.h"
#include "neuron/plan.h"
#include "unit.h"

static char *root;

static void put(const char *rel, const char *text)
{
	unit_put(unit_path(root, rel), text, 0644);
}

static char *get(const char *rel)
{
	return unit_slurp(unit_path(root, rel));
}

static int setup_root(void **state)
{
	char ids[128];

	root = unit_tmpdir("lgsetup", false);
	snprintf(ids, sizeof(ids), "root:x:0:0::/root:/bin/sh\nalice:x:%u:%u::/home/alice:/bin/sh\n",
		 (unsigned)getuid(), (unsigned)getgid());
	put("/etc/passwd", ids);
	snprintf(ids, sizeof(ids), "root:x:0:\nkvm:x:%u:alice\n", (unsigned)getgid());
	put("/etc/group", ids);
	return 0;
}

static int rm_root(void **state)
{
	unit_rmtree_free(&root);
	return 0;
}

static const char debian_block[] =
	"# leading text\n"
	"#cgroup_device_acl = [\n"
	"#    \"/dev/null\", \"/dev/full\", \"/dev/zero\",\n"
	"#    \"/dev/random\", \"/dev/urandom\",\n"
	"#    \"/dev/ptmx\", \"/dev/kvm\"\n"
	"#]\n"
	"#\n"
	"# trailing text\n";

static void test_acl_from_commented_defaults(void **state)
{
	char *out;

	assert_int_equal(nr_lg_qemu_conf_acl(debian_block, "/dev/kvmfr0", &out), 0);
	assert_non_null(out);
	/* inserted right after the commented block, which stays as it was */
	assert_string_equal(out,
		"# leading text\n"
		"#cgroup_device_acl = [\n"
		"#    \"/dev/null\", \"/dev/full\", \"/dev/zero\",\n"
		"#    \"/dev/random\", \"/dev/urandom\",\n"
		"#    \"/dev/ptmx\", \"/dev/kvm\"\n"
		"#]\n"
		"\n"
		"# Looking Glass: QEMU may open the kvmfr device (neuronctl lg setup).\n"
		"# The list replaces libvirt's default one, so it keeps the defaults.\n"
		"cgroup_device_acl = [\n"
		"    \"/dev/null\",\n    \"/dev/full\",\n    \"/dev/zero\",\n    \"/dev/random\",\n"
		"    \"/dev/urandom\",\n    \"/dev/ptmx\",\n    \"/dev/kvm\",\n"
		"    \"/dev/kvmfr0\"\n"
		"]\n"
		"#\n"
		"# trailing text\n");
	/* applying the edit again changes nothing */
	{
		char *again;
		assert_int_equal(nr_lg_qemu_conf_acl(out, "/dev/kvmfr0", &again), 0);
		assert_null(again);
	}
	free(out);
}

static void test_acl_active_list(void **state)
{
	char *out;

	assert_int_equal(nr_lg_qemu_conf_acl("user = \"qemu\"\ncgroup_device_acl = [\n"
					     "    \"/dev/null\", \"/dev/kvm\"\n]\n# end\n",
					     "/dev/kvmfr0", &out), 0);
	assert_string_equal(out, "user = \"qemu\"\ncgroup_device_acl = [\n"
				 "    \"/dev/null\", \"/dev/kvm\", \"/dev/kvmfr0\"\n]\n# end\n");
	free(out);
	assert_int_equal(nr_lg_qemu_conf_acl("cgroup_device_acl=[]\n", "/dev/kvmfr0", &out), 0);
	assert_string_equal(out, "cgroup_device_acl=[ \"/dev/kvmfr0\" ]\n");
	free(out);
	/* already there: nothing to do */
	assert_int_equal(nr_lg_qemu_conf_acl("cgroup_device_acl = [ \"/dev/kvmfr0\" ]\n", "/dev/kvmfr0",
					     &out), 0);
	assert_null(out);
	/* an active list that never closes is not guessed at */
	assert_int_equal(nr_lg_qemu_conf_acl("cgroup_device_acl = [ \"/dev/null\",\n", "/dev/kvmfr0", &out),
			 -NR_E_PARSE);
	/* no list anywhere, no newline at the end: libvirt's defaults, appended */
	assert_int_equal(nr_lg_qemu_conf_acl("# empty", "/dev/kvmfr0", &out), 0);
	assert_non_null(strstr(out, "# empty\n\n# Looking Glass"));
	assert_non_null(strstr(out, "    \"/dev/kvm\",\n    \"/dev/kvmfr0\"\n]\n"));
	free(out);
}

static struct nr_ctx *ctx_on_root(void)
{
	struct nr_ctx *ctx = nr_ctx_new();

	nr_ctx_set(ctx, "root", root, NULL);
	/* the live side (AppArmor's switch) is read from the sysroot: never the real /sys */
	nr_ctx_set(ctx, "sysroot", root, NULL);
	return ctx;
}

static void test_plan_refusals(void **state)
{
	struct nr_ctx *ctx = ctx_on_root();
	struct nr_lg_setup s = { NR_LG_MODE_SHM, "alice", NULL, 32 };
	struct nr_error err = { 0 };
	struct nr_plan *plan;

	s.user = NULL;
	assert_int_equal(nr_lg_setup_plan(ctx, &s, &plan, &err), -NR_E_INVAL);
	assert_non_null(strstr(err.msg, "--user"));
	s.user = "bob";
	assert_int_equal(nr_lg_setup_plan(ctx, &s, &plan, &err), -NR_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "no user 'bob'"));
	s.user = "al ice";
	assert_int_equal(nr_lg_setup_plan(ctx, &s, &plan, &err), -NR_E_INVAL);
	s.user = "alice";
	s.group = "libvirt";
	assert_int_equal(nr_lg_setup_plan(ctx, &s, &plan, &err), -NR_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "groupadd -r libvirt"));
	s.group = NULL;
	s.size_mib = 48;
	assert_int_equal(nr_lg_setup_plan(ctx, &s, &plan, &err), -NR_E_INVAL);
	assert_non_null(strstr(err.msg, "power of two"));
	nr_ctx_free(ctx);
}

static void test_shm_plan_apply_revert(void **state)
{
	struct nr_ctx *ctx = ctx_on_root();
	struct nr_lg_setup s = { NR_LG_MODE_SHM, "alice", NULL, 64 };
	struct nr_plan_result res;
	struct nr_error err = { 0 };
	struct nr_plan *plan;
	struct stat st;
	char *text, *now;

	/* not the running system: no file now, a note */
	assert_int_equal(nr_lg_setup_plan(ctx, &s, &plan, &err), 0);
	assert_int_equal(nr_plan_n_edits(plan), 1);
	assert_string_equal(nr_plan_edit(plan, 0)->path, "/etc/tmpfiles.d/10-looking-glass.conf");
	assert_string_equal(nr_plan_edit(plan, 0)->new_text,
			    "# Looking Glass shared memory for alice (neuronctl lg setup)\n"
			    "f /dev/shm/looking-glass 0660 alice kvm -\n");
	assert_null(nr_lg_setup_now(plan));
	assert_non_null(strstr(nr_plan_note(plan, 0), "next boot"));
	nr_plan_free(plan);

	/* the running system: the file is made now, with owner, group, mode and size */
	assert_int_equal(mkdir(unit_path(root, "/dev"), 0755), 0);
	assert_int_equal(mkdir(unit_path(root, "/dev/shm"), 01777), 0);
	assert_int_equal(nr_lg_setup_plan(ctx, &s, &plan, &err), 0);
	now = nr_lg_setup_now(plan);
	assert_non_null(now);
	assert_non_null(strstr(now, "create /dev/shm/looking-glass now"));
	assert_non_null(strstr(now, "64 MiB"));
	free(now);
	memset(&res, 0, sizeof(res));
	assert_int_equal(nr_lg_setup_apply(ctx, plan, NULL, &res, &err), 0);
	assert_int_equal(res.files_changed, 2);
	nr_plan_free(plan);
	assert_int_equal(stat(unit_path(root, "/dev/shm/looking-glass"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_uid, getuid());
	assert_int_equal(st.st_gid, getgid());
	assert_int_equal(st.st_size, 64 << 20);
	text = get("/etc/tmpfiles.d/10-looking-glass.conf");
	assert_non_null(strstr(text, "f /dev/shm/looking-glass 0660 alice kvm -"));
	free(text);

	/* a second apply changes nothing, and does not forget the file for revert */
	assert_int_equal(nr_lg_setup_plan(ctx, &s, &plan, &err), 0);
	assert_true(nr_plan_is_noop(plan));
	assert_null(nr_lg_setup_now(plan));
	memset(&res, 0, sizeof(res));
	assert_int_equal(nr_lg_setup_apply(ctx, plan, NULL, &res, &err), 0);
	assert_int_equal(res.files_changed, 0);
	nr_plan_free(plan);

	memset(&res, 0, sizeof(res));
	assert_int_equal(nr_lg_setup_revert(ctx, NR_LG_MODE_SHM, NULL, &res, &err), 0);
	assert_int_equal(res.files_changed, 2);
	assert_int_equal(access(unit_path(root, "/dev/shm/looking-glass"), F_OK), -1);
	assert_int_equal(access(unit_path(root, "/etc/tmpfiles.d/10-looking-glass.conf"), F_OK), -1);
	assert_int_equal(nr_lg_setup_revert(ctx, NR_LG_MODE_SHM, NULL, &res, &err), -NR_E_NOTFOUND);

	/* an existing file with another mode: fixed, and given its mode back on revert */
	put("/dev/shm/looking-glass", "qemu was here");
	chmod(unit_path(root, "/dev/shm/looking-glass"), 0600);
	assert_int_equal(nr_lg_setup_plan(ctx, &s, &plan, &err), 0);
	now = nr_lg_setup_now(plan);
	assert_non_null(strstr(now, "mode 0600"));
	free(now);
	assert_int_equal(nr_lg_setup_apply(ctx, plan, NULL, &res, &err), 0);
	nr_plan_free(plan);
	assert_int_equal(stat(unit_path(root, "/dev/shm/looking-glass"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_size, 64 << 20);
	text = get("/dev/shm/looking-glass");
	assert_string_equal(text, "qemu was here"); /* grown, never cut or rewritten */
	free(text);
	assert_int_equal(nr_lg_setup_revert(ctx, NR_LG_MODE_SHM, NULL, &res, &err), 0);
	assert_int_equal(stat(unit_path(root, "/dev/shm/looking-glass"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	unlink(unit_path(root, "/dev/shm/looking-glass"));
	nr_ctx_free(ctx);
}

static void test_kvmfr_plan(void **state)
{
	struct nr_ctx *ctx = ctx_on_root();
	struct nr_lg_setup s = { NR_LG_MODE_KVMFR, "alice", "kvm", 128 };
	struct nr_error err = { 0 };
	struct nr_plan *plan;
	bool module_note = false, libvirt_note = false;

	/* no qemu.conf, no kernel: both said, never guessed */
	assert_int_equal(nr_lg_setup_plan(ctx, &s, &plan, &err), 0);
	assert_int_equal(nr_plan_n_edits(plan), 3);
	assert_string_equal(nr_plan_edit(plan, 0)->new_text,
			    "# Looking Glass: the kvmfr device size in MiB (neuronctl lg setup)\n"
			    "options kvmfr static_size_mb=128\n");
	assert_string_equal(nr_plan_edit(plan, 1)->path, "/etc/modules-load.d/kvmfr.conf");
	assert_non_null(strstr(nr_plan_edit(plan, 2)->new_text,
			       "SUBSYSTEM==\"kvmfr\", OWNER=\"alice\", GROUP=\"kvm\", MODE=\"0660\", "
			       "TAG+=\"uaccess\"\n"));
	for (size_t i = 0; i < nr_plan_n_notes(plan); i++) {
		module_note |= strstr(nr_plan_note(plan, i), "no kernel was found") != NULL;
		libvirt_note |= strstr(nr_plan_note(plan, i), "install libvirt") != NULL;
	}
	assert_true(module_note);
	assert_true(libvirt_note);
	assert_null(nr_lg_setup_now(plan));
	nr_plan_free(plan);

	/* a kernel without the module: the package is named; with it (dkms): no such note */
	put("/etc/libvirt/qemu.conf", debian_block);
	put("/usr/lib/modules/6.1.0-1-amd64/modules.dep", "kernel/drivers/vfio/vfio.ko:\n");
	assert_int_equal(nr_lg_setup_plan(ctx, &s, &plan, &err), 0);
	assert_int_equal(nr_plan_n_edits(plan), 4);
	module_note = false;
	for (size_t i = 0; i < nr_plan_n_notes(plan); i++)
		module_note |= strstr(nr_plan_note(plan, i), "not installed for kernel 6.1.0-1-amd64") &&
			       strstr(nr_plan_note(plan, i), "looking-glass-module-dkms");
	assert_true(module_note);
	nr_plan_free(plan);
	put("/usr/lib/modules/6.1.0-1-amd64/modules.dep",
	    "kernel/drivers/vfio/vfio.ko:\nupdates/dkms/kvmfr.ko.xz:\n");
	assert_int_equal(nr_lg_setup_plan(ctx, &s, &plan, &err), 0);
	for (size_t i = 0; i < nr_plan_n_notes(plan); i++)
		assert_null(strstr(nr_plan_note(plan, i), "not installed"));
	nr_plan_free(plan);
	nr_ctx_free(ctx);
}


/* The shm file is a typed plan action: journaled with its arguments (not a string to
 * parse back), finished from the journal alone after a stop at any step, undone by revert. */
static void test_shm_action_journaled(void **state)
{
	struct nr_ctx *ctx = ctx_on_root();
	struct nr_lg_setup s = { NR_LG_MODE_SHM, "alice", NULL, 32 };
	struct nr_error err = { 0 };
	struct nr_plan *plan;
	struct stat st;

	mkdir(unit_path(root, "/dev"), 0755);
	mkdir(unit_path(root, "/dev/shm"), 01777);
	for (int n = 1;; n++) {
		struct nr_plan_opts crash = { .fault_after = n };
		struct nr_plan_result res;
		assert_int_equal(nr_lg_setup_plan(ctx, &s, &plan, &err), 0);
		assert_int_equal(nr_plan_n_actions(plan), 1);
		assert_string_equal(nr_plan_action(plan, 0)->type, "shm-file");
		int rc = nr_lg_setup_apply(ctx, plan, &crash, NULL, &err);
		nr_plan_free(plan);
		if (rc == 0)
			break;
		assert_int_equal(rc, -NR_E_FAULT);
		if (n > 1) {
			char *j = get("/var/lib/neuron/plans/lg-shm.journal");
			assert_non_null(j);
			assert_non_null(strstr(j, "\naction shm-file path=/dev/shm/looking-glass "));
			assert_non_null(strstr(j, " size=33554432 before=absent\n"));
			free(j);
		}
		/* finished from the journal, with no plan */
		memset(&res, 0, sizeof(res));
		int frc = nr_plan_finish(ctx, nr_lg_setup_plan_name(NR_LG_MODE_SHM), NULL, &res, &err);
		assert_true(frc == 0 || (n == 1 && frc == 0));
		if (n > 1) {
			assert_int_equal(stat(unit_path(root, "/dev/shm/looking-glass"), &st), 0);
			assert_int_equal(st.st_size, 32 << 20);
			assert_int_equal(st.st_mode & 07777, 0660);
			assert_int_equal(nr_lg_setup_revert(ctx, NR_LG_MODE_SHM, NULL, NULL, &err), 0);
		}
		assert_int_equal(access(unit_path(root, "/dev/shm/looking-glass"), F_OK), -1);
		assert_int_equal(access(unit_path(root, "/var/lib/neuron"), F_OK), -1);
		assert_true(n < 20);
	}
	assert_int_equal(nr_lg_setup_revert(ctx, NR_LG_MODE_SHM, NULL, NULL, &err), 0);
	assert_int_equal(access(unit_path(root, "/dev/shm/looking-glass"), F_OK), -1);
	rmdir(unit_path(root, "/dev/shm"));
	rmdir(unit_path(root, "/dev"));
	nr_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acl_from_commented_defaults),
		cmocka_unit_test(test_acl_active_list),
		cmocka_unit_test(test_plan_refusals),
		cmocka_unit_test(test_shm_plan_apply_revert),
		cmocka_unit_test(test_kvmfr_plan),
		cmocka_unit_test(test_shm_action_journaled),
	};

	return cmocka_run_group_tests(tests, setup_root, rm_root);
}
