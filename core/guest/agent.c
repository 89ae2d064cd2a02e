/* The host's guest-agent client: requests with ids and deadlines, chunked payloads,
 * events, reconnection. docs/PROTOCOL.md 5-7. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "neuron/agent.h"
#include "neuron/agent_proto.h"
#include "neuron/certs.h"
#include "neuron/sync.h"
#include "neuron/tls.h"

#define EVENT_QUEUE 64
#define HOST_NAME "libneuron 0.1.0"

struct nr_agent {
	char *socket_path;          /* reconnect by connecting again; NULL: fds given */
	int rfd, wfd;
	struct nr_tls_creds *creds;
	struct nr_tls_link *link;
	bool connected;
	int timeout_ms, connect_timeout_ms;
	long long next_id;
	struct nr_agent_status st;
	struct nr_agent_event events[EVENT_QUEUE];
	size_t ev_head, ev_count;
	bool cap_apps, cap_windows, cap_shares; /* what the agent's hello offered (issue 17) */
	int max_version;            /* the newest protocol version offered (nr_agent_set_protocol) */
	int version;                /* the one agreed in this session's hello; 0 before */
};

static int agent_new(const char *cred_dir, struct nr_agent **out, struct nr_error *err)
{
	struct nr_agent *a = calloc(1, sizeof(*a));
	int rc;

	*out = NULL;
	if (!a)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	a->rfd = a->wfd = -1;
	a->max_version = NR_AGENT_VERSION;
	a->timeout_ms = NR_AGENT_TIMEOUT_MS;
	a->connect_timeout_ms = NR_AGENT_CONNECT_TIMEOUT_MS;
	if ((rc = nr_tls_creds_load(cred_dir, NR_TLS_HOST, &a->creds, err)) < 0) {
		free(a);
		return rc;
	}
	snprintf(a->st.pinned, sizeof(a->st.pinned), "%s", nr_tls_creds_peer_fingerprint(a->creds));
	*out = a;
	return 0;
}

