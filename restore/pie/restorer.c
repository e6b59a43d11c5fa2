/* restorer.c: the restorer blob.  Freestanding and position independent:
 * no libc, no relocations, raw syscalls only (sysraw.h).  It runs on the
 * bootstrap stack inside the bootstrap area, after the task has premapped
 * every dumped private VMA and built the final sigframe.
 *
 * Order matters, as in CRIU's __export_restore_task():
 *  1. unmap everything of crstep except the kept areas (bootstrap, premap,
 *     shared area, runtime vDSO) — glibc's rseq was unregistered before the
 *     jump, or the kernel would fault on the next reschedule;
 *  2. move the runtime vvar/vvar_vclock/vdso to the dumped place, all by
 *     one offset (the kernel's vdso/vvar layout is fixed);
 *  3. move every premapped VMA to its dumped address and give it back its
 *     protection, madvise bits and MAP_LOCKED;
 *  4. PR_SET_MM_MAP (exe file, code/data/brk/stack/args/env/auxv): only now,
 *     because the kernel refuses a new exe while crstep's is still mapped;
 *  5. per-thread state rt_sigreturn does not restore: tid address, robust
 *     list, fs/gs base, rseq, comm, nice and scheduling policy, the
 *     parent-death signal;
 *  6. the last barriers: finish RESTORE, SIGCHLD's action in RESTORE_SIGCHLD,
 *     seccomp and creds in RESTORE_CREDS (every thread its own, see
 *     restore_creds()), then wait for COMPLETE; the POSIX timers are
 *     created before RESTORE ends and armed with the itimers after
 *     COMPLETE (timers.c);
 *  7. rt_sigreturn into the dumped registers.  The controller catches that
 *     syscall's exit with ptrace and unmaps this blob. */
#include <stdint.h>
#include <stddef.h>
#include <asm/unistd.h>
#include <linux/mman.h>
#include <linux/prctl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <asm/prctl.h>
#include <linux/sched.h>

#include "barrier.h"
#include "restorer.h"
#include "sysraw.h"

#define TASK_SIZE_MAX	0x7ffffffff000ull
#define RSEQ_FLAG_UNREGISTER 1

/* Error text for the controller: "what: -errno", built without libc. */
static void put_str(char **p, char *end, const char *s)
{
	while (*s && *p < end)
		*(*p)++ = *s++;
}

static void put_hex(char **p, char *end, uint64_t v)
{
	char buf[19];
	int i = 18;

	buf[i--] = 0;
	do {
		buf[i--] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v && i > 1);
	buf[i--] = 'x';
	buf[i] = '0';
	put_str(p, end, buf + i);
}

static void put_dec(char **p, char *end, int64_t v)
{
	char buf[24];
	int i = 23;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	buf[i--] = 0;
	do {
		buf[i--] = '0' + u % 10;
		u /= 10;
	} while (u);
	if (v < 0)
		buf[i--] = '-';
	put_str(p, end, buf + i + 1);
}

/* The first failing thread of the process writes the report: the stage it
 * failed at, which thread (when not the leader), what, and the errno; then
 * the CRIU abort: the count's abort bit, every count waiter woken. */
