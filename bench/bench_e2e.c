/* bench_e2e.c - `gptoss-bench e2e`: load time, prefill and decode tokens/s,
 * time to first token and peak RSS of a real model folder, against the
 * bound that the measured read bandwidth and the bytes read per decoded
 * token set. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"
#include "gptoss.h"
#include "kernels.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: gptoss-bench e2e --model DIR [--prompt N] [--gen N] [--reps N] [--threads N] [--ctx N]\n"
            "                        [--precision exact|fast] [--kernels ISA] [--verbose] [--json]\n\n"
            "Loads the model, prefills N random tokens (default 128), decodes --gen tokens\n"
            "(default 32) and reports load_s, ttft_s (end of load to the first new token, so\n"
            "the first prefill, which also maps the weights in), prefill_tok_s (median of\n"
            "--reps further prefills of the same prompt into an emptied context, default 3,\n"
            "as llama-bench measures after its warm-up), decode_tok_s (median of --reps\n"
            "runs of --gen tokens, one after the other), peak RSS, bytes read per decoded\n"
            "token, the read bandwidth measured in the same run and the decode bound it\n"
            "implies. Default precision: fast.\n");
}

static uint64_t peak_rss(void) {
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
#ifdef __APPLE__
    return (uint64_t)usage.ru_maxrss;
#else
    return (uint64_t)usage.ru_maxrss * 1024;
#endif
}

/* Multiply-adds of one prompt token through the linear layers (attention
 * projections and its k experts; the unembedding runs once per prefill and
 * the attention scores are left out: both are small at prompt lengths like
 * 128). Twice this is the token's share of prefill GOP. */
static double macs_per_token(const gptoss_config *c) {
    const double H = c->hidden_size, I = c->intermediate_size;
    const double q_dim = (double)c->num_attention_heads * c->head_dim;
    const double kv_dim = (double)c->num_key_value_heads * c->head_dim;
    const double attention = H * (q_dim + 2 * kv_dim) + q_dim * H;
    const double experts = c->num_experts_per_tok * (H * 2 * I + I * H);
    return c->num_hidden_layers * (attention + experts);
}

static int parse_positive(const char *text, uint32_t *out) {
    char *end;
    long v = strtol(text, &end, 10);
    if (*end || v <= 0 || v > 1 << 30) return 0;
    *out = (uint32_t)v;
    return 1;
}

