/* Is the guest's Looking Glass host application running? Read from the shared memory.
 *
 * The shared memory starts with an LGMP header written by the host application inside
 * the guest; the header's user data (udata) holds a KVMFR record naming the host's
 * version and features. The header moved between LGMP protocol versions, so it is
 * found by probing, each layout a row of the table below that is taken only when its
 * magic and version check out; anything else is an unknown layout and never read as
 * if it were a known one.
 *
 * Supported LGMP protocol versions, learned from gnif/LGMP lgmp/src/headers.h
 * (struct LGMPHeader, LGMP_PROTOCOL_VERSION) at the commits named, little-endian,
 * offsets from the start of the shared memory:
 *   b7      LGMP 6 (up to de89c63, 2025-03-05; Looking Glass B7): magic @0, version @4,
 *           session id @8, timestamp (u64 ms) @16, queue count @24, five queues,
 *           udata size @5752, udata @5756.
 *   lgmp7   LGMP 7 (f60a63d, 2025-03-09): magic @0, version @4, session @8, queue
 *           count @12, timestamp @16, udata size @5744, udata @5748.
 *   lgmp8   LGMP 8 (a870150, 2025-08-29): as lgmp7 with larger queues: udata size @7784,
 *           udata @7788.
 *   lgmp9   LGMP 9 (0f0d4d6, 2025-08-30) and the first LGMP 10 (7b08ed2, 4701ab2): the
 *           timestamp first in a 64-byte line @0, magic @8, version @12, session @16,
 *           queue count @20, queues from @64, udata size @8064, udata @8068.
 *   lgmp10  LGMP 10 from c71a143 (2025-08-30) on, what Looking Glass master uses: the
 *           timestamp alone in the 64-byte line @0, the 64-byte aligned queue headers,
 *           then magic, version, session, queue count, udata size, udata. With five
 *           queues the magic is @8064; it is searched for on 64-byte steps after the
 *           first line, so a sixth queue (Looking Glass master, 2026-08) moves it
 *           without a new row. Any version >= 10 in that place is read this way.
 * The KVMFR record (Looking Glass common/include/common/KVMFR.h, the same shape from
 * B7's KVMFR_VERSION 20 to master's 34): "KVMFR---" @0, version u32 @8, host version
 * string char[32] @12, feature flags u32 @44; found by its magic inside the udata. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/internal.h"
#include "neuron/lg.h"

#define LGMP_MAGIC      0x504d474cu   /* "LGMP" little-endian */
#define LGMP_LINE       64            /* the cache line the LGMP 9+ headers align to */
#define KVMFR_MAGIC     "KVMFR---"
#define KVMFR_HOSTVER   32
#define KVMFR_RECORD    48            /* magic, version, host version, features */
#define PROBE_WINDOW    (64 * 1024)

/* A layout: fields relative to the magic, except the timestamp (from the start). */
static const struct lg_layout {
	const char *name;
	uint32_t min_version, max_version;
	bool search;                /* the magic is searched after the first line */
	unsigned magic_at;          /* when not searched */
	unsigned timestamp_at;
	unsigned version_at, session_at, queues_at, udata_size_at, udata_at;
} layouts[] = {
	{ "b7",     6,  6,          false, 0, 16, 4, 8, 24, 5752, 5756 },
	{ "lgmp7",  7,  7,          false, 0, 16, 4, 8, 12, 5744, 5748 },
	{ "lgmp8",  8,  8,          false, 0, 16, 4, 8, 12, 7784, 7788 },
	{ "lgmp9",  9,  10,         false, 8, 0,  4, 8, 12, 8056, 8060 },
	{ "lgmp10", 10, UINT32_MAX, true,  0, 0,  4, 8, 12, 16,   20 },
};
#define NLAYOUTS (sizeof(layouts) / sizeof(layouts[0]))
/* Where the udata of an LGMP 10 header with five queues starts, the latest a header
 * of any row ends: memory shorter than this that holds no magic and is not all zero
 * is a cut header (the magic of LGMP 10 comes after the queues). */
#define MIN_HEADER 8084

