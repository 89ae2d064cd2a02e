/* The Windows desktop's apps and windows (issue 17, docs/PROTOCOL.md "Apps and windows"),
 * in the user's session (the session helper, or --console):
 * - apps: the Start Menu shortcuts (all users' Programs folder, then the user's, each
 *   walked recursively; a .lnk resolved with IShellLinkW/IPersistFile: target, arguments,
 *   icon), the App Paths (HKLM, then HKCU, Software\Microsoft\Windows\CurrentVersion\App
 *   Paths) not already there, and the packaged (UWP) apps of the shell's AppsFolder (an
 *   AppUserModelID, "family!app", started through explorer.exe shell:AppsFolder\ID). Only
 *   shortcuts to an .exe that exists count (not documents, URLs or advertised MSI ones).
 *   Ids are stable: sorted by source and path, each app's id is its name made lower-case
 *   ASCII ("notepad"), or, taken by an earlier one, its folder and name
 *   ("accessories-notepad"), then a number.
 * - file types: the extensions under HKEY_CLASSES_ROOT whose ProgID (default value or
 *   OpenWithProgids) opens with the app's program (shell\open\command), and the
 *   SupportedTypes of Applications\PROGRAM.exe; the MIME types are those extensions'
 *   "Content Type".
 * - app-icon: the shell's icon of the shortcut or program (SHGetFileInfo's index in the
 *   system image list of 48 or 256 pixels, SHGetImageList), or a packaged app's
 *   (IShellItemImageFactory), scaled to the size asked and encoded as PNG by WIC.
 * - open: ShellExecuteExW with the app's program (its arguments, then the path), or the
 *   path itself with its default verb.
 * - windows: EnumWindows' visible, unowned top-level windows with a title (not tool
 *   windows, not cloaked by DWM); the id is the HWND as 0x and hex digits. Focus restores a minimised window
 *   and brings it forward (AllowSetForegroundWindow, AttachThreadInput to the foreground
 *   window's thread, SetForegroundWindow); close posts WM_CLOSE. Only windows the list
 *   would show are taken.
 * Strings that come from the system are bounded as the protocol's host takes them (names
 * and titles cut at a character's end, control characters made spaces; programs and
 * arguments that do not fit leave the app out). */
#define COBJMACROS
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <objbase.h>
#include <shlobj.h>
#include <shellapi.h>
#include <shobjidl.h>
#include <commoncontrols.h>
#include <dwmapi.h>
#include <knownfolders.h>
#include <wincodec.h>

#include "../platform.h"
#include "neuron/agent_proto.h"
#include "win.h"

#define APPS_WALK_MAX 8192  /* shortcuts and keys looked at, at most */
#define DEPTH_MAX 8
#define NAME_MAX_BYTES 255
#define TITLE_MAX_BYTES 1000
#define ID_MAX_BYTES 64
#define TYPES_MAX 256
#define EXT_MAX_BYTES 32
#define MIME_MAX_BYTES 255
#define ARGS_MAX 256

static const GUID iid_image_list = { 0x46eb5926, 0x582e, 0x4017, { 0x9f, 0xdf, 0xe8, 0x99, 0x8d, 0xaa, 0x09, 0x50 } };
static const GUID iid_image_factory = { 0xbcc18b79, 0xba16, 0x442f, { 0x80, 0xc4, 0x8a, 0x59, 0xc3, 0x0c, 0x46, 0x3b } };

enum app_source { SRC_COMMON_LNK, SRC_USER_LNK, SRC_HKLM_PATHS, SRC_HKCU_PATHS, SRC_PACKAGED };

struct app_entry {
	enum app_source source;
	wchar_t *rel;     /* the path inside its folder, or the key's or AUMID's name: the sort key */
	wchar_t *name;
	wchar_t *program; /* the .exe (explorer.exe for a packaged app) */
	wchar_t *args;    /* the command line after the program, as the shortcut has it */
	wchar_t *icon;    /* the file whose shell icon is the app's (the .lnk, the .exe) */
	wchar_t *aumid;   /* a packaged app's AppUserModelID */
	char id[ID_MAX_BYTES + 8];
};

struct app_list {
	struct app_entry *v;
	size_t n, cap, looked;
};

static int fail(const char **code, char *why, const char *c, const char *what)
{
	*code = c;
	snprintf(why, 256, "%s", what);
	return -1;
}

static wchar_t *wdup(const wchar_t *s)
{
	return s ? _wcsdup(s) : NULL;
}

static void entry_done(struct app_entry *e)
{
	free(e->rel);
	free(e->name);
	free(e->program);
	free(e->args);
	free(e->icon);
	free(e->aumid);
}

static void list_done(struct app_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		entry_done(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static struct app_entry *list_add(struct app_list *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct app_entry *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof(l->v[0]));
	return &l->v[l->n++];
}

static bool ends_with_i(const wchar_t *s, const wchar_t *tail)
{
	size_t n = wcslen(s), k = wcslen(tail);

	return n >= k && _wcsicmp(s + n - k, tail) == 0;
}

static bool is_file(const wchar_t *path)
{
	DWORD a = GetFileAttributesW(path);

	return a != INVALID_FILE_ATTRIBUTES && !(a & FILE_ATTRIBUTE_DIRECTORY);
}

/* ---- text from the system, bounded */

/* UTF-8 of w with control characters as spaces, cut at a character's end within max
 * bytes; malloc'd. */
static char *clean_utf8(const wchar_t *w, size_t max)
{
	char *s = win_utf8(w ? w : L"");
	size_t n;

	if (!s)
		return NULL;
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	n = strlen(s);
	if (n > max) {
		n = max;
		while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		s[n] = '\0';
	}
	return s;
}

/* ---- ids */

static unsigned fnv32(const wchar_t *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned)towlower(*s)) * 16777619u;
	return h;
}

