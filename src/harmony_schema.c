/* harmony_schema.c - JSON schema -> the TypeScript-like type text of the
 * harmony tools section (RENDERING.md §7), as the openai/harmony renderer
 * writes it: object members in input order, descriptions, titles, examples
 * and enum values inserted raw. */
#include <string.h>

#include "error.h"
#include "harmony.h"

typedef struct writer {
    gptoss_bytes *out;
    bool ok;
} writer;

static void put(writer *w, const char *s, size_t n) {
    if (w->ok && !gptoss_bytes_append(w->out, s, n)) w->ok = false;
}

static void puts_(writer *w, const char *s) { put(w, s, strlen(s)); }

static void indent(writer *w, size_t n) {
    for (size_t i = 0; i < n; i++) put(w, " ", 1);
}

static bool is_enum(const gptoss_json_value *schema) {
    const gptoss_json_value *e = gptoss_json_get(schema, "enum");
    return e && e->type == GPTOSS_JSON_ARRAY && e->count > 0;
}

static bool is_nullable(const gptoss_json_value *schema) {
    const gptoss_json_value *n = gptoss_json_get(schema, "nullable");
    return n && n->type == GPTOSS_JSON_TRUE;
}

static void put_string_value(writer *w, const gptoss_json_value *v) { put(w, v->text, v->len); }

/* Rule D: the text after "default: ". quote_enum_strings: a string default
 * of an enum schema is written as JSON (quoted, escaped) instead of raw, as
 * the renderer does for the variants of a oneOf type (rule 1). */
static void put_default(writer *w, const gptoss_json_value *schema, const gptoss_json_value *value,
                        bool quote_enum_strings) {
    if (value->type == GPTOSS_JSON_STRING && !is_enum(schema)) {
        put(w, "\"", 1);
        put_string_value(w, value);
        put(w, "\"", 1);
    } else if (value->type == GPTOSS_JSON_STRING && !quote_enum_strings) {
        put_string_value(w, value);
    } else if (w->ok && !gptoss_json_value_write(w->out, value, false)) {
        w->ok = false;
    }
}

static void type_text(writer *w, const gptoss_json_value *schema, size_t ind);

/* T(V, ind) plus " | null" for a nullable V whose text lacks "null". */
static void type_text_nullable(writer *w, const gptoss_json_value *schema, size_t ind) {
    size_t start = w->out->len;
    type_text(w, schema, ind);
    if (!w->ok || !is_nullable(schema)) return;
    const char *text = w->out->data + start;
    size_t n = w->out->len - start;
    for (size_t i = 0; i + 4 <= n; i++)
        if (!memcmp(text + i, "null", 4)) return;
    puts_(w, " | null");
}

/* Rule 1: a oneOf type, each variant on its own line. */
static void one_of_text(writer *w, const gptoss_json_value *variants, size_t ind) {
    for (size_t i = 0; i < variants->count; i++) {
        const gptoss_json_value *v = &variants->items[i];
        puts_(w, "\n");
        indent(w, ind);
        puts_(w, " | ");
        type_text_nullable(w, v, ind + 3);
        const char *description = gptoss_json_string(gptoss_json_get(v, "description"));
        const gptoss_json_value *def = gptoss_json_get(v, "default");
        if (description || def) puts_(w, " // ");
        if (description) {
            put_string_value(w, gptoss_json_get(v, "description"));
            if (def) puts_(w, " ");
        }
        if (def) {
            puts_(w, "default: ");
            put_default(w, v, def, true);
        }
    }
}

static bool is_required(const gptoss_json_value *schema, const char *key, size_t key_len) {
    const gptoss_json_value *required = gptoss_json_get(schema, "required");
    if (!required || required->type != GPTOSS_JSON_ARRAY) return false;
    for (size_t i = 0; i < required->count; i++) {
        const gptoss_json_value *r = &required->items[i];
        if (r->type == GPTOSS_JSON_STRING && r->len == key_len && !memcmp(r->text, key, key_len)) return true;
    }
    return false;
}

static bool same_string(const gptoss_json_value *a, const gptoss_json_value *b) {
    return a && b && a->type == GPTOSS_JSON_STRING && b->type == GPTOSS_JSON_STRING && a->len == b->len &&
           !memcmp(a->text, b->text, a->len);
}

/* Rule 8e: a member whose schema has a oneOf array. */
static void one_of_member(writer *w, const gptoss_json_value *p, const char *key, size_t key_len, bool required,
                          const gptoss_json_value *variants, size_t ind) {
    const gptoss_json_value *description = gptoss_json_get(p, "description");
    if (description && description->type != GPTOSS_JSON_STRING) description = NULL;
    bool skip = description && variants->count &&
                same_string(description, gptoss_json_get(&variants->items[0], "description"));
    bool above = false;
    if (!skip && description) {
        indent(w, ind);
        puts_(w, "// ");
        put_string_value(w, description);
        puts_(w, "\n");
        above = true;
    }
    const gptoss_json_value *def = gptoss_json_get(p, "default");
    if (def) {
        indent(w, ind);
        puts_(w, "// default: ");
        put_default(w, p, def, false);
        puts_(w, "\n");
    }
    indent(w, ind);
    put(w, key, key_len);
    puts_(w, required ? ":\n" : "?:\n");
    for (size_t i = 0; i < variants->count; i++) {
        const gptoss_json_value *v = &variants->items[i];
        indent(w, ind);
        puts_(w, " | ");
        type_text_nullable(w, v, ind + 3);
        const gptoss_json_value *vd = gptoss_json_get(v, "description");
        bool show_description = !(i == 0 && above) && vd && vd->type == GPTOSS_JSON_STRING &&
                                !same_string(vd, description);
        const gptoss_json_value *vdef = gptoss_json_get(v, "default");
        if (show_description || vdef) puts_(w, " // ");
        if (show_description) {
            put_string_value(w, vd);
            if (vdef) puts_(w, " ");
        }
        if (vdef) {
            puts_(w, "default: ");
            put_default(w, v, vdef, false);
        }
        puts_(w, "\n");
    }
    indent(w, ind);
    puts_(w, ",\n");
}

