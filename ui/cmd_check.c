/* cmd_check.c: `crstep check DIR`: read every image a restore reads and run
 * the consistency check, without restoring anything. */
#include <stdio.h>
#include <string.h>

#include "image.h"
#include "log.h"
#include "ui.h"

int cmd_check(int argc, char **argv)
{
	struct img_set *set;
	int ret;

	if (argc != 2 || argv[1][0] == '-') {
		if (argc == 2 && !strcmp(argv[1], "--help")) {
			printf("usage: crstep check DIR\n");
			return EXIT_OK;
		}
		error("usage: crstep check DIR");
		return EXIT_USAGE;
	}
	set = imgset_read(argv[1]);
	if (!set)
		return EXIT_FAIL;
	ret = imgset_check(set);
	if (!ret)
		printf("%s: %zu task(s), images consistent\n", argv[1], set->nr_tasks);
	imgset_free(set);
	return ret ? EXIT_FAIL : EXIT_OK;
}
