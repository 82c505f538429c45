/* server_slots.h - running requests: --parallel slots, each with its own KV
 * context and harmony parser, a bounded FIFO queue in front of them, and
 * one compute thread that runs every forward pass.
 *
 * Why one compute thread: two cores shared by several OpenMP teams (one per
 * slot thread) would oversubscribe them. Slots hand their forward passes
 * (the prompt, then one per token) to the compute thread in FIFO order, so
 * running requests interleave token by token, while sampling and parsing
 * stay on the slots' own threads and overlap the next slot's pass.
 *
 * Prompt cache: a queued request goes to the free slot whose context shares
 * the longest token prefix with its prompt (least recently used on ties);
 * gptoss_context_eval_prompt then reuses that prefix.
 *
 * Jobs are reference counted: the HTTP side holds one reference, the
 * scheduler another while the job is queued or running. Lock order: the
 * scheduler's mutex before a job's. */
#ifndef GPTOSS_SERVER_SLOTS_H
#define GPTOSS_SERVER_SLOTS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "gptoss.h"
#include "server_reply.h"
#include "server_request.h"
#include "server_script.h"
#include "tokenizer.h"

typedef enum job_state { JOB_NEW, JOB_QUEUED, JOB_RUNNING, JOB_DONE } job_state;

typedef struct server_job {
    server_request request;      /* owned */
    gptoss_ids prompt;           /* the rendered prompt */
    const gptoss_ids *script;    /* scripted completion (--script), or NULL */
    double received;             /* now_seconds() when the request arrived */
    atomic_int cancel;           /* the client left, or the server is stopping */
    pthread_mutex_t mu;          /* guards what follows */
    pthread_cond_t cond;         /* signalled when reply.out grows or state changes */
    int refs;
    job_state state;
    server_reply reply;          /* reply.out: SSE bytes for the HTTP side */
    size_t taken;                /* bytes of reply.out the HTTP side has taken */
    bool failed;                 /* the turn failed: error says why */
    server_error error;
} server_job;

/* A job holding one reference; NULL when out of memory. */
server_job *server_job_create(void);
void server_job_release(server_job *job);

typedef struct server_sched server_sched;

typedef struct server_sched_options {
    int parallel;                 /* slots */
    int queue;                    /* waiting requests beyond the busy slots */
    int threads;                  /* OpenMP threads of the compute thread; 0: default */
    const server_script *script;  /* NULL: sample */
    const char *model_name;       /* reported in replies */
} server_sched_options;

/* Creates the slots' contexts (first_context, if given, becomes slot 0's
 * and is then owned here) and starts the threads. Prints why and returns
 * NULL on failure. */
server_sched *server_sched_start(gptoss_model *model, gptoss_context *first_context, uint32_t n_ctx,
                                 const gptoss_tokenizer *tok, const server_sched_options *options);

typedef enum submit_result {
    SUBMIT_OK,
    SUBMIT_QUEUE_FULL,    /* 503 */
    SUBMIT_STOPPING,      /* 503 */
    SUBMIT_SCRIPT_DONE,   /* --script has no line left: 500 */
} submit_result;

/* Queues a job (taking a scheduler reference on success). */
submit_result server_sched_submit(server_sched *s, server_job *job);

/* The client went away: a queued job leaves the queue, a running one stops
 * at its next token. */
void server_sched_cancel(server_sched *s, server_job *job);

/* Tokens a slot's context holds. */
uint32_t server_sched_context_size(const server_sched *s);

/* Whether server_sched_cancel_all was called. */
bool server_sched_stopping(server_sched *s);

/* For /health. */
void server_sched_status(server_sched *s, int *slots, int *busy, int *waiting, int *queue_capacity);

/* Stops taking requests and cancels every queued and running one (the
 * HTTP side's waits end). */
void server_sched_cancel_all(server_sched *s);

/* Cancels everything, joins the threads and frees the scheduler (and the
 * contexts; not the model or tokenizer). NULL is fine. */
void server_sched_stop(server_sched *s);

/* --- between server_slots.c and server_generate.c --- */

typedef struct server_slot {
    int index;
    gptoss_context *ctx;
    gptoss_harmony_parser *parser;
    pthread_t thread;
    pthread_cond_t cond;     /* a job was assigned, or stopping (with the scheduler's mutex) */
    pthread_cond_t computed; /* its forward pass is done (with the compute mutex) */
    server_job *job;         /* under the scheduler's mutex */
    uint64_t last_used;
    server_sched *sched;
} server_slot;

/* Runs one forward pass on the compute thread and waits for it (the
 * turn_eval_fn contract). */
gptoss_status server_compute(server_sched *s, server_slot *slot, gptoss_context *ctx, const uint32_t *tokens,
                             uint32_t n, int prompt, float *logits, uint32_t *n_processed);

/* Runs a job's turn on a slot (server_generate.c): fills job->reply. */
void server_generate(server_sched *s, server_slot *slot, server_job *job, const gptoss_tokenizer *tok,
                     uint32_t vocab);

#endif
