/* Wizard 2, new VM: pick a profile -> a form over its main keys (core's nr_profile_set,
 * the same names and checks as the YAML) -> the domain XML core builds (nr_domain_build)
 * -> define it and start it (nr_vm_create, nr_vm_start) as a background operation. */
#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui.h"
#include "neuron/domain.h"
#include "neuron/profile.h"
#include "neuron/vm.h"

enum vm_step { VSTEP_PROFILE, VSTEP_FORM, VSTEP_XML, VSTEP_CREATE, VSTEP_COUNT };

static const char *const vstep_titles[VSTEP_COUNT] = {
	"1 Profile", "2 Settings", "3 Review XML", "4 Define",
};

/* The form: profile keys in the user's words. "start" is the wizard's own. */
static const struct {
	const char *key, *label;
} fields[] = {
	{ "name", "Name" },
	{ "memory", "Memory" },
	{ "cpu.vcpus", "CPUs" },
	{ "disk.path", "Disk image" },
	{ "disk.size", "Disk size" },
	{ "iso", "Install ISO" },
	{ "gpu", "GPU" },
	{ "looking_glass.resolution", "Looking Glass" },
	{ "start", "Start it now" },
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

#define MAX_PROFILES 32

struct vmwiz {
	enum vm_step step;
	char dir[PATH_MAX / 2];
	char *files[MAX_PROFILES];
	char *descs[MAX_PROFILES];
	size_t n_files, file_sel;
	struct nr_profile *profile;
	char values[NFIELDS][256];
	size_t field;
	char *xml;
	size_t xml_top, xml_lines;
	/* the operation */
	bool running, finished;
	int rc;
	struct nr_error err;
	char result[1024];
};

struct create_job {
	struct vmwiz *w;                /* valid while the wizard is open: it waits for the job */
	struct nr_profile *profile;
	char *xml;
	bool start;
	char summary[1024];
};

static struct vmwiz *W(struct tui_view *v)
{
	return v->priv;
}

/* profiles/ beside the program (build/neuron-tui -> config/profiles), then the system's */
static void find_profiles(struct vmwiz *w)
{
	char exe[PATH_MAX / 4], tmp[PATH_MAX / 4];
	const char *cands[3];
	char c0[PATH_MAX / 2], c1[PATH_MAX / 2];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0)
		n = 0;
	exe[n] = '\0';
	snprintf(tmp, sizeof(tmp), "%s", exe);
	const char *dir = dirname(tmp);
	snprintf(c0, sizeof(c0), "%s/../config/profiles", dir);
	cands[0] = getenv("NEURON_PROFILES") && getenv("NEURON_PROFILES")[0] ? getenv("NEURON_PROFILES") : c0;
	/* installed: PREFIX/bin/neuron-tui -> PREFIX/share/neuron/profiles */
	snprintf(c1, sizeof(c1), "%s/../share/neuron/profiles", dir);
	cands[1] = c1;
	cands[2] = "/usr/share/neuron/profiles";
	for (size_t c = 0; c < 3 && !w->n_files; c++) {
		struct dirent **ents = NULL;
		int m = scandir(cands[c], &ents, NULL, alphasort);

		for (int i = 0; i < m; i++) {
			const char *nm = ents[i]->d_name;
			size_t len = strlen(nm);

			if (len > 5 && strcmp(nm + len - 5, ".yaml") == 0 && w->n_files < MAX_PROFILES) {
				char path[PATH_MAX];
				snprintf(path, sizeof(path), "%s/%s", cands[c], nm);
				w->files[w->n_files] = tui_xstrdup(path);
				/* the first comment line says what the profile is for */
				FILE *f = fopen(path, "r");
				char line[256] = "";
				if (f) {
					if (fgets(line, sizeof(line), f) && line[0] == '#') {
						size_t skip = strspn(line, "# ");
						line[strcspn(line, "\n")] = '\0';
						memmove(line, line + skip, strlen(line + skip) + 1);
					} else {
						line[0] = '\0';
					}
					fclose(f);
				}
				w->descs[w->n_files++] = tui_xstrdup(line);
			}
			free(ents[i]);
		}
		free(ents);
		if (w->n_files)
			snprintf(w->dir, sizeof(w->dir), "%s", cands[c]);
	}
}

