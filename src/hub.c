/* hub.c — vs2_hub_resolve: a model id becomes a directory. A complete snapshot in the Hugging
 * Face cache is used without any network access; otherwise the hub's model info names the
 * commit and the files, the size of the download is announced, and each missing file is
 * fetched into the cache (hub_http.c) and linked into snapshots/<commit>/. */
#include "hub_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* What the engine reads, in download order; the weights come from the index. Optional files
 * may be absent from a repo. */
static const struct { const char *name; int required; } WANTED[] = {
    {"config.json", 1},           {"generation_config.json", 0},
    {"tokenizer.json", 1},        {"tokenizer_config.json", 0},
    {"preprocessor_config.json", 0}, {"video_preprocessor_config.json", 0},
    {"chat_template.json", 0},    {"chat_template.jinja", 0},
};
static const char INDEX_NAME[] = "model.safetensors.index.json";
static const char SINGLE_WEIGHTS[] = "model.safetensors";

vs2_hub_params vs2_hub_default_params(void) {
    vs2_hub_params p;
    memset(&p, 0, sizeof p);
    p.max_retries = 5;
    p.retry_delay_ms = 1000;
    return p;
}

/* ---- the repo's files, from the model-info API ----------------------------------------- */

typedef struct file_list {
    hub_file *f;
    size_t n;
} file_list;

static void files_free(file_list *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->f[i].name);
        free(l->f[i].sha256);
        free(l->f[i].blob_id);
        free(l->f[i].etag);
    }
    free(l->f);
    memset(l, 0, sizeof *l);
}

static const hub_file *files_find(const file_list *l, const char *name) {
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->f[i].name, name)) return &l->f[i];
    return NULL;
}

static char *dup_lower_hex(const char *s, size_t n) {
    if (!s || strlen(s) != n) return NULL;
    char *d = strdup(s);
    for (char *c = d; c && *c; c++) *c = (char)(*c >= 'A' && *c <= 'F' ? *c - 'A' + 'a' : *c);
    if (d && !hub__is_hex(d, n)) {
        free(d);
        return NULL;
    }
    return d;
}

/* One sibling entry: {"rfilename", "size", "blobId", "lfs": {"sha256", "size"}}. Names that
 * could not be cache paths are skipped: the engine never needs them. */
static int add_sibling(file_list *l, json_t *s) {
    const char *name = json_string_value(json_object_get(s, "rfilename"));
    if (!name || !hub__valid_name(name)) return 1;
    hub_file *p = realloc(l->f, (l->n + 1) * sizeof *p);
    if (!p) return 0;
    l->f = p;
    hub_file *f = &p[l->n++];
    memset(f, 0, sizeof *f);
    json_t *lfs = json_object_get(s, "lfs");
    json_t *size = json_object_get(s, "size");
    if (!json_is_integer(size)) size = json_object_get(lfs, "size");
    f->size = json_is_integer(size) ? (int64_t)json_integer_value(size) : -1;
    f->name = strdup(name);
    f->blob_id = dup_lower_hex(json_string_value(json_object_get(s, "blobId")), 40);
    f->sha256 = dup_lower_hex(json_string_value(json_object_get(lfs, "sha256")), 64);
    return f->name != NULL;
}

