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
#include "root/root.h"

#define DER_MAX 4096
#define PEM_MAX 8192
#define DAYS_VALID 3650

static bool plain_name(const char *vm)
{
	return vm && vm[0] && strcmp(vm, ".") != 0 && strcmp(vm, "..") != 0 && !strchr(vm, '/') &&
	       strlen(vm) < 200;
}

/* STATE/agent/VM resolved inside the root (--root) as the target sees it, through the
 * same walk as vfio and lg: a state_dir behind a link out of the root is refused. */
static int certs_rel(const struct nr_ctx *ctx, const char *vm, struct nr_root *r, char **rel,
		     struct nr_error *err)
{
	char *agent, *path;
	int rc;

	*rel = NULL;
	if (!plain_name(vm))
		return nr_error_set(err, -NR_E_INVAL, "'%s' is not a VM name", vm ? vm : "");
	agent = nr_path_join(nr_ctx_get(ctx, "state_dir"), "agent");
	path = agent ? nr_path_join(agent, vm) : NULL;
	free(agent);
	if (!path)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	if ((rc = nr_root_open(r, nr_ctx_get(ctx, "root"), err)) == 0 &&
	    (rc = nr_root_resolve(r, path, rel, err)) < 0)
		nr_root_close(r);
	free(path);
	return rc;
}

int nr_certs_dir(const struct nr_ctx *ctx, const char *vm, char **dir, struct nr_error *err)
{
	struct nr_root r;
	char *rel;
	int rc;

	*dir = NULL;
	if ((rc = certs_rel(ctx, vm, &r, &rel, err)) < 0)
		return rc;
	*dir = nr_path_join(r.path, rel);
	free(rel);
	nr_root_close(&r);
	return *dir ? 0 : nr_error_set(err, -NR_E_NOMEM, NULL);
}

/* A directory that holds keys, open as fd: not writable by anyone else (PROTOCOL.md 3). One
 * of ours is made 0700 whatever it was; another user's that group or others can write is
 * refused: whoever can write there can put their own files under the names we use. */
static int private_dir(int fd, const char *path, struct nr_error *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return nr_error_set(err, -NR_E_IO, "cannot read %s: %s", path, strerror(errno));
	if (st.st_uid == geteuid()) {
		if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)
			return nr_error_set(err, -NR_E_PERM, "cannot make %s private (mode 0700): %s", path,
					    strerror(errno));
		return 0;
	}
	if (st.st_mode & 022)
		return nr_error_set(err, -NR_E_PERM,
				    "%s is writable by %s and belongs to another user (uid %u): keys there could be "
				    "replaced; use a directory of your own, or make it 0700", path,
				    st.st_mode & 002 ? "everyone" : "its group", (unsigned)st.st_uid);
	return 0;
}

/* Open (making it 0700 when missing) the directory name under dirfd, never through a link,
 * and make sure it is private. */
