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
/* Call fn for each non-blank line of JSONL text s[0..len) parsed as JSON (line numbers from
 * 1); an unparsable line is an error naming name:line:column. Stops at fn's first error. */
vs2_status ev_jsonl_foreach(const char *s, size_t len, const char *name,
                            vs2_status (*fn)(void *ctx, json_t *obj, int line), void *ctx,
                            vs2_error *err);
/* Length of the valid UTF-8 sequence at s (NUL-terminated), 1..4, or 0 if invalid. */
size_t ev_utf8_len(const char *s);

/* Names of the three dimensions in vs2's JSON ("visual_quality", ...). */
extern const char *const ev_dim_keys[VS2_NDIMS];

/* ---- batch runs, shards, merge, Best-of-N groups (batch.c; owner: batch) -------------- */

#include <sys/types.h>

/* A set of strings (open addressing, FNV-1a); values are indices the caller chooses. */
typedef struct ev_strset {
    const char **keys;          /* borrowed */
    size_t *vals;
    size_t cap, n;
    int oom;
} ev_strset;
/* Insert key -> val; returns 1 if inserted, 0 if present (then *old = its value), -1 on OOM. */
int ev_strset_put(ev_strset *s, const char *key, size_t val, size_t *old);
/* 1 and *val if present. */
int ev_strset_get(const ev_strset *s, const char *key, size_t *val);
void ev_strset_free(ev_strset *s);

/* FNV-1a 64 of the bytes of s; a shard K of N holds the ids with fnv1a64(id) % N == K. */
uint64_t ev_fnv1a64(const char *s);

/* JSON string literal of s (quotes included); invalid UTF-8 bytes become U+FFFD. */
void ev_buf_json_str(ev_buf *b, const char *s);
/* A finite double in the shortest of %.15g/%.17g that reads back exactly; NAN -> null. */
void ev_buf_json_num(ev_buf *b, double x);
/* 1 if s is valid UTF-8. */
int ev_utf8_valid(const char *s);

/* An append-only JSONL output that survives kill -9 (docs/batch.md "Resume"). */
typedef struct ev_journal_line {
    char *id;
    int is_error;
    int line;
} ev_journal_line;

typedef struct ev_journal {
    int fd, lock_fd;
    char *path;
    ev_journal_line *lines;     /* the complete, valid lines found at open, in file order */
    size_t n_lines;
    long long torn_bytes;       /* bytes of a torn tail cut away at open */
    size_t n_dropped_errors;    /* error lines removed at open (drop_errors) */
} ev_journal;

/* Lock path (path + ".lock", flock, non-blocking: a second writer gets VS2_ERR_IO naming the
 * holder's pid), read the existing lines, cut a torn tail (an incomplete or unparsable suffix
 * after the last valid line), with drop_errors rewrite the file without error lines, and open
 * it for appending. A bad line followed by valid ones is an error naming it. */
vs2_status ev_journal_open(const char *path, int drop_errors, ev_journal *j, vs2_error *err);
/* Append line (len bytes, no newline) + '\n' with one write() and fdatasync it. */
vs2_status ev_journal_append(ev_journal *j, const char *line, size_t len, vs2_error *err);
void ev_journal_close(ev_journal *j);

/* Read a JSONL file's complete lines for merging: every line must be a JSON object with a
 * string "id" except a torn last line (no newline), which is reported via *torn and ignored.
 * Calls fn for each line (0 from fn stops with VS2_ERR_NOMEM). */
vs2_status ev_jsonl_scan(const char *path, int *torn,
                         int (*fn)(void *user, const char *id, const char *line, size_t len,
                                   int lineno, int is_error),
                         void *user, vs2_error *err);

/* A Best-of-N group: one prompt, N candidate videos. */
typedef struct ev_group {
    char *id, *prompt;
    char **videos;
    size_t n_videos;
    int line;
} ev_group;

typedef struct ev_groups {
    ev_group *g;
    size_t n;
} ev_groups;

/* JSONL (one object a line) or a JSON list: {"id"|"group_idx"|"idx", "prompt"|"text",
 * "videos": [path, ...]}. Errors name the file and line. */
vs2_status ev_groups_load(const char *path, ev_groups *out, vs2_error *err);
void ev_groups_free(ev_groups *g);
/* The three values a rank key is made of (rank.c): the sample's own for one sample, else the
 * means over the samples; NAN where missing. */
void ev_rank_values(const vs2_result *r, vs2_rank_by by, double v[VS2_NDIMS]);
/* ---- end batch ---------------------------------------------------------------------- */

#endif
