/* rope.h - rotary position embedding with YaRN scaling, as the reference computes it. */
#ifndef GPTOSS_ROPE_H
#define GPTOSS_ROPE_H

#include <stdint.h>

#include "gptoss.h"

typedef struct gptoss_rope {
    uint32_t half_dim;      /* d/2 frequencies */
    float *inv_freq;        /* [d/2] YaRN-blended inverse frequencies */
    float concentration;    /* m = 0.1 ln(s) + 1, scales cos and sin */
    double ramp_low, ramp_high; /* YaRN ramp bounds (for tests and messages) */
} gptoss_rope;

/* Builds the frequency table from the config, in float32 like the reference. */
gptoss_status gptoss_rope_init(gptoss_rope *rope, const gptoss_config *config);
void gptoss_rope_free(gptoss_rope *rope);

/* cos_sin[0..d/2) = m cos(p w_i), cos_sin[d/2..d) = m sin(p w_i). */
void gptoss_rope_table(const gptoss_rope *rope, uint32_t position, float *cos_sin);

/* Rotates n_heads head vectors of head_dim = 2 * half_dim floats in place,
 * pairing element i with i + d/2 (the two halves, not adjacent pairs). */
void gptoss_rope_apply(const gptoss_rope *rope, const float *cos_sin, float *x, uint32_t n_heads);

#endif
