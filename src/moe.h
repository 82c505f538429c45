/* moe.h - router and mixture-of-experts block (FORMAT.md section 7). */
#ifndef GPTOSS_MOE_H
#define GPTOSS_MOE_H

#include <stdint.h>

#include "model.h"

/* Picks the k largest of logits[n_experts] in descending order (equal logits:
 * the lower expert index first) and their softmax weights over those k only. */
void gptoss_router_topk(const float *logits, uint32_t n_experts, uint32_t k, uint32_t *experts, float *weights);

/* Clamped SwiGLU on interleaved rows: gate = u[2i] (clamped above at limit),
 * up = u[2i+1] (clamped to +-limit), out[i] = gate * sigmoid(1.702 gate) * (up + 1). */
void gptoss_swiglu(const float *gate_up, uint32_t n_out, float limit, float *out);

/* Scratch for one batch of up to max_tokens tokens. */
typedef struct moe_scratch {
    float *router_logits;   /* [n][E] */
    uint32_t *choice;       /* [n][k] expert ids */
    float *choice_weight;   /* [n][k] */
    uint32_t *order;        /* [n*k] token slots grouped by expert */
    float *gathered;        /* [n][H] inputs of one expert's tokens */
    float *gate_up;         /* [n][2I] */
    float *activated;       /* [n][I] */
    float *expert_out;      /* [n][H] */
    float *accum;           /* [n][H] weighted sum over each token's experts */
} moe_scratch;

gptoss_status moe_scratch_init(moe_scratch *scratch, const gptoss_config *config, uint32_t max_tokens);
void moe_scratch_free(moe_scratch *scratch);

/* x[t] += sum over t's chosen experts e of g_e (W_down,e swiglu(W_gu,e h[t] + b) + b_down,e),
 * where h = normed inputs [n][H]. Tokens are grouped by expert so each
 * expert's weights are streamed once per batch. */
void gptoss_moe_forward(const gptoss_model *model, const gptoss_layer *layer, const float *h, uint32_t n,
                        float *x, moe_scratch *scratch);

#endif
