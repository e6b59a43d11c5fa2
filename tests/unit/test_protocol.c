/* test_protocol.c: the stage protocol table against criu-facts section 1.4:
 * stage sequences, who switches, wakes, participants, drain waits, names. */
#include <string.h>

#include "barrier.h"
#include "protocol.h"
#include "tap.h"

#define C PERFORMER_CONTROLLER
#define R PERFORMER_ROOT
#define X PERFORMER_NONE	/* stage not used by the variant */

/* Written out independently of restore/protocol.c, from the brief and
 * criu-facts 1.4: index = stage ROOT_TASK..COMPLETE. */
static const int expected_switcher[PROTO_NR][CR_STATE_NR] = {
	[PROTO_LEGACY] = { C, C, C, X, C, C, C, C },
	[PROTO_SEED] = { C, C, C, X, R, C, C, C },
	[PROTO_CRIU4] = { C, R, R, X, R, C, C, C },
	[PROTO_PRE_RESTORER] = { C, R, R, R, R, C, C, C },
};

static const int expected_wake[PROTO_NR][CR_STATE_NR] = {
	[PROTO_LEGACY] = { 0, 1, 1, 0, 1, 1, 1, 1 },
	[PROTO_SEED] = { 0, 1, 1, 0, 1, 1, 1, 1 },
	[PROTO_CRIU4] = { 0, 0, 0, 0, 1, 1, 1, 1 },
	[PROTO_PRE_RESTORER] = { 0, 0, 0, 1, 1, 1, 1, 1 },
};

/* Does the root decrement the stage? */
static const int expected_root_finishes[PROTO_NR][CR_STATE_NR] = {
	[PROTO_LEGACY] = { 1, 1, 1, 0, 1, 1, 1, 0 },
	[PROTO_SEED] = { 1, 1, 0, 0, 1, 1, 1, 0 },
	[PROTO_CRIU4] = { 0, 0, 0, 0, 1, 1, 1, 0 },
	[PROTO_PRE_RESTORER] = { 0, 0, 0, 0, 1, 1, 1, 0 },
};

static void test_sequences(void)
{
	static const int plain[] = {
		CR_STATE_ROOT_TASK, CR_STATE_PREPARE_NAMESPACES, CR_STATE_FORKING,
		CR_STATE_RESTORE, CR_STATE_RESTORE_SIGCHLD, CR_STATE_RESTORE_CREDS,
		CR_STATE_COMPLETE,
	};
	static const int with_pre[] = {
		CR_STATE_ROOT_TASK, CR_STATE_PREPARE_NAMESPACES, CR_STATE_FORKING,
		CR_STATE_PRE_RESTORER, CR_STATE_RESTORE, CR_STATE_RESTORE_SIGCHLD,
		CR_STATE_RESTORE_CREDS, CR_STATE_COMPLETE,
	};
	int v;

	for (v = 0; v < PROTO_NR; v++) {
		const struct protocol *p = protocol_get(v);
		const int *want = v == PROTO_PRE_RESTORER ? with_pre : plain;
		int n_want = v == PROTO_PRE_RESTORER ? 8 : 7;
		int seq[CR_STATE_NR], n = protocol_sequence(p, seq);

		ok(p && p->variant == (enum proto_variant)v, "%s: table row is its own variant",
		   protocol_name(v));
		ok(n == n_want && !memcmp(seq, want, n * sizeof(int)),
		   "%s: stage sequence (%d stages)", p->name, n);
		ok(protocol_first_stage(p) == CR_STATE_ROOT_TASK &&
		   protocol_next_stage(p, CR_STATE_FAIL) == CR_STATE_ROOT_TASK,
		   "%s: the first stage after the initial -1 is ROOT_TASK", p->name);
		ok(protocol_next_stage(p, CR_STATE_COMPLETE) == CR_STATE_NR,
		   "%s: nothing follows COMPLETE", p->name);
	}
	ok(protocol_next_stage(protocol_get(PROTO_CRIU4), CR_STATE_FORKING) == CR_STATE_RESTORE,
	   "criu4: FORKING is followed by RESTORE");
	ok(protocol_next_stage(protocol_get(PROTO_PRE_RESTORER), CR_STATE_FORKING) ==
	   CR_STATE_PRE_RESTORER, "pre-restorer: FORKING is followed by PRE_RESTORER");
	ok(protocol_rule(protocol_get(PROTO_CRIU4), CR_STATE_PRE_RESTORER) == NULL,
	   "criu4 has no PRE_RESTORER rule");
}

