/* batch.c — the pieces of `vs2 batch`, `vs2 merge` and `vs2 batch --groups` that are not
 * command-line handling (docs/batch.md): a string set, JSON writing helpers, the crash-safe
 * JSONL journal (lock, torn-tail repair, durable appends), the shard hash, the group manifest. */
#include "eval_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- string set --------------------------------------------------------------------------- */

uint64_t ev_fnv1a64(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    return h;
}

static int strset_grow(ev_strset *s) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    const char **keys = calloc(cap, sizeof *keys);
    size_t *vals = calloc(cap, sizeof *vals);
    if (!keys || !vals) {
        free(keys), free(vals);
        s->oom = 1;
        return 0;
    }
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->keys[i]) continue;
        size_t h = (size_t)(ev_fnv1a64(s->keys[i]) & (cap - 1));
        while (keys[h]) h = (h + 1) & (cap - 1);
        keys[h] = s->keys[i];
        vals[h] = s->vals[i];
    }
    free(s->keys), free(s->vals);
    s->keys = keys, s->vals = vals, s->cap = cap;
    return 1;
}

int ev_strset_put(ev_strset *s, const char *key, size_t val, size_t *old) {
    if ((s->n + 1) * 2 > s->cap && !strset_grow(s)) return -1;
    size_t h = (size_t)(ev_fnv1a64(key) & (s->cap - 1));
    while (s->keys[h]) {
        if (!strcmp(s->keys[h], key)) {
            if (old) *old = s->vals[h];
            return 0;
        }
        h = (h + 1) & (s->cap - 1);
    }
    s->keys[h] = key;
    s->vals[h] = val;
    s->n++;
    return 1;
}

int ev_strset_get(const ev_strset *s, const char *key, size_t *val) {
    if (!s->cap) return 0;
    size_t h = (size_t)(ev_fnv1a64(key) & (s->cap - 1));
    while (s->keys[h]) {
        if (!strcmp(s->keys[h], key)) {
            if (val) *val = s->vals[h];
            return 1;
        }
        h = (h + 1) & (s->cap - 1);
    }
    return 0;
}

void ev_strset_free(ev_strset *s) {
    free(s->keys), free(s->vals);
    memset(s, 0, sizeof *s);
}

/* ---- JSON writing -------------------------------------------------------------------------- */

int ev_utf8_valid(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = ev_utf8_len((const char *)p);
        if (!n) return 0;
        p += n;
    }
    return 1;
}

void ev_buf_json_str(ev_buf *b, const char *s) {
    if (!s) {
        ev_buf_puts(b, "null");
        return;
    }
    ev_buf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            ev_buf_put(b, e, 2);
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            const char *e = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
            if (e) ev_buf_puts(b, e);
            else ev_buf_printf(b, "\\u%04x", c);
            p++;
        } else {
            size_t n = ev_utf8_len((const char *)p);
            if (!n) {
                ev_buf_puts(b, "\xEF\xBF\xBD");
                p++;
            } else {
                ev_buf_put(b, (const char *)p, n);
                p += n;
            }
        }
    }
    ev_buf_put(b, "\"", 1);
}

void ev_buf_json_num(ev_buf *b, double x) {
    if (!isfinite(x)) {
        ev_buf_puts(b, "null");
        return;
    }
    char t[40];
    snprintf(t, sizeof t, "%.15g", x);
    if (strtod(t, NULL) != x) snprintf(t, sizeof t, "%.17g", x);
    ev_buf_puts(b, t);
}

/* ---- reading JSONL files ------------------------------------------------------------------ */

