/* hub_http.c — talking to the hub with libcurl: metadata requests with retries and back-off,
 * and the resumable, verified download of one blob.
 *
 * A blob is written to blobs/<etag>.incomplete under an flock() on .locks/.../<etag>.lock (the
 * same lock file huggingface_hub uses, so the two tools also exclude each other), resumed with
 * "Range: bytes=N-", hashed as it streams (the part already on disk is hashed first), and only
 * renamed to blobs/<etag> once its size and hash match what the hub reported. A file that fails
 * the check is deleted, so a corrupt file never looks finished.
 *
 * curl_global_init() is process-wide and not reentrant: it runs once through pthread_once and
 * its result is kept for every later caller. curl_global_cleanup() is never called, because
 * another part of the process may still use curl; the OS reclaims it at exit. */
#include "hub_internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define BODY_MAX (64u << 20) /* model info of a large repo is a few MB */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT; /* written once, inside curl_once */

static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static CURL *get_curl(hub_ctx *h) {
    if (!h->curl) {
        if (pthread_once(&curl_once, curl_init_once) != 0 || curl_init_rc != CURLE_OK) {
            vs2__fail(h->err, VS2_ERR_INTERNAL, "libcurl cannot be initialised");
            return NULL;
        }
        h->curl = curl_easy_init();
        if (!h->curl) vs2__fail(h->err, VS2_ERR_NOMEM, "libcurl: cannot create a handle");
    }
    return h->curl;
}

void hub__http_cleanup(hub_ctx *h) {
    if (h->curl) curl_easy_cleanup(h->curl);
    h->curl = NULL;
}

void hub__resp_free(hub_resp *r) {
    free(r->location);
    free(r->etag);
    free(r->linked_etag);
    free(r->commit);
    free(r->error_code);
    free(r->error_message);
    free(r->body);
    memset(r, 0, sizeof *r);
}

static void resp_reset_headers(hub_resp *r) {
    char *body = r->body;
    size_t body_len = r->body_len, body_cap = r->body_cap;
    r->body = NULL;
    hub__resp_free(r);
    r->body = body;
    r->body_len = body_len;
    r->body_cap = body_cap;
    r->content_length = r->linked_size = r->range_start = -1;
}

static int64_t parse_i64(const char *s) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return errno || end == s || v < 0 ? -1 : (int64_t)v;
}

/* One response header line: keep the few the hub protocol uses. A status line starts a new
 * response (redirects are followed), so it clears what the previous one said. */
static size_t header_cb(char *buf, size_t size, size_t n, void *user) {
    hub_resp *r = user;
    size_t len = size * n, name_len;
    if (len >= 5 && !strncmp(buf, "HTTP/", 5)) {
        resp_reset_headers(r);
        return len;
    }
    const char *colon = memchr(buf, ':', len);
    if (!colon) return len;
    name_len = (size_t)(colon - buf);
    const char *v = colon + 1, *end = buf + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
    char *value = strndup(v, (size_t)(end - v));
    if (!value) return 0;
    static const struct { const char *name; size_t off; } STR[] = {
        {"location", offsetof(hub_resp, location)},       {"etag", offsetof(hub_resp, etag)},
        {"x-linked-etag", offsetof(hub_resp, linked_etag)}, {"x-repo-commit", offsetof(hub_resp, commit)},
        {"x-error-code", offsetof(hub_resp, error_code)},   {"x-error-message", offsetof(hub_resp, error_message)},
    };
    for (size_t i = 0; i < sizeof STR / sizeof STR[0]; i++) {
        if (strlen(STR[i].name) == name_len && !strncasecmp(buf, STR[i].name, name_len)) {
            char **slot = (char **)((char *)r + STR[i].off);
            free(*slot);
            *slot = value;
            return len;
        }
    }
    if (name_len == 14 && !strncasecmp(buf, "content-length", 14)) r->content_length = parse_i64(value);
    else if (name_len == 13 && !strncasecmp(buf, "x-linked-size", 13)) r->linked_size = parse_i64(value);
    else if (name_len == 13 && !strncasecmp(buf, "content-range", 13) && !strncmp(value, "bytes ", 6))
        r->range_start = parse_i64(value + 6);
    free(value);
    return len;
}

