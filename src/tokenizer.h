/* tokenizer.h - the o200k_harmony tokenizer of gpt-oss (internal API).
 *
 * Loaded from a Hugging Face tokenizer.json (byte-level BPE). Encoding
 * reproduces OpenAI's tiktoken exactly: the file's pre-tokenisation regex is
 * run with Rust regex semantics (Unicode 16 character classes, White_Space
 * \s, simple case folding; see tokenizer_regex.h), then every piece is merged
 * by rank (rank = token id; lowest pair first, leftmost on ties).
 *
 * Text given to the encoder must be valid UTF-8: invalid bytes and encoded
 * surrogates (CESU-8/WTF-8, e.g. ED A0 80) are refused with
 * GPTOSS_ERROR_INVALID_ARGUMENT naming the byte offset; nothing is replaced.
 * Decoding to text replaces bytes that are not valid UTF-8 by U+FFFD, one per
 * maximal invalid subsequence (tokenizer_utf8.h).
 *
 * A loaded tokenizer is immutable: any number of threads may encode and
 * decode with it at once. */
#ifndef GPTOSS_TOKENIZER_H
#define GPTOSS_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gptoss.h"

typedef struct gptoss_tokenizer gptoss_tokenizer;

/* Returned by gptoss_tokenizer_token_id for an unknown token. */
#define GPTOSS_TOKEN_NONE UINT32_MAX

/* The harmony special tokens of the gpt-oss release's tokenizer.json (ids
 * 199998..200018; the others are <|reserved_N|>). Prefer looking them up with
 * gptoss_tokenizer_token_id() when the file may differ. */
enum {
    GPTOSS_TOKEN_STARTOFTEXT = 199998,
    GPTOSS_TOKEN_ENDOFTEXT = 199999,
    GPTOSS_TOKEN_RETURN = 200002,
    GPTOSS_TOKEN_CONSTRAIN = 200003,
    GPTOSS_TOKEN_CHANNEL = 200005,
    GPTOSS_TOKEN_START = 200006,
    GPTOSS_TOKEN_END = 200007,
    GPTOSS_TOKEN_MESSAGE = 200008,
    GPTOSS_TOKEN_CALL = 200012,
    GPTOSS_TOKEN_ENDOFPROMPT = 200018,
};

/* Loading options; zero-initialise for the defaults. */
typedef struct gptoss_tokenizer_options {
    const char *cache_dir;  /* NULL: $XDG_CACHE_HOME/gptoss or ~/.cache/gptoss */
    bool no_cache;          /* neither read nor write a cache file */
    bool explicit_ranges;   /* spell every \p{..} as code point ranges instead of
                               PCRE2 properties plus corrections (same result,
                               slower on non-Latin text; for tests) */
} gptoss_tokenizer_options;

/* Loads tokenizer.json at path with the default options. The binary cache is
 * keyed by the file's XXH3 hash; when it cannot be read or written the file
 * is parsed as JSON (slower), never an error. */
gptoss_status gptoss_tokenizer_load(const char *path, gptoss_tokenizer **out);

/* Same, with options (may be NULL). */
gptoss_status gptoss_tokenizer_load_with(const char *path, const gptoss_tokenizer_options *options,
                                         gptoss_tokenizer **out);

/* Loads DIR/tokenizer.json of a model folder. */
gptoss_status gptoss_tokenizer_load_model_dir(const char *dir, gptoss_tokenizer **out);

void gptoss_tokenizer_free(gptoss_tokenizer *tok);

/* Largest token id + 1, special tokens included (200019 for gpt-oss). */
uint32_t gptoss_tokenizer_vocab_size(const gptoss_tokenizer *tok);

/* Number of ordinary (BPE) tokens; their ids are 0 .. count-1. */
uint32_t gptoss_tokenizer_ordinary_count(const gptoss_tokenizer *tok);

/* Number of special tokens and the i-th one's id (ascending ids). */
uint32_t gptoss_tokenizer_special_count(const gptoss_tokenizer *tok);
uint32_t gptoss_tokenizer_special_id(const gptoss_tokenizer *tok, uint32_t i);

/* Id of the special token spelled exactly `text` ("<|start|>"), else of the
 * ordinary token whose bytes are `text`, else GPTOSS_TOKEN_NONE. */
uint32_t gptoss_tokenizer_token_id(const gptoss_tokenizer *tok, const char *text);

/* Whether id is a special (added) token. */
bool gptoss_tokenizer_is_special(const gptoss_tokenizer *tok, uint32_t id);

/* The bytes of token id (a special token's spelling for specials), or NULL
 * when id is not a token. Owned by the tokenizer; not NUL-terminated. */
const uint8_t *gptoss_tokenizer_token_bytes(const gptoss_tokenizer *tok, uint32_t id, size_t *len);

/* Encodes text[0..len) (UTF-8). With allow_special false, special-token
 * spellings are ordinary text (tiktoken's encode_ordinary); with true, each
 * occurrence of a special token's spelling becomes its single id and the text
 * between them is encoded separately (tiktoken's encode with
 * allowed_special="all"). *ids is malloc'ed (free() it; never NULL on
 * success, even for no ids). */
gptoss_status gptoss_tokenizer_encode(const gptoss_tokenizer *tok, const char *text, size_t len,
                                      bool allow_special, uint32_t **ids, size_t *n_ids);

/* The raw bytes of ids (special tokens as their spelling), which need not be
 * UTF-8. *bytes is malloc'ed and NUL-terminated (the length excludes it).
 * An id that is not a token is GPTOSS_ERROR_TOKEN_RANGE. */
gptoss_status gptoss_tokenizer_decode_bytes(const gptoss_tokenizer *tok, const uint32_t *ids, size_t n_ids,
                                            char **bytes, size_t *len);

/* The text of ids: the raw bytes decoded as UTF-8, each maximal invalid
 * subsequence replaced by U+FFFD. Always valid UTF-8. */
gptoss_status gptoss_tokenizer_decode(const gptoss_tokenizer *tok, const uint32_t *ids, size_t n_ids,
                                      char **text, size_t *len);

/* Streaming decoder: turns tokens, one at a time, into text as soon as it is
 * complete. Bytes ending in an incomplete UTF-8 sequence are held back until
 * the next token completes it (or shows it cannot be completed: then U+FFFD).
 * Every chunk it returns is valid UTF-8, and all chunks together equal
 * gptoss_tokenizer_decode of all the tokens. */
typedef struct gptoss_token_decoder gptoss_token_decoder;

/* The decoder uses tok, which must outlive it. */
gptoss_status gptoss_token_decoder_create(const gptoss_tokenizer *tok, gptoss_token_decoder **out);

/* Adds one token; *text and *len receive the newly completed text (possibly
 * empty), valid until the next call on this decoder. */
gptoss_status gptoss_token_decoder_push(gptoss_token_decoder *decoder, uint32_t id, const char **text,
                                        size_t *len);

/* Ends the stream: held-back bytes become one U+FFFD. The decoder is then
 * empty and may be reused. */
gptoss_status gptoss_token_decoder_finish(gptoss_token_decoder *decoder, const char **text, size_t *len);

/* Number of bytes currently held back (0..3). */
size_t gptoss_token_decoder_pending(const gptoss_token_decoder *decoder);

void gptoss_token_decoder_free(gptoss_token_decoder *decoder);

#endif
