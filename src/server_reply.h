/* server_reply.h - the assistant's reply as the API sees it, built from the
 * harmony parser's events while a turn runs:
 *
 *   final channel (and commentary without a recipient) -> text (content)
 *   analysis channel                                     -> reasoning
 *   a message to=functions.NAME (or browser.*, python)   -> a tool call
 *
 * Stop strings cut the text (a few bytes are held back while they could
 * still be the start of one). When streaming, every change is written at
 * once as server-sent events (chat.completion.chunk or Responses events)
 * to `out`, which the HTTP side drains; otherwise the whole body is written
 * at the end (server_reply_body). */
#ifndef GPTOSS_SERVER_REPLY_H
#define GPTOSS_SERVER_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harmony.h"
#include "server_json.h"
#include "server_request.h"

typedef enum reply_kind { REPLY_TEXT, REPLY_REASONING, REPLY_CALL } reply_kind;

typedef struct reply_item {
    reply_kind kind;
    gptoss_bytes text; /* content so far; a call's arguments */
    size_t sent;       /* bytes of text already streamed */
    char *name;        /* REPLY_CALL: the function ("get_weather", "browser.search") */
    char id[40];       /* msg_/rs_/fc_ id of a Responses item */
    char call_id[40];  /* REPLY_CALL: "call_..." */
    int call_index;    /* REPLY_CALL: index among the reply's calls */
    bool done;
} reply_item;

typedef struct server_reply {
    const server_request *request;
    char id[48];              /* chatcmpl-... or resp_... */
    int64_t created;
    const char *model;        /* the name to report */
    reply_item *items;
    size_t n_items, cap_items;
    int current;              /* item receiving content, -1: none */
    int n_calls;
    json_out out;             /* SSE bytes not yet taken by the HTTP side */
    unsigned sequence;        /* Responses event sequence_number */
    bool stopped_by_string;   /* a stop string ended the text */
    const char *finish;       /* "stop", "length", "tool_calls" (set by finish) */
    uint32_t prompt_tokens, cached_tokens, completion_tokens, reasoning_tokens;
} server_reply;

void server_reply_init(server_reply *r, const server_request *request, const char *model);
void server_reply_free(server_reply *r);

/* Streaming: the opening events (the role chunk; response.created). */
void server_reply_begin(server_reply *r);

/* Takes one parser event; returns 1 when the turn should stop (a stop string
 * matched, or the parser found the stream malformed). */
int server_reply_event(server_reply *r, const gptoss_harmony_event *event);

/* Adds text the parser could not place (a malformed or unfinished header:
 * the raw decoded tokens) as content, so nothing the model wrote is lost. */
void server_reply_add_stray(server_reply *r, const char *text, size_t len);

/* Ends the reply: `length` says the token limit or context ended it.
 * Streaming: the closing events ([DONE], response.completed). */
void server_reply_finish(server_reply *r, bool length);

/* Streaming: an error event after which the stream ends. */
void server_reply_fail(server_reply *r, const server_error *error);

/* The non-streaming body (chat.completion or response object). */
void server_reply_body(server_reply *r, json_out *w);

/* --- the two formats (server_chat.c, server_responses.c) --- */
void chat_begin(server_reply *r);
void chat_item_start(server_reply *r, reply_item *item);
void chat_delta(server_reply *r, reply_item *item, const char *text, size_t len);
void chat_item_end(server_reply *r, reply_item *item);
void chat_finish(server_reply *r);
void chat_body(server_reply *r, json_out *w);
void chat_usage(server_reply *r, json_out *w);

void responses_begin(server_reply *r);
void responses_item_start(server_reply *r, reply_item *item);
void responses_delta(server_reply *r, reply_item *item, const char *text, size_t len);
void responses_item_end(server_reply *r, reply_item *item);
void responses_finish(server_reply *r);
void responses_body(server_reply *r, json_out *w);

#endif
