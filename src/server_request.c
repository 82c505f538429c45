/* server_request.c - parsing and validating request bodies: the fields both
 * APIs share, and the chat.completions body (its messages go to the harmony
 * conversation parser once their shape is checked). */
#include "server_request.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* Bounds that keep a 4 MiB body cheap to handle: object member lookup is
 * linear (so members per object are capped), tool results search earlier
 * messages (so messages are capped). A context of 131072 tokens cannot hold
 * more messages than this anyway (each renders to at least 4 tokens). */
enum { MAX_MEMBERS = 4096, MAX_MESSAGES = 32768, MAX_TOOLS = 1024 };

#define BAD 400
#define INVALID "invalid_request_error"

char *server_strndup(const char *s, size_t len) {
    char *copy = malloc(len + 1);
    if (!copy) return NULL;
    if (len) memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

const char *server_json_kind(const gptoss_json_value *v) {
    if (!v) return "nothing";
    switch (v->type) {
    case GPTOSS_JSON_NULL: return "null";
    case GPTOSS_JSON_FALSE:
    case GPTOSS_JSON_TRUE: return "a boolean";
    case GPTOSS_JSON_NUMBER: return gptoss_json_number_is_float(v) ? "a decimal" : "an integer";
    case GPTOSS_JSON_STRING: return "a string";
    case GPTOSS_JSON_ARRAY: return "an array";
    case GPTOSS_JSON_OBJECT: return "an object";
    }
    return "a value";
}

bool server_valid_function_name(const char *name, size_t len, bool allow_dots) {
    if (len == 0 || len > 64 || strlen(name) != len) return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              (allow_dots && c == '.')))
            return false;
    }
    return true;
}

gptoss_chat_message *server_conversation_add(gptoss_conversation *c, gptoss_chat_role role) {
    gptoss_chat_message *grown = realloc(c->messages, (c->n_messages + 1) * sizeof *grown);
    if (!grown) return NULL;
    c->messages = grown;
    gptoss_chat_message *m = &c->messages[c->n_messages++];
    memset(m, 0, sizeof *m);
    m->role = role;
    return m;
}

static int oom(server_error *e) {
    return server_fail(e, 500, "server_error", NULL, NULL, "out of memory while reading the request");
}

static int type_error(server_error *e, const char *param, const char *expected, const gptoss_json_value *got) {
    return server_fail(e, BAD, INVALID, "invalid_type", param, "Invalid type for '%s': expected %s, but got %s instead.",
                       param, expected, server_json_kind(got));
}

static bool absent(const gptoss_json_value *v) { return !v || v->type == GPTOSS_JSON_NULL; }

/* A number member within [min, max]; absent or null leaves *out. */
static int get_number(const gptoss_json_value *body, const char *key, double min, double max, double *out,
                      server_error *e) {
    const gptoss_json_value *v = gptoss_json_get(body, key);
    if (absent(v)) return 1;
    if (v->type != GPTOSS_JSON_NUMBER) return type_error(e, key, "a number", v);
    double x = strtod(v->text, NULL);
    if (!isfinite(x) || x < min || x > max)
        return server_fail(e, BAD, INVALID, "invalid_value", key, "Invalid value for '%s': %s is not between %g and %g.",
                           key, v->text, min, max);
    *out = x;
    return 1;
}

/* An integer member within [min, max]; *given tells whether it was there. */
static int get_integer(const gptoss_json_value *body, const char *key, long long min, long long max, long long *out,
                       bool *given, server_error *e) {
    const gptoss_json_value *v = gptoss_json_get(body, key);
    *given = false;
    if (absent(v)) return 1;
    if (v->type != GPTOSS_JSON_NUMBER || gptoss_json_number_is_float(v))
        return type_error(e, key, "an integer", v);
    errno = 0;
    long long x = strtoll(v->text, NULL, 10);
    if (errno || x < min || x > max)
        return server_fail(e, BAD, INVALID, "invalid_value", key,
                           "Invalid value for '%s': %s is not between %lld and %lld.", key, v->text, min, max);
    *out = x;
    *given = true;
    return 1;
}

static int get_bool(const gptoss_json_value *body, const char *key, bool *out, server_error *e) {
    const gptoss_json_value *v = gptoss_json_get(body, key);
    if (absent(v)) return 1;
    if (v->type != GPTOSS_JSON_TRUE && v->type != GPTOSS_JSON_FALSE) return type_error(e, key, "a boolean", v);
    *out = v->type == GPTOSS_JSON_TRUE;
    return 1;
}

