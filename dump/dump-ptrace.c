/* dump-ptrace.c: seize the task, keep its registers, run syscalls in it.
 *
 * Order matters here.  PTRACE_INTERRUPT stops the task inside get_signal()
 * (a PTRACE_EVENT_STOP), *before* the kernel applies its syscall restart
 * logic to the interrupted syscall.  Every injected syscall starts from such
 * a stop or from a syscall-exit stop, with orig_ax = -1 so that the restart
 * logic leaves it alone.  After the last one the task is brought back into
 * get_signal() with PTRACE_INTERRUPT + PTRACE_CONT, and only there are the
 * original registers put back: on detach the kernel then restarts (or
 * interrupts) the original syscall exactly as if nothing had happened.  This
 * mirrors what CRIU's compel does when it cures a task. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dump-priv.h"
#include "log.h"

#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif

enum stop_kind {
	STOP_EVENT,		/* PTRACE_EVENT_STOP: inside get_signal */
	STOP_SYSCALL,		/* syscall entry or exit (TRACESYSGOOD) */
	STOP_SIGNAL,		/* signal-delivery-stop: inside get_signal */
	STOP_GONE,		/* exited or killed */
};

static enum stop_kind wait_stop(struct seized *s, int *sig)
{
	int status;

	*sig = 0;
	while (waitpid(s->pid, &status, __WALL) < 0)
		if (errno != EINTR)
			return STOP_GONE;
	if (!WIFSTOPPED(status))
		return STOP_GONE;
	if (status >> 16 == PTRACE_EVENT_STOP)
		return STOP_EVENT;
	*sig = WSTOPSIG(status);
	if (*sig == (SIGTRAP | 0x80))
		return STOP_SYSCALL;
	return STOP_SIGNAL;
}

int task_mem_read(struct seized *s, unsigned long addr, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(s->mem_fd, (char *)buf + done, len - done, addr + done);

		if (n <= 0)
			return error("dump %d: cannot read %zu bytes of memory at %#lx: %s", s->pid,
				     len - done, addr + done, n ? strerror(errno) : "end of file");
		done += n;
	}
	return 0;
}

static int xstate_get(struct seized *s)
{
	struct iovec iov = { s->xstate, sizeof(s->xstate) };

	if (ptrace(PTRACE_GETREGSET, s->pid, (void *)NT_X86_XSTATE, &iov))
		return error("dump %d: PTRACE_GETREGSET NT_X86_XSTATE: %s", s->pid, strerror(errno));
	s->xstate_len = iov.iov_len;
	return 0;
}

int seize_task(struct seized *s)
{
	char path[64];
	int sig, tries;

	if (ptrace(PTRACE_SEIZE, s->pid, NULL, (void *)PTRACE_O_TRACESYSGOOD))
		return error("dump %d: cannot seize the task: %s", s->pid, strerror(errno));
	if (ptrace(PTRACE_INTERRUPT, s->pid, NULL, NULL))
		return error("dump %d: PTRACE_INTERRUPT: %s", s->pid, strerror(errno));
	/* A signal that was already on its way is delivered first: pass it on
	 * and wait for the interrupt's own stop. */
	for (tries = 0;; tries++) {
		enum stop_kind k = wait_stop(s, &sig);

		if (k == STOP_EVENT)
			break;
		if (k == STOP_GONE)
			return error("dump %d: the task exited while being seized", s->pid);
		if (tries > 16)
			return error("dump %d: the task keeps taking signals, cannot stop it", s->pid);
		if (ptrace(PTRACE_CONT, s->pid, NULL, (void *)(long)(k == STOP_SIGNAL ? sig : 0)))
			return error("dump %d: PTRACE_CONT: %s", s->pid, strerror(errno));
	}
	if (ptrace(PTRACE_GETREGS, s->pid, NULL, &s->regs))
		return error("dump %d: PTRACE_GETREGS: %s", s->pid, strerror(errno));
	if (s->regs.cs != 0x33)
		return error("dump %d: the task is not running 64-bit code (cs %#llx): not supported",
			     s->pid, s->regs.cs);
	if (xstate_get(s))
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/mem", s->pid);
	s->mem_fd = open(path, O_RDWR | O_CLOEXEC);
	if (s->mem_fd < 0)
		return error("dump %d: cannot open %s: %s", s->pid, path, strerror(errno));
	return 0;
}

/* Resume with REQ and expect a syscall stop. */
static int step_syscall(struct seized *s, const char *what)
{
	int sig;
	enum stop_kind k;

	if (ptrace(PTRACE_SYSCALL, s->pid, NULL, NULL))
		return error("dump %d: PTRACE_SYSCALL (%s): %s", s->pid, what, strerror(errno));
	k = wait_stop(s, &sig);
	if (k == STOP_SYSCALL) {
		s->in_syscall_stop = 1;
		return 0;
	}
	s->in_syscall_stop = 0;
	if (k == STOP_SIGNAL) {
		s->stray_signal = sig;
		return error("dump %d: signal %d arrived during the dump (%s); try again", s->pid, sig, what);
	}
	if (k == STOP_GONE)
		return error("dump %d: the task died during the dump (%s)", s->pid, what);
	return error("dump %d: unexpected ptrace stop during the dump (%s)", s->pid, what);
}

