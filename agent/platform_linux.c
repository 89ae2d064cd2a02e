/* The Linux platform: clipboard through wl-copy/wl-paste (Wayland) or xclip (X11),
 * resolution through xrandr, launch through posix_spawn, shutdown through systemctl;
 * apps, open and windows in agent/apps_linux.c.
 * Whatever is missing answers "unsupported". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "neuron/agent_proto.h"
#include "platform.h"

#define POLL_EVERY_MS 1000
/* Budgets, each for all the tools one piece of work runs (a clipboard read on X is two
 * runs): a request's must end inside the host's 5 s request timeout even when it arrives
 * just as a change poll started, since the agent answers nothing meanwhile, so
 * REQUEST_MS + POLL_MS stays well under 5 s. A poll whose tool hung (a clipboard owner
 * that never answers, a frozen X server) rests that tool before the next. */
#define REQUEST_MS 3000
#define OWNER_POLL_MS 20 /* how often a clipboard-set looks whether its owner took over */
#define POLL_MS 1000
#define POLL_REST_MS 30000

struct linux_state {
	bool wayland, x11, have_xrandr;
	unsigned long long clip_hash; /* of the mime and the content last seen or set */
	bool clip_known;
	int width, height;
	long long last_poll, clip_rest_until, xrandr_rest_until; /* CLOCK_MONOTONIC ms: a wall clock
						  * set back (NTP after a restored snapshot) would stop the polls */
};


/* What is left of a budget that ends at deadline, for the next tool run; at least 1 ms,
 * so that a run past the deadline is one that times out at once (-2). */
static int left_ms(long long deadline)
{
	long long left = deadline - nr_now_ms();

	return left < 1 ? 1 : left > 60000 ? 60000 : (int)left;
}

