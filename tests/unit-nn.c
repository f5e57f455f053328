/* unit-nn.c: batch norm, ReLU, add, pooling, fully connected and the
 * losses, forward against double-precision definitions and backward
 * against central finite differences of those definitions, for every
 * kernel table; the tables' row kernels bit-identical to each other;
 * batch norm bit-identical across thread counts. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kernels.h"
#include "nn.h"
#include "tables.h"
#include "tap.h"
#include "threadpool.h"

static double rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)((*s >> 40) & 0xffffff) / 8388608.0 - 1.0;
}

static void fill(float *x, size_t n, uint64_t seed, double scale, double offset)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(rnd(&seed) * scale + offset);
}

static int close_to(double got, double want, double tol)
{
	return fabs(got - want) <= tol * (1 + fabs(want));
}

/* Training batch norm in double: y (rows, c); returns sum g * y. */
static double bn_ref(size_t rows, size_t c, const double *x, const double *gamma,
		     const double *beta, double eps, int relu, const double *g, double *y)
{
	double l = 0;

	for (size_t j = 0; j < c; j++) {
		double m = 0, v = 0;
		for (size_t r = 0; r < rows; r++)
			m += x[r * c + j];
		m /= (double)rows;
		for (size_t r = 0; r < rows; r++)
			v += (x[r * c + j] - m) * (x[r * c + j] - m);
		v /= (double)rows;
		for (size_t r = 0; r < rows; r++) {
			double o = gamma[j] * (x[r * c + j] - m) / sqrt(v + eps) + beta[j];
			if (relu && o < 0)
				o = 0;
			if (y)
				y[r * c + j] = o;
			if (g)
				l += g[r * c + j] * o;
		}
	}
	return l;
}

