/* Profile rules: between keys (a Windows 11 VM has a TPM and UEFI, the topology adds up),
 * against the machine (the GPU exists and is isolated), and where each key was written,
 * so that an error names the file, line and column to change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "vm/profile_internal.h"
#include "neuron/profile.h"

static const struct nr_profile_mark *find_mark(const struct nr_profile *p, const char *key)
{
	for (size_t i = 0; i < p->n_marks; i++)
		if (strcmp(p->marks[i].key, key) == 0)
			return &p->marks[i];
	return NULL;
}

/* Prefix "FILE:LINE:COLUMN: " for the key's place, "FILE with KEY=VALUE: " when it was
 * changed after the file was read (the file's line says something else), or "FILE: ". */
void nr_profile_locate(const struct nr_profile *p, const char *key, struct nr_error *err)
{
	const struct nr_profile_mark *m = find_mark(p, key);

	if (!p->file)
		return;
	if (m && m->line) {
		nr_error_prefix(err, "%s:%u:%u: ", p->file, m->line, m->column);
	} else if (m) {
		char *v = nr_profile_get(p, key);
		nr_error_prefix(err, "%s with %s=%s: ", p->file, key, v ? v : "?");
		free(v);
	} else {
		nr_error_prefix(err, "%s: ", p->file);
	}
}

int nr_profile_mark(struct nr_profile *p, const char *key, unsigned line, unsigned column)
{
	struct nr_profile_mark *m = (struct nr_profile_mark *)find_mark(p, key);

	if (!m) {
		m = realloc(p->marks, (p->n_marks + 1) * sizeof(*m));
		if (!m)
			return -NR_E_NOMEM;
		p->marks = m;
		m += p->n_marks;
		m->key = strdup(key);
		if (!m->key)
			return -NR_E_NOMEM;
		p->n_marks++;
	}
	m->line = line;
	m->column = column;
	return 0;
}

