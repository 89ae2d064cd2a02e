/* The system layer of agent/platform.h on Windows: the port, stdio, a named-pipe
 * listener, the clock, host name, uptime; and the transport under the secure link.
 *
 * The port has two shapes, told apart by GetCommState when it is opened:
 * - virtio-win's vioserial port (\\.\Global\org.neuronos.agent.0) is not a COM port:
 *   overlapped ReadFile/WriteFile, one read kept pending into our own buffer and one write
 *   in flight from our own copy (a write is taken as a socket's send buffer takes it). Its
 *   "host not connected" errors (ERROR_HANDLE_EOF, ERROR_OPERATION_ABORTED,
 *   ERROR_NO_SYSTEM_RESOURCES, ERROR_BROKEN_PIPE, as qemu-ga reads them) end the stream:
 *   main.c closes it and opens it again after a pause. A named pipe (--listen, or --port
 *   \\.\pipe\NAME) takes the same path.
 * - a serial device (a COM port, or Wine's view of a pty linked from the prefix's
 *   dosdevices/global/): synchronous I/O with comm timeouts. {MAXDWORD, 0, 0} makes a read
 *   return what has arrived at once; {MAXDWORD, MAXDWORD, N} makes it wait at most N ms
 *   for a first byte. Under Wine 8 an overlapped read on such a device does not complete
 *   once a write was made while it was pending, so the serial shape never overlaps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../platform.h"
#include "neuron/agent_proto.h"
#include "neuron/clock.h"
#include "win.h"

const char sys_default_port[] = "\\\\.\\Global\\" NR_AGENT_CHANNEL;
const char sys_default_certs[] = "C:\\ProgramData\\NeuronOS\\agent";
const bool sys_listen_connections = false;
const char sys_desktop_name[] = "windows";
const char sys_desktop_help[] = "Win32 clipboard and WIC, display settings, CreateProcess in the user's session";

enum win_mode win_mode = WIN_MODE_CONSOLE;

#define RBUF_SIZE 65536
#define WBUF_SIZE 65536
#define SERIAL_WAIT_SLICE_MS 500

enum stream_kind { STREAM_OVERLAPPED, STREAM_SERIAL, STREAM_STDIO };

struct sys_stream {
	enum stream_kind kind;
	HANDLE h, out; /* out: where writes go (stdio's output), else h */
	bool owned;
	unsigned char rbuf[RBUF_SIZE]; /* read ahead, not yet taken */
	size_t rpos, rlen;
	/* overlapped */
	OVERLAPPED rov, wov;
	bool rpending, wpending;
	DWORD rerr;            /* a read's failure, for the next read() */
	unsigned char wbuf[WBUF_SIZE];
	size_t wlen;
	DWORD werr;            /* a write's failure, for the next write() */
	/* serial: the read timeout SetCommTimeouts holds now (0: return at once) */
	DWORD read_ms;
	bool read_ms_known;
};

struct sys_listener {
	wchar_t *name;
	HANDLE next; /* the pipe instance that waits for the next host */
};

/* neuron/tls.h: a key file's modes mean nothing here; the service keeps the credentials
 * directory to SYSTEM and Administrators (service.c), which is what makes the key private */
int nr_tls_key_private(FILE *f, const char *path, struct nr_error *err)
{
	(void)f;
	(void)path;
	(void)err;
	return 0;
}

/* neuron/clock.h: the one clock and sleep, the Windows way (core/base/clock.c on POSIX) */
long long nr_now_ms(void)
{
	return (long long)GetTickCount64();
}

long long nr_now_us(void)
{
	LARGE_INTEGER f, c;

	QueryPerformanceFrequency(&f);
	QueryPerformanceCounter(&c);
	return (long long)(c.QuadPart / f.QuadPart * 1000000 + c.QuadPart % f.QuadPart * 1000000 / f.QuadPart);
}

void nr_sleep_ms(long ms)
{
	Sleep((DWORD)ms);
}

static DWORD ms_until(long long deadline)
{
	long long left;

	if (deadline < 0)
		return INFINITE;
	left = deadline - nr_now_ms();
	return left <= 0 ? 0 : left > 0x7fffffff ? 0x7fffffff : (DWORD)left;
}

