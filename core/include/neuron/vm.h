/* VMs on a libvirt connection: define from a profile (creating the disk), list, start,
 * stop (ACPI, then destroy on request), destroy, delete. libvirt's errors come back as
 * sentences ("VM win11 already exists"). */
#ifndef NEURON_VM_H
#define NEURON_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "neuron/domain.h"
#include "neuron/error.h"
#include "neuron/profile.h"
#include "neuron/virt.h"

enum nr_vm_state {
	NR_VM_OFF = 0,
	NR_VM_RUNNING,
	NR_VM_PAUSED,
	NR_VM_STOPPING,             /* ACPI shutdown under way */
	NR_VM_CRASHED,
	NR_VM_SUSPENDED,            /* pmsuspended */
	NR_VM_UNKNOWN,
};
const char *nr_vm_state_name(enum nr_vm_state s); /* "running", "shut off" ... */

struct nr_vm {
	char *name;
	enum nr_vm_state state;
	bool persistent;
	struct nr_domain_info *info; /* GPU, Looking Glass, agent (from the live XML when running) */
};

struct nr_vm_list {
	struct nr_vm *vms;          /* sorted by name */
	size_t n;
};

int nr_vm_list(struct nr_virt *virt, struct nr_vm_list **out, struct nr_error *err);
void nr_vm_list_free(struct nr_vm_list *list);
/* One VM's state and info; -NR_E_NOVM when there is none of that name. */
int nr_vm_get(struct nr_virt *virt, const char *name, struct nr_vm **out, struct nr_error *err);
void nr_vm_free(struct nr_vm *vm);

/* What nr_vm_create did about the disk. */
enum nr_vm_disk_action { NR_VM_DISK_NONE = 0, NR_VM_DISK_EXISTS, NR_VM_DISK_POOL, NR_VM_DISK_QEMU_IMG,
			 NR_VM_DISK_SPARSE };
struct nr_vm_created {
	enum nr_vm_disk_action disk;
	char pool[128];             /* the storage pool that made the volume (NR_VM_DISK_POOL) */
};

/* Define the domain xml (built by nr_domain_build from p), creating p's disk first when it
 * is missing: as a volume of the libvirt storage pool whose folder holds it, else with
 * qemu-img (raw images: a sparse file). Refuses a name that exists. */
int nr_vm_create(struct nr_virt *virt, const struct nr_profile *p, const char *xml,
		 struct nr_vm_created *out, struct nr_error *err);
/* Only the disk part of nr_vm_create. */
int nr_vm_disk_create(struct nr_virt *virt, const char *path, uint64_t size, const char *format,
		      struct nr_vm_created *out, struct nr_error *err);
/* Define xml as is (no disk). */
int nr_vm_define(struct nr_virt *virt, const char *xml, struct nr_error *err);

int nr_vm_start(struct nr_virt *virt, const char *name, struct nr_error *err);
/* ACPI shutdown, then wait up to timeout_s seconds; when the guest has not stopped by then,
 * destroy it if force, else fail with -NR_E_TIMEOUT. *destroyed tells which ended it. */
int nr_vm_stop(struct nr_virt *virt, const char *name, unsigned timeout_s, bool force, bool *destroyed,
	       struct nr_error *err);
/* Power off at once (like pulling the plug). */
int nr_vm_destroy(struct nr_virt *virt, const char *name, struct nr_error *err);
/* Undefine (with its UEFI variables and TPM state). The disk images stay unless remove_disks;
 * a running VM is refused. removed (may be NULL) gets how many images were removed. */
int nr_vm_delete(struct nr_virt *virt, const char *name, bool remove_disks, size_t *removed,
		 struct nr_error *err);

/* The PCI devices (canonical addresses) that running VMs hold, each with its VM's name:
 * owners[i] uses addrs[i]. Both lists malloc'd, items too; free with nr_vm_busy_free. */
int nr_vm_busy_pci(struct nr_virt *virt, char ***addrs, char ***owners, size_t *n, struct nr_error *err);
/* The same from a list already read (no call to libvirt). */
int nr_vm_list_busy_pci(const struct nr_vm_list *list, char ***addrs, char ***owners, size_t *n,
			struct nr_error *err);
void nr_vm_busy_free(char **addrs, char **owners, size_t n);

#endif
