/* test_barrier.c: the barrier with real futexes across real processes.
 *
 * The test process plays the controller; it forks a root, which forks the
 * other participants at FORKING, as crstep does.  Every participant follows
 * the protocol table (restore/protocol.c), so this also proves the table can
 * be run: nobody hangs, every count is right.  Then the event ring is
 * checked: performers, counts, ARRIVE before the switch out, per-writer
 * timestamps, and the printers' output.
 *
 * The tree: root R (1 thread), tasks A (1 thread) and B (2 threads: B and
 * B', B' cloned at RESTORE as the restorer would), a zombie Z and a helper H.
 * nr_tasks = 4 (R A B Z), nr_threads = 5 (R A B B' Z), nr_helpers = 1. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "barrier.h"
#include "protocol.h"
#include "tap.h"
#include "trace.h"

enum { SLOT_ROOT, SLOT_A, SLOT_B, SLOT_B_THREAD, SLOT_ZOMBIE, SLOT_HELPER, NR_TEST_SLOTS };

static const int32_t slot_pid[NR_TEST_SLOTS] = { 301, 302, 303, 304, 305, 306 };
static const enum task_role slot_role[NR_TEST_SLOTS] = {
	ROLE_ROOT, ROLE_TASK, ROLE_TASK, ROLE_THREAD, ROLE_ZOMBIE, ROLE_HELPER,
};

#define ZOMBIE_EXIT_CODE 7
#define WAIT_NS (10ull * 1000000000ull)	/* nothing here should take 10 s */
#define OUTCOME_ABORTED 100

/* What each participant ended with, in memory the test shares with them. */
struct outcome {
	int32_t last_stage[NR_TEST_SLOTS];	/* >= 0 stage, < 0 FAIL */
	int32_t root_wait;			/* the root's last wait result */
	int32_t children_ok;
};

static struct task_entries *te;
static const struct protocol *proto;
static struct outcome *outcome;
static int abort_slot = -1;	/* the participant that aborts in FORKING */

/* Finish every stage the table gives this role, from stage on.  Returns the
 * last start seen: COMPLETE, the stage after the role's last, or FAIL. */
static int participant_run(int slot, int stage);

static void *thread_main(void *arg)
{
	(void)arg;
	outcome->last_stage[SLOT_B_THREAD] = participant_run(SLOT_B_THREAD, CR_STATE_RESTORE);
	return NULL;
}

static int participant_run(int slot, int stage)
{
	pthread_t thread;
	int thread_started = 0;

	while (stage >= 0 && stage != CR_STATE_COMPLETE &&
	       protocol_role_finishes(proto, stage, slot_role[slot])) {
		/* B clones B' when RESTORE starts, as its restorer would. */
		if (slot == SLOT_B && stage == CR_STATE_RESTORE && !thread_started) {
			if (pthread_create(&thread, NULL, thread_main, NULL))
				return -1;
			thread_started = 1;
		}
		stage = task_finish_stage(te, stage, slot);
	}
	if (thread_started)
		pthread_join(thread, NULL);
	return stage;
}

static void participant_main(int slot)
{
	int last;

	alarm(30);
	if (slot == abort_slot) {
		barrier_abort(te, slot_pid[slot], slot_role[slot], EEXIST);
		outcome->last_stage[slot] = OUTCOME_ABORTED;
		_exit(1);
	}
	last = participant_run(slot, __atomic_load_n(&te->start, __ATOMIC_ACQUIRE));
	outcome->last_stage[slot] = last;
	if (last < 0)
		_exit(1);
	_exit(slot_role[slot] == ROLE_ZOMBIE ? ZOMBIE_EXIT_CODE : 0);
}

static const int forked_by_root[] = { SLOT_A, SLOT_B, SLOT_ZOMBIE, SLOT_HELPER };
#define NR_FORKED (int)(sizeof(forked_by_root) / sizeof(forked_by_root[0]))

