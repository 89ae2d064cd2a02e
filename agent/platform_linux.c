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
#include "neuron/desktop.h"
#include "platform.h"

#define POLL_EVERY_MS 1000
/* Budgets, each for all the tools one piece of work runs (a clipboard read on X is two
 * runs): a request's must end inside the host's 5 s request timeout even when it arrives
 * just as a change poll started, since the agent answers nothing meanwhile, so
 * REQUEST_MS + POLL_MS stays well under 5 s. A poll whose tool hung (a clipboard owner
 * that never answers, a frozen X server) rests that tool before the next. */
#define REQUEST_MS 3000
#define POLL_MS 1000
#define POLL_REST_MS 30000

struct linux_state {
	struct nr_desktop *desktop; /* the clipboard (neuron/desktop.h, shared with agent sync) */
	bool clipboard, have_xrandr;
	unsigned long long clip_hash; /* of the mime and the content last seen or set */
	bool clip_known;
	int width, height;
	long long last_poll, clip_rest_until, xrandr_rest_until; /* CLOCK_MONOTONIC ms: a wall clock
						  * set back (NTP after a restored snapshot) would stop the polls */
};


/* What is left of a budget that ends at deadline, for the next tool run; at least 1 ms. */
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

/* Why a tool run failed, in *code and why: its own words when it hung or could not
 * start, else the display when that is gone, else what (the tool's exit status means it). */
static int tool_failed(const struct linux_state *s, int rc, const char *what, const char **code, char *why)
{
	*code = "failed";
	if (rc > 0 && nr_desktop_answers(s->desktop, why))
		snprintf(why, 256, "%s", what);
	return -1;
}

static int lx_clipboard_get(struct agent_platform *p, const char *mime, struct nr_buf *out,
			    const char **code, char *why)
{
	struct linux_state *s = p->state;
	char what[256];
	int rc;

	if (!s->clipboard)
		return unsupported(code, why, "no clipboard tool: install wl-clipboard or xclip, and run in a session");
	rc = nr_desktop_clip_read(s->desktop, mime, out, nr_now_ms() + REQUEST_MS, why);
	if (rc != 0) {
		snprintf(what, sizeof(what), "the clipboard holds no %.100s", mime);
		return tool_failed(s, rc, what, code, why);
	}
	return 0;
}

static int lx_clipboard_set(struct agent_platform *p, const char *mime, const void *data, size_t len,
			    const char **code, char *why)
{
	struct linux_state *s = p->state;
	char what[256];
	int rc;

	if (!s->clipboard)
		return unsupported(code, why, "no clipboard tool: install wl-clipboard or xclip, and run in a session");
	long long deadline = nr_now_ms() + REQUEST_MS;
	rc = nr_desktop_clip_own(s->desktop, mime, data, len, REQUEST_MS, why);
	if (rc != 0) {
		snprintf(what, sizeof(what), "%s failed (exit %d)", nr_desktop_copy_tool(s->desktop), rc);
		return tool_failed(s, rc, what, code, why);
	}
	if ((rc = nr_desktop_clip_confirm(s->desktop, mime, data, len, deadline, why)) != 0) {
		snprintf(what, sizeof(what), "the clipboard did not take what %s was given in time",
			 nr_desktop_copy_tool(s->desktop));
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
	if (s->clipboard && now >= s->clip_rest_until) {
		const char *offer = NULL;
		struct nr_buf out;
		nr_buf_init(&out);
		rc = nr_desktop_clip_offers(s->desktop, deadline, &offer, why);
		if (rc == 0 && offer)
			rc = nr_desktop_clip_read(s->desktop, offer, &out, deadline, why);
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
	struct linux_state *s = p->state;

	nr_desktop_free(s->desktop);
	free(s);
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
	if (!(s->desktop = nr_desktop_new())) {
		free(p);
		free(s);
		return NULL;
	}
	s->clipboard = nr_desktop_kind(s->desktop) != NR_DESKTOP_NONE;
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
