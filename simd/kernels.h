/* kernels.h - the matmul kernels every ISA implements with the same signatures.
 *
 * Weights are stored row-major as [rows][cols] (PyTorch [out, in]); x holds
 * n_tokens activation vectors of cols floats each. A kernel computes a block of
 * rows for every token; callers split rows across threads. The scalar set
 * (simd/scalar.c) is the reference the other sets are tested against. */
#ifndef GPTOSS_KERNELS_H
#define GPTOSS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "gptoss.h"

typedef struct gptoss_kernels {
    const char *name;
    /* y[t*ldy + r] = sum_c bf16(w[r*cols + c]) * x[t*cols + c]
     * for r < rows, t < n_tokens. */
    void (*matmul_bf16)(const uint16_t *w, size_t rows, size_t cols, const float *x, size_t n_tokens,
                        float *y, size_t ldy);
    /* Same with MXFP4 weights: blocks [rows][cols/32][16] (low nibble = even
     * column), scales [rows][cols/32] (E8M0). cols is a multiple of 32. */
    void (*matmul_mxfp4)(const uint8_t *blocks, const uint8_t *scales, size_t rows, size_t cols,
                         const float *x, size_t n_tokens, float *y, size_t ldy);
} gptoss_kernels;

extern const gptoss_kernels gptoss_kernels_scalar;

/* The kernel set for isa (AUTO: the best this CPU runs). Fails with
 * GPTOSS_ERROR_UNSUPPORTED naming the ISA if it is unavailable. */
gptoss_status gptoss_kernels_select(gptoss_kernel_isa isa, const gptoss_kernels **out);

#endif
