/* test_tokenizer_cli.c - `gptoss tokenize` / `gptoss detokenize` run as a
 * separate process (GPTOSS_BINARY) on files fed to stdin. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tokenizer_testing.h"

typedef struct run_result {
    int status;
    char out[65536];
    char err[8192];
} run_result;

static void read_file_into(const char *path, char *buf, size_t cap) {
    FILE *file = fopen(path, "rb");
    size_t n = file ? fread(buf, 1, cap - 1, file) : 0;
    buf[n] = 0;
    if (file) fclose(file);
}

/* Runs `gptoss <args>` with input on stdin; captures stdout, stderr, status. */
static void run(const char *args, const char *input, size_t input_len, run_result *r) {
    char dir[] = "/tmp/gptoss-cli-test-XXXXXX";
    cr_assert(mkdtemp(dir));
    char in[128], out[128], err[128], command[2048];
    snprintf(in, sizeof in, "%s/in", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(err, sizeof err, "%s/err", dir);
    FILE *file = fopen(in, "wb");
    fwrite(input, 1, input_len, file);
    fclose(file);
    snprintf(command, sizeof command, "'%s' %s < %s > %s 2> %s", GPTOSS_BINARY, args, in, out, err);
    int status = system(command);
    r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    read_file_into(out, r->out, sizeof r->out);
    read_file_into(err, r->err, sizeof r->err);
    snprintf(command, sizeof command, "rm -rf %s", dir);
    cr_assert_eq(system(command), 0);
}

#define TOKENIZER_ARG "--tokenizer '" GPTOSS_TOKENIZER_JSON "'"

Test(tokenizer_cli, tokenize_jsonl_with_a_bad_line) {
    const char input[] = "\"Hello, world!\"\nnot json\n\"<|start|>\"\n\"\\ud800 lone\"\n\"caf\xC3\xA9\"\n";
    run_result *r = malloc(sizeof *r);
    run("tokenize --jsonl " TOKENIZER_ARG, input, sizeof input - 1, r);
    cr_expect_eq(r->status, 1, "stderr: %s", r->err);
    char *lines[8] = {0};
    int n = 0;
    for (char *line = strtok(r->out, "\n"); line && n < 8; line = strtok(NULL, "\n")) lines[n++] = line;
    cr_assert_eq(n, 5, "output: %s", r->out);
    cr_expect_str_eq(lines[0], "[13225, 11, 2375, 0]");
    cr_expect(!strncmp(lines[1], "{\"error\": \"", 11), "%s", lines[1]);
    cr_expect_str_eq(lines[2], "[27, 91, 5236, 91, 29]");
    cr_expect(strstr(lines[3], "\"error\"") && strstr(lines[3], "surrogate"), "%s", lines[3]);
    cr_expect(lines[4][0] == '[', "%s", lines[4]);
    free(r);
}

Test(tokenizer_cli, tokenize_allow_special) {
    const char input[] = "\"<|start|>user<|message|>hi<|end|>\"\n";
    run_result *r = malloc(sizeof *r);
    run("tokenize --allow-special --jsonl " TOKENIZER_ARG, input, sizeof input - 1, r);
    cr_expect_eq(r->status, 0, "stderr: %s", r->err);
    cr_expect_str_eq(r->out, "[200006, 1428, 200008, 3686, 200007]\n");
    free(r);
}

Test(tokenizer_cli, detokenize_jsonl) {
    const char input[] = "[13225, 11, 2375, 0]\n[9552, 9552, 135596]\n[1, 999999]\n[\"x\"]\n[]\n[200006, 3686]\n";
    run_result *r = malloc(sizeof *r);
    run("detokenize --jsonl " TOKENIZER_ARG, input, sizeof input - 1, r);
    cr_expect_eq(r->status, 1, "stderr: %s", r->err);
    char *lines[8] = {0};
    int n = 0;
    for (char *line = strtok(r->out, "\n"); line && n < 8; line = strtok(NULL, "\n")) lines[n++] = line;
    cr_assert_eq(n, 6, "output: %s", r->out);
    cr_expect_str_eq(lines[0], "\"Hello, world!\"");
    cr_expect_str_eq(lines[1], "\" \xEF\xBF\xBD \xEF\xBF\xBDworked\"");
    cr_expect(strstr(lines[2], "\"error\"") && strstr(lines[2], "999999"), "%s", lines[2]);
    cr_expect(strstr(lines[3], "\"error\""), "%s", lines[3]);
    cr_expect_str_eq(lines[4], "\"\"");
    cr_expect_str_eq(lines[5], "\"<|start|>hi\"");
    free(r);
}

Test(tokenizer_cli, round_trip_of_awkward_text_through_both_commands) {
    const char input[] = "\"tab\\there\\nnew \\\"quoted\\\" \\\\ back \\u0000 nul \\u2028 \\ud83d\\ude00\"\n";
    run_result *r = malloc(sizeof *r), *r2 = malloc(sizeof *r2);
    run("tokenize --jsonl " TOKENIZER_ARG, input, sizeof input - 1, r);
    cr_assert_eq(r->status, 0, "stderr: %s", r->err);
    run("detokenize --jsonl " TOKENIZER_ARG, r->out, strlen(r->out), r2);
    cr_assert_eq(r2->status, 0, "stderr: %s", r2->err);
    /* Re-encode what detokenize printed: same ids. */
    run_result *r3 = malloc(sizeof *r3);
    run("tokenize --jsonl " TOKENIZER_ARG, r2->out, strlen(r2->out), r3);
    cr_expect_str_eq(r3->out, r->out);
    free(r), free(r2), free(r3);
}

Test(tokenizer_cli, plain_modes) {
    run_result *r = malloc(sizeof *r);
    run("tokenize " TOKENIZER_ARG, "Hello, world!", 13, r);
    cr_expect_eq(r->status, 0);
    cr_expect_str_eq(r->out, "[13225, 11, 2375, 0]\n");
    run("detokenize " TOKENIZER_ARG, "13225 11 2375 0\n", 16, r);
    cr_expect_eq(r->status, 0);
    cr_expect_str_eq(r->out, "Hello, world!");
    free(r);
}

Test(tokenizer_cli, help_and_usage_errors) {
    run_result *r = malloc(sizeof *r);
    run("tokenize --help", "", 0, r);
    cr_expect_eq(r->status, 0);
    cr_expect(strstr(r->out, "usage: gptoss tokenize"), "%s", r->out);
    run("detokenize --help", "", 0, r);
    cr_expect_eq(r->status, 0);
    cr_expect(strstr(r->out, "usage: gptoss detokenize"), "%s", r->out);
    run("tokenize --jsonl", "", 0, r);
    cr_expect_eq(r->status, 2);
    cr_expect_str_eq(r->out, "");
    run("tokenize --jsonl --tokenizer /nonexistent.json", "\"x\"\n", 4, r);
    cr_expect_eq(r->status, 1);
    cr_expect_str_eq(r->out, "");
    cr_expect(strstr(r->err, "nonexistent"), "%s", r->err);
    free(r);
}
