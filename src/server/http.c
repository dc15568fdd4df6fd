/* http.c — the HTTP side of `vs2 serve` on libmicrohttpd: routing, the bearer key, body limits,
 * the bounded queue and the workers that share one engine, time limits, client disconnects and
 * the drain on SIGTERM.
 *
 * Threads: libmicrohttpd runs one thread per connection (bounded by --max-connections). That
 * thread reads and parses the request, puts it on the queue (or answers 503 when the queue is
 * full) and waits for a worker, checking every 100 ms whether the time limit has passed (504)
 * or the client has gone (the work is cancelled at the next generated token). --workers threads
 * take requests from the queue and score them with the one shared engine (vs2_score_video is
 * thread-safe on a const engine). */
#define _GNU_SOURCE /* realpath, strncasecmp, POLLRDHUP */
#include "server.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#if MHD_VERSION < 0x00097002
typedef int MHD_RESULT;
#else
typedef enum MHD_Result MHD_RESULT;
#endif

typedef struct job {
    srv_request *req;
    int done, status, refs;
    char *body;
    volatile int cancel;
    double t_enqueue;
    struct job *next;
} job;

struct srv_server {
    srv_config *cfg;
    struct MHD_Daemon *daemon;
    const vs2_engine *eng;
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    job *head, *tail;
    int depth, in_flight, waiting, draining, stop;
    pthread_t *workers;
    int n_workers;
};

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

typedef struct conn {
    buf body;
    int too_big, oom;
    double t0;
    /* multipart/form-data on /v1/score: the parts "video" (the file), "prompt", "options" (JSON) */
    struct MHD_PostProcessor *pp;
    buf part[3];
    char bad_part[64];
} conn;

static const char *const part_names[3] = {"video", "prompt", "options"};

static int buf_add(buf *b, const char *data, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void job_unref(srv_server *s, job *j) {
    /* called with s->mu held */
    (void)s;
    if (--j->refs > 0) return;
    srv_request_free(j->req);
    free(j->body);
    free(j);
}

/* ---- workers ------------------------------------------------------------------------------------- */

/* Take the first waiting request and, behind it, the waiting requests whose options allow one
 * vs2_score_batch call, up to --batch-size videos (a request is never split). Called with s->mu. */
static size_t take_group(srv_server *s, job **out, size_t max_jobs) {
    job *first = s->head;
    size_t n = 1, videos = first->req->n;
    out[0] = first;
    s->head = first->next;
    for (job *j = s->head, *prev = NULL; j && n < max_jobs;) {
        job *next = j->next;
        if (videos + j->req->n <= (size_t)s->cfg->batch_size && !j->cancel &&
            srv_params_compatible(&first->req->sp, &j->req->sp)) {
            if (prev) prev->next = next;
            else s->head = next;
            out[n++] = j;
            videos += j->req->n;
        } else {
            prev = j;
        }
        j = next;
    }
    s->tail = NULL;
    for (job *j = s->head; j; j = j->next) s->tail = j;
    s->depth -= (int)n;
    return n;
}

static void *worker_main(void *arg) {
    srv_server *s = arg;
    size_t max_jobs = (size_t)s->cfg->batch_size;
    job **jobs = calloc(max_jobs, sizeof *jobs);
    srv_task *tasks = calloc(max_jobs, sizeof *tasks);
    if (!jobs || !tasks) {
        free(jobs), free(tasks);
        return NULL; /* the other workers go on; with none, requests time out (504) */
    }
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->stop) pthread_cond_wait(&s->work_cv, &s->mu);
        if (!s->head) break;
        size_t n = take_group(s, jobs, max_jobs), live = 0;
        s->in_flight += (int)n;
        srv_metrics_gauges(s->depth, s->in_flight);
        pthread_mutex_unlock(&s->mu);
        double now = now_s();
        for (size_t i = 0; i < n; i++) {
            srv_metrics_queue_wait(now - jobs[i]->t_enqueue);
            jobs[i]->status = 504; /* a request cancelled while it waited is not scored */
            if (!jobs[i]->cancel) tasks[live++] = (srv_task){jobs[i]->req, &jobs[i]->cancel, 0, NULL};
        }
        if (live) srv_execute_group(s->eng, s->cfg, tasks, live);
        pthread_mutex_lock(&s->mu);
        s->in_flight -= (int)n;
        srv_metrics_gauges(s->depth, s->in_flight);
        for (size_t i = 0, t = 0; i < n; i++) {
            job *j = jobs[i];
            if (t < live && tasks[t].req == j->req) j->status = tasks[t].status, j->body = tasks[t].body, t++;
            j->done = 1;
            job_unref(s, j);
        }
        pthread_cond_broadcast(&s->done_cv);
    }
    pthread_mutex_unlock(&s->mu);
    free(jobs), free(tasks);
    return NULL;
}

