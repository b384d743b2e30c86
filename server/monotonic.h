/*
 * Timed waits on CLOCK_MONOTONIC (wall-clock jumps must not stretch or cut
 * a timeout): condition variables that wait on it and deadlines for them.
 * Used by the waiter (mailbox.c), the vfio-user client and the DMA event
 * waiters of the introspection engine.
 */
#ifndef VIGIL_MONOTONIC_H
#define VIGIL_MONOTONIC_H

#include <pthread.h>
#include <time.h>

/* Initialise @c to time its waits against CLOCK_MONOTONIC. 0 or -errno. */
static inline int cond_init_monotonic(pthread_cond_t *c)
{
	pthread_condattr_t attr;
	int err;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	err = pthread_cond_init(c, &attr);
	pthread_condattr_destroy(&attr);
	return -err;
}

/* The CLOCK_MONOTONIC time @ms milliseconds from now, for timedwait. */
static inline void deadline_after_ms(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

#endif
