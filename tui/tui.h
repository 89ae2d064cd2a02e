/* neuron-tui: the full-screen front end. One loop (screen.c) owns focus, resize, the
 * F-key bar and dialogs; each view (view_*.c, wizard_*.c) ends in its ops table and
 * answers actions from the one key table (keys.c) with TUI_* flags, like htop's panels. */
#ifndef NEURON_TUI_H
#define NEURON_TUI_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "neuron/ctx.h"
#include "neuron/error.h"
#include "neuron/scan.h"
#include "neuron/virt.h"
#include <errno.h>

/* ---- what a handler returns (htop's HandlerResult) ---- */
enum {
	TUI_IGNORED = 0,        /* not mine: let the loop try the global meaning */
	TUI_HANDLED = 1 << 0,
	TUI_REDRAW  = 1 << 1,
	TUI_RESCAN  = 1 << 2,   /* observe the machine again */
	TUI_QUIT    = 1 << 3,
	TUI_CLOSE   = 1 << 4,   /* a wizard is done: back to the panels */
};

/* ---- key scopes: where a binding is live ---- */
#define TUI_SCOPES(X) \
	X(GLOBAL, "Everywhere") \
	X(LIST,   "Lists and panels") \
	X(VMS,    "VMs panel") \
	X(APPS,   "A VM's app list") \
	X(WIZARD, "Wizards") \
	X(FORM,   "Wizard forms") \
	X(DIALOG, "Dialogs")

enum tui_scope {
#define TUI_SCOPE_ENUM(id, title) TUI_SCOPE_##id,
	TUI_SCOPES(TUI_SCOPE_ENUM)
#undef TUI_SCOPE_ENUM
	TUI_SCOPE_COUNT
};

/* ---- actions: X(ID, scope, help). The key table (keys.c) binds keys to them; the
 * help screen and the F-key bar are generated from both. ---- */
#define TUI_ACTIONS(X) \
	X(HELP,       GLOBAL, "Show this help screen") \
	X(QUIT,       GLOBAL, "Quit (asks when an operation is running)") \
	X(NEXT_PANEL, GLOBAL, "Next panel") \
	X(PREV_PANEL, GLOBAL, "Previous panel") \
	X(PANEL_1,    GLOBAL, "IOMMU groups panel") \
	X(PANEL_2,    GLOBAL, "GPUs panel") \
	X(PANEL_3,    GLOBAL, "VMs panel") \
	X(PANEL_4,    GLOBAL, "Agents panel") \
	X(PANEL_LOG,  GLOBAL, "Log panel: what commands printed") \
	X(SETUP,      GLOBAL, "Wizard: set up passthrough (checklist, GPU, plan, apply)") \
	X(NEW_VM,     GLOBAL, "Wizard: new VM from a profile") \
	X(REVERT,     GLOBAL, "Revert the passthrough configuration (asks first)") \
	X(RESCAN,     GLOBAL, "Observe the machine again") \
	X(UP,         LIST,   "Move up") \
	X(DOWN,       LIST,   "Move down") \
	X(PAGE_UP,    LIST,   "Page up") \
	X(PAGE_DOWN,  LIST,   "Page down") \
	X(TOP,        LIST,   "First item") \
	X(BOTTOM,     LIST,   "Last item") \
	X(OPEN,       LIST,   "Agents panel: the app list of a VM whose agent is connected") \
	X(VM_START,   VMS,    "Start the VM") \
	X(VM_SHUTDOWN, VMS,   "Shut the VM down (ACPI, asks first)") \
	X(VM_FORCEOFF, VMS,   "Force the VM off (asks first)") \
	X(VM_LG,      VMS,    "Open the Looking Glass client (supervised)") \
	X(VM_BIND,    VMS,    "Bind the VM's GPU to vfio-pci now (shows the writes, asks first)") \
	X(VM_UNBIND,  VMS,    "Give the VM's GPU back to its host drivers (asks first)") \
	X(VM_DELETE,  VMS,    "Delete the VM (asks first; its disk images stay)") \
	X(APP_LAUNCH, APPS,   "Start the app in the guest, then the Looking Glass client") \
	X(APP_INSTALL, APPS,  "Put a launcher of the app in the host's menu") \
	X(APP_UNINSTALL, APPS, "Take the app's launcher out of the host's menu") \
	X(APP_CLOSE,  APPS,   "Back to the panels") \
	X(NEXT,       WIZARD, "Next step / choose") \
	X(FINISH,     WIZARD, "Finish an interrupted apply") \
	X(ROLLBACK,   WIZARD, "Roll back an interrupted apply or revert") \
	X(BACK,       WIZARD, "Previous step, or leave the wizard") \
	X(NEXT_FIELD, FORM,   "Next field") \
	X(PREV_FIELD, FORM,   "Previous field") \
	X(FIELD_LEFT, FORM,   "Cursor left in the field") \
	X(FIELD_RIGHT, FORM,  "Cursor right in the field") \
	X(FIELD_HOME, FORM,   "Cursor to the start of the field") \
	X(FIELD_END,  FORM,   "Cursor to the end of the field") \
	X(ERASE,      FORM,   "Erase the character before the cursor") \
	X(FIELD_DELETE, FORM, "Delete the character under the cursor") \
	X(YES,        DIALOG, "Confirm the dialog / close a message") \
	X(NO,         DIALOG, "Cancel the dialog")

