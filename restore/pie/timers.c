/* timers.c: the restorer blob's POSIX timers, itimers and seccomp filters
 * (freestanding, raw syscalls; the data comes from restore/timers.c and
 * restore/seccomp.c through the bootstrap area).
 *
 * Order, as in CRIU's restorer:
 *  - the POSIX timers are created (not armed) by the leader after its
 *    threads are cloned, since a SIGEV_THREAD_ID timer names a thread that
 *    must exist, and before RESTORE ends;
 *  - each thread installs its seccomp mode in RESTORE_CREDS, before its
 *    credentials (installing a filter needs CAP_SYS_ADMIN or no_new_privs,
 *    and the thread is still crstep's root); from there on every syscall
 *    of the blob would go through the filter, so the controller seizes the
 *    task with PTRACE_O_SUSPEND_SECCOMP at RESTORE_SIGCHLD and the filter
 *    acts from the detach on (restore/catch.c);
 *  - the itimers and the POSIX timers are armed by the leader last, after
 *    COMPLETE, just before its rt_sigreturn: each gets the time it had left
 *    at the dump from then on (a restore paused at a breakpoint does not
 *    eat it). */
#include <stdint.h>
#include <asm/unistd.h>
#include <linux/prctl.h>
#include <linux/seccomp.h>

#include "restorer.h"
#include "sysraw.h"

#ifndef PR_TIMER_CREATE_RESTORE_IDS
#define PR_TIMER_CREATE_RESTORE_IDS 77
#endif

#define E_INVAL 22
#define E_EXIST 17
#define E_BUSY 16

/* The kernel's struct sigevent (64 bytes). */
struct pie_sigevent {
	uint64_t value;
	int32_t signo, notify, tid;
	int32_t pad[11];
};

/* The kernel's struct sock_fprog. */
struct pie_fprog {
	uint16_t len;
	uint16_t pad[3];
	uint64_t filter;
};

static long timer_create_one(const struct rst_posix_timer *t, int32_t *id)
{
	volatile struct pie_sigevent sev;
	int i;

	for (i = 0; i < 11; i++)
		sev.pad[i] = 0;
	sev.value = t->sival;
	sev.signo = t->signo;
	sev.notify = t->notify;
	sev.tid = t->notify_tid;
	return sysraw3(__NR_timer_create, t->clock_id, (long)&sev, (long)id);
}

/* Without PR_TIMER_CREATE_RESTORE_IDS (before Linux 6.16) the kernel hands
 * out ids in rising order from 0 in a new process: create and delete until
 * the next one is the wanted id (the timers are sorted by id). */
static long timer_create_probing(const struct rst_posix_timer *t)
{
	for (;;) {
		int32_t got = -1;
		long ret = timer_create_one(t, &got);

		if (ret < 0 || got == t->id)
			return ret;
		if (got > t->id)
			return -E_EXIST;	/* the kernel is past it already */
		sysraw3(__NR_timer_delete, got, 0, 0);
	}
}

long pie_create_timers(struct restorer_args *a, const char **what, int32_t *id)
{
	long by_id, ret = 0, off;
	uint32_t i;

	if (!a->nr_posix_timers)
		return 0;
	/* Linux 6.16+: timer_create() takes the id from *created_timer_id. */
	by_id = sysraw6(__NR_prctl, PR_TIMER_CREATE_RESTORE_IDS, 1, 0, 0, 0, 0);
	if (by_id < 0 && by_id != -E_INVAL) {
		*what = "prctl(PR_TIMER_CREATE_RESTORE_IDS)";
		return by_id;
	}
	for (i = 0; i < a->nr_posix_timers && ret >= 0; i++) {
		const struct rst_posix_timer *t = &a->posix_timers[i];
		int32_t got = t->id;

		*id = t->id;
		*what = "timer_create of POSIX timer";
		if (by_id < 0) {
			ret = timer_create_probing(t);
			continue;
		}
		ret = timer_create_one(t, &got);
		if (ret >= 0 && got != t->id)
			ret = -E_EXIST;
	}
	if (by_id >= 0) {
		off = sysraw6(__NR_prctl, PR_TIMER_CREATE_RESTORE_IDS, 0, 0, 0, 0, 0);
		if (off < 0 && ret >= 0) {
			*what = "prctl(PR_TIMER_CREATE_RESTORE_IDS, OFF)";
			ret = off;
		}
	}
	return ret;
}

long pie_arm_timers(struct restorer_args *a, const char **what, int32_t *id)
{
	long ret;
	uint32_t i;
	int which;

	for (which = 0; which < 3; which++) {
		struct rst_itimer *t = &a->itimers[which];

		if (!t->value_sec && !t->value_usec)
			continue;
		*id = which;
		*what = "setitimer";
		ret = sysraw3(__NR_setitimer, which, (long)t, 0);
		if (ret < 0)
			return ret;
	}
	for (i = 0; i < a->nr_posix_timers; i++) {
		struct rst_posix_timer *t = &a->posix_timers[i];

		if (!t->spec[2] && !t->spec[3])
			continue;
		*id = t->id;
		*what = "timer_settime of POSIX timer";
		ret = sysraw6(__NR_timer_settime, t->id, 0, (long)t->spec, 0, 0, 0);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The chain oldest first, each filter with its own flags; a TSYNC filter
 * of the leader gives the other threads the chain too (CRIU's dump keeps
 * it once when all threads share it).  TSYNC's failure is a positive tid. */
long pie_restore_seccomp(struct rst_thread *th, const char **what, int32_t *index)
{
	uint32_t i;
	long ret;

	switch (th->seccomp_mode) {
	case SECCOMP_MODE_DISABLED:
		return 0;
	case SECCOMP_MODE_STRICT:
		*what = "prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT)";
		*index = 0;
		return sysraw6(__NR_prctl, PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0, 0);
	case SECCOMP_MODE_FILTER:
		for (i = 0; i < th->nr_seccomp; i++) {
			struct rst_seccomp_filter *f = &th->seccomp[i];
			struct pie_fprog prog = { (uint16_t)f->len, { 0, 0, 0 }, f->insns };

			*what = "seccomp(SECCOMP_SET_MODE_FILTER) of filter";
			*index = i;
			ret = sysraw3(__NR_seccomp, SECCOMP_SET_MODE_FILTER, f->flags, (long)&prog);
			if (ret > 0)
				return -E_BUSY;
			if (ret < 0)
				return ret;
		}
		return 0;
	}
	*what = "seccomp: unknown mode";
	*index = th->seccomp_mode;
	return -E_INVAL;
}
