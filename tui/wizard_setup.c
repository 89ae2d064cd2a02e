/* Wizard 1, set up passthrough: the readiness checklist (core's nr_check_run) -> the GPU
 * to give the guest, with the reasons for the ones that cannot be picked (nr_gpu_verdict)
 * -> the plan as diffs (nr_vfio_plan_new) -> apply with progress and the streamed output
 * of the initramfs and boot loader commands (nr_plan_apply in a job) -> what to do now
 * and how to undo. Also: revert (nr_plan_revert), and finish or roll back an interrupted
 * apply (nr_vfio_status_read says so). In --demo the commands are stand-ins that print. */
#include <stdlib.h>
#include <string.h>

#include "tui.h"
#include "neuron/check.h"
#include "neuron/plan.h"
#include "neuron/single.h"
#include "neuron/util.h"
#include "neuron/vfio.h"

enum setup_step {
	STEP_CHECKLIST, STEP_PICK_GPU, STEP_REVIEW, STEP_APPLY, STEP_DONE, STEP_COUNT,
	STEP_REVERT = STEP_COUNT, STEP_RESUME,
};

static const char *const step_titles[STEP_COUNT] = {
	"1 Checklist", "2 GPU", "3 Plan", "4 Apply", "5 Done",
};

enum setup_op { OP_APPLY, OP_REVERT, OP_FINISH };

struct setup {
	enum setup_step step;
	struct nr_check check;
	size_t check_sel;
	size_t gpu_sel;
	char gpu_addr[NR_ADDR_LEN];     /* the GPU picked */
	struct nr_vfio_plan *vp;        /* the plan under review */
	struct tui_pane review;         /* the plan as text: summary, diffs, commands, notes */
	struct nr_vfio_status status;   /* what the journal says (revert, resume) */
	bool have_status;
	/* the running or last operation */
	enum setup_op op;
	bool running, finished;
	int rc;
	struct nr_error err;
	struct nr_plan_result result;
	size_t log_from;                /* the log line the operation's output starts at */
};

struct setup_job {
	struct tui_view *v;             /* the wizard waits for its job before it closes */
	struct nr_plan_opts opts;
	struct tui_job *job;
	struct nr_buf partial;          /* command output up to its next newline */
};

static struct setup *S(struct tui_view *v)
{
	return v->priv;
}

/* Core decides which GPUs may be chosen (nr_gpu_choosable), for the CLI and here alike. */
static bool gpu_pickable(const struct nr_scan *sc, const struct nr_gpu *g)
{
	return nr_gpu_choosable(sc, g, false, false, NULL) == 0;
}

static void read_status(struct tui *t, struct setup *s)
{
	struct nr_error err = { 0 };

	if (s->have_status)
		nr_vfio_status_done(&s->status);
	memset(&s->status, 0, sizeof(s->status));
	s->have_status = nr_vfio_status_read(t->ctx, t->scan, &s->status, &err) == 0;
	if (!s->have_status)
		tui_log(t, "setup: cannot read the VFIO journal: %s", err.msg);
}

static void setup_refresh(struct tui *t, struct tui_view *v)
{
	struct setup *s = S(v);

	if (!s) {
		s = v->priv = tui_xcalloc(1, sizeof(*s));
		if (t->scan) {
			const struct nr_gpu *best = nr_scan_best_gpu(t->scan);
			if (best) {
				snprintf(s->gpu_addr, sizeof(s->gpu_addr), "%s", t->scan->devices[best->dev].addr);
				s->gpu_sel = (size_t)(best - t->scan->gpus);
			}
		}
	}
	if (t->scan) {
		nr_check_run(t->scan, s->gpu_addr[0] ? s->gpu_addr : NULL, &s->check);
		nr_single_check_add(t->ctx, t->scan, &s->check);
	}
	if (!s->have_status && !s->running) {
		read_status(t, s);
		/* an apply or a revert was cut short: that comes first */
		if (s->have_status && (s->status.plan.state == NR_PLAN_STATE_APPLYING ||
				       s->status.plan.state == NR_PLAN_STATE_REVERTING))
			s->step = STEP_RESUME;
	}
}

static void setup_done(struct tui *t, struct tui_view *v)
{
	struct setup *s = S(v);

	if (!s)
		return;
	if (s->running)
		tui_job_reap(t, true);  /* the job points into the wizard */
	nr_vfio_plan_free(s->vp);
	tui_pane_done(&s->review);
	if (s->have_status)
		nr_vfio_status_done(&s->status);
	free(s);
	v->priv = NULL;
}

