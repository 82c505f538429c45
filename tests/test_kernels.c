/* test_kernels.c - every SIMD kernel set against the scalar reference on
 * random shapes with ragged row counts, odd token counts, odd column counts
 * (BF16) and unaligned pointers. Integer work must match bit for bit; float
 * sums within a tolerance scaled by the sum of |terms|. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "numeric.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t next_u32(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}
static float next_normal(void) { /* sum of 4 uniforms: cheap and bounded */
    float s = 0;
    for (int i = 0; i < 4; i++) s += (float)(next_u32() & 0xffffff) / 16777216.0f - 0.5f;
    return s * 1.7f;
}

/* The SIMD sets this machine runs. If the CPU reports an ISA the build must
 * have it too, so the comparison cannot silently test nothing. */
static int simd_sets(const gptoss_kernels **sets) {
    int n = 0;
    const gptoss_kernel_isa isas[] = {GPTOSS_KERNELS_AVX2, GPTOSS_KERNELS_AVX512, GPTOSS_KERNELS_NEON};
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
        const gptoss_kernels *k;
        if (gptoss_kernels_select(isas[i], &k) == GPTOSS_OK) sets[n++] = k;
    }
#if defined(__x86_64__)
    /* Dispatch prefers the VNNI set; the plain AVX-512 one must be right too. */
    if (gptoss_kernels_available(GPTOSS_KERNELS_AVX512) && sets[n - 1] == &gptoss_kernels_avx512_vnni)
        sets[n++] = &gptoss_kernels_avx512;
#endif
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        cr_assert(gptoss_kernels_available(GPTOSS_KERNELS_AVX2), "CPU has AVX2 but no avx2 kernels were built");
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))
        cr_assert(gptoss_kernels_available(GPTOSS_KERNELS_AVX512), "CPU has AVX-512 but no avx512 kernels");
#endif
#if defined(__aarch64__)
    cr_assert(gptoss_kernels_available(GPTOSS_KERNELS_NEON), "no neon kernels on AArch64");
#endif
    return n;
}

