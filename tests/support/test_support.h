/* test_support.h - helpers shared by the Criterion tests. */
#ifndef GPTOSS_TEST_SUPPORT_H
#define GPTOSS_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* Path of a file under tests/fixtures ("tiny/config.json"); static buffer per call slot. */
const char *fixture_path(const char *relative);

/* Reads a whole file; aborts the test if it cannot. *size gets the byte count. */
void *read_whole_file(const char *path, size_t *size);

/* Writes bytes to path (creating or truncating it); returns 0 on success. */
int write_whole_file(const char *path, const void *data, size_t size);

/* Creates a fresh temporary folder (mkdtemp) and returns its malloc'd path. */
char *make_temp_dir(void);

/* Deletes a folder and everything in it (one level of files is enough for tests). */
void remove_dir(const char *dir);

/* Copies every regular file of src_dir into dst_dir (one level, plus nothing else). */
void copy_dir_files(const char *src_dir, const char *dst_dir);

/* Result of running a command. */
typedef struct command_result {
    int exit_code;      /* -1 if it did not exit normally (crash) */
    char *out;          /* captured stdout, NUL-terminated */
    char *err;          /* captured stderr, NUL-terminated */
} command_result;

/* Runs argv (argv[0] a path, NULL-terminated) with stdin from stdin_text
 * (NULL: empty), capturing stdout and stderr. */
command_result run_command(char *const argv[], const char *stdin_text);
void command_result_free(command_result *result);

/* Writes a small random model with the real 201088-token vocabulary and the
 * release tokenizer.json (GPTOSS_TOKENIZER_JSON) into a fresh temporary
 * folder, and returns the folder (remove_dir + free when done). */
char *make_mini_vocab_model(uint64_t seed);

/* Fixture reference data: int32 tokens and float32 logits files. */
typedef struct reference_data {
    uint32_t *prompt, *greedy, *sequence;
    size_t n_prompt, n_greedy, n_sequence;
    float *logits;      /* [n_sequence][vocab] */
    float *logits_bf16; /* the reference run in bf16, widened: [n_sequence][vocab] */
    size_t vocab;
} reference_data;

/* Loads tests/fixtures/NAME/reference/ for a model of the given vocabulary. */
reference_data load_reference(const char *name, size_t vocab);
void free_reference(reference_data *ref);

/* max_i |a_i - b_i| and max_i |b_i| over n floats. */
float max_abs_diff(const float *a, const float *b, size_t n);
float max_abs(const float *a, size_t n);

/* Index of the largest value (lowest index on ties). */
size_t argmax_f32(const float *values, size_t n);

#endif
