/* avx512.c - AVX-512 (F, BW, VL, DQ) kernels. The exact kernels and
 * quantize_q8 here serve avx512_vnni.c too; the int8 kernels come from
 * avx512_int8.h with this file's dot products (maddubs + madd).
 *
 * Exact kernels: a register tile of 4 rows x up to 4 tokens; every decoded
 * weight vector feeds all tokens of the tile and every activation vector all
 * rows. With more than 4 tokens the columns go in chunks small enough that a
 * token tile's activations stay in L1 while the rows stream past. For MXFP4
 * a token tile's activations are first split into even and odd columns per
 * block, so a block decodes with one zero-extension, one shift and two
 * vpermps lookups in a 16-float table. */
#include <immintrin.h>
#include <string.h>

#include "avx512_internal.h"

#define EXACT_INLINE static inline __attribute__((always_inline))

enum {
    EXACT_ROWS = 4,        /* register tile: rows ... */
    EXACT_TOKENS = 4,      /* ... x tokens */
    EXACT_ROW_BLOCK = 64,  /* rows whose weight chunk stays in L2 while token tiles pass */
    EXACT_CHUNK = 1024,    /* columns per chunk with many tokens (16 KiB of a token tile) */
};

/* ---- shared helpers ---- */

/* The sums of four vectors: (sum a, sum b, sum c, sum d). */
static inline __m128 hsum4(__m512 a, __m512 b, __m512 c, __m512 d) {
    /* each step halves the lanes per vector and doubles the vectors per register */
    const __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    const __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    const __m512d abd = _mm512_castps_pd(ab), cdd = _mm512_castps_pd(cd);
    const __m512 abcd = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(abd, cdd)),
                                      _mm512_castpd_ps(_mm512_unpackhi_pd(abd, cdd)));
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(abcd), _mm512_extractf32x8_ps(abcd, 1));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* y[t*ldy + r] (+)= the sum of acc[r][t], r < nr, t < nt. */
EXACT_INLINE void store_tile(__m512 acc[EXACT_ROWS][EXACT_TOKENS], int nr, int nt, float *y, size_t ldy,
                             int accumulate) {
    for (int t = 0; t < nt; t++) {
        float *out = y + t * ldy;
        if (nr == 4) {
            __m128 s = hsum4(acc[0][t], acc[1][t], acc[2][t], acc[3][t]);
            if (accumulate) s = _mm_add_ps(s, _mm_loadu_ps(out));
            _mm_storeu_ps(out, s);
        } else {
            for (int r = 0; r < nr; r++) out[r] = (accumulate ? out[r] : 0.0f) + _mm512_reduce_add_ps(acc[r][t]);
        }
    }
}

/* No columns: every dot is 0. */
static void zero_outputs(size_t rows, size_t n_tokens, float *y, size_t ldy) {
    for (size_t t = 0; t < n_tokens; t++) memset(y + t * ldy, 0, rows * sizeof *y);
}

static inline __mmask16 first_lanes(size_t n) { return (__mmask16)((1u << n) - 1); }

/* ---- bf16 ---- */

