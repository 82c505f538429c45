/* harmony_chat.c - harmony message lists, the chat-shaped conversation
 * (from JSON records), and its mapping to harmony messages (RENDERING.md
 * §3, §6.1, §8, §9). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "harmony.h"

static gptoss_status oom(void) { return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory"); }

static char *copy_bytes(const char *s, size_t len) {
    char *copy = malloc(len + 1);
    if (!copy) return NULL;
    if (len) memcpy(copy, s, len);
    copy[len] = 0;
    return copy;
}

/* Copies an optional C string; *ok becomes false when out of memory. */
static char *copy_optional(const char *s, bool *ok) {
    if (!s) return NULL;
    char *copy = copy_bytes(s, strlen(s));
    if (!copy) *ok = false;
    return copy;
}

/* ------------------------------------------------------------------------ */
/* Harmony message lists                                                     */
/* ------------------------------------------------------------------------ */

const char *gptoss_harmony_role_name(gptoss_harmony_role role) {
    switch (role) {
    case GPTOSS_HARMONY_SYSTEM: return "system";
    case GPTOSS_HARMONY_DEVELOPER: return "developer";
    case GPTOSS_HARMONY_USER: return "user";
    case GPTOSS_HARMONY_ASSISTANT: return "assistant";
    case GPTOSS_HARMONY_TOOL: return "tool";
    }
    return "?";
}

void gptoss_harmony_message_clear(gptoss_harmony_message *m) {
    free(m->name);
    free(m->recipient);
    free(m->channel);
    free(m->content_type);
    free(m->content);
    memset(m, 0, sizeof *m);
}

gptoss_status gptoss_harmony_messages_push(gptoss_harmony_messages *list, gptoss_harmony_role role, const char *name,
                                           const char *recipient, const char *channel, const char *content_type,
                                           const char *content, size_t content_len) {
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 16;
        gptoss_harmony_message *items = realloc(list->items, capacity * sizeof *items);
        if (!items) return oom();
        list->items = items;
        list->capacity = capacity;
    }
    if (!content) content = "", content_len = 0;
    if (content_len == SIZE_MAX) content_len = strlen(content);
    gptoss_harmony_message m = {.role = role, .content_len = content_len};
    bool ok = true;
    m.name = copy_optional(name, &ok);
    m.recipient = copy_optional(recipient, &ok);
    m.channel = copy_optional(channel, &ok);
    m.content_type = copy_optional(content_type, &ok);
    m.content = copy_bytes(content, content_len);
    if (!ok || !m.content) {
        gptoss_harmony_message_clear(&m);
        return oom();
    }
    list->items[list->count++] = m;
    return GPTOSS_OK;
}

gptoss_status gptoss_harmony_messages_append(gptoss_harmony_messages *list, const gptoss_harmony_message *message) {
    gptoss_status status =
        gptoss_harmony_messages_push(list, message->role, message->name, message->recipient, message->channel,
                                     message->content_type, message->content, message->content_len);
    if (status == GPTOSS_OK) {
        list->items[list->count - 1].terminator = message->terminator;
        list->items[list->count - 1].incomplete = message->incomplete;
    }
    return status;
}

void gptoss_harmony_messages_remove(gptoss_harmony_messages *list, size_t i) {
    if (i >= list->count) return;
    gptoss_harmony_message_clear(&list->items[i]);
    memmove(&list->items[i], &list->items[i + 1], (list->count - i - 1) * sizeof *list->items);
    list->count--;
}

void gptoss_harmony_messages_free(gptoss_harmony_messages *list) {
    for (size_t i = 0; i < list->count; i++) gptoss_harmony_message_clear(&list->items[i]);
    free(list->items);
    memset(list, 0, sizeof *list);
}

/* ------------------------------------------------------------------------ */
/* Conversations                                                             */
/* ------------------------------------------------------------------------ */

void gptoss_conversation_init(gptoss_conversation *c) {
    memset(c, 0, sizeof *c);
    c->add_generation_prompt = true;
}

