/* The VMs panel: every VM on the libvirt connection with its state, GPU, Looking Glass
 * memory and agent channel (core's nr_vm_list), updated by libvirt domain events; start,
 * shut down and force off run as background operations, the last two after a question. */
#include <stdlib.h>
#include <string.h>

#include "tui.h"
#include "neuron/bind.h"
#include "neuron/lg.h"
#include "neuron/media.h"
#include "neuron/util.h"
#include "neuron/vm.h"

/* What a look at a VM's Looking Glass memory and client found (no polling: read at each
 * reload, which libvirt events and F5 cause; two reads a few ms apart tell liveness). */
struct vm_lg {
	char word[24];                  /* "alive", "stale", "no app", "no shm", "unknown" */
	char detail[160];
	char warn[120];                 /* a version mismatch: both versions; "" when none */
	char fix[160];                  /* and what to install */
	char client[48];                /* the supervised client: "running", "not running" ... */
};

struct vms_priv {
	const struct nr_vm_list *list;  /* t->vms, borrowed until the next reload */
	struct vm_lg *lg;               /* parallel to list->vms */
	char client_version[NR_LG_HOSTVER_MAX]; /* the installed client's, "" when unknown */
};

static void lg_look(struct tui *t, const struct nr_vm *vm, const char *client_version, struct vm_lg *out)
{
	/* short: the host application beats every few milliseconds while it runs */
	static const struct nr_lg_watch quick = { .interval_ms = 40, .stale_ms = 120 };
	struct nr_lg_status st;
	const struct nr_lg_snapshot *snap = &st.last;
	struct nr_lg_sup_info sup;
	struct nr_error err = { 0 };
	const char *shm;
	unsigned mib;
	char *path;

	memset(out, 0, sizeof(*out));
	if (!vm->info || nr_lg_shm_of(vm->info, &shm, &mib, NULL) < 0) {
		snprintf(out->word, sizeof(out->word), "none");
		return;
	}
	path = nr_ctx_sys_path(t->ctx, shm);
	if (!path || nr_lg_status_read(path, &quick, &st, &err) < 0) {
		snprintf(out->word, sizeof(out->word), err.code == -NR_E_NOTFOUND ? "no shm" : "unreadable");
		snprintf(out->detail, sizeof(out->detail), "%.150s", err.code == -NR_E_NOTFOUND ?
			 "no shared memory yet: the VM makes it when it starts" : err.msg);
	} else if (snap->kind == NR_LG_SHM_HEADER) {
		char *mismatch = snap->kvmfr ? nr_lg_version_mismatch(client_version, snap->host_version) : NULL;
		char host[NR_LG_HOSTVER_MAX];

		snprintf(host, sizeof(host), "%s", snap->host_version);

		snprintf(out->word, sizeof(out->word), "%s", st.host == NR_LG_HOST_ALIVE ? "alive" :
			 st.host == NR_LG_HOST_STALE ? "stale" : "unknown");
		snprintf(out->detail, sizeof(out->detail), "host app %s%s (%s, host %.32s); client %.32s",
			 out->word, st.session_changed ? ", restarted" : "", snap->layout,
			 snap->host_version[0] ? snap->host_version : "?",
			 client_version[0] ? client_version : "unknown");
		if (mismatch) { /* the whole sentence is in lg status; here what fits two lines */
			snprintf(out->warn, sizeof(out->warn), "client %.32s, host %.32s", client_version, host);
			snprintf(out->fix, sizeof(out->fix), "install looking-glass-client %.32s here, or "
				 "%.32s in the guest", host, client_version);
		}
		free(mismatch);
	} else {
		snprintf(out->word, sizeof(out->word), "%s", snap->kind == NR_LG_SHM_EMPTY ? "no app" : "unknown");
		snprintf(out->detail, sizeof(out->detail), "%s", snap->kind == NR_LG_SHM_EMPTY ?
			 "no host app: the Looking Glass host application has not run in the guest" :
			 snap->detail ? snap->detail : "an unknown layout");
	}
	free(path);
	if (nr_lg_client_info(t->ctx, vm->name, &sup, NULL) == 0) {
		snprintf(out->client, sizeof(out->client), "%s", nr_lg_sup_state_name(sup.state));
		nr_lg_sup_info_done(&sup);
	} else {
		snprintf(out->client, sizeof(out->client), "unknown");
	}
}

