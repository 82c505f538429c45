/* avx512_vnni.c - AVX-512 with VNNI: vpdpbusd multiplies unsigned by signed
 * bytes and adds the four products of each 32-bit lane into an int32
 * accumulator in one instruction, without maddubs' int16 saturation. The
 * exact kernels and quantize_q8 are avx512.c's; the int8 kernels are
 * avx512_int8.h with these dot products. */
#include <immintrin.h>

#include "avx512_internal.h"

/* int8 weights w + 128 are unsigned 1..255; the bias comes back out through
 * the activation sums. */
enum { Q8_BIAS = 128 };

static inline __m512i q8_encode(__m512i w) { return _mm512_xor_si512(w, _mm512_set1_epi8((char)0x80)); }

static inline __m512i dot_q8(__m512i acc, __m512i w, __m512i x) { return _mm512_dpbusd_epi32(acc, w, x); }

static inline __m512i dot2_fp4(__m512i acc, __m512i u0, __m512i x0, __m512i u1, __m512i x1) {
    return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(acc, u0, x0), u1, x1);
}

#include "avx512_int8.h"

const gptoss_kernels gptoss_kernels_avx512_vnni = {
    .name = "avx512-vnni",
    .isa = GPTOSS_KERNELS_AVX512,
    .matmul_bf16 = gptoss_avx512_matmul_bf16,
    .matmul_mxfp4 = gptoss_avx512_matmul_mxfp4,
    .quantize_q8 = gptoss_avx512_quantize_q8,
    .matmul_q8 = int8_matmul_q8,
    .matmul_mxfp4_q8 = int8_matmul_mxfp4_q8,
    .int8_peak = int8_peak,
};
