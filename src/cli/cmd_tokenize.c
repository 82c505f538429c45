/* cmd_tokenize.c - `gptoss tokenize` and `gptoss detokenize`: text <-> token
 * ids with the model's tokenizer.json. Only the defined output goes to
 * stdout; diagnostics go to stderr. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "options.h"
#include "tokenizer.h"
#include "tokenizer_json.h"

typedef struct options {
    const char *model_dir;
    const char *tokenizer_path;
    int allow_special, jsonl, no_cache, verbose;
} options;

static void usage(FILE *out, const char *name) {
    int encode = !strcmp(name, "tokenize");
    fprintf(out, "usage: gptoss %s (--model DIR | --tokenizer FILE) %s[--jsonl] [--no-cache] [--verbose]\n\n", name,
            encode ? "[--allow-special] " : "");
    if (encode)
        fprintf(out,
                "Encodes text to token ids with DIR/tokenizer.json (or FILE).\n\n"
                "  --jsonl          each stdin line is a JSON string; prints one JSON array of ids per line\n"
                "                   (without it: all of stdin is the text; prints one JSON array)\n"
                "  --allow-special  special-token spellings such as <|start|> become their single ids\n"
                "                   (default: they are ordinary text)\n");
    else
        fprintf(out,
                "Decodes token ids to text with DIR/tokenizer.json (or FILE). Bytes that are not valid\n"
                "UTF-8 become U+FFFD; an id outside the vocabulary is an error.\n\n"
                "  --jsonl          each stdin line is a JSON array of ids; prints one JSON string per line\n"
                "                   (without it: stdin holds ids (JSON array or separated by spaces/commas);\n"
                "                   prints the text itself)\n");
    fprintf(out,
            "  --no-cache       neither read nor write the binary tokenizer cache\n"
            "  --verbose        print load and run times to stderr\n\n"
            "With --jsonl a bad input line prints {\"error\": \"...\"} in its place; the rest go on\n"
            "and the exit status is 1.\n");
}

/* Returns 0 on success, 2 on a usage error, -1 after --help. */
static int parse_options(int argc, char **argv, options *o) {
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout, argv[0]);
            return -1;
        } else if ((!strcmp(arg, "--model") || !strcmp(arg, "--tokenizer")) && i + 1 < argc) {
            *(arg[2] == 'm' ? &o->model_dir : &o->tokenizer_path) = argv[++i];
        } else if (!strcmp(arg, "--allow-special") && !strcmp(argv[0], "tokenize")) {
            o->allow_special = 1;
        } else if (!strcmp(arg, "--jsonl")) {
            o->jsonl = 1;
        } else if (!strcmp(arg, "--no-cache")) {
            o->no_cache = 1;
        } else if (!strcmp(arg, "--verbose")) {
            o->verbose = 1;
        } else {
            fprintf(stderr, "gptoss %s: unknown or incomplete option '%s'\n", argv[0], arg);
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (!o->model_dir == !o->tokenizer_path) {
        fprintf(stderr, "gptoss %s: give exactly one of --model DIR and --tokenizer FILE\n", argv[0]);
        return 2;
    }
    return 0;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static gptoss_tokenizer *load(const options *o, const char *command) {
    char path[4096];
    if (o->model_dir) snprintf(path, sizeof path, "%s/tokenizer.json", o->model_dir);
    else snprintf(path, sizeof path, "%s", o->tokenizer_path);
    gptoss_tokenizer_options load_options = {.no_cache = o->no_cache};
    gptoss_tokenizer *tok = NULL;
    double start = now();
    gptoss_status status = gptoss_tokenizer_load_with(path, &load_options, &tok);
    if (status != GPTOSS_OK) {
        fprintf(stderr, "gptoss %s: %s: %s\n", command, gptoss_status_string(status), gptoss_last_error());
        return NULL;
    }
    if (o->verbose) fprintf(stderr, "gptoss %s: tokenizer loaded in %.1f ms\n", command, 1e3 * (now() - start));
    return tok;
}

/* Reads all of a stream. */
static char *read_all(FILE *in, size_t *len) {
    gptoss_bytes all = {0};
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, in)) > 0)
        if (!gptoss_bytes_append(&all, chunk, got)) {
            free(all.data);
            return NULL;
        }
    if (!all.data && !gptoss_bytes_reserve(&all, 0)) return NULL;
    *len = all.len;
    return all.data;
}

static void append_ids(gptoss_bytes *out, const uint32_t *ids, size_t n) {
    gptoss_bytes_append_str(out, "[");
    for (size_t i = 0; i < n; i++) {
        char number[16];
        snprintf(number, sizeof number, i ? ", %u" : "%u", ids[i]);
        gptoss_bytes_append_str(out, number);
    }
    gptoss_bytes_append_str(out, "]");
}

static void append_error(gptoss_bytes *out, const char *message) {
    gptoss_bytes_append_str(out, "{\"error\": ");
    gptoss_json_append_string(out, message, strlen(message));
    gptoss_bytes_append_str(out, "}");
}

