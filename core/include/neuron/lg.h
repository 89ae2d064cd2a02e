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

/* IVSHMEM size in MiB for a resolution (Looking Glass B7 rule): width x height x 4
 * bytes x 2 frames (x 2 again for HDR), in MiB, plus 10, rounded up to a power of
 * two. 1080p 32, 1440p 64, 2160p 128. Returns 0 for a size out of range. */
unsigned nr_lg_shm_size_mib(unsigned width, unsigned height, bool hdr);
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

struct nr_lg_snapshot {
	enum nr_lg_shm_kind kind;
	const char *layout;         /* "b7", "newer"; NULL unless kind is HEADER */
	const char *detail;         /* for UNKNOWN/TRUNCATED: why, in words (static text) */
	uint64_t size;              /* bytes of shared memory seen */
	uint64_t header_offset;     /* where the LGMP header starts */
	uint32_t version;           /* LGMP protocol version (also set for an unknown one) */
	bool have_version;
	uint32_t session_id;
	uint64_t timestamp_ms;      /* moves while the host application runs */
	bool kvmfr;                 /* a KVMFR record was found after the header */
	uint32_t kvmfr_version;
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

/* Map path read-only (a file under /dev/shm or /dev/kvmfr0) and read it once. */
int nr_lg_read(const char *path, struct nr_lg_snapshot *out, struct nr_error *err);
/* Read path, then again every interval until the timestamp moves (alive) or has not
 * moved for stale_ms (stale). w may be NULL for the defaults. */
int nr_lg_status_read(const char *path, const struct nr_lg_watch *w, struct nr_lg_status *out,
		      struct nr_error *err);
const char *nr_lg_shm_kind_name(enum nr_lg_shm_kind k);   /* "empty", "truncated", ... */
const char *nr_lg_host_state_name(enum nr_lg_host_state s); /* "none", "alive", "stale", "unknown" */
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
const char *nr_lg_sup_state_name(enum nr_lg_sup_state s);

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
