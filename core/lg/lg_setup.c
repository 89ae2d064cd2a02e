/* Looking Glass set-up on a target root, as a plan of the generic engine (plan.h):
 *
 *   shm mode    /etc/tmpfiles.d/10-looking-glass.conf
 *                 f /dev/shm/looking-glass 0660 USER GROUP -
 *               and, when the target is the running system (ROOT/dev/shm is a
 *               directory), the file itself now: owner USER, group GROUP, 0660, SIZE.
 *   kvmfr mode  /etc/modprobe.d/kvmfr.conf      options kvmfr static_size_mb=N
 *               /etc/modules-load.d/kvmfr.conf  kvmfr
 *               /etc/udev/rules.d/99-kvmfr.rules  the device node for USER/GROUP, 0660, uaccess
 *               /etc/libvirt/qemu.conf          /dev/kvmfr0 in cgroup_device_acl
 *               /etc/apparmor.d/local/abstractions/libvirt-qemu  "/dev/kvmfr0 rw,"
 *                                               where AppArmor is on (the sysroot says)
 *               and a note naming the module package when no installed kernel has it.
 *
 * The file in /dev/shm is not a configuration file but a plan action ("shm-file", one row
 * of plan/action.h): what apply will do to it is decided when planning, and journaled
 * with what was there before, so that revert removes the file it created or gives an
 * existing one its old owner and mode back. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/internal.h"
#include "root/root.h"
#include "neuron/lg.h"
#include "neuron/plan.h"
#include "plan/action.h"

#define SHM_PATH        "/dev/shm/looking-glass"
#define TMPFILES_PATH   "/etc/tmpfiles.d/10-looking-glass.conf"
#define MODPROBE_PATH   "/etc/modprobe.d/kvmfr.conf"
#define MODLOAD_PATH    "/etc/modules-load.d/kvmfr.conf"
#define UDEV_PATH       "/etc/udev/rules.d/99-kvmfr.rules"
#define QEMU_CONF_PATH  "/etc/libvirt/qemu.conf"
#define KVMFR_DEV       "/dev/kvmfr0"
#define APPARMOR_LOCAL  "/etc/apparmor.d/local/abstractions/libvirt-qemu"

int nr_lg_mode_parse(const char *s, enum nr_lg_mode *mode)
{
	if (strcmp(s, "shm") == 0 || strcmp(s, "file") == 0)
		*mode = NR_LG_MODE_SHM;
	else if (strcmp(s, "kvmfr") == 0)
		*mode = NR_LG_MODE_KVMFR;
	else
		return -NR_E_INVAL;
	return 0;
}

const char *nr_lg_mode_name(enum nr_lg_mode m)
{
	return m == NR_LG_MODE_KVMFR ? "kvmfr" : "shm";
}

const char *nr_lg_setup_plan_name(enum nr_lg_mode m)
{
	return m == NR_LG_MODE_KVMFR ? "lg-kvmfr" : "lg-shm";
}

/* ---- qemu.conf ------------------------------------------------------------------------ */

static bool blank_or_comment_of(const char *line, size_t n, const char **after_hash)
{
	size_t i = 0;

	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i < n && line[i] == '#') {
		*after_hash = line + i + 1;
		return true;
	}
	*after_hash = NULL;
	return false;
}

/* Does line (n bytes) start a cgroup_device_acl assignment (after an optional '#')? */
static bool acl_start(const char *line, size_t n, bool commented)
{
	const char *p = line, *end = line + n, *h;

	if (commented) {
		if (!blank_or_comment_of(line, n, &h))
			return false;
		p = h;
	}
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if ((size_t)(end - p) < 17 || strncmp(p, "cgroup_device_acl", 17) != 0)
		return false;
	p += 17;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p < end && *p == '=';
}

