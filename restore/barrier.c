/* barrier.c: the stage barrier (CRIU's restore_switch_stage,
 * restore_finish_stage, futex_wait_while_gt, futex_abort_and_wake) and its
 * recording.  Freestanding: compiled into crstep and into the restorer blob,
 * so no libc, no global variables, no struct copies the compiler could turn
 * into memcpy/memset calls.  See include/barrier.h for the contract. */
#include <stdint.h>
#include <stddef.h>
#include <linux/futex.h>
#include <linux/mman.h>
#include <linux/errno.h>
#define BARRIER_CLOCK_MONOTONIC 1	/* <linux/time.h> would also define struct timespec */

#include "barrier.h"
#include "sysraw.h"

#define FUTEX_WAKE_ALL 0x7fffffff	/* INT_MAX, as every CRIU wake */

/* Plain FUTEX_WAKE/FUTEX_WAIT (not PRIVATE): the waiters are other processes
 * sharing the MAP_SHARED area. */
static void futex_wake_all(void *word)
{
	sysraw_futex(word, FUTEX_WAKE, FUTEX_WAKE_ALL, NULL, NULL, 0);
}

static long futex_wait_value(void *word, uint32_t value,
			     const struct __kernel_timespec *deadline)
{
	if (!deadline)
		return sysraw_futex(word, FUTEX_WAIT, value, NULL, NULL, 0);
	/* WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, which the
	 * kernel translates out of the caller's time namespace: a deadline
	 * computed once survives any number of spurious wake-ups. */
	return sysraw_futex(word, FUTEX_WAIT_BITSET, value, deadline, NULL,
			    FUTEX_BITSET_MATCH_ANY);
}

static int slot_valid(const struct task_entries *te, int slot)
{
	return slot >= 0 && (uint32_t)slot < te->max_slots;
}

static int stage_valid(int stage)
{
	return stage >= 0 && stage < CR_STATE_NR;
}

void task_entries_init(struct task_entries *te, uint32_t max_slots)
{
	uint32_t i;

	te->start = CR_STATE_FAIL;
	te->nr_in_progress = 0;
	te->cr_err = 0;
	te->failed = 0;
	te->nr_slots = 0;
	te->max_slots = max_slots;
	te->event_next = 0;
	te->nr_bps_armed = 0;
	te->nr_held = 0;
	te->nr_faults = 0;
	te->fault_hit.pid = 0;
	for (i = 0; i < max_slots; i++) {
		te->slots[i].pid = 0;
		te->slots[i].role = ROLE_UNKNOWN;
		te->slots[i].stage_reached = -1;
		te->slots[i].waiting_on = -1;
		te->slots[i].held_bp = -1;
		te->slots[i].gate = 0;
	}
	for (i = 0; i < BARRIER_NR_BPS; i++) {
		te->bps[i].kind = BP_NONE;
		te->bps[i].enabled = 0;
		te->bps[i].hits = 0;
	}
}

