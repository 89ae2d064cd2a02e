/* A VM's Looking Glass shared memory: where its domain XML puts it, and whether the
 * current user may open it. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "base/internal.h"
#include "neuron/lg.h"
#include "neuron/virt.h"

/* "32", "32M", "33554432" (bytes) -> MiB; unit is the libvirt unit attribute or NULL. */
static unsigned to_mib(const char *num, const char *unit)
{
	char *end;
	unsigned long long v = strtoull(num, &end, 10);
	unsigned long long mul = 1;
	const char *u = unit && *unit ? unit : *end ? end : "b";

	if (end == num)
		return 0;
	if (strcasecmp(u, "b") == 0 || strcasecmp(u, "bytes") == 0)
		mul = 1;
	else if (strcasecmp(u, "k") == 0 || strcasecmp(u, "kib") == 0)
		mul = 1ull << 10;
	else if (strcasecmp(u, "m") == 0 || strcasecmp(u, "mib") == 0)
		mul = 1ull << 20;
	else if (strcasecmp(u, "g") == 0 || strcasecmp(u, "gib") == 0)
		mul = 1ull << 30;
	else if (strcasecmp(u, "kb") == 0)
		mul = 1000;
	else if (strcasecmp(u, "mb") == 0)
		mul = 1000 * 1000;
	else if (strcasecmp(u, "gb") == 0)
		mul = 1000ull * 1000 * 1000;
	else
		return 0;
	return (unsigned)(v * mul / (1ull << 20));
}

/* A memory-backend-file object argument, QEMU's key=value form or its JSON form. */
static bool backend_arg(const char *arg, char **path, unsigned *size_mib)
{
	if (!strstr(arg, "memory-backend-file"))
		return false;
	if (arg[0] == '{') {
		json_object *o = json_tokener_parse(arg), *v;
		bool ok = false;

		if (!o)
			return false;
		if (json_object_object_get_ex(o, "mem-path", &v) && json_object_is_type(v, json_type_string)) {
			*path = strdup(json_object_get_string(v));
			ok = *path != NULL;
			if (json_object_object_get_ex(o, "size", &v)) {
				if (json_object_is_type(v, json_type_string))
					*size_mib = to_mib(json_object_get_string(v), NULL);
				else
					*size_mib = (unsigned)(json_object_get_int64(v) >> 20);
			}
		}
		json_object_put(o);
		return ok;
	}
	char *copy = strdup(arg), *save = NULL;
	bool ok = false;

	if (!copy)
		return false;
	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		if (strncmp(kv, "mem-path=", 9) == 0) {
			free(*path);
			*path = strdup(kv + 9);
			ok = *path != NULL;
		} else if (strncmp(kv, "size=", 5) == 0) {
			*size_mib = to_mib(kv + 5, NULL);
		}
	}
	free(copy);
	return ok;
}

static char *xpath_string(xmlXPathContextPtr xc, const char *expr)
{
	xmlXPathObjectPtr r = xmlXPathEvalExpression((const xmlChar *)expr, xc);
	char *s = NULL;

	if (r && r->type == XPATH_NODESET && r->nodesetval && r->nodesetval->nodeNr > 0) {
		xmlChar *c = xmlNodeGetContent(r->nodesetval->nodeTab[0]);
		if (c) {
			s = strdup((const char *)c);
			xmlFree(c);
		}
	}
	xmlXPathFreeObject(r);
	return s;
}

