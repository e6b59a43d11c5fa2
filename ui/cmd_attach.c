/* cmd_attach.c: `crstep attach PID`: look at a running upstream
 * `criu restore` (or any task of the tree it restores) without changing it:
 * info tasks, info barrier, info hang, and a watchdog. */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attach.h"
#include "log.h"
#include "protocol.h"
#include "restore.h"
#include "stepper.h"
#include "ui.h"

static void attach_usage(FILE *f)
{
	fprintf(f, "usage: crstep attach PID [--batch|--cli|--tui] [-ex CMD]... [--watchdog SECS]\n\n"
		"PID is a running `criu restore` (CRIU 4.1 or 4.2), or this crstep's own `crstep restore`,\n"
		"or any task of the tree it restores.\n"
		"Read-only: /proc and process_vm_readv; the restore and its tasks are never written\n"
		"nor stopped.\n\n"
		"  --batch            run the -ex commands (and the watchdog), then exit\n"
		"  --cli              the line interface, even on a terminal\n"
		"  --tui              the full-screen UI of `crstep restore` (the default on a\n"
		"                     terminal; on /dev/tty when stdio is not one): its panes\n"
		"                     sampled every 100 ms, `:` a command, q leaves it running\n"
		"  -ex CMD            a command: info tasks | info barrier | info hang | quit |\n"
		"                     expect EXPR [MESSAGE] (as in `crstep restore`; TAP, exit 1\n"
		"                     if one failed; the names of crstep's stages and counts)\n"
		"  --watchdog SECS    after the commands, watch task_entries: no change of start\n"
		"                     or nr_in_progress for SECS s prints the hang report, exit 3;\n"
		"                     criu ending exits 0 after COMPLETE, 2 otherwise\n");
}

/* What the watchdog and `info hang` know of progress. */
struct watch {
	struct attach *a;
	int32_t start;
	uint32_t nr_in_progress;
	struct timespec since;	/* the last change seen */
	int nr_expect, nr_expect_failed;
	struct shared_area *view;	/* attach_te_view() into view->te: expect, the TUI */
};

static double elapsed(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) + (now.tv_nsec - t->tv_nsec) / 1e9;
}

/* 0 unchanged, 1 changed, -1 criu is gone. */
static int watch_poll(struct watch *w)
{
	if (attach_read_te(w->a))
		return -1;
	if (w->a->te.start == w->start && w->a->te.nr_in_progress == w->nr_in_progress)
		return 0;
	w->start = w->a->te.start;
	w->nr_in_progress = w->a->te.nr_in_progress;
	clock_gettime(CLOCK_MONOTONIC, &w->since);
	return 1;
}

static const struct attach_cmd {
	const char *name;
	int (*fn)(FILE *out, struct watch *w, const char *rest);	/* 0, or -1: usage */
} attach_cmds[];

static int do_tasks(FILE *out, struct watch *w, const char *rest)
{
	(void)rest;
	attach_info_tasks(out, w->a);
	return 0;
}

static int do_barrier(FILE *out, struct watch *w, const char *rest)
{
	(void)rest;
	attach_info_barrier(out, w->a);
	return 0;
}

static int do_hang(FILE *out, struct watch *w, const char *rest)
{
	(void)rest;
	attach_info_hang(out, w->a, elapsed(&w->since));
	return 0;
}

/* The area attach_te_view() fills: room for every task attach follows. */
static struct shared_area *view_new(void)
{
	struct shared_area *v = calloc(1, offsetof(struct shared_area, te) + task_entries_size(ATTACH_MAX_TASKS));

	if (v)
		v->te.max_slots = ATTACH_MAX_TASKS;
	return v;
}

/* expect EXPR [MESSAGE]: the stepper's expressions over the attached
 * restore (attach_te_view()), the same TAP line as in `crstep restore`. */