/* GET /api/models/{repo}/revision/{rev}?blobs=true: the commit and the file list. */
static vs2_status model_info(hub_ctx *h, char **commit, file_list *files) {
    char *rev = hub__escape(h, h->revision, 0);
    char *url = rev ? hub__join(h->endpoint, "api/models", h->repo_id, "revision", rev, (char *)NULL) : NULL;
    char *full = url ? malloc(strlen(url) + 16) : NULL;
    free(rev);
    if (!full) {
        free(url);
        return vs2__fail(h->err, VS2_ERR_NOMEM, "out of memory");
    }
    sprintf(full, "%s?blobs=true", url);
    free(url);
    hub_resp r = {0};
    vs2_status s = hub__request(h, "GET", full, &r);
    free(full);
    char what[256];
    snprintf(what, sizeof what, "%s (revision %s)", h->repo_id, h->revision);
    if (s == VS2_OK && r.status != 200) s = hub__http_fail(h, &r, what);
    json_error_t je;
    json_t *root = s == VS2_OK ? json_loadb(r.body ? r.body : "", r.body_len, 0, &je) : NULL;
    hub__resp_free(&r);
    if (s != VS2_OK) return s;
    const char *sha = json_string_value(json_object_get(root, "sha"));
    json_t *sib = json_object_get(root, "siblings");
    if (!hub__is_commit(sha) || !json_is_array(sib)) {
        json_decref(root);
        return vs2__fail(h->err, VS2_ERR_FORMAT, "%s: the hub's model info has no commit or file list; is "
                         "HF_ENDPOINT (%s) a Hugging Face hub?", what, h->endpoint);
    }
    *commit = strdup(sha);
    size_t i;
    json_t *v;
    int ok = *commit != NULL;
    json_array_foreach(sib, i, v) ok = ok && add_sibling(files, v);
    json_decref(root);
    return ok ? VS2_OK : vs2__fail(h->err, VS2_ERR_NOMEM, "out of memory");
}

/* ---- one file: HEAD for the etag, the blob, the snapshot link --------------------------- */

static char *normalize_etag(const char *e) {
    if (!e) return NULL;
    if (!strncmp(e, "W/", 2)) e += 2;
    size_t n = strlen(e);
    if (n >= 2 && e[0] == '"' && e[n - 1] == '"') return strndup(e + 1, n - 2);
    return strdup(e);
}

/* HEAD the file at the commit, following the hub's own relative redirects (a renamed repo)
 * but not the one to the CDN: its Location is not needed, only the linked etag and size. */
static vs2_status head_file(hub_ctx *h, const char *commit, hub_file *f, char **url_out) {
    char *url = hub__resolve_url(h, commit, f->name);
    hub_resp r = {0};
    vs2_status s = url ? VS2_OK : vs2__fail(h->err, VS2_ERR_NOMEM, "out of memory");
    for (int hops = 0; s == VS2_OK; hops++) {
        if ((s = hub__request(h, "HEAD", url, &r)) != VS2_OK) break;
        if (r.status < 300 || r.status >= 400 || !r.location || r.location[0] != '/' || hops >= 3) break;
        char *next = hub__absolute_url(h, r.location);
        if (!next) s = vs2__fail(h->err, VS2_ERR_NOMEM, "out of memory");
        free(url);
        url = next;
    }
    if (s == VS2_OK && r.status >= 400) s = hub__http_fail(h, &r, f->name);
    if (s == VS2_OK) {
        char *etag = normalize_etag(r.linked_etag ? r.linked_etag : r.etag);
        int64_t size = r.linked_size >= 0 ? r.linked_size : r.status < 300 ? r.content_length : -1;
        if (!r.commit || strcmp(r.commit, commit))
            s = vs2__fail(h->err, VS2_ERR_FORMAT, "%s: the hub's answer has no X-Repo-Commit %s; a proxy or "
                          "HF_ENDPOINT (%s) that is not a Hugging Face hub?", f->name, commit, h->endpoint);
        else if (!hub__valid_etag(etag))
            s = vs2__fail(h->err, VS2_ERR_FORMAT, "%s: the hub sent no usable ETag", f->name);
        else if (size < 0 || (f->size >= 0 && size != f->size))
            s = vs2__fail(h->err, VS2_ERR_FORMAT, "%s: the hub reports sizes %lld and %lld for the file",
                          f->name, (long long)size, (long long)f->size);
        else if (f->sha256 && hub__is_hex(etag, 64) && strcmp(f->sha256, etag))
            s = vs2__fail(h->err, VS2_ERR_FORMAT, "%s: the hub's model info (sha256 %s) and its file "
                          "metadata (etag %s) disagree", f->name, f->sha256, etag);
        if (s == VS2_OK) {
            free(f->etag);
            f->etag = etag;
            f->size = size;
            etag = NULL;
        }
        free(etag);
    }
    hub__resp_free(&r);
    if (s == VS2_OK) *url_out = url;
    else free(url);
    return s;
}

