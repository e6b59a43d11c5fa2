/* restore.h: the restore engine — the controller's part (restore.c), the
 * task's part (task.c) and the resources a task restores before it jumps
 * into the restorer blob (mem.c, files.c, creds.c). */
#ifndef CRSTEP_RESTORE_H
#define CRSTEP_RESTORE_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "barrier.h"
#include "image.h"
#include "restorer.h"

/* What the engine reports to whoever observes it (the stepper implements
 * this; ui/cmd_restore.c wires it).  The engine includes nothing of the
 * stepper or the front ends: it only knows these types and callbacks. */

/* Breakpoint slots in te->bps: the user's are 0..BARRIER_NR_BPS-2 (shown
 * to the user as 1..N); the last one is the stepper's own for step/next. */
#define STEPPER_BP_STEP (BARRIER_NR_BPS - 1)

enum stop_kind {
	STOP_START,		/* before the first switch: arm breakpoints now */
	STOP_BREAKPOINT,	/* a user breakpoint was hit */
	STOP_STEP,		/* step/next reached its event */
	STOP_COMPLETE,		/* the restore is complete (tasks detached or about to be) */
	STOP_FAILED,		/* the restore failed (tree already killed) */
	STOP_HANG,		/* the watchdog fired (issue "Hang diagnosis") */
};

struct stop_event {
	enum stop_kind kind;
	int bp;			/* te->bps index, -1 if none */
	int slot;		/* parked participant's slot; -1 for the controller */
	struct barrier_event ev;	/* HOLD event of the participant, or the
					   switch the controller is about to make
					   (type SWITCH, seq 0) */
};

enum resume_action {
	RESUME_CONTINUE,	/* release the stop, go on */
	RESUME_KILL,		/* abort the restore cleanly (exit 2) */
	RESUME_DETACH,		/* disarm everything, finish, leave the tree running */
	RESUME_QUIT,		/* kill if still restoring, then exit */
};

struct restore_ctx;

struct restore_observer {
	void *arg;
	/* At every stop; the answer says how to go on. */
	enum resume_action (*stop)(void *arg, struct restore_ctx *ctx, const struct stop_event *stop);
	/* While the controller waits for a barrier (every 100 ms or so): a
	 * live view redraws here.  Never on the participants' side. */
	void (*tick)(void *arg, struct restore_ctx *ctx);
};

struct restore_opts {
	const char *dir;
	int protocol;		/* enum proto_variant */
	int host_pidns;		/* --pidns=host */
	int detach;
	int batch;
	int stats;
	const char *pidfile;
	const char *trace;
	int trace_chrome;	/* --trace-format chrome (else JSON lines) */
	int cpu_cap_none;	/* --cpu-cap=none: skip the CPU feature check */
	int tcp_close;		/* --tcp-close: TCP connections come back closed */
	const struct restore_observer *observer;	/* NULL: no stops at all */
	unsigned watchdog_ms;	/* --watchdog: no progress for this long is a hang; 0 = off */
	unsigned timeout_ms;	/* --timeout: the whole restore; 0 = none */
	int keep;		/* --keep: leave a hung or failed tree stopped, not killed */
	uint32_t nr_faults;	/* --inject */
	struct restore_fault {
		int kind;	/* enum barrier_fault_kind */
		int stage;
		int32_t pid;	/* image pid/tid; 0 any; -1 the root */
		uint32_t ms;
	} faults[BARRIER_NR_FAULTS];
};

/* Per-task error text, next to the barrier in the shared area. */
struct task_report {
	int32_t pid;
	int32_t stage;
	char msg[RST_ERR_LEN];
};

/* What the controller shares with every task, sized by the tree: one
 * mapping at the same address in every task (inherited, and kept by the
 * restorer), so the arrays after the barrier are reached by pointers. */
struct shared_area {
	struct task_report *reports;	/* one per slot of te */
	/* Per pstree entry that owns a shared fd table: 1 once its fds are
	 * in place (a futex the tasks sharing the table wait on). */
	int32_t *fdt_done;
	/* Per helper: 1 once its group exists (a futex its members wait on). */
	int32_t pgrp_set[RST_MAX_HELPERS];
	size_t size;		/* of the whole mapping */
	int32_t detach_ack;	/* the reaper let go of crstep (--detach) */
	struct task_entries te;	/* last: its slots[] grow with the tree */
};

