/* synth.c - random gpt-oss checkpoints in the release layout: presets,
 * sizes, the tensor list and shard plan, and the JSON files. The tensor data
 * itself is generated and streamed by synth_stream.c. */
#include "synth.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "synth_internal.h"

enum { MAX_LAYERS = 65536 };

static const uint64_t AUTO_SINGLE_LIMIT = 2000000000ull; /* one file below 2 GB */
static const uint64_t AUTO_SHARD_BYTES = 5000000000ull;  /* HF's 5 GB shards */
static const uint64_t MAX_TOTAL_BYTES = 1ull << 53;      /* exact as a JSON double */

typedef struct {
    synth_tensor *t;
    uint32_t n;
    uint64_t total;
} tensor_list;

/* ---- presets and validation ---------------------------------------------------- */

typedef struct {
    const char *name;
    uint32_t hidden, inter, head_dim, heads, kv, layers, experts, top_k, vocab, window;
} preset;

static const preset presets[] = {
    {"20b", 2880, 2880, 64, 64, 8, 24, 32, 4, 201088, 128},
    {"120b", 2880, 2880, 64, 64, 8, 36, 128, 4, 201088, 128},
    {"tiny", 64, 64, 64, 4, 2, 4, 8, 4, 256, 8},
    {"mini-vocab", 64, 64, 64, 4, 2, 2, 4, 2, 201088, 128},
};

gptoss_status gptoss_synth_set_layers(gptoss_config *cfg, uint32_t n_layers) {
    if (n_layers == 0 || n_layers > MAX_LAYERS)
        return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT, "layers must be in 1..%d, not %u",
                           MAX_LAYERS, n_layers);
    uint8_t *sliding = malloc(n_layers);
    if (!sliding) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "layer_types: out of memory");
    for (uint32_t i = 0; i < n_layers; i++) sliding[i] = (i % 2 == 0);
    free(cfg->layer_is_sliding);
    cfg->layer_is_sliding = sliding;
    cfg->num_hidden_layers = n_layers;
    return GPTOSS_OK;
}

gptoss_status gptoss_synth_preset(const char *name, gptoss_config *cfg) {
    const preset *p = NULL;
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (name && !strcmp(name, presets[i].name)) p = &presets[i];
    if (!p)
        return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT,
                           "unknown preset '%s' (20b, 120b, tiny, mini-vocab)", name ? name : "");
    gptoss_config c = {
        .hidden_size = p->hidden, .intermediate_size = p->inter, .head_dim = p->head_dim,
        .num_attention_heads = p->heads, .num_key_value_heads = p->kv,
        .num_local_experts = p->experts, .num_experts_per_tok = p->top_k,
        .vocab_size = p->vocab, .sliding_window = p->window,
        .max_position_embeddings = 131072, .rope_theta = 150000.0f,
        .rope_scaling_factor = 32.0f, .rope_beta_fast = 32.0f, .rope_beta_slow = 1.0f,
        .rope_original_max_position = 4096, .swiglu_limit = 7.0f, .rms_norm_eps = 1e-5f,
    };
    gptoss_status st = gptoss_synth_set_layers(&c, p->layers);
    if (st != GPTOSS_OK) return st;
    *cfg = c;
    return GPTOSS_OK;
}

void gptoss_synth_release(gptoss_config *cfg) {
    if (!cfg) return;
    free(cfg->layer_is_sliding);
    cfg->layer_is_sliding = NULL;
}

/* Checked uint64 arithmetic: a sticky flag instead of wrapping. */
static uint64_t mul_c(uint64_t a, uint64_t b, int *ovf) {
    if (a && b > UINT64_MAX / a) *ovf = 1;
    return *ovf ? 0 : a * b;
}
static uint64_t add_c(uint64_t a, uint64_t b, int *ovf) {
    if (b > UINT64_MAX - a) *ovf = 1;
    return *ovf ? 0 : a + b;
}

