/* hub_cache.c — settings from params and the environment, and the Hugging Face hub cache layout
 * as huggingface_hub writes it, so that either tool uses what the other downloaded:
 *   <cache>/models--owner--name/blobs/<etag>               file contents, named by etag
 *   <cache>/models--owner--name/snapshots/<commit>/<file>  relative symlinks ../../blobs/<etag>
 *   <cache>/models--owner--name/refs/<revision>            the commit hash, no newline
 *   <cache>/models--owner--name/.no_exist/<commit>/<file>  empty: the file is not in the repo
 *   <cache>/.locks/models--owner--name/<etag>.lock         flock()ed while a blob downloads */
#include "hub_internal.h"

#include <errno.h>
#include <jansson.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Files the engine reads. Required ones must be in the repo; weights are handled apart. */
static const char *const REQUIRED_FILES[] = {"config.json", "tokenizer.json"};
static const char INDEX_NAME[] = "model.safetensors.index.json";
static const char SINGLE_WEIGHTS[] = "model.safetensors";

void hub__log(const hub_ctx *h, int level, const char *fmt, ...) {
    if (!h->p || !h->p->log) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    h->p->log(level, msg, h->p->log_user);
}

char *hub__join(const char *first, ...) {
    size_t len = strlen(first) + 1;
    va_list ap;
    va_start(ap, first);
    for (const char *s; (s = va_arg(ap, const char *));) len += strlen(s) + 1;
    va_end(ap);
    char *out = malloc(len);
    if (!out) return NULL;
    strcpy(out, first);
    va_start(ap, first);
    for (const char *s; (s = va_arg(ap, const char *));) {
        strcat(out, "/");
        strcat(out, s);
    }
    va_end(ap);
    return out;
}

int hub__is_hex(const char *s, size_t n) {
    if (!s || strlen(s) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

int hub__is_commit(const char *rev) { return hub__is_hex(rev, 40); }

static int name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

/* The hub's rule: [owner/]name of [A-Za-z0-9._-], no "--" or ".." and no leading/trailing
 * '-' or '.', at most 96 characters. Keeps ids safe as cache folder names too. */
int hub__valid_repo_id(const char *id) {
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 96 || strstr(id, "--") || strstr(id, "..")) return 0;
    int slashes = 0;
    const char *part = id;
    for (const char *c = id;; c++) {
        if (*c == '/' || *c == '\0') {
            if (c == part || *part == '-' || *part == '.' || c[-1] == '-' || c[-1] == '.') return 0;
            if (*c == '\0') break;
            if (++slashes > 1) return 0;
            part = c + 1;
        } else if (!name_char(*c)) {
            return 0;
        }
    }
    return 1;
}

/* A name that came from the network becomes a path in the cache: no "..", no empty or
 * hidden components, no absolute paths, nothing a shell or a file system would mind. */
int hub__valid_name(const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 255) return 0;
    const char *part = name;
    for (const char *c = name;; c++) {
        if (*c == '/' || *c == '\0') {
            if (c == part || *part == '.') return 0;
            if (*c == '\0') return 1;
            part = c + 1;
        } else if (!name_char(*c)) {
            return 0;
        }
    }
}

int hub__valid_etag(const char *etag) {
    size_t n = etag ? strlen(etag) : 0;
    if (n == 0 || n > 128 || etag[0] == '.') return 0;
    for (size_t i = 0; i < n; i++)
        if (!name_char(etag[i])) return 0;
    return 1;
}

/* A revision becomes refs/<revision>: "main", "v1.0", "refs/pr/1" are fine, ".." is not. */
static int valid_revision(const char *rev) { return hub__valid_name(rev); }

static int env_true(const char *name) {
    const char *v = getenv(name);
    if (!v) return 0;
    return !strcasecmp(v, "1") || !strcasecmp(v, "on") || !strcasecmp(v, "yes") || !strcasecmp(v, "true");
}

static const char *env_nonempty(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static const char *home_dir(void) {
    const char *h = env_nonempty("HOME");
    if (h) return h;
    struct passwd *pw = getpwuid(getuid());
    return pw && pw->pw_dir ? pw->pw_dir : "/";
}

/* "~/x" -> "$HOME/x", as huggingface_hub's expanduser does. */
static char *expand_home(const char *path) {
    if (path[0] == '~' && (path[1] == '/' || path[1] == '\0'))
        return path[1] ? hub__join(home_dir(), path + 2, (char *)NULL) : strdup(home_dir());
    return strdup(path);
}

/* HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
static char *hf_home(void) {
    const char *v = env_nonempty("HF_HOME");
    if (v) return expand_home(v);
    const char *xdg = env_nonempty("XDG_CACHE_HOME");
    char *base = xdg ? expand_home(xdg) : hub__join(home_dir(), ".cache", (char *)NULL);
    char *out = base ? hub__join(base, "huggingface", (char *)NULL) : NULL;
    free(base);
    return out;
}

char *vs2_hub_cache_dir(const vs2_hub_params *params) {
    if (params && params->cache_dir && *params->cache_dir) return expand_home(params->cache_dir);
    const char *v = env_nonempty("HF_HUB_CACHE");
    if (!v) v = env_nonempty("HUGGINGFACE_HUB_CACHE"); /* the legacy name */
    if (v) return expand_home(v);
    char *home = hf_home();
    char *out = home ? hub__join(home, "hub", (char *)NULL) : NULL;
    free(home);
    return out;
}

