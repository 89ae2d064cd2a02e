/* neuronctl scan: the familiar IOMMU group listing, then one block per GPU. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "neuron/scan.h"

static void print_device(const struct nr_pci_dev *d)
{
	/* lspci -nn's form: "01:00.0 VGA compatible controller [0300]: NVIDIA ... [10de:1b80] (rev a1)" */
	printf("%s ", nr_pci_short_addr(d));
	cli_put_clean(stdout, nr_pci_class_name(d));
	printf(" [%04x]: ", d->class_id);
	/* Like lspci -nn: an id pci.ids does not know is shown by its number only. */
	if (nr_pci_device_known(d))
		cli_put_clean(stdout, nr_pci_name(d));
	else if (nr_pci_vendor_known(d)) {
		cli_put_clean(stdout, nr_pci_vendor_name(d));
		fputs(" Device", stdout);
	} else
		fputs("Device", stdout);
	printf(" [%04x:%04x]", d->vendor, d->device);
	if (d->revision)
		printf(" (rev %02x)", d->revision);
	putchar('\n');
}

static void print_addrs(const struct nr_scan *scan, const size_t *v, size_t n)
{
	if (n == 0)
		fputs("none", stdout);
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? ", " : "", nr_pci_short_addr(&scan->devices[v[i]]));
	putchar('\n');
}

static void print_gpu(const struct nr_scan *scan, const struct nr_gpu *g)
{
	const struct nr_pci_dev *d = &scan->devices[g->dev];
	char idbuf[10];
	char *verdict = nr_gpu_verdict(scan, g);

	printf("\nGPU %s: ", d->addr);
	cli_put_clean(stdout, nr_pci_name(d));
	printf("\n  driver:      %s\n", d->driver ? d->driver : "none");
	printf("  boot GPU:    %s\n", g->boot_vga ? "yes (drives the host console)" : "no");
	printf("  functions:   ");
	print_addrs(scan, g->functions, g->n_functions);
	printf("  IOMMU group: ");
	if (g->n_groups == 0)
		printf("none");
	for (size_t k = 0; k < g->n_groups; k++)
		printf("%s%d", k ? ", " : "", g->groups[k]);
	putchar('\n');
	printf("  vfio ids:    ");
	if (g->n_vfio_ids == 0)
		printf("none");
	for (size_t k = 0; k < g->n_vfio_ids; k++)
		printf("%s%s", k ? "," : "", nr_vfio_id_str(g->vfio_ids[k], idbuf));
	putchar('\n');
	if (g->n_blockers) {
		printf("  blockers:    ");
		print_addrs(scan, g->blockers, g->n_blockers);
	}
	if (g->n_collisions) {
		printf("  same ids on: ");
		print_addrs(scan, g->collisions, g->n_collisions);
	}
	printf("  verdict:     %s\n", verdict ? verdict : "?");
	free(verdict);
}

static int scan_run(struct cli *cli, void *opts, int argc, char **argv)
{
	struct nr_error err = { 0 };
	struct nr_scan *scan;

	if (nr_scan_new(cli->ctx, &scan, &err) < 0)
		return cli_fail(cli, &err);

	if (cli->json) {
		char *s;
		if (nr_scan_to_json(scan, true, &s, &err) < 0) {
			nr_scan_free(scan);
			return cli_fail(cli, &err);
		}
		puts(s);
		cli->json_printed = true;
		free(s);
		nr_scan_free(scan);
		return EXIT_OK;
	}

	if (!scan->iommu)
		printf("IOMMU is off: no IOMMU groups (enable VT-d/AMD-Vi in firmware and add %s to the kernel command line)\n",
		       nr_iommu_params(scan->host.cpu_vendor)->by_hand);
	for (size_t g = 0; g < scan->n_groups; g++)
		for (size_t i = 0; i < scan->groups[g].n_devices; i++) {
			printf("IOMMU Group %d: ", scan->groups[g].id);
			print_device(&scan->devices[scan->groups[g].devices[i]]);
		}
	for (size_t i = 0; i < scan->n_devices; i++)
		if (scan->devices[i].iommu_group < 0) {
			if (scan->iommu)
				printf("No IOMMU group: ");
			print_device(&scan->devices[i]);
		}
	if (scan->n_gpus == 0)
		printf("\nNo GPU found (no device of class 03xx).\n");
	for (size_t i = 0; i < scan->n_gpus; i++)
		print_gpu(scan, &scan->gpus[i]);
	nr_scan_free(scan);
	return EXIT_OK;
}

static const struct cli_opt scan_opts[] = {
	CLI_JSON("print the scan as one JSON object (its fields: neuronctl(1))"),
	CLI_OPT_END,
};

const struct cli_cmd cli_cmd_scan = {
	.name = "scan",
	.usage = "scan [--json]",
	.help = "list PCI devices by IOMMU group, then what each GPU allows",
	.run = scan_run,
	.opts = scan_opts,
};
