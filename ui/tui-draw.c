/* tui-draw.c: the panes of the terminal UI, laid out and drawn from the
 * shared area (see tui.c for the panes, top to bottom).  Each pane is a
 * window redrawn whole and flushed with wnoutrefresh; one doupdate per frame
 * (tig's display.c). */
#include <curses.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "barrier.h"
#include "protocol.h"
#include "restore.h"
#include "stepper.h"
#include "trace.h"
#include "tui-priv.h"

void init_colors(struct tui *t)
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

void free_windows(struct tui *t)
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

int nr_slots(const struct stepper_view *v)
{
	const struct task_entries *te = v->ctx ? &v->ctx->shared->te : NULL;
	uint32_t n = te ? (te->nr_slots < te->max_slots ? te->nr_slots : te->max_slots) : 0;

	return n > INT32_MAX ? INT32_MAX : (int)n;
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
void layout(struct tui *t, const struct stepper_view *v)
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

int final_kind(const struct stepper_view *v)
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
		snprintf(buf, len, "%s", v->attached ? "attached, read-only" : "running");
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

void drain_output(struct tui *t);

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
	else if (v->attached)
		snprintf(buf, sizeof(buf), "%s  : command (info tasks|barrier|hang, expect)  Tab pane  arrows select  "
			 "q quit (it runs on)", v->attached);
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

void draw(struct tui *t, const struct stepper_view *v, const char *prompt)
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
