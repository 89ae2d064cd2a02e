/* Looking Glass in core: the size table, the shared-memory probe on bytes and files,
 * the VM's shm path from domain XML (and through libvirt's test driver), the access
 * verdict, the client's command line, and the supervisor run in this process. */
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
#include <libvirt/libvirt.h>

#include "vm/virt_internal.h"
#include "neuron/ctx.h"
#include "neuron/domain.h"
#include "neuron/error.h"
#include "neuron/lg.h"
#include "neuron/virt.h"
#include "neuron/vm.h"
#include "unit.h"

#define FAKE_CLIENT "tests/lg/fake-client.sh"

static char *tmpdir;

static int make_tmp(void **state)
{
	tmpdir = unit_tmpdir("lg", false);
	return 0;
}

static int rm_tmp(void **state)
{
	unit_rmtree_free(&tmpdir);
	return 0;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* ---- size ------------------------------------------------------------------------ */

static void test_size_table(void **state)
{
	static const struct {
		unsigned w, h;
		bool hdr;
		unsigned mib;
	} rows[] = {
		{ 1280, 720, false, 32 },
		{ 1920, 1080, false, 32 }, { 1920, 1200, false, 32 }, { 2560, 1080, false, 32 },
		{ 2560, 1440, false, 64 }, { 3440, 1440, false, 64 }, { 3840, 2160, false, 128 },
		{ 5120, 2880, false, 128 }, { 1920, 1080, true, 64 }, { 2560, 1440, true, 128 },
		{ 3840, 2160, true, 256 }, { 1, 1, false, 16 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		unsigned w = rows[i].w, h = rows[i].h;
		unsigned long long mib = ((unsigned long long)w * h * 8 * (rows[i].hdr ? 2 : 1) + (1 << 20) - 1) /
					 (1 << 20) + 10, p = 1;
		while (p < mib)
			p <<= 1;
		/* the table and the rule agree */
		assert_int_equal(p, rows[i].mib);
		assert_int_equal(nr_lg_shm_size_mib(w, h, rows[i].hdr), rows[i].mib);
	}
	assert_int_equal(nr_lg_shm_size_mib(16385, 10, false), 0);
	assert_int_equal(nr_lg_shm_size_mib(10, 0, true), 0);
}

/* ---- the probe on bytes --------------------------------------------------------------- */

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static void lgmp(unsigned char *p, uint32_t version, uint32_t session, uint64_t ts)
{
	put32(p, 0x504d474c);
	put32(p + 4, version);
	put32(p + 8, session);
	put64(p + 16, ts);
}

static void kvmfr(unsigned char *p, uint32_t version, const char *hostver)
{
	memcpy(p, "KVMFR---", 8);
	put32(p + 8, version);
	memcpy(p + 12, hostver, strlen(hostver));
}

#define BUFSZ (64 * 1024)

static void test_probe_b7(void **state)
{
	unsigned char *m = calloc(1, BUFSZ);
	struct nr_lg_snapshot s;

	lgmp(m, 6, 0xdeadbeef, 0x0102030405060708ull);
	kvmfr(m + 0x180, 20, "B7");
	nr_lg_probe(m, BUFSZ, 32u << 20, &s);
	assert_int_equal(s.kind, NR_LG_SHM_HEADER);
	assert_string_equal(s.layout, "b7");
	assert_int_equal(s.header_offset, 0);
	assert_int_equal(s.version, 6);
	assert_int_equal(s.session_id, 0xdeadbeef);
	assert_true(s.timestamp_ms == 0x0102030405060708ull);
	assert_true(s.kvmfr);
	assert_int_equal(s.kvmfr_version, 20);
	assert_string_equal(s.host_version, "B7");
	assert_true(s.size == 32u << 20);

	/* no KVMFR record yet */
	memset(m + 0x180, 0, 64);
	nr_lg_probe(m, BUFSZ, BUFSZ, &s);
	assert_int_equal(s.kind, NR_LG_SHM_HEADER);
	assert_false(s.kvmfr);
	assert_string_equal(s.host_version, "");

	/* a host version with control characters and no NUL in its 32 bytes */
	kvmfr(m + 0x40, 20, "B7\x1b[2J\x07-0123456789abcdefghijklmnopq");
	memset(m + 0x40 + 12 + 32, 'Z', 8);
	nr_lg_probe(m, BUFSZ, BUFSZ, &s);
	assert_true(s.kvmfr);
	assert_int_equal(strlen(s.host_version), 32);
	assert_null(strchr(s.host_version, '\x1b'));
	assert_null(strchr(s.host_version, 'Z'));
	assert_memory_equal(s.host_version, "B7?[2J?-", 8);
	free(m);
}

static void test_probe_newer(void **state)
{
	unsigned char *m = calloc(1, BUFSZ);
	struct nr_lg_snapshot s;

	lgmp(m + 4096, 7, 99, 1234);
	kvmfr(m + 4096 + 0x300, 21, "B8");
	nr_lg_probe(m, BUFSZ, BUFSZ, &s);
	assert_int_equal(s.kind, NR_LG_SHM_HEADER);
	assert_string_equal(s.layout, "newer");
	assert_int_equal(s.header_offset, 4096);
	assert_int_equal(s.version, 7);
	assert_int_equal(s.session_id, 99);
	assert_int_equal(s.timestamp_ms, 1234);
	assert_string_equal(s.host_version, "B8");

	/* the B7 version where the newer header lives is not a layout: never read it */
	put32(m + 4096 + 4, 6);
	nr_lg_probe(m, BUFSZ, BUFSZ, &s);
	assert_int_equal(s.kind, NR_LG_SHM_UNKNOWN);
	assert_true(s.have_version);
	assert_int_equal(s.version, 6);
	assert_null(s.layout);
	free(m);
}

static void test_probe_unknown(void **state)
{
	unsigned char *m = calloc(1, BUFSZ);
	struct nr_lg_snapshot s;

	/* LGMP at 0 with a version no layout puts there */
	lgmp(m, 9, 5, 5);
	nr_lg_probe(m, BUFSZ, BUFSZ, &s);
	assert_int_equal(s.kind, NR_LG_SHM_UNKNOWN);
	assert_int_equal(s.version, 9);
	assert_int_equal(s.session_id, 0);   /* not read */
	assert_int_equal(s.timestamp_ms, 0);
	assert_non_null(s.detail);

	/* garbage */
	memset(m, 0, BUFSZ);
	for (size_t i = 0; i < 8192; i++)
		m[i] = (unsigned char)(i * 131 + 7);
	nr_lg_probe(m, BUFSZ, BUFSZ, &s);
	assert_int_equal(s.kind, NR_LG_SHM_UNKNOWN);
	assert_false(s.have_version);

	/* the magic byte-swapped (a big-endian writer) is not LGMP */
	memset(m, 0, BUFSZ);
	memcpy(m, "PMGL", 4);
	put32(m + 4, 6);
	nr_lg_probe(m, BUFSZ, BUFSZ, &s);
	assert_int_equal(s.kind, NR_LG_SHM_UNKNOWN);
	free(m);
}

static void test_probe_empty_truncated(void **state)
{
	unsigned char m[64] = { 0 };
	struct nr_lg_snapshot s;

	nr_lg_probe(m, 0, 0, &s);
	assert_int_equal(s.kind, NR_LG_SHM_EMPTY);
	nr_lg_probe(m, sizeof(m), sizeof(m), &s);
	assert_int_equal(s.kind, NR_LG_SHM_EMPTY);

	lgmp(m, 6, 1, 2);
	for (size_t len = 4; len < 24; len++) {
		nr_lg_probe(m, len, len, &s);
		assert_int_equal(s.kind, NR_LG_SHM_TRUNCATED);
		assert_null(s.layout);
	}
	nr_lg_probe(m, 24, 24, &s);
	assert_int_equal(s.kind, NR_LG_SHM_HEADER);
	/* fewer bytes than the magic */
	nr_lg_probe(m, 2, 2, &s);
	assert_int_equal(s.kind, NR_LG_SHM_TRUNCATED);
	/* len beyond total is clamped: what lies past the end is not read */
	nr_lg_probe(m, sizeof(m), 10, &s);
	assert_int_equal(s.kind, NR_LG_SHM_TRUNCATED);
}

/* ---- the probe on files, and the two reads -------------------------------------------- */

static void test_status_files(void **state)
{
	unsigned char *m = calloc(1, BUFSZ);
	struct nr_lg_watch fast = { .interval_ms = 20, .stale_ms = 100 };
	struct nr_lg_status st;
	struct nr_error err = { 0 };
	char *sentence;

	write_file(unit_path(tmpdir, "empty"), "", 0);
	assert_int_equal(nr_lg_status_read(unit_path(tmpdir, "empty"), &fast, &st, &err), 0);
	assert_int_equal(st.host, NR_LG_HOST_NONE);
	assert_int_equal(st.first.kind, NR_LG_SHM_EMPTY);

	lgmp(m, 6, 42, 1000);
	write_file(unit_path(tmpdir, "stale"), m, BUFSZ);
	assert_int_equal(nr_lg_status_read(unit_path(tmpdir, "stale"), &fast, &st, &err), 0);
	assert_int_equal(st.host, NR_LG_HOST_STALE);
	assert_true(st.watched_ms > 100);
	assert_false(st.session_changed);
	sentence = nr_lg_status_sentence(&st);
	assert_non_null(strstr(sentence, "not updating"));
	free(sentence);

	write_file(unit_path(tmpdir, "trunc"), m, 12);
	assert_int_equal(nr_lg_status_read(unit_path(tmpdir, "trunc"), &fast, &st, &err), 0);
	assert_int_equal(st.host, NR_LG_HOST_UNKNOWN);
	assert_int_equal(st.last.kind, NR_LG_SHM_TRUNCATED);

	assert_int_equal(nr_lg_status_read(unit_path(tmpdir, "missing"), &fast, &st, &err), -NR_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "does not exist"));
	assert_int_equal(nr_lg_read(tmpdir, &st.first, &err), -NR_E_INVAL);
	free(m);
}

/* ---- the VM's shm path ---------------------------------------------------------------- */

/* What `lg status VM` and `lg start VM` open: nr_lg_shm_of on the domain as read by
 * nr_domain_inspect (the inputs themselves: tests/unit/test_domain.c). */
static int shm_from_xml(const char *xml, char **path, unsigned *mib, struct nr_error *err)
{
	struct nr_domain_info *info;
	const char *p;
	int rc;

	*path = NULL;
	if ((rc = nr_domain_inspect(xml, &info, err)) < 0)
		return rc;
	if ((rc = nr_lg_shm_of(info, &p, mib, err)) == 0)
		*path = strdup(p);
	nr_domain_info_free(info);
	return rc;
}

static void test_shm_from_xml(void **state)
{
	struct nr_error err = { 0 };
	char *path;
	unsigned mib;

	assert_int_equal(shm_from_xml("<domain><devices><shmem name='other'/>"
				      "<shmem name='looking-glass'><model type='ivshmem-plain'/>"
				      "<size unit='M'>64</size></shmem></devices></domain>",
				      &path, &mib, &err), 0);
	assert_string_equal(path, "/dev/shm/looking-glass");
	assert_int_equal(mib, 64);
	free(path);

	assert_int_equal(shm_from_xml("<domain><devices><shmem name='looking-glass-win11'>"
				      "<size unit='KiB'>131072</size></shmem></devices></domain>",
				      &path, &mib, &err), 0);
	assert_string_equal(path, "/dev/shm/looking-glass-win11");
	assert_int_equal(mib, 128);
	free(path);

	/* kvmfr, in the JSON form the Looking Glass docs give for libvirt >= 7.9 */
	assert_int_equal(shm_from_xml(
		"<domain xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><devices/>"
		"<qemu:commandline><qemu:arg value='-device'/>"
		"<qemu:arg value='{\"driver\":\"ivshmem-plain\",\"id\":\"shmem0\",\"memdev\":\"looking-glass\"}'/>"
		"<qemu:arg value='-object'/>"
		"<qemu:arg value='{\"qom-type\":\"memory-backend-file\",\"id\":\"looking-glass\","
		"\"mem-path\":\"/dev/kvmfr0\",\"size\":33554432,\"share\":true}'/>"
		"</qemu:commandline></domain>", &path, &mib, &err), 0);
	assert_string_equal(path, "/dev/kvmfr0");
	assert_int_equal(mib, 32);
	free(path);

	/* and in QEMU's key=value form (the device that uses the memory, then the memory) */
	assert_int_equal(shm_from_xml(
		"<domain xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
		"<qemu:commandline><qemu:arg value='-device'/><qemu:arg value='ivshmem-plain,memdev=looking-glass'/>"
		"<qemu:arg value='-object'/>"
		"<qemu:arg value='memory-backend-file,id=looking-glass,mem-path=/dev/kvmfr0,size=64M,share=yes'/>"
		"</qemu:commandline></domain>", &path, &mib, &err), 0);
	assert_string_equal(path, "/dev/kvmfr0");
	assert_int_equal(mib, 64);
	free(path);

	assert_int_equal(shm_from_xml("<domain><devices><disk/></devices></domain>", &path, &mib, &err),
			 -NR_E_NOTFOUND);
	assert_null(path);
	assert_non_null(strstr(err.msg, "no Looking Glass shared memory"));
	assert_int_equal(shm_from_xml("<domain><devices>", &path, &mib, &err), -NR_E_PARSE);
	assert_null(path);
}

static void test_vm_shm_libvirt(void **state)
{
	struct nr_ctx *ctx = nr_ctx_new();
	struct nr_virt *virt;
	struct nr_error err = { 0 };
	virDomainPtr dom;
	char *path;
	unsigned mib;

	assert_int_equal(nr_ctx_set(ctx, "connect", "test:///default", &err), 0);
	assert_int_equal(nr_virt_open(ctx, &virt, &err), 0);
	dom = virDomainDefineXML(virt->conn,
				 "<domain type='test'><name>win11</name><memory>1048576</memory>"
				 "<os><type>hvm</type></os><devices>"
				 "<shmem name='looking-glass'><model type='ivshmem-plain'/>"
				 "<size unit='M'>128</size></shmem></devices></domain>");
	assert_non_null(dom);
	virDomainFree(dom);
	assert_int_equal(nr_lg_vm_shm(virt, "win11", &path, &mib, &err), 0);
	assert_string_equal(path, "/dev/shm/looking-glass");
	assert_int_equal(mib, 128);
	free(path);
	/* the test driver's own domain has no shared memory */
	assert_int_equal(nr_lg_vm_shm(virt, "test", &path, &mib, &err), -NR_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "VM 'test': "));
	assert_int_equal(nr_lg_vm_shm(virt, "nope", &path, &mib, &err), -NR_E_NOVM);
	nr_virt_close(virt);
	nr_ctx_free(ctx);
}

