/* The Looking Glass client, supervised.
 *
 * One supervisor process per VM runs the client with its output in a log file,
 * restarts it after a crash with a doubling backoff, and gives up after repeated
 * quick crashes. Other processes find it through files in the runtime directory:
 *   lg-VM.pid    the supervisor's pid; the supervisor holds flock(LOCK_EX) on it for
 *                its whole life, so a pid file nobody locks is stale (pid reuse
 *                cannot fool the check)
 *   lg-VM.state  key=value lines the supervisor rewrites atomically at each change
 *   lg-VM.log    the client's stdout and stderr, and the supervisor's own lines
 * The client gets PR_SET_PDEATHSIG(SIGKILL), so it never outlives its supervisor.
 *
 * The supervisor hears SIGCHLD/SIGTERM/SIGINT/SIGHUP through handlers that wake a poll
 * (see sup_signal: a process with other threads may get them in any thread). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/internal.h"
#include "neuron/domain.h"
#include "neuron/lg.h"
#include "neuron/plan.h"

#define BACKOFF_CAP_MS 60000u
#define LOG_TAIL_LINES 10

struct sup_paths {
	char *dir, *pid, *state, *log;
};

static bool param_yes(const struct nr_ctx *ctx, const char *name)
{
	const char *v = nr_ctx_get(ctx, name);

	return v && (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
		     strcmp(v, "on") == 0);
}

static unsigned param_uint(const struct nr_ctx *ctx, const char *name, unsigned def)
{
	const char *v = nr_ctx_get(ctx, name);
	char *end;
	unsigned long n;

	if (!v || !*v)
		return def;
	n = strtoul(v, &end, 10);
	return *end || n > 3600000ul ? def : (unsigned)n;
}

void nr_lg_client_opts_defaults(const struct nr_ctx *ctx, struct nr_lg_client_opts *opts)
{
	const char *esc = nr_ctx_get(ctx, "lg.escape");

	opts->fullscreen = param_yes(ctx, "lg.fullscreen");
	opts->escape_key = esc && *esc ? esc : NULL;
	opts->no_spice = !param_yes(ctx, "lg.spice");
}

bool nr_lg_spice_clipboard(const struct nr_ctx *ctx, const struct nr_domain_info *info)
{
	return info && info->spice && param_yes(ctx, "lg.spice");
}

/* File names carry the VM name; keep them to one safe path component. */
static int vm_file_name(const char *vm, char *out, size_t size, struct nr_error *err)
{
	size_t n = strlen(vm);

	if (n == 0 || n + 1 > size || strcmp(vm, ".") == 0 || strcmp(vm, "..") == 0)
		return nr_error_set(err, -NR_E_INVAL, "'%s' is not a usable VM name", vm);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)vm[i];
		out[i] = (c == '/' || c < 0x20 || c == 0x7f) ? '_' : (char)c;
	}
	out[n] = '\0';
	return 0;
}

static void paths_done(struct sup_paths *p)
{
	free(p->dir);
	free(p->pid);
	free(p->state);
	free(p->log);
	memset(p, 0, sizeof(*p));
}

static int paths_init(const struct nr_ctx *ctx, const char *vm, struct sup_paths *p,
		      struct nr_error *err)
{
	char name[256], file[300];
	int rc;

