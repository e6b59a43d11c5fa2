/* expr.c: the stepper's small expression language (condition, display,
 * expect), a recursive-descent parser into a tree and its evaluator over
 * the shared area as the controller sees it at a stop.
 *
 *   or      := and { "||" and }
 *   and     := not { "&&" not }
 *   not     := "!" not | cmp
 *   cmp     := unary [ ("==" | "!=" | "<" | "<=" | ">" | ">=") unary ]
 *   unary   := "-" unary | primary
 *   primary := INT | NAME | "task" "(" or ")" "." "stage"
 *            | "arrived" "(" or ")" | "(" or ")"
 *
 * Values are integers, except the roles `root`/`controller` and
 * `performer`, which compare by role with a role and by pid with an
 * integer: `performer == root` and `performer == 30100` both work. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "barrier.h"
#include "protocol.h"
#include "stepper.h"

enum node_type {
	N_INT, N_VAR, N_ROLE, N_TASK_STAGE, N_ARRIVED, N_NOT, N_NEG, N_AND, N_OR, N_CMP,
};

enum var {
	V_STAGE, V_NR_IN_PROGRESS, V_PARTICIPANTS, V_COUNT_SET, V_OUTSTANDING,
	V_NR_TASKS, V_NR_THREADS, V_NR_HELPERS, V_NR_ZOMBIES, V_FROM, V_TO, V_PERFORMER,
};

static const struct {
	const char *name;
	enum var var;
} vars[] = {
	{ "stage", V_STAGE },
	{ "nr_in_progress", V_NR_IN_PROGRESS },
	{ "participants", V_PARTICIPANTS },
	{ "count_set", V_COUNT_SET },
	{ "outstanding", V_OUTSTANDING },
	{ "nr_tasks", V_NR_TASKS },
	{ "nr_threads", V_NR_THREADS },
	{ "nr_helpers", V_NR_HELPERS },
	{ "nr_zombies", V_NR_ZOMBIES },
	{ "from", V_FROM },
	{ "to", V_TO },
	{ "performer", V_PERFORMER },
};

enum cmp_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

struct expr {
	enum node_type type;
	int column;
	int64_t value;		/* N_INT; N_VAR: enum var; N_ROLE: the role; N_CMP: op */
	struct expr *left, *right;
};

/* A value: an integer, a role, or a performer (role and pid). */
enum value_kind { VAL_INT, VAL_ROLE, VAL_PERFORMER };

struct value {
	enum value_kind kind;
	int64_t v;		/* the integer or the role */
	int32_t pid;		/* VAL_PERFORMER */
};

struct parser {
	const char *text, *pos;
	char *err;
	size_t errlen;
	int failed;
};

__attribute__((format(printf, 4, 5)))
static void set_error(char *err, size_t errlen, int column, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || !errlen)
		return;
	n = snprintf(err, errlen, "column %d: ", column);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - n, fmt, ap);
	va_end(ap);
}

static int column(const struct parser *p, const char *at)
{
	return (int)(at - p->text) + 1;
}

__attribute__((format(printf, 3, 4)))
static struct expr *parse_error(struct parser *p, const char *at, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	if (p->failed)
		return NULL;
	p->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_error(p->err, p->errlen, column(p, at), "%s", msg);
	return NULL;
}

static void skip_space(struct parser *p)
{
	while (isspace((unsigned char)*p->pos))
		p->pos++;
}

/* Does the input continue with the operator op (after blanks)? */
static int accept(struct parser *p, const char *op)
{
	size_t n = strlen(op);

	skip_space(p);
	if (strncmp(p->pos, op, n))
		return 0;
	/* "<" must not eat the first half of "<=", nor "!" of "!=". */
	if (n == 1 && (op[0] == '<' || op[0] == '>' || op[0] == '!' || op[0] == '=') && p->pos[1] == '=')
		return 0;
	p->pos += n;
	return 1;
}

static struct expr *node(enum node_type type, int col, int64_t value, struct expr *l, struct expr *r)
{
	struct expr *e = calloc(1, sizeof(*e));

	if (!e) {
		expr_free(l);
		expr_free(r);
		return NULL;
	}
	e->type = type;
	e->column = col;
	e->value = value;
	e->left = l;
	e->right = r;
	return e;
}

static struct expr *parse_or(struct parser *p);

