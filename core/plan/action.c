/* The table of plan actions and their arguments. See plan/action.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "plan/action.h"

static const struct nr_action_type types[] = {
#define NR_ACTION_ROW(id, word) \
	{ word, nr_action_##id##_describe, nr_action_##id##_apply, nr_action_##id##_revert },
	NR_PLAN_ACTIONS(NR_ACTION_ROW)
#undef NR_ACTION_ROW
};

const struct nr_action_type *nr_action_type_find(const char *name)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].name, name) == 0)
			return &types[i];
	return NULL;
}

const char *nr_action_get(const struct nr_action *a, const char *key)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->keys[i], key) == 0)
			return a->vals[i];
	return NULL;
}

int nr_action_uint(const struct nr_action *a, const char *key, unsigned long long *v,
		   struct nr_error *err)
{
	const char *s = nr_action_get(a, key);
	char *end;

	if (!s || !*s)
		return nr_error_set(err, -NR_E_PARSE, "the %s action has no '%s'", a->type->name, key);
	errno = 0;
	*v = strtoull(s, &end, s[0] == '0' && s[1] ? 8 : 10);
	if (*end || errno)
		return nr_error_set(err, -NR_E_PARSE, "the %s action's %s is not a number: '%s'",
				    a->type->name, key, s);
	return 0;
}

int nr_action_set(struct nr_action *a, const char *key, const char *value)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->keys[i], key) == 0) {
			char *v = strdup(value);
			if (!v)
				return -NR_E_NOMEM;
			free(a->vals[i]);
			a->vals[i] = v;
			return 0;
		}
	size_t n = a->n;
	if (nr_strv_add(&a->keys, &n, key) < 0)
		return -NR_E_NOMEM;
	n = a->n;
	if (nr_strv_add(&a->vals, &n, value) < 0) {
		free(a->keys[a->n]);
		return -NR_E_NOMEM;
	}
	a->n++;
	return 0;
}

void nr_action_done(struct nr_action *a)
{
	nr_strv_free(a->keys, a->n);
	nr_strv_free(a->vals, a->n);
	memset(a, 0, sizeof(*a));
}

int nr_action_copy(struct nr_action *to, const struct nr_action *from)
{
	memset(to, 0, sizeof(*to));
	to->type = from->type;
	for (size_t i = 0; i < from->n; i++)
		if (nr_action_set(to, from->keys[i], from->vals[i]) < 0) {
			nr_action_done(to);
			return -NR_E_NOMEM;
		}
	return 0;
}

bool nr_action_same(const struct nr_action *a, const struct nr_action *b)
{
	const char *pa = nr_action_get(a, "path"), *pb = nr_action_get(b, "path");

	return a->type == b->type && ((!pa && !pb) || (pa && pb && strcmp(pa, pb) == 0));
}
