/* libFuzzer target: the agent's frame reader and message decoder (docs/PROTOCOL.md 4-6)
 * on bytes a hostile guest could send. The first byte picks how the input is cut into
 * reads (its low 7 bits) and whether the reader agreed on version 2 (its top bit: binary
 * chunk frames); every frame found is decoded, and the whole input is also decoded as one
 * frame. Binary chunks: a header in range, pieces inside the input, exactly len bytes by
 * the ETX, and the bytes re-encoded read back the same.
 * Invariants: a frame never holds STX or ETX, never passes the cap, a decoded chunk's
 * data re-encodes to a frame that decodes to the same bytes, and decoding into a sink
 * agrees with decoding alone and leaves the sink untouched unless it took a chunk. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "neuron/agent_proto.h"

#define CAP 4096

/* The same frame decoded into a sink (the host's download): the same verdict and kind,
 * the chunk's bytes appended after what was there, and nothing touched otherwise. */
static void check_sink(const char *text, size_t len, const struct nr_msg *plain, int plain_rc)
{
	struct nr_buf sink;
	struct nr_msg m;
	int rc;

	nr_buf_init(&sink);
	nr_buf_append(&sink, "prefix", 6);
	rc = nr_msg_decode_into(text, len, &m, &sink, NULL);
	if ((rc < 0) != (plain_rc < 0))
		abort();
	if (rc < 0 || m.kind != NR_MSG_CHUNK) {
		if (sink.len != 6 || memcmp(sink.data, "prefix", 7) != 0)
			abort();
	} else if (m.data || m.data_len != plain->data_len || sink.len != 6 + m.data_len ||
		   (m.data_len && memcmp(sink.data + 6, plain->data, m.data_len)) || sink.data[sink.len] != '\0') {
		abort();
	}
	if (rc == 0) {
		if (m.kind != plain->kind)
			abort();
		nr_msg_done(&m);
	}
	nr_buf_done(&sink);
}

static void check_msg(const char *text, size_t len)
{
	struct nr_msg m;
	int rc = nr_msg_decode(text, len, &m, NULL);

	check_sink(text, len, &m, rc);
	if (rc < 0)
		return;
	if (m.kind == NR_MSG_CHUNK) {
		struct nr_buf b;
		struct nr_msg again;
		nr_buf_init(&b);
		nr_msg_put_chunk(&b, m.id, m.seq, m.data, m.data_len);
		if (b.oom || nr_msg_decode(b.data + 1, b.len - 2, &again, NULL) < 0 ||
		    again.data_len != m.data_len || (m.data_len && memcmp(again.data, m.data, m.data_len)))
			abort();
		nr_msg_done(&again);
		nr_buf_done(&b);
	}
	/* the accessors must cope with whatever body came */
	(void)nr_msg_str(m.body, "mime", NULL);
	(void)nr_msg_int(m.body, "width", 0);
	nr_msg_done(&m);
}

/* A whole binary chunk as read: re-encoded and read again, the same header and bytes. */
static void check_binary(const struct nr_chunk_header *h, const struct nr_buf *bytes)
{
	struct nr_frame_reader r;
	struct nr_buf b, again;
	size_t off = 0;
	int ends = 0;

	nr_buf_init(&b);
	nr_buf_init(&again);
	nr_msg_put_chunk_bin(&b, h->id, h->seq, h->total, bytes->data, bytes->len);
	nr_frame_reader_init(&r, CAP);
	r.binary = true;
	while (off < b.len) {
		size_t used = 0, tl = 0;
		const char *text = NULL;
		int rc = nr_frame_reader_push(&r, b.data + off, b.len - off, &used, &text, &tl, NULL);
		off += used;
		if (rc == NR_FRAME_CHUNK && (r.chunk.id != h->id || r.chunk.seq != h->seq || r.chunk.len != h->len ||
					     r.chunk.total != h->total))
			abort();
		if (rc == NR_FRAME_DATA)
			nr_buf_append(&again, text, tl);
		if (rc == NR_FRAME_CHUNK_END)
			ends++;
		if (rc == NR_FRAME_OK || rc == NR_FRAME_BAD || (rc == NR_FRAME_MORE && off < b.len))
			abort();
	}
	if (ends != 1 || again.len != bytes->len || memcmp(again.data, bytes->data, bytes->len) != 0)
		abort();
	nr_frame_reader_done(&r);
	nr_buf_done(&b);
	nr_buf_done(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nr_frame_reader r;
	size_t step, off = 0;

	if (size == 0)
		return 0;
	step = (size_t)((data[0] & 0x7f) % 17) + 1;
	bool binary = data[0] & 0x80;
	struct nr_buf bytes;
	data++;
	size--;
	check_msg((const char *)data, size);
	nr_frame_reader_init(&r, CAP);
	r.binary = binary;
	nr_buf_init(&bytes);
	while (off < size) {
		size_t n = size - off < step ? size - off : step;
		while (n) {
			size_t used = 0, tl = 0;
			const char *text = NULL;
			int rc = nr_frame_reader_push(&r, data + off, n, &used, &text, &tl, NULL);
			if (used > n)
				abort();
			off += used;
			n -= used;
			if (rc == NR_FRAME_OK) {
				if (tl > CAP || memchr(text, NR_AGENT_STX, tl) || memchr(text, NR_AGENT_ETX, tl))
					abort();
				check_msg(text, tl);
			} else if (rc == NR_FRAME_MORE && n) {
				abort();
			} else if (rc == NR_FRAME_CHUNK) {
				if (!binary || r.chunk.id < 1 || r.chunk.id > NR_AGENT_ID_MAX || r.chunk.len < 1 ||
				    r.chunk.len > NR_AGENT_BIN_CHUNK_MAX || r.chunk.total < r.chunk.len)
					abort();
				bytes.len = 0;
			} else if (rc == NR_FRAME_DATA) {
				if (!binary || (const uint8_t *)text < data || (const uint8_t *)text + tl > data + size ||
				    bytes.len + tl > r.chunk.len)
					abort();
				nr_buf_append(&bytes, text, tl);
			} else if (rc == NR_FRAME_CHUNK_END) {
				if (bytes.len != r.chunk.len)
					abort();
				check_binary(&r.chunk, &bytes);
			}
		}
	}
	nr_buf_done(&bytes);
	nr_frame_reader_done(&r);
	return 0;
}
