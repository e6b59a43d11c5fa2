/* hang.c: what a stuck barrier is waiting for, and what the kernel says of
 * each task it waits for (state, wchan, the syscall it sits in, its user
 * ip, its kernel stack).  Printed by the watchdog and by `info hang`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"
#include "restore.h"
#include "trace.h"

static void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	buf[0] = 0;
	if (!f)
		return;
	if (!fgets(buf, len, f))
		buf[0] = 0;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
}

/* /proc/PID/stat's state letter (after the last ')': comm may hold blanks
 * and parentheses) and /proc/PID/wchan; "-" where unknown, -1 if gone. */
int proc_task_state(pid_t pid, char *state, size_t slen, char *wchan, size_t wlen)
{
	char path[64], buf[512], *p;

	snprintf(state, slen, "-");
	snprintf(wchan, wlen, "-");
	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (access(path, F_OK))
		return -1;
	read_line(path, buf, sizeof(buf));
	p = strrchr(buf, ')');
	if (p && p[1] == ' ' && p[2])
		snprintf(state, slen, "%c", p[2]);
	snprintf(path, sizeof(path), "/proc/%d/wchan", pid);
	read_line(path, buf, sizeof(buf));
	if (buf[0] && strcmp(buf, "0"))
		snprintf(wchan, wlen, "%.*s", (int)(wlen - 1), buf);
	return 0;
}

void proc_print_kstack(FILE *out, pid_t tid)
{
	char path[64], line[256];
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/stack", tid);
	f = fopen(path, "re");
	if (!f)
		return;
	fprintf(out, "    kernel stack:\n");
	for (n = 0; n < 12 && fgets(line, sizeof(line), f); n++)
		fprintf(out, "      %s", line);
	fclose(f);
}

static void describe(FILE *out, pid_t pid, double secs)
{
	char path[64], state[4], wchan[128], sys[256];
	unsigned long nr = 0, pc = 0;
	int n;

	if (pid <= 0) {
		fprintf(out, "    not found in /proc (exited?)\n");
		return;
	}
	/* A task caught between two calls of its wait (a ptrace stop makes it
	 * return and loop) reads as running: look a few times. */
	for (n = 0; n < 20; n++) {
		snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
		read_line(path, sys, sizeof(sys));
		if (strcmp(sys, "running"))
			break;
		usleep(5000);
	}
	proc_task_state(pid, state, sizeof(state), wchan, sizeof(wchan));
	fprintf(out, "    pid %d here, state %s, wchan %s, for %.1f s\n", pid, state, wchan, secs);
	/* "NR args... sp pc", or "running", or "-1 sp pc" outside a syscall */
	if (!strcmp(sys, "running")) {
		fprintf(out, "    running (not in a syscall)\n");
	} else if (sscanf(sys, "%lu", &nr) == 1 && strchr(sys, ' ')) {
		const char *last = strrchr(sys, ' ');

		pc = strtoul(last + 1, NULL, 16);
		fprintf(out, "    syscall %s, user ip %#lx\n", sys[0] == '-' ? "none" : strtok(sys, " "), pc);
	}
	proc_print_kstack(out, pid);
}

/* When the stage began, in seconds before now (the last switch into it). */
static double stage_age(const struct task_entries *te)
{
	struct clock_fit clk;
	struct barrier_event ev;
	uint64_t seq = barrier_events_written(te), low = seq > BARRIER_RING_SIZE ? seq - BARRIER_RING_SIZE : 0;
	struct timespec now;

	if (clock_fit_init(&clk, &te->clock_start))
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	for (; seq > low; seq--)
		if (!barrier_event_read(te, seq, &ev) && ev.type == BARRIER_EV_SWITCH)
			return (now.tv_sec * 1e9 + now.tv_nsec - clock_fit_ns(&clk, ev.tsc)) / 1e9;
	return 0;
}

