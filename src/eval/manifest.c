/* manifest.c — the videos to score (and their human scores / preference pairs): vs2's JSONL
 * and CSV manifests and the native files of the paper's five benchmarks (docs/videoscore2-reference.md §3).
 * Which reference-loader quirks are reproduced is documented in docs/metrics.md. */
#include "eval_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MANIFEST_MAX_BYTES ((size_t)1 << 31)

typedef struct mctx {
    const char *name;
    unsigned flags;
    vs2_manifest *m;
    size_t cap_items, cap_pairs;
    vs2_error *err;
    int oom;
} mctx;

static const char *const format_names[] = {"auto",      "jsonl",          "csv",
                                           "vs2_bench", "videogen_reward_bench", "t2vqa_db",
                                           "mj_bench_video", "video_phy2_test"};

const char *vs2_manifest_format_name(vs2_manifest_format f) {
    if ((unsigned)f >= sizeof format_names / sizeof format_names[0]) return "?";
    return format_names[f];
}

int vs2_manifest_format_from_name(const char *name) {
    if (!name) return -1;
    for (size_t i = 0; i < sizeof format_names / sizeof format_names[0]; i++)
        if (!strcmp(name, format_names[i])) return (int)i;
    if (!strcmp(name, "vs2_test_sft_27k") || !strcmp(name, "json")) return VS2_MANIFEST_VS2_BENCH;
    if (!strcmp(name, "video_phy2") || !strcmp(name, "videophy2")) return VS2_MANIFEST_VIDEOPHY2;
    return -1;
}

static vs2_status oom_fail(mctx *c) {
    return vs2__fail(c->err, VS2_ERR_NOMEM, "%s: out of memory", c->name);
}

static void item_init(vs2_manifest_item *it, int line) {
    memset(it, 0, sizeof *it);
    for (int d = 0; d < VS2_NDIMS; d++) it->human[d] = NAN;
    it->human_overall = NAN;
    it->line = line;
}

/* Append an item; takes ownership of id/video/prompt (freed on failure). */
static vs2_manifest_item *push_item(mctx *c, char *id, char *video, char *prompt, int line) {
    vs2_manifest *m = c->m;
    if (m->n_items == c->cap_items) {
        size_t cap = c->cap_items ? c->cap_items * 2 : 64;
        vs2_manifest_item *p = realloc(m->items, cap * sizeof *p);
        if (!p) {
            free(id), free(video), free(prompt);
            c->oom = 1;
            return NULL;
        }
        m->items = p;
        c->cap_items = cap;
    }
    vs2_manifest_item *it = &m->items[m->n_items++];
    item_init(it, line);
    it->id = id, it->video = video, it->prompt = prompt;
    return it;
}

static int has_item(const vs2_manifest *m, const char *id) {
    for (size_t i = m->n_items; i-- > 0;)
        if (!strcmp(m->items[i].id, id)) return 1;
    return 0;
}

static vs2_pref_pair *push_pair(mctx *c, char *a, char *b, int line) {
    vs2_manifest *m = c->m;
    if (m->n_pairs == c->cap_pairs) {
        size_t cap = c->cap_pairs ? c->cap_pairs * 2 : 64;
        vs2_pref_pair *p = realloc(m->pairs, cap * sizeof *p);
        if (!p) {
            free(a), free(b);
            c->oom = 1;
            return NULL;
        }
        m->pairs = p;
        c->cap_pairs = cap;
    }
    vs2_pref_pair *pr = &m->pairs[m->n_pairs++];
    pr->a = a, pr->b = b, pr->line = line;
    pr->pref[0] = pr->pref[1] = pr->pref[2] = VS2_PREF_NONE;
    return pr;
}

void vs2_manifest_free(vs2_manifest *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n_items; i++) {
        free(m->items[i].id);
        free(m->items[i].video);
        free(m->items[i].prompt);
    }
    for (size_t i = 0; i < m->n_pairs; i++) {
        free(m->pairs[i].a);
        free(m->pairs[i].b);
    }
    free(m->items);
    free(m->pairs);
    memset(m, 0, sizeof *m);
}

/* ---- CSV (RFC 4180) --------------------------------------------------------------------- */

typedef struct csv_row {
    char **f;
    size_t n, cap;
    int line; /* line where the record starts */
} csv_row;

static void csv_row_clear(csv_row *r) {
    for (size_t i = 0; i < r->n; i++) free(r->f[i]);
    r->n = 0;
}

