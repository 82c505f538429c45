/* kernels.h - the matmul kernels every ISA implements with the same signatures.
 *
 * Weights are row-major [rows][cols] (PyTorch [out, in]); activations are
 * n_tokens vectors of cols values. A kernel computes a block of rows for every
 * token (callers split rows across threads); with several tokens it should
 * reuse each decoded weight block for all of them. The scalar set
 * (simd/scalar.c) defines the results the other sets are tested against.
 *
 * Two precisions:
 *  - exact: f32 activations against BF16 or MXFP4 weights, f32 accumulation.
 *  - fast:  activations quantised to int8 per 32-block (gptoss_q8_acts);
 *           MXFP4 weights as stored, dense weights requantised to int8 per
 *           32-block with an f16 scale (gptoss_q8_matrix). Block dot products
 *           are exact integers; only their scaled sum is floating point. */
#ifndef GPTOSS_KERNELS_H
#define GPTOSS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "gptoss.h"

enum { GPTOSS_QBLOCK = 32 };

/* n_tokens activation vectors quantised per 32-block:
 *   x[t][32b + i] ~= q[t][32b + i] * scale[t][b]
 * with scale = max|x in block| / 127 and q = round-to-nearest-even(x * 127 / max),
 * sum[t][b] = the sum of the block's 32 q values (lets kernels use unsigned
 * weights: dot(w + c, q) - c * sum = dot(w, q)). */
typedef struct gptoss_q8_acts {
    const int8_t *q;        /* [n_tokens][cols] */
    const float *scale;     /* [n_tokens][cols/32] */
    const int32_t *sum;     /* [n_tokens][cols/32] */
    size_t cols;
} gptoss_q8_acts;

/* A dense matrix requantised to int8 per 32-block of a row:
 *   W[r][32b + i] ~= q[r][32b + i] * f16(scale[r][b]) */
typedef struct gptoss_q8_matrix {
    const int8_t *q;        /* [rows][cols] */
    const uint16_t *scale;  /* [rows][cols/32], IEEE half */
} gptoss_q8_matrix;

typedef struct gptoss_kernels {
    const char *name;           /* "scalar", "avx2", "avx512", "avx512-vnni", "neon", "neon-dotprod" */
    gptoss_kernel_isa isa;

    /* exact: y[t*ldy + r] = sum_c bf16(w[r*cols + c]) * x[t*cols + c], r < rows, t < n_tokens.
     * cols may be any size. */
    void (*matmul_bf16)(const uint16_t *w, size_t rows, size_t cols, const float *x, size_t n_tokens,
                        float *y, size_t ldy);

    /* exact: the same with MXFP4 weights: blocks [rows][cols/32][16] (low nibble =
     * even column), scales [rows][cols/32] (E8M0, 2^(s-127)). cols % 32 == 0. */
    void (*matmul_mxfp4)(const uint8_t *blocks, const uint8_t *scales, size_t rows, size_t cols,
                         const float *x, size_t n_tokens, float *y, size_t ldy);

    /* fast: quantises one vector of cols (% 32 == 0) floats as gptoss_q8_acts
     * describes. Must be bit-identical to the scalar version. */
    void (*quantize_q8)(const float *x, size_t cols, int8_t *q, float *scale, int32_t *sum);

    /* fast: y[t*ldy + r] = sum_b (int dot of block b) * f16(w.scale[r][b]) * x.scale[t][b].
     * w points at the first of the rows; cols % 32 == 0. */
    void (*matmul_q8)(const gptoss_q8_matrix *w, size_t rows, size_t cols, const gptoss_q8_acts *x,
                      size_t n_tokens, float *y, size_t ldy);

    /* fast: MXFP4 weights against int8 activations:
     * y[t*ldy + r] = sum_b (int dot of 2*FP4 values with q) * 2^(s-128) * x.scale[t][b]. */
    void (*matmul_mxfp4_q8)(const uint8_t *blocks, const uint8_t *scales, size_t rows, size_t cols,
                            const gptoss_q8_acts *x, size_t n_tokens, float *y, size_t ldy);

    /* bench: the int8 dot product the fast kernels are built on, issued back
     * to back on registers (independent chains) for `rounds` rounds.
     * Returns the multiply-adds done, so gptoss-bench can set the prefill
     * kernels against the core's arithmetic peak. NULL in the scalar set. */
    uint64_t (*int8_peak)(uint64_t rounds);
} gptoss_kernels;

/* Every kernel set compiled into this binary; NULL where the build lacks one.
 * Each ISA file defines its set; dispatch.c decides which the CPU can run. */
extern const gptoss_kernels gptoss_kernels_scalar;
extern const gptoss_kernels gptoss_kernels_avx2;
extern const gptoss_kernels gptoss_kernels_avx512;       /* F, BW, VL, DQ */
extern const gptoss_kernels gptoss_kernels_avx512_vnni;  /* plus VNNI int8 dot products */
extern const gptoss_kernels gptoss_kernels_neon;
extern const gptoss_kernels gptoss_kernels_neon_dotprod; /* plus sdot */

/* The kernel set for isa (AUTO: the best this CPU runs). Fails with
 * GPTOSS_ERROR_UNSUPPORTED naming the ISA if the CPU or build lacks it. */
gptoss_status gptoss_kernels_select(gptoss_kernel_isa isa, const gptoss_kernels **out);

/* 1 if this CPU (and build) can run isa. */
int gptoss_kernels_available(gptoss_kernel_isa isa);

/* "scalar", "avx2", "avx512", "neon"; NULL for AUTO/unknown. */
const char *gptoss_kernel_isa_name(gptoss_kernel_isa isa);

/* Parses an ISA name ("auto" included); returns 0 if unknown. */
int gptoss_kernel_isa_parse(const char *name, gptoss_kernel_isa *out);

/* Scalar helpers shared by the ISA files for tails and set-up. */
float gptoss_f16_to_f32(uint16_t h);
uint16_t gptoss_f32_to_f16(float f);

/* 2 x the FP4 values as int8: the integers MXFP4 decodes to before the
 * half-scale 2^(s-128) is applied. */
extern const int8_t gptoss_fp4_times2[16];

/* The column order of the AVX2 and AVX-512 MXFP4 prefill tiles, and so of the
 * activations put against them: in each 8 columns of a block, the 4 even
 * ones, then the 4 odd ones (repeated for bytes 8..15). Rows can then be
 * moved into lanes while still packed, 4 bytes (8 columns) per lane, and
 * decode to one register of even and one of odd columns. */
extern const int8_t gptoss_fp4_tile_order[16];

#endif
