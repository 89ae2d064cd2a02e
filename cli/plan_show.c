/* One printer for plans (see plan_show.h); their progress is cli_plan_progress (output.c). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "plan_show.h"

static const char *kind_word(enum nr_plan_edit_kind k)
{
	return k == NR_PLAN_CREATE ? "create" : k == NR_PLAN_REMOVE ? "remove" : "edit";
}

void cli_plan_print(FILE *f, const struct nr_plan *p)
{
	fprintf(f, "\nFiles:\n");
	for (size_t i = 0; i < nr_plan_n_edits(p); i++) {
		const struct nr_plan_edit *e = nr_plan_edit(p, i);
		fprintf(f, "  %-8s ", e->changes ? kind_word(e->kind) : "keep");
		cli_put_clean(f, e->path);
		fprintf(f, "  (%s)\n", e->why);
	}
	char *diff = nr_plan_diff(p);
	if (diff && diff[0]) {
		fprintf(f, "\n");
		cli_put_text(f, diff);
	}
	free(diff);
	if (nr_plan_n_actions(p)) {
		fprintf(f, "\nNow:\n");
		for (size_t i = 0; i < nr_plan_n_actions(p); i++) {
			fprintf(f, "  - ");
			cli_put_clean(f, nr_plan_action(p, i)->text);
			fprintf(f, "\n");
		}
	}
	if (nr_plan_n_commands(p)) {
		fprintf(f, "\nCommands run inside the target after the files:\n");
		for (size_t i = 0; i < nr_plan_n_commands(p); i++) {
			const struct nr_plan_command *c = nr_plan_command(p, i);
			char *line = nr_plan_command_line(c->argv);
			fprintf(f, "  ");
			cli_put_clean(f, line ? line : "?");
			fprintf(f, "    # %s\n", c->why);
			free(line);
		}
	}
	if (nr_plan_n_notes(p)) {
		fprintf(f, "\nNotes:\n");
		for (size_t i = 0; i < nr_plan_n_notes(p); i++) {
			fprintf(f, "  - ");
			cli_put_clean(f, nr_plan_note(p, i));
			fprintf(f, "\n");
		}
	}
}

void cli_plan_json(json_object *o, const struct nr_plan *p)
{
	json_object *edits = json_object_new_array(), *actions = json_object_new_array();
	json_object *cmds = json_object_new_array(), *notes = json_object_new_array();

	for (size_t i = 0; i < nr_plan_n_edits(p); i++) {
		const struct nr_plan_edit *e = nr_plan_edit(p, i);
		json_object *je = json_object_new_object();
		char *d = nr_plan_edit_diff(p, i);
		json_object_object_add(je, "path", json_object_new_string(e->path));
		json_object_object_add(je, "kind", json_object_new_string(kind_word(e->kind)));
		json_object_object_add(je, "changes", json_object_new_boolean(e->changes));
		json_object_object_add(je, "why", json_object_new_string(e->why));
		json_object_object_add(je, "diff", json_object_new_string(d ? d : ""));
		free(d);
		json_object_array_add(edits, je);
	}
	json_object_object_add(o, "edits", edits);
	for (size_t i = 0; i < nr_plan_n_actions(p); i++) {
		json_object *ja = json_object_new_object();
		json_object_object_add(ja, "type", json_object_new_string(nr_plan_action(p, i)->type));
		json_object_object_add(ja, "text", json_object_new_string(nr_plan_action(p, i)->text));
		json_object_array_add(actions, ja);
	}
	json_object_object_add(o, "actions", actions);
	for (size_t i = 0; i < nr_plan_n_commands(p); i++) {
		const struct nr_plan_command *c = nr_plan_command(p, i);
		json_object *jc = json_object_new_object(), *argv = json_object_new_array();
		for (size_t k = 0; c->argv[k]; k++)
			json_object_array_add(argv, json_object_new_string(c->argv[k]));
		json_object_object_add(jc, "argv", argv);
		json_object_object_add(jc, "why", json_object_new_string(c->why));
		json_object_array_add(cmds, jc);
	}
	json_object_object_add(o, "commands", cmds);
	for (size_t i = 0; i < nr_plan_n_notes(p); i++)
		json_object_array_add(notes, json_object_new_string(nr_plan_note(p, i)));
	json_object_object_add(o, "notes", notes);
	json_object_object_add(o, "noop", json_object_new_boolean(nr_plan_is_noop(p)));
}
