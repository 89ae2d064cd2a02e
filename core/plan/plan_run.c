/* The one command runner of plans: output streamed to a callback, chroot into root. */
#include <errno.h>
#include <fcntl.h>
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

int nr_plan_run(const struct nr_ctx *ctx, const char *const *argv, nr_plan_output_fn output,
		void *userdata, int *status, struct nr_error *err)
{
	const char *root = nr_ctx_get(ctx, "root");
	const char *standins = nr_ctx_get(ctx, "run.standins");
	char *real_root = NULL, *standin = NULL;
	int fds[2], wst = 0;
	pid_t pid;

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
	if (pipe2(fds, O_CLOEXEC) < 0) {
		free(real_root);
		free(standin);
		return nr_error_set(err, -NR_E_IO, "cannot make a pipe: %s", strerror(errno));
	}
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		free(real_root);
		free(standin);
		return nr_error_set(err, -NR_E_IO, "cannot start %s: %s", argv[0], strerror(e));
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(fds[1], 1);
		dup2(fds[1], 2);
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
		if (strcmp(real_root, "/") != 0)
			child_enter_root(real_root);
		execvp(argv[0], (char *const *)argv);
		child_fail("cannot run", argv[0]);
	}
	close(fds[1]);
	for (;;) {
		char chunk[4096 + 1];
		ssize_t n = read(fds[0], chunk, sizeof(chunk) - 1);
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
	*status = WIFEXITED(wst) ? WEXITSTATUS(wst) : WIFSIGNALED(wst) ? 128 + WTERMSIG(wst) : -1;
	free(real_root);
	free(standin);
	return 0;
}
