/* A Linux desktop's clipboard through wl-clipboard or xclip (neuron/desktop.h), moved here
 * from the agent's Linux platform so that the guest agent and `agent sync` on the host read
 * and write it in one place. Change notifications: X11's XFixes selection events through
 * libxcb-xfixes, loaded when first watched (a console on a TTY never needs it; xcb, unlike
 * Xlib, never exits the process when the display goes away), and `wl-paste --watch` on
 * Wayland. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "neuron/agent_proto.h"
#include "neuron/clock.h"
#include "neuron/desktop.h"
#include "neuron/tool.h"
#include "base/internal.h"

#define OWNER_POLL_MS 20 /* how often a confirm looks whether the new owner took over */

/* The few xcb types the watch uses (xcb/xcb.h, xcb/xfixes.h: X protocol layouts). */
typedef struct xcb_connection_t xcb_connection_t;
typedef struct { unsigned int sequence; } xcb_cookie_t;
typedef struct { uint8_t response_type, pad0; uint16_t sequence; uint32_t length; uint32_t atom; } xcb_atom_reply_t;
typedef struct { uint8_t response_type, pad0; uint16_t sequence; uint32_t length; uint8_t present, major_opcode,
		 first_event, first_error; } xcb_ext_reply_t;
typedef struct { uint8_t response_type; } xcb_event_t;
typedef struct { uint32_t root; } xcb_screen_head_t; /* xcb_screen_t starts with its root */
typedef struct { xcb_screen_head_t *data; int rem, index; } xcb_screen_iter_t;
#define XFIXES_SET_SELECTION_OWNER_NOTIFY_MASK 1u
#define XFIXES_SELECTION_NOTIFY 0

struct xcb_api {
	xcb_connection_t *(*connect)(const char *, int *);
	int (*has_error)(xcb_connection_t *);
	void (*disconnect)(xcb_connection_t *);
	const void *(*get_setup)(xcb_connection_t *);
	xcb_screen_iter_t (*roots)(const void *);
	xcb_cookie_t (*intern_atom)(xcb_connection_t *, uint8_t, uint16_t, const char *);
	xcb_atom_reply_t *(*intern_atom_reply)(xcb_connection_t *, xcb_cookie_t, void **);
	const xcb_ext_reply_t *(*get_extension_data)(xcb_connection_t *, void *);
	int (*flush)(xcb_connection_t *);
	int (*get_fd)(xcb_connection_t *);
	xcb_event_t *(*poll_for_event)(xcb_connection_t *);
	xcb_cookie_t (*query_version)(xcb_connection_t *, uint32_t, uint32_t);
	void *(*query_version_reply)(xcb_connection_t *, xcb_cookie_t, void **);
	xcb_cookie_t (*select_selection_input)(xcb_connection_t *, uint32_t, uint32_t, uint32_t);
	void *xfixes_id;
};

struct nr_desktop {
	enum nr_desktop_kind kind;
	/* the watch */
	int watch_fd;
	pid_t watcher;                  /* wl-paste --watch */
	void *xcb_lib, *xfixes_lib;
	struct xcb_api x;
	xcb_connection_t *conn;
	uint8_t xfixes_event;
	char how[300];
};

struct nr_desktop *nr_desktop_new(void)
{
	struct nr_desktop *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->watch_fd = -1;
	if (getenv("WAYLAND_DISPLAY") && nr_tool_have("wl-copy") && nr_tool_have("wl-paste"))
		d->kind = NR_DESKTOP_WAYLAND;
	else if (getenv("DISPLAY") && nr_tool_have("xclip"))
		d->kind = NR_DESKTOP_X11;
	return d;
}

static void watch_stop(struct nr_desktop *d)
{
	if (d->watcher > 0) {
		kill(-d->watcher, SIGTERM);
		kill(d->watcher, SIGTERM);
		while (waitpid(d->watcher, NULL, 0) < 0 && errno == EINTR)
			;
		d->watcher = 0;
	}
	if (d->conn)
		d->x.disconnect(d->conn);
	d->conn = NULL;
	if (d->watch_fd >= 0 && d->kind == NR_DESKTOP_WAYLAND)
		close(d->watch_fd);
	d->watch_fd = -1;
}

