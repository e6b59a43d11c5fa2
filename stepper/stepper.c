/* stepper.c: what happens at a stop.  The engine (restore/restore.c) calls
 * stepper_stop(), through the observer it was given (restore.h), whenever
 * something stops: before the first switch, at a
 * participant parked at a breakpoint gate, at the controller's own
 * breakpointed switches, and at the end.  Here the stop is filtered
 * (conditions, ignore counts), reported as gdb would, and commands run —
 * from the -ex/-x script first, then from the (crstep) prompt — until one
 * of them resumes.
 *
 * Batch scripts: each line runs at a stop; a resuming line (continue, step,
 * next) returns from the stop and the following lines wait for the next
 * one.  When the script is exhausted in --batch mode the restore runs to
 * its end: breakpoints still armed stop it, print their report, run their
 * `commands`, and it goes on by itself.  At the final stop (complete or
 * failed) a script's resuming lines do nothing, so every later `expect`
 * still runs. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "protocol.h"
#include "restore.h"
#include "stepper-priv.h"
#include "trace.h"

static int add_line(struct stepper *s, const char *text, const char *origin)
{
	struct script_line *l;

	if (s->nr_script == s->cap_script) {
		int cap = s->cap_script ? 2 * s->cap_script : 16;

		l = realloc(s->script, cap * sizeof(*l));
		if (!l)
			return error("out of memory");
		s->script = l;
		s->cap_script = cap;
	}
	l = &s->script[s->nr_script];
	l->text = strdup(text);
	l->origin = strdup(origin);
	if (!l->text || !l->origin) {
		free(l->text);
		free(l->origin);
		return error("out of memory");
	}
	s->nr_script++;
	return 0;
}

/* -x FILE: one command a line; blank lines and `#` comments are skipped. */
static int load_script(struct stepper *s, const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, origin[300];
	size_t cap = 0;
	ssize_t n;
	int nr = 0, ret = 0;

	if (!f) {
		fprintf(stderr, "%s: cannot read the script: %s\n", path, strerror(errno));
		return -1;
	}
	while (!ret && (n = getline(&line, &cap, f)) >= 0) {
		char *text = line;

		nr++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		text += strspn(text, " \t");
		if (!*text || *text == '#')
			continue;
		snprintf(origin, sizeof(origin), "%s:%d", path, nr);
		ret = add_line(s, text, origin);
	}
	free(line);
	fclose(f);
	return ret;
}

struct stepper *stepper_new(const struct stepper_opts *opts)
{
	struct stepper *s = calloc(1, sizeof(*s));
	char origin[32];
	int i;

	if (!s)
		return NULL;
	s->opts = *opts;
	s->out = opts->out ? opts->out : stdout;
	s->last_bp = -1;
	s->stop_user_bp = -1;
	/* -ex lines first, in order, then the -x file. */
	for (i = 0; i < opts->nr_ex; i++) {
		snprintf(origin, sizeof(origin), "-ex %d", i + 1);
		if (add_line(s, opts->ex[i], origin))
			goto fail;
	}
	if (opts->script && load_script(s, opts->script))
		goto fail;
	if (cmd_check_script(s))
		goto fail;
	return s;
fail:
	stepper_free(s);
	return NULL;
}

void stepper_bp_free(struct user_bp *bp)
{
	int i;

	expr_free(bp->cond);
	free(bp->cond_text);
	for (i = 0; i < bp->nr_cmds; i++) {
		free(bp->cmds[i]);
		free(bp->cmd_origins[i]);
	}
	free(bp->cmds);
	free(bp->cmd_origins);
	memset(bp, 0, sizeof(*bp));
}

void stepper_free(struct stepper *s)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < s->nr_script; i++) {
		free(s->script[i].text);
		free(s->script[i].origin);
	}
	free(s->script);
	for (i = 0; i < NR_USER_BPS; i++)
		stepper_bp_free(&s->bps[i]);
	for (i = 0; i < MAX_DISPLAYS; i++) {
		expr_free(s->displays[i].e);
		free(s->displays[i].text);
	}
	if (s->cli)
		s->opts.cli_frontend->close(s->cli);
	if (s->tui)
		s->opts.tui_frontend->close(s->tui);
	free(s->last_line);
	free(s);
}

