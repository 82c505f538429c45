/* harmony_testing.h - helpers shared by the harmony tests (header-only:
 * each test_*.c is its own executable). */
#ifndef GPTOSS_HARMONY_TESTING_H
#define GPTOSS_HARMONY_TESTING_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harmony.h"
#include "harmony_json.h"
#include "tokenizer.h"

/* The release tokenizer.json: GPTOSS_TOKENIZER_JSON when the build names
 * it, else tests/fixtures/tokenizer/ (tests/fetch_tokenizer.sh), else the
 * shared fixtures beside the checkout. */
static inline const char *harmony_tokenizer_path(void) {
    static const char *const candidates[] = {
#ifdef GPTOSS_TOKENIZER_JSON
        GPTOSS_TOKENIZER_JSON,
#endif
        GPTOSS_FIXTURES "/tokenizer/tokenizer.json",
        GPTOSS_FIXTURES "/../../../shared/fixtures/tokenizer/tokenizer.json",
    };
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++)
        if (!access(candidates[i], R_OK)) return candidates[i];
    cr_assert_fail("tokenizer.json is missing: run tests/fetch_tokenizer.sh");
    return NULL;
}

static inline gptoss_tokenizer *harmony_load_tokenizer(void) {
    const char *path = harmony_tokenizer_path();
    gptoss_tokenizer *tok = NULL;
    gptoss_status status = gptoss_tokenizer_load(path, &tok);
    if (status != GPTOSS_OK) cr_assert_fail("loading %s: %s", path, gptoss_last_error());
    return tok;
}

/* Reads a file's non-empty lines, each parsed as JSON. */
static inline gptoss_json_value **harmony_read_jsonl(const char *path, size_t *count) {
    FILE *file = fopen(path, "rb");
    cr_assert(file, "cannot open %s", path);
    gptoss_json_value **values = NULL;
    size_t n = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, file)) > 0) {
        size_t len = (size_t)got;
        if (line[len - 1] == '\n') len--;
        if (!len) continue;
        values = realloc(values, (n + 1) * sizeof *values);
        cr_assert(gptoss_json_value_parse(line, len, &values[n]) == GPTOSS_OK, "%s line %zu: %s", path, n + 1,
                  gptoss_last_error());
        n++;
    }
    free(line);
    fclose(file);
    *count = n;
    return values;
}

static inline void harmony_free_jsonl(gptoss_json_value **values, size_t count) {
    for (size_t i = 0; i < count; i++) gptoss_json_value_free(values[i]);
    free(values);
}

/* Token ids of a JSON array. *n gets the count; free() the result. */
static inline uint32_t *harmony_json_ids(const gptoss_json_value *array, size_t *n) {
    cr_assert(array && array->type == GPTOSS_JSON_ARRAY);
    uint32_t *ids = malloc((array->count + 1) * sizeof *ids);
    for (size_t i = 0; i < array->count; i++) ids[i] = (uint32_t)strtoul(array->items[i].text, NULL, 10);
    *n = array->count;
    return ids;
}

/* Whether a parsed message equals an expected one in the fixtures' shape
 * (absent keys = absent fields). */
static inline bool harmony_message_matches(const gptoss_harmony_message *m, const gptoss_json_value *expected) {
    const char *role = gptoss_json_string(gptoss_json_get(expected, "role"));
    if (!role || strcmp(role, gptoss_harmony_role_name(m->role))) return false;
    const char *keys[] = {"name", "channel", "recipient", "content_type"};
    const char *values[] = {m->name, m->channel, m->recipient, m->content_type};
    for (int i = 0; i < 4; i++) {
        const char *want = gptoss_json_string(gptoss_json_get(expected, keys[i]));
        if (!want != !values[i] || (want && strcmp(want, values[i]))) return false;
    }
    const gptoss_json_value *content = gptoss_json_get(expected, "content");
    return content && content->len == m->content_len && !memcmp(content->text, m->content, m->content_len);
}

#endif