/* BF16 elements and U8 bytes of the whole model; 0 on overflow. */
static int count_sizes(const gptoss_config *c, uint64_t *bf16, uint64_t *u8) {
    int o = 0;
    uint64_t H = c->hidden_size, I = c->intermediate_size, E = c->num_local_experts;
    uint64_t q = mul_c(c->num_attention_heads, c->head_dim, &o);
    uint64_t kv = mul_c(c->num_key_value_heads, c->head_dim, &o);
    uint64_t layer = 2 * H + c->num_attention_heads;                       /* norms, sinks */
    layer = add_c(layer, add_c(mul_c(q, H, &o), q, &o), &o);                /* q_proj */
    layer = add_c(layer, mul_c(add_c(mul_c(kv, H, &o), kv, &o), 2, &o), &o); /* k, v */
    layer = add_c(layer, add_c(mul_c(H, q, &o), H, &o), &o);                /* o_proj */
    layer = add_c(layer, mul_c(E, add_c(H, 1, &o), &o), &o);                /* router */
    layer = add_c(layer, mul_c(E, add_c(2 * I, H, &o), &o), &o);            /* expert biases */
    uint64_t experts = add_c(mul_c(2 * I, H / 32, &o), mul_c(H, I / 32, &o), &o);
    uint64_t layer_u8 = mul_c(mul_c(E, experts, &o), 17, &o); /* 16 block bytes + 1 scale */
    uint64_t global = add_c(mul_c(mul_c(c->vocab_size, H, &o), 2, &o), H, &o);
    *bf16 = add_c(mul_c(layer, c->num_hidden_layers, &o), global, &o);
    *u8 = mul_c(layer_u8, c->num_hidden_layers, &o);
    uint64_t total = add_c(mul_c(*bf16, 2, &o), *u8, &o);
    return !o && total <= MAX_TOTAL_BYTES;
}

gptoss_status gptoss_synth_validate(const gptoss_config *c) {
    const struct { const char *name; uint32_t value; } sizes[] = {
        {"hidden", c->hidden_size}, {"intermediate", c->intermediate_size},
        {"head-dim", c->head_dim}, {"heads", c->num_attention_heads},
        {"kv-heads", c->num_key_value_heads}, {"layers", c->num_hidden_layers},
        {"experts", c->num_local_experts}, {"experts-per-tok", c->num_experts_per_tok},
        {"vocab", c->vocab_size}, {"window", c->sliding_window},
        {"max-position-embeddings", c->max_position_embeddings},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].value == 0)
            return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT, "%s must be positive", sizes[i].name);
    if (c->hidden_size % 32)
        return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT,
                           "hidden size %u is not a multiple of 32 (MXFP4 blocks)", c->hidden_size);
    if (c->intermediate_size % 32)
        return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT,
                           "intermediate size %u is not a multiple of 32 (MXFP4 blocks)",
                           c->intermediate_size);
    if (c->head_dim % 2)
        return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT,
                           "head dim %u is odd (RoPE rotates two halves)", c->head_dim);
    if (c->num_attention_heads % c->num_key_value_heads)
        return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT,
                           "heads %u is not divisible by kv-heads %u", c->num_attention_heads,
                           c->num_key_value_heads);
    if (c->num_experts_per_tok > c->num_local_experts)
        return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT,
                           "experts-per-tok %u exceeds experts %u", c->num_experts_per_tok,
                           c->num_local_experts);
    if (c->vocab_size < 3)
        return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT,
                           "vocab %u is below 3 (bos/eos/pad need ids)", c->vocab_size);
    if (c->num_hidden_layers > MAX_LAYERS)
        return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT, "layers %u exceeds %d",
                           c->num_hidden_layers, MAX_LAYERS);
    uint64_t bf16, u8;
    if (!count_sizes(c, &bf16, &u8))
        return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT,
                           "checkpoint too large: tensor bytes exceed 2^53");
    return GPTOSS_OK;
}

gptoss_status gptoss_synth_compute_sizes(const gptoss_config *cfg, gptoss_synth_sizes *sizes) {
    gptoss_status st = gptoss_synth_validate(cfg);
    if (st != GPTOSS_OK) return st;
    count_sizes(cfg, &sizes->bf16_params, &sizes->mxfp4_bytes);
    sizes->total_tensor_bytes = 2 * sizes->bf16_params + sizes->mxfp4_bytes;
    sizes->n_tensors = 19 * cfg->num_hidden_layers + 3;
    return GPTOSS_OK;
}

