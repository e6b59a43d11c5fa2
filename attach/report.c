/* report.c: `info tasks`, `info barrier` and `info hang` for an attached
 * criu restore, in the words of crstep's own hang report (restore/hang.c). */
#include <stdio.h>
#include <string.h>

#include "attach-priv.h"
#include "restore.h"

static const char *code_name(const struct attach *a, enum attach_code c)
{
	switch (c) {
	case CODE_CRIU: return a->kind == KIND_CRSTEP ? "crstep's code" : "criu's code";
	case CODE_RESTORER: return "the restorer blob";
	case CODE_RESTORED: return "the restored program";
	case CODE_OTHER: return "its own program";
	default: return "unknown code";
	}
}

static void where_text(const struct attach *a, const struct attach_task *t, char *buf, size_t len)
{
	switch (t->where) {
	case AT_WAIT_START:
		snprintf(buf, len, "waits on start == %d (for the switch out of %s), in %s", (int)t->wait_val,
			 attach_stage_name(a, (int)t->wait_val), code_name(a, t->code));
		break;
	case AT_WAIT_INPROGRESS:
		snprintf(buf, len, "waits on nr_in_progress == %d (for the stage's participants), in %s",
			 (int)t->wait_val, code_name(a, t->code));
		break;
	case AT_OTHER_FUTEX:
		snprintf(buf, len, "futex wait, not on the barrier, in %s", code_name(a, t->code));
		break;
	case AT_SYSCALL:
		snprintf(buf, len, "in syscall %ld, in %s", t->nr, code_name(a, t->code));
		break;
	case AT_RUNNING:
		snprintf(buf, len, "%s, in %s", t->state[0] == 'T' || t->state[0] == 't' ? "stopped outside a syscall" :
			 "running (not in a syscall)", code_name(a, t->code));
		break;
	case AT_ZOMBIE:
		snprintf(buf, len, "zombie");
		break;
	case AT_GONE:
		snprintf(buf, len, "gone");
		break;
	default:
		snprintf(buf, len, "unknown");
	}
}

static const char *role(const struct attach *a, const struct attach_task *t)
{
	if (t->criu)
		return t->thread ? (a->kind == KIND_CRSTEP ? "crstep-thr" : "criu-thr") : a->ctl;
	if (t->reaper)
		return "reaper";	/* crstep's pid namespace init */
	if (!t->in_tree)
		return "other";		/* a child of criu outside the tree: an action script */
	return t->thread ? "thread" : "task";
}

void attach_info_tasks(FILE *out, struct attach *a)
{
	char where[160];
	size_t i;

	fprintf(out, "%-7s %-7s %-8s %-16s %-5s %-18s %s\n", "PID", "NSPID", "ROLE", "COMM", "STATE", "WCHAN", "WHERE");
	for (i = 0; i < a->nr; i++) {
		const struct attach_task *t = &a->tasks[i];

		where_text(a, t, where, sizeof(where));
		fprintf(out, "%-7d %-7d %-8s %-16s %-5s %-18s %s\n", t->tid, t->ns_pid, role(a, t), t->comm, t->state,
			t->wchan, where);
	}
	for (i = 0; i < a->nr_unforked; i++)
		fprintf(out, "%-7s %-7d %-8s %-16s %-5s %-18s %s\n", "-", a->unforked[i], "task", "-", "-", "-",
			"not forked (in pstree.img, not in the tree)");
	fflush(out);
}

/* A child of the controller outside the tree: criu's action script. */
static int is_other(const struct attach_task *t)
{
	return !t->in_tree && !t->criu && !t->reaper;
}

static int count_where(const struct attach *a, enum attach_where w, int val)
{
	size_t i;
	int n = 0;

	for (i = 0; i < a->nr; i++)
		if (a->tasks[i].where == w && (val == -2 || (int)a->tasks[i].wait_val == val))
			n++;
	return n;
}

void attach_info_barrier(FILE *out, struct attach *a)
{
	const struct criu_task_entries *te = &a->te;
	int aborted = te->nr_in_progress == 0xffffffffu;

	fprintf(out, "%s %s pid %d, task_entries at %#lx (shared map %02x:%02x inode %lu, offset %#lx)\n",
		a->ctl, a->version, a->criu_pid, a->te_addr, a->map_major, a->map_minor, a->map_ino, a->te_file_off);
	fprintf(out, "stage %s (start=%d): nr_in_progress=%d of %d participants%s\n", attach_stage_name(a, te->start),
		te->start, aborted ? -1 : (int)te->nr_in_progress, attach_participants(a, te->start),
		aborted ? " (aborted: a task failed)" : "");
	fprintf(out, "nr_tasks=%d nr_threads=%d nr_helpers=%d cr_err=%d", te->nr_tasks, te->nr_threads,
		te->nr_helpers, te->cr_err);
	if (a->pstree_nr_tasks >= 0)
		fprintf(out, " (pstree.img: %d tasks, %d threads)", a->pstree_nr_tasks, a->pstree_nr_threads);
	fprintf(out, "\nwaiting on start for the switch out of %s: %d; on start, other values: %d; "
		"on nr_in_progress: %d; not forked: %zu\n", attach_stage_name(a, te->start),
		count_where(a, AT_WAIT_START, te->start), count_where(a, AT_WAIT_START, -2) -
		count_where(a, AT_WAIT_START, te->start), count_where(a, AT_WAIT_INPROGRESS, -2), a->nr_unforked);
	fflush(out);
}

