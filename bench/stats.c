/* stats.c - order statistics of timing samples. */
#include <stdlib.h>

#include "bench.h"

static int by_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void bench_sort(double *values, size_t n) { qsort(values, n, sizeof *values, by_double); }

double bench_median(double *values, size_t n) {
    if (n == 0) return 0;
    bench_sort(values, n);
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}
