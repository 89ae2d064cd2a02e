/* libFuzzer target: the agent's frame reader and message decoder (docs/PROTOCOL.md 4-6)
 * on bytes a hostile guest could send. The first byte picks how the input is cut into
 * reads; every frame found is decoded, and the whole input is also decoded as one frame.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nr_frame_reader r;
	size_t step, off = 0;

	if (size == 0)
		return 0;
	step = (size_t)(data[0] % 17) + 1;
	data++;
	size--;
	check_msg((const char *)data, size);
	nr_frame_reader_init(&r, CAP);
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
			}
		}
	}
	nr_frame_reader_done(&r);
	return 0;
}
