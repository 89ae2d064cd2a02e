/* Looking Glass: shared memory sizing (and, as it lands, set-up, client, host-app status). */
#ifndef NEURON_LG_H
#define NEURON_LG_H

#include <stdbool.h>

/* IVSHMEM size in MiB for a resolution (Looking Glass B7 rule): width x height x 4
 * bytes x 2 frames (x 2 again for HDR), in MiB, plus 10, rounded up to a power of
 * two. 1080p 32, 1440p 64, 2160p 128. Returns 0 for a size out of range. */
unsigned nr_lg_shm_size_mib(unsigned width, unsigned height, bool hdr);
/* Parse "1920x1080" (also "1080p", "1440p", "2160p", "4k"). Returns 0 or -NR_E_INVAL. */
int nr_lg_parse_resolution(const char *s, unsigned *width, unsigned *height);

#endif
