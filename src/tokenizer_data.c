/* tokenizer_data.c - layout, sealing and checking of the tokenizer blob. */
#include "tokenizer_data.h"

#include <string.h>
#include <xxhash.h>

#include "error.h"

static size_t align4(size_t n) { return (n + 3) & ~(size_t)3; }

size_t gptoss_tokenizer_blob_size(uint32_t n_tokens, uint32_t n_specials, uint32_t slot_count,
                                  uint32_t pattern_len, uint32_t token_bytes_len,
                                  uint32_t special_bytes_len) {
    return sizeof(gptoss_tokenizer_blob_header) + 4 * ((size_t)n_tokens + 1) + 4 * (size_t)slot_count +
           4 * (size_t)n_specials + 4 * ((size_t)n_specials + 1) + align4(token_bytes_len) +
           align4(special_bytes_len) + align4((size_t)pattern_len + 1);
}

void gptoss_tokenizer_data_view(void *blob, gptoss_tokenizer_data *data) {
    gptoss_tokenizer_blob_header *header = blob;
    uint8_t *p = (uint8_t *)blob + sizeof *header;
    data->header = header;
    data->token_offsets = (const uint32_t *)p, p += 4 * ((size_t)header->n_tokens + 1);
    data->slots = (uint32_t *)p, p += 4 * (size_t)header->slot_count;
    data->special_ids = (const uint32_t *)p, p += 4 * (size_t)header->n_specials;
    data->special_offsets = (const uint32_t *)p, p += 4 * ((size_t)header->n_specials + 1);
    data->token_bytes = p, p += align4(header->token_bytes_len);
    data->special_bytes = p, p += align4(header->special_bytes_len);
    data->pattern = (const char *)p;
}

void gptoss_tokenizer_data_seal(void *blob, size_t size) {
    gptoss_tokenizer_blob_header *header = blob;
    header->payload_size = size - sizeof *header;
    header->payload_hash = XXH3_64bits((const uint8_t *)blob + sizeof *header, header->payload_size);
}

static gptoss_status corrupt(const char *what) {
    return gptoss_fail(GPTOSS_ERROR_FORMAT, "tokenizer cache: %s", what);
}

/* offsets[0..count] start at 0, never decrease and end at total. */
static int offsets_ok(const uint32_t *offsets, uint32_t count, uint32_t total) {
    if (offsets[0] != 0 || offsets[count] != total) return 0;
    for (uint32_t i = 0; i < count; i++)
        if (offsets[i + 1] < offsets[i]) return 0;
    return 1;
}

gptoss_status gptoss_tokenizer_data_check(void *blob, size_t size, gptoss_tokenizer_data *data) {
    const gptoss_tokenizer_blob_header *h = blob;
    if (size < sizeof *h || memcmp(h->magic, GPTOSS_TOKENIZER_BLOB_MAGIC, 8)) return corrupt("bad magic");
    if (h->version != GPTOSS_TOKENIZER_BLOB_VERSION || h->header_size != sizeof *h)
        return corrupt("other format version");
    if (h->n_tokens == 0 || h->n_tokens > (1u << 28) || h->n_specials > (1u << 20) ||
        h->slot_count == 0 || (h->slot_count & (h->slot_count - 1)) || h->slot_count < h->n_tokens ||
        h->slot_count > (1u << 30))
        return corrupt("bad counts");
    size_t expected = gptoss_tokenizer_blob_size(h->n_tokens, h->n_specials, h->slot_count, h->pattern_len,
                                                 h->token_bytes_len, h->special_bytes_len);
    if (expected != size || h->payload_size != size - sizeof *h) return corrupt("size mismatch");
    if (XXH3_64bits((const uint8_t *)blob + sizeof *h, h->payload_size) != h->payload_hash)
        return corrupt("checksum mismatch");
    gptoss_tokenizer_data_view(blob, data);
    if (!offsets_ok(data->token_offsets, h->n_tokens, h->token_bytes_len) ||
        !offsets_ok(data->special_offsets, h->n_specials, h->special_bytes_len))
        return corrupt("bad offsets");
    for (uint32_t i = 0; i < h->slot_count; i++)
        if (data->slots[i] != UINT32_MAX && data->slots[i] >= h->n_tokens) return corrupt("bad hash slot");
    for (uint32_t i = 0; i < h->n_specials; i++)
        if (data->special_ids[i] < h->n_tokens || (i && data->special_ids[i] <= data->special_ids[i - 1]))
            return corrupt("bad special ids");
    if (data->pattern[h->pattern_len] != 0) return corrupt("bad pattern");
    return GPTOSS_OK;
}
