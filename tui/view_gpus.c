/* The GPUs panel: each GPU with its driver, whether it boots the host, whether it is
 * isolated and why, and its vfio state; the details pane says everything core concluded. */
#include <stdlib.h>
#include <string.h>

#include "tui.h"

const char *tui_gpu_word(const struct nr_scan *scan, const struct nr_gpu *g, enum tui_color *c)
{
	(void)scan;
	if (g->n_groups == 0) {
		*c = TUI_C_FAIL;
		return "NO IOMMU";
	}
	if (!g->isolated) {
		*c = TUI_C_FAIL;
		return "SHARED";
	}
	if (g->boot_vga) {
		*c = TUI_C_WARN;
		return "BOOT GPU";
	}
	*c = TUI_C_OK;
	return "READY";
}

const struct nr_gpu *tui_gpu_of_device(const struct nr_scan *scan, size_t dev)
{
	for (size_t i = 0; i < scan->n_gpus; i++) {
		const struct nr_gpu *g = &scan->gpus[i];
		for (size_t k = 0; k < g->n_set; k++)
			if (g->set[k] == dev)
				return g;
		for (size_t k = 0; k < g->n_functions; k++)
			if (g->functions[k] == dev)
				return g;
	}
	return NULL;
}

void tui_addr_list(const struct nr_scan *scan, const size_t *v, size_t n, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	if (n == 0)
		snprintf(buf, size, "none");
	for (size_t i = 0; i < n && o + 16 < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "",
				      nr_pci_short_addr(&scan->devices[v[i]]));
}

/* Where the GPU's functions are bound now, in words. */
static const char *vfio_state(const struct nr_scan *scan, const struct nr_gpu *g, enum tui_color *c)
{
	size_t vfio = 0;

	for (size_t k = 0; k < g->n_functions; k++) {
		const char *drv = scan->devices[g->functions[k]].driver;
		if (drv && strcmp(drv, "vfio-pci") == 0)
			vfio++;
	}
	if (vfio == g->n_functions) {
		*c = TUI_C_OK;
		return "on vfio-pci";
	}
	if (vfio) {
		*c = TUI_C_WARN;
		return "partly vfio";
	}
	*c = TUI_C_DIM;
	return "host driver";
}

static void gpus_refresh(struct tui *t, struct tui_view *v)
{
	v->n_rows = t->scan ? t->scan->n_gpus : 0;
}

static const char *gpus_header(struct tui *t, struct tui_view *v)
{
	(void)t;
	(void)v;
	return " Address  Verdict   Driver         VFIO         Name";
}

static void gpus_row(struct tui *t, struct tui_view *v, size_t i, int y, int x, int w, bool sel)
{
	const struct nr_gpu *g = &t->scan->gpus[i];
	const struct nr_pci_dev *d = &t->scan->devices[g->dev];
	enum tui_color vc, sc, base = sel ? TUI_C_SELECTED : TUI_C_NORMAL;
	const char *word = tui_gpu_word(t->scan, g, &vc);
	const char *state = vfio_state(t->scan, g, &sc);
	char drv[32];

	(void)v;
	tui_putf(t, y, x, w, base, " %-8s", nr_pci_short_addr(d));
	tui_putf(t, y, x + 10, 9, sel ? base : vc, "%-9s", word);
	tui_clean(t, drv, sizeof(drv), d->driver ? d->driver : "none");
	tui_putf(t, y, x + 20, 14, base, "%-14s", drv);
	tui_putf(t, y, x + 35, 12, sel ? base : sc, "%-12s", state);
	tui_put_clean(t, y, x + 48, w - 48, base, nr_pci_device_name(d));
}

static void gpus_details(struct tui *t, struct tui_view *v, size_t i, int y, int x, int h, int w)
{
	const struct nr_scan *s = t->scan;
	const struct nr_gpu *g = &s->gpus[i];
	const struct nr_pci_dev *d = &s->devices[g->dev];
	enum tui_color vc, sc;
	const char *word = tui_gpu_word(s, g, &vc);
	char *verdict = nr_gpu_verdict(s, g);
	char list[512], name[256], ids[256];
	size_t o = 0;
	int line = 0;

	(void)v;
	tui_clean(t, name, sizeof(name), nr_pci_name(d));
	tui_putf(t, y + line++, x, w, TUI_C_INFO, "GPU %s  %s", d->addr, name);
	tui_putf(t, y + line, x, w, vc, "%s %s: ", vc == TUI_C_OK ? t->g->ok : vc == TUI_C_WARN ? t->g->warn : t->g->fail, word);
	line += tui_wrap(t, y + line, x + (int)strlen(word) + 4, 2, w - (int)strlen(word) - 4, TUI_C_NORMAL,
			 verdict ? verdict : "");
	free(verdict);
	tui_putf(t, y + line++, x, w, TUI_C_NORMAL, "Driver: %-14s  Boot GPU: %s   VFIO: %s",
		 d->driver ? d->driver : "none", g->boot_vga ? "yes (host console)" : "no",
		 vfio_state(s, g, &sc));
	tui_addr_list(s, g->functions, g->n_functions, list, sizeof(list));
	tui_putf(t, y + line++, x, w, TUI_C_NORMAL, "Functions: %s", list);
	o = 0;
	list[0] = '\0';
	for (size_t k = 0; k < g->n_groups && o + 8 < sizeof(list); k++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%d", k ? ", " : "", g->groups[k]);
	o = 0;
	ids[0] = '\0';
	for (size_t k = 0; k < g->n_vfio_ids && o + 12 < sizeof(ids); k++) {
		char b[10];
		o += (size_t)snprintf(ids + o, sizeof(ids) - o, "%s%s", k ? "," : "", nr_vfio_id_str(g->vfio_ids[k], b));
	}
	tui_putf(t, y + line++, x, w, TUI_C_NORMAL, "IOMMU group: %s   vfio ids: %s",
		 g->n_groups ? list : "none", g->n_vfio_ids ? ids : "none");
	if (g->n_blockers && line < h) {
		tui_addr_list(s, g->blockers, g->n_blockers, list, sizeof(list));
		tui_putf(t, y + line++, x, w, TUI_C_FAIL, "%s Blockers (would go to the VM too): %s", t->g->fail, list);
	}
	if (g->n_collisions && line < h) {
		tui_addr_list(s, g->collisions, g->n_collisions, list, sizeof(list));
		tui_putf(t, y + line++, x, w, TUI_C_WARN, "%s Same ids on host devices: %s (bind by address)", t->g->warn, list);
	}
}

static void gpus_status(struct tui *t, struct tui_view *v, char *buf, size_t size)
{
	size_t ready = 0;

	(void)v;
	if (!t->scan) {
		snprintf(buf, size, "no scan: %s", t->scan_err.msg);
		return;
	}
	for (size_t i = 0; i < t->scan->n_gpus; i++) {
		enum tui_color c;
		if (strcmp(tui_gpu_word(t->scan, &t->scan->gpus[i], &c), "READY") == 0)
			ready++;
	}
	snprintf(buf, size, "%zu GPUs, %zu ready for passthrough. F2: set up passthrough", t->scan->n_gpus, ready);
}

const struct tui_view_ops tui_view_gpus_ops = {
	.name = "gpus",
	.title = "GPUs",
	.scope = TUI_SCOPE_LIST,
	.reload = gpus_refresh,
	.header = gpus_header,
	.draw_row = gpus_row,
	.details = gpus_details,
	.status = gpus_status,
};
