/* dump-priv.h: what the parts of the dumper (dump/dump*.c) share. */
#ifndef CRSTEP_DUMP_PRIV_H
#define CRSTEP_DUMP_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/user.h>

#include "image.h"

/* Allocation for image messages: zeroed, never NULL (dies), all released
 * at once by dump_free_all() when the images are written. */
void *dump_zalloc(size_t size);
char *dump_strdup(const char *s);
void dump_free_all(void);

/* The task seized by ptrace (dump-ptrace.c). */
struct seized {
	pid_t pid;
	struct user_regs_struct regs;	/* as stopped, before any injection */
	uint8_t xstate[16384];
	size_t xstate_len;
	unsigned long syscall_ip;	/* a `syscall` instruction in the task */
	unsigned long scratch;		/* the injected page, 0 when none */
	int scratch_owner;		/* mapped by this thread: unmapped by it */
	int mem_fd;			/* /proc/PID/mem */
	int in_syscall_stop;		/* stopped at a syscall exit, not in get_signal */
	int stray_signal;		/* a signal that arrived during the dump */
};

int seize_task(struct seized *s);
/* Run syscall NR in the task; its return value (or -errno) in *ret. */
int inject_syscall(struct seized *s, long nr, unsigned long a1, unsigned long a2,
		   unsigned long a3, unsigned long a4, unsigned long a5, unsigned long a6,
		   long *ret);
int inject_prepare(struct seized *s);	/* find `syscall`, map the scratch page */
/* Another thread of the same process injects through the leader's page. */
void inject_share(struct seized *s, const struct seized *leader);
int inject_finish(struct seized *s);	/* unmap it (owner), back to the first stop */
/* Put the original registers back and detach, or SIGKILL and reap the
 * trace when kill is set. */
int release_task(struct seized *s, int kill_it);
/* After SIGKILL: wait until the traced thread is gone. */
void reap_traced(struct seized *s);
int task_mem_read(struct seized *s, unsigned long addr, void *buf, size_t len);

/* /proc helpers (dump.c). */
int proc_read(pid_t pid, const char *name, char *buf, size_t size);	/* bytes, NUL-terminated */
int status_field(const char *status, const char *key, char *out, size_t size);

/* One id space for files.img, shared by VMA files, the exe, fds, cwd/root. */
struct dump_files {
	uint32_t next_id;
	size_t nr, cap;
	FileEntry **entries;
	/* "special" files (exe, mappings, cwd, root) dedup by (dev, ino) */
	size_t nr_special;
	struct special { dev_t dev; ino_t ino; uint32_t id; } *special;
	/* every fd dumped so far, in any process: kcmp(KCMP_FILE) finds the
	 * same open file description across processes */
	size_t nr_fdref;
	struct fdref { pid_t pid; int fd; uint32_t id; } *fdref;
	/* pipes-data.img: one entry per pipe inode, its bytes after it */
	size_t nr_pipes;
	struct pipe_data { PipeDataEntry *pde; uint8_t *data; } *pipes;
	uint32_t next_pages_id;		/* pages-N.img, numbered in dump order */
	/* shared memory objects (memfd, MAP_SHARED|MAP_ANONYMOUS), by inode */
	size_t nr_memfd;
	struct memfd_obj {
		unsigned long ino;
		uint32_t file_id, pages_id;
		MemfdInodeEntry *inode;
		int fd;			/* through map_files, read at write time */
	} *memfd;
};

/* dump-files.c */
int files_special(struct dump_files *f, const char *path_for_stat, const char *name,
		  uint32_t *id);
/* cwd and root: a new entry every time, as CRIU's dump_task_fs(). */
int files_fs(struct dump_files *f, const char *path_for_stat, const char *name, uint32_t *id);
int files_write_pipes(struct dump_files *f, const char *dir);
/* A shared memory object mapped by a VMA (map_file: /proc/PID/map_files/..);
 * one MEMFD file entry per object, its pages dumped once. */
int files_memfd(struct dump_files *f, const char *map_file, const char *name, uint32_t *id);
/* memfd.img, pagemap-shmem-<ino>.img and their pages-N.img. */
int files_write_memfd(struct dump_files *f, const char *dir);
void files_close_memfd(struct dump_files *f);
int files_dump_fds(struct dump_files *f, pid_t pid, FdinfoEntry ***fdinfo, size_t *nr);

/* dump-mem.c */
struct dump_mm {
	MmEntry *mm;
	size_t nr_pagemap;
	PagemapEntry **pagemap;
};
int mm_collect(struct seized *s, struct dump_files *f, const char *stat_fields[],
	       unsigned long brk, int dumpable, int thp_disabled, struct dump_mm *out);
int mm_write_pages(struct seized *s, struct dump_mm *m, const char *dir, uint32_t pages_id);

/* Write one image: magic words then each message length-prefixed. */
int img_write(const char *dir, const char *file, const char *type,
	      ProtobufCMessage **msgs, size_t nr);
/* The same with raw bytes after each entry (pipes-data.img). */
int img_write_extra(const char *dir, const char *file, const char *type, ProtobufCMessage **msgs,
		    size_t nr, uint8_t *const *extra, const size_t *extra_len);

#endif
