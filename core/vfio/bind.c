/* gpu bind / unbind at runtime: the kernel's driver_override dance, planned as a list of
 * sysfs writes so that the CLI can show it and the tests can check it exactly. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/internal.h"
#include "neuron/bind.h"

static int add_write(struct nr_bind_plan *plan, const struct nr_ctx *ctx, const char *rel, const char *value,
		     struct nr_error *err)
{
	struct nr_bind_write *w = realloc(plan->writes, (plan->n_writes + 1) * sizeof(*w));

	if (!w)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	plan->writes = w;
	w = &plan->writes[plan->n_writes];
	w->path = nr_ctx_sys_path(ctx, rel);
	w->value = strdup(value);
	if (!w->path || !w->value) {
		free(w->path);
		free(w->value);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	plan->n_writes++;
	return 0;
}

static int writef(struct nr_bind_plan *plan, const struct nr_ctx *ctx, const char *value, struct nr_error *err,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int writef(struct nr_bind_plan *plan, const struct nr_ctx *ctx, const char *value, struct nr_error *err,
		  const char *fmt, ...)
{
	char rel[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	return add_write(plan, ctx, rel, value, err);
}

void nr_bind_plan_free(struct nr_bind_plan *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < plan->n_devices; i++) {
		free(plan->devices[i].driver);
		free(plan->devices[i].target);
	}
	free(plan->devices);
	for (size_t i = 0; i < plan->n_writes; i++) {
		free(plan->writes[i].path);
		free(plan->writes[i].value);
	}
	free(plan->writes);
	free(plan->state_file);
	free(plan);
}

/* The remembered drivers: "ADDR DRIVER" lines, "-" for none. */
static char *remembered(const char *state, const char *addr)
{
	char *text, *line, *save = NULL, *found = NULL;

	if (nr_read_file(state, &text, NULL, NULL) < 0)
		return NULL;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char a[NR_ADDR_LEN + 8], d[128];
		if (sscanf(line, "%20s %127s", a, d) == 2 && strcmp(a, addr) == 0) {
			found = strdup(d);
			break;
		}
	}
	free(text);
	return found;
}

static bool driver_loaded(const struct nr_ctx *ctx, const char *driver)
{
	char rel[256], *path;
	struct stat st;
	bool ok;

	snprintf(rel, sizeof(rel), "sys/bus/pci/drivers/%s", driver);
	path = nr_ctx_sys_path(ctx, rel);
	ok = path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
	free(path);
	return ok;
}

static int refuse_busy(const struct nr_bind_busy *busy, const char *addr, struct nr_error *err)
{
	for (size_t i = 0; busy && i < busy->n; i++)
		if (strcmp(busy->addrs[i], addr) == 0)
			return nr_error_set(err, -NR_E_BUSY, "%s is in use by the running VM %s: stop the VM first "
					    "(neuronctl vm stop '%s')", addr, busy->owners[i], busy->owners[i]);
	return 0;
}

int nr_bind_plan_new(const struct nr_ctx *ctx, const struct nr_scan *scan, const char *gpu_addr, bool to_vfio,
		     unsigned flags, const struct nr_bind_busy *busy, struct nr_bind_plan **out,
		     struct nr_error *err)
{
	const struct nr_pci_dev *dev = nr_scan_device(scan, gpu_addr);
	const struct nr_gpu *g = nr_scan_gpu(scan, gpu_addr);
	struct nr_bind_plan *plan;
	char *dir = NULL;
	int rc = 0;

	*out = NULL;
	if (!dev)
		return nr_error_set(err, -NR_E_NODEVICE, "there is no PCI device %s (see 'neuronctl scan')", gpu_addr);
	if (!g)
		return nr_error_set(err, -NR_E_NODEVICE, "%s is not a GPU (class %04x); name the GPU's own function",
				    dev->addr, dev->class_id);
	if (!scan->iommu)
		return nr_error_set(err, -NR_E_NOIOMMU, "the IOMMU is off, so vfio-pci cannot take %s: "
				    "run 'neuronctl check' for the kernel options", dev->addr);
	if (to_vfio && g->boot_vga && !(flags & NR_BIND_FORCE))
		return nr_error_set(err, -NR_E_REFUSED, "%s is the boot GPU: it drives the host's console, which "
				    "goes dark without it; use --force for the single-GPU path", dev->addr);
	if (to_vfio && !g->isolated) {
		struct nr_buf b;
		nr_buf_init(&b);
		for (size_t i = 0; i < g->n_blockers; i++)
			nr_buf_printf(&b, "%s%s", i ? ", " : "", scan->devices[g->blockers[i]].addr);
		rc = nr_error_set(err, -NR_E_REFUSED, "%s is not isolated: its IOMMU group also holds %s, which "
				  "would go to vfio-pci too; see 'neuronctl check'", dev->addr,
				  b.data ? b.data : "other devices");
		nr_buf_done(&b);
		return rc;
	}
	for (size_t i = 0; i < g->n_set; i++) {
		const struct nr_pci_dev *d = &scan->devices[g->set[i]];
		if (!nr_pci_is_bridge(d) && (rc = refuse_busy(busy, d->addr, err)) < 0)
			return rc;
	}
	if (to_vfio && !driver_loaded(ctx, NR_VFIO_DRIVER))
		return nr_error_set(err, -NR_E_NOTFOUND, "the vfio-pci driver is not loaded: modprobe vfio-pci");

