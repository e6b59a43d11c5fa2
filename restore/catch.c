/* catch.c: the controller's ptrace work at the end of a restore.
 *
 * After RESTORE_SIGCHLD every live thread is seized (and let go on); before
 * COMPLETE each is interrupted; after COMPLETE each is stepped from syscall
 * stop to syscall stop until it stands at the exit of its rt_sigreturn with
 * the dumped registers (no hardware breakpoints here: PTRACE_SYSCALL, as
 * CRIU's fallback).  Then the restorer's bootstrap area is unmapped from each
 * process by borrowing the blob's own `syscall` instruction, the registers
 * are put back exactly, and everything is detached. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "restore.h"

extern const unsigned char restorer_blob[];
extern const unsigned long restorer_off_sigreturn;

static int add(struct catch_set *cs, pid_t tid, pid_t tgid, uint32_t image_tid, int stop_signo, int seccomp)
{
	struct caught *t = realloc(cs->t, (cs->nr + 1) * sizeof(*t));

	if (!t)
		return error("out of memory");
	cs->t = t;
	memset(&t[cs->nr], 0, sizeof(*t));
	t[cs->nr].tid = tid;
	t[cs->nr].tgid = tgid;
	t[cs->nr].image_tid = image_tid;
	t[cs->nr].stop_signo = tid == tgid ? stop_signo : 0;
	t[cs->nr].seccomp = seccomp;
	cs->nr++;
	return 0;
}

/* The tid a thread has in the images, for the reports. */
static uint32_t image_tid(struct task_entries *te, pid_t tid, uint32_t pid)
{
	uint32_t i;

	for (i = 0; i < te->nr_slots; i++)
		if (te->slots[i].host_pid == tid && te->slots[i].role == ROLE_THREAD)
			return te->slots[i].pid;
	return pid;
}

/* The signal a process dumped stopped (task_state TASK_STOPPED) is sent
 * again, as CRIU's finalize_restore(): the one that stopped it (stop_signo:
 * SIGTSTP, SIGTTIN, SIGTTOU), or SIGSTOP when the image does not say (CRIU
 * before stop_signo) or names no stop signal. */
static int stop_signal_of(const struct img_task *t)
{
	const TaskCoreEntry *tc = t->core->tc;

	if (tc->task_state != TASK_STOPPED)
		return 0;
	if (tc->has_stop_signo && (tc->stop_signo == SIGTSTP || tc->stop_signo == SIGTTIN ||
				   tc->stop_signo == SIGTTOU))
		return tc->stop_signo;
	return SIGSTOP;
}

/* Every thread of every live task, from /proc/PID/task. */
int catch_collect(struct restore_ctx *ctx, struct catch_set *cs)
{
	struct task_entries *te = &ctx->shared->te;
	size_t i;

	cs->shared = (uint64_t)ctx->shared;
	cs->shared_len = ctx->shared->size;
	restore_refresh_host_pids(ctx);
	for (i = 0; i < ctx->set->nr_tasks; i++) {
		struct img_task *t = &ctx->set->tasks[i];
		pid_t pid = te->slots[ctx->slots[i]].host_pid;
		struct dirent *d;
		char path[64];
		DIR *dir;

		if (t->zombie)
			continue;
		if (pid <= 0)
			return error("task %u: cannot find it in /proc", t->pid);
		snprintf(path, sizeof(path), "/proc/%d/task", pid);
		dir = opendir(path);
		if (!dir)
			return error("task %u: cannot list its threads: %s", t->pid, strerror(errno));
		while ((d = readdir(dir))) {
			if (d->d_name[0] == '.')
				continue;
			if (add(cs, atoi(d->d_name), pid, image_tid(te, atoi(d->d_name), t->pid),
				stop_signal_of(t), seccomp_task_uses(t))) {
				closedir(dir);
				return -1;
			}
		}
		closedir(dir);
	}
	return 0;
}

/* How the controller waits for its tracees and its child.
 *
 * Every wait status is taken by collect() alone and kept in its thread's
 * `caught` entry (or, for a child that is no tracee, in `others`) until the
 * code waiting for that thread uses it: a ptrace stop is reported once, so
 * a status taken and dropped would leave its thread stopped for good while
 * its waiter times out.  collect() takes whatever is pending with
 * waitpid(-1), so one wake-up costs one wait per event, not one per
 * thread of the tree.
 *
 * The waits sleep on a signalfd for SIGCHLD (blocked meanwhile), which the
 * kernel sends to a tracer at every ptrace stop and every exit of a tracee
 * or child: collect, and only then sleep, so an event that lands between
 * the two leaves SIGCHLD pending and poll() returns at once. */
