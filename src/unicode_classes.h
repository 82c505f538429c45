/* unicode_classes.h - sets of code points built from the generated UCD tables
 * (unicode_tables.h): General_Category unions, White_Space, case-fold
 * orbits, and the corrections that make PCRE2's own \p{..} agree with the UCD. */
#ifndef GPTOSS_UNICODE_CLASSES_H
#define GPTOSS_UNICODE_CLASSES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "unicode_tables.h"

/* A set of code points as a growable list of ranges. Zero-initialise. */
typedef struct gptoss_cp_set {
    gptoss_cp_range *ranges;
    size_t count, capacity;
} gptoss_cp_set;

/* Bit (1u << gc) for each gptoss_gc in a set of categories. */
typedef uint32_t gptoss_gc_mask;
#define GPTOSS_GC_ALL ((gptoss_gc_mask)((1u << GPTOSS_GC_COUNT) - 1))

/* Adds [first, last]. Returns false when out of memory. */
bool gptoss_cp_set_add(gptoss_cp_set *set, uint32_t first, uint32_t last);

/* Sorts the ranges and merges overlapping or adjacent ones. */
void gptoss_cp_set_normalize(gptoss_cp_set *set);

/* Whether c is in a normalized set. */
bool gptoss_cp_set_contains(const gptoss_cp_set *set, uint32_t c);

/* Replaces a normalized set by its complement within 0..0x10FFFF. */
bool gptoss_cp_set_complement(gptoss_cp_set *set);

void gptoss_cp_set_free(gptoss_cp_set *set);

/* Adds every code point whose General_Category is in mask (UCD tables). */
bool gptoss_cp_set_add_categories(gptoss_cp_set *set, gptoss_gc_mask mask);

/* Adds the White_Space code points (Rust regex's \s). */
bool gptoss_cp_set_add_white_space(gptoss_cp_set *set);

/* General_Category of c according to the UCD tables. */
gptoss_gc gptoss_unicode_category(uint32_t c);

/* Short name of a category ("Lu"). */
const char *gptoss_unicode_category_name(gptoss_gc gc);

/* Parses a property name as Rust's regex accepts it in \p{..} (loose
 * matching: case, spaces, '_' and '-' ignored): a category ("Lu",
 * "Uppercase_Letter"), a group ("L", "Letter", "LC"), "Any", "Assigned".
 * White_Space is not a category; *is_white_space is set for it instead.
 * Returns false for names it does not know. */
bool gptoss_unicode_property(const char *name, size_t len, gptoss_gc_mask *mask,
                             bool *is_white_space);

/* Writes every character that matches c case-insensitively under simple
 * case folding, c included, to out (at most max); returns how many there are. */
size_t gptoss_unicode_fold_orbit(uint32_t c, uint32_t *out, size_t max);

/* Adds to set the whole case-fold orbit of every character that is in set or
 * whose category is in mask: the set a (?i) class matches in Rust. */
bool gptoss_cp_set_close_over_case(gptoss_cp_set *set, gptoss_gc_mask mask);

/* Whether this process's PCRE2 \p{..} can stand for the categories in mask:
 * its Unicode tables must be the ones probed at build time and give no code
 * point to mask that the UCD does not. If so, adds to missing the code points
 * the UCD puts in mask but PCRE2 does not (characters newer than PCRE2's
 * Unicode). Returns false when mask must be spelled out as explicit ranges. */
bool gptoss_unicode_pcre2_corrections(gptoss_gc_mask mask, gptoss_cp_set *missing);

#endif
