/* Pre-flight checks for the guest GPU that the scan alone cannot judge, each with its way
 * forward: Resizable BAR, the GPU's reset, and for single-GPU mode a way back and a display
 * stack this program knows. See neuron/single.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "neuron/check.h"
#include "neuron/single.h"
#include "root/root.h"

static bool sys_line_of(const struct nr_ctx *ctx, const char *addr, const char *file, char *buf, size_t size)
{
	char rel[256], *p;
	bool ok;

	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/%s", addr, file);
	p = nr_ctx_sys_path(ctx, rel);
	ok = p && nr_read_line(p, buf, size) == 0;
	free(p);
	return ok;
}

/* The size of BAR n from the device's resource file (its line n: "start end flags"). */
static uint64_t bar_size(const struct nr_ctx *ctx, const char *addr, int n)
{
	char rel[256], *p = NULL, *text = NULL, *line, *save = NULL;
	uint64_t size = 0;

	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/resource", addr);
	if (!(p = nr_ctx_sys_path(ctx, rel)) || nr_read_file_max(p, 1 << 16, &text, NULL, NULL) < 0) {
		free(p);
		return 0;
	}
	line = strtok_r(text, "\n", &save);
	for (int i = 0; line && i < n; i++)
		line = strtok_r(NULL, "\n", &save);
	if (line) {
		unsigned long long start, end;
		if (sscanf(line, "%llx %llx", &start, &end) == 2 && end > start)
			size = end - start + 1;
	}
	free(text);
	free(p);
	return size;
}

static void check_rebar(const struct nr_ctx *ctx, const struct nr_pci_dev *d, struct nr_check *c)
{
	const char *addr = d->addr, *shown = nr_pci_short_addr(d);
	char buf[64];

	for (int n = 0; n < 6; n++) {
		char file[32];
		uint64_t size;
		snprintf(file, sizeof(file), "resource%d_resize", n);
		if (!sys_line_of(ctx, addr, file, buf, sizeof(buf)))
			continue;
		size = bar_size(ctx, addr, n);
		if (size > (256ull << 20)) {
			nr_check_add(c, NR_CHECK_rebar, NR_CHECK_WARN,
				     "if the guest does not start, or its driver stops with an error (Code 43), turn "
				     "Resizable BAR off in the firmware setup and try again",
				     "on: BAR %d of %s is %" PRIu64 " MiB", n, shown, size >> 20);
			return;
		}
		nr_check_add(c, NR_CHECK_rebar, NR_CHECK_PASS, NULL, "resizable, BAR %d of %s is %" PRIu64 " MiB", n,
			     shown, size >> 20);
		return;
	}
	nr_check_add(c, NR_CHECK_rebar, NR_CHECK_PASS, NULL, "off or none on %s", shown);
}

static void check_reset(const struct nr_ctx *ctx, const struct nr_pci_dev *d, struct nr_check *c)
{
	char methods[128] = "";
	bool have = sys_line_of(ctx, d->addr, "reset_method", methods, sizeof(methods));
	char hint[300];

	if (have && strstr(methods, "device_specific")) {
		nr_check_add(c, NR_CHECK_gpu_reset, NR_CHECK_PASS, NULL, "reset_method %s (vendor-reset)", methods);
	} else if (d->vendor == 0x1002) {
		snprintf(hint, sizeof(hint), "install vendor-reset (vendor-reset-dkms), load it at boot, and set "
			 "'echo device_specific > /sys/bus/pci/devices/%s/reset_method'", d->addr);
		nr_check_add(c, NR_CHECK_gpu_reset, NR_CHECK_WARN, hint, "AMD GPU %s resets by %s: many Polaris, "
			     "Vega and Navi 1x cards do not come back after a guest shuts down", nr_pci_short_addr(d),
			     have && methods[0] ? methods : "the kernel's default");
	} else {
		nr_check_add(c, NR_CHECK_gpu_reset, NR_CHECK_PASS, NULL, "%s",
			     have && methods[0] ? methods : "the kernel's default");
	}
}

/* An SSH server enabled under the root, by its unit's link in a .wants folder. */
static const char *ssh_enabled(const struct nr_ctx *ctx)
{
	static const char *const links[] = {
		"/etc/systemd/system/multi-user.target.wants/sshd.service",
		"/etc/systemd/system/multi-user.target.wants/ssh.service",
		"/etc/systemd/system/sockets.target.wants/sshd.socket",
		"/etc/systemd/system/sockets.target.wants/ssh.socket",
		"/etc/systemd/system/multi-user.target.wants/dropbear.service",
		NULL,
	};
	struct nr_root r = { .fd = -1 };
	const char *found = NULL;

	if (nr_root_open(&r, nr_ctx_get(ctx, "root"), NULL) < 0)
		return NULL;
	for (size_t i = 0; links[i] && !found; i++) {
		char *rel = NULL;
		struct stat st;
		if (nr_root_resolve(&r, links[i] + 1, &rel, NULL) == 0 && nr_root_stat(&r, rel, &st, NULL) == 0)
			found = strrchr(links[i], '/') + 1;
		free(rel);
	}
	nr_root_close(&r);
	return found;
}

