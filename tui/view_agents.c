/* The agents panel: for every VM with the NeuronOS agent channel, whether the agent is
 * connected, its certificate fingerprint against the pinned one, its version, the last
 * ping, the guest's resolution (core's nr_agent_* client), and the clipboard sync of
 * `neuronctl agent sync` (its status file, nr_sync_status_read): whether it runs, its last
 * transfer and its size.
 *
 * A worker thread talks to the agents so that a slow or silent guest never freezes the
 * screen: it pings the running VMs' agents every AGENT_PERIOD_S seconds, and sleeps
 * without a timeout while no VM with an agent runs (an idle TUI uses no CPU). A VM whose
 * agent a running sync holds is not pinged: the channel takes one host at a time, and the
 * sync's own status says whether the agent answers. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tui.h"
#include "neuron/agent.h"
#include "neuron/clock.h"
#include "neuron/certs.h"
#include "neuron/sync.h"
#include "neuron/vm.h"

#define AGENT_PERIOD_S 10
#define MAX_AGENTS 64

struct agent_row {
	char name[256];
	bool running;
	char socket[512];               /* the channel's host socket, "" until libvirt sets it */
	char no_socket[256];            /* why there is none (nr_agent_channel_of) */
	/* filled by the worker */
	bool checked;
	struct nr_agent_status st;
	char pinned[104];               /* the guest certificate we expect (from our certs) */
	bool has_sync;                  /* a clipboard sync ran for it (nr_sync_status_read) */
	struct nr_sync_status sync;
	char error[512];
	struct nr_agent *client;        /* the worker's */
};

struct agents_priv {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started, stop, request, busy;
	struct agent_row rows[MAX_AGENTS];
	size_t n;
	struct nr_error list_err;
	struct tui *t;
};

static bool any_running(const struct agents_priv *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->rows[i].running && p->rows[i].socket[0])
			return true;
	return false;
}

/* One round: ping every running agent (outside the lock: a guest may take seconds). */
static void round_once(struct agents_priv *p)
{
	struct tui *t = p->t;

	for (size_t i = 0;; i++) {
		char name[256], socket[512], no_socket[256], cred_dir_err[512] = "";
		struct nr_agent *client;
		struct nr_agent_status st;
		struct nr_certs_info ci;
		struct nr_sync_status sync;
		struct nr_error err = { 0 };
		char *dir = NULL;
		bool running;
		double rtt = 0;

		pthread_mutex_lock(&p->lock);
		if (i >= p->n || p->stop) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		snprintf(name, sizeof(name), "%s", p->rows[i].name);
		snprintf(socket, sizeof(socket), "%s", p->rows[i].socket);
		snprintf(no_socket, sizeof(no_socket), "%s", p->rows[i].no_socket);
		running = p->rows[i].running;
		client = p->rows[i].client;
		p->rows[i].client = NULL;
		pthread_mutex_unlock(&p->lock);

		memset(&st, 0, sizeof(st));
		memset(&ci, 0, sizeof(ci));
		nr_certs_info(t->ctx, name, &ci, NULL);
		bool has_sync = nr_sync_status_read(t->ctx, name, &sync, NULL) == 0;
		if (has_sync && sync.running) { /* sync holds the channel: its status tells */
			nr_agent_free(client);
			client = NULL;
		} else if (!running || !socket[0]) {
			nr_agent_free(client);
			client = NULL;
			snprintf(cred_dir_err, sizeof(cred_dir_err), "%s", !running ? "the VM is not running" : no_socket);
		} else {
			if (!client) {
				if (nr_certs_dir(t->ctx, name, &dir, &err) == 0)
					nr_agent_open_socket(socket, dir, &client, &err);
				free(dir);
			}
			if (client) {
				nr_agent_set_timeout(client, 2000, 2000);
				if (nr_agent_ping(client, &rtt, &err) == 0) {
					struct nr_agent_status now;
					err.msg[0] = '\0';
					nr_agent_get_status(client, &now);
					/* the resolution once per session; events keep it current after */
					if (now.width <= 0) {
						struct nr_agent_info info;
						nr_agent_info(client, &info, NULL);
					}
				}
				nr_agent_get_status(client, &st);
			}
			snprintf(cred_dir_err, sizeof(cred_dir_err), "%.*s", (int)sizeof(cred_dir_err) - 1, err.msg);
		}

		pthread_mutex_lock(&p->lock);
		/* the list may have changed meanwhile: find the row by name */
		for (size_t k = 0; k < p->n; k++)
			if (strcmp(p->rows[k].name, name) == 0) {
				struct agent_row *r = &p->rows[k];
				nr_agent_free(r->client);
				r->client = client;
				client = NULL;
				r->st = st;
				r->checked = true;
				snprintf(r->pinned, sizeof(r->pinned), "%s", ci.guest_fingerprint);
				snprintf(r->error, sizeof(r->error), "%s", cred_dir_err);
				r->has_sync = has_sync;
				r->sync = sync;
				break;
			}
		pthread_mutex_unlock(&p->lock);
		nr_agent_free(client);
	}
}

