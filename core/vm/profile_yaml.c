/* Profiles as YAML: the reader (libyaml's document API, every value through the key
 * table's setters, each place remembered for later errors) and the writer. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "base/internal.h"
#include "vm/profile_internal.h"
#include "neuron/profile.h"

/* ---- YAML -------------------------------------------------------------------------- */

struct reader {
	yaml_document_t *doc;
	const char *file;
	struct nr_profile *p;
	struct nr_error *err;
};

static int fail_at(struct reader *r, const yaml_node_t *n, int rc)
{
	nr_error_prefix(r->err, "%s:%zu:%zu: ", r->file, n->start_mark.line + 1, n->start_mark.column + 1);
	return rc;
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool is_null(const yaml_node_t *n)
{
	const char *v = scalar(n);

	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!v[0] || strcmp(v, "~") == 0 || strcmp(v, "null") == 0);
}

static int set_at(struct reader *r, const char *key, const yaml_node_t *val, const char *mark_key)
{
	int rc;

	if (nr_profile_mark(r->p, mark_key, (unsigned)val->start_mark.line + 1, (unsigned)val->start_mark.column + 1) < 0)
		return nr_error_set(r->err, -NR_E_NOMEM, NULL);
	rc = nr_profile_set_value(r->p, key, is_null(val) ? NULL : scalar(val), r->err);
	return rc < 0 ? fail_at(r, val, rc) : 0;
}

/* An item {name: N, path: P} of a KEY_ITEM_NAME_PATH list: the item N=P (P alone
 * without a name). */
static int set_name_path(struct reader *r, const char *key, const yaml_node_t *map, const char *mark_key)
{
	const char *name = NULL, *path = NULL;
	char *item;
	int rc;

	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *kn = yaml_document_get_node(r->doc, pair->key);
		yaml_node_t *vn = yaml_document_get_node(r->doc, pair->value);
		const char *k = kn->type == YAML_SCALAR_NODE ? scalar(kn) : "";
		if (vn->type != YAML_SCALAR_NODE || (strcmp(k, "name") && strcmp(k, "path")))
			return fail_at(r, kn, nr_error_set(r->err, -NR_E_PARSE,
							   "an item of '%s' has name and path only: {name: Documents, "
							   "path: ~/Documents}", key));
		*(strcmp(k, "name") ? &path : &name) = scalar(vn);
	}
	if (!path)
		return fail_at(r, map, nr_error_set(r->err, -NR_E_PARSE, "an item of '%s' needs its path", key));
	if (nr_profile_mark(r->p, mark_key, (unsigned)map->start_mark.line + 1, (unsigned)map->start_mark.column + 1) < 0 ||
	    asprintf(&item, "%s%s%s", name ? name : "", name ? "=" : "", path) < 0)
		return nr_error_set(r->err, -NR_E_NOMEM, NULL);
	rc = nr_profile_set_value(r->p, key, item, r->err);
	free(item);
	return rc < 0 ? fail_at(r, map, rc) : 0;
}

