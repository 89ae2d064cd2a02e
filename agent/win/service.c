/* neuron-agent.exe's entry point. agent/main.c is the agent; built for Windows its main is
 * renamed agent_main (-Dmain=agent_main), and this one runs it:
 *   neuron-agent.exe --service [OPTIONS]   under the service manager (what the MSI
 *       installs): a LocalSystem service that owns the port; the desktop goes through the
 *       session helper (session.c). At start it makes the credentials directory readable
 *       by SYSTEM and Administrators only, imports credentials from the directory the MSI
 *       was given (CERTS=), sets its own restart-on-failure actions, and logs to
 *       agent.log in that directory (the previous run's in agent.log.1).
 *   neuron-agent.exe --console [OPTIONS]   in the foreground, in the caller's session,
 *       the desktop called directly: for debugging (with --verbose) and tests.
 * The other options are agent/main.c's (--port, --certs, --verbose, ...). */
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "win.h"

#include <aclapi.h>
#include <sddl.h>
#include <shellapi.h>

#include "../platform.h"

int agent_main(int argc, char **argv);

#define LOG_ROTATE_BYTES (1 << 20)
#define CREDENTIALS_POLL_MS 5000

static const wchar_t *const cred_files[] = { L"ca.pem", L"guest.pem", L"guest.key", L"host.pem" };
static SERVICE_STATUS_HANDLE status_handle;
static SERVICE_STATUS status = { .dwServiceType = SERVICE_WIN32_OWN_PROCESS };
static int agent_argc;
static char **agent_argv;

static void set_status(DWORD state, DWORD exit_code)
{
	status.dwCurrentState = state;
	status.dwWin32ExitCode = exit_code;
	status.dwControlsAccepted =
		state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_SESSIONCHANGE : 0;
	status.dwWaitHint = state == SERVICE_RUNNING || state == SERVICE_STOPPED ? 0 : 5000;
	SetServiceStatus(status_handle, &status);
}

static DWORD WINAPI control(DWORD code, DWORD type, void *data, void *ctx)
{
	switch (code) {
	case SERVICE_CONTROL_STOP:
	case SERVICE_CONTROL_SHUTDOWN:
		set_status(SERVICE_STOP_PENDING, 0);
		win_proxy_stop();
		fprintf(stderr, "neuron-agent: stopped by the service manager\n");
		set_status(SERVICE_STOPPED, 0);
		ExitProcess(0); /* the agent's loop holds nothing that needs an orderly end */
		return NO_ERROR;
	case SERVICE_CONTROL_SESSIONCHANGE:
		if (type == WTS_CONSOLE_CONNECT || type == WTS_SESSION_LOGON || type == WTS_SESSION_LOGOFF ||
		    type == WTS_CONSOLE_DISCONNECT)
			win_proxy_session_changed();
		return NO_ERROR;
	case SERVICE_CONTROL_INTERROGATE:
		return NO_ERROR;
	default:
		return ERROR_CALL_NOT_IMPLEMENTED;
	}
}

/* The value of --certs among the agent's options, or the default. */
static const char *certs_dir(void)
{
	for (int i = 1; i < agent_argc; i++) {
		if (strcmp(agent_argv[i], "--certs") == 0 && i + 1 < agent_argc)
			return agent_argv[i + 1];
		if (strncmp(agent_argv[i], "--certs=", 8) == 0)
			return agent_argv[i] + 8;
	}
	return sys_default_certs;
}

/* The credentials directory: made when missing, its DACL SYSTEM and Administrators only
 * (protected: nothing inherited from ProgramData, whose users may read), which
 * SetNamedSecurityInfo hands down to the files in it. */
static void secure_dir(const wchar_t *dir)
{
	PSECURITY_DESCRIPTOR sd = NULL;
	PACL dacl = NULL;
	BOOL present, defaulted;
	SECURITY_ATTRIBUTES sa = { .nLength = sizeof(sa) };
	wchar_t parent[MAX_PATH], *slash;
	DWORD e;

	if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(L"D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)",
								  SDDL_REVISION_1, &sd, NULL)) {
		fprintf(stderr, "neuron-agent: cannot make the credentials' security descriptor (%lu)\n", GetLastError());
		return;
	}
	sa.lpSecurityDescriptor = sd;
	wcsncpy(parent, dir, MAX_PATH - 1);
	parent[MAX_PATH - 1] = 0;
	if ((slash = wcsrchr(parent, L'\\'))) { /* ProgramData\NeuronOS first */
		*slash = 0;
		CreateDirectoryW(parent, NULL);
	}
	CreateDirectoryW(dir, &sa);
	GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted);
	e = SetNamedSecurityInfoW((wchar_t *)dir, SE_FILE_OBJECT,
				  DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, NULL, NULL, dacl, NULL);
	if (e != ERROR_SUCCESS)
		fprintf(stderr, "neuron-agent: cannot restrict the credentials directory to SYSTEM and Administrators (%lu)\n",
			e);
	LocalFree(sd);
}

