/* One end of the agent channel: resync in the clear, then TLS 1.3 with mutual
 * authentication and a pinned peer certificate, then frames (docs/PROTOCOL.md 2-4).
 * The host is the TLS client, the guest the TLS server. wolfSSL stays behind this header. */
#ifndef NEURON_TLS_H
#define NEURON_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "neuron/agent_proto.h"
#include "neuron/clock.h"
#include "neuron/error.h"

enum nr_tls_role {
	NR_TLS_HOST,    /* dir holds ca.pem, host.pem, host.key and guest.pem (pinned) */
	NR_TLS_GUEST,   /* dir holds ca.pem, guest.pem, guest.key and host.pem (pinned) */
};

/* Credentials of one side: the VM's CA, our certificate and key, the pinned peer. */
struct nr_tls_creds;

int nr_tls_creds_load(const char *dir, enum nr_tls_role role, struct nr_tls_creds **out,
		      struct nr_error *err);
void nr_tls_creds_free(struct nr_tls_creds *creds);
/* "SHA256:AB:CD:..." of our own certificate and of the pinned peer certificate. */
const char *nr_tls_creds_fingerprint(const struct nr_tls_creds *creds);
const char *nr_tls_creds_peer_fingerprint(const struct nr_tls_creds *creds);

struct nr_tls_link;

/* The byte stream under a link: a transport. core/guest/tls.c does no I/O of its own, so that
 * it builds unchanged on any system; core/guest/tls_fd.c is the POSIX transport (file
 * descriptors, poll) and nr_tls_link_new its constructor. A port to another system
 * (Windows: a HANDLE from CreateFile with overlapped I/O) brings its own struct nr_tls_io
 * and nr_now_ms (neuron/clock.h). None of the three functions blocks except wait. */
enum { NR_TLS_IO_AGAIN = -1, NR_TLS_IO_CLOSED = -2, NR_TLS_IO_ERROR = -3 };
enum { NR_TLS_IO_READABLE = 1, NR_TLS_IO_WRITABLE = 2 };
struct nr_tls_io {
	void *ctx;
	/* Bytes read (> 0), 0 at the end of the stream, NR_TLS_IO_AGAIN when nothing is
	 * there now, NR_TLS_IO_CLOSED when the peer reset the stream, NR_TLS_IO_ERROR
	 * (errno says why). Interrupted calls are retried inside. */
	long (*read)(void *ctx, void *buf, size_t size);
	/* Bytes written (>= 0), NR_TLS_IO_AGAIN when the stream takes nothing now,
	 * NR_TLS_IO_CLOSED when the peer is gone (never a signal), NR_TLS_IO_ERROR. */
	long (*write)(void *ctx, const void *buf, size_t size);
	/* Wait until the stream is NR_TLS_IO_READABLE or _WRITABLE, or until deadline
	 * (nr_now_ms; -1: no deadline): 1 ready, 0 the deadline passed, -1 error. */
	int (*wait)(void *ctx, int what, long long deadline);
	/* Called with ctx when the link is freed (or its creation failed); may be NULL. */
	void (*done)(void *ctx);
};

/* Whether the private key file f (opened from path) is the caller's alone: 0, or
 * -NR_E_PERM with err saying why and what to do. The system's, like the transport:
 * core/guest/tls_fd.c on POSIX (no access for group or others, 0600), agent/win/system.c
 * on Windows (the service keeps the credentials directory to SYSTEM and Administrators). */
int nr_tls_key_private(FILE *f, const char *path, struct nr_error *err);

/* A link over a transport (copied; the link owns io->ctx from here on, see done).
 * creds must outlive the link. */
int nr_tls_link_new_io(const struct nr_tls_io *io, const struct nr_tls_creds *creds,
		       struct nr_tls_link **out, struct nr_error *err);
/* POSIX (core/guest/tls_fd.c): a link over rfd/wfd (the same fd twice for a socket). The fds
 * are borrowed and made non-blocking. */
int nr_tls_link_new(int rfd, int wfd, const struct nr_tls_creds *creds, struct nr_tls_link **out,
		    struct nr_error *err);
