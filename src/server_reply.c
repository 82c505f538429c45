/* server_reply.c - harmony messages to API items (text, reasoning, tool
 * calls), stop strings, and the dispatch to the chat or Responses format. */
#include "server_reply.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void server_reply_init(server_reply *r, const server_request *request, const char *model) {
    memset(r, 0, sizeof *r);
    r->request = request;
    r->model = request->model && request->model[0] ? request->model : model;
    r->current = -1;
    r->created = (int64_t)time(NULL);
    server_random_id(request->api == SERVER_API_CHAT ? "chatcmpl-" : "resp_", r->id, sizeof r->id);
}

void server_reply_free(server_reply *r) {
    for (size_t i = 0; i < r->n_items; i++) {
        free(r->items[i].text.data);
        free(r->items[i].name);
    }
    free(r->items);
    json_out_free(&r->out);
    memset(r, 0, sizeof *r);
    r->current = -1;
}

static bool chat(const server_reply *r) { return r->request->api == SERVER_API_CHAT; }

static void emit_start(server_reply *r, reply_item *item) {
    if (!r->request->stream) return;
    if (chat(r)) chat_item_start(r, item);
    else responses_item_start(r, item);
}

static void emit_delta(server_reply *r, reply_item *item, const char *text, size_t len) {
    if (!r->request->stream || len == 0) return;
    if (chat(r)) chat_delta(r, item, text, len);
    else responses_delta(r, item, text, len);
}

static void emit_end(server_reply *r, reply_item *item) {
    if (!r->request->stream) return;
    if (chat(r)) chat_item_end(r, item);
    else responses_item_end(r, item);
}

void server_reply_begin(server_reply *r) {
    if (!r->request->stream) return;
    if (chat(r)) chat_begin(r);
    else responses_begin(r);
}

/* A new item; NULL when out of memory (the reply then just loses it). */
static reply_item *add_item(server_reply *r, reply_kind kind, const char *name) {
    if (r->n_items == r->cap_items) {
        size_t cap = r->cap_items ? 2 * r->cap_items : 8;
        reply_item *items = realloc(r->items, cap * sizeof *items);
        if (!items) {
            r->out.failed = true;
            return NULL;
        }
        r->items = items;
        r->cap_items = cap;
    }
    reply_item *item = &r->items[r->n_items];
    memset(item, 0, sizeof *item);
    item->kind = kind;
    if (name && !(item->name = strdup(name))) {
        r->out.failed = true;
        return NULL;
    }
    if (kind == REPLY_CALL) {
        item->call_index = r->n_calls++;
        server_random_id("call_", item->call_id, sizeof item->call_id);
    }
    server_random_id(kind == REPLY_TEXT ? "msg_" : kind == REPLY_REASONING ? "rs_" : "fc_", item->id, sizeof item->id);
    r->n_items++;
    return item;
}

/* Streams what can be shown of a text item: everything when flushing, else
 * all but the bytes that might begin a stop string. Returns 1 when a stop
 * string was found (the text is cut before it). */
static int advance_text(server_reply *r, reply_item *item, bool flush) {
    const server_request *q = r->request;
    gptoss_bytes *t = &item->text;
    if (q->n_stop && t->len) {
        size_t from = item->sent > q->longest_stop - 1 ? item->sent - (q->longest_stop - 1) : 0;
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < q->n_stop; i++) {
            size_t n = strlen(q->stop[i]);
            for (size_t p = from; p + n <= t->len && p < best; p++)
                if (t->data[p] == q->stop[i][0] && !memcmp(t->data + p, q->stop[i], n)) {
                    best = p;
                    break;
                }
        }
        if (best != SIZE_MAX) {
            t->len = best;
            t->data[best] = '\0';
            emit_delta(r, item, t->data + item->sent, best - item->sent);
            item->sent = best;
            r->stopped_by_string = true;
            return 1;
        }
    }
    size_t upto = t->len;
    if (!flush && q->n_stop) {
        upto = t->len > q->longest_stop - 1 ? t->len - (q->longest_stop - 1) : 0;
        if (upto < item->sent) upto = item->sent;
        while (upto > item->sent && ((unsigned char)t->data[upto] & 0xC0) == 0x80) upto--; /* whole characters */
    }
    if (upto > item->sent) {
        emit_delta(r, item, t->data + item->sent, upto - item->sent);
        item->sent = upto;
    }
    return 0;
}

