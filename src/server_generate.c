/* server_generate.c - one request's turn on a slot: the harmony turn with
 * the server's hooks (forward passes on the compute thread, the script in
 * place of sampling, cancellation when the client leaves), the reply built
 * from the parser's events, usage, and a log line on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server_slots.h"
#include "turn.h"

/* A header longer than this is malformed output, not a message about to
 * start (real headers are a few tokens): the turn stops instead of running
 * to the token limit. */
enum { HEADER_LIMIT = 256 };

typedef struct gen_state {
    server_sched *sched;
    server_slot *slot;
    server_job *job;
    volatile sig_atomic_t cancel; /* turn_run's flag; written on this thread only */
    gptoss_ids generated;
    size_t script_pos;
    size_t boundary;              /* generated ids when the last message ended */
    bool in_message;
    bool malformed;               /* the parser gave up, or a header ran too long */
    uint32_t reasoning_tokens;
} gen_state;

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int on_event(void *user, const gptoss_harmony_event *e) {
    gen_state *g = user;
    server_job *job = g->job;
    if (e->type == GPTOSS_HARMONY_EVENT_MESSAGE_START) g->in_message = true;
    if (e->type == GPTOSS_HARMONY_EVENT_MESSAGE_END) {
        g->in_message = false;
        g->boundary = g->generated.len;
    }
    if (e->type == GPTOSS_HARMONY_EVENT_ERROR) g->malformed = true;
    pthread_mutex_lock(&job->mu);
    const size_t before = job->reply.out.buf.len;
    int stop = server_reply_event(&job->reply, e);
    if (job->reply.out.buf.len != before) pthread_cond_broadcast(&job->cond);
    pthread_mutex_unlock(&job->mu);
    return stop;
}

static int next_token(void *user, uint32_t *token) {
    gen_state *g = user;
    const gptoss_ids *script = g->job->script;
    if (g->script_pos >= script->len) return 0;
    *token = script->data[g->script_pos++];
    return 1;
}

static gptoss_status eval(void *user, gptoss_context *ctx, const uint32_t *tokens, uint32_t n, int prompt,
                          float *logits, uint32_t *n_processed) {
    gen_state *g = user;
    if (atomic_load(&g->job->cancel)) {
        g->cancel = 1; /* turn_run stops before it uses these logits */
        return GPTOSS_OK;
    }
    if (!prompt) {
        if (!g->in_message && g->generated.len - g->boundary > HEADER_LIMIT) {
            g->malformed = true;
            g->cancel = 1;
            return GPTOSS_OK;
        }
        const gptoss_harmony_message *m = gptoss_harmony_parser_current(g->slot->parser);
        if (m && m->channel && !strcmp(m->channel, "analysis")) g->reasoning_tokens++;
    }
    return server_compute(g->sched, g->slot, ctx, tokens, n, prompt, logits, n_processed);
}

/* The text of the ids the parser could not place (from the last message
 * boundary on, the stop token left out) becomes content. Ids that are not
 * tokens (a model's vocabulary may be larger than the tokenizer's) read as
 * U+FFFD, as the lenient parser reads them; the JSON writer replaces bytes
 * that are not UTF-8. */
static void add_stray(gen_state *g, const gptoss_tokenizer *tok, const turn_stats *stats) {
    size_t end = g->generated.len;
    if (stats->stop_token && end > g->boundary) end--;
    gptoss_bytes text = {0};
    bool ok = true;
    for (size_t i = g->boundary; ok && i < end; i++) {
        size_t len = 0;
        const uint8_t *bytes = gptoss_tokenizer_token_bytes(tok, g->generated.data[i], &len);
        ok = bytes ? gptoss_bytes_append(&text, bytes, len) : gptoss_bytes_append_str(&text, "\xEF\xBF\xBD");
    }
    if (ok && text.len) {
        pthread_mutex_lock(&g->job->mu);
        server_reply_add_stray(&g->job->reply, text.data, text.len);
        pthread_mutex_unlock(&g->job->mu);
    }
    free(text.data);
}

void server_generate(server_sched *s, server_slot *slot, server_job *job, const gptoss_tokenizer *tok, uint32_t vocab) {
    const server_request *q = &job->request;
    gen_state g = {.sched = s, .slot = slot, .job = job};
    gptoss_sampler *sampler = NULL;
    gptoss_status st = GPTOSS_OK;
    if (!job->script) st = gptoss_sampler_create(&q->sampling, vocab, &sampler);
    const double start = seconds();
    turn_stats stats = {0};
    if (st == GPTOSS_OK) {
        const turn_options options = {
            .max_tokens = q->max_tokens, .on_event = on_event, .user = &g, .cancel = &g.cancel,
            .next_token = job->script ? next_token : NULL, .generated = &g.generated, .eval = eval};
        st = turn_run(slot->ctx, tok, sampler, slot->parser, job->prompt.data, (uint32_t)job->prompt.len, &options,
                      &stats);
    }
    gptoss_sampler_free(sampler);
    const bool cancelled = atomic_load(&job->cancel);
    if (st == GPTOSS_OK && !cancelled && (g.malformed || gptoss_harmony_parser_error(slot->parser)))
        add_stray(&g, tok, &stats);
    pthread_mutex_lock(&job->mu);
    server_reply *r = &job->reply;
    if (st != GPTOSS_OK) {
        job->failed = true;
        server_fail(&job->error, 500, "server_error", NULL, NULL, "generation failed: %s", gptoss_last_error());
        if (q->stream) server_reply_fail(r, &job->error);
    } else {
        r->prompt_tokens = stats.prompt_tokens;
        r->cached_tokens = stats.prompt_tokens > stats.processed_tokens ? stats.prompt_tokens - stats.processed_tokens : 0;
        r->completion_tokens = stats.generated_tokens;
        r->reasoning_tokens = g.reasoning_tokens;
        const bool length = !stats.stop_token && !r->stopped_by_string &&
                            (stats.context_full || (q->max_tokens && stats.generated_tokens >= q->max_tokens));
        server_reply_finish(r, length);
        if (r->out.failed) {
            job->failed = true;
            server_fail(&job->error, 500, "server_error", NULL, NULL, "out of memory while writing the reply");
        }
    }
    pthread_cond_broadcast(&job->cond);
    pthread_mutex_unlock(&job->mu);
    const double decode = stats.decode_seconds > 0 ? stats.decode_seconds : 1e-9;
    fprintf(stderr,
            "slot %d: %s, prompt %u tokens (%u cached, %u processed in %.3f s), generated %u in %.3f s (%.1f tok/s), "
            "%s%s, %.3f s in all\n",
            slot->index, q->api == SERVER_API_CHAT ? "chat" : "responses", stats.prompt_tokens,
            stats.prompt_tokens > stats.processed_tokens ? stats.prompt_tokens - stats.processed_tokens : 0,
            stats.processed_tokens, stats.prefill_seconds, stats.generated_tokens, stats.decode_seconds,
            stats.generated_tokens / decode,
            st != GPTOSS_OK ? "failed"
            : cancelled     ? (server_sched_stopping(s) ? "cancelled (server stopping)" : "cancelled (client gone)")
            : r->finish     ? r->finish
                            : "?",
            g.malformed && !cancelled ? ", malformed harmony" : "", seconds() - start);
    free(g.generated.data);
}
