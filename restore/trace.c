/* trace.c: the switch log, the JSON-lines trace and per-stage stats, read
 * from the barrier's event ring.  The controller calls these when it is
 * awake anyway: reading costs the tasks nothing. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "barrier.h"
#include "protocol.h"
#include "trace.h"

/* The first switch leaves the initial start (-1, which is also FAIL's
 * number); nothing switches away from a real FAIL, so -1 on a SWITCH is
 * printed as "none". */
static const char *switch_from_name(const struct barrier_event *ev)
{
	if (ev->type == BARRIER_EV_SWITCH && ev->stage_from == CR_STATE_FAIL)
		return "none";
	return stage_name(ev->stage_from) ? stage_name(ev->stage_from) : "?";
}

static const char *stage_or_unknown(int stage)
{
	return stage_name(stage) ? stage_name(stage) : "?";
}

int trace_format_switch(char *buf, size_t size, const struct barrier_event *ev)
{
	return snprintf(buf, size, "%s -> %s  by %s (pid %" PRId32 ")  nr_in_progress=%" PRIu32,
			switch_from_name(ev), stage_or_unknown(ev->stage_to),
			role_name(ev->role), ev->pid, ev->count_set);
}

/* Calls fn for every event still in the ring, oldest first; returns how
 * many older ones were overwritten (or are still being written). */
typedef void (*event_fn)(const struct barrier_event *ev, void *arg);

static uint64_t for_each_event(const struct task_entries *te, event_fn fn, void *arg)
{
	uint64_t last = barrier_events_written(te), seq, lost;
	struct barrier_event ev;

	seq = last > BARRIER_RING_SIZE ? last - BARRIER_RING_SIZE + 1 : 1;
	lost = seq - 1;
	for (; seq <= last; seq++) {
		if (barrier_event_read(te, seq, &ev)) {
			lost++;
			continue;
		}
		fn(&ev, arg);
	}
	return lost;
}

static void print_switch(const struct barrier_event *ev, void *arg)
{
	char line[160];

	if (ev->type != BARRIER_EV_SWITCH && ev->type != BARRIER_EV_FAIL)
		return;
	trace_format_switch(line, sizeof(line), ev);
	fprintf(arg, "%s\n", line);
}

static uint64_t count_lost(const struct task_entries *te)
{
	uint64_t last = barrier_events_written(te);

	return last > BARRIER_RING_SIZE ? last - BARRIER_RING_SIZE : 0;
}

int trace_print_switch_log(FILE *out, const struct task_entries *te)
{
	uint64_t lost = count_lost(te);

	if (lost)
		fprintf(out, "# %" PRIu64 " older events overwritten\n", lost);
	for_each_event(te, print_switch, out);
	return ferror(out) ? -1 : 0;
}

struct jsonl_ctx {
	FILE *out;
	struct clock_fit clock;
};

static void print_stage_json(FILE *out, const char *key, int stage, const char *none)
{
	const char *name = stage_name(stage);

	if (none)
		name = none;
	if (name)
		fprintf(out, ",\"%s\":\"%s\"", key, name);
	else
		fprintf(out, ",\"%s\":%d", key, stage);
}

static void print_event_json(const struct barrier_event *ev, void *arg)
{
	struct jsonl_ctx *ctx = arg;
	int initial = ev->type == BARRIER_EV_SWITCH && ev->stage_from == CR_STATE_FAIL;

	fprintf(ctx->out, "{\"seq\":%" PRIu64 ",\"t_ns\":%" PRId64 ",\"tsc\":%" PRIu64
		",\"type\":\"%s\"", ev->seq, clock_fit_ns(&ctx->clock, ev->tsc),
		ev->tsc, barrier_event_type_name(ev->type));
	print_stage_json(ctx->out, "from", ev->stage_from, initial ? "none" : NULL);
	print_stage_json(ctx->out, "to", ev->stage_to, NULL);
	fprintf(ctx->out, ",\"pid\":%" PRId32 ",\"role\":\"%s\",\"slot\":%d"
		",\"count_set\":%" PRIu32 ",\"count_seen\":%" PRIu32 ",\"err\":%" PRId32 "}\n",
		ev->pid, role_name(ev->role), ev->slot, ev->count_set,
		ev->count_seen, ev->err);
}

