/* tty.c: pseudo-terminals (CRIU's tty.c, its PTY driver): a master
 * (/dev/ptmx) and its slaves (/dev/pts/N) at the dumped index, with their
 * termios, locked termios, window size, packet mode and lock, the bytes
 * queued each way (tty-data.img), and the session they control.
 *
 * Every pty file id is opened by the controller before the fork (as
 * FIFOs are, fdkinds.c), a whole pair at a time: the master is opened
 * through /dev/ptmx until the kernel hands out the dumped index (CRIU's
 * __pty_open_ptmx_index(): the indices skipped on the way are closed
 * again), unlocked, its slaves opened, the queued bytes written into the
 * side that does not read them, then locked again if it was.  Terminals are
 * opened with O_NOCTTY: the controller must never take one as its own.  The
 * session a terminal controls gets it back in its leader, once the
 * leader's fds are in place (tty_restore_ctty(): TIOCSCTTY and the
 * foreground group, CRIU's tty_restore_ctl_terminal()).  Consoles, virtual
 * terminals, serial lines, a slave whose master no task holds (criu's
 * --shell-job) are refused before anything is forked. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "restore.h"

#define PTMX_RDEV ((5u << 8) | 2)	/* 5:2, as old_encode_dev() gives it */
#define PTY_TRIES 64			/* /dev/ptmx opens to reach an index */

/* The images this module reads, once per process (the controller). */
static struct image *tty_info_img, *tty_data_img;
/* Descriptions opened with their pair, not asked for yet. */
static struct tty_opened {
	uint32_t id;
	int fd;
} *opened;
static size_t nr_opened;

static int tty_read_images(const struct img_set *set)
{
	char path[600];

	if (tty_info_img)
		return 0;
	snprintf(path, sizeof(path), "%s/tty-info.img", set->dir);
	tty_info_img = image_read(path, img_desc_by_name("TTY_INFO"), 0);
	snprintf(path, sizeof(path), "%s/tty-data.img", set->dir);
	tty_data_img = image_read(path, img_desc_by_name("TTY_DATA"), 0);
	return tty_info_img && tty_data_img ? 0 : -1;
}

static const TtyInfoEntry *tty_info(uint32_t id)
{
	size_t i;

	for (i = 0; tty_info_img && i < tty_info_img->nr; i++)
		if (((TtyInfoEntry *)tty_info_img->entries[i].msg)->id == id)
			return (TtyInfoEntry *)tty_info_img->entries[i].msg;
	return NULL;
}

static int is_master(const TtyInfoEntry *ti)
{
	return ti->rdev == PTMX_RDEV;
}

static const RegFileEntry *tty_reg(const struct img_set *set, const FileEntry *fe)
{
	const FileEntry *r = fe->tty->has_regf_id ? imgset_file(set, fe->tty->regf_id) : NULL;

	return r && r->type == FD_TYPES__REG ? r->reg : NULL;
}

/* termios_entry's c_cc holds the bytes of struct termios's c_cc, four to
 * an entry, as CRIU copies them (termios_copy()). */
static void termios_from(struct termios *t, const TermiosEntry *e)
{
	size_t n = e->n_c_cc * sizeof(*e->c_cc);

	memset(t, 0, sizeof(*t));
	t->c_iflag = e->c_iflag;
	t->c_oflag = e->c_oflag;
	t->c_cflag = e->c_cflag;
	t->c_lflag = e->c_lflag;
	t->c_line = e->c_line;
	memcpy(t->c_cc, e->c_cc, n < sizeof(t->c_cc) ? n : sizeof(t->c_cc));
}

