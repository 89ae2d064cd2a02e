/* The host client against the reference agent (build/neuron-agent) and against hostile
 * peers: round trips of every message, a 16 MiB image, events, reconnection, resync on
 * one stream, and what an untrusted guest may send (docs/PROTOCOL.md 7). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "neuron/agent.h"
#include "neuron/agent_proto.h"
#include "neuron/certs.h"
#include "neuron/domain.h"
#include "neuron/tls.h"

extern char **environ;

/* Agents still running when a test fails are stopped by the group teardown. */
static pid_t agents[16];
static int n_agents;

static struct {
	char dir[256];
	char host_dir[512];      /* vm1's host credentials */
	char bundle[512];        /* vm1's guest bundle */
	char other_vm[512];      /* vm2's guest bundle: another CA */
	char self_signed[512];   /* a self-signed guest certificate */
	char not_pinned[512];    /* signed by vm1's CA, but not the pinned guest certificate */
	char agent[512];         /* build/neuron-agent */
	char guest_fp[104];
} fx;

static void copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[8192];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

static void make_bundle(const char *dir, const char *ca, const char *cert, const char *key, const char *host)
{
	char p[700];

	mkdir(dir, 0700);
	snprintf(p, sizeof(p), "%s/ca.pem", dir);
	copy_file(ca, p, 0644);
	snprintf(p, sizeof(p), "%s/guest.pem", dir);
	copy_file(cert, p, 0644);
	snprintf(p, sizeof(p), "%s/guest.key", dir);
	copy_file(key, p, 0600);
	snprintf(p, sizeof(p), "%s/host.pem", dir);
	copy_file(host, p, 0644);
}

