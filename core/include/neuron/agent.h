/* The host side of the guest agent (docs/PROTOCOL.md): one client per VM, with
 * per-request timeouts and automatic reconnection (resync + fresh handshake). The guest is
 * untrusted: no call blocks past its timeout, and strings it sends are stored as they came
 * (sanitise before display). */
#ifndef NEURON_AGENT_H
#define NEURON_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "neuron/ctx.h"
#include "neuron/error.h"

#define NR_AGENT_TIMEOUT_MS 5000        /* default per-request timeout */
#define NR_AGENT_CONNECT_TIMEOUT_MS 5000 /* default resync + handshake + hello */

struct nr_agent;
struct nr_domain_info;

/* The host end of the agent channel of a domain read by nr_domain_inspect (neuron/domain.h):
 * the unix socket (or the pty) of its org.neuronos.agent.0 channel, borrowed from info.
 * -NR_E_AGENT_NOCHANNEL when the domain has no such channel, one of another type, or none
 * with a path yet (libvirt fills it in when the VM starts). */
int nr_agent_channel_of(const struct nr_domain_info *info, const char **path, struct nr_error *err);
/* The same for vm on the ctx's "connect", read through libvirt. *path malloc'd. */
int nr_agent_channel_path(const struct nr_ctx *ctx, const char *vm, char **path, struct nr_error *err);

/* A client for vm: the channel from its domain XML, credentials from nr_certs_dir.
 * Nothing is sent until the first request (or nr_agent_connect). */
int nr_agent_open(const struct nr_ctx *ctx, const char *vm, struct nr_agent **out, struct nr_error *err);
/* A client on a unix socket path, or a character device (the host end of a pty channel,
 * made raw), with credentials in cred_dir (host role). */
int nr_agent_open_socket(const char *path, const char *cred_dir, struct nr_agent **out,
			 struct nr_error *err);
/* A client on an open stream (a socketpair, a pipe pair): it owns the fds. A reconnect
 * resyncs on the same stream, as on a virtio-serial port. */
int nr_agent_open_fds(int rfd, int wfd, const char *cred_dir, struct nr_agent **out,
		      struct nr_error *err);
void nr_agent_free(struct nr_agent *agent);

void nr_agent_set_timeout(struct nr_agent *agent, int request_ms, int connect_ms);
/* The newest protocol version to offer in hello (docs/PROTOCOL.md 8; default the newest
 * this build speaks, NR_AGENT_VERSION): 1 makes this host an older one (tests, bench). */
void nr_agent_set_protocol(struct nr_agent *agent, int max_version);

/* Resync, handshake and hello now (requests do it when needed). */
int nr_agent_connect(struct nr_agent *agent, struct nr_error *err);
/* Drop the session; the next request reconnects. */
void nr_agent_disconnect(struct nr_agent *agent);

int nr_agent_ping(struct nr_agent *agent, double *rtt_ms, struct nr_error *err);

struct nr_agent_info {
	char os[256];
	char hostname[256];
	char agent_version[64];
	long long uptime_s;
	int width, height;          /* 0 when unknown */
};
int nr_agent_info(struct nr_agent *agent, struct nr_agent_info *info, struct nr_error *err);

/* Start program with args (NULL-terminated, may be NULL) in the guest user's session. */
int nr_agent_launch(struct nr_agent *agent, const char *program, const char *const *args, long long *pid,
		    struct nr_error *err);

/* mime: "text/plain" or "image/png". *data is malloc'd (NUL-terminated for text). */
int nr_agent_clipboard_get(struct nr_agent *agent, const char *mime, unsigned char **data, size_t *len,
			   struct nr_error *err);
int nr_agent_clipboard_set(struct nr_agent *agent, const char *mime, const void *data, size_t len,
			   struct nr_error *err);

int nr_agent_resolution_get(struct nr_agent *agent, int *width, int *height, struct nr_error *err);
int nr_agent_resolution_set(struct nr_agent *agent, int width, int height, struct nr_error *err);

/* mode: "poweroff" or "reboot". */
int nr_agent_shutdown(struct nr_agent *agent, const char *mode, struct nr_error *err);

