/* The profile key table: one row per key with its setter, getter, flags and help. The
 * YAML reader, nr_profile_set/get, the YAML writer and docs/profiles.md all follow it, so
 * a value from a file and one from the TUI's form get the same checks and messages. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/internal.h"
#include "vm/profile_internal.h"
#include "neuron/lg.h"
#include "neuron/profile.h"

#define DEFAULT_IMAGE_DIR "/var/lib/libvirt/images"

/* ---- small helpers ------------------------------------------------------------ */

int nr_profile_set_str(char **field, const char *v, struct nr_error *err)
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
	return nr_profile_set_str(&p->name, v, err);
}
GETTER(get_name) { return dup_or_null(p->name); }

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
	return nr_profile_set_str(&p->domain_type, v, err);
}
GETTER(get_type) { return dup_or_null(p->domain_type); }

SETTER(set_firmware)
{
	if (strcmp(v, "efi") && strcmp(v, "bios"))
		return bad_value(err, key, v, "efi or bios");
	return nr_profile_set_str(&p->firmware, v, err);
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

/* Linux's CPU list format ("0-3,8,10-11"), the one reader for profiles and the host's
 * sys/devices/system/cpu/online alike. */
int nr_cpu_list_parse(const char *s, unsigned max, unsigned **cpus, size_t *n, struct nr_error *err)
{
	unsigned *l = NULL;
	size_t cnt = 0;
	const char *c = s;
	int rc = 0;

	*cpus = NULL;
	*n = 0;
	while (*c && *c != '\n') {
		unsigned long a, b;
		char *end;

		if (!isdigit((unsigned char)*c)) {
			rc = nr_error_set(err, -NR_E_INVAL, "'%s' is not a CPU list like 2-7,10-15", s);
			goto out;
		}
		errno = 0;
		a = b = strtoul(c, &end, 10);
		c = end;
		if (*c == '-') {
			if (!isdigit((unsigned char)c[1])) {
				rc = nr_error_set(err, -NR_E_INVAL, "'%s' is not a CPU list like 2-7,10-15", s);
				goto out;
			}
			b = strtoul(c + 1, &end, 10);
			c = end;
			if (b < a) {
				rc = nr_error_set(err, -NR_E_INVAL, "in '%s', the range %lu-%lu runs backwards", s, a, b);
				goto out;
			}
		}
		if (errno || b > max) {
			rc = nr_error_set(err, -NR_E_INVAL, "'%s' names CPU %lu; CPU numbers go up to %u", s,
					  errno ? a : b, max);
			goto out;
		}
		for (unsigned long cpu = a; cpu <= b; cpu++) {
			unsigned *m;
			for (size_t k = 0; k < cnt; k++)
				if (l[k] == cpu) {
					rc = nr_error_set(err, -NR_E_INVAL, "'%s' names CPU %lu twice", s, cpu);
					goto out;
				}
			if (!(m = realloc(l, (cnt + 1) * sizeof(*l)))) {
				rc = nr_error_set(err, -NR_E_NOMEM, NULL);
				goto out;
			}
			l = m;
			l[cnt++] = (unsigned)cpu;
		}
		if (*c == ',' && c[1] && c[1] != '\n')
			c++;
		else if (*c && *c != '\n') {
			rc = nr_error_set(err, -NR_E_INVAL, "'%s' is not a CPU list like 2-7,10-15", s);
			goto out;
		}
	}
	if (!cnt)
		rc = nr_error_set(err, -NR_E_INVAL, "'%s' names no CPU", s);
out:
	if (rc < 0) {
		free(l);
		return rc;
	}
	*cpus = l;
	*n = cnt;
	return 0;
}

/* Profiles name at most this many host CPUs (libvirt's own limit is higher; no machine
 * NeuronOS runs on comes near). */
#define MAX_HOST_CPU 4095

SETTER(set_pinning)
{
	if (strcmp(v, "auto") == 0 || strcmp(v, "none") == 0 || strcmp(v, "false") == 0) {
		p->pinning = v[0] == 'a' ? NR_PINNING_AUTO : NR_PINNING_NONE;
		return nr_profile_set_str(&p->pin_cpus, NULL, err);
	}
	{
		unsigned *cpus;
		size_t n;
		int rc;
		if (!isdigit((unsigned char)v[0]))
			return bad_value(err, key, v, "auto, none, or a host CPU list like 2-7,10-15");
		rc = nr_cpu_list_parse(v, MAX_HOST_CPU, &cpus, &n, err);
		if (rc < 0)
			return nr_error_prefix(err, "%s: ", key), rc;
		free(cpus);
	}
	p->pinning = NR_PINNING_LIST;
	return nr_profile_set_str(&p->pin_cpus, v, err);
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
	return nr_profile_set_str(field, v, err);
}

SETTER(set_disk)
{
	/* `disk: none` on the group itself */
	bool on;

	if (strcmp(v, "none") == 0 || (parse_bool(v, &on) == 0)) {
		p->disk.none = strcmp(v, "none") == 0 || !on;
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
	return nr_profile_set_str(&p->disk.format, v, err);
}
GETTER(get_disk_format) { return dup_or_null(p->disk.format); }

SETTER(set_disk_bus)
{
	if (strcmp(v, "virtio") && strcmp(v, "sata") && strcmp(v, "scsi"))
		return bad_value(err, key, v, "virtio, sata or scsi (Windows needs the virtio-win drivers for virtio)");
	return nr_profile_set_str(&p->disk.bus, v, err);
}
GETTER(get_disk_bus) { return dup_or_null(p->disk.bus); }

static bool is_none(const char *v)
{
	return strcmp(v, "none") == 0 || strcmp(v, "false") == 0 || v[0] == '\0';
}

SETTER(set_iso) { return is_none(v) ? nr_profile_set_str(&p->iso, NULL, err) : set_path(key, v, &p->iso, err); }
GETTER(get_iso) { return dup_or_null(p->iso); }
SETTER(set_virtio_iso)
{
	return is_none(v) ? nr_profile_set_str(&p->virtio_iso, NULL, err) : set_path(key, v, &p->virtio_iso, err);
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

static const char *const gpu_modes[] = { "auto", "single", "dedicated" };

SETTER(set_gpu_mode)
{
	for (size_t i = 0; i < sizeof(gpu_modes) / sizeof(gpu_modes[0]); i++)
		if (strcmp(v, gpu_modes[i]) == 0) {
			p->gpu_mode = (enum nr_gpu_mode)i;
			return 0;
		}
	return bad_value(err, key, v, "auto (single-GPU hand-off when the GPU is the boot GPU and the only one), "
			 "single (always: the host's screen is on it) or dedicated (never)");
}
GETTER(get_gpu_mode) { return strdup(gpu_modes[p->gpu_mode]); }

SETTER(set_gpu_rom)
{
	return is_none(v) ? nr_profile_set_str(&p->gpu_rom, NULL, err) : set_path(key, v, &p->gpu_rom, err);
}
GETTER(get_gpu_rom) { return dup_or_null(p->gpu_rom); }

static int list_add(char ***list, size_t *n, const char *v, struct nr_error *err)
{
	return nr_strv_add(list, n, v) < 0 ? nr_error_set(err, -NR_E_NOMEM, NULL) : 0;
}

static void list_clear(char ***list, size_t *n)
{
	nr_strv_free(*list, *n);
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

/* A shared folder: NAME=PATH, or PATH alone (the name is its last part). NAME is the
 * virtio-fs tag the guest mounts and the folder's name there; PATH is absolute or in the
 * home (~/Documents), resolved when the domain is built. */
static bool share_name_ok(const char *s, size_t len)
{
	if (!len || len > NR_SHARE_NAME_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return false;
	return true;
}

static bool share_path_ok(const char *v)
{
	for (const unsigned char *c = (const unsigned char *)v; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return false;
	return v[0] == '/' || strcmp(v, "~") == 0 || strncmp(v, "~/", 2) == 0;
}

SETTER(set_shares)
{
	const char *path = v, *name = v, *eq = strchr(v, '=');
	size_t name_len;
	char item[4200];

	if (is_none(v)) {
		list_clear(&p->shares, &p->n_shares);
		return 0;
	}
	if (v[0] != '/' && v[0] != '~' && eq) {
		path = eq + 1;
		name_len = (size_t)(eq - v);
	} else {
		/* the name is the path's last part */
		const char *end = v + strlen(v);
		while (end > v + 1 && end[-1] == '/')
			end--;
		name = end;
		while (name > v && name[-1] != '/')
			name--;
		name_len = (size_t)(end - name);
	}
	if (!share_path_ok(path) || strlen(path) > 4000)
		return bad_value(err, key, v, "a folder as NAME=PATH or PATH, absolute or ~/...: Documents=~/Documents");
	if (!share_name_ok(name, name_len))
		return nr_error_set(err, -NR_E_INVAL, "%s: '%.*s' is not a share name: 1 to %d letters, digits, "
				    "'_', '-' or '.' (it names the folder in the guest); write NAME=PATH",
				    key, (int)(name_len > 64 ? 64 : name_len), name, NR_SHARE_NAME_MAX);
	for (size_t i = 0; i < p->n_shares; i++)
		if (strncmp(p->shares[i], name, name_len) == 0 && p->shares[i][name_len] == '=')
			return nr_error_set(err, -NR_E_EXISTS, "%s: the name %.*s is given twice; name each share "
					    "(name: ...)", key, (int)name_len, name);
	if (p->n_shares >= NR_SHARES_MAX)
		return nr_error_set(err, -NR_E_INVAL, "%s: at most %d shares (a Windows guest gives each a drive "
				    "letter from Z: down)", key, NR_SHARES_MAX);
	snprintf(item, sizeof(item), "%.*s=%s", (int)name_len, name, path);
	return list_add(&p->shares, &p->n_shares, item, err);
}
GETTER(get_shares) { return list_text(p->shares, p->n_shares); }

bool nr_profile_share(const struct nr_profile *p, size_t i, const char *home, char *name, size_t name_size,
		      char *path, size_t path_size)
{
	const char *eq, *dir;

	if (i >= p->n_shares || !(eq = strchr(p->shares[i], '=')))
		return false;
	snprintf(name, name_size, "%.*s", (int)(eq - p->shares[i]), p->shares[i]);
	dir = eq + 1;
	if (dir[0] == '~' && home && home[0])
		snprintf(path, path_size, "%s%s", home, dir + 1);
	else
		snprintf(path, path_size, "%s", dir);
	return true;
}

SETTER(set_lg)
{
	bool b;

	if (parse_bool(v, &b) < 0)
		return bad_value(err, key, v, "true, false, or a mapping with resolution, hdr, backend");
	p->lg.enabled = b;
	return 0;
}
GETTER(get_lg) { return bool_str(p->lg.enabled); }

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

SETTER(set_lg_stack)
{
	enum nr_lg_stack st;

	if (nr_lg_stack_parse(v, &st) < 0)
		return bad_value(err, key, v, "b7 (the B7 host application), idd (the Indirect Display Driver "
				 "after B7) or auto (the installed client's)");
	p->lg.stack = (int)st;
	return 0;
}
GETTER(get_lg_stack) { return strdup(nr_lg_stack_name((enum nr_lg_stack)p->lg.stack)); }

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
	return nr_profile_set_str(&p->lg.kvmfr_device, v, err);
}
GETTER(get_lg_device) { return dup_or_null(p->lg.kvmfr_device); }
SETTER(set_lg_installer)
{
	size_t n = strlen(v);

	if (is_none(v))
		return nr_profile_set_str(&p->lg.installer, NULL, err);
	if (n < 5 || strcasecmp(v + n - 4, ".exe") != 0)
		return bad_value(err, key, v, "the path of the Looking Glass host installer, a Windows program "
				 "(looking-glass-host-setup.exe), or none");
	return set_path(key, v, &p->lg.installer, err);
}
GETTER(get_lg_installer) { return dup_or_null(p->lg.installer); }

SETTER(set_agent) { return parse_bool(v, &p->agent) < 0 ? bad_value(err, key, v, "true or false") : 0; }
GETTER(get_agent) { return bool_str(p->agent); }
SETTER(set_guest_tools)
{
	return parse_bool(v, &p->guest_tools) < 0 ? bad_value(err, key, v, "true or false") : 0;
}
GETTER(get_guest_tools) { return bool_str(p->guest_tools); }
SETTER(set_unattended)
{
	bool b;

	if (parse_bool(v, &b) < 0)
		return bad_value(err, key, v, "false, or a mapping with user, locale, timezone, product_key");
	p->unattended.enabled = b;
	return 0;
}
GETTER(get_unattended) { return bool_str(p->unattended.enabled); }

/* Text that goes into autounattend.xml as is (libxml2 escapes it): printable, one line. */
static int set_unattended_text(const char *key, const char *v, size_t max, char **field, struct nr_error *err)
{
	if (strlen(v) > max)
		return nr_error_set(err, -NR_E_INVAL, "%s: longer than %zu characters", key, max);
	for (const unsigned char *c = (const unsigned char *)v; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return nr_error_set(err, -NR_E_INVAL, "%s: no control characters", key);
	return nr_profile_set_str(field, v[0] ? v : NULL, err);
}
SETTER(set_unattended_user)
{
	/* Windows refuses these in a user name */
	if (!v[0] || strpbrk(v, "\"/\\[]:;|=,+*?<>@") || strlen(v) > 20)
		return bad_value(err, key, v, "a Windows user name: up to 20 characters, none of \"/\\[]:;|=,+*?<>@");
	return set_unattended_text(key, v, 20, &p->unattended.user, err);
}
GETTER(get_unattended_user) { return dup_or_null(p->unattended.user); }
SETTER(set_unattended_locale)
{
	size_t n = strlen(v);
	if (n < 2 || n > 16 || strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-") != n)
		return bad_value(err, key, v, "a language tag like en-US or de-DE");
	return nr_profile_set_str(&p->unattended.locale, v, err);
}
GETTER(get_unattended_locale) { return dup_or_null(p->unattended.locale); }
SETTER(set_unattended_timezone) { return set_unattended_text(key, v, 64, &p->unattended.timezone, err); }
GETTER(get_unattended_timezone) { return dup_or_null(p->unattended.timezone); }
SETTER(set_unattended_product_key)
{
	size_t n = strlen(v);
	if (is_none(v))
		return nr_profile_set_str(&p->unattended.product_key, NULL, err);
	if (n != 29 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != n || v[5] != '-' || v[11] != '-' ||
	    v[17] != '-' || v[23] != '-')
		return bad_value(err, key, v, "none, or a key like XXXXX-XXXXX-XXXXX-XXXXX-XXXXX");
	return nr_profile_set_str(&p->unattended.product_key, v, err);
}
GETTER(get_unattended_product_key) { return dup_or_null(p->unattended.product_key); }
SETTER(set_unattended_edition) { return set_unattended_text(key, v, 64, &p->unattended.edition, err); }
GETTER(get_unattended_edition) { return dup_or_null(p->unattended.edition); }
SETTER(set_unattended_password_file)
{
	return is_none(v) ? nr_profile_set_str(&p->unattended.password_file, NULL, err)
			  : set_path(key, v, &p->unattended.password_file, err);
}
GETTER(get_unattended_password_file) { return dup_or_null(p->unattended.password_file); }
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
		return nr_profile_set_str(&p->network, NULL, err);
	for (const unsigned char *c = (const unsigned char *)v; *c; c++)
		if (*c < 0x20 || *c == 0x7f || *c == '/')
			return bad_value(err, key, v, "none, or the name of a libvirt network (virsh net-list)");
	return nr_profile_set_str(&p->network, v, err);
}
GETTER(get_network) { return strdup(p->network ? p->network : "none"); }

SETTER(set_network_model)
{
	if (strcmp(v, "virtio") && strcmp(v, "e1000e") && strcmp(v, "rtl8139"))
		return bad_value(err, key, v, "virtio, e1000e or rtl8139");
	return nr_profile_set_str(&p->network_model, v, err);
}
GETTER(get_network_model) { return dup_or_null(p->network_model); }

SETTER(set_serial_log)
{
	return is_none(v) ? nr_profile_set_str(&p->serial_log, NULL, err) : set_path(key, v, &p->serial_log, err);
}
GETTER(get_serial_log) { return dup_or_null(p->serial_log); }

SETTER(set_on_reboot)
{
	if (strcmp(v, "restart") && strcmp(v, "destroy"))
		return bad_value(err, key, v, "restart, or destroy to stop a guest that reboots");
	return nr_profile_set_str(&p->on_reboot, v, err);
}
GETTER(get_on_reboot) { return dup_or_null(p->on_reboot); }

SETTER(set_boot_kernel)
{
	return is_none(v) ? nr_profile_set_str(&p->boot.kernel, NULL, err) : set_path(key, v, &p->boot.kernel, err);
}
GETTER(get_boot_kernel) { return dup_or_null(p->boot.kernel); }
SETTER(set_boot_initrd)
{
	return is_none(v) ? nr_profile_set_str(&p->boot.initrd, NULL, err) : set_path(key, v, &p->boot.initrd, err);
}
GETTER(get_boot_initrd) { return dup_or_null(p->boot.initrd); }
SETTER(set_boot_cmdline)
{
	for (const unsigned char *c = (const unsigned char *)v; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return nr_error_set(err, -NR_E_INVAL, "%s: the command line cannot hold control characters", key);
	return nr_profile_set_str(&p->boot.cmdline, v[0] ? v : NULL, err);
}
GETTER(get_boot_cmdline) { return dup_or_null(p->boot.cmdline); }

/* ---- the key table ---------------------------------------------------------------- */

/* Row makers: a scalar, a group (with the value that switches it off and the one a mapping
 * means, or none), a list with where its items live. */
#define SCALAR(name, flags, set, get, help) { name, KEY_SCALAR, flags, set, get, NULL, NULL, 0, 0, help }
#define GROUP(name, set, get, off, on, help) { name, KEY_GROUP, 0, set, get, off, on, 0, 0, help }
#define LIST(name, set, get, field, help)                                                        \
	{ name, KEY_LIST, 0, set, get, NULL, NULL, offsetof(struct nr_profile, field),            \
	  offsetof(struct nr_profile, n_##field), help }

const struct nr_profile_key_row nr_profile_keys[] = {
	SCALAR("name", KEY_NO_DEFAULT, set_name, get_name, "libvirt domain name"),
	SCALAR("template", KEY_NO_DEFAULT, set_template, get_template, "windows11, windows10 or linux: the defaults and templates/NAME.xml"),
	SCALAR("type", 0, set_type, get_type, "kvm (default), or qemu for software emulation (TCG)"),
	SCALAR("firmware", 0, set_firmware, get_firmware, "efi (OVMF, default) or bios"),
	SCALAR("memory", 0, set_memory, get_memory, "guest memory: 16G, 8192M; at most what the host has"),
	SCALAR("hugepages", 0, set_hugepages, get_hugepages, "back guest memory with hugepages"),
	GROUP("cpu", NULL, NULL, NULL, NULL, "processors"),
	SCALAR("cpu.vcpus", 0, set_vcpus, get_vcpus, "number of virtual CPUs"),
	SCALAR("cpu.sockets", 0, set_sockets, get_sockets, "topology; 0 derives it from vcpus"),
	SCALAR("cpu.cores", 0, set_cores, get_cores, "topology: cores per socket"),
	SCALAR("cpu.threads", 0, set_threads, get_threads, "topology: threads per core"),
	SCALAR("cpu.pinning", 0, set_pinning, get_pinning, "auto (from the host topology, core 0 kept for the host), none, or a list of host CPUs, one per vCPU"),
	GROUP("disk", set_disk, get_disk, "none", "yes", "the system disk (none: no disk)"),
	{ "disk.path", KEY_SCALAR, KEY_DEFAULT_FOLLOWS_NAME, set_disk_path, get_disk_path, NULL, NULL,
	  offsetof(struct nr_profile, disk.path), 0, "image file; created when missing" },
	SCALAR("disk.size", 0, set_disk_size, get_disk_size, "size when created: 128G"),
	SCALAR("disk.format", 0, set_disk_format, get_disk_format, "qcow2 or raw"),
	SCALAR("disk.bus", 0, set_disk_bus, get_disk_bus, "virtio, sata or scsi"),
	SCALAR("iso", 0, set_iso, get_iso, "install ISO"),
	SCALAR("virtio_iso", 0, set_virtio_iso, get_virtio_iso, "virtio-win drivers ISO"),
	SCALAR("gpu", 0, set_gpu, get_gpu, "auto, none, or the GPU's PCI address; every function goes in"),
	SCALAR("gpu_rom", 0, set_gpu_rom, get_gpu_rom, "ROM file for the GPU"),
	SCALAR("gpu_mode", 0, set_gpu_mode, get_gpu_mode,
	       "auto, single (the GPU the host shows on, lent while the VM runs) or dedicated"),
	GROUP("hostdevs", NULL, NULL, NULL, NULL, "extra host devices"),
	LIST("hostdevs.pci", set_pci, get_pci, pci, "PCI addresses"),
	LIST("hostdevs.usb", set_usb, get_usb, usb, "USB vendor:product ids"),
	{ "shares", KEY_LIST, KEY_ITEM_NAME_PATH, set_shares, get_shares, NULL, NULL,
	  offsetof(struct nr_profile, shares), offsetof(struct nr_profile, n_shares),
	  "host folders shared with the guest (virtio-fs): [{name: Documents, path: ~/Documents}]" },
	GROUP("looking_glass", set_lg, get_lg, "false", "true", "Looking Glass (true/false, or a mapping)"),
	SCALAR("looking_glass.enabled", KEY_ALIAS, set_lg, get_lg, "add the IVSHMEM device"),
	SCALAR("looking_glass.resolution", 0, set_lg_resolution, get_lg_resolution, "largest guest resolution: 2560x1440, 4k"),
	SCALAR("looking_glass.hdr", 0, set_lg_hdr, get_lg_hdr, "HDR doubles the shared memory"),
	SCALAR("looking_glass.stack", 0, set_lg_stack, get_lg_stack, "guest side the size is for: b7, idd, auto"),
	SCALAR("looking_glass.backend", 0, set_lg_backend, get_lg_backend, "shm (/dev/shm/looking-glass) or kvmfr"),
	SCALAR("looking_glass.device", 0, set_lg_device, get_lg_device, "kvmfr device: /dev/kvmfr0"),
	SCALAR("looking_glass.installer", 0, set_lg_installer, get_lg_installer,
	       "host installer (.exe) put on the guest-tools media; an unattended install runs it"),
	SCALAR("agent", 0, set_agent, get_agent, "virtio-serial channel org.neuronos.agent.0 for the guest agent"),
	SCALAR("guest_tools", 0, set_guest_tools, get_guest_tools,
	       "attach the guest-tools CD-ROM (agent, its credentials, setup) made by vm create"),
	GROUP("unattended", set_unattended, get_unattended, "false", "true",
	      "unattended Windows install: autounattend.xml on the guest-tools media (false, or a mapping)"),
	SCALAR("unattended.user", 0, set_unattended_user, get_unattended_user, "the local administrator, logged on once"),
	SCALAR("unattended.locale", 0, set_unattended_locale, get_unattended_locale, "language and formats: en-US"),
	SCALAR("unattended.timezone", 0, set_unattended_timezone, get_unattended_timezone,
	       "Windows time zone name: UTC, W. Europe Standard Time"),
	SCALAR("unattended.product_key", 0, set_unattended_product_key, get_unattended_product_key,
	       "none, or XXXXX-XXXXX-XXXXX-XXXXX-XXXXX"),
	SCALAR("unattended.edition", 0, set_unattended_edition, get_unattended_edition,
	       "the image on the ISO (default Windows 11 Pro / Windows 10 Pro)"),
	SCALAR("unattended.password_file", 0, set_unattended_password_file, get_unattended_password_file,
	       "a file (0600) whose first line is the password; none: vm create asks"),
	SCALAR("tpm", 0, set_tpm, get_tpm, "TPM 2.0 (swtpm); auto: on for Windows 11"),
	SCALAR("secure_boot", 0, set_secure_boot, get_secure_boot, "OVMF with Secure Boot and enrolled keys"),
	SCALAR("hyperv", 0, set_hyperv, get_hyperv, "Hyper-V enlightenments for Windows"),
	SCALAR("nvidia_workaround", 0, set_nvidia, get_nvidia, "hide KVM and set a vendor_id (Code 43); auto: for NVIDIA GPUs"),
	SCALAR("network", 0, set_network, get_network, "none (default), or a libvirt network name"),
	SCALAR("network_model", 0, set_network_model, get_network_model, "virtio, e1000e or rtl8139"),
	SCALAR("serial_log", 0, set_serial_log, get_serial_log, "write the guest's serial console to this host file"),
	SCALAR("on_reboot", 0, set_on_reboot, get_on_reboot, "restart, or destroy: a guest that reboots stops"),
	GROUP("boot", NULL, NULL, NULL, NULL, "direct kernel boot"),
	SCALAR("boot.kernel", 0, set_boot_kernel, get_boot_kernel, "kernel image on the host"),
	SCALAR("boot.initrd", 0, set_boot_initrd, get_boot_initrd, "initramfs on the host"),
	SCALAR("boot.cmdline", 0, set_boot_cmdline, get_boot_cmdline, "kernel command line"),
};
const size_t nr_profile_n_keys = sizeof(nr_profile_keys) / sizeof(nr_profile_keys[0]);
#define NKEYS nr_profile_n_keys

const struct nr_profile_key_row *nr_profile_key_find(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(nr_profile_keys[i].name, name) == 0)
			return &nr_profile_keys[i];
	return NULL;
}

const char *nr_profile_key(size_t i, const char **help)
{
	if (i >= NKEYS)
		return NULL;
	if (help)
		*help = nr_profile_keys[i].help;
	return nr_profile_keys[i].name;
}

char ***nr_profile_key_items(const struct nr_profile_key_row *k, struct nr_profile *p, size_t **count)
{
	*count = (size_t *)((char *)p + k->count);
	return (char ***)((char *)p + k->items);
}

size_t nr_profile_distance(const char *a, const char *b)
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
		const char *k = nr_profile_keys[i].name;
		if (lp ? strncmp(k, prefix, lp) != 0 || k[lp] != '.' : strchr(k, '.') != NULL)
			continue;
		const char *kl = lp ? k + lp + 1 : k;
		size_t d = nr_profile_distance(leaf, kl), limit = strlen(kl) <= 4 ? 1 : strlen(kl) <= 8 ? 2 : 3;
		if (d <= limit && d < best_d) {
			best_d = d;
			best = kl;
		}
	}
	return best;
}

int nr_profile_unknown_key(struct nr_error *err, const char *prefix, const char *leaf)
{
	const char *s = suggest(prefix, leaf);

	if (s)
		return nr_error_set(err, -NR_E_INVAL, "unknown key '%s%s%s'; did you mean '%s%s%s'?", prefix,
				    prefix[0] ? "." : "", leaf, prefix, prefix[0] ? "." : "", s);
	return nr_error_set(err, -NR_E_INVAL, "unknown key '%s%s%s' (docs/profiles.md lists the keys)", prefix,
			    prefix[0] ? "." : "", leaf);
}

static int split_and_find(const char *key, const struct nr_profile_key_row **out, struct nr_error *err)
{
	const char *dot = strrchr(key, '.');
	char prefix[64];

	*out = nr_profile_key_find(key);
	if (*out)
		return 0;
	if (dot && (size_t)(dot - key) < sizeof(prefix)) {
		memcpy(prefix, key, (size_t)(dot - key));
		prefix[dot - key] = '\0';
		if (!nr_profile_key_find(prefix))
			return nr_profile_unknown_key(err, "", prefix);
		return nr_profile_unknown_key(err, prefix, dot + 1);
	}
	return nr_profile_unknown_key(err, "", key);
}

/* ---- set and get through the table ------------------------------------------------ */

int nr_profile_set_value(struct nr_profile *p, const char *key, const char *value, struct nr_error *err)
{
	const struct nr_profile_key_row *k;
	struct nr_profile *d;
	char *def;
	int rc = split_and_find(key, &k, err);

	if (rc < 0)
		return rc;
	if (!k->set)
		return nr_error_set(err, -NR_E_INVAL, "%s: a group of keys; set one of them (%s.KEY)", key, key);
	if (value)
		return k->set(p, key, value, err);
	/* back to the template's default */
	if (k->kind == KEY_LIST) {
		size_t *n;
		char ***items = nr_profile_key_items(k, p, &n);
		list_clear(items, n);
		return 0;
	}
	if (k->flags & KEY_NO_DEFAULT)
		return nr_error_set(err, -NR_E_INVAL, "%s has no default", key);
	if (k->flags & KEY_DEFAULT_FOLLOWS_NAME)
		return nr_profile_set_str((char **)((char *)p + k->items), NULL, err);
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

int nr_profile_set(struct nr_profile *p, const char *key, const char *value, struct nr_error *err)
{
	int rc = nr_profile_set_value(p, key, value, err);

	/* the file no longer says what the profile holds for this key: errors found later
	 * must not point at its line there */
	if (rc == 0 && p->file && nr_profile_mark(p, key, 0, 0) < 0)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	return rc;
}

char *nr_profile_get(const struct nr_profile *p, const char *key)
{
	const struct nr_profile_key_row *k = nr_profile_key_find(key);

	return k && k->get ? k->get(p) : NULL;
}

bool nr_profile_on(const struct nr_profile *p, const char *group)
{
	const struct nr_profile_key_row *k = nr_profile_key_find(group);
	char *v;
	bool on;

	if (!k || !k->off || !k->get || !(v = k->get(p)))
		return true;
	on = strcmp(v, k->off) != 0;
	free(v);
	return on;
}
