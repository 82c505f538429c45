/* fuzz_load.c - libFuzzer target for loading a checkpoint folder: the tiny
 * fixture with either its safetensors header or its config.json replaced by
 * the input (the first byte's low bit picks which; the data area stays the
 * fixture's). A load that succeeds runs three tokens; one that fails must
 * leave an error message. Sanitizers catch out-of-bounds reads.
 *
 * Build (clang; see README.md here):
 *   cmake -B build-fuzz -DCMAKE_C_COMPILER=clang -DGPTOSS_FUZZ=ON -DGPTOSS_TESTS=OFF
 *   cmake --build build-fuzz --target fuzz_load -j2
 *   build-fuzz/fuzz_load -max_total_time=600 tests/fuzz/load_corpus */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gptoss.h"

static uint8_t *weights, *config; /* the fixture's files */
static size_t weights_size, config_size, data_start;
static char dir[256];

static uint8_t *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f || fseek(f, 0, SEEK_END) || (*size = (size_t)ftell(f)) == (size_t)-1 || fseek(f, 0, SEEK_SET)) abort();
    uint8_t *data = malloc(*size + 1);
    if (!data || fread(data, 1, *size, f) != *size) abort();
    fclose(f);
    return data;
}

static void write_file(const char *name, const void *a, size_t a_len, const void *b, size_t b_len, const void *c,
                       size_t c_len) {
    char path[320];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(a, 1, a_len, f) != a_len || fwrite(b, 1, b_len, f) != b_len || fwrite(c, 1, c_len, f) != c_len)
        abort();
    fclose(f);
}

static void remove_dir(void) {
    char path[320];
    snprintf(path, sizeof path, "%s/config.json", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    weights = read_all(GPTOSS_FIXTURES "/tiny/model.safetensors", &weights_size);
    config = read_all(GPTOSS_FIXTURES "/tiny/config.json", &config_size);
    uint64_t header_len;
    memcpy(&header_len, weights, 8);
    data_start = 8 + (size_t)header_len;
    /* Every input rewrites the 700 KB weight file: memory-backed /dev/shm
     * keeps that from becoming disk writes. */
    const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, sizeof dir, "%s/gptoss-fuzz-load-%d", tmp, (int)getpid());
    if (mkdir(dir, 0700)) abort();
    atexit(remove_dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int weights_as_is; /* model.safetensors holds the fixture's own bytes */
    if (size < 1) return 0;
    if (data[0] & 1) {
        write_file("config.json", data + 1, size - 1, "", 0, "", 0);
        if (!weights_as_is) write_file("model.safetensors", weights, weights_size, "", 0, "", 0);
        weights_as_is = 1;
    } else {
        weights_as_is = 0;
        const uint64_t header_len = size - 1;
        write_file("config.json", config, config_size, "", 0, "", 0);
        write_file("model.safetensors", &header_len, 8, data + 1, size - 1, weights + data_start,
                   weights_size - data_start);
    }
    gptoss_model_options options = {.precision = GPTOSS_PRECISION_EXACT};
    gptoss_model *model = NULL;
    if (gptoss_model_load(dir, &options, &model) != GPTOSS_OK) {
        if (!gptoss_last_error() || !*gptoss_last_error()) abort(); /* a failure must say why */
        return 0;
    }
    gptoss_context *ctx;
    if (gptoss_context_create(model, 16, &ctx) == GPTOSS_OK) {
        const uint32_t tokens[3] = {1, 2, 3};
        float *logits = malloc(3 * sizeof(float) * gptoss_model_config(model)->vocab_size);
        if (logits) gptoss_context_eval(ctx, tokens, 3, GPTOSS_LOGITS_ALL, logits);
        free(logits);
        gptoss_context_free(ctx);
    }
    gptoss_model_free(model);
    return 0;
}
