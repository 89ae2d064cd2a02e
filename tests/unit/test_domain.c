/* Domain XML: built from profiles on fixture machines, then read back with nr_domain_inspect. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "neuron/domain.h"
#include "neuron/lg.h"
#include "neuron/profile.h"
#include "neuron/scan.h"
#include "unit.h"

struct env {
	struct nr_ctx *ctx;
	struct nr_scan *scan;
};

static void env_init(struct env *e, const char *machine)
{
	e->ctx = unit_machine_ctx(machine);
	assert_int_equal(nr_ctx_set(e->ctx, "templates", "templates", NULL), 0);
	e->scan = unit_scan_ctx(e->ctx);
}

static void env_done(struct env *e)
{
	nr_scan_free(e->scan);
	nr_ctx_free(e->ctx);
}

static char *build(struct env *e, const char *yaml)
{
	struct nr_error err = { 0 };
	struct nr_profile *p = NULL;
	char *xml = NULL;

	if (nr_profile_parse(yaml, strlen(yaml), "t.yaml", &p, &err) < 0)
		fail_msg("parse: %s", err.msg);
	if (nr_domain_build(p, e->ctx, e->scan, &xml, &err) < 0)
		fail_msg("build: %s", err.msg);
	nr_profile_free(p);
	return xml;
}

static int build_err(struct env *e, const char *yaml, struct nr_error *err)
{
	struct nr_profile *p = NULL;
	char *xml = NULL;
	int rc;

	memset(err, 0, sizeof(*err));
	if (nr_profile_parse(yaml, strlen(yaml), "t.yaml", &p, err) < 0)
		fail_msg("parse: %s", err->msg);
	rc = nr_domain_build(p, e->ctx, e->scan, &xml, err);
	assert_null(xml);
	nr_profile_free(p);
	return rc;
}

static struct nr_domain_info *inspect(const char *xml)
{
	struct nr_error err = { 0 };
	struct nr_domain_info *info = NULL;

	if (nr_domain_inspect(xml, &info, &err) < 0)
		fail_msg("inspect: %s\n%s", err.msg, xml);
	return info;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* A name full of XML's special characters stays data, and comes back the same. */
static void test_name_is_data(void **state)
{
	struct env e;
	char *xml;
	struct nr_domain_info *info;

	env_init(&e, "intel-nvidia");
	xml = build(&e, "name: \"<a&b'c\\\"d>\"\ntemplate: linux\n");
	assert_non_null(strstr(xml, "<name>&lt;a&amp;b'c\"d&gt;</name>"));
	info = inspect(xml);
	assert_string_equal(info->name, "<a&b'c\"d>");
	nr_domain_info_free(info);
	free(xml);
	env_done(&e);
}

/* Every function of the card goes in, kept together as one multifunction device. */
static void test_gpu_functions_together(void **state)
{
	struct env e;
	char *xml;
	struct nr_domain_info *info;

	env_init(&e, "nvidia-turing-4fn");
	const struct nr_gpu *g = nr_scan_best_gpu(e.scan);
	assert_non_null(g);
	assert_int_equal(g->n_functions, 4);
	xml = build(&e, "name: w\ntemplate: windows10\ngpu: auto\n");
	info = inspect(xml);
	assert_int_equal(info->n_pci, 4);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(info->pci[i], e.scan->devices[g->functions[i]].addr);
	assert_int_equal(count(xml, "multifunction=\"on\""), 1);
	assert_int_equal(count(xml, "<address type=\"pci\" domain=\"0x0000\" bus=\"0x01\" slot=\"0x00\""), 4);
	assert_int_equal(count(xml, "model=\"pcie-root-port\""), 1);
	assert_int_equal(count(xml, "managed=\"yes\""), 4);
	/* NVIDIA: the Code 43 workaround comes with it */
	assert_non_null(strstr(xml, "<hidden state=\"on\"/>"));
	assert_non_null(strstr(xml, "<vendor_id state=\"on\" value=\"NeuronOS\"/>"));
	/* with Looking Glass and the GPU, the emulated display goes */
	assert_non_null(strstr(xml, "<model type=\"none\"/>"));
	nr_domain_info_free(info);
	free(xml);
	env_done(&e);

	/* AMD GPU: no workaround unless asked */
	env_init(&e, "amd-navi-split-audio");
	xml = build(&e, "name: w\ntemplate: windows10\ngpu: auto\n");
	assert_null(strstr(xml, "<hidden"));
	info = inspect(xml);
	assert_true(info->n_pci >= 2); /* the split-off HDMI audio comes too */
	nr_domain_info_free(info);
	free(xml);
	env_done(&e);
}

