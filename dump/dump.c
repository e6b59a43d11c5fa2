/* dump.c: `crstep dump`: write CRIU 4.2 images of a live process tree,
 * the way `criu dump -t PID` lays them out.
 *
 * Order (each step needs the one before):
 *   1. walk the tree depth first from the root (task/TID/children of every
 *      thread), seizing and interrupting every thread of a process before
 *      listing its children, so that the whole tree is frozen before
 *      anything of it is read; zombies are only read from /proc;
 *   2. per process, in pstree order: read what only the task itself can
 *      tell (itimers, sigactions, brk, and per thread sigaltstack, prctl
 *      values) by injecting syscalls, the leader's scratch page shared by
 *      its threads; then the memory layout (so the injection leaves no
 *      trace in mm-PID), the fds and cwd/root, in CRIU's file id order;
 *   3. write every image, then SIGKILL the tree (criu's default) or put
 *      the registers back and detach.
 * Ids are numbered like CRIU: the inventory's root_ids are the dumper's own
 * (1), each process's kernel objects get 2, 3, ... unless kcmp(2) finds
 * them shared with an earlier process; namespaces 1..8 in CRIU's order;
 * pages-N in dump order, a shared memory object before the task that
 * first maps it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cpuid.h>
#include <dirent.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <asm/ldt.h>

#include "dump.h"
#include "dump-priv.h"
#include "log.h"

/* ---- allocation ------------------------------------------------------- */

static void **allocs;
static size_t nr_allocs, cap_allocs;

void *dump_zalloc(size_t size)
{
	void *p = calloc(1, size ? size : 1);

	if (!p)
		die(EXIT_FAIL, "out of memory");
	if (nr_allocs == cap_allocs) {
		cap_allocs = cap_allocs ? cap_allocs * 2 : 256;
		allocs = realloc(allocs, cap_allocs * sizeof(*allocs));
		if (!allocs)
			die(EXIT_FAIL, "out of memory");
	}
	allocs[nr_allocs++] = p;
	return p;
}

char *dump_strdup(const char *s)
{
	char *p = dump_zalloc(strlen(s) + 1);

	memcpy(p, s, strlen(s));
	return p;
}

void dump_free_all(void)
{
	while (nr_allocs)
		free(allocs[--nr_allocs]);
	free(allocs);
	allocs = NULL;
	cap_allocs = 0;
}

/* ---- /proc ------------------------------------------------------------ */

int proc_read(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[128];
	size_t len = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error("dump %d: cannot open %s: %s", pid, path, strerror(errno));
	while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = 0;
	return len;
}

/* A /proc file of any length, in a malloc'd string (*out); its length or -1. */
static ssize_t proc_read_all(pid_t pid, const char *name, char **out)
{
	size_t size = 4096, len = 0;
	char path[128], *buf = malloc(size);
	ssize_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return error("dump %d: cannot read %s: %s", pid, path, strerror(fd < 0 ? errno : ENOMEM));
	}
	for (;;) {
		char *more;

		if (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0) {
			len += n;
			continue;
		}
		if (n <= 0 || !(more = realloc(buf, size * 2)))
			break;
		buf = more;
		size *= 2;
	}
	close(fd);
	buf[len] = 0;
	*out = buf;
	return n < 0 ? (free(buf), error("dump %d: cannot read %s: %s", pid, path, strerror(errno))) : (ssize_t)len;
}

int status_field(const char *status, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);
	const char *p = status;

	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == ':') {
			p += klen + 1;
			p += strspn(p, " \t");
			snprintf(out, size, "%.*s", (int)strcspn(p, "\n"), p);
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

static unsigned long long status_hex(const char *status, const char *key)
{
	char v[64] = "0";

	status_field(status, key, v, sizeof(v));
	return strtoull(v, NULL, 16);
}

/* ---- writing images ----------------------------------------------------- */

int img_write(const char *dir, const char *file, const char *type, ProtobufCMessage **msgs, size_t nr)
{
	return img_write_extra(dir, file, type, msgs, nr, NULL, NULL);
}

int img_write_extra(const char *dir, const char *file, const char *type, ProtobufCMessage **msgs,
		    size_t nr, uint8_t *const *extra, const size_t *extra_len)
{
	const struct img_desc *d = img_desc_by_name(type);
	char path[512];
	uint32_t magic[2];
	size_t i;
	FILE *f;

	if (!d)
		return error("dump: no image type %s", type);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "we");
	if (!f)
		return error("dump: cannot create %s: %s", path, strerror(errno));
	magic[0] = (d->flags & IMG_NO_COMMON) ? d->magic : IMG_COMMON_MAGIC;
	magic[1] = d->magic;
	fwrite(magic, sizeof(uint32_t), (d->flags & IMG_NO_COMMON) ? 1 : 2, f);
	for (i = 0; i < nr; i++) {
		uint32_t len = protobuf_c_message_get_packed_size(msgs[i]);
		uint8_t *buf = malloc(len ? len : 1);

		if (!buf)
			die(EXIT_FAIL, "out of memory");
		protobuf_c_message_pack(msgs[i], buf);
		fwrite(&len, sizeof(len), 1, f);
		fwrite(buf, 1, len, f);
		free(buf);
		if (extra && extra_len[i])
			fwrite(extra[i], 1, extra_len[i], f);
	}
	if (ferror(f) | fclose(f))
		return error("dump: cannot write %s: %s", path, strerror(errno));
	debug("dump: wrote %s (%zu entries)", path, nr);
	return 0;
}

#define MSG(m) ((ProtobufCMessage *)(m))

/* ---- what /proc says ---------------------------------------------------- */

struct task_info {
	char stat[2048];
	const char *stat_fields[64];	/* 1-based like proc(5) */
	char status[8192];
	char comm[32];
	unsigned personality;
	unsigned loginuid;
	int oom_score_adj;
	unsigned umask;
	int same_cgroup;
};

static int split_stat(pid_t pid, struct task_info *ti)
{
	char *p = strrchr(ti->stat, ')'), *save = NULL, *tok;
	int k = 3;

	if (!p)
		return error("dump %d: cannot parse /proc/%d/stat", pid, pid);
	for (tok = strtok_r(p + 1, " \n", &save); tok && k < 64; tok = strtok_r(NULL, " \n", &save))
		ti->stat_fields[k++] = tok;
	if (k <= 51)
		return error("dump %d: /proc/%d/stat has only %d fields", pid, pid, k - 1);
	return 0;
}

