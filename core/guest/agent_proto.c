/* The agent wire format: frame reader, base64, message decoder and encoders.
 * See docs/PROTOCOL.md sections 4 to 6. */
#include <json-c/json.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "neuron/agent_proto.h"

void nr_frame_reader_init(struct nr_frame_reader *r, size_t cap)
{
	memset(r, 0, sizeof(*r));
	r->cap = cap;
	nr_buf_init(&r->frame);
}

void nr_frame_reader_done(struct nr_frame_reader *r)
{
	nr_buf_done(&r->frame);
}

/* The next STX or ETX in p[0..n), or NULL. Two memchr passes beat a byte loop on
 * multi-megabyte chunk frames. */
static const char *next_mark(const char *p, size_t n)
{
	const char *etx = memchr(p, NR_AGENT_ETX, n);
	const char *stx = memchr(p, NR_AGENT_STX, etx ? (size_t)(etx - p) : n);

	return stx ? stx : etx;
}

static unsigned long long get_be(const unsigned char *p, int n)
{
	unsigned long long v = 0;

	while (n--)
		v = v << 8 | *p++;
	return v;
}

static void put_be(unsigned char *p, unsigned long long v, int n)
{
	while (n--) {
		p[n] = (unsigned char)v;
		v >>= 8;
	}
}

/* One step of a binary chunk frame (r->bin set) over [*p, end): NR_FRAME_MORE when the
 * input ran out (or the header is still being read), else the result to hand back. */
static int binary_push(struct nr_frame_reader *r, const char **p, const char *end, const char **text,
		       size_t *text_len, struct nr_error *err)
{
	size_t n;

	switch (r->bin) {
	case 1:
		n = NR_AGENT_BIN_HEADER - r->hdr_have;
		if (n > (size_t)(end - *p))
			n = (size_t)(end - *p);
		memcpy(r->hdr + r->hdr_have, *p, n);
		r->hdr_have += n;
		*p += n;
		if (r->hdr_have < NR_AGENT_BIN_HEADER)
			return NR_FRAME_MORE;
		r->chunk.id = (long long)get_be(r->hdr, 8);
		r->chunk.seq = (long long)get_be(r->hdr + 8, 4);
		r->chunk.len = (size_t)get_be(r->hdr + 12, 4);
		r->chunk.total = get_be(r->hdr + 16, 8);
		if (get_be(r->hdr, 8) < 1 || get_be(r->hdr, 8) > (unsigned long long)NR_AGENT_ID_MAX ||
		    r->chunk.len < 1 || r->chunk.len > NR_AGENT_BIN_CHUNK_MAX || r->chunk.total < r->chunk.len) {
			/* its length cannot be trusted: what follows is scanned as bytes outside frames */
			r->bin = 0;
			r->bad++;
			nr_error_set(err, -NR_E_AGENT_FRAME, "binary chunk header with a bad id or a length of %zu "
				     "(1 to %u, at most its total)", r->chunk.len, NR_AGENT_BIN_CHUNK_MAX);
			return NR_FRAME_BAD;
		}
		r->bin = 2;
		r->bin_left = r->chunk.len;
		return NR_FRAME_CHUNK;
	case 2:
		n = r->bin_left < (size_t)(end - *p) ? r->bin_left : (size_t)(end - *p);
		*text = *p;
		*text_len = n;
		*p += n;
		if (!(r->bin_left -= n))
			r->bin = 3;
		return NR_FRAME_DATA;
	default:
		r->bin = 0;
		if (**p == NR_AGENT_ETX) {
			(*p)++;
			return NR_FRAME_CHUNK_END;
		}
		r->bad++; /* the byte is scanned again, outside a frame */
		nr_error_set(err, -NR_E_AGENT_FRAME, "binary chunk of %zu bytes not ended by an ETX (a wrong length)",
			     r->chunk.len);
		return NR_FRAME_BAD;
	}
}