/* The shm size is the Looking Glass rule (lg.h), for each resolution and HDR. */
static void test_lg_sizes(void **state)
{
	static const struct {
		const char *res;
		bool hdr;
		unsigned mib;
	} cases[] = {
		{ "1080p", false, 32 }, { "2560x1440", false, 64 }, { "4k", false, 128 }, { "4k", true, 256 },
	};
	struct env e;

	env_init(&e, "intel-nvidia");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char yaml[256], *xml;
		struct nr_domain_info *info;
		unsigned w, h;
		snprintf(yaml, sizeof(yaml), "name: w\ntemplate: windows10\ngpu: none\nlooking_glass:\n"
			 "  resolution: %s\n  hdr: %s\n  stack: b7\n", cases[i].res, cases[i].hdr ? "true" : "false");
		xml = build(&e, yaml);
		info = inspect(xml);
		assert_true(info->lg);
		assert_string_equal(info->lg_path, "/dev/shm/looking-glass");
		assert_int_equal(info->lg_size_mib, cases[i].mib);
		assert_int_equal(nr_lg_parse_resolution(cases[i].res, &w, &h), 0);
		assert_int_equal(info->lg_size_mib, nr_lg_shm_size_mib(NR_LG_STACK_B7, w, h, cases[i].hdr));
		nr_domain_info_free(info);
		free(xml);
	}
	/* kvmfr: QEMU arguments, read back the same way */
	char *xml = build(&e, "name: w\ntemplate: windows10\ngpu: none\nlooking_glass:\n  backend: kvmfr\n"
			  "  device: /dev/kvmfr0\n  resolution: 1440p\n");
	struct nr_domain_info *info = inspect(xml);
	assert_null(strstr(xml, "<shmem"));
	assert_non_null(strstr(xml, "xmlns:qemu=\"http://libvirt.org/schemas/domain/qemu/1.0\""));
	assert_true(info->lg);
	assert_string_equal(info->lg_path, "/dev/kvmfr0");
	assert_int_equal(info->lg_size_mib, 64);
	nr_domain_info_free(info);
	free(xml);
	env_done(&e);
}

/* Pinning auto: the host keeps its first core; vCPU pairs land on sibling threads. */
static void test_pinning(void **state)
{
	struct env e;
	struct nr_error err;
	char *xml;

	env_init(&e, "intel-nvidia"); /* 6 cores x 2 threads: siblings are N and N+6 */
	xml = build(&e, "name: w\ntemplate: linux\ncpu:\n  vcpus: 4\n  pinning: auto\n");
	assert_non_null(strstr(xml, "<vcpupin vcpu=\"0\" cpuset=\"1\"/>\n    <vcpupin vcpu=\"1\" cpuset=\"7\"/>\n"
				    "    <vcpupin vcpu=\"2\" cpuset=\"2\"/>\n    <vcpupin vcpu=\"3\" cpuset=\"8\"/>"));
	assert_non_null(strstr(xml, "<emulatorpin cpuset=\"0,6\"/>"));
	assert_non_null(strstr(xml, "<topology sockets=\"1\" dies=\"1\" cores=\"2\" threads=\"2\"/>"));
	free(xml);
	assert_int_equal(build_err(&e, "name: w\ntemplate: linux\ncpu:\n  vcpus: 12\n  pinning: auto\n", &err),
			 -NR_E_INVAL);
	assert_string_equal(err.msg, "t.yaml:5:12: cpu.pinning: auto: the host has 10 CPUs besides the core kept for the host; "
			    "lower cpu.vcpus to 10 or use 'pinning: none'");
	xml = build(&e, "name: w\ntemplate: linux\ncpu:\n  vcpus: 3\n  pinning: 4-6\n");
	assert_non_null(strstr(xml, "<vcpupin vcpu=\"2\" cpuset=\"6\"/>"));
	assert_null(strstr(xml, "emulatorpin"));
	assert_non_null(strstr(xml, "threads=\"1\""));
	free(xml);
	assert_int_equal(build_err(&e, "name: w\ntemplate: linux\ncpu:\n  vcpus: 4\n  pinning: 4-6\n", &err),
			 -NR_E_INVAL);
	assert_string_equal(err.msg, "t.yaml:5:12: cpu.pinning: 4-6 names 3 CPUs for 4 vCPUs; name one host CPU per vCPU");
	/* cores left out: derived from the rest */
	xml = build(&e, "name: w\ntemplate: linux\ncpu:\n  vcpus: 12\n  sockets: 2\n  threads: 3\n");
	assert_non_null(strstr(xml, "<topology sockets=\"2\" dies=\"1\" cores=\"2\" threads=\"3\"/>"));
	free(xml);
	env_done(&e);

	/* AMD hosts get topoext with SMT */
	env_init(&e, "demo");
	xml = build(&e, "name: w\ntemplate: windows10\ngpu: auto\ncpu:\n  vcpus: 8\n");
	assert_non_null(strstr(xml, "<feature policy=\"require\" name=\"topoext\"/>"));
	free(xml);
	env_done(&e);
}

