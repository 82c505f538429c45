/* test_synth.c - the synthetic checkpoint writer: preset sizes, file layout,
 * header contents, value ranges, determinism and argument checks. */
#include <criterion/criterion.h>

#include <cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "synth.h"

/* ---- helpers ---- */

static char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    if (size) *size = (size_t)n;
    return buf;
}

static char *path_in(const char *dir, const char *name) {
    static char buf[4][1024];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static cJSON *read_json(const char *path) {
    char *text = read_file(path, NULL);
    cr_assert_not_null(text, "cannot read %s", path);
    cJSON *j = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(j, "%s is not JSON", path);
    return j;
}

static void remove_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        for (struct dirent *e; d && (e = readdir(d));) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char child[1024];
            snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            remove_tree(child);
        }
        if (d) closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static char tmp_root[256];

static void make_tmp(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/gptoss_synth_test_XXXXXX");
    cr_assert_not_null(mkdtemp(tmp_root));
}

static void drop_tmp(void) { remove_tree(tmp_root); }

/* Files with the same bytes? */
static int same_file(const char *a, const char *b) {
    size_t na, nb;
    char *x = read_file(a, &na), *y = read_file(b, &nb);
    int same = x && y && na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

/* The small custom shape used by several tests. */
static gptoss_config custom_config(void) {
    gptoss_config c;
    cr_assert_eq(gptoss_synth_preset("tiny", &c), GPTOSS_OK);
    c.hidden_size = 96;
    c.intermediate_size = 64;
    c.head_dim = 32;
    c.num_attention_heads = 6;
    c.num_key_value_heads = 2;
    c.num_local_experts = 5;
    c.num_experts_per_tok = 3;
    c.vocab_size = 300;
    c.sliding_window = 4;
    cr_assert_eq(gptoss_synth_set_layers(&c, 3), GPTOSS_OK);
    return c;
}

/* ---- sizes of the release shapes ---- */

static void check_release(const char *name, uint32_t L, uint32_t E, uint64_t bf16, uint32_t n,
                          uint32_t shards) {
    gptoss_config c;
    gptoss_synth_sizes s;
    cr_assert_eq(gptoss_synth_preset(name, &c), GPTOSS_OK);
    cr_assert_eq(gptoss_synth_compute_sizes(&c, &s), GPTOSS_OK);
    uint64_t H = 2880, I = 2880;
    uint64_t mx = (uint64_t)L * E * (2 * I * H / 32 * 17 + H * I / 32 * 17);
    cr_assert_eq(s.bf16_params, bf16, "%s bf16 %llu", name, (unsigned long long)s.bf16_params);
    cr_assert_eq(s.mxfp4_bytes, mx);
    cr_assert_eq(s.total_tensor_bytes, 2 * bf16 + mx);
    cr_assert_eq(s.n_tensors, n);
    cr_assert_eq(gptoss_synth_auto_shards(&c), shards, "%s: %u shards", name,
                 gptoss_synth_auto_shards(&c));
    for (uint32_t i = 0; i < L; i++) cr_assert_eq(c.layer_is_sliding[i], i % 2 == 0);
    gptoss_synth_release(&c);
    cr_assert_null(c.layer_is_sliding);
}

Test(synth, release_sizes) {
    check_release("20b", 24, 32, 1804459584ull, 459, 3);
    check_release("120b", 36, 128, 2167371072ull, 687, 15);
}

Test(synth, mini_vocab_is_small) {
    gptoss_config c;
    gptoss_synth_sizes s;
    cr_assert_eq(gptoss_synth_preset("mini-vocab", &c), GPTOSS_OK);
    cr_assert_eq(c.vocab_size, 201088);
    cr_assert_eq(gptoss_synth_compute_sizes(&c, &s), GPTOSS_OK);
    cr_assert_lt(s.total_tensor_bytes, 60000000ull);
    cr_assert_eq(gptoss_synth_auto_shards(&c), 1);
    gptoss_synth_release(&c);
}

/* ---- the tiny preset reproduces the fixture's layout exactly ---- */

Test(synth, tiny_matches_fixture_layout, .init = make_tmp, .fini = drop_tmp) {
    gptoss_config c;
    cr_assert_eq(gptoss_synth_preset("tiny", &c), GPTOSS_OK);
    cr_assert_eq(gptoss_synth_write(&c, tmp_root, 1237, 0, 0), GPTOSS_OK, "%s",
                 gptoss_last_error());
    gptoss_synth_release(&c);
    const char *fx = GPTOSS_FIXTURES "/tiny";
    size_t na, nb;
    char *a = read_file(path_in(tmp_root, "model.safetensors"), &na);
    char *b = read_file(path_in(fx, "model.safetensors"), &nb);
    cr_assert(a && b);
    cr_assert_eq(na, nb, "file size %zu vs fixture %zu", na, nb);
    uint64_t header = 0;
    memcpy(&header, b, 8);
    cr_assert(!memcmp(a, b, 8 + header), "header differs from the fixture's");
    free(a);
    free(b);
    const char *json_files[] = {"config.json", "generation_config.json"};
    for (int i = 0; i < 2; i++) {
        cJSON *x = read_json(path_in(tmp_root, json_files[i]));
        cJSON *y = read_json(path_in(fx, json_files[i]));
        cr_assert(cJSON_Compare(x, y, 1), "%s differs from the fixture", json_files[i]);
        cJSON_Delete(x);
        cJSON_Delete(y);
    }
}

/* ---- a sharded custom shape, checked tensor by tensor ---- */

static const char *layer_names[19] = {
    "input_layernorm.weight", "self_attn.q_proj.weight", "self_attn.q_proj.bias",
    "self_attn.k_proj.weight", "self_attn.k_proj.bias", "self_attn.v_proj.weight",
    "self_attn.v_proj.bias", "self_attn.o_proj.weight", "self_attn.o_proj.bias",
    "self_attn.sinks", "post_attention_layernorm.weight", "mlp.router.weight", "mlp.router.bias",
    "mlp.experts.gate_up_proj_blocks", "mlp.experts.gate_up_proj_scales",
    "mlp.experts.gate_up_proj_bias", "mlp.experts.down_proj_blocks",
    "mlp.experts.down_proj_scales", "mlp.experts.down_proj_bias"};

/* Expected dtype and shape of a tensor of custom_config() (H 96, I 64, d 32,
 * nq 6, nkv 2, E 5, V 300). Returns the number of dims, 0 if unknown. */
static int expected(const char *name, const char **dtype, uint64_t shape[4]) {
    const uint64_t H = 96, I = 64, Q = 6 * 32, KV = 2 * 32, E = 5, V = 300;
    struct { const char *suffix, *dtype; int nd; uint64_t s[4]; } table[] = {
        {"input_layernorm.weight", "BF16", 1, {H}}, {"q_proj.weight", "BF16", 2, {Q, H}},
        {"q_proj.bias", "BF16", 1, {Q}}, {"k_proj.weight", "BF16", 2, {KV, H}},
        {"k_proj.bias", "BF16", 1, {KV}}, {"v_proj.weight", "BF16", 2, {KV, H}},
        {"v_proj.bias", "BF16", 1, {KV}}, {"o_proj.weight", "BF16", 2, {H, Q}},
        {"o_proj.bias", "BF16", 1, {H}}, {"sinks", "BF16", 1, {6}},
        {"post_attention_layernorm.weight", "BF16", 1, {H}},
        {"router.weight", "BF16", 2, {E, H}}, {"router.bias", "BF16", 1, {E}},
        {"gate_up_proj_blocks", "U8", 4, {E, 2 * I, H / 32, 16}},
        {"gate_up_proj_scales", "U8", 3, {E, 2 * I, H / 32}},
        {"gate_up_proj_bias", "BF16", 2, {E, 2 * I}},
        {"down_proj_blocks", "U8", 4, {E, H, I / 32, 16}},
        {"down_proj_scales", "U8", 3, {E, H, I / 32}}, {"down_proj_bias", "BF16", 2, {E, H}},
        {"model.embed_tokens.weight", "BF16", 2, {V, H}}, {"model.norm.weight", "BF16", 1, {H}},
        {"lm_head.weight", "BF16", 2, {V, H}},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        size_t n = strlen(name), m = strlen(table[i].suffix);
        if (n >= m && !strcmp(name + n - m, table[i].suffix)) {
            *dtype = table[i].dtype;
            memcpy(shape, table[i].s, sizeof table[i].s);
            return table[i].nd;
        }
    }
    return 0;
}

static int name_index(const char *name) {
    if (!strcmp(name, "model.embed_tokens.weight")) return 57;
    if (!strcmp(name, "model.norm.weight")) return 58;
    if (!strcmp(name, "lm_head.weight")) return 59;
    int layer;
    char rest[128];
    if (sscanf(name, "model.layers.%d.%127s", &layer, rest) != 2 || layer < 0 || layer > 2)
        return -1;
    for (int i = 0; i < 19; i++)
        if (!strcmp(rest, layer_names[i])) return layer * 19 + i;
    return -1;
}

/* Parses one shard and checks every entry; marks seen names in count[]. */
static uint64_t check_shard(const char *path, int count[60], cJSON *weight_map, const char *file) {
    size_t size;
    unsigned char *data = (unsigned char *)read_file(path, &size);
    cr_assert_not_null(data, "missing %s", path);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)data[i] << (8 * i);
    cr_assert_eq(hlen % 8, 0);
    cr_assert_leq(8 + hlen, size);
    cJSON *h = cJSON_ParseWithLength((const char *)data + 8, hlen);
    cr_assert_not_null(h, "%s: header is not JSON", path);
    uint64_t offset = 0, bytes = 0;
    for (cJSON *t = h->child; t; t = t->next) {
        if (!strcmp(t->string, "__metadata__")) continue;
        int k = name_index(t->string);
        cr_assert_geq(k, 0, "unexpected tensor %s", t->string);
        count[k]++;
        const char *dtype;
        uint64_t shape[4], n = 1;
        int nd = expected(t->string, &dtype, shape);
        cr_assert_str_eq(cJSON_GetObjectItem(t, "dtype")->valuestring, dtype, "%s", t->string);
        cJSON *sh = cJSON_GetObjectItem(t, "shape"), *off = cJSON_GetObjectItem(t, "data_offsets");
        cr_assert_eq(cJSON_GetArraySize(sh), nd, "%s rank", t->string);
        for (int d = 0; d < nd; d++) {
            cr_assert_eq((uint64_t)cJSON_GetArrayItem(sh, d)->valuedouble, shape[d], "%s", t->string);
            n *= shape[d];
        }
        n *= strcmp(dtype, "U8") ? 2 : 1;
        uint64_t b = (uint64_t)cJSON_GetArrayItem(off, 0)->valuedouble;
        uint64_t e = (uint64_t)cJSON_GetArrayItem(off, 1)->valuedouble;
        cr_assert_eq(b, offset, "%s: offsets not contiguous", t->string);
        cr_assert_eq(e - b, n, "%s: byte count", t->string);
        offset = e;
        bytes += n;
        cJSON *where = cJSON_GetObjectItem(weight_map, t->string);
        cr_assert(where && !strcmp(where->valuestring, file), "%s: weight_map disagrees", t->string);
        const unsigned char *v = data + 8 + hlen + b;
        unsigned lo = strstr(t->string, "gate_up_proj_scales") ? 119 : 115;
        if (strstr(t->string, "_scales"))
            for (uint64_t i = 0; i < n; i++)
                cr_assert(v[i] >= lo && v[i] <= lo + 6, "%s[%llu] = %u", t->string,
                          (unsigned long long)i, v[i]);
    }
    cr_assert_eq(8 + hlen + offset, size, "%s: file size", path);
    cJSON_Delete(h);
    free(data);
    return bytes;
}

