/* weight_cache.h — a file of prepared (int8) weights, mmap'd on later loads (weight_cache.c). */
#ifndef VS2_WEIGHT_CACHE_H
#define VS2_WEIGHT_CACHE_H

#include "vs2.h"

#include <stddef.h>
#include <stdint.h>

struct vs2_weight;
struct vs2_kernels;
typedef struct vs2_wcache vs2_wcache;

/* $VS2_CACHE_DIR, else $XDG_CACHE_HOME/vs2, else ~/.cache/vs2 (malloc'd). */
char *vs2_wcache_default_dir(void);
/* The directory for an option (vs2_engine_params.weight_cache): opt, else $VS2_WEIGHT_CACHE,
 * else the default; NULL when it is "off" (malloc'd). */
char *vs2_wcache_dir_for(const char *opt);
/* The cache entry of this checkpoint and kernel set in dir (mapped if a valid file exists). */
vs2_status vs2_wcache_open(const char *dir, const char *model_dir, const vs2_model_files *mf,
                           const struct vs2_kernels *k, vs2_wcache **out, vs2_error *err);
int vs2_wcache_hit(const vs2_wcache *c);
const char *vs2_wcache_path(const vs2_wcache *c);
/* The next weight's data from the file if it matches w's shape (NULL otherwise: quantise). */
const uint8_t *vs2_wcache_take(vs2_wcache *c, const struct vs2_weight *w, size_t bytes);
/* Remember a weight quantised here, for vs2_wcache_finish (w must live until then). */
void vs2_wcache_add(vs2_wcache *c, const struct vs2_weight *w);
/* Write the file (temporary name, fsync, rename) when every weight was quantised here. */
vs2_status vs2_wcache_finish(vs2_wcache *c, const char *dir, vs2_error *err);
/* Unmap: only after every weight taken from it is freed. */
void vs2_wcache_close(vs2_wcache *c);

#endif