static size_t word_len(const char *s)
{
	size_t n = 0;

	while (isalnum((unsigned char)s[n]) || s[n] == '_')
		n++;
	return n;
}

/* task(PID).stage and arrived(PID). */
static struct expr *parse_call(struct parser *p, const char *at, int is_task)
{
	struct expr *arg;

	if (!accept(p, "("))
		return parse_error(p, p->pos, "expected '(' after '%s'", is_task ? "task" : "arrived");
	arg = parse_or(p);
	if (!arg)
		return NULL;
	if (!accept(p, ")")) {
		expr_free(arg);
		return parse_error(p, p->pos, "expected ')'");
	}
	if (!is_task)
		return node(N_ARRIVED, column(p, at), 0, arg, NULL);
	skip_space(p);
	if (!accept(p, ".") || (skip_space(p), word_len(p->pos) != 5) || strncmp(p->pos, "stage", 5)) {
		expr_free(arg);
		return parse_error(p, p->pos, "expected '.stage' after task(...)");
	}
	p->pos += 5;
	return node(N_TASK_STAGE, column(p, at), 0, arg, NULL);
}

static struct expr *parse_name(struct parser *p)
{
	const char *at = p->pos;
	size_t n = word_len(at), i;
	char name[64];
	int stage;

	if (n >= sizeof(name))
		return parse_error(p, at, "name too long");
	memcpy(name, at, n);
	name[n] = 0;
	p->pos += n;
	if (!strcmp(name, "task") || !strcmp(name, "arrived"))
		return parse_call(p, at, name[0] == 't');
	if (!strcmp(name, "root"))
		return node(N_ROLE, column(p, at), ROLE_ROOT, NULL, NULL);
	if (!strcmp(name, "controller"))
		return node(N_ROLE, column(p, at), ROLE_CONTROLLER, NULL, NULL);
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if (!strcmp(name, vars[i].name))
			return node(N_VAR, column(p, at), vars[i].var, NULL, NULL);
	/* Stage constants are upper case, so that `stage` and `FORKING` never
	 * look alike; NONE is the start word before the first switch. */
	if (!strcmp(name, "NONE"))
		return node(N_INT, column(p, at), CR_STATE_FAIL, NULL, NULL);
	stage = stage_by_name(name);
	if (stage != STAGE_UNKNOWN && !strcmp(name, stage_name(stage)))
		return node(N_INT, column(p, at), stage, NULL, NULL);
	return parse_error(p, at, "unknown name '%s'", name);
}

static struct expr *parse_primary(struct parser *p)
{
	struct expr *e;
	const char *at;

	skip_space(p);
	at = p->pos;
	if (isdigit((unsigned char)*at)) {
		char *end;
		long long v;

		errno = 0;
		v = strtoll(at, &end, 0);
		if (errno || isalpha((unsigned char)*end) || *end == '_')
			return parse_error(p, at, "bad number");
		p->pos = end;
		return node(N_INT, column(p, at), v, NULL, NULL);
	}
	if (isalpha((unsigned char)*at) || *at == '_')
		return parse_name(p);
	if (accept(p, "(")) {
		e = parse_or(p);
		if (!e)
			return NULL;
		if (!accept(p, ")")) {
			expr_free(e);
			return parse_error(p, p->pos, "expected ')'");
		}
		return e;
	}
	if (!*at)
		return parse_error(p, at, "expression expected at the end");
	return parse_error(p, at, "unexpected '%c'", *at);
}

static struct expr *parse_unary(struct parser *p)
{
	const char *at;
	struct expr *e;

	skip_space(p);
	at = p->pos;
	if (accept(p, "-")) {
		e = parse_unary(p);
		return e ? node(N_NEG, column(p, at), 0, e, NULL) : NULL;
	}
	return parse_primary(p);
}

static struct expr *parse_cmp(struct parser *p)
{
	static const struct {
		const char *text;
		enum cmp_op op;
	} ops[] = {
		{ "==", OP_EQ }, { "!=", OP_NE }, { "<=", OP_LE }, { ">=", OP_GE },
		{ "<", OP_LT }, { ">", OP_GT },
	};
	struct expr *l = parse_unary(p), *r;
	const char *at;
	size_t i;