/* type: qemu (TCG): no host CPU, no Hyper-V; the devices stay. */
static void test_tcg(void **state)
{
	struct env e;
	char *xml;
	struct nr_domain_info *info;

	env_init(&e, "intel-nvidia");
	xml = build(&e, "name: w\ntemplate: windows11\ntype: qemu\ngpu: none\n");
	assert_non_null(strstr(xml, "<domain type=\"qemu\">"));
	assert_null(strstr(xml, "host-passthrough"));
	assert_null(strstr(xml, "<hyperv"));
	assert_null(strstr(xml, "hypervclock"));
	info = inspect(xml);
	assert_true(info->tpm);
	assert_true(info->agent);
	assert_null(info->agent_socket); /* libvirt names it when the VM runs */
	assert_int_equal(info->n_pci, 0);
	assert_string_equal(info->type, "qemu");
	/* the template's SPICE graphics: the Looking Glass B7 client's clipboard channel, unless
	 * the client is told not to use SPICE */
	assert_true(info->spice);
	assert_true(nr_lg_spice_clipboard(e.ctx, info));
	assert_int_equal(nr_ctx_set(e.ctx, "lg.spice", "no", NULL), 0);
	assert_false(nr_lg_spice_clipboard(e.ctx, info));
	assert_int_equal(nr_ctx_set(e.ctx, "lg.spice", "yes", NULL), 0);
	nr_domain_info_free(info);
	free(xml);
	/* default kvm: host CPU, Hyper-V, Secure Boot firmware with SMM, TPM for Windows 11 */
	xml = build(&e, "name: w\ntemplate: windows11\n");
	assert_non_null(strstr(xml, "<domain type=\"kvm\">"));
	assert_non_null(strstr(xml, "mode=\"host-passthrough\""));
	assert_non_null(strstr(xml, "<feature enabled=\"yes\" name=\"secure-boot\"/>"));
	assert_non_null(strstr(xml, "<smm state=\"on\"/>"));
	assert_non_null(strstr(xml, "<tpm model=\"tpm-crb\">\n      <backend type=\"emulator\" version=\"2.0\"/>"));
	assert_non_null(strstr(xml, "<memballoon model=\"none\"/>"));
	assert_null(strstr(xml, "<interface"));
	assert_int_equal(count(xml, "<memballoon"), 1);
	free(xml);
	env_done(&e);
}

