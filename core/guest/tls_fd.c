/* The POSIX half of the agent channel's secure link (core/guest/tls.c is portable): the
 * file-descriptor transport, and whether a key file is private (its mode). The fds are
 * non-blocking; wait is poll with a deadline; a write never raises SIGPIPE (send with
 * MSG_NOSIGNAL, or write for what is not a socket: a virtio-serial port, a pipe). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "neuron/tls.h"

int nr_tls_key_private(FILE *f, const char *path, struct nr_error *err)
{
	struct stat st;

	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
		return nr_error_set(err, -NR_E_PERM, "%s can be read or written by others (mode %04o): a private key "
				    "must be 0600 (chmod 600 %s)", path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

struct fd_stream {
	int rfd, wfd;
};

static long fd_read(void *ctx, void *buf, size_t size)
{
	struct fd_stream *s = ctx;

	for (;;) {
		ssize_t n = read(s->rfd, buf, size);
		if (n >= 0)
			return (long)n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return NR_TLS_IO_AGAIN;
		return errno == ECONNRESET ? NR_TLS_IO_CLOSED : NR_TLS_IO_ERROR;
	}
}

static long fd_write(void *ctx, const void *buf, size_t size)
{
	struct fd_stream *s = ctx;

	for (;;) {
		ssize_t n = send(s->wfd, buf, size, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(s->wfd, buf, size);
		if (n >= 0)
			return (long)n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return NR_TLS_IO_AGAIN;
		return errno == EPIPE || errno == ECONNRESET ? NR_TLS_IO_CLOSED : NR_TLS_IO_ERROR;
	}
}

static int fd_wait(void *ctx, int what, long long deadline)
{
	struct fd_stream *s = ctx;
	struct pollfd p = { .fd = what == NR_TLS_IO_READABLE ? s->rfd : s->wfd,
			    .events = what == NR_TLS_IO_READABLE ? POLLIN : POLLOUT };

	for (;;) {
		long long left = deadline < 0 ? -1 : deadline - nr_now_ms();
		int r;

		if (deadline >= 0 && left < 0)
			left = 0;
		r = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		if (r > 0)
			return 1;
		if (r == 0) {
			if (deadline >= 0 && nr_now_ms() >= deadline)
				return 0;
			continue;
		}
		if (errno != EINTR)
			return -1;
	}
}

static void fd_done(void *ctx)
{
	free(ctx); /* the fds are borrowed */
}

int nr_tls_link_new(int rfd, int wfd, const struct nr_tls_creds *creds, struct nr_tls_link **out,
		    struct nr_error *err)
{
	struct fd_stream *s = malloc(sizeof(*s));
	struct nr_tls_io io = { .ctx = s, .read = fd_read, .write = fd_write, .wait = fd_wait, .done = fd_done };

	*out = NULL;
	if (!s)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	s->rfd = rfd;
	s->wfd = wfd;
	fcntl(rfd, F_SETFL, fcntl(rfd, F_GETFL) | O_NONBLOCK);
	if (wfd != rfd)
		fcntl(wfd, F_SETFL, fcntl(wfd, F_GETFL) | O_NONBLOCK);
	return nr_tls_link_new_io(&io, creds, out, err);
}
