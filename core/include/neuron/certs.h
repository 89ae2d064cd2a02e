/* Per-VM agent credentials (docs/PROTOCOL.md 3): a CA, a host and a guest certificate,
 * ECDSA P-256, made with wolfSSL's certificate generation. */
#ifndef NEURON_CERTS_H
#define NEURON_CERTS_H

#include <stdbool.h>

#include "neuron/ctx.h"
#include "neuron/error.h"

struct nr_certs_info {
	char host_dir[4096];        /* STATE/agent/VM */
	char bundle_dir[4096];      /* where the guest's bundle went ("" when none) */
	char ca_fingerprint[104];
	char host_fingerprint[104];
	char guest_fingerprint[104];
};

/* The host's credential directory for vm: root + state_dir + "/agent/" + vm. malloc'd.
 * vm must be a plain name (no '/', not "." or ".."). */
int nr_certs_dir(const struct nr_ctx *ctx, const char *vm, char **dir, struct nr_error *err);

/* Make the credentials of vm: ca.pem, ca.key, host.pem, host.key, guest.pem under
 * nr_certs_dir (keys 0600, directories 0700), and the guest's bundle (ca.pem, guest.pem,
 * guest.key, host.pem) under bundle_dir when it is not NULL. Existing credentials are
 * kept (-NR_E_EXISTS) unless force: new ones break the guest's pinning until it gets the
 * new bundle. */
int nr_certs_generate(const struct nr_ctx *ctx, const char *vm, const char *bundle_dir, bool force,
		      struct nr_certs_info *info, struct nr_error *err);

/* Fingerprints of the stored credentials ("" for a missing file); -NR_E_AGENT_NOCERTS
 * when there are none. */
int nr_certs_info(const struct nr_ctx *ctx, const char *vm, struct nr_certs_info *info,
		  struct nr_error *err);

#endif
