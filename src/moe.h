/* moe.h - router and mixture-of-experts block (FORMAT.md section 7). */
#ifndef GPTOSS_MOE_H
#define GPTOSS_MOE_H

#include <stdint.h>

#include "linear.h"
#include "model.h"

/* Picks the k largest of logits[n_experts] in descending order (equal logits:
 * the lower expert index first) and their softmax weights over those k only. */
void gptoss_router_topk(const float *logits, uint32_t n_experts, uint32_t k, uint32_t *experts, float *weights);

/* Clamped SwiGLU on interleaved rows: gate = u[2i] (clamped above at limit),
 * up = u[2i+1] (clamped to +-limit), out[i] = gate * sigmoid(1.702 gate) * (up + 1). */
void gptoss_swiglu(const float *gate_up, uint32_t n_out, float limit, float *out);

/* One expert's MXFP4 matrix (a view into the stacked [E, ...] tensors). */
typedef struct expert_matrix {
    const uint8_t *blocks, *scales;
    const uint16_t *bias;
    size_t rows, cols;
} expert_matrix;

/* Scratch for one batch of up to max_tokens tokens (S = max_tokens * k slots,
 * one per (token, chosen expert)). */
typedef struct moe_scratch {
    float *router_logits;   /* [n][E] */
    uint32_t *choice;       /* [n][k] expert ids, descending router logit */
    float *choice_weight;   /* [n][k] */
    uint32_t *slot_token;   /* [S] token of each slot, slots grouped by expert */
    uint32_t *token_slots;  /* [n][k] each token's slots in ascending expert order */
    float *token_weights;   /* [n][k] the matching router weights */
    uint32_t *expert_start; /* [E + 1] first slot of each expert */
    uint32_t *active;       /* [E] experts with at least one slot */
    expert_matrix *gate_up_views, *down_views; /* [E] */
    float *gathered;        /* [S][H] exact: expert inputs */
    float *gate_up;         /* [S][2I] */
    float *activated;       /* [S][I] */
    float *expert_out;      /* [S][H] */
    q8_buffer gathered_q8;  /* [S][H] fast: expert inputs */
    q8_buffer activated_q8; /* [S][I] */
} moe_scratch;

gptoss_status moe_scratch_init(moe_scratch *scratch, const gptoss_config *config, uint32_t max_tokens, int fast);
void moe_scratch_free(moe_scratch *scratch);

/* x[t] += sum over t's chosen experts e of g_e (W_down,e swiglu(W_gu,e h[t] + b) + b_down,e)
 * for normed inputs h [n][H] (hq: the same quantised, fast precision only).
 * Tokens are grouped by expert; threads share (expert, row block) work items,
 * so each expert's weights stream once per batch. */
void gptoss_moe_forward(const gptoss_model *model, const gptoss_layer *layer, const float *h,
                        const gptoss_q8_acts *hq, uint32_t n, float *x, moe_scratch *scratch);

#endif
