/* cmd.c: the stepper's commands, one table (name, alias, arguments, usage,
 * exec) as tmux's cmd-*.c entries are: help, TAB completion and unique
 * prefixes all come from it.  Words are split by libedit's tokenizer, so
 * quoting works as in a shell; commands that take an expression read the
 * raw text after their name. */
#include <ctype.h>
#include <errno.h>
#include <histedit.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "protocol.h"
#include "restore.h"
#include "stepper-priv.h"

#define CMD_NOREPEAT 1		/* an empty line does not repeat it */
#define CMD_EXPR 2		/* the text after the name is an expression */
#define CMD_EXPR_AFTER_N 4	/* ... after a breakpoint number */
#define CMD_EXPR_MESSAGE 8	/* ... which a message may follow */
#define CMD_BREAK_IF 16		/* a breakpoint spec with an optional `if EXPR` */

struct cmd_entry {
	const char *name;
	const char *alias;
	int min_args, max_args;	/* words after the name; -1: any */
	int flags;
	const char *usage;
	const char *help;
	int (*exec)(struct stepper *s, int argc, const char **argv, const char *rest);
};


/* Breakpoints. */

static const char *find_word(const char *text, const char *word)
{
	size_t n = strlen(word);
	const char *p;

	for (p = text; (p = strstr(p, word)); p += n)
		if ((p == text || isspace((unsigned char)p[-1])) && (isspace((unsigned char)p[n]) || !p[n]))
			return p;
	return NULL;
}

static int parse_stage(struct stepper *s, const char *word, int *stage)
{
	const struct protocol *p = s->ctx->proto;

	*stage = stage_by_name(word);
	if (*stage == STAGE_UNKNOWN || *stage == CR_STATE_FAIL)
		return cmd_error(s, "unknown stage '%s' (ROOT_TASK, PREPARE_NAMESPACES, FORKING, PRE_RESTORER, "
				 "RESTORE, RESTORE_SIGCHLD, RESTORE_CREDS, COMPLETE)", word);
	if (!protocol_rule(p, *stage))
		return cmd_error(s, "protocol %s has no stage %s", p->name, stage_name(*stage));
	return 0;
}

/* The stages a role finishes under this protocol, for an error message. */
static void finished_stages(const struct protocol *p, int role, char *buf, size_t len)
{
	int seq[CR_STATE_NR], n = protocol_sequence(p, seq), i;
	size_t used = 0;

	buf[0] = 0;
	for (i = 0; i < n && used < len; i++)
		if (protocol_role_finishes(p, seq[i], role))
			used += snprintf(buf + used, len - used, "%s%s", used ? " " : "", stage_name(seq[i]));
	if (!used)
		snprintf(buf, len, "none");
}

/* "STAGE", "FROM->TO" (blanks allowed around the arrow), "task PID
 * [STAGE]", "abort". */
static int parse_bp_spec(struct stepper *s, const char *spec, struct user_bp *bp)
{
	char buf[256], *words[4], *arrow, *save = NULL, *w;
	const struct protocol *p = s->ctx->proto;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", spec);
	arrow = strstr(buf, "->");
	if (arrow) {
		char *from = buf, *to = arrow + 2, *e;

		*arrow = 0;
		from += strspn(from, " \t");
		for (e = from + strlen(from); e > from && isspace((unsigned char)e[-1]);)
			*--e = 0;
		to += strspn(to, " \t");
		for (e = to + strlen(to); e > to && isspace((unsigned char)e[-1]);)
			*--e = 0;
		if (parse_stage(s, from, &bp->from) || parse_stage(s, to, &bp->to))
			return -1;
		if (protocol_next_stage(p, bp->from) != bp->to)
			return cmd_error(s, "protocol %s never switches %s -> %s", p->name, stage_name(bp->from),
					 stage_name(bp->to));
		bp->kind = BP_SWITCH;
		return 0;
	}
	for (w = strtok_r(buf, " \t", &save); w && n < 4; w = strtok_r(NULL, " \t", &save))
		words[n++] = w;
	if (n == 0)
		return cmd_error(s, "break what? (STAGE, FROM->TO, task PID [STAGE], abort)");
	if (n == 1 && !strcmp(words[0], "abort")) {
		bp->kind = BP_ABORT;
		bp->from = bp->to = -1;
		return 0;
	}
	if (!strcmp(words[0], "task")) {
		struct task_entries *te = stepper_te(s);
		uint32_t i;
		int role = ROLE_TASK;

		if (n < 2 || n > 3)
			return cmd_error(s, "usage: break task PID [STAGE]");
		if (stepper_parse_pid(s, words[1], &bp->pid))
			return -1;
		for (i = 0; i < te->nr_slots; i++)
			if (te->slots[i].pid == bp->pid)
				role = te->slots[i].role;
		bp->kind = BP_ARRIVE;
		bp->from = bp->to = -1;
		if (n == 3) {
			char list[200];

			if (parse_stage(s, words[2], &bp->to))
				return -1;
			bp->from = bp->to;
			if (!protocol_role_finishes(p, bp->to, role)) {
				finished_stages(p, role, list, sizeof(list));
				return cmd_error(s, "under protocol %s the %s (task %" PRId32 ") never arrives at %s; "
						 "it arrives at: %s", p->name, role_name(role), bp->pid,
						 stage_name(bp->to), list);
			}
		}
		return 0;
	}
	if (n > 1)
		return cmd_error(s, "break: unexpected '%s' (STAGE, FROM->TO, task PID [STAGE], abort)", words[1]);
	bp->kind = BP_SWITCH;
	bp->from = -1;
	return parse_stage(s, words[0], &bp->to);
}