void gptoss_conversation_free(gptoss_conversation *c) {
    free(c->model_identity);
    free(c->knowledge_cutoff);
    free(c->current_date);
    free(c->reasoning_effort);
    for (size_t i = 0; i < c->n_tools; i++) {
        free(c->tools[i].name);
        free(c->tools[i].description);
        gptoss_json_value_free(c->tools[i].parameters);
    }
    free(c->tools);
    for (size_t i = 0; i < c->n_messages; i++) {
        gptoss_chat_message *m = &c->messages[i];
        free(m->content);
        free(m->thinking);
        free(m->tool_call_id);
        free(m->name);
        for (size_t j = 0; j < m->n_tool_calls; j++) {
            free(m->tool_calls[j].id);
            free(m->tool_calls[j].name);
            free(m->tool_calls[j].arguments);
        }
        free(m->tool_calls);
    }
    free(c->messages);
    gptoss_conversation_init(c);
}

/* Reads an optional string member: absent or null leaves *out NULL. A string
 * with U+0000 is refused where only a C string fits (lengths NULL). */
static gptoss_status get_string(const gptoss_json_value *object, const char *key, const char *where, char **out,
                                size_t *out_len) {
    const gptoss_json_value *v = gptoss_json_get(object, key);
    *out = NULL;
    if (out_len) *out_len = 0;
    if (!v || v->type == GPTOSS_JSON_NULL) return GPTOSS_OK;
    if (v->type != GPTOSS_JSON_STRING) return gptoss_fail(GPTOSS_ERROR_FORMAT, "%s%s must be a string", where, key);
    if (!out_len && strlen(v->text) != v->len)
        return gptoss_fail(GPTOSS_ERROR_FORMAT, "%s%s must not contain U+0000", where, key);
    if (!(*out = copy_bytes(v->text, v->len))) return oom();
    if (out_len) *out_len = v->len;
    return GPTOSS_OK;
}

/* A message's content: a string, null, or an array of text parts (strings or
 * {"text": ...} objects) that are concatenated. */
static gptoss_status get_content(const gptoss_json_value *v, const char *where, char **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    if (!v || v->type == GPTOSS_JSON_NULL) return GPTOSS_OK;
    if (v->type == GPTOSS_JSON_STRING) {
        if (!(*out = copy_bytes(v->text, v->len))) return oom();
        *out_len = v->len;
        return GPTOSS_OK;
    }
    if (v->type != GPTOSS_JSON_ARRAY)
        return gptoss_fail(GPTOSS_ERROR_FORMAT, "%scontent must be a string, null or an array of text parts", where);
    gptoss_bytes b = {0};
    for (size_t i = 0; i < v->count; i++) {
        const gptoss_json_value *part = &v->items[i];
        const gptoss_json_value *text = part->type == GPTOSS_JSON_STRING ? part : gptoss_json_get(part, "text");
        if (!text || text->type != GPTOSS_JSON_STRING) {
            free(b.data);
            return gptoss_fail(GPTOSS_ERROR_FORMAT, "%scontent[%zu] is not a text part", where, i);
        }
        if (!gptoss_bytes_append(&b, text->text, text->len)) {
            free(b.data);
            return oom();
        }
    }
    if (!b.data && !gptoss_bytes_reserve(&b, 0)) return oom();
    b.data[b.len] = 0;
    *out = b.data;
    *out_len = b.len;
    return GPTOSS_OK;
}

