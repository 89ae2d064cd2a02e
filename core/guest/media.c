/* Each VM's guest-tools media (neuron/media.h): the agents, the guest's half of the VM's
 * credentials and their installers, written by xorriso into STATE/vm/NAME/guest-tools.iso. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/internal.h"
#include "neuron/certs.h"
#include "neuron/media.h"
#include "neuron/plan.h"
#include "neuron/profile.h"

#define XORRISO_TIMEOUT_MS 120000
#define SHARE_GUEST "/usr/share/neuron/guest"
#define QEMU_CONF "/etc/libvirt/qemu.conf"
#define UNATTEND_FILE "autounattend.xml"
#define SHARES_FILE "shares.conf"
#define LG_INSTALLER_MAX (256LL << 20)

/* The guest's half of the credentials, named one by one: nothing else of the bundle's
 * folder (nor of the host's, where ca.key and host.key live) can reach the media. */
static const char *const bundle_files[] = { "ca.pem", "guest.pem", "guest.key", "host.pem" };

/* The agent files: where each goes on the media, and where it is looked for beside the
 * program (build/neuronctl, or PREFIX/bin/neuronctl) when media.files is not set. */
enum { F_MSI, F_AGENT, F_UNIT, F_RULES, F_COUNT };
static const struct agent_file {
	const char *name, *iso;
	const char *beside[2];
} agent_files[F_COUNT] = {
	[F_MSI] = { "neuron-agent.msi", "/windows/neuron-agent.msi",
		    { "win/neuron-agent.msi", "../share/neuron/guest/neuron-agent.msi" } },
	[F_AGENT] = { "neuron-agent", "/linux/neuron-agent", { "neuron-agent", NULL } },
	[F_UNIT] = { "neuron-agent.service", "/linux/neuron-agent.service",
		     { "../config/guest/neuron-agent.service", "../share/neuron/guest/neuron-agent.service" } },
	[F_RULES] = { "70-neuron-agent.rules", "/linux/70-neuron-agent.rules",
		      { "../config/guest/70-neuron-agent.rules", "../share/neuron/guest/70-neuron-agent.rules" } },
};

static bool plain_name(const char *vm)
{
	return vm && vm[0] && strcmp(vm, ".") != 0 && strcmp(vm, "..") != 0 && !strchr(vm, '/') &&
	       strlen(vm) < 200;
}

/* STATE/vm and STATE/vm/VM under root. */
static int vm_dirs(const struct nr_ctx *ctx, const char *vm, char **top, char **dir, struct nr_error *err)
{
	char *state;

	*top = *dir = NULL;
	if (!plain_name(vm))
		return nr_error_set(err, -NR_E_INVAL, "'%s' is not a VM name", vm ? vm : "");
	state = nr_path_join(nr_ctx_get(ctx, "root"), nr_ctx_get(ctx, "state_dir"));
	*top = state ? nr_path_join(state, "vm") : NULL;
	*dir = *top ? nr_path_join(*top, vm) : NULL;
	free(state);
	if (!*dir) {
		free(*top);
		*top = NULL;
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	return 0;
}

int nr_media_path(const struct nr_ctx *ctx, const char *vm, char **path, struct nr_error *err)
{
	char *top, *dir;
	int rc = vm_dirs(ctx, vm, &top, &dir, err);

	*path = NULL;
	if (rc < 0)
		return rc;
	*path = nr_path_join(dir, NR_MEDIA_FILE);
	free(top);
	free(dir);
	return *path ? 0 : nr_error_set(err, -NR_E_NOMEM, NULL);
}

static bool readable_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, R_OK) == 0;
}

/* Where an agent file is: DIR/NAME with media.files=DIR, else beside the program, else
 * the system's share folder. NULL when not found (or out of memory). */
static char *find_agent_file(const struct nr_ctx *ctx, const struct agent_file *f)
{
	const char *dir = nr_ctx_get(ctx, "media.files");
	char exe[PATH_MAX], path[PATH_MAX + 128];
	ssize_t n;

	if (dir && dir[0]) {
		snprintf(path, sizeof(path), "%s/%s", dir, f->name);
		return readable_file(path) ? strdup(path) : NULL;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		for (int i = 0; i < 2; i++) {
			if (!f->beside[i])
				continue;
			snprintf(path, sizeof(path), "%s/%s", exe, f->beside[i]);
			if (readable_file(path))
				return realpath(path, NULL);
		}
	}
	snprintf(path, sizeof(path), "%s/%s", SHARE_GUEST, f->name);
	return readable_file(path) ? strdup(path) : NULL;
}