int task_entries_create(struct task_entries **out, uint32_t max_slots)
{
	long addr;

	addr = sysraw_mmap(NULL, task_entries_size(max_slots),
			   PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (addr < 0 && addr > -4096)
		return (int)addr;
	*out = (struct task_entries *)addr;
	task_entries_init(*out, max_slots);
	return 0;
}

void task_entries_destroy(struct task_entries *te)
{
	if (te)
		sysraw_munmap(te, task_entries_size(te->max_slots));
}

int task_slot_assign(struct task_entries *te, int32_t pid, enum task_role role)
{
	uint32_t idx = __atomic_fetch_add(&te->nr_slots, 1, __ATOMIC_RELAXED);

	if (idx >= te->max_slots) {
		__atomic_fetch_sub(&te->nr_slots, 1, __ATOMIC_RELAXED);
		return -1;
	}
	te->slots[idx].pid = pid;
	te->slots[idx].role = (uint8_t)role;
	te->slots[idx].stage_reached = -1;
	te->slots[idx].waiting_on = -1;
	return (int)idx;
}

/* The whole recording path: one fetch-add for the seq, plain stores, and a
 * release store of the seq last.  The entry's seq is zeroed first so a
 * reader racing with a wrap-around overwrite sees a torn entry as such. */
static uint64_t record_event(struct task_entries *te, enum barrier_event_type type,
			     int stage_from, int stage_to, int32_t pid,
			     enum task_role role, int slot, uint32_t count_set,
			     uint32_t count_seen, int32_t err, uint64_t *tsc_out)
{
	uint64_t seq = __atomic_add_fetch(&te->event_next, 1, __ATOMIC_RELAXED);
	struct barrier_event *ev = &te->events[(seq - 1) & (BARRIER_RING_SIZE - 1)];
	uint64_t tsc;

	__atomic_store_n(&ev->seq, 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	/* The TSC is read after the seq is taken, so per writer both grow. */
	tsc = barrier_rdtsc();
	ev->tsc = tsc;
	ev->pid = pid;
	ev->count_set = count_set;
	ev->count_seen = count_seen;
	ev->err = err;
	ev->type = (uint16_t)type;
	ev->stage_from = (int8_t)stage_from;
	ev->stage_to = (int8_t)stage_to;
	ev->role = (uint8_t)role;
	ev->slot = slot_valid(te, slot) ? slot : -1;
	__atomic_store_n(&ev->seq, seq, __ATOMIC_RELEASE);
	if (tsc_out)
		*tsc_out = tsc;
	return seq;
}

uint64_t barrier_record(struct task_entries *te, enum barrier_event_type type,
			int stage_from, int stage_to, int32_t pid,
			enum task_role role, int slot, uint32_t count_set,
			uint32_t count_seen, int32_t err)
{
	return record_event(te, type, stage_from, stage_to, pid, role, slot,
			    count_set, count_seen, err, NULL);
}

uint64_t barrier_events_written(const struct task_entries *te)
{
	return __atomic_load_n(&te->event_next, __ATOMIC_ACQUIRE);
}

/* Seqlock-style read: the seq before and after the copy must both be ours. */
int barrier_event_read(const struct task_entries *te, uint64_t seq,
		       struct barrier_event *out)
{
	const struct barrier_event *ev;

	if (seq == 0)
		return -1;
	ev = &te->events[(seq - 1) & (BARRIER_RING_SIZE - 1)];
	if (__atomic_load_n(&ev->seq, __ATOMIC_ACQUIRE) != seq)
		return -1;
	out->seq = seq;
	out->tsc = ev->tsc;
	out->pid = ev->pid;
	out->count_set = ev->count_set;
	out->count_seen = ev->count_seen;
	out->err = ev->err;
	out->type = ev->type;
	out->stage_from = ev->stage_from;
	out->stage_to = ev->stage_to;
	out->role = ev->role;
	out->slot = ev->slot;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&ev->seq, __ATOMIC_RELAXED) != seq)
		return -1;
	return 0;
}

/* Breakpoints.  Matching and holding run only when some breakpoint is
 * enabled: the fast path of every barrier operation is one relaxed load of
 * nr_bps_armed. */
static int bp_matches(const struct barrier_bp *bp, enum barrier_event_type type,
		      int from, int to, int32_t pid)
{
	switch (bp->kind) {
	case BP_SWITCH:
		return type == BARRIER_EV_SWITCH && bp->to == to && (bp->from < 0 || bp->from == from);
	case BP_ARRIVE:
		return type == BARRIER_EV_ARRIVE && (!bp->pid || bp->pid == pid) &&
		       (bp->to < 0 || bp->to == to);
	case BP_ABORT:
		return type == BARRIER_EV_ABORT;
	case BP_ANY_EVENT:
		return type == BARRIER_EV_ARRIVE || type == BARRIER_EV_SWITCH;
	case BP_ANY_SWITCH:
		return type == BARRIER_EV_SWITCH;
	}
	return 0;
}