void nr_frame_reader_skip(struct nr_frame_reader *r, size_t n)
{
	if (r->bin != 2)
		return;
	r->bin_left -= n < r->bin_left ? n : r->bin_left;
	if (!r->bin_left)
		r->bin = 3;
}

bool nr_frame_reader_partial(const struct nr_frame_reader *r)
{
	return r->in_frame || r->bin;
}

int nr_frame_reader_push(struct nr_frame_reader *r, const void *data, size_t len, size_t *used,
			 const char **text, size_t *text_len, struct nr_error *err)
{
	const char *p = data, *end = p + len;

	while (p < end) {
		if (r->bin) {
			int rc = binary_push(r, &p, end, text, text_len, err);
			if (rc != NR_FRAME_MORE) {
				*used = (size_t)(p - (const char *)data);
				return rc;
			}
			continue;
		}
		if (!r->in_frame) {
			const char *stx = memchr(p, NR_AGENT_STX, (size_t)(end - p));
			const char *soh = r->binary ? memchr(p, NR_AGENT_SOH, (size_t)((stx ? stx : end) - p)) : NULL;
			if (soh) {
				r->garbage += (unsigned long)(soh - p);
				p = soh + 1;
				r->bin = 1;
				r->hdr_have = 0;
				continue;
			}
			if (!stx) {
				r->garbage += (unsigned long)(end - p);
				p = end;
				break;
			}
			r->garbage += (unsigned long)(stx - p);
			p = stx + 1;
			r->in_frame = true;
			r->overlong = false;
			r->frame.len = 0;
			continue;
		}
		const char *mark = next_mark(p, (size_t)(end - p));
		size_t n = (size_t)((mark ? mark : end) - p);
		if (!r->overlong) {
			if (r->frame.len + n > r->cap) {
				r->overlong = true;
				nr_buf_done(&r->frame);
			} else {
				nr_buf_append(&r->frame, p, n);
				if (r->frame.oom) {
					nr_buf_done(&r->frame);
					*used = (size_t)(p - (const char *)data);
					return nr_error_set(err, -NR_E_NOMEM, NULL);
				}
			}
		}
		p += n;
		if (!mark)
			break;
		p++;
		if (*mark == NR_AGENT_STX) {
			/* A new frame starts inside this one: the partial frame was cut. */
			bool was_overlong = r->overlong;
			r->overlong = false;
			r->frame.len = 0;
			r->bad++;
			*used = (size_t)(p - (const char *)data);
			if (was_overlong)
				nr_error_set(err, -NR_E_AGENT_FRAME, "frame over %zu bytes dropped", r->cap);
			else
				nr_error_set(err, -NR_E_AGENT_FRAME, "frame cut by a new STX before its ETX");
			return NR_FRAME_BAD;
		}
		r->in_frame = false;
		*used = (size_t)(p - (const char *)data);
		if (r->overlong) {
			r->overlong = false;
			r->bad++;
			nr_error_set(err, -NR_E_AGENT_FRAME, "frame over %zu bytes dropped", r->cap);
			return NR_FRAME_BAD;
		}
		nr_buf_append(&r->frame, "", 0); /* make sure data is allocated and NUL-terminated */
		if (r->frame.oom) {
			nr_buf_done(&r->frame);
			return nr_error_set(err, -NR_E_NOMEM, NULL);
		}
		*text = r->frame.data;
		*text_len = r->frame.len;
		return NR_FRAME_OK;
	}
	*used = len;
	return NR_FRAME_MORE;
}

