/* neuron-agent: the reference guest agent (docs/PROTOCOL.md). It serves one host at a
 * time over the virtio-serial port, a unix socket or stdio; the system (streams, host
 * name, uptime, children) and the desktop (clipboard, launch, resolution, shutdown) go
 * through the platform layer (platform.h), so this file is portable C
 * (tests/port/run.sh builds it for Windows). */
#include <getopt.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neuron/agent_proto.h"
#include "neuron/tls.h"
#include "platform.h"

#define AGENT_VERSION "0.1.0"
#define IDLE_POLL_MS 250
#define WRITE_TIMEOUT_MS 10000 /* a host that stops reading ends its session */
#define STALL_MS 10000         /* a host that stops in the middle of a message ends it too */
#define CONNECTION_MS 10000    /* --listen: from a connection to its handshake's end */
#define MAX_ARGS 256

struct agent {
	struct agent_platform *platform;
	const char *bundle; /* the credentials' directory (--certs): shares.conf is there */
	struct nr_tls_link *link;
	bool verbose;
	bool exit_after_reply;
	/* The chunked upload in progress (clipboard-set of an image). */
	long long up_id, up_seq;
	struct nr_buf up;
	const char *up_code;
	/* the clipboard being sent (clipboard-get): kept between requests, so that a big image
	 * does not fault in fresh pages every time before its first chunk can go */
	struct nr_buf down;
	char up_why[256];
};

