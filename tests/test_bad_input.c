/* test_bad_input.c - hostile and broken inputs: every one must be refused
 * with the right status and a one-line message naming the file, tensor or
 * value, both through the library and through the `gptoss` command.
 *
 * Hostile safetensors files are built here: either from a header string and
 * data bytes, or by parsing tests/fixtures/tiny/model.safetensors with cJSON,
 * changing its header and writing it back. Each test works in its own
 * temporary folder, removed by the suite's fini even when an assertion fails. */
#include <cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gptoss.h"
#include "test_support.h"

/* ------------------------------------------------------------------ */
/* Temporary folder of the running test                                */

static char *g_dir;

static void setup(void) { g_dir = make_temp_dir(); }

static void teardown(void) {
    if (!g_dir) return;
    remove_dir(g_dir);
    free(g_dir);
    g_dir = NULL;
}

/* g_dir/name; a few rotating buffers so several can be alive at once. */
static const char *in_dir(const char *name) {
    static char buffers[4][4096];
    static int next;
    char *buf = buffers[next++ % 4];
    snprintf(buf, sizeof buffers[0], "%s/%s", g_dir, name);
    return buf;
}

/* Copies every file of tests/fixtures/NAME (not reference/) into g_dir. */
static void use_fixture(const char *name) { copy_dir_files(fixture_path(name), g_dir); }

static void copy_fixture_file(const char *fixture, const char *file) {
    char relative[256];
    snprintf(relative, sizeof relative, "%s/%s", fixture, file);
    size_t size;
    void *data = read_whole_file(fixture_path(relative), &size);
    cr_assert_eq(write_whole_file(in_dir(file), data, size), 0);
    free(data);
}

static int file_exists(const char *path) {
    struct stat info;
    return stat(path, &info) == 0;
}

/* ------------------------------------------------------------------ */
/* Writing safetensors files                                           */

/* Writes 8-byte LE header_len + header bytes + data, header_len given
 * separately so a test can lie about it. */
static void write_st_raw(const char *path, uint64_t header_len, const char *header, size_t header_bytes,
                         const void *data, size_t data_size) {
    size_t total = 8 + header_bytes + data_size;
    uint8_t *buf = malloc(total ? total : 1);
    cr_assert_not_null(buf);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(header_len >> (8 * i));
    memcpy(buf + 8, header, header_bytes);
    if (data_size) memcpy(buf + 8 + header_bytes, data, data_size);
    cr_assert_eq(write_whole_file(path, buf, total), 0, "cannot write %s", path);
    free(buf);
}

/* A well-formed container around any header: length + header + data. */
static void write_st(const char *path, const char *header, const void *data, size_t data_size) {
    write_st_raw(path, strlen(header), header, strlen(header), data, data_size);
}

/* config.json of tiny plus model.safetensors = header + data_size zero bytes. */
static void hostile_tiny(const char *header, size_t data_size) {
    copy_fixture_file("tiny", "config.json");
    void *data = calloc(1, data_size ? data_size : 1);
    write_st(in_dir("model.safetensors"), header, data, data_size);
    free(data);
}

/* A parsed safetensors file whose header and data can be changed. */
typedef struct st_image {
    cJSON *header;
    uint8_t *data;
    size_t data_size;
} st_image;

static st_image st_read(const char *path) {
    size_t size;
    uint8_t *bytes = read_whole_file(path, &size);
    cr_assert_geq(size, 8);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | bytes[i];
    cr_assert_leq(n, size - 8);
    st_image img = {0};
    img.header = cJSON_ParseWithLength((const char *)bytes + 8, (size_t)n);
    cr_assert_not_null(img.header, "cannot parse the header of %s", path);
    img.data_size = size - 8 - (size_t)n;
    img.data = malloc(img.data_size ? img.data_size : 1);
    memcpy(img.data, bytes + 8 + n, img.data_size);
    free(bytes);
    return img;
}

/* Writes the image with its header padded by spaces to a multiple of 8, as
 * real files are, so the data stays aligned. */
static void st_write(const char *path, const st_image *img) {
    char *text = cJSON_PrintUnformatted(img->header);
    cr_assert_not_null(text);
    size_t len = strlen(text), padded = (len + 7) / 8 * 8;
    char *header = malloc(padded);
    memcpy(header, text, len);
    memset(header + len, ' ', padded - len);
    write_st_raw(path, padded, header, padded, img->data, img->data_size);
    free(header);
    cJSON_free(text);
}

static void st_free(st_image *img) {
    cJSON_Delete(img->header);
    free(img->data);
}

static cJSON *st_entry(st_image *img, const char *name) {
    cJSON *e = cJSON_GetObjectItemCaseSensitive(img->header, name);
    cr_assert_not_null(e, "fixture has no tensor %s", name);
    return e;
}

/* Appends bytes (8-byte aligned) to the data area; returns their offset. */
static uint64_t st_append(st_image *img, const void *bytes, size_t n) {
    size_t begin = (img->data_size + 7) / 8 * 8;
    img->data = realloc(img->data, begin + n);
    memset(img->data + img->data_size, 0, begin - img->data_size);
    memcpy(img->data + begin, bytes, n);
    img->data_size = begin + n;
    return begin;
}

static cJSON *make_entry(const char *dtype, const uint64_t *shape, int ndim, uint64_t begin, uint64_t end) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "dtype", dtype);
    cJSON *s = cJSON_AddArrayToObject(e, "shape");
    for (int i = 0; i < ndim; i++) cJSON_AddItemToArray(s, cJSON_CreateNumber((double)shape[i]));
    cJSON *o = cJSON_AddArrayToObject(e, "data_offsets");
    cJSON_AddItemToArray(o, cJSON_CreateNumber((double)begin));
    cJSON_AddItemToArray(o, cJSON_CreateNumber((double)end));
    return e;
}

/* g_dir = tiny's config.json + tiny's model.safetensors, returned parsed for changing. */
static st_image tiny_image(void) {
    copy_fixture_file("tiny", "config.json");
    return st_read(fixture_path("tiny/model.safetensors"));
}

/* ------------------------------------------------------------------ */
/* JSON files                                                          */

static cJSON *json_read(const char *path) {
    char *text = read_whole_file(path, NULL);
    cJSON *root = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(root, "cannot parse %s", path);
    return root;
}

static void json_write(const char *path, const cJSON *root) {
    char *text = cJSON_Print(root);
    cr_assert_not_null(text);
    cr_assert_eq(write_whole_file(path, text, strlen(text)), 0);
    cJSON_free(text);
}

/* g_dir = the tiny fixture; returns its config.json parsed for changing. */
static cJSON *tiny_config(void) {
    use_fixture("tiny");
    return json_read(in_dir("config.json"));
}

/* Writes config back to g_dir/config.json and frees it. */
static void save_config(cJSON *config) {
    json_write(in_dir("config.json"), config);
    cJSON_Delete(config);
}

static void set_number(cJSON *obj, const char *key, double value) {
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    cJSON_AddNumberToObject(obj, key, value);
}

/* ------------------------------------------------------------------ */
/* Expectations                                                        */

/* gptoss_model_load(dir) must fail with want, leave *model NULL, and give a
 * one-line message containing every needle (NULL-terminated list). */
