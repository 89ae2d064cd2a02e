/* nr_scan_new(): devices from sysfs (pci.c), IOMMU groups from sys/kernel/iommu_groups, host facts. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "scan/scan_internal.h"



static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

static long find_dev(const struct nr_scan *scan, const char *addr)
{
	size_t lo = 0, hi = scan->n_devices;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(scan->devices[mid].addr, addr);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Groups: the directory listing is the truth, and the only reading (a device listed in a
 * group gets that group; its own iommu_group link would say the same, one readlink more). */
static int read_groups(const struct nr_ctx *ctx, struct nr_scan *scan, struct nr_error *err)
{
	char *dir = nr_ctx_sys_path(ctx, "sys/kernel/iommu_groups");
	int *ids = NULL;
	size_t n = 0, cap = 0;
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (!dir)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	d = opendir(dir);
	if (!d) {
		free(dir);
		return 0; /* no groups: IOMMU off */
	}
	while ((e = readdir(d))) {
		char *end;
		long id = strtol(e->d_name, &end, 10);
		if (e->d_name[0] == '.' || *end || id < 0)
			continue;
		if (n == cap) {
			int *p = realloc(ids, (cap = cap ? cap * 2 : 64) * sizeof(*ids));
			if (!p) {
				rc = nr_error_set(err, -NR_E_NOMEM, NULL);
				goto out;
			}
			ids = p;
		}
		ids[n++] = (int)id;
	}
	if (n)
		qsort(ids, n, sizeof(*ids), cmp_int);
	scan->groups = calloc(n ? n : 1, sizeof(*scan->groups));
	if (!scan->groups) {
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto out;
	}
	for (size_t g = 0; g < n; g++) {
		struct nr_iommu_group *grp = &scan->groups[g];
		char sub[64];
		char *gdir;
		DIR *gd;
		size_t gcap = 0;

		grp->id = ids[g];
		scan->n_groups = g + 1;
		snprintf(sub, sizeof(sub), "%d/devices", ids[g]);
		gdir = nr_path_join(dir, sub);
		if (!gdir) {
			rc = nr_error_set(err, -NR_E_NOMEM, NULL);
			goto out;
		}
		gd = opendir(gdir);
		free(gdir);
		if (!gd)
			continue;
		while ((e = readdir(gd))) {
			char addr[NR_ADDR_LEN];
			long idx;
			if (e->d_name[0] == '.' || nr_pci_parse_addr(e->d_name, addr) < 0)
				continue;
			idx = find_dev(scan, addr);
			if (idx < 0)
				continue; /* listed but not a PCI device we can read */
			if (grp->n_devices == gcap) {
				size_t *p = realloc(grp->devices, (gcap = gcap ? gcap * 2 : 4) * sizeof(*p));
				if (!p) {
					closedir(gd);
					rc = nr_error_set(err, -NR_E_NOMEM, NULL);
					goto out;
				}
				grp->devices = p;
			}
			grp->devices[grp->n_devices++] = (size_t)idx;
			scan->devices[idx].iommu_group = grp->id;
		}
		closedir(gd);
		if (grp->n_devices)
			qsort(grp->devices, grp->n_devices, sizeof(size_t), cmp_size);
	}
	scan->iommu = n > 0;
out:
	closedir(d);
	free(ids);
	free(dir);
	return rc;
}

int nr_scan_new(const struct nr_ctx *ctx, struct nr_scan **out, struct nr_error *err)
{
	struct nr_scan *scan;
	int rc;

	*out = NULL;
	scan = calloc(1, sizeof(*scan));
	if (!scan)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	rc = nr_pci_read(ctx, scan, err);
	if (rc == 0)
		rc = read_groups(ctx, scan, err);
	if (rc == 0)
		rc = nr_host_read(ctx, &scan->host, err);
	if (rc == 0)
		rc = nr_gpu_analyse(scan, err);
	if (rc < 0) {
		nr_scan_free(scan);
		return rc;
	}
	*out = scan;
	return 0;
}

void nr_scan_free(struct nr_scan *scan)
{
	if (!scan)
		return;
	for (size_t i = 0; i < scan->n_devices; i++)
		nr_pci_dev_done(&scan->devices[i]);
	free(scan->devices);
	for (size_t i = 0; i < scan->n_groups; i++)
		free(scan->groups[i].devices);
	free(scan->groups);
	for (size_t i = 0; i < scan->n_gpus; i++) {
		struct nr_gpu *g = &scan->gpus[i];
		free(g->functions);
		free(g->groups);
		free(g->set);
		free(g->blockers);
		free(g->vfio_ids);
		free(g->collisions);
	}
	free(scan->gpus);
	nr_host_done(&scan->host);
	nr_pci_names_free(scan->names);
	free(scan);
}

const struct nr_pci_dev *nr_scan_device(const struct nr_scan *scan, const char *addr)
{
	char canon[NR_ADDR_LEN];
	long i;

	if (nr_pci_parse_addr(addr, canon) < 0)
		return NULL;
	i = find_dev(scan, canon);
	return i < 0 ? NULL : &scan->devices[i];
}

const struct nr_gpu *nr_scan_gpu(const struct nr_scan *scan, const char *addr)
{
	const struct nr_pci_dev *d = nr_scan_device(scan, addr);

	for (size_t i = 0; d && i < scan->n_gpus; i++)
		if (&scan->devices[scan->gpus[i].dev] == d)
			return &scan->gpus[i];
	return NULL;
}

const struct nr_iommu_group *nr_scan_group(const struct nr_scan *scan, int id)
{
	for (size_t i = 0; i < scan->n_groups; i++)
		if (scan->groups[i].id == id)
			return &scan->groups[i];
	return NULL;
}

const struct nr_gpu *nr_scan_best_gpu(const struct nr_scan *scan)
{
	for (size_t i = 0; i < scan->n_gpus; i++)
		if (scan->gpus[i].isolated && !scan->gpus[i].boot_vga)
			return &scan->gpus[i];
	return NULL;
}
