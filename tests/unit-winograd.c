/* unit-winograd.c: the Winograd F(2x2, 3x3) convolutions against the
 * direct convolution in double precision, on odd sizes (partial tiles)
 * and channel counts that are not multiples of the vector width, for
 * every kernel table (the reference one included: conv.c never sends it
 * here, but its transforms are the portable code); bit-identical results
 * at 1, 2 and 3 threads on shapes of several chunks; conv.c's dispatch
 * giving the same answer as the direct path within the bound; and the
 * work space each pass takes being what mli_winograd_ws_bytes says.
 *
 * The bound. Every operation rounds with a relative error of at most
 * u = 2^-24, and none cancels more than the sum of its operands'
 * magnitudes, so the standard forward error analysis of a chain of
 * additions and products (Higham, "Accuracy and Stability of Numerical
 * Algorithms", 3.1) gives, for each output, an error of at most
 * gamma_d * Phi with gamma_d = d u / (1 - d u), where d is the longest
 * chain of roundings and Phi the same computation done on the absolute
 * values of the inputs and of the transform matrices:
 *   forward:  Phi = |A^T| (sum over c of (|G||g||G^T|) .* (|B^T||d||B|)) |A|;
 *             d = 4 (filter transform: two rounded steps per side) + 2
 *             (input transform) + c + 1 (products and their sum, in
 *             any order or blocking) + 4 (output transform) = c + 11;
 *   backward-data: the same with c the output channels, for the filter
 *             turned by 180 degrees;
 *   backward-weights: Phi = |G^T| (sum over tiles of
 *             (|B^T||d||B|) .* (|A||dY||A^T|)) |G|; d = 2 + 2 + T + 1 +
 *             4 = T + 9 for T tiles.
 * The test computes Phi per output in double and asserts |error| <=
 * gamma_d * Phi (and prints the largest error over its bound: typically
 * a few hundredths, as rounding errors do not all point one way). The
 * double-precision reference itself errs by about 2^-53 of Phi. */
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
#include "winograd.h"

static const double BT[4][4] = { { 1, 0, -1, 0 }, { 0, 1, 1, 0 }, { 0, -1, 1, 0 }, { 0, 1, 0, -1 } };
static const double G[4][3] = { { 1, 0, 0 }, { .5, .5, .5 }, { .5, -.5, .5 }, { 0, 0, 1 } };
static const double AT[2][4] = { { 1, 1, 1, 0 }, { 0, 1, -1, -1 } };

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

/* Pixel (b, iy, ix) channel ci of an (n, h, w, ch) tensor, or 0 outside. */
static double at(const float *t, const struct mli_conv_shape *s, size_t ch, size_t b, long iy,
		 long ix, size_t ci)
{
	if (iy < 0 || ix < 0 || iy >= (long)s->h || ix >= (long)s->w)
		return 0;
	return t[((b * s->h + (size_t)iy) * s->w + (size_t)ix) * ch + ci];
}

/* |B^T| |d| |B| of the window of tile (b, ty, tx) of |t|, channel ci. */
static void abs_v(const float *t, const struct mli_conv_shape *s, size_t ch, size_t b, size_t ty,
		  size_t tx, size_t ci, double v[4][4])
{
	double d[4][4], e[4][4];

	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			d[i][j] = fabs(at(t, s, ch, b, 2 * (long)ty - 1 + i, 2 * (long)tx - 1 + j, ci));
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++) {
			e[i][j] = 0;
			for (int a = 0; a < 4; a++)
				e[i][j] += fabs(BT[i][a]) * d[a][j];
		}
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++) {
			v[i][j] = 0;
			for (int a = 0; a < 4; a++)
				v[i][j] += e[i][a] * fabs(BT[j][a]);
		}
}

/* |A| |dY| |A^T| of the 2 x 2 pixels of tile (b, ty, tx) of |dy|. */
static void abs_dm(const float *dy, const struct mli_conv_shape *s, size_t b, size_t ty,
		   size_t tx, size_t o, double m[4][4])
{
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++) {
			m[i][j] = 0;
			for (int a = 0; a < 2; a++)
				for (int c = 0; c < 2; c++)
					m[i][j] += fabs(AT[a][i]) * fabs(AT[c][j]) *
						   fabs(at(dy, s, s->k, b, 2 * (long)ty + a, 2 * (long)tx + c, o));
		}
}