int nr_agent_open_socket(const char *path, const char *cred_dir, struct nr_agent **out, struct nr_error *err)
{
	int rc = agent_new(cred_dir, out, err);

	if (rc < 0)
		return rc;
	(*out)->socket_path = strdup(path);
	if (!(*out)->socket_path) {
		nr_agent_free(*out);
		*out = NULL;
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	return 0;
}

int nr_agent_open_fds(int rfd, int wfd, const char *cred_dir, struct nr_agent **out, struct nr_error *err)
{
	int rc = agent_new(cred_dir, out, err);

	if (rc < 0)
		return rc;
	(*out)->rfd = rfd;
	(*out)->wfd = wfd;
	return 0;
}

int nr_agent_open(const struct nr_ctx *ctx, const char *vm, struct nr_agent **out, struct nr_error *err)
{
	char *path = NULL, *dir = NULL;
	int rc;

	*out = NULL;
	if ((rc = nr_sync_check_free(ctx, vm, err)) < 0 || (rc = nr_certs_dir(ctx, vm, &dir, err)) < 0 ||
	    (rc = nr_agent_channel_path(ctx, vm, &path, err)) < 0)
		goto out;
	rc = nr_agent_open_socket(path, dir, out, err);
out:
	free(path);
	free(dir);
	return rc;
}

static void close_stream(struct nr_agent *a)
{
	if (a->rfd >= 0)
		close(a->rfd);
	if (a->wfd >= 0 && a->wfd != a->rfd)
		close(a->wfd);
	a->rfd = a->wfd = -1;
}

void nr_agent_disconnect(struct nr_agent *a)
{
	a->connected = false;
	a->st.connected = false;
	a->version = 0;
	if (a->socket_path) {
		nr_tls_link_free(a->link);
		a->link = NULL;
		close_stream(a);
	}
	/* On a stream we do not own the far end of, the link stays: the next connect
	 * resyncs on it, keeping what was already read. */
}

void nr_agent_free(struct nr_agent *a)
{
	if (!a)
		return;
	nr_tls_link_free(a->link);
	close_stream(a);
	nr_tls_creds_free(a->creds);
	free(a->socket_path);
	free(a);
}

void nr_agent_set_protocol(struct nr_agent *a, int max_version)
{
	if (max_version >= NR_AGENT_VERSION_MIN && max_version <= NR_AGENT_VERSION)
		a->max_version = max_version;
}

void nr_agent_set_timeout(struct nr_agent *a, int request_ms, int connect_ms)
{
	if (request_ms > 0)
		a->timeout_ms = request_ms;
	if (connect_ms > 0)
		a->connect_timeout_ms = connect_ms;
}

static int fail(struct nr_agent *a, int rc, struct nr_error *err)
{
	if (err)
		snprintf(a->st.last_error, sizeof(a->st.last_error), "%.255s", err->msg);
	else
		snprintf(a->st.last_error, sizeof(a->st.last_error), "%s", nr_strerror(rc));
	return rc;
}

static void push_event(struct nr_agent *a, const struct nr_agent_event *ev)
{
	if (a->ev_count == EVENT_QUEUE) {
		a->ev_head = (a->ev_head + 1) % EVENT_QUEUE;
		a->ev_count--;
	}
	a->events[(a->ev_head + a->ev_count) % EVENT_QUEUE] = *ev;
	a->ev_count++;
}

static void handle_event(struct nr_agent *a, const struct nr_msg *m)
{
	struct nr_agent_event ev;
	json_object *mimes;

	memset(&ev, 0, sizeof(ev));
	if (strcmp(m->name, "clipboard-changed") == 0) {
		ev.type = NR_AGENT_EVENT_CLIPBOARD;
		if (m->body && json_object_object_get_ex(m->body, "mimes", &mimes) &&
		    json_object_is_type(mimes, json_type_array) && json_object_array_length(mimes) > 0 &&
		    json_object_is_type(json_object_array_get_idx(mimes, 0), json_type_string))
			snprintf(ev.mime, sizeof(ev.mime), "%s",
				 json_object_get_string(json_object_array_get_idx(mimes, 0)));
		ev.size = nr_msg_int(m->body, "size", 0);
		a->st.clipboard_events++;
		a->st.clipboard_changed = time(NULL);
		snprintf(a->st.clipboard_mime, sizeof(a->st.clipboard_mime), "%s", ev.mime);
	} else if (strcmp(m->name, "resolution-changed") == 0) {
		long long w = nr_msg_int(m->body, "width", 0), h = nr_msg_int(m->body, "height", 0);
		if (w < 0 || h < 0 || w > 65535 || h > 65535)
			return;
		ev.type = NR_AGENT_EVENT_RESOLUTION;
		ev.width = (int)w;
		ev.height = (int)h;
		a->st.width = ev.width;
		a->st.height = ev.height;
	} else {
		return; /* unknown events are ignored (PROTOCOL.md 5) */
	}
	push_event(a, &ev);
}

static void buf_truncate(struct nr_buf *b, size_t len)
{
	b->len = len;
	if (b->data)
		b->data[len] = '\0';
}

static int send_all(struct nr_agent *a, struct nr_buf *out, struct nr_error *err)
{
	int rc;

	if (out->oom)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	rc = nr_tls_link_write(a->link, out->data, out->len, a->timeout_ms, err);
	out->len = 0;
	return rc;
}

/* Send upload as chunks of request id: binary frames straight from the caller's buffer
 * (version 2), else base64 in JSON; their count in *chunks. */
static int send_upload(struct nr_agent *a, long long id, const unsigned char *upload, size_t upload_len,
		       long long *chunks, struct nr_buf *out, struct nr_error *err)
{
	size_t step = a->version >= 2 ? NR_AGENT_BIN_CHUNK_MAX : NR_AGENT_CHUNK_MAX;
	long long seq = 0;
	int rc = 0;

	for (size_t off = 0; off < upload_len && rc == 0; off += step, seq++) {
		size_t n = upload_len - off < step ? upload_len - off : step;
		if (a->version >= 2) {
			rc = nr_tls_link_write_chunk(a->link, id, seq, upload_len, upload + off, n, a->timeout_ms, err);
			continue;
		}
		nr_msg_put_chunk(out, id, seq, upload + off, n);
		rc = send_all(a, out, err);
	}
	*chunks = seq;
	return rc;
}

/* One request on a live session: chunks of upload first, then the request (its args get
 * the upload's size and chunk count); the reply's result (a new reference) in *result,
 * chunks of a download appended to down. Transport failures and protocol violations end
 * the session. */
static int raw_call(struct nr_agent *a, const char *op, json_object *args, const unsigned char *upload,
		    size_t upload_len, int timeout_ms, json_object **result, struct nr_buf *down,
		    struct nr_error *err)
{
	long long id = ++a->next_id, deadline, seq = 0;
	struct nr_buf out;
	struct nr_msg m;
	bool taking = false; /* a binary chunk's bytes are going into down ... */
	size_t mark = 0;     /* ... from here (taken back if it turns out bad) */
	int rc = 0;

	*result = NULL;
	nr_buf_init(&out);
	if (upload) {
		if ((rc = send_upload(a, id, upload, upload_len, &seq, &out, err)) < 0)
			goto broken;
		if (!args)
			args = json_object_new_object();
		json_object_object_add(args, "size", json_object_new_int64((long long)upload_len));
		json_object_object_add(args, "chunks", json_object_new_int64(seq));
	}
	nr_msg_put_request(&out, id, op, args);
	if (!out.oom && out.len - 2 > NR_AGENT_FRAME_MAX) {
		/* refused before sending: the guest would drop it, and the session is fine */
		rc = nr_error_set(err, -NR_E_INVAL, "%s: the request is over the 1 MiB frame cap", op);
		if (upload)
			goto broken; /* its chunks went already */
		goto out;
	}
	if ((rc = send_all(a, &out, err)) < 0)
		goto broken;

	deadline = nr_now_ms() + timeout_ms;
	seq = 0;
	for (;;) {
		long long left = deadline - nr_now_ms();
		struct nr_tls_frame f;

		/* a guest that keeps sending frames must not keep us past the deadline */
		rc = left < 0 ? -NR_E_TIMEOUT : nr_tls_link_recv_frame(a->link, &f, taking ? down : NULL, (int)left, err);
		if (rc == -NR_E_AGENT_FRAME) {
			if (taking)
				buf_truncate(down, mark); /* a binary chunk whose length lied */
			taking = false;
			a->st.bad_frames++;
			continue;
		}
		if (rc == -NR_E_TIMEOUT) {
			rc = nr_error_set(err, -NR_E_TIMEOUT, "%s: no answer from the guest agent within %d ms",
					  op, timeout_ms);
			goto broken;
		}
		if (rc < 0)
			goto broken;
		if (f.kind == NR_FRAME_CHUNK) {
			/* version 2: a binary chunk; its bytes go straight into down */
			const struct nr_chunk_header *h = &f.chunk;
			taking = false;
			if (h->id != id || !down) {
				a->st.stray++;
				continue;
			}
			if (h->seq != seq || h->total > NR_AGENT_TRANSFER_MAX ||
			    down->len + h->len > NR_AGENT_TRANSFER_MAX) {
				rc = nr_error_set(err, -NR_E_AGENT_PROTO, h->seq != seq ?
						  "%s: the guest agent sent chunk %lld where %lld was due" :
						  "%s: the guest agent's transfer passed 64 MiB (its chunk %lld, %lld taken)",
						  op, h->seq, seq);
				goto broken;
			}
			/* the first chunk announces the whole: one allocation for all of it */
			if (!nr_buf_reserve(down, seq == 0 && h->total > h->len ? (size_t)h->total : h->len)) {
				rc = nr_error_set(err, -NR_E_NOMEM, "%s: no memory for the guest agent's transfer", op);
				goto broken;
			}
			mark = down->len;
			taking = true;
			continue;
		}
		if (f.kind == NR_FRAME_DATA)
			continue; /* a wanted chunk's bytes went into down; others are dropped */
		if (f.kind == NR_FRAME_CHUNK_END) {
			if (taking) {
				taking = false;
				seq++;
				deadline = nr_now_ms() + timeout_ms; /* progress, as for a JSON chunk */
			}
			continue;
		}
		/* a download's chunks are decoded straight into down, and taken back below
		 * when they are not the ones due */
		size_t before = down ? down->len : 0;
		if (nr_msg_decode_into(f.text, f.len, &m, down, NULL) < 0) {
			if (down && down->oom) {
				rc = nr_error_set(err, -NR_E_NOMEM, "%s: no memory for the guest agent's transfer", op);
				goto broken;
			}
			a->st.bad_frames++;
			continue;
		}
		switch (m.kind) {
		case NR_MSG_EVENT:
			handle_event(a, &m);
			break;
		case NR_MSG_CHUNK:
			if (m.id != id || !down) {
				if (down)
					buf_truncate(down, before);
				a->st.stray++;
				break;
			}
			if (m.seq != seq || down->len > NR_AGENT_TRANSFER_MAX) {
				rc = nr_error_set(err, -NR_E_AGENT_PROTO, m.seq != seq ?
						  "%s: the guest agent sent chunk %lld where %lld was due" :
						  "%s: the guest agent's transfer passed %lld chunks and 64 MiB",
						  op, m.seq, seq);
				nr_msg_done(&m);
				goto broken;
			}
			seq++;
			/* each chunk is progress: the timeout counts again from here (a transfer is
			 * at most 64 MiB, so at most 86 chunks: still bounded) */
			deadline = nr_now_ms() + timeout_ms;
			break;
		case NR_MSG_REPLY:
			if (m.id != id) {
				a->st.stray++;
				break;
			}
			if (!m.ok) {
				rc = nr_error_set(err, -NR_E_AGENT_REMOTE, "%s: the guest agent answered %s: %s", op,
						  m.err_code, m.err_message);
				nr_msg_done(&m);
				goto out;
			}
			if (down && (nr_msg_int(m.body, "chunks", -1) != seq ||
				     nr_msg_int(m.body, "size", -1) != (long long)down->len)) {
				rc = nr_error_set(err, -NR_E_AGENT_PROTO,
						  "%s: the guest agent announced %lld bytes in %lld chunks but sent %zu in %lld",
						  op, nr_msg_int(m.body, "size", -1), nr_msg_int(m.body, "chunks", -1),
						  down->len, seq);
				nr_msg_done(&m);
				goto broken;
			}
			if (down && down->oom) {
				rc = nr_error_set(err, -NR_E_NOMEM, NULL);
				nr_msg_done(&m);
				goto broken;
			}
			*result = m.body ? json_object_get(m.body) : json_object_new_object();
			nr_msg_done(&m);
			rc = *result ? 0 : nr_error_set(err, -NR_E_NOMEM, NULL);
			goto out;
		default:
			a->st.bad_frames++; /* requests or syncs have no business here */
			break;
		}
		nr_msg_done(&m);
	}
broken:
	nr_agent_disconnect(a);
out:
	nr_buf_done(&out);
	json_object_put(args);
	return rc;
}

/* A character device: the host end of a pty channel (libvirt's <channel type='pty'>,
 * QEMU's -chardev pty), made raw, with what was left in its input dropped. */
static int open_chardev(struct nr_agent *a, struct nr_error *err)
{
	struct termios t;
	int fd = open(a->socket_path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return nr_error_set(err, errno == EACCES ? -NR_E_PERM : -NR_E_AGENT_CLOSED, "cannot open %s: %s",
				    a->socket_path, strerror(errno));
	if (isatty(fd)) {
		if (tcgetattr(fd, &t) == 0) {
			cfmakeraw(&t);
			tcsetattr(fd, TCSANOW, &t);
		}
		tcflush(fd, TCIFLUSH);
	}
	a->rfd = a->wfd = fd;
	return 0;
}

static int open_stream(struct nr_agent *a, struct nr_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (stat(a->socket_path, &st) == 0 && S_ISCHR(st.st_mode))
		return open_chardev(a, err);

	if (strlen(a->socket_path) >= sizeof(sa.sun_path))
		return nr_error_set(err, -NR_E_INVAL, "socket path too long: %s", a->socket_path);
	strcpy(sa.sun_path, a->socket_path);
	/* non-blocking: a listener whose backlog is full must not hold us */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return nr_error_set(err, -NR_E_IO, "cannot make a socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		if (e == EAGAIN)
			return nr_error_set(err, -NR_E_BUSY, "%s is busy: another client may hold the channel",
					    a->socket_path);
		if (e == ENOENT || e == ECONNREFUSED)
			return nr_error_set(err, -NR_E_AGENT_CLOSED, "nothing listens on %s (is the VM running?)",
					    a->socket_path);
		return nr_error_set(err, e == EACCES ? -NR_E_PERM : -NR_E_IO, "cannot connect to %s: %s",
				    a->socket_path, strerror(e));
	}
	a->rfd = a->wfd = fd;
	return 0;
}

int nr_agent_connect(struct nr_agent *a, struct nr_error *err)
{
	json_object *args, *arr, *res = NULL;
	int rc;

	if (a->connected)
		return 0;
	if (a->socket_path && a->rfd < 0 && (rc = open_stream(a, err)) < 0)
		return fail(a, rc, err);
	if (!a->link && (rc = nr_tls_link_new(a->rfd, a->wfd, a->creds, &a->link, err)) < 0)
		return fail(a, rc, err);
	if ((rc = nr_tls_link_connect(a->link, a->connect_timeout_ms, err)) < 0) {
		nr_agent_disconnect(a);
		return fail(a, rc, err);
	}
	snprintf(a->st.fingerprint, sizeof(a->st.fingerprint), "%s", nr_tls_link_peer_fingerprint(a->link));
	args = json_object_new_object();
	arr = json_object_new_array();
	for (int v = NR_AGENT_VERSION_MIN; v <= a->max_version; v++)
		json_object_array_add(arr, json_object_new_int(v));
	json_object_object_add(args, "versions", arr);
	json_object_object_add(args, "host", json_object_new_string(HOST_NAME));
	arr = json_object_new_array();
	json_object_array_add(arr, json_object_new_string("clipboard"));
	json_object_array_add(arr, json_object_new_string("resolution"));
	json_object_array_add(arr, json_object_new_string("apps"));
	json_object_array_add(arr, json_object_new_string("windows"));
	json_object_array_add(arr, json_object_new_string("shares"));
	json_object_object_add(args, "capabilities", arr);
	if ((rc = raw_call(a, "hello", args, NULL, 0, a->connect_timeout_ms, &res, NULL, err)) < 0) {
		nr_agent_disconnect(a);
		return fail(a, rc, err);
	}
	long long version = nr_msg_int(res, "version", 0);
	if (version < NR_AGENT_VERSION_MIN || version > a->max_version) {
		rc = nr_error_set(err, -NR_E_AGENT_PROTO, "the guest agent speaks protocol version %lld, we speak %d "
				  "to %d", version, NR_AGENT_VERSION_MIN, a->max_version);
		json_object_put(res);
		nr_agent_disconnect(a);
		return fail(a, rc, err);
	}
	snprintf(a->st.agent_version, sizeof(a->st.agent_version), "%s", nr_msg_str(res, "agent", ""));
	a->cap_apps = a->cap_windows = a->cap_shares = false;
	if (json_object_object_get_ex(res, "capabilities", &arr) && json_object_is_type(arr, json_type_array))
		for (size_t i = 0; i < json_object_array_length(arr) && i < 64; i++) {
			const char *c = json_object_get_string(json_object_array_get_idx(arr, i));
			if (json_object_is_type(json_object_array_get_idx(arr, i), json_type_string)) {
				a->cap_apps |= strcmp(c, "apps") == 0;
				a->cap_windows |= strcmp(c, "windows") == 0;
				a->cap_shares |= strcmp(c, "shares") == 0;
			}
		}
	/* version 2: binary chunks both ways from here (the agent reads them since its reply) */
	a->version = (int)version;
	nr_tls_link_set_binary(a->link, a->version >= 2);
	a->st.protocol_version = a->version;
	json_object_put(res);
	a->connected = true;
	a->st.connected = true;
	a->st.connects++;
	a->st.last_error[0] = '\0';
	return 0;
}

/* Connect when needed, then one request with the default timeout. args is consumed. */
static int call(struct nr_agent *a, const char *op, json_object *args, const void *upload, size_t upload_len,
		json_object **result, struct nr_buf *down, struct nr_error *err)
{
	int rc = nr_agent_connect(a, err);

	if (rc < 0) {
		json_object_put(args);
		return rc;
	}
	rc = raw_call(a, op, args, upload, upload_len, a->timeout_ms, result, down, err);
	return rc < 0 ? fail(a, rc, err) : 0;
}

int nr_agent_ping(struct nr_agent *a, double *rtt_ms, struct nr_error *err)
{
	long long t0;
	json_object *res;
	int rc;

	if ((rc = nr_agent_connect(a, err)) < 0)
		return rc;
	t0 = nr_now_us();
	rc = call(a, "ping", NULL, NULL, 0, &res, NULL, err);
	if (rc < 0)
		return rc;
	a->st.last_rtt_ms = (double)(nr_now_us() - t0) / 1e3;
	json_object_put(res);
	a->st.last_ping = time(NULL);
	if (rtt_ms)
		*rtt_ms = a->st.last_rtt_ms;
	return 0;
}

static int dimension(long long v)
{
	return v < 0 || v > 65535 ? 0 : (int)v;
}

int nr_agent_info(struct nr_agent *a, struct nr_agent_info *info, struct nr_error *err)
{
	json_object *res;
	int rc = call(a, "info", NULL, NULL, 0, &res, NULL, err);

	memset(info, 0, sizeof(*info));
	if (rc < 0)
		return rc;
	snprintf(info->os, sizeof(info->os), "%s", nr_msg_str(res, "os", ""));
	snprintf(info->hostname, sizeof(info->hostname), "%s", nr_msg_str(res, "hostname", ""));
	snprintf(info->agent_version, sizeof(info->agent_version), "%s", nr_msg_str(res, "agent_version", ""));
	info->uptime_s = nr_msg_int(res, "uptime_s", 0);
	info->width = dimension(nr_msg_int(res, "width", 0));
	info->height = dimension(nr_msg_int(res, "height", 0));
	if (info->width && info->height) {
		a->st.width = info->width;
		a->st.height = info->height;
	}
	json_object_put(res);
	return 0;
}

int nr_agent_launch(struct nr_agent *a, const char *program, const char *const *args, long long *pid,
		    struct nr_error *err)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array(), *res;
	int rc;

	if (!program || !program[0] || !nr_utf8_valid(program, strlen(program))) {
		json_object_put(o);
		json_object_put(arr);
		return nr_error_set(err, -NR_E_INVAL, "launch needs a program name in UTF-8");
	}
	for (size_t i = 0; args && args[i]; i++)
		json_object_array_add(arr, json_object_new_string(args[i]));
	json_object_object_add(o, "program", json_object_new_string(program));
	json_object_object_add(o, "args", arr);
	if ((rc = call(a, "launch", o, NULL, 0, &res, NULL, err)) < 0)
		return rc;
	if (pid)
		*pid = nr_msg_int(res, "pid", 0);
	json_object_put(res);
	return 0;
}

static bool is_text(const char *mime)
{
	return strncmp(mime, "text/plain", 10) == 0;
}

int nr_agent_clipboard_get(struct nr_agent *a, const char *mime, unsigned char **data, size_t *len,
			   struct nr_error *err)
{
	json_object *o = json_object_new_object(), *res, *t;
	struct nr_buf down;
	int rc;

	*data = NULL;
	*len = 0;
	json_object_object_add(o, "mime", json_object_new_string(mime));
	nr_buf_init(&down);
	if ((rc = call(a, "clipboard-get", o, NULL, 0, &res, is_text(mime) ? NULL : &down, err)) < 0) {
		nr_buf_done(&down);
		return rc;
	}
	if (is_text(mime)) {
		if (!json_object_object_get_ex(res, "text", &t) || !json_object_is_type(t, json_type_string)) {
			json_object_put(res);
			return nr_error_set(err, -NR_E_AGENT_PROTO, "clipboard-get: the reply has no text");
		}
		nr_buf_append(&down, json_object_get_string(t), (size_t)json_object_get_string_len(t));
	}
	json_object_put(res);
	nr_buf_append(&down, "", 0);
	*len = down.len;
	*data = (unsigned char *)nr_buf_steal(&down);
	return *data ? 0 : nr_error_set(err, -NR_E_NOMEM, NULL);
}

int nr_agent_clipboard_set(struct nr_agent *a, const char *mime, const void *data, size_t len,
			   struct nr_error *err)
{
	json_object *o, *res;
	int rc;

	if (len > NR_AGENT_TRANSFER_MAX)
		return nr_error_set(err, -NR_E_INVAL, "clipboard data over 64 MiB");
	if (is_text(mime) && (len > NR_AGENT_TEXT_MAX || !nr_utf8_valid(data, len)))
		return nr_error_set(err, -NR_E_INVAL, "clipboard text must be UTF-8 without NUL, at most 512 KiB "
				    "(and its frame at most 1 MiB)");
	o = json_object_new_object();
	json_object_object_add(o, "mime", json_object_new_string(mime));
	if (is_text(mime)) {
		json_object_object_add(o, "text", json_object_new_string_len(data, (int)len));
		rc = call(a, "clipboard-set", o, NULL, 0, &res, NULL, err);
	} else {
		rc = call(a, "clipboard-set", o, data ? data : "", len, &res, NULL, err); /* size and chunks added */
	}
	if (rc == 0)
		json_object_put(res);
	return rc;
}

int nr_agent_resolution_get(struct nr_agent *a, int *width, int *height, struct nr_error *err)
{
	json_object *res;
	int rc = call(a, "get-resolution", NULL, NULL, 0, &res, NULL, err);

	if (rc < 0)
		return rc;
	*width = dimension(nr_msg_int(res, "width", 0));
	*height = dimension(nr_msg_int(res, "height", 0));
	a->st.width = *width;
	a->st.height = *height;
	json_object_put(res);
	return 0;
}

int nr_agent_resolution_set(struct nr_agent *a, int width, int height, struct nr_error *err)
{
	json_object *o, *res;
	int rc;

	if (width < 1 || height < 1 || width > 16384 || height > 16384)
		return nr_error_set(err, -NR_E_INVAL, "%dx%d is not a resolution", width, height);
	o = json_object_new_object();
	json_object_object_add(o, "width", json_object_new_int(width));
	json_object_object_add(o, "height", json_object_new_int(height));
	if ((rc = call(a, "set-resolution", o, NULL, 0, &res, NULL, err)) < 0)
		return rc;
	a->st.width = dimension(nr_msg_int(res, "width", width));
	a->st.height = dimension(nr_msg_int(res, "height", height));
	json_object_put(res);
	return 0;
}

int nr_agent_shutdown(struct nr_agent *a, const char *mode, struct nr_error *err)
{
	json_object *o, *res;
	int rc;

	if (strcmp(mode, "poweroff") != 0 && strcmp(mode, "reboot") != 0)
		return nr_error_set(err, -NR_E_INVAL, "shutdown mode is poweroff or reboot, not '%s'", mode);
	o = json_object_new_object();
	json_object_object_add(o, "mode", json_object_new_string(mode));
	if ((rc = call(a, "shutdown", o, NULL, 0, &res, NULL, err)) < 0)
		return rc;
	json_object_put(res);
	return 0;
}

int nr_agent_wait_event(struct nr_agent *a, int timeout_ms, struct nr_agent_event *ev, struct nr_error *err)
{
	long long deadline = nr_now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
	int rc;

	while (!a->ev_count) {
		long long left = deadline - nr_now_ms();
		const char *text;
		size_t len;
		struct nr_msg m;

		if ((rc = nr_agent_connect(a, err)) < 0)
			return rc;
		if (left < 0)
			return 0;
		rc = nr_tls_link_recv(a->link, &text, &len, (int)left, err);
		if (rc == -NR_E_TIMEOUT)
			return 0;
		if (rc == -NR_E_AGENT_FRAME) {
			a->st.bad_frames++;
			continue;
		}
		if (rc < 0) {
			nr_agent_disconnect(a);
			return fail(a, rc, err);
		}
		if (nr_msg_decode(text, len, &m, NULL) < 0) {
			a->st.bad_frames++;
			continue;
		}
		if (m.kind == NR_MSG_EVENT)
			handle_event(a, &m);
		else if (m.kind == NR_MSG_REPLY || m.kind == NR_MSG_CHUNK)
			a->st.stray++;
		else
			a->st.bad_frames++;
		nr_msg_done(&m);
	}
	*ev = a->events[a->ev_head];
	a->ev_head = (a->ev_head + 1) % EVENT_QUEUE;
	a->ev_count--;
	return 1;
}

void nr_agent_get_status(const struct nr_agent *a, struct nr_agent_status *st)
{
	*st = a->st;
}

/* ---- The guest's apps and windows (issue 17) */

/* Whether the connected agent offered capability cap in its hello: an older agent, or a
 * platform without, is never asked (it would answer unknown-op). */
static int need_capability(struct nr_agent *a, const char *cap, struct nr_error *err)
{
	char version[64];
	int rc = nr_agent_connect(a, err);

	if (rc < 0 || (strcmp(cap, "apps") == 0 ? a->cap_apps : strcmp(cap, "shares") == 0 ? a->cap_shares : a->cap_windows))
		return rc;
	nr_text_sanitize(version, sizeof(version), a->st.agent_version, false);
	return fail(a, nr_error_set(err, -NR_E_UNSUPPORTED, "the guest agent (%s) does not offer %s: "
				  "it is older than this host, or its platform has none", version, cap), err);
}

/* A guest string of at most max bytes, copied; NULL when absent, not a string or too long. */
static char *guest_string(json_object *o, const char *key, size_t max)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) > max || strlen(json_object_get_string(v)) !=
	    (size_t)json_object_get_string_len(v))
		return NULL;
	return strdup(json_object_get_string(v));
}

