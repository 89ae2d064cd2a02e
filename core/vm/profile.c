/* VM profiles: one key table drives the YAML reader, nr_profile_set/get and the docs.
 * Every key is set through its setter, from YAML or from the TUI's form alike, so both
 * get the same checks and the same messages. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "base/internal.h"
#include "neuron/lg.h"
#include "neuron/profile.h"

#define DEFAULT_IMAGE_DIR "/var/lib/libvirt/images"

/* ---- small helpers ------------------------------------------------------------ */

static int set_str(char **field, const char *v, struct nr_error *err)
{
	char *copy = NULL;

	if (v && !(copy = strdup(v)))
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	free(*field);
	*field = copy;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *yes[] = { "true", "yes", "on", "1" }, *no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *out = false, 0;
	}
	return -1;
}

static int parse_uint(const char *v, unsigned max, unsigned *out)
{
	char *end;
	unsigned long n;

	if (!isdigit((unsigned char)v[0]))
		return -1;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n > max)
		return -1;
	*out = (unsigned)n;
	return 0;
}

static int bad_value(struct nr_error *err, const char *key, const char *v, const char *want)
{
	return nr_error_set(err, -NR_E_INVAL, "%s: '%s' is not valid; use %s", key, v, want);
}

int nr_parse_size(const char *s, uint64_t *bytes, struct nr_error *err)
{
	static const struct {
		const char *unit;
		unsigned shift;
	} units[] = {
		{ "K", 10 }, { "KiB", 10 }, { "M", 20 }, { "MiB", 20 },
		{ "G", 30 }, { "GiB", 30 }, { "T", 40 }, { "TiB", 40 },
	};
	const char *p = s, *u;
	uint64_t n = 0;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '-')
		return nr_error_set(err, -NR_E_INVAL, "size '%s' is negative; sizes are like 16G or 512M", s);
	if (!isdigit((unsigned char)*p))
		return nr_error_set(err, -NR_E_INVAL, "'%s' is not a size; write it like 16G or 512M", s);
	for (; isdigit((unsigned char)*p); p++) {
		if (n > (UINT64_MAX - 9) / 10)
			return nr_error_set(err, -NR_E_INVAL, "size '%s' is too large", s);
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.' || *p == ',')
		return nr_error_set(err, -NR_E_INVAL,
				    "size '%s' has a fraction; use whole numbers of a smaller unit (1536M, not 1.5G)", s);
	u = p;
	if (*u == ' ' || *u == '\t') {
		while (*u == ' ' || *u == '\t')
			u++;
		return nr_error_set(err, -NR_E_INVAL, "size '%s' has a space; write %llu%c", s,
				    (unsigned long long)n, *u ? toupper((unsigned char)*u) : 'G');
	}
	if (!*u)
		return nr_error_set(err, -NR_E_INVAL, "size '%s' has no unit; write %lluG or %lluM", s,
				    (unsigned long long)n, (unsigned long long)n);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(u, units[i].unit) != 0 &&
		    !(strlen(units[i].unit) == 1 && u[0] == tolower((unsigned char)units[i].unit[0]) && !u[1]))
			continue;
		if (n > (UINT64_MAX >> units[i].shift))
			return nr_error_set(err, -NR_E_INVAL, "size '%s' is too large", s);
		*bytes = n << units[i].shift;
		return 0;
	}
	if (strlen(u) == 2 && toupper((unsigned char)u[1]) == 'B' && strchr("KMGTkmgt", u[0]))
		return nr_error_set(err, -NR_E_INVAL,
				    "size '%s': %s is ambiguous (1000 or 1024?); write %llu%c (binary units)", s, u,
				    (unsigned long long)n, toupper((unsigned char)u[0]));
	return nr_error_set(err, -NR_E_INVAL, "size '%s' has an unknown unit '%s'; use K, M, G or T", s, u);
}

const char *nr_size_str(uint64_t bytes, char buf[32])
{
	static const char units[] = "KMGT";
	int u = -1;

	while (u < 3 && bytes && (bytes & 1023) == 0) {
		bytes >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, 32, "%llu", (unsigned long long)bytes);
	else
		snprintf(buf, 32, "%llu%c", (unsigned long long)bytes, units[u]);
	return buf;
}

/* ---- setters -------------------------------------------------------------------- */

#define SETTER(fn) static int fn(struct nr_profile *p, const char *key, const char *v, struct nr_error *err)
#define GETTER(fn) static char *fn(const struct nr_profile *p)

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : strdup("");
}

static char *bool_str(bool b)
{
	return strdup(b ? "true" : "false");
}

static char *tri_str(enum nr_tristate t)
{
	return strdup(t == NR_AUTO ? "auto" : t == NR_ON ? "true" : "false");
}

static int parse_tri(const char *v, enum nr_tristate *out)
{
	bool b;

	if (strcasecmp(v, "auto") == 0)
		return *out = NR_AUTO, 0;
	if (parse_bool(v, &b) < 0)
		return -1;
	*out = b ? NR_ON : NR_OFF;
	return 0;
}

static char *size_text(uint64_t bytes)
{
	char buf[32];

	return strdup(nr_size_str(bytes, buf));
}

SETTER(set_name)
{
	if (!v || !v[0])
		return nr_error_set(err, -NR_E_INVAL, "%s: a VM needs a name", key);
	if (strlen(v) > 200)
		return nr_error_set(err, -NR_E_INVAL, "%s: the name is longer than 200 characters", key);
	for (const unsigned char *c = (const unsigned char *)v; *c; c++)
		if (*c < 0x20 || *c == 0x7f || *c == '/')
			return nr_error_set(err, -NR_E_INVAL,
					    "%s: a VM name cannot hold '/' or control characters", key);
	return set_str(&p->name, v, err);
}
GETTER(get_name) { return dup_or_null(p->name); }

static const char *const templates[] = { "windows11", "windows10", "linux" };

