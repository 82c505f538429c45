/* test_rope.c - YaRN RoPE tables and the half-split rotation. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "rope.h"

static gptoss_config release_config(uint32_t head_dim) {
    gptoss_config c = {0};
    c.head_dim = head_dim;
    c.rope_theta = 150000.0f;
    c.rope_scaling_factor = 32.0f;
    c.rope_beta_fast = 32.0f;
    c.rope_beta_slow = 1.0f;
    c.rope_original_max_position = 4096;
    return c;
}

/* FORMAT.md section 6: for d = 64, low = 8.0927..., high = 17.398..., m = 1.3465... */
Test(rope, yarn_constants) {
    gptoss_config c = release_config(64);
    gptoss_rope rope;
    cr_assert_eq(gptoss_rope_init(&rope, &c), GPTOSS_OK);
    cr_expect(fabs(rope.ramp_low - 8.092779115512402) < 1e-12, "low = %.15f", rope.ramp_low);
    cr_expect(fabs(rope.ramp_high - 17.39802450158856) < 1e-12, "high = %.15f", rope.ramp_high);
    cr_expect_float_eq(rope.concentration, 1.3465735902799727f, 1e-7);
    gptoss_rope_free(&rope);
}

Test(rope, truncate_rounds_ramp_bounds) {
    gptoss_config c = release_config(64);
    c.rope_truncate = 1;
    gptoss_rope rope;
    cr_assert_eq(gptoss_rope_init(&rope, &c), GPTOSS_OK);
    cr_expect(rope.ramp_low == 8.0 && rope.ramp_high == 18.0);
    gptoss_rope_free(&rope);
}

/* Below the ramp the original frequency, above it divided by the factor,
 * in between a linear blend; the table agrees with a float64 evaluation. */
static void check_table(uint32_t head_dim) {
    gptoss_config c = release_config(head_dim);
    gptoss_rope rope;
    cr_assert_eq(gptoss_rope_init(&rope, &c), GPTOSS_OK);
    const uint32_t half = head_dim / 2;
    double *w = malloc(half * sizeof *w);
    for (uint32_t i = 0; i < half; i++) {
        double f = pow(150000.0, -2.0 * i / head_dim);
        double ramp = fmin(fmax((i - rope.ramp_low) / (rope.ramp_high - rope.ramp_low), 0.0), 1.0);
        w[i] = f * (1 - ramp) + f / 32.0 * ramp;
        cr_expect(fabs(rope.inv_freq[i] - w[i]) <= 1e-6 * w[i], "d=%u inv_freq[%u] = %g, want %g", head_dim, i,
                  rope.inv_freq[i], w[i]);
        if (i < rope.ramp_low) cr_expect(fabs(w[i] - f) < 1e-15);
        if (i > rope.ramp_high) cr_expect(fabs(w[i] - f / 32.0) < 1e-15);
    }
    const double m = 0.1 * log(32.0) + 1.0;
    float *table = malloc(head_dim * sizeof *table);
    const uint32_t positions[] = {0, 1, 7, 100, 1000, 4095, 4096, 20000};
    for (size_t p = 0; p < sizeof positions / sizeof positions[0]; p++) {
        gptoss_rope_table(&rope, positions[p], table);
        for (uint32_t i = 0; i < half; i++) {
            /* float32 angles: position * w loses ~1 ulp of the product, so the
             * tolerance grows with the angle. */
            double angle = positions[p] * w[i], tol = 2e-6 + 2e-7 * angle;
            cr_expect(fabs(table[i] - m * cos(angle)) < tol, "cos p=%u i=%u", positions[p], i);
            cr_expect(fabs(table[half + i] - m * sin(angle)) < tol, "sin p=%u i=%u", positions[p], i);
        }
    }
    free(table);
    free(w);
    gptoss_rope_free(&rope);
}

Test(rope, tables_head_dim_64) { check_table(64); }
Test(rope, tables_head_dim_32) { check_table(32); }

Test(rope, rotates_halves_not_pairs) {
    gptoss_config c = release_config(8);
    gptoss_rope rope;
    cr_assert_eq(gptoss_rope_init(&rope, &c), GPTOSS_OK);
    float table[8], x[16];
    gptoss_rope_table(&rope, 5, table);
    for (int i = 0; i < 16; i++) x[i] = (float)(i + 1);
    gptoss_rope_apply(&rope, table, x, 2);
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < 4; i++) {
            float a = (float)(h * 8 + i + 1), b = (float)(h * 8 + i + 5);
            cr_expect_float_eq(x[h * 8 + i], a * table[i] - b * table[4 + i], 1e-5);
            cr_expect_float_eq(x[h * 8 + i + 4], b * table[i] + a * table[4 + i], 1e-5);
        }
    gptoss_rope_free(&rope);
}

Test(rope, no_scaling_is_plain_rope) {
    gptoss_config c = release_config(16);
    c.rope_scaling_factor = 1.0f;
    gptoss_rope rope;
    cr_assert_eq(gptoss_rope_init(&rope, &c), GPTOSS_OK);
    cr_expect(rope.concentration == 1.0f);
    for (uint32_t i = 0; i < 8; i++)
        cr_expect_float_eq(rope.inv_freq[i], (float)pow(150000.0, -2.0 * i / 16), 1e-6 * rope.inv_freq[i]);
    gptoss_rope_free(&rope);
}