/* A list of guest strings (at most max, each at most len bytes; others left out),
 * NULL-terminated; -1 out of memory. */
static int guest_strings(json_object *o, const char *key, size_t max, size_t len, char ***out, size_t *n)
{
	json_object *arr;
	size_t count;

	*n = 0;
	if (!json_object_object_get_ex(o, key, &arr) || !json_object_is_type(arr, json_type_array))
		count = 0;
	else
		count = json_object_array_length(arr);
	if (count > max)
		count = max;
	if (!(*out = calloc(count + 1, sizeof(**out))))
		return -1;
	for (size_t i = 0; i < count; i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(v, json_type_string) || (size_t)json_object_get_string_len(v) > len ||
		    strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
			continue;
		if (!((*out)[*n] = strdup(json_object_get_string(v))))
			return -1;
		(*n)++;
	}
	return 0;
}

static void strings_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static void app_done(struct nr_agent_app *app)
{
	free(app->id);
	free(app->name);
	free(app->program);
	strings_free(app->args);
	strings_free(app->extensions);
	strings_free(app->mimes);
}

void nr_agent_apps_done(struct nr_agent_apps *apps)
{
	for (size_t i = 0; apps && i < apps->n; i++)
		app_done(&apps->v[i]);
	if (apps) {
		free(apps->v);
		memset(apps, 0, sizeof(*apps));
	}
}

