/* attach-priv.h: attach's /proc helpers (proc.c), shared by attach.c and
 * report.c. */
#ifndef CRSTEP_ATTACH_PRIV_H
#define CRSTEP_ATTACH_PRIV_H

#include "attach.h"

struct map {
	unsigned long start, end, pgoff, ino;
	unsigned major, minor;
	char perms[5];
	char path[512];
};

struct syscall_line {
	long nr;		/* -1 not in a syscall, -2 running or unread */
	unsigned long args[6], sp, ip;
	char text[256];
};

#define NR_FUTEX 202
#define FUTEX_CMD_MASK 0x7f	/* without FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME */

/* futex(FUTEX_WAIT), or FUTEX_WAIT_BITSET (crstep's controller waits with
 * an absolute deadline). */
static inline int futex_wait(const struct syscall_line *sc)
{
	return sc->nr == NR_FUTEX && ((sc->args[1] & FUTEX_CMD_MASK) == 0 || (sc->args[1] & FUTEX_CMD_MASK) == 9);
}

int read_text(const char *path, char *buf, size_t len);
pid_t proc_ppid(pid_t pid);
int proc_syscall(pid_t tid, struct syscall_line *sc);
int map_of_addr(pid_t pid, unsigned long addr, struct map *out);
unsigned long addr_of_file_off(pid_t pid, unsigned major, unsigned minor, unsigned long ino, unsigned long off);
int vm_read(pid_t pid, unsigned long addr, void *buf, size_t len);
size_t proc_children(pid_t pid, pid_t *kids, size_t max);
size_t proc_threads(pid_t pid, pid_t *tids, size_t max);

#endif
