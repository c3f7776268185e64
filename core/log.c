/*
 * Messages of the core (see log.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

int log_verbosity;

static void vsay(const char *prefix, const char *fmt, va_list ap)
{
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	fflush(stderr);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("Error: ", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("Warning: ", fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_verbosity < 1)
		return;
	va_start(ap, fmt);
	vsay("py-spy: ", fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_verbosity < 2)
		return;
	va_start(ap, fmt);
	vsay("py-spy debug: ", fmt, ap);
	va_end(ap);
}

void log_status(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("py-spy> ", fmt, ap);
	va_end(ap);
}
