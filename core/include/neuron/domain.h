/* libvirt domain XML: built from a profile and templates/NAME.xml with libxml2, and read
 * back (which GPU, which Looking Glass memory, which agent socket a domain has). */
#ifndef NEURON_DOMAIN_H
#define NEURON_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "neuron/ctx.h"
#include "neuron/error.h"
#include "neuron/profile.h"
#include "neuron/scan.h"

#define NR_AGENT_CHANNEL "org.neuronos.agent.0"
#define NR_LG_SHM_NAME "looking-glass"

/* The domain XML for profile p on the machine of scan (NULL: no PCI passthrough allowed).
 * Runs nr_profile_check first. The template comes from the ctx's "templates" directory;
 * CPU pinning "auto" reads the host topology under the ctx's sysroot. *xml is malloc'd. */
int nr_domain_build(const struct nr_profile *p, const struct nr_ctx *ctx, const struct nr_scan *scan,
		    char **xml, struct nr_error *err);

/* The template file for a template name ("windows11" -> DIR/windows11.xml). malloc'd. */
int nr_domain_template_path(const struct nr_ctx *ctx, const char *template_name, char **path,
			    struct nr_error *err);

/* How a domain gives Looking Glass its shared memory, one row each: the name and the word
 * that scripts see ("vm list --json"). */
#define NR_DOMAIN_LG_BACKENDS(X)                                                                  \
	X(NONE, "none")                /* no Looking Glass memory */                              \
	X(SHMEM, "shmem")              /* <shmem name='looking-glass'>: QEMU backs it with          \
	                                  /dev/shm/NAME */                                          \
	X(KVMFR, "kvmfr")              /* <qemu:commandline>: an ivshmem-plain device on a          \
	                                  memory-backend-file of the kvmfr module, /dev/kvmfrN */   \
	X(FILE, "memory-backend-file") /* the same on a file named for Looking Glass */

enum nr_domain_lg {
#define NR_DOMAIN_LG_ENUM(id, name) NR_DOMAIN_LG_##id,
	NR_DOMAIN_LG_BACKENDS(NR_DOMAIN_LG_ENUM)
#undef NR_DOMAIN_LG_ENUM
};
const char *nr_domain_lg_name(enum nr_domain_lg lg);

/* What a domain's XML says about passthrough. Paths are NULL when absent. */
/* The namespace of what the program keeps in a domain's <metadata>. */
#define NR_DOMAIN_NS "https://neuronos.org/xmlns/domain/1.0"

struct nr_domain_info {
	char *name;
	char *type;                 /* "kvm", "qemu", "test" */
	char **pci;                 /* PCI host devices, "0000:01:00.0", in XML order */
	size_t n_pci;
	char **usb;                 /* USB host devices, "046d:c52b" */
	size_t n_usb;
	enum nr_domain_lg lg;       /* NR_DOMAIN_LG_NONE (0) when it has no Looking Glass memory */
	char *lg_path;              /* "/dev/shm/looking-glass" or "/dev/kvmfr0" */
	unsigned lg_size_mib;       /* 0 when the size given cannot be read */
	char *ivshmem_other;        /* the file of the first IVSHMEM memory not named for Looking
	                               Glass ("/dev/shm/scream-ivshmem"): a hint when lg is NONE */
	bool agent;                 /* the org.neuronos.agent.0 channel */
	char *agent_type;           /* its type: "unix", "pty" ... */
	char *agent_socket;         /* its host path; libvirt fills a unix socket's in when the VM runs */
	bool tpm;
	bool spice;                 /* SPICE graphics: the Looking Glass B7 client's clipboard channel */
	enum nr_gpu_mode gpu_mode;  /* the profile's, from <metadata> (NR_DOMAIN_NS); auto without */
	char **disks;               /* disk image paths (device='disk'), not CD-ROMs */
	size_t n_disks;
	/* the virtio-fs shares: <filesystem> with driver virtiofs, its target (the tag, which
	 * the guest mounts) and its source directory on the host, in XML order */
	char **share_tags, **share_dirs;
	size_t n_shares;
};

/* The one reader of a domain's XML, for every fact the program takes from it. Looking Glass
 * memory is the one named for it: an IVSHMEM <shmem> whose name is (or holds) looking-glass,
 * /dev/shm/NAME, 4 MiB when it has no <size> (libvirt's default), a <size> without unit in
 * bytes; or, in <qemu:commandline>, an ivshmem-plain -device whose memdev is a
 * memory-backend-file -object on /dev/kvmfrN or on a file named looking-glass, in QEMU's
 * key=value or JSON form, its size as QEMU reads it ("64M", bytes without suffix). */
int nr_domain_inspect(const char *xml, struct nr_domain_info **out, struct nr_error *err);
void nr_domain_info_free(struct nr_domain_info *info);

#endif
