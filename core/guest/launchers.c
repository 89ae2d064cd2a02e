/* Launchers for the guest's apps in the host's menu (neuron/apps.h): freedesktop desktop
 * entries and hicolor icons under XDG_DATA_HOME, and the list of what was written, which
 * uninstall takes out again.
 *
 * What install writes, under XDG_DATA_HOME (~/.local/share):
 *   applications/neuron-VM-APP.desktop
 *   icons/hicolor/48x48/apps/neuron-VM-APP.png, icons/hicolor/256x256/apps/neuron-VM-APP.png
 *   neuron/apps-VM.list: what it wrote and which directories it made (uninstall's list)
 * VM and APP in those names keep [A-Za-z0-9_.-] and turn every other byte into "_". */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/internal.h"
#include "neuron/apps.h"
#include "neuron/util.h"

#define MANIFEST_MAX (4u << 20)

const char *nr_app_data_home(char *out, size_t size)
{
	const char *x = getenv("XDG_DATA_HOME"), *home = getenv("HOME");

	if (x && x[0] == '/')
		snprintf(out, size, "%s", x);
	else if (home && home[0] == '/')
		snprintf(out, size, "%s/.local/share", home);
	else
		return NULL;
	return out;
}

static void file_name_part(char *out, size_t size, const char *s)
{
	size_t n = 0;

	for (; *s && n + 1 < size; s++, n++) {
		char c = *s;
		bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
			    c == '-' || (c == '.' && n > 0);
		out[n] = keep ? c : '_';
	}
	out[n] = '\0';
}

struct manifest {
	char path[4200];
	char **lines; /* "f APP\tPATH" (a file of APP), "d \tPATH" (a directory made) */
	size_t n;
};

static int manifest_add(struct manifest *m, char kind, const char *app, const char *path)
{
	char **v = realloc(m->lines, (m->n + 1) * sizeof(*v));
	size_t len = strlen(app) + strlen(path) + 4;

	if (!v)
		return -1;
	m->lines = v;
	if (!(v[m->n] = malloc(len)))
		return -1;
	snprintf(v[m->n++], len, "%c %s\t%s", kind, app, path);
	return 0;
}

static bool manifest_has(const struct manifest *m, char kind, const char *path)
{
	for (size_t i = 0; i < m->n; i++) {
		const char *tab = strchr(m->lines[i], '\t');
		if (m->lines[i][0] == kind && tab && strcmp(tab + 1, path) == 0)
			return true;
	}
	return false;
}

static void manifest_free(struct manifest *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->lines[i]);
	free(m->lines);
	m->lines = NULL;
	m->n = 0;
}

static int manifest_read(struct manifest *m, struct nr_error *err)
{
	FILE *f = fopen(m->path, "r");
	char line[8500];

	if (!f)
		return errno == ENOENT ? 0 : nr_error_set(err, -NR_E_IO, "cannot read %s: %s", m->path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *tab = strchr(line, '\t');
		line[strcspn(line, "\n")] = '\0';
		if (!tab || (line[0] != 'f' && line[0] != 'd') || line[1] != ' ')
			continue;
		*tab = '\0';
		if (manifest_add(m, line[0], line + 2, tab + 1) < 0) {
			fclose(f);
			return nr_error_set(err, -NR_E_NOMEM, NULL);
		}
	}
	fclose(f);
	return 0;
}

/* Write path whole (a temporary file renamed into place). */
static int write_file(const char *path, const void *data, size_t len, struct nr_error *err)
{
	char tmp[4300];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!(f = fopen(tmp, "wb")))
		return nr_error_set(err, -NR_E_IO, "cannot write %s: %s", tmp, strerror(errno));
	if (fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		unlink(tmp);
		return nr_error_set(err, -NR_E_IO, "cannot write %s", tmp);
	}
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return nr_error_set(err, -NR_E_IO, "cannot write %s: %s", path, strerror(errno));
	}
	return 0;
}

