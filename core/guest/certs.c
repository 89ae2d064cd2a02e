/* Per-VM agent credentials with wolfCrypt's certificate generation: a CA, a host and a
 * guest certificate, ECDSA P-256 (docs/PROTOCOL.md 3). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "base/internal.h"
#include "neuron/certs.h"
#include "guest/tls_internal.h"

#define DER_MAX 4096
#define PEM_MAX 8192
#define DAYS_VALID 3650

static bool plain_name(const char *vm)
{
	return vm && vm[0] && strcmp(vm, ".") != 0 && strcmp(vm, "..") != 0 && !strchr(vm, '/') &&
	       strlen(vm) < 200;
}

int nr_certs_dir(const struct nr_ctx *ctx, const char *vm, char **dir, struct nr_error *err)
{
	char *state, *agent;

	*dir = NULL;
	if (!plain_name(vm))
		return nr_error_set(err, -NR_E_INVAL, "'%s' is not a VM name", vm ? vm : "");
	state = nr_path_join(nr_ctx_get(ctx, "root"), nr_ctx_get(ctx, "state_dir"));
	agent = state ? nr_path_join(state, "agent") : NULL;
	*dir = agent ? nr_path_join(agent, vm) : NULL;
	free(state);
	free(agent);
	return *dir ? 0 : nr_error_set(err, -NR_E_NOMEM, NULL);
}

/* Write a file atomically with mode (temp file, fsync, rename). */
static int write_file(const char *dir, const char *name, const void *data, size_t len, mode_t mode,
		      struct nr_error *err)
{
	char *path = nr_path_join(dir, name), *tmp = NULL;
	int fd = -1, rc = 0;

