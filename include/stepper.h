/* stepper.h: stop a real restore at any barrier and look (issue "The
 * stepper").  The restore engine (restore/restore.c, the controller) calls
 * the stepper through the observer of restore.h whenever something stops; the stepper runs commands — from
 * -ex/-x batch scripts or the interactive line interface — until one of
 * them resumes, and tells the engine how.
 *
 * Breakpoints live in the shared area (struct task_entries .bps, see
 * barrier.h) and are checked by whoever reaches them: a participant parks
 * at its slot's gate; the controller checks its own switches.  The stepper
 * only arms, disarms and evaluates them. */
#ifndef CRSTEP_STEPPER_H
#define CRSTEP_STEPPER_H

#include <stdint.h>
#include <stdio.h>

#include "barrier.h"
#include "restore.h"

struct restore_ctx;
struct stepper;

struct stepper_opts {
	int batch;		/* --batch: no prompt; run the scripts, then go on */
	int cli;		/* --cli: the line interface even if not on a tty */
	int tui;		/* --tui, or a terminal without --cli/--batch:
				   the full-screen UI (ui/tui.c) instead */
	const char **ex;	/* -ex CMD, in order */
	int nr_ex;
	const char *script;	/* -x FILE */
	FILE *out;		/* where stops, info and TAP go (stdout) */
	const struct stepper_frontend *cli_frontend, *tui_frontend;
};

struct stepper *stepper_new(const struct stepper_opts *opts);
void stepper_free(struct stepper *s);

/* The engine's observer (restore.h) for this stepper: stop, tick and
 * finish below.  Only worth giving the engine when stepper_active(). */
void stepper_observer(struct stepper *s, struct restore_observer *obs);

/* The engine's call at every stop.  For STOP_BREAKPOINT the stepper first
 * applies the breakpoint's condition and ignore count, and may resume at
 * once without printing anything. */
enum resume_action stepper_stop(struct stepper *s, struct restore_ctx *ctx,
				const struct stop_event *stop);

/* After the end (complete or failed): the exit code the stepper asks for:
 * EXIT_OK, EXIT_EXPECT (an expect failed), EXIT_USAGE (a script error), and
 * it prints the TAP plan if any expect ran. */
int stepper_finish(struct stepper *s);

/* crstep restore's exit code from the engine's (restore_run()) and the
 * stepper's verdict: 4 a script error, else 3 a hang > 2 the restore failed
 * > 1 an expect failed > 0.  A kill, detach or quit of the script's (or
 * the user's) is no failure: after one the verdict is the expects'. */
int stepper_exit_code(struct stepper *s, int restore_ret);

/* The engine's call while it waits for a barrier (every 100 ms or so)
 * when the stepper is active: a full-screen UI redraws its live state
 * here.  Never called on the participants' side: it costs them nothing. */
void stepper_tick(struct stepper *s, struct restore_ctx *ctx);

/* Does the stepper want stops at all (any script, command or interactive
 * session)?  Without it the engine never calls stepper_stop and arms
 * nothing: a plain restore costs exactly what it did before. */
int stepper_active(const struct stepper *s);

/* Expressions (stepper/expr.c) for condition, display and expect:
 * integers, == != < <= > >= && || ! and parentheses, and the names
 *   stage nr_in_progress participants count_set outstanding
 *   nr_tasks nr_threads nr_helpers nr_zombies from to
 *   performer (compares with root, controller or a pid)
 *   task(PID).stage arrived(PID)   (PID may also be `root`)
 * and the stage names as constants (FORKING, ..., FAIL and NONE = -1).
 * Errors carry the column (1-based) they were found at. */
struct expr;
struct protocol;

struct expr_env {
	const struct task_entries *te;
	const struct protocol *proto;
	const struct stop_event *stop;	/* the stop being looked at, or NULL */
};

/* Parse text.  With end == NULL the whole text must be one expression;
 * otherwise parsing stops before the first token that cannot continue it
 * and *end points there (expect's message follows the expression).
 * Returns NULL with "column N: ..." in err on a syntax error. */
struct expr *expr_parse(const char *text, const char **end, char *err, size_t errlen);
void expr_free(struct expr *e);
/* 0 and *value, or -1 with "column N: ..." in err (e.g. no such task). */
int expr_eval(const struct expr *e, const struct expr_env *env, int64_t *value,
	      char *err, size_t errlen);
/* For a failed expect: "left = 0, right = 1" when e is a comparison,
 * else "value = 0".  Returns what snprintf returns. */
int expr_explain(const struct expr *e, const struct expr_env *env, char *buf, size_t len);
/* `expect EXPR [MESSAGE]` (rest: what follows the word) over env, as TAP
 * test number n: prints `ok n - MESSAGE` or `not ok n - ...` with why (and
 * "at origin" when given).  0 it held, 1 it did not, -1 a syntax error in
 * err (nothing printed). */
int expect_tap(FILE *out, const struct expr_env *env, const char *rest, int n, const char *origin,
	       char *err, size_t errlen);

/* Commands (stepper/cmd.c), for the line interface and its tests: TAB
 * completion of the word `word` that ends line_to_cursor.  Returns a
 * NULL-terminated array of malloc'd candidates (free each and the array),
 * or NULL when there are none. */
char **stepper_complete(struct stepper *s, const char *line_to_cursor, const char *word);

/* A front end as the stepper sees it.  ui/cli.c (the (crstep) prompt
 * through libedit, history in ~/.crstep_history, TAB completion from
 * stepper_complete(); plain lines when stdin is not a terminal) and
 * ui/tui.c (the full-screen UI: single keys become the same commands,
 * `:` opens a command line) implement it; ui/cmd_restore.c hands them in
 * through stepper_opts.  The stepper opens one when it first needs it: the
 * TUI at the first stop it shows, the line interface at the first prompt.
 * While the TUI owns the screen the stepper prints into its out() and
 * stderr is held; end() gives the terminal back, replays the held stderr
 * and prints what the last stop reported. */
struct stepper_view {
	struct restore_ctx *ctx;
	const struct stop_event *stop;	/* NULL while the restore runs */
	int user_bp;			/* user breakpoint stopped at (0-based), -1 */
	int stepping;			/* BP_ANY_EVENT / BP_ANY_SWITCH pending, 0 */
	/* Non-NULL: a restore crstep only looks at (`crstep attach`), named
	 * by this text; there is nothing to continue, step or kill. */
	const char *attached;
};

#define FRONTEND_TICK_NONE 0
#define FRONTEND_TICK_STOP 1	/* the user asked to stop (quit): stop at the next event */
#define FRONTEND_TICK_CMD 2	/* attached: the user asked for the command line (gets()) */

struct stepper_frontend {
	/* NULL (with a message) when it cannot run here (no terminal). */
	void *(*open)(struct stepper *s, FILE *out);
	/* Where the stepper prints while this front end owns the screen;
	 * NULL: the stepper keeps printing to stepper_opts.out. */
	FILE *(*out)(void *fe);
	/* A stop is about to be reported (NULL: nothing to show). */
	void (*show)(void *fe, const struct stepper_view *v);
	/* A command line without its newline (valid until the next call),
	 * or NULL at end of input. */
	const char *(*gets)(void *fe, const struct stepper_view *v, const char *prompt);
	/* While the restore runs (NULL: no live view). */
	int (*tick)(void *fe, const struct stepper_view *v);
	/* Give the terminal back at the last stop (NULL: nothing to give). */
	void (*end)(void *fe);
	void (*close)(void *fe);
};

#endif
