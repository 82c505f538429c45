/* test_tokenizer.c - the o200k_harmony tokenizer against golden encodings:
 * the public sample (tests/fixtures/tokenizer/sample.jsonl) and the harder
 * cases computed with tiktoken itself (golden_extra.jsonl, golden_fuzz.jsonl,
 * see make_golden.cjs); special tokens, errors, decoding and the cache. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tokenizer.h"
#include "tokenizer_testing.h"
#include "tokenizer_utf8.h"

/* Encodes and decodes every case of a golden file; returns the failures. */
static size_t check_golden(const gptoss_tokenizer *tok, const char *path, size_t *total) {
    golden_case *cases;
    size_t n = golden_read(path, &cases), failures = 0;
    for (size_t i = 0; i < n; i++) {
        golden_case *c = &cases[i];
        uint32_t *ids = NULL;
        size_t n_ids = 0;
        gptoss_status status = gptoss_tokenizer_encode(tok, c->text, c->text_len, c->allow_special, &ids, &n_ids);
        bool same = status == GPTOSS_OK && n_ids == c->n_ids && !memcmp(ids, c->ids, n_ids * sizeof *ids);
        if (!same) {
            char got[512], want[512];
            cr_log_error("%s case %zu (%s): got [%s] want [%s] %s", path, i + 1, c->category,
                         status == GPTOSS_OK ? testing_ids_text(ids, n_ids, got, sizeof got) : "error",
                         testing_ids_text(c->ids, c->n_ids, want, sizeof want),
                         status == GPTOSS_OK ? "" : gptoss_last_error());
            failures++;
        }
        free(ids);
        char *text = NULL;
        size_t text_len = 0;
        status = gptoss_tokenizer_decode(tok, c->ids, c->n_ids, &text, &text_len);
        if (status != GPTOSS_OK || text_len != c->text_len || memcmp(text, c->text, text_len)) {
            cr_log_error("%s case %zu (%s): decode does not give the text back", path, i + 1, c->category);
            failures++;
        }
        free(text);
        golden_case_free(c);
    }
    free(cases);
    *total = n;
    return failures;
}

static void check_both_golden_files(const gptoss_tokenizer_options *options) {
    gptoss_tokenizer *tok = testing_load_tokenizer_with(options);
    size_t n_sample, n_extra, n_fuzz;
    size_t bad_sample = check_golden(tok, GPTOSS_FIXTURES "/tokenizer/sample.jsonl", &n_sample);
    size_t bad_extra = check_golden(tok, GPTOSS_FIXTURES "/tokenizer/golden_extra.jsonl", &n_extra);
    size_t bad_fuzz = check_golden(tok, GPTOSS_FIXTURES "/tokenizer/golden_fuzz.jsonl", &n_fuzz);
    cr_log_info("golden: sample %zu/%zu, extra %zu/%zu, fuzz %zu/%zu", n_sample - bad_sample, n_sample,
                n_extra - bad_extra, n_extra, n_fuzz - bad_fuzz, n_fuzz);
    cr_expect_geq(n_sample, 62);
    cr_expect_geq(n_extra, 300);
    cr_expect_geq(n_fuzz, 1000);
    cr_expect_eq(bad_sample, 0, "%zu sample cases failed", bad_sample);
    cr_expect_eq(bad_extra, 0, "%zu extra cases failed", bad_extra);
    cr_expect_eq(bad_fuzz, 0, "%zu fuzz cases failed", bad_fuzz);
    gptoss_tokenizer_free(tok);
}

Test(tokenizer, golden_cases) { check_both_golden_files(NULL); }

/* Character classes spelled out as ranges must give the same results as
 * PCRE2's properties plus corrections. */
Test(tokenizer, golden_cases_with_explicit_ranges) {
    gptoss_tokenizer_options options = {.explicit_ranges = true};
    check_both_golden_files(&options);
}

