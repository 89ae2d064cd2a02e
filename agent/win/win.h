/* neuron-agent on Windows: what the files under agent/win/ share (not portable; the
 * portable agent is agent/main.c behind agent/platform.h).
 *
 *   system.c   the system layer of platform.h: the port (a vioserial port with overlapped
 *              I/O, or a serial device with comm timeouts), stdio, named-pipe listener,
 *              host name, uptime; sys_desktop_new picks the desktop below
 *   desktop.c  the desktop itself (clipboard with WIC, display settings, launch, changes),
 *              called in the user's session: by the session helper, or in console mode
 *   apps.c     the apps (Start Menu, App Paths, packaged), icons, open, and the windows,
 *              in the user's session too
 *   shares.c   the shared folders' drives (shares.conf of the credentials), in the service
 *   session.c  the service's side of the session helper: starting it in the active
 *              console session, the named pipe to it, and the platform that forwards
 *   helper.c   neuron-session.exe: the helper's end of that pipe
 *   service.c  neuron-agent.exe's entry: the service (LocalSystem) or --console
 *   ipc.c      the messages on that pipe, for both ends */
#ifndef NEURON_AGENT_WIN_H
#define NEURON_AGENT_WIN_H

#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <stdbool.h>
#include <stddef.h>

#include "neuron/util.h"
#include "../platform.h"

#define WIN_SERVICE_NAME L"NeuronAgent"
#define WIN_HELPER_EXE L"neuron-session.exe"
/* HKLM: where the MSI leaves the CERTS property (credentials to import at start). */
#define WIN_REG_KEY L"SOFTWARE\\NeuronOS\\Agent"
#define WIN_REG_IMPORT L"ImportCredentials"
/* The shared folders' list in the credentials directory (imported with them). */
#define WIN_SHARES_CONF L"shares.conf"

/* UTF-8 <-> UTF-16; malloc'd, NULL on failure (or invalid input). */
wchar_t *win_wide(const char *s);
char *win_utf8(const wchar_t *w);
/* "what: the system's message (code)" into why (256 bytes). */
void win_why(char *why, const char *what, DWORD code);

/* How neuron-agent.exe runs: set by service.c before main.c's main runs. */
enum win_mode { WIN_MODE_CONSOLE, WIN_MODE_SERVICE };
extern enum win_mode win_mode;

/* ---- desktop.c: the calls of agent_platform, in the calling user's session. Each
 * returns 0, or -1 with *code a protocol error code and why filled. */
int win_desktop_start(void); /* the change listener (a hidden window on its own thread) */
int win_clip_get(const char *mime, struct nr_buf *out, const char **code, char *why);
int win_clip_set(const char *mime, const void *data, size_t len, const char **code, char *why);
int win_launch(const char *const *argv, long long *pid, const char **code, char *why);
int win_res_get(int *w, int *h, const char **code, char *why);
int win_res_set(int w, int h, const char **code, char *why);
/* PLATFORM_*_CHANGED bits since the last call; the clipboard's first type and size. */
int win_changes(char *mime, size_t mime_size, long long *size);
/* apps.c: the apps, their icons, open and the windows (issue 17), in the same session. */
int win_apps(agent_app_fn each, void *ctx, const char **code, char *why);
int win_app_icon(const char *id, int size, struct nr_buf *out, const char **code, char *why);
int win_open(const char *path, const char *app, long long *pid, const char **code, char *why);
int win_windows(agent_window_fn each, void *ctx, const char **code, char *why);
int win_window_focus(const char *id, const char **code, char *why);
int win_window_close(const char *id, const char **code, char *why);
/* The apps and windows on the helper's pipe: win_pack_* are agent_app_fn / agent_window_fn
 * that append to the nr_buf ctx; win_unpack_* call each for what was packed (-1: malformed). */
int win_pack_app(void *ctx, const struct agent_app *app);
int win_pack_window(void *ctx, const struct agent_window *win);
int win_unpack_apps(const void *data, size_t len, agent_app_fn each, void *ctx);
int win_unpack_windows(const void *data, size_t len, agent_window_fn each, void *ctx);
/* desktop.c's WIC, for apps.c's icons: the factory (NULL with code and why), and a bitmap
 * source encoded as PNG into out. */
struct IWICImagingFactory;
struct IWICBitmapSource;
struct IWICImagingFactory *win_wic(const char **code, char *why);
int win_encode_png(struct IWICImagingFactory *f, struct IWICBitmapSource *src, struct nr_buf *out,
		   const char **code, char *why);
/* shares.c, in the service: the shares of bundle's shares.conf whose drive is there
 * (the platform's shares hook). */
int win_shares(struct agent_platform *p, const char *bundle, agent_share_fn each, void *ctx, const char **code,
	       char *why);
/* Both in the service itself (SYSTEM), not in the session. */
void win_os_name(char *out, size_t size);
int win_shutdown(const char *mode, const char **code, char *why);
/* The platform that calls the functions above directly (console mode). */
struct agent_platform *win_direct_new(void);

/* ---- session.c: the service's side. */
struct agent_platform *win_proxy_new(void);
/* From the service's control handler: the console session changed (another user, a
 * log-on, a reconnect): the helper is started again in the new one. */
void win_proxy_session_changed(void);
/* The service stops: end the helper. */
void win_proxy_stop(void);

/* ---- ipc.c: one request or reply on the helper's pipe: a header (op or status, and the
 * payload's length), then the payload. Blocking, with a timeout for the overlapped
 * handle of the service's end (timeout_ms < 0: the helper's synchronous end). */
enum win_op {
	WIN_OP_CLIP_GET = 1, WIN_OP_CLIP_SET, WIN_OP_LAUNCH, WIN_OP_RES_GET, WIN_OP_RES_SET, WIN_OP_CHANGES,
	WIN_OP_APPS, WIN_OP_APP_ICON, WIN_OP_OPEN, WIN_OP_WINDOWS, WIN_OP_WINDOW_FOCUS, WIN_OP_WINDOW_CLOSE,
};
#define WIN_IPC_MAX (80u << 20) /* a 64 MiB transfer and its header, with room */
struct win_msg {
	int kind;         /* a request's op, or a reply's status (0 ok, -1 failed) */
	struct nr_buf data;
};
int win_ipc_send(HANDLE h, int kind, const void *a, size_t alen, const void *b, size_t blen, int timeout_ms);
/* 0, or -1 (the pipe broke, or the timeout passed: the peer is not usable any more). */
int win_ipc_recv(HANDLE h, struct win_msg *m, int timeout_ms);
/* The error of a failed reply: "code\0why\0". */
void win_ipc_error(const struct win_msg *m, const char **code, char *why);

#endif