SETTER(set_template)
{
	/* The template is chosen when the profile is made (nr_profile_new or the YAML's
	 * template key); changing it later would leave the other defaults behind. */
	if (v && p->template_name && strcmp(v, p->template_name) == 0)
		return 0;
	return nr_error_set(err, -NR_E_INVAL,
			    "%s: the template is fixed once the profile is made; start a new profile from '%s'",
			    key, v ? v : "?");
}
GETTER(get_template) { return dup_or_null(p->template_name); }

SETTER(set_type)
{
	if (strcmp(v, "kvm") && strcmp(v, "qemu"))
		return bad_value(err, key, v, "kvm, or qemu for software emulation (TCG)");
	return set_str(&p->domain_type, v, err);
}
GETTER(get_type) { return dup_or_null(p->domain_type); }

SETTER(set_firmware)
{
	if (strcmp(v, "efi") && strcmp(v, "bios"))
		return bad_value(err, key, v, "efi or bios");
	return set_str(&p->firmware, v, err);
}
GETTER(get_firmware) { return dup_or_null(p->firmware); }

SETTER(set_memory)
{
	uint64_t b;
	int rc = nr_parse_size(v, &b, err);

	if (rc < 0)
		return nr_error_prefix(err, "%s: ", key), rc;
	if (b < (128u << 20))
		return nr_error_set(err, -NR_E_INVAL, "%s: %s is too little; a VM needs at least 128M", key, v);
	if (b % (1u << 20))
		return nr_error_set(err, -NR_E_INVAL, "%s: give memory in whole MiB (like 4096M)", key);
	p->memory = b;
	return 0;
}
GETTER(get_memory) { return size_text(p->memory); }

SETTER(set_hugepages)
{
	return parse_bool(v, &p->hugepages) < 0 ? bad_value(err, key, v, "true or false") : 0;
}
GETTER(get_hugepages) { return bool_str(p->hugepages); }

static int set_count(const char *key, const char *v, unsigned min, unsigned max, unsigned *out,
		     struct nr_error *err)
{
	if (parse_uint(v, max, out) < 0 || *out < min)
		return nr_error_set(err, -NR_E_INVAL, "%s: '%s' is not valid; use a number from %u to %u",
				    key, v, min, max);
	return 0;
}

static char *uint_text(unsigned n)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", n);
	return strdup(buf);
}

SETTER(set_vcpus) { return set_count(key, v, 1, 512, &p->vcpus, err); }
GETTER(get_vcpus) { return uint_text(p->vcpus); }
SETTER(set_sockets) { return set_count(key, v, 0, 16, &p->sockets, err); }
GETTER(get_sockets) { return uint_text(p->sockets); }
SETTER(set_cores) { return set_count(key, v, 0, 512, &p->cores, err); }
GETTER(get_cores) { return uint_text(p->cores); }
SETTER(set_threads) { return set_count(key, v, 0, 8, &p->threads, err); }
GETTER(get_threads) { return uint_text(p->threads); }

/* "2-7,10,12-15": digits, commas and ranges. */
static bool cpu_list_ok(const char *v)
{
	const char *c = v;

	while (*c) {
		unsigned a, b;
		char *end;
		if (!isdigit((unsigned char)*c))
			return false;
		a = (unsigned)strtoul(c, &end, 10);
		c = end;
		if (*c == '-') {
			c++;
			if (!isdigit((unsigned char)*c))
				return false;
			b = (unsigned)strtoul(c, &end, 10);
			c = end;
			if (b < a)
				return false;
		}
		if (*c == ',')
			c++;
		else if (*c)
			return false;
	}
	return v[0] != '\0';
}

SETTER(set_pinning)
{
	if (strcmp(v, "auto") == 0 || strcmp(v, "none") == 0 || strcmp(v, "false") == 0) {
		p->pinning = v[0] == 'a' ? NR_PINNING_AUTO : NR_PINNING_NONE;
		return set_str(&p->pin_cpus, NULL, err);
	}
	if (!cpu_list_ok(v))
		return bad_value(err, key, v, "auto, none, or a host CPU list like 2-7,10-15");
	p->pinning = NR_PINNING_LIST;
	return set_str(&p->pin_cpus, v, err);
}
GETTER(get_pinning)
{
	return strdup(p->pinning == NR_PINNING_AUTO ? "auto" : p->pinning == NR_PINNING_NONE ? "none" : p->pin_cpus);
}