static void expect_load_fail(const char *dir, gptoss_status want, ...) {
    gptoss_model *model = (gptoss_model *)&model; /* must be reset to NULL */
    gptoss_status s = gptoss_model_load(dir, NULL, &model);
    const char *msg = gptoss_last_error();
    if (s == GPTOSS_OK) gptoss_model_free(model);
    cr_assert_eq(s, want, "status '%s', expected '%s'; message: %s", gptoss_status_string(s),
                 gptoss_status_string(want), msg);
    cr_assert_null(model, "a failed load must leave the model NULL");
    cr_assert_null(strchr(msg, '\n'), "message is not one line: %s", msg);
    cr_assert_null(strchr(msg, '\r'), "message is not one line: %s", msg);
    va_list needles;
    va_start(needles, want);
    for (const char *needle; (needle = va_arg(needles, const char *));)
        cr_assert_not_null(strstr(msg, needle), "message does not mention '%s': %s", needle, msg);
    va_end(needles);
}

static int count_lines(const char *text) {
    int n = 0;
    for (; *text; text++) n += *text == '\n';
    return n;
}

/* The command must exit with a non-zero status (not a crash), print nothing
 * on stdout, and print one error line on stderr containing every needle.
 * after_load: the model loaded, so the two-line banner ("model: ...",
 * "kernels: ...") precedes the error. */
static void expect_cli_fail(char *const argv[], int after_load, ...) {
    command_result r = run_command(argv, NULL);
    cr_assert_neq(r.exit_code, -1, "the command crashed; stderr:\n%s", r.err);
    cr_assert_neq(r.exit_code, 0, "the command succeeded; stderr:\n%s", r.err);
    cr_assert_neq(r.exit_code, 127, "could not run %s", argv[0]);
    cr_assert_str_empty(r.out, "stdout should be empty, got: %s", r.out);
    const int lines = count_lines(r.err);
    cr_assert_eq(lines, after_load ? 3 : 1, "expected %d stderr line(s), got %d:\n%s", after_load ? 3 : 1, lines,
                 r.err);
    cr_assert_eq(r.err[strlen(r.err) - 1], '\n', "stderr does not end in a newline: %s", r.err);
    const char *error_line = r.err;
    if (after_load) {
        cr_assert_eq(strncmp(r.err, "model: ", 7), 0, "unexpected first line:\n%s", r.err);
        error_line = strchr(strchr(r.err, '\n') + 1, '\n') + 1;
        cr_assert_eq(strncmp(strchr(r.err, '\n') + 1, "kernels: ", 9), 0, "unexpected second line:\n%s", r.err);
    }
    va_list needles;
    va_start(needles, after_load);
    for (const char *needle; (needle = va_arg(needles, const char *));)
        cr_assert_not_null(strstr(error_line, needle), "error line does not mention '%s': %s", needle, error_line);
    va_end(needles);
    command_result_free(&r);
}

/* `gptoss logits --model DIR --tokens T --out g_dir/out.bin [extra]`. */
#define LOGITS_ARGV(model, tokens, ...)                                                                    \
    (char *[]) {                                                                                           \
        GPTOSS_BINARY, "logits", "--model", (char *)(model), "--tokens", (char *)(tokens), "--out",         \
            (char *)in_dir("out.bin"), __VA_ARGS__                                                          \
    }
#define GENERATE_ARGV(model, tokens, ...)                                                                  \
    (char *[]) {                                                                                           \
        GPTOSS_BINARY, "generate", "--model", (char *)(model), "--tokens", (char *)(tokens), __VA_ARGS__     \
    }

static void expect_no_output_file(void) {
    cr_assert_not(file_exists(in_dir("out.bin")), "a failed `gptoss logits` must not write its --out file");
}

/* ================================================================== */
/* Folder layout                                                       */

TestSuite(folder, .init = setup, .fini = teardown, .timeout = 60);

Test(folder, missing_folder) {
    expect_load_fail(in_dir("no-such-model"), GPTOSS_ERROR_IO, "no-such-model", "no such model folder", NULL);
}

Test(folder, folder_is_a_file) {
    copy_fixture_file("tiny", "config.json");
    expect_load_fail(in_dir("config.json"), GPTOSS_ERROR_IO, "config.json", "no such model folder", NULL);
}

Test(folder, without_config_json) {
    copy_fixture_file("tiny", "model.safetensors");
    expect_load_fail(g_dir, GPTOSS_ERROR_IO, "config.json", NULL);
}

Test(folder, without_safetensors) {
    copy_fixture_file("tiny", "config.json");
    expect_load_fail(g_dir, GPTOSS_ERROR_IO, "model.safetensors", NULL);
}

Test(folder, index_names_missing_shard) {
    use_fixture("small");
    cr_assert_eq(unlink(in_dir("model-00001-of-00002.safetensors")), 0);
    expect_load_fail(g_dir, GPTOSS_ERROR_IO, "model-00001-of-00002.safetensors", NULL);
}

Test(folder, index_shard_with_parent_path) {
    use_fixture("small");
    cJSON *index = json_read(in_dir("model.safetensors.index.json"));
    cJSON *map = cJSON_GetObjectItemCaseSensitive(index, "weight_map");
    cJSON_ReplaceItemInObjectCaseSensitive(map, "model.norm.weight", cJSON_CreateString("../x.safetensors"));
    json_write(in_dir("model.safetensors.index.json"), index);
    cJSON_Delete(index);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "../x.safetensors", "invalid shard name", NULL);
}

Test(folder, index_shard_with_absolute_path) {
    use_fixture("small");
    char absolute[4096];
    snprintf(absolute, sizeof absolute, "%s", in_dir("model-00002-of-00002.safetensors"));
    cJSON *index = json_read(in_dir("model.safetensors.index.json"));
    cJSON *map = cJSON_GetObjectItemCaseSensitive(index, "weight_map");
    cJSON_ReplaceItemInObjectCaseSensitive(map, "lm_head.weight", cJSON_CreateString(absolute));
    json_write(in_dir("model.safetensors.index.json"), index);
    cJSON_Delete(index);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "invalid shard name", absolute, NULL);
}

Test(folder, index_not_json) {
    use_fixture("small");
    const char text[] = "this is not JSON";
    cr_assert_eq(write_whole_file(in_dir("model.safetensors.index.json"), text, sizeof text - 1), 0);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "model.safetensors.index.json", "weight_map", NULL);
}

Test(folder, index_entry_not_a_string) {
    use_fixture("small");
    cJSON *index = json_read(in_dir("model.safetensors.index.json"));
    cJSON *map = cJSON_GetObjectItemCaseSensitive(index, "weight_map");
    cJSON_ReplaceItemInObjectCaseSensitive(map, "model.norm.weight", cJSON_CreateNumber(2));
    json_write(in_dir("model.safetensors.index.json"), index);
    cJSON_Delete(index);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "model.norm.weight", "not a file name", NULL);
}

Test(folder, shard_is_a_fifo) {
    /* Opening a FIFO for reading blocks until a writer appears: the loader
     * must refuse it instead of hanging (the suite's timeout catches a hang). */
    use_fixture("small");
    cr_assert_eq(unlink(in_dir("model-00001-of-00002.safetensors")), 0);
    cr_assert_eq(mkfifo(in_dir("model-00001-of-00002.safetensors"), 0600), 0);
    expect_load_fail(g_dir, GPTOSS_ERROR_IO, "model-00001-of-00002.safetensors", "not a regular file", NULL);
}

