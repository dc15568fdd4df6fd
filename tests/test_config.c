/* test_config.c — config.json (hub and nested layouts) and generation_config.json parsing:
 * values, transformers defaults, and clear errors naming the file and key. */
#include "check.h"
#include "vs2.h"

#define CFG_NAME "/m/config.json"
#define GEN_NAME "/m/generation_config.json"

/* The Qwen2.5-VL-7B-Instruct hub file (docs/qwen2.5-vl.md §1.1). */
static const char *HUB =
    "{\"architectures\":[\"Qwen2_5_VLForConditionalGeneration\"],\"attention_dropout\":0.0,"
    "\"bos_token_id\":151643,\"eos_token_id\":151645,\"vision_start_token_id\":151652,"
    "\"vision_end_token_id\":151653,\"vision_token_id\":151654,\"image_token_id\":151655,"
    "\"video_token_id\":151656,\"hidden_act\":\"silu\",\"hidden_size\":3584,"
    "\"initializer_range\":0.02,\"intermediate_size\":18944,\"max_position_embeddings\":128000,"
    "\"max_window_layers\":28,\"model_type\":\"qwen2_5_vl\",\"num_attention_heads\":28,"
    "\"num_hidden_layers\":28,\"num_key_value_heads\":4,\"rms_norm_eps\":1e-06,"
    "\"rope_theta\":1000000.0,\"sliding_window\":32768,\"tie_word_embeddings\":false,"
    "\"torch_dtype\":\"bfloat16\",\"transformers_version\":\"4.41.2\",\"use_cache\":true,"
    "\"use_sliding_window\":false,\"vision_config\":{\"depth\":32,\"hidden_act\":\"silu\","
    "\"hidden_size\":1280,\"intermediate_size\":3420,\"num_heads\":16,\"in_chans\":3,"
    "\"out_hidden_size\":3584,\"patch_size\":14,\"spatial_merge_size\":2,"
    "\"spatial_patch_size\":14,\"window_size\":112,\"fullatt_block_indexes\":[7,15,23,31],"
    "\"tokens_per_second\":2,\"temporal_patch_size\":2},"
    "\"rope_scaling\":{\"type\":\"mrope\",\"mrope_section\":[16,24,24]},\"vocab_size\":152064}";

/* A transformers ≥ 4.52 re-save: text in text_config (with nulls), ids at the top level. */
static const char *NESTED =
    "{\"architectures\":[\"Qwen2_5_VLForConditionalGeneration\"],\"image_token_id\":151655,"
    "\"model_type\":\"qwen2_5_vl\",\"text_config\":{\"bos_token_id\":151643,"
    "\"eos_token_id\":151645,\"hidden_act\":\"silu\",\"hidden_size\":3584,"
    "\"image_token_id\":null,\"intermediate_size\":18944,\"model_type\":\"qwen2_5_vl_text\","
    "\"num_attention_heads\":28,\"num_hidden_layers\":28,\"num_key_value_heads\":4,"
    "\"rms_norm_eps\":1e-06,\"rope_scaling\":{\"mrope_section\":[16,24,24],"
    "\"rope_type\":\"default\",\"type\":\"default\"},\"rope_theta\":1000000.0,"
    "\"sliding_window\":null,\"tie_word_embeddings\":false,\"torch_dtype\":\"float32\","
    "\"use_sliding_window\":false,\"video_token_id\":null,\"vision_token_id\":151654,"
    "\"vocab_size\":152064},\"torch_dtype\":\"bfloat16\",\"transformers_version\":\"4.53.2\","
    "\"video_token_id\":151656,\"vision_config\":{\"depth\":32,\"fullatt_block_indexes\":"
    "[7,15,23,31],\"hidden_act\":\"silu\",\"hidden_size\":1280,\"in_channels\":3,\"in_chans\":3,"
    "\"intermediate_size\":3420,\"num_heads\":16,\"out_hidden_size\":3584,\"patch_size\":14,"
    "\"spatial_merge_size\":2,\"spatial_patch_size\":14,\"temporal_patch_size\":2,"
    "\"tokens_per_second\":2,\"window_size\":112},\"vision_end_token_id\":151653,"
    "\"vision_start_token_id\":151652}";

