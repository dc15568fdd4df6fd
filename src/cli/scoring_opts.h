/* scoring_opts.h — the model and decoding options `vs2 batch` and `vs2 rank` share with
 * `vs2 score` (same names and meanings; docs/cli.md). */
#ifndef VS2_CLI_SCORING_OPTS_H
#define VS2_CLI_SCORING_OPTS_H

#include "cli.h"

typedef struct cli_scoring {
    const char *cmd;            /* "vs2 batch" for messages */
    vs2_engine_params ep;
    vs2_hub_params hp;
    vs2_score_params sp;
    int verbose;
    cli_hub_view hub_view;
} cli_scoring;

void cli_scoring_init(cli_scoring *s, const char *cmd);
/* argv[*i] is an option: 1 = consumed (with its value; *i advanced), 0 = not a scoring option,
 * -1 = bad value (message printed). The scoring options are the library's table (vs2_options),
 * set with its setters; --revision, --offline and --verbose are the command's own. */
int cli_scoring_opt(cli_scoring *s, int argc, char **argv, int *i);
/* After all options: vs2_score_params_check; 0 (message printed) on a contradiction. */
int cli_scoring_finish(cli_scoring *s);
/* Load the engine; prints the error and returns NULL on failure. */
vs2_engine *cli_scoring_load(cli_scoring *s);
/* The options' help, generated from the table: model, prompt, decoding and video sections. */
void cli_scoring_help(FILE *f);
/* Parse a double option value (message printed on failure). */
int cli_parse_double(const char *cmd, const char *opt, const char *s, double *out);


#include <signal.h>

/* Set by SIGINT/SIGTERM handlers (cli_catch_signals): stops generation at the next token. */
extern volatile sig_atomic_t cli_stop_signal;
void cli_catch_signals(void);
/* A vs2_score_params.on_token callback that stops when cli_stop_signal is set. */
int cli_stop_on_token(void *user, int sample, int step, int32_t id);

/* "a,b,c" -> three weights (message printed on failure). */
int cli_parse_weights(const char *cmd, const char *s, double w[VS2_NDIMS]);

#endif
