/* moe.c - route each token to its top-k experts and run them grouped by expert. */
#include "moe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "numeric.h"

void gptoss_router_topk(const float *logits, uint32_t n_experts, uint32_t k, uint32_t *experts, float *weights) {
    /* k is small: repeated selection keeps ties on the lowest index (strict >). */
    for (uint32_t j = 0; j < k; j++) {
        uint32_t best = UINT32_MAX;
        for (uint32_t e = 0; e < n_experts; e++) {
            int taken = 0;
            for (uint32_t i = 0; i < j; i++) taken |= experts[i] == e;
            if (!taken && (best == UINT32_MAX || logits[e] > logits[best])) best = e;
        }
        experts[j] = best;
    }
    const float max = logits[experts[0]];
    float sum = 0.0f;
    for (uint32_t j = 0; j < k; j++) {
        weights[j] = expf(logits[experts[j]] - max);
        sum += weights[j];
    }
    for (uint32_t j = 0; j < k; j++) weights[j] /= sum;
}

VECTOR_CLONES void gptoss_swiglu(const float *gate_up, uint32_t n_out, float limit, float *out) {
    const float alpha = 1.702f;
#pragma omp simd
    for (uint32_t i = 0; i < n_out; i++) {
        /* clamps as the reference's (NaN aside), written so they vectorise */
        const float gate = gate_up[2 * i] < limit ? gate_up[2 * i] : limit;
        const float up_in = gate_up[2 * i + 1], up = up_in < -limit ? -limit : up_in > limit ? limit : up_in;
        /* gate is unbounded below: past e^88 the sigmoid is 0 to float precision anyway */
        const float z = -alpha * gate;
        out[i] = gate / (1.0f + exp_poly(z < 88.0f ? z : 88.0f)) * (up + 1.0f);
    }
}

gptoss_status moe_scratch_init(moe_scratch *s, const gptoss_config *c, uint32_t max_tokens, int fast) {
    memset(s, 0, sizeof *s);
    const size_t n = max_tokens, H = c->hidden_size, I = c->intermediate_size;
    const size_t E = c->num_local_experts, k = c->num_experts_per_tok, S = n * k;
    s->router_logits = malloc(n * E * sizeof(float));
    s->choice = malloc(S * sizeof(uint32_t));
    s->choice_weight = malloc(S * sizeof(float));
    s->slot_token = malloc(S * sizeof(uint32_t));
    s->token_slots = malloc(S * sizeof(uint32_t));
    s->token_weights = malloc(S * sizeof(float));
    s->expert_start = malloc((E + 1) * sizeof(uint32_t));
    s->active = malloc(E * sizeof(uint32_t));
    s->gate_up_views = malloc(E * sizeof *s->gate_up_views);
    s->down_views = malloc(E * sizeof *s->down_views);
    s->gate_up = malloc(S * 2 * I * sizeof(float));
    s->activated = malloc(S * I * sizeof(float));
    s->expert_out = malloc(S * H * sizeof(float));
    int ok = s->router_logits && s->choice && s->choice_weight && s->slot_token && s->token_slots &&
             s->token_weights && s->expert_start && s->active && s->gate_up_views && s->down_views && s->gate_up && s->activated && s->expert_out;
    if (fast) {
        ok = ok && q8_buffer_init(&s->gathered_q8, S * H) == GPTOSS_OK &&
             q8_buffer_init(&s->activated_q8, S * I) == GPTOSS_OK;
    } else {
        s->gathered = malloc(S * H * sizeof(float));
        ok = ok && s->gathered;
    }
    if (!ok) {
        moe_scratch_free(s);
        return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory for MoE scratch");
    }
    return GPTOSS_OK;
}

void moe_scratch_free(moe_scratch *s) {
    free(s->router_logits);
    free(s->choice);
    free(s->choice_weight);
    free(s->slot_token);
    free(s->token_slots);
    free(s->token_weights);
    free(s->expert_start);
    free(s->active);
    free(s->gate_up_views);
    free(s->down_views);
    free(s->gathered);
    free(s->gate_up);
    free(s->activated);
    free(s->expert_out);
    q8_buffer_free(&s->gathered_q8);
    q8_buffer_free(&s->activated_q8);
    memset(s, 0, sizeof *s);
}