size_t nr_lg_probe_window(void)
{
	return PROBE_WINDOW;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* The KVMFR record, looked for inside the udata only (what of it lies in the copy). */
static void find_kvmfr(const unsigned char *m, size_t len, struct nr_lg_snapshot *out)
{
	uint64_t from = out->udata_offset, end = from + out->udata_size;
	char ver[KVMFR_HOSTVER + 1];

	if (end > out->size) {
		out->kvmfr_detail = "the header says its user data is larger than the shared memory "
				    "after it: the size is wrong, so the KVMFR record is not read";
		return;
	}
	if (end > len)
		end = len;
	for (uint64_t i = from; i + KVMFR_RECORD <= end; i++) {
		const unsigned char *k = m + i;
		size_t n = 0;

		if (memcmp(k, KVMFR_MAGIC, 8) != 0)
			continue;
		out->kvmfr = true;
		out->kvmfr_version = le32(k + 8);
		while (n < KVMFR_HOSTVER && k[12 + n])
			n++;
		memcpy(ver, k + 12, n);
		ver[n] = '\0';
		nr_text_sanitize(out->host_version, sizeof(out->host_version), ver, true);
		out->features = le32(k + 12 + KVMFR_HOSTVER);
		return;
	}
	out->kvmfr_detail = "no KVMFR record in the header's user data: the host application "
			    "has not written it yet, or it is not Looking Glass";
}

static bool all_zero(const unsigned char *m, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (m[i])
			return false;
	return true;
}

static void truncated(struct nr_lg_snapshot *out, const char *why)
{
	out->kind = NR_LG_SHM_TRUNCATED;
	out->layout = NULL;
	out->detail = why;
}

/* The magic of l is at off (version checked): read the rest, or say where it ends. */
static void read_layout(const unsigned char *m, size_t len, const struct lg_layout *l, uint64_t off,
			struct nr_lg_snapshot *out)
{
	if (off + l->udata_at > len || l->timestamp_at + 8 > len) {
		truncated(out, "an LGMP header starts but the shared memory ends inside it");
		return;
	}
	out->kind = NR_LG_SHM_HEADER;
	out->layout = l->name;
	out->header_offset = off;
	out->session_id = le32(m + off + l->session_at);
	out->num_queues = le32(m + off + l->queues_at);
	out->timestamp_ms = le64(m + l->timestamp_at);
	out->udata_size = le32(m + off + l->udata_size_at);
	out->udata_offset = off + l->udata_at;
	find_kvmfr(m, len, out);
}

/* Is the LGMP magic at off, and which version? 1: yes, 0: no, -1: cut inside. */
static int magic_at(const unsigned char *m, size_t len, uint64_t off, const struct lg_layout *l,
		    struct nr_lg_snapshot *out)
{
	if (off + 4 > len || le32(m + off) != LGMP_MAGIC)
		return 0;
	if (off + l->version_at + 4 > len)
		return -1;
	out->version = le32(m + off + l->version_at);
	out->have_version = true;
	out->header_offset = off;
	return 1;
}

void nr_lg_probe(const void *mem, size_t len, uint64_t total, struct nr_lg_snapshot *out)
{
	const unsigned char *m = mem;

	memset(out, 0, sizeof(*out));
	out->size = total;
	if (len > total)
		len = (size_t)total;
	if (total == 0) {
		out->kind = NR_LG_SHM_EMPTY;
		out->detail = "zero bytes long";
		return;
	}
	for (size_t i = 0; i < NLAYOUTS; i++) {
		const struct lg_layout *l = &layouts[i];
		uint64_t off = l->search ? LGMP_LINE : l->magic_at;

		for (; off + 4 <= len; off += LGMP_LINE) {
			int found = magic_at(m, len, off, l, out);

			if (found < 0) {
				truncated(out, "an LGMP header starts but the shared memory ends inside it");
				return;
			}
			if (found && out->version >= l->min_version && out->version <= l->max_version) {
				read_layout(m, len, l, off, out);
				return;
			}
			if (!l->search)
				break;
		}
	}
	if (out->have_version) {
		out->kind = NR_LG_SHM_UNKNOWN;
		out->detail = "an LGMP header with a protocol version this program does not know "
			      "at that place; its fields are not read";
		return;
	}
	if (all_zero(m, len)) {
		out->kind = NR_LG_SHM_EMPTY;
		out->detail = "only zero bytes: no header has been written";
		return;
	}
	if (total < MIN_HEADER) {
		truncated(out, "the shared memory is shorter than any Looking Glass header");
		return;
	}
	out->kind = NR_LG_SHM_UNKNOWN;
	out->detail = "no known Looking Glass header (LGMP 6 to 9 at the start, LGMP 10 or later "
		      "after the queue headers)";
}

/* Read up to len bytes from the start of a regular file into buf; a file that shrank
 * since it was measured gives fewer bytes (*got), never a fault. */
static int read_copy(int fd, unsigned char *buf, size_t len, size_t *got)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = pread(fd, buf + off, len - off, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		off += (size_t)n;
	}
	*got = off;
	return 0;
}

