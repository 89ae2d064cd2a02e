/* The one writer of sysfs files at runtime (the single-GPU hand-off), and the seam the
 * unit tests put their fake kernel in. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/internal.h"
#include "neuron/ctx.h"

static nr_sysfs_writer_fn writer;
static void *writer_data;

void nr_sysfs_set_writer(nr_sysfs_writer_fn fn, void *data)
{
	writer = fn;
	writer_data = data;
}

static int write_file(const char *path, const char *value)
{
	size_t len = strlen(value);
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return errno;
	do
		n = write(fd, value, len);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len) {
		int e = n < 0 ? errno : EIO;
		close(fd);
		return e;
	}
	return close(fd) < 0 ? errno : 0;
}

int nr_sysfs_write_path(const char *path, const char *value, struct nr_error *err)
{
	int e = writer ? writer(writer_data, path, value) : write_file(path, value), code;

	if (!e)
		return 0;
	code = e == EACCES || e == EPERM ? -NR_E_PERM : e == ENOENT ? -NR_E_NOTFOUND : -NR_E_IO;
	return nr_error_set(err, code, "cannot write '%s' to %s: %s%s", strcmp(value, "\n") ? value : "\\n", path,
			    strerror(e), code == -NR_E_PERM ? " (run as root)" : "");
}

int nr_sysfs_write(const struct nr_ctx *ctx, const char *rel, const char *value, struct nr_error *err)
{
	char *path = nr_ctx_sys_path(ctx, rel);
	int rc;

	if (!path)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	rc = nr_sysfs_write_path(path, value, err);
	free(path);
	return rc;
}
