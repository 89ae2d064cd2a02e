/* libvirt's default event loop in a thread, and lifecycle callbacks per connection. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "base/internal.h"
#include "vm/virt_internal.h"
#include "neuron/virt_events.h"

struct nr_virt_watch {
	struct nr_virt *virt;
	int callback_id;
	nr_virt_event_fn fn;
	void *opaque;
};

static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t events_thread;
static bool events_started;
static atomic_bool events_running;

static void *events_main(void *arg)
{
	(void)arg;
	while (atomic_load(&events_running))
		if (virEventRunDefaultImpl() < 0)
			break;
	return NULL;
}

int nr_virt_events_start(struct nr_error *err)
{
	int rc = 0;

	pthread_mutex_lock(&events_lock);
	if (events_started)
		goto out;
	if ((rc = nr_virt_load(err)) < 0)
		goto out;
	nr_virt_quiet();
	if (virEventRegisterDefaultImpl() < 0) {
		rc = nr_virt_error(err, -NR_E_VIRT, "cannot start libvirt's event loop");
		goto out;
	}
	atomic_store(&events_running, true);
	if (pthread_create(&events_thread, NULL, events_main, NULL) != 0) {
		atomic_store(&events_running, false);
		rc = nr_error_set(err, -NR_E_NOMEM, "cannot start the libvirt event thread");
		goto out;
	}
	events_started = true;
out:
	pthread_mutex_unlock(&events_lock);
	return rc;
}

static void wake_cb(int timer, void *opaque)
{
	(void)opaque;
	virEventRemoveTimeout(timer);
}

void nr_virt_events_stop(void)
{
	pthread_mutex_lock(&events_lock);
	if (events_started) {
		atomic_store(&events_running, false);
		/* a timer that fires at once makes the loop return and see the flag */
		virEventAddTimeout(0, wake_cb, NULL, NULL);
		pthread_join(events_thread, NULL);
		events_started = false;
	}
	pthread_mutex_unlock(&events_lock);
}

static const char *event_name(int event)
{
	switch (event) {
	case VIR_DOMAIN_EVENT_DEFINED:     return "defined";
	case VIR_DOMAIN_EVENT_UNDEFINED:   return "undefined";
	case VIR_DOMAIN_EVENT_STARTED:     return "started";
	case VIR_DOMAIN_EVENT_SUSPENDED:   return "suspended";
	case VIR_DOMAIN_EVENT_RESUMED:     return "resumed";
	case VIR_DOMAIN_EVENT_STOPPED:     return "stopped";
	case VIR_DOMAIN_EVENT_SHUTDOWN:    return "shutdown";
	case VIR_DOMAIN_EVENT_PMSUSPENDED: return "pmsuspended";
	case VIR_DOMAIN_EVENT_CRASHED:     return "crashed";
	default:                           return "changed";
	}
}

static int lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
	struct nr_virt_watch *w = opaque;
	const char *name = virDomainGetName(dom);

	(void)conn;
	(void)detail;
	w->fn(w->opaque, name ? name : "", event_name(event));
	return 0;
}

int nr_virt_watch_new(struct nr_virt *virt, nr_virt_event_fn fn, void *opaque,
		      struct nr_virt_watch **out, struct nr_error *err)
{
	struct nr_virt_watch *w;

	*out = NULL;
	if (!events_started)
		return nr_error_set(err, -NR_E_INVAL, "libvirt's event loop is not running");
	w = calloc(1, sizeof(*w));
	if (!w)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	w->virt = virt;
	w->fn = fn;
	w->opaque = opaque;
	w->callback_id = virConnectDomainEventRegisterAny(virt->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
							  VIR_DOMAIN_EVENT_CALLBACK(lifecycle_cb), w, NULL);
	if (w->callback_id < 0) {
		free(w);
		return nr_virt_error(err, -NR_E_VIRT, "cannot watch VM events");
	}
	*out = w;
	return 0;
}

void nr_virt_watch_free(struct nr_virt_watch *w)
{
	if (!w)
		return;
	virConnectDomainEventDeregisterAny(w->virt->conn, w->callback_id);
	free(w);
}
