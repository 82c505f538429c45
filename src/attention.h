/* attention.h - scaled dot-product attention with a learned sink per head. */
#ifndef GPTOSS_ATTENTION_H
#define GPTOSS_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#include "kvcache.h"

/* Where the keys of a layer live during one batch: positions before
 * batch_start in the cache, positions from batch_start on in the batch's own
 * rows (so a batch never overwrites ring slots its own queries still need). */
typedef struct attn_source {
    const kv_cache *cache;
    const kv_layer *layer;
    const float *batch_keys;    /* [n_batch][kv_dim] */
    const float *batch_values;  /* [n_batch][kv_dim] */
    uint32_t batch_start;
} attn_source;

/* Keys per tile of the online softmax; query tokens sharing each tile. */
enum { GPTOSS_ATTN_TILE = 64, GPTOSS_ATTN_BLOCK = 16 };

/* Floats of scratch gptoss_attend_group and gptoss_attend_block need for
 * `group` heads of head_dim. */
static inline uint32_t gptoss_attend_scratch(uint32_t group, uint32_t head_dim) {
    return group * (GPTOSS_ATTN_TILE + 2 * GPTOSS_ATTN_BLOCK) + 2 * head_dim * GPTOSS_ATTN_TILE;
}

/* Attention of the `group` query heads that share KV head kv_head, over keys
 * first..last (inclusive). For each head h (q + h*head_dim, sinks[h]):
 *   a_j = exp(s_j) / (sum_j exp(s_j) + exp(sink)),  s_j = scale * q.k_j
 *   out_h = sum_j a_j v_j
 * Keys are visited in tiles with an online softmax whose running maximum and
 * sum start from the sink, so memory stays bounded at any context length and
 * each key and value row is loaded once for the whole group. */
void gptoss_attend_group(const float *q, uint32_t group, const attn_source *src, uint32_t kv_head,
                         uint32_t head_dim, uint32_t first, uint32_t last, const float *sinks, float scale,
                         float *scratch, float *out);

/* gptoss_attend_group for the n query tokens at positions pos0..pos0+n-1
 * (token t's heads at q + t*q_stride, its output at out + t*out_stride), each
 * over the keys its position sees (gptoss_attention_first .. itself). Up to
 * GPTOSS_ATTN_BLOCK tokens share every key tile: in a prefill, each key and
 * value row is read from the cache once per block instead of once per token. */
void gptoss_attend_block(const float *q, size_t q_stride, uint32_t n, uint32_t pos0, int sliding, uint32_t window,
                         uint32_t group, const attn_source *src, uint32_t kv_head, uint32_t head_dim,
                         const float *sinks, float scale, float *scratch, float *out, size_t out_stride);

/* First key position a query at position may see: 0 on full layers,
 * position - window + 1 (clamped at 0) on sliding ones. */
static inline uint32_t gptoss_attention_first(uint32_t position, int sliding, uint32_t window) {
    return sliding && position + 1 > window ? position + 1 - window : 0;
}

#endif
