/* imgset.c: read every image one restore of a directory uses, and index it
 * by pid, file id and files_id.  Structural checks live in check.c. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "log.h"

static struct image *read_one(const struct img_set *set, const char *name,
			      const char *desc, int must_exist)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", set->dir, name);
	return image_read(path, img_desc_by_name(desc), must_exist);
}

static int read_thread(struct img_set *set, struct img_task *t, size_t i)
{
	struct img_thread *th = &t->threads[i];
	char name[64];

	/* A zombie's pstree entry carries no meaningful thread list (CRIU
	 * 4.2 leaves it uninitialised): its one core is core-<pid>. */
	th->tid = t->zombie ? t->pid : t->pstree->threads[i];
	snprintf(name, sizeof(name), "core-%u.img", th->tid);
	th->core_img = read_one(set, name, "CORE", 0);
	if (!th->core_img)
		return -1;
	if (th->core_img->missing)
		return error("%s/%s: entry 0: task %u: missing, but %s/pstree.img entry %zu lists %s %u",
			     set->dir, name, t->pid, set->dir, (size_t)(t - set->tasks),
			     i ? "thread" : "task", th->tid);
	if (th->core_img->nr != 1)
		return error("%s/%s: entry %zu: want exactly one core entry, found %zu",
			     set->dir, name, th->core_img->nr, th->core_img->nr);
	th->core = (CoreEntry *)th->core_img->entries[0].msg;
	return 0;
}

static int read_pagemap(struct img_set *set, struct img_task *t)
{
	char name[64];
	size_t i;

	snprintf(name, sizeof(name), "pagemap-%u.img", t->pid);
	t->pagemap_img = read_one(set, name, "PAGEMAP", 1);
	if (!t->pagemap_img)
		return -1;
	if (t->pagemap_img->nr < 1)
		return error("%s/%s: entry 0: no pagemap head", set->dir, name);
	t->pagemap_head = (PagemapHead *)t->pagemap_img->entries[0].msg;
	t->nr_pagemap = t->pagemap_img->nr - 1;
	t->pagemap = calloc(t->nr_pagemap + 1, sizeof(*t->pagemap));
	if (!t->pagemap)
		return error("out of memory");
	for (i = 0; i < t->nr_pagemap; i++) {
		PagemapEntry *pe = (PagemapEntry *)t->pagemap_img->entries[i + 1].msg;

		/* Older images: no nr_pages, no flags (CRIU's compat rules). */
		if (!pe->has_nr_pages) {
			pe->nr_pages = pe->compat_nr_pages;
			pe->has_nr_pages = 1;
		}
		if (!pe->has_flags) {
			pe->flags = pe->has_in_parent && pe->in_parent ? PE_PARENT : PE_PRESENT;
			pe->has_flags = 1;
		}
		t->pagemap[i] = pe;
	}
	snprintf(t->pages_path, sizeof(t->pages_path), "%s/pages-%u.img", set->dir,
		 t->pagemap_head->pages_id);
	return 0;
}

static int read_task(struct img_set *set, struct img_task *t)
{
	char name[64];
	size_t i;

	t->pid = t->pstree->pid;
	t->nr_threads = t->pstree->n_threads;
	if (!t->nr_threads)
		return error("%s/pstree.img: entry %zu: task %u: no threads", set->dir,
			     (size_t)(t - set->tasks), t->pid);
	t->threads = calloc(t->nr_threads, sizeof(*t->threads));
	if (!t->threads)
		return error("out of memory");
	t->zombie = 1;	/* until the leader's core says otherwise */
	if (read_thread(set, t, 0))
		return -1;
	t->core = t->threads[0].core;
	if (!t->core->tc)
		return error("%s/core-%u.img: entry 0: the leader's core has no task_core", set->dir, t->pid);
	t->zombie = t->core->tc->task_state == TASK_DEAD;
	if (t->zombie) {
		t->nr_threads = 1;
		return 0;
	}
	if (t->pstree->threads[0] != t->pid)
		return error("%s/pstree.img: entry %zu: task %u: thread 0 is %u, not the task itself",
			     set->dir, (size_t)(t - set->tasks), t->pid, t->pstree->threads[0]);
	for (i = 1; i < t->nr_threads; i++)
		if (read_thread(set, t, i))
			return -1;

	snprintf(name, sizeof(name), "ids-%u.img", t->pid);
	t->ids_img = read_one(set, name, "IDS", 0);
	if (!t->ids_img)
		return -1;
	t->ids = t->ids_img->nr ? (TaskKobjIdsEntry *)t->ids_img->entries[0].msg : t->core->ids;
	if (!t->ids)
		return error("%s/%s: entry 0: task %u: no ids entry, and core-%u.img has none either",
			     set->dir, name, t->pid, t->pid);

	snprintf(name, sizeof(name), "mm-%u.img", t->pid);
	t->mm_img = read_one(set, name, "MM", 1);
	if (!t->mm_img)
		return -1;
	if (t->mm_img->nr != 1)
		return error("%s/%s: entry %zu: want exactly one mm entry", set->dir, name, t->mm_img->nr);
	t->mm = (MmEntry *)t->mm_img->entries[0].msg;

	if (read_pagemap(set, t))
		return -1;

	snprintf(name, sizeof(name), "fs-%u.img", t->pid);
	t->fs_img = read_one(set, name, "FS", 1);
	if (!t->fs_img)
		return -1;
	if (t->fs_img->nr != 1)
		return error("%s/%s: entry %zu: want exactly one fs entry", set->dir, name, t->fs_img->nr);
	t->fs = (FsEntry *)t->fs_img->entries[0].msg;
	return 0;
}