int nr_agent_apps(struct nr_agent *a, struct nr_agent_apps *apps, struct nr_error *err)
{
	json_object *res, *list;
	size_t count, n;
	int rc;

	memset(apps, 0, sizeof(*apps));
	if ((rc = need_capability(a, "apps", err)) < 0)
		return rc;
	if ((rc = call(a, "apps", json_object_new_object(), NULL, 0, &res, NULL, err)) < 0)
		return rc;
	if (!json_object_object_get_ex(res, "apps", &list) || !json_object_is_type(list, json_type_array)) {
		json_object_put(res);
		return fail(a, nr_error_set(err, -NR_E_AGENT_PROTO, "apps: the reply has no list of apps"), err);
	}
	count = json_object_array_length(list);
	apps->truncated = count > NR_AGENT_APPS_MAX || nr_msg_int(res, "truncated", 0) ||
			  json_object_get_boolean(json_object_object_get(res, "truncated"));
	if (count > NR_AGENT_APPS_MAX)
		count = NR_AGENT_APPS_MAX;
	if (!(apps->v = calloc(count ? count : 1, sizeof(*apps->v))))
		goto oom;
	for (size_t i = 0; i < count; i++) {
		json_object *o = json_object_array_get_idx(list, i), *icons;
		struct nr_agent_app *app = &apps->v[apps->n];
		if (!json_object_is_type(o, json_type_object))
			continue;
		app->id = guest_string(o, "id", 255);
		app->name = guest_string(o, "name", 1024);
		app->program = guest_string(o, "program", 4096);
		/* an app without an id, a name or a program is left out */
		if (!app->id || !app->id[0] || !app->name || !app->program) {
			app_done(app);
			memset(app, 0, sizeof(*app));
			continue;
		}
		apps->n++;
		if (guest_strings(o, "args", 256, 4096, &app->args, &n) < 0 ||
		    guest_strings(o, "extensions", 256, 64, &app->extensions, &n) < 0 ||
		    guest_strings(o, "mimes", 256, 255, &app->mimes, &n) < 0)
			goto oom;
		if (json_object_object_get_ex(o, "icons", &icons) && json_object_is_type(icons, json_type_array))
			for (size_t k = 0; k < json_object_array_length(icons) && k < 8; k++) {
				json_object *v = json_object_array_get_idx(icons, k);
				long long size = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;
				app->icon48 |= size == 48;
				app->icon256 |= size == 256;
			}
	}
	json_object_put(res);
	return 0;
oom:
	json_object_put(res);
	nr_agent_apps_done(apps);
	return nr_error_set(err, -NR_E_NOMEM, NULL);
}

