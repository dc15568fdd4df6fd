/* rope.c — M-RoPE position ids and inverse frequencies of the Qwen2.5-VL language model
 * (docs/qwen2.5-vl.md §5.3–§5.4), with transformers 4.53.2 semantics (docs/videoscore2-reference.md decision a).
 *
 * Positions: text runs get t = h = w = running index; the T×H'×W' tokens of a video (H' = h/m,
 * W' = w/m for the spatial merge size m) get (start + t·trunc(spg)·tokens_per_second,
 * start + h', start + w') in raster order, where start is one past the largest position so
 * far plus the text before the video; the next text resumes at max + 1. The truncation of
 * second_per_grid_t to an integer before multiplying is the 4.52+ behaviour (PR #37597):
 * spg 1.1085 gives 2t, spg 0.5 gives 0. rope_delta = max + 1 − n is what decoding adds to the
 * cache index (§5.5). */
#include "internal.h"
#include "llm.h"

#include <math.h>

#define ROPE_MAX_POSITION (INT64_C(1) << 24) /* positions are exact in fp32 below 2^24 (llm.h) */

/* torch: arange(0, dim, 2) as float32 → / dim (fp32) → base ** x (fp32 pow) → 1 / x (fp32).
 * The fp32 pow is the one step that is not exactly reproducible: torch's CPU kernel (SLEEF,
 * 1-ulp accuracy) is not correctly rounded, and neither CUDA's powf nor glibc's powf agree
 * with it everywhere. vs2 uses the correctly rounded pow (double pow, rounded once), which is
 * platform-independent. For head_dim 128, theta 1e6 it differs from torch 1.13 on x86-64 in one
 * entry of 64 (f = 37: 2942.7273 vs 2942.7271, 1 ulp), i.e. angles differ by < 2e-7 rad at
 * position 7,000 — far below the fp32 comparison tolerances (t_llm_ref checks the table against
 * torch to 1 ulp). */
void vs2_rope_inv_freq(int head_dim, double theta, float *inv_freq) {
    const float base = (float)theta;
    for (int f = 0; f < head_dim / 2; f++) {
        float e = (float)(2 * f) / (float)head_dim;
        float p = (float)pow((double)base, (double)e);
        inv_freq[f] = 1.0f / p;
    }
}

