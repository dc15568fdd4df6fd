/* pool.c — see pool.h. Workers wait for a new "generation" of work: a short spin (a few tens
 * of microseconds, enough to bridge the serial gaps between the kernels of one forward pass),
 * then a condition variable. */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/* Spin iterations before sleeping (each a pause instruction, ~10-40 ns). */
#define SPIN 2000

struct vs2_pool {
    int n;
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    atomic_uint gen;       /* bumped once per vs2_pool_for */
    atomic_llong next;     /* next task index to hand out */
    atomic_int running;    /* workers still inside the current generation */
    int stop;
    int64_t n_tasks;
    vs2_task_fn fn;
    void *ctx;
};

typedef struct worker_arg {
    vs2_pool *pool;
    int index;
} worker_arg;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void run_tasks(vs2_pool *p, int thread) {
    for (;;) {
        int64_t t = atomic_fetch_add(&p->next, 1);
        if (t >= p->n_tasks) return;
        p->fn(p->ctx, t, thread);
    }
}

static void *worker(void *arg) {
    worker_arg a = *(worker_arg *)arg;
    free(arg);
    vs2_pool *p = a.pool;
    unsigned seen = 0;
    for (;;) {
        unsigned g = atomic_load(&p->gen);
        for (int i = 0; i < SPIN && g == seen; i++) {
            cpu_relax();
            g = atomic_load(&p->gen);
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            while ((g = atomic_load(&p->gen)) == seen && !p->stop) pthread_cond_wait(&p->start, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (g == seen) return NULL; /* stop */
        seen = g;
        pthread_mutex_lock(&p->mu);
        int stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop) return NULL;
        run_tasks(p, a.index);
        if (atomic_fetch_sub(&p->running, 1) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

vs2_status vs2_pool_create(int threads, vs2_pool **out) {
    *out = NULL;
    if (threads < 1) threads = 1;
    vs2_pool *p = calloc(1, sizeof *p);
    if (!p) return VS2_ERR_NOMEM;
    p->th = calloc((size_t)threads, sizeof *p->th);
    if (!p->th) {
        free(p);
        return VS2_ERR_NOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->gen, 0);
    atomic_init(&p->next, 0);
    atomic_init(&p->running, 0);
    p->n = 1;
    for (int i = 1; i < threads; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a) break;
        a->pool = p;
        a->index = i;
        if (pthread_create(&p->th[i], NULL, worker, a) != 0) {
            free(a);
            break;
        }
        p->n = i + 1;
    }
    if (p->n != threads) {
        vs2_pool_free(p);
        return VS2_ERR_NOMEM;
    }
    *out = p;
    return VS2_OK;
}

void vs2_pool_free(vs2_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->th[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p->th);
    free(p);
}

int vs2_pool_threads(const vs2_pool *p) { return p ? p->n : 1; }

void vs2_pool_for(vs2_pool *p, int64_t n_tasks, vs2_task_fn fn, void *ctx) {
    if (n_tasks <= 0) return;
    if (!p || p->n == 1 || n_tasks == 1) {
        for (int64_t t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next, 0);
    atomic_store(&p->running, p->n - 1);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, 0);
    for (int i = 0; i < SPIN && atomic_load(&p->running) != 0; i++) cpu_relax();
    if (atomic_load(&p->running) != 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->running) != 0) pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}
