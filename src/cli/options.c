/* options.c - option parsing and model set-up shared by the subcommands. */
#include "options.h"

#include "kernels.h"
#include "progress.h"
#include "tokenizer_buffer.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

const char sampling_options_help[] =
    "  --temperature T    0 = greedy\n"
    "  --top-k K          keep the K most likely tokens (0 = off)\n"
    "  --top-p P          keep the smallest set with probability >= P (1 = off)\n"
    "  --min-p M          drop tokens below M x the best token's probability (0 = off)\n"
    "  --seed S           random seed\n";

const char run_options_help[] =
    "  --model DIR        Hugging Face gpt-oss folder (config.json, *.safetensors)\n"
    "  --threads N        worker threads (default: all cores)\n"
    "  --ctx N            context length in tokens (default: min(4096, max_position_embeddings))\n"
    "  --precision P      exact (f32 activations, matches the reference) or fast (int8)\n"
    "  --kernels ISA      auto, scalar, avx2, avx512 or neon (default: $GPTOSS_KERNELS, else auto)\n"
    "  --verbose          more detail on stderr\n";

run_options run_options_default(gptoss_precision precision) {
    run_options o = {0};
    o.precision = precision;
    return o;
}

int resolve_kernels(run_options *o) {
    if (o->kernels_given) return 1;
    const char *env = getenv("GPTOSS_KERNELS");
    if (!env || !*env) return 1;
    if (!gptoss_kernel_isa_parse(env, &o->kernels)) {
        fprintf(stderr, "error: GPTOSS_KERNELS='%s' is not one of auto, scalar, avx2, avx512, neon\n", env);
        return 0;
    }
    return 1;
}

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t peak_rss_bytes(void) {
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
#ifdef __APPLE__
    return (uint64_t)usage.ru_maxrss; /* bytes on macOS */
#else
    return (uint64_t)usage.ru_maxrss * 1024; /* KiB on Linux */
#endif
}

int parse_u64(const char *text, uint64_t *out) {
    if (!text || !*text || *text == '-' || *text == '+') return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end) return 0;
    *out = v;
    return 1;
}

int parse_u32(const char *text, uint32_t *out) {
    uint64_t v;
    if (!parse_u64(text, &v) || v > UINT32_MAX) return 0;
    *out = (uint32_t)v;
    return 1;
}

