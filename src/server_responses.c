/* server_responses.c - the Responses API format: the response object with
 * output items of type reasoning, message and function_call, and its
 * streaming events (response.created, output_item.added, *.delta, *.done,
 * response.completed). */
#include <string.h>

#include "server_reply.h"

static bool incomplete(const server_reply *r) { return r->finish && !strcmp(r->finish, "length"); }

/* `event: TYPE\ndata: {"type":"TYPE","sequence_number":N` (the caller adds
 * the rest and closes with event_close). */
static void event_open(server_reply *r, const char *type) {
    json_out *w = &r->out;
    json_raw(w, "event: ");
    json_raw(w, type);
    json_raw(w, "\ndata: {\"type\":\"");
    json_raw(w, type);
    json_raw(w, "\",\"sequence_number\":");
    json_u64(w, r->sequence++);
}

static void event_close(server_reply *r) { json_raw(&r->out, "}\n\n"); }

static size_t index_of(const server_reply *r, const reply_item *item) { return (size_t)(item - r->items); }

/* ,"item_id":...,"output_index":N */
static void item_ref(server_reply *r, const reply_item *item, bool content_index) {
    json_out *w = &r->out;
    json_raw(w, ",\"item_id\":");
    json_cstring(w, item->id);
    json_raw(w, ",\"output_index\":");
    json_u64(w, index_of(r, item));
    if (content_index) json_raw(w, ",\"content_index\":0");
}

static void part(json_out *w, const reply_item *item, bool with_text) {
    const char *text = with_text && item->text.data ? item->text.data : "";
    size_t len = with_text ? item->text.len : 0;
    if (item->kind == REPLY_TEXT) {
        json_raw(w, "{\"type\":\"output_text\",\"text\":");
        json_string(w, text, len);
        json_raw(w, ",\"annotations\":[],\"logprobs\":[]}");
    } else {
        json_raw(w, "{\"type\":\"reasoning_text\",\"text\":");
        json_string(w, text, len);
        json_raw(w, "}");
    }
}

/* One output item; `done` selects its final form. */
static void item_json(json_out *w, const reply_item *item, bool done, bool cut) {
    const char *status = !done ? "in_progress" : cut ? "incomplete" : "completed";
    json_raw(w, "{\"id\":");
    json_cstring(w, item->id);
    switch (item->kind) {
    case REPLY_TEXT:
        json_raw(w, ",\"type\":\"message\",\"status\":");
        json_cstring(w, status);
        json_raw(w, ",\"role\":\"assistant\",\"content\":[");
        if (done) part(w, item, true);
        json_raw(w, "]}");
        break;
    case REPLY_REASONING:
        json_raw(w, ",\"type\":\"reasoning\",\"status\":");
        json_cstring(w, status);
        json_raw(w, ",\"summary\":[],\"content\":[");
        if (done) part(w, item, true);
        json_raw(w, "]}");
        break;
    case REPLY_CALL:
        json_raw(w, ",\"type\":\"function_call\",\"status\":");
        json_cstring(w, status);
        json_raw(w, ",\"call_id\":");
        json_cstring(w, item->call_id);
        json_raw(w, ",\"name\":");
        json_cstring(w, item->name);
        json_raw(w, ",\"arguments\":");
        json_string(w, done && item->text.data ? item->text.data : "", done ? item->text.len : 0);
        json_raw(w, "}");
        break;
    }
}

static void usage(server_reply *r, json_out *w) {
    json_raw(w, "{\"input_tokens\":");
    json_u64(w, r->prompt_tokens);
    json_raw(w, ",\"input_tokens_details\":{\"cached_tokens\":");
    json_u64(w, r->cached_tokens);
    json_raw(w, "},\"output_tokens\":");
    json_u64(w, r->completion_tokens);
    json_raw(w, ",\"output_tokens_details\":{\"reasoning_tokens\":");
    json_u64(w, r->reasoning_tokens);
    json_raw(w, "},\"total_tokens\":");
    json_u64(w, (uint64_t)r->prompt_tokens + r->completion_tokens);
    json_raw(w, "}");
}

