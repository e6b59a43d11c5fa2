/* cmd_watch.c: `crstep watch -- criu restore ARGS...`: start upstream criu
 * and follow its stage barrier from the first moment, read-only: every
 * switch of task_entries->start it makes (sampled from the words, with the
 * time and who switches it in CRIU 4.2), the live nr_in_progress, a
 * timeline at the end, and the hang report when nothing moves for
 * --watchdog seconds.  Exits with criu's status, or 3 on a hang.
 *
 * Nothing is ptraced: criu ptraces its own tasks at the end of a restore
 * (compel_stop_on_syscall), and a second tracer would change what it does. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attach.h"
#include "log.h"
#include "ui.h"

static void watch_usage(FILE *f)
{
	fprintf(f, "usage: crstep watch [--watchdog SECS] [--interval USECS] [--counts] -- criu restore ARGS...\n\n"
		"Start criu (CRIU 4.2) and follow its restore read-only: every stage switch with\n"
		"its time and who makes it, a timeline at the end; the hang report and exit 3\n"
		"when start and nr_in_progress do not move for SECS s (default 10; criu is left\n"
		"running). Otherwise the exit code is criu's (128+N if a signal N killed it).\n\n"
		"  --watchdog SECS    seconds without progress that make a hang (0: never)\n"
		"  --interval USECS   how often the words are sampled (default 500)\n"
		"  --counts           print every change of nr_in_progress too\n");
}

/* Who switches into `to` (CRIU's numbering), by CRIU 4.2's rule
 * (attach_switcher()). */
static const char *criu42_switcher(const struct attach *a, int to)
{
	return attach_switcher(a, attach_stage_crstep(a, to)) == ROLE_ROOT ? "root" : "criu";
}

/* The stages a sampled jump from..to passed unseen, as " (X, Y came and
 * went between two samples)", or "". */
static void skipped_text(int from, int to, char *buf, size_t len)
{
	size_t n = 0;
	int s;

	buf[0] = 0;
	if (from < CRIU_STATE_ROOT_TASK || to <= from + 1)
		return;
	for (s = from + 1; s < to && n < len; s++)
		n += snprintf(buf + n, len - n, "%s%s", s == from + 1 ? "; passed " : ", ", criu_stage_name(s));
	if (n < len)
		snprintf(buf + n, len - n, " between two samples");
}

static double ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1e3 + (now.tv_nsec - t0->tv_nsec) / 1e6;
}