/* The step bar: "1 Checklist > 2 GPU > ..." with the current step marked. */
static void draw_steps(struct tui *t, struct setup *s, int y, int x, int w)
{
	int o = 0;

	tui_put(t, y, x, w, TUI_C_NORMAL, true, "");
	o = 1;
	if (s->step >= STEP_COUNT || (s->op == OP_REVERT && (s->step == STEP_APPLY || s->step == STEP_DONE))) {
		tui_put(t, y, x + 1, w - 1, TUI_C_TAB_ACTIVE, false,
			s->step == STEP_RESUME ? "An interrupted operation" : "Revert the passthrough set-up");
		return;
	}
	for (int i = 0; i < STEP_COUNT; i++) {
		if (i)
			o += tui_put(t, y, x + o, w - o, TUI_C_DIM, false, " > ");
		o += tui_put(t, y, x + o, w - o, (int)s->step == i ? TUI_C_TAB_ACTIVE : TUI_C_DIM, false, step_titles[i]);
	}
}

static const char *status_glyph(struct tui *t, enum nr_check_status st)
{
	return st == NR_CHECK_PASS ? t->g->ok : st == NR_CHECK_WARN ? t->g->warn : t->g->fail;
}

static void draw_checklist(struct tui *t, struct setup *s, int y, int x, int h, int w)
{
	const struct nr_check *c = &s->check;
	const struct nr_check_item *it;
	int line = 0;

	tui_put(t, y + line++, x + 1, w - 1, TUI_C_INFO, false,
		"Readiness checklist: what this machine needs for GPU passthrough.");
	for (size_t i = 0; i < c->n_items && line < h - 5; i++) {
		bool sel = i == s->check_sel;
		enum tui_color base = sel ? TUI_C_SELECTED : TUI_C_NORMAL;

		it = &c->items[i];
		if (sel)
			tui_put(t, y + line, x, w, TUI_C_SELECTED, true, "");
		tui_putf(t, y + line, x + 1, 7, sel ? base : tui_status_color((int)it->status), "%s %s",
			 status_glyph(t, it->status), nr_check_status_name(it->status));
		tui_put(t, y + line, x + 9, 38, base, false, it->title);
		tui_put_clean(t, y + line, x + 48, w - 48, base, it->detail);
		line++;
	}
	line++;
	if (s->check_sel < c->n_items) {
		it = &c->items[s->check_sel];
		char text[1200];
		snprintf(text, sizeof(text), "%s: %s%s%s", it->title, it->detail, it->hint[0] ? ". Next: " : "",
			 it->hint);
		tui_hline(t, y + line - 1, x, w, TUI_C_FRAME);
		tui_wrap(t, y + line, x + 1, h - line - 1, w - 2, TUI_C_NORMAL, text);
	}
	tui_put(t, y + h - 1, x + 1, w - 1, c->blocked ? TUI_C_FAIL : TUI_C_OK, false,
		c->blocked ? "Something FAILs: the line above says how to fix it. Enter: next"
			   : "Ready for passthrough. Enter: pick the GPU for the guest; Esc: leave");
}

static void draw_pick_gpu(struct tui *t, struct setup *s, int y, int x, int h, int w)
{
	const struct nr_scan *sc = t->scan;
	int line = 0;

	tui_put(t, y + line++, x + 1, w - 1, TUI_C_INFO, false, "Which GPU goes to the guest? It leaves the host at the next boot.");
	if (!sc || sc->n_gpus == 0) {
		tui_put(t, y + line, x + 1, w - 1, TUI_C_FAIL, false, "No GPU found (no device of class 03xx).");
		return;
	}
	for (size_t i = 0; i < sc->n_gpus && line < h - 6; i++) {
		const struct nr_gpu *g = &sc->gpus[i];
		const struct nr_pci_dev *d = &sc->devices[g->dev];
		bool sel = i == s->gpu_sel;
		enum tui_color c, base = sel ? TUI_C_SELECTED : TUI_C_NORMAL;
		const char *word = tui_gpu_word(sc, g, &c);

		if (sel)
			tui_put(t, y + line, x, w, TUI_C_SELECTED, true, "");
		tui_putf(t, y + line, x + 1, 3, base, "%s", strcmp(s->gpu_addr, d->addr) == 0 ? t->g->pointer : " ");
		tui_putf(t, y + line, x + 3, 9, base, "%-8s", nr_pci_short_addr(d));
		tui_putf(t, y + line, x + 12, 14, sel ? base : c, "%s %-9s", gpu_pickable(sc, g) ? t->g->ok : t->g->fail, word);
		tui_put_clean(t, y + line, x + 25, w - 25, base, nr_pci_name(d));
		line++;
	}
	line++;
	{
		const struct nr_gpu *g = &sc->gpus[s->gpu_sel];
		char *verdict = nr_gpu_verdict(sc, g);
		char text[1200];

		snprintf(text, sizeof(text), "%s %s: %s", gpu_pickable(sc, g) ? "Can be picked" : "Cannot be picked",
			 nr_pci_short_addr(&sc->devices[g->dev]), verdict ? verdict : "");
		free(verdict);
		tui_hline(t, y + line - 1, x, w, TUI_C_FRAME);
		tui_wrap(t, y + line, x + 1, h - line - 1, w - 2, gpu_pickable(sc, g) ? TUI_C_NORMAL : TUI_C_WARN, text);
	}
	tui_put(t, y + h - 1, x + 1, w - 1, TUI_C_DIM, false, "Up/Down: choose; Enter: pick it and plan; Esc: back");
}


