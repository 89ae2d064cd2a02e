/* libvirt, loaded when first needed (see virt_internal.h for why). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define NR_VIRT_NO_MACROS
#include "base/internal.h"
#include "vm/virt_internal.h"

struct nr_virt_api nr_virt_api;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_rc;
static char load_msg[512];

static void load(void)
{
	void *h = dlopen("libvirt.so.0", RTLD_NOW | RTLD_GLOBAL);
	const char *e;

	if (!h) {
		e = dlerror();
		snprintf(load_msg, sizeof(load_msg),
			 "cannot load libvirt (%s): install libvirt (Debian: libvirt0, Arch: libvirt)",
			 e ? e : "libvirt.so.0 not found");
		load_rc = -NR_E_VIRT;
		return;
	}
#define NR_VIRT_SYM(f)                                                                    \
	*(void **)&nr_virt_api.f = dlsym(h, #f);                                          \
	if (!nr_virt_api.f) {                                                             \
		snprintf(load_msg, sizeof(load_msg), "the libvirt found has no %s: too old", #f); \
		load_rc = -NR_E_VIRT;                                                     \
		return;                                                                   \
	}
	NR_VIRT_FUNCS(NR_VIRT_SYM)
#undef NR_VIRT_SYM
}

int nr_virt_load(struct nr_error *err)
{
	pthread_once(&load_once, load);
	if (load_rc < 0)
		return nr_error_set(err, load_rc, "%s", load_msg);
	return 0;
}
