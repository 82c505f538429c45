/* kvcache.c - allocate the per-layer caches. */
#include "kvcache.h"

#include <stdlib.h>

#include "error.h"

gptoss_status kv_cache_init(kv_cache *cache, const gptoss_config *c, uint32_t capacity, uint32_t slack) {
    cache->n_layers = c->num_hidden_layers;
    cache->kv_dim = c->num_key_value_heads * c->head_dim;
    cache->head_dim = c->head_dim;
    cache->layers = calloc(cache->n_layers, sizeof *cache->layers);
    if (!cache->layers) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory for the KV cache");
    for (uint32_t i = 0; i < cache->n_layers; i++) {
        kv_layer *layer = &cache->layers[i];
        const uint64_t ring = (uint64_t)c->sliding_window + slack;
        layer->slots = c->layer_is_sliding[i] && ring < capacity ? (uint32_t)ring : capacity;
        size_t floats = (size_t)layer->slots * cache->kv_dim;
        layer->keys = malloc(floats * sizeof(float));
        layer->values = malloc(floats * sizeof(float));
        if (!layer->keys || !layer->values) {
            kv_cache_free(cache);
            return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory for the KV cache (%u tokens)", capacity);
        }
    }
    return GPTOSS_OK;
}

void kv_cache_free(kv_cache *cache) {
    if (!cache->layers) return;
    for (uint32_t i = 0; i < cache->n_layers; i++) {
        free(cache->layers[i].keys);
        free(cache->layers[i].values);
    }
    free(cache->layers);
    cache->layers = NULL;
}

uint64_t kv_cache_bytes(const kv_cache *cache) {
    uint64_t total = 0;
    for (uint32_t i = 0; i < cache->n_layers; i++)
        total += 2ull * cache->layers[i].slots * cache->kv_dim * sizeof(float);
    return total;
}
