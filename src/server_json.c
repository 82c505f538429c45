/* server_json.c - JSON text building, OpenAI error bodies, random ids. */
#include "server_json.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void json_raw_n(json_out *w, const char *text, size_t len) {
    if (!w->failed && !gptoss_bytes_append(&w->buf, text, len)) w->failed = true;
}

void json_raw(json_out *w, const char *text) { json_raw_n(w, text, strlen(text)); }

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one
 * (overlongs, surrogates and values above U+10FFFF are invalid). */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

void json_string(json_out *w, const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    json_raw_n(w, "\"", 1);
    size_t run = 0; /* start of the pending run of bytes copied as they are */
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        const char *escape = NULL;
        char hex[8];
        size_t seq = 1;
        if (c == '"') escape = "\\\"";
        else if (c == '\\') escape = "\\\\";
        else if (c == '\n') escape = "\\n";
        else if (c == '\r') escape = "\\r";
        else if (c == '\t') escape = "\\t";
        else if (c < 0x20) {
            snprintf(hex, sizeof hex, "\\u%04x", c);
            escape = hex;
        } else if (c >= 0x80 && !(seq = utf8_sequence(s + i, len - i))) {
            escape = "\xEF\xBF\xBD"; /* U+FFFD for one invalid byte */
            seq = 1;
        }
        if (escape) {
            json_raw_n(w, text + run, i - run);
            json_raw(w, escape);
            run = i + seq;
        }
        i += seq;
    }
    json_raw_n(w, text + run, len - run);
    json_raw_n(w, "\"", 1);
}

void json_cstring(json_out *w, const char *text) {
    if (text) json_string(w, text, strlen(text));
    else json_raw(w, "null");
}

void json_u64(json_out *w, uint64_t value) {
    char text[32];
    snprintf(text, sizeof text, "%" PRIu64, value);
    json_raw(w, text);
}

void json_i64(json_out *w, int64_t value) {
    char text[32];
    snprintf(text, sizeof text, "%" PRId64, value);
    json_raw(w, text);
}

void json_double(json_out *w, double value) {
    if (!w->failed && !gptoss_json_write_python_float(&w->buf, value)) w->failed = true;
}

void json_bool(json_out *w, bool value) { json_raw(w, value ? "true" : "false"); }

void json_value(json_out *w, const gptoss_json_value *value) {
    if (!value) json_raw(w, "null");
    else if (!w->failed && !gptoss_json_value_write(&w->buf, value, false)) w->failed = true;
}

void json_out_free(json_out *w) {
    free(w->buf.data);
    memset(w, 0, sizeof *w);
}

int server_fail(server_error *e, int status, const char *type, const char *code, const char *param,
                const char *format, ...) {
    e->status = status;
    snprintf(e->type, sizeof e->type, "%s", type);
    snprintf(e->code, sizeof e->code, "%s", code ? code : "");
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list args;
    va_start(args, format);
    vsnprintf(e->message, sizeof e->message, format, args);
    va_end(args);
    return 0;
}

void json_error(json_out *w, const server_error *e) {
    json_raw(w, "{\"error\":{\"message\":");
    json_cstring(w, e->message);
    json_raw(w, ",\"type\":");
    json_cstring(w, e->type);
    json_raw(w, ",\"param\":");
    json_cstring(w, e->param[0] ? e->param : NULL);
    json_raw(w, ",\"code\":");
    json_cstring(w, e->code[0] ? e->code : NULL);
    json_raw(w, "}}");
}

/* splitmix64 over an atomic counter: unique, unpredictable enough for ids
 * (they name things; they are not secrets). */
uint64_t server_random_u64(void) {
    static _Atomic uint64_t state;
    static _Atomic int seeded;
    if (!atomic_exchange(&seeded, 1)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        atomic_fetch_add(&state, (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_sec ^
                                     ((uint64_t)getpid() << 32));
    }
    uint64_t z = atomic_fetch_add(&state, 0x9E3779B97F4A7C15ull) + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void server_random_id(const char *prefix, char *out, size_t cap) {
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t n = strlen(prefix);
    if (cap == 0) return;
    if (n >= cap) n = cap - 1;
    memcpy(out, prefix, n);
    uint64_t bits = 0;
    for (size_t i = 0; i < 24 && n + 1 < cap; i++) {
        if (i % 8 == 0) bits = server_random_u64();
        out[n++] = alphabet[bits % 62];
        bits /= 62;
    }
    out[n] = '\0';
}
