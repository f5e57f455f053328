/* conv.c: convolutions as implicit GEMMs, threaded over a pool (see
 * conv.h for the layouts and the method chosen per shape). */
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "error.h"
#include "gemm.h"
#include "winograd.h"

/* Column-buffer budget per chunk of the GEMM + col2im path, in floats
 * (16 MiB): whole images are taken while they fit, so a chunk's columns
 * stay in a shared L3 (4 MiB measured slower, 0.5-0.6 of OpenBLAS
 * against 0.7-0.8, when the stride-2 3x3 layers still came this way). */
#define COL_BUDGET ((size_t)4 << 20)

int mli_buffer_reserve(struct mli_buffer *b, size_t bytes)
{
	void *p = NULL;

	if (bytes <= b->bytes)
		return 0;
	bytes = (bytes + 4095) & ~(size_t)4095;
	if (posix_memalign(&p, 64, bytes) != 0)
		return MLI_ENOMEM;
	free(b->p);
	b->p = p;
	b->bytes = bytes;
	return 0;
}

void mli_buffer_free(struct mli_buffer *b)
{
	free(b->p);
	b->p = NULL;
	b->bytes = 0;
}

int mli_conv_shape_init(struct mli_conv_shape *s, size_t n, size_t h, size_t w, size_t c,
			size_t kh, size_t kw, size_t k, size_t stride)
{
	if (!n || !h || !w || !c || !kh || !kw || !k || !stride || !(kh & 1) || !(kw & 1))
		return MLI_EINVAL;
	*s = (struct mli_conv_shape){
		.n = n, .h = h, .w = w, .c = c, .kh = kh, .kw = kw, .k = k, .stride = stride,
		.pad_top = (kh - 1) / 2, .pad_left = (kw - 1) / 2,
		.oh = (h - 1) / stride + 1, .ow = (w - 1) / stride + 1,
	};
	return 0;
}

int mli_conv_shape_check(const struct mli_conv_shape *s)
{
	if (!s->n || !s->h || !s->w || !s->c || !s->kh || !s->kw || !s->k || !s->stride ||
	    !s->oh || !s->ow)
		return MLI_EINVAL;
	if (s->pad_top >= s->kh || s->pad_left >= s->kw)
		return MLI_EINVAL;
	/* The last window must start inside the image. */
	if ((s->oh - 1) * s->stride >= s->h + s->pad_top || (s->ow - 1) * s->stride >= s->w + s->pad_left)
		return MLI_EINVAL;
	return 0;
}

/* Whether s goes to Winograd F(2x2, 3x3): never with the reference
 * table (the direct convolution is the tests' oracle) or a table
 * without the transforms; otherwise as MLI_WINOGRAD says (conv.h), by
 * default where it measured faster, the same for the three passes:
 * 64 channels or more each side and at least 2^26 of n * h * w * c * k
 * (ResNet's 3x3 layers at batch 32 have 2^28.6). */
static int winograd_pays(const struct mli_kernels *kern, const struct mli_conv_shape *s)
{
	const char *want = getenv("MLI_WINOGRAD");

	if (!kern->wino_in || strcmp(kern->name, "ref") == 0 || !mli_winograd_covers(s))
		return 0;
	if (want && strcmp(want, "on") == 0)
		return 1;
	if (want && strcmp(want, "off") == 0)
		return 0;
	return s->c >= 64 && s->k >= 64 &&
	       (double)s->n * (double)(s->h * s->w) * (double)(s->c * s->k) >= 67108864.0;
}

static int is_pointwise(const struct mli_conv_shape *s)
{
	return s->kh == 1 && s->kw == 1 && s->stride == 1 && s->pad_top == 0 && s->pad_left == 0 &&
	       s->oh == s->h && s->ow == s->w;
}