/* ---- answers --------------------------------------------------------------------------------------- */

static MHD_RESULT answer(struct MHD_Connection *c, int status, char *body, const char *type, int retry_after,
                         const char *metric_ep, double t0) {
    if (!body) {
        status = 503;
        body = strdup("{\"error\":\"out of memory\",\"status\":503}");
        retry_after = 1;
        if (!body) return MHD_NO;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    if (status == 401) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    MHD_RESULT rc = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    srv_metrics_request(metric_ep, status, now_s() - t0);
    return rc;
}

static MHD_RESULT answer_error(struct MHD_Connection *c, const srv_error *e, srv_endpoint ep, int retry_after,
                               const char *metric_ep, double t0) {
    return answer(c, e->http, srv_error_json(e, ep), "application/json", retry_after, metric_ep, t0);
}

static MHD_RESULT answer_json(struct MHD_Connection *c, int status, const char *json, const char *metric_ep, double t0) {
    return answer(c, status, strdup(json), "application/json", 0, metric_ep, t0);
}

/* ---- routing ----------------------------------------------------------------------------------------- */

static const struct {
    const char *path;
    srv_endpoint ep;
} post_routes[] = {
    {"/v1/score", SRV_EP_SCORE}, {"/v1/score/batch", SRV_EP_BATCH}, {"/v1/rank", SRV_EP_RANK},
    {"/compute", SRV_EP_COMPUTE}, {"/v1/chat/completions", SRV_EP_CHAT},
};
static const char *const get_routes[] = {"/live", "/health", "/ready", "/info", "/metrics", "/v1/models"};

static int authorized(const srv_server *s, struct MHD_Connection *c) {
    const char *key = s->cfg->api_key;
    if (!key) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7)) return 0;
    h += 7;
    size_t n = strlen(key), m = strlen(h);
    unsigned diff = (unsigned)(n ^ m); /* compare in time independent of where they differ */
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)key[i] ^ (unsigned char)(i < m ? h[i] : 0);
    return diff == 0;
}

static int client_gone(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return 0;
    struct pollfd p = {.fd = ci->connect_fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) <= 0) return 0;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return 1;
    char b;
    return (p.revents & POLLIN) && recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static MHD_RESULT handle_get(srv_server *s, struct MHD_Connection *c, const char *url, double t0) {
    pthread_mutex_lock(&s->mu);
    int ready = s->eng != NULL && !s->draining;
    pthread_mutex_unlock(&s->mu);
    if (!strcmp(url, "/live")) return answer_json(c, 200, "{\"status\":\"alive\"}", url, t0);
    if (!strcmp(url, "/health") || !strcmp(url, "/ready")) {
        if (ready) return answer_json(c, 200, "{\"status\":\"ok\",\"ready\":true}", url, t0);
        const char *why = s->draining ? "{\"status\":\"draining\",\"ready\":false}" : "{\"status\":\"loading\",\"ready\":false}";
        return answer(c, 503, strdup(why), "application/json", 5, url, t0);
    }
    if (!authorized(s, c)) {
        srv_error e = {401, "missing or wrong bearer key (Authorization: Bearer KEY)"};
        return answer_error(c, &e, SRV_EP_SCORE, 0, url, t0);
    }
    if (!strcmp(url, "/info")) return answer(c, 200, srv_info_json(s->eng, s->cfg), "application/json", 0, url, t0);
    if (!strcmp(url, "/v1/models")) return answer(c, 200, srv_models_json(s->cfg), "application/json", 0, url, t0);
    return answer(c, 200, srv_metrics_text(), "text/plain; version=0.0.4", 0, url, t0);
}

