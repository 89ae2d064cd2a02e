/* Single-GPU passthrough: the boot GPU lent to a VM while it runs, and always given back.
 *
 * The hand-off is a plan named "single" (plan.h) made only of actions, so that the plan
 * engine's journal records every step before it acts, a crash in the middle is finished
 * or rolled back from the journal, and the release is the exact reverse:
 *   1. unit-stop     the display manager (read from the root: display-manager.service),
 *                    nvidia-persistenced, and the user units a Wayland session keeps;
 *   2. vtcon-unbind  each virtual console bound to a framebuffer (sys/class/vtconsole);
 *   3. fb-release    the firmware framebuffer (efi-framebuffer, simple-framebuffer for
 *                    simpledrm, vesa-framebuffer: whichever the sysroot has bound);
 *   4. gpu-holders   what still has /dev/dri or /dev/nvidia* of the GPU open: the hand-off
 *                    stops there, naming them;
 *   5. pci-driver    every function of the GPU's passthrough set, from its driver to vfio-pci.
 * Each release step checks its result (the unit is active, the console bound, the
 * framebuffer back, the original driver holds the function). sysfs is written through
 * nr_sysfs_write under the sysroot, commands run through nr_plan_run (run.standins in tests). */
#ifndef NEURON_SINGLE_H
#define NEURON_SINGLE_H

#include <stdbool.h>
#include <stddef.h>

#include "neuron/ctx.h"
#include "neuron/domain.h"
#include "neuron/error.h"
#include "neuron/plan.h"
#include "neuron/scan.h"

#define NR_SINGLE_PLAN "single"
#define NR_SINGLE_HOOK_PLAN "single-hook"

/* The display manager the root starts: the unit display-manager.service names ("gdm.service");
 * *known says whether it is one this program knows. -NR_E_NOTFOUND when the root has none. */
int nr_single_display_manager(const struct nr_ctx *ctx, char **unit, bool *known, struct nr_error *err);

/* Processes under the sysroot's proc/ that hold a device node of the GPU set addrs
 * (/dev/dri nodes whose sys/class/drm entry is one of them, or unknown; /dev/nvidia* when
 * nvidia): "1234 (Xorg) /dev/dri/card0" lines, appended. */
int nr_single_holders(const struct nr_ctx *ctx, const char *const *addrs, size_t n_addrs, bool nvidia,
		      char ***lines, size_t *n, struct nr_error *err);

/* Plan the hand-off of gpu_addr (see above). Refuses what gpu bind refuses (not a GPU, the
 * IOMMU off, not isolated, vfio-pci not loaded); the boot GPU is the point here. */
int nr_single_plan(const struct nr_ctx *ctx, const struct nr_scan *scan, const char *gpu_addr,
		   struct nr_plan **out, struct nr_error *err);

/* Run the hand-off; when it fails part-way (a step refused, a command failed) the release
 * runs at once and err says why the hand-off stopped (a release that fails too is added).
 * -NR_E_BUSY while a hand-off is recorded (one GPU lent at a time; restore first). */
int nr_single_handoff(const struct nr_ctx *ctx, struct nr_plan *plan, const struct nr_plan_opts *opts,
		      struct nr_error *err);

/* Give the GPU back: the recorded hand-off undone in reverse (an interrupted one too, or an
 * interrupted release finished). -NR_E_NOTFOUND when nothing is recorded. */
int nr_single_release(const struct nr_ctx *ctx, const struct nr_plan_opts *opts, struct nr_error *err);

/* The GPU a recorded hand-off holds (malloc'd), NULL when none is recorded. */
char *nr_single_recorded(const struct nr_ctx *ctx);

/* What the user must read before a hand-off: the screen goes dark, and the ways back
 * (the chord from single.chord). malloc'd, NULL on OOM. */
char *nr_single_warning(const struct nr_ctx *ctx);

/* The GPU single-GPU mode offers: the boot GPU, when no other GPU can be chosen and it is
 * isolated under an IOMMU; NULL otherwise. */
