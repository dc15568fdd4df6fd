/* metrics.c — point-score and pairwise metrics exactly as the release scripts define them
 * (eval/get_acc_corr.py and eval/get_pairwise_acc.py @4d96b60b; docs/videoscore2-reference.md §4), with
 * their evident intent where they misbehave. Every choice is listed in docs/metrics.md. */
#include "eval_internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- statistics ------------------------------------------------------------------------ */

double vs2_round_py(double x, int digits) {
    if (digits < 0 || !isfinite(x)) return x;
    /* glibc's printf rounds the exact binary value correctly (exact halves to even), which
     * is what CPython's round(x, n) does through its own correctly rounded dtoa */
    char buf[512];
    snprintf(buf, sizeof buf, "%.*f", digits, x);
    double r = strtod(buf, NULL);
    return r == 0 ? 0.0 * x : r; /* keep the sign of -0.0 like Python */
}

double vs2_plcc(const double *x, const double *y, size_t n) {
    if (n < 2) return NAN;
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) mx += x[i], my += y[i];
    mx /= (double)n, my /= (double)n;
    double sxx = 0, syy = 0, sxy = 0;
    for (size_t i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;
        sxx += dx * dx, syy += dy * dy, sxy += dx * dy;
    }
    /* scipy returns NaN for a constant input; test equality, not sxx == 0 only, as it does */
    int cx = 1, cy = 1;
    for (size_t i = 1; i < n; i++) cx &= x[i] == x[0], cy &= y[i] == y[0];
    if (cx || cy || sxx <= 0 || syy <= 0) return NAN;
    double r = sxy / (sqrt(sxx) * sqrt(syy));
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

typedef struct vi {
    double v;
    size_t i;
} vi;

static int cmp_vi(const void *a, const void *b) {
    const vi *x = a, *y = b;
    return x->v < y->v ? -1 : x->v > y->v ? 1 : (x->i > y->i) - (x->i < y->i);
}

/* Average ranks (1-based; ties share the mean of their positions) as scipy's rankdata. */
static int avg_ranks(const double *x, size_t n, double *rank) {
    vi *t = malloc(n * sizeof *t);
    if (!t) return 0;
    for (size_t i = 0; i < n; i++) t[i].v = x[i], t[i].i = i;
    qsort(t, n, sizeof *t, cmp_vi);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && t[j + 1].v == t[i].v) j++;
        double r = (double)(i + j + 2) / 2.0;
        for (size_t k = i; k <= j; k++) rank[t[k].i] = r;
        i = j + 1;
    }
    free(t);
    return 1;
}

double vs2_srcc(const double *x, const double *y, size_t n) {
    if (n < 2) return NAN;
    double *rx = malloc(2 * n * sizeof *rx);
    if (!rx) return NAN;
    double *ry = rx + n, r = NAN;
    if (avg_ranks(x, n, rx) && avg_ranks(y, n, ry)) r = vs2_plcc(rx, ry, n);
    free(rx);
    return r;
}

/* ---- loading the scores as _load_scores does ------------------------------------------- */

typedef struct scores {
    size_t n;
    double *m[3];     /* model v/t/p after the load rules; NAN = None */
    double *g[3];     /* human v/t/p; NAN = None */
    double *go;       /* overall GT: total_score / quality_score or 0 */
    int overall_from_file; /* go holds human overall scores (else the scripts' zeros) */
    const char **id;
    double *block;
} scores;

static void scores_free(scores *s) {
    free(s->block);
    free(s->id);
    memset(s, 0, sizeof *s);
}

static int scores_alloc(scores *s, size_t n) {
    memset(s, 0, sizeof *s);
    size_t cnt = n ? n : 1;
    s->block = malloc(7 * cnt * sizeof *s->block);
    s->id = malloc(cnt * sizeof *s->id);
    if (!s->block || !s->id) {
        scores_free(s);
        return 0;
    }
    for (int d = 0; d < 3; d++) s->m[d] = s->block + d * cnt, s->g[d] = s->block + (3 + d) * cnt;
    s->go = s->block + 6 * cnt;
    return 1;
}

static int is(const char *a, const char *b) { return a && !strcmp(a, b); }

static int is_vs2_float(const char *m) {
    return is(m, "vs2_float") || is(m, "vs2_float_normed") || is(m, "vs2_float_weighted");
}

