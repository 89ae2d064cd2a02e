/* neuronctl gpu bind|unbind ADDR: move a GPU's passthrough set to vfio-pci and back, now;
 * gpu handoff|restore|watch|hook: single-GPU passthrough (the boot GPU lent to a VM). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "plan_show.h"
#include "single.h"
#include "neuron/bind.h"
#include "neuron/domain.h"
#include "neuron/scan.h"
#include "neuron/single.h"
#include "neuron/util.h"
#include "neuron/virt.h"
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

/* ---- single-GPU passthrough ------------------------------------------------------------ */

struct single_opts {
	bool yes, dry_run;
};

static int gpu_handoff(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct single_opts *o = opts;

	return cli_single_handoff(cli, argv[0], o->yes, o->dry_run, stdout);
}

static int gpu_restore(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct single_opts *o = opts;
	struct nr_error err = { 0 };
	struct nr_plan_status st;
	const char *gpu;

	if (nr_plan_status_read(cli->ctx, NR_SINGLE_PLAN, &st, &err) < 0)
		return cli_fail(cli, &err);
	if (st.state == NR_PLAN_STATE_NONE) {
		nr_plan_status_done(&st);
		printf("nothing to restore: no single-GPU hand-off is recorded\n");
		return EXIT_OK;
	}
	gpu = nr_plan_status_meta(&st, "gpu");
	printf("A single-GPU hand-off of ");
	cli_put_clean(stdout, gpu ? gpu : "a GPU");
	printf(" is recorded (%s); the release undoes, newest first:\n", nr_plan_state_name(st.state));
	for (size_t i = st.n_actions; i-- > 0;) {
		printf("  - ");
		cli_put_clean(stdout, st.actions[i]);
		putchar('\n');
	}
	nr_plan_status_done(&st);
	if (o->dry_run)
		return EXIT_OK;
	if (cli_single_release(cli, stdout, &err) < 0)
		return cli_fail(cli, &err);
	printf("the GPU is back with its drivers, the console and the display manager are back\n");
	return EXIT_OK;
}

/* The watchdog's view of a VM through libvirt (reconnecting when the daemon went away). */
struct watched {
	struct cli *cli;
	struct nr_virt *virt;
	const char *name;
};

static int watched_running(void *data, struct nr_error *err)
{
	struct watched *w = data;
	struct nr_vm *vm = NULL;
	int rc;

	if (w->virt && !nr_virt_alive(w->virt)) {
		nr_virt_close(w->virt);
		w->virt = NULL;
	}
	if (!w->virt && (rc = nr_virt_open(w->cli->ctx, &w->virt, err)) < 0)
		return rc;
	if ((rc = nr_vm_get(w->virt, w->name, &vm, err)) < 0)
		return rc == -NR_E_NOVM ? 0 : rc;
	rc = vm->state == NR_VM_RUNNING || vm->state == NR_VM_PAUSED || vm->state == NR_VM_STOPPING ||
	     vm->state == NR_VM_SUSPENDED;
	nr_vm_free(vm);
	return rc;
}

static int watched_destroy(void *data, struct nr_error *err)
{
	struct watched *w = data;

	return w->virt ? nr_vm_destroy(w->virt, w->name, err) : -NR_E_VIRT;
}

static int gpu_watch(struct cli *cli, void *opts, int argc, char **argv)
{
	struct watched w = { cli, NULL, argv[0] };
	struct nr_single_vm vm = { watched_running, watched_destroy, &w };
	struct nr_plan_opts popts = { .output = cli_plan_progress, .userdata = stdout };
	struct nr_error err = { 0 };
	enum nr_single_end end = NR_SINGLE_STOPPED;
	int rc;

	printf("watching VM ");
	cli_put_clean(stdout, argv[0]);
	printf(": it must run within %s s; escape chord ", nr_ctx_get(cli->ctx, "single.start_s"));
	cli_put_clean(stdout, nr_ctx_get(cli->ctx, "single.chord"));
	putchar('\n');
	fflush(stdout);
	rc = nr_single_watch(cli->ctx, &vm, NULL, &popts, &end, &err);
	nr_virt_close(w.virt);
	printf("%s: ", nr_single_end_text(end));
	if (rc < 0 && rc != -NR_E_NOTFOUND)
		return cli_fail(cli, &err);
	printf("%s\n", rc == -NR_E_NOTFOUND ? "nothing was left to release" : "the GPU was given back");
	return EXIT_OK;
}

