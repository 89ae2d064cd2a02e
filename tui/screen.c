/* The one loop: focus, resize, the title bar with the panel tabs, the status line, the
 * F-key bar (generated from the key table), dialogs, and overlays (wizards, help). Like
 * htop's ScreenManager, it maps keys to actions and lets the focused view answer. */
#include <curses.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui.h"

static struct tui_view *top_view(struct tui *t)
{
	return t->n_overlays ? &t->overlays[t->n_overlays - 1] : &t->views[t->focus];
}

void tui_set_status(struct tui *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->status, sizeof(t->status), fmt, ap);
	va_end(ap);
}

static void dialog_set(struct tui *t, enum tui_dialog_kind kind, const char *title, const char *text)
{
	if (t->dialog.free_opaque)
		t->dialog.free_opaque(t->dialog.opaque);
	t->dialog.free_opaque = NULL;
	t->dialog.kind = kind;
	snprintf(t->dialog.title, sizeof(t->dialog.title), "%s", title);
	tui_clean(t, t->dialog.text, sizeof(t->dialog.text), text);
	/* keep line breaks the caller meant: sanitising turned them into '?' */
	for (size_t i = 0; text[i] && i < sizeof(t->dialog.text) - 1; i++)
		if (text[i] == '\n' && t->dialog.text[i] == '?')
			t->dialog.text[i] = '\n';
	t->dialog.on_yes = NULL;
	t->dialog.opaque = NULL;
}

void tui_dialog_info(struct tui *t, const char *title, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	dialog_set(t, TUI_DLG_INFO, title, buf);
}

void tui_dialog_error(struct tui *t, const char *title, const struct nr_error *err)
{
	const char *msg = err && err->msg[0] ? err->msg : nr_strerror(err ? err->code : -NR_E_INVAL);

	dialog_set(t, TUI_DLG_ERROR, title, msg);
	tui_log(t, "error: %s: %s", title, msg);
}

void tui_dialog_confirm(struct tui *t, const char *title, tui_confirm_fn on_yes, void *opaque,
			const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	dialog_set(t, TUI_DLG_CONFIRM, title, buf);
	t->dialog.on_yes = on_yes;
	t->dialog.opaque = opaque;
}

void tui_open_overlay(struct tui *t, const struct tui_view_ops *ops)
{
	struct tui_view *v;

	if (t->n_overlays >= sizeof(t->overlays) / sizeof(t->overlays[0]))
		return;
	v = &t->overlays[t->n_overlays++];
	memset(v, 0, sizeof(*v));
	v->ops = ops;
	v->form_scope = TUI_SCOPE_COUNT;
	if (ops->reload)
		ops->reload(t, v);
}

void tui_close_overlay(struct tui *t)
{
	struct tui_view *v;

	if (!t->n_overlays)
		return;
	v = &t->overlays[--t->n_overlays];
	if (v->ops->done)
		v->ops->done(t, v);
	memset(v, 0, sizeof(*v));
}

void tui_focus_view(struct tui *t, const char *name)
{
	for (size_t i = 0; i < t->n_views; i++)
		if (strcmp(t->views[i].ops->name, name) == 0)
			t->focus = i;
}

void tui_refresh_views(struct tui *t)
{
	for (size_t i = 0; i < t->n_views; i++)
		if (t->views[i].ops->reload)
			t->views[i].ops->reload(t, &t->views[i]);
}

int tui_rescan(struct tui *t)
{
	struct nr_scan *scan = NULL;
	int rc;

	nr_error_clear(&t->scan_err);
	rc = nr_scan_new(t->ctx, &scan, &t->scan_err);
	if (rc < 0) {
		tui_log(t, "scan failed: %s", t->scan_err.msg);
	} else {
		nr_scan_free(t->scan);
		t->scan = scan;
		tui_log(t, "scanned %s: %zu devices, %zu IOMMU groups, %zu GPUs",
			t->opts.demo ? "the demo machine" : nr_ctx_get(t->ctx, "sysroot"),
			scan->n_devices, scan->n_groups, scan->n_gpus);
	}
	tui_refresh_views(t);
	for (size_t i = 0; i < t->n_overlays; i++)
		if (t->overlays[i].ops->reload)
			t->overlays[i].ops->reload(t, &t->overlays[i]);
	/* the VMs too, or a new connection when libvirt was not answering */
	tui_virt_refresh(t);
	return rc;
}

/* ---- drawing ---- */

