/* info.c: the `info` reports, read from the shared area while the restore
 * is stopped (participants parked at a gate or asleep in the barrier;
 * nothing here wakes anybody), plus what /proc says of each task. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "restore.h"
#include "stepper-priv.h"
#include "trace.h"

static const char *stage_or_none(int stage)
{
	return stage == CR_STATE_FAIL ? "none" : stage_name(stage) ? stage_name(stage) : "?";
}

/* The last SWITCH event into the current stage, or -1. */
static int last_switch(const struct task_entries *te, struct barrier_event *out)
{
	uint64_t seq = barrier_events_written(te), low = seq > BARRIER_RING_SIZE ? seq - BARRIER_RING_SIZE : 0;

	for (; seq > low; seq--)
		if (!barrier_event_read(te, seq, out) && out->type == BARRIER_EV_SWITCH)
			return 0;
	return -1;
}

static void format_duration(char *buf, size_t len, int64_t ns)
{
	if (ns < 0)
		ns = 0;
	if (ns < 1000000)
		snprintf(buf, len, "%.1f us", ns / 1e3);
	else if (ns < 10000000000LL)
		snprintf(buf, len, "%.1f ms", ns / 1e6);
	else
		snprintf(buf, len, "%.1f s", ns / 1e9);
}

/* What a participant waits on: its gate, the start word, the count (the
 * root draining a stage it will switch out of), or nothing. */
static void waits_on(struct stepper *s, const struct task_slot *t, int alive, char *buf, size_t len,
		     uint64_t *since)
{
	struct task_entries *te = stepper_te(s);
	struct barrier_event sw;
	int stage = te->start, next;
	int32_t limit;

	*since = last_switch(te, &sw) ? te->clock_start.tsc : sw.tsc;
	if (!alive) {
		snprintf(buf, len, "exited");
		return;
	}
	if (__atomic_load_n(&t->gate, __ATOMIC_ACQUIRE)) {
		snprintf(buf, len, "gate (breakpoint %d)", t->held_bp == STEPPER_BP_STEP ? 0 : t->held_bp + 1);
		if (t->held_bp == STEPPER_BP_STEP)
			snprintf(buf, len, "gate (step)");
		*since = t->hold_tsc;
		return;
	}
	if (t->waiting_on >= 0) {
		snprintf(buf, len, "start word (%s)", stage_or_none(t->waiting_on));
		if (t->waiting_on < CR_STATE_NR && t->arrive_tsc[(int)t->waiting_on])
			*since = t->arrive_tsc[(int)t->waiting_on];
		return;
	}
	next = protocol_next_stage(s->ctx->proto, stage);
	if (t->role == ROLE_ROOT && protocol_drain_waiter(s->ctx->proto, stage, &limit) == PERFORMER_ROOT &&
	    protocol_switcher(s->ctx->proto, next) == PERFORMER_ROOT) {
		snprintf(buf, len, "count (nr_in_progress <= %" PRId32 ")", limit);
		return;
	}
	snprintf(buf, len, "running");
}

void info_tasks(struct stepper *s)
{
	struct task_entries *te = stepper_te(s);
	struct clock_fit clock;
	uint64_t now;
	uint32_t i;

	if (clock_fit_init(&clock, &te->clock_start))
		memset(&clock, 0, sizeof(clock));
	now = barrier_rdtsc();
	fprintf(s->out, "  %-7s %-7s %-10s %-18s %-26s %-10s %-5s %s\n", "PID", "HOST", "ROLE", "REACHED",
		"WAITS ON", "FOR", "STATE", "WCHAN");
	for (i = 0; i < te->nr_slots; i++) {
		const struct task_slot *t = &te->slots[i];
		char host[16], what[64], dur[32], state[8], wchan[64];
		uint64_t since;
		int alive, here = s->stop && s->stop->slot == (int)i;

		if (t->host_pid > 0)
			snprintf(host, sizeof(host), "%" PRId32, t->host_pid);
		else
			snprintf(host, sizeof(host), "-");
		alive = proc_task_state(t->host_pid, state, sizeof(state), wchan, sizeof(wchan)) == 0;
		/* Not forked yet is not exited. */
		if (t->host_pid <= 0)
			alive = 1;
		waits_on(s, t, alive, what, sizeof(what), &since);
		if (t->host_pid <= 0 && t->stage_reached < 0 && !t->gate)
			snprintf(what, sizeof(what), "not forked yet");
		format_duration(dur, sizeof(dur), clock.ns_per_tick ?
				clock_fit_ns(&clock, now) - clock_fit_ns(&clock, since) : 0);
		fprintf(s->out, "%c %-7" PRId32 " %-7s %-10s %-18s %-26s %-10s %-5s %s\n", here ? '*' : ' ', t->pid,
			host, role_name(t->role), t->stage_reached >= 0 ? stage_or_none(t->stage_reached) : "-",
			what, dur, state, wchan);
	}
}

