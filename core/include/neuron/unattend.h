/* An unattended Windows install: the autounattend.xml of a profile with `unattended`,
 * which vm create puts on the VM's guest-tools media (Windows Setup reads it from the root
 * of any drive). Passes windowsPE (language, the virtio storage, network and serial
 * drivers from the virtio-win media, a UEFI/GPT layout on disk 0, the image), specialize
 * (computer name, time zone) and oobeSystem (the local administrator, one automatic logon,
 * first-logon commands: virtio-win's guest tools, then the NeuronOS agent's setup.cmd).
 * Windows 11's TPM and Secure Boot checks are never bypassed. */
#ifndef NEURON_UNATTEND_H
#define NEURON_UNATTEND_H

#include <stddef.h>

#include "neuron/error.h"
#include "neuron/profile.h"

/* The driver folders loaded in Windows PE, relative to the virtio-win media's root, for a
 * Windows template ("windows11" -> "viostor\w11\amd64" ...); NULL past the end or for a
 * template without drivers. */
const char *nr_unattend_driver_dir(const char *template_name, size_t i, char *buf, size_t size);

/* The autounattend.xml of p (whose rules nr_profile_rules has passed) with the account's
 * password (encoded as Windows Setup's PlainText=false form, never as text). malloc'd. */
int nr_unattend_build(const struct nr_profile *p, const char *password, char **xml, struct nr_error *err);

/* The password from p's unattended.password_file: its first line. The file must not be
 * readable by group or others (-NR_E_PERM with the chmod that fixes it). malloc'd; the
 * caller clears and frees it. */
int nr_unattend_read_password(const char *file, char **password, struct nr_error *err);

#endif
