/* Files under a target root: every path resolved inside it, atomic writes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/internal.h"
#include "root/root.h"

#define MAX_LINKS 40
#define STAGE_SUFFIX ".neuron-new"

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

int nr_root_resolve(const struct nr_root *r, const char *path, char **rel, struct nr_error *err)
{
	struct comps todo = { NULL, 0 };
	char **stack = NULL;
	size_t n_stack = 0;
	int links = 0, rc = 0;
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
			if (e == ENOENT) {
				missing = true;
				continue;
			}
			rc = nr_error_set(err, -NR_E_IO, "%s/%s: %s", r->path, path, strerror(e));
			goto out;
		}
		if (!S_ISLNK(st.st_mode)) {
			free(sofar);
			continue;
		}
		char target[PATH_MAX];
		ssize_t len = readlinkat(r->fd, sofar, target, sizeof(target) - 1);
		if (len < 0 || ++links > MAX_LINKS) {
			rc = nr_error_set(err, -NR_E_ESCAPE, "%s/%s: too many symbolic links or an unreadable one",
					  r->path, sofar);
			free(sofar);
			goto out;
		}
		target[len] = '\0';
		free(stack[--n_stack]);
		if (target[0] == '/') {
			size_t rl = strlen(r->path);
			bool inside = strcmp(r->path, "/") == 0 ||
				(strncmp(target, r->path, rl) == 0 && (target[rl] == '/' || target[rl] == '\0'));
			if (!inside) {
				rc = nr_error_set(err, -NR_E_ESCAPE,
						  "%s/%s is a symbolic link to %s, outside the target root %s: "
						  "mount the target's own file system there (or fix the link) and try again",
						  r->path, sofar, target, r->path);
				free(sofar);
				goto out;
			}
			nr_strv_free(stack, n_stack);
			stack = NULL;
			n_stack = 0;
			rc = comps_prepend(&todo, strcmp(r->path, "/") == 0 ? target : target + rl);
		} else {
			rc = comps_prepend(&todo, target);
		}
		free(sofar);
		if (rc < 0)
			goto out;
	}
	*rel = join_stack(stack, n_stack);
	if (!*rel)
		rc = -NR_E_NOMEM;
out:
	if (rc == -NR_E_NOMEM)
		nr_error_set(err, rc, NULL);
	nr_strv_free(stack, n_stack);
	nr_strv_free(todo.v, todo.n);
	return rc;
}

/* Split rel into its parent directory and base name (rel must not be ""). */
static char *parent_of(const char *rel, const char **base)
{
	const char *slash = strrchr(rel, '/');

	*base = slash ? slash + 1 : rel;
	return slash ? strndup(rel, (size_t)(slash - rel)) : strdup("");
}

static int open_dir_walk(const struct nr_root *r, const char *dir, bool create,
			 char ***created, size_t *n_created, int *out, struct nr_error *err)
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
		int next = openat(fd, tok, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, tok, 0755) < 0 && errno != EEXIST) {
				int e = errno;
				close(fd);
				free(copy);
				nr_error_set(err, e == EROFS ? -NR_E_READONLY : -NR_E_IO, "cannot create %s/%s: %s",
					     r->path, sofar.data, strerror(e));
				nr_buf_done(&sofar);
				return err ? err->code : -NR_E_IO;
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
			nr_error_set(err, e == ENOENT ? -NR_E_NOTFOUND : e == ELOOP ? -NR_E_ESCAPE : -NR_E_IO,
				     "%s/%s: %s", r->path, sofar.data,
				     e == ELOOP ? "a symbolic link appeared while writing" : strerror(e));
			nr_buf_done(&sofar);
			return err ? err->code : -NR_E_IO;
		}
		close(fd);
		fd = next;
	}
	free(copy);
	nr_buf_done(&sofar);
	*out = fd;
	return 0;
}

