/* synth.h - writes random gpt-oss checkpoints of any shape in the exact
 * Hugging Face release layout (config.json, generation_config.json,
 * model.safetensors or model-XXXXX-of-YYYYY.safetensors + index), so the
 * loader and kernels can be exercised at full 20b/120b size without
 * downloading the real weights. Values are drawn as the test fixtures were
 * (see tests/fixtures/tiny/reference/meta.json "init"). */
#ifndef GPTOSS_SYNTH_H
#define GPTOSS_SYNTH_H

#include <stdint.h>

#include "gptoss.h"

/* Byte counts of a checkpoint's tensors. */
typedef struct {
    uint64_t bf16_params;        /* elements of all BF16 tensors (= non-expert params) */
    uint64_t mxfp4_bytes;        /* bytes of all U8 tensors (expert blocks + scales) */
    uint64_t total_tensor_bytes; /* 2 * bf16_params + mxfp4_bytes */
    uint32_t n_tensors;          /* 19 per layer + 3 */
} gptoss_synth_sizes;

/* Fills cfg with a named shape: "20b", "120b" (the releases), "tiny" (like
 * tests/fixtures/tiny) or "mini-vocab" (real 201088-token vocabulary, tiny
 * layers; for end-to-end tests with the real tokenizer). RoPE/YaRN, swiglu
 * limit and eps are the release values. Allocates cfg->layer_is_sliding
 * (even layers sliding); free it with gptoss_synth_release. An unknown name
 * is GPTOSS_ERROR_INVALID_ARGUMENT and leaves cfg untouched. */
gptoss_status gptoss_synth_preset(const char *name, gptoss_config *cfg);

/* Sets cfg->num_hidden_layers and re-allocates cfg->layer_is_sliding with
 * the release rule (layer i sliding when i is even). */
gptoss_status gptoss_synth_set_layers(gptoss_config *cfg, uint32_t n_layers);

/* Frees cfg->layer_is_sliding and sets it to NULL. NULL cfg is fine. */
void gptoss_synth_release(gptoss_config *cfg);

/* Checks cfg describes a writable checkpoint: every size positive, hidden
 * and intermediate sizes multiples of 32, head_dim even, heads divisible by
 * KV heads, experts_per_tok <= experts, vocab >= 3 (room for the special
 * ids) and a total size that fits 64-bit offsets. The message names the bad
 * value. */
gptoss_status gptoss_synth_validate(const gptoss_config *cfg);

/* Validates cfg and computes its tensor byte counts. */
gptoss_status gptoss_synth_compute_sizes(const gptoss_config *cfg, gptoss_synth_sizes *sizes);

/* The shard count gptoss_synth_write picks for n_shards == 0: one file below
 * 2 GB, otherwise as many as packing tensors in order into files of at most
 * 5 GB takes (3 for 20b, like the release). 0 if cfg is invalid. */
uint32_t gptoss_synth_auto_shards(const gptoss_config *cfg);

/* Writes the checkpoint into out_dir (created like mkdir -p). An existing
 * checkpoint there is overwritten: config.json, generation_config.json and
 * any model.safetensors, model-*-of-*.safetensors and index file are replaced
 * or removed first, so no stale shard survives. n_shards 1 writes
 * model.safetensors (with "__metadata__": {"format": "pt"}); n > 1 writes
 * model-00000-of-{n-1}.safetensors .. plus model.safetensors.index.json (no
 * __metadata__ in shards, as the release converter writes them); 0 picks
 * gptoss_synth_auto_shards. Tensor values depend only on seed and the tensor
 * (not on the shard count or thread count), so equal seeds give identical
 * files. Data is generated in small chunks: memory use is a few MB whatever
 * the size. show_progress != 0 reports progress on stderr (a bar when stderr
 * is a terminal, one line per file otherwise). Errors name the path. */
gptoss_status gptoss_synth_write(const gptoss_config *cfg, const char *out_dir, uint64_t seed,
                                 uint32_t n_shards, int show_progress);

/* gptoss_synth_write with a choice of initialisation: fan_in_init = 0 draws
 * dense weights with the fixtures' std 0.1; 1 uses std 1/sqrt(fan_in) for the
 * attention, router and unembedding matrices, which keeps activations and
 * attention scores O(1) at any width (a well-conditioned model). */
gptoss_status gptoss_synth_write_init(const gptoss_config *cfg, const char *out_dir, uint64_t seed,
                                      uint32_t n_shards, int show_progress, int fan_in_init);

#endif
