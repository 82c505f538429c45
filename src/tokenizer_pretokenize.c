/* tokenizer_pretokenize.c - PCRE2 (JIT) matching for the pre-tokenizer. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer_pretokenize.h"

#include <pcre2.h>
#include <stdlib.h>

#include "error.h"
#include "tokenizer_regex.h"

struct gptoss_regex {
    pcre2_code *code;
    bool jit; /* JIT compiled: matched with pcre2_jit_match (less per-call work) */
};

/* JIT stack for pathological inputs (e.g. megabytes of one character class):
 * the default 32 KiB machine-stack area is tried first. */
#define LARGE_JIT_STACK (64u << 20)

gptoss_status gptoss_regex_compile(const char *pattern, size_t len, gptoss_regex **out) {
    int error;
    PCRE2_SIZE offset;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, len, PCRE2_UTF | PCRE2_NO_UTF_CHECK,
                                     &error, &offset, NULL);
    if (!code) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error, message, sizeof message);
        return gptoss_fail(GPTOSS_ERROR_FORMAT, "PCRE2 cannot compile the pre-tokenizer regex at %zu: %s",
                           (size_t)offset, (const char *)message);
    }
    bool jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0; /* else the interpreter */
    gptoss_regex *regex = malloc(sizeof *regex);
    if (!regex) {
        pcre2_code_free(code);
        return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    regex->code = code;
    regex->jit = jit;
    *out = regex;
    return GPTOSS_OK;
}

gptoss_status gptoss_regex_compile_rust(const char *rust_pattern, size_t len, bool explicit_ranges,
                                        gptoss_regex **out) {
    char *pattern;
    size_t pattern_len;
    gptoss_status status = gptoss_regex_translate(rust_pattern, len, explicit_ranges, &pattern, &pattern_len);
    if (status != GPTOSS_OK) return status;
    status = gptoss_regex_compile(pattern, pattern_len, out);
    free(pattern);
    return status;
}

void gptoss_regex_free(gptoss_regex *regex) {
    if (!regex) return;
    pcre2_code_free(regex->code);
    free(regex);
}

/* Per-call matching state: match data, and a big JIT stack made on demand. */
typedef struct matcher {
    pcre2_match_data *data;
    pcre2_match_context *context;
    pcre2_jit_stack *stack;
} matcher;

static void matcher_free(matcher *m) {
    pcre2_match_data_free(m->data);
    pcre2_match_context_free(m->context);
    pcre2_jit_stack_free(m->stack);
}

/* pcre2_match at `from`; returns its rc after retrying resource failures. */
static int match_at(const gptoss_regex *regex, matcher *m, const char *text, size_t len, size_t from) {
    int rc = regex->jit ? pcre2_jit_match(regex->code, (PCRE2_SPTR)text, len, from, 0, m->data, m->context)
                        : pcre2_match(regex->code, (PCRE2_SPTR)text, len, from, PCRE2_NO_UTF_CHECK, m->data, m->context);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT || rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT) {
        if (!m->context) {
            m->context = pcre2_match_context_create(NULL);
            m->stack = pcre2_jit_stack_create(32u << 10, LARGE_JIT_STACK, NULL);
            if (!m->context || !m->stack) return PCRE2_ERROR_NOMEMORY;
            pcre2_jit_stack_assign(m->context, NULL, m->stack);
            pcre2_set_heap_limit(m->context, 1u << 22); /* KiB: 4 GiB for the interpreter */
            pcre2_set_depth_limit(m->context, UINT32_MAX);
        }
        rc = pcre2_match(regex->code, (PCRE2_SPTR)text, len, from, PCRE2_NO_UTF_CHECK, m->data, m->context);
    }
    return rc;
}

static gptoss_status match_failure(int rc) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(rc, message, sizeof message);
    return gptoss_fail(rc == PCRE2_ERROR_NOMEMORY ? GPTOSS_ERROR_OUT_OF_MEMORY : GPTOSS_ERROR_INVALID_ARGUMENT,
                       "pre-tokenizer regex failed: %s", (const char *)message);
}

/* Length of the UTF-8 character starting with byte b. */
static size_t char_length(unsigned char b) {
    return b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

gptoss_status gptoss_regex_split(const gptoss_regex *regex, const char *text, size_t len,
                                 gptoss_piece_fn piece, void *context) {
    matcher m = {pcre2_match_data_create_from_pattern(regex->code, NULL), NULL, NULL};
    if (!m.data) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    gptoss_status status = GPTOSS_OK;
    size_t position = 0;
    while (position < len) {
        int rc = match_at(regex, &m, text, len, position);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            status = match_failure(rc);
            break;
        }
        PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(m.data);
        size_t start = ovector[0], end = ovector[1];
        if (end == start) { /* empty match: nothing to encode, move one character on */
            position = start + (start < len ? char_length((unsigned char)text[start]) : 1);
            continue;
        }
        status = piece(context, start, end);
        if (status != GPTOSS_OK) break;
        position = end;
    }
    matcher_free(&m);
    return status;
}

bool gptoss_regex_find(const gptoss_regex *regex, const char *text, size_t len, size_t from,
                       size_t *start, size_t *end, gptoss_status *status) {
    *status = GPTOSS_OK;
    matcher m = {pcre2_match_data_create_from_pattern(regex->code, NULL), NULL, NULL};
    if (!m.data) {
        *status = gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
        return false;
    }
    int rc = match_at(regex, &m, text, len, from);
    bool found = rc > 0;
    if (found) {
        PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(m.data);
        *start = ovector[0];
        *end = ovector[1];
    } else if (rc != PCRE2_ERROR_NOMATCH) {
        *status = match_failure(rc);
    }
    matcher_free(&m);
    return found;
}
