/* attention.c - grouped-query attention with the sink in the denominator,
 * tiled over keys with an online softmax. */
#include "attention.h"

#include <math.h>
#include <string.h>

#include "numeric.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "avx512_transpose.h"
#define HAVE_AVX512_PATH 1
/* Unrolls the short loops over heads and registers, so their arrays of
 * vectors become registers. */
#define UNROLL _Pragma("GCC unroll 4")
#endif

/* KV head kv_head's key (value) row of position: the batch's own rows
 * (kv_dim apart) or the cache's. */
static inline const float *key_row(const attn_source *src, uint32_t position, uint32_t kv_head) {
    const uint32_t d = src->cache->head_dim;
    if (position >= src->batch_start)
        return src->batch_keys + (size_t)(position - src->batch_start) * src->cache->kv_dim + (size_t)kv_head * d;
    return kv_key(src->cache, src->layer, position, kv_head);
}

static inline const float *value_row(const attn_source *src, uint32_t position, uint32_t kv_head) {
    const uint32_t d = src->cache->head_dim;
    if (position >= src->batch_start)
        return src->batch_values + (size_t)(position - src->batch_start) * src->cache->kv_dim + (size_t)kv_head * d;
    return kv_value(src->cache, src->layer, position, kv_head);
}

/* scores[j] = scale * q . K[j] for the whole tile, whose keys are stored
 * transposed (keys_t[i][j]) and zero past the tile's count. The loop over
 * a row of 64 keys vectorises on every target; the scores stay in L1. */
VECTOR_CLONES static void tile_scores(const float *q, const float *keys_t, uint32_t head_dim, float scale,
                                      float *scores) {
    for (uint32_t j = 0; j < GPTOSS_ATTN_TILE; j++) scores[j] = 0.0f;
    for (uint32_t i = 0; i < head_dim; i++) {
        const float x = q[i] * scale, *row = keys_t + (size_t)i * GPTOSS_ATTN_TILE;
#pragma omp simd
        for (uint32_t j = 0; j < GPTOSS_ATTN_TILE; j++) scores[j] += x * row[j];
    }
}

/* The tile's keys transposed, zero past count (what tile_scores reads). */
static void transpose_keys(const attn_source *src, uint32_t start, uint32_t count, uint32_t kv_head, uint32_t head_dim,
                           float *keys_t) {
    for (uint32_t j = 0; j < count; j++) { /* each key row read once for every head of the group */
        const float *k = key_row(src, start + j, kv_head);
        for (uint32_t i = 0; i < head_dim; i++) keys_t[(size_t)i * GPTOSS_ATTN_TILE + j] = k[i];
    }
    for (uint32_t i = 0; i < head_dim && count < GPTOSS_ATTN_TILE; i++)
        for (uint32_t j = count; j < GPTOSS_ATTN_TILE; j++) keys_t[(size_t)i * GPTOSS_ATTN_TILE + j] = 0.0f;
}

/* out[0..n) += sum over j in [lo, hi) of p[j] * row j of values (rows of n floats). */
VECTOR_CLONES static void weighted_rows(float *out, const float *values, const float *p, uint32_t lo, uint32_t hi,
                                        uint32_t n) {
    for (uint32_t j = lo; j < hi; j++) {
        const float w = p[j], *v = values + (size_t)j * n;
#pragma omp simd
        for (uint32_t i = 0; i < n; i++) out[i] += w * v[i];
    }
}

/* s[j] = e^(s[j] - max) for j < count; returns their sum. Weights below
 * e^-87 become 0: they are subnormal, add nothing to a sum that holds at
 * least one 1, and every multiply by one would cost a microcode assist. */
VECTOR_CLONES static float exp_shifted(float *s, uint32_t count, float max) {
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (uint32_t j = 0; j < count; j++) {
        const float x = s[j] - max;
        s[j] = x < -87.0f ? 0.0f : exp_poly(x);
        sum += s[j];
    }
    return sum;
}

VECTOR_CLONES static void scale_vector(float *out, float factor, uint32_t n) {
#pragma omp simd
    for (uint32_t i = 0; i < n; i++) out[i] *= factor;
}

#if HAVE_AVX512_PATH
/* AVX-512 versions of the two inner loops, for head sizes that are whole
 * 16-float vectors (64 in gpt-oss): the scores of a 64-key tile live in four
 * registers, and a head's output in head_dim/16 registers over the tile. */
