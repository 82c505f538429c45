/* harmony_json.h - a small JSON tree for conversation records and tool
 * schemas.
 *
 * Unlike cJSON it keeps what the harmony rendering needs byte for byte:
 * object members in input order (a repeated key keeps its first position and
 * takes the last value, as Python's json and serde_json's preserve_order do),
 * every number's literal text (so `2.0` stays a float and `2` an integer),
 * and strings with embedded U+0000. Input must be valid UTF-8; lone
 * surrogate escapes and raw control characters are refused. */
#ifndef GPTOSS_HARMONY_JSON_H
#define GPTOSS_HARMONY_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "gptoss.h"
#include "tokenizer_buffer.h"

typedef enum gptoss_json_type {
    GPTOSS_JSON_NULL,
    GPTOSS_JSON_FALSE,
    GPTOSS_JSON_TRUE,
    GPTOSS_JSON_NUMBER,
    GPTOSS_JSON_STRING,
    GPTOSS_JSON_ARRAY,
    GPTOSS_JSON_OBJECT,
} gptoss_json_type;

typedef struct gptoss_json_value gptoss_json_value;
struct gptoss_json_value {
    gptoss_json_type type;
    char *text;                /* STRING: its bytes; NUMBER: the literal as written. NUL-terminated; NULL otherwise */
    size_t len;                /* bytes of text */
    size_t count;              /* ARRAY, OBJECT: number of elements / members */
    gptoss_json_value *items;  /* ARRAY, OBJECT: the elements / the members' values */
    char **keys;               /* OBJECT: the members' keys, NUL-terminated */
    size_t *key_lens;
};

/* Parses text[0..len), one JSON value with optional surrounding whitespace.
 * *out is malloc'ed (free with gptoss_json_value_free). Errors are
 * GPTOSS_ERROR_FORMAT naming the byte offset. */
gptoss_status gptoss_json_value_parse(const char *text, size_t len, gptoss_json_value **out);

/* Frees a tree from gptoss_json_value_parse or _clone. NULL is fine. */
void gptoss_json_value_free(gptoss_json_value *value);

/* Deep copy; NULL when out of memory. */
gptoss_json_value *gptoss_json_value_clone(const gptoss_json_value *value);

/* The member `key` of an object, or NULL (also when value is not an object). */
const gptoss_json_value *gptoss_json_get(const gptoss_json_value *value, const char *key);

/* The string of a STRING value, else NULL. */
const char *gptoss_json_string(const gptoss_json_value *value);

/* Whether a NUMBER literal is a float (has '.', 'e' or 'E'). */
bool gptoss_json_number_is_float(const gptoss_json_value *value);

/* JSON text in Python's json.dumps(value, ensure_ascii=False) style: input
 * member order, non-ASCII raw, only '"', '\\' and U+0000..U+001F escaped,
 * integers as written, floats as Python's repr (2.0, 1e+16, 1.5e-07).
 * spaced: ", " and ": " separators (json.dumps default); else "," and ":".
 * Returns false when out of memory. */
bool gptoss_json_value_write(gptoss_bytes *out, const gptoss_json_value *value, bool spaced);

/* Appends a double as Python's repr(float) does. */
bool gptoss_json_write_python_float(gptoss_bytes *out, double x);

#endif
