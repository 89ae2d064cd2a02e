#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "neuron/error.h"

static const struct {
	const char *name;
	const char *msg;
} errtab[] = {
#define NR_ERR_ROW(name, msg) { #name, msg },
	NR_ERRORS(NR_ERR_ROW)
#undef NR_ERR_ROW
};

static int errindex(int code)
{
	if (code < 0)
		code = -code;
	code -= NR__EFIRST + 1;
	/* code is now the row index */
	if (code < 0 || (size_t)code >= sizeof(errtab) / sizeof(errtab[0]))
		return -1;
	return code;
}

const char *nr_strerror(int code)
{
	int i = errindex(code);

	return code == 0 ? "success" : i < 0 ? "unknown error" : errtab[i].msg;
}

const char *nr_errname(int code)
{
	int i = errindex(code);

	return code == 0 ? "OK" : i < 0 ? "UNKNOWN" : errtab[i].name;
}

int nr_error_set(struct nr_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	if (!fmt) {
		snprintf(err->msg, sizeof(err->msg), "%s", nr_strerror(code));
		return code;
	}
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void nr_error_prefix(struct nr_error *err, const char *fmt, ...)
{
	char prefix[512], old[sizeof(err->msg)];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	size_t lp = strlen(prefix), lo = strlen(old);
	if (lp > sizeof(err->msg) - 1)
		lp = sizeof(err->msg) - 1;
	if (lo > sizeof(err->msg) - 1 - lp)
		lo = sizeof(err->msg) - 1 - lp;
	memcpy(err->msg, prefix, lp);
	memcpy(err->msg + lp, old, lo);
	err->msg[lp + lo] = '\0';
}

void nr_error_clear(struct nr_error *err)
{
	if (!err)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}
