/* test_sampler.c - sampling statistics with fixed seeds. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "gptoss.h"

enum { DRAWS = 200000 };

/* Draws DRAWS samples and returns the frequency of each token. */
static void frequencies(gptoss_sampler_params p, const float *logits, uint32_t vocab, double *freq) {
    gptoss_sampler *s;
    cr_assert_eq(gptoss_sampler_create(&p, vocab, &s), GPTOSS_OK);
    for (uint32_t i = 0; i < vocab; i++) freq[i] = 0;
    for (int i = 0; i < DRAWS; i++) {
        uint32_t token = gptoss_sampler_sample(s, logits);
        cr_assert_lt(token, vocab);
        freq[token] += 1.0 / DRAWS;
    }
    gptoss_sampler_free(s);
}

/* 5 standard deviations of a frequency estimate, at least 0.002. */
static void expect_distribution(const double *freq, const double *want, uint32_t n, const char *what) {
    for (uint32_t i = 0; i < n; i++) {
        double sd = sqrt(want[i] * (1 - want[i]) / DRAWS), tol = fmax(5 * sd, 0.002);
        cr_expect(fabs(freq[i] - want[i]) <= tol, "%s: token %u frequency %.4f, expected %.4f", what, i, freq[i],
                  want[i]);
    }
}

/* Probabilities 0.1, 0.2, 0.3, 0.4. */
static const float logits4[4] = {0.0f, 0.69314718f, 1.09861229f, 1.38629436f};

static gptoss_sampler_params params(float temperature, uint32_t top_k, float top_p, float min_p) {
    gptoss_sampler_params p = gptoss_sampler_default_params();
    p.temperature = temperature;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.seed = 1234;
    return p;
}

Test(sampler, temperature_one_follows_softmax) {
    double f[4], want[4] = {0.1, 0.2, 0.3, 0.4};
    frequencies(params(1, 0, 1, 0), logits4, 4, f);
    expect_distribution(f, want, 4, "T=1");
}

Test(sampler, temperature_sharpens) {
    double f[4], want[4] = {1 / 30.0, 4 / 30.0, 9 / 30.0, 16 / 30.0}; /* p^2 renormalised */
    frequencies(params(0.5f, 0, 1, 0), logits4, 4, f);
    expect_distribution(f, want, 4, "T=0.5");
}

Test(sampler, top_k) {
    double f[4], want[4] = {0, 0, 3 / 7.0, 4 / 7.0};
    frequencies(params(1, 2, 1, 0), logits4, 4, f);
    expect_distribution(f, want, 4, "top-k 2");
}

Test(sampler, top_p) {
    double f[4], two[4] = {0, 0, 3 / 7.0, 4 / 7.0}, one[4] = {0, 0, 0, 1};
    frequencies(params(1, 0, 0.5f, 0), logits4, 4, f); /* 0.4 < 0.5 <= 0.7 */
    expect_distribution(f, two, 4, "top-p 0.5");
    frequencies(params(1, 0, 0.35f, 0), logits4, 4, f); /* 0.35 <= 0.4 */
    expect_distribution(f, one, 4, "top-p 0.35");
}

Test(sampler, min_p) {
    double f[4], want[4] = {0, 2 / 9.0, 3 / 9.0, 4 / 9.0}; /* keep p >= 0.45 * 0.4 = 0.18 */
    frequencies(params(1, 0, 1, 0.45f), logits4, 4, f);
    expect_distribution(f, want, 4, "min-p 0.45");
    double strict[4] = {0, 0, 3 / 7.0, 4 / 7.0}; /* keep p >= 0.6 * 0.4 = 0.24 */
    frequencies(params(1, 0, 1, 0.6f), logits4, 4, f);
    expect_distribution(f, strict, 4, "min-p 0.6");
}

