/* neuronctl check: the readiness checklist, PASS/WARN/FAIL with what to do next. */
#include <json-c/json.h>
#include <stdlib.h>

#include "cli.h"
#include "neuron/check.h"
#include "neuron/lg.h"
#include "neuron/single.h"
#include "neuron/virt.h"

struct check_opts {
	const char *gpu, *vm;
};

static int check_run(struct cli *cli, void *opts, int argc, char **argv)
{
	const struct check_opts *co = opts;
	struct nr_error err = { 0 };
	struct nr_scan *scan;
	struct nr_check c;

	if (nr_scan_new(cli->ctx, &scan, &err) < 0)
		return cli_fail(cli, &err);
	nr_check_run(scan, co->gpu, &c);
	if (co->vm) {
		/* the VM's Looking Glass memory: its host's version and, for kvmfr, its size */
		struct nr_virt *virt;
		char *shm = NULL;
		unsigned mib = 0;

		if (nr_virt_open(cli->ctx, &virt, &err) < 0) {
			nr_scan_free(scan);
			return cli_fail(cli, &err);
		}
		if (nr_lg_vm_shm(virt, co->vm, &shm, &mib, &err) < 0) {
			nr_virt_close(virt);
			nr_scan_free(scan);
			return cli_fail(cli, &err);
		}
		nr_virt_close(virt);
		nr_lg_check_add(cli->ctx, shm, mib, &c);
		free(shm);
	} else {
		nr_lg_check_add(cli->ctx, NULL, 0, &c);
	}
	nr_single_check_add(cli->ctx, scan, &c);

	if (cli->json) {
		json_object *root = json_object_new_object(), *arr = json_object_new_array();
		for (size_t i = 0; i < c.n_items; i++) {
			json_object *o = json_object_new_object();
			json_object_object_add(o, "id", json_object_new_string(c.items[i].name));
			json_object_object_add(o, "title", json_object_new_string(c.items[i].title));
			json_object_object_add(o, "status",
					       json_object_new_string(nr_check_status_name(c.items[i].status)));
			json_object_object_add(o, "detail", json_object_new_string(c.items[i].detail));
			json_object_object_add(o, "hint", json_object_new_string(c.items[i].hint));
			json_object_array_add(arr, o);
		}
		json_object_object_add(root, "ready", json_object_new_boolean(!c.blocked));
		json_object_object_add(root, "gpu", c.guest_gpu ?
				       json_object_new_string(scan->devices[c.guest_gpu->dev].addr) : NULL);
		json_object_object_add(root, "checks", arr);
		cli_json_print(cli, root);
	} else {
		for (size_t i = 0; i < c.n_items; i++) {
			printf("%s  %-40s ", nr_check_status_name(c.items[i].status), c.items[i].title);
			cli_put_clean(stdout, c.items[i].detail);
			putchar('\n');
			if (c.items[i].hint[0]) {
				printf("      -> ");
				cli_put_clean(stdout, c.items[i].hint);
				putchar('\n');
			}
		}
		printf("\n%s\n", c.blocked ? "Not ready: fix the FAIL lines above." :
			 "Ready for passthrough.");
	}
	nr_scan_free(scan);
	return c.blocked ? EXIT_FAIL : EXIT_OK;
}

static const struct cli_opt check_options[] = {
	CLI_JSON("print the checklist as JSON"),
	CLI_VALUE("gpu", "ADDR", struct check_opts, gpu, "judge this GPU (default: the best isolated non-boot GPU)"),
	CLI_VALUE("vm", "NAME", struct check_opts, vm,
		  "check this VM's Looking Glass too: versions, and the kvmfr size against its domain"),
	CLI_OPT_END,
};

const struct cli_cmd cli_cmd_check = {
	.name = "check",
	.usage = "check [--json] [--gpu ADDR] [--vm NAME]",
	.help = "walk the passthrough readiness checklist (exit 1 when something blocks)",
	.run = check_run,
	.opts = check_options,
	.opts_size = sizeof(struct check_opts),
};
