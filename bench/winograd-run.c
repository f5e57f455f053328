/* winograd-run.c: Winograd F(2x2, 3x3) against the implicit GEMM on the
 * 3x3 stride-1 convolutions of ResNet-50/101 at batch 32 (or the batch
 * given), per pass, in one run: rounds that time one of each, in turn,
 * and the medians of the times and of the paired ratios.
 *
 *	bench/winograd-run [REPS [BATCH [SIZE]]]
 *
 * (SIZE: only the layers of that image size). The narrow layers of the
 * tests' small networks run too when WINO_BENCH_SMALL is set.
 * MLI_THREADS sets the threads (default 2); MLI_BENCH_CLOCK=cpu times
 * the process's CPU time divided by the threads (for a loaded machine).
 * GF/s count the direct convolution's 2 * n * h * w * 9 * c * k flops
 * (what Winograd saves is the point). The implicit GEMM is what conv.c
 * does for a table without the Winograd transforms, so it is timed
 * through mli_conv_* with a copy of the table whose wino_in is NULL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conv.h"
#include "kernels.h"
#include "threadpool.h"
#include "winograd.h"

struct bench {
	const struct mli_kernels *kern, *gemm;
	struct mli_pool *pool;
	struct mli_buffer ws;
	int cpu, threads;
};

static double now(const struct bench *b)
{
	struct timespec t;

	clock_gettime(b->cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &t);
	return ((double)t.tv_sec + (double)t.tv_nsec * 1e-9) / (b->cpu ? b->threads : 1);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Runs pass p (0 forward, 1 backward-data, 2 backward-weights), by
 * Winograd when wino, else through mli_conv_* with the GEMM table. */
static int run(struct bench *b, const struct mli_conv_shape *s, int p, int wino, float *x,
	       float *w, float *y)
{
	if (wino)
		return p == 0 ? mli_winograd_forward(b->kern, b->pool, &b->ws, s, x, w, y) :
		       p == 1 ? mli_winograd_backward_data(b->kern, b->pool, &b->ws, s, y, w, x) :
				mli_winograd_backward_weights(b->kern, b->pool, &b->ws, s, x, y, w);
	return p == 0 ? mli_conv_forward(b->gemm, b->pool, &b->ws, s, x, w, y) :
	       p == 1 ? mli_conv_backward_data(b->gemm, b->pool, &b->ws, s, y, w, x) :
			mli_conv_backward_weights(b->gemm, b->pool, &b->ws, s, x, y, w);
}

int main(int argc, char **argv)
{
	/* ResNet-50/101's stages, then the narrow ones of the tests'
	 * small networks (mli-train.bats trains --width 16). */
	static const size_t layers[][2] = { { 56, 64 }, { 28, 128 }, { 14, 256 }, { 7, 512 },
					    { 56, 16 }, { 28, 32 }, { 14, 64 }, { 28, 16 } };
	static const char *const pass[3] = { "fwd", "bwd-data", "bwd-wt" };
	int reps = argc > 1 ? atoi(argv[1]) : 7;
	size_t batch = argc > 2 ? (size_t)atol(argv[2]) : 32;
	size_t only = argc > 3 ? (size_t)atol(argv[3]) : 0;
	const char *clk = getenv("MLI_BENCH_CLOCK");
	struct mli_kernels gemm;
	struct bench b = { 0 };
	int th = mli_pool_threads_from_env();

	if (reps < 1 || batch < 1 || th < 0) {
		fprintf(stderr, "usage: winograd-run [REPS [BATCH [SIZE]]]\n");
		return 2;
	}
	b.kern = mli_kernels_select();
	if (!b.kern || mli_pool_create(&b.pool, th ? th : 2) < 0)
		return 1;
	gemm = *b.kern;
	gemm.wino_in = NULL;
	b.gemm = &gemm;
	b.threads = mli_pool_threads(b.pool);
	b.cpu = clk && strcmp(clk, "cpu") == 0;
	printf("winograd: table %s, %d threads, batch %zu, median of %d, %s\n", b.kern->name,
	       b.threads, batch, reps, b.cpu ? "CPU time / threads" : "wall time");
	printf("%-12s %-9s %9s %9s %9s %7s\n", "layer", "pass", "gemm ms", "wino ms", "wino GF/s",
	       "ratio");
	for (size_t l = 0; l < sizeof layers / sizeof layers[0]; l++) {
		struct mli_conv_shape s;
		size_t hw = layers[l][0], c = layers[l][1];
		if (only && hw != only)
			continue;
		if (!only && l >= 4 && getenv("WINO_BENCH_SMALL") == NULL)
			continue;
		mli_conv_shape_init(&s, batch, hw, hw, c, 3, 3, c, 1);
		size_t nx = s.n * s.h * s.w * s.c, nw = 9 * s.c * s.k, ny = s.n * s.h * s.w * s.k;
		float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w);
		float *y = malloc(ny * sizeof *y);
		double flops = 2.0 * (double)(s.n * s.h * s.w) * 9.0 * (double)(s.c * s.k);
		if (!x || !w || !y)
			return 1;
		for (size_t i = 0; i < nx; i++)
			x[i] = (float)(i % 17) * 0.01f - 0.08f;
		for (size_t i = 0; i < nw; i++)
			w[i] = (float)(i % 13) * 0.01f - 0.06f;
		for (size_t i = 0; i < ny; i++)
			y[i] = (float)(i % 11) * 0.01f - 0.05f;
		for (int p = 0; p < 3; p++) {
			double tg[64], tw[64], ratio[64], t;
			int n = reps < 64 ? reps : 64;
			if (run(&b, &s, p, 0, x, w, y) < 0 || run(&b, &s, p, 1, x, w, y) < 0)
				return 1;
			for (int r = 0; r < n; r++) {
				t = now(&b);
				run(&b, &s, p, 0, x, w, y);
				tg[r] = now(&b) - t;
				t = now(&b);
				run(&b, &s, p, 1, x, w, y);
				tw[r] = now(&b) - t;
				ratio[r] = tg[r] / tw[r];
			}
			double mg = median(tg, n), mw = median(tw, n);
			printf("%3zux%-3zu c%-4zu %-9s %9.2f %9.2f %9.1f %7.2f\n", hw, hw, c, pass[p],
			       mg * 1e3, mw * 1e3, flops / mw * 1e-9, median(ratio, n));
			fflush(stdout);
		}
		free(x), free(w), free(y);
	}
	mli_buffer_free(&b.ws);
	mli_pool_destroy(b.pool);
	return 0;
}