Test(synth, three_shards_parse, .init = make_tmp, .fini = drop_tmp) {
    gptoss_config c = custom_config();
    gptoss_synth_sizes s;
    cr_assert_eq(gptoss_synth_compute_sizes(&c, &s), GPTOSS_OK);
    cr_assert_eq(s.n_tensors, 19 * 3 + 3);
    cr_assert_eq(gptoss_synth_write(&c, tmp_root, 7, 3, 0), GPTOSS_OK, "%s", gptoss_last_error());
    gptoss_synth_release(&c);

    cJSON *index = read_json(path_in(tmp_root, "model.safetensors.index.json"));
    cJSON *map = cJSON_GetObjectItem(index, "weight_map");
    cr_assert_eq(cJSON_GetArraySize(map), 60);
    uint64_t total = (uint64_t)cJSON_GetObjectItem(cJSON_GetObjectItem(index, "metadata"),
                                                   "total_size")->valuedouble;
    cr_assert_eq(total, s.total_tensor_bytes);
    int count[60] = {0};
    uint64_t bytes = 0;
    const char *files[3] = {"model-00000-of-00002.safetensors", "model-00001-of-00002.safetensors",
                            "model-00002-of-00002.safetensors"};
    for (int i = 0; i < 3; i++) bytes += check_shard(path_in(tmp_root, files[i]), count, map, files[i]);
    for (int i = 0; i < 60; i++) cr_assert_eq(count[i], 1, "tensor %d seen %d times", i, count[i]);
    cr_assert_eq(bytes, total);
    cr_assert(access(path_in(tmp_root, "model.safetensors"), F_OK) != 0);
    cJSON_Delete(index);

    cJSON *cfg = read_json(path_in(tmp_root, "config.json"));
    cr_assert_eq(cJSON_GetObjectItem(cfg, "hidden_size")->valueint, 96);
    cr_assert_eq(cJSON_GetObjectItem(cfg, "sliding_window")->valueint, 4);
    cJSON *types = cJSON_GetObjectItem(cfg, "layer_types");
    cr_assert_eq(cJSON_GetArraySize(types), 3);
    cr_assert_str_eq(cJSON_GetArrayItem(types, 1)->valuestring, "full_attention");
    cr_assert_eq(cJSON_GetObjectItem(cfg, "eos_token_id")->valueint, 299);
    cJSON_Delete(cfg);
    cJSON *gen = read_json(path_in(tmp_root, "generation_config.json"));
    cr_assert_eq(cJSON_GetObjectItem(gen, "bos_token_id")->valueint, 297);
    cr_assert_eq(cJSON_GetObjectItem(gen, "pad_token_id")->valueint, 298);
    cJSON_Delete(gen);
}