/* |G| |g| |G^T| for the 3 x 3 filter g (double, already absolute). */
static void abs_u(double g[3][3], double u[4][4])
{
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++) {
			u[i][j] = 0;
			for (int a = 0; a < 3; a++)
				for (int b = 0; b < 3; b++)
					u[i][j] += fabs(G[i][a]) * g[a][b] * fabs(G[j][b]);
		}
}

/* The filter tap (u, v) from input channel ci to output o, in the
 * convolution that pass p computes (backward-data: turned, swapped). */
static double tap(const float *wt, const struct mli_conv_shape *s, int p, int u, int v, size_t ci,
		  size_t o)
{
	if (p == 1)
		return wt[(((size_t)(2 - u) * 3 + (size_t)(2 - v)) * s->c + o) * s->k + ci];
	return wt[(((size_t)u * 3 + (size_t)v) * s->c + ci) * s->k + o];
}

/* Output (b, oy, ox, o) of pass p's convolution of in (n, h, w, cin):
 * the direct sum in double, and Phi. */
static void direct_out(const float *in, const float *wt, const struct mli_conv_shape *s, int p,
		       size_t b, size_t oy, size_t ox, size_t o, double *val, double *phi)
{
	size_t cin = p == 1 ? s->k : s->c;
	double acc = 0, ph = 0;

	for (size_t ci = 0; ci < cin; ci++) {
		double g[3][3], ua[4][4], va[4][4];
		for (int u = 0; u < 3; u++)
			for (int v = 0; v < 3; v++) {
				g[u][v] = tap(wt, s, p, u, v, ci, o);
				acc += at(in, s, cin, b, (long)oy + u - 1, (long)ox + v - 1, ci) * g[u][v];
				g[u][v] = fabs(g[u][v]);
			}
		abs_u(g, ua);
		abs_v(in, s, cin, b, oy / 2, ox / 2, ci, va);
		for (int i = 0; i < 4; i++)
			for (int j = 0; j < 4; j++)
				ph += fabs(AT[oy % 2][i]) * ua[i][j] * va[i][j] * fabs(AT[ox % 2][j]);
	}
	*val = acc;
	*phi = ph;
}

/* dwt (u, v, ci, o) = sum over pixels of x * dy, and its Phi. */
static void direct_dw(const float *x, const float *dy, const struct mli_conv_shape *s, int u,
		      int v, size_t ci, size_t o, double *val, double *phi)
{
	size_t th = (s->h + 1) / 2, tw = (s->w + 1) / 2;
	double acc = 0, sum[4][4] = { { 0 } };

	for (size_t b = 0; b < s->n; b++) {
		for (size_t oy = 0; oy < s->h; oy++)
			for (size_t ox = 0; ox < s->w; ox++)
				acc += at(x, s, s->c, b, (long)oy + u - 1, (long)ox + v - 1, ci) *
				       at(dy, s, s->k, b, (long)oy, (long)ox, o);
		for (size_t ty = 0; ty < th; ty++)
			for (size_t tx = 0; tx < tw; tx++) {
				double va[4][4], ma[4][4];
				abs_v(x, s, s->c, b, ty, tx, ci, va);
				abs_dm(dy, s, b, ty, tx, o, ma);
				for (int i = 0; i < 4; i++)
					for (int j = 0; j < 4; j++)
						sum[i][j] += va[i][j] * ma[i][j];
			}
	}
	*phi = 0;
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			*phi += fabs(G[i][u]) * sum[i][j] * fabs(G[j][v]);
	*val = acc;
}

static double gamma_of(size_t d)
{
	double u = ldexp(1.0, -24);
	return (double)d * u / (1 - (double)d * u);
}

/* Checks the three passes on shape (n, h, w, c, k), every output when
 * there are few, else a sample; *worst gets the largest error / bound.
 * With via_conv, through conv.c's entry points (which send the shapes
 * where Winograd pays to it). */
