/* test_attention.c - sink softmax, window boundary, cache/batch key sources. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"

/* One head (group of 1) through gptoss_attend_group. */
static void attend_one(const float *q, const attn_source *src, uint32_t kv_head, uint32_t d, uint32_t first,
                       uint32_t last, float sink, float scale, float *out) {
    float *scratch = malloc(gptoss_attend_scratch(1, d) * sizeof(float));
    cr_assert_not_null(scratch);
    gptoss_attend_group(q, 1, src, kv_head, d, first, last, &sink, scale, scratch, out);
    free(scratch);
}

/* A cache of one layer with `slots` positions of `heads` KV heads of size d. */
static kv_cache make_cache(uint32_t slots, uint32_t heads, uint32_t d, kv_layer *layer) {
    layer->slots = slots;
    layer->keys = calloc((size_t)slots * heads * d, sizeof(float));
    layer->values = calloc((size_t)slots * heads * d, sizeof(float));
    return (kv_cache){.layers = layer, .n_layers = 1, .kv_dim = heads * d, .head_dim = d};
}

Test(attention, sink_joins_denominator_only) {
    enum { D = 4, N = 3 };
    kv_layer layer;
    kv_cache cache = make_cache(8, 1, D, &layer);
    float keys[N][D] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}};
    float values[N][D] = {{1, 2, 3, 4}, {-1, 0, 1, 0}, {5, 5, 5, 5}};
    float q[D] = {0.5f, -1.0f, 2.0f, 0.0f}, out[D];
    const float scale = 0.5f, sink = 0.7f;
    attn_source src = {&cache, &layer, &keys[0][0], &values[0][0], 0};
    attend_one(q, &src, 0, D, 0, N - 1, sink, scale, out);
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
    kv_cache cache = make_cache(8, 1, D, &layer);
    float keys[N * D] = {0}, values[N * D], q[D] = {0}, out[D];
    for (int i = 0; i < N * D; i++) values[i] = 1.0f;
    attn_source src = {&cache, &layer, keys, values, 0};
    attend_one(q, &src, 0, D, 0, N - 1, 0.0f, 1.0f, out);
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
    kv_cache cache = make_cache(SLOTS, 1, D, &layer);
    for (int p = 0; p < START; p++) { /* later positions overwrite earlier slots */
        memcpy(kv_key(&cache, &layer, (uint32_t)p, 0), flat_k[p], sizeof flat_k[p]);
        memcpy(kv_value(&cache, &layer, (uint32_t)p, 0), flat_v[p], sizeof flat_v[p]);
    }
    float q[D] = {0.3f, -0.2f, 0.9f}, split[D], whole[D];
    const uint32_t pos = TOTAL - 1, first = gptoss_attention_first(pos, 1, SLOTS + 1);
    attn_source ring = {&cache, &layer, &flat_k[START][0], &flat_v[START][0], START};
    attend_one(q, &ring, 0, D, first, pos, -0.5f, 0.6f, split);
    kv_layer flat_layer = {&flat_k[0][0], &flat_v[0][0], TOTAL};
    kv_cache flat_cache = {.layers = &flat_layer, .n_layers = 1, .kv_dim = D, .head_dim = D};
    attn_source flat = {&flat_cache, &flat_layer, NULL, NULL, TOTAL};
    attend_one(q, &flat, 0, D, first, pos, -0.5f, 0.6f, whole);
    for (int i = 0; i < D; i++) cr_expect(split[i] == whole[i], "out[%d]: %g vs %g", i, split[i], whole[i]);
    free(layer.keys);
    free(layer.values);
}

/* In the cache each KV head's rows are its own (head-major): head 1 reads
 * what kv_value stored for head 1, over positions before the batch. */
Test(attention, kv_head_reads_its_cache_rows) {
    enum { D = 2, HEADS = 3, SLOTS = 4 };
    kv_layer layer;
    kv_cache cache = make_cache(SLOTS, HEADS, D, &layer);
    for (uint32_t p = 0; p < 2; p++)
        for (uint32_t h = 0; h < HEADS; h++)
            for (uint32_t i = 0; i < D; i++) {
                kv_key(&cache, &layer, p, h)[i] = 0.0f; /* equal scores: the output is the values' mean */
                kv_value(&cache, &layer, p, h)[i] = (float)(100 * h + 10 * p + i);
            }
    float q[D] = {0.5f, -0.25f}, out[D];
    attn_source src = {&cache, &layer, NULL, NULL, 2};
    attend_one(q, &src, 1, D, 0, 1, -INFINITY, 1.0f, out);
    cr_expect_float_eq(out[0], 105.0f, 1e-4f, "got %g", out[0]);
    cr_expect_float_eq(out[1], 106.0f, 1e-4f, "got %g", out[1]);
    free(layer.keys);
    free(layer.values);
}