/* The VMs panel (nr_vm_list, then nr_lg_shm_of on each VM's info, as tui/view_vms.c does)
 * and `lg status VM` (nr_lg_vm_shm) reach the same verdict on every VM: the panel never shows
 * Looking Glass for a VM that lg status says has none. */
static void test_panel_and_status_agree(void **state)
{
	static const struct {
		const char *name, *devices, *path;
		unsigned mib;
	} vms[] = {
		{ "agree-lg", "<shmem name='looking-glass'><model type='ivshmem-plain'/><size unit='M'>64</size></shmem>",
		  "/dev/shm/looking-glass", 64 },
		{ "agree-lg0", "<shmem name='lg0'><model type='ivshmem-plain'/><size unit='M'>32</size></shmem>", NULL, 0 },
		{ "agree-nosize", "<shmem name='looking-glass'/>", "/dev/shm/looking-glass", 4 },
		{ "agree-scream", "<shmem name='scream-ivshmem'><size unit='M'>2</size></shmem>", NULL, 0 },
		{ "agree-none", "", NULL, 0 },
	};
	struct nr_ctx *ctx = nr_ctx_new();
	struct nr_virt *virt;
	struct nr_vm_list *list;
	struct nr_error err = { 0 };
	size_t seen = 0;

	assert_int_equal(nr_ctx_set(ctx, "connect", "test:///default", &err), 0);
	assert_int_equal(nr_virt_open(ctx, &virt, &err), 0);
	for (size_t i = 0; i < sizeof(vms) / sizeof(vms[0]); i++) {
		char xml[1024];
		virDomainPtr dom;
		snprintf(xml, sizeof(xml), "<domain type='test'><name>%s</name><memory>1048576</memory>"
			 "<os><type>hvm</type></os><devices>%s</devices></domain>", vms[i].name, vms[i].devices);
		assert_non_null(dom = virDomainDefineXML(virt->conn, xml));
		virDomainFree(dom);
	}
	assert_int_equal(nr_vm_list(virt, &list, &err), 0);
	for (size_t k = 0; k < list->n; k++) {
		const struct nr_vm *vm = &list->vms[k];
		const char *panel_path;
		char *status_path;
		unsigned panel_mib, status_mib;
		int panel = nr_lg_shm_of(vm->info, &panel_path, &panel_mib, NULL);
		int status = nr_lg_vm_shm(virt, vm->name, &status_path, &status_mib, NULL);

		assert_int_equal(panel, status);
		if (status == 0) {
			assert_string_equal(panel_path, status_path);
			assert_int_equal(panel_mib, status_mib);
		}
		for (size_t i = 0; i < sizeof(vms) / sizeof(vms[0]); i++) {
			if (strcmp(vm->name, vms[i].name) != 0)
				continue;
			seen++;
			if (vms[i].path) {
				assert_int_equal(status, 0);
				assert_string_equal(status_path, vms[i].path);
				assert_int_equal(status_mib, vms[i].mib);
			} else {
				assert_int_equal(status, -NR_E_NOTFOUND);
			}
		}
		free(status_path);
	}
	assert_int_equal(seen, sizeof(vms) / sizeof(vms[0]));
	nr_vm_list_free(list);
	for (size_t i = 0; i < sizeof(vms) / sizeof(vms[0]); i++) {
		virDomainPtr dom = virDomainLookupByName(virt->conn, vms[i].name);
		assert_non_null(dom);
		virDomainUndefine(dom);
		virDomainFree(dom);
	}
	nr_virt_close(virt);
	nr_ctx_free(ctx);
}

