/* The readiness checklist a passthrough user walks through, from one scan. */
#ifndef NEURON_CHECK_H
#define NEURON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "neuron/scan.h"

enum nr_check_status { NR_CHECK_PASS, NR_CHECK_WARN, NR_CHECK_FAIL };

/* X(id, title) in the order a user walks them. */
#define NR_CHECKS(X) \
	X(virt,     "Virtualization extensions") \
	X(iommu_cmdline, "IOMMU on the kernel command line") \
	X(iommu_groups, "IOMMU groups present") \
	X(iommu_pt, "IOMMU passthrough mode (iommu=pt)") \
	X(guest_gpu, "A GPU for the guest") \
	X(isolation, "Guest GPU isolated in its IOMMU group") \
	X(id_collision, "vfio-pci ids unique to the guest GPU") \
	X(boot_vga, "Boot GPU and console framebuffer") \
	X(acs_override, "No ACS override patch in use") \
	X(lg_versions, "Looking Glass client and host versions") \
	X(kvmfr_device, "kvmfr device") \
	X(kvmfr_size, "kvmfr static_size_mb") \
	X(kvmfr_udev, "kvmfr udev rule") \
	X(kvmfr_acl, "kvmfr in libvirt's cgroup_device_acl") \
	X(kvmfr_apparmor, "kvmfr allowed by AppArmor") \
	X(rebar, "Resizable BAR") \
	X(gpu_reset, "GPU reset between guest boots") \
	X(single_recovery, "Single-GPU: a way back (SSH, serial)") \
	X(single_display, "Single-GPU: display stack known")

enum nr_check_id {
#define NR_CHECK_ENUM(id, title) NR_CHECK_##id,
	NR_CHECKS(NR_CHECK_ENUM)
#undef NR_CHECK_ENUM
	NR_CHECK_COUNT
};

struct nr_check_item {
	enum nr_check_id id;
	const char *name;               /* "virt" */
	const char *title;              /* "Virtualization extensions" */
	enum nr_check_status status;
	char detail[512];               /* what was found */
	char hint[512];                 /* what to do next ("" when nothing) */
};

struct nr_check {
	struct nr_check_item items[NR_CHECK_COUNT];
	size_t n_items;
	const struct nr_gpu *guest_gpu; /* the GPU the checks judged, NULL when none */
	bool blocked;                   /* some item FAILed */
};

/* Walk the list on scan; never fails. gpu_addr picks the guest GPU (NULL: the best one). */
void nr_check_run(const struct nr_scan *scan, const char *gpu_addr, struct nr_check *out);
const char *nr_check_status_name(enum nr_check_status s); /* "PASS", "WARN", "FAIL" */
/* Add an item (the modules that check more than the scan: lg.h's nr_lg_check_add). */
void nr_check_add(struct nr_check *c, enum nr_check_id id, enum nr_check_status st, const char *hint,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The id of a row by its name ("kvmfr_device"); NR_CHECK_COUNT when none. */
enum nr_check_id nr_check_id_of(const char *name);

#endif
