/* rank.c — Best-of-N ranking of scored candidates (docs/batch.md): the key of a result and the
 * order of n keys (descending, first index on ties, candidates without a key last). */
#include "eval_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const rank_names[] = {"hard", "robust", "soft", "soft_expected"};

vs2_rank_params vs2_rank_default_params(void) {
    vs2_rank_params p;
    memset(&p, 0, sizeof p);
    p.by = VS2_RANK_HARD;
    for (int d = 0; d < VS2_NDIMS; d++) p.weights[d] = 1.0 / 3.0;
    return p;
}

int vs2_rank_by_from_name(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < (int)(sizeof rank_names / sizeof rank_names[0]); i++)
        if (!strcmp(name, rank_names[i])) return i;
    return -1;
}

const char *vs2_rank_by_name(vs2_rank_by by) {
    if ((int)by < 0 || (int)by >= (int)(sizeof rank_names / sizeof rank_names[0])) return "?";
    return rank_names[by];
}

/* The three values of one kind: the sample's own for a single sample, else the means. */
void ev_rank_values(const vs2_result *r, vs2_rank_by by, double v[VS2_NDIMS]) {
    for (int d = 0; d < VS2_NDIMS; d++) v[d] = NAN;
    if (!r || !r->n_samples || !r->samples) return;
    if (r->n_samples == 1) {
        const vs2_sample *s = &r->samples[0];
        for (int d = 0; d < VS2_NDIMS; d++) {
            switch (by) {
            case VS2_RANK_HARD: v[d] = s->has_scores ? (double)s->scores[d] : NAN; break;
            case VS2_RANK_ROBUST: v[d] = s->has_robust ? (double)s->robust[d] : NAN; break;
            case VS2_RANK_SOFT: v[d] = s->soft[d]; break;
            case VS2_RANK_SOFT_EXPECTED: v[d] = s->soft_expected[d]; break;
            }
        }
        return;
    }
    const vs2_score_mean *m = &r->mean;
    for (int d = 0; d < VS2_NDIMS; d++) {
        switch (by) {
        case VS2_RANK_HARD: v[d] = m->scores[d]; break;
        case VS2_RANK_ROBUST: v[d] = m->robust[d]; break;
        case VS2_RANK_SOFT: v[d] = m->soft[d]; break;
        case VS2_RANK_SOFT_EXPECTED: v[d] = m->soft_expected[d]; break;
        }
    }
}

double vs2_rank_key(const vs2_result *result, const vs2_rank_params *params) {
    vs2_rank_params def = vs2_rank_default_params();
    const vs2_rank_params *p = params ? params : &def;
    double v[VS2_NDIMS];
    ev_rank_values(result, p->by, v);
    if (!p->weighted) {
        /* np.mean of three values: ((v + t) + p) / 3, so equal integer sums tie exactly. */
        for (int d = 0; d < VS2_NDIMS; d++)
            if (!isfinite(v[d])) return NAN;
        return (v[0] + v[1] + v[2]) / 3.0;
    }
    double k = 0;
    for (int d = 0; d < VS2_NDIMS; d++) {
        if (p->weights[d] == 0) continue;
        if (!isfinite(v[d])) return NAN;
        k += p->weights[d] * v[d];
    }
    return k;
}

void vs2_rank_order(const double *keys, size_t n, size_t *order) {
    if (!order) return;
    /* Insertion sort: stable, n is a handful of candidates; O(n^2) is fine up to thousands. */
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        double ki = keys ? keys[i] : NAN;
        int ki_ok = !isnan(ki);
        while (j > 0) {
            double kp = keys ? keys[order[j - 1]] : NAN;
            int kp_ok = !isnan(kp);
            /* move i before order[j-1] only if strictly better */
            int better = ki_ok && (!kp_ok || ki > kp);
            if (!better) break;
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
}

void vs2_rank_values(const vs2_result *result, vs2_rank_by by, double v[VS2_NDIMS]) {
    ev_rank_values(result, by, v);
}

/* ---- Best-of-N: score every candidate, then rank (vs2 rank, vs2 batch --groups) ------- */

void vs2_rank_result_free(vs2_rank_result *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        if (r->results) vs2_result_free(r->results[i]);
        if (r->errors) free(r->errors[i]);
    }
    free(r->results), free(r->errors), free(r->keys), free(r->order);
    free(r);
}

static vs2_rank_result *rank_result_new(size_t n) {
    vs2_rank_result *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    size_t m = n ? n : 1;
    r->n = n;
    r->results = calloc(m, sizeof *r->results);
    r->errors = calloc(m, sizeof *r->errors);
    r->keys = malloc(m * sizeof *r->keys);
    r->order = calloc(m, sizeof *r->order);
    if (!r->results || !r->errors || !r->keys || !r->order) {
        vs2_rank_result_free(r);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) r->keys[i] = NAN;
    return r;
}

