/* attach.h: crstep's read-only view of a running upstream `criu restore`:
 * CRIU's struct task_entries (found through the futex its tasks sleep on),
 * the tree it is restoring and where each task is.  Never writes criu's
 * memory, never ptrace-stops anything. */
#ifndef CRSTEP_ATTACH_H
#define CRSTEP_ATTACH_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct protocol;
struct task_entries;

/* CRIU 4.2's struct task_entries (criu/include/rst_info.h), field by field:
 * ints and futex_t/atomic_t/mutex_t words, 4 bytes each, no padding. */
struct criu_task_entries {
	int32_t nr_threads, nr_tasks, nr_helpers;
	uint32_t nr_in_progress;	/* futex_t; 0xffffffff is the abort value */
	int32_t start;			/* futex_t: the CR_STATE_* stage */
	int32_t cr_err;
	uint32_t userns_sync_lock, cgroupd_sync_lock, last_pid_mutex;
};

#define CRIU_TE_OFF_NR_IN_PROGRESS 12
#define CRIU_TE_OFF_START 16

/* CRIU 4.2's stage numbers (criu/include/restorer.h), not crstep's own
 * (crstep numbers PRE_RESTORER in between, barrier.h). */
enum criu_stage {
	CRIU_STATE_FAIL = -1,
	CRIU_STATE_ROOT_TASK = 0,
	CRIU_STATE_PREPARE_NAMESPACES,
	CRIU_STATE_FORKING,
	CRIU_STATE_RESTORE,
	CRIU_STATE_RESTORE_SIGCHLD,
	CRIU_STATE_RESTORE_CREDS,
	CRIU_STATE_COMPLETE,
};
const char *criu_stage_name(int stage);

/* Where a task is, as far as /proc tells. */
enum attach_where {
	AT_UNKNOWN,
	AT_WAIT_START,		/* futex(FUTEX_WAIT) on &start, val = wait_val */
	AT_WAIT_INPROGRESS,	/* futex(FUTEX_WAIT) on &nr_in_progress */
	AT_OTHER_FUTEX,		/* a futex that is not the barrier */
	AT_SYSCALL,		/* in another syscall */
	AT_RUNNING,		/* on a CPU, no syscall */
	AT_ZOMBIE,
	AT_GONE,
};

enum attach_code {	/* whose code the task runs */
	CODE_UNKNOWN,
	CODE_CRIU,		/* still criu's (forked, before the restorer) */
	CODE_RESTORER,		/* the restorer blob (anonymous executable map) */
	CODE_RESTORED,		/* the restored program's */
	CODE_OTHER,		/* outside the tree (an action script): its own */
};

struct attach_task {
	pid_t tid, tgid;	/* as seen from crstep's pid namespace */
	pid_t ns_pid;		/* innermost NSpid: the restored pid */
	int thread;		/* not the thread-group leader */
	int criu;		/* the controller process itself (criu or crstep) */
	int reaper;		/* crstep's pid-namespace init, outside the tree */
	int in_tree;		/* maps task_entries: a task criu restores */
	char comm[32], state[4], wchan[64], syscall[256];
	enum attach_where where;
	enum attach_code code;
	long nr;		/* syscall number, -1 none */
	uint32_t wait_val;
	unsigned long ip;
};

#define ATTACH_MAX_TASKS 256

enum attach_kind {
	KIND_NONE,
	KIND_CRIU,		/* upstream criu 4.2: CRIU's task_entries */
	KIND_CRSTEP,		/* this crstep's own `crstep restore`: barrier.h's */
};

struct attach {
	pid_t criu_pid;		/* the controller: criu, or crstep (or its reaper) */
	int kind;		/* enum attach_kind */
	char ctl[8];		/* "criu" or "crstep", as reports name it */
	unsigned long off_start, off_count;	/* of start and nr_in_progress */
	const struct protocol *proto;		/* crstep's --protocol; criu4 for CRIU 4.2 */
	struct task_entries *cte;		/* crstep's area as last read (CRIU's: its counts) */
	char criu_exe[512];
	dev_t exe_dev;
	ino_t exe_ino;
	char version[32];
	char images_dir[512];	/* -D, resolved against criu's cwd; "" if unknown */
	/* The shared mapping holding task_entries (rst_mem's RM_SHREMAP) and
	 * the structure's offset in it. */
	unsigned map_major, map_minor;
	unsigned long map_ino, te_file_off;
	unsigned long te_addr;	/* in criu's address space */
	struct criu_task_entries te;
	size_t nr;
	struct attach_task tasks[ATTACH_MAX_TASKS];
	size_t nr_unforked;	/* pstree pids not (yet) in the tree */
	pid_t unforked[ATTACH_MAX_TASKS];
	int pstree_nr_tasks, pstree_nr_threads;	/* -1 if pstree.img unread */
	size_t nr_pstree;
	pid_t pstree_pids[ATTACH_MAX_TASKS];
};

/* Find criu from PID (criu or any task of its tree), check its version,
 * locate and validate task_entries.  -1 with a message when the layout
 * cannot be confirmed. */
int attach_open(struct attach *a, pid_t pid);
/* attach_open() in two steps, for `crstep watch`, which starts criu and
 * looks for task_entries until the first task waits: identify criu (-1
 * with a message; version: what its binary said, NULL to ask it), then
 * one quiet look (-1 and why when not found). */
int attach_identify(struct attach *a, pid_t pid, const char *version);
/* `EXE --version`'s "Version: X" (EXE a path; no shell quoting in it). */
int attach_criu_version(const char *exe, char *version, size_t len);
int attach_version_verified(const char *version);
int attach_locate(struct attach *a, const char **why);
/* Re-read task_entries from criu: 0, or -1 when criu is gone. */
int attach_read_te(struct attach *a);
/* Re-read the tree and where each task is. */
int attach_scan(struct attach *a);

/* Where criu's main thread is now (one /proc read: cheap enough to sample). */
enum attach_where attach_criu_where(struct attach *a);

/* The stage's name and participants in the attached restore's terms
 * (crstep numbers PRE_RESTORER between FORKING and RESTORE). */
const char *attach_stage_name(const struct attach *a, int stage);
uint32_t attach_participants(const struct attach *a, int stage);

/* The attached restore as crstep's own area (barrier.h), for the
 * stepper's expressions (`expect`): crstep's is read whole; CRIU's is
 * translated from task_entries and the last attach_scan() (stage numbers
 * in crstep's terms, a slot per task and thread of the tree, arrived =
 * sleeping on start for the current stage).  te has room for
 * te->max_slots slots (task_entries_size()); a larger tree shows its
 * first ones.  Called again on the same te, it keeps the event ring and
 * records each change of start seen since as a switch (at the time it was
 * seen, by the performer attach_switcher() names).  0, or -1 when the
 * controller is gone. */
int attach_te_view(struct attach *a, struct task_entries *te);
/* A stage number of the attached restore (CRIU's for criu) in crstep's. */
int attach_stage_crstep(const struct attach *a, int stage);
/* Who switches into stage `to` (crstep's numbering): ROLE_ROOT or
 * ROLE_CONTROLLER (criu), by the attached protocol's rule. */
int attach_switcher(const struct attach *a, int to);

void attach_info_tasks(FILE *out, struct attach *a);
void attach_info_barrier(FILE *out, struct attach *a);
void attach_info_hang(FILE *out, struct attach *a, double secs);

#endif