/* "nr_tasks + nr_helpers = 1 + 0 = 1" */
static void count_rule(const struct stage_rule *r, const struct task_entries *te, char *buf, size_t len)
{
	switch (r->count) {
	case COUNT_ONE:
		snprintf(buf, len, "1 (the root alone)");
		break;
	case COUNT_PROCESSES:
		snprintf(buf, len, "nr_tasks + nr_helpers = %" PRIu32 " + %" PRIu32 " = %" PRIu32, te->nr_tasks,
			 te->nr_helpers, te->nr_tasks + te->nr_helpers);
		break;
	case COUNT_THREADS_AND_HELPERS:
		snprintf(buf, len, "nr_threads + nr_helpers = %" PRIu32 " + %" PRIu32 " = %" PRIu32, te->nr_threads,
			 te->nr_helpers, te->nr_threads + te->nr_helpers);
		break;
	case COUNT_LIVE_THREADS:
		snprintf(buf, len, "nr_threads, zombies removed = %" PRIu32, te->nr_threads);
		break;
	case COUNT_UNCHANGED:
		snprintf(buf, len, "left as it was");
		break;
	}
}

static void roles_list(uint32_t bits, char *buf, size_t len)
{
	size_t used = 0;
	int role;

	buf[0] = 0;
	for (role = ROLE_ROOT; role < ROLE_NR && used < len; role++)
		if (bits & ROLE_BIT(role))
			used += snprintf(buf + used, len - used, "%s%s", used ? ", " : "", role_name(role));
	if (!used)
		snprintf(buf, len, "nobody");
}

static const char *performer_name(enum performer p)
{
	return p == PERFORMER_ROOT ? "root" : p == PERFORMER_CONTROLLER ? "controller" : "nobody";
}

void info_barrier(struct stepper *s)
{
	struct task_entries *te = stepper_te(s);
	const struct protocol *p = s->ctx->proto;
	int stage = te->start, next = protocol_next_stage(p, stage);
	const struct stage_rule *r = protocol_rule(p, stage);
	uint32_t raw = __atomic_load_n(&te->nr_in_progress, __ATOMIC_ACQUIRE), i;
	char buf[256];
	size_t na = 0, no = 0, nh = 0;
	char arrived[512] = "", outstanding[512] = "", held[512] = "";
	int32_t limit;

	fprintf(s->out, "Stage: %s%s (protocol %s)\n", stage_or_none(stage),
		stage == CR_STATE_FAIL ? (te->failed ? ": the restore failed" : ": before the first switch") : "",
		p->name);
	if (raw & BARRIER_ABORT_BIT)
		fprintf(s->out, "nr_in_progress: aborted (%#" PRIx32 ")\n", raw);
	else
		fprintf(s->out, "nr_in_progress: %" PRId32 "%s\n", BARRIER_COUNT(raw),
			raw & BARRIER_HOLD_BIT ? " (a participant is held at a gate)" : "");
	if (r) {
		count_rule(r, te, buf, sizeof(buf));
		fprintf(s->out, "Participants: %s\n", buf);
		roles_list(r->finishers, buf, sizeof(buf));
		fprintf(s->out, "Finished by: %s\n", buf);
		if (protocol_drain_waiter(p, stage, &limit) != PERFORMER_NONE)
			fprintf(s->out, "Drain: the %s waits until nr_in_progress <= %" PRId32 "\n",
				performer_name(protocol_drain_waiter(p, stage, NULL)), limit);
	}
	if (next < CR_STATE_NR)
		fprintf(s->out, "Next: %s, switched by the %s\n", stage_name(next),
			performer_name(protocol_switcher(p, next)));
	for (i = 0; i < te->nr_slots; i++) {
		const struct task_slot *t = &te->slots[i];
		int finishes = r && protocol_role_finishes(p, stage, t->role);
		int done = stage >= 0 && stage < CR_STATE_NR && t->arrive_tsc[stage];

		if (__atomic_load_n(&t->gate, __ATOMIC_ACQUIRE) && nh < sizeof(held))
			nh += snprintf(held + nh, sizeof(held) - nh, " %" PRId32 " (%s, %s %d)", t->pid,
				       role_name(t->role), t->held_bp == STEPPER_BP_STEP ? "step" : "breakpoint",
				       t->held_bp == STEPPER_BP_STEP ? 0 : t->held_bp + 1);
		if (!finishes)
			continue;
		if (done && na < sizeof(arrived))
			na += snprintf(arrived + na, sizeof(arrived) - na, " %" PRId32 " (%s)", t->pid,
				       role_name(t->role));
		else if (!done && no < sizeof(outstanding))
			no += snprintf(outstanding + no, sizeof(outstanding) - no, " %" PRId32 " (%s)", t->pid,
				       role_name(t->role));
	}
	fprintf(s->out, "Arrived:%s\n", na ? arrived : " none");
	fprintf(s->out, "Outstanding:%s\n", no ? outstanding : " none");
	if (nh)
		fprintf(s->out, "Held at a gate:%s\n", held);
}