void nr_frame_wrap(struct nr_buf *out, const char *text, size_t len)
{
	char c = NR_AGENT_STX;

	nr_buf_append(out, &c, 1);
	nr_buf_append(out, text, len);
	c = NR_AGENT_ETX;
	nr_buf_append(out, &c, 1);
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 is most of the work of a clipboard image once the cipher has hardware help, so
 * both directions go through tables made once: the encoder turns 12 bits into two
 * characters at a time; the decoder ORs four pre-shifted 24-bit values whose bit 31 marks
 * a character outside the alphabet, so a whole quantum is checked with one test. */
static char b64pair[4096][2];
static uint32_t b64dec[4][256];
static pthread_once_t b64_once = PTHREAD_ONCE_INIT;
static bool b64_ssse3;

#define B64_BAD 0x80000000u

static void b64_init(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	b64_ssse3 = __builtin_cpu_supports("ssse3");
#endif
	for (int i = 0; i < 4096; i++) {
		b64pair[i][0] = b64chars[i >> 6];
		b64pair[i][1] = b64chars[i & 63];
	}
	for (int k = 0; k < 4; k++)
		for (int c = 0; c < 256; c++)
			b64dec[k][c] = B64_BAD;
	for (int i = 0; i < 64; i++) {
		unsigned char c = (unsigned char)b64chars[i];
		for (int k = 0; k < 4; k++)
			b64dec[k][c] = (uint32_t)i << (18 - 6 * k);
	}
}

static void b64_tables(void)
{
	pthread_once(&b64_once, b64_init); /* host and guest threads code side by side in tests */
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define B64_SIMD 1

/* SSSE3 (every x86-64 CPU since about 2008; checked at run time): 12 bytes to 16
 * characters and back per step, after the vector methods W. Mula and D. Lemire described
 * ("Faster Base64 Encoding and Decoding Using AVX2 Instructions", 2018). Both leave the
 * tail to the scalar code. */
static bool b64_have_ssse3(void)
{
	return b64_ssse3; /* set once by b64_init, under b64_once, before any coding */
}

/* Encode whole 12-byte groups while 16 bytes can be read: returns the bytes consumed. */
__attribute__((target("ssse3"))) static size_t b64_encode_ssse3(const unsigned char *s, size_t len, char *o)
{
	/* per 32-bit lane, the bytes s1 s0 s2 s1 of one 3-byte group */
	const __m128i spread = _mm_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
	/* index to ASCII: offsets for a-z, 0-9 (10 slots), +, /, A-Z */
	const __m128i offs = _mm_setr_epi8(71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 65, 0, 0);
	size_t i = 0;

	for (; i + 16 <= len; i += 12, o += 16) {
		__m128i in = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(s + i)), spread);
		/* word0 = s0<<8|s1 gives i0 (bits 10-15) and i1 (4-9); word1 = s1<<8|s2 gives
		 * i2 (6-11) and i3 (0-5); each lands in its own byte */
		__m128i a = _mm_mulhi_epu16(_mm_and_si128(in, _mm_set1_epi32(0x0fc0fc00)), _mm_set1_epi32(0x04000040));
		__m128i b = _mm_mullo_epi16(_mm_and_si128(in, _mm_set1_epi32(0x003f03f0)), _mm_set1_epi32(0x01000010));
		__m128i idx = _mm_or_si128(a, b);
		/* 0: a-z, 1-10: digits, 11: +, 12: /, 13: A-Z */
		__m128i cls = _mm_subs_epu8(idx, _mm_set1_epi8(51));
		cls = _mm_or_si128(cls, _mm_and_si128(_mm_cmpgt_epi8(_mm_set1_epi8(26), idx), _mm_set1_epi8(13)));
		_mm_storeu_si128((__m128i *)o, _mm_add_epi8(idx, _mm_shuffle_epi8(offs, cls)));
	}
	return i;
}

/* Decode 16-character groups while 16 output bytes fit: the characters consumed, or
 * (size_t)-1 at a character outside the alphabet. */
