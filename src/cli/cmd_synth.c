/* cmd_synth.c - `gptoss synth`: writes a random checkpoint of any shape in
 * the release layout (see src/synth.h). */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "commands.h"
#include "synth.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: gptoss synth --out DIR [options]\n"
            "\n"
            "Writes a gpt-oss checkpoint with random weights in the Hugging Face release\n"
            "layout: config.json, generation_config.json, model.safetensors or\n"
            "model-XXXXX-of-YYYYY.safetensors + model.safetensors.index.json.\n"
            "An existing checkpoint in DIR is overwritten.\n"
            "\n"
            "options:\n"
            "  --out DIR              output folder (created if missing)\n"
            "  --preset NAME          20b, 120b, tiny (default) or mini-vocab\n"
            "  --hidden N             hidden size (multiple of 32)\n"
            "  --intermediate N       expert intermediate size (multiple of 32)\n"
            "  --head-dim N           attention head size (even)\n"
            "  --heads N              query heads (a multiple of --kv-heads)\n"
            "  --kv-heads N           key/value heads\n"
            "  --layers N             transformer layers (even ones use the sliding window)\n"
            "  --experts N            experts per layer\n"
            "  --experts-per-tok N    experts used per token (<= --experts)\n"
            "  --vocab N              vocabulary size\n"
            "  --window N             sliding window\n"
            "  --shards N             weight files (default 0: one below 2 GB, else ~5 GB each)\n"
            "  --seed S               random seed (default 0); same seed, same bytes\n"
            "  --init fixture|fan-in  dense weight std: the fixtures' 0.1 (default), or\n"
            "                         1/sqrt(fan_in), a well-conditioned model at any width\n"
            "  --tokenizer FILE       copy FILE into DIR as tokenizer.json (and a\n"
            "                         tokenizer_config.json next to it, if present)\n"
            "  --dry-run              write nothing; print the sizes as JSON on stdout\n"
            "  --help                 show this help\n"
            "\n"
            "On success stdout holds only DIR; progress goes to stderr.\n");
}

/* Size options: applied on top of the preset, in any argument order. */
static const struct {
    const char *opt;
    size_t field;
} size_opts[] = {
    {"--hidden", offsetof(gptoss_config, hidden_size)},
    {"--intermediate", offsetof(gptoss_config, intermediate_size)},
    {"--head-dim", offsetof(gptoss_config, head_dim)},
    {"--heads", offsetof(gptoss_config, num_attention_heads)},
    {"--kv-heads", offsetof(gptoss_config, num_key_value_heads)},
    {"--layers", offsetof(gptoss_config, num_hidden_layers)},
    {"--experts", offsetof(gptoss_config, num_local_experts)},
    {"--experts-per-tok", offsetof(gptoss_config, num_experts_per_tok)},
    {"--vocab", offsetof(gptoss_config, vocab_size)},
    {"--window", offsetof(gptoss_config, sliding_window)},
};
enum { N_SIZE_OPTS = sizeof size_opts / sizeof size_opts[0] };

static int parse_u64(const char *opt, const char *text, uint64_t max, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (!*text || *text == '-' || *text == '+' || *end || errno || v > max) {
        fprintf(stderr, "gptoss synth: %s expects an integer in 0..%" PRIu64 ", not '%s'\n", opt,
                max, text);
        return 0;
    }
    *out = v;
    return 1;
}

