/* mem.c: the task's memory, prepared in crstep's address space for the
 * restorer blob to move into place (CRIU's prepare_mappings() and the
 * bootstrap part of sigreturn_restore()).
 *
 * Every dumped private VMA is mapped, writable, at its offset in one
 * reserved "premap" area that overlaps neither crstep nor any dumped VMA,
 * and filled from pages-N.img with pread.  The bootstrap area (blob code,
 * restorer_args, stack, sigframe) sits in another such hole.  The blob then
 * only has to unmap, mremap and mprotect. */
#include <elf.h>
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
#include "sigframe.h"

#define PAGE		4096ull
#define PAGE_UP(x)	(((x) + PAGE - 1) & ~(PAGE - 1))
#define HOLE_MIN	0x10000000ull		/* stay clear of low addresses */
#define HOLE_MAX	0x7ff000000000ull
#define HOLE_GAP	(16 * PAGE)		/* keep a gap around what we place */

extern const unsigned char restorer_blob[];
extern const size_t restorer_blob_size;

struct maps {
	size_t nr, cap;
	struct map_range {
		uint64_t start, end;
		char name[24];
	} *r;
};

static int maps_add(struct maps *m, uint64_t start, uint64_t end, const char *name)
{
	if (m->nr == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct map_range *r = realloc(m->r, cap * sizeof(*r));

		if (!r)
			return -1;
		m->r = r;
		m->cap = cap;
	}
	m->r[m->nr].start = start;
	m->r[m->nr].end = end;
	snprintf(m->r[m->nr].name, sizeof(m->r[m->nr].name), "%s", name ? name : "");
	m->nr++;
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct map_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* This process's own mappings. */
static int maps_read_self(struct maps *m)
{
	char line[512], name[256];
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return error("cannot read /proc/self/maps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e;

		name[0] = 0;
		if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %255s", &s, &e, name) < 2)
			continue;
		if (maps_add(m, s, e, name)) {
			fclose(f);
			return error("out of memory");
		}
	}
	fclose(f);
	return 0;
}

/* A free range of len bytes, clear of everything in busy by HOLE_GAP. */
static uint64_t find_hole(struct maps *busy, uint64_t len)
{
	uint64_t at = HOLE_MIN;
	size_t i;

	qsort(busy->r, busy->nr, sizeof(*busy->r), range_cmp);
	for (i = 0; i < busy->nr; i++) {
		if (busy->r[i].end + HOLE_GAP <= at)
			continue;
		if (busy->r[i].start >= at + len + HOLE_GAP)
			break;
		at = busy->r[i].end + HOLE_GAP;
	}
	return at + len <= HOLE_MAX ? at : 0;
}

static int vma_premapped(const VmaEntry *v)
{
	return !(v->status & (VMA_AREA_VSYSCALL | VMA_AREA_VDSO | VMA_AREA_VVAR));
}

#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE	0x08
#endif

/* The mmap flags the kernel keeps in the VMA itself (VmFlags "dp", "nr",
 * "gd"), as the image has them: mremap carries them along, so the premap
 * must have them already.  MAP_LOCKED is the blob's (mlock, once the pages
 * are in). */
static int private_flags(const VmaEntry *v)
{
	int type = (v->flags & MAP_TYPE) == MAP_DROPPABLE ? MAP_DROPPABLE : MAP_PRIVATE;
	/* The size bits reach bit 31: unsigned, or the shift overflows an int. */
	int huge = v->flags & MAP_HUGETLB ? (int)(v->flags & (MAP_HUGETLB | ((uint32_t)MAP_HUGE_MASK << MAP_HUGE_SHIFT))) : 0;

	return type | huge | (v->flags & (MAP_GROWSDOWN | MAP_NORESERVE));
}

/* The page size of a VMA: a hugetlb one (a private MAP_HUGETLB mapping, or
 * one of a hugetlb memfd: CRIU puts MAP_HUGETLB and the size bits in its
 * flags) must sit at an address aligned to its huge page size in the premap
 * area too, or mmap and the blob's mremap refuse it.  No size bits: the
 * kernel's default huge page size. */
static uint64_t vma_page_size(const VmaEntry *v)
{
	static uint64_t default_huge;
	unsigned int shift = (v->flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK;

	if (!(v->flags & MAP_HUGETLB))
		return PAGE;
	if (shift)
		return 1ull << shift;
	if (!default_huge) {
		char line[128];
		unsigned long kb;
		FILE *f = fopen("/proc/meminfo", "re");

		default_huge = 2ull << 20;
		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "Hugepagesize: %lu kB", &kb) == 1 && kb)
				default_huge = (uint64_t)kb << 10;
		if (f)
			fclose(f);
	}
	return default_huge;
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static int map_vma(struct restore_ctx *ctx, struct img_task *t, const VmaEntry *v, uint64_t at)
{
	int prot = v->prot | PROT_WRITE;
	int flags = private_flags(v) | MAP_FIXED;
	uint64_t len = v->end - v->start;
	void *p;

	if (v->status & (VMA_AREA_MEMFD | VMA_ANON_SHARED)) {
		int fd = shmem_fd_for_vma(ctx, v);
		int shared = !(v->status & VMA_FILE_PRIVATE);

		if (fd < 0)
			return -1;
		/* Shared: the pages are the object's, nothing to fill.  A
		 * private mapping of a memfd (VMA_FILE_PRIVATE) is a private
		 * file mapping of the object, as CRIU's: its untouched pages
		 * show the object, and the pages it wrote (its own copies)
		 * come from pages-N.img in fill_pages. */
		p = mmap((void *)at, len, prot, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, fd, v->pgoff);
	} else if (v->status & (VMA_FILE_PRIVATE | VMA_FILE_SHARED)) {
		FileEntry *fe = imgset_file(ctx->set, v->shmid);
		int fd, shared = v->status & VMA_FILE_SHARED;

		if (!fe || !fe->reg)
			return error("mm-%u.img: VMA %#lx: file id %lu is not a regular file in files.img",
				     t->pid, (unsigned long)v->start, (unsigned long)v->shmid);
		/* A shared mapping opens the file as it was mapped (fdflags);
		 * its size is checked as CRIU does for the file entry. */
		fd = shared ? reg_file_open_flags(ctx, fe->reg, v->has_fdflags ? v->fdflags : O_RDWR, 1) :
			      reg_file_open(ctx, fe->reg, 1);
		if (fd < 0)
			return -1;
		if (shared && !(v->has_fdflags && (v->fdflags & O_ACCMODE) != O_RDONLY))
			prot = v->prot;
		p = mmap((void *)at, len, prot, (shared ? MAP_SHARED : MAP_PRIVATE | (v->flags & MAP_NORESERVE)) |
			 MAP_FIXED, fd, v->pgoff);
		close(fd);
	} else {
		p = mmap((void *)at, len, prot, flags | MAP_ANONYMOUS, -1, 0);
	}
	if (p == MAP_FAILED)
		return error("mm-%u.img: cannot map VMA %#lx-%#lx: %s", t->pid,
			     (unsigned long)v->start, (unsigned long)v->end, strerror(errno));
	return 0;
}

/* The index of the VMA holding addr, or mm->n_vmas.  The VMAs are sorted
 * and do not overlap (images/check.c refuses other images): a binary
 * search, since a task may have tens of thousands of them and the pagemap
 * as many entries. */
static size_t vma_index(const MmEntry *mm, uint64_t addr)
{
	size_t lo = 0, hi = mm->n_vmas;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mm->vmas[mid]->end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < mm->n_vmas && mm->vmas[lo]->start <= addr ? lo : mm->n_vmas;
}

/* The names and offsets of the vDSO's exported symbols, from its ELF
 * dynamic symbol table.  CRIU remaps the runtime vDSO in place when the
 * symbols of the dumped one sit at the same offsets; so does crstep. */
static int vdso_symbols(const uint8_t *elf, size_t len, char *out, size_t outlen)
{
	const Elf64_Ehdr *eh = (const void *)elf;
	const Elf64_Shdr *sh;
	size_t i, n = 0;

	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(*sh) > len)
		return -1;
	sh = (const void *)(elf + eh->e_shoff);
	for (i = 0; i < eh->e_shnum; i++) {
		const Elf64_Sym *sym;
		const char *str;
		size_t k;

		if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= eh->e_shnum)
			continue;
		if (sh[i].sh_offset + sh[i].sh_size > len ||
		    sh[sh[i].sh_link].sh_offset + sh[sh[i].sh_link].sh_size > len)
			return -1;
		sym = (const void *)(elf + sh[i].sh_offset);
		str = (const char *)elf + sh[sh[i].sh_link].sh_offset;
		for (k = 0; k < sh[i].sh_size / sizeof(*sym); k++) {
			int w;

			if (!sym[k].st_value || sym[k].st_name >= sh[sh[i].sh_link].sh_size)
				continue;
			w = snprintf(out + n, outlen - n, "%s@%lx ", str + sym[k].st_name,
				     (unsigned long)sym[k].st_value);
			if (w < 0 || (size_t)w >= outlen - n)
				return -1;
			n += w;
		}
		return 0;
	}
	return -1;
}

