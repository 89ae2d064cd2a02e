/* Looking Glass: the shared memory size rule, what the shared memory says about the
 * guest's host application, the shm path of a VM, and the supervised client. */
#ifndef NEURON_LG_H
#define NEURON_LG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "neuron/ctx.h"
#include "neuron/error.h"

struct nr_virt;
struct nr_domain_info;
struct nr_plan;
struct nr_plan_opts;
struct nr_plan_result;

/* ---- size ---------------------------------------------------------------- */

/* The Windows side of Looking Glass the shared memory is sized for. */
enum nr_lg_stack {
	NR_LG_STACK_AUTO = 0,   /* follow the installed client (nr_lg_stack_default) */
	NR_LG_STACK_B7,         /* the B7 host application (LGMP 6) */
	NR_LG_STACK_IDD,        /* the Indirect Display Driver of the releases after B7 */
};

/* IVSHMEM size in MiB for a resolution, rounded up to a power of two:
 *   B7:  width x height x 4 bytes x 2 frames (x 2 again for HDR) + 10 MiB
 *        (1080p 32, 1440p 64, 2160p 128);
 *   IDD: ceil(width x 4 / 256) x 256 x height x 3 frames + 4 MiB, HDR the same
 *        (1080p 32, 1440p 64, 2160p 128, 720p 16).
 * AUTO counts as B7 here (resolve it first). Returns 0 for a size out of range. */
unsigned nr_lg_shm_size_mib(enum nr_lg_stack stack, unsigned width, unsigned height, bool hdr);
/* "b7", "idd", "auto". */
int nr_lg_stack_parse(const char *s, enum nr_lg_stack *stack);
const char *nr_lg_stack_name(enum nr_lg_stack stack);
const char *nr_lg_stack_help(enum nr_lg_stack stack);   /* the rule in words */
/* Parse "1920x1080" (also "1080p", "1440p", "2160p", "4k"). Returns 0 or -NR_E_INVAL. */
int nr_lg_parse_resolution(const char *s, unsigned *width, unsigned *height);

/* ---- the guest's host application, read from the shared memory ------------ */

/* What one look at the shared memory found. */
enum nr_lg_shm_kind {
	NR_LG_SHM_EMPTY,        /* zero length, or only zero bytes where a header would be */
	NR_LG_SHM_TRUNCATED,    /* a header starts but the file ends inside it */
	NR_LG_SHM_UNKNOWN,      /* bytes that match no layout this program knows */
	NR_LG_SHM_HEADER,       /* a known layout (see .layout) */
};

#define NR_LG_HOSTVER_MAX 64

/* KVMFR feature flags the guest's host application announces (Looking Glass
 * common/include/common/KVMFR.h, KVMFR_FEATURE_*; KVMFR_VERSION 34 in master). */
#define NR_LG_FEATURE_SETCURSORPOS   0x01u
#define NR_LG_FEATURE_WINDOWSIZE     0x02u  /* resizes the guest to the client window */
#define NR_LG_FEATURE_FRAME_SCHEDULE 0x04u
#define NR_LG_FEATURE_INPUT          0x08u  /* carries keyboard and mouse itself */
#define NR_LG_FEATURE_CLIPBOARD      0x10u  /* syncs the clipboard itself */

struct nr_lg_snapshot {
	enum nr_lg_shm_kind kind;
	const char *layout;         /* "b7", "lgmp7" ... "lgmp10"; NULL unless kind is HEADER */
	const char *detail;         /* for UNKNOWN/TRUNCATED: why, in words (static text) */
	uint64_t size;              /* bytes of shared memory seen */
	uint64_t header_offset;     /* where the LGMP magic is */
	uint32_t version;           /* LGMP protocol version (also set for an unknown one) */
	bool have_version;
	uint32_t session_id;
	uint32_t num_queues;
	uint64_t timestamp_ms;      /* the heartbeat: moves while the host application runs */
	uint64_t udata_offset;      /* where the header's user data starts */
	uint32_t udata_size;        /* what the header says it holds */
	bool kvmfr;                 /* a KVMFR record was found in the user data */
	const char *kvmfr_detail;   /* why not, when the header is there but the record is not */
	uint32_t kvmfr_version;
	uint32_t features;          /* NR_LG_FEATURE_* */
	char host_version[NR_LG_HOSTVER_MAX]; /* sanitised; "" when absent */
};

/* Probe a copy of the first bytes of the shared memory (mem, len) whose whole size
 * is total. Never fails: bytes it cannot place give NR_LG_SHM_UNKNOWN. */
