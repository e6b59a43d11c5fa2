/* helper.c: CRIU's helper tasks, for process groups whose leader is gone.
 *
 * A process group outlives its leader: a task can be in group G although
 * no task G is in the images (zdtm's zombie01).  A group can only be
 * created by its leader (setpgid(0, 0) by the task whose pid is G), so, as
 * CRIU's prepare_pstree_ids(), the restore adds a helper with pid G: the
 * first task of the group in pstree order (its owner) forks it at FORKING,
 * both put the helper in a new group G, the owner joins it, and any other
 * member that does not inherit G from its parent joins it once the group
 * exists.  The helper is a participant like a task (counted in nr_helpers,
 * role ROLE_HELPER: it finishes FORKING and RESTORE, and breakpoints hold
 * it), then exits when RESTORE is over; its owner reaps it (a zombie owner
 * before it dies, a live one in its restorer at RESTORE_SIGCHLD, as CRIU's
 * wait_helpers()).  The group lives on in its members.
 *
 * Not done here: helpers for a missing session leader (CRIU's first case),
 * and a group whose leader is in the images but neither the task nor its
 * parent — both still refused (features.c). */
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "protocol.h"
#include "restore.h"

/* 1: pid is a task of the images, 2: a thread (not a process), 0: none. */
static int pid_kind(const struct img_set *set, uint32_t pid)
{
	size_t i, j;

	for (i = 0; i < set->nr_tasks; i++) {
		if (set->tasks[i].pid == pid)
			return 1;
		for (j = 1; j < set->tasks[i].nr_threads; j++)
			if (set->tasks[i].threads[j].tid == pid)
				return 2;
	}
	return 0;
}

/* One helper per group whose leader is not in the images: its pgid and
 * its owner, in pstree order.  out may be NULL: just the check. */
int helpers_plan(const struct img_set *set, struct restore_helper *out, uint32_t *nr)
{
	struct restore_helper tmp[RST_MAX_HELPERS];
	uint32_t n = 0, k;
	size_t i;

	if (!out)
		out = tmp;
	for (i = 0; i < set->nr_tasks; i++) {
		const PstreeEntry *pe = set->tasks[i].pstree;
		int kind = pe->pgid ? pid_kind(set, pe->pgid) : 1;

		if (kind == 1)
			continue;
		if (kind == 2)
			return error("pstree.img: entry %zu: task %u is in group %u, which is a thread's tid", i,
				     pe->pid, pe->pgid);
		for (k = 0; k < n && out[k].pgid != pe->pgid; k++)
			;
		if (k < n)
			continue;
		if (n >= RST_MAX_HELPERS)
			return error("pstree.img: more than %d process groups whose leader is gone", RST_MAX_HELPERS);
		out[n].pgid = pe->pgid;
		out[n].owner = i;
		out[n].slot = -1;
		n++;
	}
	if (nr)
		*nr = n;
	return 0;
}

int helpers_assign_slots(struct restore_ctx *ctx)
{
	struct task_entries *te = &ctx->shared->te;
	uint32_t i;

	if (helpers_plan(ctx->set, ctx->helpers, &ctx->nr_helpers))
		return -1;
	for (i = 0; i < ctx->nr_helpers; i++) {
		ctx->helpers[i].slot = task_slot_assign(te, ctx->helpers[i].pgid, ROLE_HELPER);
		if (ctx->helpers[i].slot < 0)
			return error("pstree.img: more than %u tasks, threads and helpers", te->max_slots);
	}
	te->nr_helpers = ctx->nr_helpers;
	return 0;
}

/* The helper's whole life: the stages up to RESTORE, then exit. */
static __attribute__((noreturn)) void helper_main(struct restore_ctx *ctx, const struct restore_helper *h)
{
	int stage = __atomic_load_n(&ctx->shared->te.start, __ATOMIC_ACQUIRE);

	setpgid(0, 0);
	while (stage >= 0 && stage <= CR_STATE_RESTORE)
		stage = task_finish_stage(&ctx->shared->te, stage, h->slot);
	_exit(stage < 0);
}

static struct restore_helper *helper_of(struct restore_ctx *ctx, uint32_t pgid)
{
	uint32_t i;

	for (i = 0; i < ctx->nr_helpers; i++)
		if (ctx->helpers[i].pgid == pgid)
			return &ctx->helpers[i];
	return NULL;
}

/* FORKING, in task t whose group G is not its own nor inherited: the owner
 * forks G's helper and creates the group; the others wait for it. */
int helpers_join(struct restore_ctx *ctx, struct img_task *t)
{
	uint32_t pgid = t->pstree->pgid;
	struct restore_helper *h = helper_of(ctx, pgid);
	int32_t *set;
	struct timespec tick = { 0, 50 * 1000 * 1000 };
	pid_t pid;

	if (!h)
		return error("task %u: group %u has no leader and no helper", t->pid, pgid);
	set = &ctx->shared->pgrp_set[h - ctx->helpers];
	if (h->owner == (size_t)(t - ctx->set->tasks)) {
		pid = restore_clone(pgid, 0);
		if (pid == 0)
			helper_main(ctx, h);
		if (pid < 0)
			return error("task %u: cannot create the helper %u for its group: %s", t->pid, pgid,
				     strerror(errno));
		/* Either side may come first; the child's own call is the
		 * one that counts once it runs. */
		if (setpgid(pid, pid) && errno != EACCES && getpgid(pid) != pid)
			return error("task %u: helper %u: setpgid: %s", t->pid, pgid, strerror(errno));
		if (setpgid(0, pgid))
			return error("task %u: cannot join its helper's group %u: %s", t->pid, pgid, strerror(errno));
		__atomic_store_n(set, 1, __ATOMIC_RELEASE);
		syscall(SYS_futex, set, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
		return 0;
	}
	while (!__atomic_load_n(set, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&ctx->shared->te.start, __ATOMIC_ACQUIRE) < 0)
			return error("task %u: the restore was aborted while it waited for group %u", t->pid, pgid);
		syscall(SYS_futex, set, FUTEX_WAIT, 0, &tick, NULL, 0);
	}
	if (setpgid(0, pgid))
		return error("task %u: cannot join group %u: %s", t->pid, pgid, strerror(errno));
	return 0;
}

/* A zombie owner reaps its helpers before it dies (they exit when RESTORE
 * is over, which the zombie has just seen). */
void helpers_reap(struct restore_ctx *ctx, struct img_task *t)
{
	uint32_t i;
	int status;

	for (i = 0; i < ctx->nr_helpers; i++)
		if (ctx->helpers[i].owner == (size_t)(t - ctx->set->tasks))
			waitpid(ctx->helpers[i].pgid, &status, 0);
}

/* A live owner's restorer reaps them (restore/pie/restorer.c). */
void helpers_args(struct restore_ctx *ctx, struct img_task *t, struct restorer_args *a)
{
	uint32_t i;

	a->nr_helpers = 0;
	for (i = 0; i < ctx->nr_helpers; i++)
		if (ctx->helpers[i].owner == (size_t)(t - ctx->set->tasks))
			a->helpers[a->nr_helpers++] = ctx->helpers[i].pgid;
}