Test(folder, config_is_a_fifo) {
    copy_fixture_file("tiny", "model.safetensors");
    cr_assert_eq(mkfifo(in_dir("config.json"), 0600), 0);
    expect_load_fail(g_dir, GPTOSS_ERROR_IO, "config.json", "not a regular file", NULL);
}

/* ================================================================== */
/* Truncated files                                                     */

TestSuite(truncated, .init = setup, .fini = teardown, .timeout = 60);

Test(truncated, empty_file) {
    copy_fixture_file("tiny", "config.json");
    cr_assert_eq(write_whole_file(in_dir("model.safetensors"), "", 0), 0);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "model.safetensors", "truncated (0 bytes", NULL);
}

Test(truncated, fewer_than_8_bytes) {
    copy_fixture_file("tiny", "config.json");
    cr_assert_eq(write_whole_file(in_dir("model.safetensors"), "\x20\x20\0\0\0", 5), 0);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "model.safetensors", "truncated (5 bytes", NULL);
}

/* The tiny fixture cut to `keep` bytes. */
static void truncated_tiny(size_t keep) {
    copy_fixture_file("tiny", "config.json");
    size_t size;
    void *bytes = read_whole_file(fixture_path("tiny/model.safetensors"), &size);
    cr_assert_lt(keep, size);
    cr_assert_eq(write_whole_file(in_dir("model.safetensors"), bytes, keep), 0);
    free(bytes);
}

Test(truncated, header_cut_in_the_middle) {
    truncated_tiny(8 + 4000); /* the header is 8224 bytes */
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "model.safetensors", "header length 8224 exceeds the file size 4008",
                     NULL);
}

Test(truncated, data_area_cut) {
    /* The last tensor (by offset) now runs past the end of the file. */
    st_image img = st_read(fixture_path("tiny/model.safetensors"));
    const char *last = NULL;
    double last_end = 0;
    for (cJSON *e = img.header->child; e; e = e->next) {
        cJSON *offsets = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        if (offsets && cJSON_GetArrayItem(offsets, 1)->valuedouble > last_end) {
            last_end = cJSON_GetArrayItem(offsets, 1)->valuedouble;
            last = e->string;
        }
    }
    cr_assert_not_null(last);
    char name[256];
    snprintf(name, sizeof name, "'%s'", last);
    st_free(&img);
    size_t size;
    free(read_whole_file(fixture_path("tiny/model.safetensors"), &size));
    truncated_tiny(size - 100);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "model.safetensors", name, "outside the data area", NULL);
}

/* ================================================================== */
/* Header length and JSON                                              */

TestSuite(header, .init = setup, .fini = teardown, .timeout = 60);

Test(header, length_larger_than_file) {
    copy_fixture_file("tiny", "config.json");
    const char header[] = "{}      ";
    write_st_raw(in_dir("model.safetensors"), 1000, header, 8, NULL, 0);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "model.safetensors", "header length 1000 exceeds the file size 16",
                     NULL);
}

Test(header, length_absurdly_large) {
    copy_fixture_file("tiny", "config.json");
    const char header[] = "{}      ";
    write_st_raw(in_dir("model.safetensors"), (uint64_t)1 << 62, header, 8, NULL, 0);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "model.safetensors", "4611686018427387904", "absurdly large", NULL);
}

Test(header, length_all_ones) {
    copy_fixture_file("tiny", "config.json");
    const char header[] = "{}      ";
    write_st_raw(in_dir("model.safetensors"), UINT64_MAX, header, 8, NULL, 0);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "model.safetensors", "18446744073709551615", NULL);
}

Test(header, not_json) {
    hostile_tiny("this is not JSON at all", 0);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "model.safetensors", "not a JSON object", NULL);
}

Test(header, unterminated_json) {
    /* The JSON string runs to the very end of the file. */
    hostile_tiny("{\"lm_head.weight\": {\"dtype\": \"BF16", 0);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "model.safetensors", "not a JSON object", NULL);
}

Test(header, json_array) {
    hostile_tiny("[{\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]}]", 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "model.safetensors", "not a JSON object", NULL);
}

Test(header, tensor_entry_not_object) {
    hostile_tiny("{\"lm_head.weight\": [0, 1]}", 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "model.safetensors", "'lm_head.weight'", "not an object", NULL);
}

Test(header, tensor_entry_without_dtype) {
    hostile_tiny("{\"w\": {\"shape\": [1], \"data_offsets\": [0, 1]}}", 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "'w'", "dtype", NULL);
}

Test(header, tensor_entry_without_shape) {
    hostile_tiny("{\"w\": {\"dtype\": \"U8\", \"data_offsets\": [0, 1]}}", 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "'w'", "shape", NULL);
}

Test(header, tensor_entry_without_offsets) {
    hostile_tiny("{\"w\": {\"dtype\": \"U8\", \"shape\": [1]}}", 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "'w'", "data_offsets", NULL);
}

Test(header, metadata_only_is_not_a_model) {
    /* A valid, empty file: the loader must then say which tensor is missing. */
    hostile_tiny("{\"__metadata__\": {\"format\": \"pt\"}}", 0);
    expect_load_fail(g_dir, GPTOSS_ERROR_TENSOR, "model.embed_tokens.weight", "missing", NULL);
}

/* ================================================================== */
/* data_offsets, shapes, dtypes                                        */

TestSuite(offsets, .init = setup, .fini = teardown, .timeout = 60);

Test(offsets, end_beyond_data_area) {
    hostile_tiny("{\"w\": {\"dtype\": \"U8\", \"shape\": [16], \"data_offsets\": [0, 16]}}", 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "model.safetensors", "'w'", "[0, 16]", "data area of 8 bytes", NULL);
}

Test(offsets, begin_beyond_data_area) {
    hostile_tiny("{\"w\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [4096, 4096]}}", 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "'w'", "[4096, 4096]", "data area of 8 bytes", NULL);
}

Test(offsets, huge_offsets) {
    hostile_tiny("{\"w\": {\"dtype\": \"U8\", \"shape\": [8], \"data_offsets\": [9007199254740984, 9007199254740992]}}",
                 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "'w'", "outside the data area", NULL);
}

Test(offsets, begin_after_end) {
    hostile_tiny("{\"w\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [8, 4]}}", 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "'w'", "[8, 4]", "begin after end", NULL);
}

Test(offsets, overlapping_tensors) {
    hostile_tiny("{\"a\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [0, 4]},"
                 " \"b\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [2, 6]}}",
                 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "model.safetensors", "'a'", "'b'", "overlap", NULL);
}

Test(offsets, overlap_hidden_by_empty_tensor) {
    /* 'a' covers [0, 8); the empty tensor 'z' sits at 4, and 'b' at [6, 8)
     * overlaps 'a' though it does not overlap its neighbour 'z'. */
    hostile_tiny("{\"a\": {\"dtype\": \"U8\", \"shape\": [8], \"data_offsets\": [0, 8]},"
                 " \"z\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [4, 4]},"
                 " \"b\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [6, 8]}}",
                 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "'a'", "'b'", "overlap", NULL);
}

Test(offsets, overlap_inside_long_tensor) {
    /* 'b' lies inside 'a' but 'c' between them does not touch 'b'. */
    hostile_tiny("{\"a\": {\"dtype\": \"U8\", \"shape\": [16], \"data_offsets\": [0, 16]},"
                 " \"c\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [2, 4]},"
                 " \"b\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [8, 10]}}",
                 16);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "'a'", "overlap", NULL);
}

