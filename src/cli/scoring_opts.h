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

/* Best-of-N: score n candidates for one prompt and rank them (rank.c). */
typedef struct cli_group_result {
    size_t n;
    vs2_result **r;             /* NULL where scoring failed */
    char **error;               /* the failure, else NULL */
    double *key;                /* NAN = no key */
    size_t *order;              /* best first */
    size_t n_failed, n_keyed;
    int stopped;                /* interrupted by a signal: incomplete */
} cli_group_result;

/* Returns 0, or -1 on out of memory. progress (may be NULL) is called after each candidate. */
int cli_rank_candidates(const vs2_engine *eng, const vs2_score_params *sp, const vs2_rank_params *rp,
                        const char *prompt, char *const *videos, size_t n, cli_group_result *out,
                        void (*progress)(void *user, size_t done, size_t n), void *progress_user);
void cli_group_result_free(cli_group_result *g);
/* The group as one JSON line (malloc'd; NULL on OOM). id may be NULL (vs2 rank). full: each
 * candidate's whole result object under "result"; else a summary of its scores. */
char *cli_group_json(const cli_group_result *g, const char *id, const char *prompt,
                     char *const *videos, const vs2_rank_params *rp, int full);

/* "a,b,c" -> three weights (message printed on failure). */
int cli_parse_weights(const char *cmd, const char *s, double w[VS2_NDIMS]);

#endif
