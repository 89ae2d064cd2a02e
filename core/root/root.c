/* Files under a target root: every path resolved inside it, every open a walk that never
 * follows a link it did not resolve, atomic writes. See root.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/internal.h"
#include "root/root.h"

#define MAX_LINKS 40

int nr_root_errcode(int e)
{
	switch (e) {
	case ENOENT: case ENOTDIR: return -NR_E_NOTFOUND;
	case EROFS: return -NR_E_READONLY;
	case ENOSPC: case EDQUOT: return -NR_E_NOSPACE;
	case EACCES: case EPERM: return -NR_E_PERM;
	case ELOOP: return -NR_E_ESCAPE;
	case ENOMEM: return -NR_E_NOMEM;
	default: return -NR_E_IO;
	}
}

/* "cannot write R/etc/x: No space left on device", with the way forward for the two
 * causes a user can fix. */
static int fail_errno(const struct nr_root *r, int e, const char *verb, const char *rel,
		      struct nr_error *err)
{
	int code = nr_root_errcode(e);

	if (code == -NR_E_NOSPACE)
		return nr_error_set(err, code, "cannot %s %s/%s: %s: free some space on that file "
				    "system (df -h %s shows it) and try again", verb, r->path, rel,
				    strerror(e), r->path);
	return nr_error_set(err, code, "cannot %s %s/%s: %s", verb, r->path, rel, strerror(e));
}

int nr_root_open(struct nr_root *r, const char *root, struct nr_error *err)
{
	r->fd = -1;
	r->path = realpath(root, NULL);
	if (!r->path)
		return nr_error_set(err, errno == ENOENT ? -NR_E_NOTFOUND : -NR_E_IO,
				    "target root %s: %s", root, strerror(errno));
	r->fd = open(r->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->fd < 0) {
		int e = errno;
		free(r->path);
		r->path = NULL;
		return nr_error_set(err, -NR_E_IO, "target root %s: %s", root, strerror(e));
	}
	return 0;
}

void nr_root_close(struct nr_root *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->path);
	r->path = NULL;
	r->fd = -1;
}

bool nr_root_rel_ok(const char *rel)
{
	if (!rel || !rel[0] || rel[0] == '/')
		return false;
	for (const char *p = rel; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p == '/' && !*++p)
			return false;   /* a trailing slash */
	}
	return true;
}

/* ------------------------------------------------------------------ resolving -- */

/* A path as a list of components being resolved. */
struct comps {
	char **v;
	size_t n;
};

static int comps_prepend(struct comps *c, const char *path)
{
	char *copy = strdup(path), *save = NULL, *tok;
	char **parts = NULL;
	size_t n = 0;
	int rc = 0;

	if (!copy)
		return -NR_E_NOMEM;
	for (tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save))
		if (strcmp(tok, ".") != 0 && (rc = nr_strv_add(&parts, &n, tok)) < 0)
			break;
	free(copy);
	if (rc < 0) {
		nr_strv_free(parts, n);
		return rc;
	}
	char **nv = realloc(c->v, (c->n + n + 1) * sizeof(*nv));
	if (!nv) {
		nr_strv_free(parts, n);
		return -NR_E_NOMEM;
	}
	memmove(nv + n, nv, c->n * sizeof(*nv));
	if (n)
		memcpy(nv, parts, n * sizeof(*nv));
	free(parts);
	c->v = nv;
	c->n += n;
	return 0;
}

static char *join_stack(char **stack, size_t n)
{
	struct nr_buf b;

	nr_buf_init(&b);
	nr_buf_append(&b, "", 0);
	for (size_t i = 0; i < n; i++) {
		if (i)
			nr_buf_puts(&b, "/");
		nr_buf_puts(&b, stack[i]);
	}
	if (b.oom) {
		nr_buf_done(&b);
		return NULL;
	}
	return nr_buf_steal(&b);
}

/* A link being followed: how many components come after it, and what it was. */
struct pending_link {
	size_t after;
	char *where, *target;
};