static int set_effort(server_request *r, const gptoss_json_value *v, const char *param, server_error *e) {
    if (absent(v)) return 1;
    if (v->type != GPTOSS_JSON_STRING) return type_error(e, param, "a string", v);
    const char *effort = v->text;
    if (!strcmp(effort, "minimal")) effort = "low"; /* the nearest harmony level */
    if (strcmp(effort, "low") && strcmp(effort, "medium") && strcmp(effort, "high"))
        return server_fail(e, BAD, INVALID, "invalid_value", param,
                           "Invalid value for '%s': '%.64s'. Supported values are: 'low', 'medium' and 'high'.", param,
                           v->text);
    snprintf(r->effort, sizeof r->effort, "%s", effort);
    return 1;
}

static int parse_stop(const gptoss_json_value *v, server_request *r, server_error *e) {
    if (absent(v)) return 1;
    const gptoss_json_value *items = v;
    size_t n = 1;
    if (v->type == GPTOSS_JSON_ARRAY) n = v->count, items = v->items;
    else if (v->type != GPTOSS_JSON_STRING) return type_error(e, "stop", "a string or an array of strings", v);
    if (n > SERVER_MAX_STOP)
        return server_fail(e, BAD, INVALID, "invalid_value", "stop", "At most %d stop sequences are supported, got %zu.",
                           SERVER_MAX_STOP, n);
    for (size_t i = 0; i < n; i++) {
        if (items[i].type != GPTOSS_JSON_STRING) return type_error(e, "stop", "a string or an array of strings", &items[i]);
        if (items[i].len == 0) continue; /* an empty stop string would stop at once: ignore it */
        if (items[i].len > SERVER_MAX_STOP_LEN)
            return server_fail(e, BAD, INVALID, "invalid_value", "stop", "A stop sequence is limited to %d bytes.",
                               SERVER_MAX_STOP_LEN);
        if (!(r->stop[r->n_stop] = server_strndup(items[i].text, items[i].len))) return oom(e);
        if (items[i].len > r->longest_stop) r->longest_stop = items[i].len;
        r->n_stop++;
    }
    return 1;
}

int server_request_common(const gptoss_json_value *body, server_request *r, server_error *e) {
    const gptoss_json_value *v = gptoss_json_get(body, "model");
    if (!absent(v)) {
        if (v->type != GPTOSS_JSON_STRING) return type_error(e, "model", "a string", v);
        if (!(r->model = server_strndup(v->text, v->len))) return oom(e);
    }
    if (!get_bool(body, "stream", &r->stream, e)) return 0;
    double temperature = r->sampling.temperature, top_p = r->sampling.top_p;
    if (!get_number(body, "temperature", 0, 2, &temperature, e) || !get_number(body, "top_p", 0, 1, &top_p, e)) return 0;
    r->sampling.temperature = (float)temperature;
    r->sampling.top_p = top_p > 0 ? (float)top_p : 1e-6f; /* top_p 0: the single most likely token */
    long long seed;
    bool given;
    if (!get_integer(body, "seed", LLONG_MIN, LLONG_MAX, &seed, &given, e)) return 0;
    r->sampling.seed = given ? (uint64_t)seed : server_random_u64(); /* no seed: a different draw each time */
    /* Reasoning effort: reasoning_effort (chat) or reasoning.effort (both). */
    if (!set_effort(r, gptoss_json_get(body, "reasoning_effort"), "reasoning_effort", e)) return 0;
    v = gptoss_json_get(body, "reasoning");
    if (!absent(v)) {
        if (v->type != GPTOSS_JSON_OBJECT) return type_error(e, "reasoning", "an object", v);
        if (!set_effort(r, gptoss_json_get(v, "effort"), "reasoning.effort", e)) return 0;
    }
    /* Known parameters whose other values are not supported. */
    long long n;
    if (!get_integer(body, "n", 1, 128, &n, &given, e)) return 0;
    if (given && n != 1)
        return server_fail(e, BAD, INVALID, "invalid_value", "n", "Only n=1 is supported (got n=%lld).", n);
    bool logprobs = false;
    if (!get_bool(body, "logprobs", &logprobs, e)) return 0;
    if (logprobs) return server_fail(e, BAD, INVALID, "invalid_value", "logprobs", "logprobs are not supported.");
    if (!get_integer(body, "top_logprobs", 0, 20, &n, &given, e)) return 0;
    if (given && n > 0)
        return server_fail(e, BAD, INVALID, "invalid_value", "top_logprobs", "top_logprobs are not supported.");
    return 1;
}

