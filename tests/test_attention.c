/* test_attention.c - sink softmax, window boundary, cache/batch key sources. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"

/* A cache of one layer with `slots` positions of one KV head of size d. */
static kv_cache make_cache(uint32_t slots, uint32_t d, kv_layer *layer) {
    layer->slots = slots;
    layer->keys = calloc((size_t)slots * d, sizeof(float));
    layer->values = calloc((size_t)slots * d, sizeof(float));
    return (kv_cache){.layers = layer, .n_layers = 1, .kv_dim = d};
}

Test(attention, sink_joins_denominator_only) {
    enum { D = 4, N = 3 };
    kv_layer layer;
    kv_cache cache = make_cache(8, D, &layer);
    float keys[N][D] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}};
    float values[N][D] = {{1, 2, 3, 4}, {-1, 0, 1, 0}, {5, 5, 5, 5}};
    float q[D] = {0.5f, -1.0f, 2.0f, 0.0f}, scores[N], out[D];
    const float scale = 0.5f, sink = 0.7f;
    attn_source src = {&cache, &layer, &keys[0][0], &values[0][0], 0};
    gptoss_attend_head(q, &src, 0, D, 0, N - 1, sink, scale, scores, out);
    double s[N], denominator = exp(sink);
    for (int j = 0; j < N; j++) {
        s[j] = exp(scale * q[j]); /* key j is the unit vector e_j */
        denominator += s[j];
    }
    for (int i = 0; i < D; i++) {
        double want = 0;
        for (int j = 0; j < N; j++) want += s[j] / denominator * values[j][i];
        cr_expect_float_eq(out[i], (float)want, 1e-6, "out[%d] = %g, want %g", i, out[i], want);
    }
    free(layer.keys);
    free(layer.values);
}

/* All scores equal and the sink 0: each of n keys gets 1/(n+1), so the
 * weights sum to n/(n+1) < 1. */
Test(attention, weights_sum_below_one) {
    enum { D = 2, N = 5 };
    kv_layer layer;
    kv_cache cache = make_cache(8, D, &layer);
    float keys[N * D] = {0}, values[N * D], q[D] = {0}, scores[N], out[D];
    for (int i = 0; i < N * D; i++) values[i] = 1.0f;
    attn_source src = {&cache, &layer, keys, values, 0};
    gptoss_attend_head(q, &src, 0, D, 0, N - 1, 0.0f, 1.0f, scores, out);
    cr_expect_float_eq(out[0], (float)N / (N + 1), 1e-6);
    free(layer.keys);
    free(layer.values);
}

Test(attention, window_boundary) {
    const uint32_t W = 8;
    cr_expect_eq(gptoss_attention_first(0, 1, W), 0);
    cr_expect_eq(gptoss_attention_first(W - 1, 1, W), 0, "W keys: 0..W-1");
    cr_expect_eq(gptoss_attention_first(W, 1, W), 1, "key p-W is out, p-W+1 is in");
    cr_expect_eq(gptoss_attention_first(100, 1, W), 93);
    cr_expect_eq(gptoss_attention_first(100, 0, W), 0, "full layers see everything");
    cr_expect_eq(gptoss_attention_first(5, 1, 1), 5, "a window of one sees only itself");
}

/* Keys before batch_start come from the ring (slot = pos mod slots), later
 * ones from the batch rows; both give the same answer as one flat array. */
Test(attention, ring_and_batch_sources_agree) {
    enum { D = 3, SLOTS = 4, TOTAL = 10, START = 7 };
    float flat_k[TOTAL][D], flat_v[TOTAL][D];
    for (int p = 0; p < TOTAL; p++)
        for (int i = 0; i < D; i++) {
            flat_k[p][i] = sinf((float)(p * D + i));
            flat_v[p][i] = cosf((float)(p * D + i));
        }
    kv_layer layer;
    kv_cache cache = make_cache(SLOTS, D, &layer);
    for (int p = 0; p < START; p++) { /* later positions overwrite earlier slots */
        memcpy(kv_key(&cache, &layer, (uint32_t)p), flat_k[p], sizeof flat_k[p]);
        memcpy(kv_value(&cache, &layer, (uint32_t)p), flat_v[p], sizeof flat_v[p]);
    }
    float q[D] = {0.3f, -0.2f, 0.9f}, scores[TOTAL], split[D], whole[D];
    const uint32_t pos = TOTAL - 1, first = gptoss_attention_first(pos, 1, SLOTS + 1);
    attn_source ring = {&cache, &layer, &flat_k[START][0], &flat_v[START][0], START};
    gptoss_attend_head(q, &ring, 0, D, first, pos, -0.5f, 0.6f, scores, split);
    kv_layer flat_layer = {&flat_k[0][0], &flat_v[0][0], TOTAL};
    kv_cache flat_cache = {.layers = &flat_layer, .n_layers = 1, .kv_dim = D};
    attn_source flat = {&flat_cache, &flat_layer, NULL, NULL, TOTAL};
    gptoss_attend_head(q, &flat, 0, D, first, pos, -0.5f, 0.6f, scores, whole);
    for (int i = 0; i < D; i++) cr_expect(split[i] == whole[i], "out[%d]: %g vs %g", i, split[i], whole[i]);
    free(layer.keys);
    free(layer.values);
}

/* kv_head selects the slice of each row that belongs to the head's group. */
Test(attention, kv_head_selects_slice) {
    enum { D = 2 };
    kv_layer layer;
    kv_cache cache = make_cache(4, 2 * D, &layer);
    float keys[2 * D] = {0, 0, 0, 0}, values[2 * D] = {1, 2, 3, 4}, q[D] = {0, 0}, scores[1], out[D];
    attn_source src = {&cache, &layer, keys, values, 0};
    gptoss_attend_head(q, &src, 1, D, 0, 0, -INFINITY, 1.0f, scores, out);
    cr_expect(out[0] == 3.0f && out[1] == 4.0f, "got %g %g", out[0], out[1]);
    free(layer.keys);
    free(layer.values);
}