static inline __m512 bf16_to_f32x16(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* nr rows x nt tokens over columns [c0, c1). w and x point at row 0 / token 0. */
EXACT_INLINE void bf16_tile(const uint16_t *w, size_t ldw, const float *x, size_t ldx, size_t c0, size_t c1, int nr,
                            int nt, float *y, size_t ldy, int accumulate) {
    __m512 acc[EXACT_ROWS][EXACT_TOKENS];
    for (int r = 0; r < nr; r++)
        for (int t = 0; t < nt; t++) acc[r][t] = _mm512_setzero_ps();
    size_t c = c0;
    for (; c + 16 <= c1; c += 16) {
        __m512 wv[EXACT_ROWS];
        for (int r = 0; r < nr; r++) wv[r] = bf16_to_f32x16(_mm256_loadu_si256((const __m256i *)(w + r * ldw + c)));
        for (int t = 0; t < nt; t++) {
            const __m512 xv = _mm512_loadu_ps(x + t * ldx + c);
            for (int r = 0; r < nr; r++) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    if (c < c1) { /* ragged tail: masked loads read nothing past c1 */
        const __mmask16 m = first_lanes(c1 - c);
        __m512 wv[EXACT_ROWS];
        for (int r = 0; r < nr; r++) wv[r] = bf16_to_f32x16(_mm256_maskz_loadu_epi16(m, w + r * ldw + c));
        for (int t = 0; t < nt; t++) {
            const __m512 xv = _mm512_maskz_loadu_ps(m, x + t * ldx + c);
            for (int r = 0; r < nr; r++) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    store_tile(acc, nr, nt, y, ldy, accumulate);
}

/* One register tile of nr rows (4 or 1) for nt = 1..4 tokens. */
EXACT_INLINE void bf16_tile_any(const uint16_t *w, size_t ldw, const float *x, size_t ldx, size_t c0, size_t c1,
                                int nr, size_t nt, float *y, size_t ldy, int accumulate) {
    switch (nt) {
    case 4: bf16_tile(w, ldw, x, ldx, c0, c1, nr, 4, y, ldy, accumulate); break;
    case 3: bf16_tile(w, ldw, x, ldx, c0, c1, nr, 3, y, ldy, accumulate); break;
    case 2: bf16_tile(w, ldw, x, ldx, c0, c1, nr, 2, y, ldy, accumulate); break;
    default: bf16_tile(w, ldw, x, ldx, c0, c1, nr, 1, y, ldy, accumulate); break;
    }
}

void gptoss_avx512_matmul_bf16(const uint16_t *w, size_t rows, size_t cols, const float *x, size_t n_tokens,
                               float *y, size_t ldy) {
    if (cols == 0) {
        zero_outputs(rows, n_tokens, y, ldy);
        return;
    }
    const size_t chunk = n_tokens > EXACT_TOKENS && cols > EXACT_CHUNK ? EXACT_CHUNK : cols;
    for (size_t rb = 0; rb < rows; rb += EXACT_ROW_BLOCK) {
        const size_t rb_end = rows - rb < EXACT_ROW_BLOCK ? rows : rb + EXACT_ROW_BLOCK;
        for (size_t c0 = 0; c0 < cols; c0 += chunk) {
            const size_t c1 = cols - c0 < chunk ? cols : c0 + chunk;
            for (size_t t0 = 0; t0 < n_tokens; t0 += EXACT_TOKENS) {
                const size_t nt = n_tokens - t0 < EXACT_TOKENS ? n_tokens - t0 : EXACT_TOKENS;
                const float *xt = x + t0 * cols;
                float *yt = y + t0 * ldy;
                size_t r = rb;
                for (; r + 4 <= rb_end; r += 4)
                    bf16_tile_any(w + r * cols, cols, xt, cols, c0, c1, 4, nt, yt + r, ldy, c0 > 0);
                for (; r < rb_end; r++) bf16_tile_any(w + r * cols, cols, xt, cols, c0, c1, 1, nt, yt + r, ldy, c0 > 0);
            }
        }
    }
}

/* ---- MXFP4, exact ---- */

/* 16 E8M0 bytes -> 2^(s-127) (s = 0: 2^-127, subnormal; s = 255: inf, like
 * the scalar code). Integer ops only: no float arithmetic on subnormals. */
static inline __m512 e8m0_to_f32x16(__m128i s) {
    const __m512i bits = _mm512_slli_epi32(_mm512_cvtepu8_epi32(s), 23);
    return _mm512_castsi512_ps(_mm512_max_epu32(bits, _mm512_set1_epi32(0x00400000)));
}

/* One block (16 bytes) -> its 16 even-column and 16 odd-column weights, times
 * scale. vpermps looks the value up, in the scaled table, from the low 4 bits
 * of each 32-bit lane: the byte itself for the low nibble, the byte >> 4 for
 * the high one. (Scaling the 16-entry table is one multiply, not two.) */
EXACT_INLINE void fp4_to_f32(const uint8_t *block, float scale, __m512 *even, __m512 *odd) {
    const __m512 values = _mm512_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f, -0.0f, -0.5f, -1.0f, -1.5f,
                                         -2.0f, -3.0f, -4.0f, -6.0f);
    const __m512 scaled = _mm512_mul_ps(values, _mm512_set1_ps(scale));
    const __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)block));
    *even = _mm512_permutexvar_ps(bytes, scaled);
    *odd = _mm512_permutexvar_ps(_mm512_srli_epi32(bytes, 4), scaled);
}

/* Blocks [b0, b1) of nt tokens' activations, each block's 16 even columns
 * then its 16 odd ones (fp4_to_f32's order), token t at out + t * 32 (b1 - b0).
 * Done once per row block, it keeps shuffles out of the per-row work. */
static void fp4_prepare_f32(const float *x, size_t ldx, size_t b0, size_t b1, size_t nt, float *out) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (size_t t = 0; t < nt; t++)
        for (size_t b = b0; b < b1; b++) {
            const __m512 lo = _mm512_loadu_ps(x + t * ldx + b * 32), hi = _mm512_loadu_ps(x + t * ldx + b * 32 + 16);
            float *o = out + (t * (b1 - b0) + b - b0) * 32;
            _mm512_store_ps(o, _mm512_permutex2var_ps(lo, even, hi));
            _mm512_store_ps(o + 16, _mm512_permutex2var_ps(lo, odd, hi));
        }
}

