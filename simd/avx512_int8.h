/* avx512_int8.h - matmul_q8 and matmul_mxfp4_q8 for AVX-512, shared by
 * avx512.c and avx512_vnni.c. Each includes this once, after defining its
 * int8 dot products (all return acc plus, per 32-bit lane, the sum of the
 * lane's 4 byte products of an encoded weight and a signed activation):
 *
 *   enum { Q8_BIAS };                    zero point q8_encode adds to int8 weights
 *   __m512i q8_encode(__m512i w);        int8 weights as dot_q8 takes them
 *   __m512i dot_q8(__m512i acc, __m512i w_encoded, __m512i x);
 *   __m512i dot2_fp4(__m512i acc, __m512i u0, __m512i x0, __m512i u1, __m512i x1);
 *                                                         (u0, u1 in 0..24)
 *
 * MXFP4 nibbles decode to unsigned 2*FP4 + 12 (0..24) and q8 weights to
 * w + Q8_BIAS, so a block's dot starts from -bias * (sum of the block's int8
 * activations, precomputed in gptoss_q8_acts.sum) and stays exact.
 *
 * Two shapes of work:
 *  - few tokens (decode, bandwidth-bound): one row at a time, 4 blocks per
 *    register, prefetching ahead. The lanes of each block are summed as
 *    integers 16 blocks at a time, then scaled. For MXFP4 the activations are
 *    reordered once per call to match the nibble order, so decoding 4 blocks
 *    is an AND, a shift and two table shuffles.
 *  - many tokens (prefill, compute-bound): 32 rows x up to 1024 columns are
 *    decoded once into a tile whose 32-bit lanes are rows (two registers of
 *    16 rows per 4 columns); each token then broadcasts 4 activation bytes
 *    against both, so every int8 dot instruction serves 16 rows and needs no
 *    horizontal sum. Register tiles of 2 halves x 4 tokens (or 1 x 8) keep 8
 *    independent accumulator chains. The next tile's weights are prefetched
 *    into L2 while this one computes. MXFP4 rows are moved into lanes while
 *    still packed (half the bytes of decoded ones) and decode to 4 even and
 *    4 odd columns per lane; the activations are reordered to match, once
 *    per call, because an expert's few tokens amortise the tile's decoding
 *    poorly.
 */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "avx512_transpose.h"
#include "kernels.h"

#define INT8_INLINE static inline __attribute__((always_inline))

enum {
    FP4_BIAS = 12,
    TILE_ROWS = 32,        /* two halves of 16 rows: each activation broadcast feeds both */
    TILE_BLOCKS = 32,      /* 32 rows x 1024 columns: 32 KiB of int8 weights, L1-sized */
    TILE_MIN_TOKENS = 4,   /* below this the tile costs more to build than it saves */
    PREFETCH_BYTES = 2048, /* how far ahead of the row being read */
};

typedef enum weight_kind { WEIGHTS_FP4, WEIGHTS_Q8 } weight_kind;

/* A row block of either kind: row r's weights start at data + r * row_bytes,
 * its scales at element r * nb of scales (uint8 E8M0 for FP4, uint16 f16 for q8). */
typedef struct int8_weights {
    const uint8_t *data;
    const uint8_t *scales;
    size_t row_bytes, nb;
} int8_weights;

static inline __mmask16 first_lanes16(size_t n) { return (__mmask16)((1u << n) - 1); }

INT8_INLINE int32_t int8_bias(weight_kind kind) { return kind == WEIGHTS_FP4 ? FP4_BIAS : Q8_BIAS; }

/* 16 E8M0 bytes -> 2^(s-128), the scale of weights decoded as 2 * FP4; lanes
 * outside m are 0. Built from integers only: float arithmetic on the
 * subnormal results (s < 2) would cost a microcode assist. */
