/* restorer.h: what the task hands to the restorer blob (restore/pie/).
 *
 * The task (ordinary C, still inside crstep's address space) premaps the
 * dumped private VMAs into one reserved area, builds the sigframe, fills a
 * struct restorer_args in the bootstrap area and jumps into the blob.  The
 * blob (freestanding, no libc) unmaps crstep, moves the VMAs and the vDSO
 * into place, restores the per-thread state, runs the last barriers and
 * ends in rt_sigreturn.  Everything here is plain data: no pointers into
 * crstep's memory survive the unmap except those into the kept areas. */
#ifndef CRSTEP_RESTORER_H
#define CRSTEP_RESTORER_H

#include <stdint.h>

#define RST_MAX_KEEP		8
#define RST_MAX_VDSO_PARTS	4
#define RST_STACK_SIZE		(64 << 10)
#define RST_AUXV_WORDS		(2 * 64)
#define RST_ERR_LEN		160
#define RST_MAX_THREADS		64
#define RST_THREAD_STACK	(32 << 10)
#define RST_MAX_HELPERS		16

struct rst_range {
	uint64_t start, end;
};

struct rst_vma {
	uint64_t start, end;	/* the dumped (final) place */
	uint64_t premap;	/* where it waits in the premap area */
	uint32_t prot;		/* the dumped protection */
	uint32_t flags;
	uint64_t madv;		/* bit n set: madvise(MADV n) */
};

/* The kernel's struct prctl_mm_map (PR_SET_MM_MAP). */
struct rst_mm_map {
	uint64_t start_code, end_code, start_data, end_data;
	uint64_t start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	uint64_t auxv;		/* pointer to auxv words */
	uint32_t auxv_size;	/* bytes */
	uint32_t exe_fd;
};

struct rst_creds {
	uint32_t uid, gid, euid, egid, suid, sgid, fsuid, fsgid;
	uint32_t cap_inh[2], cap_prm[2], cap_eff[2], cap_bnd[2], cap_amb[2];
	uint32_t secbits;
	uint32_t no_new_privs;
	uint32_t nr_groups;
	uint32_t groups[64];
	int32_t last_cap;	/* highest capability this kernel knows */
};

/* The kernel's struct sigaction for rt_sigaction. */
struct rst_sigaction {
	uint64_t handler, flags, restorer, mask;
};

struct rst_itimer {
	uint64_t interval_sec, interval_usec, value_sec, value_usec;
};

/* A POSIX timer: what timer_create() takes (the id the task's code holds,
 * its clock, its struct sigevent) and, for timer_settime(), the kernel's
 * struct __kernel_itimerspec (interval, then the time left at the dump). */
struct rst_posix_timer {
	int32_t id;
	int32_t clock_id;
	int32_t signo, notify;	/* sigev_signo, sigev_notify */
	int32_t notify_tid;	/* SIGEV_THREAD_ID: the image tid it signals */
	int32_t pad;
	uint64_t sival;		/* sigev_value */
	int64_t spec[4];	/* it_interval sec, nsec; it_value sec, nsec */
};

/* One seccomp filter of a thread's chain: the classic BPF program, in the
 * bootstrap area, and the flags it is installed with (TSYNC when the
 * threads of the process share the chain, as CRIU's dump decided). */
struct rst_seccomp_filter {
	uint32_t flags;
	uint32_t len;		/* instructions (struct sock_filter, 8 bytes each) */
	uint64_t insns;		/* their address */
};

struct restorer_args {
	/* The areas that survive the unmap of crstep, sorted by start. */
	uint32_t nr_keep;
	struct rst_range keep[RST_MAX_KEEP];

	/* The runtime [vvar], [vvar_vclock] and [vdso], each moved by the
	 * same offset (the kernel requires it) to the dumped place; tmp is a
	 * free range as large as the span, used when the move overlaps. */
	uint32_t nr_vdso_parts;
	struct rst_range vdso_parts[RST_MAX_VDSO_PARTS];
	int64_t vdso_delta;
	uint64_t vdso_tmp;

