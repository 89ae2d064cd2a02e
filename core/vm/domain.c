/* nr_domain_build(): templates/NAME.xml + a profile -> libvirt domain XML, through libxml2
 * so that user values are always data (a name full of <>&'" stays a name). Reading a domain's
 * XML back is domain_inspect.c. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "base/internal.h"
#include "vm/domain_internal.h"
#include "vm/profile_internal.h"
#include "neuron/domain.h"
#include "neuron/lg.h"
#include "neuron/media.h"

#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"
#define SHARE_TEMPLATES "/usr/share/neuron/templates"

/* ---- templates -------------------------------------------------------------------- */

static bool is_file(const char *path)
{
	return access(path, R_OK) == 0;
}

int nr_domain_template_path(const struct nr_ctx *ctx, const char *template_name, char **path,
			    struct nr_error *err)
{
	const char *dir = nr_ctx_get(ctx, "templates");
	char exe[PATH_MAX], file[PATH_MAX + 64];
	ssize_t n;

	*path = NULL;
	for (const char *c = template_name; *c; c++)
		if (*c == '/' || *c == '.')
			return nr_error_set(err, -NR_E_INVAL, "bad template name '%s'", template_name);
	if (dir && dir[0]) {
		snprintf(file, sizeof(file), "%s/%s.xml", dir, template_name);
		goto found;
	}
	/* templates/ beside the program (build/neuronctl -> templates/), then the system's. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		for (int up = 1; up <= 3; up++) {
			char *slash = strrchr(exe, '/');
			if (!slash)
				break;
			*slash = '\0';
			snprintf(file, sizeof(file), "%s/templates/%s.xml", exe, template_name);
			if (is_file(file))
				goto found;
			/* installed: PREFIX/bin/neuronctl -> PREFIX/share/neuron/templates */
			snprintf(file, sizeof(file), "%s/share/neuron/templates/%s.xml", exe, template_name);
			if (is_file(file))
				goto found;
		}
	}
	snprintf(file, sizeof(file), "%s/%s.xml", SHARE_TEMPLATES, template_name);
found:
	if (!is_file(file))
		return nr_error_set(err, -NR_E_NOTFOUND,
				    "no domain template %s (set --param templates=DIR to the templates folder)", file);
	*path = strdup(file);
	return *path ? 0 : nr_error_set(err, -NR_E_NOMEM, NULL);
}

/* ---- libxml2 helpers -------------------------------------------------------------- */

#define X(s) ((const xmlChar *)(s))

static void remove_children(xmlNodePtr parent, const char *name)
{
	xmlNodePtr c = parent->children, next;

	for (; c; c = next) {
		next = c->next;
		if (c->type == XML_ELEMENT_NODE && xmlStrcmp(c->name, X(name)) == 0) {
			xmlUnlinkNode(c);
			xmlFreeNode(c);
		}
	}
}

/* An element with text content; text is stored as data and escaped on output. */
static xmlNodePtr add_text(xmlNodePtr parent, const char *name, const char *text)
{
	xmlNodePtr n = xmlNewChild(parent, NULL, X(name), NULL);

	if (n && text)
		xmlAddChild(n, xmlNewText(X(text)));
	return n;
}

static xmlNodePtr add(xmlNodePtr parent, const char *name)
{
	return xmlNewChild(parent, NULL, X(name), NULL);
}

static void attr(xmlNodePtr n, const char *name, const char *value)
{
	if (n)
		xmlSetProp(n, X(name), X(value));
}

