/* fdkinds.c: the fd kinds that are neither files, pipes nor sockets:
 * FIFOs, eventfd, signalfd, timerfd, eventpoll, pidfd, inotify and fanotify
 * (CRIU's fifo.c, eventfd.c, signalfd.c, timerfd.c, eventpoll.c, pidfd.c
 * and fsnotify.c).  files.c opens them through fdkind_open() like any
 * other description, and calls fdkinds_restore_late() once a task's fds
 * are all in place.
 *
 * Where each is opened, and why:
 * - FIFOs are opened by the controller before the fork, as pipes are
 *   (fdkind_by_controller()): a FIFO end would block in open() until its
 *   other end is open, so an O_RDWR open of the path stands in for it while
 *   the real one is made (CRIU's fake fifo), and the queued bytes
 *   (fifo-data.img) go in through it once per pipe_id, before anyone reads.
 * - A pidfd of a live process is opened by the task itself: the nspid is in
 *   the tree's pid namespace, which the controller is not in; it is opened
 *   at RESTORE, when every task of the tree exists.  A pidfd of a process
 *   reaped before the dump is the controller's: it forks a process, opens
 *   a pidfd of it for every file id of that process (one pidfs inode, as
 *   dumped), kills and reaps it.
 * - An eventpoll's targets are registered after every fd of the task is in
 *   place, by the first task (pstree order) that holds the epoll: target fd
 *   numbers are that task's (CRIU dumps them so, and restores epoll last).
 * - Timers are armed with the time left at the dump; a periodic one that
 *   had expired but was not read yet (time left 0, ticks pending) is armed
 *   for one interval, where CRIU would leave it disarmed.
 * Everything else is opened wherever files.c opens a description. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "restore.h"

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif
#ifndef INOTIFY_IOC_SETNEXTWD
#define INOTIFY_IOC_SETNEXTWD _IOW('I', 0, int32_t)
#endif
#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif
#define PIDFD_THREAD_FLAG O_EXCL	/* PIDFD_THREAD (Linux 6.9) */
/* The mark bits an inotify watch is set up with again: the events, and the
 * two flags the kernel reports back in the mask (inotify_mark_user_mask()).
 * IN_DONT_FOLLOW would watch the /proc magic link the watch is made
 * through. */
#define INOTIFY_RESTORED_MASK (IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK)

int fdkind_restored(int type)
{
	switch (type) {
	case FD_TYPES__FIFO:
	case FD_TYPES__EVENTFD:
	case FD_TYPES__EVENTPOLL:
	case FD_TYPES__SIGNALFD:
	case FD_TYPES__TIMERFD:
	case FD_TYPES__PIDFD:
	case FD_TYPES__INOTIFY:
	case FD_TYPES__FANOTIFY:
	case FD_TYPES__TTY:	/* ptys: tty.c */
		return 1;
	}
	return 0;
}

int fdkind_by_controller(const FileEntry *fe)
{
	if (fe->type == FD_TYPES__FIFO || fe->type == FD_TYPES__TTY)
		return 1;
	return fe->type == FD_TYPES__PIDFD && fe->pidfd && fe->pidfd->nspid == -1;
}

const FownEntry *fdkind_fown(const FileEntry *fe)
{
	switch (fe->type) {
	case FD_TYPES__EVENTFD:
		return fe->efd ? fe->efd->fown : NULL;
	case FD_TYPES__EVENTPOLL:
		return fe->epfd ? fe->epfd->fown : NULL;
	case FD_TYPES__SIGNALFD:
		return fe->sgfd ? fe->sgfd->fown : NULL;
	case FD_TYPES__TIMERFD:
		return fe->tfd ? fe->tfd->fown : NULL;
	case FD_TYPES__PIDFD:
		return fe->pidfd ? fe->pidfd->fown : NULL;
	case FD_TYPES__INOTIFY:
		return fe->ify ? fe->ify->fown : NULL;
	case FD_TYPES__FANOTIFY:
		return fe->ffy ? fe->ffy->fown : NULL;
	case FD_TYPES__TTY:
		return fe->tty ? fe->tty->fown : NULL;
	default:
		return NULL;
	}
}

/* The file status flags as dumped (the access mode is the kind's own).
 * F_SETFL arms O_ASYNC's fasync too, which open() would not. */