/* Direct kernel boot, no disk, a network when asked, USB and extra PCI devices. */
static void test_boot_and_devices(void **state)
{
	struct env e;
	char *xml;
	struct nr_domain_info *info;

	env_init(&e, "intel-nvidia");
	xml = build(&e, "name: k\ntemplate: linux\ndisk: none\nboot:\n  kernel: /k/vmlinuz\n  initrd: /k/initrd\n"
			"  cmdline: console=ttyS0 a=<b>\nnetwork: default\nhostdevs:\n  pci: [\"00:14.0\"]\n"
			"  usb: [\"046d:c52b\"]\n");
	assert_non_null(strstr(xml, "<kernel>/k/vmlinuz</kernel>"));
	assert_non_null(strstr(xml, "<cmdline>console=ttyS0 a=&lt;b&gt;</cmdline>"));
	assert_null(strstr(xml, "<boot dev"));
	assert_null(strstr(xml, "device=\"disk\""));
	assert_non_null(strstr(xml, "<source network=\"default\"/>"));
	info = inspect(xml);
	assert_int_equal(info->n_pci, 1);
	assert_string_equal(info->pci[0], "0000:00:14.0");
	assert_int_equal(info->n_usb, 1);
	assert_string_equal(info->usb[0], "046d:c52b");
	assert_int_equal(info->n_disks, 0);
	nr_domain_info_free(info);
	free(xml);
	/* the VM lane's form: console into a file, a reboot ends the run */
	xml = build(&e, "name: k\ntemplate: linux\ntype: qemu\ndisk: none\nserial_log: /tmp/k.log\non_reboot: destroy\n");
	assert_non_null(strstr(xml, "<serial type=\"file\">\n      <source path=\"/tmp/k.log\"/>"));
	assert_int_equal(count(xml, "<serial"), 1);
	assert_null(strstr(xml, "<console"));
	assert_non_null(strstr(xml, "<on_reboot>destroy</on_reboot>"));
	free(xml);
	/* disks: system disk at its default path, both ISOs and the guest-tools media as
	 * CD-ROMs, the media on SATA (and not a disk that vm delete --remove-disk removes) */
	xml = build(&e, "name: d\ntemplate: windows10\ngpu: none\niso: /i/win.iso\nvirtio_iso: /i/virtio.iso\n");
	info = inspect(xml);
	assert_int_equal(info->n_disks, 1);
	assert_string_equal(info->disks[0], "/var/lib/libvirt/images/d.qcow2");
	assert_int_equal(count(xml, "device=\"cdrom\""), 3);
	assert_non_null(strstr(xml, "<source file=\"/var/lib/neuron/vm/d/guest-tools.iso\"/>\n"
				    "      <target dev=\"sdd\" bus=\"sata\"/>\n      <readonly/>"));
	assert_non_null(strstr(xml, "<boot dev=\"cdrom\"/>"));
	nr_domain_info_free(info);
	free(xml);
	/* no media without guest_tools, nor without the agent it carries */
	xml = build(&e, "name: d\ntemplate: windows10\ngpu: none\nguest_tools: false\n");
	assert_null(strstr(xml, "guest-tools.iso"));
	free(xml);
	xml = build(&e, "name: d\ntemplate: windows10\ngpu: none\nagent: false\n");
	assert_null(strstr(xml, "guest-tools.iso"));
	free(xml);
	env_done(&e);
}

/* Shared folders: virtio-fs with memfd shared memory, ~ from HOME, read back by the one
 * reader; hugepages keep their place beside the shared memory. */
static void test_shares(void **state)
{
	struct env e;
	char *xml, *old = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	struct nr_domain_info *info;

	env_init(&e, "intel-nvidia");
	setenv("HOME", "/home/ann", 1);
	xml = build(&e, "name: s\ntemplate: linux\ndisk: none\nhugepages: true\n"
			"shares: [{path: ~/Documents, name: Docs}, /srv/music/]\n");
	assert_non_null(strstr(xml, "<memoryBacking>\n    <hugepages/>\n    <source type=\"memfd\"/>\n"
				    "    <access mode=\"shared\"/>\n  </memoryBacking>"));
	assert_int_equal(count(xml, "<driver type=\"virtiofs\"/>"), 2);
	info = inspect(xml);
	assert_int_equal(info->n_shares, 2);
	assert_string_equal(info->share_tags[0], "Docs");
	assert_string_equal(info->share_dirs[0], "/home/ann/Documents");
	assert_string_equal(info->share_tags[1], "music");
	assert_string_equal(info->share_dirs[1], "/srv/music/");
	nr_domain_info_free(info);
	free(xml);
	/* no share: no shared memory either */
	xml = build(&e, "name: s\ntemplate: linux\ndisk: none\n");
	assert_null(strstr(xml, "memoryBacking"));
	assert_null(strstr(xml, "filesystem"));
	free(xml);
	if (old)
		setenv("HOME", old, 1);
	free(old);
	env_done(&e);
}

