/* hub_internal.h — shared by hub.c (resolve: cache first, then plan and download), hub_cache.c
 * (settings from the environment, the Hugging Face cache layout) and hub_http.c (libcurl
 * requests, retries, the verified resumable file download). Not part of the public API. */
#ifndef VS2_HUB_INTERNAL_H
#define VS2_HUB_INTERNAL_H

#include "internal.h"

#include <stdint.h>

/* Everything one resolve needs, settled once from params and the environment. */
typedef struct hub_ctx {
    const vs2_hub_params *p;
    vs2_error *err;
    char *repo_id;    /* "owner/name" */
    const char *revision;
    char *cache;      /* the hub cache dir */
    char *repo_dir;   /* cache/models--owner--name */
    char *locks_dir;  /* cache/.locks/models--owner--name */
    char *endpoint;   /* no trailing '/' */
    char *token;      /* NULL: none */
    const char *token_source; /* "HF_TOKEN", the token file path, ... (for messages) */
    int offline;
    long stall_s, meta_timeout_s;
    int max_retries, retry_delay_ms;
    void *curl;       /* CURL*, created on first use */
    /* progress over the whole call */
    int file_index, n_files;
    int64_t done, total;
    int quiet_progress;     /* the index fetched before the plan is announced */
    int64_t prefetched;     /* its size (counted in the announcement), or -1 */
} hub_ctx;

/* What the hub says about one file (model-info siblings, then the HEAD request). */
typedef struct hub_file {
    char *name;
    int64_t size;     /* -1 unknown */
    char *sha256;     /* LFS files: lowercase hex */
    char *blob_id;    /* git blob sha1 */
    char *etag;       /* blob name in the cache: sha256 for LFS, git sha1 otherwise */
} hub_file;

/* ---- hub_cache.c ---- */
vs2_status hub__ctx_init(hub_ctx *h, const char *repo_id, const vs2_hub_params *p, vs2_error *err);
void hub__ctx_free(hub_ctx *h);
void hub__log(const hub_ctx *h, int level, const char *fmt, ...) VS2_PRINTF(3, 4);
int hub__valid_repo_id(const char *id);
int hub__valid_name(const char *name);   /* repo-relative path without "..", '/' first, etc. */
int hub__valid_etag(const char *etag);
int hub__is_commit(const char *rev);     /* 40 lowercase hex digits */
int hub__is_hex(const char *s, size_t n);
/* Join parts with '/', NULL-terminated; malloc'd. */
char *hub__join(const char *first, ...);
vs2_status hub__mkdirs(const char *dir, vs2_error *err);
/* The commit refs/<revision> names (malloc'd), or NULL. A commit revision is returned as is. */
char *hub__read_ref(const hub_ctx *h, const char *revision);
vs2_status hub__write_ref(const hub_ctx *h, const char *revision, const char *commit);
char *hub__snapshot_dir(const hub_ctx *h, const char *commit);
/* 1 if snapshots/<commit>/<file> resolves to a regular file (of size `size` unless -1). */
int hub__snapshot_has(const hub_ctx *h, const char *commit, const char *file, int64_t size);
/* snapshots/<commit>/<file> -> ../../blobs/<etag> (relative, replaced atomically). */
vs2_status hub__link(const hub_ctx *h, const char *commit, const char *file, const char *etag);
void hub__mark_no_exist(const hub_ctx *h, const char *commit, const char *file);
/* Files the engine needs that snapshots/<commit> lacks, as one malloc'd comma-separated line;
 * NULL when none is missing. *complete is set to 1 when none is. */
char *hub__snapshot_missing(const hub_ctx *h, const char *commit, int *complete);
/* Shard names listed by a model.safetensors.index.json file (malloc'd array, *n). */
vs2_status hub__index_shards(const char *index_path, char ***names, size_t *n, vs2_error *err);
void hub__free_names(char **names, size_t n);
/* "16.6 GB" */
void hub__fmt_bytes(int64_t n, char *buf, size_t len);

/* ---- hub_http.c ---- */
typedef struct hub_resp {
    long status;
    char *location, *etag, *linked_etag, *commit, *error_code, *error_message;
    int64_t content_length, linked_size, range_start; /* -1: absent */
    char *body;
    size_t body_len, body_cap; /* body grows geometrically, up to a cap (hub_http.c) */
    int body_over;             /* the body passed the cap: the request failed */
} hub_resp;
void hub__resp_free(hub_resp *r);
void hub__http_cleanup(hub_ctx *h); /* the curl handle */
/* URL-escape s (keep_slash: '/' stays); malloc'd. */
char *hub__escape(hub_ctx *h, const char *s, int keep_slash);
/* A Location made absolute against the endpoint's origin; malloc'd. */
char *hub__absolute_url(const hub_ctx *h, const char *location);
/* URL of a file at a revision: {endpoint}/{repo}/resolve/{rev}/{file}, escaped like the hub. */
char *hub__resolve_url(hub_ctx *h, const char *revision, const char *file);
/* GET (body collected) or HEAD with retries for transient failures. Returns VS2_OK with the
 * response (any status) or a network error after the retries. */
vs2_status hub__request(hub_ctx *h, const char *method, const char *url, hub_resp *r);
/* An error for an HTTP failure status, naming what was asked for and what to do. */
vs2_status hub__http_fail(hub_ctx *h, const hub_resp *r, const char *what);
/* Download f into blobs/<etag> (lock, resume .incomplete, verify, rename). */
vs2_status hub__download_blob(hub_ctx *h, const hub_file *f, const char *url);
/* Free bytes on the file system holding dir; -1 if unknown. */
int64_t hub__free_space(const char *dir);
/* sha256 / git-blob sha1 of a whole file, for tests: hex into out (65 / 41 bytes). */
vs2_status hub__hash_file(const char *path, int git_sha1, char *out, vs2_error *err);

#endif
