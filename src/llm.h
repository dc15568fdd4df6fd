/* llm.h — the Qwen2.5-VL language model (docs/qwen2.5-vl.md §5): embeddings with the video rows
 * spliced in, M-RoPE (transformers 4.53.2 semantics), 28 pre-norm decoder layers with
 * grouped-query attention (q/k/v biases), SwiGLU, the final norm, the untied lm_head, and a
 * KV cache. */
#ifndef VS2_LLM_H
#define VS2_LLM_H

#include "kernels.h"

typedef struct vs2_llm vs2_llm;
typedef struct vs2_kv_cache vs2_kv_cache;

/* One video in the sequence: video_grid_thw in patches (h, w even) and second_per_grid_t. */
typedef struct vs2_grid {
    int t, h, w;
    double second_per_grid_t;
} vs2_grid;

/* The reference kernel set (weights used as stored). */
vs2_status vs2_llm_create(const vs2_model_files *mf, vs2_llm **out, vs2_error *err);
/* With a kernel set (kernels.h: vs2k_select): its weights are prepared here (int8 sets
 * quantise every matrix, threaded over pool, which may be NULL). */
vs2_status vs2_llm_create_k(const vs2_model_files *mf, const vs2_prep *prep, vs2_llm **out, vs2_error *err);
void vs2_llm_free(vs2_llm *llm);
int32_t vs2_llm_vocab(const vs2_llm *llm); /* config vocab_size: rows of lm_head (152064) */

/* A cache for up to max_tokens positions (prompt + generated). */
vs2_status vs2_kv_cache_create(const vs2_llm *llm, int64_t max_tokens, vs2_kv_cache **out,
                               vs2_error *err);
void vs2_kv_cache_free(vs2_kv_cache *kv);
int64_t vs2_kv_cache_len(const vs2_kv_cache *kv);    /* positions filled so far */
void vs2_kv_cache_truncate(vs2_kv_cache *kv, int64_t len); /* forget positions >= len */
/* Benchmarks only: count the first len positions (≤ capacity) as filled with whatever they hold
 * (zeros in a new cache), to time decoding at a depth without computing a prefill. */
void vs2_kv_cache_set_len(vs2_kv_cache *kv, int64_t len);
/* dst holds src's first len positions (the caches of one model; dst's capacity ≥ len). */
vs2_status vs2_kv_cache_copy(vs2_kv_cache *dst, const vs2_kv_cache *src, int64_t len, vs2_error *err);

/* M-RoPE positions for one unpadded sequence (transformers 4.53.2 get_rope_index, §5.3):
 * pos is 3 rows of n (t, h, w). videos: the grids of the videos in order of appearance
 * (each found as vision_start followed by video_pad tokens). *rope_delta = max(pos)+1 − n.
 * Errors if the number of video_pad tokens does not match the grids. */
vs2_status vs2_rope_index(const vs2_config *cfg, const int32_t *ids, int64_t n,
                          const vs2_grid *videos, int n_videos, int64_t *pos,
                          int64_t *rope_delta, vs2_error *err);

/* inv_freq[f] = 1 / theta^(2f / head_dim), f < head_dim/2, in float32 as torch builds it (fp32
 * exponent, pow rounded to fp32, fp32 reciprocal; docs/qwen2.5-vl.md §5.4). The pow is correctly
 * rounded; torch's may be 1 ulp off in a few entries (rope.c). */
void vs2_rope_inv_freq(int head_dim, double theta, float *inv_freq);

int64_t vs2_kv_cache_capacity(const vs2_kv_cache *kv); /* max_tokens it was created with (fast
                                                        * sets: rounded up to a multiple of 32) */
/* Bytes of KV cache per position for this model and kernel set (fp32, or bf16 in the sets with
 * a bf16 attention). */
double vs2_llm_kv_bytes_per_token(const vs2_llm *llm);

/* Run n tokens through the model after the kv->len tokens already cached, appending their
 * keys/values. video_embeds: n_video rows of hidden_size floats, placed in order at the
 * positions where ids == video_token_id (n_video must equal their count; NULL if none).
 * pos: 3 rows of n positions. logits: if non-NULL, n_logits × vocab floats for the LAST
 * n_logits of the n tokens (1 while generating; n for tests).
 * Dumps "llm.embed", "llm.layer.<i>", "llm.norm" through run->dump (run may be NULL: 1 thread).
 * Positions must lie in [0, 2^24) (exact in fp32). On any error (bad ids, pad/row count, cache
 * overflow, ...) nothing is appended: kv's length is unchanged and the cache stays usable. */
vs2_status vs2_llm_forward(const vs2_llm *llm, vs2_kv_cache *kv, const int32_t *ids, int64_t n,
                           const float *video_embeds, int64_t n_video, const int64_t *pos,
                           float *logits, int64_t n_logits, const vs2_run *run, vs2_error *err);

/* Batched decoding: one new text token for each of B sequences (each with its own cache, all
 * different), in one pass over the weights: decode reads every weight once per step, so B
 * sequences cost little more than one. pos: 3 rows of B positions; logits: B × vocab. Same
 * numbers as B separate vs2_llm_forward calls of one token (the int8 sets quantise each
 * activation row by itself; the row order of a GEMM does not change a row's arithmetic). */
#define VS2_MAX_DECODE_BATCH 64
vs2_status vs2_llm_decode_batch(const vs2_llm *llm, vs2_kv_cache *const *kvs, int B, const int32_t *ids,
                                const int64_t *pos, float *logits, const vs2_run *run, vs2_error *err);

#endif