/* The fallback parse of output[-150:]: matched -> max(int, 1), unmatched -> 0 (all three). */
static void regex_tail(const pcre2_code *re, pcre2_match_data *md, const char *out, double v[3]) {
    v[0] = v[1] = v[2] = 0;
    if (!out || !re || !md) return;
    const char *tail = ev_utf8_tail(out, 150);
    if (pcre2_match(re, (PCRE2_SPTR)tail, PCRE2_ZERO_TERMINATED, 0, 0, md, NULL) < 4) return;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    for (int d = 0; d < 3; d++) {
        char num[32];
        size_t k = ov[2 * d + 3] - ov[2 * d + 2];
        if (k >= sizeof num) k = sizeof num - 1;
        memcpy(num, tail + ov[2 * d + 2], k);
        num[k] = '\0';
        double x = strtod(num, NULL);
        v[d] = x < 1 ? 1 : x;
    }
}

static pcre2_code *compile_reference_regex(void) {
    static const char pat[] = "visual quality:\\s*(\\d+).*?text-to-video alignment:\\s*(\\d+)"
                              ".*?physical/common-sense consistency:\\s*(\\d+)";
    int ec;
    PCRE2_SIZE eo;
    return pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                         PCRE2_DOTALL | PCRE2_CASELESS | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &ec,
                         &eo, NULL);
}

static vs2_status load_scores(const vs2_results *r, const char *bench, const char *method,
                              int overrides, scores *s, size_t *n_items, size_t *n_dropped, vs2_error *err) {
    size_t n = 0;
    int all_keys = 1, all_overall = 1;
    for (size_t i = 0; i < r->n; i++) {
        const vs2_result_item *it = &r->items[i];
        if (it->error) continue; /* the reference writes nothing for a failed video */
        n++;
        all_keys &= it->has_model_keys || (r->is_vs2 && it->has_vs2_scores);
        all_overall &= !isnan(it->human_overall);
    }
    if (!scores_alloc(s, n)) return vs2__fail(err, VS2_ERR_NOMEM, "metrics: out of memory");
    pcre2_code *re = all_keys ? NULL : compile_reference_regex();
    pcre2_match_data *md = re ? pcre2_match_data_create_from_pattern(re, NULL) : NULL;
    int overall_from_file = all_overall && (is(bench, "mj_bench_video") || is(bench, "t2vqa_db"));
    size_t k = 0, dropped = 0;
    for (size_t i = 0; i < r->n; i++) {
        const vs2_result_item *it = &r->items[i];
        if (it->error) continue;
        double m[3];
        if (all_keys)
            for (int d = 0; d < 3; d++) m[d] = vs2_result_model_score(it, r->is_vs2, method, d);
        else regex_tail(re, md, it->output, m);
        if (is(method, "video_phy2_auto_eval")) m[0] = 0;
        if (overrides && (is(method, "video_reward") || is(method, "lift"))) m[2] = 0;
        /* _remove_null_scores: only model Nones drop an item */
        if (isnan(m[0]) || isnan(m[1]) || isnan(m[2])) {
            dropped++;
            continue;
        }
        for (int d = 0; d < 3; d++) s->m[d][k] = m[d], s->g[d][k] = it->human[d];
        s->go[k] = overall_from_file ? it->human_overall : 0;
        s->id[k] = it->id;
        k++;
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    s->n = k;
    s->overall_from_file = overall_from_file;
    *n_items = n;
    *n_dropped = dropped;
    return VS2_OK;
}

/* ---- accuracy ---------------------------------------------------------------------------- */

static double clip_round(double x) {
    double r = nearbyint(x); /* Python round(): half to even in the default rounding mode */
    return r < 1 ? 1 : r > 5 ? 5 : r;
}

/* Gaussian-quantile bin: thresholds are scipy's norm.ppf(0.2 .. 0.8) as doubles. */
static double gauss_bin(double z) {
    return z < -0.8416212335729142 ? 1 : z < -0.2533471031357997 ? 2 : z < 0.2533471031357997 ? 3
         : z < 0.8416212335729143 ? 4 : 5;
}

static double lift_map(double x) { return x == 1 ? 1 : x == 2 ? 3 : 5; }

/* Per-method conversion to the 1..5 scale (get_acc). Returns 0 where accuracy is skipped. */
static int acc_convert(const char *method, const char *bench, double *m[3], size_t n) {
    for (size_t i = 0; i < n; i++) {
        double v = m[0][i], t = m[1][i], p = m[2][i];
        if (is_vs2_float(method) || is(method, "aigve_macs") || is(method, "q_insight")) {
            v = clip_round(v), t = clip_round(t), p = clip_round(p);
        } else if (is(method, "unified_reward")) {
            v = t = p = clip_round(1.25 * v);
        } else if (is(method, "vision_reward")) {
            v = t = p = gauss_bin(v / 0.2);
        } else if (is(method, "video_reward")) {
            v = gauss_bin(v), t = gauss_bin(t / 1.5), p = NAN;
        } else if (is(method, "image_reward")) {
            v = t = p = gauss_bin(v);
        } else if (is(method, "lift")) {
            if (!is(bench, "aigve_bench") && !is(bench, "mj_bench_video") && !is(bench, "video_phy2") &&
                !is(bench, "video_phy2_test"))
                return 0;
            v = lift_map(v), t = lift_map(t), p = NAN;
        } else if (is(method, "video_phy2_auto_eval")) {
            v = NAN, t = clip_round(t), p = clip_round(p);
        } else if (is(method, "dover") || is(method, "q_align")) {
            v = t = p = clip_round(5 * v);
        } else if (is(method, "deqa")) {
            v = t = p = clip_round(v);
        } /* vs2, vs2_int, vs2_robust, vs1 and unknown methods: unchanged */
        m[0][i] = v, m[1][i] = t, m[2][i] = p;
    }
    return 1;
}

static double mj_v(double x) { return x == 1 || x == 2 ? 0 : x == 3 || x == 4 ? 1 : x == 5 ? 2 : NAN; }
static double mj_tp(double x) { return x == 1 ? 0 : x == 2 || x == 3 ? 1 : x == 4 || x == 5 ? 2 : NAN; }
static double mj_overall(double x) { return x == 1 ? 0 : x == 2 || x == 3 ? 1 : 2; }

/* MJ-Bench-Video: overall = int(mean) first, then everything onto {0,1,2}. */
static void mj_rescale(const char *method, double *m[3], double *om, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double v = m[0][i], t = m[1][i], p = m[2][i], o;
        if (is(method, "video_phy2_auto_eval")) o = trunc((t + p) / 2);
        else if (is(method, "lift") || is(method, "video_reward")) o = trunc((v + t) / 2);
        else o = trunc((v + t + p) / 3);
        m[0][i] = mj_v(v), m[1][i] = mj_tp(t), m[2][i] = mj_tp(p), om[i] = mj_overall(o);
    }
}

