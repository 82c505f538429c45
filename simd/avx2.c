/* avx2.c - AVX2 + FMA + F16C kernels (no AVX-512 instruction: this file is
 * compiled with -mavx2 -mfma -mf16c only). simd/KERNELS.md has the background.
 *
 * exact (f32 activations, FMA):
 *   - few tokens: each row is decoded in registers straight into a 4-row x
 *     up-to-3-token FMA tile (BF16: a 16-bit shift; MXFP4: vpermps of an
 *     8-entry magnitude table pre-multiplied by the block scale, sign by xor).
 *   - many tokens: a 4-row tile is decoded to f32 in a stack scratch once per
 *     512-column chunk, then the FMA tile runs over it for every token group
 *     (the chunk keeps the rows in L1 and the tokens' slices of x in L2).
 *
 * fast (int8 activations per 32-block, maddubs = unsigned x signed bytes):
 *   - MXFP4 nibbles become bytes with one pshufb of a 16-entry table holding
 *     2*FP4 + 12 (0..24, unsigned); 12 * the activation block's sum (from
 *     gptoss_q8_acts) is subtracted from the integer dot, exactly. Dense int8
 *     weights (-127..127) use |w| and move w's sign onto x (psignb) instead.
 *   - few tokens (decode, memory-bound): rows are streamed; a block's dot is
 *     reduced to one exact integer (eight blocks at a time through hadd)
 *     before one cvt + fma applies both scales. MXFP4 takes two blocks per
 *     ymm (low nibbles against the even columns, high against the odd ones).
 *   - many tokens (prefill, compute-bound): 8 rows x a chunk are repacked so
 *     one ymm holds 4 columns of each of the 8 rows (consecutive ones for
 *     int8; for MXFP4 the even or the odd ones of 8, the activations
 *     reordered to match); a broadcast
 *     of 4 activation bytes then feeds all 8 rows and the per-block
 *     cvt/scale/fma serves 8 rows at once, for 4 tokens per register tile.
 *     MXFP4 sums four maddubs in int16 before widening (24 * 127 * 2 per
 *     pair, four of them fit). */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "numeric.h"

#define INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 8")
/* Pins v to a register at this point: stops GCC from reassociating an
 * accumulation chain into a tree of temporaries that spills. */
#define KEEP(v) __asm__("" : "+x"(v))

/* ---- scalar helpers and tables ---- */

static inline uint32_t load_u32(const void *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* E8M0 byte s -> 2^(s-128), the scale of the doubled FP4 integers, as float
 * bits built at compile time (s = 0, 1 give subnormals, like ldexpf). */
#define E8M0_HALF_BITS(s) ((s) >= 2 ? ((uint32_t)(s)-1) << 23 : (s) == 1 ? 0x00400000u : 0x00200000u)
#define REP4(M, s) M(s), M((s) + 1), M((s) + 2), M((s) + 3)
#define REP16(M, s) REP4(M, s), REP4(M, (s) + 4), REP4(M, (s) + 8), REP4(M, (s) + 12)
#define REP64(M, s) REP16(M, s), REP16(M, (s) + 16), REP16(M, (s) + 32), REP16(M, (s) + 48)
#define REP256(M) REP64(M, 0), REP64(M, 64), REP64(M, 128), REP64(M, 192)
typedef union scale_table {
    uint32_t bits[256];
    float value[256];
} scale_table;
static const scale_table e8m0_half = {{REP256(E8M0_HALF_BITS)}};

/* 2*FP4 + 12 as bytes (unsigned for maddubs), in both lanes. */
#define FP4X2_PLUS12 12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0
enum { FP4_OFFSET = 12 };

static inline __m256i fp4_table_offset(void) { return _mm256_setr_epi8(FP4X2_PLUS12, FP4X2_PLUS12); }

/* ---- vector helpers ---- */

static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float hmax_ps(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static inline int32_t hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

/* The four horizontal sums of a, b, c, d as one xmm. */
static inline __m128 hsum4_ps(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m256 s = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
}

/* y[i] = v[i] (first) or y[i] += v[i], for the first n of 8 lanes. */
static inline void store_rows8(float *y, __m256 v, size_t n, int first) {
    if (n == 8) {
        _mm256_storeu_ps(y, first ? v : _mm256_add_ps(_mm256_loadu_ps(y), v));
        return;
    }
    float tmp[8];
    _mm256_storeu_ps(tmp, v);
    for (size_t i = 0; i < n; i++) y[i] = first ? tmp[i] : y[i] + tmp[i];
}

static inline void store_rows4(float *y, __m128 v, size_t n, int first) {
    if (n == 4) {
        _mm_storeu_ps(y, first ? v : _mm_add_ps(_mm_loadu_ps(y), v));
        return;
    }
    float tmp[4];
    _mm_storeu_ps(tmp, v);
    for (size_t i = 0; i < n; i++) y[i] = first ? tmp[i] : y[i] + tmp[i];
}

/* Eight E8M0 bytes -> 2^(s-128) as floats, by building the float bits:
 * (s - 1) << 23 for s >= 2; the subnormal results of s = 0, 1 (not expected in
 * real weights) take a slower exact path. */
static inline __m256 e8m0_half8(const uint8_t *s) {
    const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)s));
    const __m256i one = _mm256_set1_epi32(1);
    const __m256i normal = _mm256_slli_epi32(_mm256_sub_epi32(v, one), 23);
    const __m256i is_tiny = _mm256_cmpgt_epi32(_mm256_set1_epi32(2), v);
    if (__builtin_expect(!_mm256_testz_si256(is_tiny, is_tiny), 0)) {
        const __m256i tiny = _mm256_srlv_epi32(_mm256_set1_epi32(0x00800000), _mm256_sub_epi32(_mm256_set1_epi32(2), v));
        return _mm256_castsi256_ps(_mm256_blendv_epi8(normal, tiny, is_tiny));
    }
    return _mm256_castsi256_ps(normal);
}

/* 8 rows of 8 dwords -> 8 vectors, vector g holding dword g of each row. */
INLINE void transpose8x8_epi32(__m256i m[8]) {
    __m256i t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_epi32(m[i], m[i + 1]);
        t[i + 1] = _mm256_unpackhi_epi32(m[i], m[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
        u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
        u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
        u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for (int i = 0; i < 4; i++) {
        m[i] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x20);
        m[i + 4] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x31);
    }
}