struct vm_op {
	struct nr_virt *virt;           /* the connection (the worker's; outlives the job) */
	char name[256];
	enum tui_action what;
	char shm[4096];                 /* VM_LG: the shared memory under the sysroot */
	struct nr_bind_plan *bind;      /* VM_BIND / VM_UNBIND: the writes, planned */
};

static void op_free(void *p)
{
	struct vm_op *op = p;

	if (op)
		nr_bind_plan_free(op->bind);
	free(op);
}

/* One row per operation on a VM: its title, whether it goes through libvirt, the state it
 * needs, and the question asked first (NULL: none). "%s" is the VM's name. */
enum vm_needs { NEEDS_ANY, NEEDS_RUNNING, NEEDS_STOPPED };
static const struct vm_op_kind {
	enum tui_action what;
	const char *title;              /* the job's title */
	bool libvirt;
	enum vm_needs needs;
	const char *ask_title, *ask;
	const char *done;               /* the log line when it worked */
} op_kinds[] = {
	{ TUI_ACT_VM_START, "Starting VM %s", true, NEEDS_STOPPED, NULL, NULL, "VM %s started" },
	{ TUI_ACT_VM_SHUTDOWN, "Shutting down VM %s", true, NEEDS_RUNNING, "Shut down",
	  "Ask VM %s to shut down (ACPI power button)? The guest closes its programs; unsaved work in it may "
	  "ask first.", "VM %s shut down" },
	{ TUI_ACT_VM_FORCEOFF, "Forcing off VM %s", true, NEEDS_RUNNING, "Force off",
	  "Pull the plug on VM %s? It stops at once, like a power cut: unsaved work in the guest is lost.",
	  "VM %s forced off" },
	{ TUI_ACT_VM_DELETE, "Deleting VM %s", true, NEEDS_STOPPED, "Delete the VM",
	  "Delete VM %s? Its definition goes, with its UEFI variables and TPM state. Its disk images stay "
	  "(neuronctl vm delete --remove-disk removes them too).", "VM %s deleted; its disk images stay" },
	{ TUI_ACT_VM_LG, "Looking Glass for VM %s", false, NEEDS_ANY, NULL, NULL, NULL },
	{ TUI_ACT_VM_BIND, "Binding the GPU of VM %s", false, NEEDS_ANY, NULL, NULL, NULL },
	{ TUI_ACT_VM_UNBIND, "Giving back the GPU of VM %s", false, NEEDS_ANY, NULL, NULL, NULL },
};

static const struct vm_op_kind *op_kind(enum tui_action a)
{
	for (size_t i = 0; i < sizeof(op_kinds) / sizeof(op_kinds[0]); i++)
		if (op_kinds[i].what == a)
			return &op_kinds[i];
	return NULL;
}

static void vms_done(struct tui *t, struct tui_view *v)
{
	struct vms_priv *p = v->priv;

	(void)t;
	if (p)
		free(p->lg);
	free(p);
	v->priv = NULL;
}