int nr_agent_app_icon(struct nr_agent *a, const char *id, int size, unsigned char **png, size_t *len,
		      struct nr_error *err)
{
	static const unsigned char magic[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	json_object *o, *res;
	struct nr_buf down;
	int rc;

	*png = NULL;
	*len = 0;
	if ((rc = need_capability(a, "apps", err)) < 0)
		return rc;
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "size", json_object_new_int(size));
	nr_buf_init(&down);
	if ((rc = call(a, "app-icon", o, NULL, 0, &res, &down, err)) < 0) {
		nr_buf_done(&down);
		return rc;
	}
	json_object_put(res);
	/* the guest is untrusted: what is written into the host's icon theme is a PNG */
	if (down.len < sizeof(magic) || memcmp(down.data, magic, sizeof(magic)) != 0 || down.len > NR_AGENT_ICON_MAX) {
		nr_buf_done(&down);
		return nr_error_set(err, -NR_E_AGENT_PROTO, "the guest's icon is not a PNG (or over 4 MiB)");
	}
	*len = down.len;
	*png = (unsigned char *)nr_buf_steal(&down);
	return *png ? 0 : nr_error_set(err, -NR_E_NOMEM, NULL);
}

int nr_agent_open_path(struct nr_agent *a, const char *path, const char *app, long long *pid, struct nr_error *err)
{
	json_object *o, *res;
	int rc;

	if (!path || !path[0] || strlen(path) > NR_AGENT_PATH_MAX || !nr_utf8_valid(path, strlen(path)))
		return nr_error_set(err, -NR_E_INVAL, "open needs a guest path in UTF-8");
	if ((rc = need_capability(a, "apps", err)) < 0)
		return rc;
	o = json_object_new_object();
	json_object_object_add(o, "path", json_object_new_string(path));
	if (app)
		json_object_object_add(o, "app", json_object_new_string(app));
	if ((rc = call(a, "open", o, NULL, 0, &res, NULL, err)) < 0)
		return rc;
	if (pid)
		*pid = nr_msg_int(res, "pid", 0);
	json_object_put(res);
	return 0;
}

