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
            "%s%s%s",
            assistant_options_help, sampling_options_help, run_options_help);
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
    assistant_options options = assistant_options_default();
    for (int i = 1; i < argc; i++) {
        const int r = parse_assistant_option("chat", argc, argv, &i, &options);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "gptoss chat: unknown option '%s'\n", argv[i]);
        usage(stderr);
        return 2;
    }
    assistant a;
    if (!assistant_open_with(&a, "chat", &options)) return 1;
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
