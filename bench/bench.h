/* bench.h - shared pieces of gptoss-bench. */
#ifndef GPTOSS_BENCH_H
#define GPTOSS_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* Best-of-reps read bandwidth in GB/s of a read-only sweep over `bytes` with
 * `threads` OpenMP threads (a STREAM-like sum). */
double bench_read_bandwidth(int threads, size_t bytes, int reps);

/* The same, measured in a child process so this process's peak RSS does not
 * include the probe's buffer. Returns 0 if the child fails. */
double bench_read_bandwidth_isolated(int threads, size_t bytes, int reps);

double bench_seconds(void);

struct gptoss_kernels;

/* GOP/s (2 per multiply-add) of k's int8 dot product issued back to back on
 * every OpenMP thread: the ceiling of the int8 prefill kernels. Best of 3
 * runs of at least 0.1 s each; 0 for a set without the loop (scalar). */
double bench_int8_peak_gop_s(const struct gptoss_kernels *k);

/* Sorts values ascending. */
void bench_sort(double *values, size_t n);

/* The median of values (sorting them); 0 when n is 0. */
double bench_median(double *values, size_t n);

int bench_kernels_main(int argc, char **argv);
int bench_e2e_main(int argc, char **argv);
int bench_load_main(int argc, char **argv);

#endif