static void logmsg(struct agent *ag, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logmsg(struct agent *ag, const char *fmt, ...)
{
	va_list ap;

	if (!ag->verbose)
		return;
	fputs("neuron-agent: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int send_buf(struct agent *ag, struct nr_buf *out)
{
	struct nr_error err = { 0 };
	int rc;

	if (out->oom)
		return -NR_E_NOMEM;
	rc = nr_tls_link_write(ag->link, out->data, out->len, WRITE_TIMEOUT_MS, &err);
	if (rc < 0)
		logmsg(ag, "write: %s", err.msg);
	out->len = 0;
	return rc;
}

static int reply_error(struct agent *ag, long long id, const char *code, const char *why)
{
	struct nr_buf out;
	int rc;

	nr_buf_init(&out);
	nr_msg_put_error(&out, id, code, why);
	rc = send_buf(ag, &out);
	nr_buf_done(&out);
	return rc;
}

static int reply(struct agent *ag, long long id, json_object *result)
{
	struct nr_buf out;
	int rc;

	nr_buf_init(&out);
	nr_msg_put_result(&out, id, result);
	if (!out.oom && out.len - 2 > NR_AGENT_FRAME_MAX) {
		out.len = 0;
		nr_msg_put_error(&out, id, "too-large", "the reply would pass the 1 MiB frame cap");
	}
	rc = send_buf(ag, &out);
	nr_buf_done(&out);
	json_object_put(result);
	return rc;
}

static void upload_reset(struct agent *ag, long long id)
{
	ag->up_id = id;
	ag->up_seq = 0;
	ag->up.len = 0;
	ag->up_code = NULL;
	ag->up_why[0] = '\0';
}

static void on_chunk(struct agent *ag, const struct nr_msg *m)
{
	if (m->id != ag->up_id)
		upload_reset(ag, m->id);
	if (ag->up_code)
		return;
	if (m->seq != ag->up_seq) {
		ag->up_code = "bad-request";
		snprintf(ag->up_why, sizeof(ag->up_why), "chunk %lld came where %lld was due", m->seq, ag->up_seq);
		return;
	}
	if (ag->up.len + m->data_len > NR_AGENT_TRANSFER_MAX) {
		ag->up_code = "too-large";
		snprintf(ag->up_why, sizeof(ag->up_why), "the transfer passed 64 MiB");
		nr_buf_done(&ag->up);
		return;
	}
	nr_buf_append(&ag->up, (const char *)m->data, m->data_len);
	if (ag->up.oom) {
		ag->up_code = "failed";
		snprintf(ag->up_why, sizeof(ag->up_why), "out of memory");
		nr_buf_done(&ag->up);
	}
	ag->up_seq++;
}

static bool is_text(const char *mime)
{
	return strcmp(mime, "text/plain") == 0;
}

static int op_hello(struct agent *ag, const struct nr_msg *m)
{
	json_object *versions, *res, *caps;
	bool ok = false;

	if (m->body && json_object_object_get_ex(m->body, "versions", &versions) &&
	    json_object_is_type(versions, json_type_array))
		for (size_t i = 0; i < json_object_array_length(versions); i++) {
			json_object *v = json_object_array_get_idx(versions, i);
			if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) == NR_AGENT_VERSION)
				ok = true;
		}
	if (!ok)
		return reply_error(ag, m->id, "version", "this agent speaks protocol version 1 only");
	logmsg(ag, "hello from %s", nr_msg_str(m->body, "host", "?"));
	res = json_object_new_object();
	caps = json_object_new_array();
	const char *names[] = { "ping", "info", "launch", "clipboard", "resolution", "shutdown" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		json_object_array_add(caps, json_object_new_string(names[i]));
	/* issue 17, offered only where the platform has them: a host asks for none of these
	 * ops of an agent that does not list it (an older agent, or a platform without) */
	if (ag->platform->apps)
		json_object_array_add(caps, json_object_new_string("apps"));
	if (ag->platform->windows)
		json_object_array_add(caps, json_object_new_string("windows"));
	if (ag->platform->shares)
		json_object_array_add(caps, json_object_new_string("shares"));
	json_object_object_add(res, "version", json_object_new_int(NR_AGENT_VERSION));
	json_object_object_add(res, "agent", json_object_new_string("neuron-agent " AGENT_VERSION));
	json_object_object_add(res, "platform", json_object_new_string(ag->platform->name));
	json_object_object_add(res, "capabilities", caps);
	return reply(ag, m->id, res);
}

static int op_info(struct agent *ag, const struct nr_msg *m)
{
	json_object *res = json_object_new_object();
	char os[512], host[256] = "", why[256];
	const char *code;
	int w = 0, h = 0;

	ag->platform->os_name(ag->platform, os, sizeof(os));
	sys_hostname(host, sizeof(host));
	if (ag->platform->get_resolution(ag->platform, &w, &h, &code, why) < 0)
		w = h = 0;
	json_object_object_add(res, "os", json_object_new_string(os));
	json_object_object_add(res, "hostname", json_object_new_string(host));
	json_object_object_add(res, "agent_version", json_object_new_string(AGENT_VERSION));
	json_object_object_add(res, "uptime_s", json_object_new_int64(sys_uptime_s()));
	json_object_object_add(res, "width", json_object_new_int(w));
	json_object_object_add(res, "height", json_object_new_int(h));
	return reply(ag, m->id, res);
}

static int op_launch(struct agent *ag, const struct nr_msg *m)
{
	const char *program = nr_msg_str(m->body, "program", NULL), *argv[MAX_ARGS + 2], *code = "failed";
	json_object *args = NULL, *res;
	char why[256] = "";
	long long pid = 0;
	size_t n = 0;

	if (!program || !program[0])
		return reply_error(ag, m->id, "bad-request", "launch needs a program");
	argv[n++] = program;
	if (m->body && json_object_object_get_ex(m->body, "args", &args) && args) {
		if (!json_object_is_type(args, json_type_array) || json_object_array_length(args) > MAX_ARGS)
			return reply_error(ag, m->id, "bad-request", "args must be an array of at most 256 strings");
		for (size_t i = 0; i < json_object_array_length(args); i++) {
			json_object *a = json_object_array_get_idx(args, i);
			if (!json_object_is_type(a, json_type_string))
				return reply_error(ag, m->id, "bad-request", "args must be strings");
			argv[n++] = json_object_get_string(a);
		}
	}
	argv[n] = NULL;
	if (ag->platform->launch(ag->platform, program, argv, &pid, &code, why) < 0)
		return reply_error(ag, m->id, code, why);
	logmsg(ag, "launched %s, pid %lld", program, pid);
	res = json_object_new_object();
	json_object_object_add(res, "pid", json_object_new_int64(pid));
	return reply(ag, m->id, res);
}

/* Whether clipboard-get could return this text: at most 512 KiB, in a reply frame (escapes
 * included) under the 1 MiB cap (PROTOCOL.md 5). clipboard-set refuses what it could not
 * return, rather than take it and refuse it later. */
static bool text_fits(const char *text, size_t len)
{
	json_object *res;
	struct nr_buf out;
	bool fits;

	if (len > NR_AGENT_TEXT_MAX)
		return false;
	res = json_object_new_object();
	json_object_object_add(res, "mime", json_object_new_string("text/plain"));
	json_object_object_add(res, "text", json_object_new_string_len(text, (int)len));
	nr_buf_init(&out);
	nr_msg_put_result(&out, NR_AGENT_ID_MAX, res);
	fits = !out.oom && out.len - 2 <= NR_AGENT_FRAME_MAX;
	nr_buf_done(&out);
	json_object_put(res);
	return fits;
}

/* Send data as chunks of request id (PROTOCOL.md 6), and add its size and chunk count to
 * the reply res that completes it. */
static int send_chunks(struct agent *ag, long long id, const struct nr_buf *data, json_object *res)
{
	struct nr_buf out;
	long long chunks = 0;
	int rc = 0;

	nr_buf_init(&out);
	for (size_t off = 0; off < data->len && rc == 0; off += NR_AGENT_CHUNK_MAX, chunks++) {
		size_t n = data->len - off < NR_AGENT_CHUNK_MAX ? data->len - off : NR_AGENT_CHUNK_MAX;
		nr_msg_put_chunk(&out, id, chunks, data->data + off, n);
		rc = send_buf(ag, &out);
	}
	nr_buf_done(&out);
	json_object_object_add(res, "size", json_object_new_int64((long long)data->len));
	json_object_object_add(res, "chunks", json_object_new_int64(chunks));
	return rc;
}

static int op_clipboard_get(struct agent *ag, const struct nr_msg *m)
{
	const char *mime = nr_msg_str(m->body, "mime", "text/plain"), *code = "failed";
	struct nr_buf *data = &ag->down;
	json_object *res;
	char why[256] = "";
	int rc = 0;

	data->len = 0;
	data->oom = false;
	if (ag->platform->clipboard_get(ag->platform, mime, data, &code, why) < 0)
		return reply_error(ag, m->id, code, why);
	if (data->oom || data->len > NR_AGENT_TRANSFER_MAX) {
		nr_buf_done(data);
		return reply_error(ag, m->id, "too-large", "the clipboard holds more than 64 MiB");
	}
	res = json_object_new_object();
	json_object_object_add(res, "mime", json_object_new_string(mime));
	if (is_text(mime)) {
		if (!nr_utf8_valid(data->data ? data->data : "", data->len)) {
			json_object_put(res);
			return reply_error(ag, m->id, "failed", "the clipboard text is not UTF-8");
		}
		if (data->len > NR_AGENT_TEXT_MAX) {
			json_object_put(res);
			return reply_error(ag, m->id, "too-large", "the clipboard text is over 512 KiB");
		}
		json_object_object_add(res, "text", json_object_new_string_len(data->data ? data->data : "",
										(int)data->len));
	} else
		rc = send_chunks(ag, m->id, data, res);
	/* kept for the next request, unless a very large image made it grow past 32 MiB */
	if (data->cap > (32u << 20))
		nr_buf_done(data);
	if (rc < 0) {
		json_object_put(res);
		return rc;
	}
	return reply(ag, m->id, res);
}

static int op_clipboard_set(struct agent *ag, const struct nr_msg *m)
{
	const char *mime = nr_msg_str(m->body, "mime", NULL), *code = "failed", *text;
	char why[256] = "";
	json_object *t;
	int rc;

	if (!mime || !mime[0] || strlen(mime) > 63)
		return reply_error(ag, m->id, "bad-request", "clipboard-set needs a mime type");
	if (is_text(mime)) {
		if (!json_object_object_get_ex(m->body, "text", &t) || !json_object_is_type(t, json_type_string))
			return reply_error(ag, m->id, "bad-request", "clipboard-set of text needs text");
		text = json_object_get_string(t);
		if (!text_fits(text, (size_t)json_object_get_string_len(t)))
			return reply_error(ag, m->id, "too-large",
					   "clipboard text is at most 512 KiB, and 1 MiB once escaped for the frame");
		rc = ag->platform->clipboard_set(ag->platform, mime, text, (size_t)json_object_get_string_len(t),
						 &code, why);
	} else {
		long long size = nr_msg_int(m->body, "size", -1), chunks = nr_msg_int(m->body, "chunks", -1);
		if (ag->up_id != m->id)
			upload_reset(ag, m->id);
		if (ag->up_code)
			return reply_error(ag, m->id, ag->up_code, ag->up_why);
		if (size != (long long)ag->up.len || chunks != ag->up_seq) {
			snprintf(why, sizeof(why), "announced %lld bytes in %lld chunks, got %zu in %lld", size, chunks,
				 ag->up.len, ag->up_seq);
			return reply_error(ag, m->id, "bad-request", why);
		}
		rc = ag->platform->clipboard_set(ag->platform, mime, ag->up.data ? ag->up.data : "", ag->up.len,
						 &code, why);
	}
	if (rc < 0)
		return reply_error(ag, m->id, code, why);
	return reply(ag, m->id, json_object_new_object());
}

static int op_resolution(struct agent *ag, const struct nr_msg *m, bool set)
{
	const char *code = "failed";
	char why[256] = "";
	int w, h;
	json_object *res;

	if (set) {
		long long lw = nr_msg_int(m->body, "width", 0), lh = nr_msg_int(m->body, "height", 0);
		if (lw < 1 || lh < 1 || lw > 16384 || lh > 16384)
			return reply_error(ag, m->id, "bad-request", "width and height must be 1 to 16384");
		if (ag->platform->set_resolution(ag->platform, (int)lw, (int)lh, &code, why) < 0)
			return reply_error(ag, m->id, code, why);
	}
	if (ag->platform->get_resolution(ag->platform, &w, &h, &code, why) < 0)
		return reply_error(ag, m->id, code, why);
	res = json_object_new_object();
	json_object_object_add(res, "width", json_object_new_int(w));
	json_object_object_add(res, "height", json_object_new_int(h));
	return reply(ag, m->id, res);
}

static int op_shutdown(struct agent *ag, const struct nr_msg *m)
{
	const char *mode = nr_msg_str(m->body, "mode", "poweroff"), *code = "failed";
	char why[256] = "";
	int rc;

	if (strcmp(mode, "poweroff") != 0 && strcmp(mode, "reboot") != 0)
		return reply_error(ag, m->id, "bad-request", "mode is poweroff or reboot");
	if ((rc = reply(ag, m->id, json_object_new_object())) < 0)
		return rc;
	logmsg(ag, "shutdown (%s)", mode);
	if (ag->platform->shutdown(ag->platform, mode, &code, why) < 0)
		logmsg(ag, "shutdown failed: %s", why);
	if (strcmp(ag->platform->name, "memory") == 0)
		ag->exit_after_reply = true;
	return 0;
}

/* ---- The guest's apps and windows (issue 17). */

/* The budget of an apps or windows reply: what is left under the frame cap for the list
 * once the envelope is written; past it the list ends and "truncated" says so. */
#define LIST_BUDGET (NR_AGENT_FRAME_MAX - 4096)

static int unsupported_op(struct agent *ag, long long id, const char *what)
{
	char why[256];

	snprintf(why, sizeof(why), "the %s platform of this agent does not %s (not yet done there)",
		 ag->platform->name, what);
	return reply_error(ag, id, "unsupported", why);
}

static bool utf8_ok(const char *s)
{
	return s && nr_utf8_valid(s, strlen(s));
}

/* A list of strings as JSON, NULL when one is not UTF-8 (the frame would be dropped). */
static json_object *string_list(const char *const *list, size_t max)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; list && list[i] && i < max; i++) {
		if (!utf8_ok(list[i])) {
			json_object_put(arr);
			return NULL;
		}
		json_object_array_add(arr, json_object_new_string(list[i]));
	}
	return arr;
}

