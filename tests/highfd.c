/* highfd: a workload (tests/integration/fds.sh) that holds fds where crstep
 * used to keep its own while restoring (1000: the exe, 1001: the log) and
 * one well above them.  Started by tests/launch.c with cwd DIR, which holds
 * data.txt and log.txt.  Then it only sleeps: nothing moves a position.
 *   1000  data.txt, O_RDONLY, pos 5
 *   1001  log.txt, O_WRONLY|O_APPEND, FD_CLOEXEC
 *   1002  the read end of a pipe holding "x"
 *   1003  its write end, O_NONBLOCK
 *   4000  a dup of 1000 (one open file description) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

static int place(int fd, int want, int flags)
{
	if (fd < 0 || dup3(fd, want, flags) != want)
		_exit(1);
	return close(fd);
}

int main(void)
{
	struct timespec ts = { 1, 0 };
	int p[2];

	place(open("data.txt", O_RDONLY), 1000, 0);
	if (lseek(1000, 5, SEEK_SET) != 5)
		return 1;
	place(open("log.txt", O_WRONLY | O_APPEND), 1001, O_CLOEXEC);
	if (pipe(p))
		return 1;
	place(p[0], 1002, 0);
	place(p[1], 1003, 0);
	if (fcntl(1003, F_SETFL, O_NONBLOCK) || write(1003, "x", 1) != 1 || dup2(1000, 4000) != 4000)
		return 1;
	for (;;)
		while (nanosleep(&ts, NULL) && errno == EINTR)
			;
}
