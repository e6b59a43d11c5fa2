/* tui-priv.h: what the parts of the terminal UI share: the state of one
 * UI (struct tui), its panes and colours.  tui.c owns the terminal, the
 * keys, the command line and the stepper's side; tui-draw.c lays out and
 * draws the panes from the shared area. */
#ifndef CRSTEP_TUI_PRIV_H
#define CRSTEP_TUI_PRIV_H

#include <curses.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "clock.h"
#include "stepper.h"

#define OUT_LINES 200		/* output pane history */
#define HIST_LINES 100		/* `:` history */
#define CMDLEN 256
#define MAX_SKIP 64		/* stderr ranges not to replay */
#define KEY_ESC 27
#define CTRL(c) ((c) & 0x1f)

enum pane { PANE_TASKS, PANE_STAGES, PANE_SWITCHES, PANE_OUTPUT, PANE_NR };

enum color {
	C_NONE, C_HEADER, C_ROOT, C_CONTROLLER, C_OUTSTANDING, C_FAIL, C_OK, C_TITLE, C_FOCUS, C_HELD, C_ERR,
	C_NR
};

struct tui {
	struct stepper *s;
	SCREEN *scr;
	FILE *tty_in, *tty_out;	/* /dev/tty when stdio is not the terminal */
	int active;		/* curses owns the screen */
	int colors;

	WINDOW *w_head, *w_tasks, *w_barrier, *w_switches, *w_timeline, *w_out, *w_status;
	int task_rows;		/* visible rows of the task table */

	/* What the stepper prints: a memory stream, drained into out[]. */
	FILE *out;
	char *out_buf;
	size_t out_len, out_done;
	char *lines[OUT_LINES];
	unsigned char line_err[OUT_LINES];
	int nr_lines, out_scroll;
	size_t stop_mark;	/* out_buf offset where the current stop began */

	/* stderr held in a temporary file. */
	int saved_err, held_fd;
	off_t held_done;	/* read into the output pane up to here */
	off_t typed_from;	/* -1, or where a typed command's errors begin */
	struct { off_t from, to; } skip[MAX_SKIP];
	int nr_skip;

	enum pane focus;
	int sel_task, top_task, sel_stage;
	int help, quitting, confirm_quit, pending_quit;
	char message[160];

	char cmd[CMDLEN];
	int cmd_len, cmd_pos, in_cmd;
	char *hist[HIST_LINES];
	int nr_hist, hist_pos;
	char line[CMDLEN];	/* returned by tui_gets */

	struct clock_fit clock;
	int clock_ok;
	int64_t start_ns;
	pid_t owner;
};

/* tui-draw.c */
void init_colors(struct tui *t);
void free_windows(struct tui *t);
void layout(struct tui *t, const struct stepper_view *v);
int nr_slots(const struct stepper_view *v);
int final_kind(const struct stepper_view *v);
void draw(struct tui *t, const struct stepper_view *v, const char *prompt);

/* tui.c */
void drain_output(struct tui *t);

#endif