static void vms_reload(struct tui *t, struct tui_view *v)
{
	struct vms_priv *p = v->priv;
	char keep[256] = "";

	if (!p)
		p = v->priv = tui_xcalloc(1, sizeof(*p));
	if (t->want_vm[0]) {
		snprintf(keep, sizeof(keep), "%s", t->want_vm);
		t->want_vm[0] = '\0';
	} else if (p->list && v->sel < p->list->n) {
		snprintf(keep, sizeof(keep), "%s", p->list->vms[v->sel].name);
	}
	p->list = NULL;
	free(p->lg);
	p->lg = NULL;
	v->n_rows = 0;
	/* what the libvirt worker last posted: no call to libvirt here */
	if (t->virt_state != TUI_VIRT_UP || !t->vms)
		return;
	p->list = t->vms;
	v->n_rows = p->list->n;
	p->lg = tui_xcalloc(p->list->n, sizeof(*p->lg));
	p->client_version[0] = '\0';
	for (size_t i = 0; i < p->list->n; i++) {
		const char *shm;
		unsigned mib;

		if (p->list->vms[i].info && nr_lg_shm_of(p->list->vms[i].info, &shm, &mib, NULL) == 0) {
			/* once a reload, and only when some VM has Looking Glass */
			nr_lg_client_version(t->ctx, p->client_version, sizeof(p->client_version), NULL);
			break;
		}
	}
	for (size_t i = 0; i < p->list->n; i++)
		lg_look(t, &p->list->vms[i], p->client_version, &p->lg[i]);
	/* the selection follows its VM when the list changes under it */
	for (size_t i = 0; keep[0] && i < p->list->n; i++)
		if (strcmp(p->list->vms[i].name, keep) == 0)
			v->sel = i;
}

static enum tui_color state_color(enum nr_vm_state s)
{
	switch (s) {
	case NR_VM_RUNNING: return TUI_C_OK;
	case NR_VM_PAUSED: case NR_VM_STOPPING: case NR_VM_SUSPENDED: return TUI_C_WARN;
	case NR_VM_CRASHED: case NR_VM_UNKNOWN: return TUI_C_FAIL;
	default: return TUI_C_DIM;
	}
}

static const char *vms_header(struct tui *t, struct tui_view *v)
{
	(void)t;
	(void)v;
	return " Name              State       GPU       Looking Glass  Agent";
}

static void vms_row(struct tui *t, struct tui_view *v, size_t i, int y, int x, int w, bool sel)
{
	struct vms_priv *p = v->priv;
	const struct nr_vm *vm = &p->list->vms[i];
	const struct nr_domain_info *info = vm->info;
	enum tui_color base = sel ? TUI_C_SELECTED : TUI_C_NORMAL;
	char name[64], gpu[16] = "none", lg[32] = "none";
	const char *shm;
	unsigned mib;

	tui_clean(t, name, sizeof(name), vm->name);
	tui_putf(t, y, x, w, base, " %-17.17s", name);
	tui_putf(t, y, x + 19, 12, sel ? base : state_color(vm->state), "%s %-9s",
		 vm->state == NR_VM_RUNNING ? t->g->running : t->g->stopped, nr_vm_state_name(vm->state));
	if (info && info->n_pci) {
		char addr[NR_ADDR_LEN];
		if (nr_pci_parse_addr(info->pci[0], addr) == 0)
			snprintf(gpu, sizeof(gpu), "%s", strncmp(addr, "0000:", 5) == 0 ? addr + 5 : addr);
	}
	if (info && nr_lg_shm_of(info, &shm, &mib, NULL) == 0 && mib)
		snprintf(lg, sizeof(lg), "%uM %.16s", mib, p->lg[i].word);
	else if (info && shm)
		snprintf(lg, sizeof(lg), "?M %.16s", p->lg[i].word);
	tui_putf(t, y, x + 31, w - 31, base, "%-9s %-14s %s", gpu, lg, info && info->agent ? "channel" : "none");
}