void nr_tls_link_free(struct nr_tls_link *link);

/* Host: resync (sync / sync-ack) and handshake within timeout_ms.
 * Guest: scan the clear text (answering syncs) until a ClientHello, then handshake;
 * timeout_ms < 0 waits for ever. Both check the peer against the pinned certificate.
 * Errors: -NR_E_TIMEOUT, -NR_E_AGENT_CLOSED, -NR_E_AGENT_CERT, -NR_E_AGENT_TLS. After a
 * failure the guest calls accept again on a new link over the same fds. */
int nr_tls_link_connect(struct nr_tls_link *link, int timeout_ms, struct nr_error *err);
int nr_tls_link_accept(struct nr_tls_link *link, int timeout_ms, struct nr_error *err);

/* Write bytes that already hold whole frames. A timeout ends the session. */
int nr_tls_link_write(struct nr_tls_link *link, const void *data, size_t len, int timeout_ms,
		      struct nr_error *err);
/* The next text frame (borrowed until the next call); a binary chunk is dropped (its
 * header gives -NR_E_AGENT_FRAME). Returns 0; -NR_E_TIMEOUT when
 * none came in time (the session stays usable); -NR_E_AGENT_FRAME for a dropped frame
 * (the session goes on); -NR_E_AGENT_CLOSED / -NR_E_AGENT_TLS when the session ended, and
 * -NR_E_AGENT_PROTO when the peer stalled (nr_tls_link_set_stall). */
int nr_tls_link_recv(struct nr_tls_link *link, const char **text, size_t *len, int timeout_ms,
		     struct nr_error *err);

/* Version 2 (docs/PROTOCOL.md 6): binary chunk frames. set_binary(true) once hello agreed
 * on version 2 makes the reader take SOH frames (until the session ends; a new session
 * starts without). write_chunk sends one: its header, then data straight from the
 * caller's buffer, then the ETX. */
void nr_tls_link_set_binary(struct nr_tls_link *link, bool on);
int nr_tls_link_write_chunk(struct nr_tls_link *link, long long id, long long seq, unsigned long long total,
			    const void *data, size_t len, int timeout_ms, struct nr_error *err);
/* The next frame, or piece of one: kind NR_FRAME_OK (text, len: a text frame, borrowed
 * until the next call), NR_FRAME_CHUNK (chunk: a binary chunk's header), NR_FRAME_DATA
 * (text, len: the next piece of its bytes, borrowed), NR_FRAME_CHUNK_END (its ETX came:
 * the chunk is whole). With sink (a receiver that wants this chunk, having reserved room
 * for it), the pieces are appended to sink instead (text NULL, len appended), read by
 * wolfSSL straight into it where it can. A binary chunk whose bytes do not end in an ETX
 * gives -NR_E_AGENT_FRAME after its DATA: the receiver takes those bytes back. Errors as
 * nr_tls_link_recv. */
struct nr_tls_frame {
	int kind;
	const char *text;
	size_t len;
	struct nr_chunk_header chunk;
};
int nr_tls_link_recv_frame(struct nr_tls_link *link, struct nr_tls_frame *f, struct nr_buf *sink,
			   int timeout_ms, struct nr_error *err);

/* A peer that stops in the middle of a message (a TLS record or a frame begun and not
 * finished) for stall_ms ends the session, however often recv is called meanwhile; an idle
 * peer (between messages) does not. 0 (the default): no limit. */
void nr_tls_link_set_stall(struct nr_tls_link *link, int stall_ms);

/* The peer's certificate fingerprint after a handshake, "" before. */
const char *nr_tls_link_peer_fingerprint(const struct nr_tls_link *link);
/* Frames dropped so far (oversize, cut), and bytes dropped outside frames. */
unsigned long nr_tls_link_bad_frames(const struct nr_tls_link *link);
unsigned long nr_tls_link_garbage(const struct nr_tls_link *link);

/* Free what the TLS library caches for the calling thread (done by the _free calls too). */
void nr_tls_thread_done(void);

#endif
