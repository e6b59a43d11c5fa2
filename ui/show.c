/* show.c: `crstep show` (placeholder until the JSON printer lands). */
#include "log.h"
#include "ui.h"

int cmd_show(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return error("show: not implemented yet") ? EXIT_FAIL : EXIT_FAIL;
}