static void vms_details(struct tui *t, struct tui_view *v, size_t i, int y, int x, int h, int w)
{
	struct vms_priv *p = v->priv;
	const struct nr_vm *vm = &p->list->vms[i];
	const struct nr_domain_info *info = vm->info;
	const char *shm;
	unsigned mib;
	char buf[512];
	int line = 0;

	tui_clean(t, buf, sizeof(buf), vm->name);
	tui_putf(t, y + line++, x, w, TUI_C_INFO, "VM %s: %s%s on %s", buf, nr_vm_state_name(vm->state),
		 vm->persistent ? "" : " (transient)", tui_virt_uri(t));
	if (!info) {
		tui_put(t, y + line, x, w, TUI_C_DIM, false, "Its domain XML could not be read.");
		return;
	}
	{
		size_t o = 0;
		buf[0] = '\0';
		for (size_t k = 0; k < info->n_pci && o + 16 < sizeof(buf); k++)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", k ? ", " : "", info->pci[k]);
		tui_putf(t, y + line++, x, w, TUI_C_NORMAL, "PCI passthrough: %s", info->n_pci ? buf : "none");
	}
	if (nr_lg_shm_of(info, &shm, &mib, NULL) == 0) {
		char path[256], size[24] = "? MiB (unreadable)";
		tui_clean(t, path, sizeof(path), shm);
		if (mib)
			snprintf(size, sizeof(size), "%u MiB", mib);
		tui_putf(t, y + line++, x, w, TUI_C_NORMAL, "Looking Glass: %s at %s; client %s", size, path,
			 p->lg[i].client);
		if (p->lg[i].detail[0]) {
			tui_clean(t, path, sizeof(path), p->lg[i].detail);
			tui_putf(t, y + line++, x, w, TUI_C_DIM, "  %s", path);
		}
		if (p->lg[i].warn[0]) {
			tui_clean(t, path, sizeof(path), p->lg[i].warn);
			tui_putf(t, y + line++, x, w, TUI_C_WARN, "  ! version mismatch: %s", path);
			tui_clean(t, path, sizeof(path), p->lg[i].fix);
			tui_putf(t, y + line++, x, w, TUI_C_WARN, "    %s", path);
		}
	} else if (info->ivshmem_other) {
		char path[256];
		tui_clean(t, path, sizeof(path), info->ivshmem_other);
		tui_putf(t, y + line++, x, w, TUI_C_NORMAL, "Looking Glass: none (IVSHMEM %s is not named %s)", path,
			 NR_LG_SHM_NAME);
	} else {
		tui_put(t, y + line++, x, w, TUI_C_NORMAL, false, "Looking Glass: no IVSHMEM device");
	}
	if (info->agent) {
		char sock[256];
		tui_clean(t, sock, sizeof(sock), info->agent_socket ? info->agent_socket : "(set when it runs)");
		tui_putf(t, y + line++, x, w, TUI_C_NORMAL, "Agent channel %s: %s", NR_AGENT_CHANNEL, sock);
	} else {
		tui_put(t, y + line++, x, w, TUI_C_NORMAL, false, "Agent: no channel");
	}
	tui_putf(t, y + line++, x, w, TUI_C_NORMAL, "TPM: %s   Disks: %zu", info->tpm ? "yes" : "no", info->n_disks);
	for (size_t k = 0; k < info->n_disks && line < h; k++) {
		tui_clean(t, buf, sizeof(buf), info->disks[k]);
		tui_putf(t, y + line++, x, w, TUI_C_DIM, "  %s", buf);
	}
}

