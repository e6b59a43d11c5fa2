/* dump-mem.c: mm-PID.img, pagemap-PID.img and pages-N.img of a stopped task.
 *
 * VMAs come from /proc/PID/smaps and are classified as CRIU 4.2 does
 * (proc_parse.c, mem.c): [vvar] and [vvar_vclock] become one VVAR VMA, the
 * vdso's pages are always dumped, vvar and vsyscall never, private file
 * pages only once they were copied on write, the shared zero page never.
 * Pages are coalesced into runs of one flag value even across VMA borders,
 * as CRIU's page pipe does. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dump-priv.h"
#include "log.h"

#undef PAGE_SIZE
#define PAGE_SIZE	4096UL
#define PME_PRESENT	(1ULL << 63)
#define PME_SWAP	(1ULL << 62)
#define PME_FILE	(1ULL << 61)
#define PME_PFN_MASK	((1ULL << 55) - 1)

struct smaps_vma {
	unsigned long start, end, pgoff;
	char perms[8];
	unsigned long ino;
	char path[512];
	char vmflags[256];
};

static int has_vmflag(const struct smaps_vma *v, const char *fl)
{
	const char *p = v->vmflags;
	size_t n = strlen(fl);

	while ((p = strstr(p, fl))) {
		if ((p == v->vmflags || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0 || p[n] == '\n'))
			return 1;
		p += n;
	}
	return 0;
}

/* CRIU's parse_vmflags(): VmFlags that become madvise() bits. */
static uint64_t vma_madv(const struct smaps_vma *v)
{
	static const struct { const char *fl; int advice; } map[] = {
		{ "sr", MADV_SEQUENTIAL }, { "rr", MADV_RANDOM }, { "dc", MADV_DONTFORK },
		{ "dd", MADV_DONTDUMP }, { "mg", MADV_MERGEABLE }, { "hg", MADV_HUGEPAGE },
		{ "nh", MADV_NOHUGEPAGE }, { "wf", MADV_WIPEONFORK },
	};
	uint64_t madv = 0;
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (has_vmflag(v, map[i].fl))
			madv |= 1ULL << map[i].advice;
	return madv;
}

static int parse_smaps(pid_t pid, struct smaps_vma **out, size_t *nr)
{
	char path[64], line[1024];
	struct smaps_vma *v = NULL;
	size_t cap = 0;
	FILE *f;

	*nr = 0;
	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "re");
	if (!f)
		return error("dump %d: cannot open %s: %s", pid, path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		struct smaps_vma *e;
		unsigned maj, min;
		int n = 0;

		if (!strncmp(line, "VmFlags:", 8) && *nr) {
			snprintf(v[*nr - 1].vmflags, sizeof(v->vmflags), "%s", line + 8 + strspn(line + 8, " \t"));
			continue;
		}
		if (*nr == cap) {
			cap = cap ? cap * 2 : 32;
			v = realloc(v, cap * sizeof(*v));
			if (!v)
				die(EXIT_FAIL, "out of memory");
		}
		e = &v[*nr];
		memset(e, 0, sizeof(*e));
		if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu %n", &e->start, &e->end, e->perms,
			   &e->pgoff, &maj, &min, &e->ino, &n) < 7 || !n)
			continue;
		snprintf(e->path, sizeof(e->path), "%s", line + n);
		e->path[strcspn(e->path, "\n")] = 0;
		(*nr)++;
	}
	fclose(f);
	*out = v;
	return 0;
}

/* MAP_SHARED: no pages in the task's pagemap.  A shmem object (memfd, or
 * an anonymous shared area, "/dev/zero (deleted)") is dumped as a memfd,
 * as CRIU 4.2 does when it can; a file is reopened by name, O_RDWR when
 * the mapping may write it. */