/* What the kernel says of a task: as restore/hang.c prints it. */
static void describe(FILE *out, const struct attach *a, const struct attach_task *t)
{
	fprintf(out, "    pid %d here, state %s, wchan %s\n", t->tid, t->state, t->wchan);
	if (t->where == AT_RUNNING && t->nr == -2)
		fprintf(out, "    running (not in a syscall)\n");
	else if (t->nr >= 0)
		fprintf(out, "    syscall %ld, user ip %#lx (%s)\n", t->nr, t->ip, code_name(a, t->code));
	else if (t->nr == -1)
		fprintf(out, "    not in a syscall, user ip %#lx (%s)\n", t->ip, code_name(a, t->code));
	proc_print_kstack(out, t->tid);
}

static int outstanding(const struct attach *a, const struct attach_task *t)
{
	return t->in_tree && t->where != AT_ZOMBIE &&
	       !(t->where == AT_WAIT_START && (int)t->wait_val == a->te.start);
}

/* The one to blame, as restore/hang.c's hang_culprit does: an outstanding
 * task that is not itself waiting for the others (the root waits on
 * nr_in_progress while FORKING), a stopped one first; with every
 * participant arrived, criu, and the child it waits for if any. */
static void held_by(FILE *out, const struct attach *a, int on_criu)
{
	const struct attach_task *blame = NULL;
	size_t i;
	int pass;

	if (on_criu) {
		for (i = 0; i < a->nr; i++)
			if (is_other(&a->tasks[i]))
				break;
		if (i < a->nr && a->tasks[0].nr == 61)
			fprintf(out, "Held by: %s %d, waiting (wait4) for its child %d %s\n", a->ctl, a->criu_pid,
				a->tasks[i].tid, a->tasks[i].comm);
		else
			fprintf(out, "Held by: %s %d\n", a->ctl, a->criu_pid);
		return;
	}
	for (pass = 0; pass < 3 && !blame; pass++)
		for (i = 0; i < a->nr && !blame; i++) {
			const struct attach_task *t = &a->tasks[i];

			if (!outstanding(a, t))
				continue;
			if (pass == 0 && (t->state[0] == 'T' || t->state[0] == 't'))
				blame = t;
			else if (pass == 1 && t->where != AT_WAIT_INPROGRESS && t->where != AT_WAIT_START)
				blame = t;
			else if (pass == 2)
				blame = t;
		}
	if (blame)
		fprintf(out, "Held by: %s %d (pid %d here), state %s%s\n", role(a, blame), blame->ns_pid, blame->tid,
			blame->state, blame->state[0] == 'T' ? ": stopped by a signal (SIGCONT resumes it)" :
			blame->state[0] == 't' ? ": stopped by a tracer" : "");
	else if (a->kind == KIND_CRIU && a->te.start <= CRIU_STATE_FORKING && a->nr_unforked)
		fprintf(out, "Held by: task %d, not forked yet\n", a->unforked[0]);
}

/* A stage is outstanding on the tasks that have not finished it (those
 * that have sleep on start with its number) while nr_in_progress > 0; once
 * it is 0, on criu, which must switch to the next stage. */
void attach_info_hang(FILE *out, struct attach *a, double secs)
{
	const struct criu_task_entries *te = &a->te;
	int aborted = te->nr_in_progress == 0xffffffffu, on_criu = !aborted && te->nr_in_progress == 0;
	size_t i;

	fprintf(out, "Stage %s for %.1f s: nr_in_progress=%d of %d participants\n", attach_stage_name(a, te->start), secs,
		aborted ? -1 : (int)te->nr_in_progress, attach_participants(a, te->start));
	if (aborted)
		fprintf(out, "The restore is aborted (nr_in_progress holds the abort value)\n");
	fprintf(out, "Outstanding:\n");
	for (i = 0; i < a->nr; i++) {
		const struct attach_task *t = &a->tasks[i];

		if (t->criu && !t->thread && on_criu) {
			fprintf(out, "  %s %d: has not switched out of %s (every participant arrived)\n", a->ctl, t->tid,
				attach_stage_name(a, te->start));
			describe(out, a, t);
		} else if (!on_criu && outstanding(a, t)) {
			fprintf(out, "  %s %d: has not finished %s%s\n", role(a, t), t->ns_pid, attach_stage_name(a, te->start),
				t->where == AT_WAIT_INPROGRESS ? " (waits for the others on nr_in_progress)" : "");
			describe(out, a, t);
		}
	}
	if (a->kind == KIND_CRIU && te->start <= CRIU_STATE_FORKING)
		for (i = 0; i < a->nr_unforked; i++)
			fprintf(out, "  task %d: not forked yet\n", a->unforked[i]);
	for (i = 0; i < a->nr; i++)
		if (is_other(&a->tasks[i])) {
			fprintf(out, "  (%s's child %d %s, outside the tree: an action script?)\n", a->ctl, a->tasks[i].tid,
				a->tasks[i].comm);
			describe(out, a, &a->tasks[i]);
		}
	held_by(out, a, on_criu);
	fprintf(out, "Arrived:\n");
	for (i = 0; i < a->nr; i++) {
		const struct attach_task *t = &a->tasks[i];

		if (t->in_tree && t->where == AT_WAIT_START && (int)t->wait_val == te->start)
			fprintf(out, "  %s %d: waits for the switch out of %s\n", role(a, t), t->ns_pid,
				attach_stage_name(a, te->start));
	}
	fflush(out);
}