static gptoss_status parse_tool_call(const gptoss_json_value *v, const char *where, gptoss_chat_tool_call *call) {
    if (v->type != GPTOSS_JSON_OBJECT) return gptoss_fail(GPTOSS_ERROR_FORMAT, "%s is not an object", where);
    const gptoss_json_value *function = gptoss_json_get(v, "function");
    if (!function || function->type != GPTOSS_JSON_OBJECT) function = v;
    char at[256];
    snprintf(at, sizeof at, "%s.", where);
    gptoss_status status = get_string(v, "id", at, &call->id, NULL);
    if (status == GPTOSS_OK) status = get_string(function, "name", at, &call->name, NULL);
    if (status != GPTOSS_OK) return status;
    if (!call->name) return gptoss_fail(GPTOSS_ERROR_FORMAT, "%s has no function name", where);
    const gptoss_json_value *arguments = gptoss_json_get(function, "arguments");
    if (arguments && arguments->type == GPTOSS_JSON_STRING) {
        call->arguments = copy_bytes(arguments->text, arguments->len);
        call->arguments_len = arguments->len;
    } else if (!arguments) {
        call->arguments = copy_bytes("{}", 2);
        call->arguments_len = 2;
    } else {
        gptoss_bytes b = {0};
        if (!gptoss_json_value_write(&b, arguments, true)) {
            free(b.data);
            return oom();
        }
        call->arguments = b.data;
        call->arguments_len = b.len;
    }
    return call->arguments ? GPTOSS_OK : oom();
}

static gptoss_chat_role chat_role(const char *role) {
    static const char *const names[] = {"system", "developer", "user", "assistant", "tool"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(role, names[i])) return (gptoss_chat_role)i;
    return GPTOSS_CHAT_OTHER;
}

static gptoss_status parse_message(const gptoss_json_value *v, size_t index, gptoss_chat_message *m) {
    char where[64];
    snprintf(where, sizeof where, "messages[%zu].", index);
    if (v->type != GPTOSS_JSON_OBJECT) return gptoss_fail(GPTOSS_ERROR_FORMAT, "messages[%zu] is not an object", index);
    const char *role = gptoss_json_string(gptoss_json_get(v, "role"));
    if (!role) return gptoss_fail(GPTOSS_ERROR_FORMAT, "%srole is missing or not a string", where);
    m->role = chat_role(role);
    gptoss_status status = get_content(gptoss_json_get(v, "content"), where, &m->content, &m->content_len);
    if (status == GPTOSS_OK) {
        /* `thinking`; else the OpenAI-compatible spellings when they hold text. */
        static const char *const keys[] = {"thinking", "reasoning_content", "reasoning"};
        for (int k = 0; k < 3; k++) {
            const gptoss_json_value *thinking = gptoss_json_get(v, keys[k]);
            if (!thinking || thinking->type == GPTOSS_JSON_NULL || (k && thinking->type != GPTOSS_JSON_STRING)) continue;
            status = get_string(v, keys[k], where, &m->thinking, &m->thinking_len);
            break;
        }
    }
    if (status == GPTOSS_OK) status = get_string(v, "tool_call_id", where, &m->tool_call_id, NULL);
    if (status == GPTOSS_OK) status = get_string(v, "name", where, &m->name, NULL);
    if (status != GPTOSS_OK) return status;
    const gptoss_json_value *calls = gptoss_json_get(v, "tool_calls");
    if (!calls || calls->type == GPTOSS_JSON_NULL || m->role != GPTOSS_CHAT_ASSISTANT) return GPTOSS_OK;
    if (calls->type != GPTOSS_JSON_ARRAY) return gptoss_fail(GPTOSS_ERROR_FORMAT, "%stool_calls must be an array", where);
    if (!calls->count) return GPTOSS_OK;
    if (!(m->tool_calls = calloc(calls->count, sizeof *m->tool_calls))) return oom();
    for (size_t i = 0; i < calls->count; i++) {
        char at[96];
        snprintf(at, sizeof at, "%stool_calls[%zu]", where, i);
        m->n_tool_calls = i + 1;
        if ((status = parse_tool_call(&calls->items[i], at, &m->tool_calls[i])) != GPTOSS_OK) return status;
    }
    return GPTOSS_OK;
}