Test(offsets, span_does_not_match_dtype_times_shape) {
    hostile_tiny("{\"w\": {\"dtype\": \"BF16\", \"shape\": [4], \"data_offsets\": [0, 4]}}", 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "'w'", "span 4 bytes", "BF16", "needs 8", NULL);
}

Test(offsets, shape_product_overflows) {
    /* 2^40 x 2^40 elements: the byte count does not fit in 64 bits. */
    hostile_tiny("{\"w\": {\"dtype\": \"BF16\", \"shape\": [1099511627776, 1099511627776], \"data_offsets\": [0, 8]}}",
                 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "'w'", "overflow", NULL);
}

Test(offsets, negative_shape) {
    hostile_tiny("{\"w\": {\"dtype\": \"U8\", \"shape\": [-4], \"data_offsets\": [0, 4]}}", 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "'w'", "shape[0]", "non-negative integer", NULL);
}

Test(offsets, fractional_shape) {
    hostile_tiny("{\"w\": {\"dtype\": \"U8\", \"shape\": [2, 2.5], \"data_offsets\": [0, 5]}}", 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "'w'", "shape[1]", "non-negative integer", NULL);
}

Test(offsets, string_in_shape) {
    hostile_tiny("{\"w\": {\"dtype\": \"U8\", \"shape\": [\"4\"], \"data_offsets\": [0, 4]}}", 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "'w'", "shape[0]", NULL);
}

Test(offsets, negative_offset) {
    hostile_tiny("{\"w\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [-4, 0]}}", 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "'w'", "data_offsets", "non-negative integers", NULL);
}

Test(offsets, fractional_offset) {
    hostile_tiny("{\"w\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [0, 3.5]}}", 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "'w'", "data_offsets", "non-negative integers", NULL);
}

Test(offsets, three_offsets) {
    hostile_tiny("{\"w\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [0, 4, 8]}}", 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "'w'", "data_offsets", NULL);
}

Test(offsets, too_many_dims) {
    hostile_tiny("{\"w\": {\"dtype\": \"U8\", \"shape\": [1, 1, 1, 1, 1, 1, 1, 1, 1], \"data_offsets\": [0, 1]}}", 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "'w'", "9 dimensions", NULL);
}

Test(offsets, unknown_dtype) {
    hostile_tiny("{\"w\": {\"dtype\": \"Q4_K\", \"shape\": [4], \"data_offsets\": [0, 4]}}", 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "model.safetensors", "'w'", "unknown dtype 'Q4_K'", NULL);
}

Test(offsets, misaligned_data) {
    hostile_tiny("{\"w\": {\"dtype\": \"BF16\", \"shape\": [2], \"data_offsets\": [1, 5]}}", 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "'w'", "aligned", NULL);
}

Test(offsets, control_characters_stay_on_one_line) {
    /* Names and dtypes come from the file: a newline in them must not break
     * the one-line message (expect_load_fail checks for '\n' and '\r'). */
    hostile_tiny("{\"w\\nx\": {\"dtype\": \"Q4\\r\\nK\", \"shape\": [4], \"data_offsets\": [0, 4]}}", 8);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "unknown dtype", NULL);
}

/* ================================================================== */
/* Tensors against config.json                                         */

TestSuite(tensors, .init = setup, .fini = teardown, .timeout = 60);

Test(tensors, missing_tensor) {
    st_image img = tiny_image();
    cJSON_DeleteItemFromObjectCaseSensitive(img.header, "model.layers.1.self_attn.sinks");
    st_write(in_dir("model.safetensors"), &img);
    st_free(&img);
    expect_load_fail(g_dir, GPTOSS_ERROR_TENSOR, "'model.layers.1.self_attn.sinks'", "missing", NULL);
}

Test(tensors, misshaped_tensor) {
    st_image img = tiny_image();
    cJSON *e = st_entry(&img, "model.layers.1.self_attn.sinks");
    cJSON *shape = cJSON_CreateIntArray((const int[]){2, 2}, 2);
    cJSON_ReplaceItemInObjectCaseSensitive(e, "shape", shape);
    st_write(in_dir("model.safetensors"), &img);
    st_free(&img);
    expect_load_fail(g_dir, GPTOSS_ERROR_TENSOR, "model.safetensors", "'model.layers.1.self_attn.sinks'",
                     "shape [2, 2], expected [4]", NULL);
}

Test(tensors, transposed_tensor) {
    st_image img = tiny_image();
    cJSON *e = st_entry(&img, "model.layers.0.self_attn.k_proj.weight");
    cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const int rows = cJSON_GetArrayItem(shape, 0)->valueint, cols = cJSON_GetArrayItem(shape, 1)->valueint;
    cr_assert_neq(rows, cols);
    cJSON_ReplaceItemInObjectCaseSensitive(e, "shape", cJSON_CreateIntArray((const int[]){cols, rows}, 2));
    st_write(in_dir("model.safetensors"), &img);
    st_free(&img);
    char want[64];
    snprintf(want, sizeof want, "shape [%d, %d], expected [%d, %d]", cols, rows, rows, cols);
    expect_load_fail(g_dir, GPTOSS_ERROR_TENSOR, "'model.layers.0.self_attn.k_proj.weight'", want, NULL);
}

Test(tensors, wrong_dtype) {
    /* sinks: BF16 [4] = 8 bytes; stored as F32 [2] (same bytes). */
    st_image img = tiny_image();
    cJSON *e = st_entry(&img, "model.layers.1.self_attn.sinks");
    cJSON_ReplaceItemInObjectCaseSensitive(e, "dtype", cJSON_CreateString("F32"));
    cJSON_ReplaceItemInObjectCaseSensitive(e, "shape", cJSON_CreateIntArray((const int[]){2}, 1));
    st_write(in_dir("model.safetensors"), &img);
    st_free(&img);
    expect_load_fail(g_dir, GPTOSS_ERROR_TENSOR, "'model.layers.1.self_attn.sinks'", "dtype F32, expected BF16",
                     NULL);
}

Test(tensors, unexpected_extra_tensor) {
    st_image img = tiny_image();
    const uint16_t sinks[4] = {0};
    uint64_t begin = st_append(&img, sinks, sizeof sinks);
    cJSON_AddItemToObject(img.header, "model.layers.4.self_attn.sinks",
                          make_entry("BF16", (const uint64_t[]){4}, 1, begin, begin + sizeof sinks));
    st_write(in_dir("model.safetensors"), &img);
    st_free(&img);
    expect_load_fail(g_dir, GPTOSS_ERROR_TENSOR, "model.safetensors",
                     "unexpected tensor 'model.layers.4.self_attn.sinks'", NULL);
}

Test(tensors, tensor_stored_twice) {
    /* The same name twice in one header (JSON allows it; cJSON keeps both),
     * the second copy at fresh bytes so nothing overlaps. */
    st_image img = tiny_image();
    const uint16_t sinks[4] = {0};
    uint64_t begin = st_append(&img, sinks, sizeof sinks);
    cJSON_AddItemToObject(img.header, "model.layers.1.self_attn.sinks",
                          make_entry("BF16", (const uint64_t[]){4}, 1, begin, begin + sizeof sinks));
    st_write(in_dir("model.safetensors"), &img);
    st_free(&img);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "'model.layers.1.self_attn.sinks'", "twice", NULL);
}

