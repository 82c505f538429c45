/* neon_q8_kernels.h - the int8 ("fast") kernels, instantiated once per NEON
 * file. Include it after neon_internal.h and after defining
 *
 *   int32x4_t neon_dot_q8(int32x4_t acc, int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1);
 *   int32x4_t neon_dot_fp4(int32x4_t acc, int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1);
 *
 * which add the 32 products w[i]*x[i] of one block to acc (spread over its
 * lanes in any way): neon_dot_q8 for int8 weights, neon_dot_fp4 for 2*FP4
 * weights (|w| <= 12). Activations come from quantize_q8, so |x| <= 127.
 *
 * Both kernels work in groups of 4 blocks: 4 int32x4 partial dots fold into
 * one vector of 4 block dots (two pairwise adds), convert to float and meet
 * the 4 block scales in one multiply-add. Leftover blocks go one at a time. */
#ifndef GPTOSS_NEON_Q8_KERNELS_H
#define GPTOSS_NEON_Q8_KERNELS_H

#include "neon_internal.h"

/* Four partial-dot vectors -> their four horizontal sums, in order. */
NEON_INLINE int32x4_t neon_fold4(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d) {
    return vpaddq_s32(vpaddq_s32(a, b), vpaddq_s32(c, d));
}

/* One row of int8 weights (wq, ws) against T tokens (T <= NEON_TOKEN_TILE,
 * a constant after inlining) starting at token t0; writes y[t*ldy]. */
NEON_INLINE void neon_q8_row(const int8_t *wq, const uint16_t *ws, size_t cols, const gptoss_q8_acts *x,
                             size_t t0, size_t T, float *y, size_t ldy) {
    const size_t nb = cols / 32, groups = nb / 4;
    float32x4_t acc[NEON_TOKEN_TILE];
    float tail[NEON_TOKEN_TILE];
    const int8_t *xq[NEON_TOKEN_TILE];
    const float *xs[NEON_TOKEN_TILE];
    NEON_UNROLL
    for (size_t t = 0; t < T; t++) {
        acc[t] = vdupq_n_f32(0.0f);
        tail[t] = 0.0f;
        xq[t] = x->q + (t0 + t) * cols;
        xs[t] = x->scale + (t0 + t) * nb;
    }
    const int32x4_t zero = vdupq_n_s32(0);
    for (size_t g = 0; g < groups; g++) {
        const int8_t *wg = wq + g * 128;
        int8x16_t w[8];
        NEON_UNROLL
        for (int i = 0; i < 8; i++) w[i] = vld1q_s8(wg + 16 * i);
        const float32x4_t wscale = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(ws + 4 * g)));
        NEON_UNROLL
        for (size_t t = 0; t < T; t++) {
            const int8_t *xg = xq[t] + g * 128;
            int32x4_t d[4];
            NEON_UNROLL
            for (int k = 0; k < 4; k++)
                d[k] = neon_dot_q8(zero, w[2 * k], w[2 * k + 1], vld1q_s8(xg + 32 * k), vld1q_s8(xg + 32 * k + 16));
            const float32x4_t dots = vcvtq_f32_s32(neon_fold4(d[0], d[1], d[2], d[3]));
            acc[t] = vfmaq_f32(acc[t], dots, vmulq_f32(wscale, vld1q_f32(xs[t] + 4 * g)));
        }
    }
    for (size_t b = groups * 4; b < nb; b++) {
        const int8x16_t w0 = vld1q_s8(wq + 32 * b), w1 = vld1q_s8(wq + 32 * b + 16);
        const float wscale = neon_f16_to_f32(ws[b]);
        NEON_UNROLL
        for (size_t t = 0; t < T; t++) {
            const int32x4_t d = neon_dot_q8(zero, w0, w1, vld1q_s8(xq[t] + 32 * b), vld1q_s8(xq[t] + 32 * b + 16));
            tail[t] += (float)vaddvq_s32(d) * (wscale * xs[t][b]);
        }
    }
    NEON_UNROLL
    for (size_t t = 0; t < T; t++) y[t * ldy] = vaddvq_f32(acc[t]) + tail[t];
}

static void matmul_q8(const gptoss_q8_matrix *w, size_t rows, size_t cols, const gptoss_q8_acts *x,
                      size_t n_tokens, float *y, size_t ldy) {
    const size_t nb = cols / 32;
    for (size_t r0 = 0; r0 < rows; r0 += NEON_ROW_TILE) {
        const size_t r1 = neon_min(rows, r0 + NEON_ROW_TILE);
        for (size_t t0 = 0; t0 < n_tokens; t0 += NEON_TOKEN_TILE) {
            const size_t T = neon_min(NEON_TOKEN_TILE, n_tokens - t0);
            for (size_t r = r0; r < r1; r++) {
                const int8_t *wq = w->q + r * cols;
                const uint16_t *ws = w->scale + r * nb;
                float *yr = y + t0 * ldy + r;
                switch (T) {
                case 4: neon_q8_row(wq, ws, cols, x, t0, 4, yr, ldy); break;
                case 3: neon_q8_row(wq, ws, cols, x, t0, 3, yr, ldy); break;
                case 2: neon_q8_row(wq, ws, cols, x, t0, 2, yr, ldy); break;
                default: neon_q8_row(wq, ws, cols, x, t0, 1, yr, ldy); break;
                }
            }
        }
    }
}

