/* server_http.h - the HTTP side of `gptoss serve` on libmicrohttpd: routing,
 * API key, body size limit, JSON and server-sent-event responses, and
 * noticing clients that leave. One thread per connection (MHD's), so a
 * handler may wait for its request's turn. */
#ifndef GPTOSS_SERVER_HTTP_H
#define GPTOSS_SERVER_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "server_slots.h"
#include "tokenizer.h"

typedef struct server_http_options {
    const char *host;        /* address to bind: "127.0.0.1", "::1", "0.0.0.0", a name */
    uint16_t port;           /* 0: any free port */
    const char *api_key;     /* NULL: no key needed */
    size_t max_body;         /* bytes; larger bodies get 413 */
    int max_connections;
    const char *model_name;  /* the id /v1/models lists */
    int verbose;             /* log every rendered prompt on stderr */
} server_http_options;

typedef struct server_http server_http;

/* Binds and starts serving. Prints why and returns NULL on failure. */
server_http *server_http_start(const server_http_options *options, server_sched *sched, const gptoss_tokenizer *tok);

/* The port actually bound. */
uint16_t server_http_port(const server_http *http);

/* Stops accepting, closes every connection and frees. */
void server_http_stop(server_http *http);

#endif
