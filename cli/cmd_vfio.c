/* neuronctl vfio plan|apply|revert|status: the VFIO set-up of the target root. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "plan_show.h"
#include "neuron/plan.h"
#include "neuron/scan.h"
#include "neuron/vfio.h"

struct vfio_args {
	bool yes, no_regen, force, include_group;
	const char **gpus, **include_devices;
	const char *initramfs;
};

static void print_boot(const struct nr_boot_setup *b)
{
	printf("  initramfs:       %s (%s)\n", nr_initramfs_name(b->initramfs), b->initramfs_evidence);
	printf("  command line in:");
	if (b->grub)
		printf(" /etc/default/grub (%s)", b->grub_cfg);
	for (size_t i = 0; i < b->n_sdboot_entries; i++) {
		printf(" ");
		cli_put_clean(stdout, b->sdboot_entries[i]);
	}
	if (b->kernel_cmdline)
		printf(" /etc/kernel/cmdline");
	printf("\n  kernels:        ");
	for (size_t i = 0; i < b->n_kernels; i++)
		printf(" %s", b->kernels[i]);
	printf("%s\n", b->n_kernels ? "" : " (none found)");
}

static void print_plan(const struct nr_vfio_plan *vp, const struct nr_scan *scan, const char *root)
{
	const struct nr_plan *p = vp->plan;

	printf("VFIO plan for %s on ", root);
	if (vp->params_only)
		printf("no GPU yet (the IOMMU is off: the kernel parameters first)");
	for (size_t i = 0; i < vp->n_gpus; i++) {
		const struct nr_pci_dev *d = nr_scan_device(scan, vp->gpus[i]);
		printf("%s%s (", i ? ", " : "", vp->gpus[i]);
		cli_put_clean(stdout, d ? nr_pci_name(d) : "?");
		printf(")");
	}
	printf("\n  to vfio-pci:    ");
	for (size_t i = 0; i < vp->n_devices; i++)
		printf(" %s", vp->devices[i]);
	printf("\n  binding:         %s", vp->bind_by_address ? "by address (ids shared with" : "by id (");
	if (vp->bind_by_address)
		for (size_t i = 0; i < vp->n_collisions; i++)
			printf(" %s", vp->collisions[i]);
	else
		for (size_t i = 0; i < vp->n_ids; i++)
			printf("%s%s", i ? " " : "", vp->ids[i]);
	printf(")\n");
	if (vp->n_blockers) {
		printf("  with the group: ");
		for (size_t i = 0; i < vp->n_blockers; i++) {
			const struct nr_pci_dev *d = nr_scan_device(scan, vp->blockers[i]);
			printf(" %s (", vp->blockers[i]);
			cli_put_clean(stdout, d ? nr_pci_name(d) : "?");
			printf(")");
		}
		printf("\n");
	}
	printf("  kernel params:   %s\n", vp->params);
	print_boot(&vp->boot);

	cli_plan_print(stdout, p);
	if (nr_plan_is_noop(p))
		printf("\nNothing to change: the target already has this set-up.\n");
}

static json_object *plan_json(const struct nr_vfio_plan *vp, const char *root)
{
	const struct nr_plan *p = vp->plan;
	json_object *o = json_object_new_object();
	json_object *boot = json_object_new_object();

	json_object_object_add(o, "root", json_object_new_string(root));
	json_object_object_add(o, "gpus", cli_json_strv(vp->gpus, vp->n_gpus));
	json_object_object_add(o, "devices", cli_json_strv(vp->devices, vp->n_devices));
	json_object_object_add(o, "vfio_ids", cli_json_strv(vp->ids, vp->n_ids));
	json_object_object_add(o, "bind", json_object_new_string(vp->bind_by_address ? "address" : "ids"));
	json_object_object_add(o, "collisions", cli_json_strv(vp->collisions, vp->n_collisions));
	json_object_object_add(o, "blockers", cli_json_strv(vp->blockers, vp->n_blockers));
	json_object_object_add(o, "params", json_object_new_string(vp->params));
	json_object_object_add(o, "params_only", json_object_new_boolean(vp->params_only));
	json_object_object_add(o, "host_needed", cli_json_strv(vp->host_needed, vp->n_host_needed));
	json_object_object_add(boot, "initramfs", json_object_new_string(nr_initramfs_name(vp->boot.initramfs)));
	json_object_object_add(boot, "grub_cfg", vp->boot.grub ? json_object_new_string(vp->boot.grub_cfg) : NULL);
	json_object_object_add(boot, "sdboot_entries", cli_json_strv(vp->boot.sdboot_entries, vp->boot.n_sdboot_entries));
	json_object_object_add(boot, "kernel_cmdline", json_object_new_boolean(vp->boot.kernel_cmdline));
	json_object_object_add(boot, "kernels", cli_json_strv(vp->boot.kernels, vp->boot.n_kernels));
	json_object_object_add(o, "boot", boot);
	cli_plan_json(o, p);
	return o;
}

static int build(struct cli *cli, const struct vfio_args *a, struct nr_scan **scan,
		 struct nr_vfio_plan **vp)
{
	struct nr_error err = { 0 };
	struct nr_vfio_opts o = {
		.gpus = a->gpus, .force = a->force, .include_group = a->include_group, .initramfs = a->initramfs,
		.include_devices = a->include_devices,
	};

	*vp = NULL;
	if (nr_scan_new(cli->ctx, scan, &err) < 0)
		return cli_fail(cli, &err);
	if (nr_vfio_plan_new(cli->ctx, *scan, &o, vp, &err) < 0)
		return cli_fail(cli, &err);
	return EXIT_OK;
}

static int vfio_plan(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct vfio_args *a = opts;
	struct nr_scan *scan = NULL;
	struct nr_vfio_plan *vp = NULL;
	int rc = build(cli, a, &scan, &vp);

	if (rc == EXIT_OK) {
		if (cli->json)
			cli_json_print(cli, plan_json(vp, nr_ctx_get(cli->ctx, "root")));
		else
			print_plan(vp, scan, nr_ctx_get(cli->ctx, "root"));
	}
	nr_vfio_plan_free(vp);
	nr_scan_free(scan);
	return rc;
}

static void result_json(struct cli *cli, const struct nr_plan_result *r, int rc, const struct nr_error *err)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(rc == 0));
	json_object_object_add(o, "files_changed", json_object_new_int((int)r->files_changed));
	json_object_object_add(o, "files_unchanged", json_object_new_int((int)r->files_unchanged));
	json_object_object_add(o, "commands_run", json_object_new_int((int)r->commands_run));
	json_object_object_add(o, "finished_interrupted", json_object_new_boolean(r->finished_interrupted));
	cli_json_add_error(o, rc < 0 ? err : NULL);
	cli_json_print(cli, o);
}

/* What a failed apply leaves, and the way forward. */
static void apply_failed(struct cli *cli, int rc)
{
	struct nr_plan_status st;

	if (rc == -NR_E_COMMAND) {
		fprintf(stderr, "%s: vfio apply: the files are applied and recorded; fix the cause and run "
			"'neuronctl vfio apply' again to rerun the commands, or 'neuronctl vfio revert'\n",
			cli->prog);
	} else if (rc == -NR_E_NOSPACE && nr_plan_status_read(cli->ctx, NR_VFIO_PLAN_NAME, &st, NULL) == 0) {
		if (st.state == NR_PLAN_STATE_NONE)
			fprintf(stderr, "%s: vfio apply: nothing was changed; free some space, then run "
				"'neuronctl vfio apply' again\n", cli->prog);
		else
			fprintf(stderr, "%s: vfio apply: when there is space again, run 'neuronctl vfio apply' to "
				"finish, or 'neuronctl vfio revert' to roll back (a revert needs no free space "
				"to start)\n", cli->prog);
		nr_plan_status_done(&st);
	}
}

