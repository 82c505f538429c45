/* neon_dotprod.c - the neon kernels with the ARMv8.2 dot-product extension
 * (compiled with -march=armv8.2-a+dotprod; dispatch.c hands this set out
 * only when the CPU reports it). sdot multiplies signed int8 directly, so the
 * 2*FP4 table values (tbl) and int8 weights need no sign tricks or offsets.
 * The exact kernels and quantize_q8 are neon.c's. */
#include "neon_internal.h"

#if !defined(__ARM_FEATURE_DOTPROD)
#error "neon_dotprod.c needs the dot-product extension (-march=armv8.2-a+dotprod)"
#endif

NEON_INLINE int32x4_t neon_dot_q8(int32x4_t acc, int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1) {
    return vdotq_s32(vdotq_s32(acc, w0, x0), w1, x1);
}

NEON_INLINE int32x4_t neon_dot_fp4(int32x4_t acc, int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1) {
    return vdotq_s32(vdotq_s32(acc, w0, x0), w1, x1);
}

#include "neon_q8_kernels.h"

const gptoss_kernels gptoss_kernels_neon_dotprod = {
    .name = "neon-dotprod",
    .isa = GPTOSS_KERNELS_NEON,
    .matmul_bf16 = gptoss_neon_matmul_bf16,
    .matmul_mxfp4 = gptoss_neon_matmul_mxfp4,
    .quantize_q8 = gptoss_neon_quantize_q8,
    .matmul_q8 = matmul_q8,
    .matmul_mxfp4_q8 = matmul_mxfp4_q8,
    .int8_peak = int8_peak,
};
