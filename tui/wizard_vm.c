/* Wizard 2, new VM: pick a profile -> a form over its main keys (core's nr_profile_set,
 * the same names and checks as the YAML) -> the domain XML core builds (nr_domain_build)
 * -> define it, make its guest-tools media and start it (nr_vm_create, nr_media_make,
 * nr_vm_start) as a background operation; the last step says what to run in the guest. */
#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui.h"
#include "neuron/domain.h"
#include "neuron/media.h"
#include "neuron/profile.h"
#include "neuron/single.h"
#include "neuron/unattend.h"
#include "neuron/vm.h"

enum vm_step { VSTEP_PROFILE, VSTEP_FORM, VSTEP_XML, VSTEP_CREATE, VSTEP_COUNT };

static const char *const vstep_titles[VSTEP_COUNT] = {
	"1 Profile", "2 Settings", "3 Review XML", "4 Define",
};

/* The form: profile keys in the user's words. A field with a group switches that group:
 * its off word there (disk: none, Looking Glass: off) turns it off, any other value on; a
 * field that needs a group is skipped while the group is off, so no value on the form is
 * ignored. "start" and the two passwords are the wizard's own: the passwords are asked for
 * an unattended install whose profile names no unattended.password_file, go into the
 * answers of the media and nowhere else (not the profile, not the log), and are wiped. */
static const struct {
	const char *key, *label;
	const char *group, *off;        /* the group this field switches, and its word for off */
	const char *off_help;
	const char *needs;              /* shown and used only while this group is on */
	bool secret;                    /* a password: see password_asked */
} fields[] = {
	{ "name", "Name", NULL, NULL, NULL, NULL, false },
	{ "memory", "Memory", NULL, NULL, NULL, NULL, false },
	{ "cpu.vcpus", "CPUs", NULL, NULL, NULL, NULL, false },
	{ "disk.path", "Disk image", "disk", "none", "none: a VM without a disk", NULL, false },
	{ "disk.size", "Disk size", NULL, NULL, NULL, "disk", false },
	{ "iso", "Install ISO", NULL, NULL, NULL, NULL, false },
	{ "gpu", "GPU", NULL, NULL, NULL, NULL, false },
	{ "looking_glass.resolution", "Looking Glass", "looking_glass", "off", "off: no Looking Glass device", NULL, false },
	{ "password", "Win password", NULL, NULL, NULL, NULL, true },
	{ "password2", "Password again", NULL, NULL, NULL, NULL, true },
	{ "start", "Start it now", NULL, NULL, NULL, NULL, false },
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))
#define FIELD_PASSWORD (NFIELDS - 3)
#define FIELD_START (NFIELDS - 1)

#define MAX_PROFILES 32

struct vmwiz {
	enum vm_step step;
	char dir[PATH_MAX / 2];
	char *files[MAX_PROFILES];
	char *descs[MAX_PROFILES];
	size_t n_files, file_sel;
	struct nr_profile *profile;
	struct tui_field values[NFIELDS];
	char loaded[NFIELDS][256];      /* as read from the profile: Esc asks when they differ */
	size_t field;
	char *xml;
	struct tui_pane xml_pane;
	/* the operation */
	bool running, finished;
	int rc;
	struct nr_error err;
	char result[1024];
	bool media;                     /* the guest-tools CD-ROM was made and attached */
	bool media_unattend, media_lg;  /* with autounattend.xml, with the Looking Glass installer */
};

struct create_job {
	struct vmwiz *w;                /* valid while the wizard is open: it waits for the job */
	struct nr_virt *virt;           /* the libvirt worker's connection (outlives the job) */
	const struct nr_ctx *ctx;       /* the program's parameters (outlive the job; only read) */
	struct nr_profile *profile;
	char *xml;
	bool start;
	bool single;                    /* it holds the boot GPU: single-GPU mode */
	bool media, media_unattend, media_lg;
	char *password;                 /* typed on the form (wiped and freed by the job), or NULL */
	char summary[1024];
};

static struct vmwiz *W(struct tui_view *v)
{
	return v->priv;
}

static void wipe(char *s)
{
	if (s) {
		volatile char *p = s;
		while (*p)
			*p++ = '\0';
	}
}

