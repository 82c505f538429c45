/* fuzz_request.c - libFuzzer target for the server's request parsing: the
 * first byte picks the endpoint (chat.completions or Responses), the rest is
 * the body. A parsed request is then rendered to harmony tokens when a
 * tokenizer is given ($GPTOSS_FUZZ_TOKENIZER=tokenizer.json), and its reply
 * path is exercised with a few synthetic parser events.
 *
 * Build (clang; see tests/fuzz/README.md):
 *   cmake -B build-fuzz -DCMAKE_C_COMPILER=clang -DGPTOSS_FUZZ=ON -DGPTOSS_TESTS=OFF
 *   cmake --build build-fuzz --target fuzz_request -j2
 *   build-fuzz/fuzz_request -max_total_time=600 tests/fuzz/corpus */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harmony.h"
#include "server_reply.h"
#include "server_request.h"
#include "tokenizer.h"

static gptoss_tokenizer *tok;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *path = getenv("GPTOSS_FUZZ_TOKENIZER");
    if (path && gptoss_tokenizer_load(path, &tok) != GPTOSS_OK) {
        fprintf(stderr, "fuzz_request: %s\n", gptoss_last_error());
        abort();
    }
    return 0;
}

/* Feeds a reply a message of each kind, with the request's stop strings. */
static void exercise_reply(const server_request *request) {
    server_reply reply;
    server_reply_init(&reply, request, "fuzz");
    server_reply_begin(&reply);
    gptoss_harmony_message messages[3] = {
        {.role = GPTOSS_HARMONY_ASSISTANT, .channel = "analysis", .content = ""},
        {.role = GPTOSS_HARMONY_ASSISTANT, .channel = "commentary", .recipient = "functions.f", .content = ""},
        {.role = GPTOSS_HARMONY_ASSISTANT, .channel = "final", .content = ""},
    };
    static const char text[] = "Hello \xF0\x9F\x98\x80 world, stop here\n\"quoted\"";
    for (int i = 0; i < 3; i++) {
        gptoss_harmony_event e = {.type = GPTOSS_HARMONY_EVENT_MESSAGE_START, .message = &messages[i]};
        if (server_reply_event(&reply, &e)) break;
        e.type = GPTOSS_HARMONY_EVENT_CONTENT;
        for (size_t at = 0; at < sizeof text - 1; at += 5) {
            e.text = text + at;
            e.len = sizeof text - 1 - at < 5 ? sizeof text - 1 - at : 5;
            if (server_reply_event(&reply, &e)) break;
        }
        e.type = GPTOSS_HARMONY_EVENT_MESSAGE_END;
        server_reply_event(&reply, &e);
    }
    server_reply_finish(&reply, false);
    json_out body = {0};
    server_reply_body(&reply, &body);
    json_out_free(&body);
    server_reply_free(&reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const server_api api = data[0] & 1 ? SERVER_API_RESPONSES : SERVER_API_CHAT;
    server_request request;
    server_error error;
    if (!server_request_parse(api, (const char *)data + 1, size - 1, &request, &error)) {
        if ((error.status != 400 && error.status != 500) || !error.message[0]) abort();
        return 0;
    }
    if (tok) {
        gptoss_harmony_rendering rendering = {0};
        gptoss_conversation_render(tok, &request.conversation, false, &rendering);
        gptoss_harmony_rendering_free(&rendering);
    }
    exercise_reply(&request);
    server_request_free(&request);
    return 0;
}
