/* barrier.h: the restore stage barrier shared by the controller, the restored
 * tasks and the restorer blob, and its zero-cost recording.
 *
 * Everything here is freestanding: restore/barrier.c is compiled both into
 * crstep and into the restorer blob (-ffreestanding -nostdlib -DCR_PIE).
 *
 * The area (struct task_entries) is MAP_SHARED|MAP_ANONYMOUS memory created by
 * the controller before it forks the root; every task inherits it and the
 * restorer keeps it mapped to the end.  The futex words are used with plain
 * FUTEX_WAIT/FUTEX_WAKE (no FUTEX_PRIVATE_FLAG) because the waiters are
 * different processes, as in CRIU's include/common/lock.h.
 *
 * Recording (slots and the event ring) is plain stores plus one atomic
 * fetch-add: no syscall, no wake-up.  Timestamps are raw TSC values
 * (lfence; rdtsc).  Why TSC and not clock_gettime: clock_gettime inside the
 * restorer would be a syscall (there is no vDSO in the blob), and the tasks
 * live in their own time namespace, whose CLOCK_MONOTONIC is offset from the
 * controller's.  The TSC is the same counter for every process on the machine
 * (constant_tsc/nonstop_tsc; time namespaces do not offset it).  The
 * controller takes (tsc, CLOCK_MONOTONIC) samples at restore start
 * (task_entries.clock_start) and again when it reads, and converts linearly
 * (see clock.h). */
#ifndef CRSTEP_BARRIER_H
#define CRSTEP_BARRIER_H

#include <stdint.h>
#include <stddef.h>

#include "clock.h"

/* Restore stages, CRIU's CR_STATE_* with the S26 numbering (PRE_RESTORER
 * always present; variants that do not use it skip it).  Internal only: no
 * image stores these numbers. */
enum cr_stage {
	CR_STATE_FAIL = -1,
	CR_STATE_ROOT_TASK = 0,
	CR_STATE_PREPARE_NAMESPACES = 1,
	CR_STATE_FORKING = 2,
	CR_STATE_PRE_RESTORER = 3,
	CR_STATE_RESTORE = 4,
	CR_STATE_RESTORE_SIGCHLD = 5,
	CR_STATE_RESTORE_CREDS = 6,
	CR_STATE_COMPLETE = 7,
	CR_STATE_NR = 8,
};

/* Who a participant (or a recorded event's writer) is. */
enum task_role {
	ROLE_CONTROLLER = 0,	/* the crstep process, criu's part */
	ROLE_ROOT = 1,		/* the root task (its main thread) */
	ROLE_TASK = 2,		/* any other live process (its main thread) */
	ROLE_THREAD = 3,	/* a non-main thread of a live process */
	ROLE_HELPER = 4,	/* a stand-in session/group leader */
	ROLE_ZOMBIE = 5,	/* forked, then exits with its saved code */
	ROLE_NR = 6,
	ROLE_UNKNOWN = 255,
};

#define ROLE_BIT(role) (1u << (role))

/* nr_in_progress bit 31: the abort flag (CRIU's futex_abort_and_wake writes
 * 0xFFFFFFFF, which has it set). */
#define BARRIER_ABORT_BIT 0x80000000u
#define BARRIER_ABORT_VALUE 0xFFFFFFFFu

#define BARRIER_RING_SIZE 4096	/* events kept; must be a power of two */

enum barrier_event_type {
	BARRIER_EV_NONE = 0,
	BARRIER_EV_ARRIVE = 1,	/* a participant finished stage_from */
	BARRIER_EV_SWITCH = 2,	/* start: stage_from -> stage_to */
	BARRIER_EV_ABORT = 3,	/* abort bit set; err = the errno reported */
	BARRIER_EV_FAIL = 4,	/* start -> CR_STATE_FAIL */
	BARRIER_EV_HOLD = 5,	/* reserved: parked at a breakpoint gate */
	BARRIER_EV_RELEASE = 6,	/* reserved: gate opened */
	BARRIER_EV_NR = 7,
};

/* One recorded event.  seq is 1-based and written last (release); 0 while
 * the entry is being (re)written, so a reader can tell a torn entry. */
struct barrier_event {
	uint64_t seq;
	uint64_t tsc;
	int32_t pid;		/* the writer's pid as it sees it (image pid) */
	uint32_t count_set;	/* SWITCH/FAIL: nr_in_progress written */
	uint32_t count_seen;	/* nr_in_progress before the write / after the decrement */
	int32_t err;		/* ABORT: the errno reported */
	uint16_t type;		/* enum barrier_event_type */
	int8_t stage_from;	/* ARRIVE: the stage finished; SWITCH/FAIL: old start */
	int8_t stage_to;	/* ARRIVE: same; SWITCH/FAIL: new start */
	uint8_t role;		/* enum task_role */
	int32_t slot;		/* the writer's slot, -1 if none */
};

