/* linear.c - split a matmul's output rows across threads and add the bias. */
#include "linear.h"

#include <omp.h>
#include <stdlib.h>

#include "error.h"
#include "numeric.h"

gptoss_status q8_buffer_init(q8_buffer *b, size_t values) {
    b->q = malloc(values);
    b->scale = malloc((values / GPTOSS_QBLOCK + 1) * sizeof(float));
    b->sum = malloc((values / GPTOSS_QBLOCK + 1) * sizeof(int32_t));
    if (!b->q || !b->scale || !b->sum) {
        q8_buffer_free(b);
        return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory for quantised activations");
    }
    return GPTOSS_OK;
}

void q8_buffer_free(q8_buffer *b) {
    free(b->q);
    free(b->scale);
    free(b->sum);
    b->q = NULL;
    b->scale = NULL;
    b->sum = NULL;
}

gptoss_q8_acts gptoss_quantize_rows(const gptoss_kernels *k, const float *x, size_t n_tokens, size_t cols,
                                    q8_buffer *b) {
    const size_t nb = cols / GPTOSS_QBLOCK;
#pragma omp parallel for schedule(static) if (n_tokens > 1)
    for (long t = 0; t < (long)n_tokens; t++)
        k->quantize_q8(x + (size_t)t * cols, cols, b->q + (size_t)t * cols, b->scale + (size_t)t * nb,
                       b->sum + (size_t)t * nb);
    return (gptoss_q8_acts){b->q, b->scale, b->sum, cols};
}

gptoss_q8_acts gptoss_quantize_rows_two_part(const gptoss_kernels *k, const float *x, size_t n_tokens, size_t cols,
                                             float *residual, q8_buffer *b) {
    const size_t nb = cols / GPTOSS_QBLOCK;
    gptoss_q8_acts coarse = gptoss_quantize_rows(k, x, n_tokens, cols, b);
#pragma omp parallel for schedule(static) if (n_tokens > 1)
    for (long t = 0; t < (long)n_tokens; t++)
        for (size_t i = (size_t)t * cols; i < (size_t)(t + 1) * cols; i++)
            residual[i] = x[i] - (float)coarse.q[i] * coarse.scale[i / GPTOSS_QBLOCK];
    q8_buffer rest = {b->q + n_tokens * cols, b->scale + n_tokens * nb, b->sum + n_tokens * nb};
    gptoss_quantize_rows(k, residual, n_tokens, cols, &rest);
    return coarse; /* its rows run on into the residual's */
}

gptoss_q8_acts gptoss_q8_acts_offset(const gptoss_q8_acts *a, size_t first) {
    const size_t nb = a->cols / GPTOSS_QBLOCK;
    return (gptoss_q8_acts){a->q + first * a->cols, a->scale + first * nb, a->sum + first * nb, a->cols};
}

/* Whole multiples of 16 rows; about four items per thread so dynamic
 * imbalance stays small, but never so small that a decode item stops
 * streaming a long contiguous run of weights. */
size_t gptoss_rows_per_chunk(size_t rows, size_t n_tokens) {
    const size_t threads = (size_t)omp_get_max_threads();
    size_t chunk = rows / (threads * 4);
    const size_t floor = n_tokens > 1 ? 16 : 32;
    if (chunk < floor) chunk = floor;
    return (chunk + 15) / 16 * 16;
}

static void add_bias(const uint16_t *bias, size_t rows, size_t n_tokens, float *y) {
    if (!bias) return;
    for (size_t t = 0; t < n_tokens; t++)
        for (size_t r = 0; r < rows; r++) y[t * rows + r] += bf16_to_f32(bias[r]);
}

void gptoss_linear_bf16(const gptoss_kernels *k, const uint16_t *w, const uint16_t *bias, size_t rows, size_t cols,
                        const float *x, size_t n_tokens, float *y) {
    const size_t chunk = gptoss_rows_per_chunk(rows, n_tokens);
    const long n_chunks = (long)((rows + chunk - 1) / chunk);
#pragma omp parallel for schedule(dynamic, 1) if (n_chunks > 1)
    for (long i = 0; i < n_chunks; i++) {
        const size_t r0 = (size_t)i * chunk, count = rows - r0 < chunk ? rows - r0 : chunk;
        k->matmul_bf16(w + r0 * cols, count, cols, x, n_tokens, y + r0, rows);
    }
    add_bias(bias, rows, n_tokens, y);
}

void gptoss_linear_dense(const gptoss_kernels *k, const uint16_t *w, const gptoss_q8_matrix *w_q8,
                         const uint16_t *bias, size_t rows, size_t cols, const float *x, const gptoss_q8_acts *xq,
                         size_t n_tokens, float *y) {
    if (!w_q8 || !w_q8->q || !xq) {
        gptoss_linear_bf16(k, w, bias, rows, cols, x, n_tokens, y);
        return;
    }
    const size_t nb = cols / GPTOSS_QBLOCK;
    const size_t chunk = gptoss_rows_per_chunk(rows, n_tokens);
    const long n_chunks = (long)((rows + chunk - 1) / chunk);
#pragma omp parallel for schedule(dynamic, 1) if (n_chunks > 1)
    for (long i = 0; i < n_chunks; i++) {
        const size_t r0 = (size_t)i * chunk, count = rows - r0 < chunk ? rows - r0 : chunk;
        const gptoss_q8_matrix part = {w_q8->q + r0 * cols, w_q8->scale + r0 * nb};
        k->matmul_q8(&part, count, cols, xq, n_tokens, y + r0, rows);
    }
    add_bias(bias, rows, n_tokens, y);
}

void gptoss_linear_dense_two_part(const gptoss_kernels *k, const uint16_t *w, const gptoss_q8_matrix *w_q8,
                                  const uint16_t *bias, size_t rows, size_t cols, const float *x,
                                  const gptoss_q8_acts *xq, size_t n_tokens, float *parts, float *y) {
    if (!w_q8 || !w_q8->q || !xq) {
        gptoss_linear_bf16(k, w, bias, rows, cols, x, n_tokens, y);
        return;
    }
    gptoss_linear_dense(k, w, w_q8, NULL, rows, cols, x, xq, 2 * n_tokens, parts);
    const float *rest = parts + n_tokens * rows;
    for (size_t i = 0; i < n_tokens * rows; i++) y[i] = parts[i] + rest[i];
    add_bias(bias, rows, n_tokens, y);
}
