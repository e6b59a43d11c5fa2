/* log.c: one line per message on stderr, "crstep: " then the text. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int log_level = 1;
static char log_prefix[64];
static int log_out = 2;

static char *capture;
static size_t capture_len;

void log_capture(char *buf, size_t len)
{
	capture = buf;
	capture_len = len;
}

int log_fd(void)
{
	return log_out;
}

void log_set_fd(int fd)
{
	log_out = fd;
}

void log_set_prefix(const char *prefix)
{
	snprintf(log_prefix, sizeof(log_prefix), "%s", prefix ? prefix : "");
}

static void vlog(const char *kind, const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	n = snprintf(line, sizeof(line), "crstep: %s%s", log_prefix, kind);
	if (n < 0 || n >= (int)sizeof(line))
		n = 0;
	if (capture && !*kind) {
		if (!capture[0])
			vsnprintf(capture, capture_len, fmt, ap);
		return;
	}
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	/* One write per line so that lines of several processes do not mix. */
	n = strlen(line);
	if (n < (int)sizeof(line) - 1) {
		line[n++] = '\n';
		line[n] = 0;
	}
	if (write(log_out, line, n) < 0)
		return;
}

int error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
	return -1;
}

void warn(const char *fmt, ...)
{
	va_list ap;

	if (log_level < 1)
		return;
	va_start(ap, fmt);
	vlog("warning: ", fmt, ap);
	va_end(ap);
}

void info(const char *fmt, ...)
{
	va_list ap;

	if (log_level < 2)
		return;
	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void debug(const char *fmt, ...)
{
	va_list ap;

	if (log_level < 3)
		return;
	va_start(ap, fmt);
	vlog("debug: ", fmt, ap);
	va_end(ap);
}

void die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
	exit(code);
}
