/* The monotonic clock and sleep (neuron/clock.h), POSIX. A system file of the guest agent:
 * its Windows port has its own (tests/port/run.sh). */
#include <errno.h>
#include <time.h>

#include "neuron/clock.h"

long long nr_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long long nr_now_ms(void)
{
	return nr_now_us() / 1000;
}

void nr_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	if (ms <= 0)
		return;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