static int make_break(struct stepper *s, const char *rest, int temporary)
{
	char spec[256], err[200], what[200];
	const char *cond = find_word(rest, "if");
	struct user_bp bp = { .used = 1, .enabled = 1, .temporary = temporary };
	int i;

	snprintf(spec, sizeof(spec), "%.*s", cond ? (int)(cond - rest) : (int)strlen(rest), rest);
	if (parse_bp_spec(s, spec, &bp))
		return CMD_ERROR;
	if (cond) {
		bp.cond = expr_parse(cond + 2, NULL, err, sizeof(err));
		if (!bp.cond)
			return cmd_error(s, "condition: %s", err);
		bp.cond_text = strdup(cond + 2 + strspn(cond + 2, " \t"));
	}
	for (i = 0; i < NR_USER_BPS && s->bps[i].used; i++)
		;
	if (i == NR_USER_BPS) {
		stepper_bp_free(&bp);
		return cmd_error(s, "all %d breakpoints are in use", NR_USER_BPS);
	}
	s->bps[i] = bp;
	s->last_bp = i;
	barrier_bp_set(stepper_te(s), i, bp.kind, bp.from, bp.to, bp.pid);
	stepper_describe_bp(&bp, what, sizeof(what));
	fprintf(s->out, "%s %d: %s%s%s\n", temporary ? "Temporary breakpoint" : "Breakpoint", i + 1, what,
		bp.cond ? " if " : "", bp.cond ? bp.cond_text : "");
	return CMD_OK;
}

static int cmd_break(struct stepper *s, int argc, const char **argv, const char *rest)
{
	(void)argc;
	(void)argv;
	return make_break(s, rest, 0);
}

static int cmd_tbreak(struct stepper *s, int argc, const char **argv, const char *rest)
{
	(void)argc;
	(void)argv;
	return make_break(s, rest, 1);
}

static int parse_bp_number(struct stepper *s, const char *word, int *idx)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(word, &end, 10);
	if (errno || *end || end == word || n < 1 || n > NR_USER_BPS || !s->bps[n - 1].used)
		return cmd_error(s, "no breakpoint number %s", word);
	*idx = (int)n - 1;
	return 0;
}

/* delete / disable / enable: the numbers given, or every breakpoint. */
static int for_bps(struct stepper *s, int argc, const char **argv, void (*fn)(struct stepper *, int))
{
	int i, idx;

	for (i = 1; i < argc; i++)
		if (parse_bp_number(s, argv[i], &idx))
			return CMD_ERROR;
	if (argc == 1) {
		for (idx = 0; idx < NR_USER_BPS; idx++)
			if (s->bps[idx].used)
				fn(s, idx);
		return CMD_OK;
	}
	for (i = 1; i < argc; i++)
		if (!parse_bp_number(s, argv[i], &idx))
			fn(s, idx);
	return CMD_OK;
}

static void bp_delete(struct stepper *s, int idx)
{
	barrier_bp_set(stepper_te(s), idx, BP_NONE, -1, -1, 0);
	stepper_bp_free(&s->bps[idx]);
	if (s->stop_user_bp == idx)
		s->stop_user_bp = -1;
}

static void bp_disable(struct stepper *s, int idx)
{
	s->bps[idx].enabled = 0;
	barrier_bp_enable(stepper_te(s), idx, 0);
}