INT8_INLINE __m512 e8m0_half(__m128i bytes, __mmask16 m) {
    const __m512i s = _mm512_cvtepu8_epi32(bytes);
    const __m512i normal = _mm512_slli_epi32(_mm512_sub_epi32(s, _mm512_set1_epi32(1)), 23);
    const __m512i subnormal = _mm512_sllv_epi32(_mm512_set1_epi32(0x00200000), s); /* s = 0, 1 */
    const __mmask16 is_normal = _mm512_mask_cmpge_epu32_mask(m, s, _mm512_set1_epi32(2));
    return _mm512_castsi512_ps(_mm512_mask_mov_epi32(_mm512_maskz_mov_epi32(m, subnormal), is_normal, normal));
}

/* Scales of blocks b.. (lanes in m) of row r; 0 outside m. */
INT8_INLINE __m512 row_scales(weight_kind kind, const int8_weights *w, size_t r, size_t b, __mmask16 m) {
    if (kind == WEIGHTS_FP4) return e8m0_half(_mm_maskz_loadu_epi8(m, w->scales + r * w->nb + b), m);
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)(const void *)w->scales + r * w->nb + b));
}

/* q8 blocks b and b+1 of row r (only b if single; b+1 reads as zero), encoded. */
INT8_INLINE __m512i q8_pair(const int8_weights *w, size_t r, size_t b, int single) {
    const uint8_t *p = w->data + r * w->row_bytes + b * 32;
    return q8_encode(single ? _mm512_maskz_loadu_epi8(0xffffffffull, p) : _mm512_loadu_si512(p));
}

/* 64 activation bytes of blocks b, b+1 of one token (b+1 zero if single). */
INT8_INLINE __m512i acts_pair(const int8_t *q, size_t b, int single) {
    return single ? _mm512_maskz_loadu_epi8(0xffffffffull, q + b * 32) : _mm512_loadu_si512(q + b * 32);
}

/* ---- few tokens: rows one at a time ---- */

/* One token's activations of a column chunk as the row loop reads them. */
typedef struct acts_view {
    const int8_t *q[4]; /* FP4: reordered by fp4_prepare; q8: as stored */
    const float *scale[4];
    const int32_t *sum[4];
} acts_view;

static inline __mmask64 first_bytes(size_t n) { return n >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << n) - 1; }

/* 4 blocks of nibbles (128-bit lane i = block i) -> the biased weights of the
 * even columns and of the odd columns, lane i still block i. */
INT8_INLINE void fp4_split(__m512i v, __m512i *even, __m512i *odd) {
    const __m512i table =
        _mm512_broadcast_i32x4(_mm_setr_epi8(12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0));
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    *even = _mm512_shuffle_epi8(table, _mm512_and_si512(v, low4));
    *odd = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(v, 4), low4));
}

/* kb blocks of one token's activations reordered to match fp4_split: per 4
 * blocks, the 16 even columns of each block (64 bytes), then the odd ones.
 * Zero past kb. Done once per call, it saves the weights (read once per row)
 * from being interleaved back into column order. */
INT8_INLINE void fp4_prepare(const int8_t *q, size_t kb, int8_t *out) {
    /* in each 16 bytes: even bytes, then odd bytes; then 64-bit halves regrouped per block */
    const __m512i split = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15));
    const __m512i evens = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14), odds = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
    for (size_t b = 0; b < kb; b += 4) {
        const size_t bytes = (kb - b < 4 ? kb - b : 4) * 32;
        const __m512i x0 = _mm512_shuffle_epi8(_mm512_maskz_loadu_epi8(first_bytes(bytes), q + b * 32), split);
        const __m512i x1 = bytes > 64 ? _mm512_maskz_loadu_epi8(first_bytes(bytes - 64), q + b * 32 + 64)
                                       : _mm512_setzero_si512();
        const __m512i x1s = _mm512_shuffle_epi8(x1, split);
        _mm512_store_si512(out + b * 32, _mm512_permutex2var_epi64(x0, evens, x1s));
        _mm512_store_si512(out + b * 32 + 64, _mm512_permutex2var_epi64(x0, odds, x1s));
    }
}

/* Four partial dots (4 blocks x 4 lanes each, lane group i = block i) -> the
 * 16 block dots in order. Block sums must be exact integers before they are
 * scaled, so the lanes of each block are added here, not after conversion. */
