/* test_harmony_parse.c - generated token ids -> harmony messages: every case
 * of tests/fixtures/harmony/parse_cases.jsonl (strict and lenient as the
 * case says, the recommended result where one is given), the incremental
 * event stream, malformed completions (missing <|message|>, unknown
 * channels, truncation, ids outside the vocabulary, <|endoftext|>), a
 * render -> parse round trip, and a random-stream fuzz for crashes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harmony_testing.h"
#include "tokenizer_utf8.h"

enum { START = 200006, CHANNEL = 200005, MESSAGE = 200008, END = 200007, RETURN = 200002, CALL = 200012,
       CONSTRAIN = 200003, ENDOFTEXT = 199999, ASSISTANT = 173781, ANALYSIS = 35644, FINAL = 17196 };

typedef struct parsed {
    gptoss_harmony_messages messages;
    char *error;
} parsed;

static parsed parse(gptoss_tokenizer *tok, const uint32_t *ids, size_t n, bool strict, gptoss_harmony_start start) {
    parsed p = {0};
    gptoss_harmony_parser_options options = {.strict = strict, .start = start};
    cr_assert_eq(gptoss_harmony_parse(tok, ids, n, &options, &p.messages, &p.error), GPTOSS_OK);
    return p;
}

static void parsed_free(parsed *p) {
    gptoss_harmony_messages_free(&p->messages);
    free(p->error);
}

/* Encodes text as ordinary tokens and appends them. */
static void add_text(gptoss_tokenizer *tok, gptoss_ids *ids, const char *text) {
    uint32_t *t;
    size_t n;
    cr_assert_eq(gptoss_tokenizer_encode(tok, text, strlen(text), false, &t, &n), GPTOSS_OK);
    for (size_t i = 0; i < n; i++) gptoss_ids_push(ids, t[i]);
    free(t);
}

static void expect_message(const gptoss_harmony_message *m, gptoss_harmony_role role, const char *name,
                           const char *channel, const char *recipient, const char *content_type, const char *content) {
    cr_expect_eq(m->role, role);
    const char *got[] = {m->name, m->channel, m->recipient, m->content_type};
    const char *want[] = {name, channel, recipient, content_type};
    for (int i = 0; i < 4; i++) {
        cr_expect(!got[i] == !want[i], "field %d: got %s, want %s", i, got[i] ? got[i] : "(none)", want[i] ? want[i] : "(none)");
        if (got[i] && want[i]) cr_expect_str_eq(got[i], want[i]);
    }
    cr_expect_str_eq(m->content, content);
}

/* Checks a parse result against a case's expectation; returns whether it matched. */
static bool matches_case(const parsed *p, const gptoss_json_value *c) {
    const gptoss_json_value *expected = gptoss_json_get(c, "expected");
    const gptoss_json_value *messages = gptoss_json_get(expected, "messages");
    const gptoss_json_value *error = gptoss_json_get(expected, "error");
    if ((error->type == GPTOSS_JSON_NULL) != (p->error == NULL)) return false;
    if (messages->count != p->messages.count) return false;
    for (size_t i = 0; i < messages->count; i++)
        if (!harmony_message_matches(&p->messages.items[i], &messages->items[i])) return false;
    return true;
}

Test(harmony_parse, fixture_cases) {
    gptoss_tokenizer *tok = harmony_load_tokenizer();
    size_t n;
    gptoss_json_value **cases = harmony_read_jsonl(GPTOSS_FIXTURES "/harmony/parse_cases.jsonl", &n);
    cr_assert_eq(n, 24);
    size_t recommended = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = gptoss_json_string(gptoss_json_get(cases[i], "name"));
        bool strict = gptoss_json_get(cases[i], "strict")->type == GPTOSS_JSON_TRUE;
        bool preset = gptoss_json_get(cases[i], "start_role")->type == GPTOSS_JSON_STRING;
        size_t n_ids;
        uint32_t *ids = harmony_json_ids(gptoss_json_get(cases[i], "tokens"), &n_ids);
        /* The case's own start, and AUTO (what `gptoss parse` does). */
        gptoss_harmony_start starts[] = {preset ? GPTOSS_HARMONY_START_ASSISTANT : GPTOSS_HARMONY_START_MESSAGE,
                                         GPTOSS_HARMONY_START_AUTO};
        for (int s = 0; s < 2; s++) {
            parsed p = parse(tok, ids, n_ids, strict, starts[s]);
            bool ok = matches_case(&p, cases[i]);
            if (!ok && !strcmp(name, "structured_output_final_constrain")) {
                /* Recommended: <|constrain|>json is the content type, not the recipient. */
                cr_assert_eq(p.messages.count, 2);
                expect_message(&p.messages.items[1], GPTOSS_HARMONY_ASSISTANT, NULL, "final", NULL, "<|constrain|>json",
                               "{\"amount\": 123.45}");
                ok = true;
                recommended++;
            }
            cr_expect(ok, "%s (start %d): %zu messages, error %s", name, s, p.messages.count, p.error ? p.error : "none");
            if (!strcmp(name, "truncated_in_content")) {
                cr_expect(p.messages.items[1].incomplete, "recommended: flag the cut-off message");
                cr_expect_eq(p.messages.items[1].terminator, 0u);
                cr_expect(!p.messages.items[0].incomplete);
                cr_expect_eq(p.messages.items[0].terminator, (uint32_t)END);
            }
            parsed_free(&p);
        }
        free(ids);
    }
    cr_expect_eq(recommended, 2);
    harmony_free_jsonl(cases, n);
    gptoss_tokenizer_free(tok);
}