/* Images per chunk and the column buffer that needs, in floats. */
static size_t chunk_images(const struct mli_conv_shape *s)
{
	size_t per = s->oh * s->ow * s->kh * s->kw * s->c, g = COL_BUDGET / per;
	return g < 1 ? 1 : g > s->n ? s->n : g;
}

struct col_job {
	const struct mli_conv_shape *s;
	const float *col;   /* (rows, kh*kw*c) for images [n0, n1) */
	float *dx;          /* (n, h, w, c): col2im's output */
	size_t n0, n1;
};

/* Writes entries [q0, q1) of row `pixel` (over the whole batch) of the
 * im2col matrix, whose entry (u*kw + v)*c + ci is x at the pixel's
 * window position (u, v), channel ci, or zero in the padding. In NHWC
 * the channels of neighbouring v are neighbours in x, so a run goes on
 * across v for as long as the window row stays inside the image: the
 * 7x7 stem copies runs of 21 floats, not 3. */
static void fill_col_row(const struct mli_conv_shape *s, const float *x, size_t pixel, size_t q0,
			 size_t q1, float *dst)
{
	size_t plane = s->oh * s->ow, img = pixel / plane, oy = pixel % plane / s->ow;
	size_t ox = pixel % s->ow, wrow = s->kw * s->c;

	for (size_t q = q0; q < q1;) {
		size_t u = q / wrow, rem = q % wrow, v = rem / s->c, ci = rem % s->c;
		size_t iy = oy * s->stride + u, ix = ox * s->stride + v, run;
		if (iy < s->pad_top || iy - s->pad_top >= s->h) {
			run = wrow - rem;
		} else if (ix < s->pad_left || ix - s->pad_left >= s->w) {
			run = s->c - ci;
		} else {
			size_t inside = (s->w - (ix - s->pad_left)) * s->c - ci;
			run = wrow - rem < inside ? wrow - rem : inside;
			if (run > q1 - q)
				run = q1 - q;
			memcpy(dst, x + ((img * s->h + iy - s->pad_top) * s->w + ix - s->pad_left) * s->c + ci,
			       run * sizeof *dst);
			dst += run;
			q += run;
			continue;
		}
		if (run > q1 - q)
			run = q1 - q;
		memset(dst, 0, run * sizeof *dst);
		dst += run;
		q += run;
	}
}

struct load_ctx {
	const struct mli_conv_shape *s;
	const float *x;     /* (n, h, w, c) */
};

/* Forward: op(A) is the im2col matrix, rows are output pixels. */
static void load_cols(void *ctx, size_t i0, size_t mc, size_t p0, size_t kc, float *dst,
		      size_t *rs, size_t *cs)
{
	const struct load_ctx *l = ctx;

	/* Rows kc + 16 floats apart, not kc: at kc 512 (2 KiB) the 14 rows
	 * an AVX-512 micro-kernel reads at once fell into two L1 sets, more
	 * lines than a set holds. */
	for (size_t i = 0; i < mc; i++)
		fill_col_row(l->s, l->x, i0 + i, p0, p0 + kc, dst + i * (kc + 16));
	*rs = kc + 16;
	*cs = 1;
}

/* Backward-weights: op(A) is the transposed im2col matrix; the block is
 * stored as the kc pixel rows it reads, each mc entries long. */
static void load_cols_t(void *ctx, size_t i0, size_t mc, size_t p0, size_t kc, float *dst,
			size_t *rs, size_t *cs)
{
	const struct load_ctx *l = ctx;

	for (size_t p = 0; p < kc; p++)
		fill_col_row(l->s, l->x, p0 + p, i0, i0 + mc, dst + p * mc);
	*rs = 1;
	*cs = mc;
}

/* Four floats for the adds of col2im: conv.c is built without the
 * instruction-set flags, and at -O2 the compiler leaves the loop scalar. */
typedef float f4 __attribute__((vector_size(16)));