static void check_batch_norm(struct tap *tap, const struct mli_kernels *k)
{
	enum { ROWS = 150, C = 13 };
	static float x[ROWS * C], y[ROWS * C], g[ROWS * C], dx[ROWS * C];
	float gamma[C], beta[C], mean[C], istd[C], rm[C], rv[C], dgamma[C], dbeta[C];
	static double xd[ROWS * C], yd[ROWS * C], gd[ROWS * C];
	double gmd[C], btd[C];
	struct mli_pool *pool;
	struct mli_buffer ws = { 0 };

	ASSERT_EQ(mli_pool_create(&pool, 2), 0);
	fill(x, ROWS * C, 1, 2.0, 0.3);
	fill(g, ROWS * C, 2, 1.0, 0.0);
	fill(gamma, C, 3, 0.5, 1.0);
	fill(beta, C, 4, 0.5, 0.0);
	for (size_t i = 0; i < ROWS * C; i++)
		xd[i] = x[i], gd[i] = g[i];
	for (size_t j = 0; j < C; j++)
		gmd[j] = gamma[j], btd[j] = beta[j], rm[j] = 0.5f, rv[j] = 2.0f;
	ASSERT_EQ(mli_bn_forward_train(k, pool, 1, C, x, gamma, beta, 1e-5f, 0, y, mean, istd, NULL,
				       NULL, 0, NULL), MLI_EINVAL);
	for (int relu = 0; relu < 2; relu++) {
		/* Work space kept across the calls with ReLU, per call without. */
		ASSERT_EQ(mli_bn_forward_train(k, pool, ROWS, C, x, gamma, beta, 1e-3f, relu, y, mean,
					       istd, relu ? NULL : rm, relu ? NULL : rv, 0.9f,
					       relu ? &ws : NULL), 0);
		bn_ref(ROWS, C, xd, gmd, btd, 1e-3, relu, NULL, yd);
		for (size_t i = 0; i < ROWS * C; i++)
			if (!close_to(y[i], yd[i], 1e-5))
				TAP_FAIL("relu=%d y[%zu] = %.9g, want %.9g", relu, i, y[i], yd[i]);
		if (!relu)
			for (size_t j = 0; j < C; j++) {
				double m = 0, v = 0;
				for (size_t r = 0; r < ROWS; r++)
					m += xd[r * C + j];
				m /= ROWS;
				for (size_t r = 0; r < ROWS; r++)
					v += (xd[r * C + j] - m) * (xd[r * C + j] - m);
				ASSERT(close_to(mean[j], m, 1e-6));
				ASSERT(close_to(rm[j], 0.9 * 0.5 + 0.1 * m, 1e-6));
				ASSERT(close_to(rv[j], 0.9 * 2.0 + 0.1 * v / (ROWS - 1), 1e-6));
				ASSERT(close_to(istd[j], 1 / sqrt(v / ROWS + 1e-3), 1e-6));
			}
		ASSERT_EQ(mli_bn_backward(k, pool, ROWS, C, x, g, gamma, beta, mean, istd, relu, dx,
					  dgamma, dbeta, relu ? &ws : NULL), 0);
		for (size_t i = 0; i < ROWS * C; i += 7) {
			double h = 1e-6, s = xd[i], lp, lm, want;
			xd[i] = s + h;
			lp = bn_ref(ROWS, C, xd, gmd, btd, 1e-3, relu, gd, NULL);
			xd[i] = s - h;
			lm = bn_ref(ROWS, C, xd, gmd, btd, 1e-3, relu, gd, NULL);
			xd[i] = s;
			want = (lp - lm) / (2 * h);
			if (!close_to(dx[i], want, 1e-3))
				TAP_FAIL("relu=%d dx[%zu] = %.9g, finite difference %.9g", relu, i, dx[i], want);
		}
		for (size_t j = 0; j < C; j++) {
			double h = 1e-6, s = gmd[j], lp, lm;
			gmd[j] = s + h;
			lp = bn_ref(ROWS, C, xd, gmd, btd, 1e-3, relu, gd, NULL);
			gmd[j] = s - h;
			lm = bn_ref(ROWS, C, xd, gmd, btd, 1e-3, relu, gd, NULL);
			gmd[j] = s;
			if (!close_to(dgamma[j], (lp - lm) / (2 * h), 1e-3))
				TAP_FAIL("relu=%d dgamma[%zu] = %.9g, want %.9g", relu, j, dgamma[j],
					 (lp - lm) / (2 * h));
			s = btd[j];
			btd[j] = s + h;
			lp = bn_ref(ROWS, C, xd, gmd, btd, 1e-3, relu, gd, NULL);
			btd[j] = s - h;
			lm = bn_ref(ROWS, C, xd, gmd, btd, 1e-3, relu, gd, NULL);
			btd[j] = s;
			if (!close_to(dbeta[j], (lp - lm) / (2 * h), 1e-3))
				TAP_FAIL("relu=%d dbeta[%zu] = %.9g, want %.9g", relu, j, dbeta[j],
					 (lp - lm) / (2 * h));
		}
	}
	/* Inference with the statistics of the batch equals training mode. */
	{
		float var[C], yi[ROWS * C];
		ASSERT_EQ(mli_bn_forward_train(k, pool, ROWS, C, x, gamma, beta, 1e-3f, 1, y, mean, istd,
					       NULL, NULL, 0, &ws), 0);
		for (size_t j = 0; j < C; j++)
			var[j] = (float)(1.0 / ((double)istd[j] * istd[j]) - 1e-3);
		ASSERT_EQ(mli_bn_forward_infer(k, pool, ROWS, C, x, gamma, beta, mean, var, 1e-3f, 1, yi,
					       &ws), 0);
		for (size_t i = 0; i < ROWS * C; i++)
			if (!close_to(yi[i], y[i], 1e-4))
				TAP_FAIL("inference y[%zu] = %.9g, training %.9g", i, yi[i], y[i]);
	}
	mli_buffer_free(&ws);
	mli_pool_destroy(pool);
}

static void test_batch_norm_forward_and_backward(struct tap *tap)
{
	check_batch_norm(tap, mli_kernels_ref());
	if (!tap->current_failed)
		check_batch_norm(tap, mli_kernels_select());
}

