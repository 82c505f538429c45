/* bench_kernels.c - `gptoss-bench kernels`: throughput of every kernel and ISA
 * at the 20B shapes, against the machine's read bandwidth measured in the
 * same run.
 *
 * Decode rows (one token) stream a working set far larger than the last-level
 * cache, the way a decoded token does: a layer's 32 experts round-robin for
 * MXFP4, the 201088 x 2880 unembedding for the dense kernels. Prefill rows
 * run a 128-token tile against one matrix, and an expert's 16-token share of
 * a 128-token prefill against the 32 experts in turn, and report GOP/s. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "kernels.h"
#include "linear.h"
#include "numeric.h"

enum { H = 2880, I = 2880, EXPERTS = 32, VOCAB = 201088, Q_DIM = 4096, PREFILL_TOKENS = 128 };

typedef enum kernel_kind { K_MXFP4, K_MXFP4_Q8, K_BF16, K_Q8 } kernel_kind;

typedef struct bench_case {
    const char *kernel;     /* name in the report */
    kernel_kind kind;
    const char *precision;  /* exact / fast */
    size_t rows, cols, tokens;
    size_t pool;            /* matrices cycled through (working set) */
} bench_case;

static const bench_case cases[] = {
    {"matvec_mxfp4 (gate_up)", K_MXFP4, "exact", 2 * I, H, 1, EXPERTS},
    {"matvec_mxfp4_q8 (gate_up)", K_MXFP4_Q8, "fast", 2 * I, H, 1, EXPERTS},
    {"matvec_mxfp4_q8 (down)", K_MXFP4_Q8, "fast", H, I, 1, EXPERTS},
    {"matvec_bf16 (unembed)", K_BF16, "exact", VOCAB, H, 1, 1},
    {"matvec_q8 (unembed)", K_Q8, "fast", VOCAB, H, 1, 1},
    {"matmul_mxfp4 (gate_up)", K_MXFP4, "exact", 2 * I, H, PREFILL_TOKENS, 1},
    {"matmul_mxfp4_q8 (gate_up)", K_MXFP4_Q8, "fast", 2 * I, H, PREFILL_TOKENS, 1},
    /* an expert's share of a 128-token prefill (128 x top-4 / 32 experts), weights from memory */
    {"matmul_mxfp4_q8 (expert)", K_MXFP4_Q8, "fast", 2 * I, H, PREFILL_TOKENS * 4 / EXPERTS, EXPERTS},
    {"matmul_bf16 (q_proj)", K_BF16, "exact", Q_DIM, H, PREFILL_TOKENS, 1},
    {"matmul_q8 (q_proj)", K_Q8, "fast", Q_DIM, H, PREFILL_TOKENS, 1},
};