/* Metadata bodies: capped at BODY_MAX, grown by doubling so that a server sending many tiny
 * chunks costs O(n) copying, not O(n²). */
static size_t body_cb(char *buf, size_t size, size_t n, void *user) {
    hub_resp *r = user;
    size_t len = size * n;
    if (len > BODY_MAX || r->body_len + len > BODY_MAX) {
        r->body_over = 1;
        return 0;
    }
    if (r->body_len + len + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + len + 1) cap *= 2;
        if (cap > BODY_MAX + 1) cap = BODY_MAX + 1;
        char *p = realloc(r->body, cap);
        if (!p) return 0;
        r->body = p;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, buf, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return len;
}

/* scheme://host[:port] of a URL, for "is this the hub or somewhere else". */
static size_t origin_len(const char *url) {
    const char *s = strstr(url, "://");
    if (!s) return 0;
    return (size_t)(s + 3 - url) + strcspn(s + 3, "/?#");
}

static int same_origin(const char *a, const char *b) {
    size_t n = origin_len(a);
    return n && n == origin_len(b) && !strncasecmp(a, b, n);
}

/* Options every request shares. The token goes only to the hub's own origin; curl itself drops
 * it on a redirect to another host or port (the CDN serves signed URLs and refuses it). */
static struct curl_slist *setup(hub_ctx *h, CURL *c, const char *url, hub_resp *r, long low_speed_s) {
    curl_easy_reset(c);
    struct curl_slist *hdrs = NULL, *t;
    char ua[128], auth[1100];
    snprintf(ua, sizeof ua, "vs2/%s; libcurl/%s", vs2_version(), curl_version_info(CURLVERSION_NOW)->version);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_USERAGENT, ua);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, h->meta_timeout_s);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, low_speed_s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    if (h->token && same_origin(url, h->endpoint) && strlen(h->token) < 1000) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", h->token);
        if ((t = curl_slist_append(hdrs, auth))) hdrs = t;
    }
    if ((t = curl_slist_append(hdrs, "Accept-Encoding: identity"))) hdrs = t;
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    return hdrs;
}

/* Failures worth another try: the network, a stall, a dropped connection. */
static int transient_curl(CURLcode rc) {
    switch (rc) {
    case CURLE_COULDNT_CONNECT: case CURLE_OPERATION_TIMEDOUT: case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR: case CURLE_SEND_ERROR: case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR: case CURLE_HTTP2: case CURLE_HTTP2_STREAM:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return 1;
    default:
        return 0;
    }
}

static int transient_status(long status) { return status == 429 || status >= 500; }

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Back-off before retry `attempt` (0-based): delay * 2^attempt, at most 8 s. */
static long backoff_ms(const hub_ctx *h, int attempt) {
    long ms = h->retry_delay_ms;
    for (int i = 0; i < attempt && ms < 8000; i++) ms *= 2;
    return ms < 8000 ? ms : 8000;
}

static const char *host_of(const char *url, char *buf, size_t len) {
    size_t n = origin_len(url);
    snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), url);
    return buf;
}

/* A network failure, with the next step for the person reading it. */
static vs2_status net_fail(hub_ctx *h, CURLcode rc, const char *url, const char *errbuf) {
    char host[256];
    host_of(url, host, sizeof host);
    const char *hint = rc == CURLE_COULDNT_RESOLVE_HOST
                           ? "check the network connection and HF_ENDPOINT"
                       : rc == CURLE_OPERATION_TIMEDOUT
                           ? "the server stopped sending data (HF_HUB_DOWNLOAD_TIMEOUT sets how long to wait)"
                           : "check the network connection, proxy settings and HF_ENDPOINT";
    /* the hub is asked only for what the cache lacks, so HF_HUB_OFFLINE cannot help here; a local
     * copy of the model can */
    return vs2__fail(h->err, VS2_ERR_IO, "cannot reach %s: %s; %s; or, with the model files at hand, pass their "
                     "directory with --model DIR",
                     host, *errbuf ? errbuf : curl_easy_strerror(rc), hint);
}

