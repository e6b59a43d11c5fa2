/* fuzz_stepper.c: the stepper's command and expression parsers
 * (stepper/cmd.c, stepper/expr.c) without a live restore.
 *
 * Input: text, one command a line (at most MAX_LINES).  The first line is
 * also completed as TAB would, and at the end parsed as an expression alone
 * (evaluated, explained) on the state the script left.  The lines are a
 * batch script (-ex lines):
 * stepper_new() checks it, and the stops of a restore are played to it in
 * the engine's order: the start, each switch of the protocol (the
 * controller's breakpointed switch, then the root's arrival), the end.
 *
 * The context is real, not a mock: the tree fixture's images read and
 * checked, the criu4 protocol table, a zeroed shared area set up by
 * task_entries_init() and restore_prepare_counts(), and every switch made
 * by stage_switch().  No task is restored (tree_pid 0): the root's host
 * pid is a real child that sleeps in pause(), so what `info tasks` and
 * `info hang` ask /proc is answered for a real blocked task. */
#include <signal.h>
#include <sys/prctl.h>

#include "fuzz.h"
#include "protocol.h"
#include "restore.h"
#include "stepper.h"

#define MAX_LINES 64

static struct img_set *set;
static struct shared_area *shared;
static struct restore_opts opts;
static struct restore_ctx ctx;
static struct clock_sample clock_start;
static pid_t sleeper;

static void stop_sleeper(void)
{
	kill(sleeper, SIGKILL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("CRSTEP_FUZZ_FIXTURE");

	(void)argc;
	(void)argv;
	fuzz_setup();
	if (!dir)
		dir = "tests/fixtures/criu-4.2/tree/images";
	set = imgset_read(dir);
	shared = set ? calloc(1, restore_shared_size(set)) : NULL;
	ctx.set = set;
	if (!set || !shared || imgset_check(set) || restore_ctx_alloc(&ctx)) {
		fprintf(stderr, "fuzz_stepper: cannot read the fixture %s (run from the top of the tree)\n", dir);
		exit(99);
	}
	opts.dir = dir;
	opts.batch = 1;
	ctx.opts = &opts;
	ctx.set = set;
	ctx.shared = shared;
	ctx.proto = protocol_get(PROTO_CRIU4);
	ctx.controller_pid = getpid();
	sleeper = fork();
	if (sleeper == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	if (sleeper < 0)
		exit(99);
	atexit(stop_sleeper);
	/* The area's clock calibration wants 5 ms between its two samples
	 * (lib/clock.c): keep one start time for every run instead of
	 * sleeping in each. */
	restore_shared_init(shared, set);
	clock_start = shared->te.clock_start;
	return 0;
}

static void reset_shared(void)
{
	memset(shared, 0, restore_shared_size(set));
	restore_shared_init(shared, set);
	shared->te.clock_start = clock_start;
	if (restore_prepare_counts(&ctx))
		abort();
	shared->te.slots[ctx.slots[0]].host_pid = sleeper;
}

/* The root held at its arrival at a stage: a participant's stop. */
static void hold_event(struct stop_event *st, int stage)
{
	struct task_slot *root = &shared->te.slots[ctx.slots[0]];

	memset(st, 0, sizeof(*st));
	st->kind = STOP_BREAKPOINT;
	st->bp = 0;
	st->slot = ctx.slots[0];
	st->ev.type = BARRIER_EV_HOLD;
	st->ev.count_set = BARRIER_EV_ARRIVE;
	st->ev.stage_from = st->ev.stage_to = stage;
	st->ev.pid = root->pid;
	st->ev.role = ROLE_ROOT;
}

/* The controller about to switch from -> to (not recorded yet: seq 0). */
static void switch_event(struct stop_event *st, int from, int to)
{
	memset(st, 0, sizeof(*st));
	st->kind = STOP_BREAKPOINT;
	st->bp = 0;
	st->slot = -1;
	st->ev.type = BARRIER_EV_SWITCH;
	st->ev.stage_from = from;
	st->ev.stage_to = to;
	st->ev.pid = ctx.controller_pid;
	st->ev.role = ROLE_CONTROLLER;
}

/* An expression as the commands see it: at most 1023 characters (their
 * rest-of-line buffer), which bounds the parser's recursion. */
static void expression(const char *line)
{
	struct task_entries *te = &shared->te;
	struct stop_event st;
	struct expr_env env = { te, ctx.proto, &st };
	char err[200], why[200], text[1024];
	const char *end;
	struct expr *e;
	int64_t v;

	snprintf(text, sizeof(text), "%s", line);
	hold_event(&st, te->start);
	e = expr_parse(text, NULL, err, sizeof(err));
	if (e && !expr_eval(e, &env, &v, err, sizeof(err)))
		expr_explain(e, &env, why, sizeof(why));
	expr_free(e);
	e = expr_parse(text, &end, err, sizeof(err));
	if (e && (end < text || end > text + strlen(text)))
		abort();
	if (e && !expr_eval(e, &env, &v, err, sizeof(err)))
		expr_explain(e, &env, why, sizeof(why));
	expr_free(e);
}

static void complete(const char *line)
{
	struct stepper_opts o = { .batch = 1, .out = stdout };
	struct stepper *s = stepper_new(&o);
	const char *word = strrchr(line, ' ');
	char **c;
	size_t i;

	if (!s)
		abort();
	c = stepper_complete(s, line, word ? word + 1 : line);
	for (i = 0; c && c[i]; i++)
		free(c[i]);
	free(c);
	stepper_free(s);
}

/* The stops of a restore, in the engine's order, until the script kills,
 * quits or the restore completes. */
static void play(struct stepper *s)
{
	struct task_entries *te = &shared->te;
	int seq[CR_STATE_NR], n = protocol_sequence(ctx.proto, seq), i, from = CR_STATE_FAIL;
	struct stop_event st = { .kind = STOP_START, .bp = -1, .slot = -1 };
	enum resume_action a;

	a = stepper_stop(s, &ctx, &st);
	for (i = 0; i < n && a == RESUME_CONTINUE; i++) {
		switch_event(&st, from, seq[i]);
		a = stepper_stop(s, &ctx, &st);
		if (a != RESUME_CONTINUE)
			break;
		stage_switch(te, seq[i], stage_participants(ctx.proto, seq[i], te), 0, ctx.controller_pid,
			     ROLE_CONTROLLER);
		from = seq[i];
		if (!protocol_role_finishes(ctx.proto, seq[i], ROLE_ROOT))
			continue;
		hold_event(&st, seq[i]);
		a = stepper_stop(s, &ctx, &st);
	}
	memset(&st, 0, sizeof(st));
	st.bp = st.slot = -1;
	st.kind = STOP_COMPLETE;
	if (a == RESUME_KILL || a == RESUME_QUIT) {
		stage_fail(te, ctx.controller_pid, ROLE_CONTROLLER);
		st.kind = STOP_FAILED;
	}
	stepper_stop(s, &ctx, &st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *lines[MAX_LINES];
	struct stepper_opts o = { .batch = 1, .ex = lines, .out = stdout };
	struct stepper *s;
	char *text, *p;

	text = malloc(size + 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = 0;
	for (p = text; p && o.nr_ex < MAX_LINES; o.nr_ex++) {
		lines[o.nr_ex] = p;
		p = strchr(p, '\n');
		if (p)
			*p++ = 0;
	}
	reset_shared();
	complete(lines[0]);
	s = stepper_new(&o);
	if (s) {
		play(s);
		stepper_finish(s);
		stepper_free(s);
	}
	expression(lines[0]);
	free(text);
	return 0;
}