static int pick_gpu(struct tui *t, struct setup *s)
{
	const struct nr_gpu *g = &t->scan->gpus[s->gpu_sel];
	const struct nr_pci_dev *d = &t->scan->devices[g->dev];

	struct nr_error why = { 0 };
	if (nr_gpu_choosable(t->scan, g, false, false, &why) < 0) {
		tui_dialog_info(t, "This GPU cannot be picked", "%s", why.msg);
		return -1;
	}
	snprintf(s->gpu_addr, sizeof(s->gpu_addr), "%s", d->addr);
	nr_check_run(t->scan, s->gpu_addr, &s->check);
	nr_single_check_add(t->ctx, t->scan, &s->check);
	tui_log(t, "setup: GPU %s picked for the guest", d->addr);
	return 0;
}

/* ---- the plan under review, as one text ---- */

static enum tui_color review_color(const char *line)
{
	if (line[0] == '#')
		return TUI_C_INFO;
	if (strncmp(line, "+++", 3) == 0 || strncmp(line, "---", 3) == 0)
		return TUI_C_HEADER;
	if (line[0] == '+')
		return TUI_C_DIFF_ADD;
	if (line[0] == '-')
		return TUI_C_DIFF_DEL;
	if (line[0] == '@')
		return TUI_C_DIFF_HUNK;
	if (line[0] == '$')
		return TUI_C_WARN;
	if (strncmp(line, "Note:", 5) == 0)
		return TUI_C_WARN;
	return TUI_C_NORMAL;
}


static void build_review(struct tui *t, struct setup *s)
{
	const struct nr_vfio_plan *vp = s->vp;
	struct nr_buf b;
	size_t changing = 0;

	nr_buf_init(&b);
	for (size_t i = 0; i < nr_plan_n_edits(vp->plan); i++)
		changing += nr_plan_edit(vp->plan, i)->changes;
	if (vp->params_only)
		nr_buf_puts(&b, "The IOMMU is off: first turn it on (no GPU yet)");
	else
		nr_buf_printf(&b, "GPU %s: %zu device%s to vfio-pci at boot, bound by %s", vp->n_gpus ? vp->gpus[0] : "?",
			      vp->n_devices, vp->n_devices == 1 ? "" : "s", vp->bind_by_address ? "address" : "id");
	if (vp->n_ids && !vp->bind_by_address) {
		nr_buf_puts(&b, " (");
		for (size_t i = 0; i < vp->n_ids; i++)
			nr_buf_printf(&b, "%s%s", i ? " " : "", vp->ids[i]);
		nr_buf_puts(&b, ")");
	}
	nr_buf_printf(&b, ".\nBoot: %s initramfs%s; kernel parameters: %s.\n",
		      nr_initramfs_name(vp->boot.initramfs), vp->boot.grub ? ", GRUB" : "",
		      vp->params[0] ? vp->params : "none needed");
	if (changing == 0) {
		nr_buf_puts(&b, "Nothing to change: this set-up is already in place.\n");
	} else {
		char *backup = nr_plan_backup_dir(t->ctx, NULL);
		nr_buf_printf(&b, "%zu file%s change (the originals are kept under %s):\n",
			      changing, changing == 1 ? "" : "s", backup ? backup : "the backup directory");
		free(backup);
	}
	for (size_t i = 0; i < nr_plan_n_edits(vp->plan); i++) {
		const struct nr_plan_edit *e = nr_plan_edit(vp->plan, i);
		char *diff;

		if (!e->changes)
			continue;
		nr_buf_printf(&b, "\n# %s %s: %s\n", e->kind == NR_PLAN_CREATE ? "new" : e->kind == NR_PLAN_REMOVE ? "remove" : "edit",
			      e->path, e->why);
		diff = nr_plan_edit_diff(vp->plan, i);
		nr_buf_puts(&b, diff ? diff : "");
		free(diff);
	}
	if (nr_plan_n_commands(vp->plan)) {
		nr_buf_puts(&b, "\n# then these commands run in the target root:\n");
		for (size_t i = 0; i < nr_plan_n_commands(vp->plan); i++) {
			const struct nr_plan_command *c = nr_plan_command(vp->plan, i);
			char *line = nr_plan_command_line(c->argv);
			nr_buf_printf(&b, "$ %s    (%s)\n", line ? line : "?", c->why);
			free(line);
		}
		if (t->opts.demo)
			nr_buf_puts(&b, "# demo: they are stand-ins that only print; nothing runs on this machine\n");
	}
	for (size_t i = 0; i < nr_plan_n_notes(vp->plan); i++) {
		/* notes are sentences, not diffs: wrapped to fit 80 columns */
		const char *p = nr_plan_note(vp->plan, i);
		nr_buf_puts(&b, "\nNote: ");
		for (size_t col = 6; *p;) {
			size_t n = strcspn(p, " ");
			if (col > 6 && col + n > 76) {
				nr_buf_puts(&b, "\n      ");
				col = 6;
			}
			nr_buf_append(&b, p, n);
			col += n;
			p += n;
			if (*p == ' ') {
				nr_buf_puts(&b, " ");
				col++;
				p++;
			}
		}
		nr_buf_puts(&b, "\n");
	}
	tui_pane_set(&s->review, b.data);
	s->review.color = review_color;
	nr_buf_done(&b);
}

