/* files.c: a task's fds, cwd, root and umask (CRIU's files.c, files-reg.c,
 * pipes.c, file-lock.c and restore_fs()), restored before the jump into the
 * restorer.
 *
 * A files.img id is one open file description, and every id is its own:
 * fds that shared one share one again (position and flags included), in one
 * task or across tasks, and two ids never merge (two opens of one pipe keep
 * their own O_NONBLOCK).  An id held by one fd table is opened by the task
 * that restores it; every pipe id, every unix socket (sk-unix.c) and file
 * in flight on one, and every id held by several fd tables, is opened once
 * by the controller before the tree is forked, so every task inherits the
 * very description (CRIU's file masters, which send it to the others over
 * unix sockets).  Files are opened above every target fd first
 * and dup'ed into place afterwards, so an open never lands on a number that
 * another file still needs.  Tasks that share one fd table (CLONE_FILES)
 * are forked sharing it; the first of them restores it for all. */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "restore.h"

/* The fd table every process starts with (NR_OPEN_DEFAULT); the kernel
 * grows it in powers of two from there (alloc_fdtable()). */
#define FDTABLE_FIRST 64

/* CRIU never passes these on: a restore must not create or truncate.
 * O_ASYNC is set by fcntl afterwards: open() stores the flag but never
 * arms the file's fasync, so SIGIO would never come (file_setfl_async()). */
#define OPEN_FLAGS_DROPPED (O_CREAT | O_TRUNC | O_EXCL | O_ASYNC)
/* O_TMPFILE's own bit (glibc's O_TMPFILE adds O_DIRECTORY to it). */
#define O_TMPFILE_BIT 020000000

/* file-lock.img's kinds and a lease being broken (CRIU's file-lock.h). */
#define FL_POSIX 1
#define FL_FLOCK 2
#define FL_OFD 4
#define FL_LEASE 8
#define LEASE_BREAKING 4

static int file_setfl_async(int fd, uint32_t flags, uint32_t id)
{
	int now;

	if (!(flags & O_ASYNC))
		return 0;
	now = fcntl(fd, F_GETFL);
	if (now < 0 || fcntl(fd, F_SETFL, now | O_ASYNC))
		return error("files.img: file id %u: cannot set O_ASYNC: %s", id, strerror(errno));
	return 0;
}

/* Open a regular-file entry as CRIU's open_reg_by_id() does, checking the
 * size where CRIU does (should_check_size(): not for files open for
 * appending writes, whose size legitimately grows). */
int reg_file_open(const struct restore_ctx *ctx, const RegFileEntry *reg, int check_size)
{
	return reg_file_open_flags(ctx, reg, reg->flags, check_size);
}

/* The same with other open flags (a shared file mapping opens its file as
 * the VMA's fdflags say). */
int reg_file_open_flags(const struct restore_ctx *ctx, const RegFileEntry *reg, int open_flags, int check_size)
{
	int flags = (open_flags & ~OPEN_FLAGS_DROPPED) | O_CLOEXEC;
	char buf[64];
	const char *path = remap_path(ctx, reg, buf, sizeof(buf));
	struct stat st;
	int fd;

	/* A file whose name was lost is reopened through its dentry, a
	 * /proc magic link that O_NOFOLLOW would refuse. */
	if (path != reg->name)
		flags &= ~O_NOFOLLOW;
	/* A file made with O_TMPFILE (always a lost name) keeps that flag,
	 * which would make a new one: dropped, with its O_DIRECTORY, as CRIU
	 * does. */
	if (flags & O_TMPFILE_BIT)
		flags &= ~(O_TMPFILE_BIT | O_DIRECTORY);
	fd = open(path, flags);
	if (fd < 0)
		return error("files.img: file id %u: cannot open %s: %s", reg->id, reg->name, strerror(errno));
	if (fstat(fd, &st)) {
		close(fd);
		return error("files.img: file id %u: cannot stat %s: %s", reg->id, reg->name, strerror(errno));
	}
	if (check_size && reg->has_size && S_ISREG(st.st_mode) &&
	    !((reg->flags & O_APPEND) && (reg->flags & O_ACCMODE) != O_RDONLY) &&
	    (uint64_t)st.st_size != reg->size) {
		close(fd);
		return error("files.img: file id %u: %s has bad size %lld, the image says %llu",
			     reg->id, reg->name, (long long)st.st_size, (unsigned long long)reg->size);
	}
	if (reg->pos && lseek(fd, reg->pos, SEEK_SET) != (off_t)reg->pos) {
		close(fd);
		return error("files.img: file id %u: cannot seek %s to %llu: %s", reg->id, reg->name,
			     (unsigned long long)reg->pos, strerror(errno));
	}
	if (file_setfl_async(fd, open_flags, reg->id)) {
		close(fd);
		return -1;
	}
	return fd;
}