static void wipe_passwords(struct vmwiz *w)
{
	for (size_t i = 0; i < NFIELDS; i++)
		if (fields[i].secret) {
			wipe(w->values[i].text);
			tui_field_set(&w->values[i], "");
			w->loaded[i][0] = '\0';
		}
}

/* The form asks the password: an unattended install without a password file. */
static bool password_asked(const struct nr_profile *p)
{
	return p && p->unattended.enabled && !p->unattended.password_file;
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
	tui_pane_done(&w->xml_pane);
	wipe_passwords(w);
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
	if (t->opts.demo && nr_profile_on(w->profile, "disk")) {
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
		w->values[i].secret = fields[i].secret;
		if (fields[i].secret) {
			wipe(w->values[i].text);
			tui_field_set(&w->values[i], "");
			w->loaded[i][0] = '\0';
			continue;
		}
		char *val = strcmp(fields[i].key, "start") == 0 ? tui_xstrdup("yes") :
			    fields[i].group && !nr_profile_on(w->profile, fields[i].group) ? tui_xstrdup(fields[i].off) :
			    nr_profile_get(w->profile, fields[i].key);
		tui_field_set(&w->values[i], val ? val : "");
		snprintf(w->loaded[i], sizeof(w->loaded[i]), "%s", w->values[i].text);
		free(val);
	}
	w->field = 0;
	tui_log(t, "new VM: profile %s", w->files[w->file_sel]);
	/* the boot GPU alone: not a dead end, single-GPU mode is offered (the form says what it costs) */
	for (size_t i = 0; i < NFIELDS && t->scan; i++) {
		const struct nr_gpu *offer;
		if (strcmp(fields[i].key, "gpu") || strcmp(w->values[i].text, "auto") || nr_scan_best_gpu(t->scan) ||
		    !(offer = nr_single_gpu_offer(t->scan)))
			continue;
		tui_field_set(&w->values[i], t->scan->devices[offer->dev].addr);
		tui_log(t, "new VM: the only GPU is the boot GPU %s: offered in single-GPU mode",
			t->scan->devices[offer->dev].addr);
	}
	return 0;
}

/* The boot GPU when the form's GPU names it: the VM runs in single-GPU mode. */
static const struct nr_gpu *single_gpu(struct tui *t, const struct vmwiz *w)
{
	for (size_t i = 0; i < NFIELDS && t->scan; i++)
		if (strcmp(fields[i].key, "gpu") == 0) {
			char addr[NR_ADDR_LEN];
			const struct nr_gpu *g = nr_pci_parse_addr(w->values[i].text, addr) == 0 ?
						 nr_scan_gpu(t->scan, addr) : NULL;
			return g && g->boot_vga ? g : NULL;
		}
	return NULL;
}

/* The lines that pass something through to the VM stand out. */
static enum tui_color xml_color(const char *line)
{
	return strstr(line, "<hostdev") || strstr(line, "<shmem") || strstr(line, "<channel") ? TUI_C_DIFF_ADD :
											      TUI_C_NORMAL;
}

/* Whether field i applies: a field that needs a group is out while the group's field
 * holds its off word. */
static bool field_used(const struct vmwiz *w, size_t i)
{
	if (fields[i].secret)
		return password_asked(w->profile);
	if (!fields[i].needs)
		return true;
	for (size_t j = 0; j < NFIELDS; j++)
		if (fields[j].group && strcmp(fields[j].group, fields[i].needs) == 0)
			return strcmp(w->values[j].text, fields[j].off) != 0;
	return true;
}

static bool form_changed(const struct vmwiz *w)
{
	for (size_t i = 0; i < NFIELDS; i++)
		if (strcmp(w->values[i].text, w->loaded[i]) != 0)
			return true;
	return false;
}

/* One field into the profile, through core's checks. */
static int set_field(struct vmwiz *w, size_t i, struct nr_error *err)
{
	const char *v = w->values[i].text;

	if (fields[i].group) {
		/* the off word switches the group off; anything else switches it on first */
		bool off = strcmp(v, fields[i].off) == 0;
		if (nr_profile_set(w->profile, fields[i].group, off ? "off" : "on", err) < 0 || off)
			return err && err->code ? err->code : 0;
	}
	return nr_profile_set(w->profile, fields[i].key, v[0] ? v : NULL, err);
}

