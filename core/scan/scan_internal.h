/* Private to core/: the pieces nr_scan_new() is made of. */
#ifndef NEURON_SCAN_INTERNAL_H
#define NEURON_SCAN_INTERNAL_H

#include "neuron/scan.h"

int nr_host_read(const struct nr_ctx *ctx, struct nr_host *h, struct nr_error *err);
void nr_host_done(struct nr_host *h);
/* Read devices from sysfs into scan->devices (sorted), with scan->names for their names. */
int nr_pci_read(const struct nr_ctx *ctx, struct nr_scan *scan, struct nr_error *err);
void nr_pci_dev_done(struct nr_pci_dev *d);
/* The name database of n devices: each devs[i].label gets its entry; nothing is read
 * until a name is asked for (pci_names.c). */
int nr_pci_names_new(const struct nr_ctx *ctx, struct nr_pci_dev *devs, size_t n, struct nr_pci_names **out);
void nr_pci_names_free(struct nr_pci_names *db);
/* Compute scan->gpus from devices and groups. */
int nr_gpu_analyse(struct nr_scan *scan, struct nr_error *err);

#endif
