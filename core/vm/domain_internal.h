/* Private to core/vm: the libxml2 helpers that the domain builder (domain.c) shares with the
 * domain reader (domain_inspect.c). */
#ifndef NEURON_VM_DOMAIN_INTERNAL_H
#define NEURON_VM_DOMAIN_INTERNAL_H

#include <libxml/tree.h>

/* The first child element of parent named name; NULL when none (or parent is NULL). */
xmlNodePtr nr_xml_child(xmlNodePtr parent, const char *name);
/* The attribute name of n, malloc'd; NULL when absent (or n is NULL). */
char *nr_xml_prop(xmlNodePtr n, const char *name);

#endif