void nr_lg_probe(const void *mem, size_t len, uint64_t total, struct nr_lg_snapshot *out);
/* How many leading bytes nr_lg_probe wants to see to find every known layout. */
size_t nr_lg_probe_window(void);

enum nr_lg_host_state {
	NR_LG_HOST_NONE,        /* no header: the host application never ran (or the VM is off) */
	NR_LG_HOST_ALIVE,       /* its timestamp moved between two reads */
	NR_LG_HOST_STALE,       /* unchanged for longer than stale_ms: VM stopped or host app hung */
	NR_LG_HOST_UNKNOWN,     /* unknown or truncated layout: cannot tell, never guessed */
};

struct nr_lg_status {
	struct nr_lg_snapshot first, last;  /* the first and the last read */
	enum nr_lg_host_state host;
	bool session_changed;   /* the session id differed between reads: host app restarted */
	unsigned watched_ms;    /* how long the reads spanned */
};

struct nr_lg_watch {
	unsigned interval_ms;   /* between two reads; 0: 200 */
	unsigned stale_ms;      /* unchanged this long means stale; 0: 1000 */
};

/* Read path once into a copy (pread for a file, so one truncated while it is read
 * shows as truncated, never a SIGBUS; a read-only map for /dev/kvmfrN, which has no
 * read() and cannot shrink). */
int nr_lg_read(const char *path, struct nr_lg_snapshot *out, struct nr_error *err);
/* Read path, then again every interval until the timestamp moves (alive) or has not
 * moved for stale_ms (stale). w may be NULL for the defaults. */
int nr_lg_status_read(const char *path, const struct nr_lg_watch *w, struct nr_lg_status *out,
		      struct nr_error *err);
const char *nr_lg_shm_kind_name(enum nr_lg_shm_kind k);   /* "empty", "truncated", ... */
const char *nr_lg_host_state_name(enum nr_lg_host_state s); /* "none", "alive", "stale", "unknown" */
/* The words for the host's feature flags ("clipboard, window size, input"), into buf;
 * "none" when there are none. Bits this program does not know show as hex. */
void nr_lg_features_text(uint32_t features, char *buf, size_t size);
/* Remember the session id seen in shm_path (a small file in the runtime directory) and
 * say what the last call saw: *had_previous false the first time. A host application
 * that restarted between two calls shows as a different previous session. Failing to
 * write the note (no runtime directory, read-only) is not an error. */
void nr_lg_session_remember(const struct nr_ctx *ctx, const char *shm_path, uint32_t session,
			    uint32_t *previous, bool *had_previous);
/* One sentence about the status for a person ("the host application is running ..."). */
char *nr_lg_status_sentence(const struct nr_lg_status *st);

/* ---- a VM's shared memory ---------------------------------------------------- */

/* The Looking Glass shared memory of a domain read by nr_domain_inspect (neuron/domain.h):
 * its path (borrowed from info) and size in MiB (0 when the XML's cannot be read). The one
 * decision whether a VM has Looking Glass: `lg status`, `lg start` and the TUI's VMs panel all
 * take it. -NR_E_NOTFOUND, with what to add, when the domain has none. */
int nr_lg_shm_of(const struct nr_domain_info *info, const char **path, unsigned *size_mib,
		 struct nr_error *err);
/* The same for a defined VM, read through libvirt. *path malloc'd. */
int nr_lg_vm_shm(struct nr_virt *virt, const char *vm, char **path, unsigned *size_mib,
		 struct nr_error *err);
/* Whether Looking Glass carries the clipboard itself for a VM, so that our agent's sync
 * must stand back: the shared memory at shm_path holds a host application's header whose
 * KVMFR features announce clipboard, or a B7 host (LGMP protocol 6, which carries it over
 * SPICE) and the domain has SPICE graphics. why (size bytes) says which, for a person. */
bool nr_lg_carries_clipboard(const char *shm_path, bool spice, char *why, size_t size);
/* The spice argument for a domain: it has SPICE graphics and the client is let use SPICE
 * (the lg.spice parameter, as nr_lg_client_opts_defaults reads it). */
bool nr_lg_spice_clipboard(const struct nr_ctx *ctx, const struct nr_domain_info *info);
/* Check that the current user can read and write path (under the ctx's sysroot);
 * the message names the group to join when not. */
int nr_lg_shm_check_access(const char *path, struct nr_error *err);
/* The same judgement for a given user id and group list (what the check uses; tests). */
int nr_lg_shm_access_as(const char *path, unsigned uid, const unsigned *gids, size_t n_gids,
			struct nr_error *err);

/* ---- the client, supervised ------------------------------------------------- */