/* The user QEMU runs as: `user = "NAME"` in root's qemu.conf; "" when it does not say. */
static void qemu_user(const struct nr_ctx *ctx, char *out, size_t size)
{
	char *path = nr_path_join(nr_ctx_get(ctx, "root"), QEMU_CONF), *text = NULL;
	size_t len;

	out[0] = '\0';
	if (!path || nr_read_file_max(path, 1 << 20, &text, &len, NULL) < 0) {
		free(path);
		return;
	}
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		line += strspn(line, " \t");
		if (strncmp(line, "user", 4) != 0)
			continue;
		line += 4;
		line += strspn(line, " \t");
		if (*line++ != '=')
			continue;
		line += strspn(line, " \t");
		if (*line++ != '"')
			continue;
		char *end = strchr(line, '"');
		if (end && (size_t)(end - line) < size) {
			memcpy(out, line, (size_t)(end - line));
			out[end - line] = '\0';
		}
	}
	free(text);
	free(path);
}

static int write_text(const char *dir, const char *name, const char *text, struct nr_error *err)
{
	char *path = nr_path_join(dir, name);
	int fd = path ? open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644) : -1;
	size_t len = strlen(text);
	int rc = 0;

	if (!path)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		rc = nr_error_set(err, -NR_E_IO, "cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

/* ---- what the scripts say --------------------------------------------------------------- */

/* CRLF line ends: cmd.exe and Notepad read them */
static const char setup_cmd[] =
	"@echo off\r\n"
	"rem NeuronOS guest tools: installs the NeuronOS agent service with this VM's credentials.\r\n"
	"rem Run it as an administrator (or from an unattended install's first logon).\r\n"
	"if not exist \"%~dp0windows\\neuron-agent.msi\" (\r\n"
	"  echo This media has no windows\\neuron-agent.msi: the host had not built the Windows agent.\r\n"
	"  echo On the host: make deps, make, then neuronctl agent media VM, and attach the new media.\r\n"
	"  exit /b 2\r\n"
	")\r\n"
	"msiexec /i \"%~dp0windows\\neuron-agent.msi\" /qn CERTS=%~d0\\certs /l*v \"%TEMP%\\neuron-agent-setup.log\"\r\n"
	"if errorlevel 1 (\r\n"
	"  echo The NeuronOS agent was not installed: msiexec failed, see %TEMP%\\neuron-agent-setup.log\r\n"
	"  exit /b 1\r\n"
	")\r\n"
	"rem The shared folders (certs\\shares.conf, NAME=DRIVE): the agent reports them; virtio-win's\r\n"
	"rem virtiofs.exe with WinFsp mounts each as its own launcher instance, so that more than one works.\r\n"
	"if exist \"%~d0\\certs\\shares.conf\" call :shares\r\n"
	"echo The NeuronOS agent is installed and running. On the host: neuronctl agent ping VM\r\n"
	"exit /b 0\r\n"
	"\r\n"
	":shares\r\n"
	"set NEURON_DIR=%ProgramData%\\NeuronOS\\agent\r\n"
	"if not exist \"%NEURON_DIR%\" mkdir \"%NEURON_DIR%\"\r\n"
	"copy /y \"%~d0\\certs\\shares.conf\" \"%NEURON_DIR%\\shares.conf\" >nul\r\n"
	"set VIOFS=%ProgramFiles%\\Virtio-Win\\VioFS\\virtiofs.exe\r\n"
	"if not exist \"%VIOFS%\" for %%d in (D E F G H I J K L M N O P Q R S T U V W X Y) do (\r\n"
	"  if exist \"%%d:\\viofs\\w11\\amd64\\virtiofs.exe\" if not exist \"%VIOFS%\" (\r\n"
	"    mkdir \"%ProgramFiles%\\Virtio-Win\\VioFS\" 2>nul\r\n"
	"    copy /y \"%%d:\\viofs\\w11\\amd64\\virtiofs.exe\" \"%VIOFS%\" >nul\r\n"
	"  )\r\n"
	")\r\n"
	"set WINFSP=%ProgramFiles(x86)%\\WinFsp\\bin\r\n"
	"if not exist \"%WINFSP%\\launchctl-x64.exe\" for %%d in (D E F G H I J K L M N O P Q R S T U V W X Y) do (\r\n"
	"  if not exist \"%WINFSP%\\launchctl-x64.exe\" for %%m in (%%d:\\winfsp*.msi) do msiexec /i \"%%m\" /qn\r\n"
	")\r\n"
	"if not exist \"%VIOFS%\" (\r\n"
	"  echo Shared folders: virtiofs.exe not found; install virtio-win's guest tools, then run this again.\r\n"
	"  exit /b 0\r\n"
	")\r\n"
	"if not exist \"%WINFSP%\\launchctl-x64.exe\" (\r\n"
	"  echo Shared folders: WinFsp is not installed; install it ^(winfsp.dev^), then run this again.\r\n"
	"  exit /b 0\r\n"
	")\r\n"
	"rem one launcher instance per share, not virtio-win's single VirtioFsSvc\r\n"
	"sc config VirtioFsSvc start= demand >nul 2>&1\r\n"
	"sc stop VirtioFsSvc >nul 2>&1\r\n"
	"call \"%WINFSP%\\fsreg.bat\" virtiofs \"%VIOFS%\" \"-t %%1 -m %%2\" >nul\r\n"
	"(\r\n"
	"  echo @echo off\r\n"
	"  echo for /f \"usebackq tokens=1,2 delims==\" %%%%a in ^(\"%NEURON_DIR%\\shares.conf\"^) do \"%WINFSP%\\launchctl-x64.exe\" start virtiofs neuron-%%%%a %%%%a %%%%b\r\n"
	") > \"%NEURON_DIR%\\shares.cmd\"\r\n"
	"schtasks /create /f /tn \"NeuronOS shares\" /sc onstart /ru SYSTEM /tr \"\\\"%NEURON_DIR%\\shares.cmd\\\"\" >nul\r\n"
	"call \"%NEURON_DIR%\\shares.cmd\"\r\n"
	"echo Shared folders mounted: see %NEURON_DIR%\\shares.conf\r\n"
	"exit /b 0\r\n";

static const char setup_sh[] =
	"#!/bin/sh\n"
	"# NeuronOS guest tools for Linux guests: the agent, its systemd user unit, the udev rule\n"
	"# that gives the virtio port to the logged-in user, and this VM's credentials for USER.\n"
	"#   sudo sh /path/to/media/setup.sh [USER]      (USER: default the one running sudo)\n"
	"# The agent needs libjson-c (and libwolfssl when the host built it with WOLFSSL=system).\n"
	"set -eu\n"
	"here=$(cd \"$(dirname \"$0\")\" && pwd)\n"
	"root=${DESTDIR:-}\n"
	"user=${1:-${SUDO_USER:-}}\n"
	"if [ -z \"$root\" ] && [ \"$(id -u)\" != 0 ]; then\n"
	"\techo \"setup.sh: run it as root: sudo sh $0 USER\" >&2; exit 1\n"
	"fi\n"
	"if [ -z \"$user\" ]; then echo \"setup.sh: which user runs the agent? sudo sh $0 USER\" >&2; exit 1; fi\n"
	"home=$(getent passwd \"$user\" | cut -d: -f6)\n"
	"group=$(id -gn \"$user\" 2>/dev/null || true)\n"
	"if [ -z \"$home\" ] || [ -z \"$group\" ]; then echo \"setup.sh: no user '$user'\" >&2; exit 1; fi\n"
	"if [ ! -f \"$here/linux/neuron-agent\" ]; then\n"
	"\techo \"setup.sh: this media has no linux/neuron-agent (the host had not built it)\" >&2; exit 1\n"
	"fi\n"
	"install -D -m 0755 \"$here/linux/neuron-agent\" \"$root/usr/local/bin/neuron-agent\"\n"
	"install -D -m 0644 \"$here/linux/neuron-agent.service\" \"$root/etc/systemd/user/neuron-agent.service\"\n"
	"install -D -m 0644 \"$here/linux/70-neuron-agent.rules\" \"$root/etc/udev/rules.d/70-neuron-agent.rules\"\n"
	"# the credentials: the user's own, guest.key readable by nobody else\n"
	"conf=$root$home/.config\n"
	"[ -d \"$conf\" ] || install -d -m 0755 -o \"$user\" -g \"$group\" \"$conf\"\n"
	"install -d -m 0700 -o \"$user\" -g \"$group\" \"$conf/neuron-agent\"\n"
	"for f in ca.pem guest.pem host.pem; do\n"
	"\tinstall -m 0644 -o \"$user\" -g \"$group\" \"$here/certs/$f\" \"$conf/neuron-agent/$f\"\n"
	"done\n"
	"install -m 0600 -o \"$user\" -g \"$group\" \"$here/certs/guest.key\" \"$conf/neuron-agent/guest.key\"\n"
	"# the shared folders (certs/shares.conf, NAME=GUESTPATH): the agent mounts and reports them;\n"
	"# fstab lets it (nofail: a VM started without a share still boots; user: the agent's user mounts)\n"
	"if [ -f \"$here/certs/shares.conf\" ]; then\n"
	"\tinstall -D -m 0644 \"$here/certs/shares.conf\" \"$root/etc/neuron-agent/shares.conf\"\n"
	"\ttouch \"$root/etc/fstab\"\n"
	"\twhile IFS='=' read -r name path; do\n"
	"\t\tcase $path in /mnt/neuron/*) ;; *) continue ;; esac\n"
	"\t\tinstall -d -m 0755 \"$root$path\"\n"
	"\t\tgrep -q \"^$name $path virtiofs \" \"$root/etc/fstab\" ||\n"
	"\t\t\techo \"$name $path virtiofs rw,nofail,user 0 0\" >>\"$root/etc/fstab\"\n"
	"\tdone <\"$here/certs/shares.conf\"\n"
	"fi\n"
	"if [ -z \"$root\" ]; then\n"
	"\tudevadm control --reload 2>/dev/null || true\n"
	"\tudevadm trigger --subsystem-match=virtio-ports 2>/dev/null || true\n"
	"\tsystemctl --global enable neuron-agent.service\n"
	"fi\n"
	"echo \"The NeuronOS agent is installed for $user: it starts at their next login\"\n"
	"echo \"(now: systemctl --user start neuron-agent, as $user). On the host: neuronctl agent ping VM\"\n";

static char *readme_text(const char *vm, const struct nr_media_info *info)
{
	struct nr_buf b;
	char clean[256];

	nr_text_sanitize(clean, sizeof(clean), vm, true);
	nr_buf_init(&b);
	nr_buf_printf(&b,
		      "NeuronOS guest tools for the VM %s\r\n"
		      "\r\n"
		      "This CD holds the NeuronOS guest agent and this VM's credentials (certs\\: the guest's\r\n"
		      "certificate and key, the VM's CA and the host's certificate, which the agent pins).\r\n"
		      "Keep certs\\guest.key private; the host can make new ones (neuronctl agent certs --force\r\n"
		      "VM, then neuronctl agent media VM).\r\n"
		      "\r\n"
		      "Windows, as an administrator (with virtio-win's vioserial driver installed):\r\n"
		      "    D:\\setup.cmd            (D: being this CD's drive)\r\n"
		      "  which runs: msiexec /i windows\\neuron-agent.msi /qn CERTS=D:\\certs\r\n"
		      "%s"
		      "\r\n"
		      "Linux, as root, for the user who logs in to the desktop:\r\n"
		      "    sudo sh /run/media/$USER/NEURON_TOOLS/setup.sh USER\r\n"
		      "  (the agent to /usr/local/bin, its systemd user unit, the udev rule for the port,\r\n"
		      "  the credentials to ~USER/.config/neuron-agent)\r\n"
		      "%s"
		      "\r\n"
		      "Then, on the host: neuronctl agent ping VM\r\n"
		      "%s%s",
		      clean,
		      info->has_msi ? "" : "  NOTE: this media has no Windows agent (the host had not built it).\r\n",
		      info->has_linux ? "" : "  NOTE: this media has no Linux agent (the host had not built it).\r\n",
		      info->has_lg ? "\r\n" NR_MEDIA_LG_INSTALLER ": the Looking Glass host installer the VM's profile names;\r\n"
				     "run it in Windows as an administrator (silently: " NR_MEDIA_LG_INSTALLER " /S).\r\n" : "",
		      info->has_unattend ? "\r\nautounattend.xml: Windows Setup reads it from this CD and installs by itself;\r\n"
					   "the first logon runs virtio-win's guest tools, then setup.cmd"
					   "\r\n(and the Looking Glass installer when this CD has it).\r\n" : "");
	return nr_buf_steal(&b);
}

/* ---- running xorriso -------------------------------------------------------------------- */

struct tool_output {
	char text[4096];
	size_t len;
};

static void keep_output(void *userdata, enum nr_plan_event ev, const char *chunk)
{
	struct tool_output *o = userdata;
	size_t n = strlen(chunk);

	(void)ev;
	if (n >= sizeof(o->text)) {
		chunk += n - (sizeof(o->text) - 1);
		n = sizeof(o->text) - 1;
	}
	if (o->len + n >= sizeof(o->text)) { /* keep the tail */
		size_t drop = o->len + n - (sizeof(o->text) - 1);
		memmove(o->text, o->text + drop, o->len - drop);
		o->len -= drop;
	}
	memcpy(o->text + o->len, chunk, n);
	o->len += n;
	o->text[o->len] = '\0';
}

/* The line that says what went wrong: xorriso's first FAILURE or SORRY, else the last. */
static void tool_reason(const struct tool_output *o, char *out, size_t size)
{
	const char *best = NULL, *last = NULL;

	for (const char *l = o->text; *l;) {
		const char *e = strchr(l, '\n');
		size_t n = e ? (size_t)(e - l) : strlen(l);
		if (n) {
			last = l;
			if (!best && (memmem(l, n, ": FAILURE :", 11) || memmem(l, n, ": SORRY :", 9) ||
				      memmem(l, n, "cannot run", 10)))
				best = l;
		}
		l += n + (e ? 1 : 0);
	}
	const char *l = best ? best : last;
	size_t n = l ? strcspn(l, "\n") : 0;
	char line[512];
	snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1), l ? l : "");
	nr_text_sanitize(out, size, line[0] ? line : "it failed", false);
}