static int check_shape(const struct mli_kernels *kern, struct mli_pool *pool, const size_t *d,
		       int via_conv, double *worst)
{
	struct mli_conv_shape s;
	struct mli_buffer ws = { 0 };
	size_t nx, nw, ny, tiles;
	float *x, *w, *g, *y, *dx, *dw;
	int ok = 1;

	mli_conv_shape_init(&s, d[0], d[1], d[2], d[3], 3, 3, d[4], 1);
	nx = s.n * s.h * s.w * s.c;
	nw = 9 * s.c * s.k;
	ny = s.n * s.h * s.w * s.k;
	tiles = s.n * ((s.h + 1) / 2) * ((s.w + 1) / 2);
	x = malloc(nx * sizeof *x);
	w = malloc(nw * sizeof *w);
	g = malloc(ny * sizeof *g);
	y = malloc(ny * sizeof *y);
	dx = malloc(nx * sizeof *dx);
	dw = malloc(nw * sizeof *dw);
	fill(x, nx, nx + 3);
	fill(w, nw, nw + 4);
	fill(g, ny, ny + 5);
	fill(y, ny, 7);     /* garbage: every output must be overwritten */
	fill(dx, nx, 8);
	fill(dw, nw, 9);
	if (via_conv ? mli_conv_forward(kern, pool, &ws, &s, x, w, y) != 0 ||
		       mli_conv_backward_data(kern, pool, &ws, &s, g, w, dx) != 0 ||
		       mli_conv_backward_weights(kern, pool, &ws, &s, x, g, dw) != 0 :
		       mli_winograd_forward(kern, pool, &ws, &s, x, w, y) != 0 ||
		       mli_winograd_backward_data(kern, pool, &ws, &s, g, w, dx) != 0 ||
		       mli_winograd_backward_weights(kern, pool, &ws, &s, x, g, dw) != 0) {
		printf("# a pass failed\n");
		ok = 0;
		goto out;
	}
	for (size_t i = 0; i < ny && ok; i += ny > 400 ? ny / 397 : 1) {
		size_t o = i % s.k, px = i / s.k, ox = px % s.w, oy = px / s.w % s.h, b = px / s.w / s.h;
		double want, phi, tol;
		direct_out(x, w, &s, 0, b, oy, ox, o, &want, &phi);
		tol = gamma_of(s.c + 11) * phi;
		*worst = fmax(*worst, fabs(y[i] - want) / tol);
		if (fabs(y[i] - want) > tol) {
			printf("# %s: y[%zu] = %.9g, want %.9g (bound %.3g)\n", kern->name, i, y[i], want, tol);
			ok = 0;
		}
	}
	for (size_t i = 0; i < nx && ok; i += nx > 400 ? nx / 397 : 1) {
		size_t ci = i % s.c, px = i / s.c, ix = px % s.w, iy = px / s.w % s.h, b = px / s.w / s.h;
		double want, phi, tol;
		direct_out(g, w, &s, 1, b, iy, ix, ci, &want, &phi);
		tol = gamma_of(s.k + 11) * phi;
		*worst = fmax(*worst, fabs(dx[i] - want) / tol);
		if (fabs(dx[i] - want) > tol) {
			printf("# %s: dx[%zu] = %.9g, want %.9g (bound %.3g)\n", kern->name, i, dx[i], want, tol);
			ok = 0;
		}
	}
	for (size_t i = 0; i < nw && ok; i += nw > 200 ? nw / 199 : 1) {
		size_t o = i % s.k, ci = i / s.k % s.c, uv = i / s.k / s.c;
		double want, phi, tol;
		direct_dw(x, g, &s, (int)(uv / 3), (int)(uv % 3), ci, o, &want, &phi);
		tol = gamma_of(tiles + 9) * phi;
		*worst = fmax(*worst, fabs(dw[i] - want) / tol);
		if (fabs(dw[i] - want) > tol) {
			printf("# %s: dw[%zu] = %.9g, want %.9g (bound %.3g)\n", kern->name, i, dw[i], want, tol);
			ok = 0;
		}
	}
out:
	mli_buffer_free(&ws);
	free(x), free(w), free(g), free(y), free(dx), free(dw);
	return ok;
}