/* Same seed: identical bytes; other seed: different; the shard count does
 * not change tensor values; rewriting with 1 shard removes the old shards. */
Test(synth, deterministic, .init = make_tmp, .fini = drop_tmp) {
    gptoss_config c = custom_config();
    char a[512], b[512], d[512];
    snprintf(a, sizeof a, "%s/a", tmp_root);
    snprintf(b, sizeof b, "%s/b/nested", tmp_root);
    snprintf(d, sizeof d, "%s/d", tmp_root);
    cr_assert_eq(gptoss_synth_write(&c, a, 42, 3, 0), GPTOSS_OK, "%s", gptoss_last_error());
    cr_assert_eq(gptoss_synth_write(&c, b, 42, 3, 0), GPTOSS_OK, "%s", gptoss_last_error());
    cr_assert_eq(gptoss_synth_write(&c, d, 43, 3, 0), GPTOSS_OK, "%s", gptoss_last_error());
    const char *files[] = {"config.json", "generation_config.json", "model.safetensors.index.json",
                           "model-00000-of-00002.safetensors", "model-00001-of-00002.safetensors",
                           "model-00002-of-00002.safetensors"};
    for (int i = 0; i < 6; i++) {
        cr_assert(same_file(path_in(a, files[i]), path_in(b, files[i])), "%s differs", files[i]);
        if (i >= 3) cr_assert(!same_file(path_in(a, files[i]), path_in(d, files[i])),
                              "%s same for another seed", files[i]);
    }
    /* One file: tensors carry the same bytes as in the shards. */
    cr_assert_eq(gptoss_synth_write(&c, b, 42, 1, 0), GPTOSS_OK, "%s", gptoss_last_error());
    cr_assert(access(path_in(b, "model.safetensors.index.json"), F_OK) != 0);
    cr_assert(access(path_in(b, "model-00000-of-00002.safetensors"), F_OK) != 0);
    size_t n1, n3;
    char *one = read_file(path_in(b, "model.safetensors"), &n1);
    char *shard = read_file(path_in(a, files[5]), &n3);
    uint64_t h1 = 0, h3 = 0;
    memcpy(&h1, one, 8);
    memcpy(&h3, shard, 8);
    cJSON *j1 = cJSON_ParseWithLength(one + 8, h1), *j3 = cJSON_ParseWithLength(shard + 8, h3);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j1, "__metadata__"), "format")
                         ->valuestring, "pt");
    cr_assert_null(cJSON_GetObjectItem(j3, "__metadata__"));
    const char *names[] = {"lm_head.weight", "model.layers.2.mlp.experts.down_proj_blocks"};
    for (int i = 0; i < 2; i++) {
        cJSON *o1 = cJSON_GetObjectItem(cJSON_GetObjectItem(j1, names[i]), "data_offsets");
        cJSON *o3 = cJSON_GetObjectItem(cJSON_GetObjectItem(j3, names[i]), "data_offsets");
        cr_assert(o1 && o3, "%s missing", names[i]);
        size_t b1 = (size_t)cJSON_GetArrayItem(o1, 0)->valuedouble;
        size_t b3 = (size_t)cJSON_GetArrayItem(o3, 0)->valuedouble;
        size_t len = (size_t)cJSON_GetArrayItem(o1, 1)->valuedouble - b1;
        cr_assert(!memcmp(one + 8 + h1 + b1, shard + 8 + h3 + b3, len), "%s differs", names[i]);
    }
    cJSON_Delete(j1);
    cJSON_Delete(j3);
    free(one);
    free(shard);
    gptoss_synth_release(&c);
}

