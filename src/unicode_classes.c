/* unicode_classes.c - code point sets from the generated UCD tables. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "unicode_classes.h"

#include <ctype.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CODE_POINT 0x10FFFFu

bool gptoss_cp_set_add(gptoss_cp_set *set, uint32_t first, uint32_t last) {
    if (set->count == set->capacity) {
        size_t capacity = set->capacity ? set->capacity * 2 : 64;
        gptoss_cp_range *ranges = realloc(set->ranges, capacity * sizeof *ranges);
        if (!ranges) return false;
        set->ranges = ranges;
        set->capacity = capacity;
    }
    set->ranges[set->count++] = (gptoss_cp_range){first, last};
    return true;
}

static int compare_ranges(const void *a, const void *b) {
    const gptoss_cp_range *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

void gptoss_cp_set_normalize(gptoss_cp_set *set) {
    if (!set->count) return;
    qsort(set->ranges, set->count, sizeof *set->ranges, compare_ranges);
    size_t out = 0;
    for (size_t i = 1; i < set->count; i++) {
        gptoss_cp_range *last = &set->ranges[out];
        if (set->ranges[i].first <= last->last + 1) {
            if (set->ranges[i].last > last->last) last->last = set->ranges[i].last;
        } else {
            set->ranges[++out] = set->ranges[i];
        }
    }
    set->count = out + 1;
}

bool gptoss_cp_set_contains(const gptoss_cp_set *set, uint32_t c) {
    size_t lo = 0, hi = set->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < set->ranges[mid].first) hi = mid;
        else if (c > set->ranges[mid].last) lo = mid + 1;
        else return true;
    }
    return false;
}

bool gptoss_cp_set_complement(gptoss_cp_set *set) {
    gptoss_cp_set result = {0};
    uint32_t next = 0; /* first code point not yet covered */
    bool ok = true;
    for (size_t i = 0; i < set->count && ok; i++) {
        if (set->ranges[i].first > next) ok = gptoss_cp_set_add(&result, next, set->ranges[i].first - 1);
        next = set->ranges[i].last + 1;
    }
    if (ok && next <= MAX_CODE_POINT) ok = gptoss_cp_set_add(&result, next, MAX_CODE_POINT);
    if (!ok) {
        gptoss_cp_set_free(&result);
        return false;
    }
    gptoss_cp_set_free(set);
    *set = result;
    return true;
}

void gptoss_cp_set_free(gptoss_cp_set *set) {
    free(set->ranges);
    *set = (gptoss_cp_set){0};
}

bool gptoss_cp_set_add_categories(gptoss_cp_set *set, gptoss_gc_mask mask) {
    for (size_t i = 0; i < gptoss_ucd_gc_runs_count; i++) {
        const gptoss_gc_run *run = &gptoss_ucd_gc_runs[i];
        if ((mask >> run->gc & 1) && !gptoss_cp_set_add(set, run->first, run->last)) return false;
    }
    return true;
}

bool gptoss_cp_set_add_white_space(gptoss_cp_set *set) {
    for (size_t i = 0; i < gptoss_ucd_white_space_count; i++)
        if (!gptoss_cp_set_add(set, gptoss_ucd_white_space[i].first, gptoss_ucd_white_space[i].last))
            return false;
    return true;
}

gptoss_gc gptoss_unicode_category(uint32_t c) {
    size_t lo = 0, hi = gptoss_ucd_gc_runs_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < gptoss_ucd_gc_runs[mid].first) hi = mid;
        else if (c > gptoss_ucd_gc_runs[mid].last) lo = mid + 1;
        else return (gptoss_gc)gptoss_ucd_gc_runs[mid].gc;
    }
    return GPTOSS_GC_CN;
}

#define GC_NAME_ITEM(e, name) name,
static const char *const short_names[GPTOSS_GC_COUNT] = {GPTOSS_GC_LIST(GC_NAME_ITEM)};
#undef GC_NAME_ITEM

const char *gptoss_unicode_category_name(gptoss_gc gc) {
    return (unsigned)gc < GPTOSS_GC_COUNT ? short_names[gc] : "?";
}

