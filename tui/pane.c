/* The scrolling text pane: the plan as diffs, the domain XML and the help screen are one
 * widget. The text is held whole (no line limit), each line is sanitised and cut at the
 * width (a diff keeps its shape), and the keys scroll the same way everywhere: the last
 * page ends at the last line. */
#include <stdlib.h>
#include <string.h>

#include "tui.h"

void tui_pane_set(struct tui_pane *p, const char *text)
{
	free(p->text);
	p->text = tui_xstrdup(text ? text : "");
	p->lines = 1;
	for (const char *c = p->text; *c; c++)
		p->lines += *c == '\n' && c[1];
	p->top = 0;
}

void tui_pane_done(struct tui_pane *p)
{
	free(p->text);
	p->text = NULL;
	p->lines = p->top = 0;
}

static size_t last_top(const struct tui_pane *p)
{
	size_t rows = p->rows > 0 ? (size_t)p->rows : 1;

	return p->lines > rows ? p->lines - rows : 0;
}

void tui_pane_draw(struct tui *t, struct tui_pane *p, int y, int x, int h, int w)
{
	const char *c = p->text ? p->text : "";
	size_t ln = 0;

	p->rows = h > 0 ? h : 1;
	if (p->top > last_top(p))
		p->top = last_top(p);
	while (*c && ln < p->top + (size_t)h) {
		size_t n = strcspn(c, "\n");

		if (ln >= p->top) {
			/* the screen is never wider than this; a longer line is cut anyway */
			char line[2048], clean[2048];
			size_t len = n < sizeof(line) - 1 ? n : sizeof(line) - 1;
			memcpy(line, c, len);
			line[len] = '\0';
			tui_clean(t, clean, sizeof(clean), line);
			tui_put(t, y + (int)(ln - p->top), x, w, p->color ? p->color(clean) : TUI_C_NORMAL, false, clean);
		}
		ln++;
		c += n;
		if (*c)
			c++;
	}
}

int tui_pane_action(struct tui_pane *p, enum tui_action a)
{
	size_t page = p->rows > 1 ? (size_t)p->rows - 1 : 1;

	switch (a) {
	case TUI_ACT_UP: case TUI_ACT_PREV_FIELD:
		if (p->top)
			p->top--;
		return TUI_HANDLED;
	case TUI_ACT_DOWN: case TUI_ACT_NEXT_FIELD:
		if (p->top < last_top(p))
			p->top++;
		return TUI_HANDLED;
	case TUI_ACT_PAGE_UP:
		p->top = p->top > page ? p->top - page : 0;
		return TUI_HANDLED;
	case TUI_ACT_PAGE_DOWN:
		p->top = p->top + page < last_top(p) ? p->top + page : last_top(p);
		return TUI_HANDLED;
	case TUI_ACT_TOP:
		p->top = 0;
		return TUI_HANDLED;
	case TUI_ACT_BOTTOM:
		p->top = last_top(p);
		return TUI_HANDLED;
	default:
		return TUI_IGNORED;
	}
}

const char *tui_pane_range(const struct tui_pane *p, char *buf, size_t size)
{
	size_t rows = p->rows > 0 ? (size_t)p->rows : 1;
	size_t end = p->top + rows < p->lines ? p->top + rows : p->lines;

	snprintf(buf, size, "lines %zu-%zu of %zu", p->lines ? p->top + 1 : 0, end, p->lines);
	return buf;
}
