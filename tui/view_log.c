/* The log panel: what commands printed (initramfs and bootloader output, libvirt
 * messages, errors), newest at the bottom; it follows new lines unless scrolled up. */
#include "tui.h"

static void log_refresh(struct tui *t, struct tui_view *v)
{
	size_t n = tui_log_count(t);
	bool follow = v->n_rows == 0 || v->sel + 1 >= v->n_rows;

	v->n_rows = n;
	if (follow && n)
		v->sel = n - 1;
}

static void log_draw(struct tui *t, struct tui_view *v, int y0, int x0, int h, int w)
{
	log_refresh(t, v);
	tui_putf(t, y0, x0, w, TUI_C_HEADER, " Log: %zu line%s (what commands printed; Up/Down/PgUp/PgDn scroll)%*s",
		 v->n_rows, v->n_rows == 1 ? "" : "s", w, "");
	v->list_h = h - 1;
	if (v->sel + 1 < (size_t)(h - 1))
		v->top = 0;
	else
		v->top = v->sel + 2 - (size_t)(h - 1);
	for (int i = 0; i < h - 1; i++) {
		size_t r = v->top + (size_t)i;
		char line[512];

		if (r >= v->n_rows)
			break;
		tui_log_line(t, r, line, sizeof(line));
		tui_put(t, y0 + 1 + i, x0, w, line[0] == '=' ? TUI_C_INFO :
					       (line[0] == 'e' && line[1] == 'r') ? TUI_C_FAIL : TUI_C_NORMAL,
			false, line);
	}
	if (v->n_rows == 0)
		tui_put(t, y0 + 1, x0 + 1, w - 1, TUI_C_DIM, false, "Nothing yet.");
}

static void log_status(struct tui *t, struct tui_view *v, char *buf, size_t size)
{
	(void)t;
	(void)v;
	snprintf(buf, size, "The log keeps the last %d lines. Tab: next panel", TUI_LOG_LINES);
}

const struct tui_view_ops tui_view_log_ops = {
	.name = "log",
	.title = "Log",
	.scope = TUI_SCOPE_LIST,
	.reload = log_refresh,
	.draw = log_draw,
	.status = log_status,
};

/* The same log on top of a wizard (F4 while it runs an operation): Esc goes back. */
static int log_overlay_action(struct tui *t, struct tui_view *v, enum tui_action a)
{
	(void)t;
	(void)v;
	if (a == TUI_ACT_BACK || a == TUI_ACT_PANEL_LOG)
		return TUI_CLOSE;
	return TUI_IGNORED;
}

static void log_overlay_status(struct tui *t, struct tui_view *v, char *buf, size_t size)
{
	(void)t;
	(void)v;
	snprintf(buf, size, "The log, over the wizard. Esc: back to the wizard");
}

const struct tui_view_ops tui_view_log_overlay_ops = {
	.name = "log",
	.title = "Log",
	.scope = TUI_SCOPE_WIZARD,
	.reload = log_refresh,
	.draw = log_draw,
	.action = log_overlay_action,
	.status = log_overlay_status,
};