/* s lower-cased to [a-z0-9._-], other runs as one "-": "Accessories\Notepad" is
 * "accessories-notepad"; a name with no ASCII letter or digit is app- and a hash of it. */
static void slug(char *out, size_t size, const wchar_t *s)
{
	size_t n = 0;
	bool any = false;

	for (const wchar_t *p = s; *p && n + 1 < size; p++) {
		wchar_t c = *p;
		if (c >= L'A' && c <= L'Z')
			c += 32;
		if ((c >= L'a' && c <= L'z') || (c >= L'0' && c <= L'9') || ((c == L'.' || c == L'_') && n)) {
			out[n++] = (char)c;
			any = any || (c != L'.' && c != L'_');
		} else if (n && out[n - 1] != '-')
			out[n++] = '-';
	}
	while (n && (out[n - 1] == '-' || out[n - 1] == '.'))
		n--;
	out[n] = '\0';
	if (!any)
		snprintf(out, size, "app-%08x", fnv32(s));
}

static bool id_taken(const struct app_list *l, size_t upto, const char *id)
{
	for (size_t i = 0; i < upto; i++)
		if (strcmp(l->v[i].id, id) == 0)
			return true;
	return false;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct app_entry *x = a, *y = b;

	if (x->source != y->source)
		return x->source < y->source ? -1 : 1;
	return _wcsicmp(x->rel, y->rel);
}

/* The rel's last part without its extension ("Accessories\Notepad.lnk": "Notepad"). */
static void stem(wchar_t *out, size_t size, const wchar_t *rel)
{
	const wchar_t *base = wcsrchr(rel, L'\\'), *dot;

	base = base ? base + 1 : rel;
	dot = wcsrchr(base, L'.');
	size_t n = dot && dot > base ? (size_t)(dot - base) : wcslen(base);
	if (n >= size)
		n = size - 1;
	wmemcpy(out, base, n);
	out[n] = 0;
}

static void assign_ids(struct app_list *l)
{
	qsort(l->v, l->n, sizeof(l->v[0]), entry_cmp);
	for (size_t i = 0; i < l->n; i++) {
		struct app_entry *e = &l->v[i];
		wchar_t base[MAX_PATH], *full;
		char id[ID_MAX_BYTES + 1];
		stem(base, MAX_PATH, e->rel);
		slug(id, ID_MAX_BYTES + 1, e->source == SRC_PACKAGED ? e->rel : base);
		if (id_taken(l, i, id) && (full = wdup(e->rel))) {
			wchar_t *dot = wcsrchr(full, L'.'), *slash = wcsrchr(full, L'\\');
			if (dot && (!slash || dot > slash) && e->source != SRC_PACKAGED)
				*dot = 0;
			slug(id, ID_MAX_BYTES + 1, full);
			free(full);
		}
		snprintf(e->id, sizeof(e->id), "%s", id);
		for (int k = 2; id_taken(l, i, e->id); k++)
			snprintf(e->id, sizeof(e->id), "%s-%d", id, k);
	}
}

/* ---- Start Menu shortcuts */

static void add_shortcut(struct app_list *l, enum app_source src, const wchar_t *path, const wchar_t *rel)
{
	IShellLinkW *link = NULL;
	IPersistFile *file = NULL;
	wchar_t target[MAX_PATH] = L"", args[INFOTIPSIZE] = L"", iconf[MAX_PATH] = L"";
	SHFILEINFOW sfi;
	int icon_index = 0;
	struct app_entry *e;

	if (FAILED(CoCreateInstance(&CLSID_ShellLink, NULL, CLSCTX_INPROC_SERVER, &IID_IShellLinkW, (void **)&link)))
		return;
	if (FAILED(IShellLinkW_QueryInterface(link, &IID_IPersistFile, (void **)&file)) ||
	    FAILED(IPersistFile_Load(file, path, STGM_READ)) ||
	    IShellLinkW_GetPath(link, target, MAX_PATH, NULL, 0) != S_OK || !target[0])
		goto out;
	IShellLinkW_GetArguments(link, args, INFOTIPSIZE);
	IShellLinkW_GetIconLocation(link, iconf, MAX_PATH, &icon_index);
	/* programs only: not a document, a URL, a folder, or what is not there any more */
	if (!ends_with_i(target, L".exe") || !is_file(target))
		goto out;
	if (!(e = list_add(l)))
		goto out;
	e->source = src;
	e->rel = wdup(rel);
	if (SHGetFileInfoW(path, 0, &sfi, sizeof(sfi), SHGFI_DISPLAYNAME) && sfi.szDisplayName[0])
		e->name = wdup(sfi.szDisplayName);
	else {
		wchar_t s[MAX_PATH];
		stem(s, MAX_PATH, rel);
		e->name = wdup(s);
	}
	e->program = wdup(target);
	e->args = wdup(args);
	e->icon = wdup(path);
	if (!e->rel || !e->name || !e->program || !e->args || !e->icon) {
		entry_done(e);
		l->n--;
	}
out:
	if (file)
		IPersistFile_Release(file);
	if (link)
		IShellLinkW_Release(link);
}

