/* kernel_check.c - every kernel set this CPU runs against the scalar
 * reference, without Criterion: built by scripts/test-neon.sh with a cross
 * compiler from simd/ and src/error.c alone and run under qemu-aarch64 (with
 * and without the dot-product extension). The checks follow
 * tests/test_kernels.c: random shapes with ragged row counts, odd token
 * counts, odd column counts (BF16), unaligned pointers and ldy > rows;
 * quantize_q8 bit for bit; float sums within a tolerance scaled by the sum
 * of |terms|. Also checks that the kernels write nothing outside y's rows.
 *
 *   kernel_check [--expect NAME] [--trials N] [--seed S]
 *
 * --expect: the set dispatch must pick for GPTOSS_KERNELS_NEON (on x86-64:
 * for AUTO), e.g. "neon" or "neon-dotprod"; a mismatch fails.
 * Prints "kernel_check: N passed, M failed" and exits 1 if M > 0. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "numeric.h"

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

static int passed, failed;

/* Records one check; prints the first few failures in full. */
static int check(int ok, const char *format, ...) __attribute__((format(printf, 2, 3)));
static int check(int ok, const char *format, ...) {
    if (ok) {
        passed++;
        return 1;
    }
    if (failed++ < 20) {
        va_list args;
        va_start(args, format);
        fputs("FAIL: ", stderr);
        vfprintf(stderr, format, args);
        fputc('\n', stderr);
        va_end(args);
    }
    return 0;
}

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

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "kernel_check: out of memory\n");
        exit(2);
    }
    return p;
}

/* ---- which sets to test ---------------------------------------------------- */

enum { MAX_SETS = 8 };
static const gptoss_kernels *sets[MAX_SETS];
static int n_sets;

static void add_set(const gptoss_kernels *k) {
    for (int i = 0; i < n_sets; i++)
        if (sets[i] == k) return;
    if (n_sets < MAX_SETS) sets[n_sets++] = k;
}

/* Every SIMD set the CPU runs, and dispatch's choice checked against the
 * hardware (and --expect). On AArch64 plain neon runs everywhere, so it is
 * tested even when dispatch picks neon-dotprod. */
static void pick_sets(const char *expect) {
    const gptoss_kernels *k = NULL;
#if defined(__aarch64__)
    check(gptoss_kernels_select(GPTOSS_KERNELS_NEON, &k) == GPTOSS_OK, "no neon kernels on AArch64");
    if (!k) return;
#if defined(__linux__)
    const int dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
    check(!strcmp(k->name, dotprod ? "neon-dotprod" : "neon"), "dispatch picked %s but the CPU %s dotprod",
          k->name, dotprod ? "has" : "lacks");
#endif
    const gptoss_kernels *automatic = NULL;
    check(gptoss_kernels_select(GPTOSS_KERNELS_AUTO, &automatic) == GPTOSS_OK && automatic == k,
          "AUTO picked %s, NEON picked %s", automatic ? automatic->name : "nothing", k->name);
    check(k->isa == GPTOSS_KERNELS_NEON, "%s: isa %d", k->name, (int)k->isa);
    add_set(&gptoss_kernels_neon);
    add_set(k);
#else
    const gptoss_kernel_isa isas[] = {GPTOSS_KERNELS_AVX2, GPTOSS_KERNELS_AVX512, GPTOSS_KERNELS_NEON};
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++)
        if (gptoss_kernels_select(isas[i], &k) == GPTOSS_OK) add_set(k);
    gptoss_kernels_select(GPTOSS_KERNELS_AUTO, &k);
#endif
    printf("kernel_check: dispatch picked %s; testing", k->name);
    for (int i = 0; i < n_sets; i++) printf(" %s", sets[i]->name);
    printf("\n");
    if (expect) check(!strcmp(k->name, expect), "dispatch picked %s, expected %s", k->name, expect);
}

/* ---- shapes and comparison ------------------------------------------------- */

static const size_t row_counts[] = {1, 2, 3, 5, 7, 8, 9, 13, 16, 17, 31, 33, 64, 65};
static const size_t token_counts[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 33};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct shape {
    size_t rows, tokens, cols, ldy;
} shape;