void hang_report(FILE *out, struct restore_ctx *ctx)
{
	struct task_entries *te = &ctx->shared->te;
	int stage = __atomic_load_n(&te->start, __ATOMIC_ACQUIRE), next;
	uint32_t count = __atomic_load_n(&te->nr_in_progress, __ATOMIC_ACQUIRE), i;
	double age = stage_age(te);

	restore_refresh_host_pids(ctx);
	fprintf(out, "Stage %s for %.1f s: nr_in_progress=%d of %u participants\n", stage_name(stage), age,
		count & BARRIER_ABORT_BIT ? -1 : BARRIER_COUNT(count),
		stage >= 0 ? stage_participants(ctx->proto, stage, te) : 0);
	next = stage >= 0 ? protocol_next_stage(ctx->proto, stage) : CR_STATE_NR;
	fprintf(out, "Outstanding:\n");
	for (i = 0; i < te->nr_slots; i++) {
		const struct task_slot *s = &te->slots[i];
		int finisher = stage >= 0 && protocol_role_finishes(ctx->proto, stage, s->role);
		int switcher = s->role == ROLE_ROOT && next < CR_STATE_NR &&
			       protocol_switcher(ctx->proto, next) == PERFORMER_ROOT;

		if (finisher && s->stage_reached >= stage)
			continue;
		if (!finisher && !switcher)
			continue;
		fprintf(out, "  %s %d: %s%s%s\n", role_name(s->role), s->pid,
			finisher ? "has not finished " : "has not switched to ",
			stage_name(finisher ? stage : next), s->gate ? " (held at a breakpoint)" : "");
		describe(out, s->host_pid, age);
	}
	fprintf(out, "Arrived:\n");
	for (i = 0; i < te->nr_slots; i++) {
		const struct task_slot *s = &te->slots[i];

		if (stage < 0 || s->stage_reached < stage)
			continue;
		fprintf(out, "  %s %d: waits for the switch out of %s%s\n", role_name(s->role), s->pid,
			stage_name(stage), s->gate ? " (held at a breakpoint)" : "");
	}
	fflush(out);
}

/* After COMPLETE the barriers are done: the controller steps each thread
 * to its rt_sigreturn under ptrace, and one did not stop in time. */
void hang_report_thread(FILE *out, struct restore_ctx *ctx, uint32_t image_tid, pid_t tid, double secs)
{
	struct task_entries *te = &ctx->shared->te;
	const char *role = "thread";
	uint32_t i;

	for (i = 0; i < te->nr_slots; i++)
		if (te->slots[i].pid == (int32_t)image_tid)
			role = role_name(te->slots[i].role);
	fprintf(out, "Stage %s: the controller steps each thread to its rt_sigreturn\n",
		stage_name(__atomic_load_n(&te->start, __ATOMIC_ACQUIRE)));
	fprintf(out, "Outstanding:\n  %s %u: has not stopped for the controller\n", role, image_tid);
	describe(out, tid, secs);
	fflush(out);
}

/* The first outstanding participant, for the one-line summary. */
int hang_culprit(struct restore_ctx *ctx)
{
	struct task_entries *te = &ctx->shared->te;
	int stage = te->start;
	uint32_t i;

	int first = 0, pass;

	/* An outstanding task that is itself waiting on the barrier's futex
	 * (the root waiting for the others) is not the one to blame. */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; stage >= 0 && i < te->nr_slots; i++) {
			char path[64], wchan[128];

			if (!protocol_role_finishes(ctx->proto, stage, te->slots[i].role) ||
			    te->slots[i].stage_reached >= stage)
				continue;
			if (!first)
				first = te->slots[i].pid;
			snprintf(path, sizeof(path), "/proc/%d/wchan", te->slots[i].host_pid);
			read_line(path, wchan, sizeof(wchan));
			if (pass || !strstr(wchan, "futex"))
				return te->slots[i].pid;
		}
	return first ? first : stage >= 0 ? te->slots[0].pid : 0;
}
