/* The readiness checklist: each item PASS/WARN/FAIL with what to do next. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "neuron/check.h"

static const struct {
	const char *name, *title;
} check_table[] = {
#define NR_CHECK_ROW(id, title) { #id, title },
	NR_CHECKS(NR_CHECK_ROW)
#undef NR_CHECK_ROW
};

const char *nr_check_status_name(enum nr_check_status s)
{
	return s == NR_CHECK_PASS ? "PASS" : s == NR_CHECK_WARN ? "WARN" : "FAIL";
}

void nr_check_add(struct nr_check *c, enum nr_check_id id, enum nr_check_status st, const char *hint,
		  const char *fmt, ...)
{
	struct nr_check_item *it;
	va_list ap;

	if (c->n_items >= NR_CHECK_COUNT || id >= NR_CHECK_COUNT)
		return;
	it = &c->items[c->n_items++];
	it->id = id;
	it->name = check_table[id].name;
	it->title = check_table[id].title;
	it->status = st;
	va_start(ap, fmt);
	vsnprintf(it->detail, sizeof(it->detail), fmt, ap);
	va_end(ap);
	snprintf(it->hint, sizeof(it->hint), "%s", hint ? hint : "");
	if (st == NR_CHECK_FAIL)
		c->blocked = true;
}

enum nr_check_id nr_check_id_of(const char *name)
{
	for (size_t i = 0; i < NR_CHECK_COUNT; i++)
		if (strcmp(check_table[i].name, name) == 0)
			return (enum nr_check_id)i;
	return NR_CHECK_COUNT;
}

#define item nr_check_add

/* Display adapters of server BMCs: the boot VGA there is no GPU for a guest. */
static bool is_bmc_vga(const struct nr_pci_dev *d)
{
	return d->vendor == 0x1a03 /* ASPEED */ ||
	       (d->vendor == 0x102b && d->device >= 0x0522 && d->device <= 0x0538) /* Matrox G200e* */;
}

static void short_list(char *buf, size_t size, const struct nr_scan *scan, const size_t *v, size_t n)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && o + 24 < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "",
				      nr_pci_short_addr(&scan->devices[v[i]]));
}

