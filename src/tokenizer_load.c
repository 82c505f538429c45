/* tokenizer_load.c - reads a Hugging Face tokenizer.json (byte-level BPE)
 * into the tokenizer blob: vocabulary bytes, hash table, added tokens and
 * the pre-tokenizer regex. */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "error.h"
#include "tokenizer_data.h"
#include "tokenizer_json.h"
#include "tokenizer_utf8.h"

/* GPT-2's ByteLevel pre-tokenizer regex (ByteLevel with use_regex: true). */
static const char gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* ByteLevel's printable alphabet: byte b is written as code point
 * byte_char[b]; the inverse maps code points 0..323 back to bytes. */
static void byte_level_inverse(int16_t inverse[324]) {
    for (int c = 0; c < 324; c++) inverse[c] = -1;
    int extra = 0;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
        inverse[printable ? b : 256 + extra++] = (int16_t)b;
    }
}

/* Decodes one vocabulary key into bytes appended to out. */
static bool decode_byte_level(const char *key, const int16_t inverse[324], gptoss_bytes *out) {
    size_t n = strlen(key);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len;
        if (gptoss_utf8_next((const uint8_t *)key + i, n - i, &cp, &len) != GPTOSS_UTF8_OK) return false;
        if (cp >= 324 || inverse[cp] < 0) return false;
        uint8_t byte = (uint8_t)inverse[cp];
        if (!gptoss_bytes_append(out, &byte, 1)) return false;
        i += len;
    }
    return true;
}

static const char *string_field(const cJSON *object, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

static bool is_type(const cJSON *object, const char *type) {
    const char *value = string_field(object, "type");
    return value && !strcmp(value, type);
}

/* The Rust-syntax regex the pre_tokenizer section declares. */
static gptoss_status find_pattern(const cJSON *root, const char **pattern) {
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *normalizer = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (normalizer && !cJSON_IsNull(normalizer))
        return gptoss_fail(GPTOSS_ERROR_UNSUPPORTED, "normalizers are not supported");
    if (is_type(pre, "ByteLevel")) {
        if (!cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(pre, "add_prefix_space")))
            return gptoss_fail(GPTOSS_ERROR_UNSUPPORTED, "ByteLevel add_prefix_space is not supported");
        *pattern = gpt2_pattern;
        return GPTOSS_OK;
    }
    if (!is_type(pre, "Sequence")) return gptoss_fail(GPTOSS_ERROR_UNSUPPORTED, "unsupported pre_tokenizer");
    *pattern = NULL;
    const cJSON *step;
    cJSON_ArrayForEach(step, cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers")) {
        if (is_type(step, "Split")) {
            const char *behavior = string_field(step, "behavior");
            const char *regex = string_field(cJSON_GetObjectItemCaseSensitive(step, "pattern"), "Regex");
            if (*pattern || !regex || !behavior || strcmp(behavior, "Isolated") ||
                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(step, "invert")))
                return gptoss_fail(GPTOSS_ERROR_UNSUPPORTED, "only one isolating Split regex is supported");
            *pattern = regex;
        } else if (is_type(step, "ByteLevel")) {
            if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(step, "use_regex")) ||
                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(step, "add_prefix_space")))
                return gptoss_fail(GPTOSS_ERROR_UNSUPPORTED, "ByteLevel with its own regex after a Split");
        } else {
            return gptoss_fail(GPTOSS_ERROR_UNSUPPORTED, "unsupported pre-tokenizer step");
        }
    }
    if (!*pattern) return gptoss_fail(GPTOSS_ERROR_UNSUPPORTED, "pre_tokenizer has no Split regex");
    return GPTOSS_OK;
}

typedef struct special {
    uint32_t id;
    const char *content;
} special;