int nr_root_open_parent(const struct nr_root *r, const char *rel, const char **base,
			char ***created, size_t *n_created, struct nr_error *err)
{
	char *dir = parent_of(rel, base);
	int fd = -1, rc;

	if (!dir)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	rc = open_dir_walk(r, dir, created != NULL, created, n_created, &fd, err);
	free(dir);
	return rc < 0 ? rc : fd;
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
		struct stat st;
		if (sofar.len)
			nr_buf_puts(&sofar, "/");
		nr_buf_puts(&sofar, tok);
		if (sofar.oom)
			break;
		if (!gone && fstatat(r->fd, sofar.data, &st, AT_SYMLINK_NOFOLLOW) == 0)
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

int nr_root_read(const struct nr_root *r, const char *rel, char **text, size_t *len,
		 mode_t *mode, uid_t *uid, gid_t *gid, struct nr_error *err)
{
	int fd = openat(r->fd, rel[0] ? rel : ".", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct nr_buf b;
	struct stat st;
	char chunk[16384];
	ssize_t n;

	if (fd < 0) {
		int e = errno;
		return nr_error_set(err, e == ENOENT || e == ENOTDIR ? -NR_E_NOTFOUND :
				    e == ELOOP ? -NR_E_ESCAPE : -NR_E_IO,
				    "cannot read %s/%s: %s", r->path, rel, strerror(e));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return nr_error_set(err, -NR_E_IO, "%s/%s is not a regular file", r->path, rel);
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
			return nr_error_set(err, -NR_E_IO, "cannot read %s/%s: %s", r->path, rel, strerror(e));
		}
		nr_buf_append(&b, chunk, (size_t)n);
	}
	close(fd);
	if (b.oom) {
		nr_buf_done(&b);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
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

static char *stage_name(const char *base)
{
	char *s;

	if (asprintf(&s, ".%s" STAGE_SUFFIX, base) < 0)
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

int nr_root_stage(const struct nr_root *r, const char *rel, const char *text, size_t len,
		  mode_t mode, uid_t uid, gid_t gid, char ***created, size_t *n_created,
		  struct nr_error *err)
{
	const char *base;
	int dfd = nr_root_open_parent(r, rel, &base, created, n_created, err);
	char *tmp;
	int fd, e;

	if (dfd < 0)
		return dfd;
	tmp = stage_name(base);
	if (!tmp) {
		close(dfd);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	unlinkat(dfd, tmp, 0);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 07777);
	if (fd < 0)
		goto fail;
	if (write_all(fd, text, len) < 0 || fchmod(fd, mode & 07777) < 0)
		goto fail_fd;
	if (fchown(fd, uid, gid) < 0 && errno != EPERM)
		goto fail_fd;
	if (fsync(fd) < 0)
		goto fail_fd;
	close(fd);
	free(tmp);
	close(dfd);
	return 0;
fail_fd:
	e = errno;
	close(fd);
	unlinkat(dfd, tmp, 0);
	errno = e;
fail:
	e = errno;
	free(tmp);
	close(dfd);
	return nr_error_set(err, e == EROFS ? -NR_E_READONLY : -NR_E_IO, "cannot write %s/%s: %s",
			    r->path, rel, strerror(e));
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
		rc = nr_error_set(err, errno == EROFS ? -NR_E_READONLY : -NR_E_IO, "cannot replace %s/%s: %s",
				  r->path, rel, strerror(errno));
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

int nr_root_unlink(const struct nr_root *r, const char *rel, struct nr_error *err)
{
	const char *base;
	int dfd = nr_root_open_parent(r, rel, &base, NULL, NULL, NULL);
	int rc = 0;

	if (dfd < 0)
		return 0;   /* its directory is gone, so is it */
	if (unlinkat(dfd, base, 0) < 0 && errno != ENOENT)
		rc = nr_error_set(err, errno == EROFS ? -NR_E_READONLY : -NR_E_IO, "cannot remove %s/%s: %s",
				  r->path, rel, strerror(errno));
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

int nr_root_remove_tree(const struct nr_root *r, const char *rel, struct nr_error *err)
{
	const char *base;
	int dfd = nr_root_open_parent(r, rel, &base, NULL, NULL, NULL), rc = 0;

	if (dfd < 0)
		return 0;
	if (remove_at(dfd, base) < 0)
		rc = nr_error_set(err, -NR_E_IO, "cannot remove %s/%s: %s", r->path, rel, strerror(errno));
	else
		fsync(dfd);
	close(dfd);
	return rc;
}
