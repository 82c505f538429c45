/* test_reference.c - the forward pass against OpenAI's reference logits.
 *
 * For each fixture: logits of every position (one prefill, and one token at a
 * time through the KV cache) within 1e-3 x max|reference logit|, the same
 * top-1 everywhere, and greedy generation reproducing the reference tokens. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gptoss.h"
#include "test_support.h"

typedef struct loaded {
    gptoss_model *model;
    gptoss_context *ctx;
    reference_data ref;
    size_t vocab;
} loaded;

static loaded load_fixture_with(const char *name, gptoss_kernel_isa isa) {
    loaded l = {0};
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", fixture_path(name));
    gptoss_model_options options = {.kernels = isa, .precision = GPTOSS_PRECISION_EXACT};
    cr_assert_eq(gptoss_model_load(dir, &options, &l.model), GPTOSS_OK, "%s", gptoss_last_error());
    cr_assert_eq(gptoss_context_create(l.model, 0, &l.ctx), GPTOSS_OK, "%s", gptoss_last_error());
    l.vocab = gptoss_model_config(l.model)->vocab_size;
    l.ref = load_reference(name, l.vocab);
    return l;
}

static loaded load_fixture(const char *name) { return load_fixture_with(name, GPTOSS_KERNELS_SCALAR); }

static void unload(loaded *l) {
    free_reference(&l->ref);
    gptoss_context_free(l->ctx);
    gptoss_model_free(l->model);
}

static void check_logits(const char *what, const float *got, const reference_data *ref) {
    const size_t V = ref->vocab;
    const float limit = 1e-3f * max_abs(ref->logits, ref->n_sequence * V);
    for (size_t p = 0; p < ref->n_sequence; p++) {
        const float *want = ref->logits + p * V, *have = got + p * V;
        float err = max_abs_diff(have, want, V);
        cr_expect_leq(err, limit, "%s: position %zu: max abs error %g > %g", what, p, err, limit);
        cr_expect_eq(argmax_f32(have, V), argmax_f32(want, V), "%s: position %zu: top-1 differs", what, p);
    }
    float worst = max_abs_diff(got, ref->logits, ref->n_sequence * V);
    cr_log_info("%s: max abs error %.3g (limit %.3g)", what, worst, limit);
}

static void prefill_matches(const char *name) {
    loaded l = load_fixture(name);
    float *logits = malloc(l.ref.n_sequence * l.vocab * sizeof(float));
    cr_assert_eq(gptoss_context_eval(l.ctx, l.ref.sequence, (uint32_t)l.ref.n_sequence, GPTOSS_LOGITS_ALL, logits),
                 GPTOSS_OK, "%s", gptoss_last_error());
    cr_assert_eq(gptoss_context_position(l.ctx), l.ref.n_sequence);
    check_logits(name, logits, &l.ref);
    free(logits);
    unload(&l);
}

static void step_matches(const char *name) {
    loaded l = load_fixture(name);
    float *logits = malloc(l.ref.n_sequence * l.vocab * sizeof(float));
    for (size_t p = 0; p < l.ref.n_sequence; p++)
        cr_assert_eq(gptoss_context_eval(l.ctx, &l.ref.sequence[p], 1, GPTOSS_LOGITS_LAST, logits + p * l.vocab),
                     GPTOSS_OK, "%s", gptoss_last_error());
    check_logits(name, logits, &l.ref);
    free(logits);
    unload(&l);
}

/* Uneven batches (prompt, then chunks of 3) must agree with one prefill. */
static void chunks_match_prefill(const char *name) {
    loaded l = load_fixture(name);
    const size_t n = l.ref.n_sequence, V = l.vocab;
    float *whole = malloc(n * V * sizeof(float)), *parts = malloc(n * V * sizeof(float));
    cr_assert_eq(gptoss_context_eval(l.ctx, l.ref.sequence, (uint32_t)n, GPTOSS_LOGITS_ALL, whole), GPTOSS_OK);
    gptoss_context_reset(l.ctx);
    for (size_t p = 0; p < n;) {
        uint32_t count = (uint32_t)(n - p < 3 ? n - p : 3);
        cr_assert_eq(gptoss_context_eval(l.ctx, l.ref.sequence + p, count, GPTOSS_LOGITS_ALL, parts + p * V),
                     GPTOSS_OK);
        p += count;
    }
    float err = max_abs_diff(whole, parts, n * V);
    cr_expect_leq(err, 1e-5f * max_abs(whole, n * V), "%s: chunked vs whole prefill differ by %g", name, err);
    free(whole);
    free(parts);
    unload(&l);
}

