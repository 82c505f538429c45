/* cmd_chat.c - `gptoss chat`: an interactive multi-turn conversation. Line
 * editing and history come from libedit; Ctrl-C stops a reply and returns to
 * the prompt; each turn reuses the KV cache of the conversation so far. */
#include <editline/readline.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assistant.h"
#include "commands.h"
#include "options.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int signal_number) {
    (void)signal_number;
    interrupted = 1;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: gptoss chat --model DIR [options]\n\n"
            "An interactive conversation. Commands at the prompt:\n"
            "  /reset             start a new conversation\n"
            "  /reasoning R       low, medium or high\n"
            "  /system TEXT       developer instructions (empty: none)\n"
            "  /quit              leave (or Ctrl-D); Ctrl-C stops a reply\n\n"
            "  --system TEXT      initial developer instructions\n"
            "  --reasoning R      initial reasoning effort (default medium)\n"
            "  --show-reasoning   print the chain of thought to stderr (dimmed)\n"
            "  -n N               at most N tokens per reply\n"
            "  --tokenizer FILE   tokenizer.json (default: DIR/tokenizer.json)\n"
            "%s%s",
            sampling_options_help, run_options_help);
}

/* One line from the user: libedit on a terminal, plain reads otherwise.
 * NULL at the end of input. */
static char *read_line(int interactive) {
    if (interactive) {
        char *line = readline("> ");
        if (line && *line) add_history(line);
        return line;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n') line[n - 1] = '\0';
    return line;
}

/* Handles a /command; returns 0 to leave. */
static int command(assistant *a, const char *line) {
    if (!strcmp(line, "/quit") || !strcmp(line, "/exit")) return 0;
    if (!strcmp(line, "/reset")) {
        assistant_reset(a);
        fprintf(stderr, "(new conversation)\n");
    } else if (!strncmp(line, "/reasoning", 10)) {
        const char *effort = line + 10;
        while (*effort == ' ') effort++;
        if (assistant_set_reasoning(a, effort)) fprintf(stderr, "(reasoning effort: %s)\n", effort);
    } else if (!strncmp(line, "/system", 7)) {
        const char *text = line + 7;
        while (*text == ' ') text++;
        assistant_set_system(a, text);
        fprintf(stderr, *text ? "(developer instructions set)\n" : "(developer instructions cleared)\n");
    } else {
        fprintf(stderr, "commands: /reset, /reasoning low|medium|high, /system TEXT, /quit\n");
    }
    return 1;
}

int cmd_chat(int argc, char **argv) {
    run_options options = run_options_default(GPTOSS_PRECISION_FAST);
    gptoss_sampler_params sampling = gptoss_sampler_default_params();
    const char *system = NULL, *reasoning = "medium", *tokenizer = NULL;
    int show_reasoning = 0;
    uint32_t max_tokens = 0;
    for (int i = 1; i < argc; i++) {
        int r = parse_run_option(argc, argv, &i, &options);
        if (r == 0) r = parse_sampling_option(argc, argv, &i, &sampling);
        if (r < 0) return 2;
        if (r > 0) continue;
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(arg, "--system")) {
            if (!(system = option_value(argc, argv, &i))) return 2;
        } else if (!strcmp(arg, "--reasoning")) {
            if (!(reasoning = option_value(argc, argv, &i))) return 2;
        } else if (!strcmp(arg, "--tokenizer")) {
            if (!(tokenizer = option_value(argc, argv, &i))) return 2;
        } else if (!strcmp(arg, "--show-reasoning")) {
            show_reasoning = 1;
        } else if (!strcmp(arg, "-n")) {
            const char *value = option_value(argc, argv, &i);
            if (!value || !parse_u32(value, &max_tokens)) {
                fprintf(stderr, "gptoss chat: -n needs a non-negative integer\n");
                return 2;
            }
        } else {
            fprintf(stderr, "gptoss chat: unknown option '%s'\n", arg);
            usage(stderr);
            return 2;
        }
    }
    assistant a;
    if (!assistant_open(&a, "chat", &options, &sampling, tokenizer)) return 1;
    if (!assistant_set_reasoning(&a, reasoning)) {
        assistant_close(&a);
        return 2;
    }
    assistant_set_system(&a, system);
    a.show_reasoning = show_reasoning;
    a.max_tokens = max_tokens;
    const int interactive = isatty(STDIN_FILENO);
    struct sigaction action = {.sa_handler = on_sigint};
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    fprintf(stderr, "chat: type a message, /help for commands, Ctrl-D to leave\n");
    for (;;) {
        interrupted = 0;
        char *line = read_line(interactive);
        if (!line) {
            if (interrupted) continue; /* Ctrl-C at the prompt: a fresh prompt */
            break;
        }
        if (!*line) {
            free(line);
            continue;
        }
        if (line[0] == '/') {
            const int go_on = command(&a, line);
            free(line);
            if (!go_on) break;
            continue;
        }
        turn_stats stats;
        const int r = assistant_turn(&a, line, &interrupted, &stats);
        free(line);
        if (r < 0) continue;
        fprintf(stderr, "[prompt %u tokens, %u processed; %u generated in %.2f s, %.2f tok/s%s]\n",
                stats.prompt_tokens, stats.processed_tokens, stats.generated_tokens, stats.decode_seconds,
                stats.decode_seconds > 0 ? stats.generated_tokens / stats.decode_seconds : 0.0,
                stats.cancelled ? "; stopped by Ctrl-C" : stats.context_full ? "; context full" : "");
    }
    assistant_close(&a);
    return 0;
}
