/* synth_stream.c - random tensor values and the streamed safetensors writer.
 *
 * Values of a tensor come from one PRNG stream per 64 KiB block of output,
 * seeded from (seed, tensor, block), so bytes do not depend on buffer sizes,
 * threads or shard layout. One thread generates the next 4 MiB while another
 * writes the previous one: on a 2-core machine the page-cache copy in write()
 * is the bottleneck, so overlapping beats parallel generation. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "numeric.h"
#include "progress.h"
#include "rng.h"
#include "synth_internal.h"

enum { BLOCK_BYTES = 1 << 16, GROUP_BLOCKS = 64, GROUP_BYTES = BLOCK_BYTES * GROUP_BLOCKS };

struct synth_writer {
    uint64_t seed;
    uint8_t *buf[2];     /* double buffer, GROUP_BYTES each */
    float z[65536];      /* standard normal quantiles at (i + 0.5) / 65536 */
    uint16_t bf16[65536]; /* mean + std * z as bf16, for table_mean/std */
    float table_mean, table_std;
    int table_valid;
    int progress, tty;   /* progress wanted / stderr is a terminal */
    uint64_t done;
    progress bar;        /* drawn on a terminal; per-file lines otherwise */
};

/* ---- PRNG: xoshiro256** seeded through splitmix64 (rng.h) ---- */

static void random_bytes(uint64_t seed, uint32_t tensor, uint64_t block, uint8_t *out, size_t len) {
    uint64_t x = seed, s[4];
    x = rng_splitmix64(&x) + tensor;
    x = rng_splitmix64(&x) + block;
    for (int i = 0; i < 4; i++) s[i] = rng_splitmix64(&x);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v = rng_next(s);
        memcpy(out + i, &v, 8);
    }
    for (uint64_t v = rng_next(s); i < len; i++, v >>= 8) out[i] = (uint8_t)v;
}

/* ---- normal values: a 16-bit random index into a quantile table ---- */

/* Inverse standard normal CDF (P. J. Acklam's rational approximation,
 * relative error 1.2e-9: far below bf16 resolution). */
static double normal_quantile(double p) {
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00, 2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                               2.445134137142996e+00, 3.754408661907416e+00};
    if (p < 0.02425) {
        double q = sqrt(-2 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

static void fill_block(synth_writer *w, const synth_tensor *t, uint64_t block, uint8_t *out,
                       size_t len) {
    random_bytes(w->seed, t->index, block, out, len);
    if (t->fill == SYNTH_FILL_SCALES) {
        for (size_t i = 0; i < len; i++) out[i] = (uint8_t)(t->scale_lo + ((out[i] * 7u) >> 8));
    } else if (t->fill == SYNTH_FILL_NORMAL) {
        if (!w->table_valid || w->table_mean != t->mean || w->table_std != t->std) {
            for (int i = 0; i < 65536; i++) w->bf16[i] = f32_to_bf16(t->mean + t->std * w->z[i]);
            w->table_mean = t->mean;
            w->table_std = t->std;
            w->table_valid = 1;
        }
        for (size_t i = 0; i + 2 <= len; i += 2) {
            uint16_t v;
            memcpy(&v, out + i, 2);
            memcpy(out + i, &w->bf16[v], 2);
        }
    }
}

/* ---- writer ---- */

gptoss_status synth_writer_create(uint64_t seed, uint64_t total_bytes, int show_progress,
                                  synth_writer **out) {
    synth_writer *w = calloc(1, sizeof *w);
    if (w) w->buf[0] = malloc(GROUP_BYTES), w->buf[1] = malloc(GROUP_BYTES);
    if (!w || !w->buf[0] || !w->buf[1]) {
        synth_writer_free(w);
        return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "synth: out of memory");
    }
    w->seed = seed;
    /* Mirror the lower half so the table is exactly symmetric (mean 0). */
    for (int i = 0; i < 32768; i++) {
        w->z[i] = (float)normal_quantile((i + 0.5) / 65536.0);
        w->z[65535 - i] = -w->z[i];
    }
    w->progress = show_progress != 0;
    w->tty = isatty(STDERR_FILENO);
    progress_start(&w->bar, "synth", total_bytes, w->progress && w->tty);
    *out = w;
    return GPTOSS_OK;
}

void synth_writer_free(synth_writer *w) {
    if (!w) return;
    if (w->done) progress_finish(&w->bar);
    free(w->buf[0]);
    free(w->buf[1]);
    free(w);
}

/* safetensors' own order: BF16 (2-byte aligned) before U8, then by name. */
static int data_order(const void *a, const void *b) {
    const synth_tensor *x = *(synth_tensor *const *)a, *y = *(synth_tensor *const *)b;
    if (x->is_u8 != y->is_u8) return x->is_u8 - y->is_u8;
    return strcmp(x->name, y->name);
}

typedef struct { char *s; size_t len, cap; } strbuf;

static int sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sb_printf(strbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return 0;
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return 1;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *s = realloc(b->s, cap);
        if (!s) return 0;
        b->s = s;
        b->cap = cap;
    }
}

