/* The Linux platform's apps and windows (issue 17, docs/PROTOCOL.md): the applications are
 * the XDG desktop entries (Type=Application, not NoDisplay or Hidden) under
 * $XDG_DATA_HOME/applications and each $XDG_DATA_DIRS/applications, the first entry of an
 * id winning as the menu spec says; their file types are the entry's MimeType with the
 * extensions shared-mime-info's globs2 gives each; their icons are PNGs of the hicolor
 * theme (48x48 and 256x256 under icons/hicolor/SIZE/apps). open runs the app's Exec with
 * the path for its field code, or, without an app, the first app whose MimeType has the
 * path's type (from its extension). Windows are the EWMH client list of an X11 session
 * through wmctrl (the X11 side of this platform drives tools, as xclip and xrandr);
 * Wayland has no such list for clients and answers "unsupported". */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "neuron/agent_proto.h"
#include "platform.h"

#define REQUEST_MS 3000
#define ENTRY_MAX (256 * 1024) /* a desktop entry larger than this is not one */
#define DIRS_MAX 32
#define DEPTH_MAX 3
#define ICON_FILE_MAX NR_AGENT_ICON_MAX

struct strv {
	char **v;
	size_t n;
};

static int strv_add(struct strv *s, const char *text, size_t len)
{
	char **v = realloc(s->v, (s->n + 2) * sizeof(*v));
	char *copy;

	if (!v)
		return -1;
	s->v = v;
	if (!(copy = malloc(len + 1)))
		return -1;
	memcpy(copy, text, len);
	copy[len] = '\0';
	s->v[s->n++] = copy;
	s->v[s->n] = NULL;
	return 0;
}

static void strv_done(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static bool strv_has(const struct strv *s, const char *text)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], text) == 0)
			return true;
	return false;
}

/* The XDG data directories, most important first: $XDG_DATA_HOME (~/.local/share), then
 * $XDG_DATA_DIRS (/usr/local/share:/usr/share). */
static void data_dirs(struct strv *dirs)
{
	const char *home = getenv("XDG_DATA_HOME"), *list = getenv("XDG_DATA_DIRS"), *h = getenv("HOME");
	char path[4096];

	if (home && home[0] == '/')
		strv_add(dirs, home, strlen(home));
	else if (h && h[0] == '/') {
		snprintf(path, sizeof(path), "%s/.local/share", h);
		strv_add(dirs, path, strlen(path));
	}
	if (!list || !list[0])
		list = "/usr/local/share:/usr/share";
	while (*list && dirs->n < DIRS_MAX) {
		size_t n = strcspn(list, ":");
		if (n && list[0] == '/')
			strv_add(dirs, list, n);
		list += n;
		if (*list)
			list++;
	}
}

static int read_small(const char *path, size_t max, struct nr_buf *out)
{
	FILE *f = fopen(path, "rb");
	char chunk[8192];
	size_t n;

	if (!f)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (out->len + n > max) {
			fclose(f);
			return -1;
		}
		nr_buf_append(out, chunk, n);
	}
	fclose(f);
	return out->oom ? -1 : 0;
}

/* ---- Desktop entries (the Desktop Entry Specification 1.5) */

struct entry {
	char *id;               /* the desktop file id, without ".desktop" */
	char *name, *exec, *icon;
	struct strv mimes;
};

static void entry_done(struct entry *e)
{
	free(e->id);
	free(e->name);
	free(e->exec);
	free(e->icon);
	strv_done(&e->mimes);
	memset(e, 0, sizeof(*e));
}

/* A value with its escapes (\s \n \t \r \\) undone; NULL when out of memory. */
static char *unescape(const char *v, size_t len)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (v[i] == '\\' && i + 1 < len) {
			char c = v[++i];
			*o++ = c == 's' ? ' ' : c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
		} else
			*o++ = v[i];
	}
	*o = '\0';
	return out;
}

/* Read the [Desktop Entry] group of path: 1 when it is an application to list, 0 when
 * not (another type, hidden, unreadable), -1 out of memory. */
