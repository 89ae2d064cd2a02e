/* Drawing helpers: semantic colours per scheme (colour, monochrome), the glyph sets
 * (ASCII, UTF-8), width-aware text output, boxes and word wrapping. */
#include <curses.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "tui.h"
#include "neuron/check.h"
#include "neuron/util.h"

static const struct tui_glyphs glyphs_ascii = {
	.hline = "-", .vline = "|", .tl = "+", .tr = "+", .bl = "+", .br = "+", .ltee = "+", .rtee = "+",
	.tree_mid = "|-", .tree_end = "`-", .tree_pipe = "| ",
	.ok = "+", .warn = "!", .fail = "x", .pointer = ">", .running = ">", .stopped = ".", .bullet = "*",
};

static const struct tui_glyphs glyphs_utf8 = {
	.hline = "\u2500", .vline = "\u2502", .tl = "\u250c", .tr = "\u2510", .bl = "\u2514", .br = "\u2518",
	.ltee = "\u251c", .rtee = "\u2524",
	.tree_mid = "\u251c\u2500", .tree_end = "\u2514\u2500", .tree_pipe = "\u2502 ",
	.ok = "\u2713", .warn = "!", .fail = "\u2717", .pointer = "\u25b6", .running = "\u25b6",
	.stopped = "\u25a0", .bullet = "\u2022",
};

void tui_glyphs_init(struct tui *t)
{
	t->g = t->utf8 && !t->opts.ascii ? &glyphs_utf8 : &glyphs_ascii;
}

/* Each element: foreground, background and extra attributes in colour; attributes alone
 * in monochrome (bold, reverse, dim, underline), like htop's monochrome scheme. */
static const struct {
	short fg, bg;
	int color_attr, mono_attr;
} scheme[TUI_C_COUNT] = {
	[TUI_C_NORMAL]       = { -1, -1, 0, 0 },
	[TUI_C_TITLE]        = { COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE },
	[TUI_C_TAB]          = { COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE },
	[TUI_C_TAB_ACTIVE]   = { COLOR_WHITE, COLOR_BLUE, A_BOLD, A_BOLD },
	[TUI_C_HEADER]       = { COLOR_BLACK, COLOR_GREEN, 0, A_BOLD | A_UNDERLINE },
	[TUI_C_FRAME]        = { COLOR_CYAN, -1, 0, 0 },
	[TUI_C_SELECTED]     = { COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE },
	[TUI_C_OK]           = { COLOR_GREEN, -1, A_BOLD, A_BOLD },
	[TUI_C_WARN]         = { COLOR_YELLOW, -1, A_BOLD, A_BOLD | A_UNDERLINE },
	[TUI_C_FAIL]         = { COLOR_RED, -1, A_BOLD, A_BOLD | A_REVERSE },
	[TUI_C_DIM]          = { -1, -1, A_DIM, A_DIM },
	[TUI_C_INFO]         = { COLOR_CYAN, -1, 0, 0 },
	[TUI_C_FKEY_KEY]     = { COLOR_WHITE, COLOR_BLACK, 0, 0 },
	[TUI_C_FKEY_LABEL]   = { COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE },
	[TUI_C_STATUS]       = { COLOR_YELLOW, -1, 0, A_BOLD },
	[TUI_C_DIALOG]       = { COLOR_BLACK, COLOR_WHITE, 0, A_REVERSE },
	[TUI_C_DIALOG_TITLE] = { COLOR_WHITE, COLOR_RED, A_BOLD, A_BOLD },
	[TUI_C_FIELD]        = { COLOR_WHITE, COLOR_BLUE, 0, A_UNDERLINE },
	[TUI_C_FIELD_ACTIVE] = { COLOR_BLACK, COLOR_YELLOW, 0, A_REVERSE },
	[TUI_C_CURSOR]       = { COLOR_WHITE, COLOR_BLACK, A_BOLD, A_UNDERLINE },
	[TUI_C_DIFF_ADD]     = { COLOR_GREEN, -1, 0, A_BOLD },
	[TUI_C_DIFF_DEL]     = { COLOR_RED, -1, 0, A_DIM },
	[TUI_C_DIFF_HUNK]    = { COLOR_CYAN, -1, 0, A_UNDERLINE },
};

void tui_colors_init(struct tui *t)
{
	t->color = !t->opts.no_color && has_colors() && !(getenv("NO_COLOR") && getenv("NO_COLOR")[0]);
	if (t->color && start_color() == OK) {
		use_default_colors();
		for (int i = 0; i < TUI_C_COUNT; i++) {
			init_pair((short)(i + 1), scheme[i].fg, scheme[i].bg);
			t->attr[i] = COLOR_PAIR(i + 1) | scheme[i].color_attr;
		}
	} else {
		t->color = false;
		for (int i = 0; i < TUI_C_COUNT; i++)
			t->attr[i] = scheme[i].mono_attr;
	}
}

enum tui_color tui_status_color(int s)
{
	return s == NR_CHECK_PASS ? TUI_C_OK : s == NR_CHECK_WARN ? TUI_C_WARN : TUI_C_FAIL;
}

void tui_clean(struct tui *t, char *out, size_t size, const char *in)
{
	nr_text_sanitize(out, size, in, !t->utf8);
}

