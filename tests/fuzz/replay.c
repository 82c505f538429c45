/* replay.c - runs a fuzz target without libFuzzer: every file given (the
 * seed corpus), its prefixes (every one, or about 2000 spread over a long
 * seed) and deterministic byte mutations, so the ordinary (and ASan) builds
 * check the parsers on hostile input in ctest. The fuzz_* targets built with
 * GPTOSS_FUZZ (clang) are the real fuzzers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t state = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return state;
}

int main(int argc, char **argv) {
    LLVMFuzzerInitialize(&argc, &argv);
    static const char *const bytes[] = {"\"", "{", "}", "[", "]", ",", ":", "\\", "\xff", "0", "null", "-1e999"};
    long runs = 0;
    const char *env = getenv("GPTOSS_REPLAY_MUTATIONS"); /* per seed; default 10000 */
    const long mutations = env ? atol(env) : 10000;
    for (int f = 1; f < argc; f++) {
        FILE *in = fopen(argv[f], "rb");
        if (!in) {
            fprintf(stderr, "replay: cannot open %s\n", argv[f]);
            return 1;
        }
        uint8_t *data = malloc(1 << 20), *copy = malloc((1 << 20) + 16);
        size_t n = fread(data, 1, 1 << 20, in);
        fclose(in);
        const size_t step = n > 2000 ? n / 2000 : 1;
        for (size_t cut = 0; cut < n; cut += step, runs++) LLVMFuzzerTestOneInput(data, cut);
        LLVMFuzzerTestOneInput(data, n), runs++; /* the seed itself, whatever the step */
        for (long m = 0; m < mutations; m++, runs++) { /* a byte replaced by a JSON-significant one */
            memcpy(copy, data, n);
            const char *b = bytes[next() % (sizeof bytes / sizeof *bytes)];
            size_t at = n ? next() % n : 0, len = strlen(b);
            size_t size = n;
            if (at + len <= n) memcpy(copy + at, b, len);
            else size = at;
            LLVMFuzzerTestOneInput(copy, size);
        }
        free(data);
        free(copy);
    }
    const char *name = strrchr(argv[0], '/');
    printf("%s: %ld inputs from %d seeds, no crash\n%d passed, 0 failed\n", name ? name + 1 : argv[0], runs, argc - 1,
           argc - 1);
    return 0;
}