	if (!l)
		return NULL;
	skip_space(p);
	at = p->pos;
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (!accept(p, ops[i].text))
			continue;
		r = parse_unary(p);
		if (!r) {
			expr_free(l);
			return NULL;
		}
		return node(N_CMP, column(p, at), ops[i].op, l, r);
	}
	if (*at == '=' && at[1] != '=') {
		expr_free(l);
		return parse_error(p, at, "'=' is not a comparison: use '=='");
	}
	return l;
}

static struct expr *parse_not(struct parser *p)
{
	const char *at;
	struct expr *e;

	skip_space(p);
	at = p->pos;
	if (accept(p, "!")) {
		e = parse_not(p);
		return e ? node(N_NOT, column(p, at), 0, e, NULL) : NULL;
	}
	return parse_cmp(p);
}

static struct expr *parse_binary(struct parser *p, const char *op, enum node_type type,
				 struct expr *(*operand)(struct parser *))
{
	struct expr *l = operand(p), *r;
	const char *at;

	while (l) {
		skip_space(p);
		at = p->pos;
		if (!accept(p, op))
			break;
		r = operand(p);
		if (!r) {
			expr_free(l);
			return NULL;
		}
		l = node(type, column(p, at), 0, l, r);
	}
	return l;
}

static struct expr *parse_and(struct parser *p)
{
	return parse_binary(p, "&&", N_AND, parse_not);
}

static struct expr *parse_or(struct parser *p)
{
	return parse_binary(p, "||", N_OR, parse_and);
}

struct expr *expr_parse(const char *text, const char **end, char *err, size_t errlen)
{
	struct parser p = { .text = text, .pos = text, .err = err, .errlen = errlen };
	struct expr *e;

	if (err && errlen)
		err[0] = 0;
	e = parse_or(&p);
	if (!e) {
		if (!p.failed)
			set_error(err, errlen, column(&p, p.pos), "out of memory");
		return NULL;
	}
	skip_space(&p);
	if (end) {
		*end = p.pos;
	} else if (*p.pos) {
		expr_free(e);
		set_error(err, errlen, column(&p, p.pos), "unexpected '%.20s' after the expression", p.pos);
		return NULL;
	}
	return e;
}

void expr_free(struct expr *e)
{
	if (!e)
		return;
	expr_free(e->left);
	expr_free(e->right);
	free(e);
}

/* Evaluation. */

struct eval {
	const struct expr_env *env;
	char *err;
	size_t errlen;
};

static int current_stage(const struct task_entries *te)
{
	return __atomic_load_n(&te->start, __ATOMIC_ACQUIRE);
}

static int stop_type(const struct stop_event *st)
{
	if (!st)
		return BARRIER_EV_NONE;
	/* A parked participant's HOLD event keeps the type of what it was
	 * about to do in count_set (restore/barrier.c hold()). */
	return st->ev.type == BARRIER_EV_HOLD ? (int)st->ev.count_set : st->ev.type;
}

static int slot_by_pid(const struct task_entries *te, int64_t pid)
{
	uint32_t i;

	for (i = 0; i < te->nr_slots; i++)
		if (te->slots[i].pid == pid && te->slots[i].role != ROLE_THREAD)
			return (int)i;
	for (i = 0; i < te->nr_slots; i++)
		if (te->slots[i].pid == pid)
			return (int)i;
	return -1;
}

static int slot_arrived(const struct task_entries *te, int slot, int stage)
{
	return stage >= 0 && stage < CR_STATE_NR && te->slots[slot].arrive_tsc[stage] != 0;
}

/* Participants that finish the current stage and have not yet. */
static int64_t count_outstanding(const struct expr_env *env)
{
	const struct task_entries *te = env->te;
	int stage = current_stage(te);
	int64_t n = 0;
	uint32_t i;

	for (i = 0; i < te->nr_slots; i++)
		if (protocol_role_finishes(env->proto, stage, te->slots[i].role) &&
		    !slot_arrived(te, (int)i, stage))
			n++;
	return n;
}

/* The performer: of the stop's event (switch, arrival, abort), else of
 * the last switch recorded. */
static struct value performer(const struct expr_env *env)
{
	struct value v = { VAL_PERFORMER, ROLE_UNKNOWN, 0 };
	struct barrier_event ev;
	uint64_t seq, low;