/* The content of a message: a string, null (only where allowed) or an array
 * of text parts. */
static int check_content(const gptoss_json_value *m, const char *where, bool nullable, server_error *e) {
    char param[96];
    snprintf(param, sizeof param, "%s.content", where);
    const gptoss_json_value *v = gptoss_json_get(m, "content");
    if (absent(v)) {
        if (nullable) return 1;
        return server_fail(e, BAD, INVALID, "missing_required_parameter", param, "Missing required parameter: '%s'.",
                           param);
    }
    if (v->type == GPTOSS_JSON_STRING) return 1;
    if (v->type != GPTOSS_JSON_ARRAY) return type_error(e, param, "a string or an array of content parts", v);
    for (size_t i = 0; i < v->count; i++) {
        const gptoss_json_value *part = &v->items[i];
        char at[160];
        snprintf(at, sizeof at, "%s[%zu]", param, i);
        if (part->type != GPTOSS_JSON_OBJECT) return type_error(e, at, "an object", part);
        const char *type = gptoss_json_string(gptoss_json_get(part, "type"));
        if (type && strcmp(type, "text") && strcmp(type, "input_text") && strcmp(type, "output_text"))
            return server_fail(e, BAD, INVALID, "invalid_value", at,
                               "Content parts of type '%.40s' are not supported (only text).", type);
        const gptoss_json_value *text = gptoss_json_get(part, "text");
        if (!text || text->type != GPTOSS_JSON_STRING) {
            snprintf(at + strlen(at), sizeof at - strlen(at), ".text");
            return type_error(e, at, "a string", text);
        }
    }
    return 1;
}

static int check_tool_calls(const gptoss_json_value *m, const char *where, server_error *e) {
    const gptoss_json_value *calls = gptoss_json_get(m, "tool_calls");
    char param[112];
    snprintf(param, sizeof param, "%s.tool_calls", where);
    if (absent(calls)) return 1;
    if (calls->type != GPTOSS_JSON_ARRAY) return type_error(e, param, "an array", calls);
    for (size_t i = 0; i < calls->count; i++) {
        const gptoss_json_value *call = &calls->items[i];
        char at[160];
        snprintf(at, sizeof at, "%s[%zu]", param, i);
        if (call->type != GPTOSS_JSON_OBJECT) return type_error(e, at, "an object", call);
        const gptoss_json_value *id = gptoss_json_get(call, "id");
        if (!absent(id) && id->type != GPTOSS_JSON_STRING) return type_error(e, at, "an id string", id);
        const gptoss_json_value *function = gptoss_json_get(call, "function");
        if (!function || function->type != GPTOSS_JSON_OBJECT) return type_error(e, at, "a function object", function);
        const gptoss_json_value *name = gptoss_json_get(function, "name");
        if (!name || name->type != GPTOSS_JSON_STRING) return type_error(e, at, "a function name string", name);
        if (!server_valid_function_name(name->text, name->len, true))
            return server_fail(e, BAD, INVALID, "invalid_value", at, "Invalid function name '%.64s'.", name->text);
        const gptoss_json_value *arguments = gptoss_json_get(function, "arguments");
        if (!absent(arguments) && arguments->type != GPTOSS_JSON_STRING && arguments->type != GPTOSS_JSON_OBJECT)
            return type_error(e, at, "an arguments string", arguments);
    }
    return 1;
}

