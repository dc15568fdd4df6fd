/* download.c — `vs2 download [MODEL]`: put a model into the Hugging Face cache (or find it
 * there) and print its snapshot directory. Messages and progress go to stderr: a redrawn bar
 * on a terminal, a plain line every 10 s and per finished file otherwise. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: vs2 download [MODEL] [--revision REV] [--offline] [--cache-dir DIR] [--quiet]\n\n"
            "Put MODEL (a Hugging Face repo id, default %s) into the Hugging Face cache, or\n"
            "find it there, and print its snapshot directory. Only the files vs2 needs are fetched\n"
            "(config, tokenizer, safetensors index and shards); an interrupted download resumes, and\n"
            "every file is checked against the hub's size and sha256 before it is used.\n\n"
            "  --revision REV    branch, tag or commit (default main)\n"
            "  --offline         never touch the network; report what is missing (also HF_HUB_OFFLINE=1)\n"
            "  --cache-dir DIR   the hub cache (default $HF_HUB_CACHE, $HF_HOME/hub or\n"
            "                    ~/.cache/huggingface/hub)\n"
            "  --quiet           no progress, only warnings and errors\n\n"
            "Environment: HF_TOKEN (gated or private repos; else the token file `hf auth login` writes),\n"
            "HF_ENDPOINT (a mirror), HF_HUB_DOWNLOAD_TIMEOUT (seconds without data before a retry).\n"
            "Exit status: 0 the snapshot is complete, 1 it could not be made complete, 2 bad usage.\n",
            VS2_DEFAULT_MODEL);
}

int cmd_download(int argc, char **argv) {
    vs2_hub_params hp = vs2_hub_default_params();
    cli_hub_view v;
    cli_hub_view_init(&v, "vs2 download");
    const char *model = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--offline")) {
            hp.offline = 1;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            v.quiet = 1;
        } else if ((!strcmp(a, "--revision") || !strcmp(a, "--cache-dir")) && i + 1 < argc) {
            *(!strcmp(a, "--revision") ? &hp.revision : &hp.cache_dir) = argv[++i];
        } else if (a[0] != '-' && !model) {
            model = a;
        } else {
            fprintf(stderr, "vs2 download: unexpected argument '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    hp.check_hub = 1; /* an explicit download asks the hub whether the revision moved */
    hp.log = cli_hub_log;
    hp.log_user = &v;
    hp.progress = cli_hub_progress;
    hp.progress_user = &v;
    char *path = NULL;
    vs2_error err;
    vs2_status s = vs2_hub_resolve(model, &hp, &path, &err);
    cli_hub_clear(&v);
    if (s != VS2_OK) {
        fprintf(stderr, "vs2 download: %s\n", err.message);
        return s == VS2_ERR_INVALID_ARG ? 2 : 1;
    }
    printf("%s\n", path);
    free(path);
    return 0;
}
