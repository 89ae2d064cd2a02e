/* Wizard 1, set up passthrough: the readiness checklist (core's nr_check_run), then the
 * GPU to give the guest, with the reasons for the ones that cannot be picked
 * (nr_gpu_verdict). Later steps (plan, apply, revert) come from core's VFIO plan. */
#include <stdlib.h>
#include <string.h>

#include "tui.h"
#include "neuron/check.h"

enum setup_step { STEP_CHECKLIST, STEP_PICK_GPU, STEP_COUNT };

static const char *const step_titles[STEP_COUNT] = {
	"1 Checklist", "2 GPU",
};

struct setup {
	enum setup_step step;
	struct nr_check check;
	size_t check_sel;
	size_t gpu_sel;
	char gpu_addr[NR_ADDR_LEN];     /* the GPU picked */
};

static struct setup *S(struct tui_view *v)
{
	return v->priv;
}

static bool gpu_pickable(const struct nr_gpu *g)
{
	return g->n_groups > 0 && g->isolated && !g->boot_vga;
}

static void setup_refresh(struct tui *t, struct tui_view *v)
{
	struct setup *s = S(v);

	if (!s) {
		s = v->priv = tui_xcalloc(1, sizeof(*s));
		if (t->scan) {
			const struct nr_gpu *best = nr_scan_best_gpu(t->scan);
			if (best) {
				snprintf(s->gpu_addr, sizeof(s->gpu_addr), "%s", t->scan->devices[best->dev].addr);
				s->gpu_sel = (size_t)(best - t->scan->gpus);
			}
		}
	}
	if (t->scan)
		nr_check_run(t->scan, s->gpu_addr[0] ? s->gpu_addr : NULL, &s->check);
}

static void setup_done(struct tui *t, struct tui_view *v)
{
	(void)t;
	free(v->priv);
	v->priv = NULL;
}

/* The step bar: "1 Checklist > 2 GPU > ..." with the current step marked. */
static void draw_steps(struct tui *t, struct setup *s, int y, int x, int w)
{
	int o = 0;

	tui_put(t, y, x, w, TUI_C_NORMAL, true, "");
	for (int i = 0; i < STEP_COUNT; i++) {
		char buf[48];
		snprintf(buf, sizeof(buf), "%s%s", i ? " > " : " ", step_titles[i]);
		o += tui_put(t, y, x + o, w - o, (int)s->step == i ? TUI_C_TAB_ACTIVE : TUI_C_DIM, false, buf);
	}
}

static const char *status_glyph(struct tui *t, enum nr_check_status st)
{
	return st == NR_CHECK_PASS ? t->g->ok : st == NR_CHECK_WARN ? t->g->warn : t->g->fail;
}

static void draw_checklist(struct tui *t, struct setup *s, int y, int x, int h, int w)
{
	const struct nr_check *c = &s->check;
	const struct nr_check_item *it;
	int line = 0;

	tui_put(t, y + line++, x + 1, w - 1, TUI_C_INFO, false,
		"Readiness checklist: what this machine needs for GPU passthrough.");
	for (size_t i = 0; i < c->n_items && line < h - 5; i++) {
		bool sel = i == s->check_sel;
		enum tui_color base = sel ? TUI_C_SELECTED : TUI_C_NORMAL;

		it = &c->items[i];
		if (sel)
			tui_put(t, y + line, x, w, TUI_C_SELECTED, true, "");
		tui_putf(t, y + line, x + 1, 7, sel ? base : tui_status_color((int)it->status), "%s %s",
			 status_glyph(t, it->status), nr_check_status_name(it->status));
		tui_put(t, y + line, x + 9, 38, base, false, it->title);
		tui_put_clean(t, y + line, x + 48, w - 48, base, it->detail);
		line++;
	}
	line++;
	if (s->check_sel < c->n_items) {
		it = &c->items[s->check_sel];
		char text[1200];
		snprintf(text, sizeof(text), "%s: %s%s%s", it->title, it->detail, it->hint[0] ? ". Next: " : "",
			 it->hint);
		tui_hline(t, y + line - 1, x, w, TUI_C_FRAME);
		tui_wrap(t, y + line, x + 1, h - line - 1, w - 2, TUI_C_NORMAL, text);
	}
	tui_put(t, y + h - 1, x + 1, w - 1, c->blocked ? TUI_C_FAIL : TUI_C_OK, false,
		c->blocked ? "Something FAILs: the line above says how to fix it. Enter: next"
			   : "Ready for passthrough. Enter: pick the GPU for the guest; Esc: leave");
}

