/* libvirt off the input thread: one worker owns the connection. It connects (bounded by
 * core's virt.connect_ms), registers for domain events, and reads the VM list when asked;
 * each result is posted back and the loop takes it at its next wake-up. The loop never
 * waits on libvirt, so a daemon that accepts and never answers leaves the keys working and
 * the VMs panel saying "connecting", then "not answering" (F5 tries again).
 *
 * Operations on VMs run as jobs (job.c) over the connection the worker made: libvirt
 * connections take calls from several threads. A connection lives until the worker stops,
 * after the jobs have ended; one that died (keepalive) is kept aside until then. */
#include <stdlib.h>
#include <string.h>

#include "tui.h"
#include "neuron/clock.h"
#include "neuron/virt_events.h"
#include "neuron/vm.h"

#define MAX_RETIRED 16

struct tui_virt {
	struct tui *t;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;            /* work for the worker, or the worker went idle */
	bool started, stop, detached;
	bool want_connect, want_list, busy;
	/* the worker's */
	struct nr_virt *conn;
	struct nr_virt_watch *watch;
	struct nr_virt *retired[MAX_RETIRED];
	size_t n_retired;
	/* posted for the loop */
	bool posted;
	enum tui_virt_state state;
	struct nr_error err;            /* why DOWN */
	struct nr_vm_list *list;        /* a new list, NULL when the last one failed */
	struct nr_error list_err;
};

static void on_domain_event(void *opaque, const char *vm, const char *event)
{
	struct tui *t = opaque;

	tui_log(t, "libvirt: VM %s %s", vm, event);
	__atomic_store_n(&t->vms_dirty, true, __ATOMIC_RELEASE);
	tui_wake(t);
}

/* Worker: connect, register for events. Called and returning with the lock held. */
static void do_connect(struct tui_virt *w)
{
	struct nr_virt *conn = NULL;
	struct nr_virt_watch *watch = NULL;
	struct nr_error err = { 0 };
	int rc;

	w->want_connect = false;
	w->busy = true;
	pthread_mutex_unlock(&w->lock);
	rc = nr_virt_open(w->t->ctx, &conn, &err);
	if (rc == 0) {
		struct nr_error werr = { 0 };
		if (nr_virt_watch_new(conn, on_domain_event, w->t, &watch, &werr) < 0)
			tui_log(w->t, "no live VM updates: %s", werr.msg);
	}
	pthread_mutex_lock(&w->lock);
	w->busy = false;
	if (w->stop) {
		/* quitting: the loop is gone or going; keep it for the teardown */
		w->conn = conn ? conn : w->conn;
		w->watch = watch ? watch : w->watch;
		return;
	}
	if (rc < 0) {
		w->state = TUI_VIRT_DOWN;
		w->err = err;
		nr_vm_list_free(w->list);
		w->list = NULL;
		w->list_err = err;
	} else {
		if (w->conn && w->n_retired < MAX_RETIRED)
			w->retired[w->n_retired++] = w->conn;
		else
			nr_virt_close(w->conn);
		nr_virt_watch_free(w->watch);
		w->conn = conn;
		w->watch = watch;
		w->state = TUI_VIRT_UP;
		nr_error_clear(&w->err);
		w->want_list = true;
	}
	w->posted = true;
}

/* Worker: read the VM list. Called and returning with the lock held. */
static void do_list(struct tui_virt *w)
{
	struct nr_vm_list *list = NULL;
	struct nr_error err = { 0 };
	struct nr_virt *conn = w->conn;
	bool dead;

	w->want_list = false;
	w->busy = true;
	pthread_mutex_unlock(&w->lock);
	if (nr_vm_list(conn, &list, &err) < 0)
		list = NULL;
	dead = !list && !nr_virt_alive(conn);
	pthread_mutex_lock(&w->lock);
	w->busy = false;
	if (w->stop) {
		nr_vm_list_free(list);
		return;
	}
	nr_vm_list_free(w->list);
	w->list = list;
	w->list_err = err;
	if (dead) {
		/* keepalive ended it: the next refresh connects again */
		w->state = TUI_VIRT_DOWN;
		w->err = err;
	}
	w->posted = true;
}