struct list_walk {
	json_object *items;
	size_t bytes, skipped, max;
	bool truncated;
};

/* Add item to the walk's list: 1 (stop) once the list is full or the reply would pass the
 * frame cap. */
static int list_add(struct list_walk *w, json_object *item)
{
	size_t len = strlen(json_object_to_json_string_ext(item, JSON_C_TO_STRING_PLAIN)) + 1;

	if (json_object_array_length(w->items) >= w->max || w->bytes + len > LIST_BUDGET) {
		json_object_put(item);
		w->truncated = true;
		return 1;
	}
	w->bytes += len;
	json_object_array_add(w->items, item);
	return 0;
}

static int add_app(void *ctx, const struct agent_app *app)
{
	struct list_walk *w = ctx;
	json_object *o, *args, *exts, *mimes, *icons;

	/* an app whose strings are not UTF-8 cannot travel in JSON: left out and counted */
	if (!utf8_ok(app->id) || !app->id[0] || !utf8_ok(app->name) || !utf8_ok(app->program) ||
	    !(args = string_list(app->args, MAX_ARGS))) {
		w->skipped++;
		return 0;
	}
	exts = string_list(app->extensions, 256);
	mimes = string_list(app->mimes, 256);
	if (!exts || !mimes) {
		json_object_put(args);
		json_object_put(exts);
		json_object_put(mimes);
		w->skipped++;
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(app->id));
	json_object_object_add(o, "name", json_object_new_string(app->name));
	json_object_object_add(o, "program", json_object_new_string(app->program));
	json_object_object_add(o, "args", args);
	json_object_object_add(o, "extensions", exts);
	json_object_object_add(o, "mimes", mimes);
	icons = json_object_new_array();
	if (app->icons & APP_ICON_48)
		json_object_array_add(icons, json_object_new_int(48));
	if (app->icons & APP_ICON_256)
		json_object_array_add(icons, json_object_new_int(256));
	json_object_object_add(o, "icons", icons);
	return list_add(w, o);
}