/* The task's view of the restore, set up by the controller before it forks. */
struct restore_ctx {
	const struct restore_opts *opts;
	struct img_set *set;
	struct shared_area *shared;
	const struct protocol *proto;
	pid_t controller_pid;
	/* Per pstree entry (nr_tasks of each: restore_ctx_alloc()). */
	int *slots;		/* slot index of each pstree entry */
	int *thread_slots;	/* slot of its thread 1; the others follow */
	/* CRIU's helper tasks, one per group whose leader is gone (helper.c). */
	uint32_t nr_helpers;
	struct restore_helper {
		uint32_t pgid;		/* its pid and its group */
		size_t owner;		/* the pstree entry that forks it */
		int slot;
	} helpers[RST_MAX_HELPERS];
	pid_t tree_pid;		/* crstep's child: the reaper or the root */
	int sfd_top, sfd_nr;	/* the service fds: [sfd_top - sfd_nr, sfd_top) */
	size_t nr_pipes;
	struct restore_pipe {
		uint32_t pipe_id;
		int fds[2];	/* service fds, inherited by all */
		int taken[2];	/* the end is a file id's description */
	} *pipes;
	size_t nr_files;
	struct restore_file {
		uint32_t id;	/* files.img id */
		int fd;		/* service fd: the open file description itself */
	} *files;
	/* Per pstree entry: its fd table's owner (the pstree index of the
	 * first task with its files_id, which restores the fds) and its own
	 * rank among the tasks sharing the table (0 for the owner). */
	int *fdt_owner;
	int *fdt_rank;
	int fdt_max;		/* the most tasks sharing one fd table */
	size_t nr_shmems;
	struct restore_shmem {
		uint64_t shmid;		/* memfd inode_id, or 1<<63 | anon shmid */
		uint64_t dump_shmid;
		int fd;
	} *shmems;
	size_t nr_remaps;
	struct restore_remap {
		uint32_t file_id;	/* a file open by a name it had lost */
		int fd;			/* O_PATH on its dentry: a service fd, inherited by all */
	} *remaps;
	size_t nr_tcp_repairs;
	struct tcp_repair {
		const InetSkEntry *ie;	/* a TCP connection restored in repair mode */
		int fd;			/* the controller's own copy, until inet_unlock() */
	} *tcp_repairs;
};

/* Pipes are made by the controller before the tree exists, and so are the
 * open file descriptions several tasks share (every pipe file id, and any
 * file id in more than one fd table): every task inherits them as service
 * fds and dup's the ones its fdinfo names (CRIU opens each in one task,
 * its file master, and passes it to the others over unix sockets). */

/* Service fds: what crstep itself holds in a task while it restores (the
 * log, the exe for PR_SET_MM_MAP, the pipes and shared memory every task
 * inherits).  They sit at fixed numbers at the top of the fd table the
 * kernel allocates anyway, above every fd of every task in the images, so
 * no restored fd can land on one (CRIU's service fds). */
enum service_fd {
	SFD_LOG,	/* the tasks' warnings: a memfd the controller copies to stderr */
	SFD_EXE,	/* a task's exe, for PR_SET_MM_MAP */
	SFD_PER_TASK,	/* the two above, once per task sharing an fd table;
			   then the pipes, shared files and shared memory */
};
static inline int service_fd(const struct restore_ctx *ctx, int slot)
{
	return ctx->sfd_top - 1 - slot;
}
/* A task's own log or exe slot: tasks that share one fd table (CLONE_FILES)
 * each have their pair, so that none closes another's. */
static inline int task_service_fd(const struct restore_ctx *ctx, const struct img_task *t, int slot)
{
	return service_fd(ctx, slot + SFD_PER_TASK * ctx->fdt_rank[t - ctx->set->tasks]);
}

/* Fill te->slots[].host_pid from /proc: the restored tasks as crstep sees
 * them (their pids differ inside a new pid namespace). */
void restore_refresh_host_pids(struct restore_ctx *ctx);

/* The restore, for real: EXIT_OK, EXIT_FAIL (it failed, or the observer
 * ended it), EXIT_HANG.  The observer's own verdict is its to add
 * (stepper_exit_code()). */
int restore_run(const struct restore_opts *opts);

/* fork() with a chosen pid in the caller's pid namespace (clone3 set_tid);
 * flags: CLONE_FILES for a child that shares its parent's fd table. */
pid_t restore_clone(pid_t want, uint64_t flags);

/* task.c: the root task's life from clone to the restorer.  Never returns. */
__attribute__((noreturn)) void task_main(struct restore_ctx *ctx, struct img_task *t);

/* Report a failure of the task into the shared area and abort the restore.
 * Never returns. */
__attribute__((noreturn, format(printf, 3, 4)))
void task_fail(struct restore_ctx *ctx, struct img_task *t, const char *fmt, ...);

