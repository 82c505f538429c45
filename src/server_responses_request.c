/* server_responses_request.c - the body of POST /v1/responses as OpenAI's
 * gpt-oss server takes it: input as text or items (messages, reasoning,
 * function calls and their outputs), instructions, function tools (and the
 * built-in browser and python), max_output_tokens. Items become the same
 * chat-shaped conversation the chat endpoint renders. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_request.h"

#define BAD 400
#define INVALID "invalid_request_error"

static int oom(server_error *e) {
    return server_fail(e, 500, "server_error", NULL, NULL, "out of memory while reading the request");
}

static int type_error(server_error *e, const char *param, const char *expected, const gptoss_json_value *got) {
    return server_fail(e, BAD, INVALID, "invalid_type", param, "Invalid type for '%s': expected %s, but got %s instead.",
                       param, expected, server_json_kind(got));
}

static bool absent(const gptoss_json_value *v) { return !v || v->type == GPTOSS_JSON_NULL; }

/* Appends the text of a content value (a string or an array of text parts)
 * to out. */
static int append_text(gptoss_bytes *out, const gptoss_json_value *v, const char *param, server_error *e) {
    if (absent(v)) return 1;
    if (v->type == GPTOSS_JSON_STRING) return gptoss_bytes_append(out, v->text, v->len) ? 1 : oom(e);
    if (v->type != GPTOSS_JSON_ARRAY) return type_error(e, param, "a string or an array of content parts", v);
    for (size_t i = 0; i < v->count; i++) {
        const gptoss_json_value *part = &v->items[i];
        char at[96];
        snprintf(at, sizeof at, "%s[%zu]", param, i);
        if (part->type != GPTOSS_JSON_OBJECT) return type_error(e, at, "an object", part);
        const char *type = gptoss_json_string(gptoss_json_get(part, "type"));
        if (type && !strcmp(type, "refusal")) continue;
        if (type && strcmp(type, "input_text") && strcmp(type, "output_text") && strcmp(type, "text") &&
            strcmp(type, "reasoning_text") && strcmp(type, "summary_text"))
            return server_fail(e, BAD, INVALID, "invalid_value", at,
                               "Content parts of type '%.40s' are not supported (only text).", type);
        const gptoss_json_value *text = gptoss_json_get(part, "text");
        if (!text || text->type != GPTOSS_JSON_STRING) return type_error(e, at, "a part with a text string", text);
        if (!gptoss_bytes_append(out, text->text, text->len)) return oom(e);
    }
    return 1;
}

/* Moves b's bytes into a malloc'ed string (empty when b is empty). */
static char *take(gptoss_bytes *b, size_t *len) {
    char *s = b->data ? b->data : server_strndup("", 0);
    *len = b->len;
    memset(b, 0, sizeof *b);
    return s;
}

static const char *string_member(const gptoss_json_value *item, const char *key, const char *where, server_error *e,
                                 bool *ok) {
    const gptoss_json_value *v = gptoss_json_get(item, key);
    if (v && v->type == GPTOSS_JSON_STRING) return v->text;
    char param[96];
    snprintf(param, sizeof param, "%s.%s", where, key);
    *ok = type_error(e, param, "a string", v);
    return NULL;
}

typedef struct input_state {
    gptoss_conversation *c;
    gptoss_bytes instructions; /* instructions, then leading system/developer items */
    gptoss_bytes thinking;     /* reasoning items waiting for their assistant message */
    size_t open_call;          /* index + 1 of the assistant message taking more calls; 0: none */
} input_state;

