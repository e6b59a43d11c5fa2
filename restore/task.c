/* task.c: a restored task's life in ordinary C, from its clone to the jump
 * into the restorer blob (CRIU's restore_task_with_children() and
 * restore_one_alive_task()).  The stage protocol is driven by the table in
 * protocol.c: at each stage the task either finishes it, or switches to the
 * next one itself (the root, in the variants that say so), or both wait
 * for the participants to drain first. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "protocol.h"
#include "restore.h"

static enum task_role task_role(struct restore_ctx *ctx, struct img_task *t);

static struct task_report *report_of(struct restore_ctx *ctx, struct img_task *t)
{
	return &ctx->shared->reports[ctx->slots[t - ctx->set->tasks]];
}

void task_fail(struct restore_ctx *ctx, struct img_task *t, const char *fmt, ...)
{
	struct task_report *r = report_of(ctx, t);
	size_t n = strlen(r->msg);
	va_list ap;

	/* A captured error() says what failed; fmt says where. */
	if (n) {
		char what[RST_ERR_LEN];

		memcpy(what, r->msg, sizeof(what));
		va_start(ap, fmt);
		n = vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
		va_end(ap);
		if (n < sizeof(r->msg))
			snprintf(r->msg + n, sizeof(r->msg) - n, ": %s", what);
	} else {
		va_start(ap, fmt);
		vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
		va_end(ap);
	}
	r->pid = t->pid;
	r->stage = ctx->shared->te.start;
	barrier_abort(&ctx->shared->te, t->pid, task_role(ctx, t), EINVAL);
	_exit(1);
}

static enum task_role task_role(struct restore_ctx *ctx, struct img_task *t)
{
	if (t == ctx->set->tasks)
		return ROLE_ROOT;
	return t->zombie ? ROLE_ZOMBIE : ROLE_TASK;
}

/* FORKING: each task creates its own children with their dumped pids
 * (CRIU's create_children_and_session()). */
static void fork_children(struct restore_ctx *ctx, struct img_task *t)
{
	size_t i;

	for (i = 1; i < ctx->set->nr_tasks; i++) {
		struct img_task *child = &ctx->set->tasks[i];
		pid_t pid;

		if (child->pstree->ppid != t->pid)
			continue;
		/* A task of the parent's fd table shares it from birth (CRIU's
		 * CLONE_FILES in fork_with_pid()). */
		pid = restore_clone(child->pid, ctx->fdt_rank[i] ? CLONE_FILES : 0);
		if (pid == 0)
			task_main(ctx, child);
		if (pid < 0)
			task_fail(ctx, t, "task %u: cannot create child %u with its pid: %s", t->pid,
				  child->pid, strerror(errno));
	}
}

/* Sessions and groups as dumped.  A task that leads neither inherits both
 * from its parent, or joins a group whose leader is gone through its helper
 * (helper.c); features.c refused the other trees that would need CRIU's
 * helper processes. */
static void restore_session(struct restore_ctx *ctx, struct img_task *t)
{
	PstreeEntry *pe = t->pstree;

	if (pe->sid == t->pid && getsid(0) != (pid_t)t->pid && setsid() < 0)
		task_fail(ctx, t, "task %u: setsid: %s", t->pid, strerror(errno));
	if (pe->pgid == t->pid && getpgid(0) != (pid_t)t->pid && setpgid(0, 0))
		task_fail(ctx, t, "task %u: setpgid: %s", t->pid, strerror(errno));
	if (pe->pgid != t->pid && getpgid(0) != (pid_t)pe->pgid && helpers_join(ctx, t))
		task_fail(ctx, t, "task %u: process group", t->pid);
	if (getsid(0) != (pid_t)pe->sid || getpgid(0) != (pid_t)pe->pgid)
		task_fail(ctx, t, "task %u: session %d group %d, the image says %u and %u", t->pid,
			  getsid(0), getpgid(0), pe->sid, pe->pgid);
}