static void vm_reload(struct tui *t, struct tui_view *v)
{
	(void)t;
	if (!v->priv) {
		struct vmwiz *w = v->priv = tui_xcalloc(1, sizeof(struct vmwiz));
		find_profiles(w);
	}
}

static void vm_done(struct tui *t, struct tui_view *v)
{
	struct vmwiz *w = W(v);

	if (!w)
		return;
	if (w->running)
		tui_job_reap(t, true);  /* the job points into w */
	for (size_t i = 0; i < w->n_files; i++) {
		free(w->files[i]);
		free(w->descs[i]);
	}
	nr_profile_free(w->profile);
	free(w->xml);
	free(w);
	v->priv = NULL;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* Read the chosen profile (the demo moves its disk into the scratch root). */
static int open_profile(struct tui *t, struct vmwiz *w)
{
	struct nr_error err = { 0 };

	nr_profile_free(w->profile);
	w->profile = NULL;
	if (nr_profile_load(w->files[w->file_sel], &w->profile, &err) < 0) {
		tui_dialog_error(t, "Cannot read the profile", &err);
		return -1;
	}
	if (t->opts.demo) {
		/* the demo makes its disk image in the scratch root, never in /var/lib/libvirt */
		char path[600];
		snprintf(path, sizeof(path), "%s/var/lib/libvirt/images/%s.img", nr_ctx_get(t->ctx, "root"),
			 w->profile->name);
		nr_profile_set(w->profile, "disk.path", path, NULL);
		nr_profile_set(w->profile, "disk.format", "raw", NULL);
	}
	return 0;
}

/* ... and fill the form from it. */
static int load_profile(struct tui *t, struct vmwiz *w)
{
	if (open_profile(t, w) < 0)
		return -1;
	for (size_t i = 0; i < NFIELDS; i++) {
		char *val = strcmp(fields[i].key, "start") == 0 ? tui_xstrdup("yes") : nr_profile_get(w->profile, fields[i].key);
		snprintf(w->values[i], sizeof(w->values[i]), "%s", val ? val : "");
		free(val);
	}
	w->field = 0;
	tui_log(t, "new VM: profile %s", w->files[w->file_sel]);
	return 0;
}

/* Push the form into the profile (core checks each value), then build the XML. */
static int build_xml(struct tui *t, struct vmwiz *w)
{
	struct nr_error err = { 0 };

	for (size_t i = 0; i < NFIELDS; i++) {
		if (strcmp(fields[i].key, "start") == 0) {
			if (strcmp(w->values[i], "yes") && strcmp(w->values[i], "no")) {
				nr_error_set(&err, -NR_E_INVAL, "Start it now: yes or no, not '%s'", w->values[i]);
				w->field = i;
				tui_dialog_error(t, "Check the form", &err);
				return -1;
			}
			continue;
		}
		if (nr_profile_set(w->profile, fields[i].key, w->values[i][0] ? w->values[i] : NULL, &err) < 0) {
			nr_error_prefix(&err, "%s: ", fields[i].label);
			w->field = i;
			tui_dialog_error(t, "Check the form", &err);
			return -1;
		}
	}
	free(w->xml);
	w->xml = NULL;
	if (nr_domain_build(w->profile, t->ctx, t->scan, &w->xml, &err) < 0) {
		tui_dialog_error(t, "Cannot build the VM", &err);
		return -1;
	}
	w->xml_lines = 1;
	for (const char *p = w->xml; *p; p++)
		w->xml_lines += *p == '\n';
	w->xml_top = 0;
	return 0;
}

/* ---- the operation ---- */

static int create_run(struct tui_job *job, void *arg, struct nr_error *err)
{
	struct create_job *cj = arg;
	struct tui *t = tui_job_tui(job);
	struct nr_vm_created made;
	size_t o = 0;
	int rc;

	tui_job_log(job, "defining VM %s on %s", cj->profile->name, nr_virt_uri(t->virt));
	rc = nr_vm_create(t->virt, cj->profile, cj->xml, &made, err);
	if (rc < 0)
		return rc;
	if (made.disk != NR_VM_DISK_NONE) {
		char *path = nr_profile_get(cj->profile, "disk.path");
		/* the screen says created or kept; how (qemu-img, a pool, a sparse file) goes to the log */
		o += (size_t)snprintf(cj->summary + o, sizeof(cj->summary) - o, "Disk %s: %s.\n", path ? path : "?",
				      made.disk == NR_VM_DISK_EXISTS ? "exists, kept" : "created");
		tui_job_log(job, "disk %s: %s", path ? path : "?",
			    made.disk == NR_VM_DISK_EXISTS ? "exists, kept" :
			    made.disk == NR_VM_DISK_QEMU_IMG ? "created with qemu-img" :
			    made.disk == NR_VM_DISK_SPARSE ? "created (sparse raw file)" : "created in a storage pool");
		free(path);
	}
	o += (size_t)snprintf(cj->summary + o, sizeof(cj->summary) - o, "VM %s defined on %s.\n",
			      cj->profile->name, nr_virt_uri(t->virt));
	if (cj->start) {
		rc = nr_vm_start(t->virt, cj->profile->name, err);
		if (rc < 0)
			return rc;
		snprintf(cj->summary + o, sizeof(cj->summary) - o, "VM %s started.\n", cj->profile->name);
		tui_job_log(job, "VM %s started", cj->profile->name);
	}
	return 0;
}

static void create_done(struct tui *t, int rc, const struct nr_error *err, void *arg)
{
	struct create_job *cj = arg;
	struct vmwiz *w = cj->w;

	w->running = false;
	w->finished = true;
	w->rc = rc;
	if (rc < 0) {
		w->err = *err;
		tui_dialog_error(t, "The VM was not created", err);
	}
	snprintf(w->result, sizeof(w->result), "%s", cj->summary);
	if (rc == 0)
		snprintf(t->want_vm, sizeof(t->want_vm), "%s", cj->profile->name);
	nr_profile_free(cj->profile);
	free(cj->xml);
	free(cj);
	tui_refresh_views(t);
}

static int create_confirmed(struct tui *t, void *opaque)
{
	struct tui_view *v = opaque;
	struct vmwiz *w = W(v);
	struct create_job *cj = tui_xcalloc(1, sizeof(*cj));

	cj->w = w;
	cj->start = strcmp(w->values[NFIELDS - 1], "yes") == 0;
	cj->xml = tui_xstrdup(w->xml);
	/* the job takes the profile: the form cannot change it under the job */
	cj->profile = w->profile;
	w->profile = NULL;
	w->step = VSTEP_CREATE;
	w->running = true;
	w->finished = false;
	w->result[0] = '\0';
	char title[300];
	snprintf(title, sizeof(title), "Creating VM %s", cj->profile->name);
	if (tui_job_start(t, title, create_run, create_done, cj) < 0) {
		w->running = false;
		w->profile = cj->profile;
		free(cj->xml);
		free(cj);
		w->step = VSTEP_XML;
	}
	return TUI_REDRAW;
}

/* ---- drawing ---- */

static void draw_steps(struct tui *t, struct vmwiz *w, int y, int x, int width)
{
	int o = 1;

	tui_put(t, y, x, width, TUI_C_NORMAL, true, "");
	for (int i = 0; i < VSTEP_COUNT; i++) {
		if (i)
			o += tui_put(t, y, x + o, width - o, TUI_C_DIM, false, " > ");
		o += tui_put(t, y, x + o, width - o, (int)w->step == i ? TUI_C_TAB_ACTIVE : TUI_C_DIM, false,
			     vstep_titles[i]);
	}
}

static void draw_profiles(struct tui *t, struct vmwiz *w, int y, int x, int h, int width)
{
	int line = 0;

	tui_put(t, y + line++, x + 1, width - 1, TUI_C_INFO, false, "Start from which profile? (YAML, see docs/profiles.md)");
	if (!w->n_files) {
		tui_put(t, y + line, x + 1, width - 1, TUI_C_FAIL, false,
			"No profiles found (config/profiles beside the program, /usr/share/neuron/profiles).");
		return;
	}
	for (size_t i = 0; i < w->n_files && line < h - 2; i++) {
		bool sel = i == w->file_sel;
		enum tui_color base = sel ? TUI_C_SELECTED : TUI_C_NORMAL;

		if (sel)
			tui_put(t, y + line, x, width, TUI_C_SELECTED, true, sel ? t->g->pointer : "");
		tui_put_clean(t, y + line, x + 2, 18, base, base_name(w->files[i]));
		tui_put_clean(t, y + line, x + 20, width - 20, base, w->descs[i]);
		line++;
	}
	tui_put(t, y + h - 1, x + 1, width - 1, TUI_C_DIM, false, "Up/Down: choose; Enter: adjust its settings; Esc: leave");
}

static void draw_form(struct tui *t, struct vmwiz *w, int y, int x, int h, int width)
{
	int line = 0;

	tui_putf(t, y + line++, x + 1, width - 1, TUI_C_INFO, "Settings (from %s): type to change, BkSp erases",
		 base_name(w->files[w->file_sel]));
	line++;
	for (size_t i = 0; i < NFIELDS && line < h - 4; i++) {
		bool sel = i == w->field;
		char val[256];

		tui_putf(t, y + line, x + 1, 17, sel ? TUI_C_INFO : TUI_C_NORMAL, "%s%-15s", sel ? t->g->pointer : " ",
			 fields[i].label);
		tui_clean(t, val, sizeof(val), w->values[i]);
		tui_put(t, y + line, x + 18, width - 20, sel ? TUI_C_FIELD_ACTIVE : TUI_C_FIELD, true, val);
		if (sel)
			tui_put(t, y + line, x + 18 + (tui_text_width(val) < width - 21 ? tui_text_width(val) : width - 21), 1,
				TUI_C_FIELD_ACTIVE, false, "_");
		line++;
	}
	line++;
	{
		const char *help = NULL;
		for (size_t i = 0; nr_profile_key(i, &help); i++)
			if (strcmp(nr_profile_key(i, &help), fields[w->field].key) == 0)
				break;
		if (strcmp(fields[w->field].key, "start") == 0)
			help = "yes: start the VM once it is defined; no: only define it";
		if (t->opts.demo && strcmp(fields[w->field].key, "disk.path") == 0)
			help = "demo: the image is made in the scratch root (a sparse file), never in /var/lib/libvirt";
		tui_hline(t, y + line - 1, x, width, TUI_C_FRAME);
		if (help)
			tui_wrap(t, y + line, x + 1, h - line - 1, width - 2, TUI_C_NORMAL, help);
	}
	tui_put(t, y + h - 1, x + 1, width - 1, TUI_C_DIM, false, "Up/Down: field; Enter: check and build the XML; Esc: back");
}

static void draw_xml(struct tui *t, struct tui_view *v, struct vmwiz *w, int y, int x, int h, int width)
{
	const char *p = w->xml ? w->xml : "";
	size_t ln = 0;
	int rows = h - 2;

	v->list_h = rows;
	tui_putf(t, y, x + 1, width - 1, TUI_C_INFO, "The domain XML for %s (lines %zu-%zu of %zu)",
		 w->profile ? w->profile->name : "?", w->xml_top + 1,
		 w->xml_top + (size_t)rows < w->xml_lines ? w->xml_top + (size_t)rows : w->xml_lines, w->xml_lines);
	while (*p && ln < w->xml_top + (size_t)rows) {
		size_t n = strcspn(p, "\n");
		if (ln >= w->xml_top) {
			char line[512], clean[512];
			size_t len = n < sizeof(line) - 1 ? n : sizeof(line) - 1;
			memcpy(line, p, len);
			line[len] = '\0';
			tui_clean(t, clean, sizeof(clean), line);
			tui_put(t, y + 1 + (int)(ln - w->xml_top), x + 1, width - 1,
				strstr(clean, "<hostdev") || strstr(clean, "<shmem") || strstr(clean, "<channel") ?
					TUI_C_DIFF_ADD : TUI_C_NORMAL,
				false, clean);
		}
		ln++;
		p += n;
		if (*p)
			p++;
	}
	tui_put(t, y + h - 1, x + 1, width - 1, TUI_C_DIM, false,
		"Up/Down/PgUp/PgDn: scroll; Enter: define the VM (asks first); Esc: back");
}

static void draw_create(struct tui *t, struct vmwiz *w, int y, int x, int h, int width)
{
	int line = 0;

	if (w->running) {
		tui_putf(t, y + line++, x + 1, width - 1, TUI_C_INFO, "%s Creating the VM ...", t->g->running);
	} else if (w->rc < 0) {
		tui_putf(t, y + line++, x + 1, width - 1, TUI_C_FAIL, "%s The VM was not created:", t->g->fail);
		line += tui_wrap(t, y + line, x + 1, 4, width - 2, TUI_C_NORMAL, w->err.msg);
	} else {
		tui_putf(t, y + line++, x + 1, width - 1, TUI_C_OK, "%s Done.", t->g->ok);
		line += tui_wrap(t, y + line, x + 1, 6, width - 2, TUI_C_NORMAL, w->result);
		line++;
		line += tui_wrap(t, y + line, x + 1, 6, width - 2, TUI_C_NORMAL,
				 "Next: the VMs panel (3) shows it live; s starts it, d shuts it down. Install Windows "
				 "from the ISO, then the Looking Glass host application and the NeuronOS agent in it.");
	}
	tui_put(t, y + h - 1, x + 1, width - 1, TUI_C_DIM, false,
		w->running ? "The screen stays live; F4 shows the log." :
		w->rc < 0 ? "Enter or Esc: back to the form" : "Enter: to the VMs panel; Esc: close");
}

static void vm_draw(struct tui *t, struct tui_view *v, int y0, int x0, int h, int w)
{
	struct vmwiz *wz = W(v);

	draw_steps(t, wz, y0, x0, w);
	switch (wz->step) {
	case VSTEP_PROFILE: draw_profiles(t, wz, y0 + 1, x0, h - 1, w); break;
	case VSTEP_FORM: draw_form(t, wz, y0 + 1, x0, h - 1, w); break;
	case VSTEP_XML: draw_xml(t, v, wz, y0 + 1, x0, h - 1, w); break;
	case VSTEP_CREATE: draw_create(t, wz, y0 + 1, x0, h - 1, w); break;
	default: break;
	}
}

/* ---- keys ---- */

static int vm_text(struct tui *t, struct tui_view *v, int ch)
{
	struct vmwiz *w = W(v);
	size_t len = strlen(w->values[w->field]);

	(void)t;
	if (len + 1 < sizeof(w->values[0])) {
		w->values[w->field][len] = (char)ch;
		w->values[w->field][len + 1] = '\0';
	}
	return TUI_HANDLED;
}

static int vm_action(struct tui *t, struct tui_view *v, enum tui_action a)
{
	struct vmwiz *w = W(v);
	size_t page = v->list_h > 1 ? (size_t)v->list_h - 1 : 1;

	switch (w->step) {
	case VSTEP_PROFILE:
		if (a == TUI_ACT_UP && w->file_sel)
			w->file_sel--;
		else if (a == TUI_ACT_DOWN && w->file_sel + 1 < w->n_files)
			w->file_sel++;
		else if (a == TUI_ACT_NEXT && w->n_files && load_profile(t, w) == 0) {
			w->step = VSTEP_FORM;
			v->form_scope = TUI_SCOPE_FORM;
		} else if (a == TUI_ACT_BACK)
			return TUI_CLOSE;
		else if (a != TUI_ACT_UP && a != TUI_ACT_DOWN && a != TUI_ACT_NEXT)
			return TUI_IGNORED;
		return TUI_HANDLED;
	case VSTEP_FORM:
		switch (a) {
		case TUI_ACT_NEXT_FIELD:
			w->field = (w->field + 1) % NFIELDS;
			return TUI_HANDLED;
		case TUI_ACT_PREV_FIELD:
			w->field = (w->field + NFIELDS - 1) % NFIELDS;
			return TUI_HANDLED;
		case TUI_ACT_ERASE: {
			size_t len = strlen(w->values[w->field]);
			if (len)
				w->values[w->field][len - 1] = '\0';
			return TUI_HANDLED;
		}
		case TUI_ACT_NEXT:
			if (build_xml(t, w) == 0) {
				w->step = VSTEP_XML;
				v->form_scope = TUI_SCOPE_COUNT;
			}
			return TUI_HANDLED;
		case TUI_ACT_BACK:
			w->step = VSTEP_PROFILE;
			v->form_scope = TUI_SCOPE_COUNT;
			return TUI_HANDLED;
		default:
			return TUI_IGNORED;
		}
	case VSTEP_XML:
		switch (a) {
		case TUI_ACT_UP:
			if (w->xml_top)
				w->xml_top--;
			return TUI_HANDLED;
		case TUI_ACT_DOWN:
			if (w->xml_top + page < w->xml_lines)
				w->xml_top++;
			return TUI_HANDLED;
		case TUI_ACT_PAGE_UP:
			w->xml_top = w->xml_top > page ? w->xml_top - page : 0;
			return TUI_HANDLED;
		case TUI_ACT_PAGE_DOWN:
			if (w->xml_top + page < w->xml_lines)
				w->xml_top += page;
			return TUI_HANDLED;
		case TUI_ACT_TOP:
			w->xml_top = 0;
			return TUI_HANDLED;
		case TUI_ACT_BOTTOM:
			w->xml_top = w->xml_lines > page ? w->xml_lines - page : 0;
			return TUI_HANDLED;
		case TUI_ACT_NEXT: {
			if (!t->virt) {
				tui_dialog_error(t, "No libvirt connection", &t->virt_err);
				return TUI_HANDLED;
			}
			char *path = nr_profile_get(w->profile, "disk.path");
			char name[256], disk[512];
			tui_clean(t, name, sizeof(name), w->profile->name);
			tui_clean(t, disk, sizeof(disk), path ? path : "none");
			free(path);
			tui_dialog_confirm(t, "Define the VM", create_confirmed, v,
					   "Define VM %s on %s%s? Its disk image %s is created when missing. "
					   "Nothing else on the host changes.", name, nr_virt_uri(t->virt),
					   strcmp(w->values[NFIELDS - 1], "yes") == 0 ? " and start it" : "", disk);
			return TUI_HANDLED;
		}
		case TUI_ACT_BACK:
			w->step = VSTEP_FORM;
			v->form_scope = TUI_SCOPE_FORM;
			return TUI_HANDLED;
		default:
			return TUI_IGNORED;
		}
	case VSTEP_CREATE:
		if (w->running)
			return a == TUI_ACT_NEXT || a == TUI_ACT_BACK ? TUI_HANDLED : TUI_IGNORED;
		if (a == TUI_ACT_NEXT && w->rc == 0) {
			tui_focus_view(t, "vms");
			return TUI_CLOSE;
		}
		if (a == TUI_ACT_BACK || a == TUI_ACT_NEXT) {
			if (w->rc < 0 && !w->profile) {
				/* the profile went to the job; read it again, the form keeps its values */
				if (open_profile(t, w) < 0)
					return TUI_CLOSE;
			}
			w->step = w->rc < 0 ? VSTEP_FORM : VSTEP_XML;
			v->form_scope = w->step == VSTEP_FORM ? TUI_SCOPE_FORM : TUI_SCOPE_COUNT;
			if (w->rc == 0)
				return TUI_CLOSE;
			return TUI_HANDLED;
		}
		return TUI_IGNORED;
	default:
		return TUI_IGNORED;
	}
}

static void vm_status(struct tui *t, struct tui_view *v, char *buf, size_t size)
{
	(void)v;
	snprintf(buf, size, "New VM on %s: nothing is defined until you confirm. F1: keys",
		 t->virt ? nr_virt_uri(t->virt) : "(no libvirt)");
}

const struct tui_view_ops tui_wizard_vm_ops = {
	.name = "newvm",
	.title = "New VM",
	.scope = TUI_SCOPE_WIZARD,
	.reload = vm_reload,
	.draw = vm_draw,
	.action = vm_action,
	.text = vm_text,
	.status = vm_status,
	.done = vm_done,
};
