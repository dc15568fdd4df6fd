/* results.c — result files: vs2's JSONL (one object per video) and the reference's JSON list
 * (items with v/t/p_score_model, *_score_gt, output). Both become vs2_result_item. */
#include "eval_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RESULTS_MAX_BYTES ((size_t)1 << 32)

typedef struct rctx {
    const char *name;
    vs2_results *r;
    size_t cap;
    vs2_error *err;
    int oom;
} rctx;

static void nan3(double *v) {
    for (int d = 0; d < VS2_NDIMS; d++) v[d] = NAN;
}

void vs2_results_free(vs2_results *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        vs2_result_item *it = &r->items[i];
        free(it->id), free(it->video), free(it->prompt);
        free(it->rationale), free(it->output), free(it->error);
        for (size_t k = 0; k < it->n_thumbnails; k++) free(it->thumbnails[k]);
        free(it->thumbnails);
    }
    free(r->items);
    memset(r, 0, sizeof *r);
}

static vs2_result_item *push(rctx *c, int line) {
    if (c->r->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        vs2_result_item *p = realloc(c->r->items, cap * sizeof *p);
        if (!p) {
            c->oom = 1;
            return NULL;
        }
        c->r->items = p;
        c->cap = cap;
    }
    vs2_result_item *it = &c->r->items[c->r->n++];
    memset(it, 0, sizeof *it);
    nan3(it->model), nan3(it->hard), nan3(it->robust), nan3(it->soft);
    nan3(it->soft_expected), nan3(it->human);
    it->human_overall = NAN;
    it->line = line;
    return it;
}

static vs2_status bad(rctx *c, int line, const char *key) {
    return vs2__fail(c->err, VS2_ERR_FORMAT, "%s:%d: '%s' is not a number or null", c->name, line, key);
}

/* A vs2 score object {"visual_quality": x, ...}; absent -> all NAN, returns 1 if present. */
static vs2_status dims_object(rctx *c, const json_t *o, const char *key, int line, double *out,
                              int *present) {
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return VS2_OK;
    if (!json_is_object(v))
        return vs2__fail(c->err, VS2_ERR_FORMAT, "%s:%d: '%s' is not an object", c->name, line, key);
    if (present) *present = 1;
    for (int d = 0; d < VS2_NDIMS; d++)
        if (!ev_json_score(json_object_get(v, ev_dim_keys[d]), &out[d])) return bad(c, line, key);
    return VS2_OK;
}

static char *text_of(rctx *c, const json_t *o, const char *k1, const char *k2) {
    const json_t *v = json_object_get(o, k1);
    if ((!v || json_is_null(v)) && k2) v = json_object_get(o, k2);
    return v && !json_is_null(v) ? ev_json_text(v, &c->oom) : NULL;
}

static vs2_status read_thumbnails(rctx *c, const json_t *o, vs2_result_item *it) {
    const json_t *a = json_object_get(o, "thumbnails");
    if (!json_is_array(a) || !json_array_size(a)) return VS2_OK;
    it->thumbnails = calloc(json_array_size(a), sizeof *it->thumbnails);
    if (!it->thumbnails) return vs2__fail(c->err, VS2_ERR_NOMEM, "%s: out of memory", c->name);
    size_t i;
    const json_t *s;
    json_array_foreach(a, i, s) {
        const char *u = json_string_value(s);
        /* only inline images are accepted: the report must not reach the network */
        if (!u || strncmp(u, "data:image/", 11)) continue;
        it->thumbnails[it->n_thumbnails] = ev_strdup(u, &c->oom);
        if (it->thumbnails[it->n_thumbnails]) it->n_thumbnails++;
    }
    return VS2_OK;
}