static int add_args(char ***v, size_t *n, const char *const *args)
{
	for (size_t i = 0; args[i]; i++)
		if (nr_strv_add(v, n, args[i]) < 0)
			return -NR_E_NOMEM;
	return 0;
}

/* xorriso's "-map SRC DST" for each of n names, from the folder src into the ISO's dst. */
static int add_maps(char ***v, size_t *n, const char *src, const char *dst, const char *const *names,
		    size_t count)
{
	int rc = 0;

	for (size_t i = 0; i < count && rc == 0; i++) {
		char *from = nr_path_join(src, names[i]), *to = nr_path_join(dst, names[i]);
		const char *map[] = { "-map", from, to, NULL };
		rc = from && to ? add_args(v, n, map) : -NR_E_NOMEM;
		free(from);
		free(to);
	}
	return rc;
}

/* ---- making it -------------------------------------------------------------------------- */

static int check_bundle(const char *bundle, const char *host_dir, const char *vm, struct nr_error *err)
{
	char *mine = nr_path_join(bundle, "guest.pem"), *host = nr_path_join(host_dir, "guest.pem");
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	int rc = 0;

	if (!mine || !host) {
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto out;
	}
	for (size_t i = 0; i < sizeof(bundle_files) / sizeof(bundle_files[0]); i++) {
		char *f = nr_path_join(bundle, bundle_files[i]);
		bool ok = f && readable_file(f);
		free(f);
		if (!ok) {
			rc = nr_error_set(err, -NR_E_AGENT_NOCERTS,
					  "the guest's bundle %s has no %s: make the credentials again with "
					  "'neuronctl agent certs --force %s' (the bundle goes there), then "
					  "'neuronctl agent media %s'", bundle, bundle_files[i], vm, vm);
			goto out;
		}
	}
	if (nr_read_file_max(mine, 1 << 16, &a, &alen, err) < 0 || nr_read_file_max(host, 1 << 16, &b, &blen, err) < 0) {
		rc = err ? err->code : -NR_E_IO;
		goto out;
	}
	if (alen != blen || memcmp(a, b, alen) != 0)
		rc = nr_error_set(err, -NR_E_AGENT_CERT,
				  "the guest's bundle %s is not the one of %s's current credentials (made with "
				  "--bundle elsewhere?): make them again with 'neuronctl agent certs --force %s', "
				  "then 'neuronctl agent media %s'", bundle, vm, vm, vm);
out:
	free(a);
	free(b);
	free(mine);
	free(host);
	return rc;
}

