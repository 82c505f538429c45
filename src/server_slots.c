/* server_slots.c - slots, the request queue, prompt-cache slot choice, and
 * the compute thread (see server_slots.h). */
#include "server_slots.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* A forward pass handed to the compute thread. */
typedef struct compute_call {
    gptoss_context *ctx;
    const uint32_t *tokens;
    uint32_t n;
    int prompt;
    float *logits;
    uint32_t *n_processed;
    gptoss_status status;
    char error[256];
    bool done;
    pthread_cond_t *wake;
    struct compute_call *next;
} compute_call;

struct server_sched {
    gptoss_model *model;
    const gptoss_tokenizer *tok;
    server_sched_options options;
    uint32_t n_ctx, vocab;
    server_slot *slots;
    int n_slots, n_started;
    pthread_mutex_t mu;          /* slots' jobs, the queue, script position, stopping */
    server_job **queue;          /* ring of waiting jobs */
    int queue_head, queue_len;
    size_t script_next;
    uint64_t clock;
    bool stopping;
    /* the compute thread */
    pthread_t compute_thread;
    bool compute_started;
    pthread_mutex_t compute_mu;
    pthread_cond_t compute_cond;
    compute_call *calls_head, *calls_tail;
    bool compute_stop;
};

server_job *server_job_create(void) {
    server_job *job = calloc(1, sizeof *job);
    if (!job) return NULL;
    pthread_mutex_init(&job->mu, NULL);
    pthread_cond_init(&job->cond, NULL);
    job->refs = 1;
    gptoss_conversation_init(&job->request.conversation);
    return job;
}

void server_job_release(server_job *job) {
    if (!job) return;
    pthread_mutex_lock(&job->mu);
    int left = --job->refs;
    pthread_mutex_unlock(&job->mu);
    if (left) return;
    server_reply_free(&job->reply);
    server_request_free(&job->request);
    free(job->prompt.data);
    pthread_cond_destroy(&job->cond);
    pthread_mutex_destroy(&job->mu);
    free(job);
}

/* Marks a job finished and wakes the HTTP side. */
static void job_done(server_job *job) {
    pthread_mutex_lock(&job->mu);
    job->state = JOB_DONE;
    pthread_cond_broadcast(&job->cond);
    pthread_mutex_unlock(&job->mu);
}

/* ------------------------------------------------------------------------ */
/* The compute thread                                                       */
/* ------------------------------------------------------------------------ */

static void *compute_main(void *arg) {
    server_sched *s = arg;
    if (s->options.threads > 0) omp_set_num_threads(s->options.threads); /* a per-thread setting */
    pthread_mutex_lock(&s->compute_mu);
    for (;;) {
        while (!s->calls_head && !s->compute_stop) pthread_cond_wait(&s->compute_cond, &s->compute_mu);
        compute_call *c = s->calls_head;
        if (!c) break;
        s->calls_head = c->next;
        if (!s->calls_head) s->calls_tail = NULL;
        pthread_mutex_unlock(&s->compute_mu);
        c->status = c->prompt ? gptoss_context_eval_prompt(c->ctx, c->tokens, c->n, c->logits, c->n_processed)
                              : gptoss_context_eval(c->ctx, c->tokens, c->n, GPTOSS_LOGITS_LAST, c->logits);
        if (c->status != GPTOSS_OK) snprintf(c->error, sizeof c->error, "%s", gptoss_last_error());
        pthread_mutex_lock(&s->compute_mu);
        c->done = true;
        pthread_cond_broadcast(c->wake);
    }
    pthread_mutex_unlock(&s->compute_mu);
    return NULL;
}

gptoss_status server_compute(server_sched *s, server_slot *slot, gptoss_context *ctx, const uint32_t *tokens,
                             uint32_t n, int prompt, float *logits, uint32_t *n_processed) {
    compute_call c = {.ctx = ctx, .tokens = tokens, .n = n, .prompt = prompt, .logits = logits,
                      .n_processed = n_processed, .wake = &slot->computed};
    pthread_mutex_lock(&s->compute_mu);
    if (s->calls_tail) s->calls_tail->next = &c;
    else s->calls_head = &c;
    s->calls_tail = &c;
    pthread_cond_signal(&s->compute_cond);
    while (!c.done) pthread_cond_wait(&slot->computed, &s->compute_mu);
    pthread_mutex_unlock(&s->compute_mu);
    if (c.status != GPTOSS_OK) return gptoss_fail(c.status, "%s", c.error); /* the message is per thread */
    return GPTOSS_OK;
}

