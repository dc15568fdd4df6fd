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

#endif
