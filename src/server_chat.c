/* server_chat.c - the chat.completions format: the whole chat.completion
 * object, or chat.completion.chunk server-sent events (content,
 * reasoning_content and tool_calls deltas, finish_reason, usage, [DONE]). */
#include <stdlib.h>
#include <string.h>

#include "server_reply.h"

/* `data: {"id":...,"system_fingerprint":null,`: what every chunk starts with */
static void chunk_header(server_reply *r) {
    json_out *w = &r->out;
    json_raw(w, "data: {\"id\":");
    json_cstring(w, r->id);
    json_raw(w, ",\"object\":\"chat.completion.chunk\",\"created\":");
    json_i64(w, r->created);
    json_raw(w, ",\"model\":");
    json_cstring(w, r->model);
    json_raw(w, ",\"system_fingerprint\":null,");
}

/* `data: {"id":...,"choices":[{"index":0,"delta":` */
static void chunk_open(server_reply *r) {
    chunk_header(r);
    json_raw(&r->out, "\"choices\":[{\"index\":0,\"delta\":");
}

static void chunk_close(server_reply *r, const char *finish) {
    json_out *w = &r->out;
    json_raw(w, ",\"logprobs\":null,\"finish_reason\":");
    json_cstring(w, finish);
    json_raw(w, "}]");
    if (r->request->include_usage) json_raw(w, ",\"usage\":null");
    json_raw(w, "}\n\n");
}

void chat_begin(server_reply *r) {
    chunk_open(r);
    json_raw(&r->out, "{\"role\":\"assistant\",\"content\":\"\"}");
    chunk_close(r, NULL);
}

/* Whether an earlier item of the same kind has text: a second one is
 * joined to it with a blank line. */
static bool follows_same_kind(const server_reply *r, const reply_item *item) {
    for (const reply_item *p = r->items; p < item; p++)
        if (p->kind == item->kind && p->text.len) return true;
    return false;
}

void chat_item_start(server_reply *r, reply_item *item) {
    json_out *w = &r->out;
    if (item->kind != REPLY_CALL) return;
    chunk_open(r);
    json_raw(w, "{\"tool_calls\":[{\"index\":");
    json_u64(w, (uint64_t)item->call_index);
    json_raw(w, ",\"id\":");
    json_cstring(w, item->call_id);
    json_raw(w, ",\"type\":\"function\",\"function\":{\"name\":");
    json_cstring(w, item->name);
    json_raw(w, ",\"arguments\":\"\"}}]}");
    chunk_close(r, NULL);
}

void chat_delta(server_reply *r, reply_item *item, const char *text, size_t len) {
    json_out *w = &r->out;
    chunk_open(r);
    if (item->kind == REPLY_CALL) {
        json_raw(w, "{\"tool_calls\":[{\"index\":");
        json_u64(w, (uint64_t)item->call_index);
        json_raw(w, ",\"function\":{\"arguments\":");
        json_string(w, text, len);
        json_raw(w, "}}]}");
    } else {
        json_raw(w, item->kind == REPLY_TEXT ? "{\"content\":" : "{\"reasoning_content\":");
        if (item->sent == 0 && follows_same_kind(r, item)) {
            /* "\n\n" + text as one string */
            gptoss_bytes joined = {0};
            if (!gptoss_bytes_append(&joined, "\n\n", 2) || !gptoss_bytes_append(&joined, text, len)) w->failed = true;
            else json_string(w, joined.data, joined.len);
            free(joined.data);
        } else {
            json_string(w, text, len);
        }
        json_raw(w, "}");
    }
    chunk_close(r, NULL);
}

void chat_item_end(server_reply *r, reply_item *item) { (void)r, (void)item; }

void chat_usage(server_reply *r, json_out *w) {
    json_raw(w, "{\"prompt_tokens\":");
    json_u64(w, r->prompt_tokens);
    json_raw(w, ",\"completion_tokens\":");
    json_u64(w, r->completion_tokens);
    json_raw(w, ",\"total_tokens\":");
    json_u64(w, (uint64_t)r->prompt_tokens + r->completion_tokens);
    json_raw(w, ",\"prompt_tokens_details\":{\"cached_tokens\":");
    json_u64(w, r->cached_tokens);
    json_raw(w, "},\"completion_tokens_details\":{\"reasoning_tokens\":");
    json_u64(w, r->reasoning_tokens);
    json_raw(w, "}}");
}

void chat_finish(server_reply *r) {
    json_out *w = &r->out;
    chunk_open(r);
    json_raw(w, "{}");
    chunk_close(r, r->finish);
    if (r->request->include_usage) {
        chunk_header(r);
        json_raw(w, "\"choices\":[],\"usage\":");
        chat_usage(r, w);
        json_raw(w, "}\n\n");
    }
    json_raw(w, "data: [DONE]\n\n");
}

/* The items of one kind joined by blank lines, as a JSON string; null when
 * there are none. */
static void joined(const server_reply *r, reply_kind kind, json_out *w) {
    gptoss_bytes text = {0};
    bool any = false, ok = true;
    for (size_t i = 0; i < r->n_items; i++) {
        const reply_item *item = &r->items[i];
        if (item->kind != kind) continue;
        if (any && item->text.len && text.len) ok = ok && gptoss_bytes_append(&text, "\n\n", 2);
        ok = ok && gptoss_bytes_append(&text, item->text.data ? item->text.data : "", item->text.len);
        any = true;
    }
    if (!ok) w->failed = true;
    else if (any) json_string(w, text.data ? text.data : "", text.len);
    else json_raw(w, "null");
    free(text.data);
}

void chat_body(server_reply *r, json_out *w) {
    json_raw(w, "{\"id\":");
    json_cstring(w, r->id);
    json_raw(w, ",\"object\":\"chat.completion\",\"created\":");
    json_i64(w, r->created);
    json_raw(w, ",\"model\":");
    json_cstring(w, r->model);
    json_raw(w, ",\"system_fingerprint\":null,\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
    joined(r, REPLY_TEXT, w);
    json_raw(w, ",\"refusal\":null");
    bool reasoning = false;
    for (size_t i = 0; i < r->n_items; i++) reasoning |= r->items[i].kind == REPLY_REASONING;
    if (reasoning) {
        json_raw(w, ",\"reasoning_content\":");
        joined(r, REPLY_REASONING, w);
    }
    if (r->n_calls) {
        json_raw(w, ",\"tool_calls\":[");
        bool first = true;
        for (size_t i = 0; i < r->n_items; i++) {
            const reply_item *item = &r->items[i];
            if (item->kind != REPLY_CALL) continue;
            json_raw(w, first ? "{\"id\":" : ",{\"id\":");
            first = false;
            json_cstring(w, item->call_id);
            json_raw(w, ",\"type\":\"function\",\"function\":{\"name\":");
            json_cstring(w, item->name);
            json_raw(w, ",\"arguments\":");
            json_string(w, item->text.data ? item->text.data : "", item->text.len);
            json_raw(w, "}}");
        }
        json_raw(w, "]");
    }
    json_raw(w, "},\"logprobs\":null,\"finish_reason\":");
    json_cstring(w, r->finish);
    json_raw(w, "}],\"usage\":");
    chat_usage(r, w);
    json_raw(w, "}");
}