/* n, h, w, c, k: partial tiles on odd sizes; channels that are not
 * multiples of 4, 8 or 16 (the vector tails). */
static const size_t shapes[][5] = {
	{ 2, 1, 1, 5, 3 },
	{ 1, 2, 3, 7, 9 },
	{ 2, 5, 7, 19, 17 },
	{ 1, 14, 14, 33, 20 },
	{ 3, 7, 7, 24, 40 },
	{ 2, 6, 9, 48, 35 },
};

static void test_winograd_matches_the_direct_convolution(struct tap *tap)
{
	const struct mli_kernels *kern = mli_kernels_select();
	struct mli_pool *pool;
	double worst = 0;

	ASSERT_EQ(mli_pool_create(&pool, 2), 0);
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
		if (!check_shape(kern, pool, shapes[i], 0, &worst)) {
			mli_pool_destroy(pool);
			TAP_FAIL("table %s, shape %zu", kern->name, i);
		}
	mli_pool_destroy(pool);
	printf("# %s: largest error / bound %.3f\n", kern->name, worst);
}

/* conv.c's dispatch: shapes it sends to Winograd (64 channels or more
 * and n h w c k >= 2^26; backward-weights in groups, then in shared
 * chunks), through mli_conv_*, within the same bound. The reference
 * table keeps the direct convolution: nothing to check there. */
static void test_conv_dispatch_matches_the_direct_convolution(struct tap *tap)
{
	static const size_t big[][5] = { { 8, 32, 32, 64, 128 }, { 4, 16, 16, 256, 256 } };
	const struct mli_kernels *kern = mli_kernels_select();
	struct mli_pool *pool;
	double worst = 0;

	if (strcmp(kern->name, "ref") == 0)
		return;
	ASSERT_EQ(mli_pool_create(&pool, 2), 0);
	for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
		if (!check_shape(kern, pool, big[i], 1, &worst)) {
			mli_pool_destroy(pool);
			TAP_FAIL("table %s, shape %zu", kern->name, i);
		}
	mli_pool_destroy(pool);
	printf("# %s: largest error / bound %.3f\n", kern->name, worst);
}

/* Shapes of several chunks in every pass, at 1, 2 and 3 threads, which
 * must agree bit for bit: c = k = 256 on 12 images of 14 x 13 (588
 * tiles; forward and backward-data take 56 per thread at a time on
 * AVX-512, backward-weights shared chunks of 482), and c = k = 64 on
 * 12 images of 28 x 27 (2352 tiles; backward-weights in 8 groups of 3
 * chunks). */
