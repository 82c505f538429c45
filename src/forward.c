/* forward.c - the inference context and the transformer forward pass.
 *
 * One call to gptoss_context_eval runs a batch of tokens through every layer:
 *   x = embed[token]
 *   per layer:  x += attention(rmsnorm(x))    (GQA, YaRN RoPE, sinks, window)
 *               x += moe(rmsnorm(x))          (top-k experts, clamped SwiGLU)
 *   logits = lm_head . rmsnorm(x)             (only the positions asked for)
 * Long inputs are processed in chunks of at most MAX_BATCH tokens. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "context.h"
#include "error.h"
#include "kvcache.h"
#include "linear.h"
#include "model.h"
#include "moe.h"
#include "numeric.h"
#include "rope.h"

/* The batch's rows of x quantised for the fast kernels; NULL in exact precision. */
static const gptoss_q8_acts *quantized(gptoss_context *ctx, const float *x, uint32_t n, size_t cols,
                                       gptoss_q8_acts *out) {
    if (!ctx->fast || cols % GPTOSS_QBLOCK) return NULL;
    *out = gptoss_quantize_rows(ctx->model->kernels, x, n, cols, &ctx->act_q8);
    return out;
}

static void rmsnorm(float *out, const float *x, const uint16_t *gain, size_t n, float eps) {
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += (double)x[i] * x[i];
    const float inv = 1.0f / sqrtf((float)(sum / (double)n) + eps);
    for (size_t i = 0; i < n; i++) out[i] = (x[i] * inv) * bf16_to_f32(gain[i]);
}

gptoss_status gptoss_context_create(gptoss_model *model, uint32_t n_ctx, gptoss_context **out) {
    *out = NULL;
    const gptoss_config *c = &model->config;
    if (n_ctx == 0) n_ctx = c->max_position_embeddings < 4096 ? c->max_position_embeddings : 4096;
    if (n_ctx > c->max_position_embeddings)
        return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT,
                           "context of %u tokens exceeds max_position_embeddings %u", n_ctx,
                           c->max_position_embeddings);
    gptoss_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    ctx->model = model;
    ctx->capacity = n_ctx;
    ctx->n_threads = omp_get_max_threads();
    const size_t B = MAX_BATCH, H = c->hidden_size;
    const size_t q_dim = (size_t)c->num_attention_heads * c->head_dim;
    const size_t kv_dim = (size_t)c->num_key_value_heads * c->head_dim;
    ctx->history = malloc((size_t)n_ctx * sizeof *ctx->history);
    gptoss_status s = ctx->history ? kv_cache_init(&ctx->cache, c, n_ctx, GPTOSS_SLIDING_SLACK)
                                   : gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    if (s == GPTOSS_OK) s = gptoss_rope_init(&ctx->rope, c);
    ctx->fast = model->precision == GPTOSS_PRECISION_FAST;
    if (s == GPTOSS_OK) s = moe_scratch_init(&ctx->moe, c, MAX_BATCH, ctx->fast);
    if (s == GPTOSS_OK && ctx->fast) { /* q/k/v's input in two parts: its residual, then both parts' products */
        s = q8_buffer_init(&ctx->act_q8, B * (2 * H > q_dim ? 2 * H : q_dim));
        ctx->parts = malloc(2 * B * (q_dim > H ? q_dim : H) * sizeof(float));
        if (s == GPTOSS_OK && !ctx->parts) s = gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    if (s == GPTOSS_OK) {
        ctx->x = malloc(B * H * sizeof(float));
        ctx->h = malloc(B * H * sizeof(float));
        ctx->q = malloc(B * q_dim * sizeof(float));
        ctx->k = malloc(B * kv_dim * sizeof(float));
        ctx->v = malloc(B * kv_dim * sizeof(float));
        ctx->attn = malloc(B * q_dim * sizeof(float));
        ctx->rope_table = malloc(B * c->head_dim * sizeof(float));
        const uint32_t group = c->num_attention_heads / c->num_key_value_heads;
        ctx->scratch_per_thread = gptoss_attend_scratch(group, c->head_dim) + group;
        ctx->scores = malloc((size_t)ctx->n_threads * ctx->scratch_per_thread * sizeof(float));
        if (!ctx->x || !ctx->h || !ctx->q || !ctx->k || !ctx->v || !ctx->attn || !ctx->rope_table || !ctx->scores)
            s = gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory for a %u-token context", n_ctx);
    }
    if (s != GPTOSS_OK) {
        gptoss_context_free(ctx);
        return s;
    }
    *out = ctx;
    return GPTOSS_OK;
}

void gptoss_context_free(gptoss_context *ctx) {
    if (!ctx) return;
    kv_cache_free(&ctx->cache);
    context_snapshot_free(ctx);
    free(ctx->history);
    gptoss_rope_free(&ctx->rope);
    moe_scratch_free(&ctx->moe);
    q8_buffer_free(&ctx->act_q8);
    free(ctx->x);
    free(ctx->h);
    free(ctx->q);
    free(ctx->k);
    free(ctx->v);
    free(ctx->attn);
    free(ctx->parts);
    free(ctx->rope_table);
    free(ctx->scores);
    free(ctx);
}

