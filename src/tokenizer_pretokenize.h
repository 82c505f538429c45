/* tokenizer_pretokenize.h - splits text into pieces with a compiled regex,
 * the way tiktoken runs its pattern (fancy-regex find_iter). Also used to
 * find special-token strings. */
#ifndef GPTOSS_TOKENIZER_PRETOKENIZE_H
#define GPTOSS_TOKENIZER_PRETOKENIZE_H

#include <stdbool.h>
#include <stddef.h>

#include "gptoss.h"

typedef struct gptoss_regex gptoss_regex;

/* Compiles a PCRE2 pattern (UTF, JIT when available). The handle is
 * immutable afterwards and may be shared by threads. */
gptoss_status gptoss_regex_compile(const char *pcre2_pattern, size_t len, gptoss_regex **out);

/* Translates a Rust-syntax regex (tokenizer_regex.h) and compiles it. */
gptoss_status gptoss_regex_compile_rust(const char *rust_pattern, size_t len, bool explicit_ranges,
                                        gptoss_regex **out);

void gptoss_regex_free(gptoss_regex *regex);

/* Receives one match text[start, end). A status other than GPTOSS_OK stops
 * the scan and is returned by gptoss_regex_split. */
typedef gptoss_status (*gptoss_piece_fn)(void *context, size_t start, size_t end);

/* Calls piece for every non-overlapping match in text[0, len), left to
 * right. Text between matches is skipped, as tiktoken does (the o200k
 * pattern leaves none); empty matches are skipped too. text must be valid
 * UTF-8 (not re-checked). */
gptoss_status gptoss_regex_split(const gptoss_regex *regex, const char *text, size_t len,
                                 gptoss_piece_fn piece, void *context);

/* Finds the first match in text[from, len): sets *start and *end and returns
 * true, or returns false when there is none (or on a matching failure, which
 * *status reports). */
bool gptoss_regex_find(const gptoss_regex *regex, const char *text, size_t len, size_t from,
                       size_t *start, size_t *end, gptoss_status *status);

#endif