void nr_agent_windows_done(struct nr_agent_windows *wins)
{
	for (size_t i = 0; wins && i < wins->n; i++) {
		free(wins->v[i].id);
		free(wins->v[i].title);
		free(wins->v[i].app);
	}
	if (wins) {
		free(wins->v);
		memset(wins, 0, sizeof(*wins));
	}
}

int nr_agent_windows(struct nr_agent *a, struct nr_agent_windows *wins, struct nr_error *err)
{
	json_object *res, *list;
	size_t count;
	int rc;

	memset(wins, 0, sizeof(*wins));
	if ((rc = need_capability(a, "windows", err)) < 0)
		return rc;
	if ((rc = call(a, "windows", json_object_new_object(), NULL, 0, &res, NULL, err)) < 0)
		return rc;
	if (!json_object_object_get_ex(res, "windows", &list) || !json_object_is_type(list, json_type_array)) {
		json_object_put(res);
		return fail(a, nr_error_set(err, -NR_E_AGENT_PROTO, "windows: the reply has no list of windows"), err);
	}
	count = json_object_array_length(list);
	wins->truncated = count > NR_AGENT_WINDOWS_MAX ||
			  json_object_get_boolean(json_object_object_get(res, "truncated"));
	if (count > NR_AGENT_WINDOWS_MAX)
		count = NR_AGENT_WINDOWS_MAX;
	if (!(wins->v = calloc(count ? count : 1, sizeof(*wins->v)))) {
		json_object_put(res);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	for (size_t i = 0; i < count; i++) {
		json_object *o = json_object_array_get_idx(list, i);
		struct nr_agent_window *w = &wins->v[wins->n];
		if (!json_object_is_type(o, json_type_object))
			continue;
		w->id = guest_string(o, "id", 64);
		w->title = guest_string(o, "title", 1024);
		w->app = guest_string(o, "app", 255);
		w->pid = nr_msg_int(o, "pid", 0);
		if (!w->id || !w->id[0] || !w->title || !w->app) {
			free(w->id);
			free(w->title);
			free(w->app);
			memset(w, 0, sizeof(*w));
			continue;
		}
		wins->n++;
	}
	json_object_put(res);
	return 0;
}

static int window_op(struct nr_agent *a, const char *op, const char *id, struct nr_error *err)
{
	json_object *o, *res;
	int rc;

	if (!id || !id[0] || strlen(id) > 64)
		return nr_error_set(err, -NR_E_INVAL, "a window id is 1 to 64 bytes (from app windows)");
	if ((rc = need_capability(a, "windows", err)) < 0)
		return rc;
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(id));
	if ((rc = call(a, op, o, NULL, 0, &res, NULL, err)) < 0)
		return rc;
	json_object_put(res);
	return 0;
}

