/* The service's side of the session helper. A service runs in session 0: it reaches
 * neither the user's clipboard nor their display, and what it starts is invisible. So it
 * starts neuron-session.exe in the active console session with the logged-in user's own
 * token (WTSQueryUserToken, CreateEnvironmentBlock, CreateProcessAsUserW on
 * winsta0\default: what the user's programs get, never SYSTEM's rights), and forwards the
 * desktop calls to it over a named pipe:
 * - a fresh name for each start, created here first (FILE_FLAG_FIRST_PIPE_INSTANCE), whose
 *   DACL admits SYSTEM and that user only, passed on the helper's command line;
 * - the client that connects must be the process started (GetNamedPipeClientProcessId)
 *   in that session (ProcessIdToSessionId), or it is dropped;
 * - a helper that dies, hangs (a call past its time) or whose session changed
 *   (SERVICE_CONTROL_SESSIONCHANGE) is ended and started again, with a back-off from 1 s
 *   to 30 s between failed starts. With nobody logged on, the desktop calls answer
 *   "unsupported". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "win.h"

#include <sddl.h>
#include <wincrypt.h>
#include <userenv.h>
#include <wtsapi32.h>

#include "../platform.h"

#define CALL_MS 4000      /* a call (the host's request timeout is 5 s) */
#define POLL_MS 1000      /* a change poll */
#define CONNECT_MS 10000  /* a new helper connects within this */
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000

struct proxy {
	HANDLE pipe, process;
	DWORD pid, session;
	long long next_try;
	int backoff_ms;
	char why[256];     /* why there is no helper now */
	const char *code;
	unsigned counter;
};

static volatile LONG session_changed;
static struct proxy *the_proxy;

void win_proxy_session_changed(void)
{
	InterlockedExchange(&session_changed, 1);
}

static void helper_end(struct proxy *x)
{
	if (x->pipe) {
		CloseHandle(x->pipe);
		x->pipe = NULL;
	}
	if (x->process) {
		if (WaitForSingleObject(x->process, 0) == WAIT_TIMEOUT)
			TerminateProcess(x->process, 1);
		CloseHandle(x->process);
		x->process = NULL;
	}
}

void win_proxy_stop(void)
{
	if (the_proxy)
		helper_end(the_proxy);
}

static int no_helper(struct proxy *x, const char *code, const char *what, DWORD e)
{
	x->code = code;
	if (e)
		win_why(x->why, what, e);
	else
		snprintf(x->why, sizeof(x->why), "%s", what);
	return -1;
}

/* "D:P(A;;GA;;;SY)(A;;GRGW;;;<user>)": SYSTEM and the session's user only. */
static PSECURITY_DESCRIPTOR pipe_security(HANDLE token)
{
	union {
		TOKEN_USER tu;
		unsigned char raw[256];
	} u;
	PSECURITY_DESCRIPTOR sd = NULL;
	wchar_t *sid = NULL, sddl[256];
	DWORD n;

	if (!GetTokenInformation(token, TokenUser, &u, sizeof(u), &n) || !ConvertSidToStringSidW(u.tu.User.Sid, &sid))
		return NULL;
	swprintf(sddl, 256, L"D:P(A;;GA;;;SY)(A;;GRGW;;;%ls)", sid);
	LocalFree(sid);
	if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sd, NULL))
		return NULL;
	return sd;
}