static vs2_status fetch_file(hub_ctx *h, const char *commit, hub_file *f) {
    char *url = NULL;
    vs2_status s = head_file(h, commit, f, &url);
    if (s == VS2_OK) s = hub__download_blob(h, f, url);
    if (s == VS2_OK) s = hub__link(h, commit, f->name, f->etag);
    free(url);
    return s;
}

/* ---- the plan: which files, how much, then fetch ---------------------------------------- */

static vs2_status add_planned(hub_ctx *h, const file_list *all, const char *name, file_list *plan) {
    const hub_file *src = files_find(all, name);
    if (!src)
        return vs2__fail(h->err, VS2_ERR_MODEL, "%s (revision %s) has no %s", h->repo_id, h->revision, name);
    if (files_find(plan, name)) return VS2_OK;
    hub_file *p = realloc(plan->f, (plan->n + 1) * sizeof *p);
    if (!p) return vs2__fail(h->err, VS2_ERR_NOMEM, "out of memory");
    plan->f = p;
    hub_file *f = &p[plan->n];
    memset(f, 0, sizeof *f);
    f->name = strdup(name);
    f->size = src->size;
    f->sha256 = src->sha256 ? strdup(src->sha256) : NULL;
    f->blob_id = src->blob_id ? strdup(src->blob_id) : NULL;
    plan->n++;
    return f->name ? VS2_OK : vs2__fail(h->err, VS2_ERR_NOMEM, "out of memory");
}

/* The files to have in the snapshot: the wanted ones the repo holds, the index and its shards
 * (the index is fetched first to learn them), or model.safetensors. */
static vs2_status make_plan(hub_ctx *h, const char *commit, const file_list *all, file_list *plan) {
    vs2_status s = VS2_OK;
    for (size_t i = 0; s == VS2_OK && i < sizeof WANTED / sizeof WANTED[0]; i++) {
        if (WANTED[i].required || files_find(all, WANTED[i].name)) s = add_planned(h, all, WANTED[i].name, plan);
        else hub__mark_no_exist(h, commit, WANTED[i].name);
    }
    if (s != VS2_OK) return s;
    if (!files_find(all, INDEX_NAME)) {
        if (!files_find(all, SINGLE_WEIGHTS))
            return vs2__fail(h->err, VS2_ERR_MODEL, "%s (revision %s) has no safetensors weights (neither %s "
                             "nor %s)", h->repo_id, h->revision, INDEX_NAME, SINGLE_WEIGHTS);
        return add_planned(h, all, SINGLE_WEIGHTS, plan);
    }
    if ((s = add_planned(h, all, INDEX_NAME, plan)) != VS2_OK) return s;
    hub_file *index = &plan->f[plan->n - 1];
    if (!hub__snapshot_has(h, commit, INDEX_NAME, index->size)) {
        h->quiet_progress = 1; /* progress starts with the announcement */
        s = fetch_file(h, commit, index);
        h->quiet_progress = 0;
        if (s != VS2_OK) return s;
        h->prefetched = index->size;
    }
    char *path = hub__join(h->repo_dir, "snapshots", commit, INDEX_NAME, (char *)NULL);
    char **shards = NULL;
    size_t n = 0;
    s = path ? hub__index_shards(path, &shards, &n, h->err) : vs2__fail(h->err, VS2_ERR_NOMEM, "out of memory");
    for (size_t i = 0; s == VS2_OK && i < n; i++) s = add_planned(h, all, shards[i], plan);
    hub__free_names(shards, n);
    free(path);
    return s;
}

