/* The initramfs generators, one row each: how each is found on the target, how vfio-pci
 * loads early with it, and the command that rebuilds its images. Adding one (booster,
 * a fourth) is a row here and its plan_early function. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "vfio/boot.h"
#include "vfio/vfio_internal.h"

#define MODPROBE_CONF "/etc/modprobe.d/vfio.conf"

/* ---- mkinitcpio (Arch): MODULES in /etc/mkinitcpio.conf, or a drop-in of our own ---- */

#define MKINITCPIO_CONF "/etc/mkinitcpio.conf"
#define MKINITCPIO_DROPINS "/etc/mkinitcpio.conf.d"
#define MKINITCPIO_DROPIN MKINITCPIO_DROPINS "/10-neuron-vfio.conf"

static int mkinitcpio_early(struct nr_vfio_plan *vp, const struct nr_early *e, struct nr_error *err)
{
	const char *mods[5] = { e->mods[0], e->mods[1], e->mods[2], NULL, NULL };
	static const char *const files[] = { MODPROBE_CONF, NULL };
	char *conf = NULL, *text;
	int rc;

	if (e->virqfd)
		mods[3] = e->mixed ? "vfio_virqfd?" : "vfio_virqfd";   /* "?": only where it exists */
	if ((rc = nr_vfio_read_or_empty(vp, MKINITCPIO_CONF, &conf, NULL, err)) < 0)
		return rc;
	if ((rc = nr_vfio_check_balance(MKINITCPIO_CONF, conf, NR_SYNTAX_SHELL, err)) < 0) {
		free(conf);
		return rc;
	}
	size_t n_hooks = 0;
	char **hooks = nr_mkinitcpio_array(conf, "HOOKS", &n_hooks);
	bool modconf = false;
	for (size_t i = 0; hooks && hooks[i]; i++)
		modconf |= strcmp(hooks[i], "modconf") == 0;
	for (size_t i = 0; hooks && hooks[i]; i++)
		free(hooks[i]);
	free(hooks);
	if (nr_plan_exists(vp->plan, MKINITCPIO_DROPINS)) {
		/* a drop-in of our own; its items go before the user's MODULES */
		char *probe = nr_mkinitcpio_prepend(conf, "MODULES", mods);
		bool missing = probe && strcmp(probe, conf) != 0;
		struct nr_buf b;
		free(probe);
		free(conf);
		if (!missing && modconf)
			return 0;
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
		if (b.oom) {
			nr_buf_done(&b);
			return nr_error_set(err, -NR_E_NOMEM, NULL);
		}
		return nr_vfio_set_text(vp, MKINITCPIO_DROPIN, nr_buf_steal(&b),
					"load vfio-pci early in the initramfs (mkinitcpio drop-in)", err);
	}
	text = nr_mkinitcpio_prepend(conf, "MODULES", mods);
	if (text && !modconf) {
		char *t2 = nr_mkinitcpio_prepend(text, "FILES", files);
		free(text);
		text = t2;
	}
	free(conf);
	return nr_vfio_set_text(vp, MKINITCPIO_CONF, text, "load vfio-pci early in the initramfs (MODULES)", err);
}

/* ---- dracut (Fedora, openSUSE): a drop-in with force_drivers ---- */

static int dracut_early(struct nr_vfio_plan *vp, const struct nr_early *e, struct nr_error *err)
{
	struct nr_buf b;

	nr_buf_init(&b);
	nr_buf_puts(&b, "# Written by neuronctl vfio: vfio-pci loads first in the initramfs, "
		       "before any GPU driver.\nforce_drivers+=\"");
	for (size_t i = 0; e->mods[i]; i++)
		nr_buf_printf(&b, " %s", e->mods[i]);
	if (e->virqfd && !e->mixed)
		nr_buf_puts(&b, " vfio_virqfd");
	nr_buf_puts(&b, " \"\n");
	if (e->mixed)
		nr_buf_puts(&b, "# vfio_virqfd exists only in the kernels older than 6.2\n"
			       "add_drivers+=\" vfio_virqfd \"\n");
	if (b.oom) {
		nr_buf_done(&b);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	return nr_vfio_set_text(vp, "/etc/dracut.conf.d/10-neuron-vfio.conf", nr_buf_steal(&b),
				"load vfio-pci early in the initramfs (dracut force_drivers)", err);
}

/* ---- initramfs-tools (Debian, Ubuntu): /etc/initramfs-tools/modules, one a line ---- */

static int tools_early(struct nr_vfio_plan *vp, const struct nr_early *e, struct nr_error *err)
{
	const char *mods[5] = { e->mods[0], e->mods[1], e->mods[2], e->virqfd ? "vfio_virqfd" : NULL, NULL };
	char *text = NULL, *edited;
	int rc;

	if ((rc = nr_vfio_read_or_empty(vp, "/etc/initramfs-tools/modules", &text, NULL, err)) < 0)
		return rc;
	edited = nr_initramfs_tools_add_modules(text, mods);
	free(text);
	return nr_vfio_set_text(vp, "/etc/initramfs-tools/modules", edited,
				"load vfio-pci early in the initramfs (initramfs-tools modules)", err);
}

/* ---- the table ---- */

static const char *const mk_bins[] = { "/usr/bin/mkinitcpio", "/usr/sbin/mkinitcpio", "/bin/mkinitcpio", NULL };
static const char *const mk_confs[] = { MKINITCPIO_CONF, NULL };
static const char *const mk_regen[] = { "mkinitcpio", "-P", NULL };
static const char *const dr_bins[] = { "/usr/bin/dracut", "/usr/sbin/dracut", "/bin/dracut", "/sbin/dracut", NULL };
static const char *const dr_confs[] = { "/etc/dracut.conf", NULL };
static const char *const dr_regen[] = { "dracut", "--regenerate-all", "-f", NULL };
static const char *const it_bins[] = { "/usr/sbin/update-initramfs", "/sbin/update-initramfs",
				       "/usr/bin/update-initramfs", NULL };
static const char *const it_confs[] = { "/etc/initramfs-tools/initramfs.conf", NULL };
static const char *const it_regen[] = { "update-initramfs", "-u", "-k", "all", NULL };

static const struct nr_initramfs mkinitcpio = {
	"mkinitcpio", "mkinitcpio", mk_bins, mk_confs, NULL, mk_regen,
	"rebuild every initramfs (and UKI) of the mkinitcpio presets", true, mkinitcpio_early,
};
static const struct nr_initramfs dracut = {
	"dracut", "dracut", dr_bins, dr_confs, "/etc/dracut.conf.d", dr_regen,
	"rebuild the initramfs of every installed kernel", false, dracut_early,
};
static const struct nr_initramfs initramfs_tools = {
	"initramfs-tools", "update-initramfs", it_bins, it_confs, NULL, it_regen,
	"rebuild the initramfs of every installed kernel", false, tools_early,
};

const struct nr_initramfs *const nr_initramfs_table[] = { &mkinitcpio, &dracut, &initramfs_tools, NULL };

const char *nr_initramfs_name(const struct nr_initramfs *i)
{
	return i ? i->name : "unknown";
}

void nr_initramfs_names(char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; nr_initramfs_table[i] && o < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "", nr_initramfs_table[i]->name);
}