/* Header JSON in data order, padded with spaces so data starts 8-aligned. */
static int build_header(synth_tensor **t, uint32_t n, int metadata, strbuf *h) {
    int ok = sb_printf(h, "{%s", metadata ? "\"__metadata__\":{\"format\":\"pt\"}," : "");
    uint64_t offset = 0;
    for (uint32_t i = 0; i < n && ok; i++) {
        t[i]->begin = offset;
        offset += t[i]->nbytes;
        ok = sb_printf(h, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", i ? "," : "", t[i]->name,
                       t[i]->is_u8 ? "U8" : "BF16");
        for (uint32_t d = 0; d < t[i]->ndim && ok; d++)
            ok = sb_printf(h, "%s%llu", d ? "," : "", (unsigned long long)t[i]->shape[d]);
        ok = ok && sb_printf(h, "],\"data_offsets\":[%llu,%llu]}",
                             (unsigned long long)t[i]->begin, (unsigned long long)offset);
    }
    ok = ok && sb_printf(h, "}");
    while (ok && h->len % 8) ok = sb_printf(h, " ");
    return ok;
}

/* One unit of work: up to GROUP_BLOCKS blocks of one tensor. */
typedef struct {
    const synth_tensor *t;
    uint64_t block, bytes;
} job;

static job next_job(synth_tensor **t, uint32_t n, uint32_t *ti, uint64_t *pos) {
    while (*ti < n && *pos >= t[*ti]->nbytes) ++*ti, *pos = 0;
    job j = {NULL, 0, 0};
    if (*ti == n) return j;
    j.t = t[*ti];
    j.block = *pos / BLOCK_BYTES;
    j.bytes = j.t->nbytes - *pos < GROUP_BYTES ? j.t->nbytes - *pos : GROUP_BYTES;
    *pos += j.bytes;
    return j;
}

static void run_job(synth_writer *w, const job *j, uint8_t *buf) {
    for (uint64_t off = 0; off < j->bytes; off += BLOCK_BYTES) {
        size_t len = j->bytes - off < BLOCK_BYTES ? (size_t)(j->bytes - off) : BLOCK_BYTES;
        fill_block(w, j->t, j->block + off / BLOCK_BYTES, buf + off, len);
    }
}

gptoss_status synth_writer_file(synth_writer *w, synth_tensor **t, uint32_t n, const char *path,
                                int metadata) {
    qsort(t, n, sizeof *t, data_order);
    strbuf h = {0};
    if (!build_header(t, n, metadata, &h)) {
        free(h.s);
        return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "%s: header: out of memory", path);
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(h.s);
        return gptoss_fail(GPTOSS_ERROR_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    uint8_t len_le[8];
    for (int i = 0; i < 8; i++) len_le[i] = (uint8_t)((uint64_t)h.len >> (8 * i));
    int err = 0;
    errno = 0;
    if (fwrite(len_le, 1, 8, f) != 8 || fwrite(h.s, 1, h.len, f) != h.len) err = errno ? errno : EIO;

    uint32_t ti = 0;
    uint64_t pos = 0, data = 0;
    job cur = next_job(t, n, &ti, &pos);
    if (cur.t) run_job(w, &cur, w->buf[0]);
    for (int k = 0; cur.t && !err; k ^= 1) {
        job next = next_job(t, n, &ti, &pos);
        int werr = 0;
#pragma omp parallel sections num_threads(2)
        {
#pragma omp section
            {
                errno = 0;
                if (fwrite(w->buf[k], 1, (size_t)cur.bytes, f) != cur.bytes)
                    werr = errno ? errno : EIO;
            }
#pragma omp section
            if (next.t) run_job(w, &next, w->buf[k ^ 1]);
        }
        err = werr;
        w->done += cur.bytes;
        data += cur.bytes;
        progress_update(&w->bar, w->done);
        cur = next;
    }
    errno = 0;
    if (fclose(f) != 0 && !err) err = errno ? errno : EIO;
    if (err) {
        remove(path); /* no truncated file left behind */
        free(h.s);
        return gptoss_fail(GPTOSS_ERROR_IO, "%s: write failed: %s", path, strerror(err));
    }
    if (w->progress && !w->tty)
        fprintf(stderr, "synth: wrote %s (%.1f MB, %u tensors)\n", path,
                (8 + h.len + data) / 1e6, n);
    free(h.s);
    return GPTOSS_OK;
}
