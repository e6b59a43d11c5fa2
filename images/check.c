/* check.c: the consistency check of an image set, run before a restore
 * touches anything (and by `crstep check`).  The reader (image.c, imgset.c)
 * has already refused what does not parse or is missing; this file checks
 * what the images say about each other: the tree, the memory layout, the
 * pages file sizes and the file ids.
 *
 * Every problem is one line "FILE: entry N: task PID: what", and the check
 * goes on to report the others; imgset_check() returns -1 when there was at
 * least one.  Checks that need an earlier one to hold (pagemap against VMAs
 * needs sorted VMAs) are skipped when it did not, so one fault gives one
 * line, not a cascade. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "image.h"
#include "log.h"

#define PAGE_SIZE	((uint64_t)4096)

static const char *fd_type_name(int type)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&fd_types__descriptor, type);

	return v ? v->name : "unknown";
}

/* The task that owns a files_id (the first in pstree order), for messages. */
static uint32_t files_owner(const struct img_set *set, uint32_t files_id)
{
	size_t i;

	for (i = 0; i < set->nr_tasks; i++)
		if (!set->tasks[i].zombie && set->tasks[i].ids->files_id == files_id)
			return set->tasks[i].pid;
	return 0;
}

/* As CRIU's check_img_inventory(): only V1_1 images with per-id fdinfo. */
static int check_inventory(const struct img_set *set)
{
	const InventoryEntry *inv = set->inventory;
	const char *path = set->inventory_img->path;
	int bad = 0;

	if (inv->img_version < CRIU_IMG_VERSION)
		bad += error("%s: entry 0: Too old image: img_version %u, want %u",
			     path, inv->img_version, CRIU_IMG_VERSION) < 0;
	else if (inv->img_version > CRIU_IMG_VERSION)
		bad += error("%s: entry 0: Not supported images version %u, want %u",
			     path, inv->img_version, CRIU_IMG_VERSION) < 0;
	if (!inv->has_fdinfo_per_id || !inv->fdinfo_per_id)
		bad += error("%s: entry 0: Too old image: fdinfo_per_id is not set", path) < 0;
	return bad;
}

/* Pids and tids are unique across the whole tree. */
static int check_unique_ids(const struct img_set *set)
{
	const char *path = set->pstree_img->path;
	size_t i, j, k, l;
	int bad = 0;

	for (i = 0; i < set->nr_tasks; i++) {
		const struct img_task *t = &set->tasks[i];

		for (j = 0; j < t->nr_threads; j++) {
			uint32_t tid = t->threads[j].tid;

			for (k = 0; k <= i; k++) {
				const struct img_task *u = &set->tasks[k];

				for (l = 0; l < (k == i ? j : u->nr_threads); l++)
					if (u->threads[l].tid == tid)
						bad += error("%s: entry %zu: task %u: %s %u is also %s of task %u (entry %zu)",
							     path, i, t->pid, j ? "tid" : "pid", tid,
							     l ? "a thread" : "the pid", u->pid, k) < 0;
			}
		}
	}
	return bad;
}

/* The root has ppid 0; every other task's parent is in the tree and comes
 * before it, as CRIU's read_pstree_image() requires. */
static int check_parents(const struct img_set *set)
{
	const char *path = set->pstree_img->path;
	size_t i, j;
	int bad = 0;

	if (set->tasks[0].pstree->ppid)
		bad += error("%s: entry 0: task %u: the root has ppid %u, want 0", path,
			     set->tasks[0].pid, set->tasks[0].pstree->ppid) < 0;
	for (i = 1; i < set->nr_tasks; i++) {
		const struct img_task *t = &set->tasks[i];

		for (j = 0; j < i; j++)
			if (set->tasks[j].pid == t->pstree->ppid)
				break;
		if (j == i)
			bad += error("%s: entry %zu: task %u: parent %u is not in the tree before it",
				     path, i, t->pid, t->pstree->ppid) < 0;
	}
	return bad;
}

/* Each core: x86_64; a live thread has its registers and thread_core, and
 * only the leader has the task_core (CRIU's dump_task_thread() writes tc for
 * the leader only). */