INT8_INLINE __m512i block_sums(const __m512i quad[4]) {
    /* lane group i: 2 partials of blocks i, 4+i (x0) and 8+i, 12+i (x1) */
    const __m512i x0 = _mm512_add_epi32(_mm512_unpacklo_epi32(quad[0], quad[1]), _mm512_unpackhi_epi32(quad[0], quad[1]));
    const __m512i x1 = _mm512_add_epi32(_mm512_unpacklo_epi32(quad[2], quad[3]), _mm512_unpackhi_epi32(quad[2], quad[3]));
    /* lane 4i + j: block 4j + i */
    const __m512i sums = _mm512_add_epi32(_mm512_unpacklo_epi64(x0, x1), _mm512_unpackhi_epi64(x0, x1));
    return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), sums);
}

/* 4 blocks from block b of row r against nt tokens: quad[t] lane group i = block b+i. */
INT8_INLINE void quad_dots(weight_kind kind, const int8_weights *w, size_t r, size_t b, size_t left,
                           const acts_view *x, int nt, __m512i quad[4]) {
    const __m512i zero = _mm512_setzero_si512();
    if (kind == WEIGHTS_FP4) {
        const uint8_t *p = w->data + r * w->row_bytes + b * 16;
        __m512i even, odd;
        fp4_split(left >= 4 ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi8(first_bytes(left * 16), p), &even, &odd);
        for (int t = 0; t < nt; t++)
            quad[t] = dot2_fp4(zero, even, _mm512_load_si512(x->q[t] + b * 32), odd,
                               _mm512_load_si512(x->q[t] + b * 32 + 64));
        return;
    }
    /* q8: 64 bytes hold two blocks in column order; fold halves into lane groups */
    const __m512i wa = q8_pair(w, r, b, left == 1);
    const __m512i wb = left > 2 ? q8_pair(w, r, b + 2, left == 3) : zero;
    for (int t = 0; t < nt; t++) {
        const __m512i da = dot_q8(zero, wa, acts_pair(x->q[t], b, left == 1)); /* blocks b, b+1 in lanes 0-7, 8-15 */
        const __m512i db = left > 2 ? dot_q8(zero, wb, acts_pair(x->q[t], b + 2, left == 3)) : zero;
        quad[t] = _mm512_add_epi32(_mm512_shuffle_i32x4(da, db, 0x88), _mm512_shuffle_i32x4(da, db, 0xdd));
    }
}

/* Row r, blocks g.. (gb of them, at most 16) against nt tokens: acc += the scaled block dots. */
INT8_INLINE void row_group(weight_kind kind, const int8_weights *w, size_t r, size_t g, size_t gb,
                           const acts_view *x, int nt, __m512 acc[4]) {
    const size_t block_bytes = kind == WEIGHTS_FP4 ? 16 : 32;
    const __mmask16 gm = first_lanes16(gb);
    /* the weights run contiguously through the row block: fetch ahead */
    const char *ahead = (const char *)w->data + r * w->row_bytes + g * block_bytes + PREFETCH_BYTES;
    for (size_t i = 0; i < 16 * block_bytes; i += 64) _mm_prefetch(ahead + i, _MM_HINT_T0);
    __m512i quad[4][4]; /* [q][token] */
    for (size_t q = 0; q < 4; q++) {
        if (4 * q < gb) quad_dots(kind, w, r, g + 4 * q, gb - 4 * q, x, nt, quad[q]);
        else
            for (int t = 0; t < nt; t++) quad[q][t] = _mm512_setzero_si512();
    }
    const __m512 ws = row_scales(kind, w, r, g, gm);
    for (int t = 0; t < nt; t++) {
        const __m512i quads[4] = {quad[0][t], quad[1][t], quad[2][t], quad[3][t]};
        const __m512i sums = _mm512_maskz_loadu_epi32(gm, x->sum[t] + g);
        const __m512i corr = _mm512_mullo_epi32(sums, _mm512_set1_epi32(-int8_bias(kind)));
        const __m512i dots = _mm512_add_epi32(block_sums(quads), corr);
        const __m512 scale = _mm512_mul_ps(ws, _mm512_maskz_loadu_ps(gm, x->scale[t] + g));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dots), scale, acc[t]);
    }
}

