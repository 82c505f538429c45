/* harmony_cli.h - what `gptoss render` and `gptoss parse` share: the
 * tokenizer options and the one-JSON-value-per-line loop. */
#ifndef GPTOSS_CLI_HARMONY_CLI_H
#define GPTOSS_CLI_HARMONY_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "tokenizer.h"
#include "tokenizer_buffer.h"

typedef struct harmony_cli_options {
    const char *model_dir;      /* --model DIR: DIR/tokenizer.json */
    const char *tokenizer_path; /* --tokenizer FILE */
    bool no_cache;              /* --no-cache */
} harmony_cli_options;

/* Tries argv[*i] as a tokenizer option; consumes it (and its value) and
 * returns true on a match. */
bool harmony_cli_tokenizer_option(int argc, char **argv, int *i, harmony_cli_options *options);

/* Loads the tokenizer named by the options; prints why and returns NULL on
 * failure (also when neither or both of --model and --tokenizer are given). */
gptoss_tokenizer *harmony_cli_load(const char *command, const harmony_cli_options *options);

/* Handles one input line (without its newline) and appends exactly one
 * output line (without newline) to out; returns false for a bad line. */
typedef bool (*harmony_cli_line_fn)(void *context, const char *line, size_t len, gptoss_bytes *out);

/* Runs fn over every stdin line and prints its outputs, one per line.
 * Returns the exit status: 0, or 1 if a line was bad or stdout failed. */
int harmony_cli_run_lines(const char *command, harmony_cli_line_fn fn, void *context);

/* Appends {"error": "message"}. */
void harmony_cli_append_error(gptoss_bytes *out, const char *message);

#endif
