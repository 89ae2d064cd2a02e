/* Keeping a VM's clipboard in sync with the host desktop's, both ways (`neuronctl agent
 * sync VM`, the neuron-sync@VM user unit): host changes go to the guest, the guest's
 * clipboard-changed events come to the host; text and PNG images up to a cap; what one
 * side was just given is never sent back (digests of what each side holds); the agent
 * going away is waited for with backoff and the two sides resynced once when it is back;
 * while Looking Glass carries the clipboard itself for the VM, sync stands back.
 *
 * The running sync publishes its state in a small file (runtime dir, sync/VM.json,
 * written atomically, with its pid) that the TUI's Agents panel reads through
 * nr_sync_status_read. */
#ifndef NEURON_SYNC_H
#define NEURON_SYNC_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "neuron/ctx.h"
#include "neuron/error.h"

#define NR_SYNC_CAP_DEFAULT (16u * 1024u * 1024u)

struct nr_agent;

enum nr_sync_dir { NR_SYNC_NONE, NR_SYNC_TO_GUEST, NR_SYNC_TO_HOST };

/* What a running sync says, one report at a time (core prints nothing). */
enum nr_sync_report_kind {
	NR_SYNC_WATCHING,       /* how host changes are noticed (text) */
	NR_SYNC_CONNECTED,      /* the agent answers (again) */
	NR_SYNC_DISCONNECTED,   /* it does not: retrying (text: why) */
	NR_SYNC_PAUSED,         /* Looking Glass carries the clipboard (text: why) */
	NR_SYNC_RESUMED,
	NR_SYNC_TRANSFER,       /* dir, mime, size */
	NR_SYNC_REFUSED,        /* over the cap: dir, mime, size, text */
	NR_SYNC_FAILED,         /* a transfer failed (text) */
};

struct nr_sync_report {
	enum nr_sync_report_kind kind;
	enum nr_sync_dir dir;
	const char *mime;
	size_t size;
	const char *text;
};

typedef void (*nr_sync_report_fn)(void *userdata, const struct nr_sync_report *r);

struct nr_sync_opts {
	const char *vm;                 /* names the status file */
	size_t cap;                     /* bytes; 0: NR_SYNC_CAP_DEFAULT */
	/* Looking Glass for the VM: its shared memory (NULL: none) and whether the domain has
	 * SPICE graphics (the B7 client carries the clipboard over SPICE). */
	const char *lg_shm;
	bool spice;
	volatile sig_atomic_t *stop;    /* set (by a signal handler) to end nr_sync_run */
	nr_sync_report_fn report;
	void *userdata;
};

/* Run until *stop: agent is the VM's client (the caller's; reconnected as needed). Fails
 * only when it cannot start: no desktop session (-NR_E_UNSUPPORTED, what to do in err). */
int nr_sync_run(const struct nr_ctx *ctx, struct nr_agent *agent, const struct nr_sync_opts *o,
		struct nr_error *err);

/* "text/plain, 13 bytes" style words for a direction: "host -> guest" or "guest -> host". */
const char *nr_sync_dir_name(enum nr_sync_dir d);

/* ---- the status file */

struct nr_sync_status {
	long long pid;
	bool running;           /* that pid is alive (a sync that died is not shown as running) */
	char state[16];         /* "syncing", "paused", "waiting" (for the agent), "stopped" */
	bool agent_connected;   /* sync holds a session with the agent */
	char why[256];          /* paused or waiting: why */
	time_t started;
	unsigned long transfers;
	enum nr_sync_dir last_dir;
	time_t last_at;         /* wall clock of the last transfer, 0: none yet */
	char last_mime[64];
	long long last_size;
};

/* The sync status of vm: -NR_E_NOTFOUND when no sync ever ran for it (in this session's
 * runtime directory). */
int nr_sync_status_read(const struct nr_ctx *ctx, const char *vm, struct nr_sync_status *st, struct nr_error *err);
/* 0 when no other live process runs agent sync for vm; else -NR_E_BUSY naming it: the
 * agent serves one host at a time, so another connection would only wait. */
int nr_sync_check_free(const struct nr_ctx *ctx, const char *vm, struct nr_error *err);
/* Parse a status file's text (what nr_sync_status_read reads; unit tests). */
int nr_sync_status_parse(const char *text, struct nr_sync_status *st, struct nr_error *err);

/* A cap given as a size ("16M", "512K", "2MiB": nr_parse_size's spelling), at most one agent
 * transfer (64M); -NR_E_INVAL with what is wrong otherwise. */
int nr_sync_parse_size(const char *text, size_t *bytes, struct nr_error *err);

#endif
