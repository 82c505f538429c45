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

enum { KEY_BLOCK = 16 };

/* scores[j] = scale * q . K[j] for a tile whose keys are stored transposed
 * (keys_t[i][j]). The inner loop runs over a block of keys held in
 * registers, so it vectorises with no horizontal sum and no store per step. */
VECTOR_CLONES static void tile_scores(const float *q, const float *keys_t, uint32_t head_dim, uint32_t count,
                                      float scale, float *scores) {
    for (uint32_t j0 = 0; j0 < count; j0 += KEY_BLOCK) {
        float acc[KEY_BLOCK] = {0};
        for (uint32_t i = 0; i < head_dim; i++) {
            const float qi = q[i] * scale, *row = keys_t + (size_t)i * GPTOSS_ATTN_TILE + j0;
            for (uint32_t j = 0; j < KEY_BLOCK; j++) acc[j] += qi * row[j]; /* keys past count are ignored */
        }
        for (uint32_t j = 0; j < KEY_BLOCK && j0 + j < count; j++) scores[j0 + j] = acc[j];
    }
}

/* The tile's keys transposed, zero-padded to whole KEY_BLOCKs (what
 * tile_scores reads). */
static void transpose_keys(const attn_source *src, uint32_t start, uint32_t count, uint32_t kv_head, uint32_t head_dim,
                           float *keys_t) {
    for (uint32_t j = 0; j < count; j++) { /* each key row read once for every head of the group */
        const float *k = key_row(src, start + j, kv_head);
        for (uint32_t i = 0; i < head_dim; i++) keys_t[(size_t)i * GPTOSS_ATTN_TILE + j] = k[i];
    }
    const uint32_t padded = (count + KEY_BLOCK - 1) / KEY_BLOCK * KEY_BLOCK;
    for (uint32_t i = 0; i < head_dim && padded > count; i++)
        for (uint32_t j = count; j < padded; j++) keys_t[(size_t)i * GPTOSS_ATTN_TILE + j] = 0.0f;
}

VECTOR_CLONES static void scale_add(float *out, const float *v, float weight, uint32_t n) {
#pragma omp simd
    for (uint32_t i = 0; i < n; i++) out[i] += weight * v[i];
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

/* max(init, s[lo..hi)); NaN scores are skipped, as in the scalar loop. */
__attribute__((target("avx512f"))) static float scores_max_avx512(const float *s, uint32_t lo, uint32_t hi,
                                                                 float init) {
    __m512 m = _mm512_set1_ps(init);
    for (uint32_t j = lo; j < hi; j += 16) {
        const __mmask16 in = hi - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (hi - j)) - 1);
        m = _mm512_mask_max_ps(m, in, _mm512_maskz_loadu_ps(in, s + j), m); /* max(x, m) keeps m when x is NaN */
    }
    return _mm512_reduce_max_ps(m);
}

/* Scores of heads h and h+1 (q0, q1) against the whole tile: two heads at a
 * time give 8 independent FMA chains and share every key load. */
__attribute__((target("avx512f"))) static void tile_scores2_avx512(const float *q0, const float *q1,
                                                                   const float *keys_t, uint32_t head_dim, float scale,
                                                                   float *scores0, float *scores1) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    for (uint32_t i = 0; i < head_dim; i++) {
        const __m512 x = _mm512_set1_ps(q0[i] * scale), y = _mm512_set1_ps(q1[i] * scale);
        const float *row = keys_t + (size_t)i * GPTOSS_ATTN_TILE;
        const __m512 k0 = _mm512_loadu_ps(row), k1 = _mm512_loadu_ps(row + 16), k2 = _mm512_loadu_ps(row + 32),
                     k3 = _mm512_loadu_ps(row + 48);
        a0 = _mm512_fmadd_ps(x, k0, a0), a1 = _mm512_fmadd_ps(x, k1, a1);
        a2 = _mm512_fmadd_ps(x, k2, a2), a3 = _mm512_fmadd_ps(x, k3, a3);
        b0 = _mm512_fmadd_ps(y, k0, b0), b1 = _mm512_fmadd_ps(y, k1, b1);
        b2 = _mm512_fmadd_ps(y, k2, b2), b3 = _mm512_fmadd_ps(y, k3, b3);
    }
    _mm512_storeu_ps(scores0, a0), _mm512_storeu_ps(scores0 + 16, a1);
    _mm512_storeu_ps(scores0 + 32, a2), _mm512_storeu_ps(scores0 + 48, a3);
    _mm512_storeu_ps(scores1, b0), _mm512_storeu_ps(scores1 + 16, b1);
    _mm512_storeu_ps(scores1 + 32, b2), _mm512_storeu_ps(scores1 + 48, b3);
}

/* n (1..4, a constant once inlined) registers of two heads' outputs, from
 * float `at` on: out0 += sum_j p0[j] V[j], out1 += sum_j p1[j] V[j]. Every
 * value row is loaded once for both heads, whose accumulators make
 * independent FMA chains; a constant n keeps them in registers. */
