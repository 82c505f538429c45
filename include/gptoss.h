/*
 * gptoss.h - public C API of gptoss.c, a CPU inference engine for OpenAI's
 * gpt-oss models.
 *
 * Handles are opaque. Every function that can fail returns a gptoss_status;
 * on failure gptoss_last_error() gives a one-line message for the calling
 * thread naming the file, tensor or value that is wrong.
 */
#ifndef GPTOSS_H
#define GPTOSS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gptoss_status {
    GPTOSS_OK = 0,
    GPTOSS_ERROR_INVALID_ARGUMENT,  /* a caller passed a bad value */
    GPTOSS_ERROR_IO,                /* a file or folder is missing or unreadable */
    GPTOSS_ERROR_FORMAT,            /* a file is malformed (safetensors, JSON) */
    GPTOSS_ERROR_CONFIG,            /* config.json lacks keys or is inconsistent */
    GPTOSS_ERROR_TENSOR,            /* a tensor is missing or has the wrong dtype/shape */
    GPTOSS_ERROR_OUT_OF_MEMORY,
    GPTOSS_ERROR_TOKEN_RANGE,       /* a token id is not below the vocabulary size */
    GPTOSS_ERROR_CONTEXT_OVERFLOW,  /* more tokens than the context holds */
    GPTOSS_ERROR_UNSUPPORTED,       /* valid, but not supported here (e.g. a CPU feature) */
} gptoss_status;

/* Short fixed name of a status ("format error", ...). Never NULL. */
const char *gptoss_status_string(gptoss_status status);

/* Message describing the calling thread's most recent failure ("" if none).
 * Valid until the next failing call on the same thread. */
const char *gptoss_last_error(void);

/* Hyper-parameters read from config.json (defaults filled in as the release has them). */
typedef struct gptoss_config {
    uint32_t hidden_size;          /* H */
    uint32_t intermediate_size;    /* I */
    uint32_t head_dim;             /* d */
    uint32_t num_attention_heads;  /* nq */
    uint32_t num_key_value_heads;  /* nkv */
    uint32_t num_hidden_layers;    /* L */
    uint32_t num_local_experts;    /* E */
    uint32_t num_experts_per_tok;  /* k */
    uint32_t vocab_size;           /* V */
    uint32_t sliding_window;       /* W */
    uint32_t max_position_embeddings;
    float rope_theta;
    float rope_scaling_factor;     /* YaRN factor s (1 = no scaling) */
    float rope_beta_fast;
    float rope_beta_slow;
    uint32_t rope_original_max_position; /* L0 of YaRN */
    int rope_truncate;             /* 1: floor/ceil the YaRN ramp bounds (release: 0) */
    float swiglu_limit;
    float rms_norm_eps;
    uint8_t *layer_is_sliding;     /* [num_hidden_layers]: 1 = sliding-window layer */
} gptoss_config;

/* Which kernels compute the matmuls. AUTO picks the best the CPU supports. */
typedef enum gptoss_kernel_isa {
    GPTOSS_KERNELS_AUTO = 0,
    GPTOSS_KERNELS_SCALAR,
    GPTOSS_KERNELS_AVX2,
    GPTOSS_KERNELS_AVX512,
    GPTOSS_KERNELS_NEON,
} gptoss_kernel_isa;

typedef struct gptoss_model gptoss_model;
typedef struct gptoss_context gptoss_context;
typedef struct gptoss_sampler gptoss_sampler;

/* How activations meet the weights.
 * EXACT: float32 activations against the stored BF16/MXFP4 weights (matches
 *        the reference implementation).
 * FAST:  activations quantised to int8 per 32 values; the BF16 attention and
 *        unembedding matrices requantised once to int8 (cached on disk under
 *        $XDG_CACHE_HOME/gptoss or ~/.cache/gptoss and mapped, not copied). */
typedef enum gptoss_precision {
    GPTOSS_PRECISION_EXACT = 0,
    GPTOSS_PRECISION_FAST,
} gptoss_precision;

/* Options for gptoss_model_load; zero-initialise for the defaults. */
typedef struct gptoss_model_options {
    gptoss_kernel_isa kernels;   /* AUTO: best available */
    gptoss_precision precision;  /* EXACT by default */
    const char *cache_dir;       /* NULL: $XDG_CACHE_HOME/gptoss, else ~/.cache/gptoss */
    int show_progress;           /* 1: progress bar on stderr while building a cache */
} gptoss_model_options;

/* Maps the safetensors of a Hugging Face gpt-oss folder (config.json plus
 * model.safetensors or the shards named by model.safetensors.index.json),
 * validates every tensor against config.json, and returns a model whose
 * weights are views into the mapped files. options may be NULL. */