/* A result cut short by the score params' on_token callback is not a score. */
static int stopped_by_callback(const vs2_result *res) {
    for (size_t k = 0; res && k < res->n_samples; k++)
        if (res->samples[k].stop_reason && !strcmp(res->samples[k].stop_reason, "callback")) return 1;
    return 0;
}

/* Candidates scored per vs2_score_batch call: 8 answers share each pass over the weights. */
#define RANK_ROUND 8

/* The loop of vs2_rank and vs2_rank_videos: exactly one of paths and videos is set. */
static vs2_status rank_run(const vs2_engine *eng, const char *prompt, const char *const *paths,
                           const vs2_video *const *videos, size_t n, const vs2_score_params *sp,
                           const vs2_rank_params *rp, vs2_rank_result **out, vs2_error *err) {
    if (out) *out = NULL;
    if (!eng || !prompt || !out || (n && !paths && !videos))
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "rank: engine, prompt, candidates and out are required");
    vs2_rank_params def = vs2_rank_default_params();
    if (!rp) rp = &def;
    vs2_rank_result *r = rank_result_new(n);
    if (!r) return vs2__fail(err, VS2_ERR_NOMEM, "rank: out of memory for %zu candidates", n);
    /* Candidates in rounds of RANK_ROUND: their answers decode together (vs2_score_batch). */
    for (size_t i0 = 0; i0 < n && !r->stopped; i0 += RANK_ROUND) {
        const size_t m = n - i0 < RANK_ROUND ? n - i0 : RANK_ROUND;
        vs2_score_item items[RANK_ROUND];
        vs2_error errs[RANK_ROUND], e;
        for (size_t k = 0; k < m; k++)
            items[k] = (vs2_score_item){paths ? paths[i0 + k] : NULL, paths ? NULL : videos[i0 + k], prompt};
        vs2_status st = vs2_score_batch(eng, items, m, sp, r->results + i0, errs, &e);
        if (st != VS2_OK) {
            vs2_rank_result_free(r);
            return vs2__fail(err, st, "rank: %s", e.message);
        }
        for (size_t k = 0; k < m; k++) {
            const size_t i = i0 + k;
            if (!r->results[i] && errs[k].status == VS2_ERR_NOMEM) {
                vs2_rank_result_free(r);
                return vs2__fail(err, VS2_ERR_NOMEM, "rank: candidate %zu: %s", i, errs[k].message);
            }
            if (!r->results[i]) {
                r->errors[i] = strdup(errs[k].message);
                r->n_failed++;
                if (!r->errors[i]) {
                    vs2_rank_result_free(r);
                    return vs2__fail(err, VS2_ERR_NOMEM, "rank: out of memory");
                }
            } else if (stopped_by_callback(r->results[i])) {
                vs2_result_free(r->results[i]);
                r->results[i] = NULL;
                r->stopped = 1;
            } else {
                r->keys[i] = vs2_rank_key(r->results[i], rp);
                r->n_keyed += !isnan(r->keys[i]);
            }
            if (rp->on_candidate) rp->on_candidate(rp->on_candidate_user, i + 1, n);
        }
    }
    vs2_rank_order(r->keys, n, r->order);
    *out = r;
    vs2__ok(err);
    return VS2_OK;
}

vs2_status vs2_rank(const vs2_engine *eng, const char *prompt, const char *const *video_paths, size_t n,
                    const vs2_score_params *sp, const vs2_rank_params *rp, vs2_rank_result **out,
                    vs2_error *err) {
    for (size_t i = 0; video_paths && i < n; i++)
        if (!video_paths[i]) return vs2__fail(err, VS2_ERR_INVALID_ARG, "rank: candidate %zu: no video path", i);
    return rank_run(eng, prompt, video_paths, NULL, n, sp, rp, out, err);
}

vs2_status vs2_rank_videos(const vs2_engine *eng, const char *prompt, const vs2_video *const *videos, size_t n,
                           const vs2_score_params *sp, const vs2_rank_params *rp, vs2_rank_result **out,
                           vs2_error *err) {
    for (size_t i = 0; videos && i < n; i++)
        if (!videos[i]) return vs2__fail(err, VS2_ERR_INVALID_ARG, "rank: candidate %zu: no video", i);
    return rank_run(eng, prompt, NULL, videos, n, sp, rp, out, err);
}

/* ---- the ranking as JSON ------------------------------------------------------------ */

static void json_dims(ev_buf *b, const char *name, const double v[VS2_NDIMS]) {
    ev_buf_printf(b, ",\"%s\":{", name);
    for (int d = 0; d < VS2_NDIMS; d++) {
        ev_buf_printf(b, "%s\"%s\":", d ? "," : "", ev_dim_keys[d]);
        ev_buf_json_num(b, v[d]);
    }
    ev_buf_puts(b, "}");
}