/* dst[q] += src[q] for q < n. */
static void add_run(float *restrict dst, const float *restrict src, size_t n)
{
	size_t q = 0;

	for (; q + 4 <= n; q += 4) {
		f4 a, b;
		memcpy(&a, dst + q, sizeof a);
		memcpy(&b, src + q, sizeof b);
		a += b;
		memcpy(dst + q, &a, sizeof a);
	}
	for (; q < n; q++)
		dst[q] += src[q];
}

/* col2im by gathering: input row (img, iy) of dx, every column, sums the
 * column entries that read it, by kernel row u and then output column
 * ox. In NHWC the entries of one (output pixel, u) for v = 0 .. kw - 1
 * are kw * c consecutive floats, and so are the dx pixels they land on
 * (a window row): each is one run of adds (the stem's 21 floats), not
 * kw * kh scalar adds per pixel with an index test each, which made the
 * stem's backward-data 0.5x OpenBLAS's GEMM alone. Each row is written
 * by one thread in a fixed order: no races, the same sums at any
 * thread count. */
static void col2im_row(const struct col_job *j, size_t img, size_t iy)
{
	const struct mli_conv_shape *s = j->s;
	size_t kdim = s->kh * s->kw * s->c, st = s->stride;
	float *out = j->dx + (img * s->h + iy) * s->w * s->c;

	memset(out, 0, s->w * s->c * sizeof *out);
	for (size_t u = 0; u < s->kh; u++) {
		size_t ty = iy + s->pad_top, oy;
		if (ty < u || (ty - u) % st)
			continue;
		oy = (ty - u) / st;
		if (oy >= s->oh)
			continue;
		const float *row = j->col + ((img - j->n0) * s->oh + oy) * s->ow * kdim +
				   u * s->kw * s->c;
		for (size_t ox = 0; ox < s->ow; ox++) {
			/* The window row covers columns ox * st - pad_left + v. */
			size_t left = ox * st, v0 = left < s->pad_left ? s->pad_left - left : 0;
			size_t v1 = s->kw;
			if (left + v1 > s->pad_left + s->w)
				v1 = s->pad_left + s->w - left;
			if (v0 >= v1)
				continue;
			add_run(out + (left + v0 - s->pad_left) * s->c, row + ox * kdim + v0 * s->c,
				(v1 - v0) * s->c);
		}
	}
}

static void col2im_task(void *arg, int i, int n)
{
	const struct col_job *j = arg;
	size_t b, e, rows = (j->n1 - j->n0) * j->s->h;

	mli_pool_split(rows, 1, i, n, &b, &e);
	for (size_t r = b; r < e; r++)
		col2im_row(j, j->n0 + r / j->s->h, r % j->s->h);
}

/* Sets *p to `bytes` of work space from ws, or from own (which the
 * caller frees) when ws is NULL. */
static int get_buffer(struct mli_buffer *ws, struct mli_buffer *own, size_t bytes, float **p)
{
	struct mli_buffer *b = ws ? ws : own;
	int rc = mli_buffer_reserve(b, bytes);

	*p = b->p;
	return rc;
}

/* A column buffer for chunks of g images. */
static int get_col(struct mli_buffer *ws, struct mli_buffer *own, const struct mli_conv_shape *s,
		   size_t g, float **col)
{
	return get_buffer(ws, own, g * s->oh * s->ow * s->kh * s->kw * s->c * sizeof(float), col);
}

int mli_conv_forward(const struct mli_kernels *kern, struct mli_pool *pool,
		     struct mli_buffer *ws, const struct mli_conv_shape *s,
		     const float *x, const float *wt, float *y)
{
	struct load_ctx l = { s, x };
	struct mli_sgemm_a_loader ld = { load_cols, &l };
	int rc;

	if ((rc = mli_conv_shape_check(s)) < 0)
		return rc;
	if (winograd_pays(kern, s))
		return mli_winograd_forward(kern, pool, ws, s, x, wt, y);
	if (is_pointwise(s))
		return mli_sgemm(kern, pool, 0, 0, s->n * s->h * s->w, s->k, s->c, 1.0f, x, s->c,
				 wt, s->k, 0.0f, y, s->k);
	/* y (n*oh*ow, k) = cols (n*oh*ow, kh*kw*c) x wt (kh*kw*c, k), the
	 * columns made block by block in L2 (implicit GEMM). */
	return mli_sgemm_loaded(kern, pool, &ld, 0, s->n * s->oh * s->ow, s->k,
				s->kh * s->kw * s->c, wt, s->k, 0.0f, y, s->k);
}