/* kv_head selects the slice of each row that belongs to the head's group. */
Test(attention, kv_head_selects_slice) {
    enum { D = 2 };
    kv_layer layer;
    kv_cache cache = make_cache(4, 2, D, &layer);
    float keys[2 * D] = {0, 0, 0, 0}, values[2 * D] = {1, 2, 3, 4}, q[D] = {0, 0}, out[D];
    attn_source src = {&cache, &layer, keys, values, 0};
    attend_one(q, &src, 1, D, 0, 0, -INFINITY, 1.0f, out);
    cr_expect(out[0] == 3.0f && out[1] == 4.0f, "got %g %g", out[0], out[1]);
    free(layer.keys);
    free(layer.values);
}

/* One layer of n cached positions of one KV head of size d, filled with
 * smooth waves: keys sin(0.37 i) * key_amplitude, values cos(0.11 i). */
typedef struct wave_cache {
    float *keys, *values;
    kv_layer layer;
    kv_cache cache;
} wave_cache;

static void wave_cache_init(wave_cache *w, uint32_t n, uint32_t d, float key_amplitude) {
    w->keys = malloc((size_t)n * d * sizeof(float));
    w->values = malloc((size_t)n * d * sizeof(float));
    cr_assert(w->keys && w->values);
    for (uint32_t i = 0; i < n * d; i++) {
        w->keys[i] = sinf((float)i * 0.37f) * key_amplitude;
        w->values[i] = cosf((float)i * 0.11f);
    }
    w->layer = (kv_layer){w->keys, w->values, n};
    w->cache = (kv_cache){.layers = &w->layer, .n_layers = 1, .kv_dim = d, .head_dim = d};
}

static void wave_cache_free(wave_cache *w) { free(w->keys), free(w->values); }

/* out (GROUP heads of D) against a direct float64 softmax with the sink over
 * keys first..last of w, for every head of the group. */
static void expect_direct_softmax(const float *q, const wave_cache *w, uint32_t D, uint32_t GROUP, uint32_t first,
                                  uint32_t last, const float *sinks, float scale, const float *out) {
    double *s = malloc((last + 1) * sizeof(double));
    cr_assert_not_null(s);
    for (uint32_t h = 0; h < GROUP; h++) {
        double m = sinks[h], denominator;
        for (uint32_t j = first; j <= last; j++) {
            double dot = 0;
            for (uint32_t i = 0; i < D; i++) dot += (double)q[h * D + i] * w->keys[j * D + i];
            s[j] = dot * scale;
            if (s[j] > m) m = s[j];
        }
        denominator = exp(sinks[h] - m);
        for (uint32_t j = first; j <= last; j++) denominator += exp(s[j] - m);
        for (uint32_t i = 0; i < D; i++) {
            double want = 0;
            for (uint32_t j = first; j <= last; j++) want += exp(s[j] - m) / denominator * w->values[j * D + i];
            cr_expect_float_eq(out[h * D + i], (float)want, 1e-5, "d=%u head %u out[%u]: %g vs %g", D, h, i,
                               out[h * D + i], want);
        }
    }
    free(s);
}

/* Many keys (several tiles) and a group of heads: the online softmax equals a
 * direct float64 softmax with the sink, for every head of the group. */
Test(attention, online_softmax_matches_direct) {
    enum { D = 8, N = 300, GROUP = 3 };
    wave_cache w;
    wave_cache_init(&w, N, D, 2.0f);
    attn_source src = {&w.cache, &w.layer, NULL, NULL, N};
    float q[GROUP * D], sinks[GROUP] = {0.5f, -2.0f, 8.0f}, out[GROUP * D];
    for (int i = 0; i < GROUP * D; i++) q[i] = cosf((float)i);
    float scratch[GROUP * (GPTOSS_ATTN_TILE + 2 * GPTOSS_ATTN_BLOCK) + 2 * D * GPTOSS_ATTN_TILE];
    cr_assert_eq(sizeof scratch / sizeof(float), gptoss_attend_scratch(GROUP, D));
    const uint32_t first = 17, last = N - 2;
    gptoss_attend_group(q, GROUP, &src, 0, D, first, last, sinks, 0.7f, scratch, out);
    expect_direct_softmax(q, &w, D, GROUP, first, last, sinks, 0.7f, out);
    wave_cache_free(&w);
}