static void walk_programs(struct app_list *l, enum app_source src, const wchar_t *root, const wchar_t *rel, int depth)
{
	wchar_t pattern[MAX_PATH], path[MAX_PATH], sub[MAX_PATH];
	WIN32_FIND_DATAW fd;
	HANDLE h;

	if (depth > DEPTH_MAX || swprintf(pattern, MAX_PATH, L"%ls%ls%ls\\*", root, rel[0] ? L"\\" : L"", rel) < 0)
		return;
	if ((h = FindFirstFileW(pattern, &fd)) == INVALID_HANDLE_VALUE)
		return;
	do {
		if (++l->looked > APPS_WALK_MAX)
			break;
		if (wcscmp(fd.cFileName, L".") == 0 || wcscmp(fd.cFileName, L"..") == 0)
			continue;
		if (fd.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT)
			continue; /* a link could loop */
		if (swprintf(sub, MAX_PATH, L"%ls%ls%ls", rel, rel[0] ? L"\\" : L"", fd.cFileName) < 0 ||
		    swprintf(path, MAX_PATH, L"%ls\\%ls", root, sub) < 0)
			continue;
		if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
			walk_programs(l, src, root, sub, depth + 1);
		else if (ends_with_i(fd.cFileName, L".lnk"))
			add_shortcut(l, src, path, sub);
	} while (FindNextFileW(h, &fd));
	FindClose(h);
}

static void add_start_menu(struct app_list *l, REFKNOWNFOLDERID folder, enum app_source src)
{
	wchar_t *root = NULL;

	if (SUCCEEDED(SHGetKnownFolderPath(folder, KF_FLAG_DEFAULT, NULL, &root)) && root)
		walk_programs(l, src, root, L"", 0);
	CoTaskMemFree(root);
}

/* ---- App Paths */

/* The file description of an executable's version resource, into out (empty when none). */
static void file_description(const wchar_t *exe, wchar_t *out, size_t size)
{
	DWORD dummy, n = GetFileVersionInfoSizeW(exe, &dummy);
	struct {
		WORD lang, codepage;
	} *tr;
	UINT len;
	void *info, *val;
	wchar_t key[64];

	out[0] = 0;
	if (!n || n > (1u << 20) || !(info = malloc(n)))
		return;
	if (GetFileVersionInfoW(exe, 0, n, info) && VerQueryValueW(info, L"\\VarFileInfo\\Translation", (void **)&tr, &len) &&
	    len >= sizeof(*tr)) {
		swprintf(key, 64, L"\\StringFileInfo\\%04x%04x\\FileDescription", tr->lang, tr->codepage);
		if (VerQueryValueW(info, key, &val, &len) && len > 1)
			swprintf(out, size, L"%.*ls", (int)len, (wchar_t *)val);
	}
	free(info);
}

static bool program_listed(const struct app_list *l, const wchar_t *program)
{
	for (size_t i = 0; i < l->n; i++)
		if (_wcsicmp(l->v[i].program, program) == 0 && !l->v[i].args[0])
			return true;
	return false;
}

static void add_app_paths(struct app_list *l, HKEY hive, enum app_source src)
{
	HKEY key;
	wchar_t name[256], raw[MAX_PATH], path[MAX_PATH], desc[256];

	if (RegOpenKeyExW(hive, L"Software\\Microsoft\\Windows\\CurrentVersion\\App Paths", 0, KEY_READ, &key))
		return;
	for (DWORD i = 0;; i++) {
		DWORD n = 256, size = sizeof(raw);
		struct app_entry *e;
		if (RegEnumKeyExW(key, i, name, &n, NULL, NULL, NULL, NULL) != ERROR_SUCCESS || ++l->looked > APPS_WALK_MAX)
			break;
		if (!ends_with_i(name, L".exe"))
			continue;
		/* the default value: the program's path, maybe quoted, maybe with %variables% */
		if (RegGetValueW(key, name, NULL, RRF_RT_REG_SZ | RRF_RT_REG_EXPAND_SZ | RRF_NOEXPAND, NULL, raw, &size))
			continue;
		wchar_t *p = raw;
		if (*p == L'"') {
			wchar_t *q = wcschr(++p, L'"');
			if (q)
				*q = 0;
		}
		if (!ExpandEnvironmentStringsW(p, path, MAX_PATH) || !ends_with_i(path, L".exe") || !is_file(path) ||
		    program_listed(l, path))
			continue;
		if (!(e = list_add(l)))
			break;
		file_description(path, desc, 256);
		if (!desc[0])
			stem(desc, 256, name);
		e->source = src;
		e->rel = wdup(name);
		e->name = wdup(desc);
		e->program = wdup(path);
		e->args = wdup(L"");
		e->icon = wdup(path);
		if (!e->rel || !e->name || !e->program || !e->args || !e->icon) {
			entry_done(e);
			l->n--;
		}
	}
	RegCloseKey(key);
}

/* ---- packaged (UWP) apps: the shell's AppsFolder items whose parsing name is an
 * AppUserModelID of a package ("PackageFamilyName!AppId"). Not yet verified on real
 * Windows (Wine 8 has no AppsFolder): docs/windows-agent.md. */

static void add_packaged(struct app_list *l)
{
	IShellItem *folder = NULL, *item;
	IEnumShellItems *items = NULL;
	wchar_t explorer[MAX_PATH];

	if (!GetWindowsDirectoryW(explorer, MAX_PATH) || wcslen(explorer) + 16 >= MAX_PATH)
		return;
	wcscat(explorer, L"\\explorer.exe");
	if (FAILED(SHGetKnownFolderItem(&FOLDERID_AppsFolder, KF_FLAG_DEFAULT, NULL, &IID_IShellItem, (void **)&folder)))
		return;
	if (FAILED(IShellItem_BindToHandler(folder, NULL, &BHID_EnumItems, &IID_IEnumShellItems, (void **)&items)))
		goto out;
	while (IEnumShellItems_Next(items, 1, &item, NULL) == S_OK) {
		wchar_t *aumid = NULL, *name = NULL;
		struct app_entry *e;
		if (++l->looked <= APPS_WALK_MAX &&
		    SUCCEEDED(IShellItem_GetDisplayName(item, SIGDN_PARENTRELATIVEPARSING, &aumid)) && aumid &&
		    wcschr(aumid, L'!') && !wcschr(aumid, L'\\') && wcslen(aumid) < 512 &&
		    SUCCEEDED(IShellItem_GetDisplayName(item, SIGDN_NORMALDISPLAY, &name)) && name && (e = list_add(l))) {
			size_t n = wcslen(aumid) + 24;
			e->source = SRC_PACKAGED;
			e->rel = wdup(aumid);
			e->aumid = wdup(aumid);
			e->name = wdup(name);
			e->program = wdup(explorer);
			if ((e->args = malloc(n * sizeof(wchar_t))))
				swprintf(e->args, n, L"shell:AppsFolder\\%ls", aumid);
			e->icon = wdup(L"");
			if (!e->rel || !e->aumid || !e->name || !e->program || !e->args || !e->icon) {
				entry_done(e);
				l->n--;
			}
		}
		CoTaskMemFree(aumid);
		CoTaskMemFree(name);
		IShellItem_Release(item);
	}
out:
	if (items)
		IEnumShellItems_Release(items);
	IShellItem_Release(folder);
}

