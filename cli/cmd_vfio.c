/* neuronctl vfio plan|apply|revert|status: the VFIO set-up of the target root. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "neuron/plan.h"
#include "neuron/scan.h"
#include "neuron/vfio.h"

struct vfio_args {
	bool json, yes, no_regen, force, include_group;
	const char **gpus;
	const char *initramfs;
};

static const char plan_help[] =
	"  --gpu ADDR        the GPU for the guest (repeatable; default: the best isolated\n"
	"                    non-boot GPU); its other functions come along\n"
	"  --force           allow the boot GPU (the host console goes dark at boot)\n"
	"  --include-group   pass every device of the GPU's IOMMU group, listed\n"
	"  --initramfs NAME  mkinitcpio, dracut or initramfs-tools, when several are installed\n"
	"  --json            print the plan as JSON\n";
static const char apply_help[] =
	"  --gpu ADDR        the GPU for the guest (repeatable; default: the best isolated\n"
	"                    non-boot GPU); its other functions come along\n"
	"  --force           allow the boot GPU (the host console goes dark at boot)\n"
	"  --include-group   pass every device of the GPU's IOMMU group, listed\n"
	"  --initramfs NAME  mkinitcpio, dracut or initramfs-tools, when several are installed\n"
	"  --yes             do not ask for confirmation\n"
	"  --no-regenerate   write the files, do not run the initramfs and boot loader tools\n"
	"  --json            print the result as JSON\n";
static const char revert_help[] =
	"  --yes             do not ask for confirmation\n"
	"  --no-regenerate   restore the files, do not run the initramfs and boot loader tools\n"
	"  --json            print the result as JSON\n";
static const char status_help[] =
	"  --json            print the status as JSON\n";

static json_object *jstrv(char **v, size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static void put_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

/* A refusal: the reason on stderr; with --json also an object on stdout. */
static int refuse(struct cli *cli, const struct vfio_args *a, const struct nr_error *err)
{
	if (a->json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "error", json_object_new_string(nr_errname(err->code)));
		json_object_object_add(o, "message", json_object_new_string(err->msg));
		put_json(o);
	}
	return cli_fail(cli, err);
}

/* Text with many lines (diffs, tool output): newlines and tabs kept, every other
 * control character made harmless. */
static void put_text(FILE *f, const char *p)
{
	while (*p) {
		size_t n = strcspn(p, "\n\t");
		char *part = strndup(p, n);
		if (part)
			cli_put_clean(f, part);
		free(part);
		p += n;
		if (*p)
			fputc(*p++, f);
	}
}

static const char *kind_word(enum nr_plan_edit_kind k)
{
	return k == NR_PLAN_CREATE ? "create" : k == NR_PLAN_REMOVE ? "remove" : "edit";
}

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
	for (size_t i = 0; i < vp->n_gpus; i++) {
		const struct nr_pci_dev *d = nr_scan_device(scan, vp->gpus[i]);
		printf("%s%s (", i ? ", " : "", vp->gpus[i]);
		cli_put_clean(stdout, d && d->name ? d->name : "?");
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
			cli_put_clean(stdout, d && d->name ? d->name : "?");
			printf(")");
		}
		printf("\n");
	}
	printf("  kernel params:   %s\n", vp->params);
	print_boot(&vp->boot);

	printf("\nFiles:\n");
	for (size_t i = 0; i < nr_plan_n_edits(p); i++) {
		const struct nr_plan_edit *e = nr_plan_edit(p, i);
		printf("  %-8s ", e->changes ? kind_word(e->kind) : "keep");
		cli_put_clean(stdout, e->path);
		printf("  (%s)\n", e->why);
	}
	char *diff = nr_plan_diff(p);
	if (diff && diff[0]) {
		printf("\n");
		put_text(stdout, diff);
	}
	free(diff);
	printf("\nCommands run inside the target after the files:\n");
	for (size_t i = 0; i < nr_plan_n_commands(p); i++) {
		const struct nr_plan_command *c = nr_plan_command(p, i);
		char *line = nr_plan_command_line(c->argv);
		printf("  %s    # %s\n", line ? line : "?", c->why);
		free(line);
	}
	if (nr_plan_n_notes(p)) {
		printf("\nNotes:\n");
		for (size_t i = 0; i < nr_plan_n_notes(p); i++) {
			printf("  - ");
			cli_put_clean(stdout, nr_plan_note(p, i));
			printf("\n");
		}
	}
	if (nr_plan_is_noop(p))
		printf("\nNothing to change: the target already has this set-up.\n");
}