/* A zombie takes part in the stages up to RESTORE, then dies the way it
 * died: exit with its code, or its fatal signal (CRIU's zombie path). */
static __attribute__((noreturn)) void zombie_main(struct restore_ctx *ctx, struct img_task *t, int stage)
{
	uint32_t code = t->core->tc->exit_code;
	int sig = code & 0x7f;
	sigset_t none;

	while (stage >= 0 && stage <= CR_STATE_RESTORE)
		stage = task_finish_stage(&ctx->shared->te, stage, ctx->slots[t - ctx->set->tasks]);
	if (stage < 0)
		_exit(1);
	helpers_reap(ctx, t);
	if (sig) {
		signal(sig, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		kill(getpid(), sig);
		sig = SIGABRT;	/* a signal that does not kill becomes an abort, as in CRIU */
		signal(sig, SIG_DFL);
		kill(getpid(), sig);
	}
	_exit((code >> 8) & 0xff);
}

/* rlimits: a hard limit this process cannot raise (no CAP_SYS_RESOURCE in
 * the bounding set here) is a warning, and the soft one is kept under it. */
static void restore_rlimits(struct img_task *t)
{
	TaskRlimitsEntry *rl = t->core->tc->rlimits;
	size_t i;

	for (i = 0; rl && i < rl->n_rlimits && i < RLIM_NLIMITS; i++) {
		struct rlimit r = { rl->rlimits[i]->cur, rl->rlimits[i]->max }, old;

		if (!setrlimit(i, &r))
			continue;
		if (errno == EPERM && !getrlimit(i, &old) && r.rlim_max > old.rlim_max) {
			warn("task %u: rlimit %zu: cannot raise the hard limit to %llu (kept %llu)", t->pid, i,
			     (unsigned long long)r.rlim_max, (unsigned long long)old.rlim_max);
			r.rlim_max = old.rlim_max;
			if (r.rlim_cur > r.rlim_max)
				r.rlim_cur = r.rlim_max;
			if (!setrlimit(i, &r))
				continue;
		}
		warn("task %u: rlimit %zu: %s", t->pid, i, strerror(errno));
	}
}

/* A number in /proc/self/NAME, -1 if unreadable. */
static long read_proc_self(const char *name)
{
	char path[64], buf[32];
	int fd, n;

	snprintf(path, sizeof(path), "/proc/self/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtol(buf, NULL, 10);
}

static int write_proc_self(const char *name, long value)
{
	char path[64], buf[32];
	int fd, n, ret;

	snprintf(path, sizeof(path), "/proc/self/%s", name);
	n = snprintf(buf, sizeof(buf), "%ld", value);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = write(fd, buf, n) == n ? 0 : -1;
	close(fd);
	return ret;
}

/* What the task keeps of itself in prctl and /proc, in CRIU's terms: the
 * child-subreaper flag and THP-disable (CRIU sets both in its restorer; the
 * task's mm and its own flags survive the jump alike), the membarrier
 * registrations, loginuid (critical,
 * as in CRIU: the audit trail would name someone else), oom_score_adj (not
 * critical: lowering it needs CAP_SYS_RESOURCE). */
static int restore_task_attrs(struct img_task *t)
{
	const TaskCoreEntry *tc = t->core->tc;
	int i;

	if (tc->has_child_subreaper && tc->child_subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
		return error("task %u: PR_SET_CHILD_SUBREAPER: %s", t->pid, strerror(errno));
	if (t->mm->has_thp_disabled && t->mm->thp_disabled && prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		return error("task %u: PR_SET_THP_DISABLE: %s", t->pid, strerror(errno));
	if (tc->has_loginuid && tc->loginuid != (uint32_t)-1 && read_proc_self("loginuid") != tc->loginuid &&
	    write_proc_self("loginuid", tc->loginuid) && errno != ENOENT)
		return error("task %u: loginuid %u: %s", t->pid, tc->loginuid, strerror(errno));
	/* membarrier() registrations belong to the mm: each set bit of the
	 * dumped mask is the registration command itself (CRIU's
	 * restore_membarrier_registrations). */
	for (i = 0; tc->has_membarrier_registration_mask && i < 32; i++)
		if ((tc->membarrier_registration_mask & (1u << i)) && syscall(SYS_membarrier, 1u << i, 0, 0))
			return error("task %u: membarrier registration %#x: %s", t->pid, 1u << i, strerror(errno));
	if (tc->has_oom_score_adj && tc->oom_score_adj && write_proc_self("oom_score_adj", tc->oom_score_adj))
		warn("task %u: oom_score_adj %d: %s", t->pid, tc->oom_score_adj, strerror(errno));
	return 0;
}

/* The image's sigactions are for signals 1..64 without SIGKILL and SIGSTOP. */
static int sa_index_to_signal(size_t i)
{
	int sig = i + 1;

	if (sig >= SIGKILL)
		sig++;
	if (sig >= SIGSTOP)
		sig++;
	return sig;
}

static int restore_sigactions(struct img_task *t, struct rst_sigaction *sigchld)
{
	TaskCoreEntry *tc = t->core->tc;
	size_t i;

	for (i = 0; i < tc->n_sigactions; i++) {
		SaEntry *sa = tc->sigactions[i];
		struct rst_sigaction k = { sa->sigaction, sa->flags, sa->restorer, sa->mask };
		int sig = sa_index_to_signal(i);

		/* SIGCHLD waits for RESTORE_SIGCHLD, as in CRIU: until then a
		 * child's death must reach crstep's handling, not the task's. */
		if (sig == SIGCHLD) {
			*sigchld = k;
			continue;
		}
		if (syscall(SYS_rt_sigaction, sig, &k, NULL, 8))
			return error("core-%u.img: sigaction of signal %d: %s", t->pid, sig, strerror(errno));
	}
	return 0;
}

static int read_last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int last = 40;

	if (f) {
		if (fscanf(f, "%d", &last) != 1)
			last = 40;
		fclose(f);
	}
	return last;
}

static int prepare_creds(struct img_thread *th, struct rst_creds *c)
{
	CredsEntry *ce = th->core->thread_core ? th->core->thread_core->creds : NULL;
	size_t i;

	if (!ce)
		return error("core-%u.img: no creds", th->tid);
	c->uid = ce->uid; c->gid = ce->gid; c->euid = ce->euid; c->egid = ce->egid;
	c->suid = ce->suid; c->sgid = ce->sgid; c->fsuid = ce->fsuid; c->fsgid = ce->fsgid;
	c->secbits = ce->secbits;
	c->no_new_privs = ce->has_no_new_privs && ce->no_new_privs;
	for (i = 0; i < 2; i++) {
		c->cap_inh[i] = i < ce->n_cap_inh ? ce->cap_inh[i] : 0;
		c->cap_prm[i] = i < ce->n_cap_prm ? ce->cap_prm[i] : 0;
		c->cap_eff[i] = i < ce->n_cap_eff ? ce->cap_eff[i] : 0;
		c->cap_bnd[i] = i < ce->n_cap_bnd ? ce->cap_bnd[i] : ~0u;
		c->cap_amb[i] = i < ce->n_cap_amb ? ce->cap_amb[i] : 0;
	}
	if (ce->n_groups > 64)
		return error("core-%u.img: %zu supplementary groups, at most 64", th->tid, ce->n_groups);
	c->nr_groups = ce->n_groups;
	for (i = 0; i < ce->n_groups; i++)
		c->groups[i] = ce->groups[i];
	c->last_cap = read_last_cap();
	return 0;
}

/* glibc registered an rseq area for this thread; the kernel would keep
 * writing into it after the blob has unmapped crstep (a SIGSEGV at the
 * next reschedule), so it goes before the jump. */
static void unregister_glibc_rseq(void)
{
	void *area = (char *)__builtin_thread_pointer() + __rseq_offset;

	if (!__rseq_size)
		return;
	if (syscall(SYS_rseq, area, 32, 1 /* RSEQ_FLAG_UNREGISTER */, RSEQ_SIG) &&
	    syscall(SYS_rseq, area, __rseq_size, 1, RSEQ_SIG))
		warn("cannot unregister glibc's rseq: %s", strerror(errno));
}

/* The resources of RESTORE, then the jump.  Never returns. */
static __attribute__((noreturn)) void restore_and_jump(struct restore_ctx *ctx, struct img_task *t, struct premap *pm, int stage)
{
	const struct stage_rule *r = protocol_rule(ctx->proto, CR_STATE_RESTORE);
	struct task_entries *te = &ctx->shared->te;
	struct rst_sigaction sigchld = { 0 };
	FileEntry *exe = imgset_file(ctx->set, t->mm->exe_file_id);
	int rank = ctx->fdt_rank[t - ctx->set->tasks];
	int exe_fd, fd;
	size_t i;

	if (!exe || !exe->reg)
		task_fail(ctx, t, "mm-%u.img: exe file id %u is not a regular file", t->pid, t->mm->exe_file_id);
	/* A task that shares its fd table opens nothing before its owner
	 * has put the fds in place. */
	if (rank && files_wait_shared(ctx, t))
		task_fail(ctx, t, "task %u: files", t->pid);
	fd = reg_file_open(ctx, exe->reg, 1);
	if (fd < 0)
		task_fail(ctx, t, "task %u: exe", t->pid);
	exe_fd = service_fd_install(ctx, fd, SFD_EXE + SFD_PER_TASK * rank);
	if (exe_fd < 0)
		task_fail(ctx, t, "task %u: cannot move the exe fd", t->pid);
	if (fs_enter_removed_cwd(ctx, t))
		task_fail(ctx, t, "task %u: fs", t->pid);
	if (!rank && files_restore(ctx, t))
		task_fail(ctx, t, "task %u: files", t->pid);
	if (locks_restore(ctx, t))
		task_fail(ctx, t, "task %u: file locks", t->pid);
	if (fs_restore(ctx, t))
		task_fail(ctx, t, "task %u: fs", t->pid);
	restore_rlimits(t);
	if (restore_task_attrs(t))
		task_fail(ctx, t, "task %u: prctl and /proc attributes", t->pid);
	if (restore_sigactions(t, &sigchld))
		task_fail(ctx, t, "task %u: signals", t->pid);
	if (personality(t->core->tc->personality) < 0)
		task_fail(ctx, t, "task %u: personality %#x: %s", t->pid, t->core->tc->personality, strerror(errno));
	if (mem_prepare_args(ctx, t, pm, exe_fd))
		task_fail(ctx, t, "task %u: restorer", t->pid);
	pm->args->sigchld = sigchld;
	helpers_args(ctx, t, pm->args);
	pm->args->te = te;
	pm->args->pid = t->pid;
	pm->args->err = report_of(ctx, t)->msg;
	pm->args->err_stage = &report_of(ctx, t)->stage;
	for (i = 0; i < t->nr_threads; i++) {
		struct rst_thread *th = &pm->args->threads[i];

		if (prepare_creds(&t->threads[i], &th->creds))
			task_fail(ctx, t, "task %u: creds", t->pid);
		th->slot = i ? restore_thread_slot(ctx, t, i) : ctx->slots[t - ctx->set->tasks];
		th->role = i ? ROLE_THREAD : task_role(ctx, t);
	}
	report_of(ctx, t)->pid = t->pid;
	report_of(ctx, t)->stage = RST_STAGE_UNSET;

	/* S25: the root enters its restorer last, once every other thread has
	 * finished RESTORE (it holds as many shares as it has threads). */
	if (stage == CR_STATE_RESTORE && task_role(ctx, t) == ROLE_ROOT && r->root_waits_own_threads &&
	    wait_in_progress(te, t->nr_threads, 0) != BARRIER_WAIT_DONE)
		task_fail(ctx, t, "task %u: aborted while waiting to enter the restorer", t->pid);
	/* Nothing of crstep's may stay open in the restored task: from here
	 * on failures are reported through the shared area only. */
	close(task_service_fd(ctx, t, SFD_LOG));
	log_set_fd(-1);
	unregister_glibc_rseq();
	mem_jump(pm);
}

/* Advance from `stage` as the table says for this task: finish it, or
 * (after the drain it is told to wait for) switch to the next stage. */
static int advance(struct restore_ctx *ctx, struct img_task *t, int stage)
{
	const struct protocol *p = ctx->proto;
	struct task_entries *te = &ctx->shared->te;
	enum task_role role = task_role(ctx, t);
	int next = protocol_next_stage(p, stage), slot = ctx->slots[t - ctx->set->tasks];
	int32_t limit;

	if (protocol_role_finishes(p, stage, role))
		return task_finish_stage(te, stage, slot);
	if (role == ROLE_ROOT && protocol_switcher(p, next) == PERFORMER_ROOT) {
		if (protocol_drain_waiter(p, stage, &limit) == PERFORMER_ROOT &&
		    wait_in_progress(te, limit, 0) != BARRIER_WAIT_DONE)
			return -1;
		if (stage_switch(te, next, stage_participants(p, next, te), protocol_switch_wakes(p, next),
				 t->pid, ROLE_ROOT))
			return -1;
		return next;
	}
	return error("task %u: the %s protocol gives it nothing to do at %s", t->pid, p->name, stage_name(stage));
}

void task_main(struct restore_ctx *ctx, struct img_task *t)
{
	struct task_entries *te = &ctx->shared->te;
	struct premap pm = { 0 };
	sigset_t all;
	int stage = te->start;

	/* Nothing may be delivered until the final sigreturn sets the mask. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	prctl(PR_SET_PDEATHSIG, 0);
	log_capture(report_of(ctx, t)->msg, RST_ERR_LEN);
	/* Warnings go to the controller's log file (a service fd), never to
	 * crstep's stderr: a task kept stopped (--keep) or one that outlives
	 * crstep must not hold crstep's output open.  Then nothing else of
	 * crstep's stays, so the children forked at FORKING get none of it
	 * either. */
	if (ctx->fdt_rank[t - ctx->set->tasks]) {
		/* The fd table is the parent's, already cleared: this task
		 * only adds its own log. */
		if (dup3(service_fd(ctx, SFD_LOG), task_service_fd(ctx, t, SFD_LOG), O_CLOEXEC) < 0)
			task_fail(ctx, t, "task %u: cannot place its log fd: %s", t->pid, strerror(errno));
	} else {
		/* Besides its own log, the other tasks' log and exe slots go
		 * (copied from a parent whose table is shared). */
		close_range(service_fd(ctx, SFD_PER_TASK * ctx->fdt_max - 1), service_fd(ctx, SFD_EXE), 0);
		task_fds_close_foreign(ctx);
	}
	log_set_fd(task_service_fd(ctx, t, SFD_LOG));

	while (stage >= 0 && stage < CR_STATE_RESTORE) {
		if (stage == CR_STATE_FORKING) {
			restore_session(ctx, t);
			if (t->zombie)
				zombie_main(ctx, t, stage);
			if (mem_premap(ctx, t, &pm))
				task_fail(ctx, t, "task %u: memory", t->pid);
			fork_children(ctx, t);
		}
		if (stage == CR_STATE_PRE_RESTORER)
			break;
		stage = advance(ctx, t, stage);
	}
	if (stage < 0)
		task_fail(ctx, t, "task %u: the restore was aborted", t->pid);
	if (stage == CR_STATE_PRE_RESTORER) {
		/* Resources first, then the root waits for the others and
		 * switches RESTORE from inside restore_and_jump's caller. */
		stage = advance(ctx, t, stage);
		if (stage != CR_STATE_RESTORE)
			task_fail(ctx, t, "task %u: the restore was aborted", t->pid);
	}
	restore_and_jump(ctx, t, &pm, stage);
}