int stepper_active(const struct stepper *s)
{
	return s && (s->nr_script > 0 || s->opts.cli || s->opts.tui);
}

int cmd_error(struct stepper *s, const char *fmt, ...)
{
	va_list ap;

	fflush(s->out);
	if (s->origin)
		fprintf(stderr, "%s: ", s->origin);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	/* A script that goes wrong is not followed any further. */
	if (s->origin)
		s->script_error = 1;
	return CMD_ERROR;
}

struct task_entries *stepper_te(struct stepper *s)
{
	return &s->ctx->shared->te;
}

void stepper_expr_env(struct stepper *s, struct expr_env *env)
{
	env->te = stepper_te(s);
	env->proto = s->ctx->proto;
	env->stop = s->stop;
}

/* A pid in a command: an image pid of this restore, or `root`. */
int stepper_parse_pid(struct stepper *s, const char *word, int32_t *pid)
{
	struct task_entries *te = stepper_te(s);
	char *end;
	long v;
	uint32_t i;

	for (i = 0; i < te->nr_slots; i++) {
		if (!strcmp(word, "root") && te->slots[i].role == ROLE_ROOT) {
			*pid = te->slots[i].pid;
			return 0;
		}
	}
	errno = 0;
	v = strtol(word, &end, 10);
	if (errno || *end || end == word || v <= 0)
		return cmd_error(s, "'%s' is not a pid", word);
	for (i = 0; i < te->nr_slots; i++)
		if (te->slots[i].pid == v) {
			*pid = (int32_t)v;
			return 0;
		}
	return cmd_error(s, "no task %ld in this restore (pids are the images' pids)", v);
}

int stepper_describe_bp(const struct user_bp *bp, char *buf, size_t len)
{
	switch (bp->kind) {
	case BP_SWITCH:
		if (bp->from < 0 || !stage_name(bp->from))
			return snprintf(buf, len, "switch into %s", stage_name(bp->to));
		return snprintf(buf, len, "switch %s -> %s", stage_name(bp->from), stage_name(bp->to));
	case BP_ARRIVE:
		if (bp->to < 0)
			return snprintf(buf, len, "task %" PRId32 " arriving at any stage", bp->pid);
		return snprintf(buf, len, "task %" PRId32 " arriving at %s", bp->pid, stage_name(bp->to));
	case BP_ABORT:
		return snprintf(buf, len, "abort");
	default:
		return snprintf(buf, len, "?");
	}
}

static int event_type(const struct stop_event *st)
{
	return st->ev.type == BARRIER_EV_HOLD ? (int)st->ev.count_set : st->ev.type;
}

static const char *from_name(int stage)
{
	return stage == CR_STATE_FAIL ? "none" : stage_name(stage) ? stage_name(stage) : "?";
}

/* "switch FORKING -> RESTORE by root (pid 22885), nr_in_progress=1" */
static void describe_event(struct stepper *s, char *buf, size_t len)
{
	const struct barrier_event *ev = &s->stop->ev;
	uint32_t raw = __atomic_load_n(&stepper_te(s)->nr_in_progress, __ATOMIC_ACQUIRE);
	char count[32];

	if (raw & BARRIER_ABORT_BIT)
		snprintf(count, sizeof(count), "aborted");
	else
		snprintf(count, sizeof(count), "%" PRId32, BARRIER_COUNT(raw));
	switch (event_type(s->stop)) {
	case BARRIER_EV_SWITCH:
		snprintf(buf, len, "switch %s -> %s by %s (pid %" PRId32 "), nr_in_progress=%s",
			 from_name(ev->stage_from), from_name(ev->stage_to), role_name(ev->role), ev->pid, count);
		break;
	case BARRIER_EV_ARRIVE:
		snprintf(buf, len, "task %" PRId32 " arriving at %s, nr_in_progress=%s", ev->pid,
			 from_name(ev->stage_to), count);
		break;
	case BARRIER_EV_ABORT:
		snprintf(buf, len, "abort by %s (pid %" PRId32 ") at %s, nr_in_progress=%s", role_name(ev->role),
			 ev->pid, from_name(ev->stage_from), count);
		break;
	default:
		snprintf(buf, len, "%s event", barrier_event_type_name(event_type(s->stop)));
	}
}

