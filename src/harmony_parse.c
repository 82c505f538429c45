/* harmony_parse.c - generated token ids -> harmony messages, one token at a
 * time (PARSING.md): states EXPECT_START, HEADER, CONTENT; headers parsed as
 * the openai/harmony StreamableParser does, plus the recommendations (a lone
 * `<|constrain|>...` header word is the content type, never the recipient;
 * a message cut off by the end of the stream is flagged incomplete). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "harmony.h"
#include "tokenizer_utf8.h"

typedef enum parse_state { EXPECT_START, HEADER, CONTENT, DONE } parse_state;

#define MAX_EVENTS 8

struct gptoss_harmony_parser {
    const gptoss_tokenizer *tok;
    gptoss_harmony_parser_options options;
    uint32_t id_start, id_message, id_end, id_return, id_call, id_endoftext;
    parse_state state;
    bool first_token;  /* nothing pushed yet (for START_AUTO) */
    bool role_preset;  /* the header being read continues <|start|>assistant */
    gptoss_bytes header;
    gptoss_harmony_message current; /* CONTENT: header fields; content aliases `content` */
    gptoss_bytes content;
    gptoss_bytes delta; /* text of this push's CONTENT event */
    gptoss_token_decoder *decoder;
    gptoss_harmony_messages messages;
    char *error;
    gptoss_harmony_event events[MAX_EVENTS];
    size_t n_events;
};

static const char replacement[] = "\xEF\xBF\xBD";

