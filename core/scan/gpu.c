/* GPU verdicts, exactly as DESIGN.md defines them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "scan/scan_internal.h"

const char *nr_vfio_id_str(uint32_t id, char buf[10])
{
	snprintf(buf, 10, "%04x:%04x", id >> 16, id & 0xffff);
	return buf;
}

static uint32_t dev_id(const struct nr_pci_dev *d)
{
	return (uint32_t)d->vendor << 16 | d->device;
}

/* A small set of indices kept in insertion order without duplicates. */
struct idx_list {
	size_t *v;
	size_t n, cap;
};

static int idx_add(struct idx_list *l, size_t x)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == x)
			return 0;
	if (l->n == l->cap) {
		size_t *p = realloc(l->v, (l->cap = l->cap ? l->cap * 2 : 8) * sizeof(*p));
		if (!p)
			return -NR_E_NOMEM;
		l->v = p;
	}
	l->v[l->n++] = x;
	return 0;
}

static bool idx_has(const size_t *v, size_t n, size_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

static int analyse_one(struct nr_scan *scan, size_t gi, struct nr_gpu *g)
{
	const struct nr_pci_dev *gd = &scan->devices[gi];
	struct idx_list funcs = { 0 }, set = { 0 }, blockers = { 0 }, coll = { 0 };
	int *groups = NULL;
	uint32_t *ids = NULL;
	size_t n_groups = 0, n_ids = 0;
	bool grouped = true;
	int rc = 0;

	g->dev = gi;
	g->boot_vga = gd->boot_vga;

	/* Functions: same domain:bus:device (devices are sorted, so they are adjacent). */
	for (size_t i = 0; i < scan->n_devices; i++) {
		const struct nr_pci_dev *d = &scan->devices[i];
		if (d->domain == gd->domain && d->bus == gd->bus && d->dev == gd->dev)
			if ((rc = idx_add(&funcs, i)) < 0)
				goto fail;
	}
	/* The passthrough set: union of the functions' groups. */
	groups = calloc(funcs.n, sizeof(*groups));
	if (!groups && funcs.n) {
		rc = -NR_E_NOMEM;
		goto fail;
	}
	for (size_t f = 0; f < funcs.n; f++) {
		int id = scan->devices[funcs.v[f]].iommu_group;
		bool seen = false;
		if (id < 0) {
			grouped = false;
			continue;
		}
		for (size_t k = 0; k < n_groups; k++)
			seen |= groups[k] == id;
		if (!seen)
			groups[n_groups++] = id;
	}
	for (size_t k = 0; k < n_groups; k++) {
		const struct nr_iommu_group *grp = nr_scan_group(scan, groups[k]);
		for (size_t j = 0; grp && j < grp->n_devices; j++)
			if ((rc = idx_add(&set, grp->devices[j])) < 0)
				goto fail;
	}
	/* A function without a group (IOMMU off) still belongs to what would move. */
	for (size_t f = 0; f < funcs.n; f++)
		if ((rc = idx_add(&set, funcs.v[f])) < 0)
			goto fail;
	if (set.n)
		qsort(set.v, set.n, sizeof(size_t), cmp_size);

	ids = calloc(set.n ? set.n : 1, sizeof(*ids));
	if (!ids) {
		rc = -NR_E_NOMEM;
		goto fail;
	}
	for (size_t s = 0; s < set.n; s++) {
		const struct nr_pci_dev *d = &scan->devices[set.v[s]];
		bool seen = false;
		if (nr_pci_is_bridge(d))
			continue;
		if (!idx_has(funcs.v, funcs.n, set.v[s]))
			if ((rc = idx_add(&blockers, set.v[s])) < 0)
				goto fail;
		for (size_t k = 0; k < n_ids; k++)
			seen |= ids[k] == dev_id(d);
		if (!seen)
			ids[n_ids++] = dev_id(d);
	}
	/* Host devices (outside the set, not bridges) that a vfio-pci ids= would grab too. */
	for (size_t i = 0; i < scan->n_devices; i++) {
		const struct nr_pci_dev *d = &scan->devices[i];
		if (nr_pci_is_bridge(d) || idx_has(set.v, set.n, i))
			continue;
		for (size_t k = 0; k < n_ids; k++)
			if (ids[k] == dev_id(d)) {
				if ((rc = idx_add(&coll, i)) < 0)
					goto fail;
				break;
			}
	}

	g->functions = funcs.v;
	g->n_functions = funcs.n;
	g->groups = groups;
	g->n_groups = n_groups;
	g->set = set.v;
	g->n_set = set.n;
	g->blockers = blockers.v;
	g->n_blockers = blockers.n;
	g->vfio_ids = ids;
	g->n_vfio_ids = n_ids;
	g->collisions = coll.v;
	g->n_collisions = coll.n;
	g->bind_by_address = coll.n > 0;
	/* Without an IOMMU group nothing can be passed through, however alone it is. */
	g->isolated = grouped && n_groups > 0 && blockers.n == 0;
	return 0;
fail:
	free(funcs.v);
	free(set.v);
	free(blockers.v);
	free(coll.v);
	free(groups);
	free(ids);
	return rc;
}

int nr_gpu_analyse(struct nr_scan *scan, struct nr_error *err)
{
	size_t n = 0;

	for (size_t i = 0; i < scan->n_devices; i++)
		n += nr_pci_is_gpu(&scan->devices[i]);
	scan->gpus = calloc(n ? n : 1, sizeof(*scan->gpus));
	if (!scan->gpus)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	for (size_t i = 0; i < scan->n_devices; i++) {
		int rc;
		if (!nr_pci_is_gpu(&scan->devices[i]))
			continue;
		rc = analyse_one(scan, i, &scan->gpus[scan->n_gpus]);
		if (rc < 0)
			return nr_error_set(err, rc, NULL);
		scan->n_gpus++;
	}
	return 0;
}

static void list_addrs(struct nr_buf *b, const struct nr_scan *scan, const size_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		nr_buf_printf(b, "%s%s", i ? ", " : "", nr_pci_short_addr(&scan->devices[v[i]]));
}

char *nr_gpu_verdict(const struct nr_scan *scan, const struct nr_gpu *g)
{
	struct nr_buf b;

	nr_buf_init(&b);
	if (g->n_groups == 0) {
		nr_buf_puts(&b, "cannot be passed through: the IOMMU is off (no IOMMU groups)");
	} else if (!g->isolated) {
		nr_buf_printf(&b, "not isolated: IOMMU group%s ", g->n_groups > 1 ? "s" : "");
		for (size_t k = 0; k < g->n_groups; k++)
			nr_buf_printf(&b, "%s%d", k ? ", " : "", g->groups[k]);
		nr_buf_printf(&b, " also hold%s ", g->n_groups > 1 ? "" : "s");
		list_addrs(&b, scan, g->blockers, g->n_blockers);
		nr_buf_puts(&b, ", which would have to go to the VM with it");
	} else if (g->boot_vga) {
		nr_buf_puts(&b, "isolated, but it is the boot GPU: the host console runs on it, "
				"so it needs the single-GPU path");
	} else {
		nr_buf_puts(&b, "isolated: ready for passthrough");
	}
	if (g->n_groups > 0 && g->bind_by_address) {
		nr_buf_puts(&b, "; bind by address, not by id: ");
		list_addrs(&b, scan, g->collisions, g->n_collisions);
		nr_buf_printf(&b, " ha%s the same ids and stay%s with the host",
			      g->n_collisions > 1 ? "ve" : "s", g->n_collisions > 1 ? "" : "s");
	}
	return nr_buf_steal(&b);
}

int nr_gpu_choosable(const struct nr_scan *scan, const struct nr_gpu *g, bool force,
		     bool include_group, struct nr_error *err)
{
	const struct nr_pci_dev *d = &scan->devices[g->dev];
	const struct nr_iommu_params *ip = nr_iommu_params(scan->host.cpu_vendor);
	struct nr_buf b;

	if (!scan->iommu || g->n_groups == 0)
		return nr_error_set(err, -NR_E_NOIOMMU,
				    "the IOMMU is off on this machine (no IOMMU groups): turn on %s in the "
				    "firmware and boot with %s (the VFIO plan adds it); without groups the "
				    "isolation of a GPU cannot be judged", ip->firmware, ip->by_hand);
	if (g->boot_vga && !force)
		return nr_error_set(err, -NR_E_BOOTGPU,
				    "%s drives the host console (boot VGA): binding it to vfio-pci at boot "
				    "leaves the host without a display. Lend it to a VM in single-GPU mode "
				    "instead (a VM whose profile names it, started with 'neuronctl vm start': "
				    "no binding at boot); or pick another GPU with --gpu, or pass --force if "
				    "another GPU really drives your console (or to use the host without a "
				    "display, over SSH)", d->addr);
	if (!g->isolated && !include_group) {
		nr_buf_init(&b);
		for (size_t i = 0; i < g->n_blockers; i++)
			nr_buf_printf(&b, "%s%s", i ? ", " : "", scan->devices[g->blockers[i]].addr);
		nr_error_set(err, -NR_E_GROUP,
			     "%s is not isolated: its IOMMU group also holds %s, which would have to leave "
			     "the host with it. Pass --include-group to give them to the guest too, move "
			     "the card to a slot with its own group, or check the firmware's ACS setting",
			     d->addr, b.data ? b.data : "other devices");
		nr_buf_done(&b);
		return -NR_E_GROUP;
	}
	return 0;
}