void nr_desktop_free(struct nr_desktop *d)
{
	if (!d)
		return;
	watch_stop(d);
	if (d->xfixes_lib)
		dlclose(d->xfixes_lib);
	if (d->xcb_lib)
		dlclose(d->xcb_lib);
	free(d);
}

enum nr_desktop_kind nr_desktop_kind(const struct nr_desktop *d)
{
	return d->kind;
}

int nr_desktop_check(const struct nr_desktop *d, struct nr_error *err)
{
	if (d->kind != NR_DESKTOP_NONE)
		return 0;
	if (getenv("WAYLAND_DISPLAY"))
		return nr_error_set(err, -NR_E_UNSUPPORTED,
				    "the Wayland session has no wl-copy and wl-paste: install wl-clipboard");
	if (getenv("DISPLAY"))
		return nr_error_set(err, -NR_E_UNSUPPORTED, "the X session has no xclip: install xclip");
	return nr_error_set(err, -NR_E_UNSUPPORTED,
			    "no desktop session: neither WAYLAND_DISPLAY nor DISPLAY is set (run it in the "
			    "graphical session, or import them: systemctl --user import-environment "
			    "WAYLAND_DISPLAY DISPLAY)");
}

const char *nr_desktop_copy_tool(const struct nr_desktop *d)
{
	return d->kind == NR_DESKTOP_WAYLAND ? "wl-copy" : "xclip";
}

/* What is left of a budget that ends at deadline, for the next tool run; at least 1 ms,
 * so that a run past the deadline is one that times out at once (-2). */
static int left_ms(long long deadline)
{
	long long left = deadline - nr_now_ms();

	return left < 1 ? 1 : left > 60000 ? 60000 : (int)left;
}

/* Whether a unix socket takes a connection (abstract: the name without its leading NUL). */
static bool socket_answers(const char *path, bool abstract)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(path), off = abstract ? 1 : 0;
	int fd, rc;

	if (n + off >= sizeof(sa.sun_path))
		return false;
	memcpy(sa.sun_path + off, path, n);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return true; /* cannot tell */
	rc = connect(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + off + n));
	close(fd);
	return rc == 0;
}

/* Only local displays are probed; for others (TCP) the tool's word stands. */
bool nr_desktop_answers(const struct nr_desktop *d, char *why)
{
	if (d->kind == NR_DESKTOP_WAYLAND) {
		const char *name = getenv("WAYLAND_DISPLAY"), *dir = getenv("XDG_RUNTIME_DIR");
		char path[256];
		if (!name || name[0] == '/')
			snprintf(path, sizeof(path), "%s", name ? name : "");
		else
			snprintf(path, sizeof(path), "%s/%s", dir ? dir : "", name);
		if (socket_answers(path, false))
			return true;
		snprintf(why, 256, "the Wayland display %.100s does not answer (WAYLAND_DISPLAY, XDG_RUNTIME_DIR)",
			 name ? name : "?");
		return false;
	}
	const char *disp = getenv("DISPLAY");
	char path[64];
	unsigned n;
	if (!disp)
		return true;
	if (strncmp(disp, "unix:", 5) == 0)
		disp += 4;
	if (sscanf(disp, ":%u", &n) != 1)
		return true;
	snprintf(path, sizeof(path), "/tmp/.X11-unix/X%u", n);
	if (socket_answers(path, true) || socket_answers(path, false))
		return true;
	snprintf(why, 256, "the X display %.40s does not answer (is DISPLAY right?)", getenv("DISPLAY"));
	return false;
}

/* Whether a newline-separated list (xclip's TARGETS, wl-paste --list-types) has name. */
static bool list_has(const struct nr_buf *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list->data, *end = list->data + list->len;

	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		if (len && p[len - 1] == '\r')
			len--;
		if (len == n && memcmp(p, name, n) == 0)
			return true;
		p = nl ? nl + 1 : end;
	}
	return false;
}