/* One participant, filled (pid, role) by the controller before it forks. */
struct task_slot {
	int32_t pid;		/* image pid (the pid the task sees) */
	uint8_t role;		/* enum task_role */
	int8_t stage_reached;	/* last stage finished, -1 before the first */
	int8_t waiting_on;	/* stage it sleeps on in task_finish_stage, -1 if not */
	int8_t held_bp;		/* breakpoint it is parked at, -1 if none */
	uint32_t gate;		/* futex: non-zero while parked at a breakpoint */
	int32_t host_pid;	/* the task as crstep sees it, 0 until known */
	uint64_t arrive_tsc[CR_STATE_NR];	/* TSC of each ARRIVE, 0 if none */
	uint64_t hold_tsc;	/* when it parked */
};

/* Breakpoints live in the shared area and are checked by whoever reaches
 * them: the performer of a switch (the root or the controller), any task
 * or thread for an arrival.  With none enabled the check is one load. */
enum barrier_bp_kind {
	BP_NONE = 0,
	BP_SWITCH = 1,		/* a switch into `to` (from `from`, or any if -1) */
	BP_ARRIVE = 2,		/* task `pid` (0: any) about to finish `to` (-1: any) */
	BP_ABORT = 3,		/* anyone aborts */
	BP_ANY_EVENT = 4,	/* the next arrival or switch (step) */
	BP_ANY_SWITCH = 5,	/* the next switch (next) */
};

#define BARRIER_NR_BPS 32

struct barrier_bp {
	uint8_t kind;		/* enum barrier_bp_kind */
	uint8_t enabled;
	int8_t from, to;
	int32_t pid;
	uint32_t hits;
};

/* Fault injection (--inject): checked, like breakpoints, by the
 * participant itself when it is done with a stage (about to arrive, or about
 * to switch out of it as the root); one load when none is armed. */
enum barrier_fault_kind {
	FAULT_NONE = 0,
	FAULT_FAIL = 1,		/* report an error: the abort path */
	FAULT_HANG = 2,		/* block in a real syscall that never returns */
	FAULT_CRASH = 3,	/* die by SIGSEGV */
	FAULT_SLOW = 4,		/* arrive ms milliseconds late */
	FAULT_EXIT = 5,		/* exit 0 unexpectedly */
};

#define BARRIER_NR_FAULTS 16
#define FAULT_ANY_PID 0
#define FAULT_ERRNO 5		/* EIO: what an injected failure reports */

struct barrier_fault {
	uint8_t kind;		/* enum barrier_fault_kind */
	int8_t stage;		/* the stage it fires at */
	int32_t pid;		/* image pid or tid, FAULT_ANY_PID for any */
	uint32_t ms;		/* FAULT_SLOW */
	uint32_t fired;		/* times it fired */
};

/* nr_in_progress bit 30: a participant is parked at a breakpoint gate.  It
 * wakes the controller's count wait without changing the count itself. */
#define BARRIER_HOLD_BIT 0x40000000u
#define BARRIER_COUNT(v) ((int32_t)((v) & ~BARRIER_HOLD_BIT))

struct task_entries {
	int32_t start;			/* futex: current stage, -1 initially */
	uint32_t nr_in_progress;	/* futex: unfinished participants; bit 31 abort */
	uint32_t nr_threads;		/* every thread of every task, zombies included */
	uint32_t nr_tasks;		/* pstree entries, zombies included */
	uint32_t nr_helpers;
	uint32_t nr_zombies;
	int32_t cr_err;			/* first errno a task reports, 0 if none */
	uint32_t failed;		/* set by stage_fail before start/count move */
	uint32_t nr_slots;		/* slots handed out by task_slot_assign */
	uint32_t max_slots;		/* room in slots[]: every task and thread of the tree */
	uint64_t event_next;		/* last event seq handed out */
	struct clock_sample clock_start;
	uint32_t nr_bps_armed;		/* enabled breakpoints: 0 = the fast path */
	uint32_t nr_held;		/* participants parked at a gate */
	struct barrier_bp bps[BARRIER_NR_BPS];
	uint32_t nr_faults;		/* armed faults: 0 = the fast path */
	struct barrier_fault faults[BARRIER_NR_FAULTS];
	struct {			/* the first fault that fired */
		int32_t pid;
		int8_t kind, stage;
	} fault_hit;
	struct barrier_event events[BARRIER_RING_SIZE];
	/* Last, as many as the tree has participants: no fixed limit. */
	struct task_slot slots[];
};