static int read_task_info(pid_t pid, struct task_info *ti)
{
	char buf[4096], self[4096], v[64];

	if (proc_read(pid, "stat", ti->stat, sizeof(ti->stat)) < 0 || split_stat(pid, ti) ||
	    proc_read(pid, "status", ti->status, sizeof(ti->status)) < 0 ||
	    proc_read(pid, "comm", ti->comm, sizeof(ti->comm)) < 0)
		return -1;
	ti->comm[strcspn(ti->comm, "\n")] = 0;
	if (proc_read(pid, "personality", buf, sizeof(buf)) < 0)
		return -1;
	ti->personality = strtoul(buf, NULL, 16);
	if (proc_read(pid, "loginuid", buf, sizeof(buf)) < 0)
		return -1;
	ti->loginuid = strtoul(buf, NULL, 10);
	if (proc_read(pid, "oom_score_adj", buf, sizeof(buf)) < 0)
		return -1;
	ti->oom_score_adj = atoi(buf);
	if (status_field(ti->status, "Umask", v, sizeof(v)))
		return error("dump %d: no Umask in /proc/%d/status", pid, pid);
	ti->umask = strtoul(v, NULL, 8);
	if (proc_read(pid, "cgroup", buf, sizeof(buf)) < 0 || proc_read(getpid(), "cgroup", self, sizeof(self)) < 0)
		return -1;
	ti->same_cgroup = !strcmp(buf, self);
	return 0;
}

/* What crstep dump can honour; everything else is refused up front. */
static int check_dumpable(pid_t pid, const struct task_info *ti, int seized)
{
	static const char *const ns[] = { "pid", "net", "ipc", "uts", "time", "mnt", "user", "cgroup" };
	char path[64], v[64];
	struct stat a, b;
	size_t i;

	/* Once seized the task shows 't' (tracing stop) itself. */
	switch (seized ? 0 : ti->stat_fields[3][0]) {
	case 'X':
		return error("dump %d: the task is dead", pid);
	case 'T': case 't':
		return error("dump %d: the task is stopped: not supported", pid);
	}
	if (status_field(ti->status, "Seccomp", v, sizeof(v)) || atoi(v) != 0)
		return error("dump %d: the task uses seccomp (mode %s): not supported", pid, v);
	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ns[i]);
		if (stat(path, &a))
			return error("dump %d: cannot stat %s: %s", pid, path, strerror(errno));
		snprintf(path, sizeof(path), "/proc/self/ns/%s", ns[i]);
		if (!stat(path, &b) && (a.st_ino != b.st_ino || a.st_dev != b.st_dev))
			return error("dump %d: the task is in another %s namespace than crstep: not supported",
				     pid, ns[i]);
	}
	return 0;
}

/* A thread's own view: task/TID/status (mask, creds) and comm. */
static int read_thread_info(pid_t pid, pid_t tid, struct task_info *ti)
{
	char name[64];

	snprintf(name, sizeof(name), "task/%d/status", tid);
	if (proc_read(pid, name, ti->status, sizeof(ti->status)) < 0)
		return -1;
	snprintf(name, sizeof(name), "task/%d/comm", tid);
	if (proc_read(pid, name, ti->comm, sizeof(ti->comm)) < 0)
		return -1;
	ti->comm[strcspn(ti->comm, "\n")] = 0;
	return 0;
}

/* ---- what only the task can tell (injected syscalls) ------------------- */

/* Per process, asked of the leader. */
struct injected {
	struct itimerval itimers[3];
	struct { uint64_t handler, flags, restorer, mask; } sa[65];
	int child_subreaper;
	long dumpable, brk;
};

/* Per thread, asked of each thread: these live in the task_struct. */
struct thread_injected {
	struct { uint64_t sp; int32_t flags, pad; uint64_t size; } sas;
	uint64_t clear_tid;
	int pdeath_sig;
	long securebits;
};

static int inject_read(struct seized *s, long nr, unsigned long a1, unsigned long a2,
		       unsigned long a3, unsigned long a4, void *out, size_t len)
{
	long ret;

	if (inject_syscall(s, nr, a1, a2, a3, a4, 0, 0, &ret))
		return -1;
	if (ret < 0)
		return error("dump %d: injected syscall %ld failed: %s", s->pid, nr, strerror(-ret));
	return out ? task_mem_read(s, s->scratch, out, len) : 0;
}

static int inject_process(struct seized *s, struct injected *in)
{
	int sig, i;

	for (i = 0; i < 3; i++)
		if (inject_read(s, SYS_getitimer, i, s->scratch, 0, 0, &in->itimers[i], sizeof(in->itimers[i])))
			return -1;
	for (sig = 1; sig <= 64; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (inject_read(s, SYS_rt_sigaction, sig, 0, s->scratch, 8, &in->sa[sig], sizeof(in->sa[sig])))
			return -1;
	}
	if (inject_read(s, SYS_prctl, PR_GET_CHILD_SUBREAPER, s->scratch, 0, 0, &in->child_subreaper, sizeof(int)) ||
	    inject_syscall(s, SYS_prctl, PR_GET_DUMPABLE, 0, 0, 0, 0, 0, &in->dumpable) ||
	    inject_syscall(s, SYS_brk, 0, 0, 0, 0, 0, 0, &in->brk))
		return -1;
	if (in->dumpable < 0)
		return error("dump %d: prctl in the task failed", s->pid);
	return 0;
}

static int inject_thread(struct seized *s, struct thread_injected *in)
{
	if (inject_read(s, SYS_sigaltstack, 0, s->scratch, 0, 0, &in->sas, sizeof(in->sas)) ||
	    inject_read(s, SYS_prctl, PR_GET_PDEATHSIG, s->scratch, 0, 0, &in->pdeath_sig, sizeof(int)) ||
	    inject_read(s, SYS_prctl, PR_GET_TID_ADDRESS, s->scratch, 0, 0, &in->clear_tid, sizeof(uint64_t)) ||
	    inject_syscall(s, SYS_prctl, PR_GET_SECUREBITS, 0, 0, 0, 0, 0, &in->securebits))
		return -1;
	if (in->securebits < 0)
		return error("dump %d: prctl in the task failed", s->pid);
	return 0;
}

