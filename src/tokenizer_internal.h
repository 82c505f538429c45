/* tokenizer_internal.h - the tokenizer handle, shared by tokenizer.c
 * (loading, encoding) and tokenizer_decode.c. */
#ifndef GPTOSS_TOKENIZER_INTERNAL_H
#define GPTOSS_TOKENIZER_INTERNAL_H

#include "bpe.h"
#include "tokenizer.h"
#include "tokenizer_data.h"
#include "tokenizer_pretokenize.h"

struct gptoss_tokenizer {
    void *blob;                  /* owns every array below (tokenizer_data.h) */
    gptoss_tokenizer_data data;
    gptoss_bpe bpe;              /* the ordinary vocabulary, viewing the blob */
    gptoss_regex *piece_regex;   /* the pre-tokenizer */
    gptoss_regex *special_regex; /* any special token's spelling; NULL if none */
    uint32_t vocab_size;
};

#endif