static int group_setup(void **state)
{
	struct nr_ctx *ctx = nr_ctx_new();
	struct nr_certs_info info;
	struct nr_error err = { 0 };
	char state_dir[300], b2[300], p[4][700], exe[400];
	ssize_t n;

	signal(SIGPIPE, SIG_IGN);
	strcpy(fx.dir, "/tmp/neuron-test-agent-XXXXXX");
	assert_non_null(mkdtemp(fx.dir));
	snprintf(state_dir, sizeof(state_dir), "%s/state", fx.dir);
	assert_int_equal(nr_ctx_set(ctx, "state_dir", state_dir, &err), 0);
	snprintf(fx.bundle, sizeof(fx.bundle), "%s/bundle", fx.dir);
	assert_int_equal(nr_certs_generate(ctx, "vm1", fx.bundle, false, &info, &err), 0);
	snprintf(fx.host_dir, sizeof(fx.host_dir), "%.500s", info.host_dir);
	snprintf(fx.guest_fp, sizeof(fx.guest_fp), "%s", info.guest_fingerprint);
	snprintf(b2, sizeof(b2), "%s/bundle2", fx.dir);
	assert_int_equal(nr_certs_generate(ctx, "vm2", b2, false, &info, &err), 0);
	snprintf(fx.other_vm, sizeof(fx.other_vm), "%s", b2);

	/* vm2's CA certificate is self-signed: use it as a guest certificate */
	snprintf(fx.self_signed, sizeof(fx.self_signed), "%s/self", fx.dir);
	snprintf(p[0], sizeof(p[0]), "%s/ca.pem", fx.host_dir);
	snprintf(p[1], sizeof(p[1]), "%s/state/agent/vm2/ca.pem", fx.dir);
	snprintf(p[2], sizeof(p[2]), "%s/state/agent/vm2/ca.key", fx.dir);
	snprintf(p[3], sizeof(p[3]), "%s/host.pem", fx.host_dir);
	make_bundle(fx.self_signed, p[0], p[1], p[2], p[3]);
	/* vm1's host certificate is signed by vm1's CA but is not the pinned guest one */
	snprintf(fx.not_pinned, sizeof(fx.not_pinned), "%s/notpinned", fx.dir);
	snprintf(p[1], sizeof(p[1]), "%s/host.pem", fx.host_dir);
	snprintf(p[2], sizeof(p[2]), "%s/host.key", fx.host_dir);
	make_bundle(fx.not_pinned, p[0], p[1], p[2], p[3]);

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	snprintf(fx.agent, sizeof(fx.agent), "%s/../neuron-agent", dirname(exe));
	assert_int_equal(access(fx.agent, X_OK), 0);
	nr_ctx_free(ctx);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[300];

	for (int i = 0; i < n_agents; i++)
		if (waitpid(agents[i], NULL, WNOHANG) == 0) {
			kill(agents[i], SIGKILL);
			waitpid(agents[i], NULL, 0);
		}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The reference agent with the memory platform, on fd (stdio) or listening on path;
 * with delay (a sleep(1) argument), through a shell that sleeps that long first. */
/* The newest protocol version the agents spawned speak (--protocol): "1" plays an agent
 * older than binary chunks. */
static const char *agent_protocol = "2";

static pid_t spawn_agent_after(int fd, const char *listen_path, const char *delay)
{
	const char *argv[] = { "/bin/sh", "-c", "sleep \"$0\" && exec \"$@\"", delay, fx.agent, "--certs",
			       fx.bundle, "--platform", "memory", "--protocol", agent_protocol,
			       listen_path ? "--listen" : "--stdio", listen_path, NULL };
	const char *const *args = delay ? argv : argv + 4;
	posix_spawn_file_actions_t fa;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	if (fd >= 0) {
		posix_spawn_file_actions_adddup2(&fa, fd, 0);
		posix_spawn_file_actions_adddup2(&fa, fd, 1);
	}
	assert_int_equal(posix_spawn(&pid, args[0], &fa, NULL, (char *const *)args, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	if (n_agents < 16)
		agents[n_agents++] = pid;
	if (listen_path) {
		for (int i = 0; i < 200 && access(listen_path, F_OK) != 0; i++)
			usleep(10000);
		assert_int_equal(access(listen_path, F_OK), 0);
	}
	return pid;
}

static pid_t spawn_agent(int fd, const char *listen_path)
{
	return spawn_agent_after(fd, listen_path, NULL);
}

static int wait_exit(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	for (int i = 0; i < n_agents; i++)
		if (agents[i] == pid)
			agents[i] = agents[--n_agents];
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void check_every_message(struct nr_agent *a, pid_t pid, int version)
{
	struct nr_error err = { 0 };
	struct nr_agent_info info;
	struct nr_agent_status st;
	struct nr_agent_event ev;
	unsigned char *data;
	size_t len;
	double rtt;
	int w, h;

	assert_int_equal(nr_agent_ping(a, &rtt, &err), 0);
	assert_true(rtt >= 0);
	nr_agent_get_status(a, &st);
	assert_true(st.connected);
	assert_string_equal(st.fingerprint, fx.guest_fp);
	assert_string_equal(st.agent_version, "neuron-agent 0.1.0");
	assert_int_equal(st.protocol_version, version);
	assert_true(st.last_ping > 0);

	assert_int_equal(nr_agent_info(a, &info, &err), 0);
	assert_string_equal(info.os, "in-memory test platform");
	assert_string_equal(info.agent_version, "0.1.0");
	assert_true(info.hostname[0]);
	assert_int_equal(info.width, 1920);

	assert_int_equal(nr_agent_resolution_get(a, &w, &h, &err), 0);
	assert_int_equal(w * 10000 + h, 1920 * 10000 + 1080);
	assert_int_equal(nr_agent_resolution_set(a, 2560, 1440, &err), 0);
	assert_int_equal(nr_agent_resolution_get(a, &w, &h, &err), 0);
	assert_int_equal(w * 10000 + h, 2560 * 10000 + 1440);

	const char *text = "h\xc3\xa9llo \xe2\x82\xac \"quoted\" \x02\x03 and a newline\n";
	assert_int_equal(nr_agent_clipboard_set(a, "text/plain", text, strlen(text), &err), 0);
	assert_int_equal(nr_agent_clipboard_get(a, "text/plain", &data, &len, &err), 0);
	assert_int_equal(len, strlen(text));
	assert_string_equal((char *)data, text);
	free(data);

	/* text whose escapes would pass the frame cap is refused before it is sent, and the
	 * session goes on */
	char *ctl = malloc(400000);
	memset(ctl, 1, 400000);
	assert_int_equal(nr_agent_clipboard_set(a, "text/plain", ctl, 400000, &err), -NR_E_INVAL);
	free(ctl);
	nr_agent_get_status(a, &st);
	assert_true(st.connected);

	/* 16 MiB image in chunks both ways */
	size_t big = 16u << 20;
	unsigned char *img = malloc(big);
	assert_non_null(img);
	for (size_t i = 0; i < big; i++)
		img[i] = (unsigned char)((i * 2654435761u) >> 13);
	assert_int_equal(nr_agent_clipboard_set(a, "image/png", img, big, &err), 0);
	assert_int_equal(nr_agent_clipboard_get(a, "image/png", &data, &len, &err), 0);
	assert_int_equal(len, big);
	assert_memory_equal(data, img, big);
	free(data);
	free(img);
	/* asking for what the clipboard does not hold is the guest's documented refusal */
	assert_int_equal(nr_agent_clipboard_get(a, "text/plain", &data, &len, &err), -NR_E_AGENT_REMOTE);
	assert_non_null(strstr(err.msg, "failed"));

	/* launch really starts the program in the guest */
	char marker[600];
	long long child = 0;
	snprintf(marker, sizeof(marker), "%s/launched", fx.dir);
	unlink(marker);
	const char *args[] = { "-c", "echo \"$0\" > \"$1\"", "started", marker, NULL };
	assert_int_equal(nr_agent_launch(a, "sh", args, &child, &err), 0);
	assert_true(child > 0);
	/* the shell makes the file before echo writes it: wait for the line, not the file */
	char buf[64] = "";
	for (int i = 0; i < 200 && !strchr(buf, '\n'); i++) {
		FILE *f = fopen(marker, "r");
		if (!f || !fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		if (f)
			fclose(f);
		if (!strchr(buf, '\n'))
			usleep(10000);
	}
	assert_string_equal(buf, "started\n");
	assert_int_equal(nr_agent_launch(a, "/nonexistent/program", NULL, &child, &err), -NR_E_AGENT_REMOTE);

	/* events: a copy and a resolution change in the guest */
	assert_int_equal(nr_agent_wait_event(a, 50, &ev, &err), 0);
	kill(pid, SIGUSR1);
	assert_int_equal(nr_agent_wait_event(a, 3000, &ev, &err), 1);
	assert_int_equal(ev.type, NR_AGENT_EVENT_CLIPBOARD);
	assert_string_equal(ev.mime, "text/plain");
	assert_int_equal(ev.size, strlen("guest copy 1"));
	assert_int_equal(nr_agent_clipboard_get(a, "text/plain", &data, &len, &err), 0);
	assert_string_equal((char *)data, "guest copy 1");
	free(data);
	kill(pid, SIGUSR2);
	assert_int_equal(nr_agent_wait_event(a, 3000, &ev, &err), 1);
	assert_int_equal(ev.type, NR_AGENT_EVENT_RESOLUTION);
	assert_int_equal(ev.width * 10000 + ev.height, 1280 * 10000 + 800);
	nr_agent_get_status(a, &st);
	assert_int_equal(st.clipboard_events, 1);
	assert_string_equal(st.clipboard_mime, "text/plain");
	assert_int_equal(st.width, 1280);
	assert_int_equal(st.bad_frames, 0);
	assert_int_equal(st.stray, 0);

	assert_int_equal(nr_agent_shutdown(a, "reboot", &err), 0);
	assert_int_equal(wait_exit(pid), 0); /* and, under ASan, without a leak */
	assert_true(nr_agent_ping(a, NULL, &err) < 0);
}

static void test_round_trip_socketpair(void **state)
{
	struct nr_error err = { 0 };
	struct nr_agent *a;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid_t pid = spawn_agent(sv[1], NULL);
	close(sv[1]);
	assert_int_equal(nr_agent_open_fds(sv[0], sv[0], fx.host_dir, &a, &err), 0);
	check_every_message(a, pid, 2);
	nr_agent_free(a);
}

/* Version negotiation (PROTOCOL.md 8): a version-1 agent (base64 chunks) with this host,
 * and a version-1 host with this agent; the 16 MiB image both ways in either. */
static void test_round_trip_version_1_agent(void **state)
{
	struct nr_error err = { 0 };
	struct nr_agent *a;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	agent_protocol = "1";
	pid_t pid = spawn_agent(sv[1], NULL);
	agent_protocol = "2";
	close(sv[1]);
	assert_int_equal(nr_agent_open_fds(sv[0], sv[0], fx.host_dir, &a, &err), 0);
	check_every_message(a, pid, 1);
	nr_agent_free(a);
}

static void test_round_trip_version_1_host(void **state)
{
	struct nr_error err = { 0 };
	struct nr_agent *a;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid_t pid = spawn_agent(sv[1], NULL);
	close(sv[1]);
	assert_int_equal(nr_agent_open_fds(sv[0], sv[0], fx.host_dir, &a, &err), 0);
	nr_agent_set_protocol(a, 1);
	check_every_message(a, pid, 1);
	nr_agent_free(a);
}

/* A pty channel (libvirt's <channel type='pty'>): the agent on the master side, the host
 * opening the slave by its path as a character device. Without raw mode there, the line
 * discipline would take ETX (0x03) for ^C and turn CR into NL, and TLS would break. */
static void test_round_trip_pty(void **state)
{
	struct nr_error err = { 0 };
	struct nr_agent *a;
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	char slave[128];

	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	assert_int_equal(ptsname_r(master, slave, sizeof(slave)), 0);
	pid_t pid = spawn_agent(master, NULL);
	close(master);
	assert_int_equal(nr_agent_open_socket(slave, fx.host_dir, &a, &err), 0);
	check_every_message(a, pid, 2);
	nr_agent_free(a);
}

/* The reference agent starting late on a stream the host already writes to (a guest
 * whose agent waits for the kernel's RNG): the host's first request must get through soon
 * after the agent is up, not at the end of its long connect timeout. */
static void test_round_trip_agent_starts_late(void **state)
{
	struct nr_error err = { 0 };
	struct nr_agent *a;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid_t pid = spawn_agent_after(sv[1], NULL, "1.3");
	close(sv[1]);
	assert_int_equal(nr_agent_open_fds(sv[0], sv[0], fx.host_dir, &a, &err), 0);
	nr_agent_set_timeout(a, 5000, 20000);
	long long t0 = nr_now_ms();
	assert_int_equal(nr_agent_ping(a, NULL, &err), 0);
	assert_in_range(nr_now_ms() - t0, 1300, 1300 + 5000);
	assert_int_equal(nr_agent_shutdown(a, "poweroff", &err), 0);
	assert_int_equal(wait_exit(pid), 0);
	nr_agent_free(a);
}

static void test_round_trip_unix_socket_and_restart(void **state)
{
	struct nr_error err = { 0 };
	struct nr_agent_status st;
	struct nr_agent *a;
	char path[600];

	snprintf(path, sizeof(path), "%s/agent.sock", fx.dir);
	pid_t pid = spawn_agent(-1, path);
	assert_int_equal(nr_agent_open_socket(path, fx.host_dir, &a, &err), 0);
	nr_agent_set_timeout(a, 5000, 3000); /* 16 MiB under ASan on a busy machine */
	assert_int_equal(nr_agent_ping(a, NULL, &err), 0);
	/* the agent dies: requests fail fast, then work again once it is back */
	kill(pid, SIGKILL);
	wait_exit(pid);
	assert_int_equal(nr_agent_ping(a, NULL, &err), -NR_E_AGENT_CLOSED);
	assert_int_equal(nr_agent_ping(a, NULL, &err), -NR_E_AGENT_CLOSED);
	nr_agent_get_status(a, &st);
	assert_false(st.connected);
	unlink(path); /* the killed agent left its socket behind */
	pid = spawn_agent(-1, path);
	check_every_message(a, pid, 2);
	nr_agent_get_status(a, &st);
	assert_int_equal(st.connects, 2);
	nr_agent_free(a);
}

/* ---- hostile guests: a thread speaking the protocol with our TLS link ---- */

struct peer {
	int fd;
	const char *bundle;
	void (*script)(struct nr_tls_link *l);
	int accept_rc;
	pthread_t thread;
};

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	struct nr_tls_creds *creds = NULL;
	struct nr_tls_link *l = NULL;

	if (nr_tls_creds_load(p->bundle, NR_TLS_GUEST, &creds, NULL) == 0 &&
	    nr_tls_link_new(p->fd, p->fd, creds, &l, NULL) == 0) {
		p->accept_rc = nr_tls_link_accept(l, 5000, NULL);
		if (p->accept_rc == 0 && p->script)
			p->script(l);
	}
	nr_tls_link_free(l);
	nr_tls_creds_free(creds);
	nr_tls_thread_done();
	shutdown(p->fd, SHUT_RDWR);
	close(p->fd);
	return NULL;
}

static struct nr_agent *start_peer(struct peer *p, const char *bundle, void (*script)(struct nr_tls_link *),
				   int timeout_ms)
{
	struct nr_error err = { 0 };
	struct nr_agent *a;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	p->fd = sv[1];
	p->bundle = bundle;
	p->script = script;
	assert_int_equal(pthread_create(&p->thread, NULL, peer_main, p), 0);
	assert_int_equal(nr_agent_open_fds(sv[0], sv[0], fx.host_dir, &a, &err), 0);
	nr_agent_set_timeout(a, timeout_ms, 2000);
	return a;
}

/* What the hostile peer's hello offers beyond the basics: "" (an agent older than
 * issue 17), or ",\"capabilities\":[...]". */
static const char *hello_caps = "";
/* The version its hello answers: 2 turns binary chunk frames on for its link. */
static int hello_version = 1;

/* The next request from the host (hello is answered on the way). */
static long long next_request(struct nr_tls_link *l, char *op, size_t op_size)
{
	for (;;) {
		const char *text;
		size_t len;
		struct nr_msg m;
		if (nr_tls_link_recv(l, &text, &len, 5000, NULL) < 0)
			return -1;
		if (nr_msg_decode(text, len, &m, NULL) < 0)
			continue;
		long long id = m.id;
		bool hello = m.kind == NR_MSG_REQUEST && strcmp(m.name, "hello") == 0;
		if (m.kind == NR_MSG_REQUEST && op)
			snprintf(op, op_size, "%s", m.name);
		nr_msg_done(&m);
		if (hello) {
			char r[400];
			int n = snprintf(r, sizeof(r), "\x02{\"id\":%lld,\"ok\":true,\"result\":{\"version\":%d,"
					 "\"agent\":\"hostile 1\"%s}}\x03", id, hello_version, hello_caps);
			nr_tls_link_set_binary(l, hello_version == 2);
			nr_tls_link_write(l, r, (size_t)n, 5000, NULL);
			continue;
		}
		return id;
	}
}

static void put(struct nr_tls_link *l, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	nr_tls_link_write(l, buf, (size_t)n, 5000, NULL);
}

static void script_garbage(struct nr_tls_link *l)
{
	long long id = next_request(l, NULL, 0);
	static const char bad_utf8[] = "\x02{\"id\":1,\"ok\":true,\"x\":\"\xc3\x28\"}\x03";

	put(l, "garbage before \x03 frames \x02{not json}\x03 between \x02[1,2]\x03");
	nr_tls_link_write(l, bad_utf8, sizeof(bad_utf8) - 1, 5000, NULL);
	put(l, "\x02{\"id\":99999,\"ok\":true,\"result\":{}}\x03");          /* never sent */
	put(l, "\x02{\"id\":99998,\"chunk\":0,\"data\":\"Zm9v\"}\x03");      /* never sent */
	put(l, "\x02{\"event\":\"no-such-event\",\"data\":{}}\x03");
	put(l, "\x02{\"id\":%lld,\"ok\":tr", id);                           /* cut by the next STX */
	put(l, "\x02{\"id\":%lld,\"ok\":true,\"result\":{}}\x03", id);
	next_request(l, NULL, 0);
}

static void test_hostile_garbage_and_stray_ids(void **state)
{
	struct nr_error err = { 0 };
	struct nr_agent_status st;
	struct peer p;
	struct nr_agent *a = start_peer(&p, fx.bundle, script_garbage, 2000);

	assert_int_equal(nr_agent_ping(a, NULL, &err), 0);
	nr_agent_get_status(a, &st);
	assert_int_equal(st.stray, 2);
	assert_int_equal(st.bad_frames, 4); /* not json, not an object, bad UTF-8, cut */
	assert_string_equal(st.agent_version, "hostile 1");
	nr_agent_free(a);
	pthread_join(p.thread, NULL);
}

static void script_oversize(struct nr_tls_link *l)
{
	long long id = next_request(l, NULL, 0);
	size_t n = 2u << 20;
	char *big = malloc(n + 2);

	memset(big, 'a', n + 2);
	big[0] = NR_AGENT_STX;
	big[n + 1] = NR_AGENT_ETX;
	nr_tls_link_write(l, big, n + 2, 5000, NULL);
	put(l, "\x02{\"id\":%lld,\"ok\":true,\"result\":{}}\x03", id);
	/* the second request gets only an oversize frame */
	next_request(l, NULL, 0);
	nr_tls_link_write(l, big, n + 2, 5000, NULL);
	free(big);
	next_request(l, NULL, 0);
}

static void test_hostile_oversize_frames(void **state)
{
	struct nr_error err = { 0 };
	struct nr_agent_status st;
	struct peer p;
	struct nr_agent *a = start_peer(&p, fx.bundle, script_oversize, 1000);

	assert_int_equal(nr_agent_ping(a, NULL, &err), 0);
	nr_agent_get_status(a, &st);
	assert_int_equal(st.bad_frames, 1);
	long long t0 = nr_now_ms();
	assert_int_equal(nr_agent_ping(a, NULL, &err), -NR_E_TIMEOUT);
	assert_true(nr_now_ms() - t0 < 3000);
	nr_agent_free(a);
	pthread_join(p.thread, NULL);
}

static void script_slow(struct nr_tls_link *l)
{
	char reply[128];
	long long id = next_request(l, NULL, 0);
	int n = snprintf(reply, sizeof(reply), "\x02{\"id\":%lld,\"ok\":true,\"result\":{}}\x03", id);

	for (int i = 0; i < n; i++) { /* one byte every 5 ms: slow but in time */
		nr_tls_link_write(l, reply + i, 1, 5000, NULL);
		usleep(5000);
	}
	id = next_request(l, NULL, 0);
	n = snprintf(reply, sizeof(reply), "\x02{\"id\":%lld,\"ok\":true,\"result\":{}}\x03", id);
	for (int i = 0; i < n; i++) { /* one byte every 50 ms: too slow */
		if (nr_tls_link_write(l, reply + i, 1, 5000, NULL) < 0)
			break;
		usleep(50000);
	}
}

static void test_hostile_slow_sender(void **state)
{
	struct nr_error err = { 0 };
	struct peer p;
	struct nr_agent *a = start_peer(&p, fx.bundle, script_slow, 1500);

	assert_int_equal(nr_agent_ping(a, NULL, &err), 0);
	long long t0 = nr_now_ms();
	assert_int_equal(nr_agent_ping(a, NULL, &err), -NR_E_TIMEOUT);
	long long took = nr_now_ms() - t0;
	assert_true(took >= 1400 && took < 2500);
	nr_agent_free(a);
	pthread_join(p.thread, NULL);
}

static void script_flood(struct nr_tls_link *l)
{
	static char junk[65536];
	long long end = nr_now_ms() + 3000;

	next_request(l, NULL, 0);
	memset(junk, 'x', sizeof(junk)); /* garbage outside frames, without end */
	while (nr_now_ms() < end && nr_tls_link_write(l, junk, sizeof(junk), 1000, NULL) == 0)
		;
}

static void script_event_flood(struct nr_tls_link *l)
{
	long long end = nr_now_ms() + 3000;

	next_request(l, NULL, 0);
	while (nr_now_ms() < end)
		put(l, "\x02{\"event\":\"resolution-changed\",\"data\":{\"width\":640,\"height\":480}}\x03");
}

static void test_hostile_flood(void **state)
{
	struct nr_error err = { 0 };
	struct peer p;
	void (*scripts[])(struct nr_tls_link *) = { script_flood, script_event_flood };

	for (int i = 0; i < 2; i++) {
		struct nr_agent *a = start_peer(&p, fx.bundle, scripts[i], 500);
		long long t0 = nr_now_ms();
		assert_int_equal(nr_agent_ping(a, NULL, &err), -NR_E_TIMEOUT);
		assert_true(nr_now_ms() - t0 < 1500);
		nr_agent_free(a);
		pthread_join(p.thread, NULL);
	}
}

static void script_close_mid_frame(struct nr_tls_link *l)
{
	long long id = next_request(l, NULL, 0);

	put(l, "\x02{\"id\":%lld,\"ok\":tr", id);
}

static void test_hostile_close_mid_frame(void **state)
{
	struct nr_error err = { 0 };
	struct peer p;
	struct nr_agent *a = start_peer(&p, fx.bundle, script_close_mid_frame, 3000);

	assert_int_equal(nr_agent_ping(a, NULL, &err), -NR_E_AGENT_CLOSED);
	assert_non_null(strstr(err.msg, "middle of a frame"));
	nr_agent_free(a);
	pthread_join(p.thread, NULL);
}

static void script_bad_chunks(struct nr_tls_link *l)
{
	long long id = next_request(l, NULL, 0);

	put(l, "\x02{\"id\":%lld,\"chunk\":0,\"data\":\"Zm9v\"}\x03", id);
	put(l, "\x02{\"id\":%lld,\"chunk\":2,\"data\":\"Zm9v\"}\x03", id); /* gap */
	next_request(l, NULL, 0); /* the host reconnects on the same stream: nothing more here */
}

static void test_hostile_chunk_gap(void **state)
{
	struct nr_error err = { 0 };
	struct peer p;
	unsigned char *data;
	size_t len;
	struct nr_agent *a = start_peer(&p, fx.bundle, script_bad_chunks, 2000);

	assert_int_equal(nr_agent_clipboard_get(a, "image/png", &data, &len, &err), -NR_E_AGENT_PROTO);
	assert_null(data);
	nr_agent_free(a);
	pthread_join(p.thread, NULL);
}

static void script_wrong_size(struct nr_tls_link *l)
{
	long long id = next_request(l, NULL, 0);

	put(l, "\x02{\"id\":%lld,\"chunk\":0,\"data\":\"Zm9v\"}\x03", id);
	put(l, "\x02{\"id\":%lld,\"ok\":true,\"result\":{\"mime\":\"image/png\",\"size\":4,\"chunks\":1}}\x03", id);
}

static void test_hostile_size_mismatch(void **state)
{
	struct nr_error err = { 0 };
	struct peer p;
	unsigned char *data;
	size_t len;
	struct nr_agent *a = start_peer(&p, fx.bundle, script_wrong_size, 2000);

	assert_int_equal(nr_agent_clipboard_get(a, "image/png", &data, &len, &err), -NR_E_AGENT_PROTO);
	assert_non_null(strstr(err.msg, "announced 4 bytes"));
	nr_agent_free(a);
	pthread_join(p.thread, NULL);
}

/* Chunks are decoded straight into the download: a stray one (another id) and one that
 * is not base64 must leave no trace in it. */
static void script_interleaved(struct nr_tls_link *l)
{
	long long id = next_request(l, NULL, 0);

	put(l, "\x02{\"id\":%lld,\"chunk\":0,\"data\":\"Zm9v\"}\x03", id);        /* foo */
	put(l, "\x02{\"id\":%lld,\"chunk\":0,\"data\":\"YmFkYmFk\"}\x03", id + 1000); /* stray */
	put(l, "\x02{\"id\":%lld,\"chunk\":1,\"data\":\"Y!Fy\"}\x03", id);        /* not base64 */
	put(l, "\x02{\"data\":\"YmFy\",\"chunk\":1,\"id\":%lld}\x03", id);        /* bar, other order */
	put(l, "\x02{\"id\":%lld,\"ok\":true,\"result\":{\"mime\":\"image/png\",\"size\":6,\"chunks\":2}}\x03",
	    id);
}

static void test_hostile_interleaved_chunks(void **state)
{
	struct nr_error err = { 0 };
	struct nr_agent_status st;
	struct peer p;
	unsigned char *data = NULL;
	size_t len = 0;
	struct nr_agent *a = start_peer(&p, fx.bundle, script_interleaved, 2000);

	assert_int_equal(nr_agent_clipboard_get(a, "image/png", &data, &len, &err), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(data, "foobar", 6);
	free(data);
	nr_agent_get_status(a, &st);
	assert_int_equal(st.stray, 1);
	assert_int_equal(st.bad_frames, 1);
	nr_agent_free(a);
	pthread_join(p.thread, NULL);
}

/* ---- binary chunk frames (version 2, issue 20) from a hostile guest ---- */

/* One binary chunk frame as the peer writes it: header, data, then end (an ETX, or a
 * lie: another byte). */
static void put_bin(struct nr_tls_link *l, long long id, long long seq, size_t len, unsigned long long total,
		    const char *data, size_t data_len)
{
	unsigned char h[1 + NR_AGENT_BIN_HEADER];

	nr_chunk_header_put(h, id, seq, len, total);
	nr_tls_link_write(l, h, sizeof(h), 5000, NULL);
	nr_tls_link_write(l, data, data_len, 5000, NULL);
}

/* Binary chunks among JSON frames: a stray id, one whose length lies, a header over the
 * 1 MiB cap, an event and a JSON chunk in between; the download holds exactly the good
 * ones, in order, and the host counts what it dropped. */
static void script_binary_interleaved(struct nr_tls_link *l)
{
	long long id = next_request(l, NULL, 0);

	put_bin(l, id, 0, 3, 9, "foo\x03", 4);                         /* foo */
	put_bin(l, id + 1000, 0, 3, 3, "bad\x03", 4);                  /* stray */
	put(l, "\x02{\"event\":\"resolution-changed\",\"data\":{\"width\":800,\"height\":600}}\x03");
	put_bin(l, id, 1, 2, 9, "xyz\x03", 4);                         /* its length lies */
	put_bin(l, id, 1, NR_AGENT_BIN_CHUNK_MAX + 1, 9, "", 0);        /* over the cap */
	put(l, "\x02{\"id\":%lld,\"chunk\":1,\"data\":\"YmFy\"}\x03", id); /* bar, as JSON */
	put_bin(l, id, 2, 3, 9, "\x02\x01\x03\x03", 4);                  /* marks as data */
	put(l, "\x02{\"id\":%lld,\"ok\":true,\"result\":{\"mime\":\"image/png\",\"size\":9,\"chunks\":3}}\x03",
	    id);
	next_request(l, NULL, 0);
}

static void test_hostile_binary_chunks(void **state)
{
	struct nr_error err = { 0 };
	struct nr_agent_status st;
	struct peer p;
	unsigned char *data = NULL;
	size_t len = 0;
	struct nr_agent *a;

	hello_version = 2;
	a = start_peer(&p, fx.bundle, script_binary_interleaved, 2000);
	assert_int_equal(nr_agent_clipboard_get(a, "image/png", &data, &len, &err), 0);
	assert_int_equal(len, 9);
	assert_memory_equal(data, "foobar\x02\x01\x03", 9);
	free(data);
	nr_agent_get_status(a, &st);
	assert_int_equal(st.protocol_version, 2);
	assert_int_equal(st.stray, 1);
	assert_int_equal(st.bad_frames, 2); /* the lying length and the header over the cap */
	assert_int_equal(st.width, 800);
	nr_agent_free(a);
	pthread_join(p.thread, NULL);
	hello_version = 1;
}

/* A gap in binary chunks, and a total over 64 MiB, end the session (AGENT_PROTO). */
static void script_binary_gap(struct nr_tls_link *l)
{
	long long id = next_request(l, NULL, 0);

	put_bin(l, id, 1, 3, 3, "foo\x03", 4);
	next_request(l, NULL, 0);
}

static void script_binary_over_transfer(struct nr_tls_link *l)
{
	long long id = next_request(l, NULL, 0);

	put_bin(l, id, 0, 3, NR_AGENT_TRANSFER_MAX + 1ull, "foo\x03", 4);
	next_request(l, NULL, 0);
}

static void test_hostile_binary_gap_and_size(void **state)
{
	struct nr_error err = { 0 };
	struct peer p;
	unsigned char *data = NULL;
	size_t len = 0;
	struct nr_agent *a;

	hello_version = 2;
	a = start_peer(&p, fx.bundle, script_binary_gap, 2000);
	assert_int_equal(nr_agent_clipboard_get(a, "image/png", &data, &len, &err), -NR_E_AGENT_PROTO);
	assert_non_null(strstr(err.msg, "chunk 1 where 0 was due"));
	assert_null(data);
	nr_agent_free(a);
	pthread_join(p.thread, NULL);

	a = start_peer(&p, fx.bundle, script_binary_over_transfer, 2000);
	assert_int_equal(nr_agent_clipboard_get(a, "image/png", &data, &len, &err), -NR_E_AGENT_PROTO);
	assert_non_null(strstr(err.msg, "passed 64 MiB"));
	nr_agent_free(a);
	pthread_join(p.thread, NULL);
	hello_version = 1;
}

/* A version-1 guest never turned binary frames on: one it sends anyway is bytes outside
 * a frame for this host too, and the JSON chunks around it make the download. */
static void script_binary_from_version_1(struct nr_tls_link *l)
{
	long long id = next_request(l, NULL, 0);

	nr_tls_link_set_binary(l, true); /* this peer writes them; the host must not read them */
	put_bin(l, id, 0, 3, 3, "bad\x03", 4);
	put(l, "\x02{\"id\":%lld,\"chunk\":0,\"data\":\"Zm9v\"}\x03", id);
	put(l, "\x02{\"id\":%lld,\"ok\":true,\"result\":{\"mime\":\"image/png\",\"size\":3,\"chunks\":1}}\x03",
	    id);
	next_request(l, NULL, 0);
}

static void test_binary_not_read_from_version_1(void **state)
{
	struct nr_error err = { 0 };
	struct nr_agent_status st;
	struct peer p;
	unsigned char *data = NULL;
	size_t len = 0;
	struct nr_agent *a = start_peer(&p, fx.bundle, script_binary_from_version_1, 2000);

	assert_int_equal(nr_agent_clipboard_get(a, "image/png", &data, &len, &err), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(data, "foo", 3);
	free(data);
	nr_agent_get_status(a, &st);
	assert_int_equal(st.protocol_version, 1);
	assert_int_equal(st.stray, 0); /* its header (id 2 holds an STX) may make a bad JSON frame */
	nr_agent_free(a);
	pthread_join(p.thread, NULL);
}

/* A guest that answers a version the host did not offer is refused. */
static void script_version_3(struct nr_tls_link *l)
{
	next_request(l, NULL, 0);
}

static void test_version_not_offered_refused(void **state)
{
	struct nr_error err = { 0 };
	struct peer p;
	struct nr_agent *a;

	hello_version = 3;
	a = start_peer(&p, fx.bundle, script_version_3, 2000);
	assert_int_equal(nr_agent_ping(a, NULL, &err), -NR_E_AGENT_PROTO);
	assert_non_null(strstr(err.msg, "protocol version 3"));
	nr_agent_free(a);
	pthread_join(p.thread, NULL);
	hello_version = 1;
}

static void check_refused(const char *bundle, const char *why, bool guest_refuses)
{
	struct nr_error err = { 0 };
	struct nr_agent_status st;
	struct peer p;
	struct nr_agent *a = start_peer(&p, bundle, NULL, 2000);

	long long t0 = nr_now_ms();
	assert_int_equal(nr_agent_ping(a, NULL, &err), -NR_E_AGENT_CERT);
	assert_true(nr_now_ms() - t0 < 3000);
	if (why)
		assert_non_null(strstr(err.msg, why));
	nr_agent_get_status(a, &st);
	assert_false(st.connected);
	assert_int_equal(st.connects, 0);
	nr_agent_free(a);
	pthread_join(p.thread, NULL);
	if (guest_refuses)
		assert_true(p.accept_rc < 0);
}

static void test_hostile_certificates(void **state)
{
	/* each refused inside the handshake, with its reason (the guest meets the alert) */
	check_refused(fx.self_signed, "was refused: self-signed:", true);
	check_refused(fx.other_vm, "was refused: other CA:", true);
	check_refused(fx.not_pinned, "was refused: not pinned:", true);
}

static void test_silent_peer_times_out(void **state)
{
	struct nr_error err = { 0 };
	struct nr_agent *a;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(nr_agent_open_fds(sv[0], sv[0], fx.host_dir, &a, &err), 0);
	nr_agent_set_timeout(a, 300, 600);
	long long t0 = nr_now_ms();
	assert_int_equal(nr_agent_ping(a, NULL, &err), -NR_E_TIMEOUT);
	assert_true(nr_now_ms() - t0 < 2000);
	assert_non_null(strstr(err.msg, "resync"));
	nr_agent_free(a);
	close(sv[1]);
}

/* A virtio-serial port: the guest agent restarts while the host holds the stream. The
 * host's next request meets a fresh agent that scans for a resync: it times out, and the
 * request after it resyncs and handshakes afresh on the same stream. */
static void *restarting_guest(void *arg)
{
	struct peer *p = arg;
	struct nr_tls_creds *creds = NULL;
	struct nr_tls_link *l = NULL;

	assert_int_equal(nr_tls_creds_load(p->bundle, NR_TLS_GUEST, &creds, NULL), 0);
	for (int life = 0; life < 2; life++) {
		assert_int_equal(nr_tls_link_new(p->fd, p->fd, creds, &l, NULL), 0);
		if (nr_tls_link_accept(l, 5000, NULL) == 0) {
			long long id = next_request(l, NULL, 0);
			put(l, "\x02{\"id\":%lld,\"ok\":true,\"result\":{}}\x03", id);
			if (life == 1)
				next_request(l, NULL, 0);
		}
		nr_tls_link_free(l); /* "restart": the TLS state is gone, the stream stays */
	}
	nr_tls_creds_free(creds);
	nr_tls_thread_done();
	close(p->fd);
	return NULL;
}

static void test_resync_after_guest_restart(void **state)
{
	struct nr_error err = { 0 };
	struct nr_agent_status st;
	struct nr_agent *a;
	struct peer p = { .bundle = fx.bundle };
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	p.fd = sv[1];
	assert_int_equal(pthread_create(&p.thread, NULL, restarting_guest, &p), 0);
	assert_int_equal(nr_agent_open_fds(sv[0], sv[0], fx.host_dir, &a, &err), 0);
	nr_agent_set_timeout(a, 500, 3000);
	assert_int_equal(nr_agent_ping(a, NULL, &err), 0);
	assert_int_equal(nr_agent_ping(a, NULL, &err), -NR_E_TIMEOUT);
	assert_int_equal(nr_agent_ping(a, NULL, &err), 0);
	nr_agent_get_status(a, &st);
	assert_int_equal(st.connects, 2);
	nr_agent_free(a);
	pthread_join(p.thread, NULL);
}

/* The host restarts while the guest is still inside the old TLS session: the new host's
 * sync is a record error for the guest, which goes back to scanning and answers the next
 * repetition (PROTOCOL.md 2, step 2). */
static void *serving_guest(void *arg)
{
	struct peer *p = arg;
	struct nr_tls_creds *creds = NULL;
	struct nr_tls_link *l = NULL;

	assert_int_equal(nr_tls_creds_load(p->bundle, NR_TLS_GUEST, &creds, NULL), 0);
	assert_int_equal(nr_tls_link_new(p->fd, p->fd, creds, &l, NULL), 0);
	for (int sessions = 0; sessions < 2;) {
		int rc = nr_tls_link_accept(l, 5000, NULL);
		if (rc == -NR_E_AGENT_CLOSED || rc == -NR_E_TIMEOUT)
			break;
		if (rc < 0)
			continue;
		sessions++;
		long long id;
		while ((id = next_request(l, NULL, 0)) > 0) /* until the session breaks */
			put(l, "\x02{\"id\":%lld,\"ok\":true,\"result\":{}}\x03", id);
	}
	nr_tls_link_free(l);
	nr_tls_creds_free(creds);
	nr_tls_thread_done();
	close(p->fd);
	return NULL;
}

static void test_resync_after_host_restart(void **state)
{
	struct nr_error err = { 0 };
	struct nr_agent_status st;
	struct nr_agent *a;
	struct peer p = { .bundle = fx.bundle };
	int sv[2], copy;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	p.fd = sv[1];
	assert_int_equal(pthread_create(&p.thread, NULL, serving_guest, &p), 0);
	copy = dup(sv[0]);
	assert_int_equal(nr_agent_open_fds(copy, copy, fx.host_dir, &a, &err), 0);
	assert_int_equal(nr_agent_ping(a, NULL, &err), 0);
	nr_agent_free(a); /* the first host goes away; the stream stays */
	assert_int_equal(nr_agent_open_fds(sv[0], sv[0], fx.host_dir, &a, &err), 0);
	nr_agent_set_timeout(a, 1000, 3000);
	assert_int_equal(nr_agent_ping(a, NULL, &err), 0);
	assert_int_equal(nr_agent_ping(a, NULL, &err), 0);
	nr_agent_get_status(a, &st);
	assert_int_equal(st.connects, 1);
	nr_agent_free(a);
	pthread_join(p.thread, NULL);
}

/* A guest agent that starts slowly (its TLS context, and the kernel's RNG it seeds from,
 * not ready yet) while the stream is already open: the host's syncs pile up, and once the
 * guest scans it answers every one of them. The host must take its ack, then drop the
 * later duplicates and stale acks that come in front of (and together with) the guest's
 * TLS flight, and finish the handshake: the first session is not lost. */
struct slow_guest {
	int fd;
	int delay_ms;
	int served;
	pthread_t thread;
};

static void *slow_guest_main(void *arg)
{
	struct slow_guest *g = arg;
	struct nr_tls_creds *creds = NULL;
	struct nr_tls_link *l = NULL;
	long long id;

	usleep((useconds_t)g->delay_ms * 1000);
	if (nr_tls_creds_load(fx.bundle, NR_TLS_GUEST, &creds, NULL) == 0 &&
	    nr_tls_link_new(g->fd, g->fd, creds, &l, NULL) == 0 && nr_tls_link_accept(l, 10000, NULL) == 0)
		while ((id = next_request(l, NULL, 0)) > 0) { /* until the host goes away */
			put(l, "\x02{\"id\":%lld,\"ok\":true,\"result\":{}}\x03", id);
			g->served++;
		}
	nr_tls_link_free(l);
	nr_tls_creds_free(creds);
	nr_tls_thread_done();
	shutdown(g->fd, SHUT_RDWR);
	close(g->fd);
	return NULL;
}

static void test_slow_guest_start(void **state)
{
	struct nr_error err = { 0 };
	struct nr_agent_status st;
	struct nr_agent *a;
	struct slow_guest g = { .delay_ms = 1300 };
	int sv[2];

	/* the guest answers five or six syncs at once. The connect timeout is long, as a
	 * user's `agent ping --timeout 30000`: a host that stalls waits for it (and the real
	 * agent gives up its handshake after 10 s), one that does not is done soon after the
	 * guest is ready */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	g.fd = sv[1];
	assert_int_equal(pthread_create(&g.thread, NULL, slow_guest_main, &g), 0);
	assert_int_equal(nr_agent_open_fds(sv[0], sv[0], fx.host_dir, &a, &err), 0);
	nr_agent_set_timeout(a, 5000, 20000);
	long long t0 = nr_now_ms();
	assert_int_equal(nr_agent_ping(a, NULL, &err), 0);
	assert_in_range(nr_now_ms() - t0, g.delay_ms, g.delay_ms + 5000);
	assert_int_equal(nr_agent_ping(a, NULL, &err), 0);
	nr_agent_get_status(a, &st);
	assert_int_equal(st.connects, 1);
	nr_agent_free(a); /* closes sv[0]: the guest's session ends */
	pthread_join(g.thread, NULL);
	assert_int_equal(g.served, 2);
}

static void test_slow_guest_start_after_timeout(void **state)
{
	struct nr_error err = { 0 };
	struct nr_agent_status st;
	struct nr_agent *a;
	struct slow_guest g = { .delay_ms = 1300 };
	int sv[2];

	/* the guest is slower than the host's first connect: that one times out in the resync;
	 * the next request meets the guest answering the old syncs (stale nonces) and the new
	 * ones, and gets through on the same stream without waiting for a deadline */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	g.fd = sv[1];
	assert_int_equal(pthread_create(&g.thread, NULL, slow_guest_main, &g), 0);
	assert_int_equal(nr_agent_open_fds(sv[0], sv[0], fx.host_dir, &a, &err), 0);
	nr_agent_set_timeout(a, 5000, 600);
	long long t0 = nr_now_ms();
	assert_int_equal(nr_agent_ping(a, NULL, &err), -NR_E_TIMEOUT);
	assert_non_null(strstr(err.msg, "resync"));
	nr_agent_set_timeout(a, 5000, 20000);
	assert_int_equal(nr_agent_ping(a, NULL, &err), 0);
	assert_in_range(nr_now_ms() - t0, g.delay_ms, g.delay_ms + 5000);
	nr_agent_get_status(a, &st);
	assert_int_equal(st.connects, 1);
	nr_agent_free(a);
	pthread_join(g.thread, NULL);
	assert_int_equal(g.served, 1);
}

static void test_certs_files_and_refusal(void **state)
{
	struct nr_ctx *ctx = nr_ctx_new();
	struct nr_error err = { 0 };
	struct nr_certs_info info, again;
	char state_dir[300], path[700];
	struct stat sb;

	snprintf(state_dir, sizeof(state_dir), "%s/state", fx.dir);
	nr_ctx_set(ctx, "state_dir", state_dir, NULL);
	assert_int_equal(nr_certs_info(ctx, "vm1", &info, &err), 0);
	assert_string_equal(info.guest_fingerprint, fx.guest_fp);
	/* keys 0600, directories 0700 */
	const char *keys[] = { "ca.key", "host.key" };
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", fx.host_dir, keys[i]);
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600);
	}
	snprintf(path, sizeof(path), "%s/guest.key", fx.bundle);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(stat(fx.host_dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	/* the host never keeps the guest's key */
	snprintf(path, sizeof(path), "%s/guest.key", fx.host_dir);
	assert_int_not_equal(access(path, F_OK), 0);
	/* existing credentials are kept unless forced */
	assert_int_equal(nr_certs_generate(ctx, "vm1", NULL, false, &again, &err), -NR_E_EXISTS);
	assert_int_equal(nr_certs_info(ctx, "vm1", &again, &err), 0);
	assert_string_equal(again.guest_fingerprint, fx.guest_fp);
	/* names that would leave the state directory are refused */
	assert_int_equal(nr_certs_generate(ctx, "../x", NULL, false, &again, &err), -NR_E_INVAL);
	assert_int_equal(nr_certs_info(ctx, "nosuchvm", &again, &err), -NR_E_AGENT_NOCERTS);
	/* a fresh pair for another VM has other fingerprints */
	assert_int_equal(nr_certs_generate(ctx, "vm3", NULL, false, &again, &err), 0);
	assert_string_not_equal(again.ca_fingerprint, info.ca_fingerprint);
	assert_int_equal(strlen(again.ca_fingerprint), strlen("SHA256:") + 32 * 3 - 1);
	nr_ctx_free(ctx);
}

static const char domain_xml[] =
	"<domain type='test'><name>win11</name><memory>1048576</memory><os><type>hvm</type></os>"
	"<devices>"
	"<channel type='unix'><source mode='bind' path='/run/x/org.qemu.guest_agent.0'/>"
	"<target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
	"<channel type='unix'><source mode='bind' path='/run/x/org.neuronos.agent.0'/>"
	"<target type='virtio' name='org.neuronos.agent.0'/></channel>"
	"</devices></domain>";

/* What `agent ... VM` connects to: nr_agent_channel_of on the domain as nr_domain_inspect read it. */
static int channel_from_xml(const char *xml, char **path, struct nr_error *err)
{
	struct nr_domain_info *info;
	const char *p;
	int rc;

	*path = NULL;
	if ((rc = nr_domain_inspect(xml, &info, err)) < 0)
		return rc;
	if ((rc = nr_agent_channel_of(info, &p, err)) == 0)
		*path = strdup(p);
	nr_domain_info_free(info);
	return rc;
}

static void test_channel_from_xml(void **state)
{
	struct nr_error err = { 0 };
	char *path = NULL;

	assert_int_equal(channel_from_xml(domain_xml, &path, &err), 0);
	assert_string_equal(path, "/run/x/org.neuronos.agent.0");
	free(path);
	assert_int_equal(channel_from_xml("<domain><devices/></domain>", &path, &err), -NR_E_AGENT_NOCHANNEL);
	assert_int_equal(channel_from_xml("<domain><devices><channel type='unix'><target type='virtio' "
					  "name='org.neuronos.agent.0'/></channel></devices></domain>", &path, &err),
			 -NR_E_AGENT_NOCHANNEL);
	assert_non_null(strstr(err.msg, "when the VM runs"));
	assert_int_equal(channel_from_xml("<domain><devices><channel type='pty'><target type='virtio' "
					  "name='org.neuronos.agent.0'/></channel></devices></domain>", &path, &err),
			 -NR_E_AGENT_NOCHANNEL);
	/* a running VM's pty channel: the path of its host end */
	assert_int_equal(channel_from_xml("<domain><devices><channel type='pty'><source path='/dev/pts/7'/><target "
					  "type='virtio' name='org.neuronos.agent.0'/></channel></devices></domain>",
					  &path, &err), 0);
	assert_string_equal(path, "/dev/pts/7");
	free(path);
	assert_int_equal(channel_from_xml("<domain><devices><channel type='file'><source path='/tmp/x'/><target "
					  "type='virtio' name='org.neuronos.agent.0'/></channel></devices></domain>",
					  &path, &err), -NR_E_AGENT_NOCHANNEL);
	assert_non_null(strstr(err.msg, "'file'"));
	assert_int_equal(channel_from_xml("<domain", &path, &err), -NR_E_PARSE);
}

static void test_channel_from_libvirt(void **state)
{
	struct nr_ctx *ctx = nr_ctx_new();
	struct nr_error err = { 0 };
	char node[600], *path = NULL;
	FILE *f;

	/* test:///FILE describes a node with its domains, read by every connection */
	snprintf(node, sizeof(node), "%s/node.xml", fx.dir);
	f = fopen(node, "w");
	assert_non_null(f);
	fprintf(f, "<node>%s</node>\n", domain_xml);
	fclose(f);
	snprintf(node, sizeof(node), "test://%s/node.xml", fx.dir);
	nr_ctx_set(ctx, "connect", node, NULL);
	assert_int_equal(nr_agent_channel_path(ctx, "win11", &path, &err), 0);
	assert_string_equal(path, "/run/x/org.neuronos.agent.0");
	free(path);
	assert_int_equal(nr_agent_channel_path(ctx, "nosuchvm", &path, &err), -NR_E_NOVM);
	nr_ctx_free(ctx);
}

/* ---- apps and windows (issue 17): negotiated by hello, guest values bounded ---- */

static char old_agent_ops[256];

static void script_old_agent(struct nr_tls_link *l)
{
	char op[64];
	long long id;

	/* whatever the host sends after hello: it must not be apps or windows */
	while ((id = next_request(l, op, sizeof(op))) > 0) {
		strncat(old_agent_ops, op, sizeof(old_agent_ops) - strlen(old_agent_ops) - 2);
		strcat(old_agent_ops, " ");
		put(l, "\x02{\"id\":%lld,\"ok\":true,\"result\":{}}\x03", id);
	}
}

static void test_apps_not_asked_of_an_old_agent(void **state)
{
	struct nr_error err = { 0 };
	struct nr_agent_apps apps;
	struct nr_agent_windows wins;
	struct peer p;
	struct nr_agent *a;

	hello_caps = "";
	old_agent_ops[0] = '\0';
	a = start_peer(&p, fx.bundle, script_old_agent, 2000);
	assert_int_equal(nr_agent_apps(a, &apps, &err), -NR_E_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "does not offer apps"));
	assert_int_equal(nr_agent_windows(a, &wins, &err), -NR_E_UNSUPPORTED);
	assert_int_equal(nr_agent_window_close(a, "0x1", &err), -NR_E_UNSUPPORTED);
	assert_int_equal(nr_agent_open_path(a, "/x", NULL, NULL, &err), -NR_E_UNSUPPORTED);
	assert_int_equal(nr_agent_ping(a, NULL, &err), 0);
	nr_agent_free(a);
	pthread_join(p.thread, NULL);
	assert_string_equal(old_agent_ops, "ping ");
}

static void script_hostile_apps(struct nr_tls_link *l)
{
	char op[64];
	long long id = next_request(l, op, sizeof(op));

	/* entries without an id, with a number for a name, an id too long, a list of
	 * non-strings, and one good one */
	put(l, "\x02{\"id\":%lld,\"ok\":true,\"result\":{\"apps\":[7,{\"name\":\"no id\",\"program\":\"x\"},"
	       "{\"id\":\"n\",\"name\":5,\"program\":\"x\"},{\"id\":\"%0300d\",\"name\":\"long\",\"program\":\"x\"},"
	       "{\"id\":\"ok\",\"name\":\"Good\\u001b\",\"program\":\"p\",\"args\":[1,\"a\",null],"
	       "\"mimes\":\"text/plain\",\"icons\":[48,\"256\",9]}],\"truncated\":false}}\x03", id, 0);
	/* an icon that is not a PNG */
	id = next_request(l, op, sizeof(op));
	put(l, "\x02{\"id\":%lld,\"chunk\":0,\"data\":\"R0lGODlh\"}\x03", id);
	put(l, "\x02{\"id\":%lld,\"ok\":true,\"result\":{\"mime\":\"image/png\",\"size\":6,\"chunks\":1}}\x03", id);
	/* windows: no list */
	id = next_request(l, op, sizeof(op));
	put(l, "\x02{\"id\":%lld,\"ok\":true,\"result\":{\"windows\":{}}}\x03", id);
	next_request(l, NULL, 0);
}

static void test_hostile_apps_replies(void **state)
{
	struct nr_error err = { 0 };
	struct nr_agent_apps apps;
	struct nr_agent_windows wins;
	unsigned char *png;
	size_t len;
	struct peer p;
	struct nr_agent *a;

	hello_caps = ",\"capabilities\":[\"ping\",\"apps\",\"windows\"]";
	a = start_peer(&p, fx.bundle, script_hostile_apps, 2000);
	int rc = nr_agent_apps(a, &apps, &err);
	if (rc)
		print_error("%s\n", err.msg);
	assert_int_equal(rc, 0);
	assert_int_equal(apps.n, 1); /* the malformed ones are left out */
	assert_string_equal(apps.v[0].id, "ok");
	assert_string_equal(apps.v[0].name, "Good\x1b"); /* stored as it came: sanitised on display */
	assert_string_equal(apps.v[0].args[0], "a");
	assert_null(apps.v[0].args[1]);
	assert_null(apps.v[0].mimes[0]);
	assert_true(apps.v[0].icon48);
	assert_false(apps.v[0].icon256);
	nr_agent_apps_done(&apps);
	assert_int_equal(nr_agent_app_icon(a, "ok", 48, &png, &len, &err), -NR_E_AGENT_PROTO);
	assert_non_null(strstr(err.msg, "not a PNG"));
	assert_null(png);
	assert_int_equal(nr_agent_windows(a, &wins, &err), -NR_E_AGENT_PROTO);
	nr_agent_free(a);
	pthread_join(p.thread, NULL);
	hello_caps = "";
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_certs_files_and_refusal),
		cmocka_unit_test(test_channel_from_xml),
		cmocka_unit_test(test_channel_from_libvirt),
		cmocka_unit_test(test_round_trip_socketpair),
		cmocka_unit_test(test_round_trip_version_1_agent),
		cmocka_unit_test(test_round_trip_version_1_host),
		cmocka_unit_test(test_round_trip_pty),
		cmocka_unit_test(test_round_trip_agent_starts_late),
		cmocka_unit_test(test_round_trip_unix_socket_and_restart),
		cmocka_unit_test(test_hostile_garbage_and_stray_ids),
		cmocka_unit_test(test_hostile_oversize_frames),
		cmocka_unit_test(test_hostile_slow_sender),
		cmocka_unit_test(test_hostile_close_mid_frame),
		cmocka_unit_test(test_hostile_flood),
		cmocka_unit_test(test_hostile_chunk_gap),
		cmocka_unit_test(test_hostile_interleaved_chunks),
		cmocka_unit_test(test_hostile_size_mismatch),
		cmocka_unit_test(test_hostile_binary_chunks),
		cmocka_unit_test(test_hostile_binary_gap_and_size),
		cmocka_unit_test(test_binary_not_read_from_version_1),
		cmocka_unit_test(test_version_not_offered_refused),
		cmocka_unit_test(test_hostile_certificates),
		cmocka_unit_test(test_silent_peer_times_out),
		cmocka_unit_test(test_resync_after_guest_restart),
		cmocka_unit_test(test_resync_after_host_restart),
		cmocka_unit_test(test_slow_guest_start),
		cmocka_unit_test(test_slow_guest_start_after_timeout),
		cmocka_unit_test(test_apps_not_asked_of_an_old_agent),
		cmocka_unit_test(test_hostile_apps_replies),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
