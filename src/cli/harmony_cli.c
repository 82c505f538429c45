/* harmony_cli.c - shared parts of `gptoss render` and `gptoss parse`. */
#include "harmony_cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "tokenizer_json.h"

bool harmony_cli_tokenizer_option(int argc, char **argv, int *i, harmony_cli_options *options) {
    const char *arg = argv[*i];
    if ((!strcmp(arg, "--model") || !strcmp(arg, "--tokenizer")) && *i + 1 < argc) {
        *(arg[2] == 'm' ? &options->model_dir : &options->tokenizer_path) = argv[++*i];
        return true;
    }
    if (!strcmp(arg, "--no-cache")) {
        options->no_cache = true;
        return true;
    }
    return false;
}

gptoss_tokenizer *harmony_cli_load(const char *command, const harmony_cli_options *options) {
    if (!options->model_dir == !options->tokenizer_path) {
        fprintf(stderr, "gptoss %s: give exactly one of --model DIR and --tokenizer FILE\n", command);
        return NULL;
    }
    char path[4096];
    if (options->model_dir) snprintf(path, sizeof path, "%s/tokenizer.json", options->model_dir);
    else snprintf(path, sizeof path, "%s", options->tokenizer_path);
    gptoss_tokenizer_options load_options = {.no_cache = options->no_cache};
    gptoss_tokenizer *tok = NULL;
    gptoss_status status = gptoss_tokenizer_load_with(path, &load_options, &tok);
    if (status != GPTOSS_OK) {
        fprintf(stderr, "gptoss %s: %s: %s\n", command, gptoss_status_string(status), gptoss_last_error());
        return NULL;
    }
    return tok;
}

void harmony_cli_append_error(gptoss_bytes *out, const char *message) {
    gptoss_bytes_append_str(out, "{\"error\": ");
    gptoss_json_append_string(out, message, strlen(message));
    gptoss_bytes_append_str(out, "}");
}

int harmony_cli_run_lines(const char *command, harmony_cli_line_fn fn, void *context) {
    char *line = NULL;
    size_t capacity = 0;
    ssize_t got;
    int status = 0;
    gptoss_bytes out = {0};
    while ((got = getline(&line, &capacity, stdin)) >= 0) {
        size_t len = (size_t)got;
        if (len && line[len - 1] == '\n') len--;
        out.len = 0;
        if (!fn(context, line, len, &out)) status = 1;
        gptoss_bytes_append_str(&out, "\n");
        fwrite(out.data, 1, out.len, stdout);
    }
    free(line);
    free(out.data);
    if (fflush(stdout)) {
        fprintf(stderr, "gptoss %s: cannot write the output\n", command);
        status = 1;
    }
    return status;
}