/* One line before the download: what, how much, where. */
static void announce(hub_ctx *h, const char *commit, const file_list *plan, size_t n_todo, int64_t todo) {
    int64_t all = 0;
    if (h->prefetched >= 0) n_todo++, todo += h->prefetched; /* this call fetched the index too */
    for (size_t i = 0; i < plan->n; i++) all += plan->f[i].size > 0 ? plan->f[i].size : 0;
    char a[32], b[32];
    hub__fmt_bytes(todo, a, sizeof a);
    hub__fmt_bytes(all, b, sizeof b);
    if (n_todo == plan->n)
        hub__log(h, 2, "downloading %s (revision %s, commit %.7s): %zu files, %s, into %s", h->repo_id,
                 h->revision, commit, plan->n, a, h->cache);
    else
        hub__log(h, 2, "downloading %s (revision %s, commit %.7s): %zu of %zu files, %s of %s, into %s",
                 h->repo_id, h->revision, commit, n_todo, plan->n, a, b, h->cache);
}

static vs2_status check_space(hub_ctx *h, int64_t need) {
    int64_t free_bytes = hub__free_space(h->repo_dir);
    if (free_bytes < 0 || free_bytes >= need) return VS2_OK;
    char a[32], b[32];
    hub__fmt_bytes(need, a, sizeof a);
    hub__fmt_bytes(free_bytes, b, sizeof b);
    return vs2__fail(h->err, VS2_ERR_IO, "disk full: the download needs %s but only %s is free in %s; free "
                     "some space or set HF_HUB_CACHE to a larger disk", a, b, h->cache);
}

static vs2_status fetch_plan(hub_ctx *h, const char *commit, file_list *plan) {
    size_t n_todo = 0;
    int64_t todo = 0;
    for (size_t i = 0; i < plan->n; i++) {
        if (hub__snapshot_has(h, commit, plan->f[i].name, plan->f[i].size)) continue;
        n_todo++;
        todo += plan->f[i].size > 0 ? plan->f[i].size : 0;
    }
    if (n_todo == 0) return VS2_OK;
    announce(h, commit, plan, n_todo, todo);
    vs2_status s = hub__mkdirs(h->repo_dir, h->err);
    if (s == VS2_OK) s = check_space(h, todo);
    int pre = h->prefetched >= 0; /* the index, fetched before: file 1 of the progress */
    h->n_files = (int)n_todo + pre;
    h->file_index = pre;
    h->done = pre ? h->prefetched : 0;
    h->total = todo + h->done;
    for (size_t i = 0; s == VS2_OK && i < plan->n; i++) {
        hub_file *f = &plan->f[i];
        if (hub__snapshot_has(h, commit, f->name, f->size)) continue;
        h->file_index++;
        s = fetch_file(h, commit, f);
        h->done += f->size;
    }
    return s;
}

/* ---- resolve ---------------------------------------------------------------------------- */

static vs2_status offline_fail(hub_ctx *h, const char *commit, const char *missing) {
    char where[1024];
    if (!commit)
        snprintf(where, sizeof where, "is not in the Hugging Face cache %s (no refs/%s under %s)", h->cache,
                 h->revision, h->repo_dir);
    else
        snprintf(where, sizeof where, "is only partly in the Hugging Face cache %s: snapshot %.12s lacks %s",
                 h->cache, commit, missing ? missing : "files");
    return vs2__fail(h->err, VS2_ERR_IO, "%s (revision %s) %s; offline mode (--offline or HF_HUB_OFFLINE) "
                     "does not download: with network access run `vs2 download %s%s%s`, or "
                     "`hf download %s` (formerly `huggingface-cli download`); a model directory elsewhere "
                     "is used with --model DIR", h->repo_id, h->revision, where,
                     h->repo_id, strcmp(h->revision, "main") ? " --revision " : "",
                     strcmp(h->revision, "main") ? h->revision : "", h->repo_id);
}