int trace_write_jsonl(FILE *out, const struct task_entries *te)
{
	struct jsonl_ctx ctx = { .out = out };

	if (clock_fit_init(&ctx.clock, &te->clock_start))
		return -1;
	for_each_event(te, print_event_json, &ctx);
	return ferror(out) ? -1 : 0;
}

/* The Chrome trace event format (chrome://tracing, Perfetto): one process,
 * a track per participant (its image pid as tid; the controller's own), and
 * track 0 for the stages.  Complete events ("X"): on track 0 a slice per
 * stage, switch to switch; on a participant's track a slice per stage it
 * finished, from the switch into the stage to its arrival.  Instant events
 * ("i") on the performer's track for every switch, abort and failure.
 * Times in microseconds since the first event. */
struct chrome_ctx {
	FILE *out;
	struct clock_fit clock;
	int64_t t0;
	int n;				/* events written */
	int stage;			/* current start, -1 before the first switch */
	int64_t stage_ns[CR_STATE_NR];	/* when each stage was entered */
	int32_t *named;			/* tids given a thread_name */
	int nr_named, max_named;
};

static double chrome_us(const struct chrome_ctx *c, int64_t ns)
{
	return (double)(ns - c->t0) / 1000.0;
}

static void chrome_sep(struct chrome_ctx *c)
{
	fputs(c->n++ ? ",\n" : "\n", c->out);
}

static void chrome_name_thread(struct chrome_ctx *c, int32_t tid, const char *role)
{
	int i;

	for (i = 0; i < c->nr_named; i++)
		if (c->named[i] == tid)
			return;
	if (c->nr_named == c->max_named) {
		int32_t *n = realloc(c->named, (c->max_named * 2 + 64) * sizeof(*n));

		if (n) {
			c->named = n;
			c->max_named = c->max_named * 2 + 64;
		}
	}
	if (c->nr_named < c->max_named)
		c->named[c->nr_named++] = tid;
	chrome_sep(c);
	fprintf(c->out, "{\"ph\":\"M\",\"name\":\"thread_name\",\"ts\":0,\"pid\":1,\"tid\":%" PRId32
		",\"args\":{\"name\":\"%s %" PRId32 "\"}}", tid, role, tid);
	chrome_sep(c);
	fprintf(c->out, "{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"ts\":0,\"pid\":1,\"tid\":%" PRId32
		",\"args\":{\"sort_index\":%" PRId32 "}}", tid, tid);
}

static void chrome_slice(struct chrome_ctx *c, int32_t tid, const char *name, int64_t from, int64_t to)
{
	chrome_sep(c);
	fprintf(c->out, "{\"ph\":\"X\",\"name\":\"%s\",\"cat\":\"stage\",\"ts\":%.3f,\"dur\":%.3f,"
		"\"pid\":1,\"tid\":%" PRId32 "}", name, chrome_us(c, from), (double)(to - from) / 1000.0, tid);
}