static void test_inspect_live_xml(void **state)
{
	const char *live =
		"<domain type='kvm' id='3'><name>win11</name><devices>"
		"<channel type='unix'><source mode='bind' path='/var/lib/libvirt/qemu/channel/target/domain-3-win11/"
		"org.neuronos.agent.0'/><target type='virtio' name='org.neuronos.agent.0' state='connected'/></channel>"
		"<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
		"<shmem name='looking-glass'><model type='ivshmem-plain'/><size unit='M'>64</size></shmem>"
		"<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x0a' "
		"slot='0x00' function='0x1'/></source></hostdev></devices></domain>";
	struct nr_domain_info *info = inspect(live);
	struct nr_error err = { 0 };

	assert_string_equal(info->agent_socket,
			    "/var/lib/libvirt/qemu/channel/target/domain-3-win11/org.neuronos.agent.0");
	assert_int_equal(info->lg_size_mib, 64);
	assert_string_equal(info->pci[0], "0000:0a:00.1");
	nr_domain_info_free(info);
	assert_int_equal(nr_domain_inspect("<domain", &info, &err), -NR_E_PARSE);
	assert_int_equal(nr_domain_inspect("<network/>", &info, &err), -NR_E_PARSE);
}

/* ---- the one reader: where each domain keeps its Looking Glass memory ------------------- */

#define QEMU_DOMAIN "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>w</name>"
#define LG_DEVICE "<qemu:arg value='-device'/><qemu:arg value='{\"driver\":\"ivshmem-plain\",\"id\":\"shmem0\"," \
		  "\"memdev\":\"looking-glass\"}'/>"