static __attribute__((noreturn)) void fail_at(struct restorer_args *a, const char *what,
					      const char *at, uint64_t num, int hex, long ret)
{
	char *p = a->err, *end = a->err + RST_ERR_LEN - 1;
	int32_t unset = RST_STAGE_UNSET;
	long tid = sysraw_gettid();

	if (p && a->err_stage &&
	    __atomic_compare_exchange_n(a->err_stage, &unset, __atomic_load_n(&a->te->start, __ATOMIC_ACQUIRE),
					0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
		put_str(&p, end, "restorer: ");
		if (tid != a->pid) {
			put_str(&p, end, "thread ");
			put_dec(&p, end, tid);
			put_str(&p, end, ": ");
		}
		put_str(&p, end, what);
		if (at) {
			put_str(&p, end, at);
			if (hex)
				put_hex(&p, end, num);
			else
				put_dec(&p, end, (int64_t)num);
		}
		put_str(&p, end, " failed: errno ");
		put_dec(&p, end, -ret);
		*p = 0;
	}
	barrier_abort(a->te, a->pid, (enum task_role)a->threads[0].role, (int)-ret);
	for (;;)
		sysraw3(__NR_exit_group, 1, 0, 0);
}

static __attribute__((noreturn)) void fail(struct restorer_args *a, const char *what,
					   uint64_t addr, long ret)
{
	fail_at(a, what, addr ? " at " : NULL, addr, 1, ret);
}

#define CHECK(a, expr, what, addr)				\
	do {							\
		long __r = (long)(expr);			\
		if (__r < 0 && __r > -4096)			\
			fail(a, what, (uint64_t)(addr), __r);	\
	} while (0)

/* The same with a number said in decimal after `at` (" cap ", " id "). */
#define CHECK_N(a, expr, what, at, n)					\
	do {								\
		long __r = (long)(expr);				\
		if (__r < 0 && __r > -4096)				\
			fail_at(a, what, at, (uint64_t)(n), 0, __r);	\
	} while (0)

static void unmap_crstep(struct restorer_args *a)
{
	uint64_t from = 0;
	uint32_t i;

	for (i = 0; i <= a->nr_keep; i++) {
		uint64_t to = i < a->nr_keep ? a->keep[i].start : TASK_SIZE_MAX;

		if (to > from)
			CHECK(a, sysraw3(__NR_munmap, from, to - from, 0), "munmap", from);
		if (i < a->nr_keep)
			from = a->keep[i].end;
	}
}

static long move(uint64_t from, uint64_t len, uint64_t to)
{
	if (from == to)
		return 0;
	return sysraw6(__NR_mremap, from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to, 0);
}

/* The parts move by one offset; when the destination span overlaps the
 * source span they go through a free temporary span first. */
static void move_vdso(struct restorer_args *a)
{
	uint64_t lo, hi, dlo, dhi;
	int64_t delta = a->vdso_delta;
	uint32_t i;

	if (!a->nr_vdso_parts || !delta)
		return;
	lo = a->vdso_parts[0].start;
	hi = a->vdso_parts[a->nr_vdso_parts - 1].end;
	dlo = lo + delta;
	dhi = hi + delta;
	if (dlo < hi && lo < dhi) {
		int64_t tmp = (int64_t)(a->vdso_tmp - lo);

		for (i = 0; i < a->nr_vdso_parts; i++) {
			struct rst_range *r = &a->vdso_parts[i];

			CHECK(a, move(r->start, r->end - r->start, r->start + tmp), "mremap vdso", r->start);
			r->start += tmp;
			r->end += tmp;
		}
		delta -= tmp;
	}
	for (i = 0; i < a->nr_vdso_parts; i++) {
		struct rst_range *r = &a->vdso_parts[i];

		CHECK(a, move(r->start, r->end - r->start, r->start + delta), "mremap vdso", r->start + delta);
	}
}

static void move_vmas(struct restorer_args *a)
{
	uint32_t i;
	int bit;

	for (i = 0; i < a->nr_vmas; i++) {
		struct rst_vma *v = &a->vmas[i];
		uint64_t len = v->end - v->start;

		CHECK(a, move(v->premap, len, v->start), "mremap", v->start);
	}
	for (i = 0; i < a->nr_vmas; i++) {
		struct rst_vma *v = &a->vmas[i];
		uint64_t len = v->end - v->start;

		CHECK(a, sysraw3(__NR_mprotect, v->start, len, v->prot), "mprotect", v->start);
		for (bit = 0; bit < 64; bit++)
			if (v->madv & (1ull << bit))
				CHECK(a, sysraw3(__NR_madvise, v->start, len, bit), "madvise", v->start);
		/* MAP_LOCKED is an mmap flag the premap could not take (the
		 * pages are only filled after the mmap): lock it in place. */
		if (v->flags & MAP_LOCKED)
			CHECK(a, sysraw3(__NR_mlock, v->start, len, 0), "mlock", v->start);
	}
}

static void restore_mm(struct restorer_args *a)
{
	a->mm_map.auxv = (uint64_t)a->auxv;
	CHECK(a, sysraw6(__NR_prctl, PR_SET_MM, PR_SET_MM_MAP, (long)&a->mm_map,
			 sizeof(a->mm_map), 0, 0), "prctl(PR_SET_MM_MAP)", a->mm_map.start_code);
	sysraw3(__NR_close, a->mm_map.exe_fd, 0, 0);
}

static void restore_thread(struct restorer_args *a, struct rst_thread *th)
{
	sysraw3(__NR_set_tid_address, th->clear_tid_addr, 0, 0);
	if (th->robust_list)
		CHECK(a, sysraw3(__NR_set_robust_list, th->robust_list, th->robust_len, 0),
		      "set_robust_list", th->robust_list);
	CHECK(a, sysraw3(__NR_arch_prctl, ARCH_SET_FS, th->fs_base, 0), "arch_prctl(ARCH_SET_FS)", th->fs_base);
	CHECK(a, sysraw3(__NR_arch_prctl, ARCH_SET_GS, th->gs_base, 0), "arch_prctl(ARCH_SET_GS)", th->gs_base);
	CHECK(a, sysraw6(__NR_prctl, PR_SET_NAME, (long)th->comm, 0, 0, 0, 0), "prctl(PR_SET_NAME)", 0);
	/* Nice, policy and the parent-death signal belong to the thread (a
	 * clone inherits its creator's, hence each thread sets its own), and
	 * go before RESTORE_CREDS: a nice below the current one or a realtime
	 * policy need CAP_SYS_NICE, which the dumped creds may not hold. */
	if (th->has_sched) {
		int prio = th->sched_prio;

		CHECK(a, sysraw3(__NR_setpriority, 0 /* PRIO_PROCESS */, 0, th->sched_nice),
		      "setpriority", th->sched_nice);
		CHECK(a, sysraw3(__NR_sched_setscheduler, 0, th->sched_policy, (long)&prio),
		      "sched_setscheduler", th->sched_policy);
	}
	if (th->pdeath_sig)
		CHECK(a, sysraw3(__NR_prctl, PR_SET_PDEATHSIG, th->pdeath_sig, 0), "prctl(PR_SET_PDEATHSIG)",
		      th->pdeath_sig);
}

/* timers.c's steps: what failed, and which timer or filter. */
#define CHECK_STEP(a, call)						\
	do {								\
		const char *__what = "";				\
		int32_t __n = 0;					\
		long __r = (call);					\
		if (__r < 0)						\
			fail_at(a, __what, " ", (uint64_t)(int64_t)__n, 0, __r); \
	} while (0)

static int cap_in(const uint32_t *set, int cap)
{
	return !!(set[cap / 32] & (1u << (cap % 32)));
}

static long capset2(const uint32_t *eff, const uint32_t *prm, const uint32_t *inh)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	int i;

	for (i = 0; i < 2; i++) {
		data[i].effective = eff[i];
		data[i].permitted = prm[i];
		data[i].inheritable = inh[i];
	}
	return sysraw3(__NR_capset, (long)&hdr, (long)data, 0);
}

