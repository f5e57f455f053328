/* kernels-run.c: the compute-kernel benchmark behind bench/kernels.
 *
 *   kernels-run [THREADS [REPS [LAYER]]]
 *
 * With LAYER, only the convolutions whose names contain it are run
 * ("bn": only batch norm; "gemm": only the GEMMs).
 * Prints, in one run and at one thread count: the peak of an FMA loop
 * of our own (per thread, all threads at once); mli_sgemm on square
 * sizes and on the fully connected layer, beside OpenBLAS sgemm on the
 * same shapes and threads; and every distinct convolution shape of
 * ResNet-101 at batch 32, forward, backward-data and backward-weights,
 * as mli runs it (im2col included) beside OpenBLAS sgemm on the GEMM
 * that the convolution amounts to (im2col excluded, which flatters the
 * peer); and batch norm with its ReLU, forward and backward, beside a
 * memcpy of the same tensor. GFLOP/s are medians of REPS timed runs after a warm-up (wall
 * time, or CPU time per thread with MLI_BENCH_CLOCK=cpu); "%pk"
 * is against the all-thread FMA peak measured in alternation with them
 * (see time_pair). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conv.h"
#include "nn.h"
#include "gemm.h"
#include "kernels.h"
#include "threadpool.h"
#ifdef MLI_HAVE_AVX2
#include "kernels-peak.h"
#endif
#ifdef MLI_BENCH_OPENBLAS
#include <cblas.h>
#endif

#define BATCH 32

struct bench {
	const struct mli_kernels *kern;
	struct mli_pool *pool;
	int threads, reps;
	double peak;        /* GFLOP/s, all threads, at the start */
	double local_peak;  /* GFLOP/s, all threads, beside the last timing */
	long peak_iters;    /* per thread, per peak run */
	double ratio;       /* median over the pairs of runs of t(peer) / t(mli) */
	/* The peak loop of the table's vector width, and its flops per
	 * iteration (the 512-bit one for the avx512 table). */
	double (*peak_loop)(long iters);
	double peak_flops;
	const char *peak_name;
	float *a, *b, *c;           /* big tensors for mli */
	float *d, *e, *f;           /* and for OpenBLAS */
	struct mli_buffer ws;
	struct mli_buffer bn_ws;
	/* The clock: wall time, or with MLI_BENCH_CLOCK=cpu the process's
	 * CPU time divided by the thread count (on a machine shared with
	 * other jobs, time spent descheduled then counts for neither side;
	 * time spent spinning while waiting for the other thread still
	 * counts, so it errs against whoever waits). */
	int cpu_clock, clock_threads;
	void *peak_arg;     /* the peak loops' per-thread results */
};

struct peak_arg {
	long iters;
	double (*loop)(long iters);
	double sink[1024];
};