static int do_expect(FILE *out, struct watch *w, const char *rest)
{
	struct expr_env env = { .stop = NULL };
	char err[200];
	int r;

	if (!w->view && !(w->view = view_new()))
		return error("out of memory");
	if (attach_te_view(w->a, &w->view->te))
		return error("attach: %s pid %d is gone", w->a->ctl, w->a->criu_pid);
	env.te = &w->view->te;
	env.proto = w->a->kind == KIND_CRSTEP ? w->a->proto : protocol_get(PROTO_CRIU4);
	r = expect_tap(out, &env, rest, w->nr_expect + 1, NULL, err, sizeof(err));
	if (r < 0)
		return error("expect: %s", err);
	w->nr_expect++;
	w->nr_expect_failed += r;
	return 0;
}

static const struct attach_cmd attach_cmds[] = {
	{ "info tasks", do_tasks },
	{ "info barrier", do_barrier },
	{ "info hang", do_hang },
	{ "expect", do_expect },
	{ NULL, NULL },
};

/* One command, its output to out: 0, 1 for quit, -1 unknown.  Every
 * command reads afresh. */
static int run_cmd(struct watch *w, const char *line, FILE *out)
{
	const struct attach_cmd *c;
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "%s", line + strspn(line, " \t"));
	cmd[strcspn(cmd, "\n")] = 0;
	if (!cmd[0])
		return 0;
	if (!strcmp(cmd, "quit") || !strcmp(cmd, "q"))
		return 1;
	for (c = attach_cmds; c->name; c++) {
		size_t n = strlen(c->name);

		if (!strncmp(cmd, c->name, n) && (!cmd[n] || cmd[n] == ' '))
			break;
	}
	if (!c->name) {
		error("attach: unknown command '%s' (info tasks, info barrier, info hang, expect EXPR, quit)", cmd);
		return -1;
	}
	if (watch_poll(w) < 0) {
		fprintf(out, "%s pid %d has ended (last stage seen %s)\n", w->a->ctl, w->a->criu_pid,
			attach_stage_name(w->a, w->start));
		return 1;
	}
	attach_scan(w->a);
	if (c->fn(out, w, cmd + strlen(c->name) + strspn(cmd + strlen(c->name), " ")))
		return -1;
	return 0;
}

/* criu gone before it was seen at COMPLETE: it switches RESTORE_CREDS ->
 * COMPLETE and exits between two samples.  On failure criu kills every
 * task it restored; on success they run on.  So a live restored task of
 * the tree says the restore completed. */
static int tree_runs_on(const struct attach *a)
{
	char state[4], wchan[8];
	size_t i;

	for (i = 0; i < a->nr; i++) {
		const struct attach_task *t = &a->tasks[i];

		if (!t->in_tree || t->thread)
			continue;
		if (proc_task_state(t->tid, state, sizeof(state), wchan, sizeof(wchan)) == 0 &&
		    state[0] != 'Z' && state[0] != 'X')
			return 1;
	}
	return 0;
}

/* RESTORE_SIGCHLD or later (the two layouts number them differently). */
static int past_restore(const struct attach *a, int stage)
{
	const char *n = attach_stage_name(a, stage);

	return !strcmp(n, "RESTORE_SIGCHLD") || !strcmp(n, "RESTORE_CREDS") || !strcmp(n, "COMPLETE");
}

static int watchdog(struct watch *w, unsigned secs)
{
	attach_scan(w->a);	/* the tree, for tree_runs_on() */
	for (;;) {
		int r = watch_poll(w);

		if (r < 0) {
			printf("%s pid %d has ended (last stage seen %s)\n", w->a->ctl, w->a->criu_pid,
			       attach_stage_name(w->a, w->start));
			if (!strcmp(attach_stage_name(w->a, w->start), "COMPLETE"))
				return EXIT_OK;
			return past_restore(w->a, w->start) && tree_runs_on(w->a) ? EXIT_OK : EXIT_FAIL;
		}
		if (elapsed(&w->since) >= secs) {
			attach_scan(w->a);
			printf("watchdog: no change of start or nr_in_progress for %u s\n", secs);
			attach_info_hang(stdout, w->a, elapsed(&w->since));
			fflush(stdout);
			return EXIT_HANG;
		}
		usleep(20000);
	}
}

