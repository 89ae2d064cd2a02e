/* libvirt's hook for single-GPU VMs: /etc/libvirt/hooks/qemu (or qemu.d/neuron-single
 * beside a hook someone else owns), installed by a plan and removed by its revert, and the
 * file-mode action that makes it executable. See neuron/single.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/internal.h"
#include "neuron/single.h"
#include "plan/action.h"
#include "root/root.h"

#define HOOK_MARK "# neuron single-GPU hook"
#define HOOK_MAIN "/etc/libvirt/hooks/qemu"
#define HOOK_BESIDE "/etc/libvirt/hooks/qemu.d/neuron-single"

static const char hook_text[] =
	"#!/bin/sh\n"
	HOOK_MARK " (neuronctl gpu hook install; removed by neuronctl gpu hook revert).\n"
	"# libvirt runs it as: qemu VM OPERATION SUB-OPERATION EXTRA, with the domain's XML on stdin.\n"
	"# A VM in single-GPU mode gets the hand-off on prepare and the release on release;\n"
	"# other VMs pass through untouched.\n"
	"PATH=/usr/local/bin:/usr/bin:/bin:$PATH\n"
	"exec neuronctl gpu hook run \"$@\"\n";

/* ------------------------------------------------------------------ file-mode -- */

char *nr_action_file_mode_describe(const struct nr_action *a)
{
	const char *path = nr_action_get(a, "path"), *mode = nr_action_get(a, "mode");
	char *out = NULL;

	if (asprintf(&out, "make %s mode %s (executable)", path ? path : "?", mode ? mode : "?") < 0)
		out = NULL;
	return out;
}

static int set_mode(const struct nr_root *r, const struct nr_action *a, const char *key, char **done,
		    struct nr_error *err)
{
	const char *path = nr_action_get(a, "path"), *base;
	unsigned long long mode;
	char *rel = NULL;
	struct stat st;
	int dfd, rc;

	*done = NULL;
	if (!path)
		return nr_error_set(err, -NR_E_PARSE, "the file-mode action has no path");
	if (strcmp(nr_action_get(a, key) ? nr_action_get(a, key) : "", "absent") == 0)
		return 0;       /* the file's own revert removes it */
	if ((rc = nr_action_uint(a, key, &mode, err)) < 0)
		return rc;
	if ((rc = nr_root_resolve(r, path, &rel, err)) < 0)
		return rc;
	if ((dfd = nr_root_open_parent(r, rel, &base, NULL, NULL, err)) < 0) {
		free(rel);
		return dfd == -NR_E_NOTFOUND ? 0 : dfd;
	}
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & 07777) == (mode_t)mode)
		goto out;       /* gone, not a file, or in place */
	if (fchmodat(dfd, base, (mode_t)mode, 0) < 0)
		rc = nr_error_set(err, nr_root_errcode(errno), "cannot change the mode of %s: %s", path, strerror(errno));
	else if (asprintf(done, "made %s mode %04llo", path, mode) < 0)
		*done = NULL;
out:
	close(dfd);
	free(rel);
	return rc;
}

int nr_action_file_mode_apply(const struct nr_ctx *ctx, const struct nr_root *r, const struct nr_action *a,
			      char **done, struct nr_error *err)
{
	return set_mode(r, a, "mode", done, err);
}

int nr_action_file_mode_revert(const struct nr_ctx *ctx, const struct nr_root *r, const struct nr_action *a,
			       char **done, struct nr_error *err)
{
	return set_mode(r, a, "before", done, err);
}

/* ------------------------------------------------------------------ the hook plan -- */

/* Where the hook goes: qemu itself when it is absent or ours, else beside it in qemu.d. */
static const char *hook_path(const struct nr_plan *plan)
{
	char *text = NULL;
	const char *where = HOOK_MAIN;

	if (nr_plan_read(plan, HOOK_MAIN, &text, NULL, NULL) == 0 && !strstr(text, HOOK_MARK))
		where = HOOK_BESIDE;
	else if (nr_plan_exists(plan, HOOK_MAIN) && !text)
		where = HOOK_BESIDE;    /* not a text file we can read: someone else's */
	free(text);
	return where;
}

int nr_single_hook_plan(const struct nr_ctx *ctx, struct nr_plan **out, struct nr_error *err)
{
	struct nr_plan *plan = nr_plan_new(ctx, NR_SINGLE_HOOK_PLAN);
	const char *path;
	char before[16] = "absent";
	int rc;

	*out = NULL;
	if (!plan)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	path = hook_path(plan);
	if (strcmp(path, HOOK_BESIDE) == 0)
		nr_plan_add_note(plan, "%s is another program's hook: ours goes to %s, which libvirt 6.5 and later "
				 "run too", HOOK_MAIN, HOOK_BESIDE);
	if (nr_plan_exists(plan, path)) {
		struct nr_root r = { .fd = -1 };
		char *rel = NULL;
		struct stat st;
		if (nr_root_open(&r, nr_ctx_get(ctx, "root"), NULL) == 0 && nr_root_resolve(&r, path, &rel, NULL) == 0 &&
		    nr_root_stat(&r, rel, &st, NULL) == 0)
			snprintf(before, sizeof(before), "0%o", (unsigned)(st.st_mode & 07777));
		free(rel);
		nr_root_close(&r);
	}
	rc = nr_plan_set_file(plan, path, hook_text, strlen(hook_text),
			      "libvirt's hook: the single-GPU hand-off on prepare, the release on release", err);
	if (rc == 0)
		rc = nr_plan_add_action(plan, "file-mode", (const char *const[]){ "path", path, "mode", "0755",
					"before", before, NULL }, err);
	if (rc < 0) {
		nr_plan_free(plan);
		return rc;
	}
	*out = plan;
	return 0;
}

bool nr_single_hook_installed(const struct nr_ctx *ctx)
{
	struct nr_plan *plan = nr_plan_new(ctx, NR_SINGLE_HOOK_PLAN);
	bool yes = false;

	for (int i = 0; plan && i < 2 && !yes; i++) {
		char *text = NULL;
		if (nr_plan_read(plan, i ? HOOK_BESIDE : HOOK_MAIN, &text, NULL, NULL) == 0)
			yes = strstr(text, HOOK_MARK) != NULL;
		free(text);
	}
	nr_plan_free(plan);
	return yes;
}

char *nr_single_warning(const struct nr_ctx *ctx)
{
	char *out = NULL;

	if (asprintf(&out, "While the VM runs, this machine's own screen goes dark: the VM has the GPU. To come "
		     "back: shut the VM down (the screen returns on its own), type %s on a host keyboard, or run "
		     "'neuronctl gpu restore' over SSH or a serial console.", nr_ctx_get(ctx, "single.chord")) < 0)
		out = NULL;
	return out;
}
