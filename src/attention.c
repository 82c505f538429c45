/* attention.c - grouped-query attention with the sink in the denominator,
 * tiled over keys with an online softmax. */
#include "attention.h"

#include <math.h>

#include "numeric.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX512_PATH 1
#endif

static inline const float *key_row(const attn_source *src, uint32_t position) {
    if (position >= src->batch_start)
        return src->batch_keys + (size_t)(position - src->batch_start) * src->cache->kv_dim;
    return kv_key(src->cache, src->layer, position);
}

static inline const float *value_row(const attn_source *src, uint32_t position) {
    if (position >= src->batch_start)
        return src->batch_values + (size_t)(position - src->batch_start) * src->cache->kv_dim;
    return kv_value(src->cache, src->layer, position);
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
static void transpose_keys(const attn_source *src, uint32_t start, uint32_t count, size_t offset, uint32_t head_dim,
                           float *keys_t) {
    for (uint32_t j = 0; j < count; j++) { /* each key row read once for every head of the group */
        const float *k = key_row(src, start + j) + offset;
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

static inline void scale_vector(float *out, float factor, uint32_t n) {
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

/* m[i] lane j <-> m[j] lane i for 16 registers of 16 floats: 4x4 transposes
 * inside each 128-bit lane group, then the 4x4 grid of lane groups. */
__attribute__((target("avx512f"))) static inline void transpose16_ps(__m512 m[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 4) {
        const __m512 a = _mm512_unpacklo_ps(m[i], m[i + 1]), b = _mm512_unpackhi_ps(m[i], m[i + 1]);
        const __m512 c = _mm512_unpacklo_ps(m[i + 2], m[i + 3]), d = _mm512_unpackhi_ps(m[i + 2], m[i + 3]);
        t[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(c)));
        t[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(c)));
        t[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(b), _mm512_castps_pd(d)));
        t[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(b), _mm512_castps_pd(d)));
    }
    /* t[i + k] lane group g: rows i..i+3 of column 4g + k */
    for (int k = 0; k < 4; k++) {
        const __m512 u0 = _mm512_shuffle_f32x4(t[k], t[4 + k], 0x88), u1 = _mm512_shuffle_f32x4(t[k], t[4 + k], 0xdd);
        const __m512 v0 = _mm512_shuffle_f32x4(t[8 + k], t[12 + k], 0x88),
                     v1 = _mm512_shuffle_f32x4(t[8 + k], t[12 + k], 0xdd);
        m[k] = _mm512_shuffle_f32x4(u0, v0, 0x88);
        m[8 + k] = _mm512_shuffle_f32x4(u0, v0, 0xdd);
        m[4 + k] = _mm512_shuffle_f32x4(u1, v1, 0x88);
        m[12 + k] = _mm512_shuffle_f32x4(u1, v1, 0xdd);
    }
}

/* The tile's keys transposed (keys_t[i][j] = element i of key start + j),
 * 16 x 16 at a time; keys past count are zero. */
__attribute__((target("avx512f"))) static void keys_tile_avx512(const attn_source *src, uint32_t start, uint32_t count,
                                                                size_t offset, uint32_t head_dim, float *keys_t) {
    for (uint32_t j0 = 0; j0 < GPTOSS_ATTN_TILE; j0 += 16) {
        const float *rows[16];
        for (uint32_t r = 0; r < 16; r++) rows[r] = j0 + r < count ? key_row(src, start + j0 + r) + offset : NULL;
        for (uint32_t i0 = 0; i0 < head_dim; i0 += 16) {
            __m512 m[16];
            for (uint32_t r = 0; r < 16; r++) m[r] = rows[r] ? _mm512_loadu_ps(rows[r] + i0) : _mm512_setzero_ps();
            transpose16_ps(m);
            for (uint32_t c = 0; c < 16; c++) _mm512_storeu_ps(keys_t + (size_t)(i0 + c) * GPTOSS_ATTN_TILE + j0, m[c]);
        }
    }
}

__attribute__((target("avx512f"))) static void tile_scores_avx512(const float *q, const float *keys_t,
                                                                  uint32_t head_dim, float scale, float *scores) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (uint32_t i = 0; i < head_dim; i++) {
        const __m512 qi = _mm512_set1_ps(q[i] * scale);
        const float *row = keys_t + (size_t)i * GPTOSS_ATTN_TILE;
        acc0 = _mm512_fmadd_ps(qi, _mm512_loadu_ps(row), acc0);
        acc1 = _mm512_fmadd_ps(qi, _mm512_loadu_ps(row + 16), acc1);
        acc2 = _mm512_fmadd_ps(qi, _mm512_loadu_ps(row + 32), acc2);
        acc3 = _mm512_fmadd_ps(qi, _mm512_loadu_ps(row + 48), acc3);
    }
    _mm512_storeu_ps(scores, acc0);
    _mm512_storeu_ps(scores + 16, acc1);
    _mm512_storeu_ps(scores + 32, acc2);
    _mm512_storeu_ps(scores + 48, acc3);
}