__attribute__((target("avx512f"), always_inline)) static inline void values2_part(const float *const *values,
                                                                                  uint32_t count, const float *p0,
                                                                                  const float *p1, uint32_t at, int n,
                                                                                  float *out0, float *out1) {
    __m512 a[4], b[4];
    for (int c = 0; c < n; c++) a[c] = _mm512_loadu_ps(out0 + at + 16 * c), b[c] = _mm512_loadu_ps(out1 + at + 16 * c);
    for (uint32_t j = 0; j < count; j++) {
        const __m512 w0 = _mm512_set1_ps(p0[j]), w1 = _mm512_set1_ps(p1[j]);
        for (int c = 0; c < n; c++) {
            const __m512 v = _mm512_loadu_ps(values[j] + at + 16 * c);
            a[c] = _mm512_fmadd_ps(w0, v, a[c]);
            b[c] = _mm512_fmadd_ps(w1, v, b[c]);
        }
    }
    for (int c = 0; c < n; c++) _mm512_storeu_ps(out0 + at + 16 * c, a[c]), _mm512_storeu_ps(out1 + at + 16 * c, b[c]);
}

/* Two heads' weighted sums of the tile's value rows, 64 floats at a time. */
__attribute__((target("avx512f"))) static void values2_avx512(const float *const *values, uint32_t count,
                                                              const float *p0, const float *p1, uint32_t head_dim,
                                                              float *out0, float *out1) {
    for (uint32_t at = 0; at < head_dim; at += 64) {
        switch ((head_dim - at) / 16) {
        case 1: values2_part(values, count, p0, p1, at, 1, out0, out1); break;
        case 2: values2_part(values, count, p0, p1, at, 2, out0, out1); break;
        case 3: values2_part(values, count, p0, p1, at, 3, out0, out1); break;
        default: values2_part(values, count, p0, p1, at, 4, out0, out1); break;
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
            for (uint32_t j = 0; next != start && j < next_count; j++)
                for (uint32_t i = 0; i < head_dim; i += 16) {
                    _mm_prefetch((const char *)(key_row(src, next + j, kv_head) + i), _MM_HINT_T1);
                    _mm_prefetch((const char *)(value_row(src, next + j, kv_head) + i), _MM_HINT_T1);
                }
            keys_tile_avx512(src, start, count, kv_head, head_dim, keys_t); /* whole tile, zero past count */
        } else
#endif
            transpose_keys(src, start, count, kv_head, head_dim, keys_t);
        /* The tile's value rows, copied together once for all n tokens: the
         * batch's sit kv_dim floats apart, a power-of-two stride that maps
         * them onto a few L1 sets. */
        const float *values[GPTOSS_ATTN_TILE];
        for (uint32_t j = 0; j < count; j++) {
            float *row = tile_values + (size_t)j * head_dim;
            memcpy(row, value_row(src, start + j, kv_head), head_dim * sizeof(float));
            values[j] = row;
        }
        for (uint32_t t = 0; t < n; t++) {
            if (last[t] < start || first[t] > start + count - 1) continue; /* no key of the tile for this token */
            /* keys [lo, hi) of the tile are the token's */
            const uint32_t lo = first[t] > start ? first[t] - start : 0;
            const uint32_t hi = last[t] - start + 1 < count ? last[t] - start + 1 : count;
            const float *qt = q + t * q_stride;
            float *ot = out + t * out_stride, *tmax = running_max + t * group, *tsum = running_sum + t * group;
            for (uint32_t h = 0; h < group; h++) {
#if HAVE_AVX512_PATH
                if (wide) { /* heads in pairs; an odd last head pairs with itself */
                    const uint32_t h1 = h + 1 < group ? h + 1 : h;
                    tile_scores2_avx512(qt + (size_t)h * head_dim, qt + (size_t)h1 * head_dim, keys_t, head_dim,
                                        scale, scores + h * GPTOSS_ATTN_TILE, scores + h1 * GPTOSS_ATTN_TILE);
                    h = h1;
                    continue;
                }
#endif
                tile_scores(qt + (size_t)h * head_dim, keys_t, head_dim, count, scale, scores + h * GPTOSS_ATTN_TILE);
            }
            for (uint32_t h = 0; h < group; h++) {
                float *s = scores + h * GPTOSS_ATTN_TILE, tile_max = tmax[h];
#if HAVE_AVX512_PATH
                if (wide) tile_max = scores_max_avx512(s, lo, hi, tile_max);
                else
#endif
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
            for (uint32_t h = 0; h < group; h++) {
                float *o = ot + (size_t)h * head_dim;
                const float *p = scores + h * GPTOSS_ATTN_TILE;
#if HAVE_AVX512_PATH
                if (wide && h + 1 < group) {
                    values2_avx512(values + lo, hi - lo, p + lo, p + GPTOSS_ATTN_TILE + lo, head_dim, o, o + head_dim);
                    h++;
                    continue;
                }
#endif
                for (uint32_t j = lo; j < hi; j++) scale_add(o, values[j], p[j], head_dim);
            }
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
