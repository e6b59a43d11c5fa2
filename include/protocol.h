/* protocol.h: CRIU's restore stage protocol as one table, with named variants.
 *
 * One row per stage and variant says: who switches into the stage and whether
 * that switch wakes the `start` sleepers, how many participants the count is
 * set to, which roles finish (decrement) the stage, and who waits for the
 * count to drain before the switch out of it, down to which limit.  Every
 * other module asks these accessors; nobody writes `if (variant == ...)`.
 * The facts come from CRIU's cr-restore.c (see
 * reference/criu-facts.md section 1.4 and the comments in restore/protocol.c).
 */
#ifndef CRSTEP_PROTOCOL_H
#define CRSTEP_PROTOCOL_H

#include <stdbool.h>
#include <stdint.h>

#include "barrier.h"

enum proto_variant {
	PROTO_LEGACY = 0,	/* CRIU before 2017: the controller switches all */
	PROTO_SEED = 1,		/* "restore: Relax the FORKING stage" (3bd08b770) */
	PROTO_CRIU4 = 2,	/* + root bypasses the NS stages (4a83e2978), S25 */
	PROTO_PRE_RESTORER = 3,	/* + CR_STATE_PRE_RESTORER, S26 */
	PROTO_NR = 4,
};

#define PROTO_DEFAULT PROTO_CRIU4

/* Who performs a switch or a drain wait.  The values are task_role values so
 * a performer can be recorded as a role. */
enum performer {
	PERFORMER_NONE = -1,
	PERFORMER_CONTROLLER = ROLE_CONTROLLER,
	PERFORMER_ROOT = ROLE_ROOT,
};

/* What nr_in_progress is set to when a stage is entered. */
enum participant_count {
	COUNT_ONE,			/* the root alone */
	COUNT_PROCESSES,		/* nr_tasks + nr_helpers */
	COUNT_THREADS_AND_HELPERS,	/* nr_threads + nr_helpers */
	COUNT_LIVE_THREADS,		/* nr_threads after the zombies are removed */
	COUNT_UNCHANGED,		/* COMPLETE: left as it is */
};

/* Roles that finish (decrement) a stage, as ROLE_BIT()s. */
#define FINISH_NONE 0u
#define FINISH_ROOT ROLE_BIT(ROLE_ROOT)
#define FINISH_NON_ROOT_PROCESSES \
	(ROLE_BIT(ROLE_TASK) | ROLE_BIT(ROLE_HELPER) | ROLE_BIT(ROLE_ZOMBIE))
#define FINISH_ALL_THREADS \
	(ROLE_BIT(ROLE_ROOT) | ROLE_BIT(ROLE_TASK) | ROLE_BIT(ROLE_THREAD) | \
	 ROLE_BIT(ROLE_HELPER) | ROLE_BIT(ROLE_ZOMBIE))
#define FINISH_LIVE_THREADS \
	(ROLE_BIT(ROLE_ROOT) | ROLE_BIT(ROLE_TASK) | ROLE_BIT(ROLE_THREAD))

struct stage_rule {
	bool used;			/* false: this variant skips the stage */
	enum performer switcher;	/* who switches INTO the stage */
	bool wake;			/* the switch wakes `start` (false: CRIU's _nw) */
	enum participant_count count;	/* nr_in_progress set at the switch */
	uint32_t finishers;		/* ROLE_BIT()s that decrement it */
	enum performer drain_waiter;	/* waits for the count before the switch out */
	int32_t drain_limit;		/* ... until (int32)nr_in_progress <= this */
	bool drop_zombie_threads;	/* the switcher does nr_threads -= nr_zombies first */
	bool root_waits_own_threads;	/* the root, before finishing, waits until
					   nr_in_progress <= its own threads (S25:
					   the root enters its restorer last) */
	const char *why;		/* one line: the CRIU behaviour mirrored */
};

struct protocol {
	enum proto_variant variant;
	const char *name;		/* as given to --protocol */
	const char *summary;
	struct stage_rule rules[CR_STATE_NR];	/* indexed by enum cr_stage */
};

const struct protocol *protocol_get(enum proto_variant variant);
int protocol_by_name(const char *name);		/* enum proto_variant or -1 */
const char *protocol_name(enum proto_variant variant);	/* NULL if out of range */

/* "FAIL", "ROOT_TASK", ...; "none"/"?" never: NULL if out of range. */
const char *stage_name(int stage);
int stage_by_name(const char *name);		/* case-insensitive; -2 if unknown
						   (-1 is CR_STATE_FAIL) */
#define STAGE_UNKNOWN (-2)

const char *role_name(int role);		/* "controller", "root", ... */
const char *barrier_event_type_name(int type);	/* "ARRIVE", "SWITCH", ... */

/* The rule of stage in p, NULL if the variant skips it or it is out of range. */
const struct stage_rule *protocol_rule(const struct protocol *p, int stage);

/* The stage after stage in p's sequence.  CR_STATE_FAIL (the initial start)
 * gives the first stage; COMPLETE gives CR_STATE_NR (nothing follows). */
int protocol_next_stage(const struct protocol *p, int stage);
int protocol_first_stage(const struct protocol *p);
/* Number of stages p uses, and them in order into stages[CR_STATE_NR]. */
int protocol_sequence(const struct protocol *p, int stages[CR_STATE_NR]);

enum performer protocol_switcher(const struct protocol *p, int stage);
bool protocol_switch_wakes(const struct protocol *p, int stage);
/* Who waits for stage to drain (PERFORMER_NONE if nobody) and to what limit. */
enum performer protocol_drain_waiter(const struct protocol *p, int stage,
				     int32_t *limit);
bool protocol_role_finishes(const struct protocol *p, int stage, enum task_role role);

/* nr_in_progress to set when switching into stage, from te's counts.  For
 * COUNT_LIVE_THREADS it is nr_threads as it stands: the switcher removes the
 * zombies first (drop_zombie_threads), as criu does before RESTORE_SIGCHLD.
 * For COMPLETE the current count (which stage_switch leaves alone). */
uint32_t stage_participants(const struct protocol *p, int stage,
			    const struct task_entries *te);

#endif