static int csv_push(csv_row *r, ev_buf *field) {
    if (field->oom) return 0;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        char **p = realloc(r->f, cap * sizeof *p);
        if (!p) return 0;
        r->f = p, r->cap = cap;
    }
    int oom = 0;
    r->f[r->n] = ev_strndup(field->data ? field->data : "", field->len, &oom);
    if (oom) return 0;
    r->n++;
    field->len = 0;
    return 1;
}

/* Read one record starting at *pos; returns 1 with a row, 0 at end of input, -1 on error. */
static int csv_next(mctx *c, const char *s, size_t len, size_t *pos, int *line, csv_row *row) {
    size_t i = *pos;
    csv_row_clear(row);
    /* blank lines between records are skipped (pandas does too) */
    while (i < len && (s[i] == '\n' || s[i] == '\r')) {
        if (s[i] == '\n') (*line)++;
        i++;
    }
    if (i >= len) return 0;
    row->line = *line;
    ev_buf field = {0};
    int quoted = 0, after_quote = 0;
    for (;;) {
        if (i >= len) {
            if (quoted) {
                ev_buf_free(&field);
                vs2__fail(c->err, VS2_ERR_FORMAT, "%s:%d: unterminated quoted field", c->name,
                          row->line);
                return -1;
            }
            break;
        }
        char ch = s[i];
        if (quoted) {
            if (ch == '"') {
                if (i + 1 < len && s[i + 1] == '"') {
                    ev_buf_put(&field, "\"", 1);
                    i += 2;
                    continue;
                }
                quoted = 0, after_quote = 1;
                i++;
                continue;
            }
            if (ch == '\n') (*line)++;
            ev_buf_put(&field, &ch, 1);
            i++;
            continue;
        }
        if (ch == ',') {
            if (!csv_push(row, &field)) goto oom;
            after_quote = 0;
            i++;
            continue;
        }
        if (ch == '\r' || ch == '\n') break;
        if (after_quote) {
            ev_buf_free(&field);
            vs2__fail(c->err, VS2_ERR_FORMAT,
                      "%s:%d: field %zu: text after a closing quote", c->name, *line, row->n + 1);
            return -1;
        }
        if (ch == '"' && field.len == 0) {
            quoted = 1;
            i++;
            continue;
        }
        ev_buf_put(&field, &ch, 1);
        i++;
    }
    if (!csv_push(row, &field)) goto oom;
    ev_buf_free(&field);
    if (i < len && s[i] == '\r') i++;
    if (i < len && s[i] == '\n') {
        i++;
        (*line)++;
    }
    *pos = i;
    return 1;
oom:
    ev_buf_free(&field);
    c->oom = 1;
    oom_fail(c);
    return -1;
}

typedef struct csv_table {
    csv_row header;
    csv_row row;
    size_t pos;
    int line;
} csv_table;

static int csv_col(const csv_row *h, const char *const *names) {
    for (const char *const *n = names; *n; n++)
        for (size_t i = 0; i < h->n; i++)
            if (!strcmp(h->f[i], *n)) return (int)i;
    return -1;
}

static const char *cell(const csv_row *r, int col) {
    return col >= 0 && (size_t)col < r->n ? r->f[col] : "";
}

/* A score cell: empty -> NAN; otherwise a number, or an error naming line and column. */
static int csv_score(mctx *c, const csv_table *t, int col, double *out) {
    const char *s = cell(&t->row, col);
    *out = NAN;
    if (col < 0 || !*s || !strcmp(s, "None") || !strcmp(s, "nan")) return 1;
    if (ev_parse_double(s, out)) return 1;
    vs2__fail(c->err, VS2_ERR_FORMAT, "%s:%d: column '%s': '%.40s' is not a number", c->name,
              t->row.line, t->header.f[col], s);
    return 0;
}

static void csv_table_free(csv_table *t) {
    csv_row_clear(&t->header);
    csv_row_clear(&t->row);
    free(t->header.f);
    free(t->row.f);
}

