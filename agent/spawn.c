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
