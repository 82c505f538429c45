/* peak.c - the arithmetic ceiling of a kernel set's int8 dot product. */
#include <stdint.h>

#include "bench.h"
#include "kernels.h"

/* Rounds double until a run lasts 0.1 s; then the best of 3 such runs. */
double bench_int8_peak_gop_s(const gptoss_kernels *k) {
    if (!k->int8_peak) return 0;
    uint64_t rounds = 1 << 16;
    double best = 0;
    for (int run = 0; run < 3;) {
        uint64_t macs = 0;
        const double start = bench_seconds();
#pragma omp parallel reduction(+ : macs)
        macs += k->int8_peak(rounds);
        const double elapsed = bench_seconds() - start;
        if (elapsed < 0.1) {
            rounds *= 2;
            continue;
        }
        if (2.0 * (double)macs / elapsed / 1e9 > best) best = 2.0 * (double)macs / elapsed / 1e9;
        run++;
    }
    return best;
}