enum tui_action {
	TUI_ACT_NONE = 0,
#define TUI_ACT_ENUM(id, scope, help) TUI_ACT_##id,
	TUI_ACTIONS(TUI_ACT_ENUM)
#undef TUI_ACT_ENUM
	TUI_ACT_COUNT
};

struct tui_key {
	int key;                /* curses key code or character */
	const char *name;       /* what the help screen shows: "F1", "?", "Up" */
	enum tui_action action;
	const char *fkey_label; /* shown in the F-key bar ("Help"), NULL for none */
};

extern const struct tui_key tui_keys[];
extern const size_t tui_n_keys;
const char *tui_action_help(enum tui_action a);
const char *tui_action_name(enum tui_action a);
enum tui_scope tui_action_scope(enum tui_action a);
const char *tui_scope_title(enum tui_scope s);
/* The action for key in scope (then in LIST, then GLOBAL when the scope allows). */
enum tui_action tui_key_action(int key, const enum tui_scope *scopes, size_t n_scopes);
/* The key table's self-test: duplicate keys in overlapping scopes, actions without
 * help or without a key. Prints problems to f; returns how many. */
int tui_keys_self_test(FILE *f);
/* Key name <-> code, for the test scripts ("Down", "F5", "^L", "a"). -1 when unknown. */
int tui_key_parse(const char *name);

/* ---- colours: semantic elements, mapped per scheme ---- */
#define TUI_COLORS(X) \
	X(NORMAL) X(TITLE) X(TAB) X(TAB_ACTIVE) X(HEADER) X(FRAME) X(SELECTED) \
	X(OK) X(WARN) X(FAIL) X(DIM) X(INFO) X(FKEY_KEY) X(FKEY_LABEL) X(STATUS) \
	X(DIALOG) X(DIALOG_TITLE) X(FIELD) X(FIELD_ACTIVE) X(CURSOR) X(DIFF_ADD) X(DIFF_DEL) X(DIFF_HUNK)

enum tui_color {
#define TUI_COLOR_ENUM(id) TUI_C_##id,
	TUI_COLORS(TUI_COLOR_ENUM)
#undef TUI_COLOR_ENUM
	TUI_C_COUNT
};

/* Line drawing and state glyphs; ASCII unless the locale is UTF-8 and no --ascii. */
struct tui_glyphs {
	const char *hline, *vline, *tl, *tr, *bl, *br, *ltee, *rtee;
	const char *tree_mid, *tree_end, *tree_pipe;
	const char *ok, *warn, *fail, *pointer, *running, *stopped, *bullet;
};

/* ---- the views ---- */
struct tui;
struct tui_view;