static double now(const struct bench *b)
{
	struct timespec t;
	clock_gettime(b->cpu_clock ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &t);
	return ((double)t.tv_sec + (double)t.tv_nsec * 1e-9) / b->clock_threads;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

#ifdef MLI_HAVE_AVX2
/* Median seconds of b->reps runs of fn(b) after one warm-up. */
static double time_median(struct bench *b, void (*fn)(void *))
{
	double t[64];
	int reps = b->reps > 64 ? 64 : b->reps;

	fn(b);
	for (int r = 0; r < reps; r++) {
		double t0 = now(b);
		fn(b);
		t[r] = now(b) - t0;
	}
	qsort(t, (size_t)reps, sizeof t[0], cmp_double);
	return t[reps / 2];
}

static void peak_task(void *arg, int i, int n)
{
	struct peak_arg *p = arg;
	p->sink[i] = p->loop(p->iters);
}

static void peak_run(void *arg)
{
	struct bench *b = arg;
	struct peak_arg *p = b->peak_arg;
	p->iters = b->peak_iters;
	p->loop = b->peak_loop;
	mli_pool_run(b->pool, peak_task, p);
}

static void peak_one(void *arg)
{
	struct bench *b = arg;
	volatile double s = b->peak_loop(20000000);
	(void)s;
}
#endif

/* Measures and prints the FMA peak, one thread and all; the first
 * measurement is the one "%pk" refers to. */
static void measure_peak(struct bench *b, const char *when)
{
#ifdef MLI_HAVE_AVX2
	double t1, tn;

	b->peak_iters = 20000000;
	t1 = time_median(b, peak_one);
	if (b->cpu_clock)
		t1 *= b->clock_threads;  /* one thread's CPU time, not divided */
	tn = time_median(b, peak_run);
	double f = 20000000.0 * b->peak_flops;
	if (b->peak == 0)
		b->peak = f * b->threads / tn / 1e9;
	printf("peak FMA (%s)%s: 1 thread %.1f GFLOP/s, %d threads %.1f GFLOP/s\n", b->peak_name,
	       when, f / t1 / 1e9, b->threads, f * b->threads / tn / 1e9);
#else
	printf("peak FMA%s: not built (--disable-avx2)\n", when);
#endif
}

struct gemm_arg {
	struct bench *b;
	int blas, ta, tb;
	size_t m, n, k;
	const float *a, *bm;
	float *c;
};

static void gemm_run(void *arg)
{
	struct gemm_arg *g = arg;
	size_t lda = g->ta ? g->m : g->k, ldb = g->tb ? g->k : g->n;

	if (!g->blas) {
		if (mli_sgemm(g->b->kern, g->b->pool, g->ta, g->tb, g->m, g->n, g->k, 1.0f, g->a, lda,
			      g->bm, ldb, 0.0f, g->c, g->n) < 0) {
			fprintf(stderr, "kernels-run: mli_sgemm failed\n");
			exit(1);
		}
		return;
	}
#ifdef MLI_BENCH_OPENBLAS
	cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans,
		    (int)g->m, (int)g->n, (int)g->k, 1.0f, g->a, (int)lda, g->bm, (int)ldb, 0.0f, g->c,
		    (int)g->n);
#endif
}

/* Median seconds of fa(a) and of fb(b) (fb may be NULL), timed in
 * alternation after a warm-up of each, with a short run of the FMA peak
 * loop between them, so that a noisy neighbour slows all three alike:
 * bn->local_peak gets the median peak of those runs, which is what the
 * tables' "%pk" compares with (this machine is shared, and whether the
 * other core is free changes from second to second), and bn->ratio the
 * median of each pair's speed ratio, mli over the peer, each pair run
 * back to back. */
static void time_pair(struct bench *bn, void (*fa)(void *), void *a, void (*fb)(void *), void *b,
		      double *ta, double *tb)
{
	double x[64], y[64], pk[64], q[64];
	int reps = bn->reps > 64 ? 64 : bn->reps;

	fa(a);
	if (fb)
		fb(b);
	for (int r = 0; r < reps; r++) {
		double t0 = now(bn);
		fa(a);
		x[r] = now(bn) - t0;
		if (fb) {
			t0 = now(bn);
			fb(b);
			y[r] = now(bn) - t0;
			q[r] = y[r] / x[r];
		}
		pk[r] = 0;
#ifdef MLI_HAVE_AVX2
		bn->peak_iters = 2000000;
		t0 = now(bn);
		peak_run(bn);
		pk[r] = (double)bn->peak_iters * bn->peak_flops * bn->threads /
			(now(bn) - t0) / 1e9;
#endif
	}
	qsort(x, (size_t)reps, sizeof x[0], cmp_double);
	qsort(pk, (size_t)reps, sizeof pk[0], cmp_double);
	*ta = x[reps / 2];
	bn->local_peak = pk[reps / 2] > 0 ? pk[reps / 2] : bn->peak;
	bn->ratio = 0;
	if (fb) {
		qsort(y, (size_t)reps, sizeof y[0], cmp_double);
		qsort(q, (size_t)reps, sizeof q[0], cmp_double);
		*tb = y[reps / 2];
		bn->ratio = q[reps / 2];
	} else {
		*tb = 0;
	}
}

