/* The agent wire format: frame reader, base64, UTF-8 check, message decoder/encoders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "neuron/agent_proto.h"

/* Push all of data through r, collecting frames ("|"-joined) and counting bad ones. */
static void push_all(struct nr_frame_reader *r, const char *data, size_t len, struct nr_buf *frames, int *bad)
{
	while (len) {
		size_t used = 0, tl = 0;
		const char *text = NULL;
		struct nr_error err = { 0 };
		int rc = nr_frame_reader_push(r, data, len, &used, &text, &tl, &err);
		assert_true(used <= len);
		data += used;
		len -= used;
		if (rc == NR_FRAME_OK) {
			nr_buf_append(frames, text, tl);
			nr_buf_puts(frames, "|");
		} else if (rc == NR_FRAME_BAD) {
			assert_int_equal(err.code, -NR_E_AGENT_FRAME);
			(*bad)++;
		} else {
			assert_int_equal(rc, NR_FRAME_MORE);
			assert_int_equal(used, used); /* all consumed */
		}
	}
}

static void test_frames_garbage_and_cuts(void **state)
{
	struct nr_frame_reader r;
	struct nr_buf out;
	int bad = 0;
	static const char in[] = "noise\x03\x02{\"a\":1}\x03junk\x02{\"b\":\x02{\"c\":2}\x03\x02{\"d\"";

	nr_frame_reader_init(&r, 64);
	nr_buf_init(&out);
	push_all(&r, in, sizeof(in) - 1, &out, &bad);
	assert_string_equal(out.data, "{\"a\":1}|{\"c\":2}|");
	assert_int_equal(bad, 1);            /* {"b": cut by a new STX */
	assert_true(r.in_frame);             /* {"d" still open */
	assert_int_equal(r.garbage, 5 + 1 + 4);
	nr_buf_done(&out);
	nr_frame_reader_done(&r);
}

static void test_frames_byte_by_byte(void **state)
{
	struct nr_frame_reader r;
	struct nr_buf out;
	int bad = 0;
	static const char in[] = "\x02{\"x\":\"y\"}\x03\x02{}\x03";

	nr_frame_reader_init(&r, 64);
	nr_buf_init(&out);
	for (size_t i = 0; i < sizeof(in) - 1; i++)
		push_all(&r, in + i, 1, &out, &bad);
	assert_string_equal(out.data, "{\"x\":\"y\"}|{}|");
	assert_int_equal(bad, 0);
	nr_buf_done(&out);
	nr_frame_reader_done(&r);
}

static void test_frames_oversize_dropped(void **state)
{
	struct nr_frame_reader r;
	struct nr_buf out, in;
	int bad = 0;

	nr_frame_reader_init(&r, 16);
	nr_buf_init(&out);
	nr_buf_init(&in);
	nr_buf_puts(&in, "\x02");
	for (int i = 0; i < 1000; i++)
		nr_buf_puts(&in, "aaaaaaaaaa");
	nr_buf_puts(&in, "\x03\x02{\"ok\":1}\x03");
	push_all(&r, in.data, in.len, &out, &bad);
	assert_int_equal(bad, 1);
	assert_string_equal(out.data, "{\"ok\":1}|");
	/* the reader never held the oversize frame */
	assert_true(r.frame.cap <= 64);
	nr_buf_done(&in);
	nr_buf_done(&out);
	nr_frame_reader_done(&r);
}

