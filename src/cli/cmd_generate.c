/* cmd_generate.c - `gptoss generate`: N new token ids after a prompt of ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "options.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: gptoss generate --model DIR --tokens 1,2,3 -n N [sampling] [options]\n\n"
            "Prints exactly N new token ids (not the prompt's), comma-separated, on one\n"
            "line of stdout. End tokens do not stop generation.\n\n"
            "  --tokens LIST      prompt token ids, comma-separated\n"
            "  -n N               how many tokens to generate\n"
            "  --temperature T    0 = greedy (default 0)\n"
            "  --top-k K          keep the K most likely tokens (0 = off)\n"
            "  --top-p P          keep the smallest set with probability >= P (1 = off)\n"
            "  --min-p M          drop tokens below M x the best token's probability (0 = off)\n"
            "  --seed S           random seed (default 0)\n%s",
            run_options_help);
}

int cmd_generate(int argc, char **argv) {
    run_options options = run_options_default(GPTOSS_PRECISION_EXACT);
    gptoss_sampler_params sampling = gptoss_sampler_default_params();
    sampling.temperature = 0.0f;
    const char *tokens_text = NULL;
    uint32_t n_new = 0;
    int have_n = 0;
    for (int i = 1; i < argc; i++) {
        int r = parse_run_option(argc, argv, &i, &options);
        if (r == 0) r = parse_sampling_option(argc, argv, &i, &sampling);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--tokens")) {
            if (!(tokens_text = option_value(argc, argv, &i))) return 2;
        } else if (!strcmp(argv[i], "-n") || !strcmp(argv[i], "--n-tokens")) {
            const char *value = option_value(argc, argv, &i);
            if (!value) return 2;
            if (!parse_u32(value, &n_new)) {
                fprintf(stderr, "gptoss generate: -n must be a non-negative integer, got '%s'\n", value);
                return 2;
            }
            have_n = 1;
        } else {
            fprintf(stderr, "gptoss generate: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!tokens_text || !have_n) {
        fprintf(stderr, "gptoss generate: --tokens and -n are required\n");
        usage(stderr);
        return 2;
    }
    uint32_t *prompt, n_prompt;
    if (!parse_token_list(tokens_text, &prompt, &n_prompt)) return 2;

    gptoss_model *model;
    gptoss_context *ctx;
    gptoss_sampler *sampler = NULL;
    float *logits = NULL;
    uint32_t *generated = NULL;
    int status = 1;
    if (!open_model("generate", &options, &model, &ctx)) {
        free(prompt);
        return 1;
    }
    const uint32_t vocab = gptoss_model_config(model)->vocab_size;
    /* The last new token is never fed back, so prompt + n - 1 must fit. */
    const uint64_t needed = (uint64_t)n_prompt + (n_new ? n_new - 1 : 0);
    if (needed > gptoss_context_capacity(ctx)) {
        fprintf(stderr, "gptoss generate: context overflow: %u prompt + %u new tokens need %llu positions, "
                        "the context holds %u (raise --ctx)\n",
                n_prompt, n_new, (unsigned long long)needed, gptoss_context_capacity(ctx));
        goto done;
    }
    if (gptoss_sampler_create(&sampling, vocab, &sampler) != GPTOSS_OK) {
        fprintf(stderr, "gptoss generate: %s\n", gptoss_last_error());
        goto done;
    }
    logits = malloc((size_t)vocab * sizeof(float));
    generated = malloc(((size_t)n_new + 1) * sizeof(uint32_t));
    if (!logits || !generated) {
        fprintf(stderr, "gptoss generate: out of memory\n");
        goto done;
    }
    double start = now_seconds();
    if (eval_prompt(ctx, prompt, n_prompt, logits) != GPTOSS_OK) {
        fprintf(stderr, "gptoss generate: %s\n", gptoss_last_error());
        goto done;
    }
    const double prefill_time = now_seconds() - start;
    start = now_seconds();
    for (uint32_t i = 0; i < n_new; i++) {
        generated[i] = gptoss_sampler_sample(sampler, logits);
        if (i + 1 < n_new && gptoss_context_eval(ctx, &generated[i], 1, GPTOSS_LOGITS_LAST, logits) != GPTOSS_OK) {
            fprintf(stderr, "gptoss generate: %s\n", gptoss_last_error());
            goto done;
        }
    }
    const double decode_time = now_seconds() - start;
    for (uint32_t i = 0; i < n_new; i++) printf(i ? ",%u" : "%u", generated[i]);
    printf("\n");
    fflush(stdout);
    fprintf(stderr,
            "prefill: %u tokens in %.3f s (%.2f tok/s); decode: %u tokens in %.3f s (%.2f tok/s); "
            "peak RSS %.2f GiB\n",
            n_prompt, prefill_time, n_prompt / prefill_time, n_new > 0 ? n_new - 1 : 0, decode_time,
            n_new > 1 ? (n_new - 1) / decode_time : 0.0, (double)peak_rss_bytes() / (1u << 30));
    status = 0;
done:
    free(generated);
    free(logits);
    free(prompt);
    gptoss_sampler_free(sampler);
    gptoss_context_free(ctx);
    gptoss_model_free(model);
    return status;
}