Test(tensors, embedding_wrong_vocab) {
    st_image img = tiny_image();
    cJSON *e = st_entry(&img, "model.embed_tokens.weight");
    cJSON *offsets = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    const double begin = cJSON_GetArrayItem(offsets, 0)->valuedouble;
    /* 255 rows instead of 256 (offsets shrunk to match). */
    cJSON_ReplaceItemInObjectCaseSensitive(e, "shape", cJSON_CreateIntArray((const int[]){255, 64}, 2));
    cJSON_ReplaceItemInArray(offsets, 1, cJSON_CreateNumber(begin + 255 * 64 * 2));
    st_write(in_dir("model.safetensors"), &img);
    st_free(&img);
    expect_load_fail(g_dir, GPTOSS_ERROR_TENSOR, "'model.embed_tokens.weight'", "[255, 64], expected [256, 64]",
                     NULL);
}

/* Sharded layout: the index and the shards must agree. */
TestSuite(sharded, .init = setup, .fini = teardown, .timeout = 60);

Test(sharded, index_omits_a_tensor) {
    use_fixture("small");
    cJSON *index = json_read(in_dir("model.safetensors.index.json"));
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(index, "weight_map"),
                                            "model.layers.1.self_attn.sinks");
    json_write(in_dir("model.safetensors.index.json"), index);
    cJSON_Delete(index);
    expect_load_fail(g_dir, GPTOSS_ERROR_TENSOR, "'model.layers.1.self_attn.sinks'", NULL);
}

Test(sharded, index_points_to_wrong_shard) {
    use_fixture("small");
    cJSON *index = json_read(in_dir("model.safetensors.index.json"));
    cJSON *map = cJSON_GetObjectItemCaseSensitive(index, "weight_map");
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(map, "lm_head.weight")->valuestring,
                     "model-00002-of-00002.safetensors");
    cJSON_ReplaceItemInObjectCaseSensitive(map, "lm_head.weight",
                                           cJSON_CreateString("model-00000-of-00002.safetensors"));
    json_write(in_dir("model.safetensors.index.json"), index);
    cJSON_Delete(index);
    expect_load_fail(g_dir, GPTOSS_ERROR_TENSOR, "model-00000-of-00002.safetensors", "'lm_head.weight'", "missing",
                     NULL);
}

Test(sharded, shard_holds_tensor_not_in_index) {
    /* A stray tensor in a shard that the index does not list. */
    use_fixture("small");
    st_image img = st_read(in_dir("model-00002-of-00002.safetensors"));
    const uint16_t extra[4] = {0};
    uint64_t begin = st_append(&img, extra, sizeof extra);
    cJSON_AddItemToObject(img.header, "model.layers.9.self_attn.sinks",
                          make_entry("BF16", (const uint64_t[]){4}, 1, begin, begin + sizeof extra));
    st_write(in_dir("model-00002-of-00002.safetensors"), &img);
    st_free(&img);
    expect_load_fail(g_dir, GPTOSS_ERROR_TENSOR, "model-00002-of-00002.safetensors", "'model.layers.9.self_attn.sinks'",
                     "index", NULL);
}

Test(sharded, tensor_stored_in_two_shards) {
    /* model.norm.weight (index: shard 2) also stored in shard 0. */
    use_fixture("small");
    st_image two = st_read(in_dir("model-00002-of-00002.safetensors"));
    cJSON *e = st_entry(&two, "model.norm.weight");
    cJSON *offsets = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    const size_t begin = (size_t)cJSON_GetArrayItem(offsets, 0)->valuedouble;
    const size_t end = (size_t)cJSON_GetArrayItem(offsets, 1)->valuedouble;
    st_image zero = st_read(in_dir("model-00000-of-00002.safetensors"));
    uint64_t at = st_append(&zero, two.data + begin, end - begin);
    cJSON *copy = cJSON_Duplicate(e, 1);
    const double copy_offsets[2] = {(double)at, (double)(at + end - begin)};
    cJSON_ReplaceItemInObjectCaseSensitive(copy, "data_offsets", cJSON_CreateDoubleArray(copy_offsets, 2));
    cJSON_AddItemToObject(zero.header, "model.norm.weight", copy);
    st_write(in_dir("model-00000-of-00002.safetensors"), &zero);
    st_free(&zero);
    st_free(&two);
    expect_load_fail(g_dir, GPTOSS_ERROR_TENSOR, "model-00000-of-00002.safetensors", "'model.norm.weight'", NULL);
}

Test(sharded, index_lists_tensor_twice) {
    /* Duplicate key in weight_map (cJSON keeps both). */
    use_fixture("small");
    cJSON *index = json_read(in_dir("model.safetensors.index.json"));
    cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(index, "weight_map"), "model.norm.weight",
                            "model-00002-of-00002.safetensors");
    json_write(in_dir("model.safetensors.index.json"), index);
    cJSON_Delete(index);
    expect_load_fail(g_dir, GPTOSS_ERROR_FORMAT, "'model.norm.weight'", "twice", NULL);
}

/* ================================================================== */
/* config.json                                                         */

TestSuite(config, .init = setup, .fini = teardown, .timeout = 60);

static void expect_missing_key(const char *key) {
    cJSON *config = tiny_config();
    cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(config, key));
    cJSON_DeleteItemFromObjectCaseSensitive(config, key);
    save_config(config);
    char needle[128];
    snprintf(needle, sizeof needle, "missing required key '%s'", key);
    expect_load_fail(g_dir, GPTOSS_ERROR_CONFIG, "config.json", needle, NULL);
}

Test(config, missing_hidden_size) { expect_missing_key("hidden_size"); }
Test(config, missing_intermediate_size) { expect_missing_key("intermediate_size"); }
Test(config, missing_num_hidden_layers) { expect_missing_key("num_hidden_layers"); }
Test(config, missing_num_attention_heads) { expect_missing_key("num_attention_heads"); }
Test(config, missing_num_key_value_heads) { expect_missing_key("num_key_value_heads"); }
Test(config, missing_num_local_experts) { expect_missing_key("num_local_experts"); }
Test(config, missing_num_experts_per_tok) { expect_missing_key("num_experts_per_tok"); }
Test(config, missing_vocab_size) { expect_missing_key("vocab_size"); }
Test(config, missing_sliding_window) { expect_missing_key("sliding_window"); }

/* key set to the JSON value text must be refused, naming the key. */
static void expect_bad_value(const char *key, const char *value_json, const char *needle) {
    cJSON *config = tiny_config();
    cJSON *value = cJSON_Parse(value_json);
    cr_assert_not_null(value);
    cJSON_DeleteItemFromObjectCaseSensitive(config, key);
    cJSON_AddItemToObject(config, key, value);
    save_config(config);
    expect_load_fail(g_dir, GPTOSS_ERROR_CONFIG, "config.json", needle, NULL);
}

Test(config, size_as_string) { expect_bad_value("hidden_size", "\"64\"", "'hidden_size' must be a positive integer"); }
Test(config, size_fractional) { expect_bad_value("vocab_size", "255.5", "'vocab_size' must be a positive integer"); }
Test(config, size_negative) { expect_bad_value("num_hidden_layers", "-4", "'num_hidden_layers'"); }
Test(config, size_zero) { expect_bad_value("num_key_value_heads", "0", "'num_key_value_heads'"); }
Test(config, size_too_large) { expect_bad_value("intermediate_size", "1e12", "'intermediate_size'"); }
Test(config, size_as_bool) { expect_bad_value("sliding_window", "true", "'sliding_window'"); }
Test(config, size_as_array) { expect_bad_value("num_local_experts", "[8]", "'num_local_experts'"); }
Test(config, head_dim_as_string) { expect_bad_value("head_dim", "\"64\"", "'head_dim'"); }
Test(config, rope_theta_negative) { expect_bad_value("rope_theta", "-1", "'rope_theta'"); }
Test(config, rope_scaling_not_object) { expect_bad_value("rope_scaling", "32", "'rope_scaling'"); }
Test(config, layer_types_not_array) { expect_bad_value("layer_types", "\"sliding_attention\"", "layer_types"); }

