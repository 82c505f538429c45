/* tokenizer_utf8.c - UTF-8 validation and maximal-subpart lossy decoding. */
#include "tokenizer_utf8.h"

gptoss_utf8_result gptoss_utf8_next(const uint8_t *s, size_t n, uint32_t *cp, size_t *len) {
    uint8_t lead = s[0];
    if (lead < 0x80) {
        *cp = lead;
        *len = 1;
        return GPTOSS_UTF8_OK;
    }
    size_t need;          /* continuation bytes */
    uint8_t low = 0x80, high = 0xBF; /* allowed range of the second byte */
    uint32_t value;
    if (lead >= 0xC2 && lead <= 0xDF) need = 1, value = lead & 0x1F;
    else if (lead >= 0xE0 && lead <= 0xEF) {
        need = 2, value = lead & 0x0F;
        if (lead == 0xE0) low = 0xA0;      /* no overlongs */
        else if (lead == 0xED) high = 0x9F; /* no surrogates */
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        need = 3, value = lead & 0x07;
        if (lead == 0xF0) low = 0x90;      /* no overlongs */
        else if (lead == 0xF4) high = 0x8F; /* nothing above U+10FFFF */
    } else {
        *len = 1; /* stray continuation byte, C0, C1, F5..FF */
        return GPTOSS_UTF8_INVALID;
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= n) {
            *len = n;
            return GPTOSS_UTF8_TRUNCATED;
        }
        uint8_t byte = s[i];
        bool ok = i == 1 ? byte >= low && byte <= high : byte >= 0x80 && byte <= 0xBF;
        if (!ok) {
            *len = i; /* the lead and the valid continuations before this byte */
            return GPTOSS_UTF8_INVALID;
        }
        value = value << 6 | (byte & 0x3F);
    }
    *cp = value;
    *len = need + 1;
    return GPTOSS_UTF8_OK;
}

bool gptoss_utf8_validate(const uint8_t *s, size_t n, size_t *bad_offset) {
    size_t i = 0;
    while (i < n) {
        /* ASCII fast path, 8 bytes at a time. */
        while (i + 8 <= n) {
            uint64_t word;
            memcpy(&word, s + i, 8);
            if (word & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t len;
        if (gptoss_utf8_next(s + i, n - i, &cp, &len) != GPTOSS_UTF8_OK) {
            if (bad_offset) *bad_offset = i;
            return false;
        }
        i += len;
    }
    return true;
}

static const uint8_t replacement[3] = {0xEF, 0xBF, 0xBD}; /* U+FFFD */

size_t gptoss_utf8_append_lossy(gptoss_bytes *out, const uint8_t *s, size_t n, bool final) {
    size_t i = 0, run = 0; /* s[run..i) is valid and not yet copied */
    while (i < n) {
        uint32_t cp;
        size_t len;
        gptoss_utf8_result result = gptoss_utf8_next(s + i, n - i, &cp, &len);
        if (result == GPTOSS_UTF8_OK) {
            i += len;
            continue;
        }
        if (!gptoss_bytes_append(out, s + run, i - run)) return SIZE_MAX;
        if (result == GPTOSS_UTF8_TRUNCATED && !final) return i; /* hold it back */
        if (!gptoss_bytes_append(out, replacement, sizeof replacement)) return SIZE_MAX;
        i += len;
        run = i;
    }
    if (!gptoss_bytes_append(out, s + run, i - run)) return SIZE_MAX;
    return n;
}

size_t gptoss_utf8_encode(uint32_t c, uint8_t out[4]) {
    if (c < 0x80) {
        out[0] = (uint8_t)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (uint8_t)(0xC0 | c >> 6);
        out[1] = (uint8_t)(0x80 | (c & 63));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (uint8_t)(0xE0 | c >> 12);
        out[1] = (uint8_t)(0x80 | (c >> 6 & 63));
        out[2] = (uint8_t)(0x80 | (c & 63));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | c >> 18);
    out[1] = (uint8_t)(0x80 | (c >> 12 & 63));
    out[2] = (uint8_t)(0x80 | (c >> 6 & 63));
    out[3] = (uint8_t)(0x80 | (c & 63));
    return 4;
}