/* The taps of the phase py of a stride-s convolution along one axis:
 * the input rows iy = s*jy + py are read by the kernel rows
 * u = u0 + s*t (t < *taps), at output rows oy = jy + *d - t. */
static void phase_taps(size_t py, size_t pad, size_t k, size_t s, size_t *u0, size_t *taps,
		       size_t *d)
{
	*u0 = (py + pad) % s;
	*taps = *u0 < k ? (k - *u0 + s - 1) / s : 0;
	*d = (py + pad - *u0) / s;
}

struct scatter_job {
	const struct mli_conv_shape *s;
	const float *src;   /* (n, jh, jw, c) one phase of dx */
	float *dx;          /* (n, h, w, c) */
	size_t py, px, jh, jw;
	int zero;           /* the phase gets nothing: write zeros */
};

static void scatter_task(void *arg, int i, int n)
{
	const struct scatter_job *j = arg;
	const struct mli_conv_shape *s = j->s;
	size_t b, e;

	mli_pool_split(s->n * j->jh, 1, i, n, &b, &e);
	for (size_t r = b; r < e; r++) {
		size_t img = r / j->jh, jy = r % j->jh;
		float *row = j->dx + (img * s->h + jy * s->stride + j->py) * s->w * s->c;
		for (size_t jx = 0; jx < j->jw; jx++) {
			float *o = row + (jx * s->stride + j->px) * s->c;
			if (j->zero)
				memset(o, 0, s->c * sizeof *o);
			else
				memcpy(o, j->src + (r * j->jw + jx) * s->c, s->c * sizeof *o);
		}
	}
}

struct flip_job {
	const struct mli_conv_shape *s;
	const float *wt;    /* (kh, kw, c, k) */
	float *flip;        /* (ty, tx, k, c) */
	size_t uy, ux, ty, tx;
};

/* Transposes the taps of one phase in 32 x 32 tiles (a plain loop
 * writes with a stride of c floats, a new page every few stores: the
 * 2048 x 1024 taps of stage 4 took longer than their GEMM's last 10%),
 * the (tap, tile row) pairs split over the threads. */
static void flip_task(void *arg, int i, int n)
{
	const struct flip_job *f = arg;
	const struct mli_conv_shape *s = f->s;
	size_t rows = (s->c + 31) / 32, b, e;

	mli_pool_split(f->ty * f->tx * rows, 1, i, n, &b, &e);
	for (size_t r = b; r < e; r++) {
		size_t tap = r / rows, ta = tap / f->tx, tb = tap % f->tx;
		size_t u = f->uy + s->stride * (f->ty - 1 - ta), v = f->ux + s->stride * (f->tx - 1 - tb);
		const float *src = f->wt + (u * s->kw + v) * s->c * s->k;
		float *dst = f->flip + tap * s->k * s->c;
		size_t c0 = r % rows * 32, c1 = c0 + 32 < s->c ? c0 + 32 : s->c;
		for (size_t o0 = 0; o0 < s->k; o0 += 32) {
			size_t o1 = o0 + 32 < s->k ? o0 + 32 : s->k;
			for (size_t o = o0; o < o1; o++)
				for (size_t ci = c0; ci < c1; ci++)
					dst[o * s->c + ci] = src[ci * s->k + o];
		}
	}
}