static int root_fork_children(pid_t pids[NR_FORKED])
{
	int i;

	for (i = 0; i < NR_FORKED; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			return -1;
		if (pids[i] == 0)
			participant_main(forked_by_root[i]);
	}
	return 0;
}

/* The root's part, straight from the table: at each stage it either waits
 * for the drain (if it is the drain waiter) and switches to the next stage,
 * or finishes the stage like any participant. */
static int root_run(pid_t pids[NR_FORKED], int *forked)
{
	int stage = __atomic_load_n(&te->start, __ATOMIC_ACQUIRE);

	outcome->root_wait = BARRIER_WAIT_DONE;
	while (stage >= 0 && stage != CR_STATE_COMPLETE) {
		int next = protocol_next_stage(proto, stage);
		const struct stage_rule *rule = protocol_rule(proto, stage);
		int32_t limit;

		if (stage == CR_STATE_FORKING && !*forked) {
			if (root_fork_children(pids))
				return -1;
			*forked = 1;
		}
		if (protocol_switcher(proto, next) == PERFORMER_ROOT) {
			if (protocol_drain_waiter(proto, stage, &limit) == PERFORMER_ROOT) {
				outcome->root_wait = wait_in_progress(te, limit, WAIT_NS);
				if (outcome->root_wait != BARRIER_WAIT_DONE)
					return -1;
			}
			if (stage_switch(te, next, stage_participants(proto, next, te),
					 protocol_switch_wakes(proto, next),
					 slot_pid[SLOT_ROOT], ROLE_ROOT))
				return -1;
			stage = next;
		} else if (protocol_role_finishes(proto, stage, ROLE_ROOT)) {
			/* The root has one thread here: it waits for everyone
			 * else before entering its restorer. */
			if (rule->root_waits_own_threads) {
				outcome->root_wait = wait_in_progress(te, 1, WAIT_NS);
				if (outcome->root_wait != BARRIER_WAIT_DONE)
					return -1;
			}
			stage = task_finish_stage(te, stage, SLOT_ROOT);
		} else {
			return -1;	/* the table leaves the root nothing to do */
		}
	}
	return stage;
}

static void root_main(void)
{
	pid_t pids[NR_FORKED];
	int forked = 0, i, children_ok = 1, last;

	alarm(30);
	last = root_run(pids, &forked);
	outcome->last_stage[SLOT_ROOT] = last;
	if (last < 0)
		barrier_abort(te, slot_pid[SLOT_ROOT], ROLE_ROOT, 0);
	for (i = 0; forked && i < NR_FORKED; i++) {
		int status, want = 0;

		if (waitpid(pids[i], &status, 0) != pids[i]) {
			children_ok = 0;
			continue;
		}
		if (last < 0)
			want = 1;
		else if (slot_role[forked_by_root[i]] == ROLE_ZOMBIE)
			want = ZOMBIE_EXIT_CODE;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != want)
			children_ok = 0;
	}
	outcome->children_ok = children_ok;
	_exit(last < 0 ? 1 : children_ok ? 0 : 2);
}

/* The controller's part: switch the stages the table gives it, waiting for
 * the previous stage to drain first when it is that stage's drain waiter;
 * clone the root right after the first switch.  Returns 0, or the failing
 * wait's result (the FAIL switch is then done). */