static const struct lg_case {
	const char *what, *xml;
	enum nr_domain_lg lg;
	const char *path;           /* NULL: no Looking Glass */
	unsigned mib;
	const char *other;          /* ivshmem_other */
} lg_cases[] = {
	/* the five inputs of issue 13 */
	{ "a shmem with its size in M",
	  "<domain><devices><shmem name='looking-glass'><model type='ivshmem-plain'/><size unit='M'>32</size>"
	  "</shmem></devices></domain>", NR_DOMAIN_LG_SHMEM, "/dev/shm/looking-glass", 32, NULL },
	{ "a shmem beside SPICE graphics (the B7 client's clipboard channel)",
	  "<domain><devices><graphics type='spice' autoport='yes'/><shmem name='looking-glass'>"
	  "<model type='ivshmem-plain'/><size unit='M'>64</size></shmem></devices></domain>",
	  NR_DOMAIN_LG_SHMEM, "/dev/shm/looking-glass", 64, NULL },
	{ "a shmem beside VNC graphics: no SPICE",
	  "<domain><devices><graphics type='vnc'/><shmem name='looking-glass'>"
	  "<model type='ivshmem-plain'/><size unit='M'>64</size></shmem></devices></domain>",
	  NR_DOMAIN_LG_SHMEM, "/dev/shm/looking-glass", 64, NULL },
	{ "<shmem name='lg0'>: IVSHMEM memory, but not named for Looking Glass",
	  "<domain><devices><shmem name='lg0'><model type='ivshmem-plain'/><size unit='M'>32</size></shmem>"
	  "</devices></domain>", NR_DOMAIN_LG_NONE, NULL, 0, "/dev/shm/lg0" },
	{ "a shmem without <size>: libvirt's 4 MiB",
	  "<domain><devices><shmem name='looking-glass'><model type='ivshmem-plain'/></shmem></devices></domain>",
	  NR_DOMAIN_LG_SHMEM, "/dev/shm/looking-glass", 4, NULL },
	{ "kvmfr, its size \"64M\" (QEMU's key=value form)",
	  QEMU_DOMAIN "<devices/><qemu:commandline><qemu:arg value='-device'/>"
	  "<qemu:arg value='ivshmem-plain,id=shmem0,memdev=looking-glass'/><qemu:arg value='-object'/>"
	  "<qemu:arg value='memory-backend-file,id=looking-glass,mem-path=/dev/kvmfr0,size=64M,share=yes'/>"
	  "</qemu:commandline></domain>", NR_DOMAIN_LG_KVMFR, "/dev/kvmfr0", 64, NULL },
	{ "kvmfr as -device/-object JSON (the Looking Glass documentation's)",
	  QEMU_DOMAIN "<devices/><qemu:commandline>" LG_DEVICE "<qemu:arg value='-object'/>"
	  "<qemu:arg value='{\"qom-type\":\"memory-backend-file\",\"id\":\"looking-glass\",\"mem-path\":"
	  "\"/dev/kvmfr0\",\"size\":33554432,\"share\":true}'/></qemu:commandline></domain>",
	  NR_DOMAIN_LG_KVMFR, "/dev/kvmfr0", 32, NULL },
	/* around them */
	{ "a <size> without unit is in bytes",
	  "<domain><devices><shmem name='looking-glass'><size>67108864</size></shmem></devices></domain>",
	  NR_DOMAIN_LG_SHMEM, "/dev/shm/looking-glass", 64, NULL },
	{ "a name that holds looking-glass, its size in KiB, no <model>",
	  "<domain><devices><shmem name='looking-glass-win11'><size unit='KiB'>131072</size></shmem></devices></domain>",
	  NR_DOMAIN_LG_SHMEM, "/dev/shm/looking-glass-win11", 128, NULL },
	{ "a size libvirt would not take",
	  "<domain><devices><shmem name='looking-glass'><size unit='parsecs'>3</size></shmem></devices></domain>",
	  NR_DOMAIN_LG_SHMEM, "/dev/shm/looking-glass", 0, NULL },
	{ "Scream's IVSHMEM beside Looking Glass's",
	  "<domain><devices><shmem name='scream-ivshmem'><size unit='M'>2</size></shmem><shmem name='looking-glass'>"
	  "<size unit='G'>1</size></shmem></devices></domain>",
	  NR_DOMAIN_LG_SHMEM, "/dev/shm/looking-glass", 1024, "/dev/shm/scream-ivshmem" },
	{ "a doorbell device talks to a server: no file",
	  "<domain><devices><shmem name='looking-glass'><model type='ivshmem-doorbell'/><server path='/tmp/s'/>"
	  "</shmem></devices></domain>", NR_DOMAIN_LG_NONE, NULL, 0, NULL },
	{ "a JSON size as a string",
	  QEMU_DOMAIN "<qemu:commandline>" LG_DEVICE "<qemu:arg value='-object'/>"
	  "<qemu:arg value='{\"qom-type\":\"memory-backend-file\",\"id\":\"looking-glass\",\"mem-path\":"
	  "\"/dev/kvmfr1\",\"size\":\"1.5G\",\"share\":true}'/></qemu:commandline></domain>",
	  NR_DOMAIN_LG_KVMFR, "/dev/kvmfr1", 1536, NULL },
	{ "a memory-backend-file on a /dev/shm file named for Looking Glass",
	  QEMU_DOMAIN "<qemu:commandline><qemu:arg value='-object'/>"
	  "<qemu:arg value='memory-backend-file,id=looking-glass,share=on,mem-path=/dev/shm/looking-glass,size=32M'/>"
	  LG_DEVICE "</qemu:commandline></domain>", NR_DOMAIN_LG_FILE, "/dev/shm/looking-glass", 32, NULL },
	{ "guest RAM on hugepages is no IVSHMEM memory",
	  QEMU_DOMAIN "<qemu:commandline><qemu:arg value='-object'/>"
	  "<qemu:arg value='memory-backend-file,id=ram,mem-path=/dev/hugepages/looking-glass,size=8G'/>"
	  "</qemu:commandline></domain>", NR_DOMAIN_LG_NONE, NULL, 0, NULL },
	{ "a kvmfr object that no ivshmem-plain device uses",
	  QEMU_DOMAIN "<qemu:commandline><qemu:arg value='-device'/><qemu:arg value='virtio-rng-pci,memdev=x'/>"
	  "<qemu:arg value='-object'/><qemu:arg value='memory-backend-file,id=x,mem-path=/dev/kvmfr0,size=32M'/>"
	  "</qemu:commandline></domain>", NR_DOMAIN_LG_NONE, NULL, 0, NULL },
	{ "a comma doubled in a key=value path, a size in bytes",
	  QEMU_DOMAIN "<qemu:commandline><qemu:arg value='-device'/><qemu:arg value='driver=ivshmem-plain,memdev=m'/>"
	  "<qemu:arg value='-object'/><qemu:arg value='qom-type=memory-backend-file,id=m,"
	  "mem-path=/dev/shm/looking-glass,,b,size=16777216'/></qemu:commandline></domain>",
	  NR_DOMAIN_LG_FILE, "/dev/shm/looking-glass,b", 16, NULL },
};