static int read_mapping(struct reader *r, const yaml_node_t *map, const char *prefix)
{
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *kn = yaml_document_get_node(r->doc, pair->key);
		yaml_node_t *vn = yaml_document_get_node(r->doc, pair->value);
		char full[128];
		const struct nr_profile_key_row *k;
		int rc;

		if (kn->type != YAML_SCALAR_NODE)
			return fail_at(r, kn, nr_error_set(r->err, -NR_E_PARSE, "a key must be a plain word"));
		/* duplicate keys: YAML leaves them undefined, so say it */
		for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < pair; q++) {
			yaml_node_t *qk = yaml_document_get_node(r->doc, q->key);
			if (qk->type == YAML_SCALAR_NODE && strcmp(scalar(qk), scalar(kn)) == 0)
				return fail_at(r, kn, nr_error_set(r->err, -NR_E_EXISTS,
								   "duplicate key '%s' (first given at line %zu); keep one",
								   scalar(kn), qk->start_mark.line + 1));
		}
		if (snprintf(full, sizeof(full), "%s%s%s", prefix, prefix[0] ? "." : "", scalar(kn)) >= (int)sizeof(full))
			return fail_at(r, kn, nr_error_set(r->err, -NR_E_PARSE, "key '%s' is too long", scalar(kn)));
		k = nr_profile_key_find(full);
		if (!k)
			return fail_at(r, kn, nr_profile_unknown_key(r->err, prefix, scalar(kn)));
		if (!prefix[0] && strcmp(full, "template") == 0)
			continue; /* read first, in nr_profile_parse */
		switch (vn->type) {
		case YAML_SCALAR_NODE:
			if (k->kind == KEY_LIST) {
				/* a single item without a list */
				rc = set_at(r, full, vn, full);
			} else if (k->kind == KEY_GROUP && !k->set) {
				rc = fail_at(r, vn, nr_error_set(r->err, -NR_E_PARSE,
								 "'%s' holds keys (%s.KEY: value), not a value", full, full));
			} else {
				rc = set_at(r, full, vn, full);
			}
			break;
		case YAML_MAPPING_NODE:
			if (k->kind != KEY_GROUP)
				return fail_at(r, vn, nr_error_set(r->err, -NR_E_PARSE,
								   "'%s' takes a single value, not a mapping", full));
			if (nr_profile_mark(r->p, full, (unsigned)kn->start_mark.line + 1, (unsigned)kn->start_mark.column + 1) < 0)
				return nr_error_set(r->err, -NR_E_NOMEM, NULL);
			/* a mapping switches the group on (looking_glass: {...} is enabled unless
			 * it says otherwise) */
			rc = k->on ? nr_profile_set_value(r->p, full, k->on, r->err) : 0;
			if (rc < 0)
				return fail_at(r, kn, rc);
			rc = read_mapping(r, vn, full);
			break;
		case YAML_SEQUENCE_NODE:
			if (k->kind != KEY_LIST)
				return fail_at(r, vn, nr_error_set(r->err, -NR_E_PARSE,
								   "'%s' takes a single value, not a list", full));
			rc = 0;
			for (yaml_node_item_t *it = vn->data.sequence.items.start; rc == 0 && it < vn->data.sequence.items.top; it++) {
				yaml_node_t *in = yaml_document_get_node(r->doc, *it);
				char mk[160];
				size_t *count;
				nr_profile_key_items(k, r->p, &count);
				snprintf(mk, sizeof(mk), "%s#%zu", full, *count);
				if (in->type == YAML_MAPPING_NODE && (k->flags & KEY_ITEM_NAME_PATH)) {
					rc = set_name_path(r, full, in, mk);
					continue;
				}
				if (in->type != YAML_SCALAR_NODE)
					return fail_at(r, in, nr_error_set(r->err, -NR_E_PARSE,
									   "items of '%s' are single values", full));
				rc = set_at(r, full, in, mk);
			}
			break;
		default:
			rc = fail_at(r, vn, nr_error_set(r->err, -NR_E_PARSE, "unexpected value for '%s'", full));
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

int nr_profile_parse(const char *text, size_t len, const char *file, struct nr_profile **out,
		     struct nr_error *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root, *tmpl_node = NULL;
	struct reader r = { .doc = &doc, .file = file ? file : "<profile>", .err = err };
	struct nr_profile *p = NULL;
	int rc;

	*out = NULL;
	if (!yaml_parser_initialize(&parser))
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = nr_error_set(err, -NR_E_PARSE, "%s:%zu:%zu: YAML syntax: %s%s%s", r.file,
				  parser.problem_mark.line + 1, parser.problem_mark.column + 1,
				  parser.problem ? parser.problem : "error",
				  parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return rc;
	}
	yaml_parser_delete(&parser);
	root = yaml_document_get_root_node(&doc);
	if (!root || root->type != YAML_MAPPING_NODE) {
		rc = nr_error_set(err, -NR_E_PARSE, "%s:%zu:%zu: a profile is a mapping of keys (name: win11 ...)",
				  r.file, root ? root->start_mark.line + 1 : 1, root ? root->start_mark.column + 1 : 1);
		goto out;
	}
	for (yaml_node_pair_t *pair = root->data.mapping.pairs.start; pair < root->data.mapping.pairs.top; pair++) {
		yaml_node_t *kn = yaml_document_get_node(&doc, pair->key);
		if (kn->type == YAML_SCALAR_NODE && strcmp(scalar(kn), "template") == 0)
			tmpl_node = yaml_document_get_node(&doc, pair->value);
	}
	if (!tmpl_node) {
		rc = nr_error_set(err, -NR_E_INVAL, "%s:%zu:%zu: missing key 'template' (windows11, windows10 or linux)",
				  r.file, root->start_mark.line + 1, root->start_mark.column + 1);
		goto out;
	}
	if (tmpl_node->type != YAML_SCALAR_NODE || nr_profile_template_index(scalar(tmpl_node)) < 0) {
		const char *t = tmpl_node->type == YAML_SCALAR_NODE ? scalar(tmpl_node) : "";
		const char *best = NULL;
		size_t best_d = 3;
		for (size_t i = 0; nr_profile_template_name(i); i++)
			if (nr_profile_distance(t, nr_profile_template_name(i)) < best_d) {
				best_d = nr_profile_distance(t, nr_profile_template_name(i));
				best = nr_profile_template_name(i);
			}
		rc = nr_error_set(err, -NR_E_INVAL, "%s:%zu:%zu: template: unknown template '%s'; %s%s%s", r.file,
				  tmpl_node->start_mark.line + 1, tmpl_node->start_mark.column + 1, t,
				  best ? "did you mean '" : "use windows11, windows10 or linux", best ? best : "",
				  best ? "'?" : "");
		goto out;
	}
	rc = nr_profile_new(scalar(tmpl_node), NULL, &p, err);
	if (rc < 0)
		goto out;
	r.p = p;
	if ((rc = nr_profile_set_str(&p->file, r.file, err)) < 0 ||
	    (rc = nr_profile_mark(p, "template", (unsigned)tmpl_node->start_mark.line + 1,
			   (unsigned)tmpl_node->start_mark.column + 1)) < 0 ||
	    (rc = nr_profile_mark(p, "", (unsigned)root->start_mark.line + 1, (unsigned)root->start_mark.column + 1)) < 0)
		goto out;
	rc = read_mapping(&r, root, "");
	if (rc == 0)
		rc = nr_profile_rules(p, err);
out:
	yaml_document_delete(&doc);
	if (rc < 0) {
		nr_profile_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int nr_profile_load(const char *path, struct nr_profile **out, struct nr_error *err)
{
	char *text;
	size_t len;
	int rc;

	*out = NULL;
	rc = nr_read_file_max(path, NR_PROFILE_MAX_BYTES, &text, &len, err);
	if (rc == -NR_E_TOOBIG)
		return nr_error_set(err, rc, "%s: larger than %u KiB; a profile is a short YAML file "
				    "(docs/profiles.md): is it the right file?", path, NR_PROFILE_MAX_BYTES >> 10);
	if (rc < 0)
		return rc;
	rc = nr_profile_parse(text, len, path, out, err);
	free(text);
	return rc;
}

/* ---- writing YAML ------------------------------------------------------------------ */

static void yaml_quote(struct nr_buf *b, const char *v)
{
	/* plain when it is a word YAML cannot misread, else double-quoted */
	bool plain = v[0] && strchr("-:.", v[0]) == NULL;
	for (const char *c = v; plain && *c; c++)
		plain = isalnum((unsigned char)*c) || strchr("._/:-", *c);
	if (plain && strcmp(v, "~") && strcasecmp(v, "null")) {
		nr_buf_puts(b, v);
		return;
	}
	nr_buf_puts(b, "\"");
	for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
		if (*c == '"' || *c == '\\')
			nr_buf_printf(b, "\\%c", *c);
		else if (*c < 0x20 || *c == 0x7f)
			nr_buf_printf(b, "\\x%02x", *c);
		else
			nr_buf_append(b, (const char *)c, 1);
	}
	nr_buf_puts(b, "\"");
}

int nr_profile_to_yaml(const struct nr_profile *p, char **out, struct nr_error *err)
{
	const char *skip = NULL;        /* a group written as one value (disk: none) */
	const char *group = NULL;       /* a group whose header waits for its first key */
	struct nr_buf b;

	*out = NULL;
	nr_buf_init(&b);
	nr_buf_printf(&b, "# made by neuron from the %s template\n", p->template_name);
	for (size_t i = 0; i < nr_profile_n_keys; i++) {
		const struct nr_profile_key_row *k = &nr_profile_keys[i];
		const char *dot = strchr(k->name, '.');
		const char *leaf = dot ? dot + 1 : k->name;
		char *v;

		if (skip && dot && strncmp(k->name, skip, strlen(skip)) == 0 && k->name[strlen(skip)] == '.')
			continue;
		skip = NULL;
		if (!dot)
			group = NULL;
		if (k->flags & KEY_ALIAS)
			continue;
		if ((k->flags & KEY_DEFAULT_FOLLOWS_NAME) && !*(char *const *)((const char *)p + k->items))
			continue;
		v = k->get ? k->get(p) : NULL;
		if (k->get && !v) {
			nr_buf_done(&b);
			return nr_error_set(err, -NR_E_NOMEM, NULL);
		}
		if (k->kind == KEY_GROUP) {
			if (k->off && strcmp(v, k->off) == 0) {
				nr_buf_printf(&b, "%s: %s\n", k->name, k->off);
				skip = k->name;
			} else {
				group = k->name;    /* written with its first key */
			}
			free(v);
			continue;
		}
		if (k->kind != KEY_LIST && !v[0] && !(k->flags & KEY_NO_DEFAULT)) {
			free(v);
			continue;
		}
		if (group) {
			nr_buf_printf(&b, "%s:\n", group);
			group = NULL;
		}
		if (k->kind == KEY_LIST) {
			size_t *n;
			char **items = *nr_profile_key_items(k, (struct nr_profile *)p, &n);
			nr_buf_printf(&b, "%s%s: [", dot ? "  " : "", leaf);
			for (size_t j = 0; j < *n; j++) {
				const char *eq = strchr(items[j], '=');
				if (j)
					nr_buf_puts(&b, ", ");
				if ((k->flags & KEY_ITEM_NAME_PATH) && eq) {
					char *name = strndup(items[j], (size_t)(eq - items[j]));
					nr_buf_puts(&b, "{name: ");
					yaml_quote(&b, name ? name : "");
					nr_buf_puts(&b, ", path: ");
					yaml_quote(&b, eq + 1);
					nr_buf_puts(&b, "}");
					free(name);
					continue;
				}
				yaml_quote(&b, items[j]);
			}
			nr_buf_puts(&b, "]\n");
		} else {
			nr_buf_printf(&b, "%s%s: ", dot ? "  " : "", leaf);
			yaml_quote(&b, v);
			nr_buf_puts(&b, "\n");
		}
		free(v);
	}
	if (b.oom)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	*out = nr_buf_steal(&b);
	return 0;
}