/* ISO 8859-1 (the X STRING target) to UTF-8, in place in b. */
static void latin1_to_utf8(struct nr_buf *b)
{
	struct nr_buf u;

	nr_buf_init(&u);
	for (size_t i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];
		char two[2] = { (char)(0xc0 | (c >> 6)), (char)(0x80 | (c & 0x3f)) };
		if (c < 0x80)
			nr_buf_append(&u, (const char *)&c, 1);
		else
			nr_buf_append(&u, two, 2);
	}
	if (u.oom) {
		nr_buf_done(&u);
		b->oom = true;
		return;
	}
	nr_buf_done(b);
	*b = u;
}

/* The text targets an X owner may list, best first; after the first two the encoding is
 * not said, and text that is not UTF-8 is taken as ISO 8859-1 (what STRING means). */
static const char *const text_types[] = { "UTF8_STRING", "text/plain;charset=utf-8", "text/plain", "STRING",
					   "TEXT", NULL };

int nr_desktop_clip_offers(struct nr_desktop *d, long long deadline, const char **mime, char *why)
{
	const char *wl[] = { "wl-paste", "--list-types", NULL };
	const char *xc[] = { "xclip", "-selection", "clipboard", "-o", "-t", "TARGETS", NULL };
	struct nr_buf list;
	int rc;

	nr_buf_init(&list);
	rc = nr_tool_run(d->kind == NR_DESKTOP_WAYLAND ? wl : xc, NULL, 0, &list, left_ms(deadline), why);
	*mime = NULL;
	for (size_t i = 0; rc == 0 && text_types[i] && !*mime; i++)
		if (list_has(&list, text_types[i]))
			*mime = "text/plain";
	if (rc == 0 && !*mime && list_has(&list, "image/png"))
		*mime = "image/png";
	nr_buf_done(&list);
	return rc;
}

/* X owners such as xclip hand their data out for any target asked, so the target must be
 * one the owner lists; Wayland's offers are typed, wl-paste does that itself. */
int nr_desktop_clip_read(struct nr_desktop *d, const char *mime, struct nr_buf *out, long long deadline,
			 char *why)
{
	bool text = strcmp(mime, "text/plain") == 0, latin1 = false;
	const char *target = mime;
	int rc;

	if (d->kind == NR_DESKTOP_WAYLAND) {
		const char *wl[] = { "wl-paste", "--no-newline", "--type", mime, NULL };
		return nr_tool_run(wl, NULL, 0, out, left_ms(deadline), why);
	}
	const char *targets[] = { "xclip", "-selection", "clipboard", "-o", "-t", "TARGETS", NULL };
	struct nr_buf list;
	nr_buf_init(&list);
	rc = nr_tool_run(targets, NULL, 0, &list, left_ms(deadline), why);
	if (rc == 0) {
		target = !text && list_has(&list, mime) ? mime : NULL;
		for (size_t i = 0; text && text_types[i] && !target; i++)
			if (list_has(&list, text_types[i])) {
				target = text_types[i];
				latin1 = i >= 2;
			}
		if (!target)
			rc = 1;
	}
	nr_buf_done(&list);
	if (rc != 0)
		return rc;
	const char *xc[] = { "xclip", "-selection", "clipboard", "-o", "-t", target, NULL };
	rc = nr_tool_run(xc, NULL, 0, out, left_ms(deadline), why);
	if (rc == 0 && latin1 && !nr_utf8_valid(out->data ? out->data : "", out->len))
		latin1_to_utf8(out);
	return rc;
}

