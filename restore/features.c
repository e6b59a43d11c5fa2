/* features.c: everything the images ask for that crstep does not restore
 * yet is refused here, before anything is forked, with the image and the
 * feature named — never half-restored (DESIGN.md, Images). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "protocol.h"
#include "restore.h"
#include "sigframe.h"

static const char *xfeature_names(uint64_t bits, char *buf, size_t len)
{
	static const char *const names[] = { "x87", "SSE", "AVX", "MPX BNDREGS", "MPX BNDCSR",
		"AVX-512 opmask", "AVX-512 ZMM_Hi256", "AVX-512 Hi16_ZMM", "PT", "PKRU" };
	size_t n = 0, i;

	buf[0] = 0;
	for (i = 0; i < 64; i++) {
		if (!(bits & (1ull << i)))
			continue;
		n += snprintf(buf + n, len - n, "%s%s", n ? ", " : "",
			      i < sizeof(names) / sizeof(names[0]) ? names[i] : "?");
		if (n >= len)
			break;
	}
	return buf;
}

#define XFEATURE_MASK_PKRU (1ull << 9)
#define PKRU_KERNEL_DEFAULT 0x55555554u	/* every key but 0: no access, no write */

static int pkru_is_default(const UserX86XsaveEntry *xs)
{
	return xs && xs->n_pkru >= 1 && xs->pkru[0] == PKRU_KERNEL_DEFAULT;
}

static int tls_empty(const UserDescT *d)
{
	return !d->base_addr && !d->limit && d->read_exec_only && d->seg_not_present &&
	       !d->seg_32bit && !d->contents_h && !d->contents_l && !d->limit_in_pages && !d->usable;
}

static int check_thread(const struct img_task *t, const struct img_thread *th, int cpu_cap_none)
{
	const CoreEntry *core = th->core;
	const ThreadInfoX86 *ti = core->thread_info;
	uint64_t have = sigframe_xfeatures(), want;
	char buf[256];
	size_t i;

	if (core->mtype != CORE_ENTRY__MARCH__X86_64 || !ti)
		return error("core-%u.img: not an x86_64 thread", th->tid);
	if (ti->gpregs->has_mode && ti->gpregs->mode != USER_X86_REGS_MODE__NATIVE)
		return error("core-%u.img: a 32-bit (compat) task: not restored yet", th->tid);
	for (i = 0; i < ti->n_tls; i++)
		if (!tls_empty(ti->tls[i]))
			return error("core-%u.img: GDT TLS entry %u is in use: not restored yet", th->tid,
				     ti->tls[i]->entry_number);
	want = ti->fpregs->xsave ? ti->fpregs->xsave->xstate_bv : 0;
	if ((want & ~have & XFEATURE_MASK_PKRU) && pkru_is_default(ti->fpregs->xsave)) {
		/* PKRU is a register, not an instruction set glibc picks code
		 * for: a task that never changed its protection keys holds the
		 * kernel's default, which a CPU without PKU enforces anyway.
		 * CRIU's restore_fpu() drops every component this CPU lacks;
		 * crstep drops only this one. */
		ti->fpregs->xsave->xstate_bv &= ~XFEATURE_MASK_PKRU;
		want &= ~XFEATURE_MASK_PKRU;
	}
	if ((want & ~have & ~3ull) && cpu_cap_none) {
		/* As CRIU's --cpu-cap=none: the state this CPU cannot hold is
		 * dropped (the frame gets the rest). */
		warn("core-%u.img: --cpu-cap=none: dropping CPU state this CPU lacks (%s)", th->tid,
		     xfeature_names(want & ~have & ~3ull, buf, sizeof(buf)));
		ti->fpregs->xsave->xstate_bv &= have | 3;
	} else if (want & ~have & ~3ull)
		return error("core-%u.img: the task ran with CPU state this CPU lacks (%s; xstate_bv %#lx, "
			     "this CPU %#lx): its code may use those instructions, so it cannot run here "
			     "(CRIU's cpu-cap check refuses this too)", th->tid,
			     xfeature_names(want & ~have & ~3ull, buf, sizeof(buf)),
			     (unsigned long)want, (unsigned long)have);
	(void)t;
	return 0;
}

