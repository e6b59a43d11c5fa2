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
#include <sys/ioctl.h>
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

static int special_add(struct dump_files *f, const char *path_for_stat, const char *name,
		       uint32_t *id, int share)
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
	for (i = 0; share && i < f->nr_special; i++)
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
	*id = fe->id;
	if (!share)
		return 0;
	f->special = realloc(f->special, (f->nr_special + 1) * sizeof(*f->special));
	if (!f->special)
		die(EXIT_FAIL, "out of memory");
	f->special[f->nr_special++] = (struct special){ st.st_dev, st.st_ino, fe->id };
	return 0;
}

int files_special(struct dump_files *f, const char *path_for_stat, const char *name, uint32_t *id)
{
	return special_add(f, path_for_stat, name, id, 1);
}

int files_fs(struct dump_files *f, const char *path_for_stat, const char *name, uint32_t *id)
{
	return special_add(f, path_for_stat, name, id, 0);
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

/* The pipe's buffered bytes, read without taking them: a reader of our
 * own on the pipe inode (an open of /proc/PID/fd/N, as of a FIFO), tee(2)
 * into a pipe of ours as large, then read that.  CRIU's dump_one_pipe_data()
 * tees the same way. */
static int pipe_data(struct dump_files *f, pid_t pid, int fd, uint32_t pipe_id)
{
	struct pipe_data *pd;
	char path[64];
	int rfd, tmp[2] = { -1, -1 }, size, bytes = 0, ret = -1;
	size_t i;

	for (i = 0; i < f->nr_pipes; i++)
		if (f->pipes[i].pde->pipe_id == pipe_id)
			return 0;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (rfd < 0)
		return error("dump %d: fd %d: cannot open the pipe for reading: %s", pid, fd, strerror(errno));
	size = fcntl(rfd, F_GETPIPE_SZ);
	if (size < 0 || ioctl(rfd, FIONREAD, &bytes) < 0) {
		error("dump %d: fd %d: cannot size the pipe: %s", pid, fd, strerror(errno));
		goto out;
	}
	f->pipes = realloc(f->pipes, (f->nr_pipes + 1) * sizeof(*f->pipes));
	if (!f->pipes)
		die(EXIT_FAIL, "out of memory");
	pd = &f->pipes[f->nr_pipes++];
	pd->pde = dump_zalloc(sizeof(*pd->pde));
	pipe_data_entry__init(pd->pde);
	pd->pde->pipe_id = pipe_id;
	pd->pde->has_size = 1;
	pd->pde->size = size;
	pd->data = dump_zalloc(bytes ? bytes : 1);
	if (bytes) {
		ssize_t n, got = 0;

		if (pipe2(tmp, O_CLOEXEC | O_NONBLOCK) || fcntl(tmp[1], F_SETPIPE_SZ, size) < size) {
			error("dump %d: fd %d: cannot make a pipe of %d bytes: %s", pid, fd, size, strerror(errno));
			goto out;
		}
		n = tee(rfd, tmp[1], bytes, SPLICE_F_NONBLOCK);
		if (n != bytes) {
			error("dump %d: fd %d: tee copied %zd of the pipe's %d bytes: %s", pid, fd, n, bytes,
			      n < 0 ? strerror(errno) : "short");
			goto out;
		}
		while (got < bytes && (n = read(tmp[0], pd->data + got, bytes - got)) > 0)
			got += n;
		if (got != bytes) {
			error("dump %d: fd %d: read %zd of the pipe's %d bytes back", pid, fd, got, bytes);
			goto out;
		}
	}
	pd->pde->bytes = bytes;
	ret = 0;
out:
	close(rfd);
	if (tmp[0] >= 0) {
		close(tmp[0]);
		close(tmp[1]);
	}
	return ret;
}

int files_write_pipes(struct dump_files *f, const char *dir)
{
	ProtobufCMessage **msgs;
	uint8_t **data;
	size_t *len, i;
	int ret;

	if (!f->nr_pipes)
		return 0;	/* CRIU leaves out an empty image */
	msgs = dump_zalloc(f->nr_pipes * sizeof(*msgs));
	data = dump_zalloc(f->nr_pipes * sizeof(*data));
	len = dump_zalloc(f->nr_pipes * sizeof(*len));
	for (i = 0; i < f->nr_pipes; i++) {
		msgs[i] = (ProtobufCMessage *)f->pipes[i].pde;
		data[i] = f->pipes[i].data;
		len[i] = f->pipes[i].pde->bytes;
	}
	ret = img_write_extra(dir, "pipes-data.img", "PIPES_DATA", msgs, f->nr_pipes, data, len);
	return ret;
}

static void fdref_add(struct dump_files *f, pid_t pid, int fd, uint32_t id)
{
	f->fdref = realloc(f->fdref, (f->nr_fdref + 1) * sizeof(*f->fdref));
	if (!f->fdref)
		die(EXIT_FAIL, "out of memory");
	f->fdref[f->nr_fdref++] = (struct fdref){ pid, fd, id };
}

static int dump_pipe_fd(struct dump_files *f, pid_t pid, int fd, const char *name, unsigned flags,
			FdinfoEntry *fi)
{
	unsigned long ino = strtoul(name + 6, NULL, 10);
	FileEntry *fe = files_add(f);
	PipeEntry *pe = dump_zalloc(sizeof(*pe));

	pipe_entry__init(pe);
	pe->fown = dump_zalloc(sizeof(*pe->fown));
	fown_entry__init(pe->fown);
	pe->id = fe->id;
	pe->pipe_id = ino;
	pe->flags = flags & ~O_CLOEXEC;
	fe->type = FD_TYPES__PIPE;
	fe->pipe = pe;
	fi->type = FD_TYPES__PIPE;
	fi->id = fe->id;
	return pipe_data(f, pid, fd, ino);
}

static int dump_one_fd(struct dump_files *f, pid_t pid, int fd, FdinfoEntry *fi)
{
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
	/* The same open file description as an fd already dumped, in this
	 * process or another: the same entry. */
	for (j = 0; j < f->nr_fdref; j++)
		if (syscall(SYS_kcmp, f->fdref[j].pid, pid, KCMP_FILE, f->fdref[j].fd, fd) == 0) {
			fi->id = f->fdref[j].id;
			if (!strncmp(name, "pipe:[", 6))
				fi->type = FD_TYPES__PIPE;
			fdref_add(f, pid, fd, fi->id);
			return 0;
		}
	if (!strncmp(name, "pipe:[", 6)) {
		if (dump_pipe_fd(f, pid, fd, name, flags, fi))
			return -1;
		fdref_add(f, pid, fd, fi->id);
		return 0;
	}
	if (name[0] != '/')
		return error("dump %d: fd %d is %s: crstep dump handles regular files, directories, pipes and /dev/null-like devices only",
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
		fi->id = fe->id;
	}
	if (ofd >= 0)
		close(ofd);
	fdref_add(f, pid, fd, fi->id);
	return 0;
}

int files_dump_fds(struct dump_files *f, pid_t pid, FdinfoEntry ***fdinfo, size_t *nr)
{
	size_t i;
	int *fds;

	if (list_fds(pid, &fds, nr))
		return -1;
	*fdinfo = dump_zalloc((*nr ? *nr : 1) * sizeof(**fdinfo));
	for (i = 0; i < *nr; i++) {
		(*fdinfo)[i] = dump_zalloc(sizeof(FdinfoEntry));
		if (dump_one_fd(f, pid, fds[i], (*fdinfo)[i])) {
			free(fds);
			return -1;
		}
	}
	free(fds);
	return 0;
}

/* ---- shared memory: CRIU 4.2's memfd way (memfd.c, shmem.c) ----------- */

int files_memfd(struct dump_files *f, const char *map_file, const char *name, uint32_t *id)
{
	struct memfd_obj *mo;
	const char *base;
	MemfdFileEntry *mf;
	FileEntry *fe;
	struct stat st;
	size_t i, len;
	int fd, seals;

	fd = open(map_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return error("dump: cannot open %s (%s): %s", map_file, name, strerror(e));
	}
	for (i = 0; i < f->nr_memfd; i++)
		if (f->memfd[i].ino == st.st_ino) {
			*id = f->memfd[i].file_id;
			close(fd);
			return 0;
		}
	f->memfd = realloc(f->memfd, (f->nr_memfd + 1) * sizeof(*f->memfd));
	if (!f->memfd)
		die(EXIT_FAIL, "out of memory");
	mo = &f->memfd[f->nr_memfd++];
	memset(mo, 0, sizeof(*mo));
	mo->ino = st.st_ino;
	mo->fd = fd;
	fe = files_add(f);
	fe->type = FD_TYPES__MEMFD;
	fe->memfd = mf = dump_zalloc(sizeof(*mf));
	memfd_file_entry__init(mf);
	mf->id = fe->id;
	mf->fown = dump_zalloc(sizeof(*mf->fown));
	fown_entry__init(mf->fown);
	mf->inode_id = f->nr_memfd;
	mo->file_id = fe->id;
	/* The pages come before the tasks' own: the first pages id. */
	mo->pages_id = ++f->next_pages_id;
	mo->inode = dump_zalloc(sizeof(*mo->inode));
	memfd_inode_entry__init(mo->inode);
	/* "/memfd:NAME (deleted)" keeps NAME; an anonymous shared area is
	 * "/dev/zero (deleted)" and keeps "/dev/zero", as CRIU. */
	base = strncmp(name, "/memfd:", 7) ? name : name + 7;
	len = strlen(base);
	if (len > 10 && !strcmp(base + len - 10, " (deleted)"))
		len -= 10;
	mo->inode->name = dump_zalloc(len + 1);
	memcpy(mo->inode->name, base, len);
	mo->inode->uid = st.st_uid;
	mo->inode->gid = st.st_gid;
	mo->inode->size = st.st_size;
	mo->inode->shmid = st.st_ino;
	seals = fcntl(fd, F_GET_SEALS);
	mo->inode->seals = seals < 0 ? F_SEAL_SEAL : seals;
	mo->inode->inode_id = f->nr_memfd;
	mo->inode->has_mode = 1;
	mo->inode->mode = st.st_mode;
	*id = fe->id;
	return 0;
}

/* The object's pages that hold data (SEEK_DATA/SEEK_HOLE: pages never
 * touched are holes), as offsets in pagemap-shmem, bytes in pages-N. */
static int memfd_pages(struct memfd_obj *mo, const char *dir)
{
	char path[512];
	PagemapHead head = PAGEMAP_HEAD__INIT;
	ProtobufCMessage **msgs = NULL;
	size_t nr = 0;
	off_t off = 0, end, size = mo->inode->size;
	static char buf[1 << 16];
	int out, ret = -1;

	snprintf(path, sizeof(path), "%s/pages-%u.img", dir, mo->pages_id);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
		return error("dump: cannot create %s: %s", path, strerror(errno));
	head.pages_id = mo->pages_id;
	msgs = realloc(msgs, sizeof(*msgs));
	msgs[nr++] = (ProtobufCMessage *)&head;
	while (off < size) {
		PagemapEntry *pe;

		off = lseek(mo->fd, off, SEEK_DATA);
		if (off < 0)
			break;		/* ENXIO: no data past off */
		end = lseek(mo->fd, off, SEEK_HOLE);
		if (end < 0 || end > size)
			end = size;
		off &= ~4095L;
		end = (end + 4095) & ~4095L;
		pe = dump_zalloc(sizeof(*pe));
		pagemap_entry__init(pe);
		pe->vaddr = off;
		pe->has_flags = 1;
		pe->flags = PE_PRESENT;
		pe->has_nr_pages = 1;
		pe->nr_pages = (end - off) / 4096;
		msgs = realloc(msgs, (nr + 1) * sizeof(*msgs));
		if (!msgs)
			die(EXIT_FAIL, "out of memory");
		msgs[nr++] = (ProtobufCMessage *)pe;
		while (off < end) {
			size_t n = end - off < (off_t)sizeof(buf) ? (size_t)(end - off) : sizeof(buf);

			if (pread(mo->fd, buf, n, off) != (ssize_t)n || write(out, buf, n) != (ssize_t)n) {
				error("dump: shared memory %lu: cannot copy %zu bytes at %#lx: %s", mo->ino, n,
				      (unsigned long)off, strerror(errno));
				goto out;
			}
			off += n;
		}
	}
	snprintf(path, sizeof(path), "pagemap-shmem-%lu.img", mo->ino);
	ret = img_write(dir, path, "PAGEMAP", msgs, nr);
out:
	free(msgs);
	if (close(out) && !ret)
		ret = error("dump: cannot write pages-%u.img: %s", mo->pages_id, strerror(errno));
	return ret;
}

int files_write_memfd(struct dump_files *f, const char *dir)
{
	ProtobufCMessage **msgs;
	size_t i;
	int ret = 0;

	if (!f->nr_memfd)
		return 0;
	msgs = dump_zalloc(f->nr_memfd * sizeof(*msgs));
	for (i = 0; i < f->nr_memfd; i++) {
		msgs[i] = (ProtobufCMessage *)f->memfd[i].inode;
		if (!ret && memfd_pages(&f->memfd[i], dir))
			ret = -1;
	}
	if (!ret)
		ret = img_write(dir, "memfd.img", "MEMFD_INODE", msgs, f->nr_memfd);
	return ret;
}

void files_close_memfd(struct dump_files *f)
{
	size_t i;

	for (i = 0; i < f->nr_memfd; i++)
		close(f->memfd[i].fd);
	free(f->memfd);
	f->memfd = NULL;
	f->nr_memfd = 0;
}
