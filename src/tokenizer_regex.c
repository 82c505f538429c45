/* tokenizer_regex.c - Rust regex syntax -> equivalent PCRE2 pattern. */
#include "tokenizer_regex.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "tokenizer_buffer.h"
#include "tokenizer_utf8.h"
#include "unicode_classes.h"

#define MAX_GROUP_DEPTH 256

typedef struct translator {
    const char *p, *end, *start;
    bool explicit_ranges;
    bool icase;                          /* (?i) in force */
    bool saved_icase[MAX_GROUP_DEPTH];   /* icase outside each open group */
    int depth;
    gptoss_bytes out;
    bool oom;
} translator;

/* One parsed atom of a class or escape: a character or a set. */
typedef struct atom {
    bool is_set;
    uint32_t c;              /* when !is_set */
    gptoss_gc_mask mask;     /* categories (when is_set) */
    bool white_space;        /* White_Space (when is_set) */
    bool negated;            /* \P, \S, \D */
} atom;

static gptoss_status syntax_error(translator *t, const char *what) {
    return gptoss_fail(GPTOSS_ERROR_FORMAT, "pre-tokenizer regex, at offset %td: %s",
                       t->p - t->start, what);
}

static void emit(translator *t, const char *s) {
    if (!gptoss_bytes_append_str(&t->out, s)) t->oom = true;
}