static int use_avx512(uint32_t head_dim) {
    static int cpu = -1;
    if (cpu < 0) cpu = __builtin_cpu_supports("avx512f") ? 1 : 0;
    return cpu && head_dim % 16 == 0 && head_dim <= 256;
}

/* The tile's keys transposed (keys_t[i][j] = element i of key start + j),
 * 16 x 16 at a time; keys past count are zero. */
__attribute__((target("avx512f"))) static void keys_tile_avx512(const attn_source *src, uint32_t start, uint32_t count,
                                                                uint32_t kv_head, uint32_t head_dim, float *keys_t) {
    for (uint32_t j0 = 0; j0 < GPTOSS_ATTN_TILE; j0 += 16) {
        const float *rows[16];
        for (uint32_t r = 0; r < 16; r++) rows[r] = j0 + r < count ? key_row(src, start + j0 + r, kv_head) : NULL;
        for (uint32_t i0 = 0; i0 < head_dim; i0 += 16) {
            __m512i m[16]; /* floats moved as 32-bit lanes */
            for (uint32_t r = 0; r < 16; r++)
                m[r] = rows[r] ? _mm512_loadu_si512(rows[r] + i0) : _mm512_setzero_si512();
            transpose16(m);
            for (uint32_t c = 0; c < 16; c++)
                _mm512_storeu_si512(keys_t + (size_t)(i0 + c) * GPTOSS_ATTN_TILE + j0, m[c]);
        }
    }
}

/* e^x of exp_poly (numeric.h), 16 lanes at a time. */
__attribute__((target("avx512f"), always_inline)) static inline __m512 exp_poly_avx512(__m512 x) {
    const __m512 round_shift = _mm512_set1_ps(12582912.0f);
    const __m512 n = _mm512_sub_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), round_shift), round_shift);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
    const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

/* For nh heads (see heads_tile), floats at..at+16*parts of each output:
 * out = out * correction + sum over keys [lo, hi) of weight * value row.
 * nh and parts are constants once inlined, so the 16 accumulators stay in
 * registers and each value load serves every head. */
__attribute__((target("avx512f"), always_inline)) static inline void heads_values(
    int nh, int parts, const float *values, uint32_t head_dim, uint32_t at, uint32_t lo, uint32_t hi,
    const float *weights, const float *correction, float *out) {
    __m512 acc[4][4];
    UNROLL
    for (int h = 0; h < nh; h++)
        UNROLL
        for (int c = 0; c < parts; c++)
            acc[h][c] = _mm512_mul_ps(_mm512_loadu_ps(out + (size_t)h * head_dim + at + 16 * c),
                                      _mm512_set1_ps(correction[h]));
    for (uint32_t j = lo; j < hi; j++) {
        const float *row = values + (size_t)j * head_dim + at;
        __m512 v[4];
        UNROLL
        for (int c = 0; c < parts; c++) v[c] = _mm512_loadu_ps(row + 16 * c);
        UNROLL
        for (int h = 0; h < nh; h++) {
            const __m512 w = _mm512_set1_ps(weights[h * GPTOSS_ATTN_TILE + j]);
            UNROLL
            for (int c = 0; c < parts; c++) acc[h][c] = _mm512_fmadd_ps(w, v[c], acc[h][c]);
        }
    }
    UNROLL
    for (int h = 0; h < nh; h++)
        UNROLL
        for (int c = 0; c < parts; c++) _mm512_storeu_ps(out + (size_t)h * head_dim + at + 16 * c, acc[h][c]);
}

/* Up to four heads (nh, a constant once inlined) of one token against one
 * key tile, the tile's scores kept in registers: 4 heads x 64 keys are 16
 * accumulators, and each key row loaded serves all of them. Then each
 * head's online-softmax step over keys [lo, hi) of the tile, and its output
 * rescaled by the step's correction plus the weighted value rows
 * (heads_values). `weights` is scratch for nh x GPTOSS_ATTN_TILE floats. */