int nr_desktop_clip_own(struct nr_desktop *d, const char *mime, const void *data, size_t len, int timeout_ms,
			char *why)
{
	bool text = strcmp(mime, "text/plain") == 0;
	const char *wl[] = { "wl-copy", "--type", mime, NULL };
	const char *xc[] = { "xclip", "-selection", "clipboard", "-i", "-t", text ? "UTF8_STRING" : mime, NULL };

	return nr_tool_run(d->kind == NR_DESKTOP_WAYLAND ? wl : xc, data, len, NULL, timeout_ms, why);
}

/* xclip and wl-copy return once their child that will own the selection is forked, before
 * the display server has seen it take the selection: reading it back is the round trip
 * that says the new owner is in place. */
int nr_desktop_clip_confirm(struct nr_desktop *d, const char *mime, const void *data, size_t len,
			    long long deadline, char *why)
{
	long long start = nr_now_ms();
	struct nr_buf back;
	int rc;

	nr_buf_init(&back);
	for (;;) {
		back.len = 0;
		rc = nr_desktop_clip_read(d, mime, &back, deadline, why);
		if (rc == 0 && !back.oom && back.len == len && (len == 0 || memcmp(back.data, data, len) == 0))
			break;
		if (rc < 0 || nr_now_ms() + OWNER_POLL_MS >= deadline) {
			if (rc >= 0) {
				snprintf(why, 256, "the clipboard still held something else after %lld ms",
					 nr_now_ms() - start);
				rc = 1;
			}
			break;
		}
		nr_sleep_ms(OWNER_POLL_MS);
	}
	nr_buf_done(&back);
	return rc;
}

/* ---- change notifications */

static int xcb_load(struct nr_desktop *d, struct nr_error *err)
{
	if (d->xcb_lib)
		return 0;
	d->xcb_lib = dlopen("libxcb.so.1", RTLD_NOW | RTLD_LOCAL);
	d->xfixes_lib = d->xcb_lib ? dlopen("libxcb-xfixes.so.0", RTLD_NOW | RTLD_LOCAL) : NULL;
	if (!d->xfixes_lib)
		return nr_error_set(err, -NR_E_UNSUPPORTED, "cannot load libxcb-xfixes (Debian: libxcb-xfixes0)");
#define SYM(lib, field, name) \
	if (!(*(void **)&d->x.field = dlsym(d->lib, name))) \
		return nr_error_set(err, -NR_E_UNSUPPORTED, "the libxcb found has no %s", name);
	SYM(xcb_lib, connect, "xcb_connect")
	SYM(xcb_lib, has_error, "xcb_connection_has_error")
	SYM(xcb_lib, disconnect, "xcb_disconnect")
	SYM(xcb_lib, get_setup, "xcb_get_setup")
	SYM(xcb_lib, roots, "xcb_setup_roots_iterator")
	SYM(xcb_lib, intern_atom, "xcb_intern_atom")
	SYM(xcb_lib, intern_atom_reply, "xcb_intern_atom_reply")
	SYM(xcb_lib, get_extension_data, "xcb_get_extension_data")
	SYM(xcb_lib, flush, "xcb_flush")
	SYM(xcb_lib, get_fd, "xcb_get_file_descriptor")
	SYM(xcb_lib, poll_for_event, "xcb_poll_for_event")
	SYM(xfixes_lib, query_version, "xcb_xfixes_query_version")
	SYM(xfixes_lib, query_version_reply, "xcb_xfixes_query_version_reply")
	SYM(xfixes_lib, select_selection_input, "xcb_xfixes_select_selection_input")
	SYM(xfixes_lib, xfixes_id, "xcb_xfixes_id")
#undef SYM
	return 0;
}

