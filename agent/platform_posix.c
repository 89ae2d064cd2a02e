/* The system layer for Linux (and other POSIX systems): the virtio-serial port as a
 * character device, a unix socket for tests, stdio, and the small services main.c
 * needs (platform.h, part 1). The secure link's transport is core/guest/tls_fd.c. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "neuron/agent_proto.h"
#include "platform.h"

const char sys_default_port[] = "/dev/virtio-ports/" NR_AGENT_CHANNEL;
const char sys_default_certs[] = "/etc/neuron-agent";
const bool sys_listen_connections = true;
const char sys_desktop_name[] = "linux";
const char sys_desktop_help[] = "wl-copy/xclip, xrandr, posix_spawn, systemctl";

struct sys_stream {
	int rfd, wfd;
	bool owned; /* closed by sys_stream_close (not stdio's) */
};

struct sys_listener {
	int fd;
	char *path;
};

struct agent_platform *sys_desktop_new(void)
{
	return platform_linux_new();
}

void sys_init(void)
{
	signal(SIGPIPE, SIG_IGN);
#ifdef __GLIBC__
	/* A transfer's buffers (up to 64 MiB) come from mmap and go back to the system once
	 * freed. Left to itself, glibc raises this threshold to the size of the first such
	 * buffer freed and serves the next ones from its heap, which it keeps: an idle agent
	 * held tens of MiB after a few images (issue 20). */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
}

static int stream_new(int rfd, int wfd, bool owned, struct sys_stream **out, char *why)
{
	struct sys_stream *s = malloc(sizeof(*s));

	if (!s) {
		if (owned)
			close(rfd);
		snprintf(why, 256, "out of memory");
		return -1;
	}
	*s = (struct sys_stream){ .rfd = rfd, .wfd = wfd, .owned = owned };
	*out = s;
	return 0;
}

int sys_open_port(const char *path, struct sys_stream **out, char *why)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		snprintf(why, 256, "cannot open %.200s: %s", path, strerror(errno));
		return -1;
	}
	return stream_new(fd, fd, true, out, why);
}

int sys_open_stdio(struct sys_stream **out, char *why)
{
	return stream_new(0, 1, false, out, why);
}

int sys_stream_link(struct sys_stream *s, const struct nr_tls_creds *creds, struct nr_tls_link **out,
		    struct nr_error *err)
{
	return nr_tls_link_new(s->rfd, s->wfd, creds, out, err);
}

void sys_stream_close(struct sys_stream *s)
{
	if (!s)
		return;
	if (s->owned) {
		close(s->rfd);
		if (s->wfd != s->rfd)
			close(s->wfd);
	}
	free(s);
}

int sys_listen(const char *path, struct sys_listener **out, char *why)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sys_listener *l;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, 256, "socket path too long");
		return -1;
	}
	/* another agent listening there would lose its socket to the rename below, silently:
	 * a socket that takes a connection is live (one that refuses it is stale, replaced) */
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(why, 256, "%.200s exists and is not a socket", path);
			return -1;
		}
		strcpy(sa.sun_path, path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(fd);
			snprintf(why, 256, "another agent is listening on %.180s: stop it first, or listen elsewhere", path);
			return -1;
		}
		if (fd >= 0)
			close(fd);
	}
	/* bind a temporary name and rename it into place once listening, so that the path
	 * never exists without a listener behind it */
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.%d", path, (int)getpid()) >= (int)sizeof(sa.sun_path))
		strcpy(sa.sun_path, path);
	unlink(sa.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0 ||
	    (strcmp(sa.sun_path, path) != 0 && rename(sa.sun_path, path) < 0)) {
		snprintf(why, 256, "cannot listen on %.200s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	l = malloc(sizeof(*l));
	if (!l || !(l->path = strdup(path))) {
		free(l);
		close(fd);
		unlink(path);
		snprintf(why, 256, "out of memory");
		return -1;
	}
	l->fd = fd;
	*out = l;
	return 0;
}

int sys_accept(struct sys_listener *l, struct sys_stream **out, char *why)
{
	for (;;) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			return stream_new(fd, fd, true, out, why);
		if (errno != EINTR && errno != ECONNABORTED) {
			snprintf(why, 256, "accept: %s", strerror(errno));
			return -1;
		}
	}
}

void sys_listener_close(struct sys_listener *l)
{
	if (!l)
		return;
	close(l->fd);
	unlink(l->path);
	free(l->path);
	free(l);
}

void sys_hostname(char *out, size_t size)
{
	out[0] = '\0';
	if (gethostname(out, size - 1) < 0)
		out[0] = '\0';
	out[size - 1] = '\0';
}

long long sys_uptime_s(void)
{
	struct sysinfo si;

	return sysinfo(&si) == 0 ? si.uptime : 0;
}

void sys_reap_children(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		; /* launched programs that ended */
}

static void (*test_event)(int what);

static void on_test_signal(int sig)
{
	if (test_event)
		test_event(sig == SIGUSR1 ? PLATFORM_CLIPBOARD_CHANGED : PLATFORM_RESOLUTION_CHANGED);
}

void sys_on_test_events(void (*on)(int what))
{
	struct sigaction sa = { .sa_handler = on_test_signal };

	test_event = on;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
}
