/* bpe.h - byte-level BPE as tiktoken does it: a token's rank is its id; the
 * rank of an adjacent pair is the id of the token its concatenated bytes
 * form; the lowest-ranked pair merges first, the leftmost on ties. Token
 * lookups go through an open-addressing hash table keyed by xxHash (XXH3). */
#ifndef GPTOSS_BPE_H
#define GPTOSS_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "gptoss.h"
#include "tokenizer_buffer.h"

#define GPTOSS_BPE_NONE UINT32_MAX /* "no such token" and empty hash slot */

/* The ordinary vocabulary. Views memory owned by the tokenizer (or its cache
 * file): token id's bytes are bytes[offsets[id] .. offsets[id + 1]). */
typedef struct gptoss_bpe {
    uint32_t n_tokens;
    const uint32_t *offsets;    /* n_tokens + 1 entries, non-decreasing */
    const uint8_t *bytes;
    const uint32_t *slots;      /* hash table of ids, GPTOSS_BPE_NONE = empty */
    uint32_t slot_mask;         /* slot count - 1 (a power of two) */
    uint32_t byte_token[256];   /* id of every single byte */
} gptoss_bpe;

/* Number of hash slots to allocate for n_tokens (a power of two, load <= 1/2). */
uint32_t gptoss_bpe_slot_count(uint32_t n_tokens);

/* Fills slots[slot_count] for the tokens; fails on duplicate byte strings. */
gptoss_status gptoss_bpe_fill_slots(uint32_t n_tokens, const uint32_t *offsets, const uint8_t *bytes,
                                    uint32_t *slots, uint32_t slot_count);

/* Sets up bpe over the given arrays (not copied) and checks that every
 * single byte is a token. slots must come from gptoss_bpe_fill_slots. */
gptoss_status gptoss_bpe_init(gptoss_bpe *bpe, uint32_t n_tokens, const uint32_t *offsets,
                              const uint8_t *bytes, const uint32_t *slots, uint32_t slot_count);

/* Id of the token whose bytes are s[0..len), or GPTOSS_BPE_NONE. */
uint32_t gptoss_bpe_lookup(const gptoss_bpe *bpe, const uint8_t *s, size_t len);

/* Appends the ids of one pre-tokenized piece (len >= 1) to out: the piece's
 * own id when it is a token, else the result of merging its bytes. */
gptoss_status gptoss_bpe_encode_piece(const gptoss_bpe *bpe, const uint8_t *piece, size_t len,
                                      gptoss_ids *out);

#endif
