/* What the desktop platforms share (platform.h). Portable C. */
#include <string.h>

#include "platform.h"

static unsigned long long fnv(unsigned long long h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

unsigned long long platform_clip_hash(const char *mime, const void *data, size_t len)
{
	return fnv(fnv(1469598103934665603ull, mime, strlen(mime) + 1), data, len);
}