static int vma_shared(pid_t pid, struct dump_files *files, const struct smaps_vma *sv, VmaEntry *e)
{
	char mf[128];
	uint32_t id;
	int shmem = !strncmp(sv->path, "/memfd:", 7) || !strcmp(sv->path, "/dev/zero (deleted)") ||
		    !strcmp(sv->path, "/dev/zero");

	if (!sv->ino || sv->path[0] != '/')
		return error("dump %d: VMA %lx-%lx %s is a shared mapping of a kind not supported",
			     pid, sv->start, sv->end, sv->path[0] ? sv->path : "(anonymous)");
	if (has_vmflag(sv, "ht"))
		return error("dump %d: VMA %lx-%lx is hugetlb: not supported", pid, sv->start, sv->end);
	if (!shmem && strstr(sv->path, " (deleted)"))
		return error("dump %d: VMA %lx-%lx maps a deleted file %s: not supported",
			     pid, sv->start, sv->end, sv->path);
	snprintf(mf, sizeof(mf), "/proc/%d/map_files/%lx-%lx", pid, sv->start, sv->end);
	if (shmem ? files_memfd(files, mf, sv->path, &id) : files_special(files, mf, sv->path, &id))
		return -1;
	e->flags = MAP_SHARED;
	if (has_vmflag(sv, "lo"))
		e->flags |= MAP_LOCKED;
	e->madv = vma_madv(sv);
	e->has_madv = e->madv != 0;
	e->status = VMA_AREA_REGULAR | VMA_FILE_SHARED | (shmem ? VMA_AREA_MEMFD : 0);
	e->shmid = id;
	e->pgoff = sv->pgoff;
	e->has_fdflags = 1;
	e->fdflags = sv->perms[1] == 'w' ? O_RDWR : O_RDONLY;
	return 0;
}

static int vma_fill(pid_t pid, struct dump_files *files, const struct smaps_vma *sv, VmaEntry *e)
{
	int anon = !sv->ino && (!sv->path[0] || sv->path[0] == '[');

	e->start = sv->start;
	e->end = sv->end;
	e->fd = -1;
	e->prot = (sv->perms[0] == 'r' ? PROT_READ : 0) | (sv->perms[1] == 'w' ? PROT_WRITE : 0) |
		  (sv->perms[2] == 'x' ? PROT_EXEC : 0);
	if (sv->perms[3] != 'p')
		return vma_shared(pid, files, sv, e);
	e->flags = MAP_PRIVATE;
	if (has_vmflag(sv, "gd"))
		e->flags |= MAP_GROWSDOWN;
	if (has_vmflag(sv, "lo"))
		e->flags |= MAP_LOCKED;
	if (has_vmflag(sv, "nr"))
		e->flags |= MAP_NORESERVE;
	if (has_vmflag(sv, "ht"))
		return error("dump %d: VMA %lx-%lx is hugetlb: not supported", pid, sv->start, sv->end);
	e->madv = vma_madv(sv);
	e->has_madv = e->madv != 0;

	if (!strcmp(sv->path, "[vsyscall]")) {
		e->flags |= MAP_ANONYMOUS;
		e->status = VMA_AREA_VSYSCALL | VMA_ANON_PRIVATE;
		return 0;
	}
	if (anon) {
		e->flags |= MAP_ANONYMOUS;
		e->status = VMA_AREA_REGULAR | VMA_ANON_PRIVATE;
		if (!strcmp(sv->path, "[heap]"))
			e->status |= VMA_AREA_HEAP;
		else if (!strcmp(sv->path, "[vdso]"))
			e->status |= VMA_AREA_VDSO;
		else if (!strcmp(sv->path, "[vvar]") || !strcmp(sv->path, "[vvar_vclock]"))
			e->status |= VMA_AREA_VVAR;
		else if (sv->path[0] && strcmp(sv->path, "[stack]") && strncmp(sv->path, "[anon:", 6))
			return error("dump %d: VMA %lx-%lx %s: this kind of mapping is not supported",
				     pid, sv->start, sv->end, sv->path);
		if (!(e->status & VMA_AREA_VVAR) && (has_vmflag(sv, "io") || has_vmflag(sv, "pf")))
			return error("dump %d: VMA %lx-%lx is an I/O or PFN mapping: not supported",
				     pid, sv->start, sv->end);
		return 0;
	}
	/* A private file mapping; the file itself through map_files, which
	 * also works when the path is not reachable from here. */
	{
		char mf[128];
		uint32_t id;

		if (strstr(sv->path, " (deleted)"))
			return error("dump %d: VMA %lx-%lx maps a deleted file %s: not supported",
				     pid, sv->start, sv->end, sv->path);
		snprintf(mf, sizeof(mf), "/proc/%d/map_files/%lx-%lx", pid, sv->start, sv->end);
		if (files_special(files, mf, sv->path, &id))
			return -1;
		e->shmid = id;
		e->pgoff = sv->pgoff;
		e->status = VMA_AREA_REGULAR | VMA_FILE_PRIVATE;
		e->has_fdflags = 1;
		e->fdflags = O_RDONLY;
	}
	return 0;
}

