/* turn.c - one assistant turn: prompt, sample, stream-parse, stop. */
#include "turn.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void turn_today(char out[11]) {
    time_t now = time(NULL);
    struct tm local;
    localtime_r(&now, &local);
    strftime(out, 11, "%Y-%m-%d", &local);
}

/* Hands the events of one parser step to the caller; 1 if the turn ends. */
static int deliver(const turn_options *o, const gptoss_harmony_event *events, size_t n, turn_stats *stats) {
    int stop = 0;
    for (size_t i = 0; i < n; i++) {
        if (o->on_event && o->on_event(o->user, &events[i])) stop = 1;
        if (events[i].type == GPTOSS_HARMONY_EVENT_STOP) {
            stats->stop_token = events[i].token;
            stop = 1;
        }
    }
    return stop;
}

gptoss_status turn_run(gptoss_context *ctx, const gptoss_tokenizer *tok, gptoss_sampler *sampler,
                       gptoss_harmony_parser *parser, const uint32_t *prompt, uint32_t n_prompt,
                       const turn_options *o, turn_stats *stats) {
    memset(stats, 0, sizeof *stats);
    stats->prompt_tokens = n_prompt;
    gptoss_harmony_parser_reset(parser);
    (void)tok;
    gptoss_status s = GPTOSS_OK;
    const uint32_t capacity = gptoss_context_capacity(ctx);
    if (n_prompt >= capacity)
        return gptoss_fail(GPTOSS_ERROR_CONTEXT_OVERFLOW,
                           "context overflow: the prompt has %u tokens and the context holds %u (raise --ctx)",
                           n_prompt, capacity);
    const uint32_t vocab = gptoss_model_config(gptoss_context_model(ctx))->vocab_size;
    float *logits = malloc((size_t)vocab * sizeof *logits);
    if (!logits) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    double start = seconds();
    s = o->eval ? o->eval(o->user, ctx, prompt, n_prompt, 1, logits, &stats->processed_tokens)
                : gptoss_context_eval_prompt(ctx, prompt, n_prompt, logits, &stats->processed_tokens);
    stats->prefill_seconds = seconds() - start;
    start = seconds();
    const gptoss_harmony_event *events;
    size_t n_events;
    while (s == GPTOSS_OK) {
        if (o->cancel && *o->cancel) {
            stats->cancelled = 1;
            break;
        }
        if (o->max_tokens && stats->generated_tokens >= o->max_tokens) break;
        uint32_t token;
        if (o->next_token) {
            if (!o->next_token(o->user, &token)) break; /* script exhausted */
        } else {
            token = gptoss_sampler_sample(sampler, logits);
        }
        stats->generated_tokens++;
        if (o->generated && !gptoss_ids_push(o->generated, token)) {
            s = gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
            break;
        }
        s = gptoss_harmony_parser_push(parser, token, &events, &n_events);
        if (s != GPTOSS_OK || deliver(o, events, n_events, stats)) break;
        if (gptoss_context_position(ctx) >= capacity) {
            stats->context_full = 1;
            break;
        }
        s = o->eval ? o->eval(o->user, ctx, &token, 1, 0, logits, NULL)
                    : gptoss_context_eval(ctx, &token, 1, GPTOSS_LOGITS_LAST, logits);
    }
    if (s == GPTOSS_OK && stats->stop_token == 0) {
        s = gptoss_harmony_parser_finish(parser, &events, &n_events);
        if (s == GPTOSS_OK) deliver(o, events, n_events, stats);
    }
    stats->decode_seconds = seconds() - start;
    free(logits);
    return s;
}