static int user_bp_matches(const struct user_bp *bp, int type, int from, int to, int32_t pid)
{
	if (!bp->used || !bp->enabled)
		return 0;
	switch (bp->kind) {
	case BP_SWITCH:
		return type == BARRIER_EV_SWITCH && bp->to == to && (bp->from < 0 || bp->from == from);
	case BP_ARRIVE:
		return type == BARRIER_EV_ARRIVE && (!bp->pid || bp->pid == pid) && (bp->to < 0 || bp->to == to);
	case BP_ABORT:
		return type == BARRIER_EV_ABORT;
	default:
		return 0;
	}
}

static int step_matches(int stepping, int type)
{
	if (stepping == BP_ANY_EVENT)
		return type == BARRIER_EV_ARRIVE || type == BARRIER_EV_SWITCH;
	return stepping == BP_ANY_SWITCH && type == BARRIER_EV_SWITCH;
}

/* Is this a stop the user sees?  Counts hits, applies conditions and
 * ignore counts to every user breakpoint the event matches (the engine
 * reports only the first), and falls back to a pending step. */
static int filter_stop(struct stepper *s, int *user_bp, int *as_step)
{
	const struct stop_event *st = s->stop;
	int type = event_type(st), i;

	*user_bp = -1;
	*as_step = st->kind == STOP_STEP;
	if (st->kind != STOP_BREAKPOINT && st->kind != STOP_STEP)
		return 1;
	for (i = 0; i < NR_USER_BPS && *user_bp < 0; i++) {
		struct user_bp *bp = &s->bps[i];

		if (!user_bp_matches(bp, type, st->ev.stage_from, st->ev.stage_to, st->ev.pid))
			continue;
		if (bp->cond) {
			struct expr_env env;
			char err[200];
			int64_t v;

			stepper_expr_env(s, &env);
			if (expr_eval(bp->cond, &env, &v, err, sizeof(err))) {
				/* As gdb: a condition that cannot be evaluated stops. */
				fprintf(s->out, "Error in testing condition for breakpoint %d: %s\n", i + 1, err);
				v = 1;
			}
			if (!v)
				continue;
		}
		bp->hits++;
		if (bp->ignore) {
			bp->ignore--;
			continue;
		}
		*user_bp = i;
	}
	if (*user_bp >= 0)
		return 1;
	if (s->stepping && step_matches(s->stepping, type)) {
		*as_step = 1;
		return 1;
	}
	return 0;
}