/* Software prefetch distance for the fast streaming kernels, in bytes of the
 * weight stream: their compute is close to the read bandwidth, and without it
 * memory stalls do not overlap (measured +20% for MXFP4, +25% for int8).
 * 4 KiB rather than 2: MXFP4 +12-20% more, int8 the same. */
#ifndef PF_DIST
#define PF_DIST 4096
#endif

/* ---- quantize_q8 ---- */

static void quantize_q8_avx2(const float *x, size_t cols, int8_t *q, float *scale, int32_t *sum) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256i dword_order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7); /* undoes the in-lane packs */
    for (size_t b = 0; b < cols / 32; b++) {
        __m256 v[4];
        for (int i = 0; i < 4; i++) v[i] = _mm256_loadu_ps(x + b * 32 + 8 * i);
        __m256 m = _mm256_max_ps(_mm256_and_ps(v[0], abs_mask), _mm256_and_ps(v[1], abs_mask));
        m = _mm256_max_ps(m, _mm256_max_ps(_mm256_and_ps(v[2], abs_mask), _mm256_and_ps(v[3], abs_mask)));
        const float amax = hmax_ps(m);
        /* the same scalar division as the reference, then RNE conversion (default MXCSR) */
        const __m256 inverse = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
        __m256i n[4];
        for (int i = 0; i < 4; i++) n[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], inverse));
        sum[b] = hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(n[0], n[1]), _mm256_add_epi32(n[2], n[3])));
        __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(n[0], n[1]), _mm256_packs_epi32(n[2], n[3]));
        _mm256_storeu_si256((__m256i *)(q + b * 32), _mm256_permutevar8x32_epi32(bytes, dword_order));
        scale[b] = amax / 127.0f;
    }
}

/* ---- exact kernels ---- */

/* No columns: every output is an empty sum (the chunk loops below would write nothing). */
static void zero_outputs(float *y, size_t rows, size_t n_tokens, size_t ldy) {
    for (size_t t = 0; t < n_tokens; t++) memset(y + t * ldy, 0, rows * sizeof *y);
}

enum {
    F_ROWS = 4,     /* rows per FMA register tile */
    F_TOKENS = 3,   /* tokens per FMA register tile */
    F_CHUNK = 512,  /* columns per decoded chunk (a multiple of 32) */
    /* Up to these token counts the rows are decoded in registers, F_TOKENS
     * tokens per pass (BF16 decodes cheaply enough to redo per pass). */
    BF16_DIRECT_MAX = 8,
    MXFP4_DIRECT_MAX = F_TOKENS,
};

/* 8 BF16 -> 8 f32: a 16-bit shift. */
static inline __m256 bf16x8(const uint16_t *p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

/* The ragged end of a BF16 row, n < 8 values, zero-padded (no read past the row). */
static inline __m256 bf16x8_tail(const uint16_t *p, size_t n) {
    uint16_t tmp[8] = {0};
    memcpy(tmp, p, n * sizeof *tmp);
    return bf16x8(tmp);
}

/* Lanes < n set: for masked loads that never touch memory past the end. */
static inline __m256i first_lanes(size_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* MXFP4 -> f32 without widening shuffles (vpmovsx* all compete for one port):
 * lane k of a broadcast dword shifted right by 4k holds nibble k in its low
 * bits; vpermps looks up the magnitude (index = low 3 bits) in an 8-entry
 * table already multiplied by the block scale, and xor with (nibble << 28)
 * sets the sign bit. That xor also flips bits 28..30 by the index, so the
 * table entries are stored with those bits pre-flipped. */
static inline __m256 fp4_scaled_table(uint8_t scale) {
    const __m256 magnitudes = _mm256_setr_ps(0, 1, 2, 3, 4, 6, 8, 12); /* 2*FP4, times 2^(s-128) */
    const __m256i index_bits = _mm256_setr_epi32(0, 1 << 28, 2 << 28, 3 << 28, 4 << 28, 5 << 28, 6 << 28, 7 << 28);
    const __m256 scaled = _mm256_mul_ps(magnitudes, _mm256_set1_ps(e8m0_half.value[scale]));
    return _mm256_castsi256_ps(_mm256_xor_si256(_mm256_castps_si256(scaled), index_bits));
}

/* Columns 8i..8i+7 of an MXFP4 block, scaled, from the table above. */
static inline __m256 mxfp4_floats8(const uint8_t *p, int i, __m256 table) {
    const __m256i shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    const __m256i v = _mm256_srlv_epi32(_mm256_set1_epi32((int32_t)load_u32(p + 4 * i)), shifts);
    return _mm256_xor_ps(_mm256_permutevar8x32_ps(table, v), _mm256_castsi256_ps(_mm256_slli_epi32(v, 28)));
}

/* y[t][r] (first) = or += the row sums of acc, for R rows (4 or 1) and T tokens. */
#define STORE_TILE(acc, R, T, y, ldy, rn, first)                                                               \
    UNROLL for (int t_ = 0; t_ < (T); t_++) {                                                                    \
        if ((R) == F_ROWS)                                                                                       \
            store_rows4((y) + t_ * (ldy), hsum4_ps(acc[0][t_], acc[1][t_], acc[2][t_], acc[3][t_]), rn, first); \
        else                                                                                                     \
            (y)[t_ * (ldy)] = ((first) ? 0.0f : (y)[t_ * (ldy)]) + hsum_ps(acc[0][t_]);                         \
    }

/* -- few tokens: decode each row in registers, straight into the FMAs -- */

INLINE void bf16_direct_tile(const uint16_t *w, size_t cols, const int R, const float *x, const int T, float *y,
                             size_t ldy) {
    __m256 acc[F_ROWS][F_TOKENS];
    UNROLL for (int r = 0; r < R; r++) UNROLL for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
    size_t k = 0;
    for (; k + 8 <= cols; k += 8) {
        __m256 xv[F_TOKENS];
        UNROLL for (int t = 0; t < T; t++) xv[t] = _mm256_loadu_ps(x + t * cols + k);
        UNROLL for (int r = 0; r < R; r++) {
            const __m256 wv = bf16x8(w + r * cols + k);
            UNROLL for (int t = 0; t < T; t++) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
        }
    }
    if (k < cols) {
        const __m256i mask = first_lanes(cols - k);
        UNROLL for (int r = 0; r < R; r++) {
            const __m256 wv = bf16x8_tail(w + r * cols + k, cols - k);
            UNROLL for (int t = 0; t < T; t++)
                acc[r][t] = _mm256_fmadd_ps(wv, _mm256_maskload_ps(x + t * cols + k, mask), acc[r][t]);
        }
    }
    STORE_TILE(acc, R, T, y, ldy, F_ROWS, 1);
}

static void bf16_direct(const uint16_t *w, size_t rows, size_t cols, const float *x, size_t n_tokens, float *y,
                        size_t ldy) {
    if (n_tokens > F_TOKENS) { /* passes of F_TOKENS tokens */
        for (size_t t0 = 0; t0 < n_tokens; t0 += F_TOKENS)
            bf16_direct(w, rows, cols, x + t0 * cols, min_size(F_TOKENS, n_tokens - t0), y + t0 * ldy, ldy);
        return;
    }
    size_t r = 0;
    for (; r + F_ROWS <= rows; r += F_ROWS) switch (n_tokens) {
        case 1: bf16_direct_tile(w + r * cols, cols, F_ROWS, x, 1, y + r, ldy); break;
        case 2: bf16_direct_tile(w + r * cols, cols, F_ROWS, x, 2, y + r, ldy); break;
        default: bf16_direct_tile(w + r * cols, cols, F_ROWS, x, 3, y + r, ldy); break;
        }
    for (; r < rows; r++) switch (n_tokens) {
        case 1: bf16_direct_tile(w + r * cols, cols, 1, x, 1, y + r, ldy); break;
        case 2: bf16_direct_tile(w + r * cols, cols, 1, x, 2, y + r, ldy); break;
        default: bf16_direct_tile(w + r * cols, cols, 1, x, 3, y + r, ldy); break;
        }
}

/* The scale rides in the lookup table, so decoded weights go straight into the FMAs. */
INLINE void mxfp4_direct_tile(const uint8_t *blocks, const uint8_t *scales, size_t n_blocks, const int R,
                              const float *x, const int T, float *y, size_t ldy) {
    const size_t cols = n_blocks * 32;
    __m256 acc[F_ROWS][F_TOKENS];
    UNROLL for (int r = 0; r < R; r++) UNROLL for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
    for (size_t b = 0; b < n_blocks; b++) {
        UNROLL for (int r = 0; r < R; r++) {
            const __m256 table = fp4_scaled_table(scales[r * n_blocks + b]);
            const uint8_t *wb = blocks + (r * n_blocks + b) * 16;
            /* decode streams the rows: fetch this line of the next row tile */
            if (T == 1 && b % 4 == 0) _mm_prefetch((const char *)(wb + F_ROWS * n_blocks * 16), _MM_HINT_T0);
            UNROLL for (int i = 0; i < 4; i++) {
                const __m256 wv = mxfp4_floats8(wb, i, table);
                UNROLL for (int t = 0; t < T; t++)
                    acc[r][t] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + t * cols + b * 32 + 8 * i), acc[r][t]);
            }
        }
    }
    STORE_TILE(acc, R, T, y, ldy, F_ROWS, 1);
}

