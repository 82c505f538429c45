/* server_http.c - libmicrohttpd glue: routes, API key, body limit, JSON and
 * SSE responses, disconnect detection. */
#include "server_http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "turn.h"

/* How often a waiting handler looks at its client's socket. */
#define POLL_MS 200

struct server_http {
    struct MHD_Daemon *daemon;
    server_http_options options;
    server_sched *sched;
    const gptoss_tokenizer *tok;
    int64_t started;
};

typedef enum route {
    ROUTE_NONE,
    ROUTE_HEALTH,
    ROUTE_MODELS,
    ROUTE_MODEL,  /* /v1/models/{id} */
    ROUTE_CHAT,
    ROUTE_RESPONSES,
} route;

/* Per-request state (MHD's con_cls). */
typedef struct http_request {
    route route;
    gptoss_bytes body;
    bool too_large;
    server_job *job;
    int fd;
} http_request;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Whether the peer closed its side (or the socket failed). */
static bool client_gone(int fd) {
    if (fd < 0) return false;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return true;
    return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

static void add_common_headers(struct MHD_Response *response) {
    MHD_add_response_header(response, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(response, "Access-Control-Allow-Headers", "Authorization, Content-Type");
    MHD_add_response_header(response, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
}

static enum MHD_Result send_bytes(struct MHD_Connection *c, unsigned status, const char *data, size_t len,
                                  const char *content_type, const char *header, const char *value) {
    struct MHD_Response *response = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!response) return MHD_NO;
    add_common_headers(response);
    if (content_type) MHD_add_response_header(response, "Content-Type", content_type);
    if (header) MHD_add_response_header(response, header, value);
    enum MHD_Result result = MHD_queue_response(c, status, response);
    MHD_destroy_response(response);
    return result;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_out *w) {
    if (w->failed) {
        json_out_free(w);
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,\"code\":null}}";
        return send_bytes(c, 500, oom, sizeof oom - 1, "application/json", NULL, NULL);
    }
    enum MHD_Result result = send_bytes(c, status, w->buf.data ? w->buf.data : "", w->buf.len, "application/json", NULL, NULL);
    json_out_free(w);
    return result;
}

static enum MHD_Result send_error(struct MHD_Connection *c, const server_error *e, const char *header,
                                  const char *value) {
    json_out w = {0};
    json_error(&w, e);
    enum MHD_Result result = w.failed ? MHD_NO
                                      : send_bytes(c, (unsigned)e->status, w.buf.data, w.buf.len, "application/json",
                                                   header, value);
    json_out_free(&w);
    return result;
}

static enum MHD_Result fail(struct MHD_Connection *c, int status, const char *type, const char *code,
                            const char *message) {
    server_error e;
    server_fail(&e, status, type, code, NULL, "%s", message);
    return send_error(c, &e, NULL, NULL);
}

static route find_route(const server_http *h, const char *url, const char **allowed) {
    *allowed = "GET";
    if (!strcmp(url, "/health")) return ROUTE_HEALTH;
    if (!strcmp(url, "/v1/models")) return ROUTE_MODELS;
    if (!strncmp(url, "/v1/models/", 11)) return ROUTE_MODEL;
    *allowed = "POST";
    if (!strcmp(url, "/v1/chat/completions")) return ROUTE_CHAT;
    if (!strcmp(url, "/v1/responses")) return ROUTE_RESPONSES;
    (void)h;
    return ROUTE_NONE;
}

/* Constant-time comparison of the Authorization header with "Bearer KEY". */
static bool authorized(const server_http *h, struct MHD_Connection *c) {
    if (!h->options.api_key) return true;
    const char *header = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!header || strncasecmp(header, "Bearer ", 7)) return false;
    const char *given = header + 7, *key = h->options.api_key;
    size_t n = strlen(given), m = strlen(key);
    unsigned char diff = n != m;
    for (size_t i = 0; i < m; i++) diff |= (unsigned char)(key[i] ^ given[i < n ? i : 0]);
    return diff == 0;
}

static void model_object(const server_http *h, json_out *w) {
    json_raw(w, "{\"id\":");
    json_cstring(w, h->options.model_name);
    json_raw(w, ",\"object\":\"model\",\"created\":");
    json_i64(w, h->started);
    json_raw(w, ",\"owned_by\":\"gptoss.c\",\"context_length\":");
    json_u64(w, server_sched_context_size(h->sched));
    json_raw(w, "}");
}

static enum MHD_Result handle_get(server_http *h, struct MHD_Connection *c, http_request *rq, const char *url) {
    json_out w = {0};
    if (rq->route == ROUTE_HEALTH) {
        int slots, busy, waiting, capacity;
        server_sched_status(h->sched, &slots, &busy, &waiting, &capacity);
        json_raw(&w, "{\"status\":\"ok\",\"slots\":{\"total\":");
        json_i64(&w, slots);
        json_raw(&w, ",\"busy\":");
        json_i64(&w, busy);
        json_raw(&w, "},\"queue\":{\"waiting\":");
        json_i64(&w, waiting);
        json_raw(&w, ",\"capacity\":");
        json_i64(&w, capacity);
        json_raw(&w, "}}");
    } else if (rq->route == ROUTE_MODELS) {
        json_raw(&w, "{\"object\":\"list\",\"data\":[");
        model_object(h, &w);
        json_raw(&w, "]}");
    } else {
        const char *id = url + strlen("/v1/models/");
        if (strcmp(id, h->options.model_name)) {
            server_error e;
            server_fail(&e, 404, "invalid_request_error", "model_not_found", "model",
                        "The model '%.100s' does not exist; this server has '%.100s'.", id, h->options.model_name);
            return send_error(c, &e, NULL, NULL);
        }
        model_object(h, &w);
    }
    return send_json(c, 200, &w);
}

/* The SSE body: waits for the worker's bytes, notices a client that left. */
static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    http_request *rq = cls;
    server_job *job = rq->job;
    (void)pos;
    pthread_mutex_lock(&job->mu);
    for (;;) {
        size_t avail = job->reply.out.buf.len - job->taken;
        if (avail) {
            size_t n = avail < max ? avail : max;
            memcpy(buf, job->reply.out.buf.data + job->taken, n);
            job->taken += n;
            if (job->taken == job->reply.out.buf.len) job->taken = job->reply.out.buf.len = 0;
            pthread_mutex_unlock(&job->mu);
            return (ssize_t)n;
        }
        if (job->state == JOB_DONE) {
            pthread_mutex_unlock(&job->mu);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_nsec += POLL_MS * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) deadline.tv_sec++, deadline.tv_nsec -= 1000000000L;
        if (pthread_cond_timedwait(&job->cond, &job->mu, &deadline) == ETIMEDOUT && client_gone(rq->fd)) {
            pthread_mutex_unlock(&job->mu);
            atomic_store(&job->cancel, 1); /* the completed callback takes it off the queue */
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
}

/* Blocks until the job is done; false if the client left first. */
static bool wait_done(server_http *h, http_request *rq) {
    server_job *job = rq->job;
    pthread_mutex_lock(&job->mu);
    while (job->state != JOB_DONE) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_nsec += POLL_MS * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) deadline.tv_sec++, deadline.tv_nsec -= 1000000000L;
        if (pthread_cond_timedwait(&job->cond, &job->mu, &deadline) == ETIMEDOUT && client_gone(rq->fd)) {
            pthread_mutex_unlock(&job->mu);
            server_sched_cancel(h->sched, job);
            return false;
        }
    }
    pthread_mutex_unlock(&job->mu);
    return true;
}