static vs2_status parse(const char *json, vs2_config *c, vs2_error *err) {
    memset(c, 0, sizeof *c);
    return vs2_config_parse(json, strlen(json), CFG_NAME, c, err);
}

static void check_7b(const vs2_config *c) {
    CHECK(!strcmp(c->model_type, "qwen2_5_vl"));
    CHECK_EQ_INT(c->hidden_size, 3584);
    CHECK_EQ_INT(c->num_hidden_layers, 28);
    CHECK_EQ_INT(c->num_attention_heads, 28);
    CHECK_EQ_INT(c->num_key_value_heads, 4);
    CHECK_EQ_INT(c->head_dim, 128);
    CHECK_EQ_INT(c->intermediate_size, 18944);
    CHECK_EQ_INT(c->vocab_size, 152064);
    CHECK(c->rms_norm_eps == 1e-6 && c->rope_theta == 1e6);
    CHECK(c->mrope_section[0] == 16 && c->mrope_section[1] == 24 && c->mrope_section[2] == 24);
    CHECK_EQ_INT(c->tie_word_embeddings, 0);
    CHECK(!strcmp(c->hidden_act, "silu"));
    CHECK_EQ_INT(c->bos_token_id, 151643);
    CHECK_EQ_INT(c->eos_token_id, 151645);
    CHECK_EQ_INT(c->vision_start_token_id, 151652);
    CHECK_EQ_INT(c->vision_end_token_id, 151653);
    CHECK_EQ_INT(c->vision_token_id, 151654);
    CHECK_EQ_INT(c->image_token_id, 151655);
    CHECK_EQ_INT(c->video_token_id, 151656);
    const vs2_vision_config *v = &c->vision;
    CHECK_EQ_INT(v->depth, 32);
    CHECK_EQ_INT(v->hidden_size, 1280);
    CHECK_EQ_INT(v->num_heads, 16);
    CHECK_EQ_INT(v->intermediate_size, 3420);
    CHECK_EQ_INT(v->in_chans, 3);
    CHECK_EQ_INT(v->patch_size, 14);
    CHECK_EQ_INT(v->temporal_patch_size, 2);
    CHECK_EQ_INT(v->spatial_merge_size, 2);
    CHECK_EQ_INT(v->window_size, 112);
    CHECK_EQ_INT(v->out_hidden_size, 3584);
    CHECK_EQ_INT(v->tokens_per_second, 2);
    CHECK_EQ_INT(v->n_fullatt, 4);
    CHECK_EQ_INT(v->fullatt_block_indexes[3], 31);
}

static void test_hub(void) {
    vs2_config c;
    vs2_error err;
    CHECK_EQ_INT(parse(HUB, &c, &err), VS2_OK);
    CHECK(!strcmp(c.layout, "hub"));
    CHECK(!strcmp(c.torch_dtype, "bfloat16"));
    check_7b(&c);
}

static void test_nested(void) {
    vs2_config c;
    vs2_error err;
    CHECK_EQ_INT(parse(NESTED, &c, &err), VS2_OK);
    CHECK(!strcmp(c.layout, "nested"));
    /* text_config's torch_dtype wins over the top level, as the text sub-config is built from it. */
    CHECK(!strcmp(c.torch_dtype, "float32"));
    /* image/video ids are null in text_config: the top-level values must be used. */
    check_7b(&c);
}

/* Replace the first occurrence of from by to (test helper; caller frees). */
static char *edit(const char *s, const char *from, const char *to) {
    const char *p = strstr(s, from);
    if (!p) {
        fprintf(stderr, "edit: '%s' not found\n", from);
        exit(2);
    }
    size_t a = (size_t)(p - s), b = strlen(from), c = strlen(to), n = strlen(s);
    char *r = malloc(n - b + c + 1);
    memcpy(r, s, a);
    memcpy(r + a, to, c);
    memcpy(r + a + c, p + b, n - a - b + 1);
    return r;
}