/* Rules between keys, checked once the whole file is read. */
int nr_profile_rules(const struct nr_profile *p, struct nr_error *err)
{
	unsigned topo;
	int rc = 0;

	if (!p->name) {
		rc = nr_error_set(err, -NR_E_INVAL, "missing key 'name': every profile names its VM");
		nr_profile_locate(p, "", err);
		return rc;
	}
	if (strcmp(p->template_name, "windows11") == 0 && nr_profile_tpm(p) == false) {
		rc = nr_error_set(err, -NR_E_INVAL,
				  "Windows 11 needs a TPM 2.0: set 'tpm: auto' or 'tpm: true' (swtpm emulates it)");
		nr_profile_locate(p, "tpm", err);
		return rc;
	}
	if (p->unattended.enabled) {
		const char *key = NULL, *why = NULL;
		if (strncmp(p->template_name, "windows", 7) != 0)
			key = "template", why = "an unattended install is for Windows: template windows11 or windows10";
		else if (strcmp(p->firmware, "efi") != 0)
			key = "firmware", why = "an unattended install lays the disk out for UEFI (GPT): set 'firmware: efi'";
		else if (!nr_profile_guest_tools(p))
			key = p->agent ? "guest_tools" : "agent",
			why = "autounattend.xml travels on the guest-tools media: it needs 'agent: true' and 'guest_tools: true'";
		else if (!p->unattended.user)
			key = "unattended", why = "unattended: name the Windows account (unattended: {user: NAME})";
		else if (!p->iso)
			key = "iso", why = "unattended: set 'iso' to the Windows installation ISO";
		else if (!p->virtio_iso)
			key = "virtio_iso", why = "unattended: set 'virtio_iso' to the virtio-win ISO (its drivers load in Windows PE)";
		else if (p->disk.none)
			key = "disk", why = "unattended: Windows is installed on the profile's disk: give it one";
		if (key) {
			rc = nr_error_set(err, -NR_E_INVAL, "%s", why);
			nr_profile_locate(p, key, err);
			return rc;
		}
	}
	if (p->gpu_mode == NR_GPU_MODE_SINGLE && p->gpu == NR_PROFILE_GPU_NONE) {
		rc = nr_error_set(err, -NR_E_INVAL, "gpu_mode single lends the VM's GPU: give it one (gpu: auto or "
				  "its address)");
		nr_profile_locate(p, "gpu_mode", err);
		return rc;
	}
	if (p->lg.installer) {
		const char *why = NULL;
		if (!p->lg.enabled)
			why = "looking_glass.installer is for the Looking Glass device: turn looking_glass on";
		else if (strncmp(p->template_name, "windows", 7) != 0)
			why = "looking_glass.installer is a Windows program: template windows11 or windows10";
		else if (!nr_profile_guest_tools(p))
			why = "looking_glass.installer travels on the guest-tools media: it needs 'agent: true' and "
			      "'guest_tools: true'";
		if (why) {
			rc = nr_error_set(err, -NR_E_INVAL, "%s", why);
			nr_profile_locate(p, "looking_glass.installer", err);
			return rc;
		}
	}
	if (strcmp(p->template_name, "windows11") == 0 && strcmp(p->firmware, "efi") != 0) {
		rc = nr_error_set(err, -NR_E_INVAL, "Windows 11 needs UEFI: set 'firmware: efi'");
		nr_profile_locate(p, "firmware", err);
		return rc;
	}
	if (p->secure_boot && strcmp(p->firmware, "efi") != 0) {
		rc = nr_error_set(err, -NR_E_INVAL, "secure_boot needs 'firmware: efi'");
		nr_profile_locate(p, "secure_boot", err);
		return rc;
	}
	if (p->sockets || p->cores || p->threads) {
		/* cores left out: whatever makes the product vcpus, when something does */
		unsigned st = (p->sockets ? p->sockets : 1) * (p->threads ? p->threads : 1);
		topo = p->cores ? st * p->cores : (p->vcpus % st == 0 ? p->vcpus : st);
		if (topo != p->vcpus) {
			rc = nr_error_set(err, -NR_E_INVAL,
					  "cpu: sockets x cores x threads is %u but vcpus is %u; make them agree", topo,
					  p->vcpus);
			nr_profile_locate(p, find_mark(p, "cpu.cores") ? "cpu.cores" : find_mark(p, "cpu.threads") ?
				  "cpu.threads" : "cpu.sockets", err);
			return rc;
		}
	}
	if (p->lg.enabled && p->lg.backend == NR_LG_KVMFR && !p->lg.kvmfr_device) {
		rc = nr_error_set(err, -NR_E_INVAL, "looking_glass: the kvmfr backend needs 'device: /dev/kvmfr0'");
		nr_profile_locate(p, "looking_glass.backend", err);
		return rc;
	}
	if ((p->boot.initrd || p->boot.cmdline) && !p->boot.kernel) {
		rc = nr_error_set(err, -NR_E_INVAL, "boot: initrd and cmdline need 'kernel' too");
		nr_profile_locate(p, p->boot.initrd ? "boot.initrd" : "boot.cmdline", err);
		return rc;
	}
	return 0;
}

bool nr_profile_tpm(const struct nr_profile *p)
{
	return p->tpm == NR_ON || (p->tpm == NR_AUTO && strcmp(p->template_name, "windows11") == 0);
}

bool nr_profile_guest_tools(const struct nr_profile *p)
{
	return p->guest_tools && p->agent;
}

const struct nr_gpu *nr_profile_gpu(const struct nr_profile *p, const struct nr_scan *scan)
{
	if (!scan || p->gpu == NR_PROFILE_GPU_NONE)
		return NULL;
	if (p->gpu == NR_PROFILE_GPU_AUTO)
		return nr_scan_best_gpu(scan);
	return nr_scan_gpu(scan, p->gpu_addr);
}

bool nr_profile_nvidia_workaround(const struct nr_profile *p, const struct nr_scan *scan)
{
	const struct nr_gpu *g;

	if (p->nvidia_workaround != NR_AUTO)
		return p->nvidia_workaround == NR_ON;
	g = nr_profile_gpu(p, scan);
	return g && scan->devices[g->dev].vendor == 0x10de;
}