/* RESTORE_CREDS, per thread (credentials are per thread at the syscall
 * level; raw syscalls change only the caller's).  The thread starts as
 * crstep's root with every capability; each step needs one it may be about
 * to lose, hence the order (CRIU's restore_creds() has the same facts):
 *  1. the bounding set, while CAP_SETPCAP is effective: a task that kept
 *     one capability as uid 1000 has lost CAP_SETPCAP once its caps are
 *     back, and the drop is refused (EPERM);
 *  2. the supplementary groups (CAP_SETGID);
 *  3. the ids with SECBIT_NO_SETUID_FIXUP set: leaving uid 0 empties the
 *     effective set otherwise (KEEP_CAPS keeps only the permitted one),
 *     and the steps below still need CAP_SETGID and CAP_SETPCAP; gids
 *     before uids, the fs ids last (setres*id resets them);
 *  4. the inheritable set and the ambient set: raising an ambient cap
 *     needs it permitted and inheritable now, and is refused once the
 *     dumped securebits have SECBIT_NO_CAP_AMBIENT_RAISE;
 *  5. the dumped securebits (CAP_SETPCAP still effective);
 *  6. the effective and permitted sets: from here on the thread holds
 *     only what it held at dump (the ambient set survives: it is a subset
 *     of permitted and inheritable);
 *  7. no_new_privs, which cannot be undone. */
