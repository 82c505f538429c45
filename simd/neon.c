/* neon.c - kernels for every AArch64 CPU: plain ARMv8.0 Advanced SIMD.
 *
 * exact: BF16 widens to f32 with one shift (shll #16); MXFP4 nibbles become
 *        f32 through two tbl lookups giving the high and low byte of the
 *        value's BF16 pattern (every FP4 value is exact in BF16).
 * fast:  int8 dots with smull/smlal into int16 and sadalp into int32.
 * Every kernel walks 8-row tiles and, within them, up to 4 tokens per pass,
 * so decoded weights are reused from registers across tokens (prefill) and a
 * single token streams each row with 16/32-byte loads (decode). */
#include "neon_internal.h"
#include "numeric.h"

/* ---- exact: BF16 ------------------------------------------------------- */

NEON_INLINE float32x4_t bf16_low(uint16x8_t w) { return vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(w), 16)); }
NEON_INLINE float32x4_t bf16_high(uint16x8_t w) { return vreinterpretq_f32_u32(vshll_high_n_u16(w, 16)); }

/* One row against T tokens (T a constant after inlining); writes y[t*ldy]. */
NEON_INLINE void bf16_row(const uint16_t *w, size_t cols, const float *x, size_t T, float *y, size_t ldy) {
    float32x4_t acc[NEON_TOKEN_TILE][4];
    float tail[NEON_TOKEN_TILE];
    NEON_UNROLL
    for (size_t t = 0; t < T; t++) {
        NEON_UNROLL
        for (int j = 0; j < 4; j++) acc[t][j] = vdupq_n_f32(0.0f);
        tail[t] = 0.0f;
    }
    size_t c = 0;
    for (; c + 16 <= cols; c += 16) {
        const uint16x8_t w0 = vld1q_u16(w + c), w1 = vld1q_u16(w + c + 8);
        const float32x4_t f0 = bf16_low(w0), f1 = bf16_high(w0), f2 = bf16_low(w1), f3 = bf16_high(w1);
        NEON_UNROLL
        for (size_t t = 0; t < T; t++) {
            const float *xc = x + t * cols + c;
            acc[t][0] = vfmaq_f32(acc[t][0], f0, vld1q_f32(xc));
            acc[t][1] = vfmaq_f32(acc[t][1], f1, vld1q_f32(xc + 4));
            acc[t][2] = vfmaq_f32(acc[t][2], f2, vld1q_f32(xc + 8));
            acc[t][3] = vfmaq_f32(acc[t][3], f3, vld1q_f32(xc + 12));
        }
    }
    for (; c + 4 <= cols; c += 4) {
        const float32x4_t f = vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(w + c), 16));
        NEON_UNROLL
        for (size_t t = 0; t < T; t++) acc[t][0] = vfmaq_f32(acc[t][0], f, vld1q_f32(x + t * cols + c));
    }
    for (; c < cols; c++) {
        const float f = bf16_to_f32(w[c]);
        NEON_UNROLL
        for (size_t t = 0; t < T; t++) tail[t] += f * x[t * cols + c];
    }
    NEON_UNROLL
    for (size_t t = 0; t < T; t++) {
        const float32x4_t sum = vaddq_f32(vaddq_f32(acc[t][0], acc[t][1]), vaddq_f32(acc[t][2], acc[t][3]));
        y[t * ldy] = vaddvq_f32(sum) + tail[t];
    }
}

void gptoss_neon_matmul_bf16(const uint16_t *w, size_t rows, size_t cols, const float *x, size_t n_tokens,
                             float *y, size_t ldy) {
    for (size_t r0 = 0; r0 < rows; r0 += NEON_ROW_TILE) {
        const size_t r1 = neon_min(rows, r0 + NEON_ROW_TILE);
        for (size_t t0 = 0; t0 < n_tokens; t0 += NEON_TOKEN_TILE) {
            const size_t T = neon_min(NEON_TOKEN_TILE, n_tokens - t0);
            const float *xt = x + t0 * cols;
            for (size_t r = r0; r < r1; r++) {
                const uint16_t *wr = w + r * cols;
                float *yr = y + t0 * ldy + r;
                switch (T) {
                case 4: bf16_row(wr, cols, xt, 4, yr, ldy); break;
                case 3: bf16_row(wr, cols, xt, 3, yr, ldy); break;
                case 2: bf16_row(wr, cols, xt, 2, yr, ldy); break;
                default: bf16_row(wr, cols, xt, 1, yr, ldy); break;
                }
            }
        }
    }
}

/* ---- exact: MXFP4 ------------------------------------------------------ */

/* The BF16 patterns of the 16 FP4 values (+0, 0.5, 1, 1.5, 2, 3, 4, 6, then
 * negated), split into high and low bytes for two tbl lookups. */