void info_switches(struct stepper *s)
{
	struct task_entries *te = stepper_te(s);
	uint64_t last = barrier_events_written(te), seq;
	struct clock_fit clock;
	struct barrier_event ev;
	int n = 0;

	if (clock_fit_init(&clock, &te->clock_start))
		memset(&clock, 0, sizeof(clock));
	seq = last > BARRIER_RING_SIZE ? last - BARRIER_RING_SIZE + 1 : 1;
	if (seq > 1)
		fprintf(s->out, "# %" PRIu64 " older events overwritten\n", seq - 1);
	fprintf(s->out, "  %-3s %-40s %-26s %-9s %s\n", "#", "SWITCH", "BY", "COUNT SET", "AT");
	for (; seq <= last; seq++) {
		char what[80], by[48], at[32];

		if (barrier_event_read(te, seq, &ev) || (ev.type != BARRIER_EV_SWITCH && ev.type != BARRIER_EV_FAIL))
			continue;
		snprintf(what, sizeof(what), "%s -> %s", stage_or_none(ev.stage_from), stage_or_none(ev.stage_to));
		snprintf(by, sizeof(by), "%s (pid %" PRId32 ")", role_name(ev.role), ev.pid);
		format_duration(at, sizeof(at), clock.ns_per_tick ?
				clock_fit_ns(&clock, ev.tsc) - te->clock_start.mono_ns : 0);
		fprintf(s->out, "  %-3d %-40s %-26s %-9" PRIu32 " +%s\n", ++n, what, by, ev.count_set, at);
	}
	if (!n)
		fprintf(s->out, "  (no switch yet)\n");
}

void info_breakpoints(struct stepper *s)
{
	int i, j, n = 0;

	for (i = 0; i < NR_USER_BPS; i++) {
		const struct user_bp *bp = &s->bps[i];
		char what[200];

		if (!bp->used)
			continue;
		if (!n++)
			fprintf(s->out, "%-4s %-11s %-5s %-4s %-40s %s\n", "Num", "Type", "Disp", "Enb", "What", "Hits");
		stepper_describe_bp(bp, what, sizeof(what));
		fprintf(s->out, "%-4d %-11s %-5s %-4s %-40s %u\n", i + 1, "breakpoint", bp->temporary ? "del" : "keep",
			bp->enabled ? "y" : "n", what, bp->hits);
		if (bp->cond)
			fprintf(s->out, "\tstop only if %s\n", bp->cond_text);
		if (bp->ignore)
			fprintf(s->out, "\twill ignore next %u hits\n", bp->ignore);
		if (bp->silent)
			fprintf(s->out, "\tsilent\n");
		for (j = 0; j < bp->nr_cmds; j++)
			fprintf(s->out, "\t%s\n", bp->cmds[j]);
	}
	if (!n)
		fprintf(s->out, "No breakpoints.\n");
	if (s->stepping)
		fprintf(s->out, "(a %s is in progress)\n", s->stepping == BP_ANY_EVENT ? "step" : "next");
}

/* The watchdog's report, on demand (restore/hang.c). */
void info_hang(struct stepper *s)
{
	hang_report(s->out, s->ctx);
}

void info_protocol(struct stepper *s)
{
	const struct protocol *p = s->ctx->proto;
	int seq[CR_STATE_NR], n = protocol_sequence(p, seq), i;

	fprintf(s->out, "Protocol %s: %s\n", p->name, p->summary);
	fprintf(s->out, "  %-19s %-11s %-5s %-27s %-28s %s\n", "STAGE", "SWITCHER", "WAKE", "COUNT", "FINISHED BY",
		"DRAIN");
	for (i = 0; i < n; i++) {
		const struct stage_rule *r = protocol_rule(p, seq[i]);
		static const char *const counts[] = {
			[COUNT_ONE] = "1 (the root)",
			[COUNT_PROCESSES] = "nr_tasks + nr_helpers",
			[COUNT_THREADS_AND_HELPERS] = "nr_threads + nr_helpers",
			[COUNT_LIVE_THREADS] = "live threads",
			[COUNT_UNCHANGED] = "unchanged",
		};
		char fin[128], drain[48];

		roles_list(r->finishers, fin, sizeof(fin));
		if (r->drain_waiter == PERFORMER_NONE)
			snprintf(drain, sizeof(drain), "-");
		else
			snprintf(drain, sizeof(drain), "%s <= %" PRId32, performer_name(r->drain_waiter), r->drain_limit);
		fprintf(s->out, "  %-19s %-11s %-5s %-27s %-28s %s\n", stage_name(seq[i]), performer_name(r->switcher),
			r->wake ? "yes" : "no", counts[r->count], fin, drain);
		fprintf(s->out, "      why: %s\n", r->why);
	}
}

void info_display(struct stepper *s)
{
	int i, n = 0;

	for (i = 0; i < MAX_DISPLAYS; i++)
		if (s->displays[i].e) {
			if (!n++)
				fprintf(s->out, "Auto-display expressions:\n");
			fprintf(s->out, "%d:   %s\n", i + 1, s->displays[i].text);
		}
	if (!n)
		fprintf(s->out, "There are no auto-display expressions now.\n");
}
