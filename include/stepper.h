/* stepper.h: stop a real restore at any barrier and look (issue "The
 * stepper").  The restore engine (restore/restore.c, the controller) calls
 * the stepper whenever something stops; the stepper runs commands — from
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

struct restore_ctx;
struct stepper;

/* Breakpoint slots in te->bps: the user's are 0..BARRIER_NR_BPS-2 (shown
 * to the user as 1..N); the last one is the stepper's own for step/next. */
#define STEPPER_BP_STEP (BARRIER_NR_BPS - 1)

enum stop_kind {
	STOP_START,		/* before the first switch: arm breakpoints now */
	STOP_BREAKPOINT,	/* a user breakpoint was hit */
	STOP_STEP,		/* step/next reached its event */
	STOP_COMPLETE,		/* the restore is complete (tasks detached or about to be) */
	STOP_FAILED,		/* the restore failed (tree already killed) */
	STOP_HANG,		/* the watchdog fired (issue "Hang diagnosis") */
};

struct stop_event {
	enum stop_kind kind;
	int bp;			/* te->bps index, -1 if none */
	int slot;		/* parked participant's slot; -1 for the controller */
	struct barrier_event ev;	/* HOLD event of the participant, or the
					   switch the controller is about to make
					   (type SWITCH, seq 0) */
};

enum resume_action {
	RESUME_CONTINUE,	/* release the stop, go on */
	RESUME_KILL,		/* abort the restore cleanly (exit 2) */
	RESUME_DETACH,		/* disarm everything, finish, leave the tree running */
	RESUME_QUIT,		/* kill if still restoring, then exit */
};

struct stepper_opts {
	int batch;		/* --batch: no prompt; run the scripts, then go on */
	int cli;		/* --cli: the line interface even if not on a tty */
	const char **ex;	/* -ex CMD, in order */
	int nr_ex;
	const char *script;	/* -x FILE */
	FILE *out;		/* where stops, info and TAP go (stdout) */
};

struct stepper *stepper_new(const struct stepper_opts *opts);
void stepper_free(struct stepper *s);

/* The engine's call at every stop.  For STOP_BREAKPOINT the stepper first
 * applies the breakpoint's condition and ignore count, and may resume at
 * once without printing anything. */
enum resume_action stepper_stop(struct stepper *s, struct restore_ctx *ctx,
				const struct stop_event *stop);

/* After the end (complete or failed): the exit code the stepper asks for:
 * EXIT_OK, EXIT_EXPECT (an expect failed), EXIT_USAGE (a script error), and
 * it prints the TAP plan if any expect ran. */
int stepper_finish(struct stepper *s);

/* Does the stepper want stops at all (any script, command or interactive
 * session)?  Without it the engine never calls stepper_stop and arms
 * nothing: a plain restore costs exactly what it did before. */
int stepper_active(const struct stepper *s);

#endif
