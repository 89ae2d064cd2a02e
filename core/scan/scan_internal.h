/* Private to core/: the pieces nr_scan_new() is made of. */
#ifndef NEURON_SCAN_INTERNAL_H
#define NEURON_SCAN_INTERNAL_H

#include "neuron/scan.h"

int nr_host_read(const struct nr_ctx *ctx, struct nr_host *h, struct nr_error *err);
void nr_host_done(struct nr_host *h);
/* Read devices through libpci into scan->devices (sorted). */
int nr_pci_read(const struct nr_ctx *ctx, struct nr_scan *scan, struct nr_error *err);
void nr_pci_dev_done(struct nr_pci_dev *d);
/* Compute scan->gpus from devices and groups. */
int nr_gpu_analyse(struct nr_scan *scan, struct nr_error *err);

#endif