gptoss_status gptoss_model_load(const char *dir, const gptoss_model_options *options,
                                gptoss_model **out_model);

/* Releases a model; contexts created from it must be freed first. NULL is fine. */
void gptoss_model_free(gptoss_model *model);

/* The model's hyper-parameters. Owned by the model. */
const gptoss_config *gptoss_model_config(const gptoss_model *model);

/* Name of the kernel set the model computes with ("scalar", "avx2", ...). */
const char *gptoss_model_kernels(const gptoss_model *model);

/* The precision the model computes in. */
gptoss_precision gptoss_model_precision(const gptoss_model *model);

/* Weight bytes one decoded token reads (the experts of k of E, every dense
 * matrix in the precision's format): the bound on decode speed is
 * read bandwidth / this. */
uint64_t gptoss_model_bytes_per_token(const gptoss_model *model);

/* Total bytes of the mapped weight files. */
uint64_t gptoss_model_file_bytes(const gptoss_model *model);

/* Creates an inference context (KV cache and scratch) holding up to n_ctx
 * tokens. n_ctx = 0 means min(4096, max_position_embeddings). n_ctx above
 * max_position_embeddings is an error. */
gptoss_status gptoss_context_create(gptoss_model *model, uint32_t n_ctx,
                                    gptoss_context **out_context);

void gptoss_context_free(gptoss_context *context);

/* The model a context was created from. */
const gptoss_model *gptoss_context_model(const gptoss_context *context);

/* Capacity in tokens, and the number of tokens already processed. */
uint32_t gptoss_context_capacity(const gptoss_context *context);
uint32_t gptoss_context_position(const gptoss_context *context);

/* Forgets every processed token. */
void gptoss_context_reset(gptoss_context *context);

typedef enum gptoss_logits_mode {
    GPTOSS_LOGITS_NONE = 0, /* compute no logits */
    GPTOSS_LOGITS_LAST,     /* logits of the last token: vocab_size floats */
    GPTOSS_LOGITS_ALL,      /* logits of every token: n_tokens * vocab_size floats */
} gptoss_logits_mode;

/* Appends n_tokens tokens to the context in one batched forward pass and
 * writes the requested logits. Fails without changing the context if a token
 * id is out of range or the tokens do not fit. */
gptoss_status gptoss_context_eval(gptoss_context *context, const uint32_t *tokens,
                                  uint32_t n_tokens, gptoss_logits_mode mode,
                                  float *logits);

/* The tokens the context holds (its first gptoss_context_position() entries).
 * Owned by the context; valid until the next call that changes it. */
const uint32_t *gptoss_context_tokens(const gptoss_context *context);

/* Keeps the first n_keep processed tokens and forgets the rest. Full-attention
 * layers keep every position; sliding-window layers hold a window plus slack,
 * and a snapshot taken at the end of the last prompt: when stepping back
 * further than those allow, the tokens between the nearest usable state and
 * n_keep are processed again. *n_reprocessed (may be NULL) gets how many. */
gptoss_status gptoss_context_truncate(gptoss_context *context, uint32_t n_keep, uint32_t *n_reprocessed);

/* Evaluates a whole prompt, reusing the longest prefix it shares with the
 * tokens the context already holds (multi-turn chats and agent loops re-send
 * the whole conversation), and writes the logits of its last token. Takes a
 * snapshot of the sliding-window layers at the end. *n_processed (may be NULL)
 * gets how many tokens were computed, reprocessing included. */
gptoss_status gptoss_context_eval_prompt(gptoss_context *context, const uint32_t *tokens, uint32_t n_tokens,
                                         float *logits, uint32_t *n_processed);

/* Sampling settings. temperature 0 means greedy (argmax, lowest id on ties).
 * top_k 0, top_p 1 and min_p 0 disable those filters. */
typedef struct gptoss_sampler_params {
    float temperature;
    uint32_t top_k;
    float top_p;
    float min_p;
    uint64_t seed;
} gptoss_sampler_params;

/* Defaults: temperature 1, top_k 0, top_p 1, min_p 0, seed 0. */
gptoss_sampler_params gptoss_sampler_default_params(void);

gptoss_status gptoss_sampler_create(const gptoss_sampler_params *params, uint32_t vocab_size,
                                    gptoss_sampler **out_sampler);
void gptoss_sampler_free(gptoss_sampler *sampler);

/* Draws one token id from logits[vocab_size]. The same seed and logits give
 * the same sequence of draws. */
uint32_t gptoss_sampler_sample(gptoss_sampler *sampler, const float *logits);

#ifdef __cplusplus
}
#endif

#endif /* GPTOSS_H */
