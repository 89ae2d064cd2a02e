/* PCI devices as read from SYSROOT/sys/bus/pci. Plain data, owned by a scan; their names
 * (pci.ids, udev's hwdb) are looked up when first asked for, by the functions below. */
#ifndef NEURON_PCI_H
#define NEURON_PCI_H

#include <stdbool.h>
#include <stdint.h>

#define NR_ADDR_LEN 16  /* "0000:01:00.0" + NUL, with room */

struct nr_pci_label;        /* a device's names, private to core/scan */

struct nr_pci_dev {
	char addr[NR_ADDR_LEN];     /* "0000:01:00.0", lowercase */
	unsigned domain, bus, dev, func;
	uint16_t vendor, device;    /* 0x10de, 0x1b80 */
	uint16_t class_id;          /* class << 8 | subclass: 0x0300 */
	uint8_t prog_if, revision;
	uint16_t subsys_vendor, subsys_device;
	struct nr_pci_label *label; /* its names: nr_pci_name() and the others below */
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
/* Names as lspci shows them, looked up on first use (a command that prints none never reads
 * pci.ids). Borrowed, valid as long as the scan; "?" for a device no scan read.
 *   vendor: "NVIDIA Corporation", or "Vendor 10de"       device: "GP104 [GeForce GTX 1080]",
 *   or "Device 1b80"     class: "VGA compatible controller", or "Class ff00"
 *   name: vendor + " " + device     known: pci.ids (or on the live system udev's hwdb) has it */
const char *nr_pci_vendor_name(const struct nr_pci_dev *d);
const char *nr_pci_device_name(const struct nr_pci_dev *d);
const char *nr_pci_class_name(const struct nr_pci_dev *d);
const char *nr_pci_name(const struct nr_pci_dev *d);
bool nr_pci_vendor_known(const struct nr_pci_dev *d);
bool nr_pci_device_known(const struct nr_pci_dev *d);
/* "01:00.0" when the domain is 0, else the full address; points into d. */
const char *nr_pci_short_addr(const struct nr_pci_dev *d);
/* Parse "0000:01:00.0" or "01:00.0" (domain 0) into the canonical lowercase form. */
int nr_pci_parse_addr(const char *in, char out[NR_ADDR_LEN]);

#endif