static const size_t row_counts[] = {1, 2, 3, 5, 7, 8, 13, 16, 17, 31, 33, 64, 65};
static const size_t token_counts[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A random shape: rows, tokens and (block-multiple or any) cols. */
typedef struct shape {
    size_t rows, tokens, cols, ldy;
} shape;

static shape random_shape(int any_cols) {
    shape s;
    s.rows = row_counts[next_u32() % COUNT(row_counts)];
    s.tokens = token_counts[next_u32() % COUNT(token_counts)];
    s.cols = 32 * (1 + next_u32() % 12);
    if (next_u32() % 4 == 0) s.cols = 32 * 90; /* the 20B's hidden size */
    if (any_cols) s.cols += next_u32() % 32;   /* ragged tail */
    s.ldy = s.rows + (next_u32() % 2) * 3;     /* sometimes a wider output stride */
    return s;
}

/* Compares y against want within tol[i] (per element); NaN never passes. */
static void compare(const char *what, const char *isa, const shape *s, const float *got, const float *want,
                    const float *tol) {
    for (size_t t = 0; t < s->tokens; t++)
        for (size_t r = 0; r < s->rows; r++) {
            size_t i = t * s->ldy + r;
            cr_assert(fabsf(got[i] - want[i]) <= tol[i],
                      "%s %s: rows %zu cols %zu tokens %zu: y[%zu][%zu] = %.9g, scalar %.9g (tol %.3g)", isa, what,
                      s->rows, s->cols, s->tokens, t, r, got[i], want[i], tol[i]);
        }
}

enum { TRIALS = 60 };

Test(kernels, bf16_exact) {
    const gptoss_kernels *sets[4];
    int n_sets = simd_sets(sets);
    for (int trial = 0; trial < TRIALS; trial++) {
        shape s = random_shape(1);
        /* +1: deliberately misaligned starts */
        uint16_t *w = malloc((s.rows * s.cols + 1) * sizeof *w);
        float *x = malloc((s.tokens * s.cols + 1) * sizeof *x);
        size_t ny = s.tokens * s.ldy;
        float *want = calloc(ny, sizeof *want), *got = calloc(ny, sizeof *got), *tol = calloc(ny, sizeof *tol);
        for (size_t i = 0; i < s.rows * s.cols + 1; i++) w[i] = f32_to_bf16(next_normal() * 0.1f);
        for (size_t i = 0; i < s.tokens * s.cols + 1; i++) x[i] = next_normal();
        gptoss_kernels_scalar.matmul_bf16(w + 1, s.rows, s.cols, x + 1, s.tokens, want, s.ldy);
        for (size_t t = 0; t < s.tokens; t++)
            for (size_t r = 0; r < s.rows; r++) {
                double sum = 0;
                for (size_t c = 0; c < s.cols; c++)
                    sum += fabs(bf16_to_f32(w[1 + r * s.cols + c]) * x[1 + t * s.cols + c]);
                tol[t * s.ldy + r] = (float)(sum * 2e-6 + 1e-30);
            }
        for (int k = 0; k < n_sets; k++) {
            memset(got, 0, ny * sizeof *got);
            sets[k]->matmul_bf16(w + 1, s.rows, s.cols, x + 1, s.tokens, got, s.ldy);
            compare("matmul_bf16", sets[k]->name, &s, got, want, tol);
        }
        free(w), free(x), free(want), free(got), free(tol);
    }
}

/* Random MXFP4 weights with release-like scales (and some extreme ones). */
static void random_mxfp4(uint8_t *blocks, uint8_t *scales, size_t rows, size_t cols) {
    for (size_t i = 0; i < rows * cols / 2; i++) blocks[i] = (uint8_t)next_u32();
    for (size_t i = 0; i < rows * cols / 32; i++) {
        uint32_t pick = next_u32() % 16;
        scales[i] = pick == 0 ? 1 : pick == 1 ? 200 : (uint8_t)(115 + next_u32() % 11); /* 200: large, no float overflow */
    }
}

static float mxfp4_weight(const uint8_t *blocks, const uint8_t *scales, size_t cols, size_t r, size_t c) {
    uint8_t byte = blocks[r * cols / 2 + c / 2];
    return gptoss_fp4_values[c % 2 ? byte >> 4 : byte & 15] * e8m0_to_f32(scales[r * cols / 32 + c / 32]);
}

Test(kernels, mxfp4_exact) {
    const gptoss_kernels *sets[4];
    int n_sets = simd_sets(sets);
    for (int trial = 0; trial < TRIALS; trial++) {
        shape s = random_shape(0);
        uint8_t *blocks = malloc(s.rows * s.cols / 2 + 1), *scales = malloc(s.rows * s.cols / 32 + 1);
        float *x = malloc((s.tokens * s.cols + 1) * sizeof *x);
        size_t ny = s.tokens * s.ldy;
        float *want = calloc(ny, sizeof *want), *got = calloc(ny, sizeof *got), *tol = calloc(ny, sizeof *tol);
        random_mxfp4(blocks + 1, scales + 1, s.rows, s.cols);
        for (size_t i = 0; i < s.tokens * s.cols + 1; i++) x[i] = next_normal();
        gptoss_kernels_scalar.matmul_mxfp4(blocks + 1, scales + 1, s.rows, s.cols, x + 1, s.tokens, want, s.ldy);
        for (size_t t = 0; t < s.tokens; t++)
            for (size_t r = 0; r < s.rows; r++) {
                double sum = 0;
                for (size_t c = 0; c < s.cols; c++)
                    sum += fabs(mxfp4_weight(blocks + 1, scales + 1, s.cols, r, c) * x[1 + t * s.cols + c]);
                tol[t * s.ldy + r] = (float)(sum * 2e-6 + 1e-30);
            }
        for (int k = 0; k < n_sets; k++) {
            memset(got, 0, ny * sizeof *got);
            sets[k]->matmul_mxfp4(blocks + 1, scales + 1, s.rows, s.cols, x + 1, s.tokens, got, s.ldy);
            compare("matmul_mxfp4", sets[k]->name, &s, got, want, tol);
        }
        free(blocks), free(scales), free(x), free(want), free(got), free(tol);
    }
}

/* Quantised activations for tokens x cols, by the scalar reference. */
typedef struct q8_buffers {
    int8_t *q;
    float *scale;
    int32_t *sum;
    gptoss_q8_acts acts;
} q8_buffers;

static q8_buffers quantize_all(const float *x, size_t tokens, size_t cols) {
    q8_buffers b;
    b.q = malloc(tokens * cols + 1);
    b.scale = malloc((tokens * cols / 32 + 1) * sizeof(float));
    b.sum = malloc((tokens * cols / 32 + 1) * sizeof(int32_t));
    for (size_t t = 0; t < tokens; t++)
        gptoss_kernels_scalar.quantize_q8(x + t * cols, cols, b.q + 1 + t * cols, b.scale + 1 + t * cols / 32,
                                          b.sum + 1 + t * cols / 32);
    b.acts = (gptoss_q8_acts){b.q + 1, b.scale + 1, b.sum + 1, cols};
    return b;
}

static void free_q8(q8_buffers *b) { free(b->q), free(b->scale), free(b->sum); }

Test(kernels, quantize_q8_bit_identical) {
    const gptoss_kernels *sets[4];
    int n_sets = simd_sets(sets);
    for (int trial = 0; trial < TRIALS; trial++) {
        size_t cols = 32 * (1 + next_u32() % 100);
        float *x = malloc((cols + 1) * sizeof *x);
        for (size_t i = 0; i < cols + 1; i++) x[i] = next_normal() * (trial % 3 == 0 ? 1000.0f : 1.0f);
        if (trial % 5 == 0) memset(x + 1, 0, 32 * sizeof *x); /* an all-zero block */
        if (trial % 7 == 0) x[1 + cols / 2] = 0.5f * (float)(trial + 1); /* exact halves and ties */
        size_t nb = cols / 32;
        int8_t *q0 = malloc(cols), *q1 = malloc(cols + 1);
        float *s0 = malloc(nb * sizeof *s0), *s1 = malloc((nb + 1) * sizeof *s1);
        int32_t *u0 = malloc(nb * sizeof *u0), *u1 = malloc((nb + 1) * sizeof *u1);
        gptoss_kernels_scalar.quantize_q8(x + 1, cols, q0, s0, u0);
        for (int k = 0; k < n_sets; k++) {
            sets[k]->quantize_q8(x + 1, cols, q1 + 1, s1 + 1, u1 + 1);
            cr_assert(!memcmp(q0, q1 + 1, cols), "%s quantize_q8: values differ (cols %zu)", sets[k]->name, cols);
            cr_assert(!memcmp(s0, s1 + 1, nb * sizeof *s0), "%s quantize_q8: scales differ", sets[k]->name);
            cr_assert(!memcmp(u0, u1 + 1, nb * sizeof *u0), "%s quantize_q8: sums differ", sets[k]->name);
        }
        free(x), free(q0), free(q1), free(s0), free(s1), free(u0), free(u1);
    }
}

/* Tolerance for the fast kernels: the block dots are exact integers, so only
 * the float sum of per-block terms may differ: a few ulps of sum |term|. */
static float q8_tolerance(const double *terms, size_t n) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += fabs(terms[i]);
    return (float)(sum * 1e-6 + 1e-30);
}