static int compare_specials(const void *a, const void *b) {
    const special *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Everything parsed, before it is packed into the blob. */
typedef struct parsed {
    uint32_t n_tokens;
    uint32_t *offsets; /* by id, into bytes */
    uint32_t *lengths;
    gptoss_bytes bytes;
    special *specials;
    uint32_t n_specials;
    const char *pattern;
} parsed;

static gptoss_status grow_vocab(parsed *p, uint32_t id, uint32_t *capacity) {
    if (id < *capacity) return GPTOSS_OK;
    uint32_t cap = *capacity ? *capacity : 1024;
    while (cap <= id) cap *= 2;
    uint32_t *offsets = realloc(p->offsets, sizeof *offsets * cap);
    if (offsets) p->offsets = offsets;
    uint32_t *lengths = offsets ? realloc(p->lengths, sizeof *lengths * cap) : NULL;
    if (!lengths) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    p->lengths = lengths;
    for (uint32_t i = *capacity; i < cap; i++) p->lengths[i] = UINT32_MAX;
    *capacity = cap;
    return GPTOSS_OK;
}

/* model.vocab, {"<byte-level token>": id, ...}, read straight from the text
 * (a cJSON tree of 200k entries would be the slowest part of loading). */
static gptoss_status parse_vocab(const char *text, size_t len, parsed *p) {
    int16_t inverse[324];
    byte_level_inverse(inverse);
    size_t pos = 0;
    gptoss_json_skip_space(text, len, &pos);
    if (pos >= len || text[pos] != '{') return gptoss_fail(GPTOSS_ERROR_FORMAT, "model.vocab is not an object");
    pos++;
    gptoss_bytes key = {0};
    uint32_t capacity = 0, max_id = 0, count = 0;
    gptoss_status status = GPTOSS_OK;
    for (;;) {
        gptoss_json_skip_space(text, len, &pos);
        if (pos < len && text[pos] == '}' && !count) break;
        key.len = 0;
        status = gptoss_json_scan_string(text, len, &pos, &key);
        if (status != GPTOSS_OK) break;
        gptoss_json_skip_space(text, len, &pos);
        if (pos >= len || text[pos++] != ':') {
            status = gptoss_fail(GPTOSS_ERROR_FORMAT, "model.vocab: expected ':'");
            break;
        }
        gptoss_json_skip_space(text, len, &pos);
        uint64_t id = 0;
        size_t digits = 0;
        while (pos < len && text[pos] >= '0' && text[pos] <= '9' && id < (1u << 30))
            id = id * 10 + (uint64_t)(text[pos++] - '0'), digits++;
        if (!digits || id >= (1u << 30) || (pos < len && (text[pos] == '.' || text[pos] == 'e'))) {
            status = gptoss_fail(GPTOSS_ERROR_FORMAT, "model.vocab: token \"%.40s\" needs a small integer id",
                                 key.data ? key.data : "");
            break;
        }
        if ((status = grow_vocab(p, (uint32_t)id, &capacity)) != GPTOSS_OK) break;
        if (p->lengths[id] != UINT32_MAX) {
            status = gptoss_fail(GPTOSS_ERROR_FORMAT, "vocab id %u appears twice", (unsigned)id);
            break;
        }
        size_t before = p->bytes.len;
        if (memchr(key.data, 0, key.len) || !decode_byte_level(key.data, inverse, &p->bytes)) {
            status = gptoss_fail(GPTOSS_ERROR_FORMAT, "vocab token %u is not byte-level text", (unsigned)id);
            break;
        }
        if (p->bytes.len > UINT32_MAX / 2) {
            status = gptoss_fail(GPTOSS_ERROR_FORMAT, "vocabulary too large");
            break;
        }
        p->offsets[id] = (uint32_t)before;
        p->lengths[id] = (uint32_t)(p->bytes.len - before);
        if (id > max_id) max_id = (uint32_t)id;
        count++;
        gptoss_json_skip_space(text, len, &pos);
        if (pos < len && text[pos] == ',') {
            pos++;
            continue;
        }
        if (pos < len && text[pos] == '}') break;
        status = gptoss_fail(GPTOSS_ERROR_FORMAT, "model.vocab: expected ',' or '}'");
        break;
    }
    free(key.data);
    if (status != GPTOSS_OK) return status;
    if (!count) return gptoss_fail(GPTOSS_ERROR_FORMAT, "model.vocab is empty");
    if (max_id + 1 != count)
        return gptoss_fail(GPTOSS_ERROR_UNSUPPORTED, "vocab ids must be 0..%u without gaps", count - 1);
    p->n_tokens = count;
    return GPTOSS_OK;
}

static gptoss_status parse_added_tokens(const cJSON *root, parsed *p) {
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    int count = cJSON_IsArray(added) ? cJSON_GetArraySize(added) : 0;
    p->specials = calloc((size_t)count + 1, sizeof *p->specials);
    if (!p->specials) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    const cJSON *token;
    cJSON_ArrayForEach(token, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(token, "id");
        const char *content = string_field(token, "content");
        if (!cJSON_IsNumber(id) || id->valuedouble < p->n_tokens || id->valuedouble > 0x7FFFFFFF || !content ||
            !*content)
            return gptoss_fail(GPTOSS_ERROR_FORMAT, "added token %d needs an id past the vocabulary and content",
                               (int)p->n_specials);
        p->specials[p->n_specials++] = (special){(uint32_t)id->valuedouble, content};
    }
    qsort(p->specials, p->n_specials, sizeof *p->specials, compare_specials);
    for (uint32_t i = 1; i < p->n_specials; i++)
        if (p->specials[i].id == p->specials[i - 1].id)
            return gptoss_fail(GPTOSS_ERROR_FORMAT, "added token id %u appears twice", p->specials[i].id);
    return GPTOSS_OK;
}

/* Packs the parsed parts into a sealed blob. */
static gptoss_status pack(const parsed *p, uint64_t source_hash, uint64_t source_size, void **out_blob,
                          size_t *out_size) {
    uint32_t slot_count = gptoss_bpe_slot_count(p->n_tokens);
    size_t special_bytes = 0;
    for (uint32_t i = 0; i < p->n_specials; i++) special_bytes += strlen(p->specials[i].content);
    size_t pattern_len = strlen(p->pattern);
    if (special_bytes > UINT32_MAX / 2 || pattern_len > UINT32_MAX / 2)
        return gptoss_fail(GPTOSS_ERROR_FORMAT, "added tokens or regex too large");
    size_t size = gptoss_tokenizer_blob_size(p->n_tokens, p->n_specials, slot_count, (uint32_t)pattern_len,
                                             (uint32_t)p->bytes.len, (uint32_t)special_bytes);
    void *blob = calloc(1, size);
    if (!blob) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    gptoss_tokenizer_blob_header *h = blob;
    memcpy(h->magic, GPTOSS_TOKENIZER_BLOB_MAGIC, 8);
    h->version = GPTOSS_TOKENIZER_BLOB_VERSION;
    h->header_size = sizeof *h;
    h->source_hash = source_hash;
    h->source_size = source_size;
    h->n_tokens = p->n_tokens;
    h->n_specials = p->n_specials;
    h->slot_count = slot_count;
    h->pattern_len = (uint32_t)pattern_len;
    h->token_bytes_len = (uint32_t)p->bytes.len;
    h->special_bytes_len = (uint32_t)special_bytes;
    gptoss_tokenizer_data data;
    gptoss_tokenizer_data_view(blob, &data);
    uint32_t *offsets = (uint32_t *)data.token_offsets, at = 0;
    for (uint32_t id = 0; id < p->n_tokens; id++) { /* bytes in id order */
        offsets[id] = at;
        memcpy((uint8_t *)data.token_bytes + at, p->bytes.data + p->offsets[id], p->lengths[id]);
        at += p->lengths[id];
    }
    offsets[p->n_tokens] = at;
    uint32_t *special_ids = (uint32_t *)data.special_ids, *special_offsets = (uint32_t *)data.special_offsets;
    at = 0;
    for (uint32_t i = 0; i < p->n_specials; i++) {
        size_t len = strlen(p->specials[i].content);
        special_ids[i] = p->specials[i].id;
        special_offsets[i] = at;
        memcpy((uint8_t *)data.special_bytes + at, p->specials[i].content, len);
        at += (uint32_t)len;
    }
    special_offsets[p->n_specials] = at;
    memcpy((char *)data.pattern, p->pattern, pattern_len + 1);
    gptoss_status status = gptoss_bpe_fill_slots(p->n_tokens, data.token_offsets, data.token_bytes,
                                                 data.slots, slot_count);
    if (status != GPTOSS_OK) {
        free(blob);
        return status;
    }
    gptoss_tokenizer_data_seal(blob, size);
    *out_blob = blob;
    *out_size = size;
    return GPTOSS_OK;
}

/* Walks a JSON object at text[*pos]. Small members are parsed with cJSON
 * into `into`; the big ones are not built: model.vocab is only located
 * (*vocab) and model.merges skipped (ranks come from the vocabulary). */
static gptoss_status walk_object(const char *text, size_t len, size_t *pos, cJSON *into, bool in_model,
                                 const char **vocab, size_t *vocab_len) {
    gptoss_json_skip_space(text, len, pos);
    if (*pos >= len || text[*pos] != '{') return gptoss_fail(GPTOSS_ERROR_FORMAT, "malformed JSON: expected an object");
    (*pos)++;
    gptoss_bytes key = {0};
    gptoss_status status = GPTOSS_OK;
    for (bool first = true;; first = false) {
        gptoss_json_skip_space(text, len, pos);
        if (first && *pos < len && text[*pos] == '}') {
            (*pos)++;
            break;
        }
        key.len = 0;
        if ((status = gptoss_json_scan_string(text, len, pos, &key)) != GPTOSS_OK) break;
        gptoss_json_skip_space(text, len, pos);
        if (*pos >= len || text[*pos] != ':') {
            status = gptoss_fail(GPTOSS_ERROR_FORMAT, "malformed JSON: expected ':'");
            break;
        }
        (*pos)++;
        gptoss_json_skip_space(text, len, pos);
        size_t start = *pos;
        const char *name = key.data ? key.data : "";
        if (!in_model && !strcmp(name, "model")) {
            cJSON *model = cJSON_AddObjectToObject(into, "model");
            status = model ? walk_object(text, len, pos, model, true, vocab, vocab_len)
                           : gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
        } else {
            status = gptoss_json_skip_value(text, len, pos);
            if (status == GPTOSS_OK && in_model && !strcmp(name, "vocab")) {
                *vocab = text + start;
                *vocab_len = *pos - start;
            } else if (status == GPTOSS_OK && !(in_model && !strcmp(name, "merges"))) {
                cJSON *value = cJSON_ParseWithLength(text + start, *pos - start);
                if (!value) status = gptoss_fail(GPTOSS_ERROR_FORMAT, "malformed JSON in \"%.40s\"", name);
                else cJSON_AddItemToObject(into, name, value);
            }
        }
        if (status != GPTOSS_OK) break;
        gptoss_json_skip_space(text, len, pos);
        if (*pos < len && text[*pos] == ',') {
            (*pos)++;
            continue;
        }
        if (*pos < len && text[*pos] == '}') {
            (*pos)++;
            break;
        }
        status = gptoss_fail(GPTOSS_ERROR_FORMAT, "malformed JSON: expected ',' or '}'");
        break;
    }
    free(key.data);
    return status;
}

gptoss_status gptoss_tokenizer_blob_from_json(const char *json, size_t len, uint64_t source_hash,
                                              void **blob, size_t *size) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    parsed p = {0};
    const char *vocab = NULL;
    size_t vocab_len = 0, pos = 0;
    gptoss_status status = walk_object(json, len, &pos, root, false, &vocab, &vocab_len);
    gptoss_json_skip_space(json, len, &pos);
    if (status == GPTOSS_OK && pos != len) status = gptoss_fail(GPTOSS_ERROR_FORMAT, "malformed JSON: text after the object");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const char *type = string_field(model, "type");
    if (status == GPTOSS_OK && type && strcmp(type, "BPE"))
        status = gptoss_fail(GPTOSS_ERROR_UNSUPPORTED, "model type %s", type);
    if (status == GPTOSS_OK && !vocab) status = gptoss_fail(GPTOSS_ERROR_FORMAT, "model.vocab is missing");
    if (status == GPTOSS_OK) status = parse_vocab(vocab, vocab_len, &p);
    if (status == GPTOSS_OK) status = parse_added_tokens(root, &p);
    if (status == GPTOSS_OK) status = find_pattern(root, &p.pattern);
    if (status == GPTOSS_OK) status = pack(&p, source_hash, len, blob, size);
    free(p.offsets), free(p.lengths), free(p.bytes.data), free(p.specials);
    cJSON_Delete(root);
    return status;
}
