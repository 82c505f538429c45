/* linear.c - split a matmul's output rows across threads and add the bias. */
#include "linear.h"

#include "numeric.h"

/* Rows per work item: small enough to balance two threads on short matrices,
 * large enough that each item streams a useful run of weights. */
enum { ROWS_PER_CHUNK = 16 };

static void add_bias(const uint16_t *bias, size_t rows, size_t n_tokens, float *y) {
    if (!bias) return;
    for (size_t t = 0; t < n_tokens; t++)
        for (size_t r = 0; r < rows; r++) y[t * rows + r] += bf16_to_f32(bias[r]);
}

void gptoss_linear_bf16(const gptoss_kernels *k, const uint16_t *w, const uint16_t *bias, size_t rows,
                        size_t cols, const float *x, size_t n_tokens, float *y) {
    const long n_chunks = (long)((rows + ROWS_PER_CHUNK - 1) / ROWS_PER_CHUNK);
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n_chunks; i++) {
        size_t r0 = (size_t)i * ROWS_PER_CHUNK;
        size_t count = rows - r0 < ROWS_PER_CHUNK ? rows - r0 : ROWS_PER_CHUNK;
        k->matmul_bf16(w + r0 * cols, count, cols, x, n_tokens, y + r0, rows);
    }
    add_bias(bias, rows, n_tokens, y);
}

void gptoss_linear_mxfp4(const gptoss_kernels *k, const uint8_t *blocks, const uint8_t *scales,
                         const uint16_t *bias, size_t rows, size_t cols, const float *x, size_t n_tokens,
                         float *y) {
    const size_t n_blocks = cols / 32;
    const long n_chunks = (long)((rows + ROWS_PER_CHUNK - 1) / ROWS_PER_CHUNK);
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n_chunks; i++) {
        size_t r0 = (size_t)i * ROWS_PER_CHUNK;
        size_t count = rows - r0 < ROWS_PER_CHUNK ? rows - r0 : ROWS_PER_CHUNK;
        k->matmul_mxfp4(blocks + r0 * n_blocks * 16, scales + r0 * n_blocks, count, cols, x, n_tokens, y + r0,
                        rows);
    }
    add_bias(bias, rows, n_tokens, y);
}
