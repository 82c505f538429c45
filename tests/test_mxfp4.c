/* test_mxfp4.c - MXFP4 decoding in the scalar kernel: every nibble at every
 * scale, in both nibble positions, BF16 conversion edges, and the vector
 * loops' exponential. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "numeric.h"

static const float fp4_spec[16] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f,
                                   -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

/* One row of 32 weights with a single non-zero nibble, dotted with a one-hot
 * activation at that column, must give exactly FP4[v] * 2^(s-127). */
Test(mxfp4, every_nibble_every_scale) {
    uint8_t blocks[16], scale;
    float x[32], y;
    for (int s = 0; s < 255; s++) {
        for (int v = 0; v < 16; v++) {
            for (int column = 0; column < 32; column++) {
                memset(blocks, 0, sizeof blocks);
                blocks[column / 2] = (uint8_t)(column % 2 ? v << 4 : v); /* low nibble = even column */
                scale = (uint8_t)s;
                memset(x, 0, sizeof x);
                x[column] = 1.0f;
                gptoss_kernels_scalar.matmul_mxfp4(blocks, &scale, 1, 32, x, 1, &y, 1);
                float want = ldexpf(fp4_spec[v], s - 127);
                cr_assert(y == want, "nibble %d scale %d column %d: got %a want %a", v, s, column, y, want);
            }
        }
    }
}

Test(mxfp4, scale_edges) {
    cr_expect(e8m0_to_f32(127) == 1.0f);
    cr_expect(e8m0_to_f32(128) == 2.0f);
    cr_expect(e8m0_to_f32(126) == 0.5f);
    cr_expect(e8m0_to_f32(0) == ldexpf(1.0f, -127)); /* subnormal, still exact */
    cr_expect(e8m0_to_f32(254) == ldexpf(1.0f, 127));
    cr_expect(isinf(e8m0_to_f32(255))); /* NaN code in the MX spec; never in real weights */
}

/* Several blocks and rows: each row's result is the sum of its blocks. */
Test(mxfp4, rows_and_blocks) {
    enum { ROWS = 3, COLS = 96 };
    uint8_t blocks[ROWS][COLS / 32][16], scales[ROWS][COLS / 32];
    float x[2][COLS], y[2][ROWS];
    unsigned seed = 12345;
    for (int r = 0; r < ROWS; r++)
        for (int b = 0; b < COLS / 32; b++) {
            scales[r][b] = (uint8_t)(120 + (r + b) % 6);
            for (int j = 0; j < 16; j++) blocks[r][b][j] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 16);
        }
    for (int t = 0; t < 2; t++)
        for (int c = 0; c < COLS; c++) x[t][c] = (float)((c * 7 + t * 3) % 11) - 5.0f;
    gptoss_kernels_scalar.matmul_mxfp4(&blocks[0][0][0], &scales[0][0], ROWS, COLS, &x[0][0], 2, &y[0][0], ROWS);
    for (int t = 0; t < 2; t++)
        for (int r = 0; r < ROWS; r++) {
            double want = 0.0;
            for (int c = 0; c < COLS; c++) {
                uint8_t byte = blocks[r][c / 32][(c % 32) / 2];
                int nibble = c % 2 ? byte >> 4 : byte & 15;
                want += ldexp(fp4_spec[nibble], scales[r][c / 32] - 127) * x[t][c];
            }
            cr_expect_float_eq(y[t][r], (float)want, 1e-5 * (fabs(want) + 1), "row %d token %d", r, t);
        }
}

Test(bf16, conversions) {
    cr_expect(bf16_to_f32(0x3f80) == 1.0f);
    cr_expect(bf16_to_f32(0xbf80) == -1.0f);
    cr_expect(bf16_to_f32(0x0000) == 0.0f);
    cr_expect(isinf(bf16_to_f32(0x7f80)));
    cr_expect(isnan(bf16_to_f32(0x7fc0)));
    cr_expect_eq(f32_to_bf16(1.0f), 0x3f80);
    cr_expect_eq(f32_to_bf16(1.00390625f), 0x3f80, "ties round to even");
    cr_expect_eq(f32_to_bf16(1.01171875f), 0x3f82, "ties round to even (up)");
    for (uint32_t bits = 0; bits < 0x7f80; bits += 7) /* every finite positive bf16 round-trips */
        cr_assert_eq(f32_to_bf16(bf16_to_f32((uint16_t)bits)), bits);
}

Test(bf16, matmul_matches_double) {
    enum { ROWS = 5, COLS = 37, TOKENS = 3 };
    uint16_t w[ROWS * COLS];
    float x[TOKENS * COLS], y[TOKENS * ROWS];
    for (int i = 0; i < ROWS * COLS; i++) w[i] = f32_to_bf16(sinf((float)i) * 0.5f);
    for (int i = 0; i < TOKENS * COLS; i++) x[i] = cosf((float)i * 0.3f);
    gptoss_kernels_scalar.matmul_bf16(w, ROWS, COLS, x, TOKENS, y, ROWS);
    for (int t = 0; t < TOKENS; t++)
        for (int r = 0; r < ROWS; r++) {
            double want = 0.0;
            for (int c = 0; c < COLS; c++) want += (double)bf16_to_f32(w[r * COLS + c]) * x[t * COLS + c];
            cr_expect_float_eq(y[t * ROWS + r], (float)want, 1e-5, "row %d token %d", r, t);
        }
}

/* exp_poly against double-precision exp over its whole range, every 1/4096:
 * at most 2 units in the last place. */
Test(exp_poly, within_2_ulp_of_exp) {
    double worst = 0;
    float worst_x = 0;
    for (int i = -87 * 4096; i <= 88 * 4096; i++) {
        const float x = (float)i / 4096.0f, got = exp_poly(x);
        const double want = exp((double)x), ulp = nextafterf((float)want, INFINITY) - (float)want;
        const double err = fabs(got - want) / ulp;
        if (err > worst) worst = err, worst_x = x;
    }
    cr_log_info("exp_poly: worst %.2f ulp at x = %g", worst, worst_x);
    cr_expect_leq(worst, 2.0, "exp_poly is %.2f ulp off at x = %g", worst, worst_x);
}
