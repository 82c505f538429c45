/* scalar.c - portable reference kernels: the truth the SIMD kernels are tested against. */
#include "kernels.h"
#include "numeric.h"

const float gptoss_fp4_values[16] = {+0.0f, +0.5f, +1.0f, +1.5f, +2.0f, +3.0f, +4.0f, +6.0f,
                                     -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

/* Eight partial sums break the add dependency chain so even plain C keeps the
 * FPU busy; the order is fixed, so results do not depend on the token count. */
static float dot_bf16(const uint16_t *w, const float *x, size_t n) {
    float acc[8] = {0};
    size_t c = 0;
    for (; c + 8 <= n; c += 8)
        for (int j = 0; j < 8; j++) acc[j] += bf16_to_f32(w[c + j]) * x[c + j];
    for (; c < n; c++) acc[c % 8] += bf16_to_f32(w[c]) * x[c];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

static void matmul_bf16_scalar(const uint16_t *w, size_t rows, size_t cols, const float *x, size_t n_tokens,
                               float *y, size_t ldy) {
    for (size_t r = 0; r < rows; r++)
        for (size_t t = 0; t < n_tokens; t++) y[t * ldy + r] = dot_bf16(w + r * cols, x + t * cols, cols);
}

/* One row of MXFP4 against one activation vector. Each 32-block is summed
 * unscaled, then multiplied by its power-of-two scale (exact). */
static float dot_mxfp4(const uint8_t *blocks, const uint8_t *scales, const float *x, size_t n_blocks) {
    float total = 0.0f;
    for (size_t b = 0; b < n_blocks; b++) {
        const uint8_t *q = blocks + b * 16;
        const float *xb = x + b * 32;
        float even = 0.0f, odd = 0.0f;
        for (int j = 0; j < 16; j++) {
            even += gptoss_fp4_values[q[j] & 15] * xb[2 * j];
            odd += gptoss_fp4_values[q[j] >> 4] * xb[2 * j + 1];
        }
        total += (even + odd) * e8m0_to_f32(scales[b]);
    }
    return total;
}

static void matmul_mxfp4_scalar(const uint8_t *blocks, const uint8_t *scales, size_t rows, size_t cols,
                                const float *x, size_t n_tokens, float *y, size_t ldy) {
    size_t n_blocks = cols / 32;
    for (size_t r = 0; r < rows; r++)
        for (size_t t = 0; t < n_tokens; t++)
            y[t * ldy + r] = dot_mxfp4(blocks + r * n_blocks * 16, scales + r * n_blocks, x + t * cols, n_blocks);
}

const gptoss_kernels gptoss_kernels_scalar = {
    .name = "scalar",
    .matmul_bf16 = matmul_bf16_scalar,
    .matmul_mxfp4 = matmul_mxfp4_scalar,
};