Test(tokenizer, vocabulary_and_special_tokens) {
    gptoss_tokenizer *tok = testing_load_tokenizer();
    cr_expect_eq(gptoss_tokenizer_vocab_size(tok), 200019);
    cr_expect_eq(gptoss_tokenizer_ordinary_count(tok), 199998);
    cr_expect_eq(gptoss_tokenizer_special_count(tok), 21);
    static const struct { const char *text; uint32_t id; } specials[] = {
        {"<|startoftext|>", GPTOSS_TOKEN_STARTOFTEXT}, {"<|endoftext|>", GPTOSS_TOKEN_ENDOFTEXT},
        {"<|return|>", GPTOSS_TOKEN_RETURN},           {"<|constrain|>", GPTOSS_TOKEN_CONSTRAIN},
        {"<|channel|>", GPTOSS_TOKEN_CHANNEL},         {"<|start|>", GPTOSS_TOKEN_START},
        {"<|end|>", GPTOSS_TOKEN_END},                 {"<|message|>", GPTOSS_TOKEN_MESSAGE},
        {"<|call|>", GPTOSS_TOKEN_CALL},               {"<|endofprompt|>", GPTOSS_TOKEN_ENDOFPROMPT},
        {"<|reserved_200000|>", 200000},               {"<|reserved_200017|>", 200017},
    };
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
        cr_expect_eq(gptoss_tokenizer_token_id(tok, specials[i].text), specials[i].id, "%s", specials[i].text);
        cr_expect(gptoss_tokenizer_is_special(tok, specials[i].id));
        size_t len;
        const uint8_t *bytes = gptoss_tokenizer_token_bytes(tok, specials[i].id, &len);
        cr_expect(bytes && len == strlen(specials[i].text) && !memcmp(bytes, specials[i].text, len));
    }
    for (uint32_t i = 0; i < 21; i++) cr_expect_eq(gptoss_tokenizer_special_id(tok, i), 199998 + i);
    cr_expect_eq(gptoss_tokenizer_token_id(tok, "Hello"), 13225);
    cr_expect_eq(gptoss_tokenizer_token_id(tok, "<|nope|>"), GPTOSS_TOKEN_NONE);
    cr_expect_not(gptoss_tokenizer_is_special(tok, 13225));
    size_t len;
    cr_expect_null(gptoss_tokenizer_token_bytes(tok, 200019, &len));
    cr_expect_null(gptoss_tokenizer_token_bytes(tok, 201087, &len));
    gptoss_tokenizer_free(tok);
}

Test(tokenizer, special_spellings_are_text_unless_allowed) {
    gptoss_tokenizer *tok = testing_load_tokenizer();
    const char *text = "<|start|>user<|message|>hi<|end|>";
    uint32_t *ids;
    size_t n;
    cr_assert_eq(gptoss_tokenizer_encode(tok, text, strlen(text), true, &ids, &n), GPTOSS_OK);
    cr_assert_eq(n, 5);
    cr_expect_eq(ids[0], GPTOSS_TOKEN_START);
    cr_expect_eq(ids[2], GPTOSS_TOKEN_MESSAGE);
    cr_expect_eq(ids[4], GPTOSS_TOKEN_END);
    free(ids);
    cr_assert_eq(gptoss_tokenizer_encode(tok, text, strlen(text), false, &ids, &n), GPTOSS_OK);
    for (size_t i = 0; i < n; i++) cr_expect_lt(ids[i], 199998u, "no special id without allow_special");
    free(ids);
    gptoss_tokenizer_free(tok);
}

Test(tokenizer, empty_text) {
    gptoss_tokenizer *tok = testing_load_tokenizer();
    uint32_t *ids = NULL;
    size_t n = 99;
    cr_assert_eq(gptoss_tokenizer_encode(tok, "", 0, false, &ids, &n), GPTOSS_OK);
    cr_expect_eq(n, 0);
    cr_expect_not_null(ids);
    free(ids);
    char *text;
    size_t len;
    cr_assert_eq(gptoss_tokenizer_decode(tok, NULL, 0, &text, &len), GPTOSS_OK);
    cr_expect_eq(len, 0);
    cr_expect_str_eq(text, "");
    free(text);
    gptoss_tokenizer_free(tok);
}

