/* rng.h - xoshiro256** seeded through splitmix64: fast, reproducible random
 * numbers for the sampler and the synthetic checkpoint writer. */
#ifndef GPTOSS_RNG_H
#define GPTOSS_RNG_H

#include <stdint.h>

/* Advances *x and returns the next splitmix64 output (used to seed). */
static inline uint64_t rng_splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rng_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* The next xoshiro256** output of state s. */
static inline uint64_t rng_next(uint64_t s[4]) {
    const uint64_t out = rng_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rng_rotl(s[3], 45);
    return out;
}

/* Fills a xoshiro state from a seed. */
static inline void rng_seed(uint64_t s[4], uint64_t seed) {
    for (int i = 0; i < 4; i++) s[i] = rng_splitmix64(&seed);
}

#endif
