/* inspect.c — `vs2 inspect MODEL_DIR [--json]`: what a model directory holds and every problem
 * found in it. Opens with keep_going so that all problems are listed; exit 1 if there are any. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_DTYPE_SLOTS 16

typedef struct {
    uint64_t vision, language, head, total;
    uint64_t bytes[N_DTYPE_SLOTS];
    size_t n_shards;
    const char *naming; /* "hub" (visual.*, model.*), "new" (model.visual.*,
                         * model.language_model.*) or "mixed" */
} summary;

/* Warnings arrive through the log callback; keep them to print after the facts. */
typedef struct {
    char **msg;
    size_t n, cap;
    size_t omitted; /* past VS2_MAX_PROBLEMS: counted, not kept */
} warnings;

static void collect_log(int level, const char *message, void *user) {
    warnings *w = user;
    if (level != 1) return;
    if (w->n >= VS2_MAX_PROBLEMS) {
        w->omitted++;
        return;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        char **p = realloc(w->msg, cap * sizeof *p);
        if (!p) return;
        w->msg = p;
        w->cap = cap;
    }
    char *m = strdup(message);
    if (m) w->msg[w->n++] = m;
}

static uint64_t numel(const vs2_tensor *t) {
    uint64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (uint64_t)t->shape[i];
    return n;
}

static void summarize(const vs2_model_files *mf, summary *s) {
    memset(s, 0, sizeof *s);
    size_t nt = vs2_model_files_n_tensors(mf), renamed = 0, renamable = 0;
    const char **files = calloc(nt ? nt : 1, sizeof *files);
    for (size_t i = 0; i < nt; i++) {
        const vs2_tensor *t = vs2_model_files_tensor_at(mf, i);
        uint64_t n = numel(t);
        if (!strncmp(t->name, "visual.", 7)) s->vision += n;
        else if (!strncmp(t->name, "lm_head.", 8)) s->head += n;
        else s->language += n;
        s->total += n;
        if ((unsigned)t->dtype < N_DTYPE_SLOTS) s->bytes[t->dtype] += t->nbytes;
        renamed += strcmp(t->name, t->stored_name) != 0;
        renamable += strncmp(t->name, "lm_head.", 8) != 0; /* lm_head keeps its name */
        int seen = 0; /* shards are few: a linear scan is fine */
        for (size_t k = 0; files && k < s->n_shards && !seen; k++) seen = !strcmp(files[k], t->file);
        if (files && !seen) files[s->n_shards++] = t->file;
    }
    free(files);
    s->naming = renamed == 0 ? "hub" : renamed == renamable ? "new" : "mixed";
}

static void print_count(const char *label, uint64_t n) {
    char buf[32], out[48];
    int len = snprintf(buf, sizeof buf, "%llu", (unsigned long long)n), o = 0;
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0) out[o++] = ',';
        out[o++] = buf[i];
    }
    out[o] = '\0';
    printf("%s%s", label, out);
}

static void print_ids(const int *ids, int n) {
    printf("[");
    for (int i = 0; i < n; i++) printf("%s%d", i ? ", " : "", ids[i]);
    printf("]");
}

static const char *file_state(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, R_OK) == 0 ? "present" : "missing";
}

static void text_config(const vs2_config *c) {
    const vs2_vision_config *v = &c->vision;
    printf("model type:     %s (config.json layout: %s)\n", c->model_type, c->layout);
    printf("language model: %d layers, hidden %d, %d heads (%d kv, head_dim %d), intermediate %d,\n"
           "                vocab %d, max positions %d, rms_norm_eps %g, rope_theta %.17g,\n"
           "                mrope_section [%d, %d, %d], tie_word_embeddings %s, act %s, torch_dtype %s\n",
           c->num_hidden_layers, c->hidden_size, c->num_attention_heads, c->num_key_value_heads,
           c->head_dim, c->intermediate_size, c->vocab_size, c->max_position_embeddings,
           c->rms_norm_eps, c->rope_theta,
           c->mrope_section[0], c->mrope_section[1], c->mrope_section[2],
           c->tie_word_embeddings ? "true" : "false", c->hidden_act,
           c->torch_dtype[0] ? c->torch_dtype : "(unset)");
    printf("vision:         depth %d, hidden %d, %d heads (head_dim %d), intermediate %d, in_chans %d,\n"
           "                patch %d, temporal_patch %d, merge %d, window %d, out_hidden %d,\n"
           "                tokens_per_second %d, act %s, full attention at ",
           v->depth, v->hidden_size, v->num_heads, v->num_heads ? v->hidden_size / v->num_heads : 0,
           v->intermediate_size, v->in_chans, v->patch_size, v->temporal_patch_size,
           v->spatial_merge_size, v->window_size, v->out_hidden_size, v->tokens_per_second,
           v->hidden_act);
    print_ids(v->fullatt_block_indexes, v->n_fullatt);
    printf("\nspecial tokens: bos %d, eos %d, vision_start %d, vision_end %d, vision_pad %d,\n"
           "                image_pad %d, video_pad %d (from config.json; -1 = unset)\n",
           c->bos_token_id, c->eos_token_id, c->vision_start_token_id, c->vision_end_token_id,
           c->vision_token_id, c->image_token_id, c->video_token_id);
}