Test(tokenizer, invalid_utf8_is_refused_with_its_offset) {
    gptoss_tokenizer *tok = testing_load_tokenizer();
    static const struct { const char *bytes; size_t len; size_t offset; } bad[] = {
        {"abc\xED\xA0\x80" "def", 9, 3}, /* CESU-8 surrogate U+D800 */
        {"\xED\xBF\xBF", 3, 0},          /* U+DFFF */
        {"x\xFF", 2, 1},
        {"\xC0\x80", 2, 0},              /* overlong NUL */
        {"\xE0\x80\xAF", 3, 0},          /* overlong '/' */
        {"ok \xE2\x82", 5, 3},           /* truncated at the end */
        {"\xF4\x90\x80\x80", 4, 0},      /* above U+10FFFF */
        {"\x80", 1, 0},                  /* stray continuation */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint32_t *ids = NULL;
        size_t n = 0;
        gptoss_status status = gptoss_tokenizer_encode(tok, bad[i].bytes, bad[i].len, false, &ids, &n);
        cr_expect_eq(status, GPTOSS_ERROR_INVALID_ARGUMENT, "case %zu", i);
        char expected[64];
        snprintf(expected, sizeof expected, "at byte %zu", bad[i].offset);
        cr_expect(strstr(gptoss_last_error(), expected), "case %zu: %s", i, gptoss_last_error());
        cr_expect(strstr(gptoss_last_error(), "UTF-8"), "case %zu: %s", i, gptoss_last_error());
    }
    uint32_t *ids;
    size_t n;
    gptoss_tokenizer_encode(tok, "\xED\xA0\x80", 3, false, &ids, &n);
    cr_expect(strstr(gptoss_last_error(), "surrogate"), "%s", gptoss_last_error());
    gptoss_tokenizer_free(tok);
}

Test(tokenizer, decode_replaces_invalid_bytes) {
    gptoss_tokenizer *tok = testing_load_tokenizer();
    /* From PARSING.md: two tokens " \xF0\x9F" then "worked". */
    const uint32_t ids[] = {9552, 9552, 135596};
    char *text;
    size_t len;
    cr_assert_eq(gptoss_tokenizer_decode(tok, ids, 3, &text, &len), GPTOSS_OK);
    cr_expect_str_eq(text, " \xEF\xBF\xBD \xEF\xBF\xBDworked");
    free(text);
    char *raw;
    cr_assert_eq(gptoss_tokenizer_decode_bytes(tok, ids, 3, &raw, &len), GPTOSS_OK);
    cr_expect_eq(len, 12);
    cr_expect(!memcmp(raw, " \xF0\x9F \xF0\x9Fworked", 12));
    free(raw);
    const uint32_t out_of_range[] = {13225, 200019};
    cr_expect_eq(gptoss_tokenizer_decode(tok, out_of_range, 2, &text, &len), GPTOSS_ERROR_TOKEN_RANGE);
    cr_expect(strstr(gptoss_last_error(), "200019"), "%s", gptoss_last_error());
    const uint32_t special[] = {GPTOSS_TOKEN_START, 13225};
    cr_assert_eq(gptoss_tokenizer_decode(tok, special, 2, &text, &len), GPTOSS_OK);
    cr_expect_str_eq(text, "<|start|>Hello");
    free(text);
    gptoss_tokenizer_free(tok);
}

