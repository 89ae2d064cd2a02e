/* The in-memory platform, for tests: a clipboard and a resolution held in memory;
 * launch really starts the program (spawn_detached). A fixed list of apps and windows
 * with hostile values among them (control characters in names and titles, an icon that
 * is not PNG, an id with "..", a name that is not UTF-8, 300 MIME types; "true", which
 * launch can start; with
 * NEURON_AGENT_HUGE_APPS=1 in the environment 10000 more apps): open adds a window
 * "PATH - NAME", window-close removes one, window-focus marks it as in front; a fixed list
 * of shares (two good ones, three a host must refuse). The system's test events (POSIX:
 * SIGUSR1, SIGUSR2) play a user copying text in the guest and a user changing the
 * resolution: both are reported as events. With NEURON_AGENT_TEST_DIR=DIR in the
 * environment the clipboard is also seen from outside (tests/sync): every set writes
 * DIR/clipboard (renamed into place) and appends "MIME BYTES" to DIR/sets.log, and a user's
 * copy takes DIR/copy when it is there (a PNG by its signature, else text). Portable C,
 * for every system. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

#define MEM_WINDOWS 64

struct mem_window {
	char id[16], title[512], app[64];
	long long pid;
};

struct memory {
	char mime[64];
	struct nr_buf clip;
	int width, height;
	int copies;
	struct mem_window windows[MEM_WINDOWS];
	size_t nwindows;
	unsigned next_window;
	char front[16];
};

/* A real 1x1 PNG (RGBA). */
static const unsigned char tiny_png[] = {
	0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
	0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x50, 0x48, 0x38, 0xf0,
	0x1f, 0x00, 0x04, 0x24, 0x02, 0x40, 0xea, 0xa7, 0x61, 0xc6, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
	0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};

static const char *const notepad_args[] = { "/A", NULL }, *const txt_exts[] = { ".txt", ".log", NULL },
		  *const txt_mimes[] = { "text/plain", NULL }, *const paint_exts[] = { ".png", ".bmp", NULL },
		  *const paint_mimes[] = { "image/png", "image/bmp", NULL }, *const evil_args[] = { "--x\n", NULL },
		  *const evil_exts[] = { ".ev\x1bil", NULL }, *const evil_mimes[] = { "text/x-evil\n", NULL };
static const char *many_mimes[301];
static char many_mime_text[300][32];

static const struct agent_app mem_apps[] = {
	{ "notepad", "Notepad", "C:\\Windows\\notepad.exe", notepad_args, txt_exts, txt_mimes, APP_ICON_48 | APP_ICON_256 },
	{ "paint", "Paint", "C:\\Windows\\System32\\mspaint.exe", NULL, paint_exts, paint_mimes, APP_ICON_48 },
	/* control characters in the name and the types, an icon that is not PNG */
	{ "evil", "Evil\x1b[31m\nApp\a", "evil.exe", evil_args, evil_exts, evil_mimes, APP_ICON_48 },
	/* an id that would climb out of a directory if it became a file name */
	{ "../../dots", "Dots", "dots.exe", NULL, NULL, NULL, 0 },
	/* not UTF-8: the agent leaves it out */
	{ "latin1", "Caf\xe9", "cafe.exe", NULL, NULL, NULL, 0 },
	/* more types than a host takes */
	{ "many", "Many Types", "many.exe", NULL, NULL, many_mimes, 0 },
	/* one that launch can really start here */
	{ "true", "True", "true", NULL, NULL, NULL, 0 },
};
#define MEM_APPS (sizeof(mem_apps) / sizeof(mem_apps[0]))

/* Shares as a guest may report them: a Linux mount point, a Windows drive, and hostile
 * ones a host must not use (a path with "..", a relative one, control characters). */
static const struct agent_share mem_shares[] = {
	{ "Documents", "/mnt/neuron/Documents" },
	{ "music", "Y:\\" },
	{ "climb", "/mnt/neuron/../../etc" },
	{ "relative", "mnt/neuron/relative" },
	{ "evil\x1b[31m", "/mnt/neuron/evil\n" },
};

static int mem_shares_list(struct agent_platform *p, const char *bundle, agent_share_fn each, void *ctx,
			   const char **code, char *why)
{
	for (size_t i = 0; i < sizeof(mem_shares) / sizeof(mem_shares[0]); i++)
		if (each(ctx, &mem_shares[i]))
			break;
	return 0;
}