static int set_status_flags(int fd, uint32_t flags, const FileEntry *fe, const char *kind)
{
	if (fcntl(fd, F_SETFL, flags & ~O_ACCMODE)) {
		close(fd);
		return error("files.img: %s file id %u: flags %#o: %s", kind, fe->id, flags, strerror(errno));
	}
	return fd;
}

/* --- FIFOs -------------------------------------------------------------- */

static const RegFileEntry *fifo_reg(const struct img_set *set, const FileEntry *fe)
{
	const FileEntry *r = imgset_file(set, fe->fifo->has_regf_id ? fe->fifo->regf_id : fe->id);

	return r && r->type == FD_TYPES__REG ? r->reg : NULL;
}

/* The first FIFO entry of files.img with this pipe_id fills it. */
static int fifo_fills(const struct img_set *set, const FileEntry *fe)
{
	size_t i;

	for (i = 0; i < set->nr_files && set->files[i] != fe; i++)
		if (set->files[i]->type == FD_TYPES__FIFO && set->files[i]->fifo &&
		    set->files[i]->fifo->pipe_id == fe->fifo->pipe_id)
			return 0;
	return 1;
}

static int fifo_fill(const struct restore_ctx *ctx, int fd, uint32_t pipe_id)
{
	char path[600];
	struct image *img;
	size_t i, off;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/fifo-data.img", ctx->set->dir);
	img = image_read(path, img_desc_by_name("FIFO_DATA"), 0);
	if (!img)
		return -1;
	for (i = 0; i < img->nr && !ret; i++) {
		const struct img_entry *e = &img->entries[i];
		const PipeDataEntry *pd = (PipeDataEntry *)e->msg;

		if (pd->pipe_id != pipe_id)
			continue;
		if (pd->has_size && pd->size && fcntl(fd, F_SETPIPE_SZ, pd->size) < 0)
			ret = error("fifo-data.img: entry %zu: FIFO %u: F_SETPIPE_SZ %u: %s", i, pipe_id, pd->size,
				    strerror(errno));
		for (off = 0; !ret && off < e->extra_len;) {
			ssize_t n = write(fd, e->extra + off, e->extra_len - off);

			if (n <= 0)
				ret = error("fifo-data.img: entry %zu: FIFO %u: writing %zu bytes: %s", i, pipe_id,
					    e->extra_len, n ? strerror(errno) : "short write");
			else
				off += n;
		}
	}
	image_free(img);
	return ret;
}

static int fifo_open(struct restore_ctx *ctx, const FileEntry *fe)
{
	const RegFileEntry *reg = fifo_reg(ctx->set, fe);
	char buf[64];
	const char *path = remap_path(ctx, reg, buf, sizeof(buf));
	int fake, fd;

	/* Both ends at once: no open of this FIFO blocks while it is open. */
	fake = open(path, O_RDWR | O_CLOEXEC);
	if (fake < 0)
		return error("files.img: FIFO file id %u: cannot open %s: %s", fe->id, reg->name, strerror(errno));
	fd = reg_file_open(ctx, reg, 0);
	if (fd >= 0 && fifo_fills(ctx->set, fe) && fifo_fill(ctx, fake, fe->fifo->pipe_id)) {
		close(fd);
		fd = -1;
	}
	close(fake);
	return fd;
}

/* --- eventfd, signalfd, timerfd ------------------------------------------ */

static int eventfd_open(const FileEntry *fe)
{
	const EventfdFileEntry *e = fe->efd;
	int fd;

	/* The count is an unsigned int argument: larger ones are written. */
	fd = eventfd(e->counter <= 0xffffffffu ? (unsigned)e->counter : 0, EFD_CLOEXEC);
	if (fd < 0)
		return error("files.img: eventfd file id %u: %s", fe->id, strerror(errno));
	if (e->counter > 0xffffffffu && write(fd, &e->counter, sizeof(e->counter)) != sizeof(e->counter)) {
		close(fd);
		return error("files.img: eventfd file id %u: count %llu: %s", fe->id,
			     (unsigned long long)e->counter, strerror(errno));
	}
	return set_status_flags(fd, e->flags, fe, "eventfd");
}

