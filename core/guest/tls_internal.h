/* Private to core/: certificate helpers shared by tls.c and certs.c. */
#ifndef NEURON_TLS_INTERNAL_H
#define NEURON_TLS_INTERNAL_H

#include <stddef.h>

#include "neuron/error.h"

#define NR_TLS_FP_SIZE 104 /* "SHA256:" + 32 * "XX:" */

/* "SHA256:AB:CD:..." of a 32-byte hash. */
void nr_tls_fingerprint_format(const unsigned char hash[32], char out[NR_TLS_FP_SIZE]);
/* SHA-256 of the DER inside a PEM certificate; fp (may be NULL) gets the text form. */
int nr_tls_pem_fingerprint(const char *pem, size_t len, unsigned char hash[32], char *fp,
			   struct nr_error *err);

#endif