vs2_status hub__request(hub_ctx *h, const char *method, const char *url, hub_resp *r) {
    CURL *c = get_curl(h);
    if (!c) return h->err ? h->err->status : VS2_ERR_INTERNAL;
    for (int attempt = 0;; attempt++) {
        hub__resp_free(r);
        resp_reset_headers(r);
        char errbuf[CURL_ERROR_SIZE] = "";
        struct curl_slist *hdrs = setup(h, c, url, r, h->meta_timeout_s);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, h->meta_timeout_s * 6);
        if (!strcmp(method, "HEAD")) {
            curl_easy_setopt(c, CURLOPT_NOBODY, 1L); /* redirects are reported, not followed */
        } else {
            curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
            curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
            curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
            curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
        }
        CURLcode rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
        curl_slist_free_all(hdrs);
        int again = rc != CURLE_OK ? transient_curl(rc) : transient_status(r->status);
        if (r->body_over) {
            char host[256];
            return vs2__fail(h->err, VS2_ERR_IO, "%s %s: the response is larger than %u MiB, the most vs2 "
                             "accepts for metadata (a hostile or misconfigured server?)",
                             method, host_of(url, host, sizeof host), BODY_MAX >> 20);
        }
        if (!again || attempt >= h->max_retries) {
            if (rc != CURLE_OK) return net_fail(h, rc, url, errbuf);
            return VS2_OK;
        }
        long ms = backoff_ms(h, attempt);
        char host[256];
        hub__log(h, 1, "%s %s: %s; retry %d of %d in %.1f s", method, host_of(url, host, sizeof host),
                 rc != CURLE_OK ? curl_easy_strerror(rc) : r->status == 429 ? "HTTP 429 (rate limited)" : "server error",
                 attempt + 1, h->max_retries, ms / 1000.0);
        sleep_ms(ms);
    }
}

char *hub__escape(hub_ctx *h, const char *s, int keep_slash) {
    CURL *c = get_curl(h);
    if (!c) return NULL;
    size_t cap = strlen(s) * 3 + 1, o = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    for (const char *p = s; *p; p++) {
        const char *one = (keep_slash && *p == '/') ? "/" : NULL;
        char *e = one ? NULL : curl_easy_escape(c, p, 1);
        const char *piece = one ? one : e;
        if (!piece) {
            free(out);
            return NULL;
        }
        size_t n = strlen(piece);
        memcpy(out + o, piece, n);
        o += n;
        curl_free(e);
    }
    out[o] = '\0';
    return out;
}

char *hub__resolve_url(hub_ctx *h, const char *revision, const char *file) {
    char *rev = hub__escape(h, revision, 0), *name = hub__escape(h, file, 1), *url = NULL;
    if (rev && name) url = hub__join(h->endpoint, h->repo_id, "resolve", rev, name, (char *)NULL);
    free(rev);
    free(name);
    return url;
}

char *hub__absolute_url(const hub_ctx *h, const char *location) {
    if (location[0] != '/') return strdup(location);
    size_t n = origin_len(h->endpoint);
    char *out = malloc(n + strlen(location) + 1);
    if (out) sprintf(out, "%.*s%s", (int)n, h->endpoint, location);
    return out;
}

