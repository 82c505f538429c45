/* tokenizer_json.c - exact JSON string literal parsing and writing. */
#include "tokenizer_json.h"

#include <stdio.h>

#include "error.h"
#include "tokenizer_utf8.h"

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int hex4(const char *s) {
    int value = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0) return -1;
        value = value << 4 | v;
    }
    return value;
}

static gptoss_status bad(const char *what, size_t at) {
    return gptoss_fail(GPTOSS_ERROR_FORMAT, "bad JSON string at byte %zu: %s", at, what);
}

gptoss_status gptoss_json_scan_string(const char *text, size_t len, size_t *pos, gptoss_bytes *out) {
    size_t i = *pos;
    if (i >= len || text[i] != '"') return bad("expected a JSON string", i);
    i++;
    size_t run = i; /* text[run..i) is plain and not yet copied */
    for (;;) {
        if (i >= len) return bad("unterminated string", i);
        unsigned char c = (unsigned char)text[i];
        if (c == '"') break;
        if (c < 0x20) return bad("raw control character in string", i);
        if (c != '\\') {
            i++;
            continue;
        }
        if (!gptoss_bytes_append(out, text + run, i - run)) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
        if (i + 1 >= len) return bad("unterminated escape", i);
        char e = text[i + 1];
        const char *simple = NULL;
        switch (e) {
        case '"': simple = "\""; break;
        case '\\': simple = "\\"; break;
        case '/': simple = "/"; break;
        case 'b': simple = "\b"; break;
        case 'f': simple = "\f"; break;
        case 'n': simple = "\n"; break;
        case 'r': simple = "\r"; break;
        case 't': simple = "\t"; break;
        case 'u': break;
        default: return bad("unknown escape", i);
        }
        if (simple) {
            if (!gptoss_bytes_append(out, simple, 1)) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
            i += 2;
            run = i;
            continue;
        }
        int unit = i + 6 <= len ? hex4(text + i + 2) : -1;
        if (unit < 0) return bad("bad \\u escape", i);
        uint32_t cp = (uint32_t)unit;
        size_t escape_len = 6;
        if (unit >= 0xDC00 && unit <= 0xDFFF) return bad("lone low surrogate \\u escape", i);
        if (unit >= 0xD800 && unit <= 0xDBFF) {
            int low = i + 12 <= len && text[i + 6] == '\\' && text[i + 7] == 'u' ? hex4(text + i + 8) : -1;
            if (low < 0xDC00 || low > 0xDFFF) return bad("lone high surrogate \\u escape", i);
            cp = 0x10000 + (((uint32_t)unit - 0xD800) << 10) + ((uint32_t)low - 0xDC00);
            escape_len = 12;
        }
        uint8_t bytes[4];
        size_t n = gptoss_utf8_encode(cp, bytes);
        if (!gptoss_bytes_append(out, bytes, n)) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
        i += escape_len;
        run = i;
    }
    if (!gptoss_bytes_append(out, text + run, i - run)) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    *pos = i + 1;
    return GPTOSS_OK;
}

gptoss_status gptoss_json_parse_string(const char *text, size_t len, char **out, size_t *out_len) {
    size_t pos = 0;
    while (pos < len && is_space(text[pos])) pos++;
    gptoss_bytes bytes = {0};
    gptoss_status status = gptoss_json_scan_string(text, len, &pos, &bytes);
    while (status == GPTOSS_OK && pos < len && is_space(text[pos])) pos++;
    if (status == GPTOSS_OK && pos < len) status = bad("unexpected text after the string", pos);
    if (status == GPTOSS_OK && !bytes.data && !gptoss_bytes_reserve(&bytes, 0))
        status = gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    if (status != GPTOSS_OK) {
        free(bytes.data);
        return status;
    }
    bytes.data[bytes.len] = 0;
    *out = bytes.data;
    *out_len = bytes.len;
    return GPTOSS_OK;
}

void gptoss_json_skip_space(const char *text, size_t len, size_t *pos) {
    while (*pos < len && is_space(text[*pos])) (*pos)++;
}

/* Past the string starting at text[*pos] == '"'. */
static bool skip_string(const char *text, size_t len, size_t *pos) {
    for (size_t i = *pos + 1; i < len; i++) {
        if (text[i] == '\\') i++;
        else if (text[i] == '"') {
            *pos = i + 1;
            return true;
        }
    }
    return false;
}

gptoss_status gptoss_json_skip_value(const char *text, size_t len, size_t *pos) {
    gptoss_json_skip_space(text, len, pos);
    size_t i = *pos;
    if (i >= len) return bad("expected a value", i);
    if (text[i] == '"') {
        if (!skip_string(text, len, pos)) return bad("unterminated string", i);
        return GPTOSS_OK;
    }
    if (text[i] == '{' || text[i] == '[') {
        size_t depth = 0;
        while (i < len) {
            char c = text[i];
            if (c == '"') {
                if (!skip_string(text, len, &i)) return bad("unterminated string", i);
                continue;
            }
            if (c == '{' || c == '[') depth++;
            else if ((c == '}' || c == ']') && --depth == 0) {
                *pos = i + 1;
                return GPTOSS_OK;
            }
            i++;
        }
        return bad("unterminated object or array", *pos);
    }
    while (i < len && !is_space(text[i]) && text[i] != ',' && text[i] != '}' && text[i] != ']') i++;
    if (i == *pos) return bad("expected a value", i);
    *pos = i;
    return GPTOSS_OK;
}

bool gptoss_json_append_string(gptoss_bytes *out, const char *s, size_t len) {
    if (!gptoss_bytes_reserve(out, len + 2)) return false;
    bool ok = gptoss_bytes_append(out, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len && ok; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        ok = gptoss_bytes_append(out, s + run, i - run);
        char escape[8];
        switch (c) {
        case '"': snprintf(escape, sizeof escape, "\\\""); break;
        case '\\': snprintf(escape, sizeof escape, "\\\\"); break;
        case '\n': snprintf(escape, sizeof escape, "\\n"); break;
        case '\r': snprintf(escape, sizeof escape, "\\r"); break;
        case '\t': snprintf(escape, sizeof escape, "\\t"); break;
        case '\b': snprintf(escape, sizeof escape, "\\b"); break;
        case '\f': snprintf(escape, sizeof escape, "\\f"); break;
        default: snprintf(escape, sizeof escape, "\\u%04x", c); break;
        }
        ok = ok && gptoss_bytes_append_str(out, escape);
        run = i + 1;
    }
    return ok && gptoss_bytes_append(out, s + run, len - run) && gptoss_bytes_append(out, "\"", 1);
}