/* ---- core-PID.img ------------------------------------------------------- */

/* CRIU's get_task_regs(): a syscall interrupted by the freeze is recorded
 * as the kernel would restart it, RESTART_RESTARTBLOCK as -EINTR. */
static UserX86RegsEntry *core_gpregs(const struct user_regs_struct *r)
{
	UserX86RegsEntry *g = dump_zalloc(sizeof(*g));

	user_x86_regs_entry__init(g);
	g->r15 = r->r15; g->r14 = r->r14; g->r13 = r->r13; g->r12 = r->r12;
	g->bp = r->rbp; g->bx = r->rbx; g->r11 = r->r11; g->r10 = r->r10;
	g->r9 = r->r9; g->r8 = r->r8; g->ax = r->rax; g->cx = r->rcx;
	g->dx = r->rdx; g->si = r->rsi; g->di = r->rdi; g->orig_ax = r->orig_rax;
	g->ip = r->rip; g->cs = r->cs; g->flags = r->eflags; g->sp = r->rsp;
	g->ss = r->ss; g->fs_base = r->fs_base; g->gs_base = r->gs_base;
	g->ds = r->ds; g->es = r->es; g->fs = r->fs; g->gs = r->gs;
	g->has_mode = 1;
	g->mode = USER_X86_REGS_MODE__NATIVE;
	if ((long)r->orig_rax >= 0) {
		switch ((long)r->rax) {
		case -512: case -513: case -514:	/* ERESTARTSYS, NOINTR, NOHAND */
			g->ax = r->orig_rax;
			g->ip -= 2;
			break;
		case -516:				/* ERESTART_RESTARTBLOCK */
			info("dump: will restore with an interrupted system call (%llu)", r->orig_rax);
			g->ax = (uint64_t)-EINTR;
			break;
		}
	}
	return g;
}

static void *copy_words(const uint8_t *src, size_t bytes)
{
	void *p = dump_zalloc(bytes);

	memcpy(p, src, bytes);
	return p;
}

static int core_fpregs(const struct seized *s, UserX86FpregsEntry **out)
{
	const uint8_t *x = s->xstate;
	UserX86FpregsEntry *fp = dump_zalloc(sizeof(*fp));
	UserX86XsaveEntry *xs = dump_zalloc(sizeof(*xs));
	uint32_t lo, hi, eax, ebx, ecx, edx;
	uint64_t xcr0, known = 0x3;
	uint16_t w16[4];
	struct { int bit; size_t bytes; size_t *n; void **dst; size_t elem; } comps[] = {
		{ 2, 256, &xs->n_ymmh_space, (void **)&xs->ymmh_space, 4 },
		{ 3, 64, &xs->n_bndreg_state, (void **)&xs->bndreg_state, 8 },
		{ 4, 16, &xs->n_bndcsr_state, (void **)&xs->bndcsr_state, 8 },
		{ 5, 64, &xs->n_opmask_reg, (void **)&xs->opmask_reg, 8 },
		{ 6, 512, &xs->n_zmm_upper, (void **)&xs->zmm_upper, 8 },
		{ 7, 1024, &xs->n_hi16_zmm, (void **)&xs->hi16_zmm, 8 },
		{ 9, 8, &xs->n_pkru, (void **)&xs->pkru, 4 },
	};
	size_t i;

	if (s->xstate_len < 576)
		return error("dump %d: the xstate is only %zu bytes", s->pid, s->xstate_len);
	user_x86_fpregs_entry__init(fp);
	memcpy(w16, x, sizeof(w16));
	fp->cwd = w16[0];
	fp->swd = w16[1];
	fp->twd = w16[2];
	fp->fop = w16[3];
	memcpy(&fp->rip, x + 8, 8);
	memcpy(&fp->rdp, x + 16, 8);
	memcpy(&fp->mxcsr, x + 24, 4);
	memcpy(&fp->mxcsr_mask, x + 28, 4);
	fp->n_st_space = 32;
	fp->st_space = copy_words(x + 32, 128);
	fp->n_xmm_space = 64;
	fp->xmm_space = copy_words(x + 160, 256);

	user_x86_xsave_entry__init(xs);
	memcpy(&xs->xstate_bv, x + 512, 8);
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	xcr0 = ((uint64_t)hi << 32) | lo;
	/* As CRIU: every component the kernel has enabled is recorded, whether
	 * or not it is in its init state (xstate_bv says which are live). */
	for (i = 0; i < sizeof(comps) / sizeof(comps[0]); i++) {
		known |= 1ULL << comps[i].bit;
		if (!(xcr0 & (1ULL << comps[i].bit)))
			continue;
		__cpuid_count(0xd, comps[i].bit, eax, ebx, ecx, edx);
		(void)ecx; (void)edx;
		if (eax < comps[i].bytes || ebx + comps[i].bytes > s->xstate_len)
			return error("dump %d: xsave component %d at %u (+%u) does not fit the %zu-byte xstate",
				     s->pid, comps[i].bit, ebx, eax, s->xstate_len);
		*comps[i].n = comps[i].bytes / comps[i].elem;
		*comps[i].dst = copy_words(x + ebx, comps[i].bytes);
	}
	if (xs->xstate_bv & ~known)
		return error("dump %d: xstate_bv %#llx has components crstep cannot record (%#llx)", s->pid,
			     (unsigned long long)xs->xstate_bv, (unsigned long long)(xs->xstate_bv & ~known));
	fp->xsave = xs;
	*out = fp;
	return 0;
}

static int core_tls(pid_t pid, ThreadInfoX86 *ti)
{
	int i;

	ti->n_tls = 3;
	ti->tls = dump_zalloc(3 * sizeof(*ti->tls));
	for (i = 0; i < 3; i++) {
		struct user_desc d = { 0 };
		UserDescT *t = dump_zalloc(sizeof(*t));

		if (ptrace(PTRACE_GET_THREAD_AREA, pid, (void *)(long)(12 + i), &d))
			return error("dump %d: PTRACE_GET_THREAD_AREA %d: %s", pid, 12 + i, strerror(errno));
		user_desc_t__init(t);
		t->entry_number = d.entry_number;
		t->base_addr = d.base_addr;
		t->limit = d.limit;
		t->seg_32bit = d.seg_32bit;
		t->contents_h = (d.contents >> 1) & 1;
		t->contents_l = d.contents & 1;
		t->read_exec_only = d.read_exec_only;
		t->limit_in_pages = d.limit_in_pages;
		t->seg_not_present = d.seg_not_present;
		t->usable = d.useable;
		ti->tls[i] = t;
	}
	return 0;
}

