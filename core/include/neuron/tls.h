/* One end of the agent channel: resync in the clear, then TLS 1.3 with mutual
 * authentication and a pinned peer certificate, then frames (docs/PROTOCOL.md 2-4).
 * The host is the TLS client, the guest the TLS server. wolfSSL stays behind this header. */
#ifndef NEURON_TLS_H
#define NEURON_TLS_H

#include <stdbool.h>
#include <stddef.h>

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

/* A link over rfd/wfd (the same fd twice for a socket). The fds are borrowed and made
 * non-blocking; creds must outlive the link. */
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
/* The next frame's text (borrowed until the next call). Returns 0; -NR_E_TIMEOUT when
 * none came in time (the session stays usable); -NR_E_AGENT_FRAME for a dropped frame
 * (the session goes on); -NR_E_AGENT_CLOSED / -NR_E_AGENT_TLS when the session ended. */
int nr_tls_link_recv(struct nr_tls_link *link, const char **text, size_t *len, int timeout_ms,
		     struct nr_error *err);

/* The peer's certificate fingerprint after a handshake, "" before. */
const char *nr_tls_link_peer_fingerprint(const struct nr_tls_link *link);
/* Frames dropped so far (oversize, cut), and bytes dropped outside frames. */
unsigned long nr_tls_link_bad_frames(const struct nr_tls_link *link);
unsigned long nr_tls_link_garbage(const struct nr_tls_link *link);

/* Free what the TLS library caches for the calling thread (done by the _free calls too). */
void nr_tls_thread_done(void);

/* Milliseconds on the monotonic clock, for deadlines. */
long long nr_tls_now_ms(void);

#endif