/* Weights for every case, allocated once: MXFP4 experts, BF16 and int8 matrices. */
typedef struct weights {
    uint8_t *blocks, *scales;   /* [EXPERTS][2I][H/32][16], [EXPERTS][2I][H/32] */
    uint16_t *bf16;             /* [VOCAB][H] */
    int8_t *q8;                 /* [VOCAB][H] */
    uint16_t *q8_scale;         /* [VOCAB][H/32] */
    float *x;                   /* [PREFILL_TOKENS][max cols] */
    int8_t *xq;
    float *x_scale;
    int32_t *x_sum;
    float *y;                   /* [PREFILL_TOKENS][VOCAB] */
} weights;

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint32_t next_random(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* Normal numbers only: NaN or subnormal weights would time a slow path. */
static int make_weights(weights *w) {
    const size_t expert_values = (size_t)2 * I * H, dense = (size_t)VOCAB * H;
    w->blocks = malloc(EXPERTS * expert_values / 2);
    w->scales = malloc(EXPERTS * expert_values / 32);
    w->bf16 = malloc(dense * sizeof(uint16_t));
    w->q8 = malloc(dense);
    w->q8_scale = malloc(dense / 32 * sizeof(uint16_t));
    w->x = malloc((size_t)PREFILL_TOKENS * Q_DIM * sizeof(float));
    w->xq = malloc((size_t)PREFILL_TOKENS * Q_DIM);
    w->x_scale = malloc((size_t)PREFILL_TOKENS * Q_DIM / 32 * sizeof(float));
    w->x_sum = malloc((size_t)PREFILL_TOKENS * Q_DIM / 32 * sizeof(int32_t));
    w->y = malloc((size_t)PREFILL_TOKENS * VOCAB * sizeof(float));
    if (!w->blocks || !w->scales || !w->bf16 || !w->q8 || !w->q8_scale || !w->x || !w->xq || !w->x_scale ||
        !w->x_sum || !w->y)
        return 0;
    uint16_t bf16_table[256];
    for (int i = 0; i < 256; i++) bf16_table[i] = f32_to_bf16(((float)i - 127.5f) / 1024.0f);
#pragma omp parallel for schedule(static)
    for (long i = 0; i < (long)(EXPERTS * expert_values / 2); i++) w->blocks[i] = (uint8_t)(i * 2654435761u >> 13);
    for (size_t i = 0; i < EXPERTS * expert_values / 32; i++) w->scales[i] = (uint8_t)(119 + next_random() % 7);
#pragma omp parallel for schedule(static)
    for (long i = 0; i < (long)dense; i++) {
        w->bf16[i] = bf16_table[(i * 2654435761u >> 11) & 255];
        w->q8[i] = (int8_t)((i * 2654435761u >> 9) % 255 - 127);
    }
    for (size_t i = 0; i < dense / 32; i++) w->q8_scale[i] = gptoss_f32_to_f16(0.001f + (float)(i % 7) * 1e-4f);
    for (size_t i = 0; i < (size_t)PREFILL_TOKENS * Q_DIM; i++) w->x[i] = ((float)(next_random() % 2001) - 1000) / 500;
    for (size_t t = 0; t < PREFILL_TOKENS; t++)
        gptoss_kernels_scalar.quantize_q8(w->x + t * Q_DIM, Q_DIM, w->xq + t * Q_DIM, w->x_scale + t * Q_DIM / 32,
                                          w->x_sum + t * Q_DIM / 32);
    return 1;
}

static void free_weights(weights *w) {
    free(w->blocks), free(w->scales), free(w->bf16), free(w->q8), free(w->q8_scale);
    free(w->x), free(w->xq), free(w->x_scale), free(w->x_sum), free(w->y);
}

static uint64_t weight_bytes(const bench_case *c) {
    const uint64_t values = (uint64_t)c->rows * c->cols;
    switch (c->kind) {
    case K_MXFP4:
    case K_MXFP4_Q8: return values / 32 * 17;
    case K_BF16: return values * 2;
    case K_Q8: return values + values / 32 * 2;
    }
    return 0;
}

/* One full matmul of matrix `which` of the pool, rows split across threads as the engine splits them. */
static void run_once(const gptoss_kernels *k, const bench_case *c, const weights *w, size_t which) {
    const size_t chunk = gptoss_rows_per_chunk(c->rows, c->tokens), nb = c->cols / 32;
    const long n_chunks = (long)((c->rows + chunk - 1) / chunk);
    const gptoss_q8_acts xq = {w->xq, w->x_scale, w->x_sum, c->cols};
    const uint8_t *blocks = w->blocks + which * c->rows * nb * 16, *scales = w->scales + which * c->rows * nb;
#pragma omp parallel for schedule(dynamic, 1)
    for (long i = 0; i < n_chunks; i++) {
        const size_t r0 = (size_t)i * chunk, count = c->rows - r0 < chunk ? c->rows - r0 : chunk;
        float *y = w->y + r0;
        switch (c->kind) {
        case K_MXFP4:
            k->matmul_mxfp4(blocks + r0 * nb * 16, scales + r0 * nb, count, c->cols, w->x, c->tokens, y, c->rows);
            break;
        case K_MXFP4_Q8:
            k->matmul_mxfp4_q8(blocks + r0 * nb * 16, scales + r0 * nb, count, c->cols, &xq, c->tokens, y, c->rows);
            break;
        case K_BF16: k->matmul_bf16(w->bf16 + r0 * c->cols, count, c->cols, w->x, c->tokens, y, c->rows); break;
        case K_Q8: {
            const gptoss_q8_matrix part = {w->q8 + r0 * c->cols, w->q8_scale + r0 * nb};
            k->matmul_q8(&part, count, c->cols, &xq, c->tokens, y, c->rows);
            break;
        }
        }
    }
}

/* Seconds per matmul: repeat for at least min_seconds (and 3 runs), report the best
 * pass over the pool (decode) or the best single run (prefill). */
static double time_case(const gptoss_kernels *k, const bench_case *c, const weights *w, double min_seconds) {
    run_once(k, c, w, 0); /* warm-up: page in, spin up threads */
    double best = 1e30, spent = 0;
    for (int rep = 0; rep < 3 || spent < min_seconds; rep++) {
        const double start = bench_seconds();
        for (size_t m = 0; m < c->pool; m++) run_once(k, c, w, m);
        const double elapsed = bench_seconds() - start;
        spent += elapsed;
        if (elapsed / (double)c->pool < best) best = elapsed / (double)c->pool;
        if (rep > 200) break;
    }
    return best;
}

static void usage(FILE *out) {
    fprintf(out, "usage: gptoss-bench kernels [--isa all|scalar|avx2|avx512|neon] [--threads N] [--json]\n\n"
                 "Times every kernel at the gpt-oss-20b shapes (decode: 1 token over a working set\n"
                 "larger than the caches; prefill: a 128-token tile, and an expert's 16 tokens) and\n"
                 "compares weight GB/s with the read bandwidth measured in the same run (decode's\n"
                 "ceiling) and GOP/s with the kernel set's int8 dot product issued back to back on\n"
                 "every thread (prefill's ceiling, peak_gop_s; pct_peak).\n");
}

int bench_kernels_main(int argc, char **argv) {
    const char *isa_name = "all";
    int threads = 2, json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--isa") && i + 1 < argc) isa_name = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "gptoss-bench kernels: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (threads < 1) {
        fprintf(stderr, "gptoss-bench kernels: --threads must be positive\n");
        return 2;
    }
    const gptoss_kernels *sets[8];
    int n_sets = 0;
    if (!strcmp(isa_name, "all")) {
        const gptoss_kernel_isa all[] = {GPTOSS_KERNELS_SCALAR, GPTOSS_KERNELS_AVX2, GPTOSS_KERNELS_AVX512,
                                         GPTOSS_KERNELS_NEON};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            if (gptoss_kernels_select(all[i], &sets[n_sets]) == GPTOSS_OK) n_sets++;
    } else {
        gptoss_kernel_isa isa;
        if (!gptoss_kernel_isa_parse(isa_name, &isa) || gptoss_kernels_select(isa, &sets[0]) != GPTOSS_OK) {
            fprintf(stderr, "gptoss-bench kernels: '%s' kernels are not available on this CPU/build\n", isa_name);
            return 2;
        }
        n_sets = 1;
    }
    fprintf(stderr, "measuring read bandwidth (%d threads, 1 GiB, best of 5) ...\n", threads);
    const double read_bw = bench_read_bandwidth_isolated(threads, (size_t)1 << 30, 5);
    fprintf(stderr, "read bandwidth: %.1f GB/s\n", read_bw);
    omp_set_num_threads(threads);
    weights w;
    fprintf(stderr, "preparing %.1f GB of weights ...\n",
            (EXPERTS * 2.0 * I * H * 17 / 32 + (double)VOCAB * H * 3) / 1e9);
    if (!make_weights(&w)) {
        fprintf(stderr, "gptoss-bench kernels: out of memory\n");
        free_weights(&w);
        return 1;
    }
    if (!json)
        printf("%-28s %-12s %-6s %7s %6s %4s %8s %8s %8s %6s\n", "kernel", "isa", "prec", "rows", "cols", "tok",
               "GB/s", "GOP/s", "%readbw", "%peak");
    for (int s = 0; s < n_sets; s++) {
        const double peak = bench_int8_peak_gop_s(sets[s]);
        if (peak > 0)
            fprintf(stderr, "%s: int8 dot product peak %.1f GOP/s (%d threads)\n", sets[s]->name, peak, threads);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const bench_case *c = &cases[i];
            const double seconds = time_case(sets[s], c, &w, sets[s]->isa == GPTOSS_KERNELS_SCALAR ? 0.5 : 1.0);
            const double gb_s = (double)weight_bytes(c) / seconds / 1e9;
            const double gop_s = 2.0 * (double)c->rows * (double)c->cols * (double)c->tokens / seconds / 1e9;
            const double pct = read_bw > 0 ? 100.0 * gb_s / read_bw : 0.0;
            const double pct_peak = peak > 0 ? 100.0 * gop_s / peak : 0.0;
            if (json)
                printf("{\"kernel\": \"%s\", \"isa\": \"%s\", \"precision\": \"%s\", \"rows\": %zu, \"cols\": %zu, "
                       "\"n_tokens\": %zu, \"threads\": %d, \"gb_s\": %.3f, \"gop_s\": %.3f, \"read_bw_gb_s\": %.3f, "
                       "\"pct_read_bw\": %.1f, \"peak_gop_s\": %.3f, \"pct_peak\": %.1f}\n",
                       c->kernel, sets[s]->name, c->precision, c->rows, c->cols, c->tokens, threads, gb_s, gop_s,
                       read_bw, pct, peak, pct_peak);
            else {
                char of_peak[16] = "-";
                if (peak > 0) snprintf(of_peak, sizeof of_peak, "%.0f%%", pct_peak);
                printf("%-28s %-12s %-6s %7zu %6zu %4zu %8.2f %8.1f %7.1f%% %6s\n", c->kernel, sets[s]->name,
                       c->precision, c->rows, c->cols, c->tokens, gb_s, gop_s, pct, of_peak);
            }
            fflush(stdout);
        }
    }
    free_weights(&w);
    return 0;
}
