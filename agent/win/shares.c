/* The shared folders' places in a Windows guest (issue 17, the shares op), in the service:
 * the bundle's shares.conf (imported with the credentials) has one share a line,
 * NAME=DRIVE ("Documents=Z:"); a share is reported, with its path as "Z:\", when that
 * drive is there (GetDriveTypeW names a root, GetVolumeInformationW reads its volume: the
 * virtio-fs service has mounted it). The drives of virtio-win's virtio-fs service (WinFsp)
 * are global, so session 0 sees them. Blank lines and lines starting with # are skipped;
 * a line that is not NAME=DRIVE is left out, and so is a name with a control character
 * or over 255 bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../platform.h"
#include "win.h"

#define SHARES_CONF_MAX (64 * 1024)
#define SHARE_NAME_MAX 255

/* "Z:" or "Z:\" (either case) as the drive's root "Z:\"; false when it is not a drive. */
static bool drive_root(const char *s, char root[4])
{
	char c = s[0];

	if (c >= 'a' && c <= 'z')
		c -= 32;
	if (c < 'A' || c > 'Z' || s[1] != ':' || !(s[2] == '\0' || ((s[2] == '\\' || s[2] == '/') && s[3] == '\0')))
		return false;
	root[0] = c;
	root[1] = ':';
	root[2] = '\\';
	root[3] = '\0';
	return true;
}

static bool drive_present(const char *root)
{
	wchar_t w[4] = { (wchar_t)root[0], L':', L'\\', 0 };
	UINT type = GetDriveTypeW(w);
	UINT old = SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOOPENFILEERRORBOX);
	BOOL ok;

	if (type == DRIVE_UNKNOWN || type == DRIVE_NO_ROOT_DIR) {
		SetErrorMode(old);
		return false;
	}
	ok = GetVolumeInformationW(w, NULL, 0, NULL, NULL, NULL, NULL, 0);
	SetErrorMode(old);
	return ok;
}

static bool name_ok(const char *name, size_t len)
{
	wchar_t *w;

	if (!len || len > SHARE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	if (!(w = win_wide(name))) /* not UTF-8 */
		return false;
	free(w);
	return true;
}

int win_shares(struct agent_platform *p, const char *bundle, agent_share_fn each, void *ctx, const char **code,
	       char *why)
{
	wchar_t *dir = win_wide(bundle ? bundle : ""), path[MAX_PATH + 32];
	char *text, *line, *next;
	FILE *f;
	size_t n;

	if (!dir) {
		*code = "failed";
		snprintf(why, 256, "the credentials directory's name is not UTF-8");
		return -1;
	}
	swprintf(path, MAX_PATH + 32, L"%ls\\%ls", dir, WIN_SHARES_CONF);
	free(dir);
	if (!(f = _wfopen(path, L"rb")))
		return 0; /* no shares.conf: no shares */
	if (!(text = malloc(SHARES_CONF_MAX + 1))) {
		fclose(f);
		*code = "failed";
		snprintf(why, 256, "out of memory");
		return -1;
	}
	n = fread(text, 1, SHARES_CONF_MAX, f);
	fclose(f);
	text[n] = '\0';
	for (line = text; line && *line; line = next) {
		char *eq, root[4];
		size_t len;
		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		len = strlen(line);
		while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line || *line == '#' || !(eq = strchr(line, '=')))
			continue;
		*eq = '\0';
		if (!name_ok(line, (size_t)(eq - line)) || !drive_root(eq + 1, root) || !drive_present(root))
			continue;
		struct agent_share share = { .name = line, .path = root };
		if (each(ctx, &share))
			break;
	}
	free(text);
	return 0;
}