static void remove_staging(const char *staging)
{
	static const char *const made[] = { "README.txt", "setup.cmd", "setup.sh" };

	for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
		char *p = nr_path_join(staging, made[i]);
		if (p)
			unlink(p);
		free(p);
	}
	rmdir(staging);
}

int nr_media_make(const struct nr_ctx *ctx, const char *vm, struct nr_media_info *info, struct nr_error *err)
{
	struct nr_certs_info certs;
	struct tool_output *out = NULL;
	char *top = NULL, *dir = NULL, *bundle = NULL, *iso = NULL, *tmp = NULL, *staging = NULL, *readme = NULL;
	char *found[F_COUNT] = { 0 };
	char **argv = NULL, *target = NULL;
	size_t argc = 0;
	int rc, status = 0, fd;

	memset(info, 0, sizeof(*info));
	if ((rc = vm_dirs(ctx, vm, &top, &dir, err)) < 0)
		return rc;
	/* the credentials: made now when the VM has none */
	rc = nr_certs_info(ctx, vm, &certs, err);
	if (rc == -NR_E_AGENT_NOCERTS) {
		char *cdir = NULL;
		nr_error_clear(err);
		if ((rc = nr_certs_dir(ctx, vm, &cdir, err)) < 0)
			goto out;
		bundle = nr_path_join(cdir, "bundle");
		free(cdir);
		if (!bundle) {
			rc = nr_error_set(err, -NR_E_NOMEM, NULL);
			goto out;
		}
		if ((rc = nr_certs_generate(ctx, vm, bundle, false, &certs, err)) < 0)
			goto out;
		info->certs_made = true;
	} else if (rc < 0) {
		goto out;
	} else if (!(bundle = nr_path_join(certs.host_dir, "bundle"))) {
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto out;
	}
	if ((rc = check_bundle(bundle, certs.host_dir, vm, err)) < 0)
		goto out;

	for (int i = 0; i < F_COUNT; i++)
		found[i] = find_agent_file(ctx, &agent_files[i]);
	info->has_msi = found[F_MSI] != NULL;
	info->has_linux = found[F_AGENT] && found[F_UNIT] && found[F_RULES];
	if (!info->has_msi)
		snprintf(info->missing[0], sizeof(info->missing[0]),
			 "no Windows agent on the media: neuron-agent.msi was not found (%s); "
			 "make deps installs mingw-w64 and wixl, make builds build/win/neuron-agent.msi, "
			 "then 'neuronctl agent media VM' remakes the media",
			 nr_ctx_get(ctx, "media.files")[0] ? "in media.files" : "beside the program, nor in " SHARE_GUEST);
	if (!info->has_linux)
		snprintf(info->missing[1], sizeof(info->missing[1]),
			 "no Linux agent on the media: %s was not found (%s)",
			 !found[F_AGENT] ? "neuron-agent" : !found[F_UNIT] ? "neuron-agent.service" : "70-neuron-agent.rules",
			 nr_ctx_get(ctx, "media.files")[0] ? "in media.files" : "beside the program, nor in " SHARE_GUEST);

	/* STATE/vm/VM: QEMU (another user) must pass through to open the ISO, not list it;
	 * so must it through STATE (0700 from tmpfiles.d before, its other folders keep theirs) */
	if ((rc = nr_mkdir_p(dir, 0711, err)) < 0)
		goto out;
	{
		char *state = nr_path_join(nr_ctx_get(ctx, "root"), nr_ctx_get(ctx, "state_dir"));
		struct stat st;
		int bad = !state ? ENOMEM : stat(state, &st) < 0 ? errno : 0;
		if (!bad && (st.st_mode & 0011) != 0011 && chmod(state, (st.st_mode & 07777) | 0011) < 0)
			bad = errno;
		if (!bad && (chmod(top, 0711) < 0 || chmod(dir, 0711) < 0))
			bad = errno;
		if (bad)
			rc = nr_error_set(err, -NR_E_IO, "cannot let QEMU reach %s: %s", dir, strerror(bad));
		free(state);
		if (rc < 0)
			goto out;
	}
	if (!(iso = nr_path_join(dir, NR_MEDIA_FILE)) || asprintf(&tmp, "%s.tmp%d", iso, (int)getpid()) < 0 ||
	    asprintf(&staging, "%s/.media-XXXXXX", dir) < 0) {
		tmp = staging = NULL;
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto out;
	}
	if (!mkdtemp(staging)) {
		rc = nr_error_set(err, -NR_E_IO, "cannot make a folder in %s: %s", dir, strerror(errno));
		free(staging);
		staging = NULL;
		goto out;
	}
	{
		char *answers = nr_path_join(dir, UNATTEND_FILE), *lg = nr_path_join(dir, NR_MEDIA_LG_INSTALLER);
		if (answers && lg) {
			info->has_unattend = readable_file(answers);
			info->has_lg = readable_file(lg);
		}
		free(answers);
		free(lg);
		if (!answers || !lg)
			goto nomem;
		if (!(answers = nr_path_join(dir, SHARES_FILE)))
			goto nomem;
		info->has_shares = readable_file(answers);
		free(answers);
	}
	readme = readme_text(vm, info);
	if (!readme) {
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto out;
	}
	if ((rc = write_text(staging, "README.txt", readme, err)) < 0 ||
	    (rc = write_text(staging, "setup.cmd", setup_cmd, err)) < 0 ||
	    (rc = write_text(staging, "setup.sh", setup_sh, err)) < 0)
		goto out;
	/* an empty file of mode 0600 first: xorriso writes into it, the key never lies open */
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || fchmod(fd, 0600) < 0) {
		rc = nr_error_set(err, errno == EACCES ? -NR_E_PERM : -NR_E_IO, "cannot make %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);

	/* xorriso: ISO 9660 + Joliet + Rock Ridge; everything owned by root, read-only but for
	 * the programs; guest.key 0600 */
	if (asprintf(&target, "stdio:%s", tmp) < 0) {
		target = NULL;
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto out;
	}
	{
		const char *head[] = { nr_ctx_get(ctx, "media.xorriso"), "-no_rc", "-abort_on", "FAILURE", "-return_with",
				       "SORRY", "32", "-outdev", target, "-volid", NR_MEDIA_LABEL, "-joliet", "on",
				       "-rockridge", "on", NULL };
		if (add_args(&argv, &argc, head) < 0)
			goto nomem;
	}
	{
		static const char *const texts[] = { "README.txt", "setup.cmd", "setup.sh" };
		if (add_maps(&argv, &argc, staging, "/", texts, sizeof(texts) / sizeof(texts[0])) < 0 ||
		    add_maps(&argv, &argc, bundle, "/certs", bundle_files,
			     sizeof(bundle_files) / sizeof(bundle_files[0])) < 0)
			goto nomem;
		if (info->has_shares) {
			const char *conf[] = { SHARES_FILE };
			if (add_maps(&argv, &argc, dir, "/certs", conf, 1) < 0)
				goto nomem;
		}
		/* what nr_media_set_unattend and nr_media_set_lg_installer kept, by the same names */
		const char *kept[2] = { info->has_unattend ? UNATTEND_FILE : NULL,
					info->has_lg ? NR_MEDIA_LG_INSTALLER : NULL };
		for (size_t k = 0; k < 2; k++)
			if (kept[k] && add_maps(&argv, &argc, dir, "/", &kept[k], 1) < 0)
				goto nomem;
		for (int i = 0; i < F_COUNT; i++) {
			if (!found[i] || (i != F_MSI && !info->has_linux))
				continue;
			const char *map[] = { "-map", found[i], agent_files[i].iso, NULL };
			if (add_args(&argv, &argc, map) < 0)
				goto nomem;
		}
	}
	{
		const char *modes[] = { "-chown_r", "0", "/", "--", "-chgrp_r", "0", "/", "--",
					"-find", "/", "-type", "d", "-exec", "chmod", "0755", "--",
					"-find", "/", "-type", "f", "-exec", "chmod", "0644", "--",
					"-chmod", "0755", "/setup.sh", "--", "-chmod", "0600", "/certs/guest.key", "--", NULL };
		if (add_args(&argv, &argc, modes) < 0)
			goto nomem;
		if (info->has_unattend) {
			const char *x[] = { "-chmod", "0600", "/" UNATTEND_FILE, "--", NULL };
			if (add_args(&argv, &argc, x) < 0)
				goto nomem;
		}
		if (info->has_linux) {
			const char *x[] = { "-chmod", "0755", "/linux/neuron-agent", "--", NULL };
			if (add_args(&argv, &argc, x) < 0)
				goto nomem;
		}
		const char *end[] = { "-commit", "-end", NULL };
		if (add_args(&argv, &argc, end) < 0)
			goto nomem;
	}
	out = calloc(1, sizeof(*out));
	if (!out)
		goto nomem;
	rc = nr_plan_run_host((const char *const *)argv, XORRISO_TIMEOUT_MS, keep_output, out, &status, err);
	if (rc < 0) {
		nr_error_prefix(err, "cannot make %s: ", iso);
		goto out;
	}
	if (status != 0) {
		char reason[512];
		tool_reason(out, reason, sizeof(reason));
		if (status == 127 && strstr(out->text, "cannot run"))
			rc = nr_error_set(err, -NR_E_UNSUPPORTED,
					  "cannot make %s: %s is not installed (install the xorriso package)", iso,
					  nr_ctx_get(ctx, "media.xorriso"));
		else
			rc = nr_error_set(err, -NR_E_COMMAND, "xorriso could not make %s (exit %d): %s", iso, status,
					  reason);
		goto out;
	}
	/* the user QEMU runs as, so that the VM opens it and nobody else reads the key */
	qemu_user(ctx, info->owner, sizeof(info->owner));
	if (info->owner[0]) {
		struct passwd *pw = geteuid() == 0 ? getpwnam(info->owner) : NULL;
		if (!pw || chown(tmp, pw->pw_uid, pw->pw_gid) < 0)
			info->owner[0] = '\0';
	}
	if (chmod(tmp, 0600) < 0 || rename(tmp, iso) < 0) {
		rc = nr_error_set(err, -NR_E_IO, "cannot put %s in place: %s", iso, strerror(errno));
		goto out;
	}
	snprintf(info->path, sizeof(info->path), "%s", iso);
	rc = 0;
	goto out;
nomem:
	rc = nr_error_set(err, -NR_E_NOMEM, NULL);
out:
	if (tmp && rc < 0)
		unlink(tmp);
	if (staging)
		remove_staging(staging);
	for (int i = 0; i < F_COUNT; i++)
		free(found[i]);
	nr_strv_free(argv, argc);
	free(out);
	free(target);
	free(readme);
	free(staging);
	free(tmp);
	free(iso);
	free(bundle);
	free(dir);
	free(top);
	return rc;
}

/* Keep a file in STATE/vm/VM for every later nr_media_make: text (len bytes), or what can
 * be read from src_fd; neither removes it. Written beside and renamed: a reader sees the
 * old file or the new one. */
static int keep_file(const struct nr_ctx *ctx, const char *vm, const char *name, unsigned mode, const char *text,
		     size_t len, int src_fd, const char *src_shown, struct nr_error *err)
{
	char *top, *dir, *path = NULL, *tmp = NULL;
	int rc = vm_dirs(ctx, vm, &top, &dir, err), fd = -1;

	if (rc < 0)
		return rc;
	if (!(path = nr_path_join(dir, name)) || asprintf(&tmp, "%s.tmp%d", path, (int)getpid()) < 0) {
		tmp = NULL;
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto out;
	}
	if (!text && src_fd < 0) {
		if (unlink(path) < 0 && errno != ENOENT)
			rc = nr_error_set(err, -NR_E_IO, "cannot remove %s: %s", path, strerror(errno));
		goto out;
	}
	if ((rc = nr_mkdir_p(dir, 0711, err)) < 0)
		goto out;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0 || fchmod(fd, mode) < 0)
		goto io;
	if (text) {
		if (write(fd, text, len) != (ssize_t)len)
			goto io;
	} else {
		char buf[65536];
		ssize_t n;
		while ((n = read(src_fd, buf, sizeof(buf))) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				rc = nr_error_set(err, -NR_E_IO, "cannot read %s: %s", src_shown, strerror(errno));
				unlink(tmp);
				goto out;
			}
			if (write(fd, buf, (size_t)n) != n)
				goto io;
		}
	}
	if (fsync(fd) < 0 || rename(tmp, path) < 0)
		goto io;
	goto out;
