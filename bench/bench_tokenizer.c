/* bench_tokenizer.c — tokenizer throughput on one thread.
 * usage: bench_tokenizer TOKENIZER(.json|dir) TEXTFILE
 * Encodes TEXTFILE line by line (each line with its "\n", as tools/tokref/bench.js does for HF)
 * and prints "vs2 MB/s ids seconds" plus the load time on stderr. bench/tokenizer.sh runs both. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int encode_lines(const vs2_tokenizer *tok, const char *text, size_t len, size_t *n_ids) {
    vs2_ids ids = {0};
    vs2_error err;
    *n_ids = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) + 1 : len;
        ids.n = 0;
        if (vs2_tokenize(tok, text + pos, end - pos, &ids, &err) != VS2_OK) {
            fprintf(stderr, "bench_tokenizer: %s\n", err.message);
            vs2_ids_free(&ids);
            return 1;
        }
        *n_ids += ids.n;
        pos = end;
    }
    vs2_ids_free(&ids);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: bench_tokenizer TOKENIZER TEXTFILE\n");
        return 2;
    }
    vs2_error err;
    vs2_tokenizer *tok = NULL;
    double t0 = now();
    if (vs2_tokenizer_load(argv[1], &tok, &err) != VS2_OK) {
        fprintf(stderr, "bench_tokenizer: %s\n", err.message);
        return 1;
    }
    double t_load = now() - t0;
    char *text;
    size_t len, n_ids;
    if (vs2__read_file(argv[2], 0, &text, &len, &err) != VS2_OK) {
        fprintf(stderr, "bench_tokenizer: %s\n", err.message);
        vs2_tokenizer_free(tok);
        return 1;
    }
    size_t warm = len < 100000 ? len : 100000;
    int rc = encode_lines(tok, text, warm, &n_ids); /* warm caches and page in the tables */
    t0 = now();
    if (!rc) rc = encode_lines(tok, text, len, &n_ids);
    double s = now() - t0;
    if (!rc) {
        printf("vs2 %.2f %zu %.3f\n", (double)len / 1e6 / s, n_ids, s);
        fprintf(stderr, "tokenizer load: %.3f s\n", t_load);
    }
    free(text);
    vs2_tokenizer_free(tok);
    return rc;
}