static int entry_read(const char *path, struct entry *e)
{
	struct nr_buf text;
	bool in_group = false, app = false, hidden = false;
	const char *p, *end;
	int rc = -1;

	nr_buf_init(&text);
	if (read_small(path, ENTRY_MAX, &text) < 0 || !text.data) {
		nr_buf_done(&text);
		return text.oom ? -1 : 0;
	}
	p = text.data;
	end = text.data + text.len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eq;
		size_t len = (size_t)((nl ? nl : end) - p), klen;
		const char *line = p;
		p = nl ? nl + 1 : end;
		if (len && line[len - 1] == '\r')
			len--;
		if (len && line[0] == '[') {
			in_group = len == 15 && memcmp(line, "[Desktop Entry]", 15) == 0;
			continue;
		}
		if (!in_group || !len || line[0] == '#' || !(eq = memchr(line, '=', len)))
			continue;
		klen = (size_t)(eq - line);
		while (klen && line[klen - 1] == ' ')
			klen--;
		const char *v = eq + 1;
		size_t vlen = len - (size_t)(v - line);
		while (vlen && *v == ' ') {
			v++;
			vlen--;
		}
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(line, k, klen) == 0)
		char **slot = KEY("Name") ? &e->name : KEY("Exec") ? &e->exec : KEY("Icon") ? &e->icon : NULL;
		if (KEY("Type"))
			app = vlen == 11 && memcmp(v, "Application", 11) == 0;
		else if (KEY("NoDisplay") || KEY("Hidden"))
			hidden |= vlen == 4 && memcmp(v, "true", 4) == 0;
		else if (KEY("MimeType")) {
			while (vlen) {
				size_t n = 0;
				while (n < vlen && v[n] != ';')
					n++;
				if (n && e->mimes.n < 256 && strv_add(&e->mimes, v, n) < 0)
					goto out;
				v += n < vlen ? n + 1 : n;
				vlen -= n < vlen ? n + 1 : n;
			}
		} else if (slot && !*slot && !(*slot = unescape(v, vlen)))
			goto out;
#undef KEY
	}
	rc = app && !hidden && e->name && e->exec && e->name[0] && e->exec[0];
out:
	nr_buf_done(&text);
	return rc;
}

/* Split an Exec value into words (the spec's quoting: "..." with \" \` \$ \\ inside).
 * Field codes stay as words ("%F"); "%%" becomes "%". -1 when it does not parse. */
static int exec_split(const char *exec, struct strv *words)
{
	struct nr_buf w;
	const char *p = exec;
	int rc = 0;

	nr_buf_init(&w);
	while (*p && rc == 0) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		w.len = 0;
		nr_buf_append(&w, "", 0);
		while (*p && *p != ' ' && *p != '\t') {
			if (*p == '"') {
				for (p++; *p && *p != '"'; p++) {
					if (*p == '\\' && p[1])
						p++;
					nr_buf_append(&w, p, 1);
				}
				if (*p != '"') {
					rc = -1;
					break;
				}
				p++;
			} else if (*p == '%' && p[1] == '%') {
				nr_buf_append(&w, "%", 1);
				p += 2;
			} else
				nr_buf_append(&w, p++, 1);
		}
		if (rc == 0 && (w.oom || strv_add(words, w.data, w.len) < 0))
			rc = -1;
	}
	nr_buf_done(&w);
	return rc;
}

static bool field_code(const char *word)
{
	return word[0] == '%' && word[1] && !word[2];
}

static bool file_code(const char *word)
{
	return field_code(word) && strchr("fFuU", word[1]);
}

/* ---- The globs of shared-mime-info: which extensions a MIME type has. */

struct glob {
	char *mime, *ext;
};

struct globs {
	struct glob *v;
	size_t n;
};

static void globs_done(struct globs *g)
{
	for (size_t i = 0; i < g->n; i++) {
		free(g->v[i].mime);
		free(g->v[i].ext);
	}
	free(g->v);
}

