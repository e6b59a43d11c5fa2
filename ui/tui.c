/* tui.c: the full-screen UI (issue 6), the line interface's stand-in on a
 * terminal.  It never acts on the restore itself: single keys become the
 * stepper's own command lines ("continue", "break task 30100 FORKING"), the
 * `:` line goes through the same command table, and what the commands print
 * (into tui_out()) lands in the output pane.
 *
 * Panes, top to bottom: header (dir, protocol, stage, elapsed, state), the
 * task table, the barrier panel next to the switch log, the timeline, the
 * output, and the key line / command line.  Each pane is a window redrawn
 * whole and flushed with wnoutrefresh; one doupdate per frame (tig's
 * display.c).  Everything is read from the shared area, which the stepper
 * only reads while the engine is awake anyway: drawing costs the tasks
 * nothing.
 *
 * The terminal is given back on every way out: tui_end(), atexit, and a
 * handler for the fatal signals that ends curses first, replays the held
 * stderr and then re-raises (htop's CRT.c).  stderr (fd 2) goes to an
 * unlinked temporary file while curses owns the screen; what arrived there
 * is shown in the output pane and written back to the real stderr at the
 * end, except the errors of commands typed here (they were shown). */
#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "barrier.h"
#include "protocol.h"
#include "restore.h"
#include "stepper.h"
#include "trace.h"
#include "ui.h"

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

/* The one UI the signal handlers and atexit know about. */
static struct tui *current;

/* Terminal and stderr. */

static void replay_held(struct tui *t)
{
	char buf[4096];
	off_t pos = 0;
	int i;

	if (t->held_fd < 0 || t->saved_err < 0)
		return;
	for (;;) {
		ssize_t n = pread(t->held_fd, buf, sizeof(buf), pos), w, off = 0;

		if (n <= 0)
			break;
		/* Drop the bytes of the ranges already shown (typed commands). */
		for (i = 0; i < t->nr_skip; i++) {
			if (t->skip[i].from <= pos && pos < t->skip[i].to) {
				n = 0;
				pos = t->skip[i].to;
				break;
			}
			if (pos < t->skip[i].from && t->skip[i].from < pos + n)
				n = t->skip[i].from - pos;
		}
		for (w = 0; off < n; off += w)
			if ((w = write(t->saved_err, buf + off, n - off)) <= 0)
				return;
		pos += n;
	}
}

/* Give the terminal and fd 2 back.  Only what is safe in a signal
 * handler is needed here besides endwin() (as htop's CRT_done()). */
static void screen_done(struct tui *t)
{
	if (!t->active)
		return;
	t->active = 0;
	endwin();
	if (t->saved_err >= 0) {
		dup2(t->saved_err, 2);
		replay_held(t);
		close(t->saved_err);
		t->saved_err = -1;
	}
}

static void fatal_signal(int sig)
{
	struct tui *t = current;

	/* The tasks forked while the UI was up inherit this handler: the
	 * screen is not theirs. */
	if (t && t->owner == getpid())
		screen_done(t);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void at_exit(void)
{
	if (current && current->owner == getpid())
		screen_done(current);
}

static void install_handlers(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM, SIGINT, SIGHUP, SIGQUIT };
	struct sigaction sa = { .sa_handler = fatal_signal, .sa_flags = SA_RESETHAND };
	static int once;
	size_t i;

	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	if (!once++)
		atexit(at_exit);
}

static void restore_handlers(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM, SIGINT, SIGHUP, SIGQUIT };
	size_t i;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
}

static int hold_stderr(struct tui *t)
{
	char path[] = "/tmp/crstep-stderr.XXXXXX";

	t->held_fd = mkostemp(path, O_CLOEXEC);
	if (t->held_fd < 0)
		return -1;
	unlink(path);
	fflush(stderr);
	t->saved_err = fcntl(2, F_DUPFD_CLOEXEC, 10);
	if (t->saved_err < 0 || dup2(t->held_fd, 2) < 0) {
		close(t->held_fd);
		t->held_fd = -1;
		return -1;
	}
	return 0;
}

static void init_colors(struct tui *t)
{
	t->colors = has_colors() && !getenv("NO_COLOR");
	if (!t->colors)
		return;
	start_color();
	use_default_colors();
	init_pair(C_HEADER, COLOR_WHITE, COLOR_BLUE);
	init_pair(C_ROOT, COLOR_GREEN, -1);
	init_pair(C_CONTROLLER, COLOR_CYAN, -1);
	init_pair(C_OUTSTANDING, COLOR_YELLOW, -1);
	init_pair(C_FAIL, COLOR_RED, -1);
	init_pair(C_OK, COLOR_GREEN, -1);
	init_pair(C_TITLE, COLOR_BLACK, COLOR_WHITE);
	init_pair(C_FOCUS, COLOR_BLACK, COLOR_CYAN);
	init_pair(C_HELD, COLOR_MAGENTA, -1);
	init_pair(C_ERR, COLOR_RED, -1);
}

/* The attribute of a colour, or its monochrome stand-in. */
static attr_t attr(struct tui *t, enum color c)
{
	static const attr_t mono[C_NR] = {
		[C_HEADER] = A_REVERSE, [C_ROOT] = A_BOLD, [C_CONTROLLER] = A_UNDERLINE,
		[C_OUTSTANDING] = A_BOLD, [C_FAIL] = A_BOLD, [C_OK] = A_BOLD, [C_TITLE] = A_REVERSE,
		[C_FOCUS] = A_REVERSE | A_BOLD, [C_HELD] = A_BOLD | A_UNDERLINE, [C_ERR] = A_BOLD,
	};

	if (!t->colors)
		return mono[c];
	return COLOR_PAIR(c) | (c == C_OUTSTANDING || c == C_FAIL || c == C_FOCUS ? A_BOLD : 0);
}

/* Layout: every pane a window; made again on resize. */

