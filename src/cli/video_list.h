/* video_list.h — videos from directories and glob patterns, with their prompts (video_list.c). */
#ifndef VS2_CLI_VIDEO_LIST_H
#define VS2_CLI_VIDEO_LIST_H

#include "cli.h"

#include <math.h>
#include <stddef.h>

/* Each argument: a directory (its video files, by extension, sorted by name), a glob pattern
 * (quoted so the shell leaves it; its matches, sorted), or a path kept as it is. Prints the
 * problem and returns 0 on an empty directory, a pattern without matches or out of memory. */
int cli_expand_videos(const char *cmd, char *const *args, size_t n_args, char ***out, size_t *n_out);
void cli_paths_free(char **v, size_t n);
/* A manifest of the expanded videos: id = the file name without extension, prompt = prompt for
 * all, else the row of prompts_file (a CSV or JSONL manifest, matched on id = stem or on the
 * video's file name), else the sidecar STEM.txt (or FILE.txt) beside the video. Every video must
 * get a prompt: the ones that do not are named and 0 is returned, before any model is loaded. */
int cli_video_manifest(const char *cmd, char *const *args, size_t n_args, const char *prompt,
                       const char *prompts_file, vs2_manifest *out);

#endif