static int read_fdinfos(struct img_set *set)
{
	size_t i, j;

	set->fdinfo = calloc(set->nr_tasks, sizeof(*set->fdinfo));
	if (!set->fdinfo)
		return error("out of memory");
	for (i = 0; i < set->nr_tasks; i++) {
		struct img_task *t = &set->tasks[i];
		char name[64];

		if (t->zombie)
			continue;
		for (j = 0; j < set->nr_fdinfo_imgs; j++)
			if (set->fdinfo[j].files_id == t->ids->files_id)
				break;
		if (j < set->nr_fdinfo_imgs)
			continue;
		snprintf(name, sizeof(name), "fdinfo-%u.img", t->ids->files_id);
		set->fdinfo[j].files_id = t->ids->files_id;
		set->fdinfo[j].img = read_one(set, name, "FDINFO", 0);
		if (!set->fdinfo[j].img)
			return -1;
		set->nr_fdinfo_imgs++;
	}
	return 0;
}

/* Images older than the remap_type field flag a ghost in remap_id's top
 * bit (CRIU's REMAP_GHOST). */
#define REMAP_GHOST_COMPAT (1u << 31)

/* remap-fpath.img and the ghost-file image of each GHOST remap. */
static int read_remaps(struct img_set *set)
{
	size_t i, j;

	set->remap_img = read_one(set, "remap-fpath.img", "REMAP_FPATH", 0);
	if (!set->remap_img)
		return -1;
	set->ghosts = calloc(set->remap_img->nr + 1, sizeof(*set->ghosts));
	if (!set->ghosts)
		return error("out of memory");
	for (i = 0; i < set->remap_img->nr; i++) {
		RemapFilePathEntry *rpe = (RemapFilePathEntry *)set->remap_img->entries[i].msg;
		struct ghost_img *g;
		char name[64];

		if (!rpe->has_remap_type) {
			rpe->has_remap_type = 1;
			rpe->remap_type = (rpe->remap_id & REMAP_GHOST_COMPAT) ? REMAP_TYPE__GHOST : REMAP_TYPE__LINKED;
			rpe->remap_id &= ~REMAP_GHOST_COMPAT;
		}
		if (rpe->remap_type != REMAP_TYPE__GHOST)
			continue;
		for (j = 0; j < set->nr_ghosts; j++)
			if (set->ghosts[j].id == rpe->remap_id)
				break;
		if (j < set->nr_ghosts)
			continue;
		g = &set->ghosts[set->nr_ghosts];
		snprintf(name, sizeof(name), "ghost-file-%x.img", rpe->remap_id);
		g->id = rpe->remap_id;
		g->img = read_one(set, name, "GHOST_FILE", 1);
		if (!g->img)
			return -1;
		set->nr_ghosts++;
		if (g->img->nr < 1)
			return error("%s/%s: entry 0: no ghost file entry", set->dir, name);
		g->gfe = (GhostFileEntry *)g->img->entries[0].msg;
	}
	return 0;
}

struct img_set *imgset_read(const char *dir)
{
	struct img_set *set;
	size_t i;

	set = calloc(1, sizeof(*set));
	if (!set) {
		error("out of memory");
		return NULL;
	}
	snprintf(set->dir, sizeof(set->dir), "%s", dir);
	set->inventory_img = read_one(set, "inventory.img", "INVENTORY", 1);
	if (!set->inventory_img)
		goto err;
	if (set->inventory_img->nr != 1) {
		error("%s/inventory.img: entry %zu: want exactly one inventory entry", dir,
		      set->inventory_img->nr);
		goto err;
	}
	set->inventory = (InventoryEntry *)set->inventory_img->entries[0].msg;

