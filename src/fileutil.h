/* fileutil.h - small file helpers shared by the loaders. */
#ifndef GPTOSS_FILEUTIL_H
#define GPTOSS_FILEUTIL_H

#include <stddef.h>

#include "gptoss.h"

/* Reads a whole file into a NUL-terminated malloc'd buffer (*out_text), failing
 * with a message naming path if it is missing, unreadable or over max_bytes. */
gptoss_status gptoss_read_text_file(const char *path, size_t max_bytes, char **out_text);

/* 1 if path names an existing regular file. */
int gptoss_file_exists(const char *path);

#endif