static vs2_status read_item(rctx *c, const json_t *o, int line) {
    static const char *const model_k[3] = {"v_score_model", "t_score_model", "p_score_model"};
    static const char *const gt_k[3] = {"v_score_gt", "t_score_gt", "p_score_gt"};
    if (!json_is_object(o))
        return vs2__fail(c->err, VS2_ERR_FORMAT, "%s:%d: expected a JSON object", c->name, line);
    vs2_result_item *it = push(c, line);
    if (!it) return vs2__fail(c->err, VS2_ERR_NOMEM, "%s: out of memory", c->name);
    it->id = text_of(c, o, "id", "video_name");
    it->video = text_of(c, o, "video", "video_path");
    if (!it->video) it->video = text_of(c, o, "video_url", NULL);
    it->prompt = text_of(c, o, "prompt", "caption");
    it->rationale = text_of(c, o, "rationale", NULL);
    it->output = text_of(c, o, "output", NULL);
    it->error = text_of(c, o, "error", NULL);
    if (it->error) c->r->n_errors++;
    int nkeys = 0;
    for (int d = 0; d < 3; d++) {
        const json_t *v = json_object_get(o, model_k[d]);
        if (v) nkeys++;
        if (!ev_json_score(v, &it->model[d])) return bad(c, line, model_k[d]);
        if (!ev_json_score(json_object_get(o, gt_k[d]), &it->human[d])) return bad(c, line, gt_k[d]);
    }
    it->has_model_keys = nkeys == 3;
    vs2_status st = dims_object(c, o, "scores", line, it->hard, &it->has_vs2_scores);
    if (!st) st = dims_object(c, o, "scores_robust", line, it->robust, NULL);
    if (!st) st = dims_object(c, o, "soft_scores", line, it->soft, &it->has_vs2_scores);
    if (!st) st = dims_object(c, o, "soft_scores_expected", line, it->soft_expected, NULL);
    double hs[3];
    int has_hs = 0;
    nan3(hs);
    if (!st) st = dims_object(c, o, "human_scores", line, hs, &has_hs);
    if (st) return st;
    if (has_hs)
        for (int d = 0; d < 3; d++) it->human[d] = hs[d];
    const char *ov = json_object_get(o, "total_score") ? "total_score" : "quality_score";
    if (!ev_json_score(json_object_get(o, ov), &it->human_overall)) return bad(c, line, ov);
    if (!it->id && it->video) it->id = ev_video_name(it->video, NULL, &c->oom);
    if (!it->id && !it->error)
        return vs2__fail(c->err, VS2_ERR_FORMAT, "%s:%d: item has no id, video_name or video",
                         c->name, line);
    st = read_thumbnails(c, o, it);
    if (!st && c->oom) st = vs2__fail(c->err, VS2_ERR_NOMEM, "%s: out of memory", c->name);
    return st;
}

static vs2_status parse_list(rctx *c, const char *s, size_t len) {
    json_error_t je;
    json_t *arr = json_loadb(s, len, 0, &je);
    if (!arr)
        return vs2__fail(c->err, VS2_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", c->name, je.line,
                         je.column, je.text);
    vs2_status st = VS2_OK;
    if (!json_is_array(arr))
        st = vs2__fail(c->err, VS2_ERR_FORMAT, "%s: expected a JSON list of items", c->name);
    size_t i;
    json_t *o;
    if (!st) json_array_foreach(arr, i, o) {
            if ((st = read_item(c, o, (int)i + 1))) break;
        }
    json_decref(arr);
    return st;
}

static vs2_status jsonl_item(void *ctx, json_t *o, int line) {
    return read_item(ctx, o, line);
}

static vs2_status parse_jsonl(rctx *c, const char *s, size_t len) {
    return ev_jsonl_foreach(s, len, c->name, jsonl_item, c, c->err);
}

/* ---- the per-video CSV table (`vs2 batch --csv`) ----------------------------------------- */

/* One RFC 4180 field from s[*pos] ("" escapes, newlines inside quotes); sets *eol at the end of
 * a record. Returns the malloc'd field, NULL on out of memory or an unterminated quote (*bad). */