static json_object *plan_json(const struct nr_vfio_plan *vp, const char *root)
{
	const struct nr_plan *p = vp->plan;
	json_object *o = json_object_new_object(), *edits = json_object_new_array();
	json_object *cmds = json_object_new_array(), *notes = json_object_new_array();
	json_object *boot = json_object_new_object();

	json_object_object_add(o, "root", json_object_new_string(root));
	json_object_object_add(o, "gpus", jstrv(vp->gpus, vp->n_gpus));
	json_object_object_add(o, "devices", jstrv(vp->devices, vp->n_devices));
	json_object_object_add(o, "vfio_ids", jstrv(vp->ids, vp->n_ids));
	json_object_object_add(o, "bind", json_object_new_string(vp->bind_by_address ? "address" : "ids"));
	json_object_object_add(o, "collisions", jstrv(vp->collisions, vp->n_collisions));
	json_object_object_add(o, "blockers", jstrv(vp->blockers, vp->n_blockers));
	json_object_object_add(o, "params", json_object_new_string(vp->params));
	json_object_object_add(boot, "initramfs", json_object_new_string(nr_initramfs_name(vp->boot.initramfs)));
	json_object_object_add(boot, "grub_cfg", vp->boot.grub ? json_object_new_string(vp->boot.grub_cfg) : NULL);
	json_object_object_add(boot, "sdboot_entries", jstrv(vp->boot.sdboot_entries, vp->boot.n_sdboot_entries));
	json_object_object_add(boot, "kernel_cmdline", json_object_new_boolean(vp->boot.kernel_cmdline));
	json_object_object_add(boot, "kernels", jstrv(vp->boot.kernels, vp->boot.n_kernels));
	json_object_object_add(o, "boot", boot);
	for (size_t i = 0; i < nr_plan_n_edits(p); i++) {
		const struct nr_plan_edit *e = nr_plan_edit(p, i);
		json_object *je = json_object_new_object();
		char *d = nr_plan_edit_diff(p, i);
		json_object_object_add(je, "path", json_object_new_string(e->path));
		json_object_object_add(je, "kind", json_object_new_string(kind_word(e->kind)));
		json_object_object_add(je, "changes", json_object_new_boolean(e->changes));
		json_object_object_add(je, "why", json_object_new_string(e->why));
		json_object_object_add(je, "diff", json_object_new_string(d ? d : ""));
		free(d);
		json_object_array_add(edits, je);
	}
	json_object_object_add(o, "edits", edits);
	for (size_t i = 0; i < nr_plan_n_commands(p); i++) {
		const struct nr_plan_command *c = nr_plan_command(p, i);
		json_object *jc = json_object_new_object(), *argv = json_object_new_array();
		for (size_t k = 0; c->argv[k]; k++)
			json_object_array_add(argv, json_object_new_string(c->argv[k]));
		json_object_object_add(jc, "argv", argv);
		json_object_object_add(jc, "why", json_object_new_string(c->why));
		json_object_array_add(cmds, jc);
	}
	json_object_object_add(o, "commands", cmds);
	for (size_t i = 0; i < nr_plan_n_notes(p); i++)
		json_object_array_add(notes, json_object_new_string(nr_plan_note(p, i)));
	json_object_object_add(o, "notes", notes);
	json_object_object_add(o, "noop", json_object_new_boolean(nr_plan_is_noop(p)));
	return o;
}

static int build(struct cli *cli, const struct vfio_args *a, struct nr_scan **scan,
		 struct nr_vfio_plan **vp)
{
	struct nr_error err = { 0 };
	struct nr_vfio_opts o = {
		.gpus = a->gpus, .force = a->force, .include_group = a->include_group, .initramfs = a->initramfs,
	};

