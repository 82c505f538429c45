/* server_script.h - scripted completions for `gptoss serve --script FILE`
 * (tests): one JSON array of token ids (or strings, encoded with the
 * special tokens recognised) per line, one line per request, in order. */
#ifndef GPTOSS_SERVER_SCRIPT_H
#define GPTOSS_SERVER_SCRIPT_H

#include <stddef.h>

#include "tokenizer.h"
#include "tokenizer_buffer.h"

typedef struct server_script {
    gptoss_ids *lines;
    size_t n;
} server_script;

/* Reads FILE; on failure returns 0 with a message naming the line in err. */
int server_script_load(const char *path, const gptoss_tokenizer *tok, server_script *out, char *err, size_t cap);

void server_script_free(server_script *script);

#endif
