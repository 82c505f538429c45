/* neon_internal.h - what simd/neon.c and simd/neon_dotprod.c share (AArch64 only).
 *
 * neon.c holds the exact (f32) kernels and quantize_q8, plain ARMv8.0 NEON;
 * neon_dotprod.c reuses them and differs only in the int8 block dot product.
 * Both instantiate the int8 kernels of neon_q8_kernels.h with their own dot.
 * Only ACLE intrinsics from <arm_neon.h>, so GCC and (Apple) clang agree. */
#ifndef GPTOSS_NEON_INTERNAL_H
#define GPTOSS_NEON_INTERNAL_H

#if !defined(__aarch64__) && !defined(_M_ARM64)
#error "the NEON kernels are AArch64 only (they use A64-only intrinsics such as vaddvq_f32)"
#endif

#include <arm_neon.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"

#define NEON_INLINE static inline __attribute__((always_inline))

/* Fully unrolls the short loops over a tile's tokens (T <= 4 once inlined)
 * and over a block's vectors, so their accumulators live in registers rather
 * than on the stack whatever the optimisation level. GCC and clang both
 * honour this spelling. */
#define NEON_UNROLL _Pragma("GCC unroll 8")

/* Tiling: a kernel walks NEON_ROW_TILE rows at a time (their weights stay in
 * cache) and, for each, NEON_TOKEN_TILE tokens per pass, so every decoded
 * weight vector feeds up to NEON_TOKEN_TILE tokens straight from registers. */
enum { NEON_TOKEN_TILE = 4, NEON_ROW_TILE = 8 };

static inline size_t neon_min(size_t a, size_t b) { return a < b ? a : b; }

/* The kernels of neon.c that neon_dotprod.c shares (signatures as in kernels.h). */
void gptoss_neon_matmul_bf16(const uint16_t *w, size_t rows, size_t cols, const float *x, size_t n_tokens,
                             float *y, size_t ldy);
void gptoss_neon_matmul_mxfp4(const uint8_t *blocks, const uint8_t *scales, size_t rows, size_t cols,
                              const float *x, size_t n_tokens, float *y, size_t ldy);
void gptoss_neon_quantize_q8(const float *x, size_t cols, int8_t *q, float *scale, int32_t *sum);

/* One 16-byte MXFP4 block as its 32 values times 2 (int8, see
 * gptoss_fp4_times2) in column order: tbl decodes the low nibbles (even
 * columns) and the high nibbles (odd columns), zip interleaves them. */
NEON_INLINE void neon_decode_fp4x2(const uint8_t *block, int8x16_t table, int8x16_t out[2]) {
    const uint8x16_t bytes = vld1q_u8(block);
    const int8x16_t even = vqtbl1q_s8(table, vandq_u8(bytes, vdupq_n_u8(15)));
    const int8x16_t odd = vqtbl1q_s8(table, vshrq_n_u8(bytes, 4));
    out[0] = vzip1q_s8(even, odd);
    out[1] = vzip2q_s8(even, odd);
}

/* One IEEE half to f32 (exact, fcvt), inline: no call in the tail loops. */
NEON_INLINE float neon_f16_to_f32(uint16_t h) {
    return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

/* 2^(s-128) for four E8M0 bytes at s (any alignment): the block scale at half
 * value, undoing the x2 of the int8 table. Built from the float bits: the
 * biased exponent is s-1, or a subnormal for s < 2, so every value is exact. */
NEON_INLINE float32x4_t neon_e8m0_half_x4(const uint8_t *s) {
    uint32_t packed;
    memcpy(&packed, s, sizeof packed);
    const uint32x4_t e = vmovl_u16(vget_low_u16(vmovl_u8(vcreate_u8((uint64_t)packed))));
    const uint32x4_t normal = vshlq_n_u32(vsubq_u32(e, vdupq_n_u32(1)), 23);
    const uint32x4_t subnormal =
        vshlq_u32(vdupq_n_u32(0x00800000u), vreinterpretq_s32_u32(vsubq_u32(e, vdupq_n_u32(2))));
    return vreinterpretq_f32_u32(vbslq_u32(vcgeq_u32(e, vdupq_n_u32(2)), normal, subnormal));
}

/* The same for one byte. */
NEON_INLINE float neon_e8m0_half(uint8_t s) {
    const uint32_t bits = s >= 2 ? (uint32_t)(s - 1) << 23 : 0x00800000u >> (2 - s);
    float out;
    memcpy(&out, &bits, sizeof out);
    return out;
}

#endif
