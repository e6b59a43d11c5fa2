/* remap.c: files a task had open, or mapped, by a name they no longer had
 * at dump time (CRIU's remap-fpath.img, files-reg.c): ghosts (deleted
 * files, whose contents criu saved in ghost-file-<id>.img) and link
 * remaps (files still linked elsewhere, for which criu made a hard link
 * link_remap.<id> at dump time).
 *
 * CRIU gives such a file back its dentry by linking the ghost or link
 * remap to the original name, opening it there and unlinking that name
 * again, in every task that opens it; it removes the ghosts after the
 * restore.  crstep does the same in the controller, before anything is
 * forked: per file id it links, opens an O_PATH fd (the deleted dentry,
 * so /proc shows "NAME (deleted)"), unlinks; then it unlinks the ghosts.
 * The tasks inherit the O_PATH fds as service fds and reopen them with
 * their flags through /proc/self/fd.  So no ghost is on disk while a task
 * runs, and a failed restore leaves none behind.  Link remaps are criu's
 * own files: removed after a successful restore, as CRIU does, and kept
 * after a failed one (the images still need them). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "restore.h"

/* ghost-file-<id>.img, as errors name images. */
static const char *ghost_name(const struct ghost_img *g)
{
	const char *slash = strrchr(g->img->path, '/');

	return slash ? slash + 1 : g->img->path;
}

struct ghost_made {
	char path[PATH_MAX];	/* the ghost on disk until remap_prepare ends, "" once gone */
	int is_dir;
};

static int write_all(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n <= 0)
			return -1;
		buf += n;
		len -= n;
		off += n;
	}
	return 0;
}

/* The contents: raw after the entry, or chunks with holes between them
 * (the file is sized first, so the holes stay holes). */
static int ghost_fill(const struct ghost_img *g, int fd)
{
	const GhostFileEntry *gfe = g->gfe;
	size_t i;

	if (!gfe->chunks)
		return write_all(fd, g->img->entries[0].extra, g->img->entries[0].extra_len, 0) ?
			error("%s: cannot write the ghost's contents: %s", ghost_name(g), strerror(errno)) : 0;
	if (!gfe->has_size)
		return error("%s: entry 0: a ghost in chunks without a size", ghost_name(g));
	if (ftruncate(fd, gfe->size))
		return error("%s: cannot size the ghost to %llu bytes: %s", ghost_name(g),
			     (unsigned long long)gfe->size, strerror(errno));
	for (i = 1; i < g->img->nr; i++) {
		const struct img_entry *e = &g->img->entries[i];
		const GhostChunkEntry *ce = (const GhostChunkEntry *)e->msg;

		if (write_all(fd, e->extra, e->extra_len, ce->off))
			return error("%s: entry %zu: cannot write %llu bytes at %llu: %s", ghost_name(g), i,
				     (unsigned long long)ce->len, (unsigned long long)ce->off, strerror(errno));
	}
	return 0;
}

/* Owner, then mode (a chown clears set-id bits; a symlink has none of
 * its own), then times, as dumped. */
static int ghost_metadata(const struct ghost_img *g, const char *path)
{
	const GhostFileEntry *gfe = g->gfe;
	struct timespec ts[2];

	if (fchownat(AT_FDCWD, path, gfe->uid, gfe->gid, AT_SYMLINK_NOFOLLOW) ||
	    (!S_ISLNK(gfe->mode) && chmod(path, gfe->mode & 07777)))
		return error("%s: cannot give the ghost %s owner %u:%u, mode %o: %s", ghost_name(g), path,
			     gfe->uid, gfe->gid, gfe->mode & 07777, strerror(errno));
	if (!gfe->atim || !gfe->mtim)
		return 0;
	ts[0].tv_sec = gfe->atim->tv_sec;
	ts[0].tv_nsec = gfe->atim->tv_usec * 1000;
	ts[1].tv_sec = gfe->mtim->tv_sec;
	ts[1].tv_nsec = gfe->mtim->tv_usec * 1000;
	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW))
		return error("%s: cannot set the times of the ghost %s: %s", ghost_name(g), path, strerror(errno));
	return 0;
}

/* The ghost on disk: a regular file, a symlink or a device node next to
 * the first name that uses it (CRIU's NAME.cr.<id>.ghost), or a directory
 * at its own name (a directory cannot be linked; CRIU makes it there too). */
