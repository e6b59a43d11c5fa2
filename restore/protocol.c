/* protocol.c: the stage protocol table and its accessors.
 *
 * Reading a row: the switcher sets nr_in_progress to `count` and start to the
 * stage (waking `start` sleepers if `wake`); the roles in `finishers` each
 * decrement once; `drain_waiter` waits until nr_in_progress <= drain_limit
 * and then the switcher of the next stage switches.  CTL = the controller
 * (criu's part), ROOT = the root task.
 *
 * legacy and seed model CRIU before the 2017 series ("restore: Bypass sync
 * points of NS-related stages when not needed"): criu switched ROOT_TASK
 * (_nw, just before cloning the root: nobody sleeps on start yet) and
 * PREPARE_NAMESPACES itself and waited for each to drain to 0; the root
 * finished both, whether namespaces were restored or not.  crstep restores no
 * namespaces, but these variants keep those two sync points to show their
 * cost.  In legacy the root also finishes FORKING like every task and criu
 * waits for 0 and switches RESTORE; the seed patch makes the root keep its
 * FORKING share, wait for <= 1 and switch RESTORE itself.  Whether the seed
 * already had the root's second wait inside RESTORE (S25's
 * restore_wait_other_tasks in sigreturn_restore) is not established, so only
 * criu4 has it (root_waits_own_threads).
 *
 * In criu4 and pre-restorer the controller's drain wait for RESTORE starts
 * right after it clones the root: the count never reaches 0 before RESTORE
 * ends because the root keeps its share of every earlier stage and
 * overwrites the count at each of its switches. */
#include <stddef.h>
#include <strings.h>

#include "protocol.h"

#define CTL PERFORMER_CONTROLLER
#define ROOT PERFORMER_ROOT
#define NOBODY PERFORMER_NONE

/* The stages after RESTORE are the same in every variant: criu switches them,
 * every live thread finishes them, criu waits for 0 (none for COMPLETE). */
#define LATE_STAGES							\
	[CR_STATE_RESTORE_SIGCHLD] = {					\
		.used = true, .switcher = CTL, .wake = true,		\
		.count = COUNT_LIVE_THREADS,				\
		.finishers = FINISH_LIVE_THREADS,			\
		.drain_waiter = CTL, .drain_limit = 0,			\
		.drop_zombie_threads = true,				\
		.why = "criu drops the zombies' threads from nr_threads, " \
		       "switches and waits; every live thread restores SIGCHLD", \
	},								\
	[CR_STATE_RESTORE_CREDS] = {					\
		.used = true, .switcher = CTL, .wake = true,		\
		.count = COUNT_LIVE_THREADS,				\
		.finishers = FINISH_LIVE_THREADS,			\
		.drain_waiter = CTL, .drain_limit = 0,			\
		.why = "criu switches after attaching ptrace and waits; "	\
		       "every live thread restores seccomp and creds",	\
	},								\
	[CR_STATE_COMPLETE] = {						\
		.used = true, .switcher = CTL, .wake = true,		\
		.count = COUNT_UNCHANGED, .finishers = FINISH_NONE,	\
		.drain_waiter = NOBODY, .drain_limit = 0,		\
		.why = "criu wakes the threads (count untouched) and "	\
		       "stops them at their final rt_sigreturn",	\
	}

/* Before the 2017 series (legacy, seed): criu switches ROOT_TASK and
 * PREPARE_NAMESPACES, the root finishes them, criu waits for each drain. */
#define CONTROLLER_EARLY_STAGES	\
	[CR_STATE_ROOT_TASK] = {					\
		.used = true, .switcher = CTL, .wake = false,		\
		.count = COUNT_ONE, .finishers = FINISH_ROOT,		\
		.drain_waiter = CTL, .drain_limit = 0,			\
		.why = "criu switches _nw before cloning the root, "	\
		       "the root finishes it, criu waits for 0",	\
	},								\
	[CR_STATE_PREPARE_NAMESPACES] = {				\
		.used = true, .switcher = CTL, .wake = true,		\
		.count = COUNT_ONE, .finishers = FINISH_ROOT,		\
		.drain_waiter = CTL, .drain_limit = 0,			\
		.why = "criu switches and waits; the root finishes it",	\
	}

