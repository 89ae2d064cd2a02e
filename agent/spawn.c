/* posix_spawn helpers for the POSIX platforms. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "neuron/agent_proto.h"
#include "platform.h"

extern char **environ;

/* The program is started by a short-lived intermediate child, so that it is never our
 * child: a program that ends while no host is connected (the agent then waits for one and
 * reaps nothing) would otherwise stay a zombie of the agent until the next session. */
int spawn_detached(const char *const *argv, long long *pid, char *why)
{
	posix_spawnattr_t attr;
	posix_spawn_file_actions_t fa;
	long long msg[2] = { 0, 0 }; /* posix_spawnp's result, the program's pid */
	int fds[2], status;
	pid_t mid;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(why, 256, "pipe: %s", strerror(errno));
		return -1;
	}
	mid = fork();
	if (mid == 0) {
		pid_t p = -1;
		sigset_t none, all;
		posix_spawnattr_init(&attr);
		posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
		sigemptyset(&none);
		sigfillset(&all);
		posix_spawnattr_setsigmask(&attr, &none);
		posix_spawnattr_setsigdefault(&attr, &all);
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
		msg[0] = posix_spawnp(&p, argv[0], &fa, &attr, (char *const *)argv, environ);
		msg[1] = p;
		if (write(fds[1], msg, sizeof(msg)) != (ssize_t)sizeof(msg))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	if (mid < 0) {
		close(fds[0]);
		snprintf(why, 256, "fork: %s", strerror(errno));
		return -1;
	}
	ssize_t n;
	while ((n = read(fds[0], msg, sizeof(msg))) < 0 && errno == EINTR)
		;
	close(fds[0]);
	while (waitpid(mid, &status, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(msg)) {
		snprintf(why, 256, "cannot start %.200s", argv[0]);
		return -1;
	}
	if (msg[0] != 0) {
		snprintf(why, 256, "cannot start %.200s: %s", argv[0], strerror((int)msg[0]));
		return -1;
	}
	*pid = msg[1];
	return 0;
}

/* Kill a tool that overran its time, with whatever it started in its process group. */
static void kill_tool(pid_t p)
{
	kill(-p, SIGKILL);
	kill(p, SIGKILL);
	while (waitpid(p, NULL, 0) < 0 && errno == EINTR)
		;
}

int spawn_run(const char *const *argv, const void *input, size_t input_len, struct nr_buf *out, int timeout_ms,
	      char *why)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int in[2] = { -1, -1 }, outp[2] = { -1, -1 }, status, rc;
	const char *ip = input;
	long long deadline = nr_now_ms() + timeout_ms;
	pid_t p;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0) {
		snprintf(why, 256, "pipe: %s", strerror(errno));
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	if (out)
		posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	else /* a clipboard owner that forks keeps stdout open: do not wait for its end */
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	/* its own process group, so that a tool that hangs goes with what it started */
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	rc = posix_spawnp(&p, argv[0], &fa, &attr, (char *const *)argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(outp[1]);
	in[0] = outp[1] = -1;
	if (rc != 0) {
		snprintf(why, 256, "cannot start %.200s: %s", argv[0], strerror(rc));
		goto fail;
	}
	if (!input_len) {
		close(in[1]);
		in[1] = -1;
	} else { /* a tool that stops reading must not block us in write() */
		fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);
	}
	/* Feed stdin and drain stdout together: a big clipboard would fill one pipe. */
	if (!out) {
		close(outp[0]);
		outp[0] = -1;
	}
	while (outp[0] >= 0 || in[1] >= 0) {
		struct pollfd pf[2] = { { .fd = outp[0], .events = POLLIN }, { .fd = in[1], .events = POLLOUT } };
		long long left = deadline - nr_now_ms();
		int n = left > 0 ? poll(pf, 2, (int)left) : 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto timeout;
		if (in[1] >= 0 && (pf[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(in[1], ip, input_len);
			if (w > 0) {
				ip += w;
				input_len -= (size_t)w;
			}
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || input_len == 0) {
				close(in[1]);
				in[1] = -1;
			}
		}
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[65536];
			ssize_t r = read(outp[0], buf, sizeof(buf));
			if (r > 0 && out) {
				nr_buf_append(out, buf, (size_t)r);
				/* nothing the agent reads may pass a transfer's 64 MiB */
				if (out->len > NR_AGENT_TRANSFER_MAX) {
					kill_tool(p);
					snprintf(why, 256, "%.200s wrote more than 64 MiB", argv[0]);
					goto fail;
				}
			}
			if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
				close(outp[0]);
				outp[0] = -1;
			}
		}
	}
	/* its pipes are closed; it may still hang before exiting */
	for (;;) {
		pid_t w = waitpid(p, &status, WNOHANG);
		if (w == p)
			break;
		if (w < 0 && errno != EINTR) {
			snprintf(why, 256, "%.200s: %s", argv[0], strerror(errno));
			return -1;
		}
		if (nr_now_ms() >= deadline)
			goto timeout;
		poll(NULL, 0, 5);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
timeout:
	kill_tool(p);
	snprintf(why, 256, "%.200s did not finish within %d ms", argv[0], timeout_ms);
	rc = -2;
	goto close_fds;
fail:
	rc = -1;
close_fds:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (outp[i] >= 0)
			close(outp[i]);
	}
	return rc;
}

bool spawn_have(const char *name)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, name);
		if (access(buf, X_OK) == 0)
			return true;
		path += n;
		if (*path)
			path++;
	}
	return false;
}
