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
 *     protection and madvise bits;
 *  4. PR_SET_MM_MAP (exe file, code/data/brk/stack/args/env/auxv): only now,
 *     because the kernel refuses a new exe while crstep's is still mapped;
 *  5. per-thread state rt_sigreturn does not restore: tid address, robust
 *     list, fs/gs base, rseq, comm;
 *  6. the last barriers: finish RESTORE, SIGCHLD's action in RESTORE_SIGCHLD,
 *     creds in RESTORE_CREDS, then wait for COMPLETE;
 *  7. rt_sigreturn into the dumped registers.  The controller catches that
 *     syscall's exit with ptrace and unmaps this blob. */
#include <stdint.h>
#include <stddef.h>
#include <asm/unistd.h>
#include <linux/mman.h>
#include <linux/prctl.h>
#include <linux/capability.h>
#include <asm/prctl.h>

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

static __attribute__((noreturn)) void fail(struct restorer_args *a, const char *what,
					   uint64_t addr, long ret)
{
	char *p = a->err, *end = a->err + RST_ERR_LEN - 1;

	if (p) {
		put_str(&p, end, "restorer: ");
		put_str(&p, end, what);
		if (addr) {
			put_str(&p, end, " at ");
			put_hex(&p, end, addr);
		}
		put_str(&p, end, " failed: errno ");
		put_dec(&p, end, -ret);
		*p = 0;
	}
	barrier_abort(a->te, a->pid, (enum task_role)a->role, (int)-ret);
	for (;;)
		sysraw3(__NR_exit_group, 1, 0, 0);
}

#define CHECK(a, expr, what, addr)				\
	do {							\
		long __r = (long)(expr);			\
		if (__r < 0 && __r > -4096)			\
			fail(a, what, (uint64_t)(addr), __r);	\
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
	}
}

static void restore_mm(struct restorer_args *a)
{
	a->mm_map.auxv = (uint64_t)a->auxv;
	CHECK(a, sysraw6(__NR_prctl, PR_SET_MM, PR_SET_MM_MAP, (long)&a->mm_map,
			 sizeof(a->mm_map), 0, 0), "prctl(PR_SET_MM_MAP)", a->mm_map.start_code);
	sysraw3(__NR_close, a->mm_map.exe_fd, 0, 0);
}

static void restore_thread(struct restorer_args *a)
{
	sysraw3(__NR_set_tid_address, a->clear_tid_addr, 0, 0);
	if (a->robust_list)
		CHECK(a, sysraw3(__NR_set_robust_list, a->robust_list, a->robust_len, 0),
		      "set_robust_list", a->robust_list);
	CHECK(a, sysraw3(__NR_arch_prctl, ARCH_SET_FS, a->fs_base, 0), "arch_prctl(ARCH_SET_FS)", a->fs_base);
	CHECK(a, sysraw3(__NR_arch_prctl, ARCH_SET_GS, a->gs_base, 0), "arch_prctl(ARCH_SET_GS)", a->gs_base);
	CHECK(a, sysraw6(__NR_prctl, PR_SET_NAME, (long)a->comm, 0, 0, 0, 0), "prctl(PR_SET_NAME)", 0);
}

static void restore_itimers(struct restorer_args *a)
{
	int which;

	for (which = 0; which < 3; which++) {
		struct rst_itimer *t = &a->itimers[which];

		if (t->interval_sec | t->interval_usec | t->value_sec | t->value_usec)
			CHECK(a, sysraw3(__NR_setitimer, which, (long)t, 0), "setitimer", 0);
	}
}

/* RESTORE_CREDS, CRIU's restore_creds(): groups and ids first while the
 * capabilities still allow it, then the securebits with KEEP_CAPS held, the
 * bounding set, and the capability sets last. */
static void restore_creds(struct restorer_args *a)
{
	struct rst_creds *c = &a->creds;
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	int i;

	CHECK(a, sysraw3(__NR_setgroups, c->nr_groups, (long)c->groups, 0), "setgroups", 0);
	CHECK(a, sysraw3(__NR_prctl, PR_SET_KEEPCAPS, 1, 0), "prctl(PR_SET_KEEPCAPS)", 0);
	CHECK(a, sysraw3(__NR_setresgid, c->gid, c->egid, c->sgid), "setresgid", 0);
	sysraw3(__NR_setfsgid, c->fsgid, 0, 0);
	CHECK(a, sysraw3(__NR_setresuid, c->uid, c->euid, c->suid), "setresuid", 0);
	sysraw3(__NR_setfsuid, c->fsuid, 0, 0);
	for (i = 0; i <= c->last_cap; i++)
		if (!(c->cap_bnd[i / 32] & (1u << (i % 32))))
			CHECK(a, sysraw3(__NR_prctl, PR_CAPBSET_DROP, i, 0), "prctl(PR_CAPBSET_DROP)", i);
	CHECK(a, sysraw3(__NR_prctl, PR_SET_SECUREBITS, c->secbits, 0), "prctl(PR_SET_SECUREBITS)", 0);
	for (i = 0; i < 2; i++) {
		data[i].effective = c->cap_eff[i];
		data[i].permitted = c->cap_prm[i];
		data[i].inheritable = c->cap_inh[i];
	}
	CHECK(a, sysraw3(__NR_capset, (long)&hdr, (long)data, 0), "capset", 0);
	sysraw6(__NR_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0);
	for (i = 0; i <= c->last_cap; i++)
		if (c->cap_amb[i / 32] & (1u << (i % 32)))
			CHECK(a, sysraw6(__NR_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0, 0),
			      "prctl(PR_CAP_AMBIENT_RAISE)", i);
}

/* The last stages, run by the task itself inside the blob: each returns
 * the next stage, negative when the restore failed. */
static int finish(struct restorer_args *a, int stage)
{
	int next = task_finish_stage(a->te, stage, a->slot);

	if (next < 0)
		fail(a, "restore aborted while waiting", 0, -125 /* ECANCELED */);
	return next;
}

static void last_stages(struct restorer_args *a)
{
	int stage = finish(a, CR_STATE_RESTORE);

	if (stage == CR_STATE_RESTORE_SIGCHLD) {
		CHECK(a, sysraw6(__NR_rt_sigaction, 17 /* SIGCHLD */, (long)&a->sigchld, 0, 8, 0, 0),
		      "rt_sigaction(SIGCHLD)", 0);
		stage = finish(a, CR_STATE_RESTORE_SIGCHLD);
	}
	if (stage == CR_STATE_RESTORE_CREDS) {
		restore_creds(a);
		stage = finish(a, CR_STATE_RESTORE_CREDS);
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

__attribute__((section(".text.entry"), used, visibility("default")))
void restorer_entry(struct restorer_args *a)
{
	uint64_t shared = (uint64_t)a->te;

	unmap_crstep(a);
	move_vdso(a);
	move_vmas(a);
	restore_mm(a);
	restore_thread(a);
	restore_itimers(a);
	last_stages(a);

	/* rseq last: the kernel writes cpu ids into the dumped area from the
	 * next reschedule on, and nothing of the blob uses it. */
	if (a->rseq_ptr)
		CHECK(a, sysraw6(__NR_rseq, a->rseq_ptr, a->rseq_len, 0, a->rseq_sig, 0, 0),
		      "rseq", a->rseq_ptr);
	/* The shared area goes before the jump; the bootstrap area (this code,
	 * the frame) is unmapped by the controller after rt_sigreturn. */
	sysraw3(__NR_munmap, shared, (sizeof(struct task_entries) + 4095) & ~4095ull, 0);
	sigreturn(a->sigframe_rsp);
}