int nr_root_resolve(const struct nr_root *r, const char *path, char **rel, struct nr_error *err)
{
	struct comps todo = { NULL, 0 };
	struct pending_link links[MAX_LINKS + 1];
	char **stack = NULL;
	size_t n_stack = 0, n_links = 0;
	int followed = 0, rc = 0;
	bool missing = false;

	*rel = NULL;
	if ((rc = comps_prepend(&todo, path)) < 0)
		goto out;
	while (todo.n > 0) {
		char *comp = todo.v[0];
		memmove(todo.v, todo.v + 1, (todo.n - 1) * sizeof(*todo.v));
		todo.n--;
		if (strcmp(comp, "..") == 0) {
			free(comp);
			if (n_stack == 0) {
				rc = nr_error_set(err, -NR_E_ESCAPE, "%s leads above the target root %s",
						  path, r->path);
				goto out;
			}
			free(stack[--n_stack]);
			/* the parent of a missing directory is known lexically */
			continue;
		}
		if ((rc = nr_strv_take(&stack, &n_stack, comp)) < 0)
			goto out;
		if (missing)
			continue;
		char *sofar = join_stack(stack, n_stack);
		if (!sofar) {
			rc = -NR_E_NOMEM;
			goto out;
		}
		struct stat st;
		if (fstatat(r->fd, sofar, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			int e = errno;
			free(sofar);
			if (e != ENOENT) {
				rc = nr_error_set(err, nr_root_errcode(e), "%s/%s: %s", r->path, path, strerror(e));
				goto out;
			}
			/* A link whose destination is missing, with more of the path after it:
			 * following it would make directories somewhere the user never meant. */
			for (size_t i = 0; i < n_links; i++)
				if (links[i].after > 0 && todo.n >= links[i].after) {
					rc = nr_error_set(err, -NR_E_ESCAPE,
							  "%s/%s is a symbolic link to %s, which the target root "
							  "does not have: links are followed inside the target "
							  "root as the target sees them, never outside the target "
							  "root; mount the target's own file system there (or fix "
							  "the link) and try again",
							  r->path, links[i].where, links[i].target);
					goto out;
				}
			missing = true;
			continue;
		}
		if (!S_ISLNK(st.st_mode)) {
			free(sofar);
			continue;
		}
		char target[PATH_MAX];
		ssize_t len = readlinkat(r->fd, sofar, target, sizeof(target) - 1);
		if (len < 0 || ++followed > MAX_LINKS) {
			rc = nr_error_set(err, -NR_E_ESCAPE, "%s/%s: too many symbolic links or an unreadable one",
					  r->path, sofar);
			free(sofar);
			goto out;
		}
		target[len] = '\0';
		free(stack[--n_stack]);
		links[n_links].after = todo.n;
		links[n_links].where = sofar;
		links[n_links].target = strdup(target);
		n_links++;
		if (!links[n_links - 1].target) {
			rc = -NR_E_NOMEM;
			goto out;
		}
		if (target[0] == '/') {
			/* As the target sees it: from its own root. A link that spells out the
			 * root's path (made from outside, "/mnt/boot/x") is read from there. */
			size_t rl = strlen(r->path);
			const char *inner = target;
			if (strcmp(r->path, "/") != 0 && strncmp(target, r->path, rl) == 0 &&
			    (target[rl] == '/' || target[rl] == '\0'))
				inner = target + rl;
			nr_strv_free(stack, n_stack);
			stack = NULL;
			n_stack = 0;
			rc = comps_prepend(&todo, inner);
		} else {
			rc = comps_prepend(&todo, target);
		}
		if (rc < 0)
			goto out;
	}
	*rel = join_stack(stack, n_stack);
	if (!*rel)
		rc = -NR_E_NOMEM;
out:
	if (rc == -NR_E_NOMEM)
		nr_error_set(err, rc, NULL);
	for (size_t i = 0; i < n_links; i++) {
		free(links[i].where);
		free(links[i].target);
	}
	nr_strv_free(stack, n_stack);
	nr_strv_free(todo.v, todo.n);
	return rc;
}

/* ------------------------------------------------------------------ the walk -- */

/* Split rel into its parent directory and base name (rel must not be ""). */
static char *parent_of(const char *rel, const char **base)
{
	const char *slash = strrchr(rel, '/');

	*base = slash ? slash + 1 : rel;
	return slash ? strndup(rel, (size_t)(slash - rel)) : strdup("");
}

/* mkdir with mode 0755 whatever the umask: the directories apply makes are part of the
 * target's configuration and must look the same for everyone. */
static int mkdir_0755(int dfd, const char *name)
{
	if (mkdirat(dfd, name, 0755) < 0)
		return -1;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		fchmod(fd, 0755);
		close(fd);
	}
	return 0;
}

