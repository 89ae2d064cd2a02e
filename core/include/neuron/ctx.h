/* Where the program looks: the named parameters every module reads its paths from.
 * Like pci_set_param(): a test moves any path by setting one parameter. */
#ifndef NEURON_CTX_H
#define NEURON_CTX_H

#include "neuron/error.h"

/* X(name, default, help) */
#define NR_PARAMS(X) \
	X("sysroot",  "/", "where the live machine is observed (sys/, proc/, dev/)") \
	X("root",     "/", "the installed system whose configuration is planned and applied") \
	X("connect",  "qemu:///system", "libvirt connection URI") \
	X("virt.connect_ms", "15000", "libvirt: how long connecting may take before the daemon counts as not answering") \
	X("virt.keepalive_s", "5", "libvirt: seconds of silence before a keepalive probe (0: none)") \
	X("virt.keepalive_count", "3", "libvirt: unanswered probes after which the daemon counts as gone") \
	X("pci.ids",  "", "pci.ids file for device names (empty: libpci's default)") \
	X("state_dir", "/var/lib/neuron", "neuron's own state, under root") \
	X("runtime_dir", "", "pid files and sockets (empty: $XDG_RUNTIME_DIR or /run/neuron)") \
	/* vm, profile, domain */ \
	X("templates", "", "domain XML templates (empty: templates/ beside the program, then /usr/share/neuron/templates)") \
	X("run.standins", "", "run plan commands from this directory, unchrooted (tests)") \
	/* guest-tools media */ \
	X("media.xorriso", "xorriso", "the ISO tool that makes each VM's guest-tools media") \
	X("media.files", "", "the agent files for the media (empty: the build beside the program, then PREFIX/share/neuron/guest)") \
	/* looking glass */ \
	X("lg.shm", "/dev/shm/looking-glass", "Looking Glass shared memory, under the sysroot") \
	X("lg.watch_ms", "200", "lg status: time between two reads of the shared memory") \
	X("lg.stale_ms", "1000", "lg status: a timestamp unchanged this long means the host app is stale") \
	X("lg.client", "", "Looking Glass client binary (empty: looking-glass-client on PATH)") \
	X("lg.fullscreen", "no", "start the client full screen (yes/no)") \
	X("lg.escape", "", "the client's escape key, e.g. KEY_RIGHTCTRL (empty: its default)") \
	X("lg.spice", "yes", "let the client use SPICE for input and clipboard (yes/no)") \
	X("lg.backoff_ms", "1000", "first delay before restarting a crashed client; doubles each time") \
	X("lg.give_up", "5", "quick crashes in a row after which the client is given up") \
	X("lg.quick_ms", "10000", "a client that dies sooner than this after starting crashed quickly") \
	X("lg.stop_ms", "3000", "how long stop waits after SIGTERM before SIGKILL") \
	/* single-GPU passthrough */ \
	X("single.chord", "leftctrl+leftalt+f12", "single-GPU: the keys that destroy the VM and give the screen back") \
	X("single.input", "dev/input", "single-GPU: where the keyboards' event devices are, under the sysroot") \
	X("single.start_s", "60", "single-GPU: a VM not running this long after the hand-off is given up") \
	X("single.poll_ms", "250", "single-GPU: time between two looks at the VM and the keyboards")

/* The options both front ends (neuronctl, neuron-tui) take to set parameters, one row each:
 * X(option, metavar, help). Each sets the parameter of its name; --param sets any. */
#define NR_CTX_OPTIONS(X) \
	X("sysroot", "DIR", "observe the machine under DIR (sys/, proc/) instead of /") \
	X("root", "DIR", "plan and apply configuration on the system under DIR") \
	X("connect", "URI", "libvirt connection (default qemu:///system)") \
	X("param", "NAME=VALUE", "set a named parameter (neuronctl(1) lists them); repeatable")

struct nr_ctx;

struct nr_ctx *nr_ctx_new(void);
void nr_ctx_free(struct nr_ctx *ctx);
/* Set a named parameter; unknown names are an error (-NR_E_INVAL). */
int nr_ctx_set(struct nr_ctx *ctx, const char *name, const char *value, struct nr_error *err);
/* Apply one of NR_CTX_OPTIONS: ("root", "/mnt"), ("param", "lg.client=/bin/x"). An unknown
 * option or parameter, or a --param without '=', is -NR_E_USAGE with the reason. */
int nr_ctx_set_option(struct nr_ctx *ctx, const char *option, const char *value, struct nr_error *err);
/* The value (borrowed), never NULL for a known name; NULL for an unknown one. */
const char *nr_ctx_get(const struct nr_ctx *ctx, const char *name);
/* Iterate the parameter table: name and help of entry i, NULL past the end. */
const char *nr_ctx_param_name(int i, const char **help);
/* The runtime directory (pid files, state, sockets): the runtime_dir parameter, else
 * $XDG_RUNTIME_DIR/neuron, else /run/neuron. malloc'd, NULL on OOM. */
char *nr_ctx_runtime_dir(const struct nr_ctx *ctx);
/* A path under the sysroot ("sys/bus/pci" -> "/tmp/x/sys/bus/pci"); malloc'd, NULL on OOM. */
char *nr_ctx_sys_path(const struct nr_ctx *ctx, const char *rel);

#endif
