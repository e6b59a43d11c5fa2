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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "restore.h"

extern const unsigned char restorer_blob[];
extern const unsigned long restorer_off_sigreturn;

static int add(struct catch_set *cs, pid_t tid, pid_t tgid, uint32_t image_tid)
{
	struct caught *t = realloc(cs->t, (cs->nr + 1) * sizeof(*t));

	if (!t)
		return error("out of memory");
	cs->t = t;
	t[cs->nr].tid = tid;
	t[cs->nr].tgid = tgid;
	t[cs->nr].image_tid = image_tid;
	t[cs->nr].seized = 0;
	cs->nr++;
	return 0;
}

/* Every thread of every live task, from /proc/PID/task. */
int catch_collect(struct restore_ctx *ctx, struct catch_set *cs)
{
	struct task_entries *te = &ctx->shared->te;
	size_t i;

	cs->shared = (uint64_t)ctx->shared;
	cs->shared_len = (sizeof(*ctx->shared) + 4095) & ~4095ul;
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
			if (add(cs, atoi(d->d_name), pid, t->pid)) {
				closedir(dir);
				return -1;
			}
		}
		closedir(dir);
	}
	return 0;
}

/* Bounded: a thread group that died under us reports its leader only
 * once the other threads are reaped (by us, their tracer), so a blocking
 * wait for the leader could wait forever.  Poll, and give up after 5 s. */
static int wait_stop(pid_t tid, int *status)
{
	int i;
	pid_t r;

	for (i = 0; i < 50000; i++) {
		r = waitpid(tid, status, WNOHANG | __WALL);
		if (r == tid)
			break;
		if (r < 0 && errno != EINTR)
			return error("thread %d: waitpid: %s", tid, strerror(errno));
		/* Reap dead tracees of other threads meanwhile. */
		while (waitpid(-1, NULL, WNOHANG | __WALL | __WNOTHREAD) > 0)
			;
		usleep(100);
	}
	if (i == 50000)
		return error("thread %d: no ptrace stop within 5 s", tid);
	if (WIFEXITED(*status) || WIFSIGNALED(*status))
		return error("thread %d: died while being caught (status %#x)", tid, *status);
	return 0;
}

static int interrupt(struct caught *t)
{
	int status;

	if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) || wait_stop(t->tid, &status))
		return error("task %u: thread %d: cannot stop it: %s", t->image_tid, t->tid, strerror(errno));
	return 0;
}

int catch_attach(struct catch_set *cs)
{
	size_t i;

	for (i = 0; i < cs->nr; i++) {
		struct caught *t = &cs->t[i];

		if (ptrace(PTRACE_SEIZE, t->tid, 0, PTRACE_O_TRACESYSGOOD))
			return error("task %u: thread %d: PTRACE_SEIZE: %s", t->image_tid, t->tid, strerror(errno));
		t->seized = 1;
		if (interrupt(t) || ptrace(PTRACE_CONT, t->tid, 0, 0))
			return error("task %u: thread %d: cannot let it go on", t->image_tid, t->tid);
	}
	return 0;
}

int catch_interrupt(struct catch_set *cs)
{
	size_t i;

	for (i = 0; i < cs->nr; i++)
		if (interrupt(&cs->t[i]))
			return -1;
	return 0;
}

static int stop_at_sigreturn(struct caught *t)
{
	struct __ptrace_syscall_info info;
	int status, in_sigreturn = 0;

	for (;;) {
		if (ptrace(PTRACE_SYSCALL, t->tid, 0, 0))
			return error("task %u: PTRACE_SYSCALL: %s", t->image_tid, strerror(errno));
		if (wait_stop(t->tid, &status))
			return -1;
		if (!WIFSTOPPED(status) || WSTOPSIG(status) != (SIGTRAP | 0x80))
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
static int inject_munmap(struct caught *t, uint64_t blob, uint64_t start, uint64_t len)
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
		if (ptrace(PTRACE_SYSCALL, t->tid, 0, 0) || wait_stop(t->tid, &status))
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
	if (cs->shared_len && inject_munmap(t, start, cs->shared, cs->shared_len))
		return -1;
	return inject_munmap(t, start, start, len);
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
		if (stop_at_sigreturn(&cs->t[i]))
			return -1;
	/* Every thread stands at the end of its restore: what it cost them. */
	cs->tasks_vcsw = 0;
	for (i = 0; i < cs->nr; i++)
		cs->tasks_vcsw += thread_vcsw(cs->t[i].tgid, cs->t[i].tid);
	/* Every thread is past the blob now: one munmap per process. */
	for (i = 0; i < cs->nr; i++)
		if (cs->t[i].tid == cs->t[i].tgid && unmap_restorer(cs, &cs->t[i]))
			return -1;
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

	for (i = 0; i < cs->nr; i++) {
		struct caught *t = &cs->t[i];
		int status, sig;

		if (!t->seized || waitpid(t->tid, &status, WNOHANG | __WALL) != t->tid)
			continue;
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			t->seized = 0;
			dead = t->image_tid;
			continue;
		}
		/* A group-stop or an interrupt carries no signal to pass on. */
		sig = (status >> 16) == PTRACE_EVENT_STOP ? 0 : WSTOPSIG(status);
		ptrace(PTRACE_CONT, t->tid, 0, sig);
	}
	return dead;
}

/* On failure: let go of whatever is still seized before the tree is
 * killed — a traced zombie waits for its tracer, and the dying pid
 * namespace would wait for it.  All threads at once, within one bound:
 * a dead thread group's leader is reported only after its other threads
 * are reaped, so waiting for the leader first would spin until its bound
 * ran out, once per process. */
void catch_release(struct catch_set *cs)
{
	size_t i, left;
	int round;

	for (i = 0; i < cs->nr; i++) {
		struct caught *t = &cs->t[i];

		if (!t->seized)
			continue;
		/* In a ptrace stop: let go at once.  Running or dead: a live
		 * one stops for the interrupt, a dead one is reaped below. */
		if (!ptrace(PTRACE_DETACH, t->tid, 0, 0))
			t->seized = 0;
		else
			ptrace(PTRACE_INTERRUPT, t->tid, 0, 0);
	}
	for (round = 0; round < 1000; round++) {
		left = 0;
		for (i = 0; i < cs->nr; i++) {
			struct caught *t = &cs->t[i];
			int status;
			pid_t r;

			if (!t->seized)
				continue;
			r = waitpid(t->tid, &status, WNOHANG | __WALL);
			if (r == t->tid && WIFSTOPPED(status) && ptrace(PTRACE_DETACH, t->tid, 0, 0))
				left++;
			else if (r == t->tid || (r < 0 && errno == ECHILD))
				t->seized = 0;
			else
				left++;
		}
		if (!left)
			break;
		usleep(100);
	}
}

/* What a tracer is owed: the exits of dead tracees, so that their thread
 * group and then their pid namespace can go.  Returns how many remain. */
size_t catch_reap(struct catch_set *cs)
{
	size_t i, left = 0;

	for (i = 0; i < cs->nr; i++) {
		struct caught *t = &cs->t[i];
		int status;

		if (!t->seized)
			continue;
		if (waitpid(t->tid, &status, WNOHANG | __WALL) == t->tid &&
		    (WIFEXITED(status) || WIFSIGNALED(status)))
			t->seized = 0;
		else if (kill(t->tid, 0) && errno == ESRCH)
			t->seized = 0;
		else
			left++;
	}
	return left;
}
