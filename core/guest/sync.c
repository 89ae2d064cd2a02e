/* The clipboard kept in sync between the host desktop and a VM's agent (neuron/sync.h).
 *
 * Echo loops: each side's content is known by its digest (FNV-1a of the type and the
 * bytes). What sync gives a side becomes that side's known digest, so the change
 * notification it causes there reads back the same digest and goes nowhere.
 *
 * Reconnects: the agent client reconnects by itself; sync notices a new session by the
 * client's handshake count and resyncs once: the side that changed since the last content
 * both held ("synced") wins, the host first; a guest that lost its clipboard (an agent
 * restarted, a VM rebooted) gets the host's again; when both hold the same, nothing moves. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "neuron/agent.h"
#include "neuron/agent_proto.h"
#include "neuron/clock.h"
#include "neuron/desktop.h"
#include "neuron/lg.h"
#include "neuron/profile.h"
#include "neuron/sync.h"
#include "base/internal.h"

#define TOOL_MS 3000            /* one read or write of the host clipboard */
#define POLL_HOST_MS 500        /* only where the desktop gives no notification */
#define LG_CHECK_MS 1000        /* shared memory has no notification: its header is read */
#define WAIT_MS 100             /* one wait for the agent's events */
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000

struct content {
	const char *mime;               /* static: "text/plain" or "image/png" */
	struct nr_buf data;
	unsigned long long digest;
};

struct sync {
	const struct nr_ctx *ctx;
	const struct nr_sync_opts *o;
	struct nr_agent *agent;
	struct nr_desktop *desk;
	size_t cap;
	unsigned long long host_digest, guest_digest, synced; /* 0: unknown */
	bool paused, connected;
	unsigned long connects;
	char *status_path;
	struct nr_sync_status st;
};

