/* linear.h - y = W x + b over a batch, rows split across OpenMP threads. */
#ifndef GPTOSS_LINEAR_H
#define GPTOSS_LINEAR_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

/* y[t][r] = W[r] . x[t] + bias[r] for n_tokens rows of x ([n][cols]) into y ([n][rows]).
 * bias may be NULL. */
void gptoss_linear_bf16(const gptoss_kernels *kernels, const uint16_t *w, const uint16_t *bias, size_t rows,
                        size_t cols, const float *x, size_t n_tokens, float *y);

/* Same for an MXFP4 matrix given as blocks [rows][cols/32][16] and scales [rows][cols/32]. */
void gptoss_linear_mxfp4(const gptoss_kernels *kernels, const uint8_t *blocks, const uint8_t *scales,
                         const uint16_t *bias, size_t rows, size_t cols, const float *x, size_t n_tokens,
                         float *y);

#endif