static void print_files(FILE *out, const struct nr_plan_status *st, bool finish, bool commands)
{
	for (size_t i = 0; i < st->n_files; i++) {
		fprintf(out, "  %s ", finish ? "write  " : st->files[i].created ? "remove " : "restore");
		cli_put_clean(out, st->files[i].path);
		fprintf(out, "%s\n", !finish && st->files[i].modified ?
			"  (changed since the apply: those changes go too)" : "");
	}
	for (size_t i = 0; i < st->n_actions; i++) {
		fprintf(out, "  %s ", finish ? "then   " : "undo   ");
		cli_put_clean(out, st->actions[i]);
		fputc('\n', out);
	}
	for (size_t i = 0; i < st->n_commands && commands; i++)
		fprintf(out, "  then    %s\n", st->commands[i]);
}

/* An apply that was cut short is completed as it was recorded: its GPUs, its files, its
 * commands. This run's options do not change it. */
static int vfio_finish(struct cli *cli, const struct vfio_args *a, const struct nr_plan_status *st)
{
	struct nr_error err = { 0 };
	struct nr_plan_result res;
	FILE *out = cli_progress_file(cli);
	const char *gpus = nr_plan_status_meta(st, "gpus");
	bool other = (a->gpus && a->gpus[0]) || a->force || a->include_group || a->initramfs;

	/* nothing is said before the engine holds the root: a run that loses the race for it
	 * must not claim it is finishing anything */
	if (!a->yes) {
		fprintf(out, "An apply of the VFIO set-up of %s was interrupted. Finishing it completes it as "
			"it was recorded (GPU %s):\n", nr_ctx_get(cli->ctx, "root"),
			gpus && gpus[0] ? gpus : "none yet, the IOMMU parameters");
		print_files(out, st, true, !a->no_regen);
		if (!cli_confirm(cli, false, "Finish it?", "nothing changed"))
			return EXIT_FAIL;
	}
	struct nr_plan_opts popts = { .no_commands = a->no_regen, .output = cli_plan_progress, .userdata = out };
	int rc = nr_plan_finish(cli->ctx, NR_VFIO_PLAN_NAME, &popts, &res, &err);
	if (cli->json)
		result_json(cli, &res, rc, &err);
	if (rc < 0) {
		apply_failed(cli, rc);
		return cli_fail(cli, &err);
	}
	if (!cli->json) {
		printf("Finished the interrupted apply for GPU %s: %u file(s) changed, %u command(s) run. Reboot "
		       "for vfio-pci to take the GPU.\n", gpus && gpus[0] ? gpus : "(none yet)", res.files_changed,
		       res.commands_run);
		if (other)
			printf("The options given now were not used for it: run 'neuronctl vfio apply' again for "
			       "another set-up.\n");
	}
	return EXIT_OK;
}

