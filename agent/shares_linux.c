/* The Linux platform's shared folders (the shares op, docs/PROTOCOL.md): shares.conf says
 * which virtio-fs tags the host shares and where they go (NAME=PATH, written by the
 * guest-tools media's setup.sh); each one not mounted yet is mounted, and the list sent is
 * what /proc/self/mountinfo shows mounted, never what the file only promises. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform.h"

#define SHARES_CONF "/etc/neuron-agent/shares.conf"
#define MOUNTINFO "/proc/self/mountinfo"
#define MOUNT_MS 5000
#define LINE_MAX_LEN 4200

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v && v[0] ? v : fallback;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo: undo it in place. */
static void unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* Whether mountinfo has a virtiofs mount of tag on path:
 * "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS" */
static bool mounted(const char *tag, const char *path)
{
	FILE *f = fopen(env_or("NEURON_AGENT_MOUNTINFO", MOUNTINFO), "r");
	char line[LINE_MAX_LEN];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *save = NULL, *field[5], *dash, *fstype, *source;
		int n = 0;
		line[strcspn(line, "\n")] = '\0';
		if (!(dash = strstr(line, " - ")))
			continue;
		*dash = '\0';
		for (char *t = strtok_r(line, " ", &save); t && n < 5; t = strtok_r(NULL, " ", &save))
			field[n++] = t;
		fstype = strtok_r(dash + 3, " ", &save);
		source = fstype ? strtok_r(NULL, " ", &save) : NULL;
		if (n < 5 || !fstype || !source || strcmp(fstype, "virtiofs") != 0)
			continue;
		unescape(field[4]);
		unescape(source);
		found = strcmp(field[4], path) == 0 && strcmp(source, tag) == 0;
	}
	fclose(f);
	return found;
}

/* A line of shares.conf as setup.sh wrote it: a tag of the usual characters and an
 * absolute path without a ".." part. */
static bool share_ok(const char *name, const char *path)
{
	if (!name[0] || strlen(name) > 36 || path[0] != '/' || strstr(path, "/../") ||
	    (strlen(path) >= 3 && strcmp(path + strlen(path) - 3, "/..") == 0))
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("_-.", *c)))
			return false;
	for (const unsigned char *c = (const unsigned char *)path; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return false;
	return true;
}

int shares_linux_list(struct agent_platform *p, const char *bundle, agent_share_fn each, void *ctx,
		      const char **code, char *why)
{
	const char *env = getenv("NEURON_AGENT_SHARES");
	char line[LINE_MAX_LEN];
	FILE *f = NULL;

	if (env && env[0]) {
		f = fopen(env, "r");
	} else {
		if (bundle && bundle[0]) {
			snprintf(line, sizeof(line), "%s/shares.conf", bundle);
			f = fopen(line, "r");
		}
		if (!f)
			f = fopen(SHARES_CONF, "r");
	}
	if (!f)
		return 0; /* no shares.conf: the host shares nothing with this guest */
	while (fgets(line, sizeof(line), f)) {
		char *eq, mount_why[256];
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || !(eq = strchr(line, '=')))
			continue;
		*eq = '\0';
		const char *name = line, *path = eq + 1;
		if (!share_ok(name, path))
			continue;
		if (!mounted(name, path)) {
			/* root mounts the tag itself; a user mounts by the fstab line */
			const char *as_root[] = { env_or("NEURON_AGENT_MOUNT", "mount"), "-t", "virtiofs", name, path, NULL };
			const char *as_user[] = { env_or("NEURON_AGENT_MOUNT", "mount"), path, NULL };
			spawn_run(geteuid() == 0 ? as_root : as_user, NULL, 0, NULL, MOUNT_MS, mount_why);
		}
		if (mounted(name, path)) {
			struct agent_share s = { name, path };
			if (each(ctx, &s))
				break;
		}
	}
	fclose(f);
	return 0;
}
