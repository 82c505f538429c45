/* harmony.h - the harmony chat format of gpt-oss (internal API): rendering a
 * conversation into prompt token ids, and parsing generated token ids back
 * into messages, incrementally.
 *
 * Two levels of messages:
 *
 *  - a *conversation* (gptoss_conversation) is the chat shape that APIs and
 *    the fixture records use (OpenAI / Hugging Face: system, developer, user,
 *    assistant with content / thinking / tool_calls, tool results) plus the
 *    system settings (identity, reasoning effort, dates, built-in tools) and
 *    the function tools as JSON schemas;
 *  - a *harmony message* (gptoss_harmony_message) is one
 *    <|start|>author to=recipient<|channel|>channel content_type<|message|>content<|end|>
 *    unit of the format itself. The parser produces these, and a chat loop
 *    can render them directly (e.g. the parsed assistant messages followed by
 *    a built-in tool's result on the analysis channel).
 *
 * gptoss_conversation_to_harmony maps the first into the second (the system
 * and developer messages, the chat messages, minus the chain of thought of
 * finished turns); gptoss_harmony_render turns harmony messages into ids and
 * text. The rules are those of the project's harmony fixtures (RENDERING.md,
 * PARSING.md): the openai/harmony renderer, with analysis dropped before the
 * last final answer.
 *
 * Strings are NUL-terminated UTF-8 and malloc'ed when owned; NULL means
 * absent. Texts that may hold U+0000 carry a length as well. */
#ifndef GPTOSS_HARMONY_H
#define GPTOSS_HARMONY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gptoss.h"
#include "harmony_json.h"
#include "tokenizer.h"
#include "tokenizer_buffer.h"

/* ------------------------------------------------------------------------ */
/* Harmony messages                                                          */
/* ------------------------------------------------------------------------ */

typedef enum gptoss_harmony_role {
    GPTOSS_HARMONY_SYSTEM,
    GPTOSS_HARMONY_DEVELOPER,
    GPTOSS_HARMONY_USER,
    GPTOSS_HARMONY_ASSISTANT,
    GPTOSS_HARMONY_TOOL, /* a tool's output; the author is `name` ("functions.get_weather") */
} gptoss_harmony_role;

/* "system", "developer", "user", "assistant", "tool". */
const char *gptoss_harmony_role_name(gptoss_harmony_role role);

typedef struct gptoss_harmony_message {
    gptoss_harmony_role role;
    char *name;         /* TOOL: the author written instead of the role word ("functions.x",
                           "browser.search", "python"); other roles: NULL (or `role:name`) */
    char *recipient;    /* "functions.x", "browser.search", "python"; "assistant" on tool results */
    char *channel;      /* "analysis", "commentary", "final", or any word; NULL: none */
    char *content_type; /* "<|constrain|>json" (the marker is rendered as its token), "code", "json" */
    char *content;      /* the body; never NULL in a list built here */
    size_t content_len;
    /* Set by the parser only (the renderer ignores them): */
    uint32_t terminator; /* id that closed it: <|end|>, <|return|>, <|call|>; 0 = none */
    bool incomplete;     /* the stream ended inside the content (truncated) */
} gptoss_harmony_message;

/* A growable list of harmony messages; zero-initialise. Owns its strings. */
typedef struct gptoss_harmony_messages {
    gptoss_harmony_message *items;
    size_t count, capacity;
} gptoss_harmony_messages;

/* Appends a deep copy of *message. */
gptoss_status gptoss_harmony_messages_append(gptoss_harmony_messages *list, const gptoss_harmony_message *message);

/* Appends a message built from the given parts (copied; NULL = absent;
 * content may be NULL for empty, content_len SIZE_MAX for strlen). */
gptoss_status gptoss_harmony_messages_push(gptoss_harmony_messages *list, gptoss_harmony_role role, const char *name,
                                           const char *recipient, const char *channel, const char *content_type,
                                           const char *content, size_t content_len);

/* Removes item i (later ones move down). */
void gptoss_harmony_messages_remove(gptoss_harmony_messages *list, size_t i);

