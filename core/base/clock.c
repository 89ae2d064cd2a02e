/* The monotonic clock, sleep and timed waits (neuron/clock.h), POSIX. A system file of the guest agent:
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

int nr_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t ca;
	int rc = pthread_condattr_init(&ca);

	if (rc != 0)
		return rc;
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
	return rc;
}

int nr_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, long long deadline_ms)
{
	struct timespec ts = { (time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000L };

	return pthread_cond_timedwait(cond, lock, &ts);
}