static int copy_file(const char *src, const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *dst = malloc(n);
    if (!dst) return 0;
    snprintf(dst, n, "%s/%s", dir, name);
    struct stat a, b; /* copying a file onto itself would truncate it */
    if (stat(src, &a) == 0 && stat(dst, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
        free(dst);
        return 1;
    }
    FILE *in = fopen(src, "rb"), *out = in ? fopen(dst, "wb") : NULL;
    int ok = in && out;
    char buf[1 << 16];
    size_t got;
    while (ok && (got = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, got, out) == got;
    if (ok && ferror(in)) ok = 0;
    if (out && fclose(out) != 0) ok = 0;
    if (in) fclose(in);
    if (!ok) fprintf(stderr, "gptoss synth: cannot copy %s to %s: %s\n", src, dst, strerror(errno));
    free(dst);
    return ok;
}

/* Copies the tokenizer file, and tokenizer_config.json from its folder. */
static int copy_tokenizer(const char *file, const char *dir) {
    if (!copy_file(file, dir, "tokenizer.json")) return 0;
    const char *slash = strrchr(file, '/');
    size_t prefix = slash ? (size_t)(slash - file + 1) : 0;
    char *side = malloc(prefix + sizeof "tokenizer_config.json");
    if (!side) return 0;
    memcpy(side, file, prefix);
    strcpy(side + prefix, "tokenizer_config.json");
    FILE *probe = fopen(side, "rb");
    int ok = 1;
    if (probe) {
        fclose(probe);
        ok = copy_file(side, dir, "tokenizer_config.json");
    }
    free(side);
    return ok;
}

/* "13.76 GB" / "51.7 MB" / "4.1 kB" */
static const char *human(uint64_t bytes, char buf[32]) {
    if (bytes >= 1000000000ull) snprintf(buf, 32, "%.2f GB", bytes / 1e9);
    else if (bytes >= 1000000ull) snprintf(buf, 32, "%.1f MB", bytes / 1e6);
    else snprintf(buf, 32, "%.1f kB", bytes / 1e3);
    return buf;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int cmd_synth(int argc, char **argv) {
    const char *out = NULL, *preset = "tiny", *tokenizer = NULL;
    uint64_t seed = 0, shards = 0, sizes_v[N_SIZE_OPTS];
    int fan_in_init = 0;
    int sizes_set[N_SIZE_OPTS] = {0}, dry_run = 0;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *eq = strchr(arg, '=');
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(arg, "--dry-run")) {
            dry_run = 1;
            continue;
        }
        /* Every other option takes a value: "--opt VALUE" or "--opt=VALUE". */
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        char name[32];
        if (strncmp(arg, "--", 2) || name_len >= sizeof name) {
            fprintf(stderr, "gptoss synth: unexpected argument '%s' (see --help)\n", arg);
            return 2;
        }
        memcpy(name, arg, name_len);
        name[name_len] = 0;
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        int known = 0, ok = 1;
        if (!value) {
            fprintf(stderr, "gptoss synth: %s needs a value (see --help)\n", name);
            return 2;
        }
        if ((known = !strcmp(name, "--out"))) out = value;
        else if ((known = !strcmp(name, "--preset"))) preset = value;
        else if ((known = !strcmp(name, "--tokenizer"))) tokenizer = value;
        else if ((known = !strcmp(name, "--seed"))) ok = parse_u64(name, value, UINT64_MAX, &seed);
        else if ((known = !strcmp(name, "--shards"))) ok = parse_u64(name, value, 99999, &shards);
        else if ((known = !strcmp(name, "--init"))) {
            ok = !strcmp(value, "fixture") || !strcmp(value, "fan-in");
            fan_in_init = !strcmp(value, "fan-in");
            if (!ok) fprintf(stderr, "gptoss synth: --init must be fixture or fan-in, got '%s'\n", value);
        }
        for (int k = 0; !known && k < N_SIZE_OPTS; k++)
            if ((known = !strcmp(name, size_opts[k].opt))) {
                ok = parse_u64(name, value, UINT32_MAX, &sizes_v[k]);
                sizes_set[k] = 1;
            }
        if (!known) {
            fprintf(stderr, "gptoss synth: unknown option '%s' (see --help)\n", name);
            return 2;
        }
        if (!ok) return 2;
    }
    if (!out && !dry_run) {
        fprintf(stderr, "gptoss synth: --out DIR is required (see --help)\n");
        return 2;
    }

    gptoss_config cfg;
    if (gptoss_synth_preset(preset, &cfg) != GPTOSS_OK) {
        fprintf(stderr, "gptoss synth: %s\n", gptoss_last_error());
        return 2;
    }
    int status = 2;
    for (int k = 0; k < N_SIZE_OPTS; k++) {
        if (!sizes_set[k]) continue;
        if (!strcmp(size_opts[k].opt, "--layers")) {
            if (gptoss_synth_set_layers(&cfg, (uint32_t)sizes_v[k]) != GPTOSS_OK) goto fail;
        } else {
            *(uint32_t *)((char *)&cfg + size_opts[k].field) = (uint32_t)sizes_v[k];
        }
    }
    gptoss_synth_sizes sz;
    if (gptoss_synth_compute_sizes(&cfg, &sz) != GPTOSS_OK) goto fail;
    uint32_t n_shards = shards ? (uint32_t)shards : gptoss_synth_auto_shards(&cfg);
    if (n_shards > sz.n_tensors) {
        fprintf(stderr, "gptoss synth: --shards %u exceeds the %u tensors\n", n_shards,
                sz.n_tensors);
        goto done;
    }
    if (tokenizer) {
        FILE *probe = fopen(tokenizer, "rb");
        if (!probe) {
            fprintf(stderr, "gptoss synth: cannot read --tokenizer %s: %s\n", tokenizer,
                    strerror(errno));
            goto done;
        }
        fclose(probe);
    }
    if (dry_run) {
        printf("{\"bf16_params\":%" PRIu64 ",\"mxfp4_bytes\":%" PRIu64 ",\"total_bytes\":%" PRIu64
               ",\"n_tensors\":%u,\"shards\":%u}\n",
               sz.bf16_params, sz.mxfp4_bytes, sz.total_tensor_bytes, sz.n_tensors, n_shards);
        status = 0;
        goto done;
    }

    fprintf(stderr,
            "synth: preset %s: hidden %u, intermediate %u, %u heads / %u kv x %u, %u layers, "
            "%u experts (top-%u), vocab %u, window %u\n",
            preset, cfg.hidden_size, cfg.intermediate_size, cfg.num_attention_heads,
            cfg.num_key_value_heads, cfg.head_dim, cfg.num_hidden_layers, cfg.num_local_experts,
            cfg.num_experts_per_tok, cfg.vocab_size, cfg.sliding_window);
    char total_text[32], mxfp4_text[32];
    fprintf(stderr,
            "synth: %s of tensors (%" PRIu64 " BF16 params, %s MXFP4) in %u file%s to %s, "
            "seed %" PRIu64 "\n",
            human(sz.total_tensor_bytes, total_text), sz.bf16_params,
            human(sz.mxfp4_bytes, mxfp4_text), n_shards, n_shards == 1 ? "" : "s", out, seed);
    double start = now_seconds();
    if (gptoss_synth_write_init(&cfg, out, seed, n_shards, 1, fan_in_init) != GPTOSS_OK) {
        fprintf(stderr, "gptoss synth: %s\n", gptoss_last_error());
        status = 1;
        goto done;
    }
    if (tokenizer && !copy_tokenizer(tokenizer, out)) {
        status = 1;
        goto done;
    }
    double secs = now_seconds() - start;
    fprintf(stderr, "synth: done in %.1f s (%.0f MB/s)\n", secs,
            secs > 0 ? sz.total_tensor_bytes / 1e6 / secs : 0.0);
    printf("%s\n", out);
    status = 0;
    goto done;
fail:
    fprintf(stderr, "gptoss synth: %s\n", gptoss_last_error());
done:
    gptoss_synth_release(&cfg);
    return status;
}
