/* Looking Glass in core: the size table, the shared-memory probe on bytes and files,
 * the VM's shm path from domain XML (and through libvirt's test driver), the access
 * verdict, the client's command line, and the supervisor run in this process. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libvirt/libvirt.h>

#include "vm/virt_internal.h"
#include "neuron/check.h"
#include "neuron/clock.h"
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

/* The size table for both stacks (DESIGN.md, "Looking Glass facts"), worked by hand:
 * B7 720p: 1280x720x8 = 7.03 MiB -> 8 + 10 = 18 -> 32; IDD 720p: 5120 x 720 x 3 =
 * 10.55 MiB -> 11 + 4 = 15 -> 16; IDD 5K: 20480 x 2880 x 3 = 168.75 -> 169 + 4 -> 256. */
static void test_size_table(void **state)
{
	static const struct {
		unsigned w, h;
		bool hdr;
		unsigned b7, idd;
	} rows[] = {
		{ 1280, 720, false, 32, 16 },   { 1280, 720, true, 32, 16 },
		{ 1920, 1080, false, 32, 32 },  { 1920, 1080, true, 64, 32 },
		{ 2560, 1440, false, 64, 64 },  { 2560, 1440, true, 128, 64 },
		{ 3840, 2160, false, 128, 128 }, { 3840, 2160, true, 256, 128 },
		{ 5120, 2880, false, 128, 256 }, { 5120, 2880, true, 256, 256 },
		{ 1920, 1200, false, 32, 32 },  { 3440, 1440, false, 64, 64 },
		/* 1300 x 4 = 5200 bytes a row, padded to 5376: 12.3 MiB -> 13 + 4 -> 32, where
		 * unpadded rows would give 11.9 -> 12 + 4 -> 16 */
		{ 1300, 800, false, 32, 32 },
		{ 1, 1, false, 16, 8 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		unsigned w = rows[i].w, h = rows[i].h;

		assert_int_equal(nr_lg_shm_size_mib(NR_LG_STACK_B7, w, h, rows[i].hdr), rows[i].b7);
		assert_int_equal(nr_lg_shm_size_mib(NR_LG_STACK_IDD, w, h, rows[i].hdr), rows[i].idd);
	}
	/* auto, unresolved, is B7 */
	assert_int_equal(nr_lg_shm_size_mib(NR_LG_STACK_AUTO, 1280, 720, false), 32);
	assert_int_equal(nr_lg_shm_size_mib(NR_LG_STACK_B7, 16385, 10, false), 0);
	assert_int_equal(nr_lg_shm_size_mib(NR_LG_STACK_IDD, 10, 0, true), 0);
}

static void test_stack_names_and_versions(void **state)
{
	static const struct {
		const char *version;
		enum nr_lg_stack stack;
	} versions[] = {
		{ "B7", NR_LG_STACK_B7 }, { "B7-rc1", NR_LG_STACK_B7 }, { "B7-rc1-12-gabcdef0", NR_LG_STACK_B7 },
		{ "B6", NR_LG_STACK_B7 }, { "B6-45-g1234567", NR_LG_STACK_B7 },
		{ "B7-412-g8cb6a687", NR_LG_STACK_IDD }, { "B8", NR_LG_STACK_IDD }, { "B10-rc2", NR_LG_STACK_IDD },
		{ "", NR_LG_STACK_B7 }, { "garbage", NR_LG_STACK_B7 },
	};
	enum nr_lg_stack st;
	char *m;

	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (nr_lg_version_stack(versions[i].version) != versions[i].stack)
			fail_msg("%s: stack %d", versions[i].version, (int)nr_lg_version_stack(versions[i].version));
	assert_int_equal(nr_lg_stack_parse("idd", &st), 0);
	assert_int_equal(st, NR_LG_STACK_IDD);
	assert_int_equal(nr_lg_stack_parse("auto", &st), 0);
	assert_int_equal(st, NR_LG_STACK_AUTO);
	assert_int_equal(nr_lg_stack_parse("b8", &st), -NR_E_INVAL);
	assert_string_equal(nr_lg_stack_name(NR_LG_STACK_B7), "b7");

	assert_null(nr_lg_version_mismatch("B7", "B7"));
	assert_null(nr_lg_version_mismatch("", "B7"));
	assert_null(nr_lg_version_mismatch("B7", ""));
	m = nr_lg_version_mismatch("B7", "B7-412-g8cb6a687");
	assert_non_null(strstr(m, "install looking-glass-client B7-412-g8cb6a687"));
	free(m);
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

/* Headers as gnif/LGMP lgmp/src/headers.h lays out struct LGMPHeader: offsets of the
 * magic, version, session, timestamp, queue count, udata size and udata. Written from
 * the sources (and checked with offsetof on them), not from the code under test. */
struct hdr_layout {
	const char *name;
	uint32_t version;
	size_t magic, version_at, session, timestamp, queues, udata_size, udata;
};
static const struct hdr_layout B7 = { "b7", 6, 0, 4, 8, 16, 24, 5752, 5756 };
static const struct hdr_layout LGMP7 = { "lgmp7", 7, 0, 4, 8, 16, 12, 5744, 5748 };
static const struct hdr_layout LGMP8 = { "lgmp8", 8, 0, 4, 8, 16, 12, 7784, 7788 };
static const struct hdr_layout LGMP9 = { "lgmp9", 9, 8, 12, 16, 0, 20, 8064, 8068 };
static const struct hdr_layout LGMP10 = { "lgmp10", 10, 8064, 8068, 8072, 0, 8076, 8080, 8084 };

#define KVMFR_LEN 48

static void kvmfr(unsigned char *p, uint32_t version, const char *hostver, uint32_t features)
{
	memcpy(p, "KVMFR---", 8);
	put32(p + 8, version);
	memcpy(p + 12, hostver, strlen(hostver) < 32 ? strlen(hostver) : 32);
	put32(p + 44, features);
}

/* A header of layout l with a KVMFR record as its whole udata; returns where it ends. */
static size_t write_header(unsigned char *m, const struct hdr_layout *l, uint32_t session, uint64_t ts,
			   const char *hostver, uint32_t features)
{
	put32(m + l->magic, 0x504d474c);
	put32(m + l->version_at, l->version);
	put32(m + l->session, session);
	put64(m + l->timestamp, ts);
	put32(m + l->queues, 2);
	put32(m + l->udata_size, KVMFR_LEN);
	kvmfr(m + l->udata, l->version >= 10 ? 34 : 20, hostver, features);
	return l->udata + KVMFR_LEN;
}

#define BUFSZ (64 * 1024)

static void test_probe_layouts(void **state)
{
	const struct hdr_layout *rows[] = { &B7, &LGMP7, &LGMP8, &LGMP9, &LGMP10 };

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct hdr_layout *l = rows[i];
		unsigned char *m = calloc(1, BUFSZ);
		struct nr_lg_snapshot s;

		write_header(m, l, 0xdeadbeef, 0x0102030405060708ull, "B7-412-g8cb6a687", 0x1f);
		nr_lg_probe(m, BUFSZ, 32u << 20, &s);
		assert_int_equal(s.kind, NR_LG_SHM_HEADER);
		assert_string_equal(s.layout, l->name);
		assert_int_equal(s.header_offset, l->magic);
		assert_int_equal(s.version, l->version);
		assert_int_equal(s.session_id, 0xdeadbeef);
		assert_true(s.timestamp_ms == 0x0102030405060708ull);
		assert_int_equal(s.num_queues, 2);
		assert_int_equal(s.udata_offset, l->udata);
		assert_int_equal(s.udata_size, KVMFR_LEN);
		assert_true(s.kvmfr);
		assert_int_equal(s.kvmfr_version, l->version >= 10 ? 34 : 20);
		assert_string_equal(s.host_version, "B7-412-g8cb6a687");
		assert_int_equal(s.features, 0x1f);
		assert_true(s.size == 32u << 20);
		free(m);
	}
}

/* Whether Looking Glass carries the clipboard, so that agent sync stands back: a KVMFR
 * record with the clipboard feature (0x10, KVMFR_FEATURE_CLIPBOARD in KVMFR.h) in any
 * layout; a B7 host (no feature flags for it) only when the client has SPICE. */
static void test_carries_clipboard(void **state)
{
	static const struct {
		const struct hdr_layout *l;
		uint32_t features;
		bool spice, carries;
		const char *why;
	} rows[] = {
		{ &LGMP10, 0x1f, false, true, "KVMFR feature clipboard" },
		{ &LGMP10, 0x0f, true, false, NULL },
		{ &LGMP9, 0x10, false, true, "KVMFR feature clipboard" },
		{ &B7, 0x1, false, false, NULL },
		{ &B7, 0x1, true, true, "SPICE" },
		{ &LGMP8, 0x1, true, false, NULL },
	};
	char path[4096], why[512];

	snprintf(path, sizeof(path), "%s/shm", tmpdir);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		unsigned char *m = calloc(1, BUFSZ);
		write_header(m, rows[i].l, 7, 1000, "B7-rc1", rows[i].features);
		write_file(path, m, BUFSZ);
		why[0] = '\0';
		print_message("%s features %#x spice %d\n", rows[i].l->name, rows[i].features, rows[i].spice);
		assert_int_equal(nr_lg_carries_clipboard(path, rows[i].spice, why, sizeof(why)), rows[i].carries);
		if (rows[i].why)
			assert_non_null(strstr(why, rows[i].why));
		free(m);
	}
	/* no file, an empty one, zeros: nothing carries it */
	assert_false(nr_lg_carries_clipboard(NULL, true, why, sizeof(why)));
	snprintf(path, sizeof(path), "%s/none", tmpdir);
	assert_false(nr_lg_carries_clipboard(path, true, why, sizeof(why)));
	snprintf(path, sizeof(path), "%s/zeros", tmpdir);
	unsigned char *z = calloc(1, BUFSZ);
	write_file(path, z, BUFSZ);
	free(z);
	assert_false(nr_lg_carries_clipboard(path, true, why, sizeof(why)));
}

