/* neuronctl gpu bind|unbind ADDR: move a GPU's passthrough set to vfio-pci and back, now. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "neuron/bind.h"
#include "neuron/scan.h"
#include "neuron/vm.h"

static void show_value(const char *v)
{
	if (strcmp(v, "\n") == 0)
		printf("(empty)");
	else {
		putchar('\'');
		cli_put_clean(stdout, v);
		putchar('\'');
	}
}

struct bind_opts {
	bool force, dry_run;
};

static int gpu_bind(struct cli *cli, const struct bind_opts *o, const char *addr, bool to_vfio)
{
	struct nr_error err = { 0 };
	struct nr_scan *scan = NULL;
	struct nr_virt *virt = NULL;
	struct nr_bind_busy busy = { 0 };
	struct nr_bind_plan *plan = NULL;
	bool dry_run = o->dry_run;
	int rc;

	if (nr_scan_new(cli->ctx, &scan, &err) < 0)
		return cli_fail(cli, &err);
	/* Devices that running VMs hold are refused; without libvirt no VM of it runs. */
	if (nr_virt_open(cli->ctx, &virt, &err) == 0) {
		if (nr_vm_busy_pci(virt, &busy.addrs, &busy.owners, &busy.n, &err) < 0) {
			rc = cli_fail(cli, &err);
			goto out;
		}
	} else {
		cli_note(cli, "running VMs not checked: %s", err.msg);
		nr_error_clear(&err);
	}
	if (nr_bind_plan_new(cli->ctx, scan, addr, to_vfio, o->force ? NR_BIND_FORCE : 0, &busy, &plan, &err) < 0) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	if (plan->n_writes == 0) {
		printf("%s: every device is already %s\n", plan->gpu, to_vfio ? "on vfio-pci" : "off vfio-pci");
		rc = EXIT_OK;
		goto out;
	}
	for (size_t i = 0; i < plan->n_writes; i++) {
		printf("%s", dry_run ? "would write " : "write ");
		show_value(plan->writes[i].value);
		printf(" > ");
		cli_put_clean(stdout, plan->writes[i].path);
		putchar('\n');
	}
	if (!dry_run && nr_bind_apply(cli->ctx, plan, &err) < 0) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	for (size_t i = 0; i < plan->n_devices; i++) {
		const struct nr_bind_device *d = &plan->devices[i];
		printf("%s: ", d->addr);
		cli_put_clean(stdout, d->driver ? d->driver : "(no driver)");
		printf(" -> ");
		cli_put_clean(stdout, d->target ? d->target : "(the kernel's choice)");
		putchar('\n');
	}
	if (to_vfio && !dry_run) {
		printf("original drivers remembered in ");
		cli_put_clean(stdout, plan->state_file);
		putchar('\n');
	}
	rc = EXIT_OK;
out:
	nr_bind_plan_free(plan);
	nr_vm_busy_free(busy.addrs, busy.owners, busy.n);
	nr_virt_close(virt);
	nr_scan_free(scan);
	return rc;
}

static int gpu_bind_vfio(struct cli *cli, void *opts, int argc, char **argv)
{
	return gpu_bind(cli, opts, argv[0], true);
}

static int gpu_unbind(struct cli *cli, void *opts, int argc, char **argv)
{
	return gpu_bind(cli, opts, argv[0], false);
}

#define WHICH_GPU "which GPU? give its PCI address (see neuronctl scan)"

static const struct cli_opt bind_options[] = {
	CLI_BOOL("force", struct bind_opts, force, "also the boot GPU (the host console goes dark: single-GPU path)"),
	CLI_BOOL("dry-run", struct bind_opts, dry_run, "print the sysfs writes without doing them"),
	CLI_OPT_END,
};

static const struct cli_opt unbind_options[] = {
	CLI_BOOL("dry-run", struct bind_opts, dry_run, "print the sysfs writes without doing them"),
	CLI_OPT_END,
};

static const struct cli_cmd gpu_bind_cmd = {
	.name = "bind",
	.usage = "gpu bind ADDR [--force] [--dry-run]",
	.help = "move every function of the GPU's passthrough set to vfio-pci, remembering their drivers",
	.run = gpu_bind_vfio,
	.opts = bind_options,
	.opts_size = sizeof(struct bind_opts),
	.min_args = 1, .max_args = 1, .missing = WHICH_GPU,
};

static const struct cli_cmd gpu_unbind_cmd = {
	.name = "unbind",
	.usage = "gpu unbind ADDR [--dry-run]",
	.help = "give those functions back to their original drivers",
	.run = gpu_unbind,
	.opts = unbind_options,
	.opts_size = sizeof(struct bind_opts),
	.min_args = 1, .max_args = 1, .missing = WHICH_GPU,
};

const struct cli_cmd cli_cmd_gpu = {
	.name = "gpu",
	.usage = "gpu bind|unbind ADDR ...",
	.help = "move a GPU to vfio-pci now, or give it back to its drivers",
	.subs = (const struct cli_cmd *const[]){ &gpu_bind_cmd, &gpu_unbind_cmd, NULL },
};