static int op_run(struct tui_job *job, void *arg, struct nr_error *err)
{
	struct vm_op *op = arg;
	struct tui *t = tui_job_tui(job);
	bool destroyed = false;
	int rc;

	switch (op->what) {
	case TUI_ACT_VM_START:
		rc = nr_vm_start(op->virt, op->name, err);
		break;
	case TUI_ACT_VM_SHUTDOWN:
		tui_job_log(job, "VM %s: ACPI shutdown sent, waiting up to 120 s", op->name);
		rc = nr_vm_stop(op->virt, op->name, 120, false, &destroyed, err);
		break;
	case TUI_ACT_VM_FORCEOFF:
		rc = nr_vm_destroy(op->virt, op->name, err);
		break;
	case TUI_ACT_VM_DELETE:
		rc = nr_vm_delete(op->virt, op->name, false, NULL, err);
		if (rc == 0) {
			bool media = false;
			rc = nr_media_remove(t->ctx, op->name, &media, err);
			if (rc < 0)
				nr_error_prefix(err, "VM %s deleted, but ", op->name);
			else if (media)
				tui_job_log(job, "VM %s: its guest-tools media removed", op->name);
		}
		break;
	case TUI_ACT_VM_LG: {
		struct nr_lg_client_opts opts;
		char *binary = NULL;
		long pid = 0;

		if ((rc = nr_lg_graphical_session(err)) < 0 || (rc = nr_lg_client_find(t->ctx, NULL, &binary, err)) < 0)
			return rc;
		nr_lg_client_opts_defaults(t->ctx, &opts);
		opts.vm = op->name;
		opts.shm_path = op->shm;
		opts.client = binary;
		rc = nr_lg_client_start(t->ctx, &opts, &pid, err);
		if (rc == 0)
			tui_job_log(job, "Looking Glass client for VM %s started (pid %ld, supervised)", op->name, pid);
		free(binary);
		return rc;
	}
	case TUI_ACT_VM_BIND:
	case TUI_ACT_VM_UNBIND:
		for (size_t i = 0; i < op->bind->n_writes; i++)
			tui_job_log(job, "write %s <- %s", op->bind->writes[i].path, op->bind->writes[i].value);
		rc = nr_bind_apply(t->ctx, op->bind, err);
		/* the demo has no kernel to act on the writes: its stand-in moves the drivers */
		if (rc == 0 && t->opts.demo)
			rc = tui_demo_kernel_bind(t, op->bind, err);
		if (rc == 0)
			tui_job_log(job, "GPU %s %s%s", op->bind->gpu, op->bind->to_vfio ? "bound to vfio-pci" : "given back to the host",
				    t->opts.demo ? " (demo: in the scratch sysfs, where the demo's stand-in kernel moved the drivers)" : "");
		return rc;
	default:
		return nr_error_set(err, -NR_E_INVAL, "unknown VM operation");
	}
	if (rc == 0 && op_kind(op->what)->done)
		tui_job_log(job, op_kind(op->what)->done, op->name);
	return rc;
}

static void op_done(struct tui *t, int rc, const struct nr_error *err, void *arg)
{
	struct vm_op *op = arg;

	bool rescan = op->what == TUI_ACT_VM_BIND || op->what == TUI_ACT_VM_UNBIND;

	if (rc < 0)
		tui_dialog_error(t, op->what == TUI_ACT_VM_LG ? "Looking Glass" : "VM operation failed", err);
	op_free(op);
	/* events usually refresh the panel already; this covers a connection without them */
	if (rescan)
		tui_rescan(t);
	else
		tui_virt_refresh(t);
}

static int start_op(struct tui *t, void *opaque)
{
	struct vm_op *op = opaque;
	const struct vm_op_kind *k = op_kind(op->what);
	char title[300];

	/* the connection the worker made; none while it connects or after it failed */
	op->virt = t->virt;
	if (k->libvirt && !op->virt) {
		char why[1100];
		struct nr_error err = { 0 };
		nr_error_set(&err, -NR_E_VIRT, "%s", tui_virt_problem(t, why, sizeof(why)));
		tui_dialog_error(t, "No libvirt connection", &err);
		op_free(op);
		return TUI_REDRAW;
	}
	snprintf(title, sizeof(title), k->title, op->name);
	if (tui_job_start(t, title, op_run, op_done, op) < 0)
		op_free(op);
	return TUI_REDRAW;
}

