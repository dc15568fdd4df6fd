/* score.c — `vs2 score`: score one video against its text prompt (docs/cli.md). */
#include "scoring_opts.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f) {
    fputs("usage: vs2 score --video FILE (--prompt TEXT | --prompt-file FILE) [options]\n\n"
            "Score an AI-generated video for visual quality, text-to-video alignment and\n"
            "physical/common-sense consistency (1-5 each) with VideoScore2.\n\n"
            "input (checked before the model is loaded)\n"
            "  --video FILE           a video file (anything FFmpeg reads), one image file, or a\n"
            "                         directory of images (png, jpg, bmp, webp, tif: the frames in name order)\n"
            "  -p, --prompt TEXT      the text prompt the video was generated from (not empty)\n"
          "  --prompt-file FILE     the prompt from a file ('-' = stdin; one trailing newline dropped)\n",
          f);
    cli_scoring_help(f);
    fputs("output\n"
            "  --json / --no-json     one JSON object (default when stdout is not a terminal)\n"
            "  --dump-stages DIR      write each stage's output (fp32) and index.json to DIR\n"
            "  --dump-all-logits      with --dump-stages: the logits of every prompt position\n"
            "scoring a given answer\n"
            "  --answer-file FILE     generate nothing: score this answer text (teacher forcing);\n"
            "                         with --sample the soft scores use the reference's T=0.7 distributions\n"
            "  --quiet                no progress line (it is shown only when stderr is a terminal)\n"
            "\nExit status: 0 scored (also when the answer has no scores: the result says why),\n"
            "1 error, 2 bad usage.\n",
          f);
}

static void log_stderr(int level, const char *message, void *user) {
    int verbose = *(const int *)user;
    if (cli_log_shown(level, verbose)) fprintf(stderr, "vs2 score: %s\n", message);
}

/* The live status line on a terminal (stderr): phase, progress, elapsed time and an estimate. */
typedef struct status_line {
    vs2_phase phase;
    int64_t last_done;
    struct timespec t0;
    int shown;
} status_line;

static double since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void on_progress(void *user, vs2_phase phase, int64_t done, int64_t total) {
    status_line *sl = user;
    static const char *const names[] = {"vision tower", "prefill", "generating"};
    if (done == 0 || phase != sl->phase) {
        sl->phase = phase;
        clock_gettime(CLOCK_MONOTONIC, &sl->t0);
    }
    sl->last_done = done;
    const double el = since(&sl->t0);
    char eta[48] = "";
    if (phase == VS2_PHASE_GENERATE) {
        if (el > 0 && done > 0) snprintf(eta, sizeof eta, ", %.2f tokens/s", (double)done / el);
        fprintf(stderr, "\r\033[Kvs2 score: %s: %lld tokens, %.0f s%s", names[phase], (long long)done, el, eta);
    } else {
        if (done > 0 && done < total) snprintf(eta, sizeof eta, ", about %.0f s left", el / (double)done * (double)(total - done));
        fprintf(stderr, "\r\033[Kvs2 score: %s: %lld/%lld %s, %.0f s%s", names[phase], (long long)done, (long long)total,
                phase == VS2_PHASE_VISION ? "blocks" : "layers", el, eta);
    }
    sl->shown = 1;
}

/* The text of a prompt or answer file ("what" names it in errors). */
static char *read_text_file(const char *path, const char *what) {
    FILE *f = !strcmp(path, "-") ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "vs2 score: %s: cannot open: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t n = 0;
    char *s = cli_read_all(f, &n);
    if (f != stdin) fclose(f);
    if (!s) {
        fprintf(stderr, "vs2 score: %s: cannot read\n", path);
        return NULL;
    }
    if (n && s[n - 1] == '\n') s[--n] = '\0'; /* one trailing newline, as an editor adds */
    if (strlen(s) != n) {
        fprintf(stderr, "vs2 score: %s: the %s contains a NUL byte\n", path, what);
        free(s);
        return NULL;
    }
    return s;
}

/* Print text wrapped at width columns (UTF-8 aware enough: counts code points), indented. */
static void print_wrapped(const char *text, int indent, int width) {
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        const char *end = nl ? nl : p + strlen(p);
        int col = 0;
        printf("%*s", indent, "");
        while (p < end) {
            while (p < end && *p == ' ') p++;
            const char *w = p;
            int wl = 0;
            while (p < end && *p != ' ') {
                if (((unsigned char)*p & 0xC0) != 0x80) wl++;
                p++;
            }
            if (p == w) break;
            if (col > 0 && col + 1 + wl > width) {
                printf("\n%*s", indent, "");
                col = 0;
            }
            if (col > 0) {
                putchar(' ');
                col++;
            }
            fwrite(w, 1, (size_t)(p - w), stdout);
            col += wl;
        }
        putchar('\n');
        p = nl ? nl + 1 : end;
    }
}

