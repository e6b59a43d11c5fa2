/* attach.c: find a running `criu restore` and its struct task_entries, and
 * read the tree it restores, without changing anything: /proc and
 * process_vm_readv only.
 *
 * CRIU allocates task_entries in rst_mem's RM_SHREMAP area, a MAP_SHARED
 * anonymous mapping every task it forks inherits (and the restorer blob
 * mremaps to its own place), so every task of the tree maps the same shmem
 * file.  A task waiting in a barrier sleeps in futex(FUTEX_WAIT) on
 * &task_entries->start (restore_finish_stage) and criu on
 * &task_entries->nr_in_progress (restore_wait_inprogress_tasks):
 * /proc/TID/syscall gives the address and the value it sleeps on.  From
 * that address we take the shmem file (dev, inode) and the structure's
 * offset in it, then find the same offset in criu's own maps. */
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach-priv.h"
#include "image.h"
#include "log.h"
#include "protocol.h"
#include "restore.h"

/* The versions whose task_entries layout and stage numbers were checked
 * against their source and a real restore (tests/integration/attach.sh). */
static const char *const verified_versions[] = { "4.1", "4.2", NULL };

static const char *const criu_stages[] = {
	"ROOT_TASK", "PREPARE_NAMESPACES", "FORKING", "RESTORE", "RESTORE_SIGCHLD", "RESTORE_CREDS", "COMPLETE",
};

const char *criu_stage_name(int stage)
{
	if (stage == CRIU_STATE_FAIL)
		return "FAIL";
	if (stage < 0 || stage > CRIU_STATE_COMPLETE)
		return "?";
	return criu_stages[stage];
}

/* argv of pid, NUL-separated, into buf; the number of bytes. */
static int proc_cmdline(pid_t pid, char *buf, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	return read_text(path, buf, len);
}