static void mxfp4_direct(const uint8_t *blocks, const uint8_t *scales, size_t rows, size_t n_blocks, const float *x,
                         size_t n_tokens, float *y, size_t ldy) {
    if (n_tokens > F_TOKENS) { /* passes of F_TOKENS tokens */
        for (size_t t0 = 0; t0 < n_tokens; t0 += F_TOKENS)
            mxfp4_direct(blocks, scales, rows, n_blocks, x + t0 * n_blocks * 32, min_size(F_TOKENS, n_tokens - t0),
                         y + t0 * ldy, ldy);
        return;
    }
    size_t r = 0;
    for (; r + F_ROWS <= rows; r += F_ROWS) {
        const uint8_t *w = blocks + r * n_blocks * 16, *s = scales + r * n_blocks;
        switch (n_tokens) {
        case 1: mxfp4_direct_tile(w, s, n_blocks, F_ROWS, x, 1, y + r, ldy); break;
        case 2: mxfp4_direct_tile(w, s, n_blocks, F_ROWS, x, 2, y + r, ldy); break;
        default: mxfp4_direct_tile(w, s, n_blocks, F_ROWS, x, 3, y + r, ldy); break;
        }
    }
    for (; r < rows; r++) {
        const uint8_t *w = blocks + r * n_blocks * 16, *s = scales + r * n_blocks;
        switch (n_tokens) {
        case 1: mxfp4_direct_tile(w, s, n_blocks, 1, x, 1, y + r, ldy); break;
        case 2: mxfp4_direct_tile(w, s, n_blocks, 1, x, 2, y + r, ldy); break;
        default: mxfp4_direct_tile(w, s, n_blocks, 1, x, 3, y + r, ldy); break;
        }
    }
}

/* -- many tokens: decode a row tile to f32 once per column chunk, reuse it for every token -- */

/* Decodes rows [r0, r0 + rn) x columns [c0, c0 + kc) into wf[F_ROWS][F_CHUNK],
 * zero past kc (to a multiple of 8) and in rows rn..F_ROWS-1. */
typedef void (*decode_rows_fn)(const void *ctx, size_t r0, size_t rn, size_t c0, size_t kc, float *wf);

/* T tokens x F_ROWS decoded rows over kc columns; y gets the rn valid rows. */
INLINE void f32_tile(const float *wf, const float *x, size_t ldx, size_t kc, const int T, float *y, size_t ldy,
                     size_t rn, int first) {
    __m256 acc[F_ROWS][F_TOKENS];
    UNROLL for (int r = 0; r < F_ROWS; r++) UNROLL for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
    size_t k = 0;
    for (; k + 8 <= kc; k += 8) {
        __m256 xv[F_TOKENS];
        UNROLL for (int t = 0; t < T; t++) xv[t] = _mm256_loadu_ps(x + t * ldx + k);
        UNROLL for (int r = 0; r < F_ROWS; r++) {
            const __m256 wv = _mm256_load_ps(wf + r * F_CHUNK + k);
            UNROLL for (int t = 0; t < T; t++) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
        }
    }
    if (k < kc) { /* ragged BF16 tail: wf is zero-padded, x is read masked */
        const __m256i mask = first_lanes(kc - k);
        UNROLL for (int t = 0; t < T; t++) {
            const __m256 xv = _mm256_maskload_ps(x + t * ldx + k, mask);
            UNROLL for (int r = 0; r < F_ROWS; r++)
                acc[r][t] = _mm256_fmadd_ps(_mm256_load_ps(wf + r * F_CHUNK + k), xv, acc[r][t]);
        }
    }
    STORE_TILE(acc, F_ROWS, T, y, ldy, rn, first);
}