/* Decode one character of s; its columns in *cols. Returns the bytes used (0 at the end). */
static size_t next_char(const char *s, wchar_t *wc, int *cols)
{
	mbstate_t st;
	size_t n;

	if (!*s)
		return 0;
	memset(&st, 0, sizeof(st));
	n = mbrtowc(wc, s, MB_CUR_MAX, &st);
	if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
		*wc = L'?';
		*cols = 1;
		return 1;
	}
	*cols = wcwidth(*wc);
	if (*cols < 0) {
		*wc = L'?';
		*cols = 1;
	}
	return n;
}

int tui_text_width(const char *s)
{
	wchar_t wc;
	int cols, w = 0;
	size_t n;

	while ((n = next_char(s, &wc, &cols)) > 0) {
		w += cols;
		s += n;
	}
	return w;
}

int tui_put(struct tui *t, int y, int x, int w, enum tui_color c, bool pad, const char *s)
{
	wchar_t buf[512];
	int used = 0, cols;
	size_t nb = 0, n;
	wchar_t wc;

	if (w <= 0 || y < 0 || y >= t->lines || x >= t->cols)
		return 0;
	if (x + w > t->cols)
		w = t->cols - x;
	while (s && (n = next_char(s, &wc, &cols)) > 0 && nb < 511) {
		if (used + cols > w)
			break;
		buf[nb++] = wc;
		used += cols;
		s += n;
	}
	while (pad && used < w && nb < 511) {
		buf[nb++] = L' ';
		used++;
	}
	buf[nb] = 0;
	attrset(t->attr[c]);
	mvaddnwstr(y, x, buf, (int)nb);
	attrset(A_NORMAL);
	return used;
}

int tui_putf(struct tui *t, int y, int x, int w, enum tui_color c, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return tui_put(t, y, x, w, c, false, buf);
}

int tui_put_clean(struct tui *t, int y, int x, int w, enum tui_color c, const char *s)
{
	char buf[1024];

	tui_clean(t, buf, sizeof(buf), s);
	return tui_put(t, y, x, w, c, false, buf);
}

void tui_hline(struct tui *t, int y, int x, int w, enum tui_color c)
{
	for (int i = 0; i < w; i++)
		tui_put(t, y, x + i, 1, c, false, t->g->hline);
}

void tui_fill(struct tui *t, int y, int x, int h, int w, enum tui_color c)
{
	for (int i = 0; i < h; i++)
		tui_put(t, y + i, x, w, c, true, "");
}

void tui_box(struct tui *t, int y, int x, int h, int w, enum tui_color c, const char *title)
{
	if (h < 2 || w < 2)
		return;
	tui_put(t, y, x, 1, c, false, t->g->tl);
	tui_hline(t, y, x + 1, w - 2, c);
	tui_put(t, y, x + w - 1, 1, c, false, t->g->tr);
	for (int i = 1; i < h - 1; i++) {
		tui_put(t, y + i, x, 1, c, false, t->g->vline);
		tui_put(t, y + i, x + w - 1, 1, c, false, t->g->vline);
	}
	tui_put(t, y + h - 1, x, 1, c, false, t->g->bl);
	tui_hline(t, y + h - 1, x + 1, w - 2, c);
	tui_put(t, y + h - 1, x + w - 1, 1, c, false, t->g->br);
	if (title && title[0]) {
		char buf[256];
		snprintf(buf, sizeof(buf), " %s ", title);
		tui_put(t, y, x + 2, w - 4, TUI_C_HEADER, false, buf);
	}
}

int tui_wrap_skip(struct tui *t, int y, int x, int h, int w, enum tui_color c, const char *s, int skip)
{
	int line = 0;

	if (w <= 0)
		return 0;
	while (s && *s) {
		const char *p = s, *brk = NULL;
		int cols = 0, cw;
		wchar_t wc;
		size_t n;

		if (*s == '\n') {
			s++;
			line++; /* an empty line */
			continue;
		}
		while ((n = next_char(p, &wc, &cw)) > 0 && *p != '\n') {
			if (cols + cw > w)
				break;
			if (*p == ' ')
				brk = p;
			cols += cw;
			p += n;
		}
		if (*p && *p != '\n' && brk && brk > s)
			p = brk;
		if (line >= skip && line - skip < h) {
			char buf[1024];
			size_t len = (size_t)(p - s) < sizeof(buf) - 1 ? (size_t)(p - s) : sizeof(buf) - 1;
			memcpy(buf, s, len);
			buf[len] = '\0';
			tui_put(t, y + line - skip, x, w, c, false, buf);
		}
		line++;
		s = p;
		while (*s == ' ')
			s++;
		if (*s == '\n')
			s++;
	}
	return line - skip;
}

int tui_wrap(struct tui *t, int y, int x, int h, int w, enum tui_color c, const char *s)
{
	return tui_wrap_skip(t, y, x, h, w, c, s, 0);
}

void *tui_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p) {
		endwin();
		fputs("neuron-tui: out of memory\n", stderr);
		abort();
	}
	return p;
}

char *tui_xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");

	if (!p) {
		endwin();
		fputs("neuron-tui: out of memory\n", stderr);
		abort();
	}
	return p;
}