Test(config, layer_types_unknown_entry) {
    expect_bad_value("layer_types",
                     "[\"sliding_attention\", \"full_attention\", \"linear_attention\", \"full_attention\"]",
                     "layer_types[2]");
}

Test(config, heads_not_divisible_by_kv_heads) {
    cJSON *config = tiny_config();
    set_number(config, "num_key_value_heads", 3);
    save_config(config);
    expect_load_fail(g_dir, GPTOSS_ERROR_CONFIG, "config.json", "num_attention_heads 4",
                     "not a multiple of num_key_value_heads 3", NULL);
}

Test(config, experts_per_tok_above_experts) {
    cJSON *config = tiny_config();
    set_number(config, "num_experts_per_tok", 9);
    save_config(config);
    expect_load_fail(g_dir, GPTOSS_ERROR_CONFIG, "config.json", "num_experts_per_tok 9 exceeds num_local_experts 8",
                     NULL);
}

Test(config, hidden_not_multiple_of_32) {
    cJSON *config = tiny_config();
    set_number(config, "hidden_size", 48);
    save_config(config);
    expect_load_fail(g_dir, GPTOSS_ERROR_CONFIG, "config.json", "hidden_size 48", "multiple of 32", NULL);
}

Test(config, intermediate_not_multiple_of_32) {
    cJSON *config = tiny_config();
    set_number(config, "intermediate_size", 40);
    save_config(config);
    expect_load_fail(g_dir, GPTOSS_ERROR_CONFIG, "config.json", "intermediate_size 40", "multiple of 32", NULL);
}

Test(config, head_dim_odd) {
    cJSON *config = tiny_config();
    set_number(config, "head_dim", 63);
    save_config(config);
    expect_load_fail(g_dir, GPTOSS_ERROR_CONFIG, "config.json", "head_dim 63", NULL);
}

Test(config, implausibly_large_sizes) {
    cJSON *config = tiny_config();
    set_number(config, "hidden_size", 2147483616); /* a multiple of 32 */
    save_config(config);
    expect_load_fail(g_dir, GPTOSS_ERROR_CONFIG, "config.json", "implausibly large", NULL);
}

Test(config, layer_types_length_mismatch) {
    cJSON *config = tiny_config();
    cJSON_DeleteItemFromArray(cJSON_GetObjectItemCaseSensitive(config, "layer_types"), 3);
    save_config(config);
    expect_load_fail(g_dir, GPTOSS_ERROR_CONFIG, "config.json", "'layer_types' must list 4", NULL);
}

Test(config, vocab_size_not_matching_tensors) {
    cJSON *config = tiny_config();
    set_number(config, "vocab_size", 300);
    save_config(config);
    expect_load_fail(g_dir, GPTOSS_ERROR_TENSOR, "model.safetensors", "'model.embed_tokens.weight'",
                     "shape [256, 64], expected [300, 64]", NULL);
}

Test(config, experts_not_matching_tensors) {
    cJSON *config = tiny_config();
    set_number(config, "num_local_experts", 16);
    save_config(config);
    expect_load_fail(g_dir, GPTOSS_ERROR_TENSOR, "'model.layers.0.mlp.router.weight'", "expected [16, 64]", NULL);
}

Test(config, fewer_layers_than_tensors) {
    cJSON *config = tiny_config();
    set_number(config, "num_hidden_layers", 3);
    cJSON_DeleteItemFromArray(cJSON_GetObjectItemCaseSensitive(config, "layer_types"), 3);
    save_config(config);
    expect_load_fail(g_dir, GPTOSS_ERROR_TENSOR, "unexpected tensor 'model.layers.3.", "3 layers", NULL);
}

Test(config, more_layers_than_tensors) {
    cJSON *config = tiny_config();
    set_number(config, "num_hidden_layers", 5);
    cJSON *types = cJSON_GetObjectItemCaseSensitive(config, "layer_types");
    cJSON_AddItemToArray(types, cJSON_CreateString("sliding_attention"));
    save_config(config);
    expect_load_fail(g_dir, GPTOSS_ERROR_TENSOR, "'model.layers.4.input_layernorm.weight'", "missing", NULL);
}

Test(config, not_json) {
    use_fixture("tiny");
    const char text[] = "hidden_size = 64\n";
    cr_assert_eq(write_whole_file(in_dir("config.json"), text, sizeof text - 1), 0);
    expect_load_fail(g_dir, GPTOSS_ERROR_CONFIG, "config.json", "not a JSON object", NULL);
}

Test(config, json_array) {
    use_fixture("tiny");
    const char text[] = "[{\"hidden_size\": 64}]";
    cr_assert_eq(write_whole_file(in_dir("config.json"), text, sizeof text - 1), 0);
    expect_load_fail(g_dir, GPTOSS_ERROR_CONFIG, "config.json", "not a JSON object", NULL);
}

Test(config, empty_file) {
    use_fixture("tiny");
    cr_assert_eq(write_whole_file(in_dir("config.json"), "", 0), 0);
    expect_load_fail(g_dir, GPTOSS_ERROR_CONFIG, "config.json", "not a JSON object", NULL);
}

/* ================================================================== */
/* Tokens and context at evaluation time                               */

TestSuite(eval, .timeout = 120);

static gptoss_model *load_tiny(void) {
    gptoss_model *model = NULL;
    gptoss_status s = gptoss_model_load(fixture_path("tiny"), NULL, &model);
    cr_assert_eq(s, GPTOSS_OK, "cannot load tiny: %s", gptoss_last_error());
    return model;
}

Test(eval, token_out_of_range_leaves_context_unchanged) {
    gptoss_model *model = load_tiny();
    const uint32_t V = gptoss_model_config(model)->vocab_size;
    cr_assert_eq(V, 256);
    gptoss_context *a, *b;
    cr_assert_eq(gptoss_context_create(model, 32, &a), GPTOSS_OK);
    cr_assert_eq(gptoss_context_create(model, 32, &b), GPTOSS_OK);
    float *la = malloc(3 * V * sizeof(float)), *lb = malloc(V * sizeof(float));
    const uint32_t prompt[3] = {1, 2, 3};
    cr_assert_eq(gptoss_context_eval(a, prompt, 3, GPTOSS_LOGITS_LAST, la), GPTOSS_OK);
    cr_assert_eq(gptoss_context_eval(b, prompt, 3, GPTOSS_LOGITS_LAST, lb), GPTOSS_OK);

    const uint32_t bad[3] = {4, 256, 5};
    for (uint32_t i = 0; i < 3 * V; i++) la[i] = -12345.0f;
    gptoss_status s = gptoss_context_eval(a, bad, 3, GPTOSS_LOGITS_ALL, la);
    cr_assert_eq(s, GPTOSS_ERROR_TOKEN_RANGE, "status '%s': %s", gptoss_status_string(s), gptoss_last_error());
    cr_assert_not_null(strstr(gptoss_last_error(), "token id 256 at index 1"), "%s", gptoss_last_error());
    cr_assert_not_null(strstr(gptoss_last_error(), "vocab_size 256"), "%s", gptoss_last_error());
    cr_assert_eq(gptoss_context_position(a), 3);
    cr_assert_eq(la[0], -12345.0f, "a failed eval must not write logits");

    const uint32_t huge = UINT32_MAX;
    s = gptoss_context_eval(a, &huge, 1, GPTOSS_LOGITS_LAST, la);
    cr_assert_eq(s, GPTOSS_ERROR_TOKEN_RANGE);
    cr_assert_not_null(strstr(gptoss_last_error(), "4294967295"), "%s", gptoss_last_error());
    cr_assert_eq(gptoss_context_position(a), 3);

    /* The failures left no trace: continuing matches a context that never saw them. */
    const uint32_t next = 4;
    cr_assert_eq(gptoss_context_eval(a, &next, 1, GPTOSS_LOGITS_LAST, la), GPTOSS_OK);
    cr_assert_eq(gptoss_context_eval(b, &next, 1, GPTOSS_LOGITS_LAST, lb), GPTOSS_OK);
    cr_assert_eq(gptoss_context_position(a), 4);
    cr_assert_leq(max_abs_diff(la, lb, V), 1e-6f);

    free(la);
    free(lb);
    gptoss_context_free(a);
    gptoss_context_free(b);
    gptoss_model_free(model);
}