static void bp_enable(struct stepper *s, int idx)
{
	s->bps[idx].enabled = 1;
	barrier_bp_enable(stepper_te(s), idx, 1);
}

static int cmd_delete(struct stepper *s, int argc, const char **argv, const char *rest)
{
	(void)rest;
	return for_bps(s, argc, argv, bp_delete);
}

static int cmd_disable(struct stepper *s, int argc, const char **argv, const char *rest)
{
	(void)rest;
	return for_bps(s, argc, argv, bp_disable);
}

static int cmd_enable(struct stepper *s, int argc, const char **argv, const char *rest)
{
	(void)rest;
	return for_bps(s, argc, argv, bp_enable);
}

static int cmd_condition(struct stepper *s, int argc, const char **argv, const char *rest)
{
	struct user_bp *bp;
	struct expr *e = NULL;
	char err[200];
	int idx;

	if (parse_bp_number(s, argv[1], &idx))
		return CMD_ERROR;
	bp = &s->bps[idx];
	rest += strspn(rest, " \t");
	rest += strcspn(rest, " \t");
	rest += strspn(rest, " \t");
	(void)argc;
	if (*rest) {
		e = expr_parse(rest, NULL, err, sizeof(err));
		if (!e)
			return cmd_error(s, "condition: %s", err);
	}
	expr_free(bp->cond);
	free(bp->cond_text);
	bp->cond = e;
	bp->cond_text = e ? strdup(rest) : NULL;
	if (e)
		fprintf(s->out, "Breakpoint %d stops only if %s\n", idx + 1, rest);
	else
		fprintf(s->out, "Breakpoint %d now unconditional.\n", idx + 1);
	return CMD_OK;
}

/* commands [N]: the lines up to `end` run whenever N stops; a first line
 * `silent` suppresses its report. */
static int cmd_commands(struct stepper *s, int argc, const char **argv, const char *rest)
{
	struct user_bp *bp;
	const char *line, *origin;
	int idx = s->last_bp;
	char **cmds = NULL, **origins = NULL;
	int n = 0, silent = 0, i;

	(void)rest;
	if (argc > 1 && parse_bp_number(s, argv[1], &idx))
		return CMD_ERROR;
	if (idx < 0 || !s->bps[idx].used)
		return cmd_error(s, "commands: no breakpoint to attach them to");
	if (!s->origin)
		fprintf(s->out, "Type commands for breakpoint %d, one per line.\nEnd with a line saying just \"end\".\n",
			idx + 1);
	for (;;) {
		char **c, **o;

		line = stepper_next_line(s, &origin, ">");
		if (!line)
			break;
		line += strspn(line, " \t");
		if (!strcmp(line, "end"))
			break;
		if (!strcmp(line, "silent") && !n && !silent) {
			silent = 1;
			continue;
		}
		c = realloc(cmds, (n + 1) * sizeof(*c));
		if (c)
			cmds = c;
		o = realloc(origins, (n + 1) * sizeof(*o));
		if (o)
			origins = o;
		if (!c || !o)
			break;
		cmds[n] = strdup(line);
		origins[n] = origin ? strdup(origin) : NULL;
		n++;
	}
	bp = &s->bps[idx];
	for (i = 0; i < bp->nr_cmds; i++) {
		free(bp->cmds[i]);
		free(bp->cmd_origins[i]);
	}
	free(bp->cmds);
	free(bp->cmd_origins);
	bp->cmds = cmds;
	bp->cmd_origins = origins;
	bp->nr_cmds = n;
	bp->silent = silent;
	return CMD_OK;
}

/* Running. */

static int resume(struct stepper *s, enum resume_action a)
{
	s->resume = a;
	return CMD_RESUME;
}

static int cmd_continue(struct stepper *s, int argc, const char **argv, const char *rest)
{
	char *end;
	long n;

	(void)rest;
	if (argc > 1) {
		errno = 0;
		n = strtol(argv[1], &end, 10);
		if (errno || *end || n < 1)
			return cmd_error(s, "continue: '%s' is not a positive count", argv[1]);
		if (s->stop_user_bp < 0)
			return cmd_error(s, "continue %ld: not stopped at a breakpoint", n);
		s->bps[s->stop_user_bp].ignore = (unsigned)n - 1;
		fprintf(s->out, "Will ignore next %ld crossings of breakpoint %d.  Continuing.\n", n - 1,
			s->stop_user_bp + 1);
	}
	return resume(s, RESUME_CONTINUE);
}