__attribute__((target("ssse3"))) static size_t b64_decode_ssse3(const unsigned char *s, size_t len,
								 unsigned char *o, size_t room)
{
	/* a character is valid when lut_lo[low nibble] & lut_hi[high nibble] is 0 */
	const __m128i lut_lo = _mm_setr_epi8(0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13,
					     0x1a, 0x1b, 0x1b, 0x1b, 0x1a);
	const __m128i lut_hi = _mm_setr_epi8(0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10,
					     0x10, 0x10, 0x10, 0x10, 0x10);
	/* what to add, by high nibble ('/' uses slot 1) */
	const __m128i roll = _mm_setr_epi8(0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
	const __m128i pack = _mm_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
	const __m128i nib = _mm_set1_epi8(0x0f);
	size_t i = 0, o_len = 0;

	for (; i + 16 <= len && o_len + 16 <= room; i += 16, o_len += 12) {
		__m128i in = _mm_loadu_si128((const __m128i *)(s + i));
		__m128i hi = _mm_and_si128(_mm_srli_epi32(in, 4), nib), lo = _mm_and_si128(in, nib);
		__m128i bad = _mm_and_si128(_mm_shuffle_epi8(lut_lo, lo), _mm_shuffle_epi8(lut_hi, hi));
		if (_mm_movemask_epi8(_mm_cmpeq_epi8(bad, _mm_setzero_si128())) != 0xffff)
			return (size_t)-1;
		__m128i slash = _mm_cmpeq_epi8(in, _mm_set1_epi8('/'));
		__m128i v = _mm_add_epi8(in, _mm_shuffle_epi8(roll, _mm_add_epi8(slash, hi)));
		/* four 6-bit values to one 24-bit value per lane, then its bytes big-end first */
		v = _mm_maddubs_epi16(v, _mm_set1_epi32(0x01400140));
		v = _mm_madd_epi16(v, _mm_set1_epi32(0x00011000));
		_mm_storeu_si128((__m128i *)(o + o_len), _mm_shuffle_epi8(v, pack));
	}
	return i;
}
#endif

void nr_base64_encode(struct nr_buf *out, const void *data, size_t len)
{
	const unsigned char *s = data;
	size_t olen = (len + 2) / 3 * 4, i = 0;
	char *o;

	b64_tables();
	nr_buf_append(out, "", 0);
	if (out->oom || olen == 0 || !nr_buf_reserve(out, olen))
		return;
	o = out->data + out->len;
#ifdef B64_SIMD
	if (b64_have_ssse3()) {
		i = b64_encode_ssse3(s, len, o);
		o += i / 3 * 4;
	}
#endif
	/* six bytes to eight characters per round */
	for (; i + 6 <= len; i += 6, o += 8) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		uint32_t w = (uint32_t)s[i + 3] << 16 | (uint32_t)s[i + 4] << 8 | s[i + 5];
		memcpy(o, b64pair[v >> 12], 2);
		memcpy(o + 2, b64pair[v & 0xfff], 2);
		memcpy(o + 4, b64pair[w >> 12], 2);
		memcpy(o + 6, b64pair[w & 0xfff], 2);
	}
	for (; i + 3 <= len; i += 3, o += 4) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		memcpy(o, b64pair[v >> 12], 2);
		memcpy(o + 2, b64pair[v & 0xfff], 2);
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)s[i] << 16;
		*o++ = b64chars[v >> 18];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		*o++ = b64chars[v >> 18];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = b64chars[(v >> 6) & 63];
		*o++ = '=';
	}
	out->len += olen;
	out->data[out->len] = '\0';
}

static inline uint32_t b64_quantum(const unsigned char *s)
{
	return b64dec[0][s[0]] | b64dec[1][s[1]] | b64dec[2][s[2]] | b64dec[3][s[3]];
}

/* Decode len characters (a multiple of 4, pad of them '=' at the end) into exactly
 * n = len / 4 * 3 - pad bytes at buf: 0, or -1 at a character outside the alphabet or
 * non-canonical padding. */