static vs2_status csv_open(mctx *c, const char *s, size_t len, csv_table *t) {
    memset(t, 0, sizeof *t);
    t->line = 1;
    if (len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) t->pos = 3; /* UTF-8 BOM */
    int r = csv_next(c, s, len, &t->pos, &t->line, &t->header);
    if (r <= 0) {
        /* The header row may be half read: free its fields here, since callers only free a
         * table that opened. */
        csv_table_free(t);
        if (r < 0) return c->err ? c->err->status : VS2_ERR_FORMAT;
        return vs2__fail(c->err, VS2_ERR_FORMAT, "%s: empty file (no header row)", c->name);
    }
    for (size_t i = 0; i < t->header.n; i++) {
        char *f = t->header.f[i]; /* trim blanks around header names */
        size_t n = strlen(f);
        while (n && (f[n - 1] == ' ' || f[n - 1] == '\t')) f[--n] = '\0';
        size_t k = strspn(f, " \t");
        memmove(f, f + k, n - k + 1);
    }
    return VS2_OK;
}

static vs2_status need_col(mctx *c, const csv_table *t, int col, const char *what) {
    if (col >= 0) return VS2_OK;
    return vs2__fail(c->err, VS2_ERR_FORMAT, "%s:%d: header has no '%s' column", c->name,
                     t->header.line, what);
}

/* vs2's CSV manifest: id, video, prompt and optional human-score columns. */
static vs2_status load_csv_generic(mctx *c, const char *s, size_t len) {
    static const char *const id_n[] = {"id", "video_name", NULL};
    static const char *const video_n[] = {"video", "video_path", "path", "video_url", NULL};
    static const char *const prompt_n[] = {"prompt", "caption", "text", NULL};
    static const char *const dim_n[3][3] = {{"visual_quality", "v_score_gt", NULL},
                                            {"text_alignment", "t_score_gt", NULL},
                                            {"physical_consistency", "p_score_gt", NULL}};
    csv_table t;
    vs2_status st = csv_open(c, s, len, &t);
    if (st) return st;
    int ci = csv_col(&t.header, id_n), cv = csv_col(&t.header, video_n);
    int cp = csv_col(&t.header, prompt_n), cd[3];
    for (int d = 0; d < 3; d++) cd[d] = csv_col(&t.header, dim_n[d]);
    if (ci < 0 && cv < 0) st = need_col(c, &t, -1, "id' or 'video");
    int r = 0;
    while (!st && (r = csv_next(c, s, len, &t.pos, &t.line, &t.row)) > 0) {
        const char *id = ci >= 0 ? cell(&t.row, ci) : "";
        const char *video = cell(&t.row, cv);
        if (!*id && !*video) {
            st = vs2__fail(c->err, VS2_ERR_FORMAT, "%s:%d: row has neither an id nor a video",
                           c->name, t.row.line);
            break;
        }
        char *idd = *id ? ev_strdup(id, &c->oom) : ev_video_name(video, NULL, &c->oom);
        vs2_manifest_item *it = push_item(c, idd, *video ? ev_strdup(video, &c->oom) : NULL,
                                          cp >= 0 ? ev_strdup(cell(&t.row, cp), &c->oom) : NULL,
                                          t.row.line);
        if (!it || c->oom) break;
        for (int d = 0; d < 3 && !st; d++)
            if (!csv_score(c, &t, cd[d], &it->human[d])) st = VS2_ERR_FORMAT;
    }
    if (!st && r < 0) st = c->err ? c->err->status : VS2_ERR_FORMAT;
    csv_table_free(&t);
    return st;
}

static int pref_label(const char *s, signed char *out) {
    if (!*s) *out = VS2_PREF_NONE;
    else if (!strcmp(s, "A") || !strcmp(s, "1") || !strcmp(s, "Video 1 better")) *out = VS2_PREF_FIRST;
    else if (!strcmp(s, "B") || !strcmp(s, "2") || !strcmp(s, "Video 2 better")) *out = VS2_PREF_SECOND;
    else if (!strcmp(s, "same") || !strcmp(s, "Same") || !strcmp(s, "tie")) *out = VS2_PREF_SAME;
    else return 0;
    return 1;
}

/* Add the video behind a VideoGen-RewardBench path once (the reference dedups by name). */
static int vgrb_add_video(mctx *c, const char *path, const char *prompt, int line) {
    char *name = ev_video_name(path, ".mp4", &c->oom);
    if (!name) return 0;
    if (has_item(c->m, name)) {
        free(name);
        return 1;
    }
    return push_item(c, name, ev_strdup(path, &c->oom), ev_strdup(prompt, &c->oom), line) != NULL;
}

