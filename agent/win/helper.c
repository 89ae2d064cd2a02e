/* neuron-session.exe: the agent's hands in the user's session (win.h). The service starts
 * it with the user's token on winsta0\default and a pipe name; it connects, then answers
 * one call at a time with desktop.c until the pipe breaks (the service stopped, or ended
 * it), and exits. It has no window and no console; it runs nothing on its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../platform.h"
#include "win.h"

#include <shellapi.h>

static int reply_error(HANDLE pipe, const char *code, const char *why)
{
	return win_ipc_send(pipe, -1, code, strlen(code) + 1, why, strlen(why) + 1, -1);
}

static int serve(HANDLE pipe, struct win_msg *m)
{
	const char *code = "failed", *s = m->data.data ? m->data.data : "";
	char why[256] = "";
	struct nr_buf out;
	int rc = -1, wh[2];

	nr_buf_init(&out);
	switch (m->kind) {
	case WIN_OP_CLIP_GET:
		if (win_clip_get(s, &out, &code, why) == 0)
			rc = win_ipc_send(pipe, 0, out.data, out.len, NULL, 0, -1);
		break;
	case WIN_OP_CLIP_SET: {
		size_t n = strnlen(s, m->data.len);
		if (n < m->data.len && win_clip_set(s, s + n + 1, m->data.len - n - 1, &code, why) == 0)
			rc = win_ipc_send(pipe, 0, NULL, 0, NULL, 0, -1);
		else if (n >= m->data.len)
			snprintf(why, sizeof(why), "a malformed call");
		break;
	}
	case WIN_OP_LAUNCH: {
		const char *argv[258];
		size_t n = 0;
		long long pid = 0;
		for (size_t off = 0; off < m->data.len && n < 257; off += strlen(s + off) + 1)
			argv[n++] = s + off;
		argv[n] = NULL;
		if (n && win_launch(argv, &pid, &code, why) == 0)
			rc = win_ipc_send(pipe, 0, &pid, sizeof(pid), NULL, 0, -1);
		else if (!n)
			snprintf(why, sizeof(why), "launch of nothing");
		break;
	}
	case WIN_OP_RES_GET:
		if (win_res_get(&wh[0], &wh[1], &code, why) == 0)
			rc = win_ipc_send(pipe, 0, wh, sizeof(wh), NULL, 0, -1);
		break;
	case WIN_OP_RES_SET:
		if (m->data.len == sizeof(wh)) {
			memcpy(wh, m->data.data, sizeof(wh));
			if (win_res_set(wh[0], wh[1], &code, why) == 0)
				rc = win_ipc_send(pipe, 0, NULL, 0, NULL, 0, -1);
		}
		break;
	case WIN_OP_CHANGES: {
		char mime[64] = "text/plain";
		long long size = 0;
		int changed = win_changes(mime, sizeof(mime), &size);
		nr_buf_append(&out, (const char *)&changed, sizeof(changed));
		nr_buf_append(&out, (const char *)&size, sizeof(size));
		nr_buf_append(&out, mime, strlen(mime) + 1);
		rc = win_ipc_send(pipe, 0, out.data, out.len, NULL, 0, -1);
		break;
	}
	case WIN_OP_APPS:
		if (win_apps(win_pack_app, &out, &code, why) == 0)
			rc = win_ipc_send(pipe, 0, out.data, out.len, NULL, 0, -1);
		break;
	case WIN_OP_APP_ICON: { /* {size, id\0} */
		int size;
		if (m->data.len > sizeof(size) && !m->data.data[m->data.len - 1]) {
			memcpy(&size, s, sizeof(size));
			if (win_app_icon(s + sizeof(size), size, &out, &code, why) == 0)
				rc = win_ipc_send(pipe, 0, out.data, out.len, NULL, 0, -1);
		} else
			snprintf(why, sizeof(why), "a malformed call");
		break;
	}
	case WIN_OP_OPEN: { /* path\0app\0 (app empty: the default) */
		size_t n = strnlen(s, m->data.len);
		long long pid = 0;
		if (n + 1 < m->data.len && !m->data.data[m->data.len - 1]) {
			const char *app = s + n + 1;
			if (win_open(s, app[0] ? app : NULL, &pid, &code, why) == 0)
				rc = win_ipc_send(pipe, 0, &pid, sizeof(pid), NULL, 0, -1);
		} else
			snprintf(why, sizeof(why), "a malformed call");
		break;
	}
	case WIN_OP_WINDOWS:
		if (win_windows(win_pack_window, &out, &code, why) == 0)
			rc = win_ipc_send(pipe, 0, out.data, out.len, NULL, 0, -1);
		break;
	case WIN_OP_WINDOW_FOCUS:
	case WIN_OP_WINDOW_CLOSE:
		if (m->data.len && !m->data.data[m->data.len - 1] &&
		    (m->kind == WIN_OP_WINDOW_FOCUS ? win_window_focus : win_window_close)(s, &code, why) == 0)
			rc = win_ipc_send(pipe, 0, NULL, 0, NULL, 0, -1);
		else if (!why[0])
			snprintf(why, sizeof(why), "a malformed call");
		break;
	default:
		snprintf(why, sizeof(why), "unknown call %d", m->kind);
	}
	nr_buf_done(&out);
	if (rc == 0)
		return 0;
	if (!why[0])
		return -1; /* the pipe broke while answering */
	return reply_error(pipe, code, why);
}

int WINAPI wWinMain(HINSTANCE inst, HINSTANCE prev, PWSTR cmdline, int show)
{
	int argc;
	wchar_t **argv = CommandLineToArgvW(GetCommandLineW(), &argc);
	HANDLE pipe = INVALID_HANDLE_VALUE;
	struct win_msg m = { 0 };

	if (!argv || argc != 3 || wcscmp(argv[1], L"--pipe") != 0) {
		MessageBoxW(NULL, L"neuron-session.exe is started by the NeuronOS agent service.", L"NeuronOS agent",
			    MB_OK | MB_ICONINFORMATION);
		return 2;
	}
	for (int i = 0; i < 50 && pipe == INVALID_HANDLE_VALUE; i++) {
		pipe = CreateFileW(argv[2], GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
		if (pipe == INVALID_HANDLE_VALUE)
			Sleep(100);
	}
	if (pipe == INVALID_HANDLE_VALUE)
		return 1;
	win_desktop_start();
	nr_buf_init(&m.data);
	while (win_ipc_recv(pipe, &m, -1) == 0)
		if (serve(pipe, &m) < 0)
			break;
	nr_buf_done(&m.data);
	CloseHandle(pipe);
	return 0;
}