__attribute__((target("avx512f"), always_inline)) static inline void heads_tile(
    const float *q, int nh, uint32_t head_dim, const float *keys_t, const float *values, uint32_t lo, uint32_t hi,
    float scale, float *tmax, float *tsum, float *out, float *weights) {
    __m512 s[4][4];
    UNROLL
    for (int h = 0; h < nh; h++)
        UNROLL
        for (int c = 0; c < 4; c++) s[h][c] = _mm512_setzero_ps();
    for (uint32_t i = 0; i < head_dim; i++) {
        const float *row = keys_t + (size_t)i * GPTOSS_ATTN_TILE;
        const __m512 k0 = _mm512_loadu_ps(row), k1 = _mm512_loadu_ps(row + 16), k2 = _mm512_loadu_ps(row + 32),
                     k3 = _mm512_loadu_ps(row + 48);
        UNROLL
        for (int h = 0; h < nh; h++) {
            const __m512 x = _mm512_set1_ps(q[(size_t)h * head_dim + i]);
            s[h][0] = _mm512_fmadd_ps(x, k0, s[h][0]), s[h][1] = _mm512_fmadd_ps(x, k1, s[h][1]);
            s[h][2] = _mm512_fmadd_ps(x, k2, s[h][2]), s[h][3] = _mm512_fmadd_ps(x, k3, s[h][3]);
        }
    }
    __mmask16 in[4]; /* lanes of keys lo..hi-1 */
    UNROLL
    for (uint32_t c = 0; c < 4; c++) {
        const uint32_t a = lo > 16 * c ? lo - 16 * c : 0, b = hi > 16 * c ? hi - 16 * c : 0;
        const uint32_t top = b < 16 ? b : 16;
        in[c] = a >= top ? 0 : (__mmask16)((((uint32_t)1 << top) - 1) & ~(((uint32_t)1 << a) - 1));
    }
    float correction[4];
    UNROLL
    for (int h = 0; h < nh; h++) {
        __m512 m = _mm512_set1_ps(tmax[h]);
        UNROLL
        for (int c = 0; c < 4; c++) {
            s[h][c] = _mm512_mul_ps(s[h][c], _mm512_set1_ps(scale));
            m = _mm512_mask_max_ps(m, in[c], s[h][c], m); /* max(x, m) keeps m when x is NaN */
        }
        const float tile_max = _mm512_reduce_max_ps(m);
        if (tile_max == -INFINITY) { /* every score so far is -inf: nothing to add */
            correction[h] = 1.0f;
            UNROLL
            for (int c = 0; c < 4; c++) _mm512_storeu_ps(weights + h * GPTOSS_ATTN_TILE + 16 * c, _mm512_setzero_ps());
            continue;
        }
        correction[h] = expf(tmax[h] - tile_max);
        tmax[h] = tile_max;
        const __m512 shift = _mm512_set1_ps(tile_max);
        __m512 sum = _mm512_setzero_ps();
        UNROLL
        for (int c = 0; c < 4; c++) {
            const __m512 x = _mm512_sub_ps(s[h][c], shift);
            /* weights below e^-87 are 0, as in exp_shifted */
            const __mmask16 keep = _mm512_mask_cmp_ps_mask(in[c], x, _mm512_set1_ps(-87.0f), _CMP_GE_OQ);
            const __m512 w = _mm512_maskz_mov_ps(keep, exp_poly_avx512(x));
            sum = _mm512_add_ps(sum, w);
            _mm512_storeu_ps(weights + h * GPTOSS_ATTN_TILE + 16 * c, w);
        }
        tsum[h] = tsum[h] * correction[h] + _mm512_reduce_add_ps(sum);
    }
    for (uint32_t at = 0; at < head_dim; at += 64) {
        switch (head_dim - at >= 64 ? 4 : (head_dim - at) / 16) {
        case 1: heads_values(nh, 1, values, head_dim, at, lo, hi, weights, correction, out); break;
        case 2: heads_values(nh, 2, values, head_dim, at, lo, hi, weights, correction, out); break;
        case 3: heads_values(nh, 3, values, head_dim, at, lo, hi, weights, correction, out); break;
        default: heads_values(nh, 4, values, head_dim, at, lo, hi, weights, correction, out); break;
        }
    }
}

/* All `group` heads of one token against one key tile (heads_tile, four
 * heads at a time); values holds the tile's value rows contiguously. */
