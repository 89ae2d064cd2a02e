/* Host facts: SYSROOT/proc/cpuinfo, SYSROOT/proc/cmdline, SYSROOT/sys/{kernel/iommu_groups,class/iommu}. */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "scan/scan_internal.h"
#include "neuron/host.h"

const char *nr_cpu_vendor_name(enum nr_cpu_vendor v)
{
	switch (v) {
	case NR_CPU_INTEL: return "Intel";
	case NR_CPU_AMD: return "AMD";
	default: return "unknown";
	}
}

/* One row per vendor. An unknown vendor gets no guess: a wrong intel_iommu/amd_iommu is
 * harmless but a guess would hide that the user must add the right one by hand, so the
 * plan adds only iommu=pt and says which to add; the checklist accepts either. */
static const struct nr_iommu_params iommu_rows[] = {
	[NR_CPU_UNKNOWN] = { NULL, NULL, "iommu=pt", "intel_iommu=on (Intel) or amd_iommu=on (AMD)",
			     "VT-d (Intel) or AMD-Vi/IOMMU (AMD)" },
	[NR_CPU_INTEL] = { "intel_iommu=on", "intel_iommu", "iommu=pt", "intel_iommu=on", "VT-d" },
	[NR_CPU_AMD] = { "amd_iommu=on", "amd_iommu", "iommu=pt", "amd_iommu=on", "AMD-Vi/IOMMU" },
};

const struct nr_iommu_params *nr_iommu_params(enum nr_cpu_vendor v)
{
	return (size_t)v < sizeof(iommu_rows) / sizeof(iommu_rows[0]) ? &iommu_rows[v] : &iommu_rows[NR_CPU_UNKNOWN];
}

/* Walk the command line the way the kernel splits it: spaces separate
 * parameters except inside double quotes. Calls fn for each "name[=value]". */
static const char *next_param(const char *p, const char **start, size_t *len)
{
	bool quoted = false;

	while (*p && isspace((unsigned char)*p))
		p++;
	if (!*p)
		return NULL;
	*start = p;
	for (; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted && isspace((unsigned char)*p))
			break;
	}
	*len = (size_t)(p - *start);
	return p;
}

/* Kernel parameter names treat '-' and '_' alike. */
static bool param_name_eq(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);

	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++) {
		char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];
		if (x != y)
			return false;
	}
	return true;
}

char *nr_cmdline_get(const char *cmdline, const char *param)
{
	const char *p = cmdline, *start;
	char *found = NULL;
	size_t len;

	if (!cmdline)
		return NULL;
	while ((p = next_param(p, &start, &len))) {
		size_t nlen = strcspn(start, "= \t\n");
		if (nlen > len)
			nlen = len;
		if (!param_name_eq(start, nlen, param))
			continue;
		free(found);
		if (nlen < len) {
			const char *v = start + nlen + 1;
			size_t vlen = len - nlen - 1;
			if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"')
				v++, vlen -= 2;
			found = strndup(v, vlen);
		} else {
			found = strdup("");
		}
		if (!found)
			return NULL;
	}
	return found;
}

bool nr_cmdline_has(const char *cmdline, const char *param)
{
	char *v = nr_cmdline_get(cmdline, param);
	bool has = v != NULL;

	free(v);
	return has;
}

static void parse_cpuinfo(struct nr_host *h, char *text)
{
	char *line, *save = NULL;
	bool seen_flags = false;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');
		char *key_end, *val;

		if (!colon)
			continue;
		key_end = colon;
		while (key_end > line && isspace((unsigned char)key_end[-1]))
			key_end--;
		*key_end = '\0';
		val = colon + 1;
		while (isspace((unsigned char)*val))
			val++;
		if (strcmp(line, "vendor_id") == 0 && !h->cpu_vendor_id[0]) {
			snprintf(h->cpu_vendor_id, sizeof(h->cpu_vendor_id), "%s", val);
			if (strcmp(val, "GenuineIntel") == 0)
				h->cpu_vendor = NR_CPU_INTEL;
			else if (strcmp(val, "AuthenticAMD") == 0 || strcmp(val, "HygonGenuine") == 0)
				h->cpu_vendor = NR_CPU_AMD;
		} else if (strcmp(line, "model name") == 0 && !h->cpu_model) {
			h->cpu_model = strdup(val);
		} else if (strcmp(line, "flags") == 0 && !seen_flags) {
			char *f, *fs = NULL;
			seen_flags = true;
			for (f = strtok_r(val, " \t", &fs); f; f = strtok_r(NULL, " \t", &fs)) {
				if (strcmp(f, "vmx") == 0)
					h->vmx = true;
				else if (strcmp(f, "svm") == 0)
					h->svm = true;
			}
		}
	}
}

static bool dir_has_entry(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	bool any = false;

	if (!d)
		return false;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			any = true;
			break;
		}
	closedir(d);
	return any;
}

int nr_host_read(const struct nr_ctx *ctx, struct nr_host *h, struct nr_error *err)
{
	char *path, *text = NULL;
	size_t len;

	memset(h, 0, sizeof(*h));
	path = nr_ctx_sys_path(ctx, "proc/cpuinfo");
	if (!path)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	if (nr_read_file(path, &text, &len, NULL) == 0) {
		h->have_cpuinfo = true;
		parse_cpuinfo(h, text);
		free(text);
	}
	free(path);

	path = nr_ctx_sys_path(ctx, "proc/cmdline");
	if (!path)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	if (nr_read_file(path, &text, &len, NULL) == 0) {
		h->have_cmdline = true;
		text[strcspn(text, "\n")] = '\0';
		h->cmdline = text;
	} else {
		h->cmdline = strdup("");
	}
	free(path);
	if (!h->cmdline)
		return nr_error_set(err, -NR_E_NOMEM, NULL);

	path = nr_ctx_sys_path(ctx, "sys/kernel/iommu_groups");
	h->iommu_groups = path && dir_has_entry(path);
	free(path);
	path = nr_ctx_sys_path(ctx, "sys/class/iommu");
	h->iommu_class = path && dir_has_entry(path);
	free(path);
	return 0;
}

void nr_host_done(struct nr_host *h)
{
	free(h->cmdline);
	free(h->cpu_model);
	memset(h, 0, sizeof(*h));
}