static void draw_title(struct tui *t)
{
	int x = 0;
	const char *mode = t->opts.demo ? " DEMO " : "";

	tui_put(t, 0, 0, t->cols, TUI_C_TITLE, true, "");
	x += tui_put(t, 0, 0, t->cols, TUI_C_TITLE, false, " NeuronOS ");
	for (size_t i = 0; i < t->n_views; i++) {
		char buf[48];
		bool active = !t->n_overlays && i == t->focus;

		if (i + 1 < t->n_views)
			snprintf(buf, sizeof(buf), " %zu %s ", i + 1, t->views[i].ops->title);
		else
			snprintf(buf, sizeof(buf), " F4 %s ", t->views[i].ops->title);
		x += tui_put(t, 0, x, t->cols - x, active ? TUI_C_TAB_ACTIVE : TUI_C_TAB, false, buf);
	}
	if (t->n_overlays) {
		char buf[64];
		snprintf(buf, sizeof(buf), " %s ", top_view(t)->ops->title);
		int w = tui_text_width(buf);
		if (x + w + 1 < t->cols)
			tui_put(t, 0, t->cols - w - (int)strlen(mode), w, TUI_C_TAB_ACTIVE, false, buf);
	}
	if (mode[0])
		tui_put(t, 0, t->cols - (int)strlen(mode), (int)strlen(mode), TUI_C_WARN, false, mode);
}

/* htop's function bar: "F1Help  F2Setup ..." from the key table's labels. */
static void draw_fkeys(struct tui *t)
{
	int y = t->lines - 1, x = 0;

	tui_put(t, y, 0, t->cols, TUI_C_FKEY_LABEL, true, "");
	for (size_t i = 0; i < tui_n_keys && x < t->cols; i++) {
		const struct tui_key *k = &tui_keys[i];
		char label[16];

		if (!k->fkey_label)
			continue;
		/* over a wizard only these work: the bar shows no key that would be refused */
		if (t->n_overlays && k->action != TUI_ACT_HELP && k->action != TUI_ACT_QUIT &&
		    k->action != TUI_ACT_PANEL_LOG)
			continue;
		/* a panel's own F-key only on that panel (F9 Delete on the VMs) */
		if (tui_action_scope(k->action) != TUI_SCOPE_GLOBAL &&
		    tui_action_scope(k->action) != top_view(t)->ops->scope)
			continue;
		x += tui_put(t, y, x, t->cols - x, TUI_C_FKEY_KEY, false, k->name);
		snprintf(label, sizeof(label), "%-7s", k->fkey_label);
		x += tui_put(t, y, x, t->cols - x, TUI_C_FKEY_LABEL, false, label);
	}
}

static void draw_status(struct tui *t)
{
	struct tui_view *v = top_view(t);
	char buf[512] = "";
	int y = t->lines - 2;

	tui_put(t, y, 0, t->cols, TUI_C_NORMAL, true, "");
	if (tui_job_running(t)) {
		snprintf(buf, sizeof(buf), "%s %s ... (F4: log)", t->g->running, tui_job_title(t));
		tui_put(t, y, 0, t->cols, TUI_C_STATUS, false, buf);
		return;
	}
	if (t->status[0]) {
		tui_put(t, y, 0, t->cols, TUI_C_STATUS, false, t->status);
		return;
	}
	if (v->ops->status)
		v->ops->status(t, v, buf, sizeof(buf));
	tui_put(t, y, 0, t->cols, TUI_C_DIM, false, buf);
}

static void draw_dialog(struct tui *t)
{
	int w = t->cols - 8 < 70 ? t->cols - 8 : 70, h, y, x;
	const char *buttons;
	enum tui_color tc;
	int lines;

	if (w < 20)
		w = t->cols;
	lines = tui_wrap(t, 0, 0, 0, w - 4, TUI_C_DIALOG, t->dialog.text);
	if (lines > t->lines - 8)
		lines = t->lines - 8;
	if (lines < 1)
		lines = 1;
	h = lines + 4;
	y = (t->lines - h) / 2;
	x = (t->cols - w) / 2;
	tui_fill(t, y, x, h, w, TUI_C_DIALOG);
	tui_box(t, y, x, h, w, TUI_C_DIALOG, NULL);
	tc = t->dialog.kind == TUI_DLG_ERROR ? TUI_C_DIALOG_TITLE : TUI_C_DIALOG;
	{
		char title[96];
		snprintf(title, sizeof(title), " %s%s ", t->dialog.kind == TUI_DLG_ERROR ? "Error: " : "",
			 t->dialog.title);
		tui_put(t, y, x + 2, w - 4, tc, false, title);
	}
	tui_wrap(t, y + 1, x + 2, lines, w - 4, TUI_C_DIALOG, t->dialog.text);
	buttons = t->dialog.kind == TUI_DLG_CONFIRM ? "[Enter/y] Yes    [Esc/n] No" : "[Enter] OK";
	tui_put(t, y + h - 2, x + (w - (int)strlen(buttons)) / 2, w - 2, TUI_C_DIALOG, false, buttons);
}

