/* The one key table: keys -> actions. The help screen and the F-key bar are generated
 * from it, and a self-test (neuron-tui --self-test, run by tests/tui) rejects duplicate
 * keys and actions without help or without a key. */
#include <curses.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"

#define CTRL(c) ((c) & 0x1f)

static const struct {
	const char *name, *help;
	enum tui_scope scope;
} actions[TUI_ACT_COUNT] = {
	[TUI_ACT_NONE] = { "none", NULL, TUI_SCOPE_GLOBAL },
#define TUI_ACT_ROW(id, scope, help) [TUI_ACT_##id] = { #id, help, TUI_SCOPE_##scope },
	TUI_ACTIONS(TUI_ACT_ROW)
#undef TUI_ACT_ROW
};

static const char *const scope_titles[] = {
#define TUI_SCOPE_ROW(id, title) title,
	TUI_SCOPES(TUI_SCOPE_ROW)
#undef TUI_SCOPE_ROW
};

/* Order matters for the help screen and the F-key bar (F-keys left to right). */
const struct tui_key tui_keys[] = {
	{ KEY_F(1),    "F1",    TUI_ACT_HELP,        "Help" },
	{ '?',         "?",     TUI_ACT_HELP,        NULL },
	{ KEY_F(2),    "F2",    TUI_ACT_SETUP,       "Setup" },
	{ 'w',         "w",     TUI_ACT_SETUP,       NULL },
	{ KEY_F(3),    "F3",    TUI_ACT_NEW_VM,      "NewVM" },
	{ 'n',         "n",     TUI_ACT_NEW_VM,      NULL },
	{ KEY_F(4),    "F4",    TUI_ACT_PANEL_LOG,   "Log" },
	{ 'L',         "L",     TUI_ACT_PANEL_LOG,   NULL },
	{ KEY_F(5),    "F5",    TUI_ACT_RESCAN,      "Rescan" },
	{ CTRL('r'),   "^R",    TUI_ACT_RESCAN,      NULL },
	{ KEY_F(8),    "F8",    TUI_ACT_REVERT,      "Revert" },
	{ KEY_F(9),    "F9",    TUI_ACT_VM_DELETE,   "Delete" },
	{ KEY_DC,      "Del",   TUI_ACT_VM_DELETE,   NULL },
	{ KEY_F(10),   "F10",   TUI_ACT_QUIT,        "Quit" },
	{ 'q',         "q",     TUI_ACT_QUIT,        NULL },
	{ CTRL('c'),   "^C",    TUI_ACT_QUIT,        NULL },
	{ '\t',        "Tab",   TUI_ACT_NEXT_PANEL,  NULL },
	{ KEY_BTAB,    "S-Tab", TUI_ACT_PREV_PANEL,  NULL },
	{ '1',         "1",     TUI_ACT_PANEL_1,     NULL },
	{ '2',         "2",     TUI_ACT_PANEL_2,     NULL },
	{ '3',         "3",     TUI_ACT_PANEL_3,     NULL },
	{ '4',         "4",     TUI_ACT_PANEL_4,     NULL },
	{ KEY_UP,      "Up",    TUI_ACT_UP,          NULL },
	{ 'k',         "k",     TUI_ACT_UP,          NULL },
	{ KEY_DOWN,    "Down",  TUI_ACT_DOWN,        NULL },
	{ 'j',         "j",     TUI_ACT_DOWN,        NULL },
	{ KEY_PPAGE,   "PgUp",  TUI_ACT_PAGE_UP,     NULL },
	{ KEY_NPAGE,   "PgDn",  TUI_ACT_PAGE_DOWN,   NULL },
	{ KEY_HOME,    "Home",  TUI_ACT_TOP,         NULL },
	{ 'g',         "g",     TUI_ACT_TOP,         NULL },
	{ KEY_END,     "End",   TUI_ACT_BOTTOM,      NULL },
	{ 'G',         "G",     TUI_ACT_BOTTOM,      NULL },
	{ 's',         "s",     TUI_ACT_VM_START,    NULL },
	{ 'd',         "d",     TUI_ACT_VM_SHUTDOWN, NULL },
	{ 'F',         "F",     TUI_ACT_VM_FORCEOFF, NULL },
	{ 'o',         "o",     TUI_ACT_VM_LG,       NULL },
	{ 'b',         "b",     TUI_ACT_VM_BIND,     NULL },
	{ 'u',         "u",     TUI_ACT_VM_UNBIND,   NULL },
	{ '\n',        "Enter", TUI_ACT_NEXT,        NULL },
	{ '\n',        "Enter", TUI_ACT_OPEN,        NULL },
	{ KEY_ENTER,   "Enter", TUI_ACT_OPEN,        NULL },
	{ '\n',        "Enter", TUI_ACT_APP_LAUNCH,  NULL },
	{ KEY_ENTER,   "Enter", TUI_ACT_APP_LAUNCH,  NULL },
	{ 'i',         "i",     TUI_ACT_APP_INSTALL, NULL },
	{ 'x',         "x",     TUI_ACT_APP_UNINSTALL, NULL },
	{ 27,          "Esc",   TUI_ACT_APP_CLOSE,   NULL },
	{ 'f',         "f",     TUI_ACT_FINISH,      NULL },
	{ 'r',         "r",     TUI_ACT_ROLLBACK,    NULL },
	{ KEY_ENTER,   "Enter", TUI_ACT_NEXT,        NULL },
	{ 27,          "Esc",   TUI_ACT_BACK,        NULL },
	{ KEY_LEFT,    "Left",  TUI_ACT_BACK,        NULL },
	{ KEY_RIGHT,   "Right", TUI_ACT_NEXT,        NULL },
	{ KEY_DOWN,    "Down",  TUI_ACT_NEXT_FIELD,  NULL },
	{ KEY_UP,      "Up",    TUI_ACT_PREV_FIELD,  NULL },
	{ KEY_LEFT,    "Left",  TUI_ACT_FIELD_LEFT,  NULL },
	{ KEY_RIGHT,   "Right", TUI_ACT_FIELD_RIGHT, NULL },
	{ KEY_HOME,    "Home",  TUI_ACT_FIELD_HOME,  NULL },
	{ CTRL('a'),   "^A",    TUI_ACT_FIELD_HOME,  NULL },
	{ KEY_END,     "End",   TUI_ACT_FIELD_END,   NULL },
	{ CTRL('e'),   "^E",    TUI_ACT_FIELD_END,   NULL },
	{ KEY_DC,      "Del",   TUI_ACT_FIELD_DELETE, NULL },
	{ KEY_BACKSPACE, "BkSp", TUI_ACT_ERASE,      NULL },
	{ 127,         "BkSp",  TUI_ACT_ERASE,       NULL },
	{ 8,           "^H",    TUI_ACT_ERASE,       NULL },
	{ 'y',         "y",     TUI_ACT_YES,         NULL },
	{ '\n',        "Enter", TUI_ACT_YES,         NULL },
	{ 'n',         "n",     TUI_ACT_NO,          NULL },
	{ 27,          "Esc",   TUI_ACT_NO,          NULL },
};
const size_t tui_n_keys = sizeof(tui_keys) / sizeof(tui_keys[0]);