static volatile sig_atomic_t user_copied, user_resized;

static void on_test_event(int what)
{
	if (what == PLATFORM_CLIPBOARD_CHANGED)
		user_copied = 1;
	else
		user_resized = 1;
}

static int mem_clipboard_get(struct agent_platform *p, const char *mime, struct nr_buf *out,
			     const char **code, char *why)
{
	struct memory *m = p->state;

	if (strcmp(mime, m->mime) != 0) {
		*code = "failed";
		snprintf(why, 256, "the clipboard holds %s, not %.100s", m->mime[0] ? m->mime : "nothing", mime);
		return -1;
	}
	nr_buf_append(out, m->clip.data ? m->clip.data : "", m->clip.len);
	return 0;
}

/* The test directory's file name into buf, or false when there is none. */
static bool test_file(const char *name, char *buf, size_t size)
{
	const char *dir = getenv("NEURON_AGENT_TEST_DIR");

	return dir && dir[0] && snprintf(buf, size, "%s/%s", dir, name) < (int)size;
}

/* What a set put on the clipboard, for the test to compare at this end. */
static void test_publish(const struct memory *m)
{
	char path[4096], tmp[4096];
	FILE *f;

	if (!test_file("clipboard", path, sizeof(path)) || !test_file("clipboard.tmp", tmp, sizeof(tmp)))
		return;
	if ((f = fopen(tmp, "wb"))) {
		bool ok = fwrite(m->clip.data ? m->clip.data : "", 1, m->clip.len, f) == m->clip.len;
		if (fclose(f) == 0 && ok)
			rename(tmp, path);
	}
	if (test_file("sets.log", path, sizeof(path)) && (f = fopen(path, "a"))) {
		fprintf(f, "%s %zu\n", m->mime, m->clip.len);
		fclose(f);
	}
}

/* The user copies DIR/copy: true when it was there and read. */
static bool test_copy(struct memory *m)
{
	static const unsigned char png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	char path[4096], buf[65536];
	size_t n;
	FILE *f;

	if (!test_file("copy", path, sizeof(path)) || !(f = fopen(path, "rb")))
		return false;
	m->clip.len = 0;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		nr_buf_append(&m->clip, buf, n);
	fclose(f);
	snprintf(m->mime, sizeof(m->mime), "%s",
		 m->clip.len >= 8 && memcmp(m->clip.data, png_sig, 8) == 0 ? "image/png" : "text/plain");
	return !m->clip.oom;
}

static int mem_clipboard_set(struct agent_platform *p, const char *mime, const void *data, size_t len,
			     const char **code, char *why)
{
	struct memory *m = p->state;

	snprintf(m->mime, sizeof(m->mime), "%s", mime);
	nr_buf_done(&m->clip); /* a big image before gives its memory back */
	nr_buf_append(&m->clip, data, len);
	if (m->clip.oom) {
		nr_buf_done(&m->clip);
		*code = "failed";
		snprintf(why, 256, "out of memory");
		return -1;
	}
	test_publish(m);
	return 0;
}

static int mem_clipboard_peek(struct agent_platform *p, const char *mime, const void **data, size_t *len,
			      const char **code, char *why)
{
	struct memory *m = p->state;

	if (strcmp(mime, m->mime) != 0) {
		*code = "failed";
		snprintf(why, 256, "the clipboard holds %s, not %.100s", m->mime[0] ? m->mime : "nothing", mime);
		return -1;
	}
	*data = m->clip.data ? m->clip.data : "";
	*len = m->clip.len;
	return 0;
}

/* The received buffer becomes the clipboard; the old one goes back to be freed. */
static int mem_clipboard_take(struct agent_platform *p, const char *mime, struct nr_buf *data, const char **code,
			      char *why)
{
	struct memory *m = p->state;
	struct nr_buf old = m->clip;

	(void)code;
	(void)why;
	snprintf(m->mime, sizeof(m->mime), "%s", mime);
	m->clip = *data;
	*data = old;
	test_publish(m);
	return 0;
}

static int mem_launch(struct agent_platform *p, const char *program, const char *const *argv, long long *pid,
		      const char **code, char *why)
{
	(void)p;
	(void)program;
	if (spawn_detached(argv, pid, why) < 0) {
		*code = "failed";
		return -1;
	}
	return 0;
}

