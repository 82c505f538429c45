/* safetensors.c - map a .safetensors file and validate its header.
 *
 * Layout: u64 little-endian header length N, N bytes of JSON, then the data
 * area. Each tensor's data_offsets are relative to the data area. Nothing in
 * the header is trusted: every length, offset and shape is checked before a
 * pointer into the mapping is handed out. */
#include "safetensors.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

/* Real headers are a few hundred KB (120b: ~170 KB); anything near this is hostile. */
#define ST_MAX_HEADER_BYTES (100u << 20)

static const struct {
    const char *name;
    size_t size;
} dtype_info[ST_DTYPE_COUNT] = {
    [ST_BOOL] = {"BOOL", 1}, [ST_U8] = {"U8", 1},   [ST_I8] = {"I8", 1},
    [ST_F8_E4M3] = {"F8_E4M3", 1}, [ST_F8_E5M2] = {"F8_E5M2", 1},
    [ST_I16] = {"I16", 2},   [ST_U16] = {"U16", 2}, [ST_F16] = {"F16", 2},
    [ST_BF16] = {"BF16", 2}, [ST_I32] = {"I32", 4}, [ST_U32] = {"U32", 4},
    [ST_F32] = {"F32", 4},   [ST_I64] = {"I64", 8}, [ST_U64] = {"U64", 8},
    [ST_F64] = {"F64", 8},
};

const char *st_dtype_name(st_dtype dtype) {
    return dtype < ST_DTYPE_COUNT ? dtype_info[dtype].name : "?";
}

size_t st_dtype_size(st_dtype dtype) { return dtype < ST_DTYPE_COUNT ? dtype_info[dtype].size : 0; }

static int parse_dtype(const char *name, st_dtype *out) {
    for (int i = 0; i < ST_DTYPE_COUNT; i++)
        if (!strcmp(name, dtype_info[i].name)) {
            *out = (st_dtype)i;
            return 1;
        }
    return 0;
}

/* A JSON number that is a non-negative integer exactly representable in a double. */
static int json_u64(const cJSON *item, uint64_t *out) {
    if (!cJSON_IsNumber(item)) return 0;
    double v = item->valuedouble;
    if (!(v >= 0.0 && v <= 9007199254740992.0) || v != (double)(uint64_t)v) return 0;
    *out = (uint64_t)v;
    return 1;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static gptoss_status parse_tensor(const cJSON *entry, const char *file, uint64_t data_size,
                                  const uint8_t *data, st_tensor *tensor) {
    const char *name = entry->string;
    if (!cJSON_IsObject(entry))
        return gptoss_fail(GPTOSS_ERROR_FORMAT, "%s: tensor '%s': entry is not an object", file, name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    if (!cJSON_IsString(dtype))
        return gptoss_fail(GPTOSS_ERROR_FORMAT, "%s: tensor '%s': missing dtype", file, name);
    if (!parse_dtype(dtype->valuestring, &tensor->dtype))
        return gptoss_fail(GPTOSS_ERROR_FORMAT, "%s: tensor '%s': unknown dtype '%s'", file, name,
                           dtype->valuestring);
    if (!cJSON_IsArray(shape))
        return gptoss_fail(GPTOSS_ERROR_FORMAT, "%s: tensor '%s': missing shape", file, name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > ST_MAX_DIMS)
        return gptoss_fail(GPTOSS_ERROR_FORMAT, "%s: tensor '%s': %d dimensions (at most %d)", file,
                           name, ndim, ST_MAX_DIMS);
    tensor->ndim = (uint32_t)ndim;
    uint64_t nbytes = st_dtype_size(tensor->dtype);
    int overflow = 0;
    for (int i = 0; i < ndim; i++) {
        uint64_t dim;
        if (!json_u64(cJSON_GetArrayItem(shape, i), &dim))
            return gptoss_fail(GPTOSS_ERROR_FORMAT, "%s: tensor '%s': shape[%d] is not a non-negative integer",
                               file, name, i);
        tensor->shape[i] = dim;
        if (dim != 0 && nbytes > UINT64_MAX / dim) overflow = 1;
        else nbytes *= dim;
    }
    uint64_t begin, end;
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        !json_u64(cJSON_GetArrayItem(offsets, 0), &begin) || !json_u64(cJSON_GetArrayItem(offsets, 1), &end))
        return gptoss_fail(GPTOSS_ERROR_FORMAT, "%s: tensor '%s': data_offsets must be two non-negative integers",
                           file, name);
    if (begin > end)
        return gptoss_fail(GPTOSS_ERROR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] begin after end", file,
                           name, (unsigned long long)begin, (unsigned long long)end);
    if (end > data_size)
        return gptoss_fail(GPTOSS_ERROR_FORMAT,
                           "%s: tensor '%s': data_offsets [%llu, %llu] outside the data area of %llu bytes",
                           file, name, (unsigned long long)begin, (unsigned long long)end,
                           (unsigned long long)data_size);
    if (overflow)
        return gptoss_fail(GPTOSS_ERROR_FORMAT, "%s: tensor '%s': dtype %s x shape overflows 64 bits", file, name,
                           st_dtype_name(tensor->dtype));
    if (end - begin != nbytes)
        return gptoss_fail(GPTOSS_ERROR_FORMAT,
                           "%s: tensor '%s': data_offsets span %llu bytes but dtype %s x shape needs %llu",
                           file, name, (unsigned long long)(end - begin), st_dtype_name(tensor->dtype),
                           (unsigned long long)nbytes);
    tensor->nbytes = nbytes;
    tensor->data = data + begin;
    if (((uintptr_t)tensor->data % st_dtype_size(tensor->dtype)) != 0)
        return gptoss_fail(GPTOSS_ERROR_FORMAT, "%s: tensor '%s': data is not aligned to its %zu-byte dtype",
                           file, name, st_dtype_size(tensor->dtype));
    tensor->name = strdup(name);
    return tensor->name ? GPTOSS_OK : gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
}