static void test_switchers(void)
{
	int v, s;

	for (v = 0; v < PROTO_NR; v++) {
		const struct protocol *p = protocol_get(v);
		int bad_switcher = 0, bad_wake = 0, bad_root = 0;

		for (s = 0; s < CR_STATE_NR; s++) {
			if ((int)protocol_switcher(p, s) != expected_switcher[v][s]) {
				diag("%s %s: switcher %d", p->name, stage_name(s),
				     protocol_switcher(p, s));
				bad_switcher++;
			}
			if (expected_switcher[v][s] != X &&
			    protocol_switch_wakes(p, s) != expected_wake[v][s])
				bad_wake++;
			if (protocol_role_finishes(p, s, ROLE_ROOT) !=
			    expected_root_finishes[v][s])
				bad_root++;
		}
		ok(!bad_switcher, "%s: who switches each stage", p->name);
		ok(!bad_wake, "%s: which switches wake (ROOT_TASK and the root's NS "
		   "bypass are _nw)", p->name);
		ok(!bad_root, "%s: which stages the root finishes", p->name);
	}
	ok(protocol_switcher(protocol_get(PROTO_CRIU4), CR_STATE_RESTORE) == PERFORMER_ROOT,
	   "criu4: FORKING->RESTORE by the root");
	ok(protocol_switcher(protocol_get(PROTO_LEGACY), CR_STATE_RESTORE) ==
	   PERFORMER_CONTROLLER, "legacy: FORKING->RESTORE by the controller");
	ok(protocol_switcher(protocol_get(PROTO_PRE_RESTORER), CR_STATE_PRE_RESTORER) ==
	   PERFORMER_ROOT, "pre-restorer: PRE_RESTORER by the root");
}

/* The rules must fit together: whoever waits for a stage to drain is the one
 * who switches out of it, the root either finishes a stage or switches out of
 * it (never both, never neither), and the criu4 controller never switches
 * FORKING. */
static void test_consistency(void)
{
	int v, s;

	for (v = 0; v < PROTO_NR; v++) {
		const struct protocol *p = protocol_get(v);
		int bad_drain = 0, bad_root = 0;

		for (s = protocol_first_stage(p); s != CR_STATE_COMPLETE;
		     s = protocol_next_stage(p, s)) {
			int next = protocol_next_stage(p, s);
			int32_t limit;
			enum performer waiter = protocol_drain_waiter(p, s, &limit);
			bool root_switches_out = protocol_switcher(p, next) == PERFORMER_ROOT;

			if (waiter != PERFORMER_NONE && waiter != protocol_switcher(p, next))
				bad_drain++;
			if (waiter == PERFORMER_NONE && !root_switches_out)
				bad_drain++;
			if (protocol_role_finishes(p, s, ROLE_ROOT) == root_switches_out)
				bad_root++;
		}
		ok(!bad_drain, "%s: the drain waiter of each stage switches out of it",
		   p->name);
		ok(!bad_root, "%s: the root finishes each stage or switches out of it",
		   p->name);
	}
	ok(protocol_switcher(protocol_get(PROTO_CRIU4), CR_STATE_FORKING) != PERFORMER_CONTROLLER,
	   "criu4: the controller never switches FORKING");
}

