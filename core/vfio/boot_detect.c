/* How a target root boots, read from its files (never from the running system). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfio/boot.h"
#include "base/internal.h"
#include "neuron/vfio.h"
#include "root/root.h"
#include "vfio/vfio_internal.h"

static const char *const esp_dirs[] = { "/boot", "/efi", "/boot/efi" };

bool nr_boot_cmdline_known(const struct nr_boot_setup *b)
{
	return b->grub || b->n_sdboot_entries > 0 || b->kernel_cmdline;
}

bool nr_boot_known(const struct nr_boot_setup *b)
{
	return b->initramfs && nr_boot_cmdline_known(b);
}

void nr_boot_setup_done(struct nr_boot_setup *b)
{
	if (!b)
		return;
	nr_strv_free(b->sdboot_entries, b->n_sdboot_entries);
	nr_strv_free(b->grub_dropins, b->n_grub_dropins);
	nr_strv_free(b->kernels, b->n_kernels);
	memset(b, 0, sizeof(*b));
}

/* 1 when path exists under root (a directory when dir), 0 when not, <0 on an escape. */
static int probe(const struct nr_root *r, const char *path, bool dir, struct nr_error *err)
{
	char *rel = NULL;
	struct stat st;
	int rc = nr_root_resolve(r, path, &rel, err);

	if (rc < 0)
		return rc;
	rc = nr_root_stat(r, rel, &st, NULL) == 0 && (!dir || S_ISDIR(st.st_mode)) && (dir || !S_ISDIR(st.st_mode));
	free(rel);
	return rc;
}

