/* sampler.c — Hugging Face's logits processors and the next-token choice (docs/scores.md §1).
 *
 * Semantics follow transformers 4.53 (generation/logits_process.py, utils.py
 * _get_logits_processor), evaluated as torch does on fp32 logits on the CPU:
 *   RepetitionPenalty  each DISTINCT id of the sequence so far, once: l < 0 ? l * p : l / p,
 *                      with p rounded to float (torch casts the Python scalar to the tensor dtype);
 *   Temperature        l / (float)T  (an IEEE division; CUDA torch multiplies by 1/T, <= 1 ulp apart);
 *   TopK               k = min(top_k, V); l < (k-th largest value) -> -inf (ties at the k-th value kept);
 *   TopP               stable ascending sort, softmax, cumulative sum (double accumulator rounded to
 *                      float, as torch's CPU cumsum), remove cum <= (float)(1 - top_p), never the last.
 * Warpers run only when do_sample; temperature 1.0, top_k 0 and top_p >= 1.0 are off, as in
 * transformers. Greedy: first maximal index (torch.argmax; a NaN counts as the maximum).
 * Sampling: categorical draw over softmax(processed logits) computed in double, with
 * xoshiro256** seeded through splitmix64 (torch.multinomial's stream is not reproduced). */
#include "sampler.h"

#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct vs2_sampler {
    vs2_sampling p;
    int32_t n_vocab;
    uint8_t *seen;     /* n_vocab flags */
    int32_t *distinct; /* ids recorded, each once */
    int64_t n_distinct;
    uint32_t *keys;    /* scratch: n_vocab */
    uint64_t *pairs;   /* scratch: n_vocab (key << 32 | id) */
    uint64_t rng[4];
};

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoshiro256** 1.0 (Blackman & Vigna). */
static uint64_t xoshiro_next(uint64_t s[4]) {
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

vs2_status vs2_sampler_create(const vs2_sampling *params, int32_t n_vocab, vs2_sampler **out,
                              vs2_error *err) {
    if (!out) return vs2__fail(err, VS2_ERR_INVALID_ARG, "sampler: out is NULL");
    *out = NULL;
    if (!params) return vs2__fail(err, VS2_ERR_INVALID_ARG, "sampler: params is NULL");
    if (n_vocab <= 0)
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "sampler: n_vocab %d is not positive", n_vocab);
    if (!(params->repetition_penalty > 0) || !isfinite(params->repetition_penalty))
        return vs2__fail(err, VS2_ERR_INVALID_ARG,
                         "sampler: repetition_penalty %g has to be a strictly positive float",
                         params->repetition_penalty);
    if (params->do_sample) {
        if (!(params->temperature > 0) || !isfinite(params->temperature))
            return vs2__fail(err, VS2_ERR_INVALID_ARG,
                             "sampler: temperature %g has to be a strictly positive float "
                             "(use greedy decoding for temperature 0)",
                             params->temperature);
        if (params->top_k < 0)
            return vs2__fail(err, VS2_ERR_INVALID_ARG, "sampler: top_k %d is negative",
                             params->top_k);
        if (!(params->top_p >= 0 && params->top_p <= 1.0))
            return vs2__fail(err, VS2_ERR_INVALID_ARG, "sampler: top_p %g is outside [0, 1]",
                             params->top_p);
    }
    vs2_sampler *s = calloc(1, sizeof *s);
    if (!s) return vs2__fail(err, VS2_ERR_NOMEM, "sampler: out of memory");
    s->p = *params;
    s->n_vocab = n_vocab;
    s->seen = calloc((size_t)n_vocab, 1);
    s->distinct = malloc((size_t)n_vocab * sizeof *s->distinct);
    s->keys = malloc((size_t)n_vocab * sizeof *s->keys);
    s->pairs = malloc((size_t)n_vocab * sizeof *s->pairs);
    if (!s->seen || !s->distinct || !s->keys || !s->pairs) {
        vs2_sampler_free(s);
        return vs2__fail(err, VS2_ERR_NOMEM, "sampler: out of memory (vocabulary %d)", n_vocab);
    }
    uint64_t x = params->seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&x);
    *out = s;
    vs2__ok(err);
    return VS2_OK;
}

void vs2_sampler_free(vs2_sampler *s) {
    if (!s) return;
    free(s->seen);
    free(s->distinct);
    free(s->keys);
    free(s->pairs);
    free(s);
}

void vs2_sampler_accept(vs2_sampler *s, const int32_t *ids, int64_t n) {
    if (!s || !ids) return;
    for (int64_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        /* An id outside the vocabulary cannot be penalised (torch's gather would raise); it is
         * ignored here. */
        if (id < 0 || id >= s->n_vocab || s->seen[id]) continue;
        s->seen[id] = 1;
        s->distinct[s->n_distinct++] = id;
    }
}

/* A key whose unsigned order is the float order, NaN above +inf (torch.topk / sort treat NaN
 * as the largest value). -0.0 sorts just below +0.0; comparisons below use the float value. */