static void exact_chunked(decode_rows_fn decode, const void *ctx, size_t rows, size_t cols, const float *x,
                          size_t n_tokens, float *y, size_t ldy) {
    if (cols == 0) {
        zero_outputs(y, rows, n_tokens, ldy);
        return;
    }
    _Alignas(32) float wf[F_ROWS * F_CHUNK];
    for (size_t c0 = 0; c0 < cols; c0 += F_CHUNK) {
        const size_t kc = min_size(F_CHUNK, cols - c0);
        for (size_t r0 = 0; r0 < rows; r0 += F_ROWS) {
            const size_t rn = min_size(F_ROWS, rows - r0);
            decode(ctx, r0, rn, c0, kc, wf);
            for (size_t t0 = 0; t0 < n_tokens; t0 += F_TOKENS) {
                const float *xt = x + t0 * cols + c0;
                float *yt = y + t0 * ldy + r0;
                switch (min_size(F_TOKENS, n_tokens - t0)) {
                case 3: f32_tile(wf, xt, cols, kc, 3, yt, ldy, rn, c0 == 0); break;
                case 2: f32_tile(wf, xt, cols, kc, 2, yt, ldy, rn, c0 == 0); break;
                default: f32_tile(wf, xt, cols, kc, 1, yt, ldy, rn, c0 == 0); break;
                }
            }
        }
    }
}

/* Zeroes wf past the decoded part: columns kc..round8(kc) of rows < rn, all of rows >= rn. */
static void pad_rows(float *wf, size_t rn, size_t kc) {
    const size_t kc8 = (kc + 7) & ~(size_t)7;
    for (size_t r = 0; r < rn; r++)
        for (size_t k = kc; k < kc8; k++) wf[r * F_CHUNK + k] = 0.0f;
    for (size_t r = rn; r < F_ROWS; r++) memset(wf + r * F_CHUNK, 0, kc8 * sizeof *wf);
}

typedef struct bf16_ctx {
    const uint16_t *w;
    size_t cols;
} bf16_ctx;

static void decode_bf16_rows(const void *ctx, size_t r0, size_t rn, size_t c0, size_t kc, float *wf) {
    const bf16_ctx *c = ctx;
    for (size_t r = 0; r < rn; r++) {
        const uint16_t *src = c->w + (r0 + r) * c->cols + c0;
        float *dst = wf + r * F_CHUNK;
        size_t k = 0;
        for (; k + 8 <= kc; k += 8) _mm256_store_ps(dst + k, bf16x8(src + k));
        for (; k < kc; k++) dst[k] = bf16_to_f32(src[k]);
    }
    pad_rows(wf, rn, kc);
}

typedef struct mxfp4_ctx {
    const uint8_t *blocks, *scales;
    size_t n_blocks;
} mxfp4_ctx;

static void decode_mxfp4_rows(const void *ctx, size_t r0, size_t rn, size_t c0, size_t kc, float *wf) {
    const mxfp4_ctx *c = ctx;
    for (size_t r = 0; r < rn; r++) {
        const size_t b0 = (r0 + r) * c->n_blocks + c0 / 32;
        float *dst = wf + r * F_CHUNK;
        for (size_t b = 0; b < kc / 32; b++) {
            const __m256 table = fp4_scaled_table(c->scales[b0 + b]);
            for (int i = 0; i < 4; i++)
                _mm256_store_ps(dst + b * 32 + 8 * i, mxfp4_floats8(c->blocks + (b0 + b) * 16, i, table));
        }
    }
    pad_rows(wf, rn, kc);
}

static void matmul_bf16_avx2(const uint16_t *w, size_t rows, size_t cols, const float *x, size_t n_tokens, float *y,
                             size_t ldy) {
    if (n_tokens <= BF16_DIRECT_MAX) {
        bf16_direct(w, rows, cols, x, n_tokens, y, ldy);
        return;
    }
    const bf16_ctx ctx = {w, cols};
    exact_chunked(decode_bf16_rows, &ctx, rows, cols, x, n_tokens, y, ldy);
}

static void matmul_mxfp4_avx2(const uint8_t *blocks, const uint8_t *scales, size_t rows, size_t cols, const float *x,
                              size_t n_tokens, float *y, size_t ldy) {
    if (n_tokens <= MXFP4_DIRECT_MAX) {
        mxfp4_direct(blocks, scales, rows, cols / 32, x, n_tokens, y, ldy);
        return;
    }
    const mxfp4_ctx ctx = {blocks, scales, cols / 32};
    exact_chunked(decode_mxfp4_rows, &ctx, rows, cols, x, n_tokens, y, ldy);
}

/* ---- fast kernels ---- */

enum {
    Q_CHUNK = 64,   /* 32-blocks per packed column chunk (a multiple of 8) */
    /* 32-blocks per column chunk of the one-row stream (a multiple of 8): a
     * whole gpt-oss row (90 blocks), so each row streams as one run; with 64,
     * rows were read in two strided passes and the MXFP4 matvec lost 25-30% */
    STREAM_CHUNK = 128,
    Q_ROWS = 8,     /* rows per packed group: one ymm holds 4 columns x 8 rows */
    Q_TOKENS = 4,   /* tokens per packed register tile */
    Q_PACK_MIN_MXFP4 = 3, /* from this many tokens on, repack and tile (measured crossovers) */
    Q_PACK_MIN_DENSE = 4,
};

/* -- few tokens: stream every row once per token --
 * A block's dot must be one exact integer before it is scaled (summing scaled
 * lane partials loses precision when they cancel), so eight blocks of a row
 * are reduced together and scaled with one cvt + fma. */