/* The pfn of the shared zero page, 0 when pagemap hides pfns. */
static uint64_t zero_page_pfn(void)
{
	volatile char *p;
	uint64_t pme = 0;
	int fd;

	p = mmap(NULL, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	(void)p[0];
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (pread(fd, &pme, sizeof(pme), (unsigned long)p / PAGE_SIZE * 8) != sizeof(pme))
			pme = 0;
		close(fd);
	}
	munmap((void *)p, PAGE_SIZE);
	return (pme & PME_PRESENT) ? pme & PME_PFN_MASK : 0;
}

static void pagemap_add(struct dump_mm *m, size_t *cap, unsigned long addr, uint32_t flags)
{
	PagemapEntry *last = m->nr_pagemap ? m->pagemap[m->nr_pagemap - 1] : NULL;

	if (last && last->flags == flags && last->vaddr + last->nr_pages * PAGE_SIZE == addr) {
		last->nr_pages++;
		return;
	}
	if (m->nr_pagemap == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		m->pagemap = realloc(m->pagemap, *cap * sizeof(*m->pagemap));
		if (!m->pagemap)
			die(EXIT_FAIL, "out of memory");
	}
	last = dump_zalloc(sizeof(*last));
	pagemap_entry__init(last);
	last->vaddr = addr;
	last->has_flags = 1;
	last->flags = flags;
	last->has_nr_pages = 1;
	last->nr_pages = 1;
	m->pagemap[m->nr_pagemap++] = last;
}

/* CRIU's should_dump_page() and vma_entry_can_be_lazy(). */
static int scan_pages(pid_t pid, int pm_fd, const VmaEntry *e, uint64_t zero_pfn,
		      struct dump_mm *m, size_t *cap)
{
	size_t nr = (e->end - e->start) / PAGE_SIZE, i;
	uint32_t flags = PE_PRESENT;
	uint64_t *pme;

	if (!(e->status & VMA_AREA_REGULAR) || (e->status & (VMA_AREA_VVAR | VMA_FILE_SHARED)))
		return 0;
	if ((e->flags & MAP_ANONYMOUS) && !(e->flags & MAP_LOCKED) && !(e->status & VMA_AREA_VDSO))
		flags |= PE_LAZY;
	pme = malloc(nr * sizeof(*pme));
	if (!pme)
		die(EXIT_FAIL, "out of memory");
	if (pread(pm_fd, pme, nr * sizeof(*pme), e->start / PAGE_SIZE * 8) != (ssize_t)(nr * sizeof(*pme))) {
		free(pme);
		return error("dump %d: cannot read the pagemap of %lx-%lx: %s", pid,
			     (unsigned long)e->start, (unsigned long)e->end, strerror(errno));
	}
	for (i = 0; i < nr; i++) {
		int dump;

		if (e->status & VMA_AREA_VDSO)
			dump = 1;
		else if ((e->status & VMA_FILE_PRIVATE) && (pme[i] & PME_FILE))
			dump = 0;
		else
			dump = (pme[i] & (PME_PRESENT | PME_SWAP)) &&
			       !(zero_pfn && (pme[i] & PME_PRESENT) && (pme[i] & PME_PFN_MASK) == zero_pfn);
		if (dump)
			pagemap_add(m, cap, e->start + i * PAGE_SIZE, flags);
	}
	free(pme);
	return 0;
}

static int add_vmas(struct seized *s, struct dump_files *files, MmEntry *mm)
{
	struct smaps_vma *sv = NULL;
	size_t nr, i;
	int ret = 0;

	if (parse_smaps(s->pid, &sv, &nr))
		return -1;
	mm->vmas = dump_zalloc(nr * sizeof(*mm->vmas));
	for (i = 0; i < nr && !ret; i++) {
		VmaEntry *e, *prev = mm->n_vmas ? mm->vmas[mm->n_vmas - 1] : NULL;

		/* 6.18 splits the vvar area in two; CRIU 4.2 keeps one VMA. */
		if (!strcmp(sv[i].path, "[vvar_vclock]") && prev && (prev->status & VMA_AREA_VVAR) &&
		    prev->end == sv[i].start) {
			prev->end = sv[i].end;
			continue;
		}
		e = dump_zalloc(sizeof(*e));
		vma_entry__init(e);
		ret = vma_fill(s->pid, files, &sv[i], e);
		mm->vmas[mm->n_vmas++] = e;
	}
	free(sv);
	return ret;
}

