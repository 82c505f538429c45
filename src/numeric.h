/* numeric.h - bf16, MXFP4 (E2M1 values, E8M0 scales) conversions, and the
 * exponential the vector loops use. */
#ifndef GPTOSS_NUMERIC_H
#define GPTOSS_NUMERIC_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float bf16_to_f32(uint16_t bits) {
    uint32_t wide = (uint32_t)bits << 16;
    float value;
    memcpy(&value, &wide, sizeof value);
    return value;
}

/* Round to nearest even; NaN stays NaN. */
static inline uint16_t f32_to_bf16(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40);
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

/* The 16 E2M1 values (bit 3 sign, bits 2..1 exponent, bit 0 mantissa). */
extern const float gptoss_fp4_values[16];

/* E8M0 scale byte -> 2^(byte - 127), exact (subnormal at 0, inf at 255). */
static inline float e8m0_to_f32(uint8_t byte) { return ldexpf(1.0f, (int)byte - 127); }

/* The core is built for the baseline ISA; on x86-64 Linux the compiler also
 * emits AVX2 and AVX-512 versions of loops marked with this, chosen when the
 * program loads (the matmuls have their own per-ISA kernels in simd/). */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTOR_CLONES
#endif

/* e^x for x in [-87, 88] (callers clamp), within 2 ulp of expf: Cephes'
 * polynomial on x - n ln2 and 2^n built in the exponent bits. Branch-free,
 * so the loops that call it vectorise where libm's expf would not. */
static inline float exp_poly(float x) {
    const float round_shift = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    const float n = (x * 1.44269504088896341f + round_shift) - round_shift;
    float r = x - n * 0.693359375f; /* ln2 in two parts, so r stays exact */
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { int32_t bits; float value; } scale = {.bits = ((int32_t)n + 127) * (1 << 23)};
    return p * scale.value;
}

#endif