/* VideoGen-RewardBench: one row per pair; items are the distinct videos. */
static vs2_status load_vgrb(mctx *c, const char *s, size_t len) {
    static const char *const a_n[] = {"path_A", NULL}, *const b_n[] = {"path_B", NULL};
    static const char *const p_n[] = {"prompt", "caption", NULL};
    static const char *const lab_n[3][2] = {{"VQ", NULL}, {"TA", NULL}, {"Overall", NULL}};
    csv_table t;
    vs2_status st = csv_open(c, s, len, &t);
    if (st) return st;
    int ca = csv_col(&t.header, a_n), cb = csv_col(&t.header, b_n), cp = csv_col(&t.header, p_n);
    int cl[3];
    for (int k = 0; k < 3; k++) cl[k] = csv_col(&t.header, lab_n[k]);
    st = need_col(c, &t, ca, "path_A");
    if (!st) st = need_col(c, &t, cb, "path_B");
    int r = 0, row_no = 0;
    while (!st && (r = csv_next(c, s, len, &t.pos, &t.line, &t.row)) > 0) {
        const char *pa = cell(&t.row, ca), *pb = cell(&t.row, cb);
        if (!*pa || !*pb) {
            st = vs2__fail(c->err, VS2_ERR_FORMAT, "%s:%d: empty path_A or path_B", c->name,
                           t.row.line);
            break;
        }
        /* quirk: the reference's loader (pandas iloc[1:]) never scores the first row's videos */
        int skip_items = (c->flags & VS2_MANIFEST_REFERENCE_QUIRKS) && row_no++ == 0;
        if (!skip_items && (!vgrb_add_video(c, pa, cell(&t.row, cp), t.row.line) ||
                            !vgrb_add_video(c, pb, cell(&t.row, cp), t.row.line)))
            break;
        vs2_pref_pair *pr = push_pair(c, ev_video_name(pa, ".mp4", &c->oom),
                                      ev_video_name(pb, ".mp4", &c->oom), t.row.line);
        if (!pr || c->oom) break;
        for (int k = 0; k < 3 && !st; k++)
            if (!pref_label(cell(&t.row, cl[k]), &pr->pref[k]))
                st = vs2__fail(c->err, VS2_ERR_FORMAT,
                               "%s:%d: column '%s': label '%.20s' is not A, B or same", c->name,
                               t.row.line, lab_n[k][0], cell(&t.row, cl[k]));
    }
    if (!st && r < 0) st = c->err ? c->err->status : VS2_ERR_FORMAT;
    csv_table_free(&t);
    return st;
}

/* VideoPhy2 test CSV: v has no human score, t = sa (semantic), p = pc (physical). */
static vs2_status load_videophy2(mctx *c, const char *s, size_t len) {
    static const char *const url_n[] = {"video_url", "video_path", "video", NULL};
    static const char *const name_n[] = {"video_name", NULL};
    static const char *const p_n[] = {"caption", "prompt", NULL};
    static const char *const sa_n[] = {"sa", "semantic", NULL}, *const pc_n[] = {"pc", "physical", NULL};
    csv_table t;
    vs2_status st = csv_open(c, s, len, &t);
    if (st) return st;
    int cu = csv_col(&t.header, url_n), cn = csv_col(&t.header, name_n);
    int cp = csv_col(&t.header, p_n), csa = csv_col(&t.header, sa_n), cpc = csv_col(&t.header, pc_n);
    st = need_col(c, &t, cu, "video_url");
    int r = 0, row_no = 0;
    while (!st && (r = csv_next(c, s, len, &t.pos, &t.line, &t.row)) > 0) {
        if ((c->flags & VS2_MANIFEST_REFERENCE_QUIRKS) && row_no++ == 0) continue; /* iloc[1:] */
        const char *url = cell(&t.row, cu), *nm = cell(&t.row, cn);
        if (!*url) {
            st = vs2__fail(c->err, VS2_ERR_FORMAT, "%s:%d: empty video_url", c->name, t.row.line);
            break;
        }
        char *id = *nm ? ev_strdup(nm, &c->oom) : ev_video_name(url, NULL, &c->oom);
        vs2_manifest_item *it = push_item(c, id, ev_strdup(url, &c->oom),
                                          ev_strdup(cell(&t.row, cp), &c->oom), t.row.line);
        if (!it || c->oom) break;
        if (!csv_score(c, &t, csa, &it->human[VS2_DIM_T]) ||
            !csv_score(c, &t, cpc, &it->human[VS2_DIM_P]))
            st = VS2_ERR_FORMAT;
    }
    if (!st && r < 0) st = c->err ? c->err->status : VS2_ERR_FORMAT;
    csv_table_free(&t);
    return st;
}

/* ---- T2VQA-DB txt ------------------------------------------------------------------------ */

