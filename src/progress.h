/* progress.h - a progress bar on stderr for long work (cache builds,
 * checkpoint writing, long prefills). Drawn only when stderr is a terminal;
 * otherwise one line at the start and one at the end. */
#ifndef GPTOSS_PROGRESS_H
#define GPTOSS_PROGRESS_H

#include <stdint.h>

typedef struct progress {
    const char *label;
    const char *unit;       /* "GB" (bytes shown as GB, rate as MB/s) or "tokens" */
    uint64_t total, done;
    double start, last_draw;
    int enabled, tty;
} progress;

/* show = 0 keeps it silent. */
void progress_start(progress *p, const char *label, uint64_t total, int show);
void progress_start_units(progress *p, const char *label, const char *unit, uint64_t total, int show);

/* Records done (absolute) and redraws at most five times a second. */
void progress_update(progress *p, uint64_t done);

/* Final draw and newline (terminal) or a summary line (otherwise). */
void progress_finish(progress *p);

#endif