int nr_profile_check(const struct nr_profile *p, const struct nr_scan *scan, struct nr_error *err)
{
	const struct nr_gpu *g;
	int rc = nr_profile_rules(p, err);

	if (rc < 0)
		return rc;
	if (p->gpu != NR_PROFILE_GPU_NONE || p->n_pci) {
		if (!scan) {
			rc = nr_error_set(err, -NR_E_INVAL, "the profile passes PCI devices but no machine scan was given");
			nr_profile_locate(p, "gpu", err);
			return rc;
		}
		if (!scan->iommu) {
			rc = nr_error_set(err, -NR_E_NOIOMMU,
					  "the IOMMU is off, so no device can be passed through: run 'neuronctl check'%s",
					  p->gpu == NR_PROFILE_GPU_AUTO ? ", or set 'gpu: none'" : "");
			nr_profile_locate(p, p->gpu != NR_PROFILE_GPU_NONE ? "gpu" : "hostdevs.pci", err);
			return rc;
		}
	}
	if (p->gpu == NR_PROFILE_GPU_AUTO && !nr_scan_best_gpu(scan)) {
		rc = nr_error_set(err, -NR_E_NODEVICE,
				  "gpu: auto found no isolated GPU apart from the boot GPU; run 'neuronctl scan', "
				  "then name one (gpu: 0000:01:00.0) or set 'gpu: none'");
		nr_profile_locate(p, "gpu", err);
		return rc;
	}
	if (p->gpu == NR_PROFILE_GPU_ADDR) {
		const struct nr_pci_dev *d = nr_scan_device(scan, p->gpu_addr);
		if (!d) {
			rc = nr_error_set(err, -NR_E_NODEVICE, "gpu: there is no PCI device %s on this machine "
					  "(see 'neuronctl scan')", p->gpu_addr);
			nr_profile_locate(p, "gpu", err);
			return rc;
		}
		g = nr_scan_gpu(scan, p->gpu_addr);
		if (!g) {
			rc = nr_error_set(err, -NR_E_NODEVICE, "gpu: %s is not a GPU (class %04x)", p->gpu_addr,
					  d->class_id);
			nr_profile_locate(p, "gpu", err);
			return rc;
		}
		if (!g->isolated) {
			struct nr_buf b;
			nr_buf_init(&b);
			for (size_t i = 0; i < g->n_blockers; i++)
				nr_buf_printf(&b, "%s%s", i ? ", " : "", scan->devices[g->blockers[i]].addr);
			rc = nr_error_set(err, -NR_E_REFUSED,
					  "gpu: %s is not isolated: its IOMMU group also holds %s; pick another GPU, "
					  "move the card to another slot, or see 'neuronctl check'",
					  p->gpu_addr, b.data ? b.data : "other devices");
			nr_buf_done(&b);
			nr_profile_locate(p, "gpu", err);
			return rc;
		}
	}
	for (size_t i = 0; i < p->n_pci; i++) {
		char mk[48];
		snprintf(mk, sizeof(mk), "hostdevs.pci#%zu", i);
		if (!nr_scan_device(scan, p->pci[i])) {
			rc = nr_error_set(err, -NR_E_NODEVICE, "hostdevs.pci: there is no PCI device %s on this machine",
					  p->pci[i]);
			nr_profile_locate(p, mk, err);
			return rc;
		}
		g = nr_profile_gpu(p, scan);
		for (size_t j = 0; g && j < g->n_set; j++)
			if (strcmp(scan->devices[g->set[j]].addr, p->pci[i]) == 0) {
				rc = nr_error_set(err, -NR_E_EXISTS,
						  "hostdevs.pci: %s already goes in with the GPU; remove it here", p->pci[i]);
				nr_profile_locate(p, mk, err);
				return rc;
			}
	}
	return 0;
}

