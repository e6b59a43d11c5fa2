/* cmd_restore.c: `crstep restore DIR [options]`. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "protocol.h"
#include "restore.h"
#include "ui.h"

static void restore_usage(FILE *f)
{
	fprintf(f,
		"usage: crstep restore DIR [options]\n"
		"  --protocol legacy|seed|criu4|pre-restorer   who switches which stage (default criu4)\n"
		"  --pidns new|host   restore into a fresh pid namespace (default) or this one\n"
		"  --batch            run to the end, print the switch log and the result\n"
		"  --detach           leave the restored tree running, exit 0 once COMPLETE is done\n"
		"  --pidfile FILE     write the restored root's pid (as crstep sees it)\n"
		"  --trace FILE       write every barrier event as a JSON line\n"
		"  --stats            print the time spent in each stage\n"
		"  --cpu-cap fpu|none refuse (default) or accept images whose CPU state this CPU\n"
		"                     lacks; with none that state is dropped (as CRIU's --cpu-cap)\n"
		"Without --detach crstep waits for the restored root and exits with its status.\n");
}

int cmd_restore(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "protocol", required_argument, NULL, 'P' },
		{ "pidns", required_argument, NULL, 'N' },
		{ "batch", no_argument, NULL, 'b' },
		{ "detach", no_argument, NULL, 'd' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "trace", required_argument, NULL, 't' },
		{ "stats", no_argument, NULL, 's' },
		{ "cpu-cap", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct restore_opts o = { .protocol = PROTO_DEFAULT };
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "bdhs", longopts, NULL)) != -1) {
		switch (c) {
		case 'P':
			o.protocol = protocol_by_name(optarg);
			if (o.protocol < 0) {
				error("--protocol: unknown variant '%s' (legacy, seed, criu4, pre-restorer)", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'N':
			if (strcmp(optarg, "new") && strcmp(optarg, "host")) {
				error("--pidns: '%s' is neither new nor host", optarg);
				return EXIT_USAGE;
			}
			o.host_pidns = !strcmp(optarg, "host");
			break;
		case 'C':
			if (strcmp(optarg, "none") && strcmp(optarg, "fpu")) {
				error("--cpu-cap: '%s' is neither fpu nor none", optarg);
				return EXIT_USAGE;
			}
			o.cpu_cap_none = !strcmp(optarg, "none");
			break;
		case 'b': o.batch = 1; break;
		case 'd': o.detach = 1; break;
		case 'p': o.pidfile = optarg; break;
		case 't': o.trace = optarg; break;
		case 's': o.stats = 1; break;
		case 'h':
			restore_usage(stdout);
			return EXIT_OK;
		default:
			error("restore: bad option '%s' (see crstep restore --help)", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		error("usage: crstep restore DIR [options]");
		return EXIT_USAGE;
	}
	o.dir = argv[optind];
	return restore_run(&o);
}