static const uint8_t fp4_bf16_high[16] = {0x00, 0x3f, 0x3f, 0x3f, 0x40, 0x40, 0x40, 0x40,
                                          0x80, 0xbf, 0xbf, 0xbf, 0xc0, 0xc0, 0xc0, 0xc0};
static const uint8_t fp4_bf16_low[16] = {0x00, 0x00, 0x80, 0xc0, 0x00, 0x40, 0x80, 0xc0,
                                         0x00, 0x00, 0x80, 0xc0, 0x00, 0x40, 0x80, 0xc0};

/* One 16-byte block as 32 f32 FP4 values in column order (unscaled). */
NEON_INLINE void decode_fp4_f32(const uint8_t *block, uint8x16_t high, uint8x16_t low, float32x4_t f[8]) {
    const uint8x16_t bytes = vld1q_u8(block);
    const uint8x16_t even = vandq_u8(bytes, vdupq_n_u8(15)), odd = vshrq_n_u8(bytes, 4);
    const uint8x16_t index[2] = {vzip1q_u8(even, odd), vzip2q_u8(even, odd)};
    NEON_UNROLL
    for (int k = 0; k < 2; k++) {
        const uint8x16_t hi = vqtbl1q_u8(high, index[k]), lo = vqtbl1q_u8(low, index[k]);
        const uint16x8_t h0 = vreinterpretq_u16_u8(vzip1q_u8(lo, hi)), h1 = vreinterpretq_u16_u8(vzip2q_u8(lo, hi));
        f[4 * k + 0] = bf16_low(h0);
        f[4 * k + 1] = bf16_high(h0);
        f[4 * k + 2] = bf16_low(h1);
        f[4 * k + 3] = bf16_high(h1);
    }
}

/* 2^(s-127) exactly as e8m0_to_f32 (2^-127 is subnormal; 255 gives inf). */
NEON_INLINE float e8m0_f32(uint8_t s) {
    const uint32_t bits = s ? (uint32_t)s << 23 : 0x00400000u;
    float out;
    memcpy(&out, &bits, sizeof out);
    return out;
}

/* One row against T tokens: each block is summed unscaled per token, then
 * multiplied by its power-of-two scale, like the scalar reference. */
NEON_INLINE void mxfp4_row(const uint8_t *blocks, const uint8_t *scales, size_t cols, const float *x, size_t T,
                           float *y, size_t ldy) {
    const size_t nb = cols / 32;
    const uint8x16_t high = vld1q_u8(fp4_bf16_high), low = vld1q_u8(fp4_bf16_low);
    float32x4_t acc[NEON_TOKEN_TILE];
    NEON_UNROLL
    for (size_t t = 0; t < T; t++) acc[t] = vdupq_n_f32(0.0f);
    for (size_t b = 0; b < nb; b++) {
        float32x4_t f[8];
        decode_fp4_f32(blocks + 16 * b, high, low, f);
        const float scale = e8m0_f32(scales[b]);
        NEON_UNROLL
        for (size_t t = 0; t < T; t++) {
            const float *xb = x + t * cols + 32 * b;
            float32x4_t s0 = vmulq_f32(f[0], vld1q_f32(xb));
            float32x4_t s1 = vmulq_f32(f[1], vld1q_f32(xb + 4));
            float32x4_t s2 = vmulq_f32(f[2], vld1q_f32(xb + 8));
            float32x4_t s3 = vmulq_f32(f[3], vld1q_f32(xb + 12));
            s0 = vfmaq_f32(s0, f[4], vld1q_f32(xb + 16));
            s1 = vfmaq_f32(s1, f[5], vld1q_f32(xb + 20));
            s2 = vfmaq_f32(s2, f[6], vld1q_f32(xb + 24));
            s3 = vfmaq_f32(s3, f[7], vld1q_f32(xb + 28));
            acc[t] = vfmaq_n_f32(acc[t], vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)), scale);
        }
    }
    NEON_UNROLL
    for (size_t t = 0; t < T; t++) y[t * ldy] = vaddvq_f32(acc[t]);
}

void gptoss_neon_matmul_mxfp4(const uint8_t *blocks, const uint8_t *scales, size_t rows, size_t cols,
                              const float *x, size_t n_tokens, float *y, size_t ldy) {
    const size_t nb = cols / 32;
    for (size_t r0 = 0; r0 < rows; r0 += NEON_ROW_TILE) {
        const size_t r1 = neon_min(rows, r0 + NEON_ROW_TILE);
        for (size_t t0 = 0; t0 < n_tokens; t0 += NEON_TOKEN_TILE) {
            const size_t T = neon_min(NEON_TOKEN_TILE, n_tokens - t0);
            const float *xt = x + t0 * cols;
            for (size_t r = r0; r < r1; r++) {
                const uint8_t *wb = blocks + r * nb * 16, *ws = scales + r * nb;
                float *yr = y + t0 * ldy + r;
                switch (T) {
                case 4: mxfp4_row(wb, ws, cols, xt, 4, yr, ldy); break;
                case 3: mxfp4_row(wb, ws, cols, xt, 3, yr, ldy); break;
                case 2: mxfp4_row(wb, ws, cols, xt, 2, yr, ldy); break;
                default: mxfp4_row(wb, ws, cols, xt, 1, yr, ldy); break;
                }
            }
        }
    }
}