/* No namespaces restored (criu4, pre-restorer; "Bypass sync points of
 * NS-related stages"): the root switches PREPARE_NAMESPACES and FORKING
 * itself, with no wake. */
#define ROOT_DRIVEN_EARLY_STAGES	\
	[CR_STATE_ROOT_TASK] = {					\
		.used = true, .switcher = CTL, .wake = false,		\
		.count = COUNT_ONE, .finishers = FINISH_NONE,		\
		.drain_waiter = NOBODY, .drain_limit = 0,		\
		.why = "criu switches _nw before cloning the root and "	\
		       "sleeps on the count until RESTORE drains",	\
	},								\
	[CR_STATE_PREPARE_NAMESPACES] = {				\
		.used = true, .switcher = ROOT, .wake = false,		\
		.count = COUNT_ONE, .finishers = FINISH_NONE,		\
		.drain_waiter = NOBODY, .drain_limit = 0,		\
		.why = "the root switches _nw without waiting "		\
		       "(no namespace sync point needed)",		\
	},								\
	[CR_STATE_FORKING] = {						\
		.used = true, .switcher = ROOT, .wake = false,		\
		.count = COUNT_PROCESSES,				\
		.finishers = FINISH_NON_ROOT_PROCESSES,			\
		.drain_waiter = ROOT, .drain_limit = 1,			\
		.why = "the root switches _nw, forks, keeps its share "	\
		       "and waits for <= 1",				\
	}