/* GFLOP/s of one GEMM shape, mli's and OpenBLAS's (0 without it). */
static void gemm_pair(struct bench *b, int ta, int tb, size_t m, size_t n, size_t k, double *mli,
		      double *blas)
{
	struct gemm_arg g = { b, 0, ta, tb, m, n, k, b->a, b->b, b->c };
	struct gemm_arg o = { b, 1, ta, tb, m, n, k, b->d, b->e, b->f };
	double flop = 2.0 * (double)m * (double)n * (double)k, t1, t2;
#ifdef MLI_BENCH_OPENBLAS
	time_pair(b, gemm_run, &g, gemm_run, &o, &t1, &t2);
#else
	(void)o;
	time_pair(b, gemm_run, &g, NULL, NULL, &t1, &t2);
#endif
	*mli = flop / t1 / 1e9;
	*blas = t2 > 0 ? flop / t2 / 1e9 : 0;
}

struct bn_arg {
	struct bench *b;
	size_t rows, c;
	int pass;           /* 0 forward (training, fused ReLU), 1 backward, 2 memcpy */
	float *gamma, *beta, *mean, *istd, *dg, *db;
};

static void bn_run(void *arg)
{
	struct bn_arg *a = arg;
	struct bench *b = a->b;
	int rc = 0;

	if (a->pass == 0)
		rc = mli_bn_forward_train(b->kern, b->pool, a->rows, a->c, b->a, a->gamma, a->beta,
					  1e-5f, 1, b->c, a->mean, a->istd, NULL, NULL, 0, &b->bn_ws);
	else if (a->pass == 1)
		rc = mli_bn_backward(b->kern, b->pool, a->rows, a->c, b->a, b->b, a->gamma, a->beta,
				     a->mean, a->istd, 1, b->b, a->dg, a->db, &b->bn_ws);
	else
		memcpy(b->c, b->a, a->rows * a->c * sizeof(float));
	if (rc < 0) {
		fprintf(stderr, "kernels-run: batch norm failed (%d)\n", rc);
		exit(1);
	}
}

struct conv_arg {
	struct bench *b;
	struct mli_conv_shape s;
	int pass;   /* 0 forward, 1 backward-data, 2 backward-weights */
};

static void conv_run(void *arg)
{
	struct conv_arg *c = arg;
	struct bench *b = c->b;
	int rc;

	if (c->pass == 0)
		rc = mli_conv_forward(b->kern, b->pool, &b->ws, &c->s, b->a, b->b, b->c);
	else if (c->pass == 1)
		rc = mli_conv_backward_data(b->kern, b->pool, &b->ws, &c->s, b->c, b->b, b->a);
	else
		rc = mli_conv_backward_weights(b->kern, b->pool, &b->ws, &c->s, b->a, b->c, b->b);
	if (rc < 0) {
		fprintf(stderr, "kernels-run: convolution failed (%d)\n", rc);
		exit(1);
	}
}

/* One distinct ResNet-101 convolution: input h x w x c, kernel, output
 * channels k, stride, and how many times the network has it. */
struct layer {
	const char *name;
	size_t h, c, kk, k, stride, count;
};

/* The pre-activation bottleneck ResNet-101 of the original (stride on
 * the 3x3 and the projection of the first block of every stage, no
 * max-pool, so stage 1 starts at 112x112): blocks 3, 4, 23, 3. */
