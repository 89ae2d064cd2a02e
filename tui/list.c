/* The generic list every panel uses: a header line, rows with a selection that scrolls,
 * then a separator and the details pane for the selected row. */
#include <curses.h>

#include "tui.h"

static void keep_visible(struct tui_view *v, int h)
{
	if (h < 1)
		h = 1;
	if (v->n_rows == 0) {
		v->sel = v->top = 0;
		return;
	}
	if (v->sel >= v->n_rows)
		v->sel = v->n_rows - 1;
	if (v->sel < v->top)
		v->top = v->sel;
	if (v->sel >= v->top + (size_t)h)
		v->top = v->sel - (size_t)h + 1;
}

void tui_list_draw(struct tui *t, struct tui_view *v, int y0, int x0, int h, int w)
{
	const char *hdr = v->ops->header ? v->ops->header(t, v) : NULL;
	int list_h, det_y, det_h;
	char sep[128];

	/* the list gets about half, the details the rest; at 80x24: 10 rows and 8 lines */
	list_h = (h - 2) / 2 + 1;
	if (list_h > (int)v->n_rows + 1 && v->ops->details)
		list_h = (int)v->n_rows + 1 > 4 ? (int)v->n_rows + 1 : 4;
	if (!v->ops->details)
		list_h = h - 1;
	tui_put(t, y0, x0, w, TUI_C_HEADER, true, hdr ? hdr : "");
	v->list_h = list_h;
	keep_visible(v, list_h);
	for (int i = 0; i < list_h; i++) {
		size_t r = v->top + (size_t)i;
		bool sel = r == v->sel;

		if (r >= v->n_rows)
			break;
		if (sel)
			tui_put(t, y0 + 1 + i, x0, w, TUI_C_SELECTED, true, "");
		v->ops->draw_row(t, v, r, y0 + 1 + i, x0, w, sel);
		/* the selection is also a glyph, not only reverse video */
		if (sel)
			tui_put(t, y0 + 1 + i, x0, 1, TUI_C_SELECTED, false, t->g->pointer);
	}
	if (v->n_rows == 0 && v->ops->details == NULL)
		return;
	if (!v->ops->details)
		return;
	det_y = y0 + 1 + list_h;
	det_h = h - 2 - list_h;
	tui_hline(t, det_y, x0, w, TUI_C_FRAME);
	if (v->n_rows > (size_t)list_h)
		snprintf(sep, sizeof(sep), " Details (%zu/%zu) ", v->sel + 1, v->n_rows);
	else
		snprintf(sep, sizeof(sep), " Details ");
	tui_put(t, det_y, x0 + 2, w - 4, TUI_C_FRAME, false, sep);
	if (v->n_rows)
		v->ops->details(t, v, v->sel, det_y + 1, x0 + 1, det_h, w - 2);
}

int tui_list_action(struct tui *t, struct tui_view *v, enum tui_action a, int page)
{
	size_t p = page > 1 ? (size_t)page - 1 : 1;

	(void)t;
	if (v->n_rows == 0)
		return TUI_HANDLED;
	switch (a) {
	case TUI_ACT_UP:
		if (v->sel > 0)
			v->sel--;
		break;
	case TUI_ACT_DOWN:
		if (v->sel + 1 < v->n_rows)
			v->sel++;
		break;
	case TUI_ACT_PAGE_UP:
		v->sel = v->sel > p ? v->sel - p : 0;
		break;
	case TUI_ACT_PAGE_DOWN:
		v->sel = v->sel + p < v->n_rows ? v->sel + p : v->n_rows - 1;
		break;
	case TUI_ACT_TOP:
		v->sel = 0;
		break;
	case TUI_ACT_BOTTOM:
		v->sel = v->n_rows - 1;
		break;
	default:
		return TUI_IGNORED;
	}
	return TUI_HANDLED | TUI_REDRAW;
}
