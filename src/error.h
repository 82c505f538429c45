/* error.h - the thread's last error message behind gptoss_last_error(). */
#ifndef GPTOSS_ERROR_H
#define GPTOSS_ERROR_H

#include "gptoss.h"

/* Records a printf-style message for gptoss_last_error() and returns status,
 * so a failure reads: return gptoss_fail(GPTOSS_ERROR_IO, "%s: ...", path); */
gptoss_status gptoss_fail(gptoss_status status, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with more context ("loading X: <message>"). */
gptoss_status gptoss_fail_context(gptoss_status status, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#endif