vs2_status vs2_rope_index(const vs2_config *cfg, const int32_t *ids, int64_t n,
                          const vs2_grid *videos, int n_videos, int64_t *pos,
                          int64_t *rope_delta, vs2_error *err) {
    if (!cfg || !ids || !pos || !rope_delta || n_videos < 0 || (n_videos > 0 && !videos))
        return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_rope_index: NULL or negative argument");
    if (n <= 0) return vs2__fail(err, VS2_ERR_INVALID_ARG, "vs2_rope_index: empty sequence");
    const int64_t m = cfg->vision.spatial_merge_size, tps = cfg->vision.tokens_per_second;
    const int32_t vstart = cfg->vision_start_token_id, vpad = cfg->video_token_id;
    if (m <= 0 || tps < 0)
        return vs2__fail(err, VS2_ERR_MODEL, "config: spatial_merge_size %lld, tokens_per_second %lld",
                         (long long)m, (long long)tps);

    /* The grids: positive, spatially divisible by the merge size, sane spg. */
    int64_t grid_tokens = 0;
    for (int v = 0; v < n_videos; v++) {
        const vs2_grid *g = &videos[v];
        if (g->t <= 0 || g->h <= 0 || g->w <= 0 || g->h % m || g->w % m)
            return vs2__fail(err, VS2_ERR_INVALID_ARG,
                             "video %d: grid (t %d, h %d, w %d) must be positive with h, w divisible "
                             "by the spatial merge size %lld", v, g->t, g->h, g->w, (long long)m);
        if (!(g->second_per_grid_t >= 0.0) || g->second_per_grid_t > 1e9)
            return vs2__fail(err, VS2_ERR_INVALID_ARG, "video %d: second_per_grid_t %g is not in [0, 1e9]",
                             v, g->second_per_grid_t);
        grid_tokens += (int64_t)g->t * (g->h / m) * (g->w / m);
    }

    /* The ids: one video per <|vision_start|><|video_pad|> pair; as many pads as grid tokens. */
    int64_t items = 0, pads = 0;
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] == vpad) pads++;
        if (ids[i] == vstart && i + 1 < n) {
            if (ids[i + 1] == vpad) items++;
            else if (ids[i + 1] == cfg->image_token_id)
                return vs2__fail(err, VS2_ERR_UNSUPPORTED,
                                 "token %lld: an image item (<|vision_start|><|image_pad|>); only videos "
                                 "are supported", (long long)i);
        }
    }
    if (items != n_videos)
        return vs2__fail(err, VS2_ERR_INVALID_ARG,
                         "the ids hold %lld videos (<|vision_start|><|video_pad|>) but %d grids were given",
                         (long long)items, n_videos);
    if (pads != grid_tokens)
        return vs2__fail(err, VS2_ERR_INVALID_ARG,
                         "the ids hold %lld <|video_pad|> tokens but the grids need %lld", (long long)pads,
                         (long long)grid_tokens);

    int64_t *pt = pos, *ph = pos + n, *pw = pos + 2 * n;
    int64_t st = 0;   /* next unassigned token */
    int64_t next = 0; /* max position so far + 1 */
    for (int v = 0; v < n_videos; v++) {
        const vs2_grid *g = &videos[v];
        int64_t ed = st;
        while (ed < n && ids[ed] != vpad) ed++;
        const int64_t T = g->t, Hm = g->h / m, Wm = g->w / m, cnt = T * Hm * Wm;
        int64_t run = 0;
        while (ed + run < n && run < cnt && ids[ed + run] == vpad) run++;
        if (run != cnt)
            return vs2__fail(err, VS2_ERR_INVALID_ARG,
                             "video %d: %lld consecutive <|video_pad|> tokens at %lld, the grid needs %lld",
                             v, (long long)run, (long long)ed, (long long)cnt);
        for (int64_t i = st; i < ed; i++) pt[i] = ph[i] = pw[i] = next + (i - st);
        const int64_t start = next + (ed - st);
        /* 4.52+: spg is cast to int64 (truncated) before multiplying. */
        const int64_t step = (int64_t)trunc(g->second_per_grid_t) * tps;
        /* The last temporal position, checked here where its causes are known (the llm only sees
         * the number); overflow-checked, as the config may come from a caller, not config.c. */
        int64_t last;
        if (__builtin_mul_overflow(T - 1, step, &last) || __builtin_add_overflow(last, start, &last))
            last = INT64_MAX;
        if (last >= ROPE_MAX_POSITION)
            return vs2__fail(err, VS2_ERR_INVALID_ARG,
                             "video %d: %lld temporal grid steps × %lld positions each (config.json "
                             "vision_config.tokens_per_second %lld × %g seconds per grid step, truncated) "
                             "reach position %lld, past the 2^24 positions the model represents exactly",
                             v, (long long)T, (long long)step, (long long)tps, g->second_per_grid_t,
                             (long long)last);
        int64_t mx = start;
        for (int64_t t = 0, k = ed; t < T; t++)
            for (int64_t y = 0; y < Hm; y++)
                for (int64_t x = 0; x < Wm; x++, k++) {
                    pt[k] = start + t * step;
                    ph[k] = start + y;
                    pw[k] = start + x;
                    if (pt[k] > mx) mx = pt[k];
                    if (ph[k] > mx) mx = ph[k];
                    if (pw[k] > mx) mx = pw[k];
                }
        next = mx + 1;
        st = ed + cnt;
    }
    for (int64_t i = st; i < n; i++) pt[i] = ph[i] = pw[i] = next + (i - st);
    if (st < n) next += n - st;
    *rope_delta = next - n;
    vs2__ok(err);
    return VS2_OK;
}