int parse_float(const char *text, float *out) {
    if (!text || !*text) return 0;
    char *end;
    errno = 0;
    float v = strtof(text, &end);
    if (errno || *end || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

int parse_token_list(const char *text, uint32_t **out_ids, uint32_t *out_count) {
    *out_ids = NULL;
    *out_count = 0;
    size_t capacity = 1;
    for (const char *p = text; *p; p++) capacity += *p == ',';
    uint32_t *ids = malloc(capacity * sizeof *ids);
    char *copy = strdup(text);
    if (!ids || !copy) {
        free(ids);
        free(copy);
        fprintf(stderr, "error: out of memory\n");
        return 0;
    }
    uint32_t n = 0;
    char *cursor = copy;
    for (;;) {
        char *comma = strchr(cursor, ',');
        if (comma) *comma = '\0';
        if (!parse_u32(cursor, &ids[n])) {
            fprintf(stderr, "error: --tokens: '%s' is not a token id (expected comma-separated integers)\n", cursor);
            free(ids);
            free(copy);
            return 0;
        }
        n++;
        if (!comma) break;
        cursor = comma + 1;
    }
    free(copy);
    *out_ids = ids;
    *out_count = n;
    return 1;
}

const char *option_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        fprintf(stderr, "error: %s needs a value\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int parse_run_option(int argc, char **argv, int *i, run_options *o) {
    const char *arg = argv[*i];
    if (!strcmp(arg, "--verbose") || !strcmp(arg, "-v")) {
        o->verbose = 1;
        return 1;
    }
    if (strcmp(arg, "--model") && strcmp(arg, "-m") && strcmp(arg, "--threads") && strcmp(arg, "-t") &&
        strcmp(arg, "--ctx") && strcmp(arg, "--precision") && strcmp(arg, "--kernels"))
        return 0;
    const char *value = option_value(argc, argv, i);
    if (!value) return -1;
    if (!strcmp(arg, "--precision")) {
        if (!strcmp(value, "exact")) o->precision = GPTOSS_PRECISION_EXACT;
        else if (!strcmp(value, "fast")) o->precision = GPTOSS_PRECISION_FAST;
        else {
            fprintf(stderr, "error: --precision must be exact or fast, got '%s'\n", value);
            return -1;
        }
    } else if (!strcmp(arg, "--kernels")) {
        if (!gptoss_kernel_isa_parse(value, &o->kernels)) {
            fprintf(stderr, "error: --kernels must be auto, scalar, avx2, avx512 or neon, got '%s'\n", value);
            return -1;
        }
        o->kernels_given = 1;
    } else if (!strcmp(arg, "--model") || !strcmp(arg, "-m")) {
        o->model_dir = value;
    } else if (!strcmp(arg, "--threads") || !strcmp(arg, "-t")) {
        uint32_t n;
        if (!parse_u32(value, &n) || n == 0 || n > 1024) {
            fprintf(stderr, "error: --threads must be between 1 and 1024, got '%s'\n", value);
            return -1;
        }
        o->threads = (int)n;
    } else {
        if (!parse_u32(value, &o->ctx) || o->ctx == 0) {
            fprintf(stderr, "error: --ctx must be a positive integer, got '%s'\n", value);
            return -1;
        }
    }
    return 1;
}

int open_model(const char *command, const run_options *o, gptoss_model **out_model, gptoss_context **out_context) {
    *out_model = NULL;
    *out_context = NULL;
    if (!o->model_dir) {
        fprintf(stderr, "gptoss %s: --model DIR is required\n", command);
        return 0;
    }
    if (o->threads > 0) omp_set_num_threads(o->threads);
    run_options resolved = *o;
    if (!resolve_kernels(&resolved)) return 0;
    const double start = now_seconds();
    gptoss_model_options model_options = {
        .kernels = resolved.kernels, .precision = o->precision, .show_progress = 1};
    gptoss_status s = gptoss_model_load(o->model_dir, &model_options, out_model);
    if (s != GPTOSS_OK) {
        fprintf(stderr, "gptoss %s: %s\n", command, gptoss_last_error());
        return 0;
    }
    s = gptoss_context_create(*out_model, o->ctx, out_context);
    if (s != GPTOSS_OK) {
        fprintf(stderr, "gptoss %s: %s\n", command, gptoss_last_error());
        gptoss_model_free(*out_model);
        *out_model = NULL;
        return 0;
    }
    const gptoss_config *c = gptoss_model_config(*out_model);
    fprintf(stderr,
            "model: %s (%u layers, hidden %u, %u experts top-%u, vocab %u, %.2f GB mapped)\n"
            "kernels: %s, precision: %s, threads: %d, context: %u tokens; loaded in %.3f s\n",
            o->model_dir, c->num_hidden_layers, c->hidden_size, c->num_local_experts, c->num_experts_per_tok,
            c->vocab_size, (double)gptoss_model_file_bytes(*out_model) / 1e9, gptoss_model_kernels(*out_model),
            o->precision == GPTOSS_PRECISION_FAST ? "fast" : "exact", omp_get_max_threads(),
            gptoss_context_capacity(*out_context), now_seconds() - start);
    if (o->verbose)
        fprintf(stderr, "verbose: kernels requested %s%s; weights read per decoded token %.3f GB\n",
                resolved.kernels == GPTOSS_KERNELS_AUTO ? "auto" : gptoss_kernel_isa_name(resolved.kernels),
                o->kernels_given ? " (--kernels)" : getenv("GPTOSS_KERNELS") ? " ($GPTOSS_KERNELS)" : "",
                (double)gptoss_model_bytes_per_token(*out_model) / 1e9);
    return 1;
}

gptoss_status eval_prompt(gptoss_context *ctx, const uint32_t *tokens, uint32_t n_tokens, float *logits) {
    enum { CHUNK = 512, SHOW_FROM = 1024 }; /* one forward batch per step */
    if (n_tokens < SHOW_FROM) return gptoss_context_eval(ctx, tokens, n_tokens, GPTOSS_LOGITS_LAST, logits);
    progress bar;
    progress_start_units(&bar, "prefill", "tokens", n_tokens, 1);
    gptoss_status s = GPTOSS_OK;
    for (uint32_t done = 0; done < n_tokens && s == GPTOSS_OK;) {
        const uint32_t n = n_tokens - done < CHUNK ? n_tokens - done : CHUNK;
        s = gptoss_context_eval(ctx, tokens + done, n, done + n == n_tokens ? GPTOSS_LOGITS_LAST : GPTOSS_LOGITS_NONE,
                                logits);
        done += n;
        progress_update(&bar, done);
    }
    progress_finish(&bar);
    return s;
}

/* Parses one sampling option; 1 = consumed, 0 = not a sampling option, -1 = bad value. */
int parse_sampling_option(int argc, char **argv, int *i, gptoss_sampler_params *p) {
    const char *arg = argv[*i];
    int is_float = !strcmp(arg, "--temperature") || !strcmp(arg, "--top-p") || !strcmp(arg, "--min-p");
    int is_int = !strcmp(arg, "--top-k") || !strcmp(arg, "--seed");
    if (!is_float && !is_int) return 0;
    const char *value = option_value(argc, argv, i);
    if (!value) return -1;
    int ok = 1;
    if (!strcmp(arg, "--temperature")) ok = parse_float(value, &p->temperature);
    else if (!strcmp(arg, "--top-p")) ok = parse_float(value, &p->top_p);
    else if (!strcmp(arg, "--min-p")) ok = parse_float(value, &p->min_p);
    else if (!strcmp(arg, "--top-k")) ok = parse_u32(value, &p->top_k);
    else ok = parse_u64(value, &p->seed);
    if (!ok) fprintf(stderr, "error: %s: '%s' is not a valid number\n", arg, value);
    return ok ? 1 : -1;
}

/* Ids written as a JSON array or separated by spaces or commas. */
uint32_t *parse_id_list(const char *text, size_t len, size_t *n, const char **error) {
    gptoss_ids ids = {0};
    *error = NULL;
    for (size_t i = 0; i < len && !*error;) {
        char c = text[i];
        if (c == '[' || c == ']' || c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            i++;
            continue;
        }
        uint64_t value = 0;
        size_t digits = 0;
        while (i < len && text[i] >= '0' && text[i] <= '9' && value <= UINT32_MAX)
            value = value * 10 + (uint64_t)(text[i++] - '0'), digits++;
        if (!digits || value > UINT32_MAX) *error = "token ids must be integers from 0 to 4294967295";
        else if (!gptoss_ids_push(&ids, (uint32_t)value)) *error = "out of memory";
    }
    if (!*error && !ids.data && !(ids.data = malloc(sizeof *ids.data))) *error = "out of memory";
    if (*error) {
        free(ids.data);
        return NULL;
    }
    *n = ids.len;
    return ids.data;
}
