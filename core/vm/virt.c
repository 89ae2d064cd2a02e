#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/xmlerror.h>

#include "base/internal.h"
#include "vm/virt_internal.h"
#include "neuron/virt.h"
#include "neuron/virt_events.h"

/* libvirt's default handler prints to stderr; keep errors for nr_error instead. */
static void quiet_handler(void *opaque, virErrorPtr error)
{
	(void)opaque;
	(void)error;
}

/* libvirt parses with libxml2 (the same library as ours), whose generic handler prints
 * "I/O warning : failed to load external entity" for a test:///FILE that is missing, beside
 * the libvirt error that already says it. Core never prints. */
static void quiet_xml(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

void nr_virt_quiet(void)
{
	xmlSetGenericErrorFunc(NULL, quiet_xml);
	if (nr_virt_load(NULL) == 0)
		virSetErrorFunc(NULL, quiet_handler);
}

int nr_virt_error(struct nr_error *err, int code, const char *what)
{
	virErrorPtr e = virGetLastError();
	const char *msg = e && e->message ? e->message : "unknown libvirt error";

	/* keepalive gave up on the daemon: say so in words, with what to do */
	if (e && e->domain == VIR_FROM_RPC && strstr(msg, "keepalive"))
		return nr_error_set(err, -NR_E_TIMEOUT, "%s: libvirt stopped answering (%s); is its daemon "
				    "(libvirtd or virtqemud) hung?", what, msg);
	return nr_error_set(err, code, "%s: %s", what, msg);
}

/* ---- a bounded connect ----------------------------------------------------------------
 * virConnectOpen has no timeout: against a daemon that accepts and never answers it waits
 * forever (libvirt's keepalive starts only once a connection is open). The open runs in a
 * thread of its own that the caller waits for at most virt.connect_ms; a thread that
 * answers after that closes what it got and frees its record itself. */
struct open_call {
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	bool done, abandoned;
	char *uri;
	virConnectPtr conn;
	char msg[512];
};

static void open_call_free(struct open_call *c)
{
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->done_cond);
	free(c->uri);
	free(c);
}

static void *open_main(void *arg)
{
	struct open_call *c = arg;
	virConnectPtr conn;
	bool abandoned;

	nr_virt_quiet();    /* libxml2's error handler is per thread */
	conn = virConnectOpen(c->uri);

	pthread_mutex_lock(&c->lock);
	if (!conn) {
		/* libvirt's last error is per thread: take it here */
		virErrorPtr e = virGetLastError();
		snprintf(c->msg, sizeof(c->msg), "%s", e && e->message ? e->message : "unknown error");
	}
	c->conn = conn;
	c->done = true;
	abandoned = c->abandoned;
	pthread_cond_signal(&c->done_cond);
	pthread_mutex_unlock(&c->lock);
	if (abandoned) {
		if (conn)
			virConnectClose(conn);
		open_call_free(c);
	}
	return NULL;
}

static int param_long(const struct nr_ctx *ctx, const char *name, long min, long max, struct nr_error *err,
		       long *out)
{
	const char *v = nr_ctx_get(ctx, name);
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (!v[0] || *end || errno || n < min || n > max)
		return nr_error_set(err, -NR_E_INVAL, "--param %s=%s: use a whole number from %ld to %ld", name, v,
				    min, max);
	*out = n;
	return 0;
}