	if (!path || asprintf(&tmp, "%s.tmp%d", path, (int)getpid()) < 0) {
		free(path);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0 || fchmod(fd, mode) < 0 || write(fd, data, len) != (ssize_t)len || fsync(fd) < 0) {
		rc = nr_error_set(err, errno == EACCES ? -NR_E_PERM : -NR_E_IO, "cannot write %s: %s", tmp,
				  strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		rc = nr_error_set(err, -NR_E_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
	}
out:
	free(tmp);
	free(path);
	return rc;
}

struct keypair {
	ecc_key key;
	bool init;
	unsigned char der[DER_MAX]; /* the certificate */
	int der_len;
};

static int crypto_error(struct nr_error *err, const char *what, int ret)
{
	return nr_error_set(err, -NR_E_IO, "cannot %s: %s (wolfCrypt %d)", what, wc_GetErrorString(ret), ret);
}

static int make_key(WC_RNG *rng, struct keypair *kp, struct nr_error *err)
{
	int ret = wc_ecc_init(&kp->key);

	if (ret == 0) {
		kp->init = true;
		ret = wc_ecc_make_key_ex(rng, 32, &kp->key, ECC_SECP256R1);
	}
	if (ret == 0)
		ret = wc_ecc_set_rng(&kp->key, rng);
	return ret ? crypto_error(err, "make an ECDSA P-256 key", ret) : 0;
}

/* A certificate for subject, signed by issuer (subject itself for the CA). */
static int make_cert(WC_RNG *rng, const char *cn, struct keypair *subject, struct keypair *issuer,
		     bool ca, struct nr_error *err)
{
	Cert cert;
	unsigned char serial[16];
	int ret;

	if ((ret = wc_InitCert(&cert)) != 0)
		return crypto_error(err, "start a certificate", ret);
	cert.sigType = CTC_SHA256wECDSA;
	cert.daysValid = DAYS_VALID;
	cert.isCA = ca;
	snprintf(cert.subject.commonName, sizeof(cert.subject.commonName), "%s", cn);
	snprintf(cert.subject.org, sizeof(cert.subject.org), "NeuronOS");
	if (getrandom(serial, sizeof(serial), 0) != (ssize_t)sizeof(serial))
		return nr_error_set(err, -NR_E_IO, "no random numbers: %s", strerror(errno));
	serial[0] &= 0x7f;
	serial[0] |= 0x40;
	memcpy(cert.serial, serial, sizeof(serial));
	cert.serialSz = sizeof(serial);
	if (issuer != subject &&
	    (ret = wc_SetIssuerBuffer(&cert, issuer->der, issuer->der_len)) != 0)
		return crypto_error(err, "name the issuer", ret);
	if ((ret = wc_SetSubjectKeyIdFromPublicKey_ex(&cert, ECC_TYPE, &subject->key)) != 0 ||
	    (ret = wc_SetAuthKeyIdFromPublicKey_ex(&cert, ECC_TYPE, &issuer->key)) != 0)
		return crypto_error(err, "set the key identifiers", ret);
	if ((ret = wc_SetKeyUsage(&cert, ca ? "keyCertSign,cRLSign,digitalSignature" : "digitalSignature")) != 0)
		return crypto_error(err, "set the key usage", ret);
	if (!ca && (ret = wc_SetExtKeyUsage(&cert, "serverAuth,clientAuth")) != 0)
		return crypto_error(err, "set the extended key usage", ret);
	ret = wc_MakeCert_ex(&cert, subject->der, sizeof(subject->der), ECC_TYPE, &subject->key, rng);
	if (ret < 0)
		return crypto_error(err, "make a certificate", ret);
	ret = wc_SignCert_ex(cert.bodySz, cert.sigType, subject->der, sizeof(subject->der), ECC_TYPE,
			     &issuer->key, rng);
	if (ret < 0)
		return crypto_error(err, "sign a certificate", ret);
	subject->der_len = ret;
	return 0;
}

static int cert_pem(const struct keypair *kp, char *pem, int *len, struct nr_error *err)
{
	int n = wc_DerToPem(kp->der, (word32)kp->der_len, (unsigned char *)pem, PEM_MAX, CERT_TYPE);

	if (n <= 0)
		return crypto_error(err, "write a certificate as PEM", n);
	*len = n;
	return 0;
}

static int key_pem(struct keypair *kp, char *pem, int *len, struct nr_error *err)
{
	unsigned char der[DER_MAX];
	int n = wc_EccKeyToDer(&kp->key, der, sizeof(der));

	if (n > 0)
		n = wc_DerToPem(der, (word32)n, (unsigned char *)pem, PEM_MAX, ECC_PRIVATEKEY_TYPE);
	memset(der, 0, sizeof(der));
	if (n <= 0)
		return crypto_error(err, "write a private key as PEM", n);
	*len = n;
	return 0;
}

static void fingerprint(const struct keypair *kp, char *out)
{
	unsigned char hash[32];

	wc_Sha256Hash(kp->der, (word32)kp->der_len, hash);
	nr_tls_fingerprint_format(hash, out);
}

int nr_certs_generate(const struct nr_ctx *ctx, const char *vm, const char *bundle_dir, bool force,
		      struct nr_certs_info *info, struct nr_error *err)
{
	struct keypair *ca = NULL, *host = NULL, *guest = NULL;
	char cn[256], *dir = NULL, *existing = NULL;
	char ca_pem[PEM_MAX], host_pem[PEM_MAX], guest_pem[PEM_MAX];
	char ca_key[PEM_MAX], host_key[PEM_MAX], guest_key[PEM_MAX];
	int ca_len, host_len, guest_len, cak_len, hostk_len, guestk_len;
	WC_RNG rng;
	bool rng_ok = false;
	int rc;

	memset(info, 0, sizeof(*info));
	if ((rc = nr_certs_dir(ctx, vm, &dir, err)) < 0)
		return rc;
	existing = nr_path_join(dir, "ca.pem");
	if (!existing) {
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto out;
	}
	if (!force && access(existing, F_OK) == 0) {
		rc = nr_error_set(err, -NR_E_EXISTS,
				  "%s already has agent credentials for %s; --force makes new ones (the guest "
				  "then needs the new bundle)", dir, vm);
		goto out;
	}
	ca = calloc(1, sizeof(*ca));
	host = calloc(1, sizeof(*host));
	guest = calloc(1, sizeof(*guest));
	if (!ca || !host || !guest) {
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto out;
	}
	if ((rc = wc_InitRng(&rng)) != 0) {
		rc = crypto_error(err, "start the random number generator", rc);
		goto out;
	}
	rng_ok = true;
	if ((rc = make_key(&rng, ca, err)) < 0 || (rc = make_key(&rng, host, err)) < 0 ||
	    (rc = make_key(&rng, guest, err)) < 0)
		goto out;
	snprintf(cn, sizeof(cn), "neuron-agent CA %s", vm);
	if ((rc = make_cert(&rng, cn, ca, ca, true, err)) < 0)
		goto out;
	snprintf(cn, sizeof(cn), "neuron-host %s", vm);
	if ((rc = make_cert(&rng, cn, host, ca, false, err)) < 0)
		goto out;
	snprintf(cn, sizeof(cn), "neuron-guest %s", vm);
	if ((rc = make_cert(&rng, cn, guest, ca, false, err)) < 0)
		goto out;
	if ((rc = cert_pem(ca, ca_pem, &ca_len, err)) < 0 || (rc = cert_pem(host, host_pem, &host_len, err)) < 0 ||
	    (rc = cert_pem(guest, guest_pem, &guest_len, err)) < 0 ||
	    (rc = key_pem(ca, ca_key, &cak_len, err)) < 0 || (rc = key_pem(host, host_key, &hostk_len, err)) < 0 ||
	    (rc = key_pem(guest, guest_key, &guestk_len, err)) < 0)
		goto out;

	if ((rc = nr_mkdir_p(dir, 0700, err)) < 0 || (rc = write_file(dir, "ca.key", ca_key, (size_t)cak_len, 0600, err)) < 0 ||
	    (rc = write_file(dir, "host.key", host_key, (size_t)hostk_len, 0600, err)) < 0 ||
	    (rc = write_file(dir, "host.pem", host_pem, (size_t)host_len, 0644, err)) < 0 ||
	    (rc = write_file(dir, "guest.pem", guest_pem, (size_t)guest_len, 0644, err)) < 0 ||
	    (rc = write_file(dir, "ca.pem", ca_pem, (size_t)ca_len, 0644, err)) < 0)
		goto out;
	snprintf(info->host_dir, sizeof(info->host_dir), "%s", dir);
	if (bundle_dir) {
		if ((rc = nr_mkdir_p(bundle_dir, 0700, err)) < 0 ||
		    (rc = write_file(bundle_dir, "guest.key", guest_key, (size_t)guestk_len, 0600, err)) < 0 ||
		    (rc = write_file(bundle_dir, "guest.pem", guest_pem, (size_t)guest_len, 0644, err)) < 0 ||
		    (rc = write_file(bundle_dir, "host.pem", host_pem, (size_t)host_len, 0644, err)) < 0 ||
		    (rc = write_file(bundle_dir, "ca.pem", ca_pem, (size_t)ca_len, 0644, err)) < 0)
			goto out;
		snprintf(info->bundle_dir, sizeof(info->bundle_dir), "%s", bundle_dir);
	}
	fingerprint(ca, info->ca_fingerprint);
	fingerprint(host, info->host_fingerprint);
	fingerprint(guest, info->guest_fingerprint);
	rc = 0;
out:
	memset(ca_key, 0, sizeof(ca_key));
	memset(host_key, 0, sizeof(host_key));
	memset(guest_key, 0, sizeof(guest_key));
	struct keypair *all[] = { ca, host, guest };
	for (int i = 0; i < 3; i++) {
		if (all[i] && all[i]->init)
			wc_ecc_free(&all[i]->key);
		free(all[i]);
	}
	if (rng_ok)
		wc_FreeRng(&rng);
	wc_ecc_fp_free();
	free(existing);
	free(dir);
	return rc;
}

static void file_fingerprint(const char *dir, const char *name, char *out)
{
	char *path = nr_path_join(dir, name), *pem = NULL;
	unsigned char hash[32];
	size_t len;

	out[0] = '\0';
	if (path && nr_read_file(path, &pem, &len, NULL) == 0)
		nr_tls_pem_fingerprint(pem, len, hash, out, NULL);
	free(pem);
	free(path);
}

int nr_certs_info(const struct nr_ctx *ctx, const char *vm, struct nr_certs_info *info,
		  struct nr_error *err)
{
	char *dir;
	int rc;

	memset(info, 0, sizeof(*info));
	if ((rc = nr_certs_dir(ctx, vm, &dir, err)) < 0)
		return rc;
	snprintf(info->host_dir, sizeof(info->host_dir), "%s", dir);
	file_fingerprint(dir, "ca.pem", info->ca_fingerprint);
	file_fingerprint(dir, "host.pem", info->host_fingerprint);
	file_fingerprint(dir, "guest.pem", info->guest_fingerprint);
	if (!info->ca_fingerprint[0])
		rc = nr_error_set(err, -NR_E_AGENT_NOCERTS, "no agent credentials for %s under %s", vm, dir);
	free(dir);
	return rc;
}