/* ---- access -------------------------------------------------------------------------- */

static void test_access(void **state)
{
	const char *p = unit_path(tmpdir, "shm");
	struct nr_error err = { 0 };
	/* the file is ours (no chown: makepkg's check() is not root); the user asked about is
	 * someone else, in the file's group or not */
	unsigned own = (unsigned)getuid(), grp = (unsigned)getgid();
	unsigned other = own == 0 ? 1000 : own + 1;
	unsigned in_grp[] = { grp + 1, grp }, out_grp[] = { grp + 1 };

	write_file(p, "", 0);
	chmod(p, 0660);
	assert_int_equal(nr_lg_shm_access_as(p, other, in_grp, 2, &err), 0);
	assert_int_equal(nr_lg_shm_access_as(p, other, out_grp, 1, &err), -NR_E_PERM);
	assert_non_null(strstr(err.msg, "join its group '"));
	assert_non_null(strstr(err.msg, "usermod -aG"));
	assert_int_equal(nr_lg_shm_access_as(p, 0, out_grp, 1, &err), 0); /* root */
	assert_int_equal(nr_lg_shm_access_as(p, own, out_grp, 1, &err), 0); /* the owner */
	chmod(p, 0640);
	assert_int_equal(nr_lg_shm_access_as(p, other, in_grp, 2, &err), -NR_E_PERM);
	assert_non_null(strstr(err.msg, "0660"));
	chmod(p, 0600);
	assert_int_equal(nr_lg_shm_access_as(p, other, out_grp, 1, &err), -NR_E_PERM);
	assert_non_null(strstr(err.msg, "mode 0600"));
	chmod(p, 0666);
	assert_int_equal(nr_lg_shm_access_as(p, other, out_grp, 1, &err), 0);
	assert_int_equal(nr_lg_shm_access_as(unit_path(tmpdir, "nope"), other, out_grp, 1, &err), -NR_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "start the VM"));
}

