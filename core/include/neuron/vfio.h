/* The VFIO set-up of a target root: which devices go to vfio-pci at boot, how the
 * target boots (initramfs generator, boot loader), and the plan (neuron/plan.h) that
 * writes it. Everything is read from the files under the ctx's "root"; the devices
 * come from a scan of the sysroot. */
#ifndef NEURON_VFIO_H
#define NEURON_VFIO_H

#include <stdbool.h>
#include <stddef.h>

#include "neuron/ctx.h"
#include "neuron/error.h"
#include "neuron/plan.h"
#include "neuron/scan.h"

#define NR_VFIO_PLAN_NAME "vfio"

/* An initramfs generator (mkinitcpio, dracut, initramfs-tools): one row of core's table. */
struct nr_initramfs;

/* How the target boots, as read from its files. */
struct nr_boot_setup {
	const struct nr_initramfs *initramfs;   /* NULL when unknown */
	char initramfs_evidence[256];   /* "/etc/mkinitcpio.conf and /usr/bin/mkinitcpio" */
	bool grub;                      /* /etc/default/grub and a grub.cfg */
	char grub_cfg[128];             /* "/boot/grub/grub.cfg" */
	char **grub_dropins;            /* /etc/default/grub.d/\*.cfg, in the order grub-mkconfig reads them */
	size_t n_grub_dropins;
	char grub_mkconfig[32];         /* "grub-mkconfig", or "grub2-mkconfig" where only it is installed */
	char **sdboot_entries;          /* systemd-boot type #1 entries with a linux line */
	size_t n_sdboot_entries;
	bool kernel_cmdline;            /* /etc/kernel/cmdline (UKIs, kernel-install) */
	bool kernel_install_uki;        /* /etc/kernel/install.conf says layout=uki */
	bool ukis;                      /* unified kernel images in an ESP's EFI/Linux */
	char **kernels;                 /* installed kernel versions (lib/modules) */
	size_t n_kernels;
	bool needs_virqfd;              /* some installed kernel is older than 6.2 */
	char problem[768];              /* why the setup is unknown, and what to do by hand */
};

/* Detect the boot setup under the ctx's root. initramfs forces the generator
 * ("mkinitcpio", "dracut", "initramfs-tools") when several are installed; NULL detects.
 * Returns 0 even when the setup is unknown (problem says why); errors are I/O and
 * -NR_E_ESCAPE. */
int nr_boot_detect(const struct nr_ctx *ctx, const char *initramfs, struct nr_boot_setup *out,
		   struct nr_error *err);
void nr_boot_setup_done(struct nr_boot_setup *b);
const char *nr_initramfs_name(const struct nr_initramfs *i);  /* "mkinitcpio", ..., "unknown" (NULL) */
/* True when the setup has an initramfs generator and at least one place for the
 * kernel command line. */
bool nr_boot_known(const struct nr_boot_setup *b);
/* True when it has at least one place for the kernel command line. */
bool nr_boot_cmdline_known(const struct nr_boot_setup *b);

/* A device the host cannot lose, and why ("holds the root file system (/dev/sda2, ...)").
 * Devices with the same need are interchangeable (two network cards): the host loses it
 * when every one of them leaves. */
struct nr_host_need {
	char addr[NR_ADDR_LEN];
	char why[200];
	int need;
};
/* The devices the host needs: the controllers of its root and boot file systems (the
 * sysroot's mounts and root=, the target's /etc/fstab), its network interfaces, its
 * keyboards' USB controllers. *out is malloc'd (free it). */
int nr_vfio_host_needs(const struct nr_ctx *ctx, const struct nr_scan *scan, struct nr_host_need **out,
		       size_t *n, struct nr_error *err);

struct nr_vfio_opts {
	const char *const *gpus;        /* NULL-terminated addresses; NULL or empty: the best GPU */
	bool force;                     /* allow the boot GPU */
	bool include_group;             /* pass every blocker of the group too */
	const char *const *include_devices;     /* devices the host needs, passed anyway (named
						   one by one); NULL-terminated, may be NULL */
	const char *initramfs;          /* force the generator (see nr_boot_detect), NULL: detect */
};

/* A VFIO plan with what it decided. */
struct nr_vfio_plan {
	struct nr_plan *plan;           /* owned */
	char **gpus;                    /* the GPUs chosen, by address */
	size_t n_gpus;
	char **devices;                 /* every device that goes to vfio-pci */
	size_t n_devices;
	char **ids;                     /* "10de:1b80" */
	size_t n_ids;
	bool bind_by_address;           /* an id is shared with a host device */
	char **collisions;              /* the host devices that share an id */
	size_t n_collisions;
	char **blockers;                /* devices passed along with --include-group */
	size_t n_blockers;
	char params[128];               /* kernel parameters wanted: "intel_iommu=on iommu=pt" */
	bool params_only;               /* the IOMMU is off: the plan only turns it on (no GPU) */
	char **host_needed;             /* devices the host needs, passed because named */
	size_t n_host_needed;
	struct nr_boot_setup boot;
};

/* Plan the VFIO set-up of the GPU(s) on the scanned machine for the ctx's root. When the
 * IOMMU is off the plan only adds the kernel parameters that turn it on (params_only,
 * with a note that the firmware's VT-d/AMD-Vi must be on); plan again after the reboot.
 * Refusals, each with its reason and the way forward in err: -NR_E_NOGPU,
 * -NR_E_NODEVICE (not a GPU), -NR_E_BOOTGPU (unless force), -NR_E_GROUP (unless
 * include_group), -NR_E_HOSTDEVICE (a device the host needs, unless named in
 * include_devices), -NR_E_BOOTSETUP, -NR_E_PARSE (a file whose quotes do not balance),
 * -NR_E_NOTTEXT, -NR_E_NOTFILE, -NR_E_ESCAPE. */
int nr_vfio_plan_new(const struct nr_ctx *ctx, const struct nr_scan *scan,
		     const struct nr_vfio_opts *opts, struct nr_vfio_plan **out, struct nr_error *err);
void nr_vfio_plan_free(struct nr_vfio_plan *vp);

/* Where the VFIO set-up stands: the journal under root and the running kernel. */
struct nr_vfio_status {
	struct nr_plan_status plan;     /* state NONE: not configured by neuron */
	char **gpus;                    /* configured GPUs (from the journal) */
	size_t n_gpus;
	char **devices;                 /* configured devices */
	size_t n_devices;
	char **bound;                   /* devices on vfio-pci in the running kernel (sysroot) */
	size_t n_bound;
	bool all_bound;                 /* every configured device is on vfio-pci now */
	bool iommu_params;              /* the running kernel's cmdline has the IOMMU parameters */
};

/* scan may be NULL (the running kernel is then not looked at). */
int nr_vfio_status_read(const struct nr_ctx *ctx, const struct nr_scan *scan,
			struct nr_vfio_status *st, struct nr_error *err);
void nr_vfio_status_done(struct nr_vfio_status *st);

#endif
