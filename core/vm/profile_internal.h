/* Private to core/vm: the profile key table and what its three users share.
 *
 * profile_keys.c   the key table: one row per key with its setter, getter, flags, help
 * profile_yaml.c   YAML in (nr_profile_parse) and out (nr_profile_to_yaml), driven by the rows
 * profile_rules.c  rules between keys and against the machine, and where a key was written
 * profile.c        a profile's life: templates, defaults, new and free
 *
 * A row's flags say what the readers and the writer do with it, so that adding a key is
 * one row and never a comparison with its setter elsewhere (docs/HACKING.md). */
#ifndef NEURON_PROFILE_INTERNAL_H
#define NEURON_PROFILE_INTERNAL_H

#include <stddef.h>

#include "neuron/error.h"
#include "neuron/profile.h"

enum nr_profile_key_kind {
	KEY_SCALAR,             /* one value */
	KEY_GROUP,              /* holds keys (cpu.vcpus); may also take one value (disk: none) */
	KEY_LIST,               /* a list of values; setting one appends it */
};

enum nr_profile_key_flag {
	KEY_NO_DEFAULT = 1 << 0,          /* resetting it is an error (name, template) */
	KEY_DEFAULT_FOLLOWS_NAME = 1 << 1, /* its field stays NULL until set: the value is derived
					    * from the name then, and the YAML leaves it out */
	KEY_ALIAS = 1 << 2,               /* another spelling of a key (looking_glass.enabled):
					    * read, never written */
	KEY_ITEM_NAME_PATH = 1 << 3,      /* a list whose items may be mappings {name: N, path: P}:
					    * the item N=P (shares) */
};

typedef int (*nr_profile_setter)(struct nr_profile *p, const char *key, const char *v, struct nr_error *err);
typedef char *(*nr_profile_getter)(const struct nr_profile *p);

struct nr_profile_key_row {
	const char *name;       /* "cpu.vcpus" */
	enum nr_profile_key_kind kind;
	unsigned flags;         /* enum nr_profile_key_flag */
	nr_profile_setter set;     /* NULL: a group that takes no value of its own */
	nr_profile_getter get;
	/* KEY_GROUP with a value: the one that switches the group off ("none" for disk, "false"
	 * for looking_glass; written alone, without its keys) and the one a mapping under it
	 * means ("yes", "true"). */
	const char *off, *on;
	/* KEY_LIST: where its items and their count live in struct nr_profile;
	 * KEY_DEFAULT_FOLLOWS_NAME: where its string lives */
	size_t items, count;
	const char *help;
};

extern const struct nr_profile_key_row nr_profile_keys[];
extern const size_t nr_profile_n_keys;

/* The row of a key ("cpu.vcpus"), or NULL. */
const struct nr_profile_key_row *nr_profile_key_find(const char *name);
/* "unknown key 'X'; did you mean 'Y'?" in err; returns its code. */
int nr_profile_unknown_key(struct nr_error *err, const char *prefix, const char *leaf);
/* Edit distance (case-insensitive), for did-you-mean. */
size_t nr_profile_distance(const char *a, const char *b);
/* A LIST row's items and count in p. */
char ***nr_profile_key_items(const struct nr_profile_key_row *k, struct nr_profile *p, size_t **count);
/* Set one key without touching its mark (the YAML reader marks it itself). */
int nr_profile_set_value(struct nr_profile *p, const char *key, const char *value, struct nr_error *err);

/* Replace *field with a copy of v (NULL frees it). */
int nr_profile_set_str(char **field, const char *v, struct nr_error *err);
/* Remember where key was written (line 0: changed after the file was read). */
int nr_profile_mark(struct nr_profile *p, const char *key, unsigned line, unsigned column);
/* Index of a template name, or -1. */
int nr_profile_template_index(const char *name);
/* Rules between keys (names, TPM and firmware, topology ...): the file's own consistency. */
int nr_profile_rules(const struct nr_profile *p, struct nr_error *err);
/* The largest profile file read (a profile is a short YAML file). */
#define NR_PROFILE_MAX_BYTES (1u << 20)

/* A host CPU list as Linux writes it and profiles take it ("0-3,8,10-11"): every CPU once,
 * each at most max. malloc'd array in *cpus (ascending as written). The message says what
 * is wrong without a key name. */
int nr_cpu_list_parse(const char *s, unsigned max, unsigned **cpus, size_t *n, struct nr_error *err);

#endif