/* ---- The guest's apps and windows (issue 17). Each needs the capability the agent's
 * hello offered ("apps", "windows"): an agent without it is not asked, and the call
 * fails with -NR_E_UNSUPPORTED. Strings came from the guest: sanitise before display. */
struct nr_agent_app {
	char *id, *name, *program;
	char **args, **extensions, **mimes; /* NULL-terminated */
	bool icon48, icon256;               /* the icon sizes the guest has */
};
struct nr_agent_apps {
	struct nr_agent_app *v;
	size_t n;
	bool truncated;                     /* the guest had more than one reply holds */
};
/* The installed apps (at most NR_AGENT_APPS_MAX; malformed entries are left out). */
int nr_agent_apps(struct nr_agent *agent, struct nr_agent_apps *apps, struct nr_error *err);
void nr_agent_apps_done(struct nr_agent_apps *apps);
/* An app's icon at size (48 or 256), a PNG (-NR_E_AGENT_PROTO when it is not one). *png malloc'd. */
int nr_agent_app_icon(struct nr_agent *agent, const char *id, int size, unsigned char **png, size_t *len,
		      struct nr_error *err);
/* Open a guest path with app (an id from nr_agent_apps), or the guest's default when NULL. */
int nr_agent_open_path(struct nr_agent *agent, const char *path, const char *app, long long *pid,
		       struct nr_error *err);

struct nr_agent_window {
	char *id, *title, *app;
	long long pid;                      /* 0 when unknown */
};
struct nr_agent_windows {
	struct nr_agent_window *v;
	size_t n;
	bool truncated;
};
int nr_agent_windows(struct nr_agent *agent, struct nr_agent_windows *wins, struct nr_error *err);
void nr_agent_windows_done(struct nr_agent_windows *wins);
int nr_agent_window_focus(struct nr_agent *agent, const char *id, struct nr_error *err);
int nr_agent_window_close(struct nr_agent *agent, const char *id, struct nr_error *err);

/* The guest's shared folders that are really there (capability "shares"): the virtio-fs
 * tag and its place in the guest ("/mnt/neuron/Documents", "Z:\\"), as the guest said them:
 * nr_app_shares (neuron/apps.h) checks them before any use. */
struct nr_agent_share {
	char *name, *path;
};
struct nr_agent_shares {
	struct nr_agent_share *v;
	size_t n;
};
int nr_agent_shares(struct nr_agent *agent, struct nr_agent_shares *shares, struct nr_error *err);
void nr_agent_shares_done(struct nr_agent_shares *shares);

enum nr_agent_event_type {
	NR_AGENT_EVENT_CLIPBOARD,   /* the guest's clipboard changed */
	NR_AGENT_EVENT_RESOLUTION,  /* the guest's resolution changed */
};

struct nr_agent_event {
	enum nr_agent_event_type type;
	char mime[64];              /* clipboard: the first type offered */
	long long size;             /* clipboard: bytes */
	int width, height;          /* resolution */
};

/* Wait up to timeout_ms for an event: 1 with *ev filled, 0 when none came, <0 on error.
 * Events that arrive during requests are queued (the oldest dropped past 64). */
int nr_agent_wait_event(struct nr_agent *agent, int timeout_ms, struct nr_agent_event *ev,
			struct nr_error *err);

/* What a status panel shows. Strings came from the guest: sanitise before display. */
struct nr_agent_status {
	bool connected;
	char fingerprint[104];      /* the guest's certificate, once connected */
	char pinned[104];           /* the one we expect */
	char agent_version[64];
	int protocol_version;
	time_t last_ping;           /* wall clock of the last answered ping, 0 never */
	double last_rtt_ms;
	int width, height;          /* last known resolution, 0 unknown */
	unsigned long clipboard_events;
	char clipboard_mime[64];
	time_t clipboard_changed;   /* wall clock of the last clipboard-changed event, 0 never */
	unsigned long connects;     /* handshakes made */
	unsigned long bad_frames;   /* frames dropped: oversize, invalid */
	unsigned long stray;        /* replies and chunks for ids not waited on */
	char last_error[256];
};
void nr_agent_get_status(const struct nr_agent *agent, struct nr_agent_status *st);

#endif
