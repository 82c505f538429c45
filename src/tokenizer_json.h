/* tokenizer_json.h - JSON string literals with exact byte lengths, for the
 * tokenize/detokenize commands and the tokenizer tests. (cJSON stops at an
 * escaped NUL, which text to tokenize may contain.) */
#ifndef GPTOSS_TOKENIZER_JSON_H
#define GPTOSS_TOKENIZER_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "gptoss.h"
#include "tokenizer_buffer.h"

/* Parses text[0..len), which must hold one JSON string and nothing else but
 * JSON whitespace, into its bytes (*out malloc'ed and NUL-terminated; *out_len
 * counts embedded NULs). A \u escape of a lone surrogate, a raw control
 * character or anything that is not a string is GPTOSS_ERROR_FORMAT with a
 * message. Raw bytes are copied as they are (UTF-8 is checked by the
 * encoder). */
gptoss_status gptoss_json_parse_string(const char *text, size_t len, char **out, size_t *out_len);

/* Parses one JSON string starting at text[*pos] == '"' and leaves *pos just
 * past its closing quote; appends its bytes to out. */
gptoss_status gptoss_json_scan_string(const char *text, size_t len, size_t *pos, gptoss_bytes *out);

/* Moves *pos past JSON whitespace. */
void gptoss_json_skip_space(const char *text, size_t len, size_t *pos);

/* Moves *pos (after optional whitespace) past one JSON value without
 * building it: fast enough to step over megabytes of arrays. Checks only the
 * structure (brackets, strings), not every detail of the grammar. */
gptoss_status gptoss_json_skip_value(const char *text, size_t len, size_t *pos);

/* Appends s[0..len) as a quoted JSON string: '"', '\\' and control
 * characters escaped, everything else copied. Returns false when out of memory. */
bool gptoss_json_append_string(gptoss_bytes *out, const char *s, size_t len);

#endif