static void test_batch_norm_is_bit_identical_across_thread_counts(struct tap *tap)
{
	const struct mli_kernels *k = mli_kernels_select();
	enum { ROWS = 3001, C = 24 };
	float *x = malloc(ROWS * C * sizeof *x), *g = malloc(ROWS * C * sizeof *g);
	float *out[3], gamma[C], beta[C], mean[C], istd[C], dgam[3][C], dbet[3][C];

	fill(x, ROWS * C, 5, 3.0, 1.0);
	fill(g, ROWS * C, 6, 1.0, 0.0);
	fill(gamma, C, 7, 0.5, 1.0);
	fill(beta, C, 8, 0.5, 0.0);
	for (int t = 0; t < 3; t++) {
		struct mli_pool *pool;
		float *y = malloc(ROWS * C * sizeof *y);
		out[t] = malloc(ROWS * C * sizeof *out[t]);
		ASSERT_EQ(mli_pool_create(&pool, t + 1), 0);
		ASSERT_EQ(mli_bn_forward_train(k, pool, ROWS, C, x, gamma, beta, 1e-5f, 1, y, mean, istd,
					       NULL, NULL, 0, NULL), 0);
		ASSERT_EQ(mli_bn_backward_residual(k, pool, ROWS, C, x, g, gamma, beta, mean, istd, 1,
						   x, out[t], dgam[t], dbet[t], NULL), 0);
		mli_pool_destroy(pool);
		free(y);
	}
	for (int t = 1; t < 3; t++) {
		ASSERT_MEM_EQ(out[t], out[0], ROWS * C * sizeof(float));
		ASSERT_MEM_EQ(dgam[t], dgam[0], sizeof dgam[0]);
		ASSERT_MEM_EQ(dbet[t], dbet[0], sizeof dbet[0]);
	}
	for (int t = 0; t < 3; t++)
		free(out[t]);
	free(x);
	free(g);
}

/* The fused residual sums give the bits of a separate mli_add, and
 * mli_bn_remake gives the forward output again (up to the rounding of
 * the saved inverse standard deviation). */
static void test_batch_norm_residual_sums_and_remake(struct tap *tap)
{
	const struct mli_kernels *k = mli_kernels_select();
	enum { ROWS = 203, C = 21, N = ROWS * C };
	static float x[N], res[N], xs[N], sum[N], y[N], y2[N], g[N], dx[N], dx2[N];
	float gamma[C], beta[C], mean[C], istd[C], mean2[C], istd2[C], dgam[2][C], dbet[2][C];
	struct mli_pool *pool;
	struct mli_buffer ws = { 0 };

	ASSERT_EQ(mli_pool_create(&pool, 2), 0);
	fill(x, N, 30, 2.0, 0.1);
	fill(res, N, 31, 1.0, 0.0);
	fill(g, N, 32, 1.0, 0.0);
	fill(gamma, C, 33, 0.5, 1.0);
	fill(beta, C, 34, 0.5, 0.0);
	memcpy(xs, x, sizeof x);
	mli_add(k, pool, N, x, res, sum);
	ASSERT_EQ(mli_bn_forward_train(k, pool, ROWS, C, sum, gamma, beta, 1e-5f, 1, y, mean, istd,
				       NULL, NULL, 0, &ws), 0);
	ASSERT_EQ(mli_bn_forward_train_residual(k, pool, ROWS, C, xs, res, gamma, beta, 1e-5f, 1, y2,
						mean2, istd2, NULL, NULL, 0, &ws), 0);
	ASSERT_MEM_EQ(xs, sum, sizeof sum);
	ASSERT_MEM_EQ(y2, y, sizeof y);
	ASSERT_MEM_EQ(mean2, mean, sizeof mean);
	ASSERT_MEM_EQ(istd2, istd, sizeof istd);

	ASSERT_EQ(mli_bn_remake(k, pool, ROWS, C, sum, gamma, beta, mean, istd, 1, y2, &ws), 0);
	for (size_t i = 0; i < N; i++)
		if (!close_to(y2[i], y[i], 1e-6))
			TAP_FAIL("remade y[%zu] = %.9g, forward %.9g", i, y2[i], y[i]);

	ASSERT_EQ(mli_bn_backward(k, pool, ROWS, C, sum, g, gamma, beta, mean, istd, 1, dx, dgam[0],
				  dbet[0], &ws), 0);
	mli_add(k, pool, N, dx, res, dx);
	ASSERT_EQ(mli_bn_backward_residual(k, pool, ROWS, C, sum, g, gamma, beta, mean, istd, 1, res,
					   dx2, dgam[1], dbet[1], &ws), 0);
	ASSERT_MEM_EQ(dx2, dx, sizeof dx);
	ASSERT_MEM_EQ(dgam[1], dgam[0], sizeof dgam[0]);
	ASSERT_MEM_EQ(dbet[1], dbet[0], sizeof dbet[0]);
	mli_buffer_free(&ws);
	mli_pool_destroy(pool);
}