Test(kernels, q8_dense) {
    const gptoss_kernels *sets[4];
    int n_sets = simd_sets(sets);
    for (int trial = 0; trial < TRIALS; trial++) {
        shape s = random_shape(0);
        size_t nb = s.cols / 32;
        int8_t *wq = malloc(s.rows * s.cols + 1);
        uint16_t *ws = malloc((s.rows * nb + 1) * sizeof *ws);
        for (size_t i = 0; i < s.rows * s.cols + 1; i++) wq[i] = (int8_t)(next_u32() % 255 - 127);
        for (size_t i = 0; i < s.rows * nb + 1; i++) ws[i] = gptoss_f32_to_f16(fabsf(next_normal()) * 0.01f);
        float *x = malloc(s.tokens * s.cols * sizeof *x);
        for (size_t i = 0; i < s.tokens * s.cols; i++) x[i] = next_normal();
        q8_buffers qx = quantize_all(x, s.tokens, s.cols);
        gptoss_q8_matrix w = {wq + 1, ws + 1};
        size_t ny = s.tokens * s.ldy;
        float *want = calloc(ny, sizeof *want), *got = calloc(ny, sizeof *got), *tol = calloc(ny, sizeof *tol);
        double *terms = malloc(nb * sizeof *terms);
        gptoss_kernels_scalar.matmul_q8(&w, s.rows, s.cols, &qx.acts, s.tokens, want, s.ldy);
        for (size_t t = 0; t < s.tokens; t++)
            for (size_t r = 0; r < s.rows; r++) {
                for (size_t b = 0; b < nb; b++) {
                    int32_t dot = 0;
                    for (int i = 0; i < 32; i++) dot += w.q[r * s.cols + b * 32 + i] * qx.acts.q[t * s.cols + b * 32 + i];
                    terms[b] = dot * (double)gptoss_f16_to_f32(w.scale[r * nb + b]) * qx.acts.scale[t * nb + b];
                }
                tol[t * s.ldy + r] = q8_tolerance(terms, nb);
            }
        for (int k = 0; k < n_sets; k++) {
            memset(got, 0, ny * sizeof *got);
            sets[k]->matmul_q8(&w, s.rows, s.cols, &qx.acts, s.tokens, got, s.ldy);
            compare("matmul_q8", sets[k]->name, &s, got, want, tol);
        }
        free(wq), free(ws), free(x), free(want), free(got), free(tol), free(terms);
        free_q8(&qx);
    }
}