static void chrome_event(const struct barrier_event *ev, void *arg)
{
	struct chrome_ctx *c = arg;
	int64_t t = clock_fit_ns(&c->clock, ev->tsc);
	char what[160];

	if (!c->n) {
		c->t0 = t;
		chrome_sep(c);
		fprintf(c->out, "{\"ph\":\"M\",\"name\":\"process_name\",\"ts\":0,\"pid\":1,\"tid\":0,"
			"\"args\":{\"name\":\"crstep restore\"}}");
		chrome_sep(c);
		fprintf(c->out, "{\"ph\":\"M\",\"name\":\"thread_name\",\"ts\":0,\"pid\":1,\"tid\":0,"
			"\"args\":{\"name\":\"stages\"}}");
	}
	chrome_name_thread(c, ev->pid, role_name(ev->role));
	switch (ev->type) {
	case BARRIER_EV_ARRIVE:
		if (ev->stage_from >= 0 && ev->stage_from < CR_STATE_NR && ev->stage_from == c->stage)
			chrome_slice(c, ev->pid, stage_or_unknown(ev->stage_from), c->stage_ns[c->stage], t);
		return;
	case BARRIER_EV_SWITCH:
	case BARRIER_EV_FAIL:
		if (c->stage >= 0 && c->stage < CR_STATE_NR)
			chrome_slice(c, 0, stage_or_unknown(c->stage), c->stage_ns[c->stage], t);
		c->stage = ev->type == BARRIER_EV_SWITCH ? ev->stage_to : -1;
		if (c->stage >= 0 && c->stage < CR_STATE_NR)
			c->stage_ns[c->stage] = t;
		trace_format_switch(what, sizeof(what), ev);
		break;
	case BARRIER_EV_ABORT:
		snprintf(what, sizeof(what), "abort by %s (pid %" PRId32 "): errno %" PRId32, role_name(ev->role),
			 ev->pid, ev->err);
		break;
	default:
		return;
	}
	chrome_sep(c);
	fprintf(c->out, "{\"ph\":\"i\",\"s\":\"t\",\"name\":\"%s\",\"cat\":\"%s\",\"ts\":%.3f,\"pid\":1,"
		"\"tid\":%" PRId32 ",\"args\":{\"performer\":\"%s\",\"nr_in_progress\":%" PRIu32 "}}",
		what, barrier_event_type_name(ev->type), chrome_us(c, t), ev->pid, role_name(ev->role), ev->count_set);
}

int trace_write_chrome(FILE *out, const struct task_entries *te)
{
	struct chrome_ctx *c = calloc(1, sizeof(*c));
	int ret;

	if (!c || clock_fit_init(&c->clock, &te->clock_start)) {
		free(c);
		return -1;
	}
	c->out = out;
	c->stage = -1;
	fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[", out);
	for_each_event(te, chrome_event, c);
	fputs("\n]}\n", out);
	ret = ferror(out) ? -1 : 0;
	free(c->named);
	free(c);
	return ret;
}

struct stats_ctx {
	const struct clock_fit *clock;
	int open_stage;			/* stage entered last, -1 if none */
	int64_t open_ns;
	int64_t spent_ns[CR_STATE_NR];
	int entered[CR_STATE_NR];
};

/* A stage's time runs from the switch into it to the switch (or FAIL) out
 * of it. */
static void account_switch(const struct barrier_event *ev, void *arg)
{
	struct stats_ctx *ctx = arg;
	int64_t t;

	if (ev->type != BARRIER_EV_SWITCH && ev->type != BARRIER_EV_FAIL)
		return;
	t = clock_fit_ns(ctx->clock, ev->tsc);
	if (ctx->open_stage >= 0)
		ctx->spent_ns[ctx->open_stage] += t - ctx->open_ns;
	ctx->open_stage = -1;
	if (ev->type == BARRIER_EV_SWITCH && ev->stage_to >= 0 &&
	    ev->stage_to < CR_STATE_NR) {
		ctx->open_stage = ev->stage_to;
		ctx->open_ns = t;
		ctx->entered[ev->stage_to] = 1;
	}
}

int trace_print_stats(FILE *out, const struct task_entries *te)
{
	struct clock_fit clock;
	struct stats_ctx ctx = { .clock = &clock, .open_stage = -1 };
	uint64_t lost;
	int stage;

	if (clock_fit_init(&clock, &te->clock_start))
		return -1;
	lost = for_each_event(te, account_switch, &ctx);
	if (lost)
		fprintf(out, "# %" PRIu64 " older events overwritten, times are partial\n", lost);
	/* The stage still current runs until now; COMPLETE is final, nothing
	 * switches out of it, so it has no time of its own. */
	if (ctx.open_stage >= 0 && ctx.open_stage != CR_STATE_COMPLETE)
		ctx.spent_ns[ctx.open_stage] +=
			clock_fit_ns(&clock, barrier_rdtsc()) - ctx.open_ns;
	for (stage = 0; stage < CR_STATE_NR; stage++) {
		if (!ctx.entered[stage])
			continue;
		fprintf(out, "%-18s %12.1f us%s\n", stage_name(stage),
			(double)ctx.spent_ns[stage] / 1000.0,
			stage != ctx.open_stage ? "" :
			stage == CR_STATE_COMPLETE ? "  (final)" : "  (current)");
	}
	return ferror(out) ? -1 : 0;
}
