/* trace.h: controller-side readers of what the barrier recorded in the shared
 * area: the switch log, the JSON-lines trace (--trace FILE) and per-stage
 * times (--stats).
 *
 * Timestamps in the area are raw TSC values (no syscall on the recording
 * path; the tasks' CLOCK_MONOTONIC is in another time namespace).  They are
 * converted to the controller's CLOCK_MONOTONIC with a two-point calibration:
 * trace_clock_start() stores a (tsc, CLOCK_MONOTONIC) sample in the area when
 * the restore starts, trace_clock_init() takes a second one when reading and
 * fits a line through both (each sample brackets clock_gettime between two
 * TSC reads and takes their midpoint).  If the two are less than a few
 * milliseconds apart it sleeps a little first, so the rate is precise to
 * about 0.1%. */
#ifndef CRSTEP_TRACE_H
#define CRSTEP_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "barrier.h"

struct trace_clock {
	uint64_t tsc0;
	int64_t ns0;		/* CLOCK_MONOTONIC at tsc0 */
	double ns_per_tick;
};

/* Controller, once, right after creating the area. */
void trace_clock_start(struct task_entries *te);
/* Returns 0, or -1 if clock_gettime fails (errno set). */
int trace_clock_init(struct trace_clock *clock, const struct task_entries *te);
int64_t trace_clock_ns(const struct trace_clock *clock, uint64_t tsc);

/* "FORKING -> RESTORE  by root (pid 22838)  nr_in_progress=1" for a SWITCH
 * or FAIL event; the first switch, from the initial start (-1), reads
 * "none -> ROOT_TASK ...".  Returns what snprintf returns. */
int trace_format_switch(char *buf, size_t size, const struct barrier_event *ev);

/* Each returns 0, or -1 on a write error.  Events overwritten by the ring's
 * wrap-around are skipped; the log and stats then begin with a "# ..." line
 * saying how many. */
int trace_print_switch_log(FILE *out, const struct task_entries *te);
int trace_write_jsonl(FILE *out, const struct task_entries *te);
int trace_print_stats(FILE *out, const struct task_entries *te);

#endif