int nr_agent_window_focus(struct nr_agent *a, const char *id, struct nr_error *err)
{
	return window_op(a, "window-focus", id, err);
}

int nr_agent_window_close(struct nr_agent *a, const char *id, struct nr_error *err)
{
	return window_op(a, "window-close", id, err);
}

void nr_agent_shares_done(struct nr_agent_shares *shares)
{
	for (size_t i = 0; shares && i < shares->n; i++) {
		free(shares->v[i].name);
		free(shares->v[i].path);
	}
	if (shares) {
		free(shares->v);
		memset(shares, 0, sizeof(*shares));
	}
}

int nr_agent_shares(struct nr_agent *a, struct nr_agent_shares *shares, struct nr_error *err)
{
	json_object *res, *list;
	size_t count;
	int rc;

	memset(shares, 0, sizeof(*shares));
	if ((rc = need_capability(a, "shares", err)) < 0)
		return rc;
	if ((rc = call(a, "shares", json_object_new_object(), NULL, 0, &res, NULL, err)) < 0)
		return rc;
	if (!json_object_object_get_ex(res, "shares", &list) || !json_object_is_type(list, json_type_array)) {
		json_object_put(res);
		return fail(a, nr_error_set(err, -NR_E_AGENT_PROTO, "shares: the reply has no list of shares"), err);
	}
	count = json_object_array_length(list);
	if (count > NR_AGENT_SHARES_MAX)
		count = NR_AGENT_SHARES_MAX;
	if (!(shares->v = calloc(count ? count : 1, sizeof(*shares->v)))) {
		json_object_put(res);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	for (size_t i = 0; i < count; i++) {
		json_object *o = json_object_array_get_idx(list, i);
		struct nr_agent_share *sh = &shares->v[shares->n];
		if (!json_object_is_type(o, json_type_object))
			continue;
		sh->name = guest_string(o, "name", 255);
		sh->path = guest_string(o, "path", NR_AGENT_PATH_MAX);
		if (!sh->name || !sh->name[0] || !sh->path || !sh->path[0]) {
			free(sh->name);
			free(sh->path);
			memset(sh, 0, sizeof(*sh));
			continue;
		}
		shares->n++;
	}
	json_object_put(res);
	return 0;
}
