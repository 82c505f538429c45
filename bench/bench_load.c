/* bench_load.c - `gptoss-bench load`: a load test of `gptoss serve` on
 * loopback. Starts the server on a free port, runs a bounded number of
 * streaming chat requests from concurrent clients (none may be lost),
 * prints latency percentiles, tokens/s and the server's RSS over the run,
 * then measures the prompt cache: time to first token of a second turn
 * (whose prefix the server holds) against a cold request of the same
 * length, on a second server with scripted completions (so the first
 * content token comes right after the prompt). */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "http_client.h"

typedef struct load_options {
    const char *model, *gptoss;
    int clients, requests, max_tokens, parallel, threads;
    int timeout;      /* seconds for the whole load phase */
    int cache_words;  /* length of the prompt-cache test's first user message */
} load_options;

typedef struct server_proc {
    pid_t pid;
    uint16_t port;
} server_proc;

/* Starts `gptoss serve` with extra arguments; its stderr goes to log. */
static int start_server(const load_options *o, const char *const *extra, const char *log, server_proc *out) {
    char threads[16], parallel[16];
    snprintf(threads, sizeof threads, "%d", o->threads);
    snprintf(parallel, sizeof parallel, "%d", o->parallel);
    const char *argv[40] = {o->gptoss, "serve", "--model", o->model, "--port", "0", "--name", "bench",
                            "--parallel", parallel};
    int argc = 10;
    if (o->threads > 0) argv[argc++] = "--threads", argv[argc++] = threads;
    for (int i = 0; extra && extra[i] && argc < 38; i++) argv[argc++] = extra[i];
    argv[argc] = NULL;
    int out_pipe[2];
    if (pipe(out_pipe) != 0) return 0;
    pid_t pid = fork();
    if (pid < 0) return 0;
    if (pid == 0) {
        dup2(out_pipe[1], 1);
        if (!freopen(log, "w", stderr)) _exit(127);
        close(out_pipe[0]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(out_pipe[1]);
    char line[256] = {0};
    ssize_t n = 0, k;
    while (n < (ssize_t)sizeof line - 1 && !strchr(line, '\n') && (k = read(out_pipe[0], line + n, sizeof line - 1 - (size_t)n)) > 0) n += k;
    close(out_pipe[0]);
    unsigned port;
    if (sscanf(line, "http://127.0.0.1:%u", &port) != 1) {
        fprintf(stderr, "load: the server did not start (see %s)\n", log);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return 0;
    }
    *out = (server_proc){pid, (uint16_t)port};
    return 1;
}

static int stop_server(server_proc *s) {
    kill(s->pid, SIGTERM);
    int status = 0;
    waitpid(s->pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Resident set size of a process in MB (Linux /proc), or -1. */
static double rss_mb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    double kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %lf kB", &kb) == 1) break;
    fclose(f);
    return kb < 0 ? -1 : kb / 1024;
}

typedef struct result {
    double latency, first_token; /* seconds; first_token < 0: none */
    int tokens, cached, prompt;
    int ok;
} result;

static long json_number(const char *body, const char *key) {
    const char *at = body ? strstr(body, key) : NULL;
    return at ? strtol(at + strlen(key), NULL, 10) : -1;
}

/* One streaming chat request; first_token: when the first content or
 * reasoning delta arrived. */
static result stream_request(uint16_t port, const char *body, double deadline) {
    result r = {.first_token = -1};
    http_stream h;
    const double start = bench_seconds();
    if (http_stream_open(&h, NULL, port, "POST", "/v1/chat/completions", NULL, body, strlen(body)) == 0) {
        while (!h.done) {
            int left = (int)((deadline - bench_seconds()) * 1000);
            if (left <= 0 || http_stream_read(&h, left) < 0) break;
            if (r.first_token < 0 && h.body &&
                (strstr(h.body, "\"delta\":{\"content\"") || strstr(h.body, "\"delta\":{\"reasoning_content\"")))
                r.first_token = bench_seconds() - start;
        }
        r.latency = bench_seconds() - start;
        const size_t n = h.body ? strlen(h.body) : 0;
        r.ok = h.done && h.status == 200 && n >= 14 && !strcmp(h.body + n - 14, "data: [DONE]\n\n");
        r.tokens = (int)json_number(h.body, "\"completion_tokens\":");
        r.prompt = (int)json_number(h.body, "\"prompt_tokens\":");
        r.cached = (int)json_number(h.body, "\"cached_tokens\":");
    }
    http_stream_close(&h);
    return r;
}

typedef struct load_state {
    const load_options *o;
    uint16_t port;
    int requests;
    atomic_int next;
    result *results;
    double deadline;
} load_state;

static void *client_main(void *arg) {
    load_state *s = arg;
    char body[1024];
    for (int i; (i = atomic_fetch_add(&s->next, 1)) < s->requests;) {
        snprintf(body, sizeof body,
                 "{\"model\":\"bench\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"max_tokens\":%d,"
                 "\"seed\":%d,\"messages\":[{\"role\":\"user\",\"content\":\"Request %d: describe topic %d in "
                 "detail, with examples.\"}]}",
                 s->o->max_tokens, i, i, i * 7919 % 1000);
        s->results[i] = stream_request(s->port, body, s->deadline);
    }
    return NULL;
}

static double percentile(const double *sorted, int n, double p) {
    if (n == 0) return 0;
    int i = (int)(p / 100.0 * (n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

static void print_percentiles(const char *what, double *values, int n) {
    bench_sort(values, (size_t)n);
    printf("%-22s p50 %7.3f s   p90 %7.3f s   p99 %7.3f s   max %7.3f s\n", what, percentile(values, n, 50),
           percentile(values, n, 90), percentile(values, n, 99), n ? values[n - 1] : 0);
}

static int load_phase(const load_options *o, const char *dir) {
    char log[4200], queue[16];
    snprintf(log, sizeof log, "%s/load-server.log", dir);
    snprintf(queue, sizeof queue, "%d", o->clients * 2);
    const char *extra[] = {"--queue", queue, NULL};
    server_proc server;
    if (!start_server(o, extra, log, &server)) return 1;
    /* Warm-up: every slot runs a request or two, so its buffers are in
     * place before the RSS baseline. */
    load_state s = {.o = o, .port = server.port, .requests = 2 * o->parallel,
                    .results = calloc((size_t)(o->requests + 2 * o->parallel), sizeof(result))};
    s.deadline = bench_seconds() + 300;
    pthread_t *threads = calloc((size_t)(o->clients + o->parallel), sizeof *threads);
    for (int i = 0; i < o->parallel; i++) pthread_create(&threads[i], NULL, client_main, &s);
    for (int i = 0; i < o->parallel; i++) pthread_join(threads[i], NULL);
    int warm = 0;
    for (int i = 0; i < s.requests; i++) warm += s.results[i].ok;
    const double rss_start = rss_mb(server.pid);
    double rss_max = rss_start, rss_quarter[4] = {0};
    s.requests = o->requests;
    atomic_store(&s.next, 0);
    memset(s.results, 0, (size_t)o->requests * sizeof(result));
    const double start = bench_seconds();
    s.deadline = start + o->timeout;
    for (int i = 0; i < o->clients; i++) pthread_create(&threads[i], NULL, client_main, &s);
    /* Sample the server's RSS while the clients run (and at each quarter). */
    for (;;) {
        int issued = atomic_load(&s.next);
        double rss = rss_mb(server.pid);
        if (rss > rss_max) rss_max = rss;
        for (int q = 0; q < 4; q++)
            if (!rss_quarter[q] && issued >= (q + 1) * o->requests / 4) rss_quarter[q] = rss;
        if (issued >= o->requests || bench_seconds() > s.deadline) break;
        usleep(250000);
    }
    for (int i = 0; i < o->clients; i++) pthread_join(threads[i], NULL);
    const double wall = bench_seconds() - start;
    const double rss_end = rss_mb(server.pid);
    int ok = 0, tokens = 0;
    double *latency = calloc((size_t)o->requests, sizeof *latency);
    for (int i = 0; i < o->requests; i++) {
        if (!s.results[i].ok) continue;
        latency[ok++] = s.results[i].latency;
        tokens += s.results[i].tokens > 0 ? s.results[i].tokens : 0;
    }
    const int exit_status = stop_server(&server);
    printf("load: %d streaming clients, %d requests of up to %d tokens, %d slots (warm-up: %d of %d ok)\n",
           o->clients, o->requests, o->max_tokens, o->parallel, warm, 2 * o->parallel);
    printf("completed %d of %d (%d lost) in %.2f s; %d completion tokens, %.1f tok/s aggregate, %.2f requests/s\n", ok,
           o->requests, o->requests - ok, wall, tokens, tokens / wall, ok / wall);
    print_percentiles("latency (whole stream)", latency, ok);
    printf("server RSS: %.1f MB after warm-up; %.1f, %.1f, %.1f, %.1f MB as each quarter of the requests was sent; "
           "%.1f MB at the end, %.1f MB at most; server exit status %d\n",
           rss_start, rss_quarter[0], rss_quarter[1], rss_quarter[2], rss_quarter[3], rss_end, rss_max, exit_status);
    free(latency);
    free(threads);
    free(s.results);
    return ok == o->requests && exit_status == 0 ? 0 : 1;
}

/* A long first user message; `variant` changes its first word only. */
static void long_message(char *out, size_t cap, int words, char variant) {
    size_t n = (size_t)snprintf(out, cap, "%c", variant);
    for (int i = 0; i < words && n + 32 < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, " item%d", i % 97);
}

static int cache_phase(const load_options *o, const char *dir) {
    char script[4200], log[4200];
    snprintf(script, sizeof script, "%s/cache-script.jsonl", dir);
    snprintf(log, sizeof log, "%s/cache-server.log", dir);
    FILE *f = fopen(script, "w");
    if (!f) return 1;
    for (int i = 0; i < 64; i++) fprintf(f, "[\"<|channel|>final<|message|>Fine, thanks.<|return|>\"]\n");
    fclose(f);
    const char *extra[] = {"--script", script, NULL};
    server_proc server;
    if (!start_server(o, extra, log, &server)) return 1;
    const size_t cap = (size_t)o->cache_words * 12 + 256;
    char *text = malloc(cap), *body = malloc(cap + 512);
    const double deadline = bench_seconds() + 300;
    enum { ROUNDS = 3 };
    double warm[ROUNDS], cold[ROUNDS];
    int warm_prompt = 0, warm_cached = 0, cold_prompt = 0, cold_cached = 0, failures = 0;
    for (int round = 0; round < ROUNDS; round++) {
        /* Turn 1 of conversation A, then its turn 2 (warm); a conversation
         * B of the same shape and length, never seen (cold). */
        const char a = (char)('A' + 2 * round), b = (char)('B' + 2 * round);
        long_message(text, cap, o->cache_words, a);
        snprintf(body, cap + 512, "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}", text);
        failures += !stream_request(server.port, body, deadline).ok;
        snprintf(body, cap + 512,
                 "{\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\","
                 "\"content\":\"%s\"},{\"role\":\"assistant\",\"content\":\"Fine, thanks.\"},{\"role\":\"user\","
                 "\"content\":\"And the next one?\"}]}",
                 text);
        result r = stream_request(server.port, body, deadline);
        failures += !r.ok;
        warm[round] = r.first_token, warm_prompt = r.prompt, warm_cached = r.cached;
        long_message(text, cap, o->cache_words, b);
        snprintf(body, cap + 512,
                 "{\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\","
                 "\"content\":\"%s\"},{\"role\":\"assistant\",\"content\":\"Fine, thanks.\"},{\"role\":\"user\","
                 "\"content\":\"And the next one?\"}]}",
                 text);
        r = stream_request(server.port, body, deadline);
        failures += !r.ok;
        cold[round] = r.first_token, cold_prompt = r.prompt, cold_cached = r.cached;
    }
    const int exit_status = stop_server(&server);
    bench_sort(warm, ROUNDS);
    bench_sort(cold, ROUNDS);
    printf("prompt cache: second turn %d prompt tokens (%d cached): time to first token %.3f s (median of %d)\n",
           warm_prompt, warm_cached, warm[ROUNDS / 2], ROUNDS);
    printf("              cold request %d prompt tokens (%d cached): time to first token %.3f s; %.1fx faster warm\n",
           cold_prompt, cold_cached, cold[ROUNDS / 2], warm[ROUNDS / 2] > 0 ? cold[ROUNDS / 2] / warm[ROUNDS / 2] : 0);
    free(text);
    free(body);
    return failures == 0 && exit_status == 0 ? 0 : 1;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: gptoss-bench load --model DIR [options]\n\n"
            "Load test of `gptoss serve` on 127.0.0.1 (it is started and stopped here): concurrent\n"
            "streaming clients, latency percentiles, tokens/s, the server's RSS; then the prompt cache\n"
            "(time to first token of a second turn vs a cold request of the same length).\n\n"
            "  --gptoss PATH      the gptoss binary (default: next to gptoss-bench)\n"
            "  --clients N        concurrent streaming clients (default 8)\n"
            "  --requests N       requests in all (default 200)\n"
            "  --max-tokens N     tokens per completion (default 16)\n"
            "  --parallel N       server slots (default 4)\n"
            "  --threads N        server compute threads (default: all cores)\n"
            "  --timeout S        bound on the load phase in seconds (default 900)\n"
            "  --cache-words N    words in the prompt-cache test's first message (default 1500)\n"
            "  --no-cache         skip the prompt-cache measurement\n");
}

int bench_load_main(int argc, char **argv) {
    load_options o = {.clients = 8, .requests = 200, .max_tokens = 16, .parallel = 4, .timeout = 900,
                      .cache_words = 1500};
    int cache = 1;
    static char default_gptoss[4096];
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int *number = !strcmp(arg, "--clients") ? &o.clients : !strcmp(arg, "--requests") ? &o.requests
                    : !strcmp(arg, "--max-tokens") ? &o.max_tokens : !strcmp(arg, "--parallel") ? &o.parallel
                    : !strcmp(arg, "--threads") ? &o.threads : !strcmp(arg, "--timeout") ? &o.timeout
                    : !strcmp(arg, "--cache-words") ? &o.cache_words : NULL;
        if (!strcmp(arg, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(arg, "--no-cache")) {
            cache = 0;
        } else if ((number || !strcmp(arg, "--model") || !strcmp(arg, "--gptoss")) && i + 1 < argc) {
            const char *value = argv[++i];
            if (!strcmp(arg, "--model")) o.model = value;
            else if (!strcmp(arg, "--gptoss")) o.gptoss = value;
            else if ((*number = atoi(value)) <= 0) {
                fprintf(stderr, "load: %s needs a positive integer\n", arg);
                return 2;
            }
        } else {
            fprintf(stderr, "load: unknown or incomplete option '%s'\n", arg);
            usage(stderr);
            return 2;
        }
    }
    if (!o.model) {
        usage(stderr);
        return 2;
    }
    if (!o.gptoss) { /* next to this binary */
        ssize_t n = readlink("/proc/self/exe", default_gptoss, sizeof default_gptoss - 8);
        if (n <= 0) n = (ssize_t)snprintf(default_gptoss, sizeof default_gptoss - 8, "%s", argv[0]);
        default_gptoss[n] = '\0';
        char *slash = strrchr(default_gptoss, '/');
        snprintf(slash ? slash + 1 : default_gptoss, sizeof default_gptoss - (size_t)(slash ? slash + 1 - default_gptoss : 0), "gptoss");
        o.gptoss = default_gptoss;
    }
    char dir[] = "/tmp/gptoss-load-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    signal(SIGPIPE, SIG_IGN);
    int status = load_phase(&o, dir);
    if (cache) status |= cache_phase(&o, dir);
    fprintf(stderr, "load: server logs in %s\n", dir);
    return status;
}