static int arm_step(struct stepper *s, enum barrier_bp_kind kind)
{
	if (s->final) {
		fprintf(s->out, "The restore is over: nothing to step.\n");
		return CMD_OK;
	}
	s->stepping = kind;
	barrier_bp_set(stepper_te(s), STEPPER_BP_STEP, kind, -1, -1, 0);
	return resume(s, RESUME_CONTINUE);
}

static int cmd_step(struct stepper *s, int argc, const char **argv, const char *rest)
{
	(void)argc;
	(void)argv;
	(void)rest;
	return arm_step(s, BP_ANY_EVENT);
}

static int cmd_next(struct stepper *s, int argc, const char **argv, const char *rest)
{
	(void)argc;
	(void)argv;
	(void)rest;
	return arm_step(s, BP_ANY_SWITCH);
}

static int cmd_kill(struct stepper *s, int argc, const char **argv, const char *rest)
{
	(void)argc;
	(void)argv;
	(void)rest;
	return resume(s, RESUME_KILL);
}

static int cmd_detach(struct stepper *s, int argc, const char **argv, const char *rest)
{
	(void)argc;
	(void)argv;
	(void)rest;
	fprintf(s->out, "Detaching: breakpoints disarmed, the restore runs to its end and is left running.\n");
	return resume(s, RESUME_DETACH);
}

static int cmd_quit(struct stepper *s, int argc, const char **argv, const char *rest)
{
	(void)argc;
	(void)argv;
	(void)rest;
	return resume(s, RESUME_QUIT);
}

/* Looking. */

static const struct info_entry {
	const char *name, *alias;
	void (*fn)(struct stepper *s);
	const char *help;
} info_table[] = {
	{ "barrier", NULL, info_barrier, "the current stage: count, participants, arrived, outstanding" },
	{ "breakpoints", "b", info_breakpoints, "the breakpoints, with their hits" },
	{ "display", NULL, info_display, "the display expressions" },
	{ "hang", NULL, info_hang, "who the current barrier waits for, and what the kernel says of them" },
	{ "protocol", NULL, info_protocol, "the protocol variant's table" },
	{ "switches", NULL, info_switches, "every switch so far: performer, count set, time" },
	{ "tasks", NULL, info_tasks, "every participant: stage, what it waits on, /proc state" },
};
#define NR_INFO (sizeof(info_table) / sizeof(info_table[0]))

static int cmd_info(struct stepper *s, int argc, const char **argv, const char *rest)
{
	const struct info_entry *found = NULL;
	size_t i, len, n = 0;
	char names[200] = "";

	(void)argc;
	(void)rest;
	len = strlen(argv[1]);
	for (i = 0; i < NR_INFO; i++) {
		if ((info_table[i].alias && !strcmp(argv[1], info_table[i].alias)) ||
		    !strcmp(argv[1], info_table[i].name)) {
			found = &info_table[i];
			n = 1;
			break;
		}
		if (!strncmp(argv[1], info_table[i].name, len)) {
			found = &info_table[i];
			n++;
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", n > 1 ? ", " : "",
				 info_table[i].name);
		}
	}
	if (n == 0)
		return cmd_error(s, "info: unknown subject '%s' (barrier, breakpoints, display, hang, protocol, switches, "
				 "tasks)", argv[1]);
	if (n > 1)
		return cmd_error(s, "info: ambiguous '%s': %s", argv[1], names);
	found->fn(s);
	return CMD_OK;
}

static int cmd_display(struct stepper *s, int argc, const char **argv, const char *rest)
{
	char err[200];
	struct expr *e;
	int i;

	(void)argv;
	if (argc == 1) {
		for (i = 0; i < MAX_DISPLAYS; i++)
			if (s->displays[i].e)
				stepper_show_display(s, i);
		return CMD_OK;
	}
	e = expr_parse(rest, NULL, err, sizeof(err));
	if (!e)
		return cmd_error(s, "display: %s", err);
	for (i = 0; i < MAX_DISPLAYS && s->displays[i].e; i++)
		;
	if (i == MAX_DISPLAYS) {
		expr_free(e);
		return cmd_error(s, "display: all %d displays are in use", MAX_DISPLAYS);
	}
	s->displays[i].e = e;
	s->displays[i].text = strdup(rest);
	stepper_show_display(s, i);
	return CMD_OK;
}