	/* As many as the image has: the array follows these args in the
	 * bootstrap area, which the controller sizes from mm-N.img (the blob
	 * has no allocator, and no limit of its own). */
	uint32_t nr_vmas;
	struct rst_vma *vmas;

	struct rst_mm_map mm_map;
	uint64_t auxv[RST_AUXV_WORDS];
	char comm[16];
	/* The premap reservation, unmapped once its VMAs have moved out. */
	uint64_t premap_start, premap_end;

	/* threads[0] is the leader, running restorer_entry; the others are
	 * cloned with their dumped tids and run restorer_thread. */
	uint32_t nr_threads;
	struct rst_thread {
		int32_t tid;		/* image tid */
		int32_t slot;		/* its barrier slot */
		int32_t role;		/* ROLE_ROOT/ROLE_TASK for the leader, else ROLE_THREAD */
		/* State rt_sigreturn does not restore. */
		uint64_t clear_tid_addr, robust_list, robust_len;
		uint64_t fs_base, gs_base;
		uint64_t rseq_ptr;	/* 0: none */
		uint32_t rseq_len, rseq_sig;
		uint64_t sigframe_rsp;	/* rsp for the final rt_sigreturn */
		uint64_t stack_top;	/* its bootstrap stack (threads other than 0) */
		char comm[16];
		/* Per thread in the kernel, so set by each thread itself. */
		uint32_t has_sched;	/* the image has sched_policy/prio/nice */
		uint32_t sched_policy;	/* with SCHED_RESET_ON_FORK if it was set */
		int32_t sched_prio, sched_nice;
		uint32_t pdeath_sig;	/* 0: none */
		struct rst_creds creds;
		/* SECCOMP_MODE_*; in filter mode the chain, oldest first. */
		uint32_t seccomp_mode, nr_seccomp;
		struct rst_seccomp_filter *seccomp;
	} threads[RST_MAX_THREADS];

	struct rst_sigaction sigchld;	/* restored in RESTORE_SIGCHLD */
	/* Pending signals, queued again in RESTORE_SIGCHLD while everything
	 * is blocked; the final mask comes with rt_sigreturn.  Every queue of
	 * every thread, however long (a real-time signal is queued once per
	 * send): the array sits at the end of the bootstrap area, sized for
	 * the images, in the order the kernel keeps them — each thread's
	 * private queue, then the process-wide one. */
	uint32_t nr_siginfo;
	struct rst_siginfo {
		uint32_t shared;	/* process-directed (tc.signals_s) */
		int32_t tid;		/* thread-directed: to this image tid */
		uint8_t info[128];	/* the raw siginfo_t */
	} *siginfo;
	struct rst_itimer itimers[3];	/* real, virtual, prof */
	/* Helper tasks this task forked (pids), reaped at RESTORE_SIGCHLD. */
	uint32_t nr_helpers;
	int32_t helpers[RST_MAX_HELPERS];
	/* Sorted by id, after the pending signals in the bootstrap area. */
	uint32_t nr_posix_timers;
	struct rst_posix_timer *posix_timers;

	/* The barrier. */
	struct task_entries *te;
	int32_t pid;		/* the task's own (image) pid */

	/* Where the blob reports a failure before it aborts the restore; the
	 * controller reads it from the shared area.  *err_stage is
	 * RST_STAGE_UNSET until the first failing thread claims the report
	 * (its stage, then its text): threads of one process may fail at
	 * once, and one line is reported. */
	char *err;
	int32_t *err_stage;
};

#define RST_STAGE_UNSET (-2)

/* The blob's entry: called on the bootstrap stack with rdi = args. */
void restorer_entry(struct restorer_args *args);

/* Inside the blob (restore/pie/timers.c): POSIX timers, itimers, seccomp.
 * Each returns 0 or -errno and names what failed in *what, and which timer
 * or filter in *n, for restorer.c's report. */
long pie_create_timers(struct restorer_args *a, const char **what, int32_t *n);
long pie_arm_timers(struct restorer_args *a, const char **what, int32_t *n);
long pie_restore_seccomp(struct rst_thread *th, const char **what, int32_t *n);

#endif
