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