/* _compute_accuracy: all-None pred -> 0.0; None pred -> 0, None GT -> -1. */
static double accuracy(const double *pred, const double *gt, size_t n, int relaxed) {
    if (n == 0) return 0.0;
    size_t none = 0, correct = 0;
    for (size_t i = 0; i < n; i++) none += isnan(pred[i]);
    if (relaxed ? none > 0 : none == n) return 0.0; /* ANY for relaxed, ALL for exact */
    for (size_t i = 0; i < n; i++) {
        double p = isnan(pred[i]) ? 0 : pred[i], g = isnan(gt[i]) ? -1 : gt[i];
        correct += relaxed ? fabs(p - g) <= 1 : p == g;
    }
    return (double)correct / (double)n * 100.0;
}

/* A dimension's accuracy measures something only if some prediction and some human score
 * exist; otherwise the scripts' figure is their 0.0 placeholder (all None -> 0.0, or every
 * None GT counted as -1), and vs2 leaves the key out. */
static int measured(const double *pred, const double *gt, size_t n) {
    int p = 0, g = 0;
    for (size_t i = 0; i < n; i++) p |= !isnan(pred[i]), g |= !isnan(gt[i]);
    return p && g;
}

/* ---- output ------------------------------------------------------------------------------ */

static void put(vs2_metrics *o, const char *key, double v, int digits) {
    if (o->n >= VS2_METRICS_MAX) return;
    vs2_metric *m = &o->m[o->n++];
    snprintf(m->key, sizeof m->key, "%s", key);
    m->value = vs2_round_py(v, digits);
}

double vs2_metrics_get(const vs2_metrics *m, const char *key) {
    for (size_t i = 0; m && i < m->n; i++)
        if (!strcmp(m->m[i].key, key)) return m->m[i].value;
    return NAN;
}