static int read_auxv(pid_t pid, MmEntry *mm)
{
	char path[64];
	uint64_t auxv[512];
	ssize_t n;
	size_t i;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error("dump %d: cannot open %s: %s", pid, path, strerror(errno));
	n = read(fd, auxv, sizeof(auxv));
	close(fd);
	if (n < 0)
		return error("dump %d: cannot read %s: %s", pid, path, strerror(errno));
	for (i = 0; i + 1 < (size_t)n / 8; i += 2)
		if (!auxv[i])
			break;
	mm->n_mm_saved_auxv = i + 2 <= (size_t)n / 8 ? i + 2 : (size_t)n / 8;
	mm->mm_saved_auxv = dump_zalloc(mm->n_mm_saved_auxv * 8);
	memcpy(mm->mm_saved_auxv, auxv, mm->n_mm_saved_auxv * 8);
	return 0;
}

/* stat_fields[k] is field k (1-based) of /proc/PID/stat. */
int mm_collect(struct seized *s, struct dump_files *files, const char *stat_fields[],
	       unsigned long brk, int dumpable, int thp_disabled, struct dump_mm *out)
{
	MmEntry *mm = dump_zalloc(sizeof(*mm));
	char exe[64];
	uint64_t zero_pfn;
	size_t cap = 0, i;
	int pm_fd, ret = 0;

	mm_entry__init(mm);
	out->mm = mm;
#define F(k) strtoull(stat_fields[k], NULL, 10)
	mm->mm_start_code = F(26);
	mm->mm_end_code = F(27);
	mm->mm_start_stack = F(28);
	mm->mm_start_data = F(45);
	mm->mm_end_data = F(46);
	mm->mm_start_brk = F(47);
	mm->mm_arg_start = F(48);
	mm->mm_arg_end = F(49);
	mm->mm_env_start = F(50);
	mm->mm_env_end = F(51);
#undef F
	mm->mm_brk = brk;
	mm->has_dumpable = 1;
	mm->dumpable = dumpable;
	mm->has_thp_disabled = 1;
	mm->thp_disabled = thp_disabled;
	if (read_auxv(s->pid, mm))
		return -1;
	/* CRIU dumps the mappings' files first, then the exe (the same file
	 * for a static binary, so one id). */
	if (add_vmas(s, files, mm))
		return -1;
	snprintf(exe, sizeof(exe), "/proc/%d/exe", s->pid);
	{
		char name[512];
		ssize_t n = readlink(exe, name, sizeof(name) - 1);

		if (n < 0)
			return error("dump %d: cannot read %s: %s", s->pid, exe, strerror(errno));
		name[n] = 0;
		if (files_special(files, exe, name, &mm->exe_file_id))
			return -1;
	}

	snprintf(exe, sizeof(exe), "/proc/%d/pagemap", s->pid);
	pm_fd = open(exe, O_RDONLY | O_CLOEXEC);
	if (pm_fd < 0)
		return error("dump %d: cannot open %s: %s", s->pid, exe, strerror(errno));
	zero_pfn = zero_page_pfn();
	for (i = 0; i < mm->n_vmas && !ret; i++)
		ret = scan_pages(s->pid, pm_fd, mm->vmas[i], zero_pfn, out, &cap);
	close(pm_fd);
	return ret;
}

/* pagemap-PID.img's entries were made above; here their bytes go into
 * pages-N.img, back to back in entry order. */
int mm_write_pages(struct seized *s, struct dump_mm *m, const char *dir, uint32_t pages_id)
{
	char path[512];
	static char buf[1 << 20];
	size_t i;
	int fd;

	snprintf(path, sizeof(path), "%s/pages-%u.img", dir, pages_id);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return error("dump %d: cannot create %s: %s", s->pid, path, strerror(errno));
	for (i = 0; i < m->nr_pagemap; i++) {
		unsigned long addr = m->pagemap[i]->vaddr;
		size_t left = m->pagemap[i]->nr_pages * PAGE_SIZE;

		while (left) {
			size_t n = left < sizeof(buf) ? left : sizeof(buf);

			if (task_mem_read(s, addr, buf, n)) {
				close(fd);
				return -1;
			}
			if (write(fd, buf, n) != (ssize_t)n) {
				close(fd);
				return error("dump %d: cannot write %s: %s", s->pid, path, strerror(errno));
			}
			addr += n;
			left -= n;
		}
	}
	if (close(fd))
		return error("dump %d: cannot write %s: %s", s->pid, path, strerror(errno));
	return 0;
}