/* The response object; `final` once the turn has ended. */
static void response_json(server_reply *r, json_out *w, bool final) {
    const server_request *q = r->request;
    const bool cut = final && incomplete(r);
    json_raw(w, "{\"id\":");
    json_cstring(w, r->id);
    json_raw(w, ",\"object\":\"response\",\"created_at\":");
    json_i64(w, r->created);
    json_raw(w, ",\"status\":");
    json_cstring(w, !final ? "in_progress" : cut ? "incomplete" : "completed");
    json_raw(w, ",\"background\":false,\"error\":null,\"incomplete_details\":");
    json_raw(w, cut ? "{\"reason\":\"max_output_tokens\"}" : "null");
    json_raw(w, ",\"instructions\":");
    json_cstring(w, q->instructions);
    json_raw(w, ",\"max_output_tokens\":");
    if (q->max_tokens) json_u64(w, q->max_tokens);
    else json_raw(w, "null");
    json_raw(w, ",\"model\":");
    json_cstring(w, r->model);
    json_raw(w, ",\"output\":[");
    for (size_t i = 0; final && i < r->n_items; i++) {
        if (i) json_raw(w, ",");
        item_json(w, &r->items[i], true, cut && i + 1 == r->n_items);
    }
    json_raw(w, "],\"parallel_tool_calls\":true,\"previous_response_id\":null,\"reasoning\":{\"effort\":");
    json_cstring(w, q->effort);
    json_raw(w, ",\"summary\":null},\"store\":false,\"temperature\":");
    json_double(w, q->sampling.temperature);
    json_raw(w, ",\"text\":{\"format\":{\"type\":\"text\"}},\"tool_choice\":\"auto\",\"tools\":");
    if (q->tools) json_value(w, q->tools);
    else json_raw(w, "[]");
    json_raw(w, ",\"top_p\":");
    json_double(w, q->sampling.top_p);
    json_raw(w, ",\"truncation\":\"disabled\",\"usage\":");
    if (final) usage(r, w);
    else json_raw(w, "null");
    json_raw(w, ",\"user\":null,\"metadata\":{}}");
}

void responses_begin(server_reply *r) {
    event_open(r, "response.created");
    json_raw(&r->out, ",\"response\":");
    response_json(r, &r->out, false);
    event_close(r);
    event_open(r, "response.in_progress");
    json_raw(&r->out, ",\"response\":");
    response_json(r, &r->out, false);
    event_close(r);
}

void responses_item_start(server_reply *r, reply_item *item) {
    json_out *w = &r->out;
    event_open(r, "response.output_item.added");
    json_raw(w, ",\"output_index\":");
    json_u64(w, index_of(r, item));
    json_raw(w, ",\"item\":");
    item_json(w, item, false, false);
    event_close(r);
    if (item->kind == REPLY_CALL) return;
    event_open(r, "response.content_part.added");
    item_ref(r, item, true);
    json_raw(w, ",\"part\":");
    part(w, item, false);
    event_close(r);
}

void responses_delta(server_reply *r, reply_item *item, const char *text, size_t len) {
    json_out *w = &r->out;
    static const char *const types[] = {"response.output_text.delta", "response.reasoning_text.delta",
                                        "response.function_call_arguments.delta"};
    event_open(r, types[item->kind]);
    item_ref(r, item, item->kind != REPLY_CALL);
    json_raw(w, ",\"delta\":");
    json_string(w, text, len);
    if (item->kind == REPLY_TEXT) json_raw(w, ",\"logprobs\":[]");
    event_close(r);
}

void responses_item_end(server_reply *r, reply_item *item) {
    json_out *w = &r->out;
    const char *text = item->text.data ? item->text.data : "";
    if (item->kind == REPLY_CALL) {
        event_open(r, "response.function_call_arguments.done");
        item_ref(r, item, false);
        json_raw(w, ",\"name\":");
        json_cstring(w, item->name);
        json_raw(w, ",\"arguments\":");
        json_string(w, text, item->text.len);
        event_close(r);
    } else {
        event_open(r, item->kind == REPLY_TEXT ? "response.output_text.done" : "response.reasoning_text.done");
        item_ref(r, item, true);
        json_raw(w, ",\"text\":");
        json_string(w, text, item->text.len);
        if (item->kind == REPLY_TEXT) json_raw(w, ",\"logprobs\":[]");
        event_close(r);
        event_open(r, "response.content_part.done");
        item_ref(r, item, true);
        json_raw(w, ",\"part\":");
        part(w, item, true);
        event_close(r);
    }
    event_open(r, "response.output_item.done");
    json_raw(w, ",\"output_index\":");
    json_u64(w, index_of(r, item));
    json_raw(w, ",\"item\":");
    item_json(w, item, true, false);
    event_close(r);
}

void responses_finish(server_reply *r) {
    event_open(r, incomplete(r) ? "response.incomplete" : "response.completed");
    json_raw(&r->out, ",\"response\":");
    response_json(r, &r->out, true);
    event_close(r);
}

void responses_body(server_reply *r, json_out *w) { response_json(r, w, true); }
