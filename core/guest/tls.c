/* The agent channel's secure link: clear-text resync, TLS 1.3 through wolfSSL with
 * I/O callbacks that honour a deadline, pinning, and frames. docs/PROTOCOL.md 2-4.
 * Portable C: the bytes come and go through a struct nr_tls_io (core/guest/tls_fd.c is the
 * POSIX one), so the guest agent builds on Windows with this file unchanged. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "base/internal.h"
#include "neuron/agent_proto.h"
#include "neuron/tls.h"
#include "guest/tls_internal.h"

#define SYNC_REPEAT_MS 250
#define NR_TLS_HANDSHAKE_MS 10000
#define TLS_RECORD_HANDSHAKE 0x16

struct nr_tls_creds {
	enum nr_tls_role role;
	WOLFSSL_CTX *ctx;
	unsigned char peer_hash[32];
	bool self_signed;           /* our own certificate (what a peer's unknown_ca means) */
	char fp[NR_TLS_FP_SIZE], peer_fp[NR_TLS_FP_SIZE];
};

/* Why a peer's certificate is refused (docs/PROTOCOL.md 3). The refusing side sends the
 * TLS alert of its row; the refused side reads the reason back from that alert. */
enum refusal { REFUSED_NONE, REFUSED_NOT_PINNED, REFUSED_OTHER_CA, REFUSED_SELF_SIGNED, REFUSED_INVALID };

struct nr_tls_link {
	const struct nr_tls_creds *creds;
	struct nr_tls_io io;
	WOLFSSL *ssl;
	long long deadline;         /* for the I/O callbacks; -1: none */
	bool late_read;             /* the one read allowed after the deadline was made */
	bool timed_out, eof, dead;
	bool scanning;              /* clear text: drop until 0x16 outside a frame */
	bool answer_sync;           /* guest: answer sync frames while scanning */
	int handshake_ms;           /* guest: a begun handshake ends within this */
	const char *want_ack;       /* host: the nonce whose ack ends phase 1 */
	bool got_ack;
	bool clr_in_frame, clr_overlong;
	size_t clr_len;
	char clr[256];
	unsigned char rbuf[131072]; /* raw bytes read but not yet given to TLS */
	size_t rpos, rlen;
	unsigned long garbage;
	struct nr_frame_reader reader;
	unsigned char plain[65536]; /* decrypted bytes not yet framed */
	size_t ppos, plen;
	char peer_fp[NR_TLS_FP_SIZE];
	enum refusal refused;       /* we refused the peer's certificate: why */
	unsigned char rec_hdr[5];   /* the TLS record header being given to TLS */
	size_t rec_hdr_have, rec_left; /* ... and what is left of its record */
	int stall_ms;               /* nr_tls_link_set_stall; 0: none */
	long long partial_since;    /* when a message was first seen begun and unfinished; 0: none */
	size_t sync_seen;           /* guest under TLS: bytes of SYNC_MARK at the end of what TLS got */
	bool resync;                /* guest: a host's sync came under TLS: the session is over */
};

/* How every sync frame begins. Under TLS the guest watches for it (docs/PROTOCOL.md 2): a
 * host that died in the middle of a record left the guest waiting for the rest, and the
 * next host's syncs would otherwise be taken as that record's body until it is full. TLS
 * records are ciphertext, where these 10 bytes come by chance once in 2^80. */
static const char SYNC_MARK[] = "\x02{\"sync\":\"";
#define SYNC_MARK_LEN (sizeof(SYNC_MARK) - 1)

static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_init(void)
{
	wolfSSL_Init();
}

void nr_tls_fingerprint_format(const unsigned char hash[32], char out[NR_TLS_FP_SIZE])
{
	char *p = out + sprintf(out, "SHA256:");

	for (int i = 0; i < 32; i++)
		p += sprintf(p, i ? ":%02X" : "%02X", hash[i]);
}

int nr_tls_pem_fingerprint(const char *pem, size_t len, unsigned char hash[32], char *fp,
			   struct nr_error *err)
{
	unsigned char *der = malloc(len);
	int n;

	if (!der)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	n = wc_CertPemToDer((const unsigned char *)pem, (int)len, der, (int)len, CERT_TYPE);
	if (n <= 0) {
		free(der);
		return nr_error_set(err, -NR_E_PARSE, "not a PEM certificate");
	}
	wc_Sha256Hash(der, (word32)n, hash);
	free(der);
	if (fp)
		nr_tls_fingerprint_format(hash, fp);
	return 0;
}

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *vctx);
static int io_send(WOLFSSL *ssl, char *buf, int sz, void *vctx);

/* One DER element at *p: its tag, content and the position after it; false when cut. */
static bool der_next(const unsigned char **p, const unsigned char *end, unsigned char *tag,
		     const unsigned char **content, size_t *len)
{
	const unsigned char *q = *p;
	size_t n;

	if (end - q < 2)
		return false;
	*tag = *q++;
	n = *q++;
	if (n & 0x80) {
		int k = (int)(n & 0x7f);
		if (k < 1 || k > 3 || end - q < k)
			return false;
		for (n = 0; k--; )
			n = n << 8 | *q++;
	}
	if ((size_t)(end - q) < n)
		return false;
	*content = q;
	*len = n;
	*p = q + n;
	return true;
}

/* Field n of a certificate's tbsCertificate (DER), counted as if the optional [0] version
 * were always there: 3 issuer, 5 subject, 6 subjectPublicKeyInfo. The whole element, its
 * tag and length included. */
