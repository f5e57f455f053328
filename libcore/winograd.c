/* winograd.c: the F(2x2, 3x3) convolutions (see winograd.h): the
 * kernel table's transforms over chunks of tiles, split over the pool,
 * and 16 GEMMs per chunk. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gemm.h"
#include "winograd.h"

/* Bytes of transformed tiles per chunk (V and M together) for the
 * forward and backward-data passes, and for backward-weights, whose
 * GEMMs sum over the chunk's tiles and so gain from longer sums (each
 * chunk reads and writes all of dU once more). */
#define CHUNK_BYTES ((size_t)8 << 20)
#define CHUNK_BYTES_BWD_WEIGHTS ((size_t)16 << 20)
/* At least this many tiles per chunk, so that each GEMM's packing of
 * its c x k operand is spread over enough rows. */
#define CHUNK_MIN_TILES 128

int mli_winograd_covers(const struct mli_conv_shape *s)
{
	return s->kh == 3 && s->kw == 3 && s->stride == 1 && s->pad_top == 1 && s->pad_left == 1 &&
	       s->oh == s->h && s->ow == s->w;
}

static size_t round16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

/* Floats from one tile's row of a transformed matrix to the next: 16
 * more than the channels rounded up, so that the 14 rows an AVX-512
 * micro-kernel reads at once do not all fall into the same L1 sets when
 * the channels are a multiple of 256 (as gemm.c's loaded blocks). */
static size_t row_floats(size_t ch)
{
	return round16(ch) + 16;
}

static size_t tile_count(const struct mli_conv_shape *s)
{
	return s->n * ((s->h + 1) / 2) * ((s->w + 1) / 2);
}

/* Tiles per chunk: a pure function of the shape and the pass. */
static size_t chunk_tiles(const struct mli_conv_shape *s, int pass)
{
	size_t budget = pass == 2 ? CHUNK_BYTES_BWD_WEIGHTS : CHUNK_BYTES;
	size_t t = budget / (16 * (s->c + s->k) * sizeof(float)), all = tile_count(s);

	if (t < CHUNK_MIN_TILES)
		t = CHUNK_MIN_TILES;
	return t < all ? t : all;
}

size_t mli_winograd_ws_bytes(const struct mli_conv_shape *s, int pass)
{
	size_t t = chunk_tiles(s, pass);

	return (16 * s->c * s->k + round16(s->c > s->k ? s->c : s->k) +
		16 * t * row_floats(s->c) + 16 * t * row_floats(s->k)) * sizeof(float);
}

/* The work space's parts: U or dU (16, c, k); zeros; a chunk's
 * transformed inputs (16, T, cin) and products (16, T, cout), each
 * element xi's matrix ld floats after the last. */
struct parts {
	float *u, *zero, *v, *m;
	size_t t, ldv, ldm;
};

static int get_parts(struct mli_buffer *ws, struct mli_buffer *own,
		     const struct mli_conv_shape *s, int pass, size_t cin, size_t cout,
		     struct parts *p)
{
	struct mli_buffer *b = ws ? ws : own;
	size_t zero = round16(s->c > s->k ? s->c : s->k);
	int rc;

	if ((rc = mli_buffer_reserve(b, mli_winograd_ws_bytes(s, pass))) < 0)
		return rc;
	p->t = chunk_tiles(s, pass);
	p->u = b->p;
	p->zero = p->u + 16 * s->c * s->k;
	p->v = p->zero + zero;
	p->ldv = p->t * row_floats(cin);
	p->m = p->v + 16 * p->ldv;
	p->ldm = p->t * row_floats(cout);
	memset(p->zero, 0, zero * sizeof(float));
	return 0;
}

/* One transform over tiles [t0, t1) split over the pool, or the filter
 * transforms over input channels. */
enum tx { TX_IN, TX_OUT, TX_DY, TX_FILTER, TX_FILTER_GRAD };

struct tx_job {
	const struct mli_kernels *kern;
	enum tx op;
	const float *src;   /* x, dy or wt, or the chunk's M or dU */
	float *dst;         /* the chunk's V or dM, or y, or U or dwt */
	const float *zero;
	size_t h, w, ch;    /* the batch's geometry; ch its channels */
	size_t t0, t1;      /* the chunk's tiles */
	size_t ld;          /* floats from one element xi to the next */
	size_t stride;      /* floats from one tile of the chunk to the next */
	size_t c, k;        /* the filter's channels (TX_FILTER*) */
};