/* ---- tensor list and shard plan --------------------------------------------------- */

static void add_tensor(tensor_list *l, int is_u8, synth_fill_kind fill, float mean, float std,
                       uint8_t lo, uint32_t ndim, const uint64_t *shape, const char *fmt, int layer) {
    synth_tensor *t = &l->t[l->n];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, fmt, layer);
    t->is_u8 = is_u8;
    t->fill = fill;
    t->mean = mean;
    t->std = std;
    t->scale_lo = lo;
    t->ndim = ndim;
    t->nbytes = is_u8 ? 1 : 2;
    for (uint32_t i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->nbytes *= shape[i];
    }
    t->index = l->n++;
    l->total += t->nbytes;
}

#define DIMS(...) (sizeof((uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t)), (uint64_t[]){__VA_ARGS__}
#define NORMAL(mean, std) 0, SYNTH_FILL_NORMAL, mean, std, 0

/* All tensors in the order the release converter emits them (embeddings,
 * layer by layer, final norm, lm_head); stds from the fixtures' meta.json. */
static gptoss_status build_tensors(const gptoss_config *c, tensor_list *l, int fan_in_init) {
    uint64_t H = c->hidden_size, I = c->intermediate_size, E = c->num_local_experts;
    uint64_t V = c->vocab_size, Q = (uint64_t)c->num_attention_heads * c->head_dim;
    uint64_t KV = (uint64_t)c->num_key_value_heads * c->head_dim;
    l->n = 0;
    l->total = 0;
    /* fan-in init: dense std 1/sqrt(fan_in) keeps activations and attention
     * scores O(1) at any width (a well-conditioned model); otherwise the
     * fixtures' fixed 0.1. */
    const float wH = fan_in_init ? 1.0f / sqrtf((float)H) : 0.1f;
    const float wQ = fan_in_init ? 1.0f / sqrtf((float)Q) : 0.1f;
    l->t = calloc(19 * (size_t)c->num_hidden_layers + 3, sizeof *l->t);
    if (!l->t) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "tensor list: out of memory");
    add_tensor(l, NORMAL(0, 0.1f), DIMS(V, H), "model.embed_tokens.weight", 0);
    for (int n = 0; n < (int)c->num_hidden_layers; n++) {
        add_tensor(l, NORMAL(1, 0.1f), DIMS(H), "model.layers.%d.input_layernorm.weight", n);
        add_tensor(l, NORMAL(0, wH), DIMS(Q, H), "model.layers.%d.self_attn.q_proj.weight", n);
        add_tensor(l, NORMAL(0, 0.05f), DIMS(Q), "model.layers.%d.self_attn.q_proj.bias", n);
        add_tensor(l, NORMAL(0, wH), DIMS(KV, H), "model.layers.%d.self_attn.k_proj.weight", n);
        add_tensor(l, NORMAL(0, 0.05f), DIMS(KV), "model.layers.%d.self_attn.k_proj.bias", n);
        add_tensor(l, NORMAL(0, wH), DIMS(KV, H), "model.layers.%d.self_attn.v_proj.weight", n);
        add_tensor(l, NORMAL(0, 0.05f), DIMS(KV), "model.layers.%d.self_attn.v_proj.bias", n);
        add_tensor(l, NORMAL(0, wQ), DIMS(H, Q), "model.layers.%d.self_attn.o_proj.weight", n);
        add_tensor(l, NORMAL(0, 0.05f), DIMS(H), "model.layers.%d.self_attn.o_proj.bias", n);
        add_tensor(l, NORMAL(0, 1.0f), DIMS(c->num_attention_heads),
                   "model.layers.%d.self_attn.sinks", n);
        add_tensor(l, NORMAL(1, 0.1f), DIMS(H), "model.layers.%d.post_attention_layernorm.weight", n);
        add_tensor(l, NORMAL(0, wH), DIMS(E, H), "model.layers.%d.mlp.router.weight", n);
        add_tensor(l, NORMAL(0, 0.1f), DIMS(E), "model.layers.%d.mlp.router.bias", n);
        add_tensor(l, 1, SYNTH_FILL_BYTES, 0, 0, 0, DIMS(E, 2 * I, H / 32, 16),
                   "model.layers.%d.mlp.experts.gate_up_proj_blocks", n);
        add_tensor(l, 1, SYNTH_FILL_SCALES, 0, 0, 119, DIMS(E, 2 * I, H / 32),
                   "model.layers.%d.mlp.experts.gate_up_proj_scales", n);
        add_tensor(l, NORMAL(0, 0.1f), DIMS(E, 2 * I), "model.layers.%d.mlp.experts.gate_up_proj_bias", n);
        add_tensor(l, 1, SYNTH_FILL_BYTES, 0, 0, 0, DIMS(E, H, I / 32, 16),
                   "model.layers.%d.mlp.experts.down_proj_blocks", n);
        add_tensor(l, 1, SYNTH_FILL_SCALES, 0, 0, 115, DIMS(E, H, I / 32),
                   "model.layers.%d.mlp.experts.down_proj_scales", n);
        add_tensor(l, NORMAL(0, 0.05f), DIMS(E, H), "model.layers.%d.mlp.experts.down_proj_bias", n);
    }
    add_tensor(l, NORMAL(1, 0.1f), DIMS(H), "model.norm.weight", 0);
    add_tensor(l, NORMAL(0, wH), DIMS(V, H), "lm_head.weight", 0);
    return GPTOSS_OK;
}