/* ------------------------------------------------------------------------ */
/* Scheduling                                                                */
/* ------------------------------------------------------------------------ */

static size_t common_prefix(const uint32_t *a, size_t na, const uint32_t *b, size_t nb) {
    size_t n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i]) i++;
    return i;
}

/* The free slot to run job on (longest shared prefix, then least recently
 * used), or NULL. Under s->mu. */
static server_slot *best_slot(server_sched *s, const server_job *job) {
    server_slot *best = NULL;
    size_t best_prefix = 0;
    for (int i = 0; i < s->n_slots; i++) {
        server_slot *slot = &s->slots[i];
        if (slot->job) continue;
        size_t prefix = common_prefix(gptoss_context_tokens(slot->ctx), gptoss_context_position(slot->ctx),
                                      job->prompt.data, job->prompt.len);
        if (!best || prefix > best_prefix || (prefix == best_prefix && slot->last_used < best->last_used)) {
            best = slot;
            best_prefix = prefix;
        }
    }
    return best;
}

static server_job *queue_pop(server_sched *s) {
    server_job *job = s->queue[s->queue_head];
    s->queue_head = (s->queue_head + 1) % s->options.queue;
    s->queue_len--;
    return job;
}

/* Hands queued jobs to free slots. Under s->mu. */
static void dispatch(server_sched *s) {
    while (s->queue_len > 0) {
        server_job *job = s->queue[s->queue_head];
        if (atomic_load(&job->cancel)) { /* its client left while it waited */
            queue_pop(s);
            job_done(job);
            server_job_release(job);
            continue;
        }
        server_slot *slot = best_slot(s, job);
        if (!slot) return;
        queue_pop(s);
        pthread_mutex_lock(&job->mu);
        job->state = JOB_RUNNING;
        pthread_mutex_unlock(&job->mu);
        slot->job = job;
        pthread_cond_signal(&slot->cond);
    }
}

static void *slot_main(void *arg) {
    server_slot *slot = arg;
    server_sched *s = slot->sched;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!slot->job && !s->stopping) pthread_cond_wait(&slot->cond, &s->mu);
        server_job *job = slot->job;
        if (!job) break;
        pthread_mutex_unlock(&s->mu);
        server_generate(s, slot, job, s->tok, s->vocab);
        pthread_mutex_lock(&s->mu);
        slot->job = NULL;
        slot->last_used = ++s->clock;
        dispatch(s);
        pthread_mutex_unlock(&s->mu);
        job_done(job);
        server_job_release(job);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

submit_result server_sched_submit(server_sched *s, server_job *job) {
    pthread_mutex_lock(&s->mu);
    submit_result result = SUBMIT_OK;
    if (s->stopping) result = SUBMIT_STOPPING;
    else if (s->queue_len >= s->options.queue) result = SUBMIT_QUEUE_FULL;
    else if (s->options.script && s->script_next >= s->options.script->n) result = SUBMIT_SCRIPT_DONE;
    if (result == SUBMIT_OK) {
        if (s->options.script) job->script = &s->options.script->lines[s->script_next++];
        pthread_mutex_lock(&job->mu);
        job->refs++;
        job->state = JOB_QUEUED;
        pthread_mutex_unlock(&job->mu);
        s->queue[(s->queue_head + s->queue_len) % s->options.queue] = job;
        s->queue_len++;
        dispatch(s);
    }
    pthread_mutex_unlock(&s->mu);
    return result;
}

void server_sched_cancel(server_sched *s, server_job *job) {
    atomic_store(&job->cancel, 1);
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->queue_len; i++) {
        int at = (s->queue_head + i) % s->options.queue;
        if (s->queue[at] != job) continue;
        for (int k = i; k + 1 < s->queue_len; k++) /* close the gap */
            s->queue[(s->queue_head + k) % s->options.queue] = s->queue[(s->queue_head + k + 1) % s->options.queue];
        s->queue_len--;
        job_done(job);
        server_job_release(job);
        break;
    }
    pthread_mutex_unlock(&s->mu);
}

uint32_t server_sched_context_size(const server_sched *s) { return s->n_ctx; }

bool server_sched_stopping(server_sched *s) {
    pthread_mutex_lock(&s->mu);
    bool stopping = s->stopping;
    pthread_mutex_unlock(&s->mu);
    return stopping;
}

