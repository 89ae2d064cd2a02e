/* The Looking Glass IVSHMEM size rules, one per Windows-side stack: one function for
 * `lg size`, `lg setup` and the domain builder. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/internal.h"
#include "neuron/lg.h"

/* One row per Windows-side stack: how much shared memory its frames need. */
static unsigned long long b7_bytes(unsigned width, unsigned height, bool hdr)
{
	/* two frames of 4 bytes a pixel, twice that for HDR; plus 10 MiB below */
	return (unsigned long long)width * height * 4 * 2 * (hdr ? 2 : 1);
}

static unsigned long long idd_bytes(unsigned width, unsigned height, bool hdr)
{
	/* three frames whose rows are padded to 256 bytes; HDR frames are the same size */
	return ((unsigned long long)width * 4 + 255) / 256 * 256 * height * 3;
}

static const struct lg_stack {
	const char *name;
	unsigned long long (*frame_bytes)(unsigned width, unsigned height, bool hdr);
	unsigned extra_mib;
	const char *help;
} stacks[] = {
	[NR_LG_STACK_B7] = { "b7", b7_bytes, 10, "the B7 host application: W x H x 4 x 2 (x 2 HDR) + 10 MiB" },
	[NR_LG_STACK_IDD] = { "idd", idd_bytes, 4,
			      "the Indirect Display Driver after B7: ceil(W x 4 / 256) x 256 x H x 3 + 4 MiB" },
};

unsigned nr_lg_shm_size_mib(enum nr_lg_stack stack, unsigned width, unsigned height, bool hdr)
{
	const struct lg_stack *st = &stacks[stack == NR_LG_STACK_IDD ? NR_LG_STACK_IDD : NR_LG_STACK_B7];
	unsigned long long mib, size = 1;

	if (width == 0 || height == 0 || width > 16384 || height > 16384)
		return 0;
	mib = (st->frame_bytes(width, height, hdr) + (1u << 20) - 1) / (1u << 20) + st->extra_mib;
	while (size < mib)
		size <<= 1;
	return (unsigned)size;
}

int nr_lg_stack_parse(const char *s, enum nr_lg_stack *stack)
{
	if (strcmp(s, "auto") == 0) {
		*stack = NR_LG_STACK_AUTO;
		return 0;
	}
	for (size_t i = 0; i < sizeof(stacks) / sizeof(stacks[0]); i++)
		if (stacks[i].name && strcmp(s, stacks[i].name) == 0) {
			*stack = (enum nr_lg_stack)i;
			return 0;
		}
	return -NR_E_INVAL;
}

const char *nr_lg_stack_name(enum nr_lg_stack stack)
{
	return stack == NR_LG_STACK_B7 || stack == NR_LG_STACK_IDD ? stacks[stack].name : "auto";
}

const char *nr_lg_stack_help(enum nr_lg_stack stack)
{
	return stack == NR_LG_STACK_B7 || stack == NR_LG_STACK_IDD ? stacks[stack].help :
	       "the stack of the installed client (B7 when none or unknown)";
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
	if (sscanf(s, "%ux%u%c", &w, &h, &tail) != 2 || nr_lg_shm_size_mib(NR_LG_STACK_B7, w, h, false) == 0)
		return -NR_E_INVAL;
	*width = w;
	*height = h;
	return 0;
}