/* Benchmarks with an overall human score (total_score, quality_score). Elsewhere the scripts'
 * overall_acc is 0.0 only because overall_model is all None, and overall_plcc/spcc are None:
 * placeholders, not measurements, so vs2 leaves those keys out. */
static int has_overall_gt(const char *bench) { return is(bench, "mj_bench_video") || is(bench, "t2vqa_db"); }

/* Dimensions a (bench, method) provides; the *_avg keys average over these. */
static void dims_provided(const char *bench, const char *method, int use[3]) {
    use[0] = use[1] = use[2] = 1;
    if (is(method, "video_phy2_auto_eval") || is(bench, "video_phy2_test") || is(bench, "video_phy_test"))
        use[0] = 0;
    if (is(method, "video_reward") || is(method, "lift")) use[2] = 0;
    if (is(bench, "tvge")) use[2] = 0;
}

static void put_avg(vs2_metrics *o, const char *key, const double v[3], const int use[3], int digits) {
    double s = 0;
    int k = 0;
    for (int d = 0; d < 3; d++)
        if (use[d]) s += v[d], k++;
    put(o, key, k ? s / k : NAN, digits);
}

static const char dim_letter[3] = {'v', 't', 'p'};

static vs2_status point_acc(const scores *s, const char *bench, const char *method, int digits,
                            vs2_metrics *o, vs2_error *err) {
    size_t n = s->n, cnt = n ? n : 1;
    double *buf = malloc(4 * cnt * sizeof *buf);
    if (!buf) return vs2__fail(err, VS2_ERR_NOMEM, "metrics: out of memory");
    double *m[3] = {buf, buf + cnt, buf + 2 * cnt}, *om = buf + 3 * cnt;
    for (int d = 0; d < 3; d++) memcpy(m[d], s->m[d], n * sizeof *buf);
    for (size_t i = 0; i < n; i++) om[i] = NAN; /* overall_model = [None]*n */
    if (acc_convert(method, bench, m, n)) {
        if (is(bench, "mj_bench_video")) mj_rescale(method, m, om, n);
        int use[3];
        dims_provided(bench, method, use);
        double a[3], ar[3];
        char key[48];
        for (int d = 0; d < 3; d++) {
            a[d] = vs2_round_py(accuracy(m[d], s->g[d], n, 0), digits);
            snprintf(key, sizeof key, "%c_acc", dim_letter[d]);
            if (measured(m[d], s->g[d], n)) put(o, key, a[d], digits);
        }
        put_avg(o, "acc_avg", a, use, digits);
        for (int d = 0; d < 3; d++) {
            ar[d] = vs2_round_py(accuracy(m[d], s->g[d], n, 1), digits);
            snprintf(key, sizeof key, "%c_acc_relaxed", dim_letter[d]);
            if (measured(m[d], s->g[d], n)) put(o, key, ar[d], digits);
        }
        put_avg(o, "acc_relaxed_avg", ar, use, digits);
        if (has_overall_gt(bench)) put(o, "overall_acc", accuracy(om, s->go, n, 0), digits);
    }
    free(buf);
    return VS2_OK;
}

/* PLCC/SPCC on the pairs where both values exist; no pair at all behaves as scipy raising
 * (None); NaN from a constant input stays NaN. Both print as null. */
static double corr(const double *x, const double *y, size_t n, int spearman, double *tmp) {
    size_t k = 0;
    double *a = tmp, *b = tmp + n;
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i]) && !isnan(y[i])) a[k] = x[i], b[k] = y[i], k++;
    return spearman ? vs2_srcc(a, b, k) : vs2_plcc(a, b, k);
}