int nr_lg_read(const char *path, struct nr_lg_snapshot *out, struct nr_error *err)
{
	struct stat st;
	uint64_t total;
	size_t len, got = 0;
	unsigned char *copy;
	int fd, rc;

	/* never blocks: a FIFO (or a socket) where the shared memory should be is refused */
	fd = nr_open_kind(AT_FDCWD, path, O_RDONLY, NR_OPEN_FILE | NR_OPEN_DEVICE, path, &st, err);
	if (fd < 0) {
		if (fd == -NR_E_NOTFOUND)
			return nr_error_set(err, -NR_E_NOTFOUND,
					    "%s does not exist: is the VM running, and does it have a "
					    "Looking Glass shared memory device?", path);
		if (fd == -NR_E_NOTFILE && err)
			err->code = -NR_E_INVAL;        /* neither a file nor a device, as always */
		return fd == -NR_E_NOTFILE ? -NR_E_INVAL : fd;
	}
	if (S_ISREG(st.st_mode)) {
		total = (uint64_t)st.st_size;
	} else if (S_ISCHR(st.st_mode)) { /* /dev/kvmfr0 */
		off_t end = lseek(fd, 0, SEEK_END);
		total = end > 0 ? (uint64_t)end : PROBE_WINDOW;
	} else {
		close(fd);
		return nr_error_set(err, -NR_E_INVAL, "%s is neither a file nor a device", path);
	}
	len = total < PROBE_WINDOW ? (size_t)total : PROBE_WINDOW;
	if (len == 0) {
		close(fd);
		nr_lg_probe("", 0, 0, out);
		return 0;
	}
	/* Probe a copy: the guest writes while we look. */
	copy = malloc(len);
	if (!copy) {
		close(fd);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	if (S_ISREG(st.st_mode)) {
		/* pread, not a map: a file truncated under a map faults (SIGBUS) on access */
		rc = read_copy(fd, copy, len, &got);
		if (rc == 0 && got < len)
			total = got;    /* it shrank while we read: what is there is all there is */
	} else {
		/* the kvmfr device has no read(), only mmap, and its size is fixed at load */
		void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);

		rc = map == MAP_FAILED ? -errno : 0;
		if (rc == 0) {
			memcpy(copy, map, len);
			munmap(map, len);
		}
		got = len;
	}
	close(fd);
	if (rc < 0) {
		free(copy);
		return nr_error_set(err, -NR_E_IO, "cannot read %s: %s", path, strerror(-rc));
	}
	nr_lg_probe(copy, got, total, out);
	free(copy);
	return 0;
}

void nr_lg_features_text(uint32_t features, char *buf, size_t size)
{
	static const struct {
		uint32_t bit;
		const char *words;
	} names[] = {
		{ NR_LG_FEATURE_CLIPBOARD, "clipboard" },
		{ NR_LG_FEATURE_WINDOWSIZE, "window size" },
		{ NR_LG_FEATURE_INPUT, "input" },
		{ NR_LG_FEATURE_FRAME_SCHEDULE, "frame schedule" },
		{ NR_LG_FEATURE_SETCURSORPOS, "cursor position" },
	};
	uint32_t rest = features;
	size_t at = 0;

	if (!size)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(features & names[i].bit))
			continue;
		rest &= ~names[i].bit;
		at += (size_t)snprintf(buf + at, at < size ? size - at : 0, "%s%s", at ? ", " : "",
				       names[i].words);
	}
	if (rest)
		at += (size_t)snprintf(buf + at, at < size ? size - at : 0, "%s0x%x", at ? ", " : "", rest);
	if (!at)
		snprintf(buf, size, "none");
}

