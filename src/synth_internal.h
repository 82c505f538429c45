/* synth_internal.h - shared by synth.c (shapes, plan, JSON files) and
 * synth_stream.c (random values and the streamed safetensors writer). */
#ifndef GPTOSS_SYNTH_INTERNAL_H
#define GPTOSS_SYNTH_INTERNAL_H

#include <stdint.h>

#include "gptoss.h"

enum { SYNTH_NAME_LEN = 96 };

typedef enum {
    SYNTH_FILL_NORMAL, /* BF16 ~ mean + std * N(0, 1) */
    SYNTH_FILL_BYTES,  /* uniformly random bytes (MXFP4 blocks: all 16 nibbles) */
    SYNTH_FILL_SCALES, /* bytes uniform in [scale_lo, scale_lo + 6] (E8M0 scales) */
} synth_fill_kind;

typedef struct {
    char name[SYNTH_NAME_LEN];
    int is_u8;        /* dtype U8, else BF16 */
    uint32_t ndim;
    uint64_t shape[4];
    uint64_t nbytes;
    synth_fill_kind fill;
    float mean, std;  /* SYNTH_FILL_NORMAL */
    uint8_t scale_lo; /* SYNTH_FILL_SCALES */
    uint32_t index;   /* position in the canonical order; seeds the values */
    uint32_t shard;
    uint64_t begin;   /* data offset inside its file, set by synth_writer_file */
} synth_tensor;

typedef struct synth_writer synth_writer;

/* A writer for one checkpoint: buffers, value tables and progress over
 * total_bytes. show_progress as in gptoss_synth_write. */
gptoss_status synth_writer_create(uint64_t seed, uint64_t total_bytes, int show_progress,
                                  synth_writer **out);

/* Writes one safetensors file holding tensors[0..n) (reordered in place to
 * the safetensors order: BF16 first, then by name); metadata != 0 adds
 * "__metadata__": {"format": "pt"}. Removes the file again on failure. */
gptoss_status synth_writer_file(synth_writer *w, synth_tensor **tensors, uint32_t n,
                                const char *path, int metadata);

/* Ends the progress line and frees the writer. NULL is fine. */
void synth_writer_free(synth_writer *w);

#endif