static int op_apps(struct agent *ag, const struct nr_msg *m)
{
	struct list_walk w = { .items = json_object_new_array(), .max = NR_AGENT_APPS_MAX };
	const char *code = "failed";
	char why[256] = "";
	json_object *res;

	if (!ag->platform->apps) {
		json_object_put(w.items);
		return unsupported_op(ag, m->id, "list its apps");
	}
	if (ag->platform->apps(ag->platform, add_app, &w, &code, why) < 0) {
		json_object_put(w.items);
		return reply_error(ag, m->id, code, why);
	}
	if (w.skipped)
		logmsg(ag, "apps: %zu left out (not UTF-8)", w.skipped);
	res = json_object_new_object();
	json_object_object_add(res, "apps", w.items);
	json_object_object_add(res, "truncated", json_object_new_boolean(w.truncated));
	return reply(ag, m->id, res);
}

static int op_app_icon(struct agent *ag, const struct nr_msg *m)
{
	const char *id = nr_msg_str(m->body, "id", NULL), *code = "failed";
	long long size = nr_msg_int(m->body, "size", 48);
	struct nr_buf png;
	json_object *res;
	char why[256] = "";
	int rc;

	if (!ag->platform->app_icon)
		return unsupported_op(ag, m->id, "give app icons");
	if (!id || !id[0])
		return reply_error(ag, m->id, "bad-request", "app-icon needs an app id");
	if (size != 48 && size != 256)
		return reply_error(ag, m->id, "bad-request", "an icon's size is 48 or 256");
	nr_buf_init(&png);
	if (ag->platform->app_icon(ag->platform, id, (int)size, &png, &code, why) < 0) {
		nr_buf_done(&png);
		return reply_error(ag, m->id, code, why);
	}
	if (png.oom || png.len > NR_AGENT_ICON_MAX) {
		nr_buf_done(&png);
		return reply_error(ag, m->id, "too-large", "the icon is over 4 MiB");
	}
	res = json_object_new_object();
	json_object_object_add(res, "mime", json_object_new_string("image/png"));
	rc = send_chunks(ag, m->id, &png, res);
	nr_buf_done(&png);
	if (rc < 0) {
		json_object_put(res);
		return rc;
	}
	return reply(ag, m->id, res);
}