/* Every SIMD matmul_mxfp4_q8 against the scalar one on shape s. */
static void check_mxfp4_q8(const gptoss_kernels *const *sets, int n_sets, shape s) {
    size_t nb = s.cols / 32;
    uint8_t *blocks = malloc(s.rows * s.cols / 2 + 1), *scales = malloc(s.rows * nb + 1);
    random_mxfp4(blocks + 1, scales + 1, s.rows, s.cols);
    float *x = malloc(s.tokens * s.cols * sizeof *x);
    for (size_t i = 0; i < s.tokens * s.cols; i++) x[i] = next_normal();
    q8_buffers qx = quantize_all(x, s.tokens, s.cols);
    size_t ny = s.tokens * s.ldy;
    float *want = calloc(ny, sizeof *want), *got = calloc(ny, sizeof *got), *tol = calloc(ny, sizeof *tol);
    double *terms = malloc(nb * sizeof *terms);
    gptoss_kernels_scalar.matmul_mxfp4_q8(blocks + 1, scales + 1, s.rows, s.cols, &qx.acts, s.tokens, want, s.ldy);
    for (size_t t = 0; t < s.tokens; t++)
        for (size_t r = 0; r < s.rows; r++) {
            for (size_t b = 0; b < nb; b++) {
                int32_t dot = 0;
                for (int i = 0; i < 32; i++) {
                    uint8_t byte = blocks[1 + r * s.cols / 2 + b * 16 + i / 2];
                    dot += gptoss_fp4_times2[i % 2 ? byte >> 4 : byte & 15] * qx.acts.q[t * s.cols + b * 32 + i];
                }
                terms[b] = dot * ldexp(1.0, scales[1 + r * nb + b] - 128) * qx.acts.scale[t * nb + b];
            }
            tol[t * s.ldy + r] = q8_tolerance(terms, nb);
        }
    for (int k = 0; k < n_sets; k++) {
        memset(got, 0, ny * sizeof *got);
        sets[k]->matmul_mxfp4_q8(blocks + 1, scales + 1, s.rows, s.cols, &qx.acts, s.tokens, got, s.ldy);
        compare("matmul_mxfp4_q8", sets[k]->name, &s, got, want, tol);
    }
    free(blocks), free(scales), free(x), free(want), free(got), free(tol), free(terms);
    free_q8(&qx);
}

Test(kernels, mxfp4_q8) {
    const gptoss_kernels *sets[4];
    int n_sets = simd_sets(sets);
    for (int trial = 0; trial < TRIALS; trial++) check_mxfp4_q8(sets, n_sets, random_shape(0));
}

/* Wide rows: several row tiles and column chunks, token counts past any
 * register tile's, and one or two tokens over rows longer than a stream
 * kernel's column chunk. */