/* What a failed read or write on the port means for the link. */
static long io_error(DWORD e)
{
	switch (e) {
	case ERROR_HANDLE_EOF:
	case ERROR_OPERATION_ABORTED:
	case ERROR_NO_SYSTEM_RESOURCES:
	case ERROR_BROKEN_PIPE:
	case ERROR_PIPE_NOT_CONNECTED:
	case ERROR_NO_DATA:
	case ERROR_NOT_CONNECTED:
	case ERROR_DEVICE_NOT_CONNECTED:
		return NR_TLS_IO_CLOSED; /* the host is not connected: main.c opens the port again */
	default:
		return NR_TLS_IO_ERROR;
	}
}

static size_t take(struct sys_stream *s, void *buf, size_t size)
{
	size_t k = s->rlen - s->rpos < size ? s->rlen - s->rpos : size;

	memcpy(buf, s->rbuf + s->rpos, k);
	s->rpos += k;
	return k;
}

/* ---- overlapped (vioserial, named pipes) */

/* Start a read into rbuf, or take the one pending: true when bytes are there. */
static bool ov_read_done(struct sys_stream *s)
{
	DWORD n = 0;

	if (s->rerr)
		return true;
	if (!s->rpending) {
		ResetEvent(s->rov.hEvent);
		if (!ReadFile(s->h, s->rbuf, RBUF_SIZE, NULL, &s->rov)) {
			DWORD e = GetLastError();
			if (e != ERROR_IO_PENDING) {
				s->rerr = e;
				return true;
			}
		}
		s->rpending = true;
	}
	if (!GetOverlappedResult(s->h, &s->rov, &n, FALSE)) {
		DWORD e = GetLastError();
		if (e == ERROR_IO_INCOMPLETE)
			return false;
		s->rpending = false;
		s->rerr = e;
		return true;
	}
	s->rpending = false;
	s->rpos = 0;
	s->rlen = n; /* a zero-length read (a pipe's empty message) is no data: read again */
	return n > 0;
}

/* The write in flight: true when it is done (or failed, in werr). */
static bool ov_write_done(struct sys_stream *s)
{
	DWORD n = 0;

	while (s->wpending) {
		if (!GetOverlappedResult(s->out, &s->wov, &n, FALSE)) {
			DWORD e = GetLastError();
			if (e == ERROR_IO_INCOMPLETE)
				return false;
			s->wpending = false;
			s->werr = e;
			return true;
		}
		s->wpending = false;
		if (n < s->wlen) { /* the rest of a short write */
			memmove(s->wbuf, s->wbuf + n, s->wlen - n);
			s->wlen -= n;
			ResetEvent(s->wov.hEvent);
			if (!WriteFile(s->out, s->wbuf, (DWORD)s->wlen, NULL, &s->wov) &&
			    GetLastError() != ERROR_IO_PENDING) {
				s->werr = GetLastError();
				return true;
			}
			s->wpending = true;
		}
	}
	return true;
}

static long ov_read(struct sys_stream *s, void *buf, size_t size)
{
	if (s->rpos < s->rlen)
		return (long)take(s, buf, size);
	if (!ov_read_done(s))
		return NR_TLS_IO_AGAIN;
	if (s->rerr)
		return io_error(s->rerr);
	return s->rpos < s->rlen ? (long)take(s, buf, size) : NR_TLS_IO_AGAIN;
}

static long ov_write(struct sys_stream *s, const void *buf, size_t size)
{
	size_t k = size < WBUF_SIZE ? size : WBUF_SIZE;

	if (!ov_write_done(s))
		return NR_TLS_IO_AGAIN;
	if (s->werr)
		return io_error(s->werr);
	memcpy(s->wbuf, buf, k);
	s->wlen = k;
	ResetEvent(s->wov.hEvent);
	if (!WriteFile(s->out, s->wbuf, (DWORD)k, NULL, &s->wov)) {
		DWORD e = GetLastError();
		if (e != ERROR_IO_PENDING)
			return io_error(e);
	}
	s->wpending = true; /* taken: its completion is checked by the next write or wait */
	return (long)k;
}

static int ov_wait(struct sys_stream *s, int what, long long deadline)
{
	HANDLE ev;

	for (;;) {
		if (what == NR_TLS_IO_READABLE) {
			if (s->rpos < s->rlen || ov_read_done(s))
				return 1;
			ev = s->rov.hEvent;
		} else {
			if (ov_write_done(s))
				return 1;
			ev = s->wov.hEvent;
		}
		DWORD r = WaitForSingleObject(ev, ms_until(deadline));
		if (r == WAIT_TIMEOUT)
			return 0;
		if (r != WAIT_OBJECT_0)
			return -1;
	}
}