static int cmd_undisplay(struct stepper *s, int argc, const char **argv, const char *rest)
{
	int i, first = 0, last = MAX_DISPLAYS - 1;

	(void)rest;
	if (argc > 1) {
		first = last = atoi(argv[1]) - 1;
		if (first < 0 || first >= MAX_DISPLAYS || !s->displays[first].e)
			return cmd_error(s, "undisplay: no display number %s", argv[1]);
	}
	for (i = first; i <= last; i++) {
		expr_free(s->displays[i].e);
		free(s->displays[i].text);
		s->displays[i].e = NULL;
		s->displays[i].text = NULL;
	}
	return CMD_OK;
}

/* expect EXPR [MESSAGE]: one TAP line; the plan comes at the end. */
static int cmd_expect(struct stepper *s, int argc, const char **argv, const char *rest)
{
	struct expr_env env;
	char err[200];
	int r;

	(void)argc;
	(void)argv;
	stepper_expr_env(s, &env);
	r = expect_tap(s->out, &env, rest, s->nr_expect + 1, s->origin, err, sizeof(err));
	if (r < 0)
		return cmd_error(s, "expect: %s", err);
	s->nr_expect++;
	s->nr_expect_failed += r;
	return CMD_OK;
}

int expect_tap(FILE *out, const struct expr_env *env, const char *rest, int n, const char *origin,
	       char *err, size_t errlen)
{
	char why[200], msg[256];
	const char *end;
	struct expr *e;
	int64_t v = 0;
	size_t expr_len;
	int failed = 0;

	e = expr_parse(rest, &end, err, errlen);
	if (!e)
		return -1;
	if (*end) {
		size_t l = strlen(end);

		if (l >= 2 && (end[0] == '"' || end[0] == '\'') && end[l - 1] == end[0])
			snprintf(msg, sizeof(msg), "%.*s", (int)l - 2, end + 1);
		else
			snprintf(msg, sizeof(msg), "%s", end);
	} else {
		snprintf(msg, sizeof(msg), "%.*s", (int)(end - rest), rest);
		while (strlen(msg) && isspace((unsigned char)msg[strlen(msg) - 1]))
			msg[strlen(msg) - 1] = 0;
	}
	expr_len = end - rest;
	while (expr_len && isspace((unsigned char)rest[expr_len - 1]))
		expr_len--;
	if (expr_eval(e, env, &v, why, sizeof(why))) {
		fprintf(out, "not ok %d - %s\n#   error: %s\n", n, msg, why);
		failed = 1;
	} else if (!v) {
		expr_explain(e, env, why, sizeof(why));
		fprintf(out, "not ok %d - %s\n#   %.*s: %s\n", n, msg, (int)expr_len, rest, why);
		if (origin)
			fprintf(out, "#   at %s\n", origin);
		failed = 1;
	} else {
		fprintf(out, "ok %d - %s\n", n, msg);
	}
	expr_free(e);
	return failed;
}

static int cmd_echo(struct stepper *s, int argc, const char **argv, const char *rest)
{
	(void)argc;
	(void)argv;
	fprintf(s->out, "%s\n", rest);
	return CMD_OK;
}

/* The table, and help / lookup / completion from it. */

static int cmd_help(struct stepper *s, int argc, const char **argv, const char *rest);

