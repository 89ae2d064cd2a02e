#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "neuron/ctx.h"

static const struct {
	const char *name;
	const char *def;
	const char *help;
} params[] = {
#define NR_PARAM_ROW(name, def, help) { name, def, help },
	NR_PARAMS(NR_PARAM_ROW)
#undef NR_PARAM_ROW
};
#define NPARAMS (sizeof(params) / sizeof(params[0]))

struct nr_ctx {
	char *value[NPARAMS];
};

static int param_index(const char *name)
{
	for (size_t i = 0; i < NPARAMS; i++)
		if (strcmp(params[i].name, name) == 0)
			return (int)i;
	return -1;
}

struct nr_ctx *nr_ctx_new(void)
{
	struct nr_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return NULL;
	for (size_t i = 0; i < NPARAMS; i++) {
		ctx->value[i] = strdup(params[i].def);
		if (!ctx->value[i]) {
			nr_ctx_free(ctx);
			return NULL;
		}
	}
	return ctx;
}

void nr_ctx_free(struct nr_ctx *ctx)
{
	if (!ctx)
		return;
	for (size_t i = 0; i < NPARAMS; i++)
		free(ctx->value[i]);
	free(ctx);
}

int nr_ctx_set(struct nr_ctx *ctx, const char *name, const char *value, struct nr_error *err)
{
	int i = param_index(name);
	char *copy;

	if (i < 0)
		return nr_error_set(err, -NR_E_INVAL, "unknown parameter '%s'", name);
	copy = strdup(value ? value : params[i].def);
	if (!copy)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	free(ctx->value[i]);
	ctx->value[i] = copy;
	return 0;
}

int nr_ctx_set_option(struct nr_ctx *ctx, const char *option, const char *value, struct nr_error *err)
{
	static const char *const options[] = {
#define NR_OPTION_NAME(name, metavar, help) name,
		NR_CTX_OPTIONS(NR_OPTION_NAME)
#undef NR_OPTION_NAME
	};
	char name[128];
	const char *eq;
	int rc;

	if (strcmp(option, "param") != 0) {
		for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
			if (strcmp(options[i], option) == 0)
				return nr_ctx_set(ctx, option, value, err);
		return nr_error_set(err, -NR_E_USAGE, "unknown option '--%s'", option);
	}
	eq = strchr(value, '=');
	if (!eq || eq == value || (size_t)(eq - value) >= sizeof(name))
		return nr_error_set(err, -NR_E_USAGE, "--param takes NAME=VALUE, not '%s'", value);
	memcpy(name, value, (size_t)(eq - value));
	name[eq - value] = '\0';
	rc = nr_ctx_set(ctx, name, eq + 1, err);
	if (rc != -NR_E_INVAL)
		return rc;
	if (err)
		err->code = -NR_E_USAGE;        /* an unknown parameter: the command line's fault */
	return -NR_E_USAGE;
}

const char *nr_ctx_get(const struct nr_ctx *ctx, const char *name)
{
	int i = param_index(name);

	return i < 0 ? NULL : ctx->value[i];
}

const char *nr_ctx_param_name(int i, const char **help)
{
	if (i < 0 || (size_t)i >= NPARAMS)
		return NULL;
	if (help)
		*help = params[i].help;
	return params[i].name;
}

char *nr_ctx_runtime_dir(const struct nr_ctx *ctx)
{
	const char *dir = nr_ctx_get(ctx, "runtime_dir"), *xdg = getenv("XDG_RUNTIME_DIR");

	if (dir && dir[0])
		return strdup(dir);
	if (xdg && xdg[0] == '/')
		return nr_path_join(xdg, "neuron");
	return strdup("/run/neuron");
}

char *nr_ctx_sys_path(const struct nr_ctx *ctx, const char *rel)
{
	return nr_path_join(nr_ctx_get(ctx, "sysroot"), rel);
}