static int vfio_apply(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct vfio_args *a = opts;
	struct nr_scan *scan = NULL;
	struct nr_vfio_plan *vp = NULL;
	struct nr_plan_status st;
	struct nr_error err = { 0 };
	struct nr_plan_result res;
	FILE *out = cli_progress_file(cli);
	int rc;

	if (nr_plan_status_read(cli->ctx, NR_VFIO_PLAN_NAME, &st, &err) < 0)
		return cli_fail(cli, &err);
	if (st.state == NR_PLAN_STATE_APPLYING && st.complete) {
		rc = vfio_finish(cli, a, &st);
		nr_plan_status_done(&st);
		return rc;
	}
	bool pending = st.commands_pending && !a->no_regen;
	enum nr_plan_state state = st.state;
	nr_plan_status_done(&st);
	if ((rc = build(cli, a, &scan, &vp)) != EXIT_OK)
		goto done;
	if (nr_plan_is_noop(vp->plan) && !pending && state != NR_PLAN_STATE_APPLYING &&
	    state != NR_PLAN_STATE_REVERTING) {
		if (cli->json)
			result_json(cli, &(struct nr_plan_result){ .failed_command = -1,
				    .files_unchanged = (unsigned)nr_plan_n_edits(vp->plan) }, 0, &err);
		else
			printf("Nothing to change: %s already has this VFIO set-up.\n", nr_ctx_get(cli->ctx, "root"));
		goto done;
	}
	if (!a->yes && !cli->json)
		print_plan(vp, scan, nr_ctx_get(cli->ctx, "root"));
	if (!cli_confirm(cli, a->yes, "\nApply these changes?", "not applied")) {
		rc = EXIT_FAIL;
		goto done;
	}
	struct nr_plan_opts popts = { .no_commands = a->no_regen, .output = cli_plan_progress, .userdata = out };
	int arc = nr_plan_apply(vp->plan, &popts, &res, &err);
	if (cli->json)
		result_json(cli, &res, arc, &err);
	if (arc < 0) {
		apply_failed(cli, arc);
		rc = cli_fail(cli, &err);
		goto done;
	}
	if (!cli->json) {
		printf("Applied: %u file(s) changed, %u already in place, %u command(s) run.\n",
		       res.files_changed, res.files_unchanged, res.commands_run);
		if (a->no_regen)
			printf("The initramfs and boot loader were not regenerated (--no-regenerate): "
			       "run 'neuronctl vfio apply' again without it, or the commands above by hand.\n");
		if (vp->params_only)
			printf("Turn on %s in the firmware setup, reboot, then run 'neuronctl vfio plan' to "
			       "choose the GPU.\n", nr_iommu_params(scan->host.cpu_vendor)->firmware);
		else
			printf("Reboot for vfio-pci to take the GPU.\n");
	}
done:
	nr_vfio_plan_free(vp);
	nr_scan_free(scan);
	return rc;
}