typedef struct t2v_line {
    char *name, *prompt;
    double score;
    int line;
} t2v_line;

static vs2_status t2vqa_parse_line(mctx *c, const char *p, size_t n, int line, t2v_line *out) {
    const char *bar1 = memchr(p, '|', n), *bar2 = NULL;
    for (const char *q = p + n; q-- > p;)
        if (*q == '|') {
            bar2 = q;
            break;
        }
    if (!bar1 || bar1 == bar2)
        return vs2__fail(c->err, VS2_ERR_FORMAT, "%s:%d: expected 'file|prompt|score'", c->name,
                         line);
    char num[64];
    size_t k = (size_t)(p + n - bar2 - 1);
    if (k >= sizeof num) k = sizeof num - 1;
    memcpy(num, bar2 + 1, k);
    num[k] = '\0';
    if (!ev_parse_double(num, &out->score))
        return vs2__fail(c->err, VS2_ERR_FORMAT, "%s:%d: score '%s' is not a number", c->name,
                         line, num);
    char *file = ev_strndup(p, (size_t)(bar1 - p), &c->oom);
    out->name = ev_video_name(file, NULL, &c->oom);
    free(file);
    /* the reference groups pairs by the stripped prompt */
    const char *ps = bar1 + 1, *pe = bar2;
    while (ps < pe && (*ps == ' ' || *ps == '\t')) ps++;
    while (pe > ps && (pe[-1] == ' ' || pe[-1] == '\t')) pe--;
    out->prompt = ev_strndup(ps, (size_t)(pe - ps), &c->oom);
    out->line = line;
    return c->oom ? oom_fail(c) : VS2_OK;
}

/* Unordered pairs i<j (file order) within each prompt group; |diff| <= 1 is "same". */
static vs2_status t2vqa_pairs(mctx *c, const t2v_line *L, size_t n) {
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            if (strcmp(L[i].prompt, L[j].prompt)) continue;
            vs2_pref_pair *pr = push_pair(c, ev_strdup(L[i].name, &c->oom),
                                          ev_strdup(L[j].name, &c->oom), L[i].line);
            if (!pr || c->oom) return oom_fail(c);
            double diff = L[i].score - L[j].score;
            pr->pref[2] = fabs(diff) <= 1 ? VS2_PREF_SAME : diff > 0 ? VS2_PREF_FIRST : VS2_PREF_SECOND;
        }
    return VS2_OK;
}

static vs2_status load_t2vqa(mctx *c, const char *s, size_t len) {
    t2v_line *L = NULL;
    size_t n = 0, cap = 0;
    vs2_status st = VS2_OK;
    int line = 0;
    int quirks = (c->flags & VS2_MANIFEST_REFERENCE_QUIRKS) != 0;
    for (size_t pos = 0; pos < len && !st;) {
        const char *p = s + pos, *nl = memchr(p, '\n', len - pos);
        size_t k = nl ? (size_t)(nl - p) : len - pos;
        pos += k + 1;
        line++;
        /* quirk: the pair builder stops after line index 2000, i.e. 2001 lines */
        if (quirks && line > 2001) break;
        size_t e = k;
        while (e && (p[e - 1] == '\r' || p[e - 1] == ' ')) e--;
        if (!e) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            t2v_line *q = realloc(L, cap * sizeof *q);
            if (!q) {
                st = oom_fail(c);
                break;
            }
            L = q;
        }
        memset(&L[n], 0, sizeof L[n]);
        st = t2vqa_parse_line(c, p, e, line, &L[n]);
        if (!st) n++;
        else free(L[n].name), free(L[n].prompt);
    }
    /* quirk: the scoring loader keeps the first 2000 valid lines */
    size_t n_items = quirks && n > 2000 ? 2000 : n;
    for (size_t i = 0; i < n_items && !st; i++) {
        vs2_manifest_item *it = push_item(c, ev_strdup(L[i].name, &c->oom), ev_strdup(L[i].name, &c->oom),
                                          ev_strdup(L[i].prompt, &c->oom), L[i].line);
        if (!it || c->oom) {
            st = oom_fail(c);
            break;
        }
        for (int d = 0; d < 3; d++) it->human[d] = L[i].score;
        it->human_overall = L[i].score;
    }
    if (!st) st = t2vqa_pairs(c, L, n);
    for (size_t i = 0; i < n; i++) free(L[i].name), free(L[i].prompt);
    free(L);
    return st;
}

