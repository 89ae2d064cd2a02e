#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/xmlerror.h>

#include "base/internal.h"
#include "vm/virt_internal.h"
#include "neuron/virt.h"

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

	return nr_error_set(err, code, "%s: %s", what, msg);
}

int nr_virt_open(const struct nr_ctx *ctx, struct nr_virt **out, struct nr_error *err)
{
	const char *uri = nr_ctx_get(ctx, "connect");
	struct nr_virt *v;

	*out = NULL;
	if (nr_virt_load(err) < 0)
		return err ? err->code : -NR_E_VIRT;
	nr_virt_quiet();
	v = calloc(1, sizeof(*v));
	if (!v)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	v->uri = strdup(uri);
	if (!v->uri) {
		free(v);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	v->conn = virConnectOpen(uri);
	if (!v->conn) {
		virErrorPtr e = virGetLastError();
		nr_error_set(err, -NR_E_VIRT, "cannot connect to libvirt at %s: %s%s", uri,
			     e && e->message ? e->message : "unknown error",
			     strcmp(uri, "qemu:///system") == 0 ?
				     " (is libvirtd running, and are you root or in the libvirt group?)" : "");
		free(v->uri);
		free(v);
		return err ? err->code : -NR_E_VIRT;
	}
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