const char *tui_action_help(enum tui_action a)
{
	return a > 0 && a < TUI_ACT_COUNT ? actions[a].help : NULL;
}

const char *tui_action_name(enum tui_action a)
{
	return a >= 0 && a < TUI_ACT_COUNT ? actions[a].name : "?";
}

enum tui_scope tui_action_scope(enum tui_action a)
{
	return a > 0 && a < TUI_ACT_COUNT ? actions[a].scope : TUI_SCOPE_GLOBAL;
}

const char *tui_scope_title(enum tui_scope s)
{
	return s < TUI_SCOPE_COUNT ? scope_titles[s] : "?";
}

/* scopes[] is searched in order: a view's own scope shadows LIST, which shadows GLOBAL. */
enum tui_action tui_key_action(int key, const enum tui_scope *scopes, size_t n_scopes)
{
	for (size_t s = 0; s < n_scopes; s++)
		for (size_t i = 0; i < tui_n_keys; i++)
			if (tui_keys[i].key == key && actions[tui_keys[i].action].scope == scopes[s])
				return tui_keys[i].action;
	return TUI_ACT_NONE;
}

/* Scopes that are live at the same time, and so cannot share a key:
 * GLOBAL with everything; LIST with VMS (a panel). A wizard or form key may shadow a
 * LIST key on purpose (Up/Down move between fields), and a form key a wizard key
 * (Left/Right move the cursor in a field, where elsewhere they step). */