void tui_redraw(struct tui *t)
{
	struct tui_view *v = top_view(t);
	int body_h;

	getmaxyx(stdscr, t->lines, t->cols);
	erase();
	t->cursor_y = t->cursor_x = -1;
	if (t->lines < 10 || t->cols < 40) {
		tui_put(t, 0, 0, t->cols, TUI_C_WARN, false, "Terminal too small:");
		tui_put(t, 1, 0, t->cols, TUI_C_WARN, false, "40x10 at least.");
		refresh();
		return;
	}
	body_h = t->lines - 3;
	draw_title(t);
	if (v->ops->draw)
		v->ops->draw(t, v, 1, 0, body_h, t->cols);
	else
		tui_list_draw(t, v, 1, 0, body_h, t->cols);
	draw_status(t);
	draw_fkeys(t);
	if (t->dialog.kind != TUI_DLG_NONE) {
		draw_dialog(t);
		t->cursor_y = -1;
	}
	/* the terminal's cursor where a field is edited, else hidden in the corner */
	if (t->cursor_y >= 0) {
		move(t->cursor_y, t->cursor_x);
		curs_set(1);
	} else {
		move(t->lines - 1, t->cols - 1);
		curs_set(0);
	}
	refresh();
}

/* ---- keys ---- */

static int apply_flags(struct tui *t, int flags)
{
	if (flags & TUI_CLOSE)
		tui_close_overlay(t);
	if (flags & TUI_RESCAN)
		tui_rescan(t);
	return flags;
}

static int quit_now(struct tui *t, void *opaque)
{
	(void)t;
	(void)opaque;
	return TUI_QUIT;
}

static int global_action(struct tui *t, enum tui_action a)
{
	bool wizard = t->n_overlays > 0;

	switch (a) {
	case TUI_ACT_HELP:
		if (!(t->n_overlays && top_view(t)->ops == &tui_view_help_ops))
			tui_open_overlay(t, &tui_view_help_ops);
		return TUI_REDRAW;
	case TUI_ACT_QUIT:
		if (tui_job_running(t)) {
			tui_dialog_confirm(t, "Quit", quit_now, NULL,
					   "'%s' is still running. Quit anyway? The operation keeps its "
					   "journal, so the setup wizard can finish or roll it back later.",
					   tui_job_title(t));
			return TUI_REDRAW;
		}
		return TUI_QUIT;
	case TUI_ACT_PANEL_LOG:
		if (wizard) {
			if (top_view(t)->ops != &tui_view_log_overlay_ops)
				tui_open_overlay(t, &tui_view_log_overlay_ops);
			return TUI_REDRAW;
		}
		break;
	default:
		break;
	}
	if (wizard) {
		tui_set_status(t, "Leave the wizard first (Esc), or F1 for help.");
		return TUI_REDRAW;
	}
	switch (a) {
	case TUI_ACT_NEXT_PANEL:
		t->focus = (t->focus + 1) % t->n_views;
		return TUI_REDRAW;
	case TUI_ACT_PREV_PANEL:
		t->focus = (t->focus + t->n_views - 1) % t->n_views;
		return TUI_REDRAW;
	case TUI_ACT_PANEL_1: case TUI_ACT_PANEL_2: case TUI_ACT_PANEL_3: case TUI_ACT_PANEL_4:
		if ((size_t)(a - TUI_ACT_PANEL_1) + 1 < t->n_views)
			t->focus = (size_t)(a - TUI_ACT_PANEL_1);
		return TUI_REDRAW;
	case TUI_ACT_PANEL_LOG:
		tui_focus_view(t, "log");
		return TUI_REDRAW;
	case TUI_ACT_SETUP:
		tui_open_overlay(t, &tui_wizard_setup_ops);
		return TUI_REDRAW;
	case TUI_ACT_NEW_VM:
		tui_open_overlay(t, &tui_wizard_vm_ops);
		return TUI_REDRAW;
	case TUI_ACT_REVERT:
		/* the setup wizard owns revert: it opens on its revert page */
		tui_open_overlay(t, &tui_wizard_setup_ops);
		return top_view(t)->ops->action(t, top_view(t), TUI_ACT_REVERT) | TUI_REDRAW;
	case TUI_ACT_RESCAN:
		return TUI_RESCAN | TUI_REDRAW;
	default:
		return TUI_IGNORED;
	}
}