static void test_probe_lgmp10_sixth_queue(void **state)
{
	unsigned char *m = calloc(1, BUFSZ);
	struct nr_lg_snapshot s;
	struct hdr_layout six = LGMP10;

	/* one more 1600-byte queue header moves every field after the queues */
	six.magic += 1600, six.version_at += 1600, six.session += 1600, six.queues += 1600;
	six.udata_size += 1600, six.udata += 1600;
	six.version = 11;
	write_header(m, &six, 5, 77, "B8", NR_LG_FEATURE_CLIPBOARD);
	nr_lg_probe(m, BUFSZ, BUFSZ, &s);
	assert_int_equal(s.kind, NR_LG_SHM_HEADER);
	assert_string_equal(s.layout, "lgmp10");
	assert_int_equal(s.header_offset, 8064 + 1600);
	assert_int_equal(s.version, 11);
	assert_int_equal(s.timestamp_ms, 77);
	assert_true(s.kvmfr);
	assert_int_equal(s.features, NR_LG_FEATURE_CLIPBOARD);
	free(m);
}

static void test_probe_kvmfr(void **state)
{
	unsigned char *m = calloc(1, BUFSZ);
	struct nr_lg_snapshot s;
	char text[128];

	/* no KVMFR record in the udata (the host app has not written it yet) */
	write_header(m, &LGMP10, 1, 1, "B7", 0);
	memset(m + LGMP10.udata, 0, KVMFR_LEN);
	nr_lg_probe(m, BUFSZ, BUFSZ, &s);
	assert_int_equal(s.kind, NR_LG_SHM_HEADER);
	assert_false(s.kvmfr);
	assert_non_null(strstr(s.kvmfr_detail, "no KVMFR record"));
	assert_string_equal(s.host_version, "");

	/* a record outside the udata is not read: the udata is 10 bytes */
	write_header(m, &B7, 1, 1, "B7", 0);
	put32(m + B7.udata_size, 10);
	nr_lg_probe(m, BUFSZ, BUFSZ, &s);
	assert_false(s.kvmfr);

	/* a udata size that lies (larger than the memory) */
	put32(m + B7.udata_size, 0xfffffff0u);
	nr_lg_probe(m, BUFSZ, 32u << 20, &s);
	assert_int_equal(s.kind, NR_LG_SHM_HEADER);
	assert_false(s.kvmfr);
	assert_non_null(strstr(s.kvmfr_detail, "larger than the shared memory"));

	/* the record found further into a larger udata */
	memset(m + B7.udata, 0, KVMFR_LEN);
	put32(m + B7.udata_size, 1024);
	kvmfr(m + B7.udata + 100, 20, "B7", 0x1);
	nr_lg_probe(m, BUFSZ, BUFSZ, &s);
	assert_true(s.kvmfr);
	assert_int_equal(s.features, NR_LG_FEATURE_SETCURSORPOS);

	/* a host version with control characters and no NUL in its 32 bytes */
	kvmfr(m + B7.udata + 100, 20, "B7\x1b[2J\x07-0123456789abcdefghijklmnopq", 0);
	nr_lg_probe(m, BUFSZ, BUFSZ, &s);
	assert_true(s.kvmfr);
	assert_int_equal(strlen(s.host_version), 32);
	assert_null(strchr(s.host_version, '\x1b'));
	assert_memory_equal(s.host_version, "B7?[2J?-", 8);

	nr_lg_features_text(0x1f, text, sizeof(text));
	assert_string_equal(text, "clipboard, window size, input, frame schedule, cursor position");
	nr_lg_features_text(0, text, sizeof(text));
	assert_string_equal(text, "none");
	nr_lg_features_text(NR_LG_FEATURE_INPUT | 0x100, text, sizeof(text));
	assert_string_equal(text, "input, 0x100");
	free(m);
}

