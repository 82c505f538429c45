/* harmony_json.c - ordered JSON tree with number literals (harmony_json.h). */
#include "harmony_json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tokenizer_json.h"
#include "tokenizer_utf8.h"

/* Deeper nesting is refused rather than risking the stack. */
#define MAX_DEPTH 256

typedef struct parser {
    const char *s;
    size_t len, pos;
} parser;

static gptoss_status fail_at(const parser *p, const char *what) {
    return gptoss_fail(GPTOSS_ERROR_FORMAT, "invalid JSON at byte %zu: %s", p->pos, what);
}

static void skip_space(parser *p) {
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static gptoss_status oom(void) { return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory parsing JSON"); }

static int hex4(const char *s) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* A string starting at s[pos] == '"'; its bytes go to out (NUL-terminated). */
static gptoss_status parse_string(parser *p, char **out, size_t *out_len) {
    gptoss_bytes b = {0};
    p->pos++;
    gptoss_status status = GPTOSS_OK;
    for (;;) {
        if (p->pos >= p->len) {
            status = fail_at(p, "unterminated string");
            break;
        }
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20) {
            status = fail_at(p, "control character in string");
            break;
        }
        if (c == '\\') {
            if (p->pos + 1 >= p->len) {
                status = fail_at(p, "unterminated escape");
                break;
            }
            char e = p->s[p->pos + 1];
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e && simple) {
                static const char values[] = "\"\\/\b\f\n\r\t";
                char v = values[simple - "\"\\/bfnrt"];
                if (!gptoss_bytes_append(&b, &v, 1)) goto out_of_memory;
                p->pos += 2;
                continue;
            }
            if (e != 'u' || p->pos + 6 > p->len || hex4(p->s + p->pos + 2) < 0) {
                status = fail_at(p, "bad escape");
                break;
            }
            uint32_t cp = (uint32_t)hex4(p->s + p->pos + 2);
            p->pos += 6;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                status = fail_at(p, "lone surrogate escape");
                break;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                int low = p->pos + 6 <= p->len && p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u'
                              ? hex4(p->s + p->pos + 2)
                              : -1;
                if (low < 0xDC00 || low > 0xDFFF) {
                    status = fail_at(p, "lone surrogate escape");
                    break;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)low - 0xDC00);
                p->pos += 6;
            }
            uint8_t utf8[4];
            size_t n = gptoss_utf8_encode(cp, utf8);
            if (!gptoss_bytes_append(&b, utf8, n)) goto out_of_memory;
            continue;
        }
        /* A run of raw bytes up to the next quote, backslash or control character. */
        size_t start = p->pos;
        while (p->pos < p->len) {
            unsigned char d = (unsigned char)p->s[p->pos];
            if (d == '"' || d == '\\' || d < 0x20) break;
            p->pos++;
        }
        size_t bad;
        if (!gptoss_utf8_validate((const uint8_t *)p->s + start, p->pos - start, &bad)) {
            p->pos = start + bad;
            status = fail_at(p, "invalid UTF-8 in string");
            break;
        }
        if (!gptoss_bytes_append(&b, p->s + start, p->pos - start)) goto out_of_memory;
    }
    if (status != GPTOSS_OK) {
        free(b.data);
        return status;
    }
    if (!b.data && !gptoss_bytes_reserve(&b, 0)) goto out_of_memory;
    b.data[b.len] = 0;
    *out = b.data;
    *out_len = b.len;
    return GPTOSS_OK;
out_of_memory:
    free(b.data);
    return oom();
}

static gptoss_status parse_number(parser *p, gptoss_json_value *v) {
    size_t start = p->pos, i = p->pos;
    const char *s = p->s;
    if (i < p->len && s[i] == '-') i++;
    if (i < p->len && s[i] == '0') i++;
    else if (i < p->len && s[i] >= '1' && s[i] <= '9')
        while (i < p->len && s[i] >= '0' && s[i] <= '9') i++;
    else return fail_at(p, "bad number");
    if (i < p->len && s[i] == '.') {
        i++;
        if (i >= p->len || s[i] < '0' || s[i] > '9') return p->pos = i, fail_at(p, "bad number");
        while (i < p->len && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < p->len && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= p->len || s[i] < '0' || s[i] > '9') return p->pos = i, fail_at(p, "bad number");
        while (i < p->len && s[i] >= '0' && s[i] <= '9') i++;
    }
    v->type = GPTOSS_JSON_NUMBER;
    v->len = i - start;
    v->text = malloc(v->len + 1);
    if (!v->text) return oom();
    memcpy(v->text, s + start, v->len);
    v->text[v->len] = 0;
    p->pos = i;
    return GPTOSS_OK;
}