static int compare_offsets(const void *a, const void *b) {
    const st_tensor *x = a, *y = b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

/* Overlapping tensors or repeated names are signs of a corrupt or hostile file. */
static gptoss_status check_layout(st_file *file, const char *shown) {
    size_t n = file->n_tensors;
    if (n < 2) return GPTOSS_OK;
    st_tensor *sorted = malloc(n * sizeof *sorted);
    if (!sorted) return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    memcpy(sorted, file->tensors, n * sizeof *sorted);
    gptoss_status status = GPTOSS_OK;
    qsort(sorted, n, sizeof *sorted, compare_names);
    for (size_t i = 1; i < n && status == GPTOSS_OK; i++)
        if (!strcmp(sorted[i - 1].name, sorted[i].name))
            status = gptoss_fail(GPTOSS_ERROR_FORMAT, "%s: tensor '%s' appears twice", shown, sorted[i].name);
    qsort(sorted, n, sizeof *sorted, compare_offsets);
    /* Compare each tensor with the one reaching furthest before it, not just
     * its neighbour: an empty tensor or a short one in between would hide an
     * overlap with a long tensor. */
    const st_tensor *reach = NULL;
    for (size_t i = 0; i < n && status == GPTOSS_OK; i++) {
        const st_tensor *cur = &sorted[i];
        if (!cur->nbytes) continue;
        if (reach && cur->offset < reach->offset + reach->nbytes)
            status = gptoss_fail(GPTOSS_ERROR_FORMAT, "%s: tensors '%s' and '%s' overlap", shown, reach->name,
                                 cur->name);
        if (!reach || cur->offset + cur->nbytes > reach->offset + reach->nbytes) reach = cur;
    }
    free(sorted);
    return status;
}

static gptoss_status parse_header(st_file *file, const char *shown) {
    if (file->size < 8)
        return gptoss_fail(GPTOSS_ERROR_FORMAT, "%s: truncated (%llu bytes, no header length)", shown,
                           (unsigned long long)file->size);
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--) header_len = (header_len << 8) | file->map[i];
    if (header_len > ST_MAX_HEADER_BYTES)
        return gptoss_fail(GPTOSS_ERROR_FORMAT, "%s: header length %llu is absurdly large (limit %u)", shown,
                           (unsigned long long)header_len, ST_MAX_HEADER_BYTES);
    if (header_len > file->size - 8)
        return gptoss_fail(GPTOSS_ERROR_FORMAT, "%s: header length %llu exceeds the file size %llu (truncated?)",
                           shown, (unsigned long long)header_len, (unsigned long long)file->size);
    const char *text = (const char *)file->map + 8;
    cJSON *root = cJSON_ParseWithLength(text, (size_t)header_len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return gptoss_fail(GPTOSS_ERROR_FORMAT, "%s: header is not a JSON object", shown);
    }
    const uint8_t *data = file->map + 8 + header_len;
    uint64_t data_size = file->size - 8 - header_len;
    uint32_t count = 0;
    for (const cJSON *e = root->child; e; e = e->next) count++;
    file->tensors = calloc(count ? count : 1, sizeof *file->tensors);
    if (!file->tensors) {
        cJSON_Delete(root);
        return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    gptoss_status status = GPTOSS_OK;
    for (const cJSON *e = root->child; e && status == GPTOSS_OK; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) continue;
        st_tensor *t = &file->tensors[file->n_tensors];
        status = parse_tensor(e, shown, data_size, data, t);
        if (status != GPTOSS_OK) break;
        t->offset = (uint64_t)((const uint8_t *)t->data - file->map);
        t->file = file;
        file->n_tensors++;
    }
    cJSON_Delete(root);
    if (status == GPTOSS_OK) status = check_layout(file, shown);
    return status;
}

gptoss_status st_file_open(const char *path, st_file **out_file) {
    *out_file = NULL;
    const char *shown = base_name(path);
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; the S_ISREG
     * check below then refuses it. No effect on regular files. */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return gptoss_fail(GPTOSS_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat info;
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        close(fd);
        return gptoss_fail(GPTOSS_ERROR_IO, "%s: not a regular file", path);
    }
    st_file *file = calloc(1, sizeof *file);
    if (!file) {
        close(fd);
        return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    file->path = strdup(path);
    file->size = (uint64_t)info.st_size;
    if (file->size > 0) {
        void *map = mmap(NULL, (size_t)file->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            close(fd);
            st_file_close(file);
            return gptoss_fail(GPTOSS_ERROR_IO, "%s: mmap failed: %s", path, strerror(errno));
        }
        file->map = map;
    }
    close(fd); /* the mapping keeps the file alive */
    gptoss_status status = parse_header(file, shown);
    if (status != GPTOSS_OK) {
        st_file_close(file);
        return status;
    }
    *out_file = file;
    return GPTOSS_OK;
}

void st_file_close(st_file *file) {
    if (!file) return;
    for (uint32_t i = 0; i < file->n_tensors; i++) free(file->tensors[i].name);
    free(file->tensors);
    if (file->map) munmap((void *)file->map, (size_t)file->size);
    free(file->path);
    free(file);
}

const st_tensor *st_file_find(const st_file *file, const char *name) {
    for (uint32_t i = 0; i < file->n_tensors; i++)
        if (!strcmp(file->tensors[i].name, name)) return &file->tensors[i];
    return NULL;
}