/* Whether path is one open may take: absolute (/x, or C:\x and \\server\x on Windows),
 * without a ".." part, control characters or NUL; why filled when not. */
static bool guest_path_ok(const char *path, size_t len, char *why)
{
	bool absolute = path[0] == '/' || path[0] == '\\' ||
			(((path[0] | 32) >= 'a' && (path[0] | 32) <= 'z') && path[1] == ':' &&
			 (path[2] == '\\' || path[2] == '/'));

	if (!len || len > NR_AGENT_PATH_MAX || strlen(path) != len) {
		snprintf(why, 256, "open needs a path of 1 to %d bytes", NR_AGENT_PATH_MAX);
		return false;
	}
	if (!absolute) {
		snprintf(why, 256, "open needs an absolute guest path");
		return false;
	}
	for (const char *p = path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(why, 256, "the path has a control character");
			return false;
		}
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, "/\\");
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			snprintf(why, 256, "the path has a \"..\" part: give it without one");
			return false;
		}
		p += n;
		if (*p)
			p++;
	}
	return true;
}

static int op_open(struct agent *ag, const struct nr_msg *m)
{
	const char *app = nr_msg_str(m->body, "app", NULL), *code = "failed", *path;
	json_object *p, *res;
	char why[256] = "";
	long long pid = 0;

	if (!ag->platform->open)
		return unsupported_op(ag, m->id, "open files");
	if (!m->body || !json_object_object_get_ex(m->body, "path", &p) || !json_object_is_type(p, json_type_string))
		return reply_error(ag, m->id, "bad-request", "open needs a path");
	path = json_object_get_string(p);
	if (!guest_path_ok(path, (size_t)json_object_get_string_len(p), why))
		return reply_error(ag, m->id, "bad-request", why);
	if (app && !app[0])
		app = NULL;
	if (ag->platform->open(ag->platform, path, app, &pid, &code, why) < 0)
		return reply_error(ag, m->id, code, why);
	logmsg(ag, "opened %s with %s, pid %lld", path, app ? app : "the default", pid);
	res = json_object_new_object();
	json_object_object_add(res, "pid", json_object_new_int64(pid));
	return reply(ag, m->id, res);
}

static int add_window(void *ctx, const struct agent_window *win)
{
	struct list_walk *w = ctx;
	json_object *o;

	if (!utf8_ok(win->id) || !win->id[0] || !utf8_ok(win->title) || !utf8_ok(win->app)) {
		w->skipped++;
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(win->id));
	json_object_object_add(o, "title", json_object_new_string(win->title));
	json_object_object_add(o, "app", json_object_new_string(win->app));
	json_object_object_add(o, "pid", json_object_new_int64(win->pid));
	return list_add(w, o);
}

