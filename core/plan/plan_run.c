/* The one command runner of core: output streamed to a callback; plan commands chrooted
 * into root, host tools (xorriso for the guest-tools media) on this machine, bounded. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/internal.h"
#include "neuron/plan.h"

#define SAFE_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* In the child: report on the pipe (the parent's callback shows it), then leave. */
static void child_fail(const char *what, const char *arg)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "neuron: %s %s: %s\n", what, arg, strerror(errno));

	if (n > 0 && write(2, msg, (size_t)n) < 0)
		_exit(127);
	_exit(127);
}

/* A private mount namespace with the kernel's file systems bound, then chroot. */
static void child_enter_root(const char *root)
{
	static const char *const binds[] = { "proc", "sys", "dev" };
	char path[4096];

	if (unshare(CLONE_NEWNS) < 0)
		child_fail("cannot make a mount namespace for", root);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		child_fail("cannot make mounts private for", root);
	for (size_t i = 0; i < sizeof(binds) / sizeof(binds[0]); i++) {
		char target[4096];
		struct stat st;
		/* an installed system has these mount points; one without them is not given
		 * any (making them would leave a trace in the target) */
		snprintf(target, sizeof(target), "%s/%s", root, binds[i]);
		if (lstat(target, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		snprintf(path, sizeof(path), "/%s", binds[i]);
		if (mount(path, target, NULL, MS_BIND | MS_REC, NULL) < 0)
			child_fail("cannot bind into the root:", path);
	}
	if (chroot(root) < 0)
		child_fail("cannot chroot into", root);
	if (chdir("/") < 0)
		child_fail("cannot enter", root);
}

/* Start argv (from standin instead when given, chrooted into real_root unless NULL or
 * "/"), its output on a pipe; bounded: in a process group of its own, killed as a group
 * once timeout_ms (0: no bound) has passed. */
static int run(const char *const *argv, const char *real_root, const char *standin, unsigned timeout_ms,
	       nr_plan_output_fn output, void *userdata, int *status, struct nr_error *err)
{
	long long deadline = timeout_ms ? nr_now_ms() + timeout_ms : 0;
	bool timed_out = false;
	int fds[2], wst = 0;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return nr_error_set(err, -NR_E_IO, "cannot make a pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		return nr_error_set(err, -NR_E_IO, "cannot start %s: %s", argv[0], strerror(e));
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		if (timeout_ms)
			setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		setenv("PATH", SAFE_PATH, 1);
		setenv("LC_ALL", "C", 1);
		if (standin) {
			setenv("NEURON_ROOT", real_root, 1);
			if (chdir(real_root) < 0)
				child_fail("cannot enter", real_root);
			execv(standin, (char *const *)argv);
			child_fail("cannot run", standin);
		}
		if (real_root && strcmp(real_root, "/") != 0)
			child_enter_root(real_root);
		execvp(argv[0], (char *const *)argv);
		child_fail("cannot run", argv[0]);
	}
	if (timeout_ms)
		setpgid(pid, pid); /* also here: no race with the child's own call */
	close(fds[1]);
	for (;;) {
		char chunk[4096 + 1];
		ssize_t n;
		if (deadline) {
			struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
			long long left = deadline - nr_now_ms();
			int r = left > 0 ? poll(&pfd, 1, (int)left) : 0;
			if (r < 0 && errno == EINTR)
				continue;
			if (r == 0) {
				timed_out = true;
				kill(-pid, SIGKILL);
				break;
			}
		}
		n = read(fds[0], chunk, sizeof(chunk) - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		chunk[n] = '\0';
		/* NUL bytes in the output would cut the text: show them as '?' */
		for (ssize_t i = 0; i < n; i++)
			if (chunk[i] == '\0')
				chunk[i] = '?';
		if (output)
			output(userdata, NR_PLAN_EV_OUTPUT, chunk);
	}
	close(fds[0]);
	while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
		;
	if (timed_out)
		kill(-pid, SIGKILL); /* what it left behind in its group */
	*status = WIFEXITED(wst) ? WEXITSTATUS(wst) : WIFSIGNALED(wst) ? 128 + WTERMSIG(wst) : -1;
	if (timed_out)
		return nr_error_set(err, -NR_E_TIMEOUT, "%s did not finish within %u s: stopped", argv[0],
				    (timeout_ms + 999) / 1000);
	return 0;
}

int nr_plan_run(const struct nr_ctx *ctx, const char *const *argv, nr_plan_output_fn output,
		void *userdata, int *status, struct nr_error *err)
{
	const char *root = nr_ctx_get(ctx, "root");
	const char *standins = nr_ctx_get(ctx, "run.standins");
	char *real_root = NULL, *standin = NULL;
	int rc;

	*status = -1;
	if (!argv || !argv[0])
		return nr_error_set(err, -NR_E_INVAL, "no command to run");
	real_root = realpath(root, NULL);
	if (!real_root)
		return nr_error_set(err, -NR_E_NOTFOUND, "target root %s: %s", root, strerror(errno));
	if (standins && standins[0]) {
		const char *base = strrchr(argv[0], '/');
		standin = nr_path_join(standins, base ? base + 1 : argv[0]);
		if (!standin) {
			free(real_root);
			return nr_error_set(err, -NR_E_NOMEM, NULL);
		}
	}
	rc = run(argv, real_root, standin, 0, output, userdata, status, err);
	free(real_root);
	free(standin);
	return rc;
}

int nr_plan_run_host(const char *const *argv, unsigned timeout_ms, nr_plan_output_fn output, void *userdata,
		     int *status, struct nr_error *err)
{
	*status = -1;
	if (!argv || !argv[0])
		return nr_error_set(err, -NR_E_INVAL, "no command to run");
	return run(argv, NULL, NULL, timeout_ms, output, userdata, status, err);
}