static int check_cores(const struct img_task *t)
{
	size_t i;
	int bad = 0;

	for (i = 0; i < t->nr_threads; i++) {
		const struct img_thread *th = &t->threads[i];
		const char *path = th->core_img->path;

		if (th->core->mtype != CORE_ENTRY__MARCH__X86_64)
			bad += error("%s: entry 0: task %u: thread %u: mtype %d is not X86_64",
				     path, t->pid, th->tid, th->core->mtype) < 0;
		if (t->zombie)
			continue;
		if (!th->core->thread_info)
			bad += error("%s: entry 0: task %u: thread %u: no thread_info (registers)",
				     path, t->pid, th->tid) < 0;
		if (!th->core->thread_core)
			bad += error("%s: entry 0: task %u: thread %u: no thread_core",
				     path, t->pid, th->tid) < 0;
		if (i && th->core->tc)
			bad += error("%s: entry 0: task %u: thread %u: a non-leader thread has a task_core",
				     path, t->pid, th->tid) < 0;
	}
	return bad;
}

/* VMAs sorted by start, non-empty, page aligned, not overlapping. */
static int check_vmas(const struct img_task *t)
{
	const char *path = t->mm_img->path;
	size_t i;
	int bad = 0;

	for (i = 0; i < t->mm->n_vmas; i++) {
		const VmaEntry *v = t->mm->vmas[i], *p = i ? t->mm->vmas[i - 1] : NULL;

		/* CRIU lists MADV_GUARD_INSTALL ranges as fake VMAs after all the
		 * others, over the real ones (the feature check refuses them). */
		if (v->status & VMA_AREA_GUARD)
			break;

		if (v->start >= v->end)
			bad += error("%s: entry 0: task %u: vma %zu [0x%" PRIx64 ", 0x%" PRIx64 "): start is not below end",
				     path, t->pid, i, v->start, v->end) < 0;
		else if ((v->start | v->end) & (PAGE_SIZE - 1))
			bad += error("%s: entry 0: task %u: vma %zu [0x%" PRIx64 ", 0x%" PRIx64 "): not page aligned",
				     path, t->pid, i, v->start, v->end) < 0;
		if (!p)
			continue;
		if (v->start < p->start)
			bad += error("%s: entry 0: task %u: vma %zu at 0x%" PRIx64 " is not sorted: vma %zu starts at 0x%" PRIx64,
				     path, t->pid, i, v->start, i - 1, p->start) < 0;
		else if (v->start < p->end)
			bad += error("%s: entry 0: task %u: vma %zu [0x%" PRIx64 ", 0x%" PRIx64 ") overlaps vma %zu [0x%" PRIx64 ", 0x%" PRIx64 ")",
				     path, t->pid, i, v->start, v->end, i - 1, p->start, p->end) < 0;
	}
	return bad;
}

/* The VMAs whose pages CRIU dumps: private ones (vma_area_is_private()),
 * which include [vdso] and [vvar], AIO rings and shadow stacks, but not
 * [vsyscall] (not REGULAR). */
static int vma_has_pages(const VmaEntry *v)
{
	if (v->status & (VMA_AREA_AIORING | VMA_AREA_SHSTK))
		return 1;
	if (!(v->status & VMA_AREA_REGULAR))
		return 0;
	return !!(v->status & (VMA_ANON_PRIVATE | VMA_FILE_PRIVATE | VMA_AREA_VDSO | VMA_AREA_VVAR));
}

/* [start, end) lies in private VMAs that follow each other without a gap.
 * *j is the first VMA that may hold start (both lists are sorted). */
static const char *pages_in_vmas(const MmEntry *mm, size_t *j, uint64_t start, uint64_t end)
{
	size_t k;

	while (*j < mm->n_vmas && mm->vmas[*j]->end <= start)
		(*j)++;
	for (k = *j; start < end; k++) {
		const VmaEntry *v = k < mm->n_vmas ? mm->vmas[k] : NULL;

		if (!v || v->start > start)
			return k == *j ? "is not inside any vma" : "runs past the end of its vma";
		if (!vma_has_pages(v))
			return "lies in a vma that is not private";
		start = v->end;
	}
	return NULL;
}

/* Pagemap entries: sorted, page aligned, not overlapping, inside private
 * VMAs (an entry may run over adjacent ones).  Returns the bytes the
 * PE_PRESENT entries need in the pages file through *present. */
