/* main.c: crstep's entry: global flags, then one subcommand. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "image.h"
#include "log.h"
#include "ui.h"

#define CRSTEP_VERSION "0.1.0"

static const struct subcommand {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
} subcommands[] = {
	{ "restore", cmd_restore, "restore DIR [options]   restore the process tree in DIR for real" },
	{ "show", cmd_show, "show FILE.img | --tree DIR   print an image as crit does" },
	{ "check", cmd_check, "check [--restorable] DIR   check a directory of images for consistency" },
	{ "attach", cmd_attach, "attach PID [--batch] [-ex CMD]...   look at a running criu restore (read-only)" },
	{ "watch", cmd_watch, "watch [--watchdog SECS] -- criu restore ARGS...   run criu, follow its barrier" },
	{ "dump", cmd_dump, "dump -t PID -D DIR       dump a simple process into CRIU-format images" },
	{ NULL, NULL, NULL },
};

static void usage(FILE *f)
{
	const struct subcommand *s;

	fprintf(f, "usage: crstep [-v...] [-q] COMMAND ...\n\n");
	for (s = subcommands; s->name; s++)
		fprintf(f, "  crstep %s\n", s->usage);
	fprintf(f, "\n  crstep --help | --version\n"
		"  crstep restore --help      the restore options\n\n"
		"exit codes: 0 success, 1 an expect failed, 2 restore failed or images invalid,\n"
		"            3 hang detected or timeout, 4 usage error; for restore, when several\n"
		"            hold: 4 first, then 3 hang > 2 restore failed > 1 expect failed > 0\n"
		"            (a script's own kill, detach or quit is no failure)\n");
}

int main(int argc, char **argv)
{
	const struct subcommand *s;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			printf("crstep %s\n"
			       "images: CRIU's format, inventory img_version %d (CRTOOLS_IMAGES_V1_1, written by\n"
			       "        CRIU 1.x to 4.x), file magics and entries of CRIU 4.2; verified on images\n"
			       "        made by CRIU 4.2\n"
			       "attach, watch: criu 4.2's task_entries\n", CRSTEP_VERSION, CRIU_IMG_VERSION);
			return EXIT_OK;
		} else if (!strncmp(argv[i], "-v", 2) && strspn(argv[i] + 1, "v") == strlen(argv[i] + 1)) {
			log_level += strlen(argv[i] + 1);
		} else if (!strcmp(argv[i], "-q")) {
			log_level = 0;
		} else {
			error("unknown option '%s' (see crstep --help)", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (i == argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (s = subcommands; s->name; s++)
		if (!strcmp(s->name, argv[i])) {
			optind = 1;
			return s->fn(argc - i, argv + i);
		}
	error("unknown command '%s' (see crstep --help)", argv[i]);
	return EXIT_USAGE;
}
