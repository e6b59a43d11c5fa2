/* clock.h (lib): timestamps that cost no syscall, and their conversion to
 * CLOCK_MONOTONIC.
 *
 * Barrier events are stamped with the TSC (lfence; rdtsc): clock_gettime
 * inside a restored task would read another time namespace, and recording
 * must stay plain stores.  The controller takes a (tsc, CLOCK_MONOTONIC)
 * sample when the restore starts and another when it reads, and fits a
 * line through both (each sample brackets clock_gettime between two TSC
 * reads and takes their midpoint).  If the two are less than a few
 * milliseconds apart clock_fit_init() sleeps a little first, so the rate is
 * precise to about 0.1%.
 *
 * Header-only parts (the types and clock_rdtsc) are freestanding: the
 * restorer blob stamps its events with them too. */
#ifndef CRSTEP_CLOCK_H
#define CRSTEP_CLOCK_H

#include <stdint.h>

struct clock_sample {
	uint64_t tsc;
	int64_t mono_ns;	/* the controller's CLOCK_MONOTONIC */
};

struct clock_fit {
	uint64_t tsc0;
	int64_t ns0;		/* CLOCK_MONOTONIC at tsc0 */
	double ns_per_tick;
};

/* lfence orders the read after the preceding loads, so a timestamp taken
 * after observing a value is not earlier than that value. */
static inline uint64_t clock_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}

/* 0, or -1 if clock_gettime fails (errno set). */
int clock_sample_take(struct clock_sample *sample);
/* Fit from first (taken now if first->tsc is 0) to a sample taken now. */
int clock_fit_init(struct clock_fit *fit, const struct clock_sample *first);
int64_t clock_fit_ns(const struct clock_fit *fit, uint64_t tsc);

#endif
