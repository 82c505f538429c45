/* tokenizer_cache.h - the binary tokenizer cache: the loaded blob written to
 * <dir>/tokenizer-<xxh3 of tokenizer.json>.bin, so a warm load reads a few
 * megabytes instead of parsing 27 MB of JSON. Every failure to read or write
 * the cache is silent: the tokenizer then loads from JSON without it. */
#ifndef GPTOSS_TOKENIZER_CACHE_H
#define GPTOSS_TOKENIZER_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer_data.h"

/* The cache directory: dir when non-NULL, else $XDG_CACHE_HOME/gptoss, else
 * $HOME/.cache/gptoss. Returns false when none can be named. */
bool gptoss_tokenizer_cache_dir(const char *dir, char *out, size_t cap);

/* Path of the cache file for a source hash inside cache_dir. */
bool gptoss_tokenizer_cache_path(const char *cache_dir, uint64_t source_hash, char *out, size_t cap);

/* Reads and checks a cache file made from a source with this hash and size.
 * On success *blob (malloc'ed) and *data view it. */
bool gptoss_tokenizer_cache_read(const char *path, uint64_t source_hash, uint64_t source_size, void **blob,
                                 size_t *size, gptoss_tokenizer_data *data);

/* Writes blob atomically (temporary file + rename), creating the directory.
 * Returns false if that was not possible. */
bool gptoss_tokenizer_cache_write(const char *cache_dir, const char *path, const void *blob, size_t size);

#endif