static int helper_start(struct proxy *x)
{
	wchar_t exe[MAX_PATH], name[96], cmd[MAX_PATH + 128], *slash;
	SECURITY_ATTRIBUTES sa = { .nLength = sizeof(sa) };
	STARTUPINFOW si = { .cb = sizeof(si), .lpDesktop = L"WinSta0\\Default" };
	PROCESS_INFORMATION pi;
	OVERLAPPED ov = { 0 };
	HANDLE token = NULL, pipe = INVALID_HANDLE_VALUE;
	void *env = NULL;
	ULONG client = 0;
	DWORD session = WTSGetActiveConsoleSessionId(), got_session = 0, n;
	unsigned char rnd[8];
	int rc = -1;

	if (session == 0xFFFFFFFF)
		return no_helper(x, "unsupported", "no session is attached to the console", 0);
	if (!WTSQueryUserToken(session, &token))
		return no_helper(x, "unsupported", "nobody is logged in at the console", 0);
	/* the token's session is the console's (WTSQueryUserToken's already is on Windows;
	 * Wine hands out the service's own token, which is in session 0) */
	HANDLE primary;
	if (DuplicateTokenEx(token, MAXIMUM_ALLOWED, NULL, SecurityIdentification, TokenPrimary, &primary)) {
		CloseHandle(token);
		token = primary;
		SetTokenInformation(token, TokenSessionId, &session, sizeof(session));
	}
	n = GetModuleFileNameW(NULL, exe, MAX_PATH);
	if (!n || n >= MAX_PATH || !(slash = wcsrchr(exe, L'\\')) || (size_t)(slash - exe) + 20 >= MAX_PATH) {
		no_helper(x, "failed", "cannot find neuron-session.exe beside the service", 0);
		goto out;
	}
	wcscpy(slash + 1, WIN_HELPER_EXE);
	/* a name nobody can guess or take first */
	HCRYPTPROV prov;
	if (CryptAcquireContextW(&prov, NULL, NULL, PROV_RSA_FULL, CRYPT_VERIFYCONTEXT)) {
		CryptGenRandom(prov, sizeof(rnd), rnd);
		CryptReleaseContext(prov, 0);
	} else {
		unsigned long long t = GetTickCount64() ^ ((unsigned long long)GetCurrentProcessId() << 32);
		memcpy(rnd, &t, sizeof(rnd));
	}
	swprintf(name, 96, L"\\\\.\\pipe\\neuron-agent-%lu-%u-%02x%02x%02x%02x%02x%02x%02x%02x",
		 (unsigned long)GetCurrentProcessId(), ++x->counter, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5],
		 rnd[6], rnd[7]);
	if (!(sa.lpSecurityDescriptor = pipe_security(token))) {
		no_helper(x, "failed", "the session pipe's security", GetLastError());
		goto out;
	}
	pipe = CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
				PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, 65536,
				65536, 0, &sa);
	LocalFree(sa.lpSecurityDescriptor);
	if (pipe == INVALID_HANDLE_VALUE) {
		no_helper(x, "failed", "CreateNamedPipe", GetLastError());
		goto out;
	}
	swprintf(cmd, MAX_PATH + 128, L"\"%ls\" --pipe %ls", exe, name);
	if (!CreateEnvironmentBlock(&env, token, FALSE))
		env = NULL;
	if (!CreateProcessAsUserW(token, exe, cmd, NULL, NULL, FALSE,
				  CREATE_UNICODE_ENVIRONMENT | CREATE_DEFAULT_ERROR_MODE, env, NULL, &si,
				  &pi)) {
		no_helper(x, "failed", "starting neuron-session.exe in the user's session", GetLastError());
		goto out;
	}
	CloseHandle(pi.hThread);
	x->process = pi.hProcess;
	x->pid = pi.dwProcessId;
	/* wait for it to connect, or to die */
	ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
	if (!ConnectNamedPipe(pipe, &ov) && GetLastError() == ERROR_IO_PENDING) {
		HANDLE both[2] = { ov.hEvent, pi.hProcess };
		if (WaitForMultipleObjects(2, both, FALSE, CONNECT_MS) != WAIT_OBJECT_0) {
			CancelIoEx(pipe, &ov);
			GetOverlappedResult(pipe, &ov, &n, TRUE);
			no_helper(x, "failed", "the session helper did not connect", 0);
			goto out;
		}
	} else if (GetLastError() != ERROR_PIPE_CONNECTED && GetLastError() != ERROR_IO_PENDING) {
		no_helper(x, "failed", "ConnectNamedPipe", GetLastError());
		goto out;
	}
	if (!GetNamedPipeClientProcessId(pipe, &client) || client != pi.dwProcessId ||
	    !ProcessIdToSessionId(client, &got_session) || got_session != session) {
		no_helper(x, "failed", "a process other than the session helper took its pipe", 0);
		goto out;
	}
	x->pipe = pipe;
	pipe = INVALID_HANDLE_VALUE;
	x->session = session;
	rc = 0;
out:
	if (ov.hEvent)
		CloseHandle(ov.hEvent);
	if (pipe != INVALID_HANDLE_VALUE)
		CloseHandle(pipe);
	if (env)
		DestroyEnvironmentBlock(env);
	if (token)
		CloseHandle(token);
	if (rc < 0)
		helper_end(x);
	return rc;
}

