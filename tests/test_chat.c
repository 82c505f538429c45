/* test_chat.c - `gptoss run` and `gptoss chat` end to end on a small random
 * model with the real vocabulary and tokenizer (made here with the
 * checkpoint generator). The text is gibberish; the tests check exit status,
 * output shape and token counts, and that the second chat turn reuses the
 * KV cache instead of processing the whole conversation again. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_support.h"

static char *model_dir;

/* A 2-layer model with the 201088-token vocabulary and the release tokenizer. */
static void make_model(void) { model_dir = make_mini_vocab_model(7); }

static void remove_model(void) {
    remove_dir(model_dir);
    free(model_dir);
}

TestSuite(chat, .init = make_model, .fini = remove_model, .timeout = 120);

Test(chat, run_prints_an_answer_and_counts) {
    char *argv[] = {GPTOSS_BINARY, "run", "--model", model_dir, "-p", "What is 2 + 2?", "-n", "24",
                    "--seed", "1", "--reasoning", "low", NULL};
    command_result r = run_command(argv, NULL);
    cr_assert_eq(r.exit_code, 0, "gptoss run failed: %s", r.err);
    cr_expect_gt(strlen(r.out), 1, "something on stdout");
    cr_expect(strstr(r.err, "generated: 24 tokens") || strstr(r.err, "generated: "), "stats on stderr: %s", r.err);
    cr_expect(strstr(r.err, "precision: fast"), "run defaults to the fast precision");
    command_result_free(&r);
}

Test(chat, run_rejects_bad_reasoning) {
    char *argv[] = {GPTOSS_BINARY, "run", "--model", model_dir, "-p", "hi", "--reasoning", "extreme", NULL};
    command_result r = run_command(argv, NULL);
    cr_expect_neq(r.exit_code, 0);
    cr_expect(strstr(r.err, "extreme"), "%s", r.err);
    command_result_free(&r);
}

/* Reads from fd into buf until `needle` appears after offset `from`, or the deadline passes. */
static int read_until(int fd, char *buf, size_t cap, size_t *len, size_t from, const char *needle, double seconds) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        buf[*len] = '\0';
        if (strstr(buf + from, needle)) return 1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double left = seconds - ((double)(now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) * 1e-9);
        if (left <= 0 || *len + 1 >= cap) return 0;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)(left * 1000) + 1) <= 0) continue;
        ssize_t n = read(fd, buf + *len, cap - 1 - *len);
        if (n <= 0) return 0;
        *len += (size_t)n;
    }
}

/* "[prompt N tokens, M processed" after offset: fills N and M. */
static int turn_counts(const char *text, unsigned *prompt, unsigned *processed) {
    const char *at = strstr(text, "[prompt ");
    return at && sscanf(at, "[prompt %u tokens, %u processed", prompt, processed) == 2;
}

Test(chat, two_turns_on_a_terminal_reuse_the_cache) {
    int master;
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    cr_assert(pid >= 0, "forkpty failed");
    if (pid == 0) {
        execl(GPTOSS_BINARY, GPTOSS_BINARY, "chat", "--model", model_dir, "-n", "12", "--seed", "3", (char *)NULL);
        _exit(127);
    }
    enum { CAP = 1 << 16 };
    char *buf = calloc(CAP, 1);
    size_t len = 0;
    cr_assert(read_until(master, buf, CAP, &len, 0, "> ", 60), "no prompt; got: %s", buf);
    usleep(300000); /* let libedit take the terminal before typing */
    const char *first = "Hello there, how are you today?\r";
    cr_assert_eq(write(master, first, strlen(first)), (ssize_t)strlen(first));
    cr_assert(read_until(master, buf, CAP, &len, 0, " tok/s", 60), "no first reply; got: %s", buf);
    unsigned prompt1, processed1;
    cr_assert(turn_counts(buf, &prompt1, &processed1), "no counts in: %s", buf);
    cr_expect_eq(processed1, prompt1, "the first turn computes its whole prompt");
    const size_t mark = (size_t)(strstr(buf, " tok/s") - buf) + 6; /* the second turn's output starts after */
    cr_assert(read_until(master, buf, CAP, &len, mark, "> ", 30), "no second prompt; got: %s", buf + mark);
    usleep(300000);
    const char *second = "Tell me more about that, please.\r";
    cr_assert_eq(write(master, second, strlen(second)), (ssize_t)strlen(second));
    cr_assert(read_until(master, buf, CAP, &len, mark, " tok/s", 60), "no second reply; got: %s", buf + mark);
    unsigned prompt2, processed2;
    cr_assert(turn_counts(buf + mark, &prompt2, &processed2), "no counts in: %s", buf + mark);
    cr_expect_gt(prompt2, prompt1, "the second prompt holds the whole conversation");
    cr_expect_lt(processed2, prompt2, "second turn: %u of %u prompt tokens processed (cache not reused)",
                 processed2, prompt2);
    cr_expect_leq(processed2, prompt2 - prompt1 + 2, "second turn: %u processed, expected about %u", processed2,
                  prompt2 - prompt1);
    /* Wait for the next prompt: input typed before libedit takes the terminal may be flushed. */
    const size_t after = (size_t)(strstr(buf + mark, " tok/s") - buf) + 6;
    cr_expect(read_until(master, buf, CAP, &len, after, "> ", 30), "no third prompt");
    /* Ctrl-D leaves. A key typed before libedit has switched the terminal to
     * raw mode can be lost or taken literally (a person types later), so wait
     * a moment, and clear the line and type it again if needed. */
    usleep(300000);
    int status = 0;
    for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; i++) {
        if (i % 10 == 0) cr_assert_eq(write(master, "\x15\x04", 2), 2); /* Ctrl-U clears a stray key first */
        usleep(100000);
    }
    if (waitpid(pid, &status, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        read_until(master, buf, CAP, &len, len, "\x01", 1); /* whatever it printed since */
        const size_t tail = len > 300 ? len - 300 : 0;
        cr_assert_fail("chat did not leave on Ctrl-D; last output: %s", buf + tail);
    }
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "chat exited with status %d", status);
    close(master);
    free(buf);
}
