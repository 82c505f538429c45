/* tokenizer.c - loading the tokenizer and encoding text. Decoding is in
 * tokenizer_decode.c. */
#include "tokenizer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "error.h"
#include "tokenizer_cache.h"
#include "tokenizer_internal.h"
#include "tokenizer_pretokenize.h"
#include "tokenizer_utf8.h"

static gptoss_status read_file(const char *path, char **out, size_t *size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return gptoss_fail(GPTOSS_ERROR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return gptoss_fail(GPTOSS_ERROR_IO, "%s: not a regular file", path);
    }
    char *buffer = malloc((size_t)st.st_size + 1);
    if (!buffer) {
        close(fd);
        return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    size_t done = 0;
    while (done < (size_t)st.st_size) {
        ssize_t got = read(fd, buffer + done, (size_t)st.st_size - done);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            close(fd);
            free(buffer);
            return gptoss_fail(GPTOSS_ERROR_IO, "%s: read failed", path);
        }
        done += (size_t)got;
    }
    close(fd);
    buffer[done] = 0;
    *out = buffer;
    *size = done;
    return GPTOSS_OK;
}

/* Regex matching any special token's spelling; longer spellings first so a
 * token that is a prefix of another never hides it. */
static int compare_by_length(uint32_t x, uint32_t y, const gptoss_tokenizer_data *data) {
    uint32_t lx = data->special_offsets[x + 1] - data->special_offsets[x];
    uint32_t ly = data->special_offsets[y + 1] - data->special_offsets[y];
    return lx != ly ? (lx > ly ? -1 : 1) : (x > y) - (x < y);
}

static gptoss_status compile_special_regex(gptoss_tokenizer *tok) {
    uint32_t n = tok->data.header->n_specials;
    if (!n) return GPTOSS_OK;
    uint32_t *order = malloc(n * sizeof *order);
    if (!order) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    for (uint32_t i = 0; i < n; i++) order[i] = i;
    /* insertion sort: a few dozen tokens */
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j > 0 && compare_by_length(order[j], order[j - 1], &tok->data) < 0; j--) {
            uint32_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    gptoss_bytes pattern = {0};
    bool ok = true;
    for (uint32_t k = 0; k < n && ok; k++) {
        uint32_t i = order[k];
        if (k) ok = gptoss_bytes_append_str(&pattern, "|");
        const uint8_t *s = tok->data.special_bytes + tok->data.special_offsets[i];
        size_t len = tok->data.special_offsets[i + 1] - tok->data.special_offsets[i];
        for (size_t j = 0; j < len && ok;) {
            uint32_t cp;
            size_t char_len;
            if (gptoss_utf8_next(s + j, len - j, &cp, &char_len) != GPTOSS_UTF8_OK) {
                free(order), free(pattern.data);
                return gptoss_fail(GPTOSS_ERROR_FORMAT, "special token %u is not UTF-8",
                                   tok->data.special_ids[i]);
            }
            char text[16];
            snprintf(text, sizeof text, "\\x{%X}", (unsigned)cp);
            ok = gptoss_bytes_append_str(&pattern, text);
            j += char_len;
        }
    }
    free(order);
    gptoss_status status = ok ? gptoss_regex_compile(pattern.data, pattern.len, &tok->special_regex)
                              : gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    free(pattern.data);
    return status;
}

/* Turns a checked blob into a ready tokenizer (takes ownership of blob). */
static gptoss_status open_blob(void *blob, const gptoss_tokenizer_options *options, gptoss_tokenizer **out) {
    gptoss_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) {
        free(blob);
        return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    tok->blob = blob;
    gptoss_tokenizer_data_view(blob, &tok->data);
    const gptoss_tokenizer_blob_header *h = tok->data.header;
    gptoss_status status = gptoss_bpe_init(&tok->bpe, h->n_tokens, tok->data.token_offsets,
                                           tok->data.token_bytes, tok->data.slots, h->slot_count);
    if (status == GPTOSS_OK)
        status = gptoss_regex_compile_rust(tok->data.pattern, h->pattern_len, options->explicit_ranges,
                                           &tok->piece_regex);
    if (status == GPTOSS_OK) status = compile_special_regex(tok);
    if (status != GPTOSS_OK) {
        gptoss_tokenizer_free(tok);
        return status;
    }
    tok->vocab_size = h->n_specials ? tok->data.special_ids[h->n_specials - 1] + 1 : h->n_tokens;
    if (tok->vocab_size < h->n_tokens) tok->vocab_size = h->n_tokens;
    *out = tok;
    return GPTOSS_OK;
}

