/* kvcache.h - per-layer key/value storage.
 *
 * Full-attention layers keep every position of the context; sliding layers
 * keep only the last W positions in a ring buffer (slot = position mod W).
 * Each KV head's rows are contiguous (head-major): attention reads one head
 * over many positions, which is then one sequential stream rather than a
 * head_dim slice of every kv_dim row. */
#ifndef GPTOSS_KVCACHE_H
#define GPTOSS_KVCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "gptoss.h"

typedef struct kv_layer {
    float *keys;     /* [nkv][slots][head_dim], RoPE applied */
    float *values;   /* [nkv][slots][head_dim] */
    uint32_t slots;  /* positions held: W for sliding layers, the context for full ones */
} kv_layer;

typedef struct kv_cache {
    kv_layer *layers;
    uint32_t n_layers;
    uint32_t kv_dim;  /* nkv * head_dim */
    uint32_t head_dim;
} kv_cache;

/* Allocates caches for a context of capacity tokens; sliding layers keep
 * window + slack positions (at most capacity). */
gptoss_status kv_cache_init(kv_cache *cache, const gptoss_config *config, uint32_t capacity, uint32_t slack);
void kv_cache_free(kv_cache *cache);

/* Bytes the cache allocates. */
uint64_t kv_cache_bytes(const kv_cache *cache);

/* KV head kv_head's key (value) row of position. */
static inline float *kv_key(const kv_cache *cache, const kv_layer *layer, uint32_t position, uint32_t kv_head) {
    return layer->keys + ((size_t)kv_head * layer->slots + position % layer->slots) * cache->head_dim;
}

static inline float *kv_value(const kv_cache *cache, const kv_layer *layer, uint32_t position, uint32_t kv_head) {
    return layer->values + ((size_t)kv_head * layer->slots + position % layer->slots) * cache->head_dim;
}

#endif
