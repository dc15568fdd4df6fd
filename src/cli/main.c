/* main.c — `vs2` entry point: global options and dispatch to the subcommands. */
#include "cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"inspect", cmd_inspect, "check a model directory and summarise its configuration and weights"},
    {"tokenize", cmd_tokenize, "text to token ids, ids to text, and the VideoScore2 chat ids"},
    {"frames", cmd_frames, "show how a video is sampled, resized and patched for the model"},
    {"score", cmd_score, "score a video against its text prompt (the three VideoScore2 scores)"},
    {"download", cmd_download, "fetch a model into the Hugging Face cache (or find it there)"},
    {"metrics", cmd_metrics, "accuracy, PLCC/SRCC and pairwise accuracy of a result file"},
    {"report", cmd_report, "one self-contained HTML page comparing result files"},
    {"batch", cmd_batch, "score a manifest into a resumable JSONL file (shards, Best-of-N groups)"},
    {"merge", cmd_merge, "join shard outputs of vs2 batch, refusing duplicates, reporting gaps"},
    {"rank", cmd_rank, "Best-of-N: score candidate videos for one prompt and rank them"},
    {"serve", cmd_serve, "an HTTP reward server: native API, Flow-Factory /compute, OpenAI chat"},
    {"slurm", cmd_slurm, "write a Slurm array job (one task per shard) and a final merge/metrics/report job"},
    {"k8s", cmd_k8s, "write a Kubernetes indexed Job (one pod per shard) and a merge Job, as YAML"},
    {"bench", cmd_bench, "speed of prefill, decoding, the vision tower and a whole video; machine peaks"},
};

static void usage(FILE *f) {
    fprintf(f,
            "vs2 %s — VideoScore2 in C: score AI-generated videos for visual quality,\n"
            "text-to-video alignment and physical/common-sense consistency.\n\n"
            "usage: vs2 [--help] [--version] <command> [options]\n\ncommands:\n",
            vs2_version());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`vs2 <command> --help` describes a command's options.\n");
}

static void ffmpeg_line(int level, const char *message, void *user) {
    (void)level, (void)user;
    fprintf(stderr, "ffmpeg: %s\n", message);
}

int main(int argc, char **argv) {
    /* Past a file-size limit (ulimit -f) the kernel would kill vs2 with SIGXFSZ and no message;
     * ignored, the write fails with EFBIG and the writer names the file ("File too large"). */
    signal(SIGXFSZ, SIG_IGN);
    /* FFmpeg's lines ("moov atom not found", in colour) would break progress bars and repeat
     * what vs2's own error says: shown only with --verbose (or VS2_FFMPEG_LOG set). */
    int verbose = getenv("VS2_FFMPEG_LOG") != NULL;
    for (int i = 2; i < argc; i++) verbose |= !strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v");
    vs2_set_ffmpeg_log(verbose ? ffmpeg_line : NULL, NULL);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("vs2 %s\n", vs2_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "vs2: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
