/* One observation of the machine under the sysroot: devices, IOMMU groups, GPUs, host facts. */
#ifndef NEURON_SCAN_H
#define NEURON_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "neuron/ctx.h"
#include "neuron/error.h"
#include "neuron/gpu.h"
#include "neuron/host.h"
#include "neuron/pci.h"

struct nr_pci_names;

struct nr_iommu_group {
	int id;
	size_t *devices;            /* indices into devices[], sorted by address */
	size_t n_devices;
};

struct nr_scan {
	bool iommu;                 /* IOMMU groups are present */
	struct nr_pci_dev *devices; /* sorted by address */
	size_t n_devices;
	struct nr_iommu_group *groups;  /* sorted by id */
	size_t n_groups;
	struct nr_gpu *gpus;        /* sorted by address */
	size_t n_gpus;
	struct nr_host host;
	struct nr_pci_names *names; /* private: the devices' names, looked up on first use */
};

/* Observe the machine under the ctx's sysroot. */
int nr_scan_new(const struct nr_ctx *ctx, struct nr_scan **out, struct nr_error *err);
void nr_scan_free(struct nr_scan *scan);

/* Lookups; addr may be short ("01:00.0"). NULL when absent. */
const struct nr_pci_dev *nr_scan_device(const struct nr_scan *scan, const char *addr);
const struct nr_gpu *nr_scan_gpu(const struct nr_scan *scan, const char *addr);
const struct nr_iommu_group *nr_scan_group(const struct nr_scan *scan, int id);
/* The GPU a plan picks by default: the first isolated non-boot GPU, else NULL. */
const struct nr_gpu *nr_scan_best_gpu(const struct nr_scan *scan);

/* Whether gpu may be chosen for a guest: the one rule the CLI, the TUI and the VFIO plan
 * follow. 0, or the refusal with its reason and the way forward: -NR_E_NOIOMMU,
 * -NR_E_BOOTGPU (unless force), -NR_E_GROUP (unless include_group). */
int nr_gpu_choosable(const struct nr_scan *scan, const struct nr_gpu *gpu, bool force,
		     bool include_group, struct nr_error *err);

/* Why a GPU can or cannot be passed through, one sentence (malloc'd). */
char *nr_gpu_verdict(const struct nr_scan *scan, const struct nr_gpu *gpu);

/* The scan as the JSON object of DESIGN.md (malloc'd, pretty when asked). */
int nr_scan_to_json(const struct nr_scan *scan, bool pretty, char **out, struct nr_error *err);

#endif