static void check_thread_counts(struct tap *tap, size_t n, size_t h, size_t w_, size_t ch)
{
	const struct mli_kernels *kern = mli_kernels_select();
	struct mli_conv_shape s;
	size_t nx, nw, ny;
	float *x, *w, *g, *out[3][3];

	ASSERT_EQ(mli_conv_shape_init(&s, n, h, w_, ch, 3, 3, ch, 1), 0);
	nx = s.n * s.h * s.w * s.c;
	nw = 9 * s.c * s.k;
	ny = s.n * s.h * s.w * s.k;
	x = malloc(nx * sizeof *x);
	w = malloc(nw * sizeof *w);
	g = malloc(ny * sizeof *g);
	fill(x, nx, 1);
	fill(w, nw, 2);
	fill(g, ny, 3);
	for (int t = 0; t < 3; t++) {
		struct mli_pool *pool;
		struct mli_buffer ws = { 0 };
		ASSERT_EQ(mli_pool_create(&pool, t + 1), 0);
		out[t][0] = malloc(ny * sizeof(float));
		out[t][1] = malloc(nx * sizeof(float));
		out[t][2] = malloc(nw * sizeof(float));
		ASSERT_EQ(mli_winograd_forward(kern, pool, &ws, &s, x, w, out[t][0]), 0);
		ASSERT_EQ(mli_winograd_backward_data(kern, pool, &ws, &s, g, w, out[t][1]), 0);
		ASSERT_EQ(mli_winograd_backward_weights(kern, pool, NULL, &s, x, g, out[t][2]), 0);
		mli_buffer_free(&ws);
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
	free(x), free(w), free(g);
}

static void test_winograd_is_bit_identical_across_thread_counts(struct tap *tap)
{
	check_thread_counts(tap, 12, 14, 13, 256);
	if (tap->current_failed)
		return;
	check_thread_counts(tap, 12, 28, 27, 64);
}

/* Each pass grows ws to what mli_winograd_ws_bytes says (rounded up to
 * pages by mli_buffer_reserve), and no further on a second call. */
static void test_work_space_is_as_stated(struct tap *tap)
{
	const struct mli_kernels *kern = mli_kernels_select();
	static const size_t dims[][2] = { { 64, 128 }, { 256, 256 } };
	struct mli_pool *pool;

	ASSERT_EQ(mli_pool_create(&pool, 2), 0);
	for (size_t d = 0; d < 2; d++) {
		struct mli_conv_shape s;
		size_t c = dims[d][0], k = dims[d][1];
		ASSERT_EQ(mli_conv_shape_init(&s, 2, 9, 8, c, 3, 3, k, 1), 0);
		size_t nx = s.n * s.h * s.w * c, ny = s.n * s.h * s.w * k;
		float *x = calloc(nx, sizeof *x), *y = calloc(ny, sizeof *y);
		float *w = calloc(9 * c * k, sizeof *w);
		for (int pass = 0; pass < 3; pass++) {
			struct mli_buffer ws = { 0 };
			size_t want = (mli_winograd_ws_bytes(kern, &s, pass) + 4095) & ~(size_t)4095;
			for (int twice = 0; twice < 2; twice++) {
				int rc = pass == 0 ? mli_winograd_forward(kern, pool, &ws, &s, x, w, y) :
					 pass == 1 ? mli_winograd_backward_data(kern, pool, &ws, &s, y, w, x) :
						     mli_winograd_backward_weights(kern, pool, &ws, &s, x, y, w);
				if (rc != 0 || ws.bytes != want) {
					printf("# c %zu k %zu pass %d: rc %d, ws %zu bytes, said %zu\n", c, k,
					       pass, rc, ws.bytes, want);
					tap->current_failed = 1;
				}
			}
			mli_buffer_free(&ws);
		}
		free(x), free(y), free(w);
	}
	mli_pool_destroy(pool);
}

static void test_winograd_refuses_other_shapes(struct tap *tap)
{
	const struct mli_kernels *kern = mli_kernels_select();
	struct mli_conv_shape s;
	float buf[4 * 9 * 4] = { 0 };
	struct mli_pool *pool;

	ASSERT_EQ(mli_pool_create(&pool, 1), 0);
	ASSERT_EQ(mli_conv_shape_init(&s, 1, 4, 4, 2, 3, 3, 2, 2), 0);
	ASSERT(!mli_winograd_covers(&s));
	ASSERT_EQ(mli_winograd_forward(kern, pool, NULL, &s, buf, buf, buf), MLI_EINVAL);
	ASSERT_EQ(mli_conv_shape_init(&s, 1, 4, 4, 2, 1, 1, 2, 1), 0);
	ASSERT(!mli_winograd_covers(&s));
	ASSERT_EQ(mli_conv_shape_init(&s, 1, 4, 4, 2, 3, 3, 2, 1), 0);
	ASSERT(mli_winograd_covers(&s));
	mli_pool_destroy(pool);
}

int main(void)
{
	struct tap t = { 0, 0, 0 }, *tap = &t;
	struct tables tb = TABLES_INIT;

	RUN(test_winograd_refuses_other_shapes);
	for (size_t i = 0; i < TABLES; i++)
		if (tables_use(&tb, i)) {
			RUN(test_winograd_matches_the_direct_convolution);
			RUN(test_winograd_is_bit_identical_across_thread_counts);
			RUN(test_conv_dispatch_matches_the_direct_convolution);
			RUN(test_work_space_is_as_stated);
		}
	/* The reference table's transforms, which conv.c never dispatches
	 * to but which are the portable build's. */
	if (!tb.fixed) {
		setenv("MLI_KERNELS", "ref", 1);
		printf("# table ref (transforms)\n");
		RUN(test_winograd_matches_the_direct_convolution);
	}
	return tap_done(tap);
}
