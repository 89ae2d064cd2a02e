/* Private to core/: the libvirt handle, for modules that call libvirt directly.
 *
 * libvirt is loaded with dlopen() the first time a module needs it (nr_virt_load):
 * linked directly, it and the sixty libraries it pulls in cost every run of every
 * program some 15 ms and 10 MB before main(), `neuronctl scan` included. The calls
 * below keep their libvirt names; they go through a table filled by nr_virt_load(). */
#ifndef NEURON_VIRT_INTERNAL_H
#define NEURON_VIRT_INTERNAL_H

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "neuron/error.h"

struct nr_virt {
	virConnectPtr conn;
	char *uri;
};

/* Every libvirt function core/ calls. Add a row when a module needs another. */
#define NR_VIRT_FUNCS(X) \
	X(virConnectClose) \
	X(virConnectDomainEventDeregisterAny) \
	X(virConnectDomainEventRegisterAny) \
	X(virConnectIsAlive) \
	X(virConnectListAllDomains) \
	X(virConnectListAllStoragePools) \
	X(virConnectOpen) \
	X(virConnectSetKeepAlive) \
	X(virDomainCreate) \
	X(virDomainDefineXML) \
	X(virDomainDestroy) \
	X(virDomainFree) \
	X(virDomainGetName) \
	X(virDomainGetState) \
	X(virDomainGetXMLDesc) \
	X(virDomainIsActive) \
	X(virDomainIsPersistent) \
	X(virDomainLookupByName) \
	X(virDomainShutdown) \
	X(virDomainShutdownFlags) \
	X(virDomainUndefine) \
	X(virDomainUndefineFlags) \
	X(virEventAddTimeout) \
	X(virEventRegisterDefaultImpl) \
	X(virEventRemoveTimeout) \
	X(virEventRunDefaultImpl) \
	X(virGetLastError) \
	X(virResetLastError) \
	X(virSetErrorFunc) \
	X(virStoragePoolFree) \
	X(virStoragePoolGetName) \
	X(virStoragePoolGetXMLDesc) \
	X(virStorageVolCreateXML) \
	X(virStorageVolDelete) \
	X(virStorageVolFree) \
	X(virStorageVolLookupByName) \
	X(virStorageVolLookupByPath)

struct nr_virt_api {
#define NR_VIRT_PTR(f) __typeof__(f) *f;
	NR_VIRT_FUNCS(NR_VIRT_PTR)
#undef NR_VIRT_PTR
};
extern struct nr_virt_api nr_virt_api;

/* Load libvirt (once; thread-safe). Every entry point calls it before any libvirt
 * call: nr_virt_open, nr_virt_events_start. */
int nr_virt_load(struct nr_error *err);

#ifndef NR_VIRT_NO_MACROS
#define virConnectClose (nr_virt_api.virConnectClose)
#define virConnectDomainEventDeregisterAny (nr_virt_api.virConnectDomainEventDeregisterAny)
#define virConnectDomainEventRegisterAny (nr_virt_api.virConnectDomainEventRegisterAny)
#define virConnectIsAlive (nr_virt_api.virConnectIsAlive)
#define virConnectListAllDomains (nr_virt_api.virConnectListAllDomains)
#define virConnectListAllStoragePools (nr_virt_api.virConnectListAllStoragePools)
#define virConnectOpen (nr_virt_api.virConnectOpen)
#define virConnectSetKeepAlive (nr_virt_api.virConnectSetKeepAlive)
#define virDomainCreate (nr_virt_api.virDomainCreate)
#define virDomainDefineXML (nr_virt_api.virDomainDefineXML)
#define virDomainDestroy (nr_virt_api.virDomainDestroy)
#define virDomainFree (nr_virt_api.virDomainFree)
#define virDomainGetName (nr_virt_api.virDomainGetName)
#define virDomainGetState (nr_virt_api.virDomainGetState)
#define virDomainGetXMLDesc (nr_virt_api.virDomainGetXMLDesc)
#define virDomainIsActive (nr_virt_api.virDomainIsActive)
#define virDomainIsPersistent (nr_virt_api.virDomainIsPersistent)
#define virDomainLookupByName (nr_virt_api.virDomainLookupByName)
#define virDomainShutdown (nr_virt_api.virDomainShutdown)
#define virDomainShutdownFlags (nr_virt_api.virDomainShutdownFlags)
#define virDomainUndefine (nr_virt_api.virDomainUndefine)
#define virDomainUndefineFlags (nr_virt_api.virDomainUndefineFlags)
#define virEventAddTimeout (nr_virt_api.virEventAddTimeout)
#define virEventRegisterDefaultImpl (nr_virt_api.virEventRegisterDefaultImpl)
#define virEventRemoveTimeout (nr_virt_api.virEventRemoveTimeout)
#define virEventRunDefaultImpl (nr_virt_api.virEventRunDefaultImpl)
#define virGetLastError (nr_virt_api.virGetLastError)
#define virResetLastError (nr_virt_api.virResetLastError)
#define virSetErrorFunc (nr_virt_api.virSetErrorFunc)
#define virStoragePoolFree (nr_virt_api.virStoragePoolFree)
#define virStoragePoolGetName (nr_virt_api.virStoragePoolGetName)
#define virStoragePoolGetXMLDesc (nr_virt_api.virStoragePoolGetXMLDesc)
#define virStorageVolCreateXML (nr_virt_api.virStorageVolCreateXML)
#define virStorageVolDelete (nr_virt_api.virStorageVolDelete)
#define virStorageVolFree (nr_virt_api.virStorageVolFree)
#define virStorageVolLookupByName (nr_virt_api.virStorageVolLookupByName)
#define virStorageVolLookupByPath (nr_virt_api.virStorageVolLookupByPath)
#endif

/* Install the quiet libvirt error handler (idempotent; libvirt must be loaded). */
void nr_virt_quiet(void);
/* Fill err with "what: <libvirt's last error>"; returns code. */
int nr_virt_error(struct nr_error *err, int code, const char *what);

#endif