static void *worker(void *arg)
{
	struct agents_priv *p = arg;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		if (!p->request) {
			if (any_running(p)) {
				nr_cond_wait_until(&p->cond, &p->lock, nr_now_ms() + AGENT_PERIOD_S * 1000LL);
			} else {
				pthread_cond_wait(&p->cond, &p->lock);
			}
			if (p->stop)
				break;
		}
		p->request = false;
		p->busy = true;
		pthread_mutex_unlock(&p->lock);
		round_once(p);
		pthread_mutex_lock(&p->lock);
		p->busy = false;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
		tui_wake(p->t);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

void tui_agents_settle(struct tui *t)
{
	for (size_t i = 0; i < t->n_views; i++) {
		struct agents_priv *p = t->views[i].priv;
		if (t->views[i].ops != &tui_view_agents_ops || !p || !p->started)
			continue;
		pthread_mutex_lock(&p->lock);
		while (p->request || p->busy)
			pthread_cond_wait(&p->cond, &p->lock);
		pthread_mutex_unlock(&p->lock);
	}
}

static void agents_reload(struct tui *t, struct tui_view *v)
{
	struct agents_priv *p = v->priv;
	const struct nr_vm_list *list = NULL;
	struct agent_row *old;
	size_t n_old;

	if (!p) {
		p = v->priv = tui_xcalloc(1, sizeof(*p));
		pthread_mutex_init(&p->lock, NULL);
		nr_cond_init(&p->cond);
		p->t = t;
		if (pthread_create(&p->thread, NULL, worker, p) == 0)
			p->started = true;
	}
	/* the list the libvirt worker read (virt.c): no call to libvirt on this thread */
	nr_error_clear(&p->list_err);
	if (t->virt_state == TUI_VIRT_UP && t->vms) {
		list = t->vms;
	} else {
		char why[1100];
		nr_error_set(&p->list_err, t->virt_state == TUI_VIRT_CONNECTING ? -NR_E_BUSY : -NR_E_VIRT, "%s",
			     tui_virt_problem(t, why, sizeof(why)));
	}

	pthread_mutex_lock(&p->lock);
	old = malloc(sizeof(p->rows));
	n_old = p->n;
	if (old)
		memcpy(old, p->rows, sizeof(p->rows));
	p->n = 0;
	for (size_t i = 0; list && i < list->n && p->n < MAX_AGENTS; i++) {
		const struct nr_vm *vm = &list->vms[i];
		struct agent_row *r = &p->rows[p->n];
		struct nr_error err = { 0 };
		const char *sock;

		if (!vm->info || !vm->info->agent)
			continue;
		memset(r, 0, sizeof(*r));
		snprintf(r->name, sizeof(r->name), "%s", vm->name);
		r->running = vm->state == NR_VM_RUNNING;
		if (nr_agent_channel_of(vm->info, &sock, &err) == 0)
			snprintf(r->socket, sizeof(r->socket), "%s", sock);
		else
			snprintf(r->no_socket, sizeof(r->no_socket), "%.200s", err.msg);
		/* keep what the worker knew, and its client */
		for (size_t k = 0; old && k < n_old; k++)
			if (strcmp(old[k].name, r->name) == 0) {
				r->checked = old[k].checked;
				r->st = old[k].st;
				memcpy(r->pinned, old[k].pinned, sizeof(r->pinned));
				memcpy(r->error, old[k].error, sizeof(r->error));
				r->client = old[k].client;
				old[k].client = NULL;
				r->has_sync = old[k].has_sync;
				r->sync = old[k].sync;
			}
		p->n++;
	}
	for (size_t k = 0; old && k < n_old; k++)
		nr_agent_free(old[k].client);
	free(old);
	v->n_rows = p->n;
	p->request = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	/* tests dump deterministic screens: wait for the round the reload asked for */
	if (t->script_mode)
		tui_agents_settle(t);
}

static void agents_done(struct tui *t, struct tui_view *v)
{
	struct agents_priv *p = v->priv;

	(void)t;
	if (!p)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->lock);
		p->stop = true;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->thread, NULL);
	}
	for (size_t i = 0; i < p->n; i++)
		nr_agent_free(p->rows[i].client);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
	v->priv = NULL;
}

static const char *agents_header(struct tui *t, struct tui_view *v)
{
	(void)t;
	(void)v;
	return " VM                Agent         Version   Last ping  Resolution Clipboard";
}

