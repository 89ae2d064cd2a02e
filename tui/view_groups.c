/* The IOMMU groups panel: a tree of groups and their devices, each group with its verdict
 * in words and colour (an isolated GPU, a GPU that shares its group, host devices). */
#include <stdlib.h>
#include <string.h>

#include "tui.h"

struct groups_row {
	size_t group;           /* index into scan->groups; SIZE_MAX: the no-IOMMU note */
	long dev;               /* index into scan->devices, -1 for the group line */
	bool last;              /* the last device of its group (tree drawing) */
};

struct groups_priv {
	struct groups_row *rows;
};

static void groups_done(struct tui *t, struct tui_view *v)
{
	struct groups_priv *p = v->priv;

	(void)t;
	if (p)
		free(p->rows);
	free(p);
	v->priv = NULL;
}

static void groups_refresh(struct tui *t, struct tui_view *v)
{
	struct groups_priv *p = v->priv;
	const struct nr_scan *s = t->scan;
	size_t n = 0;

	if (!p)
		p = v->priv = tui_xcalloc(1, sizeof(*p));
	free(p->rows);
	p->rows = NULL;
	v->n_rows = 0;
	if (!s)
		return;
	if (!s->iommu) {
		/* no groups: list the devices flat under one note */
		p->rows = tui_xcalloc(s->n_devices + 1, sizeof(*p->rows));
		p->rows[n++] = (struct groups_row){ SIZE_MAX, -1, false };
		for (size_t d = 0; d < s->n_devices; d++)
			p->rows[n++] = (struct groups_row){ SIZE_MAX, (long)d, d + 1 == s->n_devices };
		v->n_rows = n;
		return;
	}
	p->rows = tui_xcalloc(s->n_groups + s->n_devices + 1, sizeof(*p->rows));
	for (size_t gi = 0; gi < s->n_groups; gi++) {
		const struct nr_iommu_group *g = &s->groups[gi];
		p->rows[n++] = (struct groups_row){ gi, -1, false };
		for (size_t k = 0; k < g->n_devices; k++)
			p->rows[n++] = (struct groups_row){ gi, (long)g->devices[k], k + 1 == g->n_devices };
	}
	v->n_rows = n;
}

/* A group's verdict: which GPU it carries and whether that GPU can go alone. */
static const char *group_word(const struct nr_scan *s, const struct nr_iommu_group *g,
			      const struct nr_gpu **gpu_out, enum tui_color *c)
{
	const struct nr_gpu *gpu = NULL;

	for (size_t k = 0; k < g->n_devices && !gpu; k++)
		if (nr_pci_is_gpu(&s->devices[g->devices[k]]))
			gpu = tui_gpu_of_device(s, g->devices[k]);
	if (!gpu)
		for (size_t k = 0; k < g->n_devices && !gpu; k++) {
			const struct nr_gpu *o = tui_gpu_of_device(s, g->devices[k]);
			if (o)
				gpu = o;
		}
	*gpu_out = gpu;
	if (!gpu) {
		bool bridges = true;
		for (size_t k = 0; k < g->n_devices; k++)
			if (!nr_pci_is_bridge(&s->devices[g->devices[k]]))
				bridges = false;
		*c = TUI_C_DIM;
		return bridges ? "bridges" : "host";
	}
	return tui_gpu_word(s, gpu, c);
}

static const char *groups_header(struct tui *t, struct tui_view *v)
{
	(void)t;
	(void)v;
	return " Group / Device    Class  IDs       Driver        Name";
}

static const char *short_class(const struct nr_pci_dev *d)
{
	switch (d->class_id >> 8) {
	case 0x03: return "GPU";
	case 0x04: return "Audio";
	case 0x06: return "Bridge";
	case 0x0c: return "USB";
	case 0x02: return "Net";
	case 0x01: return "Disk";
	default:   return "Other";
	}
}

static void groups_row(struct tui *t, struct tui_view *v, size_t i, int y, int x, int w, bool sel)
{
	struct groups_priv *p = v->priv;
	const struct groups_row *r = &p->rows[i];
	const struct nr_scan *s = t->scan;
	enum tui_color base = sel ? TUI_C_SELECTED : TUI_C_NORMAL;

	if (r->dev < 0) {
		if (r->group == SIZE_MAX) {
			tui_putf(t, y, x, w, sel ? base : TUI_C_FAIL, " %s No IOMMU groups: the IOMMU is off",
				 t->g->fail);
			return;
		}
		const struct nr_iommu_group *g = &s->groups[r->group];
		const struct nr_gpu *gpu;
		enum tui_color c;
		const char *word = group_word(s, g, &gpu, &c);
		int o = tui_putf(t, y, x, w, sel ? base : TUI_C_INFO, " Group %-3d", g->id);
		o += tui_putf(t, y, x + o, w - o, base, " %zu device%s  ", g->n_devices, g->n_devices == 1 ? "" : "s");
		o += tui_put(t, y, x + o, w - o, sel ? base : c, false, word);
		if (gpu)
			tui_putf(t, y, x + o, w - o, base, "  GPU %s", nr_pci_short_addr(&s->devices[gpu->dev]));
		return;
	}
	const struct nr_pci_dev *d = &s->devices[r->dev];
	char drv[32];
	int o = tui_putf(t, y, x, w, sel ? base : TUI_C_FRAME, "  %s", r->last ? t->g->tree_end : t->g->tree_mid);
	tui_putf(t, y, x + o, w - o, base, " %-8s %-6s %04x:%04x ", nr_pci_short_addr(d), short_class(d),
		 d->vendor, d->device);
	tui_clean(t, drv, sizeof(drv), d->driver ? d->driver : "-");
	tui_putf(t, y, x + 34, 14, base, "%-13s", drv);
	tui_put_clean(t, y, x + 48, w - 48, base, nr_pci_device_name(d));
}