gptoss_status gptoss_tokenizer_load_with(const char *path, const gptoss_tokenizer_options *options,
                                         gptoss_tokenizer **out) {
    static const gptoss_tokenizer_options defaults = {0};
    if (!options) options = &defaults;
    if (!path || !out) return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT, "tokenizer: NULL argument");
    char *json = NULL;
    size_t size = 0;
    gptoss_status status = read_file(path, &json, &size);
    if (status != GPTOSS_OK) return status;
    uint64_t hash = XXH3_64bits(json, size);

    char dir[4096], cache_path[4200];
    bool use_cache = !options->no_cache && gptoss_tokenizer_cache_dir(options->cache_dir, dir, sizeof dir) &&
                     gptoss_tokenizer_cache_path(dir, hash, cache_path, sizeof cache_path);
    void *blob = NULL;
    size_t blob_size;
    gptoss_tokenizer_data data;
    if (!use_cache || !gptoss_tokenizer_cache_read(cache_path, hash, size, &blob, &blob_size, &data)) {
        status = gptoss_tokenizer_blob_from_json(json, size, hash, &blob, &blob_size);
        if (status == GPTOSS_OK && use_cache) gptoss_tokenizer_cache_write(dir, cache_path, blob, blob_size);
    }
    free(json);
    if (status != GPTOSS_OK) return gptoss_fail_context(status, "%s", path);
    status = open_blob(blob, options, out);
    return status == GPTOSS_OK ? status : gptoss_fail_context(status, "%s", path);
}

gptoss_status gptoss_tokenizer_load(const char *path, gptoss_tokenizer **out) {
    return gptoss_tokenizer_load_with(path, NULL, out);
}

gptoss_status gptoss_tokenizer_load_model_dir(const char *dir, gptoss_tokenizer **out) {
    char path[4096];
    if (!dir || snprintf(path, sizeof path, "%s/tokenizer.json", dir) >= (int)sizeof path)
        return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT, "tokenizer: bad model folder");
    return gptoss_tokenizer_load(path, out);
}

void gptoss_tokenizer_free(gptoss_tokenizer *tok) {
    if (!tok) return;
    gptoss_regex_free(tok->piece_regex);
    gptoss_regex_free(tok->special_regex);
    free(tok->blob);
    free(tok);
}

uint32_t gptoss_tokenizer_vocab_size(const gptoss_tokenizer *tok) { return tok->vocab_size; }

uint32_t gptoss_tokenizer_ordinary_count(const gptoss_tokenizer *tok) { return tok->data.header->n_tokens; }

uint32_t gptoss_tokenizer_special_count(const gptoss_tokenizer *tok) { return tok->data.header->n_specials; }

uint32_t gptoss_tokenizer_special_id(const gptoss_tokenizer *tok, uint32_t i) {
    return i < tok->data.header->n_specials ? tok->data.special_ids[i] : GPTOSS_TOKEN_NONE;
}

/* Index of special token id in the specials arrays, or -1. */
static long special_index(const gptoss_tokenizer *tok, uint32_t id) {
    size_t lo = 0, hi = tok->data.header->n_specials;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (id < tok->data.special_ids[mid]) hi = mid;
        else if (id > tok->data.special_ids[mid]) lo = mid + 1;
        else return (long)mid;
    }
    return -1;
}