/* Strip whitespace and line breaks like huggingface_hub; NULL if nothing is left. */
static char *clean_token(const char *t) {
    if (!t) return NULL;
    while (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n') t++;
    size_t n = strcspn(t, "\r\n");
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t')) n--;
    return n ? strndup(t, n) : NULL;
}

/* HF_TOKEN, the legacy HUGGING_FACE_HUB_TOKEN, then $HF_TOKEN_PATH or $HF_HOME/token. */
static void find_token(hub_ctx *h) {
    static const char *const ENV[] = {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"};
    if (h->p->token) {
        h->token = clean_token(h->p->token);
        h->token_source = "the token given";
        return;
    }
    for (size_t i = 0; i < 2; i++)
        if ((h->token = clean_token(env_nonempty(ENV[i])))) {
            h->token_source = ENV[i];
            return;
        }
    const char *tp = env_nonempty("HF_TOKEN_PATH");
    char *home = tp ? NULL : hf_home();
    char *path = tp ? expand_home(tp) : home ? hub__join(home, "token", (char *)NULL) : NULL;
    free(home);
    char *text = NULL;
    size_t len = 0;
    if (path && vs2__read_file(path, 4096, &text, &len, NULL) == VS2_OK) {
        h->token = clean_token(text);
        h->token_source = "the token file";
    }
    free(text);
    free(path);
}

static long env_seconds(const char *name, long fallback) {
    const char *v = env_nonempty(name);
    if (!v) return fallback;
    char *end;
    double d = strtod(v, &end);
    return end != v && d >= 1 && d < 86400 ? (long)d : fallback;
}

vs2_status hub__ctx_init(hub_ctx *h, const char *repo_id, const vs2_hub_params *p, vs2_error *err) {
    memset(h, 0, sizeof *h);
    h->p = p;
    h->err = err;
    h->revision = p->revision && *p->revision ? p->revision : "main";
    if (!valid_revision(h->revision))
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "'%s' is not a valid revision", h->revision);
    h->offline = p->offline || env_true("HF_HUB_OFFLINE") || env_true("TRANSFORMERS_OFFLINE");
    const char *ep = p->endpoint ? p->endpoint : env_nonempty("HF_ENDPOINT");
    h->endpoint = strdup(ep ? ep : "https://huggingface.co");
    h->repo_id = strdup(repo_id);
    h->cache = vs2_hub_cache_dir(p);
    if (!h->endpoint || !h->repo_id || !h->cache) return vs2__fail(err, VS2_ERR_NOMEM, "out of memory");
    for (size_t n = strlen(h->endpoint); n > 0 && h->endpoint[n - 1] == '/'; n--) h->endpoint[n - 1] = '\0';
    /* models--owner--name: '/' becomes "--" (ids never hold "--" themselves) */
    char folder[128 + 8] = "models--";
    for (const char *c = repo_id; *c; c++) {
        size_t n = strlen(folder);
        if (*c == '/') memcpy(folder + n, "--", 3);
        else folder[n] = *c, folder[n + 1] = '\0';
    }
    h->repo_dir = hub__join(h->cache, folder, (char *)NULL);
    h->locks_dir = hub__join(h->cache, ".locks", folder, (char *)NULL);
    if (!h->repo_dir || !h->locks_dir) return vs2__fail(err, VS2_ERR_NOMEM, "out of memory");
    find_token(h);
    h->stall_s = p->stall_seconds > 0 ? p->stall_seconds : env_seconds("HF_HUB_DOWNLOAD_TIMEOUT", 10);
    h->meta_timeout_s = env_seconds("HF_HUB_ETAG_TIMEOUT", 10);
    h->max_retries = p->max_retries >= 0 ? p->max_retries : 5;
    h->retry_delay_ms = p->retry_delay_ms > 0 ? p->retry_delay_ms : 1000;
    h->prefetched = -1;
    return VS2_OK;
}

vs2_status hub__mkdirs(const char *dir, vs2_error *err) {
    char *tmp = strdup(dir);
    if (!tmp) return vs2__fail(err, VS2_ERR_NOMEM, "out of memory");
    for (char *c = tmp + 1;; c++) {
        if (*c != '/' && *c != '\0') continue;
        char saved = *c;
        *c = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            vs2__fail(err, VS2_ERR_IO, "cannot create directory %s: %s", tmp, strerror(e));
            free(tmp);
            return VS2_ERR_IO;
        }
        if (!saved) break;
        *c = saved;
    }
    free(tmp);
    return VS2_OK;
}