	*vp = NULL;
	if (nr_scan_new(cli->ctx, scan, &err) < 0)
		return refuse(cli, a, &err);
	if (nr_vfio_plan_new(cli->ctx, *scan, &o, vp, &err) < 0)
		return refuse(cli, a, &err);
	return EXIT_OK;
}

/* Progress and command output, as they come. */
static void show(void *userdata, enum nr_plan_event ev, const char *text)
{
	FILE *f = userdata;

	switch (ev) {
	case NR_PLAN_EV_STEP:
		fprintf(f, "  - ");
		cli_put_clean(f, text);
		fputc('\n', f);
		break;
	case NR_PLAN_EV_COMMAND:
		fprintf(f, "$ ");
		cli_put_clean(f, text);
		fputc('\n', f);
		break;
	case NR_PLAN_EV_OUTPUT:
		put_text(f, text);
		break;
	case NR_PLAN_EV_NOTE:
		fprintf(f, "note: ");
		cli_put_clean(f, text);
		fputc('\n', f);
		break;
	}
	fflush(f);
}

static bool confirm(FILE *f, const char *question)
{
	char answer[16];

	fprintf(f, "%s [y/N] ", question);
	fflush(f);
	if (!fgets(answer, sizeof(answer), stdin)) {
		fprintf(f, "\n");
		return false;
	}
	return answer[0] == 'y' || answer[0] == 'Y';
}

static int vfio_plan(struct cli *cli, const struct vfio_args *a)
{
	struct nr_scan *scan = NULL;
	struct nr_vfio_plan *vp = NULL;
	int rc = build(cli, a, &scan, &vp);

	if (rc == EXIT_OK) {
		if (a->json)
			put_json(plan_json(vp, nr_ctx_get(cli->ctx, "root")));
		else
			print_plan(vp, scan, nr_ctx_get(cli->ctx, "root"));
	}
	nr_vfio_plan_free(vp);
	nr_scan_free(scan);
	return rc;
}

static void result_json(const struct nr_plan_result *r, int rc, const struct nr_error *err)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(rc == 0));
	json_object_object_add(o, "files_changed", json_object_new_int((int)r->files_changed));
	json_object_object_add(o, "files_unchanged", json_object_new_int((int)r->files_unchanged));
	json_object_object_add(o, "commands_run", json_object_new_int((int)r->commands_run));
	json_object_object_add(o, "finished_interrupted", json_object_new_boolean(r->finished_interrupted));
	json_object_object_add(o, "error", rc < 0 ? json_object_new_string(nr_errname(err->code)) : NULL);
	json_object_object_add(o, "message", rc < 0 ? json_object_new_string(err->msg) : NULL);
	put_json(o);
}

static int vfio_apply(struct cli *cli, const struct vfio_args *a)
{
	struct nr_scan *scan = NULL;
	struct nr_vfio_plan *vp = NULL;
	struct nr_plan_status st;
	struct nr_error err = { 0 };
	struct nr_plan_result res;
	int rc = build(cli, a, &scan, &vp);
	FILE *out = a->json ? stderr : stdout;

	if (rc != EXIT_OK)
		goto done;
	if (nr_plan_status_read(cli->ctx, NR_VFIO_PLAN_NAME, &st, &err) < 0) {
		rc = cli_fail(cli, &err);
		goto done;
	}
	bool pending = st.commands_pending && !a->no_regen;
	enum nr_plan_state state = st.state;
	nr_plan_status_done(&st);
	if (nr_plan_is_noop(vp->plan) && !pending && state != NR_PLAN_STATE_APPLYING &&
	    state != NR_PLAN_STATE_REVERTING) {
		if (a->json)
			result_json(&(struct nr_plan_result){ .failed_command = -1,
				    .files_unchanged = (unsigned)nr_plan_n_edits(vp->plan) }, 0, &err);
		else
			printf("Nothing to change: %s already has this VFIO set-up.\n", nr_ctx_get(cli->ctx, "root"));
		goto done;
	}
	if (!a->yes) {
		if (!a->json)
			print_plan(vp, scan, nr_ctx_get(cli->ctx, "root"));
		if (!confirm(out, "\nApply these changes?")) {
			fprintf(stderr, "%s: vfio apply: not applied (answer y, or pass --yes)\n", cli->prog);
			rc = EXIT_FAIL;
			goto done;
		}
	}
	if (state == NR_PLAN_STATE_APPLYING)
		fprintf(out, "An earlier apply was interrupted: finishing it.\n");
	struct nr_plan_opts opts = { .no_commands = a->no_regen, .output = show, .userdata = out };
	int arc = nr_plan_apply(vp->plan, &opts, &res, &err);
	if (a->json)
		result_json(&res, arc, &err);
	if (arc < 0) {
		if (arc == -NR_E_COMMAND)
			fprintf(stderr, "%s: vfio apply: the files are applied and recorded; fix the cause and run "
				"'neuronctl vfio apply' again to rerun the commands, or 'neuronctl vfio revert'\n",
				cli->prog);
		rc = cli_fail(cli, &err);
		goto done;
	}
	if (!a->json) {
		printf("Applied: %u file(s) changed, %u already in place, %u command(s) run.\n",
		       res.files_changed, res.files_unchanged, res.commands_run);
		if (a->no_regen)
			printf("The initramfs and boot loader were not regenerated (--no-regenerate): "
			       "run 'neuronctl vfio apply' again without it, or the commands above by hand.\n");
		printf("Reboot for vfio-pci to take the GPU.\n");
	}
done:
	nr_vfio_plan_free(vp);
	nr_scan_free(scan);
	return rc;
}