static void draw_review(struct tui *t, struct tui_view *v, struct setup *s, int y, int x, int h, int w)
{
	char range[64];

	(void)v;
	tui_pane_draw(t, &s->review, y + 1, x + 1, h - 2, w - 1);
	tui_putf(t, y, x + 1, w - 1, TUI_C_INFO, "The plan for %s, nothing written yet (%s)",
		 s->vp && s->vp->params_only ? "the IOMMU" : s->gpu_addr,
		 tui_pane_range(&s->review, range, sizeof(range)));
	tui_put(t, y + h - 1, x + 1, w - 1, TUI_C_DIM, false, "Up/Down/PgUp/PgDn: read; Enter: apply (asks first); Esc: back");
}

/* The operation's own lines of the log, newest last: the streamed command output. */
static void draw_output(struct tui *t, struct setup *s, int y, int x, int h, int w)
{
	size_t n = tui_log_count(t), from = s->log_from;

	if (from > n)
		from = n;
	if (n - from > (size_t)h)
		from = n - (size_t)h;
	for (size_t i = from; i < n; i++) {
		char line[512];
		tui_log_line(t, i, line, sizeof(line));
		tui_put(t, y + (int)(i - from), x, w, line[0] == '=' ? TUI_C_INFO : line[0] == '$' ? TUI_C_WARN : TUI_C_NORMAL,
			false, line);
	}
}

static void draw_apply(struct tui *t, struct setup *s, int y, int x, int h, int w)
{
	const char *what = s->op == OP_APPLY ? "Applying the plan" : s->op == OP_FINISH ?
		"Finishing the interrupted apply" : "Reverting";

	if (s->running)
		tui_putf(t, y, x + 1, w - 1, TUI_C_INFO, "%s %s ... the screen stays live; the output streams below",
			 t->g->running, what);
	else if (s->rc < 0)
		tui_putf(t, y, x + 1, w - 1, TUI_C_FAIL, "%s %s failed: Enter for what to do", t->g->fail, what);
	else
		tui_putf(t, y, x + 1, w - 1, TUI_C_OK, "%s %s: done (%u file%s changed, %u command%s run). Enter: next",
			 t->g->ok, what, s->result.files_changed, s->result.files_changed == 1 ? "" : "s",
			 s->result.commands_run, s->result.commands_run == 1 ? "" : "s");
	tui_hline(t, y + 1, x, w, TUI_C_FRAME);
	draw_output(t, s, y + 2, x + 1, h - 3, w - 2);
	tui_put(t, y + h - 1, x + 1, w - 1, TUI_C_DIM, false,
		s->running ? "F4: the whole log. Quit asks first: the journal lets the wizard finish later." :
			     "Enter: next; F4: the whole log");
}