vs2_status hub__http_fail(hub_ctx *h, const hub_resp *r, const char *what) {
    const char *code = r->error_code ? r->error_code : "";
    const char *id = h->repo_id;
    if (!strcmp(code, "GatedRepo"))
        return vs2__fail(h->err, VS2_ERR_IO,
                         "%s: HTTP %ld: %s is a gated repository: accept its conditions at %s/%s, then set "
                         "HF_TOKEN to a token of that account (or run `hf auth login`)%s%s",
                         what, r->status, id, h->endpoint, id, h->token ? "; the token used came from " : "",
                         h->token ? h->token_source : "");
    if (r->status == 401 || r->status == 403)
        return vs2__fail(h->err, VS2_ERR_IO,
                         "%s: HTTP %ld: %s: %s does not exist, or it is private or gated and %s; "
                         "check the name, and set HF_TOKEN (or run `hf auth login`) for private or gated repos",
                         what, r->status, r->error_message ? r->error_message : "access denied", id,
                         h->token ? "the token was refused" : "no token was sent");
    if (r->status == 404) {
        char msg[512];
        if (!strcmp(code, "RevisionNotFound"))
            snprintf(msg, sizeof msg, "revision '%s' not found in %s", h->revision, id);
        else if (!strcmp(code, "EntryNotFound"))
            snprintf(msg, sizeof msg, "file not found in %s (revision %s)", id, h->revision);
        else if (!strcmp(code, "RepositoryNotFound"))
            snprintf(msg, sizeof msg, "repository %s not found", id);
        else
            snprintf(msg, sizeof msg, "not found (repository %s, revision %s)", id, h->revision);
        return vs2__fail(h->err, VS2_ERR_IO, "%s: HTTP 404: %s", what, msg);
    }
    return vs2__fail(h->err, VS2_ERR_IO, "%s: HTTP %ld from the hub%s%s", what, r->status,
                     r->error_message ? ": " : "", r->error_message ? r->error_message : "");
}

/* ---- the verified download of one blob ------------------------------------------------ */

typedef enum { CHECK_SIZE, CHECK_SHA256, CHECK_GIT_SHA1 } check_kind;

typedef struct sink {
    hub_ctx *h;
    CURL *c;
    const hub_file *f;
    int fd;
    check_kind kind;
    EVP_MD_CTX *md;
    int64_t have, size;
    int mode;          /* 0: first byte not seen yet, 1: writing, 2: an error body (dropped) */
    int write_errno, overflow, bad_range;
    hub_resp *r;
    struct timespec last_report;
} sink;

static int hash_init(sink *s) {
    const EVP_MD *md = s->kind == CHECK_GIT_SHA1 ? EVP_sha1() : EVP_sha256();
    if (!EVP_DigestInit_ex(s->md, md, NULL)) return 0;
    if (s->kind != CHECK_GIT_SHA1) return 1;
    char prefix[48]; /* a git blob id hashes "blob <size>\0" then the content */
    int n = snprintf(prefix, sizeof prefix, "blob %lld", (long long)s->size);
    return EVP_DigestUpdate(s->md, prefix, (size_t)n + 1) == 1;
}

static double elapsed_s(const struct timespec *a, const struct timespec *b) {
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void report(sink *s, int finished) {
    hub_ctx *h = s->h;
    if (!h->p->progress || h->quiet_progress) return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!finished && elapsed_s(&s->last_report, &now) < 0.1) return;
    s->last_report = now;
    vs2_hub_progress p = {s->f->name, h->file_index, h->n_files, s->have, s->size,
                          h->done + s->have, h->total, finished};
    h->p->progress(h->p->progress_user, &p);
}

/* First bytes of a response: append on a 206 that starts where the file ends; start over on a
 * 200 (the server ignored Range); drop any other status's body. */
static int sink_start(sink *s) {
    long status = 0;
    curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &status);
    if (status == 206) {
        if (s->r->range_start != s->have) return s->bad_range = 1, 0;
        s->mode = 1;
    } else if (status == 200) {
        if (s->have > 0) {
            hub__log(s->h, 1, "%s: the server ignored the range request; starting again", s->f->name);
            if (ftruncate(s->fd, 0) != 0) return s->write_errno = errno, 0;
            s->have = 0;
            if (!hash_init(s)) return s->write_errno = EIO, 0;
        }
        s->mode = 1;
    } else {
        s->mode = 2;
    }
    return 1;
}

