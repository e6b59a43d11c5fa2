/* dump.h: `crstep dump`, a small dumper that writes CRIU-format images of a
 * simple live process (one process, one thread, regular files), so that
 * restores can be proven on the machine that made the images. */
#ifndef CRSTEP_DUMP_H
#define CRSTEP_DUMP_H

#include <sys/types.h>

struct dump_opts {
	pid_t pid;		/* the process to dump */
	const char *dir;	/* the image directory, created if missing */
	int leave_running;	/* 0: SIGKILL the task after the dump, as criu does */
};

/* Dump opts->pid into opts->dir.  Returns 0, or -1 after printing one line
 * naming the task, the stage and the reason.  On failure the task is left
 * running, untraced, with its registers as they were. */
int dump_task(const struct dump_opts *opts);

#endif