/* Locked termios first: they limit what TCSETS may change. */
static int tty_params(int fd, const TtyInfoEntry *ti, uint32_t id)
{
	struct termios t;
	struct winsize w;

	if (ti->termios_locked) {
		termios_from(&t, ti->termios_locked);
		if (ioctl(fd, TIOCSLCKTRMIOS, &t))
			return error("tty-info.img: tty %u (file id %u): locked termios: %s", ti->id, id,
				     strerror(errno));
	}
	if (ti->termios) {
		termios_from(&t, ti->termios);
		if (ioctl(fd, TCSETS, &t))
			return error("tty-info.img: tty %u (file id %u): termios: %s", ti->id, id, strerror(errno));
	}
	if (ti->winsize) {
		w.ws_row = ti->winsize->ws_row;
		w.ws_col = ti->winsize->ws_col;
		w.ws_xpixel = ti->winsize->ws_xpixel;
		w.ws_ypixel = ti->winsize->ws_ypixel;
		if (ioctl(fd, TIOCSWINSZ, &w))
			return error("tty-info.img: tty %u (file id %u): window size: %s", ti->id, id,
				     strerror(errno));
	}
	if (ti->has_uid && ti->has_gid && fchown(fd, ti->uid, ti->gid))
		return error("tty-info.img: tty %u (file id %u): owner %u:%u: %s", ti->id, id, ti->uid, ti->gid,
			     strerror(errno));
	if (ti->exclusive && ioctl(fd, TIOCEXCL))
		return error("tty-info.img: tty %u (file id %u): TIOCEXCL: %s", ti->id, id, strerror(errno));
	return 0;
}

/* The bytes the side of info id reads, written into its peer (fd). */
static int tty_queue(uint32_t reader_info, int fd)
{
	size_t i;

	for (i = 0; tty_data_img && i < tty_data_img->nr; i++) {
		const TtyDataEntry *d = (TtyDataEntry *)tty_data_img->entries[i].msg;

		if (d->tty_id == reader_info && d->data.len &&
		    write(fd, d->data.data, d->data.len) != (ssize_t)d->data.len)
			return error("tty-data.img: entry %zu: tty %u: cannot queue %zu bytes again: %s", i,
				     reader_info, d->data.len, strerror(errno));
	}
	return 0;
}

static int ptmx_open_index(const char *path, uint32_t flags, uint32_t index)
{
	int fds[PTY_TRIES], n, fd = -1, got = -1;

	for (n = 0; n < PTY_TRIES; n++) {
		fds[n] = open(path, (flags & ~O_CREAT) | O_NOCTTY | O_CLOEXEC);
		if (fds[n] < 0 || ioctl(fds[n], TIOCGPTN, &got)) {
			error("%s: cannot open a pty: %s", path, strerror(errno));
			break;
		}
		if ((uint32_t)got == index) {
			fd = fds[n];
			break;
		}
		if ((uint32_t)got > index) {
			error("%s: pty %u is in use here (the kernel gave %d)", path, index, got);
			n++;
			break;
		}
	}
	if (n == PTY_TRIES)
		error("%s: pty %u not reached in %d opens", path, index, PTY_TRIES);
	while (n-- > 0)
		if (fds[n] >= 0 && fds[n] != fd)
			close(fds[n]);
	return fd;
}

static int stash(uint32_t id, int fd)
{
	struct tty_opened *o = realloc(opened, (nr_opened + 1) * sizeof(*o));

	if (!o) {
		close(fd);
		return error("out of memory");
	}
	opened = o;
	opened[nr_opened].id = id;
	opened[nr_opened++].fd = fd;
	return 0;
}

/* The slaves of index, opened through the pair's master (files.img order). */
static int pty_open_slaves(const struct restore_ctx *ctx, const TtyInfoEntry *mi)
{
	const struct img_set *set = ctx->set;
	size_t i;

	for (i = 0; i < set->nr_files; i++) {
		const FileEntry *fe = set->files[i];
		const TtyInfoEntry *si = fe->type == FD_TYPES__TTY && fe->tty ? tty_info(fe->tty->tty_info_id) : NULL;
		const RegFileEntry *reg = si ? tty_reg(set, fe) : NULL;
		int fd;

		if (!si || is_master(si) || !si->pty || si->pty->index != mi->pty->index || !reg)
			continue;
		fd = open(reg->name, (fe->tty->flags & ~(O_CREAT | O_TRUNC)) | O_NOCTTY | O_CLOEXEC);
		if (fd < 0)
			return error("files.img: tty file id %u: cannot open %s: %s", fe->id, reg->name, strerror(errno));
		if (tty_params(fd, si, fe->id) || stash(fe->id, fd))
			return -1;
	}
	return 0;
}