static int vfio_revert(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct vfio_args *a = opts;
	struct nr_plan_status st;
	struct nr_error err = { 0 };
	struct nr_plan_result res;
	FILE *out = cli_progress_file(cli);
	int rc;

	if (nr_plan_status_read(cli->ctx, NR_VFIO_PLAN_NAME, &st, &err) < 0)
		return cli_fail(cli, &err);
	if (st.state == NR_PLAN_STATE_NONE && st.n_leftovers == 0) {
		nr_plan_status_done(&st);
		nr_error_set(&err, -NR_E_NOTFOUND, "nothing to revert: no VFIO set-up is recorded under %s",
			     nr_ctx_get(cli->ctx, "root"));
		return cli_fail(cli, &err);
	}
	if (!a->yes) {
		fprintf(out, "Revert the VFIO set-up of %s (%s):\n", nr_ctx_get(cli->ctx, "root"),
			nr_plan_state_name(st.state));
		for (size_t i = 0; i < st.n_leftovers; i++) {
			fprintf(out, "  remove  ");
			cli_put_clean(out, st.leftovers[i]);
			fprintf(out, "  (left by an apply that stopped before its journal)\n");
		}
		print_files(out, &st, false, !a->no_regen);
		if (!cli_confirm(cli, false, "Revert?", "nothing changed")) {
			nr_plan_status_done(&st);
			return EXIT_FAIL;
		}
	}
	nr_plan_status_done(&st);
	struct nr_plan_opts popts = { .no_commands = a->no_regen, .output = cli_plan_progress, .userdata = out };
	rc = nr_plan_revert(cli->ctx, NR_VFIO_PLAN_NAME, &popts, &res, &err);
	if (cli->json)
		result_json(cli, &res, rc, &err);
	if (rc < 0) {
		if (rc == -NR_E_COMMAND)
			fprintf(stderr, "%s: vfio revert: the original files are back; fix the cause and run "
				"'neuronctl vfio revert' again to rerun the commands\n", cli->prog);
		return cli_fail(cli, &err);
	}
	if (!cli->json)
		printf("Reverted: %u file(s) restored or removed, %u command(s) run%s.%s\n", res.files_changed,
		       res.commands_run, res.leftovers_removed ? ", what a stopped apply left removed" : "",
		       a->no_regen ? " The initramfs and boot loader were not regenerated." : "");
	return EXIT_OK;
}