static vs2_status point_corr(const scores *s, const char *bench, const char *method, int digits,
                             vs2_metrics *o, vs2_error *err) {
    size_t n = s->n, cnt = n ? n : 1;
    double *buf = malloc(9 * cnt * sizeof *buf);
    if (!buf) return vs2__fail(err, VS2_ERR_NOMEM, "metrics: out of memory");
    double *m[3] = {buf, buf + cnt, buf + 2 * cnt}, *g[3] = {buf + 3 * cnt, buf + 4 * cnt, buf + 5 * cnt};
    double *om = buf + 6 * cnt, *tmp = buf + 7 * cnt;
    for (int d = 0; d < 3; d++) {
        memcpy(m[d], s->m[d], n * sizeof *buf);
        memcpy(g[d], s->g[d], n * sizeof *buf);
    }
    for (size_t i = 0; i < n; i++) {
        if (is(method, "video_reward")) m[2][i] = NAN;
        if (is(method, "video_phy2_auto_eval")) m[0][i] = NAN;
        if (is(bench, "video_phy_test") || is(bench, "video_phy2_test")) m[0][i] = g[0][i] = NAN;
        if (is(bench, "tvge")) m[2][i] = g[2][i] = NAN;
    }
    int has_overall = has_overall_gt(bench);
    for (size_t i = 0; i < n && has_overall; i++) {
        if (is(method, "video_phy2_auto_eval")) om[i] = m[1][i] + m[2][i];
        else if (is(method, "lift") || is(method, "video_reward")) om[i] = m[0][i] + m[1][i];
        else om[i] = m[0][i] + m[1][i] + m[2][i];
    }
    int use[3];
    dims_provided(bench, method, use);
    static const char *const kind[2] = {"plcc", "spcc"};
    for (int sp = 0; sp < 2; sp++) {
        double r[3];
        char key[48];
        for (int d = 0; d < 3; d++) {
            r[d] = vs2_round_py(corr(m[d], g[d], n, sp, tmp) * 100, digits);
            snprintf(key, sizeof key, "%c_%s", dim_letter[d], kind[sp]);
            put(o, key, r[d], digits);
        }
        snprintf(key, sizeof key, "%s_avg", kind[sp]);
        put_avg(o, key, r, use, digits);
        snprintf(key, sizeof key, "overall_%s", kind[sp]);
        if (has_overall) put(o, key, corr(om, s->go, n, sp, tmp) * 100, digits);
    }
    free(buf);
    return VS2_OK;
}

/* ---- pairwise ---------------------------------------------------------------------------- */

/* judge_equal_for_diverse: +1, -1, 0; with ties, |diff| <= theta is a tie. Unknown methods
 * return None in the script, which counts as a tie: theta = +inf here. */
static double tie_theta(const char *method) {
    if (is_vs2_float(method)) return 0.001;
    if (is(method, "vs2") || is(method, "vs2_int") || is(method, "vs2_robust") || is(method, "deqa"))
        return 0.5;
    if (is(method, "video_reward")) return 0.25;
    if (is(method, "unified_reward") || is(method, "image_reward")) return 0.2;
    if (is(method, "vision_reward") || is(method, "dover") || is(method, "q_align") ||
        is(method, "q_insight"))
        return 0.05;
    if (is(method, "aigve_macs") || is(method, "video_phy2_auto_eval") || is(method, "vs1")) return 0;
    return INFINITY;
}

static int judge(double theta, double s1, double s2, int ties) {
    double d = s1 - s2;
    if (!ties) return d > 0 ? 1 : d < 0 ? -1 : 0;
    if (isinf(theta)) return 0;
    return d > theta ? 1 : d < -theta ? -1 : 0;
}

/* Rows of s sorted by id; for duplicate ids the last row wins (a Python dict). */
static int pw_find(const scores *s, const size_t *order, const char *id, size_t *row) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->id[order[mid]], id);
        if (c <= 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0 || strcmp(s->id[order[lo - 1]], id)) return 0;
    *row = order[lo - 1];
    return 1;
}

typedef struct pw_sort_ctx {
    const scores *s;
    size_t idx;
} pw_sort_ctx;

