/* ui.h: the subcommands and the user interfaces (command line, later the
 * line interface and the TUI), wired to the stepper and the engine by
 * ui/cmd_restore.c. */
#ifndef CRSTEP_UI_H
#define CRSTEP_UI_H

#include "stepper.h"

/* Each returns an exit code from log.h. */
int cmd_show(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_watch(int argc, char **argv);

/* The front ends the stepper drives (stepper.h): the line interface
 * (ui/cli.c) and the full-screen UI (ui/tui.c). */
extern const struct stepper_frontend cli_frontend;
extern const struct stepper_frontend tui_frontend;

#endif
