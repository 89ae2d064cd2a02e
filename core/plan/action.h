/* Plan actions other than file edits: Looking Glass's file in /dev/shm today, the libvirt
 * hook and the single-GPU steps next. Each type is one row of NR_PLAN_ACTIONS with three
 * functions; an action is journaled as its type and its arguments ("key=value" words), so
 * that finishing and reverting it need nothing but the journal. docs/HACKING.md, "Adding
 * a plan action", walks through a new one. Private to core/. */
#ifndef NEURON_PLAN_ACTION_H
#define NEURON_PLAN_ACTION_H

#include <stdbool.h>
#include <stddef.h>

#include "neuron/error.h"

struct nr_ctx;
struct nr_plan;
struct nr_root;

/* An action: its type and its arguments (owned). */
struct nr_action {
	const struct nr_action_type *type;
	char **keys, **vals;
	size_t n;
};

/* What an action type does. The functions may read and change only what is under the
 * root r, or (the single-GPU hand-off) the live machine under the ctx's sysroot and the
 * commands the ctx's runner runs; they are idempotent (a finish or a second revert runs them again). */
struct nr_action_type {
	const char *name;       /* the journal's word: "shm-file" */
	/* One line for the user: what apply will do. malloc'd, NULL on OOM. */
	char *(*describe)(const struct nr_action *a);
	/* Bring the target to the action's state. *done (malloc'd) says what changed, NULL when
	 * nothing had to ("created /dev/shm/looking-glass ..."). */
	int (*apply)(const struct nr_ctx *ctx, const struct nr_root *r, const struct nr_action *a, char **done,
		     struct nr_error *err);
	/* Undo it, from the arguments that say what the target had before. */
	int (*revert)(const struct nr_ctx *ctx, const struct nr_root *r, const struct nr_action *a, char **done,
		      struct nr_error *err);
};

/* X(id, journal word): the table. Each id has nr_action_<id>_describe, _apply and _revert,
 * defined beside the capability that plans it. */
#define NR_PLAN_ACTIONS(X) \
	X(shm_file, "shm-file")         /* lg/lg_setup.c: /dev/shm/looking-glass, made now */ \
	X(unit_stop, "unit-stop")       /* single/handoff.c: a systemd unit stopped (display manager) */ \
	X(vtcon_unbind, "vtcon-unbind") /* single/handoff.c: a virtual console let go of the GPU */ \
	X(fb_release, "fb-release")     /* single/handoff.c: the firmware framebuffer released */ \
	X(gpu_holders, "gpu-holders")   /* single/handoff.c: nothing may hold the GPU any more */ \
	X(pci_driver, "pci-driver")     /* single/handoff.c: one function moved to vfio-pci */ \
	X(file_mode, "file-mode")       /* single/hook.c: a file made executable (libvirt's hook) */

#define NR_ACTION_DECLARE(id, word) \
	char *nr_action_##id##_describe(const struct nr_action *a); \
	int nr_action_##id##_apply(const struct nr_ctx *ctx, const struct nr_root *r, const struct nr_action *a, \
				   char **done, struct nr_error *err); \
	int nr_action_##id##_revert(const struct nr_ctx *ctx, const struct nr_root *r, const struct nr_action *a, \
				    char **done, struct nr_error *err);
NR_PLAN_ACTIONS(NR_ACTION_DECLARE)
#undef NR_ACTION_DECLARE

/* The row for a journal word, NULL when unknown. */
const struct nr_action_type *nr_action_type_find(const char *name);

/* An argument's value, NULL when absent. */
const char *nr_action_get(const struct nr_action *a, const char *key);
/* An argument as a number (base 10, or 8 when the value starts with 0): -NR_E_PARSE when
 * absent or not a number. */
int nr_action_uint(const struct nr_action *a, const char *key, unsigned long long *v,
		   struct nr_error *err);

/* Add an action of type name to a plan; kv is "key", "value", ..., NULL. Arguments named
 * "before" or "before_..." say what the target had before the first apply: when a later
 * apply records the same action again (the same type and "path"), they are kept from the
 * first one, as a file keeps its first original. */
int nr_plan_add_action(struct nr_plan *plan, const char *type, const char *const *kv,
		       struct nr_error *err);

int nr_action_copy(struct nr_action *to, const struct nr_action *from);
void nr_action_done(struct nr_action *a);
/* Same type and same "path" argument. */
bool nr_action_same(const struct nr_action *a, const struct nr_action *b);
/* Set (or replace) an argument. */
int nr_action_set(struct nr_action *a, const char *key, const char *value);

#endif
