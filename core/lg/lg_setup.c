/* Looking Glass set-up on a target root, as a plan of the generic engine (plan.h):
 *
 *   shm mode    /etc/tmpfiles.d/10-looking-glass.conf
 *                 f /dev/shm/looking-glass 0660 USER GROUP -
 *               and, when the target is the running system (ROOT/dev/shm is a
 *               directory), the file itself now: owner USER, group GROUP, 0660, SIZE.
 *   kvmfr mode  /etc/modprobe.d/kvmfr.conf      options kvmfr static_size_mb=N
 *               /etc/modules-load.d/kvmfr.conf  kvmfr
 *               /etc/udev/rules.d/99-kvmfr.rules  the device node for USER/GROUP, 0660
 *               /etc/libvirt/qemu.conf          /dev/kvmfr0 in cgroup_device_acl
 *               and a note naming the module package when no installed kernel has it.
 *
 * The file in /dev/shm is not a configuration file: the engine's journal does not
 * cover it. What apply will do to it is decided when planning and recorded in the
 * plan's meta ("shm.now"), so revert knows whether to remove the file it created or to
 * give an existing one its old owner and mode back. */
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

#define SHM_PATH        "/dev/shm/looking-glass"
#define TMPFILES_PATH   "/etc/tmpfiles.d/10-looking-glass.conf"
#define MODPROBE_PATH   "/etc/modprobe.d/kvmfr.conf"
#define MODLOAD_PATH    "/etc/modules-load.d/kvmfr.conf"
#define UDEV_PATH       "/etc/udev/rules.d/99-kvmfr.rules"
#define QEMU_CONF_PATH  "/etc/libvirt/qemu.conf"
#define KVMFR_DEV       "/dev/kvmfr0"

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
		fd = openat(r.fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
			char path[512], *dep = NULL;
			bool has = false;
			struct stat st;

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", rel, e->d_name);
			if (fstatat(r.fd, path, &st, 0) < 0 || !S_ISDIR(st.st_mode))
				continue;
			kernels++;
			for (size_t w = 0; where[w] && !has; w++) {
				snprintf(path, sizeof(path), "%s/%s/%s", rel, e->d_name, where[w]);
				has = faccessat(r.fd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
			}
			snprintf(path, sizeof(path), "%s/%s/modules.dep", rel, e->d_name);
			if (!has && nr_root_read(&r, path, &dep, NULL, NULL, NULL, NULL, NULL) == 0) {
				has = strstr(dep, "/kvmfr.ko") != NULL;
				free(dep);
			}
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

/* ---- the file in /dev/shm ------------------------------------------------------------------ */

/* Decide what apply does to ROOT/dev/shm/looking-glass; recorded as meta "shm.now":
 *   "create UID GID SIZE"            absent now: apply creates it
 *   "fix UID GID SIZE OUID OGID OMODE" present with another owner, mode or a smaller size
 *   "ok" / "skip"                     nothing to do / not a running system
 * and what revert does, as meta "shm.undo": "remove", "restore OUID OGID OMODE", "none". */
static int plan_shm_now(const struct nr_ctx *ctx, struct nr_plan *plan, unsigned uid, unsigned gid,
			unsigned size_mib, struct nr_error *err)
{
	struct nr_plan_status old;
	struct nr_root r;
	char *rel = NULL, val[160], undo[96] = "none";
	struct stat st;
	unsigned long long size = (unsigned long long)size_mib << 20;
	int rc;

	rc = nr_root_open(&r, nr_ctx_get(ctx, "root"), err);
	if (rc < 0)
		return rc;
	if (nr_root_resolve(&r, "/dev/shm", &rel, NULL) < 0 ||
	    fstatat(r.fd, rel[0] ? rel : ".", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(val, sizeof(val), "skip");
		nr_plan_add_note(plan, "/dev/shm is not there on the target (it is not the running system): "
				       "systemd-tmpfiles creates %s at its next boot", SHM_PATH);
	} else {
		free(rel);
		rel = NULL;
		rc = nr_root_resolve(&r, SHM_PATH, &rel, err);
		if (rc < 0)
			goto out;
		if (fstatat(r.fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			snprintf(val, sizeof(val), "create %u %u %llu", uid, gid, size);
		} else if (!S_ISREG(st.st_mode)) {
			snprintf(val, sizeof(val), "skip");
			nr_plan_add_note(plan, "%s exists but is not a regular file: it is left alone", SHM_PATH);
		} else if (st.st_uid == uid && st.st_gid == gid && (st.st_mode & 07777) == 0660 &&
			   (unsigned long long)st.st_size >= size) {
			snprintf(val, sizeof(val), "ok");
		} else {
			snprintf(val, sizeof(val), "fix %u %u %llu %u %u %o", uid, gid, size,
				 (unsigned)st.st_uid, (unsigned)st.st_gid, (unsigned)(st.st_mode & 07777));
		}
	}
	/* What revert undoes: what this apply does, or what an earlier apply under the same
	 * name did (a second apply finds the file in place and must not forget it). */
	if (strncmp(val, "create ", 7) == 0) {
		snprintf(undo, sizeof(undo), "remove");
	} else if (strncmp(val, "fix ", 4) == 0) {
		unsigned ouid, ogid, omode, u, g;
		unsigned long long sz;
		if (sscanf(val, "fix %u %u %llu %u %u %o", &u, &g, &sz, &ouid, &ogid, &omode) == 6)
			snprintf(undo, sizeof(undo), "restore %u %u %o", ouid, ogid, omode);
	}
	if (strcmp(undo, "none") == 0 && nr_plan_status_read(ctx, nr_plan_name(plan), &old, NULL) == 0) {
		const char *prev = nr_plan_status_meta(&old, "shm.undo");
		if (prev)
			snprintf(undo, sizeof(undo), "%s", prev);
		nr_plan_status_done(&old);
	}
	rc = nr_plan_set_meta(plan, "shm.now", val) < 0 || nr_plan_set_meta(plan, "shm.undo", undo) < 0 ?
		nr_error_set(err, -NR_E_NOMEM, NULL) : 0;
out:
	free(rel);
	nr_root_close(&r);
	return rc;
}

char *nr_lg_setup_now(const struct nr_plan *plan)
{
	const char *v = nr_plan_meta(plan, "shm.now");
	unsigned uid, gid, ouid, ogid, omode;
	unsigned long long size;
	char *s = NULL;

	if (!v)
		return NULL;
	if (sscanf(v, "create %u %u %llu", &uid, &gid, &size) == 3) {
		if (asprintf(&s, "create %s now (owner %u, group %u, mode 0660, %llu MiB)", SHM_PATH, uid,
			     gid, size >> 20) < 0)
			s = NULL;
	} else if (sscanf(v, "fix %u %u %llu %u %u %o", &uid, &gid, &size, &ouid, &ogid, &omode) == 6) {
		if (asprintf(&s, "give %s owner %u, group %u, mode 0660 and at least %llu MiB now "
			     "(it has owner %u, group %u, mode %04o)", SHM_PATH, uid, gid, size >> 20, ouid,
			     ogid, omode) < 0)
			s = NULL;
	}
	return s;
}

/* Open the parent of SHM_PATH inside root; *base is the file name. */
static int open_shm_parent(const struct nr_ctx *ctx, struct nr_root *r, char **rel, int *dfd,
			   const char **base, struct nr_error *err)
{
	int rc = nr_root_open(r, nr_ctx_get(ctx, "root"), err);

	*rel = NULL;
	*dfd = -1;
	if (rc < 0)
		return rc;
	rc = nr_root_resolve(r, SHM_PATH, rel, err);
	if (rc == 0)
		rc = nr_root_open_parent(r, *rel, base, NULL, NULL, err);
	if (rc >= 0) {
		*dfd = rc;
		rc = 0;
	} else {
		free(*rel);
		*rel = NULL;
		nr_root_close(r);
	}
	return rc;
}

static void emit(const struct nr_plan_opts *opts, const char *text)
{
	if (opts && opts->output)
		opts->output(opts->userdata, NR_PLAN_EV_STEP, text);
}

static int shm_apply(const struct nr_ctx *ctx, const char *now, const struct nr_plan_opts *opts,
		     bool *changed, struct nr_error *err)
{
	unsigned uid, gid, ouid, ogid, omode;
	unsigned long long size;
	bool create = sscanf(now, "create %u %u %llu", &uid, &gid, &size) == 3;
	bool fix = !create && sscanf(now, "fix %u %u %llu %u %u %o", &uid, &gid, &size, &ouid, &ogid,
				     &omode) == 6;
	struct nr_root r;
	const char *base;
	char *rel, msg[256];
	struct stat st;
	int dfd, fd, rc;

	*changed = false;
	if (!create && !fix)
		return 0;
	rc = open_shm_parent(ctx, &r, &rel, &dfd, &base, err);
	if (rc < 0)
		return rc;
	fd = openat(dfd, base, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | (create ? O_CREAT : 0), 0660);
	if (fd < 0) {
		rc = nr_error_set(err, -NR_E_IO, "cannot open %s: %s", SHM_PATH, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = nr_error_set(err, -NR_E_REFUSED, "%s is not a regular file: left alone", SHM_PATH);
	} else if (fchown(fd, uid, gid) < 0 || fchmod(fd, 0660) < 0 ||
		   ((unsigned long long)st.st_size < size && ftruncate(fd, (off_t)size) < 0)) {
		rc = nr_error_set(err, errno == EPERM ? -NR_E_PERM : -NR_E_IO,
				  "cannot set the owner, mode or size of %s: %s", SHM_PATH, strerror(errno));
	} else {
		snprintf(msg, sizeof(msg), "%s %s (owner %u, group %u, mode 0660, %llu MiB)",
			 create ? "created" : "fixed", SHM_PATH, uid, gid, size >> 20);
		emit(opts, msg);
		*changed = true;
	}
	close(fd);
out:
	close(dfd);
	free(rel);
	nr_root_close(&r);
	return rc;
}

static int shm_undo(const struct nr_ctx *ctx, const char *undo, const struct nr_plan_opts *opts,
		    bool *changed, struct nr_error *err)
{
	unsigned ouid, ogid, omode;
	bool remove = strcmp(undo, "remove") == 0;
	bool restore = !remove && sscanf(undo, "restore %u %u %o", &ouid, &ogid, &omode) == 3;
	struct nr_root r;
	const char *base;
	char *rel;
	struct stat st;
	int dfd, fd, rc;

	*changed = false;
	if (!remove && !restore)
		return 0;
	rc = open_shm_parent(ctx, &r, &rel, &dfd, &base, err);
	if (rc < 0)
		return rc;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		goto out; /* gone already (a reboot), or not ours to touch */
	if (remove) {
		if (unlinkat(dfd, base, 0) < 0)
			rc = nr_error_set(err, -NR_E_IO, "cannot remove %s: %s", SHM_PATH, strerror(errno));
		else
			emit(opts, "removed " SHM_PATH);
	} else {
		fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
		if (fd < 0 || fchown(fd, ouid, ogid) < 0 || fchmod(fd, omode) < 0)
			rc = nr_error_set(err, -NR_E_IO, "cannot give %s its owner and mode back: %s",
					  SHM_PATH, strerror(errno));
		else
			emit(opts, "gave " SHM_PATH " its owner and mode back");
		if (fd >= 0)
			close(fd);
	}
	*changed = rc == 0;
out:
	close(dfd);
	free(rel);
	nr_root_close(&r);
	return rc;
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
	char *text = NULL, *edited = NULL;
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
				      "SUBSYSTEM==\"kvmfr\", OWNER=\"%s\", GROUP=\"%s\", MODE=\"0660\"\n",
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
		check_module(ctx, plan);
		nr_plan_add_note(plan, "after apply: reboot, or load the module now (modprobe kvmfr "
				       "static_size_mb=%u) and restart libvirtd", s->size_mib);
	}
	free(text);
	free(edited);
	*out = plan;
	return 0;
fail:
	free(text);
	free(edited);
	nr_plan_free(plan);
	return rc < 0 ? rc : (err ? err->code : -NR_E_IO);
}

int nr_lg_setup_apply(const struct nr_ctx *ctx, struct nr_plan *plan, const struct nr_plan_opts *opts,
		      struct nr_plan_result *res, struct nr_error *err)
{
	const char *now = nr_plan_meta(plan, "shm.now");
	bool changed = false;
	int rc = nr_plan_apply(plan, opts, res, err);

	if (rc < 0 || !now)
		return rc;
	rc = shm_apply(ctx, now, opts, &changed, err);
	if (changed && res)
		res->files_changed++;
	return rc;
}

int nr_lg_setup_revert(const struct nr_ctx *ctx, enum nr_lg_mode mode, const struct nr_plan_opts *opts,
		       struct nr_plan_result *res, struct nr_error *err)
{
	struct nr_plan_status st;
	char *undo = NULL;
	bool changed = false;
	int rc;

	if (nr_plan_status_read(ctx, nr_lg_setup_plan_name(mode), &st, NULL) == 0) {
		const char *v = nr_plan_status_meta(&st, "shm.undo");
		undo = v ? strdup(v) : NULL;
		nr_plan_status_done(&st);
	}
	rc = nr_plan_revert(ctx, nr_lg_setup_plan_name(mode), opts, res, err);
	if (rc == 0 && undo) {
		rc = shm_undo(ctx, undo, opts, &changed, err);
		if (changed && res)
			res->files_changed++;
	}
	free(undo);
	return rc;
}
