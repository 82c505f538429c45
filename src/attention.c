/* attention.c - attention of one query head with the sink in the denominator. */
#include "attention.h"

#include <math.h>

static inline const float *key_row(const attn_source *src, uint32_t position) {
    if (position >= src->batch_start)
        return src->batch_keys + (size_t)(position - src->batch_start) * src->cache->kv_dim;
    return kv_key(src->cache, src->layer, position);
}

static inline const float *value_row(const attn_source *src, uint32_t position) {
    if (position >= src->batch_start)
        return src->batch_values + (size_t)(position - src->batch_start) * src->cache->kv_dim;
    return kv_value(src->cache, src->layer, position);
}

void gptoss_attend_head(const float *q, const attn_source *src, uint32_t kv_head, uint32_t head_dim,
                        uint32_t first, uint32_t last, float sink, float scale, float *scores, float *out) {
    const size_t offset = (size_t)kv_head * head_dim;
    const uint32_t n = last - first + 1;
    float max = sink;
    for (uint32_t j = 0; j < n; j++) {
        const float *k = key_row(src, first + j) + offset;
        float dot = 0.0f;
        for (uint32_t i = 0; i < head_dim; i++) dot += q[i] * k[i];
        scores[j] = dot * scale;
        if (scores[j] > max) max = scores[j];
    }
    /* The sink joins the denominator only: it has no value vector. */
    float denominator = expf(sink - max);
    for (uint32_t j = 0; j < n; j++) {
        scores[j] = expf(scores[j] - max);
        denominator += scores[j];
    }
    for (uint32_t i = 0; i < head_dim; i++) out[i] = 0.0f;
    for (uint32_t j = 0; j < n; j++) {
        const float weight = scores[j] / denominator;
        const float *v = value_row(src, first + j) + offset;
        for (uint32_t i = 0; i < head_dim; i++) out[i] += weight * v[i];
    }
}