int nr_lg_shm_from_xml(const char *xml, char **path, unsigned *size_mib, struct nr_error *err)
{
	xmlDocPtr doc;
	xmlXPathContextPtr xc = NULL;
	xmlXPathObjectPtr args = NULL;
	char *name = NULL, *size = NULL, *unit = NULL;
	int rc = 0;

	*path = NULL;
	*size_mib = 0;
	doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		return nr_error_set(err, -NR_E_PARSE, "cannot parse the domain XML");
	xc = xmlXPathNewContext(doc);
	if (!xc) {
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto cleanup;
	}
	/* An ivshmem device: QEMU backs it with /dev/shm/NAME. */
	name = xpath_string(xc, "/domain/devices/shmem[@name='looking-glass']/@name");
	if (!name)
		name = xpath_string(xc, "/domain/devices/shmem[contains(@name,'looking-glass')]/@name");
	if (name) {
		char q[512];

		if (strchr(name, '/') || strcmp(name, "..") == 0 || strcmp(name, ".") == 0) {
			rc = nr_error_set(err, -NR_E_PARSE, "the shmem device name '%s' is not a file name",
					  name);
			goto cleanup;
		}
		*path = nr_path_join("/dev/shm", name);
		if (!*path) {
			rc = nr_error_set(err, -NR_E_NOMEM, NULL);
			goto cleanup;
		}
		snprintf(q, sizeof(q), "/domain/devices/shmem[@name='%s']/size", name);
		size = xpath_string(xc, q);
		snprintf(q, sizeof(q), "/domain/devices/shmem[@name='%s']/size/@unit", name);
		unit = xpath_string(xc, q);
		if (size)
			*size_mib = to_mib(size, unit ? unit : "M");
		goto cleanup;
	}
	/* kvmfr: <qemu:commandline> with a memory-backend-file whose mem-path is the device. */
	args = xmlXPathEvalExpression((const xmlChar *)"/domain/*[local-name()='commandline']"
				      "/*[local-name()='arg']/@value", xc);
	if (args && args->nodesetval) {
		for (int i = 0; i < args->nodesetval->nodeNr && !*path; i++) {
			xmlChar *v = xmlNodeGetContent(args->nodesetval->nodeTab[i]);
			if (v) {
				backend_arg((const char *)v, path, size_mib);
				xmlFree(v);
			}
		}
	}
	if (!*path)
		rc = nr_error_set(err, -NR_E_NOTFOUND,
				  "the VM has no Looking Glass shared memory (no <shmem name='looking-glass'> "
				  "device and no memory-backend-file in <qemu:commandline>)");
cleanup:
	xmlXPathFreeObject(args);
	xmlXPathFreeContext(xc);
	xmlFreeDoc(doc);
	free(name);
	free(size);
	free(unit);
	if (rc < 0) {
		free(*path);
		*path = NULL;
	}
	return rc;
}

int nr_lg_vm_shm(struct nr_virt *virt, const char *vm, char **path, unsigned *size_mib,
		 struct nr_error *err)
{
	char *xml;
	int rc;

	*path = NULL;
	rc = nr_virt_domain_xml(virt, vm, &xml, err);
	if (rc < 0)
		return rc;
	rc = nr_lg_shm_from_xml(xml, path, size_mib, err);
	free(xml);
	if (rc < 0)
		nr_error_prefix(err, "VM '%s': ", vm);
	return rc;
}

static const char *group_name(gid_t gid, char *buf, size_t size)
{
	struct group *g = getgrgid(gid);

	if (g)
		snprintf(buf, size, "%s", g->gr_name);
	else
		snprintf(buf, size, "%u", (unsigned)gid);
	return buf;
}

int nr_lg_shm_access_as(const char *path, unsigned uid, const unsigned *gids, size_t n_gids,
			struct nr_error *err)
{
	struct stat st;
	char grp[64];
	bool in_group = false;
	unsigned need = 06;

	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return nr_error_set(err, -NR_E_NOTFOUND,
					    "%s does not exist: start the VM first (QEMU creates it), or "
					    "run 'neuronctl lg setup apply' to create it ahead", path);
		return nr_error_set(err, errno == EACCES ? -NR_E_PERM : -NR_E_IO, "cannot stat %s: %s",
				    path, strerror(errno));
	}
	if (uid == 0)
		return 0;
	for (size_t i = 0; i < n_gids; i++)
		if (gids[i] == st.st_gid)
			in_group = true;
	if (st.st_uid == uid) {
		if (((st.st_mode >> 6) & need) == need)
			return 0;
		return nr_error_set(err, -NR_E_PERM,
				    "%s is yours but not readable and writable by you (mode %04o): "
				    "chmod 0660 %s", path, (unsigned)(st.st_mode & 07777), path);
	}
	if (in_group) {
		if (((st.st_mode >> 3) & need) == need)
			return 0;
		return nr_error_set(err, -NR_E_PERM,
				    "%s has mode %04o, so its group '%s' cannot read and write it: "
				    "make it 0660 (neuronctl lg setup apply does)", path,
				    (unsigned)(st.st_mode & 07777), group_name(st.st_gid, grp, sizeof(grp)));
	}
	if ((st.st_mode & need) == need)
		return 0;
	group_name(st.st_gid, grp, sizeof(grp));
	if (((st.st_mode >> 3) & need) == need)
		return nr_error_set(err, -NR_E_PERM,
				    "cannot read and write %s: join its group '%s' "
				    "(sudo usermod -aG %s $USER), then log out and in again", path, grp, grp);
	return nr_error_set(err, -NR_E_PERM,
			    "cannot read and write %s (mode %04o, group '%s'): make it 0660 with a group "
			    "you are in (neuronctl lg setup apply)", path, (unsigned)(st.st_mode & 07777), grp);
}

int nr_lg_shm_check_access(const char *path, struct nr_error *err)
{
	gid_t groups[256];
	unsigned gids[257];
	int n = getgroups(256, groups);
	size_t k = 0;

	gids[k++] = (unsigned)getegid();
	for (int i = 0; i < n; i++)
		gids[k++] = (unsigned)groups[i];
	return nr_lg_shm_access_as(path, (unsigned)geteuid(), gids, k, err);
}