/* Pending signals, private or shared, read without dequeueing them. */
static int signal_queue(pid_t pid, int shared, SignalQueueEntry **out)
{
	struct { uint64_t off; uint32_t flags; int32_t nr; } args = { 0, shared ? 1 : 0, 1 };
	SignalQueueEntry *q = dump_zalloc(sizeof(*q));
	uint8_t si[128];

	signal_queue_entry__init(q);
	*out = q;
	for (;;) {
		long n = ptrace(PTRACE_PEEKSIGINFO, pid, &args, si);
		SiginfoEntry *e;

		if (n < 0)
			return error("dump %d: PTRACE_PEEKSIGINFO: %s", pid, strerror(errno));
		if (n == 0) {
			/* The array joins the others released by dump_free_all(). */
			SiginfoEntry **all = dump_zalloc((q->n_signals + 1) * sizeof(*all));

			if (q->n_signals)
				memcpy(all, q->signals, q->n_signals * sizeof(*all));
			free(q->signals);
			q->signals = all;
			return 0;
		}
		e = dump_zalloc(sizeof(*e));
		siginfo_entry__init(e);
		e->siginfo.len = sizeof(si);
		e->siginfo.data = copy_words(si, sizeof(si));
		q->signals = realloc(q->signals, (q->n_signals + 1) * sizeof(*q->signals));
		if (!q->signals)
			die(EXIT_FAIL, "out of memory");
		q->signals[q->n_signals++] = e;
		args.off++;
	}
}

static void timer_fill(ItimerEntry *e, const struct itimerval *v)
{
	itimer_entry__init(e);
	e->isec = v->it_interval.tv_sec;
	e->iusec = v->it_interval.tv_usec;
	e->vsec = v->it_value.tv_sec;
	e->vusec = v->it_value.tv_usec;
}

static TaskCoreEntry *core_tc(pid_t pid, const struct task_info *ti, const struct injected *in)
{
	TaskCoreEntry *tc = dump_zalloc(sizeof(*tc));
	TaskTimersEntry *tm = dump_zalloc(sizeof(*tm));
	TaskRlimitsEntry *rl = dump_zalloc(sizeof(*rl));
	int sig, i;

	task_core_entry__init(tc);
	tc->task_state = TASK_ALIVE;
	tc->personality = ti->personality;
	tc->flags = strtoul(ti->stat_fields[9], NULL, 10);
	tc->blk_sigset = status_hex(ti->status, "SigBlk");
	tc->comm = dump_strdup(ti->comm);

	task_timers_entry__init(tm);
	tm->real = dump_zalloc(sizeof(ItimerEntry));
	tm->virt = dump_zalloc(sizeof(ItimerEntry));
	tm->prof = dump_zalloc(sizeof(ItimerEntry));
	timer_fill(tm->real, &in->itimers[ITIMER_REAL]);
	timer_fill(tm->virt, &in->itimers[ITIMER_VIRTUAL]);
	timer_fill(tm->prof, &in->itimers[ITIMER_PROF]);
	tc->timers = tm;

	task_rlimits_entry__init(rl);
	rl->n_rlimits = RLIM_NLIMITS;
	rl->rlimits = dump_zalloc(RLIM_NLIMITS * sizeof(*rl->rlimits));
	for (i = 0; i < RLIM_NLIMITS; i++) {
		struct rlimit r = { 0, 0 };
		RlimitEntry *e = dump_zalloc(sizeof(*e));

		if (prlimit(pid, i, NULL, &r))
			return error("dump %d: prlimit %d: %s", pid, i, strerror(errno)), NULL;
		rlimit_entry__init(e);
		e->cur = r.rlim_cur;
		e->max = r.rlim_max;
		rl->rlimits[i] = e;
	}
	tc->rlimits = rl;

	if (signal_queue(pid, 1, &tc->signals_s))
		return NULL;
	tc->has_loginuid = 1;
	tc->loginuid = ti->loginuid;
	tc->has_oom_score_adj = 1;
	tc->oom_score_adj = ti->oom_score_adj;
	tc->sigactions = dump_zalloc(64 * sizeof(*tc->sigactions));
	for (sig = 1; sig <= 64; sig++) {
		SaEntry *sa;

		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		sa = dump_zalloc(sizeof(*sa));
		sa_entry__init(sa);
		sa->sigaction = in->sa[sig].handler;
		sa->flags = in->sa[sig].flags;
		sa->restorer = in->sa[sig].restorer;
		sa->mask = in->sa[sig].mask;
		sa->has_compat_sigaction = 1;
		tc->sigactions[tc->n_sigactions++] = sa;
	}
	tc->has_child_subreaper = 1;
	tc->child_subreaper = in->child_subreaper != 0;
	return tc;
}