static void draw_done(struct tui *t, struct setup *s, int y, int x, int h, int w)
{
	char text[2048];
	char *backup = nr_plan_backup_dir(t->ctx, NULL);
	int line = 0;

	if (s->rc < 0) {
		tui_putf(t, y + line++, x + 1, w - 1, TUI_C_FAIL, "%s %s did not complete.", t->g->fail,
			 s->op == OP_REVERT ? "The revert" : "The apply");
		snprintf(text, sizeof(text),
			 "%s\n\nThe journal keeps what was done. Open this wizard again (F2) to finish it or roll it "
			 "back; F8 reverts. From a shell: neuronctl vfio status.", s->err.msg);
		tui_wrap(t, y + line + 1, x + 1, h - line - 2, w - 2, TUI_C_NORMAL, text);
	} else if (s->op == OP_REVERT) {
		tui_putf(t, y + line++, x + 1, w - 1, TUI_C_OK, "%s Reverted: every file is as it was before.", t->g->ok);
		tui_wrap(t, y + line + 1, x + 1, h - line - 2, w - 2, TUI_C_NORMAL,
			 "Reboot so that the host drivers take the GPU back at boot. Nothing else is left: the "
			 "backups and the journal are gone with the revert.");
	} else if (s->have_status && s->status.n_gpus == 0) {
		tui_putf(t, y + line++, x + 1, w - 1, TUI_C_OK, "%s The kernel parameters that turn the IOMMU on are set.",
			 t->g->ok);
		snprintf(text, sizeof(text),
			 "What now: turn on %s in the firmware setup, reboot, then open this wizard again (F2) "
			 "to choose the GPU.\n\nHow to undo: F8 here (or neuronctl vfio revert).",
			 nr_iommu_params(t->scan->host.cpu_vendor)->firmware);
		tui_wrap(t, y + line + 1, x + 1, h - line - 2, w - 2, TUI_C_NORMAL, text);
	} else {
		char gpus[128] = "";
		for (size_t i = 0; s->have_status && i < s->status.n_gpus; i++)
			snprintf(gpus + strlen(gpus), sizeof(gpus) - strlen(gpus), "%s%s", i ? " " : "", s->status.gpus[i]);
		tui_putf(t, y + line++, x + 1, w - 1, TUI_C_OK, "%s The passthrough set-up is in place for GPU %s.", t->g->ok,
			 gpus[0] ? gpus : s->gpu_addr);
		snprintf(text, sizeof(text),
			 "What now: reboot. At the next boot vfio-pci takes the GPU before its driver does; "
			 "then the GPUs panel (2) shows it \"on vfio-pci\", and the new-VM wizard (F3) gives it "
			 "to a VM.\n\nHow to undo: F8 here (or neuronctl vfio revert) puts every file back byte for "
			 "byte from %s and runs the commands again; then reboot.%s",
			 backup ? backup : "the backup directory",
			 t->opts.demo ? "\n\nDemo: this happened in a scratch root that is removed when you quit; "
					"the commands were stand-ins." : "");
		tui_wrap(t, y + line + 1, x + 1, h - line - 2, w - 2, TUI_C_NORMAL, text);
	}
	free(backup);
	tui_put(t, y + h - 1, x + 1, w - 1, TUI_C_DIM, false, "Enter or Esc: close the wizard");
}

static void draw_status_files(struct tui *t, struct setup *s, int y, int x, int h, int w)
{
	const struct nr_plan_status *ps = &s->status.plan;
	int line = 0;

	for (size_t i = 0; i < ps->n_files && line < h; i++) {
		const struct nr_plan_status_file *f = &ps->files[i];
		char path[300];
		tui_clean(t, path, sizeof(path), f->path);
		tui_putf(t, y + line++, x, w, f->modified ? TUI_C_WARN : TUI_C_NORMAL, "%s %-44s %s%s",
			 t->g->bullet, path,
			 f->created ? "created: will be removed" : f->removed ? "removed: will come back" :
								   "edited: original comes back",
			 f->modified ? " (changed since!)" : "");
	}
	for (size_t i = 0; i < ps->n_commands && line < h; i++) {
		char cmd[300];
		tui_clean(t, cmd, sizeof(cmd), ps->commands[i]);
		tui_putf(t, y + line++, x, w, TUI_C_WARN, "$ %s", cmd);
	}
}

static void draw_revert(struct tui *t, struct setup *s, int y, int x, int h, int w)
{
	int line = 0;

	if (!s->have_status || s->status.plan.state == NR_PLAN_STATE_NONE) {
		tui_put(t, y + line++, x + 1, w - 1, TUI_C_INFO, false, "Nothing to revert: neuron has not set up VFIO on this root.");
		tui_put(t, y + h - 1, x + 1, w - 1, TUI_C_DIM, false, "Esc: close");
		return;
	}
	tui_putf(t, y + line++, x + 1, w - 1, TUI_C_INFO, "Set up for GPU %s (%s). Reverting changes:",
		 s->status.n_gpus ? s->status.gpus[0] : "?", nr_plan_state_name(s->status.plan.state));
	draw_status_files(t, s, y + line, x + 1, h - line - 2, w - 2);
	tui_put(t, y + h - 1, x + 1, w - 1, TUI_C_DIM, false, "Enter: revert (asks first); Esc: close");
}

