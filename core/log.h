/*
 * Messages of the core.  Errors are one line on stderr, "Error: ...".
 * Only the core prints; modules hand their error texts to the core.
 */
#ifndef PYSPY_CORE_LOG_H
#define PYSPY_CORE_LOG_H

#include <pyspy/module.h>

/* 0: errors and warnings; 1 (-v): info; 2 (-vv): debug */
extern int log_verbosity;

void log_error(const char *fmt, ...) PYSPY_PRINTF(1, 2);
void log_warn(const char *fmt, ...) PYSPY_PRINTF(1, 2);
void log_info(const char *fmt, ...) PYSPY_PRINTF(1, 2);
void log_debug(const char *fmt, ...) PYSPY_PRINTF(1, 2);
/* A status line of py-spy itself ("Sampling process 100 times a second"),
 * always to stderr so that stdout stays clean for outputs. */
void log_status(const char *fmt, ...) PYSPY_PRINTF(1, 2);

#endif /* PYSPY_CORE_LOG_H */
