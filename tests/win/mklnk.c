/* mklnk.exe common|user RELPATH TARGET ARGS: a Start Menu shortcut for tests/win, made
 * the way installers make them (IShellLinkW, saved with IPersistFile) under the all
 * users' (common) or the user's Programs folder, its folders made as needed. */
#define COBJMACROS
#include <windows.h>
#include <objbase.h>
#include <shlobj.h>
#include <shobjidl.h>
#include <knownfolders.h>
#include <stdio.h>
#include <wchar.h>

int wmain(int argc, wchar_t **argv)
{
	wchar_t *root = NULL, path[MAX_PATH], dir[MAX_PATH], *slash;
	IShellLinkW *link;
	IPersistFile *file;
	HRESULT hr;

	if (argc != 5)
		return 2;
	CoInitializeEx(NULL, COINIT_APARTMENTTHREADED);
	if (FAILED(SHGetKnownFolderPath(wcscmp(argv[1], L"common") == 0 ? &FOLDERID_CommonPrograms : &FOLDERID_Programs,
					KF_FLAG_CREATE, NULL, &root)))
		return 1;
	swprintf(path, MAX_PATH, L"%ls\\%ls", root, argv[2]);
	wcscpy(dir, path);
	if ((slash = wcsrchr(dir, L'\\')))
		*slash = 0;
	SHCreateDirectoryExW(NULL, dir, NULL);
	if (FAILED(hr = CoCreateInstance(&CLSID_ShellLink, NULL, CLSCTX_INPROC_SERVER, &IID_IShellLinkW, (void **)&link)))
		return 1;
	IShellLinkW_SetPath(link, argv[3]);
	IShellLinkW_SetArguments(link, argv[4]);
	if (FAILED(IShellLinkW_QueryInterface(link, &IID_IPersistFile, (void **)&file)) ||
	    FAILED(hr = IPersistFile_Save(file, path, TRUE))) {
		fwprintf(stderr, L"cannot save %ls (%08lx)\n", path, (unsigned long)hr);
		return 1;
	}
	IPersistFile_Release(file);
	IShellLinkW_Release(link);
	wprintf(L"%ls\n", path);
	return 0;
}
