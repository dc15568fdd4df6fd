/* metrics.c — the server's counters for /metrics (Prometheus text format 0.0.4): requests by
 * endpoint and status, latency and queue-wait histograms, queue depth, in flight, videos scored,
 * generated tokens and the tokens per second of generation. One process-wide set (one server
 * per process), behind one mutex: updates are a few per request. */
#include "server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_BUCKETS 12
static const double bucket_le[N_BUCKETS] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};

typedef struct histogram {
    unsigned long long counts[N_BUCKETS + 1]; /* the last: +Inf */
    double sum;
    unsigned long long n;
} histogram;

#define MAX_KEYS 96
static struct {
    pthread_mutex_t mu;
    struct { char endpoint[32]; int status; unsigned long long n; } req[MAX_KEYS];
    int n_req;
    struct { char endpoint[32]; histogram h; } lat[MAX_KEYS];
    int n_lat;
    histogram queue_wait;
    unsigned long long videos, tokens, batch_calls;
    double generate_seconds;
    int queue_depth, in_flight;
} M = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void observe(histogram *h, double v) {
    int b = 0;
    while (b < N_BUCKETS && v > bucket_le[b]) b++;
    h->counts[b]++;
    h->sum += v;
    h->n++;
}

void srv_metrics_request(const char *endpoint, int status, double seconds) {
    pthread_mutex_lock(&M.mu);
    int i = 0;
    while (i < M.n_req && (strcmp(M.req[i].endpoint, endpoint) || M.req[i].status != status)) i++;
    if (i == M.n_req && M.n_req < MAX_KEYS) {
        snprintf(M.req[i].endpoint, sizeof M.req[i].endpoint, "%s", endpoint);
        M.req[i].status = status;
        M.n_req++;
    }
    if (i < M.n_req) M.req[i].n++;
    int j = 0;
    while (j < M.n_lat && strcmp(M.lat[j].endpoint, endpoint)) j++;
    if (j == M.n_lat && M.n_lat < MAX_KEYS) snprintf(M.lat[M.n_lat++].endpoint, sizeof M.lat[j].endpoint, "%s", endpoint);
    if (j < M.n_lat) observe(&M.lat[j].h, seconds);
    pthread_mutex_unlock(&M.mu);
}

void srv_metrics_queue_wait(double seconds) {
    pthread_mutex_lock(&M.mu);
    observe(&M.queue_wait, seconds);
    pthread_mutex_unlock(&M.mu);
}

void srv_metrics_videos(long n, long tokens, double generate_seconds) {
    pthread_mutex_lock(&M.mu);
    M.videos += (unsigned long long)n;
    M.tokens += (unsigned long long)tokens;
    M.generate_seconds += generate_seconds;
    pthread_mutex_unlock(&M.mu);
}

void srv_metrics_batch_call(void) {
    pthread_mutex_lock(&M.mu);
    M.batch_calls++;
    pthread_mutex_unlock(&M.mu);
}

void srv_metrics_gauges(int queue_depth, int in_flight) {
    pthread_mutex_lock(&M.mu);
    M.queue_depth = queue_depth;
    M.in_flight = in_flight;
    pthread_mutex_unlock(&M.mu);
}

typedef struct text { char *s; size_t n, cap; int oom; } text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...) {
    for (int tries = 0; tries < 2 && !t->oom; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(t->s + t->n, t->cap - t->n, fmt, ap);
        va_end(ap);
        if (k < 0) { t->oom = 1; return; }
        if ((size_t)k < t->cap - t->n) { t->n += (size_t)k; return; }
        size_t cap = (t->cap + (size_t)k + 1) * 2;
        char *s = realloc(t->s, cap);
        if (!s) { t->oom = 1; return; }
        t->s = s, t->cap = cap;
    }
}

static void put_histogram(text *t, const char *name, const char *labels, const histogram *h) {
    unsigned long long cum = 0;
    for (int b = 0; b <= N_BUCKETS; b++) {
        cum += h->counts[b];
        if (b < N_BUCKETS) put(t, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, *labels ? "," : "", bucket_le[b], cum);
        else put(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, *labels ? "," : "", cum);
    }
    put(t, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels, h->sum, name, labels, h->n);
}

char *srv_metrics_text(void) {
    text t = {malloc(4096), 0, 4096, 0};
    if (!t.s) return NULL;
    t.s[0] = 0;
    pthread_mutex_lock(&M.mu);
    put(&t, "# HELP vs2_requests_total HTTP requests by endpoint and status.\n# TYPE vs2_requests_total counter\n");
    for (int i = 0; i < M.n_req; i++)
        put(&t, "vs2_requests_total{endpoint=\"%s\",status=\"%d\"} %llu\n", M.req[i].endpoint, M.req[i].status, M.req[i].n);
    put(&t, "# HELP vs2_request_seconds Request latency by endpoint (arrival to answer).\n"
            "# TYPE vs2_request_seconds histogram\n");
    for (int i = 0; i < M.n_lat; i++) {
        char labels[64];
        snprintf(labels, sizeof labels, "endpoint=\"%s\"", M.lat[i].endpoint);
        put_histogram(&t, "vs2_request_seconds", labels, &M.lat[i].h);
    }
    put(&t, "# HELP vs2_queue_wait_seconds Time a request waited for a worker.\n# TYPE vs2_queue_wait_seconds histogram\n");
    put_histogram(&t, "vs2_queue_wait_seconds", "", &M.queue_wait);
    put(&t, "# HELP vs2_queue_depth Requests waiting for a worker.\n# TYPE vs2_queue_depth gauge\nvs2_queue_depth %d\n",
        M.queue_depth);
    put(&t, "# HELP vs2_in_flight Requests being scored.\n# TYPE vs2_in_flight gauge\nvs2_in_flight %d\n", M.in_flight);
    put(&t, "# HELP vs2_videos_scored_total Videos scored.\n# TYPE vs2_videos_scored_total counter\n"
            "vs2_videos_scored_total %llu\n", M.videos);
    put(&t, "# HELP vs2_score_batch_calls_total vs2_score_batch calls (videos decoded together per call = "
            "videos scored / calls).\n# TYPE vs2_score_batch_calls_total counter\nvs2_score_batch_calls_total %llu\n",
        M.batch_calls);
    put(&t, "# HELP vs2_generated_tokens_total Tokens generated.\n# TYPE vs2_generated_tokens_total counter\n"
            "vs2_generated_tokens_total %llu\n", M.tokens);
    put(&t, "# HELP vs2_generate_seconds_total Time spent generating.\n# TYPE vs2_generate_seconds_total counter\n"
            "vs2_generate_seconds_total %.6f\n", M.generate_seconds);
    put(&t, "# HELP vs2_tokens_per_second Generated tokens per second of generation, since start.\n"
            "# TYPE vs2_tokens_per_second gauge\nvs2_tokens_per_second %.3f\n",
        M.generate_seconds > 0 ? (double)M.tokens / M.generate_seconds : 0.0);
    pthread_mutex_unlock(&M.mu);
    if (t.oom) {
        free(t.s);
        return NULL;
    }
    return t.s;
}