/* Push the form into the profile (core checks each value), then build the XML. */
static int build_xml(struct tui *t, struct vmwiz *w)
{
	struct nr_error err = { 0 };

	for (size_t i = 0; i < NFIELDS; i++) {
		if (fields[i].secret) {
			if (!field_used(w, i) || i != FIELD_PASSWORD)
				continue;
			if (!w->values[i].text[0] || strcmp(w->values[i].text, w->values[i + 1].text) != 0) {
				nr_error_set(&err, -NR_E_INVAL, "the Windows account %s needs a password, typed twice the "
					     "same (or set unattended.password_file in the profile)",
					     w->profile->unattended.user ? w->profile->unattended.user : "");
				w->field = w->values[i].text[0] ? i + 1 : i;
				tui_dialog_error(t, "Check the form", &err);
				return -1;
			}
			continue;
		}
		if (strcmp(fields[i].key, "start") == 0) {
			if (strcmp(w->values[i].text, "yes") && strcmp(w->values[i].text, "no")) {
				nr_error_set(&err, -NR_E_INVAL, "Start it now: yes or no, not '%s'", w->values[i].text);
				w->field = i;
				tui_dialog_error(t, "Check the form", &err);
				return -1;
			}
			continue;
		}
		if (!field_used(w, i))
			continue;
		if (set_field(w, i, &err) < 0) {
			nr_error_prefix(&err, "%s: ", fields[i].label);
			w->field = i;
			tui_dialog_error(t, "Check the form", &err);
			return -1;
		}
	}
	free(w->xml);
	w->xml = NULL;
	if (nr_domain_build(w->profile, t->ctx, t->scan, &w->xml, &err) < 0 || nr_media_check(w->profile, &err) < 0) {
		tui_dialog_error(t, "Cannot build the VM", &err);
		return -1;
	}
	tui_pane_set(&w->xml_pane, w->xml);
	w->xml_pane.color = xml_color;
	return 0;
}

/* ---- the operation ---- */

static int create_run(struct tui_job *job, void *arg, struct nr_error *err)
{
	struct create_job *cj = arg;
	struct nr_vm_created made;
	size_t o = 0;
	int rc;

	tui_job_log(job, "defining VM %s on %s", cj->profile->name, nr_virt_uri(cj->virt));
	rc = nr_vm_create(cj->virt, cj->profile, cj->xml, &made, err);
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
			      cj->profile->name, nr_virt_uri(cj->virt));
	if (nr_profile_guest_tools(cj->profile)) {
		struct nr_media_info media;
		struct nr_error merr = { 0 };
		char *password = NULL, *answers = NULL;
		/* an unattended install: the password from its file, or as typed on the form */
		if (cj->profile->unattended.enabled) {
			if (cj->profile->unattended.password_file)
				nr_unattend_read_password(cj->profile->unattended.password_file, &password, &merr);
			else if (!cj->password)
				nr_error_set(&merr, -NR_E_INVAL, "unattended: no password for the Windows account");
			else
				password = tui_xstrdup(cj->password);
			if (merr.code == 0)
				nr_unattend_build(cj->profile, password, &answers, &merr);
			if (password) {
				memset(password, 0, strlen(password));
				free(password);
			}
		}
		if (merr.code == 0)
			nr_media_for_profile(cj->ctx, cj->profile, answers, &media, &merr);
		if (answers) {
			memset(answers, 0, strlen(answers));
			free(answers);
		}
		if (merr.code < 0) {
			/* the VM is defined: the screen says so, and how to make the media */
			tui_job_log(job, "guest-tools media not made: %s", merr.msg);
			snprintf(cj->summary + o, sizeof(cj->summary) - o,
				 "Its guest-tools CD-ROM was not made: %s. Not started; fix that, then: "
				 "neuronctl agent media '%s'.\n", merr.msg, cj->profile->name);
			return 0;
		}
		cj->media = true;
		cj->media_unattend = media.has_unattend;
		cj->media_lg = media.has_lg;
		tui_job_log(job, "guest-tools media %s%s", media.path,
			    media.certs_made ? " (agent credentials made)" : "");
		o += (size_t)snprintf(cj->summary + o, sizeof(cj->summary) - o, "Guest tools CD-ROM attached: %s.\n",
				      media.path);
		if (media.has_unattend)
			o += (size_t)snprintf(cj->summary + o, sizeof(cj->summary) - o,
					      "It has autounattend.xml: Windows installs by itself (account %s).\n",
					      cj->profile->unattended.user);
		if (media.has_lg)
			o += (size_t)snprintf(cj->summary + o, sizeof(cj->summary) - o,
					      "It has the Looking Glass host installer (%s).\n", NR_MEDIA_LG_INSTALLER);
		for (size_t i = 0; i < sizeof(media.missing) / sizeof(media.missing[0]); i++)
			if (media.missing[i][0]) {
				tui_job_log(job, "%s", media.missing[i]);
				o += (size_t)snprintf(cj->summary + o, sizeof(cj->summary) - o, "%s.\n",
						      i == 0 ? "It has no Windows agent (not built; see the log)"
							     : "It has no Linux agent (not built; see the log)");
			}
	}
	if (cj->single && !cj->start) {
		o += (size_t)snprintf(cj->summary + o, sizeof(cj->summary) - o,
				      "Not started: it holds the boot GPU. Start it with 'neuronctl vm start %s' "
				      "over SSH or on a TTY (it shows the hand-off and asks), or install libvirt's "
				      "hook ('neuronctl gpu hook install') so that every start hands the GPU over.\n",
				      cj->profile->name);
	}
	if (cj->start) {
		rc = nr_vm_start(cj->virt, cj->profile->name, err);
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
	w->media = cj->media;
	w->media_unattend = cj->media_unattend;
	w->media_lg = cj->media_lg;
	if (rc == 0)
		snprintf(t->want_vm, sizeof(t->want_vm), "%s", cj->profile->name);
	nr_profile_free(cj->profile);
	free(cj->xml);
	wipe(cj->password);
	free(cj->password);
	free(cj);
	tui_virt_refresh(t);
}

