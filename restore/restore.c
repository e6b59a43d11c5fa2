/* restore.c: the controller — crstep in criu's role (CRIU's
 * restore_root_task()).  It reads and checks the images, creates the shared
 * area, creates the root task with its dumped pid (by default as the child
 * of a small reaper that is pid 1 of a fresh pid namespace), performs the
 * switches the protocol table gives it, catches the task at its final
 * rt_sigreturn, unmaps the restorer and detaches.
 *
 * Any failure aborts the barrier, kills everything restored, prints one
 * line naming the task, the stage and the cause, and returns EXIT_FAIL. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "protocol.h"
#include "restore.h"
#include "trace.h"

#define PAGE_UP(x) (((x) + 4095ul) & ~4095ul)
#define WAIT_SLICE_NS 100000000ull	/* re-check for dead children this often */


struct controller {
	struct restore_ctx ctx;
	pid_t reaper;		/* pidns mode: pid 1 of the new namespace */
	pid_t root;		/* the root task, as crstep sees it (0 until known) */
	pid_t child;		/* crstep's direct child: reaper or root */
	int child_status;
	int child_gone;
	int failed_stage;	/* start when the failure was noticed */
	const struct restore_observer *obs;	/* NULL when nothing may stop */
	int killed;		/* the user asked to kill the restore */
	int detached;		/* the user detached: no more stops */
	struct catch_set caught;	/* the threads under ptrace at the end */
	char error[RST_ERR_LEN];	/* the controller's own first error */
	uint64_t progress_seq, progress_ns;	/* the watchdog: last event seen, when */
	uint64_t deadline_ns;	/* --timeout */
	enum { HUNG_NOT, HUNG_WATCHDOG, HUNG_TIMEOUT } hung;
	int culprit;		/* the first task a hang waits for */
	long vcsw_start;	/* the controller's voluntary context switches before */
	off_t log_done;		/* how much of the tasks' log is on stderr */
};

static pid_t clone3_pid(uint64_t flags, pid_t want)
{
	struct clone_args args = { 0 };
	pid_t tid = want;

	args.flags = flags;
	args.exit_signal = SIGCHLD;
	if (want) {
		args.set_tid = (uint64_t)&tid;
		args.set_tid_size = 1;
	}
	return syscall(SYS_clone3, &args, sizeof(args));
}

pid_t restore_clone(pid_t want, uint64_t flags)
{
	return clone3_pid(flags, want);
}

/* The offsets of our own time namespace against the host's clocks (all
 * zero in the initial one).  Read before unshare(): the file shows the
 * namespace our children get. */
static int timens_own_offsets(int64_t *ms, int64_t *mn, int64_t *bs, int64_t *bn)
{
	FILE *f = fopen("/proc/self/timens_offsets", "re");
	char clock[32];
	long long sec, nsec;

	*ms = *mn = *bs = *bn = 0;
	if (!f)
		return errno == ENOENT ? 0 : error("/proc/self/timens_offsets: %s", strerror(errno));
	while (fscanf(f, "%31s %lld %lld", clock, &sec, &nsec) == 3) {
		if (!strcmp(clock, "monotonic")) {
			*ms = sec;
			*mn = nsec;
		} else if (!strcmp(clock, "boottime")) {
			*bs = sec;
			*bn = nsec;
		}
	}
	fclose(f);
	return 0;
}

/* A new time namespace for the tree with the dumped clocks, as CRIU does
 * (timens-0.img): CLOCK_MONOTONIC and CLOCK_BOOTTIME continue from their
 * dump-time values.  unshare() moves only our future children into it, and
 * the offsets must be written before any of them exists.  The kernel takes
 * them against the host's clocks: when crstep runs in a time namespace of
 * its own, its clocks are the host's plus that namespace's offsets, which
 * the new ones must include (or the tree's clocks jump back by them). */
static int timens_setup(const struct img_set *set)
{
	TimensEntry *tn = set->timens;
	struct timespec mono, boot;
	char buf[128];
	int64_t ms, mn, bs, bn;
	int fd, n;

	if (!tn)
		return 0;
	if (timens_own_offsets(&ms, &mn, &bs, &bn))
		return -1;
	if (unshare(CLONE_NEWTIME))
		return error("timens-0.img: cannot create a time namespace: %s", strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_BOOTTIME, &boot);
	ms += (int64_t)tn->monotonic->tv_sec - mono.tv_sec;
	mn += (int64_t)tn->monotonic->tv_nsec - mono.tv_nsec;
	bs += (int64_t)tn->boottime->tv_sec - boot.tv_sec;
	bn += (int64_t)tn->boottime->tv_nsec - boot.tv_nsec;
	/* Each nsec part is now in (-2e9, 2e9): bring it into [0, 1e9). */
	for (; mn < 0; mn += 1000000000)
		ms--;
	for (; mn >= 1000000000; mn -= 1000000000)
		ms++;
	for (; bn < 0; bn += 1000000000)
		bs--;
	for (; bn >= 1000000000; bn -= 1000000000)
		bs++;
	n = snprintf(buf, sizeof(buf), "monotonic %lld %lld\nboottime %lld %lld\n",
		     (long long)ms, (long long)mn, (long long)bs, (long long)bn);
	fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, n) != n) {
		n = errno;
		if (fd >= 0)
			close(fd);
		return error("timens-0.img: cannot set the clock offsets: %s", strerror(n));
	}
	close(fd);
	return 0;
}