/* ---- serial (a COM port, Wine's pty): synchronous, with comm timeouts */

static bool serial_read_timeout(struct sys_stream *s, DWORD ms)
{
	COMMTIMEOUTS t = { .ReadIntervalTimeout = MAXDWORD, .ReadTotalTimeoutMultiplier = ms ? MAXDWORD : 0,
			   .ReadTotalTimeoutConstant = ms, .WriteTotalTimeoutConstant = 1000 };

	if (s->read_ms_known && s->read_ms == ms)
		return true;
	if (!SetCommTimeouts(s->h, &t))
		return false;
	s->read_ms = ms;
	s->read_ms_known = true;
	return true;
}

static long serial_read(struct sys_stream *s, void *buf, size_t size)
{
	DWORD n = 0;

	if (s->rpos < s->rlen)
		return (long)take(s, buf, size);
	if (!serial_read_timeout(s, 0) || !ReadFile(s->h, buf, size > 0x7fffffff ? 0x7fffffff : (DWORD)size, &n, NULL))
		return io_error(GetLastError());
	return n ? (long)n : NR_TLS_IO_AGAIN;
}

static int serial_wait(struct sys_stream *s, int what, long long deadline)
{
	if (what == NR_TLS_IO_WRITABLE) /* a write waits itself, at most 1 s (its comm timeout) */
		return deadline >= 0 && nr_now_ms() >= deadline ? 0 : 1;
	while (s->rpos >= s->rlen) {
		DWORD left = ms_until(deadline), n = 0;
		if (left == 0)
			return 0;
		if (!serial_read_timeout(s, left < SERIAL_WAIT_SLICE_MS ? left : SERIAL_WAIT_SLICE_MS) ||
		    !ReadFile(s->h, s->rbuf, RBUF_SIZE, &n, NULL))
			return 1; /* read() reports it */
		s->rpos = 0;
		s->rlen = n;
	}
	return 1;
}

static long serial_write(struct sys_stream *s, const void *buf, size_t size)
{
	DWORD n = 0;

	if (!WriteFile(s->h, buf, size > WBUF_SIZE ? WBUF_SIZE : (DWORD)size, &n, NULL))
		return io_error(GetLastError());
	return n ? (long)n : NR_TLS_IO_AGAIN;
}

/* ---- stdio: pipes or files, polled (tests and debugging only) */

static long stdio_read(struct sys_stream *s, void *buf, size_t size)
{
	DWORD avail = 0, n = 0;

	if (PeekNamedPipe(s->h, NULL, 0, NULL, &avail, NULL)) {
		if (!avail)
			return NR_TLS_IO_AGAIN;
		if (avail < size)
			size = avail;
	} else if (GetLastError() == ERROR_BROKEN_PIPE) {
		return 0;
	}
	if (!ReadFile(s->h, buf, size > 0x7fffffff ? 0x7fffffff : (DWORD)size, &n, NULL))
		return GetLastError() == ERROR_BROKEN_PIPE ? 0 : io_error(GetLastError());
	return (long)n;
}

static long stdio_write(struct sys_stream *s, const void *buf, size_t size)
{
	DWORD n = 0;

	if (!WriteFile(s->out, buf, size > 0x7fffffff ? 0x7fffffff : (DWORD)size, &n, NULL))
		return io_error(GetLastError());
	return (long)n;
}

static int stdio_wait(struct sys_stream *s, int what, long long deadline)
{
	DWORD avail;

	if (what == NR_TLS_IO_WRITABLE)
		return 1;
	for (;;) {
		if (!PeekNamedPipe(s->h, NULL, 0, NULL, &avail, NULL) || avail)
			return 1; /* data, the end, or not a pipe (a file does not block) */
		if (ms_until(deadline) == 0)
			return 0;
		Sleep(5);
	}
}

/* ---- the transport */

static long io_read(void *ctx, void *buf, size_t size)
{
	struct sys_stream *s = ctx;

	return s->kind == STREAM_OVERLAPPED ? ov_read(s, buf, size)
	       : s->kind == STREAM_SERIAL   ? serial_read(s, buf, size)
					    : stdio_read(s, buf, size);
}

static long io_write(void *ctx, const void *buf, size_t size)
{
	struct sys_stream *s = ctx;

	return s->kind == STREAM_OVERLAPPED ? ov_write(s, buf, size)
	       : s->kind == STREAM_SERIAL   ? serial_write(s, buf, size)
					    : stdio_write(s, buf, size);
}