/* Feeds ids one by one and checks the events against the batch result:
 * START/END pairs, deltas (valid UTF-8) adding up to the content, STOP after
 * <|return|>/<|call|> only, nothing after an ERROR. */
static void check_events(gptoss_tokenizer *tok, const uint32_t *ids, size_t n, bool strict) {
    gptoss_harmony_parser_options options = {.strict = strict};
    gptoss_harmony_parser *parser;
    cr_assert_eq(gptoss_harmony_parser_create(tok, &options, &parser), GPTOSS_OK);
    gptoss_bytes content = {0};
    bool open = false, errored = false;
    size_t ended = 0;
    for (size_t i = 0; i <= n; i++) {
        const gptoss_harmony_event *events;
        size_t n_events;
        gptoss_status status = i < n ? gptoss_harmony_parser_push(parser, ids[i], &events, &n_events)
                                     : gptoss_harmony_parser_finish(parser, &events, &n_events);
        cr_assert_eq(status, GPTOSS_OK);
        if (errored) cr_assert_eq(n_events, 0, "events after an error");
        for (size_t e = 0; e < n_events; e++) {
            const gptoss_harmony_event *ev = &events[e];
            switch (ev->type) {
            case GPTOSS_HARMONY_EVENT_MESSAGE_START:
                cr_assert(!open, "START inside a message");
                open = true;
                content.len = 0;
                break;
            case GPTOSS_HARMONY_EVENT_CONTENT: {
                cr_assert(open, "CONTENT outside a message");
                size_t bad;
                cr_assert(gptoss_utf8_validate((const uint8_t *)ev->text, ev->len, &bad), "delta not valid UTF-8");
                gptoss_bytes_append(&content, ev->text, ev->len);
                break;
            }
            case GPTOSS_HARMONY_EVENT_MESSAGE_END:
                cr_assert(open, "END without START");
                open = false;
                cr_assert_eq(ev->message->content_len, content.len);
                cr_assert(!content.len || !memcmp(ev->message->content, content.data, content.len), "deltas != content");
                ended++;
                break;
            case GPTOSS_HARMONY_EVENT_STOP:
                cr_assert(ev->token == RETURN || ev->token == CALL || ev->token == ENDOFTEXT || (i == n && ev->token == 0),
                          "STOP on token %u", ev->token);
                break;
            case GPTOSS_HARMONY_EVENT_ERROR:
                cr_assert(ev->text && ev->len);
                cr_assert_str_eq(ev->text, gptoss_harmony_parser_error(parser));
                errored = true;
                break;
            }
        }
        const gptoss_harmony_message *current = gptoss_harmony_parser_current(parser);
        if (current) cr_assert(open && current->content_len == content.len);
    }
    cr_assert(gptoss_harmony_parser_done(parser));
    size_t count;
    const gptoss_harmony_message *messages = gptoss_harmony_parser_messages(parser, &count);
    cr_assert_eq(count, ended);
    for (size_t i = 0; i < count; i++) {
        size_t bad;
        cr_assert(gptoss_utf8_validate((const uint8_t *)messages[i].content, messages[i].content_len, &bad));
        cr_assert_eq(messages[i].content[messages[i].content_len], 0);
    }
    parsed p = parse(tok, ids, n, strict, GPTOSS_HARMONY_START_AUTO);
    cr_assert_eq(p.messages.count, count);
    cr_assert(!p.error == !gptoss_harmony_parser_error(parser));
    parsed_free(&p);
    free(content.data);
    gptoss_harmony_parser_free(parser);
}