static int vfio_status(struct cli *cli, void *opts, int argc, char **argv)
{
	struct nr_scan *scan = NULL;
	struct nr_vfio_status st;
	struct nr_error err = { 0 }, scan_err = { 0 };
	const char *root = nr_ctx_get(cli->ctx, "root");

	if (nr_scan_new(cli->ctx, &scan, &scan_err) < 0)
		scan = NULL;
	if (nr_vfio_status_read(cli->ctx, scan, &st, &err) < 0) {
		nr_scan_free(scan);
		return cli_fail(cli, &err);
	}
	const char *state = st.plan.state == NR_PLAN_STATE_NONE ? "not-configured" :
		st.plan.state == NR_PLAN_STATE_APPLIED ? "configured" :
		st.plan.state == NR_PLAN_STATE_APPLYING ? "interrupted-apply" : "interrupted-revert";
	if (cli->json) {
		json_object *o = json_object_new_object(), *files = json_object_new_array();
		json_object_object_add(o, "root", json_object_new_string(root));
		json_object_object_add(o, "state", json_object_new_string(state));
		json_object_object_add(o, "gpus", cli_json_strv(st.gpus, st.n_gpus));
		json_object_object_add(o, "devices", cli_json_strv(st.devices, st.n_devices));
		json_object_object_add(o, "commands_pending", json_object_new_boolean(st.plan.commands_pending));
		for (size_t i = 0; i < st.plan.n_files; i++) {
			json_object *f = json_object_new_object();
			const struct nr_plan_status_file *sf = &st.plan.files[i];
			json_object_object_add(f, "path", json_object_new_string(sf->path));
			json_object_object_add(f, "change", json_object_new_string(
				sf->created ? "created" : sf->removed ? "removed" : "replaced"));
			json_object_object_add(f, "modified_since", json_object_new_boolean(sf->modified));
			json_object_array_add(files, f);
		}
		json_object_object_add(o, "files", files);
		json_object_object_add(o, "actions", cli_json_strv(st.plan.actions, st.plan.n_actions));
		json_object_object_add(o, "leftovers", cli_json_strv(st.plan.leftovers, st.plan.n_leftovers));
		json_object_object_add(o, "running_kernel_scanned", json_object_new_boolean(scan != NULL));
		json_object_object_add(o, "vfio_bound", cli_json_strv(st.bound, st.n_bound));
		json_object_object_add(o, "all_bound", json_object_new_boolean(st.all_bound));
		json_object_object_add(o, "iommu_params", json_object_new_boolean(st.iommu_params));
		cli_json_print(cli, o);
		goto out;
	}
	switch (st.plan.state) {
	case NR_PLAN_STATE_NONE:
		printf("VFIO on %s: not configured by neuronctl.\n", root);
		break;
	case NR_PLAN_STATE_APPLIED:
		if (st.n_gpus == 0) {
			const char *params = nr_plan_status_meta(&st.plan, "params");
			printf("VFIO on %s: configured to turn the IOMMU on (", root);
			cli_put_clean(stdout, params ? params : "kernel parameters");
			printf("), no GPU yet: once the IOMMU is on, run 'neuronctl vfio plan'.\n");
			break;
		}
		printf("VFIO on %s: configured for GPU", root);
		for (size_t i = 0; i < st.n_gpus; i++)
			printf(" %s", st.gpus[i]);
		printf(" (devices");
		for (size_t i = 0; i < st.n_devices; i++)
			printf(" %s", st.devices[i]);
		printf(").\n");
		break;
	case NR_PLAN_STATE_APPLYING:
		printf("VFIO on %s: an apply was interrupted. Run 'neuronctl vfio apply' to finish it, or "
		       "'neuronctl vfio revert' to roll it back.\n", root);
		break;
	case NR_PLAN_STATE_REVERTING:
		printf("VFIO on %s: a revert was interrupted. Run 'neuronctl vfio revert' to finish it.\n", root);
		break;
	}
	if (st.plan.n_leftovers) {
		printf("An apply stopped before it recorded anything (nothing else was changed); it left:\n");
		for (size_t i = 0; i < st.plan.n_leftovers; i++) {
			printf("  ");
			cli_put_clean(stdout, st.plan.leftovers[i]);
			printf("\n");
		}
		printf("Run 'neuronctl vfio revert' to remove %s.\n", st.plan.n_leftovers == 1 ? "it" : "them");
	}
	for (size_t i = 0; i < st.plan.n_files; i++) {
		const struct nr_plan_status_file *sf = &st.plan.files[i];
		printf("  %-8s ", sf->created ? "created" : sf->removed ? "removed" : "replaced");
		cli_put_clean(stdout, sf->path);
		printf("%s\n", sf->modified ? "  (changed since the apply)" : "");
	}
	if (st.plan.state == NR_PLAN_STATE_APPLIED && st.plan.commands_pending) {
		printf("  The regeneration commands have not completed; 'neuronctl vfio apply' runs them:\n");
		for (size_t i = 0; i < st.plan.n_commands; i++)
			printf("    %s\n", st.plan.commands[i]);
	}
	if (!scan) {
		printf("Running kernel: not looked at (");
		cli_put_clean(stdout, scan_err.msg);
		printf(").\n");
	} else if (st.n_bound) {
		printf("Running kernel: vfio-pci has");
		for (size_t i = 0; i < st.n_bound; i++)
			printf(" %s", st.bound[i]);
		printf(".%s\n", st.plan.state == NR_PLAN_STATE_NONE ? " (set up by other means)" : "");
	} else if (st.plan.state == NR_PLAN_STATE_APPLIED) {
		printf("Running kernel: vfio-pci has none of them yet: reboot.\n");
	} else {
		printf("Running kernel: no device on vfio-pci.\n");
	}
	if (scan && st.plan.state == NR_PLAN_STATE_APPLIED && !st.iommu_params)
		printf("Running kernel: its command line lacks the IOMMU parameters (reboot, or check the "
		       "boot loader).\n");
out:
	nr_vfio_status_done(&st);
	nr_scan_free(scan);
	return EXIT_OK;
}