static uint32_t float_key(float f) {
    if (isnan(f)) return 0xffffffffu;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static float key_float(uint32_t k) {
    uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* The k-th largest key (k >= 1) of keys[0..n) by radix selection (4 passes of 8 bits). */
static uint32_t kth_largest_key(const uint32_t *keys, int32_t n, int32_t k) {
    uint32_t prefix = 0, mask = 0;
    int64_t want = k; /* rank among the keys matching prefix/mask, counted from the top */
    for (int shift = 24; shift >= 0; shift -= 8) {
        int64_t hist[256] = {0};
        for (int32_t i = 0; i < n; i++)
            if ((keys[i] & mask) == prefix) hist[(keys[i] >> shift) & 0xff]++;
        int b = 255;
        for (; b > 0; b--) {
            if (hist[b] >= want) break;
            want -= hist[b];
        }
        prefix |= (uint32_t)b << shift;
        mask |= 0xffu << shift;
    }
    return prefix;
}

static void top_k_filter(vs2_sampler *s, float *l) {
    int32_t n = s->n_vocab;
    int32_t k = s->p.top_k < n ? s->p.top_k : n; /* min_tokens_to_keep = 1 <= top_k */
    if (k >= n) return;                          /* keeps everything */
    for (int32_t i = 0; i < n; i++) s->keys[i] = float_key(l[i]);
    uint32_t kk = kth_largest_key(s->keys, n, k);
    if (kk == 0xffffffffu) return; /* the k-th value is NaN: nothing compares below it */
    float kth = key_float(kk);
    for (int32_t i = 0; i < n; i++)
        if (l[i] < kth) l[i] = -INFINITY;
}

/* Ascending by value, ties by ascending id: torch's sort of a vocabulary row is stable. */
static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void top_p_filter(vs2_sampler *s, float *l) {
    int32_t n = s->n_vocab;
    /* Ids already at -inf have probability 0 and sort first; they are removed (cum 0 <= thr)
     * and stay -inf, so only the others need sorting. */
    int32_t m = 0;
    float mx = -INFINITY;
    for (int32_t i = 0; i < n; i++) {
        if (l[i] == -INFINITY) continue;
        s->pairs[m++] = ((uint64_t)float_key(l[i]) << 32) | (uint32_t)i;
        if (l[i] > mx) mx = l[i];
    }
    if (m <= 1 || !isfinite(mx)) return;
    qsort(s->pairs, (size_t)m, sizeof *s->pairs, cmp_u64);
    double sum = 0;
    for (int32_t j = 0; j < m; j++) sum += exp((double)l[(int32_t)(uint32_t)s->pairs[j]] - (double)mx);
    const float thr = (float)(1.0 - s->p.top_p);
    double cum = 0;
    int32_t n_remove = 0;
    for (int32_t j = 0; j < m - 1; j++) { /* the last (largest) is always kept */
        float pj = (float)(exp((double)l[(int32_t)(uint32_t)s->pairs[j]] - (double)mx) / sum);
        cum += (double)pj;
        if ((float)cum <= thr)
            n_remove = j + 1;
        else
            break; /* the cumulative sum only grows */
    }
    for (int32_t j = 0; j < n_remove; j++) l[(int32_t)(uint32_t)s->pairs[j]] = -INFINITY;
}

static int32_t argmax_first(const float *l, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 0; i < n; i++) {
        if (isnan(l[i])) return i;
        if (l[i] > l[best]) best = i;
    }
    return best;
}

static int32_t sample_categorical(vs2_sampler *s, const float *l) {
    int32_t n = s->n_vocab;
    float mx = -INFINITY;
    for (int32_t i = 0; i < n; i++)
        if (l[i] > mx) mx = l[i];
    if (!isfinite(mx)) return argmax_first(l, n); /* no valid distribution: torch would raise */
    double total = 0;
    for (int32_t i = 0; i < n; i++)
        if (l[i] > -INFINITY) total += exp((double)l[i] - (double)mx);
    if (!(total > 0) || !isfinite(total)) return argmax_first(l, n);
    double u = (double)(xoshiro_next(s->rng) >> 11) * 0x1.0p-53; /* [0, 1) */
    double target = u * total, acc = 0;
    int32_t last = -1;
    for (int32_t i = 0; i < n; i++) {
        if (!(l[i] > -INFINITY)) continue;
        double w = exp((double)l[i] - (double)mx);
        if (w <= 0) continue;
        acc += w;
        last = i;
        if (target < acc) return i;
    }
    return last >= 0 ? last : argmax_first(l, n); /* rounding left target at the very end */
}

int32_t vs2_sampler_next(vs2_sampler *s, float *logits) {
    if (!s || !logits) return -1;
    int32_t n = s->n_vocab;
    if (s->p.repetition_penalty != 1.0) {
        const float pen = (float)s->p.repetition_penalty;
        for (int64_t j = 0; j < s->n_distinct; j++) {
            float v = logits[s->distinct[j]];
            logits[s->distinct[j]] = v < 0 ? v * pen : v / pen;
        }
    }
    if (!s->p.do_sample) return argmax_first(logits, n);
    if (s->p.temperature != 1.0) {
        const float t = (float)s->p.temperature;
        for (int32_t i = 0; i < n; i++) logits[i] = logits[i] / t;
    }
    if (s->p.top_k != 0) top_k_filter(s, logits);
    if (s->p.top_p < 1.0) top_p_filter(s, logits);
    return sample_categorical(s, logits);
}