/* Every row against the nt (<= 3) tokens. FP4 activations are reordered once
 * per call, in chunks of PREP_BLOCKS blocks (one chunk for cols <= 4096). */
INT8_INLINE void int8_rows(weight_kind kind, const int8_weights *w, size_t rows, const gptoss_q8_acts *x, int nt,
                           float *y, size_t ldy) {
    enum { PREP_BLOCKS = 128 };
    int8_t prep[TILE_MIN_TOKENS - 1][PREP_BLOCKS * 32] __attribute__((aligned(64)));
    const size_t nb = w->nb, chunk = kind == WEIGHTS_FP4 ? PREP_BLOCKS : nb;
    const size_t block_bytes = kind == WEIGHTS_FP4 ? 16 : 32, scale_bytes = kind == WEIGHTS_FP4 ? 1 : 2;
    for (size_t c0 = 0; c0 < nb; c0 += chunk) {
        const size_t kb = nb - c0 < chunk ? nb - c0 : chunk;
        int8_weights wc = *w; /* the chunk's columns */
        wc.data += c0 * block_bytes;
        wc.scales += c0 * scale_bytes;
        acts_view xv;
        for (int t = 0; t < nt; t++) {
            const int8_t *q = x->q + t * x->cols + c0 * 32;
            if (kind == WEIGHTS_FP4) fp4_prepare(q, kb, prep[t]);
            xv.q[t] = kind == WEIGHTS_FP4 ? prep[t] : q;
            xv.scale[t] = x->scale + t * nb + c0;
            xv.sum[t] = x->sum + t * nb + c0;
        }
        for (size_t r = 0; r < rows; r++) {
            __m512 acc[4];
            for (int t = 0; t < nt; t++) acc[t] = _mm512_setzero_ps();
            size_t g = 0;
            for (; g + 16 <= kb; g += 16) row_group(kind, &wc, r, g, 16, &xv, nt, acc);
            if (g < kb) row_group(kind, &wc, r, g, kb - g, &xv, nt, acc);
            for (int t = 0; t < nt; t++)
                y[t * ldy + r] = (c0 > 0 ? y[t * ldy + r] : 0.0f) + _mm512_reduce_add_ps(acc[t]);
        }
    }
}

/* Every row against n_tokens < TILE_MIN_TOKENS tokens. */
INT8_INLINE void int8_few_tokens(weight_kind kind, const int8_weights *w, size_t rows, const gptoss_q8_acts *x,
                                 size_t n_tokens, float *y, size_t ldy) {
    switch (n_tokens) {
    case 1: int8_rows(kind, w, rows, x, 1, y, ldy); break;
    case 2: int8_rows(kind, w, rows, x, 2, y, ldy); break;
    case 3: int8_rows(kind, w, rows, x, 3, y, ldy); break;
    default: break;
    }
}

/* ---- many tokens: a transposed tile of 16 rows ---- */

typedef struct int8_tile {
    /* lane r of w[b][k][h]: 4 encoded weights of row 16h+r, block b: q8
     * columns 4k .. 4k+3; FP4 (gptoss_fp4_tile_order) columns 8j, 8j+2, 8j+4, 8j+6
     * for k = 2j and 8j+1, 8j+3, 8j+5, 8j+7 for k = 2j+1 */
    __m512i w[TILE_BLOCKS][8][2];
    __m512 scale[TILE_BLOCKS][2]; /* lane r of scale[b][h]: row 16h+r's scale of block b */
} int8_tile;

/* 16 bytes from each of 4 places, one per 128-bit lane (inserts from memory
 * need no shuffle port). */
INT8_INLINE __m512i load_lanes(const uint8_t *const p[4]) {
    __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)p[0]));
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)p[1]), 1);
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)p[2]), 2);
    return _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)p[3]), 3);
}

