/* How neuronctl shows a plan (its file edits as unified diffs, what it does now, the
 * commands that follow, the notes) and the progress of an apply or revert: one printer
 * for vfio and lg setup. */
#ifndef NEURON_CLI_PLAN_SHOW_H
#define NEURON_CLI_PLAN_SHOW_H

#include <json-c/json.h>
#include <stdio.h>

#include "neuron/plan.h"

/* "Files:" (what each edit does and why), the diffs, "Now:" (the plan's actions),
 * "Commands run inside the target after the files:", "Notes:". */
void cli_plan_print(FILE *f, const struct nr_plan *plan);
/* The same as JSON members added to o: edits (path, kind, changes, why, diff), actions
 * (type, text), commands (argv, why), notes, noop. */
void cli_plan_json(json_object *o, const struct nr_plan *plan);
/* An nr_plan_output_fn: steps ("  - wrote /etc/x"), commands ("$ mkinitcpio -P") and
 * their output as it comes, notes ("note: ..."). userdata is the FILE *. */
void cli_plan_progress(void *userdata, enum nr_plan_event ev, const char *text);
/* Text with many lines (diffs, tool output): newlines and tabs kept, every other control
 * character made harmless. */
void cli_put_text(FILE *f, const char *text);

#endif