/* ---- the table ------------------------------------------------------------------------ */

#define PLAN_OPTS \
	CLI_LIST("gpu", "ADDR", struct vfio_args, gpus, "the GPU for the guest (repeatable; default: the best isolated\n" \
		 "non-boot GPU); its other functions come along"), \
	CLI_BOOL("force", struct vfio_args, force, "allow the boot GPU (the host console goes dark at boot)"), \
	CLI_BOOL("include-group", struct vfio_args, include_group, "pass every device of the GPU's IOMMU group, listed"), \
	CLI_LIST("include-device", "ADDR", struct vfio_args, include_devices, "with --include-group: pass this device the host needs\n" \
		 "(its disk's controller, only network card or keyboard) anyway"), \
	CLI_VALUE("initramfs", "NAME", struct vfio_args, initramfs, \
		  "mkinitcpio, dracut or initramfs-tools, when several are installed")
#define YES_OPT CLI_BOOL("yes", struct vfio_args, yes, "do not ask for confirmation")

static const struct cli_cmd vfio_plan_cmd = {
	.name = "plan",
	.usage = "vfio plan [--gpu ADDR]... [--force] [--include-group] [--include-device ADDR]... "
		 "[--initramfs NAME] [--json]",
	.help = "print each file edit as a unified diff and the commands that follow; writes nothing",
	.run = vfio_plan,
	.opts = (const struct cli_opt[]){ PLAN_OPTS, CLI_JSON("print the plan as JSON"), CLI_OPT_END },
	.opts_size = sizeof(struct vfio_args),
};

static const struct cli_cmd vfio_apply_cmd = {
	.name = "apply",
	.usage = "vfio apply [--gpu ADDR]... [--yes] [--no-regenerate] [--force] [--include-group] "
		 "[--include-device ADDR]... [--initramfs NAME] [--json]",
	.help = "apply the plan: backups, a journal, atomic writes, then the regeneration commands "
		"(an interrupted apply is finished as it was recorded)",
	.run = vfio_apply,
	.opts = (const struct cli_opt[]){
		PLAN_OPTS,
		YES_OPT,
		CLI_BOOL("no-regenerate", struct vfio_args, no_regen,
			 "write the files, do not run the initramfs and boot loader tools"),
		CLI_JSON("print the result as JSON"),
		CLI_OPT_END,
	},
	.opts_size = sizeof(struct vfio_args),
};

static const struct cli_cmd vfio_revert_cmd = {
	.name = "revert",
	.usage = "vfio revert [--yes] [--no-regenerate] [--json]",
	.help = "restore every original byte for byte, remove the files the apply created, regenerate",
	.run = vfio_revert,
	.opts = (const struct cli_opt[]){
		YES_OPT,
		CLI_BOOL("no-regenerate", struct vfio_args, no_regen,
			 "restore the files, do not run the initramfs and boot loader tools"),
		CLI_JSON("print the result as JSON"),
		CLI_OPT_END,
	},
	.opts_size = sizeof(struct vfio_args),
};

static const struct cli_cmd vfio_status_cmd = {
	.name = "status",
	.usage = "vfio status [--json]",
	.help = "not configured / configured for which GPU (and whether vfio-pci has it now) / interrupted",
	.run = vfio_status,
	.opts = (const struct cli_opt[]){ CLI_JSON("print the status as JSON"), CLI_OPT_END },
};

const struct cli_cmd cli_cmd_vfio = {
	.name = "vfio",
	.usage = "vfio plan|apply|revert|status [--gpu ADDR]... [--yes] [--no-regenerate] [--force] "
		 "[--include-group] [--include-device ADDR]... [--json]",
	.help = "plan, apply, revert and report the VFIO set-up of the target root (--root)",
	.subs = (const struct cli_cmd *const[]){
		&vfio_plan_cmd, &vfio_apply_cmd, &vfio_revert_cmd, &vfio_status_cmd, NULL,
	},
};