/* A random shape: rows, tokens and (block-multiple or any) cols; 1-15 blocks
 * covers every remainder of the 4-block groups, 90 is the 20B's hidden size. */
static shape random_shape(int any_cols) {
    shape s;
    s.rows = row_counts[next_u32() % COUNT(row_counts)];
    s.tokens = token_counts[next_u32() % COUNT(token_counts)];
    s.cols = 32 * (1 + next_u32() % 15);
    if (next_u32() % 4 == 0) s.cols = 32 * 90;
    if (any_cols) s.cols += next_u32() % 32; /* ragged tail */
    if (any_cols && next_u32() % 8 == 0) s.cols = 1 + next_u32() % 31; /* shorter than one vector group */
    s.ldy = s.rows + (next_u32() % 2) * 3;   /* sometimes a wider output stride */
    return s;
}

/* y gets a guard value everywhere; after a kernel, the gaps of a wide ldy must
 * still hold it. */
static const float GUARD = -12345.0f;
static void fill_guard(float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = GUARD;
}

/* Compares got with want within tol (per element); NaN never passes. One
 * check per call: the first mismatch is reported. */
static void compare(const char *what, const char *isa, const shape *s, const float *got, const float *want,
                    const float *tol) {
    for (size_t t = 0; t < s->tokens; t++)
        for (size_t r = 0; r < s->ldy; r++) {
            size_t i = t * s->ldy + r;
            if (r >= s->rows) {
                if (got[i] != GUARD) {
                    check(0, "%s %s: rows %zu cols %zu tokens %zu ldy %zu: wrote y[%zu][%zu] beyond rows", isa,
                          what, s->rows, s->cols, s->tokens, s->ldy, t, r);
                    return;
                }
                continue;
            }
            if (!(fabsf(got[i] - want[i]) <= tol[i])) {
                check(0, "%s %s: rows %zu cols %zu tokens %zu: y[%zu][%zu] = %.9g, scalar %.9g (tol %.3g)", isa, what,
                      s->rows, s->cols, s->tokens, t, r, got[i], want[i], tol[i]);
                return;
            }
        }
    check(1, "%s", "");
}

/* ---- exact kernels ----------------------------------------------------------- */

static void check_bf16(int trials) {
    for (int trial = 0; trial < trials; trial++) {
        shape s = random_shape(1);
        /* +1: deliberately misaligned starts */
        uint16_t *w = xmalloc((s.rows * s.cols + 1) * sizeof *w);
        float *x = xmalloc((s.tokens * s.cols + 1) * sizeof *x);
        size_t ny = s.tokens * s.ldy;
        float *want = xmalloc(ny * sizeof *want), *got = xmalloc((ny + 1) * sizeof *got);
        float *tol = xmalloc(ny * sizeof *tol);
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
            fill_guard(got, ny + 1);
            sets[k]->matmul_bf16(w + 1, s.rows, s.cols, x + 1, s.tokens, got + 1, s.ldy);
            compare("matmul_bf16", sets[k]->name, &s, got + 1, want, tol);
        }
        free(w), free(x), free(want), free(got), free(tol);
    }
}

/* Random MXFP4 weights with release-like scales and some extreme ones: tiny
 * (0-3: subnormal block scales) and huge, but not so huge that a row's sum
 * overflows (2^123 blocks can: then inf - inf or the summation order decides
 * the result). check_all_scales covers every scale byte. */
static void random_mxfp4(uint8_t *blocks, uint8_t *scales, size_t rows, size_t cols) {
    for (size_t i = 0; i < rows * cols / 2; i++) blocks[i] = (uint8_t)next_u32();
    for (size_t i = 0; i < rows * cols / 32; i++) {
        uint32_t pick = next_u32() % 16;
        scales[i] = pick == 0 ? 1 : pick == 1 ? 200 : pick == 2 ? (uint8_t)(next_u32() % 4)
                                                              : (uint8_t)(115 + next_u32() % 11);
    }
}

