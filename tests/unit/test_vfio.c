/* The text edits of boot configuration (user edits and quoting kept, nothing added
 * twice) and the VFIO plan's decisions on hand-made scans. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "vfio/boot.h"
#include "vfio/vfio_internal.h"
#include "neuron/check.h"
#include "neuron/vfio.h"

static const char *const intel[] = { "intel_iommu=on", "iommu=pt", NULL };
static const char *const amd[] = { "amd_iommu=on", "iommu=pt", NULL };

static void check_grub(const char *in, const char *const *want, const char *out)
{
	char *got = nr_grub_add_params(in, want);

	assert_non_null(got);
	assert_string_equal(got, out);
	/* idempotent: a second pass changes nothing */
	char *again = nr_grub_add_params(got, want);
	assert_string_equal(again, got);
	free(again);
	free(got);
}

static void test_grub_quoting(void **state)
{
	/* Debian's default */
	check_grub("GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n", intel,
		   "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet intel_iommu=on iommu=pt\"\nGRUB_CMDLINE_LINUX=\"\"\n");
	/* single quotes stay single quotes */
	check_grub("GRUB_CMDLINE_LINUX_DEFAULT='quiet splash'\n", amd,
		   "GRUB_CMDLINE_LINUX_DEFAULT='quiet splash amd_iommu=on iommu=pt'\n");
	/* escaped quotes inside, a comment after */
	check_grub("GRUB_CMDLINE_LINUX_DEFAULT=\"video=\\\"efifb:off\\\" quiet\" # mine\n", intel,
		   "GRUB_CMDLINE_LINUX_DEFAULT=\"video=\\\"efifb:off\\\" quiet intel_iommu=on iommu=pt\" # mine\n");
	/* a self-reference: the last assignment is the one edited */
	check_grub("GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n"
		   "GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT splash\"\n", intel,
		   "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n"
		   "GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT splash intel_iommu=on iommu=pt\"\n");
	check_grub("GRUB_CMDLINE_LINUX_DEFAULT=\"${GRUB_CMDLINE_LINUX_DEFAULT}\"\n", intel,
		   "GRUB_CMDLINE_LINUX_DEFAULT=\"${GRUB_CMDLINE_LINUX_DEFAULT}intel_iommu=on iommu=pt\"\n");
	/* empty, unquoted, absent */
	check_grub("GRUB_CMDLINE_LINUX_DEFAULT=\"\"\n", intel,
		   "GRUB_CMDLINE_LINUX_DEFAULT=\"intel_iommu=on iommu=pt\"\n");
	check_grub("GRUB_CMDLINE_LINUX_DEFAULT=\n", intel,
		   "GRUB_CMDLINE_LINUX_DEFAULT=\"intel_iommu=on iommu=pt\"\n");
	check_grub("GRUB_CMDLINE_LINUX_DEFAULT=quiet\n", intel,
		   "GRUB_CMDLINE_LINUX_DEFAULT=quiet\" intel_iommu=on iommu=pt\"\n");
	check_grub("GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX=\"rhgb quiet\"", intel,
		   "GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX=\"rhgb quiet\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"intel_iommu=on iommu=pt\"\n");
	/* export, and a value continued on the next line */
	check_grub("export GRUB_CMDLINE_LINUX_DEFAULT=\"quiet \\\nsplash\"\n", intel,
		   "export GRUB_CMDLINE_LINUX_DEFAULT=\"quiet \\\nsplash intel_iommu=on iommu=pt\"\n");
	/* a commented assignment is not an assignment */
	check_grub("#GRUB_CMDLINE_LINUX_DEFAULT=\"x\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n", intel,
		   "#GRUB_CMDLINE_LINUX_DEFAULT=\"x\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet intel_iommu=on iommu=pt\"\n");
}