/* One row of MXFP4 weights against T tokens: each block is decoded to int8
 * once (tbl + zip) and used for all T tokens. */
NEON_INLINE void neon_mxfp4_q8_row(const uint8_t *blocks, const uint8_t *scales, size_t cols,
                                   const gptoss_q8_acts *x, size_t t0, size_t T, float *y, size_t ldy) {
    const size_t nb = cols / 32, groups = nb / 4;
    const int8x16_t table = vld1q_s8(gptoss_fp4_times2);
    float32x4_t acc[NEON_TOKEN_TILE];
    float tail[NEON_TOKEN_TILE];
    const int8_t *xq[NEON_TOKEN_TILE];
    const float *xs[NEON_TOKEN_TILE];
    NEON_UNROLL
    for (size_t t = 0; t < T; t++) {
        acc[t] = vdupq_n_f32(0.0f);
        tail[t] = 0.0f;
        xq[t] = x->q + (t0 + t) * cols;
        xs[t] = x->scale + (t0 + t) * nb;
    }
    const int32x4_t zero = vdupq_n_s32(0);
    for (size_t g = 0; g < groups; g++) {
        int8x16_t w[8];
        NEON_UNROLL
        for (int k = 0; k < 4; k++) neon_decode_fp4x2(blocks + (4 * g + k) * 16, table, w + 2 * k);
        const float32x4_t wscale = neon_e8m0_half_x4(scales + 4 * g);
        NEON_UNROLL
        for (size_t t = 0; t < T; t++) {
            const int8_t *xg = xq[t] + g * 128;
            int32x4_t d[4];
            NEON_UNROLL
            for (int k = 0; k < 4; k++)
                d[k] = neon_dot_fp4(zero, w[2 * k], w[2 * k + 1], vld1q_s8(xg + 32 * k), vld1q_s8(xg + 32 * k + 16));
            const float32x4_t dots = vcvtq_f32_s32(neon_fold4(d[0], d[1], d[2], d[3]));
            acc[t] = vfmaq_f32(acc[t], dots, vmulq_f32(wscale, vld1q_f32(xs[t] + 4 * g)));
        }
    }
    for (size_t b = groups * 4; b < nb; b++) {
        int8x16_t w[2];
        neon_decode_fp4x2(blocks + b * 16, table, w);
        const float wscale = neon_e8m0_half(scales[b]);
        NEON_UNROLL
        for (size_t t = 0; t < T; t++) {
            const int32x4_t d = neon_dot_fp4(zero, w[0], w[1], vld1q_s8(xq[t] + 32 * b), vld1q_s8(xq[t] + 32 * b + 16));
            tail[t] += (float)vaddvq_s32(d) * (wscale * xs[t][b]);
        }
    }
    NEON_UNROLL
    for (size_t t = 0; t < T; t++) y[t * ldy] = vaddvq_f32(acc[t]) + tail[t];
}

static void matmul_mxfp4_q8(const uint8_t *blocks, const uint8_t *scales, size_t rows, size_t cols,
                            const gptoss_q8_acts *x, size_t n_tokens, float *y, size_t ldy) {
    const size_t nb = cols / 32;
    for (size_t r0 = 0; r0 < rows; r0 += NEON_ROW_TILE) {
        const size_t r1 = neon_min(rows, r0 + NEON_ROW_TILE);
        for (size_t t0 = 0; t0 < n_tokens; t0 += NEON_TOKEN_TILE) {
            const size_t T = neon_min(NEON_TOKEN_TILE, n_tokens - t0);
            for (size_t r = r0; r < r1; r++) {
                const uint8_t *wb = blocks + r * nb * 16, *ws = scales + r * nb;
                float *yr = y + t0 * ldy + r;
                switch (T) {
                case 4: neon_mxfp4_q8_row(wb, ws, cols, x, t0, 4, yr, ldy); break;
                case 3: neon_mxfp4_q8_row(wb, ws, cols, x, t0, 3, yr, ldy); break;
                case 2: neon_mxfp4_q8_row(wb, ws, cols, x, t0, 2, yr, ldy); break;
                default: neon_mxfp4_q8_row(wb, ws, cols, x, t0, 1, yr, ldy); break;
                }
            }
        }
    }
}

/* 12 chains of neon_dot_q8 (32 multiply-adds each). Each chain takes its
 * neighbour's accumulator as the weight operand, so no two chains can be
 * merged or hoisted, and no accumulator has to be copied. */
static uint64_t int8_peak(uint64_t rounds) {
    int32x4_t a[12];
    for (int i = 0; i < 12; i++) a[i] = vdupq_n_s32(i + 1);
    const int8x16_t x = vdupq_n_s8(5);
    for (uint64_t r = 0; r < rounds; r++) {
        NEON_UNROLL
        for (int i = 0; i < 12; i++) {
            const int8x16_t w = vreinterpretq_s8_s32(a[(i + 1) % 12]);
            a[i] = neon_dot_q8(a[i], w, w, x, x);
        }
    }
    int32x4_t s = a[0];
    for (int i = 1; i < 12; i++) s = vaddq_s32(s, a[i]);
    volatile int32_t sink = vaddvq_s32(s);
    (void)sink;
    return rounds * 12 * 32;
}

#endif
