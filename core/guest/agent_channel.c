/* Where the host finds a VM's agent channel: the unix socket (or the pty) in its domain XML. */
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <stdlib.h>
#include <string.h>

#include "neuron/agent.h"
#include "neuron/agent_proto.h"
#include "neuron/virt.h"

int nr_agent_channel_from_xml(const char *xml, char **path, struct nr_error *err)
{
	xmlDocPtr doc;
	xmlXPathContextPtr xp = NULL;
	xmlXPathObjectPtr res = NULL;
	xmlChar *type = NULL, *p = NULL;
	int rc;

	*path = NULL;
	doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		return nr_error_set(err, -NR_E_PARSE, "the domain XML does not parse");
	xp = xmlXPathNewContext(doc);
	res = xp ? xmlXPathEvalExpression((const xmlChar *)"/domain/devices/channel[target/@name='"
					  NR_AGENT_CHANNEL "']", xp) : NULL;
	if (!res || !res->nodesetval || res->nodesetval->nodeNr < 1) {
		rc = nr_error_set(err, -NR_E_AGENT_NOCHANNEL,
				  "the VM has no %s channel: add <channel type='unix'><target type='virtio' "
				  "name='%s'/></channel> to its devices", NR_AGENT_CHANNEL, NR_AGENT_CHANNEL);
		goto out;
	}
	xmlNodePtr ch = res->nodesetval->nodeTab[0];
	type = xmlGetProp(ch, (const xmlChar *)"type");
	if (!type || (strcmp((const char *)type, "unix") != 0 && strcmp((const char *)type, "pty") != 0)) {
		rc = nr_error_set(err, -NR_E_AGENT_NOCHANNEL, "the %s channel is of type '%s', not 'unix' or 'pty'",
				  NR_AGENT_CHANNEL, type ? (const char *)type : "");
		goto out;
	}
	for (xmlNodePtr n = ch->children; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, "source") == 0 && !p)
			p = xmlGetProp(n, (const xmlChar *)"path");
	if (!p || !p[0]) {
		rc = nr_error_set(err, -NR_E_AGENT_NOCHANNEL,
				  "the %s channel has no path yet: is the VM running?", NR_AGENT_CHANNEL);
		goto out;
	}
	*path = strdup((const char *)p);
	rc = *path ? 0 : nr_error_set(err, -NR_E_NOMEM, NULL);
out:
	xmlFree(type);
	xmlFree(p);
	xmlXPathFreeObject(res);
	xmlXPathFreeContext(xp);
	xmlFreeDoc(doc);
	return rc;
}

int nr_agent_channel_path(const struct nr_ctx *ctx, const char *vm, char **path, struct nr_error *err)
{
	struct nr_virt *virt;
	char *xml = NULL;
	int rc;

	*path = NULL;
	if ((rc = nr_virt_open(ctx, &virt, err)) < 0)
		return rc;
	rc = nr_virt_domain_xml(virt, vm, &xml, err);
	if (rc == 0) {
		rc = nr_agent_channel_from_xml(xml, path, err);
		if (rc < 0)
			nr_error_prefix(err, "%s: ", vm);
	}
	free(xml);
	nr_virt_close(virt);
	return rc;
}
