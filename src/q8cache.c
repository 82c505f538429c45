/* q8cache.c - the fast precision's int8 copies of the dense BF16 matrices.
 *
 * Attention q/k/v/o and the unembedding are 1.9 of the 20B's 3.7 GB read per
 * token in BF16; int8 per 32-block with an f16 scale halves that. The
 * requantised matrices are built once, written to a cache file keyed by an
 * xxHash of the source tensors (names, shapes, and bytes sampled across each
 * tensor), and mapped read-only on later loads so start-up stays instant and
 * the pages stay file-backed. An unwritable cache folder falls back to an
 * in-memory copy. */
#include "q8cache.h"

#include <errno.h>
#include <fcntl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "error.h"
#include "model.h"
#include "numeric.h"
#include "progress.h"

#define Q8_MAGIC "GPTOSSQ8"
enum { Q8_VERSION = 1, Q8_ALIGN = 64, SAMPLES_PER_TENSOR = 64, SAMPLE_BYTES = 256 };

typedef struct q8_header {
    char magic[8];
    uint32_t version;
    uint32_t n_matrices;
    uint64_t key;
    uint64_t total_size;
} q8_header;

typedef struct q8_entry {
    uint32_t rows, cols;
    uint64_t q_offset, scale_offset;
} q8_entry;

/* One dense matrix to requantise and where its int8 view goes. */
typedef struct q8_job {
    const uint16_t *source;
    uint32_t rows, cols;
    gptoss_q8_matrix *target;
} q8_job;

static uint64_t align_up(uint64_t x) { return (x + Q8_ALIGN - 1) / Q8_ALIGN * Q8_ALIGN; }

/* Lists the matrices with whole 32-blocks per row (others stay BF16). */
static size_t list_jobs(gptoss_model *m, q8_job *jobs) {
    const gptoss_config *c = &m->config;
    const uint32_t H = c->hidden_size, q_dim = c->num_attention_heads * c->head_dim;
    const uint32_t kv_dim = c->num_key_value_heads * c->head_dim;
    size_t n = 0;
    for (uint32_t l = 0; l < c->num_hidden_layers; l++) {
        gptoss_layer *layer = &m->layers[l];
        const q8_job candidates[] = {{.source = layer->wq, .rows = q_dim, .cols = H, .target = &layer->wq8},
                                     {.source = layer->wk, .rows = kv_dim, .cols = H, .target = &layer->wk8},
                                     {.source = layer->wv, .rows = kv_dim, .cols = H, .target = &layer->wv8},
                                     {.source = layer->wo, .rows = H, .cols = q_dim, .target = &layer->wo8}};
        for (size_t i = 0; i < 4; i++)
            if (candidates[i].cols % GPTOSS_QBLOCK == 0) jobs[n++] = candidates[i];
    }
    jobs[n++] = (q8_job){.source = m->unembed, .rows = c->vocab_size, .cols = H, .target = &m->unembed8};
    return n;
}

static uint64_t layout(const q8_job *jobs, size_t n, q8_entry *entries) {
    uint64_t offset = align_up(sizeof(q8_header) + n * sizeof(q8_entry));
    for (size_t i = 0; i < n; i++) {
        const uint64_t values = (uint64_t)jobs[i].rows * jobs[i].cols;
        entries[i] = (q8_entry){jobs[i].rows, jobs[i].cols, offset, 0};
        offset = align_up(offset + values);
        entries[i].scale_offset = offset;
        offset = align_up(offset + values / GPTOSS_QBLOCK * sizeof(uint16_t));
    }
    return offset;
}