/* Frees the strings of one message (not the struct itself). */
void gptoss_harmony_message_clear(gptoss_harmony_message *message);

void gptoss_harmony_messages_free(gptoss_harmony_messages *list);

/* ------------------------------------------------------------------------ */
/* Conversations (chat shape)                                               */
/* ------------------------------------------------------------------------ */

typedef enum gptoss_chat_role {
    GPTOSS_CHAT_SYSTEM,
    GPTOSS_CHAT_DEVELOPER,
    GPTOSS_CHAT_USER,
    GPTOSS_CHAT_ASSISTANT,
    GPTOSS_CHAT_TOOL,
    GPTOSS_CHAT_OTHER, /* any other role word: rendered as nothing */
} gptoss_chat_role;

typedef struct gptoss_chat_tool_call {
    char *id;        /* matches a tool message's tool_call_id; may be NULL */
    char *name;      /* the function's name, without "functions." */
    char *arguments; /* rendered verbatim (a JSON object's text, normally) */
    size_t arguments_len;
} gptoss_chat_tool_call;

typedef struct gptoss_chat_message {
    gptoss_chat_role role;
    char *content; /* NULL: absent (renders as empty) */
    size_t content_len;
    char *thinking; /* assistant chain of thought; NULL: absent */
    size_t thinking_len;
    gptoss_chat_tool_call *tool_calls; /* assistant */
    size_t n_tool_calls;
    char *tool_call_id; /* tool: the call this answers */
    char *name;         /* tool: the function's name (fallback when no id matches) */
} gptoss_chat_message;

/* A function tool (OpenAI shape: tools[i].function). */
typedef struct gptoss_function_tool {
    char *name;
    char *description; /* NULL: none (one empty comment line) */
    gptoss_json_value *parameters; /* JSON schema; NULL: the tool takes no parameters */
} gptoss_function_tool;

enum {
    GPTOSS_BUILTIN_BROWSER = 1u << 0,
    GPTOSS_BUILTIN_PYTHON = 1u << 1,
};

typedef struct gptoss_conversation {
    /* System settings; NULL or "" selects the default. */
    char *model_identity;   /* "You are ChatGPT, a large language model trained by OpenAI." */
    char *knowledge_cutoff; /* "2024-06" */
    char *current_date;     /* no default: the date line is left out */
    char *reasoning_effort; /* "medium"; copied verbatim ("low", "medium", "high") */
    unsigned builtin_tools; /* GPTOSS_BUILTIN_* bits */
    /* false (records, RENDERING.md §8): every tool call is functions.NAME on
     * commentary. true (the server, whose clients send back what the model
     * called): a call to an enabled built-in tool (python, browser.*) and its
     * result render as the model writes them, on analysis, content type code. */
    bool native_builtin_calls;
    gptoss_function_tool *tools;
    size_t n_tools;
    gptoss_chat_message *messages;
    size_t n_messages;
    bool add_generation_prompt; /* true: end with <|start|>assistant; false: training style */
} gptoss_conversation;

/* An empty conversation with the defaults (add_generation_prompt true). */
void gptoss_conversation_init(gptoss_conversation *conversation);

/* Frees everything a conversation owns and re-initialises it. */
void gptoss_conversation_free(gptoss_conversation *conversation);

/* Builds a conversation from one record (a JSON object) with the fields of
 * the fixture files: messages (role, content, thinking, tool_calls,
 * tool_call_id, name), tools, reasoning_effort, builtin_tools,
 * model_identity, current_date, knowledge_cutoff, add_generation_prompt.
 * Missing or null fields take the defaults; unknown keys are ignored. Also
 * accepts the OpenAI request shapes: content as an array of {"type": "text",
 * "text": ...} parts, `reasoning_content` for thinking, string arguments.
 * Errors (GPTOSS_ERROR_FORMAT) name the offending field. On failure *out is
 * left empty (initialised). */
gptoss_status gptoss_conversation_from_json(const gptoss_json_value *record, gptoss_conversation *out);

/* Same from JSON text. */
gptoss_status gptoss_conversation_parse(const char *json, size_t len, gptoss_conversation *out);

