/* fuzz_image.c: the image reader (images/image.c) over one image file's
 * bytes.  Input: a type byte, then the file (see fuzz_image_name()).
 * Whatever it accepts must hold together: every entry decoded, every
 * extra payload inside the file. */
#include "fuzz.h"

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
	struct image *img;
	size_t i;

	if (!size)
		return 0;
	fuzz_image_name(data[0], name, sizeof(name));
	fuzz_write(name, data + 1, size - 1, path, sizeof(path));
	img = image_read(path, NULL, 1);
	if (!img)
		return 0;
	if (img->size != size - 1)
		abort();
	for (i = 0; i < img->nr; i++) {
		const struct img_entry *e = &img->entries[i];

		if (!e->msg)
			abort();
		if (e->extra_len && (e->extra < img->data || e->extra_len > img->size ||
				     (size_t)(e->extra - img->data) > img->size - e->extra_len))
			abort();
	}
	image_free(img);
	return 0;
}
