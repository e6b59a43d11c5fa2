/* replay.c: the main of a fuzz target built without libFuzzer (gcc, ASan
 * with SANITIZE=1), for `make check`: every input of
 * tests/fuzz/regress/TARGET (the crashes fuzzing found, each fixed) and of
 * build/fuzz/seeds/TARGET (the seed corpus, from the fixtures and the
 * stepper scripts) runs once through LLVMFuzzerTestOneInput.  TAP: one
 * line per regression input, one per seed directory.  With arguments,
 * those files or directories instead.
 *
 * The target's own output goes to /dev/null; a sanitizer's report and, on
 * a crash or a hang (SIGALRM), the name of the input go to the real stderr. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FUZZ_TARGET
#error "build with -DFUZZ_TARGET=\"name\""
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
void __sanitizer_set_report_fd(void *fd) __attribute__((weak));
void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

#define REPLAY_TIMEOUT 20	/* seconds; one input takes milliseconds */

static FILE *report, *tap;
static const char *current;	/* the input being replayed */
static int report_fd;

static void name_input(void)
{
	static const char what[] = "replay: crashed on ";

	if (!current)
		return;
	if (write(report_fd, what, sizeof(what) - 1) < 0 || write(report_fd, current, strlen(current)) < 0 ||
	    write(report_fd, "\n", 1) < 0)
		return;
}

static void on_crash(int sig)
{
	name_input();
	raise(sig);	/* SA_RESETHAND: the default action now */
}

static void catch_crashes(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGALRM };
	struct sigaction sa = { .sa_handler = on_crash, .sa_flags = SA_RESETHAND | SA_NODEFER };
	size_t i;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	if (__sanitizer_set_death_callback)
		__sanitizer_set_death_callback(name_input);
}
static int tap_n, tap_failed;

/* TAP on the real stdout: the target sends its own stdout to /dev/null. */
__attribute__((format(printf, 2, 3))) static void ok(int cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(tap, "%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vfprintf(tap, fmt, ap);
	va_end(ap);
	fputc('\n', tap);
	tap_failed += !cond;
}

static int replay_file(const char *path)
{
	struct stat st;
	unsigned char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st)) {
		fprintf(report, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	buf = malloc(st.st_size ? st.st_size : 1);
	if (!buf || read(fd, buf, st.st_size) != st.st_size) {
		fprintf(report, "%s: cannot read\n", path);
		return -1;
	}
	close(fd);
	current = path;
	alarm(REPLAY_TIMEOUT);	/* a hang fails the test instead of stalling make check */
	LLVMFuzzerTestOneInput(buf, st.st_size);
	alarm(0);
	current = NULL;
	free(buf);
	return 0;
}

/* Every regular file of dir, in name order; one TAP line each, or one for
 * the whole directory. */
static void replay_dir(const char *dir, int line_per_file)
{
	struct dirent **names;
	char path[4096];
	int n, i, done = 0, bad = 0;

	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		if (errno == ENOENT && !line_per_file)
			ok(1, "# SKIP %s: no such directory", dir);
		return;
	}
	for (i = 0; i < n; i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		free(names[i]);
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		if (replay_file(path))
			bad++;
		done++;
		if (line_per_file)
			ok(1, "%s: %s replays without a crash", FUZZ_TARGET, path);
	}
	free(names);
	if (!line_per_file)
		ok(done > 0 && !bad, "%s: %d seed inputs of %s replay without a crash", FUZZ_TARGET, done, dir);
}

static int done(void)
{
	fprintf(tap, "1..%d\n", tap_n);
	fflush(tap);
	return tap_failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	int i, fd = dup(2), out = dup(1), null = open("/dev/null", O_WRONLY);

	report = fdopen(fd, "w");
	tap = fdopen(out, "w");
	if (fd < 0 || out < 0 || null < 0 || !report || !tap || dup2(null, 2) < 0)
		return 99;
	setvbuf(report, NULL, _IONBF, 0);
	setvbuf(tap, NULL, _IOLBF, 0);
	report_fd = fd;
	if (__sanitizer_set_report_fd)
		__sanitizer_set_report_fd((void *)(long)fd);
	catch_crashes();
	LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		for (i = 1; i < argc; i++) {
			struct stat st;

			if (!stat(argv[i], &st) && S_ISDIR(st.st_mode))
				replay_dir(argv[i], 1);
			else
				ok(!replay_file(argv[i]), "%s: %s replays without a crash", FUZZ_TARGET, argv[i]);
		}
		return done();
	}
	replay_dir("tests/fuzz/regress/" FUZZ_TARGET, 1);
	replay_dir("build/fuzz/seeds/" FUZZ_TARGET, 0);
	return done();
}
