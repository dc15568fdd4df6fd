/* tokenize.c — placeholder until the tokenize stage lands (replaced, not shipped). */
#include "cli.h"

int cmd_tokenize(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "vs2 tokenize: not available in this build\n");
    return 1;
}