/* n rows of cols int8 activations, each 8 columns put in gptoss_fp4_tile_order. */
static void fp4_tile_acts(const int8_t *q, size_t n, size_t cols, int8_t *out) {
    const __m512i order = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)gptoss_fp4_tile_order));
    const size_t total = n * cols; /* cols % 32 == 0: no 8 columns straddle two rows */
    size_t i = 0;
    for (; i + 64 <= total; i += 64)
        _mm512_storeu_si512(out + i, _mm512_shuffle_epi8(_mm512_loadu_si512(q + i), order));
    if (i < total) /* one block */
        _mm512_mask_storeu_epi8(out + i, first_bytes(total - i),
                                _mm512_shuffle_epi8(_mm512_maskz_loadu_epi8(first_bytes(total - i), q + i), order));
}

/* Decodes rows [r0, r0 + nrows) (nrows <= 16) x blocks [b0, b0 + kb) into half
 * h of the tile (lanes of rows past nrows repeat row r0 and are never stored).
 * Per block, register i takes rows i, 4+i, 8+i, 12+i, one per lane group; an
 * in-lane 4x4 transpose then moves each row to its own lane: FP4 before
 * decoding (4 packed bytes, 8 columns, per lane), q8 after. */
INT8_INLINE void tile_fill(weight_kind kind, int8_tile *tile, int h, const int8_weights *w, size_t r0, size_t nrows,
                           size_t b0, size_t kb) {
    const size_t block_bytes = kind == WEIGHTS_FP4 ? 16 : 32;
    const uint8_t *row[16];
    for (size_t r = 0; r < 16; r++) row[r] = w->data + (r0 + (r < nrows ? r : 0)) * w->row_bytes + b0 * block_bytes;
    for (size_t b = 0; b < kb && kind == WEIGHTS_FP4; b++) {
        __m512i packed[4];
        for (int i = 0; i < 4; i++) {
            const uint8_t *p[4];
            for (int g = 0; g < 4; g++) p[g] = row[4 * g + i] + b * block_bytes;
            packed[i] = load_lanes(p);
        }
        transpose4_lanes(packed); /* packed[j] lane r: row r's columns 8j .. 8j+7 */
        for (int j = 0; j < 4; j++) {
            __m512i even, odd;
            fp4_split(packed[j], &even, &odd);
            _mm512_store_si512(&tile->w[b][2 * j][h], even);
            _mm512_store_si512(&tile->w[b][2 * j + 1][h], odd);
        }
    }
    for (size_t b = 0; b < kb && kind == WEIGHTS_Q8; b++) {
        __m512i lo[4], hi[4]; /* columns 0..15 and 16..31 of the block */
        for (int i = 0; i < 4; i++) {
            const uint8_t *p[4];
            for (int g = 0; g < 4; g++) p[g] = row[4 * g + i] + b * block_bytes;
            lo[i] = q8_encode(load_lanes(p));
            for (int g = 0; g < 4; g++) p[g] += 16;
            hi[i] = q8_encode(load_lanes(p));
        }
        transpose4_lanes(lo);
        transpose4_lanes(hi);
        for (int k = 0; k < 4; k++) {
            _mm512_store_si512(&tile->w[b][k][h], lo[k]);
            _mm512_store_si512(&tile->w[b][4 + k][h], hi[k]);
        }
    }
    __m512i m[16];
    for (size_t b = 0; b < kb; b += 16) {
        const size_t gb = kb - b < 16 ? kb - b : 16;
        for (size_t r = 0; r < 16; r++)
            m[r] = r < nrows ? _mm512_castps_si512(row_scales(kind, w, r0 + r, b0 + b, first_lanes16(gb)))
                             : _mm512_setzero_si512();
        transpose16(m);
        for (size_t c = 0; c < gb; c++) tile->scale[b + c][h] = _mm512_castsi512_ps(m[c]);
    }
}

