/* tokenizer_data.h - the tokenizer's loaded data as one contiguous blob:
 * the in-memory form and, byte for byte, the binary cache file. Building it
 * from tokenizer.json is slow (JSON); reading it back is one read + checks. */
#ifndef GPTOSS_TOKENIZER_DATA_H
#define GPTOSS_TOKENIZER_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "gptoss.h"

#define GPTOSS_TOKENIZER_BLOB_MAGIC "GPTOSSTK"
#define GPTOSS_TOKENIZER_BLOB_VERSION 1u

typedef struct gptoss_tokenizer_blob_header {
    char magic[8];            /* GPTOSS_TOKENIZER_BLOB_MAGIC */
    uint32_t version;         /* GPTOSS_TOKENIZER_BLOB_VERSION */
    uint32_t header_size;     /* sizeof this struct */
    uint64_t source_hash;     /* XXH3-64 of the tokenizer.json bytes */
    uint64_t source_size;     /* its size in bytes */
    uint64_t payload_hash;    /* XXH3-64 of the bytes after the header */
    uint64_t payload_size;
    uint32_t n_tokens;        /* ordinary tokens, ids 0 .. n_tokens-1 */
    uint32_t n_specials;      /* added (special) tokens */
    uint32_t slot_count;      /* hash slots, a power of two */
    uint32_t pattern_len;     /* pre-tokenizer regex (Rust syntax), bytes */
    uint32_t token_bytes_len;
    uint32_t special_bytes_len;
} gptoss_tokenizer_blob_header;

/* Pointers into a blob. Sections follow the header in this order, each
 * starting at a multiple of 4 bytes. */
typedef struct gptoss_tokenizer_data {
    const gptoss_tokenizer_blob_header *header;
    const uint32_t *token_offsets;   /* n_tokens + 1 */
    uint32_t *slots;                 /* slot_count (writable while building) */
    const uint32_t *special_ids;     /* n_specials, ascending */
    const uint32_t *special_offsets; /* n_specials + 1, into special_bytes */
    const uint8_t *token_bytes;
    const uint8_t *special_bytes;
    const char *pattern;             /* NUL-terminated */
} gptoss_tokenizer_data;

/* Blob size for the given counts. */
size_t gptoss_tokenizer_blob_size(uint32_t n_tokens, uint32_t n_specials, uint32_t slot_count,
                                  uint32_t pattern_len, uint32_t token_bytes_len,
                                  uint32_t special_bytes_len);

/* Points data's sections into blob according to header's counts (which must
 * already be filled in); no checking. */
void gptoss_tokenizer_data_view(void *blob, gptoss_tokenizer_data *data);

/* Fills header's payload hash after the sections are written. */
void gptoss_tokenizer_data_seal(void *blob, size_t size);

/* Checks a blob read from a cache file: magic, version, sizes, payload hash
 * and that every offset and id stays in bounds, then views it. Any problem
 * is GPTOSS_ERROR_FORMAT (the caller rebuilds from JSON). */
gptoss_status gptoss_tokenizer_data_check(void *blob, size_t size, gptoss_tokenizer_data *data);

/* Builds a sealed blob from the text of a Hugging Face tokenizer.json
 * (byte-level BPE: model.vocab, added_tokens, pre_tokenizer regex) and
 * records source_hash and len as its source. *blob is malloc'ed. */
gptoss_status gptoss_tokenizer_blob_from_json(const char *json, size_t len, uint64_t source_hash,
                                              void **blob, size_t *size);

#endif