static uint64_t cache_key(const q8_job *jobs, size_t n) {
    XXH3_state_t *state = XXH3_createState();
    XXH3_64bits_reset(state);
    const uint32_t version = Q8_VERSION;
    XXH3_64bits_update(state, Q8_MAGIC, 8);
    XXH3_64bits_update(state, &version, sizeof version);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *bytes = (const uint8_t *)jobs[i].source;
        const uint64_t nbytes = (uint64_t)jobs[i].rows * jobs[i].cols * sizeof(uint16_t);
        XXH3_64bits_update(state, &jobs[i].rows, sizeof jobs[i].rows);
        XXH3_64bits_update(state, &jobs[i].cols, sizeof jobs[i].cols);
        for (uint64_t s = 0; s < SAMPLES_PER_TENSOR; s++) {
            uint64_t len = nbytes < SAMPLE_BYTES ? nbytes : SAMPLE_BYTES;
            uint64_t at = (nbytes - len) * s / (SAMPLES_PER_TENSOR - 1);
            XXH3_64bits_update(state, bytes + at, (size_t)len);
        }
    }
    uint64_t key = XXH3_64bits_digest(state);
    XXH3_freeState(state);
    return key;
}

/* Requantises rows [r0, r0+count) of a job into q and scale. */
static void quantize_rows(const q8_job *job, uint32_t r0, uint32_t count, int8_t *q, uint16_t *scale) {
    const uint32_t cols = job->cols, nb = cols / GPTOSS_QBLOCK;
    for (uint32_t r = 0; r < count; r++) {
        const uint16_t *row = job->source + (size_t)(r0 + r) * cols;
        for (uint32_t b = 0; b < nb; b++) {
            float amax = 0.0f;
            for (int i = 0; i < GPTOSS_QBLOCK; i++) amax = fmaxf(amax, fabsf(bf16_to_f32(row[b * 32 + i])));
            const uint16_t d = gptoss_f32_to_f16(amax / 127.0f);
            const float step = gptoss_f16_to_f32(d);
            scale[(size_t)r * nb + b] = d;
            for (int i = 0; i < GPTOSS_QBLOCK; i++) {
                float v = step > 0.0f ? nearbyintf(bf16_to_f32(row[b * 32 + i]) / step) : 0.0f;
                q[(size_t)r * cols + b * 32 + i] = (int8_t)fminf(fmaxf(v, -127.0f), 127.0f);
            }
        }
    }
}

/* Writes everything into dst (a mapping of total bytes), in parallel, with progress. */
static void build_into(uint8_t *dst, const q8_job *jobs, const q8_entry *entries, size_t n, uint64_t key,
                       uint64_t total, progress *bar) {
    q8_header header = {.version = Q8_VERSION, .n_matrices = (uint32_t)n, .key = key, .total_size = total};
    memcpy(header.magic, Q8_MAGIC, 8);
    memcpy(dst, &header, sizeof header);
    memcpy(dst + sizeof header, entries, n * sizeof *entries);
    enum { ROWS_PER_STEP = 256 };
    uint64_t done = 0;
    for (size_t i = 0; i < n; i++) {
        const q8_job *job = &jobs[i];
        const long steps = (long)((job->rows + ROWS_PER_STEP - 1) / ROWS_PER_STEP);
#pragma omp parallel for schedule(dynamic, 1)
        for (long s = 0; s < steps; s++) {
            const uint32_t r0 = (uint32_t)s * ROWS_PER_STEP;
            const uint32_t count = job->rows - r0 < ROWS_PER_STEP ? job->rows - r0 : ROWS_PER_STEP;
            quantize_rows(job, r0, count, (int8_t *)(dst + entries[i].q_offset) + (size_t)r0 * job->cols,
                          (uint16_t *)(dst + entries[i].scale_offset) + (size_t)r0 * (job->cols / GPTOSS_QBLOCK));
        }
        done += (uint64_t)job->rows * job->cols * sizeof(uint16_t);
        progress_update(bar, done);
    }
}

/* Maps an existing cache file if it is complete and matches; NULL otherwise. */
static uint8_t *map_existing(const char *path, uint64_t key, const q8_entry *entries, size_t n, uint64_t total) {
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return NULL;
    struct stat info;
    uint8_t *map = NULL;
    if (fstat(fd, &info) == 0 && S_ISREG(info.st_mode) && (uint64_t)info.st_size == total) {
        map = mmap(NULL, (size_t)total, PROT_READ, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED) map = NULL;
    }
    close(fd);
    if (!map) return NULL;
    q8_header header;
    memcpy(&header, map, sizeof header);
    if (memcmp(header.magic, Q8_MAGIC, 8) || header.version != Q8_VERSION || header.key != key ||
        header.n_matrices != n || header.total_size != total ||
        memcmp(map + sizeof header, entries, n * sizeof *entries)) {
        munmap(map, (size_t)total);
        return NULL;
    }
    return map;
}

