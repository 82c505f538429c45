/* options.h - option parsing and model set-up shared by the subcommands. */
#ifndef GPTOSS_CLI_OPTIONS_H
#define GPTOSS_CLI_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "gptoss.h"

/* Options of every command that runs the model. */
typedef struct run_options {
    const char *model_dir;
    int threads;              /* 0: OpenMP's default (all cores) */
    uint32_t ctx;             /* 0: min(4096, max_position_embeddings) */
    gptoss_kernel_isa kernels;
    int kernels_given;        /* --kernels was on the command line (it beats GPTOSS_KERNELS) */
    gptoss_precision precision;
    int verbose;
} run_options;

/* Defaults: the command's precision (exact for logits/generate, fast otherwise). */
run_options run_options_default(gptoss_precision precision);

/* Help text for the run options, to append to a command's usage. */
extern const char run_options_help[];

/* Help text for the sampling options. */
extern const char sampling_options_help[];

/* Parses one sampling option (--temperature, --top-k, --top-p, --min-p,
 * --seed): 1 = consumed, 0 = not a sampling option, -1 = bad value (printed). */
int parse_sampling_option(int argc, char **argv, int *i, gptoss_sampler_params *params);

/* Resolves the kernel choice: --kernels, else $GPTOSS_KERNELS, else auto.
 * Prints and returns 0 if the name is unknown. */
int resolve_kernels(run_options *options);

/* Tries argv[*i] as a run option; on a match consumes it (and its value,
 * advancing *i) and returns 1. Returns 0 if it is not a run option and -1
 * (after printing why) if its value is bad. */
int parse_run_option(int argc, char **argv, int *i, run_options *options);

/* Strict number parsing: the whole string must be the number. */
int parse_u32(const char *text, uint32_t *out);
int parse_u64(const char *text, uint64_t *out);
int parse_float(const char *text, float *out);

/* Parses "1,2,3" into a malloc'd array. Returns 0 and prints why on bad input. */
int parse_token_list(const char *text, uint32_t **out_ids, uint32_t *out_count);

/* Token ids written as a JSON array or separated by spaces or commas, from
 * text[0..len). Returns a malloc'd array (never NULL on success) and *n, or
 * NULL with *error set (a fixed string). */
uint32_t *parse_id_list(const char *text, size_t len, size_t *n, const char **error);

/* The value after argv[*i], or NULL (after printing an error) if missing. */
const char *option_value(int argc, char **argv, int *i);

/* Loads the model and creates a context, telling the person on stderr what
 * was loaded and how long it took. Prints the error and returns 0 on failure. */
int open_model(const char *command, const run_options *options, gptoss_model **out_model,
               gptoss_context **out_context);

/* Evaluates a prompt (logits of its last token into logits), in chunks with a
 * progress bar on stderr when it is long enough to keep a person waiting. */
gptoss_status eval_prompt(gptoss_context *ctx, const uint32_t *tokens, uint32_t n_tokens, float *logits);

/* Peak resident set size of this process in bytes. */
uint64_t peak_rss_bytes(void);

/* Seconds on a monotonic clock. */
double now_seconds(void);

#endif
