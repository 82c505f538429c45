/* cmd_render.c - `gptoss render`: conversations (one JSON object per stdin
 * line) -> harmony prompt token ids, or the rendered text with --text. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "harmony.h"
#include "harmony_cli.h"
#include "tokenizer_json.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: gptoss render (--model DIR | --tokenizer FILE) [--text] [--no-cache]\n"
            "\n"
            "Renders conversations into the harmony prompt format of gpt-oss. Each stdin line is\n"
            "one JSON object:\n"
            "  messages               [{role, content, thinking, tool_calls, tool_call_id, name}]\n"
            "  tools                  OpenAI function tools ({\"type\": \"function\", \"function\":\n"
            "                         {name, description, parameters}}), or null\n"
            "  reasoning_effort       \"low\" | \"medium\" | \"high\" (default medium)\n"
            "  builtin_tools          [\"browser\", \"python\"] or null\n"
            "  model_identity         default \"You are ChatGPT, a large language model trained by OpenAI.\"\n"
            "  knowledge_cutoff       default \"2024-06\"\n"
            "  current_date           e.g. \"2025-06-28\"; none: no date line\n"
            "  add_generation_prompt  default true: end with <|start|>assistant; false: training\n"
            "                         style (a last final answer ends with <|return|>)\n"
            "Missing or null fields take the defaults. Chain of thought of finished turns (analysis\n"
            "before the last final answer) is left out.\n"
            "\n"
            "Prints one JSON array of token ids per line.\n"
            "  --text       print the rendered text as one JSON string per line instead\n"
            "  --no-cache   neither read nor write the binary tokenizer cache\n"
            "\n"
            "A bad input line prints {\"error\": \"...\"} in its place; the rest go on and the exit\n"
            "status is 1.\n");
}

typedef struct render_context {
    const gptoss_tokenizer *tok;
    bool text;
} render_context;

static bool render_line(void *context, const char *line, size_t len, gptoss_bytes *out) {
    const render_context *rc = context;
    gptoss_conversation conversation;
    gptoss_harmony_rendering rendering = {0};
    gptoss_status status = gptoss_conversation_parse(line, len, &conversation);
    if (status == GPTOSS_OK) status = gptoss_conversation_render(rc->tok, &conversation, rc->text, &rendering);
    gptoss_conversation_free(&conversation);
    if (status != GPTOSS_OK) {
        harmony_cli_append_error(out, gptoss_last_error());
        return false;
    }
    if (rc->text) {
        gptoss_json_append_string(out, rendering.text.data, rendering.text.len);
    } else {
        gptoss_bytes_append_str(out, "[");
        for (size_t i = 0; i < rendering.ids.len; i++) {
            char number[16];
            snprintf(number, sizeof number, i ? ", %u" : "%u", rendering.ids.data[i]);
            gptoss_bytes_append_str(out, number);
        }
        gptoss_bytes_append_str(out, "]");
    }
    gptoss_harmony_rendering_free(&rendering);
    return true;
}

int cmd_render(int argc, char **argv) {
    harmony_cli_options options = {0};
    render_context context = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--text")) context.text = true;
        else if (!harmony_cli_tokenizer_option(argc, argv, &i, &options)) {
            fprintf(stderr, "gptoss render: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    gptoss_tokenizer *tok = harmony_cli_load("render", &options);
    if (!tok) return options.model_dir || options.tokenizer_path ? 1 : 2;
    context.tok = tok;
    int status = harmony_cli_run_lines("render", render_line, &context);
    gptoss_tokenizer_free(tok);
    return status;
}
