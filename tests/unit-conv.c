/* unit-conv.c: convolution forward against a direct double-precision
 * loop, backward-data and backward-weights against central finite
 * differences of that double-precision forward, on small odd shapes
 * covering every path (1x1 stride 1 and 2, 3x3 stride 1 and 2 with the
 * original pre-padding, the 7x7 stride-2 stem; backward-data by phases
 * and by GEMM + col2im, which takes fewer than 16 input channels;
 * several GEMM blocks); for every kernel table; and bit-identical
 * results across thread counts. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "error.h"
#include "kernels.h"
#include "tables.h"
#include "tap.h"
#include "threadpool.h"

static double rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)((*s >> 40) & 0xffffff) / 8388608.0 - 1.0;
}

static void fill(float *x, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (float)rnd(&seed);
}

/* The definition in conv.h, in double precision. */
static void conv_ref(const struct mli_conv_shape *s, const double *x, const double *w, double *y)
{
	for (size_t b = 0; b < s->n; b++)
		for (size_t i = 0; i < s->oh; i++)
			for (size_t j = 0; j < s->ow; j++)
				for (size_t o = 0; o < s->k; o++) {
					double acc = 0;
					for (size_t u = 0; u < s->kh; u++)
						for (size_t v = 0; v < s->kw; v++) {
							long iy = (long)(i * s->stride + u) - (long)s->pad_top;
							long ix = (long)(j * s->stride + v) - (long)s->pad_left;
							if (iy < 0 || ix < 0 || iy >= (long)s->h || ix >= (long)s->w)
								continue;
							for (size_t ci = 0; ci < s->c; ci++)
								acc += x[((b * s->h + iy) * s->w + ix) * s->c + ci] *
								       w[((u * s->kw + v) * s->c + ci) * s->k + o];
						}
					y[((b * s->oh + i) * s->ow + j) * s->k + o] = acc;
				}
}

/* L = sum of g * conv(x, w), in double. */
static double loss(const struct mli_conv_shape *s, const double *x, const double *w,
		   const double *g, double *y)
{
	double l = 0;

	conv_ref(s, x, w, y);
	for (size_t i = 0; i < s->n * s->oh * s->ow * s->k; i++)
		l += g[i] * y[i];
	return l;
}

static double *to_double(const float *f, size_t n)
{
	double *d = malloc(n * sizeof *d);
	for (size_t i = 0; i < n; i++)
		d[i] = f[i];
	return d;
}

/* The shapes: n, h, w, c, kh, kw, k, stride, and padding before plus
 * one (0: the original's), no padding after. */
static const size_t shapes[][9] = {
	{ 2, 7, 5, 3, 1, 1, 5, 1 },     /* pointwise: a plain GEMM */
	{ 2, 9, 8, 5, 1, 1, 7, 2 },     /* projection shortcut, stride 2 */
	{ 2, 6, 7, 5, 3, 3, 6, 1 },     /* 3x3 SAME */
	{ 3, 8, 8, 4, 3, 3, 5, 2 },     /* 3x3 stride 2, even size: pre-padding */
	{ 1, 9, 7, 3, 3, 3, 4, 2 },     /* 3x3 stride 2, odd size */
	{ 2, 14, 13, 3, 7, 7, 4, 2 },   /* the stem */
	{ 1, 5, 5, 19, 3, 3, 17, 1 },   /* channels beyond one micro-tile */
	{ 2, 12, 11, 40, 3, 3, 9, 1 },  /* several GEMM blocks: 264 rows, 360 deep */
	{ 3, 13, 12, 37, 3, 3, 5, 2 },  /* the same, stride 2 */
	{ 2, 9, 8, 17, 1, 1, 6, 2 },    /* projection, by phases (three get zeros) */
	{ 2, 9, 10, 6, 3, 3, 7, 2, 3 }, /* padding 2 before */
};