static unsigned long long digest(const char *mime, const void *data, size_t len)
{
	unsigned long long h = 1469598103934665603ull;
	const unsigned char *p = (const unsigned char *)mime;

	for (; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	p = data;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h ? h : 1;
}

const char *nr_sync_dir_name(enum nr_sync_dir d)
{
	return d == NR_SYNC_TO_GUEST ? "host -> guest" : d == NR_SYNC_TO_HOST ? "guest -> host" : "none";
}

static void report(struct sync *s, enum nr_sync_report_kind kind, enum nr_sync_dir dir, const char *mime,
		   size_t size, const char *text)
{
	struct nr_sync_report r = { kind, dir, mime, size, text };

	if (s->o->report)
		s->o->report(s->o->userdata, &r);
}

/* ---- the status file */

/* The VM's name is one file name there: never a path (NULL for one that is not). */
static bool vm_name_ok(const char *vm)
{
	return vm && vm[0] && vm[0] != '.' && !strchr(vm, '/') && strlen(vm) < 200;
}

static char *status_path(const struct nr_ctx *ctx, const char *vm)
{
	char *dir = vm_name_ok(vm) ? nr_ctx_runtime_dir(ctx) : NULL, *path = NULL;

	if (dir && asprintf(&path, "%s/sync/%s.json", dir, vm) < 0)
		path = NULL;
	free(dir);
	return path;
}

/* Written to a temporary file and renamed over the old one: a reader sees one or the
 * other, never half. Failing to write it stops nothing (the panel then shows no sync). */
static void status_write(struct sync *s)
{
	json_object *j = json_object_new_object();
	char *tmp = NULL, *slash;
	const char *text;
	int fd;

	if (!s->status_path || !j)
		goto out;
	json_object_object_add(j, "vm", json_object_new_string(s->o->vm));
	json_object_object_add(j, "pid", json_object_new_int64(s->st.pid));
	json_object_object_add(j, "state", json_object_new_string(s->st.state));
	json_object_object_add(j, "why", json_object_new_string(s->st.why));
	json_object_object_add(j, "agent_connected", json_object_new_boolean(s->connected));
	json_object_object_add(j, "started", json_object_new_int64(s->st.started));
	json_object_object_add(j, "transfers", json_object_new_int64((long long)s->st.transfers));
	if (s->st.last_at) {
		json_object *t = json_object_new_object();
		json_object_object_add(t, "direction", json_object_new_string(s->st.last_dir == NR_SYNC_TO_GUEST
										? "to-guest" : "to-host"));
		json_object_object_add(t, "at", json_object_new_int64(s->st.last_at));
		json_object_object_add(t, "mime", json_object_new_string(s->st.last_mime));
		json_object_object_add(t, "size", json_object_new_int64(s->st.last_size));
		json_object_object_add(j, "last", t);
	}
	text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
	if (asprintf(&tmp, "%s.%lld.tmp", s->status_path, s->st.pid) < 0) {
		tmp = NULL;
		goto out;
	}
	slash = strrchr(tmp, '/');
	*slash = '\0';
	nr_mkdir_p(tmp, 0700, NULL);
	*slash = '/';
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	size_t len = strlen(text);
	bool ok = write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1;
	if (close(fd) != 0 || !ok || rename(tmp, s->status_path) != 0)
		unlink(tmp);
out:
	free(tmp);
	json_object_put(j);
}

static void set_state(struct sync *s, const char *state, const char *why)
{
	snprintf(s->st.state, sizeof(s->st.state), "%s", state);
	snprintf(s->st.why, sizeof(s->st.why), "%.255s", why ? why : "");
	status_write(s);
}

int nr_sync_status_parse(const char *text, struct nr_sync_status *st, struct nr_error *err)
{
	json_object *j = json_tokener_parse(text), *v, *last;

	memset(st, 0, sizeof(*st));
	if (!j || !json_object_is_type(j, json_type_object) || !json_object_object_get_ex(j, "pid", &v) ||
	    !json_object_is_type(v, json_type_int)) {
		json_object_put(j);
		return nr_error_set(err, -NR_E_PARSE, "not a sync status (no pid)");
	}
	st->pid = json_object_get_int64(v);
	if (json_object_object_get_ex(j, "state", &v))
		snprintf(st->state, sizeof(st->state), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(j, "why", &v))
		snprintf(st->why, sizeof(st->why), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(j, "agent_connected", &v))
		st->agent_connected = json_object_get_boolean(v);
	if (json_object_object_get_ex(j, "started", &v))
		st->started = (time_t)json_object_get_int64(v);
	if (json_object_object_get_ex(j, "transfers", &v))
		st->transfers = (unsigned long)json_object_get_int64(v);
	if (json_object_object_get_ex(j, "last", &last) && json_object_is_type(last, json_type_object)) {
		if (json_object_object_get_ex(last, "direction", &v))
			st->last_dir = strcmp(json_object_get_string(v), "to-guest") == 0 ? NR_SYNC_TO_GUEST
										      : NR_SYNC_TO_HOST;
		if (json_object_object_get_ex(last, "at", &v))
			st->last_at = (time_t)json_object_get_int64(v);
		if (json_object_object_get_ex(last, "mime", &v))
			snprintf(st->last_mime, sizeof(st->last_mime), "%s", json_object_get_string(v));
		if (json_object_object_get_ex(last, "size", &v))
			st->last_size = json_object_get_int64(v);
	}
	json_object_put(j);
	return 0;
}

int nr_sync_status_read(const struct nr_ctx *ctx, const char *vm, struct nr_sync_status *st, struct nr_error *err)
{
	char *path = status_path(ctx, vm), *text = NULL;
	size_t len;
	int rc;

	memset(st, 0, sizeof(*st));
	if (!vm_name_ok(vm))
		return nr_error_set(err, -NR_E_INVAL, "'%s' cannot name a sync status file", vm ? vm : "");
	if (!path)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	rc = nr_read_file_max(path, 65536, &text, &len, err);
	if (rc < 0 && access(path, F_OK) != 0)
		rc = nr_error_set(err, -NR_E_NOTFOUND, "no clipboard sync ran for %s", vm);
	free(path);
	if (rc < 0)
		return rc;
	rc = nr_sync_status_parse(text, st, err);
	free(text);
	/* a sync that ended without a word (killed) leaves its file: its pid tells */
	if (rc == 0)
		st->running = st->pid > 0 && (kill((pid_t)st->pid, 0) == 0 || errno == EPERM);
	return rc;
}

int nr_sync_check_free(const struct nr_ctx *ctx, const char *vm, struct nr_error *err)
{
	struct nr_sync_status st;
	struct nr_error none = { 0 };

	if (!vm_name_ok(vm) || nr_sync_status_read(ctx, vm, &st, &none) < 0 || !st.running ||
	    st.pid == (long long)getpid())
		return 0;
	return nr_error_set(err, -NR_E_BUSY, "agent sync (pid %lld) holds the agent of %s, which serves one host at "
			    "a time: stop it first (systemctl --user stop neuron-sync@%s.service, or end that "
			    "neuronctl agent sync), then start it again after", st.pid, vm, vm);
}

int nr_sync_parse_size(const char *text, size_t *bytes, struct nr_error *err)
{
	uint64_t v = 0;
	int rc = nr_parse_size(text ? text : "", &v, err);

	if (rc < 0)
		return rc;
	if (v == 0 || v > NR_AGENT_TRANSFER_MAX)
		return nr_error_set(err, -NR_E_INVAL, "%s is not a clipboard cap: 1K to 64M (one agent transfer)", text);
	*bytes = (size_t)v;
	return 0;
}

/* ---- moving content */

static void content_done(struct content *c)
{
	nr_buf_done(&c->data);
}

/* The host clipboard now: 1 with c filled, 0 when it holds neither text nor PNG, <0 when
 * it cannot be read (why filled). */
static int host_read(struct sync *s, struct content *c, char *why)
{
	long long deadline = nr_now_ms() + TOOL_MS;
	const char *mime;
	int rc;

	nr_buf_init(&c->data);
	rc = nr_desktop_clip_offers(s->desk, deadline, &mime, why);
	if (rc > 0 || (rc == 0 && !mime))
		return 0;
	if (rc < 0)
		return -1;
	rc = nr_desktop_clip_read(s->desk, mime, &c->data, deadline, why);
	if (rc != 0 || c->data.oom) {
		if (rc == 0)
			snprintf(why, 256, "out of memory reading the host clipboard");
		content_done(c);
		return rc > 0 ? 0 : -1;
	}
	c->mime = mime;
	c->digest = digest(mime, c->data.data ? c->data.data : "", c->data.len);
	return 1;
}

/* The guest clipboard as mime (NULL: text, else PNG): 1, 0 when it holds no such thing,
 * <0 when the agent did not answer (err). */
static int guest_read(struct sync *s, const char *mime, struct content *c, struct nr_error *err)
{
	static const char *const kinds[] = { "text/plain", "image/png" };
	unsigned char *data = NULL;
	size_t len = 0;

	nr_buf_init(&c->data);
	for (size_t i = 0; i < 2; i++) {
		if (mime && strcmp(mime, kinds[i]) != 0)
			continue;
		struct nr_error e = { 0 };
		int rc = nr_agent_clipboard_get(s->agent, kinds[i], &data, &len, &e);
		if (rc == -NR_E_AGENT_REMOTE) /* it holds no such thing */
			continue;
		if (rc < 0) {
			if (err)
				*err = e;
			return rc;
		}
		nr_buf_append(&c->data, (const char *)data, len);
		free(data);
		c->mime = kinds[i];
		c->digest = digest(kinds[i], c->data.data ? c->data.data : "", c->data.len);
		return c->data.oom ? -NR_E_NOMEM : 1;
	}
	return 0;
}

static bool over_cap(struct sync *s, enum nr_sync_dir dir, const char *mime, size_t size)
{
	char text[256];

	if (size <= s->cap)
		return false;
	snprintf(text, sizeof(text), "not copied %s: %s of %zu bytes is over the cap of %zu bytes (--cap SIZE)",
		 nr_sync_dir_name(dir), mime, size, s->cap);
	report(s, NR_SYNC_REFUSED, dir, mime, size, text);
	return true;
}

static void transferred(struct sync *s, enum nr_sync_dir dir, const struct content *c)
{
	s->host_digest = s->guest_digest = s->synced = c->digest;
	s->st.transfers++;
	s->st.last_dir = dir;
	s->st.last_at = time(NULL);
	snprintf(s->st.last_mime, sizeof(s->st.last_mime), "%s", c->mime);
	s->st.last_size = (long long)c->data.len;
	status_write(s);
	report(s, NR_SYNC_TRANSFER, dir, c->mime, c->data.len, NULL);
}

static int to_guest(struct sync *s, const struct content *c)
{
	struct nr_error e = { 0 };

	if (over_cap(s, NR_SYNC_TO_GUEST, c->mime, c->data.len))
		return 0;
	if (nr_agent_clipboard_set(s->agent, c->mime, c->data.data ? c->data.data : "", c->data.len, &e) < 0) {
		report(s, NR_SYNC_FAILED, NR_SYNC_TO_GUEST, c->mime, c->data.len, e.msg);
		return -1;
	}
	transferred(s, NR_SYNC_TO_GUEST, c);
	return 0;
}

static int to_host(struct sync *s, const struct content *c)
{
	const void *data = c->data.data ? c->data.data : "";
	char why[256] = "";
	int rc;

	if (over_cap(s, NR_SYNC_TO_HOST, c->mime, c->data.len))
		return 0;
	/* known before the host's own notification of it comes */
	s->host_digest = c->digest;
	rc = nr_desktop_clip_own(s->desk, c->mime, data, c->data.len, TOOL_MS, why);
	if (rc == 0)
		rc = nr_desktop_clip_confirm(s->desk, c->mime, data, c->data.len, nr_now_ms() + TOOL_MS, why);
	if (rc != 0) {
		report(s, NR_SYNC_FAILED, NR_SYNC_TO_HOST, c->mime, c->data.len, why);
		return -1;
	}
	transferred(s, NR_SYNC_TO_HOST, c);
	return 0;
}

/* The host's clipboard may have changed. False, with why filled, when the desktop session
 * is gone (its display server does not answer): sync ends then. */
static bool host_changed(struct sync *s, char *why)
{
	struct content c;
	int rc = host_read(s, &c, why);

	if (rc <= 0)
		return nr_desktop_answers(s->desk, why);
	if (c.digest != s->host_digest) {
		s->host_digest = c.digest;
		if (!s->paused && s->connected && c.digest != s->guest_digest)
			to_guest(s, &c);
	}
	content_done(&c);
	return true;
}

static void guest_changed(struct sync *s, const struct nr_agent_event *ev)
{
	struct nr_error e = { 0 };
	struct content c;
	const char *mime = strcmp(ev->mime, "image/png") == 0 ? "image/png" : "text/plain";

	if (s->paused)
		return;
	if (strcmp(ev->mime, "text/plain") != 0 && strcmp(ev->mime, "image/png") != 0)
		return; /* a type sync does not carry */
	if (ev->size > 0 && over_cap(s, NR_SYNC_TO_HOST, mime, (size_t)ev->size))
		return;
	if (guest_read(s, mime, &c, &e) <= 0)
		return;
	if (c.digest != s->guest_digest) {
		s->guest_digest = c.digest;
		if (c.digest != s->host_digest)
			to_host(s, &c);
	}
	content_done(&c);
}

/* Once per new session (and on resuming): see the comment at the top. */
static void resync(struct sync *s)
{
	struct content h, g;
	struct nr_error e = { 0 };
	char why[256] = "";
	int have_h = host_read(s, &h, why), have_g = guest_read(s, NULL, &g, &e);

	if (have_g < 0) { /* the session ended again: the next one resyncs */
		if (have_h > 0)
			content_done(&h);
		return;
	}
	if (have_h > 0)
		s->host_digest = h.digest;
	if (have_g > 0)
		s->guest_digest = g.digest;
	if (have_h > 0 && have_g > 0 && h.digest == g.digest)
		s->synced = s->guest_digest = h.digest;
	else if (have_h > 0 && h.digest != s->synced)
		to_guest(s, &h);
	else if (have_g > 0 && g.digest != s->synced)
		to_host(s, &g);
	else if (have_h > 0)
		to_guest(s, &h); /* the guest lost what it held */
	if (have_h > 0)
		content_done(&h);
	if (have_g > 0)
		content_done(&g);
}

static void check_lg(struct sync *s)
{
	char why[512] = "";
	bool carries = nr_lg_carries_clipboard(s->o->lg_shm, s->o->spice, why, sizeof(why));

	if (carries == s->paused)
		return;
	s->paused = carries;
	if (carries) {
		set_state(s, "paused", why);
		report(s, NR_SYNC_PAUSED, NR_SYNC_NONE, NULL, 0, why);
	} else {
		set_state(s, s->connected ? "syncing" : "waiting", NULL);
		report(s, NR_SYNC_RESUMED, NR_SYNC_NONE, NULL, 0, "Looking Glass no longer carries the clipboard");
		if (s->connected)
			resync(s);
	}
}

int nr_sync_run(const struct nr_ctx *ctx, struct nr_agent *agent, const struct nr_sync_opts *o,
		struct nr_error *err)
{
	struct sync s = { .ctx = ctx, .o = o, .agent = agent, .cap = o->cap ? o->cap : NR_SYNC_CAP_DEFAULT };
	long long next_try = 0, next_lg = 0, next_poll = 0, backoff = BACKOFF_MIN_MS;
	bool told_down = false;
	struct nr_error ended = { 0 };
	const char *how;
	int wfd = -1, rc, end_rc = 0;

	if (!(s.desk = nr_desktop_new()))
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	if ((rc = nr_desktop_check(s.desk, err)) < 0 || (rc = nr_desktop_watch(s.desk, &wfd, &how, err)) < 0) {
		nr_desktop_free(s.desk);
		return rc;
	}
	report(&s, NR_SYNC_WATCHING, NR_SYNC_NONE, NULL, 0, how);
	s.status_path = status_path(ctx, o->vm);
	s.st.pid = getpid();
	s.st.started = time(NULL);
	set_state(&s, "waiting", "connecting to the agent");

	while (!*o->stop) {
		long long now = nr_now_ms();
		struct nr_agent_status ast;
		struct nr_agent_event ev;
		struct nr_error e = { 0 };

		if (now >= next_lg) {
			check_lg(&s);
			next_lg = now + LG_CHECK_MS;
		}
		nr_agent_get_status(agent, &ast);
		if (!ast.connected && s.connected) {
			s.connected = false;
			next_try = now;
			status_write(&s);
		}
		if (!s.connected && now >= next_try) {
			if (nr_agent_connect(agent, &e) < 0) {
				if (!told_down) {
					if (s.paused) /* paused says more; the file still tells the agent is gone */
						status_write(&s);
					else
						set_state(&s, "waiting", e.msg);
					report(&s, NR_SYNC_DISCONNECTED, NR_SYNC_NONE, NULL, 0, e.msg);
					told_down = true;
				}
				next_try = nr_now_ms() + backoff;
				backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			} else {
				s.connected = true;
				told_down = false;
				backoff = BACKOFF_MIN_MS;
				nr_agent_get_status(agent, &ast);
				s.connects = ast.connects;
				if (!s.paused)
					set_state(&s, "syncing", NULL);
				report(&s, NR_SYNC_CONNECTED, NR_SYNC_NONE, NULL, 0, NULL);
				if (!s.paused)
					resync(&s);
			}
		}
		/* the host: its notification, or a look every POLL_HOST_MS where it gives none */
		wfd = nr_desktop_watch_fd(s.desk);
		char gone[256] = "";
		bool alive = true;
		if (wfd >= 0) {
			struct pollfd pf = { .fd = wfd, .events = POLLIN };
			if (poll(&pf, 1, s.connected ? 0 : WAIT_MS) > 0 && nr_desktop_watch_ack(s.desk))
				alive = host_changed(&s, gone);
			if (alive && nr_desktop_watch_fd(s.desk) < 0)
				report(&s, NR_SYNC_WATCHING, NR_SYNC_NONE, NULL, 0,
				       "polling: the desktop's change notification ended");
		} else if (nr_now_ms() >= next_poll) {
			alive = host_changed(&s, gone);
			next_poll = nr_now_ms() + POLL_HOST_MS;
		} else if (!s.connected) {
			nr_sleep_ms(WAIT_MS);
		}
		if (!alive) { /* the session ended: nothing left to sync with */
			end_rc = nr_error_set(&ended, -NR_E_UNSUPPORTED, "the desktop session ended: %s", gone);
			break;
		}
		if (!s.connected)
			continue;
		/* the guest: its events */
		rc = nr_agent_wait_event(agent, WAIT_MS, &ev, &e);
		nr_agent_get_status(agent, &ast);
		if (rc < 0 || !ast.connected) {
			s.connected = false;
			next_try = nr_now_ms();
			status_write(&s);
			continue;
		}
		if (ast.connects != s.connects) { /* it reconnected by itself */
			s.connects = ast.connects;
			report(&s, NR_SYNC_CONNECTED, NR_SYNC_NONE, NULL, 0, NULL);
			if (!s.paused)
				resync(&s);
		}
		if (rc == 1 && ev.type == NR_AGENT_EVENT_CLIPBOARD)
			guest_changed(&s, &ev);
	}
	s.connected = false;
	set_state(&s, "stopped", end_rc < 0 ? ended.msg : NULL);
	free(s.status_path);
	nr_desktop_free(s.desk);
	if (end_rc < 0 && err)
		*err = ended;
	return end_rc;
}