static inline int32_t load_i32(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The next tile's weights, fetched into L2 a few lines per block step while
 * this tile computes: its fill then waits on L2, not memory. */
typedef struct tile_prefetch {
    const char *row;            /* the next tile's first row, at its first block */
    size_t row_bytes, span;     /* row stride; bytes of each row the tile reads */
    size_t rows, r, offset;     /* rows to fetch; position reached */
    size_t per_step;            /* lines per call of prefetch_step */
} tile_prefetch;

INT8_INLINE void prefetch_step(tile_prefetch *pf) {
    for (size_t i = 0; i < pf->per_step && pf->r < pf->rows; i++) {
        _mm_prefetch(pf->row + pf->r * pf->row_bytes + pf->offset, _MM_HINT_T1);
        pf->offset += 64;
        if (pf->offset >= pf->span) pf->offset = 0, pf->r++;
    }
}

/* Where a tile's results go. */
typedef struct tile_out {
    float *y; /* at the tile's first row */
    size_t ldy;
    __mmask16 rmask[2]; /* rows of each half */
    int accumulate;     /* add to y: not the first column chunk */
} tile_out;

/* Tokens [t0, t0 + nt) against nh halves of the tile (nh * nt <= 8; blocks
 * b0.. of the rows, kb of them). */
INT8_INLINE void tile_tokens(weight_kind kind, const int8_tile *tile, int nh, size_t b0, size_t kb,
                             const gptoss_q8_acts *x, size_t nb, size_t t0, int nt, const tile_out *out,
                             tile_prefetch *pf) {
    /* with few chains, two accumulators each: dot-product latency, not throughput, would bound one */
    const int split = nh * nt <= 4;
    const int32_t minus_bias = -int8_bias(kind);
    const int8_t *xq[8];
    const float *xs[8];
    const int32_t *xsum[8];
    for (int t = 0; t < nt; t++) {
        xq[t] = x->q + (t0 + t) * x->cols + b0 * 32;
        xs[t] = x->scale + (t0 + t) * nb + b0;
        xsum[t] = x->sum + (t0 + t) * nb + b0;
    }
    __m512 acc[2][8];
    for (int h = 0; h < nh; h++)
        for (int t = 0; t < nt; t++) acc[h][t] = _mm512_setzero_ps();
    for (size_t b = 0; b < kb; b++) {
        prefetch_step(pf);
        __m512i dot[2][8], dot_hi[2][8];
        for (int t = 0; t < nt; t++) {
            const __m512i start = _mm512_set1_epi32(minus_bias * xsum[t][b]);
            for (int h = 0; h < nh; h++) {
                dot[h][t] = start;
                if (split) dot_hi[h][t] = _mm512_setzero_si512();
            }
        }
        for (int k = 0; k < 8; k += 2) {
            __m512i w0[2], w1[2];
            for (int h = 0; h < nh; h++) {
                w0[h] = _mm512_load_si512(&tile->w[b][k][h]);
                w1[h] = _mm512_load_si512(&tile->w[b][k + 1][h]);
            }
            for (int t = 0; t < nt; t++) {
                const __m512i x0 = _mm512_set1_epi32(load_i32(xq[t] + b * 32 + 4 * k));
                const __m512i x1 = _mm512_set1_epi32(load_i32(xq[t] + b * 32 + 4 * k + 4));
                for (int h = 0; h < nh; h++) {
                    __m512i *d = split && k >= 4 ? &dot_hi[h][t] : &dot[h][t];
                    *d = kind == WEIGHTS_FP4 ? dot2_fp4(*d, w0[h], x0, w1[h], x1)
                                             : dot_q8(dot_q8(*d, w0[h], x0), w1[h], x1);
                }
            }
        }
        for (int t = 0; t < nt; t++) {
            const __m512 xscale = _mm512_set1_ps(xs[t][b]);
            for (int h = 0; h < nh; h++) {
                const __m512i d = split ? _mm512_add_epi32(dot[h][t], dot_hi[h][t]) : dot[h][t];
                const __m512 scale = _mm512_mul_ps(tile->scale[b][h], xscale);
                acc[h][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), scale, acc[h][t]);
            }
        }
    }
    for (int t = 0; t < nt; t++)
        for (int h = 0; h < nh; h++) {
            float *y = out->y + (t0 + t) * out->ldy + 16 * h;
            if (out->accumulate) acc[h][t] = _mm512_add_ps(acc[h][t], _mm512_maskz_loadu_ps(out->rmask[h], y));
            _mm512_mask_storeu_ps(y, out->rmask[h], acc[h][t]);
        }
}