static int watch_x11(struct nr_desktop *d, struct nr_error *err)
{
	const xcb_ext_reply_t *ext;
	xcb_atom_reply_t *atom;
	void *version;
	int screen = 0;

	if (xcb_load(d, err) < 0)
		return err ? err->code : -NR_E_UNSUPPORTED;
	d->conn = d->x.connect(NULL, &screen);
	if (!d->conn || d->x.has_error(d->conn)) {
		watch_stop(d);
		return nr_error_set(err, -NR_E_UNSUPPORTED, "cannot connect to the X display %s",
				    getenv("DISPLAY") ? getenv("DISPLAY") : "?");
	}
	ext = d->x.get_extension_data(d->conn, d->x.xfixes_id);
	version = ext && ext->present ? d->x.query_version_reply(d->conn, d->x.query_version(d->conn, 5, 0), NULL)
				      : NULL;
	if (!version) {
		watch_stop(d);
		return nr_error_set(err, -NR_E_UNSUPPORTED, "the X server has no XFixes extension");
	}
	free(version);
	d->xfixes_event = ext->first_event;
	atom = d->x.intern_atom_reply(d->conn, d->x.intern_atom(d->conn, 0, 9, "CLIPBOARD"), NULL);
	if (!atom) {
		watch_stop(d);
		return nr_error_set(err, -NR_E_UNSUPPORTED, "the X server does not name the CLIPBOARD");
	}
	/* the first screen's root: the CLIPBOARD selection is the display's, not a screen's */
	xcb_screen_iter_t it = d->x.roots(d->x.get_setup(d->conn));
	d->x.select_selection_input(d->conn, it.data->root, atom->atom, XFIXES_SET_SELECTION_OWNER_NOTIFY_MASK);
	free(atom);
	d->x.flush(d->conn);
	d->watch_fd = d->x.get_fd(d->conn);
	return 0;
}

extern char **environ;

static int watch_wayland(struct nr_desktop *d, struct nr_error *err)
{
	/* the command reads what wl-paste hands it and says one line per change */
	const char *argv[] = { "wl-paste", "--watch", "sh", "-c", "cat >/dev/null; echo", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int out[2], rc;

	if (pipe2(out, O_CLOEXEC) < 0)
		return nr_error_set(err, -NR_E_IO, "pipe: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	rc = posix_spawnp(&d->watcher, argv[0], &fa, &attr, (char *const *)argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	if (rc != 0) {
		close(out[0]);
		d->watcher = 0;
		return nr_error_set(err, -NR_E_UNSUPPORTED, "cannot start wl-paste --watch: %s", strerror(rc));
	}
	d->watch_fd = out[0];
	return 0;
}

int nr_desktop_watch(struct nr_desktop *d, int *fd, const char **how, struct nr_error *err)
{
	struct nr_error why = { 0 };
	int rc = -NR_E_UNSUPPORTED;

	watch_stop(d);
	if (d->kind == NR_DESKTOP_X11)
		rc = watch_x11(d, &why);
	else if (d->kind == NR_DESKTOP_WAYLAND)
		rc = watch_wayland(d, &why);
	else
		return nr_desktop_check(d, err);
	*fd = d->watch_fd;
	if (rc == 0)
		snprintf(d->how, sizeof(d->how), "%s",
			 d->kind == NR_DESKTOP_X11 ? "XFixes selection events" : "wl-paste --watch");
	else /* no notification is not an error: the caller polls */
		snprintf(d->how, sizeof(d->how), "polling: %.280s", why.msg);
	*how = d->how;
	return 0;
}

bool nr_desktop_watch_ack(struct nr_desktop *d)
{
	bool changed = false;

	if (d->watch_fd < 0)
		return false;
	if (d->kind == NR_DESKTOP_X11) {
		xcb_event_t *ev;
		while ((ev = d->x.poll_for_event(d->conn))) {
			if ((ev->response_type & 0x7f) == d->xfixes_event + XFIXES_SELECTION_NOTIFY)
				changed = true;
			free(ev);
		}
		if (d->x.has_error(d->conn))
			watch_stop(d);
		return changed;
	}
	char buf[256];
	ssize_t n = read(d->watch_fd, buf, sizeof(buf));
	if (n > 0)
		return true;
	if (n == 0 || (errno != EINTR && errno != EAGAIN))
		watch_stop(d); /* wl-paste ended: no data-control in this compositor, or it went away */
	return false;
}

int nr_desktop_watch_fd(const struct nr_desktop *d)
{
	return d->watch_fd;
}
