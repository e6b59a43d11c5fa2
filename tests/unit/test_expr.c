/* test_expr.c: the stepper's expression language: precedence, names,
 * performer comparisons, task()/arrived(), and errors with their column.
 * The shared area is a real one (task_entries_init on zeroed memory) with
 * its state written the way the barrier writes it. */
#include <stdlib.h>
#include <string.h>

#include "barrier.h"
#include "protocol.h"
#include "stepper.h"
#include "tap.h"

static struct task_entries *te;
static struct stop_event stop;
static struct expr_env env;

static int eval_ok(const char *text, int64_t want)
{
	char err[200];
	struct expr *e = expr_parse(text, NULL, err, sizeof(err));
	int64_t v = -12345;
	int r;

	if (!e)
		return ok(0, "%s: parse error %s", text, err);
	r = expr_eval(e, &env, &v, err, sizeof(err));
	expr_free(e);
	if (r)
		return ok(0, "%s: eval error %s", text, err);
	return ok(v == want, "%s == %lld (got %lld)", text, (long long)want, (long long)v);
}

static void parse_fails(const char *text, const char *want_err)
{
	char err[200];
	struct expr *e = expr_parse(text, NULL, err, sizeof(err));

	ok(!e && strstr(err, want_err) != NULL, "'%s' is refused: '%s' (want '%s')", text, err, want_err);
	expr_free(e);
}

static void eval_fails(const char *text, const char *want_err)
{
	char err[200] = "";
	struct expr *e = expr_parse(text, NULL, err, sizeof(err));
	int64_t v;

	ok(e && expr_eval(e, &env, &v, err, sizeof(err)) && strstr(err, want_err),
	   "'%s' fails at run time: '%s' (want '%s')", text, err, want_err);
	expr_free(e);
}

static void test_arithmetic(void)
{
	eval_ok("1", 1);
	eval_ok("  42 ", 42);
	eval_ok("0x10 == 16", 1);
	eval_ok("-3 < 2", 1);
	eval_ok("1 == 1 && 2 == 3", 0);
	eval_ok("1 == 1 || 2 == 3", 1);
	eval_ok("0 || 0 && 1", 0);
	eval_ok("1 || 0 && 0", 1);		/* && binds tighter */
	eval_ok("(1 || 0) && 0", 0);
	eval_ok("!0", 1);
	eval_ok("!1 == 0", 1);			/* ! applies to the comparison */
	eval_ok("!!5", 1);
	eval_ok("3 <= 3 && 3 >= 3 && 2 < 3 && 4 > 3 && 1 != 2", 1);
	eval_ok("FORKING", CR_STATE_FORKING);
	eval_ok("RESTORE_CREDS > RESTORE", 1);
	eval_ok("NONE == FAIL", 1);
}

static void test_names(void)
{
	eval_ok("stage == FORKING", 1);
	eval_ok("nr_in_progress", 1);
	eval_ok("nr_tasks == 2 && nr_threads == 3 && nr_helpers == 0", 1);
	eval_ok("participants", 2);		/* FORKING: nr_tasks + nr_helpers */
	eval_ok("outstanding", 1);		/* 401 arrived, 402 did not */
	eval_ok("arrived(401)", 1);
	eval_ok("arrived(402)", 0);
	eval_ok("!arrived(402) && outstanding == 1", 1);
	eval_ok("task(402).stage == PREPARE_NAMESPACES", 1);
	eval_ok("task(root).stage", CR_STATE_FORKING);
	eval_ok("arrived(root)", 1);
	eval_ok("from == FORKING && to == RESTORE", 1);
	eval_ok("count_set", 3);		/* RESTORE: nr_threads + nr_helpers */
}

static void test_performer(void)
{
	eval_ok("performer == root", 1);
	eval_ok("root == performer", 1);
	eval_ok("performer == controller", 0);
	eval_ok("performer != controller", 1);
	eval_ok("performer == 401", 1);
	eval_ok("401 == performer", 1);
	eval_ok("performer == 402", 0);
	eval_ok("performer == root && nr_in_progress > 0", 1);
	eval_ok("performer", 401);
	/* Without a stop event: the last recorded switch's performer. */
	env.stop = NULL;
	eval_ok("performer == controller", 1);
	eval_ok("performer == 77", 1);
	env.stop = &stop;
}

