/* neuron-agent's platform layer: everything that differs between guest systems.
 *
 * agent/main.c (the protocol), agent/platform_memory.c (the test desktop), core/guest/tls.c
 * (the secure link), core/guest/agent_proto.c (frames, messages), core/base/util.c and
 * core/base/error.c are portable C: tests/port/run.sh compiles them for Windows with
 * mingw-w64 and checks that they include and call nothing POSIX. What a guest system
 * brings is declared here, in two parts:
 *
 * 1. The system: the sys_* functions and spawn_detached below, and under the secure
 *    link a transport (struct nr_tls_io in neuron/tls.h) and whether a key file is
 *    private (nr_tls_key_private, neuron/tls.h), and the clock and sleep of
 *    neuron/clock.h (nr_now_ms, nr_sleep_ms).
 *    Linux: agent/platform_posix.c, agent/spawn.c, core/guest/tls_fd.c and core/base/clock.c.
 * 2. The desktop: a struct agent_platform (clipboard, launch, resolution, shutdown, OS
 *    name, changes; apps, open and windows where the platform has them), the system's
 *    own one from sys_desktop_new. Linux: agent/platform_linux.c (wl-copy/xclip, xrandr,
 *    posix_spawn, systemctl) and agent/apps_linux.c (XDG desktop entries, the hicolor
 *    icon theme, xdg-open, wmctrl for EWMH windows) and agent/shares_linux.c (the shared
 *    folders of shares.conf, mounted over virtio-fs).
 *
 * Windows: agent/win/ (agent/win/win.h says which file does what), built by mk/win.mk in
 * place of platform_posix.c, platform_linux.c, apps_linux.c, spawn.c, core/guest/tls_fd.c and
 * core/base/clock.c; main.c is
 * compiled with -Dmain=agent_main and run by agent/win/service.c, as a LocalSystem service
 * or with --console. What the first plan here got wrong for Windows, and what it does:
 * - The port is not always overlapped. virtio-win's vioserial port is (one read kept
 *   pending, one write in flight from the transport's own copy; its "host not connected"
 *   errors end the stream and main.c opens the port again). A port that answers
 *   GetCommState (a COM port, Wine's view of a pty) is driven synchronously with comm
 *   timeouts instead: under Wine 8 an overlapped read there never completes once a write
 *   was made while it was pending.
 * - The desktop is not in this process. A service in session 0 reaches neither the
 *   clipboard nor the display, so sys_desktop_new returns, in the service, a platform
 *   that forwards each call over a named pipe to neuron-session.exe, which the service
 *   starts in the active console session with the user's token and starts again on
 *   session changes and when it dies; with --console, the desktop itself.
 * - sys_listen takes a named pipe (\\.\pipe\NAME); sys_on_test_events waits on two named
 *   events (neuron-agent-test-clipboard-PID, -resolution-PID). */
#ifndef NEURON_AGENT_PLATFORM_H
#define NEURON_AGENT_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>

#include "neuron/tls.h"
#include "neuron/util.h"

/* ---- 1. The system. Each function that can fail returns 0, or -1 with why filled (at
 * most 256 bytes, a sentence a user can act on). */

/* This system's defaults: the port (--port), the credentials directory (--certs), and
 * its own desktop platform (--platform NAME, the default; HELP for --help). */
extern const char sys_default_port[], sys_default_certs[];
extern const char sys_desktop_name[], sys_desktop_help[];
struct agent_platform *sys_desktop_new(void);

/* Once at start: what the system needs so that a host that goes away does not kill us
 * (POSIX: ignore SIGPIPE). */
void sys_init(void);

/* One byte stream to the host. */
struct sys_stream;
/* The guest end of the virtio-serial port (path: the port's name on this system). */
int sys_open_port(const char *path, struct sys_stream **out, char *why);
/* Standard input and output (tests): not closed by sys_stream_close. */
int sys_open_stdio(struct sys_stream **out, char *why);
/* A secure link over the stream (the stream must outlive the link). */
int sys_stream_link(struct sys_stream *s, const struct nr_tls_creds *creds, struct nr_tls_link **out,
		    struct nr_error *err);
void sys_stream_close(struct sys_stream *s);

/* A local socket at path that hosts connect to, one at a time (tests, demos). path
 * appears only once there is a listener behind it. */
