/* trace.h: controller-side readers of what the barrier recorded in the shared
 * area: the switch log, the JSON-lines trace (--trace FILE) and per-stage
 * times (--stats).
 *
 * Timestamps in the area are raw TSC values, converted with the fit of
 * clock.h from the sample the controller took when the restore started
 * (task_entries.clock_start). */
#ifndef CRSTEP_TRACE_H
#define CRSTEP_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "barrier.h"

/* "FORKING -> RESTORE  by root (pid 22838)  nr_in_progress=1" for a SWITCH
 * or FAIL event; the first switch, from the initial start (-1), reads
 * "none -> ROOT_TASK ...".  Returns what snprintf returns. */
int trace_format_switch(char *buf, size_t size, const struct barrier_event *ev);

/* Each returns 0, or -1 on a write error.  Events overwritten by the ring's
 * wrap-around are skipped; the log and stats then begin with a "# ..." line
 * saying how many. */
int trace_print_switch_log(FILE *out, const struct task_entries *te);
int trace_write_jsonl(FILE *out, const struct task_entries *te);
/* The Chrome trace event format (--trace-format chrome): Perfetto's UI and
 * chrome://tracing open it. */
int trace_write_chrome(FILE *out, const struct task_entries *te);
int trace_print_stats(FILE *out, const struct task_entries *te);

#endif