/* mime/globs2 ("weight:type:*.ext" lines) of each data directory: the simple "*.ext" globs. */
static void globs_read(const struct strv *dirs, struct globs *g)
{
	char path[4200];

	for (size_t d = 0; d < dirs->n; d++) {
		struct nr_buf text;
		nr_buf_init(&text);
		snprintf(path, sizeof(path), "%s/mime/globs2", dirs->v[d]);
		if (read_small(path, 8u << 20, &text) == 0 && text.data) {
			char *save = NULL;
			for (char *line = strtok_r(text.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
				char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
				if (line[0] == '#' || !c2 || strncmp(c2 + 1, "*.", 2) != 0)
					continue;
				char *ext = c2 + 2;
				if (strcspn(ext, "*?[]:") != strlen(ext))
					continue;
				struct glob *v = realloc(g->v, (g->n + 1) * sizeof(*v));
				if (!v)
					break;
				g->v = v;
				v[g->n].mime = strndup(c1 + 1, (size_t)(c2 - c1 - 1));
				v[g->n].ext = strdup(ext);
				if (!v[g->n].mime || !v[g->n].ext) {
					free(v[g->n].mime);
					free(v[g->n].ext);
					break;
				}
				g->n++;
			}
		}
		nr_buf_done(&text);
	}
}

/* The MIME type of path by its extension (case-insensitive), NULL when unknown. */
static const char *globs_type(const struct globs *g, const char *path)
{
	const char *base = strrchr(path, '/'), *dot;

	base = base ? base + 1 : path;
	if (!(dot = strrchr(base, '.')))
		return NULL;
	for (size_t i = 0; i < g->n; i++)
		if (strcasecmp(g->v[i].ext, dot) == 0)
			return g->v[i].mime;
	return NULL;
}

/* ---- Walking the entries */

struct walk {
	struct strv dirs, seen;
	struct globs globs;
	/* what to do with each application entry: nonzero stops */
	int (*each)(struct walk *w, struct entry *e);
	void *ctx;
	bool stopped, oom;
};

static void walk_dir(struct walk *w, const char *dir, const char *prefix, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096], id[1024];

	if (!d)
		return;
	while (!w->stopped && !w->oom && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path) ||
		    stat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth < DEPTH_MAX) {
			if (snprintf(id, sizeof(id), "%s%s-", prefix, de->d_name) < (int)sizeof(id))
				walk_dir(w, path, id, depth + 1);
			continue;
		}
		if (!S_ISREG(st.st_mode) || n <= 8 || strcmp(de->d_name + n - 8, ".desktop") != 0)
			continue;
		if (snprintf(id, sizeof(id), "%s%.*s", prefix, (int)(n - 8), de->d_name) >= (int)sizeof(id) ||
		    strv_has(&w->seen, id))
			continue; /* an id already found in a more important directory hides this one */
		if (strv_add(&w->seen, id, strlen(id)) < 0) {
			w->oom = true;
			break;
		}
		struct entry e = { 0 };
		int rc = entry_read(path, &e);
		if (rc < 0)
			w->oom = true;
		else if (rc > 0 && (e.id = strdup(id)) && w->each(w, &e))
			w->stopped = true;
		entry_done(&e);
	}
	closedir(d);
}

static int walk_entries(struct walk *w, const char **code, char *why)
{
	char path[4200];

	data_dirs(&w->dirs);
	globs_read(&w->dirs, &w->globs);
	for (size_t i = 0; i < w->dirs.n && !w->stopped && !w->oom; i++) {
		snprintf(path, sizeof(path), "%s/applications", w->dirs.v[i]);
		walk_dir(w, path, "", 0);
	}
	strv_done(&w->dirs);
	strv_done(&w->seen);
	globs_done(&w->globs);
	if (w->oom) {
		*code = "failed";
		snprintf(why, 256, "out of memory");
		return -1;
	}
	return 0;
}

/* The hicolor theme's PNG of icon at size, into path; false when there is none. An Icon
 * that is an absolute path to a PNG counts as the 48-pixel one. */
static bool icon_path(const struct strv *dirs, const char *icon, int size, char *path, size_t path_size)
{
	size_t n;

	if (!icon || !icon[0] || strstr(icon, ".."))
		return false;
	if (icon[0] == '/') {
		n = strlen(icon);
		snprintf(path, path_size, "%s", icon);
		return size == 48 && n > 4 && strcmp(icon + n - 4, ".png") == 0 && access(path, R_OK) == 0;
	}
	if (strchr(icon, '/'))
		return false;
	for (size_t i = 0; i < dirs->n; i++) {
		snprintf(path, path_size, "%s/icons/hicolor/%dx%d/apps/%s.png", dirs->v[i], size, size, icon);
		if (access(path, R_OK) == 0)
			return true;
	}
	return false;
}

/* ---- apps */

struct list_ctx {
	agent_app_fn each;
	void *ctx;
};

