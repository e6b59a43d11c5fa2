/* proc.c: what /proc says of a task, for attach: its maps, its syscall
 * line, its parent, its children, and reads of its memory. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "attach-priv.h"

int read_text(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	buf[0] = 0;
	if (!f)
		return -1;
	n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
	return (int)n;
}

pid_t proc_ppid(pid_t pid)
{
	char path[64], buf[512], *p;
	int ppid;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_text(path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

/* /proc/PID/syscall: "NR a1..a6 sp pc", "-1 sp pc" (not in a syscall) or
 * "running". */
int proc_syscall(pid_t tid, struct syscall_line *sc)
{
	char path[64];
	int n;

	memset(sc, 0, sizeof(*sc));
	sc->nr = -2;
	snprintf(path, sizeof(path), "/proc/%d/syscall", tid);
	if (read_text(path, sc->text, sizeof(sc->text)) < 0)
		return -1;
	sc->text[strcspn(sc->text, "\n")] = 0;
	if (!strncmp(sc->text, "running", 7))
		return 0;
	n = sscanf(sc->text, "%ld %lx %lx %lx %lx %lx %lx %lx %lx", &sc->nr, &sc->args[0], &sc->args[1],
		   &sc->args[2], &sc->args[3], &sc->args[4], &sc->args[5], &sc->sp, &sc->ip);
	if (n == 3 && sc->nr == -1) {	/* "-1 sp pc" */
		sc->ip = sc->args[1];
		sc->sp = sc->args[0];
		return 0;
	}
	return n == 9 ? 0 : -1;
}

static int parse_map(const char *line, struct map *m)
{
	int n = 0;

	memset(m, 0, sizeof(*m));
	if (sscanf(line, "%lx-%lx %4s %lx %x:%x %lu %n", &m->start, &m->end, m->perms, &m->pgoff, &m->major,
		   &m->minor, &m->ino, &n) < 7)
		return -1;
	snprintf(m->path, sizeof(m->path), "%s", line + n);
	m->path[strcspn(m->path, "\n")] = 0;
	return 0;
}

/* The mapping of pid holding addr (match NULL), or the shared mapping of
 * the file (major:minor ino) covering file offset off. */
static int find_map(pid_t pid, int (*match)(const struct map *, const void *), const void *arg,
		    struct map *out)
{
	char path[64], line[768];
	FILE *f;
	int ret = -1;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!parse_map(line, out) && match(out, arg)) {
			ret = 0;
			break;
		}
	fclose(f);
	return ret;
}

static int holds_addr(const struct map *m, const void *arg)
{
	unsigned long addr = *(const unsigned long *)arg;

	return addr >= m->start && addr < m->end;
}

int map_of_addr(pid_t pid, unsigned long addr, struct map *out)
{
	return find_map(pid, holds_addr, &addr, out);
}

struct file_off {
	unsigned major, minor;
	unsigned long ino, off;
};

static int holds_file_off(const struct map *m, const void *arg)
{
	const struct file_off *fo = arg;

	return m->perms[3] == 's' && m->major == fo->major && m->minor == fo->minor && m->ino == fo->ino &&
	       fo->off >= m->pgoff && fo->off < m->pgoff + (m->end - m->start);
}

/* The address at which pid maps offset off of the shared file; 0 if not. */
unsigned long addr_of_file_off(pid_t pid, unsigned major, unsigned minor, unsigned long ino, unsigned long off)
{
	struct file_off fo = { major, minor, ino, off };
	struct map m;

	if (find_map(pid, holds_file_off, &fo, &m))
		return 0;
	return m.start + (off - m.pgoff);
}

/* Read len bytes at addr of pid; never writes, never stops it. */
int vm_read(pid_t pid, unsigned long addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)addr, len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	return n == (ssize_t)len ? 0 : -1;
}

/* The children of every thread of pid, into kids[] (up to max). */
size_t proc_children(pid_t pid, pid_t *kids, size_t max)
{
	char path[96], buf[4096], *p, *end;
	pid_t tids[ATTACH_MAX_TASKS];
	size_t n = 0, i, nt = proc_threads(pid, tids, ATTACH_MAX_TASKS);

	for (i = 0; i < nt; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, tids[i]);
		if (read_text(path, buf, sizeof(buf)) <= 0)
			continue;
		for (p = buf; n < max; p = end) {
			long k = strtol(p, &end, 10);

			if (end == p)
				break;
			kids[n++] = (pid_t)k;
		}
	}
	return n;
}

static int cmp_pid(const void *a, const void *b)
{
	return *(const pid_t *)a - *(const pid_t *)b;
}

size_t proc_threads(pid_t pid, pid_t *tids, size_t max)
{
	char path[64];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max)
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9')
			tids[n++] = atoi(de->d_name);
	closedir(d);
	qsort(tids, n, sizeof(*tids), cmp_pid);
	return n;
}