static void test_grub_nothing_twice(void **state)
{
	/* already there (in either variable): unchanged */
	const char *both = "GRUB_CMDLINE_LINUX=\"iommu=pt\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"intel_iommu=on,igfx_off\"\n";
	char *got = nr_grub_add_params(both, intel);
	assert_string_equal(got, both);
	free(got);
	/* only what is missing */
	check_grub("GRUB_CMDLINE_LINUX_DEFAULT=\"quiet iommu=pt\"\n", intel,
		   "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet iommu=pt intel_iommu=on\"\n");
	/* a conflicting value: the new one goes after it (the last one wins) */
	check_grub("GRUB_CMDLINE_LINUX_DEFAULT=\"intel_iommu=off\"\n", intel,
		   "GRUB_CMDLINE_LINUX_DEFAULT=\"intel_iommu=off intel_iommu=on iommu=pt\"\n");
	char *cl = nr_grub_cmdline("GRUB_CMDLINE_LINUX='a b'\nGRUB_CMDLINE_LINUX_DEFAULT=\"c \\\"d e\\\"\"\n");
	assert_string_equal(cl, "a b c \"d e\"");
	free(cl);
}

static void test_grub_dropins(void **state)
{
	/* a drop-in sets the default after the main file: the edit goes there */
	const char *main_text = "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"iommu=pt\"\n";
	const char *dropin = "GRUB_CMDLINE_LINUX_DEFAULT=\"console=tty1\"\n";
	assert_true(nr_grub_assigns_default(dropin));
	assert_false(nr_grub_assigns_default("GRUB_CMDLINE_LINUX=\"x\"\n#GRUB_CMDLINE_LINUX_DEFAULT=1\n"));
	char *got = nr_grub_add_params_in(main_text, dropin, "", intel);
	/* iommu=pt is already in the main file's GRUB_CMDLINE_LINUX: not added twice */
	assert_string_equal(got, "GRUB_CMDLINE_LINUX_DEFAULT=\"console=tty1 intel_iommu=on\"\n");
	free(got);
	/* a later file already brings the parameters: nothing to do */
	got = nr_grub_add_params_in("", main_text, "GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX intel_iommu=on\"\n",
				    intel);
	assert_string_equal(got, main_text);
	free(got);
	/* a self-reference keeps what came before */
	got = nr_grub_add_params_in(main_text, "GRUB_TIMEOUT=0\n", "", amd);
	assert_string_equal(got, "GRUB_TIMEOUT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT amd_iommu=on\"\n");
	free(got);
}

static void test_params_satisfied(void **state)
{
	assert_true(nr_boot_param_satisfied("quiet intel_iommu=on", "intel_iommu=on"));
	assert_true(nr_boot_param_satisfied("intel_iommu=sm_on,on", "intel_iommu=on"));
	assert_false(nr_boot_param_satisfied("intel_iommu=on intel_iommu=off", "intel_iommu=on"));
	assert_false(nr_boot_param_satisfied("iommu=soft", "iommu=pt"));
	assert_false(nr_boot_param_satisfied("xintel_iommu=on", "intel_iommu=on"));
	char *m = nr_boot_missing_params("amd_iommu=on quiet", amd);
	assert_string_equal(m, "iommu=pt");
	free(m);
}

static void test_sdboot_entries(void **state)
{
	const char *arch = "title   Arch Linux\nlinux   /vmlinuz-linux\ninitrd  /initramfs-linux.img\n"
			   "options root=UUID=0a34 rw\n";
	char *got = nr_sdboot_add_params(arch, intel);
	assert_string_equal(got, "title   Arch Linux\nlinux   /vmlinuz-linux\ninitrd  /initramfs-linux.img\n"
				 "options root=UUID=0a34 rw intel_iommu=on iommu=pt\n");
	char *again = nr_sdboot_add_params(got, intel);
	assert_string_equal(again, got);
	free(again);
	free(got);
	/* two options lines: both count, the last one grows; trailing blanks and CR kept */
	got = nr_sdboot_add_params("linux /v\noptions iommu=pt\noptions rw  \r\n", intel);
	assert_string_equal(got, "linux /v\noptions iommu=pt\noptions rw intel_iommu=on  \r\n");
	free(got);
	/* no options line, no final newline */
	got = nr_sdboot_add_params("title x\nlinux /v", amd);
	assert_string_equal(got, "title x\nlinux /v\noptions amd_iommu=on iommu=pt\n");
	free(got);
	assert_true(nr_sdboot_is_linux(arch));
	assert_false(nr_sdboot_is_linux("title Windows\nefi /EFI/Microsoft/Boot/bootmgfw.efi\n"));
}