static void collect(struct app_list *l)
{
	static bool com;

	/* once, on the thread that makes the calls (the helper's main thread) */
	if (!com) {
		CoInitializeEx(NULL, COINIT_APARTMENTTHREADED);
		com = true;
	}
	add_start_menu(l, &FOLDERID_CommonPrograms, SRC_COMMON_LNK);
	add_start_menu(l, &FOLDERID_Programs, SRC_USER_LNK);
	add_app_paths(l, HKEY_LOCAL_MACHINE, SRC_HKLM_PATHS);
	add_app_paths(l, HKEY_CURRENT_USER, SRC_HKCU_PATHS);
	add_packaged(l);
	assign_ids(l);
}

/* ---- file types */

struct ext_type {
	wchar_t ext[EXT_MAX_BYTES + 1];
	char mime[MIME_MAX_BYTES + 1];
	wchar_t exe[4][MAX_PATH]; /* the programs (base names, lower case) its ProgIDs open with */
	int n_exe;
};

struct types {
	struct ext_type *v;
	size_t n;
};

/* The base name, lower case, of the program a command line starts ("\"C:\x\A.EXE\" %1"
 * is "a.exe"); empty when none. */
static void command_program(const wchar_t *cmd, wchar_t *out, size_t size)
{
	wchar_t expanded[1024], *p = expanded, *end, *base;

	out[0] = 0;
	if (!ExpandEnvironmentStringsW(cmd, expanded, 1024))
		return;
	while (*p == L' ')
		p++;
	if (*p == L'"') {
		end = wcschr(++p, L'"');
	} else {
		/* unquoted: up to ".exe" (a path may have spaces), else the first space */
		wchar_t *dot = NULL;
		for (wchar_t *q = p; *q; q++)
			if (_wcsnicmp(q, L".exe", 4) == 0 && (q[4] == 0 || q[4] == L' ')) {
				dot = q + 4;
				break;
			}
		end = dot ? dot : wcschr(p, L' ');
	}
	if (end)
		*end = 0;
	base = wcsrchr(p, L'\\');
	base = base ? base + 1 : p;
	if (!ends_with_i(base, L".exe") || wcslen(base) >= size)
		return;
	wcscpy(out, base);
	_wcslwr(out);
}

static void progid_program(const wchar_t *progid, wchar_t *out, size_t size)
{
	wchar_t key[300], cmd[1024];
	DWORD n = sizeof(cmd);

	out[0] = 0;
	if (wcslen(progid) > 255)
		return;
	swprintf(key, 300, L"%ls\\shell\\open\\command", progid);
	if (RegGetValueW(HKEY_CLASSES_ROOT, key, NULL, RRF_RT_REG_SZ | RRF_RT_REG_EXPAND_SZ | RRF_NOEXPAND, NULL, cmd,
			 &n) == ERROR_SUCCESS)
		command_program(cmd, out, size);
}

static bool ext_ok(const wchar_t *ext)
{
	size_t n = wcslen(ext);

	if (n < 2 || n > EXT_MAX_BYTES || ext[0] != L'.')
		return false;
	for (const wchar_t *p = ext + 1; *p; p++)
		if (!((*p >= L'a' && *p <= L'z') || (*p >= L'A' && *p <= L'Z') || (*p >= L'0' && *p <= L'9') || *p == L'_' ||
		      *p == L'-' || *p == L'+' || *p == L'.'))
			return false;
	return true;
}