static int dialog_key(struct tui *t, int key)
{
	enum tui_scope scope = TUI_SCOPE_DIALOG;
	enum tui_action a = tui_key_action(key, &scope, 1);
	tui_confirm_fn fn = t->dialog.on_yes;
	void *opaque = t->dialog.opaque;
	bool confirm = t->dialog.kind == TUI_DLG_CONFIRM;

	if (a != TUI_ACT_YES && a != TUI_ACT_NO)
		return TUI_HANDLED;
	t->dialog.kind = TUI_DLG_NONE;
	t->dialog.on_yes = NULL;
	t->dialog.opaque = NULL;
	if (a == TUI_ACT_YES && confirm && fn) {
		t->dialog.free_opaque = NULL;
		return apply_flags(t, fn(t, opaque)) | TUI_REDRAW;
	}
	if (t->dialog.free_opaque)
		t->dialog.free_opaque(opaque);
	t->dialog.free_opaque = NULL;
	return TUI_REDRAW;
}

/* One key: the dialog takes it when open, else the top view (form text first, then its
 * scope, then LIST), then the global meaning. Returns TUI_* flags. */
static int handle_key(struct tui *t, int key)
{
	struct tui_view *v;
	enum tui_scope scopes[4];
	size_t n = 0;
	enum tui_action a;
	int flags;

	if (key == KEY_RESIZE) {
		getmaxyx(stdscr, t->lines, t->cols);
		return TUI_REDRAW;
	}
	if (t->dialog.kind != TUI_DLG_NONE)
		return dialog_key(t, key);
	t->status[0] = '\0';
	v = top_view(t);
	if (v->form_scope == TUI_SCOPE_FORM && key >= 32 && key < 127 && v->ops->text)
		return apply_flags(t, v->ops->text(t, v, key)) | TUI_REDRAW;
	if (v->form_scope == TUI_SCOPE_FORM)
		scopes[n++] = TUI_SCOPE_FORM;
	if (v->ops->scope != TUI_SCOPE_GLOBAL && v->ops->scope != TUI_SCOPE_LIST)
		scopes[n++] = v->ops->scope;
	scopes[n++] = TUI_SCOPE_LIST;
	scopes[n++] = TUI_SCOPE_GLOBAL;
	a = tui_key_action(key, scopes, n);
	if (a == TUI_ACT_NONE)
		return TUI_HANDLED;
	if (v->ops->action) {
		flags = v->ops->action(t, v, a);
		if (flags != TUI_IGNORED)
			return apply_flags(t, flags) | TUI_REDRAW;
	}
	if (tui_action_scope(a) == TUI_SCOPE_LIST)
		return tui_list_action(t, v, a, v->list_h) | TUI_REDRAW;
	return apply_flags(t, global_action(t, a));
}

/* ---- signals: through the wake-up pipe into the loop ---- */

static volatile sig_atomic_t pending_signal;
static int signal_fd = -1;

static void on_signal(int sig)
{
	int saved = errno;
	char c = 1;

	pending_signal = sig;
	if (signal_fd >= 0 && write(signal_fd, &c, 1) < 0) {
		/* a full pipe already holds a wake-up */
	}
	errno = saved;
}

void tui_signals_init(struct tui *t)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	signal_fd = t->wake_fd[1];
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

/* A signal that came: SIGINT is the Quit key (it asks while an operation runs), SIGTERM
 * and SIGHUP quit (main waits for the operation to end, then cleans up). */
static int take_signal(struct tui *t)
{
	int sig = pending_signal;

	if (!sig)
		return 0;
	pending_signal = 0;
	if (sig == SIGINT)
		return apply_flags(t, global_action(t, TUI_ACT_QUIT)) | TUI_REDRAW;
	tui_log(t, "%s: quitting", sig == SIGHUP ? "the terminal hung up (SIGHUP)" : "SIGTERM");
	return TUI_QUIT;
}