/* A helper that answers, starting one when there is none and the back-off allows. */
static bool helper_ready(struct proxy *x)
{
	if (InterlockedExchange(&session_changed, 0)) {
		helper_end(x);
		x->next_try = 0;
		x->backoff_ms = BACKOFF_MIN_MS;
	}
	if (x->process && WaitForSingleObject(x->process, 0) != WAIT_TIMEOUT) {
		helper_end(x);
		no_helper(x, "failed", "the session helper ended; it is being started again", 0);
	}
	if (x->pipe)
		return true;
	if ((long long)GetTickCount64() < x->next_try)
		return false;
	if (helper_start(x) == 0) {
		x->backoff_ms = BACKOFF_MIN_MS;
		return true;
	}
	x->next_try = (long long)GetTickCount64() + x->backoff_ms;
	x->backoff_ms = x->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : x->backoff_ms * 2;
	fprintf(stderr, "neuron-agent: session helper: %s\n", x->why);
	return false;
}

/* One call: 0 with the reply's payload in *reply, or -1 with code and why. */
static int call(struct proxy *x, int op, const void *a, size_t alen, const void *b, size_t blen, int timeout_ms,
		struct win_msg *reply, const char **code, char *why)
{
	if (!helper_ready(x)) {
		*code = x->code ? x->code : "unsupported";
		snprintf(why, 256, "%s", x->why[0] ? x->why : "the session helper is not running");
		return -1;
	}
	if (win_ipc_send(x->pipe, op, a, alen, b, blen, timeout_ms) < 0 || win_ipc_recv(x->pipe, reply, timeout_ms) < 0) {
		helper_end(x); /* broken or hung: a new one next time */
		*code = "failed";
		snprintf(why, 256, "the session helper did not answer within %d ms", timeout_ms);
		return -1;
	}
	if (reply->kind != 0) {
		win_ipc_error(reply, code, why);
		return -1;
	}
	return 0;
}

static int p_clip_get(struct agent_platform *p, const char *mime, struct nr_buf *out, const char **code, char *why)
{
	struct win_msg r = { 0 };
	int rc = call(p->state, WIN_OP_CLIP_GET, mime, strlen(mime) + 1, NULL, 0, CALL_MS, &r, code, why);

	if (rc == 0)
		nr_buf_append(out, r.data.data ? r.data.data : "", r.data.len);
	nr_buf_done(&r.data);
	return rc;
}

static int p_clip_set(struct agent_platform *p, const char *mime, const void *data, size_t len, const char **code,
		      char *why)
{
	struct win_msg r = { 0 };
	int rc = call(p->state, WIN_OP_CLIP_SET, mime, strlen(mime) + 1, data, len, CALL_MS, &r, code, why);

	nr_buf_done(&r.data);
	return rc;
}

static int p_launch(struct agent_platform *p, const char *program, const char *const *argv, long long *pid,
		    const char **code, char *why)
{
	struct win_msg r = { 0 };
	struct nr_buf args;
	int rc;

	nr_buf_init(&args);
	for (size_t i = 0; argv[i]; i++)
		nr_buf_append(&args, argv[i], strlen(argv[i]) + 1);
	rc = call(p->state, WIN_OP_LAUNCH, args.data, args.len, NULL, 0, CALL_MS, &r, code, why);
	if (rc == 0 && r.data.len == sizeof(long long))
		memcpy(pid, r.data.data, sizeof(long long));
	nr_buf_done(&args);
	nr_buf_done(&r.data);
	return rc;
}

static int p_res_get(struct agent_platform *p, int *w, int *h, const char **code, char *why)
{
	struct win_msg r = { 0 };
	int rc = call(p->state, WIN_OP_RES_GET, NULL, 0, NULL, 0, CALL_MS, &r, code, why), wh[2];

	if (rc == 0 && r.data.len == sizeof(wh)) {
		memcpy(wh, r.data.data, sizeof(wh));
		*w = wh[0];
		*h = wh[1];
	}
	nr_buf_done(&r.data);
	return rc;
}

static int p_res_set(struct agent_platform *p, int w, int h, const char **code, char *why)
{
	struct win_msg r = { 0 };
	int wh[2] = { w, h }, rc = call(p->state, WIN_OP_RES_SET, wh, sizeof(wh), NULL, 0, CALL_MS, &r, code, why);

	nr_buf_done(&r.data);
	return rc;
}

static int p_changes(struct agent_platform *p, char *mime, size_t mime_size, long long *size)
{
	struct win_msg r = { 0 };
	const char *code;
	char why[256];
	int changed = 0;

	/* {changed, size, mime\0} */
	if (call(p->state, WIN_OP_CHANGES, NULL, 0, NULL, 0, POLL_MS, &r, &code, why) == 0 &&
	    r.data.len > sizeof(int) + sizeof(long long)) {
		memcpy(&changed, r.data.data, sizeof(int));
		memcpy(size, r.data.data + sizeof(int), sizeof(long long));
		snprintf(mime, mime_size, "%s", r.data.data + sizeof(int) + sizeof(long long));
	}
	nr_buf_done(&r.data);
	return changed;
}

