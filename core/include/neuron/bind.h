/* Runtime GPU binding: move every function of a GPU's passthrough set to vfio-pci and back,
 * through sysfs under the sysroot (driver_override, unbind, drivers_probe / bind).
 * A plan first (the exact writes, in order), then apply; the original drivers are
 * remembered under the runtime folder so that unbind gives each device its own back. */
#ifndef NEURON_BIND_H
#define NEURON_BIND_H

#include <stdbool.h>
#include <stddef.h>

#include "neuron/ctx.h"
#include "neuron/error.h"
#include "neuron/scan.h"

#define NR_VFIO_DRIVER "vfio-pci"

/* One write to a sysfs file. */
struct nr_bind_write {
	char *path;                 /* under the sysroot: "/sys/bus/pci/devices/0000:01:00.0/driver_override" */
	char *value;                /* the exact bytes written ("vfio-pci", "0000:01:00.0", "\n") */
};

struct nr_bind_device {
	char addr[NR_ADDR_LEN];
	char *driver;               /* bound now, NULL when none */
	char *target;               /* after the plan: "vfio-pci", the original driver, or NULL (kernel's pick) */
};

struct nr_bind_plan {
	char gpu[NR_ADDR_LEN];
	bool to_vfio;               /* bind (true) or give back (false) */
	struct nr_bind_device *devices;  /* the non-bridge devices of the passthrough set */
	size_t n_devices;
	struct nr_bind_write *writes;    /* in order; none when everything is already there */
	size_t n_writes;
	char *state_file;           /* where the original drivers are (or were) remembered:
				     * RUNTIME_DIR/gpu-bind/ADDR, RUNTIME_DIR being the "runtime_dir"
				     * parameter, else $XDG_RUNTIME_DIR/neuron, else /run/neuron */
};

/* Devices that running VMs hold (from nr_vm_busy_pci), so that the plan refuses them. */
struct nr_bind_busy {
	char **addrs;
	char **owners;              /* VM names, owners[i] holds addrs[i] */
	size_t n;
};

enum { NR_BIND_FORCE = 1 << 0 };  /* allow the boot GPU */

/* Plan binding gpu_addr's passthrough set to vfio-pci (to_vfio) or back to the original
 * drivers. Refuses: the boot GPU without NR_BIND_FORCE, a set that is not isolated, the
 * IOMMU off, vfio-pci not loaded, a device a running VM holds (busy may be NULL). */
int nr_bind_plan_new(const struct nr_ctx *ctx, const struct nr_scan *scan, const char *gpu_addr, bool to_vfio,
		     unsigned flags, const struct nr_bind_busy *busy, struct nr_bind_plan **out,
		     struct nr_error *err);
void nr_bind_plan_free(struct nr_bind_plan *plan);

/* Do the writes in order: the state file first (bind), then sysfs; on unbind the state
 * file is removed at the end. Stops at the first failing write, saying which. */
int nr_bind_apply(const struct nr_ctx *ctx, const struct nr_bind_plan *plan, struct nr_error *err);

#endif