static void report_stop(struct stepper *s, int user_bp, int as_step)
{
	const struct stop_event *st = s->stop;
	struct task_entries *te = stepper_te(s);
	char what[200];

	switch (st->kind) {
	case STOP_START:
		if (!s->cli && !s->tui)
			break;
		fprintf(s->out, "Restoring %zu task(s) from %s with protocol %s; stopped before the first switch.\n"
			"Type `help` for the commands, `continue` to run.\n", s->ctx->set->nr_tasks,
			s->ctx->opts->dir, s->ctx->proto->name);
		break;
	case STOP_BREAKPOINT:
	case STOP_STEP:
		describe_event(s, what, sizeof(what));
		if (user_bp >= 0 && s->bps[user_bp].silent)
			break;
		if (user_bp >= 0)
			fprintf(s->out, "%s %d, %s\n", s->bps[user_bp].temporary ? "Temporary breakpoint" : "Breakpoint",
				user_bp + 1, what);
		else if (as_step)
			fprintf(s->out, "Step: %s\n", what);
		break;
	case STOP_COMPLETE:
		fprintf(s->out, "Restore complete.\n");
		break;
	case STOP_FAILED: {
		/* start is FAIL by now: the stage is where the first abort
		 * (or the FAIL switch) happened. */
		struct barrier_event ev;
		uint64_t seq, last = barrier_events_written(te);
		int stage = CR_STATE_FAIL;

		for (seq = last > BARRIER_RING_SIZE ? last - BARRIER_RING_SIZE + 1 : 1; seq <= last; seq++) {
			if (barrier_event_read(te, seq, &ev))
				continue;
			if (ev.type == BARRIER_EV_ABORT || ev.type == BARRIER_EV_FAIL) {
				stage = ev.stage_from;
				break;
			}
		}
		fprintf(s->out, "Restore %s at %s.\n", s->ended_restore ? "killed (by a command)" : "failed",
			from_name(stage));
		break;
	}
	case STOP_HANG:
		fprintf(s->out, "Hang at %s, nr_in_progress=%" PRId32 ".\n", from_name(te->start),
			BARRIER_COUNT(te->nr_in_progress));
		break;
	}
	(void)as_step;
}

void stepper_show_display(struct stepper *s, int i)
{
	struct expr_env env;
	char err[200];
	int64_t v;

	stepper_expr_env(s, &env);
	if (expr_eval(s->displays[i].e, &env, &v, err, sizeof(err)))
		fprintf(s->out, "%d: %s = <error: %s>\n", i + 1, s->displays[i].text, err);
	else
		fprintf(s->out, "%d: %s = %" PRId64 "\n", i + 1, s->displays[i].text, v);
}

static void show_displays(struct stepper *s)
{
	int i;

	for (i = 0; i < MAX_DISPLAYS; i++)
		if (s->displays[i].e)
			stepper_show_display(s, i);
}

/* The full-screen UI (ui/tui.c) stands in for the line interface: it is
 * made at the first stop that is shown, prints nothing itself (the
 * stepper's output goes into it), and gives the terminal back at the last
 * stop, before the engine waits for the restored tree. */
static void tui_view(struct stepper *s, struct restore_ctx *ctx, struct stepper_view *v)
{
	*v = (struct stepper_view){
		.ctx = ctx, .stop = s->stop, .user_bp = s->stop_user_bp, .stepping = s->stepping,
	};
}

static void tui_stop_begin(struct stepper *s)
{
	struct stepper_view v;

	if (s->opts.tui && !s->tui) {
		s->tui = s->opts.tui_frontend ? s->opts.tui_frontend->open(s, s->out) : NULL;
		if (s->tui) {
			s->out = s->opts.tui_frontend->out(s->tui);
		} else {
			s->opts.tui = 0;	/* no terminal: the line interface */
			s->opts.cli = 1;
		}
	}
	if (!s->tui)
		return;
	tui_view(s, s->ctx, &v);
	v.user_bp = -1;
	s->opts.tui_frontend->show(s->tui, &v);
}

static void tui_stop_end(struct stepper *s)
{
	s->opts.tui_frontend->end(s->tui);
	s->out = s->opts.out ? s->opts.out : stdout;
}

const char *stepper_next_line(struct stepper *s, const char **origin, const char *prompt)
{
	const char *line;

	if (s->next_line < s->nr_script) {
		*origin = s->script[s->next_line].origin;
		return s->script[s->next_line++].text;
	}
	*origin = NULL;
	if (s->tui) {
		struct stepper_view v;

		tui_view(s, s->ctx, &v);
		line = s->cli_eof ? NULL : s->opts.tui_frontend->gets(s->tui, &v, prompt);
		if (!line)
			s->cli_eof = 1;
		return line;
	}
	if (!s->opts.cli || s->cli_eof || !s->opts.cli_frontend)
		return NULL;
	if (!s->cli) {
		s->cli = s->opts.cli_frontend->open(s, s->out);
		if (!s->cli) {
			s->cli_eof = 1;
			return NULL;
		}
	}
	fflush(s->out);
	line = s->opts.cli_frontend->gets(s->cli, NULL, prompt);
	if (!line)
		s->cli_eof = 1;
	return line;
}

