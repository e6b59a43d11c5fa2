/* stepper-priv.h: what the stepper's files (stepper.c: stops and line
 * sources, cmd.c: the command table, info.c: the reports) share.  Not for
 * other modules: they use include/stepper.h. */
#ifndef CRSTEP_STEPPER_PRIV_H
#define CRSTEP_STEPPER_PRIV_H

#include <stdint.h>
#include <stdio.h>

#include "barrier.h"
#include "stepper.h"

struct restore_ctx;

#define NR_USER_BPS STEPPER_BP_STEP	/* te->bps[0..NR_USER_BPS-1] */
#define MAX_DISPLAYS 16

/* A user breakpoint; its te->bps twin has the same index (number - 1). */
struct user_bp {
	int used;
	int temporary;		/* tbreak: deleted when it stops */
	int enabled;
	enum barrier_bp_kind kind;
	int from, to;
	int32_t pid;
	struct expr *cond;
	char *cond_text;
	unsigned ignore;	/* hits still to let pass */
	unsigned hits;		/* stops it caused or would have (condition true) */
	int silent;		/* `commands` began with `silent` */
	int nr_cmds;
	char **cmds;		/* `commands` lines */
	char **cmd_origins;	/* where each came from, for errors */
};

/* A line of a batch script with where it came from. */
struct script_line {
	char *text;
	char *origin;		/* "FILE:LINE" or "-ex N" */
};

struct stepper {
	struct stepper_opts opts;
	FILE *out;

	struct script_line *script;
	int nr_script, cap_script, next_line;
	void *cli;		/* opts.cli_frontend, made at the first prompt */
	int cli_eof;
	void *tui;		/* opts.tui_frontend: the full-screen UI, made at the first stop */

	/* The stop being handled (valid only inside stepper_stop). */
	struct restore_ctx *ctx;
	const struct stop_event *stop;
	int stop_user_bp;	/* the user breakpoint index it stopped at, -1 */
	int final;		/* STOP_COMPLETE / STOP_FAILED: nothing resumes */

	struct user_bp bps[NR_USER_BPS];
	int last_bp;		/* index of the last breakpoint made, -1 */
	int stepping;		/* BP_ANY_EVENT / BP_ANY_SWITCH armed, or 0 */

	struct {
		struct expr *e;
		char *text;
	} displays[MAX_DISPLAYS];

	int nr_expect, nr_expect_failed;
	int script_error;	/* EXIT_USAGE at the end, kill now */
	int ended_restore;	/* a kill or quit of the script's (or the
				 * user's) ended the restore: no failure */
	int plan_printed;

	/* The command being run: where from, for error messages. */
	const char *origin;	/* NULL: typed at the prompt */
	char *last_line;	/* repeated by an empty line at the prompt */

	enum resume_action resume;
};

/* Command results. */
#define CMD_OK 0
#define CMD_ERROR (-1)
#define CMD_RESUME 1		/* s->resume says how */

/* cmd.c */
int cmd_run_line(struct stepper *s, const char *line, const char *origin);
/* Check a script before anything runs: command names and expression
 * syntax.  0 or -1 (reported with the line's origin). */
int cmd_check_script(struct stepper *s);
int cmd_is_norepeat(const char *line);
/* The next line for `commands`: from the script or the prompt (">").
 * NULL at the end of input; *origin set as for cmd_run_line. */
const char *stepper_next_line(struct stepper *s, const char **origin, const char *prompt);

/* stepper.c */
__attribute__((format(printf, 2, 3))) int cmd_error(struct stepper *s, const char *fmt, ...);
struct task_entries *stepper_te(struct stepper *s);
void stepper_bp_free(struct user_bp *bp);
void stepper_expr_env(struct stepper *s, struct expr_env *env);
int stepper_describe_bp(const struct user_bp *bp, char *buf, size_t len);
int stepper_parse_pid(struct stepper *s, const char *word, int32_t *pid);
/* Print "N: EXPR = VALUE" for display i. */
void stepper_show_display(struct stepper *s, int i);

/* info.c */
void info_tasks(struct stepper *s);
void info_barrier(struct stepper *s);
void info_switches(struct stepper *s);
void info_breakpoints(struct stepper *s);
void info_protocol(struct stepper *s);
void info_hang(struct stepper *s);
void info_display(struct stepper *s);

#endif