static char *csv_field(const char *s, size_t len, size_t *pos, int *line, int *eol, int *bad) {
    ev_buf f = {0};
    size_t i = *pos;
    *eol = 0;
    if (i < len && s[i] == '"') {
        for (i++;; i++) {
            if (i >= len) {
                *bad = 1;
                ev_buf_free(&f);
                return NULL;
            }
            if (s[i] == '"' && i + 1 < len && s[i + 1] == '"') ev_buf_put(&f, "\"", 1), i++;
            else if (s[i] == '"') {
                i++;
                break;
            } else {
                if (s[i] == '\n') (*line)++;
                ev_buf_put(&f, s + i, 1);
            }
        }
    } else
        while (i < len && s[i] != ',' && s[i] != '\n' && s[i] != '\r') ev_buf_put(&f, s + i++, 1);
    if (i < len && s[i] == ',') i++;
    else {
        *eol = 1;
        if (i < len && s[i] == '\r') i++;
        if (i < len && s[i] == '\n') i++, (*line)++;
    }
    *pos = i;
    ev_buf_put(&f, "", 1);
    if (f.oom) {
        ev_buf_free(&f);
        return NULL;
    }
    return f.data;
}

/* Column names of the table: the vs2 JSONL key they come from, and the dimension (-1: text). */
static const struct {
    const char *prefix, *object;
} csv_groups[] = {{"", "scores"}, {"robust_", "scores_robust"}, {"soft_", "soft_scores"},
                  {"soft_expected_", "soft_scores_expected"}, {"human_", "human_scores"}};

/* Put one CSV cell into the JSON object a vs2 line would have; unknown columns are ignored. */
static int csv_cell(json_t *o, const char *col, const char *cell) {
    if (!strcmp(col, "id") || !strcmp(col, "video") || !strcmp(col, "prompt") || !strcmp(col, "error"))
        return *cell ? json_object_set_new(o, col, json_string(cell)) == 0 : 1;
    for (size_t g = sizeof csv_groups / sizeof *csv_groups; g-- > 0;) { /* longest prefix first */
        size_t pl = strlen(csv_groups[g].prefix);
        if (strncmp(col, csv_groups[g].prefix, pl)) continue;
        for (int d = 0; d < VS2_NDIMS; d++) {
            if (strcmp(col + pl, ev_dim_keys[d])) continue;
            json_t *obj = json_object_get(o, csv_groups[g].object);
            if (!obj) json_object_set_new(o, csv_groups[g].object, obj = json_object());
            if (!*cell) return json_object_set_new(obj, ev_dim_keys[d], json_null()) == 0;
            char *end;
            double v = strtod(cell, &end);
            if (*end) return -1;
            return json_object_set_new(obj, ev_dim_keys[d], json_real(v)) == 0;
        }
    }
    return 1;
}

static vs2_status parse_csv(rctx *c, const char *s, size_t len) {
    size_t pos = 0, ncol = 0, cap = 0;
    int line = 1, eol = 0, badq = 0;
    char **cols = NULL;
    vs2_status st = VS2_OK;
    if (len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) pos = 3;
    while (!eol && !st) { /* the header */
        char *f = csv_field(s, len, &pos, &line, &eol, &badq);
        if (!f) st = vs2__fail(c->err, badq ? VS2_ERR_FORMAT : VS2_ERR_NOMEM, "%s:1: %s", c->name,
                                badq ? "unterminated quote" : "out of memory");
        else if (ncol == cap) {
            char **p = realloc(cols, (cap = cap ? cap * 2 : 16) * sizeof *p);
            if (!p) free(f), st = vs2__fail(c->err, VS2_ERR_NOMEM, "%s: out of memory", c->name);
            else cols = p, cols[ncol++] = f;
        } else cols[ncol++] = f;
    }
    while (!st && pos < len) {
        int rec = line;
        json_t *o = json_object();
        for (size_t k = 0; !st; k++) {
            char *f = csv_field(s, len, &pos, &line, &eol, &badq);
            if (!f) {
                st = vs2__fail(c->err, badq ? VS2_ERR_FORMAT : VS2_ERR_NOMEM, "%s:%d: %s", c->name, rec,
                               badq ? "unterminated quote" : "out of memory");
                break;
            }
            int r = k < ncol && o ? csv_cell(o, cols[k], f) : 1;
            if (r < 0) st = vs2__fail(c->err, VS2_ERR_FORMAT, "%s:%d: column '%s': '%s' is not a number", c->name, rec, cols[k], f);
            free(f);
            if (eol) break;
        }
        if (!st && !o) st = vs2__fail(c->err, VS2_ERR_NOMEM, "%s: out of memory", c->name);
        if (!st && json_object_size(o)) st = read_item(c, o, rec);
        json_decref(o);
    }
    for (size_t k = 0; k < ncol; k++) free(cols[k]);
    free(cols);
    return st;
}