static gptoss_status oom(void) { return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory parsing harmony"); }

static uint32_t special_id(const gptoss_tokenizer *tok, const char *spelling, uint32_t fallback) {
    uint32_t id = gptoss_tokenizer_token_id(tok, spelling);
    return id == GPTOSS_TOKEN_NONE ? fallback : id;
}

gptoss_status gptoss_harmony_parser_create(const gptoss_tokenizer *tok, const gptoss_harmony_parser_options *options,
                                           gptoss_harmony_parser **out) {
    *out = NULL;
    gptoss_harmony_parser *p = calloc(1, sizeof *p);
    if (!p) return oom();
    p->tok = tok;
    if (options) p->options = *options;
    p->id_start = special_id(tok, "<|start|>", GPTOSS_TOKEN_START);
    p->id_message = special_id(tok, "<|message|>", GPTOSS_TOKEN_MESSAGE);
    p->id_end = special_id(tok, "<|end|>", GPTOSS_TOKEN_END);
    p->id_return = special_id(tok, "<|return|>", GPTOSS_TOKEN_RETURN);
    p->id_call = special_id(tok, "<|call|>", GPTOSS_TOKEN_CALL);
    p->id_endoftext = special_id(tok, "<|endoftext|>", GPTOSS_TOKEN_ENDOFTEXT);
    gptoss_status status = gptoss_token_decoder_create(tok, &p->decoder);
    if (status != GPTOSS_OK) {
        free(p);
        return status;
    }
    gptoss_harmony_parser_reset(p);
    *out = p;
    return GPTOSS_OK;
}

void gptoss_harmony_parser_reset(gptoss_harmony_parser *p) {
    gptoss_harmony_messages_free(&p->messages);
    p->current.content = NULL; /* aliases p->content */
    gptoss_harmony_message_clear(&p->current);
    free(p->error);
    p->error = NULL;
    p->header.len = p->content.len = p->delta.len = 0;
    const char *text;
    size_t len;
    gptoss_token_decoder_finish(p->decoder, &text, &len); /* empties it */
    p->first_token = true;
    p->role_preset = p->options.start != GPTOSS_HARMONY_START_MESSAGE;
    p->state = p->role_preset ? HEADER : EXPECT_START;
    p->n_events = 0;
}

void gptoss_harmony_parser_free(gptoss_harmony_parser *p) {
    if (!p) return;
    gptoss_harmony_messages_free(&p->messages);
    p->current.content = NULL;
    gptoss_harmony_message_clear(&p->current);
    free(p->header.data);
    free(p->content.data);
    free(p->delta.data);
    free(p->error);
    gptoss_token_decoder_free(p->decoder);
    free(p);
}

static void emit(gptoss_harmony_parser *p, gptoss_harmony_event_type type, const gptoss_harmony_message *message,
                 const char *text, size_t len, uint32_t token) {
    if (p->n_events < MAX_EVENTS)
        p->events[p->n_events++] = (gptoss_harmony_event){type, message, text, len, token};
}

/* Records a parse error: ERROR event, and nothing more is parsed. */
static gptoss_status parse_error(gptoss_harmony_parser *p, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static gptoss_status parse_error(gptoss_harmony_parser *p, const char *format, ...) {
    char message[512];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    free(p->error);
    p->error = strdup(message);
    if (!p->error) return oom();
    p->state = DONE;
    emit(p, GPTOSS_HARMONY_EVENT_ERROR, NULL, p->error, strlen(p->error), 0);
    return GPTOSS_OK;
}

/* ------------------------------------------------------------------------ */
/* Header text                                                               */
/* ------------------------------------------------------------------------ */

/* Byte length of the Unicode White_Space character at s[0..n) (Rust's
 * char::is_whitespace), or 0. The header is valid UTF-8. */
static size_t space_len(const char *s, size_t n) {
    uint32_t cp;
    size_t len;
    if (gptoss_utf8_next((const uint8_t *)s, n, &cp, &len) != GPTOSS_UTF8_OK) return 0;
    bool space = (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
                 (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
                 cp == 0x3000;
    return space ? len : 0;
}

static size_t char_len(const char *s, size_t n) {
    uint32_t cp;
    size_t len;
    gptoss_utf8_next((const uint8_t *)s, n, &cp, &len);
    return len ? len : 1;
}

/* Trims Unicode whitespace at both ends of s[*start..*end). The text is
 * valid UTF-8, so the last character starts at the last non-continuation
 * byte. */
static void trim(const char *s, size_t *start, size_t *end) {
    size_t k;
    while (*start < *end && (k = space_len(s + *start, *end - *start))) *start += k;
    while (*end > *start) {
        size_t last = *end - 1;
        while (last > *start && ((uint8_t)s[last] & 0xC0) == 0x80) last--;
        if (space_len(s + last, *end - last) != *end - last) return;
        *end = last;
    }
}

static bool ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }

static const char channel_marker[] = "<|channel|>";
static const char constrain_marker[] = "<|constrain|>";

static const char *find(const char *s, size_t n, const char *needle) {
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (!memcmp(s + i, needle, m)) return s + i;
    return NULL;
}

static char *copy_word(const char *s, size_t n) {
    char *w = malloc(n + 1);
    if (w) {
        memcpy(w, s, n);
        w[n] = 0;
    }
    return w;
}

typedef struct word {
    const char *s;
    size_t n;
} word;

static bool word_is(word w, const char *text) { return w.n == strlen(text) && !memcmp(w.s, text, w.n); }
static bool word_starts(word w, const char *prefix) {
    size_t m = strlen(prefix);
    return w.n >= m && !memcmp(w.s, prefix, m);
}

/* Parses a header's text (PARSING.md §4) into m: role, name, channel,
 * recipient, content_type. as_content (the lenient missing-<|message|> case):
 * no recipient or content type; the words left, joined by single spaces,
 * become *content. A bad header sets *bad and records the parse error. */
static gptoss_status parse_header(gptoss_harmony_parser *p, const char *text, size_t len, bool preset,
                                  bool as_content, gptoss_harmony_message *m, gptoss_bytes *content, bool *bad) {
    *bad = false;
    gptoss_bytes h = {0};
    gptoss_status status = GPTOSS_OK;
    word *words = NULL;
    if (len > SIZE_MAX / 2 || !gptoss_bytes_reserve(&h, len)) goto out_of_memory;
    if (len) memcpy(h.data, text, len);
    h.len = len;
    h.data[len] = 0;
    /* 1. The channel: after the first marker, up to whitespace or '<'. */
    const char *marker = find(h.data, h.len, channel_marker);
    if (marker) {
        size_t after = (size_t)(marker - h.data) + sizeof channel_marker - 1, end = after;
        while (end < h.len && h.data[end] != '<' && !space_len(h.data + end, h.len - end))
            end += char_len(h.data + end, h.len - end);
        if (end == after) {
            free(h.data);
            *bad = true;
            return parse_error(p, "channel marker present but no channel value found in header");
        }
        if (!(m->channel = copy_word(h.data + after, end - after))) goto out_of_memory;
        size_t cut = (size_t)(marker - h.data);
        memmove(h.data + cut, h.data + end, h.len - end);
        h.len -= end - cut;
    }
    /* 2. Trim; a space before every <|constrain|>; trim again. */
    size_t start = 0, end = h.len;
    trim(h.data, &start, &end);
    gptoss_bytes t = {0};
    if (!gptoss_bytes_reserve(&t, 0)) goto out_of_memory;
    for (size_t i = start; i < end;) {
        size_t m_len = sizeof constrain_marker - 1;
        if (end - i >= m_len && !memcmp(h.data + i, constrain_marker, m_len)) {
            if (!gptoss_bytes_append(&t, " ", 1)) goto out_of_memory_t;
        }
        if (!gptoss_bytes_append(&t, h.data + i, 1)) goto out_of_memory_t;
        i++;
    }
    free(h.data);
    h = t;
    start = 0, end = h.len;
    trim(h.data, &start, &end);
    /* 3. Words, split on ASCII whitespace. */
    size_t n_words = 0;
    if (!(words = malloc((end - start + 1) * sizeof *words))) goto out_of_memory;
    for (size_t i = start; i < end;) {
        while (i < end && ascii_space(h.data[i])) i++;
        size_t w = i;
        while (i < end && !ascii_space(h.data[i])) i++;
        if (i > w) words[n_words++] = (word){h.data + w, i - w};
    }
    size_t first = 0;
    /* 4. The role. */
    static const char *const roles[] = {"system", "developer", "user", "assistant", "tool"};
    if (preset) {
        m->role = GPTOSS_HARMONY_ASSISTANT;
    } else {
        if (!n_words) {
            *bad = true;
            status = parse_error(p, "message header did not contain a role");
            goto done;
        }
        int role = -1;
        for (int r = 0; r < 5; r++)
            if (word_is(words[0], roles[r])) role = r;
        if (role < 0 && (n_words > 1 || word_starts(words[0], "to="))) {
            role = GPTOSS_HARMONY_TOOL;
            first = 1;
        } else if (role < 0) {
            *bad = true;
            status = parse_error(p, "Unknown role: %.*s", (int)words[0].n, words[0].s);
            goto done;
        }
        m->role = (gptoss_harmony_role)role;
        if (m->role == GPTOSS_HARMONY_TOOL && !(m->name = copy_word(words[0].s, words[0].n))) goto out_of_memory;
    }
    if (first < n_words && word_is(words[first], gptoss_harmony_role_name(m->role))) first++;
    /* 5. Recipient and content type from the last words. */
    size_t last = n_words; /* words[first..last) are left */
    if (!as_content && first < last) {
        size_t count = last - first;
        word w = words[--last];
        if (word_starts(w, "to=")) {
            if (!(m->recipient = copy_word(w.s + 3, w.n - 3))) goto out_of_memory;
        } else if (count == 1 && !word_starts(w, constrain_marker)) {
            if (!(m->recipient = copy_word(w.s, w.n))) goto out_of_memory;
        } else {
            if (!(m->content_type = copy_word(w.s, w.n))) goto out_of_memory;
            if (first < last) {
                word r = words[--last];
                size_t skip = word_starts(r, "to=") ? 3 : 0;
                if (!(m->recipient = copy_word(r.s + skip, r.n - skip))) goto out_of_memory;
            }
        }
    }
    if (first < last) {
        gptoss_bytes rest = {0};
        for (size_t i = first; i < last; i++)
            if ((i > first && !gptoss_bytes_append(&rest, " ", 1)) || !gptoss_bytes_append(&rest, words[i].s, words[i].n)) {
                free(rest.data);
                goto out_of_memory;
            }
        if (as_content) {
            free(content->data);
            *content = rest;
        } else {
            *bad = true;
            status = parse_error(p, "unexpected tokens remaining in message header: '%s'", rest.data);
            free(rest.data);
        }
    }
done:
    free(words);
    free(h.data);
    return status;
out_of_memory_t:
    free(t.data);
out_of_memory:
    free(words);
    free(h.data);
    return oom();
}

/* ------------------------------------------------------------------------ */
/* Token steps                                                               */
/* ------------------------------------------------------------------------ */

static bool is_terminator(const gptoss_harmony_parser *p, uint32_t token) {
    return token == p->id_end || token == p->id_return || token == p->id_call;
}

/* The bytes a token contributes to a header or content; NULL for an id
 * that is not a token. */
static const uint8_t *token_bytes(const gptoss_harmony_parser *p, uint32_t token, size_t *len) {
    return gptoss_tokenizer_token_bytes(p->tok, token, len);
}

static void clear_current(gptoss_harmony_parser *p) {
    p->current.content = NULL;
    gptoss_harmony_message_clear(&p->current);
    p->content.len = 0;
}

/* Appends decoded text to the current content and this push's delta. */
static gptoss_status add_content(gptoss_harmony_parser *p, const char *text, size_t len) {
    if (!len) return GPTOSS_OK;
    if (!gptoss_bytes_append(&p->content, text, len) || !gptoss_bytes_append(&p->delta, text, len)) return oom();
    return GPTOSS_OK;
}

/* Moves the current message to the list and emits its last delta and END. */
static gptoss_status complete_message(gptoss_harmony_parser *p, uint32_t terminator, bool incomplete) {
    const char *text;
    size_t len;
    gptoss_status status = gptoss_token_decoder_finish(p->decoder, &text, &len);
    if (status == GPTOSS_OK) status = add_content(p, text, len);
    if (status != GPTOSS_OK) return status;
    p->current.content = p->content.data ? p->content.data : (char *)"";
    p->current.content_len = p->content.len;
    p->current.terminator = terminator;
    p->current.incomplete = incomplete;
    status = gptoss_harmony_messages_append(&p->messages, &p->current);
    clear_current(p);
    if (status != GPTOSS_OK) return status;
    const gptoss_harmony_message *done = &p->messages.items[p->messages.count - 1];
    if (p->delta.len) emit(p, GPTOSS_HARMONY_EVENT_CONTENT, done, p->delta.data, p->delta.len, 0);
    emit(p, GPTOSS_HARMONY_EVENT_MESSAGE_END, done, NULL, 0, 0);
    return GPTOSS_OK;
}

/* <|message|>: the header is complete. */
static gptoss_status header_done(gptoss_harmony_parser *p) {
    bool preset = p->role_preset;
    p->role_preset = false;
    size_t bad_at;
    if (!gptoss_utf8_validate((const uint8_t *)p->header.data, p->header.len, &bad_at))
        return parse_error(p, "could not decode header: invalid UTF-8 at byte %zu", bad_at);
    bool bad;
    clear_current(p);
    gptoss_status status =
        parse_header(p, p->header.data ? p->header.data : "", p->header.len, preset, false, &p->current, NULL, &bad);
    p->header.len = 0;
    if (status != GPTOSS_OK || bad) {
        clear_current(p);
        return status;
    }
    p->state = CONTENT;
    p->current.content = (char *)"";
    emit(p, GPTOSS_HARMONY_EVENT_MESSAGE_START, &p->current, NULL, 0, 0);
    return GPTOSS_OK;
}

/* Lenient: a terminator arrived before <|message|>. */
static gptoss_status header_terminated(gptoss_harmony_parser *p, uint32_t token) {
    bool preset = p->role_preset;
    p->role_preset = false;
    p->state = EXPECT_START;
    size_t header_len = p->header.len;
    p->header.len = 0;
    if (!preset || !header_len) return GPTOSS_OK; /* nothing to keep */
    size_t bad_at;
    if (!gptoss_utf8_validate((const uint8_t *)p->header.data, header_len, &bad_at))
        return parse_error(p, "could not decode header: invalid UTF-8 at byte %zu", bad_at);
    bool bad;
    clear_current(p);
    gptoss_bytes text = {0};
    gptoss_status status = parse_header(p, p->header.data, header_len, true, true, &p->current, &text, &bad);
    if (status != GPTOSS_OK || bad) {
        free(text.data);
        clear_current(p);
        return status;
    }
    p->current.content = text.data ? text.data : (char *)"";
    p->current.content_len = text.len;
    p->current.terminator = token;
    status = gptoss_harmony_messages_append(&p->messages, &p->current);
    p->current.content = NULL;
    free(text.data);
    clear_current(p);
    if (status != GPTOSS_OK) return status;
    const gptoss_harmony_message *done = &p->messages.items[p->messages.count - 1];
    emit(p, GPTOSS_HARMONY_EVENT_MESSAGE_START, done, NULL, 0, 0);
    if (done->content_len) emit(p, GPTOSS_HARMONY_EVENT_CONTENT, done, done->content, done->content_len, 0);
    emit(p, GPTOSS_HARMONY_EVENT_MESSAGE_END, done, NULL, 0, 0);
    return GPTOSS_OK;
}

/* The end of the stream (finish, or <|endoftext|>). */
static gptoss_status end_of_stream(gptoss_harmony_parser *p, uint32_t token) {
    gptoss_status status = GPTOSS_OK;
    switch (p->state) {
    case EXPECT_START: break;
    case HEADER: return parse_error(p, "Unexpected EOS while waiting for message header to complete");
    case CONTENT: status = complete_message(p, 0, true); break;
    case DONE: return GPTOSS_OK;
    }
    p->state = DONE;
    emit(p, GPTOSS_HARMONY_EVENT_STOP, NULL, NULL, 0, token);
    return status;
}

static gptoss_status step(gptoss_harmony_parser *p, uint32_t token) {
    if (p->state == DONE) return GPTOSS_OK;
    bool first = p->first_token;
    p->first_token = false;
    if (token == p->id_endoftext) return end_of_stream(p, token);
    if (first && token == p->id_start && p->options.start == GPTOSS_HARMONY_START_AUTO) {
        p->role_preset = false; /* the stream names its own role */
        p->state = EXPECT_START;
    }
    size_t len;
    const uint8_t *bytes = token_bytes(p, token, &len);
    if (!bytes && (p->options.strict || p->state == EXPECT_START))
        return parse_error(p, "token id %u is not in the vocabulary", token);
    switch (p->state) {
    case EXPECT_START:
        if (token != p->id_start)
            return parse_error(p, "Unexpected token %u while expecting start token %u", token, p->id_start);
        p->state = HEADER;
        p->header.len = 0;
        return GPTOSS_OK;
    case HEADER:
        if (token == p->id_message) return header_done(p);
        if (is_terminator(p, token) && !p->options.strict) {
            gptoss_status status = header_terminated(p, token);
            if (status == GPTOSS_OK && p->state != DONE && token != p->id_end)
                emit(p, GPTOSS_HARMONY_EVENT_STOP, NULL, NULL, 0, token);
            return status;
        }
        if (!bytes) bytes = (const uint8_t *)replacement, len = 3;
        return gptoss_bytes_append(&p->header, bytes, len) ? GPTOSS_OK : oom();
    case CONTENT: {
        if (is_terminator(p, token)) {
            p->state = EXPECT_START;
            gptoss_status status = complete_message(p, token, false);
            if (status == GPTOSS_OK && token != p->id_end) emit(p, GPTOSS_HARMONY_EVENT_STOP, NULL, NULL, 0, token);
            return status;
        }
        const char *text;
        size_t text_len;
        gptoss_status status;
        if (bytes) {
            status = gptoss_token_decoder_push(p->decoder, token, &text, &text_len);
            if (status == GPTOSS_OK) status = add_content(p, text, text_len);
        } else { /* lenient: an id that is not a token reads as U+FFFD */
            status = gptoss_token_decoder_finish(p->decoder, &text, &text_len);
            if (status == GPTOSS_OK) status = add_content(p, text, text_len);
            if (status == GPTOSS_OK) status = add_content(p, replacement, 3);
        }
        if (status != GPTOSS_OK) return status;
        p->current.content = p->content.data ? p->content.data : (char *)"";
        p->current.content_len = p->content.len;
        if (p->delta.len) emit(p, GPTOSS_HARMONY_EVENT_CONTENT, &p->current, p->delta.data, p->delta.len, 0);
        return GPTOSS_OK;
    }
    case DONE: return GPTOSS_OK;
    }
    return GPTOSS_OK;
}

gptoss_status gptoss_harmony_parser_push(gptoss_harmony_parser *p, uint32_t token, const gptoss_harmony_event **events,
                                         size_t *n_events) {
    p->n_events = 0;
    p->delta.len = 0;
    gptoss_status status = step(p, token);
    if (events) *events = p->events;
    if (n_events) *n_events = p->n_events;
    return status;
}

gptoss_status gptoss_harmony_parser_finish(gptoss_harmony_parser *p, const gptoss_harmony_event **events,
                                           size_t *n_events) {
    p->n_events = 0;
    p->delta.len = 0;
    gptoss_status status = end_of_stream(p, 0);
    if (events) *events = p->events;
    if (n_events) *n_events = p->n_events;
    return status;
}

const gptoss_harmony_message *gptoss_harmony_parser_messages(const gptoss_harmony_parser *p, size_t *count) {
    *count = p->messages.count;
    return p->messages.items;
}

const gptoss_harmony_message *gptoss_harmony_parser_current(const gptoss_harmony_parser *p) {
    return p->state == CONTENT ? &p->current : NULL;
}

const char *gptoss_harmony_parser_error(const gptoss_harmony_parser *p) { return p->error; }

bool gptoss_harmony_parser_done(const gptoss_harmony_parser *p) { return p->state == DONE; }

size_t gptoss_harmony_stop_tokens(const gptoss_tokenizer *tok, uint32_t out[3]) {
    static const char *const spellings[] = {"<|return|>", "<|call|>", "<|endoftext|>"};
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        uint32_t id = gptoss_tokenizer_token_id(tok, spellings[i]);
        if (id != GPTOSS_TOKEN_NONE) out[n++] = id;
    }
    return n;
}

gptoss_status gptoss_harmony_parse(const gptoss_tokenizer *tok, const uint32_t *ids, size_t n,
                                   const gptoss_harmony_parser_options *options, gptoss_harmony_messages *out,
                                   char **error) {
    *error = NULL;
    gptoss_harmony_parser *p;
    gptoss_status status = gptoss_harmony_parser_create(tok, options, &p);
    if (status != GPTOSS_OK) return status;
    for (size_t i = 0; i < n && status == GPTOSS_OK && p->state != DONE; i++)
        status = gptoss_harmony_parser_push(p, ids[i], NULL, NULL);
    if (status == GPTOSS_OK) status = gptoss_harmony_parser_finish(p, NULL, NULL);
    for (size_t i = 0; i < p->messages.count && status == GPTOSS_OK; i++)
        status = gptoss_harmony_messages_append(out, &p->messages.items[i]);
    if (status == GPTOSS_OK && p->error && !(*error = strdup(p->error))) status = oom();
    gptoss_harmony_parser_free(p);
    return status;
}