static vs2_status read_fd(int fd, const char *path, char **data, size_t *len, vs2_error *err) {
    struct stat st;
    if (fstat(fd, &st) != 0)
        return vs2__fail(err, VS2_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return vs2__fail(err, VS2_ERR_IO, "%s: is %s, not a regular file", path, vs2__file_kind(st.st_mode));
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap);
    if (!buf) return vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory", path);
    for (;;) {
        if (n + 1 >= cap) {
            char *p = realloc(buf, cap * 2);
            if (!p) {
                free(buf);
                return vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = p, cap *= 2;
        }
        ssize_t r = pread(fd, buf + n, cap - 1 - n, (off_t)n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            free(buf);
            return vs2__fail(err, VS2_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *data = buf, *len = n;
    return VS2_OK;
}

typedef int (*line_fn)(void *user, const char *id, const char *line, size_t len, int lineno,
                       int is_error);

/* Is this line a JSON object with a string id? Fills *id (malloc'd) and *is_error. */
static int line_valid(const char *p, size_t k, char **id, int *is_error, char *why, size_t why_n) {
    json_error_t je;
    json_t *o = json_loadb(p, k, 0, &je);
    if (!o) {
        snprintf(why, why_n, "invalid JSON: %s", je.text);
        return 0;
    }
    int ok = 0;
    const char *s = json_string_value(json_object_get(o, "id"));
    if (!json_is_object(o)) snprintf(why, why_n, "not a JSON object");
    else if (!s) snprintf(why, why_n, "no string \"id\"");
    else {
        *id = strdup(s);
        const json_t *e = json_object_get(o, "error");
        *is_error = e && !json_is_null(e);
        ok = *id != NULL;
        if (!ok) snprintf(why, why_n, "out of memory");
    }
    json_decref(o);
    return ok;
}

static int blank(const char *p, size_t k) {
    for (size_t i = 0; i < k; i++)
        if (!strchr(" \t\r", p[i])) return 0;
    return 1;
}

/* Scan data: calls fn for each valid line; *good_end = the end (after '\n') of the last complete
 * line. Only a tail without its newline is torn: one write() of a line and its newline, cut by a
 * crash, can leave nothing else. A complete line that is not a result (a note someone added, a
 * damaged line) is an error naming the line, never deleted. */
static vs2_status scan_buf(const char *name, const char *data, size_t len, size_t *good_end,
                           line_fn fn, void *user, vs2_error *err) {
    size_t end = 0;
    int lineno = 0;
    for (size_t pos = 0; pos < len;) {
        const char *p = data + pos, *nl = memchr(p, '\n', len - pos);
        lineno++;
        if (!nl) break; /* torn: no newline */
        size_t k = (size_t)(nl - p);
        pos += k + 1;
        end = pos;
        if (blank(p, k)) continue;
        char *id = NULL;
        int is_error = 0;
        char why[200];
        if (!line_valid(p, k, &id, &is_error, why, sizeof why))
            return vs2__fail(err, VS2_ERR_FORMAT,
                             "%s:%d: %s (a complete line, so not one a crash cut short: fix or remove "
                             "the line)",
                             name, lineno, why);
        int ok = fn ? fn(user, id, p, k, lineno, is_error) : 1;
        free(id);
        if (!ok) return vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory", name);
    }
    *good_end = end;
    return VS2_OK;
}

vs2_status ev_jsonl_scan(const char *path, int *torn, line_fn fn, void *user, vs2_error *err) {
    int fd = vs2__open_regular(path, err); /* a FIFO is refused, never waited on */
    if (fd < 0) return err ? err->status : VS2_ERR_IO;
    char *data = NULL;
    size_t len = 0, good = 0;
    vs2_status st = read_fd(fd, path, &data, &len, err);
    close(fd);
    if (st) return st;
    st = scan_buf(path, data, len, &good, fn, user, err);
    if (torn) *torn = !st && !blank(data + good, len - good);
    free(data);
    if (!st) vs2__ok(err);
    return st;
}

/* ---- the journal --------------------------------------------------------------------------- */

typedef struct {
    ev_journal *j;
    size_t cap;
} jctx;

static int journal_add(void *user, const char *id, const char *line, size_t len, int lineno,
                       int is_error) {
    (void)line, (void)len;
    jctx *c = user;
    ev_journal *j = c->j;
    if (j->n_lines == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        ev_journal_line *p = realloc(j->lines, cap * sizeof *p);
        if (!p) return 0;
        j->lines = p, c->cap = cap;
    }
    char *s = strdup(id);
    if (!s) return 0;
    j->lines[j->n_lines++] = (ev_journal_line){.id = s, .is_error = is_error, .line = lineno};
    return 1;
}

static vs2_status write_all(int fd, const char *path, const char *p, size_t n, vs2_error *err) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return vs2__fail(err, VS2_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        p += w, n -= (size_t)w;
    }
    return VS2_OK;
}

static void fsync_dir_of(const char *path) {
    char *d = strdup(path);
    if (!d) return;
    char *slash = strrchr(d, '/');
    const char *dir = ".";
    if (slash) {
        if (slash == d) slash[1] = '\0';
        else *slash = '\0';
        dir = d;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(d);
}

/* Keep the valid non-error lines of data: write them to path.tmp, fsync, rename over path. */
typedef struct {
    ev_buf out;
} keepctx;

static int keep_ok_line(void *user, const char *id, const char *line, size_t len, int lineno,
                        int is_error) {
    (void)id, (void)lineno;
    keepctx *k = user;
    if (is_error) return 1;
    ev_buf_put(&k->out, line, len);
    ev_buf_put(&k->out, "\n", 1);
    return !k->out.oom;
}

static vs2_status rewrite_without_errors(ev_journal *j, const char *data, size_t len,
                                         vs2_error *err) {
    keepctx k = {0};
    size_t good = 0;
    vs2_status st = scan_buf(j->path, data, len, &good, keep_ok_line, &k, err);
    if (st) {
        ev_buf_free(&k.out);
        return st;
    }
    size_t pl = strlen(j->path);
    char *tmp = malloc(pl + 32);
    if (!tmp) {
        ev_buf_free(&k.out);
        return vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory", j->path);
    }
    snprintf(tmp, pl + 32, "%s.tmp.%ld", j->path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) st = vs2__fail(err, VS2_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    if (!st) st = write_all(fd, tmp, k.out.data ? k.out.data : "", k.out.len, err);
    if (!st && fsync(fd) != 0) st = vs2__fail(err, VS2_ERR_IO, "%s: fsync: %s", tmp, strerror(errno));
    if (fd >= 0) close(fd);
    if (!st && rename(tmp, j->path) != 0)
        st = vs2__fail(err, VS2_ERR_IO, "%s: cannot rename to %s: %s", tmp, j->path, strerror(errno));
    if (st) unlink(tmp);
    else fsync_dir_of(j->path);
    free(tmp);
    ev_buf_free(&k.out);
    return st;
}

void ev_journal_close(ev_journal *j) {
    if (!j) return;
    if (j->fd >= 0) close(j->fd);
    if (j->lock_fd >= 0) close(j->lock_fd); /* releases the flock */
    for (size_t i = 0; i < j->n_lines; i++) free(j->lines[i].id);
    free(j->lines);
    free(j->path);
    memset(j, 0, sizeof *j);
    j->fd = j->lock_fd = -1;
}

static vs2_status journal_lock(ev_journal *j, vs2_error *err) {
    size_t pl = strlen(j->path);
    char *lp = malloc(pl + 6);
    if (!lp) return vs2__fail(err, VS2_ERR_NOMEM, "out of memory");
    memcpy(lp, j->path, pl);
    memcpy(lp + pl, ".lock", 6);
    vs2_status st = VS2_OK;
    j->lock_fd = open(lp, O_RDWR | O_CREAT | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0644);
    if (j->lock_fd < 0) {
        st = vs2__fail(err, VS2_ERR_IO, "%s: cannot create the lock file: %s", lp, strerror(errno));
    } else if (flock(j->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t r = pread(j->lock_fd, pid, sizeof pid - 1, 0);
        if (r > 0) pid[r] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (errno == EWOULDBLOCK || errno == EAGAIN || r >= 0)
            st = vs2__fail(err, VS2_ERR_IO,
                           "%s is being written by another process%s%s%s (lock %s); run one writer per "
                           "output file (use --shard K/N with one output per shard)",
                           j->path, *pid ? " (pid " : "", pid, *pid ? ")" : "", lp);
        else st = vs2__fail(err, VS2_ERR_IO, "%s: cannot lock: %s", lp, strerror(errno));
    } else {
        char pid[32];
        int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
        if (ftruncate(j->lock_fd, 0) == 0 && pwrite(j->lock_fd, pid, (size_t)n, 0) < 0) {
            /* the pid is informative only */
        }
    }
    free(lp);
    return st;
}

vs2_status ev_journal_open(const char *path, int drop_errors, ev_journal *j, vs2_error *err) {
    memset(j, 0, sizeof *j);
    j->fd = j->lock_fd = -1;
    j->path = strdup(path);
    if (!j->path) return vs2__fail(err, VS2_ERR_NOMEM, "out of memory");
    vs2_status st = journal_lock(j, err);
    if (st) goto fail;
    /* O_NONBLOCK: a FIFO named OUT is refused by read_fd instead of blocking here. */
    j->fd = open(path, O_RDWR | O_CREAT | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0644);
    if (j->fd < 0) {
        st = vs2__fail(err, VS2_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    char *data = NULL;
    size_t len = 0, good = 0;
    if ((st = read_fd(j->fd, path, &data, &len, err))) goto fail;
    jctx c = {.j = j};
    st = scan_buf(path, data, len, &good, journal_add, &c, err);
    if (!st && good < len) {
        /* A torn tail: a last line without its newline (a line cut by a crash); cut it so
         * appends start on a line boundary. */
        if (ftruncate(j->fd, (off_t)good) != 0 || fsync(j->fd) != 0)
            st = vs2__fail(err, VS2_ERR_IO, "%s: cannot cut the torn last line: %s", path,
                           strerror(errno));
        j->torn_bytes = (long long)(len - good);
        len = good;
    }
    size_t n_err = 0;
    for (size_t i = 0; i < j->n_lines; i++) n_err += j->lines[i].is_error != 0;
    if (!st && drop_errors && n_err) {
        st = rewrite_without_errors(j, data, len, err);
        if (!st) {
            close(j->fd);
            j->fd = open(path, O_RDWR | O_CLOEXEC);
            if (j->fd < 0) st = vs2__fail(err, VS2_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
            size_t k = 0;
            for (size_t i = 0; i < j->n_lines; i++) {
                if (j->lines[i].is_error) free(j->lines[i].id);
                else j->lines[k++] = j->lines[i];
            }
            j->n_lines = k;
            j->n_dropped_errors = n_err;
        }
    }
    free(data);
    if (st) goto fail;
    int fl = fcntl(j->fd, F_GETFL);
    if (fl < 0 || fcntl(j->fd, F_SETFL, (fl | O_APPEND) & ~O_NONBLOCK) != 0) {
        st = vs2__fail(err, VS2_ERR_IO, "%s: cannot set append mode: %s", path, strerror(errno));
        goto fail;
    }
    vs2__ok(err);
    return VS2_OK;
fail:
    ev_journal_close(j);
    return st;
}

vs2_status ev_journal_append(ev_journal *j, const char *line, size_t len, vs2_error *err) {
    if (memchr(line, '\n', len))
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "%s: a result line contains a newline", j->path);
    char *buf = malloc(len + 1);
    if (!buf) return vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory", j->path);
    memcpy(buf, line, len);
    buf[len] = '\n';
    struct stat sb;
    off_t before = fstat(j->fd, &sb) == 0 ? sb.st_size : -1;
    /* One write() of the whole line: a kill can cut it short but never interleave it. */
    vs2_status st = write_all(j->fd, j->path, buf, len + 1, err);
    free(buf);
    if (st) {
        if (before >= 0 && ftruncate(j->fd, before) != 0) {
            /* the next open cuts the torn line */
        }
        return st;
    }
    if (fdatasync(j->fd) != 0)
        return vs2__fail(err, VS2_ERR_IO, "%s: fdatasync: %s", j->path, strerror(errno));
    return VS2_OK;
}

/* ---- group manifests ------------------------------------------------------------------------ */

void ev_groups_free(ev_groups *g) {
    if (!g) return;
    for (size_t i = 0; i < g->n; i++) {
        free(g->g[i].id), free(g->g[i].prompt);
        for (size_t k = 0; k < g->g[i].n_videos; k++) free(g->g[i].videos[k]);
        free(g->g[i].videos);
    }
    free(g->g);
    memset(g, 0, sizeof *g);
}

static vs2_status add_group(const char *name, const json_t *o, int line, ev_groups *out,
                            size_t *cap, vs2_error *err) {
    if (!json_is_object(o))
        return vs2__fail(err, VS2_ERR_FORMAT, "%s:%d: expected a JSON object", name, line);
    int oom = 0;
    const json_t *idv = json_object_get(o, "id");
    if (!idv) idv = json_object_get(o, "group_idx");
    if (!idv) idv = json_object_get(o, "idx");
    char *id = ev_json_text(idv, &oom);
    const json_t *pv = json_object_get(o, "prompt");
    if (!pv) pv = json_object_get(o, "text");
    const char *prompt = json_string_value(pv);
    const json_t *vids = json_object_get(o, "videos");
    vs2_status st = VS2_OK;
    if (!id) st = vs2__fail(err, VS2_ERR_FORMAT, "%s:%d: group has no \"id\" (or group_idx, idx)", name, line);
    else if (!prompt) st = vs2__fail(err, VS2_ERR_FORMAT, "%s:%d: group has no string \"prompt\" (or text)", name, line);
    else if (!json_is_array(vids) || json_array_size(vids) == 0)
        st = vs2__fail(err, VS2_ERR_FORMAT, "%s:%d: group has no \"videos\" list of paths", name, line);
    for (size_t k = 0; !st && k < json_array_size(vids); k++)
        if (!json_is_string(json_array_get(vids, k)))
            st = vs2__fail(err, VS2_ERR_FORMAT, "%s:%d: videos[%zu] is not a string", name, line, k);
    if (st) {
        free(id);
        return st;
    }
    if (out->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        ev_group *p = realloc(out->g, nc * sizeof *p);
        if (!p) {
            free(id);
            return vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory", name);
        }
        out->g = p, *cap = nc;
    }
    ev_group *g = &out->g[out->n++];
    memset(g, 0, sizeof *g);
    g->id = id;
    g->line = line;
    g->prompt = ev_strdup(prompt, &oom);
    g->videos = calloc(json_array_size(vids), sizeof *g->videos);
    if (!g->videos) oom = 1;
    for (size_t k = 0; g->videos && k < json_array_size(vids); k++) {
        g->videos[k] = ev_strdup(json_string_value(json_array_get(vids, k)), &oom);
        if (g->videos[k]) g->n_videos++;
    }
    if (oom) return vs2__fail(err, VS2_ERR_NOMEM, "%s: out of memory", name);
    return VS2_OK;
}

vs2_status ev_groups_load(const char *path, ev_groups *out, vs2_error *err) {
    memset(out, 0, sizeof *out);
    char *data = NULL;
    size_t len = 0, cap = 0;
    vs2_status st = vs2__read_file(path, 0, &data, &len, err);
    if (st) return st;
    size_t i = 0;
    while (i < len && strchr(" \t\r\n", data[i])) i++;
    if (i < len && data[i] == '[') {
        json_error_t je;
        json_t *arr = json_loadb(data, len, 0, &je);
        if (!arr) st = vs2__fail(err, VS2_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", path, je.line, je.column, je.text);
        size_t k;
        json_t *o;
        if (!st) json_array_foreach(arr, k, o) {
                if ((st = add_group(path, o, (int)k + 1, out, &cap, err))) break;
            }
        json_decref(arr);
    } else {
        int line = 0;
        for (size_t pos = 0; !st && pos < len;) {
            const char *p = data + pos, *nl = memchr(p, '\n', len - pos);
            size_t k = nl ? (size_t)(nl - p) : len - pos;
            pos += k + 1;
            line++;
            if (blank(p, k)) continue;
            json_error_t je;
            json_t *o = json_loadb(p, k, 0, &je);
            if (!o) {
                st = vs2__fail(err, VS2_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", path, line, je.column, je.text);
                break;
            }
            st = add_group(path, o, line, out, &cap, err);
            json_decref(o);
        }
    }
    free(data);
    if (st) ev_groups_free(out);
    else vs2__ok(err);
    return st;
}