static int unsupported(const char **code, char *why, const char *what)
{
	*code = "unsupported";
	snprintf(why, 256, "%s", what);
	return -1;
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

/* False, with why filled, when the session's display server is not there: tells "the
 * clipboard is empty" or "no such mode" from "the display is gone" when a tool fails.
 * Only local displays are probed; for others (TCP) the tool's word stands. */
static bool display_answers(const struct linux_state *s, char *why)
{
	if (s->wayland) {
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
	const char *d = getenv("DISPLAY");
	char path[64];
	unsigned n;
	if (!d)
		return true;
	if (strncmp(d, "unix:", 5) == 0)
		d += 4;
	if (sscanf(d, ":%u", &n) != 1)
		return true;
	snprintf(path, sizeof(path), "/tmp/.X11-unix/X%u", n);
	if (socket_answers(path, true) || socket_answers(path, false))
		return true;
	snprintf(why, 256, "the X display %.40s does not answer (is DISPLAY right?)", getenv("DISPLAY"));
	return false;
}

/* Why a tool run failed, in *code and why: its own words when it hung or could not
 * start, else the display when that is gone, else what (the tool's exit status means it). */
static int tool_failed(const struct linux_state *s, int rc, const char *what, const char **code, char *why)
{
	*code = "failed";
	if (rc > 0 && display_answers(s, why))
		snprintf(why, 256, "%s", what);
	return -1;
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

/* What the clipboard offers, as the protocol names it: "text/plain", "image/png", or
 * NULL when it holds neither; the tool's status (a positive status: nothing copied). */
static int clip_offers(struct linux_state *s, long long deadline, const char **mime, char *why)
{
	const char *wl[] = { "wl-paste", "--list-types", NULL };
	const char *xc[] = { "xclip", "-selection", "clipboard", "-o", "-t", "TARGETS", NULL };
	struct nr_buf list;
	int rc;

	nr_buf_init(&list);
	rc = spawn_run(s->wayland ? wl : xc, NULL, 0, &list, left_ms(deadline), why);
	*mime = NULL;
	for (size_t i = 0; rc == 0 && text_types[i] && !*mime; i++)
		if (list_has(&list, text_types[i]))
			*mime = "text/plain";
	if (rc == 0 && !*mime && list_has(&list, "image/png"))
		*mime = "image/png";
	nr_buf_done(&list);
	return rc;
}

/* Read the clipboard as mime: the tool's status (positive: it holds no such thing). X
 * owners such as xclip hand their data out for any target asked, so the target must be
 * one the owner lists; Wayland's offers are typed, wl-paste does that itself. */
static int clip_read(struct linux_state *s, const char *mime, struct nr_buf *out, long long deadline, char *why)
{
	bool text = strcmp(mime, "text/plain") == 0, latin1 = false;
	const char *target = mime;
	int rc;

	if (s->wayland) {
		const char *wl[] = { "wl-paste", "--no-newline", "--type", mime, NULL };
		return spawn_run(wl, NULL, 0, out, left_ms(deadline), why);
	}
	const char *targets[] = { "xclip", "-selection", "clipboard", "-o", "-t", "TARGETS", NULL };
	struct nr_buf list;
	nr_buf_init(&list);
	rc = spawn_run(targets, NULL, 0, &list, left_ms(deadline), why);
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
	rc = spawn_run(xc, NULL, 0, out, left_ms(deadline), why);
	if (rc == 0 && latin1 && !nr_utf8_valid(out->data ? out->data : "", out->len))
		latin1_to_utf8(out);
	return rc;
}

static int lx_clipboard_get(struct agent_platform *p, const char *mime, struct nr_buf *out,
			    const char **code, char *why)
{
	struct linux_state *s = p->state;
	char what[256];
	int rc;

	if (!s->wayland && !s->x11)
		return unsupported(code, why, "no clipboard tool: install wl-clipboard or xclip, and run in a session");
	rc = clip_read(s, mime, out, nr_now_ms() + REQUEST_MS, why);
	if (rc != 0) {
		snprintf(what, sizeof(what), "the clipboard holds no %.100s", mime);
		return tool_failed(s, rc, what, code, why);
	}
	return 0;
}

/* Whether the clipboard serves data now. xclip and wl-copy return once their child that
 * will own the selection is forked, before the display server has seen it take the
 * selection: a reply then would let the host (or the user) read the old clipboard. Reading
 * it back is the round trip that says the new owner is in place (0), or not by the
 * deadline (a positive status, why filled). */
static int confirm_owner(struct linux_state *s, const char *mime, const void *data, size_t len,
			 long long deadline, char *why)
{
	struct nr_buf back;
	int rc;

	nr_buf_init(&back);
	for (;;) {
		back.len = 0;
		rc = clip_read(s, mime, &back, deadline, why);
		if (rc == 0 && !back.oom && back.len == len && (len == 0 || memcmp(back.data, data, len) == 0))
			break;
		if (rc < 0 || nr_now_ms() + OWNER_POLL_MS >= deadline) {
			if (rc >= 0) {
				snprintf(why, 256, "the clipboard still held something else after %d ms", REQUEST_MS);
				rc = 1;
			}
			break;
		}
		nr_sleep_ms(OWNER_POLL_MS);
	}
	nr_buf_done(&back);
	return rc;
}

static int lx_clipboard_set(struct agent_platform *p, const char *mime, const void *data, size_t len,
			    const char **code, char *why)
{
	struct linux_state *s = p->state;
	bool text = strcmp(mime, "text/plain") == 0;
	const char *wl[] = { "wl-copy", "--type", mime, NULL };
	const char *xc[] = { "xclip", "-selection", "clipboard", "-i", "-t", text ? "UTF8_STRING" : mime, NULL };
	char what[256];
	int rc;

	if (!s->wayland && !s->x11)
		return unsupported(code, why, "no clipboard tool: install wl-clipboard or xclip, and run in a session");
	long long deadline = nr_now_ms() + REQUEST_MS;
	rc = spawn_run(s->wayland ? wl : xc, data, len, NULL, REQUEST_MS, why);
	if (rc != 0) {
		snprintf(what, sizeof(what), "%s failed (exit %d)", s->wayland ? "wl-copy" : "xclip", rc);
		return tool_failed(s, rc, what, code, why);
	}
	if ((rc = confirm_owner(s, mime, data, len, deadline, why)) != 0) {
		snprintf(what, sizeof(what), "the clipboard did not take what %s was given in time",
			 s->wayland ? "wl-copy" : "xclip");
		return tool_failed(s, rc, what, code, why);
	}
	/* our own change is not news for the host */
	s->clip_hash = platform_clip_hash(mime, data, len);
	s->clip_known = true;
	return 0;
}

static int lx_launch(struct agent_platform *p, const char *program, const char *const *argv, long long *pid,
		     const char **code, char *why)
{
	if (spawn_detached(argv, pid, why) < 0) {
		*code = "failed";
		return -1;
	}
	return 0;
}

static int read_resolution(int *w, int *h, long long deadline, char *why)
{
	const char *argv[] = { "xrandr", "--current", NULL };
	struct nr_buf out;
	const char *cur;
	int rc;

	nr_buf_init(&out);
	rc = spawn_run(argv, NULL, 0, &out, left_ms(deadline), why);
	if (rc == 0 && !(out.data && (cur = strstr(out.data, " current ")) && sscanf(cur, " current %d x %d", w, h) == 2))
		rc = 1;
	nr_buf_done(&out);
	return rc;
}

static int lx_get_resolution(struct agent_platform *p, int *w, int *h, const char **code, char *why)
{
	struct linux_state *s = p->state;
	int rc;

	if (!s->have_xrandr)
		return unsupported(code, why, "no xrandr in an X11 session");
	if ((rc = read_resolution(w, h, nr_now_ms() + REQUEST_MS, why)) != 0)
		return tool_failed(s, rc, "xrandr --current gave no resolution", code, why);
	return 0;
}

static int lx_set_resolution(struct agent_platform *p, int w, int h, const char **code, char *why)
{
	struct linux_state *s = p->state;
	char size[32], what[256];
	const char *argv[] = { "xrandr", "-s", size, NULL };
	int rc;

	if (!s->have_xrandr)
		return unsupported(code, why, "no xrandr in an X11 session");
	snprintf(size, sizeof(size), "%dx%d", w, h);
	if ((rc = spawn_run(argv, NULL, 0, NULL, REQUEST_MS, why)) != 0) {
		snprintf(what, sizeof(what), "xrandr -s %s failed: the screen has no %s mode (xrandr lists them)", size,
			 size);
		return tool_failed(s, rc, what, code, why);
	}
	s->width = w;
	s->height = h;
	return 0;
}

static int lx_shutdown(struct agent_platform *p, const char *mode, const char **code, char *why)
{
	const char *argv[] = { "systemctl", mode, NULL };
	long long pid;

	if (spawn_detached(argv, &pid, why) < 0) {
		*code = "failed";
		return -1;
	}
	return 0;
}

static void lx_os_name(struct agent_platform *p, char *out, size_t size)
{
	char line[512], pretty[256] = "Linux";
	struct utsname u;
	FILE *f = fopen("/etc/os-release", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "PRETTY_NAME=", 12) == 0) {
			char *v = line + 12;
			v[strcspn(v, "\n")] = '\0';
			if (*v == '"') {
				v++;
				v[strcspn(v, "\"")] = '\0';
			}
			snprintf(pretty, sizeof(pretty), "%.255s", v);
		}
	}
	if (f)
		fclose(f);
	if (uname(&u) == 0)
		snprintf(out, size, "%s (%s %s)", pretty, u.sysname, u.release);
	else
		snprintf(out, size, "%s", pretty);
}

static int lx_poll_changes(struct agent_platform *p, char *mime, size_t mime_size, long long *size)
{
	struct linux_state *s = p->state;
	long long now = nr_now_ms();
	int changed = 0, w, h, rc;
	char why[256];

	long long deadline = now + POLL_MS;

	if (s->last_poll && now - s->last_poll < POLL_EVERY_MS)
		return 0;
	s->last_poll = now;
	if ((s->wayland || s->x11) && now >= s->clip_rest_until) {
		const char *offer = NULL;
		struct nr_buf out;
		nr_buf_init(&out);
		rc = clip_offers(s, deadline, &offer, why);
		if (rc == 0 && offer)
			rc = clip_read(s, offer, &out, deadline, why);
		if (rc == -2)
			s->clip_rest_until = now + POLL_REST_MS;
		if (rc >= 0 && !out.oom) { /* an empty clipboard is a state too: the same copy again is news */
			unsigned long long hsh = rc == 0 && offer ? platform_clip_hash(offer, out.data, out.len)
								  : platform_clip_hash("", NULL, 0);
			if (s->clip_known && hsh != s->clip_hash && rc == 0 && offer) {
				snprintf(mime, mime_size, "%s", offer);
				*size = (long long)out.len;
				changed |= PLATFORM_CLIPBOARD_CHANGED;
			}
			s->clip_hash = hsh;
			s->clip_known = true;
		}
		nr_buf_done(&out);
	}
	/* xrandr gets what the clipboard left of the budget, at least a quarter of it */
	if (s->have_xrandr && now >= s->xrandr_rest_until) {
		long long xr_deadline = deadline - nr_now_ms() < POLL_MS / 4 ? nr_now_ms() + POLL_MS / 4 : deadline;
		rc = read_resolution(&w, &h, xr_deadline, why);
		if (rc == -2)
			s->xrandr_rest_until = now + POLL_REST_MS;
		if (rc == 0) {
			if (s->width && (w != s->width || h != s->height))
				changed |= PLATFORM_RESOLUTION_CHANGED;
			s->width = w;
			s->height = h;
		}
	}
	return changed;
}

static void lx_free(struct agent_platform *p)
{
	free(p->state);
	free(p);
}

struct agent_platform *platform_linux_new(void)
{
	struct agent_platform *p = calloc(1, sizeof(*p));
	struct linux_state *s = calloc(1, sizeof(*s));

	if (!p || !s) {
		free(p);
		free(s);
		return NULL;
	}
	s->wayland = getenv("WAYLAND_DISPLAY") && spawn_have("wl-copy") && spawn_have("wl-paste");
	s->x11 = !s->wayland && getenv("DISPLAY") && spawn_have("xclip");
	s->have_xrandr = getenv("DISPLAY") && spawn_have("xrandr");
	*p = (struct agent_platform){
		.name = "linux", .state = s,
		.clipboard_get = lx_clipboard_get, .clipboard_set = lx_clipboard_set,
		.launch = lx_launch, .get_resolution = lx_get_resolution,
		.set_resolution = lx_set_resolution, .shutdown = lx_shutdown,
		.apps = apps_linux_list, .app_icon = apps_linux_icon, .open = apps_linux_open,
		.windows = apps_linux_windows, .window_focus = apps_linux_window_focus,
		.window_close = apps_linux_window_close,
		.shares = shares_linux_list,
		.os_name = lx_os_name, .poll_changes = lx_poll_changes, .free = lx_free,
	};
	return p;
}
