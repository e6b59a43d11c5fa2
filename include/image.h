/* image.h: CRIU image files — magic words, length-prefixed protobuf
 * entries, extra payloads — and the set of images one restore reads. */
#ifndef CRSTEP_IMAGE_H
#define CRSTEP_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "core.pb-c.h"
#include "creds.pb-c.h"
#include "files.pb-c.h"
#include "misc.pb-c.h"
#include "tty.pb-c.h"

#define IMG_COMMON_MAGIC	0x54564319u
#define IMG_SERVICE_MAGIC	0x55105940u
#define INVENTORY_MAGIC		0x58313116u

enum img_flags {
	IMG_SERVICE	= 1 << 0,	/* service magic instead of the common one */
	IMG_NO_COMMON	= 1 << 1,	/* inventory: one magic word only */
	IMG_EXTRA	= 1 << 2,	/* each entry is followed by raw payload */
	IMG_HEAD	= 1 << 3,	/* entry 0 uses desc->head (pagemap) */
	IMG_RAW		= 1 << 4,	/* no magic, no entries (pages-*.img) */
};

/* The image format version crstep reads: inventory.img's img_version,
 * CRIU's CRTOOLS_IMAGES_V1_1 (every CRIU since 1.x writes it, 4.2 too). */
#define CRIU_IMG_VERSION 2

struct img_desc {
	const char *name;	/* as crit prints it: "CORE", "PAGEMAP" */
	const char *prefix;	/* file name: "core-" for core-<id>.img */
	uint32_t magic;
	unsigned flags;
	const ProtobufCMessageDescriptor *msg;
	const ProtobufCMessageDescriptor *head;
};

struct img_entry {
	ProtobufCMessage *msg;
	const uint8_t *extra;	/* IMG_EXTRA payload, inside image->data */
	size_t extra_len;
};

struct image {
	char path[512];
	const struct img_desc *desc;
	int missing;		/* the file does not exist: read as empty */
	size_t nr;
	struct img_entry *entries;
	uint8_t *data;		/* the whole file */
	size_t size;
};

/* The descriptor of a file by its base name (core-1.img -> CORE), or NULL. */
const struct img_desc *img_desc_by_file(const char *base);
/* The descriptor for a magic pair (common/service word, type word), or NULL. */
const struct img_desc *img_desc_by_magic(uint32_t first, uint32_t second);
/* Every descriptor, terminated by a zero entry. */
extern const struct img_desc img_descs[];

/* Read and decode a whole image.  With desc NULL the type is taken from the
 * file name, and the magic must agree.  A missing file reads as empty (CRIU's
 * behaviour) unless must_exist.  Errors print one line naming the file, the
 * entry index and the reason, and return -1. */
struct image *image_read(const char *path, const struct img_desc *desc, int must_exist);
void image_free(struct image *img);
/* Convenience: the descriptor named NAME ("CORE"). */
const struct img_desc *img_desc_by_name(const char *name);

/* Pagemap entry flags. */
#define PE_PARENT	(1 << 0)
#define PE_LAZY		(1 << 1)
#define PE_PRESENT	(1 << 2)

/* VMA status bits (CRIU's VMA_AREA_*). */
#define VMA_AREA_NONE		0
#define VMA_AREA_REGULAR	(1 << 0)
#define VMA_AREA_STACK		(1 << 1)
#define VMA_AREA_VSYSCALL	(1 << 2)
#define VMA_AREA_VDSO		(1 << 3)
#define VMA_AREA_HEAP		(1 << 5)
#define VMA_FILE_PRIVATE	(1 << 6)
#define VMA_FILE_SHARED		(1 << 7)
#define VMA_ANON_SHARED		(1 << 8)
#define VMA_ANON_PRIVATE	(1 << 9)
#define VMA_AREA_SYSVIPC	(1 << 10)
#define VMA_AREA_SOCKET		(1 << 11)
#define VMA_AREA_VVAR		(1 << 12)
#define VMA_AREA_AIORING	(1 << 13)
#define VMA_AREA_MEMFD		(1 << 14)
#define VMA_AREA_SHSTK		(1 << 15)
#define VMA_AREA_GUARD		(1 << 16)
#define VMA_AREA_UPROBES	(1 << 17)
#define VMA_EXT_PLUGIN		(1 << 27)

/* task_core_entry.task_state */
#define TASK_ALIVE	0x1
#define TASK_DEAD	0x2
#define TASK_STOPPED	0x3
#define TASK_HELPER	0x80
#define TASK_THREAD	0x81

/* One thread of a task: its core image. */
struct img_thread {
	uint32_t tid;
	struct image *core_img;
	CoreEntry *core;
};

/* One pstree entry with everything read for it. */
struct img_task {
	PstreeEntry *pstree;
	uint32_t pid;
	size_t nr_threads;
	struct img_thread *threads;	/* threads[0] is the leader */
	CoreEntry *core;		/* == threads[0].core */
	struct image *ids_img, *mm_img, *pagemap_img, *fs_img;
	TaskKobjIdsEntry *ids;		/* core->ids or ids image */
	MmEntry *mm;			/* NULL for zombies */
	PagemapHead *pagemap_head;
	size_t nr_pagemap;
	PagemapEntry **pagemap;		/* entries after the head */
	FsEntry *fs;
	char pages_path[512];		/* pages-<pages_id>.img */
	int zombie;
};

/* Every image a restore of one directory reads. */
struct img_set {
	char dir[256];
	struct image *inventory_img, *pstree_img, *files_img, *pipes_data_img;
	struct image *seccomp_img, *timens_img, *memfd_img, *file_locks_img;
	struct image *sk_queues_img;	/* sk-queues.img: packets queued on unix sockets */
	InventoryEntry *inventory;
	TimensEntry *timens;		/* NULL when there is no timens-0.img */
	size_t nr_tasks;
	struct img_task *tasks;		/* pstree order: tasks[0] is the root */
	size_t nr_files;
	FileEntry **files;
	size_t nr_fdinfo_imgs;
	struct fdinfo_img {
		uint32_t files_id;
		struct image *img;
	} *fdinfo;
	struct image *remap_img;	/* remap-fpath.img: files open by a lost name */
	size_t nr_ghosts;
	struct ghost_img {
		uint32_t id;		/* remap_id of the GHOST remaps */
		struct image *img;	/* ghost-file-<id>.img */
		GhostFileEntry *gfe;	/* its entry 0 */
	} *ghosts;
};

/* Read every image of DIR that a restore uses.  Errors name the image. */
struct img_set *imgset_read(const char *dir);
void imgset_free(struct img_set *set);
FileEntry *imgset_file(const struct img_set *set, uint32_t id);
struct image *imgset_fdinfo(const struct img_set *set, uint32_t files_id);
struct img_task *imgset_task(const struct img_set *set, uint32_t pid);
/* The remap-fpath entry of a file id, or NULL: the file was open by a name
 * it no longer had at dump time. */
RemapFilePathEntry *imgset_remap(const struct img_set *set, uint32_t file_id);
struct ghost_img *imgset_ghost(const struct img_set *set, uint32_t remap_id);

/* The consistency check of a whole directory (images/check.c): 0 or -1. */
int imgset_check(const struct img_set *set);
/* Its part for sk-queues.img (images/check-sk.c): the number of errors. */
int check_sk_queues(const struct img_set *set);

#endif