struct nr_lg_client_opts {
	const char *vm;             /* names the pid, state and log files */
	const char *shm_path;       /* passed as -f PATH */
	const char *client;         /* the binary; NULL: ctx "lg.client", else PATH lookup */
	bool fullscreen;            /* win:fullScreen=yes */
	const char *escape_key;     /* input:escapeKey=KEY; NULL: the client's default */
	bool no_spice;              /* spice:enable=no */
	const char *const *extra;   /* more client arguments, NULL-terminated; may be NULL */
};

enum nr_lg_sup_state {
	NR_LG_SUP_NOT_RUNNING,      /* no pid file */
	NR_LG_SUP_RUNNING,          /* the supervisor runs and its client is up */
	NR_LG_SUP_BACKOFF,          /* the client crashed; a restart is pending */
	NR_LG_SUP_GAVE_UP,          /* too many quick crashes; the supervisor stopped */
	NR_LG_SUP_STALE,            /* a pid file whose supervisor is gone (cleaned up) */
};

struct nr_lg_sup_info {
	enum nr_lg_sup_state state;
	long supervisor_pid, client_pid;
	unsigned restarts;          /* restarts after crashes so far */
	char shm_path[4096];
	char log_path[4096];
	char last_exit[128];        /* "signal 11 after 0.1 s", "" when none */
	char *last_lines;           /* the last lines of the log when it gave up (malloc'd) or NULL */
};

/* Fill fullscreen, escape_key and no_spice from the ctx's lg.* configuration
 * (lg.fullscreen, lg.escape, lg.spice); the caller then applies its own flags. */
void nr_lg_client_opts_defaults(const struct nr_ctx *ctx, struct nr_lg_client_opts *opts);
/* The client binary: opts->client, ctx "lg.client", or looking-glass-client on PATH.
 * -NR_E_NOTFOUND with install advice when missing. malloc'd. */
int nr_lg_client_find(const struct nr_ctx *ctx, const char *client, char **path, struct nr_error *err);
/* -NR_E_UNSUPPORTED with a clear message when neither WAYLAND_DISPLAY nor DISPLAY is set. */
int nr_lg_graphical_session(struct nr_error *err);
/* The client's argv (NULL-terminated, malloc'd with its strings; free with nr_lg_argv_free). */
char **nr_lg_client_argv(const char *binary, const struct nr_lg_client_opts *opts);
void nr_lg_argv_free(char **argv);

/* Start a detached supervisor for opts->vm: it runs the client with its output in a
 * log file, restarts it after a crash with backoff, and gives up after repeated quick
 * crashes. Returns once the first client has been started (its pid in *client_pid).
 * -NR_E_EXISTS when one already runs for this VM. The supervisor process itself ends
 * with _exit() when it stops; this call returns in the caller's process. */
int nr_lg_client_start(const struct nr_ctx *ctx, const struct nr_lg_client_opts *opts,
		       long *client_pid, struct nr_error *err);
/* Run the supervisor loop in this process until stopped (SIGTERM/SIGINT) or it gives up.
 * Returns 0 when stopped or the client exited cleanly, -NR_E_LG_GAVEUP when it gave up. */
int nr_lg_supervise(const struct nr_ctx *ctx, const struct nr_lg_client_opts *opts,
		    struct nr_error *err);
/* Stop the supervisor of vm (and its client, SIGKILL when SIGTERM is ignored).
 * -NR_E_NOTFOUND when none runs. */
int nr_lg_client_stop(const struct nr_ctx *ctx, const char *vm, struct nr_error *err);
/* What the supervisor of vm is doing; a stale pid file is removed and reported. */
int nr_lg_client_info(const struct nr_ctx *ctx, const char *vm, struct nr_lg_sup_info *out,
		      struct nr_error *err);
void nr_lg_sup_info_done(struct nr_lg_sup_info *info);

/* The installed client's version ("B7", "B7-412-g8cb6a687"), sanitised, into buf: it
 * runs ctx "lg.client" (else looking-glass-client) with --help through the command
 * runner (inside the ctx's root; its stand-ins in tests) and reads the "Looking Glass
 * (VERSION)" line every client prints first. -NR_E_LG_NOCLIENT when it cannot be run,
 * -NR_E_PARSE when it names no version. */
int nr_lg_client_version(const struct nr_ctx *ctx, char *buf, size_t size, struct nr_error *err);
/* Which stack a version belongs to: a build past B7 or a later release is IDD; B7,
 * its release candidates, older ones and anything unreadable are B7. */
enum nr_lg_stack nr_lg_version_stack(const char *version);
/* The stack of the installed client; B7 when there is none or its version is unknown. */
enum nr_lg_stack nr_lg_stack_default(const struct nr_ctx *ctx);
/* When client and host versions differ: a sentence saying what to install (malloc'd);
 * NULL when they match or either is unknown (""). */
