/* Measures the agent channel for bench-agent.sh: ping round trips and clipboard image
 * throughput over TLS on a unix socket (host client against neuron-agent), and
 * qemu-guest-agent's guest-ping over a plain unix socket, with the same clock and loop. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/version.h>

#include "neuron/agent.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static int qga_open(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "qemu-ga: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* One guest-ping round trip on qemu-ga's socket: its time in us, or -1. */
static double qga_ping(int fd)
{
	static const char req[] = "{\"execute\":\"guest-ping\"}\n";
	double t0 = now_us();
	char buf[256];
	size_t got = 0;

	if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1)
		return -1;
	while (got == 0 || buf[got - 1] != '\n') {
		ssize_t r = read(fd, buf + got, sizeof(buf) - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return now_us() - t0;
}

/* A raw unix-socket peer: a child that answers each connection's byte with one byte. */
static pid_t echo_server(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	pid_t pid;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);   /* never outlive the bench */
		for (;;) {
			int c = accept(fd, NULL, NULL);
			char b;
			if (c < 0)
				_exit(0);
			if (read(c, &b, 1) == 1 && write(c, &b, 1) != 1)
				_exit(1);
			close(c);
		}
	}
	close(fd);
	return pid;
}

/* Connect to the echo server and one byte there and back: its time in us, or -1. */
static double raw_round_trip(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	double t0 = now_us();
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	char b = 'x';

	if (strlen(path) < sizeof(sa.sun_path))
		memcpy(sa.sun_path, path, strlen(path) + 1);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || write(fd, &b, 1) != 1 ||
	    read(fd, &b, 1) != 1) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return now_us() - t0;
}

/* The best time of rounds clipboard-sets and -gets of img (us each way); -1 on failure. */
static int transfer(struct nr_agent *a, const unsigned char *img, size_t size, int rounds, double *set_us,
		    double *get_us)
{
	struct nr_error err = { 0 };
	unsigned char *back;
	size_t len;

	*set_us = *get_us = 1e18;
	for (int r = 0; r < rounds; r++) {
		double t0 = now_us();
		if (nr_agent_clipboard_set(a, "image/png", img, size, &err) < 0) {
			fprintf(stderr, "clipboard-set: %s\n", err.msg);
			return -1;
		}
		double t1 = now_us();
		if (nr_agent_clipboard_get(a, "image/png", &back, &len, &err) < 0 || len != size) {
			fprintf(stderr, "clipboard-get: %s\n", err.msg);
			return -1;
		}
		double t2 = now_us();
		free(back);
		if (t1 - t0 < *set_us)
			*set_us = t1 - t0;
		if (t2 - t1 < *get_us)
			*get_us = t2 - t1;
	}
	return 0;
}