static void ago(time_t when, char *buf, size_t size)
{
	time_t now = time(NULL);

	if (!when)
		snprintf(buf, size, "never");
	else if (now - when < 60)
		snprintf(buf, size, "%lds ago", (long)(now - when));
	else
		snprintf(buf, size, "%ldm ago", (long)(now - when) / 60);
}

/* The Clipboard column: what the sync of the VM is doing, "off" when none runs. */
static const char *sync_word(const struct agent_row *r)
{
	if (!r->has_sync || !r->sync.running)
		return r->st.connected || r->has_sync ? "sync off" : "-";
	if (strcmp(r->sync.state, "syncing") == 0)
		return "syncing";
	return strcmp(r->sync.state, "paused") == 0 ? "sync paused" : "sync waits";
}

static void agents_row(struct tui *t, struct tui_view *v, size_t i, int y, int x, int w, bool sel)
{
	struct agents_priv *p = v->priv;
	enum tui_color base = sel ? TUI_C_SELECTED : TUI_C_NORMAL;
	struct agent_row r;
	char name[64], ver[64], ping[32], res[24];

	pthread_mutex_lock(&p->lock);
	r = p->rows[i];
	pthread_mutex_unlock(&p->lock);
	tui_clean(t, name, sizeof(name), r.name);
	tui_putf(t, y, x, w, base, " %-17.17s", name);
	bool syncing = r.has_sync && r.sync.running;
	if (r.st.connected || (syncing && r.sync.agent_connected))
		tui_putf(t, y, x + 19, 14, sel ? base : TUI_C_OK, "%s connected", t->g->ok);
	else if (!r.running)
		tui_putf(t, y, x + 19, 14, sel ? base : TUI_C_DIM, "%s VM off", t->g->stopped);
	else
		tui_putf(t, y, x + 19, 14, sel ? base : TUI_C_FAIL, "%s %s", t->g->fail, r.checked ? "no answer" : "checking");
	{
		/* "neuron-agent 0.1.0": the version is the last word */
		const char *sp = strrchr(r.st.agent_version, ' ');
		tui_clean(t, ver, sizeof(ver), r.st.agent_version[0] ? (sp ? sp + 1 : r.st.agent_version) : "-");
	}
	ago(r.st.last_ping, ping, sizeof(ping));
	if (r.st.width > 0)
		snprintf(res, sizeof(res), "%dx%d", r.st.width, r.st.height);
	else
		snprintf(res, sizeof(res), "-");
	tui_putf(t, y, x + 33, w - 33, base, "%-9.9s %-10s %-10s %s", ver, syncing ? "by sync" : ping, res,
		 sync_word(&r));
}