Test(harmony_parse, incremental_events) {
    gptoss_tokenizer *tok = harmony_load_tokenizer();
    size_t n;
    gptoss_json_value **cases = harmony_read_jsonl(GPTOSS_FIXTURES "/harmony/parse_cases.jsonl", &n);
    for (size_t i = 0; i < n; i++) {
        size_t n_ids;
        uint32_t *ids = harmony_json_ids(gptoss_json_get(cases[i], "tokens"), &n_ids);
        check_events(tok, ids, n_ids, true);
        check_events(tok, ids, n_ids, false);
        free(ids);
    }
    harmony_free_jsonl(cases, n);
    gptoss_tokenizer_free(tok);
}

Test(harmony_parse, stop_events_and_split_characters) {
    gptoss_tokenizer *tok = harmony_load_tokenizer();
    gptoss_harmony_parser *parser;
    cr_assert_eq(gptoss_harmony_parser_create(tok, NULL, &parser), GPTOSS_OK);
    /* <|channel|>final<|message|>café 👨‍👩‍👧 你好<|end|> then a call: <|end|> is no stop, <|call|> is. */
    const uint32_t ids[] = {CHANNEL, FINAL, MESSAGE, 66, 103112, 61138, 101, 2524, 28823, 102, 2524, 28823, 100, 220,
                            177519, END, START, ASSISTANT, 316, 28, 29010, CHANNEL, ANALYSIS, 3490, MESSAGE, 1598, CALL};
    size_t stops = 0, deltas = 0;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        const gptoss_harmony_event *events;
        size_t n_events;
        cr_assert_eq(gptoss_harmony_parser_push(parser, ids[i], &events, &n_events), GPTOSS_OK);
        for (size_t e = 0; e < n_events; e++) {
            if (events[e].type == GPTOSS_HARMONY_EVENT_STOP) {
                stops++;
                cr_expect_eq(ids[i], (uint32_t)CALL);
                cr_expect_eq(events[e].token, (uint32_t)CALL);
            }
            if (events[e].type == GPTOSS_HARMONY_EVENT_CONTENT) deltas++;
            if (events[e].type == GPTOSS_HARMONY_EVENT_MESSAGE_START && i == 24) {
                expect_message(events[e].message, GPTOSS_HARMONY_ASSISTANT, NULL, "analysis", "python", "code", "");
            }
        }
    }
    cr_expect_eq(stops, 1);
    cr_expect_geq(deltas, 4);
    uint32_t stop_ids[3];
    cr_assert_eq(gptoss_harmony_stop_tokens(tok, stop_ids), 3);
    cr_expect(stop_ids[0] == RETURN && stop_ids[1] == CALL && stop_ids[2] == ENDOFTEXT);
    size_t count;
    const gptoss_harmony_message *m = gptoss_harmony_parser_messages(parser, &count);
    cr_assert_eq(count, 2);
    cr_expect_str_eq(m[0].content, "caf\xC3\xA9 \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7 "
                                   "\xE4\xBD\xA0\xE5\xA5\xBD");
    cr_expect_eq(m[0].terminator, (uint32_t)END);
    cr_expect_eq(m[1].terminator, (uint32_t)CALL);
    /* Reset: a fresh stream. */
    gptoss_harmony_parser_reset(parser);
    gptoss_harmony_parser_messages(parser, &count);
    cr_expect_eq(count, 0);
    cr_expect_null(gptoss_harmony_parser_error(parser));
    gptoss_harmony_parser_free(parser);
    gptoss_tokenizer_free(tok);
}