/* Renders the request and checks it fits the context; 0 with *e on failure. */
static int prepare(server_http *h, server_job *job, server_error *e) {
    server_request *q = &job->request;
    if (!q->conversation.current_date) {
        char date[11];
        turn_today(date);
        q->conversation.current_date = strdup(date);
    }
    gptoss_harmony_rendering rendering = {0};
    gptoss_status st = gptoss_conversation_render(h->tok, &q->conversation, h->options.verbose, &rendering);
    if (st == GPTOSS_OK && h->options.verbose)
        fprintf(stderr, "prompt (%zu tokens): %.*s\n", rendering.ids.len, (int)rendering.text.len,
                rendering.text.data ? rendering.text.data : "");
    job->prompt = rendering.ids;
    rendering.ids = (gptoss_ids){0};
    gptoss_harmony_rendering_free(&rendering);
    if (st == GPTOSS_ERROR_OUT_OF_MEMORY)
        return server_fail(e, 500, "server_error", NULL, NULL, "out of memory while rendering the conversation");
    if (st != GPTOSS_OK)
        return server_fail(e, 400, "invalid_request_error", "invalid_value", "messages", "Invalid conversation: %s",
                           gptoss_last_error());
    const uint64_t n_ctx = server_sched_context_size(h->sched), prompt = job->prompt.len;
    const char *param = q->api == SERVER_API_CHAT ? "messages" : "input";
    if (prompt >= n_ctx)
        return server_fail(e, 400, "invalid_request_error", "context_length_exceeded", param,
                           "This model's maximum context length is %llu tokens. However, your %s resulted in %llu "
                           "tokens. Please reduce the length of the %s.",
                           (unsigned long long)n_ctx, param, (unsigned long long)prompt, param);
    if (q->max_tokens && prompt + q->max_tokens > n_ctx)
        return server_fail(e, 400, "invalid_request_error", "context_length_exceeded", param,
                           "This model's maximum context length is %llu tokens. However, you requested %llu tokens "
                           "(%llu in the %s, %u in the completion). Please reduce the length of the %s or completion.",
                           (unsigned long long)n_ctx, (unsigned long long)(prompt + q->max_tokens),
                           (unsigned long long)prompt, param, q->max_tokens, param);
    return 1;
}