uint64_t catch_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* After the tree exists, so that no restored task inherits the fd. */
int catch_init(struct catch_set *cs)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t chld;

	/* SIG_IGN inherited from our parent would reap children behind our
	 * back and send no SIGCHLD for their stops. */
	sigaction(SIGCHLD, &dfl, NULL);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &chld, NULL))
		return error("cannot block SIGCHLD: %s", strerror(errno));
	cs->sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (cs->sigfd < 0)
		return error("signalfd: %s", strerror(errno));
	return 0;
}

void catch_fini(struct catch_set *cs)
{
	sigset_t chld;

	if (cs->sigfd < 0)
		return;
	close(cs->sigfd);
	cs->sigfd = -1;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_UNBLOCK, &chld, NULL);
}

/* Sleep until a SIGCHLD or the deadline; 0 if the deadline passed. */
int catch_sleep(struct catch_set *cs, uint64_t deadline_ns)
{
	struct signalfd_siginfo si;
	struct pollfd pfd = { .fd = cs->sigfd, .events = POLLIN };
	uint64_t now = catch_now_ns();
	int ms;

	if (now >= deadline_ns)
		return 0;
	ms = (deadline_ns - now + 999999) / 1000000;
	/* Without the fd (a failure before it exists): short naps. */
	if (cs->sigfd < 0)
		return poll(NULL, 0, ms < 10 ? ms : 10), 1;
	poll(&pfd, 1, ms);
	while (read(cs->sigfd, &si, sizeof(si)) == sizeof(si))
		;
	return 1;
}

static uint64_t wait_deadline(struct catch_set *cs)
{
	uint64_t d = catch_now_ns() + (cs->wait_ns ? cs->wait_ns : 5000000000ull);

	return cs->deadline_ns && cs->deadline_ns < d ? cs->deadline_ns : d;
}

static struct caught *find_tid(struct catch_set *cs, pid_t tid)
{
	size_t i;

	for (i = 0; i < cs->nr; i++)
		if (cs->t[i].tid == tid && (cs->t[i].seized || cs->t[i].dead))
			return &cs->t[i];
	return NULL;
}

/* A child that is no tracee (the reaper): its exit, kept for
 * catch_child_exited(). */
static void keep_other(struct catch_set *cs, pid_t pid, int status)
{
	struct catch_other *o;

	if (!WIFEXITED(status) && !WIFSIGNALED(status))
		return;
	o = realloc(cs->others, (cs->nr_others + 1) * sizeof(*o));
	if (!o)
		return;
	cs->others = o;
	cs->others[cs->nr_others++] = (struct catch_other){ pid, status };
}

/* Take every status pending, each into its thread's entry.  A dead thread
 * is reaped here: its thread group leader is reported to us, its tracer,
 * only once every other thread of the group has been.  An exit that
 * follows a stop not yet used replaces it: the stop is moot. */
static void collect(struct catch_set *cs)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG | __WALL)) > 0) {
		struct caught *t = find_tid(cs, pid);

		if (!t) {
			keep_other(cs, pid, status);
			continue;
		}
		t->has_status = 1;
		t->status = status;
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			t->seized = 0;
			t->dead = 1;
			t->exit_status = status;
		}
	}
}

/* Has `pid`, one of ours under ptrace, exited?  Its exit is taken by
 * collect() with its stops; a waitpid() of our own here would take (and
 * lose) a stop, and read it as no exit. -1: not in the set. */
int catch_child_exited(struct catch_set *cs, pid_t pid, int *status)
{
	size_t i;

	if (cs->sigfd >= 0)
		collect(cs);
	for (i = 0; i < cs->nr_others; i++)
		if (cs->others[i].pid == pid) {
			*status = cs->others[i].status;
			return 1;
		}
	for (i = 0; i < cs->nr; i++) {
		struct caught *t = &cs->t[i];

		if (t->tid != pid || (!t->seized && !t->dead))
			continue;
		collect(cs);
		if (!t->dead)
			return 0;
		*status = t->exit_status;
		return 1;
	}
	return -1;
}