static int list_one(struct walk *w, struct entry *e)
{
	struct list_ctx *lc = w->ctx;
	struct strv words = { 0 }, args = { 0 }, exts = { 0 };
	char path[4300];
	int stop = 0;

	if (exec_split(e->exec, &words) == 0 && words.n > 0) {
		for (size_t i = 1; i < words.n; i++)
			if (!field_code(words.v[i]))
				strv_add(&args, words.v[i], strlen(words.v[i]));
		for (size_t m = 0; m < e->mimes.n; m++)
			for (size_t g = 0; g < w->globs.n && exts.n < 64; g++)
				if (strcmp(w->globs.v[g].mime, e->mimes.v[m]) == 0 && !strv_has(&exts, w->globs.v[g].ext))
					strv_add(&exts, w->globs.v[g].ext, strlen(w->globs.v[g].ext));
		struct agent_app app = {
			.id = e->id, .name = e->name, .program = words.v[0],
			.args = (const char *const *)args.v, .extensions = (const char *const *)exts.v,
			.mimes = (const char *const *)e->mimes.v,
			.icons = (icon_path(&w->dirs, e->icon, 48, path, sizeof(path)) ? APP_ICON_48 : 0) |
				 (icon_path(&w->dirs, e->icon, 256, path, sizeof(path)) ? APP_ICON_256 : 0),
		};
		stop = lc->each(lc->ctx, &app);
	}
	strv_done(&words);
	strv_done(&args);
	strv_done(&exts);
	return stop;
}

int apps_linux_list(struct agent_platform *p, agent_app_fn each, void *ctx, const char **code, char *why)
{
	struct list_ctx lc = { each, ctx };
	struct walk w = { .each = list_one, .ctx = &lc };

	return walk_entries(&w, code, why);
}

/* Find one entry: by id, or (id NULL) the first whose MimeType has mime. */
struct find_ctx {
	const char *id, *mime;
	struct entry found;
	char icon48[4300], icon256[4300];
	bool has48, has256;
};

static int find_one(struct walk *w, struct entry *e)
{
	struct find_ctx *fc = w->ctx;

	if (fc->id ? strcmp(e->id, fc->id) != 0 : !strv_has(&e->mimes, fc->mime))
		return 0;
	fc->found = *e;
	memset(e, 0, sizeof(*e));
	fc->has48 = icon_path(&w->dirs, fc->found.icon, 48, fc->icon48, sizeof(fc->icon48));
	fc->has256 = icon_path(&w->dirs, fc->found.icon, 256, fc->icon256, sizeof(fc->icon256));
	return 1;
}

int apps_linux_icon(struct agent_platform *p, const char *id, int size, struct nr_buf *out, const char **code,
		    char *why)
{
	struct find_ctx fc = { .id = id };
	struct walk w = { .each = find_one, .ctx = &fc };
	int rc = walk_entries(&w, code, why);

	if (rc == 0 && !fc.found.id) {
		*code = "failed";
		snprintf(why, 256, "no app %.100s in this guest", id);
		rc = -1;
	} else if (rc == 0 && !(size == 256 ? fc.has256 : fc.has48)) {
		*code = "failed";
		snprintf(why, 256, "%.100s has no %dx%d PNG icon in the hicolor theme", id, size, size);
		rc = -1;
	} else if (rc == 0 && read_small(size == 256 ? fc.icon256 : fc.icon48, ICON_FILE_MAX, out) < 0) {
		*code = "failed";
		snprintf(why, 256, "cannot read the icon of %.100s (or it is over 4 MiB)", id);
		rc = -1;
	}
	entry_done(&fc.found);
	return rc;
}