io:
	rc = nr_error_set(err, errno == EACCES ? -NR_E_PERM : errno == ENOSPC ? -NR_E_NOSPACE : -NR_E_IO,
			  "cannot write %s: %s", path, strerror(errno));
	unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	free(tmp);
	free(path);
	free(dir);
	free(top);
	return rc;
}

int nr_media_set_unattend(const struct nr_ctx *ctx, const char *vm, const char *xml, struct nr_error *err)
{
	return keep_file(ctx, vm, UNATTEND_FILE, 0600, xml, xml ? strlen(xml) : 0, -1, NULL, err);
}

/* The installer, open for reading: a regular file of a plausible size. */
static int open_lg_installer(const char *installer, struct nr_error *err)
{
	struct stat st;
	int fd = nr_open_kind(AT_FDCWD, installer, O_RDONLY, NR_OPEN_FILE, installer, &st, err);

	if (fd < 0) {
		nr_error_prefix(err, "looking_glass.installer: ");
		return fd;
	}
	if (st.st_size > LG_INSTALLER_MAX) {
		close(fd);
		return nr_error_set(err, -NR_E_INVAL, "looking_glass.installer: %s is %lld MiB: is it the Looking "
				    "Glass host installer? (it is a few MiB)", installer, (long long)(st.st_size >> 20));
	}
	return fd;
}

