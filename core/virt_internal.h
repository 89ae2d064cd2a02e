/* Private to core/: the libvirt handle, for modules that call libvirt directly. */
#ifndef NEURON_VIRT_INTERNAL_H
#define NEURON_VIRT_INTERNAL_H

#include <libvirt/libvirt.h>

#include "neuron/error.h"

struct nr_virt {
	virConnectPtr conn;
	char *uri;
};

/* Install the quiet libvirt error handler (idempotent). */
void nr_virt_quiet(void);
/* Fill err with "what: <libvirt's last error>"; returns code. */
int nr_virt_error(struct nr_error *err, int code, const char *what);

#endif