static void restore_creds(struct restorer_args *a, struct rst_creds *c)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct now[2];
	uint32_t eff[2], prm[2];
	long secbits;
	int i;

	for (i = 0; i <= c->last_cap; i++)
		if (!cap_in(c->cap_bnd, i))
			CHECK_N(a, sysraw3(__NR_prctl, PR_CAPBSET_DROP, i, 0), "prctl(PR_CAPBSET_DROP)", " cap ", i);
	CHECK(a, sysraw3(__NR_setgroups, c->nr_groups, (long)c->groups, 0), "setgroups", 0);

	secbits = sysraw3(__NR_prctl, PR_GET_SECUREBITS, 0, 0);
	CHECK(a, secbits, "prctl(PR_GET_SECUREBITS)", 0);
	CHECK(a, sysraw3(__NR_prctl, PR_SET_SECUREBITS, secbits | SECBIT_NO_SETUID_FIXUP, 0),
	      "prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP)", 0);
	CHECK(a, sysraw3(__NR_setresgid, c->gid, c->egid, c->sgid), "setresgid", 0);
	sysraw3(__NR_setfsgid, c->fsgid, 0, 0);
	if ((uint32_t)sysraw3(__NR_setfsgid, -1, 0, 0) != c->fsgid)
		fail_at(a, "setfsgid", " id ", c->fsgid, 0, -1 /* EPERM */);
	CHECK(a, sysraw3(__NR_setresuid, c->uid, c->euid, c->suid), "setresuid", 0);
	sysraw3(__NR_setfsuid, c->fsuid, 0, 0);
	if ((uint32_t)sysraw3(__NR_setfsuid, -1, 0, 0) != c->fsuid)
		fail_at(a, "setfsuid", " id ", c->fsuid, 0, -1 /* EPERM */);

	CHECK(a, sysraw3(__NR_capget, (long)&hdr, (long)now, 0), "capget", 0);
	for (i = 0; i < 2; i++) {
		eff[i] = now[i].effective;
		prm[i] = now[i].permitted;
	}
	CHECK(a, capset2(eff, prm, c->cap_inh), "capset of the inheritable set", 0);
	CHECK(a, sysraw6(__NR_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0),
	      "prctl(PR_CAP_AMBIENT_CLEAR_ALL)", 0);
	for (i = 0; i <= c->last_cap; i++)
		if (cap_in(c->cap_amb, i))
			CHECK_N(a, sysraw6(__NR_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0, 0),
				"prctl(PR_CAP_AMBIENT_RAISE)", " cap ", i);
	CHECK(a, sysraw3(__NR_prctl, PR_SET_SECUREBITS, c->secbits, 0), "prctl(PR_SET_SECUREBITS)", 0);
	CHECK(a, capset2(c->cap_eff, c->cap_prm, c->cap_inh), "capset", 0);
	if (c->no_new_privs)
		CHECK(a, sysraw6(__NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)", 0);
}

/* Pending signals go back exactly as they were queued: rt_sigqueueinfo to
 * the process for the shared ones (by the leader), rt_tgsigqueueinfo by each
 * thread to itself for its own (both allowed for any si_code when sent to
 * oneself). */
static void queue_signals(struct restorer_args *a, struct rst_thread *th, int leader)
{
	long tgid = sysraw3(__NR_getpid, 0, 0, 0), tid = sysraw3(__NR_gettid, 0, 0, 0);
	uint32_t i;

	for (i = 0; i < a->nr_siginfo; i++) {
		struct rst_siginfo *si = &a->siginfo[i];
		int sig = *(int *)si->info;

		if (si->shared && leader)
			CHECK(a, sysraw3(__NR_rt_sigqueueinfo, tgid, sig, (long)si->info),
			      "rt_sigqueueinfo", sig);
		else if (!si->shared && si->tid == th->tid)
			CHECK(a, sysraw6(__NR_rt_tgsigqueueinfo, tgid, tid, sig, (long)si->info, 0, 0),
			      "rt_tgsigqueueinfo", sig);
	}
}

/* The last stages, run by every thread inside the blob: each returns the
 * next stage; a negative one (the restore failed) ends the task. */
static int finish(struct restorer_args *a, struct rst_thread *th, int stage)
{
	int next = task_finish_stage(a->te, stage, th->slot);

	if (next < 0)
		fail(a, "restore aborted while waiting", 0, -125 /* ECANCELED */);
	return next;
}

static void last_stages(struct restorer_args *a, struct rst_thread *th, int leader)
{
	int stage = finish(a, th, CR_STATE_RESTORE);

	if (stage == CR_STATE_RESTORE_SIGCHLD) {
		/* The helpers this task forked exit once RESTORE is over (CRIU's
		 * wait_helpers()). */
		for (uint32_t i = 0; leader && i < a->nr_helpers; i++)
			CHECK_N(a, sysraw6(__NR_wait4, a->helpers[i], 0, 0x40000000 /* __WALL */, 0, 0, 0),
				"wait4 of helper", " ", a->helpers[i]);
		if (leader)
			CHECK(a, sysraw6(__NR_rt_sigaction, 17 /* SIGCHLD */, (long)&a->sigchld, 0, 8, 0, 0),
			      "rt_sigaction(SIGCHLD)", 0);
		queue_signals(a, th, leader);
		stage = finish(a, th, CR_STATE_RESTORE_SIGCHLD);
	}
	if (stage == CR_STATE_RESTORE_CREDS) {
		/* Credentials are per thread at the syscall level.  Seccomp
		 * first, while the thread may still install a filter (see
		 * timers.c). */
		CHECK_STEP(a, pie_restore_seccomp(th, &__what, &__n));
		restore_creds(a, &th->creds);
		stage = finish(a, th, CR_STATE_RESTORE_CREDS);
	}
	if (stage != CR_STATE_COMPLETE)
		fail(a, "unexpected stage after RESTORE", stage, -22);
}