static int vdso_compare(struct img_task *t, struct premap *pm, const uint8_t *dumped, size_t len)
{
	char a[2048], b[2048];

	if (len != pm->vdso.end - pm->vdso.start)
		return error("task %u: the dumped vDSO is %zu bytes, this kernel's %lu: "
			     "a vDSO proxy would be needed, which crstep does not build", t->pid, len,
			     (unsigned long)(pm->vdso.end - pm->vdso.start));
	if (vdso_symbols(dumped, len, a, sizeof(a)) ||
	    vdso_symbols((const void *)pm->vdso.start, len, b, sizeof(b)))
		return error("task %u: cannot read the vDSO symbol tables", t->pid);
	if (strcmp(a, b))
		return error("task %u: the dumped vDSO's symbols (%s) differ from this kernel's (%s): "
			     "a vDSO proxy would be needed, which crstep does not build", t->pid, a, b);
	return 0;
}

/* Read the PE_PRESENT pages into their premapped places.  Pages of the
 * vDSO are not restored (the runtime one is moved in) but checked. */
static int fill_pages(struct img_task *t, struct premap *pm)
{
	uint64_t off = 0;
	size_t i;
	int fd, ret = -1;
	uint8_t *vdso = NULL;

	fd = open(t->pages_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error("%s: cannot open: %s", t->pages_path, strerror(errno));
	for (i = 0; i < t->nr_pagemap; i++) {
		const PagemapEntry *pe = t->pagemap[i];
		uint64_t addr = pe->vaddr, end = pe->vaddr + pe->nr_pages * PAGE;

		if (!(pe->flags & PE_PRESENT))
			continue;
		while (addr < end) {
			size_t k = vma_index(t->mm, addr);
			const VmaEntry *v = k < t->mm->n_vmas ? t->mm->vmas[k] : NULL;
			uint64_t chunk;
			void *dst;

			if (!v) {
				error("pagemap-%u.img: entry %zu: page %#lx is in no VMA", t->pid, i + 1,
				      (unsigned long)addr);
				goto out;
			}
			chunk = (v->end < end ? v->end : end) - addr;
			if (vma_premapped(v)) {
				dst = (void *)(pm->premap_of[k] + (addr - v->start));
			} else if ((v->status & VMA_AREA_VDSO) && addr == v->start &&
				   chunk == v->end - v->start) {
				vdso = malloc(chunk);
				if (!vdso)
					goto out;
				dst = vdso;
			} else {
				error("pagemap-%u.img: entry %zu: pages at %#lx in a VMA crstep does not fill (status %#x)",
				      t->pid, i + 1, (unsigned long)addr, v->status);
				goto out;
			}
			if (pread(fd, dst, chunk, off) != (ssize_t)chunk) {
				error("%s: short read of %lu bytes at offset %lu for %#lx (pagemap-%u.img entry %zu)",
				      t->pages_path, (unsigned long)chunk, (unsigned long)off,
				      (unsigned long)addr, t->pid, i + 1);
				goto out;
			}
			if (dst == vdso && vdso_compare(t, pm, vdso, chunk))
				goto out;
			off += chunk;
			addr += chunk;
		}
	}
	ret = 0;
out:
	free(vdso);
	close(fd);
	return ret;
}

/* The runtime [vvar], [vvar_vclock], [vdso] from our own maps, and the
 * offset that moves them onto the dumped ones. */
static int vdso_plan(struct img_task *t, struct maps *self, struct premap *pm)
{
	const VmaEntry *vvar = NULL, *vdso = NULL;
	size_t i;

	for (i = 0; i < t->mm->n_vmas; i++) {
		if (t->mm->vmas[i]->status & VMA_AREA_VVAR)
			vvar = t->mm->vmas[i];
		if (t->mm->vmas[i]->status & VMA_AREA_VDSO)
			vdso = t->mm->vmas[i];
	}
	pm->nr_vdso_parts = 0;
	for (i = 0; i < self->nr; i++) {
		const char *n = self->r[i].name;

		if (strcmp(n, "[vvar]") && strcmp(n, "[vvar_vclock]") && strcmp(n, "[vdso]"))
			continue;
		if (pm->nr_vdso_parts == RST_MAX_VDSO_PARTS)
			return error("too many vdso parts in /proc/self/maps");
		pm->vdso_parts[pm->nr_vdso_parts].start = self->r[i].start;
		pm->vdso_parts[pm->nr_vdso_parts].end = self->r[i].end;
		pm->nr_vdso_parts++;
		if (!strcmp(n, "[vdso]")) {
			pm->vdso.start = self->r[i].start;
			pm->vdso.end = self->r[i].end;
		}
	}
	if (!vdso) {
		/* The task had no vDSO: let the blob unmap ours. */
		pm->nr_vdso_parts = 0;
		return 0;
	}
	if (!pm->vdso.start)
		return error("crstep itself has no [vdso] mapping");
	pm->vdso_delta = (int64_t)(vdso->start - pm->vdso.start);
	/* vvar and vdso are one kernel object: they move by one offset, so the
	 * dumped gap between them must be this kernel's. */
	if (vvar && pm->vdso_parts[0].start + pm->vdso_delta != vvar->start)
		return error("mm-%u.img: [vvar] at %#lx and [vdso] at %#lx are not laid out as this kernel's "
			     "(%#lx, %#lx): a vDSO proxy would be needed, which crstep does not build", t->pid,
			     (unsigned long)vvar->start, (unsigned long)vdso->start,
			     (unsigned long)pm->vdso_parts[0].start, (unsigned long)pm->vdso.start);
	if (vvar && vvar->end - vvar->start != pm->vdso.start - pm->vdso_parts[0].start)
		return error("mm-%u.img: [vvar] is %lu bytes, this kernel's %lu", t->pid,
			     (unsigned long)(vvar->end - vvar->start),
			     (unsigned long)(pm->vdso.start - pm->vdso_parts[0].start));
	return 0;
}

int mem_premap(struct restore_ctx *ctx, struct img_task *t, struct premap *pm)
{
	const MmEntry *mm = t->mm;
	struct maps busy = { 0 };
	uint64_t total = 0, at;
	size_t i;
	int ret = -1;

	pm->premap_of = calloc(mm->n_vmas + 1, sizeof(*pm->premap_of));
	if (!pm->premap_of || maps_read_self(&busy) || vdso_plan(t, &busy, pm))
		goto out;
	for (i = 0; i < mm->n_vmas; i++) {
		if (maps_add(&busy, mm->vmas[i]->start, mm->vmas[i]->end, NULL))
			goto out;
		/* A hugetlb VMA may need up to one huge page of padding. */
		if (vma_premapped(mm->vmas[i]))
			total += mm->vmas[i]->end - mm->vmas[i]->start + vma_page_size(mm->vmas[i]) - PAGE;
	}
	at = find_hole(&busy, total + PAGE);
	if (!at) {
		error("task %u: no hole of %lu bytes for the premapped VMAs", t->pid, (unsigned long)total);
		goto out;
	}
	if (mmap((void *)at, total + PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0) == MAP_FAILED) {
		error("task %u: cannot reserve %#lx bytes at %#lx: %s", t->pid,
		      (unsigned long)total, (unsigned long)at, strerror(errno));
		goto out;
	}
	pm->start = at;
	pm->end = at + total + PAGE;
	/* One PROT_NONE page stays below the first VMA so that a growsdown
	 * stack never has a writable neighbour right under it. */
	at += PAGE;
	for (i = 0; i < mm->n_vmas; i++) {
		const VmaEntry *v = mm->vmas[i];

		if (!vma_premapped(v))
			continue;
		at = align_up(at, vma_page_size(v));
		if (map_vma(ctx, t, v, at))
			goto out;
		pm->premap_of[i] = at;
		pm->nr_premapped++;
		at += v->end - v->start;
	}
	if (fill_pages(t, pm))
		goto out;
	ret = 0;
out:
	free(busy.r);
	return ret;
}

static int keep_cmp(const void *a, const void *b)
{
	const struct rst_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* The bootstrap area: [blob][restorer_args][stack][sigframe], placed in a
 * hole clear of crstep, the premap area and every dumped VMA. */
static int place_bootstrap(struct img_task *t, struct premap *pm, uint64_t len)
{
	struct maps busy = { 0 };
	size_t i;
	void *p;
	int ret = -1;

	if (maps_read_self(&busy))
		goto out;
	for (i = 0; i < t->mm->n_vmas; i++)
		if (maps_add(&busy, t->mm->vmas[i]->start, t->mm->vmas[i]->end, NULL))
			goto out;
	pm->boot_start = find_hole(&busy, len);
	if (!pm->boot_start) {
		error("task %u: no hole for the restorer", t->pid);
		goto out;
	}
	/* Executable and anonymous, as CRIU's blob: a file mapping would keep
	 * crstep's binary mapped and make PR_SET_MM_MAP's exe change fail. */
	p = mmap((void *)pm->boot_start, len, PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED) {
		error("task %u: cannot map the restorer at %#lx: %s", t->pid,
		      (unsigned long)pm->boot_start, strerror(errno));
		goto out;
	}
	pm->boot_end = pm->boot_start + len;
	/* A free span for the vDSO's two-step move, if it needs one. */
	if (maps_add(&busy, pm->boot_start, pm->boot_end, NULL) ||
	    maps_add(&busy, pm->start, pm->end, NULL))
		goto out;
	if (pm->nr_vdso_parts) {
		uint64_t span = pm->vdso_parts[pm->nr_vdso_parts - 1].end - pm->vdso_parts[0].start;

		pm->args->vdso_tmp = find_hole(&busy, span);
		if (!pm->args->vdso_tmp) {
			error("task %u: no hole for moving the vDSO", t->pid);
			goto out;
		}
	}
	ret = 0;
out:
	free(busy.r);
	return ret;
}

/* The premapped VMAs, into the array the bootstrap area holds for them
 * (pm->nr_premapped entries, counted by mem_premap). */
static void args_vmas(struct img_task *t, struct premap *pm, struct restorer_args *a, struct rst_vma *vmas)
{
	size_t i;

	a->vmas = vmas;
	for (i = 0; i < t->mm->n_vmas && a->nr_vmas < pm->nr_premapped; i++) {
		const VmaEntry *v = t->mm->vmas[i];
		struct rst_vma *r;

		if (!pm->premap_of[i])
			continue;
		r = &vmas[a->nr_vmas++];
		r->start = v->start;
		r->end = v->end;
		r->premap = pm->premap_of[i];
		r->prot = v->prot;
		r->flags = v->flags;
		r->madv = v->has_madv ? v->madv : 0;
	}
}

static int args_mm(struct restore_ctx *ctx, struct img_task *t, struct restorer_args *a, int keep_fd)
{
	const MmEntry *mm = t->mm;

	if (mm->n_mm_saved_auxv > RST_AUXV_WORDS)
		return error("mm-%u.img: %zu auxv words, at most %d", t->pid, mm->n_mm_saved_auxv, RST_AUXV_WORDS);
	a->mm_map.start_code = mm->mm_start_code;
	a->mm_map.end_code = mm->mm_end_code;
	a->mm_map.start_data = mm->mm_start_data;
	a->mm_map.end_data = mm->mm_end_data;
	a->mm_map.start_stack = mm->mm_start_stack;
	a->mm_map.start_brk = mm->mm_start_brk;
	a->mm_map.brk = mm->mm_brk;
	a->mm_map.arg_start = mm->mm_arg_start;
	a->mm_map.arg_end = mm->mm_arg_end;
	a->mm_map.env_start = mm->mm_env_start;
	a->mm_map.env_end = mm->mm_env_end;
	memcpy(a->auxv, mm->mm_saved_auxv, mm->n_mm_saved_auxv * sizeof(uint64_t));
	a->mm_map.auxv_size = mm->n_mm_saved_auxv * sizeof(uint64_t);
	a->mm_map.exe_fd = keep_fd;
	(void)ctx;
	return 0;
}

/* How many pending signals the task's images hold, on every queue. */
static size_t count_siginfo(const struct img_task *t)
{
	const TaskCoreEntry *tc = t->core->tc;
	size_t i, n = tc->signals_s ? tc->signals_s->n_signals : 0;

	for (i = 0; i < t->nr_threads; i++) {
		const ThreadCoreEntry *tcore = t->threads[i].core->thread_core;

		n += tcore && tcore->signals_p ? tcore->signals_p->n_signals : 0;
	}
	return n;
}

/* a->siginfo has room for count_siginfo(); the check (features.c) made
 * sure each siginfo is the 128 bytes of a siginfo_t. */
static void args_siginfo(struct restorer_args *a, const SignalQueueEntry *q, int shared, int32_t tid)
{
	size_t i;

	for (i = 0; q && i < q->n_signals; i++) {
		struct rst_siginfo *si = &a->siginfo[a->nr_siginfo++];
		size_t len = q->signals[i]->siginfo.len;

		si->shared = shared;
		si->tid = tid;
		memcpy(si->info, q->signals[i]->siginfo.data, len < sizeof(si->info) ? len : sizeof(si->info));
	}
}

static void args_thread(struct img_thread *it, struct rst_thread *th, const char *comm)
{
	const CoreEntry *core = it->core;
	const ThreadCoreEntry *tcore = core->thread_core;

	th->tid = it->tid;
	th->clear_tid_addr = core->thread_info->clear_tid_addr;
	th->fs_base = core->thread_info->gpregs->fs_base;
	th->gs_base = core->thread_info->gpregs->gs_base;
	if (tcore) {
		th->robust_list = tcore->futex_rla;
		th->robust_len = tcore->futex_rla_len;
		if (tcore->has_sched_policy && tcore->has_sched_nice) {
			th->has_sched = 1;
			th->sched_policy = tcore->sched_policy;
			th->sched_prio = tcore->has_sched_prio ? tcore->sched_prio : 0;
			th->sched_nice = tcore->sched_nice;
		}
		th->pdeath_sig = tcore->has_pdeath_sig ? tcore->pdeath_sig : 0;
		if (tcore->rseq_entry && tcore->rseq_entry->rseq_abi_pointer) {
			th->rseq_ptr = tcore->rseq_entry->rseq_abi_pointer;
			th->rseq_len = tcore->rseq_entry->rseq_abi_size;
			th->rseq_sig = tcore->rseq_entry->signature;
		}
	}
	snprintf(th->comm, sizeof(th->comm), "%s", tcore && tcore->comm ? tcore->comm : comm);
}

static void args_task(struct img_task *t, struct restorer_args *a)
{
	const TaskCoreEntry *tc = t->core->tc;
	size_t i;

	snprintf(a->comm, sizeof(a->comm), "%s", tc->comm);
	a->nr_threads = t->nr_threads;
	for (i = 0; i < t->nr_threads; i++) {
		const ThreadCoreEntry *tcore = t->threads[i].core->thread_core;

		args_thread(&t->threads[i], &a->threads[i], tc->comm);
		args_siginfo(a, tcore ? tcore->signals_p : NULL, 0, t->threads[i].tid);
	}
	args_siginfo(a, tc->signals_s, 1, t->pid);
}

/* Each thread's final frame, with its own registers, FPU state, blocked
 * mask (the leader's is the task's, the others' their own) and sigaltstack. */
static int build_frames(struct img_task *t, struct restorer_args *a, uint64_t area, uint64_t frame_len)
{
	size_t i;

	for (i = 0; i < t->nr_threads; i++) {
		const CoreEntry *core = t->threads[i].core;
		const ThreadCoreEntry *tcore = core->thread_core;
		uint64_t mask = i ? (tcore && tcore->has_blk_sigset ? tcore->blk_sigset : 0) : core->tc->blk_sigset;
		uint64_t stack = area + i * (RST_THREAD_STACK + frame_len);
		uint64_t frame = stack + RST_THREAD_STACK;

		a->threads[i].stack_top = frame;
		if (sigframe_build((void *)frame, frame_len, core->thread_info, mask,
				   tcore ? tcore->sas : NULL, &a->threads[i].sigframe_rsp))
			return error("core-%u.img: cannot build the final signal frame", t->threads[i].tid);
	}
	return 0;
}

/* The bootstrap area: [blob][restorer_args][rst_vma × nr_premapped]
 * [leader stack][per thread: stack, frame][pending signals] — the leader's
 * frame sits above its stack like the others'.  The VMA array and the
 * signals are as long as the image needs: the blob cannot allocate, so its
 * whole input is sized here. */
static uint64_t boot_offset_vmas(void)
{
	return PAGE_UP(restorer_blob_size) + PAGE_UP(sizeof(struct restorer_args));
}

static uint64_t boot_offset_threads(const struct premap *pm)
{
	return boot_offset_vmas() + PAGE_UP((uint64_t)pm->nr_premapped * sizeof(struct rst_vma)) +
	       RST_STACK_SIZE;
}

int mem_prepare_args(struct restore_ctx *ctx, struct img_task *t, struct premap *pm, int exe_fd)
{
	uint64_t blob_len = PAGE_UP(restorer_blob_size);
	uint64_t frame_len = PAGE_UP(sigframe_room());
	uint64_t sig_off = boot_offset_threads(pm) + t->nr_threads * (RST_THREAD_STACK + frame_len);
	/* Then the POSIX timers and the seccomp filters (timers.c, seccomp.c). */
	uint64_t tim_off = sig_off + PAGE_UP(count_siginfo(t) * sizeof(struct rst_siginfo));
	uint64_t sec_off = tim_off + ((timers_args_size(t) + 7) & ~7ull);
	uint64_t len = PAGE_UP(sec_off + seccomp_args_size(ctx->set, t));
	struct restorer_args *a;
	uint32_t i;

	if (t->nr_threads > RST_MAX_THREADS)
		return error("pstree.img: task %u has %zu threads, at most %d", t->pid, t->nr_threads,
			     RST_MAX_THREADS);
	/* args are built in malloc'ed memory first: place_bootstrap needs the
	 * vDSO temporary before the area exists. */
	a = calloc(1, sizeof(*a));
	if (!a)
		return error("out of memory");
	pm->args = a;
	if (place_bootstrap(t, pm, len)) {
		free(a);
		return -1;
	}
	memcpy((void *)pm->boot_start, restorer_blob, restorer_blob_size);
	pm->boot_stack_top = pm->boot_start + boot_offset_threads(pm);
	a->siginfo = (struct rst_siginfo *)(pm->boot_start + sig_off);
	if (build_frames(t, a, pm->boot_stack_top, frame_len))
		goto err;

	a->keep[a->nr_keep++] = (struct rst_range){ pm->boot_start, pm->boot_end };
	a->keep[a->nr_keep++] = (struct rst_range){ pm->start, pm->end };
	a->keep[a->nr_keep++] = (struct rst_range){ (uint64_t)ctx->shared,
		(uint64_t)ctx->shared + ctx->shared->size };
	for (i = 0; i < pm->nr_vdso_parts; i++)
		a->keep[a->nr_keep++] = pm->vdso_parts[i];
	qsort(a->keep, a->nr_keep, sizeof(a->keep[0]), keep_cmp);
	a->nr_vdso_parts = pm->nr_vdso_parts;
	memcpy(a->vdso_parts, pm->vdso_parts, sizeof(a->vdso_parts));
	a->vdso_delta = pm->vdso_delta;
	a->premap_start = pm->start;
	a->premap_end = pm->end;

	args_vmas(t, pm, a, (struct rst_vma *)(pm->boot_start + boot_offset_vmas()));
	if (args_mm(ctx, t, a, exe_fd))
		goto err;
	args_task(t, a);
	timers_args_fill(t, a, (void *)(pm->boot_start + tim_off));
	seccomp_args_fill(ctx->set, t, a, (void *)(pm->boot_start + sec_off));

	/* Move the args into the bootstrap area; the blob sees only that. */
	memcpy((void *)(pm->boot_start + blob_len), a, sizeof(*a));
	free(a);
	pm->args = (struct restorer_args *)(pm->boot_start + blob_len);
	return 0;
err:
	free(a);
	pm->args = NULL;
	return -1;
}

/* Jump into the blob on its own stack.  Never returns. */
void mem_jump(struct premap *pm)
{
	uint64_t stack_top = pm->boot_stack_top;

	/* rsp as after a call: 8 below a 16-byte boundary (the ABI). */
	__asm__ volatile("movq %0, %%rsp\n\t"
			 "movq %1, %%rdi\n\t"
			 "xorl %%ebp, %%ebp\n\t"
			 "jmpq *%2"
			 : : "r"(stack_top - 8), "r"(pm->args), "r"(pm->boot_start) : "memory");
	__builtin_unreachable();
}
