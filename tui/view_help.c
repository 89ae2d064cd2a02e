/* The help screen, generated from the key table: every action with its keys, by scope,
 * in the scrolling text pane. */
#include <stdlib.h>
#include <string.h>

#include "tui.h"
#include "neuron/util.h"

/* Scope titles start at the left edge, action lines are indented. */
static enum tui_color help_color(const char *line)
{
	return line[0] && line[0] != ' ' ? TUI_C_INFO : TUI_C_NORMAL;
}

static void help_text(struct nr_buf *b)
{
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
			if (!titled) {
				nr_buf_printf(b, "%s%s\n", b->len ? "\n" : "", tui_scope_title((enum tui_scope)s));
				titled = true;
			}
			nr_buf_printf(b, "  %-16s %s\n", keys, tui_action_help((enum tui_action)a));
		}
	}
}

static void help_reload(struct tui *t, struct tui_view *v)
{
	struct tui_pane *p = v->priv;
	struct nr_buf b;

	(void)t;
	if (p)
		return;
	p = v->priv = tui_xcalloc(1, sizeof(*p));
	nr_buf_init(&b);
	help_text(&b);
	tui_pane_set(p, b.data);
	p->color = help_color;
	nr_buf_done(&b);
}

static void help_done(struct tui *t, struct tui_view *v)
{
	(void)t;
	if (v->priv)
		tui_pane_done(v->priv);
	free(v->priv);
	v->priv = NULL;
}

static void help_draw(struct tui *t, struct tui_view *v, int y0, int x0, int h, int w)
{
	struct tui_pane *p = v->priv;
	char range[64];

	tui_pane_draw(t, p, y0 + 1, x0 + 1, h - 1, w - 1);
	tui_putf(t, y0, x0, w, TUI_C_HEADER, " Keys (Up/Down scroll, Esc or q closes)  %s%*s",
		 tui_pane_range(p, range, sizeof(range)), w, "");
}

static int help_action(struct tui *t, struct tui_view *v, enum tui_action a)
{
	(void)t;
	if (a == TUI_ACT_BACK || a == TUI_ACT_QUIT || a == TUI_ACT_HELP)
		return TUI_CLOSE;
	tui_pane_action(v->priv, a);
	return TUI_HANDLED;
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
	.reload = help_reload,
	.draw = help_draw,
	.action = help_action,
	.status = help_status,
	.done = help_done,
};