static void test_v5_rope_parameters(void) {
    /* transformers v5 writes rope_parameters with rope_theta inside. */
    char *j = edit(HUB, "\"rope_scaling\":{\"type\":\"mrope\",\"mrope_section\":[16,24,24]}",
                   "\"rope_parameters\":{\"rope_type\":\"default\",\"mrope_section\":[16,24,24],"
                   "\"rope_theta\":500000.0}");
    char *k = edit(j, "\"rope_theta\":1000000.0,", "");
    vs2_config c;
    vs2_error err;
    CHECK_EQ_INT(parse(k, &c, &err), VS2_OK);
    CHECK(c.rope_theta == 500000.0);
    CHECK_EQ_INT(c.mrope_section[2], 24);
    free(j);
    free(k);
}

static void test_defaults(void) {
    /* Absent keys with a well-defined transformers default take it. */
    char *a = edit(HUB, "\"rms_norm_eps\":1e-06,", "");
    char *b = edit(a, "\"tokens_per_second\":2,", "");
    char *c2 = edit(b, "\"image_token_id\":151655,", "");
    char *d = edit(c2, "\"vocab_size\":152064", "\"x\":0");
    vs2_config c;
    vs2_error err;
    CHECK_EQ_INT(parse(d, &c, &err), VS2_OK);
    CHECK(c.rms_norm_eps == 1e-5);           /* Qwen2_5_VLTextConfig default */
    CHECK_EQ_INT(c.vision.tokens_per_second, 4); /* Qwen2_5_VLVisionConfig default */
    CHECK_EQ_INT(c.image_token_id, 151655);  /* Qwen2_5_VLConfig default */
    CHECK_EQ_INT(c.vocab_size, 152064);
    free(a);
    free(b);
    free(c2);
    free(d);
}

/* Each bad config: status, the file name, and the words that say what is wrong. */
static void expect_bad(const char *json, vs2_status want, const char *w1, const char *w2) {
    vs2_config c;
    vs2_error err;
    CHECK_EQ_INT(parse(json, &c, &err), want);
    CHECK_EQ_INT(err.status, want);
    CHECK_STR_CONTAINS(err.message, CFG_NAME);
    if (w1) CHECK_STR_CONTAINS(err.message, w1);
    if (w2) CHECK_STR_CONTAINS(err.message, w2);
}

static void expect_edit(const char *from, const char *to, vs2_status want, const char *w1,
                        const char *w2) {
    char *j = edit(HUB, from, to);
    expect_bad(j, want, w1, w2);
    free(j);
}

static void test_bad_json_and_types(void) {
    expect_bad("{\"model_type\":", VS2_ERR_FORMAT, "invalid JSON", "line 1");
    expect_bad("[]", VS2_ERR_FORMAT, "not a JSON object", NULL);
    expect_bad("", VS2_ERR_FORMAT, "invalid JSON", NULL);
    /* A string where an integer belongs. */
    expect_edit("\"hidden_size\":3584", "\"hidden_size\":\"3584\"", VS2_ERR_FORMAT, "hidden_size",
                "integer");
    /* A fraction where an integer belongs. */
    expect_edit("\"num_hidden_layers\":28", "\"num_hidden_layers\":28.5", VS2_ERR_FORMAT,
                "num_hidden_layers", "integer");
    /* Negative / zero sizes. */
    expect_edit("\"num_key_value_heads\":4", "\"num_key_value_heads\":0", VS2_ERR_FORMAT,
                "num_key_value_heads", "out of range");
    expect_edit("\"vision_config\":{\"depth\":32", "\"vision_config\":{\"depth\":-3",
                VS2_ERR_FORMAT, "vision_config.depth", NULL);
    expect_edit("\"tie_word_embeddings\":false", "\"tie_word_embeddings\":\"no\"", VS2_ERR_FORMAT,
                "tie_word_embeddings", NULL);
    expect_edit("\"rms_norm_eps\":1e-06", "\"rms_norm_eps\":[1]", VS2_ERR_FORMAT, "rms_norm_eps",
                "number");
    expect_edit("\"fullatt_block_indexes\":[7,15,23,31]", "\"fullatt_block_indexes\":7",
                VS2_ERR_FORMAT, "fullatt_block_indexes", "list");
    expect_edit("\"rope_scaling\":{", "\"rope_scaling\":[{", VS2_ERR_FORMAT, NULL, NULL);
    expect_edit("\"vision_config\":{\"depth\":32,", "\"vision_config\":7,\"x\":{\"depth\":32,",
                VS2_ERR_FORMAT, "vision_config", "object");
    expect_edit("\"model_type\":\"qwen2_5_vl\"", "\"model_type\":5", VS2_ERR_FORMAT, "model_type",
                "string");
}

