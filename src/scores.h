/* scores.h — reading the three VideoScore2 scores from a generated answer
 * (docs/videoscore2-reference.md §2.6, §2.7, §2.8). */
#ifndef VS2_SCORES_H
#define VS2_SCORES_H

#include "vs2.h"

/* Dimensions in VS2_DIM_* order (vs2.h): visual quality, text-to-video alignment,
 * physical/common-sense consistency. */

/* The reference hard parse: the first match of the reference regex over the whole text
 * (DOTALL, IGNORECASE), groups read with int(). Returns 1 and fills s on a match, else 0. */
int vs2_parse_hard_reference(const char *text, size_t len, long s[VS2_NDIMS]);

/* The robust parse: anchored on the LAST numbered list "(1) ...: v (2) ...: t (3) ...: p",
 * tolerant of text between label and colon; values must be 1..5. Returns 1 and fills s, or
 * 0 with a reason in why. */
int vs2_parse_hard_robust(const char *text, size_t len, long s[VS2_NDIMS], char *why,
                          size_t why_len);

/* Soft scores (§2.7): for each dimension, the generated-token index of its score digit found
 * as the reference does (first label match, first digit after it, smallest prefix of the
 * decoded generated ids equal to the text up to that digit), then, from digit_probs[index] =
 * the full-vocabulary softmax probabilities of the tokens "1".."5" at that step:
 * normed = s*·p(s*)/Σp (s* = first argmax) and expected = Σ s·p(s)/Σp.
 * A dimension without a label, digit or index gets index -1 and NaN values; why[d] then names
 * the cause (a static string; NULL when both values are set). digit_probs may be NULL: the
 * indices are still found, the values stay NaN. With Σp = 0, normed is 0 (as the reference)
 * and expected NaN (the reference divides by zero). See docs/scores.md §4. */
typedef struct vs2_soft {
    double normed[VS2_NDIMS];
    double expected[VS2_NDIMS];
    int64_t index[VS2_NDIMS];
    const char *why[VS2_NDIMS];
} vs2_soft;

vs2_status vs2_soft_scores(const vs2_tokenizer *tok, const int32_t *gen_ids, int64_t n_gen,
                           const float (*digit_probs)[5], vs2_soft *out, vs2_error *err);

/* The reference reports no soft score at all when its hard regex found nothing (§2.7 step 3):
 * with hard_matched == 0 every dimension becomes index -1, NaN, why "no reference hard score".
 * hard_matched != 0 leaves soft unchanged. */
void vs2_soft_apply_hard(vs2_soft *soft, int hard_matched);

/* The ids of the single-token digits "1".."5" (-1 where a digit is not one token). */
void vs2_digit_ids(const vs2_tokenizer *tok, int32_t ids[5]);

#endif
