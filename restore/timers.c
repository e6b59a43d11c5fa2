/* timers.c: the itimers and POSIX timers of a task, from core-N.img's
 * tc.timers into the restorer's args (the blob creates and arms them,
 * restore/pie/timers.c).
 *
 * As CRIU's prepare_itimers()/prepare_posix_timers(): each timer gets the
 * time it had left at the dump, counted from the end of the restore; one
 * that was about to fire (nothing left, yet armed with an interval) gets
 * one interval.  The overrun count the image records cannot be given back
 * (no syscall sets it; CRIU does not either).  Timer slack is not in
 * CRIU's images: a restored task has the slack it inherits from crstep. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "restore.h"

#ifndef SIGEV_THREAD_ID
#define SIGEV_THREAD_ID 4
#endif

static int task_has_thread(const struct img_task *t, int32_t tid)
{
	size_t i;

	for (i = 0; i < t->nr_threads; i++)
		if ((int32_t)t->threads[i].tid == tid)
			return 1;
	return 0;
}

static int check_itimer(const struct img_task *t, const char *which, const ItimerEntry *e)
{
	if (e && (e->iusec >= 1000000 || e->vusec >= 1000000 || (int64_t)e->isec < 0 || (int64_t)e->vsec < 0))
		return error("core-%u.img: itimer %s: invalid time (interval %lu.%06lu s, left %lu.%06lu s)", t->pid,
			     which, (unsigned long)e->isec, (unsigned long)e->iusec, (unsigned long)e->vsec,
			     (unsigned long)e->vusec);
	return 0;
}

static int check_posix_timer(const struct img_task *t, const PosixTimerEntry *p)
{
	int notify = (int)p->it_sigev_notify;

	if (p->it_id > 0x7fffffff)
		return error("core-%u.img: POSIX timer id %u: not a kernel timer id", t->pid, p->it_id);
	if (p->insec >= 1000000000 || p->vnsec >= 1000000000 || (int64_t)p->isec < 0 || (int64_t)p->vsec < 0)
		return error("core-%u.img: POSIX timer %u: invalid time", t->pid, p->it_id);
	if (notify != SIGEV_SIGNAL && notify != SIGEV_NONE && notify != SIGEV_THREAD_ID)
		return error("core-%u.img: POSIX timer %u: sigev_notify %d is not one the kernel takes", t->pid,
			     p->it_id, notify);
	if (notify != SIGEV_NONE && (p->si_signo < 1 || p->si_signo > 64))
		return error("core-%u.img: POSIX timer %u: signal %u", t->pid, p->it_id, p->si_signo);
	if (notify == SIGEV_THREAD_ID && (!p->has_notify_thread_id || !task_has_thread(t, p->notify_thread_id)))
		return error("core-%u.img: POSIX timer %u: signals thread %d, which is not a thread of the task",
			     t->pid, p->it_id, p->has_notify_thread_id ? p->notify_thread_id : -1);
	return 0;
}

int timers_check(const struct img_task *t)
{
	const TaskTimersEntry *tm = t->core->tc->timers;
	size_t i, j;

	if (!tm)
		return 0;
	if (check_itimer(t, "real", tm->real) || check_itimer(t, "virtual", tm->virt) ||
	    check_itimer(t, "prof", tm->prof))
		return -1;
	for (i = 0; i < tm->n_posix; i++) {
		if (check_posix_timer(t, tm->posix[i]))
			return -1;
		for (j = 0; j < i; j++)
			if (tm->posix[j]->it_id == tm->posix[i]->it_id)
				return error("core-%u.img: POSIX timer id %u twice", t->pid, tm->posix[i]->it_id);
	}
	return 0;
}

size_t timers_args_size(const struct img_task *t)
{
	const TaskTimersEntry *tm = t->core->tc->timers;

	return tm ? tm->n_posix * sizeof(struct rst_posix_timer) : 0;
}

static int by_id(const void *x, const void *y)
{
	const struct rst_posix_timer *a = x, *b = y;

	return (a->id > b->id) - (a->id < b->id);
}

static void fill_itimer(struct rst_itimer *it, const ItimerEntry *e)
{
	if (!e)
		return;
	it->interval_sec = e->isec;
	it->interval_usec = e->iusec;
	it->value_sec = e->vsec;
	it->value_usec = e->vusec;
	if (!e->vsec && !e->vusec) {
		it->value_sec = e->isec;
		it->value_usec = e->iusec;
	}
}

/* area: room for timers_args_size(t) bytes in the bootstrap area. */
void timers_args_fill(const struct img_task *t, struct restorer_args *a, void *area)
{
	const TaskTimersEntry *tm = t->core->tc->timers;
	size_t i;

	if (!tm)
		return;
	fill_itimer(&a->itimers[0], tm->real);
	fill_itimer(&a->itimers[1], tm->virt);
	fill_itimer(&a->itimers[2], tm->prof);
	a->posix_timers = area;
	a->nr_posix_timers = tm->n_posix;
	for (i = 0; i < tm->n_posix; i++) {
		const PosixTimerEntry *p = tm->posix[i];
		struct rst_posix_timer *r = &a->posix_timers[i];

		memset(r, 0, sizeof(*r));
		r->id = (int32_t)p->it_id;
		r->clock_id = (int32_t)p->clock_id;
		r->signo = (int32_t)p->si_signo;
		r->notify = (int32_t)p->it_sigev_notify;
		r->notify_tid = p->has_notify_thread_id ? p->notify_thread_id : 0;
		r->sival = p->sival_ptr;
		r->spec[0] = (int64_t)p->isec;
		r->spec[1] = (int64_t)p->insec;
		r->spec[2] = (int64_t)p->vsec;
		r->spec[3] = (int64_t)p->vnsec;
		if (!p->vsec && !p->vnsec) {
			r->spec[2] = r->spec[0];
			r->spec[3] = r->spec[1];
		}
	}
	/* The blob creates them in id order (without the kernel's
	 * PR_TIMER_CREATE_RESTORE_IDS it probes for each id in turn). */
	qsort(a->posix_timers, a->nr_posix_timers, sizeof(*a->posix_timers), by_id);
}
