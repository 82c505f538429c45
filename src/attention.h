/* attention.h - scaled dot-product attention with a learned sink per head. */
#ifndef GPTOSS_ATTENTION_H
#define GPTOSS_ATTENTION_H

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

/* Output of one query head over keys first..last (inclusive):
 *   a_j = exp(s_j) / (sum_j exp(s_j) + exp(sink)),  s_j = scale * q.k_j
 *   out = sum_j a_j v_j
 * kv_head selects the head_dim slice of each key/value row. scores needs
 * last - first + 1 floats. */
void gptoss_attend_head(const float *q, const attn_source *src, uint32_t kv_head, uint32_t head_dim,
                        uint32_t first, uint32_t last, float sink, float scale, float *scores, float *out);

/* First key position a query at position may see: 0 on full layers,
 * position - window + 1 (clamped at 0) on sliding ones. */
static inline uint32_t gptoss_attention_first(uint32_t position, int sliding, uint32_t window) {
    return sliding && position + 1 > window ? position + 1 - window : 0;
}

#endif
