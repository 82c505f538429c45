/* test_prefix.c - reusing a context for a new prompt: stepping back within
 * the sliding rings' slack, through the end-of-prompt snapshot, or by
 * recomputing, must give the logits a fresh context computes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gptoss.h"
#include "test_support.h"

static gptoss_model *model;
static size_t vocab;

static void setup(void) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", fixture_path("tiny")); /* window 8, 4 layers, sliding + full */
    cr_assert_eq(gptoss_model_load(dir, NULL, &model), GPTOSS_OK, "%s", gptoss_last_error());
    vocab = gptoss_model_config(model)->vocab_size;
}

static void teardown(void) { gptoss_model_free(model); }

static uint32_t *random_tokens(size_t n, uint32_t seed) {
    uint32_t *t = malloc(n * sizeof *t);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        t[i] = (seed >> 16) % (uint32_t)vocab;
    }
    return t;
}

/* Logits of the last token of `tokens` from a fresh context. */
static float *fresh_logits(const uint32_t *tokens, uint32_t n) {
    gptoss_context *ctx;
    cr_assert_eq(gptoss_context_create(model, 1024, &ctx), GPTOSS_OK);
    float *logits = malloc(vocab * sizeof *logits);
    cr_assert_eq(gptoss_context_eval(ctx, tokens, n, GPTOSS_LOGITS_LAST, logits), GPTOSS_OK);
    gptoss_context_free(ctx);
    return logits;
}

static void expect_same(const float *a, const float *b, const char *what) {
    float err = max_abs_diff(a, b, vocab);
    cr_expect_leq(err, 1e-5f * max_abs(b, vocab), "%s: logits differ by %g", what, err);
}

/* A chat turn: prompt 1, generated tokens, then prompt 2 = prompt 1 + one
 * shared token + new text (the reply's reasoning dropped). */
static void chat_turn(uint32_t n_generated) {
    const uint32_t n1 = 40, n_new = 25;
    uint32_t *p1 = random_tokens(n1, 1), *gen = random_tokens(n_generated, 2), *fresh = random_tokens(n_new, 3);
    gptoss_context *ctx;
    cr_assert_eq(gptoss_context_create(model, 1024, &ctx), GPTOSS_OK);
    float *logits = malloc(vocab * sizeof *logits);
    uint32_t processed;
    cr_assert_eq(gptoss_context_eval_prompt(ctx, p1, n1, logits, &processed), GPTOSS_OK);
    cr_expect_eq(processed, n1);
    for (uint32_t i = 0; i < n_generated; i++)
        cr_assert_eq(gptoss_context_eval(ctx, &gen[i], 1, GPTOSS_LOGITS_LAST, logits), GPTOSS_OK);
    /* prompt 2: p1, the first generated token (shared), then new tokens */
    const uint32_t n2 = n1 + 1 + n_new;
    uint32_t *p2 = malloc(n2 * sizeof *p2);
    memcpy(p2, p1, n1 * sizeof *p1);
    p2[n1] = gen[0];
    memcpy(p2 + n1 + 1, fresh, n_new * sizeof *fresh);
    cr_assert_eq(gptoss_context_eval_prompt(ctx, p2, n2, logits, &processed), GPTOSS_OK, "%s", gptoss_last_error());
    cr_expect_eq(gptoss_context_position(ctx), n2);
    cr_expect_leq(processed, n_new + 1, "%u generated: reprocessed %u tokens, expected at most %u", n_generated,
                  processed, n_new + 1);
    cr_expect(!memcmp(gptoss_context_tokens(ctx), p2, n2 * sizeof *p2));
    float *want = fresh_logits(p2, n2);
    expect_same(logits, want, "second turn");
    /* ... and decoding goes on correctly from there. */
    uint32_t next = 7;
    cr_assert_eq(gptoss_context_eval(ctx, &next, 1, GPTOSS_LOGITS_LAST, logits), GPTOSS_OK);
    uint32_t *p3 = malloc((n2 + 1) * sizeof *p3);
    memcpy(p3, p2, n2 * sizeof *p2);
    p3[n2] = next;
    float *want3 = fresh_logits(p3, n2 + 1);
    expect_same(logits, want3, "decode after reuse");
    free(p1), free(gen), free(fresh), free(p2), free(p3), free(logits), free(want), free(want3);
    gptoss_context_free(ctx);
}

/* 30 generated tokens: stepping back stays within the rings' slack. */
TestSuite(prefix, .init = setup, .fini = teardown);
Test(prefix, short_reply_within_slack) { chat_turn(30); }
/* 400 generated tokens: the rings wrapped; the snapshot restores them. */
Test(prefix, long_reply_through_snapshot) { chat_turn(400); }

/* Stepping far back with no usable snapshot recomputes the prefix. */
Test(prefix, truncate_recomputes_without_snapshot) {
    const uint32_t n = 600, keep = 50;
    uint32_t *tokens = random_tokens(n, 9);
    gptoss_context *ctx;
    cr_assert_eq(gptoss_context_create(model, 1024, &ctx), GPTOSS_OK);
    cr_assert_eq(gptoss_context_eval(ctx, tokens, n, GPTOSS_LOGITS_NONE, NULL), GPTOSS_OK);
    uint32_t redone;
    cr_assert_eq(gptoss_context_truncate(ctx, keep, &redone), GPTOSS_OK);
    cr_expect_eq(redone, keep, "no snapshot: the whole prefix is recomputed");
    cr_expect_eq(gptoss_context_position(ctx), keep);
    float *logits = malloc(vocab * sizeof *logits);
    cr_assert_eq(gptoss_context_eval(ctx, &tokens[keep], 1, GPTOSS_LOGITS_LAST, logits), GPTOSS_OK);
    float *want = fresh_logits(tokens, keep + 1);
    expect_same(logits, want, "after recomputation");
    cr_expect_eq(gptoss_context_truncate(ctx, keep + 5, NULL), GPTOSS_ERROR_INVALID_ARGUMENT);
    free(tokens), free(logits), free(want);
    gptoss_context_free(ctx);
}

/* The same prompt twice: only its last token runs again. */
Test(prefix, identical_prompt_reuses_everything_but_the_last_token) {
    uint32_t *tokens = random_tokens(100, 5), processed;
    gptoss_context *ctx;
    cr_assert_eq(gptoss_context_create(model, 1024, &ctx), GPTOSS_OK);
    float *a = malloc(vocab * sizeof *a), *b = malloc(vocab * sizeof *b);
    cr_assert_eq(gptoss_context_eval_prompt(ctx, tokens, 100, a, &processed), GPTOSS_OK);
    cr_assert_eq(gptoss_context_eval_prompt(ctx, tokens, 100, b, &processed), GPTOSS_OK);
    cr_expect_eq(processed, 1);
    expect_same(b, a, "same prompt");
    /* A prompt diverging at token 0 starts over. */
    tokens[0] = (tokens[0] + 1) % (uint32_t)vocab;
    cr_assert_eq(gptoss_context_eval_prompt(ctx, tokens, 100, b, &processed), GPTOSS_OK);
    cr_expect_eq(processed, 100);
    free(tokens), free(a), free(b);
    gptoss_context_free(ctx);
}