Test(eval, context_overflow_leaves_context_unchanged) {
    gptoss_model *model = load_tiny();
    const uint32_t V = gptoss_model_config(model)->vocab_size;
    gptoss_context *ctx;
    cr_assert_eq(gptoss_context_create(model, 8, &ctx), GPTOSS_OK);
    cr_assert_eq(gptoss_context_capacity(ctx), 8);
    float *logits = malloc(20 * V * sizeof(float));
    uint32_t tokens[20];
    for (uint32_t i = 0; i < 20; i++) tokens[i] = (i * 37 + 5) % V;

    gptoss_status s = gptoss_context_eval(ctx, tokens, 20, GPTOSS_LOGITS_ALL, logits);
    cr_assert_eq(s, GPTOSS_ERROR_CONTEXT_OVERFLOW, "status '%s': %s", gptoss_status_string(s), gptoss_last_error());
    cr_assert_not_null(strstr(gptoss_last_error(), "0 tokens held + 20 new exceed the context of 8"), "%s",
                       gptoss_last_error());
    cr_assert_eq(gptoss_context_position(ctx), 0);

    cr_assert_eq(gptoss_context_eval(ctx, tokens, 5, GPTOSS_LOGITS_NONE, NULL), GPTOSS_OK);
    s = gptoss_context_eval(ctx, tokens + 5, 4, GPTOSS_LOGITS_LAST, logits);
    cr_assert_eq(s, GPTOSS_ERROR_CONTEXT_OVERFLOW);
    cr_assert_not_null(strstr(gptoss_last_error(), "5 tokens held + 4 new exceed the context of 8"), "%s",
                       gptoss_last_error());
    cr_assert_eq(gptoss_context_position(ctx), 5);

    cr_assert_eq(gptoss_context_eval(ctx, tokens + 5, 3, GPTOSS_LOGITS_LAST, logits), GPTOSS_OK);
    cr_assert_eq(gptoss_context_position(ctx), 8);
    s = gptoss_context_eval(ctx, tokens + 8, 1, GPTOSS_LOGITS_LAST, logits);
    cr_assert_eq(s, GPTOSS_ERROR_CONTEXT_OVERFLOW);
    cr_assert_not_null(strstr(gptoss_last_error(), "8 tokens held + 1 new"), "%s", gptoss_last_error());
    cr_assert_eq(gptoss_context_position(ctx), 8);

    free(logits);
    gptoss_context_free(ctx);
    gptoss_model_free(model);
}

Test(eval, context_above_max_position_embeddings) {
    gptoss_model *model = load_tiny();
    cr_assert_eq(gptoss_model_config(model)->max_position_embeddings, 131072);
    gptoss_context *ctx = (gptoss_context *)&ctx;
    gptoss_status s = gptoss_context_create(model, 131073, &ctx);
    cr_assert_eq(s, GPTOSS_ERROR_INVALID_ARGUMENT, "status '%s': %s", gptoss_status_string(s), gptoss_last_error());
    cr_assert_null(ctx);
    cr_assert_not_null(strstr(gptoss_last_error(), "131073"), "%s", gptoss_last_error());
    cr_assert_not_null(strstr(gptoss_last_error(), "max_position_embeddings 131072"), "%s", gptoss_last_error());
    gptoss_model_free(model);
}

Test(eval, no_tokens_and_missing_buffer) {
    gptoss_model *model = load_tiny();
    gptoss_context *ctx;
    cr_assert_eq(gptoss_context_create(model, 8, &ctx), GPTOSS_OK);
    const uint32_t token = 1;
    cr_assert_eq(gptoss_context_eval(ctx, &token, 0, GPTOSS_LOGITS_NONE, NULL), GPTOSS_ERROR_INVALID_ARGUMENT);
    cr_assert_eq(gptoss_context_eval(ctx, &token, 1, GPTOSS_LOGITS_LAST, NULL), GPTOSS_ERROR_INVALID_ARGUMENT);
    cr_assert_not_null(strstr(gptoss_last_error(), "buffer"), "%s", gptoss_last_error());
    cr_assert_eq(gptoss_context_position(ctx), 0);
    gptoss_context_free(ctx);
    gptoss_model_free(model);
}

/* ================================================================== */
/* The command line: a representative subset                           */

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 120);

Test(cli, logits_missing_folder) {
    const char *model = in_dir("no-such-model");
    expect_cli_fail(LOGITS_ARGV(model, "1,2,3", NULL), 0, "gptoss logits: ", "no-such-model", NULL);
    expect_no_output_file();
}

Test(cli, generate_missing_folder) {
    expect_cli_fail(GENERATE_ARGV(in_dir("no-such-model"), "1,2,3", "-n", "2", NULL), 0, "gptoss generate: ",
                    "no-such-model", NULL);
}

Test(cli, logits_without_config) {
    copy_fixture_file("tiny", "model.safetensors");
    expect_cli_fail(LOGITS_ARGV(g_dir, "1,2,3", NULL), 0, "config.json", NULL);
    expect_no_output_file();
}

Test(cli, logits_truncated_file) {
    truncated_tiny(8 + 4000);
    expect_cli_fail(LOGITS_ARGV(g_dir, "1,2,3", NULL), 0, "model.safetensors", "exceeds the file size", NULL);
    expect_no_output_file();
}

Test(cli, logits_absurd_header_length) {
    copy_fixture_file("tiny", "config.json");
    write_st_raw(in_dir("model.safetensors"), (uint64_t)1 << 62, "{}      ", 8, NULL, 0);
    expect_cli_fail(LOGITS_ARGV(g_dir, "1,2,3", NULL), 0, "model.safetensors", "absurdly large", NULL);
    expect_no_output_file();
}

Test(cli, generate_unknown_dtype) {
    hostile_tiny("{\"w\": {\"dtype\": \"Q4_K\", \"shape\": [4], \"data_offsets\": [0, 4]}}", 8);
    expect_cli_fail(GENERATE_ARGV(g_dir, "1,2,3", "-n", "2", NULL), 0, "gptoss generate: ", "Q4_K", NULL);
}