static gptoss_status parse_tool(const gptoss_json_value *v, size_t index, gptoss_function_tool *tool) {
    char where[64];
    snprintf(where, sizeof where, "tools[%zu].", index);
    if (v->type != GPTOSS_JSON_OBJECT) return gptoss_fail(GPTOSS_ERROR_FORMAT, "tools[%zu] is not an object", index);
    const gptoss_json_value *function = gptoss_json_get(v, "function");
    if (!function || function->type != GPTOSS_JSON_OBJECT) function = v;
    gptoss_status status = get_string(function, "name", where, &tool->name, NULL);
    if (status == GPTOSS_OK) status = get_string(function, "description", where, &tool->description, NULL);
    if (status != GPTOSS_OK) return status;
    if (!tool->name) return gptoss_fail(GPTOSS_ERROR_FORMAT, "tools[%zu] has no function name", index);
    const gptoss_json_value *parameters = gptoss_json_get(function, "parameters");
    if (parameters && parameters->type != GPTOSS_JSON_NULL && !(tool->parameters = gptoss_json_value_clone(parameters)))
        return oom();
    return GPTOSS_OK;
}

static gptoss_status parse_record(const gptoss_json_value *record, gptoss_conversation *c) {
    if (!record || record->type != GPTOSS_JSON_OBJECT)
        return gptoss_fail(GPTOSS_ERROR_FORMAT, "a conversation must be a JSON object");
    static const char *const keys[] = {"model_identity", "knowledge_cutoff", "current_date", "reasoning_effort"};
    char **fields[] = {&c->model_identity, &c->knowledge_cutoff, &c->current_date, &c->reasoning_effort};
    for (int i = 0; i < 4; i++) {
        gptoss_status status = get_string(record, keys[i], "", fields[i], NULL);
        if (status != GPTOSS_OK) return status;
    }
    const gptoss_json_value *v = gptoss_json_get(record, "add_generation_prompt");
    if (v && v->type != GPTOSS_JSON_NULL) {
        if (v->type != GPTOSS_JSON_TRUE && v->type != GPTOSS_JSON_FALSE)
            return gptoss_fail(GPTOSS_ERROR_FORMAT, "add_generation_prompt must be true, false or null");
        c->add_generation_prompt = v->type == GPTOSS_JSON_TRUE;
    }
    v = gptoss_json_get(record, "builtin_tools");
    if (v && v->type != GPTOSS_JSON_NULL) {
        if (v->type != GPTOSS_JSON_ARRAY) return gptoss_fail(GPTOSS_ERROR_FORMAT, "builtin_tools must be an array");
        for (size_t i = 0; i < v->count; i++) {
            const char *name = gptoss_json_string(&v->items[i]);
            if (name && !strcmp(name, "browser")) c->builtin_tools |= GPTOSS_BUILTIN_BROWSER;
            else if (name && !strcmp(name, "python")) c->builtin_tools |= GPTOSS_BUILTIN_PYTHON;
            else
                return gptoss_fail(GPTOSS_ERROR_FORMAT, "builtin_tools[%zu]: unknown built-in tool%s%s (known: browser, python)",
                                   i, name ? " " : "", name ? name : "");
        }
    }
    v = gptoss_json_get(record, "tools");
    if (v && v->type != GPTOSS_JSON_NULL) {
        if (v->type != GPTOSS_JSON_ARRAY) return gptoss_fail(GPTOSS_ERROR_FORMAT, "tools must be an array or null");
        if (v->count && !(c->tools = calloc(v->count, sizeof *c->tools))) return oom();
        for (size_t i = 0; i < v->count; i++) {
            c->n_tools = i + 1;
            gptoss_status status = parse_tool(&v->items[i], i, &c->tools[i]);
            if (status != GPTOSS_OK) return status;
        }
    }
    v = gptoss_json_get(record, "messages");
    if (v && v->type != GPTOSS_JSON_NULL) {
        if (v->type != GPTOSS_JSON_ARRAY) return gptoss_fail(GPTOSS_ERROR_FORMAT, "messages must be an array");
        if (v->count && !(c->messages = calloc(v->count, sizeof *c->messages))) return oom();
        for (size_t i = 0; i < v->count; i++) {
            c->n_messages = i + 1;
            gptoss_status status = parse_message(&v->items[i], i, &c->messages[i]);
            if (status != GPTOSS_OK) return status;
        }
    }
    return GPTOSS_OK;
}

gptoss_status gptoss_conversation_from_json(const gptoss_json_value *record, gptoss_conversation *out) {
    gptoss_conversation_init(out);
    gptoss_status status = parse_record(record, out);
    if (status != GPTOSS_OK) gptoss_conversation_free(out);
    return status;
}