static void draw_resume(struct tui *t, struct setup *s, int y, int x, int h, int w)
{
	bool applying = s->status.plan.state == NR_PLAN_STATE_APPLYING;
	int line = 0;

	tui_putf(t, y + line++, x + 1, w - 1, TUI_C_WARN, "%s %s was interrupted (a crash or a power cut).", t->g->warn,
		 applying ? "An apply" : "A revert");
	line += tui_wrap(t, y + line, x + 1, 3, w - 2, TUI_C_NORMAL,
			 applying ? "Some files may be new, others old. Finish it (f): the rest is written and the "
				    "commands run. Or roll it back (r): every file goes back to its original."
				  : "Roll it back to the end (r): every file goes back to its original.");
	line++;
	draw_status_files(t, s, y + line, x + 1, h - line - 2, w - 2);
	tui_put(t, y + h - 1, x + 1, w - 1, TUI_C_DIM, false,
		applying ? "f: finish the apply; r: roll it back; Esc: later" : "r: finish rolling back; Esc: later");
}

static void setup_draw(struct tui *t, struct tui_view *v, int y0, int x0, int h, int w)
{
	struct setup *s = S(v);

	draw_steps(t, s, y0, x0, w);
	switch (s->step) {
	case STEP_CHECKLIST: draw_checklist(t, s, y0 + 1, x0, h - 1, w); break;
	case STEP_PICK_GPU: draw_pick_gpu(t, s, y0 + 1, x0, h - 1, w); break;
	case STEP_REVIEW: draw_review(t, v, s, y0 + 1, x0, h - 1, w); break;
	case STEP_APPLY: draw_apply(t, s, y0 + 1, x0, h - 1, w); break;
	case STEP_DONE: draw_done(t, s, y0 + 1, x0, h - 1, w); break;
	case STEP_REVERT: draw_revert(t, s, y0 + 1, x0, h - 1, w); break;
	case STEP_RESUME: draw_resume(t, s, y0 + 1, x0, h - 1, w); break;
	default: break;
	}
}

/* ---- the operations, in a job ---- */

static void plan_output(void *userdata, enum nr_plan_event ev, const char *text)
{
	struct setup_job *sj = userdata;

	switch (ev) {
	case NR_PLAN_EV_STEP:
		tui_job_log(sj->job, "%s", text);
		break;
	case NR_PLAN_EV_COMMAND:
		tui_job_log(sj->job, "$ %s", text);
		break;
	case NR_PLAN_EV_NOTE:
		tui_job_log(sj->job, "note: %s", text);
		break;
	case NR_PLAN_EV_OUTPUT: {
		/* whole lines into the log as they come; a partial line waits for its end */
		const char *p = text;
		for (;;) {
			const char *nl = strchr(p, '\n');
			if (!nl) {
				nr_buf_puts(&sj->partial, p);
				break;
			}
			nr_buf_append(&sj->partial, p, (size_t)(nl - p));
			tui_job_log(sj->job, "  %s", sj->partial.data ? sj->partial.data : "");
			nr_buf_done(&sj->partial);
			nr_buf_init(&sj->partial);
			p = nl + 1;
		}
		break;
	}
	}
}

static int op_run(struct tui_job *job, void *arg, struct nr_error *err)
{
	struct setup_job *sj = arg;
	struct setup *s = S(sj->v);
	struct tui *t = tui_job_tui(job);
	int rc;

	sj->job = job;
	if (s->op == OP_APPLY)
		rc = nr_plan_apply(s->vp->plan, &sj->opts, &s->result, err);
	else if (s->op == OP_FINISH)
		rc = nr_plan_finish(t->ctx, NR_VFIO_PLAN_NAME, &sj->opts, &s->result, err);
	else
		rc = nr_plan_revert(t->ctx, NR_VFIO_PLAN_NAME, &sj->opts, &s->result, err);
	if (sj->partial.len)
		tui_job_log(job, "  %s", sj->partial.data);
	return rc;
}