/* Wake-ups: a finished job, log lines, a libvirt event. */
static void on_wake(struct tui *t)
{
	char buf[64];

	while (read(t->wake_fd[0], buf, sizeof(buf)) > 0)
		;
	tui_job_reap(t, false);
	/* a libvirt event: the worker reads the list again and posts it */
	if (__atomic_exchange_n(&t->vms_dirty, false, __ATOMIC_ACQ_REL))
		tui_virt_refresh(t);
	tui_virt_collect(t);
}

/* Feed one key from a test script (ERR: none, only what woke the loop); same path as
 * the terminal. */
int tui_feed_key(struct tui *t, int key)
{
	int flags = key == ERR ? 0 : handle_key(t, key);

	on_wake(t);
	return flags | take_signal(t);
}

static void drain_stderr(struct tui *t, int fd);

void tui_process_wakeups(struct tui *t)
{
	on_wake(t);
	if (tui_stderr_fd() >= 0)
		drain_stderr(t, tui_stderr_fd());
}

/* What went to stderr (captured by main.c) lands in the log, line by line. */
static void drain_stderr(struct tui *t, int fd)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		if (buf[n - 1] == '\n')
			buf[n - 1] = '\0';
		tui_log_raw(t, buf);
	}
}

int tui_run(struct tui *t)
{
	struct pollfd fds[3] = {
		{ .fd = STDIN_FILENO, .events = POLLIN },
		{ .fd = t->wake_fd[0], .events = POLLIN },
		{ .fd = tui_stderr_fd(), .events = POLLIN },
	};

	nodelay(stdscr, TRUE);
	tui_redraw(t);
	for (;;) {
		int ch, flags = take_signal(t);

		if (flags & TUI_QUIT)
			return 0;
		if (flags)
			tui_redraw(t);
		/* no timeout: idle means asleep in poll (no busy polling) */
		if (poll(fds, 3, -1) < 0 && errno != EINTR)
			return -1;
		if (fds[1].revents & POLLIN)
			on_wake(t);
		if (take_signal(t) & TUI_QUIT)
			return 0;
		if (fds[2].revents & POLLIN)
			drain_stderr(t, fds[2].fd);
		/* EINTR (SIGWINCH) too: curses turns it into KEY_RESIZE */
		while ((ch = getch()) != ERR) {
			flags |= handle_key(t, ch);
			if (flags & TUI_QUIT)
				return 0;
		}
		tui_redraw(t);
	}
}

/* ---- screen dumps (tests): the text, or one hex digit of attributes per cell ---- */
void tui_dump_screen(struct tui *t, FILE *f, bool attrs)
{
	for (int y = 0; y < t->lines; y++) {
		char line[4096];
		size_t o = 0, keep = 0;

		for (int x = 0; x < t->cols && o + 8 < sizeof(line); x++) {
			cchar_t cc;
			wchar_t wch[CCHARW_MAX + 1] = { 0 };
			attr_t a = 0;
			short pair = 0;

			mvin_wch(y, x, &cc);
			getcchar(&cc, wch, &a, &pair, NULL);
			if (attrs) {
				int bits = ((a & A_BOLD) ? 1 : 0) | ((a & A_REVERSE) ? 2 : 0) |
					   ((a & A_DIM) ? 4 : 0) | ((a & A_UNDERLINE) ? 8 : 0);
				line[o++] = bits ? "0123456789abcdef"[bits] : '.';
				keep = o;
				continue;
			}
			if (wch[0] == 0 || wch[0] == L' ') {
				line[o++] = ' ';
				continue;
			}
			{
				mbstate_t st;
				char mb[16];
				size_t n;

				memset(&st, 0, sizeof(st));
				n = wcrtomb(mb, wch[0], &st);
				if (n == (size_t)-1) {
					mb[0] = '?';
					n = 1;
				}
				memcpy(line + o, mb, n);
				o += n;
				keep = o;
			}
		}
		line[keep] = '\0';
		/* the demo's scratch directory has a random name: the same length, fixed (also
		 * where a field shows only part of the path) */
		if (t->demo_root[0] && !attrs) {
			const char *base = strrchr(t->demo_root, '/');
			size_t n;
			base = base ? base + 1 : t->demo_root;
			n = strlen(base);
			for (char *p = strstr(line, base); p && n > 6; p = strstr(p + n, base))
				memcpy(p + n - 6, "XXXXXX", 6);
		}
		fprintf(f, "%s\n", line);
	}
}