/* The final jump: rsp at the frame, rt_sigreturn.  restorer_sigreturn is
 * also the `syscall` instruction the controller borrows to unmap the blob. */
__attribute__((noreturn)) static void sigreturn(uint64_t rsp)
{
	__asm__ volatile("movq %0, %%rsp\n\t"
			 "movl $15, %%eax\n\t"
			 ".globl restorer_sigreturn\n"
			 "restorer_sigreturn:\n\t"
			 "syscall\n\t"
			 "hlt"
			 : : "r"(rsp) : "memory");
	__builtin_unreachable();
}

/* The end of every thread: rseq last (the kernel writes cpu ids into the
 * dumped area from the next reschedule on, and nothing of the blob uses
 * it), then the jump.  The shared area and the bootstrap area are unmapped
 * by the controller after rt_sigreturn. */
static __attribute__((noreturn)) void finish_thread(struct restorer_args *a, struct rst_thread *th)
{
	if (th->rseq_ptr)
		CHECK(a, sysraw6(__NR_rseq, th->rseq_ptr, th->rseq_len, 0, th->rseq_sig, 0, 0),
		      "rseq", th->rseq_ptr);
	sigreturn(th->sigframe_rsp);
}

/* A cloned thread starts here, on its own bootstrap stack. */
static __attribute__((noreturn, used)) void restorer_thread(struct restorer_args *a, uint64_t idx)
{
	struct rst_thread *th = &a->threads[idx];

	restore_thread(a, th);
	last_stages(a, th, 0);
	finish_thread(a, th);
}

/* clone3 on a new stack: the child calls fn(arg0, arg1) there and never
 * returns; the parent gets the tid (or -errno). */
long pie_clone3(struct clone_args *ca, long size, void *fn, void *arg0, long arg1);
__asm__(".text\n"
	"pie_clone3:\n\t"
	"pushq %r12\n\t"
	"pushq %r13\n\t"
	"pushq %r14\n\t"
	"movq %rdx, %r12\n\t"
	"movq %rcx, %r13\n\t"
	"movq %r8, %r14\n\t"
	"movl $435, %eax\n\t"		/* __NR_clone3 */
	"syscall\n\t"
	"testq %rax, %rax\n\t"
	"jz 1f\n\t"
	"popq %r14\n\t"
	"popq %r13\n\t"
	"popq %r12\n\t"
	"ret\n"
	"1:\n\t"
	"xorl %ebp, %ebp\n\t"
	"movq %r13, %rdi\n\t"
	"movq %r14, %rsi\n\t"
	"callq *%r12\n\t"
	"hlt\n");

/* The other threads, with their dumped tids (CRIU clones them in the blob
 * too, under last_pid_mutex; clone3 set_tid needs no lock). */
static void clone_threads(struct restorer_args *a)
{
	uint32_t i;

	for (i = 1; i < a->nr_threads; i++) {
		struct rst_thread *th = &a->threads[i];
		struct clone_args ca;
		uint64_t tid = (uint64_t)th->tid;
		long ret;
		char *p = (char *)&ca;
		uint32_t k;

		for (k = 0; k < sizeof(ca); k++)
			p[k] = 0;
		ca.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
		ca.stack = th->stack_top - RST_THREAD_STACK;
		ca.stack_size = RST_THREAD_STACK;
		ca.set_tid = (uint64_t)&tid;
		ca.set_tid_size = 1;
		ret = pie_clone3(&ca, sizeof(ca), (void *)restorer_thread, a, i);
		CHECK(a, ret, "clone3 of a thread", th->tid);
	}
}

__attribute__((section(".text.entry"), used, visibility("default")))
void restorer_entry(struct restorer_args *a)
{
	unmap_crstep(a);
	move_vdso(a);
	move_vmas(a);
	/* What is left of the premap reservation (its guard page). */
	sysraw3(__NR_munmap, a->premap_start, a->premap_end - a->premap_start, 0);
	restore_mm(a);
	clone_threads(a);
	CHECK_STEP(a, pie_create_timers(a, &__what, &__n));
	restore_thread(a, &a->threads[0]);
	last_stages(a, &a->threads[0], 1);
	CHECK_STEP(a, pie_arm_timers(a, &__what, &__n));
	finish_thread(a, &a->threads[0]);
}
