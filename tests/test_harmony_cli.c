/* test_harmony_cli.c - `gptoss render` and `gptoss parse` run as separate
 * processes (GPTOSS_BINARY): fixture outputs, bad input lines, --help. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harmony_testing.h"
#include "test_support.h"

/* Runs `gptoss <command> --tokenizer PATH [extra...]` with stdin. */
static command_result run_tool(const char *command, const char *extra1, const char *extra2, const char *input) {
    char *argv[8] = {(char *)GPTOSS_BINARY, (char *)command, "--tokenizer", (char *)harmony_tokenizer_path()};
    int argc = 4;
    if (extra1) argv[argc++] = (char *)extra1;
    if (extra2) argv[argc++] = (char *)extra2;
    argv[argc] = NULL;
    return run_command(argv, input);
}

/* Splits output into lines (in place); returns the count. */
static size_t split_lines(char *text, char **lines, size_t max) {
    size_t n = 0;
    for (char *s = text; *s && n < max;) {
        char *end = strchr(s, '\n');
        cr_assert(end, "output does not end with a newline");
        *end = 0;
        lines[n++] = s;
        s = end + 1;
    }
    return n;
}

static char *read_text(const char *path) {
    size_t size;
    char *data = read_whole_file(path, &size);
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    free(data);
    return text;
}

static bool is_error_object(const char *line) {
    gptoss_json_value *v;
    if (gptoss_json_value_parse(line, strlen(line), &v) != GPTOSS_OK) return false;
    bool ok = v->type == GPTOSS_JSON_OBJECT && v->count == 1 && gptoss_json_string(gptoss_json_get(v, "error"));
    gptoss_json_value_free(v);
    return ok;
}

Test(harmony_cli, render_sample_ids_and_text) {
    char *input = read_text(GPTOSS_FIXTURES "/harmony/sample.jsonl");
    size_t n;
    gptoss_json_value **records = harmony_read_jsonl(GPTOSS_FIXTURES "/harmony/sample.jsonl", &n);
    for (int text = 0; text < 2; text++) {
        command_result r = run_tool("render", text ? "--text" : NULL, NULL, input);
        cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
        cr_expect_str_empty(r.err);
        char *lines[16];
        cr_assert_eq(split_lines(r.out, lines, 16), n);
        for (size_t i = 0; i < n; i++) {
            gptoss_json_value *got;
            cr_assert_eq(gptoss_json_value_parse(lines[i], strlen(lines[i]), &got), GPTOSS_OK, "%s", lines[i]);
            const gptoss_json_value *want = gptoss_json_get(records[i], text ? "rendered_spec" : "ids_spec");
            gptoss_bytes a = {0}, b = {0};
            gptoss_json_value_write(&a, got, false);
            gptoss_json_value_write(&b, want, false);
            cr_expect(a.len == b.len && !memcmp(a.data, b.data, a.len), "line %zu differs", i + 1);
            free(a.data);
            free(b.data);
            gptoss_json_value_free(got);
        }
        command_result_free(&r);
    }
    harmony_free_jsonl(records, n);
    free(input);
}

Test(harmony_cli, render_bad_lines) {
    const char *input = "not json\n"
                        "{\"messages\": 5}\n"
                        "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"current_date\": null}\n"
                        "{\"messages\": [], \"builtin_tools\": [\"calculator\"]}\n"
                        "\n"
                        "{\"messages\": [{\"role\": \"tool\", \"content\": \"x\"}]}\r\n"
                        "{}\n";
    command_result r = run_tool("render", NULL, NULL, input);
    cr_expect_eq(r.exit_code, 1);
    char *lines[16];
    cr_assert_eq(split_lines(r.out, lines, 16), 7, "%s", r.out);
    for (int i = 0; i < 7; i++) {
        if (i == 2 || i == 6) {
            cr_expect(lines[i][0] == '[', "line %d: %s", i + 1, lines[i]);
        } else {
            cr_expect(is_error_object(lines[i]), "line %d: %s", i + 1, lines[i]);
        }
    }
    cr_expect(strstr(lines[3], "calculator"), "%s", lines[3]);
    /* {} alone: the system message and the generation prompt. */
    cr_expect(!strncmp(lines[6], "[200006, 17360, 200008, ", 24), "%s", lines[6]);
    cr_expect(strstr(lines[6], ", 200007, 200006, 173781]"), "%s", lines[6]);
    command_result_free(&r);
}

