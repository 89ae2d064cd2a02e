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

static int gpu_bind(struct cli *cli, int argc, char **argv, bool to_vfio)
{
	bool force = false, dry_run = false;
	const struct cli_flag bind_flags[] = {
		{ "force", &force, NULL, NULL },
		{ "dry-run", &dry_run, NULL, NULL },
		{ NULL, NULL, NULL, NULL },
	};
	const struct cli_flag unbind_flags[] = {
		{ "dry-run", &dry_run, NULL, NULL },
		{ NULL, NULL, NULL, NULL },
	};
	struct nr_error err = { 0 };
	struct nr_scan *scan = NULL;
	struct nr_virt *virt = NULL;
	struct nr_bind_busy busy = { 0 };
	struct nr_bind_plan *plan = NULL;
	const char *addr;
	int argi, rc;

	if (cli_parse_flags(cli, argc, argv, to_vfio ? bind_flags : unbind_flags,
			    to_vfio ? "  --force     also the boot GPU (the host console goes dark: single-GPU path)\n"
				      "  --dry-run   print the sysfs writes without doing them\n"
				    : "  --dry-run   print the sysfs writes without doing them\n",
			    &argi, &rc))
		return rc;
	if (argi >= argc)
		return cli_usage_error(cli, "which GPU? give its PCI address (see neuronctl scan)");
	addr = argv[argi];
	/* options may follow the address too: gpu bind 01:00.0 --dry-run */
	argv += argi;
	argc -= argi;
	if (cli_parse_flags(cli, argc, argv, to_vfio ? bind_flags : unbind_flags, "", &argi, &rc))
		return rc;
	if (argi < argc)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[argi]);
	if (nr_scan_new(cli->ctx, &scan, &err) < 0)
		return cli_fail(cli, &err);
	/* Devices that running VMs hold are refused; without libvirt no VM of it runs. */
	if (nr_virt_open(cli->ctx, &virt, &err) == 0) {
		if (nr_vm_busy_pci(virt, &busy.addrs, &busy.owners, &busy.n, &err) < 0) {
			rc = cli_fail(cli, &err);
			goto out;
		}
	} else {
		fprintf(stderr, "%s: %s: note: running VMs not checked: ", cli->prog, cli->cmd);
		cli_put_clean(stderr, err.msg);
		fputc('\n', stderr);
		nr_error_clear(&err);
	}
	if (nr_bind_plan_new(cli->ctx, scan, addr, to_vfio, force ? NR_BIND_FORCE : 0, &busy, &plan, &err) < 0) {
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

static int gpu_bind_vfio(struct cli *cli, int argc, char **argv)
{
	return gpu_bind(cli, argc, argv, true);
}

static int gpu_unbind(struct cli *cli, int argc, char **argv)
{
	return gpu_bind(cli, argc, argv, false);
}

static const struct {
	const char *name, *usage, *help;
	int (*run)(struct cli *cli, int argc, char **argv);
} subs[] = {
	{ "bind", "gpu bind ADDR [--force] [--dry-run]",
	  "move every function of the GPU's passthrough set to vfio-pci, remembering their drivers", gpu_bind_vfio },
	{ "unbind", "gpu unbind ADDR [--dry-run]", "give those functions back to their original drivers",
	  gpu_unbind },
};
#define NSUBS (sizeof(subs) / sizeof(subs[0]))

int cmd_gpu(struct cli *cli, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		FILE *f = argc < 2 ? stderr : stdout;
		fprintf(f, "usage: %s %s\n\n%s\n\nSubcommands:\n", cli->prog, cli->usage, cli->help);
		for (size_t i = 0; i < NSUBS; i++)
			fprintf(f, "  %-38s %s\n", subs[i].usage, subs[i].help);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	for (size_t i = 0; i < NSUBS; i++)
		if (strcmp(argv[1], subs[i].name) == 0) {
			struct cli sub = *cli;
			char cmd[32];
			snprintf(cmd, sizeof(cmd), "gpu %s", subs[i].name);
			sub.cmd = cmd;
			sub.usage = subs[i].usage;
			sub.help = subs[i].help;
			return subs[i].run(&sub, argc - 1, argv + 1);
		}
	return cli_usage_error(cli, "unknown subcommand '%s' (bind, unbind)", argv[1]);
}
