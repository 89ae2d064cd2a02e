/* How neuronctl shows a plan (its file edits as unified diffs, what it does now, the
 * commands that follow, the notes): one printer for vfio and lg setup. The progress of an
 * apply or revert is cli_plan_progress (cli.h). */
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

#endif
