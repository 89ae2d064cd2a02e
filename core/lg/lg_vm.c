/* A VM's Looking Glass shared memory: which it is (from nr_domain_inspect, the one reader of
 * the domain XML), and whether the current user may open it. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "neuron/domain.h"
#include "neuron/lg.h"
#include "neuron/virt.h"

int nr_lg_shm_of(const struct nr_domain_info *info, const char **path, unsigned *size_mib,
		 struct nr_error *err)
{
	*path = NULL;
	*size_mib = 0;
	if (info->lg != NR_DOMAIN_LG_NONE && info->lg_path) {
		*path = info->lg_path;
		*size_mib = info->lg_size_mib;
		return 0;
	}
	if (info->ivshmem_other)
		return nr_error_set(err, -NR_E_NOTFOUND,
				    "the VM has no Looking Glass shared memory: its IVSHMEM memory %s is not named "
				    "for Looking Glass (name the <shmem> '%s', or give the file with --shm)",
				    info->ivshmem_other, NR_LG_SHM_NAME);
	return nr_error_set(err, -NR_E_NOTFOUND,
			    "the VM has no Looking Glass shared memory (no <shmem name='%s'> device and no "
			    "ivshmem-plain on a kvmfr memory-backend-file in <qemu:commandline>)", NR_LG_SHM_NAME);
}

int nr_lg_vm_shm(struct nr_virt *virt, const char *vm, char **path, unsigned *size_mib,
		 struct nr_error *err)
{
	struct nr_domain_info *info = NULL;
	const char *p;
	char *xml;
	int rc;

	*path = NULL;
	*size_mib = 0;
	rc = nr_virt_domain_xml(virt, vm, &xml, err);
	if (rc < 0)
		return rc;
	rc = nr_domain_inspect(xml, &info, err);
	free(xml);
	if (rc == 0 && (rc = nr_lg_shm_of(info, &p, size_mib, err)) == 0 && !(*path = strdup(p)))
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
	nr_domain_info_free(info);
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

bool nr_lg_carries_clipboard(const char *shm_path, bool spice, char *why, size_t size)
{
	struct nr_lg_snapshot snap;
	struct nr_error err = { 0 };

	if (!shm_path || nr_lg_read(shm_path, &snap, &err) < 0 || snap.kind != NR_LG_SHM_HEADER)
		return false;
	if (snap.kvmfr && (snap.features & NR_LG_FEATURE_CLIPBOARD)) {
		snprintf(why, size, "the Looking Glass host %s in %s carries the clipboard itself (KVMFR feature clipboard)",
			 snap.host_version[0] ? snap.host_version : "(no version)", shm_path);
		return true;
	}
	if (spice && snap.layout && strcmp(snap.layout, "b7") == 0) {
		snprintf(why, size, "the Looking Glass B7 host in %s carries the clipboard over the VM's SPICE channel",
			 shm_path);
		return true;
	}
	return false;
}