/* The size of an area with room for max_slots participants. */
static inline size_t task_entries_size(uint32_t max_slots)
{
	return offsetof(struct task_entries, slots) + (size_t)max_slots * sizeof(struct task_slot);
}

/* wait_in_progress() results. */
#define BARRIER_WAIT_DONE 0
#define BARRIER_WAIT_ABORTED (-1)
#define BARRIER_WAIT_TIMEOUT 1
#define BARRIER_WAIT_HELD 2	/* wait_in_progress_held(): someone parked */

/* TSC read for timestamps (clock.h). */
static inline uint64_t barrier_rdtsc(void)
{
	return clock_rdtsc();
}

/* Area lifetime.  task_entries_create() mmaps a zeroed shared area with
 * room for max_slots participants and runs task_entries_init(); returns 0
 * or -errno.  task_entries_init() may also be used on any zeroed memory of
 * task_entries_size(max_slots) bytes. */
int task_entries_create(struct task_entries **out, uint32_t max_slots);
void task_entries_destroy(struct task_entries *te);
void task_entries_init(struct task_entries *te, uint32_t max_slots);

/* Controller, before forking: hand out the next slot.  Returns its index, or
 * -1 when all max_slots are taken. */
int task_slot_assign(struct task_entries *te, int32_t pid, enum task_role role);

/* Set nr_in_progress = count (not for CR_STATE_COMPLETE, whose count is left
 * alone), then start = stage, then FUTEX_WAKE start if wake.  Records SWITCH.
 * Refuses (returns -1, switches nothing) when the abort bit is already set,
 * so a late switch never hides an abort; otherwise 0.  stage ==
 * CR_STATE_FAIL is stage_fail(). */
int stage_switch(struct task_entries *te, int stage, uint32_t count, int wake,
		 int32_t performer_pid, enum task_role role);

/* A participant finishes stage: record ARRIVE, decrement nr_in_progress and
 * wake its waiters, then sleep while start == stage.  Returns the new start
 * (negative on FAIL).  As CRIU's restore_finish_stage: no timeout, and an
 * abort alone does not wake it (stage_fail does). */
int task_finish_stage(struct task_entries *te, int stage, int slot);

/* Wait until (int32_t)nr_in_progress <= limit.  Returns BARRIER_WAIT_DONE,
 * BARRIER_WAIT_ABORTED if the abort bit is set or start is FAIL, or
 * BARRIER_WAIT_TIMEOUT after timeout_ns (0 = no timeout). */
int wait_in_progress(struct task_entries *te, int32_t limit, uint64_t timeout_ns);

/* The controller's wait: as wait_in_progress(), but it also returns
 * BARRIER_WAIT_HELD as soon as a participant parks at a breakpoint. */
int wait_in_progress_held(struct task_entries *te, int32_t limit, uint64_t timeout_ns);

/* The breakpoint a (type, from, to, pid) event matches, or -1.  Bumps its
 * hit count.  Used by the participants (inside stage_switch and
 * task_finish_stage) and by the controller for its own switches. */
int barrier_bp_match(struct task_entries *te, enum barrier_event_type type,
		     int from, int to, int32_t pid);
/* Controller: arm or disarm breakpoint idx (keeps nr_bps_armed). */
void barrier_bp_set(struct task_entries *te, int idx, enum barrier_bp_kind kind,
		    int from, int to, int32_t pid);
void barrier_bp_enable(struct task_entries *te, int idx, int enabled);
/* Controller: open the gate of the participant parked in slot. */
void barrier_release(struct task_entries *te, int slot, int32_t controller_pid);

/* Set the abort bit (count = 0xFFFFFFFF), keep err in cr_err if it is the
 * first error, wake the count waiters, record ABORT. */
void barrier_abort(struct task_entries *te, int32_t pid, enum task_role role, int err);

/* start = CR_STATE_FAIL, nr_in_progress = 0, wake start and count waiters,
 * record FAIL. */
void stage_fail(struct task_entries *te, int32_t performer_pid, enum task_role role);

/* Recording, usable by other barrier-like code (breakpoint gates).  Plain
 * stores and one fetch-add; returns the event's seq. */
uint64_t barrier_record(struct task_entries *te, enum barrier_event_type type,
			int stage_from, int stage_to, int32_t pid,
			enum task_role role, int slot, uint32_t count_set,
			uint32_t count_seen, int32_t err);

/* Readers.  barrier_events_written(): the last seq handed out (events
 * 1..that were started; the oldest BARRIER_RING_SIZE are kept).
 * barrier_event_read(): copy event seq into *out; 0 on success, -1 if it is
 * not published yet or was overwritten by a newer one. */
uint64_t barrier_events_written(const struct task_entries *te);
int barrier_event_read(const struct task_entries *te, uint64_t seq,
		       struct barrier_event *out);

#endif