static int add_call(input_state *s, const gptoss_json_value *item, const char *where, server_error *e) {
    bool ok = true;
    const char *name = string_member(item, "name", where, e, &ok);
    const char *call_id = ok ? string_member(item, "call_id", where, e, &ok) : NULL;
    if (!ok) return 0;
    if (!server_valid_function_name(name, strlen(name), true))
        return server_fail(e, BAD, INVALID, "invalid_value", where, "Invalid function name '%.64s'.", name);
    const gptoss_json_value *arguments = gptoss_json_get(item, "arguments");
    if (!absent(arguments) && arguments->type != GPTOSS_JSON_STRING) return type_error(e, where, "an arguments string", arguments);
    gptoss_chat_message *m;
    if (s->open_call) {
        m = &s->c->messages[s->open_call - 1];
    } else {
        if (!(m = server_conversation_add(s->c, GPTOSS_CHAT_ASSISTANT))) return oom(e);
        s->open_call = s->c->n_messages;
        if (s->thinking.len) m->thinking = take(&s->thinking, &m->thinking_len);
    }
    gptoss_chat_tool_call *calls = realloc(m->tool_calls, (m->n_tool_calls + 1) * sizeof *calls);
    if (!calls) return oom(e);
    m->tool_calls = calls;
    gptoss_chat_tool_call *call = &calls[m->n_tool_calls++];
    memset(call, 0, sizeof *call);
    const char *args = absent(arguments) ? "{}" : arguments->text;
    size_t args_len = absent(arguments) ? 2 : arguments->len;
    call->id = server_strndup(call_id, strlen(call_id));
    call->name = server_strndup(name, strlen(name));
    call->arguments = server_strndup(args, args_len);
    call->arguments_len = args_len;
    return call->id && call->name && call->arguments ? 1 : oom(e);
}

static int add_item(input_state *s, const gptoss_json_value *item, size_t index, server_error *e) {
    char where[48];
    snprintf(where, sizeof where, "input[%zu]", index);
    if (item->type != GPTOSS_JSON_OBJECT) return type_error(e, where, "an object", item);
    const gptoss_json_value *type_value = gptoss_json_get(item, "type");
    if (!absent(type_value) && type_value->type != GPTOSS_JSON_STRING) return type_error(e, where, "a type string", type_value);
    const char *type = absent(type_value) ? "message" : type_value->text;
    char param[96];
    if (!strcmp(type, "message")) {
        bool ok = true;
        const char *role = string_member(item, "role", where, e, &ok);
        if (!ok) return 0;
        snprintf(param, sizeof param, "%s.content", where);
        gptoss_bytes text = {0};
        if (!append_text(&text, gptoss_json_get(item, "content"), param, e)) {
            free(text.data);
            return 0;
        }
        gptoss_chat_role r;
        if (!strcmp(role, "user")) r = GPTOSS_CHAT_USER;
        else if (!strcmp(role, "assistant")) r = GPTOSS_CHAT_ASSISTANT;
        else if (!strcmp(role, "system") || !strcmp(role, "developer")) {
            /* Before the conversation starts they join the instructions; later
             * ones have no place in harmony and are dropped. */
            int ok2 = 1;
            if (s->c->n_messages == 0) {
                if ((s->instructions.len && !gptoss_bytes_append_str(&s->instructions, "\n\n")) ||
                    !gptoss_bytes_append(&s->instructions, text.data ? text.data : "", text.len))
                    ok2 = oom(e);
            }
            free(text.data);
            return ok2;
        } else {
            free(text.data);
            snprintf(param, sizeof param, "%s.role", where);
            return server_fail(e, BAD, INVALID, "invalid_value", param,
                               "Invalid value: '%.40s'. Supported values are: 'user', 'assistant', 'system' and "
                               "'developer'.",
                               role);
        }
        gptoss_chat_message *m = server_conversation_add(s->c, r);
        if (!m) {
            free(text.data);
            return oom(e);
        }
        m->content = take(&text, &m->content_len);
        if (r == GPTOSS_CHAT_ASSISTANT && s->thinking.len) m->thinking = take(&s->thinking, &m->thinking_len);
        s->open_call = 0;
        return m->content ? 1 : oom(e);
    }
    if (!strcmp(type, "reasoning")) {
        snprintf(param, sizeof param, "%s.content", where);
        const gptoss_json_value *content = gptoss_json_get(item, "content");
        if (absent(content) || (content->type == GPTOSS_JSON_ARRAY && !content->count)) {
            content = gptoss_json_get(item, "summary");
            snprintf(param, sizeof param, "%s.summary", where);
        }
        return append_text(&s->thinking, content, param, e);
    }
    if (!strcmp(type, "function_call")) return add_call(s, item, where, e);
    if (!strcmp(type, "function_call_output")) {
        bool ok = true;
        const char *call_id = string_member(item, "call_id", where, e, &ok);
        if (!ok) return 0;
        gptoss_bytes text = {0};
        snprintf(param, sizeof param, "%s.output", where);
        if (!append_text(&text, gptoss_json_get(item, "output"), param, e)) {
            free(text.data);
            return 0;
        }
        gptoss_chat_message *m = server_conversation_add(s->c, GPTOSS_CHAT_TOOL);
        if (!m) {
            free(text.data);
            return oom(e);
        }
        m->content = take(&text, &m->content_len);
        m->tool_call_id = server_strndup(call_id, strlen(call_id));
        s->open_call = 0;
        return m->content && m->tool_call_id ? 1 : oom(e);
    }
    return server_fail(e, BAD, INVALID, "invalid_value", where,
                       "Input items of type '%.40s' are not supported (message, reasoning, function_call, "
                       "function_call_output).",
                       type);
}

