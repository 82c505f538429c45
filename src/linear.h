/* linear.h - y = W x + b over a batch, output rows split across OpenMP threads,
 * in either precision. */
#ifndef GPTOSS_LINEAR_H
#define GPTOSS_LINEAR_H

#include <stddef.h>
#include <stdint.h>

#include "gptoss.h"
#include "kernels.h"

/* Storage for int8-quantised activations of up to `values` floats. */
typedef struct q8_buffer {
    int8_t *q;
    float *scale;
    int32_t *sum;
} q8_buffer;

gptoss_status q8_buffer_init(q8_buffer *buffer, size_t values);
void q8_buffer_free(q8_buffer *buffer);

/* Quantises n_tokens rows of x ([n][cols], cols % 32 == 0) into buffer. */
gptoss_q8_acts gptoss_quantize_rows(const gptoss_kernels *kernels, const float *x, size_t n_tokens, size_t cols,
                                    q8_buffer *buffer);

/* Quantises n_tokens rows of x in two int8 parts: rows [0, n) hold x's
 * blocks, rows [n, 2n) what those miss (x minus their dequantised values).
 * A product summed over both parts carries about 1e-4 relative error from
 * the activations instead of int8's 5e-3. residual: n_tokens * cols floats
 * of scratch; buffer must hold 2 * n_tokens * cols values. */
gptoss_q8_acts gptoss_quantize_rows_two_part(const gptoss_kernels *kernels, const float *x, size_t n_tokens,
                                             size_t cols, float *residual, q8_buffer *buffer);

/* The view of rows [first, first + count) of quantised activations. */
gptoss_q8_acts gptoss_q8_acts_offset(const gptoss_q8_acts *acts, size_t first);

/* Rows per work item when `rows` output rows are split across threads. */
size_t gptoss_rows_per_chunk(size_t rows, size_t n_tokens);

/* y[t][r] = W[r] . x[t] + bias[r] for a BF16 matrix (bias may be NULL).
 * With w_q8 (an int8 copy, q != NULL) and xq (x quantised), runs the fast
 * int8 kernel instead. */
void gptoss_linear_dense(const gptoss_kernels *kernels, const uint16_t *w, const gptoss_q8_matrix *w_q8,
                         const uint16_t *bias, size_t rows, size_t cols, const float *x, const gptoss_q8_acts *xq,
                         size_t n_tokens, float *y);

/* gptoss_linear_dense for activations in two parts (gptoss_quantize_rows_two_part):
 * one int8 matmul over the 2 * n_tokens rows into parts ([2][n_tokens][rows]
 * floats of scratch), then y = part 1 + part 2 + bias. */
void gptoss_linear_dense_two_part(const gptoss_kernels *kernels, const uint16_t *w, const gptoss_q8_matrix *w_q8,
                                  const uint16_t *bias, size_t rows, size_t cols, const float *x,
                                  const gptoss_q8_acts *xq_two_part, size_t n_tokens, float *parts, float *y);

/* The exact BF16 path only. */
void gptoss_linear_bf16(const gptoss_kernels *kernels, const uint16_t *w, const uint16_t *bias, size_t rows,
                        size_t cols, const float *x, size_t n_tokens, float *y);

#endif
