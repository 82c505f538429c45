/* cmd_serve.c - `gptoss serve`: an OpenAI-compatible HTTP server (chat
 * completions, Responses, models, health) for machines without GPUs. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "options.h"
#include "server_http.h"
#include "server_script.h"
#include "server_slots.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: gptoss serve --model DIR [options]\n\n"
            "Serves the model over HTTP with the OpenAI API: POST /v1/chat/completions and\n"
            "POST /v1/responses (plain and streaming), GET /v1/models, GET /health.\n"
            "Prints the server's URL on stdout once it listens; Ctrl-C or SIGTERM stops it.\n\n"
            "  --host ADDR        address to listen on (default 127.0.0.1)\n"
            "  --port N           port (default 8080; 0 picks a free one)\n"
            "  --parallel N       requests generated at once, each with its own KV cache (default 2)\n"
            "  --queue N          requests waiting beyond those; more get 503 (default 4 x --parallel)\n"
            "  --api-key KEY      require 'Authorization: Bearer KEY' (default: $GPTOSS_API_KEY, else none)\n"
            "  --name NAME        the model id reported (default: the model folder's name)\n"
            "  --max-body BYTES   largest request body (default 4194304); larger get 413\n"
            "  --tokenizer FILE   tokenizer.json (default: DIR/tokenizer.json)\n"
            "  --script FILE      test mode: completions from FILE (JSONL, one array of token ids\n"
            "                     or strings per request, in order) instead of sampling\n"
            "%s"
            "  --ctx N is per slot.\n",
            run_options_help);
}

/* The last component of a path, without trailing slashes. */
static char *base_name(const char *path) {
    size_t end = strlen(path);
    while (end > 1 && path[end - 1] == '/') end--;
    size_t start = end;
    while (start > 0 && path[start - 1] != '/') start--;
    char *name = malloc(end - start + 1);
    if (name) {
        memcpy(name, path + start, end - start);
        name[end - start] = '\0';
    }
    return name;
}

static int parse_count(int argc, char **argv, int *i, int min, int max, int *out) {
    const char *name = argv[*i], *value = option_value(argc, argv, i);
    uint32_t n;
    if (!value || !parse_u32(value, &n) || (int64_t)n < min || n > (uint32_t)max) {
        fprintf(stderr, "gptoss serve: %s must be an integer from %d to %d\n", name, min, max);
        return 0;
    }
    *out = (int)n;
    return 1;
}

int cmd_serve(int argc, char **argv) {
    /* Signals go to the main thread's sigwait; every thread started later inherits the mask. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    run_options options = run_options_default(GPTOSS_PRECISION_FAST);
    server_http_options http = {.host = "127.0.0.1", .port = 8080, .max_body = 4u << 20};
    server_sched_options sched = {.parallel = 2, .queue = -1};
    const char *tokenizer_path = NULL, *script_path = NULL, *name = NULL;
    http.api_key = getenv("GPTOSS_API_KEY");
    if (http.api_key && !*http.api_key) http.api_key = NULL;
    for (int i = 1; i < argc; i++) {
        int r = parse_run_option(argc, argv, &i, &options);
        if (r < 0) return 2;
        if (r > 0) continue;
        const char *arg = argv[i];
        int port = 0, max_body = 0;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(arg, "--host")) {
            if (!(http.host = option_value(argc, argv, &i))) return 2;
        } else if (!strcmp(arg, "--port")) {
            if (!parse_count(argc, argv, &i, 0, 65535, &port)) return 2;
            http.port = (uint16_t)port;
        } else if (!strcmp(arg, "--parallel")) {
            if (!parse_count(argc, argv, &i, 1, 256, &sched.parallel)) return 2;
        } else if (!strcmp(arg, "--queue")) {
            if (!parse_count(argc, argv, &i, 1, 65536, &sched.queue)) return 2;
        } else if (!strcmp(arg, "--max-body")) {
            if (!parse_count(argc, argv, &i, 1024, 1 << 30, &max_body)) return 2;
            http.max_body = (size_t)max_body;
        } else if (!strcmp(arg, "--api-key")) {
            if (!(http.api_key = option_value(argc, argv, &i))) return 2;
        } else if (!strcmp(arg, "--name")) {
            if (!(name = option_value(argc, argv, &i))) return 2;
        } else if (!strcmp(arg, "--tokenizer")) {
            if (!(tokenizer_path = option_value(argc, argv, &i))) return 2;
        } else if (!strcmp(arg, "--script")) {
            if (!(script_path = option_value(argc, argv, &i))) return 2;
        } else {
            fprintf(stderr, "gptoss serve: unknown option '%s'\n", arg);
            usage(stderr);
            return 2;
        }
    }
    if (!options.model_dir) {
        fprintf(stderr, "gptoss serve: --model DIR is required\n");
        usage(stderr);
        return 2;
    }
    if (sched.queue < 0) sched.queue = 4 * sched.parallel;

    gptoss_model *model = NULL;
    gptoss_context *ctx = NULL;
    if (!open_model("serve", &options, &model, &ctx)) return 1;
    gptoss_tokenizer *tok = NULL;
    gptoss_status st = tokenizer_path ? gptoss_tokenizer_load(tokenizer_path, &tok)
                                      : gptoss_tokenizer_load_model_dir(options.model_dir, &tok);
    if (st != GPTOSS_OK) {
        fprintf(stderr, "gptoss serve: %s\n", gptoss_last_error());
        gptoss_context_free(ctx);
        gptoss_model_free(model);
        return 1;
    }
    server_script script = {0};
    char error[512];
    int status = 1;
    char *model_name = name ? strdup(name) : base_name(options.model_dir);
    server_sched *scheduler = NULL;
    server_http *server = NULL;
    if (script_path && !server_script_load(script_path, tok, &script, error, sizeof error)) {
        fprintf(stderr, "gptoss serve: --script %s\n", error);
        gptoss_context_free(ctx);
        goto done;
    }
    sched.script = script_path ? &script : NULL;
    sched.threads = options.threads;
    sched.model_name = model_name;
    scheduler = server_sched_start(model, ctx, options.ctx, tok, &sched);
    if (!scheduler) goto done;
    http.model_name = model_name;
    http.verbose = options.verbose;
    http.max_connections = sched.parallel + sched.queue + 64;
    if (!(server = server_http_start(&http, scheduler, tok))) goto done;
    const uint16_t port = server_http_port(server);
    const char *host = http.host;
    const int v6 = strchr(host, ':') != NULL;
    fprintf(stderr, "serving %s on http://%s%s%s:%u: %d slots of %u tokens, queue %d%s%s\n", model_name,
            v6 ? "[" : "", host, v6 ? "]" : "", port, sched.parallel, server_sched_context_size(scheduler),
            sched.queue, http.api_key ? ", API key required" : "", script_path ? ", scripted completions" : "");
    printf("http://%s%s%s:%u\n", v6 ? "[" : "", host, v6 ? "]" : "", port);
    fflush(stdout);
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    fprintf(stderr, "gptoss serve: %s, stopping\n", signal_number == SIGINT ? "interrupted" : "terminated");
    status = 0;
done:
    if (scheduler) server_sched_cancel_all(scheduler);
    if (server) {
        /* Let the handlers woken by the cancellation send their last bytes
         * (503s, closing events) before every connection is closed. */
        struct timespec grace = {0, 300 * 1000000L};
        nanosleep(&grace, NULL);
    }
    server_http_stop(server);
    server_sched_stop(scheduler);
    server_script_free(&script);
    free(model_name);
    gptoss_tokenizer_free(tok);
    gptoss_model_free(model);
    return status;
}