static const struct layer layers[] = {
	{ "stem 7x7/2 3>64", 224, 3, 7, 64, 2, 1 },
	{ "s1 proj 1x1/2 64>256", 112, 64, 1, 256, 2, 1 },
	{ "s1 b1 1x1 64>64 @112", 112, 64, 1, 64, 1, 1 },
	{ "s1 b1 3x3/2 64 @112", 112, 64, 3, 64, 2, 1 },
	{ "s1 1x1 64>256 @56", 56, 64, 1, 256, 1, 3 },
	{ "s1 1x1 256>64 @56", 56, 256, 1, 64, 1, 2 },
	{ "s1 3x3 64 @56", 56, 64, 3, 64, 1, 2 },
	{ "s2 proj 1x1/2 256>512", 56, 256, 1, 512, 2, 1 },
	{ "s2 b1 1x1 256>128 @56", 56, 256, 1, 128, 1, 1 },
	{ "s2 b1 3x3/2 128 @56", 56, 128, 3, 128, 2, 1 },
	{ "s2 1x1 128>512 @28", 28, 128, 1, 512, 1, 4 },
	{ "s2 1x1 512>128 @28", 28, 512, 1, 128, 1, 3 },
	{ "s2 3x3 128 @28", 28, 128, 3, 128, 1, 3 },
	{ "s3 proj 1x1/2 512>1024", 28, 512, 1, 1024, 2, 1 },
	{ "s3 b1 1x1 512>256 @28", 28, 512, 1, 256, 1, 1 },
	{ "s3 b1 3x3/2 256 @28", 28, 256, 3, 256, 2, 1 },
	{ "s3 1x1 256>1024 @14", 14, 256, 1, 1024, 1, 23 },
	{ "s3 1x1 1024>256 @14", 14, 1024, 1, 256, 1, 22 },
	{ "s3 3x3 256 @14", 14, 256, 3, 256, 1, 22 },
	{ "s4 proj 1x1/2 1024>2048", 14, 1024, 1, 2048, 2, 1 },
	{ "s4 b1 1x1 1024>512 @14", 14, 1024, 1, 512, 1, 1 },
	{ "s4 b1 3x3/2 512 @14", 14, 512, 3, 512, 2, 1 },
	{ "s4 1x1 512>2048 @7", 7, 512, 1, 2048, 1, 3 },
	{ "s4 1x1 2048>512 @7", 7, 2048, 1, 512, 1, 2 },
	{ "s4 3x3 512 @7", 7, 512, 3, 512, 1, 2 },
};