Test(kernels, mxfp4_q8_wide_panels) {
    const gptoss_kernels *sets[4];
    int n_sets = simd_sets(sets);
    const shape wide[] = {{33, 41, 32 * 180, 35}, {17, 128, 32 * 90, 17}, {5, 21, 32 * 300 + 32, 5},
                          {9, 1, 32 * 301, 9},     {6, 2, 32 * 257, 7}};
    for (size_t i = 0; i < COUNT(wide); i++) check_mxfp4_q8(sets, n_sets, wide[i]);
}

/* The fast kernels approximate the exact ones: int8 activations cost ~1%. */
Test(kernels, fast_close_to_exact) {
    enum { ROWS = 16, COLS = 2880, TOKENS = 3 };
    uint8_t *blocks = malloc(ROWS * COLS / 2), *scales = malloc(ROWS * COLS / 32);
    random_mxfp4(blocks, scales, ROWS, COLS);
    for (size_t i = 0; i < ROWS * COLS / 32; i++) scales[i] = (uint8_t)(118 + i % 6);
    float *x = malloc(TOKENS * COLS * sizeof *x), exact[TOKENS * ROWS], fast[TOKENS * ROWS];
    for (size_t i = 0; i < TOKENS * COLS; i++) x[i] = next_normal();
    q8_buffers qx = quantize_all(x, TOKENS, COLS);
    gptoss_kernels_scalar.matmul_mxfp4(blocks, scales, ROWS, COLS, x, TOKENS, exact, ROWS);
    gptoss_kernels_scalar.matmul_mxfp4_q8(blocks, scales, ROWS, COLS, &qx.acts, TOKENS, fast, ROWS);
    float scale = 0;
    for (int i = 0; i < TOKENS * ROWS; i++) scale = fmaxf(scale, fabsf(exact[i]));
    for (int i = 0; i < TOKENS * ROWS; i++)
        cr_expect(fabsf(fast[i] - exact[i]) <= 0.02f * scale, "y[%d]: fast %g exact %g", i, fast[i], exact[i]);
    free(blocks), free(scales), free(x);
    free_q8(&qx);
}

Test(kernels, f16_round_trip) {
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue; /* NaN payloads */
        cr_assert_eq(gptoss_f32_to_f16(gptoss_f16_to_f32((uint16_t)h)), h, "half %#x", h);
    }
    cr_expect_eq(gptoss_f32_to_f16(1.0f), 0x3c00);
    cr_expect_eq(gptoss_f32_to_f16(65520.0f), 0x7c00, "rounds to infinity");
    cr_expect_eq(gptoss_f32_to_f16(65519.0f), 0x7bff);
    cr_expect_eq(gptoss_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00, "tie to even");
    cr_expect_eq(gptoss_f32_to_f16(5.96e-8f), 0x0001, "smallest subnormal");
}

/* Every SIMD set has the peak loop gptoss-bench times, and it counts its work. */
Test(kernels, int8_peak_counts_its_multiply_adds) {
    const gptoss_kernels *sets[4];
    int n_sets = simd_sets(sets);
    for (int k = 0; k < n_sets; k++) {
        cr_assert_not_null(sets[k]->int8_peak, "%s has no int8_peak", sets[k]->name);
        const uint64_t ten = sets[k]->int8_peak(10), twenty = sets[k]->int8_peak(20);
        cr_expect(ten > 0 && twenty == 2 * ten, "%s: %llu then %llu multiply-adds", sets[k]->name,
                  (unsigned long long)ten, (unsigned long long)twenty);
        cr_expect_eq(sets[k]->int8_peak(0), 0);
    }
}

Test(kernels, dispatch_names) {
    gptoss_kernel_isa isa;
    cr_expect(gptoss_kernel_isa_parse("avx512", &isa) && isa == GPTOSS_KERNELS_AVX512);
    cr_expect(gptoss_kernel_isa_parse("scalar", &isa) && isa == GPTOSS_KERNELS_SCALAR);
    cr_expect(!gptoss_kernel_isa_parse("sse9", &isa));
    const gptoss_kernels *k;
    cr_expect_eq(gptoss_kernels_select(GPTOSS_KERNELS_AUTO, &k), GPTOSS_OK);
    cr_log_info("auto-selected kernels: %s", k->name);
#if defined(__x86_64__)
    cr_expect_eq(gptoss_kernels_select(GPTOSS_KERNELS_NEON, &k), GPTOSS_ERROR_UNSUPPORTED);
#endif
}