static void emit_code_point(translator *t, uint32_t c) {
    char text[16];
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        snprintf(text, sizeof text, "%c", (char)c);
    else
        snprintf(text, sizeof text, "\\x{%X}", (unsigned)c);
    emit(t, text);
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* After \x, \u or \U: `digits` hex digits or {hex}. */
static gptoss_status parse_hex_escape(translator *t, int digits, uint32_t *c) {
    uint32_t value = 0;
    int count = 0;
    if (t->p < t->end && *t->p == '{') {
        t->p++;
        while (t->p < t->end && *t->p != '}') {
            int v = hex_value(*t->p++);
            if (v < 0 || ++count > 8) return syntax_error(t, "bad hex escape");
            value = value << 4 | (uint32_t)v;
        }
        if (t->p >= t->end || !count) return syntax_error(t, "unterminated hex escape");
        t->p++;
    } else {
        for (; count < digits; count++) {
            int v = t->p < t->end ? hex_value(*t->p) : -1;
            if (v < 0) return syntax_error(t, "bad hex escape");
            value = value << 4 | (uint32_t)v;
            t->p++;
        }
    }
    if (value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
        return syntax_error(t, "escape is not a Unicode scalar value");
    *c = value;
    return GPTOSS_OK;
}

/* After \p or \P: a one-letter name or {name}. */
static gptoss_status parse_property(translator *t, atom *a) {
    const char *name = t->p;
    size_t len = 1;
    if (t->p >= t->end) return syntax_error(t, "\\p without a property name");
    if (*t->p == '{') {
        const char *close = memchr(t->p, '}', (size_t)(t->end - t->p));
        if (!close) return syntax_error(t, "unterminated \\p{");
        name = t->p + 1;
        len = (size_t)(close - name);
        t->p = close + 1;
    } else {
        t->p++;
    }
    a->is_set = true;
    if (!gptoss_unicode_property(name, len, &a->mask, &a->white_space)) {
        char what[96];
        snprintf(what, sizeof what, "unsupported Unicode property \\p{%.*s}", (int)(len > 40 ? 40 : len), name);
        return syntax_error(t, what);
    }
    return GPTOSS_OK;
}

/* After a backslash (t->p at the escaped character), inside or outside a
 * class. Zero-width escapes are handled by the caller. */
static gptoss_status parse_escape(translator *t, atom *a) {
    *a = (atom){0};
    if (t->p >= t->end) return syntax_error(t, "trailing backslash");
    char c = *t->p++;
    switch (c) {
    case 'n': a->c = '\n'; return GPTOSS_OK;
    case 'r': a->c = '\r'; return GPTOSS_OK;
    case 't': a->c = '\t'; return GPTOSS_OK;
    case 'f': a->c = '\f'; return GPTOSS_OK;
    case 'v': a->c = '\v'; return GPTOSS_OK;
    case 'a': a->c = 7; return GPTOSS_OK;
    case 'x': return parse_hex_escape(t, 2, &a->c);
    case 'u': return parse_hex_escape(t, 4, &a->c);
    case 'U': return parse_hex_escape(t, 8, &a->c);
    case 's': case 'S':
        a->is_set = a->white_space = true;
        a->negated = c == 'S';
        return GPTOSS_OK;
    case 'd': case 'D':
        a->is_set = true;
        a->mask = 1u << GPTOSS_GC_ND; /* Unicode \d is Nd */
        a->negated = c == 'D';
        return GPTOSS_OK;
    case 'p': case 'P':
        a->negated = c == 'P';
        return parse_property(t, a);
    default:
        if ((unsigned char)c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                                        (c >= 'A' && c <= 'Z'))) {
            a->c = (uint32_t)c; /* escaped punctuation is itself */
            return GPTOSS_OK;
        }
        t->p--;
        char what[64];
        snprintf(what, sizeof what, "unsupported escape \\%c", c);
        return syntax_error(t, what);
    }
}

/* A literal character of the pattern (UTF-8). */
static gptoss_status parse_literal(translator *t, uint32_t *c) {
    size_t len;
    if (gptoss_utf8_next((const uint8_t *)t->p, (size_t)(t->end - t->p), c, &len) != GPTOSS_UTF8_OK)
        return syntax_error(t, "pattern is not valid UTF-8");
    t->p += len;
    return GPTOSS_OK;
}

/* Adds an atom to the class being built (explicit ranges + category mask). */
static bool add_atom(gptoss_cp_set *set, gptoss_gc_mask *mask, const atom *a) {
    if (!a->is_set) return gptoss_cp_set_add(set, a->c, a->c);
    if (a->white_space) {
        if (!a->negated) return gptoss_cp_set_add_white_space(set);
        gptoss_cp_set space = {0};
        bool ok = gptoss_cp_set_add_white_space(&space);
        gptoss_cp_set_normalize(&space);
        ok = ok && gptoss_cp_set_complement(&space);
        for (size_t i = 0; ok && i < space.count; i++)
            ok = gptoss_cp_set_add(set, space.ranges[i].first, space.ranges[i].last);
        gptoss_cp_set_free(&space);
        return ok;
    }
    *mask |= a->negated ? GPTOSS_GC_ALL & ~a->mask : a->mask;
    return true;
}

/* \p{..} items for the categories in mask, whole groups as one letter. */
static void emit_properties(translator *t, gptoss_gc_mask mask) {
    static const struct { const char *name; gptoss_gc_mask group; } groups[] = {
        {"L", 0x1Fu << GPTOSS_GC_LU}, {"M", 0x7u << GPTOSS_GC_MN}, {"N", 0x7u << GPTOSS_GC_ND},
        {"P", 0x7Fu << GPTOSS_GC_PC}, {"S", 0xFu << GPTOSS_GC_SM}, {"Z", 0x7u << GPTOSS_GC_ZS},
        {"C", 0x1Fu << GPTOSS_GC_CC},
    };
    char text[16];
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        if ((mask & groups[g].group) != groups[g].group) continue;
        snprintf(text, sizeof text, "\\p{%s}", groups[g].name);
        emit(t, text);
        mask &= ~groups[g].group;
    }
    for (int gc = 0; gc < GPTOSS_GC_COUNT; gc++) {
        if (!(mask >> gc & 1)) continue;
        snprintf(text, sizeof text, "\\p{%s}", gptoss_unicode_category_name((gptoss_gc)gc));
        emit(t, text);
    }
}

/* Writes a class: (negated) set ∪ categories, with Rust's (?i) closure. */
static gptoss_status emit_class(translator *t, bool negated, gptoss_cp_set *set, gptoss_gc_mask mask) {
    bool ok = true;
    if (t->icase) ok = gptoss_cp_set_close_over_case(set, mask);
    if (mask == GPTOSS_GC_ALL) {
        ok = ok && gptoss_cp_set_add(set, 0, 0x10FFFF);
        mask = 0;
    }
    if (ok && mask && (t->explicit_ranges || !gptoss_unicode_pcre2_corrections(mask, set))) {
        ok = gptoss_cp_set_add_categories(set, mask);
        mask = 0;
    }
    if (!ok) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "pre-tokenizer regex: out of memory");
    gptoss_cp_set_normalize(set);
    if (!mask && !set->count) {
        emit(t, negated ? "[\\x{0}-\\x{10FFFF}]" : "(?!)");
        return GPTOSS_OK;
    }
    emit(t, negated ? "[^" : "[");
    emit_properties(t, mask);
    for (size_t i = 0; i < set->count; i++) {
        uint32_t first = set->ranges[i].first, last = set->ranges[i].last;
        /* Surrogates never occur in UTF-8 and PCRE2 rejects them as endpoints. */
        if (first >= 0xD800 && first <= 0xDFFF) first = 0xE000;
        if (last >= 0xD800 && last <= 0xDFFF) last = 0xD7FF;
        if (first > last) continue;
        char text[32];
        if (first == last) snprintf(text, sizeof text, "\\x{%X}", (unsigned)first);
        else snprintf(text, sizeof text, "\\x{%X}-\\x{%X}", (unsigned)first, (unsigned)last);
        emit(t, text);
    }
    emit(t, "]");
    return GPTOSS_OK;
}

