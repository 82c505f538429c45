/* model.c - open a release folder, bind every tensor by name, validate it.
 *
 * Nothing runs until every tensor the config implies has been found with the
 * right dtype and shape, and no unexpected tensor is left over. */
#include "model.h"

#include <cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "error.h"
#include "fileutil.h"

/* Name -> tensor for every tensor of the checkpoint, sorted for bsearch. */
typedef struct tensor_entry {
    const char *name;
    const st_tensor *tensor;
    int used;
} tensor_entry;

typedef struct binder {
    const char *dir;
    tensor_entry *entries;
    size_t n_entries;
} binder;

static int compare_entries(const void *a, const void *b) {
    return strcmp(((const tensor_entry *)a)->name, ((const tensor_entry *)b)->name);
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static gptoss_status add_file(gptoss_model *m, const char *dir, const char *name, st_file **out) {
    for (uint32_t i = 0; i < m->n_files; i++)
        if (!strcmp(base_name(m->files[i]->path), name)) {
            *out = m->files[i];
            return GPTOSS_OK;
        }
    /* Shard names come from a file we do not trust: no paths, only names. */
    if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
        return gptoss_fail(GPTOSS_ERROR_FORMAT, "%s/model.safetensors.index.json: invalid shard name '%s'", dir,
                           name);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    st_file **grown = realloc(m->files, (m->n_files + 1) * sizeof *grown);
    if (!grown) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    m->files = grown;
    gptoss_status s = st_file_open(path, &m->files[m->n_files]);
    if (s != GPTOSS_OK) return s;
    *out = m->files[m->n_files++];
    m->file_bytes += (*out)->size;
    return GPTOSS_OK;
}

/* Sharded layout: the index names each tensor's file; read only those files. */
static gptoss_status open_sharded(gptoss_model *m, const char *dir, const char *index_path, binder *b) {
    char *text = NULL;
    gptoss_status s = gptoss_read_text_file(index_path, 64u << 20, &text);
    if (s != GPTOSS_OK) return s;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *map = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    if (!cJSON_IsObject(map)) {
        cJSON_Delete(root);
        return gptoss_fail(GPTOSS_ERROR_FORMAT, "%s: no \"weight_map\" object", index_path);
    }
    size_t count = 0;
    for (const cJSON *e = map->child; e; e = e->next) count++;
    b->entries = calloc(count ? count : 1, sizeof *b->entries);
    if (!b->entries) s = gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    for (const cJSON *e = map->child; e && s == GPTOSS_OK; e = e->next) {
        if (!cJSON_IsString(e)) {
            s = gptoss_fail(GPTOSS_ERROR_FORMAT, "%s: weight_map entry '%s' is not a file name", index_path,
                            e->string);
            break;
        }
        st_file *file;
        s = add_file(m, dir, e->valuestring, &file);
        if (s != GPTOSS_OK) break;
        const st_tensor *t = st_file_find(file, e->string);
        if (!t) {
            s = gptoss_fail(GPTOSS_ERROR_TENSOR, "%s: tensor '%s' is missing (model.safetensors.index.json puts it there)",
                            e->valuestring, e->string);
            break;
        }
        b->entries[b->n_entries].name = t->name;
        b->entries[b->n_entries].tensor = t;
        b->n_entries++;
    }
    cJSON_Delete(root);
    return s;
}

static gptoss_status open_single(gptoss_model *m, const char *dir, binder *b) {
    st_file *file;
    gptoss_status s = add_file(m, dir, "model.safetensors", &file);
    if (s != GPTOSS_OK) return s;
    b->entries = calloc(file->n_tensors ? file->n_tensors : 1, sizeof *b->entries);
    if (!b->entries) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    for (uint32_t i = 0; i < file->n_tensors; i++) {
        b->entries[i].name = file->tensors[i].name;
        b->entries[i].tensor = &file->tensors[i];
    }
    b->n_entries = file->n_tensors;
    return GPTOSS_OK;
}

static void format_shape(char *buf, size_t size, const uint64_t *dims, uint32_t ndim) {
    size_t used = (size_t)snprintf(buf, size, "[");
    for (uint32_t i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ", %llu" : "%llu", (unsigned long long)dims[i]);
    if (used < size) snprintf(buf + used, size - used, "]");
}

/* Finds name and checks dtype and shape (the trailing arguments: ndim dims). */
static gptoss_status bind(binder *b, const void **out, const char *name, st_dtype dtype, uint32_t ndim, ...) {
    uint64_t dims[ST_MAX_DIMS];
    va_list args;
    va_start(args, ndim);
    for (uint32_t i = 0; i < ndim; i++) dims[i] = va_arg(args, uint64_t);
    va_end(args);
    tensor_entry key = {.name = name};
    tensor_entry *e = bsearch(&key, b->entries, b->n_entries, sizeof key, compare_entries);
    if (!e) return gptoss_fail(GPTOSS_ERROR_TENSOR, "%s: tensor '%s' is missing", b->dir, name);
    const st_tensor *t = e->tensor;
    const char *file = base_name(t->file->path);
    if (t->dtype != dtype)
        return gptoss_fail(GPTOSS_ERROR_TENSOR, "%s: tensor '%s' has dtype %s, expected %s", file, name,
                           st_dtype_name(t->dtype), st_dtype_name(dtype));
    int same = t->ndim == ndim;
    for (uint32_t i = 0; same && i < ndim; i++) same = t->shape[i] == dims[i];
    if (!same) {
        char got[160], want[160];
        format_shape(got, sizeof got, t->shape, t->ndim);
        format_shape(want, sizeof want, dims, ndim);
        return gptoss_fail(GPTOSS_ERROR_TENSOR, "%s: tensor '%s' has shape %s, expected %s from config.json", file,
                           name, got, want);
    }
    e->used = 1;
    *out = t->data;
    return GPTOSS_OK;
}

#define U64(x) ((uint64_t)(x))

static gptoss_status bind_layer(binder *b, const gptoss_config *c, uint32_t n, gptoss_layer *layer) {
    const uint64_t H = c->hidden_size, I = c->intermediate_size, E = c->num_local_experts;
    const uint64_t q_rows = U64(c->num_attention_heads) * c->head_dim;
    const uint64_t kv_rows = U64(c->num_key_value_heads) * c->head_dim;
    char name[256];
    gptoss_status s = GPTOSS_OK;
#define BIND(field, suffix, dtype, ndim, ...)                                                        \
    do {                                                                                             \
        snprintf(name, sizeof name, "model.layers.%u.%s", n, suffix);                                \
        if (s == GPTOSS_OK) s = bind(b, (const void **)&layer->field, name, dtype, ndim, __VA_ARGS__); \
    } while (0)
    BIND(attn_norm, "input_layernorm.weight", ST_BF16, 1, H);
    BIND(wq, "self_attn.q_proj.weight", ST_BF16, 2, q_rows, H);
    BIND(bq, "self_attn.q_proj.bias", ST_BF16, 1, q_rows);
    BIND(wk, "self_attn.k_proj.weight", ST_BF16, 2, kv_rows, H);
    BIND(bk, "self_attn.k_proj.bias", ST_BF16, 1, kv_rows);
    BIND(wv, "self_attn.v_proj.weight", ST_BF16, 2, kv_rows, H);
    BIND(bv, "self_attn.v_proj.bias", ST_BF16, 1, kv_rows);
    BIND(wo, "self_attn.o_proj.weight", ST_BF16, 2, H, q_rows);
    BIND(bo, "self_attn.o_proj.bias", ST_BF16, 1, H);
    BIND(sinks, "self_attn.sinks", ST_BF16, 1, U64(c->num_attention_heads));
    BIND(mlp_norm, "post_attention_layernorm.weight", ST_BF16, 1, H);
    BIND(router_w, "mlp.router.weight", ST_BF16, 2, E, H);
    BIND(router_b, "mlp.router.bias", ST_BF16, 1, E);
    BIND(gate_up_blocks, "mlp.experts.gate_up_proj_blocks", ST_U8, 4, E, 2 * I, H / 32, U64(16));
    BIND(gate_up_scales, "mlp.experts.gate_up_proj_scales", ST_U8, 3, E, 2 * I, H / 32);
    BIND(gate_up_bias, "mlp.experts.gate_up_proj_bias", ST_BF16, 2, E, 2 * I);
    BIND(down_blocks, "mlp.experts.down_proj_blocks", ST_U8, 4, E, H, I / 32, U64(16));
    BIND(down_scales, "mlp.experts.down_proj_scales", ST_U8, 3, E, H, I / 32);
    BIND(down_bias, "mlp.experts.down_proj_bias", ST_BF16, 2, E, H);
#undef BIND
    layer->sliding = c->layer_is_sliding[n];
    return s;
}

static gptoss_status bind_all(gptoss_model *m, binder *b) {
    const gptoss_config *c = &m->config;
    qsort(b->entries, b->n_entries, sizeof *b->entries, compare_entries);
    for (size_t i = 1; i < b->n_entries; i++)
        if (!strcmp(b->entries[i - 1].name, b->entries[i].name))
            return gptoss_fail(GPTOSS_ERROR_FORMAT, "%s: tensor '%s' is stored twice", b->dir, b->entries[i].name);
    m->layers = calloc(c->num_hidden_layers, sizeof *m->layers);
    if (!m->layers) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    const uint64_t V = c->vocab_size, H = c->hidden_size;
    gptoss_status s = bind(b, (const void **)&m->embed, "model.embed_tokens.weight", ST_BF16, 2, V, H);
    if (s == GPTOSS_OK) s = bind(b, (const void **)&m->final_norm, "model.norm.weight", ST_BF16, 1, H);
    if (s == GPTOSS_OK) s = bind(b, (const void **)&m->unembed, "lm_head.weight", ST_BF16, 2, V, H);
    for (uint32_t n = 0; n < c->num_hidden_layers && s == GPTOSS_OK; n++) s = bind_layer(b, c, n, &m->layers[n]);
    for (size_t i = 0; i < b->n_entries && s == GPTOSS_OK; i++)
        if (!b->entries[i].used)
            s = gptoss_fail(GPTOSS_ERROR_TENSOR, "%s: unexpected tensor '%s' (config.json: %u layers)",
                            base_name(b->entries[i].tensor->file->path), b->entries[i].name,
                            c->num_hidden_layers);
    /* Sharded: every tensor of every shard must be the one the index names,
     * so a stray tensor, or a second copy in another shard, is not ignored. */
    for (uint32_t f = 0; f < m->n_files && s == GPTOSS_OK; f++)
        for (uint32_t i = 0; i < m->files[f]->n_tensors && s == GPTOSS_OK; i++) {
            const st_tensor *t = &m->files[f]->tensors[i];
            tensor_entry key = {.name = t->name};
            const tensor_entry *e = bsearch(&key, b->entries, b->n_entries, sizeof key, compare_entries);
            if (!e)
                s = gptoss_fail(GPTOSS_ERROR_TENSOR, "%s: tensor '%s' is not listed in model.safetensors.index.json",
                                base_name(m->files[f]->path), t->name);
            else if (e->tensor != t)
                s = gptoss_fail(GPTOSS_ERROR_TENSOR,
                                "%s: tensor '%s' is stored twice (model.safetensors.index.json puts it in %s)",
                                base_name(m->files[f]->path), t->name, base_name(e->tensor->file->path));
        }
    return s;
}

gptoss_status gptoss_model_load(const char *dir, const gptoss_model_options *options, gptoss_model **out_model) {
    *out_model = NULL;
    if (!dir) return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT, "no model folder given");
    struct stat info;
    if (stat(dir, &info) != 0 || !S_ISDIR(info.st_mode))
        return gptoss_fail(GPTOSS_ERROR_IO, "%s: no such model folder", dir);
    gptoss_model *m = calloc(1, sizeof *m);
    if (!m) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    gptoss_status s = gptoss_kernels_select(options ? options->kernels : GPTOSS_KERNELS_AUTO, &m->kernels);
    if (s == GPTOSS_OK) s = gptoss_config_load(dir, &m->config);
    binder b = {.dir = dir};
    if (s == GPTOSS_OK) {
        char index_path[4096], single_path[4096];
        snprintf(index_path, sizeof index_path, "%s/model.safetensors.index.json", dir);
        snprintf(single_path, sizeof single_path, "%s/model.safetensors", dir);
        if (gptoss_file_exists(index_path)) s = open_sharded(m, dir, index_path, &b);
        else if (gptoss_file_exists(single_path)) s = open_single(m, dir, &b);
        else s = gptoss_fail(GPTOSS_ERROR_IO, "%s: neither model.safetensors.index.json nor model.safetensors", dir);
    }
    if (s == GPTOSS_OK) s = bind_all(m, &b);
    free(b.entries);
    m->precision = options ? options->precision : GPTOSS_PRECISION_EXACT;
    if (s == GPTOSS_OK && m->precision == GPTOSS_PRECISION_FAST) s = gptoss_q8cache_attach(m, options);
    if (s != GPTOSS_OK) {
        gptoss_model_free(m);
        return s;
    }
    *out_model = m;
    return GPTOSS_OK;
}