/* Backward-data as forward convolutions, one per phase (sub-pixel
 * decomposition): the input pixels (s*jy + py, s*jx + px) of one phase
 * receive exactly the kernel taps u = (py + pad_top) mod s + s*t, and
 * as a function of dy that is a stride-1 convolution with those taps
 * turned by 180 degrees, channels swapped, padded by (taps - 1 - d).
 * At stride 1 there is one phase, written straight into dx; at stride 2
 * four, each written to a buffer and scattered. Each runs as the forward
 * implicit GEMM: the column matrix of GEMM + col2im never goes through
 * memory, which measured 1.05-1.6x faster on the 3x3 layers (one
 * thread; the gain is largest at 56x56 and 112x112). The
 * phases' GEMMs are c wide, so with few input channels (the stem's 3)
 * micro-tiles would be mostly empty: GEMM + col2im does those (2x
 * faster on the stem). Returns 1, having done nothing, for a shape it
 * does not cover (those, or negative padding in a phase), else 0 or a
 * negative error code. */
static int backward_data_by_phases(const struct mli_kernels *kern, struct mli_pool *pool,
				   struct mli_buffer *ws, const struct mli_conv_shape *s,
				   const float *dy, const float *wt, float *dx)
{
	struct mli_buffer own = { 0 };
	size_t st = s->stride, jhmax = (s->h + st - 1) / st, jwmax = (s->w + st - 1) / st;
	size_t tmp_floats = st == 1 ? 0 : s->n * jhmax * jwmax * s->c;
	float *buf, *flip, *tmp;
	int rc;

	if (s->c < 16)
		return 1;
	/* Every phase must be a valid forward convolution. */
	for (size_t py = 0; py < st && py < s->h; py++)
		for (size_t px = 0; px < st && px < s->w; px++) {
			size_t uy, ty, dyo, ux, tx, dxo;
			phase_taps(py, s->pad_top, s->kh, st, &uy, &ty, &dyo);
			phase_taps(px, s->pad_left, s->kw, st, &ux, &tx, &dxo);
			if (!ty || !tx)
				continue;
			if (ty - 1 < dyo || tx - 1 < dxo)
				return 1;
			struct mli_conv_shape t = {
				.n = s->n, .h = s->oh, .w = s->ow, .c = s->k, .kh = ty, .kw = tx, .k = s->c,
				.stride = 1, .pad_top = ty - 1 - dyo, .pad_left = tx - 1 - dxo,
				.oh = (s->h - py + st - 1) / st, .ow = (s->w - px + st - 1) / st,
			};
			if (mli_conv_shape_check(&t) < 0)
				return 1;
		}
	if ((rc = get_buffer(ws, &own, (tmp_floats + s->kh * s->kw * s->c * s->k) * sizeof(float),
			     &buf)) < 0)
		return rc;
	tmp = buf;
	flip = buf + tmp_floats;
	for (size_t py = 0; py < st && py < s->h && rc == 0; py++)
		for (size_t px = 0; px < st && px < s->w && rc == 0; px++) {
			size_t uy, ty, dyo, ux, tx, dxo;
			struct scatter_job sj = { .s = s, .src = tmp, .dx = dx, .py = py, .px = px,
						  .jh = (s->h - py + st - 1) / st,
						  .jw = (s->w - px + st - 1) / st };
			phase_taps(py, s->pad_top, s->kh, st, &uy, &ty, &dyo);
			phase_taps(px, s->pad_left, s->kw, st, &ux, &tx, &dxo);
			if (!ty || !tx) {
				sj.zero = 1;
				mli_pool_run(pool, scatter_task, &sj);
				continue;
			}
			struct mli_conv_shape t = {
				.n = s->n, .h = s->oh, .w = s->ow, .c = s->k, .kh = ty, .kw = tx, .k = s->c,
				.stride = 1, .pad_top = ty - 1 - dyo, .pad_left = tx - 1 - dxo,
				.oh = sj.jh, .ow = sj.jw,
			};
			/* flip (ty, tx, k, c): tap (a, b) is wt's (uy + st*(ty-1-a),
			 * ux + st*(tx-1-b)), transposed from (c, k). */
			struct flip_job fj = { .s = s, .wt = wt, .flip = flip, .uy = uy, .ux = ux,
					       .ty = ty, .tx = tx };
			mli_pool_run(pool, flip_task, &fj);
			rc = mli_conv_forward(kern, pool, NULL, &t, dy, flip, st == 1 ? dx : tmp);
			if (rc == 0 && st > 1)
				mli_pool_run(pool, scatter_task, &sj);
		}
	mli_buffer_free(&own);
	return rc;
}

