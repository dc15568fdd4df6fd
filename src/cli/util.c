/* util.c — small helpers shared by the subcommands. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void cli_json_string(FILE *f, const char *s, size_t len) {
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default:
            if (c < 0x20) fprintf(f, "\\u%04x", c);
            else fputc(c, f);
        }
    }
    fputc('"', f);
}

char *cli_read_all(FILE *f, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    for (;;) {
        if (n + 1 >= cap) {
            char *p = realloc(buf, cap * 2);
            if (!p) {
                free(buf);
                return NULL;
            }
            buf = p;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

const char *cli_alias(const char *arg) {
    if (!strcmp(arg, "-m")) return "--model";
    if (!strcmp(arg, "-p")) return "--prompt";
    if (!strcmp(arg, "-o")) return "--out";
    return arg;
}

int cli_log_shown(int level, int verbose) {
    /* level 0 (error) comes back as the call's own error message: printing it here too would
     * show every error twice */
    return level == 1 || (level >= 2 && verbose);
}

int cli_check_video(const char *cmd, const char *path) {
    struct stat st;
    if (!strcmp(path, "")) {
        fprintf(stderr, "%s: the video path is empty\n", cmd);
        return 0;
    }
    if (strstr(path, "://")) return 1; /* a URL: the decoder says what is wrong with it */
    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: %s: %s\n", cmd, path, strerror(errno));
        return 0;
    }
    if (S_ISDIR(st.st_mode)) return 1; /* a directory of images: read when scored */
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s: cannot open: %s\n", cmd, path, strerror(errno));
        return 0;
    }
    int c = fgetc(f);
    fclose(f);
    if (c == EOF) {
        fprintf(stderr, "%s: %s: the file is empty\n", cmd, path);
        return 0;
    }
    return 1;
}

int cli_check_prompt(const char *cmd, const char *prompt) {
    for (const char *p = prompt; p && *p; p++)
        if (!isspace((unsigned char)*p)) return 1;
    fprintf(stderr, "%s: the text prompt is empty: the model scores a video against the prompt it was "
                    "generated from\n", cmd);
    return 0;
}

int cli_video_opt(const char *cmd, int argc, char **argv, int *i, vs2_video_params *vp) {
    const char *iv;
    char buf[64];
    const char *a = cli_arg_name(argv[*i], buf, sizeof buf, &iv);
    if (strcmp(a, "--nframes") && strcmp(a, "--max-frames") && strcmp(a, "--max-video-tokens")) return 0;
    const char *v = cli_arg_value(cmd, argc, argv, i, a, iv);
    if (!v) return -1;
    /* the scoring options' own parser, so limits and messages are those of vs2 score */
    vs2_score_params sp = vs2_score_default_params();
    sp.video = *vp;
    vs2_error err;
    if (vs2_score_params_set(&sp, a, v, &err) != VS2_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return -1;
    }
    *vp = sp.video;
    return 1;
}

const char *cli_arg_name(const char *arg, char *buf, size_t size, const char **inline_value) {
    *inline_value = NULL;
    const char *eq = arg[0] == '-' && arg[1] == '-' ? strchr(arg, '=') : NULL;
    if (eq && (size_t)(eq - arg) < size) {
        memcpy(buf, arg, (size_t)(eq - arg));
        buf[eq - arg] = '\0';
        *inline_value = eq + 1;
        return buf;
    }
    return cli_alias(arg);
}

const char *cli_arg_value(const char *cmd, int argc, char **argv, int *i, const char *name,
                          const char *inline_value) {
    if (inline_value) return inline_value;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value\n", cmd, name);
        return NULL;
    }
    return argv[++*i];
}

int cli_arg_flag(const char *cmd, const char *name, const char *inline_value) {
    if (!inline_value) return 1;
    fprintf(stderr, "%s: %s takes no value (got '%s=%s')\n", cmd, name, name, inline_value);
    return 0;
}
