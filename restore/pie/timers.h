/* timers.h: the restorer blob's POSIX timers, itimers and seccomp
 * (restore/pie/timers.c).  Each returns 0 or -errno and names what failed
 * in *what, for restorer.c's report. */
#ifndef CRSTEP_PIE_TIMERS_H
#define CRSTEP_PIE_TIMERS_H

#include "restorer.h"

long pie_create_timers(struct restorer_args *a, const char **what, int32_t *id);
long pie_arm_timers(struct restorer_args *a, const char **what, int32_t *id);
long pie_restore_seccomp(struct rst_thread *th, const char **what, int32_t *index);

#endif