static int op_windows(struct agent *ag, const struct nr_msg *m)
{
	struct list_walk w = { .items = json_object_new_array(), .max = NR_AGENT_WINDOWS_MAX };
	const char *code = "failed";
	char why[256] = "";
	json_object *res;

	if (!ag->platform->windows) {
		json_object_put(w.items);
		return unsupported_op(ag, m->id, "list windows");
	}
	if (ag->platform->windows(ag->platform, add_window, &w, &code, why) < 0) {
		json_object_put(w.items);
		return reply_error(ag, m->id, code, why);
	}
	res = json_object_new_object();
	json_object_object_add(res, "windows", w.items);
	json_object_object_add(res, "truncated", json_object_new_boolean(w.truncated));
	return reply(ag, m->id, res);
}

static int op_window(struct agent *ag, const struct nr_msg *m, bool closing)
{
	int (*fn)(struct agent_platform *, const char *, const char **, char *) =
		closing ? ag->platform->window_close : ag->platform->window_focus;
	const char *id = nr_msg_str(m->body, "id", NULL), *code = "failed";
	char why[256] = "";

	if (!fn)
		return unsupported_op(ag, m->id, closing ? "close windows" : "focus windows");
	if (!id || !id[0] || strlen(id) > 64)
		return reply_error(ag, m->id, "bad-request", "a window op needs the window's id (from windows)");
	if (fn(ag->platform, id, &code, why) < 0)
		return reply_error(ag, m->id, code, why);
	return reply(ag, m->id, json_object_new_object());
}

/* ---- The shared folders (issue 17): {"shares":[{"name":"Documents","path":"Z:\\"}]} */

#define SHARES_MAX 256

static int add_share(void *ctx, const struct agent_share *share)
{
	struct list_walk *w = ctx;
	json_object *o;

	if (!utf8_ok(share->name) || !share->name[0] || !utf8_ok(share->path) || !share->path[0]) {
		w->skipped++;
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(share->name));
	json_object_object_add(o, "path", json_object_new_string(share->path));
	return list_add(w, o);
}

static int op_shares(struct agent *ag, const struct nr_msg *m)
{
	struct list_walk w = { .items = json_object_new_array(), .max = SHARES_MAX };
	const char *code = "failed";
	char why[256] = "";
	json_object *res;

	if (!ag->platform->shares) {
		json_object_put(w.items);
		return unsupported_op(ag, m->id, "report shared folders");
	}
	if (ag->platform->shares(ag->platform, ag->bundle, add_share, &w, &code, why) < 0) {
		json_object_put(w.items);
		return reply_error(ag, m->id, code, why);
	}
	res = json_object_new_object();
	json_object_object_add(res, "shares", w.items);
	return reply(ag, m->id, res);
}

static int handle_request(struct agent *ag, const struct nr_msg *m)
{
	int rc;

	if (strcmp(m->name, "hello") == 0)
		rc = op_hello(ag, m);
	else if (strcmp(m->name, "ping") == 0)
		rc = reply(ag, m->id, json_object_new_object());
	else if (strcmp(m->name, "info") == 0)
		rc = op_info(ag, m);
	else if (strcmp(m->name, "launch") == 0)
		rc = op_launch(ag, m);
	else if (strcmp(m->name, "clipboard-get") == 0)
		rc = op_clipboard_get(ag, m);
	else if (strcmp(m->name, "clipboard-set") == 0)
		rc = op_clipboard_set(ag, m);
	else if (strcmp(m->name, "get-resolution") == 0)
		rc = op_resolution(ag, m, false);
	else if (strcmp(m->name, "set-resolution") == 0)
		rc = op_resolution(ag, m, true);
	else if (strcmp(m->name, "shutdown") == 0)
		rc = op_shutdown(ag, m);
	else if (strcmp(m->name, "apps") == 0)
		rc = op_apps(ag, m);
	else if (strcmp(m->name, "app-icon") == 0)
		rc = op_app_icon(ag, m);
	else if (strcmp(m->name, "open") == 0)
		rc = op_open(ag, m);
	else if (strcmp(m->name, "windows") == 0)
		rc = op_windows(ag, m);
	else if (strcmp(m->name, "window-focus") == 0)
		rc = op_window(ag, m, false);
	else if (strcmp(m->name, "window-close") == 0)
		rc = op_window(ag, m, true);
	else if (strcmp(m->name, "shares") == 0)
		rc = op_shares(ag, m);
	else
		rc = reply_error(ag, m->id, "unknown-op", "this agent does not know that operation");
	if (ag->up_id == m->id)
		upload_reset(ag, 0);
	return rc;
}