int mli_conv_backward_data(const struct mli_kernels *kern, struct mli_pool *pool,
			   struct mli_buffer *ws, const struct mli_conv_shape *s,
			   const float *dy, const float *wt, float *dx)
{
	struct mli_buffer own = { 0 };
	size_t kdim = s->kh * s->kw * s->c, g;
	float *col;
	int rc;

	if ((rc = mli_conv_shape_check(s)) < 0)
		return rc;
	/* dx (n*h*w, c) = dy (n*h*w, k) x wt^T (k, c). */
	if (is_pointwise(s))
		return mli_sgemm(kern, pool, 0, 1, s->n * s->h * s->w, s->c, s->k, 1.0f, dy, s->k,
				 wt, s->k, 0.0f, dx, s->c);
	if (winograd_pays(kern, s))
		return mli_winograd_backward_data(kern, pool, ws, s, dy, wt, dx);
	if ((rc = backward_data_by_phases(kern, pool, ws, s, dy, wt, dx)) != 1)
		return rc;
	g = chunk_images(s);
	if ((rc = get_col(ws, &own, s, g, &col)) < 0)
		goto out;
	for (size_t n0 = 0; n0 < s->n; n0 += g) {
		size_t n1 = n0 + g < s->n ? n0 + g : s->n, rows = (n1 - n0) * s->oh * s->ow;
		struct col_job j = { .s = s, .col = col, .dx = dx, .n0 = n0, .n1 = n1 };
		/* col (rows, kh*kw*c) = dy (rows, k) x wt^T (k, kh*kw*c). */
		rc = mli_sgemm(kern, pool, 0, 1, rows, kdim, s->k, 1.0f,
			       dy + n0 * s->oh * s->ow * s->k, s->k, wt, s->k, 0.0f, col, kdim);
		if (rc < 0)
			goto out;
		mli_pool_run(pool, col2im_task, &j);
	}
out:
	mli_buffer_free(&own);
	return rc;
}

int mli_conv_backward_weights(const struct mli_kernels *kern, struct mli_pool *pool,
			      struct mli_buffer *ws, const struct mli_conv_shape *s,
			      const float *x, const float *dy, float *dwt)
{
	struct load_ctx l = { s, x };
	struct mli_sgemm_a_loader ld = { load_cols_t, &l };
	int rc;

	if ((rc = mli_conv_shape_check(s)) < 0)
		return rc;
	if (winograd_pays(kern, s))
		return mli_winograd_backward_weights(kern, pool, ws, s, x, dy, dwt);
	/* dwt (c, k) = x^T (c, n*h*w) x dy (n*h*w, k). */
	if (is_pointwise(s))
		return mli_sgemm(kern, pool, 1, 0, s->c, s->k, s->n * s->h * s->w, 1.0f, x, s->c,
				 dy, s->k, 0.0f, dwt, s->k);
	/* dwt (kh*kw*c, k) = cols^T (kh*kw*c, n*oh*ow) x dy (n*oh*ow, k),
	 * the columns made block by block (implicit GEMM). */
	return mli_sgemm_loaded(kern, pool, &ld, 0, s->kh * s->kw * s->c, s->k,
				s->n * s->oh * s->ow, dy, s->k, 0.0f, dwt, s->k);
}
