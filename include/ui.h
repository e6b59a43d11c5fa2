/* ui.h: the subcommands and the user interfaces (command line, later the
 * line interface and the TUI). */
#ifndef CRSTEP_UI_H
#define CRSTEP_UI_H

/* Each returns an exit code from log.h. */
int cmd_show(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_dump(int argc, char **argv);

#endif
