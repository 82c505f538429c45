/* http_client.h - a minimal HTTP/1.1 client over loopback sockets for the
 * server tests and the load benchmark: one request per connection
 * (Connection: close), incremental reads, chunked transfer decoding. No
 * Criterion dependency (bench/ links it too). */
#ifndef GPTOSS_HTTP_CLIENT_H
#define GPTOSS_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct http_stream {
    int fd;
    int status;          /* HTTP status once the headers are in; 0 before */
    char *headers;       /* the raw header block (NUL-terminated) once in */
    char *body;          /* decoded body so far (NUL-terminated) */
    size_t body_len, body_cap;
    /* decoder state */
    char *raw;
    size_t raw_len, raw_cap, raw_pos;
    bool chunked, done;
    size_t chunk_left;   /* bytes left in the current chunk */
    int chunk_state;     /* 0: size line next, 1: data, 2: CRLF after data */
} http_stream;

/* Connects to host:port (127.0.0.1 when host is NULL) and sends the request;
 * extra_headers is "Name: value\r\n"... or NULL. Returns 0, or -1 (errno). */
int http_stream_open(http_stream *s, const char *host, uint16_t port, const char *method, const char *path,
                     const char *extra_headers, const char *body, size_t body_len);

/* Waits up to timeout_ms for more bytes and decodes them. Returns the body
 * bytes added (possibly 0 when only headers arrived), 0 with s->done at the
 * end of the response, or -1 on a timeout or error. */
long http_stream_read(http_stream *s, int timeout_ms);

/* Closes the socket (possibly mid-response) and frees everything. */
void http_stream_close(http_stream *s);

/* One whole request: reads until the end or timeout_ms. Returns 0 on
 * success (s->status, s->body filled; close it afterwards). */
int http_request(http_stream *s, uint16_t port, const char *method, const char *path, const char *extra_headers,
                 const char *body, int timeout_ms);

/* Value of a response header (case-insensitive name) copied into out, or
 * false. */
bool http_header(const http_stream *s, const char *name, char *out, size_t cap);

#endif