/* After '[': a Rust class up to its ']'. */
static gptoss_status translate_class(translator *t) {
    bool negated = false;
    if (t->p < t->end && *t->p == '^') negated = true, t->p++;
    gptoss_cp_set set = {0};
    gptoss_gc_mask mask = 0;
    gptoss_status status = GPTOSS_OK;
    bool first = true;
    for (;;) {
        if (t->p >= t->end) {
            status = syntax_error(t, "unterminated character class");
            break;
        }
        if (*t->p == ']' && !first) {
            t->p++;
            break;
        }
        first = false;
        if (*t->p == '[') {
            status = syntax_error(t, "nested classes and [:posix:] classes are not supported");
            break;
        }
        if (t->end - t->p >= 2 && (!memcmp(t->p, "&&", 2) || !memcmp(t->p, "--", 2) ||
                                   !memcmp(t->p, "~~", 2))) {
            status = syntax_error(t, "class set operations are not supported");
            break;
        }
        atom a = {0};
        if (*t->p == '\\') {
            t->p++;
            status = parse_escape(t, &a);
        } else {
            status = parse_literal(t, &a.c);
        }
        if (status != GPTOSS_OK) break;
        /* A range a-b, unless '-' is the last character of the class. */
        if (!a.is_set && t->end - t->p >= 2 && t->p[0] == '-' && t->p[1] != ']') {
            t->p++;
            atom b = {0};
            if (*t->p == '\\') {
                t->p++;
                status = parse_escape(t, &b);
            } else {
                status = parse_literal(t, &b.c);
            }
            if (status != GPTOSS_OK) break;
            if (b.is_set || b.c < a.c) {
                status = syntax_error(t, "bad class range");
                break;
            }
            if (!gptoss_cp_set_add(&set, a.c, b.c)) t->oom = true;
            continue;
        }
        if (!add_atom(&set, &mask, &a)) t->oom = true;
    }
    if (status == GPTOSS_OK && !t->oom) status = emit_class(t, negated, &set, mask);
    gptoss_cp_set_free(&set);
    return status;
}

/* A single atom outside a class. */
static gptoss_status emit_atom(translator *t, const atom *a) {
    if (!a->is_set && (!t->icase || gptoss_unicode_fold_orbit(a->c, NULL, 0) == 1)) {
        emit_code_point(t, a->c);
        return GPTOSS_OK;
    }
    gptoss_cp_set set = {0};
    gptoss_gc_mask mask = 0;
    gptoss_status status = GPTOSS_OK;
    if (!add_atom(&set, &mask, a)) t->oom = true;
    else status = emit_class(t, false, &set, mask);
    gptoss_cp_set_free(&set);
    return status;
}