gptoss_status gptoss_conversation_parse(const char *json, size_t len, gptoss_conversation *out) {
    gptoss_conversation_init(out);
    gptoss_json_value *record;
    gptoss_status status = gptoss_json_value_parse(json, len, &record);
    if (status != GPTOSS_OK) return status;
    status = gptoss_conversation_from_json(record, out);
    gptoss_json_value_free(record);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Conversation -> harmony messages                                          */
/* ------------------------------------------------------------------------ */

void gptoss_harmony_drop_analysis(gptoss_harmony_messages *list, bool generation_prompt) {
    size_t n = list->count, last = SIZE_MAX;
    for (size_t i = n; i-- > 0;)
        if (list->items[i].channel && !strcmp(list->items[i].channel, "final")) {
            last = i;
            break;
        }
    if (last != SIZE_MAX && !generation_prompt && last == n - 1) {
        size_t previous = SIZE_MAX;
        for (size_t i = last; i-- > 0;)
            if (list->items[i].channel && !strcmp(list->items[i].channel, "final")) {
                previous = i;
                break;
            }
        last = previous;
    }
    if (last == SIZE_MAX) return;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        gptoss_harmony_message *m = &list->items[i];
        if (i < last && m->channel && !strcmp(m->channel, "analysis")) gptoss_harmony_message_clear(m);
        else list->items[kept++] = *m;
    }
    list->count = kept;
}

/* The function a tool result answers (§8: by id, by name, else the latest call). */
static const char *tool_result_function(const gptoss_conversation *c, size_t index) {
    const gptoss_chat_message *result = &c->messages[index];
    const char *latest = NULL;
    for (size_t i = index; i-- > 0;) {
        const gptoss_chat_message *m = &c->messages[i];
        if (m->role != GPTOSS_CHAT_ASSISTANT || !m->n_tool_calls) continue;
        if (!latest) latest = m->tool_calls[m->n_tool_calls - 1].name;
        if (!result->tool_call_id) break;
        for (size_t j = m->n_tool_calls; j-- > 0;)
            if (m->tool_calls[j].id && !strcmp(m->tool_calls[j].id, result->tool_call_id)) return m->tool_calls[j].name;
    }
    if (result->name) return result->name;
    return latest;
}

static bool non_empty(const char *s, size_t len) { return s && len > 0; }

/* Whether a call goes to a built-in tool the conversation enables and
 * renders natively (native_builtin_calls): the model calls those on the
 * analysis channel with content type `code`, and their results come back on
 * that channel, authored by the tool itself. */
static bool builtin_call(const gptoss_conversation *c, const char *name) {
    if (!name || !c->native_builtin_calls) return false;
    if ((c->builtin_tools & GPTOSS_BUILTIN_PYTHON) && !strcmp(name, "python")) return true;
    return (c->builtin_tools & GPTOSS_BUILTIN_BROWSER) && !strncmp(name, "browser.", 8);
}

