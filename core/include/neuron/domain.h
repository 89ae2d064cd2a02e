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

/* What a domain's XML says about passthrough. Paths are NULL when absent. */
struct nr_domain_info {
	char *name;
	char *type;                 /* "kvm", "qemu", "test" */
	char **pci;                 /* PCI host devices, "0000:01:00.0", in XML order */
	size_t n_pci;
	char **usb;                 /* USB host devices, "046d:c52b" */
	size_t n_usb;
	bool lg;                    /* a Looking Glass IVSHMEM device */
	char *lg_path;              /* "/dev/shm/looking-glass" or "/dev/kvmfr0" */
	unsigned lg_size_mib;
	bool agent;                 /* the org.neuronos.agent.0 channel */
	char *agent_socket;         /* its host socket; libvirt fills it in when the VM runs */
	bool tpm;
	char **disks;               /* disk image paths (device='disk'), not CD-ROMs */
	size_t n_disks;
};

int nr_domain_inspect(const char *xml, struct nr_domain_info **out, struct nr_error *err);
void nr_domain_info_free(struct nr_domain_info *info);

#endif
