/* launch DIR EXE: start EXE (no arguments, empty environment) the way the
 * CRIU fixtures' launch.c does: a session leader with cwd DIR, umask 022,
 * default signal dispositions, an empty signal mask, stdin on /dev/null
 * (O_RDONLY), stdout+stderr sharing one /dev/null (O_WRONLY) and no other
 * fds.  Unlike that one it does not ask for a PID: it prints the PID it got
 * on stdout, then stays the parent and reaps EXE, exiting when EXE ends
 * (so a dump that kills EXE leaves nothing behind). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	pid_t pid;
	int status;

	if (argc != 3) {
		fprintf(stderr, "usage: %s DIR EXE\n", argv[0]);
		return 2;
	}
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		sigset_t none;
		char *av[] = { argv[2], NULL }, *ev[] = { NULL };

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (int s = 1; s < NSIG; s++)
			signal(s, SIG_DFL);
		umask(022);
		if (setsid() < 0 || chdir(argv[1]))
			_exit(126);
		close(0);
		close(1);
		close(2);
		if (open("/dev/null", O_RDONLY) != 0 || open("/dev/null", O_WRONLY) != 1 || dup2(1, 2) != 2)
			_exit(126);
		syscall(SYS_close_range, 3, ~0U, 0);
		execve(argv[2], av, ev);
		_exit(127);
	}
	printf("%d\n", pid);
	fflush(stdout);
	fclose(stdout);
	while (waitpid(pid, &status, 0) < 0)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