static void greedy_matches(const char *name) {
    loaded l = load_fixture(name);
    gptoss_sampler_params params = gptoss_sampler_default_params();
    params.temperature = 0.0f;
    gptoss_sampler *sampler;
    cr_assert_eq(gptoss_sampler_create(&params, (uint32_t)l.vocab, &sampler), GPTOSS_OK);
    float *logits = malloc(l.vocab * sizeof(float));
    cr_assert_eq(gptoss_context_eval(l.ctx, l.ref.prompt, (uint32_t)l.ref.n_prompt, GPTOSS_LOGITS_LAST, logits),
                 GPTOSS_OK);
    for (size_t i = 0; i < l.ref.n_greedy; i++) {
        uint32_t token = gptoss_sampler_sample(sampler, logits);
        cr_expect_eq(token, l.ref.greedy[i], "%s: greedy token %zu is %u, reference %u", name, i, token,
                     l.ref.greedy[i]);
        cr_assert_eq(gptoss_context_eval(l.ctx, &token, 1, GPTOSS_LOGITS_LAST, logits), GPTOSS_OK);
    }
    gptoss_sampler_free(sampler);
    free(logits);
    unload(&l);
}

Test(reference, tiny_prefill) { prefill_matches("tiny"); }
Test(reference, tiny_step) { step_matches("tiny"); }
Test(reference, tiny_chunks) { chunks_match_prefill("tiny"); }
Test(reference, tiny_greedy) { greedy_matches("tiny"); }
Test(reference, small_prefill) { prefill_matches("small"); }
Test(reference, small_step) { step_matches("small"); }
Test(reference, small_chunks) { chunks_match_prefill("small"); }
Test(reference, small_greedy) { greedy_matches("small"); }

/* The CLI contract: `gptoss logits` writes [n, vocab] float32 with no header
 * (both modes), `gptoss generate` prints exactly N ids on one line. */
static char *join_ids(const uint32_t *ids, size_t n) {
    char *text = malloc(n * 12 + 1);
    size_t used = 0;
    for (size_t i = 0; i < n; i++) used += (size_t)sprintf(text + used, i ? ",%u" : "%u", ids[i]);
    text[used] = '\0';
    return text;
}

static void cli_logits_match(const char *name, int step) {
    loaded l = load_fixture(name);
    char *dir = make_temp_dir(), out[4096], model_dir[4096];
    snprintf(out, sizeof out, "%s/logits.bin", dir);
    snprintf(model_dir, sizeof model_dir, "%s", fixture_path(name));
    char *tokens = join_ids(l.ref.sequence, l.ref.n_sequence);
    char *argv[] = {GPTOSS_BINARY, "logits", "--model", model_dir, "--tokens", tokens, "--out", out,
                    step ? "--step" : NULL, NULL};
    command_result r = run_command(argv, NULL);
    cr_assert_eq(r.exit_code, 0, "gptoss logits failed: %s", r.err);
    cr_expect_str_empty(r.out, "logits prints nothing on stdout");
    size_t size;
    float *got = read_whole_file(out, &size);
    cr_assert_eq(size, l.ref.n_sequence * l.vocab * sizeof(float), "output has %zu bytes", size);
    check_logits(step ? "cli --step" : "cli prefill", got, &l.ref);
    free(got);
    free(tokens);
    command_result_free(&r);
    remove_dir(dir);
    free(dir);
    unload(&l);
}

Test(cli, logits_prefill_tiny) { cli_logits_match("tiny", 0); }
Test(cli, logits_step_small) { cli_logits_match("small", 1); }