int barrier_bp_match(struct task_entries *te, enum barrier_event_type type,
		     int from, int to, int32_t pid)
{
	int i;

	if (!__atomic_load_n(&te->nr_bps_armed, __ATOMIC_ACQUIRE))
		return -1;
	for (i = 0; i < BARRIER_NR_BPS; i++) {
		struct barrier_bp *bp = &te->bps[i];

		if (__atomic_load_n(&bp->enabled, __ATOMIC_ACQUIRE) &&
		    bp_matches(bp, type, from, to, pid)) {
			__atomic_add_fetch(&bp->hits, 1, __ATOMIC_RELAXED);
			return i;
		}
	}
	return -1;
}

static void bps_recount(struct task_entries *te)
{
	uint32_t n = 0;
	int i;

	for (i = 0; i < BARRIER_NR_BPS; i++)
		n += te->bps[i].enabled && te->bps[i].kind != BP_NONE;
	__atomic_store_n(&te->nr_bps_armed, n, __ATOMIC_RELEASE);
}

void barrier_bp_set(struct task_entries *te, int idx, enum barrier_bp_kind kind,
		    int from, int to, int32_t pid)
{
	struct barrier_bp *bp;

	if (idx < 0 || idx >= BARRIER_NR_BPS)
		return;
	bp = &te->bps[idx];
	__atomic_store_n(&bp->enabled, 0, __ATOMIC_RELEASE);
	bp->kind = (uint8_t)kind;
	bp->from = (int8_t)from;
	bp->to = (int8_t)to;
	bp->pid = pid;
	bp->hits = 0;
	__atomic_store_n(&bp->enabled, kind != BP_NONE, __ATOMIC_RELEASE);
	bps_recount(te);
}

void barrier_bp_enable(struct task_entries *te, int idx, int enabled)
{
	if (idx < 0 || idx >= BARRIER_NR_BPS)
		return;
	__atomic_store_n(&te->bps[idx].enabled, !!enabled, __ATOMIC_RELEASE);
	bps_recount(te);
}

static int slot_of(struct task_entries *te, int32_t pid, enum task_role role)
{
	uint32_t i, n = __atomic_load_n(&te->nr_slots, __ATOMIC_ACQUIRE);

	for (i = 0; i < n && i < te->max_slots; i++)
		if (te->slots[i].pid == pid && te->slots[i].role == role)
			return (int)i;
	return -1;
}

/* Park at breakpoint bp: stay outstanding (nothing of the stage is done
 * yet), tell the controller through the count word's hold bit, and sleep
 * on the slot's gate until the controller opens it. */
static void hold(struct task_entries *te, int bp, enum barrier_event_type type,
		 int from, int to, int32_t pid, enum task_role role, int slot)
{
	struct task_slot *me;

	if (!slot_valid(te, slot))
		return;
	me = &te->slots[slot];
	me->held_bp = (int8_t)bp;
	me->hold_tsc = barrier_rdtsc();
	__atomic_store_n(&me->gate, 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&te->nr_held, 1, __ATOMIC_ACQ_REL);
	record_event(te, BARRIER_EV_HOLD, from, to, pid, role, slot, (uint32_t)type,
		     __atomic_load_n(&te->nr_in_progress, __ATOMIC_RELAXED), bp, NULL);
	__atomic_fetch_or(&te->nr_in_progress, BARRIER_HOLD_BIT, __ATOMIC_ACQ_REL);
	futex_wake_all(&te->nr_in_progress);
	while (__atomic_load_n(&me->gate, __ATOMIC_ACQUIRE))
		futex_wait_value(&me->gate, 1, NULL);
	me->held_bp = -1;
}

