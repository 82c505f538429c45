/* avx512_transpose.h - in-register transposes of 32-bit lanes, shared by the
 * int8 tile kernels (avx512_int8.h) and attention's key tiles (attention.c,
 * which is built without AVX-512 flags: hence the target attribute). */
#ifndef GPTOSS_AVX512_TRANSPOSE_H
#define GPTOSS_AVX512_TRANSPOSE_H

#include <immintrin.h>

#define TRANSPOSE_INLINE static inline __attribute__((target("avx512f"), always_inline))

/* In-lane 4x4 transpose of 32-bit elements: afterwards v[k] lane group g holds
 * element k of lane group g of the old v[0], v[1], v[2], v[3]. */
TRANSPOSE_INLINE void transpose4_lanes(__m512i v[4]) {
    const __m512i t0 = _mm512_unpacklo_epi32(v[0], v[1]), t1 = _mm512_unpackhi_epi32(v[0], v[1]);
    const __m512i t2 = _mm512_unpacklo_epi32(v[2], v[3]), t3 = _mm512_unpackhi_epi32(v[2], v[3]);
    v[0] = _mm512_unpacklo_epi64(t0, t2);
    v[1] = _mm512_unpackhi_epi64(t0, t2);
    v[2] = _mm512_unpacklo_epi64(t1, t3);
    v[3] = _mm512_unpackhi_epi64(t1, t3);
}

/* Transposes 16 registers of 16 32-bit lanes: m[i] lane j <-> m[j] lane i. */
TRANSPOSE_INLINE void transpose16(__m512i m[16]) {
    for (int i = 0; i < 16; i += 4) transpose4_lanes(m + i); /* m[i+j] lane group L: rows i..i+3 of column 4L+j */
    __m512i t[16];
    for (int j = 0; j < 4; j++) { /* gather the four 4-row quarters of column 4L+j */
        const __m512i u0 = _mm512_shuffle_i32x4(m[j], m[4 + j], 0x88), u1 = _mm512_shuffle_i32x4(m[j], m[4 + j], 0xdd);
        const __m512i v0 = _mm512_shuffle_i32x4(m[8 + j], m[12 + j], 0x88),
                      v1 = _mm512_shuffle_i32x4(m[8 + j], m[12 + j], 0xdd);
        t[j] = _mm512_shuffle_i32x4(u0, v0, 0x88);
        t[8 + j] = _mm512_shuffle_i32x4(u0, v0, 0xdd);
        t[4 + j] = _mm512_shuffle_i32x4(u1, v1, 0x88);
        t[12 + j] = _mm512_shuffle_i32x4(u1, v1, 0xdd);
    }
    for (int i = 0; i < 16; i++) m[i] = t[i];
}

#undef TRANSPOSE_INLINE

#endif