static void op_done(struct tui *t, int rc, const struct nr_error *err, void *arg)
{
	struct setup_job *sj = arg;
	struct setup *s = S(sj->v);

	s->running = false;
	s->finished = true;
	s->rc = rc;
	if (rc < 0) {
		s->err = *err;
		tui_dialog_error(t, s->op == OP_REVERT ? "The revert failed" : "The apply failed", err);
	}
	nr_buf_done(&sj->partial);
	free(sj);
	read_status(t, s);
}

static int start_op(struct tui *t, struct tui_view *v, enum setup_op op)
{
	struct setup *s = S(v);
	struct setup_job *sj = tui_xcalloc(1, sizeof(*sj));

	sj->v = v;
	nr_buf_init(&sj->partial);
	sj->opts.output = plan_output;
	sj->opts.userdata = sj;
	s->op = op;
	s->running = true;
	s->finished = false;
	s->rc = 0;
	memset(&s->result, 0, sizeof(s->result));
	nr_error_clear(&s->err);
	s->step = STEP_APPLY;
	s->log_from = tui_log_count(t);
	if (tui_job_start(t, op == OP_APPLY ? "Applying the VFIO plan" : op == OP_FINISH ?
			  "Finishing the interrupted VFIO apply" : "Reverting the VFIO set-up", op_run, op_done,
			  sj) < 0) {
		s->running = false;
		free(sj);
		s->step = op == OP_APPLY ? STEP_REVIEW : op == OP_FINISH ? STEP_RESUME : STEP_REVERT;
	}
	return TUI_REDRAW;
}

static int apply_confirmed(struct tui *t, void *opaque)
{
	return start_op(t, opaque, OP_APPLY);
}

static int revert_confirmed(struct tui *t, void *opaque)
{
	return start_op(t, opaque, OP_REVERT);
}

/* The plan for the picked GPU; with the IOMMU off, the plan that turns it on. */
static int make_plan(struct tui *t, struct setup *s)
{
	const char *gpus[2] = { s->gpu_addr, NULL };
	struct nr_vfio_opts opts = { .gpus = t->scan->iommu && s->gpu_addr[0] ? gpus : NULL };
	struct nr_error err = { 0 };

	nr_vfio_plan_free(s->vp);
	s->vp = NULL;
	if (nr_vfio_plan_new(t->ctx, t->scan, &opts, &s->vp, &err) < 0) {
		tui_dialog_error(t, "No plan for this GPU", &err);
		return -1;
	}
	build_review(t, s);
	tui_log(t, "setup: planned %s: %zu edits, %zu commands", s->vp->params_only ? "the IOMMU" : s->gpu_addr,
		nr_plan_n_edits(s->vp->plan), nr_plan_n_commands(s->vp->plan));
	return 0;
}

static void confirm_apply(struct tui *t, struct tui_view *v, struct setup *s)
{
	size_t changing = 0;
	struct nr_buf cmds;

	for (size_t i = 0; i < nr_plan_n_edits(s->vp->plan); i++)
		changing += nr_plan_edit(s->vp->plan, i)->changes;
	nr_buf_init(&cmds);
	for (size_t i = 0; i < nr_plan_n_commands(s->vp->plan); i++) {
		char *line = nr_plan_command_line(nr_plan_command(s->vp->plan, i)->argv);
		nr_buf_printf(&cmds, "%s%s", i ? ", " : "", line ? line : "?");
		free(line);
	}
	tui_dialog_confirm(t, "Apply the plan", apply_confirmed, v,
			   "Write %zu file%s in the target root (each original kept for revert), then run: %s.%s "
			   "The GPU leaves the host at the next boot.",
			   changing, changing == 1 ? "" : "s", cmds.data ? cmds.data : "nothing",
			   t->opts.demo ? " Demo: a scratch root; the commands are stand-ins that only print." : "");
	nr_buf_done(&cmds);
}