static int manifest_write(struct manifest *m, struct nr_error *err)
{
	struct nr_buf text;
	int rc;

	nr_buf_init(&text);
	for (size_t i = 0; i < m->n; i++) {
		const char *tab = strchr(m->lines[i], '\t');
		nr_buf_printf(&text, "%.*s\t%s\n", (int)(tab - m->lines[i]), m->lines[i], tab + 1);
	}
	rc = text.oom ? nr_error_set(err, -NR_E_NOMEM, NULL) : write_file(m->path, text.data ? text.data : "", text.len, err);
	nr_buf_done(&text);
	return rc;
}

/* mkdir -p dir, each directory it makes recorded in m (uninstall removes them again). */
static int make_dirs(struct manifest *m, const char *dir, struct nr_error *err)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s", dir);
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p)
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0755) == 0) {
			if (manifest_add(m, 'd', "", path) < 0)
				return nr_error_set(err, -NR_E_NOMEM, NULL);
		} else if (errno != EEXIST)
			return nr_error_set(err, -NR_E_IO, "cannot make %s: %s", path, strerror(errno));
		*p = c;
		if (!c)
			return 0;
	}
}

/* A desktop entry's string value: control characters made "?", "\" doubled. */
static void put_value(struct nr_buf *b, const char *s)
{
	char clean[1024];

	nr_text_sanitize(clean, sizeof(clean), s, false);
	for (const char *p = clean; *p; p++)
		nr_buf_append(b, *p == '\\' ? "\\\\" : p, 1 + (*p == '\\'));
}

/* One argument of Exec, quoted as the Desktop Entry Specification says ("..." with \" \`
 * \$ \\ escaped, "%" doubled), then escaped as a string value ("\" doubled). */
static void put_exec_arg(struct nr_buf *b, const char *s)
{
	nr_buf_puts(b, "\"");
	for (const char *p = s; *p; p++) {
		if (*p == '"' || *p == '`' || *p == '$')
			nr_buf_printf(b, "\\\\%c", *p);
		else if (*p == '\\')
			nr_buf_puts(b, "\\\\\\\\");
		else if (*p == '%')
			nr_buf_puts(b, "%%");
		else
			nr_buf_append(b, p, 1);
	}
	nr_buf_puts(b, "\"");
}

/* Whether a MIME type is one a desktop entry may list: type/subtype of the usual characters. */
static bool mime_ok(const char *m)
{
	const char *slash = strchr(m, '/');

	if (!slash || slash == m || !slash[1] || strlen(m) > 127)
		return false;
	for (const char *p = m; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("/.+-_", *p)) || (*p == '/' && p != slash))
			return false;
	return true;
}