void nr_check_run(const struct nr_scan *scan, const char *gpu_addr, struct nr_check *c)
{
	const struct nr_host *h = &scan->host;
	const struct nr_iommu_params *ip = nr_iommu_params(h->cpu_vendor);
	/* an unknown vendor: whichever of the two the command line has */
	const char *iommu_param = ip->key ? ip->key :
		nr_cmdline_has(h->cmdline, "amd_iommu") ? "amd_iommu" : "intel_iommu";
	const struct nr_gpu *gpu = NULL, *boot = NULL;
	char *val, list[400];
	size_t non_boot = 0;

	memset(c, 0, sizeof(*c));

	/* Virtualisation extensions. */
	if (!h->have_cpuinfo)
		item(c, NR_CHECK_virt, NR_CHECK_WARN, "check that /proc is mounted under the sysroot",
		     "cannot read proc/cpuinfo");
	else if (h->vmx || h->svm)
		item(c, NR_CHECK_virt, NR_CHECK_PASS, NULL, "%s CPU with %s", nr_cpu_vendor_name(h->cpu_vendor),
		     h->vmx ? "VT-x (vmx)" : "AMD-V (svm)");
	else
		item(c, NR_CHECK_virt, NR_CHECK_FAIL,
		     h->cpu_vendor == NR_CPU_AMD ? "enable SVM Mode (AMD-V) in the firmware setup" :
						   "enable Intel Virtualization Technology (VT-x) in the firmware setup",
		     "%s CPU without %s", nr_cpu_vendor_name(h->cpu_vendor),
		     h->cpu_vendor == NR_CPU_AMD ? "svm" : "vmx");

	/* IOMMU on the command line. */
	val = nr_cmdline_get(h->cmdline, iommu_param);
	if (val && (strcmp(val, "off") == 0 || strcmp(val, "0") == 0)) {
		item(c, NR_CHECK_iommu_cmdline, NR_CHECK_FAIL, NULL, "%s=%s turns the IOMMU off", iommu_param, val);
		snprintf(c->items[c->n_items - 1].hint, sizeof(c->items[0].hint),
			 "replace %s=%s with %s=on on the kernel command line", iommu_param, val, iommu_param);
	} else if (val && strstr(val, "on")) {
		item(c, NR_CHECK_iommu_cmdline, NR_CHECK_PASS, NULL, "%s=%s", iommu_param, val);
	} else if (scan->iommu) {
		item(c, NR_CHECK_iommu_cmdline, NR_CHECK_PASS, NULL,
		     "%s not given, but the kernel enabled the IOMMU by default", iommu_param);
	} else if (h->cpu_vendor == NR_CPU_AMD) {
		item(c, NR_CHECK_iommu_cmdline, NR_CHECK_WARN,
		     "AMD kernels enable the IOMMU by default: check AMD-Vi/IOMMU in the firmware, or add amd_iommu=on",
		     "amd_iommu not given");
	} else {
		char hint[300];
		snprintf(hint, sizeof(hint), "add %s to the kernel command line ('neuronctl vfio plan' does "
			 "it for you)", ip->by_hand);
		item(c, NR_CHECK_iommu_cmdline, NR_CHECK_FAIL, hint, "%s missing", ip->by_hand);
	}
	free(val);

	/* Groups. */
	if (scan->iommu) {
		item(c, NR_CHECK_iommu_groups, NR_CHECK_PASS, NULL, "%zu IOMMU groups", scan->n_groups);
	} else {
		char hint[300];
		snprintf(hint, sizeof(hint), "IOMMU is off: enable %s in the firmware setup and add %s",
			 ip->firmware, ip->by_hand);
		item(c, NR_CHECK_iommu_groups, NR_CHECK_FAIL, hint, "no IOMMU groups under sys/kernel/iommu_groups");
	}

	/* iommu=pt */
	val = nr_cmdline_get(h->cmdline, "iommu");
	if (val && strcmp(val, "pt") == 0)
		item(c, NR_CHECK_iommu_pt, NR_CHECK_PASS, NULL, "iommu=pt");
	else
		item(c, NR_CHECK_iommu_pt, NR_CHECK_WARN,
		     "add iommu=pt to the kernel command line: host devices skip IOMMU translation",
		     "iommu=pt not set");
	free(val);

	/* The guest GPU. */
	for (size_t i = 0; i < scan->n_gpus; i++) {
		if (scan->gpus[i].boot_vga && !boot)
			boot = &scan->gpus[i];
		if (!scan->gpus[i].boot_vga)
			non_boot++;
	}
	if (gpu_addr) {
		gpu = nr_scan_gpu(scan, gpu_addr);
		if (gpu)
			item(c, NR_CHECK_guest_gpu, NR_CHECK_PASS, NULL, "%s %s (chosen)",
			     nr_pci_short_addr(&scan->devices[gpu->dev]), nr_pci_name(&scan->devices[gpu->dev]));
		else
			item(c, NR_CHECK_guest_gpu, NR_CHECK_FAIL, "run 'neuronctl scan' to list the GPUs",
			     "%s is not a GPU on this machine", gpu_addr);
	} else if (scan->n_gpus == 0) {
		item(c, NR_CHECK_guest_gpu, NR_CHECK_FAIL, "a guest needs a GPU (a PCI display device, class 03xx)",
		     "no GPU found");
	} else if (non_boot == 0 && boot && is_bmc_vga(&scan->devices[boot->dev])) {
		item(c, NR_CHECK_guest_gpu, NR_CHECK_FAIL, "install a GPU for the guest",
		     "the only display device is the BMC's %s", nr_pci_name(&scan->devices[boot->dev]));
	} else if (non_boot == 0) {
		/* single-GPU mode: the GPU lent to the VM while it runs, the host's screen dark */
		gpu = boot;
		item(c, NR_CHECK_guest_gpu, NR_CHECK_WARN,
		     "single-GPU mode lends it to the VM while the VM runs: the local screen goes dark until "
		     "the VM stops ('neuronctl vm start' shows the steps and asks). To keep a screen: add a "
		     "second GPU for the host, or turn on the CPU's integrated graphics in the firmware setup",
		     "only the boot GPU %s: single-GPU mode",
		     nr_pci_short_addr(&scan->devices[boot->dev]));
	} else {
		gpu = nr_scan_best_gpu(scan);
		if (!gpu)
			for (size_t i = 0; i < scan->n_gpus && !gpu; i++)
				if (!scan->gpus[i].boot_vga)
					gpu = &scan->gpus[i];
		item(c, NR_CHECK_guest_gpu, NR_CHECK_PASS, NULL, "%s %s",
		     nr_pci_short_addr(&scan->devices[gpu->dev]), nr_pci_name(&scan->devices[gpu->dev]));
	}
	c->guest_gpu = gpu;

	/* Isolation. */
	if (!gpu)
		item(c, NR_CHECK_isolation, NR_CHECK_FAIL, NULL, "no guest GPU to judge");
	else if (gpu->n_groups == 0)
		item(c, NR_CHECK_isolation, NR_CHECK_FAIL, "turn the IOMMU on first (see above)",
		     "%s has no IOMMU group", nr_pci_short_addr(&scan->devices[gpu->dev]));
	else if (!gpu->isolated) {
		short_list(list, sizeof(list), scan, gpu->blockers, gpu->n_blockers);
		item(c, NR_CHECK_isolation, NR_CHECK_FAIL,
		     "move the card to a slot wired to the CPU, or pass the whole group (--include-group: "
		     "the controllers of the host's disks, its only network card and keyboard are refused "
		     "unless named with --include-device)",
		     "group %d also holds %s", gpu->groups[0], list);
	} else {
		short_list(list, sizeof(list), scan, gpu->functions, gpu->n_functions);
		item(c, NR_CHECK_isolation, NR_CHECK_PASS, NULL, "group%s %d%s: only its functions %s",
		     gpu->n_groups > 1 ? "s" : "", gpu->groups[0], gpu->n_groups > 1 ? " and more" : "", list);
	}

	/* Id collisions. */
	if (gpu && gpu->n_collisions) {
		short_list(list, sizeof(list), scan, gpu->collisions, gpu->n_collisions);
		item(c, NR_CHECK_id_collision, NR_CHECK_WARN,
		     "the VFIO plan binds by address (driver_override) instead of vfio-pci ids=",
		     "%s stay%s with the host but share%s its ids", list, gpu->n_collisions > 1 ? "" : "s",
		     gpu->n_collisions > 1 ? "" : "s");
	} else if (gpu) {
		item(c, NR_CHECK_id_collision, NR_CHECK_PASS, NULL, "no host device shares its ids");
	} else {
		item(c, NR_CHECK_id_collision, NR_CHECK_PASS, NULL, "no guest GPU");
	}

	/* Boot VGA, efifb. */
	if (gpu && gpu->boot_vga) {
		bool efifb_off = false;
		val = nr_cmdline_get(h->cmdline, "video");
		efifb_off = val && strstr(val, "efifb:off");
		free(val);
		item(c, NR_CHECK_boot_vga, NR_CHECK_WARN,
		     "single-GPU mode frees the console while the VM runs and gives it back after; never bind "
		     "it at boot ('vfio apply' refuses it). Or make another GPU primary in the firmware setup",
		     "the guest GPU is the boot GPU: the host console (efifb/simpledrm) holds it%s",
		     efifb_off ? "; video=efifb:off is set" : "");
	} else if (boot) {
		item(c, NR_CHECK_boot_vga, NR_CHECK_PASS, NULL, "boot GPU %s stays with the host",
		     nr_pci_short_addr(&scan->devices[boot->dev]));
	} else {
		item(c, NR_CHECK_boot_vga, NR_CHECK_PASS, NULL, "no boot GPU flagged");
	}

	/* ACS override. */
	val = nr_cmdline_get(h->cmdline, "pcie_acs_override");
	if (val)
		item(c, NR_CHECK_acs_override, NR_CHECK_WARN,
		     "the groups are split by a kernel patch, not by hardware: devices may still reach each other",
		     "pcie_acs_override=%s is set", val);
	else
		item(c, NR_CHECK_acs_override, NR_CHECK_PASS, NULL, "not in use");
	free(val);
}