Test(synth, real_vocab_special_ids, .init = make_tmp, .fini = drop_tmp) {
    gptoss_config c;
    cr_assert_eq(gptoss_synth_preset("mini-vocab", &c), GPTOSS_OK);
    c.hidden_size = 32; /* halves the embedding files */
    c.intermediate_size = 32;
    cr_assert_eq(gptoss_synth_write(&c, tmp_root, 1, 0, 0), GPTOSS_OK, "%s", gptoss_last_error());
    gptoss_synth_release(&c);
    cJSON *gen = read_json(path_in(tmp_root, "generation_config.json"));
    cr_assert_eq(cJSON_GetObjectItem(gen, "bos_token_id")->valueint, 199998);
    cr_assert_eq(cJSON_GetObjectItem(gen, "pad_token_id")->valueint, 199999);
    cJSON *eos = cJSON_GetObjectItem(gen, "eos_token_id");
    cr_assert_eq(cJSON_GetArraySize(eos), 3);
    int want[3] = {200002, 199999, 200012};
    for (int i = 0; i < 3; i++) cr_assert_eq(cJSON_GetArrayItem(eos, i)->valueint, want[i]);
    cJSON_Delete(gen);
    cJSON *cfg = read_json(path_in(tmp_root, "config.json"));
    cr_assert_eq(cJSON_GetObjectItem(cfg, "eos_token_id")->valueint, 200002);
    cr_assert_eq(cJSON_GetObjectItem(cfg, "vocab_size")->valueint, 201088);
    cJSON_Delete(cfg);
}