static const char *const dim_names[VS2_NDIMS] = {"visual quality", "text-to-video alignment",
                                                 "physical/common-sense consistency"};

static void print_num(double x) {
    if (isnan(x)) printf("-");
    else printf("%.4f", x);
}

static void print_summary(const vs2_result *r) {
    printf("video      %s\n", r->video);
    printf("           %d frames of %lld at %.4g fps -> %dx%d, grid %dx%dx%d, %lld video tokens\n", r->frames,
           (long long)r->total_frames, r->video_fps, r->width, r->height, r->grid_t, r->grid_h, r->grid_w,
           (long long)r->video_tokens);
    printf("model      %s\n", r->model);
    if (r->decoding == VS2_DECODE_SAMPLE)
        printf("decoding   sample (temperature %g, top-k %d, top-p %g, repetition penalty %g, seed %llu)\n",
               r->temperature, r->top_k, r->top_p, r->repetition_penalty, (unsigned long long)r->seed);
    else
        printf("decoding   greedy (repetition penalty %g)\n", r->repetition_penalty);
    for (size_t i = 0; i < r->n_samples; i++) {
        const vs2_sample *s = &r->samples[i];
        if (r->n_samples > 1) printf("\nsample %zu (seed %llu)\n", i + 1, (unsigned long long)s->seed);
        if (s->has_scores) {
            for (int d = 0; d < VS2_NDIMS; d++) {
                printf("  %-36s %ld   soft ", dim_names[d], s->scores[d]);
                print_num(s->soft[d]);
                printf("   expected ");
                print_num(s->soft_expected[d]);
                putchar('\n');
            }
        } else {
            printf("  no scores: %s\n", s->parse_error ? s->parse_error : "?");
        }
        if (s->has_robust && (!s->has_scores || memcmp(s->robust, s->scores, sizeof s->robust)))
            printf("  robust parse: %ld %ld %ld\n", s->robust[0], s->robust[1], s->robust[2]);
        else if (!s->has_robust && s->has_scores)
            printf("  robust parse: none (%s)\n", s->robust_error ? s->robust_error : "?");
        if (s->rationale && *s->rationale) {
            printf("rationale\n");
            print_wrapped(s->rationale, 2, 96);
        }
        printf("  %zu tokens generated (%s)\n", s->n_ids, s->stop_reason ? s->stop_reason : "?");
    }
    if (r->n_samples > 1) {
        printf("\nmeans over %zu samples\n", r->n_samples);
        for (int d = 0; d < VS2_NDIMS; d++) {
            printf("  %-36s ", dim_names[d]);
            print_num(r->mean.scores[d]);
            printf(" (%d parsed)   soft ", r->mean.n_scores[d]);
            print_num(r->mean.soft[d]);
            printf("   expected ");
            print_num(r->mean.soft_expected[d]);
            putchar('\n');
        }
    }
    size_t gen = 0;
    double steps = 0;
    for (size_t i = 0; i < r->n_samples; i++) {
        gen += r->samples[i].n_ids;
        steps += r->samples[i].tokens_per_second * r->samples[i].generate_ms / 1e3;
    }
    printf("timings    video %.0f ms, vision %.0f ms, prefill %.0f ms (%lld tokens), generate %.0f ms (%zu tokens",
           r->video_ms, r->vision_ms, r->prefill_ms, (long long)r->prompt_tokens, r->generate_ms, gen);
    if (steps > 0 && r->generate_ms > 0) printf(", %.2f tokens/s", steps / (r->generate_ms / 1e3));
    printf("), %d threads, backend %s\n", r->threads, r->backend ? r->backend : "?");
}

/* The command's own options (input, output, debugging): 1 consumed, 0 not one, -1 bad usage. */
typedef struct score_opts {
    const char *video, *prompt, *prompt_file, *answer_file;
    int json, quiet;
} score_opts;

