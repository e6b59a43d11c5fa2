/* benchwl MODE [ARG]: the workloads of `make bench` (tests/bench.py), each
 * a session leader asleep once it is set up; it writes "ready" to fd 3
 * when the whole tree is there (then closes it), so the dump can start.
 *   fanout N     a root and N-1 children
 *   tree         10 processes in 3 levels: root, 3 children, 2 grandchildren each
 *   mem MIB      2 processes: MIB of private anonymous memory filled with
 *                incompressible bytes in the root (copy-on-write shared with the
 *                child until either writes), and one shared anonymous page
 *   big MIB      1 process, MIB of private anonymous incompressible memory */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void fill(unsigned char *p, size_t len)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
}

static void sleep_forever(void)
{
	for (;;)
		pause();
}

static void ready(void)
{
	if (write(3, "ready\n", 6) != 6)
		_exit(1);
	close(3);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "fanout";
	long arg = argc > 2 ? atol(argv[2]) : 100;
	int i, j;

	if (!strcmp(mode, "fanout")) {
		for (i = 1; i < arg; i++)
			if (fork() == 0) {
				close(3);
				sleep_forever();
			}
	} else if (!strcmp(mode, "tree")) {
		for (i = 0; i < 3; i++)
			if (fork() == 0) {
				close(3);
				for (j = 0; j < 2; j++)
					if (fork() == 0)
						sleep_forever();
				sleep_forever();
			}
		usleep(200000);	/* the grandchildren */
	} else if (!strcmp(mode, "mem") || !strcmp(mode, "big")) {
		size_t len = (size_t)arg << 20;
		unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		unsigned char *s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED || s == MAP_FAILED)
			return 1;
		fill(p, len);
		s[0] = 1;
		if (!strcmp(mode, "mem") && fork() == 0) {
			close(3);
			sleep_forever();
		}
	} else {
		return 2;
	}
	ready();
	sleep_forever();
}