static int b64_decode_to(const unsigned char *s, size_t len, size_t pad, unsigned char *buf, size_t n)
{
	size_t i = 0, o = 0, full = pad ? len - 4 : len;
	uint32_t v;

	b64_tables();
#ifdef B64_SIMD
	if (b64_have_ssse3()) {
		i = b64_decode_ssse3(s, full, buf, n);
		if (i == (size_t)-1)
			return -1;
		o = i / 4 * 3;
	}
#endif
	for (; i + 8 <= full; i += 8, o += 6) {
		uint32_t w;
		v = b64_quantum(s + i);
		w = b64_quantum(s + i + 4);
		if ((v | w) & B64_BAD)
			return -1;
		buf[o] = (unsigned char)(v >> 16);
		buf[o + 1] = (unsigned char)(v >> 8);
		buf[o + 2] = (unsigned char)v;
		buf[o + 3] = (unsigned char)(w >> 16);
		buf[o + 4] = (unsigned char)(w >> 8);
		buf[o + 5] = (unsigned char)w;
	}
	for (; i < full; i += 4, o += 3) {
		v = b64_quantum(s + i);
		if (v & B64_BAD)
			return -1;
		buf[o] = (unsigned char)(v >> 16);
		buf[o + 1] = (unsigned char)(v >> 8);
		buf[o + 2] = (unsigned char)v;
	}
	if (pad) {
		uint32_t a = b64dec[0][s[i]], b = b64dec[1][s[i + 1]];
		uint32_t c = pad == 2 ? 0 : b64dec[2][s[i + 2]];
		if ((a | b | c) & B64_BAD)
			return -1;
		v = a | b | c;
		/* Non-canonical padding bits would let two strings decode to the same bytes. */
		if ((pad == 2 && (v & 0xffff)) || (pad == 1 && (v & 0xff)))
			return -1;
		buf[o++] = (unsigned char)(v >> 16);
		if (pad == 1)
			buf[o++] = (unsigned char)(v >> 8);
	}
	return o == n ? 0 : -1;
}

/* The padding of a base64 string, or -1 when its length cannot be base64. */
static long b64_pad(const unsigned char *s, size_t len)
{
	if (len % 4)
		return -1;
	if (len && s[len - 1] == '=')
		return s[len - 2] == '=' ? 2 : 1;
	return 0;
}

int nr_base64_decode(const char *text, size_t len, unsigned char **out, size_t *out_len)
{
	const unsigned char *s = (const unsigned char *)text;
	long pad = b64_pad(s, len);
	unsigned char *buf;
	size_t n;

	if (pad < 0)
		return -NR_E_PARSE;
	n = len / 4 * 3 - (size_t)pad;
	buf = malloc(n ? n : 1);
	if (!buf)
		return -NR_E_NOMEM;
	if (b64_decode_to(s, len, (size_t)pad, buf, n) < 0) {
		free(buf);
		return -NR_E_PARSE;
	}
	*out = buf;
	*out_len = n;
	return 0;
}

int nr_base64_decode_append(struct nr_buf *out, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	long pad = b64_pad(s, len);
	size_t n;

	if (pad < 0)
		return -NR_E_PARSE;
	n = len / 4 * 3 - (size_t)pad;
	if (!nr_buf_reserve(out, n))
		return -NR_E_NOMEM;
	if (b64_decode_to(s, len, (size_t)pad, (unsigned char *)out->data + out->len, n) < 0) {
		out->data[out->len] = '\0';
		return -NR_E_PARSE;
	}
	out->len += n;
	out->data[out->len] = '\0';
	return 0;
}