/* ---- JSON lists and JSONL ---------------------------------------------------------------- */

static const char *obj_str(const json_t *o, const char *const *keys) {
    for (const char *const *k = keys; *k; k++) {
        const json_t *v = json_object_get(o, *k);
        if (json_is_string(v)) return json_string_value(v);
    }
    return NULL;
}

static char *obj_text(mctx *c, const json_t *o, const char *const *keys) {
    for (const char *const *k = keys; *k; k++) {
        const json_t *v = json_object_get(o, *k);
        if (v && !json_is_null(v)) return ev_json_text(v, &c->oom);
    }
    return NULL;
}

static int obj_score(mctx *c, const json_t *o, const char *key, int line, double *out) {
    if (ev_json_score(json_object_get(o, key), out)) return 1;
    vs2__fail(c->err, VS2_ERR_FORMAT, "%s:%d: '%s' is not a number or null", c->name, line, key);
    return 0;
}

/* One generic record (JSONL line or list entry): id, video, prompt, human scores. */
static vs2_status add_generic(mctx *c, const json_t *o, int line) {
    static const char *const id_k[] = {"id", "video_name", NULL};
    static const char *const video_k[] = {"video", "video_path", "path", "video_url", NULL};
    static const char *const prompt_k[] = {"prompt", "caption", "text", NULL};
    static const char *const gt_k[3] = {"v_score_gt", "t_score_gt", "p_score_gt"};
    if (!json_is_object(o))
        return vs2__fail(c->err, VS2_ERR_FORMAT, "%s:%d: expected a JSON object", c->name, line);
    char *id = obj_text(c, o, id_k);
    const char *video = obj_str(o, video_k);
    if (!id && !video)
        return vs2__fail(c->err, VS2_ERR_FORMAT, "%s:%d: record has neither an id nor a video",
                         c->name, line);
    if (!id) id = ev_video_name(video, NULL, &c->oom);
    vs2_manifest_item *it = push_item(c, id, ev_strdup(video, &c->oom),
                                      ev_strdup(obj_str(o, prompt_k), &c->oom), line);
    if (!it || c->oom) return oom_fail(c);
    const json_t *hs = json_object_get(o, "human_scores");
    if (hs && !json_is_null(hs) && !json_is_object(hs))
        return vs2__fail(c->err, VS2_ERR_FORMAT, "%s:%d: 'human_scores' is not an object", c->name, line);
    for (int d = 0; d < 3; d++) {
        const json_t *owner = hs && json_object_get(hs, ev_dim_keys[d]) ? hs : o;
        const char *key = json_object_get(owner, ev_dim_keys[d]) ? ev_dim_keys[d] : gt_k[d];
        if (!obj_score(c, owner, key, line, &it->human[d])) return VS2_ERR_FORMAT;
    }
    return VS2_OK;
}

/* VideoScore-Bench-v2: v = visual_score, t = t2v_score, p = phy_score. */
static vs2_status add_vs2_bench(mctx *c, const json_t *o, int line) {
    static const char *const video_k[] = {"video_path", "video", "video_url", NULL};
    static const char *const gt_k[3] = {"visual_score", "t2v_score", "phy_score"};
    static const char *const name_k[] = {"video_name", NULL};
    char *id = obj_text(c, o, name_k);
    if (!id)
        return vs2__fail(c->err, VS2_ERR_FORMAT, "%s: record %d: no 'video_name'", c->name, line);
    vs2_manifest_item *it = push_item(c, id, ev_strdup(obj_str(o, video_k), &c->oom),
                                      ev_strdup(json_string_value(json_object_get(o, "prompt")), &c->oom),
                                      line);
    if (!it || c->oom) return oom_fail(c);
    for (int d = 0; d < 3; d++)
        if (!obj_score(c, o, gt_k[d], line, &it->human[d])) return VS2_ERR_FORMAT;
    return VS2_OK;
}

static int mj_score(mctx *c, const json_t *rec, int k, const char *key, int line, double *out) {
    char sub[24], flat[48];
    snprintf(sub, sizeof sub, "video_%d_scores", k);
    snprintf(flat, sizeof flat, "video_%d_%s", k, key);
    const json_t *nested = json_object_get(rec, sub);
    if (json_is_object(nested)) return obj_score(c, nested, key, line, out);
    return obj_score(c, rec, flat, line, out);
}

/* MJ-Bench-Video record: two videos (names = basename up to the first '.'), their aspect
 * scores (v = fineness, t = alignment, p = consistency, overall = total_score) and the pair. */