static int send_events(struct agent *ag)
{
	char mime[64] = "text/plain";
	long long size = 0;
	int changed = ag->platform->poll_changes(ag->platform, mime, sizeof(mime), &size), rc = 0;
	struct nr_buf out;
	json_object *d;

	nr_buf_init(&out);
	if (changed & PLATFORM_CLIPBOARD_CHANGED) {
		d = json_object_new_object();
		json_object *mimes = json_object_new_array();
		json_object_array_add(mimes, json_object_new_string(mime));
		json_object_object_add(d, "mimes", mimes);
		json_object_object_add(d, "size", json_object_new_int64(size));
		nr_msg_put_event(&out, "clipboard-changed", d);
		json_object_put(d);
	}
	if (changed & PLATFORM_RESOLUTION_CHANGED) {
		const char *code;
		char why[256];
		int w, h;
		if (ag->platform->get_resolution(ag->platform, &w, &h, &code, why) == 0) {
			d = json_object_new_object();
			json_object_object_add(d, "width", json_object_new_int(w));
			json_object_object_add(d, "height", json_object_new_int(h));
			nr_msg_put_event(&out, "resolution-changed", d);
			json_object_put(d);
		}
	}
	if (out.len)
		rc = send_buf(ag, &out);
	nr_buf_done(&out);
	return rc;
}

/* Serve one TLS session until it ends: 0 when the host went away, 1 to exit. */
static int serve_session(struct agent *ag)
{
	struct nr_error err = { 0 };
	const char *text;
	size_t len;
	int rc;

	for (;;) {
		rc = nr_tls_link_recv(ag->link, &text, &len, IDLE_POLL_MS, &err);
		if (rc == -NR_E_TIMEOUT) {
			/* idle: launched programs that ended (spawn_detached leaves none of its
			 * own, but a port's may), then what changed in the guest */
			sys_reap_children();
			if (send_events(ag) < 0)
				return 0;
			continue;
		}
		if (rc == -NR_E_AGENT_FRAME) {
			if (reply_error(ag, -1, "bad-request", err.msg) < 0)
				return 0;
			continue;
		}
		if (rc < 0) {
			logmsg(ag, "session ended: %s", err.msg);
			return 0;
		}
		struct nr_msg m;
		if (nr_msg_decode(text, len, &m, &err) < 0) {
			/* with the id when the frame had one: the host waits for it (PROTOCOL.md 5) */
			if (reply_error(ag, m.id, "bad-request", err.msg) < 0)
				return 0;
			continue;
		}
		if (m.kind == NR_MSG_CHUNK)
			on_chunk(ag, &m);
		else if (m.kind == NR_MSG_REQUEST)
			rc = handle_request(ag, &m);
		else if (m.id > 0)
			rc = reply_error(ag, m.id, "bad-request", "the agent takes requests and chunks only");
		nr_msg_done(&m);
		if (rc < 0)
			return 0;
		if (ag->exit_after_reply)
			return 1;
	}
}

/* Handshakes and sessions on one stream until it ends: 0 at its end, 1 to exit. A
 * connection (--listen, where sys_listen_connections) is the only slot there is: it must
 * bring a handshake within CONNECTION_MS (from its first byte on, however slowly the bytes
 * come), and is closed when that fails or its session ends; a port (or stdio) has no
 * connections and goes on scanning. */