static const struct protocol protocols[PROTO_NR] = {
	[PROTO_LEGACY] = {
		.variant = PROTO_LEGACY,
		.name = "legacy",
		.summary = "the controller switches every stage (CRIU before 2017)",
		.rules = {
			CONTROLLER_EARLY_STAGES,
			[CR_STATE_FORKING] = {
				.used = true, .switcher = CTL, .wake = true,
				.count = COUNT_PROCESSES,
				.finishers = FINISH_ROOT | FINISH_NON_ROOT_PROCESSES,
				.drain_waiter = CTL, .drain_limit = 0,
				.why = "criu switches and waits for 0; every process, "
				       "the root included, finishes after forking",
			},
			[CR_STATE_RESTORE] = {
				.used = true, .switcher = CTL, .wake = true,
				.count = COUNT_THREADS_AND_HELPERS,
				.finishers = FINISH_ALL_THREADS,
				.drain_waiter = CTL, .drain_limit = 0,
				.why = "criu switches and waits; every thread, helper "
				       "and zombie finishes",
			},
			LATE_STAGES,
		},
	},
	[PROTO_SEED] = {
		.variant = PROTO_SEED,
		.name = "seed",
		.summary = "the root switches FORKING->RESTORE "
			   "(\"restore: Relax the FORKING stage\", 2017)",
		.rules = {
			CONTROLLER_EARLY_STAGES,
			[CR_STATE_FORKING] = {
				.used = true, .switcher = CTL, .wake = true,
				.count = COUNT_PROCESSES,
				.finishers = FINISH_NON_ROOT_PROCESSES,
				.drain_waiter = ROOT, .drain_limit = 1,
				.why = "criu switches and goes to sleep on the count; "
				       "the root keeps its share and waits for <= 1",
			},
			[CR_STATE_RESTORE] = {
				.used = true, .switcher = ROOT, .wake = true,
				.count = COUNT_THREADS_AND_HELPERS,
				.finishers = FINISH_ALL_THREADS,
				.drain_waiter = CTL, .drain_limit = 0,
				.why = "the root switches (saves a root->criu->root "
				       "round trip); criu wakes when it drains",
			},
			LATE_STAGES,
		},
	},
	[PROTO_CRIU4] = {
		.variant = PROTO_CRIU4,
		.name = "criu4",
		.summary = "the root also switches ROOT_TASK->PREPARE_NAMESPACES->"
			   "FORKING (no namespaces restored; CRIU 3.x/4.x)",
		.rules = {
			ROOT_DRIVEN_EARLY_STAGES,
			[CR_STATE_RESTORE] = {
				.used = true, .switcher = ROOT, .wake = true,
				.count = COUNT_THREADS_AND_HELPERS,
				.finishers = FINISH_ALL_THREADS,
				.drain_waiter = CTL, .drain_limit = 0,
				.root_waits_own_threads = true,
				.why = "the root switches; it enters its restorer last "
				       "(waits for <= its own threads); criu wakes at 0",
			},
			LATE_STAGES,
		},
	},
	[PROTO_PRE_RESTORER] = {
		.variant = PROTO_PRE_RESTORER,
		.name = "pre-restorer",
		.summary = "criu4 plus PRE_RESTORER between FORKING and RESTORE, "
			   "switched by the root (CRIU 2026)",
		.rules = {
			ROOT_DRIVEN_EARLY_STAGES,
			[CR_STATE_PRE_RESTORER] = {
				.used = true, .switcher = ROOT, .wake = true,
				.count = COUNT_PROCESSES,
				.finishers = FINISH_NON_ROOT_PROCESSES,
				.drain_waiter = ROOT, .drain_limit = 1,
				.why = "the root switches; tasks finish before their "
				       "restorer, the root waits for <= 1 (asyncd gone "
				       "before any thread is cloned)",
			},
			[CR_STATE_RESTORE] = {
				.used = true, .switcher = ROOT, .wake = true,
				.count = COUNT_THREADS_AND_HELPERS,
				.finishers = FINISH_ALL_THREADS,
				.drain_waiter = CTL, .drain_limit = 0,
				.why = "the root switches; every task enters its "
				       "restorer at once; criu wakes at 0",
			},
			LATE_STAGES,
		},
	},
};

static const char *const stage_names[CR_STATE_NR] = {
	[CR_STATE_ROOT_TASK] = "ROOT_TASK",
	[CR_STATE_PREPARE_NAMESPACES] = "PREPARE_NAMESPACES",
	[CR_STATE_FORKING] = "FORKING",
	[CR_STATE_PRE_RESTORER] = "PRE_RESTORER",
	[CR_STATE_RESTORE] = "RESTORE",
	[CR_STATE_RESTORE_SIGCHLD] = "RESTORE_SIGCHLD",
	[CR_STATE_RESTORE_CREDS] = "RESTORE_CREDS",
	[CR_STATE_COMPLETE] = "COMPLETE",
};

static const char *const role_names[ROLE_NR] = {
	[ROLE_CONTROLLER] = "controller",
	[ROLE_ROOT] = "root",
	[ROLE_TASK] = "task",
	[ROLE_THREAD] = "thread",
	[ROLE_HELPER] = "helper",
	[ROLE_ZOMBIE] = "zombie",
};

static const char *const event_type_names[BARRIER_EV_NR] = {
	[BARRIER_EV_NONE] = "NONE",
	[BARRIER_EV_ARRIVE] = "ARRIVE",
	[BARRIER_EV_SWITCH] = "SWITCH",
	[BARRIER_EV_ABORT] = "ABORT",
	[BARRIER_EV_FAIL] = "FAIL",
	[BARRIER_EV_HOLD] = "HOLD",
	[BARRIER_EV_RELEASE] = "RELEASE",
};

const struct protocol *protocol_get(enum proto_variant variant)
{
	if ((int)variant < 0 || variant >= PROTO_NR)
		return NULL;
	return &protocols[variant];
}