static int gpu_hook_install(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct single_opts *o = opts;
	struct nr_plan_opts popts = { .output = cli_plan_progress, .userdata = stdout };
	struct nr_error err = { 0 };
	struct nr_plan *plan = NULL;
	int rc;

	if (nr_single_hook_plan(cli->ctx, &plan, &err) < 0)
		return cli_fail(cli, &err);
	cli_plan_print(stdout, plan);
	if (o->dry_run) {
		rc = EXIT_OK;
	} else if (!cli_confirm(cli, o->yes || nr_plan_is_noop(plan), "Install the hook?", "nothing was written")) {
		rc = EXIT_FAIL;
	} else if (nr_plan_apply(plan, &popts, NULL, &err) < 0) {
		rc = cli_fail(cli, &err);
	} else {
		printf("installed: libvirt runs the single-GPU hand-off for VMs that hold the boot GPU "
		       "(restart libvirtd once so that it sees a new hook)\n");
		rc = EXIT_OK;
	}
	nr_plan_free(plan);
	return rc;
}

static int gpu_hook_revert(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct single_opts *o = opts;
	struct nr_plan_opts popts = { .output = cli_plan_progress, .userdata = stdout };
	struct nr_error err = { 0 };

	if (!cli_confirm(cli, o->yes, "Remove libvirt's single-GPU hook?", "nothing was changed"))
		return EXIT_FAIL;
	if (nr_plan_revert(cli->ctx, NR_SINGLE_HOOK_PLAN, &popts, NULL, &err) < 0)
		return cli_fail(cli, &err);
	printf("removed: the hook is as it was before\n");
	return EXIT_OK;
}

/* libvirt's hook: qemu VM OPERATION SUB-OPERATION [EXTRA], the domain XML on stdin. Progress
 * goes to stderr (libvirt logs it); a failed prepare stops the start. */