static void test_kernel_cmdline(void **state)
{
	char *got = nr_kernel_cmdline_add_params("root=/dev/sda2 rw quiet\n", intel);
	assert_string_equal(got, "root=/dev/sda2 rw quiet intel_iommu=on iommu=pt\n");
	free(got);
	got = nr_kernel_cmdline_add_params("root=/dev/sda2\nrw\n\n", amd);
	assert_string_equal(got, "root=/dev/sda2\nrw amd_iommu=on iommu=pt\n\n");
	free(got);
	got = nr_kernel_cmdline_add_params("", amd);
	assert_string_equal(got, "amd_iommu=on iommu=pt\n");
	free(got);
	got = nr_kernel_cmdline_add_params("iommu=pt\namd_iommu=on", amd);
	assert_string_equal(got, "iommu=pt\namd_iommu=on");
	free(got);
}

static void test_mkinitcpio_arrays(void **state)
{
	static const char *const mods[] = { "vfio_pci", "vfio", "vfio_iommu_type1", NULL };
	char *got = nr_mkinitcpio_prepend("MODULES=()\nHOOKS=(base udev)\n", "MODULES", mods);
	assert_string_equal(got, "MODULES=(vfio_pci vfio vfio_iommu_type1)\nHOOKS=(base udev)\n");
	free(got);
	/* the user's modules stay, after ours; a dash spelling counts as present */
	got = nr_mkinitcpio_prepend("MODULES=(amdgpu vfio-pci)\n", "MODULES", mods);
	assert_string_equal(got, "MODULES=(vfio vfio_iommu_type1 amdgpu vfio-pci)\n");
	free(got);
	/* the old string syntax; a commented line is not the assignment */
	got = nr_mkinitcpio_prepend("#MODULES=(x)\nMODULES=\"nvme\"\n", "MODULES", mods);
	assert_string_equal(got, "#MODULES=(x)\nMODULES=\"vfio_pci vfio vfio_iommu_type1 nvme\"\n");
	free(got);
	/* over several lines, with a comment inside */
	got = nr_mkinitcpio_prepend("MODULES=(\n  nvme # disk\n  ext4\n)\n", "MODULES", mods);
	assert_string_equal(got, "MODULES=(vfio_pci vfio vfio_iommu_type1\n  nvme # disk\n  ext4\n)\n");
	free(got);
	/* all present: unchanged */
	const char *full = "MODULES=(vfio_pci vfio vfio_iommu_type1)\n";
	got = nr_mkinitcpio_prepend(full, "MODULES", mods);
	assert_string_equal(got, full);
	free(got);
	/* absent: a new assignment */
	got = nr_mkinitcpio_prepend("HOOKS=(base)", "MODULES", mods);
	assert_string_equal(got, "HOOKS=(base)\nMODULES=(vfio_pci vfio vfio_iommu_type1)\n");
	free(got);
	size_t n;
	char **hooks = nr_mkinitcpio_array("HOOKS=(base udev)\nHOOKS=(base \"systemd\" modconf)\n", "HOOKS", &n);
	assert_int_equal(n, 3);
	assert_string_equal(hooks[1], "systemd");
	for (size_t i = 0; i < n; i++)
		free(hooks[i]);
	free(hooks);
}

static void test_initramfs_tools_modules(void **state)
{
	static const char *const mods[] = { "vfio_pci", "vfio", "vfio_iommu_type1", NULL };
	char *got = nr_initramfs_tools_add_modules("# raid1\nvfio\n", mods);
	assert_string_equal(got, "# raid1\nvfio\n# vfio-pci before the GPU drivers (neuronctl vfio)\n"
				 "vfio_pci\nvfio_iommu_type1\n");
	char *again = nr_initramfs_tools_add_modules(got, mods);
	assert_string_equal(again, got);
	free(again);
	free(got);
	got = nr_initramfs_tools_add_modules("vfio-pci ids=1\nvfio\nvfio_iommu_type1", mods);
	assert_string_equal(got, "vfio-pci ids=1\nvfio\nvfio_iommu_type1");
	free(got);
}

