/* fuzz_show.c: `crstep show FILE.img`, the crit-compatible JSON printer
 * (ui/show.c, ui/json.c), over one image file's bytes.  Input as
 * fuzz_image.c's: a type byte, then the file.  The JSON goes to /dev/null. */
#include "fuzz.h"
#include "ui.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[64], path[512];
	char *argv[] = { "show", path, NULL };

	if (!size)
		return 0;
	fuzz_image_name(data[0], name, sizeof(name));
	fuzz_write(name, data + 1, size - 1, path, sizeof(path));
	cmd_show(2, argv);
	return 0;
}