	if (env->stop && stop_type(env->stop) != BARRIER_EV_NONE) {
		v.v = env->stop->ev.role;
		v.pid = env->stop->ev.pid;
		return v;
	}
	seq = barrier_events_written(env->te);
	low = seq > BARRIER_RING_SIZE ? seq - BARRIER_RING_SIZE : 0;
	for (; seq > low; seq--)
		if (!barrier_event_read(env->te, seq, &ev) && ev.type == BARRIER_EV_SWITCH) {
			v.v = ev.role;
			v.pid = ev.pid;
			break;
		}
	return v;
}

static int eval_var(struct eval *ev, enum var var, struct value *out)
{
	const struct expr_env *env = ev->env;
	const struct task_entries *te = env->te;
	int stage = current_stage(te), type = stop_type(env->stop);

	out->kind = VAL_INT;
	switch (var) {
	case V_STAGE: out->v = stage; break;
	case V_NR_IN_PROGRESS: {
		uint32_t raw = __atomic_load_n(&te->nr_in_progress, __ATOMIC_ACQUIRE);

		out->v = raw & BARRIER_ABORT_BIT ? -1 : BARRIER_COUNT(raw);
		break;
	}
	case V_PARTICIPANTS: out->v = stage_participants(env->proto, stage, te); break;
	case V_COUNT_SET:
		out->v = type == BARRIER_EV_SWITCH ? (int64_t)stage_participants(env->proto, env->stop->ev.stage_to, te) : -1;
		break;
	case V_OUTSTANDING: out->v = count_outstanding(env); break;
	case V_NR_TASKS: out->v = te->nr_tasks; break;
	case V_NR_THREADS: out->v = te->nr_threads; break;
	case V_NR_HELPERS: out->v = te->nr_helpers; break;
	case V_NR_ZOMBIES: out->v = te->nr_zombies; break;
	case V_FROM: out->v = type ? env->stop->ev.stage_from : CR_STATE_FAIL; break;
	case V_TO: out->v = type ? env->stop->ev.stage_to : CR_STATE_FAIL; break;
	case V_PERFORMER: *out = performer(env); break;
	}
	return 0;
}

static int eval_node(struct eval *ev, const struct expr *e, struct value *out);

/* A task argument: a pid, or `root`. */
static int eval_slot(struct eval *ev, const struct expr *arg, int *slot)
{
	const struct task_entries *te = ev->env->te;
	struct value v;
	uint32_t i;

	if (eval_node(ev, arg, &v))
		return -1;
	if (v.kind == VAL_ROLE && v.v == ROLE_ROOT) {
		for (i = 0; i < te->nr_slots; i++)
			if (te->slots[i].role == ROLE_ROOT) {
				*slot = (int)i;
				return 0;
			}
		set_error(ev->err, ev->errlen, arg->column, "no root task");
		return -1;
	}
	if (v.kind == VAL_PERFORMER)
		v.v = v.pid;
	else if (v.kind != VAL_INT) {
		set_error(ev->err, ev->errlen, arg->column, "a pid or root expected");
		return -1;
	}
	*slot = slot_by_pid(te, v.v);
	if (*slot < 0) {
		set_error(ev->err, ev->errlen, arg->column, "no task %" PRId64 " in this restore", v.v);
		return -1;
	}
	return 0;
}

static int compare(struct eval *ev, const struct expr *e, struct value a, struct value b, int64_t *res)
{
	int op = (int)e->value;
	int64_t x, y;

	if (a.kind == VAL_INT && b.kind != VAL_INT) {
		struct value t = a;

		a = b;
		b = t;
		/* Swapping the operands flips the order operators. */
		op = op == OP_LT ? OP_GT : op == OP_GT ? OP_LT : op == OP_LE ? OP_GE : op == OP_GE ? OP_LE : op;
	}
	x = a.v;
	y = b.v;
	if (a.kind != VAL_INT && b.kind != VAL_INT) {
		/* Roles: root == performer, performer == performer. */
		if (op != OP_EQ && op != OP_NE) {
			set_error(ev->err, ev->errlen, e->column, "roles compare only with == and !=");
			return -1;
		}
		if (a.kind == VAL_PERFORMER && b.kind == VAL_PERFORMER)
			y = x == y && a.pid == b.pid ? x : x + 1;
	} else if (a.kind == VAL_PERFORMER) {
		x = a.pid;		/* performer against an integer: its pid */
	} else if (a.kind == VAL_ROLE) {
		set_error(ev->err, ev->errlen, e->column, "a role compares with performer, not with a number");
		return -1;
	}
	switch (op) {
	case OP_EQ: *res = x == y; break;
	case OP_NE: *res = x != y; break;
	case OP_LT: *res = x < y; break;
	case OP_LE: *res = x <= y; break;
	case OP_GT: *res = x > y; break;
	case OP_GE: *res = x >= y; break;
	}
	return 0;
}