static void tx_task(void *arg, int i, int n)
{
	const struct tx_job *j = arg;
	const struct mli_kernels *kern = j->kern;
	size_t b, e;

	if (j->op == TX_FILTER || j->op == TX_FILTER_GRAD) {
		mli_pool_split(j->c, 1, i, n, &b, &e);
		if (b >= e)
			return;
		if (j->op == TX_FILTER)
			kern->wino_filter(j->src, j->c, j->k, b, e, j->dst);
		else
			kern->wino_filter_grad(j->src, j->c, j->k, b, e, j->dst);
		return;
	}
	mli_pool_split(j->t1 - j->t0, 1, i, n, &b, &e);
	if (b >= e)
		return;
	switch (j->op) {
	case TX_IN:
		kern->wino_in(j->src, j->h, j->w, j->ch, j->t0 + b, j->t0 + e, j->zero,
			      j->dst + b * j->stride, j->ld, j->stride);
		break;
	case TX_DY:
		kern->wino_dy(j->src, j->h, j->w, j->ch, j->t0 + b, j->t0 + e, j->zero,
			      j->dst + b * j->stride, j->ld, j->stride);
		break;
	case TX_OUT:
		kern->wino_out(j->src + b * j->stride, j->ld, j->stride, j->h, j->w, j->ch,
			       j->t0 + b, j->t0 + e, j->dst);
		break;
	default:
		break;
	}
}

/* The filter transform U = G g G^T of wt (3, 3, c, k) into u (16, c, k). */
static void filter_transform(const struct mli_kernels *kern, struct mli_pool *pool,
			     const struct mli_conv_shape *s, const float *wt, float *u)
{
	struct tx_job j = { .kern = kern, .op = TX_FILTER, .src = wt, .dst = u, .c = s->c,
			    .k = s->k };

	mli_pool_run(pool, tx_task, &j);
}

/* y (n, h, w, cout) = the convolution of x (n, h, w, cin) whose
 * transformed filter is u: U[xi] (cin, cout) at u + xi * cin * cout, or,
 * with turned, U[P xi]^T for the U (cout, cin) of the forward filter
 * (backward-data). */
static int wino_conv(const struct mli_kernels *kern, struct mli_pool *pool,
		     const struct mli_conv_shape *s, const struct parts *p, size_t cin,
		     size_t cout, const float *x, int turned, float *y)
{
	/* P: the swap of rows (and columns) 0 and 3. */
	static const unsigned char swap[4] = { 3, 1, 2, 0 };
	size_t all = tile_count(s), cin16 = row_floats(cin), cout16 = row_floats(cout);
	int rc;

	for (size_t t0 = 0; t0 < all; t0 += p->t) {
		size_t t1 = t0 + p->t < all ? t0 + p->t : all, cnt = t1 - t0;
		struct tx_job in = { .kern = kern, .op = TX_IN, .src = x, .dst = p->v,
				     .zero = p->zero, .h = s->h, .w = s->w, .ch = cin, .t0 = t0,
				     .t1 = t1, .ld = p->ldv, .stride = cin16 };
		struct tx_job out = { .kern = kern, .op = TX_OUT, .src = p->m, .dst = y,
				      .h = s->h, .w = s->w, .ch = cout, .t0 = t0, .t1 = t1,
				      .ld = p->ldm, .stride = cout16 };
		mli_pool_run(pool, tx_task, &in);
		for (size_t xi = 0; xi < 16; xi++) {
			const float *v = p->v + xi * p->ldv;
			float *m = p->m + xi * p->ldm;
			if (turned) {
				size_t pxi = 4 * swap[xi / 4] + swap[xi % 4];
				rc = mli_sgemm(kern, pool, 0, 1, cnt, cout, cin, 1.0f, v, cin16,
					       p->u + pxi * cin * cout, cin, 0.0f, m, cout16);
			} else {
				rc = mli_sgemm(kern, pool, 0, 0, cnt, cout, cin, 1.0f, v, cin16,
					       p->u + xi * cin * cout, cout, 0.0f, m, cout16);
			}
			if (rc < 0)
				return rc;
		}
		mli_pool_run(pool, tx_task, &out);
	}
	return 0;
}

