/* avx512_internal.h - kernels avx512.c defines for both AVX-512 sets: only the
 * int8 dot products differ with VNNI, so avx512_vnni.c reuses these. Include
 * only from files compiled with the AVX-512 flags. */
#ifndef GPTOSS_AVX512_INTERNAL_H
#define GPTOSS_AVX512_INTERNAL_H

#include "kernels.h"

void gptoss_avx512_matmul_bf16(const uint16_t *w, size_t rows, size_t cols, const float *x, size_t n_tokens,
                               float *y, size_t ldy);
void gptoss_avx512_matmul_mxfp4(const uint8_t *blocks, const uint8_t *scales, size_t rows, size_t cols,
                                const float *x, size_t n_tokens, float *y, size_t ldy);
void gptoss_avx512_quantize_q8(const float *x, size_t cols, int8_t *q, float *scale, int32_t *sum);

#endif
