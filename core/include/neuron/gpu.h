/* What a GPU allows: its functions, passthrough set, isolation and vfio ids (DESIGN.md). */
#ifndef NEURON_GPU_H
#define NEURON_GPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Indices below point into the owning scan's devices[] array. */
struct nr_gpu {
	size_t dev;                 /* the GPU's own function (class 03xx) */
	bool boot_vga;              /* drives the host console */
	size_t *functions;          /* every device on the same domain:bus:device, by address */
	size_t n_functions;
	int *groups;                /* IOMMU groups of the functions (the passthrough set's groups) */
	size_t n_groups;
	size_t *set;                /* every device of those groups, bridges included */
	size_t n_set;
	bool isolated;              /* every non-bridge device of the set is a function */
	size_t *blockers;           /* non-bridge devices of the set that are not functions */
	size_t n_blockers;
	uint32_t *vfio_ids;         /* vendor << 16 | device, distinct, of every non-bridge set device */
	size_t n_vfio_ids;
	size_t *collisions;         /* host devices (outside the set) that match a vfio id */
	size_t n_collisions;
	bool bind_by_address;       /* n_collisions > 0: binding by id would take host devices */
};

/* "10de:1b80" into buf (at least 10 bytes). */
const char *nr_vfio_id_str(uint32_t id, char buf[10]);

#endif