int nr_media_check(const struct nr_profile *p, struct nr_error *err)
{
	int fd;

	if (!nr_profile_guest_tools(p) || !p->lg.enabled || !p->lg.installer)
		return 0;
	if ((fd = open_lg_installer(p->lg.installer, err)) < 0)
		return fd;
	close(fd);
	return 0;
}

int nr_media_set_lg_installer(const struct nr_ctx *ctx, const char *vm, const char *installer, struct nr_error *err)
{
	int fd = -1, rc;

	if (installer && (fd = open_lg_installer(installer, err)) < 0)
		return fd;
	rc = keep_file(ctx, vm, NR_MEDIA_LG_INSTALLER, 0644, NULL, 0, fd, installer, err);
	if (fd >= 0)
		close(fd);
	return rc;
}

bool nr_share_guest_path(const struct nr_profile *p, size_t i, char *out, size_t size)
{
	char name[NR_SHARE_NAME_MAX + 1], dir[8];

	if (!nr_profile_share(p, i, NULL, name, sizeof(name), dir, sizeof(dir)))
		return false;
	if (strncmp(p->template_name, "windows", 7) == 0)
		snprintf(out, size, "%c:", (char)('Z' - i));
	else
		snprintf(out, size, NR_SHARE_LINUX_DIR "/%s", name);
	return true;
}

