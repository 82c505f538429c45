/* harmony_render.c - harmony messages -> token ids and text (RENDERING.md
 * §1, §2, §10), and the system and developer message bodies (§4-§6). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "harmony.h"

static gptoss_status oom(void) { return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory rendering"); }

/* ------------------------------------------------------------------------ */
/* System and developer bodies                                               */
/* ------------------------------------------------------------------------ */

/* The built-in tool namespaces: constant protocol text the model was trained
 * on (the harmony library's browser and python tool configurations). */
static const char browser_namespace[] =
    "## browser\n"
    "\n"
    "// Tool for browsing.\n"
    "// The `cursor` appears in brackets before each browsing display: `[{cursor}]`.\n"
    "// Cite information from the tool using the following format:\n"
    "// `\xE3\x80\x90{cursor}\xE2\x80\xA0L{line_start}(-L{line_end})?\xE3\x80\x91`, for example: "
    "`\xE3\x80\x90" "6\xE2\x80\xA0L9-L11\xE3\x80\x91` or `\xE3\x80\x90" "8\xE2\x80\xA0L3\xE3\x80\x91`.\n"
    "// Do not quote more than 10 words directly from the tool output.\n"
    "// sources=web (default: web)\n"
    "namespace browser {\n"
    "\n"
    "// Searches for information related to `query` and displays `topn` results.\n"
    "type search = (_: {\n"
    "query: string,\n"
    "topn?: number, // default: 10\n"
    "source?: string,\n"
    "}) => any;\n"
    "\n"
    "// Opens the link `id` from the page indicated by `cursor` starting at line number `loc`, showing `num_lines` lines.\n"
    "// Valid link ids are displayed with the formatting: `\xE3\x80\x90{id}\xE2\x80\xA0.*\xE3\x80\x91`.\n"
    "// If `cursor` is not provided, the most recent page is implied.\n"
    "// If `id` is a string, it is treated as a fully qualified URL associated with `source`.\n"
    "// If `loc` is not provided, the viewport will be positioned at the beginning of the document or centered on the most relevant passage, if available.\n"
    "// Use this function without `id` to scroll to a new location of an opened page.\n"
    "type open = (_: {\n"
    "id?: number | string, // default: -1\n"
    "cursor?: number, // default: -1\n"
    "loc?: number, // default: -1\n"
    "num_lines?: number, // default: -1\n"
    "view_source?: boolean, // default: false\n"
    "source?: string,\n"
    "}) => any;\n"
    "\n"
    "// Finds exact matches of `pattern` in the current page, or the page given by `cursor`.\n"
    "type find = (_: {\n"
    "pattern: string,\n"
    "cursor?: number, // default: -1\n"
    "}) => any;\n"
    "\n"
    "} // namespace browser";

static const char python_namespace[] =
    "## python\n"
    "\n"
    "Use this tool to execute Python code in your chain of thought. The code will not be shown to the user. "
    "This tool should be used for internal reasoning, but not for code that is intended to be visible to the "
    "user (e.g. when creating plots, tables, or files).\n"
    "\n"
    "When you send a message containing Python code to python, it will be executed in a stateful Jupyter "
    "notebook environment. python will respond with the output of the execution or time out after 120.0 "
    "seconds. The drive at '/mnt/data' can be used to save and persist user files. Internet access for this "
    "session is UNKNOWN. Depends on the cluster.";

static const char *or_default(const char *value, const char *fallback) {
    return value && *value ? value : fallback;
}

gptoss_status gptoss_harmony_system_text(const gptoss_conversation *c, gptoss_bytes *out) {
    bool ok = gptoss_bytes_append_str(out, or_default(c->model_identity,
                                                      "You are ChatGPT, a large language model trained by OpenAI.")) &&
              gptoss_bytes_append_str(out, "\nKnowledge cutoff: ") &&
              gptoss_bytes_append_str(out, or_default(c->knowledge_cutoff, "2024-06"));
    if (ok && c->current_date && *c->current_date)
        ok = gptoss_bytes_append_str(out, "\nCurrent date: ") && gptoss_bytes_append_str(out, c->current_date);
    ok = ok && gptoss_bytes_append_str(out, "\n\nReasoning: ") &&
         gptoss_bytes_append_str(out, or_default(c->reasoning_effort, "medium"));
    if (ok && c->builtin_tools) {
        ok = gptoss_bytes_append_str(out, "\n\n# Tools\n\n");
        if (ok && (c->builtin_tools & GPTOSS_BUILTIN_BROWSER)) {
            ok = gptoss_bytes_append_str(out, browser_namespace);
            if (ok && (c->builtin_tools & GPTOSS_BUILTIN_PYTHON)) ok = gptoss_bytes_append_str(out, "\n\n");
        }
        if (ok && (c->builtin_tools & GPTOSS_BUILTIN_PYTHON)) ok = gptoss_bytes_append_str(out, python_namespace);
    }
    ok = ok && gptoss_bytes_append_str(out, "\n\n# Valid channels: analysis, commentary, final. "
                                            "Channel must be included for every message.");
    if (ok && c->n_tools)
        ok = gptoss_bytes_append_str(out, "\nCalls to these tools must go to the commentary channel: 'functions'.");
    return ok ? GPTOSS_OK : oom();
}

