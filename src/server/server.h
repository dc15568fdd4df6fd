/* server.h — `vs2 serve`: VideoScore2 behind HTTP (docs/server.md).
 *
 * The server is part of the command, not of libvs2: the library stays free of an HTTP
 * dependency (programs that only score never link libmicrohttpd), and everything it does goes
 * through the public API of vs2.h. Files by stage:
 *   request.c   JSON bodies -> srv_request (pure parsing and validation; fuzzed)
 *   media.c     srv_media -> vs2_video (paths confined to the media root, uploads, frames)
 *   endpoints.c srv_request + engine -> JSON answers (native, Flow-Factory, OpenAI)
 *   metrics.c   counters and histograms, Prometheus text
 *   http.c      libmicrohttpd: routing, bearer key, limits, the bounded queue, workers, drain
 */
#ifndef VS2_SERVER_H
#define VS2_SERVER_H

#include "vs2.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* An error answer: the HTTP status and a message naming the field and the cause. */
typedef struct srv_error {
    int http;
    char msg[768];
} srv_error;
/* Fill e (printf-style) and return -1. */
int srv_fail(srv_error *e, int http, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Server-wide settings (vs2 serve options). */
typedef struct srv_config {
    const char *model;          /* --model as given */
    const char *model_name;     /* the id answered by /v1/models (default: --model) */
    const char *host;
    int port;
    const char *media_root;     /* NULL: no path inputs */
    char *media_root_real;      /* its realpath (set by srv_start) */
    const char *api_key;        /* NULL: no key needed */
    int workers;
    int max_queue;
    int batch_size;             /* videos a worker scores together (vs2_score_batch) */
    size_t max_body;            /* bytes */
    double request_timeout;     /* seconds */
    int max_connections;
    size_t max_items;           /* videos in one request */
    size_t max_frames;          /* frames of one frames input */
    int64_t max_frame_pixels;   /* width x height of one uploaded frame */
    int max_new_tokens;         /* cap on the option */
    int64_t max_video_tokens;   /* vs2_video_params.max_video_tokens */
    double compute_fps;         /* /compute frames: fps when kwargs has none; 0 = required */
    const char *compute_reward; /* default reward of /compute: hard|robust|soft|soft_expected|<dim> */
    int has_missing_reward;     /* /compute: a video without scores gets missing_reward... */
    double missing_reward;      /* ...instead of failing the request */
    vs2_engine_params ep;       /* how the engine is loaded (for /info) */
    vs2_score_params defaults;  /* decoding defaults of every request */
} srv_config;

/* ---- requests (request.c) ------------------------------------------------------------------ */

typedef enum srv_endpoint {
    SRV_EP_SCORE, SRV_EP_BATCH, SRV_EP_RANK, SRV_EP_COMPUTE, SRV_EP_CHAT, SRV_EP_N
} srv_endpoint;

typedef enum srv_src_kind {
    SRV_SRC_PATH,               /* a file under the media root */
    SRV_SRC_FILE,               /* uploaded container bytes (mp4, webm, ...) */
    SRV_SRC_IMAGES,             /* encoded frames (PNG/JPEG) + fps */
    SRV_SRC_RAW                 /* uint8 RGB frames with a shape + fps */
} srv_src_kind;

typedef struct srv_media {
    srv_src_kind kind;
    char *path;                 /* PATH: as given */
    int64_t size_bytes;         /* PATH: expected size, -1 = unchecked */
    char *sha256;               /* PATH: expected sha256 (64 hex), NULL = unchecked */
    uint8_t *data;              /* FILE: the bytes; RAW: n x h x w x 3 */
    size_t size;
    uint8_t **frames;           /* IMAGES: each frame's encoded bytes */
    size_t *frame_sizes;
    size_t n_frames;            /* IMAGES and RAW */
    int width, height;          /* RAW */
    double fps;                 /* IMAGES and RAW: required, finite, > 0 */
} srv_media;

typedef struct srv_item {
    char *prompt;               /* the T2V prompt */
    char *name;                 /* label in answers (a path, or "upload #i") */
    srv_media media;
} srv_item;

typedef struct srv_request {
    srv_endpoint ep;
    srv_item *items;
    size_t n;
    vs2_score_params sp;        /* validated options */
    vs2_rank_params rp;         /* rank and /compute: the key */
    char *answer;               /* teacher forcing ("answer" option), owned */
    int full;                   /* rank: whole result objects */
    int logprobs, top_logprobs; /* chat */
    char *model;                /* chat: the model field as sent */
} srv_request;

/* Parse and validate a request body for an endpoint. Nothing is decoded (no video work). */
int srv_parse_request(srv_endpoint ep, const char *body, size_t len, const srv_config *cfg,
                      srv_request **out, srv_error *e);
void srv_request_free(srv_request *r);
/* RFC 4648 base64 (standard or URL alphabet, padding optional, whitespace refused) into a
 * malloc'd buffer. -1 on bad input. */
int srv_base64_decode(const char *s, size_t len, uint8_t **out, size_t *out_len);
/* The key /compute and /v1/rank use from a name: hard|robust|soft|soft_expected, or one
 * dimension (visual_quality|text_alignment|physical_consistency, optionally ":soft" etc.). */
int srv_reward_from_name(const char *name, vs2_rank_params *rp);
/* If user_text is a rendered VideoScore2 template, the T2V prompt inside it (malloc'd) and
 * the template; else NULL. */
char *srv_prompt_from_template(const char *user_text, vs2_template *tmpl);

/* ---- media (media.c) ----------------------------------------------------------------------- */

/* Turn an item's media into a prepared video (pixel_values present). tmpdir: where uploaded
 * containers are written for FFmpeg (removed at once). */
int srv_media_load(const srv_media *m, const srv_config *cfg, const vs2_video_params *vp,
                   vs2_video *out, srv_error *e);
/* Confine a path to the media root: realpath inside root, a regular file. *real malloc'd. */
int srv_media_resolve(const char *path, const char *root_real, char **real, srv_error *e);

/* ---- metrics (metrics.c) ------------------------------------------------------------------- */

void srv_metrics_request(const char *endpoint, int status, double seconds);
void srv_metrics_queue_wait(double seconds);
void srv_metrics_videos(long n, long tokens, double generate_seconds);
void srv_metrics_gauges(int queue_depth, int in_flight);
void srv_metrics_batch_call(void);
char *srv_metrics_text(void);   /* malloc'd Prometheus text */

/* ---- endpoints (endpoints.c) ----------------------------------------------------------------- */

/* One request handed to a worker; status and body (malloc'd JSON) are filled. */
typedef struct srv_task {
    srv_request *req;
    volatile int *cancel;       /* set when the request timed out or its client left */
    int status;
    char *body;
} srv_task;
/* Whether two requests' decoding options allow scoring them in one vs2_score_batch call. */
int srv_params_compatible(const vs2_score_params *a, const vs2_score_params *b);
/* Score n requests with compatible options together (their videos' answers decoded in one
 * vs2_score_batch call) and answer each. */
void srv_execute_group(const vs2_engine *eng, const srv_config *cfg, srv_task *tasks, size_t n);
/* JSON bodies of the GET endpoints. */
char *srv_info_json(const vs2_engine *eng, const srv_config *cfg);
char *srv_models_json(const srv_config *cfg);
char *srv_error_json(const srv_error *e, srv_endpoint ep);

/* ---- the HTTP server (http.c) ---------------------------------------------------------------- */

typedef struct srv_server srv_server;
/* Listen (the engine may still be loading: /live answers, /ready says 503). */
int srv_start(srv_config *cfg, srv_server **out, srv_error *e);
/* The engine is loaded: start the workers, /ready turns 200. */
int srv_set_engine(srv_server *s, const vs2_engine *eng, srv_error *e);
/* Stop accepting, finish queued and running work, stop. */
void srv_drain_and_stop(srv_server *s);

#endif