static struct restore_pipe *pipe_of(struct restore_ctx *ctx, uint32_t pipe_id)
{
	size_t i;

	for (i = 0; i < ctx->nr_pipes; i++)
		if (ctx->pipes[i].pipe_id == pipe_id)
			return &ctx->pipes[i];
	return NULL;
}

static int add_pipe(struct restore_ctx *ctx, uint32_t pipe_id)
{
	struct restore_pipe *p;
	int fds[2];

	if (pipe_of(ctx, pipe_id))
		return 0;
	p = realloc(ctx->pipes, (ctx->nr_pipes + 1) * sizeof(*p));
	if (!p)
		return error("out of memory");
	ctx->pipes = p;
	p = &ctx->pipes[ctx->nr_pipes];
	if (pipe2(fds, O_CLOEXEC))
		return error("files.img: pipe %u: %s", pipe_id, strerror(errno));
	/* service_fds_setup() moves them out of the tasks' way. */
	p->fds[0] = fds[0];
	p->fds[1] = fds[1];
	p->taken[0] = p->taken[1] = 0;
	p->pipe_id = pipe_id;
	ctx->nr_pipes++;
	return 0;
}

/* The pipes' buffered bytes go back before anyone can read (pipes-data). */
static int fill_pipe(struct restore_ctx *ctx, const struct img_entry *e, size_t idx)
{
	PipeDataEntry *pd = (PipeDataEntry *)e->msg;
	struct restore_pipe *p = pipe_of(ctx, pd->pipe_id);
	size_t off = 0;

	if (!p)
		return error("pipes-data.img: entry %zu: pipe %u has no PIPE file", idx, pd->pipe_id);
	if (pd->has_size && pd->size && fcntl(p->fds[1], F_SETPIPE_SZ, pd->size) < 0)
		return error("pipes-data.img: entry %zu: pipe %u: F_SETPIPE_SZ %u: %s", idx, pd->pipe_id,
			     pd->size, strerror(errno));
	while (off < e->extra_len) {
		ssize_t n = write(p->fds[1], e->extra + off, e->extra_len - off);

		if (n <= 0)
			return error("pipes-data.img: entry %zu: pipe %u: writing %zu bytes: %s", idx,
				     pd->pipe_id, e->extra_len, n ? strerror(errno) : "short write");
		off += n;
	}
	return 0;
}

int pipes_prepare(struct restore_ctx *ctx)
{
	const struct img_set *set = ctx->set;
	size_t i;

	for (i = 0; i < set->nr_files; i++)
		if (set->files[i]->type == FD_TYPES__PIPE && set->files[i]->pipe &&
		    add_pipe(ctx, set->files[i]->pipe->pipe_id))
			return -1;
	for (i = 0; i < set->pipes_data_img->nr; i++)
		if (fill_pipe(ctx, &set->pipes_data_img->entries[i], i))
			return -1;
	return 0;
}

void pipes_close(struct restore_ctx *ctx)
{
	size_t i;

	size_t e;

	for (i = 0; i < ctx->nr_pipes; i++)
		for (e = 0; e < 2; e++) {
			if (ctx->pipes[i].fds[e] >= 0)
				close(ctx->pipes[i].fds[e]);
			ctx->pipes[i].fds[e] = -1;
		}
}

/* The highest fd any task of the images holds, -1 for none. */
static int images_max_fd(const struct img_set *set)
{
	int max_fd = -1;
	size_t i, j;

	for (i = 0; i < set->nr_tasks; i++) {
		struct image *img = set->tasks[i].ids ? imgset_fdinfo(set, set->tasks[i].ids->files_id) : NULL;

		for (j = 0; img && j < img->nr; j++)
			if ((int)((FdinfoEntry *)img->entries[j].msg)->fd > max_fd)
				max_fd = ((FdinfoEntry *)img->entries[j].msg)->fd;
	}
	return max_fd;
}

static int fd_range_free(int lo, int hi)
{
	for (; lo < hi; lo++)
		if (fcntl(lo, F_GETFD) >= 0 || errno != EBADF)
			return 0;
	return 1;
}

/* Move fd to service slot `slot` (close-on-exec); returns the new fd. */
int service_fd_install(const struct restore_ctx *ctx, int fd, int slot)
{
	int sfd = service_fd(ctx, slot);

	if (fd == sfd)
		return sfd;
	if (dup3(fd, sfd, O_CLOEXEC) < 0)
		return error("cannot place service fd %d: %s", sfd, strerror(errno));
	close(fd);
	return sfd;
}

