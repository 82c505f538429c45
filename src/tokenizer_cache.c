/* tokenizer_cache.c - reading and writing the binary tokenizer cache. */
#include "tokenizer_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool gptoss_tokenizer_cache_dir(const char *dir, char *out, size_t cap) {
    int n;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (dir && *dir) n = snprintf(out, cap, "%s", dir);
    else if (xdg && *xdg == '/') n = snprintf(out, cap, "%s/gptoss", xdg);
    else if (home && *home) n = snprintf(out, cap, "%s/.cache/gptoss", home);
    else return false;
    return n > 0 && (size_t)n < cap;
}

bool gptoss_tokenizer_cache_path(const char *cache_dir, uint64_t source_hash, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s/tokenizer-%016" PRIx64 "-v%u.bin", cache_dir, source_hash,
                     GPTOSS_TOKENIZER_BLOB_VERSION);
    return n > 0 && (size_t)n < cap;
}

bool gptoss_tokenizer_cache_read(const char *path, uint64_t source_hash, uint64_t source_size, void **blob,
                                 size_t *size, gptoss_tokenizer_data *data) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat st;
    void *buffer = NULL;
    bool ok = fstat(fd, &st) == 0 && st.st_size > 0 && (buffer = malloc((size_t)st.st_size)) != NULL;
    size_t done = 0;
    while (ok && done < (size_t)st.st_size) {
        ssize_t got = read(fd, (char *)buffer + done, (size_t)st.st_size - done);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) ok = false;
        else done += (size_t)got;
    }
    close(fd);
    ok = ok && gptoss_tokenizer_data_check(buffer, done, data) == GPTOSS_OK &&
         data->header->source_hash == source_hash && data->header->source_size == source_size;
    if (!ok) {
        free(buffer);
        return false;
    }
    *blob = buffer;
    *size = done;
    return true;
}

/* mkdir -p for the cache directory. */
static bool make_directories(const char *dir) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) return false;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(path, 0755) && errno != EEXIST) return false;
        *p = '/';
    }
    return !mkdir(path, 0755) || errno == EEXIST;
}

bool gptoss_tokenizer_cache_write(const char *cache_dir, const char *path, const void *blob, size_t size) {
    if (!make_directories(cache_dir)) return false;
    char temp[4200];
    if (snprintf(temp, sizeof temp, "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof temp) return false;
    int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    size_t done = 0;
    bool ok = true;
    while (ok && done < size) {
        ssize_t put = write(fd, (const char *)blob + done, size - done);
        if (put < 0 && errno == EINTR) continue;
        if (put <= 0) ok = false;
        else done += (size_t)put;
    }
    ok = !close(fd) && ok;
    if (ok) ok = !rename(temp, path); /* readers see the old file or the whole new one */
    if (!ok) unlink(temp);
    return ok;
}