struct sys_listener;
int sys_listen(const char *path, struct sys_listener **out, char *why);
/* The next host (waits for it). */
int sys_accept(struct sys_listener *l, struct sys_stream **out, char *why);
/* Whether a stream from sys_accept is one host's connection: a host connects again for
 * each session, so main.c closes a connection that brings no handshake in time or whose
 * session ended (POSIX unix sockets). Windows' named pipe is the stand-in for vioserial's
 * overlapped port, which a relay may join to a line several hosts use in turn
 * (tests/win): it is served like a port. */
extern const bool sys_listen_connections;
/* Stops listening and removes path. */
void sys_listener_close(struct sys_listener *l);

/* This guest's host name ("" when unknown). */
void sys_hostname(char *out, size_t size);
/* Seconds since the guest booted (0 when unknown). */
long long sys_uptime_s(void);
/* Release what is left of launched programs that ended (POSIX: zombies). */
void sys_reap_children(void);
/* The memory platform's test hooks: call on(PLATFORM_CLIPBOARD_CHANGED) when a test
 * plays a user copying in the guest, on(PLATFORM_RESOLUTION_CHANGED) for a resolution
 * change (POSIX: SIGUSR1, SIGUSR2). on may run in a signal handler: it only sets flags. */
void sys_on_test_events(void (*on)(int what));

/* And spawn_detached, declared below with the posix_spawn helpers. */

/* ---- 2. The desktop. */

enum { PLATFORM_CLIPBOARD_CHANGED = 1, PLATFORM_RESOLUTION_CHANGED = 2 };

/* An installed application (the apps op, docs/PROTOCOL.md). Strings are borrowed for the
 * callback's duration; lists are NULL-terminated (NULL: empty). */
enum { APP_ICON_48 = 1, APP_ICON_256 = 2 };
struct agent_app {
	const char *id, *name, *program;
	const char *const *args;       /* what launch takes, without the files to open */
	const char *const *extensions; /* ".txt" */
	const char *const *mimes;      /* "text/plain" */
	int icons;                     /* APP_ICON_* bits: the sizes the guest has */
};
/* A top-level window (the windows op). id is the guest's own, as text. */
struct agent_window {
	const char *id, *title, *app;
	long long pid;                 /* 0 when unknown */
};
/* A shared folder's place in the guest (the shares op): "Z:\\" on Windows. */
struct agent_share {
	const char *name, *path;
};
/* Called once per app, window or share; a nonzero return stops the walk (enough was taken). */
typedef int (*agent_app_fn)(void *ctx, const struct agent_app *app);
typedef int (*agent_window_fn)(void *ctx, const struct agent_window *win);
typedef int (*agent_share_fn)(void *ctx, const struct agent_share *share);