static void test_conv_shape_init_is_the_original_padding(struct tap *tap)
{
	struct mli_conv_shape s;

	ASSERT_EQ(mli_conv_shape_init(&s, 32, 224, 224, 3, 7, 7, 64, 2), 0);
	ASSERT_EQ(s.oh, 112);
	ASSERT_EQ(s.pad_top, 3);
	ASSERT_EQ(mli_conv_shape_init(&s, 32, 56, 56, 64, 3, 3, 64, 2), 0);
	/* TensorFlow's SAME would pad 0 before; the original pads 1. */
	ASSERT_EQ(s.oh, 28);
	ASSERT_EQ(s.pad_top, 1);
	ASSERT_EQ(mli_conv_shape_init(&s, 32, 56, 56, 256, 1, 1, 512, 2), 0);
	ASSERT_EQ(s.oh, 28);
	ASSERT_EQ(s.pad_top, 0);
	ASSERT_EQ(mli_conv_shape_init(&s, 1, 7, 7, 3, 3, 3, 4, 1), 0);
	ASSERT_EQ(s.oh, 7);
	ASSERT_EQ(mli_conv_shape_init(&s, 1, 7, 7, 3, 2, 2, 4, 1), MLI_EINVAL);
	s.oh = 9;
	ASSERT_EQ(mli_conv_shape_check(&s), MLI_EINVAL);
}

static int check_shape(struct tap *tap, const struct mli_kernels *kern, struct mli_pool *pool,
		       const size_t *d)
{
	struct mli_conv_shape s;
	struct mli_buffer ws = { 0 };
	size_t nx, nw, ny;
	float *x, *w, *y, *g, *dx, *dw;
	double *xd, *wd, *gd, *yd;
	int ok = 1;

	mli_conv_shape_init(&s, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]);
	if (d[8]) {
		s.pad_top = s.pad_left = d[8] - 1;
		s.oh = (s.h + s.pad_top - s.kh) / s.stride + 1;
		s.ow = (s.w + s.pad_left - s.kw) / s.stride + 1;
	}
	nx = s.n * s.h * s.w * s.c;
	nw = s.kh * s.kw * s.c * s.k;
	ny = s.n * s.oh * s.ow * s.k;
	x = malloc(nx * sizeof *x);
	w = malloc(nw * sizeof *w);
	y = malloc(ny * sizeof *y);
	g = malloc(ny * sizeof *g);
	dx = malloc(nx * sizeof *dx);
	dw = malloc(nw * sizeof *dw);
	fill(x, nx, nx);
	fill(w, nw, nw + 1);
	fill(g, ny, ny + 2);
	fill(dx, nx, 9);   /* garbage: the kernels must overwrite it */
	fill(dw, nw, 10);
	xd = to_double(x, nx);
	wd = to_double(w, nw);
	gd = to_double(g, ny);
	yd = malloc(ny * sizeof *yd);

	if (mli_conv_forward(kern, pool, &ws, &s, x, w, y) != 0 ||
	    mli_conv_backward_data(kern, pool, &ws, &s, g, w, dx) != 0 ||
	    mli_conv_backward_weights(kern, pool, NULL, &s, x, g, dw) != 0) {
		ok = 0;
		goto out;
	}
	conv_ref(&s, xd, wd, yd);
	for (size_t i = 0; i < ny; i++)
		if (fabs(y[i] - yd[i]) > 1e-5 * (1 + fabs(yd[i]))) {
			printf("# %s: forward y[%zu] = %.9g, want %.9g\n", kern->name, i, y[i], yd[i]);
			ok = 0;
			goto out;
		}
	/* Central differences in double: L is linear in x and in w, so the
	 * difference quotient is the exact gradient up to rounding. */
	/* Every entry of small tensors, about 150 spread over big ones. */
	for (size_t i = 0; i < nx; i += nx > 300 ? nx / 150 + 1 : 1) {
		double h = 1e-3, save = xd[i], lp, lm, want;
		xd[i] = save + h;
		lp = loss(&s, xd, wd, gd, yd);
		xd[i] = save - h;
		lm = loss(&s, xd, wd, gd, yd);
		xd[i] = save;
		want = (lp - lm) / (2 * h);
		if (fabs(dx[i] - want) > 1e-4 * (1 + fabs(want))) {
			printf("# %s: dx[%zu] = %.9g, finite difference %.9g\n", kern->name, i, dx[i], want);
			ok = 0;
			goto out;
		}
	}
	for (size_t i = 0; i < nw; i += nw > 300 ? nw / 150 + 1 : 1) {
		double h = 1e-3, save = wd[i], lp, lm, want;
		wd[i] = save + h;
		lp = loss(&s, xd, wd, gd, yd);
		wd[i] = save - h;
		lm = loss(&s, xd, wd, gd, yd);
		wd[i] = save;
		want = (lp - lm) / (2 * h);
		if (fabs(dw[i] - want) > 1e-4 * (1 + fabs(want))) {
			printf("# %s: dw[%zu] = %.9g, finite difference %.9g\n", kern->name, i, dw[i], want);
			ok = 0;
			goto out;
		}
	}
