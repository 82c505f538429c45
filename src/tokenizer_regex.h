/* tokenizer_regex.h - translates a pre-tokenisation regex written for Rust's
 * regex / fancy-regex crates (what tokenizer.json and tiktoken declare) into
 * a PCRE2 pattern that matches exactly the same text.
 *
 * Rust and PCRE2 read the same syntax differently: \s is White_Space in Rust
 * (PCRE2 also matches U+180E), \p{..} uses the regex crate's Unicode version
 * (PCRE2's tables may be older), (?i) uses Unicode simple case folding, `$`
 * is end of text only and `.` excludes only \n. The translation spells all of
 * these out from the build-time UCD tables, so the result is compiled with
 * PCRE2_UTF and without PCRE2_UCP or PCRE2_CASELESS. Unsupported constructs
 * (\w, \b, nested classes and class set operations, backreferences, flags
 * other than i and u) are reported as errors, never approximated. */
#ifndef GPTOSS_TOKENIZER_REGEX_H
#define GPTOSS_TOKENIZER_REGEX_H

#include <stdbool.h>
#include <stddef.h>

#include "gptoss.h"

/* Translates rust[0..len) into a NUL-terminated PCRE2 pattern (*pattern,
 * free() it). With explicit_ranges, every \p{..} class is spelled out as
 * ranges; otherwise PCRE2's own \p{..} is used wherever the build-time probe
 * showed it agrees with the UCD once a few newer characters are added
 * (much faster on non-Latin text). Both give the same matches. */
gptoss_status gptoss_regex_translate(const char *rust, size_t len, bool explicit_ranges,
                                     char **pattern, size_t *pattern_len);

#endif