static void test_relu_add_and_average_pooling(struct tap *tap)
{
	const struct mli_kernels *k = mli_kernels_select();
	enum { N = 3, HW = 7, C = 11 };
	float x[N * HW * C], y[N * HW * C], d[N * HW * C], p[N * C], dp[N * C];
	struct mli_pool *pool;

	ASSERT_EQ(mli_pool_create(&pool, 2), 0);
	fill(x, N * HW * C, 9, 1.0, 0.0);
	fill(d, N * HW * C, 10, 1.0, 0.0);
	mli_relu_forward(k, pool, N * HW * C, x, y);
	for (size_t i = 0; i < N * HW * C; i++)
		ASSERT(y[i] == (x[i] > 0 ? x[i] : 0.0f));
	mli_relu_backward(k, pool, N * HW * C, y, d, y);
	for (size_t i = 0; i < N * HW * C; i++)
		ASSERT(y[i] == (x[i] > 0 ? d[i] : 0.0f));
	mli_add(k, pool, N * HW * C, x, d, y);
	for (size_t i = 0; i < N * HW * C; i++)
		ASSERT(y[i] == x[i] + d[i]);
	mli_avgpool_forward(pool, N, HW, C, x, p);
	for (size_t b = 0; b < N; b++)
		for (size_t j = 0; j < C; j++) {
			double s = 0;
			for (size_t q = 0; q < HW; q++)
				s += x[(b * HW + q) * C + j];
			ASSERT(close_to(p[b * C + j], s / HW, 1e-6));
		}
	/* The pooling is linear: its gradient is exact, dL/dx = dy / hw. */
	fill(dp, N * C, 11, 1.0, 0.0);
	mli_avgpool_backward(pool, N, HW, C, dp, y);
	for (size_t b = 0; b < N; b++)
		for (size_t q = 0; q < HW; q++)
			for (size_t j = 0; j < C; j++)
				ASSERT(close_to(y[(b * HW + q) * C + j], dp[b * C + j] / (double)HW, 1e-6));
	mli_pool_destroy(pool);
}

/* L = sum g * (x w + bias), in double. */
static double fc_loss(size_t n, size_t in, size_t out, const double *x, const double *w,
		      const double *bias, const double *g)
{
	double l = 0;

	for (size_t i = 0; i < n; i++)
		for (size_t o = 0; o < out; o++) {
			double s = bias[o];
			for (size_t p = 0; p < in; p++)
				s += x[i * in + p] * w[p * out + o];
			l += g[i * out + o] * s;
		}
	return l;
}

