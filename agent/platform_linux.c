/* The Linux platform: clipboard through wl-copy/wl-paste (Wayland) or xclip (X11),
 * resolution through xrandr, launch through posix_spawn, shutdown through systemctl.
 * Whatever is missing answers "unsupported". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "platform.h"

#define POLL_EVERY_S 2

struct linux_state {
	bool wayland, x11, have_xrandr;
	unsigned long long clip_hash;
	bool clip_known;
	int width, height;
	time_t last_poll;
};

static unsigned long long fnv(const void *data, size_t len)
{
	const unsigned char *p = data;
	unsigned long long h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static int unsupported(const char **code, char *why, const char *what)
{
	*code = "unsupported";
	snprintf(why, 256, "%s", what);
	return -1;
}

static int lx_clipboard_get(struct agent_platform *p, const char *mime, struct nr_buf *out,
			    const char **code, char *why)
{
	struct linux_state *s = p->state;
	bool text = strcmp(mime, "text/plain") == 0;
	const char *wl[] = { "wl-paste", "--no-newline", "--type", mime, NULL };
	const char *xc[] = { "xclip", "-selection", "clipboard", "-o", "-t", text ? "UTF8_STRING" : mime, NULL };
	int rc;

	if (s->wayland)
		rc = spawn_run(wl, NULL, 0, out, why);
	else if (s->x11)
		rc = spawn_run(xc, NULL, 0, out, why);
	else
		return unsupported(code, why, "no clipboard tool: install wl-clipboard or xclip, and run in a session");
	if (rc != 0) {
		*code = "failed";
		if (rc > 0)
			snprintf(why, 256, "the clipboard holds no %.100s", mime);
		return -1;
	}
	return 0;
}

static int lx_clipboard_set(struct agent_platform *p, const char *mime, const void *data, size_t len,
			    const char **code, char *why)
{
	struct linux_state *s = p->state;
	bool text = strcmp(mime, "text/plain") == 0;
	const char *wl[] = { "wl-copy", "--type", mime, NULL };
	const char *xc[] = { "xclip", "-selection", "clipboard", "-i", "-t", text ? "UTF8_STRING" : mime, NULL };
	int rc;

	if (s->wayland)
		rc = spawn_run(wl, data, len, NULL, why);
	else if (s->x11)
		rc = spawn_run(xc, data, len, NULL, why);
	else
		return unsupported(code, why, "no clipboard tool: install wl-clipboard or xclip, and run in a session");
	if (rc != 0) {
		*code = "failed";
		if (rc > 0)
			snprintf(why, 256, "the clipboard tool failed (exit %d)", rc);
		return -1;
	}
	if (text) { /* our own change is not news for the host */
		s->clip_hash = fnv(data, len);
		s->clip_known = true;
	}
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

static int read_resolution(int *w, int *h)
{
	const char *argv[] = { "xrandr", "--current", NULL };
	struct nr_buf out;
	char why[256];
	const char *cur;
	int rc = -1;

	nr_buf_init(&out);
	if (spawn_run(argv, NULL, 0, &out, why) == 0 && out.data && (cur = strstr(out.data, " current ")) &&
	    sscanf(cur, " current %d x %d", w, h) == 2)
		rc = 0;
	nr_buf_done(&out);
	return rc;
}

static int lx_get_resolution(struct agent_platform *p, int *w, int *h, const char **code, char *why)
{
	struct linux_state *s = p->state;

	if (!s->have_xrandr)
		return unsupported(code, why, "no xrandr in an X11 session");
	if (read_resolution(w, h) < 0) {
		*code = "failed";
		snprintf(why, 256, "xrandr --current gave no resolution");
		return -1;
	}
	return 0;
}

static int lx_set_resolution(struct agent_platform *p, int w, int h, const char **code, char *why)
{
	struct linux_state *s = p->state;
	char size[32];
	const char *argv[] = { "xrandr", "-s", size, NULL };

	if (!s->have_xrandr)
		return unsupported(code, why, "no xrandr in an X11 session");
	snprintf(size, sizeof(size), "%dx%d", w, h);
	if (spawn_run(argv, NULL, 0, NULL, why) != 0) {
		*code = "failed";
		snprintf(why, 256, "xrandr -s %s failed: no such mode?", size);
		return -1;
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
	time_t now = time(NULL);
	int changed = 0, w, h;

	if (now - s->last_poll < POLL_EVERY_S)
		return 0;
	s->last_poll = now;
	if (s->wayland || s->x11) {
		const char *code;
		char why[256];
		struct nr_buf out;
		nr_buf_init(&out);
		if (lx_clipboard_get(p, "text/plain", &out, &code, why) == 0) {
			unsigned long long hsh = fnv(out.data ? out.data : "", out.len);
			if (s->clip_known && hsh != s->clip_hash) {
				snprintf(mime, mime_size, "text/plain");
				*size = (long long)out.len;
				changed |= PLATFORM_CLIPBOARD_CHANGED;
			}
			s->clip_hash = hsh;
			s->clip_known = true;
		}
		nr_buf_done(&out);
	}
	if (s->have_xrandr && read_resolution(&w, &h) == 0) {
		if (s->width && (w != s->width || h != s->height))
			changed |= PLATFORM_RESOLUTION_CHANGED;
		s->width = w;
		s->height = h;
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
		.os_name = lx_os_name, .poll_changes = lx_poll_changes, .free = lx_free,
	};
	return p;
}