uint32_t gptoss_synth_auto_shards(const gptoss_config *cfg) {
    uint64_t bf16, u8;
    if (gptoss_synth_validate(cfg) != GPTOSS_OK || !count_sizes(cfg, &bf16, &u8)) return 0;
    if (2 * bf16 + u8 < AUTO_SINGLE_LIMIT) return 1;
    tensor_list l;
    if (build_tensors(cfg, &l, 0) != GPTOSS_OK) return 0;
    uint32_t count = 1;
    uint64_t acc = 0;
    for (uint32_t i = 0; i < l.n; i++) {
        if (acc > 0 && acc + l.t[i].nbytes > AUTO_SHARD_BYTES) {
            count++;
            acc = 0;
        }
        acc += l.t[i].nbytes;
    }
    free(l.t);
    return count;
}

/* Splits the canonical order into n contiguous runs of about total/n bytes,
 * each holding at least one tensor (n <= l->n). */
static void assign_shards(tensor_list *l, uint32_t n) {
    uint32_t i = 0;
    uint64_t remaining = l->total;
    for (uint32_t s = 0; s < n; s++) {
        uint32_t left = n - s;
        uint64_t target = remaining / left, acc = 0;
        do {
            l->t[i].shard = s;
            acc += l->t[i++].nbytes;
        } while (i < l->n && l->n - i > left - 1 &&
                 (left == 1 || acc + l->t[i].nbytes / 2 <= target));
        remaining -= acc;
    }
}

static char *join_path(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* mkdir -p */
static gptoss_status make_dirs(const char *dir) {
    if (!*dir) return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT, "output directory is empty");
    char *path = strdup(dir);
    if (!path) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "%s: out of memory", dir);
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(path, 0777) != 0 && errno != EEXIST) {
                gptoss_status st = gptoss_fail(GPTOSS_ERROR_IO, "%s: cannot create directory: %s",
                                               path, strerror(errno));
                free(path);
                return st;
            }
            *p = c;
            if (!c) break;
        }
    }
    free(path);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return gptoss_fail(GPTOSS_ERROR_IO, "%s: exists and is not a directory", dir);
    return GPTOSS_OK;
}

static int is_weight_file(const char *name) {
    unsigned a, b;
    char tail[32];
    if (!strcmp(name, "model.safetensors") || !strcmp(name, "model.safetensors.index.json"))
        return 1;
    return strlen(name) == 32 && sscanf(name, "model-%5u-of-%5u%31s", &a, &b, tail) == 3 &&
           !strcmp(tail, ".safetensors");
}

