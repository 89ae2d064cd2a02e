/* The one monotonic clock and sleep of the project. POSIX systems get them from
 * core/base/clock.c; the guest agent's Windows port brings its own (agent/platform.h). */
#ifndef NEURON_CLOCK_H
#define NEURON_CLOCK_H

/* Milliseconds of a clock that never goes back (CLOCK_MONOTONIC), for deadlines. */
long long nr_now_ms(void);
/* The same in microseconds, for round trips. */
long long nr_now_us(void);
/* Sleep ms milliseconds, the whole time even when a signal comes. */
void nr_sleep_ms(long ms);

#ifndef _WIN32
#include <pthread.h>
/* A condition variable whose timed waits run on the same clock (pthread's default is the
 * wall clock, which a change of the date moves), and a wait on one until deadline_ms, a time
 * of nr_now_ms: 0 when signalled, ETIMEDOUT once past it. */
int nr_cond_init(pthread_cond_t *cond);
int nr_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, long long deadline_ms);
#endif

#endif
