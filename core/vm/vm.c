/* VMs through libvirt: define (with the disk), list, start, stop, destroy, delete.
 * Each call checks the state it needs first, so users read "VM win11 is not running"
 * rather than libvirt's "Requested operation is not valid: domain is not running". */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "base/internal.h"
#include "vm/virt_internal.h"
#include "neuron/vm.h"

extern char **environ;

const char *nr_vm_state_name(enum nr_vm_state s)
{
	switch (s) {
	case NR_VM_OFF: return "shut off";
	case NR_VM_RUNNING: return "running";
	case NR_VM_PAUSED: return "paused";
	case NR_VM_STOPPING: return "stopping";
	case NR_VM_CRASHED: return "crashed";
	case NR_VM_SUSPENDED: return "suspended";
	default: return "unknown";
	}
}

static enum nr_vm_state map_state(int st)
{
	switch (st) {
	case VIR_DOMAIN_RUNNING:
	case VIR_DOMAIN_BLOCKED: return NR_VM_RUNNING;
	case VIR_DOMAIN_PAUSED: return NR_VM_PAUSED;
	case VIR_DOMAIN_SHUTDOWN: return NR_VM_STOPPING;
	case VIR_DOMAIN_SHUTOFF: return NR_VM_OFF;
	case VIR_DOMAIN_CRASHED: return NR_VM_CRASHED;
	case VIR_DOMAIN_PMSUSPENDED: return NR_VM_SUSPENDED;
	default: return NR_VM_UNKNOWN;
	}
}

static int lookup(struct nr_virt *virt, const char *name, virDomainPtr *dom, struct nr_error *err)
{
	*dom = virDomainLookupByName(virt->conn, name);
	if (!*dom) {
		virErrorPtr e = virGetLastError();
		if (e && e->code != VIR_ERR_NO_DOMAIN)
			return nr_virt_error(err, -NR_E_VIRT, "cannot look up the VM");
		return nr_error_set(err, -NR_E_NOVM, "no VM named '%s' on %s (see 'neuronctl vm list')", name,
				    virt->uri);
	}
	return 0;
}

static enum nr_vm_state dom_state(virDomainPtr dom)
{
	int st, reason;

	if (virDomainGetState(dom, &st, &reason, 0) < 0)
		return NR_VM_UNKNOWN;
	return map_state(st);
}

static bool active(virDomainPtr dom)
{
	return virDomainIsActive(dom) == 1;
}

static int fill_vm(virDomainPtr dom, struct nr_vm *vm, struct nr_error *err)
{
	const char *name = virDomainGetName(dom);
	char *xml;
	int rc;

	vm->name = strdup(name ? name : "");
	if (!vm->name)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	vm->state = dom_state(dom);
	vm->persistent = virDomainIsPersistent(dom) == 1;
	xml = virDomainGetXMLDesc(dom, 0);
	if (!xml)
		return nr_virt_error(err, -NR_E_VIRT, "cannot read the domain XML");
	rc = nr_domain_inspect(xml, &vm->info, err);
	free(xml);
	return rc;
}

static void vm_done(struct nr_vm *vm)
{
	free(vm->name);
	nr_domain_info_free(vm->info);
}

static int cmp_vm(const void *a, const void *b)
{
	return strcmp(((const struct nr_vm *)a)->name, ((const struct nr_vm *)b)->name);
}

int nr_vm_list(struct nr_virt *virt, struct nr_vm_list **out, struct nr_error *err)
{
	virDomainPtr *doms = NULL;
	struct nr_vm_list *l;
	int n, rc = 0;

	*out = NULL;
	n = virConnectListAllDomains(virt->conn, &doms, 0);
	if (n < 0)
		return nr_virt_error(err, -NR_E_VIRT, "cannot list the VMs");
	l = calloc(1, sizeof(*l));
	if (!l || !(l->vms = calloc((size_t)n + 1, sizeof(*l->vms))))
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
	for (int i = 0; i < n; i++) {
		if (rc == 0) {
			rc = fill_vm(doms[i], &l->vms[l->n], err);
			l->n++;
		}
		virDomainFree(doms[i]);
	}
	free(doms);
	if (rc < 0) {
		nr_vm_list_free(l);
		return rc;
	}
	qsort(l->vms, l->n, sizeof(*l->vms), cmp_vm);
	*out = l;
	return 0;
}

void nr_vm_list_free(struct nr_vm_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->n; i++)
		vm_done(&list->vms[i]);
	free(list->vms);
	free(list);
}