static vs2_status add_mj_record(mctx *c, const json_t *o, int line) {
    static const char *const asp[4] = {"fineness", "alignment", "consistency", "total_score"};
    const char *path[2] = {json_string_value(json_object_get(o, "video_0_path")),
                           json_string_value(json_object_get(o, "video_1_path"))};
    if (!path[0] || !path[1])
        return vs2__fail(c->err, VS2_ERR_FORMAT, "%s: record %d: no video_0_path/video_1_path",
                         c->name, line);
    const char *caption = json_string_value(json_object_get(o, "caption"));
    for (int k = 0; k < 2; k++) {
        char *name = ev_video_name(path[k], ".", &c->oom);
        if (!name) return oom_fail(c);
        if (has_item(c->m, name)) {
            free(name);
            continue;
        }
        vs2_manifest_item *it = push_item(c, name, ev_strdup(path[k], &c->oom), ev_strdup(caption, &c->oom), line);
        if (!it || c->oom) return oom_fail(c);
        for (int d = 0; d < 4; d++)
            if (!mj_score(c, o, k, asp[d], line, d < 3 ? &it->human[d] : &it->human_overall))
                return VS2_ERR_FORMAT;
    }
    vs2_pref_pair *pr = push_pair(c, ev_video_name(path[0], ".", &c->oom),
                                  ev_video_name(path[1], ".", &c->oom), line);
    if (!pr || c->oom) return oom_fail(c);
    const char *ov = json_string_value(json_object_get(o, "overall_preference"));
    const json_t *cat = json_object_get(o, "category_preference");
    const char *cv = json_string_value(json_object_get(cat, "Fineness"));
    const char *ct = json_string_value(json_object_get(cat, "Alignment"));
    if (!pref_label(ov ? ov : "", &pr->pref[2]) || !pref_label(cv ? cv : "", &pr->pref[0]) ||
        !pref_label(ct ? ct : "", &pr->pref[1]))
        pr->pref[0] = pr->pref[1] = pr->pref[2] = VS2_PREF_NONE; /* "Hard to judge" etc. */
    return VS2_OK;
}

/* MJ-Bench-Video in the loader's flat shape (one video per entry). */
static vs2_status add_mj_flat(mctx *c, const json_t *o, int line) {
    static const char *const asp[4] = {"fineness", "alignment", "consistency", "total_score"};
    vs2_status st = add_generic(c, o, line);
    if (st) return st;
    vs2_manifest_item *it = &c->m->items[c->m->n_items - 1];
    for (int d = 0; d < 4; d++)
        if (!obj_score(c, o, asp[d], line, d < 3 ? &it->human[d] : &it->human_overall))
            return VS2_ERR_FORMAT;
    return VS2_OK;
}

static vs2_manifest_format sniff_json_list(const json_t *arr) {
    const json_t *o = json_array_get(arr, 0);
    if (json_object_get(o, "video_0_path")) return VS2_MANIFEST_MJ_BENCH;
    if (json_object_get(o, "fineness") && json_object_get(o, "total_score")) return VS2_MANIFEST_MJ_BENCH;
    if (json_object_get(o, "visual_score") || json_object_get(o, "t2v_score")) return VS2_MANIFEST_VS2_BENCH;
    return VS2_MANIFEST_JSONL;
}

static vs2_status load_json_list(mctx *c, const char *s, size_t len) {
    json_error_t je;
    json_t *arr = json_loadb(s, len, JSON_DECODE_ANY, &je);
    if (!arr)
        return vs2__fail(c->err, VS2_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", c->name, je.line,
                         je.column, je.text);
    vs2_status st = VS2_OK;
    if (!json_is_array(arr)) {
        st = vs2__fail(c->err, VS2_ERR_FORMAT, "%s: expected a JSON list of records", c->name);
        goto done;
    }
    vs2_manifest_format f = c->m->format;
    if (f == VS2_MANIFEST_AUTO) f = sniff_json_list(arr);
    c->m->format = f;
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        int rec = (int)i + 1;
        if (!json_is_object(o)) {
            st = vs2__fail(c->err, VS2_ERR_FORMAT, "%s: record %d: not an object", c->name, rec);
            break;
        }
        if (f == VS2_MANIFEST_VS2_BENCH) st = add_vs2_bench(c, o, rec);
        else if (f == VS2_MANIFEST_MJ_BENCH)
            st = json_object_get(o, "video_0_path") ? add_mj_record(c, o, rec) : add_mj_flat(c, o, rec);
        else st = add_generic(c, o, rec);
        if (st) break;
    }