static void end_item(server_reply *r, reply_item *item) {
    if (item->done) return;
    if (item->kind == REPLY_TEXT) advance_text(r, item, true);
    item->done = true;
    emit_end(r, item);
}

static int append(server_reply *r, reply_item *item, const char *text, size_t len) {
    if (!gptoss_bytes_append(&item->text, text, len)) {
        r->out.failed = true;
        return 1;
    }
    if (item->kind == REPLY_TEXT) return advance_text(r, item, false);
    emit_delta(r, item, text, len);
    item->sent = item->text.len;
    return 0;
}

int server_reply_event(server_reply *r, const gptoss_harmony_event *e) {
    reply_item *item = r->current >= 0 ? &r->items[r->current] : NULL;
    switch (e->type) {
    case GPTOSS_HARMONY_EVENT_MESSAGE_START: {
        const gptoss_harmony_message *m = e->message;
        if (item) end_item(r, item);
        reply_kind kind = REPLY_TEXT;
        const char *name = NULL;
        if (m->recipient && m->recipient[0]) {
            kind = REPLY_CALL;
            name = !strncmp(m->recipient, "functions.", 10) ? m->recipient + 10 : m->recipient;
        } else if (m->channel && !strcmp(m->channel, "analysis")) {
            kind = REPLY_REASONING;
        }
        item = add_item(r, kind, name);
        r->current = item ? (int)(item - r->items) : -1;
        if (item) emit_start(r, item);
        return item ? 0 : 1;
    }
    case GPTOSS_HARMONY_EVENT_CONTENT: return item ? append(r, item, e->text, e->len) : 0;
    case GPTOSS_HARMONY_EVENT_MESSAGE_END:
        if (item) end_item(r, item);
        r->current = -1;
        return r->stopped_by_string;
    case GPTOSS_HARMONY_EVENT_STOP: return 0;
    case GPTOSS_HARMONY_EVENT_ERROR: return 1;
    }
    return 0;
}

void server_reply_add_stray(server_reply *r, const char *text, size_t len) {
    if (len == 0 || r->stopped_by_string) return;
    reply_item *item = r->current >= 0 ? &r->items[r->current] : NULL;
    if (!item || item->kind != REPLY_TEXT || item->done) {
        if (item) end_item(r, item);
        if (!(item = add_item(r, REPLY_TEXT, NULL))) return;
        r->current = (int)(item - r->items);
        emit_start(r, item);
    }
    append(r, item, text, len);
    end_item(r, item);
    r->current = -1;
}

void server_reply_finish(server_reply *r, bool length) {
    if (r->current >= 0) end_item(r, &r->items[r->current]);
    r->current = -1;
    r->finish = length && !r->stopped_by_string ? "length" : r->n_calls ? "tool_calls" : "stop";
    if (!r->request->stream) return;
    if (chat(r)) chat_finish(r);
    else responses_finish(r);
}

void server_reply_fail(server_reply *r, const server_error *error) {
    json_out *w = &r->out;
    if (chat(r)) {
        json_raw(w, "data: ");
        json_error(w, error);
        json_raw(w, "\n\ndata: [DONE]\n\n");
        return;
    }
    json_raw(w, "event: error\ndata: {\"type\":\"error\",\"sequence_number\":");
    json_u64(w, r->sequence++);
    json_raw(w, ",\"code\":");
    json_cstring(w, error->code[0] ? error->code : NULL);
    json_raw(w, ",\"message\":");
    json_cstring(w, error->message);
    json_raw(w, ",\"param\":null}\n\n");
}

void server_reply_body(server_reply *r, json_out *w) {
    if (chat(r)) chat_body(r, w);
    else responses_body(r, w);
}