static void agents_details(struct tui *t, struct tui_view *v, size_t i, int y, int x, int h, int w)
{
	struct agents_priv *p = v->priv;
	struct agent_row r;
	char buf[600], ping[32];
	int line = 0;

	pthread_mutex_lock(&p->lock);
	r = p->rows[i];
	pthread_mutex_unlock(&p->lock);
	bool held = r.has_sync && r.sync.running; /* by agent sync: this panel does not ping it */
	tui_clean(t, buf, sizeof(buf), r.name);
	tui_putf(t, y + line++, x, w, TUI_C_INFO, "Agent of VM %s: %s", buf,
		 held ? (r.sync.agent_connected ? "connected over TLS 1.3, held by agent sync"
						: "held by agent sync, which waits for it")
		      : r.st.connected ? "connected over TLS 1.3" : "not connected");
	tui_clean(t, buf, sizeof(buf), r.socket[0] ? r.socket : "(none yet)");
	tui_putf(t, y + line++, x, w, TUI_C_NORMAL, "Channel socket: %s", buf);
	tui_clean(t, buf, sizeof(buf), r.pinned[0] ? r.pinned : "none: neuronctl agent certs VM makes them");
	tui_putf(t, y + line++, x, w, TUI_C_NORMAL, "Pinned certificate: %s", buf);
	if (r.st.fingerprint[0]) {
		bool same = strcmp(r.st.fingerprint, r.pinned) == 0;
		tui_putf(t, y + line++, x, w, same ? TUI_C_OK : TUI_C_FAIL, "%s The guest's certificate %s", same ? t->g->ok : t->g->fail,
			 same ? "matches the pinned one" : "differs: not the guest this host made certificates for");
	}
	ago(r.st.last_ping, ping, sizeof(ping));
	if (!held || r.st.last_ping)
		tui_putf(t, y + line++, x, w, TUI_C_NORMAL,
			 "Agent %s, protocol %d; last ping %s (%.2f ms); handshakes %lu",
			 r.st.agent_version[0] ? r.st.agent_version : "-", r.st.protocol_version, ping,
			 r.st.last_rtt_ms, r.st.connects);
	if (r.st.width > 0)
		tui_putf(t, y + line++, x, w, TUI_C_NORMAL, "Guest resolution: %dx%d", r.st.width, r.st.height);
	if (held) {
		char when[32], why[300];
		tui_putf(t, y + line++, x, w, TUI_C_OK, "%s Clipboard sync runs (pid %lld): %s, %lu transfer%s", t->g->ok,
			 r.sync.pid, r.sync.state, r.sync.transfers, r.sync.transfers == 1 ? "" : "s");
		if (r.sync.last_at) {
			ago(r.sync.last_at, when, sizeof(when));
			tui_clean(t, buf, sizeof(buf), r.sync.last_mime);
			tui_putf(t, y + line++, x, w, TUI_C_NORMAL, "Last transfer %s, %s: %s, %lld bytes",
				 nr_sync_dir_name(r.sync.last_dir), when, buf, r.sync.last_size);
		}
		if (r.sync.why[0]) {
			tui_clean(t, why, sizeof(why), r.sync.why);
			tui_putf(t, y + line++, x, w, TUI_C_WARN, "%s", why);
		}
	} else {
		tui_clean(t, buf, sizeof(buf), r.name);
		tui_putf(t, y + line++, x, w, TUI_C_DIM, "Clipboard sync: off (neuronctl agent sync %s, or neuron-sync@%s.service)",
			 buf, buf);
	}
	if (r.st.clipboard_events) {
		tui_clean(t, buf, sizeof(buf), r.st.clipboard_mime);
		tui_putf(t, y + line++, x, w, TUI_C_NORMAL, "Clipboard: %lu changes, last %s", r.st.clipboard_events, buf);
	}
	if (r.error[0] || r.st.last_error[0]) {
		tui_clean(t, buf, sizeof(buf), r.error[0] ? r.error : r.st.last_error);
		tui_wrap(t, y + line, x, h - line, w, TUI_C_WARN, buf);
	}
}

static void agents_status(struct tui *t, struct tui_view *v, char *buf, size_t size)
{
	struct agents_priv *p = v->priv;
	size_t up = 0, n;

	(void)t;
	if (!p) {
		snprintf(buf, size, "no agent status");
		return;
	}
	pthread_mutex_lock(&p->lock);
	n = p->n;
	for (size_t i = 0; i < p->n; i++)
		up += p->rows[i].st.connected ||
		      (p->rows[i].has_sync && p->rows[i].sync.running && p->rows[i].sync.agent_connected);
	pthread_mutex_unlock(&p->lock);
	snprintf(buf, size, "%zu of %zu agent%s connected; checked every %d s while their VMs run", up, n,
		 n == 1 ? "" : "s", AGENT_PERIOD_S);
}

static void agents_draw(struct tui *t, struct tui_view *v, int y0, int x0, int h, int w)
{
	struct agents_priv *p = v->priv;

	tui_list_draw(t, v, y0, x0, h, w);
	if (p && p->n == 0)
		tui_wrap(t, y0 + 1, x0 + 1, 3, w - 2, TUI_C_DIM,
			 p->list_err.msg[0] ? p->list_err.msg :
			 "No VM has the NeuronOS agent channel. The new-VM wizard (F3) adds it (agent: true).");
}

/* Enter: the app list of a VM whose agent is connected (view_apps.c). */
static int agents_action(struct tui *t, struct tui_view *v, enum tui_action a)
{
	struct agents_priv *p = v->priv;
	struct agent_row r;

	if (a != TUI_ACT_OPEN || !p || v->sel >= v->n_rows)
		return TUI_IGNORED;
	pthread_mutex_lock(&p->lock);
	r = p->rows[v->sel];
	/* the channel takes one host at a time: the panel lets go of it for the app list
	 * (its next round connects again) */
	if (r.st.connected) {
		nr_agent_free(p->rows[v->sel].client);
		p->rows[v->sel].client = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	if (!r.st.connected) {
		tui_set_status(t, "the agent of that VM is not connected: its apps cannot be listed");
		return TUI_HANDLED;
	}
	tui_apps_open(t, r.name, r.socket);
	return TUI_HANDLED;
}

const struct tui_view_ops tui_view_agents_ops = {
	.name = "agents",
	.title = "Agents",
	.scope = TUI_SCOPE_LIST,
	.reload = agents_reload,
	.draw = agents_draw,
	.header = agents_header,
	.draw_row = agents_row,
	.details = agents_details,
	.action = agents_action,
	.status = agents_status,
	.done = agents_done,
};