/* Every token against the tile's nh halves, in register tiles of up to 8
 * (half, token) pairs. */
INT8_INLINE void tile_all_tokens(weight_kind kind, const int8_tile *tile, int nh, size_t b0, size_t kb,
                                 const gptoss_q8_acts *x, size_t nb, size_t n_tokens, const tile_out *out,
                                 tile_prefetch *pf) {
    size_t t = 0;
    if (nh == 1)
        for (; t + 8 <= n_tokens; t += 8) tile_tokens(kind, tile, 1, b0, kb, x, nb, t, 8, out, pf);
    for (; t + 4 <= n_tokens; t += 4) {
        if (nh == 2) tile_tokens(kind, tile, 2, b0, kb, x, nb, t, 4, out, pf);
        else tile_tokens(kind, tile, 1, b0, kb, x, nb, t, 4, out, pf);
    }
    for (; t < n_tokens; t++) {
        if (nh == 2) tile_tokens(kind, tile, 2, b0, kb, x, nb, t, 1, out, pf);
        else tile_tokens(kind, tile, 1, b0, kb, x, nb, t, 1, out, pf);
    }
}

/* ---- the kernels ---- */

INT8_INLINE void int8_matmul(weight_kind kind, const int8_weights *w, size_t rows, const gptoss_q8_acts *x,
                             size_t n_tokens, float *y, size_t ldy) {
    const size_t nb = w->nb, block_bytes = kind == WEIGHTS_FP4 ? 16 : 32;
    if (nb == 0) {
        for (size_t t = 0; t < n_tokens; t++) memset(y + t * ldy, 0, rows * sizeof *y);
        return;
    }
    if (n_tokens < TILE_MIN_TOKENS) {
        int8_few_tokens(kind, w, rows, x, n_tokens, y, ldy);
        return;
    }
    gptoss_q8_acts ordered; /* FP4: the activations in gptoss_fp4_tile_order */
    int8_t *ordered_q = NULL;
    if (kind == WEIGHTS_FP4) {
        ordered_q = malloc(n_tokens * x->cols);
        if (!ordered_q) { /* out of memory: the row loop, 3 tokens at a time */
            for (size_t t = 0; t < n_tokens; t += TILE_MIN_TOKENS - 1) {
                const gptoss_q8_acts part = {x->q + t * x->cols, x->scale + t * nb, x->sum + t * nb, x->cols};
                const size_t nt = n_tokens - t < TILE_MIN_TOKENS - 1 ? n_tokens - t : TILE_MIN_TOKENS - 1;
                int8_few_tokens(kind, w, rows, &part, nt, y + t * ldy, ldy);
            }
            return;
        }
        fp4_tile_acts(x->q, n_tokens, x->cols, ordered_q);
        ordered = (gptoss_q8_acts){ordered_q, x->scale, x->sum, x->cols};
        x = &ordered;
    }
    /* equal column chunks of at most TILE_BLOCKS blocks */
    const size_t n_chunks = (nb + TILE_BLOCKS - 1) / TILE_BLOCKS;
    const size_t chunk = (nb + n_chunks - 1) / n_chunks;
    int8_tile tile;
    for (size_t r0 = 0; r0 < rows; r0 += TILE_ROWS) {
        const size_t nrows = rows - r0 < TILE_ROWS ? rows - r0 : TILE_ROWS;
        const int nh = nrows > 16 ? 2 : 1;
        for (size_t b0 = 0; b0 < nb; b0 += chunk) {
            const size_t kb = nb - b0 < chunk ? nb - b0 : chunk;
            for (int h = 0; h < nh; h++)
                tile_fill(kind, &tile, h, w, r0 + 16 * h, h ? nrows - 16 : (nrows < 16 ? nrows : 16), b0, kb);
            /* the next tile: the next column chunk, or the next rows from column 0 */
            const size_t next_r0 = b0 + chunk < nb ? r0 : r0 + TILE_ROWS, next_b0 = b0 + chunk < nb ? b0 + chunk : 0;
            tile_prefetch pf = {(const char *)w->data + next_r0 * w->row_bytes + next_b0 * block_bytes, w->row_bytes,
                                (nb - next_b0 < chunk ? nb - next_b0 : chunk) * block_bytes,
                                next_r0 >= rows ? 0 : rows - next_r0 < TILE_ROWS ? rows - next_r0 : TILE_ROWS, 0, 0, 0};
            /* spread over the block steps of (about) every token tile */
            const size_t lines = pf.rows * ((pf.span + 63) / 64), steps = kb * ((n_tokens + 3) / 4);
            pf.per_step = (lines + steps - 1) / steps;
            const tile_out out = {y + r0, ldy,
                                  {first_lanes16(nrows < 16 ? nrows : 16), first_lanes16(nh == 2 ? nrows - 16 : 0)},
                                  b0 > 0};
            tile_all_tokens(kind, &tile, nh, b0, kb, x, nb, n_tokens, &out, &pf);
        }
    }
    free(ordered_q);
}