static void test_fully_connected_forward_and_backward(struct tap *tap)
{
	enum { N = 5, IN = 37, OUT = 21 };
	float x[N * IN], w[IN * OUT], b[OUT], y[N * OUT], g[N * OUT], dx[N * IN], dw[IN * OUT], db[OUT];
	double xd[N * IN], wd[IN * OUT], bd[OUT], gd[N * OUT];
	const struct mli_kernels *tables[2] = { mli_kernels_ref(), mli_kernels_select() };
	struct mli_pool *pool;

	ASSERT_EQ(mli_pool_create(&pool, 2), 0);
	fill(x, N * IN, 12, 1.0, 0.0);
	fill(w, IN * OUT, 13, 1.0, 0.0);
	fill(b, OUT, 14, 1.0, 0.0);
	fill(g, N * OUT, 15, 1.0, 0.0);
	for (size_t i = 0; i < N * IN; i++)
		xd[i] = x[i];
	for (size_t i = 0; i < IN * OUT; i++)
		wd[i] = w[i];
	for (size_t i = 0; i < OUT; i++)
		bd[i] = b[i];
	for (size_t i = 0; i < N * OUT; i++)
		gd[i] = g[i];
	for (int t = 0; t < 2; t++) {
		const struct mli_kernels *k = tables[t];
		ASSERT_EQ(mli_fc_forward(k, pool, N, IN, OUT, x, w, b, y), 0);
		for (size_t i = 0; i < N; i++)
			for (size_t o = 0; o < OUT; o++) {
				double s = bd[o];
				for (size_t p = 0; p < IN; p++)
					s += xd[i * IN + p] * wd[p * OUT + o];
				ASSERT(close_to(y[i * OUT + o], s, 1e-5));
			}
		ASSERT_EQ(mli_fc_backward(k, pool, N, IN, OUT, x, w, g, dx, dw, db), 0);
		for (size_t i = 0; i < N * IN; i++) {
			double h = 1e-3, s = xd[i], lp, lm;
			xd[i] = s + h;
			lp = fc_loss(N, IN, OUT, xd, wd, bd, gd);
			xd[i] = s - h;
			lm = fc_loss(N, IN, OUT, xd, wd, bd, gd);
			xd[i] = s;
			if (!close_to(dx[i], (lp - lm) / (2 * h), 1e-4))
				TAP_FAIL("%s dx[%zu] = %.9g, want %.9g", k->name, i, dx[i], (lp - lm) / (2 * h));
		}
		for (size_t i = 0; i < IN * OUT; i++) {
			double h = 1e-3, s = wd[i], lp, lm;
			wd[i] = s + h;
			lp = fc_loss(N, IN, OUT, xd, wd, bd, gd);
			wd[i] = s - h;
			lm = fc_loss(N, IN, OUT, xd, wd, bd, gd);
			wd[i] = s;
			if (!close_to(dw[i], (lp - lm) / (2 * h), 1e-4))
				TAP_FAIL("%s dw[%zu] = %.9g, want %.9g", k->name, i, dw[i], (lp - lm) / (2 * h));
		}
		for (size_t o = 0; o < OUT; o++) {
			double h = 1e-3, s = bd[o], lp, lm;
			bd[o] = s + h;
			lp = fc_loss(N, IN, OUT, xd, wd, bd, gd);
			bd[o] = s - h;
			lm = fc_loss(N, IN, OUT, xd, wd, bd, gd);
			bd[o] = s;
			ASSERT(close_to(db[o], (lp - lm) / (2 * h), 1e-4));
		}
	}
	mli_pool_destroy(pool);
}

/* The loss by its plain definition, weight * (-pw t log s(z) - (1 - t) log(1 - s(z))). */
static double sigmoid_xent_def(double z, double t, double w, double pw)
{
	double s = 1 / (1 + exp(-z));
	return w * (-pw * t * log(s) - (1 - t) * log(1 - s));
}