	memset(p, 0, sizeof(*p));
	rc = vm_file_name(vm, name, sizeof(name), err);
	if (rc < 0)
		return rc;
	p->dir = nr_ctx_runtime_dir(ctx);
	if (!p->dir)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	snprintf(file, sizeof(file), "lg-%s.pid", name);
	p->pid = nr_path_join(p->dir, file);
	snprintf(file, sizeof(file), "lg-%s.state", name);
	p->state = nr_path_join(p->dir, file);
	snprintf(file, sizeof(file), "lg-%s.log", name);
	p->log = nr_path_join(p->dir, file);
	if (!p->pid || !p->state || !p->log) {
		paths_done(p);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	return 0;
}

/* ---- the session id seen by the last status ------------------------------------------ */

void nr_lg_session_remember(const struct nr_ctx *ctx, const char *shm_path, uint32_t session,
			    uint32_t *previous, bool *had_previous)
{
	char *dir = nr_ctx_runtime_dir(ctx), *path = NULL, *tmp = NULL, line[64];
	uint64_t h = 1469598103934665603ull; /* FNV-1a of the shm path names the note */
	FILE *f;

	*had_previous = false;
	*previous = 0;
	if (!dir)
		return;
	for (const unsigned char *p = (const unsigned char *)shm_path; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	if (asprintf(&path, "%s/lg-session-%016llx", dir, (unsigned long long)h) < 0)
		path = NULL;
	if (path && nr_read_line(path, line, sizeof(line)) == 0) {
		char *end;
		unsigned long v = strtoul(line, &end, 10);
		if (end != line && *end == '\0') {
			*previous = (uint32_t)v;
			*had_previous = true;
		}
	}
	if (path && nr_mkdir_p(dir, 0700, NULL) == 0 && asprintf(&tmp, "%s.tmp", path) >= 0) {
		f = fopen(tmp, "we");
		if (f) {
			fprintf(f, "%u\n", session);
			if (fclose(f) == 0)
				rename(tmp, path);
			else
				unlink(tmp);
		}
	}
	free(tmp);
	free(path);
	free(dir);
}

/* ---- finding and running the client ----------------------------------------- */

int nr_lg_graphical_session(struct nr_error *err)
{
	const char *w = getenv("WAYLAND_DISPLAY"), *x = getenv("DISPLAY");

	if ((w && *w) || (x && *x))
		return 0;
	return nr_error_set(err, -NR_E_LG_NOSESSION,
			    "no graphical session here (neither WAYLAND_DISPLAY nor DISPLAY is set: "
			    "a TTY or SSH login): start the client from the desktop session, where "
			    "the VM's picture can be shown");
}

int nr_lg_client_find(const struct nr_ctx *ctx, const char *client, char **path, struct nr_error *err)
{
	const char *want = client && *client ? client : nr_ctx_get(ctx, "lg.client");
	const char *env = getenv("PATH");
	char *dirs, *save = NULL;

	*path = NULL;
	if (want && *want) {
		if (strchr(want, '/')) {
			if (access(want, X_OK) == 0) {
				*path = strdup(want);
				return *path ? 0 : nr_error_set(err, -NR_E_NOMEM, NULL);
			}
			return nr_error_set(err, -NR_E_LG_NOCLIENT, "the Looking Glass client %s cannot be "
					    "run: %s", want, strerror(errno));
		}
	} else {
		want = "looking-glass-client";
	}
	dirs = strdup(env && *env ? env : "/usr/local/bin:/usr/bin:/bin");
	if (!dirs)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char *p = nr_path_join(*d ? d : ".", want);
		struct stat st;

		if (p && stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0) {
			*path = p;
			free(dirs);
			return 0;
		}
		free(p);
	}
	free(dirs);
	return nr_error_set(err, -NR_E_LG_NOCLIENT,
			    "%s is not on PATH: install the Looking Glass client matching the host "
			    "application in the guest (Arch: the looking-glass AUR package; others: build "
			    "it from looking-glass.io), or set its path with --param lg.client=PATH", want);
}

char **nr_lg_client_argv(const char *binary, const struct nr_lg_client_opts *opts)
{
	char *v[64];
	size_t n = 0, k = 0;
	char **argv;

	v[n++] = strdup(binary);
	v[n++] = strdup("-f");
	v[n++] = strdup(opts->shm_path);
	if (opts->fullscreen)
		v[n++] = strdup("win:fullScreen=yes");
	if (opts->escape_key && *opts->escape_key) {
		char *s = NULL;
		if (asprintf(&s, "input:escapeKey=%s", opts->escape_key) < 0)
			s = NULL;
		v[n++] = s;
	}
	if (opts->no_spice)
		v[n++] = strdup("spice:enable=no");
	for (size_t i = 0; opts->extra && opts->extra[i] && n < 63; i++)
		v[n++] = strdup(opts->extra[i]);
	argv = calloc(n + 1, sizeof(*argv));
	for (k = 0; k < n; k++)
		if (!v[k])
			break;
	if (!argv || k < n) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(argv);
		return NULL;
	}
	memcpy(argv, v, n * sizeof(*argv));
	return argv;
}