static int parse_tools(const gptoss_json_value *tools, bool none, gptoss_conversation *c, server_error *e) {
    if (absent(tools)) return 1;
    if (tools->type != GPTOSS_JSON_ARRAY) return type_error(e, "tools", "an array", tools);
    if (tools->count > 1024) return server_fail(e, BAD, INVALID, "invalid_value", "tools", "At most 1024 tools are supported.");
    if (tools->count && !(c->tools = calloc(tools->count, sizeof *c->tools))) return oom(e);
    for (size_t i = 0; i < tools->count; i++) {
        const gptoss_json_value *t = &tools->items[i];
        char at[48];
        snprintf(at, sizeof at, "tools[%zu]", i);
        if (t->type != GPTOSS_JSON_OBJECT) return type_error(e, at, "an object", t);
        const char *type = gptoss_json_string(gptoss_json_get(t, "type"));
        if (!type) return type_error(e, at, "a type string", gptoss_json_get(t, "type"));
        if (!strcmp(type, "browser_search") || !strcmp(type, "web_search") || !strcmp(type, "web_search_preview")) {
            if (!none) c->builtin_tools |= GPTOSS_BUILTIN_BROWSER;
            continue;
        }
        if (!strcmp(type, "code_interpreter") || !strcmp(type, "python")) {
            if (!none) c->builtin_tools |= GPTOSS_BUILTIN_PYTHON;
            continue;
        }
        if (strcmp(type, "function"))
            return server_fail(e, BAD, INVALID, "invalid_value", at,
                               "Tools of type '%.40s' are not supported (function, browser_search, code_interpreter).",
                               type);
        const gptoss_json_value *name = gptoss_json_get(t, "name");
        if (!name || name->type != GPTOSS_JSON_STRING) return type_error(e, at, "a name string", name);
        if (!server_valid_function_name(name->text, name->len, false))
            return server_fail(e, BAD, INVALID, "invalid_value", at, "Invalid function name '%.64s'.", name->text);
        const gptoss_json_value *description = gptoss_json_get(t, "description");
        if (!absent(description) && description->type != GPTOSS_JSON_STRING)
            return type_error(e, at, "a description string", description);
        const gptoss_json_value *parameters = gptoss_json_get(t, "parameters");
        if (!absent(parameters) && parameters->type != GPTOSS_JSON_OBJECT)
            return type_error(e, at, "a parameters object (JSON schema)", parameters);
        if (none) continue;
        gptoss_function_tool *tool = &c->tools[c->n_tools++];
        tool->name = server_strndup(name->text, name->len);
        if (!absent(description)) tool->description = server_strndup(description->text, description->len);
        if (!absent(parameters)) tool->parameters = gptoss_json_value_clone(parameters);
        if (!tool->name || (!absent(description) && !tool->description) || (!absent(parameters) && !tool->parameters))
            return oom(e);
    }
    return 1;
}