/* Queue the request and wait for its answer, the time limit or the client's departure. */
static MHD_RESULT run_post(srv_server *s, struct MHD_Connection *c, srv_endpoint ep, srv_request *req,
                           const char *url, double t0) {
    srv_error e = {0, ""};
    pthread_mutex_lock(&s->mu);
    if (s->draining) srv_fail(&e, 503, "the server is shutting down");
    else if (!s->eng) srv_fail(&e, 503, "the model is still loading (GET /ready says when it is ready)");
    else if (s->depth >= s->cfg->max_queue) srv_fail(&e, 503, "the queue is full (%d waiting); retry later", s->depth);
    if (e.http) {
        pthread_mutex_unlock(&s->mu);
        srv_request_free(req);
        return answer_error(c, &e, ep, s->eng && !s->draining ? 1 : 5, url, t0);
    }
    job *j = calloc(1, sizeof *j);
    if (!j) {
        pthread_mutex_unlock(&s->mu);
        srv_request_free(req);
        srv_fail(&e, 503, "out of memory");
        return answer_error(c, &e, ep, 1, url, t0);
    }
    j->req = req;
    j->refs = 2;
    j->t_enqueue = now_s();
    if (s->tail) s->tail->next = j;
    else s->head = j;
    s->tail = j;
    s->depth++;
    s->waiting++;
    srv_metrics_gauges(s->depth, s->in_flight);
    pthread_cond_signal(&s->work_cv);
    int gone = 0;
    while (!j->done) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100000000;
        if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
        pthread_cond_timedwait(&s->done_cv, &s->mu, &ts);
        if (j->done || j->cancel) continue;
        if (now_s() - t0 > s->cfg->request_timeout) j->cancel = 1;
        else if (client_gone(c)) j->cancel = 1, gone = 1;
    }
    /* A request cancelled while it waited is answered at once; a running one at its next token. */
    int status = j->status;
    char *body = j->body;
    j->body = NULL;
    if (j->cancel && !gone) {
        free(body);
        srv_fail(&e, 504, "the request ran past --request-timeout %.0f s", s->cfg->request_timeout);
        body = srv_error_json(&e, ep);
        status = 504;
    }
    s->waiting--;
    job_unref(s, j);
    pthread_cond_broadcast(&s->done_cv);
    pthread_mutex_unlock(&s->mu);
    if (gone) {
        free(body);
        srv_metrics_request(url, 499, now_s() - t0); /* nginx's "client closed request" */
        return MHD_NO;
    }
    return answer(c, status, body, "application/json", status == 503 ? 1 : 0, url, t0);
}

/* ---- multipart/form-data (/v1/score): the same request as JSON, the file as base64 data ----------- */

static MHD_RESULT on_part(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                          const char *content_type, const char *transfer_encoding, const char *data, uint64_t off,
                          size_t size) {
    (void)kind, (void)filename, (void)content_type, (void)transfer_encoding, (void)off;
    conn *cc = cls;
    for (int i = 0; i < 3; i++)
        if (key && !strcmp(key, part_names[i])) {
            if (size && buf_add(&cc->part[i], data, size)) cc->oom = 1;
            return MHD_YES;
        }
    if (!cc->bad_part[0]) snprintf(cc->bad_part, sizeof cc->bad_part, "%.60s", key ? key : "(unnamed)");
    return MHD_YES;
}

static char *base64_encode(const unsigned char *p, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        *o++ = tab[v >> 18 & 63];
        *o++ = tab[v >> 12 & 63];
        *o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? tab[v & 63] : '=';
    }
    *o = 0;
    return out;
}

static int multipart_to_json(conn *cc, srv_error *e) {
    if (cc->bad_part[0]) return srv_fail(e, 400, "multipart part '%s': expected video, prompt and options", cc->bad_part);
    if (!cc->part[0].len) return srv_fail(e, 400, "multipart: no \"video\" file part");
    char *b64 = base64_encode((const unsigned char *)cc->part[0].p, cc->part[0].len);
    json_t *root = json_object(), *opts = NULL;
    if (cc->part[2].len) {
        json_error_t je;
        if (!(opts = json_loadb(cc->part[2].p, cc->part[2].len, 0, &je))) {
            free(b64), json_decref(root);
            return srv_fail(e, 400, "multipart part options: not JSON: %s", je.text);
        }
    }
    json_object_set_new(root, "video", json_pack("{s:s}", "data", b64 ? b64 : ""));
    if (cc->part[1].p) json_object_set_new(root, "prompt", json_stringn_nocheck(cc->part[1].p, cc->part[1].len));
    if (opts) json_object_set_new(root, "options", opts);
    free(b64);
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text) return srv_fail(e, 503, "out of memory");
    free(cc->body.p);
    cc->body = (buf){text, strlen(text), strlen(text) + 1};
    return 0;
}

