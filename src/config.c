/* config.c - read config.json into gptoss_config.
 *
 * The size keys are required; the rest default to the values the gpt-oss
 * release ships, so configs written by other tools still load. */
#include "config.h"

#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fileutil.h"

typedef struct size_key {
    const char *name;
    size_t offset;
} size_key;

#define SIZE_KEY(field) {#field, offsetof(gptoss_config, field)}
static const size_key required_keys[] = {
    SIZE_KEY(hidden_size),         SIZE_KEY(intermediate_size),   SIZE_KEY(num_hidden_layers),
    SIZE_KEY(num_attention_heads), SIZE_KEY(num_key_value_heads), SIZE_KEY(num_local_experts),
    SIZE_KEY(num_experts_per_tok), SIZE_KEY(vocab_size),          SIZE_KEY(sliding_window),
};

/* Reads a positive integer that fits in 32 bits. */
static gptoss_status read_size(const cJSON *root, const char *key, const char *path, int required,
                               uint32_t *out) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!item || cJSON_IsNull(item)) {
        if (required) return gptoss_fail(GPTOSS_ERROR_CONFIG, "%s: missing required key '%s'", path, key);
        return GPTOSS_OK;
    }
    double v = cJSON_IsNumber(item) ? item->valuedouble : -1.0;
    if (!(v >= 1.0 && v <= 2147483647.0) || v != (double)(uint32_t)v)
        return gptoss_fail(GPTOSS_ERROR_CONFIG, "%s: '%s' must be a positive integer", path, key);
    *out = (uint32_t)v;
    return GPTOSS_OK;
}

static gptoss_status read_float(const cJSON *obj, const char *key, const char *path, float *out) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item || cJSON_IsNull(item)) return GPTOSS_OK;
    if (!cJSON_IsNumber(item) || !(item->valuedouble > 0.0 && item->valuedouble < 1e30))
        return gptoss_fail(GPTOSS_ERROR_CONFIG, "%s: '%s' must be a positive number", path, key);
    *out = (float)item->valuedouble;
    return GPTOSS_OK;
}

static gptoss_status read_rope_scaling(const cJSON *root, const char *path, gptoss_config *c) {
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling");
    if (!rs || cJSON_IsNull(rs)) return GPTOSS_OK; /* keep the release's YaRN */
    if (!cJSON_IsObject(rs)) return gptoss_fail(GPTOSS_ERROR_CONFIG, "%s: 'rope_scaling' must be an object", path);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
    if (!type) type = cJSON_GetObjectItemCaseSensitive(rs, "type");
    if (cJSON_IsString(type) && strcmp(type->valuestring, "yarn") != 0)
        return gptoss_fail(GPTOSS_ERROR_UNSUPPORTED, "%s: rope_scaling type '%s' is not supported (only yarn)",
                           path, type->valuestring);
    gptoss_status s;
    if ((s = read_float(rs, "factor", path, &c->rope_scaling_factor)) != GPTOSS_OK) return s;
    if ((s = read_float(rs, "beta_fast", path, &c->rope_beta_fast)) != GPTOSS_OK) return s;
    if ((s = read_float(rs, "beta_slow", path, &c->rope_beta_slow)) != GPTOSS_OK) return s;
    if ((s = read_size(rs, "original_max_position_embeddings", path, 0, &c->rope_original_max_position)))
        return s;
    const cJSON *truncate = cJSON_GetObjectItemCaseSensitive(rs, "truncate");
    if (truncate && !cJSON_IsNull(truncate)) {
        if (!cJSON_IsBool(truncate))
            return gptoss_fail(GPTOSS_ERROR_CONFIG, "%s: 'rope_scaling.truncate' must be true or false", path);
        c->rope_truncate = cJSON_IsTrue(truncate);
    }
    if (c->rope_scaling_factor < 1.0f)
        return gptoss_fail(GPTOSS_ERROR_CONFIG, "%s: rope_scaling.factor %g is below 1", path,
                           c->rope_scaling_factor);
    if (c->rope_scaling_factor > 1.0f && !(c->rope_beta_fast > c->rope_beta_slow))
        return gptoss_fail(GPTOSS_ERROR_CONFIG, "%s: rope_scaling.beta_fast must exceed beta_slow", path);
    return GPTOSS_OK;
}

