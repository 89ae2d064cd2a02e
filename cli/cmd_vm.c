/* neuronctl vm xml|create|list|start|stop|destroy|delete: VMs from YAML profiles. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "neuron/domain.h"
#include "neuron/profile.h"
#include "neuron/scan.h"
#include "neuron/util.h"
#include "neuron/vm.h"

/* Load the profile, apply --set KEY=VALUE edits, scan the machine when the profile needs it. */
static int load_profile(struct cli *cli, const char *file, const char **sets, struct nr_profile **p,
			struct nr_scan **scan, struct nr_error *err)
{
	int rc;

	*scan = NULL;
	rc = nr_profile_load(file, p, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; sets && sets[i]; i++) {
		char key[128];
		const char *eq = strchr(sets[i], '=');
		if (!eq || (size_t)(eq - sets[i]) >= sizeof(key)) {
			nr_profile_free(*p);
			*p = NULL;
			return nr_error_set(err, -NR_E_INVAL, "--set takes KEY=VALUE (memory=16G), not '%s'", sets[i]);
		}
		memcpy(key, sets[i], (size_t)(eq - sets[i]));
		key[eq - sets[i]] = '\0';
		rc = nr_profile_set(*p, key, eq + 1, err);
		if (rc < 0) {
			nr_error_prefix(err, "--set: ");
			nr_profile_free(*p);
			*p = NULL;
			return rc;
		}
	}
	/* The machine is read when anything depends on it: passed-through devices, and the
	 * CPU vendor for the topology; a profile without devices builds without it. */
	rc = nr_scan_new(cli->ctx, scan, err);
	if (rc < 0) {
		if ((*p)->gpu == NR_PROFILE_GPU_NONE && (*p)->n_pci == 0) {
			nr_error_clear(err);
			return 0;
		}
		nr_profile_free(*p);
		*p = NULL;
		return rc;
	}
	return 0;
}

static const char profile_help[] =
	"  --profile FILE     the YAML profile (see docs/profiles.md)\n"
	"  --set KEY=VALUE    change one key of it first (memory=16G, cpu.vcpus=8); repeatable\n";

static int vm_xml(struct cli *cli, int argc, char **argv)
{
	const char *file = NULL, **sets = NULL;
	const struct cli_flag flags[] = {
		{ "profile=", NULL, &file, NULL },
		{ "set=", NULL, NULL, &sets },
		{ NULL, NULL, NULL, NULL },
	};
	struct nr_error err = { 0 };
	struct nr_profile *p = NULL;
	struct nr_scan *scan = NULL;
	char *xml = NULL;
	int argi, rc;

	if (cli_parse_flags(cli, argc, argv, flags, profile_help, &argi, &rc))
		goto out;
	rc = EXIT_USAGE;
	if (argi < argc) {
		rc = cli_usage_error(cli, "unexpected argument '%s'", argv[argi]);
		goto out;
	}
	if (!file) {
		rc = cli_usage_error(cli, "--profile FILE is required");
		goto out;
	}
	if (load_profile(cli, file, sets, &p, &scan, &err) < 0 ||
	    nr_domain_build(p, cli->ctx, scan, &xml, &err) < 0) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	fputs(xml, stdout);
	rc = EXIT_OK;
out:
	free(xml);
	nr_scan_free(scan);
	nr_profile_free(p);
	free(sets);
	return rc;
}