/* Eight vectors of 8 int32 -> one vector of their eight horizontal sums. */
INLINE __m256i hsum8_epi32(const __m256i v[8]) {
    const __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
    const __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

/* MXFP4 streams two blocks per ymm: the 32 bytes of blocks 2p and 2p+1, low
 * nibbles (even columns) and high nibbles (odd columns) each one pshufb, so the
 * activations are prepared per chunk in the same layout: for pair p,
 * even[p] = [even columns of block 2p | of block 2p+1] and odd[p] likewise.
 * The hadd levels then leave the eight block dots in the order below. */
static const int32_t pair_order[8] = {0, 2, 4, 6, 1, 3, 5, 7};

typedef struct mxfp4_stream_x {
    __m256i even[STREAM_CHUNK / 2], odd[STREAM_CHUNK / 2];
    _Alignas(32) int32_t corr[STREAM_CHUNK]; /* 12 * block sum, in pair_order per group of 8 */
} mxfp4_stream_x;

/* 32 activation bytes -> [16 even columns | 16 odd columns]. */
static inline __m256i split_even_odd(const int8_t *p) {
    const __m256i in_lane = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8,
                                             10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    const __m256i v = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)p), in_lane);
    return _mm256_permute4x64_epi64(v, _MM_SHUFFLE(3, 1, 2, 0));
}

/* One token's activations for blocks [b0, b0 + nb), zero-padded to 8 blocks. */
static void mxfp4_stream_prepare(const gptoss_q8_acts *x, size_t t, size_t b0, size_t nb, mxfp4_stream_x *xs) {
    const size_t n_blocks = x->cols / 32, nb8 = (nb + 7) & ~(size_t)7;
    const int8_t *xq = x->q + t * x->cols + b0 * 32;
    const int32_t *sum = x->sum + t * n_blocks + b0;
    for (size_t p = 0; p < nb8 / 2; p++) {
        const __m256i a = 2 * p < nb ? split_even_odd(xq + 2 * p * 32) : _mm256_setzero_si256();
        const __m256i b = 2 * p + 1 < nb ? split_even_odd(xq + (2 * p + 1) * 32) : _mm256_setzero_si256();
        xs->even[p] = _mm256_permute2x128_si256(a, b, 0x20);
        xs->odd[p] = _mm256_permute2x128_si256(a, b, 0x31);
    }
    for (size_t b = 0; b < nb8; b++) {
        const size_t src = (b & ~(size_t)7) + (size_t)pair_order[b & 7];
        xs->corr[b] = src < nb ? FP4_OFFSET * sum[src] : 0;
    }
}

/* One MXFP4 row, blocks [8j, 8j + m) of the chunk (m <= 8): acc += their scaled exact dots.
 * w, s, xscale point at the chunk's first block. */
INLINE __m256 mxfp4_q8_stream8(const uint8_t *w, const uint8_t *s, const float *xscale, const mxfp4_stream_x *xs,
                               size_t j, const int m, __m256 acc) {
    const __m256i table = fp4_table_offset(), nibble = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    __m256i dot[4];
    _mm_prefetch((const char *)(w + 8 * j * 16 + PF_DIST), _MM_HINT_T0);
    _mm_prefetch((const char *)(w + 8 * j * 16 + PF_DIST + 64), _MM_HINT_T0);
    UNROLL for (int i = 0; i < 4; i++) {
        if (2 * i >= m) {
            dot[i] = _mm256_setzero_si256();
            continue;
        }
        const uint8_t *pair = w + (8 * j + 2 * i) * 16;
        const __m256i v = 2 * i + 1 < m ? _mm256_loadu_si256((const __m256i *)pair)
                                        : _mm256_zextsi128_si256(_mm_loadu_si128((const __m128i *)pair));
        const __m256i lo = _mm256_shuffle_epi8(table, _mm256_and_si256(v, nibble));
        const __m256i hi = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble));
        dot[i] = _mm256_add_epi16(_mm256_maddubs_epi16(lo, xs->even[4 * j + i]),
                                  _mm256_maddubs_epi16(hi, xs->odd[4 * j + i]));
    }
    /* int16 lanes <= 2 * 2 * 24 * 127: one more pairwise add still fits, then widen */
    const __m256i d01 = _mm256_madd_epi16(_mm256_hadd_epi16(dot[0], dot[1]), ones);
    const __m256i d23 = _mm256_madd_epi16(_mm256_hadd_epi16(dot[2], dot[3]), ones);
    __m256i h = _mm256_hadd_epi32(d01, d23);
    h = _mm256_sub_epi32(h, _mm256_load_si256((const __m256i *)(xs->corr + 8 * j)));
    __m256 d;
    if (m == 8) d = _mm256_mul_ps(e8m0_half8(s + 8 * j), _mm256_loadu_ps(xscale + 8 * j));
    else { /* the ragged end: missing blocks get activation scale 0; no read past the row */
        uint8_t sp[8] = {127, 127, 127, 127, 127, 127, 127, 127};
        float xp[8] = {0};
        memcpy(sp, s + 8 * j, (size_t)m);
        memcpy(xp, xscale + 8 * j, (size_t)m * sizeof *xp);
        d = _mm256_mul_ps(e8m0_half8(sp), _mm256_loadu_ps(xp));
    }
    d = _mm256_permutevar8x32_ps(d, _mm256_loadu_si256((const __m256i *)pair_order));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(h), d, acc);
}

/* Up to Q_PACK_MIN_MXFP4 - 1 tokens, rows outermost (as q8_stream): each
 * row streams from memory once for all of them. */