static bool der_tbs_field(const unsigned char *der, size_t der_len, int n, const unsigned char **el,
			  size_t *el_len)
{
	const unsigned char *p = der, *end = der + der_len, *c, *at;
	size_t len;
	unsigned char tag;

	if (!der_next(&p, end, &tag, &c, &len) || tag != 0x30) /* Certificate */
		return false;
	p = c;
	end = c + len;
	if (!der_next(&p, end, &tag, &c, &len) || tag != 0x30) /* tbsCertificate */
		return false;
	p = c;
	end = c + len;
	for (int field = 0; at = p, der_next(&p, end, &tag, &c, &len); field++) {
		if (field == 0 && tag != 0xa0)
			field++;
		if (field == n) {
			*el = at;
			*el_len = (size_t)(p - at);
			return true;
		}
	}
	return false;
}

/* Whether a certificate (DER) names itself as its issuer: a self-signed one. */
static bool der_self_signed(const unsigned char *der, size_t der_len)
{
	const unsigned char *issuer, *subject;
	size_t issuer_len, subject_len;

	return der_tbs_field(der, der_len, 3, &issuer, &issuer_len) &&
	       der_tbs_field(der, der_len, 5, &subject, &subject_len) && issuer_len == subject_len &&
	       memcmp(issuer, subject, issuer_len) == 0;
}

/* Whether the private key (PEM) is the one whose public key the certificate (DER) carries.
 * wolfSSL_CTX_check_private_key is not enough: built with a crypto callback (Debian's
 * --enable-distro has WOLF_CRYPTO_CB) it let a key of another pair through. */
static bool key_matches(const unsigned char *cert, size_t cert_len, const char *pem, size_t pem_len)
{
	const unsigned char *spki;
	unsigned char *der = malloc(pem_len), a[160], b[160];
	word32 idx = 0, a_len = sizeof(a), b_len = sizeof(b);
	size_t spki_len;
	/* from the library, not on our stack: its size is the library's (the Windows build's
	 * headers and library disagree about it) */
	ecc_key *priv = wc_ecc_key_new(NULL), *pub = wc_ecc_key_new(NULL);
	int n;
	bool same = false;

	if (der && priv && pub && der_tbs_field(cert, cert_len, 6, &spki, &spki_len) &&
	    (n = wc_KeyPemToDer((const unsigned char *)pem, (int)pem_len, der, (int)pem_len, NULL)) > 0 &&
	    wc_EccPrivateKeyDecode(der, &idx, priv, (word32)n) == 0) {
		/* the public point from the private scalar when the key does not carry it */
		if (wc_ecc_export_x963(priv, a, &a_len) != 0) {
			a_len = sizeof(a);
			if (wc_ecc_make_pub(priv, NULL) != 0 || wc_ecc_export_x963(priv, a, &a_len) != 0)
				a_len = 0;
		}
		idx = 0;
		same = a_len > 0 && wc_EccPublicKeyDecode(spki, &idx, pub, (word32)spki_len) == 0 &&
		       wc_ecc_export_x963(pub, b, &b_len) == 0 && a_len == b_len && memcmp(a, b, a_len) == 0;
	}
	wc_ecc_key_free(priv);
	wc_ecc_key_free(pub);
	if (der)
		memset(der, 0, pem_len);
	free(der);
	return same;
}

/* store->error is wolfSSL's code, or OpenSSL's X509_V_ERR_* in a build with
 * OPENSSL_COMPATIBLE_DEFAULTS (Debian's --enable-distro): both are known. */
static bool date_error(int e)
{
	return e == ASN_BEFORE_DATE_E || e == ASN_AFTER_DATE_E || e == X509_V_ERR_CERT_NOT_YET_VALID ||
	       e == X509_V_ERR_CERT_HAS_EXPIRED || e == X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD ||
	       e == X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD;
}

static bool no_signer_error(int e)
{
	return e == ASN_NO_SIGNER_E || e == ASN_SELF_SIGNED_E || e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
	       e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY || e == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT;
}

static int verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
	struct nr_tls_link *l = store->userCtx;
	bool date = date_error(store->error);
	const WOLFSSL_BUFFER_INFO *leaf;
	unsigned char hash[32];

	if (!preverify && !date) {
		if (l && !l->refused) {
			bool no_signer = no_signer_error(store->error);
			leaf = store->totalCerts > 0 && store->certs ? &store->certs[0] : NULL;
			if (!no_signer)
				l->refused = REFUSED_INVALID;
			else if (leaf && store->error_depth == 0 && der_self_signed(leaf->buffer, leaf->length))
				l->refused = REFUSED_SELF_SIGNED;
			else
				l->refused = REFUSED_OTHER_CA;
			if (leaf) {
				wc_Sha256Hash(leaf->buffer, leaf->length, hash);
				nr_tls_fingerprint_format(hash, l->peer_fp);
			}
		}
		return 0;
	}
	if (!l || store->error_depth != 0)
		return 1;
	leaf = store->totalCerts > 0 && store->certs ? &store->certs[0] : NULL;
	if (!leaf)
		return 0;
	wc_Sha256Hash(leaf->buffer, leaf->length, hash);
	nr_tls_fingerprint_format(hash, l->peer_fp);
	if (memcmp(hash, l->creds->peer_hash, sizeof(hash)) != 0) {
		l->refused = REFUSED_NOT_PINNED;
		return 0;
	}
	return 1;
}