static gptoss_status map_messages(const gptoss_conversation *c, gptoss_harmony_messages *out) {
    gptoss_bytes text = {0};
    gptoss_status status = gptoss_harmony_system_text(c, &text);
    if (status == GPTOSS_OK)
        status = gptoss_harmony_messages_push(out, GPTOSS_HARMONY_SYSTEM, NULL, NULL, NULL, NULL, text.data, text.len);
    size_t first = 0;
    const char *instructions = NULL;
    size_t instructions_len = 0;
    if (c->n_messages &&
        (c->messages[0].role == GPTOSS_CHAT_SYSTEM || c->messages[0].role == GPTOSS_CHAT_DEVELOPER)) {
        instructions = c->messages[0].content;
        instructions_len = c->messages[0].content_len;
        first = 1;
    }
    if (status == GPTOSS_OK && (non_empty(instructions, instructions_len) || c->n_tools)) {
        text.len = 0;
        status = gptoss_harmony_developer_text(instructions, instructions_len, c->tools, c->n_tools, &text);
        if (status == GPTOSS_OK)
            status =
                gptoss_harmony_messages_push(out, GPTOSS_HARMONY_DEVELOPER, NULL, NULL, NULL, NULL, text.data, text.len);
    }
    free(text.data);
    gptoss_bytes name = {0};
    for (size_t i = first; i < c->n_messages && status == GPTOSS_OK; i++) {
        const gptoss_chat_message *m = &c->messages[i];
        switch (m->role) {
        case GPTOSS_CHAT_USER:
            status = gptoss_harmony_messages_push(out, GPTOSS_HARMONY_USER, NULL, NULL, NULL, NULL, m->content,
                                                  m->content_len);
            break;
        case GPTOSS_CHAT_ASSISTANT:
            if (!m->n_tool_calls) {
                if (non_empty(m->thinking, m->thinking_len))
                    status = gptoss_harmony_messages_push(out, GPTOSS_HARMONY_ASSISTANT, NULL, NULL, "analysis", NULL,
                                                          m->thinking, m->thinking_len);
                if (status == GPTOSS_OK)
                    status = gptoss_harmony_messages_push(out, GPTOSS_HARMONY_ASSISTANT, NULL, NULL, "final", NULL,
                                                          m->content, m->content_len);
                break;
            }
            if (non_empty(m->content, m->content_len))
                status = gptoss_harmony_messages_push(out, GPTOSS_HARMONY_ASSISTANT, NULL, NULL, "analysis", NULL,
                                                      m->content, m->content_len);
            else if (non_empty(m->thinking, m->thinking_len))
                status = gptoss_harmony_messages_push(out, GPTOSS_HARMONY_ASSISTANT, NULL, NULL, "analysis", NULL,
                                                      m->thinking, m->thinking_len);
            for (size_t j = 0; j < m->n_tool_calls && status == GPTOSS_OK; j++) {
                const bool builtin = builtin_call(c, m->tool_calls[j].name);
                name.len = 0;
                if ((!builtin && !gptoss_bytes_append_str(&name, "functions.")) ||
                    !gptoss_bytes_append_str(&name, m->tool_calls[j].name)) {
                    status = oom();
                    break;
                }
                status = gptoss_harmony_messages_push(out, GPTOSS_HARMONY_ASSISTANT, NULL, name.data,
                                                      builtin ? "analysis" : "commentary",
                                                      builtin ? "code" : "<|constrain|>json", m->tool_calls[j].arguments,
                                                      m->tool_calls[j].arguments_len);
            }
            break;
        case GPTOSS_CHAT_TOOL: {
            const char *function = tool_result_function(c, i);
            if (!function) {
                status = gptoss_fail(GPTOSS_ERROR_FORMAT,
                                     "messages[%zu]: a tool result needs a tool_call_id or name, or an earlier tool call", i);
                break;
            }
            const bool builtin = builtin_call(c, function);
            name.len = 0;
            if ((!builtin && !gptoss_bytes_append_str(&name, "functions.")) || !gptoss_bytes_append_str(&name, function)) {
                status = oom();
                break;
            }
            status = gptoss_harmony_messages_push(out, GPTOSS_HARMONY_TOOL, name.data, "assistant",
                                                  builtin ? "analysis" : "commentary", NULL, m->content, m->content_len);
            break;
        }
        default: /* a system/developer message after the first, or an unknown role: dropped */
            break;
        }
    }
    free(name.data);
    return status;
}

gptoss_status gptoss_conversation_to_harmony(const gptoss_conversation *c, gptoss_harmony_messages *out) {
    gptoss_harmony_messages list = {0};
    gptoss_status status = map_messages(c, &list);
    if (status != GPTOSS_OK) {
        gptoss_harmony_messages_free(&list);
        return status;
    }
    gptoss_harmony_drop_analysis(&list, c->add_generation_prompt);
    for (size_t i = 0; i < list.count && status == GPTOSS_OK; i++)
        status = gptoss_harmony_messages_append(out, &list.items[i]);
    gptoss_harmony_messages_free(&list);
    return status;
}