/* Removes weight files of an earlier checkpoint so none survives a re-write
 * with a different shard count. */
static gptoss_status remove_old_weights(const char *dir, int verbose) {
    char *config = join_path(dir, "config.json");
    int existed = config && access(config, F_OK) == 0;
    free(config);
    DIR *d = opendir(dir);
    if (!d) return gptoss_fail(GPTOSS_ERROR_IO, "%s: cannot list: %s", dir, strerror(errno));
    int removed = 0;
    gptoss_status st = GPTOSS_OK;
    for (struct dirent *e; st == GPTOSS_OK && (e = readdir(d));) {
        if (!is_weight_file(e->d_name)) continue;
        char *path = join_path(dir, e->d_name);
        if (!path || unlink(path) != 0)
            st = gptoss_fail(GPTOSS_ERROR_IO, "%s/%s: cannot remove old weights: %s", dir,
                             e->d_name, strerror(errno));
        removed++;
        free(path);
    }
    closedir(d);
    if (st == GPTOSS_OK && (existed || removed) && verbose)
        fprintf(stderr, "synth: overwriting the checkpoint in %s (%d old weight file%s removed)\n",
                dir, removed, removed == 1 ? "" : "s");
    return st;
}

static gptoss_status write_text(const char *dir, const char *name, const char *text) {
    char *path = join_path(dir, name);
    if (!path) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "%s: out of memory", name);
    FILE *f = fopen(path, "wb");
    gptoss_status st = GPTOSS_OK;
    if (!f) {
        st = gptoss_fail(GPTOSS_ERROR_IO, "%s: cannot create: %s", path, strerror(errno));
    } else {
        size_t n = strlen(text);
        int ok = fwrite(text, 1, n, f) == n && fputc('\n', f) != EOF;
        int err = errno;
        if (fclose(f) != 0 && ok) ok = 0, err = errno;
        if (!ok) st = gptoss_fail(GPTOSS_ERROR_IO, "%s: write failed: %s", path, strerror(err));
    }
    free(path);
    return st;
}

/* Shortest decimal that reads back as v, with ".0" on integers like Python. */
static cJSON *float_json(float v) {
    char buf[32];
    if (v == floorf(v) && fabsf(v) < 1e15f) {
        snprintf(buf, sizeof buf, "%.1f", (double)v);
    } else {
        for (int p = 1; p <= 9; p++) {
            snprintf(buf, sizeof buf, "%.*g", p, (double)v);
            if (strtof(buf, NULL) == v) break;
        }
    }
    return cJSON_CreateRaw(buf);
}

/* bos/eos/pad: the real o200k_harmony ids when the vocabulary holds them,
 * otherwise the last three ids, as the fixtures do. */
static void special_ids(uint32_t V, uint32_t *bos, uint32_t *eos, uint32_t *pad, int eos_list[3],
                        int *n_eos) {
    int real = V >= 200019;
    *bos = real ? 199998 : V - 3;
    *eos = real ? 200002 : V - 1;
    *pad = real ? 199999 : V - 2;
    eos_list[0] = (int)*eos;
    eos_list[1] = (int)*pad;
    eos_list[2] = 200012;
    *n_eos = real ? 3 : 2;
}

static gptoss_status write_json(const char *dir, const char *name, cJSON *root) {
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "%s: out of memory", name);
    gptoss_status st = write_text(dir, name, text);
    cJSON_free(text);
    return st;
}