static void test_participants(void)
{
	struct task_entries te = { 0 };
	const struct protocol *criu4 = protocol_get(PROTO_CRIU4);
	const struct protocol *pre = protocol_get(PROTO_PRE_RESTORER);
	const struct stage_rule *sigchld = protocol_rule(criu4, CR_STATE_RESTORE_SIGCHLD);
	int v;

	te.nr_tasks = 3;
	te.nr_threads = 4;
	te.nr_helpers = 1;
	te.nr_zombies = 1;
	te.nr_in_progress = 0;
	ok(stage_participants(criu4, CR_STATE_ROOT_TASK, &te) == 1, "ROOT_TASK: 1");
	ok(stage_participants(criu4, CR_STATE_PREPARE_NAMESPACES, &te) == 1,
	   "PREPARE_NAMESPACES: 1");
	ok(stage_participants(criu4, CR_STATE_FORKING, &te) == 4,
	   "FORKING: nr_tasks + nr_helpers = 4");
	ok(stage_participants(pre, CR_STATE_PRE_RESTORER, &te) == 4,
	   "PRE_RESTORER: nr_tasks + nr_helpers = 4");
	ok(stage_participants(criu4, CR_STATE_PRE_RESTORER, &te) == 0,
	   "criu4 has no PRE_RESTORER participants");
	ok(stage_participants(criu4, CR_STATE_RESTORE, &te) == 5,
	   "RESTORE: nr_threads + nr_helpers = 5");
	ok(sigchld && sigchld->drop_zombie_threads,
	   "the switch to RESTORE_SIGCHLD drops the zombies' threads first");
	te.nr_threads -= te.nr_zombies;
	ok(stage_participants(criu4, CR_STATE_RESTORE_SIGCHLD, &te) == 3,
	   "RESTORE_SIGCHLD: live threads = 3");
	ok(stage_participants(criu4, CR_STATE_RESTORE_CREDS, &te) == 3,
	   "RESTORE_CREDS: live threads = 3");
	te.nr_in_progress = 2;
	ok(stage_participants(criu4, CR_STATE_COMPLETE, &te) == 2,
	   "COMPLETE: the count is left unchanged");
	ok(stage_participants(criu4, CR_STATE_FAIL, &te) == 0, "FAIL: 0");

	for (v = 0; v < PROTO_NR; v++) {
		const struct protocol *p = protocol_get(v);
		int32_t limit;

		ok(protocol_drain_waiter(p, CR_STATE_RESTORE, &limit) == PERFORMER_CONTROLLER &&
		   limit == 0, "%s: the controller waits for RESTORE to drain to 0", p->name);
	}
	ok(protocol_drain_waiter(criu4, CR_STATE_FORKING, NULL) == PERFORMER_ROOT,
	   "criu4: the root waits for FORKING");
	{
		int32_t limit = -5;

		protocol_drain_waiter(criu4, CR_STATE_FORKING, &limit);
		ok(limit == 1, "criu4: ... until nr_in_progress <= 1 (its own share)");
		protocol_drain_waiter(protocol_get(PROTO_LEGACY), CR_STATE_FORKING, &limit);
		ok(limit == 0, "legacy: the controller waits for FORKING to reach 0");
	}
	ok(protocol_drain_waiter(criu4, CR_STATE_ROOT_TASK, NULL) == PERFORMER_NONE,
	   "criu4: nobody waits for ROOT_TASK (the root switches on at once)");
	ok(protocol_rule(criu4, CR_STATE_RESTORE)->root_waits_own_threads &&
	   !protocol_rule(pre, CR_STATE_RESTORE)->root_waits_own_threads,
	   "the root enters its restorer last in criu4, with the others in pre-restorer");
}

static void test_names(void)
{
	int v, s, bad = 0;

	for (v = 0; v < PROTO_NR; v++)
		if (protocol_by_name(protocol_name(v)) != v)
			bad++;
	ok(!bad, "protocol names round-trip");
	ok(protocol_by_name("pre-restorer") == PROTO_PRE_RESTORER &&
	   protocol_by_name("legacy") == PROTO_LEGACY &&
	   protocol_by_name("seed") == PROTO_SEED &&
	   protocol_by_name("criu4") == PROTO_CRIU4, "--protocol names");
	ok(protocol_by_name("criu5") == -1 && protocol_by_name(NULL) == -1,
	   "unknown protocol names give -1");
	ok(PROTO_DEFAULT == PROTO_CRIU4, "criu4 is the default");
	ok(protocol_name(PROTO_NR) == NULL, "protocol_name out of range is NULL");

	bad = 0;
	for (s = CR_STATE_FAIL; s < CR_STATE_NR; s++)
		if (stage_by_name(stage_name(s)) != s)
			bad++;
	ok(!bad, "stage names round-trip");
	ok(!strcmp(stage_name(CR_STATE_FORKING), "FORKING") &&
	   !strcmp(stage_name(CR_STATE_FAIL), "FAIL") &&
	   !strcmp(stage_name(CR_STATE_PRE_RESTORER), "PRE_RESTORER"),
	   "stage_name spells CRIU's names");
	ok(stage_by_name("forking") == CR_STATE_FORKING &&
	   stage_by_name("Restore_Creds") == CR_STATE_RESTORE_CREDS,
	   "stage_by_name is case-insensitive");
	ok(stage_by_name("FORK") == STAGE_UNKNOWN && stage_by_name(NULL) == STAGE_UNKNOWN,
	   "unknown stage names give STAGE_UNKNOWN");
	ok(stage_name(CR_STATE_NR) == NULL && stage_name(-2) == NULL,
	   "stage_name out of range is NULL");
	ok(!strcmp(role_name(ROLE_CONTROLLER), "controller") &&
	   !strcmp(role_name(ROLE_ROOT), "root") && !strcmp(role_name(99), "unknown"),
	   "role names");
	ok(!strcmp(barrier_event_type_name(BARRIER_EV_SWITCH), "SWITCH") &&
	   !strcmp(barrier_event_type_name(BARRIER_EV_ARRIVE), "ARRIVE"),
	   "event type names");
}

int main(void)
{
	test_sequences();
	test_switchers();
	test_consistency();
	test_participants();
	test_names();
	return done_testing();
}