static void *worker(void *arg)
{
	struct tui_virt *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->stop && !w->want_connect && !w->want_list)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break;
		if (w->want_connect)
			do_connect(w);
		else if (w->conn && w->state == TUI_VIRT_UP)
			do_list(w);
		else
			w->want_list = false;
		if (w->stop)
			break;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
		tui_wake(w->t);
		pthread_mutex_lock(&w->lock);
	}
	/* the teardown: calls to the daemon, still on this thread */
	pthread_mutex_unlock(&w->lock);
	nr_virt_watch_free(w->watch);
	nr_virt_close(w->conn);
	for (size_t i = 0; i < w->n_retired; i++)
		nr_virt_close(w->retired[i]);
	pthread_mutex_lock(&w->lock);
	w->watch = NULL;
	w->conn = NULL;
	w->n_retired = 0;
	w->started = false;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int tui_virt_start(struct tui *t)
{
	struct tui_virt *w = tui_xcalloc(1, sizeof(*w));

	w->t = t;
	pthread_mutex_init(&w->lock, NULL);
	nr_cond_init(&w->cond);
	w->state = TUI_VIRT_CONNECTING;
	w->want_connect = true;
	t->vw = w;
	t->virt_state = TUI_VIRT_CONNECTING;
	tui_log(t, "libvirt: connecting to %s", nr_ctx_get(t->ctx, "connect"));
	if (pthread_create(&w->thread, NULL, worker, w) != 0) {
		nr_error_set(&t->virt_err, -NR_E_NOMEM, "cannot start the libvirt thread");
		t->virt_state = TUI_VIRT_DOWN;
		return -NR_E_NOMEM;
	}
	w->started = true;
	return 0;
}

void tui_virt_refresh(struct tui *t)
{
	struct tui_virt *w = t->vw;

	if (!w || !w->started)
		return;
	pthread_mutex_lock(&w->lock);
	if (w->state == TUI_VIRT_DOWN && !w->busy && !w->want_connect) {
		w->want_connect = true;
		w->state = TUI_VIRT_CONNECTING;
		t->virt_state = TUI_VIRT_CONNECTING;
		tui_log(t, "libvirt: connecting to %s again", nr_ctx_get(t->ctx, "connect"));
	} else if (w->state == TUI_VIRT_UP) {
		w->want_list = true;
	}
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void tui_virt_collect(struct tui *t)
{
	struct tui_virt *w = t->vw;
	struct nr_vm_list *old = NULL;
	bool posted;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	posted = w->posted;
	if (posted) {
		enum tui_virt_state was = t->virt_state;
		w->posted = false;
		t->virt_state = w->state;
		t->virt = w->state == TUI_VIRT_UP ? w->conn : NULL;
		t->virt_err = w->err;
		old = t->vms;
		t->vms = w->list;
		w->list = NULL;
		t->vms_err = w->list_err;
		if (t->virt_state == TUI_VIRT_DOWN && was != TUI_VIRT_DOWN)
			tui_log(t, "libvirt: %s", t->virt_err.msg);
	}
	pthread_mutex_unlock(&w->lock);
	if (!posted)
		return;
	/* the views drop what they borrowed from the old list before it goes */
	tui_refresh_views(t);
	for (size_t i = 0; i < t->n_overlays; i++)
		if (t->overlays[i].ops->reload && t->overlays[i].ops != &tui_view_help_ops)
			t->overlays[i].ops->reload(t, &t->overlays[i]);
	nr_vm_list_free(old);
}

void tui_virt_settle(struct tui *t)
{
	struct tui_virt *w = t->vw;

	if (!w || !w->started || t->virt_nowait)
		return;
	pthread_mutex_lock(&w->lock);
	while (w->started && (w->want_connect || w->want_list || w->busy))
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	tui_virt_collect(t);
}

void tui_virt_stop(struct tui *t)
{
	struct tui_virt *w = t->vw;
	long long deadline;
	int wait = 0;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	if (!w->started) {
		pthread_mutex_unlock(&w->lock);
		goto out;
	}
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
	if (w->busy) {
		/* inside libvirt (a daemon that does not answer): quitting does not wait for it */
		w->detached = true;
		pthread_mutex_unlock(&w->lock);
		pthread_detach(w->thread);
		return;
	}
	/* closing talks to the daemon; give it a moment, never more */
	deadline = nr_now_ms() + 2000;
	while (w->started && wait != ETIMEDOUT)
		wait = nr_cond_wait_until(&w->cond, &w->lock, deadline);
	if (w->started) {
		w->detached = true;
		pthread_mutex_unlock(&w->lock);
		pthread_detach(w->thread);
		return;
	}
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
out:
	nr_vm_list_free(w->list);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
	t->vw = NULL;
	t->virt = NULL;
}

const char *tui_virt_uri(const struct tui *t)
{
	return t->virt ? nr_virt_uri(t->virt) :
	       t->virt_state == TUI_VIRT_CONNECTING ? "(libvirt: connecting)" : "(no libvirt)";
}

/* What the VMs and agents panels say when there is no list: connecting, or why not. */
const char *tui_virt_problem(const struct tui *t, char *buf, size_t size)
{
	if (t->virt_state == TUI_VIRT_CONNECTING)
		snprintf(buf, size, "connecting to libvirt at %s ...", nr_ctx_get(t->ctx, "connect"));
	else if (t->virt_state == TUI_VIRT_DOWN)
		snprintf(buf, size, "%s", t->virt_err.msg[0] ? t->virt_err.msg : "no libvirt connection");
	else if (!t->vms)
		snprintf(buf, size, "%s", t->vms_err.msg[0] ? t->vms_err.msg : "no VM list yet");
	else
		buf[0] = '\0';
	return buf;
}