/* mem.c */
struct premap {
	uint64_t start, end;		/* the reservation */
	uint64_t *premap_of;		/* per VMA: its premapped address, 0 if none */
	uint32_t nr_premapped;		/* how many: the blob's rst_vma array */
	uint64_t boot_start, boot_end;	/* the bootstrap area: blob, args, VMAs, stacks, frames */
	uint64_t boot_stack_top;	/* the leader's bootstrap stack */
	struct restorer_args *args;
	struct rst_range vdso;		/* the runtime [vdso] */
	uint32_t nr_vdso_parts;		/* runtime [vvar] [vvar_vclock] [vdso] */
	struct rst_range vdso_parts[RST_MAX_VDSO_PARTS];
	int64_t vdso_delta;
};
int mem_premap(struct restore_ctx *ctx, struct img_task *t, struct premap *pm);
int mem_prepare_args(struct restore_ctx *ctx, struct img_task *t, struct premap *pm, int exe_fd);
__attribute__((noreturn)) void mem_jump(struct premap *pm);

/* files.c */
int fdt_prepare(struct restore_ctx *ctx);
int files_prepare(struct restore_ctx *ctx);
void files_close(struct restore_ctx *ctx);
int files_restore(struct restore_ctx *ctx, struct img_task *t);
int files_wait_shared(struct restore_ctx *ctx, struct img_task *t);
int locks_restore(struct restore_ctx *ctx, struct img_task *t);
int fs_restore(struct restore_ctx *ctx, struct img_task *t);
int fs_enter_removed_cwd(struct restore_ctx *ctx, struct img_task *t);
int reg_file_open(const struct restore_ctx *ctx, const RegFileEntry *reg, int check_size);
int pipes_prepare(struct restore_ctx *ctx);
int service_fds_setup(struct restore_ctx *ctx);
int service_fd_install(const struct restore_ctx *ctx, int fd, int slot);
void task_fds_close_foreign(const struct restore_ctx *ctx);
void service_log_forward(const struct restore_ctx *ctx, off_t *done);
void pipes_close(struct restore_ctx *ctx);
int reg_file_open_flags(const struct restore_ctx *ctx, const RegFileEntry *reg, int flags, int check_size);

/* sk-unix.c: unix sockets, made by the controller (files_prepare()). */
int unixsk_check(const struct img_set *set);
int unixsk_shared_ids(const struct img_set *set, int (*add)(struct restore_ctx *, uint32_t),
		      struct restore_ctx *ctx);
int unixsk_prepare(struct restore_ctx *ctx);

/* remap.c: files open by a name they had lost (ghosts, link remaps). */
int remap_features_check(const struct img_set *set);
int remap_prepare(struct restore_ctx *ctx);
void remap_close(struct restore_ctx *ctx);
const char *remap_path(const struct restore_ctx *ctx, const RegFileEntry *reg, char *buf, size_t len);
void remap_cleanup_links(const struct restore_ctx *ctx);

/* sk-inet.c, sk-tcp.c: inet sockets, made by the controller (files.c);
 * TCP connections leave repair mode in inet_unlock(), before
 * RESTORE_CREDS. */
int inetsk_open(struct restore_ctx *ctx, const FileEntry *fe);
int inetsk_opened(struct restore_ctx *ctx);
int inetsk_features_check(const struct img_set *set, const FileEntry *fe, const char *where);
int inet_unlock(struct restore_ctx *ctx);
void inet_close(struct restore_ctx *ctx);
/* fdkinds.c: FIFOs, eventfd, signalfd, timerfd, eventpoll, pidfd, inotify
 * and fanotify, opened through files.c. */
int fdkind_restored(int type);
int fdkind_by_controller(const FileEntry *fe);
int fdkind_open(struct restore_ctx *ctx, const FileEntry *fe);
const FownEntry *fdkind_fown(const FileEntry *fe);
int fdkinds_restore_late(struct restore_ctx *ctx, struct img_task *t);
int fdkinds_features_check(const struct img_set *set);
/* tty.c: pseudo-terminals, opened by the controller through fdkinds.c. */
int tty_open(struct restore_ctx *ctx, const FileEntry *fe);
int tty_restore_ctty(struct restore_ctx *ctx, struct img_task *t);
int tty_features_check(const struct img_set *set);
/* timers.c, seccomp.c: what the restorer blob creates, arms and installs
 * (restore/pie/timers.c), checked up front and laid out in the bootstrap
 * area after the pending signals. */
int timers_check(const struct img_task *t);
size_t timers_args_size(const struct img_task *t);
void timers_args_fill(const struct img_task *t, struct restorer_args *a, void *area);
int seccomp_check(const struct img_set *set, const struct img_task *t);
int seccomp_task_uses(const struct img_task *t);
size_t seccomp_args_size(const struct img_set *set, const struct img_task *t);
void seccomp_args_fill(const struct img_set *set, const struct img_task *t, struct restorer_args *a, void *area);