/* A MIME type as type/subtype of printable ASCII, no space. */
static bool mime_ok(const char *m)
{
	const char *slash = strchr(m, '/');

	if (!slash || slash == m || !slash[1] || strlen(m) > MIME_MAX_BYTES)
		return false;
	for (const char *p = m; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

static void ext_add_exe(struct ext_type *t, const wchar_t *exe)
{
	if (!exe[0] || t->n_exe >= 4)
		return;
	for (int i = 0; i < t->n_exe; i++)
		if (wcscmp(t->exe[i], exe) == 0)
			return;
	wcscpy(t->exe[t->n_exe++], exe);
}

static const struct ext_type *types_find(const struct types *t, const wchar_t *ext);

/* One extension (its key read through HKEY_CLASSES_ROOT, HKCU's over HKLM's). */
static void type_add(struct types *t, size_t *cap, const wchar_t *name)
{
	wchar_t progid[256], exe[MAX_PATH];
	DWORD size;
	HKEY ek, ow;

	if (!ext_ok(name) || types_find(t, name) || RegOpenKeyExW(HKEY_CLASSES_ROOT, name, 0, KEY_READ, &ek))
		return;
	if (t->n == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		struct ext_type *v = realloc(t->v, c * sizeof(*v));
		if (!v) {
			RegCloseKey(ek);
			return;
		}
		t->v = v;
		*cap = c;
	}
	struct ext_type *e = &t->v[t->n++];
	memset(e, 0, sizeof(*e));
	wcscpy(e->ext, name);
	_wcslwr(e->ext);
	size = sizeof(progid);
	if (RegGetValueW(ek, NULL, L"Content Type", RRF_RT_REG_SZ, NULL, progid, &size) == ERROR_SUCCESS) {
		char *m = win_utf8(progid);
		if (m && mime_ok(m))
			snprintf(e->mime, sizeof(e->mime), "%s", m);
		free(m);
	}
	size = sizeof(progid);
	if (RegGetValueW(ek, NULL, NULL, RRF_RT_REG_SZ, NULL, progid, &size) == ERROR_SUCCESS && progid[0]) {
		progid_program(progid, exe, MAX_PATH);
		ext_add_exe(e, exe);
	}
	if (RegOpenKeyExW(ek, L"OpenWithProgids", 0, KEY_READ, &ow) == ERROR_SUCCESS) {
		for (DWORD k = 0; k < 64; k++) {
			DWORD pn = 256;
			if (RegEnumValueW(ow, k, progid, &pn, NULL, NULL, NULL, NULL) != ERROR_SUCCESS)
				break;
			progid_program(progid, exe, MAX_PATH);
			ext_add_exe(e, exe);
		}
		RegCloseKey(ow);
	}
	RegCloseKey(ek);
}

/* Every registered extension with its type and the programs its ProgIDs open with. The
 * keys are enumerated in the user's and the machine's Classes (HKEY_CLASSES_ROOT merges
 * them, and enumerating the merged view is slow); a hive's subkeys come sorted, so the
 * walk ends after the run of names that start with a dot. */
static void types_load(struct types *t)
{
	static const wchar_t *const classes = L"Software\\Classes";
	HKEY hives[2] = { HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE };
	size_t cap = 0;
	wchar_t name[256];

	memset(t, 0, sizeof(*t));
	for (int h = 0; h < 2; h++) {
		HKEY key;
		bool dots = false;
		if (RegOpenKeyExW(hives[h], classes, 0, KEY_READ, &key))
			continue;
		for (DWORD i = 0; i < 200000; i++) {
			DWORD n = 256;
			LONG r = RegEnumKeyExW(key, i, name, &n, NULL, NULL, NULL, NULL);
			if (r == ERROR_NO_MORE_ITEMS || (dots && name[0] != L'.'))
				break;
			if (r != ERROR_SUCCESS || name[0] != L'.')
				continue;
			dots = true;
			type_add(t, &cap, name);
		}
		RegCloseKey(key);
	}
}

static const struct ext_type *types_find(const struct types *t, const wchar_t *ext)
{
	for (size_t i = 0; i < t->n; i++)
		if (_wcsicmp(t->v[i].ext, ext) == 0)
			return &t->v[i];
	return NULL;
}

struct strs {
	char *v[TYPES_MAX + 1];
	size_t n;
};

static void strs_add(struct strs *s, const wchar_t *w, const char *u)
{
	char *c = u ? _strdup(u) : win_utf8(w);

	if (!c)
		return;
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], c) == 0) {
			free(c);
			return;
		}
	if (s->n >= TYPES_MAX) {
		free(c);
		return;
	}
	s->v[s->n++] = c;
	s->v[s->n] = NULL;
}

static void strs_done(struct strs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	s->n = 0;
	s->v[0] = NULL;
}

/* The extensions and MIME types an app's program opens. */
static void app_types(const struct types *t, const wchar_t *program, struct strs *exts, struct strs *mimes)
{
	const wchar_t *b = wcsrchr(program, L'\\');
	wchar_t base[MAX_PATH], key[MAX_PATH + 64], name[256];
	HKEY st;

	b = b ? b + 1 : program;
	if (wcslen(b) >= MAX_PATH)
		return;
	wcscpy(base, b);
	_wcslwr(base);
	for (size_t i = 0; i < t->n; i++)
		for (int k = 0; k < t->v[i].n_exe; k++)
			if (wcscmp(t->v[i].exe[k], base) == 0) {
				strs_add(exts, t->v[i].ext, NULL);
				if (t->v[i].mime[0])
					strs_add(mimes, NULL, t->v[i].mime);
			}
	swprintf(key, MAX_PATH + 64, L"Applications\\%ls\\SupportedTypes", base);
	if (RegOpenKeyExW(HKEY_CLASSES_ROOT, key, 0, KEY_READ, &st) == ERROR_SUCCESS) {
		for (DWORD k = 0; k < 1024; k++) {
			DWORD n = 256;
			const struct ext_type *e;
			if (RegEnumValueW(st, k, name, &n, NULL, NULL, NULL, NULL) != ERROR_SUCCESS)
				break;
			if (!ext_ok(name))
				continue;
			_wcslwr(name);
			strs_add(exts, name, NULL);
			if ((e = types_find(t, name)) && e->mime[0])
				strs_add(mimes, NULL, e->mime);
		}
		RegCloseKey(st);
	}
}

/* ---- the calls */

/* The app's arguments as a list (CommandLineToArgvW of its command line's tail). */
static int split_args(const wchar_t *args, struct strs *out)
{
	wchar_t *line;
	wchar_t **argv;
	int argc;

	if (!args[0])
		return 0;
	/* CommandLineToArgvW takes its first word as the program: give it one */
	if (!(line = malloc((wcslen(args) + 4) * sizeof(wchar_t))))
		return -1;
	swprintf(line, wcslen(args) + 4, L"x %ls", args);
	argv = CommandLineToArgvW(line, &argc);
	free(line);
	if (!argv)
		return -1;
	int rc = argc - 1 > ARGS_MAX ? -1 : 0;
	for (int i = 1; i < argc && rc == 0; i++) {
		char *u = win_utf8(argv[i]);
		if (!u || strlen(u) > 4096)
			rc = -1;
		else
			out->v[out->n++] = u;
		out->v[out->n] = NULL;
		if (rc < 0)
			free(u);
	}
	LocalFree(argv);
	return rc;
}