/* Counting sort of the (token, expert) choices by expert: slots of expert e
 * are [expert_start[e], expert_start[e+1]), tokens ascending within. Each
 * token also learns its k slots in ascending expert order. */
static void group_by_expert(moe_scratch *s, uint32_t n, uint32_t k, uint32_t E) {
    uint32_t *start = s->expert_start;
    memset(start, 0, (E + 1) * sizeof *start);
    for (uint32_t i = 0; i < n * k; i++) start[s->choice[i] + 1]++;
    for (uint32_t e = 0; e < E; e++) start[e + 1] += start[e];
    for (uint32_t t = 0; t < n; t++)
        for (uint32_t j = 0; j < k; j++) {
            const uint32_t e = s->choice[t * k + j];
            const uint32_t slot = start[e]++; /* start[e] now runs ahead; restored below */
            s->slot_token[slot] = t;
            s->token_slots[t * k + j] = slot;
            s->token_weights[t * k + j] = s->choice_weight[t * k + j];
        }
    for (uint32_t e = E; e > 0; e--) start[e] = start[e - 1];
    start[0] = 0;
    for (uint32_t t = 0; t < n; t++) { /* insertion sort of k (slot, weight) pairs */
        uint32_t *slots = s->token_slots + t * k;
        float *weights = s->token_weights + t * k;
        for (uint32_t a = 1; a < k; a++)
            for (uint32_t b = a; b > 0 && slots[b - 1] > slots[b]; b--) {
                const uint32_t slot = slots[b];
                const float weight = weights[b];
                slots[b] = slots[b - 1], weights[b] = weights[b - 1];
                slots[b - 1] = slot, weights[b - 1] = weight;
            }
    }
}

static uint32_t expert_tokens(const moe_scratch *s, uint32_t e) { return s->expert_start[e + 1] - s->expert_start[e]; }

/* One expert matmul over its slots, for rows [r0, r0 + count) of the matrix. */
static void run_expert_rows(const gptoss_kernels *k, const expert_matrix *w, size_t r0, size_t count,
                            const float *x, const gptoss_q8_acts *xq, size_t n_slots, float *y) {
    const size_t nb = w->cols / GPTOSS_QBLOCK;
    const uint8_t *blocks = w->blocks + r0 * nb * 16, *scales = w->scales + r0 * nb;
    if (xq) k->matmul_mxfp4_q8(blocks, scales, count, w->cols, xq, n_slots, y + r0, w->rows);
    else k->matmul_mxfp4(blocks, scales, count, w->cols, x, n_slots, y + r0, w->rows);
    for (size_t t = 0; t < n_slots; t++)
        for (size_t r = r0; r < r0 + count; r++) y[t * w->rows + r] += bf16_to_f32(w->bias[r]);
}

/* y[slots of e] = W_e x[slots of e] + b_e for every active expert; work items
 * are (expert, row block) pairs shared by all threads. x/xq hold one row per slot. */
static void run_experts(const gptoss_model *m, const moe_scratch *s, const expert_matrix *per_expert,
                        size_t rows, const float *x, const gptoss_q8_acts *xq, float *y, uint32_t n_slots) {
    const uint32_t E = m->config.num_local_experts;
    const size_t cols = per_expert[0].cols;
    uint32_t *list = s->active, n_active = 0;
    for (uint32_t e = 0; e < E; e++)
        if (s->expert_start[e + 1] > s->expert_start[e]) list[n_active++] = e;
    /* busiest experts first, so the last items handed out are short ones
     * and the threads finish together */
    for (uint32_t a = 1; a < n_active; a++)
        for (uint32_t b = a; b > 0 && expert_tokens(s, list[b]) > expert_tokens(s, list[b - 1]); b--) {
            const uint32_t e = list[b];
            list[b] = list[b - 1], list[b - 1] = e;
        }
    const size_t chunk = gptoss_rows_per_chunk(rows * n_active, n_slots / (n_active ? n_active : 1));
    const long blocks_per_expert = (long)((rows + chunk - 1) / chunk);
    const long items = (long)n_active * blocks_per_expert;
#pragma omp parallel for schedule(dynamic, 1)
    for (long i = 0; i < items; i++) {
        const uint32_t e = list[i / blocks_per_expert];
        const size_t r0 = (size_t)(i % blocks_per_expert) * chunk;
        const size_t count = rows - r0 < chunk ? rows - r0 : chunk;
        const uint32_t first = s->expert_start[e], slots = s->expert_start[e + 1] - first;
        gptoss_q8_acts part;
        if (xq) part = gptoss_q8_acts_offset(xq, first);
        run_expert_rows(m->kernels, &per_expert[e], r0, count, x ? x + (size_t)first * cols : NULL,
                        xq ? &part : NULL, slots, y + (size_t)first * rows);
    }
}

