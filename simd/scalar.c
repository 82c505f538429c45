/* scalar.c - portable reference kernels: the truth the SIMD kernels are tested against. */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "numeric.h"

const float gptoss_fp4_values[16] = {+0.0f, +0.5f, +1.0f, +1.5f, +2.0f, +3.0f, +4.0f, +6.0f,
                                     -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

const int8_t gptoss_fp4_times2[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
const int8_t gptoss_fp4_tile_order[16] = {0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15};

float gptoss_f16_to_f32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    const uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    float magnitude;
    if (exponent == 0) magnitude = ldexpf((float)mantissa, -24); /* zero or subnormal */
    else if (exponent == 31) magnitude = mantissa ? NAN : INFINITY;
    else magnitude = ldexpf((float)(mantissa | 0x400), (int)exponent - 25);
    uint32_t bits;
    memcpy(&bits, &magnitude, sizeof bits);
    bits |= sign;
    float out;
    memcpy(&out, &bits, sizeof out);
    return out;
}

/* Round to nearest even, like F16C's vcvtps2ph with imm 0 and NEON's fcvtn. */
uint16_t gptoss_f32_to_f16(float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    const uint16_t sign = (uint16_t)((bits >> 16) & 0x8000);
    const uint32_t abs_bits = bits & 0x7fffffff;
    if (abs_bits > 0x7f800000) return sign | 0x7e00;       /* NaN */
    if (abs_bits >= 0x477ff000) return sign | 0x7c00;      /* rounds to >= 65520: inf */
    if (abs_bits < 0x38800000) {                            /* below 2^-14: subnormal half */
        float magnitude;
        memcpy(&magnitude, &abs_bits, sizeof magnitude);
        return sign | (uint16_t)nearbyintf(magnitude * 16777216.0f); /* units of 2^-24 */
    }
    uint32_t rounded = abs_bits + 0xfff + ((abs_bits >> 13) & 1);
    return sign | (uint16_t)((rounded - 0x38000000) >> 13);
}

/* Eight partial sums break the add dependency chain; the order is fixed, so
 * results do not depend on the token count. */
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
    const size_t n_blocks = cols / 32;
    for (size_t r = 0; r < rows; r++)
        for (size_t t = 0; t < n_tokens; t++)
            y[t * ldy + r] = dot_mxfp4(blocks + r * n_blocks * 16, scales + r * n_blocks, x + t * cols, n_blocks);
}

static void quantize_q8_scalar(const float *x, size_t cols, int8_t *q, float *scale, int32_t *sum) {
    for (size_t b = 0; b < cols / 32; b++) {
        const float *xb = x + b * 32;
        float amax = 0.0f;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(xb[i]));
        const float inverse = amax > 0.0f ? 127.0f / amax : 0.0f;
        int32_t total = 0;
        for (int i = 0; i < 32; i++) {
            q[b * 32 + i] = (int8_t)nearbyintf(xb[i] * inverse);
            total += q[b * 32 + i];
        }
        scale[b] = amax / 127.0f;
        sum[b] = total;
    }
}

static void matmul_q8_scalar(const gptoss_q8_matrix *w, size_t rows, size_t cols, const gptoss_q8_acts *x,
                             size_t n_tokens, float *y, size_t ldy) {
    const size_t n_blocks = cols / 32;
    for (size_t r = 0; r < rows; r++)
        for (size_t t = 0; t < n_tokens; t++) {
            const int8_t *wq = w->q + r * cols, *xq = x->q + t * cols;
            const uint16_t *ws = w->scale + r * n_blocks;
            const float *xs = x->scale + t * n_blocks;
            float acc = 0.0f;
            for (size_t b = 0; b < n_blocks; b++) {
                int32_t dot = 0;
                for (int i = 0; i < 32; i++) dot += wq[b * 32 + i] * xq[b * 32 + i];
                acc += (float)dot * (gptoss_f16_to_f32(ws[b]) * xs[b]);
            }
            y[t * ldy + r] = acc;
        }
}

static void matmul_mxfp4_q8_scalar(const uint8_t *blocks, const uint8_t *scales, size_t rows, size_t cols,
                                   const gptoss_q8_acts *x, size_t n_tokens, float *y, size_t ldy) {
    const size_t n_blocks = cols / 32;
    for (size_t r = 0; r < rows; r++)
        for (size_t t = 0; t < n_tokens; t++) {
            const uint8_t *wb = blocks + r * n_blocks * 16, *ws = scales + r * n_blocks;
            const int8_t *xq = x->q + t * cols;
            const float *xs = x->scale + t * n_blocks;
            float acc = 0.0f;
            for (size_t b = 0; b < n_blocks; b++) {
                int32_t dot = 0;
                for (int j = 0; j < 16; j++) {
                    dot += gptoss_fp4_times2[wb[b * 16 + j] & 15] * xq[b * 32 + 2 * j];
                    dot += gptoss_fp4_times2[wb[b * 16 + j] >> 4] * xq[b * 32 + 2 * j + 1];
                }
                acc += (float)dot * (ldexpf(1.0f, (int)ws[b] - 128) * xs[b]);
            }
            y[t * ldy + r] = acc;
        }
}

const gptoss_kernels gptoss_kernels_scalar = {
    .name = "scalar",
    .isa = GPTOSS_KERNELS_SCALAR,
    .matmul_bf16 = matmul_bf16_scalar,
    .matmul_mxfp4 = matmul_mxfp4_scalar,
    .quantize_q8 = quantize_q8_scalar,
    .matmul_q8 = matmul_q8_scalar,
    .matmul_mxfp4_q8 = matmul_mxfp4_q8_scalar,
    .int8_peak = NULL, /* the compiler may vectorise these loops: no instruction to time */
};
