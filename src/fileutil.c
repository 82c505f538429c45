/* fileutil.c - small file helpers shared by the loaders. */
#include "fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

gptoss_status gptoss_read_text_file(const char *path, size_t max_bytes, char **out_text) {
    *out_text = NULL;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (refused below). */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return gptoss_fail(GPTOSS_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return gptoss_fail(GPTOSS_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat info;
    if (fstat(fileno(f), &info) != 0 || !S_ISREG(info.st_mode)) {
        fclose(f);
        return gptoss_fail(GPTOSS_ERROR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)info.st_size > max_bytes) {
        fclose(f);
        return gptoss_fail(GPTOSS_ERROR_FORMAT, "%s: %lld bytes is larger than the %zu allowed", path,
                           (long long)info.st_size, max_bytes);
    }
    size_t size = (size_t)info.st_size;
    char *text = malloc(size + 1);
    if (!text) {
        fclose(f);
        return gptoss_fail(GPTOSS_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    size_t got = fread(text, 1, size, f);
    fclose(f);
    if (got != size) {
        free(text);
        return gptoss_fail(GPTOSS_ERROR_IO, "%s: short read", path);
    }
    text[size] = '\0';
    *out_text = text;
    return GPTOSS_OK;
}

int gptoss_file_exists(const char *path) {
    struct stat info;
    return stat(path, &info) == 0 && S_ISREG(info.st_mode);
}