Test(harmony_cli, parse_fixture_cases) {
    size_t n;
    gptoss_json_value **cases = harmony_read_jsonl(GPTOSS_FIXTURES "/harmony/parse_cases.jsonl", &n);
    for (int strict = 0; strict < 2; strict++) {
        gptoss_bytes input = {0};
        size_t selected[32], count = 0;
        for (size_t i = 0; i < n; i++) {
            if ((gptoss_json_get(cases[i], "strict")->type == GPTOSS_JSON_TRUE) != strict) continue;
            gptoss_json_value_write(&input, gptoss_json_get(cases[i], "tokens"), true);
            gptoss_bytes_append_str(&input, "\n");
            selected[count++] = i;
        }
        command_result r = run_tool("parse", "--jsonl", strict ? "--strict" : NULL, input.data);
        cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
        cr_expect_str_empty(r.err);
        char *lines[32];
        cr_assert_eq(split_lines(r.out, lines, 32), count);
        for (size_t k = 0; k < count; k++) {
            const gptoss_json_value *c = cases[selected[k]];
            const char *name = gptoss_json_string(gptoss_json_get(c, "name"));
            gptoss_json_value *got;
            cr_assert_eq(gptoss_json_value_parse(lines[k], strlen(lines[k]), &got), GPTOSS_OK, "%s", lines[k]);
            const gptoss_json_value *expected = gptoss_json_get(c, "expected");
            const gptoss_json_value *error = gptoss_json_get(got, "error");
            cr_assert(error, "%s: no error key", name);
            cr_expect((error->type == GPTOSS_JSON_NULL) == (gptoss_json_get(expected, "error")->type == GPTOSS_JSON_NULL),
                      "%s: error %s", name, lines[k]);
            const gptoss_json_value *messages = gptoss_json_get(got, "messages");
            const gptoss_json_value *want = gptoss_json_get(expected, "messages");
            cr_assert_eq(messages->count, want->count, "%s: %s", name, lines[k]);
            for (size_t m = 0; m < messages->count; m++) {
                const gptoss_json_value *msg = &messages->items[m];
                for (size_t key = 0; key < msg->count; key++) /* no nulls, only known keys */
                    cr_expect(msg->items[key].type == GPTOSS_JSON_STRING ||
                                  (!strcmp(msg->keys[key], "incomplete") && msg->items[key].type == GPTOSS_JSON_TRUE),
                              "%s: key %s", name, msg->keys[key]);
                if (!strcmp(name, "structured_output_final_constrain") && m == 1) { /* the recommended result */
                    cr_expect_str_eq(gptoss_json_string(gptoss_json_get(msg, "content_type")), "<|constrain|>json");
                    cr_expect_null(gptoss_json_get(msg, "recipient"));
                    continue;
                }
                const char *keys[] = {"role", "name", "channel", "recipient", "content_type", "content"};
                for (int f = 0; f < 6; f++) {
                    const gptoss_json_value *a = gptoss_json_get(msg, keys[f]), *b = gptoss_json_get(&want->items[m], keys[f]);
                    cr_expect(!a == !b, "%s: message %zu key %s", name, m, keys[f]);
                    if (a && b) cr_expect(a->len == b->len && !memcmp(a->text, b->text, a->len), "%s: %s differs", name, keys[f]);
                }
            }
            if (!strcmp(name, "truncated_in_content"))
                cr_expect(gptoss_json_get(&messages->items[1], "incomplete"), "%s: %s", name, lines[k]);
            gptoss_json_value_free(got);
        }
        free(input.data);
        command_result_free(&r);
    }
    harmony_free_jsonl(cases, n);
}