static float mxfp4_weight(const uint8_t *blocks, const uint8_t *scales, size_t cols, size_t r, size_t c) {
    uint8_t byte = blocks[r * cols / 2 + c / 2];
    return gptoss_fp4_values[c % 2 ? byte >> 4 : byte & 15] * e8m0_to_f32(scales[r * cols / 32 + c / 32]);
}

static void check_mxfp4(int trials) {
    for (int trial = 0; trial < trials; trial++) {
        shape s = random_shape(0);
        uint8_t *blocks = xmalloc(s.rows * s.cols / 2 + 1), *scales = xmalloc(s.rows * s.cols / 32 + 1);
        float *x = xmalloc((s.tokens * s.cols + 1) * sizeof *x);
        size_t ny = s.tokens * s.ldy;
        float *want = xmalloc(ny * sizeof *want), *got = xmalloc((ny + 1) * sizeof *got);
        float *tol = xmalloc(ny * sizeof *tol);
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
            fill_guard(got, ny + 1);
            sets[k]->matmul_mxfp4(blocks + 1, scales + 1, s.rows, s.cols, x + 1, s.tokens, got + 1, s.ldy);
            compare("matmul_mxfp4", sets[k]->name, &s, got + 1, want, tol);
        }
        free(blocks), free(scales), free(x), free(want), free(got), free(tol);
    }
}

/* ---- fast kernels ------------------------------------------------------------ */

typedef struct q8_buffers {
    int8_t *q;
    float *scale;
    int32_t *sum;
    gptoss_q8_acts acts;
} q8_buffers;

/* Quantised activations for tokens x cols by the scalar reference, at
 * misaligned addresses. */
static q8_buffers quantize_all(const float *x, size_t tokens, size_t cols) {
    q8_buffers b;
    b.q = xmalloc(tokens * cols + 1);
    b.scale = xmalloc((tokens * cols / 32 + 1) * sizeof(float));
    b.sum = xmalloc((tokens * cols / 32 + 1) * sizeof(int32_t));
    for (size_t t = 0; t < tokens; t++)
        gptoss_kernels_scalar.quantize_q8(x + t * cols, cols, b.q + 1 + t * cols, b.scale + 1 + t * cols / 32,
                                          b.sum + 1 + t * cols / 32);
    b.acts = (gptoss_q8_acts){b.q + 1, b.scale + 1, b.sum + 1, cols};
    return b;
}

static void free_q8(q8_buffers *b) { free(b->q), free(b->scale), free(b->sum); }

static void check_quantize(int trials) {
    for (int trial = 0; trial < trials; trial++) {
        size_t cols = 32 * (1 + next_u32() % 100);
        float *x = xmalloc((cols + 1) * sizeof *x);
        float magnitude = trial % 3 == 0 ? 1000.0f : trial % 3 == 1 ? 1.0f : 1e-30f;
        for (size_t i = 0; i < cols + 1; i++) x[i] = next_normal() * magnitude;
        if (trial % 5 == 0) memset(x + 1, 0, 32 * sizeof *x);                     /* an all-zero block */
        if (trial % 7 == 0) x[1 + cols / 2] = 0.5f * (float)(trial + 1);          /* exact halves and ties */
        if (trial % 11 == 0)                                                      /* ties at x * inverse */
            for (size_t i = 0; i < 32; i++) x[1 + i] = i == 0 ? 127.0f : (float)(i % 8) - 3.5f;
        if (trial % 13 == 0) x[cols] = -x[cols - 1] * 3.0f;                       /* negative maximum */
        size_t nb = cols / 32;
        int8_t *q0 = xmalloc(cols), *q1 = xmalloc(cols + 1);
        float *s0 = xmalloc(nb * sizeof *s0), *s1 = xmalloc((nb + 1) * sizeof *s1);
        int32_t *u0 = xmalloc(nb * sizeof *u0), *u1 = xmalloc((nb + 1) * sizeof *u1);
        gptoss_kernels_scalar.quantize_q8(x + 1, cols, q0, s0, u0);
        for (int k = 0; k < n_sets; k++) {
            sets[k]->quantize_q8(x + 1, cols, q1 + 1, s1 + 1, u1 + 1);
            check(!memcmp(q0, q1 + 1, cols), "%s quantize_q8: values differ (cols %zu, trial %d)", sets[k]->name,
                  cols, trial);
            check(!memcmp(s0, s1 + 1, nb * sizeof *s0), "%s quantize_q8: scales differ (trial %d)", sets[k]->name,
                  trial);
            check(!memcmp(u0, u1 + 1, nb * sizeof *u0), "%s quantize_q8: sums differ (trial %d)", sets[k]->name,
                  trial);
        }
        free(x), free(q0), free(q1), free(s0), free(s1), free(u0), free(u1);
    }
}

