/* threadpool.c: persistent workers woken per call.
 *
 * A call publishes (fn, arg) and bumps a generation counter; each worker
 * spins briefly on the counter (kernels are called back to back, and a
 * futex wake-up costs more than a small GEMM), then sleeps on a
 * condition variable. The shares are claimed from a counter tagged with
 * the call's generation, by the caller as well as the workers: when
 * another process holds the CPU a worker would run on, the caller takes
 * that worker's share over instead of spinning until the scheduler
 * gives the worker a time slice (two such processes on two CPUs had
 * made every call wait that long). Which share does which part of the
 * work is fixed by its index alone, so the results stay the same. The
 * caller returns when every share is done. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "error.h"
#include "threadpool.h"

#define SPIN_ROUNDS 20000

struct mli_pool {
	int n;                    /* threads in all, the caller included */
	pthread_t *workers;       /* (n - 1) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_uint gen;          /* bumped once per call (and at stop) */
	_Atomic uint64_t claim;   /* the call's generation << 32 | next share */
	atomic_int done;          /* shares of this call finished */
	int stop;                 /* under mu */
	void **scratch;           /* (n) per-thread buffers */
	size_t scratch_bytes;     /* each buffer's size */
	mli_pool_fn *fn;          /* this call's task, published before gen */
	void *arg;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Claims and runs shares of call g until none is left. A thread that
 * comes late (the call over, another begun) finds another generation in
 * the claim and runs nothing. */
static void run_shares(struct mli_pool *pool, unsigned g)
{
	uint64_t c = atomic_load_explicit(&pool->claim, memory_order_acquire);

	while ((unsigned)(c >> 32) == g && (uint32_t)c < (uint32_t)pool->n) {
		if (!atomic_compare_exchange_weak_explicit(&pool->claim, &c, c + 1,
							   memory_order_acq_rel,
							   memory_order_acquire))
			continue;
		pool->fn(pool->arg, (int)(uint32_t)c, pool->n);
		atomic_fetch_add_explicit(&pool->done, 1, memory_order_release);
		c = atomic_load_explicit(&pool->claim, memory_order_acquire);
	}
}

static void *worker_main(void *p)
{
	struct mli_pool *pool = p;
	unsigned seen = 0;

	for (;;) {
		unsigned g = seen;
		for (int s = 0; s < SPIN_ROUNDS; s++) {
			g = atomic_load_explicit(&pool->gen, memory_order_acquire);
			if (g != seen)
				break;
			cpu_relax();
		}
		if (g == seen) {
			pthread_mutex_lock(&pool->mu);
			while ((g = atomic_load_explicit(&pool->gen, memory_order_acquire)) == seen &&
			       !pool->stop)
				pthread_cond_wait(&pool->cv, &pool->mu);
			pthread_mutex_unlock(&pool->mu);
		}
		seen = g;
		pthread_mutex_lock(&pool->mu);
		int stop = pool->stop;
		pthread_mutex_unlock(&pool->mu);
		if (stop)
			return NULL;
		run_shares(pool, g);
	}
}

int mli_pool_threads_from_env(void)
{
	const char *s = getenv("MLI_THREADS");
	char *end;
	long v;

	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 1024)
		return -1;
	return (int)v;
}

int mli_pool_create(struct mli_pool **out, int nthreads)
{
	struct mli_pool *pool;
	int started = 0;

	if (nthreads <= 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		nthreads = c > 0 ? (int)c : 1;
	}
	if (nthreads > 1024)
		return MLI_ERANGE;
	pool = calloc(1, sizeof *pool);
	if (!pool)
		return MLI_ENOMEM;
	pool->n = nthreads;
	atomic_init(&pool->gen, 0);
	atomic_init(&pool->claim, 0);
	atomic_init(&pool->done, 0);
	pthread_mutex_init(&pool->mu, NULL);
	pthread_cond_init(&pool->cv, NULL);
	pool->workers = calloc((size_t)nthreads, sizeof *pool->workers);
	pool->scratch = calloc((size_t)nthreads, sizeof *pool->scratch);
	if (!pool->workers || !pool->scratch)
		goto fail;
	for (started = 0; started < nthreads - 1; started++)
		if (pthread_create(&pool->workers[started], NULL, worker_main, pool) != 0)
			goto fail;
	*out = pool;
	return 0;
fail:
	pool->n = started + 1;
	mli_pool_destroy(pool);
	return MLI_ENOMEM;
}

int mli_pool_threads(const struct mli_pool *pool)
{
	return pool ? pool->n : 1;
}

void mli_pool_run(struct mli_pool *pool, mli_pool_fn *fn, void *arg)
{
	if (!pool || pool->n == 1) {
		fn(arg, 0, 1);
		return;
	}
	/* Only this thread writes gen, so it can tell the next value. */
	unsigned g = atomic_load_explicit(&pool->gen, memory_order_relaxed) + 1;

	pool->fn = fn;
	pool->arg = arg;
	atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
	atomic_store_explicit(&pool->claim, (uint64_t)g << 32, memory_order_release);
	pthread_mutex_lock(&pool->mu);
	atomic_store_explicit(&pool->gen, g, memory_order_release);
	pthread_cond_broadcast(&pool->cv);
	pthread_mutex_unlock(&pool->mu);
	run_shares(pool, g);
	for (long s = 0; atomic_load_explicit(&pool->done, memory_order_acquire) != pool->n; s++) {
		if (s < SPIN_ROUNDS)
			cpu_relax();
		else
			sched_yield();
	}
}

int mli_pool_reserve(struct mli_pool *pool, size_t bytes)
{
	if (bytes <= pool->scratch_bytes)
		return 0;
	bytes = (bytes + 4095) & ~(size_t)4095;
	for (int i = 0; i < pool->n; i++) {
		void *p = NULL;
		if (posix_memalign(&p, 64, bytes) != 0)
			return MLI_ENOMEM;
		free(pool->scratch[i]);
		pool->scratch[i] = p;
	}
	pool->scratch_bytes = bytes;
	return 0;
}

void *mli_pool_scratch(struct mli_pool *pool, int i)
{
	return pool->scratch[i];
}

void mli_pool_destroy(struct mli_pool *pool)
{
	if (!pool)
		return;
	pthread_mutex_lock(&pool->mu);
	pool->stop = 1;
	atomic_fetch_add_explicit(&pool->gen, 1, memory_order_release);
	pthread_cond_broadcast(&pool->cv);
	pthread_mutex_unlock(&pool->mu);
	if (pool->workers)
		for (int i = 0; i < pool->n - 1; i++)
			pthread_join(pool->workers[i], NULL);
	if (pool->scratch)
		for (int i = 0; i < pool->n; i++)
			free(pool->scratch[i]);
	free(pool->scratch);
	pthread_mutex_destroy(&pool->mu);
	pthread_cond_destroy(&pool->cv);
	free(pool->workers);
	free(pool);
}

void mli_pool_split(size_t count, size_t grain, int i, int n, size_t *begin, size_t *end)
{
	size_t units, per, extra, b, e;

	if (grain == 0)
		grain = 1;
	units = (count + grain - 1) / grain;
	per = units / (size_t)n;
	extra = units % (size_t)n;
	b = (size_t)i * per + ((size_t)i < extra ? (size_t)i : extra);
	e = b + per + ((size_t)i < extra ? 1 : 0);
	b *= grain;
	e *= grain;
	*begin = b < count ? b : count;
	*end = e < count ? e : count;
}