static const struct cmd_entry cmd_table[] = {
	{ "break", "b", 1, -1, CMD_BREAK_IF, "break STAGE | FROM->TO | task PID [STAGE] | abort [if EXPR]",
	  "stop before the switch into STAGE (whoever performs it), at the transition FROM->TO,\n"
	  "before task PID finishes STAGE (it stays outstanding), or when anyone aborts",
	  cmd_break },
	{ "commands", NULL, 0, 1, CMD_NOREPEAT, "commands [N] ... end",
	  "commands to run when breakpoint N (default: the last one) stops; `silent` first hides the report",
	  cmd_commands },
	{ "condition", NULL, 1, -1, CMD_EXPR | CMD_EXPR_AFTER_N, "condition N [EXPR]",
	  "breakpoint N stops only when EXPR is true (no EXPR: always)", cmd_condition },
	{ "continue", "c", 0, 1, 0, "continue [N]",
	  "resume; with N, ignore the breakpoint stopped at N-1 more times", cmd_continue },
	{ "delete", "d", 0, -1, 0, "delete [N...]", "delete breakpoints (all without N)", cmd_delete },
	{ "detach", NULL, 0, 0, CMD_NOREPEAT, "detach",
	  "disarm everything, finish the restore and leave the tree running", cmd_detach },
	{ "disable", NULL, 0, -1, 0, "disable [N...]", "disable breakpoints (all without N)", cmd_disable },
	{ "display", NULL, 0, -1, CMD_EXPR, "display [EXPR]",
	  "print EXPR at every stop (no EXPR: print the displays now)", cmd_display },
	{ "echo", NULL, 0, -1, 0, "echo TEXT", "print TEXT", cmd_echo },
	{ "enable", NULL, 0, -1, 0, "enable [N...]", "enable breakpoints (all without N)", cmd_enable },
	{ "expect", NULL, 1, -1, CMD_EXPR | CMD_EXPR_MESSAGE, "expect EXPR [MESSAGE]",
	  "print TAP `ok N - MESSAGE` when EXPR holds, `not ok` otherwise (exit 1 at the end)", cmd_expect },
	{ "help", "h", 0, 1, 0, "help [COMMAND]", "list the commands, or explain one", cmd_help },
	{ "info", "i", 1, 1, 0, "info tasks|barrier|switches|breakpoints|protocol|display|hang",
	  "show the state of the restore", cmd_info },
	{ "kill", "k", 0, 0, CMD_NOREPEAT, "kill", "abort the restore cleanly (exit 2)", cmd_kill },
	{ "next", "n", 0, 0, 0, "next", "resume until the next stage switch", cmd_next },
	{ "quit", "q", 0, 0, CMD_NOREPEAT, "quit",
	  "kill the restore if it is still running, then exit", cmd_quit },
	{ "step", "s", 0, 0, 0, "step", "resume until the next recorded event (arrival or switch)", cmd_step },
	{ "tbreak", NULL, 1, -1, CMD_BREAK_IF, "tbreak SPEC [if EXPR]",
	  "as break, deleted when it stops", cmd_tbreak },
	{ "undisplay", NULL, 0, 1, 0, "undisplay [N]", "remove display N (all without N)", cmd_undisplay },
};
static const size_t nr_cmds = sizeof(cmd_table) / sizeof(cmd_table[0]);

/* Exact name, then alias, then a unique prefix of a name. */
static const struct cmd_entry *lookup(struct stepper *s, const char *word)
{
	const struct cmd_entry *found = NULL;
	size_t i, len = strlen(word);
	char names[300] = "";
	int n = 0;

	for (i = 0; i < nr_cmds; i++)
		if (!strcmp(word, cmd_table[i].name) || (cmd_table[i].alias && !strcmp(word, cmd_table[i].alias)))
			return &cmd_table[i];
	for (i = 0; len && i < nr_cmds; i++) {
		if (strncmp(word, cmd_table[i].name, len))
			continue;
		found = &cmd_table[i];
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", n ? ", " : "",
			 cmd_table[i].name);
		n++;
	}
	if (n == 1)
		return found;
	if (n > 1)
		cmd_error(s, "ambiguous command '%s': %s", word, names);
	else
		cmd_error(s, "unknown command '%s' (try help)", word);
	return NULL;
}

static int cmd_help(struct stepper *s, int argc, const char **argv, const char *rest)
{
	const struct cmd_entry *c;
	size_t i;

	(void)rest;
	if (argc > 1) {
		c = lookup(s, argv[1]);
		if (!c)
			return CMD_ERROR;
		fprintf(s->out, "usage: %s\n%s%s%s\n", c->usage, c->help, c->alias ? "\nalias: " : "",
			c->alias ? c->alias : "");
		if (!strcmp(c->name, "info"))
			for (i = 0; i < NR_INFO; i++)
				fprintf(s->out, "  info %-12s %s\n", info_table[i].name, info_table[i].help);
		return CMD_OK;
	}
	fprintf(s->out, "Commands (a unique prefix is enough; an empty line repeats the last one):\n");
	for (i = 0; i < nr_cmds; i++) {
		char name[32];

		c = &cmd_table[i];
		snprintf(name, sizeof(name), "%s%s%s", c->name, c->alias ? ", " : "", c->alias ? c->alias : "");
		fprintf(s->out, "  %-14s %s\n", name, c->help);
	}
	fprintf(s->out, "Expressions: integers, == != < <= > >= && || ! ( ), stage nr_in_progress participants\n"
		"  count_set outstanding nr_tasks nr_threads nr_helpers nr_zombies from to performer\n"
		"  (== root, controller or a pid), task(PID).stage, arrived(PID), stage names.\n");
	return CMD_OK;
}