static CredsEntry *core_creds(const struct task_info *ti, const struct thread_injected *in)
{
	CredsEntry *c = dump_zalloc(sizeof(*c));
	static const char *const caps[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
	uint32_t **dst[] = { &c->cap_inh, &c->cap_prm, &c->cap_eff, &c->cap_bnd, &c->cap_amb };
	size_t *n[] = { &c->n_cap_inh, &c->n_cap_prm, &c->n_cap_eff, &c->n_cap_bnd, &c->n_cap_amb };
	char v[256], *p, *end;
	unsigned u[4] = { 0 }, g[4] = { 0 };
	size_t i;

	creds_entry__init(c);
	status_field(ti->status, "Uid", v, sizeof(v));
	sscanf(v, "%u %u %u %u", &u[0], &u[1], &u[2], &u[3]);
	status_field(ti->status, "Gid", v, sizeof(v));
	sscanf(v, "%u %u %u %u", &g[0], &g[1], &g[2], &g[3]);
	c->uid = u[0]; c->euid = u[1]; c->suid = u[2]; c->fsuid = u[3];
	c->gid = g[0]; c->egid = g[1]; c->sgid = g[2]; c->fsgid = g[3];
	for (i = 0; i < 5; i++) {
		unsigned long long cap = status_hex(ti->status, caps[i]);

		*n[i] = 2;
		*dst[i] = dump_zalloc(2 * sizeof(uint32_t));
		(*dst[i])[0] = (uint32_t)cap;
		(*dst[i])[1] = (uint32_t)(cap >> 32);
	}
	c->secbits = in->securebits;
	v[0] = 0;
	status_field(ti->status, "Groups", v, sizeof(v));
	c->groups = dump_zalloc(sizeof(uint32_t) * 64);
	for (p = v; c->n_groups < 64; p = end) {
		unsigned long gid = strtoul(p, &end, 10);

		if (end == p)
			break;
		c->groups[c->n_groups++] = gid;
	}
	status_field(ti->status, "NoNewPrivs", v, sizeof(v));
	if (atoi(v)) {
		c->has_no_new_privs = 1;
		c->no_new_privs = 1;
	}
	return c;
}

static ThreadCoreEntry *core_thread(pid_t pid, const struct task_info *ti, const struct thread_injected *in,
				    int same_cgroup)
{
	ThreadCoreEntry *th = dump_zalloc(sizeof(*th));
	ThreadSasEntry *sas = dump_zalloc(sizeof(*sas));
	RseqEntry *rs = dump_zalloc(sizeof(*rs));
	struct { uint64_t ptr; uint32_t size, sig, flags, pad; } rseq = { 0 };
	struct sched_param sp;
	void *head = NULL;
	size_t len = 0;
	int policy;

	thread_core_entry__init(th);
	if (syscall(SYS_get_robust_list, pid, &head, &len))
		return error("dump %d: get_robust_list: %s", pid, strerror(errno)), NULL;
	th->futex_rla = (uintptr_t)head;
	th->futex_rla_len = len;
	errno = 0;
	th->sched_nice = getpriority(PRIO_PROCESS, pid);
	if (errno)
		return error("dump %d: getpriority: %s", pid, strerror(errno)), NULL;
	th->has_sched_nice = 1;
	policy = sched_getscheduler(pid);
	if (policy < 0)
		return error("dump %d: sched_getscheduler: %s", pid, strerror(errno)), NULL;
	th->has_sched_policy = 1;
	th->sched_policy = policy;
	if (policy == SCHED_FIFO || policy == SCHED_RR) {
		if (sched_getparam(pid, &sp))
			return error("dump %d: sched_getparam: %s", pid, strerror(errno)), NULL;
		th->has_sched_prio = 1;
		th->sched_prio = sp.sched_priority;
	}
	if (in->pdeath_sig) {
		th->has_pdeath_sig = 1;
		th->pdeath_sig = in->pdeath_sig;
	}
	thread_sas_entry__init(sas);
	sas->ss_sp = in->sas.sp;
	sas->ss_size = in->sas.size;
	sas->ss_flags = in->sas.flags;
	th->sas = sas;
	if (signal_queue(pid, 0, &th->signals_p))
		return NULL;
	th->creds = core_creds(ti, in);
	th->comm = dump_strdup(ti->comm);
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, pid, (void *)sizeof(rseq), &rseq) < 0)
		return error("dump %d: PTRACE_GET_RSEQ_CONFIGURATION: %s", pid, strerror(errno)), NULL;
	rseq_entry__init(rs);
	rs->rseq_abi_pointer = rseq.ptr;
	rs->rseq_abi_size = rseq.size;
	rs->signature = rseq.sig;
	th->rseq_entry = rs;
	if (same_cgroup) {
		th->has_cg_set = 1;
		th->cg_set = 1;
	}
	return th;
}

/* ---- the tree ------------------------------------------------------------ */

struct dump_thread {
	struct seized s;
	struct task_info *ti;		/* task/TID/status and comm */
	struct thread_injected in;
};

struct dump_proc {
	pid_t pid, ppid;
	int zombie;
	struct task_info *ti;
	size_t nr_threads;
	struct dump_thread *th;		/* th[0] is the leader */
	struct injected in;
	/* task_kobj_ids: shared objects (kcmp) share an id, as CRIU's kid tree */
	uint32_t vm_id, files_id, fs_id, sighand_id;
	int files_owner;		/* the first process with its files table */
	uint32_t pages_id, cwd_id, root_id;
	struct dump_mm m;
	FdinfoEntry **fdinfo;
	size_t nr_fd;
};

struct dump_tree {
	size_t nr, cap;
	struct dump_proc *p;
};

static int thread_known(const struct dump_proc *p, pid_t tid)
{
	size_t i;

	for (i = 0; i < p->nr_threads; i++)
		if (p->th[i].s.pid == tid)
			return 1;
	return 0;
}

static struct dump_thread *thread_add(struct dump_proc *p, pid_t tid)
{
	struct dump_thread *t;

	p->th = realloc(p->th, (p->nr_threads + 1) * sizeof(*p->th));
	if (!p->th)
		die(EXIT_FAIL, "out of memory");
	t = &p->th[p->nr_threads++];
	memset(t, 0, sizeof(*t));
	t->s.pid = tid;
	t->s.mem_fd = -1;
	return t;
}

/* Seize every thread, the leader first; list again until a pass finds no
 * new one, since a running thread may clone until it is stopped. */
static int seize_threads(struct dump_proc *p)
{
	char path[64];
	int found = 1;

	if (!p->nr_threads && seize_task(&thread_add(p, p->pid)->s))
		return -1;
	while (found) {
		struct dirent *de;
		DIR *d;

		found = 0;
		snprintf(path, sizeof(path), "/proc/%d/task", p->pid);
		d = opendir(path);
		if (!d)
			return error("dump %d: cannot list %s: %s", p->pid, path, strerror(errno));
		while ((de = readdir(d))) {
			pid_t tid = atoi(de->d_name);

			if (tid <= 0 || thread_known(p, tid))
				continue;
			found = 1;
			if (seize_task(&thread_add(p, tid)->s)) {
				closedir(d);
				return -1;
			}
		}
		closedir(d);
	}
	return 0;
}

static struct dump_proc *proc_add(struct dump_tree *t, pid_t pid, pid_t ppid)
{
	struct dump_proc *p;