static int signalfd_open(const FileEntry *fe)
{
	sigset_t mask;
	int fd, sig;

	sigemptyset(&mask);
	for (sig = 1; sig <= 64; sig++)
		if (fe->sgfd->sigmask & (1ull << (sig - 1)))
			sigaddset(&mask, sig);
	fd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (fd < 0)
		return error("files.img: signalfd file id %u: mask %#llx: %s", fe->id,
			     (unsigned long long)fe->sgfd->sigmask, strerror(errno));
	return set_status_flags(fd, fe->sgfd->flags, fe, "signalfd");
}

static int timerfd_open(const FileEntry *fe)
{
	const TimerfdEntry *t = fe->tfd;
	struct itimerspec its = {
		.it_interval = { (time_t)t->isec, (long)t->insec },
		.it_value = { (time_t)t->vsec, (long)t->vnsec },
	};
	uint64_t ticks = t->ticks;
	struct timespec now;
	int fd;

	fd = timerfd_create(t->clockid, TFD_CLOEXEC);
	if (fd < 0)
		return error("files.img: timerfd file id %u: clock %u: %s", fe->id, t->clockid, strerror(errno));
	if (set_status_flags(fd, t->flags, fe, "timerfd") < 0)
		return -1;
	/* Expired and not read: the kernel restarts a periodic timer only
	 * when it is read, so /proc showed no time left. */
	if (ticks && !t->vsec && !t->vnsec)
		its.it_value = its.it_interval;
	/* The time left is relative even for an absolute timer (CRIU's
	 * timerfd_arm() adds the clock's now to it). */
	if ((t->settime_flags & TFD_TIMER_ABSTIME) && (its.it_value.tv_sec || its.it_value.tv_nsec)) {
		if (clock_gettime(t->clockid, &now)) {
			close(fd);
			return error("files.img: timerfd file id %u: clock %u: %s", fe->id, t->clockid,
				     strerror(errno));
		}
		its.it_value.tv_sec += now.tv_sec;
		its.it_value.tv_nsec += now.tv_nsec;
		if (its.it_value.tv_nsec >= 1000000000L) {
			its.it_value.tv_sec++;
			its.it_value.tv_nsec -= 1000000000L;
		}
	}
	if (timerfd_settime(fd, t->settime_flags, &its, NULL) ||
	    (ticks && ioctl(fd, TFD_IOC_SET_TICKS, &ticks))) {
		close(fd);
		return error("files.img: timerfd file id %u: arming it (%llu.%09llu s left, every %llu.%09llu s, "
			     "%llu ticks): %s", fe->id, (unsigned long long)t->vsec, (unsigned long long)t->vnsec,
			     (unsigned long long)t->isec, (unsigned long long)t->insec,
			     (unsigned long long)ticks, strerror(errno));
	}
	return fd;
}

/* --- pidfd -------------------------------------------------------------- */

/* The processes standing in for reaped ones, while their pidfds are
 * opened (the controller only, before the fork). */
static struct dead_pid {
	uint32_t ino;
	pid_t pid;
	size_t left;	/* file ids still to open */
} *dead_pids;
static size_t nr_dead_pids;

static int dead_pid_end(struct dead_pid *d)
{
	int status;

	if (kill(d->pid, SIGKILL) || waitpid(d->pid, &status, 0) != d->pid)
		return error("pidfd: cannot end the stand-in process %d: %s", d->pid, strerror(errno));
	*d = dead_pids[--nr_dead_pids];
	return 0;
}

static struct dead_pid *dead_pid_get(const struct img_set *set, uint32_t ino)
{
	struct dead_pid *d;
	size_t i, n = 0;
	pid_t pid;

	for (i = 0; i < nr_dead_pids; i++)
		if (dead_pids[i].ino == ino)
			return &dead_pids[i];
	for (i = 0; i < set->nr_files; i++)
		n += set->files[i]->type == FD_TYPES__PIDFD && set->files[i]->pidfd &&
		     set->files[i]->pidfd->nspid == -1 && set->files[i]->pidfd->ino == ino;
	d = realloc(dead_pids, (nr_dead_pids + 1) * sizeof(*d));
	if (!d)
		return error("out of memory"), NULL;
	dead_pids = d;
	pid = fork();
	if (pid < 0)
		return error("pidfd: cannot fork a stand-in for a reaped process: %s", strerror(errno)), NULL;
	if (!pid) {
		for (;;)
			pause();
	}
	d = &dead_pids[nr_dead_pids++];
	d->ino = ino;
	d->pid = pid;
	d->left = n;
	return d;
}

