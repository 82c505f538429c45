/* options.c - option parsing and model set-up shared by the subcommands. */
#include "options.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

const char run_options_help[] =
    "  --model DIR        Hugging Face gpt-oss folder (config.json, *.safetensors)\n"
    "  --threads N        worker threads (default: all cores)\n"
    "  --ctx N            context length in tokens (default: min(4096, max_position_embeddings))\n"
    "  --verbose          more detail on stderr\n";

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
        strcmp(arg, "--ctx"))
        return 0;
    const char *value = option_value(argc, argv, i);
    if (!value) return -1;
    if (!strcmp(arg, "--model") || !strcmp(arg, "-m")) {
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
    const double start = now_seconds();
    gptoss_model_options model_options = {.kernels = o->kernels};
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
            "kernels: %s, threads: %d, context: %u tokens; loaded in %.3f s\n",
            o->model_dir, c->num_hidden_layers, c->hidden_size, c->num_local_experts, c->num_experts_per_tok,
            c->vocab_size, (double)gptoss_model_file_bytes(*out_model) / 1e9, gptoss_model_kernels(*out_model),
            omp_get_max_threads(), gptoss_context_capacity(*out_context), now_seconds() - start);
    return 1;
}