static int score_opt(score_opts *o, cli_scoring *sc, int argc, char **argv, int *i) {
    char buf[64];
    const char *iv;
    const char *a = cli_arg_name(argv[*i], buf, sizeof buf, &iv);
    int flag = !strcmp(a, "--json") || !strcmp(a, "--no-json") || !strcmp(a, "--quiet") || !strcmp(a, "-q") ||
               !strcmp(a, "--dump-all-logits");
    if (flag) {
        if (!cli_arg_flag("vs2 score", a, iv)) return -1;
        if (!strcmp(a, "--json") || !strcmp(a, "--no-json")) o->json = !strcmp(a, "--json");
        else if (!strcmp(a, "--dump-all-logits")) sc->sp.dump_all_logits = 1;
        else o->quiet = 1;
        return 1;
    }
    const char **dst = !strcmp(a, "--video")         ? &o->video
                       : !strcmp(a, "--prompt")      ? &o->prompt
                       : !strcmp(a, "--prompt-file") ? &o->prompt_file
                       : !strcmp(a, "--answer-file") ? &o->answer_file
                       : !strcmp(a, "--dump-stages") ? &sc->sp.dump_dir
                                                     : NULL;
    if (!dst) return 0;
    *dst = cli_arg_value("vs2 score", argc, argv, i, a, iv);
    return *dst ? 1 : -1;
}

int cmd_score(int argc, char **argv) {
    cli_scoring sc;
    cli_scoring_init(&sc, "vs2 score");
    score_opts o = {.json = -1};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        int r = cli_scoring_opt(&sc, argc, argv, &i);
        if (r == 0) r = score_opt(&o, &sc, argc, argv, &i);
        if (r < 0) return 2;
        if (r == 0) {
            fprintf(stderr, "vs2 score: unknown option '%s' (see vs2 score --help)\n", argv[i]);
            return 2;
        }
    }
    const char *video = o.video, *prompt = o.prompt, *prompt_file = o.prompt_file, *answer_file = o.answer_file;
    int json = o.json, quiet = o.quiet;
    if (!video) {
        fprintf(stderr, "vs2 score: --video FILE is required (see vs2 score --help)\n");
        return 2;
    }
    if (!prompt == !prompt_file) {
        fprintf(stderr, "vs2 score: give the text prompt with exactly one of --prompt TEXT or --prompt-file FILE\n");
        return 2;
    }
    if (!cli_scoring_finish(&sc)) return 2;
    vs2_score_params sp = sc.sp;
    vs2_engine_params ep = sc.ep;
    vs2_hub_params hp = sc.hp;
    int verbose = sc.verbose;
    if (json < 0) json = !isatty(STDOUT_FILENO);

    char *prompt_buf = NULL;
    if (prompt_file) {
        prompt_buf = read_text_file(prompt_file, "prompt");
        if (!prompt_buf) return 1;
        prompt = prompt_buf;
    }
    if (!cli_check_video("vs2 score", video) || !cli_check_prompt("vs2 score", prompt)) {
        free(prompt_buf);
        return 1;
    }
    char *answer_buf = NULL;
    if (answer_file) {
        answer_buf = read_text_file(answer_file, "answer");
        if (!answer_buf) {
            free(prompt_buf);
            return 1;
        }
        sp.answer = answer_buf;
    }

    cli_hub_view hv; /* a download says what, where, how much, with rate and ETA (as vs2 download) */
    cli_hub_view_init(&hv, "vs2 score");
    hp.log = cli_hub_log;
    hp.log_user = &hv;
    hp.progress = cli_hub_progress;
    hp.progress_user = &hv;
    ep.hub = &hp;
    ep.log = log_stderr;
    ep.log_user = &verbose;
    vs2_error err;
    vs2_engine *eng = NULL;
    const int live = !quiet && isatty(STDERR_FILENO);
    status_line sl = {0};
    if (live) {
        sp.on_progress = on_progress;
        sp.on_progress_user = &sl;
        fprintf(stderr, "vs2 score: loading the model%s", verbose ? "\n" : "");
    }
    if (vs2_engine_load(&ep, &eng, &err) != VS2_OK) {
        if (live && !verbose) fputc('\n', stderr);
        fprintf(stderr, "vs2 score: %s\n", err.message);
        free(prompt_buf);
        free(answer_buf);
        return 1;
    }
    sp.video.threads = ep.threads;
    vs2_result *r = NULL;
    int rc = 0;
    vs2_status scored = vs2_score(eng, video, prompt, &sp, &r, &err);
    if (live) fputs("\r\033[K", stderr); /* the status line gives way to the result */
    if (scored != VS2_OK) {
        fprintf(stderr, "vs2 score: %s\n", err.message);
        rc = 1;
    } else if (json) {
        char *s = vs2_result_to_json(r);
        if (!s) {
            fprintf(stderr, "vs2 score: out of memory\n");
            rc = 1;
        } else {
            fputs(s, stdout);
            fputc('\n', stdout);
            free(s);
        }
    } else {
        print_summary(r);
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "vs2 score: cannot write the result: %s\n", strerror(errno));
        rc = 1;
    }
    vs2_result_free(r);
    vs2_engine_free(eng);
    free(prompt_buf);
    free(answer_buf);
    return rc;
}
