/* assistant.h - what `gptoss run` and `gptoss chat` share: a model, its
 * context and tokenizer, a sampler, the harmony parser, and the conversation
 * so far. Each turn renders the whole conversation (today's date, reasoning
 * effort, developer instructions) and lets the context reuse its prefix. */
#ifndef GPTOSS_CLI_ASSISTANT_H
#define GPTOSS_CLI_ASSISTANT_H

#include <signal.h>

#include "harmony.h"
#include "options.h"
#include "tokenizer.h"
#include "turn.h"

typedef struct assistant {
    gptoss_model *model;
    gptoss_context *ctx;
    gptoss_tokenizer *tok;
    gptoss_sampler *sampler;
    gptoss_harmony_parser *parser;
    gptoss_conversation conversation;
    char reasoning[16];        /* low / medium / high */
    char *system;              /* developer instructions, or NULL */
    int show_reasoning;        /* analysis to stderr, dimmed */
    uint32_t max_tokens;       /* per reply; 0: until the context is full */
    char date[11];
} assistant;

/* The options `run` and `chat` share. */
typedef struct assistant_options {
    run_options run;
    gptoss_sampler_params sampling;
    const char *system, *reasoning, *tokenizer;
    int show_reasoning;
    uint32_t max_tokens;
} assistant_options;

/* Defaults: fast precision, the sampler's defaults, medium reasoning. */
assistant_options assistant_options_default(void);

/* Help text for the shared options. */
extern const char assistant_options_help[];

/* Tries argv[*i] as a shared option (run, sampling, --system, --reasoning,
 * --tokenizer, --show-reasoning, -n): 1 = consumed, 0 = not one, -1 = bad
 * value (printed, naming the command). */
int parse_assistant_option(const char *command, int argc, char **argv, int *i, assistant_options *options);

/* Opens the assistant with the options (reasoning, instructions, limits
 * applied); prints why and returns 0 on failure. */
int assistant_open_with(assistant *a, const char *command, const assistant_options *options);

/* Loads everything; prints why and returns 0 on failure. tokenizer_path NULL:
 * DIR/tokenizer.json of the model. */
int assistant_open(assistant *a, const char *command, const run_options *options,
                   const gptoss_sampler_params *sampling, const char *tokenizer_path);
void assistant_close(assistant *a);

/* Sets the reasoning effort; 0 (and a message) if it is not low/medium/high. */
int assistant_set_reasoning(assistant *a, const char *effort);

/* Replaces the developer instructions (NULL or "": none). */
void assistant_set_system(assistant *a, const char *text);

/* Forgets the conversation (the context keeps its tokens for reuse). */
void assistant_reset(assistant *a);

/* One user message and the reply: the final answer streams to stdout,
 * reasoning to stderr when asked. Returns 1 if the model produced a final
 * message; 0 otherwise (the stray text it produced was printed, with a note
 * on stderr); -1 on an error (printed). */
int assistant_turn(assistant *a, const char *user_text, volatile sig_atomic_t *cancel, turn_stats *stats);

#endif
