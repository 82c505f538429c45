/* sampler.c - pick the next token: greedy, or temperature with top-k, top-p
 * and min-p filters, from a seeded xoshiro256** stream (reproducible). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gptoss.h"
#include "rng.h"

typedef struct candidate {
    float logit;
    uint32_t id;
} candidate;

struct gptoss_sampler {
    gptoss_sampler_params params;
    uint32_t vocab_size;
    uint64_t state[4];
    candidate *candidates; /* [vocab_size] */
    double *probs;         /* [vocab_size] */
};

/* Uniform in [0, 1) with 53 random bits. */
static double next_unit(uint64_t s[4]) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }

gptoss_sampler_params gptoss_sampler_default_params(void) {
    return (gptoss_sampler_params){.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = 0};
}

gptoss_status gptoss_sampler_create(const gptoss_sampler_params *p, uint32_t vocab_size, gptoss_sampler **out) {
    *out = NULL;
    if (!(p->temperature >= 0.0f) || isinf(p->temperature))
        return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT, "temperature %g must be >= 0", p->temperature);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f))
        return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT, "top-p %g must be in (0, 1]", p->top_p);
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT, "min-p %g must be in [0, 1]", p->min_p);
    if (vocab_size == 0) return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT, "vocabulary is empty");
    gptoss_sampler *s = calloc(1, sizeof *s);
    if (!s) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    s->params = *p;
    s->vocab_size = vocab_size;
    s->candidates = malloc(vocab_size * sizeof *s->candidates);
    s->probs = malloc(vocab_size * sizeof *s->probs);
    if (!s->candidates || !s->probs) {
        gptoss_sampler_free(s);
        return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    rng_seed(s->state, p->seed);
    *out = s;
    return GPTOSS_OK;
}

void gptoss_sampler_free(gptoss_sampler *s) {
    if (!s) return;
    free(s->candidates);
    free(s->probs);
    free(s);
}

static uint32_t argmax(const float *logits, uint32_t n) {
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

/* Descending logit, then ascending id, so the order is fully determined. */
static int compare_candidates(const void *a, const void *b) {
    const candidate *x = a, *y = b;
    if (x->logit != y->logit) return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Sorts the candidates that can matter to the front and returns how many
 * there are. Only logits within ~20 nats of the best are sorted first; if
 * the top-p nucleus does not fit in them, everything is sorted. */
static uint32_t sort_candidates(gptoss_sampler *s, const float *logits, float max_logit) {
    const gptoss_sampler_params *p = &s->params;
    const uint32_t V = s->vocab_size;
    const float cutoff = max_logit - 20.0f * p->temperature;
    uint32_t n = 0;
    for (uint32_t i = 0; i < V; i++)
        if (logits[i] >= cutoff) s->candidates[n++] = (candidate){logits[i], i};
    if (p->top_p < 1.0f && n < V) {
        /* Mass outside the cut is at most V e^-20 = 4e-4 of the best token's:
         * if the cut set's share already reaches top_p the nucleus is inside it. */
        double inside = 0.0, total = 0.0;
        for (uint32_t i = 0; i < V; i++) {
            double w = exp((double)(logits[i] - max_logit) / p->temperature);
            total += w;
            if (logits[i] >= cutoff) inside += w;
        }
        if (inside < p->top_p * total) {
            n = 0;
            for (uint32_t i = 0; i < V; i++) s->candidates[n++] = (candidate){logits[i], i};
        }
    }
    qsort(s->candidates, n, sizeof *s->candidates, compare_candidates);
    return n;
}

uint32_t gptoss_sampler_sample(gptoss_sampler *s, const float *logits) {
    const gptoss_sampler_params *p = &s->params;
    const uint32_t V = s->vocab_size;
    const uint32_t best = argmax(logits, V);
    if (p->temperature == 0.0f) return best;
    const float max_logit = logits[best];
    uint32_t n;
    if (p->top_k == 0 && p->top_p >= 1.0f) {
        n = V; /* no ordering needed: keep every token in id order */
        for (uint32_t i = 0; i < V; i++) s->candidates[i] = (candidate){logits[i], i};
    } else {
        n = sort_candidates(s, logits, max_logit);
        if (p->top_k > 0 && p->top_k < n) n = p->top_k;
    }
    double total = 0.0;
    for (uint32_t i = 0; i < n; i++) {
        s->probs[i] = exp((double)(s->candidates[i].logit - max_logit) / p->temperature);
        total += s->probs[i];
    }
    if (p->top_p < 1.0f) { /* smallest prefix whose mass reaches top_p */
        double cumulative = 0.0;
        uint32_t keep = n;
        for (uint32_t i = 0; i < n; i++) {
            cumulative += s->probs[i];
            if (cumulative >= p->top_p * total) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
    }
    /* min-p: drop tokens below min_p times the best token's probability (the best has weight 1). */
    double kept = 0.0;
    for (uint32_t i = 0; i < n; i++) {
        if (s->probs[i] < p->min_p) s->probs[i] = 0.0;
        kept += s->probs[i];
    }
    double r = next_unit(s->state) * kept;
    for (uint32_t i = 0; i < n; i++) {
        if (r < s->probs[i]) return s->candidates[i].id;
        r -= s->probs[i];
    }
    /* Rounding left r just past the end: the last token with weight. */
    for (uint32_t i = n; i-- > 0;)
        if (s->probs[i] > 0.0) return s->candidates[i].id;
    return best;
}