#define BIT(e) (1u << GPTOSS_GC_##e)
/* Long names and groups, written the way loose matching compares them. */
static const struct {
    const char *name;
    gptoss_gc_mask mask;
} aliases[] = {
    {"uppercaseletter", BIT(LU)}, {"lowercaseletter", BIT(LL)}, {"titlecaseletter", BIT(LT)},
    {"modifierletter", BIT(LM)}, {"otherletter", BIT(LO)}, {"nonspacingmark", BIT(MN)},
    {"spacingmark", BIT(MC)}, {"enclosingmark", BIT(ME)}, {"decimalnumber", BIT(ND)},
    {"letternumber", BIT(NL)}, {"othernumber", BIT(NO)}, {"connectorpunctuation", BIT(PC)},
    {"dashpunctuation", BIT(PD)}, {"openpunctuation", BIT(PS)}, {"closepunctuation", BIT(PE)},
    {"initialpunctuation", BIT(PI)}, {"finalpunctuation", BIT(PF)}, {"otherpunctuation", BIT(PO)},
    {"mathsymbol", BIT(SM)}, {"currencysymbol", BIT(SC)}, {"modifiersymbol", BIT(SK)},
    {"othersymbol", BIT(SO)}, {"spaceseparator", BIT(ZS)}, {"lineseparator", BIT(ZL)},
    {"paragraphseparator", BIT(ZP)}, {"control", BIT(CC)}, {"format", BIT(CF)},
    {"surrogate", BIT(CS)}, {"privateuse", BIT(CO)}, {"unassigned", BIT(CN)},
    {"l", BIT(LU) | BIT(LL) | BIT(LT) | BIT(LM) | BIT(LO)},
    {"letter", BIT(LU) | BIT(LL) | BIT(LT) | BIT(LM) | BIT(LO)},
    {"lc", BIT(LU) | BIT(LL) | BIT(LT)}, {"l&", BIT(LU) | BIT(LL) | BIT(LT)},
    {"casedletter", BIT(LU) | BIT(LL) | BIT(LT)},
    {"m", BIT(MN) | BIT(MC) | BIT(ME)}, {"mark", BIT(MN) | BIT(MC) | BIT(ME)},
    {"n", BIT(ND) | BIT(NL) | BIT(NO)}, {"number", BIT(ND) | BIT(NL) | BIT(NO)},
    {"p", BIT(PC) | BIT(PD) | BIT(PS) | BIT(PE) | BIT(PI) | BIT(PF) | BIT(PO)},
    {"punctuation", BIT(PC) | BIT(PD) | BIT(PS) | BIT(PE) | BIT(PI) | BIT(PF) | BIT(PO)},
    {"s", BIT(SM) | BIT(SC) | BIT(SK) | BIT(SO)}, {"symbol", BIT(SM) | BIT(SC) | BIT(SK) | BIT(SO)},
    {"z", BIT(ZS) | BIT(ZL) | BIT(ZP)}, {"separator", BIT(ZS) | BIT(ZL) | BIT(ZP)},
    {"c", BIT(CC) | BIT(CF) | BIT(CS) | BIT(CO) | BIT(CN)},
    {"other", BIT(CC) | BIT(CF) | BIT(CS) | BIT(CO) | BIT(CN)},
    {"any", GPTOSS_GC_ALL}, {"assigned", GPTOSS_GC_ALL & ~BIT(CN)},
};
#undef BIT

bool gptoss_unicode_property(const char *name, size_t len, gptoss_gc_mask *mask,
                             bool *is_white_space) {
    char loose[64];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (c == ' ' || c == '_' || c == '-') continue;
        if (n + 1 >= sizeof loose) return false;
        loose[n++] = (char)tolower((unsigned char)c);
    }
    loose[n] = 0;
    /* "gc=Lu" / "General_Category=Lu" */
    const char *value = loose;
    if (!strncmp(loose, "gc=", 3)) value = loose + 3;
    else if (!strncmp(loose, "generalcategory=", 16)) value = loose + 16;
    *mask = 0;
    *is_white_space = false;
    if (value == loose && (!strcmp(loose, "whitespace") || !strcmp(loose, "wspace") ||
                           !strcmp(loose, "space"))) {
        *is_white_space = true;
        return true;
    }
    for (int gc = 0; gc < GPTOSS_GC_COUNT; gc++) {
        if (tolower((unsigned char)short_names[gc][0]) == value[0] &&
            short_names[gc][1] == value[1] && !value[2]) {
            *mask = 1u << gc;
            return true;
        }
    }
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (!strcmp(aliases[i].name, value)) {
            *mask = aliases[i].mask;
            return true;
        }
    }
    return false;
}