static int make_dirs(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(buf, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

void gptoss_q8cache_dir(const char *override, char *out, size_t size) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (override && *override) snprintf(out, size, "%s", override);
    else if (xdg && *xdg) snprintf(out, size, "%s/gptoss", xdg);
    else snprintf(out, size, "%s/.cache/gptoss", home && *home ? home : "/tmp");
}

/* Builds the file at path (through a temporary name, so readers never see a
 * partial file) and maps it. Returns NULL with errno-based message on failure. */
static uint8_t *build_file(const char *path, const q8_job *jobs, const q8_entry *entries, size_t n, uint64_t key,
                           uint64_t total, progress *bar) {
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return NULL;
    uint8_t *map = NULL;
    if (ftruncate(fd, (off_t)total) == 0) {
        map = mmap(NULL, (size_t)total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED) map = NULL;
    }
    close(fd);
    if (!map) {
        unlink(tmp);
        return NULL;
    }
    build_into(map, jobs, entries, n, key, total, bar);
    if (msync(map, (size_t)total, MS_SYNC) != 0 || rename(tmp, path) != 0) {
        munmap(map, (size_t)total);
        unlink(tmp);
        return NULL;
    }
    mprotect(map, (size_t)total, PROT_READ);
    return map;
}

gptoss_status gptoss_q8cache_attach(gptoss_model *m, const gptoss_model_options *options) {
    const gptoss_config *c = &m->config;
    const size_t max_jobs = (size_t)c->num_hidden_layers * 4 + 1;
    q8_job *jobs = malloc(max_jobs * sizeof *jobs);
    q8_entry *entries = malloc(max_jobs * sizeof *entries);
    if (!jobs || !entries) {
        free(jobs);
        free(entries);
        return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    const size_t n = list_jobs(m, jobs);
    const uint64_t total = layout(jobs, n, entries);
    const uint64_t key = cache_key(jobs, n);

    char dir[4096], path[4200];
    gptoss_q8cache_dir(options ? options->cache_dir : NULL, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%016llx.q8", dir, (unsigned long long)key);
    uint8_t *map = map_existing(path, key, entries, n, total);
    int in_memory = 0;
    if (!map) {
        uint64_t source_bytes = 0;
        for (size_t i = 0; i < n; i++) source_bytes += (uint64_t)jobs[i].rows * jobs[i].cols * sizeof(uint16_t);
        progress bar;
        progress_start(&bar, "requantising dense weights to int8", source_bytes,
                       options && options->show_progress);
        if (make_dirs(dir) == 0) map = build_file(path, jobs, entries, n, key, total, &bar);
        if (!map) { /* read-only or full cache folder: keep the copy in memory */
            fprintf(stderr, "warning: cannot write the int8 cache in %s (%s); keeping it in memory\n", dir,
                    strerror(errno));
            map = mmap(NULL, (size_t)total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (map == MAP_FAILED) map = NULL;
            if (map) build_into(map, jobs, entries, n, key, total, &bar);
            in_memory = 1;
        }
        progress_finish(&bar);
        if (!map) {
            free(jobs);
            free(entries);
            return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "cannot allocate %llu bytes for int8 weights",
                               (unsigned long long)total);
        }
    }
    for (size_t i = 0; i < n; i++) {
        jobs[i].target->q = (const int8_t *)(map + entries[i].q_offset);
        jobs[i].target->scale = (const uint16_t *)(map + entries[i].scale_offset);
    }
    m->q8.map = map;
    m->q8.size = total;
    m->q8.in_memory = in_memory;
    snprintf(m->q8.path, sizeof m->q8.path, "%s", in_memory ? "(memory)" : path);
    free(jobs);
    free(entries);
    return GPTOSS_OK;
}

void gptoss_q8cache_release(q8_cache *cache) {
    if (cache->map) munmap((void *)cache->map, (size_t)cache->size);
    cache->map = NULL;
}