__attribute__((target("avx512f"))) static void values_avx512(const float *const *values, uint32_t count,
                                                             const float *p, uint32_t head_dim, float *out) {
    __m512 acc[16];
    const uint32_t n = head_dim / 16;
    for (uint32_t c = 0; c < n; c++) acc[c] = _mm512_loadu_ps(out + 16 * c);
    for (uint32_t j = 0; j < count; j++) {
        const __m512 w = _mm512_set1_ps(p[j]);
        for (uint32_t c = 0; c < n; c++) acc[c] = _mm512_fmadd_ps(w, _mm512_loadu_ps(values[j] + 16 * c), acc[c]);
    }
    for (uint32_t c = 0; c < n; c++) _mm512_storeu_ps(out + 16 * c, acc[c]);
}
#endif

void gptoss_attend_group(const float *q, uint32_t group, const attn_source *src, uint32_t kv_head,
                         uint32_t head_dim, uint32_t first, uint32_t last, const float *sinks, float scale,
                         float *scratch, float *out) {
    const size_t offset = (size_t)kv_head * head_dim;
    float *scores = scratch;                          /* [group][TILE] */
    float *running_max = scratch + group * GPTOSS_ATTN_TILE, *running_sum = running_max + group;
    float *keys_t = running_sum + group;              /* [head_dim][TILE]: the tile's keys transposed */
    for (uint32_t h = 0; h < group; h++) {
        /* The sink is a score with no value: the softmax starts from it. */
        running_max[h] = sinks[h];
        running_sum[h] = 1.0f;
        for (uint32_t i = 0; i < head_dim; i++) out[(size_t)h * head_dim + i] = 0.0f;
    }
    for (uint32_t start = first; start <= last; start += GPTOSS_ATTN_TILE) {
        const uint32_t count = last - start + 1 < GPTOSS_ATTN_TILE ? last - start + 1 : GPTOSS_ATTN_TILE;
#if HAVE_AVX512_PATH
        const int wide = use_avx512(head_dim);
        if (wide) keys_tile_avx512(src, start, count, offset, head_dim, keys_t); /* whole tile, zero past count */
        else
#endif
            transpose_keys(src, start, count, offset, head_dim, keys_t);
        for (uint32_t h = 0; h < group; h++) {
#if HAVE_AVX512_PATH
            if (wide) {
                tile_scores_avx512(q + (size_t)h * head_dim, keys_t, head_dim, scale, scores + h * GPTOSS_ATTN_TILE);
                continue;
            }
#endif
            tile_scores(q + (size_t)h * head_dim, keys_t, head_dim, count, scale, scores + h * GPTOSS_ATTN_TILE);
        }
        for (uint32_t h = 0; h < group; h++) {
            float *s = scores + h * GPTOSS_ATTN_TILE, tile_max = running_max[h];
            for (uint32_t j = 0; j < count; j++) tile_max = s[j] > tile_max ? s[j] : tile_max;
            if (tile_max == -INFINITY) { /* every score so far is -inf: nothing to add */
                for (uint32_t j = 0; j < count; j++) s[j] = 0.0f;
                continue;
            }
            const float correction = expf(running_max[h] - tile_max);
            running_sum[h] *= correction;
            scale_vector(out + (size_t)h * head_dim, correction, head_dim);
            running_max[h] = tile_max;
            running_sum[h] += exp_shifted(s, count, tile_max);
        }
        const float *values[GPTOSS_ATTN_TILE]; /* the tile's value rows, located once (ring slots need a modulo) */
        for (uint32_t j = 0; j < count; j++) values[j] = value_row(src, start + j) + offset;
        for (uint32_t h = 0; h < group; h++) {
            float *o = out + (size_t)h * head_dim;
            const float *p = scores + h * GPTOSS_ATTN_TILE;
#if HAVE_AVX512_PATH
            if (wide) {
                values_avx512(values, count, p, head_dim, o);
                continue;
            }
#endif
            for (uint32_t j = 0; j < count; j++) scale_add(o, values[j], p[j], head_dim);
        }
        if (last - start < GPTOSS_ATTN_TILE) break; /* also guards start overflow */
    }
    for (uint32_t h = 0; h < group; h++) scale_vector(out + (size_t)h * head_dim, 1.0f / running_sum[h], head_dim);
}
