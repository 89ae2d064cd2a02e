/* The clipboard of a Linux desktop session, Wayland or X11, through the standard tools
 * (wl-copy and wl-paste from wl-clipboard, xclip): the one reader and writer that the
 * guest agent's Linux platform (the guest's desktop) and `neuronctl agent sync` (the
 * host's desktop) share, and how a change is noticed: XFixes selection events on X11,
 * `wl-paste --watch` on a Wayland compositor that has the data-control protocol, polling
 * only where the desktop does not notify. Types are the protocol's names: "text/plain"
 * (UTF-8) and "image/png". */
#ifndef NEURON_DESKTOP_H
#define NEURON_DESKTOP_H

#include <stdbool.h>
#include <stddef.h>

#include "neuron/error.h"
#include "neuron/util.h"

enum nr_desktop_kind {
	NR_DESKTOP_NONE,        /* no session, or no tool for it */
	NR_DESKTOP_WAYLAND,     /* WAYLAND_DISPLAY with wl-copy and wl-paste */
	NR_DESKTOP_X11,         /* DISPLAY with xclip */
};

struct nr_desktop;

/* The session of this process's environment (never fails but for memory: NULL). */
struct nr_desktop *nr_desktop_new(void);
void nr_desktop_free(struct nr_desktop *d);
enum nr_desktop_kind nr_desktop_kind(const struct nr_desktop *d);
/* 0 when the clipboard can be used; else -NR_E_UNSUPPORTED with what is missing (no
 * WAYLAND_DISPLAY or DISPLAY, or the tool for it). */
int nr_desktop_check(const struct nr_desktop *d, struct nr_error *err);
/* The tool that takes the clipboard: "wl-copy" or "xclip". */
const char *nr_desktop_copy_tool(const struct nr_desktop *d);
/* False, with why filled (256 bytes), when the session's display server does not answer
 * (a local socket that takes no connection); true when it does or cannot be told. */
bool nr_desktop_answers(const struct nr_desktop *d, char *why);

/* What the clipboard offers, as the protocol names it ("text/plain" before "image/png"),
 * *mime NULL when neither; deadline is a time of nr_now_ms. Each returns the tool's status
 * (positive: nothing of the kind is copied), -1 (could not run, why filled) or -2 (did
 * not finish by the deadline). */
int nr_desktop_clip_offers(struct nr_desktop *d, long long deadline, const char **mime, char *why);
/* The clipboard as mime into out (text comes as UTF-8: X's STRING is converted). */
int nr_desktop_clip_read(struct nr_desktop *d, const char *mime, struct nr_buf *out, long long deadline,
			 char *why);
/* Give the clipboard data as mime: the tool forks an owner and returns. */
int nr_desktop_clip_own(struct nr_desktop *d, const char *mime, const void *data, size_t len, int timeout_ms,
			char *why);
/* Wait until the clipboard serves exactly data (the owner is in place): 0, or positive
 * with why filled when it still served something else at the deadline. */
int nr_desktop_clip_confirm(struct nr_desktop *d, const char *mime, const void *data, size_t len,
			    long long deadline, char *why);

/* ---- change notifications */

/* Start watching the clipboard: *fd becomes readable when it may have changed (call
 * nr_desktop_watch_ack then). -1 in *fd when the desktop gives no notification here (no
 * XFixes; a Wayland compositor without data-control): poll instead. *how says which, in
 * words ("XFixes selection events", "wl-paste --watch", "polling: ..."). */
int nr_desktop_watch(struct nr_desktop *d, int *fd, const char **how, struct nr_error *err);
/* Take what made the fd readable: true when a change was announced. A watch that ended
 * (the display or wl-paste went away) sets *fd to -1 through nr_desktop_watch_fd. */
bool nr_desktop_watch_ack(struct nr_desktop *d);
int nr_desktop_watch_fd(const struct nr_desktop *d);

#endif
