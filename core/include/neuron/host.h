/* Host facts from SYSROOT/proc: CPU, virtualisation, the kernel command line. */
#ifndef NEURON_HOST_H
#define NEURON_HOST_H

#include <stdbool.h>
#include <stddef.h>

enum nr_cpu_vendor { NR_CPU_UNKNOWN, NR_CPU_INTEL, NR_CPU_AMD };

struct nr_host {
	enum nr_cpu_vendor cpu_vendor;
	char cpu_vendor_id[16];     /* "GenuineIntel", "" when unknown */
	char *cpu_model;            /* "model name" of the first CPU, NULL when absent */
	bool vmx, svm;              /* virtualisation extensions in the flags */
	bool have_cpuinfo, have_cmdline;
	char *cmdline;              /* the whole kernel command line, "" when absent */
	bool iommu_groups;          /* SYSROOT/sys/kernel/iommu_groups has at least one group */
	bool iommu_class;           /* SYSROOT/sys/class/iommu has an entry (dmar0, ivhd0 ...) */
};

/* The value of a kernel parameter ("intel_iommu" -> "on"), the last one given
 * wins as with the kernel; "" for a bare flag; NULL when absent. malloc'd. */
char *nr_cmdline_get(const char *cmdline, const char *param);
/* True when the command line sets param (with any value). */
bool nr_cmdline_has(const char *cmdline, const char *param);
const char *nr_cpu_vendor_name(enum nr_cpu_vendor v);

/* The kernel parameters that turn the IOMMU on, per CPU vendor: the one rule the
 * checklist, scan, the VFIO plan and its status follow. */
struct nr_iommu_params {
	const char *on;         /* "intel_iommu=on", "amd_iommu=on"; NULL for an unknown vendor */
	const char *key;        /* "intel_iommu", "amd_iommu"; NULL for an unknown vendor */
	const char *pt;         /* "iommu=pt", for every vendor */
	const char *by_hand;    /* what the user adds: "intel_iommu=on", or both choices when unknown */
	const char *firmware;   /* the firmware setting: "VT-d", "AMD-Vi/IOMMU", or both */
};
const struct nr_iommu_params *nr_iommu_params(enum nr_cpu_vendor v);

#endif