static int gpu_hook_run(struct cli *cli, void *opts, int argc, char **argv)
{
	const char *vm = argv[0], *op = argv[1];
	struct nr_error err = { 0 };
	struct nr_domain_info *info = NULL;
	struct nr_scan *scan = NULL;
	struct nr_buf xml;
	char chunk[4096], *recorded = NULL;
	const char *gpu = NULL;
	size_t got;
	int rc = EXIT_OK;

	bool prepare = strcmp(op, "prepare") == 0, release = strcmp(op, "release") == 0;
	if (!prepare && !release)
		return EXIT_OK;         /* start, started, stopped, migrate ...: nothing to do */
	nr_buf_init(&xml);
	while ((got = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		nr_buf_append(&xml, chunk, got);
	if (xml.oom || !xml.data) {
		nr_error_set(&err, -NR_E_PARSE, "no domain XML on stdin (libvirt gives it to its hooks)");
		rc = cli_fail(cli, &err);
		goto out;
	}
	if (nr_domain_inspect(xml.data, &info, &err) < 0 || nr_scan_new(cli->ctx, &scan, &err) < 0) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	gpu = nr_single_gpu_of(scan, info);
	recorded = nr_single_recorded(cli->ctx);
	if (prepare && gpu) {
		if (recorded) {
			nr_error_set(&err, -NR_E_BUSY, "a hand-off of %s is recorded already: run 'neuronctl gpu "
				     "restore' first", recorded);
			rc = cli_fail(cli, &err);
		} else if ((rc = cli_single_handoff(cli, gpu, true, false, stderr)) == EXIT_OK &&
			   cli_single_spawn_watch(cli, vm, &err) < 0) {
			cli_fail(cli, &err);    /* the hand-off stands: the release hook gives it back */
		}
	} else if (release && recorded && (!gpu || strcmp(gpu, recorded) == 0)) {
		if (cli_single_release(cli, stderr, &err) < 0)
			rc = cli_fail(cli, &err);
	}
out:
	free(recorded);
	nr_scan_free(scan);
	nr_domain_info_free(info);
	nr_buf_done(&xml);
	return rc;
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

static const struct cli_cmd gpu_handoff_cmd = {
	.name = "handoff",
	.usage = "gpu handoff ADDR [--yes] [--dry-run]",
	.help = "single-GPU: hand the boot GPU to vfio-pci now (display manager, consoles, framebuffer off)",
	.run = gpu_handoff,
	.opts = (const struct cli_opt[]){
		CLI_BOOL("yes", struct single_opts, yes, "do not ask first"),
		CLI_BOOL("dry-run", struct single_opts, dry_run, "show the steps and the warning only"),
		CLI_OPT_END,
	},
	.opts_size = sizeof(struct single_opts),
	.min_args = 1, .max_args = 1, .missing = WHICH_GPU,
	.more = "Each step is journaled before it acts (under the root's state_dir): 'gpu restore' undoes\n"
		"them in reverse, after a crash too. A step that fails undoes the ones before it at once.",
};

static const struct cli_cmd gpu_restore_cmd = {
	.name = "restore",
	.usage = "gpu restore [--dry-run]",
	.help = "single-GPU: give the GPU back from the journal (drivers, framebuffer, consoles, display manager)",
	.run = gpu_restore,
	.opts = (const struct cli_opt[]){
		CLI_BOOL("dry-run", struct single_opts, dry_run, "show what the release would undo"),
		CLI_OPT_END,
	},
	.opts_size = sizeof(struct single_opts),
	.more = "Nothing recorded is no failure: the boot unit neuron-gpu-restore.service runs it every boot.",
};

static const struct cli_cmd gpu_watch_cmd = {
	.name = "watch",
	.usage = "gpu watch VM",
	.help = "single-GPU: release the GPU when the VM does not come up, stops, or the escape chord is typed",
	.run = gpu_watch,
	.min_args = 1, .max_args = 1, .missing = "which VM? give its name (see neuronctl vm list)",
	.more = "The limits and the chord are parameters: single.start_s, single.poll_ms, single.chord\n"
		"(default leftctrl+leftalt+f12) and single.input (the keyboards' event devices).",
};

static const struct cli_cmd gpu_hook_install_cmd = {
	.name = "install",
	.usage = "gpu hook install [--yes] [--dry-run]",
	.help = "install libvirt's hook (/etc/libvirt/hooks/qemu) under the root, as a plan with a revert",
	.run = gpu_hook_install,
	.opts = (const struct cli_opt[]){
		CLI_BOOL("yes", struct single_opts, yes, "do not ask first"),
		CLI_BOOL("dry-run", struct single_opts, dry_run, "show the plan only"),
		CLI_OPT_END,
	},
	.opts_size = sizeof(struct single_opts),
};

static const struct cli_cmd gpu_hook_revert_cmd = {
	.name = "revert",
	.usage = "gpu hook revert [--yes]",
	.help = "remove the hook: the files under the root as they were",
	.run = gpu_hook_revert,
	.opts = (const struct cli_opt[]){ CLI_BOOL("yes", struct single_opts, yes, "do not ask first"), CLI_OPT_END },
	.opts_size = sizeof(struct single_opts),
};

static const struct cli_cmd gpu_hook_run_cmd = {
	.name = "run",
	.usage = "gpu hook run VM OPERATION SUB-OPERATION [EXTRA]",
	.help = "what libvirt's hook runs: the hand-off on prepare, the release on release (domain XML on stdin)",
	.run = gpu_hook_run,
	.min_args = 3, .max_args = 4, .missing = "libvirt passes VM OPERATION SUB-OPERATION EXTRA",
};

static const struct cli_cmd gpu_hook_cmd = {
	.name = "hook",
	.usage = "gpu hook install|revert|run ...",
	.help = "single-GPU: libvirt's hook, so that virsh start and other tools get the hand-off too",
	.subs = (const struct cli_cmd *const[]){ &gpu_hook_install_cmd, &gpu_hook_revert_cmd, &gpu_hook_run_cmd,
						 NULL },
};

const struct cli_cmd cli_cmd_gpu = {
	.name = "gpu",
	.usage = "gpu bind|unbind|handoff|restore|watch|hook ...",
	.help = "move a GPU to vfio-pci now or give it back; single-GPU hand-off and release",
	.subs = (const struct cli_cmd *const[]){ &gpu_bind_cmd, &gpu_unbind_cmd, &gpu_handoff_cmd, &gpu_restore_cmd,
						 &gpu_watch_cmd, &gpu_hook_cmd, NULL },
};
