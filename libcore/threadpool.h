/* threadpool.h: a persistent pool of worker threads with a static split.
 *
 * The pool is created once by a program (with the thread count from
 * --threads or MLI_THREADS) and passed to every kernel that threads. A
 * call to mli_pool_run() runs fn(arg, i, n) once for each i = 0..n-1,
 * where n is the pool's thread count, and returns when all have
 * finished. The shares run at once on the pool's threads, the caller's
 * included, each taken by the first thread free to take it (so a share
 * whose worker is kept off the CPU by another process is run by the
 * caller instead of waited for); never two at once on one thread. Which
 * part of the work an index does is decided by the caller from i and n
 * alone, never by who finishes first: that is what makes a kernel's
 * result bit-reproducible at a given thread count. No thread is created
 * per call; idle workers sleep on a condition variable. */
#ifndef MLI_THREADPOOL_H
#define MLI_THREADPOOL_H

#include <stddef.h>

struct mli_pool;

/* A task body: does share i of n. */
typedef void mli_pool_fn(void *arg, int i, int n);

/* Makes a pool of nthreads threads in all (the caller counts as one, so
 * nthreads - 1 workers are started); nthreads <= 0 means one per online
 * CPU. Returns 0 and sets *pool, or a negative MLI_E* code. */
int mli_pool_create(struct mli_pool **pool, int nthreads);

/* The thread count asked for by the environment: MLI_THREADS if it is a
 * positive integer (at most 1024), else 0 (which mli_pool_create takes
 * as one per CPU). Returns -1 when MLI_THREADS is set but invalid. */
int mli_pool_threads_from_env(void);

/* The pool's thread count; 1 for a NULL pool. */
int mli_pool_threads(const struct mli_pool *pool);

/* Runs fn(arg, i, n) for every i < n = mli_pool_threads(pool) and waits
 * for all. A NULL pool runs fn(arg, 0, 1) on the caller. Not reentrant:
 * fn must not call mli_pool_run on the same pool, and only one thread
 * may call it at a time. */
void mli_pool_run(struct mli_pool *pool, mli_pool_fn *fn, void *arg);

/* Makes sure every thread's scratch buffer holds at least `bytes`
 * (64-byte aligned, contents unspecified). Call it on the caller's
 * thread before mli_pool_run; the buffers are kept for later calls.
 * Returns 0 or MLI_ENOMEM. */
int mli_pool_reserve(struct mli_pool *pool, size_t bytes);

/* Share i's scratch buffer, as sized by the last mli_pool_reserve (the
 * thread running share i has it to itself). */
void *mli_pool_scratch(struct mli_pool *pool, int i);

/* Stops and joins the workers and frees the pool. NULL is a no-op. */
void mli_pool_destroy(struct mli_pool *pool);

/* The range [*begin, *end) of share i of n when `count` items are split
 * in contiguous runs whose sizes are multiples of `grain` (except the
 * last), as evenly as that allows. A pure function of its arguments. */
void mli_pool_split(size_t count, size_t grain, int i, int n, size_t *begin, size_t *end);

#endif
