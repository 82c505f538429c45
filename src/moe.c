/* moe.c - route each token to its top-k experts and run them grouped by expert. */
#include "moe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "linear.h"
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

void gptoss_swiglu(const float *gate_up, uint32_t n_out, float limit, float *out) {
    const float alpha = 1.702f;
    for (uint32_t i = 0; i < n_out; i++) {
        float gate = fminf(gate_up[2 * i], limit);
        float up = fminf(fmaxf(gate_up[2 * i + 1], -limit), limit);
        float glu = gate / (1.0f + expf(-alpha * gate));
        out[i] = glu * (up + 1.0f);
    }
}

gptoss_status moe_scratch_init(moe_scratch *s, const gptoss_config *c, uint32_t max_tokens) {
    memset(s, 0, sizeof *s);
    const size_t n = max_tokens, H = c->hidden_size, I = c->intermediate_size;
    const size_t E = c->num_local_experts, k = c->num_experts_per_tok;
    s->router_logits = malloc(n * E * sizeof(float));
    s->choice = malloc(n * k * sizeof(uint32_t));
    s->choice_weight = malloc(n * k * sizeof(float));
    s->order = malloc(n * k * sizeof(uint32_t));
    s->gathered = malloc(n * H * sizeof(float));
    s->gate_up = malloc(n * 2 * I * sizeof(float));
    s->activated = malloc(n * I * sizeof(float));
    s->expert_out = malloc(n * H * sizeof(float));
    s->accum = malloc(n * H * sizeof(float));
    if (!s->router_logits || !s->choice || !s->choice_weight || !s->order || !s->gathered || !s->gate_up ||
        !s->activated || !s->expert_out || !s->accum) {
        moe_scratch_free(s);
        return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory for MoE scratch");
    }
    return GPTOSS_OK;
}

void moe_scratch_free(moe_scratch *s) {
    free(s->router_logits);
    free(s->choice);
    free(s->choice_weight);
    free(s->order);
    free(s->gathered);
    free(s->gate_up);
    free(s->activated);
    free(s->expert_out);
    free(s->accum);
    memset(s, 0, sizeof *s);
}

void gptoss_moe_forward(const gptoss_model *m, const gptoss_layer *layer, const float *h, uint32_t n, float *x,
                        moe_scratch *s) {
    const gptoss_config *c = &m->config;
    const size_t H = c->hidden_size, I = c->intermediate_size, E = c->num_local_experts;
    const uint32_t k = c->num_experts_per_tok;

    gptoss_linear_bf16(m->kernels, layer->router_w, layer->router_b, E, H, h, n, s->router_logits);
    for (uint32_t t = 0; t < n; t++)
        gptoss_router_topk(s->router_logits + t * E, (uint32_t)E, k, s->choice + t * k, s->choice_weight + t * k);
    memset(s->accum, 0, (size_t)n * H * sizeof(float));

    /* Experts in ascending id; within one, its tokens in batch order. The
     * order of additions per token is then the same for any batch size. */
    const size_t gu_block_bytes = 2 * I * (H / 32) * 16, gu_scale_bytes = 2 * I * (H / 32);
    const size_t dn_block_bytes = H * (I / 32) * 16, dn_scale_bytes = H * (I / 32);
    for (uint32_t e = 0; e < E; e++) {
        uint32_t count = 0;
        for (uint32_t slot = 0; slot < n * k; slot++)
            if (s->choice[slot] == e) s->order[count++] = slot;
        if (!count) continue;
        for (uint32_t i = 0; i < count; i++)
            memcpy(s->gathered + i * H, h + (size_t)(s->order[i] / k) * H, H * sizeof(float));
        gptoss_linear_mxfp4(m->kernels, layer->gate_up_blocks + e * gu_block_bytes,
                            layer->gate_up_scales + e * gu_scale_bytes, layer->gate_up_bias + e * 2 * I, 2 * I, H,
                            s->gathered, count, s->gate_up);
        for (uint32_t i = 0; i < count; i++)
            gptoss_swiglu(s->gate_up + i * 2 * I, (uint32_t)I, c->swiglu_limit, s->activated + i * I);
        gptoss_linear_mxfp4(m->kernels, layer->down_blocks + e * dn_block_bytes,
                            layer->down_scales + e * dn_scale_bytes, layer->down_bias + e * H, H, I, s->activated,
                            count, s->expert_out);
        for (uint32_t i = 0; i < count; i++) {
            const uint32_t slot = s->order[i];
            const float weight = s->choice_weight[slot];
            float *acc = s->accum + (size_t)(slot / k) * H;
            const float *y = s->expert_out + (size_t)i * H;
            for (size_t j = 0; j < H; j++) acc[j] += weight * y[j];
        }
    }
    for (size_t j = 0; j < (size_t)n * H; j++) x[j] += s->accum[j];
}
