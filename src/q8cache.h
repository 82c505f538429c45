/* q8cache.h - int8 copies of the dense BF16 matrices for the fast precision,
 * built once into a cache file and mapped on later loads. */
#ifndef GPTOSS_Q8CACHE_H
#define GPTOSS_Q8CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "gptoss.h"

typedef struct q8_cache {
    const uint8_t *map;
    uint64_t size;
    int in_memory;        /* 1: the cache folder was not writable */
    char path[4200];
} q8_cache;

struct gptoss_model;

/* Finds (or builds, with a progress bar if options->show_progress) the cache
 * of the model's attention and unembedding matrices and points the layers'
 * q8 views at it. Matrices whose rows are not whole 32-blocks stay BF16. */
gptoss_status gptoss_q8cache_attach(struct gptoss_model *model, const gptoss_model_options *options);

void gptoss_q8cache_release(q8_cache *cache);

/* The cache folder: override, else $XDG_CACHE_HOME/gptoss, else ~/.cache/gptoss. */
void gptoss_q8cache_dir(const char *override, char *out, size_t size);

#endif