char *nr_lg_version_mismatch(const char *client, const char *host);
const char *nr_lg_sup_state_name(enum nr_lg_sup_state s);

/* ---- checks of a kvmfr set-up, each with its fix ------------------------------------ */

enum nr_lg_finding_status { NR_LG_FINDING_PASS, NR_LG_FINDING_WARN, NR_LG_FINDING_FAIL };

struct nr_lg_finding {
	const char *name;           /* "kvmfr_device" */
	const char *title;          /* "kvmfr device" */
	enum nr_lg_finding_status status;
	char detail[384];           /* what was found */
	char fix[512];              /* what to do ("" when nothing) */
};

#define NR_LG_KVMFR_CHECKS 5
/* The kvmfr set-up for device ("/dev/kvmfr0") on the ctx's sysroot and root: the device is
 * a character device (a VM started before the module makes it a regular file), its
 * static_size_mb (modprobe.d) equals want_mib (the domain's size; 0: not compared), a
 * udev rule gives the group read/write and uaccess, libvirt's cgroup_device_acl lists
 * it, and AppArmor's local libvirt-qemu abstraction allows it where AppArmor is on.
 * Fills out[NR_LG_KVMFR_CHECKS]; never fails. */
size_t nr_lg_kvmfr_check(const struct nr_ctx *ctx, const char *device, unsigned want_mib,
			 struct nr_lg_finding *out);
/* Whether the system uses kvmfr: the device exists or modprobe.d sizes it. */
bool nr_lg_kvmfr_in_use(const struct nr_ctx *ctx);
/* AppArmor on the sysroot: sys/module/apparmor/parameters/enabled says Y. */
bool nr_lg_apparmor_on(const struct nr_ctx *ctx);
const char *nr_lg_finding_status_name(enum nr_lg_finding_status s); /* "PASS", "WARN", "FAIL" */
struct nr_check;
/* The Looking Glass items of the readiness checklist (check.h): the client's and the
 * host's versions when both are known (the host from shm_path, NULL: ctx "lg.shm"), and
 * the kvmfr checks when kvmfr is in use or shm_path is a kvmfr device; want_mib is the
 * VM's size (0: not compared). */
void nr_lg_check_add(const struct nr_ctx *ctx, const char *shm_path, unsigned want_mib, struct nr_check *c);

/* ---- set-up on the target root (a plan of the engine in plan.h) ------------------ */

enum nr_lg_mode {
	NR_LG_MODE_SHM,         /* /dev/shm/looking-glass, made by systemd-tmpfiles */
	NR_LG_MODE_KVMFR,       /* the kvmfr module's /dev/kvmfr0 */
};

struct nr_lg_setup {
	enum nr_lg_mode mode;
	const char *user;       /* who runs the client (owner of the file or device) */
	const char *group;      /* NULL: "kvm" */
	unsigned size_mib;      /* a power of two: nr_lg_shm_size_mib() */
};

int nr_lg_mode_parse(const char *s, enum nr_lg_mode *mode);   /* "shm" (or "file"), "kvmfr" */
const char *nr_lg_mode_name(enum nr_lg_mode m);
/* The plan's name, its journal and backups: "lg-shm", "lg-kvmfr". */
const char *nr_lg_setup_plan_name(enum nr_lg_mode m);
/* Build the set-up plan on the ctx's root. The user and group must exist in the
 * target's /etc/passwd and /etc/group. */
int nr_lg_setup_plan(const struct nr_ctx *ctx, const struct nr_lg_setup *s, struct nr_plan **out,
		     struct nr_error *err);
/* What apply does besides the file edits (the shm file now), one sentence; NULL when nothing. */
char *nr_lg_setup_now(const struct nr_plan *plan);
/* nr_plan_apply, then the shm file now (shm mode, when the target runs). */
int nr_lg_setup_apply(const struct nr_ctx *ctx, struct nr_plan *plan, const struct nr_plan_opts *opts,
		      struct nr_plan_result *res, struct nr_error *err);
/* nr_plan_revert, then remove the shm file apply created (or give it its old owner and mode). */
int nr_lg_setup_revert(const struct nr_ctx *ctx, enum nr_lg_mode mode, const struct nr_plan_opts *opts,
		       struct nr_plan_result *res, struct nr_error *err);
/* qemu.conf with device in cgroup_device_acl: added to an active list, or a new list after
 * the commented default one (keeping its entries). *out is NULL when device is already
 * listed. -NR_E_PARSE when an active list does not close. */
int nr_lg_qemu_conf_acl(const char *text, const char *device, char **out);

#endif
