/* The Looking Glass IVSHMEM size rule: one function for `lg size` and the domain builder. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/internal.h"
#include "neuron/lg.h"

unsigned nr_lg_shm_size_mib(unsigned width, unsigned height, bool hdr)
{
	unsigned long long bytes, mib, size = 1;

	if (width == 0 || height == 0 || width > 16384 || height > 16384)
		return 0;
	bytes = (unsigned long long)width * height * 4 * 2 * (hdr ? 2 : 1);
	mib = (bytes + (1u << 20) - 1) / (1u << 20) + 10;
	while (size < mib)
		size <<= 1;
	return (unsigned)size;
}

int nr_lg_parse_resolution(const char *s, unsigned *width, unsigned *height)
{
	static const struct {
		const char *name;
		unsigned w, h;
	} named[] = {
		{ "720p", 1280, 720 }, { "1080p", 1920, 1080 }, { "1440p", 2560, 1440 },
		{ "2160p", 3840, 2160 }, { "4k", 3840, 2160 }, { "5k", 5120, 2880 },
	};
	unsigned w, h;
	char tail;

	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (strcasecmp(s, named[i].name) == 0) {
			*width = named[i].w;
			*height = named[i].h;
			return 0;
		}
	if (sscanf(s, "%ux%u%c", &w, &h, &tail) != 2 || nr_lg_shm_size_mib(w, h, false) == 0)
		return -NR_E_INVAL;
	*width = w;
	*height = h;
	return 0;
}