static bool path_ok(const char *v)
{
	for (const unsigned char *c = (const unsigned char *)v; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return false;
	return v[0] == '/';
}

static int set_path(const char *key, const char *v, char **field, struct nr_error *err)
{
	if (!path_ok(v))
		return nr_error_set(err, -NR_E_INVAL, "%s: '%s' is not an absolute path (it must start with /)",
				    key, v);
	return set_str(field, v, err);
}

SETTER(set_disk)
{
	/* `disk: none` on the group itself */
	if (strcmp(v, "none") == 0 || strcmp(v, "false") == 0) {
		p->disk.none = true;
		return 0;
	}
	return nr_error_set(err, -NR_E_INVAL, "%s: use 'none', or a mapping with path, size, format, bus", key);
}
GETTER(get_disk) { return strdup(p->disk.none ? "none" : "yes"); }

SETTER(set_disk_path)
{
	p->disk.none = false;
	return set_path(key, v, &p->disk.path, err);
}
GETTER(get_disk_path)
{
	char *s = NULL;

	if (p->disk.none)
		return strdup("");
	if (p->disk.path)
		return strdup(p->disk.path);
	if (asprintf(&s, "%s/%s.%s", DEFAULT_IMAGE_DIR, p->name ? p->name : "vm",
		     p->disk.format && strcmp(p->disk.format, "raw") == 0 ? "img" : "qcow2") < 0)
		return NULL;
	return s;
}

SETTER(set_disk_size)
{
	uint64_t b;
	int rc = nr_parse_size(v, &b, err);

	if (rc < 0)
		return nr_error_prefix(err, "%s: ", key), rc;
	if (b < (1u << 20))
		return nr_error_set(err, -NR_E_INVAL, "%s: %s is too small for a disk; use at least 1M", key, v);
	p->disk.size = b;
	return 0;
}
GETTER(get_disk_size) { return size_text(p->disk.size); }

SETTER(set_disk_format)
{
	if (strcmp(v, "qcow2") && strcmp(v, "raw"))
		return bad_value(err, key, v, "qcow2 or raw");
	return set_str(&p->disk.format, v, err);
}
GETTER(get_disk_format) { return dup_or_null(p->disk.format); }

SETTER(set_disk_bus)
{
	if (strcmp(v, "virtio") && strcmp(v, "sata") && strcmp(v, "scsi"))
		return bad_value(err, key, v, "virtio, sata or scsi (Windows needs the virtio-win drivers for virtio)");
	return set_str(&p->disk.bus, v, err);
}
GETTER(get_disk_bus) { return dup_or_null(p->disk.bus); }

static bool is_none(const char *v)
{
	return strcmp(v, "none") == 0 || strcmp(v, "false") == 0 || v[0] == '\0';
}

SETTER(set_iso) { return is_none(v) ? set_str(&p->iso, NULL, err) : set_path(key, v, &p->iso, err); }
GETTER(get_iso) { return dup_or_null(p->iso); }
SETTER(set_virtio_iso)
{
	return is_none(v) ? set_str(&p->virtio_iso, NULL, err) : set_path(key, v, &p->virtio_iso, err);
}
GETTER(get_virtio_iso) { return dup_or_null(p->virtio_iso); }

SETTER(set_gpu)
{
	char addr[NR_ADDR_LEN];

	if (strcmp(v, "auto") == 0 || strcmp(v, "true") == 0) {
		p->gpu = NR_PROFILE_GPU_AUTO;
		return 0;
	}
	if (is_none(v)) {
		p->gpu = NR_PROFILE_GPU_NONE;
		return 0;
	}
	if (nr_pci_parse_addr(v, addr) < 0)
		return bad_value(err, key, v, "auto, none, or a PCI address like 0000:01:00.0");
	p->gpu = NR_PROFILE_GPU_ADDR;
	memcpy(p->gpu_addr, addr, sizeof(addr));
	return 0;
}
GETTER(get_gpu)
{
	return strdup(p->gpu == NR_PROFILE_GPU_AUTO ? "auto" : p->gpu == NR_PROFILE_GPU_NONE ? "none" : p->gpu_addr);
}

SETTER(set_gpu_rom)
{
	return is_none(v) ? set_str(&p->gpu_rom, NULL, err) : set_path(key, v, &p->gpu_rom, err);
}
GETTER(get_gpu_rom) { return dup_or_null(p->gpu_rom); }

static int list_add(char ***list, size_t *n, const char *v, struct nr_error *err)
{
	return nr_strv_add(list, n, v) < 0 ? nr_error_set(err, -NR_E_NOMEM, NULL) : 0;
}

static void list_clear(char ***list, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*list)[i]);
	free(*list);
	*list = NULL;
	*n = 0;
}

static char *list_text(char **list, size_t n)
{
	struct nr_buf b;

	nr_buf_init(&b);
	nr_buf_append(&b, "", 0);
	for (size_t i = 0; i < n; i++)
		nr_buf_printf(&b, "%s%s", i ? ", " : "", list[i]);
	return nr_buf_steal(&b);
}

SETTER(set_pci)
{
	char addr[NR_ADDR_LEN];

	if (is_none(v)) {
		list_clear(&p->pci, &p->n_pci);
		return 0;
	}
	if (nr_pci_parse_addr(v, addr) < 0)
		return bad_value(err, key, v, "a PCI address like 0000:06:00.0");
	for (size_t i = 0; i < p->n_pci; i++)
		if (strcmp(p->pci[i], addr) == 0)
			return nr_error_set(err, -NR_E_EXISTS, "%s: %s is listed twice", key, addr);
	return list_add(&p->pci, &p->n_pci, addr, err);
}
GETTER(get_pci) { return list_text(p->pci, p->n_pci); }

SETTER(set_usb)
{
	unsigned vid, pid;
	char tail, id[10];

	if (is_none(v)) {
		list_clear(&p->usb, &p->n_usb);
		return 0;
	}
	if (strlen(v) != 9 || sscanf(v, "%4x:%4x%c", &vid, &pid, &tail) != 2)
		return bad_value(err, key, v, "a USB vendor:product id like 046d:c52b (see lsusb)");
	snprintf(id, sizeof(id), "%04x:%04x", vid, pid);
	for (size_t i = 0; i < p->n_usb; i++)
		if (strcmp(p->usb[i], id) == 0)
			return nr_error_set(err, -NR_E_EXISTS, "%s: %s is listed twice", key, id);
	return list_add(&p->usb, &p->n_usb, id, err);
}
GETTER(get_usb) { return list_text(p->usb, p->n_usb); }

SETTER(set_lg)
{
	bool b;

	if (parse_bool(v, &b) < 0)
		return bad_value(err, key, v, "true, false, or a mapping with resolution, hdr, backend");
	p->lg.enabled = b;
	return 0;
}
GETTER(get_lg) { return bool_str(p->lg.enabled); }
SETTER(set_lg_enabled) { return set_lg(p, key, v, err); }

SETTER(set_lg_resolution)
{
	unsigned w, h;

	if (nr_lg_parse_resolution(v, &w, &h) < 0)
		return bad_value(err, key, v, "WIDTHxHEIGHT like 2560x1440, or 1080p, 1440p, 4k");
	p->lg.width = w;
	p->lg.height = h;
	return 0;
}
GETTER(get_lg_resolution)
{
	char *s = NULL;

	return asprintf(&s, "%ux%u", p->lg.width, p->lg.height) < 0 ? NULL : s;
}

SETTER(set_lg_hdr) { return parse_bool(v, &p->lg.hdr) < 0 ? bad_value(err, key, v, "true or false") : 0; }
GETTER(get_lg_hdr) { return bool_str(p->lg.hdr); }

