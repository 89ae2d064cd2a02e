/* Live VM state: libvirt domain events (through core) mark the VM panel dirty and wake
 * the loop through its pipe. Nothing polls: an idle TUI sleeps in poll(). */
#include "tui.h"
#include "neuron/virt_events.h"

static void on_domain_event(void *opaque, const char *vm, const char *event)
{
	struct tui *t = opaque;

	tui_log(t, "libvirt: VM %s %s", vm, event);
	__atomic_store_n(&t->vms_dirty, true, __ATOMIC_RELEASE);
	tui_wake(t);
}

int tui_events_start(struct tui *t)
{
	struct nr_virt_watch *w = NULL;
	struct nr_error err = { 0 };

	if (!t->virt)
		return 0;
	if (nr_virt_watch_new(t->virt, on_domain_event, t, &w, &err) < 0) {
		tui_log(t, "no live VM updates: %s", err.msg);
		return err.code;
	}
	t->vm_watch = w;
	return 0;
}

void tui_events_stop(struct tui *t)
{
	nr_virt_watch_free(t->vm_watch);
	t->vm_watch = NULL;
}
