/* cmd_check.c: `crstep check [--restorable] DIR`: read every image a
 * restore reads and run the consistency check, without restoring anything;
 * with --restorable also refuse what this crstep on this machine cannot
 * restore (features not restored yet, CPU state this CPU lacks). */
#include <stdio.h>
#include <string.h>

#include "image.h"
#include "log.h"
#include "restore.h"
#include "ui.h"

int cmd_check(int argc, char **argv)
{
	struct img_set *set;
	int restorable = 0, ret;
	const char *dir;

	if (argc == 2 && !strcmp(argv[1], "--help")) {
		printf("usage: crstep check [--restorable] DIR\n");
		return EXIT_OK;
	}
	if (argc == 3 && !strcmp(argv[1], "--restorable"))
		restorable = 1;
	if (argc != 2 + restorable || argv[argc - 1][0] == '-') {
		error("usage: crstep check [--restorable] DIR");
		return EXIT_USAGE;
	}
	dir = argv[argc - 1];
	set = imgset_read(dir);
	if (!set)
		return EXIT_FAIL;
	ret = imgset_check(set);
	if (!ret && restorable)
		ret = restore_features_check(set, 0);
	if (!ret)
		printf("%s: %zu task(s), images consistent%s\n", dir, set->nr_tasks,
		       restorable ? ", restorable here" : "");
	imgset_free(set);
	return ret ? EXIT_FAIL : EXIT_OK;
}
