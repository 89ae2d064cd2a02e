/* The key script of the screen tests (tig's approach): the real program, its real key
 * path, no terminal. One command a line:
 *   key NAME...       keys by name: j Down F2 Enter Esc ^R Space
 *   type TEXT         each character of TEXT as a key (form fields)
 *   wait              until the running operation ends (its output is in the log) and
 *                     libvirt has answered what was asked (or counted as not answering)
 *   nowait libvirt    from here on, keys and dumps do not wait for libvirt's answers
 *                     (a daemon that never answers: the screen must stay live meanwhile)
 *   signal NAME       the program gets signal NAME (INT, TERM, HUP), as from kill
 *   shell COMMAND     run COMMAND with sh -c (to release a stand-in a test holds)
 *   resize COLS LINES the terminal changes size (KEY_RESIZE, as on SIGWINCH)
 *   dump LABEL        the screen's text, after a heading line
 *   dumpattr LABEL    one hex digit per cell: bold 1, reverse 2, dim 4, underline 8
 *   # comment */
#include <curses.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "neuron/clock.h"
#include "tui.h"


static void settle(struct tui *t)
{
	/* let libvirt's event thread deliver what the last action caused, and the libvirt
	 * worker answer what that asked */
	for (int i = 0; i < 5; i++) {
		nr_sleep_ms(2);
		tui_process_wakeups(t);
		tui_virt_settle(t);
		tui_agents_settle(t);
	}
}

int tui_script_run(struct tui *t)
{
	FILE *in = fopen(t->opts.script, "r");
	FILE *out = t->opts.dump ? fopen(t->opts.dump, "w") : stdout;
	char line[1024];
	int lineno = 0, rc = 0;

	if (!in || !out) {
		endwin();
		fprintf(stderr, "neuron-tui: cannot open %s\n", !in ? t->opts.script : t->opts.dump);
		if (in)
			fclose(in);
		return 1;
	}
	tui_redraw(t);
	while (fgets(line, sizeof(line), in)) {
		char *cmd, *arg, *save = NULL;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		cmd = strtok_r(line, " \t", &save);
		if (!cmd || cmd[0] == '#')
			continue;
		arg = save ? save + strspn(save, " \t") : NULL;
		if (strcmp(cmd, "key") == 0) {
			char *k;
			while ((k = strtok_r(NULL, " \t", &save))) {
				int code = tui_key_parse(k);
				if (code < 0) {
					fprintf(out, "script line %d: unknown key '%s'\n", lineno, k);
					rc = 1;
					continue;
				}
				/* a key acts on what libvirt said so far: let the worker answer first */
				tui_virt_settle(t);
				if (tui_feed_key(t, code) & TUI_QUIT) {
					fprintf(out, "=== quit at line %d\n", lineno);
					goto done;
				}
				tui_redraw(t);
			}
		} else if (strcmp(cmd, "type") == 0) {
			for (const char *p = arg ? arg : ""; *p; p++) {
				tui_virt_settle(t);
				tui_feed_key(t, (unsigned char)*p);
				tui_redraw(t);
			}
		} else if (strcmp(cmd, "wait") == 0) {
			bool nowait = t->virt_nowait;
			tui_job_reap(t, true);
			t->virt_nowait = false;
			settle(t);
			t->virt_nowait = nowait;
			tui_redraw(t);
		} else if (strcmp(cmd, "nowait") == 0 && arg && strcmp(arg, "libvirt") == 0) {
			t->virt_nowait = true;
		} else if (strcmp(cmd, "shell") == 0 && arg && arg[0]) {
			int status = system(arg);
			if (status != 0) {
				fprintf(out, "script line %d: '%s' failed (%d)\n", lineno, arg, status);
				rc = 1;
			}
		} else if (strcmp(cmd, "signal") == 0) {
			int sig = !arg ? 0 : strcmp(arg, "INT") == 0 ? SIGINT : strcmp(arg, "TERM") == 0 ? SIGTERM :
				  strcmp(arg, "HUP") == 0 ? SIGHUP : 0;
			if (!sig) {
				fprintf(out, "script line %d: signal INT, TERM or HUP\n", lineno);
				rc = 1;
				continue;
			}
			raise(sig);
			if (tui_feed_key(t, ERR) & TUI_QUIT) {
				fprintf(out, "=== quit at line %d (signal %s)\n", lineno, arg);
				goto done;
			}
			tui_redraw(t);
		} else if (strcmp(cmd, "resize") == 0) {
			int cols = 0, lines = 0;
			if (!arg || sscanf(arg, "%d %d", &cols, &lines) != 2) {
				fprintf(out, "script line %d: resize COLS LINES\n", lineno);
				rc = 1;
				continue;
			}
			resizeterm(lines, cols);
			tui_feed_key(t, KEY_RESIZE);
			tui_redraw(t);
		} else if (strcmp(cmd, "dump") == 0 || strcmp(cmd, "dumpattr") == 0) {
			settle(t);
			tui_redraw(t);
			fprintf(out, "=== %s (%dx%d)%s\n", arg ? arg : "", t->cols, t->lines,
				cmd[4] ? " attributes" : "");
			tui_dump_screen(t, out, cmd[4] != '\0');
		} else {
			fprintf(out, "script line %d: unknown command '%s'\n", lineno, cmd);
			rc = 1;
		}
	}
done:
	fclose(in);
	if (out != stdout)
		fclose(out);
	else
		fflush(out);
	return rc;
}
