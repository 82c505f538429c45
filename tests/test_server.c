/* test_server.c - `gptoss serve` over loopback HTTP with the small random
 * model (real vocabulary and tokenizer): health and models, OpenAI-shaped
 * errors (malformed JSON, wrong types, unknown roles, 413, 401, 404, 405,
 * n > 1, logprobs, context overflow), plain and streaming completions, the
 * prompt cache, a disconnecting client freeing its slot, the full queue's
 * 503, the scripted mode's mapping of harmony to the API, and a clean exit
 * on SIGTERM (under ASan that includes no leaks). */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"
#include "test_support.h"

static char *model_dir;

static void make_model(void) { model_dir = make_mini_vocab_model(7); }

static void remove_model(void) {
    remove_dir(model_dir);
    free(model_dir);
}

TestSuite(server, .init = make_model, .fini = remove_model, .timeout = 240);

typedef struct server {
    pid_t pid;
    uint16_t port;
    char log[4200]; /* its stderr */
} server;

/* Starts `gptoss serve --model DIR --port 0 --name mini ARGS...` and reads
 * the URL it prints. */
static server start(const char *const *args) {
    server s = {0};
    snprintf(s.log, sizeof s.log, "%s/serve-%d.log", model_dir, (int)getpid());
    char *argv[32] = {GPTOSS_BINARY, "serve", "--model", model_dir, "--port", "0", "--name", "mini", "--threads", "1"};
    int argc = 10;
    for (int i = 0; args && args[i] && argc < 31; i++) argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    int out[2];
    cr_assert_eq(pipe(out), 0);
    s.pid = fork();
    cr_assert(s.pid >= 0);
    if (s.pid == 0) {
        dup2(out[1], 1);
        int err = open(s.log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(err, 2);
        close(out[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(out[1]);
    char line[256] = {0};
    size_t len = 0;
    while (len < sizeof line - 1 && !strchr(line, '\n')) {
        struct pollfd p = {out[0], POLLIN, 0};
        if (poll(&p, 1, 60000) <= 0) break;
        ssize_t n = read(out[0], line + len, sizeof line - 1 - len);
        if (n <= 0) break;
        len += (size_t)n;
    }
    close(out[0]);
    unsigned port = 0;
    cr_assert(sscanf(line, "http://127.0.0.1:%u", &port) == 1, "no URL on stdout: '%s'", line);
    s.port = (uint16_t)port;
    return s;
}

/* SIGTERM, and the exit status must be 0 (LeakSanitizer makes it non-zero on a leak). */
static void stop(server *s) {
    kill(s->pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 300 && waitpid(s->pid, &status, WNOHANG) == 0; i++) usleep(100000);
    if (waitpid(s->pid, &status, WNOHANG) == 0 && kill(s->pid, 0) == 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &status, 0);
        cr_assert_fail("the server did not stop on SIGTERM");
    }
    size_t size;
    char *log = read_whole_file(s->log, &size);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "server exit status %d; log:\n%s", status, log);
    free(log);
}

/* A request; returns the parsed JSON body (NULL if not JSON) and the status. */
static cJSON *call(const server *s, const char *method, const char *path, const char *headers, const char *body,
                   int *status) {
    http_stream h;
    int r = http_request(&h, s->port, method, path, headers, body, 120000);
    cr_assert_eq(r, 0, "%s %s: no response", method, path);
    *status = h.status;
    cJSON *json = cJSON_Parse(h.body);
    http_stream_close(&h);
    return json;
}

static const char *str_at(const cJSON *json, const char *path) {
    /* "a.b.0.c": objects by key, arrays by index */
    char copy[256];
    snprintf(copy, sizeof copy, "%s", path);
    const cJSON *at = json;
    for (char *part = strtok(copy, "."); part && at; part = strtok(NULL, "."))
        at = (*part >= '0' && *part <= '9') ? cJSON_GetArrayItem(at, atoi(part)) : cJSON_GetObjectItem(at, part);
    return at && cJSON_IsString(at) ? at->valuestring : NULL;
}

static double num_at(const cJSON *json, const char *path) {
    char copy[256];
    snprintf(copy, sizeof copy, "%s", path);
    const cJSON *at = json;
    for (char *part = strtok(copy, "."); part && at; part = strtok(NULL, "."))
        at = (*part >= '0' && *part <= '9') ? cJSON_GetArrayItem(at, atoi(part)) : cJSON_GetObjectItem(at, part);
    return at && cJSON_IsNumber(at) ? at->valuedouble : -1;
}

/* Expects an OpenAI error of this status (and param, when given). */
static void expect_error(const server *s, const char *method, const char *path, const char *headers, const char *body,
                         int want, const char *param) {
    int status;
    cJSON *json = call(s, method, path, headers, body, &status);
    cr_expect_eq(status, want, "%s %s %.80s: status %d, want %d", method, path, body ? body : "", status, want);
    cr_expect(json && str_at(json, "error.message") && str_at(json, "error.type"), "not an OpenAI error: %.80s",
              body ? body : path);
    if (param) cr_expect(json && str_at(json, "error.param") && !strcmp(str_at(json, "error.param"), param),
                         "param of %.80s: %s", body, json ? str_at(json, "error.param") : "(none)");
    cJSON_Delete(json);
}

static void health(const server *s, int *busy, int *waiting) {
    int status;
    cJSON *json = call(s, "GET", "/health", NULL, NULL, &status);
    cr_assert_eq(status, 200);
    *busy = (int)num_at(json, "slots.busy");
    *waiting = (int)num_at(json, "queue.waiting");
    cJSON_Delete(json);
}

/* Waits (up to 20 s) until /health shows busy and waiting. */
static bool wait_health(const server *s, int busy, int waiting) {
    for (int i = 0; i < 200; i++) {
        int b, w;
        health(s, &b, &w);
        if (b == busy && w == waiting) return true;
        usleep(100000);
    }
    return false;
}

#define USER_HI "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"

Test(server, health_models_and_routes) {
    server s = start(NULL);
    int status;
    cJSON *json = call(&s, "GET", "/health", NULL, NULL, &status);
    cr_expect_eq(status, 200);
    cr_expect_str_eq(str_at(json, "status"), "ok");
    cJSON_Delete(json);
    json = call(&s, "GET", "/v1/models", NULL, NULL, &status);
    cr_expect_eq(status, 200);
    cr_expect_str_eq(str_at(json, "object"), "list");
    cr_expect_str_eq(str_at(json, "data.0.id"), "mini");
    cJSON_Delete(json);
    json = call(&s, "GET", "/v1/models/mini", NULL, NULL, &status);
    cr_expect_eq(status, 200);
    cJSON_Delete(json);
    expect_error(&s, "GET", "/v1/models/other", NULL, NULL, 404, "model");
    expect_error(&s, "GET", "/v1/nothing", NULL, NULL, 404, NULL);
    expect_error(&s, "GET", "/v1/chat/completions", NULL, NULL, 405, NULL);
    expect_error(&s, "DELETE", "/v1/models", NULL, NULL, 405, NULL);
    stop(&s);
}

Test(server, bad_requests_get_openai_errors) {
    const char *args[] = {"--ctx", "256", "--max-body", "65536", NULL};
    server s = start(args);
    const char *chat = "/v1/chat/completions";
    expect_error(&s, "POST", chat, NULL, "", 400, NULL);
    expect_error(&s, "POST", chat, NULL, "{\"messages\": [", 400, NULL);
    expect_error(&s, "POST", chat, NULL, "[1, 2]", 400, NULL);
    expect_error(&s, "POST", chat, NULL, "{}", 400, "messages");
    expect_error(&s, "POST", chat, NULL, "{\"messages\": \"hi\"}", 400, "messages");
    expect_error(&s, "POST", chat, NULL, "{\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}", 400,
                 "messages[0].role");
    expect_error(&s, "POST", chat, NULL, "{\"messages\":[{\"role\":\"user\",\"content\":7}]}", 400, "messages[0].content");
    expect_error(&s, "POST", chat, NULL, USER_HI ",\"temperature\":\"hot\"}", 400, "temperature");
    expect_error(&s, "POST", chat, NULL, USER_HI ",\"max_tokens\":-3}", 400, "max_tokens");
    expect_error(&s, "POST", chat, NULL, USER_HI ",\"stream\":\"yes\"}", 400, "stream");
    expect_error(&s, "POST", chat, NULL, USER_HI ",\"n\":2}", 400, "n");
    expect_error(&s, "POST", chat, NULL, USER_HI ",\"logprobs\":true}", 400, "logprobs");
    expect_error(&s, "POST", chat, NULL, USER_HI ",\"reasoning_effort\":\"extreme\"}", 400, "reasoning_effort");
    expect_error(&s, "POST", chat, NULL, USER_HI ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"bad name\"}}]}",
                 400, "tools[0]");
    expect_error(&s, "POST", "/v1/responses", NULL, "{\"input\": 5}", 400, "input");
    expect_error(&s, "POST", "/v1/responses", NULL, "{\"input\":\"x\",\"previous_response_id\":\"resp_1\"}", 400,
                 "previous_response_id");
    /* Context overflow: 400 with the numbers. */
    char *long_body = malloc(20000);
    strcpy(long_body, "{\"messages\":[{\"role\":\"user\",\"content\":\"");
    for (int i = 0; i < 400; i++) strcat(long_body, "word ");
    strcat(long_body, "\"}]}");
    int status;
    cJSON *json = call(&s, "POST", chat, NULL, long_body, &status);
    cr_expect_eq(status, 400);
    cr_expect_str_eq(str_at(json, "error.code"), "context_length_exceeded");
    cr_expect(strstr(str_at(json, "error.message"), "256 tokens"), "%s", str_at(json, "error.message"));
    cJSON_Delete(json);
    expect_error(&s, "POST", chat, NULL, USER_HI ",\"max_tokens\":250}", 400, "messages");
    /* A body over --max-body: 413 (announced size). */
    char *big = malloc(70001);
    memset(big, ' ', 70000);
    big[70000] = '\0';
    expect_error(&s, "POST", chat, NULL, big, 413, NULL);
    free(big);
    free(long_body);
    /* Keys clients commonly send are accepted. */
    json = call(&s, "POST", chat, NULL,
                USER_HI ",\"max_tokens\":2,\"stream_options\":{\"include_usage\":true},\"tool_choice\":\"auto\","
                        "\"parallel_tool_calls\":false,\"user\":\"u1\",\"metadata\":{\"a\":\"b\"},\"store\":false,"
                        "\"frequency_penalty\":0,\"presence_penalty\":0,\"response_format\":{\"type\":\"text\"}}",
                &status);
    cr_expect_eq(status, 200, "common keys refused: %s", json ? str_at(json, "error.message") : "?");
    cJSON_Delete(json);
    stop(&s);
}

Test(server, reasoning_effort_changes_the_system_message) {
    const char *args[] = {"--verbose", NULL};
    server s = start(args);
    int status;
    cJSON *json = call(&s, "POST", "/v1/chat/completions", NULL, USER_HI ",\"max_tokens\":1,\"reasoning_effort\":\"high\"}",
                       &status);
    cr_expect_eq(status, 200);
    cJSON_Delete(json);
    json = call(&s, "POST", "/v1/chat/completions", NULL, USER_HI ",\"max_tokens\":1,\"reasoning\":{\"effort\":\"low\"}}",
                &status);
    cr_expect_eq(status, 200);
    cJSON_Delete(json);
    json = call(&s, "POST", "/v1/responses", NULL,
                "{\"input\":\"hi\",\"instructions\":\"Answer in French.\",\"max_output_tokens\":1,"
                "\"tools\":[{\"type\":\"function\",\"name\":\"lookup\",\"description\":\"Look it up\"}]}",
                &status);
    cr_expect_eq(status, 200);
    cJSON_Delete(json);
    stop(&s);
    size_t size;
    char *log = read_whole_file(s.log, &size);
    cr_expect(strstr(log, "Reasoning: high"), "%s", log);
    cr_expect(strstr(log, "Reasoning: low"), "%s", log);
    cr_expect(strstr(log, "<|start|>developer<|message|># Instructions\n\nAnswer in French."), "%s", log);
    cr_expect(strstr(log, "type lookup = () => any;"), "%s", log);
    free(log);
}

Test(server, api_key) {
    const char *args[] = {"--api-key", "sesame", NULL};
    server s = start(args);
    expect_error(&s, "GET", "/v1/models", NULL, NULL, 401, NULL);
    expect_error(&s, "GET", "/v1/models", "Authorization: Bearer wrong\r\n", NULL, 401, NULL);
    expect_error(&s, "POST", "/v1/chat/completions", NULL, USER_HI "}", 401, NULL);
    int status;
    cJSON *json = call(&s, "GET", "/v1/models", "Authorization: Bearer sesame\r\n", NULL, &status);
    cr_expect_eq(status, 200);
    cJSON_Delete(json);
    json = call(&s, "GET", "/health", NULL, NULL, &status);
    cr_expect_eq(status, 200, "health needs no key");
    cJSON_Delete(json);
    stop(&s);
}

Test(server, completions_plain_streaming_and_prompt_cache) {
    server s = start(NULL);
    int status;
    cJSON *json = call(&s, "POST", "/v1/chat/completions", NULL,
                       "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story about a lighthouse keeper.\"}],"
                       "\"max_tokens\":4,\"seed\":3}",
                       &status);
    cr_assert_eq(status, 200);
    cr_expect_str_eq(str_at(json, "object"), "chat.completion");
    cr_expect_str_eq(str_at(json, "choices.0.finish_reason"), "length");
    cr_expect_eq(num_at(json, "usage.completion_tokens"), 4);
    const double prompt1 = num_at(json, "usage.prompt_tokens");
    cr_expect_gt(prompt1, 20);
    const char *answer = str_at(json, "choices.0.message.content");
    char content[512];
    snprintf(content, sizeof content, "%s", answer ? answer : "");
    cJSON_Delete(json);
    /* Second turn: the conversation so far is re-sent; its prefix comes from the cache. */
    cJSON *body = cJSON_Parse("{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story about a lighthouse "
                              "keeper.\"},{\"role\":\"assistant\"},{\"role\":\"user\",\"content\":\"And then?\"}],"
                              "\"max_tokens\":4}");
    cJSON_AddStringToObject(cJSON_GetArrayItem(cJSON_GetObjectItem(body, "messages"), 1), "content", content);
    char *text = cJSON_PrintUnformatted(body);
    json = call(&s, "POST", "/v1/chat/completions", NULL, text, &status);
    cr_assert_eq(status, 200);
    const double cached = num_at(json, "usage.prompt_tokens_details.cached_tokens");
    cr_expect_geq(cached, prompt1 - 1, "second turn: %g cached of %g (first prompt %g)", cached,
                  num_at(json, "usage.prompt_tokens"), prompt1);
    cJSON_Delete(json);
    free(text);
    cJSON_Delete(body);
    /* Streaming: chunks, a finish reason, usage, [DONE]. */
    http_stream h;
    cr_assert_eq(http_request(&h, s.port, "POST", "/v1/chat/completions", NULL,
                              USER_HI ",\"stream\":true,\"max_tokens\":3,\"stream_options\":{\"include_usage\":true}}",
                              120000),
                 0);
    cr_expect_eq(h.status, 200);
    char type[64];
    cr_expect(http_header(&h, "Content-Type", type, sizeof type) && !strcmp(type, "text/event-stream"));
    cr_expect(strstr(h.body, "\"object\":\"chat.completion.chunk\""), "%s", h.body);
    cr_expect(strstr(h.body, "\"finish_reason\":\"length\""), "%s", h.body);
    cr_expect(strstr(h.body, "\"completion_tokens\":3"), "%s", h.body);
    const size_t n = strlen(h.body);
    cr_expect(n > 16 && !strcmp(h.body + n - 14, "data: [DONE]\n\n"), "%s", h.body);
    http_stream_close(&h);
    /* Responses, plain and streaming. */
    json = call(&s, "POST", "/v1/responses", NULL, "{\"input\":\"hi\",\"max_output_tokens\":3}", &status);
    cr_expect_eq(status, 200);
    cr_expect_str_eq(str_at(json, "object"), "response");
    cr_expect_str_eq(str_at(json, "status"), "incomplete");
    cJSON_Delete(json);
    cr_assert_eq(http_request(&h, s.port, "POST", "/v1/responses", NULL,
                              "{\"input\":\"hi\",\"max_output_tokens\":3,\"stream\":true}", 120000),
                 0);
    cr_expect(strstr(h.body, "event: response.created\n"), "%s", h.body);
    cr_expect(strstr(h.body, "event: response.incomplete\n"), "%s", h.body);
    http_stream_close(&h);
    stop(&s);
}

/* Opens a long streaming request and waits for its first bytes. */
static void open_long_stream(const server *s, http_stream *h) {
    const char *body = USER_HI ",\"stream\":true,\"max_tokens\":3500}";
    cr_assert_eq(http_stream_open(h, NULL, s->port, "POST", "/v1/chat/completions", NULL, body, strlen(body)), 0);
    while (!h->body || !strstr(h->body, "data: ")) cr_assert(http_stream_read(h, 30000) >= 0, "no stream");
}

Test(server, disconnect_frees_the_slot) {
    const char *args[] = {"--parallel", "1", NULL};
    server s = start(args);
    http_stream h;
    open_long_stream(&s, &h);
    cr_assert(wait_health(&s, 1, 0), "the request is not running");
    http_stream_close(&h); /* the client leaves mid-answer */
    cr_expect(wait_health(&s, 0, 0), "the slot was not freed after the client left");
    int status;
    cJSON *json = call(&s, "POST", "/v1/chat/completions", NULL, USER_HI ",\"max_tokens\":2}", &status);
    cr_expect_eq(status, 200, "the freed slot serves the next request");
    cJSON_Delete(json);
    size_t size;
    char *log = read_whole_file(s.log, &size);
    cr_expect(strstr(log, "cancelled (client gone)"), "%s", log);
    free(log);
    stop(&s);
}

Test(server, full_queue_gets_503) {
    const char *args[] = {"--parallel", "1", "--queue", "1", NULL};
    server s = start(args);
    http_stream running, waiting;
    open_long_stream(&s, &running);
    cr_assert(wait_health(&s, 1, 0));
    open_long_stream(&s, &waiting); /* the role chunk comes at once, while it waits */
    cr_assert(wait_health(&s, 1, 1));
    http_stream h;
    cr_assert_eq(http_request(&h, s.port, "POST", "/v1/chat/completions", NULL, USER_HI "}", 30000), 0);
    cr_expect_eq(h.status, 503);
    char retry[32];
    cr_expect(http_header(&h, "Retry-After", retry, sizeof retry), "no Retry-After");
    cr_expect(strstr(h.body, "\"type\":\"server_error\""), "%s", h.body);
    http_stream_close(&h);
    http_stream_close(&waiting); /* leaves the queue */
    cr_expect(wait_health(&s, 1, 0), "the waiting request did not leave the queue");
    http_stream_close(&running);
    cr_expect(wait_health(&s, 0, 0));
    stop(&s);
}

Test(server, scripted_harmony_mapping) {
    char path[4200];
    snprintf(path, sizeof path, "%s/script.jsonl", model_dir);
    const char *script =
        "[\"<|channel|>analysis<|message|>Need the weather.<|end|><|start|>assistant<|channel|>commentary "
        "to=functions.get_weather <|constrain|>json<|message|>{\\\"city\\\": \\\"Paris\\\"}<|call|>\"]\n"
        "[\"<|channel|>analysis<|message|>Sunny.<|end|><|start|>assistant<|channel|>final<|message|>It is sunny. "
        "END more<|return|>\"]\n"
        "[\"<|channel|>final<|start|>garbage\", 200007, 1000]\n";
    cr_assert_eq(write_whole_file(path, script, strlen(script)), 0);
    const char *args[] = {"--script", path, NULL};
    server s = start(args);
    const char *tools = "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":"
                        "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}]";
    char body[2048];
    snprintf(body, sizeof body, "{\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"}],%s}", tools);
    int status;
    cJSON *json = call(&s, "POST", "/v1/chat/completions", NULL, body, &status);
    cr_assert_eq(status, 200);
    cr_expect_str_eq(str_at(json, "choices.0.finish_reason"), "tool_calls");
    cr_expect_str_eq(str_at(json, "choices.0.message.reasoning_content"), "Need the weather.");
    cr_expect_str_eq(str_at(json, "choices.0.message.tool_calls.0.function.name"), "get_weather");
    cr_expect_str_eq(str_at(json, "choices.0.message.tool_calls.0.function.arguments"), "{\"city\": \"Paris\"}");
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(json, "choices"), 0), "message"), "content")));
    char id[64];
    snprintf(id, sizeof id, "%s", str_at(json, "choices.0.message.tool_calls.0.id"));
    cJSON_Delete(json);
    snprintf(body, sizeof body,
             "{\"stop\":\"END\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},{\"role\":\"assistant\","
             "\"reasoning_content\":\"Need the weather.\",\"tool_calls\":[{\"id\":\"%s\",\"type\":\"function\","
             "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\": \\\"Paris\\\"}\"}}]},"
             "{\"role\":\"tool\",\"tool_call_id\":\"%s\",\"content\":\"sunny\"}],%s}",
             id, id, tools);
    json = call(&s, "POST", "/v1/chat/completions", NULL, body, &status);
    cr_assert_eq(status, 200);
    cr_expect_str_eq(str_at(json, "choices.0.finish_reason"), "stop");
    cr_expect_str_eq(str_at(json, "choices.0.message.content"), "It is sunny. ", "the stop string cuts the answer");
    cr_expect_str_eq(str_at(json, "choices.0.message.reasoning_content"), "Sunny.");
    cr_expect_gt(num_at(json, "usage.prompt_tokens_details.cached_tokens"), 50);
    cJSON_Delete(json);
    /* A malformed header: what the model wrote comes back as content, nothing crashes. */
    json = call(&s, "POST", "/v1/chat/completions", NULL, USER_HI "}", &status);
    cr_expect_eq(status, 200);
    cr_expect(str_at(json, "choices.0.message.content") && strstr(str_at(json, "choices.0.message.content"), "garbage"),
              "%s", json ? cJSON_PrintUnformatted(json) : "");
    cJSON_Delete(json);
    expect_error(&s, "POST", "/v1/chat/completions", NULL, USER_HI "}", 500, NULL); /* the script is used up */
    stop(&s);
}
