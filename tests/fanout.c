/* fanout [N]: a root and N-1 children (default 300: wider than any fixed
 * table of 256), each asleep in pause(); for tests/integration/fanout.sh. */
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 300, i;

	for (i = 1; i < n; i++)
		if (fork() == 0)
			break;
	for (;;)
		pause();
}