SETTER(set_lg_backend)
{
	if (strcmp(v, "shm") && strcmp(v, "kvmfr"))
		return bad_value(err, key, v, "shm (/dev/shm/looking-glass) or kvmfr (/dev/kvmfr0)");
	p->lg.backend = v[0] == 'k' ? NR_LG_KVMFR : NR_LG_SHM;
	return 0;
}
GETTER(get_lg_backend) { return strdup(p->lg.backend == NR_LG_KVMFR ? "kvmfr" : "shm"); }

SETTER(set_lg_device)
{
	if (strncmp(v, "/dev/", 5) != 0 || !path_ok(v))
		return bad_value(err, key, v, "a device path like /dev/kvmfr0");
	return set_str(&p->lg.kvmfr_device, v, err);
}
GETTER(get_lg_device) { return dup_or_null(p->lg.kvmfr_device); }

SETTER(set_agent) { return parse_bool(v, &p->agent) < 0 ? bad_value(err, key, v, "true or false") : 0; }
GETTER(get_agent) { return bool_str(p->agent); }
SETTER(set_tpm) { return parse_tri(v, &p->tpm) < 0 ? bad_value(err, key, v, "auto, true or false") : 0; }
GETTER(get_tpm) { return tri_str(p->tpm); }
SETTER(set_secure_boot)
{
	return parse_bool(v, &p->secure_boot) < 0 ? bad_value(err, key, v, "true or false") : 0;
}
GETTER(get_secure_boot) { return bool_str(p->secure_boot); }
SETTER(set_hyperv) { return parse_bool(v, &p->hyperv) < 0 ? bad_value(err, key, v, "true or false") : 0; }
GETTER(get_hyperv) { return bool_str(p->hyperv); }
SETTER(set_nvidia)
{
	return parse_tri(v, &p->nvidia_workaround) < 0 ? bad_value(err, key, v, "auto, true or false") : 0;
}
GETTER(get_nvidia) { return tri_str(p->nvidia_workaround); }

SETTER(set_network)
{
	if (is_none(v))
		return set_str(&p->network, NULL, err);
	for (const unsigned char *c = (const unsigned char *)v; *c; c++)
		if (*c < 0x20 || *c == 0x7f || *c == '/')
			return bad_value(err, key, v, "none, or the name of a libvirt network (virsh net-list)");
	return set_str(&p->network, v, err);
}
GETTER(get_network) { return strdup(p->network ? p->network : "none"); }

SETTER(set_network_model)
{
	if (strcmp(v, "virtio") && strcmp(v, "e1000e") && strcmp(v, "rtl8139"))
		return bad_value(err, key, v, "virtio, e1000e or rtl8139");
	return set_str(&p->network_model, v, err);
}
GETTER(get_network_model) { return dup_or_null(p->network_model); }

SETTER(set_serial_log)
{
	return is_none(v) ? set_str(&p->serial_log, NULL, err) : set_path(key, v, &p->serial_log, err);
}
GETTER(get_serial_log) { return dup_or_null(p->serial_log); }

SETTER(set_on_reboot)
{
	if (strcmp(v, "restart") && strcmp(v, "destroy"))
		return bad_value(err, key, v, "restart, or destroy to stop a guest that reboots");
	return set_str(&p->on_reboot, v, err);
}
GETTER(get_on_reboot) { return dup_or_null(p->on_reboot); }

