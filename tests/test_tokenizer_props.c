/* test_tokenizer_props.c - property tests of the tokenizer (seeded random
 * inputs): round trips, invalid input handling, the streaming decoder, lossy
 * UTF-8 decoding, and the translated regex classes against the UCD tables. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <criterion/criterion.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"
#include "tokenizer_pretokenize.h"
#include "tokenizer_regex.h"
#include "tokenizer_testing.h"
#include "tokenizer_utf8.h"
#include "unicode_classes.h"

static uint64_t rng_state;

static uint64_t next_random(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static uint32_t random_below(uint32_t n) { return (uint32_t)(next_random() % n); }

/* A random Unicode scalar value, biased towards the interesting parts. */
static uint32_t random_code_point(void) {
    static const uint32_t blocks[][2] = {
        {0x20, 0x7E},     {0x20, 0x7E},       {0x0, 0x1F},      {0x80, 0x24F},   {0x300, 0x36F},
        {0x370, 0x52F},   {0x590, 0x6FF},     {0x900, 0xDFF},   {0xE00, 0xEFF},  {0x1100, 0x11FF},
        {0x1680, 0x1680}, {0x180E, 0x180E},   {0x2000, 0x206F}, {0x3000, 0x30FF}, {0x4E00, 0x9FFF},
        {0xAC00, 0xD7A3}, {0xE000, 0xF8FF},   {0xFE00, 0xFFFF}, {0x10000, 0x1FFFF}, {0x1F300, 0x1FAFF},
        {0x20000, 0x3134F}, {0x31350, 0x323AF}, {0xE0000, 0xE007F}, {0x10D40, 0x10D8F}, {0x0, 0x10FFFF},
    };
    const uint32_t *block = blocks[random_below(sizeof blocks / sizeof blocks[0])];
    for (;;) {
        uint32_t c = block[0] + random_below(block[1] - block[0] + 1);
        if (c < 0xD800 || c > 0xDFFF) return c;
    }
}

static size_t random_text(char *out, size_t max_chars) {
    size_t n = 1 + random_below((uint32_t)max_chars), len = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t r = random_below(20);
        if (r == 0) { /* splice in a special token spelling or a contraction */
            static const char *const pieces[] = {"<|start|>", "<|end|>", "<|endoftext|>", "'s", "'LL", "'\xC5\xBF"};
            const char *p = pieces[random_below(6)];
            memcpy(out + len, p, strlen(p));
            len += strlen(p);
            continue;
        }
        len += gptoss_utf8_encode(random_code_point(), (uint8_t *)out + len);
    }
    return len;
}

Test(tokenizer_props, round_trip_on_random_valid_utf8) {
    gptoss_tokenizer *tok = testing_load_tokenizer();
    rng_state = 0x9E3779B97F4A7C15ull;
    char text[4 * 400 + 64];
    for (int round = 0; round < 400; round++) {
        size_t len = random_text(text, round < 300 ? 40 : 400);
        for (int allow = 0; allow < 2; allow++) {
            uint32_t *ids;
            size_t n;
            cr_assert_eq(gptoss_tokenizer_encode(tok, text, len, allow, &ids, &n), GPTOSS_OK, "round %d: %s", round,
                         gptoss_last_error());
            char *back;
            size_t back_len;
            cr_assert_eq(gptoss_tokenizer_decode(tok, ids, n, &back, &back_len), GPTOSS_OK);
            cr_assert(back_len == len && !memcmp(back, text, len), "round %d allow %d: no round trip", round, allow);
            free(back);
            free(ids);
        }
    }
    gptoss_tokenizer_free(tok);
}