int bench_e2e_main(int argc, char **argv) {
    const char *model_dir = NULL;
    uint32_t n_prompt = 128, n_gen = 32, reps = 3, threads = 0, ctx_len = 0;
    int json = 0, verbose = 0;
    gptoss_model_options options = {.precision = GPTOSS_PRECISION_FAST, .show_progress = 1};
    const char *env_kernels = getenv("GPTOSS_KERNELS");
    if (env_kernels && *env_kernels && !gptoss_kernel_isa_parse(env_kernels, &options.kernels)) {
        fprintf(stderr, "gptoss-bench e2e: GPTOSS_KERNELS='%s' is not a kernel set\n", env_kernels);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(arg, "--json")) json = 1;
        else if (!strcmp(arg, "--verbose")) verbose = 1;
        else if (!value) ok = 0;
        else if (!strcmp(arg, "--model")) model_dir = argv[++i];
        else if (!strcmp(arg, "--prompt")) ok = parse_positive(argv[++i], &n_prompt);
        else if (!strcmp(arg, "--gen")) ok = parse_positive(argv[++i], &n_gen);
        else if (!strcmp(arg, "--reps")) ok = parse_positive(argv[++i], &reps) && reps <= 100;
        else if (!strcmp(arg, "--threads")) ok = parse_positive(argv[++i], &threads);
        else if (!strcmp(arg, "--ctx")) ok = parse_positive(argv[++i], &ctx_len);
        else if (!strcmp(arg, "--kernels")) ok = gptoss_kernel_isa_parse(argv[++i], &options.kernels);
        else if (!strcmp(arg, "--precision")) {
            const char *p = argv[++i];
            ok = !strcmp(p, "exact") || !strcmp(p, "fast");
            options.precision = !strcmp(p, "exact") ? GPTOSS_PRECISION_EXACT : GPTOSS_PRECISION_FAST;
        } else ok = 0;
        if (!ok) {
            fprintf(stderr, "gptoss-bench e2e: bad or unknown option '%s'\n", arg);
            usage(stderr);
            return 2;
        }
    }
    if (!model_dir) {
        fprintf(stderr, "gptoss-bench e2e: --model DIR is required\n");
        return 2;
    }
    const int n_threads = threads ? (int)threads : omp_get_num_procs();
    /* Measured first, in a child, so its 1 GiB buffer is not in our peak RSS. */
    fprintf(stderr, "measuring read bandwidth (%d threads, 1 GiB, best of 5) ...\n", n_threads);
    const double read_bw = bench_read_bandwidth_isolated(n_threads, (size_t)1 << 30, 5);
    omp_set_num_threads(n_threads);

    double start = bench_seconds();
    gptoss_model *model = NULL;
    gptoss_context *ctx = NULL;
    if (gptoss_model_load(model_dir, &options, &model) != GPTOSS_OK ||
        gptoss_context_create(model, ctx_len, &ctx) != GPTOSS_OK) {
        fprintf(stderr, "gptoss-bench e2e: %s\n", gptoss_last_error());
        gptoss_model_free(model);
        return 1;
    }
    const double load_s = bench_seconds() - start;
    const gptoss_config *c = gptoss_model_config(model);
    if ((uint64_t)n_prompt + (uint64_t)reps * n_gen > gptoss_context_capacity(ctx)) {
        fprintf(stderr,
                "gptoss-bench e2e: %u + %u x %u tokens exceed the context of %u (raise --ctx or lower --reps)\n",
                n_prompt, reps, n_gen, gptoss_context_capacity(ctx));
        gptoss_context_free(ctx);
        gptoss_model_free(model);
        return 1;
    }
    fprintf(stderr, "model: %s, kernels: %s, precision: %s, threads: %d, loaded in %.3f s\n", model_dir,
            gptoss_model_kernels(model), options.precision == GPTOSS_PRECISION_FAST ? "fast" : "exact", n_threads,
            load_s);

    /* Random ordinary-text ids (below the special tokens when the vocabulary has them). */
    const uint32_t id_limit = c->vocab_size > 199998 ? 199998 : c->vocab_size;
    uint32_t *tokens = malloc(((size_t)n_prompt + n_gen) * sizeof *tokens);
    float *logits = malloc((size_t)c->vocab_size * sizeof *logits);
    uint64_t state = 12345;
    for (uint32_t i = 0; i < n_prompt; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        tokens[i] = (uint32_t)(state >> 33) % id_limit;
    }
    gptoss_sampler_params params = gptoss_sampler_default_params();
    params.temperature = 0.0f;
    gptoss_sampler *sampler;
    gptoss_sampler_create(&params, c->vocab_size, &sampler);

    /* Cold: the first prefill also faults the mapped weights in. */
    start = bench_seconds();
    gptoss_status s = gptoss_context_eval(ctx, tokens, n_prompt, GPTOSS_LOGITS_LAST, logits);
    const double cold_prefill_s = bench_seconds() - start;
    uint32_t next = gptoss_sampler_sample(sampler, logits);
    const double ttft_s = bench_seconds() - start;
    /* Warm: the same prompt again into an emptied context (same logits, so
     * decoding starts from the token sampled above). */
    double prefill_runs[100];
    for (uint32_t r = 0; r < reps && s == GPTOSS_OK; r++) {
        gptoss_context_reset(ctx);
        start = bench_seconds();
        s = gptoss_context_eval(ctx, tokens, n_prompt, GPTOSS_LOGITS_LAST, logits);
        prefill_runs[r] = bench_seconds() - start;
        fprintf(stderr, "prefill %u/%u: %.2f tok/s\n", r + 1, reps, n_prompt / prefill_runs[r]);
    }
    /* Decode in --reps runs that continue one sequence: the host's speed
     * drifts within seconds, so the median, like prefill's. */
    double decode_runs[100];
    for (uint32_t r = 0; r < reps && s == GPTOSS_OK; r++) {
        start = bench_seconds();
        for (uint32_t i = 0; i < n_gen && s == GPTOSS_OK; i++) {
            s = gptoss_context_eval(ctx, &next, 1, GPTOSS_LOGITS_LAST, logits);
            next = gptoss_sampler_sample(sampler, logits);
        }
        decode_runs[r] = bench_seconds() - start;
        fprintf(stderr, "decode %u/%u: %.2f tok/s\n", r + 1, reps, n_gen / decode_runs[r]);
    }
    if (s != GPTOSS_OK) {
        fprintf(stderr, "gptoss-bench e2e: %s\n", gptoss_last_error());
        return 1;
    }
    const uint64_t bytes_per_token = gptoss_model_bytes_per_token(model);
    const double prefill_tok_s = n_prompt / bench_median(prefill_runs, reps);
    const double decode_tok_s = n_gen / bench_median(decode_runs, reps);
    const double cold_prefill_tok_s = n_prompt / cold_prefill_s;
    const double bound_tok_s = read_bw * 1e9 / (double)bytes_per_token;
    const uint64_t rss = peak_rss();
    /* prefill against the arithmetic ceiling of the kernels' int8 dot product */
    const gptoss_kernels *kernels = NULL;
    double peak_gop_s = 0;
    if (options.precision == GPTOSS_PRECISION_FAST && gptoss_kernels_select(options.kernels, &kernels) == GPTOSS_OK)
        peak_gop_s = bench_int8_peak_gop_s(kernels);
    const double prefill_gop_s = 2.0 * macs_per_token(c) * prefill_tok_s / 1e9;
    const double pct_peak = peak_gop_s > 0 ? 100.0 * prefill_gop_s / peak_gop_s : 0;
    if (json) {
        printf("{\"model\": \"%s\", \"load_s\": %.4f, \"prefill_tokens\": %u, \"prefill_tok_s\": %.3f, "
               "\"prefill_reps\": %u, \"cold_prefill_tok_s\": %.3f, \"decode_tokens\": %u, \"decode_reps\": %u, "
               "\"decode_tok_s\": %.3f, \"ttft_s\": %.4f, \"peak_rss_bytes\": %llu, "
               "\"file_bytes\": %llu, \"bytes_per_token\": %llu, \"read_bw_gb_s\": %.3f, \"bound_tok_s\": %.3f, "
               "\"decode_pct_of_bound\": %.1f, \"prefill_gop_s\": %.1f, \"int8_peak_gop_s\": %.1f, "
               "\"prefill_pct_of_peak\": %.1f, \"precision\": \"%s\", \"kernels\": \"%s\", \"threads\": %d}\n",
               model_dir, load_s, n_prompt, prefill_tok_s, reps, cold_prefill_tok_s, n_gen, reps, decode_tok_s,
               ttft_s, (unsigned long long)rss,
               (unsigned long long)gptoss_model_file_bytes(model), (unsigned long long)bytes_per_token, read_bw,
               bound_tok_s, 100.0 * decode_tok_s / bound_tok_s, prefill_gop_s, peak_gop_s, pct_peak,
               options.precision == GPTOSS_PRECISION_FAST ? "fast" : "exact", gptoss_model_kernels(model),
               n_threads);
    } else {
        printf("load            %8.3f s\n", load_s);
        printf("prefill         %8.2f tok/s  (%u tokens, median of %u; first, cold: %.2f tok/s)\n", prefill_tok_s,
               n_prompt, reps, cold_prefill_tok_s);
        if (peak_gop_s > 0)
            printf("                %8.1f GOP/s in the linear layers = %.0f%% of the int8 peak, %.1f GOP/s\n",
                   prefill_gop_s, pct_peak, peak_gop_s);
        printf("time to first   %8.3f s\n", ttft_s);
        printf("decode          %8.2f tok/s  (%u tokens, median of %u; bound %.2f tok/s = %.1f GB/s / %.3f GB; "
               "%.0f%%)\n",
               decode_tok_s, n_gen, reps, bound_tok_s, read_bw, (double)bytes_per_token / 1e9,
               100.0 * decode_tok_s / bound_tok_s);
        printf("peak RSS        %8.2f GiB   (model files %.2f GiB)\n", (double)rss / (1u << 30),
               (double)gptoss_model_file_bytes(model) / (1u << 30));
    }
    if (verbose) fprintf(stderr, "verbose: context %u tokens\n", gptoss_context_capacity(ctx));
    free(tokens);
    free(logits);
    gptoss_sampler_free(sampler);
    gptoss_context_free(ctx);
    gptoss_model_free(model);
    return 0;
}
