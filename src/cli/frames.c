/* frames.c — placeholder until the frames stage lands (replaced, not shipped). */
#include "cli.h"

int cmd_frames(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "vs2 frames: not available in this build\n");
    return 1;
}
