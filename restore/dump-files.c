/* dump-files.c: files.img entries and fdinfo-<files_id>.img.
 *
 * Ids follow CRIU: one counter for every file entry.  "Special" files (the
 * mappings' files, the exe, cwd, root) are deduplicated by (dev, ino), as
 * fd_id_generate_special() does; fds by their open file description, which
 * kcmp(KCMP_FILE) compares exactly.  Regular files, directories and memory
 * character devices (/dev/null...) are REG entries; anything else is
 * refused with the fd and what it is. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kcmp.h>

#include "dump-priv.h"
#include "log.h"

static FileEntry *files_add(struct dump_files *f)
{
	FileEntry *fe = dump_zalloc(sizeof(*fe));

	file_entry__init(fe);
	fe->id = ++f->next_id;
	if (f->nr == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 16;
		f->entries = realloc(f->entries, f->cap * sizeof(*f->entries));
		if (!f->entries)
			die(EXIT_FAIL, "out of memory");
	}
	f->entries[f->nr++] = fe;
	return fe;
}

/* The GNU build-id note of an ELF file as CRIU stores it (u32 words). */
static void elf_build_id(int fd, RegFileEntry *reg)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int i;

	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(ph))
		return;
	for (i = 0; i < eh.e_phnum; i++) {
		uint8_t note[1024];
		size_t off = 0, len;

		if (pread(fd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph)) != sizeof(ph))
			return;
		if (ph.p_type != PT_NOTE)
			continue;
		len = ph.p_filesz < sizeof(note) ? ph.p_filesz : sizeof(note);
		if (pread(fd, note, len, ph.p_offset) != (ssize_t)len)
			return;
		while (off + sizeof(Elf64_Nhdr) <= len) {
			Elf64_Nhdr *nh = (Elf64_Nhdr *)(note + off);
			size_t name_sz = (nh->n_namesz + 3) & ~3UL, desc_sz = (nh->n_descsz + 3) & ~3UL;
			size_t desc = off + sizeof(*nh) + name_sz;

			if (desc + desc_sz > len)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    !memcmp(note + off + sizeof(*nh), "GNU", 4) && nh->n_descsz % 4 == 0) {
				reg->n_build_id = nh->n_descsz / 4;
				reg->build_id = dump_zalloc(nh->n_descsz);
				memcpy(reg->build_id, note + desc, nh->n_descsz);
				return;
			}
			off = desc + desc_sz;
		}
	}
}

/* CRIU skips the size check for O_WRONLY|O_APPEND files (should_check_size). */
static void reg_fill(RegFileEntry *reg, FownEntry *fown, uint32_t id, const char *name,
		     uint32_t flags, uint64_t pos, const struct stat *st, int fd)
{
	reg_file_entry__init(reg);
	fown_entry__init(fown);
	reg->id = id;
	reg->flags = flags;
	reg->pos = pos;
	reg->fown = fown;
	reg->name = dump_strdup(name);
	reg->has_mode = 1;
	reg->mode = st->st_mode;
	if (S_ISREG(st->st_mode) && !((flags & O_ACCMODE) == O_WRONLY && (flags & O_APPEND))) {
		reg->has_size = 1;
		reg->size = st->st_size;
		if (fd >= 0)
			elf_build_id(fd, reg);
	}
}

static int kind_supported(const struct stat *st)
{
	/* Memory devices: /dev/null, zero, full, random, urandom. */
	return S_ISREG(st->st_mode) || S_ISDIR(st->st_mode) ||
	       (S_ISCHR(st->st_mode) && major(st->st_rdev) == 1);
}

int files_special(struct dump_files *f, const char *path_for_stat, const char *name, uint32_t *id)
{
	RegFileEntry *reg;
	FileEntry *fe;
	struct stat st;
	size_t i;
	int fd;

	fd = open(path_for_stat, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return error("dump: cannot open %s (%s): %s", path_for_stat, name, strerror(e));
	}
	for (i = 0; i < f->nr_special; i++)
		if (f->special[i].dev == st.st_dev && f->special[i].ino == st.st_ino) {
			*id = f->special[i].id;
			close(fd);
			return 0;
		}
	if (!kind_supported(&st)) {
		close(fd);
		return error("dump: %s is neither a regular file nor a directory: not supported", name);
	}
	fe = files_add(f);
	fe->type = FD_TYPES__REG;
	fe->reg = reg = dump_zalloc(sizeof(*reg));
	reg_fill(reg, dump_zalloc(sizeof(FownEntry)), fe->id, name, 0, 0, &st, fd);
	close(fd);
	f->special = realloc(f->special, (f->nr_special + 1) * sizeof(*f->special));
	if (!f->special)
		die(EXIT_FAIL, "out of memory");
	f->special[f->nr_special++] = (struct special){ st.st_dev, st.st_ino, fe->id };
	*id = fe->id;
	return 0;
}