int win_apps(agent_app_fn each, void *ctx, const char **code, char *why)
{
	struct app_list l = { 0 };
	struct types t;
	int stop = 0;

	collect(&l);
	types_load(&t);
	for (size_t i = 0; i < l.n && !stop; i++) {
		struct app_entry *e = &l.v[i];
		struct strs args = { .n = 0 }, exts = { .n = 0 }, mimes = { .n = 0 };
		char *name = clean_utf8(e->name, NAME_MAX_BYTES), *program = win_utf8(e->program);
		if (name && program && strlen(program) <= 4096 && split_args(e->args, &args) == 0) {
			if (!e->aumid)
				app_types(&t, e->program, &exts, &mimes);
			struct agent_app app = {
				.id = e->id, .name = name, .program = program, .args = (const char *const *)args.v,
				.extensions = (const char *const *)exts.v, .mimes = (const char *const *)mimes.v,
				.icons = APP_ICON_48 | APP_ICON_256,
			};
			stop = each(ctx, &app);
		}
		strs_done(&args);
		strs_done(&exts);
		strs_done(&mimes);
		free(name);
		free(program);
	}
	free(t.v);
	list_done(&l);
	return 0;
}

/* The app whose id is id, moved out of a fresh list into *out; -1 when there is none. */
static int app_find(const char *id, struct app_entry *out, const char **code, char *why)
{
	struct app_list l = { 0 };
	int rc = -1;

	collect(&l);
	for (size_t i = 0; i < l.n; i++)
		if (strcmp(l.v[i].id, id) == 0) {
			*out = l.v[i];
			l.v[i] = l.v[--l.n];
			rc = 0;
			break;
		}
	list_done(&l);
	if (rc < 0) {
		*code = "failed";
		snprintf(why, 256, "the guest has no app %.64s (see apps)", id);
	}
	return rc;
}

/* ---- app-icon */

static HICON shell_icon(const wchar_t *path, int size)
{
	SHFILEINFOW sfi = { 0 };
	IImageList *list = NULL;
	HICON icon = NULL;

	if (!SHGetFileInfoW(path, 0, &sfi, sizeof(sfi), SHGFI_SYSICONINDEX))
		return NULL;
	if (SUCCEEDED(SHGetImageList(size == 48 ? SHIL_EXTRALARGE : SHIL_JUMBO, &iid_image_list, (void **)&list))) {
		IImageList_GetIcon(list, sfi.iIcon, ILD_TRANSPARENT, &icon);
		IImageList_Release(list);
	}
	return icon;
}

static HBITMAP packaged_icon(const wchar_t *aumid, int size)
{
	IShellItemImageFactory *f = NULL;
	wchar_t name[600];
	HBITMAP bmp = NULL;
	SIZE s = { size, size };

	swprintf(name, 600, L"shell:AppsFolder\\%ls", aumid);
	if (SUCCEEDED(SHCreateItemFromParsingName(name, NULL, &iid_image_factory, (void **)&f))) {
		if (FAILED(IShellItemImageFactory_GetImage(f, s, SIIGBF_ICONONLY, &bmp)))
			bmp = NULL;
		IShellItemImageFactory_Release(f);
	}
	return bmp;
}

int win_app_icon(const char *id, int size, struct nr_buf *out, const char **code, char *why)
{
	IWICImagingFactory *f = win_wic(code, why);
	IWICBitmap *bitmap = NULL;
	IWICBitmapScaler *scaler = NULL;
	IWICBitmapSource *src;
	struct app_entry e;
	HICON icon = NULL;
	HBITMAP bmp = NULL;
	UINT w = 0, h = 0;
	HRESULT hr;
	int rc = -1;

	if (!f || app_find(id, &e, code, why) < 0)
		return -1;
	if (e.aumid)
		bmp = packaged_icon(e.aumid, size);
	else
		icon = shell_icon(e.icon, size);
	if (!icon && !bmp) {
		snprintf(why, 256, "the shell has no icon for %.64s", id);
		*code = "failed";
		goto out;
	}
	hr = icon ? IWICImagingFactory_CreateBitmapFromHICON(f, icon, &bitmap)
		  : IWICImagingFactory_CreateBitmapFromHBITMAP(f, bmp, NULL, WICBitmapUsePremultipliedAlpha, &bitmap);
	if (FAILED(hr) || FAILED(hr = IWICBitmap_GetSize(bitmap, &w, &h))) {
		win_why(why, "the icon as a bitmap (WIC)", (DWORD)hr);
		*code = "failed";
		goto out;
	}
	src = (IWICBitmapSource *)bitmap;
	/* the size asked, whatever the image list holds */
	if ((int)w != size || (int)h != size) {
		if (FAILED(hr = IWICImagingFactory_CreateBitmapScaler(f, &scaler)) ||
		    FAILED(hr = IWICBitmapScaler_Initialize(scaler, src, (UINT)size, (UINT)size,
							   WICBitmapInterpolationModeFant))) {
			win_why(why, "scaling the icon (WIC)", (DWORD)hr);
			*code = "failed";
			goto out;
		}
		src = (IWICBitmapSource *)scaler;
	}
	rc = win_encode_png(f, src, out, code, why);
out:
	if (scaler)
		IWICBitmapScaler_Release(scaler);
	if (bitmap)
		IWICBitmap_Release(bitmap);
	if (icon)
		DestroyIcon(icon);
	if (bmp)
		DeleteObject(bmp);
	entry_done(&e);
	return rc;
}

/* ---- open */