static int vfio_revert(struct cli *cli, const struct vfio_args *a)
{
	struct nr_plan_status st;
	struct nr_error err = { 0 };
	struct nr_plan_result res;
	FILE *out = a->json ? stderr : stdout;
	int rc;

	if (nr_plan_status_read(cli->ctx, NR_VFIO_PLAN_NAME, &st, &err) < 0)
		return cli_fail(cli, &err);
	if (st.state == NR_PLAN_STATE_NONE) {
		nr_plan_status_done(&st);
		nr_error_set(&err, -NR_E_NOTFOUND, "nothing to revert: no VFIO set-up is recorded under %s",
			     nr_ctx_get(cli->ctx, "root"));
		return refuse(cli, a, &err);
	}
	if (!a->yes) {
		fprintf(out, "Revert the VFIO set-up of %s (%s):\n", nr_ctx_get(cli->ctx, "root"),
			nr_plan_state_name(st.state));
		for (size_t i = 0; i < st.n_files; i++) {
			fprintf(out, "  %s ", st.files[i].created ? "remove " : "restore");
			cli_put_clean(out, st.files[i].path);
			fprintf(out, "%s\n", st.files[i].modified ? "  (changed since the apply: those changes go too)" : "");
		}
		for (size_t i = 0; i < st.n_commands && !a->no_regen; i++)
			fprintf(out, "  then    %s\n", st.commands[i]);
		if (!confirm(out, "Revert?")) {
			nr_plan_status_done(&st);
			fprintf(stderr, "%s: vfio revert: nothing changed (answer y, or pass --yes)\n", cli->prog);
			return EXIT_FAIL;
		}
	}
	nr_plan_status_done(&st);
	struct nr_plan_opts opts = { .no_commands = a->no_regen, .output = show, .userdata = out };
	rc = nr_plan_revert(cli->ctx, NR_VFIO_PLAN_NAME, &opts, &res, &err);
	if (a->json)
		result_json(&res, rc, &err);
	if (rc < 0) {
		if (rc == -NR_E_COMMAND)
			fprintf(stderr, "%s: vfio revert: the original files are back; fix the cause and run "
				"'neuronctl vfio revert' again to rerun the commands\n", cli->prog);
		return cli_fail(cli, &err);
	}
	if (!a->json)
		printf("Reverted: %u file(s) restored or removed, %u command(s) run.%s\n", res.files_changed,
		       res.commands_run, a->no_regen ? " The initramfs and boot loader were not regenerated." : "");
	return EXIT_OK;
}

