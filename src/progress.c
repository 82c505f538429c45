/* progress.c - a progress bar on stderr. */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int in_bytes(const progress *p) { return !strcmp(p->unit, "GB"); }

static void draw(progress *p) {
    enum { WIDTH = 30 };
    char bar[WIDTH + 1];
    const int filled = p->total ? (int)((double)p->done / (double)p->total * WIDTH) : WIDTH;
    for (int i = 0; i < WIDTH; i++) bar[i] = i < filled ? '#' : '.';
    bar[WIDTH] = '\0';
    const double elapsed = seconds() - p->start, rate = elapsed > 0 ? (double)p->done / elapsed : 0.0;
    if (in_bytes(p))
        fprintf(stderr, "\r%s [%s] %5.1f%%  %.2f/%.2f GB  %.0f MB/s\033[K", p->label, bar,
                p->total ? 100.0 * (double)p->done / (double)p->total : 100.0, (double)p->done / 1e9,
                (double)p->total / 1e9, rate / 1e6);
    else
        fprintf(stderr, "\r%s [%s] %llu/%llu %s  %.1f %s/s\033[K", p->label, bar, (unsigned long long)p->done,
                (unsigned long long)p->total, p->unit, rate, p->unit);
    fflush(stderr);
}

void progress_start_units(progress *p, const char *label, const char *unit, uint64_t total, int show) {
    memset(p, 0, sizeof *p);
    p->label = label;
    p->unit = unit;
    p->total = total;
    p->enabled = show;
    p->tty = isatty(STDERR_FILENO);
    p->start = p->last_draw = seconds();
    if (p->enabled && !p->tty) fprintf(stderr, "%s ...\n", label);
    if (p->enabled && p->tty) draw(p);
}

void progress_start(progress *p, const char *label, uint64_t total, int show) {
    progress_start_units(p, label, "GB", total, show);
}

void progress_update(progress *p, uint64_t done) {
    p->done = done;
    if (!p->enabled || !p->tty) return;
    const double now = seconds();
    if (now - p->last_draw < 0.2) return;
    p->last_draw = now;
    draw(p);
}

void progress_finish(progress *p) {
    if (!p->enabled) return;
    p->done = p->total;
    const double elapsed = seconds() - p->start;
    if (p->tty) {
        draw(p);
        fprintf(stderr, " (%.1f s)\n", elapsed);
    } else {
        fprintf(stderr, "%s: done in %.1f s\n", p->label, elapsed);
    }
}