/* Commands from stdin, through the line interface of `crstep restore`
 * (libedit: editing, history; a plain read when stdin is no terminal). */
static int interactive(struct watch *w)
{
	void *cli = cli_frontend.open(NULL, stdout);
	const char *line;

	if (!cli)
		return error("attach: cannot set up the line interface") ? EXIT_FAIL : EXIT_FAIL;
	while ((line = cli_frontend.gets(cli, NULL, isatty(0) ? "(crstep attach) " : "")))
		if (run_cmd(w, line, stdout) == 1)
			break;
	cli_frontend.close(cli);
	return EXIT_OK;
}

/* How an ended criu left its restore: 0 complete (or its tree runs on), -1 not. */
static int ended_ok(struct watch *w)
{
	if (!strcmp(attach_stage_name(w->a, w->start), "COMPLETE"))
		return 0;
	return past_restore(w->a, w->start) && tree_runs_on(w->a) ? 0 : -1;
}

/* The full-screen UI of `crstep restore` over the attached restore: the
 * panes are drawn from attach_te_view() at every sample (the switch log
 * holds the changes of start seen since the attach), `:` runs a command
 * into the output pane, the watchdog's report lands there too, and q
 * leaves with the restore running on. */
static int attach_tui(struct watch *w, unsigned secs)
{
	struct restore_opts opts = { .dir = "" };
	struct restore_ctx ctx = { .opts = &opts };
	struct stop_event st = { .slot = -1, .bp = -1 };
	struct stepper_view v = { .ctx = &ctx, .user_bp = -1 };
	char label[160], dir[600];
	int ret = EXIT_OK, ended = 0;
	void *fe;
	FILE *out;

	if (!w->view && !(w->view = view_new()))
		return error("out of memory") ? EXIT_FAIL : EXIT_FAIL;
	if (attach_te_view(w->a, &w->view->te))
		return EXIT_FAIL;
	ctx.shared = w->view;
	ctx.proto = w->a->kind == KIND_CRSTEP ? w->a->proto : protocol_get(PROTO_CRIU4);
	snprintf(label, sizeof(label), "attached to %s %s pid %d", w->a->ctl, w->a->version, w->a->criu_pid);
	snprintf(dir, sizeof(dir), "%s", w->a->images_dir[0] ? w->a->images_dir : "");
	opts.dir = dir;
	v.attached = label;
	fe = tui_frontend.open(NULL, stdout);
	if (!fe)
		return interactive(w);
	out = tui_frontend.out(fe);
	fprintf(out, "%s (read-only): : for a command, q to leave it running\n", label);
	for (;;) {
		int r;

		if (!ended && watch_poll(w) < 0) {
			ended = 1;
			fprintf(out, "%s pid %d has ended (last stage seen %s)\n", w->a->ctl, w->a->criu_pid,
				attach_stage_name(w->a, w->start));
			st.kind = ended_ok(w) ? STOP_FAILED : STOP_COMPLETE;
			ret = st.kind == STOP_COMPLETE ? EXIT_OK : EXIT_FAIL;
			v.stop = &st;
			tui_frontend.show(fe, &v);
		}
		if (!ended) {
			attach_scan(w->a);
			attach_te_view(w->a, &w->view->te);
			if (secs && !v.stop && elapsed(&w->since) >= secs) {
				st.kind = STOP_HANG;
				v.stop = &st;
				tui_frontend.show(fe, &v);
				fprintf(out, "watchdog: no change of start or nr_in_progress for %u s\n", secs);
				attach_info_hang(out, w->a, elapsed(&w->since));
				ret = EXIT_HANG;
			} else if (v.stop && elapsed(&w->since) < secs) {
				v.stop = NULL;	/* it moved again */
				ret = EXIT_OK;
			}
		}
		r = tui_frontend.tick(fe, &v);
		if (r == FRONTEND_TICK_STOP)
			break;
		if (r == FRONTEND_TICK_CMD) {
			const char *line = tui_frontend.gets(fe, &v, "(crstep attach)");

			if (line && strcmp(line, "end") && run_cmd(w, line, out) == 1)
				break;
		}
		usleep(100000);
	}
	tui_frontend.close(fe);
	return ret;
}

