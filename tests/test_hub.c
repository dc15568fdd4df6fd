/* test_hub.c — the hub client without a server: names, the cache directory and token lookup
 * order of huggingface_hub, checksums, and resolving a model that is already in a hand-made
 * cache (no network: the endpoint is a closed port and any request would show in the log). */
#include "check.h"
#include "hub_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[1024];
static int log_calls;

static void count_log(int level, const char *message, void *user) {
    (void)level, (void)message, (void)user;
    log_calls++;
}

static void write_text(const char *path, const char *text) {
    char *dir = strdup(path);
    *strrchr(dir, '/') = '\0';
    CHECK(hub__mkdirs(dir, NULL) == VS2_OK);
    free(dir);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void test_names(void) {
    CHECK(hub__valid_repo_id("TIGER-Lab/VideoScore2"));
    CHECK(hub__valid_repo_id("gpt2"));
    CHECK(hub__valid_repo_id("a.b_c/d-e.f"));
    CHECK(!hub__valid_repo_id("a/b/c"));
    CHECK(!hub__valid_repo_id("a--b/c"));
    CHECK(!hub__valid_repo_id("a/..b"));
    CHECK(!hub__valid_repo_id("/a"));
    CHECK(!hub__valid_repo_id("a/"));
    CHECK(!hub__valid_repo_id("a b/c"));
    CHECK(!hub__valid_repo_id(""));
    CHECK(hub__valid_name("model-00001-of-00004.safetensors"));
    CHECK(hub__valid_name("sub/dir/file.json"));
    CHECK(!hub__valid_name("../etc/passwd"));
    CHECK(!hub__valid_name("a/../b"));
    CHECK(!hub__valid_name("/abs"));
    CHECK(!hub__valid_name("a//b"));
    CHECK(!hub__valid_name(".hidden"));
    CHECK(hub__is_commit("0123456789abcdef0123456789abcdef01234567"));
    CHECK(!hub__is_commit("0123456789ABCDEF0123456789abcdef01234567"));
    CHECK(!hub__valid_etag("../x"));
    char b[32];
    hub__fmt_bytes(16580000000LL, b, sizeof b);
    CHECK_STR_CONTAINS(b, "16.6 GB");
}

static void clear_env(void) {
    const char *vars[] = {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME", "HF_TOKEN",
                          "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
                          "HF_ENDPOINT"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
}

static void check_cache_dir(const vs2_hub_params *p, const char *want) {
    char *d = vs2_hub_cache_dir(p);
    CHECK_MSG(d && !strcmp(d, want), "cache dir %s, want %s", d ? d : "(null)", want);
    free(d);
}

/* HF_HUB_CACHE, then HF_HOME/hub, then XDG_CACHE_HOME/huggingface/hub, then ~/.cache/... */
static void test_cache_dir_order(void) {
    clear_env();
    vs2_hub_params p = vs2_hub_default_params();
    setenv("HOME", "/home/u", 1);
    check_cache_dir(&p, "/home/u/.cache/huggingface/hub");
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    check_cache_dir(&p, "/xdg/huggingface/hub");
    setenv("HF_HOME", "~/hf", 1);
    check_cache_dir(&p, "/home/u/hf/hub");
    setenv("HUGGINGFACE_HUB_CACHE", "/legacy", 1);
    check_cache_dir(&p, "/legacy");
    setenv("HF_HUB_CACHE", "/hubcache", 1);
    check_cache_dir(&p, "/hubcache");
    p.cache_dir = "/explicit";
    check_cache_dir(&p, "/explicit");
    clear_env();
}

static void check_token(const char *want, const char *source) {
    vs2_hub_params p = vs2_hub_default_params();
    hub_ctx h;
    CHECK(hub__ctx_init(&h, "o/m", &p, NULL) == VS2_OK);
    CHECK_MSG((!want && !h.token) || (want && h.token && !strcmp(h.token, want)), "token %s, want %s",
              h.token ? h.token : "(none)", want ? want : "(none)");
    if (source) CHECK_STR_CONTAINS(h.token_source, source);
    hub__ctx_free(&h);
}

/* HF_TOKEN, then HUGGING_FACE_HUB_TOKEN, then $HF_TOKEN_PATH or $HF_HOME/token (trimmed). */
static void test_token_order(void) {
    clear_env();
    char home[1100], path[1200];
    snprintf(home, sizeof home, "%s/hfhome", tmp);
    setenv("HF_HOME", home, 1);
    check_token(NULL, NULL);
    snprintf(path, sizeof path, "%s/token", home);
    write_text(path, "  hf_file\r\n");
    check_token("hf_file", "token file");
    snprintf(path, sizeof path, "%s/other-token", tmp);
    write_text(path, "hf_path\n");
    setenv("HF_TOKEN_PATH", path, 1);
    check_token("hf_path", "token file");
    setenv("HUGGING_FACE_HUB_TOKEN", "hf_legacy", 1);
    check_token("hf_legacy", "HUGGING_FACE_HUB_TOKEN");
    setenv("HF_TOKEN", "hf_env", 1);
    check_token("hf_env", "HF_TOKEN");
    clear_env();
}

static void test_hashes(void) {
    char path[1100], out[65];
    snprintf(path, sizeof path, "%s/hello.txt", tmp);
    write_text(path, "hello\n");
    CHECK(hub__hash_file(path, 1, out, NULL) == VS2_OK); /* `git hash-object` of "hello\n" */
    CHECK_MSG(!strcmp(out, "ce013625030ba8dba906f756967f9e9ca394464a"), "git sha1 %s", out);
    CHECK(hub__hash_file(path, 0, out, NULL) == VS2_OK);
    CHECK_MSG(!strcmp(out, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"), "sha256 %s", out);
}

#define COMMIT "0123456789abcdef0123456789abcdef01234567"

/* A cache as huggingface_hub leaves it: blobs, relative links, refs/main. */
static void make_cached(const char *cache, int with_index, int drop_shard) {
    char p[1400], t[1400];
    const char *files[] = {"config.json", "tokenizer.json", with_index ? "model.safetensors.index.json" : "model.safetensors",
                           with_index ? "s1.safetensors" : NULL, with_index && !drop_shard ? "s2.safetensors" : NULL};
    snprintf(p, sizeof p, "%s/models--o--m/refs/main", cache);
    write_text(p, COMMIT);
    for (int i = 0; i < 5; i++) {
        if (!files[i]) continue;
        const char *text = !strcmp(files[i], "model.safetensors.index.json")
                               ? "{\"metadata\":{},\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s2.safetensors\"}}"
                               : "{}";
        snprintf(p, sizeof p, "%s/models--o--m/blobs/blob%d", cache, i);
        write_text(p, text);
        snprintf(p, sizeof p, "%s/models--o--m/snapshots/" COMMIT "/%s", cache, files[i]);
        snprintf(t, sizeof t, "%s/models--o--m/snapshots/" COMMIT, cache);
        CHECK(hub__mkdirs(t, NULL) == VS2_OK);
        snprintf(t, sizeof t, "../../blobs/blob%d", i);
        CHECK(symlink(t, p) == 0 || errno == EEXIST);
    }
}

static vs2_hub_params no_network(const char *cache) {
    vs2_hub_params p = vs2_hub_default_params();
    p.cache_dir = cache;
    p.endpoint = "http://127.0.0.1:9"; /* a closed port */
    p.max_retries = 0;
    p.log = count_log;
    return p;
}

static void test_resolve_cached(void) {
    clear_env();
    for (int with_index = 0; with_index < 2; with_index++) {
        char cache[1100], want[1300];
        snprintf(cache, sizeof cache, "%s/cache%d", tmp, with_index);
        make_cached(cache, with_index, 0);
        vs2_hub_params p = no_network(cache);
        char *path = NULL;
        vs2_error err;
        log_calls = 0;
        CHECK(vs2_hub_resolve("o/m", &p, &path, &err) == VS2_OK);
        snprintf(want, sizeof want, "%s/models--o--m/snapshots/" COMMIT, cache);
        CHECK_MSG(path && !strcmp(path, want), "%s", path ? path : err.message);
        CHECK_EQ_INT(log_calls, 0); /* no request, no retry, no warning */
        free(path);
        path = NULL;
        p.revision = COMMIT; /* a commit needs no ref */
        CHECK(vs2_hub_resolve("o/m", &p, &path, &err) == VS2_OK);
        free(path);
        path = NULL;
        p.revision = NULL;
        p.offline = 1, p.check_hub = 1; /* offline wins over check_hub */
        CHECK(vs2_hub_resolve("o/m", &p, &path, &err) == VS2_OK);
        free(path);
    }
}

static void test_offline_missing(void) {
    clear_env();
    char cache[1100];
    snprintf(cache, sizeof cache, "%s/partial", tmp);
    make_cached(cache, 1, 1);
    vs2_hub_params p = no_network(cache);
    p.offline = 1;
    char *path = NULL;
    vs2_error err;
    CHECK(vs2_hub_resolve("o/m", &p, &path, &err) == VS2_ERR_IO);
    CHECK(path == NULL);
    CHECK_STR_CONTAINS(err.message, "is only partly in the Hugging Face cache");
    CHECK_STR_CONTAINS(err.message, "lacks s2.safetensors");
    CHECK_STR_CONTAINS(err.message, "vs2 download o/m");
    setenv("HF_HUB_OFFLINE", "1", 1); /* the environment alone also means offline */
    p.offline = 0;
    CHECK(vs2_hub_resolve(NULL, &p, &path, &err) == VS2_ERR_IO);
    CHECK_STR_CONTAINS(err.message, "TIGER-Lab/VideoScore2 (revision main) is not in the Hugging Face cache");
    CHECK_STR_CONTAINS(err.message, "hf download TIGER-Lab/VideoScore2");
    p.revision = "v2";
    CHECK(vs2_hub_resolve("o/m", &p, &path, &err) == VS2_ERR_IO);
    CHECK_STR_CONTAINS(err.message, "vs2 download o/m --revision v2");
    clear_env();
}

static void test_arguments(void) {
    vs2_hub_params p = no_network(tmp);
    char *path = NULL;
    vs2_error err;
    CHECK(vs2_hub_resolve(tmp, &p, &path, &err) == VS2_OK); /* a directory is returned as is */
    CHECK(path && !strcmp(path, tmp));
    free(path);
    CHECK(vs2_hub_resolve("./missing/dir", &p, &path, &err) == VS2_ERR_IO);
    CHECK_STR_CONTAINS(err.message, "no such model directory");
    CHECK(vs2_hub_resolve("not a repo", &p, &path, &err) == VS2_ERR_INVALID_ARG);
    p.revision = "../../etc";
    CHECK(vs2_hub_resolve("o/m", &p, &path, &err) == VS2_ERR_INVALID_ARG);
    CHECK(vs2_hub_resolve("o/m", &p, NULL, &err) == VS2_ERR_INVALID_ARG);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s/test_hub", check_env("VS2_TEST_TMP"));
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) return 2;
    if (hub__mkdirs(tmp, NULL) != VS2_OK) return 2;
    RUN(test_names);
    RUN(test_cache_dir_order);
    RUN(test_token_order);
    RUN(test_hashes);
    RUN(test_resolve_cached);
    RUN(test_offline_missing);
    RUN(test_arguments);
    return CHECK_DONE();
}
