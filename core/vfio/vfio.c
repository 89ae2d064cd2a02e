/* The VFIO plan: vfio-pci at boot for the chosen GPU(s), early in the initramfs, with
 * the IOMMU on the kernel command line, for the boot setup the target really uses. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfio/boot.h"
#include "base/internal.h"
#include "neuron/vfio.h"
#include "root/root.h"

#define MODPROBE_CONF "/etc/modprobe.d/vfio.conf"
#define DRACUT_CONF "/etc/dracut.conf.d/10-neuron-vfio.conf"
#define MKINITCPIO_DROPIN "/etc/mkinitcpio.conf.d/10-neuron-vfio.conf"

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
	nr_boot_setup_done(&vp->boot);
	free(vp);
}

static void list_names(struct nr_buf *b, const struct nr_scan *scan, const size_t *idx, size_t n)
{
	for (size_t i = 0; i < n; i++)
		nr_buf_printf(b, "%s%s", i ? ", " : "", scan->devices[idx[i]].addr);
}

/* The refusals that depend on the GPU alone. */
static int judge_gpu(const struct nr_scan *scan, const struct nr_gpu *g, const struct nr_vfio_opts *o,
		     struct nr_error *err)
{
	const struct nr_pci_dev *d = &scan->devices[g->dev];
	struct nr_buf b;

	if (g->boot_vga && !o->force)
		return nr_error_set(err, -NR_E_BOOTGPU,
				    "%s drives the host console (boot VGA): binding it to vfio-pci at boot "
				    "leaves the host without a display. Use the single-GPU path (the GPU is "
				    "handed over when the VM starts), pick another GPU with --gpu, or pass "
				    "--force if another GPU really drives your console", d->addr);
	if (!g->isolated && !o->include_group) {
		nr_buf_init(&b);
		list_names(&b, scan, g->blockers, g->n_blockers);
		nr_error_set(err, -NR_E_GROUP,
			     "%s is not isolated: its IOMMU group also holds %s, which would have to leave "
			     "the host with it. Pass --include-group to give them to the guest too, move "
			     "the card to a slot with its own group, or check the firmware's ACS setting",
			     d->addr, b.data ? b.data : "other devices");
		nr_buf_done(&b);
		return -NR_E_GROUP;
	}
	return 0;
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
		/* the best GPU; else the first non-boot one, else the first: judge_gpu says why not */
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

static int set_text(struct nr_vfio_plan *vp, const char *path, char *text, const char *why,
		    struct nr_error *err)
{
	int rc;