static int mem_get_resolution(struct agent_platform *p, int *w, int *h, const char **code, char *why)
{
	struct memory *m = p->state;

	*w = m->width;
	*h = m->height;
	return 0;
}

static int mem_set_resolution(struct agent_platform *p, int w, int h, const char **code, char *why)
{
	struct memory *m = p->state;

	m->width = w;
	m->height = h;
	return 0;
}

static int mem_shutdown(struct agent_platform *p, const char *mode, const char **code, char *why)
{
	return 0; /* the agent exits after the reply, as if the guest went down */
}

static void mem_os_name(struct agent_platform *p, char *out, size_t size)
{
	snprintf(out, size, "in-memory test platform");
}

static int mem_poll_changes(struct agent_platform *p, char *mime, size_t mime_size, long long *size)
{
	struct memory *m = p->state;
	int changed = 0;

	if (user_copied) {
		user_copied = 0;
		char text[64];
		int n = snprintf(text, sizeof(text), "guest copy %d", ++m->copies);
		if (!test_copy(m)) {
			snprintf(m->mime, sizeof(m->mime), "text/plain");
			nr_buf_done(&m->clip);
			nr_buf_append(&m->clip, text, (size_t)n);
		}
		snprintf(mime, mime_size, "%s", m->mime);
		*size = (long long)m->clip.len;
		changed |= PLATFORM_CLIPBOARD_CHANGED;
	}
	if (user_resized) {
		user_resized = 0;
		if (m->width == 1280) {
			m->width = 1920;
			m->height = 1080;
		} else {
			m->width = 1280;
			m->height = 800;
		}
		changed |= PLATFORM_RESOLUTION_CHANGED;
	}
	return changed;
}

static int mem_apps_list(struct agent_platform *p, agent_app_fn each, void *ctx, const char **code, char *why)
{
	const char *huge = getenv("NEURON_AGENT_HUGE_APPS");
	char id[32], name[64];

	(void)p;
	(void)code;
	(void)why;
	for (size_t i = 0; i < MEM_APPS; i++)
		if (each(ctx, &mem_apps[i]))
			return 0;
	for (int i = 0; huge && strcmp(huge, "1") == 0 && i < 10000; i++) {
		struct agent_app a = { id, name, "filler.exe", NULL, NULL, NULL, 0 };
		snprintf(id, sizeof(id), "filler-%05d", i);
		snprintf(name, sizeof(name), "Filler %d", i);
		if (each(ctx, &a))
			return 0;
	}
	return 0;
}

static const struct agent_app *mem_app(const char *id)
{
	for (size_t i = 0; i < MEM_APPS; i++)
		if (strcmp(mem_apps[i].id, id) == 0)
			return &mem_apps[i];
	return NULL;
}

static int mem_app_icon(struct agent_platform *p, const char *id, int size, struct nr_buf *out, const char **code,
			char *why)
{
	const struct agent_app *a = mem_app(id);

	(void)p;
	if (!a || !(a->icons & (size == 256 ? APP_ICON_256 : APP_ICON_48))) {
		*code = "failed";
		snprintf(why, 256, "no icon of %d pixels for %.100s", size, id);
		return -1;
	}
	if (strcmp(id, "evil") == 0)
		nr_buf_append(out, "GIF89a this is not a PNG", 24);
	else
		nr_buf_append(out, (const char *)tiny_png, sizeof(tiny_png));
	return 0;
}

static int mem_window_add(struct memory *m, const char *title, const char *app, long long pid)
{
	struct mem_window *w;

	if (m->nwindows == MEM_WINDOWS)
		return -1;
	w = &m->windows[m->nwindows++];
	snprintf(w->id, sizeof(w->id), "0x%x", ++m->next_window);
	snprintf(w->title, sizeof(w->title), "%s", title);
	snprintf(w->app, sizeof(w->app), "%s", app);
	w->pid = pid;
	snprintf(m->front, sizeof(m->front), "%s", w->id);
	return 0;
}

static const char *extension_of(const char *path)
{
	const char *base = path, *dot;

	for (const char *c = path; *c; c++)
		if (*c == '/' || *c == '\\')
			base = c + 1;
	dot = strrchr(base, '.');
	return dot ? dot : "";
}