static void test_sigmoid_cross_entropy(struct tap *tap)
{
	enum { N = 40 };
	float z[N], t[N], w[N], dz[N];
	double total = 0, got;

	fill(z, N, 16, 6.0, 0.0);
	for (size_t i = 0; i < N; i++) {
		t[i] = i % 3 == 0 ? 1.0f : i % 3 == 1 ? 0.0f : 0.7f;
		w[i] = i % 5 == 4 ? 0.0f : 0.5f + (float)(i % 4);
		total += sigmoid_xent_def(z[i], t[i], w[i], 3.0);
	}
	got = mli_sigmoid_xent(N, z, t, w, 3.0f, 0.25f, dz);
	ASSERT(close_to(got, 0.25 * total, 1e-12));
	for (size_t i = 0; i < N; i++) {
		double h = 1e-6;
		double want = 0.25 * (sigmoid_xent_def(z[i] + h, t[i], w[i], 3.0) -
				      sigmoid_xent_def(z[i] - h, t[i], w[i], 3.0)) / (2 * h);
		if (!close_to(dz[i], want, 1e-5))
			TAP_FAIL("dz[%zu] = %.9g, finite difference %.9g", i, dz[i], want);
		if (w[i] == 0.0f)
			ASSERT(dz[i] == 0.0f);
	}
	/* Confidently wrong large logits: finite loss |z| each, gradient -1
	 * and +1 (t0 = 1, t1 = 0). */
	z[0] = -200.0f;
	z[1] = 200.0f;
	got = mli_sigmoid_xent(2, z, t, NULL, 1.0f, 1.0f, dz);
	ASSERT(close_to(got, 400.0, 1e-12));
	ASSERT(dz[0] == -1.0f && dz[1] == 1.0f);
}

static double softmax_def(size_t k, const double *z, int label)
{
	double s = 0;
	for (size_t j = 0; j < k; j++)
		s += exp(z[j]);
	return log(s) - z[label];
}

static void test_softmax_cross_entropy(struct tap *tap)
{
	enum { N = 4, K = 9 };
	float z[N * K], dz[N * K];
	int labels[N] = { 3, 0, -1, 8 };
	double zd[N * K], total = 0, got;

	fill(z, N * K, 17, 4.0, 0.0);
	for (size_t i = 0; i < N * K; i++)
		zd[i] = z[i];
	for (size_t i = 0; i < N; i++)
		if (labels[i] >= 0)
			total += softmax_def(K, zd + i * K, labels[i]);
	got = mli_softmax_xent(N, K, z, labels, 0.5f, dz);
	ASSERT(close_to(got, 0.5 * total, 1e-12));
	for (size_t i = 0; i < N * K; i++) {
		size_t r = i / K;
		double h = 1e-6, s = zd[i], lp, lm;
		if (labels[r] < 0) {
			ASSERT(dz[i] == 0.0f);
			continue;
		}
		zd[i] = s + h;
		lp = softmax_def(K, zd + r * K, labels[r]);
		zd[i] = s - h;
		lm = softmax_def(K, zd + r * K, labels[r]);
		zd[i] = s;
		if (!close_to(dz[i], 0.5 * (lp - lm) / (2 * h), 1e-5))
			TAP_FAIL("dz[%zu] = %.9g, finite difference %.9g", i, dz[i], 0.5 * (lp - lm) / (2 * h));
	}
}

/* The table's row kernels against the reference, bit for bit, on odd
 * channel counts (vector body and scalar tail), with NaN, -0 and values
 * at the ReLU's edge, and in place. */
