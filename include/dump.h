/* dump.h: `crstep dump`, a small dumper that writes CRIU-format images of a
 * live process tree (processes, threads, zombies, regular files,
 * directories, pipes with their data, pending signals, memfd/shared
 * anonymous and shared file mappings), so that restores can be proven on
 * the machine that made the images. */
#ifndef CRSTEP_DUMP_H
#define CRSTEP_DUMP_H

#include <sys/types.h>

struct dump_opts {
	pid_t pid;		/* the root of the tree to dump */
	const char *dir;	/* the image directory, created if missing */
	int leave_running;	/* 0: SIGKILL the task after the dump, as criu does */
};

/* Dump opts->pid and its descendants into opts->dir.  Returns 0, or -1
 * after printing one line naming the task, the stage and the reason.  On
 * failure the tasks are left running, untraced, with their registers as
 * they were. */
int dump_task(const struct dump_opts *opts);

#endif