static int io_wait(void *ctx, int what, long long deadline)
{
	struct sys_stream *s = ctx;

	return s->kind == STREAM_OVERLAPPED ? ov_wait(s, what, deadline)
	       : s->kind == STREAM_SERIAL   ? serial_wait(s, what, deadline)
					    : stdio_wait(s, what, deadline);
}

static int stream_new(enum stream_kind kind, HANDLE h, HANDLE out, bool owned, struct sys_stream **res,
		      char *why)
{
	struct sys_stream *s = calloc(1, sizeof(*s));

	if (!s || (kind == STREAM_OVERLAPPED && (!(s->rov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL)) ||
						 !(s->wov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL))))) {
		if (s && s->rov.hEvent)
			CloseHandle(s->rov.hEvent);
		free(s);
		if (owned)
			CloseHandle(h);
		snprintf(why, 256, "out of memory");
		return -1;
	}
	s->kind = kind;
	s->h = h;
	s->out = out;
	s->owned = owned;
	*res = s;
	return 0;
}

int sys_open_port(const char *path, struct sys_stream **out, char *why)
{
	wchar_t *name = win_wide(path);
	HANDLE h;
	DCB dcb = { .DCBlength = sizeof(dcb) };

	if (!name) {
		snprintf(why, 256, "the port name is not UTF-8");
		return -1;
	}
	h = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
	if (h != INVALID_HANDLE_VALUE && GetCommState(h, &dcb)) {
		/* a serial device: again, synchronous */
		CloseHandle(h);
		h = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
		free(name);
		if (h == INVALID_HANDLE_VALUE) {
			win_why(why, path, GetLastError());
			return -1;
		}
		if (stream_new(STREAM_SERIAL, h, h, true, out, why) < 0)
			return -1;
		if (!serial_read_timeout(*out, 0)) {
			win_why(why, "SetCommTimeouts", GetLastError());
			sys_stream_close(*out);
			return -1;
		}
		return 0;
	}
	free(name);
	if (h == INVALID_HANDLE_VALUE) {
		DWORD e = GetLastError();
		win_why(why, path, e);
		if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND)
			snprintf(why + strlen(why), 256 - strlen(why),
				 ": is the VM's %s channel there and virtio-win's vioserial driver installed?", NR_AGENT_CHANNEL);
		return -1;
	}
	return stream_new(STREAM_OVERLAPPED, h, h, true, out, why);
}

int sys_open_stdio(struct sys_stream **out, char *why)
{
	return stream_new(STREAM_STDIO, GetStdHandle(STD_INPUT_HANDLE), GetStdHandle(STD_OUTPUT_HANDLE), false, out,
			  why);
}

int sys_stream_link(struct sys_stream *s, const struct nr_tls_creds *creds, struct nr_tls_link **out,
		    struct nr_error *err)
{
	struct nr_tls_io io = { .ctx = s, .read = io_read, .write = io_write, .wait = io_wait, .done = NULL };

	return nr_tls_link_new_io(&io, creds, out, err);
}

void sys_stream_close(struct sys_stream *s)
{
	DWORD n;

	if (!s)
		return;
	if (s->kind == STREAM_OVERLAPPED) {
		/* what we said was taken goes out first (a reply before a shutdown), briefly */
		if (s->wpending && WaitForSingleObject(s->wov.hEvent, 1000) != WAIT_OBJECT_0)
			CancelIoEx(s->out, &s->wov);
		if (s->rpending)
			CancelIoEx(s->h, &s->rov);
		/* the buffers belong to the system until the cancelled operations are done */
		if (s->wpending)
			GetOverlappedResult(s->out, &s->wov, &n, TRUE);
		if (s->rpending)
			GetOverlappedResult(s->h, &s->rov, &n, TRUE);
		CloseHandle(s->rov.hEvent);
		CloseHandle(s->wov.hEvent);
	}
	if (s->owned) {
		CloseHandle(s->h);
		if (s->out != s->h)
			CloseHandle(s->out);
	}
	free(s);
}

/* ---- named pipe listener (--listen \\.\pipe\NAME): tests and debugging */

static HANDLE pipe_instance(const wchar_t *name, bool first)
{
	return CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0),
				PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, WBUF_SIZE,
				RBUF_SIZE, 0, NULL);
}