static enum MHD_Result handle_generate(server_http *h, struct MHD_Connection *c, http_request *rq) {
    server_job *job = server_job_create();
    if (!job) return fail(c, 500, "server_error", NULL, "out of memory");
    rq->job = job;
    server_error e;
    const server_api api = rq->route == ROUTE_CHAT ? SERVER_API_CHAT : SERVER_API_RESPONSES;
    job->received = now();
    if (!server_request_parse(api, rq->body.data ? rq->body.data : "", rq->body.len, &job->request, &e) ||
        !prepare(h, job, &e))
        return send_error(c, &e, NULL, NULL);
    free(rq->body.data); /* no longer needed: keep memory flat while the turn runs */
    rq->body = (gptoss_bytes){0};
    server_reply_init(&job->reply, &job->request, h->options.model_name);
    const bool stream = job->request.stream;
    if (stream) server_reply_begin(&job->reply);
    switch (server_sched_submit(h->sched, job)) {
    case SUBMIT_OK: break;
    case SUBMIT_QUEUE_FULL:
        server_fail(&e, 503, "server_error", "server_overloaded", NULL,
                    "All %s are busy and the queue is full; retry shortly.", "slots");
        return send_error(c, &e, "Retry-After", "2");
    case SUBMIT_STOPPING: return fail(c, 503, "server_error", "server_shutting_down", "The server is shutting down.");
    case SUBMIT_SCRIPT_DONE:
        return fail(c, 500, "server_error", "script_exhausted", "The --script file has no completion left.");
    }
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    rq->fd = info ? info->connect_fd : -1;
    if (stream) {
        struct MHD_Response *response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_reader, rq, NULL);
        if (!response) return MHD_NO;
        add_common_headers(response);
        MHD_add_response_header(response, "Content-Type", "text/event-stream");
        MHD_add_response_header(response, "Cache-Control", "no-cache");
        MHD_add_response_header(response, "X-Accel-Buffering", "no");
        enum MHD_Result result = MHD_queue_response(c, 200, response);
        MHD_destroy_response(response);
        return result;
    }
    if (!wait_done(h, rq)) return MHD_NO; /* the client left: close */
    if (job->failed) return send_error(c, &job->error, NULL, NULL);
    if (atomic_load(&job->cancel)) return fail(c, 503, "server_error", "server_shutting_down", "The server is shutting down.");
    json_out w = {0};
    server_reply_body(&job->reply, &w);
    return send_json(c, 200, &w);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_size, void **con_cls) {
    server_http *h = cls;
    http_request *rq = *con_cls;
    (void)version;
    if (!rq) { /* headers are in: route, authorise, check the announced size */
        if (!(rq = calloc(1, sizeof *rq))) return MHD_NO;
        rq->fd = -1;
        *con_cls = rq;
        if (!strcmp(method, "OPTIONS")) return send_bytes(c, 204, "", 0, NULL, "Allow", "GET, POST, OPTIONS");
        const char *allowed;
        rq->route = find_route(h, url, &allowed);
        if (rq->route == ROUTE_NONE) {
            server_error e;
            server_fail(&e, 404, "invalid_request_error", NULL, NULL, "Invalid URL (%.16s %.200s)", method, url);
            return send_error(c, &e, NULL, NULL);
        }
        if (strcmp(method, allowed) && !(rq->route <= ROUTE_MODEL && !strcmp(method, "HEAD"))) {
            server_error e;
            server_fail(&e, 405, "invalid_request_error", "method_not_allowed", NULL,
                        "Method %.16s is not allowed for %.200s (use %s).", method, url, allowed);
            return send_error(c, &e, "Allow", allowed);
        }
        if (rq->route != ROUTE_HEALTH && !authorized(h, c))
            return fail(c, 401, "invalid_request_error", "invalid_api_key",
                        "Incorrect API key provided. Send it as 'Authorization: Bearer KEY'.");
        const char *length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (length && strtoull(length, NULL, 10) > h->options.max_body) rq->too_large = true;
        if (rq->too_large) goto too_large;
        if (rq->route <= ROUTE_MODEL) return handle_get(h, c, rq, url);
        return MHD_YES; /* now the body */
    }
    if (*upload_size) {
        if (!rq->too_large && rq->body.len + *upload_size > h->options.max_body) {
            rq->too_large = true; /* keep reading (and dropping) so the 413 arrives whole */
            free(rq->body.data);
            rq->body = (gptoss_bytes){0};
        }
        if (!rq->too_large && !gptoss_bytes_append(&rq->body, upload_data, *upload_size)) return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (rq->job) return MHD_YES; /* already answered */
    if (rq->too_large) goto too_large;
    return handle_generate(h, c, rq);
too_large:;
    server_error e;
    server_fail(&e, 413, "invalid_request_error", "request_too_large", NULL,
                "The request body is larger than the limit of %zu bytes.", h->options.max_body);
    return send_error(c, &e, NULL, NULL);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    server_http *h = cls;
    http_request *rq = *con_cls;
    (void)c;
    (void)toe;
    if (!rq) return;
    if (rq->job) {
        pthread_mutex_lock(&rq->job->mu);
        const bool done = rq->job->state == JOB_DONE || rq->job->state == JOB_NEW;
        pthread_mutex_unlock(&rq->job->mu);
        if (!done) server_sched_cancel(h->sched, rq->job); /* the client left mid-stream */
        server_job_release(rq->job);
    }
    free(rq->body.data);
    free(rq);
    *con_cls = NULL;
}

static void log_mhd(void *cls, const char *format, va_list args) {
    (void)cls;
    fprintf(stderr, "http: ");
    vfprintf(stderr, format, args);
}

server_http *server_http_start(const server_http_options *options, server_sched *sched, const gptoss_tokenizer *tok) {
    server_http *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->options = *options;
    h->sched = sched;
    h->tok = tok;
    h->started = (int64_t)time(NULL);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *address = NULL;
    char port[8];
    snprintf(port, sizeof port, "%u", options->port);
    int rc = getaddrinfo(options->host, port, &hints, &address);
    if (rc != 0 || !address) {
        fprintf(stderr, "gptoss serve: cannot use --host %s: %s\n", options->host, gai_strerror(rc));
        free(h);
        return NULL;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                     MHD_USE_ERROR_LOG | (address->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    h->daemon = MHD_start_daemon(flags, options->port, NULL, NULL, handle, h, MHD_OPTION_EXTERNAL_LOGGER, log_mhd,
                                 NULL, MHD_OPTION_NOTIFY_COMPLETED, completed, h, MHD_OPTION_SOCK_ADDR,
                                 address->ai_addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)options->max_connections,
                                 MHD_OPTION_CONNECTION_TIMEOUT, 600u, MHD_OPTION_END);
    freeaddrinfo(address);
    if (!h->daemon) {
        fprintf(stderr, "gptoss serve: cannot listen on %s port %u (in use, or not an address of this machine)\n",
                options->host, options->port);
        free(h);
        return NULL;
    }
    return h;
}

uint16_t server_http_port(const server_http *h) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : h->options.port;
}

void server_http_stop(server_http *h) {
    if (!h) return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
