#include "log.h"
#include "ui.h"

int cmd_restore(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	error("restore: not implemented yet");
	return EXIT_FAIL;
}
