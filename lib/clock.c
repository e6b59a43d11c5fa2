/* clock.c: TSC samples and the TSC -> CLOCK_MONOTONIC fit (clock.h). */
#include <errno.h>
#include <time.h>

#include "clock.h"

#define CALIBRATION_MIN_NS 5000000LL	/* 5 ms between the two samples */

int clock_sample_take(struct clock_sample *sample)
{
	struct timespec ts;
	uint64_t before, after;

	before = clock_rdtsc();
	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		return -1;
	after = clock_rdtsc();
	sample->tsc = before + (after - before) / 2;
	sample->mono_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	return 0;
}

int clock_fit_init(struct clock_fit *fit, const struct clock_sample *start)
{
	struct clock_sample first = *start, now;

	if (!first.tsc && clock_sample_take(&first))
		return -1;
	if (clock_sample_take(&now))
		return -1;
	if (now.mono_ns - first.mono_ns < CALIBRATION_MIN_NS) {
		int64_t rest = CALIBRATION_MIN_NS - (now.mono_ns - first.mono_ns);
		struct timespec nap = { rest / 1000000000LL, rest % 1000000000LL };

		while (nanosleep(&nap, &nap) && errno == EINTR)
			;
		if (clock_sample_take(&now))
			return -1;
	}
	fit->tsc0 = first.tsc;
	fit->ns0 = first.mono_ns;
	fit->ns_per_tick = now.tsc > first.tsc ?
		(double)(now.mono_ns - first.mono_ns) / (double)(now.tsc - first.tsc) : 1.0;
	return 0;
}

int64_t clock_fit_ns(const struct clock_fit *fit, uint64_t tsc)
{
	/* Signed: events may predate the first sample by a little. */
	double ticks = (double)(int64_t)(tsc - fit->tsc0);

	return fit->ns0 + (int64_t)(ticks * fit->ns_per_tick);
}
