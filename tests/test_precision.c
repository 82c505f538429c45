/* test_precision.c - the fast precision (int8 activations, int8 dense weights
 * from the cache file) against the exact one, and the cache file's life:
 * built once, mapped on later loads, rebuilt when stale or corrupt, kept in
 * memory when the cache folder is not writable. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gptoss.h"
#include "test_support.h"

/* Logits of every position of the fixture's reference sequence. */
static float *run(const char *fixture, gptoss_precision precision, const char *cache_dir, size_t *n, size_t *vocab) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", fixture_path(fixture));
    gptoss_model_options options = {.precision = precision, .cache_dir = cache_dir};
    gptoss_model *model;
    gptoss_context *ctx;
    cr_assert_eq(gptoss_model_load(dir, &options, &model), GPTOSS_OK, "%s", gptoss_last_error());
    cr_assert_eq(gptoss_model_precision(model), precision);
    cr_assert_eq(gptoss_context_create(model, 0, &ctx), GPTOSS_OK);
    *vocab = gptoss_model_config(model)->vocab_size;
    reference_data ref = load_reference(fixture, *vocab);
    *n = ref.n_sequence;
    float *logits = malloc(*n * *vocab * sizeof *logits);
    cr_assert_eq(gptoss_context_eval(ctx, ref.sequence, (uint32_t)*n, GPTOSS_LOGITS_ALL, logits), GPTOSS_OK);
    free_reference(&ref);
    gptoss_context_free(ctx);
    gptoss_model_free(model);
    return logits;
}

typedef struct agreement {
    float max_err_rel; /* max |fast - exact| / max |exact| */
    float min_cosine, mean_cosine;
    size_t top1_same, positions;
} agreement;

static agreement compare(const float *exact, const float *fast, size_t n, size_t V) {
    agreement a = {.min_cosine = 1.0f, .positions = n};
    a.max_err_rel = max_abs_diff(fast, exact, n * V) / max_abs(exact, n * V);
    double cos_sum = 0;
    for (size_t p = 0; p < n; p++) {
        const float *e = exact + p * V, *f = fast + p * V;
        double dot = 0, ee = 0, ff = 0;
        for (size_t i = 0; i < V; i++) dot += (double)e[i] * f[i], ee += (double)e[i] * e[i], ff += (double)f[i] * f[i];
        const float cosine = (float)(dot / sqrt(ee * ff));
        a.min_cosine = fminf(a.min_cosine, cosine);
        cos_sum += cosine;
        a.top1_same += argmax_f32(e, V) == argmax_f32(f, V);
    }
    a.mean_cosine = (float)(cos_sum / (double)n);
    return a;
}

/* The fixtures are random models whose routing has thin margins: int8 noise
 * flips a near-tied expert choice now and then (the reference's own bf16 run
 * differs from float32 by 4.5% of max |logit| on tiny). The bounds here catch
 * a broken fast path; the figures are printed for the record. */
static void fast_vs_exact(const char *fixture) {
    char *cache = make_temp_dir();
    size_t n, V;
    float *exact = run(fixture, GPTOSS_PRECISION_EXACT, cache, &n, &V);
    float *fast = run(fixture, GPTOSS_PRECISION_FAST, cache, &n, &V);
    agreement a = compare(exact, fast, n, V);
    fprintf(stderr, "%s fast vs exact: max abs error %.2f%% of max |logit|, top-1 %zu/%zu, cosine min %.5f mean %.5f\n",
            fixture, 100 * a.max_err_rel, a.top1_same, a.positions, a.min_cosine, a.mean_cosine);
    cr_expect_leq(a.max_err_rel, 0.25f);
    cr_expect_geq(a.min_cosine, 0.97f);
    cr_expect_geq(a.mean_cosine, 0.99f);
    cr_expect_geq(a.top1_same * 10, a.positions * 9, "top-1 agreement below 90%%");
    free(exact);
    free(fast);
    remove_dir(cache);
    free(cache);
}

Test(precision, tiny_fast_vs_exact) { fast_vs_exact("tiny"); }
Test(precision, small_fast_vs_exact) { fast_vs_exact("small"); }

static int count_cache_files(const char *dir, char *name, size_t size) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".q8") && !strstr(e->d_name, ".tmp")) {
            count++;
            snprintf(name, size, "%s/%s", dir, e->d_name);
        }
    closedir(d);
    return count;
}

Test(precision, cache_built_once_then_mapped) {
    char *cache = make_temp_dir(), file[4400];
    size_t n, V;
    float *first = run("small", GPTOSS_PRECISION_FAST, cache, &n, &V);
    cr_assert_eq(count_cache_files(cache, file, sizeof file), 1, "one cache file after the first load");
    struct stat before, after;
    cr_assert_eq(stat(file, &before), 0);
    float *second = run("small", GPTOSS_PRECISION_FAST, cache, &n, &V);
    cr_assert_eq(stat(file, &after), 0);
    cr_expect_eq(before.st_mtime, after.st_mtime, "the second load must map, not rebuild");
    cr_expect_eq(before.st_ino, after.st_ino);
    cr_expect(!memcmp(first, second, n * V * sizeof(float)), "same weights, same logits");
    cr_expect_eq(count_cache_files(cache, file, sizeof file), 1);

    /* A corrupt file (wrong magic) is rebuilt, giving the same logits again. */
    FILE *f = fopen(file, "r+b");
    cr_assert_not_null(f);
    fputs("XXXX", f);
    fclose(f);
    float *third = run("small", GPTOSS_PRECISION_FAST, cache, &n, &V);
    cr_expect(!memcmp(first, third, n * V * sizeof(float)), "rebuilt cache gives the same logits");
    free(first), free(second), free(third);
    remove_dir(cache);
    free(cache);
}

Test(precision, unwritable_cache_dir_falls_back_to_memory) {
    char *cache = make_temp_dir(), blocked[4200];
    /* A regular file where the folder should be: cannot create anything under it. */
    snprintf(blocked, sizeof blocked, "%s/not-a-dir", cache);
    cr_assert_eq(write_whole_file(blocked, "x", 1), 0);
    char below[4300];
    snprintf(below, sizeof below, "%s/cache", blocked);
    size_t n, V;
    float *memory = run("tiny", GPTOSS_PRECISION_FAST, below, &n, &V);
    float *on_disk = run("tiny", GPTOSS_PRECISION_FAST, cache, &n, &V);
    cr_expect(!memcmp(memory, on_disk, n * V * sizeof(float)), "in-memory and cached int8 weights agree");
    free(memory), free(on_disk);
    remove_dir(cache);
    free(cache);
}

/* Different weights must never share a cache file. */
Test(precision, cache_key_follows_the_weights) {
    char *cache = make_temp_dir(), file[4400];
    size_t n, V;
    free(run("tiny", GPTOSS_PRECISION_FAST, cache, &n, &V));
    free(run("small", GPTOSS_PRECISION_FAST, cache, &n, &V));
    cr_expect_eq(count_cache_files(cache, file, sizeof file), 2);
    remove_dir(cache);
    free(cache);
}
