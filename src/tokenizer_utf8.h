/* tokenizer_utf8.h - UTF-8 validation and lossy decoding for the tokenizer.
 *
 * Lossy decoding follows the Unicode "maximal subpart" practice (as Rust's
 * String::from_utf8_lossy and Python's errors="replace" do): every maximal
 * prefix of a would-be sequence that cannot be completed becomes one U+FFFD,
 * and so does an incomplete sequence at the very end of the input. */
#ifndef GPTOSS_TOKENIZER_UTF8_H
#define GPTOSS_TOKENIZER_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer_buffer.h"

typedef enum gptoss_utf8_result {
    GPTOSS_UTF8_OK,        /* a whole valid character */
    GPTOSS_UTF8_INVALID,   /* bytes that can never start a valid character */
    GPTOSS_UTF8_TRUNCATED, /* a valid but incomplete start: all n bytes */
} gptoss_utf8_result;

/* Examines the character starting at s[0] (n >= 1 bytes available). On OK,
 * *cp is the code point and *len its byte length; on INVALID, *len is the
 * length of the maximal subpart to replace (>= 1); on TRUNCATED, *len = n. */
gptoss_utf8_result gptoss_utf8_next(const uint8_t *s, size_t n, uint32_t *cp, size_t *len);

/* Whether s[0..n) is valid UTF-8 (no surrogates, no overlongs, <= U+10FFFF).
 * On failure *bad_offset is the byte offset of the first bad sequence. */
bool gptoss_utf8_validate(const uint8_t *s, size_t n, size_t *bad_offset);

/* Appends s[0..n) to out with every invalid sequence replaced by U+FFFD.
 * When `final` is false, trailing bytes that could still become a valid
 * character are not consumed; returns the number of bytes consumed (n when
 * final). Returns SIZE_MAX when out of memory. */
size_t gptoss_utf8_append_lossy(gptoss_bytes *out, const uint8_t *s, size_t n, bool final);

/* Writes c as UTF-8 to out[0..4); returns the length. */
size_t gptoss_utf8_encode(uint32_t c, uint8_t out[4]);

#endif