int nr_lg_qemu_conf_acl(const char *text, const char *device, char **out)
{
	static const char *const builtin[] = {
		"/dev/null", "/dev/full", "/dev/zero", "/dev/random", "/dev/urandom",
		"/dev/ptmx", "/dev/kvm", NULL,
	};
	size_t len = strlen(text);
	const char *line = text, *active = NULL, *commented = NULL, *commented_end = NULL;
	char quoted[256];
	struct nr_buf b;

	*out = NULL;
	snprintf(quoted, sizeof(quoted), "\"%s\"", device);
	/* Find an active assignment, else the commented default block. */
	while (line < text + len) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);

		if (!active && acl_start(line, n, false))
			active = line;
		else if (!commented && acl_start(line, n, true))
			commented = line;
		line += n + (nl ? 1 : 0);
	}
	nr_buf_init(&b);
	if (active) {
		const char *close = strchr(active, ']');
		const char *open = strchr(active, '[');
		const char *last_quote = NULL;

		if (!open || !close || close < open)
			return -NR_E_PARSE;
		if (memmem(open, (size_t)(close - open), quoted, strlen(quoted)))
			return 0; /* already there */
		for (const char *p = open; p < close; p++)
			if (*p == '"')
				last_quote = p;
		if (last_quote) {
			nr_buf_append(&b, text, (size_t)(last_quote + 1 - text));
			nr_buf_printf(&b, ", %s", quoted);
			nr_buf_puts(&b, last_quote + 1);
		} else {
			nr_buf_append(&b, text, (size_t)(open + 1 - text));
			nr_buf_printf(&b, " %s ", quoted);
			nr_buf_puts(&b, open + 1);
		}
	} else {
		const char *defaults[64];
		char *copy = NULL;
		size_t nd = 0;

		if (commented) {
			/* Its entries are libvirt's defaults: the new list keeps them. */
			const char *p = commented;
			while (*p) {
				const char *nl = strchr(p, '\n'), *h;
				size_t n = nl ? (size_t)(nl - p) : strlen(p);
				bool closes = memchr(p, ']', n) != NULL;

				if (!blank_or_comment_of(p, n, &h))
					break;
				p += n + (nl ? 1 : 0);
				if (closes) {
					commented_end = p;
					break;
				}
			}
			if (commented_end) {
				copy = strndup(commented, (size_t)(commented_end - commented));
				if (!copy)
					return -NR_E_NOMEM;
				for (char *q = strchr(copy, '"'); q && nd < 63; q = strchr(q, '"')) {
					char *e = strchr(q + 1, '"');
					if (!e)
						break;
					*e = '\0';
					if (strcmp(q + 1, device) != 0)
						defaults[nd++] = q + 1;
					q = e + 1;
				}
			}
		}
		if (nd == 0)
			for (; builtin[nd]; nd++)
				defaults[nd] = builtin[nd];
		defaults[nd] = NULL;
		if (commented_end) {
			nr_buf_append(&b, text, (size_t)(commented_end - text));
		} else {
			nr_buf_puts(&b, text);
			if (len && text[len - 1] != '\n')
				nr_buf_puts(&b, "\n");
		}
		nr_buf_puts(&b, "\n# Looking Glass: QEMU may open the kvmfr device (neuronctl lg setup).\n"
				"# The list replaces libvirt's default one, so it keeps the defaults.\n"
				"cgroup_device_acl = [\n");
		for (size_t i = 0; i < nd; i++)
			nr_buf_printf(&b, "    \"%s\",\n", defaults[i]);
		nr_buf_printf(&b, "    %s\n]\n", quoted);
		if (commented_end)
			nr_buf_puts(&b, commented_end);
		free(copy);
	}
	*out = nr_buf_steal(&b);
	return *out ? 0 : -NR_E_NOMEM;
}

/* ---- users and groups of the target ---------------------------------------------------------- */

static bool name_ok(const char *s)
{
	if (!s || !*s || strlen(s) > 64 || *s == '-')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

/* The numeric id of name in the target's /etc/passwd or /etc/group (third field). */
static int lookup_id(const struct nr_plan *plan, const char *file, const char *name, unsigned *id,
		     struct nr_error *err)
{
	char *text, *save = NULL;
	size_t len, nlen = strlen(name);
	int rc;

	rc = nr_plan_read(plan, file, &text, &len, err);
	if (rc < 0)
		return rc;
	rc = -NR_E_NOTFOUND;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *f3;
		if (strncmp(l, name, nlen) != 0 || l[nlen] != ':')
			continue;
		f3 = strchr(l + nlen + 1, ':');
		if (f3) {
			*id = (unsigned)strtoul(f3 + 1, NULL, 10);
			rc = 0;
		}
		break;
	}
	free(text);
	return rc;
}