/* The text after the command word, blanks trimmed at both ends. */
static void rest_of_line(const char *line, char *buf, size_t len)
{
	const char *p = line + strspn(line, " \t");
	size_t n;

	p += strcspn(p, " \t");
	p += strspn(p, " \t");
	snprintf(buf, len, "%s", p);
	n = strlen(buf);
	while (n && isspace((unsigned char)buf[n - 1]))
		buf[--n] = 0;
}

static int split(struct stepper *s, const char *line, Tokenizer **tok, int *argc, const char ***argv)
{
	*tok = tok_init(NULL);
	if (!*tok)
		return cmd_error(s, "out of memory");
	if (tok_str(*tok, line, argc, argv)) {
		tok_end(*tok);
		*tok = NULL;
		return cmd_error(s, "unmatched quote");
	}
	return 0;
}

int cmd_run_line(struct stepper *s, const char *line, const char *origin)
{
	const struct cmd_entry *c;
	const char **argv;
	Tokenizer *tok;
	char rest[1024];
	int argc, r;

	s->origin = origin;
	if (split(s, line, &tok, &argc, &argv))
		return CMD_ERROR;
	if (argc == 0) {
		tok_end(tok);
		return CMD_OK;
	}
	c = lookup(s, argv[0]);
	if (!c) {
		tok_end(tok);
		return CMD_ERROR;
	}
	if (argc - 1 < c->min_args || (c->max_args >= 0 && argc - 1 > c->max_args)) {
		tok_end(tok);
		return cmd_error(s, "usage: %s", c->usage);
	}
	rest_of_line(line, rest, sizeof(rest));
	r = c->exec(s, argc, argv, rest);
	tok_end(tok);
	return r;
}

int cmd_is_norepeat(const char *line)
{
	const char *p = line + strspn(line, " \t");
	size_t len = strcspn(p, " \t"), i, n = 0;
	const struct cmd_entry *found = NULL;

	for (i = 0; i < nr_cmds; i++) {
		const struct cmd_entry *c = &cmd_table[i];

		if ((strlen(c->name) == len && !strncmp(p, c->name, len)) ||
		    (c->alias && strlen(c->alias) == len && !strncmp(p, c->alias, len)))
			return c->flags & CMD_NOREPEAT;
		if (len && !strncmp(p, c->name, len)) {
			found = c;
			n++;
		}
	}
	return n == 1 ? found->flags & CMD_NOREPEAT : 1;
}

/* Before anything runs: every command name resolves and every expression
 * parses, so a typo stops the script before the restore starts. */
static int check_line(struct stepper *s, const char *line, int *in_commands)
{
	const struct cmd_entry *c;
	const char **argv, *expr, *end;
	Tokenizer *tok;
	char rest[1024], err[200];
	struct expr *e = NULL;
	int argc, ret = 0;

	if (*in_commands && (!strcmp(line, "end") || !strcmp(line, "silent"))) {
		*in_commands = strcmp(line, "end") != 0;
		return 0;
	}
	if (split(s, line, &tok, &argc, &argv))
		return -1;
	c = argc ? lookup(s, argv[0]) : NULL;
	if (argc && !c)
		ret = -1;
	else if (c && (argc - 1 < c->min_args || (c->max_args >= 0 && argc - 1 > c->max_args)))
		ret = cmd_error(s, "usage: %s", c->usage);
	if (!ret && c && c->exec == cmd_commands)
		*in_commands = 1;
	if (!ret && c && (c->flags & (CMD_EXPR | CMD_BREAK_IF))) {
		rest_of_line(line, rest, sizeof(rest));
		expr = rest;
		if (c->flags & CMD_EXPR_AFTER_N) {
			expr += strcspn(expr, " \t");
			expr += strspn(expr, " \t");
		}
		if (c->flags & CMD_BREAK_IF)
			expr = find_word(rest, "if") ? find_word(rest, "if") + 2 : "";
		if (*expr) {
			e = expr_parse(expr, c->flags & CMD_EXPR_MESSAGE ? &end : NULL, err, sizeof(err));
			if (!e)
				ret = cmd_error(s, "%s: %s", c->name, err);
			expr_free(e);
		}
	}
	tok_end(tok);
	return ret;
}

int cmd_check_script(struct stepper *s)
{
	int i, in_commands = 0, ret = 0;

	for (i = 0; i < s->nr_script && !ret; i++) {
		s->origin = s->script[i].origin;
		ret = check_line(s, s->script[i].text, &in_commands);
	}
	s->origin = NULL;
	return ret;
}

/* Completion. */