static int check_pagemap(const struct img_task *t, int vmas_ok, uint64_t *present)
{
	const char *path = t->pagemap_img->path;
	uint64_t prev_end = 0;
	size_t i, j = 0;
	int bad = 0;

	*present = 0;
	for (i = 0; i < t->nr_pagemap; i++) {
		const PagemapEntry *pe = t->pagemap[i];
		uint64_t end;
		const char *why;

		if (!pe->nr_pages || pe->nr_pages > (UINT64_MAX - pe->vaddr) / PAGE_SIZE) {
			bad += error("%s: entry %zu: task %u: %" PRIu64 " pages at 0x%" PRIx64 " is not a valid range",
				     path, i + 1, t->pid, pe->nr_pages, pe->vaddr) < 0;
			continue;
		}
		end = pe->vaddr + pe->nr_pages * PAGE_SIZE;
		if (pe->flags & PE_PRESENT)
			*present += pe->nr_pages * PAGE_SIZE;
		if (pe->vaddr & (PAGE_SIZE - 1)) {
			bad += error("%s: entry %zu: task %u: vaddr 0x%" PRIx64 " is not page aligned",
				     path, i + 1, t->pid, pe->vaddr) < 0;
			continue;
		}
		if (i && pe->vaddr < prev_end) {
			bad += error("%s: entry %zu: task %u: vaddr 0x%" PRIx64 " is below the end 0x%" PRIx64 " of entry %zu (unsorted or overlapping)",
				     path, i + 1, t->pid, pe->vaddr, prev_end, i) < 0;
			continue;
		}
		prev_end = end;
		if (!vmas_ok)
			continue;
		why = pages_in_vmas(t->mm, &j, pe->vaddr, end);
		if (why)
			bad += error("%s: entry %zu: task %u: pages [0x%" PRIx64 ", 0x%" PRIx64 ") %s",
				     path, i + 1, t->pid, pe->vaddr, end, why) < 0;
	}
	return bad;
}

/* The pages file holds the PE_PRESENT pages back to back.  Stat it only:
 * a restore reads it page by page later. */
static int check_pages_file(const struct img_task *t, uint64_t present)
{
	const char *path = t->pagemap_img->path;
	uint32_t id = t->pagemap_head->pages_id;
	struct stat st;

	if (stat(t->pages_path, &st))
		return error("%s: entry 0: task %u: pages_id %u: %s: %s, and the PE_PRESENT entries need %" PRIu64 " bytes",
			     path, t->pid, id, t->pages_path, errno == ENOENT ? "missing" : strerror(errno),
			     present) < 0;
	if ((uint64_t)st.st_size < present)
		return error("%s: entry 0: task %u: pages_id %u: %s is cut short: %" PRIu64 " bytes, the PE_PRESENT entries need %" PRIu64 " (%" PRIu64 " pages)",
			     path, t->pid, id, t->pages_path, (uint64_t)st.st_size,
			     present, present / PAGE_SIZE) < 0;
	/* CRIU writes exactly the present pages, so a longer file means a
	 * pagemap cut at an entry boundary, which still reads as a valid
	 * image but would leave memory unrestored. */
	if ((uint64_t)st.st_size > present)
		return error("%s: entry %zu: task %u: pages_id %u: %s has %" PRIu64 " bytes, more than the %" PRIu64 " the entries describe (pagemap cut short?)",
			     path, t->pagemap_img->nr, t->pid, id, t->pages_path, (uint64_t)st.st_size,
			     present) < 0;
	return 0;
}

/* A file id that an image refers to exists in files.img with type WANT
 * (0: any type).  WHAT names the reference. */
static int check_file_ref(const struct img_set *set, const char *path, size_t entry, uint32_t pid,
			  const char *what, uint32_t id, int want)
{
	const FileEntry *f = imgset_file(set, id);

	if (!f)
		return error("%s: entry %zu: task %u: %s refers to file id %u, which files.img does not have",
			     path, entry, pid, what, id) < 0;
	if (want && (int)f->type != want)
		return error("%s: entry %zu: task %u: %s refers to file id %u of type %s, want %s",
			     path, entry, pid, what, id, fd_type_name(f->type), fd_type_name(want)) < 0;
	return 0;
}

