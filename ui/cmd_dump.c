/* cmd_dump.c: `crstep dump -t PID -D DIR [--leave-running]`: write CRIU
 * images of a live process tree (see dump/dump.c for what it handles). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump.h"
#include "log.h"
#include "ui.h"

static const char dump_usage[] =
	"usage: crstep dump -t PID -D DIR [--leave-running]\n"
	"  -t, --tree PID        the root of the process tree to dump\n"
	"  -D, --images-dir DIR  where to write the images (created if missing)\n"
	"  -R, --leave-running   leave the tasks running (default: kill them, as criu dump)\n";

int cmd_dump(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tree", required_argument, NULL, 't' },
		{ "images-dir", required_argument, NULL, 'D' },
		{ "leave-running", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dump_opts o = { 0 };
	char *end;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+t:D:Rh", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			o.pid = strtol(optarg, &end, 10);
			if (!*optarg || *end || o.pid <= 0) {
				error("dump: bad pid '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'D':
			o.dir = optarg;
			break;
		case 'R':
			o.leave_running = 1;
			break;
		case 'h':
			fputs(dump_usage, stdout);
			return EXIT_OK;
		default:
			error("dump: unknown or incomplete option '%s'\n%s", argv[optind - 1], dump_usage);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || !o.pid || !o.dir) {
		error("dump: need -t PID and -D DIR\n%s", dump_usage);
		return EXIT_USAGE;
	}
	return dump_task(&o) ? EXIT_FAIL : EXIT_OK;
}