static int probe_any(const struct nr_root *r, const char *const *paths, struct nr_error *err)
{
	for (size_t i = 0; paths[i]; i++) {
		int rc = probe(r, paths[i], false, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in a directory under root (sorted), with the resolved relative path. */
static int list_dir(const struct nr_root *r, const char *path, char ***names, size_t *n,
		    char **rel_out, struct nr_error *err)
{
	char *rel = NULL;
	int rc = nr_root_resolve(r, path, &rel, err), fd;
	DIR *d;
	struct dirent *de;

	*names = NULL;
	*n = 0;
	if (rc < 0)
		return rc;
	fd = nr_root_open_dir(r, rel, false, NULL, NULL, NULL);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		if (rel_out)
			*rel_out = rel;
		else
			free(rel);
		return 0;
	}
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && (rc = nr_strv_add(names, n, de->d_name)) < 0)
			break;
	closedir(d);
	if (rc < 0) {
		free(rel);
		return nr_error_set(err, rc, NULL);
	}
	if (*n)
		qsort(*names, *n, sizeof(char *), cmp_str);
	if (rel_out)
		*rel_out = rel;
	else
		free(rel);
	return 0;
}

static int read_file(const struct nr_root *r, const char *path, char **text, struct nr_error *err)
{
	char *rel = NULL;
	int rc = nr_root_resolve(r, path, &rel, err);

	*text = NULL;
	if (rc == 0)
		rc = nr_root_read(r, rel, 1 << 20, text, NULL, NULL, NULL, NULL, err);
	free(rel);
	return rc;
}

static int detect_kernels(const struct nr_root *r, struct nr_boot_setup *b, struct nr_error *err)
{
	static const char *const dirs[] = { "/usr/lib/modules", "/lib/modules" };

	for (size_t i = 0; i < 2; i++) {
		char **names;
		size_t n;
		int rc = list_dir(r, dirs[i], &names, &n, NULL, err);
		if (rc < 0)
			return rc;
		for (size_t k = 0; k < n && rc == 0; k++) {
			bool dup = false;
			for (size_t q = 0; q < b->n_kernels; q++)
				dup |= strcmp(b->kernels[q], names[k]) == 0;
			if (!dup && nr_kernel_version_code(names[k]) > 0)
				rc = nr_strv_add(&b->kernels, &b->n_kernels, names[k]);
		}
		nr_strv_free(names, n);
		if (rc < 0)
			return nr_error_set(err, rc, NULL);
	}
	if (b->n_kernels)
		qsort(b->kernels, b->n_kernels, sizeof(char *), cmp_str);
	for (size_t i = 0; i < b->n_kernels; i++)
		if (nr_kernel_version_code(b->kernels[i]) < 602)
			b->needs_virqfd = true;
	return 0;
}

static int detect_initramfs(const struct nr_root *r, const char *force, struct nr_boot_setup *b,
			    struct nr_error *err)
{
	const struct nr_initramfs *const *t = nr_initramfs_table;
	int bin[16], conf[16], n_bin = 0, n_conf = 0, pick = -1, n = 0;
	char names[256];

	for (; t[n] && n < 16; n++) {
		if ((bin[n] = probe_any(r, t[n]->bins, err)) < 0)
			return bin[n];
		if ((conf[n] = probe_any(r, t[n]->confs, err)) < 0)
			return conf[n];
		if (!conf[n] && t[n]->conf_dir && (conf[n] = probe(r, t[n]->conf_dir, true, err)) < 0)
			return conf[n];
		n_bin += bin[n];
		n_conf += conf[n];
	}
	nr_initramfs_names(names, sizeof(names));
	if (force && force[0]) {
		for (int i = 0; i < n; i++)
			if (strcmp(force, t[i]->name) == 0)
				pick = i;
		if (pick < 0)
			return nr_error_set(err, -NR_E_INVAL, "unknown initramfs generator '%s' (%s)", force, names);
		snprintf(b->initramfs_evidence, sizeof(b->initramfs_evidence), "chosen with --initramfs");
	} else if (n_bin == 1 || (n_bin == 0 && n_conf == 1)) {
		for (int i = 0; i < n; i++)
			if (n_bin ? bin[i] : conf[i])
				pick = i;
		snprintf(b->initramfs_evidence, sizeof(b->initramfs_evidence), "%s%s%s",
			 conf[pick] ? t[pick]->confs[0] : "", conf[pick] && bin[pick] ? " and the program " : "",
			 bin[pick] ? t[pick]->program : "");
	} else {
		struct nr_buf found;
		nr_buf_init(&found);
		nr_buf_append(&found, "", 0);
		for (int i = 0; i < n; i++)
			if (n_bin ? bin[i] : conf[i])
				nr_buf_printf(&found, "%s%s", found.len ? ", " : "", t[i]->name);
		if (found.len)
			snprintf(b->problem, sizeof(b->problem),
				 "several initramfs generators are installed under %s (%s) and nothing says which "
				 "one builds the boot images: pass --initramfs NAME to name it",
				 r->path, found.data ? found.data : "");
		else
			snprintf(b->problem, sizeof(b->problem),
				 "no initramfs generator under %s (looked for %s): add vfio_pci vfio "
				 "vfio_iommu_type1 to your initramfs by hand, or pass --initramfs NAME",
				 r->path, names);
		nr_buf_done(&found);
		return 0;
	}
	b->initramfs = t[pick];
	return 0;
}

static int detect_loaders(const struct nr_root *r, struct nr_boot_setup *b, struct nr_error *err)
{
	static const char *const cfgs[] = { "/boot/grub/grub.cfg", "/boot/grub2/grub.cfg", NULL };
	char **seen = NULL;
	size_t n_seen = 0;
	int rc;

	if ((rc = probe(r, "/etc/default/grub", false, err)) < 0)
		return rc;
	if (rc) {
		for (size_t i = 0; cfgs[i]; i++) {
			if ((rc = probe(r, cfgs[i], false, err)) < 0)
				return rc;
			if (rc) {
				b->grub = true;
				snprintf(b->grub_cfg, sizeof(b->grub_cfg), "%s", cfgs[i]);
				break;
			}
		}
		static const char *const mk1[] = { "/usr/sbin/grub-mkconfig", "/usr/bin/grub-mkconfig",
						   "/sbin/grub-mkconfig", NULL };
		static const char *const mk2[] = { "/usr/sbin/grub2-mkconfig", "/usr/bin/grub2-mkconfig",
						   "/sbin/grub2-mkconfig", NULL };
		int has1 = probe_any(r, mk1, err), has2 = has1 < 0 ? 0 : probe_any(r, mk2, err);
		if (has1 < 0 || has2 < 0)
			return has1 < 0 ? has1 : has2;
		snprintf(b->grub_mkconfig, sizeof(b->grub_mkconfig), "%s",
			 !has1 && has2 ? "grub2-mkconfig" : "grub-mkconfig");
		char **names;
		size_t n;
		if ((rc = list_dir(r, "/etc/default/grub.d", &names, &n, NULL, err)) < 0)
			return rc;
		for (size_t k = 0; k < n && rc == 0; k++) {
			size_t len = strlen(names[k]);
			char path[512];
			if (len < 5 || strcmp(names[k] + len - 4, ".cfg") != 0)
				continue;
			snprintf(path, sizeof(path), "/etc/default/grub.d/%s", names[k]);
			rc = nr_strv_add(&b->grub_dropins, &b->n_grub_dropins, path);
		}
		nr_strv_free(names, n);
		if (rc < 0)
			return nr_error_set(err, rc, NULL);
	}
	for (size_t i = 0; i < 3; i++) {
		char dir[64], *rel = NULL, **names;
		size_t n;
		snprintf(dir, sizeof(dir), "%s/loader/entries", esp_dirs[i]);
		if ((rc = list_dir(r, dir, &names, &n, &rel, err)) < 0)
			return rc;
		bool dup = false;
		for (size_t q = 0; q < n_seen; q++)
			dup |= strcmp(seen[q], rel) == 0;
		if (!dup)
			rc = nr_strv_add(&seen, &n_seen, rel);
		free(rel);
		for (size_t k = 0; k < n && !dup && rc == 0; k++) {
			size_t len = strlen(names[k]);
			char path[512], *text = NULL;
			if (len < 6 || strcmp(names[k] + len - 5, ".conf") != 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, names[k]);
			rc = read_file(r, path, &text, err);
			if (rc == -NR_E_NOTFOUND || rc == -NR_E_PERM) {
				nr_error_clear(err);
				rc = 0;
				continue;
			}
			if (rc == 0 && nr_sdboot_is_linux(text))
				rc = nr_strv_add(&b->sdboot_entries, &b->n_sdboot_entries, path);
			free(text);
		}
		nr_strv_free(names, n);
		if (rc < 0) {
			nr_strv_free(seen, n_seen);
			return rc == -NR_E_NOMEM ? nr_error_set(err, rc, NULL) : rc;
		}
		/* unified kernel images */
		snprintf(dir, sizeof(dir), "%s/EFI/Linux", esp_dirs[i]);
		if ((rc = list_dir(r, dir, &names, &n, NULL, err)) < 0) {
			nr_strv_free(seen, n_seen);
			return rc;
		}
		for (size_t k = 0; k < n; k++) {
			size_t len = strlen(names[k]);
			if (len > 4 && strcasecmp(names[k] + len - 4, ".efi") == 0)
				b->ukis = true;
		}
		nr_strv_free(names, n);
	}
	nr_strv_free(seen, n_seen);
	if ((rc = probe(r, "/etc/kernel/cmdline", false, err)) < 0)
		return rc;
	b->kernel_cmdline = rc;
	char *conf = NULL;
	rc = read_file(r, "/etc/kernel/install.conf", &conf, err);
	if (rc == -NR_E_NOTFOUND) {
		nr_error_clear(err);
		rc = 0;
	}
	if (rc < 0)
		return rc;
	if (conf) {
		for (char *line = conf; line && *line;) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			while (*line == ' ' || *line == '\t')
				line++;
			if (strncmp(line, "layout=uki", 10) == 0 || strncmp(line, "layout=\"uki\"", 12) == 0)
				b->kernel_install_uki = true;
			line = nl ? nl + 1 : NULL;
		}
		free(conf);
	}
	return 0;
}