int mli_winograd_forward(const struct mli_kernels *kern, struct mli_pool *pool,
			 struct mli_buffer *ws, const struct mli_conv_shape *s,
			 const float *x, const float *wt, float *y)
{
	struct mli_buffer own = { 0 };
	struct parts p;
	int rc;

	if (!pool || mli_conv_shape_check(s) < 0 || !mli_winograd_covers(s))
		return MLI_EINVAL;
	if ((rc = get_parts(ws, &own, s, 0, s->c, s->k, &p)) == 0) {
		filter_transform(kern, pool, s, wt, p.u);
		rc = wino_conv(kern, pool, s, &p, s->c, s->k, x, 0, y);
	}
	mli_buffer_free(&own);
	return rc;
}

int mli_winograd_backward_data(const struct mli_kernels *kern, struct mli_pool *pool,
			       struct mli_buffer *ws, const struct mli_conv_shape *s,
			       const float *dy, const float *wt, float *dx)
{
	struct mli_buffer own = { 0 };
	struct parts p;
	int rc;

	if (!pool || mli_conv_shape_check(s) < 0 || !mli_winograd_covers(s))
		return MLI_EINVAL;
	if ((rc = get_parts(ws, &own, s, 1, s->k, s->c, &p)) == 0) {
		filter_transform(kern, pool, s, wt, p.u);
		rc = wino_conv(kern, pool, s, &p, s->k, s->c, dy, 1, dx);
	}
	mli_buffer_free(&own);
	return rc;
}

int mli_winograd_backward_weights(const struct mli_kernels *kern, struct mli_pool *pool,
				  struct mli_buffer *ws, const struct mli_conv_shape *s,
				  const float *x, const float *dy, float *dwt)
{
	struct mli_buffer own = { 0 };
	struct parts p;
	size_t all = tile_count(s), c16 = row_floats(s->c), k16 = row_floats(s->k);
	int rc;

	if (!pool || mli_conv_shape_check(s) < 0 || !mli_winograd_covers(s))
		return MLI_EINVAL;
	if ((rc = get_parts(ws, &own, s, 2, s->c, s->k, &p)) < 0)
		goto out;
	/* dU[xi] (c, k) = the sum over the chunks, in order, of
	 * V[xi]^T (c, tiles) x dM[xi] (tiles, k). */
	for (size_t t0 = 0; t0 < all; t0 += p.t) {
		size_t t1 = t0 + p.t < all ? t0 + p.t : all, cnt = t1 - t0;
		struct tx_job in = { .kern = kern, .op = TX_IN, .src = x, .dst = p.v,
				     .zero = p.zero, .h = s->h, .w = s->w, .ch = s->c, .t0 = t0,
				     .t1 = t1, .ld = p.ldv, .stride = c16 };
		struct tx_job dm = { .kern = kern, .op = TX_DY, .src = dy, .dst = p.m,
				     .zero = p.zero, .h = s->h, .w = s->w, .ch = s->k, .t0 = t0,
				     .t1 = t1, .ld = p.ldm, .stride = k16 };
		mli_pool_run(pool, tx_task, &in);
		mli_pool_run(pool, tx_task, &dm);
		for (size_t xi = 0; xi < 16; xi++) {
			rc = mli_sgemm(kern, pool, 1, 0, s->c, s->k, cnt, 1.0f, p.v + xi * p.ldv, c16,
				       p.m + xi * p.ldm, k16, t0 ? 1.0f : 0.0f,
				       p.u + xi * s->c * s->k, s->k);
			if (rc < 0)
				goto out;
		}
	}
	struct tx_job g = { .kern = kern, .op = TX_FILTER_GRAD, .src = p.u, .dst = dwt, .c = s->c,
			    .k = s->k };
	mli_pool_run(pool, tx_task, &g);
	rc = 0;
out:
	mli_buffer_free(&own);
	return rc;
}
