/* exit-time FILE CMD...: run CMD as a child subreaper and write into FILE
 * two lines: the CLOCK_MONOTONIC time (ns) at which CMD was seen to exit,
 * taken right after waitpid() returns, and how many processes CMD left
 * behind (its descendants, reparented to us: none may outlive a restore
 * that failed).  Those are then killed and reaped.  Exits with CMD's
 * status.  The tests compare the time with the t_ns of a --trace event
 * (the controller's CLOCK_MONOTONIC too). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Our children right now, zombies included; each is sent SIGKILL. */
static int children(int kill_them)
{
	char path[64];
	FILE *f;
	int pid, n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", getpid(), getpid());
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fscanf(f, "%d", &pid) == 1) {
		n++;
		if (kill_them)
			kill(pid, SIGKILL);
	}
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	struct timespec ts;
	int status, left;
	FILE *f;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: %s FILE CMD...\n", argv[0]);
		return 4;
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	pid = fork();
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return 127;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	left = children(0);
	f = fopen(argv[1], "w");
	if (!f || fprintf(f, "%lld\n%d\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, left) < 0 ||
	    fclose(f))
		return 127;
	/* Whatever is left goes now, so that no test leaks it. */
	while (children(1) > 0)
		while (waitpid(-1, NULL, __WALL) > 0 || errno == EINTR)
			;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