struct tui_view_ops {
	const char *name;               /* "groups": test scripts and the log say it */
	const char *title;              /* "IOMMU groups" */
	enum tui_scope scope;           /* keys live while it has focus (plus LIST, GLOBAL) */
	/* rebuild rows from the app state (after a scan, an event) */
	void (*reload)(struct tui *t, struct tui_view *v);
	/* draw the body inside y0..y0+h-1, x0..x0+w-1 (NULL: the generic list + details) */
	void (*draw)(struct tui *t, struct tui_view *v, int y0, int x0, int h, int w);
	/* one list row, for the generic list */
	void (*draw_row)(struct tui *t, struct tui_view *v, size_t i, int y, int x, int w, bool sel);
	/* the column header line of the generic list ("" or NULL for none) */
	const char *(*header)(struct tui *t, struct tui_view *v);
	/* the details pane for the selected row */
	void (*details)(struct tui *t, struct tui_view *v, size_t i, int y0, int x0, int h, int w);
	/* an action from the key table; returns TUI_* flags (TUI_IGNORED: not mine) */
	int (*action)(struct tui *t, struct tui_view *v, enum tui_action a);
	/* a printable key no binding took (wizard forms): TUI_* flags */
	int (*text)(struct tui *t, struct tui_view *v, int ch);
	/* the status line text for this view ("" for the default) */
	void (*status)(struct tui *t, struct tui_view *v, char *buf, size_t size);
	void (*done)(struct tui *t, struct tui_view *v);
};

struct tui_view {
	const struct tui_view_ops *ops;
	size_t n_rows, sel, top;        /* the generic list */
	int list_h;                     /* rows the list showed in the last frame (paging) */
	enum tui_scope form_scope;      /* TUI_SCOPE_FORM while a form has focus, else COUNT */
	void *priv;
};

extern const struct tui_view_ops tui_view_groups_ops, tui_view_gpus_ops, tui_view_vms_ops,
	tui_view_agents_ops, tui_view_apps_ops, tui_view_log_ops, tui_view_log_overlay_ops, tui_view_help_ops, tui_wizard_setup_ops,
	tui_wizard_vm_ops;

/* ---- dialogs ---- */
enum tui_dialog_kind { TUI_DLG_NONE, TUI_DLG_INFO, TUI_DLG_ERROR, TUI_DLG_CONFIRM };
typedef int (*tui_confirm_fn)(struct tui *t, void *opaque);

/* ---- libvirt's state, as the worker last posted it ---- */
enum tui_virt_state { TUI_VIRT_CONNECTING = 0, TUI_VIRT_UP, TUI_VIRT_DOWN };
struct tui_virt;
struct nr_vm_list;

/* ---- background jobs: a long operation in a thread, the screen stays live ---- */
struct tui_job;
typedef int (*tui_job_fn)(struct tui_job *job, void *arg, struct nr_error *err);
typedef void (*tui_job_done_fn)(struct tui *t, int rc, const struct nr_error *err, void *arg);

/* ---- the application ---- */
#define TUI_MAIN_VIEWS 5   /* at most: groups, gpus, vms, agents, log */
#define TUI_LOG_LINES 1000

struct tui_opts {
	bool demo, ascii, no_color;
	const char *script;             /* key script (tests): no terminal needed */
	const char *dump;               /* where script dumps go */
	int script_cols, script_lines;
};

struct tui {
	struct tui_opts opts;
	struct nr_ctx *ctx;
	struct nr_scan *scan;
	struct nr_error scan_err;       /* why scan is NULL */
	/* libvirt: the worker (virt.c) owns the connection; these are what it last posted */
	struct tui_virt *vw;
	enum tui_virt_state virt_state;
	struct nr_virt *virt;           /* for jobs; NULL unless UP */
	struct nr_error virt_err;       /* why DOWN */
	struct nr_vm_list *vms;         /* the VMs, NULL while there is no list */
	struct nr_error vms_err;        /* why vms is NULL */
	bool virt_nowait;               /* tests: dumps do not wait for libvirt's answers */
	char demo_root[256];            /* the scratch root of --demo, removed at exit */

	bool utf8, color;
	const struct tui_glyphs *g;
	int attr[TUI_C_COUNT];

	struct tui_view views[TUI_MAIN_VIEWS];
	size_t n_views;
	size_t focus;                   /* index into views[] */
	struct tui_view overlays[3];     /* wizards and the help screen, on top of the panels */
	size_t n_overlays;

	struct {
		enum tui_dialog_kind kind;
		char title[80];
		char text[2048];
		tui_confirm_fn on_yes;
		void *opaque;
		void (*free_opaque)(void *opaque); /* frees opaque unless on_yes takes it */
	} dialog;

	char status[256];               /* a transient status message */

	/* log: lines from commands and core, appended from any thread */
	pthread_mutex_t log_lock;
	char *log[TUI_LOG_LINES];
	size_t log_first, log_count;
	size_t log_seen;                /* lines shown in the last frame */