/* One argument quoted for a command line (as CommandLineToArgvW reads it back). */
static void quote_into(struct nr_buf *b, const wchar_t *a)
{
	nr_buf_append(b, (const char *)L"\"", sizeof(wchar_t));
	for (const wchar_t *p = a;; p++) {
		size_t slashes = 0;
		while (*p == L'\\') {
			p++;
			slashes++;
		}
		size_t n = !*p ? slashes * 2 : *p == L'"' ? slashes * 2 + 1 : slashes;
		for (size_t i = 0; i < n; i++)
			nr_buf_append(b, (const char *)L"\\", sizeof(wchar_t));
		if (!*p)
			break;
		nr_buf_append(b, (const char *)p, sizeof(wchar_t));
	}
	nr_buf_append(b, (const char *)L"\"", sizeof(wchar_t));
}

int win_open(const char *path, const char *app, long long *pid, const char **code, char *why)
{
	SHELLEXECUTEINFOW sei = { .cbSize = sizeof(sei), .fMask = SEE_MASK_NOCLOSEPROCESS | SEE_MASK_FLAG_NO_UI,
				  .nShow = SW_SHOWNORMAL };
	wchar_t *wpath = win_wide(path), home[MAX_PATH];
	struct app_entry e = { 0 };
	struct nr_buf params;
	bool have_app = false;
	int rc = -1;

	nr_buf_init(&params);
	if (!wpath)
		return fail(code, why, "bad-request", "the path is not UTF-8");
	for (wchar_t *p = wpath; *p; p++)
		if (*p == L'/')
			*p = L'\\';
	if (GetFileAttributesW(wpath) == INVALID_FILE_ATTRIBUTES) {
		char what[200];
		snprintf(what, sizeof(what), "cannot open %.160s", path);
		win_why(why, what, GetLastError());
		*code = "failed";
		goto out;
	}
	if (app) {
		if (app_find(app, &e, code, why) < 0)
			goto out;
		have_app = true;
		if (e.aumid) {
			fail(code, why, "unsupported", "opening a file with a packaged (UWP) app is not done yet");
			goto out;
		}
		if (e.args[0]) {
			nr_buf_append(&params, (const char *)e.args, wcslen(e.args) * sizeof(wchar_t));
			nr_buf_append(&params, (const char *)L" ", sizeof(wchar_t));
		}
		quote_into(&params, wpath);
		nr_buf_append(&params, (const char *)L"\0", sizeof(wchar_t));
		if (params.oom) {
			fail(code, why, "failed", "out of memory");
			goto out;
		}
		sei.lpFile = e.program;
		sei.lpParameters = (wchar_t *)params.data;
	} else {
		sei.lpFile = wpath;
	}
	DWORD n = GetEnvironmentVariableW(L"USERPROFILE", home, MAX_PATH);
	sei.lpDirectory = n && n < MAX_PATH ? home : NULL;
	if (!ShellExecuteExW(&sei)) {
		char what[240];
		snprintf(what, sizeof(what), "cannot open %.120s with %.64s", path, app ? app : "its default app");
		win_why(why, what, GetLastError());
		*code = "failed";
		goto out;
	}
	*pid = 0;
	if (sei.hProcess) {
		*pid = (long long)GetProcessId(sei.hProcess);
		CloseHandle(sei.hProcess);
	}
	rc = 0;
out:
	if (have_app)
		entry_done(&e);
	nr_buf_done(&params);
	free(wpath);
	return rc;
}

/* ---- windows */

/* Whether the window manager hides the window although it is "visible": a suspended
 * packaged app's frame, a window on another virtual desktop (DWMWA_CLOAKED; Alt+Tab leaves
 * them out too). Where DWM cannot say (Wine), it is not cloaked. */
static bool cloaked(HWND h)
{
	DWORD c = 0;

	return SUCCEEDED(DwmGetWindowAttribute(h, DWMWA_CLOAKED, &c, sizeof(c))) && c;
}

static bool listed_window(HWND h)
{
	LONG_PTR ex = GetWindowLongPtrW(h, GWL_EXSTYLE);

	return IsWindowVisible(h) && !GetWindow(h, GW_OWNER) && !(ex & WS_EX_TOOLWINDOW) &&
	       GetWindowTextLengthW(h) > 0 && GetAncestor(h, GA_ROOT) == h && !cloaked(h);
}

struct window_walk {
	agent_window_fn each;
	void *ctx;
	int stop;
};

static BOOL CALLBACK one_window(HWND h, LPARAM lp)
{
	struct window_walk *w = (struct window_walk *)lp;
	wchar_t title[512], exe[MAX_PATH] = L"";
	DWORD pid = 0, n = MAX_PATH;
	char id[24], *t, *a;
	HANDLE proc;

	if (!listed_window(h))
		return TRUE;
	GetWindowTextW(h, title, 512);
	GetWindowThreadProcessId(h, &pid);
	if (pid && (proc = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid))) {
		if (!QueryFullProcessImageNameW(proc, 0, exe, &n))
			exe[0] = 0;
		CloseHandle(proc);
	}
	const wchar_t *base = wcsrchr(exe, L'\\');
	snprintf(id, sizeof(id), "0x%llx", (unsigned long long)(uintptr_t)h);
	t = clean_utf8(title, TITLE_MAX_BYTES);
	a = clean_utf8(base ? base + 1 : exe, 255);
	if (t && a) {
		struct agent_window win = { .id = id, .title = t, .app = a, .pid = (long long)pid };
		w->stop = w->each(w->ctx, &win);
	}
	free(t);
	free(a);
	return !w->stop;
}

int win_windows(agent_window_fn each, void *ctx, const char **code, char *why)
{
	struct window_walk w = { .each = each, .ctx = ctx };

	EnumWindows(one_window, (LPARAM)&w);
	return 0;
}

/* The window an id from windows names: 0x and 1 to 16 hex digits, a window the list
 * would show. */
