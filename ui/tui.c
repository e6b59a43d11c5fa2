/* tui.c: the full-screen UI (issue 6), the line interface's stand-in on a
 * terminal.  It never acts on the restore itself: single keys become the
 * stepper's own command lines ("continue", "break task 30100 FORKING"), the
 * `:` line goes through the same command table, and what the commands print
 * (into tui_out()) lands in the output pane.
 *
 * Panes, top to bottom: header (dir, protocol, stage, elapsed, state), the
 * task table, the barrier panel next to the switch log, the timeline, the
 * output, and the key line / command line, drawn by tui-draw.c.
 * Everything is read from the shared area, which the stepper
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

#include "tui-priv.h"

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

void drain_output(struct tui *t)
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
	m = t->s ? stepper_complete(t->s, before, word) : NULL;
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
		} else if (v->attached && (ch == 'q' || ch == ':')) {
			/* Nothing of ours runs: quitting leaves it as it is. */
			return ch == 'q' ? FRONTEND_TICK_STOP : FRONTEND_TICK_CMD;
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