/* nr rows x nt tokens over kb blocks. blocks/scales point at (row 0, the first
 * block), xp at fp4_prepare_f32's output. */
EXACT_INLINE void mxfp4_tile(const uint8_t *blocks, const uint8_t *scales, size_t nb, const float *xp, size_t kb,
                             int nr, int nt, float *y, size_t ldy, int accumulate) {
    __m512 acc[EXACT_ROWS][EXACT_TOKENS];
    for (int r = 0; r < nr; r++)
        for (int t = 0; t < nt; t++) acc[r][t] = _mm512_setzero_ps();
    for (size_t g = 0; g < kb; g += 16) {
        const size_t gb = kb - g < 16 ? kb - g : 16;
        /* scales of 16 blocks at once, read back one by one as broadcasts */
        float scale[EXACT_ROWS][16] __attribute__((aligned(64)));
        for (int r = 0; r < nr; r++)
            _mm512_store_ps(scale[r], e8m0_to_f32x16(_mm_maskz_loadu_epi8(first_lanes(gb), scales + r * nb + g)));
        for (size_t b = g; b < g + gb; b++) {
            if (nt == 1 && b % 4 == 0) /* decode streams the rows: fetch the next row tile's line */
                for (int r = 0; r < nr; r++) _mm_prefetch((const char *)(blocks + ((r + nr) * nb + b) * 16), _MM_HINT_T0);
            __m512 even[EXACT_ROWS], odd[EXACT_ROWS];
            for (int r = 0; r < nr; r++) fp4_to_f32(blocks + (r * nb + b) * 16, scale[r][b - g], &even[r], &odd[r]);
            for (int t = 0; t < nt; t++) {
                const float *xb = xp + (t * kb + b) * 32;
                const __m512 xe = _mm512_load_ps(xb), xo = _mm512_load_ps(xb + 16);
                for (int r = 0; r < nr; r++)
                    acc[r][t] = _mm512_fmadd_ps(odd[r], xo, _mm512_fmadd_ps(even[r], xe, acc[r][t]));
            }
        }
    }
    store_tile(acc, nr, nt, y, ldy, accumulate);
}

EXACT_INLINE void mxfp4_tile_any(const uint8_t *blocks, const uint8_t *scales, size_t nb, const float *xp, size_t kb,
                                 int nr, size_t nt, float *y, size_t ldy, int accumulate) {
    switch (nt) {
    case 4: mxfp4_tile(blocks, scales, nb, xp, kb, nr, 4, y, ldy, accumulate); break;
    case 3: mxfp4_tile(blocks, scales, nb, xp, kb, nr, 3, y, ldy, accumulate); break;
    case 2: mxfp4_tile(blocks, scales, nb, xp, kb, nr, 2, y, ldy, accumulate); break;
    default: mxfp4_tile(blocks, scales, nb, xp, kb, nr, 1, y, ldy, accumulate); break;
    }
}

void gptoss_avx512_matmul_mxfp4(const uint8_t *blocks, const uint8_t *scales, size_t rows, size_t cols,
                                const float *x, size_t n_tokens, float *y, size_t ldy) {
    enum { PREP_FLOATS = 4096 }; /* 16 KiB: L1-resident next to the rows' blocks */
    float xp[PREP_FLOATS] __attribute__((aligned(64)));
    const size_t nb = cols / 32;
    if (nb == 0) {
        zero_outputs(rows, n_tokens, y, ldy);
        return;
    }
    /* column chunks sized so a token tile's reordered activations fill xp */
    const size_t tile_tokens = n_tokens < EXACT_TOKENS ? n_tokens : EXACT_TOKENS;
    const size_t chunk = PREP_FLOATS / 32 / (tile_tokens ? tile_tokens : 1);
    for (size_t rb = 0; rb < rows; rb += EXACT_ROW_BLOCK) {
        const size_t rb_end = rows - rb < EXACT_ROW_BLOCK ? rows : rb + EXACT_ROW_BLOCK;
        for (size_t b0 = 0; b0 < nb; b0 += chunk) {
            const size_t kb = nb - b0 < chunk ? nb - b0 : chunk;
            for (size_t t0 = 0; t0 < n_tokens; t0 += EXACT_TOKENS) {
                const size_t nt = n_tokens - t0 < EXACT_TOKENS ? n_tokens - t0 : EXACT_TOKENS;
                fp4_prepare_f32(x + t0 * cols, cols, b0, b0 + kb, nt, xp);
                float *yt = y + t0 * ldy;
                size_t r = rb;
                for (; r + 4 <= rb_end; r += 4)
                    mxfp4_tile_any(blocks + (r * nb + b0) * 16, scales + r * nb + b0, nb, xp, kb, 4, nt, yt + r, ldy,
                                   b0 > 0);
                for (; r < rb_end; r++)
                    mxfp4_tile_any(blocks + (r * nb + b0) * 16, scales + r * nb + b0, nb, xp, kb, 1, nt, yt + r, ldy,
                                   b0 > 0);
            }
        }
    }
}