/* ---- the client ------------------------------------------------------------------------ */

static void test_argv_and_find(void **state)
{
	struct nr_ctx *ctx = nr_ctx_new();
	const char *extra[] = { "-k", "app:renderer=EGL", NULL };
	struct nr_lg_client_opts o = { .vm = "w", .shm_path = "/dev/kvmfr0" };
	struct nr_error err = { 0 };
	char **argv, *path, *old_path;

	nr_lg_client_opts_defaults(ctx, &o);
	assert_false(o.fullscreen);
	assert_false(o.no_spice);
	assert_null(o.escape_key);
	argv = nr_lg_client_argv("/usr/bin/looking-glass-client", &o);
	assert_string_equal(argv[0], "/usr/bin/looking-glass-client");
	assert_string_equal(argv[1], "-f");
	assert_string_equal(argv[2], "/dev/kvmfr0");
	assert_null(argv[3]);
	nr_lg_argv_free(argv);

	nr_ctx_set(ctx, "lg.fullscreen", "yes", NULL);
	nr_ctx_set(ctx, "lg.escape", "KEY_RIGHTCTRL", NULL);
	nr_ctx_set(ctx, "lg.spice", "no", NULL);
	nr_lg_client_opts_defaults(ctx, &o);
	o.extra = extra;
	argv = nr_lg_client_argv("lgc", &o);
	assert_string_equal(argv[3], "win:fullScreen=yes");
	assert_string_equal(argv[4], "input:escapeKey=KEY_RIGHTCTRL");
	assert_string_equal(argv[5], "spice:enable=no");
	assert_string_equal(argv[6], "-k");
	assert_string_equal(argv[7], "app:renderer=EGL");
	assert_null(argv[8]);
	nr_lg_argv_free(argv);

	/* PATH lookup, then the configured binary, then a clear message */
	old_path = strdup(getenv("PATH") ? getenv("PATH") : "");
	mkdir(unit_path(tmpdir, "bin"), 0755);
	write_file(unit_path(tmpdir, "bin/looking-glass-client"), "#!/bin/sh\n", 10);
	chmod(unit_path(tmpdir, "bin/looking-glass-client"), 0755);
	setenv("PATH", unit_path(tmpdir, "bin"), 1);
	assert_int_equal(nr_lg_client_find(ctx, NULL, &path, &err), 0);
	assert_string_equal(path, unit_path(tmpdir, "bin/looking-glass-client"));
	free(path);
	setenv("PATH", "/nonexistent", 1);
	assert_int_equal(nr_lg_client_find(ctx, NULL, &path, &err), -NR_E_LG_NOCLIENT);
	assert_non_null(strstr(err.msg, "install"));
	nr_ctx_set(ctx, "lg.client", unit_path(tmpdir, "bin/looking-glass-client"), NULL);
	assert_int_equal(nr_lg_client_find(ctx, NULL, &path, &err), 0);
	free(path);
	assert_int_equal(nr_lg_client_find(ctx, "/nonexistent/lgc", &path, &err), -NR_E_LG_NOCLIENT);
	setenv("PATH", old_path, 1);
	free(old_path);
	nr_ctx_free(ctx);
}

