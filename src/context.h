/* context.h - the inference context (internal): KV cache, token history,
 * scratch activations. forward.c runs tokens through it; prefix.c reuses
 * what it already holds for a new prompt. */
#ifndef GPTOSS_CONTEXT_H
#define GPTOSS_CONTEXT_H

#include "gptoss.h"
#include "kvcache.h"
#include "linear.h"
#include "model.h"
#include "moe.h"
#include "rope.h"

enum {
    MAX_BATCH = 512,             /* tokens per forward chunk, llama.cpp's default ubatch: on the
                                    20B each expert's tiles then serve ~64 tokens */
    GPTOSS_SLIDING_SLACK = 256,  /* positions sliding layers keep beyond the window,
                                    so a context can step back that far for free */
};

struct gptoss_context {
    gptoss_model *model;
    uint32_t capacity;
    uint32_t position;           /* tokens processed so far */
    uint32_t *history;           /* [capacity] the tokens processed, in order */
    kv_cache cache;
    /* The sliding layers' rings as they were after `snapshot_position` tokens
     * (0: none), taken at the end of each prompt: the next prompt usually
     * diverges right there (the finished turn's reasoning is dropped). */
    uint32_t snapshot_position;
    float **snapshot_keys, **snapshot_values; /* [layer] copies of sliding rings, NULL for full layers */
    gptoss_rope rope;
    moe_scratch moe;
    /* Activations of one batch, [MAX_BATCH][...] each. */
    float *x, *h, *q, *k, *v, *attn, *rope_table;
    float *scores;               /* [threads][scratch_per_thread] attention scratch */
    size_t scratch_per_thread;
    int n_threads;
    int fast;                    /* int8 activations (fast precision) */
    q8_buffer act_q8;            /* quantised activations of the batch */
    float *parts;                /* fast: [2][MAX_BATCH][max(q_dim, H)], q/k/v's input residual, then its products */
};

/* Frees the snapshot buffers (prefix.c). */
void context_snapshot_free(gptoss_context *ctx);

#endif