/* A table written by `vs2 batch --csv`: its header starts with the id column. */
static int is_csv_table(const char *s, size_t len) {
    if (len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) s += 3, len -= 3;
    return len >= 3 && !memcmp(s, "id,", 3);
}

vs2_status vs2_results_parse(const char *data, size_t len, const char *name, vs2_results *out,
                             vs2_error *err) {
    if (!out) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_results_parse: out is NULL");
    memset(out, 0, sizeof *out);
    if (!data) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_results_parse: data is NULL");
    rctx c = {.name = name ? name : "results", .r = out, .err = err};
    size_t i = 0;
    while (i < len && strchr(" \t\r\n", data[i])) i++;
    out->is_vs2 = !(i < len && data[i] == '[');
    vs2_status st = is_csv_table(data, len) ? parse_csv(&c, data, len)
                  : out->is_vs2            ? parse_jsonl(&c, data, len)
                                           : parse_list(&c, data, len);
    if (st) vs2_results_free(out);
    else vs2__ok(err);
    return st;
}

vs2_status vs2_results_load(const char *path, vs2_results *out, vs2_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_results_load: NULL argument");
    char *data = NULL;
    size_t len = 0;
    vs2_status st = vs2__read_file(path, RESULTS_MAX_BYTES, &data, &len, err);
    if (st) return st;
    st = vs2_results_parse(data, len, path, out, err);
    free(data);
    return st;
}

static int cmp_item_id(const void *a, const void *b) {
    const vs2_manifest_item *x = *(vs2_manifest_item *const *)a, *y = *(vs2_manifest_item *const *)b;
    return strcmp(x->id, y->id);
}

size_t vs2_results_join(vs2_results *r, const vs2_manifest *m) {
    if (!r || !m || !m->n_items) return 0;
    const vs2_manifest_item **idx = malloc(m->n_items * sizeof *idx);
    if (!idx) return 0;
    for (size_t i = 0; i < m->n_items; i++) idx[i] = &m->items[i];
    qsort(idx, m->n_items, sizeof *idx, cmp_item_id);
    size_t found = 0;
    for (size_t i = 0; i < r->n; i++) {
        vs2_result_item *it = &r->items[i];
        if (!it->id) continue;
        vs2_manifest_item key = {.id = it->id};
        const vs2_manifest_item *kp = &key, **hit = bsearch(&kp, idx, m->n_items, sizeof *idx, cmp_item_id);
        if (!hit) continue;
        found++;
        for (int d = 0; d < VS2_NDIMS; d++)
            if (!isnan((*hit)->human[d])) it->human[d] = (*hit)->human[d];
        if (!isnan((*hit)->human_overall)) it->human_overall = (*hit)->human_overall;
    }
    free(idx);
    return found;
}

double vs2_result_model_score(const vs2_result_item *it, int is_vs2, const char *method, int dim) {
    if (!it || dim < 0 || dim >= VS2_NDIMS) return NAN;
    if (!is_vs2 || !it->has_vs2_scores) return it->model[dim];
    if (!method) method = "vs2_float";
    if (!strcmp(method, "vs2") || !strcmp(method, "vs2_int")) return it->hard[dim];
    if (!strcmp(method, "vs2_robust")) return it->robust[dim];
    if (!strcmp(method, "vs2_float_weighted")) return it->soft_expected[dim];
    return it->soft[dim];
}