bool nr_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str, *end = s + len;

	while (s < end) {
		/* ASCII fast path, eight bytes at a time. */
		while (end - s >= 8) {
			uint64_t w;
			memcpy(&w, s, 8);
			if (w & 0x8080808080808080ull)
				break;
			/* a zero byte in w? */
			if ((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull)
				return false;
			s += 8;
		}
		if (s >= end)
			break;
		unsigned c = *s;
		if (c == 0)
			return false;
		if (c < 0x80) {
			s++;
			continue;
		}
		size_t n;
		unsigned cp;
		if (c >= 0xc2 && c <= 0xdf)
			n = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 4, cp = c & 0x07;
		else
			return false;
		if ((size_t)(end - s) < n)
			return false;
		for (size_t i = 1; i < n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		s += n;
	}
	return true;
}

const char *nr_msg_kind_name(enum nr_msg_kind kind)
{
	switch (kind) {
	case NR_MSG_REQUEST: return "request";
	case NR_MSG_REPLY: return "reply";
	case NR_MSG_CHUNK: return "chunk";
	case NR_MSG_EVENT: return "event";
	case NR_MSG_SYNC: return "sync";
	case NR_MSG_SYNC_ACK: return "sync-ack";
	}
	return "?";
}

#define ID_MAX NR_AGENT_ID_MAX

static bool digits(const char **p, const char *end, long long *v)
{
	const char *s = *p;
	long long x = 0;

	if (s >= end || *s < '0' || *s > '9' || (*s == '0' && s + 1 < end && s[1] >= '0' && s[1] <= '9'))
		return false;
	while (s < end && *s >= '0' && *s <= '9') {
		x = x * 10 + (*s - '0');
		if (x > ID_MAX)
			return false;
		s++;
	}
	*p = s;
	*v = x;
	return true;
}

static bool lit(const char **p, const char *end, const char *s)
{
	size_t n = strlen(s);

	if ((size_t)(end - *p) < n || memcmp(*p, s, n) != 0)
		return false;
	*p += n;
	return true;
}

/* A chunk's bytes: appended to sink when there is one (m->data stays NULL), else in a
 * buffer of m's own. */
static int chunk_data(const char *b64, size_t len, struct nr_msg *m, struct nr_buf *sink)
{
	size_t before;

	if (!sink)
		return nr_base64_decode(b64, len, &m->data, &m->data_len);
	before = sink->len;
	if (nr_base64_decode_append(sink, b64, len) < 0)
		return -1;
	m->data_len = sink->len - before;
	return 0;
}

/* Chunk frames are most of the bytes of a big transfer: the exact shape our encoder
 * writes, {"id":N,"chunk":N,"data":"BASE64"}, is decoded without building a JSON tree.
 * Anything else goes the general way (and means the same thing). Returns 1 when it
 * took the frame, 0 when the general path must. */
static int decode_chunk_fast(const char *text, size_t len, struct nr_msg *m, struct nr_buf *sink)
{
	const char *p = text, *end = text + len, *b64;
	long long id, seq;

	if (!lit(&p, end, "{\"id\":") || !digits(&p, end, &id) || !lit(&p, end, ",\"chunk\":") ||
	    !digits(&p, end, &seq) || !lit(&p, end, ",\"data\":\""))
		return 0;
	b64 = p;
	if (end - p < 2 || end[-1] != '}' || end[-2] != '"')
		return 0;
	if (chunk_data(b64, (size_t)(end - 2 - b64), m, sink) < 0)
		return 0;
	m->kind = NR_MSG_CHUNK;
	m->id = id;
	m->seq = seq;
	return 1;
}

static json_object *member(json_object *o, const char *key, json_type type)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

static bool get_id(json_object *root, long long *id, bool null_ok)
{
	json_object *v;

	if (!json_object_object_get_ex(root, "id", &v))
		return false;
	if (!v || json_object_is_type(v, json_type_null)) {
		*id = -1;
		return null_ok;
	}
	if (!json_object_is_type(v, json_type_int))
		return false;
	*id = json_object_get_int64(v);
	return *id >= 1 && *id <= ID_MAX;
}

/* A frame that is not a valid message. m->id keeps the frame's id when it had a valid
 * one, so that the error can carry it (docs/PROTOCOL.md 5), except for a chunk: a bad
 * chunk is dropped like any invalid frame, and an error with its id would end the
 * transfer it belongs to (section 6). */
static int bad(struct nr_msg *m, struct nr_error *err, const char *why)
{
	long long id = m->kind == NR_MSG_CHUNK ? -1 : m->id;

	json_object_put(m->root);
	free(m->data);
	memset(m, 0, sizeof(*m));
	m->id = id > 0 ? id : -1;
	return nr_error_set(err, -NR_E_AGENT_FRAME, "invalid agent message: %s", why);
}

int nr_msg_decode(const char *text, size_t len, struct nr_msg *m, struct nr_error *err)
{
	return nr_msg_decode_into(text, len, m, NULL, err);
}

int nr_msg_decode_into(const char *text, size_t len, struct nr_msg *m, struct nr_buf *sink,
		       struct nr_error *err)
{
	json_tokener *tok;
	json_object *v, *root;

	memset(m, 0, sizeof(*m));
	m->id = -1;
	if (len > NR_AGENT_FRAME_MAX)
		return bad(m, err, "over the size cap");
	/* before the UTF-8 check: the fast path takes only ASCII (base64 decoding refuses
	 * every byte outside its alphabet), so checking a megabyte twice is wasted */
	if (decode_chunk_fast(text, len, m, sink))
		return 0;
	if (!nr_utf8_valid(text, len))
		return bad(m, err, "not valid UTF-8 (or a NUL byte)");
	tok = json_tokener_new_ex(16);
	if (!tok)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		json_object_put(root);
		json_tokener_free(tok);
		return bad(m, err, "not valid JSON");
	}
	json_tokener_free(tok);
	m->root = root;
	if (!json_object_is_type(root, json_type_object))
		return bad(m, err, "not a JSON object");
	long long id;
	if (get_id(root, &id, false))
		m->id = id; /* for the error, should the rest be wrong */

	if ((v = member(root, "sync", json_type_string))) {
		m->kind = NR_MSG_SYNC;
		m->name = json_object_get_string(v);
	} else if ((v = member(root, "sync-ack", json_type_string))) {
		m->kind = NR_MSG_SYNC_ACK;
		m->name = json_object_get_string(v);
	} else if ((v = member(root, "event", json_type_string))) {
		m->kind = NR_MSG_EVENT;
		m->name = json_object_get_string(v);
		m->body = member(root, "data", json_type_object);
	} else if (json_object_object_get_ex(root, "chunk", &v)) {
		json_object *d = member(root, "data", json_type_string);
		m->kind = NR_MSG_CHUNK;
		if (!json_object_is_type(v, json_type_int) || (m->seq = json_object_get_int64(v)) < 0)
			return bad(m, err, "chunk without a sequence number");
		if (!get_id(root, &m->id, false))
			return bad(m, err, "chunk without a valid id");
		if (!d || chunk_data(json_object_get_string(d), (size_t)json_object_get_string_len(d), m, sink) < 0)
			return bad(m, err, "chunk data is not base64");
	} else if ((v = member(root, "op", json_type_string))) {
		m->kind = NR_MSG_REQUEST;
		m->name = json_object_get_string(v);
		if (!get_id(root, &m->id, false))
			return bad(m, err, "request without a valid id");
		if (json_object_object_get_ex(root, "args", &v) && !json_object_is_type(v, json_type_object))
			return bad(m, err, "request args is not an object");
		m->body = member(root, "args", json_type_object);
	} else if ((v = member(root, "ok", json_type_boolean))) {
		m->kind = NR_MSG_REPLY;
		m->ok = json_object_get_boolean(v);
		if (!get_id(root, &m->id, true))
			return bad(m, err, "reply without a valid id");
		if (m->ok) {
			m->body = member(root, "result", json_type_object);
		} else {
			json_object *e = member(root, "error", json_type_object);
			m->err_code = nr_msg_str(e, "code", "failed");
			m->err_message = nr_msg_str(e, "message", "");
		}
	} else {
		return bad(m, err, "neither a request, a reply, a chunk, an event nor a sync");
	}
	return 0;
}