/* Id of the special token spelled s[0..len), or GPTOSS_TOKEN_NONE. */
static uint32_t special_by_text(const gptoss_tokenizer *tok, const char *s, size_t len) {
    for (uint32_t i = 0; i < tok->data.header->n_specials; i++) {
        uint32_t start = tok->data.special_offsets[i], end = tok->data.special_offsets[i + 1];
        if (end - start == len && !memcmp(tok->data.special_bytes + start, s, len)) return tok->data.special_ids[i];
    }
    return GPTOSS_TOKEN_NONE;
}

uint32_t gptoss_tokenizer_token_id(const gptoss_tokenizer *tok, const char *text) {
    size_t len = strlen(text);
    uint32_t id = special_by_text(tok, text, len);
    return id != GPTOSS_TOKEN_NONE || !len ? id : gptoss_bpe_lookup(&tok->bpe, (const uint8_t *)text, len);
}

bool gptoss_tokenizer_is_special(const gptoss_tokenizer *tok, uint32_t id) { return special_index(tok, id) >= 0; }

const uint8_t *gptoss_tokenizer_token_bytes(const gptoss_tokenizer *tok, uint32_t id, size_t *len) {
    if (id < tok->data.header->n_tokens) {
        *len = tok->data.token_offsets[id + 1] - tok->data.token_offsets[id];
        return tok->data.token_bytes + tok->data.token_offsets[id];
    }
    long i = special_index(tok, id);
    if (i < 0) return NULL;
    *len = tok->data.special_offsets[i + 1] - tok->data.special_offsets[i];
    return tok->data.special_bytes + tok->data.special_offsets[i];
}

/* ---- encoding ---- */

typedef struct encode_state {
    const gptoss_tokenizer *tok;
    const uint8_t *text;
    gptoss_ids ids;
} encode_state;

static gptoss_status encode_piece(void *context, size_t start, size_t end) {
    encode_state *state = context;
    return gptoss_bpe_encode_piece(&state->tok->bpe, state->text + start, end - start, &state->ids);
}

/* tiktoken's encode_ordinary on one segment: the regex sees only it. */
static gptoss_status encode_ordinary(encode_state *state, const char *segment, size_t len) {
    state->text = (const uint8_t *)segment;
    return gptoss_regex_split(state->tok->piece_regex, segment, len, encode_piece, state);
}

static gptoss_status invalid_utf8(const uint8_t *text, size_t len, size_t at) {
    if (at + 1 < len && text[at] == 0xED && text[at + 1] >= 0xA0 && text[at + 1] <= 0xBF)
        return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT,
                           "text is not valid UTF-8: a UTF-16 surrogate (CESU-8/WTF-8 bytes ED %02X ..) at byte %zu",
                           text[at + 1], at);
    return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT, "text is not valid UTF-8: byte 0x%02X at byte %zu",
                       text[at], at);
}

gptoss_status gptoss_tokenizer_encode(const gptoss_tokenizer *tok, const char *text, size_t len,
                                      bool allow_special, uint32_t **ids, size_t *n_ids) {
    if (!tok || (!text && len) || !ids || !n_ids)
        return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT, "tokenizer encode: NULL argument");
    size_t bad;
    if (!gptoss_utf8_validate((const uint8_t *)text, len, &bad)) return invalid_utf8((const uint8_t *)text, len, bad);
    encode_state state = {.tok = tok};
    gptoss_status status = GPTOSS_OK;
    size_t position = 0;
    while (position < len && status == GPTOSS_OK) {
        size_t start = len, end = len;
        bool found = allow_special && tok->special_regex &&
                     gptoss_regex_find(tok->special_regex, text, len, position, &start, &end, &status);
        if (status != GPTOSS_OK) break;
        status = encode_ordinary(&state, text + position, start - position);
        if (status != GPTOSS_OK || !found) break;
        if (!gptoss_ids_push(&state.ids, special_by_text(tok, text + start, end - start)))
            status = gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
        position = end;
    }
    if (status == GPTOSS_OK && !state.ids.data && !(state.ids.data = malloc(sizeof *state.ids.data)))
        status = gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    if (status != GPTOSS_OK) {
        free(state.ids.data);
        return status;
    }
    *ids = state.ids.data;
    *n_ids = state.ids.len;
    return GPTOSS_OK;
}
