/* assistant.c - one conversation with the model, turn by turn. */
#include "assistant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* State of one reply while it streams. */
typedef struct printer {
    const assistant *a;
    int in_final;        /* the current message is on the final channel */
    int in_other;        /* reasoning or a tool call, shown on stderr */
    int final_seen;      /* some final content was printed */
    int dim;             /* stderr is a terminal: dim the reasoning */
} printer;

static int on_event(void *user, const gptoss_harmony_event *e) {
    printer *p = user;
    const gptoss_harmony_message *m = e->message;
    switch (e->type) {
    case GPTOSS_HARMONY_EVENT_MESSAGE_START:
        p->in_final = m->channel && !strcmp(m->channel, "final");
        p->in_other = !p->in_final && p->a->show_reasoning;
        if (p->in_other) {
            fprintf(stderr, "%s[%s%s%s] ", p->dim ? "\033[2m" : "", m->channel ? m->channel : "no channel",
                    m->recipient ? " to " : "", m->recipient ? m->recipient : "");
        }
        break;
    case GPTOSS_HARMONY_EVENT_CONTENT:
        if (p->in_final) {
            fwrite(e->text, 1, e->len, stdout);
            fflush(stdout);
            p->final_seen = 1;
        } else if (p->in_other) {
            fwrite(e->text, 1, e->len, stderr);
        }
        break;
    case GPTOSS_HARMONY_EVENT_MESSAGE_END:
        if (p->in_other) fprintf(stderr, "%s\n", p->dim ? "\033[0m" : "");
        p->in_final = p->in_other = 0;
        break;
    case GPTOSS_HARMONY_EVENT_ERROR:
        if (p->a->show_reasoning) fprintf(stderr, "\n(harmony: %.*s)\n", (int)e->len, e->text ? e->text : "");
        break;
    case GPTOSS_HARMONY_EVENT_STOP: break;
    }
    return 0;
}

int assistant_open(assistant *a, const char *command, const run_options *options,
                   const gptoss_sampler_params *sampling, const char *tokenizer_path) {
    memset(a, 0, sizeof *a);
    gptoss_conversation_init(&a->conversation);
    snprintf(a->reasoning, sizeof a->reasoning, "medium");
    turn_today(a->date);
    if (!open_model(command, options, &a->model, &a->ctx)) return 0;
    gptoss_status s = tokenizer_path ? gptoss_tokenizer_load(tokenizer_path, &a->tok)
                                     : gptoss_tokenizer_load_model_dir(options->model_dir, &a->tok);
    if (s == GPTOSS_OK) s = gptoss_sampler_create(sampling, gptoss_model_config(a->model)->vocab_size, &a->sampler);
    gptoss_harmony_parser_options parser_options = {.start = GPTOSS_HARMONY_START_ASSISTANT};
    if (s == GPTOSS_OK) s = gptoss_harmony_parser_create(a->tok, &parser_options, &a->parser);
    if (s != GPTOSS_OK) {
        fprintf(stderr, "gptoss %s: %s\n", command, gptoss_last_error());
        assistant_close(a);
        return 0;
    }
    return 1;
}

void assistant_close(assistant *a) {
    gptoss_harmony_parser_free(a->parser);
    gptoss_sampler_free(a->sampler);
    gptoss_tokenizer_free(a->tok);
    gptoss_context_free(a->ctx);
    gptoss_model_free(a->model);
    gptoss_conversation_free(&a->conversation);
    free(a->system);
    memset(a, 0, sizeof *a);
}

int assistant_set_reasoning(assistant *a, const char *effort) {
    if (strcmp(effort, "low") && strcmp(effort, "medium") && strcmp(effort, "high")) {
        fprintf(stderr, "reasoning effort must be low, medium or high, not '%s'\n", effort);
        return 0;
    }
    snprintf(a->reasoning, sizeof a->reasoning, "%s", effort);
    return 1;
}

void assistant_set_system(assistant *a, const char *text) {
    free(a->system);
    a->system = text && *text ? strdup(text) : NULL;
}

