/* Error codes and the messages that go with them: one X-macro table. */
#ifndef NEURON_ERROR_H
#define NEURON_ERROR_H

#include <stddef.h>

/* X(NAME, "what went wrong, in the user's words")
 * Sections per module keep additions from colliding. */
#define NR_ERRORS(X) \
	/* general */ \
	X(NOMEM,      "out of memory") \
	X(INVAL,      "invalid argument") \
	X(IO,         "cannot read or write a file") \
	X(NOTFOUND,   "not found") \
	X(EXISTS,     "already exists") \
	X(PERM,       "permission denied") \
	X(UNSUPPORTED, "not supported") \
	X(TIMEOUT,    "timed out") \
	X(BUSY,       "busy") \
	X(REFUSED,    "refused") \
	X(TOOBIG,     "too large") \
	X(USAGE,      "wrong usage: see the command's --help") \
	X(NOTFILE,    "not a regular file") \
	X(NOSPACE,    "no space left on the file system") \
	/* pci, iommu, scan */ \
	X(NOSYSFS,    "no PCI devices under the sysroot") \
	X(PCI,        "the PCI library failed") \
	X(NOIOMMU,    "IOMMU is off") \
	X(NODEVICE,   "no such PCI device") \
	X(PARSE,      "cannot parse") \
	/* vfio, plan, apply */ \
	X(ESCAPE,     "a path would resolve outside the target root") \
	X(READONLY,   "the target root is not writable") \
	X(STALE,      "a file changed since the plan was made") \
	X(FAULT,      "stopped by the fault hook (NEURON_FAULT_AFTER)") \
	X(COMMAND,    "a command failed") \
	X(INTERRUPTED, "an earlier apply or revert was interrupted") \
	X(BOOTGPU,    "the GPU drives the host console") \
	X(GROUP,      "the GPU is not isolated in its IOMMU group") \
	X(BOOTSETUP,  "cannot tell the boot setup of the target root") \
	X(NOGPU,      "no GPU to pass through") \
	X(NOTTEXT,    "not a text file neuron can edit") \
	X(HOSTDEVICE, "the host needs a device the plan would take") \
	/* vm, profile, domain, virt */ \
	X(VIRT,      "libvirt failed") \
	X(NOVM,      "no such VM") \
	/* looking glass */ \
	X(LG_NOSESSION, "no graphical session for the Looking Glass client") \
	X(LG_NOCLIENT, "the Looking Glass client is not installed") \
	X(LG_GAVEUP,  "the Looking Glass client kept crashing and was given up") \
	/* agent, tls */ \
	X(AGENT_CLOSED,  "the guest agent closed the connection") \
	X(AGENT_PROTO,   "the guest agent broke the protocol") \
	X(AGENT_FRAME,   "invalid agent frame") \
	X(AGENT_TLS,     "the TLS handshake with the guest agent failed") \
	X(AGENT_CERT,    "the peer's certificate is not the one pinned for this VM") \
	X(AGENT_REMOTE,  "the guest agent refused the request") \
	X(AGENT_NOCHANNEL, "the VM has no guest agent channel") \
	X(AGENT_NOCERTS, "no agent certificates for this VM: run neuronctl agent certs VM") \
	/* tui */

enum nr_errcode {
	NR_OK = 0,
#define NR_ERR_ENUM(name, msg) NR_E_##name,
	NR__EFIRST = 1000,
	NR_ERRORS(NR_ERR_ENUM)
#undef NR_ERR_ENUM
	NR__ELAST
};
/* Codes are positive in the enum and returned negated: return -NR_E_IO.
 * NR__EFIRST keeps them clear of errno values (-1001 and below once negated). */

struct nr_error {
	int code;               /* the negative code, or 0 */
	char msg[1024];         /* a sentence a user can act on */
};

/* The table's message for a code (negative or positive), "success" for 0. */
const char *nr_strerror(int code);
/* The table's symbolic name ("IO" for NR_E_IO), for --json and tests. */
const char *nr_errname(int code);

/* Fill err (may be NULL) with code and a formatted message; returns code.
 * Usage: return nr_error_set(err, -NR_E_IO, "cannot read %s: %s", path, strerror(errno)); */
int nr_error_set(struct nr_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefix err's message with more context ("profile win11.yaml: "). */
void nr_error_prefix(struct nr_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void nr_error_clear(struct nr_error *err);

#endif
