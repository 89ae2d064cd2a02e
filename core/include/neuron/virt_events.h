/* libvirt domain events without polling: libvirt's event loop runs in a background
 * thread and calls back when a VM is defined, started, stopped ... (the TUI's live VM
 * panel). Kept apart from virt.h so that the VM modules own that header. */
#ifndef NEURON_VIRT_EVENTS_H
#define NEURON_VIRT_EVENTS_H

#include "neuron/error.h"
#include "neuron/virt.h"

struct nr_virt_watch;

/* Called from the event thread: vm is the domain name, event one of "defined",
 * "undefined", "started", "suspended", "resumed", "stopped", "shutdown",
 * "pmsuspended", "crashed". Keep it short: set a flag, wake your own loop. */
typedef void (*nr_virt_event_fn)(void *opaque, const char *vm, const char *event);

/* Start libvirt's event loop in a thread (libvirt only delivers events, and keeps a
 * connection alive, while it runs). nr_virt_open starts it; idempotent. */
int nr_virt_events_start(struct nr_error *err);
/* Stop and join the thread (at exit). */
void nr_virt_events_stop(void);
/* Deliver lifecycle events of every domain on virt to fn until freed. */
int nr_virt_watch_new(struct nr_virt *virt, nr_virt_event_fn fn, void *opaque,
		      struct nr_virt_watch **out, struct nr_error *err);
void nr_virt_watch_free(struct nr_virt_watch *w);

#endif