static int pidfd_open_flags(pid_t pid, uint32_t flags)
{
	return syscall(SYS_pidfd_open, pid, flags & (PIDFD_NONBLOCK | PIDFD_THREAD_FLAG));
}

static int pidfd_open_entry(const struct restore_ctx *ctx, const FileEntry *fe)
{
	const PidfdEntry *p = fe->pidfd;
	struct dead_pid *d;
	int fd;

	if (p->nspid != -1) {
		fd = pidfd_open_flags(p->nspid, p->flags);
		if (fd < 0)
			return error("files.img: pidfd file id %u: pidfd_open(%d): %s", fe->id, p->nspid,
				     strerror(errno));
	} else {
		d = dead_pid_get(ctx->set, p->ino);
		if (!d)
			return -1;
		fd = pidfd_open_flags(d->pid, p->flags);
		if (fd < 0)
			error("files.img: pidfd file id %u: pidfd_open of the stand-in %d: %s", fe->id, d->pid,
			      strerror(errno));
		if (!--d->left && dead_pid_end(d) && fd >= 0) {
			close(fd);
			fd = -1;
		}
		if (fd < 0)
			return -1;
	}
	if (fcntl(fd, F_SETFD, FD_CLOEXEC)) {
		close(fd);
		return error("files.img: pidfd file id %u: %s", fe->id, strerror(errno));
	}
	return set_status_flags(fd, p->flags, fe, "pidfd");
}

/* --- inotify, fanotify ------------------------------------------------- */

/* The inode of a file handle, through the mounts of the filesystem whose
 * kernel dev_t is s_dev (CRIU's open_handle()).  open_by_handle_at() wants
 * a real open of the mount, not an O_PATH one. */
static int open_handle(uint32_t s_dev, struct file_handle *h)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], mnt[4096];
	unsigned maj, mnr;
	int fd = -1, mfd;

	if (!f)
		return -1;
	while (fd < 0 && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*d %*d %u:%u %*s %4095s", &maj, &mnr, mnt) != 3 || maj != s_dev >> 20 ||
		    mnr != (s_dev & 0xfffff))
			continue;
		mfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (mfd < 0)
			continue;
		fd = open_by_handle_at(mfd, h, O_PATH | O_CLOEXEC);
		close(mfd);
	}
	fclose(f);
	return fd;
}

/* A watched inode that was deleted but open (a ghost of remap-fpath.img,
 * the same dev and inode): the ghost's dentry, remap.c's O_PATH fd
 * (CRIU's lookup_ghost_remap()). */
static const char *mark_ghost(const struct restore_ctx *ctx, uint32_t s_dev, uint64_t ino, char *buf, size_t len)
{
	const struct img_set *set = ctx->set;
	size_t i;

	for (i = 0; set->remap_img && i < set->remap_img->nr; i++) {
		const RemapFilePathEntry *rpe = (RemapFilePathEntry *)set->remap_img->entries[i].msg;
		const struct ghost_img *g = rpe->remap_type == REMAP_TYPE__GHOST ? imgset_ghost(set, rpe->remap_id) : NULL;
		const FileEntry *fe = imgset_file(set, rpe->orig_id);

		if (g && fe && fe->reg && g->gfe->has_dev && g->gfe->dev == s_dev && g->gfe->has_ino &&
		    g->gfe->ino == ino)
			return remap_path(ctx, fe->reg, buf, len);
	}
	return NULL;
}

/* An O_PATH fd on a watched inode: the ghost it is, by the path criu found
 * for it, else by its file handle (CRIU's get_mark_path()). */
