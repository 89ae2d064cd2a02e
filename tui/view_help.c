/* The help screen, generated from the key table: every action with its keys, by scope. */
#include <string.h>

#include "tui.h"

/* Rows: a scope title, or an action line. Built on the fly from tui_keys[]. */
static size_t help_lines(char lines[][160], size_t max, enum tui_color *colors)
{
	size_t n = 0;

	for (int s = 0; s < TUI_SCOPE_COUNT; s++) {
		bool titled = false;

		for (int a = 1; a < TUI_ACT_COUNT; a++) {
			char keys[48] = "";
			size_t o = 0;

			if (tui_action_scope((enum tui_action)a) != (enum tui_scope)s)
				continue;
			for (size_t i = 0; i < tui_n_keys; i++) {
				if (tui_keys[i].action != (enum tui_action)a)
					continue;
				/* "Enter" twice (KEY_ENTER and newline) shows once */
				if (strstr(keys, tui_keys[i].name) && strlen(tui_keys[i].name) > 1)
					continue;
				o += (size_t)snprintf(keys + o, sizeof(keys) - o, "%s%s", o ? " " : "", tui_keys[i].name);
			}
			if (!titled && n < max) {
				if (n && n < max) {
					lines[n][0] = '\0';
					colors[n++] = TUI_C_NORMAL;
				}
				snprintf(lines[n], 160, "%s", tui_scope_title((enum tui_scope)s));
				colors[n++] = TUI_C_INFO;
				titled = true;
			}
			if (n < max) {
				snprintf(lines[n], 160, "  %-16s %s", keys, tui_action_help((enum tui_action)a));
				colors[n++] = TUI_C_NORMAL;
			}
		}
	}
	return n;
}

static void help_draw(struct tui *t, struct tui_view *v, int y0, int x0, int h, int w)
{
	static char lines[128][160];
	enum tui_color colors[128];
	size_t n = help_lines(lines, 128, colors);
	int rows = h - 1;

	v->n_rows = n;
	v->list_h = rows;
	if (n > (size_t)rows && v->top > n - (size_t)rows)
		v->top = n - (size_t)rows;
	if (n <= (size_t)rows)
		v->top = 0;
	tui_putf(t, y0, x0, w, TUI_C_HEADER, " Keys (Up/Down scroll, Esc or q closes)  %zu-%zu of %zu%*s",
		 v->top + 1, v->top + (size_t)rows < n ? v->top + (size_t)rows : n, n, w, "");
	for (int i = 0; i < rows && v->top + (size_t)i < n; i++)
		tui_put(t, y0 + 1 + i, x0 + 1, w - 1, colors[v->top + (size_t)i], false, lines[v->top + (size_t)i]);
}

static int help_action(struct tui *t, struct tui_view *v, enum tui_action a)
{
	(void)t;
	switch (a) {
	case TUI_ACT_UP: case TUI_ACT_PREV_FIELD:
		if (v->top)
			v->top--;
		return TUI_HANDLED;
	case TUI_ACT_DOWN: case TUI_ACT_NEXT_FIELD:
		if (v->top + (size_t)v->list_h < v->n_rows)
			v->top++;
		return TUI_HANDLED;
	case TUI_ACT_PAGE_UP:
		v->top = v->top > (size_t)v->list_h ? v->top - (size_t)v->list_h : 0;
		return TUI_HANDLED;
	case TUI_ACT_PAGE_DOWN:
		v->top += (size_t)v->list_h;
		return TUI_HANDLED;
	case TUI_ACT_TOP:
		v->top = 0;
		return TUI_HANDLED;
	case TUI_ACT_BOTTOM:
		v->top = v->n_rows;
		return TUI_HANDLED;
	case TUI_ACT_BACK: case TUI_ACT_QUIT: case TUI_ACT_HELP:
		return TUI_CLOSE;
	default:
		return TUI_HANDLED;
	}
}

static void help_status(struct tui *t, struct tui_view *v, char *buf, size_t size)
{
	(void)t;
	(void)v;
	snprintf(buf, size, "Generated from the key table. Esc: close");
}

const struct tui_view_ops tui_view_help_ops = {
	.name = "help",
	.title = "Help",
	.scope = TUI_SCOPE_WIZARD,
	.draw = help_draw,
	.action = help_action,
	.status = help_status,
};