int server_responses_parse(const gptoss_json_value *body, server_request *r, server_error *e) {
    const gptoss_json_value *v = gptoss_json_get(body, "previous_response_id");
    if (!absent(v))
        return server_fail(e, BAD, INVALID, "unsupported_parameter", "previous_response_id",
                           "previous_response_id is not supported: this server stores no responses; send the "
                           "whole conversation as input items.");
    v = gptoss_json_get(body, "background");
    if (v && v->type == GPTOSS_JSON_TRUE)
        return server_fail(e, BAD, INVALID, "unsupported_parameter", "background", "background is not supported.");
    v = gptoss_json_get(body, "max_output_tokens");
    if (!absent(v)) {
        if (v->type != GPTOSS_JSON_NUMBER || gptoss_json_number_is_float(v))
            return type_error(e, "max_output_tokens", "an integer", v);
        long long n = strtoll(v->text, NULL, 10);
        if (n < 1 || n > UINT32_MAX || v->text[0] == '-')
            return server_fail(e, BAD, INVALID, "invalid_value", "max_output_tokens",
                               "Invalid value for 'max_output_tokens': %s is not between 1 and 4294967295.", v->text);
        r->max_tokens = (uint32_t)n;
    }
    gptoss_conversation *c = &r->conversation;
    const gptoss_json_value *tools = gptoss_json_get(body, "tools");
    const char *choice = gptoss_json_string(gptoss_json_get(body, "tool_choice"));
    if (!parse_tools(tools, choice && !strcmp(choice, "none"), c, e)) return 0;
    if (!absent(tools) && !(r->tools = gptoss_json_value_clone(tools))) return oom(e);
    input_state s = {.c = c};
    int ok = 1;
    v = gptoss_json_get(body, "instructions");
    if (!absent(v)) {
        if (v->type != GPTOSS_JSON_STRING) return type_error(e, "instructions", "a string", v);
        if (!(r->instructions = server_strndup(v->text, v->len)) || !gptoss_bytes_append(&s.instructions, v->text, v->len))
            return oom(e);
    }
    const gptoss_json_value *input = gptoss_json_get(body, "input");
    if (absent(input)) {
        ok = server_fail(e, BAD, INVALID, "missing_required_parameter", "input", "Missing required parameter: 'input'.");
    } else if (input->type == GPTOSS_JSON_STRING) {
        gptoss_chat_message *m = server_conversation_add(c, GPTOSS_CHAT_USER);
        if (!m || !(m->content = server_strndup(input->text, input->len))) ok = oom(e);
        else m->content_len = input->len;
    } else if (input->type == GPTOSS_JSON_ARRAY) {
        if (input->count > 32768) ok = server_fail(e, BAD, INVALID, "invalid_value", "input", "At most 32768 input items are supported.");
        for (size_t i = 0; ok && i < input->count; i++) ok = add_item(&s, &input->items[i], i, e);
    } else {
        ok = type_error(e, "input", "a string or an array of input items", input);
    }
    if (ok && s.instructions.len) { /* the instructions become the leading developer message */
        gptoss_chat_message *m = server_conversation_add(c, GPTOSS_CHAT_DEVELOPER);
        if (!m) ok = oom(e);
        else {
            gptoss_chat_message first = *m;
            first.content = take(&s.instructions, &first.content_len);
            memmove(c->messages + 1, c->messages, (c->n_messages - 1) * sizeof *c->messages);
            c->messages[0] = first;
        }
    }
    free(s.instructions.data);
    free(s.thinking.data);
    return ok;
}
