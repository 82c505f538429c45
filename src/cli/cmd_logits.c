/* cmd_logits.c - `gptoss logits`: float32 logits of every position to a file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "options.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: gptoss logits --model DIR --tokens 1,2,3 --out FILE [--step] [options]\n\n"
            "Writes float32 little-endian logits of every position, shape [n_tokens, vocab],\n"
            "no header. By default all tokens go through one batched prefill; --step feeds\n"
            "them one at a time through the KV cache.\n\n"
            "  --tokens LIST      comma-separated token ids\n"
            "  --out FILE         where to write the logits\n"
            "  --step             one token at a time\n%s",
            run_options_help);
}

int cmd_logits(int argc, char **argv) {
    run_options options = run_options_default(GPTOSS_PRECISION_EXACT);
    const char *tokens_text = NULL, *out_path = NULL;
    int step = 0;
    for (int i = 1; i < argc; i++) {
        int r = parse_run_option(argc, argv, &i, &options);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--tokens")) {
            if (!(tokens_text = option_value(argc, argv, &i))) return 2;
        } else if (!strcmp(argv[i], "--out") || !strcmp(argv[i], "-o")) {
            if (!(out_path = option_value(argc, argv, &i))) return 2;
        } else if (!strcmp(argv[i], "--step")) {
            step = 1;
        } else {
            fprintf(stderr, "gptoss logits: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!tokens_text || !out_path) {
        fprintf(stderr, "gptoss logits: --tokens and --out are required\n");
        usage(stderr);
        return 2;
    }
    uint32_t *tokens, n_tokens;
    if (!parse_token_list(tokens_text, &tokens, &n_tokens)) return 2;

    gptoss_model *model;
    gptoss_context *ctx;
    if (!open_model("logits", &options, &model, &ctx)) {
        free(tokens);
        return 1;
    }
    const size_t vocab = gptoss_model_config(model)->vocab_size;
    float *logits = malloc((size_t)n_tokens * vocab * sizeof(float));
    int status = 1;
    if (!logits) {
        fprintf(stderr, "gptoss logits: out of memory for %u x %zu logits\n", n_tokens, vocab);
        goto done;
    }
    const double start = now_seconds();
    gptoss_status s = GPTOSS_OK;
    if (step) {
        for (uint32_t i = 0; i < n_tokens && s == GPTOSS_OK; i++)
            s = gptoss_context_eval(ctx, tokens + i, 1, GPTOSS_LOGITS_LAST, logits + (size_t)i * vocab);
    } else {
        s = gptoss_context_eval(ctx, tokens, n_tokens, GPTOSS_LOGITS_ALL, logits);
    }
    if (s != GPTOSS_OK) {
        fprintf(stderr, "gptoss logits: %s\n", gptoss_last_error());
        goto done;
    }
    const double elapsed = now_seconds() - start;
    FILE *out = fopen(out_path, "wb");
    if (!out) {
        perror(out_path);
        goto done;
    }
    size_t written = fwrite(logits, sizeof(float), (size_t)n_tokens * vocab, out);
    if (fclose(out) != 0 || written != (size_t)n_tokens * vocab) {
        fprintf(stderr, "gptoss logits: %s: write failed\n", out_path);
        goto done;
    }
    fprintf(stderr, "%s: %u tokens in %.3f s (%.1f tok/s), logits [%u, %zu] written to %s\n",
            step ? "step" : "prefill", n_tokens, elapsed, n_tokens / elapsed, n_tokens, vocab, out_path);
    status = 0;
done:
    free(logits);
    free(tokens);
    gptoss_context_free(ctx);
    gptoss_model_free(model);
    return status;
}
