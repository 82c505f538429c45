/* numeric.h - bf16, MXFP4 (E2M1 values, E8M0 scales) conversions. */
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

#endif
