/* Files, links and directories (POSIX: open with O_CLOEXEC, readlink, mkdir), apart from
 * core/base/util.c so that the strings and buffers there stay portable C. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/internal.h"

const char *nr_file_type_name(unsigned mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "a regular file";
	case S_IFDIR: return "a directory";
	case S_IFIFO: return "a FIFO (named pipe)";
	case S_IFSOCK: return "a socket";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	case S_IFLNK: return "a symbolic link";
	default: return "not a regular file";
	}
}

static int refuse_kind(const char *shown, unsigned mode, unsigned kinds, struct nr_error *err)
{
	return nr_error_set(err, -NR_E_NOTFILE, "%s is %s, not %s: neuron leaves it alone; put the real "
			    "file there (or remove it) and try again", shown, nr_file_type_name(mode),
			    kinds & NR_OPEN_DEVICE ? "a regular file or a device" : "a regular file");
}

int nr_open_kind(int dirfd, const char *path, int flags, unsigned kinds, const char *shown,
		 struct stat *st, struct nr_error *err)
{
	struct stat local, *s = st ? st : &local;
	int fd = openat(dirfd, path, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0644), e, fl;

	if (fd < 0) {
		e = errno;
		/* a FIFO without a reader refuses a non-blocking write open: name what it is */
		if ((e == ENXIO || e == EOPNOTSUPP) && fstatat(dirfd, path, s, AT_SYMLINK_NOFOLLOW) == 0)
			return refuse_kind(shown, s->st_mode, kinds, err);
		errno = e;
		return nr_error_set(err, e == ENOENT || e == ENOTDIR ? -NR_E_NOTFOUND :
				    e == EACCES || e == EPERM ? -NR_E_PERM : e == ELOOP ? -NR_E_ESCAPE :
				    e == EROFS ? -NR_E_READONLY : e == ENOSPC || e == EDQUOT ? -NR_E_NOSPACE :
				    -NR_E_IO, "cannot open %s: %s", shown, strerror(e));
	}
	if (fstat(fd, s) < 0) {
		e = errno;
		close(fd);
		return nr_error_set(err, -NR_E_IO, "cannot open %s: %s", shown, strerror(e));
	}
	if (!((S_ISREG(s->st_mode) && (kinds & NR_OPEN_FILE)) || (S_ISCHR(s->st_mode) && (kinds & NR_OPEN_DEVICE)))) {
		close(fd);
		return refuse_kind(shown, s->st_mode, kinds, err);
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		e = errno;
		close(fd);
		return nr_error_set(err, -NR_E_IO, "cannot open %s: %s", shown, strerror(e));
	}
	return fd;
}

int nr_read_file(const char *path, char **out, size_t *len, struct nr_error *err)
{
	return nr_read_file_max(path, SIZE_MAX - 1, out, len, err);
}

int nr_read_file_max(const char *path, size_t max, char **out, size_t *len, struct nr_error *err)
{
	struct nr_buf b;
	char chunk[65536];
	ssize_t n;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		saved = errno;
		nr_error_set(err, saved == ENOENT ? -NR_E_NOTFOUND : saved == EACCES ? -NR_E_PERM : -NR_E_IO,
			     "cannot read %s: %s", path, strerror(saved));
		errno = saved;
		return err ? err->code : (saved == ENOENT ? -NR_E_NOTFOUND : -NR_E_IO);
	}
	nr_buf_init(&b);
	nr_buf_append(&b, "", 0);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			nr_buf_done(&b);
			errno = saved;
			return nr_error_set(err, -NR_E_IO, "cannot read %s: %s", path, strerror(saved));
		}
		if (b.len + (size_t)n > max) {
			/* /dev/zero, a log file given by mistake: stop, do not grow until killed */
			close(fd);
			nr_buf_done(&b);
			return nr_error_set(err, -NR_E_TOOBIG, "%s is larger than %zu bytes", path, max);
		}
		nr_buf_append(&b, chunk, (size_t)n);
	}
	close(fd);
	if (b.oom) {
		nr_buf_done(&b);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	if (len)
		*len = b.len;
	*out = nr_buf_steal(&b);
	return 0;
}

int nr_read_line(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int nr_read_link_base(const char *path, char *buf, size_t size)
{
	char target[4096];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	const char *base;

	if (n < 0)
		return -1;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strlen(base) >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(buf, base);
	return 0;
}

int nr_mkdir_p(const char *path, unsigned mode, struct nr_error *err)
{
	char *p = strdup(path);
	int rc = 0;

	if (!p)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
			int e = errno;
			rc = nr_error_set(err, e == EACCES ? -NR_E_PERM : -NR_E_IO, "cannot make %s: %s", p, strerror(e));
			break;
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return rc;
}