static int mark_target(const struct restore_ctx *ctx, const FhEntry *fh, uint32_t s_dev, uint64_t ino,
		       const char *what)
{
	char buf[64];
	const char *ghost = mark_ghost(ctx, s_dev, ino, buf, sizeof(buf));
	struct {
		struct file_handle h;
		unsigned char bytes[128];
	} hb;
	size_t i;
	int fd;

	if (ghost || fh->path) {
		fd = open(ghost ? ghost : fh->path, O_PATH | O_CLOEXEC);
		if (fd < 0)
			return error("%s: cannot open the watched %s: %s", what, ghost ? "deleted file" : fh->path,
				     strerror(errno));
		return fd;
	}
	if (fh->bytes > sizeof(hb.bytes) || fh->n_handle * 8 < fh->bytes)
		return error("%s: a file handle of %u bytes", what, fh->bytes);
	hb.h.handle_bytes = fh->bytes;
	hb.h.handle_type = fh->type;
	for (i = 0; i * 8 < fh->bytes; i++)
		memcpy(hb.h.f_handle + i * 8, &fh->handle[i], fh->bytes - i * 8 < 8 ? fh->bytes - i * 8 : 8);
	fd = open_handle(s_dev, &hb.h);
	if (fd < 0)
		return error("%s: cannot open the watched inode by its handle on device %u:%u: %s", what,
			     s_dev >> 20, s_dev & 0xfffff, strerror(errno));
	return fd;
}

static int inotify_watch(const struct restore_ctx *ctx, int ifd, const FileEntry *fe, const InotifyWdEntry *w)
{
	char what[64], path[64];
	int target, wd, ret = -1;

	snprintf(what, sizeof(what), "files.img: inotify file id %u: watch %u", fe->id, w->wd);
	target = mark_target(ctx, w->f_handle, w->s_dev, w->i_ino, what);
	if (target < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", target);
	/* The watch descriptor as dumped: the kernel hands out the next
	 * one from where this ioctl says (Linux 4.19). */
	if (ioctl(ifd, INOTIFY_IOC_SETNEXTWD, (int32_t)w->wd))
		error("%s: INOTIFY_IOC_SETNEXTWD: %s", what, strerror(errno));
	else if ((wd = inotify_add_watch(ifd, path, w->mask & INOTIFY_RESTORED_MASK)) < 0)
		error("%s: inotify_add_watch mask %#x: %s", what, w->mask, strerror(errno));
	else if ((uint32_t)wd != w->wd)
		error("%s: the kernel gave watch %d", what, wd);
	else
		ret = 0;
	close(target);
	return ret;
}

static int inotify_open(const struct restore_ctx *ctx, const FileEntry *fe)
{
	size_t i;
	int fd = inotify_init1(IN_CLOEXEC);

	if (fd < 0)
		return error("files.img: inotify file id %u: %s", fe->id, strerror(errno));
	for (i = 0; i < fe->ify->n_wd; i++)
		if (inotify_watch(ctx, fd, fe, fe->ify->wd[i])) {
			close(fd);
			return -1;
		}
	return set_status_flags(fd, fe->ify->flags, fe, "inotify");
}

static int fanotify_add(const struct restore_ctx *ctx, int ffd, const FileEntry *fe, size_t idx)
{
	const FanotifyMarkEntry *m = fe->ffy->mark[idx];
	unsigned flags = FAN_MARK_ADD | m->mflags;
	char what[64], path[64];
	int target, ret = 0;

	snprintf(what, sizeof(what), "files.img: fanotify file id %u: mark %zu", fe->id, idx);
	if (m->type == MARK_TYPE__MOUNT && m->me && m->me->path) {
		flags |= FAN_MARK_MOUNT;
		target = open(m->me->path, O_PATH | O_CLOEXEC);
		if (target < 0)
			return error("%s: cannot open the mount %s: %s", what, m->me->path, strerror(errno));
	} else if (m->type == MARK_TYPE__INODE && m->ie) {
		target = mark_target(ctx, m->ie->f_handle, m->s_dev, m->ie->i_ino, what);
		if (target < 0)
			return -1;
	} else
		return error("%s: mark type %d without its part", what, m->type);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", target);
	if (m->mask && fanotify_mark(ffd, flags, m->mask, AT_FDCWD, path))
		ret = error("%s: fanotify_mark mask %#x: %s", what, m->mask, strerror(errno));
	if (!ret && m->ignored_mask &&
	    fanotify_mark(ffd, flags | FAN_MARK_IGNORED_MASK, m->ignored_mask, AT_FDCWD, path))
		ret = error("%s: fanotify_mark ignored mask %#x: %s", what, m->ignored_mask, strerror(errno));
	close(target);
	return ret;
}

static int fanotify_open(const struct restore_ctx *ctx, const FileEntry *fe)
{
	const FanotifyFileEntry *f = fe->ffy;
	/* The group keeps its init flags (fdinfo's "fanotify flags"): no
	 * FAN_CLOEXEC the image does not have, FD_CLOEXEC instead. */
	unsigned flags = f->faflags | ((f->flags & O_CLOEXEC) ? FAN_CLOEXEC : 0) |
			 ((f->flags & O_NONBLOCK) ? FAN_NONBLOCK : 0);
	size_t i;
	int fd = fanotify_init(flags, f->evflags);

	if (fd < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC))
		return error("files.img: fanotify file id %u: fanotify_init %#x %#x: %s", fe->id, flags, f->evflags,
			     strerror(errno));
	for (i = 0; i < f->n_mark; i++)
		if (fanotify_add(ctx, fd, fe, i)) {
			close(fd);
			return -1;
		}
	return set_status_flags(fd, f->flags, fe, "fanotify");
}