static int mem_open(struct agent_platform *p, const char *path, const char *app, long long *pid, const char **code,
		    char *why)
{
	struct memory *m = p->state;
	const struct agent_app *a = NULL;
	char title[512];

	if (app && !(a = mem_app(app))) {
		*code = "failed";
		snprintf(why, 256, "no app %.100s in this guest", app);
		return -1;
	}
	for (size_t i = 0; !a && i < MEM_APPS; i++)
		for (size_t e = 0; mem_apps[i].extensions && mem_apps[i].extensions[e]; e++)
			if (strcmp(mem_apps[i].extensions[e], extension_of(path)) == 0)
				a = &mem_apps[i];
	if (!a) {
		*code = "failed";
		snprintf(why, 256, "no app opens %.60s files in this guest", extension_of(path)[0] ? extension_of(path) : "such");
		return -1;
	}
	*pid = 5000 + m->next_window;
	snprintf(title, sizeof(title), "%.400s - %.100s", path, a->name);
	if (mem_window_add(m, title, a->id, *pid) < 0) {
		*code = "failed";
		snprintf(why, 256, "too many windows open");
		return -1;
	}
	return 0;
}

static int mem_windows(struct agent_platform *p, agent_window_fn each, void *ctx, const char **code, char *why)
{
	struct memory *m = p->state;

	(void)code;
	(void)why;
	for (size_t i = 0; i < m->nwindows; i++) {
		const struct mem_window *w = &m->windows[i];
		struct agent_window aw = { w->id, w->title, w->app, w->pid };
		if (each(ctx, &aw))
			break;
	}
	return 0;
}

static struct mem_window *mem_window(struct memory *m, const char *id, const char **code, char *why)
{
	for (size_t i = 0; i < m->nwindows; i++)
		if (strcmp(m->windows[i].id, id) == 0)
			return &m->windows[i];
	*code = "failed";
	snprintf(why, 256, "no window %.60s (it closed, or the id is not from windows)", id);
	return NULL;
}

static int mem_window_focus(struct agent_platform *p, const char *id, const char **code, char *why)
{
	struct memory *m = p->state;

	if (!mem_window(m, id, code, why))
		return -1;
	snprintf(m->front, sizeof(m->front), "%s", id);
	return 0;
}

static int mem_window_close(struct agent_platform *p, const char *id, const char **code, char *why)
{
	struct memory *m = p->state;
	struct mem_window *w = mem_window(m, id, code, why);

	if (!w)
		return -1;
	memmove(w, w + 1, (size_t)(m->windows + m->nwindows - (w + 1)) * sizeof(*w));
	m->nwindows--;
	return 0;
}

static void mem_free(struct agent_platform *p)
{
	struct memory *m = p->state;

	nr_buf_done(&m->clip);
	free(m);
	free(p);
}

struct agent_platform *platform_memory_new(void)
{
	struct agent_platform *p = calloc(1, sizeof(*p));
	struct memory *m = calloc(1, sizeof(*m));

	if (!p || !m) {
		free(p);
		free(m);
		return NULL;
	}
	nr_buf_init(&m->clip);
	for (int i = 0; i < 300; i++) {
		snprintf(many_mime_text[i], sizeof(many_mime_text[i]), "application/x-many-%03d", i);
		many_mimes[i] = many_mime_text[i];
	}
	mem_window_add(m, "Untitled - Notepad", "notepad", 4242);
	mem_window_add(m, "Evil\x1b]0;owned\x07 title\r\n", "evil", 0);
	m->width = 1920;
	m->height = 1080;
	sys_on_test_events(on_test_event);
	*p = (struct agent_platform){
		.name = "memory", .state = m,
		.clipboard_get = mem_clipboard_get, .clipboard_set = mem_clipboard_set,
		.clipboard_peek = mem_clipboard_peek, .clipboard_take = mem_clipboard_take,
		.launch = mem_launch, .get_resolution = mem_get_resolution,
		.set_resolution = mem_set_resolution, .shutdown = mem_shutdown,
		.apps = mem_apps_list, .app_icon = mem_app_icon, .open = mem_open, .windows = mem_windows,
		.window_focus = mem_window_focus, .window_close = mem_window_close,
		.shares = mem_shares_list,
		.os_name = mem_os_name, .poll_changes = mem_poll_changes, .free = mem_free,
	};
	return p;
}
