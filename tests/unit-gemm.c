/* unit-gemm.c: the thread pool and mli_sgemm, for every kernel table,
 * against a double-precision triple loop on odd sizes, all transposes
 * and alpha/beta cases; and bit-identical results across thread counts. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gemm.h"
#include "kernels.h"
#include "tables.h"
#include "tap.h"
#include "threadpool.h"

/* A deterministic pseudo-random float in [-1, 1). */
static float rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (float)((*s >> 40) & 0xffffff) / 8388608.0f - 1.0f;
}

static void fill(float *x, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		x[i] = rnd(&seed);
}

struct counter_arg {
	int hits[8];
};

static void count_task(void *arg, int i, int n)
{
	struct counter_arg *c = arg;
	c->hits[i] += n;
}

static void test_pool_runs_every_share_once(struct tap *tap)
{
	for (int threads = 1; threads <= 4; threads++) {
		struct mli_pool *pool;
		struct counter_arg c = { { 0 } };
		ASSERT_EQ(mli_pool_create(&pool, threads), 0);
		ASSERT_EQ(mli_pool_threads(pool), threads);
		for (int round = 0; round < 1000; round++)
			mli_pool_run(pool, count_task, &c);
		for (int i = 0; i < 8; i++)
			ASSERT_EQ(c.hits[i], i < threads ? 1000 * threads : 0);
		mli_pool_destroy(pool);
	}
}

static void test_pool_split_covers_the_range(struct tap *tap)
{
	static const size_t counts[] = { 0, 1, 5, 6, 7, 100, 1001 };
	for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
		for (int n = 1; n <= 5; n++) {
			size_t next = 0;
			for (int i = 0; i < n; i++) {
				size_t b, e;
				mli_pool_split(counts[c], 6, i, n, &b, &e);
				ASSERT_EQ(b, next);
				ASSERT(e >= b);
				ASSERT(e == counts[c] || e % 6 == 0);
				next = e;
			}
			ASSERT_EQ(next, counts[c]);
		}
	setenv("MLI_THREADS", "3", 1);
	ASSERT_EQ(mli_pool_threads_from_env(), 3);
	setenv("MLI_THREADS", "0", 1);
	ASSERT_EQ(mli_pool_threads_from_env(), -1);
	setenv("MLI_THREADS", "2x", 1);
	ASSERT_EQ(mli_pool_threads_from_env(), -1);
	unsetenv("MLI_THREADS");
	ASSERT_EQ(mli_pool_threads_from_env(), 0);
}

/* Checks one product against the double-precision loop. Tolerance: a
 * few float ulps of the sum of |terms|, which bounds the rounding error
 * of any summation order. */
static int check_gemm(struct tap *tap, const struct mli_kernels *k, struct mli_pool *pool,
		      int ta, int tb, size_t m, size_t n, size_t kk, float alpha, float beta)
{
	size_t lda = (ta ? m : kk) + 3, ldb = (tb ? kk : n) + 1, ldc = n + 2;
	size_t asz = (ta ? kk : m) * lda + 1, bsz = (tb ? n : kk) * ldb + 1, csz = m * ldc + 1;
	float *a = malloc(asz * sizeof *a), *b = malloc(bsz * sizeof *b);
	float *c = malloc(csz * sizeof *c), *c0 = malloc(csz * sizeof *c0);
	int ok = 1;

	fill(a, asz, m * 31 + kk);
	fill(b, bsz, n * 17 + kk + 5);
	fill(c0, csz, m + n);
	if (beta == 0.0f)
		for (size_t i = 0; i < csz; i++)
			c0[i] = NAN;
	memcpy(c, c0, csz * sizeof *c);
	if (mli_sgemm(k, pool, ta, tb, m, n, kk, alpha, a, lda, b, ldb, beta, c, ldc) != 0)
		ok = 0;
	for (size_t i = 0; ok && i < m; i++)
		for (size_t j = 0; j < n; j++) {
			double s = 0, mag = 0;
			for (size_t p = 0; p < kk; p++) {
				double x = ta ? a[p * lda + i] : a[i * lda + p];
				double y = tb ? b[j * ldb + p] : b[p * ldb + j];
				s += x * y;
				mag += fabs(x * y);
			}
			s *= alpha;
			mag *= fabs(alpha);
			if (beta != 0.0f) {
				s += (double)beta * c0[i * ldc + j];
				mag += fabs((double)beta * c0[i * ldc + j]);
			}
			if (!(fabs(c[i * ldc + j] - s) <= 4e-7 * (double)(kk + 2) * mag + 1e-30)) {
				printf("# %s ta=%d tb=%d %zux%zux%zu a=%g b=%g: C[%zu][%zu] = %.9g, want %.9g\n",
				       k->name, ta, tb, m, n, kk, alpha, beta, i, j, c[i * ldc + j], s);
				ok = 0;
				break;
			}
		}
	/* The padding between rows and past the end is never written. */
	for (size_t i = 0; ok && i < m; i++)
		for (size_t j = n; j < ldc && i * ldc + j < csz; j++)
			if (memcmp(&c[i * ldc + j], &c0[i * ldc + j], sizeof(float)) != 0)
				ok = 0;
	free(a);
	free(b);
	free(c);
	free(c0);
	return ok;
}