static int ghost_create(const struct ghost_img *g, const char *name, struct ghost_made *m)
{
	int fd;

	m->is_dir = S_ISDIR(g->gfe->mode);
	if (m->is_dir) {
		snprintf(m->path, sizeof(m->path), "%s", name);
		if (mkdir(m->path, 0700)) {
			m->path[0] = 0;
			return error("%s: cannot make the deleted directory %s again: %s", ghost_name(g), name,
				     strerror(errno));
		}
		return ghost_metadata(g, m->path);
	}
	if ((size_t)snprintf(m->path, sizeof(m->path), "%s.cr.%x.ghost", name, g->id) >= sizeof(m->path)) {
		m->path[0] = 0;
		return error("%s: the ghost's name is too long (%s)", ghost_name(g), name);
	}
	if (S_ISLNK(g->gfe->mode) || S_ISCHR(g->gfe->mode) || S_ISBLK(g->gfe->mode) || S_ISFIFO(g->gfe->mode)) {
		if (S_ISLNK(g->gfe->mode) ? symlink(g->gfe->symlnk_target, m->path) :
		    mknod(m->path, (g->gfe->mode & S_IFMT) | 0600, g->gfe->rdev)) {
			error("%s: cannot make the ghost %s: %s", ghost_name(g), m->path, strerror(errno));
			m->path[0] = 0;
			return -1;
		}
		return ghost_metadata(g, m->path);
	}
	fd = open(m->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		error("%s: cannot create the ghost %s: %s", ghost_name(g), m->path, strerror(errno));
		m->path[0] = 0;
		return -1;
	}
	if (ghost_fill(g, fd)) {
		close(fd);
		return -1;
	}
	close(fd);
	return ghost_metadata(g, m->path);
}

/* An O_PATH fd on the dentry NAME for the file at SRC: link SRC to NAME
 * (to NAME.cr_link if NAME is taken again, as CRIU does), open, unlink
 * NAME.  A directory ghost is at NAME already: it is opened there and
 * removed with the other ghosts. */