/* Rule 8: one member K: P of an object at indentation ind. */
static void member(writer *w, const gptoss_json_value *object, const char *key, size_t key_len,
                   const gptoss_json_value *p, size_t ind) {
    bool required = is_required(object, key, key_len);
    const gptoss_json_value *title = gptoss_json_get(p, "title");
    if (title && title->type == GPTOSS_JSON_STRING) {
        indent(w, ind);
        puts_(w, "// ");
        put_string_value(w, title);
        puts_(w, "\n");
        indent(w, ind);
        puts_(w, "//\n");
    }
    const gptoss_json_value *one_of = gptoss_json_get(p, "oneOf");
    const gptoss_json_value *description = gptoss_json_get(p, "description");
    if (!one_of && description && description->type == GPTOSS_JSON_STRING) {
        indent(w, ind);
        puts_(w, "// ");
        put_string_value(w, description);
        puts_(w, "\n");
    }
    const gptoss_json_value *examples = gptoss_json_get(p, "examples");
    if (examples && examples->type == GPTOSS_JSON_ARRAY && examples->count) {
        indent(w, ind);
        puts_(w, "// Examples:\n");
        for (size_t i = 0; i < examples->count; i++) {
            if (examples->items[i].type != GPTOSS_JSON_STRING) continue;
            indent(w, ind);
            puts_(w, "// - \"");
            put_string_value(w, &examples->items[i]);
            puts_(w, "\"\n");
        }
    }
    if (one_of && one_of->type == GPTOSS_JSON_ARRAY) {
        one_of_member(w, p, key, key_len, required, one_of, ind);
        return;
    }
    indent(w, ind);
    put(w, key, key_len);
    puts_(w, required ? ": " : "?: ");
    type_text_nullable(w, p, ind + 4);
    puts_(w, ",");
    const gptoss_json_value *def = gptoss_json_get(p, "default");
    if (!one_of && def) {
        puts_(w, " // default: ");
        put_default(w, p, def, false);
    }
    puts_(w, "\n");
}

static void object_text(writer *w, const gptoss_json_value *schema, size_t ind) {
    const gptoss_json_value *description = gptoss_json_get(schema, "description");
    if (description && description->type == GPTOSS_JSON_STRING) {
        indent(w, ind);
        puts_(w, "// ");
        put_string_value(w, description);
        puts_(w, "\n");
    }
    puts_(w, "{\n");
    const gptoss_json_value *properties = gptoss_json_get(schema, "properties");
    if (properties && properties->type == GPTOSS_JSON_OBJECT)
        for (size_t i = 0; i < properties->count && w->ok; i++)
            member(w, schema, properties->keys[i], properties->key_lens[i], &properties->items[i], ind);
    indent(w, ind);
    puts_(w, "}");
}

static void type_text(writer *w, const gptoss_json_value *schema, size_t ind) {
    const gptoss_json_value *one_of = gptoss_json_get(schema, "oneOf");
    if (one_of && one_of->type == GPTOSS_JSON_ARRAY) {
        one_of_text(w, one_of, ind);
        return;
    }
    const gptoss_json_value *type = gptoss_json_get(schema, "type");
    if (type && type->type == GPTOSS_JSON_ARRAY) {
        bool any = false;
        for (size_t i = 0; i < type->count; i++) {
            const gptoss_json_value *t = &type->items[i];
            if (t->type != GPTOSS_JSON_STRING) continue;
            if (any) puts_(w, " | ");
            if (!strcmp(t->text, "integer")) puts_(w, "number");
            else put_string_value(w, t);
            any = true;
        }
        if (!any) puts_(w, "any");
        return;
    }
    const char *name = gptoss_json_string(type);
    if (!name) {
        puts_(w, "any");
    } else if (!strcmp(name, "object")) {
        object_text(w, schema, ind);
    } else if (!strcmp(name, "string")) {
        const gptoss_json_value *values = gptoss_json_get(schema, "enum");
        bool any = false;
        if (values && values->type == GPTOSS_JSON_ARRAY)
            for (size_t i = 0; i < values->count; i++) {
                if (values->items[i].type != GPTOSS_JSON_STRING) continue;
                puts_(w, any ? " | \"" : "\"");
                put_string_value(w, &values->items[i]);
                puts_(w, "\"");
                any = true;
            }
        if (!any) puts_(w, "string");
    } else if (!strcmp(name, "number") || !strcmp(name, "integer")) {
        puts_(w, "number");
    } else if (!strcmp(name, "boolean")) {
        puts_(w, "boolean");
    } else if (!strcmp(name, "array")) {
        const gptoss_json_value *items = gptoss_json_get(schema, "items");
        if (items) {
            type_text(w, items, ind);
            puts_(w, "[]");
        } else {
            puts_(w, "Array<any>");
        }
    } else {
        puts_(w, "any");
    }
}

gptoss_status gptoss_harmony_schema_text(const gptoss_json_value *schema, gptoss_bytes *out) {
    writer w = {out, true};
    type_text(&w, schema, 0);
    return w.ok ? GPTOSS_OK : gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory rendering a tool schema");
}
