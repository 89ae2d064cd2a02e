/* What both ends of the session helper's pipe use: UTF-8 <-> UTF-16, error text, and
 * the messages between the service and its session helper (win.h): a 12-byte header
 * ("NRS1", kind, payload length, little-endian) and the payload. The service's end is
 * overlapped (every wait has a timeout: a helper that hangs is ended and started again);
 * the helper's end is synchronous. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "win.h"

#define IPC_MAGIC 0x3153524eu /* "NRS1" */

wchar_t *win_wide(const char *s)
{
	int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
	wchar_t *w;

	if (n <= 0 || !(w = malloc((size_t)n * sizeof(wchar_t))))
		return NULL;
	MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n);
	return w;
}

char *win_utf8(const wchar_t *w)
{
	int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
	char *s;

	if (n <= 0 || !(s = malloc((size_t)n)))
		return NULL;
	WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
	return s;
}

void win_why(char *why, const char *what, DWORD code)
{
	wchar_t msg[200];
	char *m = NULL;
	DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, code, 0, msg,
				 sizeof(msg) / sizeof(msg[0]), NULL);

	while (n && (msg[n - 1] == L'\r' || msg[n - 1] == L'\n' || msg[n - 1] == L'.'))
		msg[--n] = 0;
	if (n)
		m = win_utf8(msg);
	snprintf(why, 256, "%.120s: %.100s (error %lu)", what, m ? m : "system error", (unsigned long)code);
	free(m);
}


/* All of len bytes, or -1. */
static int xfer(HANDLE h, bool write, void *buf, size_t len, int timeout_ms)
{
	unsigned char *p = buf;
	long long deadline = timeout_ms < 0 ? -1 : (long long)GetTickCount64() + timeout_ms;

	while (len) {
		DWORD k = len > (1u << 20) ? (1u << 20) : (DWORD)len, n = 0;
		BOOL ok;
		if (timeout_ms < 0) {
			ok = write ? WriteFile(h, p, k, &n, NULL) : ReadFile(h, p, k, &n, NULL);
		} else {
			OVERLAPPED ov = { .hEvent = CreateEventW(NULL, TRUE, FALSE, NULL) };
			if (!ov.hEvent)
				return -1;
			ok = write ? WriteFile(h, p, k, NULL, &ov) : ReadFile(h, p, k, NULL, &ov);
			if (!ok && GetLastError() == ERROR_IO_PENDING) {
				long long left = deadline - (long long)GetTickCount64();
				if (WaitForSingleObject(ov.hEvent, left > 0 ? (DWORD)left : 0) != WAIT_OBJECT_0) {
					CancelIoEx(h, &ov);
					GetOverlappedResult(h, &ov, &n, TRUE);
					CloseHandle(ov.hEvent);
					return -1;
				}
			}
			ok = GetOverlappedResult(h, &ov, &n, TRUE);
			CloseHandle(ov.hEvent);
		}
		if (!ok || (!n && !write))
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

int win_ipc_send(HANDLE h, int kind, const void *a, size_t alen, const void *b, size_t blen, int timeout_ms)
{
	uint32_t hdr[3] = { IPC_MAGIC, (uint32_t)kind, (uint32_t)(alen + blen) };

	if (alen + blen > WIN_IPC_MAX)
		return -1;
	if (xfer(h, true, hdr, sizeof(hdr), timeout_ms) < 0 || (alen && xfer(h, true, (void *)a, alen, timeout_ms) < 0) ||
	    (blen && xfer(h, true, (void *)b, blen, timeout_ms) < 0))
		return -1;
	return 0;
}

int win_ipc_recv(HANDLE h, struct win_msg *m, int timeout_ms)
{
	uint32_t hdr[3];

	m->data.len = 0;
	if (xfer(h, false, hdr, sizeof(hdr), timeout_ms) < 0 || hdr[0] != IPC_MAGIC || hdr[2] > WIN_IPC_MAX)
		return -1;
	m->kind = (int)hdr[1];
	nr_buf_reserve(&m->data, hdr[2] + 1);
	if (m->data.oom || (hdr[2] && xfer(h, false, m->data.data, hdr[2], timeout_ms) < 0))
		return -1;
	m->data.len = hdr[2];
	m->data.data[m->data.len] = '\0';
	return 0;
}

void win_ipc_error(const struct win_msg *m, const char **code, char *why)
{
	static const char *codes[] = { "unsupported", "failed", "bad-request", "too-large" };
	const char *c = m->data.len ? m->data.data : "failed";
	size_t n = strnlen(c, m->data.len);

	*code = "failed";
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(c, codes[i]) == 0)
			*code = codes[i];
	snprintf(why, 256, "%.250s", n + 1 < m->data.len ? c + n + 1 : "the session helper failed");
}