static void test_base64(void **state)
{
	static const char *cases[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nr_buf b;
		unsigned char *dec;
		size_t n;
		nr_buf_init(&b);
		nr_base64_encode(&b, cases[i][0], strlen(cases[i][0]));
		assert_string_equal(b.data ? b.data : "", cases[i][1]);
		assert_int_equal(nr_base64_decode(cases[i][1], strlen(cases[i][1]), &dec, &n), 0);
		assert_int_equal(n, strlen(cases[i][0]));
		assert_memory_equal(dec, cases[i][0], n);
		free(dec);
		nr_buf_done(&b);
	}
	unsigned char *dec = NULL;
	size_t n;
	const char *bad[] = { "Zg=", "Zh==", "Z===", "====", "Zm9v!A==", "Zg==Zg==", "Zm=v" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(nr_base64_decode(bad[i], strlen(bad[i]), &dec, &n), -NR_E_PARSE);
	/* all byte values survive */
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	struct nr_buf b;
	nr_buf_init(&b);
	nr_base64_encode(&b, all, sizeof(all));
	assert_int_equal(nr_base64_decode(b.data, b.len, &dec, &n), 0);
	assert_int_equal(n, 256);
	assert_memory_equal(dec, all, 256);
	free(dec);
	nr_buf_done(&b);
}

/* The table coder against the plain definition (RFC 4648), for every length of the
 * unrolled loops and their tails, and a bad character at every position. */
static void ref_encode(const unsigned char *s, size_t len, char *o)
{
	static const char c[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (i + 1 < len ? (unsigned)s[i + 1] << 8 : 0) |
			     (i + 2 < len ? s[i + 2] : 0);
		*o++ = c[v >> 18];
		*o++ = c[(v >> 12) & 63];
		*o++ = i + 1 < len ? c[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? c[v & 63] : '=';
	}
	*o = '\0';
}

static void test_base64_tables(void **state)
{
	unsigned char data[200], *dec;
	char ref[280];
	size_t n;
	unsigned seed = 12345;

	for (size_t len = 0; len <= sizeof(data); len++) {
		struct nr_buf b;
		for (size_t i = 0; i < len; i++)
			data[i] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16);
		ref_encode(data, len, ref);
		nr_buf_init(&b);
		nr_base64_encode(&b, data, len);
		assert_string_equal(b.data ? b.data : "", ref);
		assert_int_equal(nr_base64_decode(ref, strlen(ref), &dec, &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, data, len);
		free(dec);
		/* one character outside the alphabet anywhere is refused */
		static const char badc[] = { '!', '-', '_', '.', ' ', '\n', (char)0x80, (char)0xff, '=' };
		for (size_t pos = 0; pos < b.len; pos++)
			for (size_t k = 0; k < sizeof(badc); k++) {
				char save = b.data[pos];
				if (badc[k] == '=' && pos >= b.len - 2)
					continue; /* padding is allowed at the end */
				b.data[pos] = badc[k];
				dec = NULL;
				assert_int_equal(nr_base64_decode(b.data, b.len, &dec, &n), -NR_E_PARSE);
				assert_null(dec);
				b.data[pos] = save;
			}
		nr_buf_done(&b);
	}
	/* every byte value, at every place of a 32-character string (vector and scalar code):
	 * decodes exactly when it is in the alphabet */
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (int c = 0; c < 256; c++)
		for (size_t pos = 0; pos < 32; pos++) {
			char text[33];
			memcpy(text, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", 32);
			text[pos] = (char)c;
			bool valid = c != 0 && strchr(alphabet, c) != NULL;
			dec = NULL;
			int rc = nr_base64_decode(text, 32, &dec, &n);
			assert_int_equal(rc, valid ? 0 : -NR_E_PARSE);
			if (valid) {
				char again[48];
				ref_encode(dec, n, again);
				assert_memory_equal(again, text, 32);
			}
			free(dec);
		}
}

/* nr_msg_decode_into: a chunk's bytes go to the sink, in either form of the frame;
 * errors and other messages leave it alone. */
static void test_decode_into_sink(void **state)
{
	struct nr_buf sink;
	struct nr_msg m;
	static const char fast[] = "{\"id\":7,\"chunk\":0,\"data\":\"Zm9v\"}";
	static const char general[] = "{\"chunk\":1,\"data\":\"YmFy\",\"id\":7}";
	static const char bad64[] = "{\"id\":7,\"chunk\":2,\"data\":\"Zm9!\"}";
	static const char reply[] = "{\"id\":7,\"ok\":true,\"result\":{}}";

	nr_buf_init(&sink);
	nr_buf_append(&sink, "x", 1);
	assert_int_equal(nr_msg_decode_into(fast, strlen(fast), &m, &sink, NULL), 0);
	assert_int_equal(m.kind, NR_MSG_CHUNK);
	assert_null(m.data);
	assert_int_equal(m.data_len, 3);
	nr_msg_done(&m);
	assert_int_equal(nr_msg_decode_into(general, strlen(general), &m, &sink, NULL), 0);
	assert_int_equal(m.seq, 1);
	assert_int_equal(m.data_len, 3);
	nr_msg_done(&m);
	assert_int_equal(nr_msg_decode_into(bad64, strlen(bad64), &m, &sink, NULL), -NR_E_AGENT_FRAME);
	assert_int_equal(nr_msg_decode_into(reply, strlen(reply), &m, &sink, NULL), 0);
	nr_msg_done(&m);
	assert_int_equal(sink.len, 7);
	assert_string_equal(sink.data, "xfoobar");
	/* nr_base64_decode_append keeps the length on a bad string */
	assert_int_equal(nr_base64_decode_append(&sink, "Zm9vYmE!", 8), -NR_E_PARSE);
	assert_int_equal(nr_base64_decode_append(&sink, "Zm9", 3), -NR_E_PARSE);
	assert_string_equal(sink.data, "xfoobar");
	assert_int_equal(nr_base64_decode_append(&sink, "IQ==", 4), 0);
	assert_string_equal(sink.data, "xfoobar!");
	nr_buf_done(&sink);
}

static void test_utf8(void **state)
{
	assert_true(nr_utf8_valid("plain ascii text, long enough for the fast path", 47));
	assert_true(nr_utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15));
	assert_false(nr_utf8_valid("a\0b", 3));
	assert_false(nr_utf8_valid("0123456789\0abcdef", 17));
	assert_false(nr_utf8_valid("\xc3", 1));              /* cut */
	assert_false(nr_utf8_valid("\xc0\xaf", 2));          /* overlong */
	assert_false(nr_utf8_valid("\xed\xa0\x80", 3));      /* surrogate */
	assert_false(nr_utf8_valid("\xf4\x90\x80\x80", 4));  /* past U+10FFFF */
	assert_false(nr_utf8_valid("\xff", 1));
}

static int decode(const char *s, struct nr_msg *m)
{
	struct nr_error err = { 0 };
	int rc = nr_msg_decode(s, strlen(s), m, &err);
	if (rc < 0)
		assert_int_equal(err.code, -NR_E_AGENT_FRAME);
	return rc;
}

static void test_decode_kinds(void **state)
{
	struct nr_msg m;

	assert_int_equal(decode("{\"id\":7,\"op\":\"ping\"}", &m), 0);
	assert_int_equal(m.kind, NR_MSG_REQUEST);
	assert_int_equal(m.id, 7);
	assert_string_equal(m.name, "ping");
	nr_msg_done(&m);

	assert_int_equal(decode("{\"id\":3,\"ok\":true,\"result\":{\"width\":1920}}", &m), 0);
	assert_int_equal(m.kind, NR_MSG_REPLY);
	assert_true(m.ok);
	assert_int_equal(nr_msg_int(m.body, "width", 0), 1920);
	nr_msg_done(&m);

	assert_int_equal(decode("{\"id\":null,\"ok\":false,\"error\":{\"code\":\"bad-request\",\"message\":\"x\"}}", &m), 0);
	assert_int_equal(m.id, -1);
	assert_false(m.ok);
	assert_string_equal(m.err_code, "bad-request");
	nr_msg_done(&m);

	assert_int_equal(decode("{\"event\":\"resolution-changed\",\"data\":{\"width\":800}}", &m), 0);
	assert_int_equal(m.kind, NR_MSG_EVENT);
	assert_int_equal(nr_msg_int(m.body, "width", 0), 800);
	nr_msg_done(&m);

	/* chunk: the fast path and the general path agree */
	assert_int_equal(decode("{\"id\":4,\"chunk\":2,\"data\":\"Zm9vYmFy\"}", &m), 0);
	assert_int_equal(m.kind, NR_MSG_CHUNK);
	assert_int_equal(m.seq, 2);
	assert_int_equal(m.data_len, 6);
	assert_memory_equal(m.data, "foobar", 6);
	nr_msg_done(&m);
	assert_int_equal(decode("{ \"data\":\"Zm9vYmFy\", \"chunk\":2, \"id\":4 }", &m), 0);
	assert_int_equal(m.kind, NR_MSG_CHUNK);
	assert_int_equal(m.id, 4);
	assert_memory_equal(m.data, "foobar", 6);
	nr_msg_done(&m);

	assert_int_equal(decode("{\"sync\":\"abc\"}", &m), 0);
	assert_int_equal(m.kind, NR_MSG_SYNC);
	assert_string_equal(m.name, "abc");
	nr_msg_done(&m);
}

static void test_decode_rejects(void **state)
{
	struct nr_msg m;
	const char *bad[] = {
		"", "{", "[1,2]", "\"str\"", "{\"id\":1,\"op\":\"ping\"} trailing", "{\"a\":1}",
		"{\"id\":0,\"op\":\"ping\"}", "{\"id\":-3,\"op\":\"ping\"}", "{\"id\":\"7\",\"op\":\"ping\"}",
		"{\"id\":9007199254740992,\"op\":\"ping\"}", "{\"op\":\"ping\"}", "{\"id\":1,\"op\":\"x\",\"args\":[]}",
		"{\"id\":1,\"chunk\":0,\"data\":\"@@@@\"}", "{\"id\":1,\"chunk\":-1,\"data\":\"\"}",
		"{\"id\":1,\"ok\":\"yes\"}", "{\"id\":1,\"op\":\"\xc3\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(decode(bad[i], &m), -NR_E_AGENT_FRAME);
	/* the error to a malformed message carries its id when it has a valid one
	 * (PROTOCOL.md 5), never a bad chunk's (its transfer goes on, section 6) */
	const struct {
		const char *text;
		long long id;
	} ids[] = {
		{ "{\"id\":11}", 11 }, { "{\"id\":11,\"op\":5}", 11 }, { "{\"id\":11,\"op\":\"ping\",\"args\":[]}", 11 },
		{ "{\"id\":12,\"ok\":\"yes\"}", 12 }, { "{\"id\":\"11\",\"op\":\"ping\"}", -1 },
		{ "{\"id\":0,\"op\":\"ping\"}", -1 }, { "{\"op\":\"ping\"}", -1 }, { "[11]", -1 },
		{ "{\"id\":13,\"chunk\":0,\"data\":\"@@@@\"}", -1 }, { "{\"id\":13,\"chunk\":-1,\"data\":\"\"}", -1 },
	};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		assert_int_equal(decode(ids[i].text, &m), -NR_E_AGENT_FRAME);
		if (m.id != ids[i].id)
			fail_msg("%s: id %lld, want %lld", ids[i].text, m.id, ids[i].id);
	}
	/* deep nesting is refused, not recursed into */
	struct nr_buf deep;
	nr_buf_init(&deep);
	nr_buf_puts(&deep, "{\"id\":1,\"op\":\"x\",\"args\":{\"a\":");
	for (int i = 0; i < 5000; i++)
		nr_buf_puts(&deep, "[");
	assert_int_equal(nr_msg_decode(deep.data, deep.len, &m, NULL), -NR_E_AGENT_FRAME);
	nr_buf_done(&deep);
}

static void test_encoders_round_trip(void **state)
{
	struct nr_buf b;
	struct nr_msg m;
	json_object *args = json_object_new_object();

	json_object_object_add(args, "text", json_object_new_string("ctl\x02\x03 chars \xe2\x82\xac"));
	nr_buf_init(&b);
	nr_msg_put_request(&b, 42, "clipboard-set", args);
	/* framed once, and the control characters escaped inside */
	assert_int_equal(b.data[0], NR_AGENT_STX);
	assert_int_equal(b.data[b.len - 1], NR_AGENT_ETX);
	assert_null(memchr(b.data + 1, NR_AGENT_STX, b.len - 2));
	assert_null(memchr(b.data + 1, NR_AGENT_ETX, b.len - 2));
	assert_int_equal(nr_msg_decode(b.data + 1, b.len - 2, &m, NULL), 0);
	assert_int_equal(m.id, 42);
	assert_string_equal(nr_msg_str(m.body, "text", ""), "ctl\x02\x03 chars \xe2\x82\xac");
	nr_msg_done(&m);
	json_object_put(args);

	b.len = 0;
	unsigned char blob[1000];
	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (unsigned char)(i * 7);
	nr_msg_put_chunk(&b, 5, 9, blob, sizeof(blob));
	assert_int_equal(nr_msg_decode(b.data + 1, b.len - 2, &m, NULL), 0);
	assert_int_equal(m.kind, NR_MSG_CHUNK);
	assert_int_equal(m.seq, 9);
	assert_int_equal(m.data_len, sizeof(blob));
	assert_memory_equal(m.data, blob, sizeof(blob));
	nr_msg_done(&m);

	/* a full-size chunk fits under the frame cap */
	unsigned char *big = calloc(1, NR_AGENT_CHUNK_MAX);
	b.len = 0;
	nr_msg_put_chunk(&b, 9007199254740991LL, 9007199254740991LL, big, NR_AGENT_CHUNK_MAX);
	assert_true(b.len - 2 <= NR_AGENT_FRAME_MAX);
	free(big);

	b.len = 0;
	nr_msg_put_error(&b, -1, "bad-request", "why");
	assert_int_equal(nr_msg_decode(b.data + 1, b.len - 2, &m, NULL), 0);
	assert_int_equal(m.id, -1);
	assert_string_equal(m.err_message, "why");
	nr_msg_done(&m);
	nr_buf_done(&b);
}

/* Push data through r in steps of step bytes, logging what the reader gives: "F<text>"
 * for a text frame, "C<id>/<seq>/<len>/<total>" for a binary chunk's header, "E" at its
 * ETX, "B" for a dropped frame (","-joined); a binary chunk's bytes go to bytes. */
static void push_log(struct nr_frame_reader *r, const char *data, size_t len, size_t step, struct nr_buf *log,
		     struct nr_buf *bytes)
{
	size_t off = 0;

	while (off < len) {
		size_t n = len - off < step ? len - off : step;
		while (n) {
			size_t used = 0, tl = 0;
			const char *text = NULL;
			struct nr_error err = { 0 };
			int rc = nr_frame_reader_push(r, data + off, n, &used, &text, &tl, &err);
			assert_true(used <= n);
			off += used;
			n -= used;
			switch (rc) {
			case NR_FRAME_OK:
				nr_buf_printf(log, "F%.*s,", (int)tl, text);
				break;
			case NR_FRAME_CHUNK:
				nr_buf_printf(log, "C%lld/%lld/%zu/%llu,", r->chunk.id, r->chunk.seq, r->chunk.len,
					      r->chunk.total);
				break;
			case NR_FRAME_DATA:
				/* the piece lies inside the input: no copy */
				assert_true(text >= data && text + tl <= data + len);
				nr_buf_append(bytes, text, tl);
				break;
			case NR_FRAME_CHUNK_END:
				nr_buf_puts(log, "E,");
				break;
			case NR_FRAME_BAD:
				assert_int_equal(err.code, -NR_E_AGENT_FRAME);
				nr_buf_puts(log, "B,");
				break;
			default:
				assert_int_equal(rc, NR_FRAME_MORE);
				assert_int_equal(n, 0);
			}
		}
	}
}

static void test_chunk_header_layout(void **state)
{
	unsigned char h[1 + NR_AGENT_BIN_HEADER];
	static const unsigned char want[] = { 0x01, 0, 0, 0, 0, 0, 0x01, 0x02, 0x03, 0, 0, 0x01, 0x00,
					      0, 0x10, 0, 0, 0, 0, 0, 0, 0x04, 0, 0, 0x05 };

	nr_chunk_header_put(h, 0x10203, 256, 1u << 20, 0x4000005ull);
	assert_memory_equal(h, want, sizeof(want));
}

/* A binary chunk whose bytes hold STX, ETX and SOH between JSON frames, at every step
 * size from byte by byte to all at once: its bytes come out as they went in. */
static void test_binary_frames_between_json(void **state)
{
	char payload[300];
	struct nr_buf in, log, bytes;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (char)(i % 5); /* 0x00 .. 0x04: NUL, SOH, STX, ETX, 0x04 */
	nr_buf_init(&in);
	nr_buf_puts(&in, "\x02{\"a\":1}\x03");
	nr_msg_put_chunk_bin(&in, 7, 0, 1000, payload, sizeof(payload));
	nr_buf_puts(&in, "\x02{\"b\":2}\x03");
	nr_msg_put_chunk_bin(&in, 7, 1, 1000, "xyz", 3);
	for (size_t step = 1; step <= in.len; step = step < 8 ? step + 1 : step * 3) {
		struct nr_frame_reader r;
		nr_frame_reader_init(&r, 64);
		r.binary = true;
		nr_buf_init(&log);
		nr_buf_init(&bytes);
		push_log(&r, in.data, in.len, step, &log, &bytes);
		assert_string_equal(log.data, "F{\"a\":1},C7/0/300/1000,E,F{\"b\":2},C7/1/3/1000,E,");
		assert_int_equal(bytes.len, sizeof(payload) + 3);
		assert_memory_equal(bytes.data, payload, sizeof(payload));
		assert_memory_equal(bytes.data + sizeof(payload), "xyz", 3);
		assert_false(nr_frame_reader_partial(&r));
		assert_int_equal(r.bad, 0);
		assert_int_equal(r.garbage, 0);
		nr_buf_done(&log);
		nr_buf_done(&bytes);
		nr_frame_reader_done(&r);
	}
	nr_buf_done(&in);
}

/* A reader that did not agree on version 2 takes a SOH for a byte outside a frame: the
 * binary frame is dropped as garbage and the JSON frames around it are read. */
static void test_binary_frames_ignored_by_version_1(void **state)
{
	struct nr_frame_reader r;
	struct nr_buf in, log, bytes;

	nr_buf_init(&in);
	nr_buf_init(&log);
	nr_buf_init(&bytes);
	nr_msg_put_chunk_bin(&in, 3, 0, 5, "hello", 5);
	nr_buf_puts(&in, "\x02{\"id\":3,\"ok\":true}\x03");
	nr_frame_reader_init(&r, 64);
	push_log(&r, in.data, in.len, in.len, &log, &bytes);
	assert_string_equal(log.data, "F{\"id\":3,\"ok\":true},");
	assert_int_equal(bytes.len, 0);
	assert_int_equal(r.garbage, 1 + NR_AGENT_BIN_HEADER + 5 + 1);
	nr_frame_reader_done(&r);
	nr_buf_done(&in);
	nr_buf_done(&log);
	nr_buf_done(&bytes);
}

/* Hostile binary headers: id 0, len 0, len over 1 MiB, total under len; each is dropped
 * and the JSON frame after it read. A length that lies (no ETX after the bytes): the
 * bytes were given, then the frame is dropped and the byte after them scanned again. */
static void test_binary_frames_hostile(void **state)
{
	static const struct {
		long long id;
		size_t len;
		unsigned long long total;
	} bad[] = { { 0, 4, 4 }, { 5, 0, 4 }, { 5, NR_AGENT_BIN_CHUNK_MAX + 1, NR_AGENT_BIN_CHUNK_MAX + 1 },
		    { 5, 4, 3 }, { NR_AGENT_ID_MAX + 1, 4, 4 } };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned char h[1 + NR_AGENT_BIN_HEADER];
		struct nr_frame_reader r;
		struct nr_buf in, log, bytes;
		nr_buf_init(&in);
		nr_buf_init(&log);
		nr_buf_init(&bytes);
		nr_chunk_header_put(h, bad[i].id, 0, bad[i].len, bad[i].total);
		nr_buf_append(&in, (const char *)h, sizeof(h));
		nr_buf_puts(&in, "abcd\x03\x02{\"n\":1}\x03");
		nr_frame_reader_init(&r, 64);
		r.binary = true;
		push_log(&r, in.data, in.len, 3, &log, &bytes);
		assert_string_equal(log.data, "B,F{\"n\":1},");
		assert_int_equal(bytes.len, 0);
		assert_int_equal(r.bad, 1);
		nr_frame_reader_done(&r);
		nr_buf_done(&in);
		nr_buf_done(&log);
		nr_buf_done(&bytes);
	}

	/* len says 3, 4 bytes follow: the chunk is bad, "d" is garbage, the frame after read */
	struct nr_frame_reader r;
	struct nr_buf in, log, bytes;
	unsigned char h[1 + NR_AGENT_BIN_HEADER];
	nr_buf_init(&in);
	nr_buf_init(&log);
	nr_buf_init(&bytes);
	nr_chunk_header_put(h, 9, 0, 3, 3);
	nr_buf_append(&in, (const char *)h, sizeof(h));
	nr_buf_puts(&in, "abcd\x03\x02{\"n\":2}\x03");
	/* and one cut short by the end of the stream: still partial */
	nr_chunk_header_put(h, 9, 1, 10, 13);
	nr_buf_append(&in, (const char *)h, sizeof(h));
	nr_buf_puts(&in, "abc");
	nr_frame_reader_init(&r, 64);
	r.binary = true;
	push_log(&r, in.data, in.len, in.len, &log, &bytes);
	assert_string_equal(log.data, "C9/0/3/3,B,F{\"n\":2},C9/1/10/13,");
	assert_int_equal(bytes.len, 6); /* "abc" twice: the receiver takes the first back */
	assert_int_equal(r.garbage, 2); /* "d" and the ETX after it */
	assert_true(nr_frame_reader_partial(&r));
	nr_frame_reader_done(&r);
	nr_buf_done(&in);
	nr_buf_done(&log);
	nr_buf_done(&bytes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames_garbage_and_cuts),
		cmocka_unit_test(test_frames_byte_by_byte),
		cmocka_unit_test(test_frames_oversize_dropped),
		cmocka_unit_test(test_chunk_header_layout),
		cmocka_unit_test(test_binary_frames_between_json),
		cmocka_unit_test(test_binary_frames_ignored_by_version_1),
		cmocka_unit_test(test_binary_frames_hostile),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_base64_tables),
		cmocka_unit_test(test_decode_into_sink),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_decode_kinds),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_encoders_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