/* Credentials the MSI was given (CERTS=D:\path, kept in the registry): copied in at each
 * start while that directory is there, so a later bundle replaces them. */
static void import_credentials(const wchar_t *dir)
{
	wchar_t from[MAX_PATH], src[MAX_PATH + 16], dst[MAX_PATH + 16];
	DWORD n = sizeof(from);
	int copied = 0;

	if (RegGetValueW(HKEY_LOCAL_MACHINE, WIN_REG_KEY, WIN_REG_IMPORT, RRF_RT_REG_SZ, NULL, from, &n) !=
		    ERROR_SUCCESS ||
	    !from[0])
		return;
	for (size_t i = 0; i < 4; i++) {
		swprintf(src, MAX_PATH + 16, L"%ls\\%ls", from, cred_files[i]);
		if (GetFileAttributesW(src) == INVALID_FILE_ATTRIBUTES) {
			fprintf(stderr, "neuron-agent: the credentials to import (CERTS) are not complete: %ls is missing\n", src);
			return;
		}
	}
	for (size_t i = 0; i < 4; i++) {
		swprintf(src, MAX_PATH + 16, L"%ls\\%ls", from, cred_files[i]);
		swprintf(dst, MAX_PATH + 16, L"%ls\\%ls", dir, cred_files[i]);
		if (CopyFileW(src, dst, FALSE))
			copied++;
		else
			fprintf(stderr, "neuron-agent: cannot copy %ls (%lu)\n", src, GetLastError());
	}
	/* the shared folders' list comes in the same bundle (shares.conf, docs/PROTOCOL.md
	 * "shares"); a bundle without one has no shares */
	swprintf(src, MAX_PATH + 16, L"%ls\\%ls", from, WIN_SHARES_CONF);
	swprintf(dst, MAX_PATH + 16, L"%ls\\%ls", dir, WIN_SHARES_CONF);
	if (GetFileAttributesW(src) != INVALID_FILE_ATTRIBUTES) {
		if (!CopyFileW(src, dst, FALSE))
			fprintf(stderr, "neuron-agent: cannot copy %ls (%lu)\n", src, GetLastError());
	} else
		DeleteFileW(dst);
	fprintf(stderr, "neuron-agent: imported %d credential files from %ls\n", copied, from);
	secure_dir(dir); /* the copies take the directory's DACL */
}

static bool have_credentials(const wchar_t *dir)
{
	wchar_t p[MAX_PATH + 16];

	for (size_t i = 0; i < 4; i++) {
		swprintf(p, MAX_PATH + 16, L"%ls\\%ls", dir, cred_files[i]);
		if (GetFileAttributesW(p) == INVALID_FILE_ATTRIBUTES)
			return false;
	}
	return true;
}

/* Restart on failure: 5 s, 5 s, then 30 s; the count resets after a day. */
static void set_failure_actions(void)
{
	SC_ACTION actions[3] = { { SC_ACTION_RESTART, 5000 }, { SC_ACTION_RESTART, 5000 }, { SC_ACTION_RESTART, 30000 } };
	SERVICE_FAILURE_ACTIONSW fa = { .dwResetPeriod = 86400, .cActions = 3, .lpsaActions = actions };
	SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT), svc = NULL;

	if (scm && (svc = OpenServiceW(scm, WIN_SERVICE_NAME, SERVICE_CHANGE_CONFIG | SERVICE_START)))
		if (!ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS, &fa))
			fprintf(stderr, "neuron-agent: cannot set the restart-on-failure actions (%lu)\n", GetLastError());
	if (svc)
		CloseServiceHandle(svc);
	if (scm)
		CloseServiceHandle(scm);
}