static MHD_RESULT on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                             const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls) {
    (void)version;
    srv_server *s = cls;
    conn *cc = *con_cls;
    if (!cc) {
        if (!(cc = calloc(1, sizeof *cc))) return MHD_NO;
        cc->t0 = now_s();
        *con_cls = cc;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->cfg->max_body) {
            srv_error e;
            srv_fail(&e, 413, "the body (%s bytes) is over --max-body %zu", cl, s->cfg->max_body);
            return answer_error(c, &e, SRV_EP_SCORE, 0, "other", cc->t0);
        }
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!strcmp(method, "POST") && !strcmp(url, "/v1/score") && ct && !strncasecmp(ct, "multipart/form-data", 19))
            cc->pp = MHD_create_post_processor(c, 65536, on_part, cc);
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (cc->too_big || cc->body.len + n > s->cfg->max_body) {
            cc->too_big = 1;
            return MHD_YES;
        }
        if (cc->pp) {
            cc->body.len += n; /* counted against --max-body; the parts are kept by on_part */
            if (MHD_post_process(cc->pp, upload_data, n) != MHD_YES && !cc->bad_part[0])
                snprintf(cc->bad_part, sizeof cc->bad_part, "(malformed multipart body)");
            return MHD_YES;
        }
        if (buf_add(&cc->body, upload_data, n)) cc->oom = 1;
        return MHD_YES;
    }
    int is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), is_post = !strcmp(method, "POST");
    for (size_t i = 0; i < sizeof get_routes / sizeof *get_routes; i++) {
        if (strcmp(url, get_routes[i])) continue;
        if (is_get) return handle_get(s, c, url, cc->t0);
        srv_error e = {405, ""};
        snprintf(e.msg, sizeof e.msg, "%s: use GET", url);
        return answer_error(c, &e, SRV_EP_SCORE, 0, url, cc->t0);
    }
    for (size_t i = 0; i < sizeof post_routes / sizeof *post_routes; i++) {
        if (strcmp(url, post_routes[i].path)) continue;
        srv_endpoint ep = post_routes[i].ep;
        srv_error e = {0, ""};
        if (!is_post) srv_fail(&e, 405, "%s: use POST", url);
        else if (!authorized(s, c)) srv_fail(&e, 401, "missing or wrong bearer key (Authorization: Bearer KEY)");
        else if (cc->too_big) srv_fail(&e, 413, "the body is over --max-body %zu bytes", s->cfg->max_body);
        else if (cc->oom) srv_fail(&e, 503, "out of memory reading the body");
        else if (cc->pp) multipart_to_json(cc, &e);
        if (e.http) return answer_error(c, &e, ep, e.http == 503 ? 1 : 0, url, cc->t0);
        srv_request *req;
        if (srv_parse_request(ep, cc->body.p ? cc->body.p : "", cc->body.p ? cc->body.len : 0, s->cfg, &req, &e))
            return answer_error(c, &e, ep, 0, url, cc->t0);
        return run_post(s, c, ep, req, url, cc->t0);
    }
    srv_error e = {404, ""};
    snprintf(e.msg, sizeof e.msg, "no endpoint %.200s (see GET /info and docs/server.md)", url);
    return answer_error(c, &e, SRV_EP_SCORE, 0, "other", cc->t0);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)c, (void)toe;
    conn *cc = *con_cls;
    if (cc) {
        if (cc->pp) MHD_destroy_post_processor(cc->pp);
        for (int i = 0; i < 3; i++) free(cc->part[i].p);
        free(cc->body.p);
        free(cc);
    }
    *con_cls = NULL;
}

/* ---- start and stop ------------------------------------------------------------------------------------ */

int srv_start(srv_config *cfg, srv_server **out, srv_error *e) {
    *out = NULL;
    if (cfg->media_root) {
        cfg->media_root_real = realpath(cfg->media_root, NULL);
        if (!cfg->media_root_real) return srv_fail(e, 2, "--media-root %s: %s", cfg->media_root, strerror(errno));
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    int g = getaddrinfo(cfg->host, port, &hints, &ai);
    if (g) return srv_fail(e, 2, "--host %s: %s", cfg->host, gai_strerror(g));
    srv_server *s = calloc(1, sizeof *s);
    if (!s) {
        freeaddrinfo(ai);
        return srv_fail(e, 1, "out of memory");
    }
    s->cfg = cfg;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work_cv, NULL);
    pthread_cond_init(&s->done_cv, NULL);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_NOTIFY_COMPLETED,
                                 on_completed, s, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->daemon) {
        free(s);
        return srv_fail(e, 1, "cannot listen on %s:%d (in use, or not an address of this machine)", cfg->host, cfg->port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (di) cfg->port = di->port;
    *out = s;
    return 0;
}

int srv_set_engine(srv_server *s, const vs2_engine *eng, srv_error *e) {
    if (!(s->workers = calloc((size_t)s->cfg->workers, sizeof *s->workers))) return srv_fail(e, 1, "out of memory");
    for (int i = 0; i < s->cfg->workers; i++) {
        if (pthread_create(&s->workers[i], NULL, worker_main, s)) return srv_fail(e, 1, "cannot start worker %d", i);
        s->n_workers++;
    }
    pthread_mutex_lock(&s->mu);
    s->eng = eng;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void srv_drain_and_stop(srv_server *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->draining = 1;
    pthread_mutex_unlock(&s->mu);
    MHD_socket ls = MHD_quiesce_daemon(s->daemon); /* no new connections */
    pthread_mutex_lock(&s->mu);
    while (s->depth || s->in_flight || s->waiting) pthread_cond_wait(&s->done_cv, &s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n_workers; i++) pthread_join(s->workers[i], NULL);
    MHD_stop_daemon(s->daemon);
    if (ls != MHD_INVALID_SOCKET) close(ls);
    free(s->workers);
    free(s->cfg->media_root_real);
    s->cfg->media_root_real = NULL;
    free(s);
}