Test(cli, generate_greedy_small) {
    loaded l = load_fixture("small");
    char model_dir[4096], n[16];
    snprintf(model_dir, sizeof model_dir, "%s", fixture_path("small"));
    snprintf(n, sizeof n, "%zu", l.ref.n_greedy);
    char *prompt = join_ids(l.ref.prompt, l.ref.n_prompt), *want = join_ids(l.ref.greedy, l.ref.n_greedy);
    char *argv[] = {GPTOSS_BINARY, "generate", "--model", model_dir, "--tokens", prompt, "-n", n, NULL};
    command_result r = run_command(argv, NULL);
    cr_assert_eq(r.exit_code, 0, "gptoss generate failed: %s", r.err);
    char expected[4096];
    snprintf(expected, sizeof expected, "%s\n", want);
    cr_expect_str_eq(r.out, expected);
    command_result_free(&r);
    free(prompt);
    free(want);
    unload(&l);
}

/* Sampling output has the right shape and is reproducible for a seed. */
Test(cli, generate_sampled_is_reproducible) {
    char model_dir[4096];
    snprintf(model_dir, sizeof model_dir, "%s", fixture_path("tiny"));
    char *argv[] = {GPTOSS_BINARY, "generate", "--model", model_dir, "--tokens", "1,2,3", "-n", "20",
                    "--temperature", "1.5", "--top-p", "0.95", "--top-k", "50", "--min-p", "0.01",
                    "--seed", "7", NULL};
    command_result a = run_command(argv, NULL), b = run_command(argv, NULL);
    cr_assert_eq(a.exit_code, 0, "%s", a.err);
    cr_expect_str_eq(a.out, b.out, "same seed, different output");
    size_t commas = 0;
    for (const char *p = a.out; *p; p++) {
        cr_assert(*p == ',' || *p == '\n' || (*p >= '0' && *p <= '9'), "unexpected character in '%s'", a.out);
        commas += *p == ',';
    }
    cr_expect_eq(commas, 19, "expected 20 ids, got '%s'", a.out);
    command_result_free(&a);
    command_result_free(&b);
}

/* Exact precision must meet the same bound with every kernel set this CPU
 * runs, in one prefill and one token at a time. */
static void every_isa_matches(const char *name) {
    const gptoss_kernel_isa isas[] = {GPTOSS_KERNELS_SCALAR, GPTOSS_KERNELS_AVX2, GPTOSS_KERNELS_AVX512,
                                      GPTOSS_KERNELS_NEON};
    int tested = 0;
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
        gptoss_model_options probe = {.kernels = isas[i]};
        gptoss_model *m;
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", fixture_path(name));
        if (gptoss_model_load(dir, &probe, &m) != GPTOSS_OK) continue; /* not on this CPU */
        gptoss_model_free(m);
        loaded l = load_fixture_with(name, isas[i]);
        const size_t n = l.ref.n_sequence, V = l.vocab;
        float *logits = malloc(n * V * sizeof(float));
        char what[128];
        cr_assert_eq(gptoss_context_eval(l.ctx, l.ref.sequence, (uint32_t)n, GPTOSS_LOGITS_ALL, logits), GPTOSS_OK);
        snprintf(what, sizeof what, "%s prefill (%s)", name, gptoss_model_kernels(l.model));
        check_logits(what, logits, &l.ref);
        gptoss_context_reset(l.ctx);
        for (size_t p = 0; p < n; p++)
            cr_assert_eq(gptoss_context_eval(l.ctx, &l.ref.sequence[p], 1, GPTOSS_LOGITS_LAST, logits + p * V),
                         GPTOSS_OK);
        snprintf(what, sizeof what, "%s step (%s)", name, gptoss_model_kernels(l.model));
        check_logits(what, logits, &l.ref);
        free(logits);
        unload(&l);
        tested++;
    }
    cr_expect_geq(tested, 1);
}

Test(reference, tiny_every_isa) { every_isa_matches("tiny"); }
Test(reference, small_every_isa) { every_isa_matches("small"); }