/* ---- quantize_q8: bit-identical to the scalar code ---- */

void gptoss_avx512_quantize_q8(const float *x, size_t cols, int8_t *q, float *scale, int32_t *sum) {
    const __m512 sign = _mm512_set1_ps(-0.0f);
    for (size_t b = 0; b < cols / 32; b++) {
        const __m512 lo = _mm512_loadu_ps(x + b * 32), hi = _mm512_loadu_ps(x + b * 32 + 16);
        /* max_ps(a, m) returns m when a is NaN: NaNs are skipped, as fmaxf does */
        __m512 m = _mm512_max_ps(_mm512_andnot_ps(sign, lo), _mm512_setzero_ps());
        m = _mm512_max_ps(_mm512_andnot_ps(sign, hi), m);
        const float amax = _mm512_reduce_max_ps(m);
        const __m512 inverse = _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
        /* cvtps rounds to nearest even under the default MXCSR, like nearbyintf */
        const __m512i qlo = _mm512_cvtps_epi32(_mm512_mul_ps(lo, inverse));
        const __m512i qhi = _mm512_cvtps_epi32(_mm512_mul_ps(hi, inverse));
        _mm_storeu_si128((__m128i *)(q + b * 32), _mm512_cvtepi32_epi8(qlo));
        _mm_storeu_si128((__m128i *)(q + b * 32 + 16), _mm512_cvtepi32_epi8(qhi));
        scale[b] = amax / 127.0f;
        sum[b] = _mm512_reduce_add_epi32(_mm512_add_epi32(qlo, qhi));
    }
}

/* ---- int8 dot products without VNNI ---- */

/* maddubs multiplies unsigned by signed bytes and saturates its int16 pair
 * sums: fine for FP4 (24 * 127 * 2), but int8 weights would overflow once
 * biased, so q8 weights stay signed and lend their sign to x instead. */
enum { Q8_BIAS = 0 };

static inline __m512i q8_encode(__m512i w) { return w; }

static inline __m512i madd_pairs(__m512i sums16) { return _mm512_madd_epi16(sums16, _mm512_set1_epi16(1)); }

static inline __m512i dot_q8(__m512i acc, __m512i w, __m512i x) {
    const __m512i x_signed = _mm512_mask_sub_epi8(x, _mm512_movepi8_mask(w), _mm512_setzero_si512(), x);
    /* |w| * |x| <= 128 * 127: a pair sum fits int16 */
    return _mm512_add_epi32(acc, madd_pairs(_mm512_maddubs_epi16(_mm512_abs_epi8(w), x_signed)));
}

/* Two steps share one madd: 4 * 24 * 127 fits int16. */
static inline __m512i dot2_fp4(__m512i acc, __m512i u0, __m512i x0, __m512i u1, __m512i x1) {
    const __m512i sums16 = _mm512_add_epi16(_mm512_maddubs_epi16(u0, x0), _mm512_maddubs_epi16(u1, x1));
    return _mm512_add_epi32(acc, madd_pairs(sums16));
}

#include "avx512_int8.h"

const gptoss_kernels gptoss_kernels_avx512 = {
    .name = "avx512",
    .isa = GPTOSS_KERNELS_AVX512,
    .matmul_bf16 = gptoss_avx512_matmul_bf16,
    .matmul_mxfp4 = gptoss_avx512_matmul_mxfp4,
    .quantize_q8 = gptoss_avx512_quantize_q8,
    .matmul_q8 = int8_matmul_q8,
    .matmul_mxfp4_q8 = int8_matmul_mxfp4_q8,
    .int8_peak = int8_peak,
};