/* ---- the kvmfr module ----------------------------------------------------------------------- */

/* Kernels under root (their module directories) and whether each has kvmfr. */
static void check_module(const struct nr_ctx *ctx, struct nr_plan *plan)
{
	static const char *const dirs[] = { "/usr/lib/modules", "/lib/modules" };
	struct nr_root r;
	struct nr_buf without;
	char *seen_rel[2] = { NULL, NULL };
	unsigned kernels = 0, with = 0;

	if (nr_root_open(&r, nr_ctx_get(ctx, "root"), NULL) < 0)
		return;
	nr_buf_init(&without);
	for (size_t d = 0; d < 2; d++) {
		char *rel;
		DIR *dir;
		int fd;
		struct dirent *e;

		if (nr_root_resolve(&r, dirs[d], &rel, NULL) < 0)
			continue;
		if (d == 1 && seen_rel[0] && strcmp(seen_rel[0], rel) == 0) {
			free(rel); /* /lib -> usr/lib */
			continue;
		}
		seen_rel[d] = rel;
		fd = nr_root_open_dir(&r, rel, false, NULL, NULL, NULL);
		if (fd < 0 || !(dir = fdopendir(fd))) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		while ((e = readdir(dir))) {
			static const char *const where[] = {
				"extra/kvmfr.ko", "extra/kvmfr.ko.xz", "extra/kvmfr.ko.zst", "extra/kvmfr.ko.gz",
				"updates/dkms/kvmfr.ko", "updates/dkms/kvmfr.ko.xz", "updates/dkms/kvmfr.ko.zst",
				"updates/dkms/kvmfr.ko.gz", "updates/kvmfr.ko", NULL,
			};
			char path[512], *dep = NULL, *krel = NULL;
			bool has = false;
			struct stat st;

			if (e->d_name[0] == '.')
				continue;
			/* a kernel's directory may be a link (inside the root) */
			snprintf(path, sizeof(path), "/%s/%s", rel, e->d_name);
			if (nr_root_resolve(&r, path, &krel, NULL) < 0 || nr_root_stat(&r, krel, &st, NULL) < 0 ||
			    !S_ISDIR(st.st_mode)) {
				free(krel);
				continue;
			}
			kernels++;
			for (size_t w = 0; where[w] && !has; w++) {
				snprintf(path, sizeof(path), "%s/%s", krel, where[w]);
				has = nr_root_exists(&r, path);
			}
			snprintf(path, sizeof(path), "%s/modules.dep", krel);
			if (!has && nr_root_read(&r, path, 64u << 20, &dep, NULL, NULL, NULL, NULL, NULL) == 0) {
				has = strstr(dep, "/kvmfr.ko") != NULL;
				free(dep);
			}
			free(krel);
			if (has)
				with++;
			else
				nr_buf_printf(&without, "%s%s", without.len ? ", " : "", e->d_name);
		}
		closedir(dir);
	}
	if (kernels == 0)
		nr_plan_add_note(plan, "no kernel was found under /usr/lib/modules on the target: cannot tell "
				       "whether the kvmfr module is installed");
	else if (without.len)
		nr_plan_add_note(plan, "the kvmfr kernel module is not installed for kernel %s: install the "
				       "Looking Glass module package (Arch: looking-glass-module-dkms from the AUR; "
				       "others: dkms install of the module/ directory of the Looking Glass source, "
				       "with the kernel headers), then reboot or run: modprobe kvmfr",
				 without.data ? without.data : "?");
	nr_buf_done(&without);
	free(seen_rel[0]);
	free(seen_rel[1]);
	nr_root_close(&r);
	(void)with;
}

/* ---- the file in /dev/shm: the "shm-file" plan action ------------------------------------- */

/* Arguments: path (inside the root), uid, gid, size (bytes); what was there before the
 * first apply: before=absent, or before=file with before_uid, before_gid, before_mode. */

struct shm_args {
	const char *path;
	unsigned long long uid, gid, size;
	bool was_absent;
	unsigned long long before_uid, before_gid, before_mode;
};