static void check_recovery(const struct nr_ctx *ctx, const struct nr_scan *scan, struct nr_check *c)
{
	const char *ssh = ssh_enabled(ctx), *cmd = scan->host.cmdline ? scan->host.cmdline : "";
	const char *serial = strstr(cmd, "console=ttyS") ? "console=ttyS" : strstr(cmd, "console=ttyAMA") ?
			     "console=ttyAMA" : strstr(cmd, "console=hvc") ? "console=hvc" : NULL;

	if (ssh || serial)
		nr_check_add(c, NR_CHECK_single_recovery, NR_CHECK_PASS, NULL, "%s%s%s", ssh ? ssh : "",
			     ssh && serial ? " and " : "", serial ? serial : "");
	else
		nr_check_add(c, NR_CHECK_single_recovery, NR_CHECK_WARN,
			     "enable an SSH server (systemctl enable --now sshd) or a serial console "
			     "(console=ttyS0,115200 on the kernel command line): with one GPU it is the way back "
			     "when the screen stays dark ('neuronctl gpu restore')",
			     "no SSH server enabled and no serial console");
}

/* The framebuffer the console is on: a firmware one bound now, else fb0's name. */
static void framebuffer(const struct nr_ctx *ctx, char *buf, size_t size, bool *known)
{
	static const char *const firmware[] = { "efi-framebuffer", "simple-framebuffer", "vesa-framebuffer", NULL };
	char *p;

	*known = true;
	for (size_t i = 0; firmware[i]; i++) {
		char rel[256];
		struct stat st;
		snprintf(rel, sizeof(rel), "sys/bus/platform/drivers/%s/%s.0", firmware[i], firmware[i]);
		p = nr_ctx_sys_path(ctx, rel);
		if (p && lstat(p, &st) == 0) {
			snprintf(buf, size, "%s.0", firmware[i]);
			free(p);
			return;
		}
		free(p);
	}
	p = nr_ctx_sys_path(ctx, "sys/class/graphics/fb0/name");
	if (p && nr_read_line(p, buf, size) == 0) {
		size_t n = strlen(buf);
		/* a DRM driver's own ("nvidia-drmdrmfb", "amdgpudrmfb", "simpledrmdrmfb") is released with it */
		*known = strcmp(buf, "EFI VGA") == 0 || strcmp(buf, "VESA VGA") == 0 || strcmp(buf, "simple") == 0 ||
			 (n > 5 && strcmp(buf + n - 5, "drmfb") == 0);
	} else {
		snprintf(buf, size, "none");
	}
	free(p);
}

static void check_display(const struct nr_ctx *ctx, struct nr_check *c)
{
	char *dm = NULL, fb[128], clean_fb[128];
	bool dm_known = false, fb_known;
	int rc = nr_single_display_manager(ctx, &dm, &dm_known, NULL);

	framebuffer(ctx, fb, sizeof(fb), &fb_known);
	nr_text_sanitize(clean_fb, sizeof(clean_fb), fb, true);
	if (rc < 0)
		nr_check_add(c, NR_CHECK_single_display, NR_CHECK_WARN,
			     "end a desktop started by hand (startx, a compositor on a TTY) before the VM starts: "
			     "only a display manager's unit is stopped and started again",
			     "no display manager (display-manager.service); framebuffer %s", clean_fb);
	else if (!dm_known || !fb_known)
		nr_check_add(c, NR_CHECK_single_display, NR_CHECK_WARN,
			     "try the hand-off once from SSH ('neuronctl gpu handoff ADDR', then 'neuronctl gpu "
			     "restore'): what this program does not know may keep the GPU",
			     "%s%s, framebuffer %s%s", dm, dm_known ? "" : " (unknown)", clean_fb,
			     fb_known ? "" : " (unknown)");
	else
		nr_check_add(c, NR_CHECK_single_display, NR_CHECK_PASS, NULL, "%s, framebuffer %s", dm, clean_fb);
	free(dm);
}

void nr_single_check_add(const struct nr_ctx *ctx, const struct nr_scan *scan, struct nr_check *c)
{
	const struct nr_gpu *g = c->guest_gpu;
	const struct nr_pci_dev *d;

	if (!g)
		return;
	d = &scan->devices[g->dev];
	check_rebar(ctx, d, c);
	check_reset(ctx, d, c);
	if (!g->boot_vga)
		return;
	check_recovery(ctx, scan, c);
	check_display(ctx, c);
}