/* Reference validity check, written the slow obvious way. */
static bool reference_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (!len || i + len > n) return false;
        uint32_t value = len == 1 ? c : c & (0x7F >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            value = value << 6 | (s[i + k] & 0x3F);
        }
        static const uint32_t min_value[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (value < min_value[len] || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

Test(tokenizer_props, random_bytes_are_encoded_or_refused_never_mangled) {
    gptoss_tokenizer *tok = testing_load_tokenizer();
    rng_state = 12345;
    uint8_t bytes[64];
    int refused = 0;
    for (int round = 0; round < 3000; round++) {
        size_t n = 1 + random_below(sizeof bytes);
        for (size_t i = 0; i < n; i++) {
            uint32_t r = random_below(4);
            bytes[i] = r == 0 ? (uint8_t)(0x80 | random_below(0x80)) : r == 1 ? (uint8_t)(0xC0 | random_below(0x40))
                                                                            : (uint8_t)(0x20 + random_below(0x60));
        }
        if (round % 7 == 0 && n >= 3) memcpy(bytes + random_below((uint32_t)n - 2), "\xED\xA0\x80", 3);
        bool valid = reference_valid(bytes, n);
        cr_assert_eq(gptoss_utf8_validate(bytes, n, NULL), valid, "round %d", round);
        uint32_t *ids = NULL;
        size_t n_ids;
        gptoss_status status = gptoss_tokenizer_encode(tok, (const char *)bytes, n, false, &ids, &n_ids);
        if (!valid) {
            cr_assert_eq(status, GPTOSS_ERROR_INVALID_ARGUMENT, "round %d", round);
            refused++;
            continue;
        }
        cr_assert_eq(status, GPTOSS_OK);
        char *back;
        size_t back_len;
        cr_assert_eq(gptoss_tokenizer_decode_bytes(tok, ids, n_ids, &back, &back_len), GPTOSS_OK);
        cr_assert(back_len == n && !memcmp(back, bytes, n));
        free(back);
        free(ids);
    }
    cr_expect_gt(refused, 100);
    gptoss_tokenizer_free(tok);
}

/* Lossy decoding: examples from the Unicode Standard (ch. 3, U+FFFD
 * substitution of maximal subparts) and the usual edge cases. */
Test(tokenizer_props, lossy_decoding_replaces_maximal_subparts) {
    static const struct { const char *in; size_t len; const char *out; } cases[] = {
        {"\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", 13,
         "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD\xEF\xBF\xBD" "d"},
        {"\xC0\xAF", 2, "\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xE0\x80\xAF", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xED\xA0\x80", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xF4\x90\x80\x80", 4, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xF0\x9F\x98", 3, "\xEF\xBF\xBD"},   /* truncated at the end: one */
        {"\xF0\x9F\x98 x", 5, "\xEF\xBF\xBD x"},
        {"ok\xFF", 3, "ok\xEF\xBF\xBD"},
        {"\xE2\x82\xAC", 3, "\xE2\x82\xAC"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gptoss_bytes out = {0};
        cr_assert_eq(gptoss_utf8_append_lossy(&out, (const uint8_t *)cases[i].in, cases[i].len, true), cases[i].len);
        cr_expect(out.len == strlen(cases[i].out) && !memcmp(out.data, cases[i].out, out.len), "case %zu", i);
        free(out.data);
    }
}

Test(tokenizer_props, streaming_decoder_never_breaks_a_character) {
    gptoss_tokenizer *tok = testing_load_tokenizer();
    rng_state = 777;
    /* Tokens that are lone bytes >= 0x80 make partial characters likely. */
    uint32_t byte_tokens[128];
    for (int b = 0; b < 128; b++) {
        char s[2] = {(char)(0x80 + b), 0};
        byte_tokens[b] = gptoss_tokenizer_token_id(tok, s);
        cr_assert_neq(byte_tokens[b], GPTOSS_TOKEN_NONE);
    }
    gptoss_token_decoder *decoder;
    cr_assert_eq(gptoss_token_decoder_create(tok, &decoder), GPTOSS_OK);
    for (int round = 0; round < 300; round++) {
        uint32_t ids[40];
        size_t n = 1 + random_below(40);
        for (size_t i = 0; i < n; i++) {
            uint32_t r = random_below(10);
            ids[i] = r < 4 ? byte_tokens[random_below(128)]
                   : r < 9 ? random_below(199998)
                           : 199998 + random_below(21);
        }
        gptoss_bytes streamed = {0};
        for (size_t i = 0; i < n; i++) {
            const char *chunk;
            size_t len;
            cr_assert_eq(gptoss_token_decoder_push(decoder, ids[i], &chunk, &len), GPTOSS_OK);
            cr_assert(gptoss_utf8_validate((const uint8_t *)chunk, len, NULL), "round %d: chunk not UTF-8", round);
            cr_assert_leq(gptoss_token_decoder_pending(decoder), 3);
            gptoss_bytes_append(&streamed, chunk, len);
        }
        const char *chunk;
        size_t len;
        cr_assert_eq(gptoss_token_decoder_finish(decoder, &chunk, &len), GPTOSS_OK);
        cr_assert(gptoss_utf8_validate((const uint8_t *)chunk, len, NULL));
        gptoss_bytes_append(&streamed, chunk, len);
        char *whole;
        size_t whole_len;
        cr_assert_eq(gptoss_tokenizer_decode(tok, ids, n, &whole, &whole_len), GPTOSS_OK);
        cr_assert(streamed.len == whole_len && !memcmp(streamed.data, whole, whole_len),
                  "round %d: streamed text differs from the whole decode", round);
        free(whole);
        free(streamed.data);
    }
    gptoss_token_decoder_free(decoder);
    gptoss_tokenizer_free(tok);
}

/* Compiles a translated single-class pattern anchored at the start. */
static pcre2_code *compile_class(const char *rust, bool explicit_ranges) {
    char *pattern;
    size_t len;
    cr_assert_eq(gptoss_regex_translate(rust, strlen(rust), explicit_ranges, &pattern, &len), GPTOSS_OK, "%s: %s",
                 rust, gptoss_last_error());
    int error;
    PCRE2_SIZE offset;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, len, PCRE2_UTF | PCRE2_ANCHORED, &error, &offset, NULL);
    cr_assert(code, "%s does not compile", rust);
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    free(pattern);
    return code;
}

/* Every code point: translated \p{..} and \s classes (both ways) agree with
 * the UCD 16 tables, whatever Unicode version PCRE2 itself carries. */
Test(tokenizer_props, translated_classes_match_the_ucd_for_every_code_point) {
    static const struct { const char *rust; gptoss_gc_mask mask; bool space; } classes[] = {
        {"\\p{L}", 0x1Fu << GPTOSS_GC_LU, false},
        {"[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]", (1u << GPTOSS_GC_LU) | (1u << GPTOSS_GC_LT) | (1u << GPTOSS_GC_LM) |
                                                     (1u << GPTOSS_GC_LO) | (0x7u << GPTOSS_GC_MN), false},
        {"[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]", (1u << GPTOSS_GC_LL) | (1u << GPTOSS_GC_LM) | (1u << GPTOSS_GC_LO) |
                                              (0x7u << GPTOSS_GC_MN), false},
        {"\\p{N}", 0x7u << GPTOSS_GC_ND, false},
        {"\\s", 0, true},
    };
    pcre2_match_data *match = pcre2_match_data_create(4, NULL);
    for (size_t k = 0; k < sizeof classes / sizeof classes[0]; k++) {
        for (int explicit_ranges = 0; explicit_ranges < 2; explicit_ranges++) {
            pcre2_code *code = compile_class(classes[k].rust, explicit_ranges);
            gptoss_cp_set space = {0};
            gptoss_cp_set_add_white_space(&space);
            gptoss_cp_set_normalize(&space);
            size_t wrong = 0;
            for (uint32_t c = 0; c <= 0x10FFFF; c++) {
                if (c >= 0xD800 && c <= 0xDFFF) continue;
                uint8_t bytes[4];
                size_t n = gptoss_utf8_encode(c, bytes);
                bool matched = pcre2_match(code, bytes, n, 0, 0, match, NULL) > 0;
                bool expected = classes[k].space ? gptoss_cp_set_contains(&space, c)
                                                 : (classes[k].mask >> gptoss_unicode_category(c)) & 1;
                if (matched != expected && wrong++ < 5)
                    cr_log_error("%s (explicit %d): U+%04X matched %d, UCD says %d", classes[k].rust, explicit_ranges,
                                 c, matched, expected);
            }
            cr_expect_eq(wrong, 0, "%s (explicit %d): %zu code points wrong", classes[k].rust, explicit_ranges, wrong);
            gptoss_cp_set_free(&space);
            pcre2_code_free(code);
        }
    }
    pcre2_match_data_free(match);
}

/* Rust semantics the translation must keep. */
Test(tokenizer_props, translation_keeps_rust_semantics) {
    pcre2_match_data *match = pcre2_match_data_create(4, NULL);
    static const struct { const char *rust, *text; bool matches; } cases[] = {
        {"\\s", "\xE1\xA0\x8E", false},   /* U+180E: PCRE2's \s says yes, Rust's no */
        {"\\s", "\xC2\x85", true},        /* U+0085 NEL is White_Space */
        {"\\s", "\xE2\x80\xA8", true},    /* U+2028 */
        {"\\s", "\xE2\x80\x8B", false},   /* U+200B is not */
        {"\\S", "\xE1\xA0\x8E", true},
        {"(?i:'s)", "'\xC5\xBF", true},   /* ſ folds to s */
        {"(?i:'k)", "'\xE2\x84\xAA", true}, /* Kelvin sign folds to k */
        {"(?i:'s)", "'S", true},
        {"'s", "'S", false},
        {"(?i:[a-c])x", "Bx", true},
        {"(?i:[a-c])x", "BX", false},
        {"a$", "a\n", false},             /* $ is the very end */
        {"a.", "a\n", false},
        {"a.", "a\r", true},
        {"\\p{Lu}", "\xF0\x90\xB5\x90", true}, /* U+10D50 GARAY CAPITAL LETTER A (Unicode 16) */
        {"\\p{N}", "\xF0\x90\xB5\x80", true},  /* U+10D40 GARAY DIGIT ZERO */
        {"\\p{L}", "\xF0\xB1\x8D\x90", true},  /* U+31350 CJK Ext H (Unicode 15) */
        {"[^\\p{L}\\p{N}]", "\xF0\x90\xB5\x90", false},
        {"\\P{L}", "a", false},
        {"[\\P{L}]", "1", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int explicit_ranges = 0; explicit_ranges < 2; explicit_ranges++) {
            pcre2_code *code = compile_class(cases[i].rust, explicit_ranges);
            size_t len = strlen(cases[i].text);
            int rc = pcre2_match(code, (PCRE2_SPTR)cases[i].text, len, 0, 0, match, NULL);
            bool whole = rc > 0 && pcre2_get_ovector_pointer(match)[1] == len;
            cr_expect_eq(whole, cases[i].matches, "case %zu: /%s/ (explicit %d)", i, cases[i].rust, explicit_ranges);
            pcre2_code_free(code);
        }
    }
    pcre2_match_data_free(match);
    static const char *const unsupported[] = {"\\w", "\\b", "[[a]]", "[a&&b]", "(?x)a", "(?P=n)", "[a", "(a", "a)"};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        char *pattern;
        size_t len;
        cr_expect_eq(gptoss_regex_translate(unsupported[i], strlen(unsupported[i]), false, &pattern, &len),
                     GPTOSS_ERROR_FORMAT, "%s should be refused", unsupported[i]);
    }
}

/* Long inputs exercise the heap-based merge and PCRE2's JIT stack. */
Test(tokenizer_props, long_inputs) {
    gptoss_tokenizer *tok = testing_load_tokenizer();
    size_t len = 1u << 20;
    char *text = malloc(len);
    static const char *const fills[] = {" ", "!", "7", "a", "\n", "=-"};
    for (size_t f = 0; f < sizeof fills / sizeof fills[0]; f++) {
        for (size_t i = 0; i < len; i++) text[i] = fills[f][i % strlen(fills[f])];
        uint32_t *ids;
        size_t n;
        cr_assert_eq(gptoss_tokenizer_encode(tok, text, len, false, &ids, &n), GPTOSS_OK, "%s", gptoss_last_error());
        char *back;
        size_t back_len;
        cr_assert_eq(gptoss_tokenizer_decode_bytes(tok, ids, n, &back, &back_len), GPTOSS_OK);
        cr_assert(back_len == len && !memcmp(back, text, len), "fill %zu", f);
        free(back);
        free(ids);
    }
    free(text);
    gptoss_tokenizer_free(tok);
}
