/* engine_internal.h — shared by engine.c (load, parameters, dumps), generate.c (one scoring
 * call: vision, prefill, batched decoding) and result.c (reading the scores from a generated
 * answer, means, JSON). Not part of the public API; the unit tests
 * use vs2__sample_finish to run the VideoScore2 layer on a planted answer. */
#ifndef VS2_ENGINE_INTERNAL_H
#define VS2_ENGINE_INTERNAL_H

#include "internal.h"
#include "kernels.h"

/* Everything read from one generated id sequence: the output text (special tokens skipped, ids
 * outside the tokenizer's vocabulary dropped as Hugging Face's fast tokenizer drops them), the
 * rationale, the reference and robust parses with their reasons, and the soft scores from
 * digit_probs[i] = the full-vocabulary probabilities of "1".."5" at generated step i (n rows).
 * Fills s->output, rationale, has_scores/scores/parse_error, has_robust/robust/robust_error,
 * soft/soft_expected/soft_index; takes stop_reason and max_new_tokens for the messages. Does
 * not take ownership of ids. */
vs2_status vs2__sample_finish(const vs2_tokenizer *tok, const int32_t *ids, size_t n,
                              const float (*digit_probs)[5], const char *stop_reason,
                              int max_new_tokens, vs2_sample *s, vs2_error *err);

/* The rationale of an answer (malloc'd): the text between the first "<think>" and the next
 * "</think>" (or the end) when there is a "<think>", else the text before the last "(1)",
 * else the whole text; trimmed of surrounding white space. */
char *vs2__rationale(const char *text, size_t len);

/* The engine's stages, for `vs2 bench` (which times them with the engine's kernel set,
 * prepared weights and threads). */
const struct vs2_llm *vs2__engine_llm(const vs2_engine *e);
const struct vs2_vision *vs2__engine_vision(const vs2_engine *e);

/* Recompute result->mean from result->samples. */
void vs2__result_means(vs2_result *r);

/* Free the contents of one sample (not the struct). */
void vs2__sample_clear(vs2_sample *s);

/* The engine (engine.c loads it; generate.c runs scoring calls on it). Read-only after load. */
struct vs2_engine {
    char *dir;
    vs2_model_files *mf;
    vs2_tokenizer *tok;
    struct vs2_vision *vision;
    struct vs2_llm *llm;
    int threads;
    const vs2_kernels *kernels; /* the kernel set, chosen once at load */
    struct vs2_wcache *wcache;  /* the prepared weights' file, when mapped (outlives the models) */
    int32_t digit_ids[5];
    vs2_log_fn log;
    void *log_user;
};

/* Resolve the decoding settings of params into r (defaults from generation_config.json) and
 * validate them; fills r's decoding fields, threads, backend and stop ids. */
vs2_status vs2__resolve_decoding(const vs2_engine *e, const vs2_score_params *p, vs2_result *r, vs2_error *err);

/* Stage dumps of one call (vs2_score_params.dump_dir / dump): open checks the directory,
 * dump_cb is the vs2_run.dump callback (user = the dumper), close writes index.json and reports
 * any write failure. */
typedef struct dump_entry {
    char *stage;
    int64_t rows, cols;
} dump_entry;

typedef struct dumper {
    const vs2_score_params *p;
    dump_entry *e;
    size_t n, cap;
    int failed;
    char failure[512];
} dumper;

vs2_status vs2__dump_open(dumper *d, const vs2_score_params *p, vs2_error *err);
void vs2__dump_cb(void *user, const char *stage, const float *x, int64_t rows, int64_t cols);
vs2_status vs2__dump_close(dumper *d, vs2_error *err);

#endif
