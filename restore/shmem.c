/* shmem.c: shared memory (CRIU's shmem.c and memfd.c).
 *
 * CRIU 4.2 on this kernel dumps a MAP_SHARED|MAP_ANONYMOUS area as a memfd
 * (memfd.img + pagemap-shmem-<shmid>.img); older dumps name it
 * VMA_ANON_SHARED with the same pagemap-shmem image.  The controller makes
 * one memfd per shared object before the tree exists, fills it, and every
 * task inherits it, so all mappings of it share the same pages. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "restore.h"

#define SHMEM_FD_BASE 3000

static struct restore_shmem *shmem_find(struct restore_ctx *ctx, uint64_t shmid)
{
	size_t i;

	for (i = 0; i < ctx->nr_shmems; i++)
		if (ctx->shmems[i].shmid == shmid)
			return &ctx->shmems[i];
	return NULL;
}

/* The pages of shmid from pagemap-shmem-<shmid>.img: offsets, not
 * addresses.  Written with pwrite, or, when map is given (hugetlbfs has no
 * write()), read straight into that shared mapping of the object, as
 * CRIU's restore_memfd_shmem_content() does for every memfd. */
static int shmem_fill(struct restore_ctx *ctx, int fd, uint64_t shmid, uint64_t size, char *map)
{
	char path[600], pages[700];
	struct image *img;
	uint64_t off = 0;
	size_t i;
	int pfd = -1, ret = -1;
	char *buf = NULL;

	snprintf(path, sizeof(path), "%s/pagemap-shmem-%lu.img", ctx->set->dir, (unsigned long)shmid);
	img = image_read(path, NULL, 0);
	if (!img)
		return -1;
	if (img->missing || !img->nr) {
		ret = 0;
		goto out;
	}
	snprintf(pages, sizeof(pages), "%s/pages-%u.img", ctx->set->dir,
		 ((PagemapHead *)img->entries[0].msg)->pages_id);
	pfd = open(pages, O_RDONLY | O_CLOEXEC);
	if (pfd < 0) {
		error("%s: cannot open: %s", pages, strerror(errno));
		goto out;
	}
	for (i = 1; i < img->nr; i++) {
		PagemapEntry *pe = (PagemapEntry *)img->entries[i].msg;
		uint64_t n = (pe->has_nr_pages ? pe->nr_pages : pe->compat_nr_pages) * 4096;
		uint64_t keep;
		int ok;

		if (pe->has_flags && !(pe->flags & PE_PRESENT))
			continue;
		/* Whole pages are dumped, but the object is `size` bytes: a
		 * write past it would grow the file (a 6-byte memfd would
		 * come back 4096 bytes long). */
		keep = pe->vaddr >= size ? 0 : size - pe->vaddr < n ? size - pe->vaddr : n;
		if (map) {
			ok = !keep || pread(pfd, map + pe->vaddr, keep, off) == (ssize_t)keep;
		} else {
			buf = realloc(buf, n);
			ok = buf && pread(pfd, buf, n, off) == (ssize_t)n &&
			     (!keep || pwrite(fd, buf, keep, pe->vaddr) == (ssize_t)keep);
		}
		if (!ok) {
			error("%s: entry %zu: cannot copy %lu bytes into the shared memory: %s", path, i,
			      (unsigned long)n, strerror(errno));
			goto out;
		}
		off += n;
	}
	ret = 0;
out:
	free(buf);
	if (pfd >= 0)
		close(pfd);
	image_free(img);
	return ret;
}

/* A hugetlb object (memfd.img's hugetlb_flag: MFD_HUGETLB and the page
 * size) is made as one, so that its mappings are hugetlb mappings on the
 * hugetlbfs device as dumped (zdtm's "Mapping dev mismatch"); it is filled
 * through a mapping. */
static int shmem_fill_object(struct restore_ctx *ctx, int fd, uint64_t shmid, uint64_t size, int hugetlb)
{
	char *map;
	int ret;

	if (!hugetlb || !size)
		return shmem_fill(ctx, fd, shmid, size, NULL);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return error("shared memory %lu: cannot map the hugetlb object: %s", (unsigned long)shmid,
			     strerror(errno));
	ret = shmem_fill(ctx, fd, shmid, size, map);
	munmap(map, size);
	return ret;
}

/* key identifies the object for the VMAs and fds; dump_shmid names its
 * pagemap-shmem image. */