static char *parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
}

char *hub__read_ref(const hub_ctx *h, const char *revision) {
    if (hub__is_commit(revision)) return strdup(revision);
    char *path = hub__join(h->repo_dir, "refs", revision, (char *)NULL);
    char *text = NULL;
    size_t len = 0;
    vs2_status s = path ? vs2__read_file(path, 256, &text, &len, NULL) : VS2_ERR_NOMEM;
    free(path);
    if (s != VS2_OK) return NULL;
    text[strcspn(text, " \r\n")] = '\0';
    if (!hub__is_commit(text)) {
        free(text);
        return NULL;
    }
    return text;
}

/* Write data to path through a temporary file and rename, so readers never see half of it. */
static vs2_status write_atomic(const char *path, const char *data, vs2_error *err) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return vs2__fail(err, VS2_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    size_t n = strlen(data);
    int bad = fwrite(data, 1, n, f) != n;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return vs2__fail(err, VS2_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    return VS2_OK;
}

vs2_status hub__write_ref(const hub_ctx *h, const char *revision, const char *commit) {
    if (!strcmp(revision, commit)) return VS2_OK; /* a commit needs no ref, as in huggingface_hub */
    char *old = hub__read_ref(h, revision);
    int same = old && !strcmp(old, commit);
    free(old);
    if (same) return VS2_OK; /* leave a read-only cache alone when nothing changes */
    char *path = hub__join(h->repo_dir, "refs", revision, (char *)NULL);
    char *dir = path ? parent_dir(path) : NULL;
    vs2_status s = dir ? hub__mkdirs(dir, h->err) : vs2__fail(h->err, VS2_ERR_NOMEM, "out of memory");
    if (s == VS2_OK) s = write_atomic(path, commit, h->err);
    free(dir);
    free(path);
    return s;
}

char *hub__snapshot_dir(const hub_ctx *h, const char *commit) {
    return hub__join(h->repo_dir, "snapshots", commit, (char *)NULL);
}

int hub__snapshot_has(const hub_ctx *h, const char *commit, const char *file, int64_t size) {
    char *path = hub__join(h->repo_dir, "snapshots", commit, file, (char *)NULL);
    struct stat st;
    int ok = path && stat(path, &st) == 0 && S_ISREG(st.st_mode) && (size < 0 || st.st_size == size);
    free(path);
    return ok;
}

/* The target of snapshots/<commit>/<file>: one "../" per directory below the repo folder. */
static char *blob_target(const char *file, const char *etag) {
    size_t depth = 2;
    for (const char *c = file; *c; c++) depth += *c == '/';
    size_t len = depth * 3 + strlen("blobs/") + strlen(etag) + 1;
    char *t = malloc(len);
    if (!t) return NULL;
    t[0] = '\0';
    for (size_t i = 0; i < depth; i++) strcat(t, "../");
    strcat(t, "blobs/");
    strcat(t, etag);
    return t;
}

vs2_status hub__link(const hub_ctx *h, const char *commit, const char *file, const char *etag) {
    char *path = hub__join(h->repo_dir, "snapshots", commit, file, (char *)NULL);
    char *dir = path ? parent_dir(path) : NULL;
    char *target = blob_target(file, etag);
    char tmp[4096];
    vs2_status s = dir && target ? hub__mkdirs(dir, h->err)
                                 : vs2__fail(h->err, VS2_ERR_NOMEM, "out of memory");
    if (s == VS2_OK) {
        snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
        unlink(tmp);
        /* symlink + rename: a reader sees the old link or the new one, never none */
        if (symlink(target, tmp) != 0 || rename(tmp, path) != 0) {
            int e = errno;
            unlink(tmp);
            s = vs2__fail(h->err, VS2_ERR_IO, "cannot link %s -> %s: %s", path, target, strerror(e));
        }
    }
    free(target);
    free(dir);
    free(path);
    return s;
}

void hub__mark_no_exist(const hub_ctx *h, const char *commit, const char *file) {
    char *path = hub__join(h->repo_dir, ".no_exist", commit, file, (char *)NULL);
    char *dir = path ? parent_dir(path) : NULL;
    if (dir && hub__mkdirs(dir, NULL) == VS2_OK) {
        FILE *f = fopen(path, "ab"); /* an empty marker; failure only costs a request later */
        if (f) fclose(f);
    }
    free(dir);
    free(path);
}

void hub__free_names(char **names, size_t n) {
    for (size_t i = 0; names && i < n; i++) free(names[i]);
    free(names);
}

/* Add name to the set unless it is there already. */
static int add_unique(char ***names, size_t *n, const char *name) {
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*names)[i], name)) return 1;
    char **p = realloc(*names, (*n + 1) * sizeof *p);
    if (!p) return 0;
    *names = p;
    if (!(p[*n] = strdup(name))) return 0;
    (*n)++;
    return 1;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

