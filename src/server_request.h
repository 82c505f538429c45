/* server_request.h - the server's request parsing: a body of bytes in, a
 * validated request (conversation, sampling, streaming) or an OpenAI-shaped
 * error out. Pure: no model, no tokenizer, no I/O, so the fuzz target
 * (tests/fuzz/fuzz_request.c) can call it directly. */
#ifndef GPTOSS_SERVER_REQUEST_H
#define GPTOSS_SERVER_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gptoss.h"
#include "harmony.h"
#include "server_json.h"

/* Which endpoint a body came to. */
typedef enum server_api {
    SERVER_API_CHAT,      /* POST /v1/chat/completions */
    SERVER_API_RESPONSES, /* POST /v1/responses */
} server_api;

/* At most this many stop strings, each at most this many bytes. */
enum { SERVER_MAX_STOP = 16, SERVER_MAX_STOP_LEN = 256 };

typedef struct server_request {
    server_api api;
    gptoss_conversation conversation; /* messages, tools, reasoning effort; the date is the caller's */
    bool stream;
    bool include_usage;       /* chat streaming: stream_options.include_usage */
    uint32_t max_tokens;      /* 0: until the context is full */
    gptoss_sampler_params sampling;
    char *stop[SERVER_MAX_STOP];
    size_t n_stop;
    size_t longest_stop;      /* bytes of the longest stop string */
    char *model;              /* as sent, or NULL */
    /* Echoed by the Responses API. */
    char *instructions;
    gptoss_json_value *tools; /* the request's tools array, or NULL */
    char effort[8];           /* low, medium or high */
} server_request;

/* Parses and validates body[0..len) for the endpoint. Returns 1 with *out
 * filled (free with server_request_free), or 0 with *error filled (400 for
 * every problem of the body) and *out empty. */
int server_request_parse(server_api api, const char *body, size_t len, server_request *out, server_error *error);

void server_request_free(server_request *request);

/* --- shared by the two endpoints' parsers (server_request.c) --- */

/* "a string", "an integer", ... for "expected X, but got Y" messages. */
const char *server_json_kind(const gptoss_json_value *value);

/* Appends a zeroed chat message to the conversation; NULL when out of memory. */
gptoss_chat_message *server_conversation_add(gptoss_conversation *conversation, gptoss_chat_role role);

/* malloc'ed copy of s[0..len) with a NUL; NULL when out of memory. */
char *server_strndup(const char *s, size_t len);

/* Validates a function name (OpenAI: ^[a-zA-Z0-9_-]{1,64}$; builtin tool
 * names such as browser.search may also hold dots). */
bool server_valid_function_name(const char *name, size_t len, bool allow_dots);

/* The Responses API body (server_responses_request.c): input, instructions,
 * tools, max_output_tokens, reasoning. */
int server_responses_parse(const gptoss_json_value *body, server_request *out, server_error *error);

/* Reads the fields the two APIs share (model, stream, temperature, top_p,
 * seed, reasoning effort, ...). */
int server_request_common(const gptoss_json_value *body, server_request *out, server_error *error);

#endif