int nr_vm_get(struct nr_virt *virt, const char *name, struct nr_vm **out, struct nr_error *err)
{
	virDomainPtr dom;
	struct nr_vm *vm;
	int rc;

	*out = NULL;
	rc = lookup(virt, name, &dom, err);
	if (rc < 0)
		return rc;
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		virDomainFree(dom);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	rc = fill_vm(dom, vm, err);
	virDomainFree(dom);
	if (rc < 0) {
		nr_vm_free(vm);
		return rc;
	}
	*out = vm;
	return 0;
}

void nr_vm_free(struct nr_vm *vm)
{
	if (!vm)
		return;
	vm_done(vm);
	free(vm);
}

/* ---- disks -------------------------------------------------------------------------- */

/* The active pool whose target folder is dir, or NULL. */
static virStoragePoolPtr pool_for_dir(struct nr_virt *virt, const char *dir)
{
	virStoragePoolPtr *pools = NULL, found = NULL;
	int n = virConnectListAllStoragePools(virt->conn, &pools, VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE);

	for (int i = 0; i < n; i++) {
		char *xml = found ? NULL : virStoragePoolGetXMLDesc(pools[i], 0);
		if (xml) {
			xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "pool.xml", NULL,
						      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
			xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
			for (xmlNodePtr t = root ? root->children : NULL; t; t = t->next) {
				if (t->type != XML_ELEMENT_NODE || xmlStrcmp(t->name, (const xmlChar *)"target"))
					continue;
				for (xmlNodePtr p = t->children; p; p = p->next) {
					if (p->type != XML_ELEMENT_NODE || xmlStrcmp(p->name, (const xmlChar *)"path"))
						continue;
					xmlChar *path = xmlNodeGetContent(p);
					if (path && strcmp((const char *)path, dir) == 0) {
						found = pools[i];
						pools[i] = NULL;
					}
					xmlFree(path);
				}
			}
			xmlFreeDoc(doc);
			free(xml);
		}
		if (pools[i])
			virStoragePoolFree(pools[i]);
	}
	free(pools);
	return found;
}

static int run_qemu_img(const char *path, uint64_t size, const char *format, struct nr_error *err)
{
	char size_arg[32], log[] = "/tmp/neuron-qemu-img-XXXXXX";
	char *argv[] = { "qemu-img", "create", "-q", "-f", (char *)format, (char *)path, size_arg, NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status, fd, rc;

	snprintf(size_arg, sizeof(size_arg), "%llu", (unsigned long long)size);
	fd = mkstemp(log);
	if (fd < 0)
		return nr_error_set(err, -NR_E_IO, "cannot make a temporary file: %s", strerror(errno));
	unlink(log);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, 1);
	posix_spawn_file_actions_adddup2(&fa, fd, 2);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	rc = posix_spawnp(&pid, "qemu-img", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		close(fd);
		return nr_error_set(err, -NR_E_UNSUPPORTED,
				    "cannot create %s: no storage pool holds its folder and qemu-img is not "
				    "installed (install qemu-utils, or define a pool: virsh pool-define-as)", path);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char msg[512] = "";
		ssize_t n = pread(fd, msg, sizeof(msg) - 1, 0);
		msg[n > 0 ? n : 0] = '\0';
		msg[strcspn(msg, "\n")] = '\0';
		close(fd);
		return nr_error_set(err, -NR_E_IO, "qemu-img could not create %s: %s", path,
				    msg[0] ? msg : "it failed");
	}
	close(fd);
	return 0;
}

int nr_vm_disk_create(struct nr_virt *virt, const char *path, uint64_t size, const char *format,
		      struct nr_vm_created *out, struct nr_error *err)
{
	char *dcopy = strdup(path), *bcopy = strdup(path);
	const char *dir, *base;
	virStoragePoolPtr pool;
	struct stat st;
	int rc = 0;