Test(harmony_parse, malformed_completions) {
    gptoss_tokenizer *tok = harmony_load_tokenizer();
    gptoss_ids ids = {0};
    /* Unknown channel names are kept as they are. */
    gptoss_ids_push(&ids, CHANNEL);
    add_text(tok, &ids, "thoughts");
    gptoss_ids_push(&ids, MESSAGE);
    add_text(tok, &ids, "hmm <|start|>");
    gptoss_ids_push(&ids, START); /* a special token inside content is literal text */
    gptoss_ids_push(&ids, RETURN);
    parsed p = parse(tok, ids.data, ids.len, true, GPTOSS_HARMONY_START_AUTO);
    cr_assert_eq(p.messages.count, 1);
    cr_expect_null(p.error);
    expect_message(&p.messages.items[0], GPTOSS_HARMONY_ASSISTANT, NULL, "thoughts", NULL, NULL, "hmm <|start|><|start|>");
    parsed_free(&p);

    /* Lenient: a later header without <|message|> is dropped (no preset role), parsing goes on. */
    ids.len = 0;
    const uint32_t stream[] = {CHANNEL, FINAL, MESSAGE, 64, END, START, ASSISTANT, CHANNEL, FINAL, 220, 10828, END,
                               START, ASSISTANT, CHANNEL, FINAL, MESSAGE, 65, RETURN};
    p = parse(tok, stream, sizeof stream / sizeof stream[0], false, GPTOSS_HARMONY_START_AUTO);
    cr_expect_null(p.error);
    cr_assert_eq(p.messages.count, 2);
    cr_expect_str_eq(p.messages.items[0].content, "a");
    cr_expect_str_eq(p.messages.items[1].content, "b");
    parsed_free(&p);
    /* Strict: the terminator joins the header text (whatever that header then parses to). */
    p = parse(tok, stream, sizeof stream / sizeof stream[0], true, GPTOSS_HARMONY_START_AUTO);
    cr_assert_geq(p.messages.count, 1);
    cr_expect_str_eq(p.messages.items[0].content, "a");
    cr_expect(p.messages.count == 1 || strstr(p.messages.items[1].recipient, "<|end|>"));
    parsed_free(&p);

    /* Lenient, first header with a recipient but no <|message|>: header words become the content. */
    const uint32_t no_message[] = {CHANNEL, ANALYSIS, 316, 28, 29010, CALL};
    p = parse(tok, no_message, 6, false, GPTOSS_HARMONY_START_AUTO);
    cr_expect_null(p.error);
    cr_assert_eq(p.messages.count, 1);
    expect_message(&p.messages.items[0], GPTOSS_HARMONY_ASSISTANT, NULL, "analysis", NULL, NULL, "to=python");
    cr_expect_eq(p.messages.items[0].terminator, (uint32_t)CALL);
    parsed_free(&p);

    /* An empty completion, and one ending right after <|start|>: stream ended inside a header. */
    p = parse(tok, NULL, 0, false, GPTOSS_HARMONY_START_AUTO);
    cr_expect_not_null(p.error);
    parsed_free(&p);
    const uint32_t after_end[] = {CHANNEL, FINAL, MESSAGE, 64, END, START};
    p = parse(tok, after_end, 6, false, GPTOSS_HARMONY_START_AUTO);
    cr_expect_not_null(p.error);
    cr_expect_eq(p.messages.count, 1);
    parsed_free(&p);
    /* ... but a stream that stops after a terminator is complete. */
    p = parse(tok, after_end, 5, false, GPTOSS_HARMONY_START_AUTO);
    cr_expect_null(p.error);
    cr_expect_eq(p.messages.count, 1);
    parsed_free(&p);

    /* Ids outside the vocabulary: U+FFFD in lenient mode, an error in strict mode. */
    const uint32_t garbage[] = {CHANNEL, FINAL, MESSAGE, 64, 999999, 65, 0xFFFFFFFFu, RETURN};
    p = parse(tok, garbage, 8, false, GPTOSS_HARMONY_START_AUTO);
    cr_expect_null(p.error);
    cr_assert_eq(p.messages.count, 1);
    cr_expect_str_eq(p.messages.items[0].content, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
    parsed_free(&p);
    p = parse(tok, garbage, 8, true, GPTOSS_HARMONY_START_AUTO);
    cr_expect_not_null(p.error);
    cr_expect_eq(p.messages.count, 0);
    parsed_free(&p);
    /* ... and in a header (lenient): the header still parses when the garbage is in a channel name. */
    const uint32_t garbage_header[] = {CHANNEL, FINAL, 999999, MESSAGE, 64, RETURN};
    p = parse(tok, garbage_header, 6, false, GPTOSS_HARMONY_START_AUTO);
    cr_expect_null(p.error);
    cr_assert_eq(p.messages.count, 1);
    cr_expect_str_eq(p.messages.items[0].channel, "final\xEF\xBF\xBD");
    parsed_free(&p);

    /* A header split inside a UTF-8 character that never completes is an error. */
    const uint32_t bad_header[] = {CHANNEL, FINAL, 9552, MESSAGE, 64, RETURN}; /* 9552 = b" \xf0\x9f" */
    p = parse(tok, bad_header, 6, false, GPTOSS_HARMONY_START_AUTO);
    cr_expect_not_null(p.error);
    parsed_free(&p);

    /* <|endoftext|> ends the stream: the open message is kept (incomplete), the rest ignored. */
    const uint32_t eot[] = {CHANNEL, FINAL, MESSAGE, 64, 9552, ENDOFTEXT, START, ASSISTANT, CHANNEL};
    p = parse(tok, eot, 9, true, GPTOSS_HARMONY_START_AUTO);
    cr_expect_null(p.error);
    cr_assert_eq(p.messages.count, 1);
    cr_expect_str_eq(p.messages.items[0].content, "a \xEF\xBF\xBD");
    cr_expect(p.messages.items[0].incomplete);
    parsed_free(&p);

    /* Garbage after a terminator stops parsing; earlier messages stay (both modes). */
    const uint32_t stray[] = {CHANNEL, FINAL, MESSAGE, 64, END, 65, START, ASSISTANT, CHANNEL, FINAL, MESSAGE, 66, RETURN};
    for (int strict = 0; strict < 2; strict++) {
        p = parse(tok, stray, 13, strict, GPTOSS_HARMONY_START_AUTO);
        cr_expect_not_null(p.error);
        cr_expect_eq(p.messages.count, 1);
        parsed_free(&p);
    }

    /* Tokens after <|return|> are parsed on (a new message must start with <|start|>). */
    const uint32_t two_turns[] = {CHANNEL, FINAL, MESSAGE, 64, RETURN, START, 1428 /* user */, MESSAGE, 65, END};
    p = parse(tok, two_turns, 10, true, GPTOSS_HARMONY_START_AUTO);
    cr_expect_null(p.error);
    cr_assert_eq(p.messages.count, 2);
    cr_expect_eq(p.messages.items[1].role, GPTOSS_HARMONY_USER);
    parsed_free(&p);

    /* A tool author named `tool` (role word) and headers that only name a tool. */
    const uint32_t tool_only[] = {START, 44580, 775, 29811, 316, 28, 173781, MESSAGE, 12083, END};
    p = parse(tok, tool_only, 10, true, GPTOSS_HARMONY_START_AUTO);
    cr_expect_null(p.error);
    cr_assert_eq(p.messages.count, 1);
    expect_message(&p.messages.items[0], GPTOSS_HARMONY_TOOL, "functions.get_location", NULL, "assistant", NULL, "{}");
    parsed_free(&p);
    free(ids.data);
    gptoss_tokenizer_free(tok);
}

Test(harmony_parse, header_trims_unicode_whitespace) {
    /* Headers are trimmed of Unicode White_Space at both ends, multi-byte
     * characters included, and a multi-byte last character that is not
     * whitespace stays whole. */
    gptoss_tokenizer *tok = harmony_load_tokenizer();
    static const struct {
        const char *header, *recipient;
    } cases[] = {
        {" to=functions.f\xE3\x80\x80\xC2\xA0 \xE2\x80\xA8", "functions.f"},
        {"\xE3\x80\x80to=functions.caf\xC3\xA9", "functions.caf\xC3\xA9"},
        {" to=functions.\xE4\xB8\xAD\xE3\x80\x80\xE6\x96\x87 \xE3\x80\x80", "functions.\xE4\xB8\xAD\xE3\x80\x80\xE6\x96\x87"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gptoss_ids ids = {0};
        gptoss_ids_push(&ids, CHANNEL);
        gptoss_ids_push(&ids, ANALYSIS);
        add_text(tok, &ids, cases[i].header);
        gptoss_ids_push(&ids, MESSAGE);
        add_text(tok, &ids, "{}");
        gptoss_ids_push(&ids, CALL);
        parsed p = parse(tok, ids.data, ids.len, true, GPTOSS_HARMONY_START_AUTO);
        cr_expect_null(p.error, "case %zu: %s", i, p.error);
        cr_assert_eq(p.messages.count, 1, "case %zu", i);
        expect_message(&p.messages.items[0], GPTOSS_HARMONY_ASSISTANT, NULL, "analysis", cases[i].recipient, NULL, "{}");
        parsed_free(&p);
        free(ids.data);
    }
    gptoss_tokenizer_free(tok);
}

Test(harmony_parse, render_then_parse_round_trip) {
    gptoss_tokenizer *tok = harmony_load_tokenizer();
    gptoss_harmony_messages list = {0};
    gptoss_harmony_messages_push(&list, GPTOSS_HARMONY_ASSISTANT, NULL, NULL, "analysis", NULL,
                                 "Think \xE2\x80\x94 in UTF-8 \xF0\x9F\x98\x80 and <|end|> text", SIZE_MAX);
    gptoss_harmony_messages_push(&list, GPTOSS_HARMONY_ASSISTANT, NULL, NULL, "commentary", NULL, "Preamble:\n1. x",
                                 SIZE_MAX);
    gptoss_harmony_messages_push(&list, GPTOSS_HARMONY_ASSISTANT, NULL, "functions.lookup_item", "commentary",
                                 "<|constrain|>json", "{\"id\": 7, \"tags\": [\"a b\"]}", SIZE_MAX);
    gptoss_harmony_messages_push(&list, GPTOSS_HARMONY_TOOL, "functions.lookup_item", "assistant", "commentary", NULL,
                                 "{\"ok\": true}", SIZE_MAX);
    gptoss_harmony_messages_push(&list, GPTOSS_HARMONY_ASSISTANT, NULL, "python", "analysis", "code",
                                 "print(sum(range(10)))", SIZE_MAX);
    gptoss_harmony_messages_push(&list, GPTOSS_HARMONY_TOOL, "python", "assistant", "analysis", NULL, "45", SIZE_MAX);
    gptoss_harmony_messages_push(&list, GPTOSS_HARMONY_ASSISTANT, NULL, NULL, "final", "<|constrain|>json",
                                 "{\"sum\": 45}", SIZE_MAX);
    gptoss_harmony_messages_push(&list, GPTOSS_HARMONY_ASSISTANT, NULL, NULL, "final", NULL, "", SIZE_MAX);
    gptoss_harmony_rendering r;
    cr_assert_eq(gptoss_harmony_render(tok, list.items, list.count, GPTOSS_HARMONY_END_TRAINING, false, &r), GPTOSS_OK);
    cr_expect_eq(r.ids.data[r.ids.len - 1], (uint32_t)RETURN);
    for (int strict = 0; strict < 2; strict++) {
        /* As a stored stream, and as a completion (without the leading <|start|>assistant). */
        parsed p = parse(tok, r.ids.data, r.ids.len, strict, GPTOSS_HARMONY_START_MESSAGE);
        parsed q = parse(tok, r.ids.data + 2, r.ids.len - 2, strict, GPTOSS_HARMONY_START_AUTO);
        cr_expect_null(p.error, "%s", p.error);
        cr_expect_null(q.error, "%s", q.error);
        cr_assert_eq(p.messages.count, list.count);
        cr_assert_eq(q.messages.count, list.count);
        for (size_t i = 0; i < list.count; i++) {
            const gptoss_harmony_message *m = &list.items[i];
            expect_message(&p.messages.items[i], m->role, m->name, m->channel, m->recipient, m->content_type, m->content);
            expect_message(&q.messages.items[i], m->role, m->name, m->channel, m->recipient, m->content_type, m->content);
        }
        cr_expect_eq(p.messages.items[2].terminator, (uint32_t)CALL);
        cr_expect_eq(p.messages.items[list.count - 1].terminator, (uint32_t)RETURN);
        parsed_free(&p);
        parsed_free(&q);
    }
    gptoss_harmony_rendering_free(&r);
    gptoss_harmony_messages_free(&list);
    gptoss_tokenizer_free(tok);
}

Test(harmony_parse, random_streams_do_not_crash) {
    gptoss_tokenizer *tok = harmony_load_tokenizer();
    /* Structure tokens, header words, text, other specials, ids outside the vocabulary. */
    static const uint32_t palette[] = {START, START, CHANNEL, CHANNEL, MESSAGE, MESSAGE, END, RETURN, CALL, CONSTRAIN,
                                       ENDOFTEXT, 199998, 200000, 200018, ASSISTANT, ANALYSIS, FINAL, 12606, 815,
                                       316, 28, 44580, 775, 4108, 3490, 220, 9552, 135596, 103112, 61138, 0, 198,
                                       1428, 17360, 33218, 999999, 200019, 0xFFFFFFFFu};
    uint64_t state = 0x9E3779B97F4A7C15ull;
    uint32_t ids[80];
    for (int round = 0; round < 1500; round++) {
        size_t n = 0;
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        size_t len = (size_t)(state >> 33) % 80;
        for (; n < len; n++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            uint32_t r = (uint32_t)(state >> 33);
            ids[n] = r % 4 ? palette[r % (sizeof palette / sizeof palette[0])] : r % 200019;
        }
        check_events(tok, ids, n, round & 1);
    }
    gptoss_tokenizer_free(tok);
}
