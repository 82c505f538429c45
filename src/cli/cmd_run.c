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
            "%s%s%s",
            assistant_options_help, sampling_options_help, run_options_help);
}

int cmd_run(int argc, char **argv) {
    assistant_options options = assistant_options_default();
    const char *prompt = NULL;
    for (int i = 1; i < argc; i++) {
        const int r = parse_assistant_option("run", argc, argv, &i, &options);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "-p") || !strcmp(argv[i], "--prompt")) {
            if (!(prompt = option_value(argc, argv, &i))) return 2;
        } else {
            fprintf(stderr, "gptoss run: unknown option '%s'\n", argv[i]);
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
    if (!assistant_open_with(&a, "run", &options)) return 1;
    turn_stats stats;
    const int r = assistant_turn(&a, prompt, NULL, &stats);
    if (r >= 0)
        fprintf(stderr, "prompt: %u tokens in %.2f s; generated: %u tokens in %.2f s (%.2f tok/s)%s\n",
                stats.prompt_tokens, stats.prefill_seconds, stats.generated_tokens, stats.decode_seconds,
                stats.decode_seconds > 0 ? stats.generated_tokens / stats.decode_seconds : 0.0,
                stats.context_full ? "; stopped: context full (raise --ctx)"
                : stats.stop_token ? ""
                                   : "; stopped: -n reached");
    assistant_close(&a);
    return r >= 0 ? 0 : 1;
}