static vs2_status snapshot_out(hub_ctx *h, const char *commit, char **out) {
    *out = hub__snapshot_dir(h, commit);
    return *out ? VS2_OK : vs2__fail(h->err, VS2_ERR_NOMEM, "out of memory");
}

/* Ask the hub, download what is missing, point refs/<revision> at the commit. When the hub
 * cannot be asked but a complete snapshot is cached, that snapshot is used (with a warning),
 * as huggingface_hub does. */
static vs2_status download(hub_ctx *h, const char *cached, int cached_complete, char **out) {
    char *commit = NULL;
    file_list all = {0}, plan = {0};
    int retries = h->max_retries;
    if (cached_complete) h->max_retries = 0; /* fall back to the cache at once, as huggingface_hub does */
    vs2_status s = model_info(h, &commit, &all);
    h->max_retries = retries;
    if (s != VS2_OK && cached_complete && h->err && strstr(h->err->message, "HTTP 404") == NULL) {
        hub__log(h, 1, "%s; using the cached snapshot %.12s", h->err->message, cached);
        vs2__ok(h->err);
        files_free(&all);
        return snapshot_out(h, cached, out);
    }
    if (s == VS2_OK) s = make_plan(h, commit, &all, &plan);
    if (s == VS2_OK) s = fetch_plan(h, commit, &plan);
    if (s == VS2_OK) s = hub__write_ref(h, h->revision, commit);
    if (s == VS2_OK) {
        int complete = 0;
        char *missing = hub__snapshot_missing(h, commit, &complete);
        if (!complete)
            s = vs2__fail(h->err, VS2_ERR_IO, "%s: snapshot %s still lacks %s after the download", h->repo_id,
                          commit, missing ? missing : "files");
        free(missing);
    }
    if (s == VS2_OK) s = snapshot_out(h, commit, out);
    files_free(&all);
    files_free(&plan);
    free(commit);
    return s;
}

static vs2_status resolve_repo(hub_ctx *h, char **out) {
    char *commit = hub__read_ref(h, h->revision);
    int complete = 0;
    char *missing = commit ? hub__snapshot_missing(h, commit, &complete) : NULL;
    vs2_status s;
    if (commit && complete && (!h->p->check_hub || h->offline)) s = snapshot_out(h, commit, out);
    else if (h->offline) s = offline_fail(h, commit, missing);
    else s = download(h, commit, complete, out);
    free(missing);
    free(commit);
    return s;
}

/* A path, as opposed to a repo id: absolute, relative with ./ or ~, or deeper than owner/name. */
static int looks_like_path(const char *m) {
    const char *slash = strchr(m, '/');
    return m[0] == '/' || m[0] == '.' || m[0] == '~' || (slash && (strchr(slash + 1, '/') || !slash[1]));
}

vs2_status vs2_hub_resolve(const char *model, const vs2_hub_params *params, char **path_out,
                           vs2_error *err) {
    vs2__ok(err);
    if (!path_out) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_hub_resolve: path_out is NULL");
    *path_out = NULL;
    vs2_hub_params defaults = vs2_hub_default_params();
    if (!params) params = &defaults;
    if (!model || !*model) model = VS2_DEFAULT_MODEL;
    struct stat st;
    if (stat(model, &st) == 0 && S_ISDIR(st.st_mode)) {
        *path_out = strdup(model);
        return *path_out ? VS2_OK : vs2__fail(err, VS2_ERR_NOMEM, "out of memory");
    }
    if (looks_like_path(model))
        return vs2__fail(err, VS2_ERR_IO, "%s: no such model directory", model);
    if (!hub__valid_repo_id(model))
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "'%s' is neither a directory nor a Hugging Face repo id "
                         "(owner/name)", model);
    hub_ctx h;
    vs2_status s = hub__ctx_init(&h, model, params, err);
    if (s == VS2_OK) s = resolve_repo(&h, path_out);
    hub__ctx_free(&h);
    return s;
}
