/* Each VM's guest-tools media: STATE/vm/NAME/guest-tools.iso, an ISO 9660 image with
 * Joliet and Rock Ridge names (volume label NEURON_TOOLS) made by xorriso, attached to the
 * domain as a read-only SATA CD-ROM. It holds the agents, the guest's half of the VM's
 * credentials and the scripts that install them:
 *
 *   README.txt                     what to run in the guest
 *   autounattend.xml               with `unattended` (neuron/unattend.h): Windows Setup's answers
 *   setup.cmd                      Windows: msiexec /i neuron-agent.msi /qn CERTS=<drive>\certs
 *   setup.sh                       Linux: the agent, its user unit and udev rule, the bundle
 *   looking-glass-setup.exe        with looking_glass.installer: the profile's Looking Glass host
 *                                  installer (an unattended install runs it with /S)
 *   certs/                         ca.pem, guest.pem, guest.key (0600), host.pem
 *   certs/shares.conf              with `shares`: NAME=GUESTPATH per share, in profile order
 *   windows/neuron-agent.msi       the Windows agent (when it was built)
 *   linux/neuron-agent             the Linux agent as built
 *   linux/neuron-agent.service     its systemd user unit
 *   linux/70-neuron-agent.rules    the udev rule that gives the port to the logged-in user
 *
 * Never the host's or the CA's private key: the four bundle files are named one by one. */
#ifndef NEURON_MEDIA_H
#define NEURON_MEDIA_H

#include <stdbool.h>

#include "neuron/ctx.h"
#include "neuron/error.h"
#include "neuron/profile.h"

struct nr_profile;

#define NR_MEDIA_LABEL "NEURON_TOOLS"
#define NR_MEDIA_FILE "guest-tools.iso"
/* The Looking Glass host installer, by this name in STATE/vm/VM and at the media's root */
#define NR_MEDIA_LG_INSTALLER "looking-glass-setup.exe"

/* STATE/vm/VM/guest-tools.iso (under root, like the credentials). malloc'd. vm must be a
 * plain name. */
int nr_media_path(const struct nr_ctx *ctx, const char *vm, char **path, struct nr_error *err);

struct nr_media_info {
	char path[4096];             /* the ISO */
	char owner[64];              /* the user it was given to ("" when left as made) */
	bool certs_made;             /* the VM had no credentials: made now */
	bool has_msi, has_linux;     /* which agents it holds */
	bool has_unattend;           /* autounattend.xml is on it */
	bool has_shares;             /* certs/shares.conf is on it */
	bool has_lg;                 /* the Looking Glass host installer is on it */
	char missing[2][512];        /* what is not on it and why ("" when nothing) */
};

/* Make (or remake) vm's media. The credentials are made first when the VM has none
 * (nr_certs_generate with the default bundle, STATE/agent/VM/bundle); a bundle that is
 * missing or does not match the host's guest.pem is an error that names the fix. The
 * Windows MSI or the Linux agent missing is not an error: info->missing says so. The ISO
 * is 0600, given to the user that root's /etc/libvirt/qemu.conf names (when running as
 * root and that user exists); STATE/vm and STATE/vm/VM are 0711, and STATE gets o+x, so
 * that QEMU can reach it. */
int nr_media_make(const struct nr_ctx *ctx, const char *vm, struct nr_media_info *info, struct nr_error *err);

/* Keep xml as vm's autounattend.xml (STATE/vm/VM/autounattend.xml, 0600), which every
 * later nr_media_make puts on the media; NULL removes it. */
int nr_media_set_unattend(const struct nr_ctx *ctx, const char *vm, const char *xml, struct nr_error *err);

/* The shared folders' guest configuration (docs/PROTOCOL.md, "shares"), one line per share
 * of the profile, NAME=GUESTPATH: a Linux guest mounts NAME on NR_SHARE_LINUX_DIR/NAME, a
 * Windows guest gets drive letters from Z: down in profile order. Kept as
 * STATE/vm/VM/shares.conf (removed when the profile has none), which every later
 * nr_media_make puts on the media as certs/shares.conf, beside the credentials that
 * setup.sh and setup.cmd install. */
#define NR_SHARE_LINUX_DIR "/mnt/neuron"
int nr_media_set_shares(const struct nr_ctx *ctx, const struct nr_profile *p, struct nr_error *err);
/* Share i's place in the guest ("/mnt/neuron/Documents", "Z:"); false past the end. */
bool nr_share_guest_path(const struct nr_profile *p, size_t i, char *out, size_t size);
/* Keep a copy of installer (a regular file, the profile's looking_glass.installer) as
 * STATE/vm/VM/looking-glass-setup.exe, which every later nr_media_make puts on the media;
 * NULL removes it. */
int nr_media_set_lg_installer(const struct nr_ctx *ctx, const char *vm, const char *installer, struct nr_error *err);

/* What nr_media_for_profile would refuse for p that can be known before the VM is defined:
 * its Looking Glass installer cannot be read. 0 when p has no guest-tools media. */
int nr_media_check(const struct nr_profile *p, struct nr_error *err);

/* What vm create does for a profile with guest_tools: keep answers (autounattend.xml, or
 * NULL) and the profile's Looking Glass installer (or none) for the VM, then make its media. */
int nr_media_for_profile(const struct nr_ctx *ctx, const struct nr_profile *p, const char *answers,
			 struct nr_media_info *info, struct nr_error *err);

/* Remove vm's media and its folder STATE/vm/VM (when nothing else is left in it).
 * *removed (may be NULL) says whether there was an ISO. No media is not an error. */
int nr_media_remove(const struct nr_ctx *ctx, const char *vm, bool *removed, struct nr_error *err);

#endif
