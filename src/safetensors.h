/* safetensors.h - mmap a .safetensors file and list its tensors, zero-copy. */
#ifndef GPTOSS_SAFETENSORS_H
#define GPTOSS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "gptoss.h"

enum { ST_MAX_DIMS = 8 };

typedef enum st_dtype {
    ST_BOOL, ST_U8, ST_I8, ST_F8_E4M3, ST_F8_E5M2, ST_I16, ST_U16, ST_F16, ST_BF16,
    ST_I32, ST_U32, ST_F32, ST_I64, ST_U64, ST_F64, ST_DTYPE_COUNT
} st_dtype;

/* "BF16", "U8", ... */
const char *st_dtype_name(st_dtype dtype);
size_t st_dtype_size(st_dtype dtype);

typedef struct st_tensor {
    char *name;
    st_dtype dtype;
    uint32_t ndim;
    uint64_t shape[ST_MAX_DIMS];
    const void *data;      /* points into the mapping */
    uint64_t nbytes;
    uint64_t offset;       /* file offset of the first byte */
    const struct st_file *file;
} st_tensor;

typedef struct st_file {
    char *path;
    const uint8_t *map;    /* whole file */
    uint64_t size;
    st_tensor *tensors;
    uint32_t n_tensors;
} st_file;

/* Maps path and validates its header: length within the file, JSON object,
 * known dtypes, shapes whose byte counts match data_offsets, offsets inside the
 * data area and not overlapping. Errors name the file and tensor. */
gptoss_status st_file_open(const char *path, st_file **out_file);
void st_file_close(st_file *file);

/* Linear search by name; NULL if absent. */
const st_tensor *st_file_find(const st_file *file, const char *name);

#endif