void nr_lg_argv_free(char **argv)
{
	if (!argv)
		return;
	for (size_t i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}

/* ---- the state file ------------------------------------------------------------ */

struct sup_state {
	const char *state;
	long supervisor_pid, client_pid;
	unsigned restarts;
	const char *shm, *log;
	char last_exit[128];
};

static void write_state(const struct sup_paths *p, const struct sup_state *s)
{
	char *tmp = NULL;
	FILE *f;

	if (asprintf(&tmp, "%s.tmp", p->state) < 0)
		return;
	f = fopen(tmp, "we");
	if (f) {
		fprintf(f, "state=%s\nsupervisor_pid=%ld\nclient_pid=%ld\nrestarts=%u\nshm=%s\nlog=%s\n"
			   "last_exit=%s\n", s->state, s->supervisor_pid, s->client_pid, s->restarts,
			s->shm, s->log, s->last_exit);
		if (fclose(f) == 0)
			rename(tmp, p->state);
		else
			unlink(tmp);
	}
	free(tmp);
}

static void log_line(const struct sup_paths *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(const struct sup_paths *p, const char *fmt, ...)
{
	FILE *f = fopen(p->log, "ae");
	va_list ap;

	if (!f)
		return;
	fputs("[neuron] ", f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fclose(f);
}

/* The last n lines of a file (malloc'd), NULL when unreadable. */
static char *tail_lines(const char *path, int n)
{
	char *text, *start;
	size_t len;
	int seen = 0;

	if (nr_read_file(path, &text, &len, NULL) < 0)
		return NULL;
	while (len && text[len - 1] == '\n')
		text[--len] = '\0';
	start = text + len;
	while (start > text) {
		if (start[-1] == '\n' && ++seen == n)
			break;
		start--;
	}
	memmove(text, start, strlen(start) + 1);
	return text;
}

/* ---- the supervisor --------------------------------------------------------------- */

/* The supervisor's signals (the client's SIGCHLD, a stop request) reach it through
 * handlers and a pipe, not by blocking them and waiting: a process with other threads
 * (libvirt's and GLib's) gets a process-wide signal in whichever thread does not block
 * it, where a blocked-and-waited SIGCHLD was lost (the supervisor never learnt that the
 * client ended) and a SIGTERM killed the process without stopping the client. A handler
 * runs in any thread; it notes a stop request and wakes the poll below. */
static int sup_wake[2] = { -1, -1 };
static volatile sig_atomic_t sup_stop;

static void sup_signal(int sig)
{
	int e = errno;

	if (sig != SIGCHLD)
		sup_stop = sig;
	(void)!write(sup_wake[1], "", 1);
	errno = e;
}

static const int sup_signals[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP };
#define SUP_NSIG (sizeof(sup_signals) / sizeof(sup_signals[0]))

static int sup_signals_on(struct sigaction *old, sigset_t *old_mask)
{
	struct sigaction sa = { .sa_handler = sup_signal, .sa_flags = SA_RESTART | SA_NOCLDSTOP };
	sigset_t set;

	if (pipe2(sup_wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	sup_stop = 0;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&set);
	for (size_t i = 0; i < SUP_NSIG; i++) {
		sigaction(sup_signals[i], &sa, &old[i]);
		sigaddset(&set, sup_signals[i]);
	}
	pthread_sigmask(SIG_UNBLOCK, &set, old_mask);
	return 0;
}

static void sup_signals_off(const struct sigaction *old, const sigset_t *old_mask)
{
	for (size_t i = 0; i < SUP_NSIG; i++)
		sigaction(sup_signals[i], &old[i], NULL);
	pthread_sigmask(SIG_SETMASK, old_mask, NULL);
	close(sup_wake[0]);
	close(sup_wake[1]);
	sup_wake[0] = sup_wake[1] = -1;
}

/* Wait up to ms for a signal of the supervisor's; the stop signal when one came, else 0.
 * Callers check the client with waitpid after each return (a wake-up may be for it). */
static int wait_signal(long ms)
{
	struct pollfd pf = { .fd = sup_wake[0], .events = POLLIN };
	char buf[64];

	if (!sup_stop)
		(void)poll(&pf, 1, ms < 0 ? -1 : (int)ms);
	while (read(sup_wake[0], buf, sizeof(buf)) > 0)
		;
	return sup_stop;
}

/* Start the client: its output appended to the log, its signals as the caller's were. */
static pid_t spawn_client(char **argv, const char *log, const sigset_t *old_mask, int *exec_errno)
{
	int pfd[2], e = 0;
	pid_t pid;
	ssize_t n;

	*exec_errno = 0;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		sigprocmask(SIG_SETMASK, old_mask, NULL);
		if (nul >= 0)
			dup2(nul, 0);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		e = errno;
		if (write(pfd[1], &e, sizeof(e)) < 0)
			e = 0;
		_exit(127);
	}
	close(pfd[1]);
	do
		n = read(pfd[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n == (ssize_t)sizeof(e)) {
		*exec_errno = e;
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

static void describe_exit(int status, uint64_t ran_ms, char *buf, size_t size)
{
	if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d (%s) after %.1f s", WTERMSIG(status),
			 strsignal(WTERMSIG(status)), ran_ms / 1000.0);
	else
		snprintf(buf, size, "exit status %d after %.1f s", WEXITSTATUS(status), ran_ms / 1000.0);
}

/* Stop the client: SIGTERM, then SIGKILL after stop_ms. */
static void end_client(pid_t pid, unsigned stop_ms, const struct sup_paths *p)
{
	uint64_t until = (uint64_t)nr_now_ms() + stop_ms;
	int status;

	kill(pid, SIGTERM);
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		uint64_t now;

		if (r == pid || (r < 0 && errno == ECHILD))
			return;
		now = (uint64_t)nr_now_ms();
		if (now >= until)
			break;
		wait_signal((long)(until - now < 50 ? until - now : 50));
	}
	log_line(p, "the client ignored SIGTERM for %u ms; killing it", stop_ms);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

/* The loop. lock_fd holds the pid file's lock; report_fd (or -1) learns the first
 * client's pid ("ok PID") or why none started ("err CODE MESSAGE"). */
static int supervise(const struct nr_ctx *ctx, const struct nr_lg_client_opts *opts,
		     const struct sup_paths *p, int report_fd, struct nr_error *err)
{
	unsigned backoff0 = param_uint(ctx, "lg.backoff_ms", 1000);
	unsigned give_up = param_uint(ctx, "lg.give_up", 5);
	unsigned quick_ms = param_uint(ctx, "lg.quick_ms", 10000);
	unsigned stop_ms = param_uint(ctx, "lg.stop_ms", 3000);
	unsigned backoff = backoff0, quick = 0;
	struct sup_state st = { .state = "starting", .supervisor_pid = (long)getpid(),
				.shm = opts->shm_path, .log = p->log };
	struct sigaction old_sa[SUP_NSIG];
	sigset_t old;
	char *binary = NULL, **argv = NULL;
	int rc = 0;

	if (give_up == 0)
		give_up = 1;
	if (sup_signals_on(old_sa, &old) < 0)
		return nr_error_set(err, -NR_E_IO, "pipe: %s", strerror(errno));

	rc = nr_lg_client_find(ctx, opts->client, &binary, err);
	if (rc == 0) {
		argv = nr_lg_client_argv(binary, opts);
		if (!argv)
			rc = nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	if (rc < 0)
		goto report;

	for (;;) {
		uint64_t started;
		int status = 0, sig, exec_errno;
		pid_t pid;

		{
			struct nr_buf line;

			nr_buf_init(&line);
			for (size_t i = 0; argv[i]; i++)
				nr_buf_printf(&line, "%s%s", i ? " " : "", argv[i]);
			log_line(p, "starting %s", line.data ? line.data : argv[0]);
			nr_buf_done(&line);
		}
		pid = spawn_client(argv, p->log, &old, &exec_errno);
		if (pid < 0) {
			rc = nr_error_set(err, -NR_E_LG_NOCLIENT, "cannot run %s: %s", argv[0],
					  strerror(exec_errno ? exec_errno : errno));
			log_line(p, "%s", err ? err->msg : "cannot run the client");
			break;
		}
		started = (uint64_t)nr_now_ms();
		st.state = "running";
		st.client_pid = pid;
		write_state(p, &st);
		if (report_fd >= 0) {
			dprintf(report_fd, "ok %ld\n", (long)pid);
			close(report_fd);
			report_fd = -1;
		}
		/* Wait for the client to end or for someone to stop us. */
		for (;;) {
			pid_t r;

			sig = wait_signal(1000);
			if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
				log_line(p, "stop requested (signal %d); ending the client", sig);
				end_client(pid, stop_ms, p);
				st.state = "stopped";
				st.client_pid = 0;
				write_state(p, &st);
				goto done;
			}
			r = waitpid(pid, &status, WNOHANG);
			if (r == pid)
				break;
		}
		uint64_t ran = (uint64_t)nr_now_ms() - started;
		describe_exit(status, ran, st.last_exit, sizeof(st.last_exit));
		st.client_pid = 0;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			log_line(p, "the client exited normally (%s); not restarting it", st.last_exit);
			st.state = "stopped";
			write_state(p, &st);
			goto done;
		}
		if (ran < quick_ms) {
			quick++;
		} else {
			quick = 1;
			backoff = backoff0;
		}
		if (quick >= give_up) {
			log_line(p, "the client crashed (%s), %u times in a row within %u ms of starting: "
				    "giving up", st.last_exit, quick, quick_ms);
			st.state = "gave-up";
			write_state(p, &st);
			rc = nr_error_set(err, -NR_E_LG_GAVEUP,
					  "the Looking Glass client crashed %u times in a row (last: %s); "
					  "see %s", quick, st.last_exit, p->log);
			goto done;
		}
		log_line(p, "the client crashed (%s); restarting it in %u ms", st.last_exit, backoff);
		st.state = "backoff";
		write_state(p, &st);
		/* Sleep out the backoff, but a stop request ends it at once. */
		{
			uint64_t until = (uint64_t)nr_now_ms() + backoff;
			uint64_t now;

			while ((now = (uint64_t)nr_now_ms()) < until) {
				sig = wait_signal((long)(until - now));
				if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
					log_line(p, "stop requested during the backoff");
					st.state = "stopped";
					write_state(p, &st);
					goto done;
				}
			}
		}
		backoff = backoff * 2 > BACKOFF_CAP_MS ? BACKOFF_CAP_MS : backoff * 2;
		st.restarts++;
	}
report:
	if (report_fd >= 0 && rc < 0) {
		dprintf(report_fd, "err %d %s\n", rc, err ? err->msg : nr_strerror(rc));
		close(report_fd);
		report_fd = -1;
	}
done:
	if (report_fd >= 0)
		close(report_fd);
	nr_lg_argv_free(argv);
	free(binary);
	/* give the caller its signal handlers and mask back */
	sup_signals_off(old_sa, &old);
	return rc;
}

/* Open the pid file and take its lock. The path may be unlinked by a supervisor that
 * is ending just now, so retry until the locked file is the one at the path. */
static int lock_pid_file(const struct sup_paths *p, int *fd_out, struct nr_error *err)
{
	for (int tries = 0; tries < 50; tries++) {
		struct stat a, b;
		int fd = open(p->pid, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

		if (fd < 0)
			return nr_error_set(err, -NR_E_IO, "cannot open %s: %s", p->pid, strerror(errno));
		if (flock(fd, LOCK_EX | LOCK_NB) < 0 && tries < 10) {
			/* maybe a status or stop probing a stale file this very moment */
			close(fd);
			nr_sleep_ms(10);
			continue;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			char buf[32] = "";
			ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

			close(fd);
			if (n > 0)
				buf[n] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			return nr_error_set(err, -NR_E_EXISTS,
					    "a Looking Glass client is already supervised for this VM "
					    "(supervisor pid %s): use 'lg restart' or 'lg stop'", buf);
		}
		if (fstat(fd, &a) == 0 && stat(p->pid, &b) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev) {
			*fd_out = fd;
			return 0;
		}
		close(fd);
	}
	return nr_error_set(err, -NR_E_BUSY, "cannot take the lock on %s", p->pid);
}

static void write_pid(int fd, long pid)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", pid);

	if (ftruncate(fd, 0) == 0)
		(void)!pwrite(fd, buf, (size_t)n, 0);
}

static void release(const struct sup_paths *p, int lock_fd, bool keep_state)
{
	unlink(p->pid);
	if (!keep_state)
		unlink(p->state);
	close(lock_fd);
}

static int prepare(const struct nr_ctx *ctx, const struct nr_lg_client_opts *opts, struct sup_paths *p,
		   int *lock_fd, struct nr_error *err)
{
	int rc;

	if (!opts->vm || !opts->shm_path)
		return nr_error_set(err, -NR_E_INVAL, "a VM name and a shared memory path are needed");
	rc = paths_init(ctx, opts->vm, p, err);
	if (rc < 0)
		return rc;
	rc = nr_mkdir_p(p->dir, 0700, err);
	if (rc == 0)
		rc = lock_pid_file(p, lock_fd, err);
	if (rc < 0) {
		paths_done(p);
		return rc;
	}
	unlink(p->state); /* an old "gave-up" is history now */
	return 0;
}

int nr_lg_supervise(const struct nr_ctx *ctx, const struct nr_lg_client_opts *opts,
		    struct nr_error *err)
{
	struct sup_paths p;
	int lock_fd, rc;

	rc = prepare(ctx, opts, &p, &lock_fd, err);
	if (rc < 0)
		return rc;
	write_pid(lock_fd, (long)getpid());
	rc = supervise(ctx, opts, &p, -1, err);
	release(&p, lock_fd, rc == -NR_E_LG_GAVEUP);
	paths_done(&p);
	return rc;
}

int nr_lg_client_start(const struct nr_ctx *ctx, const struct nr_lg_client_opts *opts,
		       long *client_pid, struct nr_error *err)
{
	struct sup_paths p;
	int lock_fd, rc, pfd[2];
	pid_t first;
	char buf[1200];
	ssize_t n;
	size_t got = 0;

	*client_pid = 0;
	rc = prepare(ctx, opts, &p, &lock_fd, err);
	if (rc < 0)
		return rc;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		rc = nr_error_set(err, -NR_E_IO, "pipe: %s", strerror(errno));
		goto fail;
	}
	fflush(NULL);
	first = fork();
	if (first < 0) {
		rc = nr_error_set(err, -NR_E_IO, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		goto fail;
	}
	if (first == 0) {
		/* Detach: a new session, then a grandchild nobody has to reap. */
		pid_t second;

		close(pfd[0]);
		signal(SIGPIPE, SIG_IGN); /* the starter may be gone before it reads the report */
		setsid();
		second = fork();
		if (second != 0)
			_exit(second < 0 ? 1 : 0);
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			dup2(nul, 2);
		}
		if (chdir("/") < 0)
			_exit(1);
		write_pid(lock_fd, (long)getpid());
		struct nr_error e = { 0 };
		int r = supervise(ctx, opts, &p, pfd[1], &e);
		release(&p, lock_fd, r == -NR_E_LG_GAVEUP);
		_exit(r < 0 ? 1 : 0);
	}
	close(pfd[1]);
	close(lock_fd); /* the supervisor keeps the lock through its own descriptor */
	waitpid(first, NULL, 0);
	while (got < sizeof(buf) - 1) {
		n = read(pfd[0], buf + got, sizeof(buf) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(pfd[0]);
	buf[got] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (strncmp(buf, "ok ", 3) == 0) {
		*client_pid = strtol(buf + 3, NULL, 10);
		paths_done(&p);
		return 0;
	}
	if (strncmp(buf, "err ", 4) == 0) {
		char *msg;
		int code = (int)strtol(buf + 4, &msg, 10);
		rc = nr_error_set(err, code < 0 ? code : -NR_E_IO, "%s", *msg ? msg + 1 : "");
	} else {
		rc = nr_error_set(err, -NR_E_IO, "the supervisor ended before starting the client; see %s",
				  p.log);
	}
	paths_done(&p);
	return rc;
fail:
	release(&p, lock_fd, false);
	paths_done(&p);
	return rc;
}

/* ---- from other processes -------------------------------------------------------- */

static void read_state(const char *path, struct nr_lg_sup_info *out, char *state, size_t size)
{
	char *text, *save = NULL;

	state[0] = '\0';
	if (nr_read_file(path, &text, NULL, NULL) < 0)
		return;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(l, '=');
		if (!eq)
			continue;
		*eq++ = '\0';
		if (strcmp(l, "state") == 0)
			snprintf(state, size, "%s", eq);
		else if (strcmp(l, "supervisor_pid") == 0)
			out->supervisor_pid = strtol(eq, NULL, 10);
		else if (strcmp(l, "client_pid") == 0)
			out->client_pid = strtol(eq, NULL, 10);
		else if (strcmp(l, "restarts") == 0)
			out->restarts = (unsigned)strtoul(eq, NULL, 10);
		else if (strcmp(l, "shm") == 0)
			snprintf(out->shm_path, sizeof(out->shm_path), "%s", eq);
		else if (strcmp(l, "last_exit") == 0)
			snprintf(out->last_exit, sizeof(out->last_exit), "%s", eq);
	}
	free(text);
}

/* 1 when a live supervisor holds the pid file (its pid in *pid), 0 when the file is
 * absent, 2 when it was stale (nobody held it). A stale pid file (and its state file)
 * is removed while we hold its lock, so a start racing with us cannot lose its own. */
static int probe_pid_file(const struct sup_paths *p, long *pid)
{
	char buf[32] = "";
	int fd = open(p->pid, O_RDONLY | O_CLOEXEC);
	struct stat a, b;
	ssize_t n;

	*pid = 0;
	if (fd < 0)
		return 0;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n > 0)
		buf[n] = '\0';
	*pid = strtol(buf, NULL, 10);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return 1;
	}
	if (fstat(fd, &a) == 0 && stat(p->pid, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
		unlink(p->pid);
		unlink(p->state);
	}
	close(fd);
	return 2;
}

int nr_lg_client_info(const struct nr_ctx *ctx, const char *vm, struct nr_lg_sup_info *out,
		      struct nr_error *err)
{
	struct sup_paths p;
	char state[32];
	long pid;
	int rc, live;

	memset(out, 0, sizeof(*out));
	rc = paths_init(ctx, vm, &p, err);
	if (rc < 0)
		return rc;
	snprintf(out->log_path, sizeof(out->log_path), "%s", p.log);
	live = probe_pid_file(&p, &pid);
	read_state(p.state, out, state, sizeof(state));
	if (live == 1) {
		out->supervisor_pid = pid;
		out->state = strcmp(state, "backoff") == 0 ? NR_LG_SUP_BACKOFF : NR_LG_SUP_RUNNING;
	} else if (live == 2) {
		out->state = NR_LG_SUP_STALE;
		out->supervisor_pid = pid;
	} else if (strcmp(state, "gave-up") == 0) {
		out->state = NR_LG_SUP_GAVE_UP;
		out->last_lines = tail_lines(p.log, LOG_TAIL_LINES);
	} else {
		out->state = NR_LG_SUP_NOT_RUNNING;
	}
	paths_done(&p);
	return 0;
}

void nr_lg_sup_info_done(struct nr_lg_sup_info *info)
{
	if (!info)
		return;
	free(info->last_lines);
	info->last_lines = NULL;
}

const char *nr_lg_sup_state_name(enum nr_lg_sup_state s)
{
	switch (s) {
	case NR_LG_SUP_NOT_RUNNING: return "not-running";
	case NR_LG_SUP_RUNNING: return "running";
	case NR_LG_SUP_BACKOFF: return "restarting";
	case NR_LG_SUP_GAVE_UP: return "gave-up";
	case NR_LG_SUP_STALE: return "stale";
	}
	return "unknown";
}

int nr_lg_client_stop(const struct nr_ctx *ctx, const char *vm, struct nr_error *err)
{
	unsigned stop_ms = param_uint(ctx, "lg.stop_ms", 3000);
	struct nr_lg_sup_info info = { 0 };
	struct sup_paths p;
	char state[32];
	uint64_t until;
	long pid;
	int rc, live;

	rc = paths_init(ctx, vm, &p, err);
	if (rc < 0)
		return rc;
	live = probe_pid_file(&p, &pid);
	if (live != 1) {
		rc = nr_error_set(err, -NR_E_NOTFOUND, "no Looking Glass client is supervised for VM '%s'%s",
				  vm, live == 2 ? " (a stale pid file was removed)" : "");
		paths_done(&p);
		return rc;
	}
	read_state(p.state, &info, state, sizeof(state));
	if (pid <= 1 || kill((pid_t)pid, SIGTERM) < 0) {
		rc = nr_error_set(err, -NR_E_PERM, "cannot signal the supervisor (pid %ld): %s", pid,
				  strerror(errno));
		paths_done(&p);
		return rc;
	}
	/* The supervisor ends its client (SIGKILL after stop_ms), then drops the lock. */
	until = (uint64_t)nr_now_ms() + stop_ms + 2000;
	while (probe_pid_file(&p, &pid) == 1 && (uint64_t)nr_now_ms() < until)
		nr_sleep_ms(20);
	if (probe_pid_file(&p, &pid) == 1) {
		/* A hung supervisor: its client dies with it (PR_SET_PDEATHSIG). */
		kill((pid_t)pid, SIGKILL);
		if (info.client_pid > 1)
			kill((pid_t)info.client_pid, SIGKILL);
		until = (uint64_t)nr_now_ms() + 2000;
		while (probe_pid_file(&p, &pid) == 1 && (uint64_t)nr_now_ms() < until)
			nr_sleep_ms(20);
		unlink(p.pid);
		unlink(p.state);
	}
	paths_done(&p);
	return 0;
}

/* ---- the installed client's version ------------------------------------------------- */

/* Both B7 and master log "Looking Glass (VERSION)" on stderr before they parse their
 * options (client/src/main.c), and --help makes them exit after the help. --version is
 * not an option of theirs: B7 ignores it with a warning and starts the client, so it is
 * never what we run. */
#define CLIENT_VERSION_ARG "--help"
#define CLIENT_OUTPUT_MAX  (64 * 1024)

static void collect(void *userdata, enum nr_plan_event ev, const char *text)
{
	struct nr_buf *b = userdata;

	if (ev == NR_PLAN_EV_OUTPUT && b->len < CLIENT_OUTPUT_MAX)
		nr_buf_puts(b, text);
}

static bool version_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
	       c == '.' || c == '_' || c == '+';
}

/* "Looking Glass (B7-412-g8cb6a687)" anywhere in text; else a line that is only a
 * version ("B7"). */
static bool version_in(const char *text, char *buf, size_t size)
{
	const char *p = strstr(text, "Looking Glass (");
	size_t n = 0;
	char raw[64];

	if (p) {
		p += strlen("Looking Glass (");
	} else {
		for (p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
			if (p[0] == 'B' && p[1] >= '0' && p[1] <= '9')
				break;
		if (!p || !*p)
			return false;
	}
	while (n < sizeof(raw) - 1 && version_char(p[n]))
		n++;
	if (n == 0 || (p[n] && p[n] != ')' && p[n] != '\n' && p[n] != '\r' && p[n] != ' '))
		return false;
	memcpy(raw, p, n);
	raw[n] = '\0';
	nr_text_sanitize(buf, size, raw, true);
	return true;
}

int nr_lg_client_version(const struct nr_ctx *ctx, char *buf, size_t size, struct nr_error *err)
{
	const char *client = nr_ctx_get(ctx, "lg.client");
	const char *argv[] = { client && *client ? client : "looking-glass-client", CLIENT_VERSION_ARG, NULL };
	struct nr_buf out;
	int status = -1, rc;

	if (size)
		buf[0] = '\0';
	nr_buf_init(&out);
	rc = nr_plan_run(ctx, argv, collect, &out, &status, err);
	if (rc < 0) {
		nr_buf_done(&out);
		return rc;
	}
	if (status == 127) {
		nr_buf_done(&out);
		return nr_error_set(err, -NR_E_LG_NOCLIENT, "%s is not installed (or cannot be run)", argv[0]);
	}
	rc = out.data && version_in(out.data, buf, size) ? 0 :
	     nr_error_set(err, -NR_E_PARSE, "%s %s printed no version (\"Looking Glass (VERSION)\")",
			  argv[0], CLIENT_VERSION_ARG);
	nr_buf_done(&out);
	return rc;
}

/* "B7", "B7-rc1", "B6-12-gabc" are B7 or older; a build past B7 ("B7-412-g8cb6a687")
 * or a later release ("B8") has the Indirect Display Driver as its Windows side. */
enum nr_lg_stack nr_lg_version_stack(const char *version)
{
	unsigned long major;
	char *end;

	if (!version || version[0] != 'B' || version[1] < '0' || version[1] > '9')
		return NR_LG_STACK_B7;
	major = strtoul(version + 1, &end, 10);
	if (major > 7)
		return NR_LG_STACK_IDD;
	if (major < 7 || *end != '-' || strncmp(end, "-rc", 3) == 0)
		return NR_LG_STACK_B7;
	/* B7-N-gHASH: N commits after the B7 tag */
	return end[1] >= '0' && end[1] <= '9' && strstr(end, "-g") ? NR_LG_STACK_IDD : NR_LG_STACK_B7;
}

enum nr_lg_stack nr_lg_stack_default(const struct nr_ctx *ctx)
{
	char version[NR_LG_HOSTVER_MAX];

	if (nr_lg_client_version(ctx, version, sizeof(version), NULL) < 0)
		return NR_LG_STACK_B7;
	return nr_lg_version_stack(version);
}

char *nr_lg_version_mismatch(const char *client, const char *host)
{
	char *s = NULL;

	if (!client || !*client || !host || !*host || strcmp(client, host) == 0)
		return NULL;
	if (asprintf(&s, "the client is %s but the guest's host application is %s: Looking Glass needs "
		     "both from the same build; install looking-glass-client %s on this machine, or "
		     "the %s host application in the guest", client, host, host, client) < 0)
		return NULL;
	return s;
}