struct agent_platform {
	const char *name;
	void *state;
	/* Each returns 0, or -1 with why filled (at most 256 bytes) and *code one of the
	 * protocol's error codes ("unsupported", "failed", "bad-request"). */
	int (*clipboard_get)(struct agent_platform *p, const char *mime, struct nr_buf *out,
			     const char **code, char *why);
	int (*clipboard_set)(struct agent_platform *p, const char *mime, const void *data, size_t len,
			     const char **code, char *why);
	/* Optional (NULL: clipboard_get and clipboard_set do it): a platform that holds the
	 * clipboard's bytes itself lends them (valid until its next call), or takes a received
	 * buffer as it is, so that a big image is not copied once more on its way (issue 20);
	 * take leaves in *data what the caller frees (empty, or the platform's old bytes). */
	int (*clipboard_peek)(struct agent_platform *p, const char *mime, const void **data, size_t *len,
			      const char **code, char *why);
	int (*clipboard_take)(struct agent_platform *p, const char *mime, struct nr_buf *data, const char **code,
			      char *why);
	int (*launch)(struct agent_platform *p, const char *program, const char *const *argv, long long *pid,
		      const char **code, char *why);
	int (*get_resolution)(struct agent_platform *p, int *width, int *height, const char **code, char *why);
	int (*set_resolution)(struct agent_platform *p, int width, int height, const char **code, char *why);
	int (*shutdown)(struct agent_platform *p, const char *mode, const char **code, char *why);
	/* The guest's apps (issue 17). A platform that cannot do one leaves it NULL: main.c
	 * answers "unsupported" naming the platform, and hello does not offer it. */
	int (*apps)(struct agent_platform *p, agent_app_fn each, void *ctx, const char **code, char *why);
	/* The app's icon as PNG at size (48 or 256) into out. */
	int (*app_icon)(struct agent_platform *p, const char *id, int size, struct nr_buf *out, const char **code,
			char *why);
	/* Open path (absolute, no ".." part: main.c checks) with app id, or with the guest's
	 * default for its type when app is NULL. */
	int (*open)(struct agent_platform *p, const char *path, const char *app, long long *pid, const char **code,
		    char *why);
	int (*windows)(struct agent_platform *p, agent_window_fn each, void *ctx, const char **code, char *why);
	int (*window_focus)(struct agent_platform *p, const char *id, const char **code, char *why);
	int (*window_close)(struct agent_platform *p, const char *id, const char **code, char *why);
	/* The shared folders (issue 17): the entries of shares.conf in the bundle directory
	 * (the credentials', --certs; one NAME=GUESTPATH a line) whose place exists in the
	 * guest, each with that place. NULL: not offered (hello lacks "shares"). */
	int (*shares)(struct agent_platform *p, const char *bundle, agent_share_fn each, void *ctx, const char **code,
		      char *why);
	/* "Debian GNU/Linux 12 (Linux 6.1.0)" */
	void (*os_name)(struct agent_platform *p, char *out, size_t size);
	/* What changed since the last call (PLATFORM_*_CHANGED bits); the mime and size
	 * of the new clipboard content. */
	int (*poll_changes)(struct agent_platform *p, char *mime, size_t mime_size, long long *size);
	void (*free)(struct agent_platform *p);
};

struct agent_platform *platform_memory_new(void);

/* A clipboard content's fingerprint (FNV-1a of the mime and the bytes): how a platform
 * tells a change from what it saw or set itself (agent/platform_common.c). */
unsigned long long platform_clip_hash(const char *mime, const void *data, size_t len);
struct agent_platform *platform_linux_new(void);
/* The Linux platform's apps, open and windows (agent/apps_linux.c). */
int apps_linux_list(struct agent_platform *p, agent_app_fn each, void *ctx, const char **code, char *why);
int apps_linux_icon(struct agent_platform *p, const char *id, int size, struct nr_buf *out, const char **code,
		    char *why);
int apps_linux_open(struct agent_platform *p, const char *path, const char *app, long long *pid,
		    const char **code, char *why);
int apps_linux_windows(struct agent_platform *p, agent_window_fn each, void *ctx, const char **code, char *why);
int apps_linux_window_focus(struct agent_platform *p, const char *id, const char **code, char *why);
int apps_linux_window_close(struct agent_platform *p, const char *id, const char **code, char *why);

/* The Linux platform's shares (agent/shares_linux.c): the lines NAME=PATH of shares.conf,
 * read from NEURON_AGENT_SHARES when set, else from the bundle directory, else from
 * /etc/neuron-agent/shares.conf (where setup.sh puts it), each mounted when
 * /proc/self/mountinfo (NEURON_AGENT_MOUNTINFO: another) has no virtiofs mount of tag NAME
 * on PATH: `mount -t virtiofs NAME PATH` as root, else `mount PATH` (the fstab line setup.sh
 * wrote); NEURON_AGENT_MOUNT names another mount program. Reported: those mounted. */
int shares_linux_list(struct agent_platform *p, const char *bundle, agent_share_fn each, void *ctx,
		      const char **code, char *why);

/* posix_spawn helpers shared by the POSIX platforms (agent/spawn.c). */
/* Start argv[0] (PATH search), not waiting; its pid in *pid. */
int spawn_detached(const char *const *argv, long long *pid, char *why);
/* Running a tool with its input and output in memory, bounded in time, and whether one
 * is installed: core's nr_tool_run and nr_tool_have (neuron/tool.h), which the host's
 * clipboard sync shares; these names are what the platform files call them. */
#ifndef _WIN32
#include "neuron/tool.h"
static inline int spawn_run(const char *const *argv, const void *input, size_t input_len, struct nr_buf *out,
			    int timeout_ms, char *why)
{
	return nr_tool_run(argv, input, input_len, out, timeout_ms, why);
}
static inline bool spawn_have(const char *name)
{
	return nr_tool_have(name);
}
#endif

#endif