/* The agent's VmRSS in KiB (NEURON_BENCH_AGENT_PID: bench-agent.sh's agent), or -1. */
static long agent_rss_kib(void)
{
	const char *pid = getenv("NEURON_BENCH_AGENT_PID");
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	if (!pid)
		return -1;
	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

int main(int argc, char **argv)
{
	struct nr_error err = { 0 };
	struct nr_agent *a;
	int n = argc > 4 ? atoi(argv[4]) : 2000;
	int rounds = getenv("NEURON_BENCH_ROUNDS") ? atoi(getenv("NEURON_BENCH_ROUNDS")) : 5;
	double *t, *tq, ours, qga = 0;
	/* NEURON_BENCH_MIB, _ROUNDS: the image's size and the transfers each way (bench-agent.sh's
	 * peak for one 64 MiB transfer) */
	size_t size = (size_t)(getenv("NEURON_BENCH_MIB") ? atoi(getenv("NEURON_BENCH_MIB")) : 16) << 20;
	unsigned char *img;

	if (argc < 4) {
		fprintf(stderr, "usage: agent_bench AGENT_SOCKET|PTY CERT_DIR QGA_SOCKET|- [PINGS [IMAGE]]\n");
		return 2;
	}
	if (nr_agent_open_socket(argv[1], argv[2], &a, &err) < 0 || nr_agent_connect(a, &err) < 0) {
		fprintf(stderr, "agent: %s\n", err.msg);
		return 1;
	}
	/* the wolfSSL these programs were built with (make WOLFSSL=asm|system, mk/wolfssl.sh) */
#ifdef WOLFSSL_AESNI
	printf("wolfSSL %s, AES-NI and AVX2 assembly (make WOLFSSL=asm)", LIBWOLFSSL_VERSION_STRING);
#else
	printf("wolfSSL %s, portable C (make WOLFSSL=system or no assembly build)", LIBWOLFSSL_VERSION_STRING);
#endif
#if defined(WOLFSSL_HAVE_SP_ECC) && defined(WOLFSSL_SP_X86_64_ASM)
	printf(", P-256 in single-precision x86-64 assembly\n");
#elif defined(WOLFSSL_HAVE_SP_ECC)
	printf(", P-256 in single-precision C\n");
#else
	printf(", P-256 in generic big-number code\n");
#endif
	/* ours and qemu-ga's pings alternate, so that both see the same machine (it is shared
	 * and noisy); 50 warm-up rounds each */
	int qfd = strcmp(argv[3], "-") != 0 ? qga_open(argv[3]) : -1;
	t = calloc((size_t)n, sizeof(*t));
	tq = calloc((size_t)n, sizeof(*tq));
	for (int i = -50; i < n; i++) {
		double t0 = now_us();
		if (nr_agent_ping(a, NULL, &err) < 0) {
			fprintf(stderr, "ping: %s\n", err.msg);
			return 1;
		}
		if (i >= 0)
			t[i] = now_us() - t0;
		if (qfd >= 0) {
			double q = qga_ping(qfd);
			if (q < 0) {
				fprintf(stderr, "qemu-ga: guest-ping failed\n");
				close(qfd);
				qfd = -1;
			} else if (i >= 0) {
				tq[i] = q;
			}
		}
	}
	ours = median(t, n);
	if (qfd >= 0) {
		qga = median(tq, n);
		close(qfd);
	}
	free(t);
	free(tq);

	/* the image: a file (a real PNG, for an agent that decodes it: Windows), or bytes */
	FILE *f = argc > 5 ? fopen(argv[5], "rb") : NULL;
	if (f) {
		fseek(f, 0, SEEK_END);
		size = (size_t)ftell(f);
		rewind(f);
	}
	img = malloc(size);
	if (f) {
		if (fread(img, 1, size, f) != size) {
			fprintf(stderr, "%s: cannot read\n", argv[5]);
			return 1;
		}
		fclose(f);
	} else {
		for (size_t i = 0; i < size; i++)
			img[i] = (unsigned char)((i * 2654435761u) >> 11);
	}
	double set_us, get_us, set1_us = 0, get1_us = 0;
	if (transfer(a, img, size, rounds, &set_us, &get_us) < 0)
		return 1;
	/* the agent as it stands idle with the image in its clipboard, then the same
	 * transfers as a version-1 host makes them (base64 in JSON), for comparison */
	long rss_image = agent_rss_kib();
	if (rss_image >= 0)
		printf("AGENT_RSS_IMAGE %ld\n", rss_image);
	if (!getenv("NEURON_BENCH_NO_V1")) {
		struct nr_agent *v1;
		if (nr_agent_open_socket(argv[1], argv[2], &v1, &err) < 0) {
			fprintf(stderr, "agent: %s\n", err.msg);
			return 1;
		}
		nr_agent_free(a); /* the agent serves one host at a time */
		a = v1;
		nr_agent_set_protocol(a, 1);
		if (transfer(a, img, size, 3, &set1_us, &get1_us) < 0)
			return 1;
	}
	/* a short text in its clipboard: what stays is the agent's own */
	if (nr_agent_clipboard_set(a, "text/plain", "bench", 5, &err) < 0) {
		fprintf(stderr, "clipboard-set: %s\n", err.msg);
		return 1;
	}
	free(img);
	nr_agent_free(a);

	/* New connections (the agent serves one host at a time: after the first one closed):
	 * connect, TLS 1.3 handshake (P-256, both sides' certificates) and hello, as each neuronctl agent command does; beside a raw unix-socket round trip
	 * (connect, a byte there and back), alternating. */
	int nh = 60;
	double *th = calloc((size_t)nh, sizeof(*th)), *tr = calloc((size_t)nh, sizeof(*tr)), hs, raw = 0;
	char rawpath[4096];
	snprintf(rawpath, sizeof(rawpath), "%s.raw", argv[1]);
	pid_t echo = echo_server(rawpath);
	if (echo < 0)
		raw = -1;
	for (int i = -3; i < nh; i++) {
		struct nr_agent *b;
		double t0 = now_us();
		if (nr_agent_open_socket(argv[1], argv[2], &b, &err) < 0 || nr_agent_connect(b, &err) < 0) {
			fprintf(stderr, "agent: %s\n", err.msg);
			if (echo > 0) {
				kill(echo, SIGKILL);
				waitpid(echo, NULL, 0);
			}
			return 1;
		}
		if (i >= 0)
			th[i] = now_us() - t0;
		nr_agent_free(b);
		double q = raw >= 0 ? raw_round_trip(rawpath) : -1;
		if (i >= 0)
			tr[i] = q;
		if (q < 0)
			raw = -1;
	}
	hs = median(th, nh);
	if (echo > 0) {
		kill(echo, SIGKILL);
		waitpid(echo, NULL, 0);
		unlink(rawpath);
	}
	if (raw == 0)
		raw = median(tr, nh);
	printf("new connection, TLS 1.3 handshake and hello: median %8.1f us over %d\n", hs, nh);
	if (raw > 0)
		printf("raw unix socket: connect and one byte there and back: median %8.1f us over %d: ours / raw %.1f\n",
		       raw, nh, hs / raw);
	printf("HANDSHAKE_US %.1f\n", hs); /* for bench-agent.sh's ratio to OpenSSL's */
	free(th);
	free(tr);


	struct stat st;
	const char *over = stat(argv[1], &st) == 0 && S_ISCHR(st.st_mode) ? "pty" : "unix socket";
	printf("neuron-agent ping over TLS 1.3 (%s): median %8.1f us over %d\n", over, ours, n);
	if (qga > 0) {
		printf("qemu-ga guest-ping, plain JSON (unix socket): median %8.1f us over %d\n", qga, n);
		printf("ratio ours / qemu-ga: %.2f (below 1: ours is faster; the two alternate)\n", ours / qga);
	} else {
		printf("qemu-ga: not measured (qemu-ga missing; mk/packages/agent.txt installs it)\n");
	}
	printf("clipboard image %.1f MiB, host to guest: %7.1f MB/s (best of %d)\n", size / 1048576.0, size / set_us, rounds);
	printf("clipboard image %.1f MiB, guest to host: %7.1f MB/s (best of %d)\n", size / 1048576.0, size / get_us, rounds);
	if (set1_us > 0) {
		printf("protocol version 1 (base64 in JSON), the same image: host to guest %7.1f MB/s, guest to host "
		       "%7.1f MB/s (best of 3); version 2 / version 1: set %.2f, get %.2f\n", size / set1_us,
		       size / get1_us, set1_us / set_us, get1_us / get_us);
	}
	return 0;
}