/* 12 chains of dot_q8 (64 multiply-adds each), each with its own weight
 * register; the empty asm tells the compiler the weights change every
 * round, so no product can be hoisted out of the loop. */
static uint64_t int8_peak(uint64_t rounds) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0,
            a9 = a0, a10 = a0, a11 = a0;
    __m512i w0 = _mm512_set1_epi8(1), w1 = _mm512_set1_epi8(2), w2 = _mm512_set1_epi8(3), w3 = _mm512_set1_epi8(4),
            w4 = _mm512_set1_epi8(5), w5 = _mm512_set1_epi8(6), w6 = _mm512_set1_epi8(7), w7 = _mm512_set1_epi8(8),
            w8 = _mm512_set1_epi8(9), w9 = _mm512_set1_epi8(10), w10 = _mm512_set1_epi8(11), w11 = _mm512_set1_epi8(12);
    const __m512i x = _mm512_set1_epi8(5);
    for (uint64_t r = 0; r < rounds; r++) {
        a0 = dot_q8(a0, w0, x), a1 = dot_q8(a1, w1, x), a2 = dot_q8(a2, w2, x), a3 = dot_q8(a3, w3, x);
        a4 = dot_q8(a4, w4, x), a5 = dot_q8(a5, w5, x), a6 = dot_q8(a6, w6, x), a7 = dot_q8(a7, w7, x);
        a8 = dot_q8(a8, w8, x), a9 = dot_q8(a9, w9, x), a10 = dot_q8(a10, w10, x), a11 = dot_q8(a11, w11, x);
        __asm__ volatile(""
                         : "+v"(w0), "+v"(w1), "+v"(w2), "+v"(w3), "+v"(w4), "+v"(w5), "+v"(w6), "+v"(w7), "+v"(w8),
                           "+v"(w9), "+v"(w10), "+v"(w11));
    }
    const __m512i s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)),
                                       _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7)));
    volatile int32_t sink = _mm512_reduce_add_epi32(
        _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(a8, a9), _mm512_add_epi32(a10, a11))));
    (void)sink;
    return rounds * 12 * 64;
}

static void int8_matmul_q8(const gptoss_q8_matrix *w, size_t rows, size_t cols, const gptoss_q8_acts *x,
                           size_t n_tokens, float *y, size_t ldy) {
    const int8_weights weights = {(const uint8_t *)w->q, (const uint8_t *)w->scale, cols, cols / 32};
    int8_matmul(WEIGHTS_Q8, &weights, rows, x, n_tokens, y, ldy);
}

static void int8_matmul_mxfp4_q8(const uint8_t *blocks, const uint8_t *scales, size_t rows, size_t cols,
                                 const gptoss_q8_acts *x, size_t n_tokens, float *y, size_t ldy) {
    const int8_weights weights = {blocks, scales, cols / 2, cols / 32};
    int8_matmul(WEIGHTS_FP4, &weights, rows, x, n_tokens, y, ldy);
}

#undef INT8_INLINE