static int open_private_dir(int dirfd, const char *name, const char *path, struct nr_error *err)
{
	int fd, rc;

	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return nr_error_set(err, nr_root_errcode(errno), "cannot make %s: %s", path, strerror(errno));
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ELOOP || e == ENOTDIR)
			return nr_error_set(err, -NR_E_NOTFILE, "%s is a symbolic link or not a directory", path);
		return nr_error_set(err, nr_root_errcode(e), "cannot open %s: %s", path, strerror(e));
	}
	if ((rc = private_dir(fd, path, err)) < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

/* STATE/agent/VM, resolved to rel, open. STATE is shared (vfio keeps its backups there) and
 * made as vfio makes it; the two directories under it (their names as resolved) are
 * private. */
static int open_certs_dir(const struct nr_root *r, const char *rel, struct nr_error *err)
{
	char *state = strdup(rel), *names[2], *path, *slash;
	const char *parent = "";
	int fd, next;

	if (!state)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	if (!(slash = strrchr(state, '/'))) {
		free(state);
		return nr_error_set(err, -NR_E_INVAL, "%s/%s is not a directory for agent credentials", r->path, rel);
	}
	*slash = '\0';
	names[1] = slash + 1;
	if ((slash = strrchr(state, '/'))) {
		*slash = '\0';
		names[0] = slash + 1;
		parent = state;
	} else {
		names[0] = state; /* a state_dir that is the root itself */
	}
	fd = nr_root_open_dir(r, parent, true, NULL, NULL, err);
	path = nr_path_join(r->path, parent);
	for (int i = 0; i < 2 && fd >= 0; i++) {
		char *sub = path ? nr_path_join(path, names[i]) : NULL;
		next = sub ? open_private_dir(fd, names[i], sub, err) : nr_error_set(err, -NR_E_NOMEM, NULL);
		close(fd);
		free(path);
		path = sub;
		fd = next;
	}
	free(path);
	free(state);
	return fd;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write dir/name atomically with mode: a temp file with a name nobody can guess, made with
 * O_EXCL (never someone else's file, never through a link), fsynced, renamed into place. */
static int write_file(int dirfd, const char *dir, const char *name, const void *data, size_t len, mode_t mode,
		      struct nr_error *err)
{
	unsigned char rnd[8];
	char tmp[96];
	int fd = -1, e;

	for (int tries = 0; fd < 0 && tries < 16; tries++) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return nr_error_set(err, -NR_E_IO, "no random numbers: %s", strerror(errno));
		snprintf(tmp, sizeof(tmp), ".%s.%02x%02x%02x%02x%02x%02x%02x%02x.new", name, rnd[0], rnd[1], rnd[2],
			 rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0 || write_all(fd, data, len) < 0 || fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		e = errno;
		if (fd >= 0) {
			close(fd);
			unlinkat(dirfd, tmp, 0);
		}
		return nr_error_set(err, nr_root_errcode(e), "cannot write %s/%s: %s", dir, name, strerror(e));
	}
	close(fd);
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		e = errno;
		unlinkat(dirfd, tmp, 0);
		return nr_error_set(err, nr_root_errcode(e), "cannot write %s/%s: %s", dir, name, strerror(e));
	}
	fsync(dirfd);
	return 0;
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
	char cn[256], *dir = NULL, *rel = NULL;
	char ca_pem[PEM_MAX], host_pem[PEM_MAX], guest_pem[PEM_MAX];
	char ca_key[PEM_MAX], host_key[PEM_MAX], guest_key[PEM_MAX];
	int ca_len, host_len, guest_len, cak_len, hostk_len, guestk_len;
	int dir_fd = -1, bundle_fd = -1;
	struct nr_root r;
	bool have_root = false, made_dir = false;
	WC_RNG rng;
	bool rng_ok = false;
	int rc;

	memset(info, 0, sizeof(*info));
	if ((rc = certs_rel(ctx, vm, &r, &rel, err)) < 0)
		return rc;
	have_root = true;
	if (!(dir = nr_path_join(r.path, rel))) {
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto out;
	}
	struct stat st;
	made_dir = lstat(dir, &st) < 0 && errno == ENOENT;
	if ((dir_fd = open_certs_dir(&r, rel, err)) < 0) {
		rc = dir_fd;
		goto out;
	}
	if (!force && fstatat(dir_fd, "ca.pem", &st, AT_SYMLINK_NOFOLLOW) == 0) {
		rc = nr_error_set(err, -NR_E_EXISTS,
				  "%s already has agent credentials for %s; --force makes new ones (the guest "
				  "then needs the new bundle)", dir, vm);
		goto out;
	}
	/* both directories are checked before anything is written */
	if (bundle_dir && ((rc = nr_mkdir_p(bundle_dir, 0700, err)) < 0 ||
			   (rc = bundle_fd = open_private_dir(AT_FDCWD, bundle_dir, bundle_dir, err)) < 0))
		goto out;
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

	if ((rc = write_file(dir_fd, dir, "ca.key", ca_key, (size_t)cak_len, 0600, err)) < 0 ||
	    (rc = write_file(dir_fd, dir, "host.key", host_key, (size_t)hostk_len, 0600, err)) < 0 ||
	    (rc = write_file(dir_fd, dir, "host.pem", host_pem, (size_t)host_len, 0644, err)) < 0 ||
	    (rc = write_file(dir_fd, dir, "guest.pem", guest_pem, (size_t)guest_len, 0644, err)) < 0 ||
	    (rc = write_file(dir_fd, dir, "ca.pem", ca_pem, (size_t)ca_len, 0644, err)) < 0)
		goto out;
	snprintf(info->host_dir, sizeof(info->host_dir), "%s", dir);
	if (bundle_dir) {
		if ((rc = write_file(bundle_fd, bundle_dir, "guest.key", guest_key, (size_t)guestk_len, 0600, err)) < 0 ||
		    (rc = write_file(bundle_fd, bundle_dir, "guest.pem", guest_pem, (size_t)guest_len, 0644, err)) < 0 ||
		    (rc = write_file(bundle_fd, bundle_dir, "host.pem", host_pem, (size_t)host_len, 0644, err)) < 0 ||
		    (rc = write_file(bundle_fd, bundle_dir, "ca.pem", ca_pem, (size_t)ca_len, 0644, err)) < 0)
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
	if (rc < 0 && made_dir && dir_fd >= 0) {
		/* refused or failed in a folder made for it: nothing of it is left behind */
		static const char *const mine[] = { "ca.key", "host.key", "host.pem", "guest.pem", "ca.pem" };
		for (size_t i = 0; i < sizeof(mine) / sizeof(mine[0]); i++)
			unlinkat(dir_fd, mine[i], 0);
		rmdir(dir);
	}
	if (dir_fd >= 0)
		close(dir_fd);
	if (bundle_fd >= 0)
		close(bundle_fd);
	if (have_root)
		nr_root_close(&r);
	free(rel);
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