void assistant_reset(assistant *a) { gptoss_conversation_free(&a->conversation); }

/* Appends a chat message owning copies of the texts. */
static int add_message(gptoss_conversation *c, gptoss_chat_role role, const char *content, size_t content_len,
                       const char *thinking, size_t thinking_len) {
    gptoss_chat_message *grown = realloc(c->messages, (c->n_messages + 1) * sizeof *grown);
    if (!grown) return 0;
    c->messages = grown;
    gptoss_chat_message *m = &c->messages[c->n_messages];
    memset(m, 0, sizeof *m);
    m->role = role;
    m->content = malloc(content_len + 1);
    if (!m->content) return 0;
    memcpy(m->content, content, content_len);
    m->content[content_len] = '\0';
    m->content_len = content_len;
    if (thinking) {
        m->thinking = malloc(thinking_len + 1);
        if (m->thinking) {
            memcpy(m->thinking, thinking, thinking_len);
            m->thinking[thinking_len] = '\0';
            m->thinking_len = thinking_len;
        }
    }
    c->n_messages++;
    return 1;
}

/* The conversation as sent: developer instructions first, then the turns. */
static gptoss_status render(assistant *a, gptoss_harmony_rendering *out) {
    gptoss_conversation *c = &a->conversation;
    free(c->current_date);
    free(c->reasoning_effort);
    c->current_date = strdup(a->date);
    c->reasoning_effort = strdup(a->reasoning);
    c->add_generation_prompt = true;
    gptoss_status s;
    if (a->system) {
        /* A leading developer message carries the instructions. */
        gptoss_conversation with = *c;
        gptoss_chat_message *messages = malloc((c->n_messages + 1) * sizeof *messages);
        if (!messages) return GPTOSS_ERROR_OUT_OF_MEMORY;
        messages[0] = (gptoss_chat_message){.role = GPTOSS_CHAT_DEVELOPER, .content = a->system,
                                            .content_len = strlen(a->system)};
        memcpy(messages + 1, c->messages, c->n_messages * sizeof *messages);
        with.messages = messages;
        with.n_messages = c->n_messages + 1;
        s = gptoss_conversation_render(a->tok, &with, false, out);
        free(messages);
    } else {
        s = gptoss_conversation_render(a->tok, c, false, out);
    }
    return s;
}

/* Prints whatever the model wrote when it never reached a final message: the
 * parsed messages' text, or the decoded tokens if no header ever completed. */
static void print_stray_text(const assistant *a, const gptoss_ids *generated) {
    size_t n, written = 0;
    const gptoss_harmony_message *messages = gptoss_harmony_parser_messages(a->parser, &n);
    for (size_t i = 0; i < n; i++) written += fwrite(messages[i].content, 1, messages[i].content_len, stdout);
    const gptoss_harmony_message *current = gptoss_harmony_parser_current(a->parser);
    if (current) written += fwrite(current->content, 1, current->content_len, stdout);
    if (!written && generated->len) {
        char *text = NULL;
        size_t len = 0;
        if (gptoss_tokenizer_decode(a->tok, generated->data, generated->len, &text, &len) == GPTOSS_OK)
            fwrite(text, 1, len, stdout);
        free(text);
    }
    fputc('\n', stdout);
    fflush(stdout);
    fprintf(stderr, "note: the model wrote no final message (a random test model rarely emits a harmony "
                    "header); above is the text it produced\n");
}

/* Records the reply in the conversation: the final text, and its reasoning. */
static void remember_reply(assistant *a) {
    size_t n;
    const gptoss_harmony_message *messages = gptoss_harmony_parser_messages(a->parser, &n);
    const gptoss_harmony_message *final = NULL, *analysis = NULL;
    for (size_t i = 0; i < n; i++) {
        if (messages[i].channel && !strcmp(messages[i].channel, "final")) final = &messages[i];
        if (messages[i].channel && !strcmp(messages[i].channel, "analysis")) analysis = &messages[i];
    }
    if (!final) final = gptoss_harmony_parser_current(a->parser);
    add_message(&a->conversation, GPTOSS_CHAT_ASSISTANT, final ? final->content : "", final ? final->content_len : 0,
                analysis ? analysis->content : NULL, analysis ? analysis->content_len : 0);
}