static void mxfp4_q8_stream(const uint8_t *blocks, const uint8_t *scales, size_t rows, size_t cols,
                            const gptoss_q8_acts *x, size_t n_tokens, float *y, size_t ldy) {
    const size_t n_blocks = cols / 32;
    mxfp4_stream_x xs[Q_PACK_MIN_MXFP4 - 1];
    for (size_t b0 = 0; b0 < n_blocks; b0 += STREAM_CHUNK) {
        const size_t nb = min_size(STREAM_CHUNK, n_blocks - b0), full = nb / 8, rest = nb % 8;
        for (size_t t = 0; t < n_tokens; t++) mxfp4_stream_prepare(x, t, b0, nb, &xs[t]);
        for (size_t r = 0; r < rows; r++) {
            const uint8_t *w = blocks + (r * n_blocks + b0) * 16, *s = scales + r * n_blocks + b0;
            for (size_t t = 0; t < n_tokens; t++) {
                const float *xscale = x->scale + t * n_blocks + b0;
                __m256 acc = _mm256_setzero_ps();
                for (size_t j = 0; j < full; j++) acc = mxfp4_q8_stream8(w, s, xscale, &xs[t], j, 8, acc);
                if (rest) acc = mxfp4_q8_stream8(w, s, xscale, &xs[t], full, (int)rest, acc);
                float *yr = y + t * ldy + r;
                *yr = (b0 == 0 ? 0.0f : *yr) + hsum_ps(acc);
            }
        }
    }
}

/* One dense int8 row, blocks [8j, 8j + m) (m <= 8): |w| . sign(x, w), as maddubs
 * wants one unsigned side. */
INLINE __m256 q8_stream8(const int8_t *w, const uint16_t *s, const int8_t *xq, const float *xscale, size_t j,
                         const int m, __m256 acc) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i dot[8];
    UNROLL for (int i = 0; i < 4; i++) _mm_prefetch((const char *)(w + 8 * j * 32 + PF_DIST + 64 * i), _MM_HINT_T0);
    UNROLL for (int i = 0; i < 8; i++) {
        if (i >= m) {
            dot[i] = _mm256_setzero_si256();
            continue;
        }
        const __m256i wv = _mm256_loadu_si256((const __m256i *)(w + (8 * j + i) * 32));
        const __m256i xv = _mm256_loadu_si256((const __m256i *)(xq + (8 * j + i) * 32));
        dot[i] = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(wv), _mm256_sign_epi8(xv, wv)), ones);
    }
    __m256 d;
    if (m == 8)
        d = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + 8 * j))),
                          _mm256_loadu_ps(xscale + 8 * j));
    else { /* the ragged end, as in mxfp4_q8_stream8 */
        uint16_t sp[8] = {0};
        float xp[8] = {0};
        memcpy(sp, s + 8 * j, (size_t)m * sizeof *sp);
        memcpy(xp, xscale + 8 * j, (size_t)m * sizeof *xp);
        d = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)sp)), _mm256_loadu_ps(xp));
    }
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(hsum8_epi32(dot)), d, acc);
}

/* Rows outermost: with two or three tokens (q/k/v's two-part input in
 * decode) each row streams from memory once and the other tokens read it
 * from L1. */
static void q8_stream(const gptoss_q8_matrix *wm, size_t rows, size_t cols, const gptoss_q8_acts *x, size_t n_tokens,
                      float *y, size_t ldy) {
    const size_t n_blocks = cols / 32, full = n_blocks / 8, rest = n_blocks % 8;
    for (size_t r = 0; r < rows; r++) {
        const int8_t *w = wm->q + r * cols;
        const uint16_t *s = wm->scale + r * n_blocks;
        for (size_t t = 0; t < n_tokens; t++) {
            const int8_t *xq = x->q + t * cols;
            const float *xscale = x->scale + t * n_blocks;
            __m256 acc = _mm256_setzero_ps();
            for (size_t j = 0; j < full; j++) acc = q8_stream8(w, s, xq, xscale, j, 8, acc);
            if (rest) acc = q8_stream8(w, s, xq, xscale, full, (int)rest, acc);
            y[t * ldy + r] = hsum_ps(acc);
        }
    }
}

/* -- many tokens: 8 rows x a column chunk repacked once, reused by every token -- */

/* For each block b and column quad g, one ymm with columns 4g..4g+3 of each of
 * the 8 rows; ws[b] = the 8 rows' weight scales as floats. */
typedef struct q8_pack {
    _Alignas(32) int8_t w[Q_CHUNK][8][32];
    _Alignas(32) float ws[Q_CHUNK][Q_ROWS];
} q8_pack;

/* Rows >= rn repeat the last row (their results are discarded). Rows move
 * into lanes while still packed (lane i of ymm i: rows i and 4 + i, then an
 * in-lane 4x4 transpose), then decode: group 2j holds the even columns of
 * columns 8j..8j+7, group 2j+1 the odd ones (gptoss_fp4_tile_order). */
static void pack_mxfp4(const uint8_t *blocks, const uint8_t *scales, size_t n_blocks, size_t r0, size_t rn,
                       size_t b0, size_t nb, q8_pack *pk) {
    const __m256i table = fp4_table_offset(), nibble = _mm256_set1_epi8(0x0f);
    const uint8_t *wrow[Q_ROWS], *srow[Q_ROWS];
    for (size_t r = 0; r < Q_ROWS; r++) {
        const size_t row = (r0 + min_size(r, rn - 1)) * n_blocks + b0;
        wrow[r] = blocks + row * 16;
        srow[r] = scales + row;
    }
    for (size_t b = 0; b < nb; b++) {
        __m256i m[4];
        for (int i = 0; i < 4; i++)
            m[i] = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(wrow[i] + b * 16))),
                                           _mm_loadu_si128((const __m128i *)(wrow[4 + i] + b * 16)), 1);
        const __m256i t0 = _mm256_unpacklo_epi32(m[0], m[1]), t1 = _mm256_unpackhi_epi32(m[0], m[1]);
        const __m256i t2 = _mm256_unpacklo_epi32(m[2], m[3]), t3 = _mm256_unpackhi_epi32(m[2], m[3]);
        const __m256i packed[4] = {_mm256_unpacklo_epi64(t0, t2), _mm256_unpackhi_epi64(t0, t2),
                                   _mm256_unpacklo_epi64(t1, t3), _mm256_unpackhi_epi64(t1, t3)};
        for (int j = 0; j < 4; j++) { /* packed[j] lane r: row r's columns 8j .. 8j+7 */
            const __m256i even = _mm256_shuffle_epi8(table, _mm256_and_si256(packed[j], nibble));
            const __m256i odd = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(packed[j], 4), nibble));
            _mm256_store_si256((__m256i *)pk->w[b][2 * j], even);
            _mm256_store_si256((__m256i *)pk->w[b][2 * j + 1], odd);
        }
        for (int r = 0; r < Q_ROWS; r++) pk->ws[b][r] = e8m0_half.value[srow[r][b]];
    }
}

