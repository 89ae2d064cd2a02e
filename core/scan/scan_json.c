/* The scan as DESIGN.md's JSON object, through json-c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "base/internal.h"
#include "neuron/scan.h"

static json_object *hex(unsigned v, int width)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%0*x", width, v);
	return json_object_new_string(buf);
}

static json_object *addr_array(const struct nr_scan *scan, const size_t *v, size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < n; i++)
		json_object_array_add(a, json_object_new_string(scan->devices[v[i]].addr));
	return a;
}

static json_object *nullable_string(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

int nr_scan_to_json(const struct nr_scan *scan, bool pretty, char **out, struct nr_error *err)
{
	json_object *root = json_object_new_object();
	json_object *devs = json_object_new_array();
	json_object *groups = json_object_new_array();
	json_object *gpus = json_object_new_array();
	json_object *host = json_object_new_object();
	const char *s;

	*out = NULL;
	if (!root || !devs || !groups || !gpus || !host)
		goto oom;
	json_object_object_add(root, "iommu", json_object_new_boolean(scan->iommu));
	for (size_t i = 0; i < scan->n_devices; i++) {
		const struct nr_pci_dev *d = &scan->devices[i];
		json_object *o = json_object_new_object();
		if (!o)
			goto oom;
		json_object_object_add(o, "addr", json_object_new_string(d->addr));
		json_object_object_add(o, "class", hex(d->class_id, 4));
		json_object_object_add(o, "vendor", hex(d->vendor, 4));
		json_object_object_add(o, "device", hex(d->device, 4));
		json_object_object_add(o, "subsystem_vendor", hex(d->subsys_vendor, 4));
		json_object_object_add(o, "subsystem_device", hex(d->subsys_device, 4));
		json_object_object_add(o, "revision", hex(d->revision, 2));
		json_object_object_add(o, "name", json_object_new_string(nr_pci_name(d)));
		json_object_object_add(o, "class_name", json_object_new_string(nr_pci_class_name(d)));
		json_object_object_add(o, "driver", nullable_string(d->driver));
		json_object_object_add(o, "driver_override", nullable_string(d->driver_override));
		json_object_object_add(o, "iommu_group",
				       d->iommu_group < 0 ? NULL : json_object_new_int(d->iommu_group));
		json_object_object_add(o, "boot_vga", json_object_new_boolean(d->boot_vga));
		json_object_array_add(devs, o);
	}
	json_object_object_add(root, "devices", devs);
	devs = NULL;
	for (size_t i = 0; i < scan->n_groups; i++) {
		json_object *o = json_object_new_object();
		if (!o)
			goto oom;
		json_object_object_add(o, "id", json_object_new_int(scan->groups[i].id));
		json_object_object_add(o, "devices",
				       addr_array(scan, scan->groups[i].devices, scan->groups[i].n_devices));
		json_object_array_add(groups, o);
	}
	json_object_object_add(root, "groups", groups);
	groups = NULL;
	for (size_t i = 0; i < scan->n_gpus; i++) {
		const struct nr_gpu *g = &scan->gpus[i];
		const struct nr_pci_dev *d = &scan->devices[g->dev];
		json_object *o = json_object_new_object(), *ids = json_object_new_array();
		char idbuf[10], *verdict;
		if (!o || !ids)
			goto oom;
		json_object_object_add(o, "addr", json_object_new_string(d->addr));
		json_object_object_add(o, "name", json_object_new_string(nr_pci_name(d)));
		json_object_object_add(o, "boot_vga", json_object_new_boolean(g->boot_vga));
		json_object_object_add(o, "iommu_group",
				       d->iommu_group < 0 ? NULL : json_object_new_int(d->iommu_group));
		json_object_object_add(o, "functions", addr_array(scan, g->functions, g->n_functions));
		json_object_object_add(o, "isolated", json_object_new_boolean(g->isolated));
		for (size_t k = 0; k < g->n_vfio_ids; k++)
			json_object_array_add(ids, json_object_new_string(nr_vfio_id_str(g->vfio_ids[k], idbuf)));
		json_object_object_add(o, "vfio_ids", ids);
		json_object_object_add(o, "blockers", addr_array(scan, g->blockers, g->n_blockers));
		json_object_object_add(o, "passthrough_set", addr_array(scan, g->set, g->n_set));
		json_object_object_add(o, "host_collisions", addr_array(scan, g->collisions, g->n_collisions));
		json_object_object_add(o, "bind_by_address", json_object_new_boolean(g->bind_by_address));
		verdict = nr_gpu_verdict(scan, g);
		json_object_object_add(o, "verdict", nullable_string(verdict));
		free(verdict);
		json_object_array_add(gpus, o);
	}
	json_object_object_add(root, "gpus", gpus);
	gpus = NULL;
	json_object_object_add(host, "cpu_vendor", json_object_new_string(scan->host.cpu_vendor_id));
	json_object_object_add(host, "vmx", json_object_new_boolean(scan->host.vmx));
	json_object_object_add(host, "svm", json_object_new_boolean(scan->host.svm));
	json_object_object_add(host, "cmdline", json_object_new_string(scan->host.cmdline));
	json_object_object_add(root, "host", host);
	host = NULL;

	s = json_object_to_json_string_ext(root, (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN) | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s)
		goto oom;
	*out = strdup(s);
	json_object_put(root);
	if (!*out)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	return 0;
oom:
	json_object_put(root);
	json_object_put(devs);
	json_object_put(groups);
	json_object_put(gpus);
	json_object_put(host);
	return nr_error_set(err, -NR_E_NOMEM, NULL);
}