static const char *candidate_name(const vs2_rank_result *r, const char *const *names, size_t i) {
    if (names) return names[i];
    const vs2_result *res = r->results[i];
    return res && res->video && *res->video ? res->video : NULL;
}

/* One candidate: its index, name, rank and key, then its whole result (full), a summary of its
 * scores, or the reason it has none. */
static void json_candidate(ev_buf *b, const vs2_rank_result *r, const char *const *names, size_t i, int full) {
    size_t rank = 0;
    for (size_t k = 0; k < r->n; k++)
        if (r->order[k] == i) rank = k + 1;
    ev_buf_printf(b, "%s{\"index\":%zu,\"video\":", i ? "," : "", i);
    ev_buf_json_str(b, candidate_name(r, names, i));
    ev_buf_printf(b, ",\"rank\":%zu,\"key\":", rank);
    ev_buf_json_num(b, r->keys[i]);
    const vs2_result *res = r->results[i];
    if (!res) {
        ev_buf_puts(b, ",\"error\":");
        ev_buf_json_str(b, r->errors[i] ? r->errors[i] : "not scored (interrupted)");
    } else if (full) {
        char *js = vs2_result_to_json(res);
        if (!js) b->oom = 1;
        ev_buf_puts(b, ",\"result\":");
        if (js) ev_buf_puts(b, js);
        free(js);
    } else {
        static const char *const kinds[4] = {"scores", "scores_robust", "soft_scores", "soft_scores_expected"};
        double v[VS2_NDIMS];
        for (int k = 0; k < 4; k++) {
            ev_rank_values(res, (vs2_rank_by)k, v);
            json_dims(b, kinds[k], v);
        }
        const vs2_sample *s = res->n_samples ? &res->samples[0] : NULL;
        ev_buf_puts(b, ",\"parse_error\":");
        ev_buf_json_str(b, s ? s->parse_error : NULL);
        size_t gen = 0;
        for (size_t k = 0; k < res->n_samples; k++) gen += res->samples[k].n_ids;
        ev_buf_printf(b, ",\"generated_tokens\":%zu", gen);
    }
    ev_buf_puts(b, "}");
}

static void json_head(ev_buf *b, const vs2_rank_result *r, const char *prompt, const char *const *names,
                      const vs2_rank_params *rp) {
    ev_buf_puts(b, "{\"prompt\":");
    ev_buf_json_str(b, prompt);
    ev_buf_printf(b, ",\"by\":\"%s\",\"weights\":", vs2_rank_by_name(rp->by));
    if (rp->weighted) {
        for (int d = 0; d < VS2_NDIMS; d++) {
            ev_buf_puts(b, d ? "," : "[");
            ev_buf_json_num(b, rp->weights[d]);
        }
        ev_buf_puts(b, "]");
    } else {
        ev_buf_puts(b, "null");
    }
    if (r->n && !isnan(r->keys[r->order[0]])) {
        ev_buf_printf(b, ",\"best\":%zu,\"best_video\":", r->order[0]);
        ev_buf_json_str(b, candidate_name(r, names, r->order[0]));
    } else {
        ev_buf_puts(b, ",\"best\":null,\"best_video\":null");
    }
    ev_buf_puts(b, ",\"ranking\":[");
    for (size_t k = 0; k < r->n; k++) ev_buf_printf(b, "%s%zu", k ? "," : "", r->order[k]);
    ev_buf_puts(b, "]");
}

char *vs2_rank_result_to_json(const vs2_rank_result *r, const char *prompt, const char *const *names,
                              const vs2_rank_params *rp, int full) {
    if (!r) return NULL;
    vs2_rank_params def = vs2_rank_default_params();
    if (!rp) rp = &def;
    ev_buf b = {0};
    json_head(&b, r, prompt, names, rp);
    ev_buf_puts(&b, ",\"candidates\":[");
    for (size_t i = 0; i < r->n; i++) json_candidate(&b, r, names, i, full);
    ev_buf_puts(&b, "]");
    if (r->stopped) {
        ev_buf_puts(&b, ",\"error\":\"interrupted\"");
    } else if (r->n_failed) {
        ev_buf_printf(&b, ",\"error\":\"%zu of %zu candidates could not be scored\"", r->n_failed, r->n);
    } else if (!r->n_keyed) {
        ev_buf_puts(&b, ",\"error\":\"no candidate has scores to rank by\"");
    }
    ev_buf_puts(&b, "}");
    if (b.oom) {
        ev_buf_free(&b);
        return NULL;
    }
    return b.data;
}