static void maybe_hold(struct task_entries *te, enum barrier_event_type type,
		       int from, int to, int32_t pid, enum task_role role, int slot)
{
	int bp;

	if (role == ROLE_CONTROLLER || !__atomic_load_n(&te->nr_bps_armed, __ATOMIC_RELAXED))
		return;
	bp = barrier_bp_match(te, type, from, to, pid);
	if (bp >= 0)
		hold(te, bp, type, from, to, pid, role, slot_valid(te, slot) ? slot : slot_of(te, pid, role));
}

/* An armed fault for (pid, stage) fires here, in the participant itself,
 * so what /proc shows of a hang or a crash is the task's own. */
static void maybe_fault(struct task_entries *te, int stage, int32_t pid, enum task_role role, int slot)
{
	uint32_t i, n = __atomic_load_n(&te->nr_faults, __ATOMIC_RELAXED);
	struct __kernel_timespec ts;
	uint64_t mask = ~0ull;
	int32_t none = 0;

	if (!n || role == ROLE_CONTROLLER)
		return;
	for (i = 0; i < n && i < BARRIER_NR_FAULTS; i++) {
		struct barrier_fault *f = &te->faults[i];

		if (f->stage != stage || (f->pid != FAULT_ANY_PID && f->pid != pid))
			continue;
		if (__atomic_fetch_add(&f->fired, 1, __ATOMIC_ACQ_REL) && f->pid == FAULT_ANY_PID)
			continue;	/* "any" fires once, in the first comer */
		if (__atomic_compare_exchange_n(&te->fault_hit.pid, &none, pid, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			te->fault_hit.kind = (int8_t)f->kind;
			te->fault_hit.stage = (int8_t)stage;
		}
		switch (f->kind) {
		case FAULT_FAIL:
			barrier_abort(te, pid, role, FAULT_ERRNO);
			for (;;)
				sysraw3(__NR_exit_group, 1, 0, 0);
		case FAULT_HANG:
			/* Every signal blocked, waiting for one: only SIGKILL ends it. */
			for (;;)
				sysraw3(__NR_rt_sigsuspend, (long)&mask, 8, 0);
		case FAULT_CRASH:
			*(volatile int *)0 = 0;
			for (;;)
				sysraw3(__NR_exit_group, 139, 0, 0);
		case FAULT_SLOW:
			ts.tv_sec = f->ms / 1000;
			ts.tv_nsec = (long long)(f->ms % 1000) * 1000000;
			sysraw3(__NR_nanosleep, (long)&ts, 0, 0);
			break;
		case FAULT_EXIT:
			for (;;)
				sysraw3(__NR_exit_group, 0, 0, 0);
		}
	}
	(void)slot;
}

void barrier_release(struct task_entries *te, int slot, int32_t controller_pid)
{
	struct task_slot *me;
	uint32_t old;

	if (!slot_valid(te, slot) || !__atomic_load_n(&te->slots[slot].gate, __ATOMIC_ACQUIRE))
		return;
	me = &te->slots[slot];
	record_event(te, BARRIER_EV_RELEASE, me->waiting_on, me->waiting_on, controller_pid,
		     ROLE_CONTROLLER, slot, 0, 0, me->held_bp, NULL);
	if (__atomic_sub_fetch(&te->nr_held, 1, __ATOMIC_ACQ_REL) == 0) {
		old = __atomic_load_n(&te->nr_in_progress, __ATOMIC_ACQUIRE);
		while (!(old & BARRIER_ABORT_BIT) &&
		       !__atomic_compare_exchange_n(&te->nr_in_progress, &old, old & ~BARRIER_HOLD_BIT,
						    0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			;
	}
	__atomic_store_n(&me->gate, 0, __ATOMIC_RELEASE);
	futex_wake_all(&me->gate);
}

void stage_fail(struct task_entries *te, int32_t performer_pid, enum task_role role)
{
	int from = __atomic_load_n(&te->start, __ATOMIC_ACQUIRE);
	uint32_t seen = __atomic_load_n(&te->nr_in_progress, __ATOMIC_ACQUIRE);

	record_event(te, BARRIER_EV_FAIL, from, CR_STATE_FAIL, performer_pid,
		     role, -1, 0, seen, 0, NULL);
	/* start is -1 before the first switch too; `failed` is what tells a
	 * count waiter that the 0 it is about to read is not a drained stage.
	 * It is stored before the count, the waiter loads it after. */
	__atomic_store_n(&te->failed, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&te->start, CR_STATE_FAIL, __ATOMIC_RELEASE);
	__atomic_store_n(&te->nr_in_progress, 0, __ATOMIC_RELEASE);
	futex_wake_all(&te->start);
	futex_wake_all(&te->nr_in_progress);
}

int stage_switch(struct task_entries *te, int stage, uint32_t count, int wake,
		 int32_t performer_pid, enum task_role role)
{
	uint32_t old;
	int from;

	if (stage == CR_STATE_FAIL) {
		stage_fail(te, performer_pid, role);
		return 0;
	}
	/* A breakpoint stops the performer before anything of the switch; a
	 * fault for the stage it leaves fires before that. */
	from = __atomic_load_n(&te->start, __ATOMIC_ACQUIRE);
	maybe_fault(te, from, performer_pid, role, -1);
	maybe_hold(te, BARRIER_EV_SWITCH, from, stage, performer_pid, role, -1);
	old = __atomic_load_n(&te->nr_in_progress, __ATOMIC_ACQUIRE);
	if (stage == CR_STATE_COMPLETE) {
		/* CRIU leaves the count alone for COMPLETE: nobody finishes it,
		 * criu catches the threads with ptrace instead. */
		if (old & BARRIER_ABORT_BIT)
			return -1;
		count = old;
	} else {
		/* A cmpxchg rather than CRIU's plain set: an abort that lands
		 * between our last look and the store must not be erased. */
		do {
			if (old & BARRIER_ABORT_BIT)
				return -1;
		} while (!__atomic_compare_exchange_n(&te->nr_in_progress, &old,
						      count | (old & BARRIER_HOLD_BIT),
						      0, __ATOMIC_ACQ_REL,
						      __ATOMIC_ACQUIRE));
	}
	from = __atomic_load_n(&te->start, __ATOMIC_ACQUIRE);
	/* Recorded before start moves: every ARRIVE at the new stage happens
	 * after a participant sees the new start, so it gets a larger seq. */
	record_event(te, BARRIER_EV_SWITCH, from, stage, performer_pid, role, -1,
		     count, old, 0, NULL);
	__atomic_store_n(&te->start, stage, __ATOMIC_RELEASE);
	if (wake)
		futex_wake_all(&te->start);
	return 0;
}

int task_finish_stage(struct task_entries *te, int stage, int slot)
{
	struct task_slot *me = slot_valid(te, slot) ? &te->slots[slot] : NULL;
	int32_t pid = me ? me->pid : 0;
	enum task_role role = me ? (enum task_role)me->role : ROLE_UNKNOWN;
	uint32_t seen;
	uint64_t tsc;
	int cur;

	/* Held before the arrival: the task stays outstanding meanwhile. */
	maybe_hold(te, BARRIER_EV_ARRIVE, stage, stage, pid, role, slot);
	maybe_fault(te, stage, pid, role, slot);
	seen = __atomic_load_n(&te->nr_in_progress, __ATOMIC_RELAXED);
	/* ARRIVE is recorded before the decrement, so it precedes (by seq) the
	 * switch out of this stage, which can only follow the decrement. */
	record_event(te, BARRIER_EV_ARRIVE, stage, stage, pid, role, slot, 0,
		     seen, 0, &tsc);
	if (me) {
		if (stage_valid(stage))
			me->arrive_tsc[stage] = tsc;
		me->stage_reached = (int8_t)stage;
		me->waiting_on = (int8_t)stage;
	}
	__atomic_sub_fetch(&te->nr_in_progress, 1, __ATOMIC_ACQ_REL);
	futex_wake_all(&te->nr_in_progress);

	/* FUTEX_WAIT sleeps only if start still equals stage, so a switch that
	 * lands between the load and the wait is never lost. */
	while ((cur = __atomic_load_n(&te->start, __ATOMIC_ACQUIRE)) == stage)
		futex_wait_value(&te->start, (uint32_t)stage, NULL);
	if (me)
		me->waiting_on = -1;
	/* Nobody finishes COMPLETE: its faults fire on the way to the final
	 * rt_sigreturn, where the controller steps the threads under ptrace. */
	if (cur == CR_STATE_COMPLETE)
		maybe_fault(te, cur, pid, role, slot);
	return cur;
}

static void deadline_after(struct __kernel_timespec *ts, uint64_t timeout_ns)
{
	uint64_t nsec;

	if (sysraw_clock_gettime(BARRIER_CLOCK_MONOTONIC, ts) < 0) {
		ts->tv_sec = 0;
		ts->tv_nsec = 0;
	}
	nsec = (uint64_t)ts->tv_nsec + timeout_ns % 1000000000ull;
	ts->tv_sec += (long long)(timeout_ns / 1000000000ull + nsec / 1000000000ull);
	ts->tv_nsec = (long long)(nsec % 1000000000ull);
}

static int wait_count(struct task_entries *te, int32_t limit, uint64_t timeout_ns, int held)
{
	struct __kernel_timespec deadline;
	int timed_out = 0;

	if (timeout_ns)
		deadline_after(&deadline, timeout_ns);
	for (;;) {
		/* Decide on one value and sleep only on that same value: if it
		 * changes in between, FUTEX_WAIT returns EAGAIN at once. */
		uint32_t value = __atomic_load_n(&te->nr_in_progress, __ATOMIC_ACQUIRE);
		long ret;

		if (value & BARRIER_ABORT_BIT)
			return BARRIER_WAIT_ABORTED;
		if (__atomic_load_n(&te->failed, __ATOMIC_ACQUIRE))
			return BARRIER_WAIT_ABORTED;
		if (held && (value & BARRIER_HOLD_BIT))
			return BARRIER_WAIT_HELD;
		if (BARRIER_COUNT(value) <= limit)
			return BARRIER_WAIT_DONE;
		if (timed_out)
			return BARRIER_WAIT_TIMEOUT;
		ret = futex_wait_value(&te->nr_in_progress, value,
				       timeout_ns ? &deadline : NULL);
		/* Check the count once more before reporting a timeout. */
		if (ret == -ETIMEDOUT)
			timed_out = 1;
	}
}

int wait_in_progress(struct task_entries *te, int32_t limit, uint64_t timeout_ns)
{
	return wait_count(te, limit, timeout_ns, 0);
}

int wait_in_progress_held(struct task_entries *te, int32_t limit, uint64_t timeout_ns)
{
	return wait_count(te, limit, timeout_ns, 1);
}

void barrier_abort(struct task_entries *te, int32_t pid, enum task_role role, int err)
{
	uint32_t seen;

	maybe_hold(te, BARRIER_EV_ABORT, te->start, te->start, pid, role, -1);
	seen = __atomic_load_n(&te->nr_in_progress, __ATOMIC_RELAXED);
	int32_t no_error = 0;

	if (err)
		__atomic_compare_exchange_n(&te->cr_err, &no_error, err, 0,
					    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
	record_event(te, BARRIER_EV_ABORT,
		     __atomic_load_n(&te->start, __ATOMIC_RELAXED),
		     __atomic_load_n(&te->start, __ATOMIC_RELAXED), pid, role, -1,
		     BARRIER_ABORT_VALUE, seen, err, NULL);
	__atomic_store_n(&te->nr_in_progress, BARRIER_ABORT_VALUE, __ATOMIC_RELEASE);
	futex_wake_all(&te->nr_in_progress);
}