/* An empty line at the prompt repeats the last command, except those that
 * must not happen twice by accident (kill, quit, ...). */
static int run_typed(struct stepper *s, const char *line)
{
	char *copy;
	int r;

	if (!line[strspn(line, " \t")]) {
		if (!s->last_line)
			return CMD_OK;
		copy = strdup(s->last_line);
	} else {
		copy = strdup(line);
		free(s->last_line);
		s->last_line = cmd_is_norepeat(copy) ? NULL : strdup(copy);
	}
	if (!copy)
		return CMD_ERROR;
	r = cmd_run_line(s, copy, NULL);
	free(copy);
	return r;
}

/* Quitting once the restore is complete kills nothing: the restored tree
 * is what the user came for. */
static enum resume_action quit_after_complete(struct stepper *s)
{
	struct task_entries *te = stepper_te(s);

	fprintf(s->out, "The restored tree is left running (task %" PRId32 " is pid %" PRId32 " here).\n",
		te->slots[s->ctx->slots[0]].pid, te->slots[s->ctx->slots[0]].host_pid);
	return RESUME_DETACH;
}

/* Run commands until one resumes.  At the final stop a script's resuming
 * commands do nothing (there is nothing left to resume). */
static enum resume_action command_loop(struct stepper *s)
{
	for (;;) {
		const char *origin, *line = stepper_next_line(s, &origin, "(crstep) ");
		int r;

		if (!line) {
			if ((s->opts.cli || s->tui) && s->cli_eof) {
				/* EOF at the prompt: quit; after COMPLETE that
				 * leaves the restored tree running. */
				fprintf(s->out, "quit\n");
				return s->stop->kind == STOP_COMPLETE ? quit_after_complete(s) : RESUME_QUIT;
			}
			return RESUME_CONTINUE;
		}
		r = origin ? cmd_run_line(s, line, origin) : run_typed(s, line);
		if (s->script_error)
			return RESUME_KILL;
		if (r != CMD_RESUME)
			continue;
		if (s->final && origin && s->resume == RESUME_CONTINUE)
			continue;
		if (s->stop->kind == STOP_COMPLETE && s->resume == RESUME_QUIT)
			return quit_after_complete(s);
		return s->resume;
	}
}

/* A breakpoint's `commands`, run after its report. */
static int run_bp_commands(struct stepper *s, int idx, enum resume_action *action)
{
	struct user_bp *bp = &s->bps[idx];
	int i, n = bp->nr_cmds, r;
	char **cmds, **origins;

	if (!n)
		return 0;
	/* The commands may delete the breakpoint: run a copy. */
	cmds = calloc(n, sizeof(*cmds));
	origins = calloc(n, sizeof(*origins));
	for (i = 0; cmds && origins && i < n; i++) {
		cmds[i] = strdup(bp->cmds[i]);
		origins[i] = bp->cmd_origins[i] ? strdup(bp->cmd_origins[i]) : NULL;
	}
	r = 0;
	for (i = 0; cmds && origins && i < n && !r; i++) {
		int ret = cmd_run_line(s, cmds[i], origins[i]);

		if (s->script_error) {
			*action = RESUME_KILL;
			r = 1;
		} else if (ret == CMD_RESUME && !(s->final && s->resume == RESUME_CONTINUE)) {
			*action = s->resume;
			r = 1;
		}
	}
	for (i = 0; cmds && origins && i < n; i++) {
		free(cmds[i]);
		free(origins[i]);
	}
	free(cmds);
	free(origins);
	return r;
}

static enum resume_action observe_stop(void *s, struct restore_ctx *ctx, const struct stop_event *stop)
{
	return stepper_stop(s, ctx, stop);
}