static int vm_create(struct cli *cli, int argc, char **argv)
{
	const char *file = NULL, **sets = NULL;
	bool start = false;
	const struct cli_flag flags[] = {
		{ "profile=", NULL, &file, NULL },
		{ "set=", NULL, NULL, &sets },
		{ "start", &start, NULL, NULL },
		{ NULL, NULL, NULL, NULL },
	};
	struct nr_error err = { 0 };
	struct nr_profile *p = NULL;
	struct nr_scan *scan = NULL;
	struct nr_virt *virt = NULL;
	struct nr_vm_created made;
	char *xml = NULL;
	int argi, rc;

	if (cli_parse_flags(cli, argc, argv, flags,
			    "  --profile FILE     the YAML profile (see docs/profiles.md)\n"
			    "  --set KEY=VALUE    change one key of it first (memory=16G); repeatable\n"
			    "  --start            start the VM once it is defined\n", &argi, &rc))
		goto out;
	if (argi < argc) {
		rc = cli_usage_error(cli, "unexpected argument '%s'", argv[argi]);
		goto out;
	}
	if (!file) {
		rc = cli_usage_error(cli, "--profile FILE is required");
		goto out;
	}
	rc = EXIT_FAIL;
	if (load_profile(cli, file, sets, &p, &scan, &err) < 0 ||
	    nr_domain_build(p, cli->ctx, scan, &xml, &err) < 0 ||
	    nr_virt_open(cli->ctx, &virt, &err) < 0 ||
	    nr_vm_create(virt, p, xml, &made, &err) < 0) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	if (made.disk != NR_VM_DISK_NONE) {
		char *path = nr_profile_get(p, "disk.path");
		printf("disk ");
		cli_put_clean(stdout, path);
		printf(made.disk == NR_VM_DISK_EXISTS ? ": exists, kept\n" :
		       made.disk == NR_VM_DISK_QEMU_IMG ? ": created with qemu-img\n" :
		       made.disk == NR_VM_DISK_SPARSE ? ": created (sparse raw file)\n" : ": created in pool ");
		if (made.disk == NR_VM_DISK_POOL) {
			cli_put_clean(stdout, made.pool);
			putchar('\n');
		}
		free(path);
	}
	printf("VM ");
	cli_put_clean(stdout, p->name);
	printf(" defined on %s\n", nr_virt_uri(virt));
	if (start) {
		if (nr_vm_start(virt, p->name, &err) < 0) {
			rc = cli_fail(cli, &err);
			goto out;
		}
		printf("VM ");
		cli_put_clean(stdout, p->name);
		printf(" started\n");
	}
	rc = EXIT_OK;
out:
	nr_virt_close(virt);
	free(xml);
	nr_scan_free(scan);
	nr_profile_free(p);
	free(sets);
	return rc;
}

static json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static json_object *jlist(char **items, size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(items[i]));
	return a;
}

static int vm_list(struct cli *cli, int argc, char **argv)
{
	bool json = false;
	const struct cli_flag flags[] = {
		{ "json", &json, NULL, NULL },
		{ NULL, NULL, NULL, NULL },
	};
	struct nr_error err = { 0 };
	struct nr_virt *virt = NULL;
	struct nr_vm_list *l = NULL;
	struct nr_scan *scan = NULL;
	int argi, rc;

	if (cli_parse_flags(cli, argc, argv, flags, "  --json    print the list as JSON\n", &argi, &rc))
		return rc;
	if (argi < argc)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[argi]);
	if (nr_virt_open(cli->ctx, &virt, &err) < 0 || nr_vm_list(virt, &l, &err) < 0) {
		nr_virt_close(virt);
		return cli_fail(cli, &err);
	}
	/* which host device is the GPU: from the machine, when it can be read */
	if (nr_scan_new(cli->ctx, &scan, &err) < 0) {
		scan = NULL;
		nr_error_clear(&err);
	}
	if (json) {
		json_object *arr = json_object_new_array();
		for (size_t i = 0; i < l->n; i++) {
			const struct nr_vm *vm = &l->vms[i];
			const struct nr_domain_info *in = vm->info;
			json_object *o = json_object_new_object(), *lg = NULL, *ag = NULL;
			json_object_object_add(o, "name", json_object_new_string(vm->name));
			json_object_object_add(o, "state", json_object_new_string(nr_vm_state_name(vm->state)));
			json_object_object_add(o, "persistent", json_object_new_boolean(vm->persistent));
			json_object_object_add(o, "pci", jlist(in->pci, in->n_pci));
			json_object_object_add(o, "usb", jlist(in->usb, in->n_usb));
			if (in->lg) {
				lg = json_object_new_object();
				json_object_object_add(lg, "path", jstr(in->lg_path));
				json_object_object_add(lg, "size_mib", json_object_new_int((int)in->lg_size_mib));
			}
			json_object_object_add(o, "looking_glass", lg);
			if (in->agent) {
				ag = json_object_new_object();
				json_object_object_add(ag, "channel", json_object_new_string(NR_AGENT_CHANNEL));
				json_object_object_add(ag, "socket", jstr(in->agent_socket));
			}
			json_object_object_add(o, "agent", ag);
			json_object_object_add(o, "tpm", json_object_new_boolean(in->tpm));
			json_object_array_add(arr, o);
		}
		puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(arr);
	} else if (l->n == 0) {
		printf("no VMs on %s (make one: neuronctl vm create --profile FILE)\n", nr_virt_uri(virt));
	} else {
		printf("%-16s %-9s %-17s %-28s %s\n", "NAME", "STATE", "GPU", "LOOKING GLASS", "AGENT");
		for (size_t i = 0; i < l->n; i++) {
			const struct nr_vm *vm = &l->vms[i];
			const struct nr_domain_info *in = vm->info;
			char name[64], gpu[32], lg[300];
			nr_text_sanitize(name, sizeof(name), vm->name, false);
			/* the GPU among the PCI devices when the machine says which; +N the others */
			size_t shown = 0;
			for (size_t k = 0; scan && k < in->n_pci; k++) {
				const struct nr_pci_dev *d = nr_scan_device(scan, in->pci[k]);
				if (d && nr_pci_is_gpu(d)) {
					shown = k;
					break;
				}
			}
			if (in->n_pci > 1)
				snprintf(gpu, sizeof(gpu), "%s +%zu", in->pci[shown], in->n_pci - 1);
			else
				snprintf(gpu, sizeof(gpu), "%s", in->n_pci ? in->pci[shown] : "-");
			if (in->lg)
				snprintf(lg, sizeof(lg), "%s %uM", in->lg_path ? in->lg_path : "?", in->lg_size_mib);
			else
				snprintf(lg, sizeof(lg), "-");
			printf("%-16s %-9s %-17s ", name, nr_vm_state_name(vm->state), gpu);
			cli_put_clean(stdout, lg);
			printf("%*s", (int)(strlen(lg) < 28 ? 28 - strlen(lg) : 0), "");
			printf(" ");
			if (!in->agent)
				printf("-");
			else if (in->agent_socket)
				cli_put_clean(stdout, in->agent_socket);
			else
				printf("%s (socket when running)", NR_AGENT_CHANNEL);
			putchar('\n');
		}
	}
	nr_scan_free(scan);
	nr_vm_list_free(l);
	nr_virt_close(virt);
	return EXIT_OK;
}