void gptoss_model_free(gptoss_model *m) {
    if (!m) return;
    gptoss_q8cache_release(&m->q8);
    for (uint32_t i = 0; i < m->n_files; i++) st_file_close(m->files[i]);
    free(m->files);
    free(m->layers);
    gptoss_config_release(&m->config);
    free(m);
}

const gptoss_config *gptoss_model_config(const gptoss_model *m) { return &m->config; }
const char *gptoss_model_kernels(const gptoss_model *m) { return m->kernels->name; }
uint64_t gptoss_model_file_bytes(const gptoss_model *m) { return m->file_bytes; }
gptoss_precision gptoss_model_precision(const gptoss_model *m) { return m->precision; }

/* Bytes of one dense matrix in the format the model reads it in. */
static uint64_t dense_bytes(const gptoss_model *m, const gptoss_q8_matrix *q8, uint64_t rows, uint64_t cols) {
    if (m->precision == GPTOSS_PRECISION_FAST && q8->q) return rows * cols + rows * cols / 32 * 2;
    return rows * cols * 2;
}

uint64_t gptoss_model_bytes_per_token(const gptoss_model *m) {
    const gptoss_config *c = &m->config;
    const uint64_t H = c->hidden_size, I = c->intermediate_size, E = c->num_local_experts;
    const uint64_t q_dim = (uint64_t)c->num_attention_heads * c->head_dim;
    const uint64_t kv_dim = (uint64_t)c->num_key_value_heads * c->head_dim;
    /* One expert: gate_up and down blocks (16 B per 32) + scales (1 B per 32) + biases. */
    const uint64_t expert = (2 * I * H + H * I) / 32 * 17 + (2 * I + H) * 2;
    uint64_t total = 0;
    for (uint32_t l = 0; l < c->num_hidden_layers; l++) {
        const gptoss_layer *layer = &m->layers[l];
        total += dense_bytes(m, &layer->wq8, q_dim, H) + dense_bytes(m, &layer->wk8, kv_dim, H) +
                 dense_bytes(m, &layer->wv8, kv_dim, H) + dense_bytes(m, &layer->wo8, H, q_dim);
        total += (q_dim + 2 * kv_dim + H) * 2 + c->num_attention_heads * 2 + 2 * H * 2; /* biases, sinks, norms */
        total += E * H * 2 + E * 2 + c->num_experts_per_tok * expert;                   /* router + k experts */
    }
    total += dense_bytes(m, &m->unembed8, c->vocab_size, H) + H * 2 + H * 2; /* lm_head, final norm, one embedding row */
    return total;
}