static int shm_args_get(const struct nr_action *a, struct shm_args *s, struct nr_error *err)
{
	const char *before = nr_action_get(a, "before");
	int rc;

	memset(s, 0, sizeof(*s));
	s->path = nr_action_get(a, "path");
	if (!s->path || s->path[0] != '/' || !before)
		return nr_error_set(err, -NR_E_PARSE, "the shm-file action lacks its path or what was before");
	if ((rc = nr_action_uint(a, "uid", &s->uid, err)) < 0 || (rc = nr_action_uint(a, "gid", &s->gid, err)) < 0 ||
	    (rc = nr_action_uint(a, "size", &s->size, err)) < 0)
		return rc;
	s->was_absent = strcmp(before, "absent") == 0;
	if (!s->was_absent &&
	    ((rc = nr_action_uint(a, "before_uid", &s->before_uid, err)) < 0 ||
	     (rc = nr_action_uint(a, "before_gid", &s->before_gid, err)) < 0 ||
	     (rc = nr_action_uint(a, "before_mode", &s->before_mode, err)) < 0))
		return rc;
	return 0;
}

char *nr_action_shm_file_describe(const struct nr_action *a)
{
	struct shm_args s;
	char *out = NULL;

	if (shm_args_get(a, &s, NULL) < 0)
		return strdup("a shm-file action with damaged arguments");
	if (s.was_absent) {
		if (asprintf(&out, "create %s now (owner %llu, group %llu, mode 0660, %llu MiB)", s.path, s.uid,
			     s.gid, s.size >> 20) < 0)
			out = NULL;
	} else if (asprintf(&out, "give %s owner %llu, group %llu, mode 0660 and at least %llu MiB now "
			    "(it has owner %llu, group %llu, mode %04llo)", s.path, s.uid, s.gid, s.size >> 20,
			    s.before_uid, s.before_gid, s.before_mode) < 0) {
		out = NULL;
	}
	return out;
}

/* The directory of the file inside the root, and the file's name. */
static int shm_parent(const struct nr_root *r, const char *path, char **rel, const char **base,
		      struct nr_error *err)
{
	int rc = nr_root_resolve(r, path, rel, err);

	if (rc < 0)
		return rc;
	if (!(*rel)[0]) {
		free(*rel);
		*rel = NULL;
		return nr_error_set(err, -NR_E_INVAL, "the shared memory file cannot be the root itself");
	}
	rc = nr_root_open_parent(r, *rel, base, NULL, NULL, err);
	if (rc < 0) {
		free(*rel);
		*rel = NULL;
	}
	return rc;
}

int nr_action_shm_file_apply(const struct nr_ctx *ctx, const struct nr_root *r, const struct nr_action *a,
			     char **done, struct nr_error *err)
{
	struct shm_args s;
	const char *base;
	char *rel = NULL;
	struct stat st;
	int dfd, fd, rc;
	bool created;

	*done = NULL;
	if ((rc = shm_args_get(a, &s, err)) < 0)
		return rc;
	if ((dfd = shm_parent(r, s.path, &rel, &base, err)) < 0)
		return dfd;
	created = fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0;
	fd = nr_open_kind(dfd, base, O_WRONLY | O_NOFOLLOW | (created ? O_CREAT : 0), NR_OPEN_FILE, s.path,
			  &st, err);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	if (st.st_uid == s.uid && st.st_gid == s.gid && (st.st_mode & 07777) == 0660 &&
	    (unsigned long long)st.st_size >= s.size)
		goto out_fd;    /* in place already */
	if (fchown(fd, (uid_t)s.uid, (gid_t)s.gid) < 0 || fchmod(fd, 0660) < 0 ||
	    ((unsigned long long)st.st_size < s.size && ftruncate(fd, (off_t)s.size) < 0)) {
		rc = nr_error_set(err, errno == EPERM ? -NR_E_PERM : nr_root_errcode(errno),
				  "cannot set the owner, mode or size of %s: %s", s.path, strerror(errno));
		goto out_fd;
	}
	if (asprintf(done, "%s %s (owner %llu, group %llu, mode 0660, %llu MiB)", created ? "created" : "fixed",
		     s.path, s.uid, s.gid, s.size >> 20) < 0)
		*done = NULL;
out_fd:
	close(fd);
out:
	close(dfd);
	free(rel);
	return rc;
}