static void test_row_kernels_match_the_reference_bit_for_bit(struct tap *tap)
{
	enum { ROWS = 7, MAXC = 37 };
	const struct mli_kernels *k = mli_kernels_select(), *r = mli_kernels_ref();
	static const size_t cs[] = { 1, 5, 8, 13, 16, 37 };
	float x[ROWS * MAXC], y[ROWS * MAXC], dy[ROWS * MAXC], a[ROWS * MAXC], b[ROWS * MAXC];
	float gm[ROWS * MAXC];
	float p1[MAXC], p2[MAXC], q1[MAXC], q2[MAXC], sc[MAXC], sh[MAXC], ga[MAXC];

	fill(x, ROWS * MAXC, 20, 3.0, 0.0);
	fill(dy, ROWS * MAXC, 21, 1.0, 0.0);
	fill(sc, MAXC, 22, 1.0, 0.5);
	fill(sh, MAXC, 23, 1.0, 0.0);
	fill(ga, MAXC, 24, 1.0, 1.0);
	x[3] = NAN;
	x[9] = -0.0f;
	x[10] = 0.0f;
	dy[11] = NAN;
	for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
		size_t c = cs[ci], n = ROWS * c;
		k->bn_sums(x, ROWS, c, p1, p2);
		r->bn_sums(x, ROWS, c, q1, q2);
		ASSERT_MEM_EQ(p1, q1, c * sizeof *p1);
		ASSERT_MEM_EQ(p2, q2, c * sizeof *p2);
		for (int relu = 0; relu < 2; relu++) {
			k->scale_shift(x, a, ROWS, c, sc, sh, relu);
			r->scale_shift(x, b, ROWS, c, sc, sh, relu);
			ASSERT_MEM_EQ(a, b, n * sizeof *a);
			memcpy(y, x, n * sizeof *y);
			k->scale_shift(y, y, ROWS, c, sc, sh, relu);
			ASSERT_MEM_EQ(y, b, n * sizeof *y);
			/* The ReLU's mask told from x is the one of scale_shift's
			 * output (b): the same sums as dy zeroed there by hand. */
			const float *msc = relu ? sc : NULL;
			for (size_t i = 0; i < n; i++)
				gm[i] = relu && !(b[i] > 0.0f) ? 0.0f : dy[i];
			k->bn_grad_sums(x, msc, sh, dy, ROWS, c, sh, sc, p1, p2);
			r->bn_grad_sums(x, msc, sh, dy, ROWS, c, sh, sc, q1, q2);
			ASSERT_MEM_EQ(p1, q1, c * sizeof *p1);
			ASSERT_MEM_EQ(p2, q2, c * sizeof *p2);
			r->bn_grad_sums(x, NULL, NULL, gm, ROWS, c, sh, sc, q1, q2);
			ASSERT_MEM_EQ(p1, q1, c * sizeof *p1);
			ASSERT_MEM_EQ(p2, q2, c * sizeof *p2);
			k->bn_grad_dx(x, msc, sh, dy, y, ROWS, c, sh, sc, ga, p1, p2);
			r->bn_grad_dx(x, msc, sh, dy, a, ROWS, c, sh, sc, ga, p1, p2);
			ASSERT_MEM_EQ(y, a, n * sizeof *y);
			r->bn_grad_dx(x, NULL, NULL, gm, a, ROWS, c, sh, sc, ga, p1, p2);
			ASSERT_MEM_EQ(y, a, n * sizeof *y);
		}
		k->relu(x, a, n);
		r->relu(x, b, n);
		ASSERT_MEM_EQ(a, b, n * sizeof *a);
		if (n > 9)
			ASSERT(a[3] == 0.0f && !signbit(a[9]));
		k->relu_grad(x, dy, a, n);
		r->relu_grad(x, dy, b, n);
		ASSERT_MEM_EQ(a, b, n * sizeof *a);
		k->add(x, dy, a, n);
		r->add(x, dy, b, n);
		ASSERT_MEM_EQ(a, b, n * sizeof *a);
	}
}

int main(void)
{
	struct tap t = { 0, 0, 0 }, *tap = &t;
	struct tables tb = TABLES_INIT;

	for (size_t i = 0; i < TABLES; i++)
		if (tables_use(&tb, i)) {
			RUN(test_row_kernels_match_the_reference_bit_for_bit);
			RUN(test_batch_norm_forward_and_backward);
			RUN(test_batch_norm_is_bit_identical_across_thread_counts);
			RUN(test_batch_norm_residual_sums_and_remake);
			RUN(test_relu_add_and_average_pooling);
			RUN(test_fully_connected_forward_and_backward);
		}
	RUN(test_sigmoid_cross_entropy);
	RUN(test_softmax_cross_entropy);
	return tap_done(tap);
}
