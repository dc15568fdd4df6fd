/* pool.h — a small thread pool for the compute kernels.
 *
 * Why not OpenMP here: libgomp's idle threads spin for a long time between parallel regions
 * and its wait policy can only be set by an environment variable read before main(). Under a
 * competing load (a build, a second vs2) spinning workers steal the cores the work needs;
 * measured on the tiny model, decoding fell from 146 to 15 tokens/s. These workers spin only
 * briefly and then sleep on a condition variable.
 *
 * One pool serves one caller at a time (a scoring call owns its pool). Work is a range of
 * task indices handed out through an atomic counter; the calling thread takes part. */
#ifndef VS2_POOL_H
#define VS2_POOL_H

#include "vs2.h"

#include <stdint.h>

typedef struct vs2_pool vs2_pool;

/* A pool of `threads` workers in all, the caller included (threads - 1 are started). */
vs2_status vs2_pool_create(int threads, vs2_pool **out);
void vs2_pool_free(vs2_pool *pool);
int vs2_pool_threads(const vs2_pool *pool);

/* fn(ctx, task, thread) for every task in [0, n_tasks), spread over the pool's threads
 * (thread is in [0, threads): the index of a per-thread scratch slice). Returns when all are
 * done. A NULL pool runs the tasks in order on the caller, as thread 0. */
typedef void (*vs2_task_fn)(void *ctx, int64_t task, int thread);
void vs2_pool_for(vs2_pool *pool, int64_t n_tasks, vs2_task_fn fn, void *ctx);

#endif