int nr_boot_detect(const struct nr_ctx *ctx, const char *initramfs, struct nr_boot_setup *out,
		   struct nr_error *err)
{
	struct nr_root r;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = nr_root_open(&r, nr_ctx_get(ctx, "root"), err)) < 0)
		return rc;
	if ((rc = detect_kernels(&r, out, err)) == 0 &&
	    (rc = detect_initramfs(&r, initramfs, out, err)) == 0)
		rc = detect_loaders(&r, out, err);
	if (rc == 0 && !out->grub && out->n_sdboot_entries == 0 && !out->kernel_cmdline) {
		size_t used = strlen(out->problem);
		const char *sep = used ? "; and " : "";
		if (out->ukis)
			snprintf(out->problem + used, sizeof(out->problem) - used,
				 "%sunified kernel images are in EFI/Linux but there is no /etc/kernel/cmdline: "
				 "create it with your kernel command line and run this again", sep);
		else
			snprintf(out->problem + used, sizeof(out->problem) - used,
				 "%sno boot loader configuration under %s (looked for /etc/default/grub with a "
				 "grub.cfg, systemd-boot entries under /boot, /efi and /boot/efi, and "
				 "/etc/kernel/cmdline): add the kernel parameters by hand", sep, r.path);
	}
	nr_root_close(&r);
	if (rc < 0)
		nr_boot_setup_done(out);
	return rc;
}
