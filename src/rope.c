/* rope.c - YaRN RoPE (FORMAT.md section 6).
 *
 * The reference builds its tables in float32 with torch; each step below is
 * the same float32 operation in the same order so long positions agree too. */
#include "rope.h"

#include <math.h>
#include <stdlib.h>

#include "error.h"

gptoss_status gptoss_rope_init(gptoss_rope *rope, const gptoss_config *c) {
    const uint32_t d = c->head_dim, half = d / 2;
    rope->half_dim = half;
    rope->inv_freq = malloc(half * sizeof(float));
    if (!rope->inv_freq) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    const double theta = c->rope_theta, s = c->rope_scaling_factor;
    rope->concentration = 1.0f;
    rope->ramp_low = rope->ramp_high = 0.0;
    if (s > 1.0) {
        rope->concentration = (float)(0.1 * log(s) + 1.0);
        const double L0 = c->rope_original_max_position;
        const double two_pi = 2.0 * 3.14159265358979323846;
        double low = half * log(L0 / (c->rope_beta_fast * two_pi)) / log(theta);
        double high = half * log(L0 / (c->rope_beta_slow * two_pi)) / log(theta);
        if (c->rope_truncate) {
            low = floor(low);
            high = ceil(high);
        }
        rope->ramp_low = low;
        rope->ramp_high = high;
    }
    for (uint32_t i = 0; i < half; i++) {
        float freq = powf((float)theta, (float)(2 * i) / (float)d); /* theta^(2i/d) */
        if (s > 1.0) {
            float interpolation = 1.0f / ((float)s * freq);
            float extrapolation = 1.0f / freq;
            float ramp = ((float)i - (float)rope->ramp_low) / (float)(rope->ramp_high - rope->ramp_low);
            float mask = 1.0f - fminf(fmaxf(ramp, 0.0f), 1.0f);
            rope->inv_freq[i] = interpolation * (1.0f - mask) + extrapolation * mask;
        } else {
            rope->inv_freq[i] = 1.0f / freq;
        }
    }
    return GPTOSS_OK;
}

void gptoss_rope_free(gptoss_rope *rope) {
    free(rope->inv_freq);
    rope->inv_freq = NULL;
}

void gptoss_rope_table(const gptoss_rope *rope, uint32_t position, float *cos_sin) {
    const uint32_t half = rope->half_dim;
    for (uint32_t i = 0; i < half; i++) {
        float angle = (float)position * rope->inv_freq[i];
        cos_sin[i] = cosf(angle) * rope->concentration;
        cos_sin[half + i] = sinf(angle) * rope->concentration;
    }
}

void gptoss_rope_apply(const gptoss_rope *rope, const float *cos_sin, float *x, uint32_t n_heads) {
    const uint32_t half = rope->half_dim;
    const float *cos = cos_sin, *sin = cos_sin + half;
    for (uint32_t h = 0; h < n_heads; h++) {
        float *x1 = x + (size_t)h * 2 * half, *x2 = x1 + half;
        for (uint32_t i = 0; i < half; i++) {
            float a = x1[i], b = x2[i];
            x1[i] = a * cos[i] - b * sin[i];
            x2[i] = b * cos[i] + a * sin[i];
        }
    }
}