int apps_linux_open(struct agent_platform *p, const char *path, const char *app, long long *pid,
		    const char **code, char *why)
{
	struct find_ctx fc = { .id = app };
	struct walk w = { .each = find_one, .ctx = &fc };
	struct strv words = { 0 }, argv = { 0 };
	struct globs g = { 0 };
	struct strv dirs = { 0 };
	int rc;

	if (!app) { /* the default: the first app for the path's type */
		data_dirs(&dirs);
		globs_read(&dirs, &g);
		fc.mime = globs_type(&g, path);
		strv_done(&dirs);
		if (!fc.mime) {
			globs_done(&g);
			*code = "failed";
			snprintf(why, 256, "this guest knows no type for that file's extension: name the app");
			return -1;
		}
	}
	rc = walk_entries(&w, code, why);
	if (rc == 0 && !fc.found.id) {
		*code = "failed";
		if (app)
			snprintf(why, 256, "no app %.100s in this guest", app);
		else
			snprintf(why, 256, "no app in this guest opens %.100s: name the app", fc.mime);
		rc = -1;
	}
	globs_done(&g);
	if (rc == 0 && (exec_split(fc.found.exec, &words) < 0 || words.n == 0)) {
		*code = "failed";
		snprintf(why, 256, "the Exec line of %.100s does not parse", fc.found.id);
		rc = -1;
	}
	if (rc == 0) {
		bool placed = false;
		for (size_t i = 0; i < words.n; i++) {
			if (file_code(words.v[i]) && !placed) {
				strv_add(&argv, path, strlen(path));
				placed = true;
			} else if (!field_code(words.v[i]))
				strv_add(&argv, words.v[i], strlen(words.v[i]));
		}
		if (!placed)
			strv_add(&argv, path, strlen(path));
		if (spawn_detached((const char *const *)argv.v, pid, why) < 0) {
			*code = "failed";
			rc = -1;
		}
	}
	strv_done(&words);
	strv_done(&argv);
	entry_done(&fc.found);
	return rc;
}

/* ---- Windows: the EWMH client list through wmctrl (X11 only) */

static int no_windows(const char **code, char *why)
{
	*code = "unsupported";
	if (getenv("WAYLAND_DISPLAY"))
		snprintf(why, 256, "windows are not listed on Wayland: it gives clients no list of other "
				   "clients' windows (an X11 session can)");
	else if (!getenv("DISPLAY"))
		snprintf(why, 256, "no graphical session (DISPLAY is not set)");
	else
		snprintf(why, 256, "no wmctrl: install it to list, raise and close windows (EWMH)");
	return -1;
}

static bool x11_windows(void)
{
	return !getenv("WAYLAND_DISPLAY") && getenv("DISPLAY") && spawn_have("wmctrl");
}

int apps_linux_windows(struct agent_platform *p, agent_window_fn each, void *ctx, const char **code, char *why)
{
	const char *argv[] = { "wmctrl", "-l", "-p", "-x", NULL };
	struct nr_buf out;
	char *save = NULL;
	int rc;

	if (!x11_windows())
		return no_windows(code, why);
	nr_buf_init(&out);
	if ((rc = spawn_run(argv, NULL, 0, &out, REQUEST_MS, why)) != 0) {
		nr_buf_done(&out);
		*code = "failed";
		if (rc > 0)
			snprintf(why, 256, "wmctrl -l failed: the window manager keeps no EWMH client list "
					   "(_NET_CLIENT_LIST)");
		return -1;
	}
	/* "0x01a00003  0 4242   gedit.Gedit   host Title words" */
	for (char *line = out.data ? strtok_r(out.data, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		char id[32], desk[16], cls[256], host[256];
		long long pid = 0;
		int off = 0;
		if (sscanf(line, "%31s %15s %lld %255s %255s %n", id, desk, &pid, cls, host, &off) < 5)
			continue;
		char *dot = strchr(cls, '.');
		if (dot)
			*dot = '\0';
		struct agent_window win = { id, off ? line + off : "", cls, pid > 0 ? pid : 0 };
		if (each(ctx, &win))
			break;
	}
	nr_buf_done(&out);
	return 0;
}

static int window_act(const char *id, const char *flag, const char **code, char *why)
{
	const char *argv[] = { "wmctrl", "-i", flag, id, NULL };
	int rc;

	if (!x11_windows())
		return no_windows(code, why);
	if (strncmp(id, "0x", 2) != 0 || !id[2] || strspn(id + 2, "0123456789abcdefABCDEF") != strlen(id + 2)) {
		*code = "bad-request";
		snprintf(why, 256, "an X11 window id is 0x and hex digits (from windows)");
		return -1;
	}
	if ((rc = spawn_run(argv, NULL, 0, NULL, REQUEST_MS, why)) != 0) {
		*code = "failed";
		if (rc > 0)
			snprintf(why, 256, "wmctrl could not reach window %.40s (closed already?)", id);
		return -1;
	}
	return 0;
}

int apps_linux_window_focus(struct agent_platform *p, const char *id, const char **code, char *why)
{
	return window_act(id, "-a", code, why);
}

int apps_linux_window_close(struct agent_platform *p, const char *id, const char **code, char *why)
{
	return window_act(id, "-c", code, why);
}