	/* wake-up pipe: jobs and libvirt events write a byte, the loop polls it */
	int wake_fd[2];
	struct tui_job *job;
	bool vms_dirty;                 /* set from the event thread */
	char want_vm[256];              /* the VMs panel selects this VM at its next reload */
	int lines, cols;
	int cursor_y, cursor_x;         /* where a text field wants the terminal's cursor, -1: hidden */
	bool script_mode;
};

/* screen.c */
int tui_run(struct tui *t);
void tui_redraw(struct tui *t);
void tui_wake(struct tui *t);
void tui_set_status(struct tui *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tui_dialog_info(struct tui *t, const char *title, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void tui_dialog_error(struct tui *t, const char *title, const struct nr_error *err);
void tui_dialog_confirm(struct tui *t, const char *title, tui_confirm_fn on_yes, void *opaque,
			const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void tui_open_overlay(struct tui *t, const struct tui_view_ops *ops);
void tui_close_overlay(struct tui *t);
void tui_focus_view(struct tui *t, const char *name);
int tui_rescan(struct tui *t);
void tui_refresh_views(struct tui *t);
void tui_dump_screen(struct tui *t, FILE *f, bool attrs);

/* draw.c */
void tui_colors_init(struct tui *t);
void tui_glyphs_init(struct tui *t);
/* print at y,x at most w columns, padded with spaces to w when pad */
int tui_put(struct tui *t, int y, int x, int w, enum tui_color c, bool pad, const char *s);
int tui_putf(struct tui *t, int y, int x, int w, enum tui_color c, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* outside text, sanitised first */
int tui_put_clean(struct tui *t, int y, int x, int w, enum tui_color c, const char *s);
void tui_clean(struct tui *t, char *out, size_t size, const char *in);
void tui_hline(struct tui *t, int y, int x, int w, enum tui_color c);
void tui_box(struct tui *t, int y, int x, int h, int w, enum tui_color c, const char *title);
void tui_fill(struct tui *t, int y, int x, int h, int w, enum tui_color c);
/* word-wrapped text in a box area; returns the lines used (counts past h, draws within) */
int tui_wrap(struct tui *t, int y, int x, int h, int w, enum tui_color c, const char *s);
int tui_wrap_skip(struct tui *t, int y, int x, int h, int w, enum tui_color c, const char *s, int skip);
/* columns of s on screen (UTF-8 aware) */
int tui_text_width(const char *s);
/* "WORD" plus glyph for a check status */
enum tui_color tui_status_color(int nr_check_status);

/* pane.c: the one scrolling text pane (the plan, the domain XML, the help screen) */
struct tui_pane {
	char *text;                     /* owned; lines separated by '\n' */
	size_t lines, top;              /* how many, the first one shown */
	int rows;                       /* rows shown in the last frame (paging) */
	enum tui_color (*color)(const char *line);  /* NULL: normal text */
};
/* A copy of text to show from its first line. */
void tui_pane_set(struct tui_pane *p, const char *text);
void tui_pane_done(struct tui_pane *p);
void tui_pane_draw(struct tui *t, struct tui_pane *p, int y, int x, int h, int w);
/* Up/Down (also as field keys), PgUp/PgDn, Home/End: TUI_HANDLED; anything else TUI_IGNORED. */
int tui_pane_action(struct tui_pane *p, enum tui_action a);
/* "lines 1-20 of 46" into buf */
const char *tui_pane_range(const struct tui_pane *p, char *buf, size_t size);

/* field.c: a one-line text field with a cursor, scrolling sideways while typing */
struct tui_field {
	char text[256];
	size_t cur, scroll;             /* byte offsets: the cursor, the first byte shown */
	bool secret;                    /* drawn as '*' (its text is ASCII: see insert) */
};
/* The text, with the cursor at its end. */
void tui_field_set(struct tui_field *f, const char *text);
/* A printable ASCII key at the cursor. */
void tui_field_insert(struct tui_field *f, int ch);
/* FIELD_LEFT/RIGHT/HOME/END, ERASE, FIELD_DELETE: TUI_HANDLED; else TUI_IGNORED. */
int tui_field_action(struct tui_field *f, enum tui_action a);
/* The field in w columns at y, x; the active one shows its cursor and takes the terminal's. */
void tui_field_draw(struct tui *t, struct tui_field *f, int y, int x, int w, bool active);

/* list.c: the generic list with a details pane */
void tui_list_draw(struct tui *t, struct tui_view *v, int y0, int x0, int h, int w);
int tui_list_action(struct tui *t, struct tui_view *v, enum tui_action a, int page);

/* log.c */
void tui_log(struct tui *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tui_log_raw(struct tui *t, const char *line);
size_t tui_log_count(struct tui *t);
/* copy of line i (0 = oldest kept), sanitised; into buf */
void tui_log_line(struct tui *t, size_t i, char *buf, size_t size);
void tui_log_done(struct tui *t);

/* job.c */
int tui_job_start(struct tui *t, const char *title, tui_job_fn fn, tui_job_done_fn done, void *arg);
bool tui_job_running(const struct tui *t);
const char *tui_job_title(const struct tui *t);
/* from the job's thread: a progress line into the log, the screen wakes */
void tui_job_log(struct tui_job *job, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct tui *tui_job_tui(struct tui_job *job);
/* main thread: collect a finished job (calls its done); wait blocks until it ends */
void tui_job_reap(struct tui *t, bool wait);

/* virt.c: libvirt in a worker that owns the connection; the loop never waits on it.
 * Results (the connection's state, the VM list) are posted and taken by collect at the
 * next wake-up; domain events ask for a new list. */
int tui_virt_start(struct tui *t);
/* Ask for a new VM list (connects again when the connection is down). Never blocks. */
void tui_virt_refresh(struct tui *t);
/* Main thread: take what the worker posted, reload the views when something changed. */
void tui_virt_collect(struct tui *t);
/* Tests: until the worker has answered everything asked so far (unless virt_nowait). */
void tui_virt_settle(struct tui *t);
/* At exit, after the jobs: closes the connection, or leaves a worker stuck in libvirt. */
void tui_virt_stop(struct tui *t);
/* The URI in use, for text. */
const char *tui_virt_uri(const struct tui *t);
/* Why there is no VM list in words ("connecting to libvirt at URI ..."), "" when there is. */
const char *tui_virt_problem(const struct tui *t, char *buf, size_t size);

/* script.c: the key script of the screen tests; screen.c feeds its keys through the
 * same path as the terminal's, and processes wake-ups (jobs, events, stderr) on demand */
int tui_script_run(struct tui *t);
int tui_feed_key(struct tui *t, int key);
void tui_process_wakeups(struct tui *t);
/* main.c: the read end of the pipe that stderr goes to (-1 before the screen starts) */
int tui_stderr_fd(void);
/* view_agents.c: wait until the agents worker has done the round it was asked for */
void tui_agents_settle(struct tui *t);
/* view_apps.c: open the app list of vm, whose agent answers on socket */
void tui_apps_open(struct tui *t, const char *vm, const char *socket);

/* view_gpus.c: a GPU's verdict as one word with its colour ("READY", "SHARED" ...) */
const char *tui_gpu_word(const struct nr_scan *scan, const struct nr_gpu *g, enum tui_color *c);
/* The GPU a device belongs to (as a function or in its passthrough set), or NULL */
const struct nr_gpu *tui_gpu_of_device(const struct nr_scan *scan, size_t dev);
/* a list of device addresses "01:00.0, 01:00.1" */
void tui_addr_list(const struct nr_scan *scan, const size_t *v, size_t n, char *buf, size_t size);

/* demo.c: the demo machine. setup makes the scratch directory and points the ctx at the
 * demo's machine, root, runtime folder, stand-ins and test:///default; cleanup removes it. */
int tui_demo_setup(struct tui *t, const char *argv0);
void tui_demo_cleanup(struct tui *t);
/* A freshly installed Arch system under root, as the plan engine finds it. */
int tui_demo_seed_root(const char *root);
/* --demo moves to a scratch copy of its machine before writing to its sysfs */
int tui_demo_private_sysroot(struct tui *t);
/* The kernel's part of a runtime bind in that copy: each device gets the planned driver. */
struct nr_bind_plan;
int tui_demo_kernel_bind(struct tui *t, const struct nr_bind_plan *plan, struct nr_error *err);

/* screen.c: SIGINT asks like the Quit key (a running operation is not cut short without
 * the question), SIGTERM and SIGHUP quit; all through the loop, so the demo's scratch
 * directory and the terminal are cleaned up. */
void tui_signals_init(struct tui *t);

/* aborting allocation helpers (allowed in tui/) */
void *tui_xcalloc(size_t n, size_t size);
char *tui_xstrdup(const char *s);

#endif