const struct nr_gpu *nr_single_gpu_offer(const struct nr_scan *scan);

/* The GPU among a domain's PCI devices that starts through the hand-off, NULL when none:
 * with gpu_mode auto the boot GPU unless vfio-pci holds it already, with single its GPU
 * whichever it is, with dedicated none. */
const char *nr_single_gpu_of(const struct nr_scan *scan, const struct nr_domain_info *info);

/* --- pre-flight checks (preflight.c) ------------------------------------------------- */

struct nr_check;
/* Add the checks a passthrough of the checklist's guest GPU needs beyond the scan, each with
 * its way forward: Resizable BAR, the GPU's reset (AMD cards that need vendor-reset), and for
 * the boot GPU (single-GPU mode) a way back (an SSH server enabled under the root, or a
 * serial console on the kernel command line) and a display manager and framebuffer this
 * program knows. */
void nr_single_check_add(const struct nr_ctx *ctx, const struct nr_scan *scan, struct nr_check *c);

/* --- libvirt's hook (hook.c) ---------------------------------------------------------- */

/* Plan /etc/libvirt/hooks/qemu (executable) under the root: a script that runs
 * `neuronctl gpu hook run "$@"`. When qemu is another program's hook, ours goes to
 * qemu.d/neuron-single beside it (a note says so). Revert with nr_plan_revert. */
int nr_single_hook_plan(const struct nr_ctx *ctx, struct nr_plan **out, struct nr_error *err);
/* Whether our hook is in place under the root. */
bool nr_single_hook_installed(const struct nr_ctx *ctx);

/* --- the watchdog and the escape chord (watch.c) ---------------------------------- */

#define NR_SINGLE_CHORD_MAX 6

/* Keys pressed together: "leftctrl+leftalt+f12" (names as linux/input-event-codes.h
 * spells them without KEY_, any case). */
struct nr_single_chord {
	unsigned short keys[NR_SINGLE_CHORD_MAX];
	size_t n;
};
int nr_single_chord_parse(const char *text, struct nr_single_chord *chord, struct nr_error *err);

/* The keyboards: every event device under the sysroot's single.input folder ("event*"),
 * read without blocking (a device, a FIFO or a file of struct input_event records). */
struct nr_single_keys;
int nr_single_keys_open(const struct nr_ctx *ctx, struct nr_single_keys **out, struct nr_error *err);
/* Read what has come; true when every key of the chord is down at once. */
bool nr_single_keys_chord(struct nr_single_keys *keys, const struct nr_single_chord *chord);
size_t nr_single_keys_count(const struct nr_single_keys *keys);
void nr_single_keys_free(struct nr_single_keys *keys);

/* How the watchdog sees the VM and stops it. */
struct nr_single_vm {
	/* 1 running, 0 not (not yet, shut off, crashed), negative NR_E_* when it cannot tell */
	int (*running)(void *data, struct nr_error *err);
	int (*destroy)(void *data, struct nr_error *err);
	void *data;
};

/* The watchdog's time; NULL fields: the monotonic clock and a real sleep. */
struct nr_single_clock {
	long long (*now_ms)(void *data);
	void (*sleep_ms)(void *data, long ms);
	void *data;
};

enum nr_single_end {
	NR_SINGLE_NEVER_RAN,    /* not running within single.start_s after the hand-off */
	NR_SINGLE_STOPPED,      /* ran, then stopped (shut down, crashed, destroyed) */
	NR_SINGLE_CHORD,        /* the escape chord: the VM was destroyed */
};
const char *nr_single_end_text(enum nr_single_end end);

/* Watch the VM after a hand-off: it must be running within single.start_s; once it is not
 * running any more, or the escape chord (single.chord) is typed, the VM is destroyed when
 * it still runs and the release runs (with release_opts). *end says why. Returns the
 * release's result. */
int nr_single_watch(const struct nr_ctx *ctx, const struct nr_single_vm *vm, const struct nr_single_clock *clock,
		    const struct nr_plan_opts *release_opts, enum nr_single_end *end, struct nr_error *err);

#endif