static int vfio_status(struct cli *cli, const struct vfio_args *a)
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
	if (a->json) {
		json_object *o = json_object_new_object(), *files = json_object_new_array();
		json_object_object_add(o, "root", json_object_new_string(root));
		json_object_object_add(o, "state", json_object_new_string(state));
		json_object_object_add(o, "gpus", jstrv(st.gpus, st.n_gpus));
		json_object_object_add(o, "devices", jstrv(st.devices, st.n_devices));
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
		json_object_object_add(o, "running_kernel_scanned", json_object_new_boolean(scan != NULL));
		json_object_object_add(o, "vfio_bound", jstrv(st.bound, st.n_bound));
		json_object_object_add(o, "all_bound", json_object_new_boolean(st.all_bound));
		json_object_object_add(o, "iommu_params", json_object_new_boolean(st.iommu_params));
		put_json(o);
		goto out;
	}
	switch (st.plan.state) {
	case NR_PLAN_STATE_NONE:
		printf("VFIO on %s: not configured by neuronctl.\n", root);
		break;
	case NR_PLAN_STATE_APPLIED:
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

static const struct subcommand {
	const char *name, *usage, *help, *options;
	int (*run)(struct cli *cli, const struct vfio_args *a);
} subcommands[] = {
	{ "plan", "vfio plan [--gpu ADDR]... [--force] [--include-group] [--initramfs NAME] [--json]",
	  "print each file edit as a unified diff and the commands that follow; writes nothing",
	  plan_help, vfio_plan },
	{ "apply", "vfio apply [--gpu ADDR]... [--yes] [--no-regenerate] [--force] [--include-group] "
		   "[--initramfs NAME] [--json]",
	  "apply the plan: backups, a journal, atomic writes, then the regeneration commands",
	  apply_help, vfio_apply },
	{ "revert", "vfio revert [--yes] [--no-regenerate] [--json]",
	  "restore every original byte for byte, remove the files the apply created, regenerate",
	  revert_help, vfio_revert },
	{ "status", "vfio status [--json]",
	  "not configured / configured for which GPU (and whether vfio-pci has it now) / interrupted",
	  status_help, vfio_status },
};
#define N_SUB (sizeof(subcommands) / sizeof(subcommands[0]))

int cmd_vfio(struct cli *cli, int argc, char **argv)
{
	struct vfio_args a = { 0 };
	const struct subcommand *sub = NULL;
	int argi, rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		FILE *f = argc < 2 ? stderr : stdout;
		fprintf(f, "usage: %s %s\n\n%s\n\nSubcommands:\n", cli->prog, cli->usage, cli->help);
		for (size_t i = 0; i < N_SUB; i++)
			fprintf(f, "  %-7s %s\n", subcommands[i].name, subcommands[i].help);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	for (size_t i = 0; i < N_SUB; i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			sub = &subcommands[i];
	if (!sub)
		return cli_usage_error(cli, "unknown subcommand '%s' (plan, apply, revert, status)", argv[1]);

	struct cli subcli = *cli;
	subcli.usage = sub->usage;
	subcli.help = sub->help;
	bool is_plan = sub->run == vfio_plan || sub->run == vfio_apply;
	bool writes = sub->run == vfio_apply || sub->run == vfio_revert;
	const struct cli_flag all[] = {
		{ "json", &a.json, NULL, NULL },
		{ is_plan ? "gpu=" : "-", NULL, NULL, &a.gpus },
		{ is_plan ? "force" : "-", &a.force, NULL, NULL },
		{ is_plan ? "include-group" : "-", &a.include_group, NULL, NULL },
		{ is_plan ? "initramfs=" : "-", NULL, &a.initramfs, NULL },
		{ writes ? "yes" : "-", &a.yes, NULL, NULL },
		{ writes ? "no-regenerate" : "-", &a.no_regen, NULL, NULL },
		{ NULL, NULL, NULL, NULL },
	};
	if (cli_parse_flags(&subcli, argc - 1, argv + 1, all, sub->options, &argi, &rc)) {
		free(a.gpus);
		return rc;
	}
	if (argi < argc - 1) {
		free(a.gpus);
		return cli_usage_error(&subcli, "unexpected argument '%s'", argv[argi + 1]);
	}
	rc = sub->run(&subcli, &a);
	free(a.gpus);
	return rc;
}