/* ------------------------------------------------------------------------ */
/* Rendering                                                                */
/* ------------------------------------------------------------------------ */

/* The system message body (RENDERING.md §4, §5). */
gptoss_status gptoss_harmony_system_text(const gptoss_conversation *conversation, gptoss_bytes *out);

/* The developer message body: "# Instructions\n\n" + instructions (if
 * non-empty) and the functions namespace (if n_tools > 0), joined by a
 * blank line. Appends nothing when both are absent. */
gptoss_status gptoss_harmony_developer_text(const char *instructions, size_t instructions_len,
                                            const gptoss_function_tool *tools, size_t n_tools, gptoss_bytes *out);

/* A JSON schema as the TypeScript-like type text of the tools section
 * (RENDERING.md §7) at indentation 0. */
gptoss_status gptoss_harmony_schema_text(const gptoss_json_value *schema, gptoss_bytes *out);

/* Maps a conversation to harmony messages (appended to *out): the system
 * message, the developer message when there are instructions or function
 * tools, the chat messages (§8), then drops the chain of thought of
 * finished turns (gptoss_harmony_drop_analysis). */
gptoss_status gptoss_conversation_to_harmony(const gptoss_conversation *conversation, gptoss_harmony_messages *out);

/* The chain-of-thought rule: removes every message on the `analysis` channel
 * that comes before the last `final` one (or, when !generation_prompt and
 * that final message is the very last message, before the previous final). */
void gptoss_harmony_drop_analysis(gptoss_harmony_messages *list, bool generation_prompt);

typedef enum gptoss_harmony_ending {
    GPTOSS_HARMONY_END_PLAIN,      /* the messages only */
    GPTOSS_HARMONY_END_GENERATION, /* then <|start|>assistant: a prompt to sample from */
    GPTOSS_HARMONY_END_TRAINING,   /* a last assistant `final` message ends with <|return|> */
} gptoss_harmony_ending;

/* Token ids of a rendering and, when asked for, its text (special tokens
 * spelled out). */
typedef struct gptoss_harmony_rendering {
    gptoss_ids ids;
    gptoss_bytes text; /* empty unless requested */
} gptoss_harmony_rendering;

void gptoss_harmony_rendering_free(gptoss_harmony_rendering *rendering);

/* Appends one message's ids (and text when `text` is non-NULL): structure
 * tokens as ids, each text piece encoded on its own as plain text. */
gptoss_status gptoss_harmony_render_message(const gptoss_tokenizer *tok, const gptoss_harmony_message *message,
                                            gptoss_ids *ids, gptoss_bytes *text);

/* Renders messages[0..n) and the ending. want_text also fills out->text. */
gptoss_status gptoss_harmony_render(const gptoss_tokenizer *tok, const gptoss_harmony_message *messages, size_t n,
                                    gptoss_harmony_ending ending, bool want_text, gptoss_harmony_rendering *out);

/* gptoss_conversation_to_harmony + gptoss_harmony_render, ending by the
 * conversation's add_generation_prompt (GENERATION or TRAINING). */
gptoss_status gptoss_conversation_render(const gptoss_tokenizer *tok, const gptoss_conversation *conversation,
                                         bool want_text, gptoss_harmony_rendering *out);

/* ------------------------------------------------------------------------ */
/* Parsing generated tokens                                                 */
/* ------------------------------------------------------------------------ */

typedef enum gptoss_harmony_start {
    GPTOSS_HARMONY_START_AUTO = 0, /* a stream whose first token is <|start|> names its own role;
                                      any other continues a prompt's <|start|>assistant */
    GPTOSS_HARMONY_START_ASSISTANT, /* always a completion after <|start|>assistant */
    GPTOSS_HARMONY_START_MESSAGE,   /* always expect <|start|> first (a stored prompt) */
} gptoss_harmony_start;

/* Parser options; zero-initialise for the defaults (lenient, AUTO). */
typedef struct gptoss_harmony_parser_options {
    bool strict; /* false (lenient): a terminator before <|message|> in the first header
                    makes the header text the content; an id that is not a token is
                    decoded as U+FFFD. true: both are errors, as in the reference. */
    gptoss_harmony_start start;
} gptoss_harmony_parser_options;