static int controller_run(pid_t *root)
{
	int prev = CR_STATE_FAIL, stage;

	*root = -1;
	for (stage = protocol_first_stage(proto); stage < CR_STATE_NR;
	     stage = protocol_next_stage(proto, stage)) {
		const struct stage_rule *rule = protocol_rule(proto, stage);
		int32_t limit;

		if (rule->switcher == PERFORMER_CONTROLLER) {
			if (prev >= 0 &&
			    protocol_drain_waiter(proto, prev, &limit) == PERFORMER_CONTROLLER) {
				int ret = wait_in_progress(te, limit, WAIT_NS);

				if (ret != BARRIER_WAIT_DONE) {
					stage_fail(te, getpid(), ROLE_CONTROLLER);
					return ret;
				}
			}
			if (rule->drop_zombie_threads)
				te->nr_threads -= te->nr_zombies;
			if (stage_switch(te, stage, stage_participants(proto, stage, te),
					 rule->wake, getpid(), ROLE_CONTROLLER)) {
				stage_fail(te, getpid(), ROLE_CONTROLLER);
				return BARRIER_WAIT_ABORTED;
			}
		}
		if (*root < 0) {
			*root = fork();
			if (*root == 0)
				root_main();
		}
		prev = stage;
	}
	return 0;
}