/* A pending signal is queued again as the raw siginfo_t it was dumped as
 * (rt_sigqueueinfo/rt_tgsigqueueinfo take 128 bytes).  SIGKILL and SIGSTOP
 * cannot be blocked while the restorer queues them: CRIU's dump consumes a
 * pending SIGSTOP into the stopped state (task_state), so an image holding
 * one was not made by it. */
static int check_signals(uint32_t tid, const char *queue, const SignalQueueEntry *q)
{
	size_t i;

	for (i = 0; q && i < q->n_signals; i++) {
		const ProtobufCBinaryData *si = &q->signals[i]->siginfo;
		int sig;

		if (si->len != 128)
			return error("core-%u.img: %s entry %zu: a siginfo of %zu bytes, not 128", tid, queue, i,
				     si->len);
		memcpy(&sig, si->data, sizeof(sig));
		if (sig < 1 || sig > 64 || sig == SIGKILL || sig == SIGSTOP)
			return error("core-%u.img: %s entry %zu: pending signal %d cannot be queued again", tid,
				     queue, i, sig);
	}
	return 0;
}

static int check_task(const struct img_set *set, const struct img_task *t, int cpu_cap_none)
{
	const TaskCoreEntry *tc = t->core->tc;
	struct image *fdinfo;
	size_t i;

	if (t->zombie)
		return 0;
	if (t->nr_threads > RST_MAX_THREADS)
		return error("pstree.img: task %u has %zu threads: at most %d are restored",
			     t->pid, t->nr_threads, RST_MAX_THREADS);
	for (i = 0; i < t->nr_threads; i++)
		if (check_thread(t, &t->threads[i], cpu_cap_none))
			return -1;
	if (check_signals(t->pid, "signals_s", tc->signals_s))
		return -1;
	for (i = 0; i < t->nr_threads; i++)
		if (t->threads[i].core->thread_core &&
		    check_signals(t->threads[i].tid, "signals_p", t->threads[i].core->thread_core->signals_p))
			return -1;
	if (timers_check(t) || seccomp_check(set, t))
		return -1;
	/* Named before the generic VMA refusal below, which would call them
	 * "shared or special memory". */
	if (t->mm->n_aios)
		return error("mm-%u.img: %zu AIO ring(s) (io_setup): not restored yet", t->pid, t->mm->n_aios);
	for (i = 0; i < t->mm->n_vmas; i++)
		if (t->mm->vmas[i]->status & VMA_AREA_GUARD)
			return error("mm-%u.img: MADV_GUARD_INSTALL guard region(s) at %#lx-%#lx: not restored yet",
				     t->pid, (unsigned long)t->mm->vmas[i]->start,
				     (unsigned long)t->mm->vmas[i]->end);
	for (i = 0; i < t->mm->n_vmas; i++) {
		const VmaEntry *v = t->mm->vmas[i];
		uint32_t ok = VMA_AREA_REGULAR | VMA_AREA_HEAP | VMA_ANON_PRIVATE | VMA_FILE_PRIVATE |
			      VMA_FILE_SHARED | VMA_ANON_SHARED | VMA_AREA_MEMFD |
			      VMA_AREA_VDSO | VMA_AREA_VVAR | VMA_AREA_VSYSCALL;

		if (v->status & ~ok)
			return error("mm-%u.img: VMA %#lx-%#lx (status %#x): shared or special memory is not "
				     "restored yet", t->pid, (unsigned long)v->start, (unsigned long)v->end,
				     v->status);
	}
	for (i = 0; i < t->nr_pagemap; i++)
		if (t->pagemap[i]->flags & PE_PARENT || !(t->pagemap[i]->flags & PE_PRESENT))
			return error("pagemap-%u.img: entry %zu: pages in a parent image or served lazily: "
				     "not restored yet", t->pid, i + 1);
	fdinfo = imgset_fdinfo(set, t->ids->files_id);
	for (i = 0; fdinfo && i < fdinfo->nr; i++) {
		FdinfoEntry *fdi = (FdinfoEntry *)fdinfo->entries[i].msg;

		if (fdi->type == FD_TYPES__INETSK && imgset_file(set, fdi->id)) {
			if (inetsk_features_check(set, imgset_file(set, fdi->id), fdinfo->path))
				return -1;
			continue;
		}
		if (fdi->type != FD_TYPES__REG && fdi->type != FD_TYPES__PIPE && fdi->type != FD_TYPES__MEMFD &&
		    fdi->type != FD_TYPES__UNIXSK && !fdkind_restored(fdi->type))
			return error("fdinfo-%u.img: entry %zu: fd %u is a %s: not restored yet",
				     t->ids->files_id, i, fdi->fd,
				     protobuf_c_enum_descriptor_get_value(&fd_types__descriptor, fdi->type) ?
				     protobuf_c_enum_descriptor_get_value(&fd_types__descriptor, fdi->type)->name :
				     "file of unknown type");
	}
	return 0;
}

