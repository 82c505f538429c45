/* tokenizer_buffer.h - growable byte and id buffers used by the tokenizer. */
#ifndef GPTOSS_TOKENIZER_BUFFER_H
#define GPTOSS_TOKENIZER_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Bytes; zero-initialise. Kept NUL-terminated whenever len > 0 so the
 * contents can be handed out as a C string. */
typedef struct gptoss_bytes {
    char *data;
    size_t len, cap;
} gptoss_bytes;

/* Makes room for `extra` more bytes (plus the terminating NUL). */
static inline bool gptoss_bytes_reserve(gptoss_bytes *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) return false;
        cap *= 2;
    }
    char *data = realloc(b->data, cap);
    if (!data) return false;
    b->data = data;
    b->cap = cap;
    return true;
}

/* Appends src[0..n); false when out of memory (b is then unchanged). */
static inline bool gptoss_bytes_append(gptoss_bytes *b, const void *src, size_t n) {
    if (!gptoss_bytes_reserve(b, n)) return false;
    if (n) memcpy(b->data + b->len, src, n);
    b->len += n;
    b->data[b->len] = 0;
    return true;
}

/* Appends a C string without its NUL. */
static inline bool gptoss_bytes_append_str(gptoss_bytes *b, const char *s) {
    return gptoss_bytes_append(b, s, strlen(s));
}

/* Token ids; zero-initialise. */
typedef struct gptoss_ids {
    uint32_t *data;
    size_t len, cap;
} gptoss_ids;

/* Appends one id; false when out of memory. */
static inline bool gptoss_ids_push(gptoss_ids *ids, uint32_t id) {
    if (ids->len == ids->cap) {
        size_t cap = ids->cap ? ids->cap * 2 : 64;
        uint32_t *data = realloc(ids->data, cap * sizeof *data);
        if (!data) return false;
        ids->data = data;
        ids->cap = cap;
    }
    ids->data[ids->len++] = id;
    return true;
}

#endif
