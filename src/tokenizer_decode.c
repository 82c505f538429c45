/* tokenizer_decode.c - token ids back to bytes and text, in one go or as a
 * stream that never splits a UTF-8 character. */
#include <stdlib.h>

#include "error.h"
#include "tokenizer_internal.h"
#include "tokenizer_utf8.h"

static gptoss_status out_of_memory(void) { return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory"); }

static gptoss_status not_a_token(const gptoss_tokenizer *tok, uint32_t id) {
    return gptoss_fail(GPTOSS_ERROR_TOKEN_RANGE, "token id %u is not in the vocabulary (size %u)", id,
                       tok->vocab_size);
}

/* Hands out b's contents as a malloc'ed NUL-terminated string. */
static gptoss_status finish_bytes(gptoss_bytes *b, char **out, size_t *len) {
    if (!b->data && !gptoss_bytes_reserve(b, 0)) return out_of_memory();
    b->data[b->len] = 0;
    *out = b->data;
    if (len) *len = b->len;
    return GPTOSS_OK;
}

gptoss_status gptoss_tokenizer_decode_bytes(const gptoss_tokenizer *tok, const uint32_t *ids, size_t n_ids,
                                            char **bytes, size_t *len) {
    if (!tok || (!ids && n_ids) || !bytes)
        return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT, "tokenizer decode: NULL argument");
    gptoss_bytes out = {0};
    for (size_t i = 0; i < n_ids; i++) {
        size_t token_len;
        const uint8_t *token = gptoss_tokenizer_token_bytes(tok, ids[i], &token_len);
        if (!token) {
            free(out.data);
            return not_a_token(tok, ids[i]);
        }
        if (!gptoss_bytes_append(&out, token, token_len)) {
            free(out.data);
            return out_of_memory();
        }
    }
    gptoss_status status = finish_bytes(&out, bytes, len);
    if (status != GPTOSS_OK) free(out.data);
    return status;
}

gptoss_status gptoss_tokenizer_decode(const gptoss_tokenizer *tok, const uint32_t *ids, size_t n_ids,
                                      char **text, size_t *len) {
    char *raw;
    size_t raw_len;
    gptoss_status status = gptoss_tokenizer_decode_bytes(tok, ids, n_ids, &raw, &raw_len);
    if (status != GPTOSS_OK) return status;
    if (gptoss_utf8_validate((const uint8_t *)raw, raw_len, NULL)) { /* the usual case */
        *text = raw;
        if (len) *len = raw_len;
        return GPTOSS_OK;
    }
    gptoss_bytes out = {0};
    bool ok = gptoss_utf8_append_lossy(&out, (const uint8_t *)raw, raw_len, true) != SIZE_MAX;
    free(raw);
    status = ok ? finish_bytes(&out, text, len) : out_of_memory();
    if (status != GPTOSS_OK) free(out.data);
    return status;
}

struct gptoss_token_decoder {
    const gptoss_tokenizer *tok;
    uint8_t pending[4]; /* the start of an incomplete character */
    size_t n_pending;
    gptoss_bytes scratch; /* pending + the new token's bytes */
    gptoss_bytes out;     /* text handed out by the last call */
};

gptoss_status gptoss_token_decoder_create(const gptoss_tokenizer *tok, gptoss_token_decoder **out) {
    if (!tok || !out) return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT, "token decoder: NULL argument");
    gptoss_token_decoder *decoder = calloc(1, sizeof *decoder);
    if (!decoder) return out_of_memory();
    decoder->tok = tok;
    *out = decoder;
    return GPTOSS_OK;
}

/* Decodes pending + bytes; keeps a trailing incomplete character unless final. */
static gptoss_status advance(gptoss_token_decoder *d, const uint8_t *bytes, size_t n, bool final,
                             const char **text, size_t *len) {
    d->scratch.len = 0;
    d->out.len = 0;
    if (!gptoss_bytes_append(&d->scratch, d->pending, d->n_pending) || !gptoss_bytes_append(&d->scratch, bytes, n) ||
        !gptoss_bytes_reserve(&d->out, d->scratch.len + 3))
        return out_of_memory();
    size_t used = gptoss_utf8_append_lossy(&d->out, (const uint8_t *)d->scratch.data, d->scratch.len, final);
    if (used == SIZE_MAX) return out_of_memory();
    d->n_pending = d->scratch.len - used; /* at most 3: a truncated sequence */
    memcpy(d->pending, d->scratch.data + used, d->n_pending);
    d->out.data[d->out.len] = 0;
    *text = d->out.data;
    *len = d->out.len;
    return GPTOSS_OK;
}

gptoss_status gptoss_token_decoder_push(gptoss_token_decoder *decoder, uint32_t id, const char **text,
                                        size_t *len) {
    size_t token_len;
    const uint8_t *token = gptoss_tokenizer_token_bytes(decoder->tok, id, &token_len);
    if (!token) return not_a_token(decoder->tok, id);
    return advance(decoder, token, token_len, false, text, len);
}

gptoss_status gptoss_token_decoder_finish(gptoss_token_decoder *decoder, const char **text, size_t *len) {
    return advance(decoder, NULL, 0, true, text, len);
}

size_t gptoss_token_decoder_pending(const gptoss_token_decoder *decoder) { return decoder->n_pending; }

void gptoss_token_decoder_free(gptoss_token_decoder *decoder) {
    if (!decoder) return;
    free(decoder->scratch.data);
    free(decoder->out.data);
    free(decoder);
}
