/* turn.h - one assistant turn: a rendered prompt in (reusing what the context
 * already holds), tokens sampled until <|return|>, <|call|> or
 * <|endoftext|>, streamed through the harmony parser. Used by `gptoss run`,
 * `gptoss chat` and the server. */
#ifndef GPTOSS_TURN_H
#define GPTOSS_TURN_H

#include <signal.h>
#include <stdint.h>

#include "gptoss.h"
#include "harmony.h"
#include "tokenizer.h"
#include "tokenizer_buffer.h"

typedef struct turn_stats {
    uint32_t prompt_tokens;     /* tokens of the rendered prompt */
    uint32_t processed_tokens;  /* of those, computed (the rest came from the cache) */
    uint32_t generated_tokens;  /* sampled, the stop token included */
    uint32_t stop_token;        /* the id that ended the turn; 0: length, cancel or context full */
    int cancelled;              /* stopped by *cancel */
    int context_full;           /* stopped because the context had no room left */
    double prefill_seconds, decode_seconds;
} turn_stats;

/* Called for every parser event; return non-zero to stop the turn. */
typedef int (*turn_event_fn)(void *user, const gptoss_harmony_event *event);

/* Optional replacement for sampling: the next token of a script (tests). */
typedef int (*turn_next_token_fn)(void *user, uint32_t *token);

/* Optional replacement for the model calls (the server runs every slot's
 * forward passes on one thread): prompt 1 stands for
 * gptoss_context_eval_prompt (sets *n_processed), prompt 0 for
 * gptoss_context_eval of one decoded token with the last token's logits. */
typedef gptoss_status (*turn_eval_fn)(void *user, gptoss_context *ctx, const uint32_t *tokens, uint32_t n,
                                      int prompt, float *logits, uint32_t *n_processed);

typedef struct turn_options {
    uint32_t max_tokens;                 /* 0: until the context is full */
    turn_event_fn on_event;
    void *user;
    volatile sig_atomic_t *cancel;       /* polled between tokens; may be NULL */
    turn_next_token_fn next_token;       /* NULL: sample */
    gptoss_ids *generated;               /* receives the sampled ids; may be NULL */
    turn_eval_fn eval;                   /* NULL: call the context directly */
} turn_options;

/* Runs one turn. The prompt normally ends with <|start|>assistant, so the
 * parser starts inside an assistant message. The parsed messages stay in
 * parser (reset first by this call) for the caller to read. */
gptoss_status turn_run(gptoss_context *ctx, const gptoss_tokenizer *tok, gptoss_sampler *sampler,
                       gptoss_harmony_parser *parser, const uint32_t *prompt, uint32_t n_prompt,
                       const turn_options *options, turn_stats *stats);

/* Today's date as YYYY-MM-DD (local time), for the system message. */
void turn_today(char out[11]);

#endif