done:
    json_decref(arr);
    return st;
}

/* Number of leading blanks (space, tab, CR, LF) among the first n bytes of p. The input is a
 * (pointer, length) buffer, not a C string, so no str* scan may run past n. */
static size_t blank_span(const char *p, size_t n) {
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')) i++;
    return i;
}

static vs2_status jsonl_record(void *ctx, json_t *o, int line) {
    return add_generic(ctx, o, line);
}

static vs2_status load_jsonl(mctx *c, const char *s, size_t len) {
    return ev_jsonl_foreach(s, len, c->name, jsonl_record, c, c->err);
}

/* ---- entry points ------------------------------------------------------------------------ */

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !strcmp(s + n - k, suf);
}

static vs2_manifest_format sniff(const char *name, const char *s, size_t len) {
    size_t i = 0;
    while (i < len && strchr(" \t\r\n", s[i])) i++;
    if (ends_with(name, ".jsonl")) return VS2_MANIFEST_JSONL;
    if (ends_with(name, ".txt")) return VS2_MANIFEST_T2VQA_DB;
    if (i < len && s[i] == '[') return VS2_MANIFEST_AUTO; /* a JSON list: decided by content */
    if (i < len && s[i] == '{') return VS2_MANIFEST_JSONL;
    /* CSV: look at the header line */
    const char *nl = memchr(s, '\n', len);
    size_t hl = nl ? (size_t)(nl - s) : len;
    char head[1024];
    if (hl >= sizeof head) hl = sizeof head - 1;
    memcpy(head, s, hl);
    head[hl] = '\0';
    if (strstr(head, "path_A")) return VS2_MANIFEST_VIDEOGEN_RB;
    if (strstr(head, "video_url") && (strstr(head, "caption") || strstr(head, "sa,") ||
                                      strstr(head, ",pc")))
        return VS2_MANIFEST_VIDEOPHY2;
    if (!ends_with(name, ".csv") && memchr(head, '|', hl) && !memchr(head, ',', hl))
        return VS2_MANIFEST_T2VQA_DB;
    return VS2_MANIFEST_CSV;
}

vs2_status vs2_manifest_parse(const char *data, size_t len, const char *name,
                              vs2_manifest_format format, unsigned flags, vs2_manifest *out,
                              vs2_error *err) {
    if (!out) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_manifest_parse: out is NULL");
    memset(out, 0, sizeof *out);
    if (!data) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_manifest_parse: data is NULL");
    if (!name) name = "manifest";
    mctx c = {.name = name, .flags = flags, .m = out, .err = err};
    if (format == VS2_MANIFEST_AUTO) format = sniff(name, data, len);
    out->format = format;
    vs2_status st;
    switch (format) {
    case VS2_MANIFEST_AUTO:
    case VS2_MANIFEST_VS2_BENCH:
    case VS2_MANIFEST_MJ_BENCH: st = load_json_list(&c, data, len); break;
    case VS2_MANIFEST_JSONL: {
        size_t i = blank_span(data, len);
        st = i < len && data[i] == '[' ? load_json_list(&c, data, len) : load_jsonl(&c, data, len);
        break;
    }
    case VS2_MANIFEST_CSV: st = load_csv_generic(&c, data, len); break;
    case VS2_MANIFEST_VIDEOGEN_RB: st = load_vgrb(&c, data, len); break;
    case VS2_MANIFEST_T2VQA_DB: st = load_t2vqa(&c, data, len); break;
    case VS2_MANIFEST_VIDEOPHY2: st = load_videophy2(&c, data, len); break;
    default: st = vs2__fail(err, VS2_ERR_INVALID_ARG, "%s: unknown manifest format %d", name, (int)format);
    }
    if (!st && c.oom) st = oom_fail(&c);
    if (st) vs2_manifest_free(out);
    else vs2__ok(err);
    return st;
}

vs2_status vs2_manifest_load(const char *path, vs2_manifest_format format, unsigned flags,
                             vs2_manifest *out, vs2_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_manifest_load: NULL argument");
    char *data = NULL;
    size_t len = 0;
    vs2_status st = vs2__read_file(path, MANIFEST_MAX_BYTES, &data, &len, err);
    if (st) return st;
    st = vs2_manifest_parse(data, len, path, format, flags, out, err);
    free(data);
    return st;
}