int cmd_attach(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "batch", no_argument, NULL, 'b' },
		{ "watchdog", required_argument, NULL, 'w' },
		{ "cli", no_argument, NULL, 'L' },
		{ "tui", no_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct attach a;
	struct watch w = { .a = &a };
	const char **ex;
	size_t nr_ex = 0, i;
	int c, batch = 0, cli = 0, tui = 0, ret = EXIT_OK;
	unsigned secs = 0;
	char *end;
	long pid;

	/* gdb's -ex, as in `crstep restore`: take it out before getopt. */
	ex = calloc(argc + 1, sizeof(*ex));
	if (!ex)
		return error("out of memory") ? EXIT_FAIL : EXIT_FAIL;
	for (c = 1; c < argc; c++) {
		if (strcmp(argv[c], "-ex") || c + 1 == argc)
			continue;
		ex[nr_ex++] = argv[c + 1];
		memmove(&argv[c], &argv[c + 2], (argc - c - 1) * sizeof(*argv));
		argc -= 2;
		c--;
	}
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': batch = 1; break;
		case 'L': cli = 1; break;
		case 'U': tui = 1; break;
		case 'w':
			secs = strtoul(optarg, &end, 10);
			if (*end || !secs) {
				error("--watchdog: '%s' is no positive number of seconds", optarg);
				goto usage;
			}
			break;
		case 'h': attach_usage(stdout); free(ex); return EXIT_OK;
		default: goto usage;
		}
	}
	if (optind + 1 != argc)
		goto usage;
	pid = strtol(argv[optind], &end, 10);
	if (*end || pid <= 0) {
		error("attach: '%s' is no pid", argv[optind]);
		goto usage;
	}
	if (attach_open(&a, (pid_t)pid)) {
		free(ex);
		return EXIT_FAIL;
	}
	w.start = a.te.start;
	w.nr_in_progress = a.te.nr_in_progress;
	clock_gettime(CLOCK_MONOTONIC, &w.since);
	printf("attached to %s %s pid %d (read-only)\n", a.ctl, a.version, a.criu_pid);
	for (i = 0; i < nr_ex && ret == EXIT_OK; i++) {
		int r = run_cmd(&w, ex[i], stdout);

		if (r < 0)
			ret = EXIT_USAGE;
		else if (r == 1)
			break;
	}
	free(ex);
	if (ret != EXIT_OK)
		goto out;
	/* As `crstep restore`: the full-screen UI on a terminal unless --cli
	 * (--tui: on /dev/tty even when stdio is not one); never with --batch. */
	if (!batch && !cli && i == nr_ex && (tui || (isatty(0) && isatty(1))))
		ret = attach_tui(&w, secs);
	else if (secs && (batch || !isatty(0)))
		ret = watchdog(&w, secs);
	else if (!batch && i == nr_ex)
		ret = interactive(&w);
out:
	/* As in `crstep restore`: the plan at the end; a failed expect is
	 * exit 1 unless something worse happened (3 hang > 2 > 1). */
	if (w.nr_expect)
		printf("1..%d\n", w.nr_expect);
	if (ret == EXIT_OK && w.nr_expect_failed)
		ret = EXIT_EXPECT;
	free(w.view);
	return ret;
usage:
	free(ex);
	attach_usage(stderr);
	return EXIT_USAGE;
}