/* Read with stdio, not nr_read_file (open, read): this file stays portable C. */
static int read_cred(const char *dir, const char *name, char **out, size_t *len, struct nr_error *err)
{
	char *path = nr_path_join(dir, name), chunk[4096];
	struct nr_buf b;
	FILE *f;
	size_t n;
	int rc = 0;

	if (!path)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	if (!(f = fopen(path, "rb"))) {
		int e = errno;
		if (e == ENOENT)
			rc = nr_error_set(err, -NR_E_AGENT_NOCERTS,
					  "no agent credentials: %s is missing (make them with neuronctl agent certs VM)",
					  path);
		else
			rc = nr_error_set(err, e == EACCES ? -NR_E_PERM : -NR_E_IO, "cannot read %s: %s", path,
					  strerror(e));
		free(path);
		return rc;
	}
	size_t name_len = strlen(name);
	if (name_len > 4 && strcmp(name + name_len - 4, ".key") == 0 && (rc = nr_tls_key_private(f, path, err)) < 0) {
		fclose(f);
		free(path);
		return rc;
	}
	nr_buf_init(&b);
	nr_buf_append(&b, "", 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		nr_buf_append(&b, chunk, n);
	if (ferror(f))
		rc = nr_error_set(err, -NR_E_IO, "cannot read %s: %s", path, strerror(errno));
	else if (b.oom)
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
	fclose(f);
	memset(chunk, 0, sizeof(chunk)); /* a piece of a private key */
	free(path);
	if (rc < 0) {
		nr_buf_done(&b);
		return rc;
	}
	*len = b.len;
	*out = nr_buf_steal(&b);
	return 0;
}

int nr_tls_creds_load(const char *dir, enum nr_tls_role role, struct nr_tls_creds **out,
		      struct nr_error *err)
{
	const char *own = role == NR_TLS_HOST ? "host" : "guest";
	const char *peer = role == NR_TLS_HOST ? "guest.pem" : "host.pem";
	char *ca = NULL, *cert = NULL, *key = NULL, *peer_pem = NULL, name[32];
	size_t ca_len, cert_len, key_len, peer_len;
	unsigned char hash[32];
	struct nr_tls_creds *c;
	int rc;

	*out = NULL;
	pthread_once(&tls_once, tls_init);
	c = calloc(1, sizeof(*c));
	if (!c)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	c->role = role;
	snprintf(name, sizeof(name), "%s.pem", own);
	if ((rc = read_cred(dir, "ca.pem", &ca, &ca_len, err)) < 0 ||
	    (rc = read_cred(dir, name, &cert, &cert_len, err)) < 0)
		goto fail;
	snprintf(name, sizeof(name), "%s.key", own);
	if ((rc = read_cred(dir, name, &key, &key_len, err)) < 0 ||
	    (rc = read_cred(dir, peer, &peer_pem, &peer_len, err)) < 0)
		goto fail;
	if ((rc = nr_tls_pem_fingerprint(peer_pem, peer_len, c->peer_hash, c->peer_fp, err)) < 0 ||
	    (rc = nr_tls_pem_fingerprint(cert, cert_len, hash, c->fp, err)) < 0) {
		nr_error_prefix(err, "%s: ", dir);
		goto fail;
	}
	{
		unsigned char *der = malloc(cert_len);
		int n = der ? wc_CertPemToDer((const unsigned char *)cert, (int)cert_len, der, (int)cert_len, CERT_TYPE) : 0;
		bool match = n > 0 && key_matches(der, (size_t)n, key, key_len);
		c->self_signed = n > 0 && der_self_signed(der, (size_t)n);
		free(der);
		if (!match) {
			rc = nr_error_set(err, -NR_E_AGENT_CERT,
					  "%s/%s.key is not the key of %s/%s.pem (a key and a certificate from different "
					  "runs of neuronctl agent certs?): copy the whole bundle again", dir, own, dir, own);
			goto fail;
		}
	}
	c->ctx = wolfSSL_CTX_new(role == NR_TLS_HOST ? wolfTLSv1_3_client_method()
						      : wolfTLSv1_3_server_method());
	if (!c->ctx) {
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto fail;
	}
	if (wolfSSL_CTX_load_verify_buffer(c->ctx, (unsigned char *)ca, (long)ca_len,
					   WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS) {
		rc = nr_error_set(err, -NR_E_AGENT_CERT, "%s/ca.pem is not a usable CA certificate", dir);
		goto fail;
	}
	if (wolfSSL_CTX_use_certificate_buffer(c->ctx, (unsigned char *)cert, (long)cert_len,
					       WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_PrivateKey_buffer(c->ctx, (unsigned char *)key, (long)key_len,
					      WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_check_private_key(c->ctx) != WOLFSSL_SUCCESS) {
		rc = nr_error_set(err, -NR_E_AGENT_CERT, "%s/%s.pem and %s.key are not a usable pair",
				  dir, own, own);
		goto fail;
	}
	/* Without AES-NI (Debian's wolfSSL), the portable ChaCha20-Poly1305 is about twice as
	 * fast as table AES-GCM, and a clipboard image is megabytes. */
#ifdef WOLFSSL_AESNI
	wolfSSL_CTX_set_cipher_list(c->ctx, "TLS13-AES128-GCM-SHA256:TLS13-CHACHA20-POLY1305-SHA256:"
					    "TLS13-AES256-GCM-SHA384");
#else
	wolfSSL_CTX_set_cipher_list(c->ctx, "TLS13-CHACHA20-POLY1305-SHA256:TLS13-AES128-GCM-SHA256:"
					    "TLS13-AES256-GCM-SHA384");
#endif
	wolfSSL_CTX_set_verify(c->ctx, WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
	wolfSSL_CTX_SetIORecv(c->ctx, io_recv);
	wolfSSL_CTX_SetIOSend(c->ctx, io_send);
	rc = 0;
	*out = c;
	c = NULL;
fail:
	wolfSSL_ERR_clear_error();
	if (key)
		memset(key, 0, key_len);
	free(ca);
	free(cert);
	free(key);
	free(peer_pem);
	nr_tls_creds_free(c);
	return rc;
}

void nr_tls_creds_free(struct nr_tls_creds *c)
{
	if (!c)
		return;
	wolfSSL_CTX_free(c->ctx);
	free(c);
	nr_tls_thread_done();
}

void nr_tls_thread_done(void)
{
	/* wolfSSL's fixed-point ECC cache is per thread and lives until freed. */
	wc_ecc_fp_free();
}

const char *nr_tls_creds_fingerprint(const struct nr_tls_creds *c)
{
	return c->fp;
}

const char *nr_tls_creds_peer_fingerprint(const struct nr_tls_creds *c)
{
	return c->peer_fp;
}

static void set_deadline(struct nr_tls_link *l, long long deadline)
{
	l->deadline = deadline;
	l->late_read = false;
}

/* Write all of buf before the link's deadline: 0, or -1 with timed_out / eof set. */
static int write_all(struct nr_tls_link *l, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		int r = l->io.wait(l->io.ctx, NR_TLS_IO_WRITABLE, l->deadline);
		if (r == 0) {
			l->timed_out = true;
			return -1;
		}
		if (r < 0)
			return -1;
		long n = l->io.write(l->io.ctx, p, len);
		if (n == NR_TLS_IO_AGAIN)
			continue;
		if (n < 0) {
			if (n == NR_TLS_IO_CLOSED)
				l->eof = true;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read more raw bytes into rbuf (which must be drained): >0 bytes, 0 timeout (timed_out)
 * or end of stream (eof), -1 error. */
static long fill(struct nr_tls_link *l, void *dst, size_t size)
{
	/* A peer that never stops sending must not hold us past the deadline: after it,
	 * one more read is allowed (a zero timeout still takes what is there), then no more. */
	if (l->deadline >= 0 && nr_now_ms() >= l->deadline) {
		if (l->late_read) {
			l->timed_out = true;
			return 0;
		}
		l->late_read = true;
	}
	for (;;) {
		/* read first, wait only when there is nothing: one system call less per record */
		long n = l->io.read(l->io.ctx, dst, size);
		if (n > 0)
			return n;
		if (n == 0) {
			l->eof = true;
			return 0;
		}
		if (n != NR_TLS_IO_AGAIN) {
			if (n == NR_TLS_IO_CLOSED)
				l->eof = true;
			return -1;
		}
		int r = l->io.wait(l->io.ctx, NR_TLS_IO_READABLE, l->deadline);
		if (r == 0) {
			l->timed_out = true;
			return 0;
		}
		if (r < 0)
			return -1;
	}
}

static void clear_frame(struct nr_tls_link *l)
{
	struct nr_msg m;
	struct nr_buf ack;

	if (nr_msg_decode(l->clr, l->clr_len, &m, NULL) < 0)
		return;
	if (m.kind == NR_MSG_SYNC && l->answer_sync) {
		nr_buf_init(&ack);
		nr_msg_put_sync(&ack, true, m.name);
		if (!ack.oom)
			write_all(l, ack.data, ack.len);
		nr_buf_done(&ack);
	} else if (m.kind == NR_MSG_SYNC_ACK && l->want_ack && strcmp(m.name, l->want_ack) == 0) {
		l->got_ack = true;
	}
	nr_msg_done(&m);
}

/* The clear-text scanner over rbuf (docs/PROTOCOL.md 2). With stop_at_tls, the first
 * TLS record header of a ClientHello (16 03 01..03) outside a frame ends scanning and stays
 * in rbuf for TLS. Returns false when a possible header is cut at the end of rbuf: the
 * caller reads more and calls again. */
static bool scan(struct nr_tls_link *l, bool stop_at_tls)
{
	while (l->rpos < l->rlen) {
		unsigned char c = l->rbuf[l->rpos];

		if (!l->clr_in_frame) {
			if (c == NR_AGENT_STX) {
				l->clr_in_frame = true;
				l->clr_overlong = false;
				l->clr_len = 0;
			} else if (c == TLS_RECORD_HANDSHAKE && stop_at_tls) {
				if (l->rlen - l->rpos < 3)
					return false;
				if (l->rbuf[l->rpos + 1] == 0x03 && l->rbuf[l->rpos + 2] >= 0x01 &&
				    l->rbuf[l->rpos + 2] <= 0x03) {
					l->scanning = false;
					return true;
				}
				l->garbage++;
			} else {
				l->garbage++;
			}
			l->rpos++;
			continue;
		}
		l->rpos++;
		if (c == NR_AGENT_ETX) {
			l->clr_in_frame = false;
			if (!l->clr_overlong)
				clear_frame(l);
			/* the resync (phase 1) ends at our ack; the rest stays in rbuf. Later, while
			 * waiting for the guest's TLS flight, the scan must go on over every frame
			 * there: a guest that started late answers each of the syncs that piled up,
			 * and stopping at each of those duplicate acks made io_recv wait for more
			 * bytes with the flight already in rbuf, until the deadline. */
			if (l->got_ack && l->want_ack)
				return true;
		} else if (c == NR_AGENT_STX) {
			l->clr_len = 0;
			l->clr_overlong = false;
		} else if (l->clr_len < sizeof(l->clr)) {
			l->clr[l->clr_len++] = (char)c;
		} else {
			l->clr_overlong = true;
		}
	}
	return true;
}

/* Guest under TLS: whether a sync frame begins in the k bytes at rpos (or completes one cut
 * at the end of the bytes TLS already got). Found: rpos is moved to the frame's STX when it
 * is there (the scanner then answers this very sync), else past the mark (the host's next
 * repetition is answered). */
static bool sync_under_tls(struct nr_tls_link *l, size_t k)
{
	const unsigned char *start = l->rbuf + l->rpos, *p = start, *e = start + k;

	while (l->sync_seen && p < e) {
		if (*p != (unsigned char)SYNC_MARK[l->sync_seen]) {
			l->sync_seen = 0;
			break;
		}
		p++;
		if (++l->sync_seen == SYNC_MARK_LEN) {
			l->rpos += (size_t)(p - start);
			return true;
		}
	}
	while (p < e && (p = memchr(p, NR_AGENT_STX, (size_t)(e - p)))) {
		size_t n = 1;
		while (n < SYNC_MARK_LEN && p + n < e && p[n] == (unsigned char)SYNC_MARK[n])
			n++;
		if (n == SYNC_MARK_LEN) {
			l->rpos += (size_t)(p - start);
			return true;
		}
		if (p + n == e) {
			l->sync_seen = n;
			break;
		}
		p++;
	}
	return false;
}

/* Follow the record boundaries in the bytes given to TLS, so that a record begun and not
 * finished can be told from a quiet line (a stalled peer, nr_tls_link_set_stall). */
static void track_records(struct nr_tls_link *l, const unsigned char *p, size_t k)
{
	while (k) {
		if (l->rec_left) {
			size_t n = k < l->rec_left ? k : l->rec_left;
			l->rec_left -= n;
			p += n;
			k -= n;
			continue;
		}
		l->rec_hdr[l->rec_hdr_have++] = *p++;
		k--;
		if (l->rec_hdr_have == sizeof(l->rec_hdr)) {
			l->rec_left = (size_t)l->rec_hdr[3] << 8 | l->rec_hdr[4];
			l->rec_hdr_have = 0;
		}
	}
}

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *vctx)
{
	struct nr_tls_link *l = vctx;
	long n;

	(void)ssl;
	for (;;) {
		if (l->scanning && scan(l, true) && !l->scanning && l->handshake_ms > 0) {
			/* A handshake has begun: it must end in time even when the guest waits
			 * for ever for a host, or stale bytes that look like TLS would hold it. */
			long long end = nr_now_ms() + l->handshake_ms;
			if (l->deadline < 0 || l->deadline > end)
				set_deadline(l, end);
		}
		if (!l->scanning && l->rpos < l->rlen) {
			size_t k = l->rlen - l->rpos;
			if (k > (size_t)sz)
				k = (size_t)sz;
			if (l->creds->role == NR_TLS_GUEST && sync_under_tls(l, k)) {
				l->resync = true;
				l->scanning = true;
				return WOLFSSL_CBIO_ERR_GENERAL;
			}
			memcpy(buf, l->rbuf + l->rpos, k);
			track_records(l, l->rbuf + l->rpos, k);
			l->rpos += k;
			return (int)k;
		}
		/* Read ahead into rbuf, keeping what is left there (while scanning: a possibly
		 * cut record header). Under TLS wolfSSL asks for a record header, then its body,
		 * so reading straight into its buffer cost two system calls per 16 KiB record;
		 * one read here serves several, and what is left when a session ends stays for
		 * the clear-text scanner. */
		memmove(l->rbuf, l->rbuf + l->rpos, l->rlen - l->rpos);
		l->rlen -= l->rpos;
		l->rpos = 0;
		n = fill(l, l->rbuf + l->rlen, sizeof(l->rbuf) - l->rlen);
		if (n > 0) {
			l->rlen += (size_t)n;
			continue;
		}
		if (n == 0 && l->timed_out)
			return WOLFSSL_CBIO_ERR_WANT_READ;
		if (l->eof)
			return WOLFSSL_CBIO_ERR_CONN_CLOSE;
		return WOLFSSL_CBIO_ERR_GENERAL;
	}
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *vctx)
{
	struct nr_tls_link *l = vctx;

	(void)ssl;
	for (;;) {
		long n = l->io.write(l->io.ctx, buf, (size_t)sz);
		if (n >= 0)
			return (int)n;
		if (n == NR_TLS_IO_CLOSED) {
			l->eof = true;
			return WOLFSSL_CBIO_ERR_CONN_CLOSE;
		}
		if (n != NR_TLS_IO_AGAIN)
			return WOLFSSL_CBIO_ERR_GENERAL;
		int r = l->io.wait(l->io.ctx, NR_TLS_IO_WRITABLE, l->deadline);
		if (r == 0) {
			l->timed_out = true;
			return WOLFSSL_CBIO_ERR_WANT_WRITE;
		}
		if (r < 0)
			return WOLFSSL_CBIO_ERR_GENERAL;
	}
}

int nr_tls_link_new_io(const struct nr_tls_io *io, const struct nr_tls_creds *creds,
		       struct nr_tls_link **out, struct nr_error *err)
{
	struct nr_tls_link *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (!l) {
		if (io->done)
			io->done(io->ctx);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	l->creds = creds;
	l->io = *io;
	l->deadline = -1;
	nr_frame_reader_init(&l->reader, NR_AGENT_FRAME_MAX);
	*out = l;
	return 0;
}

void nr_tls_link_free(struct nr_tls_link *l)
{
	if (!l)
		return;
	wolfSSL_free(l->ssl);
	wolfSSL_ERR_clear_error();
	nr_frame_reader_done(&l->reader);
	if (l->io.done)
		l->io.done(l->io.ctx);
	free(l);
	nr_tls_thread_done();
}

/* A fresh session on the same stream: what was read in the clear stays in rbuf. */
static int new_session(struct nr_tls_link *l, long long deadline, struct nr_error *err)
{
	wolfSSL_free(l->ssl);
	l->ssl = wolfSSL_new(l->creds->ctx);
	if (!l->ssl)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	wolfSSL_SetIOReadCtx(l->ssl, l);
	wolfSSL_SetIOWriteCtx(l->ssl, l);
	wolfSSL_SetCertCbCtx(l->ssl, l);
	l->refused = REFUSED_NONE;
	l->sync_seen = 0;
	l->resync = false;
	l->rec_hdr_have = l->rec_left = 0;
	l->partial_since = 0;
	nr_frame_reader_done(&l->reader);
	nr_frame_reader_init(&l->reader, NR_AGENT_FRAME_MAX);
	l->ppos = l->plen = 0;
	set_deadline(l, deadline);
	l->timed_out = l->eof = l->dead = false;
	l->got_ack = false;
	l->clr_in_frame = false;
	l->peer_fp[0] = '\0';
	return 0;
}

static const char *peer_name(const struct nr_tls_link *l)
{
	return l->creds->role == NR_TLS_HOST ? "the guest agent" : "the host";
}

static const char *own_name(const struct nr_tls_link *l)
{
	return l->creds->role == NR_TLS_HOST ? "this host's" : "this guest's";
}

/* Why a certificate was refused, in words; the refusing side's fingerprints fill %s. */
static const char *refusal_why(enum refusal why)
{
	switch (why) {
	case REFUSED_NOT_PINNED:
		return "not pinned: it is signed by this VM's agent CA but is not the certificate pinned "
		       "there (were the credentials made again with --force? the other side needs them too)";
	case REFUSED_OTHER_CA:
		return "other CA: it is not signed by this VM's agent CA (another VM's credentials, or "
		       "older ones)";
	case REFUSED_SELF_SIGNED:
		return "self-signed: it is signed by itself, not by this VM's agent CA";
	default:
		return "it does not verify (a bad signature or a malformed certificate)";
	}
}

/* The peer's certificate refused here, or ours refused by the peer (its alert says why:
 * bad_certificate for not pinned, unknown_ca for another CA, or self-signed when our own
 * certificate is), as -NR_E_AGENT_CERT; 0 when the failure was not about certificates. */
static int cert_refusal(struct nr_tls_link *l, struct nr_error *err)
{
	WOLFSSL_ALERT_HISTORY h;
	enum refusal why;

	if (l->refused)
		return nr_error_set(err, -NR_E_AGENT_CERT, "%s's certificate %s was refused: %s",
				    peer_name(l), l->peer_fp[0] ? l->peer_fp : "(none)", refusal_why(l->refused));
	memset(&h, 0, sizeof(h));
	if (!l->ssl || wolfSSL_get_alert_history(l->ssl, &h) != WOLFSSL_SUCCESS || h.last_rx.level != alert_fatal)
		return 0;
	switch (h.last_rx.code) {
	case bad_certificate: /* wolfSSL sends it for a self-signed one too */
		why = l->creds->self_signed ? REFUSED_SELF_SIGNED : REFUSED_NOT_PINNED;
		break;
	case unknown_ca:
		why = l->creds->self_signed ? REFUSED_SELF_SIGNED : REFUSED_OTHER_CA;
		break;
	case certificate_unknown:
	case unsupported_certificate:
	case 116: /* certificate_required */
	case decrypt_error:
		why = REFUSED_INVALID;
		break;
	default:
		return 0;
	}
	l->dead = true;
	return nr_error_set(err, -NR_E_AGENT_CERT, "%s refused %s certificate %s (TLS alert %d): %s", peer_name(l),
			    own_name(l), l->creds->fp, h.last_rx.code, refusal_why(why));
}

static int tls_fail(struct nr_tls_link *l, int ret, const char *what, struct nr_error *err)
{
	int e = wolfSSL_get_error(l->ssl, ret), rc;
	char msg[WOLFSSL_MAX_ERROR_SZ];

	l->dead = true;
	wolfSSL_ERR_error_string_n((unsigned long)e, msg, sizeof(msg));
	wolfSSL_ERR_clear_error();
	if ((rc = cert_refusal(l, err)) < 0)
		return rc;
	if (l->resync)
		return nr_error_set(err, -NR_E_AGENT_TLS, "a host's sync came during the %s: a new host resyncs", what);
	if (l->timed_out)
		return nr_error_set(err, -NR_E_TIMEOUT, "the guest agent's peer did not answer in time (%s)", what);
	if (l->eof)
		return nr_error_set(err, -NR_E_AGENT_CLOSED, "the peer closed the connection (%s)", what);
	if (e == NO_PEER_CERT)
		return nr_error_set(err, -NR_E_AGENT_CERT, "%s sent no certificate", peer_name(l));
	return nr_error_set(err, -NR_E_AGENT_TLS, "%s failed: %s (wolfSSL %d)", what, msg, e);
}

/* The resync nonce: wolfSSL's RNG (the system's entropy source on each system). */
static int random_bytes(unsigned char *out, size_t len, struct nr_error *err)
{
	WC_RNG rng;
	int ret = wc_InitRng(&rng);

	if (ret == 0) {
		ret = wc_RNG_GenerateBlock(&rng, out, (word32)len);
		wc_FreeRng(&rng);
	}
	if (ret != 0)
		return nr_error_set(err, -NR_E_IO, "no random numbers: %s (wolfCrypt %d)", wc_GetErrorString(ret), ret);
	return 0;
}

int nr_tls_link_connect(struct nr_tls_link *l, int timeout_ms, struct nr_error *err)
{
	long long deadline = nr_now_ms() + (timeout_ms < 0 ? 0 : timeout_ms), next = 0;
	unsigned char rnd[16];
	char nonce[33];
	struct nr_buf sync;
	int rc, ret;

	if ((rc = new_session(l, deadline, err)) < 0)
		return rc;
	if ((rc = random_bytes(rnd, sizeof(rnd), err)) < 0)
		return rc;
	for (int i = 0; i < 16; i++)
		sprintf(nonce + 2 * i, "%02x", rnd[i]);
	nr_buf_init(&sync);
	nr_msg_put_sync(&sync, false, nonce);
	if (sync.oom)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	l->want_ack = nonce;
	l->scanning = false;
	for (;;) {
		long long now = nr_now_ms();
		scan(l, false);
		if (l->got_ack)
			break;
		if (now >= deadline) {
			rc = nr_error_set(err, -NR_E_TIMEOUT,
					  "the guest agent did not answer the resync within %d ms: is neuron-agent "
					  "running in the guest (and no other client holding the channel)?", timeout_ms);
			goto out;
		}
		if (now >= next) {
			set_deadline(l, deadline);
			if (write_all(l, sync.data, sync.len) < 0) {
				rc = l->timed_out ? nr_error_set(err, -NR_E_TIMEOUT, "the channel does not take bytes")
						  : nr_error_set(err, -NR_E_AGENT_CLOSED, "the channel is closed");
				goto out;
			}
			next = now + SYNC_REPEAT_MS;
		}
		set_deadline(l, next < deadline ? next : deadline);
		l->timed_out = false;
		l->rpos = l->rlen = 0;
		long n = fill(l, l->rbuf, sizeof(l->rbuf));
		if (n > 0) {
			l->rlen = (size_t)n;
		} else if (l->eof) {
			rc = nr_error_set(err, -NR_E_AGENT_CLOSED, "the channel closed during the resync");
			goto out;
		} else if (!l->timed_out) {
			rc = nr_error_set(err, -NR_E_IO, "cannot read the channel: %s", strerror(errno));
			goto out;
		}
	}
	l->want_ack = NULL;
	l->scanning = true;
	set_deadline(l, deadline);
	l->timed_out = false;
	ret = wolfSSL_connect(l->ssl);
	rc = ret == WOLFSSL_SUCCESS ? 0 : tls_fail(l, ret, "TLS handshake", err);
out:
	l->want_ack = NULL;
	if (rc < 0)
		l->dead = true;
	nr_buf_done(&sync);
	return rc;
}

int nr_tls_link_accept(struct nr_tls_link *l, int timeout_ms, struct nr_error *err)
{
	int rc, ret;

	if ((rc = new_session(l, timeout_ms < 0 ? -1 : nr_now_ms() + timeout_ms, err)) < 0)
		return rc;
	l->scanning = true;
	l->answer_sync = true;
	l->handshake_ms = NR_TLS_HANDSHAKE_MS;
	ret = wolfSSL_accept(l->ssl);
	l->answer_sync = false;
	if (ret != WOLFSSL_SUCCESS)
		return tls_fail(l, ret, "TLS handshake", err);
	return 0;
}

static int dead_error(struct nr_tls_link *l, struct nr_error *err)
{
	if (l->eof)
		return nr_error_set(err, -NR_E_AGENT_CLOSED, NULL);
	return nr_error_set(err, -NR_E_AGENT_TLS, "the session has ended");
}

int nr_tls_link_write(struct nr_tls_link *l, const void *data, size_t len, int timeout_ms,
		      struct nr_error *err)
{
	const char *p = data;

	if (l->dead || !l->ssl)
		return dead_error(l, err);
	set_deadline(l, timeout_ms < 0 ? -1 : nr_now_ms() + timeout_ms);
	l->timed_out = false;
	while (len) {
		int k = len > (1u << 30) ? 1 << 30 : (int)len;
		int n = wolfSSL_write(l->ssl, p, k);
		if (n <= 0) {
			l->dead = true;
			wolfSSL_ERR_clear_error();
			if (l->timed_out)
				return nr_error_set(err, -NR_E_TIMEOUT, "the peer does not read what we send");
			if (l->eof)
				return nr_error_set(err, -NR_E_AGENT_CLOSED, NULL);
			return nr_error_set(err, -NR_E_AGENT_TLS, "TLS write failed");
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int nr_tls_link_write_chunk(struct nr_tls_link *l, long long id, long long seq, unsigned long long total,
			    const void *data, size_t len, int timeout_ms, struct nr_error *err)
{
	unsigned char hdr[1 + NR_AGENT_BIN_HEADER];
	int rc;

	nr_chunk_header_put(hdr, id, seq, len, total);
	/* the bytes go from the caller's buffer into wolfSSL's records, never copied here */
	if ((rc = nr_tls_link_write(l, hdr, sizeof(hdr), timeout_ms, err)) < 0 ||
	    (rc = nr_tls_link_write(l, data, len, timeout_ms, err)) < 0)
		return rc;
	return nr_tls_link_write(l, "\x03", 1, timeout_ms, err);
}

void nr_tls_link_set_binary(struct nr_tls_link *l, bool on)
{
	l->reader.binary = on;
}

/* A piece of a binary chunk's bytes that went into sink (f->text NULL). */
static int sunk(struct nr_tls_frame *f, size_t n)
{
	f->kind = NR_FRAME_DATA;
	f->text = NULL;
	f->len = n;
	return 0;
}

int nr_tls_link_recv_frame(struct nr_tls_link *l, struct nr_tls_frame *f, struct nr_buf *sink, int timeout_ms,
			   struct nr_error *err)
{
	long long deadline = timeout_ms < 0 ? -1 : nr_now_ms() + timeout_ms;

	if (l->dead || !l->ssl)
		return dead_error(l, err);
	set_deadline(l, deadline);
	for (;;) {
		if (l->ppos < l->plen) {
			size_t used = 0;
			int r = nr_frame_reader_push(&l->reader, l->plain + l->ppos, l->plen - l->ppos, &used,
						     &f->text, &f->len, err);
			l->ppos += used;
			if (r == NR_FRAME_BAD)
				return -NR_E_AGENT_FRAME;
			if (r < 0)
				return r;
			if (r == NR_FRAME_MORE)
				continue;
			if (r == NR_FRAME_OK || r == NR_FRAME_CHUNK_END)
				l->partial_since = 0; /* progress: the next message has its own time */
			if (r == NR_FRAME_CHUNK)
				f->chunk = l->reader.chunk;
			if (r == NR_FRAME_DATA && sink) {
				nr_buf_append(sink, f->text, f->len);
				return sink->oom ? nr_error_set(err, -NR_E_NOMEM, NULL) : sunk(f, f->len);
			}
			f->kind = r;
			return 0;
		}
		l->timed_out = false;
		/* a binary chunk's bytes, when no decrypted ones wait: from wolfSSL's record
		 * straight into the transfer (its room reserved by the caller) */
		int n;
		if (sink && l->reader.bin == 2 && sink->data && sink->cap - sink->len > l->reader.bin_left) {
			size_t want = l->reader.bin_left < (1u << 30) ? l->reader.bin_left : (1u << 30);
			n = wolfSSL_read(l->ssl, sink->data + sink->len, (int)want);
			if (n > 0) {
				sink->len += (size_t)n;
				sink->data[sink->len] = '\0';
				nr_frame_reader_skip(&l->reader, (size_t)n);
				return sunk(f, (size_t)n);
			}
		} else {
			n = wolfSSL_read(l->ssl, l->plain, (int)sizeof(l->plain));
			if (n > 0) {
				l->ppos = 0;
				l->plen = (size_t)n;
				continue;
			}
		}
		int e = wolfSSL_get_error(l->ssl, n);
		wolfSSL_ERR_clear_error();
		if (l->timed_out && e == WOLFSSL_ERROR_WANT_READ) {
			if (l->rec_hdr_have || l->rec_left || nr_frame_reader_partial(&l->reader)) {
				long long now = nr_now_ms();
				if (!l->partial_since)
					l->partial_since = now;
				if (l->stall_ms > 0 && now - l->partial_since >= l->stall_ms) {
					l->dead = true;
					return nr_error_set(err, -NR_E_AGENT_PROTO,
							    "the peer stopped in the middle of a message for %d ms",
							    l->stall_ms);
				}
			}
			return nr_error_set(err, -NR_E_TIMEOUT, "no answer from the guest agent within %d ms",
					    timeout_ms);
		}
		l->dead = true;
		int rc = cert_refusal(l, err); /* TLS 1.3: the guest refuses a host after its Finished */
		if (rc < 0)
			return rc;
		if (l->resync)
			return nr_error_set(err, -NR_E_AGENT_TLS, "a host's sync came under TLS: a new host resyncs "
					    "(the last one went away in the middle of a record)");
		if (l->eof || e == WOLFSSL_ERROR_ZERO_RETURN) {
			l->eof = true;
			if (nr_frame_reader_partial(&l->reader))
				return nr_error_set(err, -NR_E_AGENT_CLOSED,
						    "the peer closed the connection in the middle of a frame");
			return nr_error_set(err, -NR_E_AGENT_CLOSED, NULL);
		}
		return nr_error_set(err, -NR_E_AGENT_TLS, "TLS record error (wolfSSL %d)", e);
	}
}

int nr_tls_link_recv(struct nr_tls_link *l, const char **text, size_t *len, int timeout_ms,
		     struct nr_error *err)
{
	struct nr_tls_frame f;
	int rc;

	for (;;) {
		if ((rc = nr_tls_link_recv_frame(l, &f, NULL, timeout_ms, err)) < 0)
			return rc;
		if (f.kind == NR_FRAME_OK) {
			*text = f.text;
			*len = f.len;
			return 0;
		}
		/* binary chunks to a reader of text: dropped, their bytes skipped */
		if (f.kind == NR_FRAME_CHUNK)
			return nr_error_set(err, -NR_E_AGENT_FRAME, "a binary chunk (id %lld) where none was due",
					    f.chunk.id);
	}
}

void nr_tls_link_set_stall(struct nr_tls_link *l, int stall_ms)
{
	l->stall_ms = stall_ms > 0 ? stall_ms : 0;
}

const char *nr_tls_link_peer_fingerprint(const struct nr_tls_link *l)
{
	return l->peer_fp;
}

unsigned long nr_tls_link_bad_frames(const struct nr_tls_link *l)
{
	return l->reader.bad;
}

unsigned long nr_tls_link_garbage(const struct nr_tls_link *l)
{
	return l->garbage + l->reader.garbage;
}