/* A pair: the master at its index, its slaves, the queued bytes. */
static int pty_open_pair(const struct restore_ctx *ctx, const FileEntry *mfe, const TtyInfoEntry *mi)
{
	const RegFileEntry *reg = tty_reg(ctx->set, mfe);
	int master, unlock = 0, lock = 1, pkt = 1;
	size_t i;

	master = ptmx_open_index(reg->name, mfe->tty->flags, mi->pty->index);
	if (master < 0)
		return -1;
	if (stash(mfe->id, master))
		return -1;
	if (ioctl(master, TIOCSPTLCK, &unlock))
		return error("files.img: tty file id %u: cannot unlock pty %u: %s", mfe->id, mi->pty->index,
			     strerror(errno));
	if (tty_params(master, mi, mfe->id))
		return -1;
	if (mi->packet_mode && ioctl(master, TIOCPKT, &pkt))
		return error("files.img: tty file id %u: packet mode: %s", mfe->id, strerror(errno));
	if (pty_open_slaves(ctx, mi))
		return -1;
	/* What the slave reads goes in through the master, and the other
	 * way round through the first slave. */
	for (i = 0; i < tty_info_img->nr; i++) {
		const TtyInfoEntry *si = (TtyInfoEntry *)tty_info_img->entries[i].msg;

		if (si->pty && si->pty->index == mi->pty->index && !is_master(si) && tty_queue(si->id, master))
			return -1;
	}
	for (i = 0; i < nr_opened; i++) {
		const FileEntry *fe = imgset_file(ctx->set, opened[i].id);
		const TtyInfoEntry *si = tty_info(fe->tty->tty_info_id);

		if (!is_master(si) && si->pty->index == mi->pty->index) {
			if (tty_queue(mi->id, opened[i].fd))
				return -1;
			break;
		}
	}
	if (mi->locked && ioctl(master, TIOCSPTLCK, &lock))
		return error("files.img: tty file id %u: cannot lock pty %u again: %s", mfe->id, mi->pty->index,
			     strerror(errno));
	return 0;
}

static const FileEntry *pty_master_file(const struct img_set *set, uint32_t index)
{
	size_t i;

	for (i = 0; i < set->nr_files; i++) {
		const FileEntry *fe = set->files[i];
		const TtyInfoEntry *ti = fe->type == FD_TYPES__TTY && fe->tty ? tty_info(fe->tty->tty_info_id) : NULL;

		if (ti && is_master(ti) && ti->pty && ti->pty->index == index)
			return fe;
	}
	return NULL;
}

static int take(uint32_t id)
{
	size_t i;
	int fd;

	for (i = 0; i < nr_opened; i++)
		if (opened[i].id == id) {
			fd = opened[i].fd;
			opened[i] = opened[--nr_opened];
			return fd;
		}
	return -1;
}

static void drop_opened(void)
{
	while (nr_opened)
		close(opened[--nr_opened].fd);
}

/* The controller: the description of a pty file id (its whole pair is
 * opened with the first of its ids asked for). */
int tty_open(struct restore_ctx *ctx, const FileEntry *fe)
{
	const TtyInfoEntry *ti;
	const FileEntry *mfe;
	int fd;

	if (tty_read_images(ctx->set))
		return -1;
	fd = take(fe->id);
	if (fd >= 0)
		return fd;
	ti = tty_info(fe->tty->tty_info_id);
	mfe = ti && ti->pty ? pty_master_file(ctx->set, ti->pty->index) : NULL;
	if (!mfe)
		return error("files.img: tty file id %u: no pty master for it", fe->id);
	if (pty_open_pair(ctx, mfe, tty_info(mfe->tty->tty_info_id))) {
		drop_opened();
		return -1;
	}
	fd = take(fe->id);
	if (fd < 0)
		return error("files.img: tty file id %u: not opened with its pty pair", fe->id);
	return fd;
}