static int open_bounded(const char *uri, long timeout_ms, virConnectPtr *conn, struct nr_error *err)
{
	struct open_call *c = calloc(1, sizeof(*c));
	pthread_attr_t ta;
	pthread_t thread;
	long long deadline;
	int rc = 0, wait = 0;

	*conn = NULL;
	if (!c || !(c->uri = strdup(uri))) {
		free(c);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	pthread_mutex_init(&c->lock, NULL);
	nr_cond_init(&c->done_cond);
	pthread_attr_init(&ta);
	pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &ta, open_main, c) != 0) {
		pthread_attr_destroy(&ta);
		open_call_free(c);
		return nr_error_set(err, -NR_E_NOMEM, "cannot start a thread to connect to libvirt");
	}
	pthread_attr_destroy(&ta);
	deadline = nr_now_ms() + timeout_ms;
	pthread_mutex_lock(&c->lock);
	while (!c->done && wait != ETIMEDOUT)
		wait = nr_cond_wait_until(&c->done_cond, &c->lock, deadline);
	if (!c->done) {
		/* the thread frees the record when libvirt lets it go */
		c->abandoned = true;
		pthread_mutex_unlock(&c->lock);
		return nr_error_set(err, -NR_E_TIMEOUT,
				    "libvirt at %s is not answering: no reply within %ld.%ld s; is its daemon "
				    "(libvirtd or virtqemud) hung? A slow link may need --param virt.connect_ms=MS",
				    uri, timeout_ms / 1000, timeout_ms % 1000 / 100);
	}
	pthread_mutex_unlock(&c->lock);
	if (c->conn)
		*conn = c->conn;
	else
		rc = nr_error_set(err, -NR_E_VIRT, "cannot connect to libvirt at %s: %s%s", uri, c->msg,
				  strcmp(uri, "qemu:///system") == 0 ?
					  " (is libvirtd running, and are you root or in the libvirt group?)" : "");
	open_call_free(c);
	return rc;
}

int nr_virt_open(const struct nr_ctx *ctx, struct nr_virt **out, struct nr_error *err)
{
	const char *uri = nr_ctx_get(ctx, "connect");
	long timeout_ms, ka_s, ka_count;
	struct nr_virt *v;
	int rc;

	*out = NULL;
	if ((rc = param_long(ctx, "virt.connect_ms", 1, 24L * 3600 * 1000, err, &timeout_ms)) < 0 ||
	    (rc = param_long(ctx, "virt.keepalive_s", 0, 3600, err, &ka_s)) < 0 ||
	    (rc = param_long(ctx, "virt.keepalive_count", 1, 100, err, &ka_count)) < 0)
		return rc;
	if (nr_virt_load(err) < 0)
		return err ? err->code : -NR_E_VIRT;
	nr_virt_quiet();
	/* keepalive needs libvirt's event loop running (libvirt: "the client has to run an event
	 * loop"); it also bounds every later call: a daemon gone silent closes the connection */
	if ((rc = nr_virt_events_start(err)) < 0)
		return rc;
	v = calloc(1, sizeof(*v));
	if (!v)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	v->uri = strdup(uri);
	if (!v->uri) {
		free(v);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	rc = open_bounded(uri, timeout_ms, &v->conn, err);
	if (rc < 0) {
		free(v->uri);
		free(v);
		return rc;
	}
	/* -1 from drivers without it (test:///, local ones): they need none */
	if (ka_s > 0 && virConnectSetKeepAlive(v->conn, (int)ka_s, (unsigned)ka_count) < 0)
		virResetLastError();
	*out = v;
	return 0;
}

void nr_virt_close(struct nr_virt *virt)
{
	if (!virt)
		return;
	if (virt->conn)
		virConnectClose(virt->conn);
	free(virt->uri);
	free(virt);
}

bool nr_virt_alive(const struct nr_virt *virt)
{
	return virt && virt->conn && virConnectIsAlive(virt->conn) == 1;
}

const char *nr_virt_uri(const struct nr_virt *virt)
{
	return virt->uri;
}

int nr_virt_domain_xml(struct nr_virt *virt, const char *name, char **xml, struct nr_error *err)
{
	virDomainPtr dom = virDomainLookupByName(virt->conn, name);
	char *s;

	*xml = NULL;
	if (!dom)
		return nr_error_set(err, -NR_E_NOVM, "no VM named '%s' on %s", name, virt->uri);
	s = virDomainGetXMLDesc(dom, 0);
	virDomainFree(dom);
	if (!s)
		return nr_virt_error(err, -NR_E_VIRT, "cannot read the domain XML");
	*xml = s;
	return 0;
}