static void test_missing_and_unsupported(void) {
    expect_edit("\"hidden_size\":3584,", "", VS2_ERR_FORMAT, "\"hidden_size\"", "missing");
    expect_edit("\"num_heads\":16,", "", VS2_ERR_FORMAT, "vision_config.num_heads", "missing");
    expect_edit("\"model_type\":\"qwen2_5_vl\",", "", VS2_ERR_FORMAT, "model_type", "missing");
    expect_edit("\"mrope_section\":[16,24,24]", "\"x\":1", VS2_ERR_FORMAT, "mrope_section",
                "missing");
    expect_edit(",\"rope_scaling\":{\"type\":\"mrope\",\"mrope_section\":[16,24,24]}", "",
                VS2_ERR_FORMAT, "rope_scaling", "missing");
    expect_edit("\"model_type\":\"qwen2_5_vl\"", "\"model_type\":\"qwen2_vl\"",
                VS2_ERR_UNSUPPORTED, "qwen2_vl", NULL);
    expect_edit("\"type\":\"mrope\"", "\"type\":\"yarn\"", VS2_ERR_UNSUPPORTED, "yarn", NULL);
    expect_edit("\"use_sliding_window\":false", "\"use_sliding_window\":true",
                VS2_ERR_UNSUPPORTED, "use_sliding_window", NULL);
    /* in_chans and in_channels both present but different. */
    expect_edit("\"in_chans\":3", "\"in_chans\":3,\"in_channels\":4", VS2_ERR_FORMAT, "in_chans",
                "in_channels");
    /* A duplicated key is ambiguous. */
    expect_edit("\"hidden_size\":3584", "\"hidden_size\":3584,\"hidden_size\":3584",
                VS2_ERR_FORMAT, "invalid JSON", NULL);
}

static void test_inconsistent(void) {
    /* Well-formed but does not describe a buildable Qwen2.5-VL: VS2_ERR_MODEL. */
    expect_edit("[16,24,24]", "[16,24,25]", VS2_ERR_MODEL, "mrope_section", "head_dim/2");
    expect_edit("\"num_attention_heads\":28", "\"num_attention_heads\":27", VS2_ERR_MODEL,
                "num_attention_heads", NULL);
    expect_edit("\"num_key_value_heads\":4", "\"num_key_value_heads\":5", VS2_ERR_MODEL,
                "num_key_value_heads", NULL);
    expect_edit("[7,15,23,31]", "[7,15,23,32]", VS2_ERR_MODEL, "fullatt_block_indexes", "depth");
    expect_edit("[7,15,23,31]", "[7,15,15,31]", VS2_ERR_MODEL, "increasing", NULL);
    expect_edit("\"window_size\":112", "\"window_size\":100", VS2_ERR_MODEL, "window_size", NULL);
    expect_edit("\"out_hidden_size\":3584", "\"out_hidden_size\":4096", VS2_ERR_MODEL,
                "out_hidden_size", NULL);
    expect_edit("\"video_token_id\":151656", "\"video_token_id\":152064", VS2_ERR_MODEL,
                "video_token_id", "vocab_size");
    expect_edit("\"hidden_act\":\"silu\",\"hidden_size\":3584", "\"hidden_act\":\"gelu\","
                "\"hidden_size\":3584", VS2_ERR_MODEL, "hidden_act", NULL);
    /* The struct is still filled so that inspect can show the inconsistent values. */
    char *j = edit(HUB, "[16,24,24]", "[16,24,25]");
    vs2_config c;
    vs2_error err;
    CHECK_EQ_INT(parse(j, &c, &err), VS2_ERR_MODEL);
    CHECK_EQ_INT(c.mrope_section[2], 25);
    CHECK_EQ_INT(c.hidden_size, 3584);
    free(j);
}