static int create_confirmed(struct tui *t, void *opaque)
{
	struct tui_view *v = opaque;
	struct vmwiz *w = W(v);
	struct create_job *cj = tui_xcalloc(1, sizeof(*cj));

	cj->w = w;
	cj->virt = t->virt;
	cj->ctx = t->ctx;
	cj->start = strcmp(w->values[FIELD_START].text, "yes") == 0;
	/* a single-GPU VM starts through the hand-off: here only when libvirt's hook runs it */
	cj->single = single_gpu(t, w) != NULL;
	if (cj->single && !nr_single_hook_installed(t->ctx))
		cj->start = false;
	cj->xml = tui_xstrdup(w->xml);
	if (password_asked(w->profile))
		cj->password = tui_xstrdup(w->values[FIELD_PASSWORD].text);
	/* the job takes the profile: the form cannot change it under the job */
	cj->profile = w->profile;
	w->profile = NULL;
	w->step = VSTEP_CREATE;
	w->running = true;
	w->finished = false;
	w->result[0] = '\0';
	char title[300];
	snprintf(title, sizeof(title), "Creating VM %s", cj->profile->name);
	wipe_passwords(w);  /* the job has its copy */
	if (tui_job_start(t, title, create_run, create_done, cj) < 0) {
		w->running = false;
		w->profile = cj->profile;
		free(cj->xml);
		wipe(cj->password);
		free(cj->password);
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

	tui_putf(t, y + line++, x + 1, width - 1, TUI_C_INFO,
		 "Settings (from %s): type to change; Left/Right move in a field", base_name(w->files[w->file_sel]));
	line++;
	for (size_t i = 0; i < NFIELDS && line < h - 4; i++) {
		if (fields[i].secret && !field_used(w, i))
			continue;   /* asked only for an unattended install */
		bool sel = i == w->field;

		tui_putf(t, y + line, x + 1, 17, sel ? TUI_C_INFO : field_used(w, i) ? TUI_C_NORMAL : TUI_C_DIM, "%s%-15s",
			 sel ? t->g->pointer : " ", fields[i].label);
		if (field_used(w, i))
			tui_field_draw(t, &w->values[i], y + line, x + 18, width - 20, sel);
		else
			tui_putf(t, y + line, x + 19, width - 21, TUI_C_DIM, "(not used: %s is %s)",
				 fields[i].needs, "off");
		line++;
	}
	line++;
	{
		const char *help = NULL, *h0 = NULL;
		char text[1024];
		for (size_t i = 0; nr_profile_key(i, &h0); i++)
			if (strcmp(nr_profile_key(i, &h0), fields[w->field].key) == 0)
				help = h0;
		if (strcmp(fields[w->field].key, "start") == 0)
			help = "yes: start the VM once it is defined; no: only define it";
		if (fields[w->field].secret)
			help = "the Windows account's password, for the unattended install's autounattend.xml only: "
			       "never written to the profile or the log (or set unattended.password_file)";
		if (t->opts.demo && strcmp(fields[w->field].key, "disk.path") == 0)
			help = "demo: the image is made in the scratch root (a sparse file), never in /var/lib/libvirt";
		snprintf(text, sizeof(text), "%s%s%s", help ? help : "", fields[w->field].off_help ? "; " : "",
			 fields[w->field].off_help ? fields[w->field].off_help : "");
		if (strcmp(fields[w->field].key, "gpu") == 0 && single_gpu(t, w)) {
			char *warning = nr_single_warning(t->ctx);
			size_t n = strlen(text);
			snprintf(text + n, sizeof(text) - n, ". This is the boot GPU, single-GPU mode: %s",
				 warning ? warning : "the local screen goes dark while the VM runs");
			free(warning);
		}
		tui_hline(t, y + line - 1, x, width, TUI_C_FRAME);
		tui_wrap(t, y + line, x + 1, h - line - 1, width - 2, TUI_C_NORMAL, text);
	}
	tui_put(t, y + h - 1, x + 1, width - 1, TUI_C_DIM, false, "Up/Down: field; Enter: check and build the XML; Esc: back");
}

static void draw_xml(struct tui *t, struct vmwiz *w, int y, int x, int h, int width)
{
	char range[64];

	tui_pane_draw(t, &w->xml_pane, y + 1, x + 1, h - 2, width - 1);
	tui_putf(t, y, x + 1, width - 1, TUI_C_INFO, "The domain XML for %s (%s)", w->profile ? w->profile->name : "?",
		 tui_pane_range(&w->xml_pane, range, sizeof(range)));
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
		line += tui_wrap(t, y + line, x + 1, 8, width - 2, TUI_C_NORMAL, w->result);
		line++;
		if (w->media_unattend)
			line += tui_wrap(t, y + line, x + 1, 4, width - 2, TUI_C_NORMAL, w->media_lg ?
					 "Windows installs itself from the ISO when the VM starts; its first logon "
					 "installs virtio-win's tools, the NeuronOS agent and the Looking Glass host "
					 "from the NEURON_TOOLS CD-ROM. The Agents panel (4) then shows it connected." :
					 "Windows installs itself from the ISO when the VM starts; its first logon "
					 "installs virtio-win's tools and the NeuronOS agent from the NEURON_TOOLS "
					 "CD-ROM. The Agents panel (4) then shows it connected.");
		else if (w->media)
			line += tui_wrap(t, y + line, x + 1, 4, width - 2, TUI_C_NORMAL,
					 "In the guest, from the NEURON_TOOLS CD-ROM: Windows: run D:\\setup.cmd as an "
					 "administrator (the NeuronOS agent with this VM's credentials); Linux: "
					 "sudo sh setup.sh USER. The Agents panel (4) then shows it connected.");
		line++;
		line += tui_wrap(t, y + line, x + 1, 4, width - 2, TUI_C_NORMAL,
				 w->media_unattend ? "Next: the VMs panel (3) shows it live; s starts it, d shuts it down." :
				 w->media ? "Next: the VMs panel (3) shows it live; s starts it, d shuts it down. "
					    "Install Windows from the ISO, then the Looking Glass host application."
					  : "Next: the VMs panel (3) shows it live; s starts it, d shuts it down. Install "
					    "Windows from the ISO, then the Looking Glass host application and the "
					    "NeuronOS agent in it.");
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
	case VSTEP_XML: draw_xml(t, wz, y0 + 1, x0, h - 1, w); break;
	case VSTEP_CREATE: draw_create(t, wz, y0 + 1, x0, h - 1, w); break;
	default: break;
	}
}