int sys_listen(const char *path, struct sys_listener **out, char *why)
{
	struct sys_listener *l;

	if (_strnicmp(path, "\\\\.\\pipe\\", 9) != 0) {
		snprintf(why, 256, "on Windows --listen takes a named pipe, \\\\.\\pipe\\NAME");
		return -1;
	}
	if (!(l = calloc(1, sizeof(*l))) || !(l->name = win_wide(path))) {
		free(l);
		snprintf(why, 256, "out of memory");
		return -1;
	}
	l->next = pipe_instance(l->name, true);
	if (l->next == INVALID_HANDLE_VALUE) {
		win_why(why, path, GetLastError());
		free(l->name);
		free(l);
		return -1;
	}
	*out = l;
	return 0;
}

int sys_accept(struct sys_listener *l, struct sys_stream **out, char *why)
{
	OVERLAPPED ov = { .hEvent = CreateEventW(NULL, TRUE, FALSE, NULL) };
	HANDLE h = l->next;
	DWORD n;

	if (h == INVALID_HANDLE_VALUE && (h = pipe_instance(l->name, false)) == INVALID_HANDLE_VALUE) {
		win_why(why, "CreateNamedPipe", GetLastError());
		CloseHandle(ov.hEvent);
		return -1;
	}
	l->next = INVALID_HANDLE_VALUE;
	if (!ConnectNamedPipe(h, &ov)) {
		DWORD e = GetLastError();
		if (e == ERROR_IO_PENDING && !GetOverlappedResult(h, &ov, &n, TRUE))
			e = GetLastError();
		else if (e == ERROR_IO_PENDING || e == ERROR_PIPE_CONNECTED)
			e = 0;
		if (e) {
			win_why(why, "ConnectNamedPipe", e);
			CloseHandle(h);
			CloseHandle(ov.hEvent);
			return -1;
		}
	}
	CloseHandle(ov.hEvent);
	return stream_new(STREAM_OVERLAPPED, h, h, true, out, why);
}

void sys_listener_close(struct sys_listener *l)
{
	if (!l)
		return;
	if (l->next != INVALID_HANDLE_VALUE)
		CloseHandle(l->next);
	free(l->name);
	free(l);
}

/* ---- small services */

void sys_init(void)
{
	/* no SIGPIPE here; a crash must not wait for a dialog nobody sees */
	SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
}

void sys_hostname(char *out, size_t size)
{
	wchar_t name[256];
	DWORD n = sizeof(name) / sizeof(name[0]);
	char *u;

	out[0] = '\0';
	if (!GetComputerNameExW(ComputerNameDnsHostname, name, &n) || !(u = win_utf8(name)))
		return;
	snprintf(out, size, "%s", u);
	free(u);
}

long long sys_uptime_s(void)
{
	return (long long)(GetTickCount64() / 1000);
}

void sys_reap_children(void)
{
	/* spawn_detached and launch close their process handles at once: nothing is left */
}

/* The memory platform's test hooks: two named events, set by a test
 * (neuron-agent-test-clipboard-PID, neuron-agent-test-resolution-PID). */
static void (*test_event)(int what);
static HANDLE test_events[2];

static DWORD WINAPI test_event_thread(void *arg)
{
	for (;;) {
		DWORD r = WaitForMultipleObjects(2, test_events, FALSE, INFINITE);
		if (r == WAIT_OBJECT_0)
			test_event(PLATFORM_CLIPBOARD_CHANGED);
		else if (r == WAIT_OBJECT_0 + 1)
			test_event(PLATFORM_RESOLUTION_CHANGED);
		else
			return 0;
	}
}

void sys_on_test_events(void (*on)(int what))
{
	wchar_t name[64];
	HANDLE t;

	test_event = on;
	swprintf(name, 64, L"neuron-agent-test-clipboard-%lu", (unsigned long)GetCurrentProcessId());
	test_events[0] = CreateEventW(NULL, FALSE, FALSE, name);
	swprintf(name, 64, L"neuron-agent-test-resolution-%lu", (unsigned long)GetCurrentProcessId());
	test_events[1] = CreateEventW(NULL, FALSE, FALSE, name);
	if (test_events[0] && test_events[1] && (t = CreateThread(NULL, 0, test_event_thread, NULL, 0, NULL)))
		CloseHandle(t);
}

int spawn_detached(const char *const *argv, long long *pid, char *why)
{
	const char *code;

	return win_launch(argv, pid, &code, why);
}

struct agent_platform *sys_desktop_new(void)
{
	return win_mode == WIN_MODE_SERVICE ? win_proxy_new() : win_direct_new();
}
