/* check.c: consistency check of an image set (placeholder). */
#include "image.h"

int imgset_check(const struct img_set *set)
{
	(void)set;
	return 0;
}