/* The same check for other head sizes and groups, over several tiles: 64
 * with 8 heads (the release's), groups that are not whole fours (the
 * vectorised path takes heads four at a time), and sizes of 1, 5 and 16
 * registers of 16 floats. With `rising`, each key also leans further towards
 * the queries than the last, so every tile raises the running maximum and
 * the output must be rescaled tile after tile. */
static void online_softmax_for(uint32_t D, uint32_t GROUP, int rising) {
    const uint32_t N = 200;
    wave_cache w;
    wave_cache_init(&w, N, D, 0.5f);
    for (uint32_t j = 0; rising && j < N; j++)
        for (uint32_t i = 0; i < D; i++) w.keys[j * D + i] += 6.0f * (float)j / N * (cosf((float)i) > 0 ? 1.0f : -1.0f);
    attn_source src = {&w.cache, &w.layer, NULL, NULL, N};
    float *q = malloc(GROUP * D * sizeof(float)), *out = malloc(GROUP * D * sizeof(float));
    float *scratch = malloc(gptoss_attend_scratch(GROUP, D) * sizeof(float)), sinks[8];
    cr_assert_leq(GROUP, 8);
    for (uint32_t i = 0; i < GROUP * D; i++) q[i] = cosf((float)i) * 0.3f;
    for (uint32_t h = 0; h < GROUP; h++) sinks[h] = (float)h - 3.0f;
    const uint32_t first = 3, last = N - 1;
    gptoss_attend_group(q, GROUP, &src, 0, D, first, last, sinks, 0.125f, scratch, out);
    expect_direct_softmax(q, &w, D, GROUP, first, last, sinks, 0.125f, out);
    wave_cache_free(&w);
    free(q), free(out), free(scratch);
}

Test(attention, online_softmax_head_dim_64) { online_softmax_for(64, 8, 0); }
Test(attention, online_softmax_head_dim_32) { online_softmax_for(32, 8, 0); }

Test(attention, online_softmax_rising_scores) {
    online_softmax_for(64, 8, 1);
    online_softmax_for(48, 5, 1);
    online_softmax_for(8, 3, 1);
}

Test(attention, online_softmax_odd_groups) {
    online_softmax_for(64, 3, 0);
    online_softmax_for(16, 5, 0);
    online_softmax_for(80, 7, 0);
    online_softmax_for(256, 2, 0);
}

/* A block of query tokens shares each key tile: it must give what each token
 * gives on its own (up to the order of float sums: the tiles start at the
 * block's first key, not the token's), on full and sliding layers, for the
 * vectorised head size and a scalar one. */
static void block_matches_tokens(uint32_t D, uint32_t GROUP, int sliding) {
    const uint32_t N = 300, WINDOW = 50, POS0 = 200, COUNT = 37;
    wave_cache w;
    wave_cache_init(&w, N, D, 0.5f);
    attn_source src = {&w.cache, &w.layer, NULL, NULL, N};
    const size_t stride = (size_t)GROUP * D;
    float *q = malloc(COUNT * stride * sizeof(float)), *block = malloc(COUNT * stride * sizeof(float));
    float *single = malloc(stride * sizeof(float)), *scratch = malloc(gptoss_attend_scratch(GROUP, D) * sizeof(float));
    float sinks[8];
    cr_assert_leq(GROUP, 8);
    for (uint32_t i = 0; i < COUNT * stride; i++) q[i] = cosf((float)i * 0.7f) * 0.4f;
    for (uint32_t h = 0; h < GROUP; h++) sinks[h] = (float)h * 0.5f - 1.0f;
    gptoss_attend_block(q, stride, COUNT, POS0, sliding, WINDOW, GROUP, &src, 0, D, sinks, 0.125f, scratch, block,
                        stride);
    for (uint32_t t = 0; t < COUNT; t++) {
        const uint32_t pos = POS0 + t;
        gptoss_attend_group(q + t * stride, GROUP, &src, 0, D, gptoss_attention_first(pos, sliding, WINDOW), pos,
                            sinks, 0.125f, scratch, single);
        for (uint32_t i = 0; i < stride; i++)
            cr_assert_float_eq(block[t * stride + i], single[i], 1e-5, "d=%u group %u sliding %d token %u [%u]: %g vs %g",
                               D, GROUP, sliding, t, i, block[t * stride + i], single[i]);
    }
    wave_cache_free(&w);
    free(q), free(block), free(single), free(scratch);
}

Test(attention, block_matches_tokens) {
    for (int sliding = 0; sliding < 2; sliding++) {
        block_matches_tokens(64, 8, sliding);
        block_matches_tokens(24, 3, sliding);
    }
}