static void test_graphical_session(void **state)
{
	struct nr_error err = { 0 };

	unsetenv("DISPLAY");
	unsetenv("WAYLAND_DISPLAY");
	assert_int_equal(nr_lg_graphical_session(&err), -NR_E_LG_NOSESSION);
	assert_non_null(strstr(err.msg, "WAYLAND_DISPLAY"));
	setenv("WAYLAND_DISPLAY", "wayland-0", 1);
	assert_int_equal(nr_lg_graphical_session(&err), 0);
	unsetenv("WAYLAND_DISPLAY");
	setenv("DISPLAY", ":0", 1);
	assert_int_equal(nr_lg_graphical_session(&err), 0);
	unsetenv("DISPLAY");
}

static struct nr_ctx *client_ctx(void)
{
	struct nr_ctx *ctx = nr_ctx_new();

	nr_ctx_set(ctx, "runtime_dir", unit_path(tmpdir, "run"), NULL);
	nr_ctx_set(ctx, "lg.client", FAKE_CLIENT, NULL);
	nr_ctx_set(ctx, "lg.backoff_ms", "10", NULL);
	nr_ctx_set(ctx, "lg.give_up", "3", NULL);
	setenv("FAKE_LG_RECORD", unit_path(tmpdir, "record"), 1);
	setenv("FAKE_LG_MODES", unit_path(tmpdir, "modes"), 1);
	return ctx;
}