int assistant_turn(assistant *a, const char *user_text, volatile sig_atomic_t *cancel, turn_stats *stats) {
    if (!add_message(&a->conversation, GPTOSS_CHAT_USER, user_text, strlen(user_text), NULL, 0)) {
        fprintf(stderr, "out of memory\n");
        return -1;
    }
    gptoss_harmony_rendering prompt = {0};
    if (render(a, &prompt) != GPTOSS_OK) {
        fprintf(stderr, "cannot render the conversation: %s\n", gptoss_last_error());
        gptoss_harmony_rendering_free(&prompt);
        return -1;
    }
    printer p = {.a = a, .dim = isatty(STDERR_FILENO)};
    gptoss_ids generated = {0};
    const turn_options options = {
        .max_tokens = a->max_tokens, .on_event = on_event, .user = &p, .cancel = cancel, .generated = &generated};
    gptoss_status s = turn_run(a->ctx, a->tok, a->sampler, a->parser, prompt.ids.data, (uint32_t)prompt.ids.len,
                               &options, stats);
    gptoss_harmony_rendering_free(&prompt);
    if (s != GPTOSS_OK) {
        free(generated.data);
        fprintf(stderr, "%s\n", gptoss_last_error());
        return -1;
    }
    if (p.final_seen) {
        fputc('\n', stdout);
        fflush(stdout);
    } else {
        print_stray_text(a, &generated);
    }
    free(generated.data);
    remember_reply(a);
    return p.final_seen;
}

assistant_options assistant_options_default(void) {
    assistant_options o = {.run = run_options_default(GPTOSS_PRECISION_FAST),
                           .sampling = gptoss_sampler_default_params(),
                           .reasoning = "medium"};
    return o;
}

const char assistant_options_help[] =
    "  --system TEXT      developer instructions\n"
    "  --reasoning R      low, medium (default) or high\n"
    "  --show-reasoning   print the chain of thought to stderr (dimmed)\n"
    "  -n N               at most N generated tokens per reply (default: until the context is full)\n"
    "  --tokenizer FILE   tokenizer.json (default: DIR/tokenizer.json)\n";

int parse_assistant_option(const char *command, int argc, char **argv, int *i, assistant_options *o) {
    int r = parse_run_option(argc, argv, i, &o->run);
    if (r == 0) r = parse_sampling_option(argc, argv, i, &o->sampling);
    if (r != 0) return r;
    const char *arg = argv[*i];
    const char **text = !strcmp(arg, "--system")      ? &o->system
                        : !strcmp(arg, "--reasoning") ? &o->reasoning
                        : !strcmp(arg, "--tokenizer") ? &o->tokenizer
                                                      : NULL;
    if (text) return (*text = option_value(argc, argv, i)) ? 1 : -1;
    if (!strcmp(arg, "--show-reasoning")) {
        o->show_reasoning = 1;
        return 1;
    }
    if (strcmp(arg, "-n")) return 0;
    const char *value = option_value(argc, argv, i);
    if (!value || !parse_u32(value, &o->max_tokens)) {
        fprintf(stderr, "gptoss %s: -n needs a non-negative integer\n", command);
        return -1;
    }
    return 1;
}

int assistant_open_with(assistant *a, const char *command, const assistant_options *o) {
    if (!assistant_open(a, command, &o->run, &o->sampling, o->tokenizer)) return 0;
    if (!assistant_set_reasoning(a, o->reasoning)) {
        assistant_close(a);
        return 0;
    }
    assistant_set_system(a, o->system);
    a->show_reasoning = o->show_reasoning;
    a->max_tokens = o->max_tokens;
    return 1;
}