static size_t sink_cb(char *buf, size_t size, size_t n, void *user) {
    sink *s = user;
    size_t len = size * n;
    if (s->mode == 0 && !sink_start(s)) return 0;
    if (s->mode == 2) return len;
    if (s->have + (int64_t)len > s->size) return s->overflow = 1, 0;
    for (size_t off = 0; off < len;) {
        ssize_t w = write(s->fd, buf + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return s->write_errno = w < 0 ? errno : EIO, 0;
        off += (size_t)w;
    }
    if (EVP_DigestUpdate(s->md, buf, len) != 1) return s->write_errno = EIO, 0;
    s->have += (int64_t)len;
    report(s, 0);
    return len;
}

/* Hash the part of a resumed file that is already on disk. */
static int hash_existing(sink *s) {
    char buf[1 << 16];
    for (int64_t off = 0; off < s->have;) {
        size_t want = s->have - off < (int64_t)sizeof buf ? (size_t)(s->have - off) : sizeof buf;
        ssize_t n = pread(s->fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || EVP_DigestUpdate(s->md, buf, (size_t)n) != 1) return 0;
        off += n;
    }
    return 1;
}

typedef enum { XFER_DONE, XFER_RETRY, XFER_RESTART, XFER_FATAL } xfer_result;

/* One GET of the rest of the file. */
static xfer_result transfer(sink *s, const char *url) {
    hub_ctx *h = s->h;
    hub_resp r = {0};
    char errbuf[CURL_ERROR_SIZE] = "", range[48];
    resp_reset_headers(&r);
    s->r = &r;
    s->mode = 0;
    s->bad_range = s->overflow = s->write_errno = 0;
    struct curl_slist *hdrs = setup(h, s->c, url, &r, h->stall_s);
    curl_easy_setopt(s->c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(s->c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(s->c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(s->c, CURLOPT_WRITEFUNCTION, sink_cb);
    curl_easy_setopt(s->c, CURLOPT_WRITEDATA, s);
    if (s->have > 0) {
        snprintf(range, sizeof range, "%lld-", (long long)s->have);
        curl_easy_setopt(s->c, CURLOPT_RANGE, range);
    }
    CURLcode rc = curl_easy_perform(s->c);
    curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(hdrs);
    xfer_result out;
    if (s->write_errno) {
        if (s->write_errno == ENOSPC || s->write_errno == EDQUOT)
            vs2__fail(h->err, VS2_ERR_IO, "disk full: cannot write %s into the cache %s (%s); free some space "
                      "or set HF_HUB_CACHE to a larger disk, then run again to resume",
                      s->f->name, h->cache, strerror(s->write_errno));
        else
            vs2__fail(h->err, VS2_ERR_IO, "cannot write %s into the cache %s: %s", s->f->name, h->cache,
                      strerror(s->write_errno));
        out = XFER_FATAL;
    } else if (s->overflow || s->bad_range) {
        hub__log(h, 1, "%s: the server sent %s; starting the file again", s->f->name,
                 s->overflow ? "more bytes than the hub's size" : "a range that does not fit");
        out = XFER_RESTART;
    } else if (rc != CURLE_OK) {
        if (transient_curl(rc)) {
            hub__log(h, 1, "%s: %s%s%s at %lld of %lld bytes", s->f->name, curl_easy_strerror(rc),
                     *errbuf ? ": " : "", errbuf, (long long)s->have, (long long)s->size);
            out = XFER_RETRY;
        } else {
            net_fail(h, rc, url, errbuf);
            out = XFER_FATAL;
        }
    } else if (r.status == 416 && s->have == s->size) {
        out = XFER_DONE;
    } else if (r.status == 200 || r.status == 206) {
        out = s->have == s->size ? XFER_DONE : XFER_RETRY; /* a short body: resume */
    } else if (transient_status(r.status)) {
        hub__log(h, 1, "%s: HTTP %ld from the server", s->f->name, r.status);
        out = XFER_RETRY;
    } else {
        hub__http_fail(h, &r, s->f->name);
        out = XFER_FATAL;
    }
    hub__resp_free(&r);
    s->r = NULL;
    return out;
}

static void to_hex(const unsigned char *d, unsigned n, char *out) {
    for (unsigned i = 0; i < n; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Open (or create) the .incomplete file and hash what it holds. */
static vs2_status open_partial(sink *s, const char *path) {
    s->fd = open(path, O_CREAT | O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
    struct stat st;
    if (s->fd < 0 || fstat(s->fd, &st) != 0 || !S_ISREG(st.st_mode))
        return vs2__fail(s->h->err, VS2_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    s->have = st.st_size;
    if (s->have > s->size) {
        if (ftruncate(s->fd, 0) != 0)
            return vs2__fail(s->h->err, VS2_ERR_IO, "cannot truncate %s: %s", path, strerror(errno));
        s->have = 0;
    }
    if (!hash_init(s) || !hash_existing(s))
        return vs2__fail(s->h->err, VS2_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    if (s->have > 0) {
        char done[32], all[32];
        hub__fmt_bytes(s->have, done, sizeof done);
        hub__fmt_bytes(s->size, all, sizeof all);
        hub__log(s->h, 2, "%s: resuming at %s of %s", s->f->name, done, all);
    }
    return VS2_OK;
}

/* Fetch until the file is whole, retrying transient failures; the retry budget starts again
 * whenever an attempt made progress, so a long download over a flaky link still finishes. */
static xfer_result fetch_all(sink *s, const char *url) {
    for (int failures = 0;;) {
        int64_t before = s->have;
        xfer_result x = transfer(s, url);
        if (x != XFER_RETRY) return x;
        if (s->have > before) failures = 0;
        if (failures >= s->h->max_retries) {
            vs2__fail(s->h->err, VS2_ERR_IO, "%s: download failed after %d retries at %lld of %lld bytes; "
                      "run again to resume", s->f->name, failures, (long long)s->have, (long long)s->size);
            return XFER_FATAL;
        }
        long ms = backoff_ms(s->h, failures++);
        hub__log(s->h, 1, "%s: retry %d of %d in %.1f s", s->f->name, failures, s->h->max_retries, ms / 1000.0);
        sleep_ms(ms);
    }
}

static const char *expected_hash(const hub_file *f, check_kind *kind) {
    if (hub__is_hex(f->etag, 64)) return *kind = CHECK_SHA256, f->etag;
    if (hub__is_hex(f->etag, 40)) return *kind = CHECK_GIT_SHA1, f->etag;
    if (f->sha256) return *kind = CHECK_SHA256, f->sha256;
    if (f->blob_id) return *kind = CHECK_GIT_SHA1, f->blob_id;
    return *kind = CHECK_SIZE, NULL;
}

/* Download, verify, rename: the part of hub__download_blob that runs under the lock. */
static vs2_status fetch_verified(hub_ctx *h, const hub_file *f, const char *url, const char *blob) {
    char partial[4096], got[EVP_MAX_MD_SIZE * 2 + 1];
    snprintf(partial, sizeof partial, "%s.incomplete", blob);
    sink s = {.h = h, .f = f, .size = f->size, .fd = -1};
    const char *want = expected_hash(f, &s.kind);
    if (!want) hub__log(h, 1, "%s: the hub gave no checksum (etag %s); only the size is checked", f->name, f->etag);
    s.c = get_curl(h);
    s.md = EVP_MD_CTX_new();
    vs2_status st = s.c && s.md ? VS2_OK : vs2__fail(h->err, VS2_ERR_NOMEM, "out of memory");
    for (int fresh_tries = 0; st == VS2_OK; fresh_tries++) {
        if ((st = open_partial(&s, partial)) != VS2_OK) break;
        int resumed = s.have > 0;
        xfer_result x = fetch_all(&s, url);
        if (x == XFER_FATAL) {
            st = h->err ? h->err->status : VS2_ERR_IO;
            break; /* the .incomplete file stays for the next run to resume */
        }
        unsigned dlen = 0;
        unsigned char d[EVP_MAX_MD_SIZE];
        int ok = x == XFER_DONE && EVP_DigestFinal_ex(s.md, d, &dlen) == 1;
        to_hex(d, ok ? dlen : 0, got);
        got[ok ? 2 * dlen : 0] = '\0';
        if (ok && s.have == s.size && (!want || !strcasecmp(got, want))) {
            /* fsync first: after a crash the name blobs/<etag> must not hold missing bytes */
            int bad = fsync(s.fd) != 0;
            bad |= close(s.fd) != 0;
            s.fd = -1;
            if (bad || rename(partial, blob) != 0)
                st = vs2__fail(h->err, VS2_ERR_IO, "cannot move %s into place: %s", partial, strerror(errno));
            break;
        }
        close(s.fd);
        s.fd = -1;
        unlink(partial); /* never keep bytes that failed the check */
        if (x == XFER_DONE && (!resumed || fresh_tries > 0)) {
            st = vs2__fail(h->err, VS2_ERR_IO, "%s: checksum mismatch: the hub says %s %s, the downloaded bytes "
                           "give %s; the file was discarded and nothing was put in the cache",
                           f->name, s.kind == CHECK_GIT_SHA1 ? "git sha1" : "sha256", want, got);
            break;
        }
        if (fresh_tries > 0) {
            st = vs2__fail(h->err, VS2_ERR_IO, "%s: the server keeps sending unusable data", f->name);
            break;
        }
        hub__log(h, 1, "%s: %s; downloading it again from the start", f->name,
                 x == XFER_DONE ? "the resumed file failed its checksum" : "the partial file was unusable");
    }
    if (s.fd >= 0) close(s.fd);
    EVP_MD_CTX_free(s.md);
    if (st == VS2_OK) report(&s, 1);
    return st;
}

static int file_has_size(const char *path, int64_t size) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (size < 0 || st.st_size == size);
}

/* flock() the blob's lock file, saying so if another process holds it. */
static int take_lock(hub_ctx *h, const char *path, const char *file) {
    int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0) {
        vs2__fail(h->err, VS2_ERR_IO, "cannot open the lock file %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
    if (errno == EWOULDBLOCK) {
        hub__log(h, 2, "%s: another process is downloading it; waiting for it (lock %s)", file, path);
        int rc;
        while ((rc = flock(fd, LOCK_EX)) != 0 && errno == EINTR) {
        }
        if (rc == 0) return fd;
    }
    vs2__fail(h->err, VS2_ERR_IO, "cannot lock %s: %s", path, strerror(errno));
    close(fd);
    return -1;
}

vs2_status hub__download_blob(hub_ctx *h, const hub_file *f, const char *url) {
    char *blobs = hub__join(h->repo_dir, "blobs", (char *)NULL);
    char *blob = hub__join(h->repo_dir, "blobs", f->etag, (char *)NULL);
    char lock[4096];
    snprintf(lock, sizeof lock, "%s/%s.lock", h->locks_dir, f->etag);
    vs2_status s = blobs && blob ? VS2_OK : vs2__fail(h->err, VS2_ERR_NOMEM, "out of memory");
    if (s == VS2_OK && !file_has_size(blob, f->size)) {
        if ((s = hub__mkdirs(blobs, h->err)) == VS2_OK) s = hub__mkdirs(h->locks_dir, h->err);
        int fd = s == VS2_OK ? take_lock(h, lock, f->name) : -1;
        if (fd < 0 && s == VS2_OK) s = h->err ? h->err->status : VS2_ERR_IO;
        if (fd >= 0) {
            if (!file_has_size(blob, f->size)) s = fetch_verified(h, f, url, blob); /* not done meanwhile */
            flock(fd, LOCK_UN);
            close(fd);
        }
    }
    free(blob);
    free(blobs);
    return s;
}

vs2_status hub__hash_file(const char *path, int git_sha1, char *out, vs2_error *err) {
    struct stat st;
    sink s = {.kind = git_sha1 ? CHECK_GIT_SHA1 : CHECK_SHA256};
    s.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s.fd < 0 || fstat(s.fd, &st) != 0) {
        if (s.fd >= 0) close(s.fd);
        return vs2__fail(err, VS2_ERR_IO, "%s: %s", path, strerror(errno));
    }
    s.size = s.have = st.st_size;
    s.md = EVP_MD_CTX_new();
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    int ok = s.md && hash_init(&s) && hash_existing(&s) && EVP_DigestFinal_ex(s.md, d, &n) == 1;
    EVP_MD_CTX_free(s.md);
    close(s.fd);
    if (!ok) return vs2__fail(err, VS2_ERR_IO, "%s: cannot hash", path);
    to_hex(d, n, out);
    return VS2_OK;
}

int64_t hub__free_space(const char *dir) {
    struct statvfs v;
    if (statvfs(dir, &v) != 0) return -1;
    return (int64_t)v.f_bavail * (int64_t)v.f_frsize;
}