static int serve_stream(struct agent *ag, const struct nr_tls_creds *creds, struct sys_stream *s,
			bool connection)
{
	struct nr_error err = { 0 };
	int rc = 0;

	if (sys_stream_link(s, creds, &ag->link, &err) < 0) {
		fprintf(stderr, "neuron-agent: %s\n", err.msg);
		return 1;
	}
	nr_tls_link_set_stall(ag->link, STALL_MS);
	for (;;) {
		rc = nr_tls_link_accept(ag->link, connection ? CONNECTION_MS : -1, &err);
		if (rc == -NR_E_AGENT_CLOSED || rc == -NR_E_NOMEM) {
			rc = 0;
			break;
		}
		if (rc < 0 && connection) {
			if (rc == -NR_E_AGENT_CERT)
				fprintf(stderr, "neuron-agent: handshake refused: %s\n", err.msg);
			else
				logmsg(ag, "connection closed: %s", err.msg);
			rc = 0;
			break;
		}
		if (rc == -NR_E_AGENT_CERT) {
			/* a host with the wrong credentials: said always, --verbose or not */
			fprintf(stderr, "neuron-agent: handshake refused: %s\n", err.msg);
			continue;
		}
		if (rc < 0) {
			logmsg(ag, "handshake refused: %s", err.msg);
			continue; /* back to scanning the same stream */
		}
		logmsg(ag, "session with host %s", nr_tls_link_peer_fingerprint(ag->link));
		if ((rc = serve_session(ag)) == 1 || connection)
			break; /* a host on a socket connects again for its next session */
	}
	nr_tls_link_free(ag->link);
	ag->link = NULL;
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: neuron-agent [--port PATH | --listen PATH | --stdio] [--certs DIR]\n"
		"                    [--platform %s|memory] [--verbose]\n\n"
		"The NeuronOS guest agent (docs/PROTOCOL.md): serves the host over the virtio-serial\n"
		"port, TLS 1.3 with the certificates from `neuronctl agent certs VM --bundle DIR`.\n\n"
		"  --port PATH      the virtio-serial port (default %s)\n"
		"  --listen PATH    serve a unix socket instead, one host at a time (tests, demos)\n"
		"  --stdio          serve stdin/stdout; exit at the end of input\n"
		"  --certs DIR      ca.pem, guest.pem, guest.key, host.pem (default %s)\n"
		"  --platform P     %s (default: %s)\n"
		"                   or memory (clipboard and resolution in memory, for tests;\n"
		"                   SIGUSR1 plays a copy in the guest, SIGUSR2 a resolution change)\n"
		"  --verbose        log sessions and refusals to stderr\n"
		"  --version        print the version\n",
		sys_desktop_name, sys_default_port, sys_default_certs, sys_desktop_name, sys_desktop_help);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' }, { "listen", required_argument, NULL, 'l' },
		{ "stdio", no_argument, NULL, 's' },      { "certs", required_argument, NULL, 'c' },
		{ "platform", required_argument, NULL, 'P' }, { "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },    { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *port = sys_default_port, *listen_path = NULL, *certs = sys_default_certs;
	const char *platform = sys_desktop_name;
	struct agent ag = { 0 };
	struct nr_tls_creds *creds = NULL;
	struct nr_error err = { 0 };
	struct sys_stream *stream;
	bool use_stdio = false;
	char why[256];
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		switch (c) {
		case 'p': port = optarg; break;
		case 'l': listen_path = optarg; break;
		case 's': use_stdio = true; break;
		case 'c': certs = optarg; break;
		case 'P': platform = optarg; break;
		case 'v': ag.verbose = true; break;
		case 'V': printf("neuron-agent %s (protocol %d)\n", AGENT_VERSION, NR_AGENT_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	sys_init();
	if (strcmp(platform, "memory") == 0)
		ag.platform = platform_memory_new();
	else if (strcmp(platform, sys_desktop_name) == 0)
		ag.platform = sys_desktop_new();
	else {
		fprintf(stderr, "neuron-agent: unknown platform '%s' (%s or memory)\n", platform, sys_desktop_name);
		return 2;
	}
	if (!ag.platform) {
		fprintf(stderr, "neuron-agent: out of memory\n");
		return 1;
	}
	ag.bundle = certs;
	nr_buf_init(&ag.up);
	nr_buf_init(&ag.down);
	if (nr_tls_creds_load(certs, NR_TLS_GUEST, &creds, &err) < 0) {
		fprintf(stderr, "neuron-agent: %s\n", err.msg);
		rc = 1;
		goto out;
	}
	logmsg(&ag, "certificate %s, pinned host %s", nr_tls_creds_fingerprint(creds),
	       nr_tls_creds_peer_fingerprint(creds));
	if (use_stdio) {
		if (sys_open_stdio(&stream, why) < 0) {
			fprintf(stderr, "neuron-agent: %s\n", why);
			rc = 1;
			goto out;
		}
		serve_stream(&ag, creds, stream, false);
		sys_stream_close(stream);
	} else if (listen_path) {
		struct sys_listener *listener;
		if (sys_listen(listen_path, &listener, why) < 0) {
			fprintf(stderr, "neuron-agent: %s\n", why);
			rc = 1;
			goto out;
		}
		logmsg(&ag, "listening on %s", listen_path);
		for (;;) {
			if (sys_accept(listener, &stream, why) < 0) {
				fprintf(stderr, "neuron-agent: %s\n", why);
				rc = 1;
				break;
			}
			int done = serve_stream(&ag, creds, stream, sys_listen_connections);
			sys_stream_close(stream);
			if (done == 1)
				break;
		}
		sys_listener_close(listener);
	} else {
		for (;;) {
			if (sys_open_port(port, &stream, why) < 0) {
				fprintf(stderr, "neuron-agent: %s\n", why);
				rc = 1;
				break;
			}
			int done = serve_stream(&ag, creds, stream, false);
			sys_stream_close(stream);
			if (done == 1)
				break;
			nr_sleep_ms(500); /* the host is not connected: try again in a while */
		}
	}
out:
	nr_tls_creds_free(creds);
	nr_buf_done(&ag.up);
	nr_buf_done(&ag.down);
	ag.platform->free(ag.platform);
	return rc;
}