static void attrf(xmlNodePtr n, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void attrf(xmlNodePtr n, const char *name, const char *fmt, ...)
{
	char buf[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	attr(n, name, buf);
}

static xmlNodePtr ensure(xmlNodePtr parent, const char *name)
{
	xmlNodePtr n = nr_xml_child(parent, name);

	return n ? n : add(parent, name);
}

/* ---- host CPU topology, for pinning ----------------------------------------------- */

struct host_cpu {
	int cpu, package, core;
};

static int cmp_host_cpu(const void *a, const void *b)
{
	const struct host_cpu *x = a, *y = b;

	if (x->package != y->package)
		return x->package - y->package;
	if (x->core != y->core)
		return x->core - y->core;
	return x->cpu - y->cpu;
}

/* The host's online CPUs (sys/devices/system/cpu/online under the sysroot), and that
 * file's text in text. why: what needs them, for the message. */
static int read_online(const struct nr_ctx *ctx, const char *why, unsigned **cpus, size_t *n, char *text,
		       size_t size, struct nr_error *err)
{
	char *path = nr_ctx_sys_path(ctx, "sys/devices/system/cpu/online");
	int rc = 0;

	if (!path)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	if (nr_read_line(path, text, size) < 0 || nr_cpu_list_parse(text, UINT_MAX, cpus, n, NULL) < 0)
		rc = nr_error_set(err, -NR_E_IO, "cpu.pinning: %s: cannot read the host CPUs from %s; "
				  "use 'pinning: none'%s", why, path, strcmp(why, "auto") == 0 ? " or a CPU list" : "");
	free(path);
	return rc;
}

static int read_topology(const struct nr_ctx *ctx, struct host_cpu **out, size_t *n, struct nr_error *err)
{
	char line[4096], file[PATH_MAX];
	unsigned *cpus = NULL;
	size_t ncpus = 0;
	struct host_cpu *hc;
	int rc = read_online(ctx, "auto", &cpus, &ncpus, line, sizeof(line), err);

	if (rc < 0)
		return rc;
	hc = calloc(ncpus, sizeof(*hc));
	if (!hc) {
		free(cpus);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	for (size_t i = 0; i < ncpus; i++) {
		char rel[128], *p;
		hc[i].cpu = (int)cpus[i];
		hc[i].core = (int)cpus[i];
		snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%u/topology/core_id", cpus[i]);
		if ((p = nr_ctx_sys_path(ctx, rel))) {
			snprintf(file, sizeof(file), "%s", p);
			free(p);
			if (nr_read_line(file, line, sizeof(line)) == 0)
				hc[i].core = atoi(line);
		}
		snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%u/topology/physical_package_id", cpus[i]);
		if ((p = nr_ctx_sys_path(ctx, rel))) {
			snprintf(file, sizeof(file), "%s", p);
			free(p);
			if (nr_read_line(file, line, sizeof(line)) == 0)
				hc[i].package = atoi(line);
		}
	}
	free(cpus);
	qsort(hc, ncpus, sizeof(*hc), cmp_host_cpu);
	*out = hc;
	*n = ncpus;
	return 0;
}

/* The host's threads per core (1 when unknown). */
static unsigned host_smt(const struct host_cpu *hc, size_t n)
{
	unsigned best = 1, run = 1;

	for (size_t i = 1; i < n; i++) {
		if (hc[i].package == hc[i - 1].package && hc[i].core == hc[i - 1].core)
			run++;
		else
			run = 1;
		if (run > best)
			best = run;
	}
	return best;
}

struct pin_plan {
	unsigned *vcpu;             /* host CPU of each vCPU */
	char emulator[256];         /* host CPUs of the emulator threads, "" for none */
	unsigned smt;
};

static int plan_pinning(const struct nr_profile *p, const struct nr_ctx *ctx, struct pin_plan *plan,
			struct nr_error *err)
{
	struct host_cpu *hc = NULL;
	size_t n = 0, avail = 0, k = 0;
	unsigned *list = NULL, *online = NULL;
	size_t nlist = 0, nonline = 0;
	char text[4096];
	int rc = 0;

	memset(plan, 0, sizeof(*plan));
	plan->smt = 0;
	if (p->pinning == NR_PINNING_NONE)
		return 0;
	if (p->pinning == NR_PINNING_LIST) {
		/* one host CPU per vCPU, each one this host has */
		if ((rc = nr_cpu_list_parse(p->pin_cpus, UINT_MAX, &list, &nlist, err)) < 0)
			return nr_error_prefix(err, "cpu.pinning: "), rc;
		if (nlist != p->vcpus) {
			free(list);
			return nr_error_set(err, -NR_E_INVAL, "cpu.pinning: %s names %zu CPU%s for %u vCPU%s; name one "
					    "host CPU per vCPU", p->pin_cpus, nlist, nlist == 1 ? "" : "s", p->vcpus,
					    p->vcpus == 1 ? "" : "s");
		}
		if ((rc = read_online(ctx, p->pin_cpus, &online, &nonline, text, sizeof(text), err)) < 0) {
			free(list);
			return rc;
		}
		for (size_t i = 0; i < nlist && rc == 0; i++) {
			bool found = false;
			for (size_t k2 = 0; k2 < nonline && !found; k2++)
				found = online[k2] == list[i];
			if (!found)
				rc = nr_error_set(err, -NR_E_INVAL, "cpu.pinning: this host has no CPU %u (its CPUs are "
						  "%s); see lscpu", list[i], text);
		}
		free(online);
		if (rc < 0) {
			free(list);
			return rc;
		}
		plan->vcpu = list;
		return 0;
	}
	rc = read_topology(ctx, &hc, &n, err);
	if (rc < 0)
		return rc;
	plan->smt = host_smt(hc, n);
	/* The host keeps the first core (every thread of it). */
	for (size_t i = 0; i < n; i++) {
		if (hc[i].package == hc[0].package && hc[i].core == hc[0].core) {
			size_t l = strlen(plan->emulator);
			snprintf(plan->emulator + l, sizeof(plan->emulator) - l, "%s%d", l ? "," : "", hc[i].cpu);
		} else {
			avail++;
		}
	}
	if (avail < p->vcpus) {
		rc = nr_error_set(err, -NR_E_INVAL,
				  "cpu.pinning: auto: the host has %zu CPUs besides the core kept for the host; "
				  "lower cpu.vcpus to %zu or use 'pinning: none'", avail, avail);
		free(hc);
		return rc;
	}
	plan->vcpu = calloc(p->vcpus, sizeof(*plan->vcpu));
	if (!plan->vcpu) {
		free(hc);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	for (size_t i = 0; i < n && k < p->vcpus; i++)
		if (!(hc[i].package == hc[0].package && hc[i].core == hc[0].core))
			plan->vcpu[k++] = (unsigned)hc[i].cpu;
	free(hc);
	return 0;
}

/* The host's memory (MemTotal of proc/meminfo under the sysroot) in bytes; 0 when unknown. */
static uint64_t host_memory(const struct nr_ctx *ctx)
{
	char *path = nr_ctx_sys_path(ctx, "proc/meminfo"), *text = NULL, *line;
	unsigned long long kib = 0;

	if (path && nr_read_file_max(path, 1u << 16, &text, NULL, NULL) == 0 &&
	    (line = strstr(text, "MemTotal:")) && sscanf(line + 9, "%llu", &kib) != 1)
		kib = 0;
	free(text);
	free(path);
	return (uint64_t)kib << 10;
}

/* Topology: what the profile says, else 1 socket, 2 threads per core when the count is even
 * (and the host has SMT, when known). */
static void topology(const struct nr_profile *p, unsigned host_threads, unsigned *s, unsigned *c, unsigned *t)
{
	if (p->sockets || p->cores || p->threads) {
		*s = p->sockets ? p->sockets : 1;
		*t = p->threads ? p->threads : 1;
		*c = p->cores ? p->cores : p->vcpus / (*s * *t);
		return;
	}
	*s = 1;
	*t = (p->vcpus % 2 == 0 && host_threads != 1) ? 2 : 1;
	*c = p->vcpus / *t;
}

/* ---- the builder ------------------------------------------------------------------ */

static void pci_address(xmlNodePtr parent, const struct nr_pci_dev *d)
{
	xmlNodePtr a = add(parent, "address");

	attrf(a, "domain", "0x%04x", d->domain);
	attrf(a, "bus", "0x%02x", d->bus);
	attrf(a, "slot", "0x%02x", d->dev);
	attrf(a, "function", "0x%x", d->func);
}

static xmlNodePtr add_pci_hostdev(xmlNodePtr devices, const struct nr_pci_dev *d)
{
	xmlNodePtr h = add(devices, "hostdev");

	attr(h, "mode", "subsystem");
	attr(h, "type", "pci");
	attr(h, "managed", "yes");
	attr(add(h, "driver"), "name", "vfio");
	pci_address(add(h, "source"), d);
	return h;
}

static void add_disk(xmlNodePtr devices, const char *device, const char *file, const char *format,
		     const char *bus, const char *dev, bool readonly)
{
	xmlNodePtr d = add(devices, "disk"), drv;

	attr(d, "type", "file");
	attr(d, "device", device);
	drv = add(d, "driver");
	attr(drv, "name", "qemu");
	attr(drv, "type", format);
	if (!readonly)
		attr(drv, "discard", "unmap");
	attr(add(d, "source"), "file", file);
	xmlNodePtr t = add(d, "target");
	attr(t, "dev", dev);
	attr(t, "bus", bus);
	if (readonly)
		add(d, "readonly");
}

static int build_devices(const struct nr_profile *p, const struct nr_scan *scan, enum nr_lg_stack lg_stack,
			 const char *media, xmlDocPtr doc, xmlNodePtr root, xmlNodePtr devices, struct nr_error *err)
{
	xmlNodePtr first = devices->children, mine = xmlNewNode(NULL, X("devices"));
	const struct nr_gpu *g = nr_profile_gpu(p, scan);
	char dev[8];
	char sata_next = 'a';
	bool scsi = false;

	if (!mine)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	/* disks: the system disk, then the install ISO and the drivers ISO */
	if (!p->disk.none) {
		char *path = nr_profile_get(p, "disk.path");
		const char *bus = p->disk.bus;
		if (!path) {
			xmlFreeNode(mine);
			return nr_error_set(err, -NR_E_NOMEM, NULL);
		}
		if (strcmp(bus, "virtio") == 0)
			snprintf(dev, sizeof(dev), "vda");
		else
			snprintf(dev, sizeof(dev), "sd%c", sata_next++);
		scsi = strcmp(bus, "scsi") == 0;
		add_disk(mine, "disk", path, p->disk.format, bus, dev, false);
		free(path);
	}
	const char *isos[2] = { p->iso, p->virtio_iso };
	for (int i = 0; i < 2; i++) {
		if (!isos[i])
			continue;
		snprintf(dev, sizeof(dev), "sd%c", sata_next++);
		add_disk(mine, "cdrom", isos[i], "raw", scsi ? "scsi" : "sata", dev, true);
	}
	/* the guest-tools media: SATA whatever the disks use, so that Windows reads it without
	 * a driver */
	if (media) {
		snprintf(dev, sizeof(dev), "sd%c", sata_next++);
		add_disk(mine, "cdrom", media, "raw", "sata", dev, true);
	}
	if (scsi) {
		xmlNodePtr c = add(mine, "controller");
		attr(c, "type", "scsi");
		attr(c, "index", "0");
		attr(c, "model", "virtio-scsi");
	}
	if (p->network) {
		xmlNodePtr i = add(mine, "interface");
		attr(i, "type", "network");
		attr(add(i, "source"), "network", p->network);
		attr(add(i, "model"), "type", p->network_model);
	}
	/* the GPU: every non-bridge device of its passthrough set, its functions kept together
	 * behind one root port so the guest sees one multifunction card */
	if (g) {
		xmlNodePtr port = add(mine, "controller");
		size_t n_fn = 0;
		attr(port, "type", "pci");
		attr(port, "index", "1");
		attr(port, "model", "pcie-root-port");
		for (size_t i = 0; i < g->n_set; i++)
			if (!nr_pci_is_bridge(&scan->devices[g->set[i]]))
				n_fn++;
		for (size_t i = 0; i < g->n_set; i++) {
			const struct nr_pci_dev *d = &scan->devices[g->set[i]];
			xmlNodePtr h, a;
			if (nr_pci_is_bridge(d))
				continue;
			h = add_pci_hostdev(mine, d);
			if (g->set[i] == g->dev && p->gpu_rom) {
				xmlNodePtr rom = add(h, "rom");
				attr(rom, "bar", "on");
				attr(rom, "file", p->gpu_rom);
			}
			/* guest address: bus 1, slot 0, the host's function number */
			a = add(h, "address");
			attr(a, "type", "pci");
			attr(a, "domain", "0x0000");
			attr(a, "bus", "0x01");
			attr(a, "slot", "0x00");
			attrf(a, "function", "0x%x", d->func);
			if (d->func == 0 && n_fn > 1)
				attr(a, "multifunction", "on");
		}
	}
	for (size_t i = 0; i < p->n_pci; i++) {
		const struct nr_pci_dev *d = nr_scan_device(scan, p->pci[i]);
		if (d)
			add_pci_hostdev(mine, d);
	}
	for (size_t i = 0; i < p->n_usb; i++) {
		unsigned vid, pid;
		xmlNodePtr h = add(mine, "hostdev"), s;
		sscanf(p->usb[i], "%x:%x", &vid, &pid);
		attr(h, "mode", "subsystem");
		attr(h, "type", "usb");
		attr(h, "managed", "yes");
		s = add(h, "source");
		attrf(add(s, "vendor"), "id", "0x%04x", vid);
		attrf(add(s, "product"), "id", "0x%04x", pid);
	}
	if (p->lg.enabled) {
		unsigned mib = nr_lg_shm_size_mib(lg_stack, p->lg.width, p->lg.height, p->lg.hdr);
		if (mib == 0) {
			xmlFreeNode(mine);
			return nr_error_set(err, -NR_E_INVAL, "looking_glass: resolution %ux%u is out of range",
					    p->lg.width, p->lg.height);
		}
		if (p->lg.backend == NR_LG_SHM) {
			xmlNodePtr s = add(mine, "shmem"), sz;
			attr(s, "name", NR_LG_SHM_NAME);
			attr(add(s, "model"), "type", "ivshmem-plain");
			sz = add_text(s, "size", NULL);
			attr(sz, "unit", "M");
			char num[16];
			snprintf(num, sizeof(num), "%u", mib);
			xmlAddChild(sz, xmlNewText(X(num)));
		} else {
			/* kvmfr: QEMU's own arguments, as the Looking Glass documentation gives them */
			xmlNsPtr ns = xmlSearchNsByHref(doc, root, X(QEMU_NS));
			xmlNodePtr cl;
			char *dev_arg = NULL, *obj_arg = NULL;
			if (!ns)
				ns = xmlNewNs(root, X(QEMU_NS), X("qemu"));
			cl = xmlNewChild(root, ns, X("commandline"), NULL);
			if (asprintf(&dev_arg, "{\"driver\":\"ivshmem-plain\",\"id\":\"shmem-lg\",\"memdev\":\"%s\"}",
				     NR_LG_SHM_NAME) < 0 ||
			    asprintf(&obj_arg, "{\"qom-type\":\"memory-backend-file\",\"id\":\"%s\",\"mem-path\":\"%s\","
				     "\"size\":%llu,\"share\":true}", NR_LG_SHM_NAME, p->lg.kvmfr_device,
				     (unsigned long long)mib << 20) < 0) {
				free(dev_arg);
				xmlFreeNode(mine);
				return nr_error_set(err, -NR_E_NOMEM, NULL);
			}
			attr(xmlNewChild(cl, ns, X("arg"), NULL), "value", "-device");
			attr(xmlNewChild(cl, ns, X("arg"), NULL), "value", dev_arg);
			attr(xmlNewChild(cl, ns, X("arg"), NULL), "value", "-object");
			attr(xmlNewChild(cl, ns, X("arg"), NULL), "value", obj_arg);
			free(dev_arg);
			free(obj_arg);
		}
	}
	if (p->agent) {
		xmlNodePtr c = add(mine, "channel"), t;
		attr(c, "type", "unix");
		attr(add(c, "source"), "mode", "bind");
		t = add(c, "target");
		attr(t, "type", "virtio");
		attr(t, "name", NR_AGENT_CHANNEL);
	}
	/* the shared folders: virtio-fs, the tag being the share's name (~ is the home of
	 * whoever builds the domain) */
	for (size_t i = 0; i < p->n_shares; i++) {
		char name[NR_SHARE_NAME_MAX + 1], dir[4200];
		xmlNodePtr fs = add(mine, "filesystem");
		nr_profile_share(p, i, getenv("HOME"), name, sizeof(name), dir, sizeof(dir));
		attr(fs, "type", "mount");
		attr(fs, "accessmode", "passthrough");
		attr(add(fs, "driver"), "type", "virtiofs");
		attr(add(fs, "source"), "dir", dir);
		attr(add(fs, "target"), "dir", name);
	}
	if (nr_profile_tpm(p)) {
		xmlNodePtr t = add(mine, "tpm"), b;
		attr(t, "model", "tpm-crb");
		b = add(t, "backend");
		attr(b, "type", "emulator");
		attr(b, "version", "2.0");
	}
	/* ours first, then the template's own devices (controllers, input, graphics ...) */
	while (mine->children) {
		xmlNodePtr c = mine->children;
		xmlUnlinkNode(c);
		if (first)
			xmlAddPrevSibling(first, c);
		else
			xmlAddChild(devices, c);
	}
	xmlFreeNode(mine);
	/* with a passed-through GPU and Looking Glass the guest's own display is the GPU */
	if (g && p->lg.enabled) {
		xmlNodePtr v = nr_xml_child(devices, "video"), m;
		if (v && (m = nr_xml_child(v, "model"))) {
			xmlUnsetProp(m, X("vram"));
			xmlUnsetProp(m, X("heads"));
			xmlUnsetProp(m, X("primary"));
			attr(m, "type", "none");
		}
	}
	if (p->serial_log) {
		/* the console into a file (the VM lane reads the guest's output from it) */
		xmlNodePtr s;
		remove_children(devices, "serial");
		remove_children(devices, "console"); /* libvirt makes the console alias of serial 0 */
		s = add(devices, "serial");
		attr(s, "type", "file");
		attr(add(s, "source"), "path", p->serial_log);
		attr(add(s, "target"), "port", "0");
	}
	remove_children(devices, "memballoon");
	attr(add(devices, "memballoon"), "model", "none");
	return 0;
}

static void build_features(const struct nr_profile *p, const struct nr_scan *scan, xmlNodePtr root, bool kvm)
{
	xmlNodePtr f = ensure(root, "features");
	bool nvidia = nr_profile_nvidia_workaround(p, scan);

	remove_children(f, "hyperv");
	remove_children(f, "kvm");
	remove_children(f, "smm");
	if (p->hyperv && kvm) {
		xmlNodePtr h = add(f, "hyperv"), s;
		attr(h, "mode", "custom");
		attr(add(h, "relaxed"), "state", "on");
		attr(add(h, "vapic"), "state", "on");
		s = add(h, "spinlocks");
		attr(s, "state", "on");
		attr(s, "retries", "8191");
		attr(add(h, "vpindex"), "state", "on");
		attr(add(h, "runtime"), "state", "on");
		attr(add(h, "synic"), "state", "on");
		attr(add(h, "stimer"), "state", "on");
		attr(add(h, "reset"), "state", "on");
		attr(add(h, "frequencies"), "state", "on");
		if (nvidia) {
			xmlNodePtr v = add(h, "vendor_id");
			attr(v, "state", "on");
			attr(v, "value", "NeuronOS");
		}
	}
	if (nvidia && kvm)
		attr(add(add(f, "kvm"), "hidden"), "state", "on");
	if (p->secure_boot)
		attr(add(f, "smm"), "state", "on");
}

/* The order libvirt itself writes a domain in, so output reads like `virsh dumpxml`. */
static const char *const top_order[] = {
	"name", "uuid", "title", "description", "metadata", "memory", "currentMemory", "memoryBacking",
	"vcpu", "iothreads", "cputune", "resource", "sysinfo", "os", "features", "cpu", "clock",
	"on_poweroff", "on_reboot", "on_crash", "pm", "devices",
};

static void reorder(xmlNodePtr root)
{
	for (size_t i = 0; i < sizeof(top_order) / sizeof(top_order[0]); i++) {
		xmlNodePtr n = nr_xml_child(root, top_order[i]);
		if (!n)
			continue;
		xmlUnlinkNode(n);
		xmlAddChild(root, n);
	}
	/* anything else (qemu:commandline) after devices */
	for (xmlNodePtr c = root->children, next; c; c = next) {
		next = c->next;
		if (c->ns) {
			xmlUnlinkNode(c);
			xmlAddChild(root, c);
		}
	}
}

static int build(const struct nr_profile *p, const struct nr_ctx *ctx, const struct nr_scan *scan,
		 xmlDocPtr doc, struct nr_error *err)
{
	xmlNodePtr root = xmlDocGetRootElement(doc), n, os, cpu, devices;
	bool kvm = strcmp(p->domain_type, "kvm") == 0;
	struct pin_plan pins;
	unsigned s, c, t;
	char num[32];
	int rc;

	if (!root || xmlStrcmp(root->name, X("domain")) != 0)
		return nr_error_set(err, -NR_E_PARSE, "the template's root element is not <domain>");
	{
		uint64_t have = host_memory(ctx);
		char want_s[32], have_s[32];
		if (have && p->memory > have) {
			rc = nr_error_set(err, -NR_E_INVAL, "memory: %s is more than this machine has (%s); give the "
					  "VM less, and leave some to the host", nr_size_str(p->memory, want_s),
					  nr_size_str(have & ~((1ull << 20) - 1), have_s));
			nr_profile_locate(p, "memory", err);
			return rc;
		}
	}
	rc = plan_pinning(p, ctx, &pins, err);
	if (rc < 0) {
		nr_profile_locate(p, "cpu.pinning", err);
		return rc;
	}
	attr(root, "type", p->domain_type);
	remove_children(root, "name");
	add_text(root, "name", p->name);
	remove_children(root, "uuid");
	if (p->gpu_mode != NR_GPU_MODE_AUTO) {
		/* how the GPU is lent, for vm start and libvirt's hook, which read the domain */
		xmlNodePtr vm = xmlNewChild(add(root, "metadata"), NULL, X("vm"), NULL);
		xmlNsPtr ns = xmlNewNs(vm, X(NR_DOMAIN_NS), X("neuron"));
		xmlSetNs(vm, ns);
		xmlNewTextChild(vm, ns, X("gpu_mode"), X(p->gpu_mode == NR_GPU_MODE_SINGLE ? "single" : "dedicated"));
	}
	remove_children(root, "memory");
	remove_children(root, "currentMemory");
	snprintf(num, sizeof(num), "%llu", (unsigned long long)(p->memory >> 20));
	attr(add_text(root, "memory", num), "unit", "MiB");
	attr(add_text(root, "currentMemory", num), "unit", "MiB");
	remove_children(root, "memoryBacking");
	if (p->hugepages || p->n_shares) {
		xmlNodePtr mb = add(root, "memoryBacking");
		if (p->hugepages)
			add(mb, "hugepages");
		/* virtio-fs: virtiofsd (a vhost-user process) maps the guest's memory, which
		 * must be shared memory it can open */
		if (p->n_shares) {
			attr(add(mb, "source"), "type", "memfd");
			attr(add(mb, "access"), "mode", "shared");
		}
	}
	remove_children(root, "vcpu");
	snprintf(num, sizeof(num), "%u", p->vcpus);
	attr(add_text(root, "vcpu", num), "placement", "static");
	remove_children(root, "cputune");
	if (pins.vcpu) {
		xmlNodePtr tune = add(root, "cputune");
		for (unsigned i = 0; i < p->vcpus; i++) {
			xmlNodePtr v = add(tune, "vcpupin");
			attrf(v, "vcpu", "%u", i);
			attrf(v, "cpuset", "%u", pins.vcpu[i]);
		}
		if (pins.emulator[0])
			attr(add(tune, "emulatorpin"), "cpuset", pins.emulator);
	}
	free(pins.vcpu);

	/* os: q35, UEFI (Secure Boot when asked) or BIOS, boot order or a kernel */
	remove_children(root, "os");
	os = add(root, "os");
	if (strcmp(p->firmware, "efi") == 0) {
		xmlNodePtr fw;
		attr(os, "firmware", "efi");
		fw = add(os, "firmware");
		attr(add(fw, "feature"), "enabled", p->secure_boot ? "yes" : "no");
		attr(fw->last, "name", "enrolled-keys");
		attr(add(fw, "feature"), "enabled", p->secure_boot ? "yes" : "no");
		attr(fw->last, "name", "secure-boot");
	}
	n = add_text(os, "type", "hvm");
	attr(n, "arch", "x86_64");
	attr(n, "machine", "q35");
	if (strcmp(p->firmware, "efi") == 0 && p->secure_boot)
		attr(add(os, "loader"), "secure", "yes");
	if (p->boot.kernel) {
		add_text(os, "kernel", p->boot.kernel);
		if (p->boot.initrd)
			add_text(os, "initrd", p->boot.initrd);
		if (p->boot.cmdline)
			add_text(os, "cmdline", p->boot.cmdline);
	} else {
		attr(add(os, "boot"), "dev", "hd");
		if (p->iso)
			attr(add(os, "boot"), "dev", "cdrom");
	}

	build_features(p, scan, root, kvm);

	/* cpu: the host's own model under KVM; TCG cannot pass the host CPU through */
	remove_children(root, "cpu");
	cpu = add(root, "cpu");
	if (kvm) {
		attr(cpu, "mode", "host-passthrough");
		attr(cpu, "check", "none");
		attr(cpu, "migratable", "on");
	}
	topology(p, pins.smt, &s, &c, &t);
	n = add(cpu, "topology");
	attrf(n, "sockets", "%u", s);
	attrf(n, "dies", "1");
	attrf(n, "cores", "%u", c);
	attrf(n, "threads", "%u", t);
	if (kvm && t > 1 && scan && scan->host.cpu_vendor == NR_CPU_AMD) {
		xmlNodePtr f = add(cpu, "feature");
		attr(f, "policy", "require");
		attr(f, "name", "topoext");
	}
	if (!kvm) {
		/* no Hyper-V clock without KVM */
		xmlNodePtr clock = nr_xml_child(root, "clock");
		for (xmlNodePtr tm = clock ? clock->children : NULL, next; tm; tm = next) {
			next = tm->next;
			xmlChar *name = xmlGetProp(tm, X("name"));
			if (name && xmlStrcmp(name, X("hypervclock")) == 0) {
				xmlUnlinkNode(tm);
				xmlFreeNode(tm);
			}
			xmlFree(name);
		}
	}
	remove_children(root, "on_reboot");
	add_text(root, "on_reboot", p->on_reboot);
	devices = ensure(root, "devices");
	char *media = NULL;
	if (nr_profile_guest_tools(p) && (rc = nr_media_path(ctx, p->name, &media, err)) < 0)
		return rc;
	/* the shared memory is sized for the profile's stack, else the installed client's */
	rc = build_devices(p, scan, p->lg.stack != NR_LG_STACK_AUTO ? (enum nr_lg_stack)p->lg.stack :
			   p->lg.enabled ? nr_lg_stack_default(ctx) : NR_LG_STACK_B7, media, doc, root, devices, err);
	free(media);
	if (rc < 0)
		return rc;
	reorder(root);
	return 0;
}

int nr_domain_build(const struct nr_profile *p, const struct nr_ctx *ctx, const struct nr_scan *scan,
		    char **xml, struct nr_error *err)
{
	char *tmpl_path = NULL;
	xmlDocPtr doc = NULL;
	xmlBufferPtr buf = NULL;
	int rc;

	*xml = NULL;
	rc = nr_profile_check(p, scan, err);
	if (rc < 0)
		return rc;
	rc = nr_domain_template_path(ctx, p->template_name, &tmpl_path, err);
	if (rc < 0)
		return rc;
	doc = xmlReadFile(tmpl_path, NULL, XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
			  XML_PARSE_NOWARNING);
	if (!doc) {
		const xmlError *e = xmlGetLastError();
		rc = nr_error_set(err, -NR_E_PARSE, "template %s: %s", tmpl_path,
				  e && e->message ? e->message : "not well-formed XML");
		size_t l = strlen(err ? err->msg : "");
		if (err && l && err->msg[l - 1] == '\n')
			err->msg[l - 1] = '\0';
		goto out;
	}
	rc = build(p, ctx, scan, doc, err);
	if (rc < 0)
		goto out;
	buf = xmlBufferCreate();
	if (!buf || xmlNodeDump(buf, doc, xmlDocGetRootElement(doc), 0, 1) < 0) {
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto out;
	}
	if (asprintf(xml, "%s\n", (const char *)xmlBufferContent(buf)) < 0) {
		*xml = NULL;
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
	}
out:
	xmlBufferFree(buf);
	xmlFreeDoc(doc);
	free(tmpl_path);
	return rc;
}
