/* test_support.c - helpers shared by the Criterion tests. */
#include "test_support.h"

#include "numeric.h"
#include "synth.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *fixture_path(const char *relative) {
    static _Thread_local char buffers[4][4096];
    static _Thread_local int next;
    char *buf = buffers[next++ % 4];
    snprintf(buf, sizeof buffers[0], "%s/%s", GPTOSS_FIXTURES, relative);
    return buf;
}

void *read_whole_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long length = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)length + 1);
    cr_assert_not_null(data);
    cr_assert_eq(fread(data, 1, (size_t)length, f), (size_t)length, "short read of %s", path);
    data[length] = '\0';
    fclose(f);
    if (size) *size = (size_t)length;
    return data;
}

int write_whole_file(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t written = fwrite(data, 1, size, f);
    return (fclose(f) == 0 && written == size) ? 0 : -1;
}

char *make_temp_dir(void) {
    const char *base = getenv("TMPDIR");
    char template[4096];
    snprintf(template, sizeof template, "%s/gptoss-test-XXXXXX", base && *base ? base : "/tmp");
    char *dir = mkdtemp(template);
    cr_assert_not_null(dir, "mkdtemp failed");
    return strdup(dir);
}

void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat info;
        if (lstat(path, &info) == 0 && S_ISDIR(info.st_mode)) remove_dir(path);
        else unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

void copy_dir_files(const char *src_dir, const char *dst_dir) {
    DIR *d = opendir(src_dir);
    cr_assert_not_null(d, "cannot open %s", src_dir);
    struct dirent *e;
    char src[4096], dst[4096];
    while ((e = readdir(d))) {
        snprintf(src, sizeof src, "%s/%s", src_dir, e->d_name);
        struct stat info;
        if (stat(src, &info) != 0 || !S_ISREG(info.st_mode)) continue;
        size_t size;
        void *data = read_whole_file(src, &size);
        snprintf(dst, sizeof dst, "%s/%s", dst_dir, e->d_name);
        cr_assert_eq(write_whole_file(dst, data, size), 0, "cannot write %s", dst);
        free(data);
    }
    closedir(d);
}

/* Appends what is readable on fd to a growing buffer; returns 0 at EOF. */
static int drain(int fd, char **buf, size_t *len) {
    char chunk[65536];
    ssize_t got = read(fd, chunk, sizeof chunk);
    if (got <= 0) return 0;
    *buf = realloc(*buf, *len + (size_t)got + 1);
    memcpy(*buf + *len, chunk, (size_t)got);
    *len += (size_t)got;
    (*buf)[*len] = '\0';
    return 1;
}

command_result run_command(char *const argv[], const char *stdin_text) {
    int in_pipe[2], out_pipe[2], err_pipe[2];
    cr_assert(pipe(in_pipe) == 0 && pipe(out_pipe) == 0 && pipe(err_pipe) == 0);
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork failed");
    if (pid == 0) {
        dup2(in_pipe[0], 0);
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        close(in_pipe[1]);
        close(out_pipe[0]);
        close(err_pipe[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(in_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[1]);
    /* Feed stdin from a child-free writer: small inputs fit in the pipe buffer;
     * larger ones are written while draining the outputs below. */
    size_t to_write = stdin_text ? strlen(stdin_text) : 0, written = 0;
    if (to_write == 0) close(in_pipe[1]);
    else fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
    command_result r = {.exit_code = -1};
    size_t out_len = 0, err_len = 0;
    r.out = calloc(1, 1);
    r.err = calloc(1, 1);
    int out_open = 1, err_open = 1, in_open = to_write > 0;
    while (out_open || err_open) {
        struct pollfd fds[3] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}, {in_pipe[1], POLLOUT, 0}};
        if (poll(fds, in_open ? 3 : 2, -1) < 0) break;
        if (out_open && (fds[0].revents & (POLLIN | POLLHUP))) out_open = drain(out_pipe[0], &r.out, &out_len);
        if (err_open && (fds[1].revents & (POLLIN | POLLHUP))) err_open = drain(err_pipe[0], &r.err, &err_len);
        if (in_open && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t n = write(in_pipe[1], stdin_text + written, to_write - written);
            if (n > 0) written += (size_t)n;
            if (n < 0 || written == to_write) {
                close(in_pipe[1]);
                in_open = 0;
            }
        }
    }
    if (in_open) close(in_pipe[1]);
    close(out_pipe[0]);
    close(err_pipe[0]);
    int status;
    waitpid(pid, &status, 0);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

void command_result_free(command_result *r) {
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

static uint32_t *read_tokens(const char *name, const char *file, size_t *count) {
    char relative[256];
    snprintf(relative, sizeof relative, "%s/reference/%s", name, file);
    size_t size;
    int32_t *raw = read_whole_file(fixture_path(relative), &size);
    *count = size / sizeof(int32_t);
    return (uint32_t *)raw;
}

reference_data load_reference(const char *fixture, size_t vocab) {
    char name[128]; /* fixture may live in fixture_path's buffer, which the reads below reuse */
    snprintf(name, sizeof name, "%s", fixture);
    reference_data ref = {.vocab = vocab};
    ref.prompt = read_tokens(name, "prompt_tokens.i32.bin", &ref.n_prompt);
    ref.greedy = read_tokens(name, "greedy_tokens.i32.bin", &ref.n_greedy);
    ref.sequence = read_tokens(name, "sequence_tokens.i32.bin", &ref.n_sequence);
    char relative[256];
    snprintf(relative, sizeof relative, "%s/reference/logits.f32.bin", name);
    size_t size;
    ref.logits = read_whole_file(fixture_path(relative), &size);
    cr_assert_eq(size, ref.n_sequence * vocab * sizeof(float), "reference logits of %s have an unexpected size", name);
    snprintf(relative, sizeof relative, "%s/reference/logits_bf16.bf16.bin", name);
    uint16_t *bf16 = read_whole_file(fixture_path(relative), &size);
    cr_assert_eq(size, ref.n_sequence * vocab * sizeof(uint16_t), "bf16 reference logits of %s have an unexpected size",
                 name);
    ref.logits_bf16 = malloc(ref.n_sequence * vocab * sizeof(float));
    for (size_t i = 0; i < ref.n_sequence * vocab; i++) ref.logits_bf16[i] = bf16_to_f32(bf16[i]);
    free(bf16);
    return ref;
}

void free_reference(reference_data *ref) {
    free(ref->prompt);
    free(ref->greedy);
    free(ref->sequence);
    free(ref->logits);
    free(ref->logits_bf16);
}

float max_abs_diff(const float *a, const float *b, size_t n) {
    float worst = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= worst)) worst = d; /* NaN counts as the worst */
    }
    return worst;
}

float max_abs(const float *a, size_t n) {
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) m = fabsf(a[i]) > m ? fabsf(a[i]) : m;
    return m;
}

size_t argmax_f32(const float *values, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (values[i] > values[best]) best = i;
    return best;
}

char *make_mini_vocab_model(uint64_t seed) {
    char *dir = make_temp_dir();
    gptoss_config cfg;
    cr_assert_eq(gptoss_synth_preset("mini-vocab", &cfg), GPTOSS_OK);
    cr_assert_eq(gptoss_synth_write(&cfg, dir, seed, 1, 0), GPTOSS_OK, "%s", gptoss_last_error());
    gptoss_synth_release(&cfg);
    size_t size;
    void *tokenizer = read_whole_file(GPTOSS_TOKENIZER_JSON, &size);
    char path[4200];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    cr_assert_eq(write_whole_file(path, tokenizer, size), 0);
    free(tokenizer);
    return dir;
}