void gptoss_moe_forward(const gptoss_model *m, const gptoss_layer *layer, const float *h, const gptoss_q8_acts *hq,
                        uint32_t n, float *x, moe_scratch *s) {
    const gptoss_config *c = &m->config;
    const size_t H = c->hidden_size, I = c->intermediate_size;
    const uint32_t E = c->num_local_experts, k = c->num_experts_per_tok, S = n * k;

    gptoss_linear_bf16(m->kernels, layer->router_w, layer->router_b, E, H, h, n, s->router_logits);
#pragma omp parallel for schedule(static) if (n > 1)
    for (uint32_t t = 0; t < n; t++)
        gptoss_router_topk(s->router_logits + (size_t)t * E, E, k, s->choice + t * k, s->choice_weight + t * k);
    group_by_expert(s, n, k, E);

    /* Each slot's input row, so an expert's tokens are contiguous. */
    gptoss_q8_acts gathered_q8 = {0};
    const size_t nb = H / GPTOSS_QBLOCK;
#pragma omp parallel for schedule(static) if (S > 8)
    for (long slot = 0; slot < (long)S; slot++) {
        const size_t t = s->slot_token[slot];
        if (hq) {
            memcpy(s->gathered_q8.q + slot * H, hq->q + t * H, H);
            memcpy(s->gathered_q8.scale + slot * nb, hq->scale + t * nb, nb * sizeof(float));
            memcpy(s->gathered_q8.sum + slot * nb, hq->sum + t * nb, nb * sizeof(int32_t));
        } else {
            memcpy(s->gathered + slot * H, h + t * H, H * sizeof(float));
        }
    }
    if (hq) gathered_q8 = (gptoss_q8_acts){s->gathered_q8.q, s->gathered_q8.scale, s->gathered_q8.sum, H};

    /* Per-expert views of the stacked [E, ...] weight tensors. */
    expert_matrix *gate_up = s->gate_up_views, *down = s->down_views;
    const size_t gu_nb = H / 32, dn_nb = I / 32;
    for (uint32_t e = 0; e < E; e++) {
        gate_up[e] = (expert_matrix){layer->gate_up_blocks + (size_t)e * 2 * I * gu_nb * 16,
                                     layer->gate_up_scales + (size_t)e * 2 * I * gu_nb,
                                     layer->gate_up_bias + (size_t)e * 2 * I, 2 * I, H};
        down[e] = (expert_matrix){layer->down_blocks + (size_t)e * H * dn_nb * 16,
                                  layer->down_scales + (size_t)e * H * dn_nb, layer->down_bias + (size_t)e * H, H, I};
    }

    run_experts(m, s, gate_up, 2 * I, hq ? NULL : s->gathered, hq ? &gathered_q8 : NULL, s->gate_up, S);
#pragma omp parallel for schedule(static) if (S > 8)
    for (long slot = 0; slot < (long)S; slot++)
        gptoss_swiglu(s->gate_up + slot * 2 * I, (uint32_t)I, c->swiglu_limit, s->activated + slot * I);
    gptoss_q8_acts activated_q8;
    if (hq) activated_q8 = gptoss_quantize_rows(m->kernels, s->activated, S, I, &s->activated_q8);
    run_experts(m, s, down, H, hq ? NULL : s->activated, hq ? &activated_q8 : NULL, s->expert_out, S);

    /* x[t] += sum of its experts' outputs, ascending expert id whatever the
     * batch, so a token's result does not depend on its neighbours. */
#pragma omp parallel for schedule(static) if (n > 1)
    for (long t = 0; t < (long)n; t++) {
        float *row = x + (size_t)t * H;
        for (size_t i = 0; i < H; i++) {
            float acc = 0.0f;
            for (uint32_t j = 0; j < k; j++)
                acc += s->token_weights[t * k + j] * s->expert_out[(size_t)s->token_slots[t * k + j] * H + i];
            row[i] += acc;
        }
    }
}
