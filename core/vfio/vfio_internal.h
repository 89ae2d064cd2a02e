/* The VFIO set-up's own parts: the plan builder (vfio.c), the initramfs generators
 * (initramfs.c, one row each), boot detection (boot_detect.c) and the devices the host
 * needs (host_needs.c). Private to core/vfio/ (and its unit tests). */
#ifndef NEURON_VFIO_INTERNAL_H
#define NEURON_VFIO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "neuron/vfio.h"

/* What must load early, decided from the installed kernels. */
struct nr_early {
	const char *const *mods;        /* vfio_pci vfio vfio_iommu_type1, NULL-terminated */
	bool virqfd;                    /* some installed kernel is older than 6.2: vfio_virqfd too */
	bool mixed;                     /* and another is not: vfio_virqfd must be optional */
};

/* An initramfs generator: how it is found, how vfio-pci loads early with it, and the
 * command that rebuilds its images. One row of nr_initramfs_table per generator
 * (docs/HACKING.md, "Adding an initramfs generator"). */
struct nr_initramfs {
	const char *name;               /* "mkinitcpio": --initramfs NAME, shown to the user */
	const char *program;            /* its program's name, for the evidence ("update-initramfs") */
	const char *const *bins;        /* where its program is installed: one says it is there */
	const char *const *confs;       /* its configuration files: one says it is in use */
	const char *conf_dir;           /* a drop-in directory that says so too, or NULL */
	const char *const *regen;       /* the command that rebuilds every image */
	const char *regen_why;
	bool builds_ukis;               /* regen also rebuilds the unified kernel images */
	/* Plan the edit that loads e->mods first in the initramfs. */
	int (*plan_early)(struct nr_vfio_plan *vp, const struct nr_early *e, struct nr_error *err);
};

/* Every generator, NULL-terminated. */
extern const struct nr_initramfs *const nr_initramfs_table[];
/* "mkinitcpio, dracut, initramfs-tools": the names, for messages. */
void nr_initramfs_names(char *buf, size_t size);

/* Plan that path holds text (taken, freed; NULL means out of memory). */
int nr_vfio_set_text(struct nr_vfio_plan *vp, const char *path, char *text, const char *why,
		     struct nr_error *err);
/* Read a file under root; absent is "" with *exists false. */
int nr_vfio_read_or_empty(struct nr_vfio_plan *vp, const char *path, char **text, bool *exists,
			  struct nr_error *err);
/* Refuse a file whose quotes or array parentheses do not balance (vfio/boot.h's check),
 * naming path:line and what is open. */
int nr_vfio_check_balance(const char *path, const char *text, int syntax, struct nr_error *err);

#endif