	if (!dcopy || !bcopy) {
		free(dcopy);
		free(bcopy);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	dir = dirname(dcopy);
	base = basename(bcopy);
	pool = pool_for_dir(virt, dir);
	if (pool) {
		virStorageVolPtr vol = virStorageVolLookupByName(pool, base);
		if (vol) {
			out->disk = NR_VM_DISK_EXISTS;
			virStorageVolFree(vol);
		} else {
			char *xml = NULL;
			const char *pname = virStoragePoolGetName(pool);
			if (asprintf(&xml, "<volume><name>%s</name><capacity unit='bytes'>%llu</capacity>"
				     "<target><format type='%s'/></target></volume>", "NAME",
				     (unsigned long long)size, format) < 0) {
				rc = nr_error_set(err, -NR_E_NOMEM, NULL);
			} else {
				/* the name goes in through libxml2 so that it stays data */
				xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "vol.xml", NULL, XML_PARSE_NONET);
				xmlNodePtr name = doc ? xmlDocGetRootElement(doc)->children : NULL;
				xmlChar *text = NULL;
				int len = 0;
				if (name) {
					xmlNodeSetContent(name, NULL);
					xmlAddChild(name, xmlNewText((const xmlChar *)base));
					xmlDocDumpMemory(doc, &text, &len);
				}
				vol = text ? virStorageVolCreateXML(pool, (const char *)text, 0) : NULL;
				if (!vol) {
					rc = text ? nr_virt_error(err, -NR_E_VIRT, "cannot create the disk volume")
						  : nr_error_set(err, -NR_E_NOMEM, NULL);
					if (text)
						nr_error_prefix(err, "%s: ", path);
				} else {
					out->disk = NR_VM_DISK_POOL;
					snprintf(out->pool, sizeof(out->pool), "%s", pname ? pname : "");
					virStorageVolFree(vol);
				}
				xmlFree(text);
				xmlFreeDoc(doc);
			}
			free(xml);
		}
		virStoragePoolFree(pool);
		goto out;
	}
	if (stat(path, &st) == 0) {
		out->disk = NR_VM_DISK_EXISTS;
		goto out;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		rc = nr_error_set(err, -NR_E_NOTFOUND, "cannot create %s: the folder %s does not exist", path, dir);
		goto out;
	}
	if (!size) {
		rc = nr_error_set(err, -NR_E_INVAL, "%s does not exist and disk.size is not given", path);
		goto out;
	}
	rc = run_qemu_img(path, size, format, err);
	if (rc == 0) {
		out->disk = NR_VM_DISK_QEMU_IMG;
	} else if (rc == -NR_E_UNSUPPORTED && strcmp(format, "raw") == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
			rc = nr_error_set(err, -NR_E_IO, "cannot create %s: %s", path, strerror(errno));
			if (fd >= 0) {
				close(fd);
				unlink(path);
			}
		} else {
			close(fd);
			out->disk = NR_VM_DISK_SPARSE;
			nr_error_clear(err);
			rc = 0;
		}
	}
out:
	free(dcopy);
	free(bcopy);
	return rc;
}

static int remove_disk(struct nr_virt *virt, const char *path, struct nr_error *err);

/* ---- define, start, stop ------------------------------------------------------------ */

/* The <name> of a domain XML (nr_domain_inspect reads it); NULL when it has none. */
static char *xml_name(const char *xml)
{
	struct nr_domain_info *info;
	char *name = NULL;

	if (nr_domain_inspect(xml, &info, NULL) == 0) {
		if (info->name && info->name[0]) {
			name = info->name;
			info->name = NULL;
		}
		nr_domain_info_free(info);
	}
	return name;
}

int nr_vm_define(struct nr_virt *virt, const char *xml, struct nr_error *err)
{
	char *name = xml_name(xml);
	virDomainPtr dom;
	int rc = 0;

	if (!name)
		return nr_error_set(err, -NR_E_PARSE, "the domain XML has no <name>");
	dom = virDomainLookupByName(virt->conn, name);
	if (dom) {
		virDomainFree(dom);
		rc = nr_error_set(err, -NR_E_EXISTS, "VM %s already exists: pick another name, or remove it "
				  "first (neuronctl vm delete '%s')", name, name);
		goto out;
	}
	dom = virDomainDefineXML(virt->conn, xml);
	if (!dom) {
		virErrorPtr e = virGetLastError();
		if (e && e->code == VIR_ERR_OPERATION_FAILED && e->message && strstr(e->message, "already exists"))
			rc = nr_error_set(err, -NR_E_EXISTS, "VM %s already exists", name);
		else
			rc = nr_virt_error(err, -NR_E_VIRT, "libvirt refused the domain");
		if (e && e->code != VIR_ERR_OPERATION_FAILED)
			nr_error_prefix(err, "VM %s: ", name);
		goto out;
	}
	virDomainFree(dom);
out:
	free(name);
	return rc;
}