static vs2_status gparse(const char *json, vs2_generation_config *g, vs2_error *err) {
    memset(g, 0x55, sizeof *g);
    return vs2_generation_config_parse(json, strlen(json), GEN_NAME, g, err);
}

static void test_generation(void) {
    vs2_generation_config g;
    vs2_error err;
    /* The base model's file (docs/qwen2.5-vl.md §1.3). */
    CHECK_EQ_INT(gparse("{\"bos_token_id\":151643,\"pad_token_id\":151643,\"do_sample\":true,"
                        "\"eos_token_id\":[151645,151643],\"repetition_penalty\":1.05,"
                        "\"temperature\":1e-06,\"transformers_version\":\"4.49.0\"}",
                        &g, &err),
                 VS2_OK);
    CHECK_EQ_INT(g.present, 1);
    CHECK_EQ_INT(g.do_sample, 1);
    CHECK(g.temperature == 1e-6 && g.repetition_penalty == 1.05);
    CHECK_EQ_INT(g.top_k, 50); /* absent: GenerationConfig defaults */
    CHECK(g.top_p == 1.0);
    CHECK_EQ_INT(g.max_new_tokens, -1);
    CHECK_EQ_INT(g.bos_token_id, 151643);
    CHECK_EQ_INT(g.pad_token_id, 151643);
    CHECK_EQ_INT(g.n_eos, 2);
    CHECK(g.eos_token_ids[0] == 151645 && g.eos_token_ids[1] == 151643);
    /* Empty object: every transformers default; eos as a single int; null = absent. */
    CHECK_EQ_INT(gparse("{}", &g, &err), VS2_OK);
    CHECK(g.do_sample == 0 && g.temperature == 1.0 && g.top_k == 50 && g.top_p == 1.0 &&
          g.repetition_penalty == 1.0 && g.n_eos == 0 && g.bos_token_id == -1 &&
          g.pad_token_id == -1);
    CHECK_EQ_INT(gparse("{\"eos_token_id\":151645,\"top_k\":20,\"temperature\":1,"
                        "\"max_new_tokens\":null,\"top_p\":0.8}",
                        &g, &err),
                 VS2_OK);
    CHECK(g.n_eos == 1 && g.eos_token_ids[0] == 151645 && g.top_k == 20 && g.temperature == 1.0 &&
          g.max_new_tokens == -1 && g.top_p == 0.8);
}

static void gbad(const char *json, const char *w1) {
    vs2_generation_config g;
    vs2_error err;
    CHECK_EQ_INT(gparse(json, &g, &err), VS2_ERR_FORMAT);
    CHECK_STR_CONTAINS(err.message, GEN_NAME);
    CHECK_STR_CONTAINS(err.message, w1);
}

static void test_generation_bad(void) {
    gbad("{\"temperature\":\"hot\"}", "temperature");
    gbad("{\"do_sample\":\"yes\"}", "do_sample");
    gbad("{\"eos_token_id\":\"<|im_end|>\"}", "eos_token_id");
    gbad("{\"eos_token_id\":[1,2,3,4,5,6,7,8,9]}", "more than 8"); /* VS2_MAX_EOS */
    gbad("{\"eos_token_id\":[-1]}", "eos_token_id");
    gbad("{\"top_k\":1.5}", "top_k");
    gbad("{\"top_p\":2}", "top_p");
    gbad("[1]", "not a JSON object");
    gbad("{\"top_k\":", "invalid JSON");
}

