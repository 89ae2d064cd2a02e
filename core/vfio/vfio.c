/* The VFIO plan: vfio-pci at boot for the chosen GPU(s), early in the initramfs, with
 * the IOMMU on the kernel command line, for the boot setup the target really uses. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfio/boot.h"
#include "base/internal.h"
#include "neuron/vfio.h"
#include "vfio/vfio_internal.h"

#define MODPROBE_CONF "/etc/modprobe.d/vfio.conf"

/* Drivers that could claim a guest device before vfio-pci (the list). */
static const char *const softdep_drivers[] = {
	"nvidia", "nouveau", "amdgpu", "radeon", "i915", "xe", "snd_hda_intel", NULL,
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void nr_vfio_plan_free(struct nr_vfio_plan *vp)
{
	if (!vp)
		return;
	nr_plan_free(vp->plan);
	nr_strv_free(vp->gpus, vp->n_gpus);
	nr_strv_free(vp->devices, vp->n_devices);
	nr_strv_free(vp->ids, vp->n_ids);
	nr_strv_free(vp->collisions, vp->n_collisions);
	nr_strv_free(vp->blockers, vp->n_blockers);
	nr_strv_free(vp->host_needed, vp->n_host_needed);
	nr_boot_setup_done(&vp->boot);
	free(vp);
}

static int choose_gpus(const struct nr_scan *scan, const struct nr_vfio_opts *o,
		       const struct nr_gpu ***out, size_t *n_out, struct nr_error *err)
{
	const struct nr_gpu **v = NULL;
	size_t n = 0;

	if (o->gpus && o->gpus[0]) {
		for (size_t i = 0; o->gpus[i]; i++) {
			const struct nr_gpu *g = nr_scan_gpu(scan, o->gpus[i]);
			if (!g) {
				free(v);
				if (nr_scan_device(scan, o->gpus[i]))
					return nr_error_set(err, -NR_E_NODEVICE,
							    "%s is not a GPU (class 03xx): name the GPU's own "
							    "function, its other functions come along", o->gpus[i]);
				return nr_error_set(err, -NR_E_NODEVICE,
						    "no PCI device %s on this machine (see neuronctl scan)", o->gpus[i]);
			}
			bool dup = false;
			for (size_t k = 0; k < n; k++)
				dup |= v[k] == g;
			if (dup)
				continue;
			const struct nr_gpu **nv = realloc(v, (n + 1) * sizeof(*nv));
			if (!nv) {
				free(v);
				return nr_error_set(err, -NR_E_NOMEM, NULL);
			}
			v = nv;
			v[n++] = g;
		}
	} else {
		/* the best GPU; else the first non-boot one, else the first: nr_gpu_choosable says why not */
		const struct nr_gpu *g = nr_scan_best_gpu(scan);
		for (size_t i = 0; i < scan->n_gpus && !g; i++)
			if (!scan->gpus[i].boot_vga)
				g = &scan->gpus[i];
		if (!g && scan->n_gpus)
			g = &scan->gpus[0];
		if (!g)
			return nr_error_set(err, -NR_E_NOGPU, "this machine has no GPU (no PCI device of class 03xx)");
		v = malloc(sizeof(*v));
		if (!v)
			return nr_error_set(err, -NR_E_NOMEM, NULL);
		v[n++] = g;
	}
	*out = v;
	*n_out = n;
	return 0;
}

static bool in_list(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

int nr_vfio_set_text(struct nr_vfio_plan *vp, const char *path, char *text, const char *why,
		     struct nr_error *err)
{
	int rc;

	if (!text)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	rc = nr_plan_set_file(vp->plan, path, text, strlen(text), why, err);
	free(text);
	return rc;
}

int nr_vfio_check_balance(const char *path, const char *text, int syntax, struct nr_error *err)
{
	char what[200];
	size_t line = 0;

	if (nr_boot_balance(text, (enum nr_syntax)syntax, &line, what, sizeof(what)) == 0)
		return 0;
	return nr_error_set(err, -NR_E_PARSE, "%s:%zu: %s: the kernel parameters or modules would land "
			    "inside it (and every apply would add them again); fix the file, then plan again",
			    path, line, what);
}

int nr_vfio_read_or_empty(struct nr_vfio_plan *vp, const char *path, char **text, bool *exists,
			  struct nr_error *err)
{
	int rc = nr_plan_read(vp->plan, path, text, NULL, err);

	if (exists)
		*exists = rc == 0;
	if (rc == -NR_E_NOTFOUND) {
		nr_error_clear(err);
		*text = strdup("");
		return *text ? 0 : nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	return rc;
}

static char *modprobe_text(const struct nr_vfio_plan *vp, const struct nr_scan *scan)
{
	struct nr_buf b;
	char **deps = NULL;
	size_t n_deps = 0;

	nr_buf_init(&b);
	nr_buf_puts(&b, "# Written by neuronctl vfio; neuronctl vfio revert takes it away.\n");
	nr_buf_puts(&b, "# Guest GPU:");
	for (size_t i = 0; i < vp->n_gpus; i++)
		nr_buf_printf(&b, " %s", vp->gpus[i]);
	nr_buf_puts(&b, "\n");
	if (vp->bind_by_address) {
		char **shared = NULL;
		size_t n_shared = 0;
		for (size_t i = 0; i < vp->n_collisions; i++) {
			const struct nr_pci_dev *d = nr_scan_device(scan, vp->collisions[i]);
			char id[10];
			if (d)
				nr_strv_add_unique(&shared, &n_shared, nr_vfio_id_str((uint32_t)d->vendor << 16 | d->device, id));
		}
		nr_buf_puts(&b, n_shared == 1 ? "# The id" : "# The ids");
		for (size_t i = 0; i < n_shared; i++)
			nr_buf_printf(&b, " %s", shared[i]);
		nr_strv_free(shared, n_shared);
		nr_buf_puts(&b, n_shared == 1 ? " is" : " are");
		nr_buf_puts(&b, " shared with devices the host keeps (");
		for (size_t i = 0; i < vp->n_collisions; i++)
			nr_buf_printf(&b, "%s%s", i ? ", " : "", vp->collisions[i]);
		nr_buf_puts(&b, "),\n# so vfio-pci ids= would take those too. Instead, when vfio-pci loads "
			       "(early, from the initramfs),\n# these devices get driver_override=vfio-pci "
			       "and only they are bound.\n");
		nr_buf_puts(&b, "install vfio-pci for dev in");
		for (size_t i = 0; i < vp->n_devices; i++)
			nr_buf_printf(&b, " %s", vp->devices[i]);
		nr_buf_puts(&b, "; do echo vfio-pci > /sys/bus/pci/devices/$dev/driver_override; done; "
			       "exec modprobe --ignore-install vfio-pci $CMDLINE_OPTS\n");
	} else {
		nr_buf_puts(&b, "options vfio-pci ids=");
		for (size_t i = 0; i < vp->n_ids; i++)
			nr_buf_printf(&b, "%s%s", i ? "," : "", vp->ids[i]);
		nr_buf_puts(&b, "\n");
	}
	nr_buf_puts(&b, "# vfio-pci loads before any driver that could claim the GPU first.\n");
	for (size_t i = 0; softdep_drivers[i]; i++)
		nr_strv_add_unique(&deps, &n_deps, softdep_drivers[i]);
	/* and the drivers bound to the passed devices now (xhci_hcd, i2c_nvidia_gpu ...) */
	for (size_t i = 0; i < vp->n_devices; i++) {
		const struct nr_pci_dev *d = nr_scan_device(scan, vp->devices[i]);
		char mod[64];
		if (!d || !d->driver || strcmp(d->driver, "vfio-pci") == 0 || strcmp(d->driver, "pcieport") == 0)
			continue;
		snprintf(mod, sizeof(mod), "%s", strcmp(d->driver, "nvidia-gpu") == 0 ? "i2c_nvidia_gpu" : d->driver);
		bool safe = mod[0] != '\0';
		for (char *c = mod; *c; c++) {
			if (*c == '-')
				*c = '_';
			if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
				safe = false;
		}
		if (safe)
			nr_strv_add_unique(&deps, &n_deps, mod);
	}
	for (size_t i = 0; i < n_deps; i++)
		nr_buf_printf(&b, "softdep %s pre: vfio-pci\n", deps[i]);
	nr_strv_free(deps, n_deps);
	if (b.oom) {
		nr_buf_done(&b);
		return NULL;
	}
	return nr_buf_steal(&b);
}

/* vfio-pci early in the initramfs: what must load (vfio_virqfd for kernels before 6.2),
 * written the way the generator reads it (its row's plan_early). */
static int plan_initramfs(struct nr_vfio_plan *vp, struct nr_error *err)
{
	const struct nr_boot_setup *bs = &vp->boot;
	static const char *const mods[] = { "vfio_pci", "vfio", "vfio_iommu_type1", NULL };
	struct nr_early e = { mods, bs->needs_virqfd, false };
	bool all_old = bs->n_kernels > 0;

	for (size_t i = 0; i < bs->n_kernels; i++)
		if (nr_kernel_version_code(bs->kernels[i]) >= 602)
			all_old = false;
	e.mixed = bs->needs_virqfd && !all_old;
	if (bs->n_kernels == 0)
		nr_plan_add_note(vp->plan, "no installed kernel found under lib/modules: assuming 6.2 or newer "
				 "(no vfio_virqfd)");
	if (!bs->initramfs)
		return nr_error_set(err, -NR_E_BOOTSETUP, "%s", bs->problem);
	return bs->initramfs->plan_early(vp, &e, err);
}

static int plan_cmdline(struct nr_vfio_plan *vp, const char *const *want, struct nr_error *err)
{
	const struct nr_boot_setup *bs = &vp->boot;
	char *text = NULL;
	int rc;

	if (bs->grub) {
		/* /etc/default/grub, then /etc/default/grub.d/\*.cfg: grub-mkconfig sources
		 * them in turn, so the edit goes where GRUB_CMDLINE_LINUX_DEFAULT is set last */
		size_t n = 1 + bs->n_grub_dropins, target = 0;
		char **texts = calloc(n, sizeof(*texts));
		struct nr_buf before, after, all;
		if (!texts)
			return nr_error_set(err, -NR_E_NOMEM, NULL);
		rc = 0;
		for (size_t i = 0; i < n && rc == 0; i++) {
			const char *path = i ? bs->grub_dropins[i - 1] : "/etc/default/grub";
			rc = nr_plan_read(vp->plan, path, &texts[i], NULL, err);
			if (rc == 0)
				rc = nr_vfio_check_balance(path, texts[i], NR_SYNTAX_SHELL, err);
			if (rc == 0 && nr_grub_assigns_default(texts[i]))
				target = i;
		}
		nr_buf_init(&before);
		nr_buf_init(&after);
		nr_buf_init(&all);
		nr_buf_append(&before, "", 0);
		nr_buf_append(&after, "", 0);
		for (size_t i = 0; i < n && rc == 0; i++) {
			struct nr_buf *to = i < target ? &before : &after;
			if (i != target) {
				nr_buf_puts(to, texts[i]);
				nr_buf_puts(to, "\n");
			}
			nr_buf_puts(&all, texts[i]);
			nr_buf_puts(&all, "\n");
		}
		char *cmdline = rc == 0 && all.data ? nr_grub_cmdline(all.data) : NULL;
		for (size_t i = 0; cmdline && want[i]; i++) {
			const char *eq = strchr(want[i], '=');
			char key[64];
			snprintf(key, sizeof(key), "%.*s", (int)(eq - want[i]), want[i]);
			if (nr_cmdline_has(cmdline, key) && !nr_boot_param_satisfied(cmdline, want[i]))
				nr_plan_add_note(vp->plan, "the GRUB configuration sets %s differently: %s is added "
						 "after it (the last one wins)", key, want[i]);
		}
		free(cmdline);
		if (rc == 0 && target > 0)
			nr_plan_add_note(vp->plan, "%s sets GRUB_CMDLINE_LINUX_DEFAULT after /etc/default/grub: "
					 "the parameters go there", bs->grub_dropins[target - 1]);
		if (rc == 0)
			rc = nr_vfio_set_text(vp, target ? bs->grub_dropins[target - 1] : "/etc/default/grub",
				      before.oom || after.oom ? NULL :
				      nr_grub_add_params_in(before.data, texts[target], after.data, want),
				      "turn the IOMMU on (GRUB_CMDLINE_LINUX_DEFAULT)", err);
		nr_buf_done(&before);
		nr_buf_done(&after);
		nr_buf_done(&all);
		for (size_t i = 0; i < n; i++)
			free(texts[i]);
		free(texts);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < bs->n_sdboot_entries; i++) {
		if ((rc = nr_plan_read(vp->plan, bs->sdboot_entries[i], &text, NULL, err)) < 0)
			return rc;
		if ((rc = nr_vfio_check_balance(bs->sdboot_entries[i], text, NR_SYNTAX_SDBOOT, err)) < 0) {
			free(text);
			return rc;
		}
		rc = nr_vfio_set_text(vp, bs->sdboot_entries[i], nr_sdboot_add_params(text, want),
			      "turn the IOMMU on (systemd-boot entry options)", err);
		free(text);
		if (rc < 0)
			return rc;
	}
	if (bs->kernel_cmdline) {
		if ((rc = nr_plan_read(vp->plan, "/etc/kernel/cmdline", &text, NULL, err)) < 0)
			return rc;
		if ((rc = nr_vfio_check_balance("/etc/kernel/cmdline", text, NR_SYNTAX_CMDLINE, err)) < 0) {
			free(text);
			return rc;
		}
		rc = nr_vfio_set_text(vp, "/etc/kernel/cmdline", nr_kernel_cmdline_add_params(text, want),
			      "turn the IOMMU on (/etc/kernel/cmdline: UKIs and kernel-install)", err);
		free(text);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* What rebuilds the boot images after the edits: the generator's command (when the
 * initramfs changes, or when it bakes the command line into UKIs), kernel-install for
 * UKIs it does not build, grub-mkconfig. */
static int plan_commands(struct nr_vfio_plan *vp, struct nr_error *err)
{
	const struct nr_boot_setup *bs = &vp->boot;
	const struct nr_initramfs *gen = bs->initramfs;
	int rc = 0;

	if (gen && (!vp->params_only || (bs->kernel_cmdline && gen->builds_ukis)))
		rc = nr_plan_add_command(vp->plan, gen->regen, gen->regen_why, err);
	if (rc == 0 && bs->kernel_install_uki && !(gen && gen->builds_ukis)) {
		for (size_t i = 0; i < bs->n_kernels && rc == 0; i++) {
			char image[256];
			snprintf(image, sizeof(image), "/usr/lib/modules/%s/vmlinuz", bs->kernels[i]);
			const char *c[] = { "kernel-install", "add", bs->kernels[i], image, NULL };
			rc = nr_plan_add_command(vp->plan, c, "rebuild the unified kernel image with the new command line", err);
		}
	}
	if (rc == 0 && bs->grub) {
		const char *c[] = { bs->grub_mkconfig, "-o", bs->grub_cfg, NULL };
		rc = nr_plan_add_command(vp->plan, c, "write the new kernel command line into grub.cfg", err);
	}
	return rc;
}

/* The GPUs asked for (or the best one), each judged by core's one rule. */
static int pick_gpus(struct nr_vfio_plan *vp, const struct nr_scan *scan, const struct nr_vfio_opts *o,
		     struct nr_error *err)
{
	const struct nr_gpu **gpus = NULL;
	size_t n_gpus = 0;
	int rc;

	if ((rc = choose_gpus(scan, o, &gpus, &n_gpus, err)) < 0)
		return rc;
	for (size_t i = 0; i < n_gpus; i++)
		if ((rc = nr_gpu_choosable(scan, gpus[i], o->force, o->include_group, err)) < 0) {
			free(gpus);
			return rc;
		}
	for (size_t i = 0; i < n_gpus && rc == 0; i++) {
		const struct nr_gpu *g = gpus[i];
		rc = nr_strv_add_unique(&vp->gpus, &vp->n_gpus, scan->devices[g->dev].addr);
		for (size_t k = 0; k < g->n_set && rc == 0; k++) {
			const struct nr_pci_dev *d = &scan->devices[g->set[k]];
			char id[10];
			if (nr_pci_is_bridge(d))
				continue;
			rc = nr_strv_add_unique(&vp->devices, &vp->n_devices, d->addr);
			for (size_t q = 0; q < g->n_blockers && rc == 0; q++)
				if (g->blockers[q] == g->set[k])
					rc = nr_strv_add_unique(&vp->blockers, &vp->n_blockers, d->addr);
			if (rc == 0)
				rc = nr_strv_add_unique(&vp->ids, &vp->n_ids, nr_vfio_id_str((uint32_t)d->vendor << 16 | d->device, id));
		}
	}
	free(gpus);
	if (rc < 0)
		return nr_error_set(err, rc, NULL);
	qsort(vp->devices, vp->n_devices, sizeof(char *), cmp_str);
	/* host devices (not passed, not bridges) that share an id: bind by address */
	for (size_t i = 0; i < scan->n_devices && rc == 0; i++) {
		const struct nr_pci_dev *d = &scan->devices[i];
		char id[10];
		if (nr_pci_is_bridge(d) || in_list(vp->devices, vp->n_devices, d->addr))
			continue;
		if (in_list(vp->ids, vp->n_ids, nr_vfio_id_str((uint32_t)d->vendor << 16 | d->device, id)))
			rc = nr_strv_add_unique(&vp->collisions, &vp->n_collisions, d->addr);
	}
	vp->bind_by_address = vp->n_collisions > 0;
	return rc < 0 ? nr_error_set(err, rc, NULL) : 0;
}

/* Devices the host needs (its disks' controllers, its only network card and keyboard)
 * leave with the GPU only when named one by one. */
static int check_host_needs(struct nr_vfio_plan *vp, const struct nr_ctx *ctx, const struct nr_scan *scan,
			    const struct nr_vfio_opts *o, struct nr_error *err)
{
	struct nr_host_need *needs = NULL;
	size_t n_needs = 0;
	struct nr_buf refused;
	char **named = NULL;
	size_t n_named = 0;
	int rc;

	for (size_t i = 0; o->include_devices && o->include_devices[i]; i++) {
		const struct nr_pci_dev *d = nr_scan_device(scan, o->include_devices[i]);
		if (!d || !in_list(vp->devices, vp->n_devices, d->addr)) {
			nr_strv_free(named, n_named);
			return nr_error_set(err, -NR_E_INVAL, "--include-device %s is not one of the devices this "
					    "plan passes to the guest (%zu of them: see the plan)",
					    o->include_devices[i], vp->n_devices);
		}
		nr_strv_add_unique(&named, &n_named, d->addr);
	}
	if ((rc = nr_vfio_host_needs(ctx, scan, &needs, &n_needs, err)) < 0) {
		nr_strv_free(named, n_named);
		return rc;
	}
	nr_buf_init(&refused);
	for (size_t i = 0; i < n_needs; i++) {
		bool lost = true, said = false;
		/* a need is lost when every device that meets it leaves */
		for (size_t k = 0; k < n_needs; k++)
			if (needs[k].need == needs[i].need && !in_list(vp->devices, vp->n_devices, needs[k].addr))
				lost = false;
		for (size_t k = 0; k < i; k++)
			said |= strcmp(needs[k].addr, needs[i].addr) == 0 &&
				in_list(vp->devices, vp->n_devices, needs[k].addr);
		if (!lost || said)
			continue;
		if (in_list(named, n_named, needs[i].addr)) {
			if (!in_list(vp->host_needed, vp->n_host_needed, needs[i].addr))
				nr_strv_add(&vp->host_needed, &vp->n_host_needed, needs[i].addr);
			continue;
		}
		nr_buf_printf(&refused, "%s%s %s", refused.len ? "; " : "", needs[i].addr, needs[i].why);
	}
	free(needs);
	nr_strv_free(named, n_named);
	if (refused.oom) {
		nr_buf_done(&refused);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	if (refused.len) {
		nr_error_set(err, -NR_E_HOSTDEVICE,
			     "the plan would take devices the host needs at its next boot: %s. Without them "
			     "the host may not boot, or has no network or keyboard. Move the GPU to a slot with "
			     "its own IOMMU group; or, if the host really does without them (its disk moved "
			     "elsewhere, another keyboard), name each with --include-device ADDR",
			     refused.data);
		nr_buf_done(&refused);
		return -NR_E_HOSTDEVICE;
	}
	nr_buf_done(&refused);
	return 0;
}

static void set_meta(struct nr_vfio_plan *vp)
{
	struct nr_buf b;

	nr_buf_init(&b);
	for (size_t i = 0; i < vp->n_gpus; i++)
		nr_buf_printf(&b, "%s%s", i ? " " : "", vp->gpus[i]);
	nr_plan_set_meta(vp->plan, "gpus", b.data ? b.data : "");
	nr_buf_done(&b);
	nr_buf_init(&b);
	for (size_t i = 0; i < vp->n_devices; i++)
		nr_buf_printf(&b, "%s%s", i ? " " : "", vp->devices[i]);
	nr_plan_set_meta(vp->plan, "devices", b.data ? b.data : "");
	nr_buf_done(&b);
	nr_plan_set_meta(vp->plan, "bind", vp->bind_by_address ? "address" : "ids");
	nr_plan_set_meta(vp->plan, "params", vp->params);
}

static void add_notes(struct nr_vfio_plan *vp, const struct nr_scan *scan)
{
	const struct nr_iommu_params *ip = nr_iommu_params(scan->host.cpu_vendor);

	if (vp->params_only)
		nr_plan_add_note(vp->plan, "the IOMMU is off: this plan only adds %s to the kernel command line. "
				 "Turn on %s in the firmware setup too (the kernel cannot use what the firmware "
				 "hides), reboot, then plan again to choose the GPU", vp->params, ip->firmware);
	if (!ip->on)
		nr_plan_add_note(vp->plan, "the CPU vendor is unknown: add %s by hand", ip->by_hand);
	if (vp->bind_by_address)
		nr_plan_add_note(vp->plan, "an id of the guest GPU is shared with a device the host keeps: "
				 "the devices are bound by address (a modprobe install hook sets their "
				 "driver_override when vfio-pci loads), never with ids=");
	if (vp->n_blockers)
		nr_plan_add_note(vp->plan, "--include-group: the other devices of the group go to the guest too");
	for (size_t i = 0; i < vp->n_host_needed; i++)
		nr_plan_add_note(vp->plan, "%s is a device the host needs: it goes to the guest because it was "
				 "named with --include-device", vp->host_needed[i]);
	if (vp->boot.ukis && !vp->boot.kernel_cmdline)
		nr_plan_add_note(vp->plan, "unified kernel images found without /etc/kernel/cmdline: their "
				 "embedded command line is not changed");
}

int nr_vfio_plan_new(const struct nr_ctx *ctx, const struct nr_scan *scan,
		     const struct nr_vfio_opts *opts, struct nr_vfio_plan **out, struct nr_error *err)
{
	static const struct nr_vfio_opts defaults;
	const struct nr_vfio_opts *o = opts ? opts : &defaults;
	const struct nr_iommu_params *ip = nr_iommu_params(scan->host.cpu_vendor);
	const char *want[3] = { ip->on ? ip->on : ip->pt, ip->on ? ip->pt : NULL, NULL };
	struct nr_vfio_plan *vp;
	int rc;

	*out = NULL;
	vp = calloc(1, sizeof(*vp));
	if (!vp)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	snprintf(vp->params, sizeof(vp->params), "%s%s%s", want[0], want[1] ? " " : "", want[1] ? want[1] : "");
	vp->params_only = !scan->iommu;
	if (!vp->params_only && ((rc = pick_gpus(vp, scan, o, err)) < 0 ||
				 (rc = check_host_needs(vp, ctx, scan, o, err)) < 0))
		goto fail;
	if ((rc = nr_boot_detect(ctx, o->initramfs, &vp->boot, err)) < 0)
		goto fail;
	if (vp->params_only ? !nr_boot_cmdline_known(&vp->boot) : !nr_boot_known(&vp->boot)) {
		rc = nr_error_set(err, -NR_E_BOOTSETUP,
				  "cannot tell how the target root boots: %s (kernel parameters wanted: %s; "
				  "modules wanted early: vfio_pci vfio vfio_iommu_type1)",
				  vp->boot.problem, vp->params);
		goto fail;
	}
	if (!(vp->plan = nr_plan_new(ctx, NR_VFIO_PLAN_NAME))) {
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto fail;
	}
	add_notes(vp, scan);
	if (!vp->params_only &&
	    ((rc = nr_vfio_set_text(vp, MODPROBE_CONF, modprobe_text(vp, scan), "bind the guest GPU to vfio-pci at boot",
				    err)) < 0 ||
	     (rc = plan_initramfs(vp, err)) < 0))
		goto fail;
	if ((rc = plan_cmdline(vp, want, err)) < 0 || (rc = plan_commands(vp, err)) < 0)
		goto fail;
	set_meta(vp);
	*out = vp;
	return 0;
fail:
	nr_vfio_plan_free(vp);
	return rc;
}

/* ------------------------------------------------------------------- status -- */

static int split_words(const char *s, char ***v, size_t *n)
{
	char *copy = strdup(s ? s : ""), *save = NULL, *tok;
	int rc = 0;

	if (!copy)
		return -NR_E_NOMEM;
	for (tok = strtok_r(copy, " ", &save); tok && rc == 0; tok = strtok_r(NULL, " ", &save))
		rc = nr_strv_add_unique(v, n, tok);
	free(copy);
	return rc;
}

int nr_vfio_status_read(const struct nr_ctx *ctx, const struct nr_scan *scan,
			struct nr_vfio_status *st, struct nr_error *err)
{
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = nr_plan_status_read(ctx, NR_VFIO_PLAN_NAME, &st->plan, err)) < 0)
		return rc;
	if (split_words(nr_plan_status_meta(&st->plan, "gpus"), &st->gpus, &st->n_gpus) < 0 ||
	    split_words(nr_plan_status_meta(&st->plan, "devices"), &st->devices, &st->n_devices) < 0) {
		nr_vfio_status_done(st);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	if (!scan)
		return 0;
	for (size_t i = 0; i < scan->n_devices; i++) {
		const struct nr_pci_dev *d = &scan->devices[i];
		if (d->driver && strcmp(d->driver, "vfio-pci") == 0 && nr_strv_add_unique(&st->bound, &st->n_bound, d->addr) < 0) {
			nr_vfio_status_done(st);
			return nr_error_set(err, -NR_E_NOMEM, NULL);
		}
	}
	st->all_bound = st->n_devices > 0;
	for (size_t i = 0; i < st->n_devices; i++) {
		const struct nr_pci_dev *d = nr_scan_device(scan, st->devices[i]);
		if (!d || !d->driver || strcmp(d->driver, "vfio-pci") != 0)
			st->all_bound = false;
	}
	const char *cmd = scan->host.cmdline ? scan->host.cmdline : "";
	const struct nr_iommu_params *ip = nr_iommu_params(scan->host.cpu_vendor);
	st->iommu_params = nr_boot_param_satisfied(cmd, ip->pt) && (!ip->on || nr_boot_param_satisfied(cmd, ip->on));
	return 0;
}

void nr_vfio_status_done(struct nr_vfio_status *st)
{
	if (!st)
		return;
	nr_plan_status_done(&st->plan);
	nr_strv_free(st->gpus, st->n_gpus);
	nr_strv_free(st->devices, st->n_devices);
	nr_strv_free(st->bound, st->n_bound);
	memset(st, 0, sizeof(*st));
}