/* Groups and sessions crstep can rebuild without CRIU's helper tasks: a
 * task leads its group/session, or inherits it from its parent. */
static int check_sessions(const struct img_set *set)
{
	size_t i;

	for (i = 0; i < set->nr_tasks; i++) {
		const PstreeEntry *pe = set->tasks[i].pstree;
		const struct img_task *parent = i ? imgset_task(set, pe->ppid) : NULL;

		/* A group whose leader is gone gets a helper (helper.c). */
		if (pe->pgid != pe->pid && (!parent || parent->pstree->pgid != pe->pgid) &&
		    (!parent || imgset_task(set, pe->pgid)))
			return error("pstree.img: entry %zu: task %u is in group %u whose leader is not its "
				     "parent's group: helper tasks are not restored yet", i, pe->pid, pe->pgid);
		if (pe->sid != pe->pid && (!parent || parent->pstree->sid != pe->sid))
			return error("pstree.img: entry %zu: task %u is in session %u whose leader is not its "
				     "parent's session: helper tasks are not restored yet", i, pe->pid, pe->sid);
	}
	return helpers_plan(set, NULL, NULL);
}

/* An fd table several tasks share (CLONE_FILES) is rebuilt by forking each
 * of them sharing its parent's: the first task holding it (pstree order,
 * parents first) restores it, every other one must be a child of a task
 * holding it too. */
static int check_fd_tables(const struct img_set *set)
{
	size_t i, j;

	for (i = 1; i < set->nr_tasks; i++) {
		const struct img_task *t = &set->tasks[i], *parent;

		if (t->zombie || !t->ids)
			continue;
		for (j = 0; j < i; j++)
			if (!set->tasks[j].zombie && set->tasks[j].ids &&
			    set->tasks[j].ids->files_id == t->ids->files_id)
				break;
		if (j == i)
			continue;
		parent = imgset_task(set, t->pstree->ppid);
		if (!parent || !parent->ids || parent->ids->files_id != t->ids->files_id)
			return error("ids-%u.img: task %u shares fd table %u with task %u but not with its parent: "
				     "not restored yet", t->pid, t->pid, t->ids->files_id, set->tasks[j].pid);
	}
	return 0;
}

/* filelocks.img: flock, POSIX and OFD locks and leases are set again by
 * the task the image names; a lease being broken (an open waited for it at
 * the dump) and locks of tasks the tree does not restore are not. */
static int check_file_locks(const struct img_set *set)
{
	size_t i;

	for (i = 0; i < set->file_locks_img->nr; i++) {
		const FileLockEntry *fl = (FileLockEntry *)set->file_locks_img->entries[i].msg;
		const struct img_task *t = imgset_task(set, fl->pid);

		if (fl->flag != 1 && fl->flag != 2 && fl->flag != 4 && fl->flag != 8)
			return error("filelocks.img: entry %zu: lock kind %#x: not restored yet", i, fl->flag);
		if (fl->flag == 8 && (fl->type & 4))
			return error("filelocks.img: entry %zu: a lease being broken (type %#x): not restored yet",
				     i, fl->type);
		if (fl->type != 0 /* F_RDLCK */ && fl->type != 1 /* F_WRLCK */)
			return error("filelocks.img: entry %zu: lock type %#x (mandatory or unknown): not restored "
				     "yet", i, fl->type);
		if (!t || t->zombie)
			return error("filelocks.img: entry %zu: a lock of pid %d, not a live task of the tree",
				     i, fl->pid);
	}
	return 0;
}