/* The supervisor in this process: restarts after crashes, stops after a clean exit. */
static void test_supervise_restarts(void **state)
{
	struct nr_ctx *ctx = client_ctx();
	struct nr_lg_client_opts o = { .vm = "win11", .shm_path = "/dev/shm/looking-glass" };
	struct nr_lg_sup_info info;
	struct nr_error err = { 0 };
	char *rec, *log;

	unlink(unit_path(tmpdir, "record"));
	write_file(unit_path(tmpdir, "modes"), "crash\nfail\nexit0\n", 17);
	assert_int_equal(nr_lg_supervise(ctx, &o, &err), 0);
	rec = unit_slurp(unit_path(tmpdir, "record"));
	assert_non_null(rec);
	/* three runs, each with -f PATH */
	assert_non_null(strstr(rec, "run "));
	assert_non_null(strstr(strstr(strstr(rec, "run ") + 1, "run ") + 1, "run "));
	assert_non_null(strstr(rec, "-f\n/dev/shm/looking-glass\n"));
	free(rec);
	log = unit_slurp(unit_path(tmpdir, "run/lg-win11.log"));
	assert_non_null(log);
	assert_non_null(strstr(log, "signal 11"));
	assert_non_null(strstr(log, "exit status 3"));
	assert_non_null(strstr(log, "exited normally"));
	assert_non_null(strstr(log, "fake looking-glass-client: failing on purpose"));
	free(log);
	/* nothing left behind: no pid file, not running */
	assert_int_equal(access(unit_path(tmpdir, "run/lg-win11.pid"), F_OK), -1);
	assert_int_equal(nr_lg_client_info(ctx, "win11", &info, &err), 0);
	assert_int_equal(info.state, NR_LG_SUP_NOT_RUNNING);
	nr_lg_sup_info_done(&info);
	nr_ctx_free(ctx);
}