/* start, destroy: one NAME, no options */
static int one_name(struct cli *cli, int argc, char **argv, const struct cli_flag *flags, const char *help,
		    const char **name, int *rc)
{
	int argi;

	if (cli_parse_flags(cli, argc, argv, flags, help, &argi, rc))
		return 1;
	if (argi >= argc) {
		*rc = cli_usage_error(cli, "which VM? give its name");
		return 1;
	}
	*name = argv[argi];
	/* options may follow the name too: vm stop win11 --force */
	argv += argi;
	argc -= argi;
	if (cli_parse_flags(cli, argc, argv, flags, help, &argi, rc))
		return 1;
	if (argi < argc) {
		*rc = cli_usage_error(cli, "unexpected argument '%s'", argv[argi]);
		return 1;
	}
	return 0;
}

/* A subcommand that takes one VM name and calls one core action. */
static int name_action(struct cli *cli, int argc, char **argv,
		       int (*action)(struct nr_virt *, const char *, struct nr_error *), const char *done)
{
	const struct cli_flag flags[] = { { NULL, NULL, NULL, NULL } };
	struct nr_error err = { 0 };
	struct nr_virt *virt = NULL;
	const char *name;
	int rc;

	if (one_name(cli, argc, argv, flags, "", &name, &rc))
		return rc;
	if (nr_virt_open(cli->ctx, &virt, &err) < 0 || action(virt, name, &err) < 0)
		rc = cli_fail(cli, &err);
	else {
		printf("VM ");
		cli_put_clean(stdout, name);
		printf(" %s\n", done);
		rc = EXIT_OK;
	}
	nr_virt_close(virt);
	return rc;
}

static int vm_start(struct cli *cli, int argc, char **argv)
{
	return name_action(cli, argc, argv, nr_vm_start, "started");
}

