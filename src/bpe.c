/* bpe.c - tiktoken's rank-based byte pair merging and the token hash table. */
#include "bpe.h"

#define XXH_INLINE_ALL /* short keys: let the compiler inline XXH3 */
#include <xxhash.h>

#include "error.h"

/* Pieces up to this many bytes use tiktoken's own quadratic scan (fastest
 * for the short pieces regex splitting produces); longer ones a heap. */
#define SMALL_PIECE 128

uint32_t gptoss_bpe_slot_count(uint32_t n_tokens) {
    uint32_t count = 1024;
    while (count < 2u * n_tokens && count < (1u << 31)) count *= 2;
    return count;
}

static uint64_t hash_bytes(const uint8_t *s, size_t len) { return XXH3_64bits(s, len); }

gptoss_status gptoss_bpe_fill_slots(uint32_t n_tokens, const uint32_t *offsets, const uint8_t *bytes,
                                    uint32_t *slots, uint32_t slot_count) {
    uint32_t mask = slot_count - 1;
    for (uint32_t i = 0; i < slot_count; i++) slots[i] = GPTOSS_BPE_NONE;
    for (uint32_t id = 0; id < n_tokens; id++) {
        const uint8_t *s = bytes + offsets[id];
        size_t len = offsets[id + 1] - offsets[id];
        uint32_t slot = (uint32_t)hash_bytes(s, len) & mask;
        while (slots[slot] != GPTOSS_BPE_NONE) {
            uint32_t other = slots[slot];
            size_t other_len = offsets[other + 1] - offsets[other];
            if (other_len == len && !memcmp(bytes + offsets[other], s, len))
                return gptoss_fail(GPTOSS_ERROR_FORMAT, "tokens %u and %u have the same bytes", other, id);
            slot = (slot + 1) & mask;
        }
        slots[slot] = id;
    }
    return GPTOSS_OK;
}

uint32_t gptoss_bpe_lookup(const gptoss_bpe *bpe, const uint8_t *s, size_t len) {
    uint32_t slot = (uint32_t)hash_bytes(s, len) & bpe->slot_mask;
    for (;;) {
        uint32_t id = bpe->slots[slot];
        if (id == GPTOSS_BPE_NONE) return GPTOSS_BPE_NONE;
        uint32_t offset = bpe->offsets[id];
        if (bpe->offsets[id + 1] - offset == len && !memcmp(bpe->bytes + offset, s, len)) return id;
        slot = (slot + 1) & bpe->slot_mask;
    }
}

gptoss_status gptoss_bpe_init(gptoss_bpe *bpe, uint32_t n_tokens, const uint32_t *offsets,
                              const uint8_t *bytes, const uint32_t *slots, uint32_t slot_count) {
    *bpe = (gptoss_bpe){n_tokens, offsets, bytes, slots, slot_count - 1, {0}};
    for (int b = 0; b < 256; b++) {
        uint8_t byte = (uint8_t)b;
        bpe->byte_token[b] = gptoss_bpe_lookup(bpe, &byte, 1);
        if (bpe->byte_token[b] == GPTOSS_BPE_NONE)
            return gptoss_fail(GPTOSS_ERROR_FORMAT, "byte 0x%02X has no token: not a byte-level BPE", b);
    }
    return GPTOSS_OK;
}

static gptoss_status out_of_memory(void) { return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory"); }

/* Appends the tokens of piece[bounds[i] .. bounds[i + 1]) for i < count - 1. */
static gptoss_status emit_parts(const gptoss_bpe *bpe, const uint8_t *piece, const uint32_t *bounds,
                                size_t count, gptoss_ids *out) {
    for (size_t i = 0; i + 1 < count; i++) {
        uint32_t id = gptoss_bpe_lookup(bpe, piece + bounds[i], bounds[i + 1] - bounds[i]);
        if (!gptoss_ids_push(out, id)) return out_of_memory();
    }
    return GPTOSS_OK;
}

/* tiktoken's _byte_pair_merge, verbatim in spirit: parts are part starts plus
 * the rank of merging each part with the next. */
static gptoss_status merge_small(const gptoss_bpe *bpe, const uint8_t *piece, size_t len, gptoss_ids *out) {
    uint32_t start[SMALL_PIECE + 1], rank[SMALL_PIECE + 1];
    size_t count = len + 1;
    for (size_t i = 0; i < count; i++) {
        start[i] = (uint32_t)i;
        rank[i] = i + 1 < len ? gptoss_bpe_lookup(bpe, piece + i, 2) : GPTOSS_BPE_NONE;
    }
    for (;;) {
        uint32_t best = GPTOSS_BPE_NONE;
        size_t at = 0;
        for (size_t i = 0; i + 1 < count; i++)
            if (rank[i] < best) best = rank[i], at = i;
        if (best == GPTOSS_BPE_NONE) break;
        /* Ranks of the pairs that now include the merged part. */
        if (at > 0)
            rank[at - 1] = at + 2 < count ? gptoss_bpe_lookup(bpe, piece + start[at - 1], start[at + 2] - start[at - 1])
                                          : GPTOSS_BPE_NONE;
        rank[at] = at + 3 < count ? gptoss_bpe_lookup(bpe, piece + start[at], start[at + 3] - start[at])
                                  : GPTOSS_BPE_NONE;
        memmove(start + at + 1, start + at + 2, (count - at - 2) * sizeof *start);
        memmove(rank + at + 1, rank + at + 2, (count - at - 2) * sizeof *rank);
        count--;
    }
    return emit_parts(bpe, piece, start, count, out);
}

/* Same merge order with a binary heap of (rank, position) over a linked list
 * of parts: O(n log n) for long pieces (a megabyte of digits or symbols).
 * Parts are named by their first byte; entries whose part changed since
 * they were pushed are recognised by a stale `end` and skipped. */
typedef struct heap_entry {
    uint64_t key; /* rank << 32 | position: lowest rank, then leftmost */
    uint32_t end; /* end of the pair when pushed */
} heap_entry;

static void heap_push(heap_entry *heap, size_t *n, heap_entry e) {
    size_t i = (*n)++;
    while (i > 0 && heap[(i - 1) / 2].key > e.key) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = e;
}

static heap_entry heap_pop(heap_entry *heap, size_t *n) {
    heap_entry top = heap[0], last = heap[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= *n) break;
        if (child + 1 < *n && heap[child + 1].key < heap[child].key) child++;
        if (heap[child].key >= last.key) break;
        heap[i] = heap[child];
        i = child;
    }
    if (*n) heap[i] = last;
    return top;
}

