/* main.c - `gptoss-bench <kernels|e2e|tokenizer|load>`. */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "bench_tokenizer.h"

static void usage(FILE *out) {
    fprintf(out, "usage: gptoss-bench <command> [options]\n\n"
                 "  kernels   throughput of every kernel and ISA vs the measured read bandwidth\n"
                 "  e2e       load, prefill, decode, time to first token and RSS of a model\n"
                 "  tokenizer tokenizer load time and encode throughput\n"
                 "  load      load test of `gptoss serve` (streaming clients, latency, RSS, prompt cache)\n\n"
                 "`gptoss-bench <command> --help` describes a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "kernels")) return bench_kernels_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "e2e")) return bench_e2e_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "tokenizer")) return bench_tokenizer_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "load")) return bench_load_main(argc - 1, argv + 1);
    fprintf(stderr, "gptoss-bench: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