__attribute__((target("avx512f"))) static void token_tile_avx512(const float *q, uint32_t group, uint32_t head_dim,
                                                                 const float *keys_t, const float *values, uint32_t lo,
                                                                 uint32_t hi, float scale, float *tmax, float *tsum,
                                                                 float *out, float *weights) {
    for (uint32_t h = 0; h < group; h += 4) {
        const float *qh = q + (size_t)h * head_dim;
        float *oh = out + (size_t)h * head_dim;
        switch (group - h >= 4 ? 4 : group - h) {
        case 1: heads_tile(qh, 1, head_dim, keys_t, values, lo, hi, scale, tmax + h, tsum + h, oh, weights); break;
        case 2: heads_tile(qh, 2, head_dim, keys_t, values, lo, hi, scale, tmax + h, tsum + h, oh, weights); break;
        case 3: heads_tile(qh, 3, head_dim, keys_t, values, lo, hi, scale, tmax + h, tsum + h, oh, weights); break;
        default: heads_tile(qh, 4, head_dim, keys_t, values, lo, hi, scale, tmax + h, tsum + h, oh, weights); break;
        }
    }
}
#endif

/* The core of gptoss_attend_group and gptoss_attend_block: n query tokens
 * (token t's heads at q + t*q_stride, its output at out + t*out_stride),
 * token t over keys first[t]..last[t]. Each key tile is transposed and its
 * value rows located once for all n tokens; a token uses the part of the
 * tile inside its own range. */
static void attend_tokens(const float *q, size_t q_stride, uint32_t n, const uint32_t *first, const uint32_t *last,
                          uint32_t group, const attn_source *src, uint32_t kv_head, uint32_t head_dim,
                          const float *sinks, float scale, float *scratch, float *out, size_t out_stride) {
    float *scores = scratch;                              /* [group][TILE], one token at a time */
    float *running_max = scratch + group * GPTOSS_ATTN_TILE; /* [n][group] */
    float *running_sum = running_max + (size_t)n * group;    /* [n][group] */
    float *keys_t = running_sum + (size_t)n * group;         /* [head_dim][TILE]: the tile's keys transposed */
    float *tile_values = keys_t + (size_t)head_dim * GPTOSS_ATTN_TILE; /* [TILE][head_dim] */
    uint32_t lo_key = UINT32_MAX, hi_key = 0;
    for (uint32_t t = 0; t < n; t++) {
        for (uint32_t h = 0; h < group; h++) {
            /* The sink is a score with no value: the softmax starts from it. */
            running_max[t * group + h] = sinks[h];
            running_sum[t * group + h] = 1.0f;
            for (uint32_t i = 0; i < head_dim; i++) out[t * out_stride + (size_t)h * head_dim + i] = 0.0f;
        }
        lo_key = first[t] < lo_key ? first[t] : lo_key;
        hi_key = last[t] > hi_key ? last[t] : hi_key;
    }
#if HAVE_AVX512_PATH
    const int wide = use_avx512(head_dim);
#endif
    for (uint32_t start = lo_key; start <= hi_key; start += GPTOSS_ATTN_TILE) {
        const uint32_t count = hi_key - start + 1 < GPTOSS_ATTN_TILE ? hi_key - start + 1 : GPTOSS_ATTN_TILE;
#if HAVE_AVX512_PATH
        if (wide) {
            /* Fetch the next tile's keys and values while this tile
             * computes (its own are read right below): the batch's rows sit
             * kv_dim apart, too far for the hardware prefetcher. */
            const uint32_t next = hi_key - start >= GPTOSS_ATTN_TILE ? start + GPTOSS_ATTN_TILE : start;
            const uint32_t next_count = hi_key - next + 1 < GPTOSS_ATTN_TILE ? hi_key - next + 1 : GPTOSS_ATTN_TILE;
            /* A lone token (decode) has too little work per tile to hide
             * a prefetch per line: it fetches only the batch's rows and
             * leaves the cache's, one sequential stream per head, to the
             * hardware prefetcher. */
            const uint32_t from = n == 1 && src->batch_start > next ? src->batch_start - next : 0;
            for (uint32_t j = from; next != start && j < next_count; j++)
                for (uint32_t i = 0; i < head_dim; i += 16) {
                    _mm_prefetch((const char *)(key_row(src, next + j, kv_head) + i), _MM_HINT_T1);
                    _mm_prefetch((const char *)(value_row(src, next + j, kv_head) + i), _MM_HINT_T1);
                }
            keys_tile_avx512(src, start, count, kv_head, head_dim, keys_t); /* whole tile, zero past count */
        } else
#endif
            transpose_keys(src, start, count, kv_head, head_dim, keys_t);
        /* The tile's value rows, one after another. For several tokens
         * they are copied together once, next to the transposed keys in L1
         * (the batch's sit kv_dim floats apart, a power-of-two stride that
         * maps them onto a few L1 sets). A lone token reads the cache's
         * consecutive rows in place: each is used once. */
        const float *tile_rows = value_row(src, start, kv_head);
        const int in_place = n == 1 && start + count <= src->batch_start &&
                             value_row(src, start + count - 1, kv_head) == tile_rows + (size_t)(count - 1) * head_dim;
        if (!in_place) {
            for (uint32_t j = 0; j < count; j++)
                memcpy(tile_values + (size_t)j * head_dim, value_row(src, start + j, kv_head), head_dim * sizeof(float));
            tile_rows = tile_values;
        }
        for (uint32_t t = 0; t < n; t++) {
            if (last[t] < start || first[t] > start + count - 1) continue; /* no key of the tile for this token */
            /* keys [lo, hi) of the tile are the token's */
            const uint32_t lo = first[t] > start ? first[t] - start : 0;
            const uint32_t hi = last[t] - start + 1 < count ? last[t] - start + 1 : count;
            const float *qt = q + t * q_stride;
            float *ot = out + t * out_stride, *tmax = running_max + t * group, *tsum = running_sum + t * group;
#if HAVE_AVX512_PATH
            if (wide) {
                token_tile_avx512(qt, group, head_dim, keys_t, tile_rows, lo, hi, scale, tmax, tsum, ot, scores);
                continue;
            }
#endif
            for (uint32_t h = 0; h < group; h++)
                tile_scores(qt + (size_t)h * head_dim, keys_t, head_dim, scale, scores + h * GPTOSS_ATTN_TILE);
            for (uint32_t h = 0; h < group; h++) {
                float *s = scores + h * GPTOSS_ATTN_TILE, tile_max = tmax[h];
                for (uint32_t j = lo; j < hi; j++) tile_max = s[j] > tile_max ? s[j] : tile_max;
                if (tile_max == -INFINITY) { /* every score so far is -inf: nothing to add */
                    for (uint32_t j = lo; j < hi; j++) s[j] = 0.0f;
                    continue;
                }
                const float correction = expf(tmax[h] - tile_max);
                tsum[h] *= correction;
                scale_vector(ot + (size_t)h * head_dim, correction, head_dim);
                tmax[h] = tile_max;
                tsum[h] += exp_shifted(s + lo, hi - lo, tile_max);
            }
            for (uint32_t h = 0; h < group; h++)
                weighted_rows(ot + (size_t)h * head_dim, tile_rows, scores + h * GPTOSS_ATTN_TILE, lo, hi, head_dim);
        }
        if (hi_key - start < GPTOSS_ATTN_TILE) break; /* also guards start overflow */
    }
    for (uint32_t t = 0; t < n; t++)
        for (uint32_t h = 0; h < group; h++)
            scale_vector(out + t * out_stride + (size_t)h * head_dim, 1.0f / running_sum[t * group + h], head_dim);
}

