/* http_client.c - see http_client.h. */
#include "http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* First "\r\n" (n = 2) or "\r\n\r\n" (n = 4) in data[0..len). */
static char *find_crlf(char *data, size_t len, size_t n) {
    for (size_t i = 0; i + n <= len; i++)
        if (!memcmp(data + i, "\r\n\r\n", n)) return data + i;
    return NULL;
}

static bool grow(char **data, size_t *cap, size_t need) {
    if (need + 1 <= *cap) return true;
    size_t n = *cap ? *cap : 4096;
    while (n < need + 1) n *= 2;
    char *p = realloc(*data, n);
    if (!p) return false;
    *data = p;
    *cap = n;
    return true;
}

static bool append_body(http_stream *s, const char *data, size_t n) {
    if (!grow(&s->body, &s->body_cap, s->body_len + n)) return false;
    memcpy(s->body + s->body_len, data, n);
    s->body_len += n;
    s->body[s->body_len] = '\0';
    return true;
}

static bool send_all(int fd, const char *data, size_t n) {
    while (n) {
        ssize_t k = send(fd, data, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        data += k;
        n -= (size_t)k;
    }
    return true;
}

int http_stream_open(http_stream *s, const char *host, uint16_t port, const char *method, const char *path,
                     const char *extra_headers, const char *body, size_t body_len) {
    memset(s, 0, sizeof *s);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (s->fd < 0) return -1;
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, host ? host : "127.0.0.1", &address.sin_addr);
    if (connect(s->fd, (struct sockaddr *)&address, sizeof address) != 0) return -1;
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n%s%s%s",
                     method, path, port, body ? "Content-Type: application/json\r\n" : "",
                     extra_headers ? extra_headers : "", "");
    if (body) n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", body_len);
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    if (!send_all(s->fd, head, (size_t)n) || (body && !send_all(s->fd, body, body_len))) return -1;
    return 0;
}

/* Decodes what raw holds past raw_pos. */
static bool decode(http_stream *s) {
    if (!s->headers) {
        char *end = find_crlf(s->raw, s->raw_len, 4);
        if (!end) return true;
        size_t len = (size_t)(end - s->raw) + 4;
        if (!(s->headers = malloc(len + 1))) return false;
        memcpy(s->headers, s->raw, len);
        s->headers[len] = '\0';
        sscanf(s->headers, "HTTP/%*s %d", &s->status);
        char value[64];
        s->chunked = http_header(s, "Transfer-Encoding", value, sizeof value) && strstr(value, "chunked");
        s->raw_pos = len;
        if (!grow(&s->body, &s->body_cap, 0)) return false;
        s->body[0] = '\0';
    }
    while (s->raw_pos < s->raw_len) {
        char *at = s->raw + s->raw_pos;
        size_t avail = s->raw_len - s->raw_pos;
        if (!s->chunked) {
            if (!append_body(s, at, avail)) return false;
            s->raw_pos += avail;
        } else if (s->chunk_state == 0) {
            char *eol = find_crlf(at, avail, 2);
            if (!eol) break;
            s->chunk_left = strtoul(at, NULL, 16);
            s->raw_pos += (size_t)(eol - at) + 2;
            if (s->chunk_left == 0) {
                s->done = true; /* trailers ignored */
                s->raw_pos = s->raw_len;
                break;
            }
            s->chunk_state = 1;
        } else if (s->chunk_state == 1) {
            size_t n = avail < s->chunk_left ? avail : s->chunk_left;
            if (!append_body(s, at, n)) return false;
            s->raw_pos += n;
            s->chunk_left -= n;
            if (!s->chunk_left) s->chunk_state = 2;
        } else {
            if (avail < 2) break;
            s->raw_pos += 2;
            s->chunk_state = 0;
        }
    }
    return true;
}

long http_stream_read(http_stream *s, int timeout_ms) {
    if (s->done) return 0;
    struct pollfd p = {s->fd, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0) return -1;
    if (!grow(&s->raw, &s->raw_cap, s->raw_len + 65536)) return -1;
    ssize_t n = recv(s->fd, s->raw + s->raw_len, 65536, 0);
    if (n < 0) return errno == EINTR ? 0 : -1;
    if (n == 0) {
        s->done = true;
        return 0;
    }
    s->raw_len += (size_t)n;
    size_t before = s->body_len;
    if (!decode(s)) return -1;
    return (long)(s->body_len - before);
}

void http_stream_close(http_stream *s) {
    if (s->fd >= 0) close(s->fd);
    free(s->headers);
    free(s->body);
    free(s->raw);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int http_request(http_stream *s, uint16_t port, const char *method, const char *path, const char *extra_headers,
                 const char *body, int timeout_ms) {
    if (http_stream_open(s, NULL, port, method, path, extra_headers, body, body ? strlen(body) : 0) != 0) return -1;
    const double deadline = now_ms() + timeout_ms;
    while (!s->done) {
        int left = (int)(deadline - now_ms());
        if (left <= 0 || http_stream_read(s, left) < 0) return -1;
    }
    return s->headers ? 0 : -1;
}

bool http_header(const http_stream *s, const char *name, char *out, size_t cap) {
    if (!s->headers) return false;
    size_t n = strlen(name);
    for (const char *line = strstr(s->headers, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (!strncasecmp(h, name, n) && h[n] == ':') {
            h += n + 1;
            while (*h == ' ') h++;
            const char *end = strstr(h, "\r\n");
            size_t len = end ? (size_t)(end - h) : strlen(h);
            if (len >= cap) len = cap - 1;
            memcpy(out, h, len);
            out[len] = '\0';
            return true;
        }
    }
    return false;
}
