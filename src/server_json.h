/* server_json.h - what the server writes: a JSON text builder with a sticky
 * out-of-memory flag (so a long chain of writes checks once), the
 * OpenAI-shaped error bodies, and random ids. */
#ifndef GPTOSS_SERVER_JSON_H
#define GPTOSS_SERVER_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harmony_json.h"
#include "tokenizer_buffer.h"

/* JSON text being built; zero-initialise. failed stays set after the first
 * allocation failure and later writes do nothing. */
typedef struct json_out {
    gptoss_bytes buf;
    bool failed;
} json_out;

void json_raw(json_out *w, const char *text);
void json_raw_n(json_out *w, const char *text, size_t len);
/* A JSON string: ", \ and control characters escaped, bytes that are not
 * valid UTF-8 written as U+FFFD (output is always valid JSON). */
void json_string(json_out *w, const char *text, size_t len);
/* A C string, or null for NULL. */
void json_cstring(json_out *w, const char *text);
void json_u64(json_out *w, uint64_t value);
void json_i64(json_out *w, int64_t value);
/* Shortest round-trip form (Python repr style). */
void json_double(json_out *w, double value);
void json_bool(json_out *w, bool value);
/* A parsed JSON value as compact text (null for NULL). */
void json_value(json_out *w, const gptoss_json_value *value);
void json_out_free(json_out *w);

/* An OpenAI error: what the server answers with a non-2xx status. */
typedef struct server_error {
    int status;        /* HTTP status */
    char type[32];     /* "invalid_request_error", "server_error", ... */
    char code[40];     /* "invalid_type", ...; "" for null */
    char param[96];    /* "messages[0].role", ...; "" for null */
    char message[512];
} server_error;

/* Fills *e (message printf-style) and returns 0, so parsers can `return
 * server_fail(...)`. code and param may be NULL. */
int server_fail(server_error *e, int status, const char *type, const char *code, const char *param,
                const char *format, ...) __attribute__((format(printf, 6, 7)));

/* {"error": {"message", "type", "param", "code"}} */
void json_error(json_out *w, const server_error *e);

/* 64 random bits (ids, and sampling seeds when a request sets none). */
uint64_t server_random_u64(void);

/* prefix + 24 random alphanumerics ("chatcmpl-...", "call_..."), into out[cap]. */
void server_random_id(const char *prefix, char *out, size_t cap);

#endif