static int shmem_add(struct restore_ctx *ctx, uint64_t key, uint64_t dump_shmid, const char *name,
		     uint64_t size, uint32_t seals, const MemfdInodeEntry *m)
{
	unsigned int hugetlb = m && m->has_hugetlb_flag ? m->hugetlb_flag : 0;
	struct restore_shmem *sh;
	int fd, high;

	if (shmem_find(ctx, key))
		return 0;
	sh = realloc(ctx->shmems, (ctx->nr_shmems + 1) * sizeof(*sh));
	if (!sh)
		return error("out of memory");
	ctx->shmems = sh;
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | hugetlb);
	if (fd < 0)
		return error("shared memory %lu: memfd_create: %s", (unsigned long)dump_shmid, strerror(errno));
	high = fcntl(fd, F_DUPFD_CLOEXEC, SHMEM_FD_BASE);
	close(fd);
	if (high < 0 || ftruncate(high, size) || shmem_fill_object(ctx, high, dump_shmid, size, !!hugetlb)) {
		if (high >= 0)
			close(high);
		return error("shared memory %lu: cannot prepare %lu bytes", (unsigned long)dump_shmid,
			     (unsigned long)size);
	}
	/* A memfd's owner and mode are the inode's own (memfd_create gives
	 * 0777 and crstep's ids). */
	if (m && (fchown(high, m->uid, m->gid) || (m->has_mode && fchmod(high, m->mode & 07777)))) {
		close(high);
		return error("memfd.img: shmid %lu: owner %u:%u, mode %#o: %s", (unsigned long)dump_shmid,
			     m->uid, m->gid, m->mode, strerror(errno));
	}
	/* Seals last: F_SEAL_WRITE and friends would refuse the fill. */
	if (seals && fcntl(high, F_ADD_SEALS, seals)) {
		close(high);
		return error("memfd.img: shmid %lu: seals %#x: %s", (unsigned long)dump_shmid, seals,
			     strerror(errno));
	}
	sh = &ctx->shmems[ctx->nr_shmems++];
	sh->shmid = key;
	sh->dump_shmid = dump_shmid;
	sh->fd = high;
	return 0;
}

int shmem_prepare(struct restore_ctx *ctx)
{
	const struct img_set *set = ctx->set;
	size_t i, j;

	for (i = 0; i < set->memfd_img->nr; i++) {
		MemfdInodeEntry *m = (MemfdInodeEntry *)set->memfd_img->entries[i].msg;

		/* Keyed by inode_id, which memfd file entries refer to. */
		if (shmem_add(ctx, m->inode_id, m->shmid, m->name, m->size, m->seals, m))
			return -1;
	}
	/* VMA_ANON_SHARED: one object per shmid, as large as its largest use. */
	for (i = 0; i < set->nr_tasks; i++) {
		const MmEntry *mm = set->tasks[i].mm;

		for (j = 0; mm && j < mm->n_vmas; j++) {
			const VmaEntry *v = mm->vmas[j];
			uint64_t size = v->pgoff + v->end - v->start, k;

			if (!(v->status & VMA_ANON_SHARED))
				continue;
			for (k = 0; k < set->nr_tasks; k++) {
				const MmEntry *m2 = set->tasks[k].mm;
				size_t l;

				for (l = 0; m2 && l < m2->n_vmas; l++)
					if ((m2->vmas[l]->status & VMA_ANON_SHARED) && m2->vmas[l]->shmid == v->shmid &&
					    m2->vmas[l]->pgoff + m2->vmas[l]->end - m2->vmas[l]->start > size)
						size = m2->vmas[l]->pgoff + m2->vmas[l]->end - m2->vmas[l]->start;
			}
			if (shmem_add(ctx, (1ull << 63) | v->shmid, v->shmid, "shmem", size, 0, NULL))
				return -1;
		}
	}
	return 0;
}

int shmem_fd_for_vma(struct restore_ctx *ctx, const VmaEntry *v)
{
	struct restore_shmem *sh = NULL;

	if (v->status & VMA_ANON_SHARED) {
		sh = shmem_find(ctx, (1ull << 63) | v->shmid);
	} else if (v->status & VMA_AREA_MEMFD) {
		FileEntry *fe = imgset_file(ctx->set, v->shmid);

		if (fe && fe->memfd)
			sh = shmem_find(ctx, fe->memfd->inode_id);
	}
	return sh ? sh->fd : error("VMA %#lx: no shared memory object for id %lu", (unsigned long)v->start,
				   (unsigned long)v->shmid);
}

/* An fd on a memfd: a new open file description of the same object, with
 * the dumped flags and position. */
int shmem_open_file(struct restore_ctx *ctx, const FileEntry *fe)
{
	struct restore_shmem *sh = fe->memfd ? shmem_find(ctx, fe->memfd->inode_id) : NULL;
	char path[64];
	int fd;

	if (!sh)
		return error("files.img: file id %u: no memfd inode", fe->id);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", sh->fd);
	fd = open(path, (fe->memfd->flags & ~(O_CREAT | O_TRUNC | O_EXCL | O_ASYNC)) | O_CLOEXEC);
	if (fd < 0 || (fe->memfd->pos && lseek(fd, fe->memfd->pos, SEEK_SET) < 0))
		return error("files.img: file id %u: cannot reopen the memfd: %s", fe->id, strerror(errno));
	return fd;
}

void shmem_close(struct restore_ctx *ctx)
{
	size_t i;

	for (i = 0; i < ctx->nr_shmems; i++) {
		if (ctx->shmems[i].fd >= 0)
			close(ctx->shmems[i].fd);
		ctx->shmems[i].fd = -1;
	}
}
