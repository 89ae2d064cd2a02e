/* A long operation (apply a plan, define a VM, start one) runs in a thread; the loop keeps
 * drawing, its output lands in the log, and the thread wakes the loop through a pipe. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui.h"
#include "neuron/util.h"

struct tui_job {
	struct tui *t;
	char title[128];
	tui_job_fn fn;
	tui_job_done_fn done;
	void *arg;
	pthread_t thread;
	atomic_bool finished;
	int rc;
	struct nr_error err;
};

void tui_wake(struct tui *t)
{
	char c = 1;
	ssize_t n;

	do
		n = write(t->wake_fd[1], &c, 1);
	while (n < 0 && errno == EINTR);
	/* a full pipe already holds a wake-up: nothing lost */
}

static void *job_main(void *p)
{
	struct tui_job *job = p;

	job->rc = job->fn(job, job->arg, &job->err);
	atomic_store(&job->finished, true);
	tui_wake(job->t);
	return NULL;
}

int tui_job_start(struct tui *t, const char *title, tui_job_fn fn, tui_job_done_fn done, void *arg)
{
	struct tui_job *job;

	if (t->job) {
		struct nr_error err = { 0 };
		nr_error_set(&err, -NR_E_BUSY, "wait until '%s' has finished", t->job->title);
		tui_dialog_error(t, "Busy", &err);
		return -NR_E_BUSY;
	}
	job = tui_xcalloc(1, sizeof(*job));
	job->t = t;
	snprintf(job->title, sizeof(job->title), "%s", title);
	job->fn = fn;
	job->done = done;
	job->arg = arg;
	atomic_init(&job->finished, false);
	t->job = job;
	tui_log(t, "== %s", title);
	if (pthread_create(&job->thread, NULL, job_main, job) != 0) {
		t->job = NULL;
		free(job);
		struct nr_error err = { 0 };
		nr_error_set(&err, -NR_E_NOMEM, "cannot start a thread for '%s'", title);
		tui_dialog_error(t, "Error", &err);
		return -NR_E_NOMEM;
	}
	return 0;
}

bool tui_job_running(const struct tui *t)
{
	return t->job != NULL;
}

const char *tui_job_title(const struct tui *t)
{
	return t->job ? t->job->title : "";
}

struct tui *tui_job_tui(struct tui_job *job)
{
	return job->t;
}

void tui_job_log(struct tui_job *job, const char *fmt, ...)
{
	struct nr_buf b;
	va_list ap;

	nr_buf_init(&b);
	va_start(ap, fmt);
	nr_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (!b.oom)
		tui_log_raw(job->t, b.data ? b.data : "");
	nr_buf_done(&b);
	tui_wake(job->t);
}

void tui_job_reap(struct tui *t, bool wait)
{
	struct tui_job *job = t->job;

	if (!job || (!wait && !atomic_load(&job->finished)))
		return;
	pthread_join(job->thread, NULL);
	t->job = NULL;
	if (job->rc < 0)
		tui_log(t, "== %s: failed: %s", job->title, job->err.msg[0] ? job->err.msg : nr_strerror(job->rc));
	else
		tui_log(t, "== %s: done", job->title);
	if (job->done)
		job->done(t, job->rc, &job->err, job->arg);
	free(job);
}