static void test_supervise_gives_up(void **state)
{
	struct nr_ctx *ctx = client_ctx();
	struct nr_lg_client_opts o = { .vm = "win11", .shm_path = "/dev/shm/looking-glass" };
	struct nr_lg_sup_info info;
	struct nr_error err = { 0 };

	write_file(unit_path(tmpdir, "modes"), "crash\ncrash\ncrash\ncrash\ncrash\n", 30);
	assert_int_equal(nr_lg_supervise(ctx, &o, &err), -NR_E_LG_GAVEUP);
	assert_non_null(strstr(err.msg, "3 times in a row"));
	assert_int_equal(nr_lg_client_info(ctx, "win11", &info, &err), 0);
	assert_int_equal(info.state, NR_LG_SUP_GAVE_UP);
	assert_non_null(info.last_lines);
	assert_non_null(strstr(info.last_lines, "giving up"));
	assert_non_null(strstr(info.last_lines, "mode crash"));
	assert_int_equal(info.restarts, 2);
	nr_lg_sup_info_done(&info);
	/* two crashes are left in the list: the next start begins afresh */
	unlink(unit_path(tmpdir, "modes"));
	nr_ctx_free(ctx);
}

static void test_stale_pid_file(void **state)
{
	struct nr_ctx *ctx = client_ctx();
	struct nr_lg_sup_info info;
	struct nr_error err = { 0 };

	mkdir(unit_path(tmpdir, "run"), 0700);
	/* a pid file nobody holds the lock on: its supervisor is gone, whatever the pid */
	write_file(unit_path(tmpdir, "run/lg-old.pid"), "1\n", 2);
	write_file(unit_path(tmpdir, "run/lg-old.state"), "state=running\nclient_pid=1\n", 27);
	assert_int_equal(nr_lg_client_info(ctx, "old", &info, &err), 0);
	assert_int_equal(info.state, NR_LG_SUP_STALE);
	nr_lg_sup_info_done(&info);
	assert_int_equal(access(unit_path(tmpdir, "run/lg-old.pid"), F_OK), -1);
	assert_int_equal(nr_lg_client_info(ctx, "old", &info, &err), 0);
	assert_int_equal(info.state, NR_LG_SUP_NOT_RUNNING);
	nr_lg_sup_info_done(&info);
	write_file(unit_path(tmpdir, "run/lg-old.pid"), "1\n", 2);
	assert_int_equal(nr_lg_client_stop(ctx, "old", &err), -NR_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "stale"));
	/* VM names cannot walk out of the runtime directory */
	assert_int_equal(nr_lg_client_info(ctx, "..", &info, &err), -NR_E_INVAL);
	assert_int_equal(nr_lg_client_info(ctx, "a/../../x", &info, &err), 0);
	nr_lg_sup_info_done(&info);
	nr_ctx_free(ctx);
}