typedef enum gptoss_harmony_event_type {
    GPTOSS_HARMONY_EVENT_MESSAGE_START, /* a header is complete: message has role, name,
                                           channel, recipient, content_type, empty content */
    GPTOSS_HARMONY_EVENT_CONTENT,       /* text/len: more content of the current message
                                           (always whole UTF-8 characters) */
    GPTOSS_HARMONY_EVENT_MESSAGE_END,   /* message is complete (content, terminator, incomplete) */
    GPTOSS_HARMONY_EVENT_STOP,          /* <|return|> or <|call|> closed a message, or the stream
                                           ended (<|endoftext|>, gptoss_harmony_parser_finish):
                                           stop sampling */
    GPTOSS_HARMONY_EVENT_ERROR,         /* text: the stream is malformed; the parser ignores
                                           everything after it (completed messages stay) */
} gptoss_harmony_event_type;

/* Pointers in an event are valid until the next call on the parser. A
 * message that arrives whole in one token (lenient: a terminator before
 * <|message|>) gives START, CONTENT and END at once, all pointing at the
 * completed message. */
typedef struct gptoss_harmony_event {
    gptoss_harmony_event_type type;
    const gptoss_harmony_message *message; /* MESSAGE_START, CONTENT, MESSAGE_END */
    const char *text;                      /* CONTENT: the delta; ERROR: the message */
    size_t len;
    uint32_t token; /* STOP: the token that stopped (0 for the end of the stream) */
} gptoss_harmony_event;

typedef struct gptoss_harmony_parser gptoss_harmony_parser;

/* tok must outlive the parser. options may be NULL. */
gptoss_status gptoss_harmony_parser_create(const gptoss_tokenizer *tok, const gptoss_harmony_parser_options *options,
                                           gptoss_harmony_parser **out);

void gptoss_harmony_parser_free(gptoss_harmony_parser *parser);

/* Starts over (same options); completed messages are forgotten. */
void gptoss_harmony_parser_reset(gptoss_harmony_parser *parser);

/* Feeds one generated token. *events receives what it caused (0..4 events,
 * in order), valid until the next call on this parser. Malformed input is
 * never a failure status: it gives an ERROR event; only running out of
 * memory fails. */
gptoss_status gptoss_harmony_parser_push(gptoss_harmony_parser *parser, uint32_t token,
                                         const gptoss_harmony_event **events, size_t *n_events);

/* Ends the stream (max tokens reached or sampling over): a message still in
 * its content is completed with incomplete = true; a stream that ends inside
 * a header is an error. Later pushes are ignored until a reset. */
gptoss_status gptoss_harmony_parser_finish(gptoss_harmony_parser *parser, const gptoss_harmony_event **events,
                                           size_t *n_events);

/* The completed messages so far. */
const gptoss_harmony_message *gptoss_harmony_parser_messages(const gptoss_harmony_parser *parser, size_t *count);

/* The message whose content is being read (header parsed, content so far),
 * or NULL. */
const gptoss_harmony_message *gptoss_harmony_parser_current(const gptoss_harmony_parser *parser);

/* The error that stopped parsing, or NULL. */
const char *gptoss_harmony_parser_error(const gptoss_harmony_parser *parser);

/* Whether the parser takes no more tokens (after an error or the end of the stream). */
bool gptoss_harmony_parser_done(const gptoss_harmony_parser *parser);

/* The ids a sampler should stop on: <|return|>, <|call|> and <|endoftext|>
 * (never <|end|>: more messages follow it). Returns how many were written. */
size_t gptoss_harmony_stop_tokens(const gptoss_tokenizer *tok, uint32_t out[3]);

/* Parses a whole token list: pushes every id, then finishes. The completed
 * messages are appended to *out; *error gets a malloc'ed copy of the parse
 * error or NULL. */
gptoss_status gptoss_harmony_parse(const gptoss_tokenizer *tok, const uint32_t *ids, size_t n,
                                   const gptoss_harmony_parser_options *options, gptoss_harmony_messages *out,
                                   char **error);

#endif