/* ---- keys ---- */

static int vm_text(struct tui *t, struct tui_view *v, int ch)
{
	struct vmwiz *w = W(v);

	(void)t;
	tui_field_insert(&w->values[w->field], ch);
	return TUI_HANDLED;
}

/* The next field that applies, going by step (+1 or NFIELDS - 1). */
static void move_field(struct vmwiz *w, size_t step)
{
	for (size_t n = 0; n < NFIELDS; n++) {
		w->field = (w->field + step) % NFIELDS;
		if (field_used(w, w->field))
			return;
	}
}

static int leave_form(struct tui *t, void *opaque)
{
	struct tui_view *v = opaque;

	(void)t;
	W(v)->step = VSTEP_PROFILE;
	v->form_scope = TUI_SCOPE_COUNT;
	return TUI_REDRAW;
}

static int vm_action(struct tui *t, struct tui_view *v, enum tui_action a)
{
	struct vmwiz *w = W(v);

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
			move_field(w, 1);
			return TUI_HANDLED;
		case TUI_ACT_PREV_FIELD:
			move_field(w, NFIELDS - 1);
			return TUI_HANDLED;
		case TUI_ACT_NEXT:
			if (build_xml(t, w) == 0) {
				w->step = VSTEP_XML;
				v->form_scope = TUI_SCOPE_COUNT;
			}
			return TUI_HANDLED;
		case TUI_ACT_BACK:
			/* back to the profiles: edits would be lost, so ask when there are any */
			if (!form_changed(w))
				return leave_form(t, v);
			tui_dialog_confirm(t, "Leave the settings", leave_form, v,
					   "Go back to the profiles? Your changes to these settings are lost.");
			return TUI_HANDLED;
		default:
			return tui_field_action(&w->values[w->field], a);
		}
	case VSTEP_XML:
		switch (a) {
		case TUI_ACT_NEXT: {
			if (!t->virt) {
				char why[1100];
				struct nr_error err = { 0 };
				nr_error_set(&err, -NR_E_VIRT, "%s", tui_virt_problem(t, why, sizeof(why)));
				tui_dialog_error(t, "No libvirt connection", &err);
				return TUI_HANDLED;
			}
			char *path = nr_profile_get(w->profile, "disk.path");
			char name[256], disk[600];
			tui_clean(t, name, sizeof(name), w->profile->name);
			if (nr_profile_on(w->profile, "disk")) {
				char clean[512];
				tui_clean(t, clean, sizeof(clean), path ? path : "?");
				snprintf(disk, sizeof(disk), "Its disk image %s is created when missing.", clean);
			} else {
				snprintf(disk, sizeof(disk), "It has no disk.");
			}
			free(path);
			if (single_gpu(t, w)) {
				char *warning = nr_single_warning(t->ctx);
				bool hooked = nr_single_hook_installed(t->ctx);
				tui_dialog_confirm(t, "Define the VM", create_confirmed, v,
						   "Define VM %s on %s%s? %s It holds the boot GPU (single-GPU mode). %s %s",
						   name, nr_virt_uri(t->virt),
						   hooked && strcmp(w->values[FIELD_START].text, "yes") == 0 ?
						   " and start it" : "", disk, warning ? warning : "",
						   hooked ? "libvirt's hook hands the GPU over as it starts." :
						   "It is not started here: start it with 'neuronctl vm start' (it shows the "
						   "steps and asks).");
				free(warning);
				return TUI_HANDLED;
			}
			tui_dialog_confirm(t, "Define the VM", create_confirmed, v,
					   "Define VM %s on %s%s? %s Nothing else on the host changes.", name,
					   nr_virt_uri(t->virt),
					   strcmp(w->values[FIELD_START].text, "yes") == 0 ? " and start it" : "", disk);
			return TUI_HANDLED;
		}
		case TUI_ACT_BACK:
			w->step = VSTEP_FORM;
			v->form_scope = TUI_SCOPE_FORM;
			return TUI_HANDLED;
		default:
			return tui_pane_action(&w->xml_pane, a);
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
	snprintf(buf, size, "New VM on %s: nothing is defined until you confirm. F1: keys", tui_virt_uri(t));
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