int nr_action_shm_file_revert(const struct nr_ctx *ctx, const struct nr_root *r, const struct nr_action *a,
			      char **done, struct nr_error *err)
{
	struct shm_args s;
	const char *base;
	char *rel = NULL;
	struct stat st;
	int dfd, fd, rc;

	*done = NULL;
	if ((rc = shm_args_get(a, &s, err)) < 0)
		return rc;
	if ((dfd = shm_parent(r, s.path, &rel, &base, err)) < 0)
		return dfd == -NR_E_NOTFOUND ? 0 : dfd;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		goto out;       /* gone already (a reboot), or not ours to touch */
	if (s.was_absent) {
		if (unlinkat(dfd, base, 0) < 0)
			rc = nr_error_set(err, nr_root_errcode(errno), "cannot remove %s: %s", s.path, strerror(errno));
		else if (asprintf(done, "removed %s", s.path) < 0)
			*done = NULL;
		goto out;
	}
	if (st.st_uid == s.before_uid && st.st_gid == s.before_gid && (st.st_mode & 07777) == s.before_mode)
		goto out;
	fd = nr_open_kind(dfd, base, O_RDONLY | O_NOFOLLOW, NR_OPEN_FILE, s.path, NULL, err);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	if (fchown(fd, (uid_t)s.before_uid, (gid_t)s.before_gid) < 0 || fchmod(fd, (mode_t)s.before_mode) < 0)
		rc = nr_error_set(err, nr_root_errcode(errno), "cannot give %s its owner and mode back: %s",
				  s.path, strerror(errno));
	else if (asprintf(done, "gave %s its owner and mode back", s.path) < 0)
		*done = NULL;
	close(fd);
out:
	close(dfd);
	free(rel);
	return rc;
}

/* What apply does to ROOT/dev/shm/looking-glass, decided now: nothing when the target is
 * not the running system (no /dev/shm), or when the file is already right; else the
 * shm-file action, which records what was there. */
static int plan_shm_now(const struct nr_ctx *ctx, struct nr_plan *plan, unsigned uid, unsigned gid,
			unsigned size_mib, struct nr_error *err)
{
	struct nr_root r;
	char *rel = NULL, v_uid[24], v_gid[24], v_size[24], b_uid[24], b_gid[24], b_mode[24];
	struct stat st;
	unsigned long long size = (unsigned long long)size_mib << 20;
	int rc;

	rc = nr_root_open(&r, nr_ctx_get(ctx, "root"), err);
	if (rc < 0)
		return rc;
	if (nr_root_resolve(&r, "/dev/shm", &rel, NULL) < 0 || nr_root_stat(&r, rel, &st, NULL) < 0 ||
	    !S_ISDIR(st.st_mode)) {
		nr_plan_add_note(plan, "/dev/shm is not there on the target (it is not the running system): "
				       "systemd-tmpfiles creates %s at its next boot", SHM_PATH);
		goto out;
	}
	free(rel);
	rel = NULL;
	if ((rc = nr_root_resolve(&r, SHM_PATH, &rel, err)) < 0)
		goto out;
	snprintf(v_uid, sizeof(v_uid), "%u", uid);
	snprintf(v_gid, sizeof(v_gid), "%u", gid);
	snprintf(v_size, sizeof(v_size), "%llu", size);
	if (nr_root_stat(&r, rel, &st, NULL) < 0) {
		const char *kv[] = { "path", SHM_PATH, "uid", v_uid, "gid", v_gid, "size", v_size,
				     "before", "absent", NULL };
		rc = nr_plan_add_action(plan, "shm-file", kv, err);
	} else if (!S_ISREG(st.st_mode)) {
		nr_plan_add_note(plan, "%s exists but is %s: it is left alone", SHM_PATH,
				 nr_file_type_name(st.st_mode));
	} else if (!(st.st_uid == uid && st.st_gid == gid && (st.st_mode & 07777) == 0660 &&
		     (unsigned long long)st.st_size >= size)) {
		snprintf(b_uid, sizeof(b_uid), "%u", (unsigned)st.st_uid);
		snprintf(b_gid, sizeof(b_gid), "%u", (unsigned)st.st_gid);
		snprintf(b_mode, sizeof(b_mode), "0%o", (unsigned)(st.st_mode & 07777));
		const char *kv[] = { "path", SHM_PATH, "uid", v_uid, "gid", v_gid, "size", v_size,
				     "before", "file", "before_uid", b_uid, "before_gid", b_gid,
				     "before_mode", b_mode, NULL };
		rc = nr_plan_add_action(plan, "shm-file", kv, err);
	}
out:
	free(rel);
	nr_root_close(&r);
	return rc;
}

