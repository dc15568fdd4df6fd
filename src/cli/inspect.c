/* inspect.c — placeholder until the inspect stage lands (replaced, not shipped). */
#include "cli.h"

int cmd_inspect(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "vs2 inspect: not available in this build\n");
    return 1;
}
