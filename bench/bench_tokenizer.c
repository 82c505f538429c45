/* bench_tokenizer.c - tokenizer load time and encode/decode throughput. */
#include "bench_tokenizer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tokenizer.h"
#include "tokenizer_buffer.h"

#ifndef GPTOSS_TOKENIZER_JSON
#define GPTOSS_TOKENIZER_JSON "tests/fixtures/tokenizer/tokenizer.json"
#endif

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static const char *const english_seeds[] = {
    "The quick brown fox jumps over the lazy dog. ",
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness. ",
    "In 1969, Apollo 11 landed on the Moon; Neil Armstrong's first words were broadcast to 600 million people. ",
    "Tokenizers split text into pieces with a regular expression, then merge bytes by rank until no pair remains. ",
    "\"Don't panic,\" she said, \"we'll fix it by Tuesday -- probably.\" ",
    "The committee's report (pages 12-47) recommends a 3.5% increase, effective January 1st, 2025.\n",
    "Performance matters: a tokenizer that runs at 10 MB/s spends 0.1 s on a megabyte of text.\n\n",
    "Shall I compare thee to a summer's day? Thou art more lovely and more temperate. ",
};

static const char *const multilingual_seeds[] = {
    "The price is €50 (¥45 000) — “that’s cheap!” ",
    "Съешь же ещё этих мягких французских булок, да выпей чаю. ",
    "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. ",
    "你好，世界！这是一个中文句子，包含标点符号。北京是首都。",
    "東京都渋谷区で開催されたイベントには、約一万人が参加しました。",
    "안녕하세요 세계! 한국어 문장입니다. ",
    "مرحبا بالعالم! هذا نص عربي. ",
    "שלום עולם! זה טקסט בעברית. ",
    "नमस्ते दुनिया! हिन्दी में क्षत्रिय, ज्ञान। ",
    "สวัสดีชาวโลก ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ ",
    "Tiếng Việt có dấu: Người ta nói rằng, ở đâu có ý chí, ở đó có con đường. ",
    "👨‍👩‍👧‍👦 family, 👍🏽 ok, 🇺🇸🇯🇵 flags! ",
    "def f(x):\n    return {\"a\": [1, 2, 3], 'b': x ** 2}\n",
    "Straße, Øresund, Łódź, İstanbul, naïve façade. ",
};

/* About `bytes` of text: seed sentences picked by a seeded generator. */
static char *build_text(const char *const *seeds, size_t n_seeds, size_t bytes, size_t *len) {
    gptoss_bytes text = {0};
    uint64_t state = 0x2545F4914F6CDD1Dull;
    while (text.len < bytes) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        if (!gptoss_bytes_append_str(&text, seeds[state % n_seeds])) break;
    }
    *len = text.len;
    return text.data;
}

static void encode_bench(const gptoss_tokenizer *tok, const char *name, const char *text, size_t len, int repeats) {
    double best = 1e30;
    size_t n_ids = 0;
    uint32_t *ids = NULL;
    for (int r = 0; r < repeats; r++) {
        free(ids);
        double start = now();
        if (gptoss_tokenizer_encode(tok, text, len, false, &ids, &n_ids) != GPTOSS_OK) {
            printf("%s: encode failed: %s\n", name, gptoss_last_error());
            return;
        }
        double elapsed = now() - start;
        if (elapsed < best) best = elapsed;
    }
    double decode_start = now();
    char *back;
    size_t back_len;
    gptoss_tokenizer_decode(tok, ids, n_ids, &back, &back_len);
    double decode = now() - decode_start;
    printf("encode %-13s %7.2f MB in %7.1f ms: %6.2f MB/s, %5.2f M tokens/s (%.2f bytes/token); decode %.0f MB/s%s\n",
           name, (double)len / 1e6, best * 1e3, (double)len / best / 1e6, (double)n_ids / best / 1e6,
           (double)len / (double)n_ids, (double)len / decode / 1e6,
           back_len == len && !memcmp(back, text, len) ? "" : " (ROUND TRIP FAILED)");
    free(back);
    free(ids);
}

static int usage(FILE *out) {
    fprintf(out,
            "usage: gptoss-bench tokenizer [--tokenizer FILE] [--mb N] [--repeats N]\n\n"
            "Tokenizer load time (cold = no cache file, warm = cached) and encode\n"
            "throughput on N MB (default 4) of English and of multilingual text.\n"
            "FILE defaults to %s.\n",
            GPTOSS_TOKENIZER_JSON);
    return out == stdout ? 0 : 2;
}

int bench_tokenizer_main(int argc, char **argv) {
    const char *path = GPTOSS_TOKENIZER_JSON;
    double megabytes = 4;
    int repeats = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) return usage(stdout);
        if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) path = argv[++i];
        else if (!strcmp(argv[i], "--mb") && i + 1 < argc) megabytes = atof(argv[++i]);
        else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) repeats = atoi(argv[++i]);
        else return usage(stderr);
    }
    if (megabytes <= 0 || repeats <= 0) return usage(stderr);

    /* Cold load: an empty cache directory, so the JSON is parsed (and the
     * cache written). Warm: the same directory again, best of 5. */
    char dir[] = "/tmp/gptoss-bench-cache-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    gptoss_tokenizer_options options = {.cache_dir = dir};
    gptoss_tokenizer *tok = NULL;
    double start = now();
    if (gptoss_tokenizer_load_with(path, &options, &tok) != GPTOSS_OK) {
        fprintf(stderr, "gptoss-bench tokenizer: %s\n", gptoss_last_error());
        return 1;
    }
    double cold = now() - start;
    gptoss_tokenizer_free(tok);
    double warm = 1e30;
    for (int i = 0; i < 5; i++) {
        start = now();
        if (gptoss_tokenizer_load_with(path, &options, &tok) != GPTOSS_OK) return 1;
        double t = now() - start;
        if (t < warm) warm = t;
        if (i < 4) gptoss_tokenizer_free(tok);
    }
    printf("load: cold %.1f ms (JSON parse + cache write), warm %.1f ms (cached)\n", cold * 1e3, warm * 1e3);
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    if (system(command)) fprintf(stderr, "could not remove %s\n", dir);

    size_t bytes = (size_t)(megabytes * 1e6), len;
    char *english = build_text(english_seeds, sizeof english_seeds / sizeof *english_seeds, bytes, &len);
    encode_bench(tok, "English", english, len, repeats);
    free(english);
    char *mixed = build_text(multilingual_seeds, sizeof multilingual_seeds / sizeof *multilingual_seeds, bytes, &len);
    encode_bench(tok, "multilingual", mixed, len, repeats);
    free(mixed);
    gptoss_tokenizer_free(tok);
    return 0;
}