static int setup(enum proto_variant variant, int aborting)
{
	int i;

	if (task_entries_create(&te, NR_TEST_SLOTS))
		return -1;
	outcome = mmap(NULL, sizeof(*outcome), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (outcome == MAP_FAILED)
		return -1;
	memset(outcome, 0, sizeof(*outcome));
	proto = protocol_get(variant);
	abort_slot = aborting;
	te->nr_tasks = 4;
	te->nr_threads = 5;
	te->nr_helpers = 1;
	te->nr_zombies = 1;
	clock_sample_take(&te->clock_start);
	for (i = 0; i < NR_TEST_SLOTS; i++)
		if (task_slot_assign(te, slot_pid[i], slot_role[i]) != i)
			return -1;
	return 0;
}

static void teardown(void)
{
	task_entries_destroy(te);
	munmap(outcome, sizeof(*outcome));
	te = NULL;
	outcome = NULL;
}

static int read_events(struct barrier_event *evs, int max)
{
	uint64_t n = barrier_events_written(te), seq;
	int got = 0;

	for (seq = 1; seq <= n && got < max; seq++)
		if (barrier_event_read(te, seq, &evs[got]) == 0)
			got++;
	return got == (int)n ? got : -1;
}

static uint32_t expected_count(int stage)
{
	switch (stage) {
	case CR_STATE_ROOT_TASK:
	case CR_STATE_PREPARE_NAMESPACES:
		return 1;
	case CR_STATE_FORKING:
	case CR_STATE_PRE_RESTORER:
		return 5;	/* nr_tasks + nr_helpers */
	case CR_STATE_RESTORE:
		return 6;	/* nr_threads + nr_helpers */
	case CR_STATE_RESTORE_SIGCHLD:
	case CR_STATE_RESTORE_CREDS:
		return 4;	/* live threads */
	default:
		return 0;	/* COMPLETE: unchanged, and RESTORE_CREDS drained */
	}
}

static int slot_of_pid(int32_t pid)
{
	int i;

	for (i = 0; i < NR_TEST_SLOTS; i++)
		if (slot_pid[i] == pid)
			return i;
	return -1;
}

/* Check the switches: order, performer, count. */
static void check_switches(const struct barrier_event *evs, int n, uint64_t switch_seq[])
{
	int seq[CR_STATE_NR], nr_stages = protocol_sequence(proto, seq);
	int i, k = 0, bad_order = 0, bad_performer = 0, bad_count = 0, stray = 0;

	for (i = 0; i < n; i++) {
		const struct barrier_event *ev = &evs[i];
		int want_from;

		if (ev->type == BARRIER_EV_ABORT || ev->type == BARRIER_EV_FAIL)
			stray++;
		if (ev->type != BARRIER_EV_SWITCH)
			continue;
		want_from = k ? seq[k - 1] : CR_STATE_FAIL;
		if (k >= nr_stages || ev->stage_to != seq[k] || ev->stage_from != want_from) {
			bad_order++;
			continue;
		}
		switch_seq[seq[k]] = ev->seq;
		if (protocol_switcher(proto, seq[k]) == PERFORMER_ROOT) {
			if (ev->role != ROLE_ROOT || ev->pid != slot_pid[SLOT_ROOT])
				bad_performer++;
		} else if (ev->role != ROLE_CONTROLLER || ev->pid != getpid()) {
			bad_performer++;
		}
		if (ev->count_set != expected_count(seq[k])) {
			diag("%s: count set %u", stage_name(seq[k]), ev->count_set);
			bad_count++;
		}
		k++;
	}
	ok(k == nr_stages && !bad_order, "%s: every stage switched once, in order",
	   proto->name);
	ok(!bad_performer, "%s: each switch by the performer the table names", proto->name);
	ok(!bad_count, "%s: each switch sets the participants count", proto->name);
	ok(!stray, "%s: no ABORT or FAIL recorded", proto->name);
}

static void check_arrivals(const struct barrier_event *evs, int n, const uint64_t switch_seq[])
{
	int arrived[CR_STATE_NR][NR_TEST_SLOTS] = { { 0 } };
	int i, s, bad_before = 0, bad_after = 0, bad_set = 0;

	for (i = 0; i < n; i++) {
		const struct barrier_event *ev = &evs[i];
		int slot = slot_of_pid(ev->pid), next;

		if (ev->type != BARRIER_EV_ARRIVE)
			continue;
		s = ev->stage_from;
		if (slot < 0 || ev->slot != slot || s < 0 || s >= CR_STATE_NR) {
			bad_set++;
			continue;
		}
		arrived[s][slot]++;
		next = protocol_next_stage(proto, s);
		if (ev->seq < switch_seq[s])
			bad_after++;
		if (next < CR_STATE_NR && ev->seq > switch_seq[next])
			bad_before++;
	}
	for (s = 0; s < CR_STATE_NR; s++)
		for (i = 0; i < NR_TEST_SLOTS; i++)
			if (arrived[s][i] != (int)protocol_role_finishes(proto, s, slot_role[i]))
				bad_set++;
	ok(!bad_set, "%s: exactly the roles the table names finished each stage, once",
	   proto->name);
	ok(!bad_after, "%s: every ARRIVE at S comes after the switch into S", proto->name);
	ok(!bad_before, "%s: every ARRIVE at S comes before the switch out of S",
	   proto->name);
}

/* Per writer, seq order and TSC order agree. */
static void check_timestamps(const struct barrier_event *evs, int n)
{
	uint64_t last_tsc[NR_TEST_SLOTS + 1] = { 0 };
	int i, bad = 0;

	for (i = 0; i < n; i++) {
		int w = slot_of_pid(evs[i].pid);

		if (w < 0)
			w = NR_TEST_SLOTS;	/* the controller */
		if (evs[i].tsc < last_tsc[w])
			bad++;
		last_tsc[w] = evs[i].tsc;
	}
	ok(!bad, "%s: timestamps never go back for one writer", proto->name);
}

static void check_slots(void)
{
	int i, s, bad = 0;

	for (i = 0; i < NR_TEST_SLOTS; i++) {
		const struct task_slot *slot = &te->slots[i];
		int last = -1;

		for (s = 0; s < CR_STATE_NR; s++) {
			int finished = protocol_role_finishes(proto, s, slot_role[i]);

			if (finished != (slot->arrive_tsc[s] != 0))
				bad++;
			if (finished)
				last = s;
		}
		if (slot->stage_reached != last || slot->waiting_on != -1 ||
		    slot->pid != slot_pid[i] || slot->role != slot_role[i])
			bad++;
	}
	ok(!bad, "%s: slots hold pid, role, the last stage reached and arrival times",
	   proto->name);
}

static char *capture(int (*print)(FILE *, const struct task_entries *), int *ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	*ret = print(f, te);
	fclose(f);
	return buf;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void check_printers(int nr_events)
{
	char want[160], *log, *json, *stats;
	int ret_log, ret_json, ret_stats, nr_stages;
	int seq[CR_STATE_NR];
	const char *restore_by = protocol_switcher(proto, CR_STATE_RESTORE) ==
		PERFORMER_ROOT ? "root" : "controller";
	int prev_restore = protocol_sequence(proto, seq) == 8 ?
		CR_STATE_PRE_RESTORER : CR_STATE_FORKING;

	nr_stages = protocol_sequence(proto, seq);
	log = capture(trace_print_switch_log, &ret_log);
	snprintf(want, sizeof(want), "none -> ROOT_TASK  by controller (pid %d)  "
		 "nr_in_progress=1\n", getpid());
	ok(ret_log == 0 && !strncmp(log, want, strlen(want)),
	   "%s: switch log starts with the first switch from none", proto->name);
	snprintf(want, sizeof(want), "\n%s -> RESTORE  by %s (pid %d)  nr_in_progress=6\n",
		 stage_name(prev_restore), restore_by,
		 *restore_by == 'r' ? slot_pid[SLOT_ROOT] : getpid());
	ok(strstr(log, want) != NULL, "%s: switch log has \"%.*s\"", proto->name,
	   (int)strlen(want) - 2, want + 1);
	ok(count_lines(log) == nr_stages, "%s: one log line per switch", proto->name);

	json = capture(trace_write_jsonl, &ret_json);
	ok(ret_json == 0 && count_lines(json) == nr_events &&
	   !strncmp(json, "{\"seq\":1,\"t_ns\":", 16) &&
	   strstr(json, "\"type\":\"SWITCH\",\"from\":\"none\",\"to\":\"ROOT_TASK\"") &&
	   strstr(json, "\"type\":\"ARRIVE\""),
	   "%s: --trace writes one JSON object per event", proto->name);

	stats = capture(trace_print_stats, &ret_stats);
	ok(ret_stats == 0 && count_lines(stats) == nr_stages &&
	   !strncmp(stats, "ROOT_TASK ", 10) && strstr(stats, " us\n") &&
	   strstr(stats, "COMPLETE") && strstr(stats, "(final)"),
	   "%s: --stats prints one line per stage", proto->name);
	if (getenv("TEST_VERBOSE")) {
		fputs(log, stdout);
		fputs(stats, stdout);
	}
	free(log);
	free(json);
	free(stats);
}

static void test_full_protocol(enum proto_variant variant)
{
	struct barrier_event evs[BARRIER_RING_SIZE];
	uint64_t switch_seq[CR_STATE_NR] = { 0 };
	pid_t root;
	int ret, status = -1, n, i, bad = 0;

	if (!ok(setup(variant, -1) == 0, "%s: shared area set up", protocol_name(variant)))
		return;
	ret = controller_run(&root);
	ok(ret == 0, "%s: the controller ran every stage (%d)", proto->name, ret);
	if (root > 0 && waitpid(root, &status, 0) != root)
		status = -1;
	ok(root > 0 && WIFEXITED(status) &&
	   WEXITSTATUS(status) == 0, "%s: the root and its children exited as they "
	   "should (status 0x%x)", proto->name, status);
	/* Helpers and zombies sleep through the stages after RESTORE, which go
	 * on without them: they may wake to any of them. */
	for (i = 0; i < NR_TEST_SLOTS; i++) {
		int live = protocol_role_finishes(proto, CR_STATE_RESTORE_SIGCHLD, slot_role[i]);
		int last = outcome->last_stage[i];

		if (live ? last != CR_STATE_COMPLETE : last <= CR_STATE_RESTORE) {
			diag("slot %d ended at %d", i, last);
			bad++;
		}
	}
	ok(!bad && outcome->children_ok, "%s: live threads saw COMPLETE, the helper and "
	   "the zombie left when RESTORE ended", proto->name);

	n = read_events(evs, BARRIER_RING_SIZE);
	ok(n > 0, "%s: %d events recorded and readable", proto->name, n);
	if (n > 0) {
		check_switches(evs, n, switch_seq);
		check_arrivals(evs, n, switch_seq);
		check_timestamps(evs, n);
		check_printers(n);
	}
	check_slots();
	/* The root switched FORKING (or PRE_RESTORER) out while holding its share. */
	for (i = 0; i < n; i++)
		if (evs[i].type == BARRIER_EV_SWITCH && evs[i].stage_to == CR_STATE_RESTORE)
			ok(evs[i].count_seen == (protocol_switcher(proto, CR_STATE_RESTORE) ==
						 PERFORMER_ROOT ? 1u : 0u),
			   "%s: RESTORE switched with nr_in_progress at %u", proto->name,
			   evs[i].count_seen);
	teardown();
}

/* One task aborts in FORKING (as on an EEXIST pid clash): every wait returns
 * with failure, the controller switches FAIL, everybody exits. */
static void test_abort(enum proto_variant variant)
{
	struct barrier_event evs[BARRIER_RING_SIZE];
	pid_t root;
	int ret, status = -1, n, i, bad = 0, aborts_by_a = 0, fail_last = 0;

	if (!ok(setup(variant, SLOT_A) == 0, "%s abort: shared area set up",
		protocol_name(variant)))
		return;
	ret = controller_run(&root);
	ok(ret == BARRIER_WAIT_ABORTED, "%s abort: the controller's wait saw the abort (%d)",
	   proto->name, ret);
	if (root > 0 && waitpid(root, &status, 0) != root)
		status = -1;
	ok(root > 0 && WIFEXITED(status) &&
	   WEXITSTATUS(status) == 1 && outcome->children_ok,
	   "%s abort: the root and every child exited 1 (status 0x%x)", proto->name, status);
	for (i = 0; i < NR_TEST_SLOTS; i++) {
		if (i == SLOT_B_THREAD)
			continue;	/* never cloned: RESTORE never came */
		if (i == SLOT_A ? outcome->last_stage[i] != OUTCOME_ABORTED :
		    outcome->last_stage[i] >= 0)
			bad++;
	}
	ok(!bad, "%s abort: every participant returned with failure", proto->name);
	ok(te->cr_err == EEXIST, "%s abort: cr_err keeps the first error", proto->name);
	ok(__atomic_load_n(&te->start, __ATOMIC_ACQUIRE) == CR_STATE_FAIL,
	   "%s abort: start is FAIL", proto->name);
	n = read_events(evs, BARRIER_RING_SIZE);
	for (i = 0; i < n; i++) {
		if (evs[i].type == BARRIER_EV_ABORT && evs[i].pid == slot_pid[SLOT_A] &&
		    evs[i].err == EEXIST)
			aborts_by_a++;
		if (evs[i].type == BARRIER_EV_FAIL)
			fail_last = evs[i].role == ROLE_CONTROLLER && i < n &&
				    evs[i].count_set == 0;
		else if (fail_last && evs[i].type == BARRIER_EV_SWITCH)
			fail_last = 0;
	}
	ok(aborts_by_a == 1, "%s abort: the ABORT is recorded with its pid and errno",
	   proto->name);
	ok(fail_last, "%s abort: the controller's FAIL switch is recorded, no switch after",
	   proto->name);
	teardown();
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The wait's timeout, and a wake-up from another process. */
static void test_wait(void)
{
	int64_t t0;
	int ret, status;
	pid_t child;

	if (!ok(task_entries_create(&te, NR_TEST_SLOTS) == 0, "wait: area created"))
		return;
	ok(te->start == CR_STATE_FAIL && te->nr_in_progress == 0 &&
	   te->slots[0].stage_reached == -1, "a new area starts at -1 with no one in progress");
	ok(wait_in_progress(te, 0, 0) == BARRIER_WAIT_DONE, "wait: count 0 <= 0 at once");
	stage_switch(te, CR_STATE_ROOT_TASK, 1, 0, getpid(), ROLE_CONTROLLER);
	t0 = now_ns();
	ret = wait_in_progress(te, 0, 50 * 1000000ull);
	ok(ret == BARRIER_WAIT_TIMEOUT && now_ns() - t0 >= 50000000LL,
	   "wait: times out after 50 ms when nobody finishes (%d)", ret);

	child = fork();
	if (child == 0) {
		struct timespec nap = { 0, 20 * 1000000L };

		alarm(10);
		nanosleep(&nap, NULL);
		_exit(task_finish_stage(te, CR_STATE_ROOT_TASK, -1) ==
		      CR_STATE_PREPARE_NAMESPACES ? 0 : 1);
	}
	ret = wait_in_progress(te, 0, WAIT_NS);
	ok(ret == BARRIER_WAIT_DONE, "wait: woken by another process's finish (%d)", ret);
	ok(stage_switch(te, CR_STATE_PREPARE_NAMESPACES, 1, 1, getpid(), ROLE_CONTROLLER) == 0,
	   "wait: switch wakes the finisher");
	ok(waitpid(child, &status, 0) == child && WIFEXITED(status) &&
	   WEXITSTATUS(status) == 0, "wait: the finisher saw the new stage");

	barrier_abort(te, getpid(), ROLE_CONTROLLER, 0);
	ok(te->cr_err == 0 && te->nr_in_progress == BARRIER_ABORT_VALUE,
	   "abort with no errno leaves cr_err alone and sets the count to ~0");
	ok(stage_switch(te, CR_STATE_FORKING, 3, 1, getpid(), ROLE_CONTROLLER) == -1 &&
	   te->start == CR_STATE_PREPARE_NAMESPACES,
	   "a switch after an abort is refused and does not hide it");
	ok(wait_in_progress(te, 0, 0) == BARRIER_WAIT_ABORTED, "wait: sees the abort");
	stage_fail(te, getpid(), ROLE_CONTROLLER);
	ok(wait_in_progress(te, 0, 0) == BARRIER_WAIT_ABORTED,
	   "wait: after FAIL (count 0) still reports failure, not a drain");
	ok(task_finish_stage(te, CR_STATE_PREPARE_NAMESPACES, -1) == CR_STATE_FAIL,
	   "finish after FAIL returns FAIL at once");
	task_entries_destroy(te);
	te = NULL;
}

static void test_format(void)
{
	struct barrier_event ev = {
		.type = BARRIER_EV_SWITCH, .stage_from = CR_STATE_FORKING,
		.stage_to = CR_STATE_RESTORE, .role = ROLE_ROOT, .pid = 22838,
		.count_set = 1,
	};
	char buf[160];

	trace_format_switch(buf, sizeof(buf), &ev);
	ok(!strcmp(buf, "FORKING -> RESTORE  by root (pid 22838)  nr_in_progress=1"),
	   "switch line format: %s", buf);
	ev.stage_from = CR_STATE_FAIL;
	ev.stage_to = CR_STATE_ROOT_TASK;
	ev.role = ROLE_CONTROLLER;
	ev.pid = 123;
	trace_format_switch(buf, sizeof(buf), &ev);
	ok(!strcmp(buf, "none -> ROOT_TASK  by controller (pid 123)  nr_in_progress=1"),
	   "the first switch reads from none: %s", buf);
	ev.type = BARRIER_EV_FAIL;
	ev.stage_from = CR_STATE_RESTORE;
	ev.stage_to = CR_STATE_FAIL;
	ev.count_set = 0;
	trace_format_switch(buf, sizeof(buf), &ev);
	ok(!strcmp(buf, "RESTORE -> FAIL  by controller (pid 123)  nr_in_progress=0"),
	   "the FAIL switch: %s", buf);
}

int main(void)
{
	int v;

	alarm(120);	/* a hang fails the test instead of blocking make check */
	test_format();
	test_wait();
	for (v = 0; v < PROTO_NR; v++)
		test_full_protocol(v);
	for (v = 0; v < PROTO_NR; v++)
		test_abort(v);
	return done_testing();
}