void gptoss_attend_group(const float *q, uint32_t group, const attn_source *src, uint32_t kv_head,
                         uint32_t head_dim, uint32_t first, uint32_t last, const float *sinks, float scale,
                         float *scratch, float *out) {
    attend_tokens(q, 0, 1, &first, &last, group, src, kv_head, head_dim, sinks, scale, scratch, out, 0);
}

void gptoss_attend_block(const float *q, size_t q_stride, uint32_t n, uint32_t pos0, int sliding, uint32_t window,
                         uint32_t group, const attn_source *src, uint32_t kv_head, uint32_t head_dim,
                         const float *sinks, float scale, float *scratch, float *out, size_t out_stride) {
    uint32_t first[GPTOSS_ATTN_BLOCK], last[GPTOSS_ATTN_BLOCK];
    for (uint32_t t0 = 0; t0 < n; t0 += GPTOSS_ATTN_BLOCK) {
        const uint32_t m = n - t0 < GPTOSS_ATTN_BLOCK ? n - t0 : GPTOSS_ATTN_BLOCK;
        for (uint32_t t = 0; t < m; t++) {
            last[t] = pos0 + t0 + t;
            first[t] = gptoss_attention_first(last[t], sliding, window);
        }
        attend_tokens(q + t0 * q_stride, q_stride, m, first, last, group, src, kv_head, head_dim, sinks, scale,
                      scratch, out + t0 * out_stride, out_stride);
    }
}