/* n rows of cols int8 activations, each 8 columns in gptoss_fp4_tile_order. */
static void fp4_tile_acts(const int8_t *q, size_t n, size_t cols, int8_t *out) {
    const __m128i order = _mm_loadu_si128((const __m128i *)gptoss_fp4_tile_order);
    const __m256i order2 = _mm256_inserti128_si256(_mm256_castsi128_si256(order), order, 1);
    for (size_t i = 0; i < n * cols; i += 32) /* cols % 32 == 0 */
        _mm256_storeu_si256((__m256i *)(out + i),
                            _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(q + i)), order2));
}

static void pack_q8(const gptoss_q8_matrix *wm, size_t cols, size_t r0, size_t rn, size_t b0, size_t nb,
                    q8_pack *pk) {
    const size_t n_blocks = cols / 32;
    const int8_t *wrow[Q_ROWS];
    const uint16_t *srow[Q_ROWS];
    for (size_t r = 0; r < Q_ROWS; r++) {
        const size_t row = r0 + min_size(r, rn - 1);
        wrow[r] = wm->q + row * cols + b0 * 32;
        srow[r] = wm->scale + row * n_blocks + b0;
    }
    for (size_t b = 0; b < nb; b++) {
        __m256i m[8];
        for (int r = 0; r < Q_ROWS; r++) {
            m[r] = _mm256_loadu_si256((const __m256i *)(wrow[r] + b * 32));
            pk->ws[b][r] = _cvtsh_ss(srow[r][b]);
        }
        transpose8x8_epi32(m);
        for (int g = 0; g < 8; g++) _mm256_store_si256((__m256i *)pk->w[b][g], m[g]);
    }
}

/* The tokens of one packed tile, from the chunk's first block on: token t's
 * activations at q + t * ldq, scales at scale + t * lds, and (MXFP4)
 * 12 * block sums. Strides rather than per-token pointers keep the
 * general-purpose registers from spilling in the T = 4 loops. */
typedef struct q8_tokens {
    const int8_t *q;
    const float *scale;
    size_t ldq, lds;
    _Alignas(32) int32_t corr[Q_TOKENS][Q_CHUNK];
} q8_tokens;

/* T tokens x a packed MXFP4 group: per block and token, 8 maddubs (4 columns x
 * 8 rows each) summed in int16 four at a time, widened, corrected, scaled. */
INLINE void mxfp4_q8_packed_tile(const q8_pack *pk, size_t nb, const q8_tokens *x, const int T, float *y, size_t ldy,
                                 size_t rn, int first) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[Q_TOKENS];
    UNROLL for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
    for (size_t b = 0; b < nb; b++) {
        __m256i dot[Q_TOKENS];
        UNROLL for (int half = 0; half < 2; half++) {
            __m256i s[Q_TOKENS];
            UNROLL for (int g = 4 * half; g < 4 * half + 4; g++) {
                const __m256i wv = _mm256_load_si256((const __m256i *)pk->w[b][g]);
                UNROLL for (int t = 0; t < T; t++) {
                    const __m256i xv = _mm256_set1_epi32((int32_t)load_u32(x->q + t * x->ldq + b * 32 + 4 * g));
                    const __m256i p = _mm256_maddubs_epi16(wv, xv);
                    s[t] = g == 4 * half ? p : _mm256_add_epi16(s[t], p);
                    KEEP(s[t]);
                }
            }
            UNROLL for (int t = 0; t < T; t++) {
                const __m256i wide = _mm256_madd_epi16(s[t], ones);
                dot[t] = half == 0 ? wide : _mm256_add_epi32(dot[t], wide);
            }
        }
        const __m256 ws = _mm256_load_ps(pk->ws[b]);
        UNROLL for (int t = 0; t < T; t++) {
            const __m256i fixed = _mm256_sub_epi32(dot[t], _mm256_set1_epi32(x->corr[t][b]));
            const __m256 d = _mm256_mul_ps(ws, _mm256_broadcast_ss(x->scale + t * x->lds + b));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(fixed), d, acc[t]);
        }
    }
    UNROLL for (int t = 0; t < T; t++) store_rows8(y + t * ldy, acc[t], rn, first);
}

/* T tokens x a packed dense int8 group: |w| . sign(x, w), widened every time
 * (a pair of 127 x 127 products nearly fills int16). */
INLINE void q8_packed_tile(const q8_pack *pk, size_t nb, const q8_tokens *x, const int T, float *y, size_t ldy,
                           size_t rn, int first) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[Q_TOKENS];
    UNROLL for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
    for (size_t b = 0; b < nb; b++) {
        __m256i dot[Q_TOKENS];
        UNROLL for (int g = 0; g < 8; g++) {
            const __m256i wv = _mm256_load_si256((const __m256i *)pk->w[b][g]);
            const __m256i wabs = _mm256_abs_epi8(wv);
            UNROLL for (int t = 0; t < T; t++) {
                const __m256i xv = _mm256_set1_epi32((int32_t)load_u32(x->q + t * x->ldq + b * 32 + 4 * g));
                const __m256i wide = _mm256_madd_epi16(_mm256_maddubs_epi16(wabs, _mm256_sign_epi8(xv, wv)), ones);
                dot[t] = g == 0 ? wide : _mm256_add_epi32(dot[t], wide);
                KEEP(dot[t]);
            }
        }
        const __m256 ws = _mm256_load_ps(pk->ws[b]);
        UNROLL for (int t = 0; t < T; t++) {
            const __m256 d = _mm256_mul_ps(ws, _mm256_broadcast_ss(x->scale + t * x->lds + b));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[t]), d, acc[t]);
        }
    }
    UNROLL for (int t = 0; t < T; t++) store_rows8(y + t * ldy, acc[t], rn, first);
}

