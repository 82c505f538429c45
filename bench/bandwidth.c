/* bandwidth.c - the machine's read bandwidth, measured like STREAM's read
 * kernels: every thread sums its share of a buffer far larger than the caches. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

double bench_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Eight independent sums per thread keep enough loads in flight; the compiler
 * vectorises the integer adds. */
static uint64_t sum_words(const uint64_t *words, size_t n) {
    uint64_t acc[8] = {0};
    for (size_t i = 0; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += words[i + j];
    return acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
}

typedef struct sweep {
    const uint64_t *words;
    size_t n;
    uint64_t total;
} sweep;

static void *run_sweep(void *arg) {
    sweep *s = arg;
    s->total = sum_words(s->words, s->n);
    return NULL;
}

static void *run_fill(void *arg) {
    sweep *s = arg;
    uint64_t *words = (uint64_t *)s->words;
    for (size_t i = 0; i < s->n; i++) words[i] = i; /* first touch by the reading thread's node */
    return NULL;
}

/* Runs fn on `threads` equal slices of buffer with plain pthreads: the probe
 * also runs in a forked child, where an OpenMP runtime is not safe to use. */
static uint64_t each_slice(void *(*fn)(void *), uint64_t *buffer, size_t words, int threads) {
    enum { MAX_THREADS = 256 };
    if (threads < 1) threads = 1;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    pthread_t ids[MAX_THREADS];
    sweep parts[MAX_THREADS];
    const size_t per = words / (size_t)threads / 8 * 8;
    for (int t = 0; t < threads; t++) {
        parts[t] = (sweep){buffer + (size_t)t * per, per, 0};
        if (t > 0) pthread_create(&ids[t], NULL, fn, &parts[t]);
    }
    fn(&parts[0]);
    uint64_t total = parts[0].total;
    for (int t = 1; t < threads; t++) {
        pthread_join(ids[t], NULL);
        total += parts[t].total;
    }
    return total;
}

double bench_read_bandwidth(int threads, size_t bytes, int reps) {
    const size_t words = bytes / sizeof(uint64_t);
    uint64_t *buffer = NULL;
    if (posix_memalign((void **)&buffer, 4096, words * sizeof(uint64_t)) != 0) return 0.0;
    each_slice(run_fill, buffer, words, threads);
    const size_t swept = words / (size_t)(threads < 1 ? 1 : threads) / 8 * 8 * (size_t)(threads < 1 ? 1 : threads);
    double best = 0.0;
    volatile uint64_t sink = 0;
    for (int r = 0; r < reps; r++) {
        const double start = bench_seconds();
        sink += each_slice(run_sweep, buffer, words, threads);
        const double rate = (double)swept * sizeof(uint64_t) / (bench_seconds() - start) / 1e9;
        if (rate > best) best = rate;
    }
    (void)sink;
    free(buffer);
    return best;
}

double bench_read_bandwidth_isolated(int threads, size_t bytes, int reps) {
    int fds[2];
    if (pipe(fds) != 0) return 0.0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return 0.0;
    if (pid == 0) {
        close(fds[0]);
        double value = bench_read_bandwidth(threads, bytes, reps);
        ssize_t ignored = write(fds[1], &value, sizeof value);
        (void)ignored;
        _exit(0);
    }
    close(fds[1]);
    double value = 0.0;
    if (read(fds[0], &value, sizeof value) != (ssize_t)sizeof value) value = 0.0;
    close(fds[0]);
    waitpid(pid, NULL, 0);
    return value;
}
