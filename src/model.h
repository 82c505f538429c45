/* model.h - a loaded gpt-oss model: config plus weights bound by name. */
#ifndef GPTOSS_MODEL_H
#define GPTOSS_MODEL_H

#include <stdint.h>

#include "gptoss.h"
#include "kernels.h"
#include "q8cache.h"
#include "safetensors.h"

/* One transformer block's weights: pointers into the mapped files. */
typedef struct gptoss_layer {
    int sliding;                     /* 1: attends to the last W positions only */
    const uint16_t *attn_norm;       /* [H] */
    const uint16_t *wq, *bq;         /* [nq*d, H], [nq*d] */
    const uint16_t *wk, *bk;         /* [nkv*d, H], [nkv*d] */
    const uint16_t *wv, *bv;         /* [nkv*d, H], [nkv*d] */
    const uint16_t *wo, *bo;         /* [H, nq*d], [H] */
    const uint16_t *sinks;           /* [nq] */
    const uint16_t *mlp_norm;        /* [H] */
    const uint16_t *router_w;        /* [E, H] */
    const uint16_t *router_b;        /* [E] */
    const uint8_t *gate_up_blocks;   /* [E, 2I, H/32, 16], rows interleave gate (even) and up (odd) */
    const uint8_t *gate_up_scales;   /* [E, 2I, H/32] */
    const uint16_t *gate_up_bias;    /* [E, 2I] */
    const uint8_t *down_blocks;      /* [E, H, I/32, 16] */
    const uint8_t *down_scales;      /* [E, H, I/32] */
    const uint16_t *down_bias;       /* [E, H] */
    /* fast precision: int8 copies (q == NULL: use the BF16 matrix) */
    gptoss_q8_matrix wq8, wk8, wv8, wo8;
} gptoss_layer;

struct gptoss_model {
    gptoss_config config;
    st_file **files;
    uint32_t n_files;
    uint64_t file_bytes;
    gptoss_layer *layers;
    const uint16_t *embed;           /* [V, H] */
    const uint16_t *final_norm;      /* [H] */
    const uint16_t *unembed;         /* [V, H] */
    const gptoss_kernels *kernels;
    gptoss_precision precision;
    gptoss_q8_matrix unembed8;       /* fast precision: int8 lm_head */
    q8_cache q8;
};

#endif
