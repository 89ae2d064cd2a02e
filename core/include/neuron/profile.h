/* VM profiles: the YAML a user writes (docs/profiles.md), as plain editable data.
 *
 * A profile is loaded from YAML (nr_profile_load), or made from a template's defaults
 * (nr_profile_new) and edited key by key with the same names and checks the YAML uses
 * (nr_profile_set "memory" "16G"), which is how the TUI's "new VM" form changes it.
 * nr_profile_check() then judges it against the machine (GPU exists and is isolated,
 * TPM for Windows 11), and nr_domain_build() (domain.h) turns it into libvirt XML. */
#ifndef NEURON_PROFILE_H
#define NEURON_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "neuron/error.h"
#include "neuron/scan.h"

/* auto / on / off settings (tpm, nvidia_workaround). */
enum nr_tristate { NR_AUTO = 0, NR_ON, NR_OFF };

enum nr_profile_gpu { NR_PROFILE_GPU_NONE = 0, NR_PROFILE_GPU_AUTO, NR_PROFILE_GPU_ADDR };
enum nr_profile_pinning { NR_PINNING_NONE = 0, NR_PINNING_AUTO, NR_PINNING_LIST };
enum nr_lg_backend { NR_LG_SHM = 0, NR_LG_KVMFR };

struct nr_profile_disk {
	bool none;                  /* `disk: none`: no disk at all */
	char *path;                 /* the image; NULL: /var/lib/libvirt/images/NAME.qcow2 */
	uint64_t size;              /* bytes, for creating it when missing; 0: must exist */
	char *format;               /* "qcow2" (default) or "raw" */
	char *bus;                  /* "virtio", "sata", "scsi" */
};

/* How the VM's GPU is lent when it starts (single-GPU mode, neuron/single.h). */
enum nr_gpu_mode {
	NR_GPU_MODE_AUTO,           /* hand it off when it is the boot GPU, the machine's only one, in use */
	NR_GPU_MODE_SINGLE,         /* always hand it off: the host's screen is on it */
	NR_GPU_MODE_DEDICATED,      /* never: the host does not show on it */
};

struct nr_profile_lg {
	bool enabled;
	unsigned width, height;     /* guest resolution the shm is sized for */
	bool hdr;
	int stack;                  /* enum nr_lg_stack (lg.h): 0 auto, the installed client's */
	enum nr_lg_backend backend; /* shm file (/dev/shm/looking-glass) or the kvmfr module */
	char *kvmfr_device;         /* "/dev/kvmfr0" for the kvmfr backend */
	char *installer;            /* the guest side's installer (.exe) for the guest-tools media */
};

/* An unattended Windows install (autounattend.xml on the guest-tools media). No password
 * here: it comes from password_file (a file the user points to) or a prompt. */
struct nr_profile_unattended {
	bool enabled;
	char *user;                 /* the local administrator account, logged on once */
	char *locale;               /* "en-US" */
	char *timezone;             /* Windows time zone name: "UTC", "W. Europe Standard Time" */
	char *product_key;          /* NULL: none (the edition by name) */
	char *edition;              /* image name on the ISO; NULL: "Windows 11 Pro" / "Windows 10 Pro" */
	char *password_file;        /* the password's file (its first line); NULL: asked */
};

struct nr_profile_boot {
	char *kernel;               /* direct kernel boot; NULL: boot from the disks */
	char *initrd;
	char *cmdline;
};

/* Where a key was written in the YAML, for errors found after parsing. */
struct nr_profile_mark {
	char *key;                  /* "gpu", "disk.size" */
	unsigned line, column;      /* 1-based */
};

struct nr_profile {
	char *file;                 /* the YAML it came from, NULL when built in memory */
	char *name;                 /* libvirt domain name */
	char *template_name;        /* "windows11", "windows10", "linux" */
	char *domain_type;          /* "kvm" (default) or "qemu" (TCG, no KVM) */
	char *firmware;             /* "efi" (default) or "bios" */
	uint64_t memory;            /* bytes */
	bool hugepages;
	unsigned vcpus;
	unsigned sockets, cores, threads;  /* topology; 0: derived from vcpus */
	enum nr_profile_pinning pinning;
	char *pin_cpus;             /* host CPU list for NR_PINNING_LIST ("2-7,10-15") */
	struct nr_profile_disk disk;
	char *iso;                  /* install ISO */
	char *virtio_iso;           /* virtio-win drivers ISO */
	enum nr_profile_gpu gpu;
	char gpu_addr[NR_ADDR_LEN]; /* for NR_PROFILE_GPU_ADDR */
	char *gpu_rom;              /* ROM file for the GPU's function 0 */
	char **pci;                 /* extra PCI host devices, canonical addresses */
	size_t n_pci;
	char **usb;                 /* extra USB host devices, "046d:c52b" */
	size_t n_usb;
	struct nr_profile_lg lg;
	char **shares;              /* shared folders (virtio-fs), "NAME=PATH": PATH absolute or ~/... */
	size_t n_shares;
	enum nr_gpu_mode gpu_mode;
	bool agent;
	bool guest_tools;           /* the guest-tools media (STATE/vm/NAME/guest-tools.iso) as a CD-ROM */
	struct nr_profile_unattended unattended;
	enum nr_tristate tpm;       /* auto: on for Windows 11 */
	bool secure_boot;
	bool hyperv;                /* Hyper-V enlightenments */
	enum nr_tristate nvidia_workaround; /* kvm hidden + vendor_id; auto: with an NVIDIA GPU */
	char *network;              /* libvirt network name; NULL: no network interface */
	char *network_model;        /* "virtio", "e1000e" */
	char *serial_log;           /* guest serial console into this host file; NULL: the template's */
	char *on_reboot;            /* "restart" (default) or "destroy" (a rebooting guest stops) */
	struct nr_profile_boot boot;
	struct nr_profile_mark *marks;
	size_t n_marks;
};