static int open_by_lost_name(const char *src, const char *name, int is_dir, uint32_t file_id)
{
	char alt[PATH_MAX];
	const char *at = name;
	int fd, err;

	if (is_dir) {
		fd = open(src, O_PATH | O_CLOEXEC);
		if (fd < 0)
			return error("files.img: file id %u: cannot open %s: %s", file_id, src, strerror(errno));
		return fd;
	}
	if (link(src, at) && errno == EEXIST) {
		snprintf(alt, sizeof(alt), "%s.cr_link", name);
		at = alt;
		if (!link(src, at))
			errno = 0;
	} else
		errno = 0;
	if (errno)
		return error("files.img: file id %u: cannot link %s to %s: %s", file_id, src, at, strerror(errno));
	fd = open(at, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	err = errno;
	if (unlink(at)) {
		error("files.img: file id %u: cannot unlink %s again: %s", file_id, at, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (fd < 0)
		return error("files.img: file id %u: cannot open %s: %s", file_id, at, strerror(err));
	return fd;
}

/* Directories made for names whose directory is gone too, removed again
 * once every file id holds its dentry (CRIU's make_parent_dirs_if_need()
 * and rm_parent_dirs()). */
struct made_dirs {
	size_t nr;
	char **path;
};

static int make_parents(const char *name, struct made_dirs *dirs)
{
	char path[PATH_MAX], **grown;
	struct stat st;
	char *slash;

	if ((size_t)snprintf(path, sizeof(path), "%s", name) >= sizeof(path))
		return error("%s: name too long", name);
	for (slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = 0;
		if (!lstat(path, &st)) {
			*slash = '/';
			continue;
		}
		if (mkdir(path, 0700)) {
			if (errno != EEXIST)
				return error("cannot make the directory %s for %s: %s", path, name, strerror(errno));
		} else {
			grown = realloc(dirs->path, (dirs->nr + 1) * sizeof(*grown));
			if (!grown || !(grown[dirs->nr] = strdup(path))) {
				if (grown)
					dirs->path = grown;
				rmdir(path);
				return error("out of memory");
			}
			dirs->path = grown;
			dirs->nr++;
		}
		*slash = '/';
	}
	return 0;
}

static int add_remap(struct restore_ctx *ctx, uint32_t file_id, int fd)
{
	struct restore_remap *r = realloc(ctx->remaps, (ctx->nr_remaps + 1) * sizeof(*r));

	if (!r) {
		close(fd);
		return error("out of memory");
	}
	ctx->remaps = r;
	r[ctx->nr_remaps].file_id = file_id;
	r[ctx->nr_remaps].fd = fd;
	ctx->nr_remaps++;
	return 0;
}

static int prepare_one(struct restore_ctx *ctx, const RemapFilePathEntry *rpe, struct ghost_made *made,
		       struct made_dirs *dirs)
{
	const struct img_set *set = ctx->set;
	FileEntry *fe = imgset_file(set, rpe->orig_id);
	const char *name = fe->reg->name, *src;
	int fd, is_dir = 0;

	if (make_parents(name, dirs))
		return -1;
	if (rpe->remap_type == REMAP_TYPE__LINKED) {
		src = imgset_file(set, rpe->remap_id)->reg->name;
	} else {
		struct ghost_img *g = imgset_ghost(set, rpe->remap_id);
		struct ghost_made *m = &made[g - set->ghosts];

		/* The first user makes it, next to its name. */
		if (!m->path[0] && ghost_create(g, name, m))
			return -1;
		src = m->path;
		is_dir = m->is_dir;
	}
	fd = open_by_lost_name(src, name, is_dir, rpe->orig_id);
	if (fd < 0)
		return -1;
	return add_remap(ctx, rpe->orig_id, fd);
}

int remap_prepare(struct restore_ctx *ctx)
{
	const struct img_set *set = ctx->set;
	struct made_dirs dirs = { 0, NULL };
	struct ghost_made *made;
	size_t i;
	int ret = 0;

	if (!set->remap_img->nr)
		return 0;
	made = calloc(set->nr_ghosts + 1, sizeof(*made));
	if (!made)
		return error("out of memory");
	for (i = 0; i < set->remap_img->nr && !ret; i++)
		ret = prepare_one(ctx, (RemapFilePathEntry *)set->remap_img->entries[i].msg, made, &dirs);
	/* Every file id holds its dentry now: the ghosts go, failed or not. */
	for (i = 0; i < set->nr_ghosts; i++) {
		if (!made[i].path[0])
			continue;
		if ((made[i].is_dir ? rmdir(made[i].path) : unlink(made[i].path)) && !ret)
			ret = error("cannot remove the ghost %s: %s", made[i].path, strerror(errno));
	}
	while (dirs.nr--) {
		if (rmdir(dirs.path[dirs.nr]) && !ret)
			ret = error("cannot remove the directory %s again: %s", dirs.path[dirs.nr], strerror(errno));
		free(dirs.path[dirs.nr]);
	}
	free(dirs.path);
	free(made);
	if (ret)
		remap_close(ctx);
	return ret;
}

void remap_close(struct restore_ctx *ctx)
{
	size_t i;

	for (i = 0; i < ctx->nr_remaps; i++) {
		if (ctx->remaps[i].fd >= 0)
			close(ctx->remaps[i].fd);
		ctx->remaps[i].fd = -1;
	}
}

/* The path a task opens file id `file_id` by: its own name, or its
 * dentry through the controller's O_PATH fd. */
const char *remap_path(const struct restore_ctx *ctx, const RegFileEntry *reg, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < ctx->nr_remaps; i++)
		if (ctx->remaps[i].file_id == reg->id && ctx->remaps[i].fd >= 0) {
			snprintf(buf, len, "/proc/self/fd/%d", ctx->remaps[i].fd);
			return buf;
		}
	return reg->name;
}

/* After a successful restore: criu's link remaps go (CRIU's
 * try_clean_remaps()); the ghosts are long gone. */
void remap_cleanup_links(const struct restore_ctx *ctx)
{
	const struct img_set *set = ctx->set;
	size_t i;

	for (i = 0; i < set->remap_img->nr; i++) {
		const RemapFilePathEntry *rpe = (const RemapFilePathEntry *)set->remap_img->entries[i].msg;
		const char *name;

		if (rpe->remap_type != REMAP_TYPE__LINKED)
			continue;
		name = imgset_file(set, rpe->remap_id)->reg->name;
		if (unlink(name) && errno != ENOENT)
			warn("cannot remove the link remap %s: %s", name, strerror(errno));
	}
}

/* A cwd removed before the dump is entered through its dentry before
 * the files are restored (fs_enter_removed_cwd()); inside a chroot it
 * would have to be entered after the chroot, which crstep does not do. */
static int check_removed_cwds(const struct img_set *set)
{
	size_t i;

	for (i = 0; i < set->nr_tasks; i++) {
		const struct img_task *t = &set->tasks[i];
		FileEntry *cwd, *root;

		if (t->zombie || !t->fs)
			continue;
		cwd = imgset_file(set, t->fs->cwd_id);
		root = imgset_file(set, t->fs->root_id);
		if (cwd && imgset_remap(set, cwd->id) && root && root->reg && strcmp(root->reg->name, "/"))
			return error("fs-%u.img: the cwd %s was removed and the root is %s: a removed cwd in a "
				     "chroot is not restored yet", t->pid, cwd->reg ? cwd->reg->name : "?",
				     root->reg->name);
	}
	return 0;
}

/* Refused before anything is forked: what the images ask for that
 * remap_prepare() does not do. */
/* Whether a FIFO entry of files.img has its path in file id reg_id. */
static int fifo_of_path(const struct img_set *set, uint32_t reg_id)
{
	size_t i;

	for (i = 0; i < set->nr_files; i++)
		if (set->files[i]->type == FD_TYPES__FIFO && set->files[i]->fifo &&
		    (set->files[i]->fifo->has_regf_id ? set->files[i]->fifo->regf_id : set->files[i]->id) == reg_id)
			return 1;
	return 0;
}

int remap_features_check(const struct img_set *set)
{
	size_t i;

	if (check_removed_cwds(set))
		return -1;

	for (i = 0; i < set->remap_img->nr; i++) {
		const RemapFilePathEntry *rpe = (const RemapFilePathEntry *)set->remap_img->entries[i].msg;
		FileEntry *fe = imgset_file(set, rpe->orig_id), *link;
		const struct ghost_img *g;

		if (!fe || fe->type != FD_TYPES__REG || !fe->reg)
			return error("remap-fpath.img: entry %zu: file id %u is not a regular file in files.img", i,
				     rpe->orig_id);
		switch (rpe->remap_type) {
		case REMAP_TYPE__LINKED:
			link = imgset_file(set, rpe->remap_id);
			if (!link || link->type != FD_TYPES__REG || !link->reg)
				return error("remap-fpath.img: entry %zu: link remap of %s: file id %u is not a "
					     "regular file in files.img", i, fe->reg->name, rpe->remap_id);
			break;
		case REMAP_TYPE__GHOST:
			g = imgset_ghost(set, rpe->remap_id);
			if (!g)
				return error("remap-fpath.img: entry %zu: no ghost-file-%x.img", i, rpe->remap_id);
			if (S_ISLNK(g->gfe->mode) && !g->gfe->symlnk_target)
				return error("%s: %s was a deleted symlink whose target the image lacks", ghost_name(g),
					     fe->reg->name);
			/* A FIFO is opened as one only through a FIFO entry
			 * (fdkinds.c): a regular open of it would block. */
			if (S_ISFIFO(g->gfe->mode) && !fifo_of_path(set, rpe->orig_id))
				return error("%s: %s was a deleted FIFO (mode %o) that no FIFO file opens: not "
					     "restored yet", ghost_name(g), fe->reg->name, g->gfe->mode);
			if (!S_ISREG(g->gfe->mode) && !S_ISDIR(g->gfe->mode) && !S_ISLNK(g->gfe->mode) &&
			    !S_ISCHR(g->gfe->mode) && !S_ISBLK(g->gfe->mode) && !S_ISFIFO(g->gfe->mode))
				return error("%s: %s was a deleted special file (mode %o): not restored yet",
					     ghost_name(g), fe->reg->name, g->gfe->mode);
			break;
		case REMAP_TYPE__PROCFS:
			return error("remap-fpath.img: entry %zu: %s of a dead task (a procfs remap): not restored yet",
				     i, fe->reg->name);
		default:
			return error("remap-fpath.img: entry %zu: remap type %d of %s: not restored yet", i,
				     rpe->remap_type, fe->reg->name);
		}
	}
	return 0;
}