static gptoss_status merge_large(const gptoss_bpe *bpe, const uint8_t *piece, size_t len, gptoss_ids *out) {
    uint32_t *next = malloc((len + 1) * sizeof *next), *prev = malloc((len + 1) * sizeof *prev);
    heap_entry *heap = malloc(3 * len * sizeof *heap); /* n initial pairs + 2 pushes per merge */
    uint32_t *bounds = NULL;
    gptoss_status status = GPTOSS_OK;
    if (!next || !prev || !heap) {
        status = out_of_memory();
        goto done;
    }
    size_t heap_n = 0;
    for (uint32_t i = 0; i <= len; i++) next[i] = i + 1, prev[i] = i - 1; /* prev[0] unused */
    for (uint32_t i = 0; i + 1 < len; i++) {
        uint32_t rank = gptoss_bpe_lookup(bpe, piece + i, 2);
        if (rank != GPTOSS_BPE_NONE) heap_push(heap, &heap_n, (heap_entry){(uint64_t)rank << 32 | i, i + 2});
    }
    while (heap_n) {
        heap_entry e = heap_pop(heap, &heap_n);
        uint32_t at = (uint32_t)e.key, right = next[at];
        /* Stale if `at` was absorbed (next = len + 1), is now the last part,
         * or its pair no longer ends where it did. */
        if (right >= (uint32_t)len || next[right] != e.end) continue;
        next[at] = next[right];
        if (next[at] <= len) prev[next[at]] = at;
        next[right] = (uint32_t)len + 1; /* mark absorbed */
        if (next[at] < len) { /* pair (at, its new right neighbour) */
            uint32_t end = next[next[at]];
            uint32_t rank = gptoss_bpe_lookup(bpe, piece + at, end - at);
            if (rank != GPTOSS_BPE_NONE) heap_push(heap, &heap_n, (heap_entry){(uint64_t)rank << 32 | at, end});
        }
        if (at > 0) { /* pair (left neighbour, at) */
            uint32_t left = prev[at], end = next[at];
            uint32_t rank = gptoss_bpe_lookup(bpe, piece + left, end - left);
            if (rank != GPTOSS_BPE_NONE) heap_push(heap, &heap_n, (heap_entry){(uint64_t)rank << 32 | left, end});
        }
    }
    bounds = malloc((len + 1) * sizeof *bounds);
    if (!bounds) {
        status = out_of_memory();
        goto done;
    }
    size_t count = 0;
    for (uint32_t i = 0; i < len; i = next[i]) bounds[count++] = i;
    bounds[count++] = (uint32_t)len;
    status = emit_parts(bpe, piece, bounds, count, out);
done:
    free(next), free(prev), free(heap), free(bounds);
    return status;
}

gptoss_status gptoss_bpe_encode_piece(const gptoss_bpe *bpe, const uint8_t *piece, size_t len,
                                      gptoss_ids *out) {
    if (len == 1) {
        if (!gptoss_ids_push(out, bpe->byte_token[piece[0]])) return out_of_memory();
        return GPTOSS_OK;
    }
    uint32_t whole = gptoss_bpe_lookup(bpe, piece, len);
    if (whole != GPTOSS_BPE_NONE) {
        if (!gptoss_ids_push(out, whole)) return out_of_memory();
        return GPTOSS_OK;
    }
    if (len > UINT32_MAX / 4) return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT, "piece of %zu bytes is too long", len);
    return len <= SMALL_PIECE ? merge_small(bpe, piece, len, out) : merge_large(bpe, piece, len, out);
}
