/* PCI devices as read through libpci from SYSROOT/sys/bus/pci. Plain data, owned by a scan. */
#ifndef NEURON_PCI_H
#define NEURON_PCI_H

#include <stdbool.h>
#include <stdint.h>

#define NR_ADDR_LEN 16  /* "0000:01:00.0" + NUL, with room */

struct nr_pci_dev {
	char addr[NR_ADDR_LEN];     /* "0000:01:00.0", lowercase */
	unsigned domain, bus, dev, func;
	uint16_t vendor, device;    /* 0x10de, 0x1b80 */
	uint16_t class_id;          /* class << 8 | subclass: 0x0300 */
	uint8_t prog_if, revision;
	uint16_t subsys_vendor, subsys_device;
	char *vendor_name;          /* "NVIDIA Corporation" (pci.ids), or "Vendor 10de" */
	char *device_name;          /* "GP104 [GeForce GTX 1080]", or "Device 1b80" */
	char *class_name;           /* "VGA compatible controller", or "Class ff00" */
	char *name;                 /* vendor_name + " " + device_name */
	bool vendor_known, device_known;    /* pci.ids has them */
	char *driver;               /* driver bound now, NULL when none */
	char *driver_override;      /* NULL when unset ("(null)" in sysfs) */
	int iommu_group;            /* -1 without one */
	bool boot_vga;
};

/* Class helpers, on class_id. */
static inline bool nr_pci_is_gpu(const struct nr_pci_dev *d)
{
	return (d->class_id >> 8) == 0x03;
}
/* Host bridges (0600) and PCI bridges (0604) stay with the host and get no vfio id. */
static inline bool nr_pci_is_bridge(const struct nr_pci_dev *d)
{
	return d->class_id == 0x0600 || d->class_id == 0x0604;
}
/* "01:00.0" when the domain is 0, else the full address; points into d. */
const char *nr_pci_short_addr(const struct nr_pci_dev *d);
/* Parse "0000:01:00.0" or "01:00.0" (domain 0) into the canonical lowercase form. */
int nr_pci_parse_addr(const char *in, char out[NR_ADDR_LEN]);

#endif