/* ---- rejected configurations ---- */

Test(synth, invalid_configs) {
    gptoss_config good = custom_config(), c;
    cr_assert_eq(gptoss_synth_validate(&good), GPTOSS_OK);
#define REJECT(field, value, word)                                                        \
    do {                                                                                  \
        c = good;                                                                         \
        c.field = value;                                                                  \
        cr_assert_eq(gptoss_synth_validate(&c), GPTOSS_ERROR_INVALID_ARGUMENT, #field);   \
        cr_assert(strstr(gptoss_last_error(), word), "message '%s' lacks '%s'",           \
                  gptoss_last_error(), word);                                             \
    } while (0)
    REJECT(hidden_size, 0, "hidden");
    REJECT(hidden_size, 100, "hidden size 100");
    REJECT(intermediate_size, 48, "intermediate size 48");
    REJECT(head_dim, 33, "head dim 33");
    REJECT(num_attention_heads, 7, "kv-heads");
    REJECT(num_key_value_heads, 0, "kv-heads");
    REJECT(num_experts_per_tok, 6, "experts-per-tok 6");
    REJECT(num_local_experts, 0, "experts");
    REJECT(vocab_size, 2, "vocab");
    REJECT(sliding_window, 0, "window");
    REJECT(num_hidden_layers, 0, "layers");
    c = good;
    c.vocab_size = 4000000000u;
    c.hidden_size = 4000000000u;
    cr_assert_eq(gptoss_synth_validate(&c), GPTOSS_ERROR_INVALID_ARGUMENT);
    gptoss_synth_sizes s;
    cr_assert_neq(gptoss_synth_compute_sizes(&c, &s), GPTOSS_OK);
    cr_assert_eq(gptoss_synth_write(&c, "/nonexistent/never", 0, 1, 0), GPTOSS_ERROR_INVALID_ARGUMENT);
    cr_assert_eq(gptoss_synth_write(&good, "", 0, 1, 0), GPTOSS_ERROR_INVALID_ARGUMENT);
    cr_assert_eq(gptoss_synth_set_layers(&c, 0), GPTOSS_ERROR_INVALID_ARGUMENT);
    cr_assert_eq(gptoss_synth_preset("13b", &c), GPTOSS_ERROR_INVALID_ARGUMENT);
    cr_assert(strstr(gptoss_last_error(), "13b"));
    cr_assert_eq(gptoss_synth_write(&good, "/tmp", 0, 61, 0), GPTOSS_ERROR_INVALID_ARGUMENT);
    gptoss_synth_release(&good);
}

Test(synth, unwritable_dir_names_path, .init = make_tmp, .fini = drop_tmp) {
    gptoss_config c = custom_config();
    char file[512], under[600];
    snprintf(file, sizeof file, "%s/plain", tmp_root);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fclose(f);
    snprintf(under, sizeof under, "%s/sub", file);
    cr_assert_eq(gptoss_synth_write(&c, under, 0, 1, 0), GPTOSS_ERROR_IO);
    cr_assert(strstr(gptoss_last_error(), file), "message: %s", gptoss_last_error());
    gptoss_synth_release(&c);
}

/* A full disk: the write fails with a message naming the file, and no
 * truncated weight file is left. RLIMIT_FSIZE stands in for ENOSPC. */
Test(synth, disk_full, .init = make_tmp, .fini = drop_tmp) {
    gptoss_config c = custom_config();
    gptoss_synth_sizes s;
    cr_assert_eq(gptoss_synth_compute_sizes(&c, &s), GPTOSS_OK);
    cr_assert_gt(s.total_tensor_bytes, 200000);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct rlimit lim = {100000, 100000};
        signal(SIGXFSZ, SIG_IGN); /* get EFBIG from write() instead of a signal */
        setrlimit(RLIMIT_FSIZE, &lim);
        gptoss_status st = gptoss_synth_write(&c, tmp_root, 0, 1, 0);
        int named = strstr(gptoss_last_error(), "model.safetensors: write failed") != NULL;
        _exit(st == GPTOSS_ERROR_IO && named ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "write did not fail cleanly");
    cr_assert(access(path_in(tmp_root, "model.safetensors"), F_OK) != 0, "partial file left");
    cr_assert_eq(access(path_in(tmp_root, "config.json"), F_OK), 0);
    /* A JSON file that cannot be written: /dev/full fails at fclose. */
    if (access("/dev/full", W_OK) == 0) {
        cr_assert_eq(unlink(path_in(tmp_root, "config.json")), 0);
        cr_assert_eq(symlink("/dev/full", path_in(tmp_root, "config.json")), 0);
        cr_assert_eq(gptoss_synth_write(&c, tmp_root, 0, 1, 0), GPTOSS_ERROR_IO);
        cr_assert(strstr(gptoss_last_error(), "config.json: write failed"), "message: %s",
                  gptoss_last_error());
    }
    gptoss_synth_release(&c);
}

/* ---- the command line ---- */

/* Runs the gptoss binary with args; returns its exit status and stdout. */
static int run(const char *args, char *out, size_t cap) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s synth %s 2>/dev/null", GPTOSS_BINARY, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(synth, cli, .init = make_tmp, .fini = drop_tmp) {
    char out[4096], args[2048];
    cr_assert_eq(run("--preset 20b --dry-run", out, sizeof out), 0);
    cr_assert_str_eq(out, "{\"bf16_params\":1804459584,\"mxfp4_bytes\":10152345600,"
                          "\"total_bytes\":13761264768,\"n_tensors\":459,\"shards\":3}\n");
    cr_assert_eq(run("--preset 120b --dry-run", out, sizeof out), 0);
    cr_assert(strstr(out, "\"bf16_params\":2167371072") && strstr(out, "\"n_tensors\":687"));
    cr_assert_eq(run("--help", out, sizeof out), 0);
    cr_assert(strstr(out, "--preset"));
    cr_assert_eq(run("--dry-run --hidden 100", out, sizeof out), 2);
    cr_assert_eq(run("--dry-run --heads 5", out, sizeof out), 2);
    cr_assert_eq(run("--dry-run --experts-per-tok 9", out, sizeof out), 2);
    cr_assert_eq(run("--dry-run --layers -1", out, sizeof out), 2);
    cr_assert_eq(run("--dry-run --preset 7b", out, sizeof out), 2);
    cr_assert_eq(run("--dry-run --bogus 1", out, sizeof out), 2);
    cr_assert_eq(run("--preset tiny", out, sizeof out), 2); /* no --out */
    cr_assert_eq(run("--dry-run --layers=2 --shards 2", out, sizeof out), 0);
    cr_assert(strstr(out, "\"n_tensors\":41,\"shards\":2"), "%s", out);

    char tok[600];
    snprintf(tok, sizeof tok, "%s/tok", tmp_root);
    mkdir(tok, 0777);
    FILE *f = fopen(path_in(tok, "tokenizer.json"), "w");
    fputs("{\"model\":{}}", f);
    fclose(f);
    f = fopen(path_in(tok, "tokenizer_config.json"), "w");
    fputs("{}", f);
    fclose(f);
    snprintf(args, sizeof args, "--out %s/m --layers 2 --vocab 64 --tokenizer %s/tokenizer.json",
             tmp_root, tok);
    cr_assert_eq(run(args, out, sizeof out), 0);
    char expect[600];
    snprintf(expect, sizeof expect, "%s/m\n", tmp_root);
    cr_assert_str_eq(out, expect);
    char m[600];
    snprintf(m, sizeof m, "%s/m", tmp_root);
    cr_assert(same_file(path_in(m, "tokenizer.json"), path_in(tok, "tokenizer.json")));
    cr_assert(same_file(path_in(m, "tokenizer_config.json"), path_in(tok, "tokenizer_config.json")));
    cr_assert_eq(access(path_in(m, "model.safetensors"), F_OK), 0);
    /* The tokenizer already in DIR: left intact, not truncated by copying onto itself. */
    snprintf(args, sizeof args, "--out %s --layers 2 --vocab 64 --tokenizer %s/tokenizer.json", m, m);
    cr_assert_eq(run(args, out, sizeof out), 0);
    cr_assert(same_file(path_in(m, "tokenizer.json"), path_in(tok, "tokenizer.json")));
    snprintf(args, sizeof args, "--out %s/m --tokenizer %s/missing.json", tmp_root, tok);
    cr_assert_eq(run(args, out, sizeof out), 2);
}
