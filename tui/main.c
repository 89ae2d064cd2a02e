/* neuron-tui: options, the terminal, then the loop (screen.c); the demo machine is demo.c. */
#define _XOPEN_SOURCE_EXTENDED 1
#include <curses.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <langinfo.h>
#include <libgen.h>
#include <limits.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tui.h"
#include "neuron/virt_events.h"
#include "neuron/vm.h"

#ifndef NEURON_VERSION
#define NEURON_VERSION "0.1.0"
#endif

/* The global options of both front ends (NR_CTX_OPTIONS), then neuron-tui's own. */
static const struct { const char *name, *metavar, *help; } global_options[] = {
#define NR_OPTION_ROW(name, metavar, help) { name, metavar, help },
	NR_CTX_OPTIONS(NR_OPTION_ROW)
#undef NR_OPTION_ROW
};
#define N_GLOBAL (sizeof(global_options) / sizeof(global_options[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: neuron-tui [--demo] [--sysroot DIR] [--root DIR] [--connect URI]\n"
		   "                  [--param NAME=VALUE]... [--ascii] [--no-color]\n\n"
		   "The NeuronOS passthrough console: IOMMU groups, GPUs, VMs and guest agents,\n"
		   "and the wizards that set up passthrough and create VMs.\n\n"
		   "  --demo              the bundled demo machine, libvirt test:///default and a scratch\n"
		   "                      root: walk everything without touching this machine\n");
	for (size_t i = 0; i < N_GLOBAL; i++) {
		char left[64];
		snprintf(left, sizeof(left), "--%s %s", global_options[i].name, global_options[i].metavar);
		fprintf(f, "  %-19s %s\n", left, global_options[i].help);
	}
	fprintf(f, "  --ascii             ASCII line drawing even in a UTF-8 locale\n"
		   "  --no-color          monochrome (also when NO_COLOR is set)\n"
		   "  --self-test         check the key table (duplicate keys, actions without help)\n"
		   "  --version           print the version\n\n"
		   "Keys: F1 or ? in the program.\n");
}

/* ---- the terminal ---- */

/* Everything written to stderr (libvirt's logging, a child's output) goes to the log
 * pane instead of tearing the screen: fd 2 becomes a pipe the loop reads. */
static int stderr_pipe[2] = { -1, -1 };
static int saved_stderr = -1;