Test(tokenizer, streaming_decoder_joins_split_characters) {
    gptoss_tokenizer *tok = testing_load_tokenizer();
    /* From PARSING.md: "café 👨‍👩‍👧 你好" split across byte-level tokens. */
    const uint32_t ids[] = {66, 103112, 61138, 101, 2524, 28823, 102, 2524, 28823, 100, 220, 177519};
    gptoss_token_decoder *decoder;
    cr_assert_eq(gptoss_token_decoder_create(tok, &decoder), GPTOSS_OK);
    gptoss_bytes all = {0};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        const char *chunk;
        size_t len;
        cr_assert_eq(gptoss_token_decoder_push(decoder, ids[i], &chunk, &len), GPTOSS_OK);
        cr_expect(gptoss_utf8_validate((const uint8_t *)chunk, len, NULL), "chunk %zu is not UTF-8", i);
        gptoss_bytes_append(&all, chunk, len);
    }
    const char *tail;
    size_t tail_len;
    cr_assert_eq(gptoss_token_decoder_finish(decoder, &tail, &tail_len), GPTOSS_OK);
    cr_expect_eq(tail_len, 0);
    cr_expect_str_eq(all.data, "café 👨‍👩‍👧 你好");
    /* An unfinished character at the end becomes one U+FFFD. */
    const char *chunk;
    size_t len;
    cr_assert_eq(gptoss_token_decoder_push(decoder, 9552, &chunk, &len), GPTOSS_OK); /* " \xF0\x9F" */
    cr_expect_eq(len, 1);
    cr_expect_eq(gptoss_token_decoder_pending(decoder), 2);
    cr_assert_eq(gptoss_token_decoder_finish(decoder, &chunk, &len), GPTOSS_OK);
    cr_expect_eq(len, 3);
    cr_expect(!memcmp(chunk, "\xEF\xBF\xBD", 3));
    cr_expect_eq(gptoss_token_decoder_push(decoder, 300000, &chunk, &len), GPTOSS_ERROR_TOKEN_RANGE);
    free(all.data);
    gptoss_token_decoder_free(decoder);
    gptoss_tokenizer_free(tok);
}

/* A fresh temporary cache directory. */
static char *temp_dir(void) {
    char *dir = strdup("/tmp/gptoss-tok-test-XXXXXX");
    cr_assert(mkdtemp(dir));
    return dir;
}

static void encode_hello(const gptoss_tokenizer *tok) {
    uint32_t *ids;
    size_t n;
    cr_assert_eq(gptoss_tokenizer_encode(tok, "Hello, world!", 13, false, &ids, &n), GPTOSS_OK);
    cr_expect_eq(n, 4);
    cr_expect_eq(ids[0], 13225);
    cr_expect_eq(ids[3], 0);
    free(ids);
}

/* The single cache file written in dir. */
static char *cache_file(const char *dir) {
    char command[512];
    snprintf(command, sizeof command, "ls %s/tokenizer-*.bin 2>/dev/null", dir);
    FILE *ls = popen(command, "r");
    char *path = calloc(1, 1024);
    if (!fgets(path, 1024, ls)) path[0] = 0;
    pclose(ls);
    path[strcspn(path, "\n")] = 0;
    return path;
}

Test(tokenizer, cache_is_written_read_and_rebuilt_when_corrupt) {
    char *dir = temp_dir();
    gptoss_tokenizer_options options = {.cache_dir = dir};
    gptoss_tokenizer *tok = testing_load_tokenizer_with(&options); /* cold: writes */
    encode_hello(tok);
    gptoss_tokenizer_free(tok);
    char *path = cache_file(dir);
    cr_assert(path[0], "no cache file written");
    tok = testing_load_tokenizer_with(&options); /* warm: reads */
    encode_hello(tok);
    gptoss_tokenizer_free(tok);

    /* Flip a byte in the middle: the checksum catches it, the JSON is used. */
    FILE *file = fopen(path, "r+b");
    cr_assert(file);
    fseek(file, 1 << 20, SEEK_SET);
    int c = fgetc(file);
    fseek(file, 1 << 20, SEEK_SET);
    fputc(c ^ 0x5A, file);
    fclose(file);
    tok = testing_load_tokenizer_with(&options);
    encode_hello(tok);
    gptoss_tokenizer_free(tok);

    /* A truncated cache is ignored too. */
    cr_assert_eq(truncate(path, 1000), 0);
    tok = testing_load_tokenizer_with(&options);
    encode_hello(tok);
    gptoss_tokenizer_free(tok);

    char command[512];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    cr_expect_eq(system(command), 0);
    free(path);
    free(dir);
}

Test(tokenizer, unwritable_cache_directory_is_not_an_error) {
    gptoss_tokenizer_options options = {.cache_dir = "/proc/gptoss-cannot-exist/cache"};
    gptoss_tokenizer *tok = testing_load_tokenizer_with(&options);
    encode_hello(tok);
    gptoss_tokenizer_free(tok);
    gptoss_tokenizer_options none = {.no_cache = true};
    tok = testing_load_tokenizer_with(&none);
    encode_hello(tok);
    gptoss_tokenizer_free(tok);
}

