/* test_prompt.c — the VideoScore2 templates against the JSON literals copied from the public
 * release into tests/data/videoscore2/templates.md (read at test time), string.Template
 * substitution, the chat rendering of docs/videoscore2-reference.md §2.3 and the chat ids of
 * docs/qwen2.5-vl.md §6. */
#include "check.h"
#include "internal.h"

#include <jansson.h>

static char templates_path[1024];

/* The n-th ```json string literal of the templates file, decoded (malloc'd), or NULL. */
static char *template_literal(int nth, size_t *len) {
    char *data;
    size_t n;
    vs2_error err;
    if (vs2__read_file(templates_path, 0, &data, &n, &err) != VS2_OK) {
        fprintf(stderr, "%s\n", err.message);
        return NULL;
    }
    char *out = NULL, *p = data;
    for (int k = 0; (p = strstr(p, "```json\n\"")) != NULL; k++) {
        p += 8;
        char *end = strstr(p, "\n```");
        if (!end) break;
        if (k == nth) {
            json_error_t je;
            json_t *s = json_loadb(p, (size_t)(end - p), JSON_DECODE_ANY, &je);
            if (json_is_string(s)) {
                *len = json_string_length(s);
                out = malloc(*len + 1);
                if (out) memcpy(out, json_string_value(s), *len + 1);
            }
            json_decref(s);
            break;
        }
    }
    free(data);
    return out;
}

/* Rendering with a prompt that is itself "$t2v_prompt" leaves the template text unchanged, so
 * the raw template can be compared with the release's text byte for byte. */
static void test_templates_match_release(void) {
    size_t n_eval = 0, n_inf = 0;
    char *eval = template_literal(0, &n_eval), *inf = template_literal(1, &n_inf);
    CHECK_MSG(eval && inf, "cannot read the T-EVAL/T-INF literals from %s", templates_path);
    char *e = vs2_prompt_render(VS2_TEMPLATE_EVAL, "$t2v_prompt");
    char *i = vs2_prompt_render(VS2_TEMPLATE_INF, "$t2v_prompt");
    CHECK(e && eval && strlen(e) == n_eval && !memcmp(e, eval, n_eval));
    CHECK(i && inf && strlen(i) == n_inf && !memcmp(i, inf, n_inf));
    CHECK(inf && strstr(inf, "\xE2\x80\x93"));       /* the release's T-INF has EN DASHes ... */
    CHECK(inf && n_inf > 5 && !strcmp(inf + n_inf - 5, "\n    ")); /* ... and ends with "\n    " */
    free(e);
    free(i);
    free(eval);
    free(inf);
}

static void expect_render(vs2_template t, const char *prompt, const char *needle) {
    char *s = vs2_prompt_render(t, prompt);
    CHECK_STR_CONTAINS(s, needle);
    free(s);
}

/* string.Template.substitute semantics; prompt text is inserted verbatim (no re-substitution). */
static void test_substitution(void) {
    expect_render(VS2_TEMPLATE_EVAL, "a cat playing piano", "text prompt: \na cat playing piano.\n\nBased");
    expect_render(VS2_TEMPLATE_INF, "a cat", "    Video prompt: a cat\n\n    Please");
    expect_render(VS2_TEMPLATE_EVAL, "cost $5 and $t2v_prompt and $$", "\ncost $5 and $t2v_prompt and $$.\n");
    char *s = vs2_prompt_render(VS2_TEMPLATE_EVAL, "");
    CHECK(s && !strstr(s, "$t2v_prompt") && strstr(s, "prompt: \n.\n"));
    free(s);
}

/* docs/videoscore2-reference.md §2.3: the rendered chat, byte for byte. */
static void test_chat_render(void) {
    char *c = vs2_chat_render("Describe this video.");
    CHECK(c && !strcmp(c, "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
                          "<|vision_start|><|video_pad|><|vision_end|>Describe this video.<|im_end|>\n"
                          "<|im_start|>assistant\n"));
    free(c);
}

/* docs/qwen2.5-vl.md §6: 15 + N + 10 ids for "Describe this video." with N = 7200, ids as listed. */
static void test_chat_video_ids(void) {
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/tokref", check_env("VS2_TEST_TMP"));
    vs2_tokenizer *tok = NULL;
    vs2_error err;
    if (vs2_tokenizer_load(dir, &tok, &err) != VS2_OK) {
        fprintf(stderr, "%s (the tokenizer_reference fixture must run first)\n", err.message);
        CHECK(0);
        return;
    }
    vs2_ids ids = {0};
    CHECK(vs2_chat_video_ids(tok, "Describe this video.", 7200, &ids, &err) == VS2_OK);
    CHECK_EQ_INT(ids.n, 7225);
    static const int32_t head[] = {151644, 8948, 198, 2610, 525, 264, 10950, 17847, 13, 151645, 198,
                                   151644, 872, 198, 151652};
    static const int32_t tail[] = {151653, 0, 0, 0, 0, 151645, 198, 151644, 77091, 198};
    for (size_t i = 0; ids.n == 7225 && i < 15; i++) CHECK_EQ_INT(ids.ids[i], head[i]);
    for (size_t i = 15; ids.n == 7225 && i < 15 + 7200; i++) CHECK_EQ_INT(ids.ids[i], 151656);
    for (size_t i = 0; ids.n == 7225 && i < 10; i++)
        if (tail[i]) CHECK_EQ_INT(ids.ids[7215 + i], tail[i]); /* the 4 text ids are not listed */
    vs2_ids_free(&ids);
    /* a second video placeholder in the user text is refused */
    CHECK_EQ_INT(vs2_chat_video_ids(tok, "<|video_pad|>", 4, &ids, &err), VS2_ERR_INVALID_ARG);
    CHECK_STR_CONTAINS(err.message, "video_pad");
    vs2_ids_free(&ids);
    vs2_tokenizer_free(tok);
}

int main(void) {
    snprintf(templates_path, sizeof templates_path, "%s/tests/data/videoscore2/templates.md", check_env("VS2_SOURCE_DIR"));
    RUN(test_templates_match_release);
    RUN(test_substitution);
    RUN(test_chat_render);
    RUN(test_chat_video_ids);
    return CHECK_DONE();
}