static pid_t fork_root(struct controller *c)
{
	struct img_task *root = &c->ctx.set->tasks[0];
	pid_t pid;

	pid = clone3_pid(0, root->pid);
	if (pid == 0)
		task_main(&c->ctx, root);
	if (pid < 0)
		error("task %u: cannot create it with its pid: %s", root->pid,
		      errno == EEXIST ? "the pid is in use here (try the default --pidns=new)" : strerror(errno));
	return pid;
}

static struct shared_area *reaper_shared;

/* --detach: the controller is about to exit; the tree must outlive it. */
static void reaper_on_usr1(int sig)
{
	(void)sig;
	prctl(PR_SET_PDEATHSIG, 0);
	__atomic_store_n(&reaper_shared->detach_ack, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &reaper_shared->detach_ack, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* The root died before COMPLETE: say how, unless it said why itself. */
static void reaper_report(struct controller *c, int status)
{
	struct task_report *r = &c->ctx.shared->reports[c->ctx.slots[0]];

	if (r->msg[0])
		return;
	r->pid = c->ctx.set->tasks[0].pid;
	r->stage = c->ctx.shared->te.start;
	if (WIFSIGNALED(status))
		snprintf(r->msg, sizeof(r->msg), "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(r->msg, sizeof(r->msg), "exited with status %d", WEXITSTATUS(status));
}

/* pid 1 of the new pid namespace: creates the root, then reaps whatever
 * ends up its child; a root that dies before COMPLETE aborts the restore.
 * Exits with the root's status (128 + signal for a signal). */
static __attribute__((noreturn)) void reaper_main(struct controller *c)
{
	struct task_entries *te = &c->ctx.shared->te;
	struct sigaction sa = { .sa_handler = reaper_on_usr1 };
	int status, code = 0;
	pid_t root, pid;

	/* The controller may die before COMPLETE: the tree goes with it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	reaper_shared = c->ctx.shared;
	sigaction(SIGUSR1, &sa, NULL);
	prctl(PR_SET_NAME, "crstep-reaper");
	if (timens_setup(c->ctx.set)) {
		barrier_abort(te, 1, ROLE_CONTROLLER, EPERM);
		_exit(EXIT_FAIL);
	}
	root = fork_root(c);
	if (root < 0) {
		barrier_abort(te, 1, ROLE_CONTROLLER, EEXIST);
		_exit(EXIT_FAIL);
	}
	/* The reaper may outlive crstep (--detach): it must not hold crstep's
	 * terminal or pipes open. */
	close_range(0, ~0u, 0);
	if (open("/dev/null", O_RDWR) == 0) {
		if (dup2(0, 1) < 0 || dup2(0, 2) < 0)
			_exit(EXIT_FAIL);
	}
	for (;;) {
		pid = waitpid(-1, &status, __WALL);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			break;
		if (pid != root)
			continue;
		if (__atomic_load_n(&te->start, __ATOMIC_ACQUIRE) != CR_STATE_COMPLETE) {
			reaper_report(c, status);
			barrier_abort(te, 1, ROLE_CONTROLLER, ECHILD);
		}
		code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	_exit(code);
}

static int read_nspid_path(const char *which)
{
	char path[96], line[256];
	FILE *f;
	int ns = 0;

	snprintf(path, sizeof(path), "/proc/%s/status", which);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *p;

		if (strncmp(line, "NSpid:", 6))
			continue;
		/* The last number is the pid in the task's own namespace. */
		p = strrchr(line, '\t');
		ns = p ? atoi(p + 1) : 0;
		break;
	}
	fclose(f);
	return ns;
}

static int read_nspid(pid_t pid)
{
	char which[24];

	snprintf(which, sizeof(which), "%d", pid);
	return read_nspid_path(which);
}

static int host_pid_known(const struct task_entries *te, pid_t pid)
{
	uint32_t i;

	for (i = 0; i < te->nr_slots; i++)
		if (te->slots[i].host_pid == pid)
			return 1;
	return 0;
}

/* The threads of a restored process, by the tid each sees itself as. */
static void match_threads(struct restore_ctx *ctx, pid_t pid)
{
	struct task_entries *te = &ctx->shared->te;
	char path[64];
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		int tid = atoi(d->d_name), ns;
		uint32_t i;

		if (tid <= 0 || tid == pid)
			continue;
		snprintf(path, sizeof(path), "%d/task/%d", pid, tid);
		ns = host_pid_known(te, tid) ? 0 : read_nspid_path(path);
		for (i = 0; ns && i < te->nr_slots; i++)
			if (te->slots[i].pid == ns && te->slots[i].role == ROLE_THREAD)
				te->slots[i].host_pid = tid;
	}
	closedir(dir);
}

static void walk_children(struct restore_ctx *ctx, pid_t pid, int depth)
{
	char path[80];
	FILE *f;
	int child;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fscanf(f, "%d", &child) == 1) {
		int ns = host_pid_known(&ctx->shared->te, child) ? 0 : read_nspid(child);
		uint32_t i;

		for (i = 0; ns && i < ctx->shared->te.nr_slots; i++)
			if (ctx->shared->te.slots[i].pid == ns && ctx->shared->te.slots[i].role != ROLE_THREAD)
				ctx->shared->te.slots[i].host_pid = child;
		match_threads(ctx, child);
		if (depth < 64)
			walk_children(ctx, child, depth + 1);
	}
	fclose(f);
}

void restore_refresh_host_pids(struct restore_ctx *ctx)
{
	struct task_entries *te = &ctx->shared->te;
	uint32_t i;

	if (ctx->tree_pid <= 0)
		return;
	/* A pid, once found, stays: with every one known there is nothing
	 * to walk (the controller looks often, and /proc costs). */
	for (i = 0; i < te->nr_slots && te->slots[i].host_pid > 0; i++)
		;
	if (i == te->nr_slots)
		return;
	if (!ctx->opts->host_pidns) {
		walk_children(ctx, ctx->tree_pid, 0);
		return;
	}
	ctx->shared->te.slots[ctx->slots[0]].host_pid = ctx->tree_pid;
	match_threads(ctx, ctx->tree_pid);
	walk_children(ctx, ctx->tree_pid, 0);
}

static int create_tree(struct controller *c)
{
	if (c->ctx.opts->host_pidns) {
		if (timens_setup(c->ctx.set))
			return -1;
		c->ctx.tree_pid = c->child = c->root = fork_root(c);
		return c->child < 0 ? -1 : 0;
	}
	c->ctx.tree_pid = c->child = c->reaper = clone3_pid(CLONE_NEWPID, 0);
	if (c->reaper == 0)
		reaper_main(c);
	if (c->reaper < 0)
		return error("cannot create a pid namespace for the tree: %s", strerror(errno));
	return 0;
}

/* Tell the observer (the stepper); apply what it answers.  0 to go on, -1 to abort. */
static int stop(struct controller *c, const struct stop_event *st)
{
	struct task_entries *te = &c->ctx.shared->te;
	enum resume_action a;
	int i;

	if (!c->obs || c->detached)
		return 0;
	restore_refresh_host_pids(&c->ctx);
	a = c->obs->stop(c->obs->arg, &c->ctx, st);
	switch (a) {
	case RESUME_CONTINUE:
		return 0;
	case RESUME_DETACH:
		c->detached = 1;
		for (i = 0; i < BARRIER_NR_BPS; i++)
			barrier_bp_enable(te, i, 0);
		return 0;
	case RESUME_KILL:
	case RESUME_QUIT:
		c->killed = 1;
		return -1;
	}
	return 0;
}

/* The last HOLD event a slot recorded. */
static int hold_event(struct task_entries *te, int slot, struct barrier_event *ev)
{
	uint64_t seq = barrier_events_written(te), low = seq > BARRIER_RING_SIZE ? seq - BARRIER_RING_SIZE : 0;

	for (; seq > low; seq--)
		if (!barrier_event_read(te, seq, ev) && ev->type == BARRIER_EV_HOLD && ev->slot == slot)
			return 0;
	return -1;
}

/* Every participant parked at a gate: one stop each, then open its gate. */
static int handle_holds(struct controller *c)
{
	struct task_entries *te = &c->ctx.shared->te;
	uint32_t i;

	for (i = 0; i < te->nr_slots; i++) {
		struct stop_event st = { .slot = (int)i };
		int r;

		if (!__atomic_load_n(&te->slots[i].gate, __ATOMIC_ACQUIRE))
			continue;
		st.bp = te->slots[i].held_bp;
		st.kind = st.bp == STEPPER_BP_STEP ? STOP_STEP : STOP_BREAKPOINT;
		if (hold_event(te, i, &st.ev))
			continue;
		r = stop(c, &st);
		barrier_release(te, i, getpid());
		if (r)
			return -1;
	}
	return 0;
}

/* The controller's own switch: its breakpoints are checked here. */
static int controller_switch_bp(struct controller *c, int from, int to)
{
	struct task_entries *te = &c->ctx.shared->te;
	struct stop_event st = { .slot = -1 };

	if (!c->obs || c->detached)
		return 0;
	st.bp = barrier_bp_match(te, BARRIER_EV_SWITCH, from, to, getpid());
	if (st.bp < 0)
		return 0;
	st.kind = st.bp == STEPPER_BP_STEP ? STOP_STEP : STOP_BREAKPOINT;
	st.ev.type = BARRIER_EV_SWITCH;
	st.ev.stage_from = from;
	st.ev.stage_to = to;
	st.ev.pid = getpid();
	st.ev.role = ROLE_CONTROLLER;
	st.ev.slot = -1;
	st.ev.count_set = stage_participants(c->ctx.proto, to, te);
	st.ev.count_seen = BARRIER_COUNT(te->nr_in_progress);
	st.ev.tsc = barrier_rdtsc();
	return stop(c, &st);
}

/* Has crstep's child (reaper or root) gone?  Then nothing restored runs.
 * With --pidns=host the child is the root, and while it is under ptrace a
 * waitpid() on it would take its ptrace stops too (and call one a death):
 * the catch set takes its statuses and keeps them. */
static int child_gone(struct controller *c)
{
	int r;

	if (c->child_gone || c->child <= 0)
		return c->child_gone;
	r = catch_child_exited(&c->caught, c->child, &c->child_status);
	if (r < 0) {
		/* With --pidns=host the child is the root, traced too:
		 * collecting the tracees may have reaped it already (ECHILD). */
		pid_t w = waitpid(c->child, &c->child_status, WNOHANG | __WALL);

		r = w == c->child || (w < 0 && errno == ECHILD);
	}
	if (r > 0)
		c->child_gone = 1;
	return c->child_gone;
}

/* Wait for a drain; a dead child or an abort ends it. */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* A restored task that died before COMPLETE (a zombie-to-be aside): its
 * parent has every signal blocked and cannot tell, so the controller looks
 * at /proc while it waits anyway (CRIU's parents get SIGCHLD instead). */
static int find_dead_task(struct controller *c)
{
	struct task_entries *te = &c->ctx.shared->te;
	uint32_t i;

	restore_refresh_host_pids(&c->ctx);
	for (i = 0; i < te->nr_slots; i++) {
		struct task_slot *s = &te->slots[i];
		struct task_report *r = &c->ctx.shared->reports[i];
		char path[64], buf[1024], *p;
		unsigned long code = 0;
		FILE *f;
		int k;

		/* Zombies die by design once RESTORE is over, not before.  A
		 * task asleep in the barrier for this stage is alive as far as
		 * the wait is concerned (the next stage's wait looks again):
		 * the look costs a /proc read per task that is still working. */
		if (s->host_pid <= 0 || s->role == ROLE_THREAD ||
		    (s->role == ROLE_ZOMBIE && te->start >= CR_STATE_RESTORE_SIGCHLD) ||
		    __atomic_load_n(&s->waiting_on, __ATOMIC_ACQUIRE) == te->start)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", s->host_pid);
		f = fopen(path, "re");
		buf[0] = 0;
		if (f) {
			if (!fgets(buf, sizeof(buf), f))
				buf[0] = 0;
			fclose(f);
		}
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X')
			continue;
		/* Field 52 of stat is the wait status of a zombie. */
		for (k = 3; p && k <= 52; k++)
			p = strchr(p + 1, ' ');
		if (p)
			code = strtoul(p + 1, NULL, 10);
		if (!r->msg[0]) {
			r->pid = s->pid;
			r->stage = te->start;
			if (code & 0x7f)
				snprintf(r->msg, sizeof(r->msg), "died: killed by signal %lu (%s)", code & 0x7f,
					 strsignal(code & 0x7f));
			else
				snprintf(r->msg, sizeof(r->msg), "died: exited with status %lu", (code >> 8) & 0xff);
		}
		return 1;
	}
	return 0;
}

/* Wait for a drain.  An abort, a dead task, the watchdog (no event for
 * --watchdog) or --timeout end it; breakpoints stop in it. */
static int controller_wait(struct controller *c, int32_t limit)
{
	struct task_entries *te = &c->ctx.shared->te;
	const struct restore_opts *o = c->ctx.opts;

	for (;;) {
		int ret = wait_in_progress_held(te, limit, WAIT_SLICE_NS);
		uint64_t now = now_ns(), seq;

		if (ret == BARRIER_WAIT_DONE)
			return 0;
		if (ret == BARRIER_WAIT_ABORTED)
			return -1;
		if (ret == BARRIER_WAIT_HELD) {
			if (handle_holds(c))
				return -1;
			c->progress_ns = now_ns();	/* a stop is not a hang */
			continue;
		}
		service_log_forward(&c->ctx, &c->log_done);
		if (c->caught.nr)
			catch_poll(&c->caught);
		if (child_gone(c) || find_dead_task(c)) {
			barrier_abort(te, getpid(), ROLE_CONTROLLER, ECHILD);
			return -1;
		}
		if (c->obs && !c->detached)
			c->obs->tick(c->obs->arg, &c->ctx);
		seq = barrier_events_written(te);
		if (seq != c->progress_seq) {
			c->progress_seq = seq;
			c->progress_ns = now;
		}
		if (o->timeout_ms && now > c->deadline_ns) {
			c->hung = HUNG_TIMEOUT;
			return -1;
		}
		if (o->watchdog_ms && now - c->progress_ns > o->watchdog_ms * 1000000ull) {
			struct stop_event st = { .kind = STOP_HANG, .bp = -1, .slot = -1 };

			if (c->obs && !c->detached && isatty(0)) {
				/* Interactive: stop and let the user look; going on
				 * re-arms the watchdog. */
				if (stop(c, &st))
					return -1;
				c->progress_ns = now_ns();
				continue;
			}
			c->hung = HUNG_WATCHDOG;
			return -1;
		}
	}
}

/* The controller's part of the protocol: from ROOT_TASK on, each stage it
 * switches, after waiting for the stage before it to drain. */
static int run_protocol(struct controller *c)
{
	const struct protocol *p = c->ctx.proto;
	struct task_entries *te = &c->ctx.shared->te;
	int stage = CR_STATE_ROOT_TASK;

	while (stage != CR_STATE_COMPLETE) {
		int next = protocol_next_stage(p, stage), prev;
		int32_t limit = 0;

		while (protocol_switcher(p, next) != PERFORMER_CONTROLLER)
			next = protocol_next_stage(p, next);
		prev = next;
		for (prev = stage; protocol_next_stage(p, prev) != next;)
			prev = protocol_next_stage(p, prev);
		if (protocol_drain_waiter(p, prev, &limit) == PERFORMER_CONTROLLER && controller_wait(c, limit))
			return -1;
		if (te->start != prev)
			return error("the protocol is at %s, the controller expected %s", stage_name(te->start),
				     stage_name(prev));
		if (controller_switch_bp(c, prev, next))
			return -1;
		if (protocol_rule(p, next)->drop_zombie_threads)
			te->nr_threads -= te->nr_zombies;
		/* CRIU's attach_to_tasks() after RESTORE_SIGCHLD, catch_tasks()
		 * before COMPLETE. */
		if (next == CR_STATE_RESTORE_CREDS &&
		    (catch_collect(&c->ctx, &c->caught) || catch_attach(&c->caught)))
			return -1;
		/* CRIU's network_unlock() and its restorer's TCP repair off. */
		if (next == CR_STATE_RESTORE_CREDS && inet_unlock(&c->ctx))
			return -1;
		if (next == CR_STATE_COMPLETE && catch_interrupt(&c->caught))
			return -1;
		if (stage_switch(te, next, stage_participants(p, next, te), protocol_switch_wakes(p, next),
				 getpid(), ROLE_CONTROLLER))
			return -1;
		stage = next;
	}
	if (catch_finish(&c->caught))
		return -1;
	restore_refresh_host_pids(&c->ctx);
	c->root = c->ctx.shared->te.slots[c->ctx.slots[0]].host_pid;
	return 0;
}

/* The shared area, sized by the tree: the barrier with a slot per task and
 * thread, then a report per slot, then a word per pstree entry. */
struct shared_layout {
	uint32_t nr_slots;
	size_t reports, fdt, len;	/* offsets of the arrays, the mapping's size */
};

/* Counted once: the slots walk the tree (and plan the helpers). */
static struct shared_layout shared_layout(const struct img_set *set)
{
	struct shared_layout l = { .nr_slots = restore_nr_slots(set) };

	l.reports = (offsetof(struct shared_area, te) + task_entries_size(l.nr_slots) + 63) & ~(size_t)63;
	l.fdt = l.reports + (size_t)l.nr_slots * sizeof(struct task_report);
	l.len = PAGE_UP(l.fdt + set->nr_tasks * sizeof(int32_t));
	return l;
}

size_t restore_shared_size(const struct img_set *set)
{
	return shared_layout(set).len;
}

void restore_shared_init(struct shared_area *sh, const struct img_set *set)
{
	struct shared_layout l = shared_layout(set);

	sh->size = l.len;
	sh->reports = (struct task_report *)((char *)sh + l.reports);
	sh->fdt_done = (int32_t *)((char *)sh + l.fdt);
	task_entries_init(&sh->te, l.nr_slots);
}

int restore_ctx_alloc(struct restore_ctx *ctx)
{
	size_t n = ctx->set->nr_tasks ? ctx->set->nr_tasks : 1;

	ctx->slots = calloc(4 * n, sizeof(int));
	if (!ctx->slots)
		return error("out of memory for %zu tasks", ctx->set->nr_tasks);
	ctx->thread_slots = ctx->slots + n;
	ctx->fdt_owner = ctx->thread_slots + n;
	ctx->fdt_rank = ctx->fdt_owner + n;
	return 0;
}

void restore_ctx_free(struct restore_ctx *ctx)
{
	free(ctx->slots);
	ctx->slots = ctx->thread_slots = ctx->fdt_owner = ctx->fdt_rank = NULL;
}

static struct shared_area *shared_create(const struct img_set *set)
{
	size_t len = restore_shared_size(set), i, j;
	struct shared_area *sh;

	sh = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		error("cannot create the shared area: %s", strerror(errno));
		return NULL;
	}
	/* The area stays mapped in the restorer until COMPLETE: it must not
	 * sit where a dumped VMA goes. */
	for (i = 0; i < set->nr_tasks; i++) {
		for (j = 0; set->tasks[i].mm && j < set->tasks[i].mm->n_vmas; j++) {
			const VmaEntry *v = set->tasks[i].mm->vmas[j];

			if (v->start < (uint64_t)sh + len && (uint64_t)sh < v->end) {
				munmap(sh, len);
				error("the shared area landed on a dumped VMA (%#lx); retry",
				      (unsigned long)v->start);
				return NULL;
			}
		}
	}
	restore_shared_init(sh, set);
	return sh;
}

static void kill_tree(struct controller *c)
{
	uint64_t deadline = catch_now_ns() + 10000000000ull;

	if (c->child <= 0 || c->child_gone)
		return;
	/* pid 1 of a namespace takes the whole namespace with it. */
	kill(c->child, SIGKILL);
	/* Traced tasks stay zombies until we, their tracer, collect them; the
	 * namespace's init waits for them: reap both, waking at each exit. */
	for (;;) {
		catch_reap(&c->caught);
		if (child_gone(c))
			return;
		if (!catch_sleep(&c->caught, deadline))
			break;
	}
	warn("pid %d did not die within 10 s of SIGKILL", c->child);
}

static const char *const fault_names[] = { "none", "fail", "hang", "crash", "slow", "exit" };

static void report_failure(struct controller *c)
{
	struct shared_area *sh = c->ctx.shared;
	uint32_t i;

	/* An injected fault is the first failure; what followed is cascade. */
	if (sh->te.fault_hit.pid && sh->te.fault_hit.kind > 0 && sh->te.fault_hit.kind <= FAULT_EXIT) {
		error("restore failed: task %d at stage %s: injected %s", sh->te.fault_hit.pid,
		      stage_name(sh->te.fault_hit.stage), fault_names[(int)sh->te.fault_hit.kind]);
		return;
	}

	for (i = 0; i < sh->te.nr_slots; i++) {
		struct task_report *r = &sh->reports[i];

		if (!r->msg[0])
			continue;
		error("restore failed: task %d at stage %s: %s", r->pid, stage_name(r->stage), r->msg);
		return;
	}
	if (c->error[0]) {
		error("restore failed at stage %s: %s", stage_name(c->failed_stage), c->error);
		return;
	}
	if (c->child_gone && WIFSIGNALED(c->child_status))
		error("restore failed at stage %s: %s %d killed by signal %d", stage_name(c->failed_stage),
		      c->reaper ? "the reaper" : "task", c->child, WTERMSIG(c->child_status));
	else
		error("restore failed at stage %s: a task died or aborted (cr_err %d: %s)",
		      stage_name(c->failed_stage), sh->te.cr_err, strerror(sh->te.cr_err));
}

static int write_pidfile(const char *path, pid_t pid)
{
	FILE *f = fopen(path, "we");

	if (!f || fprintf(f, "%d\n", pid) < 0 || fclose(f))
		return error("--pidfile %s: %s", path, strerror(errno));
	return 0;
}

static void print_results(struct controller *c)
{
	const struct restore_opts *o = c->ctx.opts;
	struct task_entries *te = &c->ctx.shared->te;

	if (o->batch)
		trace_print_switch_log(stdout, te);
	if (o->stats) {
		struct rusage ru;

		trace_print_stats(stdout, te);
		/* What the protocol cost in wake-ups: CRIU's seed patch saves the
		 * controller two context switches per restore. */
		getrusage(RUSAGE_SELF, &ru);
		printf("context switches: controller %ld voluntary, restored threads %ld voluntary\n",
		       ru.ru_nvcsw - c->vcsw_start, c->caught.tasks_vcsw);
	}
	if (o->trace) {
		FILE *f = fopen(o->trace, "we");

		if (!f)
			warn("--trace %s: %s", o->trace, strerror(errno));
		else {
			(o->trace_chrome ? trace_write_chrome : trace_write_jsonl)(f, te);
			fclose(f);
		}
	}
	fflush(stdout);
}

/* The reaper dies with crstep until it hears otherwise; wait for its word
 * so that exiting now does not take the tree along. */
static int detach_reaper(struct controller *c)
{
	uint64_t deadline = now_ns() + 1000000000ull;
	struct timespec ts = { 0 };

	kill(c->reaper, SIGUSR1);
	/* FUTEX_WAIT sleeps only while the word is still 0: an ack that lands
	 * before it is not missed. */
	while (!__atomic_load_n(&c->ctx.shared->detach_ack, __ATOMIC_ACQUIRE)) {
		uint64_t now = now_ns();

		if (now >= deadline)
			break;
		ts.tv_sec = (deadline - now) / 1000000000ull;
		ts.tv_nsec = (deadline - now) % 1000000000ull;
		syscall(SYS_futex, &c->ctx.shared->detach_ack, FUTEX_WAIT, 0, &ts, NULL, 0);
	}
	if (__atomic_load_n(&c->ctx.shared->detach_ack, __ATOMIC_ACQUIRE))
		return 0;
	kill_tree(c);
	return error("the reaper (pid %d) did not acknowledge --detach; the tree was killed", c->reaper);
}

static int wait_tree(struct controller *c)
{
	if (!c->child_gone && waitpid(c->child, &c->child_status, __WALL) != c->child)
		return error("waitpid: %s", strerror(errno));
	c->child_gone = 1;
	if (WIFSIGNALED(c->child_status))
		return 128 + WTERMSIG(c->child_status);
	return WEXITSTATUS(c->child_status);
}

static int detach_reaper(struct controller *c);

/* The hang report comes first, while the tree is still there to look at. */
static void print_hang(struct controller *c)
{
	struct catch_set *cs = &c->caught;

	if (cs->stuck_tid) {
		/* Past the barriers: a thread under ptrace that did not stop. */
		printf("Hang: no ptrace stop for %.1f s%s\n", cs->stuck_ns / 1e9,
		       c->hung == HUNG_TIMEOUT ? " (--timeout expired)" : " (watchdog)");
		hang_report_thread(stdout, &c->ctx, cs->stuck_image_tid, cs->stuck_tid, cs->stuck_ns / 1e9);
		c->culprit = cs->stuck_image_tid;
		return;
	}
	printf("Hang: no progress for %.1f s%s\n", (now_ns() - c->progress_ns) / 1e9,
	       c->hung == HUNG_TIMEOUT ? " (--timeout expired)" : " (watchdog)");
	hang_report(stdout, &c->ctx);
	c->culprit = hang_culprit(&c->ctx);
}

/* --keep: every restored task stopped, left for a debugger. */
static void keep_tree(struct controller *c)
{
	struct task_entries *te = &c->ctx.shared->te;
	uint32_t i;

	restore_refresh_host_pids(&c->ctx);
	for (i = 0; i < te->nr_slots; i++) {
		if (te->slots[i].host_pid <= 0 || te->slots[i].role == ROLE_THREAD)
			continue;
		kill(te->slots[i].host_pid, SIGSTOP);
		printf("kept: %s %d is pid %d here, stopped\n", role_name(te->slots[i].role),
		       te->slots[i].pid, te->slots[i].host_pid);
	}
	fflush(stdout);
	if (c->reaper)
		detach_reaper(c);
}

/* Arm --inject faults in the shared area before anything runs. */
static void arm_faults(struct controller *c)
{
	const struct restore_opts *o = c->ctx.opts;
	struct task_entries *te = &c->ctx.shared->te;
	uint32_t i;

	for (i = 0; i < o->nr_faults && i < BARRIER_NR_FAULTS; i++) {
		te->faults[i].kind = o->faults[i].kind;
		te->faults[i].stage = o->faults[i].stage;
		te->faults[i].pid = o->faults[i].pid < 0 ? (int32_t)c->ctx.set->tasks[0].pid : o->faults[i].pid;
		te->faults[i].ms = o->faults[i].ms;
	}
	__atomic_store_n(&te->nr_faults, i, __ATOMIC_RELEASE);
}

/* Scripts arm their breakpoints before anything happens; then the
 * controller's first switch (ROOT_TASK, before the root exists). */
static int start_protocol(struct controller *c)
{
	struct task_entries *te = &c->ctx.shared->te;
	struct stop_event st = { .kind = STOP_START, .bp = -1, .slot = -1 };

	if (c->obs && stop(c, &st))
		return -1;
	if (controller_switch_bp(c, CR_STATE_FAIL, CR_STATE_ROOT_TASK))
		return -1;
	stage_switch(te, CR_STATE_ROOT_TASK, stage_participants(c->ctx.proto, CR_STATE_ROOT_TASK, te),
		     protocol_switch_wakes(c->ctx.proto, CR_STATE_ROOT_TASK), getpid(), ROLE_CONTROLLER);
	fflush(NULL);
	return 0;
}

/* The last stop: scripts may look at the end state. */
static int end_stop(struct controller *c, enum stop_kind kind)
{
	struct stop_event st = { .kind = kind, .bp = -1, .slot = -1 };

	if (!c->obs)
		return 0;
	c->detached = 0;
	return stop(c, &st);
}

int restore_run(const struct restore_opts *opts)
{
	struct controller c = { 0 };
	struct img_set *set;
	int ret = EXIT_FAIL;

	set = imgset_read(opts->dir);
	if (!set)
		return EXIT_FAIL;
	if (imgset_check(set) || restore_features_check(set, opts->cpu_cap_none))
		goto out_set;
	c.ctx.opts = opts;
	c.obs = opts->observer;
	c.caught.sigfd = -1;
	c.ctx.set = set;
	c.ctx.proto = protocol_get(opts->protocol);
	c.ctx.controller_pid = getpid();
	if (restore_ctx_alloc(&c.ctx))
		goto out_set;
	c.ctx.shared = shared_create(set);
	if (!c.ctx.shared)
		goto out_ctx;
	if (restore_prepare_counts(&c.ctx))
		goto out_shared;
	/* Orphans of the tree must come back to crstep, not to a slow pid 1. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* The ghosts are made, opened and removed here, before any fork:
	 * a failure from now on leaves none behind (remap.c).  Shared files
	 * come after them: one of them may be a ghost. */
	if (fdt_prepare(&c.ctx) || pipes_prepare(&c.ctx) || shmem_prepare(&c.ctx) || remap_prepare(&c.ctx) ||
	    files_prepare(&c.ctx) || service_fds_setup(&c.ctx))
		goto out_shared;
	{
		struct rusage ru;

		getrusage(RUSAGE_SELF, &ru);
		c.vcsw_start = ru.ru_nvcsw;
	}
	arm_faults(&c);
	c.progress_ns = now_ns();
	c.deadline_ns = c.progress_ns + opts->timeout_ms * 1000000ull;
	/* A ptrace stop is owed within the watchdog's time, as a drain is. */
	c.caught.wait_ns = opts->watchdog_ms * 1000000ull;
	c.caught.deadline_ns = opts->timeout_ms ? c.deadline_ns : 0;
	clock_sample_take(&c.ctx.shared->te.clock_start);
	/* One line for a failure: the controller's first error is kept and
	 * said once, with the stage, by report_failure(). */
	log_capture(c.error, sizeof(c.error));
	if (start_protocol(&c) || create_tree(&c) || catch_init(&c.caught) ||
	    (pipes_close(&c.ctx), files_close(&c.ctx), shmem_close(&c.ctx), remap_close(&c.ctx), run_protocol(&c))) {
		if (c.caught.stuck_tid && !c.hung)
			c.hung = c.caught.stuck_past_deadline ? HUNG_TIMEOUT : HUNG_WATCHDOG;
		catch_release(&c.caught);
		log_capture(NULL, 0);
		c.failed_stage = c.ctx.shared->te.start;
		if (c.hung)
			print_hang(&c);
		barrier_abort(&c.ctx.shared->te, getpid(), ROLE_CONTROLLER, ECANCELED);
		if (opts->keep)
			keep_tree(&c);
		else
			kill_tree(&c);
		stage_fail(&c.ctx.shared->te, getpid(), ROLE_CONTROLLER);
		service_log_forward(&c.ctx, &c.log_done);
		print_results(&c);
		if (c.killed)
			error("restore killed at stage %s (by a command)", stage_name(c.failed_stage));
		else if (c.hung)
			error("restore hung at stage %s: task %d is stuck (%s)", stage_name(c.failed_stage),
			      c.culprit, c.hung == HUNG_TIMEOUT ? "--timeout expired" : "watchdog");
		else
			report_failure(&c);
		end_stop(&c, STOP_FAILED);
		ret = c.hung ? EXIT_HANG : EXIT_FAIL;
		goto out_shared;
	}
	log_capture(NULL, 0);
	service_log_forward(&c.ctx, &c.log_done);
	remap_cleanup_links(&c.ctx);
	print_results(&c);
	if (opts->pidfile && write_pidfile(opts->pidfile, c.root)) {
		kill_tree(&c);
		goto out_shared;
	}
	if (opts->batch)
		printf("restore complete: task %u is pid %d here\n", set->tasks[0].pid, c.root);
	fflush(stdout);
	if (end_stop(&c, STOP_COMPLETE)) {
		kill_tree(&c);
		ret = EXIT_FAIL;
		goto out_shared;
	}
	if (opts->detach || c.detached) {
		if (c.reaper && detach_reaper(&c))
			goto out_shared;
		ret = EXIT_OK;
	} else {
		ret = wait_tree(&c);
	}
out_shared:
	if (c.ctx.sfd_top) {
		service_log_forward(&c.ctx, &c.log_done);
		close(service_fd(&c.ctx, SFD_LOG));
	}
	catch_fini(&c.caught);
	free(c.caught.t);
	free(c.caught.others);
	pipes_close(&c.ctx);
	free(c.ctx.pipes);
	files_close(&c.ctx);
	free(c.ctx.files);
	shmem_close(&c.ctx);
	free(c.ctx.shmems);
	remap_close(&c.ctx);
	free(c.ctx.remaps);
	inet_close(&c.ctx);
	munmap(c.ctx.shared, c.ctx.shared->size);
out_ctx:
	restore_ctx_free(&c.ctx);
out_set:
	imgset_free(set);
	return ret;
}