/* helper.c: helper tasks for process groups whose leader is gone. */
int helpers_plan(const struct img_set *set, struct restore_helper *out, uint32_t *nr);
int helpers_assign_slots(struct restore_ctx *ctx);
int helpers_join(struct restore_ctx *ctx, struct img_task *t);
void helpers_reap(struct restore_ctx *ctx, struct img_task *t);
void helpers_args(struct restore_ctx *ctx, struct img_task *t, struct restorer_args *a);

/* shmem.c */
int shmem_prepare(struct restore_ctx *ctx);
int shmem_fd_for_vma(struct restore_ctx *ctx, const VmaEntry *v);
int shmem_open_file(struct restore_ctx *ctx, const FileEntry *fe);
void shmem_close(struct restore_ctx *ctx);

/* catch.c: the end of a restore, as CRIU's attach_to_tasks(),
 * catch_tasks(), compel_stop_on_syscall() and finalize_restore(): every
 * live thread under ptrace, stopped at the exit of its final rt_sigreturn,
 * the restorer unmapped from each process, a process dumped stopped sent
 * its stop signal, then detached. */
struct catch_set {
	uint64_t shared, shared_len;	/* the shared area, unmapped from each task */
	long tasks_vcsw;		/* voluntary context switches of the restored threads */
	int sigfd;			/* SIGCHLD as an fd: every stop or exit of a tracee or child */
	uint64_t wait_ns;		/* the longest a tracee may take to stop */
	uint64_t deadline_ns;		/* CLOCK_MONOTONIC; none past it (--timeout), 0: none */
	pid_t stuck_tid;		/* the thread whose stop did not come in time */
	uint32_t stuck_image_tid;
	uint64_t stuck_ns;		/* how long it was waited for */
	int stuck_past_deadline;	/* the wait ended at deadline_ns, not wait_ns */
	size_t nr;
	struct caught {
		pid_t tid, tgid;	/* as crstep sees them */
		uint32_t image_tid;
		int stop_signo;		/* the leader of a process dumped stopped: its stop signal; else 0 */
		int seccomp;		/* its process has a seccomp mode: seized with PTRACE_O_SUSPEND_SECCOMP */
		int seized;
		int has_status;		/* a wait status collected, not yet used */
		int status;
		int dead;		/* its exit was collected (exit_status) */
		int exit_status;
	} *t;
	size_t nr_others;
	struct catch_other {		/* children that are no tracees, and their exits */
		pid_t pid;
		int status;
	} *others;
};
int catch_init(struct catch_set *cs);
void catch_fini(struct catch_set *cs);
uint64_t catch_now_ns(void);
int catch_sleep(struct catch_set *cs, uint64_t deadline_ns);
int catch_child_exited(struct catch_set *cs, pid_t pid, int *status);
int catch_collect(struct restore_ctx *ctx, struct catch_set *cs);
int catch_attach(struct catch_set *cs);
int catch_interrupt(struct catch_set *cs);
int catch_finish(struct catch_set *cs);
void catch_release(struct catch_set *cs);
uint32_t catch_poll(struct catch_set *cs);
size_t catch_reap(struct catch_set *cs);

/* hang.c: the report of a barrier that does not drain. */
void hang_report(FILE *out, struct restore_ctx *ctx);
void hang_report_thread(FILE *out, struct restore_ctx *ctx, uint32_t image_tid, pid_t tid, double secs);
/* State letter and wchan of a task from /proc, "-" if unknown; -1 if gone. */
int proc_task_state(pid_t pid, char *state, size_t slen, char *wchan, size_t wlen);
/* "    kernel stack:" and up to 12 frames of /proc/TID/stack, if readable. */
void proc_print_kstack(FILE *out, pid_t tid);
int hang_culprit(struct restore_ctx *ctx);

/* features.c: refuse what crstep does not restore yet, before any fork. */
int restore_features_check(const struct img_set *set, int cpu_cap_none);
int restore_prepare_counts(struct restore_ctx *ctx);
uint32_t restore_nr_slots(const struct img_set *set);

/* The shared area of a set: its size (page-aligned), and its layout and
 * barrier set up in zeroed memory of that size.  The per-pstree-entry
 * arrays of ctx (slots, thread_slots, fdt_owner, fdt_rank) for ctx->set. */
size_t restore_shared_size(const struct img_set *set);
void restore_shared_init(struct shared_area *sh, const struct img_set *set);
int restore_ctx_alloc(struct restore_ctx *ctx);
void restore_ctx_free(struct restore_ctx *ctx);
/* The barrier slot of thread i (> 0) of task t. */
int restore_thread_slot(const struct restore_ctx *ctx, const struct img_task *t, size_t i);

#endif