uint32_t gptoss_context_capacity(const gptoss_context *ctx) { return ctx->capacity; }
const gptoss_model *gptoss_context_model(const gptoss_context *ctx) { return ctx->model; }
uint32_t gptoss_context_position(const gptoss_context *ctx) { return ctx->position; }
void gptoss_context_reset(gptoss_context *ctx) {
    ctx->position = 0;
    ctx->snapshot_position = 0; /* no snapshot */
}

/* x += Wo . attention(q, k, v) + bo for the n tokens at positions pos0.. */
static void attention_block(gptoss_context *ctx, const gptoss_layer *layer, kv_layer *cache_layer, uint32_t n) {
    const gptoss_model *m = ctx->model;
    const gptoss_config *c = &m->config;
    const uint32_t H = c->hidden_size, d = c->head_dim, nq = c->num_attention_heads;
    const uint32_t nkv = c->num_key_value_heads, group = nq / nkv;
    const size_t q_dim = (size_t)nq * d, kv_dim = (size_t)nkv * d;
    const uint32_t pos0 = ctx->position;

#pragma omp parallel for schedule(static) if (n > 1) num_threads(ctx->n_threads)
    for (uint32_t t = 0; t < n; t++) rmsnorm(ctx->h + t * H, ctx->x + t * H, layer->attn_norm, H, c->rms_norm_eps);
    /* q and k become attention scores, where int8 activations cost the most
     * accuracy (README, Precision): their input goes in two int8 parts. */
    gptoss_q8_acts hq;
    const gptoss_q8_acts *h8 = NULL;
    if (ctx->fast && H % GPTOSS_QBLOCK == 0) {
        hq = gptoss_quantize_rows_two_part(m->kernels, ctx->h, n, H, ctx->parts, &ctx->act_q8);
        h8 = &hq;
    }
    gptoss_linear_dense_two_part(m->kernels, layer->wq, &layer->wq8, layer->bq, q_dim, H, ctx->h, h8, n, ctx->parts,
                                 ctx->q);
    gptoss_linear_dense_two_part(m->kernels, layer->wk, &layer->wk8, layer->bk, kv_dim, H, ctx->h, h8, n, ctx->parts,
                                 ctx->k);
    gptoss_linear_dense_two_part(m->kernels, layer->wv, &layer->wv8, layer->bv, kv_dim, H, ctx->h, h8, n, ctx->parts,
                                 ctx->v);
#pragma omp parallel for schedule(static) if (n > 1) num_threads(ctx->n_threads)
    for (uint32_t t = 0; t < n; t++) {
        const float *table = ctx->rope_table + (size_t)t * d;
        gptoss_rope_apply(&ctx->rope, table, ctx->q + t * q_dim, nq);
        gptoss_rope_apply(&ctx->rope, table, ctx->k + t * kv_dim, nkv);
    }

    /* The batch's own keys are read from ctx->k/v, so every (block of
     * tokens, KV head) item is independent and the cache is written only
     * afterwards. */
    const attn_source src = {&ctx->cache, cache_layer, ctx->k, ctx->v, pos0};
    const float scale = 1.0f / sqrtf((float)d);
    const uint32_t blocks = (n + GPTOSS_ATTN_BLOCK - 1) / GPTOSS_ATTN_BLOCK;
    const long items = (long)blocks * nkv;
#pragma omp parallel for schedule(dynamic, 1) num_threads(ctx->n_threads)
    for (long i = 0; i < items; i++) { /* a block of tokens x one KV head's group */
        const uint32_t t0 = (uint32_t)(i / nkv) * GPTOSS_ATTN_BLOCK, kv_head = (uint32_t)(i % nkv);
        const uint32_t count = n - t0 < GPTOSS_ATTN_BLOCK ? n - t0 : GPTOSS_ATTN_BLOCK;
        float *scratch = ctx->scores + (size_t)omp_get_thread_num() * ctx->scratch_per_thread;
        float *sinks = scratch + gptoss_attend_scratch(group, d);
        for (uint32_t h = 0; h < group; h++) sinks[h] = bf16_to_f32(layer->sinks[kv_head * group + h]);
        const size_t head0 = (size_t)kv_head * group * d;
        gptoss_attend_block(ctx->q + t0 * q_dim + head0, q_dim, count, pos0 + t0, layer->sliding, c->sliding_window,
                            group, &src, kv_head, d, sinks, scale, scratch, ctx->attn + t0 * q_dim + head0, q_dim);
    }
    for (uint32_t t = 0; t < n; t++) {
        for (uint32_t h = 0; h < nkv; h++) {
            memcpy(kv_key(&ctx->cache, cache_layer, pos0 + t, h), ctx->k + t * kv_dim + h * d, d * sizeof(float));
            memcpy(kv_value(&ctx->cache, cache_layer, pos0 + t, h), ctx->v + t * kv_dim + h * d, d * sizeof(float));
        }
    }

    /* Reuse h for the projected output before adding it to the residual. */
    gptoss_q8_acts aq;
    const gptoss_q8_acts *a8 = quantized(ctx, ctx->attn, n, q_dim, &aq);
    gptoss_linear_dense(m->kernels, layer->wo, &layer->wo8, layer->bo, H, q_dim, ctx->attn, a8, n, ctx->h);
#pragma omp parallel for schedule(static) if (n > 1) num_threads(ctx->n_threads)
    for (size_t j = 0; j < (size_t)n * H; j++) ctx->x[j] += ctx->h[j];
}