static bool id_ok(const char *id)
{
	for (const char *p = id; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

struct install {
	const char *vm, *category;
	char home[2048], vm_part[128];
	struct manifest m;
	struct nr_agent *agent;
	nr_app_event_fn fn;
	void *userdata;
};

static void note(struct install *in, const char *id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(struct install *in, const char *id, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	if (!in->fn)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	in->fn(in->userdata, NR_APP_NOTE, id, text);
}

static int install_one(struct install *in, const struct nr_agent_app *app, struct nr_error *err)
{
	char part[128], name[300], path[2800], dir[2400];
	static const int sizes[] = { 48, 256 };
	bool icon = false;
	struct nr_buf e;
	int rc;

	file_name_part(part, sizeof(part), app->id);
	snprintf(name, sizeof(name), "neuron-%s-%s", in->vm_part, part);
	for (size_t i = 0; i < 2; i++) {
		unsigned char *png;
		size_t len;
		if (!(sizes[i] == 48 ? app->icon48 : app->icon256))
			continue;
		if (nr_agent_app_icon(in->agent, app->id, sizes[i], &png, &len, err) < 0) {
			note(in, app->id, "%s: no %dx%d icon: %s", name, sizes[i], sizes[i], err->msg);
			nr_error_clear(err);
			continue;
		}
		snprintf(dir, sizeof(dir), "%s/icons/hicolor/%dx%d/apps", in->home, sizes[i], sizes[i]);
		snprintf(path, sizeof(path), "%s/%s.png", dir, name);
		rc = make_dirs(&in->m, dir, err);
		if (rc == 0 && !manifest_has(&in->m, 'f', path) && manifest_add(&in->m, 'f', app->id, path) < 0)
			rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		if (rc == 0)
			rc = write_file(path, png, len, err);
		free(png);
		if (rc < 0)
			return rc;
		icon = true;
	}
	nr_buf_init(&e);
	nr_buf_puts(&e, "[Desktop Entry]\nType=Application\nVersion=1.4\nName=");
	put_value(&e, app->name);
	nr_buf_puts(&e, " (");
	put_value(&e, in->vm);
	nr_buf_puts(&e, ")\nComment=");
	put_value(&e, app->name);
	nr_buf_puts(&e, " in the VM ");
	put_value(&e, in->vm);
	nr_buf_puts(&e, " (NeuronOS)\n");
	if (icon)
		nr_buf_printf(&e, "Icon=%s\n", name);
	nr_buf_puts(&e, "Exec=neuronctl app run ");
	put_exec_arg(&e, in->vm);
	nr_buf_puts(&e, " ");
	put_exec_arg(&e, app->id);
	nr_buf_puts(&e, " %F\n");
	bool any = false;
	for (size_t i = 0; app->mimes[i]; i++)
		if (mime_ok(app->mimes[i])) {
			nr_buf_printf(&e, "%s%s;", any ? "" : "MimeType=", app->mimes[i]);
			any = true;
		}
	if (any)
		nr_buf_puts(&e, "\n");
	nr_buf_printf(&e, "Categories=%s;\nTerminal=false\nX-NeuronOS-VM=", in->category ? in->category : "Utility");
	put_value(&e, in->vm);
	nr_buf_puts(&e, "\nX-NeuronOS-App=");
	put_value(&e, app->id);
	nr_buf_puts(&e, "\n");
	snprintf(dir, sizeof(dir), "%s/applications", in->home);
	snprintf(path, sizeof(path), "%s/%s.desktop", dir, name);
	rc = e.oom ? nr_error_set(err, -NR_E_NOMEM, NULL) : make_dirs(&in->m, dir, err);
	if (rc == 0 && !manifest_has(&in->m, 'f', path) && manifest_add(&in->m, 'f', app->id, path) < 0)
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
	if (rc == 0)
		rc = write_file(path, e.data, e.len, err);
	nr_buf_done(&e);
	if (rc == 0 && in->fn)
		in->fn(in->userdata, NR_APP_INSTALLED, app->id, path);
	return rc;
}

static int manifest_open(const char *vm, struct install *in, struct nr_error *err)
{
	if (!nr_app_data_home(in->home, sizeof(in->home)))
		return nr_error_set(err, -NR_E_NOTFOUND, "neither XDG_DATA_HOME nor HOME is set");
	file_name_part(in->vm_part, sizeof(in->vm_part), vm);
	snprintf(in->m.path, sizeof(in->m.path), "%s/neuron/apps-%s.list", in->home, in->vm_part);
	return manifest_read(&in->m, err);
}

static bool wanted(const char *id, const char *const *ids, size_t n_ids)
{
	if (!n_ids)
		return true;
	for (size_t k = 0; k < n_ids; k++)
		if (strcmp(ids[k], id) == 0)
			return true;
	return false;
}

int nr_app_install(const char *vm, struct nr_agent *agent, const struct nr_agent_apps *apps, const char *const *ids,
		   size_t n_ids, const char *category, nr_app_event_fn fn, void *userdata, struct nr_error *err)
{
	struct install in = { .vm = vm, .category = category, .agent = agent, .fn = fn, .userdata = userdata };
	char dir[4200];
	int rc;

	for (size_t k = 0; k < n_ids; k++) {
		bool found = false;
		for (size_t i = 0; i < apps->n && !found; i++)
			found = strcmp(apps->v[i].id, ids[k]) == 0;
		if (!found) {
			char clean[256];
			nr_text_sanitize(clean, sizeof(clean), ids[k], false);
			return nr_error_set(err, -NR_E_NOTFOUND, "%s has no app %s (neuronctl app list %s)", vm, clean, vm);
		}
	}
	if ((rc = manifest_open(vm, &in, err)) < 0)
		goto out;
	snprintf(dir, sizeof(dir), "%s/neuron", in.home);
	if ((rc = make_dirs(&in.m, dir, err)) < 0)
		goto out;
	for (size_t i = 0; i < apps->n && rc == 0; i++) {
		const struct nr_agent_app *app = &apps->v[i];
		if (!wanted(app->id, ids, n_ids))
			continue;
		if (!id_ok(app->id)) {
			note(&in, "", "left out an app whose id has control characters");
			continue;
		}
		rc = install_one(&in, app, err);
	}
	/* the list is written even after a failure: uninstall then removes what was written */
	if (manifest_write(&in.m, rc < 0 ? NULL : err) < 0 && rc == 0)
		rc = -NR_E_IO;
out:
	manifest_free(&in.m);
	return rc;
}

int nr_app_uninstall(const char *vm, const char *const *ids, size_t n_ids, nr_app_event_fn fn, void *userdata,
		     struct nr_error *err)
{
	struct install in = { .vm = vm, .fn = fn, .userdata = userdata };
	struct manifest keep = { 0 };
	bool files_left = false;
	int rc;

	if ((rc = manifest_open(vm, &in, err)) < 0)
		goto out;
	if (in.m.n == 0) {
		rc = nr_error_set(err, -NR_E_NOTFOUND, "no launchers of %s are installed", vm);
		goto out;
	}
	snprintf(keep.path, sizeof(keep.path), "%s", in.m.path);
	for (size_t i = 0; i < in.m.n; i++) {
		char *line = in.m.lines[i], *tab = strchr(line, '\t');
		*tab = '\0';
		if (line[0] == 'f' && wanted(line + 2, ids, n_ids)) {
			if (unlink(tab + 1) < 0 && errno != ENOENT) {
				rc = nr_error_set(err, -NR_E_IO, "cannot remove %s: %s", tab + 1, strerror(errno));
				*tab = '\t';
				goto out;
			}
			if (fn)
				fn(userdata, NR_APP_REMOVED, line + 2, tab + 1);
		} else {
			files_left |= line[0] == 'f';
			if (manifest_add(&keep, line[0], line + 2, tab + 1) < 0) {
				rc = nr_error_set(err, -NR_E_NOMEM, NULL);
				*tab = '\t';
				goto out;
			}
		}
		*tab = '\t';
	}
	if (files_left) {
		rc = manifest_write(&keep, err);
	} else {
		/* nothing of this VM is left: the list goes, and the directories install made
		 * (deepest first) when they are empty */
		unlink(in.m.path);
		for (size_t i = keep.n; i-- > 0;) {
			const char *tab = strchr(keep.lines[i], '\t');
			if (keep.lines[i][0] == 'd')
				rmdir(tab + 1);
		}
	}
out:
	manifest_free(&keep);
	manifest_free(&in.m);
	return rc;
}

bool nr_app_installed(const char *vm, const char *id)
{
	struct install in = { .vm = vm };
	bool found = false;

	if (manifest_open(vm, &in, NULL) < 0)
		return false;
	for (size_t i = 0; i < in.m.n && !found; i++) {
		const char *tab = strchr(in.m.lines[i], '\t');
		found = in.m.lines[i][0] == 'f' && tab && (size_t)(tab - in.m.lines[i] - 2) == strlen(id) &&
			strncmp(in.m.lines[i] + 2, id, strlen(id)) == 0;
	}
	manifest_free(&in.m);
	return found;
}