out:
	mli_buffer_free(&ws);
	free(x), free(w), free(y), free(g), free(dx), free(dw);
	free(xd), free(wd), free(gd), free(yd);
	return ok;
}

static void test_conv_matches_reference_and_finite_differences(struct tap *tap)
{
	const struct mli_kernels *tables[2] = { mli_kernels_ref(), mli_kernels_select() };
	struct mli_pool *pool;

	ASSERT_EQ(mli_pool_create(&pool, 2), 0);
	for (int t = 0; t < 2; t++)
		for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
			if (!check_shape(tap, tables[t], pool, shapes[i])) {
				mli_pool_destroy(pool);
				TAP_FAIL("table %s, shape %zu", tables[t]->name, i);
			}
	mli_pool_destroy(pool);
}

/* Shapes large enough for many GEMM blocks and several col2im chunks,
 * run at 1, 2 and 3 threads: all three passes must agree bit for bit. */
static void check_thread_counts(struct tap *tap, size_t n, size_t hw, size_t c, size_t kk,
				size_t k, size_t stride)
{
	const struct mli_kernels *kern = mli_kernels_select();
	struct mli_conv_shape s;
	size_t nx, nw, ny;
	float *x, *w, *g, *out[3][3];

	ASSERT_EQ(mli_conv_shape_init(&s, n, hw, hw, c, kk, kk, k, stride), 0);
	nx = s.n * s.h * s.w * s.c;
	nw = s.kh * s.kw * s.c * s.k;
	ny = s.n * s.oh * s.ow * s.k;
	x = malloc(nx * sizeof *x);
	w = malloc(nw * sizeof *w);
	g = malloc(ny * sizeof *g);
	fill(x, nx, 1);
	fill(w, nw, 2);
	fill(g, ny, 3);
	for (int t = 0; t < 3; t++) {
		struct mli_pool *pool;
		ASSERT_EQ(mli_pool_create(&pool, t + 1), 0);
		out[t][0] = malloc(ny * sizeof(float));
		out[t][1] = malloc(nx * sizeof(float));
		out[t][2] = malloc(nw * sizeof(float));
		ASSERT_EQ(mli_conv_forward(kern, pool, NULL, &s, x, w, out[t][0]), 0);
		ASSERT_EQ(mli_conv_backward_data(kern, pool, NULL, &s, g, w, out[t][1]), 0);
		ASSERT_EQ(mli_conv_backward_weights(kern, pool, NULL, &s, x, g, out[t][2]), 0);
		mli_pool_destroy(pool);
	}
	for (int t = 1; t < 3; t++) {
		ASSERT_MEM_EQ(out[t][0], out[0][0], ny * sizeof(float));
		ASSERT_MEM_EQ(out[t][1], out[0][1], nx * sizeof(float));
		ASSERT_MEM_EQ(out[t][2], out[0][2], nw * sizeof(float));
	}
	for (int t = 0; t < 3; t++)
		for (int i = 0; i < 3; i++)
			free(out[t][i]);
	free(x);
	free(w);
	free(g);
}

static void test_conv_is_bit_identical_across_thread_counts(struct tap *tap)
{
	check_thread_counts(tap, 5, 40, 64, 7, 16, 2);
	if (tap->current_failed)
		return;
	check_thread_counts(tap, 3, 20, 48, 3, 40, 1);
}

int main(void)
{
	struct tap t = { 0, 0, 0 }, *tap = &t;
	struct tables tb = TABLES_INIT;

	RUN(test_conv_shape_init_is_the_original_padding);
	for (size_t i = 0; i < TABLES; i++)
		if (tables_use(&tb, i)) {
			RUN(test_conv_matches_reference_and_finite_differences);
			RUN(test_conv_is_bit_identical_across_thread_counts);
		}
	return tap_done(tap);
}