static void test_kernel_versions(void **state)
{
	assert_int_equal(nr_kernel_version_code("6.1.0-13-amd64"), 601);
	assert_int_equal(nr_kernel_version_code("6.6.8-arch1-1"), 606);
	assert_int_equal(nr_kernel_version_code("5.15.0"), 515);
	assert_int_equal(nr_kernel_version_code("extramodules-6.6"), -1);
	assert_int_equal(nr_kernel_version_code("6"), -1);
}

/* ---- the plan's decisions on hand-made scans ---- */

static char *tmproot(void)
{
	char *d = strdup(access("/dev/shm", W_OK) == 0 ? "/dev/shm/neuron-vfio-XXXXXX" : "/tmp/neuron-vfio-XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static void put(const char *root, const char *rel, const char *text)
{
	char path[4096], *slash;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (slash = strchr(path + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void rmroot(const char *root)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

/* A scan with one GPU (2 functions) on group 1, and a host GPU on group 2. */
struct fake {
	struct nr_scan scan;
	struct nr_pci_dev dev[4];
	struct nr_gpu gpu[2];
	size_t funcs0[2], set0[2], funcs1[2], set1[2];
	int groups0[1], groups1[1];
	uint32_t ids0[2];
};

static void fake_init(struct fake *f, bool iommu, uint16_t host_audio_device)
{
	static const struct { const char *addr; uint16_t vendor, device, cls; int group; } d[4] = {
		{ "0000:01:00.0", 0x10de, 0x1b80, 0x0300, 1 },
		{ "0000:01:00.1", 0x10de, 0x10f0, 0x0403, 1 },
		{ "0000:02:00.0", 0x1002, 0x67df, 0x0300, 2 },
		{ "0000:02:00.1", 0x1002, 0xaaf0, 0x0403, 2 },
	};
	memset(f, 0, sizeof(*f));
	for (int i = 0; i < 4; i++) {
		snprintf(f->dev[i].addr, sizeof(f->dev[i].addr), "%s", d[i].addr);
		f->dev[i].vendor = d[i].vendor;
		f->dev[i].device = d[i].device;
		f->dev[i].class_id = d[i].cls;
		f->dev[i].iommu_group = iommu ? d[i].group : -1;
	}
	if (host_audio_device) {
		f->dev[3].vendor = 0x10de;
		f->dev[3].device = host_audio_device;
	}
	f->dev[2].boot_vga = true;
	f->funcs0[0] = f->set0[0] = 0;
	f->funcs0[1] = f->set0[1] = 1;
	f->funcs1[0] = f->set1[0] = 2;
	f->funcs1[1] = f->set1[1] = 3;
	f->groups0[0] = 1;
	f->groups1[0] = 2;
	f->gpu[0] = (struct nr_gpu){ .dev = 0, .functions = f->funcs0, .n_functions = 2, .groups = f->groups0,
				     .n_groups = 1, .set = f->set0, .n_set = 2, .isolated = true,
				     .vfio_ids = f->ids0, .n_vfio_ids = 2 };
	f->gpu[1] = (struct nr_gpu){ .dev = 2, .boot_vga = true, .functions = f->funcs1, .n_functions = 2,
				     .groups = f->groups1, .n_groups = 1, .set = f->set1, .n_set = 2, .isolated = true };
	f->scan.iommu = iommu;
	f->scan.devices = f->dev;
	f->scan.n_devices = 4;
	f->scan.gpus = f->gpu;
	f->scan.n_gpus = 2;
	f->scan.host.cpu_vendor = NR_CPU_INTEL;
	f->scan.host.cmdline = (char *)"";
}

static struct nr_ctx *debian_root(char **root)
{
	struct nr_ctx *ctx = nr_ctx_new();

	*root = tmproot();
	put(*root, "etc/default/grub", "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n");
	put(*root, "boot/grub/grub.cfg", "#\n");
	put(*root, "etc/initramfs-tools/initramfs.conf", "MODULES=most\n");
	put(*root, "etc/initramfs-tools/modules", "# modules\n");
	put(*root, "lib/modules/6.6.13+bpo-amd64/modules.order", "");
	nr_ctx_set(ctx, "root", *root, NULL);
	return ctx;
}

static void test_vfio_refusals(void **state)
{
	struct fake f;
	char *root;
	struct nr_ctx *ctx = debian_root(&root);
	struct nr_vfio_plan *vp = NULL;
	struct nr_error err = { 0 };
	const char *boot_gpu[] = { "02:00.0", NULL };

	/* the IOMMU off is not a dead end (issue 14): the plan turns it on, and only that */
	fake_init(&f, false, 0);
	assert_int_equal(nr_vfio_plan_new(ctx, &f.scan, NULL, &vp, &err), 0);
	assert_true(vp->params_only);
	assert_int_equal(vp->n_gpus, 0);
	assert_string_equal(vp->params, "intel_iommu=on iommu=pt");
	assert_int_equal(nr_plan_n_edits(vp->plan), 1);
	assert_string_equal(nr_plan_edit(vp->plan, 0)->path, "/etc/default/grub");
	assert_non_null(strstr(nr_plan_edit(vp->plan, 0)->new_text, "quiet intel_iommu=on iommu=pt"));
	assert_int_equal(nr_plan_n_commands(vp->plan), 1);
	assert_string_equal(nr_plan_command(vp->plan, 0)->argv[0], "grub-mkconfig");
	assert_non_null(strstr(nr_plan_note(vp->plan, 0), "Turn on VT-d in the firmware setup"));
	nr_vfio_plan_free(vp);
	vp = NULL;

	fake_init(&f, true, 0);
	struct nr_vfio_opts o = { .gpus = boot_gpu };
	assert_int_equal(nr_vfio_plan_new(ctx, &f.scan, &o, &vp, &err), -NR_E_BOOTGPU);
	o.force = true;
	assert_int_equal(nr_vfio_plan_new(ctx, &f.scan, &o, &vp, &err), 0);
	nr_vfio_plan_free(vp);

	/* not isolated: a blocker in the set */
	f.gpu[0].isolated = false;
	size_t blockers[1] = { 3 };
	f.gpu[0].blockers = blockers;
	f.gpu[0].n_blockers = 1;
	const char *guest[] = { "01:00.0", NULL };
	struct nr_vfio_opts g = { .gpus = guest };
	assert_int_equal(nr_vfio_plan_new(ctx, &f.scan, &g, &vp, &err), -NR_E_GROUP);
	assert_non_null(strstr(err.msg, "0000:02:00.1"));
	assert_non_null(strstr(err.msg, "--include-group"));

	/* no GPU at all */
	fake_init(&f, true, 0);
	f.scan.n_gpus = 0;
	assert_int_equal(nr_vfio_plan_new(ctx, &f.scan, NULL, &vp, &err), -NR_E_NOGPU);

	/* a root that says nothing about how it boots */
	fake_init(&f, true, 0);
	char *empty = tmproot();
	nr_ctx_set(ctx, "root", empty, NULL);
	assert_int_equal(nr_vfio_plan_new(ctx, &f.scan, &g, &vp, &err), -NR_E_BOOTSETUP);
	assert_non_null(strstr(err.msg, "no initramfs generator"));

	nr_ctx_free(ctx);
	rmroot(root);
	rmroot(empty);
	free(root);
	free(empty);
}

static void test_vfio_ids_or_address(void **state)
{
	struct fake f;
	char *root;
	struct nr_ctx *ctx = debian_root(&root);
	struct nr_vfio_plan *vp = NULL;
	struct nr_error err = { 0 };

	/* the default GPU: the isolated non-boot one, bound by id */
	fake_init(&f, true, 0);
	assert_int_equal(nr_vfio_plan_new(ctx, &f.scan, NULL, &vp, &err), 0);
	assert_int_equal(vp->n_gpus, 1);
	assert_string_equal(vp->gpus[0], "0000:01:00.0");
	assert_false(vp->bind_by_address);
	assert_int_equal(vp->n_ids, 2);
	assert_string_equal(vp->params, "intel_iommu=on iommu=pt");
	assert_string_equal(nr_initramfs_name(vp->boot.initramfs), "initramfs-tools");
	assert_false(vp->boot.needs_virqfd);
	const struct nr_plan_edit *e = nr_plan_edit(vp->plan, 0);
	assert_string_equal(e->path, "/etc/modprobe.d/vfio.conf");
	assert_non_null(strstr(e->new_text, "options vfio-pci ids=10de:1b80,10de:10f0\n"));
	assert_null(strstr(e->new_text, "install vfio-pci"));
	assert_non_null(strstr(e->new_text, "softdep snd_hda_intel pre: vfio-pci\n"));
	assert_string_equal(nr_plan_meta(vp->plan, "devices"), "0000:01:00.0 0000:01:00.1");
	nr_vfio_plan_free(vp);

	/* the host's audio function has the guest's audio id: bind by address, never ids= */
	fake_init(&f, true, 0x10f0);
	assert_int_equal(nr_vfio_plan_new(ctx, &f.scan, NULL, &vp, &err), 0);
	assert_true(vp->bind_by_address);
	assert_int_equal(vp->n_collisions, 1);
	assert_string_equal(vp->collisions[0], "0000:02:00.1");
	e = nr_plan_edit(vp->plan, 0);
	assert_null(strstr(e->new_text, "options vfio-pci ids="));
	assert_non_null(strstr(e->new_text, "install vfio-pci for dev in 0000:01:00.0 0000:01:00.1;"));
	nr_vfio_plan_free(vp);

	/* both GPUs chosen: nothing stays with the host, so ids are fine again */
	const char *both[] = { "01:00.0", "02:00.0", NULL };
	struct nr_vfio_opts o = { .gpus = both, .force = true };
	assert_int_equal(nr_vfio_plan_new(ctx, &f.scan, &o, &vp, &err), 0);
	assert_false(vp->bind_by_address);
	assert_int_equal(vp->n_devices, 4);
	nr_vfio_plan_free(vp);

	/* an old kernel under root: vfio_virqfd too */
	put(root, "lib/modules/6.1.0-13-amd64/modules.order", "");
	fake_init(&f, true, 0);
	assert_int_equal(nr_vfio_plan_new(ctx, &f.scan, NULL, &vp, &err), 0);
	assert_true(vp->boot.needs_virqfd);
	bool found = false;
	for (size_t i = 0; i < nr_plan_n_edits(vp->plan); i++)
		if (strcmp(nr_plan_edit(vp->plan, i)->path, "/etc/initramfs-tools/modules") == 0)
			found = strstr(nr_plan_edit(vp->plan, i)->new_text, "\nvfio_virqfd\n") != NULL;
	assert_true(found);
	nr_vfio_plan_free(vp);

	nr_ctx_free(ctx);
	rmroot(root);
	free(root);
}


/* One quote/paren check for the command-line editors: file line and what is open. */
static void test_balance(void **state)
{
	char what[200];
	size_t line = 0;

	assert_int_equal(nr_boot_balance("root=/dev/sda2 rootflags=\"subvol=@\" quiet\n", NR_SYNTAX_CMDLINE,
					 &line, what, sizeof(what)), 0);
	assert_int_equal(nr_boot_balance("root=UUID=1e2f rootflags=\"subvol=@ quiet\n", NR_SYNTAX_CMDLINE,
					 &line, what, sizeof(what)), -1);
	assert_int_equal(line, 1);
	assert_string_equal(what, "a double quote opened at column 26 is never closed");
	assert_int_equal(nr_boot_balance("quiet acpi_osi=(Linux\n", NR_SYNTAX_CMDLINE, &line, what, sizeof(what)), -1);
	assert_non_null(strstr(what, "a '(' opened at column 16"));
	assert_int_equal(nr_boot_balance("quiet x)\n", NR_SYNTAX_CMDLINE, &line, what, sizeof(what)), -1);
	assert_non_null(strstr(what, "closes nothing"));
	/* GRUB: shell quoting, comments, escapes */
	assert_int_equal(nr_boot_balance("# it's a comment\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet \\\"x\\\"\"\n"
					 "GRUB_CMDLINE_LINUX='a \"b'\n", NR_SYNTAX_SHELL, &line, what, sizeof(what)), 0);
	assert_int_equal(nr_boot_balance("GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\nGRUB_CMDLINE_LINUX=\"\"\n",
					 NR_SYNTAX_SHELL, &line, what, sizeof(what)), -1);
	assert_int_equal(line, 2);
	assert_non_null(strstr(what, "runs past the end of its line"));
	/* mkinitcpio: an array without its ')' */
	assert_int_equal(nr_boot_balance("MODULES=(i915\nHOOKS=(base udev)\n", NR_SYNTAX_SHELL, &line, what, sizeof(what)), -1);
	/* a systemd-boot entry: each options line on its own, the title may say anything */
	assert_int_equal(nr_boot_balance("title Arch (fallback\nlinux /vmlinuz\noptions root=/dev/sda2 rw\n",
					 NR_SYNTAX_SDBOOT, &line, what, sizeof(what)), 0);
	assert_int_equal(nr_boot_balance("title Arch\nlinux /vmlinuz\noptions root=/dev/sda2 \"rw\n",
					 NR_SYNTAX_SDBOOT, &line, what, sizeof(what)), -1);
	assert_int_equal(line, 3);
	assert_non_null(strstr(what, "in its options"));
}

/* The IOMMU parameters per CPU vendor come from one rule; an unknown vendor gets no guess
 * (only iommu=pt, and a note says what to add), in the plan, the checklist and status. */
static void test_iommu_params_rule(void **state)
{
	struct fake f;
	char *root;
	struct nr_ctx *ctx = debian_root(&root);
	struct nr_vfio_plan *vp = NULL;
	struct nr_error err = { 0 };
	struct nr_check c;

	assert_string_equal(nr_iommu_params(NR_CPU_INTEL)->on, "intel_iommu=on");
	assert_string_equal(nr_iommu_params(NR_CPU_AMD)->on, "amd_iommu=on");
	assert_null(nr_iommu_params(NR_CPU_UNKNOWN)->on);
	assert_string_equal(nr_iommu_params(NR_CPU_UNKNOWN)->pt, "iommu=pt");
	assert_non_null(strstr(nr_iommu_params(NR_CPU_UNKNOWN)->by_hand, "intel_iommu=on (Intel) or amd_iommu=on (AMD)"));

	fake_init(&f, true, 0);
	f.scan.host.cpu_vendor = NR_CPU_UNKNOWN;
	assert_int_equal(nr_vfio_plan_new(ctx, &f.scan, NULL, &vp, &err), 0);
	assert_string_equal(vp->params, "iommu=pt");
	bool note = false;
	for (size_t i = 0; i < nr_plan_n_notes(vp->plan); i++)
		note |= strstr(nr_plan_note(vp->plan, i), "add intel_iommu=on (Intel) or amd_iommu=on (AMD) by hand") != NULL;
	assert_true(note);
	nr_vfio_plan_free(vp);

	/* the checklist: neither guessed as Intel; either accepted */
	fake_init(&f, false, 0);
	f.scan.host.cpu_vendor = NR_CPU_UNKNOWN;
	nr_check_run(&f.scan, NULL, &c);
	assert_int_equal(c.items[NR_CHECK_iommu_cmdline].status, NR_CHECK_FAIL);
	assert_non_null(strstr(c.items[NR_CHECK_iommu_cmdline].hint, "intel_iommu=on (Intel) or amd_iommu=on (AMD)"));
	assert_non_null(strstr(c.items[NR_CHECK_iommu_groups].hint, "VT-d (Intel) or AMD-Vi/IOMMU (AMD)"));
	f.scan.host.cmdline = (char *)"quiet amd_iommu=on";
	nr_check_run(&f.scan, NULL, &c);
	assert_int_equal(c.items[NR_CHECK_iommu_cmdline].status, NR_CHECK_PASS);

	nr_ctx_free(ctx);
	rmroot(root);
	free(root);
}

/* One row per generator: complete, names unique. */
static void test_initramfs_table(void **state)
{
	char names[256];
	size_t n = 0;

	for (; nr_initramfs_table[n]; n++) {
		const struct nr_initramfs *g = nr_initramfs_table[n];
		assert_non_null(g->name);
		assert_non_null(g->program);
		assert_non_null(g->bins[0]);
		assert_non_null(g->confs[0]);
		assert_non_null(g->regen[0]);
		assert_non_null(g->regen_why);
		assert_non_null(g->plan_early);
		assert_string_equal(nr_initramfs_name(g), g->name);
		for (size_t k = 0; k < n; k++)
			assert_string_not_equal(nr_initramfs_table[k]->name, g->name);
	}
	assert_int_equal(n, 3);
	assert_string_equal(nr_initramfs_name(NULL), "unknown");
	nr_initramfs_names(names, sizeof(names));
	assert_string_equal(names, "mkinitcpio, dracut, initramfs-tools");
}

/* What the host needs, read from a fixture machine's sysroot and a root's fstab. */
static void test_host_needs(void **state)
{
	const char *dir = getenv("SYSROOTS");
	char path[4096], *root = tmproot();
	struct nr_ctx *ctx = nr_ctx_new();
	struct nr_host_need *needs = NULL;
	struct nr_error err = { 0 };
	struct nr_scan *scan = NULL;
	size_t n = 0;

	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/shared-group", dir);
	nr_ctx_set(ctx, "sysroot", path, NULL);
	nr_ctx_set(ctx, "root", root, NULL);
	assert_int_equal(nr_scan_new(ctx, &scan, &err), 0);
	assert_int_equal(nr_vfio_host_needs(ctx, scan, &needs, &n, &err), 0);
	bool disk = false, net = false, kbd = false;
	for (size_t i = 0; i < n; i++) {
		disk |= strcmp(needs[i].addr, "0000:03:00.1") == 0 && strstr(needs[i].why, "the root file system");
		net |= strcmp(needs[i].addr, "0000:22:00.0") == 0 && strstr(needs[i].why, "only network interface");
		kbd |= strcmp(needs[i].addr, "0000:03:00.0") == 0 && strstr(needs[i].why, "only keyboard");
		/* the power button is no keyboard; lo is no network card */
		assert_null(strstr(needs[i].why, "Power Button"));
		assert_null(strstr(needs[i].why, "(lo)"));
	}
	assert_true(disk && net && kbd);
	free(needs);
	nr_scan_free(scan);

	/* a target's fstab names its /boot by UUID: its controller is needed too */
	snprintf(path, sizeof(path), "%s/intel-nvidia", dir);
	nr_ctx_set(ctx, "sysroot", path, NULL);
	assert_int_equal(nr_scan_new(ctx, &scan, &err), 0);
	assert_int_equal(nr_vfio_host_needs(ctx, scan, &needs, &n, &err), 0);
	for (size_t i = 0; i < n; i++)
		assert_null(strstr(needs[i].why, "fstab"));     /* no fstab yet */
	free(needs);
	nr_scan_free(scan);

	nr_ctx_free(ctx);
	rmroot(root);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grub_quoting),
		cmocka_unit_test(test_grub_nothing_twice),
		cmocka_unit_test(test_grub_dropins),
		cmocka_unit_test(test_params_satisfied),
		cmocka_unit_test(test_sdboot_entries),
		cmocka_unit_test(test_kernel_cmdline),
		cmocka_unit_test(test_mkinitcpio_arrays),
		cmocka_unit_test(test_initramfs_tools_modules),
		cmocka_unit_test(test_kernel_versions),
		cmocka_unit_test(test_vfio_refusals),
		cmocka_unit_test(test_vfio_ids_or_address),
		cmocka_unit_test(test_balance),
		cmocka_unit_test(test_iommu_params_rule),
		cmocka_unit_test(test_initramfs_table),
		cmocka_unit_test(test_host_needs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
