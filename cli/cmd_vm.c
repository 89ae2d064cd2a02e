/* neuronctl vm xml|create|list|start|stop|destroy|delete: VMs from YAML profiles. */
#include <json-c/json.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "single.h"
#include "neuron/domain.h"
#include "neuron/lg.h"
#include "neuron/media.h"
#include "neuron/profile.h"
#include "neuron/scan.h"
#include "neuron/single.h"
#include "neuron/unattend.h"
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

/* One line from the terminal without echo; NULL at end of input. */
static char *ask_secret(FILE *tty, const char *prompt)
{
	struct termios old, quiet;
	char line[512];
	bool echo_off = tcgetattr(fileno(tty), &old) == 0;
	char *got;

	fputs(prompt, stderr);
	fflush(stderr);
	if (echo_off) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	}
	got = fgets(line, sizeof(line), tty);
	if (echo_off)
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputc('\n', stderr);
	if (!got) {
		memset(line, 0, sizeof(line));
		return NULL;
	}
	line[strcspn(line, "\r\n")] = '\0';
	got = strdup(line);
	memset(line, 0, sizeof(line));
	return got;
}

static void drop_secret(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

/* The autounattend.xml of a profile with `unattended`: the password from its file, or
 * asked twice on the terminal; never from the command line. */
static int unattend_xml(struct cli *cli, const struct nr_profile *p, char **xml, struct nr_error *err)
{
	char *password = NULL, *again = NULL;
	int rc;

	(void)cli;
	*xml = NULL;
	if (p->unattended.password_file) {
		if ((rc = nr_unattend_read_password(p->unattended.password_file, &password, err)) < 0)
			return rc;
	} else {
		int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
		FILE *tty = fd >= 0 && isatty(fd) ? fdopen(fd, "r+") : NULL;
		if (!tty) {
			if (fd >= 0)
				close(fd);
			return nr_error_set(err, -NR_E_INVAL,
					    "unattended: no terminal to ask the password of '%s' on: set "
					    "unattended.password_file to a file (mode 0600) that holds it",
					    p->unattended.user);
		}
		password = ask_secret(tty, "Password for the Windows account: ");
		again = password ? ask_secret(tty, "The same again: ") : NULL;
		fclose(tty);
		if (!password || !again || strcmp(password, again) != 0 || !password[0]) {
			drop_secret(password);
			drop_secret(again);
			return nr_error_set(err, -NR_E_INVAL, "unattended: the two passwords are empty or differ");
		}
		drop_secret(again);
	}
	rc = nr_unattend_build(p, password, xml, err);
	drop_secret(password);
	return rc;
}

struct vm_opts {
	const char *profile, **sets, *timeout;
	bool start, force, remove_disk, yes;
};

static int vm_xml(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct vm_opts *o = opts;
	const char *file = o->profile, **sets = o->sets;
	struct nr_error err = { 0 };
	struct nr_profile *p = NULL;
	struct nr_scan *scan = NULL;
	char *xml = NULL;
	int rc;

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
	return rc;
}

static int vm_create(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct vm_opts *o = opts;
	const char *file = o->profile, **sets = o->sets;
	struct nr_error err = { 0 };
	struct nr_profile *p = NULL;
	struct nr_scan *scan = NULL;
	struct nr_virt *virt = NULL;
	struct nr_vm_created made;
	char *xml = NULL, *answers = NULL;
	int rc;

	if (!file) {
		rc = cli_usage_error(cli, "--profile FILE is required");
		goto out;
	}
	rc = EXIT_FAIL;
	/* everything that can be refused (the password too) before anything is defined */
	if (load_profile(cli, file, sets, &p, &scan, &err) < 0 ||
	    nr_domain_build(p, cli->ctx, scan, &xml, &err) < 0 ||
	    nr_media_check(p, &err) < 0 ||
	    (p->unattended.enabled && unattend_xml(cli, p, &answers, &err) < 0) ||
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
	/* after the define, which refuses a name in use: another VM's media is never remade */
	if (nr_profile_guest_tools(p)) {
		struct nr_media_info media;
		if (nr_media_for_profile(cli->ctx, p, answers, &media, &err) < 0) {
			nr_error_prefix(&err, "VM %s is defined, but its guest-tools media is not (then: "
					"neuronctl agent media '%s'): ", p->name, p->name);
			rc = cli_fail(cli, &err);
			goto out;
		}
		cli_media_report(cli, &media);
		if (media.has_unattend)
			printf("  autounattend.xml on it: Windows installs by itself from the ISO (account '%s')\n",
			       p->unattended.user);
		if (media.has_lg)
			printf("  %s on it: %s\n", NR_MEDIA_LG_INSTALLER,
			       media.has_unattend ? "the first logon installs the Looking Glass host"
						  : "run it in Windows to install the Looking Glass host");
	}
	if (o->start) {
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
	if (answers)
		memset(answers, 0, strlen(answers));
	free(answers);
	free(xml);
	nr_scan_free(scan);
	nr_profile_free(p);
	return rc;
}

/* The autounattend.xml vm create would put on the media, for a look before creating. */
static int vm_unattend(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct vm_opts *o = opts;
	struct nr_error err = { 0 };
	struct nr_profile *p = NULL;
	struct nr_scan *scan = NULL;
	char *domain = NULL, *answers = NULL;
	int rc;

	if (!o->profile)
		return cli_usage_error(cli, "--profile FILE is required");
	if (load_profile(cli, o->profile, o->sets, &p, &scan, &err) < 0 ||
	    nr_domain_build(p, cli->ctx, scan, &domain, &err) < 0)
		rc = cli_fail(cli, &err);
	else if (!p->unattended.enabled)
		rc = cli_fail(cli, &(struct nr_error){ .code = -NR_E_INVAL,
						       .msg = "the profile has no 'unattended' install (unattended: {user: NAME})" });
	else if (unattend_xml(cli, p, &answers, &err) < 0)
		rc = cli_fail(cli, &err);
	else {
		fputs(answers, stdout);
		rc = EXIT_OK;
	}
	if (answers)
		memset(answers, 0, strlen(answers));
	free(answers);
	free(domain);
	nr_scan_free(scan);
	nr_profile_free(p);
	return rc;
}

static int vm_list(struct cli *cli, void *opts, int argc, char **argv)
{
	struct nr_error err = { 0 };
	struct nr_virt *virt = NULL;
	struct nr_vm_list *l = NULL;
	struct nr_scan *scan = NULL;

	if (nr_virt_open(cli->ctx, &virt, &err) < 0 || nr_vm_list(virt, &l, &err) < 0) {
		nr_virt_close(virt);
		return cli_fail(cli, &err);
	}
	/* which host device is the GPU: from the machine, when it can be read */
	if (nr_scan_new(cli->ctx, &scan, &err) < 0) {
		scan = NULL;
		nr_error_clear(&err);
	}
	if (cli->json) {
		json_object *arr = json_object_new_array();
		for (size_t i = 0; i < l->n; i++) {
			const struct nr_vm *vm = &l->vms[i];
			const struct nr_domain_info *in = vm->info;
			json_object *o = json_object_new_object(), *lg = NULL, *ag = NULL;
			const char *shm;
			unsigned mib;
			json_object_object_add(o, "name", json_object_new_string(vm->name));
			json_object_object_add(o, "state", json_object_new_string(nr_vm_state_name(vm->state)));
			json_object_object_add(o, "persistent", json_object_new_boolean(vm->persistent));
			json_object_object_add(o, "pci", cli_json_strv(in->pci, in->n_pci));
			json_object_object_add(o, "usb", cli_json_strv(in->usb, in->n_usb));
			if (nr_lg_shm_of(in, &shm, &mib, NULL) == 0) {
				lg = json_object_new_object();
				json_object_object_add(lg, "backend", json_object_new_string(nr_domain_lg_name(in->lg)));
				json_object_object_add(lg, "path", json_object_new_string(shm));
				json_object_object_add(lg, "size_mib", mib ? json_object_new_int((int)mib) : NULL);
			}
			json_object_object_add(o, "looking_glass", lg);
			if (in->agent) {
				ag = json_object_new_object();
				json_object_object_add(ag, "channel", json_object_new_string(NR_AGENT_CHANNEL));
				json_object_object_add(ag, "socket", cli_json_str(in->agent_socket));
			}
			json_object_object_add(o, "agent", ag);
			json_object_object_add(o, "tpm", json_object_new_boolean(in->tpm));
			json_object_array_add(arr, o);
		}
		cli_json_print(cli, arr);
	} else if (l->n == 0) {
		printf("no VMs on %s (make one: neuronctl vm create --profile FILE)\n", nr_virt_uri(virt));
	} else {
		printf("%-16s %-9s %-17s %-28s %s\n", "NAME", "STATE", "GPU", "LOOKING GLASS", "AGENT");
		for (size_t i = 0; i < l->n; i++) {
			const struct nr_vm *vm = &l->vms[i];
			const struct nr_domain_info *in = vm->info;
			char name[64], gpu[32], lg[300];
			const char *shm;
			unsigned mib;
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
			if (nr_lg_shm_of(in, &shm, &mib, NULL) == 0 && mib)
				snprintf(lg, sizeof(lg), "%s %uM", shm, mib);
			else if (shm)
				snprintf(lg, sizeof(lg), "%s (size unreadable)", shm);
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

/* A subcommand that takes one VM name and calls one core action. */
static int name_action(struct cli *cli, const char *name,
		       int (*action)(struct nr_virt *, const char *, struct nr_error *), const char *done)
{
	struct nr_error err = { 0 };
	struct nr_virt *virt = NULL;
	int rc;

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

/* A VM in single-GPU mode (nr_single_gpu_of: the boot GPU in use by the host, or profile key
 * gpu_mode single) starts through the hand-off: shown, asked, then run by libvirt's hook when
 * it is installed, else here, with the watchdog apart. */
static int vm_start(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct vm_opts *o = opts;
	const char *name = argv[0], *gpu = NULL;
	struct nr_error err = { 0 };
	struct nr_virt *virt = NULL;
	struct nr_domain_info *info = NULL;
	struct nr_scan *scan = NULL;
	struct nr_plan *plan = NULL;
	char *xml = NULL;
	bool hooked;
	int rc;

	if (nr_virt_open(cli->ctx, &virt, &err) < 0 || nr_virt_domain_xml(virt, name, &xml, &err) < 0 ||
	    nr_domain_inspect(xml, &info, &err) < 0) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	if (info->n_pci && nr_scan_new(cli->ctx, &scan, &err) == 0)
		gpu = nr_single_gpu_of(scan, info);
	nr_error_clear(&err);
	if (!gpu) {
		rc = name_action(cli, name, nr_vm_start, "started");
		goto out;
	}
	if (nr_single_plan(cli->ctx, scan, gpu, &plan, &err) < 0) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	hooked = nr_single_hook_installed(cli->ctx);
	printf("VM ");
	cli_put_clean(stdout, name);
	printf(" lends the GPU the host shows on (single-GPU mode): %s\n", hooked ? "libvirt's hook hands it over as it starts" :
	       "it is handed over now, then the VM starts, and a watchdog gives it back after");
	cli_single_show(cli, stdout, plan);
	if (!cli_confirm(cli, o->yes, "Start it?", "nothing was changed")) {
		rc = EXIT_FAIL;
		goto out;
	}
	if (!hooked) {
		struct nr_plan_opts popts = { .output = cli_plan_progress, .userdata = stdout };
		if (nr_single_handoff(cli->ctx, plan, &popts, &err) < 0) {
			rc = cli_fail(cli, &err);
			goto out;
		}
	}
	if (nr_vm_start(virt, name, &err) < 0) {
		struct nr_error rerr = { 0 };
		if (!hooked && cli_single_release(cli, stdout, &rerr) < 0)
			nr_error_prefix(&err, "the release failed too (%s); ", rerr.msg);
		rc = cli_fail(cli, &err);
		goto out;
	}
	if (!hooked && cli_single_spawn_watch(cli, name, &err) < 0)
		cli_note(cli, "the watchdog did not start (%s): run 'neuronctl gpu watch %s'", err.msg, name);
	printf("VM ");
	cli_put_clean(stdout, name);
	printf(" started\n");
	rc = EXIT_OK;
out:
	nr_plan_free(plan);
	nr_scan_free(scan);
	nr_domain_info_free(info);
	free(xml);
	nr_virt_close(virt);
	return rc;
}

static int vm_stop(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct vm_opts *o = opts;
	const char *timeout = o->timeout, *name = argv[0];
	bool destroyed = false;
	struct nr_error err = { 0 };
	struct nr_virt *virt = NULL;
	unsigned secs = 60;
	char *end;
	int rc;

	if (timeout) {
		unsigned long v = strtoul(timeout, &end, 10);
		if (!timeout[0] || *end || v > 86400)
			return cli_usage_error(cli, "--timeout takes seconds (0 to 86400), not '%s'", timeout);
		secs = (unsigned)v;
	}
	if (nr_virt_open(cli->ctx, &virt, &err) < 0 || nr_vm_stop(virt, name, secs, o->force, &destroyed, &err) < 0)
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

static int vm_destroy(struct cli *cli, void *opts, int argc, char **argv)
{
	return name_action(cli, argv[0], nr_vm_destroy, "powered off");
}

static int vm_delete(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct vm_opts *o = opts;
	const char *name = argv[0];
	bool remove_disk = o->remove_disk;
	struct nr_error err = { 0 };
	struct nr_virt *virt = NULL;
	size_t removed = 0;
	bool media = false;
	int rc;

	if (nr_virt_open(cli->ctx, &virt, &err) < 0 || nr_vm_delete(virt, name, remove_disk, &removed, &err) < 0)
		rc = cli_fail(cli, &err);
	else if (nr_media_remove(cli->ctx, name, &media, &err) < 0) {
		nr_error_prefix(&err, "VM %s deleted, but ", name);
		rc = cli_fail(cli, &err);
	} else {
		printf("VM ");
		cli_put_clean(stdout, name);
		if (remove_disk)
			printf(" deleted with %zu disk image%s", removed, removed == 1 ? "" : "s");
		else
			printf(" deleted; its disk images are kept");
		printf(media ? "; its guest-tools media removed\n" : "\n");
		rc = EXIT_OK;
	}
	nr_virt_close(virt);
	return rc;
}

/* ---- the table ------------------------------------------------------------------------ */

#define WHICH_VM .min_args = 1, .max_args = 1, .missing = "which VM? give its name"
#define PROFILE_OPTS(set_help) \
	CLI_VALUE("profile", "FILE", struct vm_opts, profile, "the YAML profile (see docs/profiles.md)"), \
	CLI_LIST("set", "KEY=VALUE", struct vm_opts, sets, set_help)

static const struct cli_cmd vm_xml_cmd = {
	.name = "xml",
	.usage = "vm xml --profile FILE [--set KEY=VALUE]...",
	.help = "print the libvirt domain XML of a profile",
	.run = vm_xml,
	.opts = (const struct cli_opt[]){
		PROFILE_OPTS("change one key of it first (memory=16G, cpu.vcpus=8); repeatable"),
		CLI_OPT_END,
	},
	.opts_size = sizeof(struct vm_opts),
};

static const struct cli_cmd vm_unattend_cmd = {
	.name = "unattend",
	.usage = "vm unattend --profile FILE [--set KEY=VALUE]...",
	.help = "print the autounattend.xml vm create puts on the media of a profile with unattended",
	.run = vm_unattend,
	.opts = (const struct cli_opt[]){
		PROFILE_OPTS("change one key of it first (unattended.locale=de-DE); repeatable"),
		CLI_OPT_END,
	},
	.opts_size = sizeof(struct vm_opts),
	.more = "The password comes from unattended.password_file (mode 0600), or is asked on the terminal;\n"
		"the file holds it as Windows Setup's encoded form (PlainText false), never as text.\n",
};

static const struct cli_cmd vm_create_cmd = {
	.name = "create",
	.usage = "vm create --profile FILE [--set KEY=VALUE]... [--start]",
	.help = "define the VM of a profile (and create its disk and guest-tools media)",
	.run = vm_create,
	.opts = (const struct cli_opt[]){
		PROFILE_OPTS("change one key of it first (memory=16G); repeatable"),
		CLI_BOOL("start", struct vm_opts, start, "start the VM once it is defined"),
		CLI_OPT_END,
	},
	.opts_size = sizeof(struct vm_opts),
};

static const struct cli_cmd vm_list_cmd = {
	.name = "list",
	.usage = "vm list [--json]",
	.help = "list VMs: state, GPU, Looking Glass memory, agent channel",
	.run = vm_list,
	.opts = (const struct cli_opt[]){ CLI_JSON("print the list as JSON"), CLI_OPT_END },
};

static const struct cli_cmd vm_start_cmd = {
	.name = "start",
	.usage = "vm start NAME [--yes]",
	.help = "start a VM (one in single-GPU mode through the hand-off, shown and asked first)",
	.run = vm_start,
	.opts = (const struct cli_opt[]){
		CLI_BOOL("yes", struct vm_opts, yes, "single-GPU: do not ask before the local screen goes dark"),
		CLI_OPT_END,
	},
	.opts_size = sizeof(struct vm_opts),
	WHICH_VM,
};

static const struct cli_cmd vm_stop_cmd = {
	.name = "stop",
	.usage = "vm stop NAME [--timeout SECONDS] [--force]",
	.help = "ask the guest to shut down (ACPI); --force powers it off after the timeout",
	.run = vm_stop,
	.opts = (const struct cli_opt[]){
		CLI_VALUE("timeout", "SECONDS", struct vm_opts, timeout,
			  "wait this long for the guest to power off (default 60)"),
		CLI_BOOL("force", struct vm_opts, force, "power it off (destroy) when it has not stopped by then"),
		CLI_OPT_END,
	},
	.opts_size = sizeof(struct vm_opts),
	WHICH_VM,
};

static const struct cli_cmd vm_destroy_cmd = {
	.name = "destroy",
	.usage = "vm destroy NAME",
	.help = "power a VM off at once",
	.run = vm_destroy,
	WHICH_VM,
};

static const struct cli_cmd vm_delete_cmd = {
	.name = "delete",
	.usage = "vm delete NAME [--remove-disk]",
	.help = "remove a VM's definition and guest-tools media (the disk stays unless asked)",
	.run = vm_delete,
	.opts = (const struct cli_opt[]){
		CLI_BOOL("remove-disk", struct vm_opts, remove_disk, "also delete its disk images (kept by default)"),
		CLI_OPT_END,
	},
	.opts_size = sizeof(struct vm_opts),
	WHICH_VM,
};

const struct cli_cmd cli_cmd_vm = {
	.name = "vm",
	.usage = "vm xml|unattend|create|list|start|stop|destroy|delete ...",
	.help = "VMs from YAML profiles: domain XML, define, list, start, stop, delete",
	.subs = (const struct cli_cmd *const[]){
		&vm_xml_cmd, &vm_unattend_cmd, &vm_create_cmd, &vm_list_cmd, &vm_start_cmd, &vm_stop_cmd, &vm_destroy_cmd,
		&vm_delete_cmd, NULL,
	},
};