static bool scopes_overlap(enum tui_scope a, enum tui_scope b)
{
	/* a dialog takes every key while it is open */
	if (a == TUI_SCOPE_DIALOG || b == TUI_SCOPE_DIALOG)
		return a == b;
	if (a == b || a == TUI_SCOPE_GLOBAL || b == TUI_SCOPE_GLOBAL)
		return true;
	if ((a == TUI_SCOPE_LIST && b == TUI_SCOPE_VMS) || (a == TUI_SCOPE_VMS && b == TUI_SCOPE_LIST))
		return true;
	return false;
}

int tui_keys_self_test(FILE *f)
{
	int bad = 0;
	bool has_key[TUI_ACT_COUNT] = { false };

	for (size_t i = 0; i < tui_n_keys; i++) {
		const struct tui_key *k = &tui_keys[i];

		if (k->action <= TUI_ACT_NONE || k->action >= TUI_ACT_COUNT) {
			fprintf(f, "key %s: no action\n", k->name);
			bad++;
			continue;
		}
		has_key[k->action] = true;
		if (!k->name || !k->name[0]) {
			fprintf(f, "key %d: no name for the help screen\n", k->key);
			bad++;
		}
		if (k->fkey_label && (k->key < KEY_F(1) || k->key > KEY_F(12))) {
			fprintf(f, "key %s: an F-key bar label on a key that is not an F-key\n", k->name);
			bad++;
		}
		for (size_t j = 0; j < i; j++) {
			const struct tui_key *o = &tui_keys[j];
			if (o->key == k->key && o->action != k->action &&
			    scopes_overlap(actions[o->action].scope, actions[k->action].scope)) {
				fprintf(f, "key %s: bound to both %s and %s\n", k->name,
					actions[o->action].name, actions[k->action].name);
				bad++;
			}
			if (o->key == k->key && o->action == k->action) {
				fprintf(f, "key %s: listed twice for %s\n", k->name, actions[k->action].name);
				bad++;
			}
		}
	}
	for (int a = 1; a < TUI_ACT_COUNT; a++) {
		if (!actions[a].help || !actions[a].help[0]) {
			fprintf(f, "action %s: no help text\n", actions[a].name);
			bad++;
		}
		if (!has_key[a]) {
			fprintf(f, "action %s: no key\n", actions[a].name);
			bad++;
		}
	}
	return bad;
}

static const struct {
	const char *name;
	int key;
} named_keys[] = {
	{ "Up", KEY_UP }, { "Down", KEY_DOWN }, { "Left", KEY_LEFT }, { "Right", KEY_RIGHT },
	{ "PgUp", KEY_PPAGE }, { "PgDn", KEY_NPAGE }, { "Home", KEY_HOME }, { "End", KEY_END },
	{ "Enter", '\n' }, { "Esc", 27 }, { "Tab", '\t' }, { "S-Tab", KEY_BTAB },
	{ "BkSp", KEY_BACKSPACE }, { "Space", ' ' }, { "Del", KEY_DC },
};

int tui_key_parse(const char *name)
{
	if (!name || !name[0])
		return -1;
	if (name[1] == '\0')
		return (unsigned char)name[0];
	if (name[0] == '^' && name[2] == '\0')
		return CTRL(name[1]);
	if (name[0] == 'F' && name[1] >= '0' && name[1] <= '9') {
		int n = atoi(name + 1);
		return n >= 1 && n <= 12 ? KEY_F(n) : -1;
	}
	for (size_t i = 0; i < sizeof(named_keys) / sizeof(named_keys[0]); i++)
		if (strcmp(named_keys[i].name, name) == 0)
			return named_keys[i].key;
	return -1;
}