Test(harmony_cli, parse_bad_lines_and_plain_input) {
    const char *input = "[200005, 17196, 200008, 13225, 200002]\n"
                        "[1, -2]\n"
                        "[1.5]\n"
                        "{}\n"
                        "nope\n"
                        "[4294967296]\n"
                        "[\"1\"]\n"
                        "[]\n"
                        "[200005, 17196, 200008, 999999, 200002]\n";
    command_result r = run_tool("parse", "--jsonl", NULL, input);
    cr_expect_eq(r.exit_code, 1);
    char *lines[16];
    cr_assert_eq(split_lines(r.out, lines, 16), 9, "%s", r.out);
    cr_expect_str_eq(lines[0], "{\"messages\": [{\"role\": \"assistant\", \"channel\": \"final\", \"content\": \"Hello\"}], "
                               "\"error\": null}");
    for (int i = 1; i < 7; i++) cr_expect(is_error_object(lines[i]), "line %d: %s", i + 1, lines[i]);
    cr_expect(!strncmp(lines[7], "{\"messages\": [], \"error\": \"", 27), "%s", lines[7]);
    cr_expect_str_eq(lines[8], "{\"messages\": [{\"role\": \"assistant\", \"channel\": \"final\", \"content\": \"\xEF\xBF\xBD\"}], "
                               "\"error\": null}");
    command_result_free(&r);
    /* Without --jsonl all of stdin is one id list. */
    r = run_tool("parse", "--strict", NULL, "200005 17196\n200008,13225 200002");
    cr_expect_eq(r.exit_code, 0);
    cr_expect_str_eq(r.out, "{\"messages\": [{\"role\": \"assistant\", \"channel\": \"final\", \"content\": \"Hello\"}], "
                            "\"error\": null}\n");
    command_result_free(&r);
    r = run_tool("parse", "--start", "message", "[200005, 17196, 200008, 13225, 200002]");
    cr_expect_eq(r.exit_code, 0);
    cr_expect(strstr(r.out, "\"messages\": [], \"error\": \""), "%s", r.out);
    command_result_free(&r);
}

Test(harmony_cli, help_and_usage_errors) {
    const char *commands[] = {"render", "parse"};
    for (int i = 0; i < 2; i++) {
        char *help[] = {(char *)GPTOSS_BINARY, (char *)commands[i], "--help", NULL};
        command_result r = run_command(help, NULL);
        cr_expect_eq(r.exit_code, 0);
        cr_expect(!strncmp(r.out, "usage: gptoss ", 14), "%s", r.out);
        cr_expect(strstr(r.out, commands[i]));
        cr_expect_str_empty(r.err);
        command_result_free(&r);
        char *no_tokenizer[] = {(char *)GPTOSS_BINARY, (char *)commands[i], NULL};
        r = run_command(no_tokenizer, "{}\n");
        cr_expect_eq(r.exit_code, 2);
        cr_expect_str_empty(r.out);
        cr_expect(strstr(r.err, "--tokenizer"), "%s", r.err);
        command_result_free(&r);
        char *missing[] = {(char *)GPTOSS_BINARY, (char *)commands[i], "--tokenizer", "/nonexistent/tokenizer.json", NULL};
        r = run_command(missing, "{}\n");
        cr_expect_eq(r.exit_code, 1);
        cr_expect_str_empty(r.out);
        command_result_free(&r);
        char *bad_option[] = {(char *)GPTOSS_BINARY, (char *)commands[i], "--bogus", NULL};
        r = run_command(bad_option, NULL);
        cr_expect_eq(r.exit_code, 2);
        cr_expect_str_empty(r.out);
        command_result_free(&r);
    }
}
