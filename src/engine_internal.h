/* engine_internal.h — shared by engine.c (load, prefill, decode loop) and result.c (reading
 * the scores from a generated answer, means, JSON). Not part of the public API; the unit tests
 * use vs2__sample_finish to run the VideoScore2 layer on a planted answer. */
#ifndef VS2_ENGINE_INTERNAL_H
#define VS2_ENGINE_INTERNAL_H

#include "internal.h"

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

/* Internal hook for `vs2 serve` (OpenAI logprobs): called in the scoring thread after each
 * generated token with the logits the token was chosen from (processed as the decoding settings
 * say: the distribution the soft scores read). Thread-local, set around one vs2_score* call by
 * the caller's thread and cleared with NULL; no effect on anything else. */
typedef void (*vs2__logits_fn)(void *user, int sample, int step, const float *logits, int32_t n_vocab, int32_t id);
void vs2__set_logits_hook(vs2__logits_fn fn, void *user);

/* Recompute result->mean from result->samples. */
void vs2__result_means(vs2_result *r);

/* Free the contents of one sample (not the struct). */
void vs2__sample_clear(vs2_sample *s);

#endif