static void free_windows(struct tui *t)
{
	WINDOW **w[] = { &t->w_head, &t->w_tasks, &t->w_barrier, &t->w_switches, &t->w_timeline, &t->w_out,
			 &t->w_status };
	size_t i;

	for (i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (*w[i]) {
			delwin(*w[i]);
			*w[i] = NULL;
		}
}

static int nr_slots(const struct stepper_view *v)
{
	uint32_t n = v->ctx ? v->ctx->shared->te.nr_slots : 0;

	return n > BARRIER_NR_SLOTS ? BARRIER_NR_SLOTS : (int)n;
}

static WINDOW *mkwin(int h, int w, int y, int x)
{
	if (h < 1 || w < 1)
		return NULL;
	return newwin(h, w, y, x);
}

/* Heights: header 2, tasks 2 + rows, barrier/switches 9, timeline 3 + rows,
 * output the rest (at least 3), status 1.  At 80x24 the task table and the
 * timeline give up rows first. */
static void layout(struct tui *t, const struct stepper_view *v)
{
	int rows = LINES, cols = COLS, n = nr_slots(v), y = 0;
	int h_tasks, h_mid = 9, h_time, h_out, left = cols >= 100 ? 50 : cols / 2;

	free_windows(t);
	if (n < 1)
		n = 1;
	h_tasks = 2 + n;
	h_time = 3 + n;
	if (rows < 30)
		h_mid = 7;
	while (2 + h_tasks + h_mid + h_time + 3 + 1 > rows && (h_tasks > 3 || h_time > 4)) {
		if (h_time > 4 && h_time >= h_tasks)
			h_time--;
		else if (h_tasks > 3)
			h_tasks--;
		else
			h_time--;
	}
	if (h_tasks > 2 + 12)
		h_tasks = 2 + 12;
	if (h_time > 3 + 12)
		h_time = 3 + 12;
	h_out = rows - (2 + h_tasks + h_mid + h_time + 1);
	if (h_out < 1) {
		h_mid += h_out - 1;
		h_out = 1;
	}
	t->task_rows = h_tasks - 2;
	t->w_head = mkwin(2, cols, y, 0);
	y += 2;
	t->w_tasks = mkwin(h_tasks, cols, y, 0);
	y += h_tasks;
	t->w_barrier = mkwin(h_mid, left, y, 0);
	t->w_switches = mkwin(h_mid, cols - left, y, left);
	y += h_mid;
	t->w_timeline = mkwin(h_time, cols, y, 0);
	y += h_time;
	t->w_out = mkwin(h_out, cols, y, 0);
	t->w_status = mkwin(1, cols, rows - 1, 0);
}

/* Reading the area. */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t tsc_ns(struct tui *t, uint64_t tsc)
{
	if (!t->clock_ok || !tsc)
		return 0;
	return clock_fit_ns(&t->clock, tsc);
}

static const char *stage_str(int stage)
{
	return stage == CR_STATE_FAIL ? "none" : stage_name(stage) ? stage_name(stage) : "?";
}

static void duration(char *buf, size_t len, int64_t ns)
{
	if (ns < 0)
		ns = 0;
	if (ns < 1000000)
		snprintf(buf, len, "%.1f us", ns / 1e3);
	else if (ns < 10000000000LL)
		snprintf(buf, len, "%.1f ms", ns / 1e6);
	else
		snprintf(buf, len, "%.1f s", ns / 1e9);
}

static int final_kind(const struct stepper_view *v)
{
	return v->stop && (v->stop->kind == STOP_COMPLETE || v->stop->kind == STOP_FAILED);
}

/* The end of the time axis: now while it runs or waits at a stop, the last
 * event once the restore is over. */
static int64_t time_end(struct tui *t, const struct stepper_view *v)
{
	const struct task_entries *te = &v->ctx->shared->te;
	struct barrier_event ev;
	uint64_t last = barrier_events_written(te);

	if (final_kind(v) && last && !barrier_event_read(te, last, &ev))
		return tsc_ns(t, ev.tsc);
	return now_ns();
}

/* The switch into `stage` (the latest one), or -1. */
static int switch_into(const struct task_entries *te, int stage, struct barrier_event *out)
{
	uint64_t seq = barrier_events_written(te), low = seq > BARRIER_RING_SIZE ? seq - BARRIER_RING_SIZE : 0;

	for (; seq > low; seq--)
		if (!barrier_event_read(te, seq, out) && out->type == BARRIER_EV_SWITCH && out->stage_to == stage)
			return 0;
	return -1;
}

static int failed_stage(const struct task_entries *te)
{
	uint64_t seq, last = barrier_events_written(te);
	struct barrier_event ev;

	for (seq = last > BARRIER_RING_SIZE ? last - BARRIER_RING_SIZE + 1 : 1; seq <= last; seq++)
		if (!barrier_event_read(te, seq, &ev) && (ev.type == BARRIER_EV_ABORT || ev.type == BARRIER_EV_FAIL))
			return ev.stage_from;
	return CR_STATE_FAIL;
}

/* Does slot i still owe the current stage its arrival? */
static int outstanding(const struct stepper_view *v, int i)
{
	const struct task_entries *te = &v->ctx->shared->te;
	const struct task_slot *sl = &te->slots[i];
	int stage = te->start;

	if (stage < 0 || stage >= CR_STATE_NR || te->failed)
		return 0;
	return protocol_role_finishes(v->ctx->proto, stage, sl->role) && !sl->arrive_tsc[stage];
}

/* What slot i waits on and since when (a TSC). */
static void waits_on(const struct stepper_view *v, int i, int alive, char *buf, size_t len, uint64_t *since)
{
	const struct task_entries *te = &v->ctx->shared->te;
	const struct task_slot *sl = &te->slots[i];
	struct barrier_event sw;

	*since = switch_into(te, te->start, &sw) ? te->clock_start.tsc : sw.tsc;
	if (!alive) {
		snprintf(buf, len, "exited");
	} else if (__atomic_load_n(&sl->gate, __ATOMIC_ACQUIRE)) {
		if (sl->held_bp == STEPPER_BP_STEP)
			snprintf(buf, len, "gate (step)");
		else
			snprintf(buf, len, "gate (breakpoint %d)", sl->held_bp + 1);
		*since = sl->hold_tsc;
	} else if (sl->waiting_on >= 0) {
		snprintf(buf, len, "start word (%s)", stage_str(sl->waiting_on));
		if (sl->waiting_on < CR_STATE_NR && sl->arrive_tsc[(int)sl->waiting_on])
			*since = sl->arrive_tsc[(int)sl->waiting_on];
	} else if (te->failed) {
		snprintf(buf, len, "gone");
	} else if (sl->host_pid <= 0 && sl->stage_reached < 0) {
		snprintf(buf, len, "not forked yet");
	} else if (te->failed || te->start == CR_STATE_COMPLETE) {
		snprintf(buf, len, "-");
	} else {
		snprintf(buf, len, "running");
	}
}

/* Drawing. */

static void fill_line(WINDOW *w, int y, attr_t a)
{
	int x, cols = getmaxx(w);

	wattron(w, a);
	for (x = 0; x < cols; x++)
		mvwaddch(w, y, x, ' ');
	wattroff(w, a);
}

static void put(WINDOW *w, int y, int x, attr_t a, const char *text)
{
	int room = getmaxx(w) - x;

	if (!w || room <= 0 || y >= getmaxy(w))
		return;
	wattron(w, a);
	mvwaddnstr(w, y, x, text, room);
	wattroff(w, a);
}

static void title(struct tui *t, WINDOW *w, enum pane p, const char *text)
{
	char buf[160];

	fill_line(w, 0, attr(t, t->focus == p ? C_FOCUS : C_TITLE));
	snprintf(buf, sizeof(buf), " %s", text);
	put(w, 0, 0, attr(t, t->focus == p ? C_FOCUS : C_TITLE), buf);
}

static void state_text(struct tui *t, const struct stepper_view *v, char *buf, size_t len, enum color *c)
{
	const struct task_entries *te = &v->ctx->shared->te;

	*c = C_HEADER;
	if (!v->stop) {
		snprintf(buf, len, "running");
		return;
	}
	switch (v->stop->kind) {
	case STOP_START:
		snprintf(buf, len, "stopped before the first switch");
		break;
	case STOP_BREAKPOINT:
		if (v->user_bp >= 0)
			snprintf(buf, len, "stopped at breakpoint %d", v->user_bp + 1);
		else
			snprintf(buf, len, "stopped");
		break;
	case STOP_STEP:
		snprintf(buf, len, "stopped (step)");
		break;
	case STOP_COMPLETE:
		snprintf(buf, len, "complete");
		*c = C_OK;
		break;
	case STOP_FAILED:
		snprintf(buf, len, "failed at %s", stage_str(failed_stage(te)));
		*c = C_FAIL;
		break;
	case STOP_HANG:
		snprintf(buf, len, "hang at %s", stage_str(te->start));
		*c = C_FAIL;
		break;
	}
	(void)t;
}

/* "switch FORKING -> RESTORE by root 30100" for the stop's event. */
static void stop_what(const struct stepper_view *v, char *buf, size_t len)
{
	const struct stop_event *st = v->stop;
	const struct barrier_event *ev;
	int type;

	buf[0] = 0;
	if (!st || (st->kind != STOP_BREAKPOINT && st->kind != STOP_STEP))
		return;
	ev = &st->ev;
	type = ev->type == BARRIER_EV_HOLD ? (int)ev->count_set : ev->type;
	if (type == BARRIER_EV_SWITCH && ev->role == ROLE_CONTROLLER)
		snprintf(buf, len, "at: switch %s -> %s by the controller", stage_str(ev->stage_from),
			 stage_str(ev->stage_to));
	else if (type == BARRIER_EV_SWITCH)
		snprintf(buf, len, "at: switch %s -> %s by the %s, task %" PRId32 " (held)", stage_str(ev->stage_from),
			 stage_str(ev->stage_to), role_name(ev->role), ev->pid);
	else if (type == BARRIER_EV_ARRIVE)
		snprintf(buf, len, "at: task %" PRId32 " (%s) about to finish %s (held)", ev->pid, role_name(ev->role),
			 stage_str(ev->stage_to));
	else if (type == BARRIER_EV_ABORT)
		snprintf(buf, len, "at: abort by the %s, task %" PRId32, role_name(ev->role), ev->pid);
}

static void draw_header(struct tui *t, const struct stepper_view *v)
{
	const struct task_entries *te = &v->ctx->shared->te;
	char buf[512], state[80], el[32], what[160];
	enum color c;
	WINDOW *w = t->w_head;

	if (!w)
		return;
	werase(w);
	fill_line(w, 0, attr(t, C_HEADER));
	state_text(t, v, state, sizeof(state), &c);
	duration(el, sizeof(el), time_end(t, v) - t->start_ns);
	/* The state first: the directory is what gives way on a narrow screen. */
	put(w, 0, 0, attr(t, C_HEADER), " crstep  ");
	put(w, 0, 9, attr(t, c) | A_BOLD, state);
	snprintf(buf, sizeof(buf), "  stage %s  protocol %s  elapsed %s  %s",
		 stage_str(te->failed ? failed_stage(te) : te->start), v->ctx->proto->name, el, v->ctx->opts->dir);
	put(w, 0, 9 + (int)strlen(state), attr(t, C_HEADER), buf);
	stop_what(v, what, sizeof(what));
	if (t->message[0])
		put(w, 1, 1, attr(t, C_OUTSTANDING), t->message);
	else
		put(w, 1, 1, A_NORMAL, what);
}

static enum color role_color(int role)
{
	return role == ROLE_ROOT ? C_ROOT : role == ROLE_CONTROLLER ? C_CONTROLLER : C_NONE;
}

static void draw_tasks(struct tui *t, const struct stepper_view *v)
{
	const struct task_entries *te = &v->ctx->shared->te;
	int n = nr_slots(v), i, row;
	uint64_t now = barrier_rdtsc();
	WINDOW *w = t->w_tasks;
	char buf[300];

	if (!w)
		return;
	werase(w);
	snprintf(buf, sizeof(buf), "Tasks (%d)   highlighted: outstanding at %s", n, stage_str(te->start));
	title(t, w, PANE_TASKS, buf);
	snprintf(buf, sizeof(buf), "  %-8s %-8s %-7s %-18s %-22s %10s  %-2s %s", "PID", "HOST", "ROLE", "REACHED",
		 "WAITS ON", "FOR", "ST", "WCHAN");
	put(w, 1, 0, A_BOLD, buf);
	if (t->sel_task >= n)
		t->sel_task = n ? n - 1 : 0;
	if (t->sel_task < t->top_task)
		t->top_task = t->sel_task;
	if (t->sel_task >= t->top_task + t->task_rows)
		t->top_task = t->sel_task - t->task_rows + 1;
	for (row = 0, i = t->top_task; i < n && row < t->task_rows; i++, row++) {
		const struct task_slot *sl = &te->slots[i];
		char host[16], what[40], dur[24], st[8], wchan[40];
		uint64_t since;
		int alive, held = v->stop && v->stop->slot == i;
		attr_t a = A_NORMAL;

		alive = proc_task_state(sl->host_pid, st, sizeof(st), wchan, sizeof(wchan)) == 0 || sl->host_pid <= 0;
		waits_on(v, i, alive, what, sizeof(what), &since);
		if (sl->host_pid > 0)
			snprintf(host, sizeof(host), "%" PRId32, sl->host_pid);
		else
			snprintf(host, sizeof(host), "-");
		duration(dur, sizeof(dur), t->clock_ok && since ? tsc_ns(t, final_kind(v) ? since : now) -
			 tsc_ns(t, since) : 0);
		if (final_kind(v))
			snprintf(dur, sizeof(dur), "-");
		snprintf(buf, sizeof(buf), "%c %-8" PRId32 " %-8s %-7s %-18s %-22s %10s  %-2s %s", held ? '*' : ' ',
			 sl->pid, host, role_name(sl->role), sl->stage_reached >= 0 ? stage_str(sl->stage_reached) : "-",
			 what, dur, st, wchan);
		if (outstanding(v, i))
			a = attr(t, C_OUTSTANDING);
		if (__atomic_load_n(&sl->gate, __ATOMIC_ACQUIRE))
			a = attr(t, C_HELD);
		if (t->focus == PANE_TASKS && i == t->sel_task)
			a |= A_REVERSE;
		put(w, 2 + row, 0, a, buf);
	}
	if (n > t->task_rows)
		put(w, 0, getmaxx(w) - 14, attr(t, C_TITLE), t->top_task + t->task_rows < n ? " [more below] " : "");
}

static const char *performer_word(int role)
{
	return role == ROLE_ROOT ? "root" : role == ROLE_CONTROLLER ? "controller" : role_name(role);
}

static void draw_barrier(struct tui *t, const struct stepper_view *v)
{
	const struct task_entries *te = &v->ctx->shared->te;
	const struct protocol *p = v->ctx->proto;
	int stage = te->start, n = nr_slots(v), i, y, x, width;
	uint32_t raw = __atomic_load_n(&te->nr_in_progress, __ATOMIC_ACQUIRE);
	int32_t count = BARRIER_COUNT(raw);
	uint32_t parts = stage >= 0 ? stage_participants(p, stage, te) : 0;
	struct barrier_event sw;
	WINDOW *w = t->w_barrier;
	char buf[300];
	int seq[CR_STATE_NR], nseq = protocol_sequence(p, seq);

	if (!w)
		return;
	werase(w);
	title(t, w, PANE_STAGES, "Barrier");
	if (!switch_into(te, stage, &sw) && sw.count_set)
		parts = sw.count_set;
	if (te->failed)
		snprintf(buf, sizeof(buf), "stage FAIL (the restore failed at %s)", stage_str(failed_stage(te)));
	else
		snprintf(buf, sizeof(buf), "stage %s", stage_str(stage));
	put(w, 1, 1, A_BOLD, buf);
	if (raw & BARRIER_ABORT_BIT) {
		put(w, 2, 1, attr(t, C_FAIL), "nr_in_progress: aborted");
	} else {
		/* The bar: the part still in progress, filled. */
		snprintf(buf, sizeof(buf), "nr_in_progress %" PRId32 " / participants %" PRIu32 " ", count, parts);
		put(w, 2, 1, A_NORMAL, buf);
		x = 1 + (int)strlen(buf);
		width = getmaxx(w) - x - 3;
		if (width < 4)
			width = 4;
		put(w, 2, x, A_NORMAL, "[");
		for (i = 0; i < width; i++) {
			int filled = parts && i < (int)((int64_t)width * (count < 0 ? 0 : count) / (int64_t)parts);

			put(w, 2, x + 1 + i, filled ? attr(t, C_OUTSTANDING) : A_NORMAL, filled ? "#" : ".");
		}
		put(w, 2, x + 1 + width, A_NORMAL, "]");
	}
	if (stage == CR_STATE_FAIL)
		snprintf(buf, sizeof(buf), "switched in by: -");
	else if (switch_into(te, stage, &sw))
		snprintf(buf, sizeof(buf), "switched in by: ?");
	else if (sw.role == ROLE_CONTROLLER)
		snprintf(buf, sizeof(buf), "switched in by: controller");
	else
		snprintf(buf, sizeof(buf), "switched in by: %s %" PRId32, performer_word(sw.role), sw.pid);
	put(w, 3, 1, A_NORMAL, buf);
	if (stage >= 0 && !switch_into(te, stage, &sw))
		put(w, 3, 17, attr(t, role_color(sw.role)), strchr(buf, ':') + 2);
	x = snprintf(buf, sizeof(buf), "outstanding:");
	for (i = 0; i < n && x < (int)sizeof(buf) - 20; i++)
		if (outstanding(v, i))
			x += snprintf(buf + x, sizeof(buf) - x, " %" PRId32 " (%s)", te->slots[i].pid,
				      role_name(te->slots[i].role));
	if (x == 12)
		snprintf(buf + x, sizeof(buf) - x, " none");
	put(w, 4, 1, x > 12 ? attr(t, C_OUTSTANDING) : A_NORMAL, buf);
	i = protocol_next_stage(p, stage);
	if (i < CR_STATE_NR && !te->failed) {
		snprintf(buf, sizeof(buf), "next: %s, switched by the ", stage_name(i));
		put(w, 5, 1, A_NORMAL, buf);
		put(w, 5, 1 + (int)strlen(buf), attr(t, role_color(protocol_switcher(p, i))),
		    performer_word(protocol_switcher(p, i)));
	}
	/* The stage sequence, the selected one marked for `b`. */
	y = 6;
	x = 1;
	for (i = 0; i < nseq; i++) {
		const char *name = stage_name(seq[i]);
		attr_t a = seq[i] == stage ? A_BOLD | A_UNDERLINE : A_NORMAL;

		if (x + (int)strlen(name) + 1 >= getmaxx(w)) {
			y++;
			x = 1;
		}
		if (i == t->sel_stage)
			a |= A_REVERSE;
		put(w, y, x, a, name);
		x += (int)strlen(name) + 1;
	}
}

static void draw_switches(struct tui *t, const struct stepper_view *v)
{
	const struct task_entries *te = &v->ctx->shared->te;
	uint64_t last = barrier_events_written(te), seq;
	int rows, n = 0, first, k;
	WINDOW *w = t->w_switches;
	struct barrier_event ev, evs[64];
	int root_forking, aborts = 0;

	if (!w)
		return;
	werase(w);
	title(t, w, PANE_SWITCHES, "Switch log   by: root / controller   * root-driven FORKING -> RESTORE");
	for (seq = last > BARRIER_RING_SIZE ? last - BARRIER_RING_SIZE + 1 : 1; seq <= last; seq++) {
		if (barrier_event_read(te, seq, &ev) ||
		    (ev.type != BARRIER_EV_SWITCH && ev.type != BARRIER_EV_FAIL && ev.type != BARRIER_EV_ABORT))
			continue;
		/* The first abort is the cause; the others (the controller's
		 * own, after it) only follow it. */
		if (ev.type == BARRIER_EV_ABORT && aborts++)
			continue;
		if (n == 64) {
			memmove(evs, evs + 1, 63 * sizeof(*evs));
			n--;
		}
		evs[n++] = ev;
	}
	rows = getmaxy(w) - 1;
	first = n > rows ? n - rows : 0;
	for (k = first; k < n; k++) {
		char what[64], by[40], at[24], line[200];
		int y = 1 + k - first, x;

		ev = evs[k];
		duration(at, sizeof(at), tsc_ns(t, ev.tsc) - t->start_ns);
		if (ev.type == BARRIER_EV_ABORT) {
			if (ev.role == ROLE_CONTROLLER)
				snprintf(by, sizeof(by), "controller");
			else
				snprintf(by, sizeof(by), "%s %" PRId32, performer_word(ev.role), ev.pid);
			snprintf(line, sizeof(line), "%2d ABORT at %-24s %-16s %s", k + 1, stage_str(ev.stage_from), by,
				 strerror(ev.err));
			put(w, y, 0, attr(t, C_FAIL), line);
			continue;
		}
		snprintf(what, sizeof(what), "%s -> %s", stage_str(ev.stage_from), stage_str(ev.stage_to));
		if (ev.role == ROLE_CONTROLLER)
			snprintf(by, sizeof(by), "controller");
		else
			snprintf(by, sizeof(by), "%s %" PRId32, performer_word(ev.role), ev.pid);
		/* The seed patch's point: the root, not the controller,
		 * switches FORKING -> RESTORE (or PRE_RESTORER). */
		root_forking = ev.type == BARRIER_EV_SWITCH && ev.role == ROLE_ROOT &&
			       ev.stage_from == CR_STATE_FORKING;
		x = snprintf(line, sizeof(line), "%2d%c%-32s ", k + 1, root_forking ? '*' : ' ', what);
		put(w, y, 0, ev.type == BARRIER_EV_FAIL ? attr(t, C_FAIL) : root_forking ? attr(t, C_ROOT) | A_BOLD :
		    A_NORMAL, line);
		put(w, y, x, attr(t, role_color(ev.role)) | (root_forking ? A_BOLD : 0), by);
		x += 17;
		snprintf(line, sizeof(line), "n=%-3" PRIu32 "%9s", ev.count_set, at);
		put(w, y, x, A_NORMAL, line);
	}
	if (!n)
		put(w, 1, 1, A_NORMAL, "(no switch yet)");
}

/* The timeline: one segment per stage of the protocol (equal widths, so
 * that a long stop does not squash the rest), each spanning the stage from
 * the switch into it to the switch out of it (or now).  In it, per task:
 * '=' while it works on the stage, '.' once it arrived and waits for the
 * switch, '!' held at a breakpoint gate, '-' the stage does not count it. */
static char timeline_cell(struct tui *t, const struct stepper_view *v, int i, int stage, int64_t at)
{
	const struct task_entries *te = &v->ctx->shared->te;
	const struct task_slot *sl = &te->slots[i];

	if (__atomic_load_n(&sl->gate, __ATOMIC_ACQUIRE) && stage == te->start && tsc_ns(t, sl->hold_tsc) <= at)
		return '!';
	if (!protocol_role_finishes(v->ctx->proto, stage, sl->role))
		return '-';
	if (sl->arrive_tsc[stage] && tsc_ns(t, sl->arrive_tsc[stage]) <= at)
		return '.';
	return '=';
}

static void draw_timeline(struct tui *t, const struct stepper_view *v)
{
	const struct task_entries *te = &v->ctx->shared->te;
	const struct protocol *p = v->ctx->proto;
	int n = nr_slots(v), i, k, c, row, seg, rows, seq[CR_STATE_NR], nseq = protocol_sequence(p, seq);
	int64_t t1 = time_end(t, v), sw_ns[CR_STATE_NR + 1];
	struct barrier_event ev;
	WINDOW *w = t->w_timeline;
	char buf[200];

	if (!w)
		return;
	werase(w);
	title(t, w, PANE_NR, "Timeline   one column per stage:  = working   . arrived, waiting for the switch   "
	      "! held   - not counted");
	for (i = 0; i < CR_STATE_NR; i++)
		sw_ns[i] = switch_into(te, i, &ev) ? 0 : tsc_ns(t, ev.tsc);
	seg = (getmaxx(w) - 21) / (nseq ? nseq : 1);
	if (seg < 3 || !t->clock_ok) {
		put(w, 1, 1, A_NORMAL, "(too narrow)");
		return;
	}
	for (k = 0; k < nseq; k++) {
		snprintf(buf, sizeof(buf), "%.*s", seg - 1, stage_name(seq[k]));
		put(w, 1, 20 + k * seg, seq[k] == te->start ? A_BOLD | A_UNDERLINE : A_NORMAL, buf);
	}
	rows = getmaxy(w) - 2;
	for (row = 0, i = t->top_task; i < n && row < rows; i++, row++) {
		const struct task_slot *sl = &te->slots[i];

		snprintf(buf, sizeof(buf), " %-8" PRId32 " %-8s |", sl->pid, role_name(sl->role));
		put(w, 2 + row, 0, attr(t, role_color(sl->role)), buf);
		for (k = 0; k < nseq; k++) {
			int stage = seq[k], next = k + 1 < nseq ? seq[k + 1] : -1;
			int64_t from = sw_ns[stage], to = next >= 0 && sw_ns[next] ? sw_ns[next] : t1;

			if (!from)
				continue;
			for (c = 0; c < seg - 1; c++) {
				int64_t at = from + (to - from) * (c + 1) / (seg - 1);
				char ch[2] = { timeline_cell(t, v, i, stage, at), 0 };
				attr_t a = A_NORMAL;

				if (ch[0] == '!')
					a = attr(t, C_HELD);
				else if (ch[0] == '=' && stage == te->start && outstanding(v, i))
					a = attr(t, C_OUTSTANDING);
				put(w, 2 + row, 20 + k * seg + c, a, ch);
			}
		}
		put(w, 2 + row, 20 + nseq * seg - 1, A_NORMAL, "|");
	}
}

static void drain_output(struct tui *t);

static void draw_output(struct tui *t)
{
	WINDOW *w = t->w_out;
	int rows, i, first;

	if (!w)
		return;
	drain_output(t);
	werase(w);
	title(t, w, PANE_OUTPUT, "Output  (: command line, ? help)");
	rows = getmaxy(w) - 1;
	if (t->out_scroll > t->nr_lines - rows)
		t->out_scroll = t->nr_lines - rows > 0 ? t->nr_lines - rows : 0;
	first = t->nr_lines - rows - t->out_scroll;
	if (first < 0)
		first = 0;
	for (i = 0; i < rows && first + i < t->nr_lines; i++)
		put(w, 1 + i, 1, t->line_err[first + i] ? attr(t, C_ERR) : A_NORMAL, t->lines[first + i]);
}

static void draw_status(struct tui *t, const struct stepper_view *v, const char *prompt)
{
	WINDOW *w = t->w_status;
	char buf[200];

	if (!w)
		return;
	werase(w);
	if (t->in_cmd) {
		snprintf(buf, sizeof(buf), "%s%.*s", prompt, t->cmd_len, t->cmd);
		put(w, 0, 0, A_NORMAL, buf);
		wmove(w, 0, (int)strlen(prompt) + t->cmd_pos);
		return;
	}
	if (t->confirm_quit)
		snprintf(buf, sizeof(buf), "Kill the restore in progress and quit? (y/n)");
	else if (!v->stop)
		snprintf(buf, sizeof(buf), "running...  q quit  Ctrl-L redraw");
	else if (final_kind(v))
		snprintf(buf, sizeof(buf), "q quit%s  c continue (wait for the tree)  : command  ? help",
			 v->stop->kind == STOP_COMPLETE ? " (the tree is left running)" : "");
	else
		snprintf(buf, sizeof(buf), "c continue  s step  n next  b break  Tab pane  arrows select  : command  "
			 "? help  q quit");
	put(w, 0, 0, t->confirm_quit ? attr(t, C_OUTSTANDING) : A_NORMAL, buf);
}

static const char *const help_text[] = {
	"crstep: keys",
	"",
	"  c        continue                    s     step (to the next arrival or switch)",
	"  n        next (to the next switch)   b     break on the selected stage / task",
	"  Tab      next pane                   Up/Down  select a task, scroll",
	"  Left/Right  select a stage           PgUp/PgDn  scroll the output",
	"  :        command line (every command of the line interface; Tab completes,",
	"           Up/Down history, Enter runs, Esc leaves)",
	"  Ctrl-L   redraw                      q     quit (asks before killing a restore)",
	"",
	"In the Tasks pane b breaks when the selected task is about to finish the",
	"selected stage; elsewhere b breaks on the switch into the selected stage.",
	"",
	"Press any key.",
};

static void draw_help(struct tui *t)
{
	int w = 82, h = (int)(sizeof(help_text) / sizeof(help_text[0])) + 2, i;
	WINDOW *win;

	if (w > COLS)
		w = COLS;
	if (h > LINES)
		h = LINES;
	win = newwin(h, w, (LINES - h) / 2, (COLS - w) / 2);
	if (!win)
		return;
	werase(win);
	box(win, 0, 0);
	for (i = 0; i < h - 2; i++)
		put(win, 1 + i, 2, i == 0 ? A_BOLD : A_NORMAL, help_text[i]);
	wnoutrefresh(win);
	delwin(win);
	(void)t;
}

static void draw(struct tui *t, const struct stepper_view *v, const char *prompt)
{
	if (!t->active)
		return;
	if (!t->w_status)
		layout(t, v);
	draw_header(t, v);
	draw_tasks(t, v);
	draw_barrier(t, v);
	draw_switches(t, v);
	draw_timeline(t, v);
	draw_output(t);
	draw_status(t, v, prompt);
	{
		WINDOW *w[] = { t->w_head, t->w_tasks, t->w_barrier, t->w_switches, t->w_timeline, t->w_out };
		size_t i;

		for (i = 0; i < sizeof(w) / sizeof(w[0]); i++)
			if (w[i])
				wnoutrefresh(w[i]);
	}
	if (t->help)
		draw_help(t);
	/* The status line last: it holds the cursor. */
	if (t->w_status)
		wnoutrefresh(t->w_status);
	curs_set(t->in_cmd ? 1 : 0);
	doupdate();
}

/* Output: the stepper's stream and the held stderr, as lines. */

static void add_line(struct tui *t, const char *text, size_t n, int err)
{
	char *l = strndup(text, n);

	if (!l)
		return;
	if (t->nr_lines == OUT_LINES) {
		free(t->lines[0]);
		memmove(t->lines, t->lines + 1, (OUT_LINES - 1) * sizeof(*t->lines));
		memmove(t->line_err, t->line_err + 1, OUT_LINES - 1);
		t->nr_lines--;
	}
	t->line_err[t->nr_lines] = err;
	t->lines[t->nr_lines++] = l;
}

static void add_text(struct tui *t, const char *text, size_t n, int err)
{
	size_t i, start = 0;

	for (i = 0; i < n; i++) {
		if (text[i] != '\n')
			continue;
		add_line(t, text + start, i - start, err);
		start = i + 1;
	}
	if (start < n)
		add_line(t, text + start, n - start, err);
}

static void drain_output(struct tui *t)
{
	char buf[4096];
	ssize_t n;

	fflush(t->out);
	if (t->out_len > t->out_done) {
		size_t end = t->out_len;

		/* Whole lines only; the rest waits for its newline. */
		while (end > t->out_done && t->out_buf[end - 1] != '\n')
			end--;
		if (end > t->out_done) {
			add_text(t, t->out_buf + t->out_done, end - t->out_done, 0);
			t->out_done = end;
		}
	}
	while (t->held_fd >= 0 && (n = pread(t->held_fd, buf, sizeof(buf), t->held_done)) > 0) {
		add_text(t, buf, n, 1);
		t->held_done += n;
	}
}

/* The command line. */

static void hist_add(struct tui *t, const char *line)
{
	if (!line[strspn(line, " \t")])
		return;
	if (t->nr_hist && !strcmp(t->hist[t->nr_hist - 1], line))
		return;
	if (t->nr_hist == HIST_LINES) {
		free(t->hist[0]);
		memmove(t->hist, t->hist + 1, (HIST_LINES - 1) * sizeof(*t->hist));
		t->nr_hist--;
	}
	t->hist[t->nr_hist] = strdup(line);
	if (t->hist[t->nr_hist])
		t->nr_hist++;
}

static void cmd_set(struct tui *t, const char *text)
{
	snprintf(t->cmd, sizeof(t->cmd), "%s", text);
	t->cmd_len = t->cmd_pos = (int)strlen(t->cmd);
}

static void cmd_insert(struct tui *t, const char *text)
{
	size_t n = strlen(text);

	if (t->cmd_len + n >= sizeof(t->cmd) - 1)
		return;
	memmove(t->cmd + t->cmd_pos + n, t->cmd + t->cmd_pos, t->cmd_len - t->cmd_pos);
	memcpy(t->cmd + t->cmd_pos, text, n);
	t->cmd_len += (int)n;
	t->cmd_pos += (int)n;
	t->cmd[t->cmd_len] = 0;
}

/* Tab: the stepper's completion of the word before the cursor. */
static void cmd_complete(struct tui *t)
{
	char before[CMDLEN], **m;
	const char *word;
	size_t wlen, common, i, j;

	snprintf(before, sizeof(before), "%.*s", t->cmd_pos, t->cmd);
	for (word = before + strlen(before); word > before && word[-1] != ' ' && word[-1] != '\t' &&
	     word[-1] != '(';)
		word--;
	m = stepper_complete(t->s, before, word);
	if (!m || !m[0]) {
		free(m);
		beep();
		return;
	}
	wlen = strlen(word);
	common = strlen(m[0]);
	for (i = 1; m[i]; i++) {
		for (j = 0; j < common && m[i][j] == m[0][j]; j++)
			;
		common = j;
	}
	if (common > wlen) {
		char ins[CMDLEN];

		snprintf(ins, sizeof(ins), "%.*s", (int)(common - wlen), m[0] + wlen);
		cmd_insert(t, ins);
	}
	if (!m[1] && m[0][strlen(m[0]) - 1] != '(') {
		cmd_insert(t, " ");
	} else if (m[1] && common <= wlen) {
		char list[512];
		size_t used = 0;

		for (i = 0; m[i] && used < sizeof(list); i++)
			used += snprintf(list + used, sizeof(list) - used, "%s%s", i ? "  " : "", m[i]);
		add_text(t, list, strlen(list), 0);
	}
	for (i = 0; m[i]; i++)
		free(m[i]);
	free(m);
}

/* One key on the command line: 1 when Enter gave a line, -1 on Esc. */
static int cmd_key(struct tui *t, int ch)
{
	switch (ch) {
	case '\n':
	case '\r':
	case KEY_ENTER:
		t->in_cmd = 0;
		hist_add(t, t->cmd);
		snprintf(t->line, sizeof(t->line), "%s", t->cmd);
		return 1;
	case KEY_ESC:
	case CTRL('g'):
		t->in_cmd = 0;
		return -1;
	case KEY_BACKSPACE:
	case 127:
	case CTRL('h'):
		if (t->cmd_pos > 0) {
			memmove(t->cmd + t->cmd_pos - 1, t->cmd + t->cmd_pos, t->cmd_len - t->cmd_pos + 1);
			t->cmd_pos--;
			t->cmd_len--;
		} else if (!t->cmd_len) {
			t->in_cmd = 0;
			return -1;
		}
		break;
	case KEY_DC:
	case CTRL('d'):
		if (t->cmd_pos < t->cmd_len) {
			memmove(t->cmd + t->cmd_pos, t->cmd + t->cmd_pos + 1, t->cmd_len - t->cmd_pos);
			t->cmd_len--;
		}
		break;
	case KEY_LEFT:
	case CTRL('b'):
		if (t->cmd_pos > 0)
			t->cmd_pos--;
		break;
	case KEY_RIGHT:
	case CTRL('f'):
		if (t->cmd_pos < t->cmd_len)
			t->cmd_pos++;
		break;
	case KEY_HOME:
	case CTRL('a'):
		t->cmd_pos = 0;
		break;
	case KEY_END:
	case CTRL('e'):
		t->cmd_pos = t->cmd_len;
		break;
	case CTRL('u'):
		cmd_set(t, "");
		break;
	case KEY_UP:
		if (t->hist_pos > 0)
			cmd_set(t, t->hist[--t->hist_pos]);
		break;
	case KEY_DOWN:
		if (t->hist_pos < t->nr_hist - 1)
			cmd_set(t, t->hist[++t->hist_pos]);
		else {
			t->hist_pos = t->nr_hist;
			cmd_set(t, "");
		}
		break;
	case '\t':
		cmd_complete(t);
		break;
	default:
		if (ch >= ' ' && ch < 127) {
			char c[2] = { (char)ch, 0 };

			cmd_insert(t, c);
		}
	}
	return 0;
}

static void open_cmd(struct tui *t)
{
	t->in_cmd = 1;
	t->hist_pos = t->nr_hist;
	cmd_set(t, "");
}

/* Keys at a stop. */

/* b: a breakpoint on what is selected, as a command line. */
static int break_line(struct tui *t, const struct stepper_view *v)
{
	const struct task_entries *te = &v->ctx->shared->te;
	int seq[CR_STATE_NR], n = protocol_sequence(v->ctx->proto, seq);

	if (t->sel_stage < 0 || t->sel_stage >= n)
		t->sel_stage = 0;
	if (t->focus == PANE_TASKS && nr_slots(v))
		snprintf(t->line, sizeof(t->line), "break task %" PRId32 " %s", te->slots[t->sel_task].pid,
			 stage_name(seq[t->sel_stage]));
	else
		snprintf(t->line, sizeof(t->line), "break %s", stage_name(seq[t->sel_stage]));
	return 1;
}

static void select_move(struct tui *t, const struct stepper_view *v, int ch)
{
	int seq[CR_STATE_NR], n = protocol_sequence(v->ctx->proto, seq);

	switch (ch) {
	case KEY_UP:
		if (t->focus == PANE_OUTPUT)
			t->out_scroll++;
		else if (t->sel_task > 0)
			t->sel_task--;
		break;
	case KEY_DOWN:
		if (t->focus == PANE_OUTPUT)
			t->out_scroll = t->out_scroll > 0 ? t->out_scroll - 1 : 0;
		else if (t->sel_task < nr_slots(v) - 1)
			t->sel_task++;
		break;
	case KEY_LEFT:
		if (t->sel_stage > 0)
			t->sel_stage--;
		break;
	case KEY_RIGHT:
		if (t->sel_stage < n - 1)
			t->sel_stage++;
		break;
	case KEY_PPAGE:
		t->out_scroll += 5;
		break;
	case KEY_NPAGE:
		t->out_scroll = t->out_scroll > 5 ? t->out_scroll - 5 : 0;
		break;
	}
}

/* Keys common to a stop and the running restore; 1 if handled. */
static int common_key(struct tui *t, const struct stepper_view *v, int ch)
{
	switch (ch) {
	case KEY_RESIZE:
		free_windows(t);
		layout(t, v);
		clearok(curscr, TRUE);
		return 1;
	case CTRL('l'):
		clearok(curscr, TRUE);
		return 1;
	case '\t':
		t->focus = (t->focus + 1) % PANE_NR;
		return 1;
	case KEY_BTAB:
		t->focus = (t->focus + PANE_NR - 1) % PANE_NR;
		return 1;
	case KEY_UP:
	case KEY_DOWN:
	case KEY_LEFT:
	case KEY_RIGHT:
	case KEY_PPAGE:
	case KEY_NPAGE:
		select_move(t, v, ch);
		return 1;
	case '?':
		t->help = !t->help;
		return 1;
	}
	return 0;
}

/* A key at a stop: 1 when it made a command line in t->line. */
static int stop_key(struct tui *t, const struct stepper_view *v, int ch)
{
	static const struct { int key; const char *line; } keys[] = {
		{ 'c', "continue" }, { 's', "step" }, { 'n', "next" },
	};
	size_t i;

	if (t->help && ch != ERR) {
		t->help = 0;
		return 0;
	}
	if (t->confirm_quit) {
		t->confirm_quit = 0;
		if (ch != 'y' && ch != 'Y')
			return 0;
		t->quitting = 1;
		snprintf(t->line, sizeof(t->line), "quit");
		return 1;
	}
	if (common_key(t, v, ch))
		return 0;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (ch == keys[i].key) {
			snprintf(t->line, sizeof(t->line), "%s", keys[i].line);
			return 1;
		}
	switch (ch) {
	case 'b':
		return break_line(t, v);
	case ':':
		open_cmd(t);
		return 0;
	case 'q':
		/* Nothing to kill once the restore is over. */
		if (final_kind(v)) {
			t->quitting = 1;
			snprintf(t->line, sizeof(t->line), "quit");
			return 1;
		}
		t->confirm_quit = 1;
		return 0;
	}
	return 0;
}

/* The public side. */

static void tui_free(struct tui *t);

static struct tui *tui_new(struct stepper *s)
{
	struct tui *t = calloc(1, sizeof(*t));
	int in = 0, out = 1;

	if (!t)
		return NULL;
	t->s = s;
	t->saved_err = t->held_fd = -1;
	t->typed_from = -1;
	t->owner = getpid();
	t->out = open_memstream(&t->out_buf, &t->out_len);
	if (!t->out)
		goto fail;
	/* Curses on the terminal itself when stdio is not it (--tui). */
	if (!isatty(in) || !isatty(out)) {
		t->tty_in = fopen("/dev/tty", "re");
		t->tty_out = fopen("/dev/tty", "we");
		if (!t->tty_in || !t->tty_out) {
			fprintf(stderr, "crstep: --tui: no terminal (%s); using the line interface\n", strerror(errno));
			goto fail;
		}
	}
	setlocale(LC_CTYPE, "");
	if (hold_stderr(t))
		goto fail;
	t->scr = newterm(NULL, t->tty_out ? t->tty_out : stdout, t->tty_in ? t->tty_in : stdin);
	if (!t->scr) {
		dup2(t->saved_err, 2);
		close(t->saved_err);
		t->saved_err = -1;
		fprintf(stderr, "crstep: cannot start the full-screen UI (TERM=%s); using the line interface\n",
			getenv("TERM") ? getenv("TERM") : "");
		goto fail;
	}
	set_term(t->scr);
	t->active = 1;
	current = t;
	install_handlers();
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	init_colors(t);
	return t;
fail:
	tui_free(t);
	return NULL;
}

static FILE *tui_out(struct tui *t)
{
	return t->out;
}

static void clock_refresh(struct tui *t, const struct stepper_view *v)
{
	const struct task_entries *te = &v->ctx->shared->te;

	if (!t->start_ns)
		t->start_ns = te->clock_start.mono_ns;
	if (!t->clock_ok && !clock_fit_init(&t->clock, &te->clock_start))
		t->clock_ok = 1;
	else if (t->clock_ok && !final_kind(v))
		clock_fit_init(&t->clock, &te->clock_start);
}

static void tui_stop(struct tui *t, const struct stepper_view *v)
{
	fflush(t->out);
	t->stop_mark = t->out_len;
	t->typed_from = -1;
	t->message[0] = 0;
	clock_refresh(t, v);
	/* A held task is what the user wants to see: select it. */
	if (v->stop && v->stop->slot >= 0)
		t->sel_task = v->stop->slot;
}

/* Keys until a command line is made.  The errors a typed command wrote to
 * the held stderr were shown here: they are not replayed at the end. */
static const char *tui_gets(struct tui *t, const struct stepper_view *v, const char *prompt)
{
	int typed_prompt = strcmp(prompt, "(crstep) ") != 0;

	if (!t->active)
		return NULL;
	if (t->typed_from >= 0 && t->nr_skip < MAX_SKIP) {
		off_t end = lseek(2, 0, SEEK_END);

		if (end > t->typed_from) {
			t->skip[t->nr_skip].from = t->typed_from;
			t->skip[t->nr_skip++].to = end;
		}
	}
	t->typed_from = -1;
	/* Quitting: a last stop (the kill's STOP_FAILED) needs no key. */
	if (t->quitting || t->pending_quit) {
		t->quitting = 1;
		snprintf(t->line, sizeof(t->line), "quit");
		return t->line;
	}
	/* `commands` asks for its lines with its own prompt: the line only. */
	if (typed_prompt)
		open_cmd(t);
	timeout(500);
	for (;;) {
		int ch, r;

		draw(t, v, typed_prompt ? prompt : ":");
		ch = getch();
		if (ch == ERR) {
			clock_refresh(t, v);
			continue;
		}
		if (t->in_cmd) {
			if (ch == KEY_RESIZE) {
				common_key(t, v, ch);
				continue;
			}
			r = cmd_key(t, ch);
			if (r == 0)
				continue;
			if (r < 0 && !typed_prompt)
				continue;
			if (r < 0)
				snprintf(t->line, sizeof(t->line), "end");
			snprintf(t->message, sizeof(t->message), "%s", "");
		} else if (!stop_key(t, v, ch)) {
			continue;
		}
		{
			char echo[CMDLEN + 64];

			snprintf(echo, sizeof(echo), "%s %s", typed_prompt ? prompt : ":", t->line);
			add_line(t, echo, strlen(echo), 0);
		}
		t->out_scroll = 0;
		fflush(stderr);
		t->typed_from = lseek(2, 0, SEEK_END);
		return t->line;
	}
}

/* While the restore runs: at most every 100 ms anyway (the engine's
 * wait slice); keys are read without waiting. */
static int tui_tick(struct tui *t, const struct stepper_view *v)
{
	int ch, ret = FRONTEND_TICK_NONE;

	if (!t->active)
		return ret;
	clock_refresh(t, v);
	timeout(0);
	while ((ch = getch()) != ERR) {
		if (t->confirm_quit) {
			t->confirm_quit = 0;
			if (ch == 'y' || ch == 'Y') {
				t->pending_quit = 1;
				snprintf(t->message, sizeof(t->message), "quitting at the next event...");
				ret = FRONTEND_TICK_STOP;
			}
		} else if (t->help) {
			t->help = 0;
		} else if (ch == 'q') {
			t->confirm_quit = 1;
		} else {
			common_key(t, v, ch);
		}
	}
	draw(t, v, ":");
	return ret;
}

static void tui_end(struct tui *t)
{
	size_t from;

	if (!t || !t->active)
		return;
	drain_output(t);
	screen_done(t);
	restore_handlers();
	if (current == t)
		current = NULL;
	/* What the last stop reported, now on the real terminal. */
	fflush(t->out);
	from = t->stop_mark < t->out_len ? t->stop_mark : t->out_len;
	if (t->out_len > from) {
		fwrite(t->out_buf + from, 1, t->out_len - from, stdout);
		fflush(stdout);
	}
}

static void tui_free(struct tui *t)
{
	int i;

	if (!t)
		return;
	tui_end(t);
	free_windows(t);
	if (t->scr)
		delscreen(t->scr);
	if (t->out)
		fclose(t->out);
	free(t->out_buf);
	for (i = 0; i < t->nr_lines; i++)
		free(t->lines[i]);
	for (i = 0; i < t->nr_hist; i++)
		free(t->hist[i]);
	if (t->held_fd >= 0)
		close(t->held_fd);
	if (t->tty_in)
		fclose(t->tty_in);
	if (t->tty_out)
		fclose(t->tty_out);
	if (current == t)
		current = NULL;
	free(t);
}

/* The stepper's view of the TUI (stepper.h, struct stepper_frontend). */
static void *fe_open(struct stepper *s, FILE *out)
{
	(void)out;	/* the TUI prints into its own pane */
	return tui_new(s);
}

static FILE *fe_out(void *t)
{
	return tui_out(t);
}

static void fe_show(void *t, const struct stepper_view *v)
{
	tui_stop(t, v);
}

static const char *fe_gets(void *t, const struct stepper_view *v, const char *prompt)
{
	return tui_gets(t, v, prompt);
}

static int fe_tick(void *t, const struct stepper_view *v)
{
	return tui_tick(t, v);
}

static void fe_end(void *t)
{
	tui_end(t);
}

static void fe_close(void *t)
{
	tui_free(t);
}

const struct stepper_frontend tui_frontend = {
	.open = fe_open,
	.out = fe_out,
	.show = fe_show,
	.gets = fe_gets,
	.tick = fe_tick,
	.end = fe_end,
	.close = fe_close,
};
