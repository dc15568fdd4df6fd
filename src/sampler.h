/* sampler.h — next-token choice with Hugging Face's logits processors (docs/videoscore2-reference.md §2.5,
 * docs/qwen2.5-vl.md §1.3): repetition penalty over the whole sequence (prompt and video tokens
 * included), then, when sampling, temperature, top-k and top-p in that order; greedy takes
 * the argmax (lowest index on ties). */
#ifndef VS2_SAMPLER_H
#define VS2_SAMPLER_H

#include "vs2.h"

typedef struct vs2_sampling {
    int do_sample;             /* 0: greedy */
    double temperature;        /* used when do_sample */
    int top_k;                 /* 0 = off */
    double top_p;              /* 1.0 = off */
    double repetition_penalty; /* 1.0 = off; applied in greedy mode too, as transformers does */
    uint64_t seed;
} vs2_sampling;

typedef struct vs2_sampler vs2_sampler;

vs2_status vs2_sampler_create(const vs2_sampling *params, int32_t n_vocab, vs2_sampler **out,
                              vs2_error *err);
void vs2_sampler_free(vs2_sampler *s);
/* Record tokens of the sequence (the prompt once, then each chosen token); the repetition
 * penalty applies to every distinct id recorded. */
void vs2_sampler_accept(vs2_sampler *s, const int32_t *ids, int64_t n);
/* Process logits[n_vocab] IN PLACE exactly as transformers would (the result is what
 * generate() returns in `scores`; -INFINITY for filtered ids) and choose the next id. */
int32_t vs2_sampler_next(vs2_sampler *s, float *logits);

#endif
