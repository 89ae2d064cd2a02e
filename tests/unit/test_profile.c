/* Profiles: the example files, defaults, editing through the API, sizes, and every bad
 * profile with its message and place (file:line:column). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "neuron/profile.h"
#include "neuron/scan.h"
#include "unit.h"

/* The message for a bad profile, which must fail. */
static const char *parse_bad(const char *yaml, struct nr_error *err)
{
	struct nr_profile *p = (struct nr_profile *)1;

	memset(err, 0, sizeof(*err));
	assert_true(nr_profile_parse(yaml, strlen(yaml), "t.yaml", &p, err) < 0);
	assert_null(p);
	assert_true(err->code < 0);
	return err->msg;
}

static void test_example_windows11(void **state)
{
	struct nr_error err = { 0 };
	struct nr_profile *p = NULL;
	char *s;

	if (nr_profile_load("config/profiles/windows11.yaml", &p, &err) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(p->name, "win11");
	assert_string_equal(p->template_name, "windows11");
	assert_true(p->memory == 16ull << 30);
	assert_int_equal(p->vcpus, 8);
	assert_int_equal(p->pinning, NR_PINNING_AUTO);
	assert_string_equal(p->disk.path, "/var/lib/libvirt/images/win11.qcow2");
	assert_true(p->disk.size == 128ull << 30);
	assert_int_equal(p->gpu, NR_PROFILE_GPU_AUTO);
	assert_true(p->lg.enabled);
	assert_int_equal(p->lg.width, 2560);
	assert_int_equal(p->lg.height, 1440);
	assert_true(nr_profile_tpm(p));
	assert_true(p->secure_boot);
	assert_null(p->network);
	s = nr_profile_get(p, "memory");
	assert_string_equal(s, "16G");
	free(s);
	nr_profile_free(p);
}

static void test_example_windows10_and_linux(void **state)
{
	struct nr_error err = { 0 };
	struct nr_profile *p = NULL;

	if (nr_profile_load("config/profiles/windows10.yaml", &p, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(p->gpu, NR_PROFILE_GPU_ADDR);
	assert_string_equal(p->gpu_addr, "0000:01:00.0");
	assert_int_equal(p->lg.backend, NR_LG_KVMFR);
	assert_string_equal(p->lg.kvmfr_device, "/dev/kvmfr0");
	assert_false(nr_profile_tpm(p)); /* auto is off for Windows 10 */
	assert_string_equal(p->network, "default");
	nr_profile_free(p);

	if (nr_profile_load("config/profiles/linux.yaml", &p, &err) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(p->domain_type, "qemu");
	assert_true(p->disk.none);
	assert_false(p->lg.enabled);
	assert_string_equal(p->boot.kernel, "/var/lib/neuron/guest/vmlinuz");
	assert_string_equal(p->boot.cmdline, "console=ttyS0 panic=-1 quiet");
	nr_profile_free(p);
}

/* The TUI's wizard: a template's defaults, then edits key by key with the YAML's checks. */
static void test_edit_through_api(void **state)
{
	struct nr_error err = { 0 };
	struct nr_profile *p = NULL;
	char *s;

	assert_int_equal(nr_profile_new("windows11", "gaming", &p, &err), 0);
	assert_true(p->memory == 8ull << 30);
	s = nr_profile_get(p, "disk.path");
	assert_string_equal(s, "/var/lib/libvirt/images/gaming.qcow2");
	free(s);
	assert_int_equal(nr_profile_set(p, "memory", "24G", &err), 0);
	assert_true(p->memory == 24ull << 30);
	assert_int_equal(nr_profile_set(p, "cpu.vcpus", "12", &err), 0);
	assert_int_equal(nr_profile_set(p, "looking_glass.resolution", "4k", &err), 0);
	assert_int_equal(p->lg.width, 3840);
	assert_int_equal(nr_profile_set(p, "gpu", "01:00.0", &err), 0);
	assert_string_equal(p->gpu_addr, "0000:01:00.0");
	assert_int_equal(nr_profile_set(p, "hostdevs.usb", "046D:C52B", &err), 0);
	assert_int_equal(nr_profile_set(p, "hostdevs.usb", "1050:0407", &err), 0);
	s = nr_profile_get(p, "hostdevs.usb");
	assert_string_equal(s, "046d:c52b, 1050:0407");
	free(s);
	assert_int_equal(nr_profile_set(p, "hostdevs.usb", "046d:c52b", &err), -NR_E_EXISTS);
	assert_string_equal(err.msg, "hostdevs.usb: 046d:c52b is listed twice");
	/* NULL: back to the template's default */
	assert_int_equal(nr_profile_set(p, "memory", NULL, &err), 0);
	assert_true(p->memory == 8ull << 30);
	/* the same message the YAML would give */
	assert_int_equal(nr_profile_set(p, "memroy", "4G", &err), -NR_E_INVAL);
	assert_string_equal(err.msg, "unknown key 'memroy'; did you mean 'memory'?");
	assert_int_equal(nr_profile_set(p, "looking_glass.resolutoin", "4k", &err), -NR_E_INVAL);
	assert_string_equal(err.msg,
			    "unknown key 'looking_glass.resolutoin'; did you mean 'looking_glass.resolution'?");
	assert_int_equal(nr_profile_set(p, "memory", "16 GB", &err), -NR_E_INVAL);
	assert_string_equal(err.msg, "memory: size '16 GB' has a space; write 16G");
	/* every key in the schema can be read back */
	for (size_t i = 0; nr_profile_key(i, NULL); i++) {
		const char *k = nr_profile_key(i, NULL);
		char *v = nr_profile_get(p, k);
		if (strcmp(k, "cpu") && strcmp(k, "hostdevs") && strcmp(k, "boot"))
			assert_non_null(v);
		free(v);
	}
	nr_profile_free(p);
	assert_int_equal(nr_profile_new("windows12", "x", &p, &err), -NR_E_INVAL);
	assert_null(p);
}

static void test_sizes(void **state)
{
	struct nr_error err = { 0 };
	uint64_t b;
	char buf[32];

	assert_int_equal(nr_parse_size("16G", &b, &err), 0);
	assert_true(b == 16ull << 30);
	assert_int_equal(nr_parse_size("512M", &b, &err), 0);
	assert_true(b == 512ull << 20);
	assert_int_equal(nr_parse_size("2TiB", &b, &err), 0);
	assert_true(b == 2ull << 40);
	assert_int_equal(nr_parse_size("64k", &b, &err), 0);
	assert_true(b == 64ull << 10);
	assert_int_equal(nr_parse_size("-1G", &b, &err), -NR_E_INVAL);
	assert_string_equal(err.msg, "size '-1G' is negative; sizes are like 16G or 512M");
	assert_int_equal(nr_parse_size("16 GB", &b, &err), -NR_E_INVAL);
	assert_string_equal(err.msg, "size '16 GB' has a space; write 16G");
	assert_int_equal(nr_parse_size("16GB", &b, &err), -NR_E_INVAL);
	assert_string_equal(err.msg, "size '16GB': GB is ambiguous (1000 or 1024?); write 16G (binary units)");
	assert_int_equal(nr_parse_size("1.5G", &b, &err), -NR_E_INVAL);
	assert_string_equal(err.msg,
			    "size '1.5G' has a fraction; use whole numbers of a smaller unit (1536M, not 1.5G)");
	assert_int_equal(nr_parse_size("4096", &b, &err), -NR_E_INVAL);
	assert_string_equal(err.msg, "size '4096' has no unit; write 4096G or 4096M");
	assert_int_equal(nr_parse_size("99999999999T", &b, &err), -NR_E_INVAL);
	assert_int_equal(nr_parse_size("8X", &b, &err), -NR_E_INVAL);
	assert_string_equal(err.msg, "size '8X' has an unknown unit 'X'; use K, M, G or T");
	assert_string_equal(nr_size_str(1536ull << 20, buf), "1536M");
	assert_string_equal(nr_size_str(16ull << 30, buf), "16G");
}

/* One bad profile per rule: message and place. */
static void test_bad_profiles(void **state)
{
	struct nr_error err;

	assert_string_equal(parse_bad("name: a\ntemplate: windows11\nmemroy: 4G\n", &err),
			    "t.yaml:3:1: unknown key 'memroy'; did you mean 'memory'?");
	assert_string_equal(parse_bad("name: a\ntemplate: linux\ncpu:\n  vcpu: 4\n", &err),
			    "t.yaml:4:3: unknown key 'cpu.vcpu'; did you mean 'cpu.vcpus'?");
	assert_string_equal(parse_bad("name: a\ntemplate: linux\nfrobnicate: 1\n", &err),
			    "t.yaml:3:1: unknown key 'frobnicate' (docs/profiles.md lists the keys)");
	assert_string_equal(parse_bad("name: a\ntemplate: linux\nmemory: 16 GB\n", &err),
			    "t.yaml:3:9: memory: size '16 GB' has a space; write 16G");
	assert_string_equal(parse_bad("name: a\ntemplate: linux\ndisk:\n  size: -1G\n", &err),
			    "t.yaml:4:9: disk.size: size '-1G' is negative; sizes are like 16G or 512M");
	assert_string_equal(parse_bad("name: a\ntemplate: windows11\ntpm: false\n", &err),
			    "t.yaml:3:6: Windows 11 needs a TPM 2.0: set 'tpm: auto' or 'tpm: true' (swtpm emulates it)");
	assert_string_equal(parse_bad("name: a\ntemplate: linux\nname: b\n", &err),
			    "t.yaml:3:1: duplicate key 'name' (first given at line 1); keep one");
	assert_string_equal(parse_bad("template: linux\n", &err), "t.yaml:1:1: missing key 'name': every profile names its VM");
	assert_string_equal(parse_bad("name: a\n", &err),
			    "t.yaml:1:1: missing key 'template' (windows11, windows10 or linux)");
	assert_string_equal(parse_bad("name: a\ntemplate: windos11\n", &err),
			    "t.yaml:2:11: template: unknown template 'windos11'; did you mean 'windows11'?");
	assert_string_equal(parse_bad("name: a\ntemplate: linux\ngpu: 1:2:3\n", &err),
			    "t.yaml:3:6: gpu: '1:2:3' is not valid; use auto, none, or a PCI address like 0000:01:00.0");
	assert_string_equal(parse_bad("name: a\ntemplate: linux\nmemory: [1, 2]\n", &err),
			    "t.yaml:3:9: 'memory' takes a single value, not a list");
	assert_string_equal(parse_bad("name: a\ntemplate: linux\ncpu: 4\n", &err),
			    "t.yaml:3:6: 'cpu' holds keys (cpu.KEY: value), not a value");
	assert_string_equal(parse_bad("name: a/b\ntemplate: linux\n", &err),
			    "t.yaml:1:7: name: a VM name cannot hold '/' or control characters");
	assert_string_equal(parse_bad("name: a\ntemplate: linux\ncpu:\n  vcpus: 6\n  cores: 4\n  threads: 2\n", &err),
			    "t.yaml:5:10: cpu: sockets x cores x threads is 8 but vcpus is 6; make them agree");
	assert_string_equal(parse_bad("name: a\ntemplate: linux\ncpu:\n  vcpus: 6\n  threads: 4\n", &err),
			    "t.yaml:5:12: cpu: sockets x cores x threads is 4 but vcpus is 6; make them agree");
	assert_string_equal(parse_bad("name: a\ntemplate: linux\nhostdevs:\n  usb: [046d:c52b, 046d:c52b]\n", &err),
			    "t.yaml:4:20: hostdevs.usb: 046d:c52b is listed twice");
	assert_string_equal(parse_bad("name: a\ntemplate: linux\nlooking_glass:\n  backend: kvmfr\n", &err),
			    "t.yaml:4:12: looking_glass: the kvmfr backend needs 'device: /dev/kvmfr0'");
	assert_string_equal(parse_bad("name: a\ntemplate: linux\nboot:\n  initrd: /i\n", &err),
			    "t.yaml:4:11: boot: initrd and cmdline need 'kernel' too");
	assert_string_equal(parse_bad("name: a\ntemplate: linux\nfirmware: bios\nsecure_boot: true\n", &err),
			    "t.yaml:4:14: secure_boot needs 'firmware: efi'");
	assert_string_equal(parse_bad("name: a\ntemplate: linux\niso: relative.iso\n", &err),
			    "t.yaml:3:6: iso: 'relative.iso' is not an absolute path (it must start with /)");
	assert_string_equal(parse_bad("name: [a\n", &err) , "t.yaml:2:1: YAML syntax: did not find expected ',' or ']' while parsing a flow sequence");
	assert_string_equal(parse_bad("- a\n- b\n", &err), "t.yaml:1:1: a profile is a mapping of keys (name: win11 ...)");
}

/* Rules against the machine: the GPU exists and is isolated. */
static void test_check_against_machine(void **state)
{
	struct nr_scan *nv = unit_scan("intel-nvidia"), *shared = unit_scan("shared-group"), *off = unit_scan("iommu-off");
	struct nr_error err = { 0 };
	struct nr_profile *p;
	const struct nr_gpu *g;

	p = unit_profile("name: a\ntemplate: windows11\ngpu: auto\n");
	assert_int_equal(nr_profile_check(p, nv, &err), 0);
	g = nr_profile_gpu(p, nv);
	assert_non_null(g);
	assert_string_equal(nv->devices[g->dev].addr, "0000:01:00.0");
	assert_true(nr_profile_nvidia_workaround(p, nv));
	assert_int_equal(nr_profile_check(p, off, &err), -NR_E_NOIOMMU);
	assert_string_equal(err.msg, "t.yaml:3:6: the IOMMU is off, so no device can be passed through: "
			    "run 'neuronctl check', or set 'gpu: none'");
	nr_profile_free(p);

	p = unit_profile("name: a\ntemplate: windows10\ngpu: \"0000:09:00.0\"\n");
	assert_int_equal(nr_profile_check(p, nv, &err), -NR_E_NODEVICE);
	assert_string_equal(err.msg, "t.yaml:3:6: gpu: there is no PCI device 0000:09:00.0 on this machine "
			    "(see 'neuronctl scan')");
	nr_profile_free(p);

	p = unit_profile("name: a\ntemplate: windows10\ngpu: 02:00.0\n");
	assert_int_equal(nr_profile_check(p, nv, &err), -NR_E_NODEVICE);
	assert_string_equal(err.msg, "t.yaml:3:6: gpu: 0000:02:00.0 is not a GPU (class 0108)");
	nr_profile_free(p);

	/* shared-group: the GPU shares its group with other devices */
	for (size_t i = 0; i < shared->n_gpus; i++) {
		const struct nr_gpu *sg = &shared->gpus[i];
		char yaml[128];
		if (sg->isolated)
			continue;
		snprintf(yaml, sizeof(yaml), "name: a\ntemplate: windows10\ngpu: %s\n", shared->devices[sg->dev].addr);
		p = unit_profile(yaml);
		assert_int_equal(nr_profile_check(p, shared, &err), -NR_E_REFUSED);
		assert_non_null(strstr(err.msg, "t.yaml:3:6: gpu: "));
		assert_non_null(strstr(err.msg, "is not isolated: its IOMMU group also holds "));
		assert_non_null(strstr(err.msg, shared->devices[sg->blockers[0]].addr));
		nr_profile_free(p);
	}

	p = unit_profile("name: a\ntemplate: linux\nhostdevs:\n  pci: [\"0000:02:00.0\", \"0000:07:00.0\"]\n");
	assert_int_equal(nr_profile_check(p, nv, &err), -NR_E_NODEVICE);
	assert_string_equal(err.msg, "t.yaml:4:25: hostdevs.pci: there is no PCI device 0000:07:00.0 on this machine");
	nr_profile_free(p);

	p = unit_profile("name: a\ntemplate: windows10\ngpu: auto\nhostdevs:\n  pci: [\"0000:01:00.1\"]\n");
	assert_int_equal(nr_profile_check(p, nv, &err), -NR_E_EXISTS);
	assert_string_equal(err.msg, "t.yaml:5:9: hostdevs.pci: 0000:01:00.1 already goes in with the GPU; remove it here");
	nr_profile_free(p);

	nr_scan_free(nv);
	nr_scan_free(shared);
	nr_scan_free(off);
}

/* Values from YAML are data: quotes, null, booleans in their YAML spellings. */
static void test_yaml_forms(void **state)
{
	struct nr_profile *p = unit_profile("name: \"<win&'\\\"11>\"\ntemplate: windows10\nlooking_glass: false\n"
					"agent: no\niso: ~\ntpm: yes\ngpu: none\ndisk: none\n");

	assert_string_equal(p->name, "<win&'\"11>");
	assert_false(p->lg.enabled);
	assert_false(p->agent);
	assert_null(p->iso);
	assert_int_equal(p->tpm, NR_ON);
	assert_true(p->disk.none);
	nr_profile_free(p);
	/* a mapping for looking_glass turns it on for a template that has it off */
	p = unit_profile("name: a\ntemplate: linux\nlooking_glass:\n  resolution: 1440p\n  hdr: true\n");
	assert_true(p->lg.enabled);
	assert_true(p->lg.hdr);
	nr_profile_free(p);
}

/* What the TUI's form made, saved and read back, is the same profile. */
static void test_yaml_round_trip(void **state)
{
	static const char *files[] = { "config/profiles/windows11.yaml", "config/profiles/windows10.yaml",
				       "config/profiles/linux.yaml", "tests/unattend/windows11.yaml",
				       "tests/unattend/windows10.yaml" };
	struct nr_error err = { 0 };

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct nr_profile *p = NULL, *q = NULL;
		char *y1 = NULL, *y2 = NULL;
		if (nr_profile_load(files[i], &p, &err) < 0)
			fail_msg("%s", err.msg);
		assert_int_equal(nr_profile_set(p, "name", "new \"one\" <&>", &err), 0);
		assert_int_equal(nr_profile_set(p, "hostdevs.usb", "046d:c52b", &err), 0);
		assert_int_equal(nr_profile_set(p, "shares", "My.Docs=~/a \"b\", c", &err), 0);
		assert_int_equal(nr_profile_set(p, "shares", "/srv/x/", &err), 0);
		assert_int_equal(nr_profile_to_yaml(p, &y1, &err), 0);
		if (!strstr(y1, "\nshares: [{name: My.Docs, path: \"~/a "))
			fail_msg("shares not written as {name, path}:\n%s", y1);
		if (nr_profile_parse(y1, strlen(y1), "saved.yaml", &q, &err) < 0)
			fail_msg("%s: %s\n%s", files[i], err.msg, y1);
		assert_int_equal(nr_profile_to_yaml(q, &y2, &err), 0);
		assert_string_equal(y1, y2);
		for (size_t k = 0; nr_profile_key(k, NULL); k++) {
			char *a = nr_profile_get(p, nr_profile_key(k, NULL)), *b = nr_profile_get(q, nr_profile_key(k, NULL));
			if (a || b)
				assert_string_equal(a, b);
			free(a);
			free(b);
		}
		assert_string_equal(q->name, "new \"one\" <&>");
		free(y1);
		free(y2);
		nr_profile_free(p);
		nr_profile_free(q);
	}
}

/* A key changed after the file was read is located by its new value, never at the file's
 * line that says something else; the file's own keys keep their lines. */
static void test_set_after_file_is_located(void **state)
{
	struct nr_error err = { 0 };
	struct nr_profile *p = NULL;

	if (nr_profile_load("config/profiles/windows11.yaml", &p, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(nr_profile_set(p, "tpm", "false", &err), 0);
	assert_true(nr_profile_check(p, NULL, &err) < 0);
	assert_non_null(strstr(err.msg, "with tpm=false: Windows 11 needs a TPM"));
	nr_error_set(&err, -NR_E_INVAL, "x");
	nr_profile_locate(p, "tpm", &err);
	assert_string_equal(err.msg, "config/profiles/windows11.yaml with tpm=false: x");
	nr_error_set(&err, -NR_E_INVAL, "x");
	nr_profile_locate(p, "firmware", &err);
	assert_string_equal(err.msg, "config/profiles/windows11.yaml: x");
	nr_error_set(&err, -NR_E_INVAL, "x");
	nr_profile_locate(p, "memory", &err);
	assert_true(strncmp(err.msg, "config/profiles/windows11.yaml:", 31) == 0 && strstr(err.msg, "with") == NULL);
	nr_profile_free(p);
}

/* cpu.pinning: one reader for the CPU list; a CPU twice or a backwards range is refused
 * when set (the count and the host's CPUs are judged when the domain is built). */
static void test_pinning_list(void **state)
{
	struct nr_error err = { 0 };
	struct nr_profile *p = NULL;

	assert_int_equal(nr_profile_new("linux", "pin", &p, &err), 0);
	assert_int_equal(nr_profile_set(p, "cpu.pinning", "2-3,6", &err), 0);
	assert_int_equal(p->pinning, NR_PINNING_LIST);
	assert_true(nr_profile_set(p, "cpu.pinning", "2,3,3,4", &err) < 0);
	assert_non_null(strstr(err.msg, "names CPU 3 twice"));
	assert_true(nr_profile_set(p, "cpu.pinning", "7-3", &err) < 0);
	assert_non_null(strstr(err.msg, "runs backwards"));
	assert_true(nr_profile_set(p, "cpu.pinning", "1-99999", &err) < 0);
	assert_true(nr_profile_set(p, "cpu.pinning", "2,", &err) < 0);
	/* a refused value leaves the last good one */
	assert_string_equal(p->pin_cpus, "2-3,6");
	nr_profile_free(p);
}

/* Damaged profiles never crash the reader, and every refusal says where: bytes of the
 * example files flipped, cut and duplicated with a fixed seed (run under ASan by make asan). */
static void test_mutations_fail_cleanly(void **state)
{
	static const char *files[] = { "config/profiles/windows11.yaml", "config/profiles/windows10.yaml",
				       "config/profiles/linux.yaml" };
	static const char junk[] = ":-[]{}#&*!|>'\"%@` \n\t0aZ~,?";
	unsigned seed = 12345;
	size_t ok = 0, refused = 0;

	for (size_t f = 0; f < 3; f++) {
		FILE *in = fopen(files[f], "rb");
		char orig[8192];
		size_t len;
		assert_non_null(in);
		len = fread(orig, 1, sizeof(orig), in);
		fclose(in);
		for (int round = 0; round < 700; round++) {
			char buf[8192 * 2];
			size_t n = len;
			struct nr_profile *p = NULL;
			struct nr_error err = { 0 };
			memcpy(buf, orig, len);
			for (int m = 0; m < 1 + round % 4; m++) {
				seed = seed * 1103515245u + 12345u;
				size_t at = (seed >> 8) % n;
				switch ((seed >> 4) % 3) {
				case 0: buf[at] = junk[(seed >> 16) % (sizeof(junk) - 1)]; break;
				case 1: n = at + 1; break;
				default:
					if (n + 16 < sizeof(buf)) {
						memmove(buf + at + 8, buf + at, n - at);
						n += 8;
					}
				}
			}
			if (nr_profile_parse(buf, n, "t.yaml", &p, &err) == 0) {
				assert_non_null(p->name);
				ok++;
			} else {
				assert_null(p);
				if (strncmp(err.msg, "t.yaml:", 7) != 0)
					fail_msg("a refusal without its place: '%s'", err.msg);
				refused++;
			}
			nr_profile_free(p);
		}
	}
	assert_true(ok > 0 && refused > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_windows11),
		cmocka_unit_test(test_example_windows10_and_linux),
		cmocka_unit_test(test_edit_through_api),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_bad_profiles),
		cmocka_unit_test(test_check_against_machine),
		cmocka_unit_test(test_yaml_forms),
		cmocka_unit_test(test_yaml_round_trip),
		cmocka_unit_test(test_set_after_file_is_located),
		cmocka_unit_test(test_pinning_list),
		cmocka_unit_test(test_mutations_fail_cleanly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
