/* server_script.c - `gptoss serve --script FILE`: scripted completions for
 * tests. Each non-empty line of FILE is a JSON array: the completion of one
 * request, in the order requests are accepted. Numbers are token ids;
 * strings (a convenience for writing scripts by hand) are encoded with the
 * harmony special tokens recognised, so
 *   ["<|channel|>final<|message|>Hello<|return|>"]
 * is a whole final answer. */
#include "server_script.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"
#include "harmony_json.h"

static int line_fail(char *err, size_t cap, const char *path, size_t line, const char *why) {
    snprintf(err, cap, "%s:%zu: %s", path, line, why);
    return 0;
}

/* Parses one line's array into ids. */
static int parse_line(const gptoss_tokenizer *tok, const char *text, size_t len, gptoss_ids *ids, const char *path,
                      size_t line, char *err, size_t cap) {
    gptoss_json_value *v = NULL;
    if (gptoss_json_value_parse(text, len, &v) != GPTOSS_OK) {
        char why[300];
        snprintf(why, sizeof why, "not JSON: %s", gptoss_last_error());
        return line_fail(err, cap, path, line, why);
    }
    int ok = 1;
    if (v->type != GPTOSS_JSON_ARRAY) ok = line_fail(err, cap, path, line, "expected an array of token ids");
    for (size_t i = 0; ok && i < v->count; i++) {
        const gptoss_json_value *item = &v->items[i];
        if (item->type == GPTOSS_JSON_NUMBER && !gptoss_json_number_is_float(item) && item->text[0] != '-') {
            unsigned long long id = strtoull(item->text, NULL, 10);
            if (id >= gptoss_tokenizer_vocab_size(tok)) ok = line_fail(err, cap, path, line, "token id out of range");
            else if (!gptoss_ids_push(ids, (uint32_t)id)) ok = line_fail(err, cap, path, line, "out of memory");
        } else if (item->type == GPTOSS_JSON_STRING) {
            uint32_t *encoded = NULL;
            size_t n = 0;
            if (gptoss_tokenizer_encode(tok, item->text, item->len, true, &encoded, &n) != GPTOSS_OK)
                ok = line_fail(err, cap, path, line, gptoss_last_error());
            for (size_t k = 0; ok && k < n; k++)
                if (!gptoss_ids_push(ids, encoded[k])) ok = line_fail(err, cap, path, line, "out of memory");
            free(encoded);
        } else {
            ok = line_fail(err, cap, path, line, "array items must be token ids or strings");
        }
    }
    gptoss_json_value_free(v);
    return ok;
}

int server_script_load(const char *path, const gptoss_tokenizer *tok, server_script *out, char *err, size_t cap) {
    memset(out, 0, sizeof *out);
    char *text = NULL;
    if (gptoss_read_text_file(path, (size_t)256 << 20, &text) != GPTOSS_OK) {
        snprintf(err, cap, "%s", gptoss_last_error());
        return 0;
    }
    const size_t size = strlen(text);
    size_t line = 0;
    int ok = 1;
    for (size_t start = 0; ok && start < size;) {
        const char *nl = memchr(text + start, '\n', size - start);
        size_t end = nl ? (size_t)(nl - text) : size;
        line++;
        size_t a = start, b = end;
        while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r')) a++;
        while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r')) b--;
        if (b > a) {
            gptoss_ids *lines = realloc(out->lines, (out->n + 1) * sizeof *lines);
            if (!lines) {
                ok = line_fail(err, cap, path, line, "out of memory");
                break;
            }
            out->lines = lines;
            memset(&lines[out->n], 0, sizeof *lines);
            out->n++;
            ok = parse_line(tok, text + a, b - a, &lines[out->n - 1], path, line, err, cap);
        }
        start = end + 1;
    }
    free(text);
    if (!ok) server_script_free(out);
    return ok;
}

void server_script_free(server_script *s) {
    for (size_t i = 0; i < s->n; i++) free(s->lines[i].data);
    free(s->lines);
    memset(s, 0, sizeof *s);
}