/* The controller, once the pipes and shared memory exist and before any
 * fork: choose where the service fds go and move them there.  The area
 * is the top of the smallest fd table (as the kernel sizes them) that
 * holds every task's fds, room for the files a task opens before it
 * dup's them into place, and the service fds themselves (CRIU chooses
 * its service_fd_base the same way, so restored tasks get no larger fd
 * table than they need).  Above every dumped fd, it cannot collide with
 * one; the controller's own fds there push it one table size up. */
int service_fds_setup(struct restore_ctx *ctx)
{
	int log;
	int slot = SFD_PER_TASK * ctx->fdt_max;
	int nr = slot + 2 * (int)ctx->nr_pipes + (int)ctx->nr_files + (int)ctx->nr_shmems + (int)ctx->nr_remaps;
	int need = 2 * (images_max_fd(ctx->set) + 1) + nr, top = FDTABLE_FIRST;
	struct rlimit rl;
	size_t i;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return error("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
	while (top < need || !fd_range_free(top - nr, top)) {
		if (top > (1 << 29))
			return error("no room for %d service fds above the tasks' fds", nr);
		top *= 2;
	}
	/* Every task inherits this limit until it restores its own; fds
	 * above a lowered soft limit stay valid. */
	if (rl.rlim_cur < (rlim_t)top) {
		rl.rlim_cur = top;
		if (rl.rlim_max < (rlim_t)top || setrlimit(RLIMIT_NOFILE, &rl))
			return error("RLIMIT_NOFILE: cannot raise it to %d for crstep's service fds: %s", top,
				     rl.rlim_max < (rlim_t)top ? "above the hard limit" : strerror(errno));
	}
	ctx->sfd_top = top;
	ctx->sfd_nr = nr;
	/* The tasks' log: a file the controller copies to its stderr. */
	log = memfd_create("crstep-log", MFD_CLOEXEC);
	if (log < 0)
		return error("cannot create the tasks' log: %s", strerror(errno));
	if (service_fd_install(ctx, log, SFD_LOG) < 0)
		return -1;
	for (i = 0; i < ctx->nr_pipes; i++) {
		ctx->pipes[i].fds[0] = service_fd_install(ctx, ctx->pipes[i].fds[0], slot++);
		ctx->pipes[i].fds[1] = service_fd_install(ctx, ctx->pipes[i].fds[1], slot++);
		if (ctx->pipes[i].fds[0] < 0 || ctx->pipes[i].fds[1] < 0)
			return -1;
	}
	for (i = 0; i < ctx->nr_files; i++) {
		ctx->files[i].fd = service_fd_install(ctx, ctx->files[i].fd, slot++);
		if (ctx->files[i].fd < 0)
			return -1;
	}
	for (i = 0; i < ctx->nr_shmems; i++) {
		ctx->shmems[i].fd = service_fd_install(ctx, ctx->shmems[i].fd, slot++);
		if (ctx->shmems[i].fd < 0)
			return -1;
	}
	for (i = 0; i < ctx->nr_remaps; i++) {
		ctx->remaps[i].fd = service_fd_install(ctx, ctx->remaps[i].fd, slot++);
		if (ctx->remaps[i].fd < 0)
			return -1;
	}
	return 0;
}

/* Copy what the tasks logged since the last call to crstep's stderr
 * (the controller; *done is the offset already copied). */
void service_log_forward(const struct restore_ctx *ctx, off_t *done)
{
	char buf[4096];
	ssize_t n;

	if (!ctx->sfd_top)
		return;
	while ((n = pread(service_fd(ctx, SFD_LOG), buf, sizeof(buf), *done)) > 0) {
		if (write(2, buf, n) < 0)
			return;
		*done += n;
	}
}

/* A task's first act: whatever crstep holds (its stdio, the terminal of
 * the UI, a script, the pipes of whoever started it, the log of the
 * parent task) goes, except the service fds.  O_CLOEXEC does not help a
 * task that never execs. */
void task_fds_close_foreign(const struct restore_ctx *ctx)
{
	close_range(0, ctx->sfd_top - ctx->sfd_nr - 1, 0);
	close_range(ctx->sfd_top, ~0u, 0);
}

/* The kernel's O_LARGEFILE (glibc's is 0 on x86_64): every open() sets
 * it on a 64-bit kernel, pipe() does not, and F_SETFL cannot change it. */
#define KERNEL_O_LARGEFILE 0100000

/* An open file description of a pipe for one files.img id.  An id without
 * O_LARGEFILE came from pipe() itself: it gets the controller's own end
 * (the first such id of each end).  Any other is a new open of the pipe
 * inode through /proc, as CRIU's reopen_pipe(), with its own file and
 * flags.  The open gets the access mode only; the other flags (O_NONBLOCK,
 * O_ASYNC) are set by F_SETFL, which arms fasync. */
static int open_pipe(struct restore_ctx *ctx, FileEntry *fe)
{
	PipeEntry *pe = fe->pipe;
	struct restore_pipe *p = pe ? pipe_of(ctx, pe->pipe_id) : NULL;
	int end = pe && (pe->flags & O_ACCMODE) == O_WRONLY;
	char path[64];
	int fd;

	if (!p)
		return error("files.img: file id %u: pipe %u was not created", fe->id, pe ? pe->pipe_id : 0);
	if (!(pe->flags & KERNEL_O_LARGEFILE) && (pe->flags & O_ACCMODE) != O_RDWR && !p->taken[end]) {
		p->taken[end] = 1;
		fd = fcntl(p->fds[end], F_DUPFD_CLOEXEC, 0);
	} else {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", p->fds[end]);
		fd = open(path, (pe->flags & O_ACCMODE) | O_CLOEXEC);
	}
	if (fd < 0)
		return error("files.img: file id %u: cannot open pipe %u again: %s", fe->id, pe->pipe_id,
			     strerror(errno));
	if (fcntl(fd, F_SETFL, pe->flags & ~O_ACCMODE)) {
		close(fd);
		return error("files.img: file id %u: pipe %u: flags %#o: %s", fe->id, pe->pipe_id, pe->flags,
			     strerror(errno));
	}
	return fd;
}

static struct restore_file *shared_file(const struct restore_ctx *ctx, uint32_t id)
{
	size_t i;

	for (i = 0; i < ctx->nr_files; i++)
		if (ctx->files[i].id == id)
			return &ctx->files[i];
	return NULL;
}

/* A new open file description for a files.img entry (the open flags
 * O_CLOEXEC: the caller chooses the fd's own flags). */
static int open_description(struct restore_ctx *ctx, FileEntry *fe)
{
	int fd;

	if (fe->type == FD_TYPES__PIPE)
		return open_pipe(ctx, fe);
	if (fe->type == FD_TYPES__MEMFD) {
		fd = shmem_open_file(ctx, fe);
		if (fd >= 0 && file_setfl_async(fd, fe->memfd->flags, fe->id)) {
			close(fd);
			return -1;
		}
		return fd;
	}
	if (fe->type == FD_TYPES__REG && fe->reg)
		return reg_file_open(ctx, fe->reg, 1);
	if (fe->type == FD_TYPES__INETSK && fe->isk)
		return inetsk_open(ctx, fe);
	if (fdkind_restored(fe->type))
		return fdkind_open(ctx, fe);
	return error("files.img: file id %u: type %d is not restored yet", fe->id, fe->type);
}

static int open_file(struct restore_ctx *ctx, FileEntry *fe, int min_fd)
{
	struct restore_file *sh = shared_file(ctx, fe->id);
	int fd, high;

	/* The controller's description itself, not a copy of it. */
	if (sh) {
		high = fcntl(sh->fd, F_DUPFD_CLOEXEC, min_fd);
		if (high < 0)
			return error("files.img: file id %u: cannot dup it above %d: %s", fe->id, min_fd,
				     strerror(errno));
		return high;
	}
	fd = open_description(ctx, fe);
	if (fd < 0)
		return -1;
	high = fcntl(fd, F_DUPFD_CLOEXEC, min_fd);
	close(fd);
	if (high < 0)
		return error("files.img: file id %u: cannot move its fd above %d: %s", fe->id, min_fd,
			     strerror(errno));
	return high;
}

struct id_table {
	uint32_t id, table;
};

static int cmp_id_table(const void *a, const void *b)
{
	const struct id_table *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->table < y->table ? -1 : x->table > y->table;
}

static int add_shared(struct restore_ctx *ctx, uint32_t id)
{
	struct restore_file *f;

	if (shared_file(ctx, id))
		return 0;
	f = realloc(ctx->files, (ctx->nr_files + 1) * sizeof(*f));
	if (!f)
		return error("out of memory");
	ctx->files = f;
	ctx->files[ctx->nr_files].id = id;
	ctx->files[ctx->nr_files].fd = -1;
	ctx->nr_files++;
	return 0;
}

/* The ids the controller opens: every pipe id, and every id that more
 * than one fd table (fdinfo image) holds. */
static int find_shared(struct restore_ctx *ctx)
{
	const struct img_set *set = ctx->set;
	struct id_table *all;
	size_t n = 0, i, j, k;
	int ret = 0;

	for (i = 0; i < set->nr_fdinfo_imgs; i++)
		n += set->fdinfo[i].img ? set->fdinfo[i].img->nr : 0;
	all = calloc(n + 1, sizeof(*all));
	if (!all)
		return error("out of memory");
	for (n = 0, i = 0; i < set->nr_fdinfo_imgs; i++)
		for (j = 0; set->fdinfo[i].img && j < set->fdinfo[i].img->nr; j++) {
			all[n].id = ((FdinfoEntry *)set->fdinfo[i].img->entries[j].msg)->id;
			all[n++].table = i;
		}
	qsort(all, n, sizeof(*all), cmp_id_table);
	for (i = 0; i < n && !ret; i = k) {
		for (k = i + 1; k < n && all[k].id == all[i].id; k++)
			;
		if (all[k - 1].table != all[i].table)
			ret = add_shared(ctx, all[i].id);
	}
	free(all);
	for (i = 0; i < set->nr_files && !ret; i++)
		if (set->files[i]->type == FD_TYPES__PIPE || fdkind_by_controller(set->files[i]))
			ret = add_shared(ctx, set->files[i]->id);
	/* Inet sockets too: made in an order across sockets (sk-inet.c). */
	for (i = 0; i < set->nr_files && !ret; i++)
		if (set->files[i]->type == FD_TYPES__INETSK)
			ret = add_shared(ctx, set->files[i]->id);
	return ret ? ret : unixsk_shared_ids(set, add_shared, ctx);
}

/* The controller, after the pipes and shared memory exist and before any
 * fork: the descriptions several tasks share (see the top of the file).
 * service_fds_setup() moves them up; until then they are ordinary fds,
 * for which the soft fd limit may have to grow. */
int files_prepare(struct restore_ctx *ctx)
{
	struct rlimit rl;
	size_t i;

	if (find_shared(ctx))
		return -1;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < ctx->nr_files + 256 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = ctx->nr_files + 256 < rl.rlim_max ? ctx->nr_files + 256 : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (i = 0; i < ctx->nr_files; i++) {
		FileEntry *fe = imgset_file(ctx->set, ctx->files[i].id);

		if (!fe)
			return error("fdinfo: file id %u is not in files.img", ctx->files[i].id);
		/* sk-unix.c makes the sockets, after the files they send. */
		if (fe->type == FD_TYPES__UNIXSK)
			continue;
		ctx->files[i].fd = open_description(ctx, fe);
		if (ctx->files[i].fd < 0)
			return -1;
	}
	return unixsk_prepare(ctx) ? -1 : inetsk_opened(ctx);
}

void files_close(struct restore_ctx *ctx)
{
	size_t i;

	for (i = 0; i < ctx->nr_files; i++) {
		if (ctx->files[i].fd >= 0)
			close(ctx->files[i].fd);
		ctx->files[i].fd = -1;
	}
}

/* Which tasks share an fd table: the first task (pstree order, parents
 * first) with a files_id owns it and restores it; the others are forked by
 * their parent with CLONE_FILES.  features.c refused a table shared by a
 * task whose parent does not hold it. */
int fdt_prepare(struct restore_ctx *ctx)
{
	const struct img_set *set = ctx->set;
	size_t i, j;

	ctx->fdt_max = 1;
	for (i = 0; i < set->nr_tasks; i++) {
		const struct img_task *t = &set->tasks[i];

		ctx->fdt_owner[i] = i;
		ctx->fdt_rank[i] = 0;
		if (t->zombie || !t->ids)
			continue;
		for (j = 0; j < i; j++) {
			const struct img_task *o = &set->tasks[j];

			if (o->zombie || !o->ids || o->ids->files_id != t->ids->files_id)
				continue;
			ctx->fdt_owner[i] = ctx->fdt_owner[j];
			ctx->fdt_rank[i] = ctx->fdt_rank[j] + 1;
		}
		if (ctx->fdt_rank[i] + 1 > ctx->fdt_max)
			ctx->fdt_max = ctx->fdt_rank[i] + 1;
	}
	return 0;
}

/* Close every fd of the task but the ones in want[0..n) (its dumped fds)
 * and the service fds keep_lo..keep_hi. */
static void close_all_but(const char *want, int n, int keep_lo, int keep_hi)
{
	int fd = 0;

	while (fd < n) {
		int end = fd;

		while (end < n && !want[end])
			end++;
		if (end > fd)
			close_range(fd, end - 1, 0);
		while (end < n && want[end])
			end++;
		fd = end;
	}
	if (keep_lo > fd)
		close_range(fd, keep_lo - 1, 0);
	close_range(keep_hi + 1, ~0u, 0);
}

static const FownEntry *file_fown(const FileEntry *fe)
{
	if (fe->type == FD_TYPES__REG && fe->reg)
		return fe->reg->fown;
	if (fe->type == FD_TYPES__PIPE && fe->pipe)
		return fe->pipe->fown;
	if (fe->type == FD_TYPES__MEMFD && fe->memfd)
		return fe->memfd->fown;
	if (fe->type == FD_TYPES__UNIXSK && fe->usk)
		return fe->usk->fown;
	if (fe->type == FD_TYPES__INETSK && fe->isk)
		return fe->isk->fown;
	return fdkind_fown(fe);
}

/* F_SETSIG and F_SETOWN as dumped (CRIU's restore_fown()).  Done in the
 * task, whose pid namespace the owner's pid belongs to.  The kernel keeps
 * the caller's uid and euid with the owner and checks them when it sends
 * SIGIO (sigio_perm()), so the task takes the dumped ones for the call;
 * its saved uid stays, so it can take its own back. */
static int fown_restore(int fd, const FileEntry *fe)
{
	const FownEntry *fown = file_fown(fe);
	struct f_owner_ex owner;
	uid_t ruid, euid, suid;
	int ret = 0, swap, dumpable;

	if (!fown)
		return 0;
	if (fown->signum && fcntl(fd, F_SETSIG, fown->signum))
		return error("files.img: file id %u: F_SETSIG %u: %s", fe->id, fown->signum, strerror(errno));
	if (!fown->pid)
		return 0;
	if (getresuid(&ruid, &euid, &suid))
		return error("getresuid: %s", strerror(errno));
	swap = ruid != fown->uid || euid != fown->euid;
	dumpable = prctl(PR_GET_DUMPABLE);
	if (swap && setresuid(fown->uid, fown->euid, -1))
		return error("files.img: file id %u: owner uid %u euid %u: %s", fe->id, fown->uid, fown->euid,
			     strerror(errno));
	owner.type = fown->pid_type;
	owner.pid = fown->pid;
	if (fcntl(fd, F_SETOWN_EX, &owner))
		ret = error("files.img: file id %u: F_SETOWN_EX type %u pid %u: %s", fe->id, fown->pid_type,
			    fown->pid, strerror(errno));
	if (swap && setresuid(ruid, euid, suid))
		return error("cannot take back uids %u %u %u: %s", ruid, euid, suid, strerror(errno));
	/* A change of euid made the task undumpable (commit_creds()). */
	if (swap && dumpable > 0 && prctl(PR_SET_DUMPABLE, dumpable))
		return error("PR_SET_DUMPABLE %d: %s", dumpable, strerror(errno));
	return ret;
}

static long futex(int32_t *word, int op, int32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

/* A task that shares its fd table with the task that restores it waits
 * until that one is done: it may open nothing before (an open would take
 * a number the owner is about to fill, and its close would close the
 * owner's file).  -1 if the restore was aborted meanwhile. */
int files_wait_shared(struct restore_ctx *ctx, struct img_task *t)
{
	int32_t *done = &ctx->shared->fdt_done[ctx->fdt_owner[t - ctx->set->tasks]];
	struct timespec tick = { 0, 50 * 1000 * 1000 };

	while (!__atomic_load_n(done, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&ctx->shared->te.start, __ATOMIC_ACQUIRE) < 0)
			return error("task %u: the restore was aborted while it waited for its fd table", t->pid);
		futex(done, FUTEX_WAIT, 0, &tick);
	}
	return 0;
}

static int lock_restore(const FileLockEntry *fl, size_t idx)
{
	struct flock lk = { .l_whence = SEEK_SET, .l_start = fl->start, .l_len = fl->len, .l_type = fl->type };

	if (fl->flag & FL_FLOCK) {
		int op = fl->type == F_RDLCK ? LOCK_SH : fl->type == F_WRLCK ? LOCK_EX : -1;

		if (op < 0 || flock(fl->fd, op | LOCK_NB))
			return error("filelocks.img: entry %zu: flock type %u on fd %d: %s", idx, fl->type, fl->fd,
				     op < 0 ? "unknown type" : strerror(errno));
	} else if (fl->flag & FL_POSIX) {
		if (fcntl(fl->fd, F_SETLK, &lk))
			return error("filelocks.img: entry %zu: POSIX lock type %u on fd %d [%lld, +%lld]: %s", idx,
				     fl->type, fl->fd, (long long)fl->start, (long long)fl->len, strerror(errno));
	} else if (fl->flag & FL_OFD) {
		if (fcntl(fl->fd, F_OFD_SETLK, &lk))
			return error("filelocks.img: entry %zu: OFD lock type %u on fd %d [%lld, +%lld]: %s", idx,
				     fl->type, fl->fd, (long long)fl->start, (long long)fl->len, strerror(errno));
	} else if (fl->flag & FL_LEASE) {
		/* features.c refused a lease being broken. */
		if (fcntl(fl->fd, F_SETLEASE, fl->type))
			return error("filelocks.img: entry %zu: lease type %u on fd %d: %s", idx, fl->type, fl->fd,
				     strerror(errno));
	} else
		return error("filelocks.img: entry %zu: lock kind %#x unknown", idx, fl->flag);
	return 0;
}

/* The task's file locks, once its fds are in place (CRIU's
 * prepare_file_locks(), right after prepare_fds()).  A POSIX lock belongs to
 * the task's fd table and pid, so each task sets its own; flock and OFD
 * locks and leases belong to the open file description, set through the
 * fd of the task the image names. */
int locks_restore(struct restore_ctx *ctx, struct img_task *t)
{
	struct image *img = ctx->set->file_locks_img;
	size_t i;

	for (i = 0; img && i < img->nr; i++) {
		const FileLockEntry *fl = (FileLockEntry *)img->entries[i].msg;

		if ((uint32_t)fl->pid == t->pid && lock_restore(fl, i))
			return -1;
	}
	return 0;
}

/* A file of the task's own /proc/PID (zdtm's fanotify00 keeps
 * /proc/self/fdinfo/N open) is opened once the fds before it are in place:
 * the fd it names may not exist earlier (CRIU opens fds in their order). */
static int own_proc_file(const FileEntry *fe, const struct img_task *t)
{
	char pfx[32];

	if (fe->type != FD_TYPES__REG || !fe->reg)
		return 0;
	snprintf(pfx, sizeof(pfx), "/proc/%u/", t->pid);
	return !strncmp(fe->reg->name, pfx, strlen(pfx));
}

static int own_proc_late(struct restore_ctx *ctx, struct image *img, size_t i, int *opened, int max_fd)
{
	FdinfoEntry *fdi = (FdinfoEntry *)img->entries[i].msg;
	size_t j;

	for (j = 0; j < i; j++)
		if (((FdinfoEntry *)img->entries[j].msg)->id == fdi->id)
			opened[i] = opened[j];
	if (opened[i] < 0)
		opened[i] = open_file(ctx, imgset_file(ctx->set, fdi->id), max_fd + 1);
	return opened[i] < 0 ? -1 : 0;
}

/* Every fd of the task as fdinfo-<files_id>.img says, then nothing else
 * but the logs and exes (for PR_SET_MM_MAP) of the tasks sharing the fd
 * table, which each closes before or in its restorer. */
int files_restore(struct restore_ctx *ctx, struct img_task *t)
{
	struct image *img = imgset_fdinfo(ctx->set, t->ids->files_id);
	size_t n = img ? img->nr : 0, i, j;
	int *opened, max_fd = -1, ret = -1;
	char *want = NULL;

	opened = calloc(n + 1, sizeof(*opened));
	if (!opened)
		return error("out of memory");
	for (i = 0; i < n; i++) {
		FdinfoEntry *fdi = (FdinfoEntry *)img->entries[i].msg;

		opened[i] = -1;
		if ((int)fdi->fd > max_fd)
			max_fd = fdi->fd;
	}
	if (max_fd >= ctx->sfd_top - ctx->sfd_nr) {
		error("task %u: fd %d collides with the service fds (from %d)", t->pid, max_fd,
		      ctx->sfd_top - ctx->sfd_nr);
		goto out;
	}
	want = calloc(max_fd + 2, 1);
	if (!want) {
		error("out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		FdinfoEntry *fdi = (FdinfoEntry *)img->entries[i].msg;
		FileEntry *fe = imgset_file(ctx->set, fdi->id);

		if (!fe) {
			error("fdinfo-%u.img: entry %zu: fd %u refers to file id %u, not in files.img",
			      t->ids->files_id, i, fdi->fd, fdi->id);
			goto out;
		}
		if (own_proc_file(fe, t))
			continue;
		/* One open file description per file id. */
		for (j = 0; j < i; j++)
			if (((FdinfoEntry *)img->entries[j].msg)->id == fdi->id)
				opened[i] = opened[j];
		/* Opened above every target fd, so that no open lands on a
		 * number another file still needs. */
		if (opened[i] < 0) {
			opened[i] = open_file(ctx, fe, max_fd + 1);
			if (opened[i] < 0)
				goto out;
		}
	}
	for (i = 0; i < n; i++) {
		FdinfoEntry *fdi = (FdinfoEntry *)img->entries[i].msg;
		int flags = (fdi->flags & FD_CLOEXEC) ? O_CLOEXEC : 0;

		if (opened[i] < 0 && own_proc_late(ctx, img, i, opened, max_fd))
			goto out;
		if (dup3(opened[i], fdi->fd, flags) < 0) {
			error("fdinfo-%u.img: entry %zu: cannot place fd %u: %s", t->ids->files_id, i,
			      fdi->fd, strerror(errno));
			goto out;
		}
		want[fdi->fd] = 1;
	}
	/* Owners and signals, once per description. */
	for (i = 0; i < n; i++) {
		FdinfoEntry *fdi = (FdinfoEntry *)img->entries[i].msg;

		for (j = 0; j < i; j++)
			if (((FdinfoEntry *)img->entries[j].msg)->id == fdi->id)
				break;
		if (j == i && fown_restore(fdi->fd, imgset_file(ctx->set, fdi->id)))
			goto out;
	}
	if (fdkinds_restore_late(ctx, t))
		goto out;
	ret = 0;
out:
	if (!ret) {
		/* What is left of crstep's goes: the open files above the
		 * targets, the pipe ends, shared files and shared memory this
		 * task does not hold (a reader would never see EOF), anything
		 * else but the tasks' own service fds (the top ones). */
		pipes_close(ctx);
		files_close(ctx);
		shmem_close(ctx);
		remap_close(ctx);
		close_all_but(want, max_fd + 1, service_fd(ctx, SFD_PER_TASK * ctx->fdt_max - 1),
			      service_fd(ctx, 0));
		__atomic_store_n(&ctx->shared->fdt_done[t - ctx->set->tasks], 1, __ATOMIC_RELEASE);
		futex(&ctx->shared->fdt_done[t - ctx->set->tasks], FUTEX_WAKE, INT32_MAX, NULL);
	} else {
		for (i = 0; i < n; i++) {
			if (opened[i] < 0)
				continue;
			for (j = i + 1; j < n; j++)
				if (opened[j] == opened[i])
					opened[j] = -1;
			close(opened[i]);
		}
	}
	free(want);
	free(opened);
	return ret;
}

static const char *fs_path(struct restore_ctx *ctx, struct img_task *t, uint32_t id, const char *what)
{
	FileEntry *fe = imgset_file(ctx->set, id);

	if (!fe || !fe->reg) {
		error("fs-%u.img: %s file id %u is not a regular file entry in files.img", t->pid, what, id);
		return NULL;
	}
	return fe->reg->name;
}

/* A cwd removed before the dump is entered through its dentry (remap.c),
 * before files_restore() closes the service fds that hold it; files are
 * opened by absolute names, so the early chdir changes nothing for them.
 * Inside a chroot the dentry would have to be reached after the chroot. */
int fs_enter_removed_cwd(struct restore_ctx *ctx, struct img_task *t)
{
	FileEntry *cwd = imgset_file(ctx->set, t->fs->cwd_id);
	const char *root = fs_path(ctx, t, t->fs->root_id, "root");
	char buf[64];

	if (!cwd || !cwd->reg || !imgset_remap(ctx->set, cwd->id))
		return 0;
	if (!root || strcmp(root, "/"))
		return error("fs-%u.img: the cwd %s was removed and the root is %s: a removed cwd in a chroot is "
			     "not restored yet", t->pid, cwd->reg->name, root ? root : "?");
	if (chdir(remap_path(ctx, cwd->reg, buf, sizeof(buf))))
		return error("fs-%u.img: cannot enter the removed cwd %s: %s", t->pid, cwd->reg->name,
			     strerror(errno));
	return 0;
}

/* Root first (CRIU's restore_fs): the cwd is a path in the new root. */
int fs_restore(struct restore_ctx *ctx, struct img_task *t)
{
	const char *root = fs_path(ctx, t, t->fs->root_id, "root");
	const char *cwd = fs_path(ctx, t, t->fs->cwd_id, "cwd");

	if (!root || !cwd)
		return -1;
	if (strcmp(root, "/") && chroot(root))
		return error("fs-%u.img: cannot chroot to %s: %s", t->pid, root, strerror(errno));
	if (!imgset_remap(ctx->set, t->fs->cwd_id) && chdir(cwd))
		return error("fs-%u.img: cannot chdir to %s: %s", t->pid, cwd, strerror(errno));
	if (t->fs->has_umask)
		umask(t->fs->umask);
	return 0;
}