/* A description as comment lines, split at every '\n' (an empty part gives
 * "// " with its trailing space). */
static bool comment_lines(gptoss_bytes *out, const char *text) {
    const char *s = text ? text : "";
    for (;;) {
        const char *end = strchr(s, '\n');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        if (!gptoss_bytes_append_str(out, "// ") || !gptoss_bytes_append(out, s, n) ||
            !gptoss_bytes_append_str(out, "\n"))
            return false;
        if (!end) return true;
        s = end + 1;
    }
}

gptoss_status gptoss_harmony_developer_text(const char *instructions, size_t instructions_len,
                                            const gptoss_function_tool *tools, size_t n_tools, gptoss_bytes *out) {
    bool ok = true;
    if (instructions && instructions_len) {
        ok = gptoss_bytes_append_str(out, "# Instructions\n\n") && gptoss_bytes_append(out, instructions, instructions_len);
        if (ok && n_tools) ok = gptoss_bytes_append_str(out, "\n\n");
    }
    if (!n_tools) return ok ? GPTOSS_OK : oom();
    ok = ok && gptoss_bytes_append_str(out, "# Tools\n\n## functions\n\nnamespace functions {\n\n");
    for (size_t i = 0; i < n_tools && ok; i++) {
        const gptoss_function_tool *tool = &tools[i];
        ok = comment_lines(out, tool->description) && gptoss_bytes_append_str(out, "type ") &&
             gptoss_bytes_append_str(out, tool->name);
        if (!ok) break;
        if (tool->parameters) {
            ok = gptoss_bytes_append_str(out, " = (_: ");
            if (ok && gptoss_harmony_schema_text(tool->parameters, out) != GPTOSS_OK) return GPTOSS_ERROR_OUT_OF_MEMORY;
            ok = ok && gptoss_bytes_append_str(out, ") => any;\n\n");
        } else {
            ok = gptoss_bytes_append_str(out, " = () => any;\n\n");
        }
    }
    ok = ok && gptoss_bytes_append_str(out, "} // namespace functions");
    return ok ? GPTOSS_OK : oom();
}

/* ------------------------------------------------------------------------ */
/* Messages -> ids                                                           */
/* ------------------------------------------------------------------------ */

typedef struct sink {
    const gptoss_tokenizer *tok;
    gptoss_ids *ids;
    gptoss_bytes *text; /* NULL: ids only */
} sink;

/* One structure token, by its spelling. */
static gptoss_status put_special(sink *s, const char *spelling) {
    uint32_t id = gptoss_tokenizer_token_id(s->tok, spelling);
    if (id == GPTOSS_TOKEN_NONE || !gptoss_tokenizer_is_special(s->tok, id))
        return gptoss_fail(GPTOSS_ERROR_FORMAT, "the tokenizer has no special token %s", spelling);
    if (!gptoss_ids_push(s->ids, id) || (s->text && !gptoss_bytes_append_str(s->text, spelling))) return oom();
    return GPTOSS_OK;
}

/* One text piece, encoded on its own as plain text. */
static gptoss_status put_text(sink *s, const char *text, size_t len) {
    if (!len) return GPTOSS_OK;
    uint32_t *ids;
    size_t n;
    gptoss_status status = gptoss_tokenizer_encode(s->tok, text, len, false, &ids, &n);
    if (status != GPTOSS_OK) return status;
    for (size_t i = 0; i < n; i++)
        if (!gptoss_ids_push(s->ids, ids[i])) {
            free(ids);
            return oom();
        }
    free(ids);
    if (s->text && !gptoss_bytes_append(s->text, text, len)) return oom();
    return GPTOSS_OK;
}

/* A text piece made of two parts (" to=" + recipient, ":" + name). */
static gptoss_status put_text2(sink *s, const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    char *joined = malloc(na + nb + 1);
    if (!joined) return oom();
    memcpy(joined, a, na);
    memcpy(joined + na, b, nb + 1);
    gptoss_status status = put_text(s, joined, na + nb);
    free(joined);
    return status;
}

static const char constrain_marker[] = "<|constrain|>";