/* The block dots are exact integers: only the float sum of per-block terms
 * may differ, by a few ulps of sum |term|. */
static float q8_tolerance(const double *terms, size_t n) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += fabs(terms[i]);
    return (float)(sum * 1e-6 + 1e-30);
}

static void check_q8(int trials) {
    for (int trial = 0; trial < trials; trial++) {
        shape s = random_shape(0);
        size_t nb = s.cols / 32;
        int8_t *wq = xmalloc(s.rows * s.cols + 1);
        uint16_t *ws = xmalloc((s.rows * nb + 1) * sizeof *ws);
        /* the full int8 range, -128 included */
        for (size_t i = 0; i < s.rows * s.cols + 1; i++) wq[i] = (int8_t)(next_u32() % 256 - 128);
        for (size_t i = 0; i < s.rows * nb + 1; i++) ws[i] = gptoss_f32_to_f16(fabsf(next_normal()) * 0.01f);
        float *x = xmalloc(s.tokens * s.cols * sizeof *x);
        for (size_t i = 0; i < s.tokens * s.cols; i++) x[i] = next_normal();
        q8_buffers qx = quantize_all(x, s.tokens, s.cols);
        gptoss_q8_matrix w = {wq + 1, ws + 1};
        size_t ny = s.tokens * s.ldy;
        float *want = xmalloc(ny * sizeof *want), *got = xmalloc((ny + 1) * sizeof *got);
        float *tol = xmalloc(ny * sizeof *tol);
        double *terms = xmalloc(nb * sizeof *terms);
        gptoss_kernels_scalar.matmul_q8(&w, s.rows, s.cols, &qx.acts, s.tokens, want, s.ldy);
        for (size_t t = 0; t < s.tokens; t++)
            for (size_t r = 0; r < s.rows; r++) {
                for (size_t b = 0; b < nb; b++) {
                    int32_t dot = 0;
                    for (int i = 0; i < 32; i++)
                        dot += w.q[r * s.cols + b * 32 + i] * qx.acts.q[t * s.cols + b * 32 + i];
                    terms[b] = dot * (double)gptoss_f16_to_f32(w.scale[r * nb + b]) * qx.acts.scale[t * nb + b];
                }
                tol[t * s.ldy + r] = q8_tolerance(terms, nb);
            }
        for (int k = 0; k < n_sets; k++) {
            fill_guard(got, ny + 1);
            sets[k]->matmul_q8(&w, s.rows, s.cols, &qx.acts, s.tokens, got + 1, s.ldy);
            compare("matmul_q8", sets[k]->name, &s, got + 1, want, tol);
        }
        free(wq), free(ws), free(x), free(want), free(got), free(tol), free(terms);
        free_q8(&qx);
    }
}