static int check_memfd_inode(const struct img_set *set, const char *path, uint32_t pid,
			     size_t vma, uint32_t id)
{
	const FileEntry *f = imgset_file(set, id);
	size_t i;

	if (!f || f->type != FD_TYPES__MEMFD || !f->memfd)
		return 0;	/* reported by check_file_ref / check_files */
	for (i = 0; i < set->memfd_img->nr; i++)
		if (((MemfdInodeEntry *)set->memfd_img->entries[i].msg)->inode_id == f->memfd->inode_id)
			return 0;
	return error("%s: entry 0: task %u: vma %zu: memfd file id %u has inode %u, which memfd.img does not have",
		     path, pid, vma, id, f->memfd->inode_id) < 0;
}

/* The exe, the file-backed VMAs, the cwd and the root. */
static int check_task_files(const struct img_set *set, const struct img_task *t)
{
	const char *path = t->mm_img->path;
	char what[64];
	size_t i;
	int bad = 0;

	bad += check_file_ref(set, path, 0, t->pid, "exe_file_id", t->mm->exe_file_id, FD_TYPES__REG);
	for (i = 0; i < t->mm->n_vmas; i++) {
		const VmaEntry *v = t->mm->vmas[i];

		if (!(v->status & (VMA_FILE_PRIVATE | VMA_FILE_SHARED | VMA_AREA_MEMFD)))
			continue;
		snprintf(what, sizeof(what), "vma %zu (shmid)", i);
		if (v->shmid > UINT32_MAX) {
			bad += error("%s: entry 0: task %u: %s %" PRIu64 " is not a file id",
				     path, t->pid, what, v->shmid) < 0;
			continue;
		}
		if (v->status & VMA_AREA_MEMFD) {
			int b = check_file_ref(set, path, 0, t->pid, what, v->shmid, FD_TYPES__MEMFD);

			bad += b ? b : check_memfd_inode(set, path, t->pid, i, v->shmid);
		} else {
			bad += check_file_ref(set, path, 0, t->pid, what, v->shmid, FD_TYPES__REG);
		}
	}
	bad += check_file_ref(set, t->fs_img->path, 0, t->pid, "cwd_id", t->fs->cwd_id, FD_TYPES__REG);
	bad += check_file_ref(set, t->fs_img->path, 0, t->pid, "root_id", t->fs->root_id, FD_TYPES__REG);
	return bad;
}

/* files.img: ids unique, and each entry carries the part its type names. */
static int check_files(const struct img_set *set)
{
	const char *path = set->files_img->path;
	size_t i, j;
	int bad = 0;

	for (i = 0; i < set->nr_files; i++) {
		const FileEntry *f = set->files[i];
		int has;

		for (j = 0; j < i; j++)
			if (set->files[j]->id == f->id)
				bad += error("%s: entry %zu: file id %u is also entry %zu", path, i, f->id, j) < 0;
		switch (f->type) {
		case FD_TYPES__REG:	has = !!f->reg; break;
		case FD_TYPES__PIPE:	has = !!f->pipe; break;
		case FD_TYPES__FIFO:	has = !!f->fifo; break;
		case FD_TYPES__MEMFD:	has = !!f->memfd; break;
		case FD_TYPES__UNIXSK:	has = !!f->usk; break;
		case FD_TYPES__INETSK:	has = !!f->isk; break;
		default:		has = 1; break;	/* the restore refuses what it cannot do */
		}
		if (!has)
			bad += error("%s: entry %zu: file id %u of type %s has no %s part", path, i,
				     f->id, fd_type_name(f->type), fd_type_name(f->type)) < 0;
	}
	return bad;
}

/* fdinfo: each fd once, its file id in files.img with the same type. */
static int check_fdinfo(const struct img_set *set)
{
	size_t i, j, k;
	int bad = 0;

	for (i = 0; i < set->nr_fdinfo_imgs; i++) {
		const struct image *img = set->fdinfo[i].img;
		uint32_t pid = files_owner(set, set->fdinfo[i].files_id);

		for (j = 0; j < img->nr; j++) {
			const FdinfoEntry *fe = (FdinfoEntry *)img->entries[j].msg;
			char what[32];

			for (k = 0; k < j; k++)
				if (((FdinfoEntry *)img->entries[k].msg)->fd == fe->fd)
					bad += error("%s: entry %zu: task %u: fd %u is also entry %zu",
						     img->path, j, pid, fe->fd, k) < 0;
			snprintf(what, sizeof(what), "fd %u", fe->fd);
			bad += check_file_ref(set, img->path, j, pid, what, fe->id, fe->type);
		}
	}
	return bad;
}