	plan = calloc(1, sizeof(*plan));
	if (!plan)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	memcpy(plan->gpu, dev->addr, sizeof(plan->gpu));
	plan->to_vfio = to_vfio;
	dir = nr_ctx_runtime_dir(ctx);
	if (!dir || asprintf(&plan->state_file, "%s/gpu-bind/%s", dir, dev->addr) < 0) {
		plan->state_file = NULL;
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto out;
	}
	plan->devices = calloc(g->n_set ? g->n_set : 1, sizeof(*plan->devices));
	if (!plan->devices) {
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto out;
	}
	for (size_t i = 0; i < g->n_set && rc == 0; i++) {
		const struct nr_pci_dev *d = &scan->devices[g->set[i]];
		struct nr_bind_device *bd;
		const char *drv = d->driver;
		char *orig = NULL;

		if (nr_pci_is_bridge(d))
			continue;
		bd = &plan->devices[plan->n_devices++];
		memcpy(bd->addr, d->addr, sizeof(bd->addr));
		if (drv && !(bd->driver = strdup(drv))) {
			rc = nr_error_set(err, -NR_E_NOMEM, NULL);
			break;
		}
		if (to_vfio) {
			if (!(bd->target = strdup(NR_VFIO_DRIVER))) {
				rc = nr_error_set(err, -NR_E_NOMEM, NULL);
				break;
			}
			if (drv && strcmp(drv, NR_VFIO_DRIVER) == 0)
				continue;   /* already there */
			/* override first, so that nothing but vfio-pci can claim it once unbound */
			rc = writef(plan, ctx, NR_VFIO_DRIVER, err, "sys/bus/pci/devices/%s/driver_override", d->addr);
			if (rc == 0 && drv)
				rc = writef(plan, ctx, d->addr, err, "sys/bus/pci/drivers/%s/unbind", drv);
			if (rc == 0)
				rc = writef(plan, ctx, d->addr, err, "sys/bus/pci/drivers_probe");
			continue;
		}
		/* give back: only what vfio-pci holds (or what is left unbound) */
		if (drv && strcmp(drv, NR_VFIO_DRIVER) != 0)
			continue;
		orig = remembered(plan->state_file, d->addr);
		if (orig && strcmp(orig, "-") == 0) {
			free(orig);
			orig = NULL;
		}
		rc = writef(plan, ctx, "\n", err, "sys/bus/pci/devices/%s/driver_override", d->addr);
		if (rc == 0 && drv)
			rc = writef(plan, ctx, d->addr, err, "sys/bus/pci/drivers/%s/unbind", drv);
		if (rc == 0 && orig && driver_loaded(ctx, orig))
			rc = writef(plan, ctx, d->addr, err, "sys/bus/pci/drivers/%s/bind", orig);
		else if (rc == 0)
			rc = writef(plan, ctx, d->addr, err, "sys/bus/pci/drivers_probe");
		bd->target = orig;  /* NULL: whatever the kernel picks */
	}
out:
	free(dir);
	if (rc < 0) {
		nr_bind_plan_free(plan);
		return rc;
	}
	*out = plan;
	return 0;
}

static int save_state(const struct nr_bind_plan *plan, struct nr_error *err)
{
	char *dir = strdup(plan->state_file), *slash, tmp[4200];
	struct nr_buf b;
	struct stat st;
	int fd, rc = 0;

	if (!dir)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	/* a second bind keeps the first record: by then the drivers are vfio-pci */
	if (stat(plan->state_file, &st) == 0) {
		free(dir);
		return 0;
	}
	slash = strrchr(dir, '/');
	*slash = '\0';
	if ((rc = nr_mkdir_p(dir, 0755, err)) < 0) {
		free(dir);
		return rc;
	}
	free(dir);
	nr_buf_init(&b);
	for (size_t i = 0; i < plan->n_devices; i++)
		nr_buf_printf(&b, "%s %s\n", plan->devices[i].addr,
			      plan->devices[i].driver ? plan->devices[i].driver : "-");
	if (b.oom)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	snprintf(tmp, sizeof(tmp), "%s.tmp", plan->state_file);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, b.data, b.len) != (ssize_t)b.len || fsync(fd) < 0 || close(fd) < 0 ||
	    rename(tmp, plan->state_file) < 0) {
		rc = nr_error_set(err, -NR_E_IO, "cannot record the original drivers in %s: %s", plan->state_file,
				  strerror(errno));
		unlink(tmp);
	}
	nr_buf_done(&b);
	return rc;
}

int nr_bind_apply(const struct nr_ctx *ctx, const struct nr_bind_plan *plan, struct nr_error *err)
{
	int rc;

	(void)ctx;
	if (plan->to_vfio && plan->n_writes && (rc = save_state(plan, err)) < 0)
		return rc;
	for (size_t i = 0; i < plan->n_writes; i++) {
		const struct nr_bind_write *w = &plan->writes[i];

		rc = nr_sysfs_write_path(w->path, w->value, err);
		/* the kernel answers a probe that found no driver with an error: harmless */
		if (rc == -NR_E_IO && strstr(w->path, "drivers_probe")) {
			nr_error_clear(err);
			continue;
		}
		if (rc < 0)
			return rc;
	}
	if (!plan->to_vfio && unlink(plan->state_file) < 0 && errno != ENOENT)
		return nr_error_set(err, -NR_E_IO, "cannot remove %s: %s", plan->state_file, strerror(errno));
	return 0;
}