/* A profile with a template's defaults ("windows11", "windows10", "linux") and the
 * given name. NULL on an unknown template or out of memory (err says which). */
int nr_profile_new(const char *template_name, const char *name, struct nr_profile **out,
		   struct nr_error *err);
void nr_profile_free(struct nr_profile *p);
/* The templates, for a picker: "windows11", "windows10", "linux"; NULL past the end. */
const char *nr_profile_template_name(size_t i);

/* Read a profile from YAML. Errors say "FILE:LINE:COLUMN: what; the fix". */
int nr_profile_load(const char *path, struct nr_profile **out, struct nr_error *err);
/* The same from text in memory; file names the source in messages. */
int nr_profile_parse(const char *text, size_t len, const char *file, struct nr_profile **out,
		     struct nr_error *err);

/* Set one key the way the YAML does ("memory" "16G", "looking_glass.resolution" "1440p",
 * "gpu" "auto", "hostdevs.pci" "0000:06:00.0" appends). A value NULL resets the key to
 * the template's default. Errors name the key and the fix, with a did-you-mean for
 * unknown keys. */
int nr_profile_set(struct nr_profile *p, const char *key, const char *value, struct nr_error *err);
/* Iterate the schema: key i ("cpu.vcpus") and its help line; NULL past the end. */
const char *nr_profile_key(size_t i, const char **help);
/* The current value of a key as text ("16G", "auto", "true"); malloc'd, NULL for an
 * unknown key. List keys give their items joined by ", ". */
char *nr_profile_get(const struct nr_profile *p, const char *key);

/* Whether a group that one value switches off (disk: none, looking_glass: false) is on;
 * true for any other key. */
bool nr_profile_on(const struct nr_profile *p, const char *group);

/* The profile as YAML that nr_profile_parse reads back to the same profile (for saving
 * what the TUI's form made). Every key is written, values double-quoted. malloc'd. */
int nr_profile_to_yaml(const struct nr_profile *p, char **out, struct nr_error *err);

/* Judge the profile against the machine: the GPU exists and is isolated (auto picks
 * the best one), extra PCI devices exist, Windows 11 has a TPM and UEFI. scan may be
 * NULL when the profile passes no PCI device. Errors carry FILE:LINE:COLUMN when the
 * profile came from a file. */
int nr_profile_check(const struct nr_profile *p, const struct nr_scan *scan, struct nr_error *err);

/* Prefix err's message with where key was written ("FILE:LINE:COLUMN: "), for errors found
 * after parsing; nothing for a profile made in memory. */
void nr_profile_locate(const struct nr_profile *p, const char *key, struct nr_error *err);

/* The GPU the profile passes through on this machine (auto resolved), or NULL. */
const struct nr_gpu *nr_profile_gpu(const struct nr_profile *p, const struct nr_scan *scan);
/* Whether the TPM / the NVIDIA workaround are on once auto is resolved. */
bool nr_profile_tpm(const struct nr_profile *p);
/* Whether the VM gets its guest-tools media: guest_tools with the agent's channel. */
bool nr_profile_guest_tools(const struct nr_profile *p);
bool nr_profile_nvidia_workaround(const struct nr_profile *p, const struct nr_scan *scan);

/* A shared folder of the profile (item i of shares): its tag in the guest and the host
 * directory (~ resolved with home, which may be NULL: the text as written). false past
 * the end. */
#define NR_SHARES_MAX 20            /* Windows: drive letters Z: down to G: */
#define NR_SHARE_NAME_MAX 36        /* a virtio-fs tag */
bool nr_profile_share(const struct nr_profile *p, size_t i, const char *home, char *name, size_t name_size,
		      char *path, size_t path_size);

/* Size text: "16G", "512M", "1T", "16GiB" (binary units). Returns 0 or -NR_E_INVAL with
 * a message that suggests the right spelling ("16 GB" -> "16G"). */
int nr_parse_size(const char *s, uint64_t *bytes, struct nr_error *err);
/* The shortest exact form of a size: "16G", "1536M". buf of 32 bytes. */
const char *nr_size_str(uint64_t bytes, char buf[32]);

#endif