static int vm_stop(struct cli *cli, int argc, char **argv)
{
	const char *timeout = NULL;
	bool force = false, destroyed = false;
	const struct cli_flag flags[] = {
		{ "timeout=", NULL, &timeout, NULL },
		{ "force", &force, NULL, NULL },
		{ NULL, NULL, NULL, NULL },
	};
	struct nr_error err = { 0 };
	struct nr_virt *virt = NULL;
	const char *name;
	unsigned secs = 60;
	char *end;
	int rc;

	if (one_name(cli, argc, argv, flags,
		     "  --timeout SECONDS  wait this long for the guest to power off (default 60)\n"
		     "  --force            power it off (destroy) when it has not stopped by then\n",
		     &name, &rc))
		return rc;
	if (timeout) {
		unsigned long v = strtoul(timeout, &end, 10);
		if (!timeout[0] || *end || v > 86400)
			return cli_usage_error(cli, "--timeout takes seconds (0 to 86400), not '%s'", timeout);
		secs = (unsigned)v;
	}
	if (nr_virt_open(cli->ctx, &virt, &err) < 0 || nr_vm_stop(virt, name, secs, force, &destroyed, &err) < 0)
		rc = cli_fail(cli, &err);
	else {
		printf("VM ");
		cli_put_clean(stdout, name);
		printf(destroyed ? " did not shut down in %u s: powered off\n" : " shut down\n", secs);
		rc = EXIT_OK;
	}
	nr_virt_close(virt);
	return rc;
}

static int vm_destroy(struct cli *cli, int argc, char **argv)
{
	return name_action(cli, argc, argv, nr_vm_destroy, "powered off");
}

static int vm_delete(struct cli *cli, int argc, char **argv)
{
	bool remove_disk = false;
	const struct cli_flag flags[] = {
		{ "remove-disk", &remove_disk, NULL, NULL },
		{ NULL, NULL, NULL, NULL },
	};
	struct nr_error err = { 0 };
	struct nr_virt *virt = NULL;
	const char *name;
	size_t removed = 0;
	int rc;

	if (one_name(cli, argc, argv, flags, "  --remove-disk   also delete its disk images (kept by default)\n",
		     &name, &rc))
		return rc;
	if (nr_virt_open(cli->ctx, &virt, &err) < 0 || nr_vm_delete(virt, name, remove_disk, &removed, &err) < 0)
		rc = cli_fail(cli, &err);
	else {
		printf("VM ");
		cli_put_clean(stdout, name);
		if (remove_disk)
			printf(" deleted with %zu disk image%s\n", removed, removed == 1 ? "" : "s");
		else
			printf(" deleted; its disk images are kept\n");
		rc = EXIT_OK;
	}
	nr_virt_close(virt);
	return rc;
}

static const struct {
	const char *name, *usage, *help;
	int (*run)(struct cli *cli, int argc, char **argv);
} subs[] = {
	{ "xml", "vm xml --profile FILE [--set KEY=VALUE]...", "print the libvirt domain XML of a profile", vm_xml },
	{ "create", "vm create --profile FILE [--set KEY=VALUE]... [--start]",
	  "define the VM of a profile (and create its disk when missing)", vm_create },
	{ "list", "vm list [--json]", "list VMs: state, GPU, Looking Glass memory, agent channel", vm_list },
	{ "start", "vm start NAME", "start a VM", vm_start },
	{ "stop", "vm stop NAME [--timeout SECONDS] [--force]",
	  "ask the guest to shut down (ACPI); --force powers it off after the timeout", vm_stop },
	{ "destroy", "vm destroy NAME", "power a VM off at once", vm_destroy },
	{ "delete", "vm delete NAME [--remove-disk]", "remove a VM's definition (the disk stays unless asked)",
	  vm_delete },
};
#define NSUBS (sizeof(subs) / sizeof(subs[0]))

int cmd_vm(struct cli *cli, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		FILE *f = argc < 2 ? stderr : stdout;
		fprintf(f, "usage: %s %s\n\n%s\n\nSubcommands:\n", cli->prog, cli->usage, cli->help);
		for (size_t i = 0; i < NSUBS; i++)
			fprintf(f, "  %-52s %s\n", subs[i].usage, subs[i].help);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	for (size_t i = 0; i < NSUBS; i++)
		if (strcmp(argv[1], subs[i].name) == 0) {
			struct cli sub = *cli;
			char cmd[32];
			snprintf(cmd, sizeof(cmd), "vm %s", subs[i].name);
			sub.cmd = cmd;
			sub.usage = subs[i].usage;
			sub.help = subs[i].help;
			return subs[i].run(&sub, argc - 1, argv + 1);
		}
	return cli_usage_error(cli, "unknown subcommand '%s' (xml, create, list, start, stop, destroy, delete)",
			       argv[1]);
}