/* The next stop of t, by `deadline`; -1 (said) if it died or did not stop. */
static int wait_stop_until(struct catch_set *cs, struct caught *t, int *status, uint64_t deadline, uint64_t since)
{
	for (;;) {
		collect(cs);
		if (t->has_status) {
			t->has_status = 0;
			*status = t->status;
			break;
		}
		if (!t->seized)
			return error("thread %d: no longer traced", t->tid);
		if (!catch_sleep(cs, deadline)) {
			cs->stuck_tid = t->tid;
			cs->stuck_image_tid = t->image_tid;
			cs->stuck_ns = catch_now_ns() - since;
			cs->stuck_past_deadline = cs->deadline_ns && deadline >= cs->deadline_ns;
			return error("thread %d: no ptrace stop within %.1f s", t->tid, cs->stuck_ns / 1e9);
		}
	}
	if (WIFEXITED(*status) || WIFSIGNALED(*status))
		return error("thread %d: died while being caught (status %#x)", t->tid, *status);
	return 0;
}

static int wait_stop(struct catch_set *cs, struct caught *t, int *status)
{
	return wait_stop_until(cs, t, status, wait_deadline(cs), catch_now_ns());
}

static int interrupt(struct catch_set *cs, struct caught *t)
{
	int status;

	if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0))
		return error("task %u: thread %d: PTRACE_INTERRUPT: %s", t->image_tid, t->tid, strerror(errno));
	if (wait_stop(cs, t, &status))
		return error("task %u: thread %d: cannot stop it", t->image_tid, t->tid);
	return 0;
}

int catch_attach(struct catch_set *cs)
{
	size_t i;

	for (i = 0; i < cs->nr; i++) {
		struct caught *t = &cs->t[i];

		/* As CRIU's attach_to_tasks(): the filters installed in
		 * RESTORE_CREDS would judge the blob's own syscalls (its creds,
		 * barriers, rseq) and crstep's injected munmap; suspended for
		 * the whole process until the detach. */
		long opts = PTRACE_O_TRACESYSGOOD | (t->seccomp ? PTRACE_O_SUSPEND_SECCOMP : 0);

		if (ptrace(PTRACE_SEIZE, t->tid, 0, opts))
			return error("task %u: thread %d: PTRACE_SEIZE: %s", t->image_tid, t->tid, strerror(errno));
		t->seized = 1;
		if (interrupt(cs, t) || ptrace(PTRACE_CONT, t->tid, 0, 0))
			return error("task %u: thread %d: cannot let it go on", t->image_tid, t->tid);
	}
	return 0;
}

int catch_interrupt(struct catch_set *cs)
{
	size_t i;

	for (i = 0; i < cs->nr; i++)
		if (interrupt(cs, &cs->t[i]))
			return -1;
	return 0;
}

/* The signal a stop carries on, if it is a signal-delivery stop: a
 * syscall stop, an interrupt or a group stop carry none. */
static int stop_signal(int status)
{
	if ((status >> 16) == PTRACE_EVENT_STOP || WSTOPSIG(status) == (SIGTRAP | 0x80))
		return 0;
	return WSTOPSIG(status);
}

/* One deadline for the whole walk: a thread that loops through stops
 * without reaching its rt_sigreturn is as stuck as one that never stops. */
static int stop_at_sigreturn(struct catch_set *cs, struct caught *t)
{
	struct __ptrace_syscall_info info;
	int status, in_sigreturn = 0, sig = 0;
	uint64_t since = catch_now_ns(), deadline = wait_deadline(cs);

	for (;;) {
		if (ptrace(PTRACE_SYSCALL, t->tid, 0, sig))
			return error("task %u: PTRACE_SYSCALL: %s", t->image_tid, strerror(errno));
		if (wait_stop_until(cs, t, &status, deadline, since))
			return error("task %u: thread %d did not reach its rt_sigreturn", t->image_tid, t->tid);
		/* A signal acts as it would have (a crash kills the task and is
		 * reported as a death), not re-raised forever. */
		sig = stop_signal(status);
		if (WSTOPSIG(status) != (SIGTRAP | 0x80))
			continue;
		if (ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, sizeof(info), &info) <= 0)
			return error("task %u: PTRACE_GET_SYSCALL_INFO: %s", t->image_tid, strerror(errno));
		/* The exit stop carries no syscall number: remember the entry. */
		if (info.op == PTRACE_SYSCALL_INFO_ENTRY)
			in_sigreturn = info.entry.nr == __NR_rt_sigreturn;
		else if (info.op == PTRACE_SYSCALL_INFO_EXIT && in_sigreturn)
			return 0;
	}
}