	if (!text)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	rc = nr_plan_set_file(vp->plan, path, text, strlen(text), why, err);
	free(text);
	return rc;
}

/* Read a file under root; absent is "" with *exists false. */
static int read_or_empty(struct nr_vfio_plan *vp, const char *path, char **text, bool *exists,
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

static int plan_initramfs(struct nr_vfio_plan *vp, struct nr_error *err)
{
	const struct nr_boot_setup *bs = &vp->boot;
	bool mixed = false, all_old = bs->n_kernels > 0;
	const char *mods[5] = { "vfio_pci", "vfio", "vfio_iommu_type1", NULL, NULL };
	char *text = NULL;
	int rc;

	for (size_t i = 0; i < bs->n_kernels; i++)
		if (nr_kernel_version_code(bs->kernels[i]) >= 602)
			all_old = false;
	mixed = bs->needs_virqfd && !all_old;
	if (bs->n_kernels == 0)
		nr_plan_add_note(vp->plan, "no installed kernel found under lib/modules: assuming 6.2 or newer "
				 "(no vfio_virqfd)");

	switch (bs->initramfs) {
	case NR_INITRAMFS_MKINITCPIO: {
		if (bs->needs_virqfd)
			mods[3] = mixed ? "vfio_virqfd?" : "vfio_virqfd";
		char *conf = NULL;
		if ((rc = read_or_empty(vp, "/etc/mkinitcpio.conf", &conf, NULL, err)) < 0)
			return rc;
		size_t n_hooks = 0;
		char **hooks = nr_mkinitcpio_array(conf, "HOOKS", &n_hooks);
		bool modconf = false;
		for (size_t i = 0; hooks && hooks[i]; i++)
			modconf |= strcmp(hooks[i], "modconf") == 0;
		for (size_t i = 0; hooks && hooks[i]; i++)
			free(hooks[i]);
		free(hooks);
		static const char *const files[] = { MODPROBE_CONF, NULL };
		if (bs->mkinitcpio_dropins) {
			/* a drop-in of our own; its items go before the user's MODULES */
			size_t n_have = 0;
			char **have = nr_mkinitcpio_array(conf, "MODULES", &n_have);
			char *probe = nr_mkinitcpio_prepend(conf, "MODULES", mods);
			bool missing = probe && strcmp(probe, conf) != 0;
			free(probe);
			for (size_t i = 0; have && have[i]; i++)
				free(have[i]);
			free(have);
			struct nr_buf b;
			nr_buf_init(&b);
			nr_buf_puts(&b, "# Written by neuronctl vfio: vfio-pci loads first in the initramfs, "
				       "before any GPU driver.\n");
			if (missing) {
				nr_buf_puts(&b, "MODULES=(");
				for (size_t i = 0; mods[i]; i++)
					nr_buf_printf(&b, "%s ", mods[i]);
				nr_buf_puts(&b, "\"${MODULES[@]}\")\n");
			}
			if (!modconf)
				nr_buf_puts(&b, "# HOOKS has no modconf: take the vfio-pci options in by hand.\n"
					       "FILES+=(" MODPROBE_CONF ")\n");
			free(conf);
			if (!missing && modconf)
				return 0;
			if (b.oom) {
				nr_buf_done(&b);
				return nr_error_set(err, -NR_E_NOMEM, NULL);
			}
			return set_text(vp, MKINITCPIO_DROPIN, nr_buf_steal(&b),
					"load vfio-pci early in the initramfs (mkinitcpio drop-in)", err);
		}
		text = nr_mkinitcpio_prepend(conf, "MODULES", mods);
		if (text && !modconf) {
			char *t2 = nr_mkinitcpio_prepend(text, "FILES", files);
			free(text);
			text = t2;
		}
		free(conf);
		return set_text(vp, "/etc/mkinitcpio.conf", text,
				"load vfio-pci early in the initramfs (MODULES)", err);
	}
	case NR_INITRAMFS_DRACUT: {
		struct nr_buf b;
		nr_buf_init(&b);
		nr_buf_puts(&b, "# Written by neuronctl vfio: vfio-pci loads first in the initramfs, "
			       "before any GPU driver.\n"
			       "force_drivers+=\" vfio_pci vfio vfio_iommu_type1 ");
		if (bs->needs_virqfd && !mixed)
			nr_buf_puts(&b, "vfio_virqfd ");
		nr_buf_puts(&b, "\"\n");
		if (mixed)
			nr_buf_puts(&b, "# vfio_virqfd exists only in the kernels older than 6.2\n"
				       "add_drivers+=\" vfio_virqfd \"\n");
		if (b.oom) {
			nr_buf_done(&b);
			return nr_error_set(err, -NR_E_NOMEM, NULL);
		}
		return set_text(vp, DRACUT_CONF, nr_buf_steal(&b),
				"load vfio-pci early in the initramfs (dracut force_drivers)", err);
	}
	case NR_INITRAMFS_TOOLS: {
		if (bs->needs_virqfd)
			mods[3] = "vfio_virqfd";
		bool exists;
		if ((rc = read_or_empty(vp, "/etc/initramfs-tools/modules", &text, &exists, err)) < 0)
			return rc;
		char *edited = nr_initramfs_tools_add_modules(text, mods);
		free(text);
		return set_text(vp, "/etc/initramfs-tools/modules", edited,
				"load vfio-pci early in the initramfs (initramfs-tools modules)", err);
	}
	default:
		return nr_error_set(err, -NR_E_BOOTSETUP, "%s", bs->problem);
	}
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
			rc = nr_plan_read(vp->plan, i ? bs->grub_dropins[i - 1] : "/etc/default/grub", &texts[i], NULL, err);
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
			rc = set_text(vp, target ? bs->grub_dropins[target - 1] : "/etc/default/grub",
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
		rc = set_text(vp, bs->sdboot_entries[i], nr_sdboot_add_params(text, want),
			      "turn the IOMMU on (systemd-boot entry options)", err);
		free(text);
		if (rc < 0)
			return rc;
	}
	if (bs->kernel_cmdline) {
		if ((rc = nr_plan_read(vp->plan, "/etc/kernel/cmdline", &text, NULL, err)) < 0)
			return rc;
		rc = set_text(vp, "/etc/kernel/cmdline", nr_kernel_cmdline_add_params(text, want),
			      "turn the IOMMU on (/etc/kernel/cmdline: UKIs and kernel-install)", err);
		free(text);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int plan_commands(struct nr_vfio_plan *vp, struct nr_error *err)
{
	const struct nr_boot_setup *bs = &vp->boot;
	int rc = 0;

	switch (bs->initramfs) {
	case NR_INITRAMFS_MKINITCPIO: {
		static const char *const c[] = { "mkinitcpio", "-P", NULL };
		rc = nr_plan_add_command(vp->plan, c, "rebuild every initramfs (and UKI) of the mkinitcpio presets", err);
		break;
	}
	case NR_INITRAMFS_DRACUT: {
		static const char *const c[] = { "dracut", "--regenerate-all", "-f", NULL };
		rc = nr_plan_add_command(vp->plan, c, "rebuild the initramfs of every installed kernel", err);
		break;
	}
	case NR_INITRAMFS_TOOLS: {
		static const char *const c[] = { "update-initramfs", "-u", "-k", "all", NULL };
		rc = nr_plan_add_command(vp->plan, c, "rebuild the initramfs of every installed kernel", err);
		break;
	}
	default:
		break;
	}
	if (rc == 0 && bs->kernel_install_uki && bs->initramfs != NR_INITRAMFS_MKINITCPIO) {
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

int nr_vfio_plan_new(const struct nr_ctx *ctx, const struct nr_scan *scan,
		     const struct nr_vfio_opts *opts, struct nr_vfio_plan **out, struct nr_error *err)
{
	static const struct nr_vfio_opts defaults;
	const struct nr_vfio_opts *o = opts ? opts : &defaults;
	const struct nr_gpu **gpus = NULL;
	size_t n_gpus = 0;
	struct nr_vfio_plan *vp;
	int rc;

	*out = NULL;
	if (!scan->iommu)
		return nr_error_set(err, -NR_E_NOIOMMU,
				    "the IOMMU is off on this machine (no IOMMU groups): turn on VT-d or "
				    "AMD-Vi (SVM/IOMMU) in the firmware and boot with %s, then plan again; "
				    "without groups the isolation of a GPU cannot be judged",
				    scan->host.cpu_vendor == NR_CPU_AMD ? "amd_iommu=on" :
				    scan->host.cpu_vendor == NR_CPU_INTEL ? "intel_iommu=on" :
				    "intel_iommu=on (Intel) or amd_iommu=on (AMD)");
	if ((rc = choose_gpus(scan, o, &gpus, &n_gpus, err)) < 0)
		return rc;
	for (size_t i = 0; i < n_gpus; i++)
		if ((rc = judge_gpu(scan, gpus[i], o, err)) < 0) {
			free(gpus);
			return rc;
		}
	vp = calloc(1, sizeof(*vp));
	if (!vp) {
		free(gpus);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	rc = 0;
	for (size_t i = 0; i < n_gpus && rc == 0; i++) {
		const struct nr_gpu *g = gpus[i];
		rc = nr_strv_add_unique(&vp->gpus, &vp->n_gpus, scan->devices[g->dev].addr);
		for (size_t k = 0; k < g->n_set && rc == 0; k++) {
			const struct nr_pci_dev *d = &scan->devices[g->set[k]];
			if (nr_pci_is_bridge(d))
				continue;
			rc = nr_strv_add_unique(&vp->devices, &vp->n_devices, d->addr);
			for (size_t q = 0; q < g->n_blockers && rc == 0; q++)
				if (g->blockers[q] == g->set[k])
					rc = nr_strv_add_unique(&vp->blockers, &vp->n_blockers, d->addr);
			char id[10];
			if (rc == 0)
				rc = nr_strv_add_unique(&vp->ids, &vp->n_ids, nr_vfio_id_str((uint32_t)d->vendor << 16 | d->device, id));
		}
	}
	free(gpus);
	if (rc < 0) {
		nr_vfio_plan_free(vp);
		return nr_error_set(err, rc, NULL);
	}
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
	if (rc < 0) {
		nr_vfio_plan_free(vp);
		return nr_error_set(err, rc, NULL);
	}

	const char *want[3] = { NULL, "iommu=pt", NULL };
	if (scan->host.cpu_vendor == NR_CPU_AMD)
		want[0] = "amd_iommu=on";
	else if (scan->host.cpu_vendor == NR_CPU_INTEL)
		want[0] = "intel_iommu=on";
	else {
		want[0] = "iommu=pt";
		want[1] = NULL;
	}
	snprintf(vp->params, sizeof(vp->params), "%s%s%s", want[0], want[1] ? " " : "", want[1] ? want[1] : "");

	if ((rc = nr_boot_detect(ctx, o->initramfs, &vp->boot, err)) < 0) {
		nr_vfio_plan_free(vp);
		return rc;
	}
	if (!nr_boot_known(&vp->boot)) {
		rc = nr_error_set(err, -NR_E_BOOTSETUP,
				  "cannot tell how the target root boots: %s (kernel parameters wanted: %s; "
				  "modules wanted early: vfio_pci vfio vfio_iommu_type1)",
				  vp->boot.problem, vp->params);
		nr_vfio_plan_free(vp);
		return rc;
	}
	vp->plan = nr_plan_new(ctx, NR_VFIO_PLAN_NAME);
	if (!vp->plan) {
		nr_vfio_plan_free(vp);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	if (scan->host.cpu_vendor == NR_CPU_UNKNOWN)
		nr_plan_add_note(vp->plan, "the CPU vendor is unknown: add intel_iommu=on or amd_iommu=on by hand");
	if (vp->bind_by_address)
		nr_plan_add_note(vp->plan, "an id of the guest GPU is shared with a device the host keeps: "
				 "the devices are bound by address (a modprobe install hook sets their "
				 "driver_override when vfio-pci loads), never with ids=");
	if (vp->n_blockers)
		nr_plan_add_note(vp->plan, "--include-group: the other devices of the group go to the guest too");
	if (vp->boot.ukis && !vp->boot.kernel_cmdline)
		nr_plan_add_note(vp->plan, "unified kernel images found without /etc/kernel/cmdline: their "
				 "embedded command line is not changed");

	char *mp = modprobe_text(vp, scan);
	if ((rc = set_text(vp, MODPROBE_CONF, mp, "bind the guest GPU to vfio-pci at boot", err)) < 0 ||
	    (rc = plan_initramfs(vp, err)) < 0 ||
	    (rc = plan_cmdline(vp, want, err)) < 0 ||
	    (rc = plan_commands(vp, err)) < 0) {
		nr_vfio_plan_free(vp);
		return rc;
	}
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
	*out = vp;
	return 0;
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
	st->iommu_params = nr_boot_param_satisfied(cmd, "iommu=pt") &&
		(scan->host.cpu_vendor == NR_CPU_AMD ? nr_boot_param_satisfied(cmd, "amd_iommu=on") :
		 scan->host.cpu_vendor == NR_CPU_INTEL ? nr_boot_param_satisfied(cmd, "intel_iommu=on") : true);
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
