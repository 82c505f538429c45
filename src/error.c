/* error.c - thread-local error messages. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

/* Names and values in messages come from untrusted files: replace control
 * characters (newlines above all) so a message stays one printable line. */
static void make_one_line(char *text) {
    for (unsigned char *p = (unsigned char *)text; *p; p++)
        if (*p < 0x20 || *p == 0x7f) *p = '?';
}

const char *gptoss_last_error(void) { return last_error; }

gptoss_status gptoss_fail(gptoss_status status, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(last_error, sizeof last_error, format, args);
    va_end(args);
    make_one_line(last_error);
    return status;
}

gptoss_status gptoss_fail_context(gptoss_status status, const char *format, ...) {
    char previous[sizeof last_error];
    memcpy(previous, last_error, sizeof previous);
    char prefix[512];
    va_list args;
    va_start(args, format);
    vsnprintf(prefix, sizeof prefix, format, args);
    va_end(args);
    /* a message too long for the buffer is cut short, which is fine */
    if (snprintf(last_error, sizeof last_error, "%s: %s", prefix, previous) >= (int)sizeof last_error)
        last_error[sizeof last_error - 1] = '\0';
    make_one_line(last_error);
    return status;
}

const char *gptoss_status_string(gptoss_status status) {
    switch (status) {
    case GPTOSS_OK: return "ok";
    case GPTOSS_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case GPTOSS_ERROR_IO: return "I/O error";
    case GPTOSS_ERROR_FORMAT: return "format error";
    case GPTOSS_ERROR_CONFIG: return "config error";
    case GPTOSS_ERROR_TENSOR: return "tensor error";
    case GPTOSS_ERROR_OUT_OF_MEMORY: return "out of memory";
    case GPTOSS_ERROR_TOKEN_RANGE: return "token out of range";
    case GPTOSS_ERROR_CONTEXT_OVERFLOW: return "context overflow";
    case GPTOSS_ERROR_UNSUPPORTED: return "unsupported";
    }
    return "unknown status";
}
