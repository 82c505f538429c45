/* test_moe.c - router top-k (ties to the lower index), softmax over the
 * chosen k, and the clamped SwiGLU on interleaved gate/up rows. */
#include <criterion/criterion.h>
#include <math.h>

#include "moe.h"

Test(router, ties_go_to_lower_index) {
    float logits[6] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    uint32_t experts[4];
    float weights[4];
    gptoss_router_topk(logits, 6, 4, experts, weights);
    for (uint32_t j = 0; j < 4; j++) {
        cr_expect_eq(experts[j], j);
        cr_expect_float_eq(weights[j], 0.25f, 1e-7);
    }
    float some_tied[5] = {1.0f, 3.0f, 2.0f, 3.0f, 2.0f};
    gptoss_router_topk(some_tied, 5, 3, experts, weights);
    cr_expect(experts[0] == 1 && experts[1] == 3 && experts[2] == 2, "got %u %u %u", experts[0], experts[1],
              experts[2]);
}

Test(router, softmax_over_chosen_only) {
    float logits[5] = {-1.0f, 2.0f, 0.0f, 1.0f, -3.0f};
    uint32_t experts[2];
    float weights[2];
    gptoss_router_topk(logits, 5, 2, experts, weights);
    cr_expect(experts[0] == 1 && experts[1] == 3);
    const double e = exp(1.0);
    cr_expect_float_eq(weights[0], (float)(e / (e + 1)), 1e-6);
    cr_expect_float_eq(weights[1], (float)(1 / (e + 1)), 1e-6);
    cr_expect_float_eq(weights[0] + weights[1], 1.0f, 1e-6, "the k weights sum to 1");
}

Test(router, k_equals_experts_and_negative_logits) {
    float logits[3] = {-5.0f, -7.0f, -6.0f};
    uint32_t experts[3];
    float weights[3];
    gptoss_router_topk(logits, 3, 3, experts, weights);
    cr_expect(experts[0] == 0 && experts[1] == 2 && experts[2] == 1);
}

static double swiglu_ref(double gate, double up, double limit) {
    gate = fmin(gate, limit);
    up = fmin(fmax(up, -limit), limit);
    return gate / (1 + exp(-1.702 * gate)) * (up + 1);
}

Test(swiglu, interleaved_and_clamped) {
    /* (gate, up) pairs: plain, gate above the limit, gate far below (no lower
     * clamp), up above and below the limit. */
    float u[] = {0.5f, -0.25f, 9.0f, 1.0f, -20.0f, 2.0f, 1.0f, 8.0f, 2.0f, -9.0f};
    float out[5];
    gptoss_swiglu(u, 5, 7.0f, out);
    for (int i = 0; i < 5; i++)
        cr_expect_float_eq(out[i], (float)swiglu_ref(u[2 * i], u[2 * i + 1], 7.0), 1e-6,
                           "pair %d: got %g want %g", i, out[i], swiglu_ref(u[2 * i], u[2 * i + 1], 7.0));
    cr_expect_float_eq(out[1], (float)(7.0 / (1 + exp(-1.702 * 7.0)) * 2.0), 1e-5, "gate clamped to 7");
    cr_expect_float_eq(out[4], (float)(2.0 / (1 + exp(-1.702 * 2.0)) * -6.0), 1e-5, "up clamped to -7");
}
