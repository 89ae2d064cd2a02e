/* Where the host finds a VM's agent channel: the unix socket (or the pty) that its domain XML
 * names, as nr_domain_inspect read it. */
#include <stdlib.h>
#include <string.h>

#include "neuron/agent.h"
#include "neuron/agent_proto.h"
#include "neuron/domain.h"
#include "neuron/virt.h"

int nr_agent_channel_of(const struct nr_domain_info *info, const char **path, struct nr_error *err)
{
	*path = NULL;
	if (!info->agent)
		return nr_error_set(err, -NR_E_AGENT_NOCHANNEL,
				    "the VM has no %s channel: add <channel type='unix'><target type='virtio' "
				    "name='%s'/></channel> to its devices", NR_AGENT_CHANNEL, NR_AGENT_CHANNEL);
	if (!info->agent_type || (strcmp(info->agent_type, "unix") != 0 && strcmp(info->agent_type, "pty") != 0))
		return nr_error_set(err, -NR_E_AGENT_NOCHANNEL, "the %s channel is of type '%s', not 'unix' or 'pty'",
				    NR_AGENT_CHANNEL, info->agent_type ? info->agent_type : "");
	if (!info->agent_socket)
		return nr_error_set(err, -NR_E_AGENT_NOCHANNEL,
				    "channel %s: no socket yet (libvirt sets it when the VM runs)", NR_AGENT_CHANNEL);
	*path = info->agent_socket;
	return 0;
}

int nr_agent_channel_path(const struct nr_ctx *ctx, const char *vm, char **path, struct nr_error *err)
{
	struct nr_domain_info *info = NULL;
	struct nr_virt *virt;
	const char *p;
	char *xml = NULL;
	int rc;

	*path = NULL;
	if ((rc = nr_virt_open(ctx, &virt, err)) < 0)
		return rc;
	rc = nr_virt_domain_xml(virt, vm, &xml, err);
	if (rc == 0) {
		if ((rc = nr_domain_inspect(xml, &info, err)) == 0 && (rc = nr_agent_channel_of(info, &p, err)) == 0 &&
		    !(*path = strdup(p)))
			rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		if (rc < 0)
			nr_error_prefix(err, "%s: ", vm);
	}
	nr_domain_info_free(info);
	free(xml);
	nr_virt_close(virt);
	return rc;
}