/* ---- fast: quantisation ------------------------------------------------ */

/* Bit-identical to the scalar version: maxnm is fmaxf (and max is order-free),
 * 127/amax and amax/127 are the same scalar divisions, x * inverse the same
 * single multiply, and fcvtns rounds to nearest even like nearbyintf. */
void gptoss_neon_quantize_q8(const float *x, size_t cols, int8_t *q, float *scale, int32_t *sum) {
    for (size_t b = 0; b < cols / 32; b++) {
        const float *xb = x + 32 * b;
        float32x4_t v[8];
        NEON_UNROLL
        for (int i = 0; i < 8; i++) v[i] = vld1q_f32(xb + 4 * i);
        const float32x4_t m01 = vmaxnmq_f32(vabsq_f32(v[0]), vabsq_f32(v[1]));
        const float32x4_t m23 = vmaxnmq_f32(vabsq_f32(v[2]), vabsq_f32(v[3]));
        const float32x4_t m45 = vmaxnmq_f32(vabsq_f32(v[4]), vabsq_f32(v[5]));
        const float32x4_t m67 = vmaxnmq_f32(vabsq_f32(v[6]), vabsq_f32(v[7]));
        const float amax = vmaxnmvq_f32(vmaxnmq_f32(vmaxnmq_f32(m01, m23), vmaxnmq_f32(m45, m67)));
        const float inverse = amax > 0.0f ? 127.0f / amax : 0.0f;
        int32x4_t n[8];
        NEON_UNROLL
        for (int i = 0; i < 8; i++) n[i] = vcvtnq_s32_f32(vmulq_n_f32(v[i], inverse));
        int16x8_t h[4];
        NEON_UNROLL
        for (int k = 0; k < 4; k++) h[k] = vcombine_s16(vmovn_s32(n[2 * k]), vmovn_s32(n[2 * k + 1]));
        vst1q_s8(q + 32 * b, vcombine_s8(vmovn_s16(h[0]), vmovn_s16(h[1])));
        vst1q_s8(q + 32 * b + 16, vcombine_s8(vmovn_s16(h[2]), vmovn_s16(h[3])));
        const int16x8_t h_sum = vaddq_s16(vaddq_s16(h[0], h[1]), vaddq_s16(h[2], h[3])); /* |lane| <= 4*127 */
        scale[b] = amax / 127.0f;
        sum[b] = vaddlvq_s16(h_sum);
    }
}

/* ---- fast: int8 dots --------------------------------------------------- */

/* smull/smlal: two products per int16 lane, at most 2*128*127 = 32512 since
 * activations never reach -128; sadalp widens pairs into int32. */
NEON_INLINE int32x4_t neon_dot_q8(int32x4_t acc, int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1) {
    int16x8_t p0 = vmull_s8(vget_low_s8(w0), vget_low_s8(x0));
    p0 = vmlal_high_s8(p0, w0, x0);
    int16x8_t p1 = vmull_s8(vget_low_s8(w1), vget_low_s8(x1));
    p1 = vmlal_high_s8(p1, w1, x1);
    return vpadalq_s16(vpadalq_s16(acc, p0), p1);
}

/* 2*FP4 weights are at most 12: all four products of a lane fit int16
 * (4*12*127 = 6096), one sadalp per block. */
NEON_INLINE int32x4_t neon_dot_fp4(int32x4_t acc, int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1) {
    int16x8_t p = vmull_s8(vget_low_s8(w0), vget_low_s8(x0));
    p = vmlal_high_s8(p, w0, x0);
    p = vmlal_s8(p, vget_low_s8(w1), vget_low_s8(x1));
    p = vmlal_high_s8(p, w1, x1);
    return vpadalq_s16(acc, p);
}

#include "neon_q8_kernels.h"

const gptoss_kernels gptoss_kernels_neon = {
    .name = "neon",
    .isa = GPTOSS_KERNELS_NEON,
    .matmul_bf16 = gptoss_neon_matmul_bf16,
    .matmul_mxfp4 = gptoss_neon_matmul_mxfp4,
    .quantize_q8 = gptoss_neon_quantize_q8,
    .matmul_q8 = matmul_q8,
    .matmul_mxfp4_q8 = matmul_mxfp4_q8,
    .int8_peak = int8_peak,
};
