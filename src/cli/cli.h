/* cli.h — the vs2 command: one file per subcommand; main.c only dispatches. */
#ifndef VS2_CLI_H
#define VS2_CLI_H

#include "vs2.h"

#include <stdio.h>

/* Each subcommand takes argv with argv[0] = the subcommand name and returns the exit status:
 * 0 success, 1 failure of the work, 2 bad usage. */
int cmd_inspect(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_frames(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_download(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_batch(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_rank(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* Print s as a JSON string literal (with quotes) to f. */
void cli_json_string(FILE *f, const char *s, size_t len);
/* Read all of a stream into a malloc'd NUL-terminated buffer; NULL on failure. */
char *cli_read_all(FILE *f, size_t *len);

/* Short flags: -m -> --model, -p -> --prompt, -o -> --out; anything else unchanged. */
const char *cli_alias(const char *arg);
/* Whether a library log message is printed: warnings always, info with --verbose, errors never
 * (they come back as the call's error message, which the command prints). */
int cli_log_shown(int level, int verbose);
/* Cheap checks before any model is resolved, loaded or downloaded: the video path exists and
 * can be read (a file that is not empty, or a directory of images), the prompt is not blank.
 * Print the problem and return 0. */
int cli_check_video(const char *cmd, const char *path);
int cli_check_prompt(const char *cmd, const char *prompt);
/* --nframes, --max-frames, --max-video-tokens (vs2 frames): 1 consumed, 0 not one of them,
 * -1 bad value (message printed). Parsed by the scoring options' table. */
int cli_video_opt(const char *cmd, int argc, char **argv, int *i, vs2_video_params *vp);
/* Options are "--name value" or "--name=value". cli_arg_name returns the name of arg (short
 * flags mapped by cli_alias; "--name=value" cut at '=' into buf) and sets *inline_value to the
 * text after '=' or NULL. cli_arg_value returns the inline value, else the next argument (*i
 * advanced), else NULL after printing "needs a value". cli_arg_flag: 0 (message printed) when a
 * flag was given a value. */
const char *cli_arg_name(const char *arg, char *buf, size_t size, const char **inline_value);
const char *cli_arg_value(const char *cmd, int argc, char **argv, int *i, const char *name,
                          const char *inline_value);
int cli_arg_flag(const char *cmd, const char *name, const char *inline_value);
/* Write the per-video CSV table of a result file (table.c); 0 on failure (message printed). */
int cli_write_csv_table(const char *cmd, const char *results, const char *csv);
/* Download display shared by `vs2 download` and the scoring commands (hub_progress.c). */
typedef struct cli_hub_view {
    const char *cmd;
    int tty, quiet, bar_drawn, started;
    double t0, last_line;
    int64_t done0;
} cli_hub_view;
void cli_hub_view_init(cli_hub_view *v, const char *cmd);
void cli_hub_log(int level, const char *message, void *user);   /* a vs2_log_fn; user = the view */
void cli_hub_progress(void *user, const vs2_hub_progress *p);   /* user = the view */
void cli_hub_clear(cli_hub_view *v);                              /* erase a drawn bar */

#endif