/* config.json with every key of the release, in its (alphabetical) order. */
static gptoss_status write_configs(const gptoss_config *c, const char *dir) {
    uint32_t bos, eos, pad, L = c->num_hidden_layers;
    int eos_list[3], n_eos;
    special_ids(c->vocab_size, &bos, &eos, &pad, eos_list, &n_eos);
    cJSON *r = cJSON_CreateObject(), *a;
    const char *arch = "GptOssForCausalLM";
    cJSON_AddItemToObject(r, "architectures", cJSON_CreateStringArray(&arch, 1));
    cJSON_AddTrueToObject(r, "attention_bias");
    cJSON_AddItemToObject(r, "attention_dropout", cJSON_CreateRaw("0.0"));
    cJSON_AddNumberToObject(r, "eos_token_id", eos);
    cJSON_AddNumberToObject(r, "experts_per_token", c->num_experts_per_tok);
    cJSON_AddNumberToObject(r, "head_dim", c->head_dim);
    cJSON_AddStringToObject(r, "hidden_act", "silu");
    cJSON_AddNumberToObject(r, "hidden_size", c->hidden_size);
    cJSON_AddNumberToObject(r, "initial_context_length", c->rope_original_max_position);
    cJSON_AddItemToObject(r, "initializer_range", cJSON_CreateRaw("0.02"));
    cJSON_AddNumberToObject(r, "intermediate_size", c->intermediate_size);
    cJSON_AddItemToObject(r, "layer_types", a = cJSON_CreateArray());
    for (uint32_t i = 0; i < L; i++) {
        int sliding = c->layer_is_sliding ? c->layer_is_sliding[i] : i % 2 == 0;
        cJSON_AddItemToArray(a, cJSON_CreateString(sliding ? "sliding_attention" : "full_attention"));
    }
    cJSON_AddNumberToObject(r, "max_position_embeddings", c->max_position_embeddings);
    cJSON_AddStringToObject(r, "model_type", "gpt_oss");
    cJSON_AddNumberToObject(r, "num_attention_heads", c->num_attention_heads);
    cJSON_AddNumberToObject(r, "num_experts_per_tok", c->num_experts_per_tok);
    cJSON_AddNumberToObject(r, "num_hidden_layers", L);
    cJSON_AddNumberToObject(r, "num_key_value_heads", c->num_key_value_heads);
    cJSON_AddNumberToObject(r, "num_local_experts", c->num_local_experts);
    cJSON_AddFalseToObject(r, "output_router_logits");
    cJSON_AddNumberToObject(r, "pad_token_id", pad);
    cJSON *q = cJSON_AddObjectToObject(r, "quantization_config");
    const char *skip[] = {"model.layers.*.self_attn", "model.layers.*.mlp.router",
                          "model.embed_tokens", "lm_head"};
    cJSON_AddItemToObject(q, "modules_to_not_convert", cJSON_CreateStringArray(skip, 4));
    cJSON_AddStringToObject(q, "quant_method", "mxfp4");
    cJSON_AddItemToObject(r, "rms_norm_eps", float_json(c->rms_norm_eps));
    cJSON *rs = cJSON_AddObjectToObject(r, "rope_scaling");
    cJSON_AddItemToObject(rs, "beta_fast", float_json(c->rope_beta_fast));
    cJSON_AddItemToObject(rs, "beta_slow", float_json(c->rope_beta_slow));
    cJSON_AddItemToObject(rs, "factor", float_json(c->rope_scaling_factor));
    cJSON_AddNumberToObject(rs, "original_max_position_embeddings", c->rope_original_max_position);
    cJSON_AddStringToObject(rs, "rope_type", "yarn");
    cJSON_AddFalseToObject(rs, "truncate");
    if (c->rope_theta == floorf(c->rope_theta)) /* the release writes an integer */
        cJSON_AddNumberToObject(r, "rope_theta", c->rope_theta);
    else
        cJSON_AddItemToObject(r, "rope_theta", float_json(c->rope_theta));
    cJSON_AddItemToObject(r, "router_aux_loss_coef", cJSON_CreateRaw("0.9"));
    cJSON_AddNumberToObject(r, "sliding_window", c->sliding_window);
    cJSON_AddItemToObject(r, "swiglu_limit", float_json(c->swiglu_limit));
    cJSON_AddFalseToObject(r, "tie_word_embeddings");
    cJSON_AddStringToObject(r, "transformers_version", "4.55.0.dev0");
    cJSON_AddTrueToObject(r, "use_cache");
    cJSON_AddNumberToObject(r, "vocab_size", c->vocab_size);
    gptoss_status st = write_json(dir, "config.json", r);
    if (st != GPTOSS_OK) return st;

    cJSON *g = cJSON_CreateObject();
    cJSON_AddNumberToObject(g, "bos_token_id", bos);
    cJSON_AddTrueToObject(g, "do_sample");
    cJSON_AddItemToObject(g, "eos_token_id", cJSON_CreateIntArray(eos_list, n_eos));
    cJSON_AddNumberToObject(g, "pad_token_id", pad);
    cJSON_AddStringToObject(g, "transformers_version", "4.55.0.dev0");
    return write_json(dir, "generation_config.json", g);
}