static int same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* KIND_CRIU: a binary named criu with "restore" in its arguments;
 * KIND_CRSTEP: this very crstep binary running `restore` (its layout is
 * the one compiled in here; another build's is not assumed). */
static int restore_kind(pid_t pid)
{
	char path[64], exe[512], args[4096], *p, *command = NULL;
	int len, restore = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return KIND_NONE;
	exe[n] = 0;
	len = proc_cmdline(pid, args, sizeof(args));
	for (p = args; p < args + len; p += strlen(p) + 1) {
		restore |= !strcmp(p, "restore");
		if (p > args && !command && p[0] != '-')
			command = p;
	}
	if (!restore)
		return KIND_NONE;
	p = strrchr(exe, '/');
	if (!strcmp(p ? p + 1 : exe, "criu"))
		return KIND_CRIU;
	/* crstep's subcommand is its first word that is no flag (not
	 * `crstep watch -- criu restore`, the parent of a watched criu) */
	return command && !strcmp(command, "restore") && same_file(path, "/proc/self/exe") ? KIND_CRSTEP : KIND_NONE;
}

/* The controller is the topmost ancestor of pid (pid included) that runs a
 * restore: the tasks it forks run its code, with its command line, until
 * the restorer blob gives them their own. */
static pid_t find_criu(pid_t pid, int *kind)
{
	pid_t found = 0, p;
	int k;

	for (p = pid; p > 1; p = proc_ppid(p))
		if ((k = restore_kind(p)) != KIND_NONE) {
			found = p;
			*kind = k;
		}
	return found;
}

/* crstep's --protocol from its command line (the default if absent). */
static const struct protocol *crstep_protocol(pid_t pid)
{
	char args[4096], *p;
	int len = proc_cmdline(pid, args, sizeof(args)), v = PROTO_DEFAULT;

	for (p = args; p < args + len; p += strlen(p) + 1) {
		char *next = p + strlen(p) + 1;

		if (!strcmp(p, "--protocol") && next < args + len && protocol_by_name(next) >= 0)
			v = protocol_by_name(next);
		else if (!strncmp(p, "--protocol=", 11) && protocol_by_name(p + 11) >= 0)
			v = protocol_by_name(p + 11);
	}
	return protocol_get(v);
}

const char *attach_stage_name(const struct attach *a, int stage)
{
	return a->kind == KIND_CRSTEP ? stage_name(stage) : criu_stage_name(stage);
}

/* CRIU 4.2's CR_STATE_* in crstep's numbering (barrier.h adds PRE_RESTORER
 * after FORKING). */
static int crstep_stage(int criu_stage)
{
	return criu_stage > CRIU_STATE_FORKING ? criu_stage + 1 : criu_stage;
}

int attach_stage_crstep(const struct attach *a, int stage)
{
	return a->kind == KIND_CRSTEP ? stage : crstep_stage(stage);
}

/* CRIU 4.2's stage_participants() is crstep's criu4 protocol's (the
 * counts of a->cte are CRIU's, te_read()). */
uint32_t attach_participants(const struct attach *a, int stage)
{
	if (a->kind == KIND_CRSTEP)
		return stage_participants(a->proto, stage, a->cte);
	return stage_participants(a->proto, crstep_stage(stage), a->cte);
}

/* Read the task_entries at base in pid's memory into te, in CRIU's
 * words: crstep's own area (barrier.h) is read up to its recording part
 * (a->cte keeps it, for the protocol's counts) and translated; its abort
 * bit reads as CRIU's abort value. */
static int te_read(struct attach *a, pid_t pid, unsigned long base, struct criu_task_entries *te)
{
	struct task_entries *c = a->cte;

	if (a->kind == KIND_CRIU) {
		if (vm_read(pid, base, te, sizeof(*te)))
			return -1;
		c->nr_threads = (uint32_t)te->nr_threads;
		c->nr_tasks = (uint32_t)te->nr_tasks;
		c->nr_helpers = (uint32_t)te->nr_helpers;
		c->nr_in_progress = te->nr_in_progress;
		return 0;
	}
	if (vm_read(pid, base, c, offsetof(struct task_entries, event_next)))
		return -1;
	memset(te, 0, sizeof(*te));
	te->nr_threads = (int32_t)c->nr_threads;
	te->nr_tasks = (int32_t)c->nr_tasks;
	te->nr_helpers = (int32_t)c->nr_helpers;
	te->nr_in_progress = c->nr_in_progress & BARRIER_ABORT_BIT ? 0xffffffffu : c->nr_in_progress;
	te->start = c->start;
	te->cr_err = c->cr_err;
	return 0;
}

int attach_criu_version(const char *exe, char *version, size_t len)
{
	char cmd[600], line[256], v[32] = "";
	FILE *f;

	snprintf(cmd, sizeof(cmd), "'%s' --version 2>/dev/null", exe);
	f = popen(cmd, "r");
	if (!f)
		return error("cannot run %s: %s", cmd, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Version: %31s", v) == 1)
			break;
	pclose(f);
	if (!v[0])
		return error("`%s` printed no \"Version:\" line", cmd);
	snprintf(version, len, "%s", v);
	return 0;
}

/* `criu --version` of /proc/PID/exe (the binary that runs, even if its path
 * is gone or in another mount namespace): "Version: 4.2". */
static int criu_version(struct attach *a)
{
	char exe[64];

	snprintf(exe, sizeof(exe), "/proc/%d/exe", a->criu_pid);
	if (attach_criu_version(exe, a->version, sizeof(a->version)))
		return error("criu pid %d: no version", a->criu_pid);
	return 0;
}

int attach_version_verified(const char *v)
{
	const char *const *p;

	for (p = verified_versions; *p; p++)
		if (!strcmp(*p, v))
			return 1;
	return 0;
}

/* -D/--images-dir from criu's command line, resolved in criu's cwd. */
static void criu_images_dir(struct attach *a)
{
	char args[4096], *p, *dir = NULL;
	int len = proc_cmdline(a->criu_pid, args, sizeof(args));

	for (p = args; p < args + len; p += strlen(p) + 1) {
		char *next = p + strlen(p) + 1;

		if ((!strcmp(p, "-D") || !strcmp(p, "--images-dir")) && next < args + len)
			dir = next;
		else if (!strncmp(p, "--images-dir=", 13))
			dir = p + 13;
		else if (!strncmp(p, "-D", 2) && p[2])
			dir = p + 2;
	}
	a->images_dir[0] = 0;
	if (!dir)
		dir = ".";
	if (dir[0] == '/')
		snprintf(a->images_dir, sizeof(a->images_dir), "/proc/%d/root%s", a->criu_pid, dir);
	else
		snprintf(a->images_dir, sizeof(a->images_dir), "/proc/%d/cwd/%s", a->criu_pid, dir);
}

/* pstree.img: how many tasks and threads CRIU counts (read_pstree_image
 * adds every entry to nr_tasks and its threads to nr_threads), and the
 * pids, to tell which are not forked yet. */
static void read_pstree(struct attach *a)
{
	char path[600];
	struct image *img;
	size_t i;

	a->pstree_nr_tasks = a->pstree_nr_threads = -1;
	a->nr_pstree = 0;
	snprintf(path, sizeof(path), "%s/pstree.img", a->images_dir);
	if (access(path, R_OK))
		return;
	img = image_read(path, img_desc_by_name("PSTREE"), 1);
	if (!img)
		return;
	a->pstree_nr_tasks = a->pstree_nr_threads = 0;
	for (i = 0; i < img->nr; i++) {
		const PstreeEntry *e = (const PstreeEntry *)img->entries[i].msg;

		a->pstree_nr_tasks++;
		a->pstree_nr_threads += e->n_threads ? (int)e->n_threads : 1;
		if (a->nr_pstree < ATTACH_MAX_TASKS)
			a->pstree_pids[a->nr_pstree++] = e->pid;
	}
	image_free(img);
}

/* Is te CRIU 4.2's task_entries?  Counts in range, the stage a CR_STATE_*,
 * nr_in_progress no more than the participants of any stage (or CRIU's
 * abort value), locks 0 or small; and the counts of pstree.img if read. */
static const char *te_implausible(const struct attach *a, const struct criu_task_entries *te)
{
	if (te->nr_tasks < 1 || te->nr_tasks > 1 << 16)
		return "nr_tasks out of range";
	/* zombies' threads are taken off nr_threads before RESTORE_SIGCHLD */
	if (te->nr_threads < 0 || te->nr_threads > 1 << 20)
		return "nr_threads out of range";
	if (te->nr_helpers < 0 || te->nr_helpers > 1 << 16)
		return "nr_helpers out of range";
	if (te->start < CRIU_STATE_FAIL ||
	    te->start > (a->kind == KIND_CRSTEP ? CR_STATE_COMPLETE : CRIU_STATE_COMPLETE))
		return "start is no CR_STATE_*";
	if (te->nr_in_progress != 0xffffffffu &&
	    te->nr_in_progress > (uint32_t)(te->nr_threads + te->nr_helpers + te->nr_tasks))
		return "nr_in_progress above every stage's participants";
	if (te->cr_err < 0 || te->cr_err > 4095)
		return "cr_err is no errno";
	if (te->userns_sync_lock > 1024 || te->cgroupd_sync_lock > 1024 || te->last_pid_mutex > 1024)
		return "a mutex word out of range";
	if (a->pstree_nr_tasks >= 0 && te->nr_tasks != a->pstree_nr_tasks)
		return "nr_tasks differs from pstree.img's entries";
	if (a->pstree_nr_threads >= 0 && te->nr_threads > a->pstree_nr_threads)
		return "nr_threads above pstree.img's threads";
	return NULL;
}

/* Try the futex tid sleeps on as &start or &nr_in_progress. */
static int locate_from(struct attach *a, pid_t tgid, pid_t tid, const char **why)
{
	const unsigned long offs[] = { a->off_start, a->off_count };
	struct syscall_line sc;
	struct map m;
	size_t i;

	if (proc_syscall(tid, &sc) || !futex_wait(&sc))
		return -1;
	if (map_of_addr(tgid, sc.args[0], &m) || m.perms[3] != 's')
		return -1;	/* a private futex: not the shared barrier */
	for (i = 0; i < 2; i++) {
		struct criu_task_entries te;
		unsigned long base = sc.args[0] - offs[i];
		uint32_t word;

		if (base < m.start || te_read(a, tgid, base, &te))
			continue;
		word = i == 0 ? (uint32_t)te.start : te.nr_in_progress;
		if (word != (uint32_t)sc.args[2]) {
			*why = "the futex word moved on while being read";
			continue;
		}
		if ((*why = te_implausible(a, &te)))
			continue;
		a->map_major = m.major;
		a->map_minor = m.minor;
		a->map_ino = m.ino;
		a->te_file_off = m.pgoff + (base - m.start);
		a->te_addr = addr_of_file_off(a->criu_pid, m.major, m.minor, m.ino, a->te_file_off);
		if (!a->te_addr) {
			*why = "criu does not map the waiter's shared mapping";
			continue;
		}
		return attach_read_te(a);
	}
	return -1;
}

/* Every process of criu's tree, criu first, breadth first. */
static size_t tree_pids(pid_t criu, pid_t *pids, size_t max)
{
	size_t n = 0, i;

	pids[n++] = criu;
	for (i = 0; i < n && n < max; i++)
		n += proc_children(pids[i], pids + n, max - n);
	return n;
}

int attach_identify(struct attach *a, pid_t pid, const char *version)
{
	struct stat st;
	char path[64];

	struct task_entries *cte = a->cte;

	memset(a, 0, sizeof(*a));
	a->cte = cte;
	if (kill(pid, 0) && errno == ESRCH)
		return error("attach: no process %d", pid);
	a->criu_pid = find_criu(pid, &a->kind);
	if (!a->criu_pid)
		return error("attach: neither %d nor any of its ancestors is a `criu restore` "
			     "(an executable named criu with \"restore\" in its arguments) "
			     "or this crstep's `crstep restore`", pid);
	a->off_start = CRIU_TE_OFF_START;
	a->off_count = CRIU_TE_OFF_NR_IN_PROGRESS;
	a->proto = protocol_get(PROTO_CRIU4);
	snprintf(a->ctl, sizeof(a->ctl), "criu");
	if (!a->cte && !(a->cte = calloc(1, sizeof(*a->cte))))
		return error("out of memory");
	if (a->kind == KIND_CRSTEP) {
		/* crstep's own restore: the layout compiled in here. */
		a->off_start = offsetof(struct task_entries, start);
		a->off_count = offsetof(struct task_entries, nr_in_progress);
		a->proto = crstep_protocol(a->criu_pid);
		snprintf(a->ctl, sizeof(a->ctl), "crstep");
		version = "(this build)";
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", a->criu_pid);
	if (stat(path, &st))
		return error("attach: criu pid %d: %s: %s", a->criu_pid, path, strerror(errno));
	a->exe_dev = st.st_dev;
	a->exe_ino = st.st_ino;
	if (readlink(path, a->criu_exe, sizeof(a->criu_exe) - 1) < 0)
		snprintf(a->criu_exe, sizeof(a->criu_exe), "?");
	if (version)
		snprintf(a->version, sizeof(a->version), "%s", version);
	else if (criu_version(a))
		return -1;
	if (a->kind == KIND_CRSTEP) {
		/* No pstree.img read: the images are crstep's positional
		 * argument, and its own area knows the counts. */
		a->pstree_nr_tasks = a->pstree_nr_threads = -1;
		return 0;
	}
	if (!attach_version_verified(a->version))
		return error("attach: criu pid %d is version %s (by `%s --version`); crstep knows the "
			     "task_entries layout and stage numbers of CRIU 4.2 only and will not guess",
			     a->criu_pid, a->version, a->criu_exe);
	criu_images_dir(a);
	read_pstree(a);
	return 0;
}

int attach_locate(struct attach *a, const char **why)
{
	pid_t pids[ATTACH_MAX_TASKS], tids[ATTACH_MAX_TASKS];
	size_t n, i, j;

	*why = "no task sleeps in futex(FUTEX_WAIT) on a shared mapping";
	n = tree_pids(a->criu_pid, pids, ATTACH_MAX_TASKS);
	for (i = 0; i < n; i++) {
		size_t nt = proc_threads(pids[i], tids, ATTACH_MAX_TASKS);

		for (j = 0; j < nt; j++)
			if (!locate_from(a, pids[i], tids[j], why))
				return 0;
	}
	return -1;
}

int attach_open(struct attach *a, pid_t pid)
{
	const char *why;
	int try;

	if (attach_identify(a, pid, NULL))
		return -1;
	/* A task between two futex calls is not waiting: look a few times. */
	for (try = 0; try < 20; try++) {
		if (!attach_locate(a, &why))
			return 0;
		usleep(50000);
	}
	return error("attach: criu %s pid %d: cannot confirm where its task_entries is (%s); "
		     "refusing to guess", a->version, a->criu_pid, why);
}

int attach_read_te(struct attach *a)
{
	return te_read(a, a->criu_pid, a->te_addr, &a->te);
}

/* The innermost pid of /proc/PID/status's NSpid: the pid CRIU restored. */
static pid_t ns_pid(pid_t pid)
{
	char path[64], buf[4096], *p, *end;
	pid_t last = pid;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_text(path, buf, sizeof(buf)) <= 0 || !(p = strstr(buf, "NSpid:")))
		return pid;
	for (p += 6; *p && *p != '\n'; p = end) {
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		last = (pid_t)v;
	}
	return last;
}

/* Whose code the task runs: an ip in an anonymous executable mapping is
 * the restorer blob (CRIU maps it anonymous, outside the images' VMAs);
 * a task whose exe is still criu's runs criu's code. */
static enum attach_code task_code(const struct attach *a, struct attach_task *t)
{
	char path[64];
	struct stat st;
	struct map m;

	if (t->criu)
		return CODE_CRIU;
	if (!t->in_tree && !t->reaper)
		return CODE_OTHER;
	if (t->ip && !map_of_addr(t->tgid, t->ip, &m) && m.perms[2] == 'x' && !m.path[0])
		return CODE_RESTORER;
	snprintf(path, sizeof(path), "/proc/%d/exe", t->tgid);
	if (stat(path, &st))
		return CODE_UNKNOWN;
	return st.st_dev == a->exe_dev && st.st_ino == a->exe_ino ? CODE_CRIU : CODE_RESTORED;
}

static void task_where(const struct attach *a, struct attach_task *t)
{
	struct syscall_line sc;
	unsigned long te;

	t->where = AT_UNKNOWN;
	t->nr = -1;
	if (t->state[0] == 'Z' || t->state[0] == 'X') {
		t->where = AT_ZOMBIE;
		return;
	}
	if (proc_syscall(t->tid, &sc)) {
		t->where = AT_GONE;
		return;
	}
	snprintf(t->syscall, sizeof(t->syscall), "%s", sc.text);
	t->ip = sc.ip;
	t->nr = sc.nr;
	if (sc.nr < 0) {
		t->where = AT_RUNNING;
		return;
	}
	t->where = AT_SYSCALL;
	if (!futex_wait(&sc))
		return;
	t->where = AT_OTHER_FUTEX;
	t->wait_val = (uint32_t)sc.args[2];
	/* The restorer mremaps the shared area: find task_entries in this
	 * task's own maps. */
	te = addr_of_file_off(t->tgid, a->map_major, a->map_minor, a->map_ino, a->te_file_off);
	if (te && sc.args[0] == te + a->off_start)
		t->where = AT_WAIT_START;
	else if (te && sc.args[0] == te + a->off_count)
		t->where = AT_WAIT_INPROGRESS;
}

enum attach_where attach_criu_where(struct attach *a)
{
	struct attach_task t = { .tid = a->criu_pid, .tgid = a->criu_pid, .criu = 1 };

	task_where(a, &t);
	return t.where;
}

static void add_task(struct attach *a, pid_t tgid, pid_t tid, int in_tree, int reaper)
{
	struct attach_task *t;
	char path[96];

	if (a->nr == ATTACH_MAX_TASKS)
		return;
	t = &a->tasks[a->nr++];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	t->tgid = tgid;
	t->thread = tid != tgid;
	t->criu = tgid == a->criu_pid;
	t->in_tree = in_tree;
	t->reaper = reaper;
	t->ns_pid = ns_pid(tid);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", tgid, tid);
	read_text(path, t->comm, sizeof(t->comm));
	t->comm[strcspn(t->comm, "\n")] = 0;
	proc_task_state(tid, t->state, sizeof(t->state), t->wchan, sizeof(t->wchan));
	task_where(a, t);
	t->code = task_code(a, t);
}

static int in_pstree(const struct attach *a, pid_t pid)
{
	size_t i;

	for (i = 0; i < a->nr_pstree; i++)
		if (a->pstree_pids[i] == pid)
			return 1;
	return 0;
}

/* The tree: criu's descendants that map task_entries (an action script
 * criu runs is its child too, but does not), zombies by their pstree pid;
 * then the pstree pids not found (not forked yet, or gone). */
int attach_scan(struct attach *a)
{
	pid_t pids[ATTACH_MAX_TASKS], tids[ATTACH_MAX_TASKS];
	size_t n = 0, i, j;

	a->nr = 0;
	a->nr_unforked = 0;
	pids[n++] = a->criu_pid;
	for (i = 0; i < n && n < ATTACH_MAX_TASKS; i++) {
		pid_t kids[ATTACH_MAX_TASKS];
		size_t nk = proc_children(pids[i], kids, ATTACH_MAX_TASKS), k;
		/* crstep's reaper, the init of the tree's pid namespace,
		 * maps the area too but is no participant. */
		int reaper = i && a->kind == KIND_CRSTEP && ns_pid(pids[i]) == 1 && ns_pid(a->criu_pid) != 1;
		int in_tree = i == 0 || reaper ? 0 :
			addr_of_file_off(pids[i], a->map_major, a->map_minor, a->map_ino, a->te_file_off) ||
			in_pstree(a, ns_pid(pids[i]));
		size_t nt = proc_threads(pids[i], tids, ATTACH_MAX_TASKS);

		if (i && !nt)
			continue;	/* gone */
		for (j = 0; j < nt; j++)
			add_task(a, pids[i], tids[j], in_tree, reaper);
		/* Only the controller's and the tree's children belong
		 * here: not what an action script starts. */
		if (i && !in_tree && !reaper)
			continue;
		for (k = 0; k < nk && n < ATTACH_MAX_TASKS; k++)
			pids[n++] = kids[k];
	}
	for (i = 0; i < a->nr_pstree; i++) {
		for (j = 0; j < a->nr; j++)
			if (a->tasks[j].in_tree && !a->tasks[j].thread && a->tasks[j].ns_pid == a->pstree_pids[i])
				break;
		if (j == a->nr)
			a->unforked[a->nr_unforked++] = a->pstree_pids[i];
	}
	return a->nr ? 0 : -1;
}

/* The root of the attached tree as crstep sees it, 0 before it exists. */
static pid_t root_pid(const struct attach *a)
{
	size_t i;

	for (i = 0; i < a->nr; i++)
		if (a->tasks[i].in_tree && !a->tasks[i].thread)
			return a->tasks[i].tid;
	return 0;
}

/* Who switches into `to` in CRIU 4.2 when the tree has no namespaces of its
 * own (criu-facts §1.4; with namespaces criu switches the first two and
 * FORKING too): CRIU's rule, not an observation. */
int attach_switcher(const struct attach *a, int to)
{
	if (a->kind == KIND_CRSTEP)
		return protocol_switcher(a->proto, to) == PERFORMER_ROOT ? ROLE_ROOT : ROLE_CONTROLLER;
	switch (to) {
	case CR_STATE_PREPARE_NAMESPACES:
	case CR_STATE_FORKING:
	case CR_STATE_RESTORE:
		return ROLE_ROOT;
	}
	return ROLE_CONTROLLER;
}

/* When task pid was first seen arrived at stage: in the last look's
 * slots, or now. */
static uint64_t seen_arrived(const struct task_slot *old, size_t nr_old, int32_t pid, int stage)
{
	size_t i;

	for (i = 0; i < nr_old; i++)
		if (old[i].pid == pid && old[i].arrive_tsc[stage])
			return old[i].arrive_tsc[stage];
	return barrier_rdtsc();
}

int attach_te_view(struct attach *a, struct task_entries *te)
{
	int stage, root_seen = 0, last;
	struct clock_sample clock;
	struct task_slot *old;
	uint32_t room = te->max_slots;
	uint64_t next;
	size_t i, nr_old;

	if (a->kind == KIND_CRSTEP) {
		uint32_t n;

		if (vm_read(a->criu_pid, a->te_addr, te, task_entries_size(0)))
			return -1;
		n = te->nr_slots < room ? te->nr_slots : room;
		if (n && vm_read(a->criu_pid, a->te_addr + task_entries_size(0), te->slots, n * sizeof(*te->slots)))
			return -1;
		te->nr_slots = n;
		te->max_slots = room;
		return 0;
	}
	/* The event ring stays: it holds the switches sampled so far; and
	 * the last look's slots tell since when a task waits. */
	nr_old = te->nr_slots;
	old = nr_old ? malloc(nr_old * sizeof(*old)) : NULL;
	if (old)
		memcpy(old, te->slots, nr_old * sizeof(*old));
	else
		nr_old = 0;
	next = te->event_next;
	last = te->start;
	clock = te->clock_start;
	memset(te, 0, offsetof(struct task_entries, events));
	te->event_next = next;
	te->max_slots = room;
	if (clock.mono_ns)
		te->clock_start = clock;
	else
		clock_sample_take(&te->clock_start);
	stage = crstep_stage(a->te.start);
	/* A change of start since the last look is a switch, stamped when it
	 * was seen (the first look only finds where the restore is). */
	if (clock.mono_ns && last != stage)
		barrier_record(te, stage == CR_STATE_FAIL ? BARRIER_EV_FAIL : BARRIER_EV_SWITCH, last, stage,
			       attach_switcher(a, stage) == ROLE_ROOT ? root_pid(a) : a->criu_pid,
			       attach_switcher(a, stage), -1, a->te.nr_in_progress, a->te.nr_in_progress, 0);
	te->start = stage;
	te->nr_in_progress = a->te.nr_in_progress == 0xffffffffu ? BARRIER_ABORT_VALUE : a->te.nr_in_progress;
	te->nr_tasks = (uint32_t)a->te.nr_tasks;
	te->nr_threads = (uint32_t)a->te.nr_threads;
	te->nr_helpers = (uint32_t)a->te.nr_helpers;
	te->cr_err = a->te.cr_err;
	for (i = 0; i < a->nr && te->nr_slots < room; i++) {
		const struct attach_task *t = &a->tasks[i];
		struct task_slot *sl;

		if (!t->in_tree)
			continue;
		sl = &te->slots[te->nr_slots++];
		sl->pid = t->ns_pid;
		sl->host_pid = t->tid;
		sl->waiting_on = -1;
		sl->held_bp = -1;
		sl->stage_reached = -1;
		if (t->where == AT_ZOMBIE) {
			sl->role = ROLE_ZOMBIE;
			te->nr_zombies++;
		} else if (t->thread) {
			sl->role = ROLE_THREAD;
		} else {
			/* the scan is breadth first from criu: its child in
			 * the tree comes first, and that is the root */
			sl->role = root_seen ? ROLE_TASK : ROLE_ROOT;
			root_seen = 1;
		}
		if (t->where == AT_WAIT_START) {
			int s = crstep_stage((int)t->wait_val);

			sl->waiting_on = (int8_t)s;
			sl->stage_reached = (int8_t)s;
			/* Arrived: first seen so at this look or an earlier one. */
			if (s >= 0 && s < CR_STATE_NR)
				sl->arrive_tsc[s] = seen_arrived(old, nr_old, sl->pid, s);
		}
	}
	free(old);
	return 0;
}
