/* launch DIR EXE: start EXE (no arguments, empty environment) the way the
 * CRIU fixtures' launch.c does: a session leader with cwd DIR, umask 022,
 * default signal dispositions, an empty signal mask, stdin on /dev/null
 * (O_RDONLY), stdout+stderr sharing one /dev/null (O_WRONLY) and no other
 * fds.  Unlike that one it does not ask for a PID: it prints the PID it got
 * on stdout.  It stays above the workload as a child subreaper, so every
 * task of the workload's tree (orphans, zombies left by a dump that killed
 * their parent) is reaped here, and it exits once none is left.  SIGTERM or
 * SIGINT to it SIGKILLs the workload's process group (PGID = EXE's PID,
 * inherited by the whole tree) first: the scripts' cleanup path.
 *
 * launch -r STATUSFILE CMD [ARG...]: run CMD (stdio inherited) under this
 * subreaper; write CMD's exit code to STATUSFILE when it ends, then go on
 * reaping whatever CMD left (a detached restore's pid-namespace reaper and
 * its tasks) until nothing is left.  SIGTERM SIGKILLs its children, and
 * any orphan that is reparented to it afterwards. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile pid_t workload;
static volatile sig_atomic_t terminating;
static int reap_mode;

static void kill_children(void)
{
	char buf[4096], *p, *end;
	ssize_t n;
	int fd = open("/proc/thread-self/children", O_RDONLY);

	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	for (p = buf;; p = end) {
		long pid = strtol(p, &end, 10);

		if (end == p)
			break;
		kill(pid, SIGKILL);
	}
}

static void on_term(int sig)
{
	(void)sig;
	terminating = 1;
	if (reap_mode)
		kill_children();
	else if (workload > 0)
		kill(-workload, SIGKILL);
}

static int run_reaped(char **argv)
{
	pid_t pid = fork(), p;
	int status, code = -1;
	FILE *f;

	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	while ((p = waitpid(-1, &status, 0)) != -1 || errno == EINTR) {
		/* Orphans reparented to us after the SIGTERM die too. */
		if (terminating)
			kill_children();
		if (p != pid)
			continue;
		code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		f = fopen(argv[0], "w");
		if (f) {
			fprintf(f, "%d\n", code);
			fclose(f);
		}
	}
	return code < 0 ? 1 : code;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_term };
	pid_t pid, p;
	int status, rc = 0;

	reap_mode = argc >= 4 && !strcmp(argv[1], "-r");
	if (argc != 3 && !reap_mode) {
		fprintf(stderr, "usage: %s DIR EXE | -r STATUSFILE CMD [ARG...]\n", argv[0]);
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1)) {
		perror("PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (reap_mode)
		return run_reaped(argv + 2);
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
		/* Every disposition to default, glibc's reserved 32 and 33 too
		 * (its signal() refuses them, so an ignored one inherited from
		 * whoever runs the tests would end up in the images). */
		for (int s = 1; s <= 64; s++) {
			struct { unsigned long handler, flags, restorer, mask; } dfl = { 0, 0, 0, 0 };

			if (s != SIGKILL && s != SIGSTOP)
				syscall(SYS_rt_sigaction, s, &dfl, NULL, 8);
		}
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
	workload = pid;
	printf("%d\n", pid);
	fflush(stdout);
	fclose(stdout);
	/* Reap until no child is left: the workload and whatever it left. */
	while ((p = waitpid(-1, &status, 0)) != -1 || errno == EINTR)
		if (p == pid)
			rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return rc;
}
