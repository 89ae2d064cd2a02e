/* The guest agent wire format (docs/PROTOCOL.md): STX + JSON + ETX frames, base64 chunks,
 * binary chunk frames (version 2: SOH + header + bytes + ETX), and the decoder that turns
 * a frame into a message. Shared by the host client, the reference agent and the fuzz
 * target; no I/O here. */
#ifndef NEURON_AGENT_PROTO_H
#define NEURON_AGENT_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "neuron/error.h"
#include "neuron/util.h"

#define NR_AGENT_CHANNEL      "org.neuronos.agent.0"
#define NR_AGENT_VERSION      2                    /* the newest version this build speaks */
#define NR_AGENT_VERSION_MIN  1                    /* the oldest: base64 chunks in JSON only */
#define NR_AGENT_SOH          0x01                 /* begins a binary chunk frame (version 2) */
#define NR_AGENT_STX          0x02
#define NR_AGENT_ETX          0x03
#define NR_AGENT_FRAME_MAX    (1024u * 1024u)      /* JSON text between STX and ETX */
#define NR_AGENT_CHUNK_MAX    786000u              /* decoded bytes in one chunk: its frame stays under the cap */
#define NR_AGENT_BIN_HEADER   24                   /* after the SOH: id, seq, len, total */
#define NR_AGENT_BIN_CHUNK_MAX (1024u * 1024u)     /* bytes in one binary chunk */
#define NR_AGENT_TRANSFER_MAX (64u * 1024u * 1024u) /* one chunked payload */
#define NR_AGENT_TEXT_MAX     (512u * 1024u)       /* a text clipboard, in one frame */
#define NR_AGENT_APPS_MAX     4096                 /* apps in one apps reply (issue 17) */
#define NR_AGENT_WINDOWS_MAX  1024                 /* windows in one windows reply */
#define NR_AGENT_SHARES_MAX   64                   /* shares in one shares reply */
#define NR_AGENT_ICON_MAX     (4u * 1024u * 1024u) /* one app icon (PNG) */
#define NR_AGENT_PATH_MAX     4096                 /* a guest path (open) */
#define NR_AGENT_ID_MAX       9007199254740991LL   /* ids are 1 .. 2^53 - 1 */

/* The header of a binary chunk frame (docs/PROTOCOL.md 6): SOH, then id (8 bytes), seq
 * (4), len (4) and total (8), each unsigned big-endian; then len bytes and an ETX. */
struct nr_chunk_header {
	long long id;               /* 1 .. 2^53 - 1 */
	long long seq;              /* 0 .. 2^32 - 1 */
	size_t len;                 /* 1 .. NR_AGENT_BIN_CHUNK_MAX */
	unsigned long long total;   /* the whole transfer as its sender announces it (>= len) */
};

/* Incremental frame reader. Embedded: _init/_done. */
struct nr_frame_reader {
	size_t cap;                 /* the size cap of one frame */
	bool in_frame;              /* an STX was seen, no ETX yet */
	bool overlong;              /* the current frame passed the cap: dropped up to its ETX */
	struct nr_buf frame;        /* the current frame's text */
	unsigned long garbage;      /* count of bytes dropped outside frames */
	unsigned long bad;          /* frames dropped (oversize, cut by an STX, bad binary ones) */
	bool binary;                /* version 2 was agreed: SOH frames are read, else garbage */
	int bin;                    /* a binary chunk: 0 none, 1 its header, 2 its bytes, 3 its ETX */
	unsigned char hdr[NR_AGENT_BIN_HEADER];
	size_t hdr_have, bin_left;
	struct nr_chunk_header chunk; /* the binary chunk being read (from NR_FRAME_CHUNK on) */
};

enum nr_frame_result {
	NR_FRAME_MORE = 0,          /* all input consumed, no frame completed */
	NR_FRAME_OK = 1,            /* a frame: text and text_len valid until the next call */
	NR_FRAME_BAD = 2,           /* a frame was dropped; err says why; the reader goes on */
	/* binary chunk frames (only with binary set): CHUNK once its header is read (r->chunk),
	 * then DATA for each piece of its bytes (text/text_len point into the input: no copy),
	 * then CHUNK_END at its ETX, or BAD when the byte after its bytes is not an ETX (its
	 * length lied: what DATA gave must be taken back). */
	NR_FRAME_CHUNK = 3,
	NR_FRAME_DATA = 4,
	NR_FRAME_CHUNK_END = 5,
};

void nr_frame_reader_init(struct nr_frame_reader *r, size_t cap);
void nr_frame_reader_done(struct nr_frame_reader *r);
/* Consume input up to the end of at most one frame; *used says how much. Returns an
 * nr_frame_result, or -NR_E_NOMEM. */