static uint32_t simple_fold(uint32_t c) {
    size_t lo = 0, hi = gptoss_ucd_simple_fold_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < gptoss_ucd_simple_folds[mid].from) hi = mid;
        else if (c > gptoss_ucd_simple_folds[mid].from) lo = mid + 1;
        else return gptoss_ucd_simple_folds[mid].to;
    }
    return c;
}

size_t gptoss_unicode_fold_orbit(uint32_t c, uint32_t *out, size_t max) {
    uint32_t target = simple_fold(c);
    size_t n = 0;
    if (n < max) out[n] = target;
    n++;
    for (size_t i = 0; i < gptoss_ucd_simple_fold_count; i++) {
        if (gptoss_ucd_simple_folds[i].to != target) continue;
        if (n < max) out[n] = gptoss_ucd_simple_folds[i].from;
        n++;
    }
    return n;
}

static bool in_class(const gptoss_cp_set *set, gptoss_gc_mask mask, uint32_t c) {
    return gptoss_cp_set_contains(set, c) || (mask >> gptoss_unicode_category(c) & 1);
}

bool gptoss_cp_set_close_over_case(gptoss_cp_set *set, gptoss_gc_mask mask) {
    gptoss_cp_set_normalize(set);
    /* An orbit is every `from` folding to one target, plus the target. Only
     * characters in the folding table have orbits larger than themselves.
     * Pass 1 marks the targets of orbits the class touches; pass 2 adds
     * those orbits whole. */
    gptoss_cp_set touched = {0}, added = {0};
    bool ok = true;
    for (size_t i = 0; i < gptoss_ucd_simple_fold_count && ok; i++) {
        const gptoss_case_fold *fold = &gptoss_ucd_simple_folds[i];
        if (in_class(set, mask, fold->from) || in_class(set, mask, fold->to))
            ok = gptoss_cp_set_add(&touched, fold->to, fold->to);
    }
    gptoss_cp_set_normalize(&touched);
    for (size_t i = 0; i < gptoss_ucd_simple_fold_count && ok && touched.count; i++) {
        const gptoss_case_fold *fold = &gptoss_ucd_simple_folds[i];
        if (gptoss_cp_set_contains(&touched, fold->to))
            ok = gptoss_cp_set_add(&added, fold->from, fold->from) && gptoss_cp_set_add(&added, fold->to, fold->to);
    }
    for (size_t i = 0; i < added.count && ok; i++)
        ok = gptoss_cp_set_add(set, added.ranges[i].first, added.ranges[i].last);
    gptoss_cp_set_free(&touched);
    gptoss_cp_set_free(&added);
    gptoss_cp_set_normalize(set);
    return ok;
}

bool gptoss_unicode_pcre2_corrections(gptoss_gc_mask mask, gptoss_cp_set *missing) {
    char version[64] = "";
    if (pcre2_config(PCRE2_CONFIG_UNICODE_VERSION, version) < 0 ||
        strcmp(version, gptoss_ucd_pcre2_unicode_version))
        return false;
    size_t first_missing = missing->count;
    for (size_t i = 0; i < gptoss_ucd_pcre2_gc_diffs_count; i++) {
        const gptoss_gc_run *run = &gptoss_ucd_pcre2_gc_diffs[i];
        bool in_pcre2 = mask >> run->gc & 1;
        /* A diff run can span several UCD categories; check each piece. */
        for (uint32_t c = run->first; c <= run->last;) {
            gptoss_gc ucd = gptoss_unicode_category(c);
            uint32_t end = c;
            while (end < run->last && gptoss_unicode_category(end + 1) == ucd) end++;
            bool in_ucd = mask >> ucd & 1;
            if (in_pcre2 && !in_ucd) {
                missing->count = first_missing; /* PCRE2 would match too much */
                return false;
            }
            if (in_ucd && !in_pcre2 && !gptoss_cp_set_add(missing, c, end)) return false;
            c = end + 1;
        }
    }
    return true;
}
