/* Running a desktop tool of this machine (xclip, wl-paste, xrandr) with its input and
 * output in memory, bounded in time: the guest agent's Linux platform and the host's
 * clipboard (neuron/desktop.h) share it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "neuron/clock.h"
#include "neuron/tool.h"

extern char **environ;

/* Kill a tool that overran its time, with whatever it started in its process group. */
static void kill_tool(pid_t p)
{
	kill(-p, SIGKILL);
	kill(p, SIGKILL);
	while (waitpid(p, NULL, 0) < 0 && errno == EINTR)
		;
}

int nr_tool_run(const char *const *argv, const void *input, size_t input_len, struct nr_buf *out, int timeout_ms,
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
				if (out->len > NR_TOOL_OUTPUT_MAX) {
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

bool nr_tool_have(const char *name)
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