static int fdinfo_parse(pid_t pid, int fd, unsigned *flags, unsigned long long *pos)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "fdinfo/%d", fd);
	if (proc_read(pid, path, buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "flags:");
	if (!p || sscanf(p + 6, "%o", flags) != 1)
		return error("dump %d: fd %d: no flags in /proc/%d/%s", pid, fd, pid, path);
	p = strstr(buf, "pos:");
	if (!p || sscanf(p + 4, "%llu", pos) != 1)
		return error("dump %d: fd %d: no pos in /proc/%d/%s", pid, fd, pid, path);
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static int list_fds(pid_t pid, int **fds, size_t *nr)
{
	char path[64];
	struct dirent *de;
	size_t cap = 0;
	DIR *d;

	*nr = 0;
	*fds = NULL;
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return error("dump %d: cannot list %s: %s", pid, path, strerror(errno));
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (*nr == cap) {
			cap = cap ? cap * 2 : 32;
			*fds = realloc(*fds, cap * sizeof(**fds));
			if (!*fds)
				die(EXIT_FAIL, "out of memory");
		}
		(*fds)[(*nr)++] = atoi(de->d_name);
	}
	closedir(d);
	if (*nr)
		qsort(*fds, *nr, sizeof(**fds), cmp_int);
	return 0;
}

static int dump_one_fd(struct dump_files *f, pid_t pid, const int *fds, size_t idx,
		       uint32_t *ids, FdinfoEntry *fi)
{
	int fd = fds[idx];
	char link[64], name[512];
	unsigned flags;
	unsigned long long pos;
	struct stat st;
	ssize_t n;
	size_t j;
	int ofd;

	snprintf(link, sizeof(link), "/proc/%d/fd/%d", pid, fd);
	n = readlink(link, name, sizeof(name) - 1);
	if (n < 0)
		return error("dump %d: fd %d: cannot read %s: %s", pid, fd, link, strerror(errno));
	name[n] = 0;
	if (fdinfo_parse(pid, fd, &flags, &pos))
		return -1;
	fdinfo_entry__init(fi);
	fi->fd = fd;
	fi->flags = (flags & O_CLOEXEC) ? FD_CLOEXEC : 0;
	fi->type = FD_TYPES__REG;
	/* The same open file description as an earlier fd: the same entry. */
	for (j = 0; j < idx; j++)
		if (syscall(SYS_kcmp, pid, pid, KCMP_FILE, fds[j], fd) == 0) {
			fi->id = ids[idx] = ids[j];
			return 0;
		}
	if (name[0] != '/')
		return error("dump %d: fd %d is %s: crstep dump handles regular files, directories and /dev/null-like devices only",
			     pid, fd, name);
	if (strstr(name, " (deleted)"))
		return error("dump %d: fd %d: %s: deleted files are not supported", pid, fd, name);
	ofd = open(link, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (ofd < 0 ? stat(link, &st) : fstat(ofd, &st)) {
		if (ofd >= 0)
			close(ofd);
		return error("dump %d: fd %d: cannot stat %s: %s", pid, fd, name, strerror(errno));
	}
	if (!kind_supported(&st)) {
		if (ofd >= 0)
			close(ofd);
		return error("dump %d: fd %d: %s (mode %o) is not a regular file, directory or memory device: not supported",
			     pid, fd, name, st.st_mode);
	}
	{
		FileEntry *fe = files_add(f);

		fe->type = FD_TYPES__REG;
		fe->reg = dump_zalloc(sizeof(*fe->reg));
		reg_fill(fe->reg, dump_zalloc(sizeof(FownEntry)), fe->id, name, flags & ~O_CLOEXEC,
			 pos, &st, ofd);
		fi->id = ids[idx] = fe->id;
	}
	if (ofd >= 0)
		close(ofd);
	return 0;
}

int files_dump_fds(struct dump_files *f, pid_t pid, FdinfoEntry ***fdinfo, size_t *nr)
{
	uint32_t *ids;
	size_t i;
	int *fds;

	if (list_fds(pid, &fds, nr))
		return -1;
	*fdinfo = dump_zalloc((*nr ? *nr : 1) * sizeof(**fdinfo));
	ids = calloc(*nr ? *nr : 1, sizeof(*ids));
	if (!ids)
		die(EXIT_FAIL, "out of memory");
	for (i = 0; i < *nr; i++) {
		(*fdinfo)[i] = dump_zalloc(sizeof(FdinfoEntry));
		if (dump_one_fd(f, pid, fds, i, ids, (*fdinfo)[i])) {
			free(ids);
			free(fds);
			return -1;
		}
	}
	free(ids);
	free(fds);
	return 0;
}