static int cmp_rows(const void *a, const void *b) {
    const pw_sort_ctx *x = a, *y = b;
    int c = strcmp(x->s->id[x->idx], y->s->id[y->idx]);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static vs2_status pairwise(const scores *s, const vs2_manifest *pm, const char *bench,
                           const char *method, int digits, vs2_metrics *o, vs2_error *err) {
    size_t cnt = s->n ? s->n : 1;
    pw_sort_ctx *tmp = malloc(cnt * sizeof *tmp);
    size_t *order = malloc(cnt * sizeof *order);
    if (!tmp || !order) {
        free(tmp), free(order);
        return vs2__fail(err, VS2_ERR_NOMEM, "metrics: out of memory");
    }
    for (size_t i = 0; i < s->n; i++) tmp[i].s = s, tmp[i].idx = i;
    qsort(tmp, s->n, sizeof *tmp, cmp_rows);
    for (size_t i = 0; i < s->n; i++) order[i] = tmp[i].idx;
    free(tmp);
    int t2v = is(bench, "t2vqa_db");
    double theta = tie_theta(method);
    static const char *const pass_name[3] = {"vq", "ta", "overall"};
    size_t most = 0; /* pairs of the largest pass with ties: 0 means no pair could be judged */
    for (int ties = 1; ties >= 0; ties--) {
        for (int k = t2v ? 2 : 0; k < 3; k++) {
            size_t correct = 0, total = 0;
            for (size_t i = 0; i < pm->n_pairs; i++) {
                const vs2_pref_pair *pr = &pm->pairs[i];
                size_t ra, rb;
                if (!pw_find(s, order, pr->a, &ra) || !pw_find(s, order, pr->b, &rb)) continue;
                if (!ties && pr->pref[k] == VS2_PREF_SAME) continue;
                double a, b;
                if (k < 2) a = s->m[k][ra], b = s->m[k][rb];
                else {
                    a = s->m[0][ra] + s->m[1][ra] + s->m[2][ra];
                    b = s->m[0][rb] + s->m[1][rb] + s->m[2][rb];
                    if (t2v) a /= 3, b /= 3; /* T2VQA compares the means, VGRB the sums */
                }
                total++;
                correct += judge(theta, a, b, ties) == pr->pref[k];
            }
            if (total > most) most = total;
            const char *suffix = ties ? "with_ties" : "without_ties";
            char key[48];
            snprintf(key, sizeof key, "%s_pairwise_acc_%s", pass_name[k], suffix);
            put(o, key, total ? (double)correct / (double)total * 100.0 : NAN, digits);
            snprintf(key, sizeof key, "%s_pairs_%s", pass_name[k], suffix);
            put(o, key, (double)total, -1);
        }
    }
    free(order);
    if (most == 0)
        return vs2__fail(err, VS2_ERR_UNSUPPORTED,
                         "metrics: none of the %zu preference pairs has both videos among the %zu scored items "
                         "(the others have an error or a missing score, or their ids are not in the pairs file)",
                         pm->n_pairs, s->n);
    return VS2_OK;
}

/* ---- entry ------------------------------------------------------------------------------- */

vs2_metrics_params vs2_metrics_default_params(void) {
    vs2_metrics_params p = {.bench = "vs2_bench", .method = "vs2_float", .pairs = NULL, .round_digits = 3};
    return p;
}

static const char *canonical_bench(const char *b) {
    if (!b || strstr(b, "vs2")) return "vs2_bench"; /* the script tests `"vs2" in bench_name` */
    if (!strcmp(b, "videogen-reward-bench") || !strcmp(b, "vgrb")) return "videogen_reward_bench";
    if (!strcmp(b, "t2vqa-db")) return "t2vqa_db";
    if (!strcmp(b, "mj-bench-video") || !strcmp(b, "mj_video_bench")) return "mj_bench_video";
    if (!strcmp(b, "video_phy2") || !strcmp(b, "videophy2")) return "video_phy2_test";
    return b;
}

static int preference_bench(const char *b) {
    return is(b, "videogen_reward_bench") || is(b, "genai_bench") || is(b, "vision_reward_db_video");
}

/* The names the release scripts know. Anything else used to fall through their if-chains and
 * print figures computed on unconverted scores; vs2 refuses it instead. */
static const char *const known_benches[] = {"vs2_bench", "videogen_reward_bench", "t2vqa_db", "mj_bench_video",
                                            "video_phy2_test", "aigve_bench", "tvge", "genai_bench",
                                            "vision_reward_db_video", "video_phy_test", NULL};
static const char *const known_methods[] = {"vs2_float", "vs2_float_normed", "vs2_float_weighted", "vs2",
                                            "vs2_int", "vs2_robust", "vs1", "video_reward", "vision_reward",
                                            "unified_reward", "image_reward", "q_insight", "q_align", "deqa",
                                            "dover", "aigve_macs", "video_phy2_auto_eval", "lift", NULL};

static vs2_status check_name(const char *what, const char *name, const char *const *known, vs2_error *err) {
    for (size_t i = 0; known[i]; i++)
        if (!strcmp(name, known[i])) return VS2_OK;
    char list[512] = "";
    for (size_t i = 0, len = 0; known[i] && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", known[i]);
    return vs2__fail(err, VS2_ERR_INVALID_ARG, "metrics: unknown %s '%s' (known: %s)", what, name, list);
}

/* Integer methods compare scores with the human integers as they are: a soft score such as
 * 3.613 would never match and every accuracy would be a silent 0. */
static vs2_status check_integer_scores(const scores *s, const char *method, vs2_error *err) {
    if (!is(method, "vs2") && !is(method, "vs2_int") && !is(method, "vs2_robust")) return VS2_OK;
    for (size_t i = 0; i < s->n; i++)
        for (int d = 0; d < 3; d++)
            if (s->m[d][i] != floor(s->m[d][i]))
                return vs2__fail(err, VS2_ERR_INVALID_ARG,
                                 "metrics: method '%s' needs integer scores, but item '%s' has %c = %g "
                                 "(soft scores? use method vs2_float)",
                                 method, s->id[i] ? s->id[i] : "?", dim_letter[d], s->m[d][i]);
    return VS2_OK;
}

static int any_human(const scores *s) {
    for (size_t i = 0; i < s->n; i++)
        if (!isnan(s->g[0][i]) || !isnan(s->g[1][i]) || !isnan(s->g[2][i]) || s->overall_from_file) return 1;
    return 0;
}

/* What a (bench, results, pairs) combination lacks for any figure to mean something: no scored
 * item, no human score for a point benchmark, no pairs for a preference benchmark. */
static vs2_status check_data(const vs2_results *r, const scores *s, const vs2_metrics *o, const char *bench,
                             const vs2_manifest *pairs, vs2_error *err) {
    if (s->n == 0)
        return vs2__fail(err, VS2_ERR_UNSUPPORTED,
                         "metrics: no scored items (%zu read, %zu error lines, %zu dropped for a missing score)",
                         o->n_items, r->n_errors, o->n_dropped);
    int has_pairs = pairs && pairs->n_pairs;
    if (preference_bench(bench) && !has_pairs)
        return vs2__fail(err, VS2_ERR_UNSUPPORTED,
                         "metrics: bench %s is pairwise and no preference pairs were given (--gt FILE)", bench);
    if (!preference_bench(bench) && !any_human(s) && !(is(bench, "t2vqa_db") && has_pairs))
        return vs2__fail(err, VS2_ERR_UNSUPPORTED,
                         "metrics: no human scores for bench %s in the results (join them with --gt FILE)", bench);
    return VS2_OK;
}

vs2_status vs2_metrics_compute(const vs2_results *r, const vs2_metrics_params *params,
                               vs2_metrics *out, vs2_error *err) {
    if (!r || !out) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_metrics_compute: NULL argument");
    memset(out, 0, sizeof *out);
    vs2_metrics_params p = params ? *params : vs2_metrics_default_params();
    const char *bench = canonical_bench(p.bench);
    const char *method = p.method ? p.method : "vs2_float";
    vs2_status st = check_name("bench", bench, known_benches, err);
    if (!st) st = check_name("method", method, known_methods, err);
    if (st) return st;
    scores s;
    st = load_scores(r, bench, method, 1, &s, &out->n_items, &out->n_dropped, err);
    if (st) return st;
    st = check_integer_scores(&s, method, err);
    if (!st) st = check_data(r, &s, out, bench, p.pairs, err);
    if (st) {
        scores_free(&s);
        return st;
    }
    if (!preference_bench(bench)) {
        if (!is(bench, "t2vqa_db") && !is(bench, "tvge"))
            st = point_acc(&s, bench, method, p.round_digits, out, err);
        if (!st) st = point_corr(&s, bench, method, p.round_digits, out, err);
    }
    if (!st && p.pairs && p.pairs->n_pairs && (preference_bench(bench) || is(bench, "t2vqa_db"))) {
        /* the pairwise script reads the stored scores; only "videophy" files get v = 0 */
        scores raw;
        size_t ni, nd;
        st = load_scores(r, "", method, 0, &raw, &ni, &nd, err);
        if (!st) st = pairwise(&raw, p.pairs, bench, method, p.round_digits, out, err);
        scores_free(&raw);
    }
    scores_free(&s);
    if (!st) vs2__ok(err);
    return st;
}