void nr_msg_done(struct nr_msg *m)
{
	if (!m)
		return;
	json_object_put(m->root);
	free(m->data);
	memset(m, 0, sizeof(*m));
}

const char *nr_msg_str(const struct json_object *body, const char *key, const char *def)
{
	json_object *v;

	if (!body || !json_object_object_get_ex((json_object *)body, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return def;
	return json_object_get_string(v);
}

long long nr_msg_int(const struct json_object *body, const char *key, long long def)
{
	json_object *v;

	if (!body || !json_object_object_get_ex((json_object *)body, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return def;
	return json_object_get_int64(v);
}

static void put_object(struct nr_buf *out, json_object *o)
{
	size_t len;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE, &len);

	if (!s) {
		out->oom = true;
		return;
	}
	nr_frame_wrap(out, s, len);
}

static json_object *get_or_new(json_object *body)
{
	return body ? json_object_get(body) : json_object_new_object();
}

void nr_msg_put_request(struct nr_buf *out, long long id, const char *op, struct json_object *args)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(id));
	json_object_object_add(o, "op", json_object_new_string(op));
	json_object_object_add(o, "args", get_or_new(args));
	put_object(out, o);
	json_object_put(o);
}

void nr_msg_put_result(struct nr_buf *out, long long id, struct json_object *result)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", id > 0 ? json_object_new_int64(id) : NULL);
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "result", get_or_new(result));
	put_object(out, o);
	json_object_put(o);
}