/* --- the hooks files.c calls ---------------------------------------------- */

int fdkind_open(struct restore_ctx *ctx, const FileEntry *fe)
{
	switch (fe->type) {
	case FD_TYPES__FIFO:
		return fifo_open(ctx, fe);
	case FD_TYPES__EVENTFD:
		return eventfd_open(fe);
	case FD_TYPES__SIGNALFD:
		return signalfd_open(fe);
	case FD_TYPES__TIMERFD:
		return timerfd_open(fe);
	case FD_TYPES__EVENTPOLL: {
		int fd = epoll_create1(EPOLL_CLOEXEC);

		if (fd < 0)
			return error("files.img: eventpoll file id %u: %s", fe->id, strerror(errno));
		return set_status_flags(fd, fe->epfd->flags, fe, "eventpoll");
	}
	case FD_TYPES__PIDFD:
		return pidfd_open_entry(ctx, fe);
	case FD_TYPES__INOTIFY:
		return inotify_open(ctx, fe);
	case FD_TYPES__FANOTIFY:
		return fanotify_open(ctx, fe);
	case FD_TYPES__TTY:
		return tty_open(ctx, fe);
	default:
		break;
	}
	return error("files.img: file id %u: type %d is not restored yet", fe->id, fe->type);
}

/* The pstree index of the first live task whose fd table holds file id. */
static ssize_t first_holder(const struct img_set *set, uint32_t id)
{
	size_t i, j;

	for (i = 0; i < set->nr_tasks; i++) {
		const struct img_task *t = &set->tasks[i];
		struct image *img = t->zombie || !t->ids ? NULL : imgset_fdinfo(set, t->ids->files_id);

		for (j = 0; img && j < img->nr; j++)
			if (((FdinfoEntry *)img->entries[j].msg)->id == id)
				return i;
	}
	return -1;
}

/* Once every fd of task t is in place: the targets of the epolls it is
 * the first holder of. */
int fdkinds_restore_late(struct restore_ctx *ctx, struct img_task *t)
{
	struct image *img = imgset_fdinfo(ctx->set, t->ids->files_id);
	size_t i, j;

	for (i = 0; img && i < img->nr; i++) {
		const FdinfoEntry *fdi = (FdinfoEntry *)img->entries[i].msg;
		const FileEntry *fe = imgset_file(ctx->set, fdi->id);

		if (!fe || fe->type != FD_TYPES__EVENTPOLL || first_holder(ctx->set, fe->id) != t - ctx->set->tasks)
			continue;
		for (j = 0; j < i; j++)
			if (((FdinfoEntry *)img->entries[j].msg)->id == fdi->id)
				break;
		if (j < i)
			continue;
		for (j = 0; j < fe->epfd->n_tfd; j++) {
			const EventpollTfdEntry *tfd = fe->epfd->tfd[j];
			struct epoll_event ev = { .events = tfd->events, .data.u64 = tfd->data };

			if (epoll_ctl(fdi->fd, EPOLL_CTL_ADD, tfd->tfd, &ev))
				return error("files.img: eventpoll file id %u (task %u fd %u): target fd %u, events "
					     "%#x: %s", fe->id, t->pid, fdi->fd, tfd->tfd, tfd->events, strerror(errno));
		}
	}
	return tty_restore_ctty(ctx, t);
}

