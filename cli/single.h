/* What gpu handoff/restore/watch/hook and vm start share for single-GPU passthrough:
 * showing a hand-off before it runs, running it, the release, and the watchdog started
 * apart from the caller (a libvirt hook must return at once). */
#ifndef NEURON_CLI_SINGLE_H
#define NEURON_CLI_SINGLE_H

#include <stdbool.h>

#include "cli.h"
#include "neuron/plan.h"
#include "neuron/scan.h"

/* Print the hand-off plan of gpu and the warning (the screen goes dark, the ways back) to f. */
void cli_single_show(struct cli *cli, FILE *f, const struct nr_plan *plan);
/* Plan and run the hand-off of gpu; progress to f. EXIT_OK, or what cli_fail returned. */
int cli_single_handoff(struct cli *cli, const char *gpu, bool yes, bool dry_run, FILE *f);
/* The release, waiting a little for another neuronctl that holds the root (the watchdog and
 * the hook may both release); nothing recorded is no failure. */
int cli_single_release(struct cli *cli, FILE *f, struct nr_error *err);
/* Start `neuronctl gpu watch VM` on its own (its own session, output to
 * RUNTIME_DIR/single-watch.log), with this run's parameters. */
int cli_single_spawn_watch(struct cli *cli, const char *vm, struct nr_error *err);

#endif