Test(cli, logits_missing_tensor) {
    st_image img = tiny_image();
    cJSON_DeleteItemFromObjectCaseSensitive(img.header, "model.layers.1.self_attn.sinks");
    st_write(in_dir("model.safetensors"), &img);
    st_free(&img);
    expect_cli_fail(LOGITS_ARGV(g_dir, "1,2,3", NULL), 0, "'model.layers.1.self_attn.sinks'", "missing", NULL);
    expect_no_output_file();
}

Test(cli, generate_unexpected_tensor_with_newline_in_name) {
    st_image img = tiny_image();
    const uint16_t extra[4] = {0};
    uint64_t begin = st_append(&img, extra, sizeof extra);
    cJSON_AddItemToObject(img.header, "evil\nname", make_entry("BF16", (const uint64_t[]){4}, 1, begin, begin + 8));
    st_write(in_dir("model.safetensors"), &img);
    st_free(&img);
    expect_cli_fail(GENERATE_ARGV(g_dir, "1,2,3", "-n", "2", NULL), 0, "unexpected tensor 'evil", NULL);
}

Test(cli, logits_index_shard_with_path) {
    use_fixture("small");
    cJSON *index = json_read(in_dir("model.safetensors.index.json"));
    cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(index, "weight_map"), "model.norm.weight",
                                           cJSON_CreateString("../x.safetensors"));
    json_write(in_dir("model.safetensors.index.json"), index);
    cJSON_Delete(index);
    expect_cli_fail(LOGITS_ARGV(g_dir, "1,2,3", NULL), 0, "../x.safetensors", NULL);
    expect_no_output_file();
}

Test(cli, logits_config_missing_key) {
    cJSON *config = tiny_config();
    cJSON_DeleteItemFromObjectCaseSensitive(config, "num_key_value_heads");
    save_config(config);
    expect_cli_fail(LOGITS_ARGV(g_dir, "1,2,3", NULL), 0, "config.json", "'num_key_value_heads'", NULL);
    expect_no_output_file();
}

Test(cli, generate_config_not_json) {
    use_fixture("tiny");
    cr_assert_eq(write_whole_file(in_dir("config.json"), "nope", 4), 0);
    expect_cli_fail(GENERATE_ARGV(g_dir, "1,2,3", "-n", "2", NULL), 0, "config.json", "not a JSON object", NULL);
}

Test(cli, logits_vocab_size_changed) {
    cJSON *config = tiny_config();
    set_number(config, "vocab_size", 300);
    save_config(config);
    expect_cli_fail(LOGITS_ARGV(g_dir, "1,2,3", NULL), 0, "'model.embed_tokens.weight'", "[300, 64]", NULL);
    expect_no_output_file();
}

Test(cli, logits_token_out_of_range) {
    expect_cli_fail(LOGITS_ARGV(fixture_path("tiny"), "1,2,256,3", NULL), 1, "gptoss logits: ", "token id 256",
                    "vocab_size 256", NULL);
    expect_no_output_file();
}

Test(cli, logits_step_token_out_of_range) {
    expect_cli_fail(LOGITS_ARGV(fixture_path("tiny"), "1,2,999", "--step", NULL), 1, "token id 999", NULL);
    expect_no_output_file();
}

Test(cli, generate_token_out_of_range) {
    expect_cli_fail(GENERATE_ARGV(fixture_path("tiny"), "1,300", "-n", "2", NULL), 1, "gptoss generate: ",
                    "token id 300", NULL);
}

Test(cli, token_not_a_number) {
    expect_cli_fail(LOGITS_ARGV(fixture_path("tiny"), "1,x,3", NULL), 0, "'x'", NULL);
    expect_cli_fail(LOGITS_ARGV(fixture_path("tiny"), "1,,3", NULL), 0, "not a token id", NULL);
    expect_cli_fail(LOGITS_ARGV(fixture_path("tiny"), "-1", NULL), 0, "'-1'", NULL);
    expect_cli_fail(LOGITS_ARGV(fixture_path("tiny"), "4294967296", NULL), 0, "'4294967296'", NULL);
    expect_no_output_file();
}

Test(cli, logits_context_overflow) {
    expect_cli_fail(LOGITS_ARGV(fixture_path("tiny"), "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20", "--ctx",
                                "8", NULL),
                    1, "context overflow", "20 new", "context of 8", NULL);
    expect_no_output_file();
}

Test(cli, logits_step_context_overflow) {
    expect_cli_fail(LOGITS_ARGV(fixture_path("tiny"), "1,2,3,4,5,6,7,8,9,10", "--ctx", "8", "--step", NULL), 1,
                    "context overflow", "8 tokens held + 1 new", NULL);
    expect_no_output_file();
}

Test(cli, generate_context_overflow) {
    /* 5 prompt + 10 new need 14 positions (the last new token is not fed back). */
    expect_cli_fail(GENERATE_ARGV(fixture_path("tiny"), "1,2,3,4,5", "-n", "10", "--ctx", "8", NULL), 1,
                    "gptoss generate: context overflow", "5 prompt + 10 new", "14 positions", "holds 8", NULL);
}

Test(cli, ctx_above_max_position_embeddings) {
    expect_cli_fail(LOGITS_ARGV(fixture_path("tiny"), "1,2,3", "--ctx", "131073", NULL), 0, "131073",
                    "max_position_embeddings 131072", NULL);
    expect_cli_fail(GENERATE_ARGV(fixture_path("tiny"), "1,2,3", "-n", "1", "--ctx", "131073", NULL), 0, "131073",
                    "max_position_embeddings 131072", NULL);
    expect_no_output_file();
}

Test(cli, ctx_above_small_max_position_embeddings) {
    cJSON *config = tiny_config();
    set_number(config, "max_position_embeddings", 16);
    save_config(config);
    expect_cli_fail(LOGITS_ARGV(g_dir, "1,2,3", "--ctx", "17", NULL), 0, "17", "max_position_embeddings 16", NULL);
    expect_no_output_file();
}

Test(cli, ctx_not_a_number) {
    expect_cli_fail(LOGITS_ARGV(fixture_path("tiny"), "1,2,3", "--ctx", "0", NULL), 0, "--ctx", NULL);
    expect_cli_fail(LOGITS_ARGV(fixture_path("tiny"), "1,2,3", "--ctx", "8k", NULL), 0, "'8k'", NULL);
    expect_no_output_file();
}

/* Sanity: the same commands on good input succeed, so the failures above are
 * about the input and not the harness. */
Test(cli, good_input_succeeds) {
    char **logits_argv = LOGITS_ARGV(fixture_path("tiny"), "1,2,3", "--ctx", "8", NULL);
    command_result r = run_command(logits_argv, NULL);
    cr_assert_eq(r.exit_code, 0, "stderr:\n%s", r.err);
    cr_assert_str_empty(r.out);
    command_result_free(&r);
    size_t size;
    free(read_whole_file(in_dir("out.bin"), &size));
    cr_assert_eq(size, 3 * 256 * sizeof(float));

    char **generate_argv = GENERATE_ARGV(fixture_path("tiny"), "1,2,3,4,5", "-n", "4", "--ctx", "8", NULL);
    r = run_command(generate_argv, NULL);
    cr_assert_eq(r.exit_code, 0, "stderr:\n%s", r.err);
    cr_assert_eq(count_lines(r.out), 1, "stdout: %s", r.out);
    command_result_free(&r);
}