static void capture_stderr(void)
{
	if (pipe2(stderr_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return;
	saved_stderr = dup(2);
	dup2(stderr_pipe[1], 2);
}

static void restore_stderr(void)
{
	if (saved_stderr >= 0) {
		dup2(saved_stderr, 2);
		close(saved_stderr);
		saved_stderr = -1;
	}
}

int tui_stderr_fd(void)
{
	return stderr_pipe[0];
}

static int open_terminal(struct tui *t)
{
	if (t->opts.script) {
		/* tests: a pinned size, no terminal at all; output goes nowhere, dumps tell */
		FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
		char buf[16];
		const char *term = getenv("TERM");
		SCREEN *scr;

		snprintf(buf, sizeof(buf), "%d", t->opts.script_cols);
		setenv("COLUMNS", buf, 1);
		snprintf(buf, sizeof(buf), "%d", t->opts.script_lines);
		setenv("LINES", buf, 1);
		scr = newterm(term && term[0] && strcmp(term, "dumb") != 0 ? term : "xterm", out, in);
		if (!scr)
			scr = newterm("vt100", out, in);
		if (!scr) {
			fprintf(stderr, "neuron-tui: no terminal description for the test screen\n");
			return -1;
		}
		t->script_mode = true;
	} else {
		const char *term = getenv("TERM");
		SCREEN *scr;

		if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
			fprintf(stderr, "neuron-tui: needs a terminal (use neuronctl in scripts)\n");
			return -1;
		}
		set_escdelay(25);
		/* newterm, not initscr: initscr exits on an unknown terminal without a word of ours */
		scr = newterm(NULL, stdout, stdin);
		if (!scr) {
			fprintf(stderr, "neuron-tui: the terminal type '%s' is unknown here; set TERM "
					"(TERM=xterm-256color, TERM=linux on a console) or use neuronctl\n",
				term && term[0] ? term : "(none)");
			return -1;
		}
		/* a terminal that cannot move the cursor (TERM=dumb, an Emacs shell) would show an
		 * empty screen: say so instead */
		if (!tigetstr("cup") || tigetstr("cup") == (char *)-1) {
			endwin();
			delscreen(scr);
			fprintf(stderr, "neuron-tui: the terminal '%s' cannot run a full-screen program (it has no "
					"cursor addressing); use a terminal emulator or the console, set TERM to "
					"match it, or use neuronctl\n", term && term[0] ? term : "(none)");
			return -1;
		}
	}
	/* raw, not cbreak: Ctrl-C is a key (Quit, which asks while an operation runs) and no
	 * signal reaches the commands an apply is running */
	raw();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	tui_colors_init(t);
	tui_glyphs_init(t);
	getmaxyx(stdscr, t->lines, t->cols);
	return 0;
}

static int parse_size(const char *s, int *cols, int *lines)
{
	return sscanf(s, "%dx%d", cols, lines) == 2 && *cols > 0 && *lines > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	enum { OPT_GLOBAL = 0x100 };       /* + the row of global_options */
	static const struct option own_options[] = {
		{ "demo", no_argument, NULL, 'D' },
		{ "ascii", no_argument, NULL, 'a' },
		{ "no-color", no_argument, NULL, 'C' },
		{ "no-colour", no_argument, NULL, 'C' },
		{ "self-test", no_argument, NULL, 'T' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "test-script", required_argument, NULL, 'S' },
		{ "test-dump", required_argument, NULL, 'O' },
		{ "test-size", required_argument, NULL, 'Z' },
	};
	struct option longopts[N_GLOBAL + sizeof(own_options) / sizeof(own_options[0]) + 1];
	/* the global options in the order given: they apply after --demo's choices */
	struct { const char *name, *value; } given[64];
	size_t n_given = 0, n_opts = 0;
	static struct tui app;
	struct tui *t = &app;
	char demo_root[PATH_MAX];       /* the demo's own root, before the options */
	struct nr_error err = { 0 };
	int opt, rc = 0;

	for (size_t i = 0; i < N_GLOBAL; i++)
		longopts[n_opts++] = (struct option){ global_options[i].name, required_argument, NULL,
						      OPT_GLOBAL + (int)i };
	for (size_t i = 0; i < sizeof(own_options) / sizeof(own_options[0]); i++)
		longopts[n_opts++] = own_options[i];
	longopts[n_opts] = (struct option){ 0, 0, 0, 0 };

	setlocale(LC_ALL, "");
	t->opts.script_cols = 80;
	t->opts.script_lines = 24;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (opt >= OPT_GLOBAL && opt < OPT_GLOBAL + (int)N_GLOBAL) {
			if (n_given == sizeof(given) / sizeof(given[0])) {
				fprintf(stderr, "neuron-tui: too many options\n");
				return 2;
			}
			given[n_given].name = global_options[opt - OPT_GLOBAL].name;
			given[n_given++].value = optarg;
			continue;
		}
		switch (opt) {
		case 'D': t->opts.demo = true; break;
		case 'a': t->opts.ascii = true; break;
		case 'C': t->opts.no_color = true; break;
		case 'S': t->opts.script = optarg; break;
		case 'O': t->opts.dump = optarg; break;
		case 'Z':
			if (parse_size(optarg, &t->opts.script_cols, &t->opts.script_lines) < 0) {
				fprintf(stderr, "neuron-tui: --test-size wants COLSxLINES\n");
				return 2;
			}
			break;
		case 'T': {
			int bad = tui_keys_self_test(stderr);
			if (!bad)
				printf("%zu keys, %d actions checked\n", tui_n_keys, TUI_ACT_COUNT - 1);
			return bad ? 1 : 0;
		}
		case 'V': printf("neuron-tui %s\n", NEURON_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "neuron-tui: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	t->utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	pthread_mutex_init(&t->log_lock, NULL);
	if (pipe2(t->wake_fd, O_CLOEXEC | O_NONBLOCK) < 0) {
		perror("neuron-tui: pipe");
		return 1;
	}
	t->ctx = nr_ctx_new();
	if (!t->ctx) {
		fputs("neuron-tui: out of memory\n", stderr);
		return 1;
	}
	/* Ctrl-C, SIGTERM and SIGHUP (an SSH drop) end in the same clean quit as q */
	tui_signals_init(t);
	if (t->opts.demo && tui_demo_setup(t, argv[0]) < 0) {
		rc = 1;
		goto out;
	}
	snprintf(demo_root, sizeof(demo_root), "%s", t->opts.demo ? nr_ctx_get(t->ctx, "root") : "");
	/* explicit options win over the demo's choices */
	for (size_t i = 0; i < n_given; i++)
		if (nr_ctx_set_option(t->ctx, given[i].name, given[i].value, &err) < 0) {
			fprintf(stderr, "neuron-tui: %s\n", err.msg);
			usage(stderr);
			rc = 2;
			goto out;
		}
	/* a root of the user's own for the demo gets the demo's files when it has none */
	if (t->opts.demo && strcmp(nr_ctx_get(t->ctx, "root"), demo_root) != 0) {
		char etc[PATH_MAX];
		struct stat st;
		snprintf(etc, sizeof(etc), "%s/etc", nr_ctx_get(t->ctx, "root"));
		if (stat(etc, &st) < 0 && tui_demo_seed_root(nr_ctx_get(t->ctx, "root")) < 0) {
			fprintf(stderr, "neuron-tui: cannot write the demo root %s\n", nr_ctx_get(t->ctx, "root"));
			rc = 1;
			goto out;
		}
	}

	if (open_terminal(t) < 0) {
		rc = 1;
		goto out;
	}
	capture_stderr();
	if (t->opts.demo)
		tui_log(t, "neuron-tui %s: demo machine, scratch root, libvirt %s: nothing here touches this "
			"machine", NEURON_VERSION, nr_ctx_get(t->ctx, "connect"));
	else
		tui_log(t, "neuron-tui %s: sysroot %s, root %s, libvirt %s", NEURON_VERSION,
			nr_ctx_get(t->ctx, "sysroot"), nr_ctx_get(t->ctx, "root"), nr_ctx_get(t->ctx, "connect"));

	{
		/* the log stays last: F4 and the tab after the numbered panels */
		static const struct tui_view_ops *const main_views[] = {
			&tui_view_groups_ops, &tui_view_gpus_ops, &tui_view_vms_ops, &tui_view_agents_ops,
			&tui_view_log_ops,
		};
		t->n_views = sizeof(main_views) / sizeof(main_views[0]);
		for (size_t i = 0; i < t->n_views; i++) {
			t->views[i].ops = main_views[i];
			t->views[i].form_scope = TUI_SCOPE_COUNT;
		}
	}
	/* the machine on screen at once; libvirt (slow, remote, or not answering at all)
	 * in its own thread, which posts what it finds */
	tui_virt_start(t);
	tui_rescan(t);
	if (!t->scan)
		tui_dialog_error(t, "Cannot read the machine", &t->scan_err);

	rc = t->opts.script ? tui_script_run(t) : tui_run(t);

	if (tui_job_running(t)) {
		/* the operation has its journal, but stopping a write half-way helps nobody */
		tui_set_status(t, "Waiting for '%s' to finish before quitting ...", tui_job_title(t));
		tui_redraw(t);
	}
	for (size_t i = 0; i < t->n_views; i++)
		if (t->views[i].ops && t->views[i].ops->done)
			t->views[i].ops->done(t, &t->views[i]);
	while (t->n_overlays)
		tui_close_overlay(t);
	tui_job_reap(t, true);
	endwin();
	restore_stderr();
	tui_virt_stop(t);
	nr_virt_events_stop();
	nr_vm_list_free(t->vms);
	t->vms = NULL;
out:
	nr_scan_free(t->scan);
	nr_ctx_free(t->ctx);
	tui_log_done(t);
	tui_demo_cleanup(t);
	return rc < 0 ? 1 : rc;
}