SETTER(set_boot_kernel)
{
	return is_none(v) ? set_str(&p->boot.kernel, NULL, err) : set_path(key, v, &p->boot.kernel, err);
}
GETTER(get_boot_kernel) { return dup_or_null(p->boot.kernel); }
SETTER(set_boot_initrd)
{
	return is_none(v) ? set_str(&p->boot.initrd, NULL, err) : set_path(key, v, &p->boot.initrd, err);
}
GETTER(get_boot_initrd) { return dup_or_null(p->boot.initrd); }
SETTER(set_boot_cmdline)
{
	for (const unsigned char *c = (const unsigned char *)v; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return nr_error_set(err, -NR_E_INVAL, "%s: the command line cannot hold control characters", key);
	return set_str(&p->boot.cmdline, v[0] ? v : NULL, err);
}
GETTER(get_boot_cmdline) { return dup_or_null(p->boot.cmdline); }

/* ---- the key table ---------------------------------------------------------------- */

enum key_kind { SCALAR, GROUP, LIST };

static const struct key {
	const char *name;
	enum key_kind kind;
	int (*set)(struct nr_profile *p, const char *key, const char *v, struct nr_error *err);
	char *(*get)(const struct nr_profile *p);
	const char *help;
} keys[] = {
	{ "name", SCALAR, set_name, get_name, "libvirt domain name" },
	{ "template", SCALAR, set_template, get_template, "windows11, windows10 or linux: the defaults and templates/NAME.xml" },
	{ "type", SCALAR, set_type, get_type, "kvm (default), or qemu for software emulation (TCG)" },
	{ "firmware", SCALAR, set_firmware, get_firmware, "efi (OVMF, default) or bios" },
	{ "memory", SCALAR, set_memory, get_memory, "guest memory: 16G, 8192M" },
	{ "hugepages", SCALAR, set_hugepages, get_hugepages, "back guest memory with hugepages" },
	{ "cpu", GROUP, NULL, NULL, "processors" },
	{ "cpu.vcpus", SCALAR, set_vcpus, get_vcpus, "number of virtual CPUs" },
	{ "cpu.sockets", SCALAR, set_sockets, get_sockets, "topology; 0 derives it from vcpus" },
	{ "cpu.cores", SCALAR, set_cores, get_cores, "topology: cores per socket" },
	{ "cpu.threads", SCALAR, set_threads, get_threads, "topology: threads per core" },
	{ "cpu.pinning", SCALAR, set_pinning, get_pinning, "auto (from the host topology, core 0 kept for the host), none, or a CPU list" },
	{ "disk", GROUP, set_disk, get_disk, "the system disk (none: no disk)" },
	{ "disk.path", SCALAR, set_disk_path, get_disk_path, "image file; created when missing" },
	{ "disk.size", SCALAR, set_disk_size, get_disk_size, "size when created: 128G" },
	{ "disk.format", SCALAR, set_disk_format, get_disk_format, "qcow2 or raw" },
	{ "disk.bus", SCALAR, set_disk_bus, get_disk_bus, "virtio, sata or scsi" },
	{ "iso", SCALAR, set_iso, get_iso, "install ISO" },
	{ "virtio_iso", SCALAR, set_virtio_iso, get_virtio_iso, "virtio-win drivers ISO" },
	{ "gpu", SCALAR, set_gpu, get_gpu, "auto, none, or the GPU's PCI address; every function goes in" },
	{ "gpu_rom", SCALAR, set_gpu_rom, get_gpu_rom, "ROM file for the GPU" },
	{ "hostdevs", GROUP, NULL, NULL, "extra host devices" },
	{ "hostdevs.pci", LIST, set_pci, get_pci, "PCI addresses" },
	{ "hostdevs.usb", LIST, set_usb, get_usb, "USB vendor:product ids" },
	{ "looking_glass", GROUP, set_lg, get_lg, "Looking Glass (true/false, or a mapping)" },
	{ "looking_glass.enabled", SCALAR, set_lg_enabled, get_lg, "add the IVSHMEM device" },
	{ "looking_glass.resolution", SCALAR, set_lg_resolution, get_lg_resolution, "largest guest resolution: 2560x1440, 4k" },
	{ "looking_glass.hdr", SCALAR, set_lg_hdr, get_lg_hdr, "HDR doubles the shared memory" },
	{ "looking_glass.backend", SCALAR, set_lg_backend, get_lg_backend, "shm (/dev/shm/looking-glass) or kvmfr" },
	{ "looking_glass.device", SCALAR, set_lg_device, get_lg_device, "kvmfr device: /dev/kvmfr0" },
	{ "agent", SCALAR, set_agent, get_agent, "virtio-serial channel org.neuronos.agent.0 for the guest agent" },
	{ "tpm", SCALAR, set_tpm, get_tpm, "TPM 2.0 (swtpm); auto: on for Windows 11" },
	{ "secure_boot", SCALAR, set_secure_boot, get_secure_boot, "OVMF with Secure Boot and enrolled keys" },
	{ "hyperv", SCALAR, set_hyperv, get_hyperv, "Hyper-V enlightenments for Windows" },
	{ "nvidia_workaround", SCALAR, set_nvidia, get_nvidia, "hide KVM and set a vendor_id (Code 43); auto: for NVIDIA GPUs" },
	{ "network", SCALAR, set_network, get_network, "none (default), or a libvirt network name" },
	{ "network_model", SCALAR, set_network_model, get_network_model, "virtio, e1000e or rtl8139" },
	{ "serial_log", SCALAR, set_serial_log, get_serial_log, "write the guest's serial console to this host file" },
	{ "on_reboot", SCALAR, set_on_reboot, get_on_reboot, "restart, or destroy: a guest that reboots stops" },
	{ "boot", GROUP, NULL, NULL, "direct kernel boot" },
	{ "boot.kernel", SCALAR, set_boot_kernel, get_boot_kernel, "kernel image on the host" },
	{ "boot.initrd", SCALAR, set_boot_initrd, get_boot_initrd, "initramfs on the host" },
	{ "boot.cmdline", SCALAR, set_boot_cmdline, get_boot_cmdline, "kernel command line" },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const struct key *find_key(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

const char *nr_profile_key(size_t i, const char **help)
{
	if (i >= NKEYS)
		return NULL;
	if (help)
		*help = keys[i].help;
	return keys[i].name;
}

/* Edit distance, for did-you-mean. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64], prev, tmp;

	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
			tmp = row[j];
			row[j] = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
			if (prev + cost < row[j])
				row[j] = prev + cost;
			prev = tmp;
		}
	}
	return row[lb];
}

/* The closest key in the same group (prefix "" for the top level), or NULL. */
static const char *suggest(const char *prefix, const char *leaf)
{
	const char *best = NULL;
	size_t best_d = 99, lp = strlen(prefix);

	for (size_t i = 0; i < NKEYS; i++) {
		const char *k = keys[i].name;
		if (lp ? strncmp(k, prefix, lp) != 0 || k[lp] != '.' : strchr(k, '.') != NULL)
			continue;
		const char *kl = lp ? k + lp + 1 : k;
		size_t d = distance(leaf, kl), limit = strlen(kl) <= 4 ? 1 : strlen(kl) <= 8 ? 2 : 3;
		if (d <= limit && d < best_d) {
			best_d = d;
			best = kl;
		}
	}
	return best;
}

static int unknown_key(struct nr_error *err, const char *prefix, const char *leaf)
{
	const char *s = suggest(prefix, leaf);

	if (s)
		return nr_error_set(err, -NR_E_INVAL, "unknown key '%s%s%s'; did you mean '%s%s%s'?", prefix,
				    prefix[0] ? "." : "", leaf, prefix, prefix[0] ? "." : "", s);
	return nr_error_set(err, -NR_E_INVAL, "unknown key '%s%s%s' (docs/profiles.md lists the keys)", prefix,
			    prefix[0] ? "." : "", leaf);
}

static int split_and_find(const char *key, const struct key **out, struct nr_error *err)
{
	const char *dot = strrchr(key, '.');
	char prefix[64];

	*out = find_key(key);
	if (*out)
		return 0;
	if (dot && (size_t)(dot - key) < sizeof(prefix)) {
		memcpy(prefix, key, (size_t)(dot - key));
		prefix[dot - key] = '\0';
		if (!find_key(prefix))
			return unknown_key(err, "", prefix);
		return unknown_key(err, prefix, dot + 1);
	}
	return unknown_key(err, "", key);
}

/* ---- defaults --------------------------------------------------------------------- */

static int template_index(const char *t)
{
	for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++)
		if (strcmp(templates[i], t) == 0)
			return (int)i;
	return -1;
}

const char *nr_profile_template_name(size_t i)
{
	return i < sizeof(templates) / sizeof(templates[0]) ? templates[i] : NULL;
}

static int apply_defaults(struct nr_profile *p, const char *tmpl, struct nr_error *err)
{
	bool windows = strncmp(tmpl, "windows", 7) == 0;

	if (set_str(&p->template_name, tmpl, err) < 0 || set_str(&p->domain_type, "kvm", err) < 0 ||
	    set_str(&p->firmware, "efi", err) < 0 || set_str(&p->disk.format, "qcow2", err) < 0 ||
	    set_str(&p->disk.bus, windows ? "sata" : "virtio", err) < 0 ||
	    set_str(&p->network_model, windows ? "e1000e" : "virtio", err) < 0 ||
	    set_str(&p->on_reboot, "restart", err) < 0)
		return err ? err->code : -NR_E_NOMEM;
	p->memory = (uint64_t)(windows ? 8 : 4) << 30;
	p->vcpus = windows ? 4 : 2;
	p->disk.size = (uint64_t)(windows ? 80 : 32) << 30;
	p->gpu = windows ? NR_PROFILE_GPU_AUTO : NR_PROFILE_GPU_NONE;
	p->lg.enabled = windows;
	p->lg.width = 1920;
	p->lg.height = 1080;
	p->agent = true;
	p->tpm = NR_AUTO;
	p->secure_boot = strcmp(tmpl, "windows11") == 0;
	p->hyperv = windows;
	p->nvidia_workaround = NR_AUTO;
	return 0;
}

int nr_profile_new(const char *template_name, const char *name, struct nr_profile **out,
		   struct nr_error *err)
{
	struct nr_profile *p;
	int rc;

	*out = NULL;
	if (!template_name || template_index(template_name) < 0)
		return nr_error_set(err, -NR_E_INVAL, "unknown template '%s'; use windows11, windows10 or linux",
				    template_name ? template_name : "");
	p = calloc(1, sizeof(*p));
	if (!p)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	rc = apply_defaults(p, template_name, err);
	if (rc == 0 && name)
		rc = set_name(p, "name", name, err);
	if (rc < 0) {
		nr_profile_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void nr_profile_free(struct nr_profile *p)
{
	if (!p)
		return;
	free(p->file);
	free(p->name);
	free(p->template_name);
	free(p->domain_type);
	free(p->firmware);
	free(p->pin_cpus);
	free(p->disk.path);
	free(p->disk.format);
	free(p->disk.bus);
	free(p->iso);
	free(p->virtio_iso);
	free(p->gpu_rom);
	list_clear(&p->pci, &p->n_pci);
	list_clear(&p->usb, &p->n_usb);
	free(p->lg.kvmfr_device);
	free(p->network);
	free(p->network_model);
	free(p->serial_log);
	free(p->on_reboot);
	free(p->boot.kernel);
	free(p->boot.initrd);
	free(p->boot.cmdline);
	for (size_t i = 0; i < p->n_marks; i++)
		free(p->marks[i].key);
	free(p->marks);
	free(p);
}

int nr_profile_set(struct nr_profile *p, const char *key, const char *value, struct nr_error *err)
{
	const struct key *k;
	int rc = split_and_find(key, &k, err);

	if (rc < 0)
		return rc;
	if (!k->set)
		return nr_error_set(err, -NR_E_INVAL, "%s: a group of keys; set one of them (%s.KEY)", key, key);
	if (!value) {
		/* back to the template's default */
		struct nr_profile *d;
		char *def;
		if (k->kind == LIST) {
			list_clear(k->set == set_pci ? &p->pci : &p->usb, k->set == set_pci ? &p->n_pci : &p->n_usb);
			return 0;
		}
		if (k->set == set_name || k->set == set_template)
			return nr_error_set(err, -NR_E_INVAL, "%s has no default", key);
		if (k->set == set_disk_path)
			return set_str(&p->disk.path, NULL, err);
		rc = nr_profile_new(p->template_name, NULL, &d, err);
		if (rc < 0)
			return rc;
		def = k->get(d);
		nr_profile_free(d);
		if (!def)
			return nr_error_set(err, -NR_E_NOMEM, NULL);
		rc = k->set(p, key, def, err);
		free(def);
		return rc;
	}
	return k->set(p, key, value, err);
}

char *nr_profile_get(const struct nr_profile *p, const char *key)
{
	const struct key *k = find_key(key);

	return k && k->get ? k->get(p) : NULL;
}

/* ---- writing YAML ------------------------------------------------------------------ */

static void yaml_quote(struct nr_buf *b, const char *v)
{
	/* plain when it is a word YAML cannot misread, else double-quoted */
	bool plain = v[0] && strchr("-:.", v[0]) == NULL;
	for (const char *c = v; plain && *c; c++)
		plain = isalnum((unsigned char)*c) || strchr("._/:-", *c);
	if (plain && strcmp(v, "~") && strcasecmp(v, "null")) {
		nr_buf_puts(b, v);
		return;
	}
	nr_buf_puts(b, "\"");
	for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
		if (*c == '"' || *c == '\\')
			nr_buf_printf(b, "\\%c", *c);
		else if (*c < 0x20 || *c == 0x7f)
			nr_buf_printf(b, "\\x%02x", *c);
		else
			nr_buf_append(b, (const char *)c, 1);
	}
	nr_buf_puts(b, "\"");
}

int nr_profile_to_yaml(const struct nr_profile *p, char **out, struct nr_error *err)
{
	const char *skip = NULL; /* a group written as one value (disk: none) */
	struct nr_buf b;

	*out = NULL;
	nr_buf_init(&b);
	nr_buf_printf(&b, "# made by neuron from the %s template\n", p->template_name);
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		const char *dot = strchr(k->name, '.');
		const char *leaf = dot ? dot + 1 : k->name;
		char *v;

		if (skip && dot && strncmp(k->name, skip, strlen(skip)) == 0 && k->name[strlen(skip)] == '.')
			continue;
		skip = NULL;
		if (k->set == set_lg_enabled)
			continue;
		if (k->kind == GROUP) {
			if ((k->set == set_disk && p->disk.none) || (k->set == set_lg && !p->lg.enabled)) {
				nr_buf_printf(&b, "%s: %s\n", k->name, k->set == set_disk ? "none" : "false");
				skip = k->name;
			} else if (strcmp(k->name, "boot") == 0 && !p->boot.kernel) {
				skip = k->name;
			} else {
				nr_buf_printf(&b, "%s:\n", k->name);
			}
			continue;
		}
		if (k->set == set_disk_path && !p->disk.path)
			continue;   /* the default follows the name */
		v = k->get(p);
		if (!v) {
			nr_buf_done(&b);
			return nr_error_set(err, -NR_E_NOMEM, NULL);
		}
		if (k->kind == LIST) {
			char **items = k->set == set_pci ? p->pci : p->usb;
			size_t n = k->set == set_pci ? p->n_pci : p->n_usb;
			nr_buf_printf(&b, "  %s: [", leaf);
			for (size_t j = 0; j < n; j++) {
				if (j)
					nr_buf_puts(&b, ", ");
				yaml_quote(&b, items[j]);
			}
			nr_buf_puts(&b, "]\n");
		} else if (v[0] || k->set == set_name) {
			nr_buf_printf(&b, "%s%s: ", dot ? "  " : "", leaf);
			yaml_quote(&b, v);
			nr_buf_puts(&b, "\n");
		}
		free(v);
	}
	if (b.oom)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	*out = nr_buf_steal(&b);
	return 0;
}

/* ---- whole-profile rules ---------------------------------------------------------- */

static const struct nr_profile_mark *find_mark(const struct nr_profile *p, const char *key)
{
	for (size_t i = 0; i < p->n_marks; i++)
		if (strcmp(p->marks[i].key, key) == 0)
			return &p->marks[i];
	return NULL;
}

/* Prefix "FILE:LINE:COLUMN: " for the key's place, or "FILE: " when unknown. */
void nr_profile_locate(const struct nr_profile *p, const char *key, struct nr_error *err)
{
	const struct nr_profile_mark *m = find_mark(p, key);

	if (!p->file)
		return;
	if (m)
		nr_error_prefix(err, "%s:%u:%u: ", p->file, m->line, m->column);
	else
		nr_error_prefix(err, "%s: ", p->file);
}

static int add_mark(struct nr_profile *p, const char *key, unsigned line, unsigned column)
{
	struct nr_profile_mark *m = realloc(p->marks, (p->n_marks + 1) * sizeof(*m));

	if (!m)
		return -NR_E_NOMEM;
	p->marks = m;
	m[p->n_marks].key = strdup(key);
	if (!m[p->n_marks].key)
		return -NR_E_NOMEM;
	m[p->n_marks].line = line;
	m[p->n_marks].column = column;
	p->n_marks++;
	return 0;
}

/* Rules between keys, checked once the whole file is read. */
static int profile_rules(const struct nr_profile *p, struct nr_error *err)
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
	int rc = profile_rules(p, err);

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

/* ---- YAML -------------------------------------------------------------------------- */

struct reader {
	yaml_document_t *doc;
	const char *file;
	struct nr_profile *p;
	struct nr_error *err;
};

static int fail_at(struct reader *r, const yaml_node_t *n, int rc)
{
	nr_error_prefix(r->err, "%s:%zu:%zu: ", r->file, n->start_mark.line + 1, n->start_mark.column + 1);
	return rc;
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool is_null(const yaml_node_t *n)
{
	const char *v = scalar(n);

	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!v[0] || strcmp(v, "~") == 0 || strcmp(v, "null") == 0);
}

static int set_at(struct reader *r, const char *key, const yaml_node_t *val, const char *mark_key)
{
	int rc;

	if (add_mark(r->p, mark_key, (unsigned)val->start_mark.line + 1, (unsigned)val->start_mark.column + 1) < 0)
		return nr_error_set(r->err, -NR_E_NOMEM, NULL);
	rc = nr_profile_set(r->p, key, is_null(val) ? NULL : scalar(val), r->err);
	return rc < 0 ? fail_at(r, val, rc) : 0;
}

static int read_mapping(struct reader *r, const yaml_node_t *map, const char *prefix)
{
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *kn = yaml_document_get_node(r->doc, pair->key);
		yaml_node_t *vn = yaml_document_get_node(r->doc, pair->value);
		char full[128];
		const struct key *k;
		int rc;

		if (kn->type != YAML_SCALAR_NODE)
			return fail_at(r, kn, nr_error_set(r->err, -NR_E_PARSE, "a key must be a plain word"));
		/* duplicate keys: YAML leaves them undefined, so say it */
		for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < pair; q++) {
			yaml_node_t *qk = yaml_document_get_node(r->doc, q->key);
			if (qk->type == YAML_SCALAR_NODE && strcmp(scalar(qk), scalar(kn)) == 0)
				return fail_at(r, kn, nr_error_set(r->err, -NR_E_EXISTS,
								   "duplicate key '%s' (first given at line %zu); keep one",
								   scalar(kn), qk->start_mark.line + 1));
		}
		if (snprintf(full, sizeof(full), "%s%s%s", prefix, prefix[0] ? "." : "", scalar(kn)) >= (int)sizeof(full))
			return fail_at(r, kn, nr_error_set(r->err, -NR_E_PARSE, "key '%s' is too long", scalar(kn)));
		k = find_key(full);
		if (!k)
			return fail_at(r, kn, unknown_key(r->err, prefix, scalar(kn)));
		if (!prefix[0] && strcmp(full, "template") == 0)
			continue; /* read first, in nr_profile_parse */
		switch (vn->type) {
		case YAML_SCALAR_NODE:
			if (k->kind == LIST) {
				/* a single item without a list */
				rc = set_at(r, full, vn, full);
			} else if (k->kind == GROUP && !k->set) {
				rc = fail_at(r, vn, nr_error_set(r->err, -NR_E_PARSE,
								 "'%s' holds keys (%s.KEY: value), not a value", full, full));
			} else {
				rc = set_at(r, full, vn, full);
			}
			break;
		case YAML_MAPPING_NODE:
			if (k->kind != GROUP)
				return fail_at(r, vn, nr_error_set(r->err, -NR_E_PARSE,
								   "'%s' takes a single value, not a mapping", full));
			if (add_mark(r->p, full, (unsigned)kn->start_mark.line + 1, (unsigned)kn->start_mark.column + 1) < 0)
				return nr_error_set(r->err, -NR_E_NOMEM, NULL);
			if (k->set == set_lg) /* a mapping means enabled unless it says otherwise */
				r->p->lg.enabled = true;
			if (k->set == set_disk)
				r->p->disk.none = false;
			rc = read_mapping(r, vn, full);
			break;
		case YAML_SEQUENCE_NODE:
			if (k->kind != LIST)
				return fail_at(r, vn, nr_error_set(r->err, -NR_E_PARSE,
								   "'%s' takes a single value, not a list", full));
			rc = 0;
			for (yaml_node_item_t *it = vn->data.sequence.items.start; rc == 0 && it < vn->data.sequence.items.top; it++) {
				yaml_node_t *in = yaml_document_get_node(r->doc, *it);
				char mk[160];
				if (in->type != YAML_SCALAR_NODE)
					return fail_at(r, in, nr_error_set(r->err, -NR_E_PARSE,
									   "items of '%s' are single values", full));
				snprintf(mk, sizeof(mk), "%s#%zu", full, r->p->n_pci * (k->set == set_pci) +
					 r->p->n_usb * (k->set == set_usb));
				rc = set_at(r, full, in, mk);
			}
			break;
		default:
			rc = fail_at(r, vn, nr_error_set(r->err, -NR_E_PARSE, "unexpected value for '%s'", full));
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

int nr_profile_parse(const char *text, size_t len, const char *file, struct nr_profile **out,
		     struct nr_error *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root, *tmpl_node = NULL;
	struct reader r = { .doc = &doc, .file = file ? file : "<profile>", .err = err };
	struct nr_profile *p = NULL;
	int rc;

	*out = NULL;
	if (!yaml_parser_initialize(&parser))
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = nr_error_set(err, -NR_E_PARSE, "%s:%zu:%zu: YAML syntax: %s%s%s", r.file,
				  parser.problem_mark.line + 1, parser.problem_mark.column + 1,
				  parser.problem ? parser.problem : "error",
				  parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return rc;
	}
	yaml_parser_delete(&parser);
	root = yaml_document_get_root_node(&doc);
	if (!root || root->type != YAML_MAPPING_NODE) {
		rc = nr_error_set(err, -NR_E_PARSE, "%s:%zu:%zu: a profile is a mapping of keys (name: win11 ...)",
				  r.file, root ? root->start_mark.line + 1 : 1, root ? root->start_mark.column + 1 : 1);
		goto out;
	}
	for (yaml_node_pair_t *pair = root->data.mapping.pairs.start; pair < root->data.mapping.pairs.top; pair++) {
		yaml_node_t *kn = yaml_document_get_node(&doc, pair->key);
		if (kn->type == YAML_SCALAR_NODE && strcmp(scalar(kn), "template") == 0)
			tmpl_node = yaml_document_get_node(&doc, pair->value);
	}
	if (!tmpl_node) {
		rc = nr_error_set(err, -NR_E_INVAL, "%s:%zu:%zu: missing key 'template' (windows11, windows10 or linux)",
				  r.file, root->start_mark.line + 1, root->start_mark.column + 1);
		goto out;
	}
	if (tmpl_node->type != YAML_SCALAR_NODE || template_index(scalar(tmpl_node)) < 0) {
		const char *t = tmpl_node->type == YAML_SCALAR_NODE ? scalar(tmpl_node) : "";
		const char *best = NULL;
		size_t best_d = 3;
		for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++)
			if (distance(t, templates[i]) < best_d) {
				best_d = distance(t, templates[i]);
				best = templates[i];
			}
		rc = nr_error_set(err, -NR_E_INVAL, "%s:%zu:%zu: template: unknown template '%s'; %s%s%s", r.file,
				  tmpl_node->start_mark.line + 1, tmpl_node->start_mark.column + 1, t,
				  best ? "did you mean '" : "use windows11, windows10 or linux", best ? best : "",
				  best ? "'?" : "");
		goto out;
	}
	rc = nr_profile_new(scalar(tmpl_node), NULL, &p, err);
	if (rc < 0)
		goto out;
	r.p = p;
	if ((rc = set_str(&p->file, r.file, err)) < 0 ||
	    (rc = add_mark(p, "template", (unsigned)tmpl_node->start_mark.line + 1,
			   (unsigned)tmpl_node->start_mark.column + 1)) < 0 ||
	    (rc = add_mark(p, "", (unsigned)root->start_mark.line + 1, (unsigned)root->start_mark.column + 1)) < 0)
		goto out;
	rc = read_mapping(&r, root, "");
	if (rc == 0)
		rc = profile_rules(p, err);
out:
	yaml_document_delete(&doc);
	if (rc < 0) {
		nr_profile_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int nr_profile_load(const char *path, struct nr_profile **out, struct nr_error *err)
{
	char *text;
	size_t len;
	int rc;

	*out = NULL;
	rc = nr_read_file(path, &text, &len, err);
	if (rc < 0)
		return rc;
	rc = nr_profile_parse(text, len, path, out, err);
	free(text);
	return rc;
}