static gptoss_status read_layer_types(const cJSON *root, const char *path, gptoss_config *c) {
    c->layer_is_sliding = calloc(c->num_hidden_layers, 1);
    if (!c->layer_is_sliding) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(root, "layer_types");
    if (!types || cJSON_IsNull(types)) {
        for (uint32_t i = 0; i < c->num_hidden_layers; i++) c->layer_is_sliding[i] = (i % 2 == 0);
        return GPTOSS_OK;
    }
    if (!cJSON_IsArray(types) || cJSON_GetArraySize(types) != (int)c->num_hidden_layers)
        return gptoss_fail(GPTOSS_ERROR_CONFIG, "%s: 'layer_types' must list %u layer types (num_hidden_layers)",
                           path, c->num_hidden_layers);
    uint32_t i = 0;
    for (const cJSON *t = types->child; t; t = t->next, i++) {
        if (cJSON_IsString(t) && !strcmp(t->valuestring, "sliding_attention")) c->layer_is_sliding[i] = 1;
        else if (cJSON_IsString(t) && !strcmp(t->valuestring, "full_attention")) c->layer_is_sliding[i] = 0;
        else
            return gptoss_fail(GPTOSS_ERROR_CONFIG,
                               "%s: layer_types[%u] must be \"sliding_attention\" or \"full_attention\"", path, i);
    }
    return GPTOSS_OK;
}

static gptoss_status check_consistency(const gptoss_config *c, const char *path) {
    if (c->num_attention_heads % c->num_key_value_heads)
        return gptoss_fail(GPTOSS_ERROR_CONFIG,
                           "%s: num_attention_heads %u is not a multiple of num_key_value_heads %u", path,
                           c->num_attention_heads, c->num_key_value_heads);
    if (c->hidden_size % 32)
        return gptoss_fail(GPTOSS_ERROR_CONFIG, "%s: hidden_size %u is not a multiple of 32 (MXFP4 blocks)", path,
                           c->hidden_size);
    if (c->intermediate_size % 32)
        return gptoss_fail(GPTOSS_ERROR_CONFIG, "%s: intermediate_size %u is not a multiple of 32 (MXFP4 blocks)",
                           path, c->intermediate_size);
    if (c->head_dim % 2)
        return gptoss_fail(GPTOSS_ERROR_CONFIG, "%s: head_dim %u must be even (RoPE rotates halves)", path,
                           c->head_dim);
    if (c->num_experts_per_tok > c->num_local_experts)
        return gptoss_fail(GPTOSS_ERROR_CONFIG, "%s: num_experts_per_tok %u exceeds num_local_experts %u", path,
                           c->num_experts_per_tok, c->num_local_experts);
    /* Bound the products the engine allocates, so a hostile config fails here. */
    if ((uint64_t)c->num_attention_heads * c->head_dim > (1u << 20) || c->hidden_size > (1u << 20) ||
        c->intermediate_size > (1u << 20) || c->num_local_experts > 65536 || c->num_hidden_layers > 4096)
        return gptoss_fail(GPTOSS_ERROR_CONFIG, "%s: sizes are implausibly large", path);
    return GPTOSS_OK;
}

gptoss_status gptoss_config_parse(const char *json_text, const char *path, gptoss_config *c) {
    memset(c, 0, sizeof *c);
    c->head_dim = 64;
    c->max_position_embeddings = 131072;
    c->rope_theta = 150000.0f;
    c->rope_scaling_factor = 32.0f;
    c->rope_beta_fast = 32.0f;
    c->rope_beta_slow = 1.0f;
    c->rope_original_max_position = 4096;
    c->swiglu_limit = 7.0f;
    c->rms_norm_eps = 1e-5f;

    cJSON *root = cJSON_Parse(json_text);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return gptoss_fail(GPTOSS_ERROR_CONFIG, "%s: not a JSON object", path);
    }
    gptoss_status s = GPTOSS_OK;
    for (size_t i = 0; i < sizeof required_keys / sizeof required_keys[0] && s == GPTOSS_OK; i++)
        s = read_size(root, required_keys[i].name, path, 1, (uint32_t *)((char *)c + required_keys[i].offset));
    if (s == GPTOSS_OK) s = read_size(root, "head_dim", path, 0, &c->head_dim);
    if (s == GPTOSS_OK) s = read_size(root, "max_position_embeddings", path, 0, &c->max_position_embeddings);
    if (s == GPTOSS_OK) s = read_float(root, "rope_theta", path, &c->rope_theta);
    if (s == GPTOSS_OK) s = read_float(root, "swiglu_limit", path, &c->swiglu_limit);
    if (s == GPTOSS_OK) s = read_float(root, "rms_norm_eps", path, &c->rms_norm_eps);
    if (s == GPTOSS_OK) s = read_rope_scaling(root, path, c);
    if (s == GPTOSS_OK) s = check_consistency(c, path);
    if (s == GPTOSS_OK) s = read_layer_types(root, path, c);
    cJSON_Delete(root);
    if (s != GPTOSS_OK) gptoss_config_release(c);
    return s;
}

gptoss_status gptoss_config_load(const char *dir, gptoss_config *config) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *text = NULL;
    gptoss_status s = gptoss_read_text_file(path, 1u << 24, &text);
    if (s != GPTOSS_OK) return s;
    s = gptoss_config_parse(text, path, config);
    free(text);
    return s;
}

void gptoss_config_release(gptoss_config *config) {
    free(config->layer_is_sliding);
    config->layer_is_sliding = NULL;
}