int protocol_by_name(const char *name)
{
	int i;

	for (i = 0; name && i < PROTO_NR; i++)
		if (!strcasecmp(name, protocols[i].name))
			return i;
	return -1;
}

const char *protocol_name(enum proto_variant variant)
{
	const struct protocol *p = protocol_get(variant);

	return p ? p->name : NULL;
}

const char *stage_name(int stage)
{
	if (stage == CR_STATE_FAIL)
		return "FAIL";
	if (stage < 0 || stage >= CR_STATE_NR)
		return NULL;
	return stage_names[stage];
}

int stage_by_name(const char *name)
{
	int stage;

	if (!name)
		return STAGE_UNKNOWN;
	for (stage = CR_STATE_FAIL; stage < CR_STATE_NR; stage++)
		if (!strcasecmp(name, stage_name(stage)))
			return stage;
	return STAGE_UNKNOWN;
}

const char *role_name(int role)
{
	if (role < 0 || role >= ROLE_NR)
		return "unknown";
	return role_names[role];
}

const char *barrier_event_type_name(int type)
{
	if (type < 0 || type >= BARRIER_EV_NR)
		return "UNKNOWN";
	return event_type_names[type];
}

const struct stage_rule *protocol_rule(const struct protocol *p, int stage)
{
	if (!p || stage < 0 || stage >= CR_STATE_NR || !p->rules[stage].used)
		return NULL;
	return &p->rules[stage];
}

int protocol_next_stage(const struct protocol *p, int stage)
{
	int next;

	if (stage < CR_STATE_FAIL)
		return CR_STATE_NR;
	for (next = stage + 1; next < CR_STATE_NR; next++)
		if (protocol_rule(p, next))
			return next;
	return CR_STATE_NR;
}

int protocol_first_stage(const struct protocol *p)
{
	return protocol_next_stage(p, CR_STATE_FAIL);
}

int protocol_sequence(const struct protocol *p, int stages[CR_STATE_NR])
{
	int n = 0, stage;

	for (stage = protocol_first_stage(p); stage < CR_STATE_NR;
	     stage = protocol_next_stage(p, stage))
		stages[n++] = stage;
	return n;
}

enum performer protocol_switcher(const struct protocol *p, int stage)
{
	const struct stage_rule *rule = protocol_rule(p, stage);

	return rule ? rule->switcher : PERFORMER_NONE;
}

bool protocol_switch_wakes(const struct protocol *p, int stage)
{
	const struct stage_rule *rule = protocol_rule(p, stage);

	return rule && rule->wake;
}

enum performer protocol_drain_waiter(const struct protocol *p, int stage,
				     int32_t *limit)
{
	const struct stage_rule *rule = protocol_rule(p, stage);

	if (limit)
		*limit = rule ? rule->drain_limit : 0;
	return rule ? rule->drain_waiter : PERFORMER_NONE;
}

bool protocol_role_finishes(const struct protocol *p, int stage, enum task_role role)
{
	const struct stage_rule *rule = protocol_rule(p, stage);

	if (!rule || (int)role < 0 || role >= ROLE_NR)
		return false;
	return rule->finishers & ROLE_BIT(role);
}

uint32_t stage_participants(const struct protocol *p, int stage,
			    const struct task_entries *te)
{
	const struct stage_rule *rule;

	if (stage == CR_STATE_FAIL)
		return 0;
	rule = protocol_rule(p, stage);
	if (!rule)
		return 0;
	switch (rule->count) {
	case COUNT_ONE:
		return 1;
	case COUNT_PROCESSES:
		return te->nr_tasks + te->nr_helpers;
	case COUNT_THREADS_AND_HELPERS:
		return te->nr_threads + te->nr_helpers;
	case COUNT_LIVE_THREADS:
		return te->nr_threads;
	case COUNT_UNCHANGED:
		return __atomic_load_n(&te->nr_in_progress, __ATOMIC_ACQUIRE);
	}
	return 0;
}