/* pipes-data: each entry belongs to a pipe some PIPE or FIFO file has. */
static int check_pipes_data(const struct img_set *set)
{
	const struct image *img = set->pipes_data_img;
	size_t i, j;
	int bad = 0;

	for (i = 0; i < img->nr; i++) {
		const PipeDataEntry *pd = (PipeDataEntry *)img->entries[i].msg;

		for (j = 0; j < set->nr_files; j++) {
			const FileEntry *f = set->files[j];

			if (f->type == FD_TYPES__PIPE && f->pipe && f->pipe->pipe_id == pd->pipe_id)
				break;
			if (f->type == FD_TYPES__FIFO && f->fifo && f->fifo->pipe_id == pd->pipe_id)
				break;
		}
		if (j == set->nr_files)
			bad += error("%s: entry %zu: pipe_id %u: no PIPE or FIFO file in files.img has it",
				     img->path, i, pd->pipe_id) < 0;
		for (j = 0; j < i; j++)
			if (((PipeDataEntry *)img->entries[j].msg)->pipe_id == pd->pipe_id)
				bad += error("%s: entry %zu: pipe_id %u is also entry %zu",
					     img->path, i, pd->pipe_id, j) < 0;
	}
	return bad;
}

static int check_task(const struct img_set *set, const struct img_task *t)
{
	uint64_t present;
	int bad, vma_bad;

	bad = check_cores(t);
	if (t->zombie)
		return bad;	/* a zombie has a core and nothing else */
	vma_bad = check_vmas(t);
	bad += vma_bad;
	bad += check_pagemap(t, !vma_bad, &present);
	bad += check_pages_file(t, present);
	bad += check_task_files(set, t);
	return bad;
}

static int known_tid(const struct img_set *set, uint32_t tid)
{
	size_t i, j;

	for (i = 0; i < set->nr_tasks; i++)
		for (j = 0; j < set->tasks[i].nr_threads; j++)
			if (set->tasks[i].threads[j].tid == tid)
				return 1;
	return 0;
}

/* Cores of tasks the tree does not have, and fdinfo images no task uses:
 * pstree.img was cut at an entry boundary, which reads as a valid shorter
 * image.  Every task has a core, so one line per lost task. */
static int check_strays(const struct img_set *set)
{
	struct dirent *de;
	DIR *d = opendir(set->dir);
	int bad = 0;

	if (!d)
		return error("%s: cannot list: %s", set->dir, strerror(errno)) < 0;
	while ((de = readdir(d))) {
		unsigned id;
		char tail;

		if (sscanf(de->d_name, "core-%u.im%c", &id, &tail) == 2 && tail == 'g' &&
		    !known_tid(set, id))
			bad += error("%s/%s: entry 0: task %u: not in %s (cut short?)",
				     set->dir, de->d_name, id, set->pstree_img->path) < 0;
		if (sscanf(de->d_name, "fdinfo-%u.im%c", &id, &tail) == 2 && tail == 'g' &&
		    !imgset_fdinfo(set, id))
			bad += error("%s/%s: entry 0: files_id %u: no task in %s uses it (cut short?)",
				     set->dir, de->d_name, id, set->pstree_img->path) < 0;
	}
	closedir(d);
	return bad;
}

int imgset_check(const struct img_set *set)
{
	size_t i;
	int bad = 0;

	bad += check_inventory(set);
	bad += check_unique_ids(set);
	bad += check_parents(set);
	for (i = 0; i < set->nr_tasks; i++)
		bad += check_task(set, &set->tasks[i]);
	bad += check_files(set);
	bad += check_fdinfo(set);
	bad += check_pipes_data(set);
	bad += check_sk_queues(set);
	bad += check_strays(set);
	return bad ? -1 : 0;
}