static int truth(struct eval *ev, const struct expr *e, struct value *out)
{
	struct value v;

	if (eval_node(ev, e, &v))
		return -1;
	if (v.kind == VAL_ROLE) {
		set_error(ev->err, ev->errlen, e->column, "a role is not a truth value (compare it with performer)");
		return -1;
	}
	out->kind = VAL_INT;
	out->v = v.kind == VAL_PERFORMER ? v.pid != 0 : v.v != 0;
	return 0;
}

static int eval_node(struct eval *ev, const struct expr *e, struct value *out)
{
	struct value a, b;
	int slot;

	out->kind = VAL_INT;
	out->pid = 0;
	switch (e->type) {
	case N_INT:
		out->v = e->value;
		return 0;
	case N_ROLE:
		out->kind = VAL_ROLE;
		out->v = e->value;
		return 0;
	case N_VAR:
		return eval_var(ev, (enum var)e->value, out);
	case N_TASK_STAGE:
		if (eval_slot(ev, e->left, &slot))
			return -1;
		out->v = ev->env->te->slots[slot].stage_reached;
		return 0;
	case N_ARRIVED:
		if (eval_slot(ev, e->left, &slot))
			return -1;
		out->v = slot_arrived(ev->env->te, slot, current_stage(ev->env->te));
		return 0;
	case N_NOT:
		if (truth(ev, e->left, &a))
			return -1;
		out->v = !a.v;
		return 0;
	case N_NEG:
		if (eval_node(ev, e->left, &a))
			return -1;
		if (a.kind != VAL_INT) {
			set_error(ev->err, ev->errlen, e->column, "'-' wants a number");
			return -1;
		}
		out->v = -a.v;
		return 0;
	case N_AND:
	case N_OR:
		/* Short-circuit, so `arrived(X) && task(X).stage == ...` is safe. */
		if (truth(ev, e->left, &a))
			return -1;
		if ((e->type == N_AND && !a.v) || (e->type == N_OR && a.v)) {
			out->v = a.v;
			return 0;
		}
		if (truth(ev, e->right, &b))
			return -1;
		out->v = b.v;
		return 0;
	case N_CMP:
		if (eval_node(ev, e->left, &a) || eval_node(ev, e->right, &b))
			return -1;
		return compare(ev, e, a, b, &out->v);
	}
	return -1;
}

int expr_eval(const struct expr *e, const struct expr_env *env, int64_t *value, char *err, size_t errlen)
{
	struct eval ev = { env, err, errlen };
	struct value v;

	if (err && errlen)
		err[0] = 0;
	if (e->type == N_ROLE) {
		set_error(err, errlen, e->column, "a role is not a value (compare it with performer)");
		return -1;
	}
	if (eval_node(&ev, e, &v))
		return -1;
	*value = v.kind == VAL_PERFORMER ? v.pid : v.v;
	return 0;
}

static int format_value(char *buf, size_t len, const struct value *v)
{
	if (v->kind == VAL_ROLE)
		return snprintf(buf, len, "%s", role_name((int)v->v));
	if (v->kind == VAL_PERFORMER)
		return snprintf(buf, len, "%s (pid %" PRId32 ")", role_name((int)v->v), v->pid);
	return snprintf(buf, len, "%" PRId64, v->v);
}

int expr_explain(const struct expr *e, const struct expr_env *env, char *buf, size_t len)
{
	struct eval ev = { env, NULL, 0 };
	struct value a, b;
	char l[64], r[64];

	if (e->type == N_CMP) {
		if (eval_node(&ev, e->left, &a) || eval_node(&ev, e->right, &b))
			return snprintf(buf, len, "cannot evaluate");
		format_value(l, sizeof(l), &a);
		format_value(r, sizeof(r), &b);
		return snprintf(buf, len, "left = %s, right = %s", l, r);
	}
	if (eval_node(&ev, e, &a))
		return snprintf(buf, len, "cannot evaluate");
	format_value(l, sizeof(l), &a);
	return snprintf(buf, len, "value = %s", l);
}