static HWND window_of(const char *id, const char **code, char *why)
{
	unsigned long long v = 0;
	size_t n = 0;
	HWND h;

	if (strncmp(id, "0x", 2) == 0)
		for (const char *p = id + 2; *p; p++, n++) {
			int d = (*p >= '0' && *p <= '9') ? *p - '0' : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10 : -1;
			if (d < 0 || n >= 16) {
				n = 0;
				break;
			}
			v = v << 4 | (unsigned)d;
		}
	if (!n) {
		fail(code, why, "bad-request", "a window id is 0x and hex digits (from windows)");
		return NULL;
	}
	h = (HWND)(uintptr_t)v;
	if (!IsWindow(h) || !listed_window(h)) {
		*code = "failed";
		snprintf(why, 256, "there is no window %.40s (it may have closed)", id);
		return NULL;
	}
	return h;
}

int win_window_focus(const char *id, const char **code, char *why)
{
	HWND h = window_of(id, code, why), fg;
	DWORD me = GetCurrentThreadId(), other = 0;

	if (!h)
		return -1;
	if (IsIconic(h))
		ShowWindow(h, SW_RESTORE);
	AllowSetForegroundWindow(ASFW_ANY);
	/* Windows gives the foreground only to a thread that has the input: share the
	 * foreground window's input for the moment (the usual way around the lock) */
	fg = GetForegroundWindow();
	if (fg && fg != h && (other = GetWindowThreadProcessId(fg, NULL)) && other != me)
		AttachThreadInput(me, other, TRUE);
	BringWindowToTop(h);
	BOOL ok = SetForegroundWindow(h);
	SetActiveWindow(h);
	if (other && other != me)
		AttachThreadInput(me, other, FALSE);
	if (!ok && GetForegroundWindow() != h)
		return fail(code, why, "failed", "Windows refused to bring the window to the front");
	return 0;
}

int win_window_close(const char *id, const char **code, char *why)
{
	HWND h = window_of(id, code, why);

	if (!h)
		return -1;
	if (!PostMessageW(h, WM_CLOSE, 0, 0)) {
		*code = "failed";
		win_why(why, "asking the window to close", GetLastError());
		return -1;
	}
	return 0;
}

/* ---- the lists on the helper's pipe: NUL-terminated strings.
 * An app: id, name, program, icons (decimal), then args, extensions and mimes, each as a
 * count (decimal) and its strings. A window: id, title, app, pid (decimal). */

static void put(struct nr_buf *b, const char *s)
{
	nr_buf_append(b, s, strlen(s) + 1);
}

static void put_num(struct nr_buf *b, long long v)
{
	char n[24];

	snprintf(n, sizeof(n), "%lld", v);
	put(b, n);
}

static void put_list(struct nr_buf *b, const char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	put_num(b, (long long)n);
	for (size_t i = 0; i < n; i++)
		put(b, v[i]);
}

int win_pack_app(void *ctx, const struct agent_app *app)
{
	struct nr_buf *b = ctx;

	put(b, app->id);
	put(b, app->name);
	put(b, app->program);
	put_num(b, app->icons);
	put_list(b, app->args);
	put_list(b, app->extensions);
	put_list(b, app->mimes);
	return b->len > WIN_IPC_MAX / 2; /* enough: the reply's frame is far smaller */
}

int win_pack_window(void *ctx, const struct agent_window *win)
{
	struct nr_buf *b = ctx;

	put(b, win->id);
	put(b, win->title);
	put(b, win->app);
	put_num(b, win->pid);
	return b->len > WIN_IPC_MAX / 2;
}

struct reader {
	const char *p, *end;
};

static const char *take(struct reader *r)
{
	const char *s = r->p;
	size_t n;

	if (r->p >= r->end || (n = strnlen(r->p, (size_t)(r->end - r->p))) == (size_t)(r->end - r->p))
		return NULL;
	r->p += n + 1;
	return s;
}

static bool take_num(struct reader *r, long long max, long long *v)
{
	const char *s = take(r);
	char *end;

	if (!s)
		return false;
	*v = strtoll(s, &end, 10);
	return *end == '\0' && end != s && *v >= 0 && *v <= max;
}

static bool take_list(struct reader *r, const char **v, size_t max)
{
	long long n;

	if (!take_num(r, (long long)max, &n))
		return false;
	for (long long i = 0; i < n; i++)
		if (!(v[i] = take(r)))
			return false;
	v[n] = NULL;
	return true;
}

int win_unpack_apps(const void *data, size_t len, agent_app_fn each, void *ctx)
{
	struct reader r = { data, (const char *)data + len };
	static const char *args[ARGS_MAX + 1], *exts[TYPES_MAX + 1], *mimes[TYPES_MAX + 1];

	while (r.p < r.end) {
		struct agent_app app = { .args = args, .extensions = exts, .mimes = mimes };
		long long icons;
		if (!(app.id = take(&r)) || !(app.name = take(&r)) || !(app.program = take(&r)) ||
		    !take_num(&r, 3, &icons) || !take_list(&r, args, ARGS_MAX) || !take_list(&r, exts, TYPES_MAX) ||
		    !take_list(&r, mimes, TYPES_MAX))
			return -1;
		app.icons = (int)icons;
		if (each(ctx, &app))
			break;
	}
	return 0;
}

int win_unpack_windows(const void *data, size_t len, agent_window_fn each, void *ctx)
{
	struct reader r = { data, (const char *)data + len };

	while (r.p < r.end) {
		struct agent_window win;
		if (!(win.id = take(&r)) || !(win.title = take(&r)) || !(win.app = take(&r)) ||
		    !take_num(&r, 0xffffffffLL, &win.pid))
			return -1;
		if (each(ctx, &win))
			break;
	}
	return 0;
}