Test(sampler, greedy_takes_lowest_id_on_ties) {
    float logits[5] = {1.0f, 3.0f, 2.0f, 3.0f, -1.0f};
    gptoss_sampler_params p = params(0, 0, 1, 0);
    gptoss_sampler *s;
    cr_assert_eq(gptoss_sampler_create(&p, 5, &s), GPTOSS_OK);
    for (int i = 0; i < 10; i++) cr_expect_eq(gptoss_sampler_sample(s, logits), 1);
    gptoss_sampler_free(s);
}

Test(sampler, same_seed_same_draws) {
    enum { V = 1000, N = 200 };
    float *logits = malloc(V * sizeof *logits);
    for (int i = 0; i < V; i++) logits[i] = sinf((float)i) * 3.0f;
    gptoss_sampler_params p = params(1.0f, 40, 0.9f, 0.0f);
    gptoss_sampler *a, *b, *c;
    cr_assert_eq(gptoss_sampler_create(&p, V, &a), GPTOSS_OK);
    cr_assert_eq(gptoss_sampler_create(&p, V, &b), GPTOSS_OK);
    p.seed = 99;
    cr_assert_eq(gptoss_sampler_create(&p, V, &c), GPTOSS_OK);
    int differ = 0;
    for (int i = 0; i < N; i++) {
        uint32_t x = gptoss_sampler_sample(a, logits), y = gptoss_sampler_sample(b, logits);
        cr_assert_eq(x, y, "draw %d differs with the same seed", i);
        differ += gptoss_sampler_sample(c, logits) != x;
    }
    cr_expect_gt(differ, N / 4, "another seed should give other draws");
    gptoss_sampler_free(a);
    gptoss_sampler_free(b);
    gptoss_sampler_free(c);
    free(logits);
}

/* A flat distribution over a large vocabulary: the top-p nucleus spans almost
 * every token, so the sampler must not restrict itself to a short list. */
Test(sampler, wide_nucleus_reaches_every_token) {
    enum { V = 2000 };
    float *logits = calloc(V, sizeof *logits);
    gptoss_sampler_params p = params(1.0f, 0, 0.999f, 0.0f);
    gptoss_sampler *s;
    cr_assert_eq(gptoss_sampler_create(&p, V, &s), GPTOSS_OK);
    uint32_t highest = 0;
    for (int i = 0; i < 2000; i++) {
        uint32_t t = gptoss_sampler_sample(s, logits);
        if (t > highest) highest = t;
    }
    cr_expect_gt(highest, V * 9 / 10, "highest id drawn %u", highest);
    gptoss_sampler_free(s);
    free(logits);
}

/* Logits far apart: the cut to ~20 nats keeps the result exact in practice. */
Test(sampler, nucleus_with_far_tail) {
    enum { V = 400 };
    float *logits = malloc(V * sizeof *logits);
    for (int i = 0; i < V; i++) logits[i] = -30.0f;
    logits[10] = 0.0f;
    logits[20] = -1.0f;
    double *f = malloc(V * sizeof *f), *want = calloc(V, sizeof *want);
    frequencies(params(1.0f, 0, 0.95f, 0.0f), logits, V, f);
    const double e = exp(-1.0);
    want[10] = 1 / (1 + e);
    want[20] = e / (1 + e);
    expect_distribution(f, want, V, "far tail");
    free(f);
    free(want);
    free(logits);
}

Test(sampler, rejects_bad_params) {
    gptoss_sampler *s;
    gptoss_sampler_params p = params(-1, 0, 1, 0);
    cr_expect_eq(gptoss_sampler_create(&p, 10, &s), GPTOSS_ERROR_INVALID_ARGUMENT);
    p = params(1, 0, 0, 0);
    cr_expect_eq(gptoss_sampler_create(&p, 10, &s), GPTOSS_ERROR_INVALID_ARGUMENT);
    p = params(1, 0, 1, 1.5f);
    cr_expect_eq(gptoss_sampler_create(&p, 10, &s), GPTOSS_ERROR_INVALID_ARGUMENT);
}