static int p_apps(struct agent_platform *p, agent_app_fn each, void *ctx, const char **code, char *why)
{
	struct win_msg r = { 0 };
	int rc = call(p->state, WIN_OP_APPS, NULL, 0, NULL, 0, CALL_MS, &r, code, why);

	if (rc == 0 && win_unpack_apps(r.data.data, r.data.len, each, ctx) < 0) {
		*code = "failed";
		snprintf(why, 256, "the session helper's list of apps is malformed");
		rc = -1;
	}
	nr_buf_done(&r.data);
	return rc;
}

static int p_app_icon(struct agent_platform *p, const char *id, int size, struct nr_buf *out, const char **code,
		      char *why)
{
	struct win_msg r = { 0 };
	int rc = call(p->state, WIN_OP_APP_ICON, &size, sizeof(size), id, strlen(id) + 1, CALL_MS, &r, code, why);

	if (rc == 0)
		nr_buf_append(out, r.data.data ? r.data.data : "", r.data.len);
	nr_buf_done(&r.data);
	return rc;
}

static int p_open(struct agent_platform *p, const char *path, const char *app, long long *pid, const char **code,
		  char *why)
{
	struct win_msg r = { 0 };
	int rc = call(p->state, WIN_OP_OPEN, path, strlen(path) + 1, app ? app : "", app ? strlen(app) + 1 : 1, CALL_MS,
		      &r, code, why);

	if (rc == 0 && r.data.len == sizeof(long long))
		memcpy(pid, r.data.data, sizeof(long long));
	nr_buf_done(&r.data);
	return rc;
}

static int p_windows(struct agent_platform *p, agent_window_fn each, void *ctx, const char **code, char *why)
{
	struct win_msg r = { 0 };
	int rc = call(p->state, WIN_OP_WINDOWS, NULL, 0, NULL, 0, CALL_MS, &r, code, why);

	if (rc == 0 && win_unpack_windows(r.data.data, r.data.len, each, ctx) < 0) {
		*code = "failed";
		snprintf(why, 256, "the session helper's list of windows is malformed");
		rc = -1;
	}
	nr_buf_done(&r.data);
	return rc;
}

static int p_window(struct agent_platform *p, int op, const char *id, const char **code, char *why)
{
	struct win_msg r = { 0 };
	int rc = call(p->state, op, id, strlen(id) + 1, NULL, 0, CALL_MS, &r, code, why);

	nr_buf_done(&r.data);
	return rc;
}

static int p_window_focus(struct agent_platform *p, const char *id, const char **code, char *why)
{
	return p_window(p, WIN_OP_WINDOW_FOCUS, id, code, why);
}

static int p_window_close(struct agent_platform *p, const char *id, const char **code, char *why)
{
	return p_window(p, WIN_OP_WINDOW_CLOSE, id, code, why);
}

static int p_shutdown(struct agent_platform *p, const char *mode, const char **code, char *why)
{
	return win_shutdown(mode, code, why);
}

static void p_os_name(struct agent_platform *p, char *out, size_t size)
{
	win_os_name(out, size);
}

static void p_free(struct agent_platform *p)
{
	struct proxy *x = p->state;

	helper_end(x);
	the_proxy = NULL;
	free(x);
	free(p);
}

struct agent_platform *win_proxy_new(void)
{
	struct agent_platform *p = calloc(1, sizeof(*p));
	struct proxy *x = calloc(1, sizeof(*x));

	if (!p || !x) {
		free(p);
		free(x);
		return NULL;
	}
	x->backoff_ms = BACKOFF_MIN_MS;
	the_proxy = x;
	*p = (struct agent_platform){
		.name = "windows", .state = x, .clipboard_get = p_clip_get, .clipboard_set = p_clip_set,
		.launch = p_launch, .get_resolution = p_res_get, .set_resolution = p_res_set, .shutdown = p_shutdown,
		.apps = p_apps, .app_icon = p_app_icon, .open = p_open, .windows = p_windows,
		.window_focus = p_window_focus, .window_close = p_window_close, .shares = win_shares,
		.os_name = p_os_name, .poll_changes = p_changes, .free = p_free,
	};
	return p;
}