int nr_frame_reader_push(struct nr_frame_reader *r, const void *data, size_t len, size_t *used,
			 const char **text, size_t *text_len, struct nr_error *err);

/* n bytes of the binary chunk being read were taken past the reader (read straight into
 * their destination): count them as its bytes. */
void nr_frame_reader_skip(struct nr_frame_reader *r, size_t n);
/* Whether a frame is begun and not finished (text or binary). */
bool nr_frame_reader_partial(const struct nr_frame_reader *r);

/* Append STX text ETX to out. */
void nr_frame_wrap(struct nr_buf *out, const char *text, size_t len);

/* Standard base64 with padding, no line breaks. */
void nr_base64_encode(struct nr_buf *out, const void *data, size_t len);
/* Decode into a malloc'd buffer; -NR_E_PARSE on a bad string. */
int nr_base64_decode(const char *text, size_t len, unsigned char **out, size_t *out_len);
/* Decode and append to out; on -NR_E_PARSE (or -NR_E_NOMEM) out keeps its length. */
int nr_base64_decode_append(struct nr_buf *out, const char *text, size_t len);

/* True when s[0..len) is valid UTF-8 without NUL bytes. */
bool nr_utf8_valid(const char *s, size_t len);

enum nr_msg_kind {
	NR_MSG_REQUEST,             /* {"id","op","args"} */
	NR_MSG_REPLY,               /* {"id","ok","result"|"error"} */
	NR_MSG_CHUNK,               /* {"id","chunk","data"} */
	NR_MSG_EVENT,               /* {"event","data"} */
	NR_MSG_SYNC,                /* {"sync"} (clear text only) */
	NR_MSG_SYNC_ACK,            /* {"sync-ack"} (clear text only) */
};

struct json_object;

/* One decoded frame. Strings are borrowed from the message and live until nr_msg_done. */
struct nr_msg {
	enum nr_msg_kind kind;
	long long id;               /* -1 when absent or null */
	const char *name;           /* op, event name, or the sync nonce */
	bool ok;                    /* reply */
	const char *err_code;       /* reply with ok false: "bad-request" ... */
	const char *err_message;
	long long seq;              /* chunk */
	unsigned char *data;        /* chunk: decoded bytes (owned) */
	size_t data_len;
	struct json_object *body;   /* args, result or event data (borrowed; NULL when absent) */
	struct json_object *root;   /* owned */
};

/* Decode one frame's text. -NR_E_AGENT_FRAME (err says why) for anything that is not a
 * valid message, m->id then holding the frame's id when it had a valid one and was not a
 * chunk (else -1), for the error reply; m needs nr_msg_done only after success. */
int nr_msg_decode(const char *text, size_t len, struct nr_msg *m, struct nr_error *err);
/* The same, but a chunk's bytes are appended to sink (when not NULL) and m->data stays
 * NULL; m->data_len says how many were appended. A receiver that collects a transfer
 * saves a copy of each chunk; it takes them back (sink->len) if the chunk is not one it
 * wants. Any other message, or an error, leaves sink as it was. */
int nr_msg_decode_into(const char *text, size_t len, struct nr_msg *m, struct nr_buf *sink,
		       struct nr_error *err);
void nr_msg_done(struct nr_msg *m);
const char *nr_msg_kind_name(enum nr_msg_kind kind);

/* Members of a body (args/result/data), with defaults when absent or of another type. */
const char *nr_msg_str(const struct json_object *body, const char *key, const char *def);
long long nr_msg_int(const struct json_object *body, const char *key, long long def);

/* Encoders: each appends one whole frame (STX ... ETX) to out. body may be NULL; it is
 * borrowed. */
void nr_msg_put_request(struct nr_buf *out, long long id, const char *op, struct json_object *args);
void nr_msg_put_result(struct nr_buf *out, long long id, struct json_object *result);
void nr_msg_put_error(struct nr_buf *out, long long id, const char *code, const char *message);
void nr_msg_put_event(struct nr_buf *out, const char *name, struct json_object *data);
void nr_msg_put_chunk(struct nr_buf *out, long long id, long long seq, const void *data, size_t len);
/* The SOH and header of a binary chunk frame into out (1 + NR_AGENT_BIN_HEADER bytes); its
 * len bytes and one ETX follow it on the wire. */
void nr_chunk_header_put(unsigned char *out, long long id, long long seq, size_t len, unsigned long long total);
/* A whole binary chunk frame (header, data, ETX) appended to out (tests; senders write the
 * header and the data straight from their buffers). */
void nr_msg_put_chunk_bin(struct nr_buf *out, long long id, long long seq, unsigned long long total,
			  const void *data, size_t len);
void nr_msg_put_sync(struct nr_buf *out, bool ack, const char *nonce);

#endif