/* The bootstrap area: the rwx anonymous mapping that starts with the blob. */
static int find_bootstrap(struct caught *t, uint64_t *start, uint64_t *len)
{
	char path[64], line[512];
	FILE *f;
	int ret = -1;

	snprintf(path, sizeof(path), "/proc/%d/maps", t->tgid);
	f = fopen(path, "re");
	if (!f)
		return error("task %u: cannot read its maps: %s", t->image_tid, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e;
		char perms[8];
		uint8_t head[16];
		struct iovec local = { head, sizeof(head) }, remote;

		if (sscanf(line, "%llx-%llx %7s", &s, &e, perms) != 3 || strcmp(perms, "rwxp"))
			continue;
		remote.iov_base = (void *)s;
		remote.iov_len = sizeof(head);
		if (process_vm_readv(t->tgid, &local, 1, &remote, 1, 0) == sizeof(head) &&
		    !memcmp(head, restorer_blob, sizeof(head))) {
			*start = s;
			*len = e - s;
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret ? error("task %u: cannot find the restorer in its maps", t->image_tid) : 0;
}

/* CRIU's compel_unmap(): a munmap run by the task itself, through the
 * blob's `syscall` instruction (at blob + restorer_off_sigreturn), then the
 * registers exactly as before. */
static int inject_munmap(struct catch_set *cs, struct caught *t, uint64_t blob, uint64_t start, uint64_t len)
{
	struct user_regs_struct saved, regs;
	struct __ptrace_syscall_info info;
	uint64_t mask, all = ~0ull;
	int status, i;

	/* The dumped mask is live again after rt_sigreturn: a pending signal
	 * (a zombie child's SIGCHLD) would be delivered into the injected
	 * call.  Block everything meanwhile; it is delivered after detach. */
	if (ptrace(PTRACE_GETSIGMASK, t->tid, sizeof(mask), &mask) ||
	    ptrace(PTRACE_SETSIGMASK, t->tid, sizeof(all), &all))
		return error("task %u: PTRACE_[GS]ETSIGMASK: %s", t->image_tid, strerror(errno));
	if (ptrace(PTRACE_GETREGS, t->tid, 0, &saved))
		return error("task %u: PTRACE_GETREGS: %s", t->image_tid, strerror(errno));
	regs = saved;
	regs.rip = blob + restorer_off_sigreturn;
	regs.rax = __NR_munmap;
	regs.orig_rax = -1;
	regs.rdi = start;
	regs.rsi = len;
	if (ptrace(PTRACE_SETREGS, t->tid, 0, &regs))
		return error("task %u: PTRACE_SETREGS: %s", t->image_tid, strerror(errno));
	for (i = 0; i < 2; i++)
		if (ptrace(PTRACE_SYSCALL, t->tid, 0, 0) || wait_stop(cs, t, &status))
			return error("task %u: unmapping %#lx", t->image_tid, (unsigned long)start);
	if (ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, sizeof(info), &info) <= 0 ||
	    info.op != PTRACE_SYSCALL_INFO_EXIT || info.exit.rval != 0)
		return error("task %u: munmap at %#lx failed", t->image_tid, (unsigned long)start);
	if (ptrace(PTRACE_SETREGS, t->tid, 0, &saved) || ptrace(PTRACE_SETSIGMASK, t->tid, sizeof(mask), &mask))
		return error("task %u: PTRACE_SETREGS: %s", t->image_tid, strerror(errno));
	return 0;
}

/* The shared area first (the blob's instruction is still there), then the
 * bootstrap area itself. */
static int unmap_restorer(struct catch_set *cs, struct caught *t)
{
	uint64_t start = 0, len = 0;

	if (find_bootstrap(t, &start, &len))
		return -1;
	if (cs->shared_len && inject_munmap(cs, t, start, cs->shared, cs->shared_len))
		return -1;
	return inject_munmap(cs, t, start, start, len);
}

/* voluntary_ctxt_switches of a thread, from /proc. */
static long thread_vcsw(pid_t tgid, pid_t tid)
{
	char path[80], line[128];
	long n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", tgid, tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

int catch_finish(struct catch_set *cs)
{
	size_t i;

	for (i = 0; i < cs->nr; i++)
		if (stop_at_sigreturn(cs, &cs->t[i]))
			return -1;
	/* Every thread stands at the end of its restore: what it cost them. */
	cs->tasks_vcsw = 0;
	for (i = 0; i < cs->nr; i++)
		cs->tasks_vcsw += thread_vcsw(cs->t[i].tgid, cs->t[i].tid);
	/* Every thread is past the blob now: one munmap per process. */
	for (i = 0; i < cs->nr; i++)
		if (cs->t[i].tid == cs->t[i].tgid && unmap_restorer(cs, &cs->t[i]))
			return -1;
	/* A process dumped stopped gets its stop signal while every thread
	 * still stands in its ptrace stop: it waits, pending, and each thread
	 * takes part in the group stop on its way out of the detach, before
	 * it runs one instruction of its own (the kernel hands a detached
	 * thread the group stop in progress).  Its parent is told, as at the
	 * original stop: waitpid(WUNTRACED) sees it stopped. */
	for (i = 0; i < cs->nr; i++)
		if (cs->t[i].stop_signo && kill(cs->t[i].tgid, cs->t[i].stop_signo))
			return error("task %u: cannot stop it again (signal %d): %s", cs->t[i].image_tid,
				     cs->t[i].stop_signo, strerror(errno));
	for (i = 0; i < cs->nr; i++) {
		if (ptrace(PTRACE_DETACH, cs->t[i].tid, 0, 0))
			return error("task %u: thread %d: PTRACE_DETACH: %s", cs->t[i].image_tid,
				     cs->t[i].tid, strerror(errno));
		cs->t[i].seized = 0;
	}
	return 0;
}

/* While the controller waits for RESTORE_CREDS the tasks are seized: a
 * signal they get (a crash) stops them for us instead of acting.  Pass it
 * on, as it would have acted, and notice deaths.  Returns the image tid of
 * a thread that died, or 0. */
uint32_t catch_poll(struct catch_set *cs)
{
	uint32_t dead = 0;
	size_t i;

	collect(cs);
	for (i = 0; i < cs->nr; i++) {
		struct caught *t = &cs->t[i];

		if (!t->has_status)
			continue;
		t->has_status = 0;
		if (t->dead) {
			dead = t->image_tid;
			continue;
		}
		ptrace(PTRACE_CONT, t->tid, 0, stop_signal(t->status));
	}
	return dead;
}

/* On failure: let go of whatever is still seized before the tree is
 * killed — a traced zombie waits for its tracer, and the dying pid
 * namespace would wait for it.  A running tracee must be stopped to be
 * detached: interrupt them all, then wait 100 ms at most for them all. */
void catch_release(struct catch_set *cs)
{
	uint64_t deadline = catch_now_ns() + 100000000ull;
	struct catch_set stuck = *cs;	/* the report is about the first stuck thread */
	size_t i;
	int status;

	for (i = 0; i < cs->nr; i++) {
		struct caught *t = &cs->t[i];

		t->has_status = 0;
		if (t->seized && !ptrace(PTRACE_DETACH, t->tid, 0, 0))
			t->seized = 0;
		else if (t->seized)
			ptrace(PTRACE_INTERRUPT, t->tid, 0, 0);
	}
	for (i = 0; i < cs->nr; i++) {
		struct caught *t = &cs->t[i];

		/* Dead ones: catch_reap() collects them while the tree goes. */
		if (t->seized && !wait_stop_until(cs, t, &status, deadline, deadline) &&
		    !ptrace(PTRACE_DETACH, t->tid, 0, 0))
			t->seized = 0;
	}
	cs->stuck_tid = stuck.stuck_tid;
	cs->stuck_image_tid = stuck.stuck_image_tid;
	cs->stuck_ns = stuck.stuck_ns;
	cs->stuck_past_deadline = stuck.stuck_past_deadline;
}

/* What a tracer is owed: the exits of dead tracees, so that their thread
 * group and then their pid namespace can go.  Returns how many remain. */
size_t catch_reap(struct catch_set *cs)
{
	size_t i, left = 0;

	collect(cs);
	for (i = 0; i < cs->nr; i++) {
		struct caught *t = &cs->t[i];

		t->has_status = 0;
		if (!t->seized)
			continue;
		if (kill(t->tid, 0) && errno == ESRCH)
			t->seized = 0;
		else
			left++;
	}
	return left;
}