static void text_generation(const vs2_generation_config *g) {
    printf("generation:     %s: do_sample %s, temperature %g, top_k %d, top_p %g,\n"
           "                repetition_penalty %g, max_new_tokens %d, bos %d, pad %d, eos ",
           g->present ? "generation_config.json" : "transformers defaults (no generation_config.json)",
           g->do_sample ? "true" : "false", g->temperature, g->top_k, g->top_p,
           g->repetition_penalty, g->max_new_tokens, g->bos_token_id, g->pad_token_id);
    print_ids(g->eos_token_ids, g->n_eos);
    printf("\n");
}

static void text_report(const vs2_model_files *mf, const summary *s, const warnings *w) {
    const char *dir = vs2_model_files_dir(mf);
    printf("model directory: %s\n", dir);
    const vs2_config *c = vs2_model_files_config(mf);
    if (c) text_config(c);
    else printf("config:         (config.json unusable; see problems)\n");
    text_generation(vs2_model_files_generation_config(mf));
    printf("tokenizer:      tokenizer.json %s, tokenizer_config.json %s\n",
           file_state(dir, "tokenizer.json"), file_state(dir, "tokenizer_config.json"));
    printf("weights:        %zu shard%s, %zu tensors, tensor names: %s\n", s->n_shards,
           s->n_shards == 1 ? "" : "s", vs2_model_files_n_tensors(mf), s->naming);
    print_count("parameters:     vision ", s->vision);
    print_count(", language ", s->language);
    print_count(", head ", s->head);
    print_count(", total ", s->total);
    if (c && c->tie_word_embeddings) printf(" (head tied to embed_tokens)");
    printf("\nbytes by dtype:");
    int any = 0;
    for (int d = 0; d < N_DTYPE_SLOTS; d++)
        if (s->bytes[d]) {
            printf("%s %s ", any ? "," : "", vs2_dtype_name((vs2_dtype)d));
            print_count("", s->bytes[d]);
            any = 1;
        }
    printf("%s\n", any ? "" : " none");
    for (size_t i = 0; i < w->n; i++) printf("warning: %s\n", w->msg[i]);
    if (w->omitted) printf("warning: ... and %zu more warnings (not listed)\n", w->omitted);
    size_t np = vs2_model_files_n_problems(mf), more = vs2_model_files_n_problems_omitted(mf);
    if (!np) printf("problems:       none\n");
    else printf("problems:       %zu\n", np + more);
    for (size_t i = 0; i < np; i++) printf("  - %s\n", vs2_model_files_problem(mf, i));
    if (more) printf("  - ... and %zu more problems (only the first %d are listed)\n", more, VS2_MAX_PROBLEMS);
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static void jstr(const char *s) { cli_json_string(stdout, s, strlen(s)); }

static void jkey(const char *k) {
    jstr(k);
    fputc(':', stdout);
}

static void jints(const int *v, int n) {
    printf("[");
    for (int i = 0; i < n; i++) printf("%s%d", i ? "," : "", v[i]);
    printf("]");
}

static void json_config(const vs2_config *c) {
    const vs2_vision_config *v = &c->vision;
    jkey("model_type"); jstr(c->model_type);
    printf(","); jkey("config_layout"); jstr(c->layout);
    printf(",\"language\":{\"hidden_size\":%d,\"num_hidden_layers\":%d,\"num_attention_heads\":%d,"
           "\"num_key_value_heads\":%d,\"head_dim\":%d,\"intermediate_size\":%d,\"vocab_size\":%d,"
           "\"max_position_embeddings\":%d,\"rms_norm_eps\":%.17g,\"rope_theta\":%.17g,\"mrope_section\":",
           c->hidden_size, c->num_hidden_layers, c->num_attention_heads, c->num_key_value_heads,
           c->head_dim, c->intermediate_size, c->vocab_size, c->max_position_embeddings,
           c->rms_norm_eps, c->rope_theta);
    jints(c->mrope_section, 3);
    printf(",\"tie_word_embeddings\":%s,", c->tie_word_embeddings ? "true" : "false");
    jkey("hidden_act"); jstr(c->hidden_act);
    printf(","); jkey("torch_dtype"); jstr(c->torch_dtype);
    printf("},\"vision\":{\"depth\":%d,\"hidden_size\":%d,\"num_heads\":%d,\"intermediate_size\":%d,"
           "\"in_chans\":%d,\"patch_size\":%d,\"temporal_patch_size\":%d,\"spatial_merge_size\":%d,"
           "\"window_size\":%d,\"out_hidden_size\":%d,\"tokens_per_second\":%d,"
           "\"fullatt_block_indexes\":",
           v->depth, v->hidden_size, v->num_heads, v->intermediate_size, v->in_chans,
           v->patch_size, v->temporal_patch_size, v->spatial_merge_size, v->window_size,
           v->out_hidden_size, v->tokens_per_second);
    jints(v->fullatt_block_indexes, v->n_fullatt);
    printf(","); jkey("hidden_act"); jstr(v->hidden_act);
    printf("},\"special_tokens\":{\"bos_token_id\":%d,\"eos_token_id\":%d,\"vision_start_token_id\":%d,"
           "\"vision_end_token_id\":%d,\"vision_token_id\":%d,\"image_token_id\":%d,"
           "\"video_token_id\":%d},",
           c->bos_token_id, c->eos_token_id, c->vision_start_token_id, c->vision_end_token_id,
           c->vision_token_id, c->image_token_id, c->video_token_id);
}

static void json_generation(const vs2_generation_config *g) {
    printf("\"generation\":{\"present\":%s,\"do_sample\":%s,\"temperature\":%.17g,\"top_k\":%d,"
           "\"top_p\":%.17g,\"repetition_penalty\":%.17g,\"max_new_tokens\":%d,\"bos_token_id\":%d,"
           "\"pad_token_id\":%d,\"eos_token_ids\":",
           g->present ? "true" : "false", g->do_sample ? "true" : "false", g->temperature, g->top_k,
           g->top_p, g->repetition_penalty, g->max_new_tokens, g->bos_token_id, g->pad_token_id);
    jints(g->eos_token_ids, g->n_eos);
    printf("},");
}

static void json_tensors(const vs2_model_files *mf) {
    printf("\"tensors\":[");
    for (size_t i = 0; i < vs2_model_files_n_tensors(mf); i++) {
        const vs2_tensor *t = vs2_model_files_tensor_at(mf, i);
        printf("%s\n{", i ? "," : "");
        jkey("name"); jstr(t->name);
        printf(","); jkey("stored_name"); jstr(t->stored_name);
        printf(","); jkey("file"); jstr(t->file);
        printf(","); jkey("dtype"); jstr(vs2_dtype_name(t->dtype));
        printf(",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) printf("%s%lld", d ? "," : "", (long long)t->shape[d]);
        printf("],\"offset\":%llu,\"nbytes\":%llu}", (unsigned long long)t->offset,
               (unsigned long long)t->nbytes);
    }
    printf("]");
}

static void json_list(const char *key, size_t n, const char *(*get)(const void *, size_t),
                      const void *obj) {
    jkey(key);
    printf("[");
    for (size_t i = 0; i < n; i++) {
        printf("%s", i ? "," : "");
        jstr(get(obj, i));
    }
    printf("]");
}

static const char *problem_at(const void *mf, size_t i) { return vs2_model_files_problem(mf, i); }
static const char *warning_at(const void *w, size_t i) { return ((const warnings *)w)->msg[i]; }

static void json_report(const vs2_model_files *mf, const summary *s, const warnings *w) {
    const char *dir = vs2_model_files_dir(mf);
    const vs2_config *c = vs2_model_files_config(mf);
    printf("{");
    jkey("dir"); jstr(dir);
    printf(",\"ok\":%s,", vs2_model_files_n_problems(mf) ? "false" : "true");
    if (c) json_config(c);
    json_generation(vs2_model_files_generation_config(mf));
    printf("\"tokenizer_files\":{\"tokenizer.json\":%s,\"tokenizer_config.json\":%s},",
           strcmp(file_state(dir, "tokenizer.json"), "present") ? "false" : "true",
           strcmp(file_state(dir, "tokenizer_config.json"), "present") ? "false" : "true");
    printf("\"n_shards\":%zu,\"n_tensors\":%zu,", s->n_shards, vs2_model_files_n_tensors(mf));
    jkey("tensor_names"); jstr(s->naming);
    printf(",\"parameters\":{\"vision\":%llu,\"language\":%llu,\"head\":%llu,\"total\":%llu},",
           (unsigned long long)s->vision, (unsigned long long)s->language,
           (unsigned long long)s->head, (unsigned long long)s->total);
    printf("\"bytes_by_dtype\":{");
    int any = 0;
    for (int d = 0; d < N_DTYPE_SLOTS; d++)
        if (s->bytes[d]) {
            printf("%s", any ? "," : "");
            jkey(vs2_dtype_name((vs2_dtype)d));
            printf("%llu", (unsigned long long)s->bytes[d]);
            any = 1;
        }
    printf("},");
    json_list("problems", vs2_model_files_n_problems(mf), problem_at, mf);
    printf(",\"problems_omitted\":%zu,", vs2_model_files_n_problems_omitted(mf));
    json_list("warnings", w->n, warning_at, w);
    printf(",\"warnings_omitted\":%zu", w->omitted);
    printf(",");
    json_tensors(mf);
    printf("}\n");
}

/* MODEL as vs2 score takes it: a directory, else a repo id found in the Hugging Face cache
 * (never downloaded: inspect looks at what is here). Prints the error, before any summary. */
static int resolve_model(const char *model, char **out) {
    struct stat st;
    if (stat(model, &st) == 0 && S_ISDIR(st.st_mode)) {
        *out = strdup(model);
        return *out != NULL;
    }
    if (stat(model, &st) == 0) {
        fprintf(stderr, "vs2 inspect: %s: not a directory (give the model directory)\n", model);
        return 0;
    }
    vs2_hub_params hp = vs2_hub_default_params();
    hp.offline = 1;
    vs2_error err;
    if (strchr(model, '/') && model[0] != '/' && model[0] != '.' && vs2_hub_resolve(model, &hp, out, &err) == VS2_OK)
        return 1;
    fprintf(stderr, "vs2 inspect: %s: no such directory%s\n", model,
            strchr(model, '/') && model[0] != '/' && model[0] != '.'
                ? ", and not a repo id in the local Hugging Face cache (vs2 download fetches it)"
                : "");
    return 0;
}

static void usage(FILE *f) {
    fprintf(f, "usage: vs2 inspect MODEL [--json]\n\n"
               "MODEL is a model directory or a Hugging Face repo id found in the local cache.\n"
               "Check a Hugging Face model directory (config.json, generation_config.json,\n"
               "tokenizer files, safetensors weights) and summarise it: configuration, parameter\n"
               "counts, bytes by dtype, special token ids, generation defaults, and every problem\n"
               "found. Exit status: 0 no problems, 1 problems found, 2 bad usage.\n");
}

int cmd_inspect(int argc, char **argv) {
    const char *dir = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (argv[i][0] == '-' || dir) {
            fprintf(stderr, "vs2 inspect: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            dir = argv[i];
        }
    }
    if (!dir) {
        usage(stderr);
        return 2;
    }
    char *resolved = NULL;
    if (!resolve_model(dir, &resolved)) return 1;
    dir = resolved;
    warnings w = {0};
    vs2_model_files_params p = vs2_model_files_default_params();
    p.keep_going = 1;
    p.log = collect_log;
    p.log_user = &w;
    vs2_model_files *mf = NULL;
    vs2_error err;
    vs2_model_files_open(dir, &p, &mf, &err);
    if (!mf) { /* only for bad arguments or out of memory */
        fprintf(stderr, "vs2 inspect: %s\n", err.message);
        free(resolved);
        return 1;
    }
    summary s;
    summarize(mf, &s);
    if (json) json_report(mf, &s, &w);
    else text_report(mf, &s, &w);
    int rc = vs2_model_files_n_problems(mf) ? 1 : 0;
    vs2_model_files_close(mf);
    for (size_t i = 0; i < w.n; i++) free(w.msg[i]);
    free(w.msg);
    free(resolved);
    return rc;
}
