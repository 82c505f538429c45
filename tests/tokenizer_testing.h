/* tokenizer_testing.h - helpers shared by the tokenizer tests (header-only:
 * each test_*.c is its own executable). */
#ifndef GPTOSS_TOKENIZER_TESTING_H
#define GPTOSS_TOKENIZER_TESTING_H

#include <cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tokenizer.h"
#include "tokenizer_json.h"

#ifndef GPTOSS_TOKENIZER_JSON
#define GPTOSS_TOKENIZER_JSON GPTOSS_FIXTURES "/tokenizer/tokenizer.json"
#endif

/* Loads the release tokenizer.json, failing the test with a hint when the
 * file has not been fetched. */
static inline gptoss_tokenizer *testing_load_tokenizer_with(const gptoss_tokenizer_options *options) {
    if (access(GPTOSS_TOKENIZER_JSON, R_OK))
        cr_assert_fail("%s is missing: run tests/fetch_tokenizer.sh", GPTOSS_TOKENIZER_JSON);
    gptoss_tokenizer *tok = NULL;
    gptoss_status status = gptoss_tokenizer_load_with(GPTOSS_TOKENIZER_JSON, options, &tok);
    if (status != GPTOSS_OK) cr_assert_fail("loading %s: %s", GPTOSS_TOKENIZER_JSON, gptoss_last_error());
    return tok;
}

static inline gptoss_tokenizer *testing_load_tokenizer(void) { return testing_load_tokenizer_with(NULL); }

/* One golden case: {"text": ..., "ids": [...], "category": ..., "allow_special": ...}. */
typedef struct golden_case {
    char *text; /* exact bytes (may hold NULs) */
    size_t text_len;
    uint32_t *ids;
    size_t n_ids;
    char category[64];
    bool allow_special;
} golden_case;

static inline void golden_case_free(golden_case *c) {
    free(c->text);
    free(c->ids);
}

/* Parses one golden line; the text is read with the exact JSON string parser
 * because cJSON stops at \u0000. Returns false on a malformed line. */
static inline bool golden_case_parse(const char *line, size_t len, golden_case *out) {
    memset(out, 0, sizeof *out);
    const char *key = strstr(line, "\"text\":");
    if (!key) return false;
    size_t pos = (size_t)(key - line) + 7;
    while (pos < len && line[pos] == ' ') pos++;
    gptoss_bytes text = {0};
    if (gptoss_json_scan_string(line, len, &pos, &text) != GPTOSS_OK) return false;
    if (!text.data) gptoss_bytes_reserve(&text, 0);
    out->text = text.data;
    out->text_len = text.len;
    cJSON *json = cJSON_ParseWithLength(line, len);
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(json, "ids");
    const cJSON *category = cJSON_GetObjectItemCaseSensitive(json, "category");
    if (!cJSON_IsArray(ids)) {
        cJSON_Delete(json);
        return false;
    }
    out->n_ids = (size_t)cJSON_GetArraySize(ids);
    out->ids = malloc((out->n_ids + 1) * sizeof *out->ids);
    size_t i = 0;
    const cJSON *id;
    cJSON_ArrayForEach(id, ids) out->ids[i++] = (uint32_t)id->valuedouble;
    out->allow_special = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(json, "allow_special"));
    snprintf(out->category, sizeof out->category, "%s", cJSON_IsString(category) ? category->valuestring : "");
    cJSON_Delete(json);
    return true;
}

/* Reads every case of a golden jsonl file; returns the count. */
static inline size_t golden_read(const char *path, golden_case **cases) {
    FILE *file = fopen(path, "rb");
    cr_assert(file, "cannot open %s", path);
    size_t n = 0, cap = 0;
    *cases = NULL;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t got;
    while ((got = getline(&line, &line_cap, file)) > 0) {
        size_t len = (size_t)got;
        if (line[len - 1] == '\n') len--;
        if (!len) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            *cases = realloc(*cases, cap * sizeof **cases);
        }
        cr_assert(golden_case_parse(line, len, &(*cases)[n]), "%s: malformed line %zu", path, n + 1);
        n++;
    }
    free(line);
    fclose(file);
    return n;
}

/* Renders ids for failure messages (truncated). */
static inline const char *testing_ids_text(const uint32_t *ids, size_t n, char *buf, size_t cap) {
    size_t at = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && at + 16 < cap; i++) at += (size_t)snprintf(buf + at, cap - at, "%s%u", i ? "," : "", ids[i]);
    return buf;
}

#endif