void server_sched_status(server_sched *s, int *slots, int *busy, int *waiting, int *queue_capacity) {
    pthread_mutex_lock(&s->mu);
    *slots = s->n_slots;
    *busy = 0;
    for (int i = 0; i < s->n_slots; i++) *busy += s->slots[i].job != NULL;
    *waiting = s->queue_len;
    *queue_capacity = s->options.queue;
    pthread_mutex_unlock(&s->mu);
}

server_sched *server_sched_start(gptoss_model *model, gptoss_context *first_context, uint32_t n_ctx,
                                 const gptoss_tokenizer *tok, const server_sched_options *options) {
    server_sched *s = calloc(1, sizeof *s);
    if (!s) {
        gptoss_context_free(first_context);
        fprintf(stderr, "gptoss serve: out of memory\n");
        return NULL;
    }
    s->model = model;
    s->tok = tok;
    s->options = *options;
    s->vocab = gptoss_model_config(model)->vocab_size;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->compute_mu, NULL);
    pthread_cond_init(&s->compute_cond, NULL);
    s->slots = calloc((size_t)options->parallel, sizeof *s->slots);
    s->queue = calloc((size_t)options->queue, sizeof *s->queue);
    gptoss_harmony_parser_options parser_options = {.start = GPTOSS_HARMONY_START_ASSISTANT};
    bool ok = s->slots && s->queue;
    for (int i = 0; ok && i < options->parallel; i++) {
        server_slot *slot = &s->slots[i];
        slot->index = i;
        slot->sched = s;
        pthread_cond_init(&slot->cond, NULL);
        pthread_cond_init(&slot->computed, NULL);
        s->n_slots = i + 1;
        gptoss_status st = GPTOSS_OK;
        if (i == 0 && first_context) slot->ctx = first_context, first_context = NULL;
        else st = gptoss_context_create(model, n_ctx, &slot->ctx);
        if (st == GPTOSS_OK) st = gptoss_harmony_parser_create(tok, &parser_options, &slot->parser);
        if (st != GPTOSS_OK) {
            fprintf(stderr, "gptoss serve: slot %d: %s\n", i, gptoss_last_error());
            ok = false;
        }
    }
    gptoss_context_free(first_context);
    if (ok) s->n_ctx = gptoss_context_capacity(s->slots[0].ctx);
    if (ok && pthread_create(&s->compute_thread, NULL, compute_main, s) == 0) s->compute_started = true;
    else ok = false;
    for (int i = 0; ok && i < s->n_slots; i++) {
        if (pthread_create(&s->slots[i].thread, NULL, slot_main, &s->slots[i]) != 0) ok = false;
        else s->n_started = i + 1;
    }
    if (!ok) {
        if (s->slots) fprintf(stderr, "gptoss serve: cannot start the slots\n");
        server_sched_stop(s);
        return NULL;
    }
    return s;
}

void server_sched_cancel_all(server_sched *s) {
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    while (s->queue_len > 0) {
        server_job *job = queue_pop(s);
        atomic_store(&job->cancel, 1);
        if (job->request.stream) { /* a stream that never started ends with an error event */
            server_error e;
            server_fail(&e, 503, "server_error", "server_shutting_down", NULL, "The server is shutting down.");
            pthread_mutex_lock(&job->mu);
            server_reply_fail(&job->reply, &e);
            pthread_mutex_unlock(&job->mu);
        }
        job_done(job);
        server_job_release(job);
    }
    for (int i = 0; i < s->n_slots; i++) {
        if (s->slots[i].job) atomic_store(&s->slots[i].job->cancel, 1);
        pthread_cond_broadcast(&s->slots[i].cond);
    }
    pthread_mutex_unlock(&s->mu);
}

void server_sched_stop(server_sched *s) {
    if (!s) return;
    server_sched_cancel_all(s);
    for (int i = 0; i < s->n_started; i++) pthread_join(s->slots[i].thread, NULL);
    if (s->compute_started) {
        pthread_mutex_lock(&s->compute_mu);
        s->compute_stop = true;
        pthread_cond_signal(&s->compute_cond);
        pthread_mutex_unlock(&s->compute_mu);
        pthread_join(s->compute_thread, NULL);
    }
    for (int i = 0; i < s->n_slots; i++) {
        gptoss_harmony_parser_free(s->slots[i].parser);
        gptoss_context_free(s->slots[i].ctx);
        pthread_cond_destroy(&s->slots[i].cond);
        pthread_cond_destroy(&s->slots[i].computed);
    }
    free(s->slots);
    free(s->queue);
    pthread_cond_destroy(&s->compute_cond);
    pthread_mutex_destroy(&s->compute_mu);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