/* --- what is refused, before anything is forked ------------------------- */

static int has_part(const FileEntry *fe)
{
	switch (fe->type) {
	case FD_TYPES__FIFO: return !!fe->fifo;
	case FD_TYPES__EVENTFD: return !!fe->efd;
	case FD_TYPES__EVENTPOLL: return !!fe->epfd;
	case FD_TYPES__SIGNALFD: return !!fe->sgfd;
	case FD_TYPES__TIMERFD: return !!fe->tfd;
	case FD_TYPES__PIDFD: return !!fe->pidfd;
	case FD_TYPES__INOTIFY: return !!fe->ify;
	case FD_TYPES__FANOTIFY: return !!fe->ffy;
	default: return 1;
	}
}

static int fd_in_table(const struct image *img, uint32_t fd)
{
	size_t i;

	for (i = 0; img && i < img->nr; i++)
		if (((FdinfoEntry *)img->entries[i].msg)->fd == fd)
			return 1;
	return 0;
}

static int is_tree_tid(const struct img_set *set, int32_t pid)
{
	size_t i, j;

	for (i = 0; i < set->nr_tasks; i++)
		for (j = 0; j < set->tasks[i].nr_threads; j++)
			if ((int32_t)set->tasks[i].threads[j].tid == pid)
				return 1;
	return 0;
}

static int check_file(const struct img_set *set, const FileEntry *fe, size_t idx)
{
	ssize_t holder;
	size_t i, j;

	if (!has_part(fe))
		return error("files.img: entry %zu: file id %u of its type has no part for it", idx, fe->id);
	if (fe->type == FD_TYPES__FIFO && !fifo_reg(set, fe))
		return error("files.img: entry %zu: FIFO file id %u: its path (file id %u) is not a regular file "
			     "entry", idx, fe->id, fe->fifo->has_regf_id ? fe->fifo->regf_id : fe->id);
	if (fe->type == FD_TYPES__PIDFD && fe->pidfd->nspid != -1) {
		if (!is_tree_tid(set, fe->pidfd->nspid))
			return error("files.img: entry %zu: a pidfd of pid %d, not a task of the tree: not restored "
				     "yet", idx, fe->pidfd->nspid);
		holder = first_holder(set, fe->id);
		for (i = holder < 0 ? set->nr_tasks : (size_t)holder + 1; i < set->nr_tasks; i++) {
			const struct img_task *t = &set->tasks[i];
			struct image *img = t->zombie || !t->ids ? NULL : imgset_fdinfo(set, t->ids->files_id);

			if (!img || t->ids->files_id == set->tasks[holder].ids->files_id)
				continue;
			for (j = 0; j < img->nr; j++)
				if (((FdinfoEntry *)img->entries[j].msg)->id == fe->id)
					return error("files.img: entry %zu: the pidfd of pid %d (file id %u) is held by "
						     "tasks %u and %u, which do not share an fd table: not restored "
						     "yet", idx, fe->pidfd->nspid, fe->id, set->tasks[holder].pid,
						     t->pid);
		}
	}
	if (fe->type == FD_TYPES__EVENTPOLL) {
		holder = first_holder(set, fe->id);
		for (i = 0; holder >= 0 && i < fe->epfd->n_tfd; i++)
			if (!fd_in_table(imgset_fdinfo(set, set->tasks[holder].ids->files_id), fe->epfd->tfd[i]->tfd))
				return error("files.img: entry %zu: eventpoll file id %u: target fd %u is not an fd "
					     "of task %u: not restored yet", idx, fe->id, fe->epfd->tfd[i]->tfd,
					     set->tasks[holder].pid);
	}
	return 0;
}

int fdkinds_features_check(const struct img_set *set)
{
	size_t i;

	for (i = 0; i < set->nr_files; i++)
		if (fdkind_restored(set->files[i]->type) && check_file(set, set->files[i], i))
			return -1;
	return tty_features_check(set);
}