int nr_vm_create(struct nr_virt *virt, const struct nr_profile *p, const char *xml,
		 struct nr_vm_created *out, struct nr_error *err)
{
	struct nr_vm_created dummy;
	virDomainPtr dom;
	int rc;

	if (!out)
		out = &dummy;
	memset(out, 0, sizeof(*out));
	/* refuse a taken name before making a disk for it */
	dom = virDomainLookupByName(virt->conn, p->name);
	if (dom) {
		virDomainFree(dom);
		return nr_error_set(err, -NR_E_EXISTS, "VM %s already exists: pick another name, or remove it "
				    "first (neuronctl vm delete '%s')", p->name, p->name);
	}
	if (!p->disk.none) {
		char *path = nr_profile_get(p, "disk.path");
		if (!path)
			return nr_error_set(err, -NR_E_NOMEM, NULL);
		rc = nr_vm_disk_create(virt, path, p->disk.size, p->disk.format, out, err);
		if (rc == 0)
			rc = nr_vm_define(virt, xml, err);
		/* a disk made for a VM that libvirt refused is not left behind */
		if (rc < 0 && out->disk != NR_VM_DISK_NONE && out->disk != NR_VM_DISK_EXISTS) {
			struct nr_error ignored = { 0 };
			if (remove_disk(virt, path, &ignored) == 0)
				out->disk = NR_VM_DISK_NONE;
		}
		free(path);
		return rc;
	}
	return nr_vm_define(virt, xml, err);
}

static void start_hint(struct nr_error *err, const char *hint)
{
	size_t n;

	if (!err)
		return;
	n = strlen(err->msg);
	snprintf(err->msg + n, sizeof(err->msg) - n, " (%s)", hint);
}

int nr_vm_start(struct nr_virt *virt, const char *name, struct nr_error *err)
{
	virDomainPtr dom;
	int rc = lookup(virt, name, &dom, err);

	if (rc < 0)
		return rc;
	if (active(dom))
		rc = nr_error_set(err, -NR_E_BUSY, "VM %s is already running", name);
	else if (virDomainCreate(dom) < 0) {
		virErrorPtr e = virGetLastError();
		const char *m = e && e->message ? e->message : "";
		rc = nr_virt_error(err, -NR_E_VIRT, "libvirt could not start it");
		nr_error_prefix(err, "VM %s: ", name);
		/* what to do about the usual causes */
		if (strstr(m, "network '") && strstr(m, "is not active"))
			start_hint(err, "start the network (virsh net-start NAME) or set 'network: none' in the profile");
		else if (strstr(m, "/dev/kvm"))
			start_hint(err, "KVM is not usable here: check 'neuronctl check', or set 'type: qemu' (slow)");
		else if (strstr(m, "vfio") || strstr(m, "iommu_group") || strstr(m, "pci_"))
			start_hint(err, "the passed-through device cannot be given to the VM: see 'neuronctl check'");
	}
	virDomainFree(dom);
	return rc;
}

int nr_vm_stop(struct nr_virt *virt, const char *name, unsigned timeout_s, bool force, bool *destroyed,
	       struct nr_error *err)
{
	virDomainPtr dom;
	long long t0;
	int rc = lookup(virt, name, &dom, err);

	if (destroyed)
		*destroyed = false;
	if (rc < 0)
		return rc;
	if (!active(dom)) {
		rc = nr_error_set(err, -NR_E_INVAL, "VM %s is not running", name);
		goto out;
	}
	if (virDomainShutdownFlags(dom, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN) < 0 &&
	    virDomainShutdown(dom) < 0) {
		rc = nr_virt_error(err, -NR_E_VIRT, "the ACPI shutdown request failed");
		nr_error_prefix(err, "VM %s: ", name);
		goto out;
	}
	t0 = nr_now_ms();
	for (;;) {
		if (!active(dom))
			goto out;
		if (nr_now_ms() - t0 >= (long long)timeout_s * 1000)
			break;
		nr_sleep_ms(200);
	}
	if (!force) {
		rc = nr_error_set(err, -NR_E_TIMEOUT, "VM %s did not shut down within %u s (is the guest "
				  "ignoring ACPI?); power it off with 'neuronctl vm destroy %s' or stop --force",
				  name, timeout_s, name);
		goto out;
	}
	if (virDomainDestroy(dom) < 0 && active(dom)) {
		rc = nr_virt_error(err, -NR_E_VIRT, "cannot power it off");
		nr_error_prefix(err, "VM %s: ", name);
		goto out;
	}
	if (destroyed)
		*destroyed = true;
out:
	virDomainFree(dom);
	return rc;
}