static int open_lg(struct tui *t, const struct nr_vm *vm, const char *name)
{
	struct vm_op *op;
	const char *shm;
	unsigned mib;
	char *path;

	if (!vm->info || nr_lg_shm_of(vm->info, &shm, &mib, NULL) < 0) {
		tui_dialog_info(t, "Looking Glass", "VM %s has no Looking Glass shared memory: the new-VM wizard "
				"adds it (looking_glass in the profile).", name);
		return TUI_HANDLED;
	}
	op = tui_xcalloc(1, sizeof(*op));
	snprintf(op->name, sizeof(op->name), "%s", vm->name);
	op->what = TUI_ACT_VM_LG;
	path = nr_ctx_sys_path(t->ctx, shm);
	snprintf(op->shm, sizeof(op->shm), "%s", path ? path : shm);
	free(path);
	return start_op(t, op);
}

/* Runtime binding: core plans the exact sysfs writes; the dialog shows them first. */
static int bind_gpu(struct tui *t, const struct nr_vm *vm, const char *name, bool to_vfio)
{
	struct nr_bind_busy busy = { 0 };
	struct nr_error err = { 0 };
	struct vm_op *op;
	struct nr_buf b;
	const char *gpu = vm->info && vm->info->n_pci ? vm->info->pci[0] : NULL;

	if (!gpu) {
		tui_dialog_info(t, "No GPU", "VM %s passes no PCI device through.", name);
		return TUI_HANDLED;
	}
	if (!t->scan) {
		tui_dialog_error(t, "Cannot read the machine", &t->scan_err);
		return TUI_HANDLED;
	}
	op = tui_xcalloc(1, sizeof(*op));
	snprintf(op->name, sizeof(op->name), "%s", vm->name);
	op->what = to_vfio ? TUI_ACT_VM_BIND : TUI_ACT_VM_UNBIND;
	/* devices a running VM holds stay where they are (its own when it runs, too); from the
	 * list the worker read, never a call to libvirt on this thread */
	nr_vm_list_busy_pci(t->vms, &busy.addrs, &busy.owners, &busy.n, NULL);
	if (nr_bind_plan_new(t->ctx, t->scan, gpu, to_vfio, 0, &busy, &op->bind, &err) < 0) {
		nr_vm_busy_free(busy.addrs, busy.owners, busy.n);
		op_free(op);
		tui_dialog_error(t, to_vfio ? "Cannot bind the GPU" : "Cannot give the GPU back", &err);
		return TUI_HANDLED;
	}
	nr_vm_busy_free(busy.addrs, busy.owners, busy.n);
	if (op->bind->n_writes == 0) {
		tui_dialog_info(t, "Nothing to do", "GPU %s is already %s.", op->bind->gpu,
				to_vfio ? "on vfio-pci" : "with its host drivers");
		op_free(op);
		return TUI_HANDLED;
	}
	nr_buf_init(&b);
	for (size_t i = 0; i < op->bind->n_devices; i++) {
		const struct nr_bind_device *d = &op->bind->devices[i];
		nr_buf_printf(&b, "%s: %s -> %s\n", d->addr, d->driver ? d->driver : "none",
			      d->target ? d->target : "the kernel's pick");
	}
	tui_dialog_confirm(t, to_vfio ? "Bind the GPU to vfio-pci" : "Give the GPU back", start_op, op,
			   "%s%zu sysfs writes. %s", b.data ? b.data : "", op->bind->n_writes,
			   to_vfio ? "The host loses this GPU (and its display) until it is given back."
				   : "The host drivers take it again.");
	t->dialog.free_opaque = op_free;
	nr_buf_done(&b);
	return TUI_HANDLED;
}

