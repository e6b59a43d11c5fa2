/* log.h: crstep's one logging header.  Levels follow -v: 0 errors only,
 * 1 warnings, 2 info, 3 debug.  error() prints and returns -1 so that callers
 * can write `return error("...")`; die() never returns. */
#ifndef CRSTEP_LOG_H
#define CRSTEP_LOG_H

#include <stddef.h>

extern int log_level;

/* Exit codes shared by every subcommand (DESIGN.md). */
enum {
	EXIT_OK = 0,
	EXIT_EXPECT = 1,	/* an expect failed */
	EXIT_FAIL = 2,		/* restore failed, images invalid or unreadable */
	EXIT_HANG = 3,		/* watchdog or --timeout */
	EXIT_USAGE = 4,		/* bad flag, bad command, script error */
};

__attribute__((format(printf, 1, 2))) int error(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void warn(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void info(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void debug(const char *fmt, ...);
__attribute__((format(printf, 2, 3), noreturn)) void die(int code, const char *fmt, ...);

/* The fd messages go to (stderr by default); a restored task moves it out
 * of the way of the fds it restores. */
int log_fd(void);
void log_set_fd(int fd);

/* Keep the first error's text in buf (len bytes) instead of printing it:
 * a restored task reports through the shared area, and the controller
 * prints one line for it.  NULL prints again. */
void log_capture(char *buf, size_t len);

/* Prefix every later message with this text (e.g. "task 30100: "). */
void log_set_prefix(const char *prefix);

#endif