void nr_msg_put_error(struct nr_buf *out, long long id, const char *code, const char *message)
{
	json_object *o = json_object_new_object(), *e = json_object_new_object();

	json_object_object_add(e, "code", json_object_new_string(code));
	json_object_object_add(e, "message", json_object_new_string(message ? message : ""));
	json_object_object_add(o, "id", id > 0 ? json_object_new_int64(id) : NULL);
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", e);
	put_object(out, o);
	json_object_put(o);
}

void nr_msg_put_event(struct nr_buf *out, const char *name, struct json_object *data)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "event", json_object_new_string(name));
	json_object_object_add(o, "data", get_or_new(data));
	put_object(out, o);
	json_object_put(o);
}

void nr_msg_put_chunk(struct nr_buf *out, long long id, long long seq, const void *data, size_t len)
{
	char c = NR_AGENT_STX;

	nr_buf_append(out, &c, 1);
	nr_buf_printf(out, "{\"id\":%lld,\"chunk\":%lld,\"data\":\"", id, seq);
	nr_base64_encode(out, data, len);
	nr_buf_puts(out, "\"}");
	c = NR_AGENT_ETX;
	nr_buf_append(out, &c, 1);
}

void nr_chunk_header_put(unsigned char *out, long long id, long long seq, size_t len, unsigned long long total)
{
	out[0] = NR_AGENT_SOH;
	put_be(out + 1, (unsigned long long)id, 8);
	put_be(out + 9, (unsigned long long)seq, 4);
	put_be(out + 13, len, 4);
	put_be(out + 17, total, 8);
}

void nr_msg_put_chunk_bin(struct nr_buf *out, long long id, long long seq, unsigned long long total,
			  const void *data, size_t len)
{
	unsigned char hdr[1 + NR_AGENT_BIN_HEADER];
	char c = NR_AGENT_ETX;

	nr_chunk_header_put(hdr, id, seq, len, total);
	nr_buf_append(out, (const char *)hdr, sizeof(hdr));
	nr_buf_append(out, data, len);
	nr_buf_append(out, &c, 1);
}

void nr_msg_put_sync(struct nr_buf *out, bool ack, const char *nonce)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, ack ? "sync-ack" : "sync", json_object_new_string(nonce));
	put_object(out, o);
	json_object_put(o);
}