/* stderr (main.c's log) into DIR\agent.log, the previous one kept as agent.log.1. */
static void open_log(const wchar_t *dir)
{
	wchar_t log[MAX_PATH + 16], old[MAX_PATH + 16];
	WIN32_FILE_ATTRIBUTE_DATA a;

	swprintf(log, MAX_PATH + 16, L"%ls\\agent.log", dir);
	swprintf(old, MAX_PATH + 16, L"%ls\\agent.log.1", dir);
	if (GetFileAttributesExW(log, GetFileExInfoStandard, &a) && (a.nFileSizeHigh || a.nFileSizeLow > LOG_ROTATE_BYTES))
		MoveFileExW(log, old, MOVEFILE_REPLACE_EXISTING);
	/* A service starts without standard handles, and msvcrt's stderr then has no file
	 * that freopen could replace (it fails): the stream is made the log's, unbuffered. */
	FILE *f = _wfopen(log, L"a");
	if (!f)
		return;
	setvbuf(f, NULL, _IONBF, 0);
	_dup2(_fileno(f), 2);
	SetStdHandle(STD_ERROR_HANDLE, (HANDLE)_get_osfhandle(2));
	*stderr = *f;
}

static void WINAPI service_main(DWORD argc, wchar_t **argv)
{
	wchar_t *dir;
	int rc;

	status_handle = RegisterServiceCtrlHandlerExW(WIN_SERVICE_NAME, control, NULL);
	if (!status_handle)
		return;
	set_status(SERVICE_START_PENDING, 0);
	win_mode = WIN_MODE_SERVICE;
	if ((dir = win_wide(certs_dir()))) {
		secure_dir(dir);
		open_log(dir);
		import_credentials(dir);
		free(dir);
	}
	set_failure_actions();
	fprintf(stderr, "neuron-agent: service started (pid %lu)\n", GetCurrentProcessId());
	set_status(SERVICE_RUNNING, 0);
	/* Installed before its credentials (no CERTS=): wait for them, running */
	if ((dir = win_wide(certs_dir()))) {
		for (bool told = false; !have_credentials(dir); told = true) {
			if (!told)
				fprintf(stderr, "neuron-agent: waiting for credentials in %ls (ca.pem, guest.pem, guest.key, "
						"host.pem: neuronctl agent certs VM --bundle DIR)\n", dir);
			Sleep(CREDENTIALS_POLL_MS);
			import_credentials(dir);
		}
		free(dir);
	}
	rc = agent_main(agent_argc, agent_argv);
	/* main.c returns only when it cannot go on (bad credentials): a failure, which the
	 * service manager's restart actions answer */
	fprintf(stderr, "neuron-agent: the agent ended (exit status %d)\n", rc);
	set_status(SERVICE_STOPPED, rc ? ERROR_SERVICE_SPECIFIC_ERROR : 0);
}

int main(void)
{
	int argc, mode = -1;
	wchar_t **wargv = CommandLineToArgvW(GetCommandLineW(), &argc);

	if (!wargv || !(agent_argv = calloc((size_t)argc + 1, sizeof(char *))))
		return 1;
	/* UTF-8 argv for main.c, less --service / --console */
	for (int i = 0; i < argc; i++) {
		if (i > 0 && wcscmp(wargv[i], L"--service") == 0 && mode < 0) {
			mode = WIN_MODE_SERVICE;
			continue;
		}
		if (i > 0 && wcscmp(wargv[i], L"--console") == 0 && mode < 0) {
			mode = WIN_MODE_CONSOLE;
			continue;
		}
		if (!(agent_argv[agent_argc++] = win_utf8(wargv[i])))
			return 1;
		if (i > 0 && (wcscmp(wargv[i], L"--help") == 0 || wcscmp(wargv[i], L"-h") == 0))
			mode = WIN_MODE_CONSOLE;
	}
	LocalFree(wargv);
	if (mode == WIN_MODE_SERVICE) {
		SERVICE_TABLE_ENTRYW table[] = { { (wchar_t *)WIN_SERVICE_NAME, service_main }, { NULL, NULL } };
		if (!StartServiceCtrlDispatcherW(table)) {
			fprintf(stderr, "neuron-agent: --service is for the service manager (%lu); install the MSI, or "
					"run neuron-agent.exe --console\n", GetLastError());
			return 1;
		}
		return 0;
	}
	if (mode < 0) {
		fprintf(stderr, "usage: neuron-agent.exe --service | --console [OPTIONS]\n"
				"  --service   run under the service manager (as the MSI installs it)\n"
				"  --console   run in the foreground in this session (debugging: add --verbose)\n"
				"neuron-agent.exe --console --help lists the other options\n");
		return 2;
	}
	if (agent_argc > 1 && strcmp(agent_argv[1], "--help") == 0)
		printf("neuron-agent.exe --service | --console [OPTIONS]: as a service, or in the foreground\n\n");
	win_mode = WIN_MODE_CONSOLE;
	return agent_main(agent_argc, agent_argv);
}