static void device_details(struct tui *t, const struct nr_pci_dev *d, int y, int x, int h, int w)
{
	const struct nr_scan *s = t->scan;
	const struct nr_gpu *gpu = tui_gpu_of_device(s, (size_t)(d - s->devices));
	char buf[512];
	int line = 0;

	tui_clean(t, buf, sizeof(buf), nr_pci_name(d));
	tui_putf(t, y + line++, x, w, TUI_C_INFO, "%s  %s", d->addr, buf);
	tui_clean(t, buf, sizeof(buf), nr_pci_class_name(d));
	tui_putf(t, y + line++, x, w, TUI_C_NORMAL, "Class: %s [%04x]   IDs: %04x:%04x   Rev: %02x", buf,
		 d->class_id, d->vendor, d->device, d->revision);
	tui_putf(t, y + line++, x, w, TUI_C_NORMAL, "Driver: %s   driver_override: %s   IOMMU group: %s",
		 d->driver ? d->driver : "none", d->driver_override ? d->driver_override : "none",
		 d->iommu_group >= 0 ? (snprintf(buf, sizeof(buf), "%d", d->iommu_group), buf) : "none");
	if (nr_pci_is_bridge(d) && line < h)
		tui_put(t, y + line++, x, w, TUI_C_DIM, false, "A bridge: stays with the host, gets no vfio id.");
	if (gpu && line < h) {
		const struct nr_pci_dev *gd = &s->devices[gpu->dev];
		bool fn = false;
		for (size_t k = 0; k < gpu->n_functions; k++)
			fn |= gpu->functions[k] == (size_t)(d - s->devices);
		if (gpu->dev == (size_t)(d - s->devices))
			tui_put(t, y + line++, x, w, TUI_C_NORMAL, false, "A GPU: see the GPUs panel (2) for its verdict.");
		else if (fn)
			tui_putf(t, y + line++, x, w, TUI_C_NORMAL, "A function of GPU %s: goes to the VM with it.",
				 nr_pci_short_addr(gd));
		else if (!nr_pci_is_bridge(d))
			tui_putf(t, y + line++, x, w, TUI_C_FAIL, "%s Shares an IOMMU group with GPU %s: it blocks that GPU.",
				 t->g->fail, nr_pci_short_addr(gd));
	}
}

static void groups_details(struct tui *t, struct tui_view *v, size_t i, int y, int x, int h, int w)
{
	struct groups_priv *p = v->priv;
	const struct groups_row *r = &p->rows[i];
	const struct nr_scan *s = t->scan;

	if (r->dev >= 0) {
		device_details(t, &s->devices[r->dev], y, x, h, w);
		return;
	}
	if (r->group == SIZE_MAX) {
		tui_wrap(t, y, x, h, w, TUI_C_NORMAL,
			 "The kernel made no IOMMU groups, so no device can be passed through. Enable "
			 "VT-d / AMD-Vi in the firmware setup and add intel_iommu=on (Intel) or "
			 "amd_iommu=on (AMD) to the kernel command line. The setup wizard (F2) checks this.");
		return;
	}
	const struct nr_iommu_group *g = &s->groups[r->group];
	const struct nr_gpu *gpu;
	enum tui_color c;
	const char *word = group_word(s, g, &gpu, &c);
	char *verdict = gpu ? nr_gpu_verdict(s, gpu) : NULL;
	int line = 0;

	tui_putf(t, y + line++, x, w, TUI_C_INFO, "IOMMU group %d: %zu device%s", g->id, g->n_devices,
		 g->n_devices == 1 ? "" : "s");
	if (gpu) {
		int o = tui_putf(t, y + line, x, w, c, "%s %s ", c == TUI_C_OK ? t->g->ok : c == TUI_C_WARN ? t->g->warn : t->g->fail, word);
		line += tui_wrap(t, y + line, x + o, h - line, w - o, TUI_C_NORMAL, verdict ? verdict : "");
	} else {
		tui_wrap(t, y + line, x, h - line, w, TUI_C_NORMAL,
			 strcmp(word, "bridges") == 0 ? "Only bridges: they stay with the host." :
							"No GPU here: these devices stay with the host.");
	}
	free(verdict);
}

static void groups_status(struct tui *t, struct tui_view *v, char *buf, size_t size)
{
	(void)v;
	if (!t->scan)
		snprintf(buf, size, "no scan: %s", t->scan_err.msg);
	else
		snprintf(buf, size, "%zu IOMMU groups, %zu devices. Enter/arrows: select; F1: help",
			 t->scan->n_groups, t->scan->n_devices);
}

const struct tui_view_ops tui_view_groups_ops = {
	.name = "groups",
	.title = "IOMMU groups",
	.scope = TUI_SCOPE_LIST,
	.reload = groups_refresh,
	.header = groups_header,
	.draw_row = groups_row,
	.details = groups_details,
	.status = groups_status,
	.done = groups_done,
};
