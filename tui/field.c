/* A one-line text field: a cursor that Left/Right/Home/End move, typing and erasing at
 * the cursor, and a window that scrolls sideways so that the cursor stays in view ('<'
 * and '>' say there is more text on that side). The active field puts the terminal's
 * cursor on its cursor cell and draws that cell apart (a dump shows it as an attribute). */
#include <string.h>

#include "tui.h"

/* Bytes of the UTF-8 character before / at offset i. */
static size_t prev_char(const char *s, size_t i)
{
	size_t j = i;

	while (j > 0 && ((unsigned char)s[--j] & 0xc0) == 0x80)
		;
	return i - j;
}

static size_t next_char(const char *s, size_t i)
{
	size_t j = i;

	if (!s[j])
		return 0;
	while (s[++j] && ((unsigned char)s[j] & 0xc0) == 0x80)
		;
	return j - i;
}

void tui_field_set(struct tui_field *f, const char *text)
{
	snprintf(f->text, sizeof(f->text), "%s", text ? text : "");
	f->cur = strlen(f->text);
	f->scroll = 0;
}

void tui_field_insert(struct tui_field *f, int ch)
{
	size_t len = strlen(f->text);

	if (ch < 32 || ch > 126 || len + 1 >= sizeof(f->text))
		return;
	memmove(f->text + f->cur + 1, f->text + f->cur, len - f->cur + 1);
	f->text[f->cur++] = (char)ch;
}

int tui_field_action(struct tui_field *f, enum tui_action a)
{
	size_t len = strlen(f->text), n;

	switch (a) {
	case TUI_ACT_FIELD_LEFT:
		f->cur -= prev_char(f->text, f->cur);
		return TUI_HANDLED;
	case TUI_ACT_FIELD_RIGHT:
		f->cur += next_char(f->text, f->cur);
		return TUI_HANDLED;
	case TUI_ACT_FIELD_HOME:
		f->cur = 0;
		return TUI_HANDLED;
	case TUI_ACT_FIELD_END:
		f->cur = len;
		return TUI_HANDLED;
	case TUI_ACT_ERASE:
		n = prev_char(f->text, f->cur);
		memmove(f->text + f->cur - n, f->text + f->cur, len - f->cur + 1);
		f->cur -= n;
		return TUI_HANDLED;
	case TUI_ACT_FIELD_DELETE:
		n = next_char(f->text, f->cur);
		memmove(f->text + f->cur, f->text + f->cur + n, len - f->cur - n + 1);
		return TUI_HANDLED;
	default:
		return TUI_IGNORED;
	}
}

/* Columns of text[from, to). */
static int span_width(const char *s, size_t from, size_t to)
{
	char buf[sizeof(((struct tui_field *)0)->text)];

	memcpy(buf, s + from, to - from);
	buf[to - from] = '\0';
	return tui_text_width(buf);
}

void tui_field_draw(struct tui *t, struct tui_field *f, int y, int x, int w, bool active)
{
	if (f->secret) {
		/* one '*' per byte, which is one per character: only ASCII is typed into a field */
		struct tui_field m = { .cur = f->cur, .scroll = f->scroll };
		memset(m.text, '*', strlen(f->text));
		tui_field_draw(t, &m, y, x, w, active);
		f->scroll = m.scroll;
		return;
	}
	enum tui_color c = active ? TUI_C_FIELD_ACTIVE : TUI_C_FIELD;
	size_t len = strlen(f->text), end;
	char shown[sizeof(f->text)], clean[sizeof(f->text) * 2];
	int inner = w - 2, cx;

	if (inner < 2)
		return;
	if (f->cur > len)
		f->cur = len;
	/* the window: from scroll, keeping the cursor (and one cell for it past the end) in */
	if (f->scroll > f->cur)
		f->scroll = f->cur;
	while (f->scroll < f->cur && span_width(f->text, f->scroll, f->cur) + 1 > inner)
		f->scroll += next_char(f->text, f->scroll);
	end = f->scroll;
	while (end < len && span_width(f->text, f->scroll, end + next_char(f->text, end)) <= inner)
		end += next_char(f->text, end);
	memcpy(shown, f->text + f->scroll, end - f->scroll);
	shown[end - f->scroll] = '\0';
	tui_clean(t, clean, sizeof(clean), shown);
	tui_put(t, y, x, w, c, true, "");
	tui_put(t, y, x, 1, c, false, f->scroll ? "<" : " ");
	tui_put(t, y, x + 1, inner, c, false, clean);
	tui_put(t, y, x + w - 1, 1, c, false, end < len ? ">" : " ");
	if (!active)
		return;
	/* the cursor cell: the character under it (a space past the end), drawn apart */
	cx = x + 1 + span_width(f->text, f->scroll, f->cur);
	{
		char under[8] = " ";
		size_t n = next_char(f->text, f->cur);
		if (n && n < sizeof(under)) {
			memcpy(shown, f->text + f->cur, n);
			shown[n] = '\0';
			tui_clean(t, under, sizeof(under), shown);
		}
		tui_put(t, y, cx, 1, TUI_C_CURSOR, false, under);
	}
	t->cursor_y = y;
	t->cursor_x = cx;
}
