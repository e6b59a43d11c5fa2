/* stepper.c: placeholder until the command language lands: never active. */
#include <stdlib.h>

#include "log.h"
#include "stepper.h"

struct stepper {
	int unused;
};

struct stepper *stepper_new(const struct stepper_opts *opts)
{
	(void)opts;
	return calloc(1, sizeof(struct stepper));
}

void stepper_free(struct stepper *s)
{
	free(s);
}

enum resume_action stepper_stop(struct stepper *s, struct restore_ctx *ctx, const struct stop_event *stop)
{
	(void)s;
	(void)ctx;
	(void)stop;
	return RESUME_CONTINUE;
}

int stepper_finish(struct stepper *s)
{
	(void)s;
	return EXIT_OK;
}

int stepper_active(const struct stepper *s)
{
	(void)s;
	return 0;
}