static gptoss_status render_message(sink *s, const gptoss_harmony_message *m) {
    gptoss_status status = put_special(s, "<|start|>");
    if (status != GPTOSS_OK) return status;
    if (m->role == GPTOSS_HARMONY_TOOL) {
        if (!m->name || !*m->name) return gptoss_fail(GPTOSS_ERROR_INVALID_ARGUMENT, "a tool message needs a name");
        status = put_text(s, m->name, strlen(m->name));
    } else {
        const char *role = gptoss_harmony_role_name(m->role);
        status = put_text(s, role, strlen(role));
        if (status == GPTOSS_OK && m->name) status = put_text2(s, ":", m->name);
    }
    if (status == GPTOSS_OK && m->recipient && strcmp(m->recipient, "all")) status = put_text2(s, " to=", m->recipient);
    if (status == GPTOSS_OK && m->channel) {
        status = put_special(s, "<|channel|>");
        if (status == GPTOSS_OK) status = put_text(s, m->channel, strlen(m->channel));
    }
    if (status == GPTOSS_OK && m->content_type) {
        size_t marker = sizeof constrain_marker - 1;
        if (!strncmp(m->content_type, constrain_marker, marker)) {
            status = put_text(s, " ", 1);
            if (status == GPTOSS_OK) status = put_special(s, constrain_marker);
            if (status == GPTOSS_OK) status = put_text(s, m->content_type + marker, strlen(m->content_type + marker));
        } else {
            status = put_text2(s, " ", m->content_type);
        }
    }
    if (status == GPTOSS_OK) status = put_special(s, "<|message|>");
    if (status == GPTOSS_OK) status = put_text(s, m->content ? m->content : "", m->content ? m->content_len : 0);
    if (status == GPTOSS_OK)
        status = put_special(s, m->role == GPTOSS_HARMONY_ASSISTANT && m->recipient ? "<|call|>" : "<|end|>");
    return status;
}

gptoss_status gptoss_harmony_render_message(const gptoss_tokenizer *tok, const gptoss_harmony_message *message,
                                            gptoss_ids *ids, gptoss_bytes *text) {
    sink s = {tok, ids, text};
    return render_message(&s, message);
}

void gptoss_harmony_rendering_free(gptoss_harmony_rendering *r) {
    free(r->ids.data);
    free(r->text.data);
    memset(r, 0, sizeof *r);
}

gptoss_status gptoss_harmony_render(const gptoss_tokenizer *tok, const gptoss_harmony_message *messages, size_t n,
                                    gptoss_harmony_ending ending, bool want_text, gptoss_harmony_rendering *out) {
    memset(out, 0, sizeof *out);
    sink s = {tok, &out->ids, want_text ? &out->text : NULL};
    gptoss_status status = GPTOSS_OK;
    for (size_t i = 0; i < n && status == GPTOSS_OK; i++) status = render_message(&s, &messages[i]);
    if (status == GPTOSS_OK && ending == GPTOSS_HARMONY_END_GENERATION) {
        status = put_special(&s, "<|start|>");
        if (status == GPTOSS_OK) status = put_text(&s, "assistant", 9);
    }
    if (status == GPTOSS_OK && ending == GPTOSS_HARMONY_END_TRAINING && n &&
        messages[n - 1].role == GPTOSS_HARMONY_ASSISTANT && messages[n - 1].channel &&
        !strcmp(messages[n - 1].channel, "final")) {
        /* The answer that ends the turn: its terminator becomes <|return|>. */
        uint32_t id = gptoss_tokenizer_token_id(tok, "<|return|>");
        if (id == GPTOSS_TOKEN_NONE) status = gptoss_fail(GPTOSS_ERROR_FORMAT, "the tokenizer has no <|return|>");
        else {
            out->ids.data[out->ids.len - 1] = id;
            if (want_text) {
                const char *last = messages[n - 1].recipient ? "<|call|>" : "<|end|>";
                out->text.len -= strlen(last);
                if (!gptoss_bytes_append_str(&out->text, "<|return|>")) status = oom();
            }
        }
    }
    /* Non-NULL buffers even when empty. */
    if (status == GPTOSS_OK && !out->ids.data) {
        if ((out->ids.data = malloc(sizeof *out->ids.data))) out->ids.cap = 1;
        else status = oom();
    }
    if (status == GPTOSS_OK && !gptoss_bytes_reserve(&out->text, 0)) status = oom();
    if (status == GPTOSS_OK) out->text.data[out->text.len] = 0;
    if (status != GPTOSS_OK) gptoss_harmony_rendering_free(out);
    return status;
}

gptoss_status gptoss_conversation_render(const gptoss_tokenizer *tok, const gptoss_conversation *conversation,
                                         bool want_text, gptoss_harmony_rendering *out) {
    memset(out, 0, sizeof *out);
    gptoss_harmony_messages messages = {0};
    gptoss_status status = gptoss_conversation_to_harmony(conversation, &messages);
    if (status == GPTOSS_OK)
        status = gptoss_harmony_render(tok, messages.items, messages.count,
                                       conversation->add_generation_prompt ? GPTOSS_HARMONY_END_GENERATION
                                                                           : GPTOSS_HARMONY_END_TRAINING,
                                       want_text, out);
    gptoss_harmony_messages_free(&messages);
    return status;
}