struct candidates {
	char **v;
	size_t n, cap;
	const char *prefix;
};

static void add(struct candidates *c, const char *word)
{
	char **v;

	if (strncmp(word, c->prefix, strlen(c->prefix)))
		return;
	if (c->n + 2 > c->cap) {
		c->cap = c->cap ? 2 * c->cap : 16;
		v = realloc(c->v, c->cap * sizeof(*v));
		if (!v)
			return;
		c->v = v;
	}
	c->v[c->n] = strdup(word);
	if (c->v[c->n])
		c->n++;
	c->v[c->n] = NULL;
}

static void add_stages(struct stepper *s, struct candidates *c)
{
	int seq[CR_STATE_NR], n, i;

	if (!s->ctx) {
		for (i = 0; i < CR_STATE_NR; i++)
			add(c, stage_name(i));
		return;
	}
	n = protocol_sequence(s->ctx->proto, seq);
	for (i = 0; i < n; i++)
		add(c, stage_name(seq[i]));
}

static void add_pids(struct stepper *s, struct candidates *c)
{
	struct task_entries *te;
	char pid[16];
	uint32_t i;

	add(c, "root");
	if (!s->ctx)
		return;
	te = stepper_te(s);
	for (i = 0; i < te->nr_slots; i++) {
		snprintf(pid, sizeof(pid), "%" PRId32, te->slots[i].pid);
		add(c, pid);
	}
}

static void add_bp_numbers(struct stepper *s, struct candidates *c)
{
	char num[16];
	int i;

	for (i = 0; i < NR_USER_BPS; i++)
		if (s->bps[i].used) {
			snprintf(num, sizeof(num), "%d", i + 1);
			add(c, num);
		}
}

static void add_expr_names(struct stepper *s, struct candidates *c)
{
	static const char *const names[] = {
		"stage", "nr_in_progress", "participants", "count_set", "outstanding", "nr_tasks",
		"nr_threads", "nr_helpers", "nr_zombies", "from", "to", "performer", "root",
		"controller", "task(", "arrived(",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		add(c, names[i]);
	add_stages(s, c);
}

char **stepper_complete(struct stepper *s, const char *line_to_cursor, const char *word)
{
	struct candidates c = { .prefix = word };
	char buf[512], *words[8], *save = NULL, *w;
	const struct cmd_entry *cmd = NULL;
	size_t i;
	int n = 0;

	/* The words before the one being completed. */
	snprintf(buf, sizeof(buf), "%.*s", (int)(strlen(line_to_cursor) - strlen(word)), line_to_cursor);
	for (w = strtok_r(buf, " \t", &save); w && n < 8; w = strtok_r(NULL, " \t", &save))
		words[n++] = w;
	if (n == 0) {
		for (i = 0; i < nr_cmds; i++)
			add(&c, cmd_table[i].name);
		return c.v;
	}
	for (i = 0; i < nr_cmds && !cmd; i++)
		if (!strcmp(words[0], cmd_table[i].name) || (cmd_table[i].alias && !strcmp(words[0], cmd_table[i].alias)))
			cmd = &cmd_table[i];
	for (i = 0; i < nr_cmds && !cmd; i++)
		if (!strncmp(words[0], cmd_table[i].name, strlen(words[0])))
			cmd = &cmd_table[i];
	if (!cmd)
		return NULL;
	if (cmd->exec == cmd_help && n == 1) {
		for (i = 0; i < nr_cmds; i++)
			add(&c, cmd_table[i].name);
	} else if (cmd->exec == cmd_info && n == 1) {
		for (i = 0; i < NR_INFO; i++)
			add(&c, info_table[i].name);
	} else if (cmd->exec == cmd_break || cmd->exec == cmd_tbreak) {
		if (n == 1) {
			add_stages(s, &c);
			add(&c, "task");
			add(&c, "abort");
		} else if (n == 2 && !strcmp(words[1], "task")) {
			add_pids(s, &c);
		} else if (n == 3 && !strcmp(words[1], "task")) {
			add_stages(s, &c);
		} else {
			add(&c, "if");
			add_expr_names(s, &c);
		}
	} else if (cmd->exec == cmd_delete || cmd->exec == cmd_enable || cmd->exec == cmd_disable ||
		   cmd->exec == cmd_commands || (cmd->exec == cmd_condition && n == 1)) {
		add_bp_numbers(s, &c);
	} else if (cmd->flags & CMD_EXPR) {
		add_expr_names(s, &c);
		add_pids(s, &c);
	}
	return c.v;
}