/* Every token against one packed group (rows r0.., chunk b0..). */
static void packed_tokens(const q8_pack *pk, int is_mxfp4, size_t b0, size_t nb, const gptoss_q8_acts *x,
                          size_t n_tokens, float *y, size_t ldy, size_t rn) {
    const size_t cols = x->cols, n_blocks = cols / 32;
    const int first = b0 == 0;
    q8_tokens xt;
    xt.ldq = cols, xt.lds = n_blocks;
    for (size_t t0 = 0; t0 < n_tokens; t0 += Q_TOKENS) {
        const size_t T = min_size(Q_TOKENS, n_tokens - t0);
        xt.q = x->q + t0 * cols + b0 * 32;
        xt.scale = x->scale + t0 * n_blocks + b0;
        for (size_t t = 0; t < T; t++) {
            if (is_mxfp4)
                for (size_t b = 0; b < nb; b++) xt.corr[t][b] = FP4_OFFSET * x->sum[(t0 + t) * n_blocks + b0 + b];
        }
        float *yt = y + t0 * ldy;
        if (is_mxfp4) switch (T) {
            case 4: mxfp4_q8_packed_tile(pk, nb, &xt, 4, yt, ldy, rn, first); break;
            case 3: mxfp4_q8_packed_tile(pk, nb, &xt, 3, yt, ldy, rn, first); break;
            case 2: mxfp4_q8_packed_tile(pk, nb, &xt, 2, yt, ldy, rn, first); break;
            default: mxfp4_q8_packed_tile(pk, nb, &xt, 1, yt, ldy, rn, first); break;
            }
        else switch (T) {
            case 4: q8_packed_tile(pk, nb, &xt, 4, yt, ldy, rn, first); break;
            case 3: q8_packed_tile(pk, nb, &xt, 3, yt, ldy, rn, first); break;
            case 2: q8_packed_tile(pk, nb, &xt, 2, yt, ldy, rn, first); break;
            default: q8_packed_tile(pk, nb, &xt, 1, yt, ldy, rn, first); break;
            }
    }
}

static void matmul_mxfp4_q8_avx2(const uint8_t *blocks, const uint8_t *scales, size_t rows, size_t cols,
                                 const gptoss_q8_acts *x, size_t n_tokens, float *y, size_t ldy) {
    if (cols == 0) {
        zero_outputs(y, rows, n_tokens, ldy);
        return;
    }
    if (n_tokens < Q_PACK_MIN_MXFP4) {
        mxfp4_q8_stream(blocks, scales, rows, cols, x, n_tokens, y, ldy);
        return;
    }
    const size_t n_blocks = cols / 32;
    int8_t *ordered_q = malloc(n_tokens * cols);
    if (!ordered_q) { /* out of memory: the stream, a few tokens at a time */
        for (size_t t = 0; t < n_tokens; t += Q_PACK_MIN_MXFP4 - 1) {
            const gptoss_q8_acts part = {x->q + t * cols, x->scale + t * n_blocks, x->sum + t * n_blocks, cols};
            mxfp4_q8_stream(blocks, scales, rows, cols, &part, min_size(Q_PACK_MIN_MXFP4 - 1, n_tokens - t),
                            y + t * ldy, ldy);
        }
        return;
    }
    fp4_tile_acts(x->q, n_tokens, cols, ordered_q);
    const gptoss_q8_acts ordered = {ordered_q, x->scale, x->sum, cols};
    q8_pack pk;
    for (size_t b0 = 0; b0 < n_blocks; b0 += Q_CHUNK) {
        const size_t nb = min_size(Q_CHUNK, n_blocks - b0);
        for (size_t r0 = 0; r0 < rows; r0 += Q_ROWS) {
            const size_t rn = min_size(Q_ROWS, rows - r0);
            pack_mxfp4(blocks, scales, n_blocks, r0, rn, b0, nb, &pk);
            packed_tokens(&pk, 1, b0, nb, &ordered, n_tokens, y + r0, ldy, rn);
        }
    }
    free(ordered_q);
}

static void matmul_q8_avx2(const gptoss_q8_matrix *w, size_t rows, size_t cols, const gptoss_q8_acts *x,
                           size_t n_tokens, float *y, size_t ldy) {
    if (cols == 0) {
        zero_outputs(y, rows, n_tokens, ldy);
        return;
    }
    if (n_tokens < Q_PACK_MIN_DENSE) {
        q8_stream(w, rows, cols, x, n_tokens, y, ldy);
        return;
    }
    const size_t n_blocks = cols / 32;
    q8_pack pk;
    for (size_t b0 = 0; b0 < n_blocks; b0 += Q_CHUNK) {
        const size_t nb = min_size(Q_CHUNK, n_blocks - b0);
        for (size_t r0 = 0; r0 < rows; r0 += Q_ROWS) {
            const size_t rn = min_size(Q_ROWS, rows - r0);
            pack_q8(w, cols, r0, rn, b0, nb, &pk);
            packed_tokens(&pk, 0, b0, nb, x, n_tokens, y + r0, ldy, rn);
        }
    }
}

/* 8 chains (what 16 registers hold) of the kernels' int8 dot: maddubs, madd
 * to int32, add; 32 multiply-adds. Each chain's accumulator is also its
 * weight operand, so no two chains can be merged or hoisted. */
static uint64_t int8_peak_avx2(uint64_t rounds) {
    const __m256i ones = _mm256_set1_epi16(1), x = _mm256_set1_epi8(5);
    __m256i a[8];
    for (int i = 0; i < 8; i++) a[i] = _mm256_set1_epi32(i + 1);
    for (uint64_t r = 0; r < rounds; r++) {
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++)
            a[i] = _mm256_add_epi32(a[i], _mm256_madd_epi16(_mm256_maddubs_epi16(a[i], x), ones));
    }
    __m256i s = a[0];
    for (int i = 1; i < 8; i++) s = _mm256_add_epi32(s, a[i]);
    volatile int32_t sink = _mm256_extract_epi32(s, 0);
    (void)sink;
    return rounds * 8 * 32;
}

const gptoss_kernels gptoss_kernels_avx2 = {
    .name = "avx2",
    .isa = GPTOSS_KERNELS_AVX2,
    .matmul_bf16 = matmul_bf16_avx2,
    .matmul_mxfp4 = matmul_mxfp4_avx2,
    .quantize_q8 = quantize_q8_avx2,
    .matmul_q8 = matmul_q8_avx2,
    .matmul_mxfp4_q8 = matmul_mxfp4_q8_avx2,
    .int8_peak = int8_peak_avx2,
};