/* One --jsonl input line of `tokenize` -> its output line; false on error. */
static int tokenize_line(const gptoss_tokenizer *tok, const options *o, const char *line, size_t len,
                         gptoss_bytes *out) {
    char *text;
    size_t text_len;
    gptoss_status status = gptoss_json_parse_string(line, len, &text, &text_len);
    uint32_t *ids = NULL;
    size_t n = 0;
    if (status == GPTOSS_OK) {
        status = gptoss_tokenizer_encode(tok, text, text_len, o->allow_special, &ids, &n);
        free(text);
    }
    if (status != GPTOSS_OK) {
        append_error(out, gptoss_last_error());
        return 0;
    }
    append_ids(out, ids, n);
    free(ids);
    return 1;
}

/* Parses a JSON array of token ids; sets *error on failure. */
static uint32_t *parse_id_array(const char *text, size_t len, size_t *n, const char **error) {
    cJSON *json = cJSON_ParseWithLength(text, len);
    *error = NULL;
    if (!cJSON_IsArray(json)) {
        cJSON_Delete(json);
        *error = "expected a JSON array of token ids";
        return NULL;
    }
    size_t count = (size_t)cJSON_GetArraySize(json);
    uint32_t *ids = malloc((count ? count : 1) * sizeof *ids);
    size_t i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, json) {
        double v = cJSON_IsNumber(item) ? item->valuedouble : -1;
        if (!ids || v < 0 || v > 4294967295.0 || v != floor(v)) {
            *error = ids ? "token ids must be non-negative integers" : "out of memory";
            break;
        }
        ids[i++] = (uint32_t)v;
    }
    cJSON_Delete(json);
    if (*error) {
        free(ids);
        return NULL;
    }
    *n = count;
    return ids;
}

static int detokenize_line(const gptoss_tokenizer *tok, const char *line, size_t len, gptoss_bytes *out) {
    size_t n;
    const char *error;
    uint32_t *ids = parse_id_array(line, len, &n, &error);
    if (!ids) {
        append_error(out, error);
        return 0;
    }
    char *text;
    size_t text_len;
    gptoss_status status = gptoss_tokenizer_decode(tok, ids, n, &text, &text_len);
    free(ids);
    if (status != GPTOSS_OK) {
        append_error(out, gptoss_last_error());
        return 0;
    }
    gptoss_json_append_string(out, text, text_len);
    free(text);
    return 1;
}

/* Runs `line_fn` over every stdin line; returns the exit status. */
static int run_jsonl(const gptoss_tokenizer *tok, const options *o, int encode) {
    char *line = NULL;
    size_t capacity = 0;
    ssize_t got;
    int failed = 0;
    gptoss_bytes out = {0};
    while ((got = getline(&line, &capacity, stdin)) >= 0) {
        size_t len = (size_t)got;
        if (len && line[len - 1] == '\n') len--;
        out.len = 0;
        int ok = encode ? tokenize_line(tok, o, line, len, &out) : detokenize_line(tok, line, len, &out);
        if (!ok) failed = 1;
        gptoss_bytes_append_str(&out, "\n");
        fwrite(out.data, 1, out.len, stdout);
    }
    free(line);
    free(out.data);
    return failed;
}

/* Without --jsonl: all of stdin is one input. */
static int run_whole(const gptoss_tokenizer *tok, const options *o, int encode) {
    size_t len;
    char *input = read_all(stdin, &len);
    if (!input) {
        fprintf(stderr, "gptoss: out of memory reading stdin\n");
        return 1;
    }
    int status = 0;
    gptoss_bytes out = {0};
    if (encode) {
        uint32_t *ids;
        size_t n;
        if (gptoss_tokenizer_encode(tok, input, len, o->allow_special, &ids, &n) == GPTOSS_OK) {
            append_ids(&out, ids, n);
            gptoss_bytes_append_str(&out, "\n");
            free(ids);
        } else {
            fprintf(stderr, "gptoss tokenize: %s\n", gptoss_last_error());
            status = 1;
        }
    } else {
        size_t n;
        const char *error;
        uint32_t *ids = parse_id_list(input, len, &n, &error);
        char *text = NULL;
        size_t text_len = 0;
        if (!ids) {
            fprintf(stderr, "gptoss detokenize: %s\n", error);
            status = 1;
        } else if (gptoss_tokenizer_decode(tok, ids, n, &text, &text_len) != GPTOSS_OK) {
            fprintf(stderr, "gptoss detokenize: %s\n", gptoss_last_error());
            status = 1;
        } else {
            gptoss_bytes_append(&out, text, text_len);
        }
        free(ids), free(text);
    }
    if (out.len) fwrite(out.data, 1, out.len, stdout);
    free(out.data);
    free(input);
    return status;
}

static int run(int argc, char **argv, int encode) {
    options o = {0};
    int parsed = parse_options(argc, argv, &o);
    if (parsed) return parsed < 0 ? 0 : parsed;
    gptoss_tokenizer *tok = load(&o, argv[0]);
    if (!tok) return 1;
    double start = now();
    int status = o.jsonl ? run_jsonl(tok, &o, encode) : run_whole(tok, &o, encode);
    if (fflush(stdout)) {
        fprintf(stderr, "gptoss %s: cannot write the output\n", argv[0]);
        status = 1;
    }
    if (o.verbose) fprintf(stderr, "gptoss %s: ran in %.1f ms\n", argv[0], 1e3 * (now() - start));
    gptoss_tokenizer_free(tok);
    return status;
}

int cmd_tokenize(int argc, char **argv) { return run(argc, argv, 1); }

int cmd_detokenize(int argc, char **argv) { return run(argc, argv, 0); }