/* Every size a config can claim is bounded (docs/model-files.md): just past each bound is
 * refused naming the key and the range; at the bound it parses (possibly inconsistent, then
 * VS2_ERR_MODEL, never an overflow). The huge values are the campaign's (2^31 − 1 and beyond). */
static void test_bounds(void) {
    static const struct { const char *from, *key; const char *to_past; } cases[] = {
        {"\"spatial_merge_size\":2", "spatial_merge_size", "\"spatial_merge_size\":2147483647"},
        {"\"window_size\":112", "window_size", "\"window_size\":2147483647"},
        {"\"patch_size\":14", "patch_size", "\"patch_size\":1000000"},
        {"\"temporal_patch_size\":2", "temporal_patch_size", "\"temporal_patch_size\":65"},
        {"\"tokens_per_second\":2", "tokens_per_second", "\"tokens_per_second\":2147483647"},
        {"\"num_hidden_layers\":28", "num_hidden_layers", "\"num_hidden_layers\":2147483647"},
        {"\"depth\":32", "depth", "\"depth\":1025"},
        {"\"hidden_size\":3584", "hidden_size", "\"hidden_size\":65537"},
        {"\"intermediate_size\":18944", "intermediate_size", "\"intermediate_size\":1048577"},
        {"\"num_attention_heads\":28", "num_attention_heads", "\"num_attention_heads\":1025"},
        {"\"vocab_size\":152064", "vocab_size", "\"vocab_size\":16777217"},
        {"\"max_position_embeddings\":128000", "max_position_embeddings",
         "\"max_position_embeddings\":16777217"},
        {"\"video_token_id\":151656", "video_token_id", "\"video_token_id\":16777216"},
        {"\"in_chans\":3", "in_chans", "\"in_chans\":17"},
        {"\"mrope_section\":[16,24,24]", "mrope_section", "\"mrope_section\":[16,24,2147483647]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_edit(cases[i].from, cases[i].to_past, VS2_ERR_FORMAT, cases[i].key, "out of range");
    /* At the bounds: parsed, shapes computable; inconsistency is reported, not overflowed. */
    vs2_config c;
    vs2_error err;
    char *j = edit(HUB, "\"spatial_merge_size\":2", "\"spatial_merge_size\":16");
    vs2_status s = parse(j, &c, &err);
    CHECK_MSG(s == VS2_ERR_MODEL && strstr(err.message, "window_size"), "%s", err.message);
    CHECK_EQ_INT(c.vision.spatial_merge_size, 16);
    free(j);
    j = edit(HUB, "\"max_position_embeddings\":128000", "\"max_position_embeddings\":4096");
    CHECK(parse(j, &c, &err) == VS2_OK);
    CHECK_EQ_INT(c.max_position_embeddings, 4096);
    free(j);
    CHECK(parse(HUB, &c, &err) == VS2_OK);
    CHECK_EQ_INT(c.max_position_embeddings, 128000);
    /* Generation values. */
    gbad("{\"max_new_tokens\":2147483647}", "max_new_tokens");
    gbad("{\"top_k\":2147483647}", "top_k");
    gbad("{\"eos_token_id\":[1,2147483647]}", "eos_token_id");
}

int main(void) {
    RUN(test_hub);
    RUN(test_nested);
    RUN(test_v5_rope_parameters);
    RUN(test_defaults);
    RUN(test_bad_json_and_types);
    RUN(test_missing_and_unsupported);
    RUN(test_inconsistent);
    RUN(test_generation);
    RUN(test_generation_bad);
    RUN(test_bounds);
    return CHECK_DONE();
}
