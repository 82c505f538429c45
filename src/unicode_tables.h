/* unicode_tables.h - Unicode Character Database tables, generated at build
 * time by src/unicode/gen_unicode_tables.c from the UCD files kept in
 * src/unicode/ucd-<version>/ (never typed by hand). The tokenizer's regex
 * translator builds its character classes from them. */
#ifndef GPTOSS_UNICODE_TABLES_H
#define GPTOSS_UNICODE_TABLES_H

#include <stddef.h>
#include <stdint.h>

/* The 30 General_Category values, in this fixed order (X(enum, short name)).
 * Shared by the generator and the runtime so their numbering agrees. */
#define GPTOSS_GC_LIST(X)                                                              \
    X(LU, "Lu") X(LL, "Ll") X(LT, "Lt") X(LM, "Lm") X(LO, "Lo")                        \
    X(MN, "Mn") X(MC, "Mc") X(ME, "Me")                                                \
    X(ND, "Nd") X(NL, "Nl") X(NO, "No")                                                \
    X(PC, "Pc") X(PD, "Pd") X(PS, "Ps") X(PE, "Pe") X(PI, "Pi") X(PF, "Pf") X(PO, "Po") \
    X(SM, "Sm") X(SC, "Sc") X(SK, "Sk") X(SO, "So")                                    \
    X(ZS, "Zs") X(ZL, "Zl") X(ZP, "Zp")                                                \
    X(CC, "Cc") X(CF, "Cf") X(CS, "Cs") X(CO, "Co") X(CN, "Cn")

#define GPTOSS_GC_ENUM_ITEM(e, name) GPTOSS_GC_##e,
typedef enum gptoss_gc { GPTOSS_GC_LIST(GPTOSS_GC_ENUM_ITEM) GPTOSS_GC_COUNT } gptoss_gc;
#undef GPTOSS_GC_ENUM_ITEM

/* A run of consecutive code points sharing one General_Category. */
typedef struct gptoss_gc_run {
    uint32_t first, last;
    uint8_t gc; /* a gptoss_gc */
} gptoss_gc_run;

/* An inclusive range of code points. */
typedef struct gptoss_cp_range {
    uint32_t first, last;
} gptoss_cp_range;

/* One simple case folding (CaseFolding.txt statuses C and S): from -> to. */
typedef struct gptoss_case_fold {
    uint32_t from, to;
} gptoss_case_fold;

/* Version of the UCD the tables come from, e.g. "16.0.0". */
extern const char gptoss_ucd_version[];

/* General_Category of every code point 0..0x10FFFF, as ordered runs. */
extern const gptoss_gc_run gptoss_ucd_gc_runs[];
extern const size_t gptoss_ucd_gc_runs_count;

/* The White_Space property (what Rust's regex means by \s), ordered ranges. */
extern const gptoss_cp_range gptoss_ucd_white_space[];
extern const size_t gptoss_ucd_white_space_count;

/* Simple case foldings, ordered by `from`. Two characters match each other
 * case-insensitively (as in Rust's regex) when they fold to the same one. */
extern const gptoss_case_fold gptoss_ucd_simple_folds[];
extern const size_t gptoss_ucd_simple_fold_count;

/* Unicode version of the PCRE2 library probed at build time, and the runs of
 * code points whose General_Category in PCRE2's own tables differs from the
 * UCD's (gc = PCRE2's value). Lets \p{..} classes use PCRE2's fast property
 * lookup plus a short list of corrections, while the same PCRE2 is in use. */
extern const char gptoss_ucd_pcre2_unicode_version[];
extern const gptoss_gc_run gptoss_ucd_pcre2_gc_diffs[];
extern const size_t gptoss_ucd_pcre2_gc_diffs_count;

#endif
