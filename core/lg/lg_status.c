/* Is the guest's Looking Glass host application running? Read from the shared memory.
 *
 * The shared memory starts with an LGMP header written by the host application inside
 * the guest, followed (in the header's user data) by a KVMFR record naming the host's
 * version. Layouts differ between releases, so each known one is a row of a table and
 * is recognised only when every field it claims checks out; anything else is reported
 * as an unknown layout and never read as if it were a known one.
 *
 * Known layouts (fields relative to the header's start, little-endian):
 *   b7     header at offset 0:    "LGMP" magic (0x504d474c) @0, version 6 @4,
 *          session id (u32) @8, timestamp in ms (u64) @16.
 *   newer  header at offset 4096 (the first page left to a leading record), same
 *          fields, version 7 or later. This row is an assumption from "newer releases
 *          move the header" (DESIGN.md); it is one table row, easy to correct.
 * Both: a KVMFR record ("KVMFR---" @0, version u32 @8, host version string of up to
 * 32 bytes @12) somewhere in the first KVMFR_SEARCH bytes after the fixed fields. */
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
#define LGMP_FIXED      24            /* magic, version, session, pad, timestamp */
#define KVMFR_MAGIC     "KVMFR---"
#define KVMFR_HOSTVER   32
#define KVMFR_SEARCH    16384
#define PROBE_WINDOW    (64 * 1024)

static const struct lg_layout {
	const char *name;
	uint64_t offset;            /* of the LGMP header */
	uint32_t min_version, max_version;
	unsigned session_at, timestamp_at;
} layouts[] = {
	{ "b7",    0,    6, 6,          8, 16 },
	{ "newer", 4096, 7, UINT32_MAX, 8, 16 },
};
#define NLAYOUTS (sizeof(layouts) / sizeof(layouts[0]))

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

static void find_kvmfr(const unsigned char *m, size_t len, size_t from, struct nr_lg_snapshot *out)
{
	size_t end = from + KVMFR_SEARCH < len ? from + KVMFR_SEARCH : len;
	char ver[KVMFR_HOSTVER + 1];

	for (size_t i = from; i + 12 <= end; i++) {
		size_t n = 0;

		if (memcmp(m + i, KVMFR_MAGIC, 8) != 0)
			continue;
		out->kvmfr = true;
		out->kvmfr_version = le32(m + i + 8);
		while (n < KVMFR_HOSTVER && i + 12 + n < len && m[i + 12 + n])
			n++;
		memcpy(ver, m + i + 12, n);
		ver[n] = '\0';
		nr_text_sanitize(out->host_version, sizeof(out->host_version), ver, true);
		return;
	}
}

static bool all_zero(const unsigned char *m, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (m[i])
			return false;
	return true;
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
	/* Every place a known layout could put its header, in table order. */
	for (size_t i = 0; i < NLAYOUTS; i++) {
		const struct lg_layout *l = &layouts[i];
		const unsigned char *h;
		uint32_t version;

		if (l->offset + 4 > len || le32(m + l->offset) != LGMP_MAGIC)
			continue;
		h = m + l->offset;
		out->header_offset = l->offset;
		if (l->offset + 8 > len) {
			out->kind = NR_LG_SHM_TRUNCATED;
			out->detail = "an LGMP header starts but the shared memory ends inside it";
			return;
		}
		version = le32(h + 4);
		out->version = version;
		out->have_version = true;
		if (version < l->min_version || version > l->max_version)
			continue; /* another row may place this version elsewhere */
		if (l->offset + LGMP_FIXED > len) {
			out->kind = NR_LG_SHM_TRUNCATED;
			out->detail = "an LGMP header starts but the shared memory ends inside it";
			return;
		}
		out->kind = NR_LG_SHM_HEADER;
		out->layout = l->name;
		out->session_id = le32(h + l->session_at);
		out->timestamp_ms = le64(h + l->timestamp_at);
		find_kvmfr(m, len, (size_t)l->offset + LGMP_FIXED, out);
		return;
	}
	if (out->have_version) {
		out->kind = NR_LG_SHM_UNKNOWN;
		out->detail = "an LGMP header with a protocol version this program does not know "
			      "at that place; its fields are not read";
		return;
	}
	if (len < 4 && !all_zero(m, len)) {
		out->kind = NR_LG_SHM_TRUNCATED;
		out->detail = "the shared memory is shorter than any header";
		return;
	}
	if (all_zero(m, len)) {
		out->kind = NR_LG_SHM_EMPTY;
		out->detail = "only zero bytes: no header has been written";
		return;
	}
	out->kind = NR_LG_SHM_UNKNOWN;
	out->detail = "no known Looking Glass header (LGMP at offset 0 or 4096)";
}

int nr_lg_read(const char *path, struct nr_lg_snapshot *out, struct nr_error *err)
{
	struct stat st;
	uint64_t total;
	size_t len;
	void *map;
	unsigned char *copy;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		saved = errno;
		if (saved == ENOENT)
			return nr_error_set(err, -NR_E_NOTFOUND,
					    "%s does not exist: is the VM running, and does it have a "
					    "Looking Glass shared memory device?", path);
		return nr_error_set(err, saved == EACCES ? -NR_E_PERM : -NR_E_IO, "cannot open %s: %s",
				    path, strerror(saved));
	}
	if (fstat(fd, &st) < 0) {
		saved = errno;
		close(fd);
		return nr_error_set(err, -NR_E_IO, "cannot stat %s: %s", path, strerror(saved));
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
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	saved = errno;
	close(fd);
	if (map == MAP_FAILED)
		return nr_error_set(err, -NR_E_IO, "cannot map %s read-only: %s", path, strerror(saved));
	/* Probe a copy: the guest writes while we look. */
	copy = malloc(len);
	if (!copy) {
		munmap(map, len);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	memcpy(copy, map, len);
	munmap(map, len);
	nr_lg_probe(copy, len, total, out);
	free(copy);
	return 0;
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