static enum nr_lg_host_state state_of(const struct nr_lg_snapshot *s)
{
	switch (s->kind) {
	case NR_LG_SHM_EMPTY:
		return NR_LG_HOST_NONE;
	case NR_LG_SHM_HEADER:
		return NR_LG_HOST_STALE; /* until the timestamp is seen to move */
	default:
		return NR_LG_HOST_UNKNOWN;
	}
}

int nr_lg_status_read(const char *path, const struct nr_lg_watch *w, struct nr_lg_status *out,
		      struct nr_error *err)
{
	unsigned interval = w && w->interval_ms ? w->interval_ms : 200;
	unsigned stale = w && w->stale_ms ? w->stale_ms : 1000;
	uint64_t t0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = nr_lg_read(path, &out->first, err);
	if (rc < 0)
		return rc;
	out->last = out->first;
	out->host = state_of(&out->first);
	if (out->first.kind != NR_LG_SHM_HEADER)
		return 0;
	t0 = (uint64_t)nr_now_ms();
	for (;;) {
		struct nr_lg_snapshot s;

		nr_sleep_ms(interval);
		rc = nr_lg_read(path, &s, err);
		if (rc < 0)
			return rc;
		out->watched_ms = (unsigned)((uint64_t)nr_now_ms() - t0);
		out->last = s;
		if (s.kind != NR_LG_SHM_HEADER || s.layout != out->first.layout) {
			/* The memory changed under us (VM reset, guest rewrote it). */
			out->host = state_of(&s);
			if (s.kind == NR_LG_SHM_HEADER)
				out->host = NR_LG_HOST_UNKNOWN;
			return 0;
		}
		if (s.session_id != out->first.session_id) {
			out->session_changed = true;
			out->host = NR_LG_HOST_ALIVE;
			return 0;
		}
		if (s.timestamp_ms != out->first.timestamp_ms) {
			out->host = NR_LG_HOST_ALIVE;
			return 0;
		}
		if (out->watched_ms > stale) {
			out->host = NR_LG_HOST_STALE;
			return 0;
		}
	}
}

const char *nr_lg_shm_kind_name(enum nr_lg_shm_kind k)
{
	switch (k) {
	case NR_LG_SHM_EMPTY: return "empty";
	case NR_LG_SHM_TRUNCATED: return "truncated";
	case NR_LG_SHM_UNKNOWN: return "unknown";
	case NR_LG_SHM_HEADER: return "header";
	}
	return "unknown";
}

const char *nr_lg_host_state_name(enum nr_lg_host_state s)
{
	switch (s) {
	case NR_LG_HOST_NONE: return "none";
	case NR_LG_HOST_ALIVE: return "alive";
	case NR_LG_HOST_STALE: return "stale";
	case NR_LG_HOST_UNKNOWN: return "unknown";
	}
	return "unknown";
}

char *nr_lg_status_sentence(const struct nr_lg_status *st)
{
	struct nr_buf b;

	nr_buf_init(&b);
	switch (st->host) {
	case NR_LG_HOST_NONE:
		nr_buf_puts(&b, "No Looking Glass header: the host application has not run in the guest "
				"since the shared memory was made (or the VM is off).");
		break;
	case NR_LG_HOST_ALIVE:
		nr_buf_puts(&b, "The host application is running in the guest");
		if (st->session_changed)
			nr_buf_puts(&b, "; it restarted while we watched (new session id)");
		nr_buf_puts(&b, ".");
		break;
	case NR_LG_HOST_STALE:
		nr_buf_printf(&b, "The host application is not updating the shared memory (unchanged for "
			      "%u ms): the VM is stopped or paused, or the host application hung or exited.",
			      st->watched_ms);
		break;
	case NR_LG_HOST_UNKNOWN:
		if (st->last.kind == NR_LG_SHM_TRUNCATED)
			nr_buf_printf(&b, "Cannot tell: %s.", st->last.detail);
		else if (st->last.kind == NR_LG_SHM_HEADER)
			nr_buf_puts(&b, "Cannot tell: the header changed layout while we watched.");
		else
			nr_buf_printf(&b, "Cannot tell: unknown layout (%s).", st->last.detail);
		break;
	}
	return nr_buf_steal(&b);
}
