/* prefix.c - reuse what a context already holds for a new prompt.
 *
 * Full-attention layers keep every position, so stepping back is free. A
 * sliding layer's ring keeps window + slack positions: stepping back up to
 * the slack is free too. Further back, the ring has overwritten positions the
 * window still needs; a snapshot of the rings taken at the end of the last
 * prompt (where the next prompt of a chat usually diverges, because the
 * finished turn's reasoning is dropped) restores them, and the few tokens
 * between the snapshot and the kept prefix are recomputed. */
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "error.h"

static size_t ring_floats(const gptoss_context *ctx, const kv_layer *layer) {
    return (size_t)layer->slots * ctx->cache.kv_dim;
}

static int is_ring(const gptoss_context *ctx, uint32_t l) {
    return ctx->model->config.layer_is_sliding[l] && ctx->cache.layers[l].slots < ctx->capacity;
}

void context_snapshot_free(gptoss_context *ctx) {
    if (!ctx->snapshot_keys) return;
    for (uint32_t l = 0; l < ctx->cache.n_layers; l++) {
        free(ctx->snapshot_keys[l]);
        free(ctx->snapshot_values[l]);
    }
    free(ctx->snapshot_keys);
    free(ctx->snapshot_values);
    ctx->snapshot_keys = ctx->snapshot_values = NULL;
    ctx->snapshot_position = 0;
}

/* Copies the rings (allocated on first use: a few MB even for 120B). */
static void take_snapshot(gptoss_context *ctx) {
    const uint32_t L = ctx->cache.n_layers;
    if (!ctx->snapshot_keys) {
        ctx->snapshot_keys = calloc(L, sizeof *ctx->snapshot_keys);
        ctx->snapshot_values = calloc(L, sizeof *ctx->snapshot_values);
        if (!ctx->snapshot_keys || !ctx->snapshot_values) {
            context_snapshot_free(ctx);
            return; /* no snapshot: only costs recomputation later */
        }
        for (uint32_t l = 0; l < L; l++) {
            if (!is_ring(ctx, l)) continue;
            ctx->snapshot_keys[l] = malloc(ring_floats(ctx, &ctx->cache.layers[l]) * sizeof(float));
            ctx->snapshot_values[l] = malloc(ring_floats(ctx, &ctx->cache.layers[l]) * sizeof(float));
            if (!ctx->snapshot_keys[l] || !ctx->snapshot_values[l]) {
                context_snapshot_free(ctx);
                return;
            }
        }
    }
    for (uint32_t l = 0; l < L; l++) {
        if (!is_ring(ctx, l)) continue;
        const kv_layer *layer = &ctx->cache.layers[l];
        memcpy(ctx->snapshot_keys[l], layer->keys, ring_floats(ctx, layer) * sizeof(float));
        memcpy(ctx->snapshot_values[l], layer->values, ring_floats(ctx, layer) * sizeof(float));
    }
    ctx->snapshot_position = ctx->position;
}

static void restore_snapshot(gptoss_context *ctx) {
    for (uint32_t l = 0; l < ctx->cache.n_layers; l++) {
        if (!is_ring(ctx, l)) continue;
        kv_layer *layer = &ctx->cache.layers[l];
        memcpy(layer->keys, ctx->snapshot_keys[l], ring_floats(ctx, layer) * sizeof(float));
        memcpy(layer->values, ctx->snapshot_values[l], ring_floats(ctx, layer) * sizeof(float));
    }
    ctx->position = ctx->snapshot_position;
}

/* Whether every ring still holds the window that ends at position n_keep. */
static int rings_cover(const gptoss_context *ctx, uint32_t n_keep) {
    const uint32_t window = ctx->model->config.sliding_window;
    for (uint32_t l = 0; l < ctx->cache.n_layers; l++) {
        if (!is_ring(ctx, l)) continue;
        const uint32_t slots = ctx->cache.layers[l].slots;
        /* Position q survives while no later position reused its slot: q > position - slots. */
        if (ctx->position > slots && ctx->position - n_keep > slots - window) return 0;
    }
    return 1;
}

const uint32_t *gptoss_context_tokens(const gptoss_context *ctx) { return ctx->history; }

gptoss_status gptoss_context_truncate(gptoss_context *ctx, uint32_t n_keep, uint32_t *n_reprocessed) {
    if (n_reprocessed) *n_reprocessed = 0;
    if (n_keep > ctx->position)
        return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT, "cannot keep %u tokens: the context holds %u", n_keep,
                           ctx->position);
    if (ctx->snapshot_position > n_keep) ctx->snapshot_position = 0; /* its prefix is being dropped */
    if (rings_cover(ctx, n_keep)) {
        ctx->position = n_keep;
        return GPTOSS_OK;
    }
    if (ctx->snapshot_position > 0) restore_snapshot(ctx);
    else ctx->position = 0;
    const uint32_t from = ctx->position, redo = n_keep - from;
    if (n_reprocessed) *n_reprocessed = redo;
    if (redo == 0) return GPTOSS_OK;
    /* The history still holds these tokens; eval copies them onto themselves. */
    return gptoss_context_eval(ctx, ctx->history + from, redo, GPTOSS_LOGITS_NONE, NULL);
}

gptoss_status gptoss_context_eval_prompt(gptoss_context *ctx, const uint32_t *tokens, uint32_t n_tokens,
                                         float *logits, uint32_t *n_processed) {
    if (n_processed) *n_processed = 0;
    if (n_tokens == 0) return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT, "empty prompt");
    if (n_tokens > ctx->capacity)
        return gptoss_fail(GPTOSS_ERROR_CONTEXT_OVERFLOW, "context overflow: the prompt has %u tokens, the context holds %u (raise --ctx)",
                           n_tokens, ctx->capacity);
    uint32_t common = 0;
    while (common < ctx->position && common < n_tokens && ctx->history[common] == tokens[common]) common++;
    /* The last prompt token is always run again: its logits are the answer. */
    if (common == n_tokens) common--;
    uint32_t redone = 0;
    gptoss_status s = gptoss_context_truncate(ctx, common, &redone);
    if (s != GPTOSS_OK) return s;
    s = gptoss_context_eval(ctx, tokens + common, n_tokens - common, GPTOSS_LOGITS_LAST, logits);
    if (s != GPTOSS_OK) return s;
    if (n_processed) *n_processed = redone + (n_tokens - common);
    take_snapshot(ctx);
    return GPTOSS_OK;
}