vs2_status hub__index_shards(const char *index_path, char ***names, size_t *n, vs2_error *err) {
    *names = NULL;
    *n = 0;
    json_error_t je;
    json_t *root = json_load_file(index_path, 0, &je);
    json_t *map = root ? json_object_get(root, "weight_map") : NULL;
    if (!json_is_object(map)) {
        json_decref(root);
        return vs2__fail(err, VS2_ERR_FORMAT, "%s: no \"weight_map\" object%s%s", index_path,
                         root ? "" : ": ", root ? "" : je.text);
    }
    const char *key;
    json_t *v;
    vs2_status s = VS2_OK;
    json_object_foreach(map, key, v) {
        const char *shard = json_string_value(v);
        if (!shard || !hub__valid_name(shard)) {
            s = vs2__fail(err, VS2_ERR_FORMAT, "%s: tensor '%s' names an unusable shard file",
                          index_path, key);
            break;
        }
        if (!add_unique(names, n, shard)) {
            s = vs2__fail(err, VS2_ERR_NOMEM, "out of memory");
            break;
        }
    }
    json_decref(root);
    if (s == VS2_OK) qsort(*names, *n, sizeof **names, cmp_names); /* download shards in order */
    if (s == VS2_OK && *n == 0) s = vs2__fail(err, VS2_ERR_FORMAT, "%s: empty weight_map", index_path);
    if (s != VS2_OK) {
        hub__free_names(*names, *n);
        *names = NULL;
        *n = 0;
    }
    return s;
}

/* Append ", name" to a growing list. */
static int list_add(char **list, const char *name) {
    size_t old = *list ? strlen(*list) : 0;
    char *p = realloc(*list, old + strlen(name) + 3);
    if (!p) return 0;
    if (old) strcat(p, ", ");
    else p[0] = '\0';
    strcat(p, name);
    *list = p;
    return 1;
}

char *hub__snapshot_missing(const hub_ctx *h, const char *commit, int *complete) {
    char *missing = NULL;
    int ok = 1;
    for (size_t i = 0; i < sizeof REQUIRED_FILES / sizeof REQUIRED_FILES[0]; i++)
        if (!hub__snapshot_has(h, commit, REQUIRED_FILES[i], -1))
            ok &= list_add(&missing, REQUIRED_FILES[i]);
    if (hub__snapshot_has(h, commit, INDEX_NAME, -1)) {
        char *index = hub__join(h->repo_dir, "snapshots", commit, INDEX_NAME, (char *)NULL);
        char **shards = NULL;
        size_t n = 0;
        if (index && hub__index_shards(index, &shards, &n, NULL) == VS2_OK) {
            for (size_t i = 0; i < n; i++)
                if (!hub__snapshot_has(h, commit, shards[i], -1)) ok &= list_add(&missing, shards[i]);
        } else {
            ok &= list_add(&missing, "a readable model.safetensors.index.json");
        }
        hub__free_names(shards, n);
        free(index);
    } else if (!hub__snapshot_has(h, commit, SINGLE_WEIGHTS, -1)) {
        ok &= list_add(&missing, "model.safetensors.index.json (or model.safetensors) and the weights");
    }
    *complete = ok && !missing;
    if (!ok && !missing) missing = strdup("(out of memory)");
    return missing;
}

void hub__fmt_bytes(int64_t n, char *buf, size_t len) {
    static const char *const UNIT[] = {"B", "kB", "MB", "GB", "TB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1000 && u < 4) v /= 1000, u++;
    if (u == 0) snprintf(buf, len, "%lld B", (long long)n);
    else snprintf(buf, len, "%.1f %s", v, UNIT[u]);
}

void hub__ctx_free(hub_ctx *h) {
    hub__http_cleanup(h);
    free(h->repo_id);
    free(h->cache);
    free(h->repo_dir);
    free(h->locks_dir);
    free(h->endpoint);
    free(h->token);
    memset(h, 0, sizeof *h);
}