int nr_vm_destroy(struct nr_virt *virt, const char *name, struct nr_error *err)
{
	virDomainPtr dom;
	int rc = lookup(virt, name, &dom, err);

	if (rc < 0)
		return rc;
	if (!active(dom))
		rc = nr_error_set(err, -NR_E_INVAL, "VM %s is not running", name);
	else if (virDomainDestroy(dom) < 0) {
		rc = nr_virt_error(err, -NR_E_VIRT, "cannot power it off");
		nr_error_prefix(err, "VM %s: ", name);
	}
	virDomainFree(dom);
	return rc;
}

static int remove_disk(struct nr_virt *virt, const char *path, struct nr_error *err)
{
	virStorageVolPtr vol = virStorageVolLookupByPath(virt->conn, path);

	if (vol) {
		int r = virStorageVolDelete(vol, 0);
		virStorageVolFree(vol);
		if (r < 0)
			return nr_virt_error(err, -NR_E_VIRT, "cannot delete the disk volume");
		return 0;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return nr_error_set(err, -NR_E_IO, "cannot remove %s: %s", path, strerror(errno));
	return 0;
}

int nr_vm_delete(struct nr_virt *virt, const char *name, bool remove_disks, size_t *removed,
		 struct nr_error *err)
{
	struct nr_domain_info *info = NULL;
	virDomainPtr dom;
	char *xml = NULL;
	int rc = lookup(virt, name, &dom, err);

	if (removed)
		*removed = 0;
	if (rc < 0)
		return rc;
	if (active(dom)) {
		rc = nr_error_set(err, -NR_E_BUSY, "VM %s is running: stop it first (neuronctl vm stop '%s')",
				  name, name);
		goto out;
	}
	if (remove_disks) {
		xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
		if (!xml || nr_domain_inspect(xml, &info, err) < 0) {
			rc = xml ? err ? err->code : -NR_E_PARSE : nr_virt_error(err, -NR_E_VIRT, "cannot read the domain XML");
			goto out;
		}
	}
	if (virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
				   VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA | VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA) < 0 &&
	    virDomainUndefine(dom) < 0) {
		rc = nr_virt_error(err, -NR_E_VIRT, "libvirt could not remove it");
		nr_error_prefix(err, "VM %s: ", name);
		goto out;
	}
	for (size_t i = 0; info && i < info->n_disks; i++) {
		rc = remove_disk(virt, info->disks[i], err);
		if (rc < 0) {
			nr_error_prefix(err, "VM %s removed, but ", name);
			goto out;
		}
		if (removed)
			(*removed)++;
	}
out:
	nr_domain_info_free(info);
	free(xml);
	virDomainFree(dom);
	return rc;
}

int nr_vm_list_busy_pci(const struct nr_vm_list *l, char ***addrs, char ***owners, size_t *n,
			struct nr_error *err)
{
	char **a = NULL, **o = NULL;
	size_t na = 0, no = 0;
	int rc = 0;

	*addrs = *owners = NULL;
	*n = 0;
	for (size_t i = 0; l && i < l->n && rc == 0; i++) {
		if (l->vms[i].state == NR_VM_OFF || !l->vms[i].info)
			continue;
		for (size_t j = 0; j < l->vms[i].info->n_pci && rc == 0; j++)
			if (nr_strv_add(&a, &na, l->vms[i].info->pci[j]) < 0 ||
			    nr_strv_add(&o, &no, l->vms[i].name) < 0)
				rc = nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	if (rc < 0) {
		nr_strv_free(a, na);
		nr_strv_free(o, no);
		return rc;
	}
	*addrs = a;
	*owners = o;
	*n = na;
	return 0;
}

int nr_vm_busy_pci(struct nr_virt *virt, char ***addrs, char ***owners, size_t *n, struct nr_error *err)
{
	struct nr_vm_list *l;
	int rc = nr_vm_list(virt, &l, err);

	*addrs = *owners = NULL;
	*n = 0;
	if (rc < 0)
		return rc;
	rc = nr_vm_list_busy_pci(l, addrs, owners, n, err);
	nr_vm_list_free(l);
	return rc;
}

void nr_vm_busy_free(char **addrs, char **owners, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(addrs ? addrs[i] : NULL);
		free(owners ? owners[i] : NULL);
	}
	free(addrs);
	free(owners);
}