static int setup_action(struct tui *t, struct tui_view *v, enum tui_action a)
{
	struct setup *s = S(v);

	if (!t->scan) {
		if (a == TUI_ACT_BACK)
			return TUI_CLOSE;
		return TUI_IGNORED;
	}
	if (a == TUI_ACT_REVERT) {
		if (s->running)
			return TUI_HANDLED;
		read_status(t, s);
		s->step = s->have_status && (s->status.plan.state == NR_PLAN_STATE_APPLYING ||
					     s->status.plan.state == NR_PLAN_STATE_REVERTING) ? STEP_RESUME : STEP_REVERT;
		return TUI_HANDLED;
	}
	switch (s->step) {
	case STEP_CHECKLIST:
		switch (a) {
		case TUI_ACT_UP:
			if (s->check_sel)
				s->check_sel--;
			return TUI_HANDLED;
		case TUI_ACT_DOWN:
			if (s->check_sel + 1 < s->check.n_items)
				s->check_sel++;
			return TUI_HANDLED;
		case TUI_ACT_NEXT:
			if (!t->scan->iommu) {
				/* not a dead end: the plan that turns the IOMMU on comes first */
				if (make_plan(t, s) == 0)
					s->step = STEP_REVIEW;
				return TUI_HANDLED;
			}
			if (t->scan->n_gpus == 0) {
				tui_dialog_info(t, "Not yet", "%s", "This machine has no GPU to give to a guest.");
				return TUI_HANDLED;
			}
			s->step = STEP_PICK_GPU;
			return TUI_HANDLED;
		case TUI_ACT_BACK:
			return TUI_CLOSE;
		default:
			return TUI_IGNORED;
		}
	case STEP_PICK_GPU:
		switch (a) {
		case TUI_ACT_UP:
			if (s->gpu_sel)
				s->gpu_sel--;
			return TUI_HANDLED;
		case TUI_ACT_DOWN:
			if (s->gpu_sel + 1 < t->scan->n_gpus)
				s->gpu_sel++;
			return TUI_HANDLED;
		case TUI_ACT_NEXT:
			if (pick_gpu(t, s) == 0 && make_plan(t, s) == 0)
				s->step = STEP_REVIEW;
			return TUI_HANDLED;
		case TUI_ACT_BACK:
			s->step = STEP_CHECKLIST;
			return TUI_HANDLED;
		default:
			return TUI_IGNORED;
		}
	case STEP_REVIEW:
		if (a == TUI_ACT_NEXT) {
			confirm_apply(t, v, s);
			return TUI_HANDLED;
		}
		if (a == TUI_ACT_BACK) {
			s->step = t->scan->iommu ? STEP_PICK_GPU : STEP_CHECKLIST;
			return TUI_HANDLED;
		}
		return tui_pane_action(&s->review, a);
	case STEP_APPLY:
		if (s->running)
			return a == TUI_ACT_NEXT || a == TUI_ACT_BACK ? TUI_HANDLED : TUI_IGNORED;
		if (a == TUI_ACT_NEXT || a == TUI_ACT_BACK) {
			s->step = STEP_DONE;
			return TUI_HANDLED;
		}
		return TUI_IGNORED;
	case STEP_DONE:
		if (a == TUI_ACT_NEXT || a == TUI_ACT_BACK)
			return TUI_CLOSE | TUI_RESCAN;
		return TUI_IGNORED;
	case STEP_REVERT:
		if (a == TUI_ACT_BACK)
			return TUI_CLOSE;
		if (a == TUI_ACT_NEXT && s->have_status && s->status.plan.state != NR_PLAN_STATE_NONE) {
			tui_dialog_confirm(t, "Revert", revert_confirmed, v,
					   "Put back the %zu file%s listed (byte for byte from the backups), remove the "
					   "ones neuron created, then run the commands again?%s",
					   s->status.plan.n_files, s->status.plan.n_files == 1 ? "" : "s",
					   t->opts.demo ? " Demo: a scratch root; the commands are stand-ins." : "");
			return TUI_HANDLED;
		}
		return TUI_IGNORED;
	case STEP_RESUME:
		if (a == TUI_ACT_BACK)
			return TUI_CLOSE;
		if (a == TUI_ACT_FINISH && s->status.plan.state == NR_PLAN_STATE_APPLYING) {
			/* exactly what was started, as its journal recorded it (every GPU of it) */
			snprintf(s->gpu_addr, sizeof(s->gpu_addr), "%s", s->status.n_gpus ? s->status.gpus[0] : "");
			return start_op(t, v, OP_FINISH);
		}
		if (a == TUI_ACT_ROLLBACK) {
			tui_dialog_confirm(t, "Roll back", revert_confirmed, v,
					   "Put every file back to its original and remove what the interrupted "
					   "operation created?");
			return TUI_HANDLED;
		}
		return TUI_IGNORED;
	default:
		return TUI_IGNORED;
	}
}

static void setup_status(struct tui *t, struct tui_view *v, char *buf, size_t size)
{
	(void)v;
	snprintf(buf, size, "%s: nothing changes until you confirm. F1: keys",
		 t->opts.demo ? "Demo, scratch root" : "Setup wizard");
}

const struct tui_view_ops tui_wizard_setup_ops = {
	.name = "setup",
	.title = "Set up passthrough",
	.scope = TUI_SCOPE_WIZARD,
	.reload = setup_refresh,
	.draw = setup_draw,
	.action = setup_action,
	.status = setup_status,
	.done = setup_done,
};