	set->pstree_img = read_one(set, "pstree.img", "PSTREE", 1);
	if (!set->pstree_img)
		goto err;
	set->nr_tasks = set->pstree_img->nr;
	if (!set->nr_tasks) {
		error("%s/pstree.img: entry 0: no tasks", dir);
		goto err;
	}
	set->tasks = calloc(set->nr_tasks, sizeof(*set->tasks));
	if (!set->tasks)
		goto err;
	for (i = 0; i < set->nr_tasks; i++) {
		set->tasks[i].pstree = (PstreeEntry *)set->pstree_img->entries[i].msg;
		if (read_task(set, &set->tasks[i]))
			goto err;
	}

	set->files_img = read_one(set, "files.img", "FILES", 0);
	if (!set->files_img)
		goto err;
	set->nr_files = set->files_img->nr;
	set->files = calloc(set->nr_files + 1, sizeof(*set->files));
	if (!set->files)
		goto err;
	for (i = 0; i < set->nr_files; i++)
		set->files[i] = (FileEntry *)set->files_img->entries[i].msg;
	if (read_fdinfos(set))
		goto err;

	set->pipes_data_img = read_one(set, "pipes-data.img", "PIPES_DATA", 0);
	set->seccomp_img = read_one(set, "seccomp.img", "SECCOMP", 0);
	set->timens_img = read_one(set, "timens-0.img", "TIMENS", 0);
	set->memfd_img = read_one(set, "memfd.img", "MEMFD_INODE", 0);
	set->file_locks_img = read_one(set, "filelocks.img", "FILE_LOCKS", 0);
	set->sk_queues_img = read_one(set, "sk-queues.img", "SK_QUEUES", 0);
	if (!set->pipes_data_img || !set->seccomp_img || !set->timens_img || !set->memfd_img ||
	    !set->file_locks_img || !set->sk_queues_img)
		goto err;
	if (set->timens_img->nr)
		set->timens = (TimensEntry *)set->timens_img->entries[0].msg;
	if (read_remaps(set))
		goto err;
	return set;
err:
	imgset_free(set);
	return NULL;
}

void imgset_free(struct img_set *set)
{
	size_t i, j;

	if (!set)
		return;
	for (i = 0; set->tasks && i < set->nr_tasks; i++) {
		struct img_task *t = &set->tasks[i];

		for (j = 0; t->threads && j < t->nr_threads; j++)
			image_free(t->threads[j].core_img);
		free(t->threads);
		free(t->pagemap);
		image_free(t->ids_img);
		image_free(t->mm_img);
		image_free(t->pagemap_img);
		image_free(t->fs_img);
	}
	free(set->tasks);
	for (i = 0; set->fdinfo && i < set->nr_fdinfo_imgs; i++)
		image_free(set->fdinfo[i].img);
	free(set->fdinfo);
	free(set->files);
	image_free(set->inventory_img);
	image_free(set->pstree_img);
	image_free(set->files_img);
	image_free(set->pipes_data_img);
	image_free(set->sk_queues_img);
	image_free(set->seccomp_img);
	image_free(set->timens_img);
	image_free(set->memfd_img);
	for (i = 0; set->ghosts && i < set->nr_ghosts; i++)
		image_free(set->ghosts[i].img);
	free(set->ghosts);
	image_free(set->remap_img);
	image_free(set->file_locks_img);
	free(set);
}

FileEntry *imgset_file(const struct img_set *set, uint32_t id)
{
	size_t i;

	for (i = 0; i < set->nr_files; i++)
		if (set->files[i]->id == id)
			return set->files[i];
	return NULL;
}

struct image *imgset_fdinfo(const struct img_set *set, uint32_t files_id)
{
	size_t i;

	for (i = 0; i < set->nr_fdinfo_imgs; i++)
		if (set->fdinfo[i].files_id == files_id)
			return set->fdinfo[i].img;
	return NULL;
}

struct img_task *imgset_task(const struct img_set *set, uint32_t pid)
{
	size_t i;

	for (i = 0; i < set->nr_tasks; i++)
		if (set->tasks[i].pid == pid)
			return &set->tasks[i];
	return NULL;
}

RemapFilePathEntry *imgset_remap(const struct img_set *set, uint32_t file_id)
{
	size_t i;

	for (i = 0; set->remap_img && i < set->remap_img->nr; i++)
		if (((RemapFilePathEntry *)set->remap_img->entries[i].msg)->orig_id == file_id)
			return (RemapFilePathEntry *)set->remap_img->entries[i].msg;
	return NULL;
}

struct ghost_img *imgset_ghost(const struct img_set *set, uint32_t remap_id)
{
	size_t i;

	for (i = 0; i < set->nr_ghosts; i++)
		if (set->ghosts[i].id == remap_id)
			return &set->ghosts[i];
	return NULL;
}