static void test_probe_unknown(void **state)
{
	unsigned char *m = calloc(1, BUFSZ);
	struct nr_lg_snapshot s;

	/* LGMP at 0 with a version no layout puts there */
	write_header(m, &B7, 5, 5, "B7", 0);
	put32(m + 4, 99);
	nr_lg_probe(m, BUFSZ, BUFSZ, &s);
	assert_int_equal(s.kind, NR_LG_SHM_UNKNOWN);
	assert_int_equal(s.version, 99);
	assert_int_equal(s.session_id, 0);   /* not read */
	assert_int_equal(s.timestamp_ms, 0);
	assert_null(s.layout);
	assert_non_null(s.detail);

	/* LGMP after the queues with a version before 10: never read as LGMP 10 */
	memset(m, 0, BUFSZ);
	write_header(m, &LGMP10, 5, 5, "B7", 0);
	put32(m + LGMP10.version_at, 6);
	nr_lg_probe(m, BUFSZ, BUFSZ, &s);
	assert_int_equal(s.kind, NR_LG_SHM_UNKNOWN);
	assert_int_equal(s.version, 6);

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

/* Every length a header of both layouts can be cut at: truncated inside the header,
 * a header without its KVMFR record inside the udata, the whole record after it. */
static void test_probe_every_truncation(void **state)
{
	const struct hdr_layout *rows[] = { &B7, &LGMP10 };

	for (size_t i = 0; i < 2; i++) {
		const struct hdr_layout *l = rows[i];
		unsigned char *full = calloc(1, BUFSZ);
		size_t end = write_header(full, l, 9, 1234, "B7", 0x3);

		for (size_t len = 0; len <= end; len++) {
			/* a copy of exactly len bytes, so a read past it is caught by ASan */
			unsigned char *m = malloc(len ? len : 1);
			struct nr_lg_snapshot s;

			memcpy(m, full, len);
			nr_lg_probe(m, len, len, &s);
			if (len == 0) {
				assert_int_equal(s.kind, NR_LG_SHM_EMPTY);
			} else if (len < l->udata) {
				if (s.kind != NR_LG_SHM_TRUNCATED)
					fail_msg("%s cut at %zu: kind %d", l->name, len, s.kind);
				assert_null(s.layout);
			} else if (len < end) {
				assert_int_equal(s.kind, NR_LG_SHM_HEADER);
				assert_false(s.kvmfr);
				assert_non_null(s.kvmfr_detail);
			} else {
				assert_int_equal(s.kind, NR_LG_SHM_HEADER);
				assert_true(s.kvmfr);
				assert_int_equal(s.features, 0x3);
			}
			free(m);
		}
		free(full);
	}
}

static void test_probe_empty(void **state)
{
	unsigned char m[64] = { 0 };
	struct nr_lg_snapshot s;

	nr_lg_probe(m, 0, 0, &s);
	assert_int_equal(s.kind, NR_LG_SHM_EMPTY);
	nr_lg_probe(m, sizeof(m), sizeof(m), &s);
	assert_int_equal(s.kind, NR_LG_SHM_EMPTY);
	/* fewer bytes than the magic */
	m[0] = 0x4c, m[1] = 0x47;
	nr_lg_probe(m, 2, 2, &s);
	assert_int_equal(s.kind, NR_LG_SHM_TRUNCATED);
	/* len beyond total is clamped: what lies past the end is not read */
	put32(m, 0x504d474c);
	put32(m + 4, 6);
	nr_lg_probe(m, sizeof(m), 6, &s);
	assert_int_equal(s.kind, NR_LG_SHM_TRUNCATED);
}

/* A file truncated and rewritten while it is read: never a SIGBUS (the read copies
 * through pread; reading it through a map faults here), and a header it reports is the
 * one written. */
static void test_read_while_truncated(void **state)
{
	unsigned char *m = calloc(1, BUFSZ);
	const char *path = unit_path(tmpdir, "shrinking");
	size_t end = write_header(m, &LGMP10, 1, 1, "B7", 0);
	pid_t child;
	int status;

	write_file(path, m, BUFSZ);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int fd = open(path, O_RDWR);

		for (int i = 0; i < 3000 && fd >= 0; i++) {
			if (ftruncate(fd, (off_t)(i % 2 ? end / 2 : 0)) < 0 ||
			    pwrite(fd, m, i % 2 ? end / 2 : BUFSZ, 0) < 0)
				break;
		}
		_exit(0);
	}
	for (int i = 0; i < 3000; i++) {
		struct nr_lg_snapshot s;
		struct nr_error err = { 0 };

		assert_int_equal(nr_lg_read(path, &s, &err), 0);
		/* a read torn by the writer may see any mix (even no known header); what
		 * matters is that it returns, and that a header it names is the file's */
		if (s.kind == NR_LG_SHM_HEADER)
			assert_string_equal(s.layout, "lgmp10");
		if (s.kind == NR_LG_SHM_HEADER && s.kvmfr)
			assert_string_equal(s.host_version, "B7");
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	free(m);
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

	write_header(m, &B7, 42, 1000, "B7", 0);
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

/* ---- kvmfr checks on fake roots and sysroots ------------------------------------------ */

static struct nr_lg_finding *finding(struct nr_lg_finding *f, const char *name)
{
	for (size_t i = 0; i < NR_LG_KVMFR_CHECKS; i++)
		if (strcmp(f[i].name, name) == 0)
			return &f[i];
	fail_msg("no finding %s", name);
	return NULL;
}

static void test_kvmfr_checks(void **state)
{
	char *top = unit_tmpdir("kvmfr", false);
	const char *sys = unit_path(top, "sys"), *root = unit_path(top, "root");
	struct nr_ctx *ctx = nr_ctx_new();
	struct nr_lg_finding f[NR_LG_KVMFR_CHECKS];
	char sysbuf[256], rootbuf[256];

	snprintf(sysbuf, sizeof(sysbuf), "%s", sys);
	snprintf(rootbuf, sizeof(rootbuf), "%s", root);
	assert_int_equal(nr_mkdir_p(unit_path(sysbuf, "dev"), 0755, NULL), 0);
	assert_int_equal(nr_mkdir_p(unit_path(rootbuf, "etc"), 0755, NULL), 0);
	nr_ctx_set(ctx, "sysroot", sysbuf, NULL);
	nr_ctx_set(ctx, "root", rootbuf, NULL);

	/* nothing set up: every check fails with its fix (AppArmor off: passes) */
	assert_false(nr_lg_kvmfr_in_use(ctx));
	assert_int_equal(nr_lg_kvmfr_check(ctx, "/dev/kvmfr0", 64, f), NR_LG_KVMFR_CHECKS);
	assert_int_equal(finding(f, "kvmfr_device")->status, NR_LG_FINDING_FAIL);
	assert_non_null(strstr(finding(f, "kvmfr_device")->fix, "modprobe kvmfr static_size_mb=64"));
	assert_int_equal(finding(f, "kvmfr_size")->status, NR_LG_FINDING_FAIL);
	assert_int_equal(finding(f, "kvmfr_udev")->status, NR_LG_FINDING_FAIL);
	assert_int_equal(finding(f, "kvmfr_acl")->status, NR_LG_FINDING_WARN);   /* no libvirt */
	assert_int_equal(finding(f, "kvmfr_apparmor")->status, NR_LG_FINDING_PASS);

	/* a regular file where the device should be: a VM made it before the module */
	unit_put(unit_path(sysbuf, "dev/kvmfr0"), "", 0644);
	nr_lg_kvmfr_check(ctx, "/dev/kvmfr0", 64, f);
	assert_int_equal(finding(f, "kvmfr_device")->status, NR_LG_FINDING_FAIL);
	assert_non_null(strstr(finding(f, "kvmfr_device")->detail, "regular file"));
	assert_non_null(strstr(finding(f, "kvmfr_device")->fix, "rm /dev/kvmfr0"));
	assert_true(nr_lg_kvmfr_in_use(ctx));
	/* a character device (a link to one: tests cannot make device nodes; never opened) */
	unlink(unit_path(sysbuf, "dev/kvmfr0"));
	assert_int_equal(symlink("/dev/null", unit_path(sysbuf, "dev/kvmfr0")), 0);
	nr_lg_kvmfr_check(ctx, "/dev/kvmfr0", 64, f);
	assert_int_equal(finding(f, "kvmfr_device")->status, NR_LG_FINDING_PASS);

	/* static_size_mb against the domain's size; a list gives one per device */
	unit_put(unit_path(rootbuf, "etc/modprobe.d/kvmfr.conf"), "# size\noptions kvmfr static_size_mb=32\n", 0644);
	nr_lg_kvmfr_check(ctx, "/dev/kvmfr0", 64, f);
	assert_int_equal(finding(f, "kvmfr_size")->status, NR_LG_FINDING_FAIL);
	assert_non_null(strstr(finding(f, "kvmfr_size")->detail, "static_size_mb=32"));
	assert_non_null(strstr(finding(f, "kvmfr_size")->fix, "static_size_mb=64"));
	nr_lg_kvmfr_check(ctx, "/dev/kvmfr0", 32, f);
	assert_int_equal(finding(f, "kvmfr_size")->status, NR_LG_FINDING_PASS);
	nr_lg_kvmfr_check(ctx, "/dev/kvmfr0", 0, f);   /* not compared */
	assert_int_equal(finding(f, "kvmfr_size")->status, NR_LG_FINDING_PASS);
	unit_put(unit_path(rootbuf, "etc/modprobe.d/kvmfr.conf"), "options kvmfr static_size_mb=32,128\n", 0644);
	nr_lg_kvmfr_check(ctx, "/dev/kvmfr1", 128, f);
	assert_int_equal(finding(f, "kvmfr_size")->status, NR_LG_FINDING_PASS);
	unit_put(unit_path(rootbuf, "etc/modprobe.d/kvmfr.conf"), "#options kvmfr static_size_mb=64\n", 0644);
	nr_lg_kvmfr_check(ctx, "/dev/kvmfr0", 64, f);
	assert_int_equal(finding(f, "kvmfr_size")->status, NR_LG_FINDING_FAIL);

	/* the udev rule: group access without uaccess warns; both pass; no MODE fails */
	unit_put(unit_path(rootbuf, "etc/udev/rules.d/99-kvmfr.rules"),
		 "SUBSYSTEM==\"kvmfr\", OWNER=\"ann\", GROUP=\"kvm\"\n", 0644);
	nr_lg_kvmfr_check(ctx, "/dev/kvmfr0", 0, f);
	assert_int_equal(finding(f, "kvmfr_udev")->status, NR_LG_FINDING_FAIL);
	unit_put(unit_path(rootbuf, "etc/udev/rules.d/99-kvmfr.rules"),
		 "SUBSYSTEM==\"kvmfr\", OWNER=\"ann\", GROUP=\"kvm\", MODE=\"0660\"\n", 0644);
	nr_lg_kvmfr_check(ctx, "/dev/kvmfr0", 0, f);
	assert_int_equal(finding(f, "kvmfr_udev")->status, NR_LG_FINDING_WARN);
	assert_non_null(strstr(finding(f, "kvmfr_udev")->fix, "TAG+=\"uaccess\""));
	unit_put(unit_path(rootbuf, "etc/udev/rules.d/99-kvmfr.rules"),
		 "# SUBSYSTEM==\"kvmfr\", GROUP=\"kvm\", MODE=\"0666\", TAG+=\"uaccess\"\n"
		 "SUBSYSTEM==\"kvmfr\", GROUP=\"kvm\", MODE=\"0660\", TAG+=\"uaccess\"\n", 0644);
	nr_lg_kvmfr_check(ctx, "/dev/kvmfr0", 0, f);
	assert_int_equal(finding(f, "kvmfr_udev")->status, NR_LG_FINDING_PASS);

	/* qemu.conf: the commented default list does not count, an active one does */
	unit_put(unit_path(rootbuf, "etc/libvirt/qemu.conf"),
		 "#cgroup_device_acl = [\n#    \"/dev/null\", \"/dev/kvmfr0\"\n#]\n", 0644);
	nr_lg_kvmfr_check(ctx, "/dev/kvmfr0", 0, f);
	assert_int_equal(finding(f, "kvmfr_acl")->status, NR_LG_FINDING_FAIL);
	assert_non_null(strstr(finding(f, "kvmfr_acl")->fix, "cgroup_device_acl"));
	unit_put(unit_path(rootbuf, "etc/libvirt/qemu.conf"),
		 "cgroup_device_acl = [\n    \"/dev/null\", \"/dev/kvmfr0\"\n]\n", 0644);
	nr_lg_kvmfr_check(ctx, "/dev/kvmfr0", 0, f);
	assert_int_equal(finding(f, "kvmfr_acl")->status, NR_LG_FINDING_PASS);

	/* AppArmor on: the local abstraction must allow the device */
	unit_put(unit_path(sysbuf, "sys/module/apparmor/parameters/enabled"), "Y\n", 0644);
	nr_lg_kvmfr_check(ctx, "/dev/kvmfr0", 0, f);
	assert_int_equal(finding(f, "kvmfr_apparmor")->status, NR_LG_FINDING_FAIL);
	assert_non_null(strstr(finding(f, "kvmfr_apparmor")->fix, "/dev/kvmfr0 rw,"));
	unit_put(unit_path(rootbuf, "etc/apparmor.d/local/abstractions/libvirt-qemu"), "/dev/kvmfr0 rw,\n", 0644);
	nr_lg_kvmfr_check(ctx, "/dev/kvmfr0", 0, f);
	assert_int_equal(finding(f, "kvmfr_apparmor")->status, NR_LG_FINDING_PASS);
	unit_put(unit_path(sysbuf, "sys/module/apparmor/parameters/enabled"), "N\n", 0644);
	assert_false(nr_lg_apparmor_on(ctx));

	/* in the checklist: a VM on kvmfr1 of 64 MiB where modprobe.d gives it 128 */
	{
		struct nr_check c;
		bool size_item = false;

		memset(&c, 0, sizeof(c));
		nr_ctx_set(ctx, "run.standins", unit_path(top, "no-standins"), NULL); /* no client */
		unit_put(unit_path(rootbuf, "etc/modprobe.d/kvmfr.conf"), "options kvmfr static_size_mb=32,128\n", 0644);
		nr_lg_check_add(ctx, "/dev/kvmfr1", 64, &c);
		for (size_t i = 0; i < c.n_items; i++) {
			assert_int_not_equal(c.items[i].id, NR_CHECK_lg_versions);
			if (c.items[i].id == NR_CHECK_kvmfr_size) {
				size_item = true;
				assert_int_equal(c.items[i].status, NR_CHECK_FAIL);
				assert_non_null(strstr(c.items[i].detail, "static_size_mb=128"));
			}
		}
		assert_true(size_item);
		assert_true(c.blocked);
	}

	nr_ctx_free(ctx);
	unit_rmtree_free(&top);
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

/* A stop request that reaches another thread of the process (libvirt's and GLib's threads
 * do not block signals: the kernel gives a process-wide SIGTERM to any of them): the
 * supervisor still hears it and stops its client, and the process is not killed. */
struct stopper {
	struct nr_ctx *ctx;
	long client;
};

static void *stop_from_another_thread(void *arg)
{
	struct stopper *s = arg;
	struct nr_error err = { 0 };

	for (int i = 0; i < 2000 && !s->client; i++) {
		struct nr_lg_sup_info info;

		if (nr_lg_client_info(s->ctx, "win11", &info, &err) == 0) {
			if (info.state == NR_LG_SUP_RUNNING && info.client_pid > 0)
				s->client = info.client_pid;
			nr_lg_sup_info_done(&info);
		}
		nr_error_clear(&err);
		if (!s->client)
			nr_sleep_ms(10);
	}
	raise(SIGTERM); /* to this thread, as the kernel may choose */
	return NULL;
}

static void test_supervise_stop_in_another_thread(void **state)
{
	struct nr_ctx *ctx = client_ctx();
	struct nr_lg_client_opts o = { .vm = "win11", .shm_path = "/dev/shm/looking-glass" };
	struct stopper s = { .ctx = ctx };
	struct nr_lg_sup_info info;
	struct nr_error err = { 0 };
	pthread_t t;

	unlink(unit_path(tmpdir, "modes")); /* the client stays up, ignoring SIGTERM */
	nr_ctx_set(ctx, "lg.stop_ms", "200", NULL);
	assert_int_equal(pthread_create(&t, NULL, stop_from_another_thread, &s), 0);
	assert_int_equal(nr_lg_supervise(ctx, &o, &err), 0);
	pthread_join(t, NULL);
	assert_true(s.client > 0);
	/* the client was ended (SIGKILL after stop_ms) and the supervisor says so */
	assert_int_equal(kill((pid_t)s.client, 0), -1);
	assert_int_equal(nr_lg_client_info(ctx, "win11", &info, &err), 0);
	assert_int_equal(info.state, NR_LG_SUP_NOT_RUNNING);
	nr_lg_sup_info_done(&info);
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
		cmocka_unit_test(test_stack_names_and_versions),
		cmocka_unit_test(test_probe_layouts),
		cmocka_unit_test(test_probe_lgmp10_sixth_queue),
		cmocka_unit_test(test_carries_clipboard),
		cmocka_unit_test(test_probe_kvmfr),
		cmocka_unit_test(test_probe_unknown),
		cmocka_unit_test(test_probe_every_truncation),
		cmocka_unit_test(test_probe_empty),
		cmocka_unit_test(test_read_while_truncated),
		cmocka_unit_test(test_status_files),
		cmocka_unit_test(test_kvmfr_checks),
		cmocka_unit_test(test_shm_from_xml),
		cmocka_unit_test(test_vm_shm_libvirt),
		cmocka_unit_test(test_panel_and_status_agree),
		cmocka_unit_test(test_access),
		cmocka_unit_test(test_argv_and_find),
		cmocka_unit_test(test_graphical_session),
		cmocka_unit_test(test_supervise_restarts),
		cmocka_unit_test(test_supervise_gives_up),
		cmocka_unit_test(test_supervise_stop_in_another_thread),
		cmocka_unit_test(test_stale_pid_file),
		cmocka_unit_test(test_session_memory),
	};

	return cmocka_run_group_tests(tests, make_tmp, rm_tmp);
}
