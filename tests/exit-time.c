/* exit-time FILE CMD...: run CMD and write into FILE the CLOCK_MONOTONIC
 * time (ns) at which CMD was seen to exit, taken right after waitpid()
 * returns; exit with CMD's status.  The tests compare it with
 * the t_ns of a --trace event (the controller's CLOCK_MONOTONIC too). */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec ts;
	int status;
	pid_t pid;

	FILE *f;

	if (argc < 3) {
		fprintf(stderr, "usage: %s FILE CMD...\n", argv[0]);
		return 4;
	}
	pid = fork();
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return 127;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	f = fopen(argv[1], "w");
	if (!f || fprintf(f, "%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec) < 0 || fclose(f))
		return 127;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