static void test_session_memory(void **state)
{
	struct nr_ctx *ctx = nr_ctx_new();
	uint32_t prev;
	bool had;

	nr_ctx_set(ctx, "runtime_dir", unit_path(tmpdir, "rt"), NULL);
	nr_lg_session_remember(ctx, "/dev/shm/looking-glass", 5, &prev, &had);
	assert_false(had);
	nr_lg_session_remember(ctx, "/dev/shm/looking-glass", 6, &prev, &had);
	assert_true(had);
	assert_int_equal(prev, 5);
	/* another shared memory has its own note */
	nr_lg_session_remember(ctx, "/dev/kvmfr0", 9, &prev, &had);
	assert_false(had);
	nr_lg_session_remember(ctx, "/dev/shm/looking-glass", 6, &prev, &had);
	assert_int_equal(prev, 6);
	/* an unwritable runtime directory is no error: nothing is remembered */
	nr_ctx_set(ctx, "runtime_dir", "/proc/neuron-nowhere", NULL);
	nr_lg_session_remember(ctx, "/dev/shm/looking-glass", 6, &prev, &had);
	assert_false(had);
	nr_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_table),
		cmocka_unit_test(test_probe_b7),
		cmocka_unit_test(test_probe_newer),
		cmocka_unit_test(test_probe_unknown),
		cmocka_unit_test(test_probe_empty_truncated),
		cmocka_unit_test(test_status_files),
		cmocka_unit_test(test_shm_from_xml),
		cmocka_unit_test(test_vm_shm_libvirt),
		cmocka_unit_test(test_panel_and_status_agree),
		cmocka_unit_test(test_access),
		cmocka_unit_test(test_argv_and_find),
		cmocka_unit_test(test_graphical_session),
		cmocka_unit_test(test_supervise_restarts),
		cmocka_unit_test(test_supervise_gives_up),
		cmocka_unit_test(test_stale_pid_file),
		cmocka_unit_test(test_session_memory),
	};

	return cmocka_run_group_tests(tests, make_tmp, rm_tmp);
}
