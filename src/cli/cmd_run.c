/* cmd_run.c - `gptoss run`: one question, the final answer streamed to stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assistant.h"
#include "commands.h"
#include "options.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: gptoss run --model DIR -p \"question\" [options]\n\n"
            "Renders the question as a harmony conversation (today's date, reasoning effort),\n"
            "generates until <|return|>, and streams the final answer to stdout.\n\n"
            "  -p, --prompt TEXT  the user message\n"
            "  --system TEXT      developer instructions\n"
            "  --reasoning R      low, medium (default) or high\n"
            "  --show-reasoning   print the chain of thought to stderr (dimmed)\n"
            "  -n N               at most N generated tokens (default: until the context is full)\n"
            "  --tokenizer FILE   tokenizer.json (default: DIR/tokenizer.json)\n"
            "%s%s",
            sampling_options_help, run_options_help);
}

int cmd_run(int argc, char **argv) {
    run_options options = run_options_default(GPTOSS_PRECISION_FAST);
    gptoss_sampler_params sampling = gptoss_sampler_default_params();
    const char *prompt = NULL, *system = NULL, *reasoning = "medium", *tokenizer = NULL;
    int show_reasoning = 0;
    uint32_t max_tokens = 0;
    for (int i = 1; i < argc; i++) {
        int r = parse_run_option(argc, argv, &i, &options);
        if (r == 0) r = parse_sampling_option(argc, argv, &i, &sampling);
        if (r < 0) return 2;
        if (r > 0) continue;
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(arg, "-p") || !strcmp(arg, "--prompt")) {
            if (!(prompt = option_value(argc, argv, &i))) return 2;
        } else if (!strcmp(arg, "--system")) {
            if (!(system = option_value(argc, argv, &i))) return 2;
        } else if (!strcmp(arg, "--reasoning")) {
            if (!(reasoning = option_value(argc, argv, &i))) return 2;
        } else if (!strcmp(arg, "--tokenizer")) {
            if (!(tokenizer = option_value(argc, argv, &i))) return 2;
        } else if (!strcmp(arg, "--show-reasoning")) {
            show_reasoning = 1;
        } else if (!strcmp(arg, "-n")) {
            const char *value = option_value(argc, argv, &i);
            if (!value || !parse_u32(value, &max_tokens)) {
                fprintf(stderr, "gptoss run: -n needs a non-negative integer\n");
                return 2;
            }
        } else {
            fprintf(stderr, "gptoss run: unknown option '%s'\n", arg);
            usage(stderr);
            return 2;
        }
    }
    if (!prompt) {
        fprintf(stderr, "gptoss run: -p \"question\" is required\n");
        usage(stderr);
        return 2;
    }
    assistant a;
    if (!assistant_open(&a, "run", &options, &sampling, tokenizer)) return 1;
    int status = 1;
    if (assistant_set_reasoning(&a, reasoning)) {
        assistant_set_system(&a, system);
        a.show_reasoning = show_reasoning;
        a.max_tokens = max_tokens;
        turn_stats stats;
        const int r = assistant_turn(&a, prompt, NULL, &stats);
        if (r >= 0) {
            fprintf(stderr, "prompt: %u tokens in %.2f s; generated: %u tokens in %.2f s (%.2f tok/s)%s\n",
                    stats.prompt_tokens, stats.prefill_seconds, stats.generated_tokens, stats.decode_seconds,
                    stats.decode_seconds > 0 ? stats.generated_tokens / stats.decode_seconds : 0.0,
                    stats.context_full ? "; stopped: context full (raise --ctx)"
                    : stats.stop_token ? "" : "; stopped: -n reached");
            status = 0;
        }
    }
    assistant_close(&a);
    return status;
}
