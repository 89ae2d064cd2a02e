/* Single-GPU passthrough as the commands share it. See cli/single.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "single.h"
#include "neuron/clock.h"
#include "neuron/single.h"
#include "neuron/util.h"

void cli_single_show(struct cli *cli, FILE *f, const struct nr_plan *plan)
{
	char *warning = nr_single_warning(cli->ctx);

	fprintf(f, "Single-GPU hand-off of ");
	cli_put_clean(f, nr_plan_meta(plan, "gpu"));
	fprintf(f, " (each step journaled; the release undoes them in reverse):\n");
	for (size_t i = 0; i < nr_plan_n_actions(plan); i++) {
		fprintf(f, "  %zu. ", i + 1);
		cli_put_clean(f, nr_plan_action(plan, i)->text);
		fputc('\n', f);
	}
	for (size_t i = 0; i < nr_plan_n_notes(plan); i++) {
		fprintf(f, "Note: ");
		cli_put_clean(f, nr_plan_note(plan, i));
		fputc('\n', f);
	}
	fprintf(f, "Warning: ");
	cli_put_clean(f, warning ? warning : "the local screen goes dark while the VM runs");
	fputc('\n', f);
	free(warning);
}

int cli_single_handoff(struct cli *cli, const char *gpu, bool yes, bool dry_run, FILE *f)
{
	struct nr_error err = { 0 };
	struct nr_scan *scan = NULL;
	struct nr_plan *plan = NULL;
	struct nr_plan_opts popts = { .output = cli_plan_progress, .userdata = f };
	int rc;

	if (nr_scan_new(cli->ctx, &scan, &err) < 0 || nr_single_plan(cli->ctx, scan, gpu, &plan, &err) < 0) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	cli_single_show(cli, f, plan);
	if (dry_run) {
		rc = EXIT_OK;
		goto out;
	}
	if (!cli_confirm(cli, yes, "Hand the GPU over now?", "nothing was changed")) {
		rc = EXIT_FAIL;
		goto out;
	}
	if (nr_single_handoff(cli->ctx, plan, &popts, &err) < 0) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	fprintf(f, "%s is with vfio-pci now; 'neuronctl gpu restore' gives it back.\n", gpu);
	rc = EXIT_OK;
out:
	nr_plan_free(plan);
	nr_scan_free(scan);
	return rc;
}

int cli_single_release(struct cli *cli, FILE *f, struct nr_error *err)
{
	struct nr_plan_opts popts = { .output = cli_plan_progress, .userdata = f };
	int rc;

	for (int tries = 0;; tries++) {
		nr_error_clear(err);
		rc = nr_single_release(cli->ctx, &popts, err);
		if (rc != -NR_E_BUSY || tries >= 60)
			break;
		nr_sleep_ms(500);
	}
	if (rc == -NR_E_NOTFOUND) {
		nr_error_clear(err);
		return 0;
	}
	return rc;
}

int cli_single_spawn_watch(struct cli *cli, const char *vm, struct nr_error *err)
{
	char *dir = nr_ctx_runtime_dir(cli->ctx), *log = NULL, **argv, exe[4096];
	size_t n = 0, n_params = 0;
	const char *name;
	ssize_t len;
	pid_t pid;
	int status, rc = 0;

	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= 0 || !dir || nr_mkdir_p(dir, 0755, err) < 0 || asprintf(&log, "%s/single-watch.log", dir) < 0) {
		free(dir);
		return err && err->code ? err->code : nr_error_set(err, -NR_E_IO, "cannot find this program to "
								     "start the watchdog");
	}
	exe[len] = '\0';
	while (nr_ctx_param_name((int)n_params, NULL))
		n_params++;
	if (!(argv = calloc(2 * n_params + 5, sizeof(*argv))))
		abort();
	argv[n++] = exe;
	for (int i = 0; (name = nr_ctx_param_name(i, NULL)); i++) {
		char *kv = NULL;
		if (asprintf(&kv, "%s=%s", name, nr_ctx_get(cli->ctx, name)) < 0)
			abort();
		argv[n++] = "--param";
		argv[n++] = kv;
	}
	argv[n++] = "gpu";
	argv[n++] = "watch";
	argv[n++] = (char *)vm;
	fflush(NULL);
	if ((pid = fork()) < 0) {
		rc = nr_error_set(err, -NR_E_IO, "cannot start the watchdog: %s", strerror(errno));
	} else if (pid == 0) {
		/* the middle child: a session of its own, then the watchdog apart from us */
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC), out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
									      0644);
		setsid();
		if (fork() != 0)
			_exit(0);
		if (in >= 0)
			dup2(in, 0);
		if (out >= 0) {
			dup2(out, 1);
			dup2(out, 2);
		}
		execv(exe, argv);
		_exit(127);
	} else {
		waitpid(pid, &status, 0);
	}
	for (size_t i = 2; i < 1 + 2 * n_params; i += 2)
		free(argv[i]);
	free(argv);
	free(log);
	free(dir);
	return rc;
}