int nr_media_set_shares(const struct nr_ctx *ctx, const struct nr_profile *p, struct nr_error *err)
{
	struct nr_buf b;
	int rc;

	if (!p->n_shares)
		return keep_file(ctx, p->name, SHARES_FILE, 0644, NULL, 0, -1, NULL, err);
	nr_buf_init(&b);
	for (size_t i = 0; i < p->n_shares; i++) {
		char name[NR_SHARE_NAME_MAX + 1], dir[8], guest[128];
		nr_profile_share(p, i, NULL, name, sizeof(name), dir, sizeof(dir));
		nr_share_guest_path(p, i, guest, sizeof(guest));
		nr_buf_printf(&b, "%s=%s\n", name, guest);
	}
	rc = b.oom ? nr_error_set(err, -NR_E_NOMEM, NULL)
		   : keep_file(ctx, p->name, SHARES_FILE, 0644, b.data, b.len, -1, NULL, err);
	nr_buf_done(&b);
	return rc;
}

int nr_media_for_profile(const struct nr_ctx *ctx, const struct nr_profile *p, const char *answers,
			 struct nr_media_info *info, struct nr_error *err)
{
	int rc;

	memset(info, 0, sizeof(*info));
	if ((rc = nr_media_set_unattend(ctx, p->name, answers, err)) < 0 ||
	    (rc = nr_media_set_lg_installer(ctx, p->name, p->lg.enabled ? p->lg.installer : NULL, err)) < 0 ||
	    (rc = nr_media_set_shares(ctx, p, err)) < 0)
		return rc;
	return nr_media_make(ctx, p->name, info, err);
}

