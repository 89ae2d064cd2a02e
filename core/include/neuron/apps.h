/* The guest's apps on the host (issue 17), what the CLI's `app` commands and the TUI's
 * app list share: host files turned into guest paths through the shared folders, and
 * app run's steps (start the VM, wait for its agent, translate, launch, Looking Glass). */
#ifndef NEURON_APPS_H
#define NEURON_APPS_H

#include <stdbool.h>
#include <stddef.h>

#include "neuron/agent.h"
#include "neuron/ctx.h"
#include "neuron/domain.h"
#include "neuron/error.h"

/* A shared folder as the host can use it: the domain's <filesystem> (its tag and host
 * folder) paired with the place the guest's agent reports for that tag. */
struct nr_app_share {
	char *name;                 /* the virtio-fs tag */
	char *host_dir;             /* as the domain has it */
	char *host_real;            /* host_dir resolved (realpath), NULL when it is not there */
	char *guest_path;           /* "/mnt/neuron/Documents", "Z:\\"; NULL: the guest has not
	                               mounted it (or reported a path that is not usable) */
};
struct nr_app_shares {
	struct nr_app_share *v;
	size_t n;
};

/* Pair the domain's shares (info, from nr_domain_inspect) with what the guest reported
 * (guest may be NULL: none). A guest path is used only when it is absolute (/... or a
 * drive letter), has no ".." part and no control character. */
int nr_app_shares_pair(const struct nr_domain_info *info, const struct nr_agent_shares *guest,
		       struct nr_app_shares *out, struct nr_error *err);
void nr_app_shares_done(struct nr_app_shares *shares);
/* The same for vm: its domain through libvirt, and what agent (may be NULL) reports; an
 * agent without the shares capability reports none. */
int nr_app_shares_of(const struct nr_ctx *ctx, const char *vm, struct nr_agent *agent, struct nr_app_shares *out,
		     struct nr_error *err);

/* The guest's path of host_file: the file is resolved (realpath: "..", symlinks) and must
 * then lie under a share's resolved folder that the guest has mounted. A file outside
 * every share is -NR_E_REFUSED, the message listing the shares (never copied); one under
 * a share the guest has not mounted, -NR_E_UNSUPPORTED saying so; no such file,
 * -NR_E_NOTFOUND. *guest malloc'd. */
int nr_app_translate(const struct nr_app_shares *shares, const char *vm, const char *host_file, char **guest,
		     struct nr_error *err);

/* ---- app run: the steps between a click on a launcher and the app's window. */

enum nr_app_step {
	NR_APP_STEP_START,          /* the VM was off: starting it */
	NR_APP_STEP_WAIT,           /* waiting for its agent (again every second) */
	NR_APP_STEP_LAUNCH,         /* starting the app, or opening a file with it */
	NR_APP_STEP_LG,             /* the Looking Glass client: started, running, or why not */
};
/* what: one line for the user, may hold guest text (sanitise before display). */
typedef void (*nr_app_progress_fn)(void *userdata, enum nr_app_step step, const char *what);

struct nr_app_run_opts {
	const char *vm, *app;       /* app: an id from nr_agent_apps */
	const char *const *files;   /* host files (or guest:PATH), n_files of them; may be NULL */
	size_t n_files;
	int wait_ms;                /* how long the agent may take to answer after a start; 0: 180 s */
	bool no_lg;                 /* leave Looking Glass alone */
	bool direct;                /* open_agent reaches the agent without libvirt (a socket given):
	                               libvirt is then optional; without it the VM is not started,
	                               host files are refused and Looking Glass is left alone */
	/* How to reach the agent (the VM's channel from libvirt when NULL): called once the VM
	 * runs, then for every try while waiting. */
	int (*open_agent)(void *userdata, struct nr_agent **agent, struct nr_error *err);
	void *userdata;             /* for open_agent and progress */
	nr_app_progress_fn progress;
};

enum nr_app_lg { NR_APP_LG_SKIPPED = 0, NR_APP_LG_NO_DEVICE, NR_APP_LG_STARTED, NR_APP_LG_RUNNING, NR_APP_LG_FAILED };

struct nr_app_run_result {
	char app_name[256];         /* as the guest named it (sanitise before display) */
	bool vm_started;            /* the VM was off and was started */
	long long pids[64];         /* one per launch or opened file (0: the guest cannot tell) */
	size_t n_pids;
	enum nr_app_lg lg;
	char lg_note[512];          /* why Looking Glass was skipped or failed */
};

/* Start the VM when it is off, wait for its agent, turn host files into guest paths
 * (nr_app_translate: a file outside every share is refused before the VM is started),
 * launch the app or open each file with it, then start the VM's Looking Glass client
 * (supervised) when it has a Looking Glass device, or raise it (X11: wmctrl) when it runs. Looking Glass failing
 * does not fail the run: res->lg and lg_note say what happened. */
int nr_app_run(const struct nr_ctx *ctx, const struct nr_app_run_opts *opts, struct nr_app_run_result *res,
	       struct nr_error *err);

/* ---- launchers in the host's menu: freedesktop desktop entries and hicolor icons under
 * XDG_DATA_HOME (~/.local/share), and the list of what was written (neuron/apps-VM.list):
 *   applications/neuron-VM-APP.desktop (Name, Icon, Exec=neuronctl app run VM APP %F,
 *   MimeType, Categories), icons/hicolor/{48x48,256x256}/apps/neuron-VM-APP.png */

enum nr_app_event {
	NR_APP_INSTALLED,           /* text: the desktop entry written for app_id */
	NR_APP_REMOVED,             /* text: a file removed */
	NR_APP_NOTE,                /* text: something left out and why (an icon that is no PNG) */
};
typedef void (*nr_app_event_fn)(void *userdata, enum nr_app_event ev, const char *app_id, const char *text);

/* XDG_DATA_HOME, else HOME/.local/share, into out; NULL when neither is set. */
const char *nr_app_data_home(char *out, size_t size);
/* Install launchers for the apps of apps named in ids (all when n_ids is 0; an id the
 * guest does not have is -NR_E_NOTFOUND before anything is written); icons through agent.
 * category NULL: Utility. The list is kept even after a failure, so that uninstall
 * removes what was written. */
int nr_app_install(const char *vm, struct nr_agent *agent, const struct nr_agent_apps *apps, const char *const *ids,
		   size_t n_ids, const char *category, nr_app_event_fn fn, void *userdata, struct nr_error *err);
/* Remove exactly what install wrote for vm (all, or the files of the apps in ids), and,
 * once nothing of vm is left, its list and the directories install made when empty.
 * -NR_E_NOTFOUND when none are installed. Needs no agent. */
int nr_app_uninstall(const char *vm, const char *const *ids, size_t n_ids, nr_app_event_fn fn, void *userdata,
		     struct nr_error *err);
/* Whether install wrote a launcher for app id of vm. */
bool nr_app_installed(const char *vm, const char *id);

#endif