static int exit_status(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void status_text(int st, char *buf, size_t len)
{
	if (WIFEXITED(st))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
	else
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
}

/* Start argv; returns its pid once it has exec'd (a CLOEXEC pipe closes
 * on exec), -1 if it could not. */
static pid_t start_criu(char **argv)
{
	int p[2], err = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return error("watch: pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return error("watch: fork: %s", strerror(errno));
	}
	if (pid == 0) {
		close(p[0]);
		execvp(argv[0], argv);
		err = errno;
		if (write(p[1], &err, sizeof(err)) < 0)
			_exit(127);
		_exit(127);
	}
	close(p[1]);
	if (read(p[0], &err, sizeof(err)) == sizeof(err)) {
		close(p[0]);
		waitpid(pid, NULL, 0);
		return error("watch: cannot run %s: %s", argv[0], strerror(err));
	}
	close(p[0]);
	return pid;
}

/* name as execvp finds it, into path. */
static int which(const char *name, char *path, size_t len)
{
	const char *dirs = getenv("PATH"), *p, *colon;

	if (strchr(name, '/')) {
		snprintf(path, len, "%s", name);
		return 0;
	}
	for (p = dirs ? dirs : "/usr/local/bin:/usr/bin:/bin"; *p; p = *colon ? colon + 1 : colon) {
		colon = strchrnul(p, ':');
		snprintf(path, len, "%.*s/%s", (int)(colon - p), colon == p ? "." : p, name);
		if (!access(path, X_OK))
			return 0;
	}
	return error("watch: %s: not found in PATH", name);
}

struct timeline {
	int stage;		/* -2: none seen yet */
	double entered[CRIU_STATE_COMPLETE + 2];	/* ms; index stage + 1 */
	int seen[CRIU_STATE_COMPLETE + 2];
};

static void timeline_enter(struct timeline *tl, int stage, double ms)
{
	if (stage < CRIU_STATE_FAIL || stage > CRIU_STATE_COMPLETE)
		return;
	tl->stage = stage;
	tl->entered[stage + 1] = ms;
	tl->seen[stage + 1] = 1;
}

static void timeline_print(const struct timeline *tl, double end)
{
	int s, next;

	printf("timeline (ms after criu started):\n");
	for (s = CRIU_STATE_ROOT_TASK; s <= CRIU_STATE_COMPLETE; s++) {
		if (!tl->seen[s + 1])
			continue;
		for (next = s + 1; next <= CRIU_STATE_COMPLETE && !tl->seen[next + 1]; next++)
			;
		if (next <= CRIU_STATE_COMPLETE)
			printf("  %-18s %9.3f .. %9.3f  (%.3f ms)\n", criu_stage_name(s), tl->entered[s + 1],
			       tl->entered[next + 1], tl->entered[next + 1] - tl->entered[s + 1]);
		else
			printf("  %-18s %9.3f .. %9.3f  (criu's end)\n", criu_stage_name(s), tl->entered[s + 1], end);
	}
	if (tl->seen[0])
		printf("  %-18s %9.3f\n", "FAIL", tl->entered[0]);
}

int cmd_watch(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "watchdog", required_argument, NULL, 'w' },
		{ "interval", required_argument, NULL, 'i' },
		{ "counts", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct attach a;
	struct timeline tl = { .stage = -2 };
	struct timespec t0, last_change;
	unsigned long secs = 10, interval = 500;
	int c, counts = 0, st, i, found = 0, restore_arg = 0, was_asleep = 0;
	const char *why = "";
	int32_t start = 0;
	uint32_t nr = 0;
	char buf[128], skipped[128], exe[512], version[32], *end;
	pid_t pid;

	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'w':
			secs = strtoul(optarg, &end, 10);
			if (*end) {
				error("--watchdog: '%s' is no number of seconds", optarg);
				goto usage;
			}
			break;
		case 'i':
			interval = strtoul(optarg, &end, 10);
			if (*end || !interval || interval > 1000000) {
				error("--interval: '%s' is not 1..1000000 microseconds", optarg);
				goto usage;
			}
			break;
		case 'c': counts = 1; break;
		case 'h': watch_usage(stdout); return EXIT_OK;
		default: goto usage;
		}
	}
	if (optind >= argc)
		goto usage;
	for (i = optind; i < argc; i++)
		restore_arg |= !strcmp(argv[i], "restore");
	if (!restore_arg) {
		error("watch: the command must be a `criu restore ...` (no \"restore\" in it)");
		goto usage;
	}
	/* The version first: asking the running criu would take the first
	 * few hundred ms of its restore. */
	if (which(argv[optind], exe, sizeof(exe)) || attach_criu_version(exe, version, sizeof(version)))
		return EXIT_FAIL;
	if (!attach_version_verified(version)) {
		error("watch: %s is criu %s; crstep knows the task_entries layout and stage numbers of "
		      "CRIU 4.2 only and will not guess", exe, version);
		return EXIT_FAIL;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = start_criu(argv + optind);
	if (pid < 0)
		return EXIT_FAIL;
	if (attach_identify(&a, pid, version)) {
		/* Not a criu crstep can read: it has only just started. */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return EXIT_FAIL;
	}
	printf("watching criu %s pid %d (read-only): %s\n", a.version, pid, a.criu_exe);
	fflush(stdout);
	/* Until the first task (or criu) sleeps in the barrier, task_entries
	 * cannot be found for sure. */
	while (!found) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			status_text(st, buf, sizeof(buf));
			printf("+%9.3f ms  criu %s before any task waited in a barrier (%s)\n", ms_since(&t0), buf,
			       why);
			return exit_status(st);
		}
		found = !attach_locate(&a, &why);
		if (!found)
			usleep(interval);
	}
	printf("+%9.3f ms  task_entries found at 0x%lx in criu: nr_tasks=%d nr_threads=%d nr_helpers=%d\n",
	       ms_since(&t0), a.te_addr, a.te.nr_tasks, a.te.nr_threads, a.te.nr_helpers);
	clock_gettime(CLOCK_MONOTONIC, &last_change);
	for (;;) {
		int gone = attach_read_te(&a);
		double now = ms_since(&t0);
		/* criu asleep on the count at the samples before and after a
		 * switch made by the root: criu did not make it. */
		int asleep = !gone && attach_criu_where(&a) == AT_WAIT_INPROGRESS;

		if (!gone && (tl.stage == -2 || a.te.start != start)) {
			if (tl.stage == -2)
				printf("+%9.3f ms  at %s  nr_in_progress=%d\n", now, criu_stage_name(a.te.start),
				       (int)a.te.nr_in_progress);
			else {
				skipped_text(start, a.te.start, skipped, sizeof(skipped));
				printf("+%9.3f ms  %s -> %s  by %s (CRIU 4.2%s)%s  nr_in_progress=%d\n", now,
				       criu_stage_name(start), criu_stage_name(a.te.start),
				       criu42_switcher(&a, a.te.start), skipped,
				       was_asleep && asleep && !strcmp(criu42_switcher(&a, a.te.start), "root") ?
				       "; criu slept on nr_in_progress across it" : "", (int)a.te.nr_in_progress);
			}
			timeline_enter(&tl, a.te.start, now);
			start = a.te.start;
			nr = a.te.nr_in_progress;
			clock_gettime(CLOCK_MONOTONIC, &last_change);
		} else if (!gone && a.te.nr_in_progress != nr) {
			if (counts)
				printf("+%9.3f ms    nr_in_progress %d -> %d\n", now, (int)nr, (int)a.te.nr_in_progress);
			nr = a.te.nr_in_progress;
			clock_gettime(CLOCK_MONOTONIC, &last_change);
		}
		was_asleep = asleep;
		fflush(stdout);
		if (gone || waitpid(pid, &st, WNOHANG) == pid) {
			if (gone)
				waitpid(pid, &st, 0);
			status_text(st, buf, sizeof(buf));
			printf("+%9.3f ms  criu %s (last stage seen %s)\n", ms_since(&t0), buf, criu_stage_name(start));
			timeline_print(&tl, ms_since(&t0));
			return exit_status(st);
		}
		if (secs && ms_since(&last_change) >= secs * 1e3) {
			attach_scan(&a);
			printf("watchdog: no change of start or nr_in_progress for %lu s\n", secs);
			attach_info_hang(stdout, &a, ms_since(&last_change) / 1e3);
			timeline_print(&tl, ms_since(&t0));
			printf("criu pid %d is left running (crstep attach %d to look again)\n", pid, pid);
			fflush(stdout);
			return EXIT_HANG;
		}
		usleep(interval);
	}
usage:
	watch_usage(stderr);
	return EXIT_USAGE;
}