	if (t->nr == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		t->p = realloc(t->p, t->cap * sizeof(*t->p));
		if (!t->p)
			die(EXIT_FAIL, "out of memory");
	}
	p = &t->p[t->nr++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->ppid = ppid;
	p->ti = calloc(1, sizeof(*p->ti));
	if (!p->ti)
		die(EXIT_FAIL, "out of memory");
	return p;
}

/* Depth first, parents before children, as CRIU's pstree: a parent is
 * frozen before its children are listed, so it cannot fork a new one. */
static int collect_tree(struct dump_tree *t, pid_t pid, pid_t ppid)
{
	size_t me = t->nr, i;
	struct dump_proc *p = proc_add(t, pid, ppid);
	char name[64], *kids = NULL, *tok, *save = NULL;
	pid_t *child = NULL;
	size_t nr_child = 0, max_child = 0;
	int ret = 0;

	/* A zombie keeps only its stat and comm readable. */
	if (proc_read(pid, "stat", p->ti->stat, sizeof(p->ti->stat)) < 0 || split_stat(pid, p->ti) ||
	    proc_read(pid, "comm", p->ti->comm, sizeof(p->ti->comm)) < 0)
		return -1;
	p->ti->comm[strcspn(p->ti->comm, "\n")] = 0;
	if (p->ti->stat_fields[3][0] == 'Z') {
		p->zombie = 1;
		return 0;
	}
	if (read_task_info(pid, p->ti) || check_dumpable(pid, p->ti, 0) || seize_threads(p))
		return -1;
	for (i = 0; i < p->nr_threads; i++) {
		snprintf(name, sizeof(name), "task/%d/children", p->th[i].s.pid);
		if (proc_read_all(pid, name, &kids) < 0) {
			free(child);
			return -1;
		}
		for (tok = strtok_r(kids, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
			if (nr_child == max_child) {
				pid_t *more = realloc(child, (max_child * 2 + 16) * sizeof(*child));

				if (!more)
					die(EXIT_FAIL, "out of memory");
				child = more;
				max_child = max_child * 2 + 16;
			}
			child[nr_child++] = atoi(tok);
		}
		free(kids);
	}
	for (i = 0; i < nr_child && !ret; i++)
		ret = collect_tree(t, child[i], t->p[me].pid);
	free(child);
	return ret;
}

/* ---- per process, all frozen ---------------------------------------------- */

static int inject_proc(struct dump_proc *p)
{
	struct seized *leader = &p->th[0].s;
	size_t i;

	if (inject_prepare(leader) || inject_process(leader, &p->in) || inject_thread(leader, &p->th[0].in))
		return -1;
	for (i = 1; i < p->nr_threads; i++) {
		inject_share(&p->th[i].s, leader);
		if (inject_thread(&p->th[i].s, &p->th[i].in) || inject_finish(&p->th[i].s))
			return -1;
	}
	/* The leader unmaps the page last: the others used it too. */
	return inject_finish(leader);
}

/* kcmp(2) types: 0 VM, 2 FILES, 3 FS, 4 SIGHAND (linux/kcmp.h). */
static uint32_t kobj_id(const struct dump_tree *t, size_t me, int type, size_t field, uint32_t *next)
{
	size_t i;

	for (i = 0; i < me; i++) {
		const struct dump_proc *o = &t->p[i];

		if (!o->zombie && syscall(SYS_kcmp, o->pid, t->p[me].pid, type, 0, 0) == 0)
			return *(const uint32_t *)((const char *)o + field);
	}
	return ++*next;
}

static int proc_path_id(struct dump_files *files, pid_t pid, const char *what, uint32_t *id)
{
	char link[64], name[512];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/%s", pid, what);
	n = readlink(link, name, sizeof(name) - 1);
	if (n < 0)
		return error("dump %d: cannot read %s: %s", pid, link, strerror(errno));
	name[n] = 0;
	return files_fs(files, link, name, id);
}

static int collect_proc(struct dump_tree *t, size_t me, struct dump_files *files, uint32_t next[4])
{
	struct dump_proc *p = &t->p[me];
	char thp[16] = "1";
	size_t i;

	if (read_task_info(p->pid, p->ti) || check_dumpable(p->pid, p->ti, 1))
		return -1;
	for (i = 0; i < p->nr_threads; i++) {
		p->th[i].ti = calloc(1, sizeof(*p->th[i].ti));
		if (!p->th[i].ti)
			die(EXIT_FAIL, "out of memory");
		if (read_thread_info(p->pid, p->th[i].s.pid, p->th[i].ti))
			return -1;
	}
	if (inject_proc(p))
		return -1;
	p->vm_id = kobj_id(t, me, 0, offsetof(struct dump_proc, vm_id), &next[0]);
	p->files_id = kobj_id(t, me, 2, offsetof(struct dump_proc, files_id), &next[1]);
	p->fs_id = kobj_id(t, me, 3, offsetof(struct dump_proc, fs_id), &next[2]);
	p->sighand_id = kobj_id(t, me, 4, offsetof(struct dump_proc, sighand_id), &next[3]);
	p->files_owner = p->files_id == next[1];
	status_field(p->ti->status, "THP_enabled", thp, sizeof(thp));
	/* Order of file ids as CRIU: mappings + exe, fds, then cwd and root;
	 * a shared memory object met in the mappings takes a pages id first. */
	if (mm_collect(&p->th[0].s, files, p->ti->stat_fields, p->in.brk, p->in.dumpable, !atoi(thp), &p->m))
		return -1;
	p->pages_id = ++files->next_pages_id;
	if (p->files_owner && files_dump_fds(files, p->pid, &p->fdinfo, &p->nr_fd))
		return -1;
	return proc_path_id(files, p->pid, "cwd", &p->cwd_id) ||
	       proc_path_id(files, p->pid, "root", &p->root_id) ? -1 : 0;
}

/* ---- writing ----------------------------------------------------------------- */

static void ids_fill(TaskKobjIdsEntry *ids, uint32_t vm, uint32_t files, uint32_t fs, uint32_t sighand)
{
	task_kobj_ids_entry__init(ids);
	ids->vm_id = vm;
	ids->files_id = files;
	ids->fs_id = fs;
	ids->sighand_id = sighand;
	/* CRIU's namespace order: pid net ipc uts time mnt user cgroup. */
	ids->has_pid_ns_id = 1; ids->pid_ns_id = 1;
	ids->has_net_ns_id = 1; ids->net_ns_id = 2;
	ids->has_ipc_ns_id = 1; ids->ipc_ns_id = 3;
	ids->has_uts_ns_id = 1; ids->uts_ns_id = 4;
	ids->has_time_ns_id = 1; ids->time_ns_id = 5;
	ids->has_mnt_ns_id = 1; ids->mnt_ns_id = 6;
	ids->has_user_ns_id = 1; ids->user_ns_id = 7;
	ids->has_cgroup_ns_id = 1; ids->cgroup_ns_id = 8;
}

static int write_inventory(const char *dir, int same_cgroup)
{
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	TaskKobjIdsEntry root = TASK_KOBJ_IDS_ENTRY__INIT;
	PluginsEntry plugins = PLUGINS_ENTRY__INIT;
	uint8_t r[16];
	char uuid[40];

	if (getrandom(r, sizeof(r), 0) != sizeof(r))
		return error("dump: getrandom: %s", strerror(errno));
	r[6] = (r[6] & 0x0f) | 0x40;
	r[8] = (r[8] & 0x3f) | 0x80;
	snprintf(uuid, sizeof(uuid), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
		 r[13], r[14], r[15]);
	ids_fill(&root, 1, 1, 1, 1);	/* the dumper's own objects, as CRIU's prepare_inventory() */
	inv.img_version = 2;
	inv.has_fdinfo_per_id = 1;
	inv.fdinfo_per_id = 1;
	inv.root_ids = &root;
	inv.has_ns_per_id = 1;
	inv.ns_per_id = 1;
	if (same_cgroup) {
		inv.has_root_cg_set = 1;
		inv.root_cg_set = 1;
	}
	inv.has_lsmtype = 1;
	inv.lsmtype = LSMTYPE__NO_LSM;
	inv.has_network_lock_method = 1;
	inv.network_lock_method = 0;
	inv.plugins_entry = &plugins;
	inv.dump_criu_run_id = uuid;
	return img_write(dir, "inventory.img", "INVENTORY", (ProtobufCMessage *[]){ MSG(&inv) }, 1);
}

static int write_pstree(const char *dir, const struct dump_tree *t)
{
	ProtobufCMessage **msgs = dump_zalloc(t->nr * sizeof(*msgs));
	size_t i, j;

	for (i = 0; i < t->nr; i++) {
		const struct dump_proc *p = &t->p[i];
		PstreeEntry *ps = dump_zalloc(sizeof(*ps));

		pstree_entry__init(ps);
		ps->pid = p->pid;
		ps->ppid = p->ppid;
		ps->pgid = strtoul(p->ti->stat_fields[5], NULL, 10);
		ps->sid = strtoul(p->ti->stat_fields[6], NULL, 10);
		/* A zombie has no threads left to list; CRIU records its pid. */
		ps->n_threads = p->zombie ? 1 : p->nr_threads;
		ps->threads = dump_zalloc(ps->n_threads * sizeof(*ps->threads));
		ps->threads[0] = p->pid;
		for (j = 1; j < p->nr_threads; j++)
			ps->threads[j] = p->th[j].s.pid;
		msgs[i] = MSG(ps);
	}
	return img_write(dir, "pstree.img", "PSTREE", msgs, t->nr);
}

static int write_globals(const char *dir)
{
	SeccompEntry sc = SECCOMP_ENTRY__INIT;
	TimensEntry tn = TIMENS_ENTRY__INIT;
	TimespecEntry mono = TIMESPEC_ENTRY__INIT, boot = TIMESPEC_ENTRY__INIT;
	struct timespec ts;

	if (img_write(dir, "seccomp.img", "SECCOMP", (ProtobufCMessage *[]){ MSG(&sc) }, 1))
		return -1;
	/* CRIU records the clocks at dump time so that a restore into a new
	 * time namespace can continue them. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	mono.tv_sec = ts.tv_sec;
	mono.tv_nsec = ts.tv_nsec;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	boot.tv_sec = ts.tv_sec;
	boot.tv_nsec = ts.tv_nsec;
	tn.monotonic = &mono;
	tn.boottime = &boot;
	return img_write(dir, "timens-0.img", "TIMENS", (ProtobufCMessage *[]){ MSG(&tn) }, 1);
}

/* CRIU's dump_one_zombie(): the task core and nothing else. */
static int write_zombie(const char *dir, const struct dump_proc *p)
{
	CoreEntry core = CORE_ENTRY__INIT;
	TaskCoreEntry *tc = dump_zalloc(sizeof(*tc));
	char name[64];

	task_core_entry__init(tc);
	tc->task_state = TASK_DEAD;
	tc->exit_code = strtoul(p->ti->stat_fields[52], NULL, 10);
	tc->personality = p->ti->personality;
	tc->comm = dump_strdup(p->ti->comm);
	core.mtype = CORE_ENTRY__MARCH__X86_64;
	core.tc = tc;
	snprintf(name, sizeof(name), "core-%d.img", p->pid);
	return img_write(dir, name, "CORE", (ProtobufCMessage *[]){ MSG(&core) }, 1);
}

/* One core per thread; only the leader's has the task core (tc). */
static int write_core(const char *dir, const struct dump_proc *p, size_t i)
{
	const struct dump_thread *t = &p->th[i];
	CoreEntry core = CORE_ENTRY__INIT;
	ThreadInfoX86 *tix = dump_zalloc(sizeof(*tix));
	char name[64];

	thread_info_x86__init(tix);
	tix->clear_tid_addr = t->in.clear_tid;
	tix->gpregs = core_gpregs(&t->s.regs);
	if (core_fpregs(&t->s, &tix->fpregs) || core_tls(t->s.pid, tix))
		return -1;
	core.mtype = CORE_ENTRY__MARCH__X86_64;
	core.thread_info = tix;
	if (i == 0) {
		core.tc = core_tc(p->pid, p->ti, &p->in);
		if (!core.tc)
			return -1;
		core.tc->blk_sigset = status_hex(t->ti->status, "SigBlk");
	}
	core.thread_core = core_thread(t->s.pid, t->ti, &t->in, p->ti->same_cgroup);
	if (!core.thread_core)
		return -1;
	if (i) {
		core.thread_core->has_blk_sigset = 1;
		core.thread_core->blk_sigset = status_hex(t->ti->status, "SigBlk");
	}
	snprintf(name, sizeof(name), "core-%d.img", t->s.pid);
	return img_write(dir, name, "CORE", (ProtobufCMessage *[]){ MSG(&core) }, 1);
}

static int write_mm(const char *dir, const struct dump_proc *p)
{
	PagemapHead head = PAGEMAP_HEAD__INIT;
	ProtobufCMessage **msgs;
	char name[64];
	size_t i;

	snprintf(name, sizeof(name), "mm-%d.img", p->pid);
	if (img_write(dir, name, "MM", (ProtobufCMessage *[]){ MSG(p->m.mm) }, 1))
		return -1;
	head.pages_id = p->pages_id;
	msgs = dump_zalloc((p->m.nr_pagemap + 1) * sizeof(*msgs));
	msgs[0] = MSG(&head);
	for (i = 0; i < p->m.nr_pagemap; i++)
		msgs[i + 1] = MSG(p->m.pagemap[i]);
	snprintf(name, sizeof(name), "pagemap-%d.img", p->pid);
	return img_write(dir, name, "PAGEMAP", msgs, p->m.nr_pagemap + 1);
}

static int write_proc(const char *dir, struct dump_proc *p)
{
	TaskKobjIdsEntry ids;
	FsEntry fs = FS_ENTRY__INIT;
	char name[64];
	size_t i;

	if (p->zombie)
		return write_zombie(dir, p);
	ids_fill(&ids, p->vm_id, p->files_id, p->fs_id, p->sighand_id);
	snprintf(name, sizeof(name), "ids-%d.img", p->pid);
	if (img_write(dir, name, "IDS", (ProtobufCMessage *[]){ MSG(&ids) }, 1))
		return -1;
	fs.cwd_id = p->cwd_id;
	fs.root_id = p->root_id;
	fs.has_umask = 1;
	fs.umask = p->ti->umask;
	snprintf(name, sizeof(name), "fs-%d.img", p->pid);
	if (img_write(dir, name, "FS", (ProtobufCMessage *[]){ MSG(&fs) }, 1))
		return -1;
	for (i = 0; i < p->nr_threads; i++)
		if (write_core(dir, p, i))
			return -1;
	if (write_mm(dir, p) || mm_write_pages(&p->th[0].s, &p->m, dir, p->pages_id))
		return -1;
	if (!p->files_owner)
		return 0;
	snprintf(name, sizeof(name), "fdinfo-%u.img", p->files_id);
	return img_write(dir, name, "FDINFO", (ProtobufCMessage **)p->fdinfo, p->nr_fd);
}

/* ---- the whole dump ------------------------------------------------------ */

static int collect_and_write(struct dump_tree *t, const char *dir)
{
	struct dump_files files = { 0 };
	uint32_t next[4] = { 1, 1, 1, 1 };	/* 1 is the dumper's own */
	size_t i;
	int ret = -1;

	for (i = 0; i < t->nr; i++)
		if (!t->p[i].zombie && collect_proc(t, i, &files, next))
			goto out;
	if (write_inventory(dir, t->p[0].ti->same_cgroup) || write_pstree(dir, t))
		goto out;
	for (i = 0; i < t->nr; i++)
		if (write_proc(dir, &t->p[i]))
			goto out;
	if (img_write(dir, "files.img", "FILES", (ProtobufCMessage **)files.entries, files.nr) ||
	    files_write_pipes(&files, dir) || files_write_memfd(&files, dir) || write_globals(dir))
		goto out;
	info("dump %d: %zu tasks, %zu files written to %s", t->p[0].pid, t->nr, files.nr, dir);
	ret = 0;
out:
	for (i = 0; i < t->nr; i++)
		free(t->p[i].m.pagemap);
	free(files.entries);
	free(files.special);
	free(files.fdref);
	free(files.pipes);
	files_close_memfd(&files);
	return ret;
}

/* Kill every process (criu's default after a dump), then wait for each
 * traced thread to be gone, the leader last: its exit is reported only
 * once its other threads are reaped. */
static void kill_tree(struct dump_tree *t)
{
	size_t i, j;

	for (i = 0; i < t->nr; i++)
		if (!t->p[i].zombie && kill(t->p[i].pid, SIGKILL))
			error("dump %d: cannot kill the task: %s", t->p[i].pid, strerror(errno));
	for (i = 0; i < t->nr; i++) {
		struct dump_proc *p = &t->p[i];

		for (j = p->nr_threads; j-- > 0;) {
			if (p->th[j].s.mem_fd >= 0)
				close(p->th[j].s.mem_fd);
			p->th[j].s.mem_fd = -1;
			reap_traced(&p->th[j].s);
		}
	}
}

/* Let go: registers back, detach; a thread not yet stopped is let go too. */
static int release_tree(struct dump_tree *t)
{
	size_t i, j;
	int ret = 0;

	for (i = 0; i < t->nr; i++)
		for (j = t->p[i].nr_threads; j-- > 0;) {
			struct seized *s = &t->p[i].th[j].s;

			if (s->xstate_len || s->mem_fd >= 0) {
				if (release_task(s, 0))
					ret = -1;
			} else {
				ptrace(PTRACE_DETACH, s->pid, NULL, NULL);
			}
		}
	return ret;
}

static void free_tree(struct dump_tree *t)
{
	size_t i, j;

	for (i = 0; i < t->nr; i++) {
		for (j = 0; j < t->p[i].nr_threads; j++)
			free(t->p[i].th[j].ti);
		free(t->p[i].th);
		free(t->p[i].ti);
	}
	free(t->p);
}

int dump_task(const struct dump_opts *o)
{
	struct dump_tree t = { 0 };
	char path[64];
	int ret;

	snprintf(path, sizeof(path), "/proc/%d", o->pid);
	if (o->pid <= 0 || access(path, F_OK))
		return error("dump: no process with pid %d", o->pid);
	if (mkdir(o->dir, 0755) && errno != EEXIST)
		return error("dump: cannot create %s: %s", o->dir, strerror(errno));
	/* Freeze the whole tree before reading anything of it. */
	ret = collect_tree(&t, o->pid, 0);
	if (!ret && t.p[0].zombie)
		ret = error("dump %d: the task is a zombie", o->pid);
	if (!ret)
		ret = collect_and_write(&t, o->dir);
	/* A failed dump leaves the tasks running, as criu does. */
	if (!ret && !o->leave_running)
		kill_tree(&t);
	else if (release_tree(&t))
		ret = -1;
	dump_free_all();
	free_tree(&t);
	return ret;
}