static int vms_action(struct tui *t, struct tui_view *v, enum tui_action a)
{
	struct vms_priv *p = v->priv;
	const struct nr_vm *vm;
	struct vm_op *op;
	char name[256];

	const struct vm_op_kind *k = op_kind(a);

	if (!k)
		return TUI_IGNORED;
	if (!p || !p->list || v->sel >= p->list->n) {
		tui_set_status(t, "No VM selected.");
		return TUI_HANDLED;
	}
	if ((a == TUI_ACT_VM_BIND || a == TUI_ACT_VM_UNBIND) && tui_demo_private_sysroot(t) < 0) {
		tui_dialog_info(t, "Demo", "Cannot copy the demo machine into the scratch directory.");
		return TUI_HANDLED;
	}
	/* (a rescan reloads the list: take the VM after it) */
	if (!p->list || v->sel >= p->list->n)
		return TUI_HANDLED;
	vm = &p->list->vms[v->sel];
	tui_clean(t, name, sizeof(name), vm->name);
	if (a == TUI_ACT_VM_LG)
		return open_lg(t, vm, name);
	if (a == TUI_ACT_VM_BIND || a == TUI_ACT_VM_UNBIND)
		return bind_gpu(t, vm, name, a == TUI_ACT_VM_BIND);
	{
		bool running = vm->state == NR_VM_RUNNING || vm->state == NR_VM_PAUSED || vm->state == NR_VM_STOPPING;
		if (k->needs == NEEDS_STOPPED && running) {
			tui_set_status(t, a == TUI_ACT_VM_START ? "VM %s is already running." :
				       "VM %s is running: shut it down first (d).", name);
			return TUI_HANDLED;
		}
		if (k->needs == NEEDS_RUNNING && !running) {
			tui_set_status(t, "VM %s is not running.", name);
			return TUI_HANDLED;
		}
	}
	op = tui_xcalloc(1, sizeof(*op));
	snprintf(op->name, sizeof(op->name), "%s", vm->name);
	op->what = a;
	if (!k->ask)
		return start_op(t, op);
	tui_dialog_confirm(t, k->ask_title, start_op, op, k->ask, name);
	/* the dialog owns op now: start_op takes it, or it is freed on "no" */
	t->dialog.free_opaque = op_free;
	return TUI_HANDLED;
}

static void vms_status(struct tui *t, struct tui_view *v, char *buf, size_t size)
{
	struct vms_priv *p = v->priv;

	if (!p || !p->list) {
		char why[1100];
		snprintf(buf, size, "libvirt: %s", tui_virt_problem(t, why, sizeof(why)));
		return;
	}
	snprintf(buf, size, "%zu VM%s. s start d shut down F force off o Looking Glass b/u GPU F9 delete", p->list->n,
		 p->list->n == 1 ? "" : "s");
}

static void vms_draw(struct tui *t, struct tui_view *v, int y0, int x0, int h, int w)
{
	struct vms_priv *p = v->priv;

	if (!p || !p->list) {
		char why[1100];
		bool connecting = t->virt_state == TUI_VIRT_CONNECTING;
		tui_put(t, y0, x0, w, TUI_C_HEADER, true, vms_header(t, v));
		tui_putf(t, y0 + 1, x0 + 1, w - 1, connecting ? TUI_C_WARN : TUI_C_FAIL, "%s %s",
			 connecting ? t->g->running : t->g->fail, connecting ? "Connecting to libvirt ..." : "Cannot list VMs:");
		tui_wrap(t, y0 + 2, x0 + 1, h - 2, w - 2, TUI_C_NORMAL, tui_virt_problem(t, why, sizeof(why)));
		tui_wrap(t, y0 + 5, x0 + 1, h - 5, w - 2, TUI_C_DIM, connecting ?
			 "The other panels work meanwhile. A daemon that does not answer within "
			 "virt.connect_ms counts as not answering." : "F5: try again.");
		return;
	}
	tui_list_draw(t, v, y0, x0, h, w);
	if (p->list->n == 0)
		tui_put(t, y0 + 1, x0 + 1, w - 1, TUI_C_DIM, false, "No VMs yet. F3: create one from a profile.");
}

const struct tui_view_ops tui_view_vms_ops = {
	.name = "vms",
	.title = "VMs",
	.scope = TUI_SCOPE_VMS,
	.reload = vms_reload,
	.draw = vms_draw,
	.header = vms_header,
	.draw_row = vms_row,
	.details = vms_details,
	.action = vms_action,
	.status = vms_status,
	.done = vms_done,
};