/* Each input read once by nr_domain_inspect: the backend, path and size, and the decision
 * that `lg status`, `vm list` and the VMs panel take from them (nr_lg_shm_of). */
static void test_inspect_lg_inputs(void **state)
{
	for (size_t i = 0; i < sizeof(lg_cases) / sizeof(lg_cases[0]); i++) {
		const struct lg_case *c = &lg_cases[i];
		struct nr_domain_info *info = inspect(c->xml);
		struct nr_error err = { 0 };
		const char *path;
		unsigned mib;
		int rc = nr_lg_shm_of(info, &path, &mib, &err);

		print_message("%s\n", c->what);
		assert_int_equal(info->lg, c->lg);
		assert_int_equal(info->spice, strstr(c->xml, "<graphics type='spice'") != NULL);
		if (c->path) {
			assert_int_equal(rc, 0);
			assert_string_equal(info->lg_path, c->path);
			assert_string_equal(path, c->path);
			assert_int_equal(info->lg_size_mib, c->mib);
			assert_int_equal(mib, c->mib);
		} else {
			assert_int_equal(rc, -NR_E_NOTFOUND);
			assert_null(info->lg_path);
			assert_null(path);
			assert_non_null(strstr(err.msg, "no Looking Glass shared memory"));
		}
		if (c->other) {
			assert_string_equal(info->ivshmem_other, c->other);
			if (!c->path)
				assert_non_null(strstr(err.msg, c->other));
		} else {
			assert_null(info->ivshmem_other);
		}
		nr_domain_info_free(info);
	}
	assert_string_equal(nr_domain_lg_name(NR_DOMAIN_LG_NONE), "none");
	assert_string_equal(nr_domain_lg_name(NR_DOMAIN_LG_SHMEM), "shmem");
	assert_string_equal(nr_domain_lg_name(NR_DOMAIN_LG_KVMFR), "kvmfr");
	assert_string_equal(nr_domain_lg_name(NR_DOMAIN_LG_FILE), "memory-backend-file");
}

static void test_template_missing(void **state)
{
	struct env e;
	struct nr_error err;

	env_init(&e, "intel-nvidia");
	assert_int_equal(nr_ctx_set(e.ctx, "templates", "/nonexistent", &err), 0);
	assert_int_equal(build_err(&e, "name: w\ntemplate: linux\n", &err), -NR_E_NOTFOUND);
	assert_string_equal(err.msg, "no domain template /nonexistent/linux.xml (set --param templates=DIR to the "
			    "templates folder)");
	env_done(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_is_data),
		cmocka_unit_test(test_gpu_functions_together),
		cmocka_unit_test(test_lg_sizes),
		cmocka_unit_test(test_pinning),
		cmocka_unit_test(test_tcg),
		cmocka_unit_test(test_boot_and_devices),
		cmocka_unit_test(test_shares),
		cmocka_unit_test(test_inspect_live_xml),
		cmocka_unit_test(test_inspect_lg_inputs),
		cmocka_unit_test(test_template_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