static void mlp_block(gptoss_context *ctx, const gptoss_layer *layer, uint32_t n) {
    const gptoss_config *c = &ctx->model->config;
    const uint32_t H = c->hidden_size;
#pragma omp parallel for schedule(static) if (n > 1) num_threads(ctx->n_threads)
    for (uint32_t t = 0; t < n; t++) rmsnorm(ctx->h + t * H, ctx->x + t * H, layer->mlp_norm, H, c->rms_norm_eps);
    gptoss_q8_acts hq;
    gptoss_moe_forward(ctx->model, layer, ctx->h, quantized(ctx, ctx->h, n, H, &hq), n, ctx->x, &ctx->moe);
}

/* Runs n <= MAX_BATCH tokens; writes logits for tokens [first_logit, n) into logits. */
static void eval_batch(gptoss_context *ctx, const uint32_t *tokens, uint32_t n, uint32_t first_logit,
                       float *logits) {
    const gptoss_model *m = ctx->model;
    const gptoss_config *c = &m->config;
    const uint32_t H = c->hidden_size;
    memmove(ctx->history + ctx->position, tokens, n * sizeof *tokens); /* may be itself (reprocessing) */
    for (uint32_t t = 0; t < n; t++) {
        const uint16_t *row = m->embed + (size_t)tokens[t] * H;
        for (uint32_t j = 0; j < H; j++) ctx->x[(size_t)t * H + j] = bf16_to_f32(row[j]);
        gptoss_rope_table(&ctx->rope, ctx->position + t, ctx->rope_table + (size_t)t * c->head_dim);
    }
    for (uint32_t l = 0; l < c->num_hidden_layers; l++) {
        attention_block(ctx, &m->layers[l], &ctx->cache.layers[l], n);
        mlp_block(ctx, &m->layers[l], n);
    }
    if (first_logit < n) {
        const uint32_t count = n - first_logit;
        for (uint32_t t = 0; t < count; t++)
            rmsnorm(ctx->h + (size_t)t * H, ctx->x + (size_t)(first_logit + t) * H, m->final_norm, H,
                    c->rms_norm_eps);
        gptoss_q8_acts hq;
        const gptoss_q8_acts *h8 = quantized(ctx, ctx->h, count, H, &hq);
        gptoss_linear_dense(m->kernels, m->unembed, &m->unembed8, NULL, c->vocab_size, H, ctx->h, h8, count, logits);
    }
    ctx->position += n;
}

gptoss_status gptoss_context_eval(gptoss_context *ctx, const uint32_t *tokens, uint32_t n_tokens,
                                  gptoss_logits_mode mode, float *logits) {
    const gptoss_config *c = &ctx->model->config;
    if (n_tokens == 0) return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT, "no tokens to evaluate");
    if (mode != GPTOSS_LOGITS_NONE && !logits)
        return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT, "logits requested but no buffer given");
    for (uint32_t i = 0; i < n_tokens; i++)
        if (tokens[i] >= c->vocab_size)
            return gptoss_fail(GPTOSS_ERROR_TOKEN_RANGE, "token id %u at index %u is out of range (vocab_size %u)",
                               tokens[i], i, c->vocab_size);
    if (n_tokens > ctx->capacity - ctx->position)
        return gptoss_fail(GPTOSS_ERROR_CONTEXT_OVERFLOW,
                           "context overflow: %u tokens held + %u new exceed the context of %u (raise --ctx)",
                           ctx->position, n_tokens, ctx->capacity);
    for (uint32_t done = 0; done < n_tokens;) {
        const uint32_t n = n_tokens - done < MAX_BATCH ? n_tokens - done : MAX_BATCH;
        const int last_chunk = done + n == n_tokens;
        uint32_t first_logit = n; /* none */
        float *out = NULL;
        if (mode == GPTOSS_LOGITS_ALL) {
            first_logit = 0;
            out = logits + (size_t)done * c->vocab_size;
        } else if (mode == GPTOSS_LOGITS_LAST && last_chunk) {
            first_logit = n - 1;
            out = logits;
        }
        eval_batch(ctx, tokens + done, n, first_logit, out);
        done += n;
    }
    return GPTOSS_OK;
}