static int check_messages(const gptoss_json_value *messages, server_error *e) {
    if (!messages)
        return server_fail(e, BAD, INVALID, "missing_required_parameter", "messages",
                           "Missing required parameter: 'messages'.");
    if (messages->type != GPTOSS_JSON_ARRAY) return type_error(e, "messages", "an array", messages);
    if (messages->count == 0)
        return server_fail(e, BAD, INVALID, "empty_array", "messages",
                           "Invalid 'messages': empty array. Expected an array with minimum length 1.");
    if (messages->count > MAX_MESSAGES)
        return server_fail(e, BAD, INVALID, "invalid_value", "messages", "At most %d messages are supported.",
                           MAX_MESSAGES);
    for (size_t i = 0; i < messages->count; i++) {
        const gptoss_json_value *m = &messages->items[i];
        char where[64], param[80];
        snprintf(where, sizeof where, "messages[%zu]", i);
        if (m->type != GPTOSS_JSON_OBJECT) return type_error(e, where, "an object", m);
        snprintf(param, sizeof param, "%s.role", where);
        const gptoss_json_value *role = gptoss_json_get(m, "role");
        if (!role) return server_fail(e, BAD, INVALID, "missing_required_parameter", param, "Missing required parameter: '%s'.", param);
        if (role->type != GPTOSS_JSON_STRING) return type_error(e, param, "a string", role);
        const char *r = role->text;
        bool assistant = !strcmp(r, "assistant"), tool = !strcmp(r, "tool");
        if (!assistant && !tool && strcmp(r, "system") && strcmp(r, "developer") && strcmp(r, "user"))
            return server_fail(e, BAD, INVALID, "invalid_value", param,
                               "Invalid value: '%.40s'. Supported values are: 'system', 'developer', 'user', "
                               "'assistant' and 'tool'.",
                               r);
        if (!check_content(m, where, assistant, e)) return 0;
        static const char *const texts[] = {"reasoning_content", "thinking", "tool_call_id", "name"};
        for (int k = 0; k < 4; k++) {
            const gptoss_json_value *v = gptoss_json_get(m, texts[k]);
            snprintf(param, sizeof param, "%s.%s", where, texts[k]);
            if (!absent(v) && v->type != GPTOSS_JSON_STRING) return type_error(e, param, "a string", v);
        }
        if (assistant && !check_tool_calls(m, where, e)) return 0;
    }
    return 1;
}

static int check_tools(const gptoss_json_value *tools, server_error *e) {
    if (absent(tools)) return 1;
    if (tools->type != GPTOSS_JSON_ARRAY) return type_error(e, "tools", "an array", tools);
    if (tools->count > MAX_TOOLS)
        return server_fail(e, BAD, INVALID, "invalid_value", "tools", "At most %d tools are supported.", MAX_TOOLS);
    for (size_t i = 0; i < tools->count; i++) {
        const gptoss_json_value *t = &tools->items[i];
        char at[48];
        snprintf(at, sizeof at, "tools[%zu]", i);
        if (t->type != GPTOSS_JSON_OBJECT) return type_error(e, at, "an object", t);
        const char *type = gptoss_json_string(gptoss_json_get(t, "type"));
        if (type && strcmp(type, "function"))
            return server_fail(e, BAD, INVALID, "invalid_value", at,
                               "Tools of type '%.40s' are not supported (only 'function').", type);
        const gptoss_json_value *function = gptoss_json_get(t, "function");
        if (!function) function = t;
        if (function->type != GPTOSS_JSON_OBJECT) return type_error(e, at, "a function object", function);
        const gptoss_json_value *name = gptoss_json_get(function, "name");
        if (!name || name->type != GPTOSS_JSON_STRING) return type_error(e, at, "a function name string", name);
        if (!server_valid_function_name(name->text, name->len, false))
            return server_fail(e, BAD, INVALID, "invalid_value", at,
                               "Invalid function name '%.64s': use letters, digits, '_' and '-' (at most 64).",
                               name->text);
        const gptoss_json_value *description = gptoss_json_get(function, "description");
        if (!absent(description) && description->type != GPTOSS_JSON_STRING)
            return type_error(e, at, "a description string", description);
        const gptoss_json_value *parameters = gptoss_json_get(function, "parameters");
        if (!absent(parameters) && parameters->type != GPTOSS_JSON_OBJECT)
            return type_error(e, at, "a parameters object (JSON schema)", parameters);
    }
    return 1;
}

/* tool_choice "none": the tools are not shown to the model. Other values
 * (auto, required, a named function) cannot be enforced and are accepted. */
static bool tool_choice_none(const gptoss_json_value *body) {
    const char *choice = gptoss_json_string(gptoss_json_get(body, "tool_choice"));
    return choice && !strcmp(choice, "none");
}