char *nr_lg_setup_now(const struct nr_plan *plan)
{
	for (size_t i = 0; i < nr_plan_n_actions(plan); i++)
		if (strcmp(nr_plan_action(plan, i)->type, "shm-file") == 0)
			return strdup(nr_plan_action(plan, i)->text);
	return NULL;
}

/* ---- the plan ---------------------------------------------------------------------------------- */

static int add_file(struct nr_plan *plan, const char *path, const char *why, struct nr_error *err,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int add_file(struct nr_plan *plan, const char *path, const char *why, struct nr_error *err,
		    const char *fmt, ...)
{
	struct nr_buf b;
	va_list ap;
	int rc;

	nr_buf_init(&b);
	va_start(ap, fmt);
	nr_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (b.oom)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	rc = nr_plan_set_file(plan, path, b.data, b.len, why, err);
	nr_buf_done(&b);
	return rc;
}

int nr_lg_setup_plan(const struct nr_ctx *ctx, const struct nr_lg_setup *s, struct nr_plan **out,
		     struct nr_error *err)
{
	const char *group = s->group && *s->group ? s->group : "kvm";
	struct nr_plan *plan;
	unsigned uid = 0, gid = 0;
	char *text = NULL, *edited = NULL, *apparmor = NULL;
	size_t len;
	int rc;

	*out = NULL;
	if (!name_ok(s->user))
		return nr_error_set(err, -NR_E_INVAL, "say which user runs the Looking Glass client "
				    "(--user NAME)%s%s%s", s->user ? ": '" : "", s->user ? s->user : "",
				    s->user ? "' is not a user name" : "");
	if (!name_ok(group))
		return nr_error_set(err, -NR_E_INVAL, "'%s' is not a group name", group);
	if (s->size_mib < 2 || s->size_mib > 65536 || (s->size_mib & (s->size_mib - 1)))
		return nr_error_set(err, -NR_E_INVAL, "%u MiB is not a usable IVSHMEM size: it must be a "
				    "power of two (see neuronctl lg size WIDTHxHEIGHT)", s->size_mib);
	plan = nr_plan_new(ctx, nr_lg_setup_plan_name(s->mode));
	if (!plan)
		return nr_error_set(err, -NR_E_NOMEM, NULL);

	rc = lookup_id(plan, "/etc/passwd", s->user, &uid, err);
	if (rc < 0) {
		if (rc == -NR_E_NOTFOUND)
			nr_error_set(err, rc, "there is no user '%s' in the target's /etc/passwd: give the "
				     "user who runs the client with --user", s->user);
		goto fail;
	}
	rc = lookup_id(plan, "/etc/group", group, &gid, err);
	if (rc < 0) {
		if (rc == -NR_E_NOTFOUND)
			nr_error_set(err, rc, "there is no group '%s' in the target's /etc/group: create it "
				     "(groupadd -r %s) or give another with --group", group, group);
		goto fail;
	}
	nr_plan_set_meta(plan, "user", s->user);
	nr_plan_set_meta(plan, "group", group);

	if (s->mode == NR_LG_MODE_SHM) {
		rc = add_file(plan, TMPFILES_PATH, "create the Looking Glass shared memory file at every boot",
			      err, "# Looking Glass shared memory for %s (neuronctl lg setup)\n"
			      "f " SHM_PATH " 0660 %s %s -\n", s->user, s->user, group);
		if (rc == 0)
			rc = plan_shm_now(ctx, plan, uid, gid, s->size_mib, err);
		if (rc < 0)
			goto fail;
		nr_plan_add_note(plan, "the VM needs <shmem name='looking-glass'> of %u MiB (the domain builder "
				       "adds it); QEMU sizes the file when the VM starts", s->size_mib);
	} else {
		rc = add_file(plan, MODPROBE_PATH, "the size of the kvmfr device", err,
			      "# Looking Glass: the kvmfr device size in MiB (neuronctl lg setup)\n"
			      "options kvmfr static_size_mb=%u\n", s->size_mib);
		if (rc == 0)
			rc = add_file(plan, MODLOAD_PATH, "load the kvmfr module at boot", err,
				      "# Looking Glass (neuronctl lg setup)\nkvmfr\n");
		if (rc == 0)
			rc = add_file(plan, UDEV_PATH, "let the client's user open " KVMFR_DEV, err,
				      "# Looking Glass: %s runs the client (neuronctl lg setup)\n"
				      "SUBSYSTEM==\"kvmfr\", OWNER=\"%s\", GROUP=\"%s\", MODE=\"0660\", "
				      "TAG+=\"uaccess\"\n",
				      s->user, s->user, group);
		if (rc < 0)
			goto fail;
		rc = nr_plan_read(plan, QEMU_CONF_PATH, &text, &len, err);
		if (rc == -NR_E_NOTFOUND) {
			nr_error_clear(err);
			nr_plan_add_note(plan, "there is no " QEMU_CONF_PATH " on the target: install libvirt, "
					       "then plan again so that QEMU may open " KVMFR_DEV);
		} else if (rc < 0) {
			goto fail;
		} else {
			rc = nr_lg_qemu_conf_acl(text, KVMFR_DEV, &edited);
			if (rc == -NR_E_PARSE) {
				nr_plan_add_note(plan, "cgroup_device_acl in " QEMU_CONF_PATH " has no closing "
						       "']': add \"" KVMFR_DEV "\" to it by hand");
			} else if (rc < 0) {
				nr_error_set(err, rc, NULL);
				goto fail;
			} else {
				rc = nr_plan_set_file(plan, QEMU_CONF_PATH, edited ? edited : text,
						      edited ? strlen(edited) : len,
						      "let QEMU open " KVMFR_DEV " (cgroup_device_acl)", err);
				if (rc < 0)
					goto fail;
			}
		}
		rc = 0;
		if (nr_lg_apparmor_on(ctx)) {
			/* the local override the libvirt-qemu abstraction includes: kept across
			 * package updates, unlike the abstraction itself */
			rc = nr_plan_read(plan, APPARMOR_LOCAL, &apparmor, &len, err);
			if (rc == -NR_E_NOTFOUND) {
				nr_error_clear(err);
				rc = 0;
			}
			if (rc < 0)
				goto fail;
			if (!apparmor || !strstr(apparmor, KVMFR_DEV " rw,")) {
				char *more = NULL;

				if (asprintf(&more, "%s%s# Looking Glass (neuronctl lg setup)\n" KVMFR_DEV " rw,\n",
					     apparmor ? apparmor : "", apparmor && len && apparmor[len - 1] != '\n' ?
					     "\n" : "") < 0) {
					rc = nr_error_set(err, -NR_E_NOMEM, NULL);
					goto fail;
				}
				rc = nr_plan_set_file(plan, APPARMOR_LOCAL, more, strlen(more),
						      "let QEMU open " KVMFR_DEV " under AppArmor", err);
				free(more);
				if (rc < 0)
					goto fail;
				nr_plan_add_note(plan, "after apply: systemctl reload apparmor");
			}
		}
		check_module(ctx, plan);
		nr_plan_add_note(plan, "after apply: reboot, or load the module now (modprobe kvmfr "
				       "static_size_mb=%u) and restart libvirtd", s->size_mib);
	}
	free(text);
	free(edited);
	free(apparmor);
	*out = plan;
	return 0;
fail:
	free(text);
	free(edited);
	free(apparmor);
	nr_plan_free(plan);
	return rc < 0 ? rc : (err ? err->code : -NR_E_IO);
}

int nr_lg_setup_apply(const struct nr_ctx *ctx, struct nr_plan *plan, const struct nr_plan_opts *opts,
		      struct nr_plan_result *res, struct nr_error *err)
{
	(void)ctx;
	return nr_plan_apply(plan, opts, res, err);
}

int nr_lg_setup_revert(const struct nr_ctx *ctx, enum nr_lg_mode mode, const struct nr_plan_opts *opts,
		       struct nr_plan_result *res, struct nr_error *err)
{
	return nr_plan_revert(ctx, nr_lg_setup_plan_name(mode), opts, res, err);
}