static void check_mxfp4_q8(int trials) {
    for (int trial = 0; trial < trials; trial++) {
        shape s = random_shape(0);
        size_t nb = s.cols / 32;
        uint8_t *blocks = xmalloc(s.rows * s.cols / 2 + 1), *scales = xmalloc(s.rows * nb + 1);
        random_mxfp4(blocks + 1, scales + 1, s.rows, s.cols);
        float *x = xmalloc(s.tokens * s.cols * sizeof *x);
        for (size_t i = 0; i < s.tokens * s.cols; i++) x[i] = next_normal();
        q8_buffers qx = quantize_all(x, s.tokens, s.cols);
        size_t ny = s.tokens * s.ldy;
        float *want = xmalloc(ny * sizeof *want), *got = xmalloc((ny + 1) * sizeof *got);
        float *tol = xmalloc(ny * sizeof *tol);
        double *terms = xmalloc(nb * sizeof *terms);
        gptoss_kernels_scalar.matmul_mxfp4_q8(blocks + 1, scales + 1, s.rows, s.cols, &qx.acts, s.tokens, want,
                                              s.ldy);
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
            fill_guard(got, ny + 1);
            sets[k]->matmul_mxfp4_q8(blocks + 1, scales + 1, s.rows, s.cols, &qx.acts, s.tokens, got + 1, s.ldy);
            compare("matmul_mxfp4_q8", sets[k]->name, &s, got + 1, want, tol);
        }
        free(blocks), free(scales), free(x), free(want), free(got), free(tol), free(terms);
        free_q8(&qx);
    }
}

/* Every E8M0 scale byte, 0 and 255 included (subnormal, huge and infinite
 * block scales), through the 4-block vector path and the one-block tail: 9
 * blocks with one scale. Activations are all 127 so quantize_q8 gives q = 127
 * and scale 1 exactly; then every block term and every partial sum is exact
 * in float (or overflows in any order), so results must match bit for bit. */
static void check_all_scales(void) {
    enum { COLS = 32 * 9, NB = COLS / 32 };
    uint8_t blocks[COLS / 2], scales[NB];
    memset(blocks, 0x21, sizeof blocks); /* FP4 values 0.5 (even columns) and 1.0 (odd) */
    float x[COLS], xs[NB];
    for (int i = 0; i < COLS; i++) x[i] = 127.0f;
    int8_t q[COLS];
    int32_t xsum[NB];
    gptoss_kernels_scalar.quantize_q8(x, COLS, q, xs, xsum);
    gptoss_q8_acts acts = {q, xs, xsum, COLS};
    for (int k = 0; k < n_sets; k++) {
        int bad_exact = -1, bad_fast = -1;
        float want_exact = 0, got_exact = 0, want_fast = 0, got_fast = 0;
        for (int s = 0; s < 256; s++) {
            memset(scales, s, sizeof scales);
            float want, got;
            gptoss_kernels_scalar.matmul_mxfp4(blocks, scales, 1, COLS, x, 1, &want, 1);
            sets[k]->matmul_mxfp4(blocks, scales, 1, COLS, x, 1, &got, 1);
            if (memcmp(&want, &got, sizeof want) && bad_exact < 0) bad_exact = s, want_exact = want, got_exact = got;
            gptoss_kernels_scalar.matmul_mxfp4_q8(blocks, scales, 1, COLS, &acts, 1, &want, 1);
            sets[k]->matmul_mxfp4_q8(blocks, scales, 1, COLS, &acts, 1, &got, 1);
            if (memcmp(&want, &got, sizeof want) && bad_fast < 0) bad_fast = s, want_fast = want, got_fast = got;
        }
        check(bad_exact < 0, "%s matmul_mxfp4: scale byte %d: %.9g, scalar %.9g", sets[k]->name, bad_exact,
              got_exact, want_exact);
        check(bad_fast < 0, "%s matmul_mxfp4_q8: scale byte %d: %.9g, scalar %.9g", sets[k]->name, bad_fast,
              got_fast, want_fast);
    }
}