int nr_root_open_dir(const struct nr_root *r, const char *dir, bool create, char ***created,
		     size_t *n_created, struct nr_error *err)
{
	int fd = dup(r->fd);
	char *copy = strdup(dir), *save = NULL, *tok;
	struct nr_buf sofar;

	nr_buf_init(&sofar);
	if (fd < 0 || !copy) {
		if (fd >= 0)
			close(fd);
		free(copy);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	for (tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (sofar.len)
			nr_buf_puts(&sofar, "/");
		nr_buf_puts(&sofar, tok);
		if (strcmp(tok, "..") == 0 || strcmp(tok, ".") == 0) {
			close(fd);
			free(copy);
			nr_error_set(err, -NR_E_ESCAPE, "%s/%s leads outside the target root", r->path, dir);
			nr_buf_done(&sofar);
			return -NR_E_ESCAPE;
		}
		int next = openat(fd, tok, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdir_0755(fd, tok) < 0 && errno != EEXIST) {
				int e = errno;
				close(fd);
				free(copy);
				fail_errno(r, e, "create", sofar.data, err);
				nr_buf_done(&sofar);
				return nr_root_errcode(e);
			}
			if (created && nr_strv_add(created, n_created, sofar.data) < 0) {
				close(fd);
				free(copy);
				nr_buf_done(&sofar);
				return nr_error_set(err, -NR_E_NOMEM, NULL);
			}
			fsync(fd);
			next = openat(fd, tok, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			int e = errno;
			close(fd);
			free(copy);
			if (e == ELOOP || e == ENOTDIR) {
				struct stat st;
				bool link = fstatat(r->fd, sofar.data, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
				nr_error_set(err, link ? -NR_E_ESCAPE : -NR_E_NOTFOUND,
					     "%s/%s is %s where a directory was expected%s", r->path, sofar.data,
					     link ? "a symbolic link" : "not a directory",
					     link ? ": neuron does not follow it here (it may lead outside the target root)" : "");
			} else {
				nr_error_set(err, nr_root_errcode(e), "%s/%s: %s", r->path, sofar.data, strerror(e));
			}
			nr_buf_done(&sofar);
			return err ? err->code : nr_root_errcode(e);
		}
		close(fd);
		fd = next;
	}
	free(copy);
	nr_buf_done(&sofar);
	return fd;
}

int nr_root_open_parent(const struct nr_root *r, const char *rel, const char **base,
			char ***created, size_t *n_created, struct nr_error *err)
{
	char *dir = parent_of(rel, base);
	int fd;

	if (!dir)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	fd = nr_root_open_dir(r, dir, created != NULL, created, n_created, err);
	free(dir);
	return fd;
}

int nr_root_missing_dirs(const struct nr_root *r, const char *rel, char ***dirs, size_t *n,
			 struct nr_error *err)
{
	const char *base;
	char *dir = parent_of(rel, &base);
	struct nr_buf sofar;
	char *save = NULL, *tok;
	bool gone = false;

	if (!dir)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	nr_buf_init(&sofar);
	for (tok = strtok_r(dir, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (sofar.len)
			nr_buf_puts(&sofar, "/");
		nr_buf_puts(&sofar, tok);
		if (sofar.oom)
			break;
		if (!gone && nr_root_exists(r, sofar.data))
			continue;
		gone = true;
		if (nr_strv_add(dirs, n, sofar.data) < 0)
			break;
	}
	free(dir);
	bool oom = sofar.oom;
	nr_buf_done(&sofar);
	return oom ? nr_error_set(err, -NR_E_NOMEM, NULL) : 0;
}

int nr_root_stat(const struct nr_root *r, const char *rel, struct stat *st, struct nr_error *err)
{
	const char *base;
	int dfd, rc = 0;

	if (!rel[0])
		return fstat(r->fd, st) < 0 ? nr_error_set(err, -NR_E_IO, "%s: %s", r->path, strerror(errno)) : 0;
	dfd = nr_root_open_parent(r, rel, &base, NULL, NULL, err);
	if (dfd < 0)
		return dfd;
	if (fstatat(dfd, base, st, AT_SYMLINK_NOFOLLOW) < 0)
		rc = nr_error_set(err, nr_root_errcode(errno), "%s/%s: %s", r->path, rel, strerror(errno));
	close(dfd);
	return rc;
}

bool nr_root_exists(const struct nr_root *r, const char *rel)
{
	struct stat st;

	return nr_root_stat(r, rel, &st, NULL) == 0;
}

/* ------------------------------------------------------------------ reading -- */

int nr_root_read(const struct nr_root *r, const char *rel, size_t max, char **text, size_t *len,
		 mode_t *mode, uid_t *uid, gid_t *gid, struct nr_error *err)
{
	const char *base;
	char shown[4200], chunk[16384];
	struct nr_buf b;
	struct stat st;
	ssize_t n;
	int dfd, fd;

	*text = NULL;
	if (!nr_root_rel_ok(rel))
		return nr_error_set(err, -NR_E_ESCAPE, "'%s' is not a path inside the target root %s", rel, r->path);
	dfd = nr_root_open_parent(r, rel, &base, NULL, NULL, err);
	if (dfd < 0)
		return dfd;
	snprintf(shown, sizeof(shown), "%s/%s", r->path, rel);
	fd = nr_open_kind(dfd, base, O_RDONLY | O_NOFOLLOW, NR_OPEN_FILE, shown, &st, err);
	close(dfd);
	if (fd < 0) {
		if (fd == -NR_E_ESCAPE)
			nr_error_set(err, fd, "%s is a symbolic link neuron does not follow here (it may lead "
				     "outside the target root)", shown);
		return fd;
	}
	if ((unsigned long long)st.st_size > max) {
		close(fd);
		return nr_error_set(err, -NR_E_NOTTEXT, "%s is %lld bytes, more than the %zu a configuration "
				    "file neuron edits may have: it is left alone; check what it is",
				    shown, (long long)st.st_size, max);
	}
	nr_buf_init(&b);
	nr_buf_append(&b, "", 0);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			nr_buf_done(&b);
			return nr_error_set(err, -NR_E_IO, "cannot read %s: %s", shown, strerror(e));
		}
		nr_buf_append(&b, chunk, (size_t)n);
		if (b.len > max)
			break;  /* it grew while being read */
	}
	close(fd);
	if (b.oom) {
		nr_buf_done(&b);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	if (b.len > max) {
		nr_buf_done(&b);
		return nr_error_set(err, -NR_E_NOTTEXT, "%s is more than the %zu bytes a configuration file "
				    "neuron edits may have: it is left alone", shown, max);
	}
	if (mode)
		*mode = st.st_mode & 07777;
	if (uid)
		*uid = st.st_uid;
	if (gid)
		*gid = st.st_gid;
	if (len)
		*len = b.len;
	*text = nr_buf_steal(&b);
	return 0;
}

/* ------------------------------------------------------------------ writing -- */

static char *stage_name(const char *base)
{
	char *s;

	if (asprintf(&s, ".%s" NR_ROOT_STAGE_SUFFIX, base) < 0)
		return NULL;
	return s;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Write name in dfd afresh (O_EXCL) with text, mode and owner, fsynced. -1 and errno. */
static int write_new(int dfd, const char *name, const char *text, size_t len, mode_t mode,
		     uid_t uid, gid_t gid)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 07777), e;

	if (fd < 0)
		return -1;
	if (write_all(fd, text, len) < 0 || fchmod(fd, mode & 07777) < 0 ||
	    (fchown(fd, uid, gid) < 0 && errno != EPERM) || fsync(fd) < 0) {
		e = errno;
		close(fd);
		unlinkat(dfd, name, 0);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

int nr_root_stage(const struct nr_root *r, const char *rel, const char *text, size_t len,
		  mode_t mode, uid_t uid, gid_t gid, char ***created, size_t *n_created,
		  struct nr_error *err)
{
	const char *base;
	int dfd = nr_root_open_parent(r, rel, &base, created, n_created, err);
	char *tmp;
	int rc = 0;

	if (dfd < 0)
		return dfd;
	tmp = stage_name(base);
	if (!tmp) {
		close(dfd);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	unlinkat(dfd, tmp, 0);
	if (write_new(dfd, tmp, text, len, mode, uid, gid) < 0)
		rc = fail_errno(r, errno, "write", rel, err);
	free(tmp);
	close(dfd);
	return rc;
}

int nr_root_stage_link(const struct nr_root *r, const char *from, const char *rel,
		       struct nr_error *err)
{
	const char *fbase, *base;
	int ffd = nr_root_open_parent(r, from, &fbase, NULL, NULL, err), dfd, rc = 0;
	char *tmp;

	if (ffd < 0)
		return ffd;
	dfd = nr_root_open_parent(r, rel, &base, NULL, NULL, err);
	if (dfd < 0) {
		close(ffd);
		return dfd;
	}
	tmp = stage_name(base);
	if (!tmp) {
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
	} else {
		unlinkat(dfd, tmp, 0);
		if (linkat(ffd, fbase, dfd, tmp, 0) < 0) {
			int e = errno;
			if (e == EXDEV || e == EPERM || e == EMLINK || e == ENOTSUP)
				rc = 1;
			else
				rc = fail_errno(r, e, "link", rel, err);
		} else {
			fsync(dfd);
		}
	}
	free(tmp);
	close(dfd);
	close(ffd);
	return rc;
}

int nr_root_commit(const struct nr_root *r, const char *rel, struct nr_error *err)
{
	const char *base;
	int dfd = nr_root_open_parent(r, rel, &base, NULL, NULL, err);
	char *tmp;
	int rc = 0;

	if (dfd < 0)
		return dfd;
	tmp = stage_name(base);
	if (!tmp)
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
	else if (renameat(dfd, tmp, dfd, base) < 0 || fsync(dfd) < 0)
		rc = fail_errno(r, errno, "replace", rel, err);
	free(tmp);
	close(dfd);
	return rc;
}

void nr_root_drop_stage(const struct nr_root *r, const char *rel)
{
	const char *base;
	int dfd = nr_root_open_parent(r, rel, &base, NULL, NULL, NULL);
	char *tmp;

	if (dfd < 0)
		return;
	tmp = stage_name(base);
	if (tmp && unlinkat(dfd, tmp, 0) == 0)
		fsync(dfd);
	free(tmp);
	close(dfd);
}

static int remove_at(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && remove_at(dirfd(d), de->d_name) < 0)
			rc = -1;
	closedir(d);
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = -1;
	return rc;
}

/* Write the file at sub (a rel inside the directory dfd) and the directories on the way. */
static int build_inside(int dfd, const char *sub, const char *text, size_t len, mode_t mode)
{
	char *copy = strdup(sub), *slash;
	int fd = dup(dfd), rc = 0;

	if (!copy || fd < 0) {
		free(copy);
		if (fd >= 0)
			close(fd);
		errno = ENOMEM;
		return -1;
	}
	char *p = copy;
	while ((slash = strchr(p, '/'))) {
		*slash = '\0';
		int next = -1;
		if ((mkdir_0755(fd, p) < 0 && errno != EEXIST) ||
		    (next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			rc = -1;
			break;
		}
		close(fd);
		fd = next;
		p = slash + 1;
	}
	if (rc == 0)
		rc = write_new(fd, p, text, len, mode, geteuid(), getegid());
	if (rc == 0)
		rc = fsync(fd);
	int e = errno;
	close(fd);
	free(copy);
	errno = e;
	return rc;
}

int nr_root_create_stage(const struct nr_root *r, const char *rel, const char *text, size_t len,
			 mode_t mode, char ***created, size_t *n_created, struct nr_error *err)
{
	char **missing = NULL;
	size_t n_missing = 0;
	int rc = nr_root_missing_dirs(r, rel, &missing, &n_missing, err);

	if (rc < 0)
		return rc;
	if (n_missing == 0) {
		nr_strv_free(missing, n_missing);
		rc = nr_root_stage(r, rel, text, len, mode, geteuid(), getegid(), NULL, NULL, err);
		if (rc < 0)
			nr_root_drop_stage(r, rel);
		return rc;
	}
	/* top: the outermost missing directory; built as .top.neuron-new */
	const char *top = missing[0], *base;
	int dfd = nr_root_open_parent(r, top, &base, NULL, NULL, err), tfd = -1;
	char *tmp = NULL;
	if (dfd < 0) {
		nr_strv_free(missing, n_missing);
		return dfd;
	}
	if (!(tmp = stage_name(base))) {
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto out;
	}
	remove_at(dfd, tmp);
	if (mkdir_0755(dfd, tmp) < 0 ||
	    (tfd = openat(dfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    build_inside(tfd, rel + strlen(top) + 1, text, len, mode) < 0 || fsync(dfd) < 0) {
		rc = fail_errno(r, errno, "create", rel, err);
		remove_at(dfd, tmp);
		fsync(dfd);
	}
	if (tfd >= 0)
		close(tfd);
	for (size_t i = 0; i < n_missing && rc == 0 && created; i++)
		if (nr_strv_add(created, n_created, missing[i]) < 0)
			rc = nr_error_set(err, -NR_E_NOMEM, NULL);
out:
	free(tmp);
	close(dfd);
	nr_strv_free(missing, n_missing);
	return rc;
}

int nr_root_create_commit(const struct nr_root *r, const char *rel, const char *top, struct nr_error *err)
{
	const char *base;
	char *tmp;
	int dfd, rc = 0;

	if (!top) {
		if ((rc = nr_root_commit(r, rel, err)) < 0)
			nr_root_drop_stage(r, rel);
		return rc;
	}
	if ((dfd = nr_root_open_parent(r, top, &base, NULL, NULL, err)) < 0)
		return dfd;
	if (!(tmp = stage_name(base))) {
		close(dfd);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	if (renameat(dfd, tmp, dfd, base) < 0 || fsync(dfd) < 0) {
		rc = fail_errno(r, errno, "create", rel, err);
		remove_at(dfd, tmp);
		fsync(dfd);
	}
	free(tmp);
	close(dfd);
	return rc;
}

int nr_root_rename(const struct nr_root *r, const char *from, const char *to, struct nr_error *err)
{
	const char *fbase, *tbase;
	int ffd = nr_root_open_parent(r, from, &fbase, NULL, NULL, err), tfd, rc = 0;

	if (ffd < 0)
		return ffd;
	tfd = nr_root_open_parent(r, to, &tbase, NULL, NULL, err);
	if (tfd < 0) {
		close(ffd);
		return tfd;
	}
	if (renameat(ffd, fbase, tfd, tbase) < 0 || fsync(tfd) < 0 || (ffd != tfd && fsync(ffd) < 0))
		rc = fail_errno(r, errno, "rename", from, err);
	close(tfd);
	close(ffd);
	return rc;
}

int nr_root_unlink(const struct nr_root *r, const char *rel, struct nr_error *err)
{
	const char *base;
	int dfd = nr_root_open_parent(r, rel, &base, NULL, NULL, NULL);
	int rc = 0;

	if (dfd < 0)
		return 0;   /* its directory is gone, so is it */
	if (unlinkat(dfd, base, 0) < 0 && errno != ENOENT)
		rc = fail_errno(r, errno, "remove", rel, err);
	else
		fsync(dfd);
	close(dfd);
	return rc;
}

void nr_root_rmdir(const struct nr_root *r, const char *rel)
{
	const char *base;
	int dfd = nr_root_open_parent(r, rel, &base, NULL, NULL, NULL);

	if (dfd < 0)
		return;
	if (unlinkat(dfd, base, AT_REMOVEDIR) == 0)
		fsync(dfd);
	close(dfd);
}

int nr_root_remove_tree(const struct nr_root *r, const char *rel, struct nr_error *err)
{
	const char *base;
	int dfd = nr_root_open_parent(r, rel, &base, NULL, NULL, NULL), rc = 0;
	char *tmp;

	if (dfd < 0)
		return 0;
	tmp = stage_name(base);
	if (!tmp) {
		close(dfd);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	/* out of sight in one step, then emptied: a crash leaves a staged name, no half tree */
	if (renameat(dfd, base, dfd, tmp) == 0)
		fsync(dfd);
	if (remove_at(dfd, tmp) < 0)
		rc = fail_errno(r, errno, "remove", rel, err);
	else
		fsync(dfd);
	free(tmp);
	close(dfd);
	return rc;
}

/* dfd's tree (named rel) holds only file and its directories. */
static bool holds_only(int dfd, const char *rel, const char *file)
{
	DIR *d;
	struct dirent *de;
	bool ok = true;
	int fd = dup(dfd);

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while (ok && (de = readdir(d))) {
		char *path = NULL;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (asprintf(&path, "%s/%s", rel, de->d_name) < 0) {
			ok = false;
			break;
		}
		size_t n = strlen(path);
		if (strcmp(path, file) == 0) {
			/* the file itself */
		} else if (strncmp(file, path, n) == 0 && file[n] == '/') {
			int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			ok = sub >= 0 && holds_only(sub, path, file);
			if (sub >= 0)
				close(sub);
		} else {
			ok = false;
		}
		free(path);
	}
	closedir(d);
	return ok;
}

bool nr_root_holds_only(const struct nr_root *r, const char *dir, const char *file)
{
	int fd = nr_root_open_dir(r, dir, false, NULL, NULL, NULL);
	bool ok;

	if (fd < 0)
		return false;
	ok = holds_only(fd, dir, file);
	close(fd);
	return ok;
}

int nr_root_stale_stages(const struct nr_root *r, const char *rel, char ***found, size_t *n)
{
	char *copy = strdup(rel), *save = NULL, *tok;
	struct nr_buf dir;
	int rc = 0;

	if (!copy)
		return -NR_E_NOMEM;
	nr_buf_init(&dir);
	nr_buf_append(&dir, "", 0);
	for (tok = strtok_r(copy, "/", &save); tok && rc == 0; tok = strtok_r(NULL, "/", &save)) {
		char *s = NULL;
		if (asprintf(&s, "%s%s.%s" NR_ROOT_STAGE_SUFFIX, dir.data ? dir.data : "", dir.len ? "/" : "",
			     tok) < 0)
			s = NULL;
		if (!s) {
			rc = -NR_E_NOMEM;
			break;
		}
		if (nr_root_exists(r, s))
			rc = nr_strv_add_unique(found, n, s);
		free(s);
		if (dir.len)
			nr_buf_puts(&dir, "/");
		nr_buf_puts(&dir, tok);
		if (!nr_root_exists(r, dir.data))
			break;   /* nothing can be staged inside what is not there */
	}
	if (dir.oom)
		rc = -NR_E_NOMEM;
	nr_buf_done(&dir);
	free(copy);
	return rc;
}

/* The mount point holding the path full: the longest mount point of this process's mount
 * namespace that is a prefix of it (a bind mount keeps its file system's st_dev, so
 * /proc/self/mountinfo is the one place that knows). NULL when it cannot be read. */
static char *mount_of(const char *full)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192], *best = NULL;
	size_t best_len = 0;

	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		char mp[4096], *p = line;
		size_t o = 0;
		/* the fifth field is the mount point, with \040-style escapes */
		for (int field = 0; field < 4 && p; field++)
			p = strchr(p, ' '), p = p ? p + 1 : NULL;
		if (!p)
			continue;
		for (; *p && *p != ' ' && o + 1 < sizeof(mp); p++) {
			if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] && p[3]) {
				mp[o++] = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
				p += 3;
			} else {
				mp[o++] = *p;
			}
		}
		mp[o] = '\0';
		size_t n = strlen(mp);
		bool prefix = strcmp(mp, "/") == 0 ||
			(strncmp(full, mp, n) == 0 && (full[n] == '/' || full[n] == '\0'));
		if (prefix && (n > best_len || !best)) {
			free(best);
			best = strdup(mp);
			best_len = n;
		}
	}
	fclose(f);
	return best;
}

int nr_root_check_writable(const struct nr_root *r, const char *rel, struct nr_error *err)
{
	char *dir = strdup(rel);
	struct statvfs vfs;
	int rc = 0;

	if (!dir)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	for (;;) {
		char *slash = strrchr(dir, '/');
		struct stat st;
		if (slash)
			*slash = '\0';
		else
			dir[0] = '\0';
		if (nr_root_stat(r, dir, &st, NULL) == 0 && S_ISDIR(st.st_mode)) {
			char full[4200];
			snprintf(full, sizeof(full), "%s%s%s", r->path, dir[0] ? "/" : "", dir);
			bool ro = statvfs(full, &vfs) == 0 && (vfs.f_flag & ST_RDONLY);
			if (ro) {
				char *m = mount_of(full);
				rc = nr_error_set(err, -NR_E_READONLY,
						  "%s is not writable: it is on the read-only mount %s; mount "
						  "it read-write (mount -o remount,rw %s), then try again",
						  full, m ? m : r->path, m ? m : r->path);
				free(m);
			} else if (access(full, W_OK) < 0) {
				rc = nr_error_set(err, -NR_E_READONLY, "%s is not writable: run as root, then try again",
						  full);
			}
			break;
		}
		if (!dir[0])
			break;
	}
	free(dir);
	return rc;
}
