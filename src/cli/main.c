/* main.c - `gptoss <command> [options]`: dispatches to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"logits", cmd_logits, "write float32 logits of every position to a file"},
    {"generate", cmd_generate, "generate N token ids after a prompt of ids"},
    {"run", cmd_run, "answer one question (harmony chat format), streaming the answer"},
    {"chat", cmd_chat, "interactive multi-turn chat"},
    {"serve", cmd_serve, "OpenAI-compatible HTTP server (chat completions, Responses)"},
    {"synth", cmd_synth, "write a random checkpoint in the release layout (any shape)"},
    {"tokenize", cmd_tokenize, "encode text to token ids (o200k_harmony tokenizer)"},
    {"detokenize", cmd_detokenize, "decode token ids to text"},
    {"render", cmd_render, "render conversations (JSON) into harmony prompt token ids"},
    {"parse", cmd_parse, "parse generated token ids into harmony messages"},
};

static void usage(FILE *out) {
    fprintf(out, "usage: gptoss <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`gptoss <command> --help` describes a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "gptoss: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