/* rows == 0 or n_tokens == 0 must write nothing (and not crash). */
static void check_empty(void) {
    float y[4] = {GUARD, GUARD, GUARD, GUARD}, x[64] = {0};
    uint16_t w[64] = {0};
    uint8_t blocks[32] = {0}, scales[2] = {127, 127};
    int8_t q[64] = {0};
    float xs[2] = {1, 1};
    int32_t xsum[2] = {0};
    uint16_t ws[2] = {0x3c00, 0x3c00};
    gptoss_q8_acts acts = {q, xs, xsum, 64};
    gptoss_q8_matrix wm = {q, ws};
    for (int k = 0; k < n_sets; k++) {
        for (int empty = 0; empty < 2; empty++) {
            size_t rows = empty ? 0 : 1, tokens = empty ? 1 : 0;
            sets[k]->matmul_bf16(w, rows, 64, x, tokens, y, 1);
            sets[k]->matmul_mxfp4(blocks, scales, rows, 64, x, tokens, y, 1);
            sets[k]->matmul_q8(&wm, rows, 64, &acts, tokens, y, 1);
            sets[k]->matmul_mxfp4_q8(blocks, scales, rows, 64, &acts, tokens, y, 1);
        }
        check(y[0] == GUARD && y[1] == GUARD, "%s: a kernel wrote y with rows or tokens 0", sets[k]->name);
    }
}

/* The fast kernels approximate the exact ones: int8 activations cost ~1%. */
static void check_fast_close_to_exact(void) {
    enum { ROWS = 16, COLS = 2880, TOKENS = 3 };
    uint8_t *blocks = xmalloc(ROWS * COLS / 2), *scales = xmalloc(ROWS * COLS / 32);
    random_mxfp4(blocks, scales, ROWS, COLS);
    for (size_t i = 0; i < ROWS * COLS / 32; i++) scales[i] = (uint8_t)(118 + i % 6);
    float *x = xmalloc(TOKENS * COLS * sizeof *x), exact[TOKENS * ROWS], fast[TOKENS * ROWS];
    for (size_t i = 0; i < TOKENS * COLS; i++) x[i] = next_normal();
    q8_buffers qx = quantize_all(x, TOKENS, COLS);
    for (int k = 0; k < n_sets; k++) {
        sets[k]->matmul_mxfp4(blocks, scales, ROWS, COLS, x, TOKENS, exact, ROWS);
        sets[k]->matmul_mxfp4_q8(blocks, scales, ROWS, COLS, &qx.acts, TOKENS, fast, ROWS);
        float scale = 0;
        for (int i = 0; i < TOKENS * ROWS; i++) scale = fmaxf(scale, fabsf(exact[i]));
        int bad = -1;
        for (int i = 0; i < TOKENS * ROWS; i++)
            if (!(fabsf(fast[i] - exact[i]) <= 0.02f * scale) && bad < 0) bad = i;
        check(bad < 0, "%s: fast y[%d] = %g far from exact %g", sets[k]->name, bad, bad < 0 ? 0 : fast[bad],
              bad < 0 ? 0 : exact[bad]);
    }
    free(blocks), free(scales), free(x);
    free_q8(&qx);
}

/* gptoss-bench's peak loop exists in every set and counts its work. */
static void check_int8_peak(void) {
    for (int k = 0; k < n_sets; k++) {
        if (!check(sets[k]->int8_peak != NULL, "%s has no int8_peak", sets[k]->name)) continue;
        const uint64_t ten = sets[k]->int8_peak(10), twenty = sets[k]->int8_peak(20);
        check(ten > 0 && twenty == 2 * ten && sets[k]->int8_peak(0) == 0, "%s: int8_peak counts %llu then %llu",
              sets[k]->name, (unsigned long long)ten, (unsigned long long)twenty);
    }
}

int main(int argc, char **argv) {
    const char *expect = NULL;
    int trials = 100;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--expect") && i + 1 < argc) expect = argv[++i];
        else if (!strcmp(argv[i], "--trials") && i + 1 < argc) trials = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) rng_state = strtoull(argv[++i], NULL, 0) | 1;
        else {
            fprintf(stderr, "usage: %s [--expect NAME] [--trials N] [--seed S]\n", argv[0]);
            return 2;
        }
    }
    pick_sets(expect);
    if (n_sets == 0) printf("kernel_check: no SIMD kernel set on this CPU: nothing to compare\n");
    check_quantize(trials);
    check_bf16(trials);
    check_mxfp4(trials);
    check_q8(trials);
    check_mxfp4_q8(trials);
    check_all_scales();
    check_empty();
    check_int8_peak();
    check_fast_close_to_exact();
    printf("kernel_check: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
