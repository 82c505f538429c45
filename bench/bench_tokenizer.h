/* bench_tokenizer.h - tokenizer benchmark, a subcommand of gptoss-bench. */
#ifndef GPTOSS_BENCH_TOKENIZER_H
#define GPTOSS_BENCH_TOKENIZER_H

/* Measures tokenizer load time (cold: no cache file; warm: cached) and
 * encode throughput in MB/s on a large English text and a mixed multilingual
 * one, both built deterministically in code. argv[0] is the subcommand name;
 * `--help` lists the options. Prints results to stdout; returns the exit
 * status. */
int bench_tokenizer_main(int argc, char **argv);

#endif