static void value_clear(gptoss_json_value *v) {
    free(v->text);
    for (size_t i = 0; i < v->count; i++) {
        value_clear(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->key_lens);
    memset(v, 0, sizeof *v);
}

static gptoss_status parse_value(parser *p, gptoss_json_value *v, int depth);

/* Grows the member arrays of an array/object to hold one more. */
static bool grow(gptoss_json_value *v, size_t *cap, bool object) {
    if (v->count < *cap) return true;
    size_t n = *cap ? *cap * 2 : 4;
    gptoss_json_value *items = realloc(v->items, n * sizeof *items);
    if (!items) return false;
    v->items = items;
    if (object) {
        char **keys = realloc(v->keys, n * sizeof *keys);
        if (!keys) return false;
        v->keys = keys;
        size_t *lens = realloc(v->key_lens, n * sizeof *lens);
        if (!lens) return false;
        v->key_lens = lens;
    }
    *cap = n;
    return true;
}

/* An object's members by key, so a repeated key is found without comparing
 * every earlier one (a body of many keys must not take quadratic time).
 * Built once an object passes INDEX_FROM members; open addressing. */
enum { INDEX_FROM = 16 };
typedef struct key_index {
    size_t *slots; /* member index + 1; 0 empty */
    size_t mask;
} key_index;

static size_t key_hash(const char *key, size_t len) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)key[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

/* The member with this key, or v->count. */
static size_t index_find(const key_index *x, const gptoss_json_value *v, const char *key, size_t len) {
    if (!x->slots) {
        for (size_t i = 0; i < v->count; i++)
            if (v->key_lens[i] == len && !memcmp(v->keys[i], key, len)) return i;
        return v->count;
    }
    for (size_t j = key_hash(key, len) & x->mask; x->slots[j]; j = (j + 1) & x->mask) {
        const size_t i = x->slots[j] - 1;
        if (v->key_lens[i] == len && !memcmp(v->keys[i], key, len)) return i;
    }
    return v->count;
}

static void index_put(key_index *x, const gptoss_json_value *v, size_t i) {
    size_t j = key_hash(v->keys[i], v->key_lens[i]) & x->mask;
    while (x->slots[j]) j = (j + 1) & x->mask;
    x->slots[j] = i + 1;
}

/* Adds member v->count - 1 (the newest), building or doubling the table when
 * it would pass half full. */
static bool index_add(key_index *x, const gptoss_json_value *v) {
    if (v->count < INDEX_FROM) return true;
    if (x->slots && 2 * v->count <= x->mask + 1) {
        index_put(x, v, v->count - 1);
        return true;
    }
    size_t size = 64;
    while (size < 4 * v->count) size *= 2;
    free(x->slots);
    if (!(x->slots = calloc(size, sizeof *x->slots))) return false;
    x->mask = size - 1;
    for (size_t i = 0; i < v->count; i++) index_put(x, v, i);
    return true;
}

static gptoss_status parse_members(parser *p, gptoss_json_value *v, int depth, bool object, key_index *index);

static gptoss_status parse_container(parser *p, gptoss_json_value *v, int depth, bool object) {
    key_index index = {0};
    gptoss_status status = parse_members(p, v, depth, object, &index);
    free(index.slots);
    return status;
}

static gptoss_status parse_members(parser *p, gptoss_json_value *v, int depth, bool object, key_index *index) {
    if (depth >= MAX_DEPTH) return fail_at(p, "nesting too deep");
    v->type = object ? GPTOSS_JSON_OBJECT : GPTOSS_JSON_ARRAY;
    char close = object ? '}' : ']';
    size_t cap = 0;
    p->pos++;
    skip_space(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return GPTOSS_OK;
    }
    for (;;) {
        char *key = NULL;
        size_t key_len = 0;
        if (object) {
            skip_space(p);
            if (p->pos >= p->len || p->s[p->pos] != '"') return fail_at(p, "expected a member name");
            gptoss_status status = parse_string(p, &key, &key_len);
            if (status != GPTOSS_OK) return status;
            skip_space(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') {
                free(key);
                return fail_at(p, "expected ':'");
            }
            p->pos++;
        }
        gptoss_json_value item = {0};
        gptoss_status status = parse_value(p, &item, depth + 1);
        if (status != GPTOSS_OK) {
            free(key);
            value_clear(&item);
            return status;
        }
        const size_t at = object ? index_find(index, v, key, key_len) : v->count;
        if (at < v->count) { /* repeated key: last value, first position */
            value_clear(&v->items[at]);
            v->items[at] = item;
            free(key);
        } else {
            if (!grow(v, &cap, object)) {
                free(key);
                value_clear(&item);
                return oom();
            }
            v->items[v->count] = item;
            if (object) v->keys[v->count] = key, v->key_lens[v->count] = key_len;
            v->count++;
            if (object && !index_add(index, v)) return oom();
        }
        skip_space(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            return GPTOSS_OK;
        }
        return fail_at(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static gptoss_status parse_value(parser *p, gptoss_json_value *v, int depth) {
    skip_space(p);
    if (p->pos >= p->len) return fail_at(p, "unexpected end of input");
    char c = p->s[p->pos];
    if (c == '{' || c == '[') return parse_container(p, v, depth, c == '{');
    if (c == '"') {
        v->type = GPTOSS_JSON_STRING;
        return parse_string(p, &v->text, &v->len);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, v);
    static const struct {
        const char *word;
        gptoss_json_type type;
    } words[] = {{"null", GPTOSS_JSON_NULL}, {"true", GPTOSS_JSON_TRUE}, {"false", GPTOSS_JSON_FALSE}};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(words[i].word);
        if (p->len - p->pos >= n && !memcmp(p->s + p->pos, words[i].word, n)) {
            v->type = words[i].type;
            p->pos += n;
            return GPTOSS_OK;
        }
    }
    return fail_at(p, "unexpected character");
}

gptoss_status gptoss_json_value_parse(const char *text, size_t len, gptoss_json_value **out) {
    *out = NULL;
    gptoss_json_value *v = calloc(1, sizeof *v);
    if (!v) return oom();
    parser p = {text, len, 0};
    gptoss_status status = parse_value(&p, v, 0);
    if (status == GPTOSS_OK) {
        skip_space(&p);
        if (p.pos != p.len) status = fail_at(&p, "trailing characters after the value");
    }
    if (status != GPTOSS_OK) {
        gptoss_json_value_free(v);
        return status;
    }
    *out = v;
    return GPTOSS_OK;
}

void gptoss_json_value_free(gptoss_json_value *value) {
    if (!value) return;
    value_clear(value);
    free(value);
}

static bool clone_into(gptoss_json_value *dst, const gptoss_json_value *src) {
    memset(dst, 0, sizeof *dst);
    dst->type = src->type;
    if (src->text) {
        dst->text = malloc(src->len + 1);
        if (!dst->text) return false;
        memcpy(dst->text, src->text, src->len + 1);
        dst->len = src->len;
    }
    if (!src->count) return true;
    dst->items = calloc(src->count, sizeof *dst->items);
    if (!dst->items) return false;
    if (src->keys) {
        dst->keys = calloc(src->count, sizeof *dst->keys);
        dst->key_lens = calloc(src->count, sizeof *dst->key_lens);
        if (!dst->keys || !dst->key_lens) return false;
    }
    for (size_t i = 0; i < src->count; i++) {
        dst->count = i + 1;
        if (!clone_into(&dst->items[i], &src->items[i])) return false;
        if (src->keys) {
            dst->keys[i] = malloc(src->key_lens[i] + 1);
            if (!dst->keys[i]) return false;
            memcpy(dst->keys[i], src->keys[i], src->key_lens[i] + 1);
            dst->key_lens[i] = src->key_lens[i];
        }
    }
    return true;
}

gptoss_json_value *gptoss_json_value_clone(const gptoss_json_value *value) {
    gptoss_json_value *copy = calloc(1, sizeof *copy);
    if (copy && !clone_into(copy, value)) {
        gptoss_json_value_free(copy);
        return NULL;
    }
    return copy;
}

const gptoss_json_value *gptoss_json_get(const gptoss_json_value *value, const char *key) {
    if (!value || value->type != GPTOSS_JSON_OBJECT) return NULL;
    const key_index none = {0}; /* a parsed tree keeps no index: compare the keys in turn */
    const size_t i = index_find(&none, value, key, strlen(key));
    return i < value->count ? &value->items[i] : NULL;
}

const char *gptoss_json_string(const gptoss_json_value *value) {
    return value && value->type == GPTOSS_JSON_STRING ? value->text : NULL;
}

bool gptoss_json_number_is_float(const gptoss_json_value *value) {
    return value->type == GPTOSS_JSON_NUMBER && strpbrk(value->text, ".eE") != NULL;
}

bool gptoss_json_write_python_float(gptoss_bytes *out, double x) {
    if (isnan(x)) return gptoss_bytes_append_str(out, "NaN");
    if (isinf(x)) return gptoss_bytes_append_str(out, x < 0 ? "-Infinity" : "Infinity");
    if (x == 0) return gptoss_bytes_append_str(out, signbit(x) ? "-0.0" : "0.0");
    /* Shortest digits that read back as x (correctly rounded by printf). */
    char sci[40];
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(sci, sizeof sci, "%.*e", precision - 1, x);
        if (strtod(sci, NULL) == x) break;
    }
    const char *s = sci;
    bool negative = *s == '-';
    if (negative) s++;
    char digits[24];
    size_t n = 0;
    for (; *s && *s != 'e'; s++)
        if (*s != '.') digits[n++] = *s;
    while (n > 1 && digits[n - 1] == '0') n--;
    int exponent = atoi(s + 1);
    char text[64];
    size_t at = 0;
    if (negative) text[at++] = '-';
    if (exponent >= -4 && exponent < 16) {
        if (exponent >= 0) {
            for (int i = 0; i <= exponent; i++) text[at++] = (size_t)i < n ? digits[i] : '0';
            text[at++] = '.';
            if ((size_t)exponent + 1 < n)
                for (size_t i = (size_t)exponent + 1; i < n; i++) text[at++] = digits[i];
            else text[at++] = '0';
        } else {
            text[at++] = '0', text[at++] = '.';
            for (int i = 0; i < -exponent - 1; i++) text[at++] = '0';
            for (size_t i = 0; i < n; i++) text[at++] = digits[i];
        }
        text[at] = 0;
    } else {
        text[at++] = digits[0];
        if (n > 1) {
            text[at++] = '.';
            for (size_t i = 1; i < n; i++) text[at++] = digits[i];
        }
        snprintf(text + at, sizeof text - at, "e%c%02d", exponent < 0 ? '-' : '+', abs(exponent));
    }
    return gptoss_bytes_append_str(out, text);
}

static bool write_number(gptoss_bytes *out, const gptoss_json_value *v) {
    if (gptoss_json_number_is_float(v)) return gptoss_json_write_python_float(out, strtod(v->text, NULL));
    const char *t = v->text;
    if (t[0] == '-' && t[1] == '0' && !t[2]) return gptoss_bytes_append_str(out, "0"); /* Python int("-0") */
    return gptoss_bytes_append(out, v->text, v->len);
}

bool gptoss_json_value_write(gptoss_bytes *out, const gptoss_json_value *value, bool spaced) {
    switch (value->type) {
    case GPTOSS_JSON_NULL: return gptoss_bytes_append_str(out, "null");
    case GPTOSS_JSON_TRUE: return gptoss_bytes_append_str(out, "true");
    case GPTOSS_JSON_FALSE: return gptoss_bytes_append_str(out, "false");
    case GPTOSS_JSON_NUMBER: return write_number(out, value);
    case GPTOSS_JSON_STRING: return gptoss_json_append_string(out, value->text, value->len);
    case GPTOSS_JSON_ARRAY:
    case GPTOSS_JSON_OBJECT: {
        bool object = value->type == GPTOSS_JSON_OBJECT;
        if (!gptoss_bytes_append_str(out, object ? "{" : "[")) return false;
        for (size_t i = 0; i < value->count; i++) {
            if (i && !gptoss_bytes_append_str(out, spaced ? ", " : ",")) return false;
            if (object && !(gptoss_json_append_string(out, value->keys[i], value->key_lens[i]) &&
                            gptoss_bytes_append_str(out, spaced ? ": " : ":")))
                return false;
            if (!gptoss_json_value_write(out, &value->items[i], spaced)) return false;
        }
        return gptoss_bytes_append_str(out, object ? "}" : "]");
    }
    }
    return false;
}