int inject_syscall(struct seized *s, long nr, unsigned long a1, unsigned long a2,
		   unsigned long a3, unsigned long a4, unsigned long a5, unsigned long a6,
		   long *ret)
{
	struct user_regs_struct r = s->regs;

	r.rax = nr;
	r.rdi = a1;
	r.rsi = a2;
	r.rdx = a3;
	r.r10 = a4;
	r.r8 = a5;
	r.r9 = a6;
	r.rip = s->syscall_ip;
	r.orig_rax = -1;	/* no restart logic on the way back to user mode */
	r.eflags &= ~(0x100UL | 0x400UL);	/* TF, DF */
	if (ptrace(PTRACE_SETREGS, s->pid, NULL, &r))
		return error("dump %d: PTRACE_SETREGS: %s", s->pid, strerror(errno));
	if (step_syscall(s, "syscall entry") || step_syscall(s, "syscall exit"))
		return -1;
	if (ptrace(PTRACE_GETREGS, s->pid, NULL, &r))
		return error("dump %d: PTRACE_GETREGS: %s", s->pid, strerror(errno));
	*ret = (long)r.rax;
	debug("dump %d: injected syscall %ld -> %ld", s->pid, nr, *ret);
	return 0;
}

/* The vdso's syscall fallbacks hold a `syscall` (0f 05); using it writes
 * nothing into the task, so no text page gets copied on write. */
static int find_syscall_ip(struct seized *s)
{
	char maps[64], line[512];
	FILE *f;
	int pass;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", s->pid);
	for (pass = 0; pass < 2 && !s->syscall_ip; pass++) {
		f = fopen(maps, "re");
		if (!f)
			return error("dump %d: cannot open %s: %s", s->pid, maps, strerror(errno));
		while (!s->syscall_ip && fgets(line, sizeof(line), f)) {
			unsigned long start, end, a;
			char perms[8];
			uint8_t buf[4096];

			if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) != 3 || perms[2] != 'x')
				continue;
			if (!pass != !!strstr(line, "[vdso]") || strstr(line, "[vsyscall]"))
				continue;
			for (a = start; a < end && !s->syscall_ip; a += sizeof(buf) - 1) {
				size_t n = end - a < sizeof(buf) ? end - a : sizeof(buf), i;

				if (pread(s->mem_fd, buf, n, a) != (ssize_t)n)
					break;
				for (i = 0; i + 1 < n; i++)
					if (buf[i] == 0x0f && buf[i + 1] == 0x05) {
						s->syscall_ip = a + i;
						break;
					}
			}
		}
		fclose(f);
	}
	if (!s->syscall_ip)
		return error("dump %d: found no syscall instruction in the vdso or the text", s->pid);
	debug("dump %d: injecting syscalls at %#lx", s->pid, s->syscall_ip);
	return 0;
}

int inject_prepare(struct seized *s)
{
	long ret;

	if (find_syscall_ip(s))
		return -1;
	if (inject_syscall(s, SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1UL, 0, &ret))
		return -1;
	if (ret < 0 && ret > -4096)
		return error("dump %d: mmap of a scratch page in the task failed: %s", s->pid, strerror(-ret));
	s->scratch = ret;
	s->scratch_owner = 1;
	return 0;
}

void inject_share(struct seized *s, const struct seized *leader)
{
	s->syscall_ip = leader->syscall_ip;
	s->scratch = leader->scratch;
	s->scratch_owner = 0;
}

/* From a syscall-exit stop back into get_signal(): see the top comment. */
static int back_to_signal_stop(struct seized *s)
{
	int sig;
	enum stop_kind k;

	if (!s->in_syscall_stop)
		return 0;
	if (ptrace(PTRACE_INTERRUPT, s->pid, NULL, NULL) || ptrace(PTRACE_CONT, s->pid, NULL, NULL))
		return error("dump %d: cannot stop the task again: %s", s->pid, strerror(errno));
	k = wait_stop(s, &sig);
	if (k == STOP_SIGNAL) {
		/* Also inside get_signal; the signal is passed on at detach. */
		s->stray_signal = sig;
		k = STOP_EVENT;
	}
	if (k != STOP_EVENT)
		return error("dump %d: the task did not stop after the injected syscalls", s->pid);
	s->in_syscall_stop = 0;
	return 0;
}

int inject_finish(struct seized *s)
{
	long ret;

	if (s->scratch && !s->scratch_owner)
		s->scratch = 0;
	if (s->scratch) {
		if (inject_syscall(s, SYS_munmap, s->scratch, 4096, 0, 0, 0, 0, &ret))
			return -1;
		if (ret)
			return error("dump %d: munmap of the scratch page failed: %s", s->pid, strerror(-ret));
		s->scratch = 0;
	}
	return back_to_signal_stop(s);
}

void reap_traced(struct seized *s)
{
	int sig;

	/* As tracer we see the death first; then the parent can reap it. */
	while (wait_stop(s, &sig) != STOP_GONE)
		ptrace(PTRACE_CONT, s->pid, NULL, NULL);
}

int release_task(struct seized *s, int kill_it)
{
	struct iovec iov = { s->xstate, s->xstate_len };
	int ret = 0;

	if (s->scratch && !kill_it)
		inject_finish(s);	/* best effort on an error path */
	if (back_to_signal_stop(s))
		ret = -1;
	if (ptrace(PTRACE_SETREGS, s->pid, NULL, &s->regs))
		ret = error("dump %d: cannot put the registers back: %s", s->pid, strerror(errno));
	if (s->xstate_len && ptrace(PTRACE_SETREGSET, s->pid, (void *)NT_X86_XSTATE, &iov))
		ret = error("dump %d: cannot put the FPU state back: %s", s->pid, strerror(errno));
	if (s->mem_fd >= 0)
		close(s->mem_fd);
	s->mem_fd = -1;
	if (kill_it) {
		if (kill(s->pid, SIGKILL))
			return error("dump %d: cannot kill the task: %s", s->pid, strerror(errno));
		reap_traced(s);
		return ret;
	}
	if (ptrace(PTRACE_DETACH, s->pid, NULL, (void *)(long)s->stray_signal))
		ret = error("dump %d: PTRACE_DETACH: %s", s->pid, strerror(errno));
	return ret;
}