Test(tokenizer, load_errors_are_clear) {
    gptoss_tokenizer *tok = NULL;
    cr_expect_eq(gptoss_tokenizer_load("/nonexistent/tokenizer.json", &tok), GPTOSS_ERROR_IO);
    cr_expect(strstr(gptoss_last_error(), "/nonexistent/tokenizer.json"));
    char *dir = temp_dir();
    char path[256];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    FILE *file = fopen(path, "w");
    fputs("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}", file); /* truncated JSON */
    fclose(file);
    gptoss_tokenizer_options options = {.no_cache = true};
    cr_expect_eq(gptoss_tokenizer_load_with(path, &options, &tok), GPTOSS_ERROR_FORMAT);
    cr_expect(strstr(gptoss_last_error(), "JSON"), "%s", gptoss_last_error());
    unlink(path);
    rmdir(dir);
    free(dir);
}

/* A tiny synthetic tokenizer.json: the 256 bytes (ids in byte order, written
 * as ByteLevel characters, escapes included), "ab" and " ab", one added token,
 * and GPT-2's ByteLevel pre-tokenizer (use_regex). */
static void write_tiny_tokenizer(const char *path) {
    gptoss_bytes json = {0};
    gptoss_bytes_append_str(&json, "{\"version\": \"1.0\", \"added_tokens\": [{\"id\": 300, \"content\": \"<|x|>\", "
                                   "\"special\": true}], \"normalizer\": null,\n\"pre_tokenizer\": {\"type\": "
                                   "\"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true},\n"
                                   "\"model\": {\"type\": \"BPE\", \"merges\": [[\"a\", \"b\"], \"x y\"], \"vocab\": {");
    int extra = 0;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
        uint32_t c = printable ? (uint32_t)b : 256u + (uint32_t)extra++;
        uint8_t utf8[4];
        size_t n = gptoss_utf8_encode(c, utf8);
        gptoss_json_append_string(&json, (const char *)utf8, n);
        char id[16];
        snprintf(id, sizeof id, ": %d, ", b);
        gptoss_bytes_append_str(&json, id);
    }
    gptoss_bytes_append_str(&json, "\"ab\": 256, \"\\u0120ab\": 257}}}\n"); /* U+0120 is the space */
    FILE *file = fopen(path, "wb");
    fwrite(json.data, 1, json.len, file);
    fclose(file);
    free(json.data);
}

Test(tokenizer, tiny_synthetic_tokenizer_file) {
    char *dir = temp_dir();
    char path[256];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    write_tiny_tokenizer(path);
    gptoss_tokenizer_options options = {.cache_dir = dir};
    for (int pass = 0; pass < 2; pass++) { /* JSON, then the cache */
        gptoss_tokenizer *tok = NULL;
        cr_assert_eq(gptoss_tokenizer_load_with(path, &options, &tok), GPTOSS_OK, "%s", gptoss_last_error());
        cr_expect_eq(gptoss_tokenizer_vocab_size(tok), 301);
        cr_expect_eq(gptoss_tokenizer_ordinary_count(tok), 258);
        cr_expect_eq(gptoss_tokenizer_token_id(tok, "\""), '"');
        cr_expect_eq(gptoss_tokenizer_token_id(tok, "\\"), '\\');
        uint32_t *ids;
        size_t n;
        const char *text = "abab ab<|x|>";
        cr_assert_eq(gptoss_tokenizer_encode(tok, text, strlen(text), true, &ids, &n), GPTOSS_OK);
        cr_assert_eq(n, 4);
        cr_expect_eq(ids[0], 256);
        cr_expect_eq(ids[1], 256);
        cr_expect_eq(ids[2], 257);
        cr_expect_eq(ids[3], 300);
        free(ids);
        gptoss_tokenizer_free(tok);
    }
    char command[512];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    cr_expect_eq(system(command), 0);
    free(dir);
}
