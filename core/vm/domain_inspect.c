/* nr_domain_inspect(): the one reader of a libvirt domain's XML. Every fact the program takes
 * from a domain (its PCI and USB devices, disks, TPM, the Looking Glass memory and the agent
 * channel) is read here, so that `lg status`, `agent`, `vm list` and the TUI's panels cannot
 * disagree about a VM. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "base/internal.h"
#include "vm/domain_internal.h"
#include "neuron/domain.h"

#define X(s) ((const xmlChar *)(s))

static const char *const lg_names[] = {
#define NR_DOMAIN_LG_NAME(id, name) name,
	NR_DOMAIN_LG_BACKENDS(NR_DOMAIN_LG_NAME)
#undef NR_DOMAIN_LG_NAME
};

const char *nr_domain_lg_name(enum nr_domain_lg lg)
{
	return (size_t)lg < sizeof(lg_names) / sizeof(lg_names[0]) ? lg_names[lg] : "?";
}

/* ---- libxml2 helpers (the builder in domain.c uses them too) ---------------------------- */

xmlNodePtr nr_xml_child(xmlNodePtr parent, const char *name)
{
	for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && xmlStrcmp(c->name, X(name)) == 0)
			return c;
	return NULL;
}

char *nr_xml_prop(xmlNodePtr n, const char *name)
{
	xmlChar *v = n ? xmlGetProp(n, X(name)) : NULL;
	char *s = v ? strdup((const char *)v) : NULL;

	xmlFree(v);
	return s;
}

