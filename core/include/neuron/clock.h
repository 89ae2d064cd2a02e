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

#endif