static float *big(size_t n)
{
	float *p = NULL;
	uint64_t s = 12345;

	if (posix_memalign((void **)&p, 64, n * sizeof *p) != 0) {
		fprintf(stderr, "kernels-run: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		p[i] = (float)((s >> 40) & 0xffff) / 32768.0f - 1.0f;
	}
	return p;
}

int main(int argc, char **argv)
{
	struct peak_arg peak_arg;
	struct bench b = { .peak_arg = &peak_arg };
	static const size_t squares[] = { 256, 512, 1024, 2048, 3072 };
	/* Big enough for the largest operand: a 7x7 stem's columns,
	 * 401408 x 147 floats. */
	const size_t cap = (size_t)64 << 20;
	double tot_mli[3] = { 0 }, tot_blas[3] = { 0 }, tot_flop[3] = { 0 }, tot_peak[3] = { 0 };
	const char *only;
	int gemms;

	b.threads = argc > 1 ? atoi(argv[1]) : 0;
	b.reps = argc > 2 ? atoi(argv[2]) : 5;
	only = argc > 3 ? argv[3] : NULL;
	gemms = !only || strcmp(only, "gemm") == 0;
	if (b.reps < 1)
		b.reps = 1;
	b.kern = mli_kernels_select();
	if (!b.kern || mli_pool_create(&b.pool, b.threads) < 0) {
		fprintf(stderr, "kernels-run: no kernel table or no thread pool\n");
		return 1;
	}
	b.threads = mli_pool_threads(b.pool);
	b.clock_threads = 1;
	if (getenv("MLI_BENCH_CLOCK") && strcmp(getenv("MLI_BENCH_CLOCK"), "cpu") == 0) {
		b.cpu_clock = 1;
		b.clock_threads = b.threads;
	}
#ifdef MLI_BENCH_OPENBLAS
	openblas_set_num_threads(b.threads);
#endif
	b.a = big(cap);
	b.b = big(cap);
	b.c = big(cap);
#ifdef MLI_BENCH_OPENBLAS
	b.d = big(cap);
	b.e = big(cap);
	b.f = big(cap);
#endif

#ifdef MLI_HAVE_AVX2
	b.peak_loop = mli_bench_fma_loop;
	b.peak_flops = MLI_BENCH_FMA_FLOPS_PER_ITER;
	b.peak_name = "AVX2, 8-wide";
#endif
#ifdef MLI_HAVE_AVX512
	/* The avx512 table is compared with the 512-bit peak; the others
	 * with the 256-bit one (the ref table too: GCC vectorises it with
	 * SSE at most, so its %pk is a lower bound of how far off it is). */
	if (strcmp(b.kern->name, "avx512") == 0) {
		b.peak_loop = mli_bench_fma512_loop;
		b.peak_flops = MLI_BENCH_FMA512_FLOPS_PER_ITER;
		b.peak_name = "AVX-512, 16-wide";
	}
#endif
	printf("kernels: table %s, %d threads, median of %d, %s\n", b.kern->name, b.threads, b.reps,
	       b.cpu_clock ? "CPU time / threads" : "wall time");
	measure_peak(&b, "");
	if (b.peak <= 0)
		b.peak = 1;

	printf("\n(%%pk: against the FMA peak measured between the timed runs; mli/BLAS: median of\n"
	       " the speed ratios of back-to-back pairs, so both sides of a pair met the same load)\n");
	printf("\n%-28s %9s %5s %9s %6s\n", "GEMM m x n x k", "mli GF/s", "%pk", "BLAS GF/s", "mli/BLAS");
	for (size_t i = 0; gemms && i < sizeof squares / sizeof squares[0]; i++) {
		size_t s = squares[i];
		double g, o;
		char name[64];
		gemm_pair(&b, 0, 0, s, s, s, &g, &o);
		snprintf(name, sizeof name, "%zu^3", s);
		printf("%-28s %9.1f %5.0f %9.1f %6.2f\n", name, g, 100 * g / b.local_peak, o, b.ratio);
	}
	{
		/* The classifier: 2048 features to 11,166 classes at batch 32
		 * (ML-Images), and to ImageNet's 1000 (fine-tuning). */
		static const struct { const char *name; int ta, tb; size_t m, n, k; } fc[] = {
			{ "fc fwd 32x11166x2048", 0, 0, BATCH, 11166, 2048 },
			{ "fc bwd-data 32x2048x11166", 0, 1, BATCH, 2048, 11166 },
			{ "fc bwd-wt 2048x11166x32", 1, 0, 2048, 11166, BATCH },
			{ "fc fwd 32x1000x2048", 0, 0, BATCH, 1000, 2048 },
			{ "fc bwd-data 32x2048x1000", 0, 1, BATCH, 2048, 1000 },
			{ "fc bwd-wt 2048x1000x32", 1, 0, 2048, 1000, BATCH },
		};
		for (size_t i = 0; gemms && i < sizeof fc / sizeof fc[0]; i++) {
			double g, o;
			gemm_pair(&b, fc[i].ta, fc[i].tb, fc[i].m, fc[i].n, fc[i].k, &g, &o);
			printf("%-28s %9.1f %5.0f %9.1f %6.2f\n", fc[i].name, g, 100 * g / b.local_peak, o,
			       b.ratio);
		}
	}

	if (!(only && gemms)) {
		printf("\nResNet-101 convolutions, batch %d (x: times in the network)\n", BATCH);
		printf("%-26s %3s | %-17s | %-17s | %-17s\n", "", "", "forward", "backward-data",
		       "backward-weights");
		printf("%-26s %3s | %5s %4s %6s | %5s %4s %6s | %5s %4s %6s\n", "layer", "x", "GF/s",
		       "%pk", "/BLAS", "GF/s", "%pk", "/BLAS", "GF/s", "%pk", "/BLAS");
	}
	for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
		const struct layer *l = &layers[i];
		struct conv_arg c = { .b = &b };
		size_t m, kd;
		double flop;

		if ((only && !strstr(l->name, only)) || (only && gemms))
			continue;
		mli_conv_shape_init(&c.s, BATCH, l->h, l->h, l->c, l->kk, l->kk, l->k, l->stride);
		m = BATCH * c.s.oh * c.s.ow;
		kd = l->kk * l->kk * l->c;
		flop = 2.0 * (double)m * (double)kd * (double)l->k;
		printf("%-26s %3zu |", l->name, l->count);
		for (int pass = 0; pass < 3; pass++) {
			double t, tb, g, o;
			struct gemm_arg ga = { &b, 1, 0, 0, m, l->k, kd, b.d, b.e, b.f };
			c.pass = pass;
			if (pass == 1)
				ga = (struct gemm_arg){ &b, 1, 0, 1, m, kd, l->k, b.d, b.e, b.f };
			else if (pass == 2)
				ga = (struct gemm_arg){ &b, 1, 1, 0, kd, l->k, m, b.d, b.e, b.f };
#ifdef MLI_BENCH_OPENBLAS
			time_pair(&b, conv_run, &c, gemm_run, &ga, &t, &tb);
#else
			(void)ga;
			time_pair(&b, conv_run, &c, NULL, NULL, &t, &tb);
#endif
			g = flop / t / 1e9;
			o = tb > 0 ? flop / tb / 1e9 : 0;
			tot_mli[pass] += t * (double)l->count;
			tot_blas[pass] += o > 0 ? flop / (o * 1e9) * (double)l->count : 0;
			tot_flop[pass] += flop * (double)l->count;
			tot_peak[pass] += flop / (b.local_peak * 1e9) * (double)l->count;
			printf(" %5.1f %4.0f %6.2f |", g, 100 * g / b.local_peak, b.ratio);
			fflush(stdout);
		}
		printf("\n");
	}
	if (tot_flop[0] > 0) {
		printf("%-30s |", "whole network (weighted by x)");
		for (int pass = 0; pass < 3; pass++) {
			double g = tot_flop[pass] / tot_mli[pass] / 1e9;
			double o = tot_blas[pass] > 0 ? tot_flop[pass] / tot_blas[pass] / 1e9 : 0;
			printf(" %5.1f %4.0f %6.2f |", g, 100 * tot_peak[pass] / tot_mli[pass], o > 0 ? g / o : 0);
		}
		printf("\nconvolution time per batch: mli %.3f s (fwd %.3f, bwd-data %.3f, bwd-wt %.3f)",
		       tot_mli[0] + tot_mli[1] + tot_mli[2], tot_mli[0], tot_mli[1], tot_mli[2]);
		if (tot_blas[0] > 0)
			printf("; OpenBLAS GEMMs alone %.3f s", tot_blas[0] + tot_blas[1] + tot_blas[2]);
		printf("\n");
	}
	if (!only || strcmp(only, "bn") == 0) {
		/* Batch norm is memory-bound: its yardstick is a memcpy of the
		 * same tensor (one read, one write), timed beside it. */
		static const size_t bn_shapes[][2] = { { BATCH * 112 * 112, 64 }, { BATCH * 56 * 56, 256 },
						       { BATCH * 14 * 14, 1024 } };
		static float gamma[2048], beta[2048], mean[2048], istd[2048], dg[2048], db[2048];
		printf("\nbatch norm + ReLU (training), ms per call; memcpy of the tensor for scale\n");
		printf("%-22s %8s %8s %8s %9s\n", "rows x c", "forward", "backward", "memcpy", "GB/s cpy");
		for (size_t i = 0; i < 2048; i++)
			gamma[i] = 1.0f, beta[i] = 0.1f;
		for (size_t i = 0; i < 3; i++) {
			struct bn_arg a = { &b, bn_shapes[i][0], bn_shapes[i][1], 0, gamma, beta, mean, istd,
					    dg, db };
			struct bn_arg m = a;
			double tf, tb, tm, dummy;
			char name[32];
			m.pass = 2;
			time_pair(&b, bn_run, &a, bn_run, &m, &tf, &tm);
			a.pass = 1;
			time_pair(&b, bn_run, &a, NULL, NULL, &tb, &dummy);
			snprintf(name, sizeof name, "%zu x %zu", a.rows, a.c);
			printf("%-22s %8.2f %8.2f %8.2f %9.1f\n", name, tf * 1e3, tb * 1e3, tm * 1e3,
			       2.0 * (double)(a.rows * a.c * sizeof(float)) / tm / 1e9);
		}
	}
	measure_peak(&b, " (again, at the end)");
	mli_buffer_free(&b.ws);
	mli_buffer_free(&b.bn_ws);
	mli_pool_destroy(b.pool);
	free(b.a);
	free(b.b);
	free(b.c);
	free(b.d);
	free(b.e);
	free(b.f);
	return 0;
}
