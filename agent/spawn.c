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

#include "platform.h"

extern char **environ;

int spawn_detached(const char *const *argv, long long *pid, char *why)
{
	posix_spawnattr_t attr;
	posix_spawn_file_actions_t fa;
	pid_t p;
	int rc;

	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&p, argv[0], &fa, &attr, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		snprintf(why, 256, "cannot start %.200s: %s", argv[0], strerror(rc));
		return -1;
	}
	*pid = p;
	return 0;
}

int spawn_run(const char *const *argv, const void *input, size_t input_len, struct nr_buf *out, char *why)
{
	posix_spawn_file_actions_t fa;
	int in[2] = { -1, -1 }, outp[2] = { -1, -1 }, status, rc;
	const char *ip = input;
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
	rc = posix_spawnp(&p, argv[0], &fa, NULL, (char *const *)argv, environ);
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
	}
	/* Feed stdin and drain stdout together: a big clipboard would fill one pipe. */
	if (!out) {
		close(outp[0]);
		outp[0] = -1;
	}
	while (outp[0] >= 0 || in[1] >= 0) {
		struct pollfd pf[2] = { { .fd = outp[0], .events = POLLIN }, { .fd = in[1], .events = POLLOUT } };
		int n = poll(pf, 2, 10000);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			kill(p, SIGKILL);
			snprintf(why, 256, "%.200s did not finish", argv[0]);
			waitpid(p, NULL, 0);
			goto fail;
		}
		if (in[1] >= 0 && (pf[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(in[1], ip, input_len);
			if (w > 0) {
				ip += w;
				input_len -= (size_t)w;
			}
			if (w < 0 || input_len == 0) {
				close(in[1]);
				in[1] = -1;
			}
		}
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[65536];
			ssize_t r = read(outp[0], buf, sizeof(buf));
			if (r > 0 && out)
				nr_buf_append(out, buf, (size_t)r);
			if (r == 0) {
				close(outp[0]);
				outp[0] = -1;
			}
		}
	}
	while (waitpid(p, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (outp[i] >= 0)
			close(outp[i]);
	}
	return -1;
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