/* Namespaces, as CRIU finds the ones it restores: a task's namespace ids
 * against the dumper's own (inventory root_ids).  crstep restores into its
 * own namespaces (a fresh pid namespace at most), so a task dumped inside a
 * network, mount, ... namespace of its own would come back in crstep's. */
static int check_namespaces(const struct img_set *set)
{
	const TaskKobjIdsEntry *root = set->inventory->root_ids;
	size_t i;

	if (!root)
		return 0;
	for (i = 0; i < set->nr_tasks; i++) {
		const struct img_task *t = &set->tasks[i];
		const TaskKobjIdsEntry *ids = t->ids;

		if (t->zombie || !ids)
			continue;
#define NS_OWN(field, what)									\
		if (ids->has_##field && root->has_##field && ids->field != root->field)		\
			return error("ids-%u.img: task %u was dumped inside its own " what " namespace "	\
				     "(id %u, the dumper's %u): namespaces are not restored yet",		\
				     t->pid, t->pid, ids->field, root->field);
		NS_OWN(net_ns_id, "network")
		NS_OWN(mnt_ns_id, "mount")
		NS_OWN(ipc_ns_id, "IPC")
		NS_OWN(uts_ns_id, "UTS")
		NS_OWN(user_ns_id, "user")
		NS_OWN(cgroup_ns_id, "cgroup")
		NS_OWN(time_ns_id, "time")
#undef NS_OWN
	}
	return 0;
}

int restore_features_check(const struct img_set *set, int cpu_cap_none)
{
	size_t i;

	if (set->inventory->img_version != 2 || !set->inventory->fdinfo_per_id)
		return error("inventory.img: image version %u%s: too old an image", set->inventory->img_version,
			     set->inventory->fdinfo_per_id ? "" : " without fdinfo per id");
	if (check_namespaces(set) || remap_features_check(set) || check_sessions(set) || check_fd_tables(set) ||
	    check_file_locks(set) || unixsk_check(set) || fdkinds_features_check(set))
		return -1;
	for (i = 0; i < set->nr_tasks; i++)
		if (check_task(set, &set->tasks[i], cpu_cap_none))
			return -1;
	return 0;
}

/* The counts that decide the participants, and a slot per participant. */
/* The barrier's participants: a slot per task (zombies too), one per
 * further thread and one per helper, as restore_prepare_counts() and
 * helpers_assign_slots() hand them out. */
uint32_t restore_nr_slots(const struct img_set *set)
{
	struct restore_helper helpers[RST_MAX_HELPERS];
	uint32_t n = 0, nr_helpers = 0;
	size_t i;

	for (i = 0; i < set->nr_tasks; i++)
		n += set->tasks[i].nr_threads > 1 ? set->tasks[i].nr_threads : 1;
	if (!helpers_plan(set, helpers, &nr_helpers))
		n += nr_helpers;
	return n;
}

int restore_prepare_counts(struct restore_ctx *ctx)
{
	struct task_entries *te = &ctx->shared->te;
	size_t i, j;

	te->nr_tasks = ctx->set->nr_tasks;
	te->nr_threads = 0;
	te->nr_helpers = 0;
	te->nr_zombies = 0;
	for (i = 0; i < ctx->set->nr_tasks; i++) {
		struct img_task *t = &ctx->set->tasks[i];
		int slot = task_slot_assign(te, t->pid, i ? (t->zombie ? ROLE_ZOMBIE : ROLE_TASK) : ROLE_ROOT);

		if (slot < 0)
			return error("pstree.img: more than %u tasks", te->max_slots);
		ctx->slots[i] = slot;
		for (j = 1; j < t->nr_threads; j++) {
			slot = task_slot_assign(te, t->threads[j].tid, ROLE_THREAD);
			if (slot < 0)
				return error("pstree.img: more than %u tasks and threads", te->max_slots);
			if (j == 1)
				ctx->thread_slots[i] = slot;
		}
		te->nr_threads += t->nr_threads;
		te->nr_zombies += t->zombie;
	}
	return helpers_assign_slots(ctx);
}

int restore_thread_slot(const struct restore_ctx *ctx, const struct img_task *t, size_t i)
{
	return ctx->thread_slots[t - ctx->set->tasks] + (int)i - 1;
}