/* An element's text (malloc'd; NULL without n), trimmed of the white space around it. */
static char *text(xmlNodePtr n, bool trim)
{
	xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
	const char *s = t ? (const char *)t : "";
	size_t len;
	char *out;

	while (trim && isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (trim && len && isspace((unsigned char)s[len - 1]))
		len--;
	out = t ? strndup(s, len) : NULL;
	xmlFree(t);
	return out;
}

static unsigned long hexattr(xmlNodePtr n, const char *name)
{
	char *v = nr_xml_prop(n, name);
	unsigned long x = v ? strtoul(v, NULL, 0) : 0;

	free(v);
	return x;
}

/* ---- sizes ------------------------------------------------------------------------------- */

/* A size in bytes. libvirt's scaled integers (<size unit='M'>32</size>): the unit b, byte(s),
 * k/KiB, KB (1000), M/MiB, MB ... E/EiB, case aside; bytes when there is none. QEMU's sizes
 * (size=64M): a number, perhaps with a fraction, and one suffix B, K, M, G, T, P or E (powers
 * of 1024); bytes when there is none. False when num is neither. */
static bool size_bytes(const char *num, const char *unit, bool qemu, unsigned long long *bytes)
{
	static const char powers[] = "kmgtpe";
	unsigned long long whole, scale = 1, frac_num = 0, frac_den = 1;
	const char *u, *p;
	char *end;

	if (!num || !isdigit((unsigned char)num[0]))
		return false;
	errno = 0;
	whole = strtoull(num, &end, 10);
	if (errno)
		return false;
	if (qemu && *end == '.') {
		for (end++; isdigit((unsigned char)*end); end++)
			if (frac_den < 1000000000ull) {
				frac_num = frac_num * 10 + (unsigned long long)(*end - '0');
				frac_den *= 10;
			}
	}
	if (unit && *end)
		return false;
	u = unit ? unit : end;
	if (!*u || !strcasecmp(u, "b") || (!qemu && (!strcasecmp(u, "byte") || !strcasecmp(u, "bytes")))) {
		if (frac_num)
			return false;
	} else {
		unsigned long long base = 1024;
		if (!(p = strchr(powers, tolower((unsigned char)u[0]))))
			return false;
		if (u[1]) {
			if (qemu)
				return false;
			if (!strcasecmp(u + 1, "ib"))
				base = 1024;
			else if (tolower((unsigned char)u[1]) == 'b' && !u[2])
				base = 1000;
			else
				return false;
		}
		for (const char *q = powers; q <= p; q++)
			scale *= base;
	}
	if (whole > ~0ull / scale)
		return false;
	*bytes = whole * scale + frac_num * scale / frac_den;
	return true;
}

static unsigned to_mib(unsigned long long bytes)
{
	return bytes >> 20 > ~0u ? 0 : (unsigned)(bytes >> 20);
}

/* ---- Looking Glass memory ---------------------------------------------------------------- */

/* How surely the memory at path (a /dev/shm file or a device) is Looking Glass's: 2 for
 * looking-glass itself or a kvmfr device, 1 for a name that holds looking-glass, 0 not. */
static int lg_rank(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (!strncmp(path, "/dev/kvmfr", 10) || !strcmp(base, NR_LG_SHM_NAME))
		return 2;
	return strstr(base, NR_LG_SHM_NAME) ? 1 : 0;
}

/* One IVSHMEM memory of the domain: the first of the surest kind is Looking Glass's (*best is
 * the rank of the one taken so far); the first that is not named for it stays as a hint.
 * Takes path. */
static void lg_offer(struct nr_domain_info *info, int *best, enum nr_domain_lg backend,
		     char *path, bool have_size, unsigned long long bytes)
{
	int rank;

	if (!path)
		return;
	rank = lg_rank(path);
	if (rank == 0) {
		if (!info->ivshmem_other)
			info->ivshmem_other = path;
		else
			free(path);
		return;
	}
	if (rank <= *best) {
		free(path);
		return;
	}
	*best = rank;
	free(info->lg_path);
	info->lg_path = path;
	info->lg = backend;
	info->lg_size_mib = have_size ? to_mib(bytes) : 0;
}

/* <shmem name='NAME'>: QEMU backs it with /dev/shm/NAME (ivshmem-plain, or the old ivshmem
 * that libvirt assumes without <model>) unless it talks to an ivshmem server (<server>,
 * ivshmem-doorbell): that memory has no file to open. Without <size>, libvirt gives it 4 MiB
 * (qemuDomainShmemDefPostParse). */
static void read_shmem(xmlNodePtr c, struct nr_domain_info *info, int *best)
{
	char *name = nr_xml_prop(c, "name"), *model = nr_xml_prop(nr_xml_child(c, "model"), "type");
	xmlNodePtr sz = nr_xml_child(c, "size");
	unsigned long long bytes = 4ull << 20;
	bool have_size = true;

	if (name && name[0] && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..") &&
	    !nr_xml_child(c, "server") && (!model || strcmp(model, "ivshmem-doorbell"))) {
		if (sz) {
			char *num = text(sz, true), *unit = nr_xml_prop(sz, "unit");
			have_size = size_bytes(num, unit, false, &bytes);
			free(num);
			free(unit);
		}
		lg_offer(info, best, NR_DOMAIN_LG_SHMEM, nr_path_join("/dev/shm", name), have_size, bytes);
	}
	free(name);
	free(model);
}

/* One -device or -object argument of QEMU: the JSON form ({"driver":"ivshmem-plain",...}) or
 * the key=value one (ivshmem-plain,memdev=x: the first item without '=' is the value of
 * implied, ",," is a comma). The value of key, malloc'd; a JSON number as its digits. */
static char *arg_get(const char *arg, const char *implied, const char *key)
{
	char *out = NULL;

	if (arg[0] == '{') {
		json_object *o = json_tokener_parse(arg), *v;
		if (o && json_object_object_get_ex(o, key, &v)) {
			char num[32];
			if (json_object_is_type(v, json_type_string))
				out = strdup(json_object_get_string(v));
			else if (json_object_is_type(v, json_type_int)) {
				snprintf(num, sizeof(num), "%llu", (unsigned long long)json_object_get_uint64(v));
				out = strdup(num);
			}
		}
		json_object_put(o);
		return out;
	}
	size_t klen = strlen(key);
	bool first = true;
	for (const char *p = arg; *p; first = false) {
		char *item = malloc(strlen(p) + 1), *eq;
		size_t n = 0;
		if (!item)
			return NULL;
		for (; *p; p++) {
			if (*p == ',' && p[1] == ',')
				p++;
			else if (*p == ',')
				break;
			item[n++] = *p;
		}
		item[n] = '\0';
		if (*p == ',')
			p++;
		eq = strchr(item, '=');
		if (!out && eq && (size_t)(eq - item) == klen && !strncmp(item, key, klen))
			out = strdup(eq + 1);
		else if (!out && !eq && first && implied && !strcmp(key, implied))
			out = strdup(item);
		free(item);
	}
	return out;
}

/* The memory-backend-file -object whose id is id: its mem-path (malloc'd; NULL when there is
 * none) and its size. */
static char *backend_file(char *const *objects, size_t n, const char *id, bool *have_size,
			  unsigned long long *bytes)
{
	char *path = NULL;

	for (size_t o = 0; o < n && !path; o++) {
		char *type = arg_get(objects[o], "qom-type", "qom-type"), *oid = arg_get(objects[o], NULL, "id");
		if (type && oid && !strcmp(type, "memory-backend-file") && !strcmp(oid, id)) {
			char *size = arg_get(objects[o], NULL, "size");
			*have_size = size_bytes(size, NULL, true, bytes);
			path = arg_get(objects[o], NULL, "mem-path");
			if (path && !path[0]) {
				free(path);
				path = NULL;
			}
			free(size);
		}
		free(type);
		free(oid);
	}
	return path;
}

/* <qemu:commandline>: an ivshmem-plain -device whose memdev is a memory-backend-file -object
 * (as the Looking Glass documentation gives kvmfr to libvirt); the object's mem-path is the
 * memory, its size as QEMU reads it. Other memory-backend-files (guest RAM on hugepages) are no
 * IVSHMEM memory. A JSON size given as a string ("64M", which QEMU itself refuses in JSON) is
 * read as QEMU reads the key=value form. */
static void read_qemu_args(xmlNodePtr root, struct nr_domain_info *info, int *best)
{
	for (xmlNodePtr c = root->children; c; c = c->next) {
		char **devices = NULL, **objects = NULL;
		size_t n_devices = 0, n_objects = 0;
		enum { ARG, DEVICE, OBJECT } next = ARG;

		if (c->type != XML_ELEMENT_NODE || xmlStrcmp(c->name, X("commandline")) != 0)
			continue;
		for (xmlNodePtr a = c->children; a; a = a->next) {
			char *v = a->type == XML_ELEMENT_NODE && !xmlStrcmp(a->name, X("arg")) ?
				  nr_xml_prop(a, "value") : NULL;
			if (!v)
				continue;
			if (next == DEVICE)
				nr_strv_take(&devices, &n_devices, v);
			else if (next == OBJECT)
				nr_strv_take(&objects, &n_objects, v);
			if (next != ARG) {
				next = ARG;
				continue;
			}
			if (!strcmp(v, "-device") || !strcmp(v, "--device"))
				next = DEVICE;
			else if (!strcmp(v, "-object") || !strcmp(v, "--object"))
				next = OBJECT;
			free(v);
		}
		for (size_t d = 0; d < n_devices; d++) {
			char *driver = arg_get(devices[d], "driver", "driver"), *memdev = NULL, *path = NULL;
			unsigned long long bytes = 0;
			bool have_size = false;

			if (driver && !strcmp(driver, "ivshmem-plain") && (memdev = arg_get(devices[d], NULL, "memdev")))
				path = backend_file(objects, n_objects, memdev, &have_size, &bytes);
			lg_offer(info, best, path && !strncmp(path, "/dev/kvmfr", 10) ? NR_DOMAIN_LG_KVMFR : NR_DOMAIN_LG_FILE,
				 path, have_size, bytes);
			free(driver);
			free(memdev);
		}
		nr_strv_free(devices, n_devices);
		nr_strv_free(objects, n_objects);
	}
}

/* ---- the domain --------------------------------------------------------------------------- */

static int read_hostdev(xmlNodePtr c, struct nr_domain_info *info)
{
	xmlNodePtr src = nr_xml_child(c, "source");
	char *type = nr_xml_prop(c, "type"), *s = NULL;
	int rc = 0;

	if (type && !strcmp(type, "pci") && nr_xml_child(src, "address")) {
		xmlNodePtr a = nr_xml_child(src, "address");
		if (asprintf(&s, "%04lx:%02lx:%02lx.%lx", hexattr(a, "domain"), hexattr(a, "bus"),
			     hexattr(a, "slot"), hexattr(a, "function")) < 0)
			s = NULL;
		rc = nr_strv_take(&info->pci, &info->n_pci, s);
	} else if (type && !strcmp(type, "usb") && nr_xml_child(src, "vendor") && nr_xml_child(src, "product")) {
		if (asprintf(&s, "%04lx:%04lx", hexattr(nr_xml_child(src, "vendor"), "id"),
			     hexattr(nr_xml_child(src, "product"), "id")) < 0)
			s = NULL;
		rc = nr_strv_take(&info->usb, &info->n_usb, s);
	}
	free(type);
	return rc;
}

/* The first <channel> whose target is the agent's port: its type and host path. */
static void read_channel(xmlNodePtr c, struct nr_domain_info *info)
{
	char *name = nr_xml_prop(nr_xml_child(c, "target"), "name");

	if (name && !strcmp(name, NR_AGENT_CHANNEL) && !info->agent) {
		info->agent = true;
		info->agent_type = nr_xml_prop(c, "type");
		info->agent_socket = nr_xml_prop(nr_xml_child(c, "source"), "path");
		if (info->agent_socket && !info->agent_socket[0]) {
			free(info->agent_socket);
			info->agent_socket = NULL;
		}
	}
	free(name);
}

static int read_disk(xmlNodePtr c, struct nr_domain_info *info)
{
	char *device = nr_xml_prop(c, "device"), *file = nr_xml_prop(nr_xml_child(c, "source"), "file");
	int rc = 0;

	if (device && !strcmp(device, "disk") && file) {
		rc = nr_strv_take(&info->disks, &info->n_disks, file);
		file = NULL;
	}
	free(file);
	free(device);
	return rc;
}

/* A virtio-fs <filesystem>: its tag (target dir) and host directory (source dir). */
static int read_filesystem(xmlNodePtr c, struct nr_domain_info *info)
{
	char *driver = nr_xml_prop(nr_xml_child(c, "driver"), "type");
	char *tag = nr_xml_prop(nr_xml_child(c, "target"), "dir"), *dir = nr_xml_prop(nr_xml_child(c, "source"), "dir");
	int rc = 0;

	if (driver && !strcmp(driver, "virtiofs") && tag && tag[0] && dir && dir[0]) {
		size_t n = info->n_shares;
		rc = nr_strv_take(&info->share_tags, &info->n_shares, tag);
		tag = NULL;
		if (rc == 0) {
			rc = nr_strv_take(&info->share_dirs, &n, dir);
			dir = NULL;
		}
		if (rc < 0 && n < info->n_shares) { /* both lists keep the same length */
			free(info->share_tags[n]);
			info->share_tags[n] = NULL;
			info->n_shares = n;
		}
	}
	free(driver);
	free(tag);
	free(dir);
	return rc;
}

int nr_domain_inspect(const char *xml, struct nr_domain_info **out, struct nr_error *err)
{
	int best = 0;
	struct nr_domain_info *info;
	xmlNodePtr root;
	xmlDocPtr doc;
	int rc = 0;

	*out = NULL;
	doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		return nr_error_set(err, -NR_E_PARSE, "the domain XML is not well-formed");
	root = xmlDocGetRootElement(doc);
	if (!root || xmlStrcmp(root->name, X("domain")) != 0) {
		xmlFreeDoc(doc);
		return nr_error_set(err, -NR_E_PARSE, "not a libvirt domain (the root element is not <domain>)");
	}
	info = calloc(1, sizeof(*info));
	if (!info) {
		xmlFreeDoc(doc);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	info->type = nr_xml_prop(root, "type");
	info->name = text(nr_xml_child(root, "name"), false);
	for (xmlNodePtr m = nr_xml_child(root, "metadata") ? nr_xml_child(root, "metadata")->children : NULL; m;
	     m = m->next) {
		if (m->type != XML_ELEMENT_NODE || !m->ns || xmlStrcmp(m->ns->href, X(NR_DOMAIN_NS)) ||
		    xmlStrcmp(m->name, X("vm")))
			continue;
		for (xmlNodePtr g = m->children; g; g = g->next) {
			if (g->type != XML_ELEMENT_NODE || xmlStrcmp(g->name, X("gpu_mode")))
				continue;
			char *mode = text(g, true);
			info->gpu_mode = !mode ? NR_GPU_MODE_AUTO : !strcmp(mode, "single") ? NR_GPU_MODE_SINGLE :
					 !strcmp(mode, "dedicated") ? NR_GPU_MODE_DEDICATED : NR_GPU_MODE_AUTO;
			free(mode);
		}
	}
	for (xmlNodePtr c = nr_xml_child(root, "devices") ? nr_xml_child(root, "devices")->children : NULL;
	     c && rc == 0; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (!xmlStrcmp(c->name, X("hostdev")))
			rc = read_hostdev(c, info);
		else if (!xmlStrcmp(c->name, X("shmem")))
			read_shmem(c, info, &best);
		else if (!xmlStrcmp(c->name, X("channel")))
			read_channel(c, info);
		else if (!xmlStrcmp(c->name, X("tpm")))
			info->tpm = true;
		else if (!xmlStrcmp(c->name, X("graphics"))) {
			xmlChar *type = xmlGetProp(c, X("type"));
			if (type && !xmlStrcmp(type, X("spice")))
				info->spice = true;
			xmlFree(type);
		}
		else if (!xmlStrcmp(c->name, X("disk")))
			rc = read_disk(c, info);
		else if (!xmlStrcmp(c->name, X("filesystem")))
			rc = read_filesystem(c, info);
	}
	if (rc == 0)
		read_qemu_args(root, info, &best);
	xmlFreeDoc(doc);
	if (rc < 0) {
		nr_domain_info_free(info);
		return nr_error_set(err, rc, NULL);
	}
	*out = info;
	return 0;
}

void nr_domain_info_free(struct nr_domain_info *info)
{
	if (!info)
		return;
	free(info->name);
	free(info->type);
	nr_strv_free(info->pci, info->n_pci);
	nr_strv_free(info->usb, info->n_usb);
	nr_strv_free(info->disks, info->n_disks);
	nr_strv_free(info->share_tags, info->n_shares);
	nr_strv_free(info->share_dirs, info->n_shares);
	free(info->lg_path);
	free(info->ivshmem_other);
	free(info->agent_type);
	free(info->agent_socket);
	free(info);
}