static gptoss_status write_index(const tensor_list *l, const char *dir, char **names) {
    cJSON *r = cJSON_CreateObject();
    cJSON *m = cJSON_AddObjectToObject(r, "metadata");
    cJSON_AddNumberToObject(m, "total_size", (double)l->total);
    cJSON *w = cJSON_AddObjectToObject(r, "weight_map");
    for (uint32_t i = 0; i < l->n; i++)
        cJSON_AddStringToObject(w, l->t[i].name, names[l->t[i].shard]);
    return write_json(dir, "model.safetensors.index.json", r);
}

gptoss_status gptoss_synth_write(const gptoss_config *cfg, const char *out_dir, uint64_t seed,
                                 uint32_t n_shards, int show_progress) {
    return gptoss_synth_write_init(cfg, out_dir, seed, n_shards, show_progress, 0);
}

gptoss_status gptoss_synth_write_init(const gptoss_config *cfg, const char *out_dir, uint64_t seed,
                                      uint32_t n_shards, int show_progress, int fan_in_init) {
    gptoss_status st = gptoss_synth_validate(cfg);
    if (st != GPTOSS_OK) return st;
    if (n_shards == 0) n_shards = gptoss_synth_auto_shards(cfg);
    uint32_t n_tensors = 19 * cfg->num_hidden_layers + 3;
    if (n_shards > n_tensors || n_shards > 99999)
        return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT,
                           "%u shards requested but the checkpoint has only %u tensors", n_shards,
                           n_tensors);
    if ((st = make_dirs(out_dir)) != GPTOSS_OK) return st;
    if ((st = remove_old_weights(out_dir, show_progress)) != GPTOSS_OK) return st;
    if ((st = write_configs(cfg, out_dir)) != GPTOSS_OK) return st;
    tensor_list l;
    if ((st = build_tensors(cfg, &l, fan_in_init)) != GPTOSS_OK) return st;
    assign_shards(&l, n_shards);

    synth_writer *w = NULL;
    synth_tensor **group = malloc(l.n * sizeof *group);
    char **names = calloc(n_shards, sizeof *names);
    if (!group || !names) st = gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "%s: out of memory", out_dir);
    if (st == GPTOSS_OK) st = synth_writer_create(seed, l.total, show_progress, &w);
    for (uint32_t s = 0, first = 0; st == GPTOSS_OK && s < n_shards; s++) {
        char name[64];
        if (n_shards == 1)
            snprintf(name, sizeof name, "model.safetensors");
        else
            snprintf(name, sizeof name, "model-%05u-of-%05u.safetensors", s, n_shards - 1);
        uint32_t count = 0; /* shards are contiguous runs of the canonical order */
        while (first + count < l.n && l.t[first + count].shard == s) {
            group[count] = &l.t[first + count];
            count++;
        }
        first += count;
        names[s] = strdup(name);
        char *path = join_path(out_dir, name);
        if (!names[s] || !path)
            st = gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "%s: out of memory", out_dir);
        else
            st = synth_writer_file(w, group, count, path, n_shards == 1);
        free(path);
    }
    synth_writer_free(w);
    if (st == GPTOSS_OK && n_shards > 1) st = write_index(&l, out_dir, names);
    for (uint32_t s = 0; names && s < n_shards; s++) free(names[s]);
    free(names);
    free(group);
    free(l.t);
    return st;
}