static void test_sgemm_matches_double_precision(struct tap *tap)
{
	static const size_t dims[][3] = {
		{ 1, 1, 1 }, { 5, 3, 7 }, { 6, 16, 1 }, { 7, 17, 33 }, { 13, 31, 300 },
		{ 61, 45, 333 }, { 150, 19, 700 }, { 23, 2100, 9 }, { 0, 5, 5 }, { 5, 5, 0 },
		/* Around the AVX-512 tile (14 x 32) and blocks (KC 512, MC 112). */
		{ 14, 32, 1 }, { 15, 33, 513 }, { 29, 65, 1030 }, { 120, 40, 20 },
		/* Small m against a wide C, which gemm.c computes as C^T
		 * (transposed tile stores): the classifier's batch of 32, m
		 * below one row strip, a single row, m between 3 and 8 NR
		 * strips (256 for the AVX-512 tile), odd n, k over KC. */
		{ 32, 1000, 70 }, { 3, 100, 9 }, { 13, 301, 50 }, { 96, 385, 33 },
		{ 17, 1100, 530 }, { 1, 40, 7 }, { 150, 601, 45 }, { 256, 1024, 19 },
		/* Row-major A whose rows fall in one L1 set (lda 1024 floats). */
		{ 100, 130, 1021 },
	};
	static const float ab[][2] = { { 1, 0 }, { 1, 1 }, { -0.5f, 0.75f } };
	const struct mli_kernels *tables[2] = { mli_kernels_ref(), mli_kernels_select() };
	struct mli_pool *pool;

	ASSERT_EQ(mli_pool_create(&pool, 2), 0);
	for (int t = 0; t < 2; t++)
		for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
			for (int tr = 0; tr < 4; tr++)
				for (size_t s = 0; s < sizeof ab / sizeof ab[0]; s++)
					if (!check_gemm(tap, tables[t], pool, tr & 1, tr >> 1, dims[d][0],
							dims[d][1], dims[d][2], ab[s][0], ab[s][1])) {
						mli_pool_destroy(pool);
						TAP_FAIL("table %s, shape %zu", tables[t]->name, d);
					}
	mli_pool_destroy(pool);
}

/* Row-major A with rows 1024 floats apart against a C 1024 wide: rows
 * that share one L1 set, which gemm.c copies (for 14-row tiles) before
 * the micro-kernel reads them; storing and accumulating. */
static void test_sgemm_with_rows_in_one_cache_set(struct tap *tap)
{
	const struct mli_kernels *k = mli_kernels_select();
	struct mli_pool *pool;

	ASSERT_EQ(mli_pool_create(&pool, 2), 0);
	if (!check_gemm(tap, k, pool, 0, 0, 99, 1024, 1021, 1.0f, 0.0f) ||
	    !check_gemm(tap, k, pool, 0, 0, 99, 1024, 1021, 1.0f, 1.0f)) {
		mli_pool_destroy(pool);
		TAP_FAIL("table %s", k->name);
	}
	mli_pool_destroy(pool);
}

static void test_sgemm_is_bit_identical_across_thread_counts(struct tap *tap)
{
	/* A tall and a wide shape, so that both the row split and the
	 * column split run; a batch of 32 against a wide C (computed as
	 * C^T, its rows split); rows of A 1024 floats apart. */
	static const size_t dims[][3] = { { 203, 37, 701 }, { 11, 301, 333 }, { 32, 2100, 300 },
					   { 100, 1030, 1024 } };
	const struct mli_kernels *k = mli_kernels_select();
	size_t cap = 2100 * 300 + 1030 * 1024;
	float *a = malloc(cap * sizeof *a), *b = malloc(cap * sizeof *b);
	float *c1 = malloc(cap * sizeof *c1), *c = malloc(cap * sizeof *c);
	struct mli_pool *pools[3];

	fill(a, cap, 1);
	fill(b, cap, 2);
	for (int t = 0; t < 3; t++)
		ASSERT_EQ(mli_pool_create(&pools[t], t + 1), 0);
	for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
		for (int tr = 0; tr < 4; tr++) {
			size_t m = dims[d][0], n = dims[d][1], kk = dims[d][2];
			size_t lda = (tr & 1) ? m : kk, ldb = (tr >> 1) ? kk : n;
			ASSERT_EQ(mli_sgemm(k, pools[0], tr & 1, tr >> 1, m, n, kk, 1.0f, a, lda, b, ldb,
					    0.0f, c1, n), 0);
			for (int t = 1; t < 3; t++) {
				memset(c, 0, m * n * sizeof *c);
				ASSERT_EQ(mli_sgemm(k, pools[t], tr & 1, tr >> 1, m, n, kk, 1.0f, a, lda,
						    b, ldb, 0.0f, c, n), 0);
				ASSERT_MEM_EQ(c, c1, m * n * sizeof *c);
			}
		}
	ASSERT_EQ(mli_sgemm(k, NULL, 0, 0, 1, 1, 1, 1, a, 1, b, 1, 0, c, 1), MLI_EINVAL);
	for (int t = 0; t < 3; t++)
		mli_pool_destroy(pools[t]);
	free(a);
	free(b);
	free(c1);
	free(c);
}

int main(void)
{
	struct tap t = { 0, 0, 0 }, *tap = &t;
	struct tables tb = TABLES_INIT;

	RUN(test_pool_runs_every_share_once);
	RUN(test_pool_split_covers_the_range);
	for (size_t i = 0; i < TABLES; i++)
		if (tables_use(&tb, i)) {
			RUN(test_sgemm_matches_double_precision);
			RUN(test_sgemm_with_rows_in_one_cache_set);
			RUN(test_sgemm_is_bit_identical_across_thread_counts);
		}
	return tap_done(tap);
}
