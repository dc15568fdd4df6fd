/* eval_internal.h — helpers shared by the evaluation files (manifests, results, metrics,
 * report); not part of the public API. */
#ifndef VS2_EVAL_INTERNAL_H
#define VS2_EVAL_INTERNAL_H

#include "../internal.h"

#include <jansson.h>
#include <stddef.h>

/* A growable byte buffer; on allocation failure it sets oom and ignores further appends. */
typedef struct ev_buf {
    char *data;
    size_t len, cap;
    int oom;
} ev_buf;

void ev_buf_put(ev_buf *b, const char *s, size_t n);
void ev_buf_puts(ev_buf *b, const char *s);
void ev_buf_printf(ev_buf *b, const char *fmt, ...) VS2_PRINTF(2, 3);
/* HTML-escape s (& < > " ') into b; invalid UTF-8 bytes become U+FFFD. */
void ev_buf_html(ev_buf *b, const char *s);
void ev_buf_free(ev_buf *b);

/* strdup that accepts NULL (returns NULL) and reports failure through *oom. */
char *ev_strdup(const char *s, int *oom);
char *ev_strndup(const char *s, size_t n, int *oom);

/* Parse a whole string as a finite double (surrounding blanks allowed); 0 on failure. */
int ev_parse_double(const char *s, double *out);

/* A JSON value as a score: number -> value, numeric string -> value, null/absent -> NAN.
 * Returns 0 (and leaves *out NAN) for anything else. */
int ev_json_score(const json_t *v, double *out);
/* A JSON value as text: string -> itself, number -> its repr, else NULL. Caller frees. */
char *ev_json_text(const json_t *v, int *oom);

/* The name the reference derives from a path: basename, cut at the first occurrence of cut
 * (".mp4" for VideoGen-RewardBench, "." for MJ-Bench-Video); cut NULL = last extension. */
char *ev_video_name(const char *path, const char *cut, int *oom);

/* The last n code points of a UTF-8 string (Python's s[-n:]). */
const char *ev_utf8_tail(const char *s, size_t n);

/* Names of the three dimensions in vs2's JSON ("visual_quality", ...). */
extern const char *const ev_dim_keys[VS2_NDIMS];

#endif