static int parse_chat(const gptoss_json_value *body, server_request *r, server_error *e) {
    if (!check_messages(gptoss_json_get(body, "messages"), e) || !check_tools(gptoss_json_get(body, "tools"), e))
        return 0;
    long long n;
    bool given;
    if (!get_integer(body, "max_tokens", 1, UINT32_MAX, &n, &given, e)) return 0;
    if (given) r->max_tokens = (uint32_t)n;
    if (!get_integer(body, "max_completion_tokens", 1, UINT32_MAX, &n, &given, e)) return 0;
    if (given) r->max_tokens = (uint32_t)n;
    const gptoss_json_value *options = gptoss_json_get(body, "stream_options");
    if (!absent(options)) {
        if (options->type != GPTOSS_JSON_OBJECT) return type_error(e, "stream_options", "an object", options);
        if (!get_bool(options, "include_usage", &r->include_usage, e)) return 0;
    }
    if (!parse_stop(gptoss_json_get(body, "stop"), r, e)) return 0;
    if (gptoss_conversation_from_json(body, &r->conversation) != GPTOSS_OK) {
        if (gptoss_last_error()[0] && strstr(gptoss_last_error(), "out of memory")) return oom(e);
        return server_fail(e, BAD, INVALID, "invalid_value", NULL, "Invalid request: %s", gptoss_last_error());
    }
    r->conversation.add_generation_prompt = true;
    if (tool_choice_none(body)) {
        gptoss_conversation c = r->conversation;
        for (size_t i = 0; i < c.n_tools; i++) {
            free(c.tools[i].name);
            free(c.tools[i].description);
            gptoss_json_value_free(c.tools[i].parameters);
        }
        free(c.tools);
        r->conversation.tools = NULL;
        r->conversation.n_tools = 0;
    }
    return 1;
}

/* Largest member count of any object in text, by a linear scan (the real
 * parser checks everything else); bodies above MAX_MEMBERS are refused
 * before the quadratic duplicate-key check of the tree parser sees them. */
static size_t widest_object(const char *s, size_t len) {
    enum { DEPTH = 300 };
    size_t counts[DEPTH];
    bool object[DEPTH];
    int depth = 0;
    size_t widest = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '"') {
            for (i++; i < len && s[i] != '"'; i++)
                if (s[i] == '\\') i++;
        } else if (c == '{' || c == '[') {
            if (depth == DEPTH) return widest; /* the parser refuses this depth */
            object[depth] = c == '{';
            counts[depth++] = 1;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        } else if (c == ',' && depth > 0 && object[depth - 1]) {
            if (++counts[depth - 1] > widest) widest = counts[depth - 1];
        }
    }
    return widest;
}

void server_request_free(server_request *r) {
    gptoss_conversation_free(&r->conversation);
    for (size_t i = 0; i < r->n_stop; i++) free(r->stop[i]);
    free(r->model);
    free(r->instructions);
    gptoss_json_value_free(r->tools);
    memset(r, 0, sizeof *r);
    gptoss_conversation_init(&r->conversation);
}

int server_request_parse(server_api api, const char *body, size_t len, server_request *r, server_error *e) {
    memset(r, 0, sizeof *r);
    gptoss_conversation_init(&r->conversation);
    r->api = api;
    r->sampling = gptoss_sampler_default_params();
    snprintf(r->effort, sizeof r->effort, "medium");
    if (len == 0)
        return server_fail(e, BAD, INVALID, NULL, NULL, "The request body is empty: expected a JSON object.");
    if (widest_object(body, len) > MAX_MEMBERS)
        return server_fail(e, BAD, INVALID, NULL, NULL, "A JSON object in the body has more than %d members.",
                           MAX_MEMBERS);
    gptoss_json_value *root = NULL;
    if (gptoss_json_value_parse(body, len, &root) != GPTOSS_OK)
        return server_fail(e, BAD, INVALID, NULL, NULL, "We could not parse the JSON body of your request: %s",
                           gptoss_last_error());
    int ok;
    if (root->type != GPTOSS_JSON_OBJECT) ok = server_fail(e, BAD, INVALID, NULL, NULL, "The request body must be a JSON object.");
    else ok = server_request_common(root, r, e) &&
              (api == SERVER_API_CHAT ? parse_chat(root, r, e) : server_responses_parse(root, r, e));
    gptoss_json_value_free(root);
    if (ok) {
        r->conversation.native_builtin_calls = true; /* clients send back the model's own built-in calls */
        free(r->conversation.reasoning_effort);
        if (!(r->conversation.reasoning_effort = server_strndup(r->effort, strlen(r->effort)))) ok = oom(e);
    }
    if (!ok) server_request_free(r);
    return ok;
}
