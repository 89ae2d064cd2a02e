/* testwin.exe [ARGS...]: the app of tests/win's apps cases. A visible top-level window
 * titled "Neuron test<SOH>window NAME" (NAME: the last argument's base name; the control
 * character is one the agent must not pass on), and a log, C:\testwin.log, of what
 * happened to it: "start PID ARGS...", "active PID" when it gets the foreground, "close PID"
 * on WM_CLOSE (then it exits). */
#include <windows.h>
#include <stdio.h>
#include <wchar.h>

static void logline(const wchar_t *what, const wchar_t *arg)
{
	wchar_t line[2200];
	char utf8[6600];
	FILE *f = _wfopen(L"C:\\testwin.log", L"ab");

	if (!f)
		return;
	swprintf(line, 2200, L"%ls %lu%ls%ls\n", what, (unsigned long)GetCurrentProcessId(), arg ? L" " : L"",
		 arg ? arg : L"");
	if (WideCharToMultiByte(CP_UTF8, 0, line, -1, utf8, sizeof(utf8), NULL, NULL))
		fputs(utf8, f);
	fclose(f);
}

static LRESULT CALLBACK proc(HWND w, UINT msg, WPARAM wp, LPARAM lp)
{
	if (msg == WM_ACTIVATE && LOWORD(wp) != WA_INACTIVE)
		logline(L"active", NULL);
	if (msg == WM_CLOSE) {
		logline(L"close", NULL);
		DestroyWindow(w);
		return 0;
	}
	if (msg == WM_DESTROY) {
		PostQuitMessage(0);
		return 0;
	}
	return DefWindowProcW(w, msg, wp, lp);
}

int wmain(int argc, wchar_t **argv)
{
	WNDCLASSW wc = { .lpfnWndProc = proc, .hInstance = GetModuleHandleW(NULL), .lpszClassName = L"NeuronTestWin" };
	wchar_t args[2048] = L"", title[512];
	const wchar_t *name = L"";
	MSG m;
	HWND w;

	for (int i = 1; i < argc; i++) {
		if (wcslen(args) + wcslen(argv[i]) + 2 >= 2048)
			break;
		if (i > 1)
			wcscat(args, L" ");
		wcscat(args, argv[i]);
	}
	if (argc > 1) {
		const wchar_t *slash = wcsrchr(argv[argc - 1], L'\\');
		name = slash ? slash + 1 : argv[argc - 1];
	}
	swprintf(title, 512, L"Neuron test\x01window %ls", name);
	RegisterClassW(&wc);
	w = CreateWindowExW(0, wc.lpszClassName, title, WS_OVERLAPPEDWINDOW, 10, 10, 300, 200, NULL, NULL,
			    wc.hInstance, NULL);
	if (!w)
		return 1;
	logline(L"start", args[0] ? args : NULL);
	ShowWindow(w, SW_SHOWNORMAL);
	while (GetMessageW(&m, NULL, 0, 0) > 0) {
		TranslateMessage(&m);
		DispatchMessageW(&m);
	}
	return 0;
}
