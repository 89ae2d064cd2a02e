/* libvirt behind nr_* calls: a connection with a quiet error handler (libvirt's
 * default one writes to stderr and would tear a curses screen). */
#ifndef NEURON_VIRT_H
#define NEURON_VIRT_H

#include <stdbool.h>

#include "neuron/ctx.h"
#include "neuron/error.h"

struct nr_virt;

/* Connect to the ctx's "connect" URI. Bounded: a daemon that does not answer within
 * virt.connect_ms is -NR_E_TIMEOUT ("not answering"), and once connected a remote daemon that
 * falls silent for virt.keepalive_s x (virt.keepalive_count + 1) seconds fails the call that
 * waits on it with -NR_E_TIMEOUT. */
int nr_virt_open(const struct nr_ctx *ctx, struct nr_virt **out, struct nr_error *err);
void nr_virt_close(struct nr_virt *virt);
const char *nr_virt_uri(const struct nr_virt *virt);
/* Whether the connection still stands (no call to the daemon: keepalive or a closed
 * socket ended it otherwise). A dead one stays dead: open a new one. */
bool nr_virt_alive(const struct nr_virt *virt);

/* The domain XML of VM name (live XML when it runs, else the inactive one). malloc'd. */
int nr_virt_domain_xml(struct nr_virt *virt, const char *name, char **xml, struct nr_error *err);

#endif