/* After '(': the group's opening, flags included. */
static gptoss_status translate_group_open(translator *t) {
    if (t->depth >= MAX_GROUP_DEPTH) return syntax_error(t, "groups nested too deeply");
    t->saved_icase[t->depth++] = t->icase;
    if (t->p >= t->end || *t->p != '?') {
        emit(t, "(");
        return GPTOSS_OK;
    }
    t->p++;
    static const char *const lookarounds[] = {"=", "!", "<=", "<!"};
    for (size_t i = 0; i < 4; i++) {
        size_t n = strlen(lookarounds[i]);
        if ((size_t)(t->end - t->p) >= n && !memcmp(t->p, lookarounds[i], n)) {
            t->p += n;
            emit(t, "(?");
            emit(t, lookarounds[i]);
            return GPTOSS_OK;
        }
    }
    if (t->p < t->end && (*t->p == '<' || *t->p == 'P')) { /* named group: keep it capturing */
        const char *close = memchr(t->p, '>', (size_t)(t->end - t->p));
        if (!close || (*t->p == 'P' && (t->p + 1 >= t->end || t->p[1] != '<')))
            return syntax_error(t, "unsupported group syntax");
        t->p = close + 1;
        emit(t, "(");
        return GPTOSS_OK;
    }
    /* Flags: (?i) (?-i) (?iu:...) ... */
    bool value = true, icase = t->icase;
    while (t->p < t->end && *t->p != ':' && *t->p != ')') {
        char flag = *t->p++;
        if (flag == '-') value = false;
        else if (flag == 'i') icase = value;
        else if (flag != 'u' || !value) return syntax_error(t, "unsupported regex flag");
    }
    if (t->p >= t->end) return syntax_error(t, "unterminated group");
    if (*t->p++ == ':') {
        t->icase = icase;
        emit(t, "(?:");
    } else {
        /* (?i) alone applies to the rest of the enclosing group. */
        t->depth--;
        t->icase = icase;
    }
    return GPTOSS_OK;
}

static gptoss_status translate(translator *t) {
    gptoss_status status = GPTOSS_OK;
    while (t->p < t->end && status == GPTOSS_OK && !t->oom) {
        char c = *t->p;
        if (c == '\\') {
            t->p++;
            if (t->p < t->end && (*t->p == 'A' || *t->p == 'z')) {
                emit(t, *t->p == 'A' ? "\\A" : "\\z");
                t->p++;
                continue;
            }
            if (t->p < t->end && strchr("bBwW<>", *t->p) && *t->p)
                return syntax_error(t, "\\b, \\B, \\w and \\W are not supported");
            atom a;
            status = parse_escape(t, &a);
            if (status == GPTOSS_OK) status = emit_atom(t, &a);
        } else if (c == '[') {
            t->p++;
            status = translate_class(t);
        } else if (c == '(') {
            t->p++;
            status = translate_group_open(t);
        } else if (c == ')') {
            if (!t->depth) return syntax_error(t, "unbalanced ')'");
            t->icase = t->saved_icase[--t->depth];
            t->p++;
            emit(t, ")");
        } else if (c == '{') { /* repetition {n}, {n,}, {n,m}: copy it */
            const char *q = t->p + 1;
            while (q < t->end && ((*q >= '0' && *q <= '9') || *q == ',')) q++;
            if (q >= t->end || *q != '}' || q == t->p + 1) return syntax_error(t, "bad repetition");
            char text[64];
            if (q - t->p + 2 > (ptrdiff_t)sizeof text) return syntax_error(t, "bad repetition");
            snprintf(text, sizeof text, "%.*s", (int)(q - t->p + 1), t->p);
            emit(t, text);
            t->p = q + 1;
        } else if (c == '*' || c == '+' || c == '?' || c == '|') {
            char text[2] = {c, 0};
            emit(t, text);
            t->p++;
        } else if (c == '^') {
            emit(t, "\\A"); /* no multi-line mode: start of text */
            t->p++;
        } else if (c == '$') {
            emit(t, "\\z"); /* end of text only, unlike PCRE2's $ */
            t->p++;
        } else if (c == '.') {
            emit(t, "[^\\n]"); /* Rust's . excludes only \n */
            t->p++;
        } else {
            atom a = {0};
            status = parse_literal(t, &a.c);
            if (status == GPTOSS_OK) status = emit_atom(t, &a);
        }
    }
    if (status == GPTOSS_OK && t->depth && !t->oom) return syntax_error(t, "unclosed group");
    return status;
}

gptoss_status gptoss_regex_translate(const char *rust, size_t len, bool explicit_ranges,
                                     char **pattern, size_t *pattern_len) {
    translator t = {.p = rust, .end = rust + len, .start = rust, .explicit_ranges = explicit_ranges};
    gptoss_status status = translate(&t);
    if (status == GPTOSS_OK && t.oom)
        status = gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "pre-tokenizer regex: out of memory");
    if (status == GPTOSS_OK && !t.out.data) emit(&t, "");
    if (status != GPTOSS_OK || t.oom) {
        free(t.out.data);
        return status != GPTOSS_OK ? status : gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    *pattern = t.out.data;
    if (pattern_len) *pattern_len = t.out.len;
    return GPTOSS_OK;
}