/* In the leader of a session a pty controls, once its fds are in place:
 * the terminal becomes its controlling terminal again, with the dumped
 * foreground group. */
int tty_restore_ctty(struct restore_ctx *ctx, struct img_task *t)
{
	char path[64];
	size_t i, j;
	int fd, ret = 0;
	pid_t pgrp;

	if (tty_read_images(ctx->set))
		return -1;
	for (i = 0; i < tty_info_img->nr && !ret; i++) {
		const TtyInfoEntry *ti = (TtyInfoEntry *)tty_info_img->entries[i].msg;

		/* The master's info says it too: the leader may hold no slave
		 * (it closed it once the terminal was its). */
		if (ti->sid != t->pid || !ti->pty)
			continue;
		for (j = 0; j < i; j++)
			if (((TtyInfoEntry *)tty_info_img->entries[j].msg)->sid == ti->sid)
				break;
		if (j < i)
			continue;	/* one terminal per session */
		snprintf(path, sizeof(path), "/dev/pts/%u", ti->pty->index);
		fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd < 0)
			return error("tty-info.img: tty %u: task %u: cannot open %s: %s", ti->id, t->pid, path,
				     strerror(errno));
		pgrp = ti->pgrp;
		if (ioctl(fd, TIOCSCTTY, 0))
			ret = error("tty-info.img: tty %u: %s as the terminal of session %u: %s", ti->id, path,
				    ti->sid, strerror(errno));
		else if (pgrp && ioctl(fd, TIOCSPGRP, &pgrp))
			ret = error("tty-info.img: tty %u: %s: foreground group %u: %s", ti->id, path, ti->pgrp,
				    strerror(errno));
		close(fd);
	}
	return ret;
}

/* Before anything is forked: only ptys, each with its master held. */
int tty_features_check(const struct img_set *set)
{
	size_t i, k;

	for (i = 0; i < set->nr_files; i++) {
		const FileEntry *fe = set->files[i];
		const TtyInfoEntry *ti;

		if (fe->type != FD_TYPES__TTY)
			continue;
		if (!fe->tty || !tty_reg(set, fe))
			return error("files.img: entry %zu: tty file id %u without its tty part or path", i, fe->id);
		if (tty_read_images(set))
			return -1;
		ti = tty_info(fe->tty->tty_info_id);
		if (!ti)
			return error("files.img: entry %zu: tty file id %u: tty %u is not in tty-info.img", i, fe->id,
				     fe->tty->tty_info_id);
		if (ti->type != TTY_TYPE__PTY || !ti->pty)
			return error("tty-info.img: tty %u (%s, rdev %u:%u): only ptys are restored yet", ti->id,
				     protobuf_c_enum_descriptor_get_value(&tty_type__descriptor, ti->type) ?
				     protobuf_c_enum_descriptor_get_value(&tty_type__descriptor, ti->type)->name : "?",
				     ti->rdev >> 8, ti->rdev & 0xff);
		if (!pty_master_file(set, ti->pty->index))
			return error("tty-info.img: tty %u: pty %u, whose master no task holds (criu's "
				     "--shell-job): not restored yet", ti->id, ti->pty->index);
		if (ti->sid) {
			for (k = 0; k < set->nr_tasks; k++)
				if (set->tasks[k].pid == ti->sid && !set->tasks[k].zombie)
					break;
			if (k == set->nr_tasks)
				return error("tty-info.img: tty %u: pty %u controls session %u, whose leader is not "
					     "a live task of the tree: not restored yet", ti->id, ti->pty->index,
					     ti->sid);
		}
	}
	return 0;
}