static void draw_pick_gpu(struct tui *t, struct setup *s, int y, int x, int h, int w)
{
	const struct nr_scan *sc = t->scan;
	int line = 0;

	tui_put(t, y + line++, x + 1, w - 1, TUI_C_INFO, false, "Which GPU goes to the guest? It leaves the host at the next boot.");
	if (!sc || sc->n_gpus == 0) {
		tui_put(t, y + line, x + 1, w - 1, TUI_C_FAIL, false, "No GPU found (no device of class 03xx).");
		return;
	}
	for (size_t i = 0; i < sc->n_gpus && line < h - 6; i++) {
		const struct nr_gpu *g = &sc->gpus[i];
		const struct nr_pci_dev *d = &sc->devices[g->dev];
		bool sel = i == s->gpu_sel;
		enum tui_color c, base = sel ? TUI_C_SELECTED : TUI_C_NORMAL;
		const char *word = tui_gpu_word(sc, g, &c);

		if (sel)
			tui_put(t, y + line, x, w, TUI_C_SELECTED, true, "");
		tui_putf(t, y + line, x + 1, 3, base, "%s", strcmp(s->gpu_addr, d->addr) == 0 ? t->g->pointer : " ");
		tui_putf(t, y + line, x + 3, 9, base, "%-8s", nr_pci_short_addr(d));
		tui_putf(t, y + line, x + 12, 14, sel ? base : c, "%s %-9s", gpu_pickable(g) ? t->g->ok : t->g->fail, word);
		tui_put_clean(t, y + line, x + 25, w - 25, base, d->name);
		line++;
	}
	line++;
	{
		const struct nr_gpu *g = &sc->gpus[s->gpu_sel];
		char *verdict = nr_gpu_verdict(sc, g);
		char text[1200];

		snprintf(text, sizeof(text), "%s %s: %s", gpu_pickable(g) ? "Can be picked" : "Cannot be picked",
			 nr_pci_short_addr(&sc->devices[g->dev]), verdict ? verdict : "");
		free(verdict);
		tui_hline(t, y + line - 1, x, w, TUI_C_FRAME);
		tui_wrap(t, y + line, x + 1, h - line - 1, w - 2, gpu_pickable(g) ? TUI_C_NORMAL : TUI_C_WARN, text);
	}
	tui_put(t, y + h - 1, x + 1, w - 1, TUI_C_DIM, false, "Up/Down: choose; Enter: pick it and plan; Esc: back");
}

static void setup_draw(struct tui *t, struct tui_view *v, int y0, int x0, int h, int w)
{
	struct setup *s = S(v);

	draw_steps(t, s, y0, x0, w);
	switch (s->step) {
	case STEP_CHECKLIST:
		draw_checklist(t, s, y0 + 1, x0, h - 1, w);
		break;
	case STEP_PICK_GPU:
		draw_pick_gpu(t, s, y0 + 1, x0, h - 1, w);
		break;
	default:
		break;
	}
}

static int pick_gpu(struct tui *t, struct setup *s)
{
	const struct nr_gpu *g = &t->scan->gpus[s->gpu_sel];
	const struct nr_pci_dev *d = &t->scan->devices[g->dev];

	if (!gpu_pickable(g)) {
		char *verdict = nr_gpu_verdict(t->scan, g);
		tui_dialog_info(t, "This GPU cannot be picked", "%s: %s", nr_pci_short_addr(d), verdict ? verdict : "");
		free(verdict);
		return TUI_HANDLED;
	}
	snprintf(s->gpu_addr, sizeof(s->gpu_addr), "%s", d->addr);
	nr_check_run(t->scan, s->gpu_addr, &s->check);
	tui_log(t, "setup: GPU %s picked for the guest", d->addr);
	return TUI_HANDLED;
}

static int setup_action(struct tui *t, struct tui_view *v, enum tui_action a)
{
	struct setup *s = S(v);

	if (!t->scan) {
		if (a == TUI_ACT_BACK)
			return TUI_CLOSE;
		return TUI_IGNORED;
	}
	switch (s->step) {
	case STEP_CHECKLIST:
		switch (a) {
		case TUI_ACT_UP:
			if (s->check_sel)
				s->check_sel--;
			return TUI_HANDLED;
		case TUI_ACT_DOWN:
			if (s->check_sel + 1 < s->check.n_items)
				s->check_sel++;
			return TUI_HANDLED;
		case TUI_ACT_NEXT:
			if (t->scan->n_gpus == 0 || !t->scan->iommu) {
				tui_dialog_info(t, "Not yet", "%s",
						!t->scan->iommu ? "The IOMMU is off: no GPU can be passed through until "
								  "the checklist's IOMMU lines PASS."
								: "This machine has no GPU to give to a guest.");
				return TUI_HANDLED;
			}
			s->step = STEP_PICK_GPU;
			return TUI_HANDLED;
		case TUI_ACT_BACK:
			return TUI_CLOSE;
		default:
			return TUI_IGNORED;
		}
	case STEP_PICK_GPU:
		switch (a) {
		case TUI_ACT_UP:
			if (s->gpu_sel)
				s->gpu_sel--;
			return TUI_HANDLED;
		case TUI_ACT_DOWN:
			if (s->gpu_sel + 1 < t->scan->n_gpus)
				s->gpu_sel++;
			return TUI_HANDLED;
		case TUI_ACT_NEXT:
			return pick_gpu(t, s);
		case TUI_ACT_BACK:
			s->step = STEP_CHECKLIST;
			return TUI_HANDLED;
		default:
			return TUI_IGNORED;
		}
	default:
		return TUI_IGNORED;
	}
}

static void setup_status(struct tui *t, struct tui_view *v, char *buf, size_t size)
{
	(void)t;
	(void)v;
	snprintf(buf, size, "Setup wizard: nothing changes until you confirm the plan. F1: keys");
}

const struct tui_view_ops tui_wizard_setup_ops = {
	.name = "setup",
	.title = "Set up passthrough",
	.scope = TUI_SCOPE_WIZARD,
	.reload = setup_refresh,
	.draw = setup_draw,
	.action = setup_action,
	.status = setup_status,
	.done = setup_done,
};