static void test_errors(void)
{
	char err[200];
	const char *end;
	struct expr *e;

	parse_fails("", "column 1: expression expected");
	parse_fails("stage ==", "column 9: expression expected");
	parse_fails("(1 == 1", "column 8: expected ')'");
	parse_fails("stage = 1", "column 7: '=' is not a comparison");
	parse_fails("nr_in_progres > 1", "column 1: unknown name 'nr_in_progres'");
	parse_fails("1 && bogus", "column 6: unknown name 'bogus'");
	parse_fails("task(1)", "column 8: expected '.stage'");
	parse_fails("arrived 1", "column 9: expected '('");
	parse_fails("1 2", "column 3: unexpected '2'");
	parse_fails("12abc", "column 1: bad number");
	parse_fails("forking", "unknown name 'forking'");	/* constants are upper case */
	parse_fails("1 # 2", "column 3: unexpected");
	eval_fails("task(999).stage", "column 6: no task 999");
	eval_fails("arrived(7)", "no task 7");
	eval_fails("root", "a role is not a value");
	eval_fails("performer < root", "roles compare only with == and !=");
	eval_fails("root == 1", "a role compares with performer");

	/* expect's form: an expression, then a message. */
	e = expr_parse("nr_in_progress == 1 the root holds its share", &end, err, sizeof(err));
	ok(e && !strcmp(end, "the root holds its share"), "a message may follow the expression: '%s'",
	   e ? end : err);
	expr_free(e);
	e = expr_parse("stage == FORKING", &end, err, sizeof(err));
	ok(e && !*end, "without a message the end is the end of the text");
	expr_free(e);
}

static void test_explain(void)
{
	char err[200], why[200];
	struct expr *e = expr_parse("nr_in_progress == 5", NULL, err, sizeof(err));

	expr_explain(e, &env, why, sizeof(why));
	ok(!strcmp(why, "left = 1, right = 5"), "a failed comparison explains both sides: %s", why);
	expr_free(e);
	e = expr_parse("performer == controller", NULL, err, sizeof(err));
	expr_explain(e, &env, why, sizeof(why));
	ok(!strcmp(why, "left = root (pid 401), right = controller"), "performers are explained by role: %s", why);
	expr_free(e);
}

int main(void)
{
	const struct protocol *p = protocol_get(PROTO_SEED);
	int root, task;

	te = calloc(1, task_entries_size(2));
	task_entries_init(te, 2);
	root = task_slot_assign(te, 401, ROLE_ROOT);
	task = task_slot_assign(te, 402, ROLE_TASK);
	te->nr_tasks = 2;
	te->nr_threads = 3;
	/* The controller switched to FORKING; 401 finished PREPARE_NAMESPACES
	 * and FORKING, 402 only PREPARE_NAMESPACES; the root is about to
	 * switch FORKING -> RESTORE (seed). */
	stage_switch(te, CR_STATE_ROOT_TASK, 1, 0, 77, ROLE_CONTROLLER);
	stage_switch(te, CR_STATE_PREPARE_NAMESPACES, 1, 0, 77, ROLE_CONTROLLER);
	stage_switch(te, CR_STATE_FORKING, 2, 0, 77, ROLE_CONTROLLER);
	te->slots[root].arrive_tsc[CR_STATE_FORKING] = 1;
	te->slots[root].stage_reached = CR_STATE_FORKING;
	te->slots[task].arrive_tsc[CR_STATE_PREPARE_NAMESPACES] = 1;
	te->slots[task].stage_reached = CR_STATE_PREPARE_NAMESPACES;
	te->nr_in_progress = 1;
	stop.kind = STOP_BREAKPOINT;
	stop.bp = 0;
	stop.slot = root;
	stop.ev.type = BARRIER_EV_HOLD;
	stop.ev.count_set = BARRIER_EV_SWITCH;
	stop.ev.stage_from = CR_STATE_FORKING;
	stop.ev.stage_to = CR_STATE_RESTORE;
	stop.ev.pid = 401;
	stop.ev.role = ROLE_ROOT;
	env.te = te;
	env.proto = p;
	env.stop = &stop;

	test_arithmetic();
	test_names();
	test_performer();
	test_errors();
	test_explain();
	free(te);
	return done_testing();
}
