/* A profile's life: the templates and their defaults, new and free. The keys are in
 * profile_keys.c, YAML in profile_yaml.c, the rules in profile_rules.c. */
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "vm/profile_internal.h"
#include "neuron/profile.h"

static const char *const templates[] = { "windows11", "windows10", "linux" };

int nr_profile_template_index(const char *t)
{
	for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++)
		if (strcmp(templates[i], t) == 0)
			return (int)i;
	return -1;
}

const char *nr_profile_template_name(size_t i)
{
	return i < sizeof(templates) / sizeof(templates[0]) ? templates[i] : NULL;
}

static int apply_defaults(struct nr_profile *p, const char *tmpl, struct nr_error *err)
{
	bool windows = strncmp(tmpl, "windows", 7) == 0;

	if (nr_profile_set_str(&p->template_name, tmpl, err) < 0 || nr_profile_set_str(&p->domain_type, "kvm", err) < 0 ||
	    nr_profile_set_str(&p->firmware, "efi", err) < 0 || nr_profile_set_str(&p->disk.format, "qcow2", err) < 0 ||
	    nr_profile_set_str(&p->disk.bus, windows ? "sata" : "virtio", err) < 0 ||
	    nr_profile_set_str(&p->network_model, windows ? "e1000e" : "virtio", err) < 0 ||
	    nr_profile_set_str(&p->on_reboot, "restart", err) < 0 ||
	    nr_profile_set_str(&p->unattended.locale, "en-US", err) < 0 ||
	    nr_profile_set_str(&p->unattended.timezone, "UTC", err) < 0)
		return err ? err->code : -NR_E_NOMEM;
	p->memory = (uint64_t)(windows ? 8 : 4) << 30;
	p->vcpus = windows ? 4 : 2;
	p->disk.size = (uint64_t)(windows ? 80 : 32) << 30;
	p->gpu = windows ? NR_PROFILE_GPU_AUTO : NR_PROFILE_GPU_NONE;
	p->lg.enabled = windows;
	p->lg.width = 1920;
	p->lg.height = 1080;
	p->agent = true;
	p->guest_tools = true;
	p->unattended.enabled = false;
	p->tpm = NR_AUTO;
	p->secure_boot = strcmp(tmpl, "windows11") == 0;
	p->hyperv = windows;
	p->nvidia_workaround = NR_AUTO;
	return 0;
}

int nr_profile_new(const char *template_name, const char *name, struct nr_profile **out,
		   struct nr_error *err)
{
	struct nr_profile *p;
	int rc;

	*out = NULL;
	if (!template_name || nr_profile_template_index(template_name) < 0)
		return nr_error_set(err, -NR_E_INVAL, "unknown template '%s'; use windows11, windows10 or linux",
				    template_name ? template_name : "");
	p = calloc(1, sizeof(*p));
	if (!p)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	rc = apply_defaults(p, template_name, err);
	if (rc == 0 && name)
		rc = nr_profile_set_value(p, "name", name, err);
	if (rc < 0) {
		nr_profile_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void nr_profile_free(struct nr_profile *p)
{
	if (!p)
		return;
	free(p->file);
	free(p->name);
	free(p->template_name);
	free(p->domain_type);
	free(p->firmware);
	free(p->pin_cpus);
	free(p->disk.path);
	free(p->disk.format);
	free(p->disk.bus);
	free(p->iso);
	free(p->virtio_iso);
	free(p->gpu_rom);
	nr_strv_free(p->pci, p->n_pci);
	nr_strv_free(p->usb, p->n_usb);
	nr_strv_free(p->shares, p->n_shares);
	free(p->lg.kvmfr_device);
	free(p->lg.installer);
	free(p->network);
	free(p->network_model);
	free(p->serial_log);
	free(p->unattended.user);
	free(p->unattended.locale);
	free(p->unattended.timezone);
	free(p->unattended.product_key);
	free(p->unattended.edition);
	free(p->unattended.password_file);
	free(p->on_reboot);
	free(p->boot.kernel);
	free(p->boot.initrd);
	free(p->boot.cmdline);
	for (size_t i = 0; i < p->n_marks; i++)
		free(p->marks[i].key);
	free(p->marks);
	free(p);
}