static void observe_tick(void *s, struct restore_ctx *ctx)
{
	stepper_tick(s, ctx);
}

void stepper_observer(struct stepper *s, struct restore_observer *obs)
{
	obs->arg = s;
	obs->stop = observe_stop;
	obs->tick = observe_tick;
}

enum resume_action stepper_stop(struct stepper *s, struct restore_ctx *ctx, const struct stop_event *stop)
{
	enum resume_action action = RESUME_CONTINUE;
	int user_bp, as_step;

	if (s->script_error)
		return RESUME_KILL;
	s->ctx = ctx;
	s->stop = stop;
	s->final = stop->kind == STOP_COMPLETE || stop->kind == STOP_FAILED;
	if (!filter_stop(s, &user_bp, &as_step))
		goto out;
	tui_stop_begin(s);
	/* Any stop ends a step. */
	if (s->stepping) {
		barrier_bp_set(stepper_te(s), STEPPER_BP_STEP, BP_NONE, -1, -1, 0);
		s->stepping = 0;
	}
	s->stop_user_bp = user_bp;
	report_stop(s, user_bp, as_step);
	show_displays(s);
	if (user_bp >= 0) {
		int temporary = s->bps[user_bp].temporary, resumed;

		if (temporary)
			barrier_bp_set(stepper_te(s), user_bp, BP_NONE, -1, -1, 0);
		resumed = run_bp_commands(s, user_bp, &action);
		if (temporary) {
			stepper_bp_free(&s->bps[user_bp]);
			s->stop_user_bp = -1;
		}
		if (resumed)
			goto out;
	}
	action = command_loop(s);
out:
	/* The engine ends the restore for a kill or a quit as it would for a
	 * failure; remember it was asked for (stepper_exit_code()).  At the
	 * failed stop the restore had failed already. */
	if ((action == RESUME_KILL || action == RESUME_QUIT) && !s->script_error && stop->kind != STOP_FAILED)
		s->ended_restore = 1;
	fflush(s->out);
	if (s->tui && s->final)
		tui_stop_end(s);
	s->stop = NULL;
	s->ctx = NULL;
	return action;
}

int stepper_finish(struct stepper *s)
{
	if (!s)
		return EXIT_OK;
	if (s->nr_expect && !s->plan_printed) {
		fprintf(s->out, "1..%d\n", s->nr_expect);
		fflush(s->out);
		s->plan_printed = 1;
	}
	if (s->script_error)
		return EXIT_USAGE;
	return s->nr_expect_failed ? EXIT_EXPECT : EXIT_OK;
}

/* The documented precedence, 3 hang > 2 restore failed > 1 expect failed
 * > 0, with a script error (4) before all: the engine's code knows a hang
 * and a failure, but it also says 2 when the stepper's own kill or quit
 * ended the restore; that is no failure, the script's verdict stands. */
int stepper_exit_code(struct stepper *s, int restore_ret)
{
	int verdict;

	if (!s)
		return restore_ret;
	verdict = stepper_finish(s);
	if (verdict == EXIT_USAGE || restore_ret == EXIT_USAGE || restore_ret == EXIT_HANG)
		return verdict == EXIT_USAGE ? EXIT_USAGE : restore_ret;
	if (restore_ret == EXIT_FAIL && !s->ended_restore)
		return EXIT_FAIL;
	return verdict != EXIT_OK ? verdict : restore_ret == EXIT_FAIL ? EXIT_OK : restore_ret;
}

void stepper_tick(struct stepper *s, struct restore_ctx *ctx)
{
	struct stepper_view v;

	if (!s->tui)
		return;
	tui_view(s, ctx, &v);
	/* q while it runs: stop at the next event, where the UI quits. */
	if (s->opts.tui_frontend->tick(s->tui, &v) == FRONTEND_TICK_STOP && !s->stepping) {
		s->stepping = BP_ANY_EVENT;
		barrier_bp_set(&ctx->shared->te, STEPPER_BP_STEP, BP_ANY_EVENT, -1, -1, 0);
	}
}