int nr_media_remove(const struct nr_ctx *ctx, const char *vm, bool *removed, struct nr_error *err)
{
	char *top, *dir, *iso = NULL;
	int rc = vm_dirs(ctx, vm, &top, &dir, err);

	if (removed)
		*removed = false;
	if (rc < 0)
		return rc;
	if ((rc = nr_media_set_unattend(ctx, vm, NULL, err)) < 0 ||
	    (rc = nr_media_set_lg_installer(ctx, vm, NULL, err)) < 0 ||
	    (rc = keep_file(ctx, vm, SHARES_FILE, 0644, NULL, 0, -1, NULL, err)) < 0)
		goto done;
	iso = nr_path_join(dir, NR_MEDIA_FILE);
	if (!iso) {
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
	} else if (unlink(iso) == 0) {
		if (removed)
			*removed = true;
	} else if (errno != ENOENT) {
		rc = nr_error_set(err, errno == EACCES ? -NR_E_PERM : -NR_E_IO, "cannot remove %s: %s", iso,
				  strerror(errno));
	}
	/* the folder goes with it when nothing else is in it */
	if (rc == 0 && rmdir(dir) < 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST)
		rc = nr_error_set(err, -NR_E_IO, "cannot remove %s: %s", dir, strerror(errno));
done:
	free(iso);
	free(dir);
	free(top);
	return rc;
}
